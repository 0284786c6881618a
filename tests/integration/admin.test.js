// The operator's side (docs/protocol.md, "Admin"; docs/operations.md): the
// first user is the admin; only admins reach /admin and /api/admin/*; the
// live rooms with who watches; ending a room; disabling a user signs them
// out at once (sessions, WebSockets, their room) and keeps them out until
// enabled; making another admin; `onair admin NAME` from the shell.
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const { startOnair, BIN } = require('../lib/server.js');
const { request, signup, signin, me, userWithWs, goLive, join, openWs, uname } = require('./util.js');

describe('admin', { timeout: 90000 }, () => {
  let srv, admin, bob, carol;
  before(async () => {
    srv = await startOnair();
    admin = await signup(srv, uname('boss'));
    bob = await userWithWs(srv, 'bob');
    carol = await userWithWs(srv, 'carol');
  });
  after(async () => {
    for (const u of [bob, carol]) if (u && u.ws) u.ws.terminate();
    if (srv) await srv.stop();
  });

  const as = (u, method, path, body) => request(srv, method, path, { cookie: u.cookie, body });

  test('the first user is the admin; others are not and are refused', async () => {
    assert.equal((await me(srv, admin.cookie)).json.user.admin, true);
    assert.equal((await me(srv, bob.cookie)).json.user.admin, false);
    for (const [method, path, body] of [['GET', '/api/admin/rooms'], ['GET', '/api/admin/users'],
      ['POST', '/api/admin/rooms/end', { room: 'x' }], ['POST', '/api/admin/users/disable', { user: 'x' }]]) {
      const r = await as(bob, method, path, body);
      assert.equal(r.status, 403, `${method} ${path}`);
      assert.equal(r.json.error, 'not_admin');
      assert.equal((await request(srv, method, path, { body })).status, 401, `${method} ${path} signed out`);
    }
    assert.equal((await as(bob, 'GET', '/admin')).status, 403);
    const page = await as(admin, 'GET', '/admin');
    assert.equal(page.status, 200);
    assert.match(page.body, /<h1>Admin<\/h1>/);
    const out = await request(srv, 'GET', '/admin');
    assert.equal(out.status, 303, 'signed out: to the sign-in page');
  });

  test('live rooms with who watches; an admin ends one', async () => {
    assert.equal((await goLive(bob.ws)).type, 'live.started');
    assert.equal((await join(carol.ws, bob.name)).type, 'room.joined');
    const rooms = (await as(admin, 'GET', '/api/admin/rooms')).json.rooms;
    assert.equal(rooms.length, 1);
    assert.equal(rooms[0].name, bob.name);
    assert.equal(rooms[0].viewers, 1);
    assert.deepEqual(rooms[0].viewer_names, [carol.name]);
    const ended = await as(admin, 'POST', '/api/admin/rooms/end', { room: bob.name });
    assert.equal(ended.status, 200);
    const m = await bob.ws.next({ type: 'live.ended' });
    assert.equal(m.reason, 'admin');
    await carol.ws.next({ type: 'room.ended' });
    assert.equal((await as(admin, 'POST', '/api/admin/rooms/end', { room: bob.name })).status, 404);
    assert.equal((await as(admin, 'POST', '/api/admin/rooms/end', { room: '../x' })).status, 400);
    assert.match(srv.log(), /msg="room ended by an admin" room=\S+ admin=boss/);
  });

  test('disabling a user signs them out everywhere and keeps them out until enabled', async () => {
    assert.equal((await goLive(bob.ws)).type, 'live.started');
    const r = await as(admin, 'POST', '/api/admin/users/disable', { user: bob.name });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.json, { user: bob.name, disabled: true });
    const closed = await bob.ws.closed;
    assert.equal(closed.code, 1008, 'the WebSocket closes (policy)');
    assert.equal((await me(srv, bob.cookie)).status, 401, 'the session is gone');
    assert.equal((await request(srv, 'GET', '/api/rooms', { cookie: admin.cookie })).json.rooms.length, 0,
      'the room ended');
    const again = await signin(srv, bob.name);
    assert.equal(again.status, 403, 'the right password is refused');
    assert.equal(again.res.json.error, 'account_disabled');
    const wrong = await request(srv, 'POST', '/api/signin', { body: { username: bob.name, password: 'not it at all' } });
    assert.equal(wrong.status, 401, 'a wrong password still says only that');
    const users = (await as(admin, 'GET', '/api/admin/users')).json.users;
    const b = users.find(u => u.name === bob.name);
    assert.deepEqual({ admin: b.admin, disabled: b.disabled }, { admin: false, disabled: true });
    assert.ok(users.every(u => !('pwhash' in u)), 'no password hashes');
    assert.equal((await as(admin, 'POST', '/api/admin/users/enable', { user: bob.name })).status, 200);
    assert.equal((await signin(srv, bob.name)).status, 200, 'back in');
  });

  test('an admin makes another admin; never changes their own account', async () => {
    const r = await as(admin, 'POST', '/api/admin/users/admin', { user: carol.name, admin: true });
    assert.equal(r.status, 200);
    assert.equal((await me(srv, carol.cookie)).json.user.admin, true);
    assert.equal((await request(srv, 'GET', '/api/admin/users', { cookie: carol.cookie })).status, 200);
    for (const path of ['/api/admin/users/disable', '/api/admin/users/admin']) {
      const own = await as(admin, 'POST', path, { user: admin.name, admin: false });
      assert.equal(own.status, 400, path);
      assert.equal(own.json.error, 'own_account');
    }
    assert.equal((await as(admin, 'POST', '/api/admin/users/disable', { user: 'nobody_at_all' })).status, 404);
    assert.equal((await as(admin, 'POST', '/api/admin/users/admin', { user: bob.name })).status, 400,
      'admin must be true or false');
    assert.equal((await as(admin, 'POST', '/api/admin/users/disable', 'not json')).status, 400);
  });

  test('onair admin NAME makes an admin from the shell', async () => {
    const d = await signup(srv, uname('dora'));
    const r = spawnSync(BIN, ['admin', d.name, '--data', srv.dataDir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /is an admin now/);
    assert.equal((await me(srv, d.cookie)).json.user.admin, true);
    const none = spawnSync(BIN, ['admin', 'nobody_at_all', '--data', srv.dataDir], { encoding: 'utf8' });
    assert.equal(none.status, 1);
    assert.match(none.stderr, /no user of that name/);
    assert.equal(spawnSync(BIN, ['admin'], { encoding: 'utf8' }).status, 2);
  });
});
