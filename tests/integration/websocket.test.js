// The WebSocket at /ws: the upgrade checks, RFC 6455 framing from raw bytes,
// the JSON message errors, chat limits and persistence, signaling relay and
// the dashboard's room list (docs/protocol.md, "WebSocket /ws").
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startOnair } = require('../lib/server.js');
const {
  OP, sleep, uname, request, signup, me, rooms, openWs, userWithWs, goLive, join,
  rawHttp, rawWs, encodeFrame,
} = require('./util.js');

let srv, raw1; // raw1: a user for raw-socket connections
const open = [];
before(async () => {
  srv = await startOnair();
  raw1 = await signup(srv, uname('raw'));
});
after(async () => {
  for (const c of open) { try { c.terminate ? c.terminate() : c.destroy(); } catch {} }
  if (srv) await srv.stop();
});

async function user(prefix, s = srv) {
  const u = await userWithWs(s, prefix);
  open.push(u.ws);
  return u;
}

async function raw(label) {
  const c = await rawWs(srv, raw1.cookie, { label });
  open.push(c);
  return c;
}

// Waits for the server's close frame; asserts its code and that the TCP
// connection then ends.
async function expectClose(c, code, what) {
  const f = await c.next(f => f.opcode === OP.CLOSE, 3000);
  assert.equal(f.code, code, `${what}: close code ${f.code} (${f.payload.subarray(2).toString()})`);
  await Promise.race([c.ended, sleep(3000).then(() => { throw new Error(`${what}: TCP not closed`); })]);
  // Nothing but the close (and maybe pings) came back for the bad frame.
  assert.ok(!c.inbox.items.some(x => x.opcode === OP.TEXT && x.json && x.json.type !== 'hello'),
    `${what}: ${JSON.stringify(c.inbox.items.map(x => x.text))}`);
}

