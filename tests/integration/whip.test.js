// WHIP ingest over HTTP (docs/obs.md, RFC 9725), without media: the
// exchange an encoder makes and every error it can meet. The offers are
// real encoders' (tests/unit/sdp/). That media flows, and a Chromium viewer
// watches, is e2e/whip.test.js.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startOnair } = require('../lib/server.js');
const { request, signup, uname, rooms, openWs, join, goLive } = require('./util.js');

const SDP = name => fs.readFileSync(path.join(__dirname, '../unit/sdp', name), 'utf8');
const GST_OFFER = SDP('gstreamer_publisher.sdp');
const CHROME_OFFER = SDP('chromium_publisher.sdp');
const TURN_SECRET = 'whip-turn-' + Math.random().toString(36).slice(2);

// A user with a cookie and a stream key.
async function streamer(srv, prefix) {
  const u = await signup(srv, uname(prefix));
  const res = await request(srv, 'POST', '/api/stream-key/new', { cookie: u.cookie });
  assert.equal(res.status, 200, res.body);
  u.key = res.json.key;
  return u;
}

function whip(srv, method, p, { key, type = 'application/sdp', body, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  if (type && body !== undefined) h['Content-Type'] = type;
  return request(srv, method, p, { body, headers: h, origin: null });
}

const publish = (srv, key, body = GST_OFFER) => whip(srv, 'POST', '/whip', { key, body });

async function isLive(srv, cookie, name) {
  return (await rooms(srv, cookie)).some(r => r.name === name && r.state === 'live');
}

describe('WHIP', { timeout: 120000 }, () => {
  let srv, admin;
  before(async () => {
    srv = await startOnair(['--turn-url', 'turn:127.0.0.1:3478?transport=udp, turns:turn.example:5349',
      '--turn-secret', TURN_SECRET]);
    admin = await signup(srv, uname('adm')); // the first user: the admin
  });
  after(async () => { if (srv) await srv.stop(); });

  test('POST /whip with the key: 201, the answer, Location, ETag, ICE servers; the room is live', async () => {
    const u = await streamer(srv, 'obs');
    const res = await publish(srv, u.key);
    assert.equal(res.status, 201, res.body);
    assert.match(res.headers['content-type'], /^application\/sdp/);
    assert.match(res.body, /^v=0\r\n/);
    assert.match(res.body, /a=ice-lite/);
    assert.match(res.body, /a=fingerprint:sha-256 /);
    assert.match(res.body, /a=recvonly/);
    assert.match(res.headers.location, /^\/whip\/[A-Za-z0-9_-]{22}$/);
    assert.match(res.headers.etag, /^"[A-Za-z0-9_-]+"$/);
    assert.equal(res.headers['access-control-allow-origin'], '*');
    assert.match(res.headers['access-control-expose-headers'], /Location/);
    // RFC 9725's Link headers: both TURN URLs, with this user's credentials.
    const links = res.headers.link.split(/,\s*(?=<)/);
    assert.equal(links.length, 2, res.headers.link);
    assert.match(links[0], /^<turn:127\.0\.0\.1:3478\?transport=udp>; rel="ice-server"; username="\d+:[^"]+"; credential="[^"]+"; credential-type="password"$/);
    assert.match(links[1], /^<turns:turn\.example:5349>; rel="ice-server"/);
    assert.ok(await isLive(srv, u.cookie, u.name), 'the room is on the room list');
    assert.equal((await whip(srv, 'DELETE', res.headers.location, { key: u.key })).status, 200);
    assert.ok(!(await isLive(srv, u.cookie, u.name)), 'DELETE ended the room');
  });

  test('viewers join an encoder\'s room, chat in it and hear room.ended on DELETE', async () => {
    const u = await streamer(srv, 'obsv');
    const res = await publish(srv, u.key, CHROME_OFFER);
    assert.equal(res.status, 201, res.body);
    const v = await signup(srv, uname('wv'));
    const ws = await openWs(srv, v.cookie);
    const joined = await join(ws, u.name);
    assert.equal(joined.type, 'room.joined', JSON.stringify(joined));
    assert.equal(joined.state, 'live');
    assert.equal(joined.media_ready, false, 'no media yet: curl sends none');
    const chat = await ws.request({ type: 'chat.send', room: u.name, text: 'hi encoder' }, { type: 'chat' });
    assert.equal(chat.text, 'hi encoder');
    const list = await rooms(srv, v.cookie);
    assert.equal(list.find(r => r.name === u.name).viewers, 1);
    await whip(srv, 'DELETE', res.headers.location, { key: u.key });
    assert.equal((await ws.next({ type: 'room.ended' })).room, u.name);
    ws.terminate();
  });

  test('no key, a wrong key and a replaced key are 401; a new key works at once', async () => {
    const u = await streamer(srv, 'obsk');
    const none = await whip(srv, 'POST', '/whip', { body: GST_OFFER });
    assert.equal(none.status, 401);
    assert.match(none.headers['www-authenticate'], /^Bearer/);
    assert.match(none.headers['content-type'], /^text\/plain/);
    assert.match(none.body, /stream key/);
    for (const key of ['sk_' + 'A'.repeat(43), u.key.slice(0, -1), 'nonsense', u.key + 'x']) {
      const res = await publish(srv, key);
      assert.equal(res.status, 401, key);
      assert.match(res.body, /Wrong stream key/);
    }
    const basic = await whip(srv, 'POST', '/whip', { body: GST_OFFER, headers: { Authorization: `Basic ${u.key}` } });
    assert.equal(basic.status, 401);
    // Live with the old key; a new key: the old one is refused at once,
    // even on its own session, and the new one ends it.
    const live = await publish(srv, u.key);
    assert.equal(live.status, 201);
    const fresh = (await request(srv, 'POST', '/api/stream-key/new', { cookie: u.cookie })).json.key;
    assert.equal((await publish(srv, u.key)).status, 401);
    assert.equal((await whip(srv, 'DELETE', live.headers.location, { key: u.key })).status, 401);
    assert.equal((await whip(srv, 'DELETE', live.headers.location, { key: fresh })).status, 200);
    const again = await publish(srv, fresh);
    assert.equal(again.status, 201);
    await whip(srv, 'DELETE', again.headers.location, { key: fresh });
    // Revoked: refused.
    await request(srv, 'POST', '/api/stream-key/revoke', { cookie: u.cookie });
    assert.equal((await publish(srv, fresh)).status, 401);
  });

  test('bad offers are 400 with the reason; other content types 415; an oversized body 413', async () => {
    const u = await streamer(srv, 'obsb');
    const page = await openWs(srv, u.cookie, { label: 'console' });
    page.send({ type: 'live.console' });
    const cases = [
      ['', /no SDP offer/],
      ['hello', /./],
      [GST_OFFER.replace(/m=video[^]*$/, '').replace(/m=audio[^]*$/, ''), /./], // no media section
      [GST_OFFER.replace(/VP8/g, 'XYZ9').replace(/OPUS/gi, 'ABC'), /codec/i],
    ];
    for (const [body, why] of cases) {
      const res = await publish(srv, u.key, body);
      assert.equal(res.status, 400, `${JSON.stringify(body.slice(0, 40))}: ${res.status} ${res.body}`);
      assert.match(res.headers['content-type'], /^text\/plain/);
      assert.match(res.body, why);
      assert.ok(!(await isLive(srv, u.cookie, u.name)), 'a refused offer leaves no room');
    }
    const json = await whip(srv, 'POST', '/whip', { key: u.key, body: GST_OFFER, type: 'application/json' });
    assert.equal(json.status, 415);
    assert.equal(json.headers['accept-post'], 'application/sdp');
    const big = await publish(srv, u.key, GST_OFFER + 'a=x-pad:' + 'x'.repeat(20000) + '\r\n');
    assert.equal(big.status, 413);
    await page.none(m => m.type === 'live.started' || m.type === 'live.ended', 200); // nothing went live
    page.terminate();
    // Still serving, and the key still works.
    const ok = await publish(srv, u.key);
    assert.equal(ok.status, 201, ok.body);
    await whip(srv, 'DELETE', ok.headers.location, { key: u.key });
  });

  test('a room already live (WHIP or the browser) is 409; a browser cannot go live over an encoder', async () => {
    const u = await streamer(srv, 'obsc');
    const first = await publish(srv, u.key);
    assert.equal(first.status, 201);
    const second = await publish(srv, u.key);
    assert.equal(second.status, 409);
    assert.match(second.body, /already live/);
    const ws = await openWs(srv, u.cookie);
    const started = await goLive(ws);
    assert.equal(started.type, 'error');
    assert.equal(started.code, 'encoder_live');
    assert.equal((await whip(srv, 'DELETE', first.headers.location, { key: u.key })).status, 200);
    assert.equal((await goLive(ws)).type, 'live.started');
    assert.equal((await publish(srv, u.key)).status, 409, 'the browser broadcast is live');
    await ws.request({ type: 'live.end' }, { type: 'live.ended' });
    ws.terminate();
  });

  test('the broadcast page (live.console) shows the encoder\'s room: chat, viewers, title, end', async () => {
    const u = await streamer(srv, 'obsk2');
    const page = await openWs(srv, u.cookie, { label: 'console' });
    page.send({ type: 'live.console' });
    await page.none({ type: 'live.started' }, 300); // nothing live yet
    const res = await publish(srv, u.key);
    assert.equal(res.status, 201);
    const started = await page.next({ type: 'live.started' });
    assert.equal(started.source, 'encoder');
    assert.equal(started.room, u.name);
    // A viewer comes; the page sees it, chats with it, changes the title.
    const v = await signup(srv, uname('cv'));
    const vws = await openWs(srv, v.cookie, { label: 'viewer' });
    assert.equal((await join(vws, u.name)).type, 'room.joined');
    assert.equal((await page.next({ type: 'viewer.joined' })).user, v.name);
    await page.request({ type: 'chat.send', room: u.name, text: 'hi from the page' }, { type: 'chat' });
    assert.equal((await vws.next({ type: 'chat' })).text, 'hi from the page');
    page.send({ type: 'live.start', title: 'From OBS' });
    assert.equal((await vws.next({ type: 'room.title' })).title, 'From OBS');
    // The media is the encoder's: the page cannot offer.
    const offer = await page.request({ type: 'media.offer', sdp: CHROME_OFFER }, { type: 'error' });
    assert.equal(offer.code, 'encoder_live');
    // The page closes: the room goes on; another page takes it on live.console.
    await page.close();
    await vws.none({ type: 'room.ended' }, 300);
    assert.ok(await isLive(srv, u.cookie, u.name));
    const page2 = await openWs(srv, u.cookie, { label: 'console2' });
    const again = await page2.request({ type: 'live.console' }, { type: 'live.started' });
    assert.equal(again.title, 'From OBS');
    assert.equal(again.viewers, 1);
    // Ending from the page ends the encoder's session too.
    await page2.request({ type: 'live.end' }, { type: 'live.ended' });
    await vws.next({ type: 'room.ended' });
    assert.equal((await whip(srv, 'DELETE', res.headers.location, { key: u.key })).status, 404);
    page2.terminate();
    vws.terminate();
  });

  test('a title set on the broadcast page before the encoder goes live is the room\'s', async () => {
    const u = await streamer(srv, 'obst1');
    const page = await openWs(srv, u.cookie, { label: 'console' });
    const bad = await page.request({ type: 'live.console', title: 'x'.repeat(101) }, { type: 'error' });
    assert.equal(bad.code, 'too_long');
    assert.equal(bad.ref, 'live.console');
    page.send({ type: 'live.console', title: 'Tonight: OBS' });
    await page.none({ type: 'error' }, 200);
    const res = await publish(srv, u.key);
    const started = await page.next({ type: 'live.started' });
    assert.equal(started.title, 'Tonight: OBS');
    assert.equal((await rooms(srv, u.cookie)).find(r => r.name === u.name).title, 'Tonight: OBS');
    await whip(srv, 'DELETE', res.headers.location, { key: u.key });
    page.terminate();
  });

  test('sessions: unknown or another user\'s is 404; nothing touches another user\'s room', async () => {
    const a = await streamer(srv, 'obsa');
    const b = await streamer(srv, 'obsz');
    const res = await publish(srv, a.key);
    assert.equal(res.status, 201);
    for (const m of ['DELETE', 'PATCH']) {
      const other = await whip(srv, m, res.headers.location, {
        key: b.key, type: 'application/trickle-ice-sdpfrag', body: m === 'PATCH' ? 'a=ice-ufrag:x\r\n' : undefined,
      });
      assert.equal(other.status, 404, m);
    }
    assert.ok(await isLive(srv, a.cookie, a.name), 'b could not end a\'s room');
    assert.equal((await whip(srv, 'DELETE', '/whip/' + 'A'.repeat(22), { key: a.key })).status, 404);
    assert.equal((await whip(srv, 'DELETE', '/whip/short', { key: a.key })).status, 404);
    await whip(srv, 'DELETE', res.headers.location, { key: a.key });
    assert.equal((await whip(srv, 'DELETE', res.headers.location, { key: a.key })).status, 404, 'ended');
  });

  test('PATCH: trickled candidates 204; wrong type 415; stale ETag 412; an ICE restart 405; OPTIONS preflights', async () => {
    const u = await streamer(srv, 'obsp');
    const res = await publish(srv, u.key);
    const loc = res.headers.location;
    const frag = 'a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n' +
      'a=mid:0\r\na=candidate:1 1 udp 2130706431 10.0.0.1 5000 typ host\r\n';
    const type = 'application/trickle-ice-sdpfrag';
    const ok = await whip(srv, 'PATCH', loc, { key: u.key, type, body: frag, headers: { 'If-Match': res.headers.etag } });
    assert.equal(ok.status, 204);
    assert.equal(ok.body, '');
    const wrong = await whip(srv, 'PATCH', loc, { key: u.key, type: 'application/sdp', body: frag });
    assert.equal(wrong.status, 415);
    assert.equal(wrong.headers['accept-patch'], type);
    assert.equal((await whip(srv, 'PATCH', loc, { key: u.key, type, body: frag, headers: { 'If-Match': '"stale"' } })).status, 412);
    const restart = await whip(srv, 'PATCH', loc, { key: u.key, type, body: frag, headers: { 'If-Match': '*' } });
    assert.equal(restart.status, 405);
    for (const [p, methods] of [['/whip', 'POST, OPTIONS'], [loc, 'DELETE, PATCH, OPTIONS']]) {
      const pre = await whip(srv, 'OPTIONS', p, { headers: { Origin: 'https://player.example', 'Access-Control-Request-Method': 'POST' } });
      assert.equal(pre.status, 204, p);
      assert.equal(pre.headers['access-control-allow-origin'], '*');
      assert.equal(pre.headers['access-control-allow-methods'], methods);
      assert.match(pre.headers['access-control-allow-headers'], /Authorization/);
    }
    assert.equal((await whip(srv, 'GET', '/whip')).status, 405);
    assert.equal((await whip(srv, 'PUT', loc, { key: u.key })).status, 405);
    assert.equal((await whip(srv, 'POST', loc, { key: u.key, body: GST_OFFER })).status, 405);
    await whip(srv, 'DELETE', loc, { key: u.key });
  });

  test('an admin ending the room, or disabling the user, ends the encoder\'s session', async () => {
    assert.equal((await request(srv, 'GET', '/api/me', { cookie: admin.cookie })).json.user.admin, true);
    const u = await streamer(srv, 'obsd');
    let res = await publish(srv, u.key);
    const end = await request(srv, 'POST', '/api/admin/rooms/end', { cookie: admin.cookie, body: { room: u.name } });
    assert.ok(end.status < 300, end.body);
    assert.ok(!(await isLive(srv, u.cookie, u.name)));
    assert.equal((await whip(srv, 'DELETE', res.headers.location, { key: u.key })).status, 404);
    res = await publish(srv, u.key);
    assert.equal(res.status, 201);
    const off = await request(srv, 'POST', '/api/admin/users/disable', { cookie: admin.cookie, body: { user: u.name } });
    assert.ok(off.status < 300, off.body);
    assert.ok(!(await isLive(srv, admin.cookie, u.name)), 'a disabled user\'s encoder room ends');
    assert.equal((await publish(srv, u.key)).status, 401, 'a disabled user\'s key is refused');
  });
});

describe('WHEP', { timeout: 60000 }, () => {
  let srv, guests;
  before(async () => {
    srv = await startOnair();
    guests = await startOnair(['--public-watch', 'true']);
  });
  after(async () => {
    if (srv) await srv.stop();
    if (guests) await guests.stop();
  });

  const play = (s, room, { cookie, body = SDP('chromium_viewer.sdp'), type = 'application/sdp' } = {}) =>
    request(s, 'POST', `/whep/${room}`, { cookie, body, headers: { 'Content-Type': type }, origin: null });

  test('errors: 401 signed out, 404 not live, 415, 503 before the media; OPTIONS; 405; DELETE of no session 404', async () => {
    const b = await signup(srv, uname('wb'));
    const v = await signup(srv, uname('wv'));
    const out = await play(srv, b.name);
    assert.equal(out.status, 401);
    assert.match(out.body, /Sign in to watch/);
    assert.equal(out.headers['access-control-allow-origin'], '*');
    assert.equal((await play(srv, b.name, { cookie: v.cookie })).status, 404);
    assert.equal((await play(srv, 'no-such!room', { cookie: v.cookie })).status, 404);
    const ws = await openWs(srv, b.cookie);
    assert.equal((await goLive(ws)).type, 'live.started');
    const early = await play(srv, b.name, { cookie: v.cookie });
    assert.equal(early.status, 503, 'live, but no media yet');
    assert.equal(early.headers['retry-after'], '2');
    assert.equal((await play(srv, b.name, { cookie: v.cookie, type: 'text/plain' })).status, 415);
    assert.equal((await rooms(srv, v.cookie)).find(r => r.name === b.name).viewers, 0, 'refused players do not count');
    const pre = await request(srv, 'OPTIONS', `/whep/${b.name}`, { origin: null });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-methods'], 'POST, OPTIONS');
    assert.equal((await request(srv, 'GET', `/whep/${b.name}`, { origin: null })).status, 405);
    const del = await request(srv, 'DELETE', `/whep/${b.name}/${'A'.repeat(22)}`, { origin: null });
    assert.equal(del.status, 404);
    assert.equal((await request(srv, 'DELETE', `/whep/${b.name}/x`, { origin: null })).status, 404);
    ws.terminate();
  });

  test('a watch token the broadcaster hands out opens their room only', async () => {
    const b = await signup(srv, uname('wtb'));
    const other = await signup(srv, uname('wto'));
    const made = await request(srv, 'POST', '/api/watch-token/new', { cookie: b.cookie });
    assert.equal(made.status, 200);
    assert.match(made.json.key, /^wt_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual((await request(srv, 'GET', '/api/watch-token', { cookie: b.cookie })).json,
      { exists: true, created: made.json.created });
    const bws = await openWs(srv, b.cookie);
    assert.equal((await goLive(bws)).type, 'live.started');
    const ows = await openWs(srv, other.cookie);
    assert.equal((await goLive(ows)).type, 'live.started');
    const bearer = key => ({ Authorization: `Bearer ${key}`, 'Content-Type': 'application/sdp' });
    const body = SDP('chromium_viewer.sdp');
    const with_ = (room, key) => request(srv, 'POST', `/whep/${room}`, { body, headers: bearer(key), origin: null });
    // Past the sign-in check: the room has no media yet.
    assert.equal((await with_(b.name, made.json.key)).status, 503);
    const elsewhere = await with_(other.name, made.json.key);
    assert.equal(elsewhere.status, 401);
    assert.match(elsewhere.body, /another room/);
    assert.equal((await with_(b.name, 'wt_' + 'A'.repeat(43))).status, 401);
    const sk = (await request(srv, 'POST', '/api/stream-key/new', { cookie: b.cookie })).json.key;
    assert.equal((await with_(b.name, sk)).status, 401, 'a stream key is not a watch token');
    await request(srv, 'POST', '/api/watch-token/revoke', { cookie: b.cookie });
    assert.equal((await with_(b.name, made.json.key)).status, 401, 'revoked');
    bws.terminate();
    ows.terminate();
  });

  test('with public-watch, a player without a session is a guest', async () => {
    const res = await play(guests, 'nobody');
    assert.equal(res.status, 404, 'not 401: guests may watch; the room is not live');
  });
});

describe('WHIP: an encoder that vanishes', { timeout: 60000 }, () => {
  let srv;
  before(async () => { srv = await startOnair(['--media-consent-ms', '1500']); });
  after(async () => { if (srv) await srv.stop(); });

  test('ends its room for the viewers when its media goes quiet (no connectivity checks)', async () => {
    const u = await streamer(srv, 'obsgone');
    const res = await publish(srv, u.key); // curl-like: it never sends media
    assert.equal(res.status, 201);
    const v = await signup(srv, uname('gv'));
    const ws = await openWs(srv, v.cookie);
    assert.equal((await join(ws, u.name)).type, 'room.joined');
    const ended = await ws.next({ type: 'room.ended' }, 15000);
    assert.equal(ended.room, u.name);
    assert.ok(!(await isLive(srv, v.cookie, u.name)));
    assert.equal((await whip(srv, 'DELETE', res.headers.location, { key: u.key })).status, 404, 'the session went with it');
    assert.match(srv.log(), /msg="whip media closed" room=obsgone/);
    ws.terminate();
  });
});

describe('WHIP: wrong keys from one address', { timeout: 60000 }, () => {
  let srv;
  before(async () => { srv = await startOnair(); });
  after(async () => { if (srv) await srv.stop(); });

  test('are throttled as password sign-ins are: 429 with Retry-After, even for the right key', async () => {
    const u = await streamer(srv, 'obst');
    let throttled = null;
    for (let i = 0; i < 30 && !throttled; i++) {
      const res = await publish(srv, 'sk_' + String(i).padStart(43, 'B'));
      if (res.status === 429) throttled = res;
      else assert.equal(res.status, 401);
    }
    assert.ok(throttled, 'no 429 after 30 wrong keys');
    assert.match(throttled.headers['retry-after'], /^\d+$/);
    assert.equal((await publish(srv, u.key)).status, 429);
    // Sign-in from that address is not throttled by it.
    assert.equal((await request(srv, 'GET', '/api/stream-key', { cookie: u.cookie })).status, 200);
  });
});
