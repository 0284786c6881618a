// Installing as a service (docs/operations.md): `cmake --install` of the
// tested build into a staging root (DESTDIR) puts the binary (the pages are
// built into it), the docs, the sample config and the systemd unit in place;
// the unit passes `systemd-analyze verify` (with its paths moved into the
// staging root) and asks for the hardening the docs promise; the installed
// binary, started from another directory as the unit starts it, serves the
// pages.
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawnSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { BIN, freePort } = require('../lib/server.js');

const BUILD = path.dirname(BIN);
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-install-'));
process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));

describe('cmake --install and the systemd unit', { timeout: 60000 }, () => {
  let prefix, unit;
  before(() => {
    execFileSync('cmake', ['--install', BUILD], { env: { ...process.env, DESTDIR: root }, stdio: 'pipe' });
    const units = execFileSync('find', [root, '-name', 'onair.service'], { encoding: 'utf8' }).trim().split('\n');
    assert.equal(units.length, 1, 'one unit installed');
    // <root><prefix>/lib/systemd/system/onair.service
    prefix = path.resolve(path.dirname(units[0]), '../../..').slice(root.length);
    unit = fs.readFileSync(units[0], 'utf8');
  });

  test('the files are where the unit says', () => {
    const at = p => path.join(root, p);
    for (const f of [`${prefix}/bin/onair`, `${prefix}/share/doc/onair/operations.md`])
      assert.ok(fs.existsSync(at(f)), f);
    assert.ok(!fs.existsSync(at(`${prefix}/share/onair/web`)), 'no copy of the pages beside the binary');
    const exec = /^ExecStart=(\S+) --config (\S+) --data (\S+)$/m.exec(unit);
    assert.ok(exec, 'ExecStart names the binary, the config and the data (the pages are built in)');
    assert.equal(exec[1], `${prefix}/bin/onair`);
    assert.ok(fs.existsSync(at(exec[2])), 'the config file is installed (from the example)');
    assert.ok(fs.existsSync(at(exec[2] + '.example')));
  });

  test('systemd-analyze verify passes, with the hardening in place', () => {
    const copy = path.join(root, 'onair.service');
    fs.writeFileSync(copy, unit.split(prefix + '/').join(root + prefix + '/'));
    const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'no warning about the unit');
    for (const line of ['Restart=on-failure', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'DynamicUser=yes',
      'ReadWritePaths=/var/lib/onair', 'AmbientCapabilities=CAP_NET_BIND_SERVICE',
      'CapabilityBoundingSet=CAP_NET_BIND_SERVICE', 'ExecReload=/bin/kill -HUP $MAINPID'])
      assert.ok(unit.split('\n').includes(line), line);
  });

  test('the installed binary serves its pages, started from elsewhere', async () => {
    const port = await freePort();
    const bin = path.join(root, prefix, 'bin/onair');
    const conf = path.join(root, prefix, 'etc/onair/onair.conf');
    const proc = spawn(bin, ['--config', conf, '--listen', `127.0.0.1:${port}`, '--http-listen', '',
      '--data', path.join(root, 'data')],
    { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stderr.on('data', d => { out += d; });
    const exited = new Promise(r => proc.once('exit', r));
    try {
      let res;
      for (let i = 0; i < 100 && !res; i++) {
        res = await fetch(`http://127.0.0.1:${port}/`).catch(() => null);
        if (!res) await new Promise(r => setTimeout(r, 50));
      }
      assert.ok(res, 'it answers: ' + out);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /<form id="signin"/);
    } finally {
      proc.kill('SIGTERM');
      assert.equal(await exited, 0, out);
    }
  });
});