function upgradeRequest(opts = {}) {
  const key = opts.key || crypto.randomBytes(16).toString('base64');
  const lines = ['GET /ws HTTP/1.1', `Host: 127.0.0.1:${srv.port}`, 'Upgrade: websocket', 'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`, `Sec-WebSocket-Version: ${opts.version ?? '13'}`];
  if (opts.origin !== null) lines.push(`Origin: ${opts.origin || srv.origin}`);
  if (opts.cookie) lines.push(`Cookie: onair_session=${opts.cookie}`);
  return { key, bytes: lines.join('\r\n') + '\r\n\r\n' };
}

describe('upgrade', () => {
  test('a valid upgrade gets 101 with the right accept key, then hello', async () => {
    const { key, bytes } = upgradeRequest({ cookie: raw1.cookie });
    const r = await rawHttp(srv.port, bytes, { responses: 1 });
    assert.equal(r.responses[0].status, 101);
    const want = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    assert.equal(r.responses[0].headers['sec-websocket-accept'], want);
    const c = await raw('hello');
    assert.equal(c.hello.user, raw1.name);
    assert.match(c.hello.peer, /^\S+$/);
    const c2 = await raw('hello2');
    assert.notEqual(c2.hello.peer, c.hello.peer, 'every connection has its own peer id');
    c.destroy(); c2.destroy();
  });

  test('without a session cookie → 401', async () => {
    for (const cookie of [undefined, 'AAAAAAAAAAAAAAAAAAAAAA']) {
      const r = await rawHttp(srv.port, upgradeRequest({ cookie }).bytes, { responses: 1 });
      assert.equal(r.responses[0].status, 401, r.text.slice(0, 80));
      assert.equal(JSON.parse(r.responses[0].body).error, 'signed_out');
    }
  });

  test('with a foreign Origin (or none) → 403', async () => {
    for (const origin of ['http://evil.example', null, `http://127.0.0.1:${srv.port + 1}`, 'null']) {
      const r = await rawHttp(srv.port, upgradeRequest({ cookie: raw1.cookie, origin }).bytes, { responses: 1 });
      assert.equal(r.responses[0].status, 403, `Origin ${origin}: ${r.text.slice(0, 80)}`);
    }
  });

  test('a bad Sec-WebSocket-Version → 426', async () => {
    for (const version of ['8', '14', '1 3', '']) {
      const r = await rawHttp(srv.port, upgradeRequest({ cookie: raw1.cookie, version }).bytes, { responses: 1 });
      assert.equal(r.responses[0].status, 426, `version ${JSON.stringify(version)}`);
    }
    // And the ws package's view of a refused upgrade.
    await assert.rejects(openWs(srv, raw1.cookie, { origin: 'http://evil.example' }), /403/);
    await assert.rejects(openWs(srv, undefined), /401/);
  });
});

describe('upgrade (RFC 6455 details)', () => {
  // Known gap (reported): RFC 6455 4.2.2 says the 426 MUST carry the
  // versions the server speaks.
  test('the 426 names the supported version', async () => {
    const r = await rawHttp(srv.port, upgradeRequest({ cookie: raw1.cookie, version: '8' }).bytes, { responses: 1 });
    assert.equal(r.responses[0].status, 426);
    assert.equal(r.responses[0].headers['sec-websocket-version'], '13');
  });
});

describe('framing (raw bytes)', () => {
  test('a fragmented text message with a ping in the middle is one message; the ping is ponged', async () => {
    const c = await raw('fragments');
    // Split so that a two-byte UTF-8 character straddles two fragments.
    const msg = Buffer.from(JSON.stringify({ type: 'room.join', room: 'nö-such-röom' }));
    const cut1 = msg.indexOf(0xc3) + 1;
    const cut2 = msg.lastIndexOf(0xc3) + 1;
    c.frame({ fin: false, opcode: OP.TEXT, payload: msg.subarray(0, cut1) });
    await sleep(30);
    c.frame({ opcode: OP.PING, payload: 'ping-in-the-middle' });
    await sleep(30);
    c.frame({ fin: false, opcode: OP.CONT, payload: msg.subarray(cut1, cut2) });
    await sleep(30);
    c.frame({ fin: true, opcode: OP.CONT, payload: msg.subarray(cut2) });
    const pong = await c.next(f => f.opcode === OP.PONG);
    assert.equal(pong.payload.toString(), 'ping-in-the-middle');
    const err = await c.nextJson({ type: 'error' });
    assert.equal(err.code, 'no_such_room');
    assert.equal(err.ref, 'room.join');
    await c.none(f => f.opcode === OP.TEXT || f.opcode === OP.CLOSE, 300);
    const all = c.inbox.all;
    assert.ok(all.indexOf(pong) < all.findIndex(f => f.json && f.json.type === 'error'), 'pong answered before the message ended');
    // The connection is still fine.
    c.text(JSON.stringify({ type: 'rooms.watch' }));
    await c.nextJson({ type: 'rooms' });
  });

  test('a frame dribbled in one byte at a time is still parsed', async () => {
    const c = await raw('dribble');
    const frame = encodeFrame({ opcode: OP.TEXT, payload: JSON.stringify({ type: 'room.join', room: 'dribbled' }) });
    for (const b of frame) { c.send(Buffer.from([b])); await sleep(2); }
    const err = await c.nextJson({ type: 'error' });
    assert.equal(err.code, 'no_such_room');
  });

  test('an unmasked client frame → close 1002', async () => {
    const c = await raw('unmasked');
    c.frame({ opcode: OP.TEXT, payload: JSON.stringify({ type: 'rooms.watch' }), mask: false });
    await expectClose(c, 1002, 'unmasked');
  });

  test('other protocol errors → close 1002', async () => {
    const cases = {
      'reserved bit': { opcode: OP.TEXT, rsv: 4, payload: '{}' },
      'reserved opcode': { opcode: 3, payload: '{}' },
      'continuation without a start': { opcode: OP.CONT, payload: '{}' },
      'fragmented ping': { opcode: OP.PING, fin: false, payload: 'x' },
      'control frame over 125 bytes': { opcode: OP.PING, payload: 'x'.repeat(126) },
      'close code 999': { opcode: OP.CLOSE, payload: Buffer.from([0x03, 0xe7]) },
    };
    for (const [what, f] of Object.entries(cases)) {
      const c = await raw(what);
      c.frame(f);
      await expectClose(c, 1002, what);
    }
    // A new data frame inside a fragmented message.
    const c = await raw('interleaved');
    c.frame({ opcode: OP.TEXT, fin: false, payload: '{"type":' });
    c.frame({ opcode: OP.TEXT, payload: '"rooms.watch"}' });
    await expectClose(c, 1002, 'interleaved data frames');
  });

  test('invalid UTF-8 in a text message → close 1007', async () => {
    const bad = {
      'lone continuation byte': Buffer.from([0x7b, 0x80, 0x7d]),
      'truncated sequence': Buffer.from([0x7b, 0xc3, 0x28, 0x7d]),
      'overlong slash': Buffer.from([0x22, 0xc0, 0xaf, 0x22]),
      'UTF-16 surrogate': Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]),
      'above U+10FFFF': Buffer.from([0x22, 0xf4, 0x90, 0x80, 0x80, 0x22]),
      'ends inside a character': Buffer.from([0x22, 0xe2, 0x82]),
    };
    for (const [what, payload] of Object.entries(bad)) {
      const c = await raw(what);
      c.frame({ opcode: OP.TEXT, payload });
      await expectClose(c, 1007, what);
    }
  });

  test('a message over 64 KiB → close 1009; exactly 64 KiB is accepted', async () => {
    // One frame announcing 64 KiB + 1 (refused on the header).
    const c1 = await raw('big frame');
    const f = encodeFrame({ opcode: OP.TEXT, payload: Buffer.alloc(100, 0x61), length: 64 * 1024 + 1 });
    c1.send(f);
    await expectClose(c1, 1009, 'one big frame');

    // Two fragments of 40 KiB each.
    const c2 = await raw('big fragments');
    c2.frame({ opcode: OP.TEXT, fin: false, payload: '"' + 'b'.repeat(40 * 1024) });
    await sleep(100);
    c2.send(encodeFrame({ opcode: OP.CONT, payload: Buffer.alloc(10, 0x62), length: 40 * 1024 }).subarray(0, 20));
    await expectClose(c2, 1009, 'fragmented');

    // 65536 bytes exactly: a valid JSON object, answered (unknown type).
    const c3 = await raw('64 KiB');
    const head = '{"type":"padding","x":"';
    const edge = head + 'p'.repeat(64 * 1024 - head.length - 2) + '"}';
    assert.equal(Buffer.byteLength(edge), 65536);
    c3.text(edge);
    const e = await c3.nextJson({ type: 'error' });
    assert.equal(e.code, 'unknown_type');
    assert.equal(e.ref, 'padding');
  });

  test('a binary frame → close 1003', async () => {
    const c = await raw('binary');
    c.frame({ opcode: OP.BINARY, payload: Buffer.from('{"type":"rooms.watch"}') });
    await expectClose(c, 1003, 'binary');
  });

  test('a close frame is echoed, then the connection ends', async () => {
    const c = await raw('close');
    const payload = Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from('bye')]);
    c.frame({ opcode: OP.CLOSE, payload });
    const f = await c.next(x => x.opcode === OP.CLOSE);
    assert.equal(f.code, 1000);
    await Promise.race([c.ended, sleep(3000).then(() => { throw new Error('TCP not closed'); })]);

    const c2 = await raw('close 4001');
    c2.frame({ opcode: OP.CLOSE, payload: Buffer.from([0x0f, 0xa1]) });
    assert.equal((await c2.next(x => x.opcode === OP.CLOSE)).code, 4001);

    const c3 = await raw('close empty');
    c3.frame({ opcode: OP.CLOSE });
    const f3 = await c3.next(x => x.opcode === OP.CLOSE);
    assert.ok(f3.payload.length === 0 || f3.code === 1000, `empty close answered with ${f3.code}`);
  });

  test('a client ping is answered with a pong carrying the same payload', async () => {
    const c = await raw('ping');
    const payload = crypto.randomBytes(125);
    c.frame({ opcode: OP.PING, payload });
    const pong = await c.next(f => f.opcode === OP.PONG);
    assert.deepEqual(pong.payload, payload);
  });

  test('the server pings and frames are never masked', async () => {
    const c = await raw('server ping');
    const ping = await c.next(f => f.opcode === OP.PING, 3500);
    assert.equal(ping.masked, false);
    assert.ok(c.inbox.all.every(f => !f.masked && f.rsv === 0));
  });
});

