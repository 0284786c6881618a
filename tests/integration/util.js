// Shared helpers for the integration tests: HTTP API calls, sign-up/sign-in
// returning the session cookie, WebSocket clients (the `ws` package and a raw
// RFC 6455 client over net), waiting for messages with a timeout, and raw
// HTTP bytes over net.
'use strict';
const http = require('node:http');
const net = require('node:net');
const crypto = require('node:crypto');
const { execFileSync } = require('node:child_process');
const assert = require('node:assert/strict');
const WebSocket = require('ws');

const PASSWORD = 'correct horse battery staple';
const COOKIE = 'onair_session';

const sleep = ms => new Promise(r => setTimeout(r, ms));

// A username unique within this process (1-32 of A-Za-z0-9_-).
let nameSeq = 0;
function uname(prefix = 'u') {
  nameSeq++;
  return `${prefix}${process.pid % 10000}_${nameSeq}`.slice(0, 32);
}

// ---- HTTP --------------------------------------------------------------------

// One request on a fresh connection. opts: headers, body (object -> JSON,
// string/Buffer as is), cookie (the session value), origin (undefined: the
// server's own origin on POST and none on GET; null: none; string: that).
// Resolves { status, headers, body (string), json (parsed or undefined) }.
function request(srv, method, path, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  let body = opts.body;
  if (body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body)) {
    body = JSON.stringify(body);
    if (!headers['Content-Type']) headers['Content-Type'] = 'application/json';
  }
  if (body !== undefined) headers['Content-Length'] = Buffer.byteLength(body);
  if (opts.cookie) headers.Cookie = `${COOKIE}=${opts.cookie}`;
  const origin = opts.origin === undefined ? (method === 'POST' ? srv.origin : null) : opts.origin;
  if (origin) headers.Origin = origin;
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: srv.port, method, path, headers, agent: false,
    }, res => {
      const chunks = [];
      res.on('data', d => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, body: text, json });
      });
      res.on('error', reject);
    });
    req.setTimeout(10000, () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// The session cookie value from a response's Set-Cookie, or undefined.
function cookieFrom(res) {
  const sc = res.headers['set-cookie'] || [];
  for (const line of sc) {
    const m = new RegExp(`^${COOKIE}=([^;]*)`).exec(line);
    if (m) return m[1];
  }
  return undefined;
}

// Signs up a new user; asserts 201. Resolves { name, password, cookie, res }.
async function signup(srv, name = uname(), password = PASSWORD) {
  const res = await request(srv, 'POST', '/api/signup', { body: { username: name, password } });
  assert.equal(res.status, 201, `signup ${name}: ${res.status} ${res.body}`);
  const cookie = cookieFrom(res);
  assert.ok(cookie, `signup ${name}: no session cookie`);
  return { name, password, cookie, res };
}

// Signs in; resolves { status, cookie, res } (cookie undefined on failure).
async function signin(srv, name, password = PASSWORD, opts = {}) {
  const res = await request(srv, 'POST', '/api/signin', { ...opts, body: { username: name, password } });
  return { status: res.status, cookie: cookieFrom(res), res };
}

async function me(srv, cookie) {
  return request(srv, 'GET', '/api/me', { cookie });
}

async function rooms(srv, cookie) {
  const res = await request(srv, 'GET', '/api/rooms', { cookie });
  assert.equal(res.status, 200, `/api/rooms: ${res.status} ${res.body}`);
  return res.json.rooms;
}

// ---- matching and waiting --------------------------------------------------------

// pred: a function, or an object whose fields must all equal (deepStrictEqual)
// the message's.
function matcher(pred) {
  if (typeof pred === 'function') return pred;
  return m => m && typeof m === 'object' &&
    Object.entries(pred).every(([k, v]) => {
      try { assert.deepStrictEqual(m[k], v); return true; } catch { return false; }
    });
}

function describePred(pred) {
  return typeof pred === 'function' ? (pred.what || pred.toString()) : JSON.stringify(pred);
}

// An inbox of parsed items with waiters; used by both WebSocket clients.
class Inbox {
  constructor(label) {
    this.label = label;
    this.items = [];  // not yet taken
    this.all = [];    // everything ever received
    this.waiters = [];
    this.endedWith = null;
  }

  push(item) {
    this.all.push(item);
    this.items.push(item);
    this.pump();
  }

  end(info) {
    this.endedWith = info;
    this.pump();
  }

  pump() {
    for (const w of [...this.waiters]) {
      const i = this.items.findIndex(w.match);
      if (i >= 0) {
        const [item] = this.items.splice(i, 1);
        this.waiters.splice(this.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(item);
      } else if (this.endedWith) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.reject(new Error(`${this.label}: connection closed (${JSON.stringify(this.endedWith)}) ` +
          `while waiting for ${describePred(w.pred)}; got ${JSON.stringify(this.items).slice(0, 2000)}`));
      }
    }
  }

  // Takes the first item (received before or after the call) matching pred.
  next(pred = () => true, timeoutMs = 5000) {
    const match = matcher(pred);
    return new Promise((resolve, reject) => {
      const w = { match, pred, resolve, reject };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`${this.label}: no ${describePred(pred)} within ${timeoutMs} ms; ` +
          `got ${JSON.stringify(this.items).slice(0, 2000)}`));
      }, timeoutMs);
      this.waiters.push(w);
      this.pump();
    });
  }

  // Forgets every item not yet taken.
  drain() { this.items.length = 0; }

  // Waits ms and asserts that no untaken item matches pred.
  async none(pred, ms = 500) {
    await sleep(ms);
    const match = matcher(pred);
    const bad = this.items.filter(match);
    assert.equal(bad.length, 0, `${this.label}: unexpected ${JSON.stringify(bad)}`);
  }
}

