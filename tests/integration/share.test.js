// Share links (issue 10): what /view/<room> and GET /api/rooms/<name> tell
// anyone, signed in or not, and public-watch, which lets signed-out
// visitors watch (never chat or go live).
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startOnair } = require('../lib/server.js');
const { uname, request, signup, openWs, userWithWs, join } = require('./util.js');

const open = [];
after(() => {
  for (const c of open) { try { c.terminate ? c.terminate() : c.destroy(); } catch {} }
});

function ogTags(html) {
  const tags = {};
  for (const m of html.matchAll(/<meta property="(og:[a-z_]+)" content="([^"]*)">/g)) tags[m[1]] = m[2];
  return tags;
}

describe('a shared link, signed out (public-watch off)', () => {
  let srv;
  before(async () => { srv = await startOnair(); });
  after(async () => { if (srv) await srv.stop(); });

  test('/view/<room> is the watch page with the room in its title and Open Graph tags, escaped', async () => {
    const b = await userWithWs(srv, 'ogb');
    open.push(b.ws);
    const title = 'Tea & "biscuits" <live>';
    await b.ws.request({ type: 'live.start', title }, { type: 'live.started' });
    const r = await request(srv, 'GET', `/view/${b.name}`);
    assert.equal(r.status, 200, 'no redirect to sign in: the page says whose room it is');
    assert.match(r.headers['content-type'], /^text\/html/);
    assert.match(r.headers['content-security-policy'], /default-src 'self'/);
    const og = ogTags(r.body);
    assert.equal(og['og:title'], `${b.name} is live: Tea &amp; &quot;biscuits&quot; &lt;live&gt;`);
    assert.equal(og['og:type'], 'video.other');
    assert.equal(og['og:url'], `${srv.url}/view/${b.name}`);
    assert.ok(og['og:description']);
    assert.match(r.body, new RegExp(`<title>${b.name} is live: Tea &amp; &quot;biscuits&quot; &lt;live&gt; — onair</title>`));
    assert.equal((r.body.match(/<title>/g) || []).length, 1, 'one <title>');
    assert.doesNotMatch(r.body, /<live>/, 'the title never reaches the page unescaped');
    assert.match(r.body, /src="\/assets\/view-boot.js"/, "the rest of the page is view.html: the join's start");
    assert.match(r.body, /rel="modulepreload" href="\/assets\/view.js"/, "and the page's own script");
    // Revalidation: the same page is 304, a changed room a new page.
    assert.ok(r.headers.etag);
    const again = await request(srv, 'GET', `/view/${b.name}`, { headers: { 'If-None-Match': r.headers.etag } });
    assert.equal(again.status, 304);
    await b.ws.request({ type: 'live.start', title: 'Other' }, { type: 'live.started' });
    const changed = await request(srv, 'GET', `/view/${b.name}`, { headers: { 'If-None-Match': r.headers.etag } });
    assert.equal(changed.status, 200);
    assert.equal(ogTags(changed.body)['og:title'], `${b.name} is live: Other`);

    const off = await signup(srv, uname('ogoff'));
    const r2 = await request(srv, 'GET', `/view/${off.name.toUpperCase()}`);
    assert.equal(r2.status, 200);
    assert.equal(ogTags(r2.body)['og:title'], `${off.name} is offline`, 'the name as its owner spells it');
  });

  test('GET /api/rooms/<name> says whose room it is and whether it is live, to anyone', async () => {
    const b = await userWithWs(srv, 'infob');
    open.push(b.ws);
    let r = await request(srv, 'GET', `/api/rooms/${b.name}`);
    assert.equal(r.status, 200);
    let j = JSON.parse(r.body);
    assert.deepEqual(j, {
      room: { name: b.name, broadcaster: b.name, state: 'offline', title: '', viewers: 0, since: 0 },
      signed_in: false, public_watch: false,
    });
    await b.ws.request({ type: 'live.start', title: 'Now' }, { type: 'live.started' });
    r = await request(srv, 'GET', `/api/rooms/${b.name}`, { cookie: b.cookie });
    j = JSON.parse(r.body);
    assert.equal(j.room.state, 'live');
    assert.equal(j.room.title, 'Now');
    assert.ok(j.room.since > 0);
    assert.equal(j.signed_in, true);
    for (const bad of ['nobody-here-at-all', 'bad%20name', '']) {
      const e = await request(srv, 'GET', `/api/rooms/${bad}`);
      assert.equal(e.status, 404, bad);
    }
  });

  test('without public-watch a signed-out WebSocket is refused', async () => {
    await assert.rejects(openWs(srv, null), /401/);
  });
});

describe('public-watch', () => {
  let srv;
  before(async () => { srv = await startOnair(['--public-watch', 'true']); });
  after(async () => { if (srv) await srv.stop(); });

  test('a signed-out visitor joins and is counted, but cannot chat or go live', async () => {
    const b = await userWithWs(srv, 'pwb');
    open.push(b.ws);
    await b.ws.request({ type: 'live.start' }, { type: 'live.started' });
    const g = await openWs(srv, null, { label: 'guest' });
    open.push(g);
    assert.equal(g.hello.user, '');
    const j = await join(g, b.name);
    assert.equal(j.type, 'room.joined');
    assert.equal(j.viewers, 1);
    const vj = await b.ws.next({ type: 'viewer.joined' });
    assert.equal(vj.user, '');
    for (const [msg, ref] of [
      [{ type: 'chat.send', room: b.name, text: 'hi' }, 'chat.send'],
      [{ type: 'live.start' }, 'live.start'],
      [{ type: 'live.resume' }, 'live.resume'],
    ]) {
      const e = await g.request(msg, { type: 'error' });
      assert.equal(e.code, 'signed_out', ref);
      assert.equal(e.ref, ref);
      assert.ok(e.message);
    }
    // Signed-in users chat as before, and the guest reads it.
    const p = g.next({ type: 'chat', text: 'welcome' });
    b.ws.send({ type: 'chat.send', room: b.name, text: 'welcome' });
    await p;
    const info = JSON.parse((await request(srv, 'GET', `/api/rooms/${b.name}`)).body);
    assert.equal(info.public_watch, true);
    assert.equal(info.room.viewers, 1);
  });
});