describe('message errors keep the connection open', () => {
  test('bad JSON → bad_json; missing type → bad_message; unknown type → unknown_type', async () => {
    const u = await user('json');
    const cases = [
      ['not json', 'bad_json'],
      ['{"type":"rooms.watch"', 'bad_json'],
      ['[1,2,3]', 'bad_json'],
      ['"rooms.watch"', 'bad_json'],
      ['{"type":"a","type":"b"}', 'bad_json'],
      ['{}', 'bad_message'],
      ['{"type":5}', 'bad_message'],
      ['{"type":"launch.missiles"}', 'unknown_type'],
      ['{"type":"room.join"}', 'bad_message'],
      ['{"type":"room.join","room":42}', 'bad_message'],
      ['{"type":"chat.send","text":"hi"}', 'bad_message'],
      ['{"type":"room.leave"}', 'not_in_room'],
      ['{"type":"live.end"}', 'not_broadcaster'],
    ];
    for (const [text, code] of cases) {
      const e = await u.ws.request(text, { type: 'error' });
      assert.equal(e.code, code, text);
      assert.equal(typeof e.message, 'string');
      assert.ok(e.message.length > 0);
      assert.ok(u.ws.isOpen, `still open after ${text}`);
    }
    const e = await u.ws.request({ type: 'launch.missiles' }, { type: 'error' });
    assert.equal(e.ref, 'launch.missiles');
    // Still a working connection.
    await u.ws.request({ type: 'rooms.watch' }, { type: 'rooms' });
  });

  test('deeply nested JSON is refused without harm', async () => {
    const u = await user('deep');
    const deep = '{"type":"x","a":' + '['.repeat(20000) + ']'.repeat(20000) + '}';
    const e = await u.ws.request(deep, { type: 'error' });
    assert.ok(['bad_json', 'unknown_type', 'bad_message'].includes(e.code), e.code);
    await u.ws.request({ type: 'rooms.watch' }, { type: 'rooms' });
    assert.ok(srv.alive());
  });
});