// ---- WebSocket via the ws package ---------------------------------------------

// A WebSocket client on /ws. Parsed JSON messages go to .inbox (raw strings to
// .raw); .closed resolves { code, reason } when the connection ends.
class Client {
  constructor(ws, label) {
    this.ws = ws;
    this.label = label;
    this.inbox = new Inbox(label);
    this.raw = [];
    this.hello = null;
    this.closed = new Promise(resolve => {
      ws.on('close', (code, reason) => {
        const info = { code, reason: reason.toString() };
        this.closeInfo = info;
        this.inbox.end(info);
        resolve(info);
      });
    });
    ws.on('message', (data, isBinary) => {
      const text = data.toString('utf8');
      this.raw.push(text);
      let m;
      try { m = JSON.parse(text); } catch { m = { unparsable: text, isBinary }; }
      this.inbox.push(m);
    });
    ws.on('error', () => {}); // surfaced through close
  }

  send(msg) { this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg)); }
  next(pred, timeoutMs) { return this.inbox.next(pred, timeoutMs); }
  none(pred, ms) { return this.inbox.none(pred, ms); }
  drain() { this.inbox.drain(); }
  get peer() { return this.hello && this.hello.peer; }
  get isOpen() { return this.ws.readyState === WebSocket.OPEN; }

  // Sends msg and waits for a message matching pred.
  async request(msg, pred, timeoutMs) {
    const p = this.next(pred, timeoutMs);
    this.send(msg);
    return p;
  }

  close() { if (this.ws.readyState <= WebSocket.OPEN) this.ws.close(); return this.closed; }
  terminate() { this.ws.terminate(); return this.closed; }
}

// Opens /ws with the session cookie and the server's Origin; resolves once
// the hello message arrived. opts: origin, headers, label.
async function openWs(srv, cookie, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  if (cookie) headers.Cookie = `${COOKIE}=${cookie}`;
  const origin = opts.origin === undefined ? srv.origin : opts.origin;
  const ws = new WebSocket(srv.url.replace(/^http/, 'ws') + '/ws', {
    headers, origin: origin || undefined, perMessageDeflate: false, handshakeTimeout: 5000,
  });
  const cl = new Client(ws, opts.label || 'ws');
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (req, res) => reject(new Error(`ws upgrade answered ${res.statusCode}`)));
    ws.once('error', reject);
  });
  cl.hello = await cl.next({ type: 'hello' }, 5000);
  return cl;
}

// A signed-up user with an open WebSocket: { name, cookie, ws }.
async function userWithWs(srv, prefix, opts) {
  const u = await signup(srv, uname(prefix));
  u.ws = await openWs(srv, u.cookie, { label: u.name, ...opts });
  return u;
}

// Makes ws go live; resolves the live.started message.
async function goLive(cl) {
  return cl.request({ type: 'live.start' }, m => m.type === 'live.started' || m.type === 'error');
}

