// The one shutdown path: SIGTERM while onair holds everything it can hold
// (signed-in users, open WebSockets, a live room with a watcher and chat, a
// media peer waiting for its checks, an OpenID Connect client with its
// discovery and a sign-in pending) ends with exit code 0, every WebSocket
// closed, and nothing leaked or touched after free: the run is under
// valgrind.
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startOnair, freePort } = require('../lib/server.js');
const { startProvider, CLIENT_ID, CLIENT_SECRET } = require('../lib/oidc-provider.js');
const { request, userWithWs, goLive, join } = require('./util.js');

const OFFER = fs.readFileSync(path.join(__dirname, '../unit/sdp/chromium_publisher.sdp'), 'utf8');
const VALGRIND = ['valgrind', '--error-exitcode=99', '--leak-check=full',
  '--errors-for-leak-kinds=definite,indirect', '--show-leak-kinds=definite,indirect'];

describe('SIGTERM with everything open', { timeout: 180000 }, () => {
  let op, srv;
  before(async () => {
    const port = await freePort();
    op = await startProvider({ onairUrl: 'http://127.0.0.1:' + port });
    srv = await startOnair(['--oidc-issuer', op.issuer, '--oidc-client-id', CLIENT_ID,
      '--oidc-client-secret', CLIENT_SECRET], { port, wrapper: VALGRIND, startMs: 60000 });
  });
  after(async () => {
    if (srv) await srv.stop();
    if (op) await op.stop();
  });

  test('exit 0, clients told, no leak and no memory error', async () => {
    // The provider is discovered and its keys fetched (the HTTP client has
    // done work and holds connections).
    for (let i = 0; ; i++) {
      const info = (await request(srv, 'GET', '/api/auth')).json;
      if (info.providers[0].available) break;
      assert.ok(i < 600, 'the provider was never discovered: ' + JSON.stringify(info));
      await new Promise(r => setTimeout(r, 100));
    }
    const alice = await userWithWs(srv, 'alice');
    const bob = await userWithWs(srv, 'bob');
    const started = await goLive(alice.ws);
    assert.equal(started.type, 'live.started', JSON.stringify(started));
    const joined = await join(bob.ws, alice.name);
    assert.equal(joined.type, 'room.joined', JSON.stringify(joined));
    const answer = await alice.ws.request({ type: 'media.offer', sdp: OFFER },
      m => m.type === 'media.answer' || m.type === 'error');
    assert.equal(answer.type, 'media.answer', JSON.stringify(answer));
    await bob.ws.request({ type: 'chat.send', room: alice.name, text: 'bye' }, m => m.type === 'chat');
    const start = await request(srv, 'GET', '/auth/oidc/start?next=/dashboard');
    assert.equal(start.status, 303, 'a sign-in is pending at the provider');
    // A password sign-in is being hashed on the thread pool when the signal
    // comes (Argon2id takes seconds under valgrind): its result comes back
    // to an app that must still be there.
    const signin = request(srv, 'POST', '/api/signin', { body: { username: alice.name, password: 'wrong password' } })
      .catch(e => ({ error: e.message }));
    await new Promise(r => setTimeout(r, 300));

    srv.proc.kill('SIGTERM');
    const { code, signal } = await srv.exited;
    const log = srv.log();
    assert.equal(signal, null, 'exited by itself, not killed');
    assert.equal(code, 0, 'exit code 0 (99: valgrind found a leak or an error)\n' + log.slice(-6000));
    assert.match(log, /stopped/);
    assert.doesNotMatch(log, /still open at exit/);
    assert.match(log, /ERROR SUMMARY: 0 errors/);
    for (const u of [alice, bob]) {
      const closed = await u.ws.closed;
      assert.equal(closed.code, 1012, `${u.name}'s WebSocket closed with 1012 (Service Restart)`);
      assert.ok(u.ws.inbox.all.some(m => m.type === 'server.restarting'),
        `${u.name}'s page was told the server is restarting`);
    }
    const s = await signin;
    assert.ok(s.error || s.status === 401, 'the sign-in in flight was answered or its connection closed: ' + JSON.stringify(s));
  });
});