describe('chat', () => {
  test('text limits: 500 characters accepted (counted as characters), 501 → too_long, blank → empty', async () => {
    const b = await user('len');
    assert.equal((await goLive(b.ws)).type, 'live.started');
    const send = text => b.ws.request({ type: 'chat.send', room: b.name, text },
      m => (m.type === 'chat' && m.text === text) || m.type === 'error');

    for (const text of ['x'.repeat(501), '😀'.repeat(501), 'é'.repeat(501)]) {
      const r = await send(text);
      assert.equal(r.type, 'error', `${[...text].length} chars accepted`);
      assert.equal(r.code, 'too_long');
      assert.equal(r.ref, 'chat.send');
    }
    for (const text of ['', '   ', '\n\t ']) {
      const r = await send(text);
      assert.equal(r.code, 'empty', JSON.stringify(text));
    }
    // Control characters are refused (the code is not pinned down by the protocol).
    for (const text of ['\u0001hi', 'hi\u007f', 'a\u0000b']) {
      const r = await send(text);
      assert.equal(r.type, 'error', JSON.stringify(text));
    }
    const emoji = '😀'.repeat(500); // 500 characters, 1000 UTF-16 units, 2000 bytes
    assert.equal([...emoji].length, 500);
    const r1 = await send(emoji);
    assert.equal(r1.type, 'chat', JSON.stringify(r1).slice(0, 200));
    assert.equal(r1.text, emoji);
    const ascii = 'a'.repeat(500);
    const r2 = await send(ascii);
    assert.equal(r2.type, 'chat');
    assert.equal(r2.text, ascii);
  });

  test('rate limit: a burst of 10 → the first 5 delivered, the rest rate_limited; per user, refills', async () => {
    const b = await user('rate');
    const v = await user('ratev');
    assert.equal((await goLive(b.ws)).type, 'live.started');
    assert.equal((await join(v.ws, b.name)).type, 'room.joined');
    const results = [];
    const done = new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`only ${results.length} answers: ${JSON.stringify(results)}`)), 5000);
      b.ws.ws.on('message', d => {
        const m = JSON.parse(d.toString());
        if ((m.type === 'chat' && m.text.startsWith('burst ')) || (m.type === 'error' && m.ref === 'chat.send')) {
          results.push(m);
          if (results.length === 10) { clearTimeout(t); resolve(); }
        }
      });
    });
    for (let i = 0; i < 10; i++) b.ws.send({ type: 'chat.send', room: b.name, text: `burst ${i}` });
    await done;
    const chats = results.filter(m => m.type === 'chat').map(m => m.text);
    const limited = results.filter(m => m.type === 'error');
    assert.deepEqual(chats.slice(0, 5), ['burst 0', 'burst 1', 'burst 2', 'burst 3', 'burst 4']);
    assert.ok(limited.length >= 1, 'at least one rate_limited');
    assert.ok(limited.every(e => e.code === 'rate_limited'), JSON.stringify(limited));
    assert.ok(chats.length <= 6, `${chats.length} of 10 got through`);
    // The viewer saw exactly what was delivered, nothing refused.
    for (const t of chats) await v.ws.next({ type: 'chat', text: t });
    await v.ws.none(m => m.type === 'chat' && !chats.includes(m.text), 200);

    // The limit is per user: another connection of the same user is limited too.
    const b2 = await openWs(srv, b.cookie, { label: 'rate second conn' });
    open.push(b2);
    assert.equal((await join(b2, b.name)).type, 'room.joined');
    const e = await b2.request({ type: 'chat.send', room: b.name, text: 'from my other tab' },
      m => m.type === 'error' || (m.type === 'chat' && m.text === 'from my other tab'));
    assert.equal(e.code, 'rate_limited');
    // It refills (1 per second).
    await sleep(1300);
    b.ws.drain();
    const ok = await b.ws.request({ type: 'chat.send', room: b.name, text: 'after a pause' },
      m => m.type === 'error' || (m.type === 'chat' && m.text === 'after a pause'));
    assert.equal(ok.type, 'chat');
  });

  test('chat only in the room you are in', async () => {
    const a = await user('roomA');
    const c = await user('roomC');
    const v = await user('roomV');
    await goLive(a.ws);
    await goLive(c.ws);
    await join(v.ws, a.name);
    const e = await v.ws.request({ type: 'chat.send', room: c.name, text: 'sneaky' }, { type: 'error' });
    assert.equal(e.code, 'not_in_room');
    await c.ws.none({ type: 'chat', text: 'sneaky' }, 200);
    // Leaving: room.left, then chat there is refused.
    const left = await v.ws.request({ type: 'room.leave' }, { type: 'room.left' });
    assert.equal(left.room, a.name);
    const e2 = await v.ws.request({ type: 'chat.send', room: a.name, text: 'gone' }, { type: 'error' });
    assert.equal(e2.code, 'not_in_room');
  });

  test('history: the last 50 messages, oldest first, survive a restart', async () => {
    const args = ['--chat-burst', '1000', '--chat-per-sec', '1000'];
    let s = await startOnair(args);
    const dataDir = s.dataDir;
    let conns = [];
    try {
      const h = await signup(s, uname('hist'));
      const other = await signup(s, uname('histo'));
      const viewer = await signup(s, uname('histv'));
      const hw = await openWs(s, h.cookie);
      const ow = await openWs(s, other.cookie);
      conns.push(hw, ow);
      assert.deepEqual((await goLive(hw)).history, []);
      await goLive(ow);
      await ow.request({ type: 'chat.send', room: other.name, text: 'in the other room' }, { type: 'chat' });
      const sent = [];
      for (let i = 0; i < 55; i++) {
        const text = `h${i} ${'<b>' + i}`;
        sent.push(text);
        hw.send({ type: 'chat.send', room: h.name, text });
      }
      const echoes = [];
      for (const text of sent) echoes.push(await hw.next({ type: 'chat', text }));
      const ids = echoes.map(m => m.id);
      for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], 'ids increase');

      conns.forEach(c => c.terminate());
      conns = [];
      await s.stop();
      s = await startOnair(args, { dataDir });

      assert.equal((await me(s, h.cookie)).status, 200, 'the session survives the restart');
      const hw2 = await openWs(s, h.cookie);
      conns.push(hw2);
      const started = await goLive(hw2);
      assert.equal(started.type, 'live.started');
      const hist = started.history;
      assert.equal(hist.length, 50);
      assert.deepEqual(hist.map(m => m.text), sent.slice(5));
      for (let i = 0; i < 50; i++) {
        const want = echoes[i + 5];
        assert.deepEqual(hist[i], { id: want.id, room: h.name, user: h.name, text: want.text, ts: want.ts });
        assert.equal(hist[i].type, undefined);
      }
      const vw = await openWs(s, viewer.cookie);
      conns.push(vw);
      const joined = await join(vw, h.name);
      assert.deepEqual(joined.history, hist);
    } finally {
      conns.forEach(c => c.terminate());
      await s.stop();
    }
  });

  test('a delivered chat message survives kill -9', async () => {
    let s = await startOnair();
    const dataDir = s.dataDir;
    let ws;
    try {
      const k = await signup(s, uname('kill'));
      ws = await openWs(s, k.cookie);
      await goLive(ws);
      const texts = [1, 2, 3].map(i => `survive ${i} ${crypto.randomBytes(6).toString('hex')}`);
      for (const t of texts) ws.send({ type: 'chat.send', room: k.name, text: t });
      const seen = [];
      for (const t of texts) seen.push(await ws.next({ type: 'chat', text: t }));
      await s.kill9(); // straight after the last one was seen
      ws.terminate();
      s = await startOnair([], { dataDir });
      ws = await openWs(s, k.cookie);
      const started = await goLive(ws);
      assert.deepEqual(started.history.map(m => [m.id, m.text]), seen.map(m => [m.id, m.text]));
    } finally {
      if (ws) ws.terminate();
      await s.stop();
    }
  });
});