// Makes ws join room; resolves room.joined (or the error).
async function join(cl, room) {
  return cl.request({ type: 'room.join', room },
    m => (m.type === 'room.joined' && m.room === room) || m.type === 'error');
}

// ---- raw bytes -------------------------------------------------------------------

// Splits complete HTTP/1.1 responses (Content-Length framed) off buf.
// Returns { responses: [{ status, statusLine, headers, body }], rest }.
function parseResponses(buf) {
  const responses = [];
  let off = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', off);
    if (end < 0) break;
    const head = buf.subarray(off, end).toString('latin1');
    const lines = head.split('\r\n');
    const statusLine = lines[0];
    const m = /^HTTP\/1\.1 (\d{3})/.exec(statusLine);
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) {
        const k = l.slice(0, i).trim().toLowerCase();
        const v = l.slice(i + 1).trim();
        headers[k] = headers[k] === undefined ? v : [].concat(headers[k], v);
      }
    }
    const status = m ? Number(m[1]) : 0;
    const len = status === 101 ? 0 : Number(headers['content-length'] || 0);
    if (buf.length < end + 4 + len) break;
    const body = buf.subarray(end + 4, end + 4 + len);
    responses.push({ status, statusLine, headers, body: body.toString('utf8'), rawHead: head });
    off = end + 4 + len;
    if (status === 101) break;
  }
  return { responses, rest: buf.subarray(off) };
}

// Sends raw bytes on a fresh TCP connection and collects the answer.
// chunks: a string/Buffer or an array of them (written with gapMs between).
// Resolves when `responses` complete responses arrived, the server closed the
// connection, or timeoutMs passed: { responses, bytes, closed, timedOut }.
function rawHttp(port, chunks, opts = {}) {
  const { responses: want = Infinity, timeoutMs = 3000, gapMs = 0 } = opts;
  const list = Array.isArray(chunks) ? chunks : [chunks];
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let bytes = Buffer.alloc(0);
    let done = false;
    const finish = (closed, timedOut) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ responses: parseResponses(bytes).responses, bytes, text: bytes.toString('latin1'), closed, timedOut });
    };
    const timer = setTimeout(() => finish(false, true), timeoutMs);
    sock.on('data', d => {
      bytes = Buffer.concat([bytes, d]);
      if (parseResponses(bytes).responses.length >= want) finish(false, false);
    });
    sock.on('end', () => finish(true, false));
    sock.on('close', () => finish(true, false));
    sock.on('error', e => { if (e.code === 'ECONNRESET') finish(true, false); else reject(e); });
    sock.on('connect', async () => {
      for (let i = 0; i < list.length; i++) {
        if (i && gapMs) await sleep(gapMs);
        if (done) return;
        sock.write(list[i]);
      }
    });
  });
}

// A fresh GET / answers 200 (the server is still serving).
async function assertServing(srv) {
  const res = await request(srv, 'GET', '/');
  assert.equal(res.status, 200, `GET / after the test: ${res.status}`);
  assert.match(res.body, /<html/i);
}

// ---- raw WebSocket ---------------------------------------------------------------

// Encodes one client frame. payload: Buffer or string; mask defaults to true.
function encodeFrame({ fin = true, rsv = 0, opcode, payload = Buffer.alloc(0), mask = true, length }) {
  payload = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  const len = length === undefined ? payload.length : length;
  const parts = [];
  const b0 = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  const mbit = mask ? 0x80 : 0;
  if (len < 126) parts.push(Buffer.from([b0, mbit | len]));
  else if (len < 65536) {
    const h = Buffer.alloc(4); h[0] = b0; h[1] = mbit | 126; h.writeUInt16BE(len, 2); parts.push(h);
  } else {
    const h = Buffer.alloc(10); h[0] = b0; h[1] = mbit | 127; h.writeBigUInt64BE(BigInt(len), 2); parts.push(h);
  }
  if (mask) {
    const key = crypto.randomBytes(4);
    const masked = Buffer.alloc(payload.length);
    for (let i = 0; i < payload.length; i++) masked[i] = payload[i] ^ key[i & 3];
    parts.push(key, masked);
  } else {
    parts.push(payload);
  }
  return Buffer.concat(parts);
}

