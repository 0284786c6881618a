// The cluster's events between nodes (docs/cluster.md, "Events and the
// directory"): two onair nodes over a real redis-server and PostgreSQL
// (tests/lib/cluster.js), WebSocket clients on each, no media.
// - a room started on A is listed and joinable on B, its viewers on B
//   counted on A, its title change and its end heard on B;
// - a sign-out on A closes the same session's WebSocket on B, and the
//   session no longer works there;
// - an admin disabling a user on A closes the user's WebSocket on B and
//   ends the user's room live on B.
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { newCluster } = require('../lib/cluster.js');
const { uname, request, signup, me, rooms, openWs, goLive, join, sleep } = require('./util.js');

// Waits (polling) until fn() returns something truthy; returns it.
async function until(fn, what, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// The close of a Client's WebSocket, or an error after ms.
function closedWithin(cl, ms, what) {
  let timer;
  return Promise.race([
    cl.closed.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not close in ${ms} ms`)), ms); }),
  ]);
}

describe('events between the nodes of a cluster', { timeout: 120000 }, () => {
  const cluster = newCluster();
  const nodes = cluster.nodes;
  let admin;

  before(async () => {
    await cluster.start(['A', 'B']);
    await cluster.listed((fn, what, ms) => until(fn, what, ms));
    admin = await signup(nodes.A, uname('boss')); // the first account: the admin
  });

  after(() => cluster.stop());

  test('a room live on A is listed, joined, counted, retitled and ended on B', async () => {
    const bc = await signup(nodes.A, uname('bc'));
    const bws = await openWs(nodes.A, bc.cookie, { label: 'broadcaster on A' });
    const started = await bws.request({ type: 'live.start', title: 'From A' },
      m => m.type === 'live.started' || m.type === 'error');
    assert.equal(started.type, 'live.started', JSON.stringify(started));
    const v = await signup(nodes.B, uname('v'));
    const listed = await until(async () => (await rooms(nodes.B, v.cookie)).find(r => r.name === bc.name),
      'B to list the room');
    assert.equal(listed.title, 'From A');
    const vws = await openWs(nodes.B, v.cookie, { label: 'viewer on B' });
    const joined = await join(vws, bc.name);
    assert.equal(joined.type, 'room.joined', JSON.stringify(joined));
    // The broadcaster on A hears of the viewer on B, and counts it.
    const seen = await bws.next({ type: 'viewer.joined' }, 10000);
    assert.equal(seen.user, v.name);
    await bws.next(m => m.type === 'room.viewers' && m.viewers === 1, 10000);
    await bws.request({ type: 'live.start', title: 'Renamed on A' }, { type: 'live.started' });
    assert.deepEqual(await vws.next({ type: 'room.title' }, 10000),
      { type: 'room.title', room: bc.name, title: 'Renamed on A' });
    await bws.request({ type: 'live.end' }, { type: 'live.ended' });
    await vws.next({ type: 'room.ended', room: bc.name }, 10000);
    await until(async () => !(await rooms(nodes.B, v.cookie)).some(r => r.name === bc.name),
      'B to drop the room from its list');
  });

  test('a sign-out on A closes the session\'s WebSocket on B; the session is gone there', async () => {
    const u = await signup(nodes.A, uname('out'));
    const onB = await openWs(nodes.B, u.cookie, { label: 'the session on B' });
    assert.equal((await me(nodes.B, u.cookie)).status, 200);
    const r = await request(nodes.A, 'POST', '/api/signout', { cookie: u.cookie });
    assert.equal(r.status, 204);
    const closed = await closedWithin(onB, 10000, 'the WebSocket on B');
    assert.ok(closed.code >= 1000, `closed: ${JSON.stringify(closed)}`);
    assert.equal((await me(nodes.B, u.cookie)).status, 401, 'signed out on B too');
  });

  test('a user disabled by an admin on A is closed out on B, and their room on B ends', async () => {
    const u = await signup(nodes.B, uname('bad'));
    const uws = await openWs(nodes.B, u.cookie, { label: 'the user on B' });
    assert.equal((await goLive(uws)).type, 'live.started');
    const v = await signup(nodes.A, uname('va'));
    const vws = await openWs(nodes.A, v.cookie, { label: 'viewer on A' });
    await until(async () => (await rooms(nodes.A, v.cookie)).some(r => r.name === u.name), 'A to list the room');
    assert.equal((await join(vws, u.name)).type, 'room.joined');
    const r = await request(nodes.A, 'POST', '/api/admin/users/disable',
      { cookie: admin.cookie, body: { user: u.name } });
    assert.equal(r.status, 200, r.body);
    const closed = await closedWithin(uws, 10000, 'the user\'s WebSocket on B');
    assert.equal(closed.code, 1008, 'the WebSocket on B closes (policy)');
    await vws.next({ type: 'room.ended', room: u.name }, 10000);
    assert.equal((await me(nodes.B, u.cookie)).status, 401, 'the session is gone on B');
  });
});