describe('no peer-to-peer relay', () => {
  test('no client can send another anything directly: media goes through onair', async () => {
    const b = await user('sigb');
    const v1 = await user('sigv1');
    await goLive(b.ws);
    await join(v1.ws, b.name);
    const e1 = await v1.ws.request({ type: 'signal', to: b.ws.peer, data: { kind: 'offer', sdp: 'v=0' } }, { type: 'error' });
    assert.equal(e1.code, 'unknown_type');
    await b.ws.none({ type: 'signal' }, 300);
    // media.offer is the way in, and it is checked.
    const e2 = await v1.ws.request({ type: 'media.offer' }, { type: 'error' });
    assert.equal(e2.code, 'bad_message');
    const e3 = await v1.ws.request({ type: 'media.offer', sdp: 'v=0\r\nnot sdp' }, { type: 'error' });
    assert.equal(e3.code, 'bad_sdp');
  });
});

describe('room life', () => {
  test('viewer events reach the broadcaster; counts reach everyone', async () => {
    const b = await user('lifeb');
    const v = await user('lifev');
    await goLive(b.ws);
    const j = await join(v.ws, b.name);
    assert.equal(j.broadcaster, b.name);
    assert.equal(j.broadcaster_peer, b.ws.peer);
    assert.equal(j.viewers, 1);
    const vj = await b.ws.next({ type: 'viewer.joined' });
    assert.deepEqual(vj, { type: 'viewer.joined', room: b.name, peer: v.ws.peer, user: v.name });
    await b.ws.next({ type: 'room.viewers', viewers: 1 });
    await v.ws.next({ type: 'room.viewers', viewers: 1 });
    await v.ws.terminate();
    const vl = await b.ws.next({ type: 'viewer.left' });
    assert.equal(vl.peer, v.ws.peer);
    await b.ws.next({ type: 'room.viewers', viewers: 0 });
  });

  test('going live again on another connection replaces the old one', async () => {
    const b = await user('repl');
    const v = await user('replv');
    await goLive(b.ws);
    await join(v.ws, b.name);
    const tab2 = await openWs(srv, b.cookie, { label: 'tab2' });
    open.push(tab2);
    const s2 = await goLive(tab2);
    assert.equal(s2.type, 'live.started');
    assert.equal(s2.room, b.name);
    const ended = await b.ws.next({ type: 'live.ended' });
    assert.equal(ended.reason, 'replaced');
    await v.ws.next({ type: 'room.ended', room: b.name });
    const list = await rooms(srv, b.cookie);
    assert.equal(list.filter(r => r.name === b.name).length, 1);
    const j = await join(v.ws, b.name);
    assert.equal(j.broadcaster_peer, tab2.peer);
  });

  test('a dropped broadcaster: the room waits as reconnecting, chat goes on, live.resume takes it back', async () => {
    const b = await user('dropb');
    const v = await user('dropv');
    const w = await user('dropw');
    await b.ws.request({ type: 'live.start', title: 'Back soon' }, { type: 'live.started' });
    await join(v.ws, b.name);
    await w.ws.request({ type: 'rooms.watch' }, { type: 'rooms' });
    await b.ws.terminate(); // no close frame: the network went away
    const rc = await v.ws.next({ type: 'room.reconnecting' }, 5000);
    assert.equal(rc.room, b.name);
    assert.equal(rc.grace_ms, 30000);
    const listed = await w.ws.next(m => m.type === 'rooms' && m.rooms.some(r => r.name === b.name && r.state === 'reconnecting'), 2000);
    assert.equal(listed.rooms.find(r => r.name === b.name).title, 'Back soon');
    // Viewers stay in the room: chat works, media waits.
    await v.ws.request({ type: 'chat.send', room: b.name, text: 'still here' }, { type: 'chat', text: 'still here' });
    const nr = await v.ws.request({ type: 'media.offer', sdp: 'v=0' }, { type: 'error' });
    assert.equal(nr.code, 'not_ready');
    // A newcomer can join the waiting room and is told its state.
    const late = await user('dropl');
    const lj = await join(late.ws, b.name);
    assert.equal(lj.state, 'reconnecting');
    assert.equal(lj.media_ready, false);

    const back = await openWs(srv, b.cookie, { label: 'back' });
    open.push(back);
    assert.equal(back.hello.reconnect_grace_ms, 30000);
    const s = await back.request({ type: 'live.resume' }, m => m.type === 'live.started' || m.type === 'error');
    assert.equal(s.type, 'live.started', JSON.stringify(s));
    assert.equal(s.resumed, true);
    assert.equal(s.room, b.name);
    assert.equal(s.title, 'Back soon');
    assert.equal(s.viewers, 2);
    assert.ok(s.history.some(m => m.text === 'still here'), 'chat from the gap is in the history');
    const rs = await v.ws.next({ type: 'room.resumed' }, 2000);
    assert.equal(rs.broadcaster_peer, back.peer);
    await w.ws.next(m => m.type === 'rooms' && m.rooms.some(r => r.name === b.name && r.state === 'live'), 2000);
    // Nothing resumes what is not waiting: a second live.resume elsewhere is refused.
    const other = await user('dropo');
    const e = await other.ws.request({ type: 'live.resume' }, { type: 'error' });
    assert.equal(e.code, 'no_such_room');
  });

  test('signing out ends a broadcaster\'s room at once (no grace period)', async () => {
    const b = await user('soutb');
    const v = await user('soutv');
    await goLive(b.ws);
    await join(v.ws, b.name);
    const r = await request(srv, 'POST', '/api/signout', { cookie: b.cookie });
    assert.equal(r.status, 204);
    await v.ws.next({ type: 'room.ended', room: b.name }, 5000);
  });
});

