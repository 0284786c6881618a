// Another network namespace joined to the test's own by a veth pair: a
// second machine on the test's private network, for a browser that must
// reach onair through a real interface (not loopback) or lose its network
// while the others keep theirs. Only for a process that runs in a namespace
// of its own (tests/e2e/in-netns.sh); the named namespace it makes is
// removed by remove() and, at the latest, when the process exits.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { inOwnNetns, CHROMIUM } = require('./media-e2e.js');

const ip = (...a) => execFileSync('ip', a, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
// A command inside the named namespace. nsenter switches the network
// namespace only; `ip -n` and `ip netns exec` also remount / and /sys,
// which fails in a chroot (scripts/fresh-debian-check.sh) where / is no mount.
const inNs = (name, cmd, ...a) => execFileSync('nsenter', [`--net=/run/netns/${name}`, cmd, ...a],
  { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const made = new Set();
process.on('exit', () => {
  for (const n of made) { try { ip('netns', 'del', n); } catch { /* gone */ } }
});

// Namespaces a killed test run left behind (its process is gone).
function removeStale() {
  let list = '';
  try { list = ip('netns', 'list'); } catch { return; }
  for (const m of list.matchAll(/^(onair-[a-z]+-(\d+))\b/gm)) {
    let alive = true;
    try { process.kill(Number(m[2]), 0); } catch (e) { alive = e.code === 'EPERM'; }
    if (!alive) { try { ip('netns', 'del', m[1]); } catch { /* gone */ } }
  }
}

// tag: a few letters (interface names are onair<tag>0 here and onair<tag>1
// there); subnet: n for 10.n.0.0/24, the test's side 10.n.0.1, the other
// 10.n.0.2. Returns { name, hostAddr, addr, down(), up(), chromium(), remove() }.
function makeNetns(tag, subnet) {
  if (!inOwnNetns()) throw new Error('refusing to add namespaces outside a test network namespace (run under tests/e2e/in-netns.sh)');
  removeStale();
  const name = `onair-${tag}-${process.pid}`;
  const here = `onair${tag}0`;
  const there = `onair${tag}1`;
  const hostAddr = `10.${subnet}.0.1`;
  const addr = `10.${subnet}.0.2`;
  ip('netns', 'add', name);
  made.add(name);
  ip('link', 'add', here, 'type', 'veth', 'peer', 'name', there, 'netns', name);
  ip('addr', 'add', `${hostAddr}/24`, 'dev', here);
  ip('link', 'set', here, 'up');
  inNs(name, 'ip', 'addr', 'add', `${addr}/24`, 'dev', there);
  inNs(name, 'ip', 'link', 'set', there, 'up');
  inNs(name, 'ip', 'link', 'set', 'lo', 'up');
  let script = null;
  return {
    name, hostAddr, addr,
    // The namespace's network goes away (its only link is down) and comes back.
    down() { inNs(name, 'ip', 'link', 'set', there, 'down'); },
    up() { inNs(name, 'ip', 'link', 'set', there, 'up'); },
    // Every UDP datagram sent from the namespace fails (the media path
    // breaks; TCP, and so the WebSocket, goes on). Returns the undo.
    blockUdp() {
      const rule = ['pref', '10', 'ipproto', 'udp', 'prohibit'];
      inNs(name, 'ip', 'rule', 'add', ...rule);
      return () => { try { inNs(name, 'ip', 'rule', 'del', ...rule); } catch { /* gone */ } };
    },
    // An executable that runs Chromium inside the namespace (for playwright's executablePath).
    chromium() {
      if (script) return script;
      script = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'onair-ns-')), 'chromium');
      fs.writeFileSync(script, `#!/bin/sh\nexec nsenter --net=/run/netns/${name} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
      return script;
    },
    remove() {
      try { ip('netns', 'del', name); } catch { /* gone */ }
      made.delete(name);
      if (script) fs.rmSync(path.dirname(script), { recursive: true, force: true });
    },
  };
}

module.exports = { makeNetns };
