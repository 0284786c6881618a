// Runs one of the Python WebRTC test peers (tests/e2e/aiortc_peer.py,
// tests/e2e/gst_peer.py; both print onair_ws.py's JSON events) as a child
// process and collects the events it prints. tests/lib/aiortc-peer.js and
// tests/lib/gst-peer.js name the scripts.
'use strict';
const { spawn } = require('node:child_process');

// Debian's python, with python3-aiortc and python3-gi (not a pyenv one that
// may be first on PATH).
const PYTHON = process.env.ONAIR_TEST_PYTHON || '/usr/bin/python3';

// startPythonPeer(script, ['--url', url, '--user', 'x', '--publish'], 'aiortc peer')
// returns { events, proc, waitFor(pred, what, ms), stop(), exited, output() };
// label names the peer in errors.
function startPythonPeer(script, args, label) {
  const proc = spawn(PYTHON, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const events = [];
  const waiters = new Set();
  let out = '';
  let err = '';
  let partial = '';
  const check = () => {
    for (const w of waiters) {
      const e = events.find(w.pred);
      if (e) { waiters.delete(w); clearTimeout(w.timer); w.resolve(e); }
    }
  };
  proc.stdout.on('data', d => {
    out += d;
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop();
    for (const l of lines) {
      if (!l.trim()) continue;
      try { events.push(JSON.parse(l)); } catch { events.push({ event: 'unparsed', line: l }); }
    }
    check();
  });
  proc.stderr.on('data', d => { err += d; });
  const exited = new Promise(resolve => proc.once('exit', (code, signal) => {
    for (const w of waiters) { clearTimeout(w.timer); w.reject(new Error(`${label} exited (${code ?? signal}) while waiting for ${w.what}\n${tail()}`)); }
    waiters.clear();
    resolve({ code, signal });
  }));
  proc.stdin.on('error', () => {});
  const tail = () => `${label} stdout (tail):\n${out.slice(-1500)}\nstderr (tail):\n${err.slice(-2500)}`;
  return {
    events,
    proc,
    exited,
    output: tail,
    // The first event matching pred (a function, or an event name).
    waitFor(pred, what, timeoutMs = 20000) {
      const p = typeof pred === 'string' ? (e => e.event === pred) : pred;
      const found = events.find(p);
      if (found) return Promise.resolve(found);
      if (proc.exitCode !== null || proc.signalCode !== null) {
        return Promise.reject(new Error(`${label} has exited; no ${what || pred}\n${tail()}`));
      }
      return new Promise((resolve, reject) => {
        const w = { pred: p, resolve, reject, what: what || String(pred) };
        w.timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for the ${label}'s ${w.what}\n${tail()}`));
        }, timeoutMs);
        waiters.add(w);
      });
    },
    // Asks it to stop (stdin closed), then SIGTERM, then SIGKILL.
    async stop(graceMs = 5000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.stdin.end();
      const timer = setTimeout(() => proc.kill('SIGTERM'), graceMs);
      const kill = setTimeout(() => proc.kill('SIGKILL'), graceMs * 2);
      const r = await exited;
      clearTimeout(timer);
      clearTimeout(kill);
      return r;
    },
  };
}

module.exports = { startPythonPeer, PYTHON };
