// Starts a real onair process for a test: its own port on 127.0.0.1, its own
// temporary data directory (a real SQLite file), stopped when the test ends.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');

const BIN = process.env.ONAIR_BIN || path.join(__dirname, '../../build/onair');
// The source tree's pages. onair serves the copies built into it (what users
// get), so a test sees an edit of web/ only after the build: `make` embeds
// web/ again whenever a file there changes. WEB is for tests of `--web DIR`;
// ONAIR_WEB, when set, is also onair's own `web` setting (every onair then
// serves that directory): ctest leaves it unset.
const WEB = process.env.ONAIR_WEB || path.join(__dirname, '../../web');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

async function waitForPort(port, child, timeoutMs) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error('onair exited with ' + child.exitCode);
    const ok = await new Promise(r => {
      const c = net.connect(port, '127.0.0.1', () => { c.end(); r(true); });
      c.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise(r => setTimeout(r, 50));
  }
  throw new Error('onair did not listen on ' + port);
}

// Data directories made here are removed when the test process exits (a test
// may restart onair on the same one, so not at stop()).
const made = [];
process.on('exit', () => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});
function madeDir() {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-test-'));
  made.push(d);
  return d;
}

// Starts onair. extraArgs are appended to the command line; opts.dataDir
// reuses a directory (to test restarts); opts.wrapper is a command line that
// runs onair (valgrind ...), opts.startMs how long it may take to listen,
// opts.signupLimits keeps the sign-up limits on (tests turn them off),
// opts.cwd the directory it runs in (default: the test's), opts.defaultBind
// no --listen at all (onair's default: every interface, port 8080; only
// inside a test's own network namespace).
// Returns { url, port, dataDir, proc, log(), exited, stop(), kill9() }.
async function startOnair(extraArgs = [], opts = {}) {
  const port = opts.defaultBind ? 8080 : opts.port || await freePort();
  const dataDir = opts.dataDir || madeDir();
  // Every test's users come from this machine: the per-address and total
  // sign-up limits are off unless a test sets them (later flags win).
  const limits = opts.signupLimits ? [] : ['--signup-per-ip', '0', '--signup-per-sec', '0'];
  const listen = opts.defaultBind ? [] : ['--listen', '127.0.0.1:' + port];
  const args = [...listen, '--data', dataDir, ...limits, ...extraArgs];
  const argv = [...(opts.wrapper || []), BIN, ...args];
  const proc = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd, env: { ...process.env, ...(opts.env || {}) },
  });
  let out = '';
  proc.stdout.on('data', d => { out += d; });
  proc.stderr.on('data', d => { out += d; });
  const exited = new Promise(r => proc.once('exit', (code, signal) => r({ code, signal })));
  await waitForPort(port, proc, opts.startMs || 10000);
  return {
    url: 'http://127.0.0.1:' + port,
    origin: 'http://127.0.0.1:' + port,
    port, dataDir, proc,
    log: () => out,
    exited,
    alive: () => proc.exitCode === null && proc.signalCode === null,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) { proc.kill('SIGTERM'); await exited; }
    },
    async kill9() { proc.kill('SIGKILL'); await exited; },
  };
}

module.exports = { startOnair, freePort, BIN, WEB };
