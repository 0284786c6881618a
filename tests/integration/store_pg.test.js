// onair on PostgreSQL (--postgres, docs/cluster.md): a user signs up on one
// onair and signs in on another sharing the database (each with its own,
// empty, data directory); a chat message acknowledged by an onair killed
// with SIGKILL right after is in PostgreSQL. A real server, started by
// tests/lib/pgtemp.sh.
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startOnair } = require('../lib/server.js');
const { startPostgres } = require('../lib/postgres.js');
const { uname, signup, signin, me, openWs, goLive } = require('./util.js');

describe('the PostgreSQL store', { timeout: 120000 }, () => {
  let pg, a, b;
  before(async () => {
    pg = startPostgres();
    a = await startOnair(['--postgres', pg.conninfo]);
    b = await startOnair(['--postgres', pg.conninfo]);
  });
  after(async () => {
    for (const s of [a, b]) if (s) await s.stop();
    if (pg) pg.stop();
  });

  test('the log names the store, not its conninfo; no SQLite file is made', () => {
    assert.match(a.log(), /msg=store kind=postgres/);
    assert.ok(!a.log().includes(pg.conninfo) && !a.log().includes('dbname='), a.log());
    assert.ok(!fs.existsSync(path.join(a.dataDir, 'onair.db')), 'onair.db in the data directory');
  });

  test('signed up on one node, signed in on the other', async () => {
    const u = await signup(a, uname('pg'));
    const r = await signin(b, u.name.toUpperCase(), u.password);
    assert.equal(r.status, 200, r.res.body);
    const who = await me(b, r.cookie);
    assert.equal(who.json.user.name, u.name);
    // The first user is the admin, in the database.
    assert.deepEqual(pg.query(`SELECT admin FROM users WHERE name = '${u.name}'`), [['t']]);
    // The session made on A signs in on B as well.
    assert.equal((await me(b, u.cookie)).json.user.name, u.name);
  });

  test('PostgreSQL away: sign-in and the session answer 503, not a wrong password or signed out', async () => {
    const u = await signup(b, uname('away'));
    pg.down();
    try {
      const r = await signin(b, u.name, u.password);
      assert.equal(r.status, 503, r.res.body);
      assert.equal(r.res.json.error, 'store_unavailable');
      const who = await me(b, u.cookie);
      assert.equal(who.status, 503, who.body);
      assert.equal(who.json.error, 'store_unavailable');
      const taken = await signin(b, uname('nobody'), 'whatever-password');
      assert.equal(taken.status, 503, 'an unknown name too: the store could not say');
    } finally {
      pg.up();
    }
    // Back: the same password and session work, no failure was counted
    // (B tries its connection again a second after its last failure).
    let r;
    for (let i = 0; i < 50; i++) {
      r = await signin(b, u.name, u.password);
      if (r.status !== 503) break;
      await new Promise(res => setTimeout(res, 200));
    }
    assert.equal(r.status, 200, r.res.body);
    assert.equal((await me(b, u.cookie)).json.user.name, u.name);
    // A, asked nothing while PostgreSQL was away, finds its connection
    // closed before using it and makes a new one: its first answer is right.
    r = await signin(a, u.name, u.password);
    assert.equal(r.status, 200, r.res.body);
  });

  test('chat acknowledged, onair killed at once: the message is in PostgreSQL', async () => {
    const u = await signup(a, uname('chat'));
    const ws = await openWs(a, u.cookie);
    assert.equal((await goLive(ws)).type, 'live.started');
    const text = `kept after kill -9 ${Date.now()}`;
    const ack = await ws.request({ type: 'chat.send', room: u.name, text },
      m => (m.type === 'chat' && m.text === text) || m.type === 'error');
    a.proc.kill('SIGKILL');
    assert.equal(ack.type, 'chat', JSON.stringify(ack));
    await a.exited;
    const rows = pg.query(`SELECT id, room, sender, text FROM messages WHERE id = ${ack.id}`);
    assert.deepEqual(rows, [[String(ack.id), u.name, u.name, text]]);
  });
});
