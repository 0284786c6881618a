// trusted-proxies: X-Forwarded-For names the client only when the request
// comes from a listed proxy, and that client is who the sign-in limits and
// the log are about. The requests come from 127.0.0.1, playing the proxy.
'use strict';
const { describe, test, after } = require('node:test');
const assert = require('node:assert/strict');
const { startOnair } = require('../lib/server.js');
const { request, signup, uname } = require('./util.js');

async function failedSignin(srv, name, forwardedFor) {
  return request(srv, 'POST', '/api/signin', {
    body: { username: name, password: 'not the password' },
    headers: forwardedFor ? { 'X-Forwarded-For': forwardedFor } : {},
  });
}

describe('X-Forwarded-For from a trusted proxy', { timeout: 120000 }, () => {
  const servers = [];
  after(async () => { for (const s of servers) await s.stop(); });

  test('the log and the per-address limit follow the forwarded client', async () => {
    const srv = await startOnair(['--trusted-proxies', '127.0.0.1, ::1']);
    servers.push(srv);
    const res = await failedSignin(srv, uname('who'), 'evil.example, 198.51.100.7');
    assert.equal(res.status, 401);
    assert.match(srv.log(), /msg="sign-in failed" user=who\S* ip=198\.51\.100\.7/);
    // 20 failures from one forwarded address (each on a new name, so the
    // per-name limit stays out of it) throttle that address only.
    for (let i = 0; i < 20; i++)
      assert.equal((await failedSignin(srv, uname('a'), '203.0.113.1')).status, 401);
    const blocked = await failedSignin(srv, uname('a'), '203.0.113.1');
    assert.equal(blocked.status, 429, 'the 21st failure from 203.0.113.1 is throttled');
    assert.ok(Number(blocked.headers['retry-after']) > 0);
    const other = await failedSignin(srv, uname('b'), '203.0.113.2');
    assert.equal(other.status, 401, 'another client behind the same proxy is not');
    const u = await signup(srv, uname('ok'));
    const good = await request(srv, 'POST', '/api/signin', {
      body: { username: u.name, password: 'correct horse battery staple' },
      headers: { 'X-Forwarded-For': '203.0.113.3' } });
    assert.equal(good.status, 200);
  });

  test('from a peer that is not listed, the header is ignored', async () => {
    const srv = await startOnair(['--trusted-proxies', '10.0.0.0/8']);
    servers.push(srv);
    await failedSignin(srv, uname('who'), '198.51.100.7');
    assert.match(srv.log(), /msg="sign-in failed" user=who\S* ip=127\.0\.0\.1/);
    assert.doesNotMatch(srv.log(), /198\.51\.100\.7/);
  });
});

describe('behind a proxy that terminates TLS', { timeout: 60000 }, () => {
  test('an https base-url gives HSTS on every response; without it there is none', async () => {
    const tls = await startOnair(['--trusted-proxies', '127.0.0.1', '--base-url', 'https://live.example.org']);
    const plain = await startOnair(['--trusted-proxies', '127.0.0.1']);
    try {
      for (const path of ['/', '/api/me', '/nope']) {
        const res = await request(tls, 'GET', path);
        assert.equal(res.headers['strict-transport-security'], 'max-age=31536000', path);
        assert.equal((await request(plain, 'GET', path)).headers['strict-transport-security'], undefined, path);
      }
    } finally {
      await tls.stop();
      await plain.stop();
    }
  });
});