describe('room titles', () => {
  test('a title given at live.start shows in /api/rooms, rooms.watch and room.joined, byte-identical', async () => {
    const b = await user('titled');
    const w = await user('titlew');
    await w.ws.request({ type: 'rooms.watch' }, { type: 'rooms' });
    const title = 'Morning coffee <img src=x onerror=alert(1)> ☕';
    const s = await b.ws.request({ type: 'live.start', title }, m => m.type === 'live.started' || m.type === 'error');
    assert.equal(s.type, 'live.started', JSON.stringify(s));
    const listed = (await rooms(srv, w.cookie)).find(r => r.name === b.name);
    assert.equal(listed.title, title);
    const upd = await w.ws.next(m => m.type === 'rooms' && m.rooms.some(r => r.name === b.name), 2000);
    assert.equal(upd.rooms.find(r => r.name === b.name).title, title);
    const v = await user('titlev');
    const j = await join(v.ws, b.name);
    assert.equal(j.title, title);
  });

  test('live.start again while live changes the title: room.title to the viewers, the room goes on', async () => {
    const b = await user('retitle');
    const v = await user('retitlev');
    const other = await user('retitleo');
    await goLive(b.ws);
    await join(v.ws, b.name);
    const s = await b.ws.request({ type: 'live.start', title: 'Second half' },
      m => m.type === 'live.started' || m.type === 'error');
    assert.equal(s.type, 'live.started');
    const m = await v.ws.next({ type: 'room.title' }, 2000);
    assert.deepEqual(m, { type: 'room.title', room: b.name, title: 'Second half' });
    assert.equal((await rooms(srv, v.cookie)).find(r => r.name === b.name).title, 'Second half');
    assert.equal((await rooms(srv, v.cookie)).find(r => r.name === b.name).viewers, 1, 'the viewer is still there');
    // The same title again, or none, changes nothing and tells nobody.
    await b.ws.request({ type: 'live.start', title: 'Second half' }, { type: 'live.started' });
    await b.ws.request({ type: 'live.start' }, { type: 'live.started' });
    await join(other.ws, b.name);
    assert.equal(v.ws.inbox.items.filter(x => x.type === 'room.title').length, 0, 'no second room.title');
    assert.equal(b.ws.inbox.items.filter(x => x.type === 'room.title').length, 0, 'the broadcaster has live.started');
  });

  test('no title is ""; bad titles are refused and nothing goes live', async () => {
    const b = await user('untitled');
    const v = await user('untitledv');
    const cases = [
      ['x'.repeat(101), 'too_long'],
      ['😀'.repeat(101), 'too_long'],
      ['two\nlines', 'bad_message'],
      [42, 'bad_message'],
      ['bell\u0007', 'bad_message'],
    ];
    for (const [title, code] of cases) {
      const e = await b.ws.request({ type: 'live.start', title }, m => m.type === 'live.started' || m.type === 'error');
      assert.equal(e.type, 'error', `title ${JSON.stringify(title)} accepted`);
      assert.equal(e.code, code, JSON.stringify(title));
      assert.equal(e.ref, 'live.start');
      assert.ok(!(await rooms(srv, b.cookie)).some(r => r.name === b.name), 'not live after a refused title');
    }
    const s = await goLive(b.ws);
    assert.equal(s.type, 'live.started');
    assert.equal((await join(v.ws, b.name)).title, '');
    assert.equal((await rooms(srv, b.cookie)).find(r => r.name === b.name).title, '');
    // 100 characters (as code points) are fine.
    const c = await user('title100');
    const t100 = '😀'.repeat(100);
    const s2 = await c.ws.request({ type: 'live.start', title: t100 }, m => m.type === 'live.started' || m.type === 'error');
    assert.equal(s2.type, 'live.started', JSON.stringify(s2));
    assert.equal((await rooms(srv, c.cookie)).find(r => r.name === c.name).title, t100);
  });

  test('joining another room leaves the first', async () => {
    const a = await user('leaveA');
    const c = await user('leaveC');
    const v = await user('leaveV');
    await goLive(a.ws);
    await goLive(c.ws);
    await join(v.ws, a.name);
    await a.ws.next({ type: 'viewer.joined', peer: v.ws.peer });
    const j = await join(v.ws, c.name);
    assert.equal(j.type, 'room.joined');
    const left = await a.ws.next({ type: 'viewer.left' });
    assert.equal(left.peer, v.ws.peer);
    const list = await rooms(srv, v.cookie);
    assert.equal(list.find(r => r.name === a.name).viewers, 0);
    assert.equal(list.find(r => r.name === c.name).viewers, 1);
    // Chat in the old room is refused now.
    const e = await v.ws.request({ type: 'chat.send', room: a.name, text: 'still here?' }, { type: 'error' });
    assert.equal(e.code, 'not_in_room');
  });
});