// Decodes server frames off buf: { frames: [{ fin, opcode, payload }], rest }.
function decodeFrames(buf) {
  const frames = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const b0 = buf[off], b1 = buf[off + 1];
    let len = b1 & 0x7f, p = off + 2;
    if (len === 126) { if (buf.length < p + 2) break; len = buf.readUInt16BE(p); p += 2; }
    else if (len === 127) { if (buf.length < p + 8) break; len = Number(buf.readBigUInt64BE(p)); p += 8; }
    const masked = (b1 & 0x80) !== 0;
    if (masked) p += 4; // servers must not mask; recorded below
    if (buf.length < p + len) break;
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload: buf.subarray(p, p + len) });
    off = p + len;
  }
  return { frames, rest: buf.subarray(off) };
}

const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 };

// A raw WebSocket client: does the handshake by hand on a net socket.
// Frames from the server land in .inbox as { fin, opcode, payload, text,
// json, code (close) }; .ended resolves when the TCP connection closes.
async function rawWs(srv, cookie, opts = {}) {
  const sock = net.connect(srv.port, '127.0.0.1');
  await new Promise((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
  const key = crypto.randomBytes(16).toString('base64');
  const lines = [
    'GET /ws HTTP/1.1',
    `Host: 127.0.0.1:${srv.port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
    `Origin: ${srv.origin}`,
  ];
  if (cookie) lines.push(`Cookie: ${COOKIE}=${cookie}`);
  const conn = {
    sock,
    inbox: new Inbox(opts.label || 'raw ws'),
    ended: null,
    send(buf) { sock.write(buf); },
    frame(f) { sock.write(encodeFrame(f)); },
    text(s) { sock.write(encodeFrame({ opcode: OP.TEXT, payload: s })); },
    next(pred, t) { return this.inbox.next(pred, t); },
    none(pred, ms) { return this.inbox.none(pred, ms); },
    // The next JSON text message matching pred (pings etc. are skipped).
    nextJson(pred = () => true, t) {
      const m = matcher(pred);
      return this.inbox.next(f => f.opcode === OP.TEXT && f.json && m(f.json), t).then(f => f.json);
    },
    destroy() { sock.destroy(); },
  };
  let buf = Buffer.alloc(0);
  let upgraded = false;
  let resolveHs, rejectHs;
  const hs = new Promise((res, rej) => { resolveHs = res; rejectHs = rej; });
  conn.ended = new Promise(resolve => {
    sock.on('close', () => { conn.inbox.end({ tcp: 'closed' }); rejectHs(new Error('closed during handshake')); resolve(); });
  });
  sock.on('error', () => {});
  sock.on('data', d => {
    buf = Buffer.concat([buf, d]);
    if (!upgraded) {
      const { responses, rest } = parseResponses(buf);
      if (!responses.length) return;
      conn.handshake = responses[0];
      if (responses[0].status !== 101) { resolveHs(); return; }
      upgraded = true;
      buf = rest;
      resolveHs();
    }
    const { frames, rest } = decodeFrames(buf);
    buf = rest;
    for (const f of frames) {
      if (f.opcode === OP.TEXT) {
        f.text = f.payload.toString('utf8');
        try { f.json = JSON.parse(f.text); } catch { f.json = null; }
      }
      if (f.opcode === OP.CLOSE && f.payload.length >= 2) f.code = f.payload.readUInt16BE(0);
      conn.inbox.push(f);
    }
  });
  sock.write(lines.join('\r\n') + '\r\n\r\n');
  await hs;
  if (opts.expectUpgrade !== false) {
    assert.equal(conn.handshake && conn.handshake.status, 101, `raw ws upgrade: ${conn.handshake && conn.handshake.statusLine}`);
    conn.hello = await conn.nextJson({ type: 'hello' });
  }
  return conn;
}

// ---- SQLite ------------------------------------------------------------------------

function sqlite(dbPath, sql) {
  return execFileSync('sqlite3', [dbPath, sql], { encoding: 'utf8' });
}

module.exports = {
  PASSWORD, COOKIE, OP, sleep, uname,
  request, cookieFrom, signup, signin, me, rooms,
  matcher, Inbox, Client, openWs, userWithWs, goLive, join,
  parseResponses, rawHttp, assertServing,
  encodeFrame, decodeFrames, rawWs, sqlite,
};
