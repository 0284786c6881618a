// The log (docs/operations.md, "Logs"): with --log-format json every line
// onair writes is one JSON object with time, level and msg; with the default
// text format every line is time=... level=... msg=...; and no secret ever
// appears, even at --log-level debug: passwords (right and wrong), session
// cookies, the TURN secret, the OpenID Connect client secret.
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startOnair, freePort } = require('../lib/server.js');
const { startProvider, CLIENT_ID, CLIENT_SECRET } = require('../lib/oidc-provider.js');
const { request, signup, userWithWs, goLive, join, uname } = require('./util.js');

const TURN_SECRET = 'turn-secret-' + Math.random().toString(36).slice(2);
const WRONG_PASSWORD = 'wrong-password-' + Math.random().toString(36).slice(2);

async function traffic(srv) {
  const u = await signup(srv, uname('logger'));
  await request(srv, 'POST', '/api/signin', { body: { username: u.name, password: WRONG_PASSWORD } });
  const ok = await request(srv, 'POST', '/api/signin', { body: { username: u.name, password: 'correct horse battery staple' } });
  assert.equal(ok.status, 200);
  const bc = await userWithWs(srv, 'lb');
  const vw = await userWithWs(srv, 'lv');
  await goLive(bc.ws);
  await join(vw.ws, bc.name);
  await vw.ws.request({ type: 'chat.send', room: bc.name, text: 'logged?' }, m => m.type === 'chat');
  await vw.ws.close();
  await bc.ws.close();
  await request(srv, 'POST', '/api/signout', { cookie: u.cookie });
  return [u.cookie, bc.cookie, vw.cookie];
}

describe('logs', { timeout: 90000 }, () => {
  let op;
  const servers = [];
  before(async () => { });
  after(async () => {
    for (const s of servers) await s.stop();
    if (op) await op.stop();
  });

  test('--log-format json: one JSON object per line; no secrets at debug level', async () => {
    const port = await freePort();
    op = await startProvider({ onairUrl: 'http://127.0.0.1:' + port });
    const srv = await startOnair(['--log-format', 'json', '--log-level', 'debug',
      '--turn-url', 'turn:127.0.0.1:3478', '--turn-secret', TURN_SECRET,
      '--oidc-issuer', op.issuer, '--oidc-client-id', CLIENT_ID, '--oidc-client-secret', CLIENT_SECRET], { port });
    servers.push(srv);
    const cookies = await traffic(srv);
    await srv.stop();
    const lines = srv.log().split('\n').filter(l => l.length);
    assert.ok(lines.length >= 10, `a few events were logged (${lines.length})`);
    const msgs = [];
    for (const line of lines) {
      let j;
      assert.doesNotThrow(() => { j = JSON.parse(line); }, `not JSON: ${line}`);
      assert.match(j.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(['debug', 'info', 'warn', 'error'].includes(j.level), line);
      assert.equal(typeof j.msg, 'string');
      msgs.push(j);
    }
    const settings = msgs.find(j => j.msg === 'settings');
    assert.ok(settings, 'the effective settings are logged at start');
    assert.equal(settings.listen, `127.0.0.1:${port}`);
    assert.equal(settings['turn-secret'], '(set)');
    assert.equal(settings['oidc-client-secret'], '(set)');
    assert.equal(settings['log-format'], 'json');
    const failed = msgs.find(j => j.msg === 'sign-in failed');
    assert.ok(failed, 'the failed sign-in is an event');
    assert.equal(failed.ip, '127.0.0.1');
    assert.ok(msgs.some(j => j.msg === 'room live' && typeof j.room === 'string'), 'room live, with its room');
    const log = srv.log();
    for (const secret of [WRONG_PASSWORD, 'correct horse battery staple', TURN_SECRET, CLIENT_SECRET, ...cookies])
      assert.ok(!log.includes(secret), `a secret is in the log: ${secret.slice(0, 6)}…`);
  });

  test('a bad setting stops the start before anything runs, naming it', () => {
    const { spawnSync } = require('node:child_process');
    const fs = require('node:fs');
    const os = require('node:os');
    const path = require('node:path');
    const { BIN } = require('../lib/server.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-conf-'));
    const conf = path.join(dir, 'onair.conf');
    const cases = [
      ['listen = 127.0.0.1:8080\nchat-burst = lots\n', /onair\.conf:2: chat-burst: bad value/],
      ['# ok\ncolour = blue\n', /onair\.conf:2: colour: unknown key/],
      ['listen 127.0.0.1:8080\n', /onair\.conf:1: not key = value/],
    ];
    try {
      for (const [text, re] of cases) {
        fs.writeFileSync(conf, text);
        const r = spawnSync(BIN, ['--config', conf, '--data', path.join(dir, 'data')], { encoding: 'utf8', timeout: 10000 });
        assert.equal(r.status, 2, r.stderr);
        assert.match(r.stderr, re);
        assert.ok(!fs.existsSync(path.join(dir, 'data')), 'nothing was started or created');
      }
      const flag = spawnSync(BIN, ['--media-consent-ms', '5', '--data', path.join(dir, 'data')], { encoding: 'utf8' });
      assert.equal(flag.status, 2);
      assert.match(flag.stderr, /--media-consent-ms 5: bad value/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the default text format: time, level, msg and key=value fields', async () => {
    const srv = await startOnair();
    servers.push(srv);
    await request(srv, 'POST', '/api/signin', { body: { username: 'nobody_here', password: WRONG_PASSWORD } });
    await srv.stop();
    const lines = srv.log().split('\n').filter(l => l.length);
    for (const line of lines)
      assert.match(line, /^time=\S+ level=(debug|info|warn|error) msg=("[^"]*"|\S+)( [a-z_-]+=("([^"\\]|\\.)*"|\S+))*$/, line);
    assert.ok(lines.some(l => /msg="sign-in failed" user=nobody_here ip=127\.0\.0\.1$/.test(l)), lines.join('\n'));
    assert.ok(!srv.log().includes(WRONG_PASSWORD));
  });
});