describe('dashboard watch', () => {
  test('rooms.watch gets the list at once and an update when a viewer joins', async () => {
    const b = await user('watchb');
    await goLive(b.ws);
    const w = await user('watcher');
    const t0 = Date.now();
    const first = await w.ws.request({ type: 'rooms.watch' }, { type: 'rooms' }, 1000);
    assert.ok(Date.now() - t0 < 1000);
    const r0 = first.rooms.find(r => r.name === b.name);
    assert.ok(r0, JSON.stringify(first));
    assert.deepEqual(Object.keys(r0).sort(), ['broadcaster', 'name', 'since', 'state', 'title', 'viewers']);
    assert.equal(r0.viewers, 0);
    assert.equal(r0.broadcaster, b.name);

    const v = await user('watchv');
    await join(v.ws, b.name);
    const upd = await w.ws.next(m => m.type === 'rooms' && m.rooms.some(r => r.name === b.name && r.viewers === 1), 2000);
    assert.equal(upd.rooms.find(r => r.name === b.name).since, r0.since);

    // A new room and an ended room show up too.
    const c = await user('watchc');
    await goLive(c.ws);
    await w.ws.next(m => m.type === 'rooms' && m.rooms.some(r => r.name === c.name), 2000);
    await c.ws.request({ type: 'live.end' }, { type: 'live.ended' });
    await w.ws.next(m => m.type === 'rooms' && !m.rooms.some(r => r.name === c.name), 2000);
    // Non-watchers get no room lists.
    await v.ws.none({ type: 'rooms' }, 0);
  });

  test('updates are coalesced (at most one per 100 ms)', async () => {
    const b = await user('coal');
    await goLive(b.ws);
    const w = await user('coalw');
    await w.ws.request({ type: 'rooms.watch' }, { type: 'rooms' });
    const viewers = [];
    for (let i = 0; i < 4; i++) viewers.push(await user('coalv'));
    const t0 = Date.now();
    await Promise.all(viewers.map(v => join(v.ws, b.name)));
    await w.ws.next(m => m.type === 'rooms' && m.rooms.some(r => r.name === b.name && r.viewers === 4), 2000);
    const elapsed = Date.now() - t0;
    const lists = w.ws.inbox.all.filter(m => m.type === 'rooms').length - 1;
    assert.ok(lists <= Math.floor(elapsed / 100) + 2, `${lists} lists in ${elapsed} ms`);
  });
});

describe('links to share', () => {
  test('hello names base-url when one is set (the broadcast page\'s link), and nothing otherwise', async () => {
    const u = await user('nobase');
    assert.equal(u.ws.hello.base_url, undefined);
    const site = await startOnair(['--base-url', 'http://live.example.test'] /* http: the plain cookie name */);
    try {
      const s = { ...site, origin: 'http://live.example.test' };
      const v = await userWithWs(s, 'withbase');
      open.push(v.ws);
      assert.equal(v.ws.hello.base_url, 'http://live.example.test');
    } finally {
      await site.stop();
    }
  });
});
