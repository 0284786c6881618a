// HTTP/1.1 parsing seen from raw bytes: keep-alive, pipelining, and the
// malformed or hostile requests that must get a 4xx without disturbing
// anybody else.
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { startOnair } = require('../lib/server.js');
const { sleep, uname, request, signup, rawHttp, assertServing, parseResponses } = require('./util.js');

let srv, host;
before(async () => { srv = await startOnair(); host = `Host: 127.0.0.1:${srv.port}\r\n`; });
after(async () => { if (srv) await srv.stop(); });

const GET = (path, extra = '') => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`;

// One raw request that must be refused with `status`, the connection then
// closed, and the server still serving.
async function refused(bytes, status, what) {
  const r = await rawHttp(srv.port, bytes, { timeoutMs: 3000 });
  assert.ok(r.responses.length >= 1, `${what}: no response (${JSON.stringify(r.text.slice(0, 200))})`);
  assert.equal(r.responses[0].status, status, `${what}: ${r.responses[0].statusLine}`);
  assert.equal(r.responses.length, 1, `${what}: exactly one response, got ${r.responses.map(x => x.status)}`);
  assert.ok(r.closed, `${what}: connection closed after the error`);
  assert.equal(r.responses[0].headers.connection, 'close', what);
  assert.match(r.responses[0].headers['content-security-policy'] || '', /script-src 'self'/, what);
  await assertServing(srv);
  return r;
}

describe('connection reuse', () => {
  test('keep-alive: two requests one after the other on one connection', async () => {
    const r = await rawHttp(srv.port, [GET('/'), GET('/api/me')], { responses: 2, gapMs: 300, timeoutMs: 3000 });
    assert.equal(r.responses.length, 2, r.text.slice(0, 300));
    assert.equal(r.responses[0].status, 200);
    assert.notEqual(r.responses[0].headers.connection, 'close');
    assert.match(r.responses[0].body, /<html/i);
    assert.equal(r.responses[1].status, 401);
    assert.equal(JSON.parse(r.responses[1].body).error, 'signed_out');
    assert.ok(!r.closed, 'connection stays open');
  });

  test('pipelining: three requests in one write, three responses in order', async () => {
    const bytes = GET('/') + GET('/api/me') + GET('/nope');
    const r = await rawHttp(srv.port, bytes, { responses: 3 });
    assert.deepEqual(r.responses.map(x => x.status), [200, 401, 404]);
    assert.match(r.responses[0].body, /<html/i);
    assert.equal(JSON.parse(r.responses[1].body).error, 'signed_out');
    assert.equal(JSON.parse(r.responses[2].body).error, 'not_found');
  });

  test('pipelined POST with a body, then a GET with the new session', async () => {
    const name = uname('pipe');
    const body = JSON.stringify({ username: name, password: 'pipelined password' });
    const post = `POST /api/signup HTTP/1.1\r\n${host}Origin: ${srv.origin}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const r = await rawHttp(srv.port, post + GET('/api/me'), { responses: 2, timeoutMs: 5000 });
    assert.deepEqual(r.responses.map(x => x.status), [201, 401], 'the GET carried no cookie');
    assert.equal(JSON.parse(r.responses[0].body).user.name, name);
  });

  test('Connection: close is honoured', async () => {
    const r = await rawHttp(srv.port, GET('/', 'Connection: close\r\n') + GET('/api/me'), { timeoutMs: 3000 });
    assert.equal(r.responses.length, 1);
    assert.equal(r.responses[0].status, 200);
    assert.ok(r.closed);
  });
});

describe('malformed requests get 4xx and the server keeps serving', () => {
  test('Transfer-Encoding together with Content-Length → 400 (no smuggled request)', async () => {
    const smuggled = GET('/api/rooms');
    const bytes = `POST /api/signin HTTP/1.1\r\n${host}Origin: ${srv.origin}\r\nContent-Length: 5\r\n` +
      `Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`;
    await refused(bytes, 400, 'TE + CL');
    await refused(`POST /api/signin HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n`, 400, 'TE + CL (TE first)');
  });

  test('duplicate Content-Length → 400', async () => {
    await refused(`POST /api/signin HTTP/1.1\r\n${host}Origin: ${srv.origin}\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}`, 400, 'different values');
    await refused(`POST /api/signin HTTP/1.1\r\n${host}Origin: ${srv.origin}\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\n{}`, 400, 'same value twice');
    await refused(`POST /api/signin HTTP/1.1\r\n${host}Content-Length: 2, 2\r\n\r\n{}`, 400, 'list value');
  });

  test('bare LF line endings → 400', async () => {
    await refused('GET / HTTP/1.1\nHost: 127.0.0.1\n\n', 400, 'all LF');
    await refused('GET / HTTP/1.1\r\nHost: 127.0.0.1\nX-A: b\r\n\r\n', 400, 'one LF');
  });

  test('header block over 16 KiB → 431', async () => {
    await refused(`GET / HTTP/1.1\r\n${host}X-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`, 431, 'one big header');
    let many = `GET / HTTP/1.1\r\n${host}`;
    for (let i = 0; i < 400; i++) many += `X-H${i}: ${'b'.repeat(40)}\r\n`;
    await refused(many + '\r\n', 431, 'many headers');
    // Sent slowly, in pieces, without ever ending the block.
    const r = await rawHttp(srv.port, [`GET / HTTP/1.1\r\n${host}`, `X-A: ${'c'.repeat(9000)}\r\n`, `X-B: ${'d'.repeat(9000)}\r\n`],
      { gapMs: 50, timeoutMs: 3000 });
    assert.equal(r.responses[0] && r.responses[0].status, 431, r.text.slice(0, 100));
    await assertServing(srv);
  });

  test('a header block just under 16 KiB is accepted', async () => {
    const head = `GET / HTTP/1.1\r\n${host}X-Pad: `;
    const pad = 16 * 1024 - Buffer.byteLength(head) - 4 - 64;
    const r = await rawHttp(srv.port, `${head}${'p'.repeat(pad)}\r\n\r\n`, { responses: 1 });
    assert.equal(r.responses[0].status, 200);
  });

  test('garbage request lines → 400', async () => {
    const garbage = [
      'HELLO\r\n\r\n',
      'GET\r\n\r\n',
      'GET / FTP/1.1\r\nHost: x\r\n\r\n',
      'GET  HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n',
      'G\x00ET / HTTP/1.1\r\n\r\n',
      '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n', // TLS hello-ish
      'GET / HTTP/1.1\r\n: novalue\r\n\r\n',
    ];
    for (const g of garbage) await refused(Buffer.from(g, 'latin1'), 400, JSON.stringify(g));
  });

  // RFC 9112 says a server MUST answer 400 to these; http_parser in
  // non-strict mode lets them through, so onair checks them itself.
  test('RFC 9112 MUST-reject header forms → 400', async () => {
    const cases = {
      'space inside a field name': `GET / HTTP/1.1\r\n${host}Bad Header: x\r\n\r\n`,
      'space before the colon': `GET / HTTP/1.1\r\n${host}X-A : x\r\n\r\n`,
      'HTTP/1.1 without Host': 'GET / HTTP/1.1\r\n\r\n',
      'two Host headers': `GET / HTTP/1.1\r\n${host}${host}\r\n`,
      'HTTP/9.9': `GET / HTTP/9.9\r\n${host}\r\n`,
    };
    const got = {};
    for (const [what, bytes] of Object.entries(cases)) {
      const r = await rawHttp(srv.port, bytes, { responses: 1, timeoutMs: 2000 });
      got[what] = r.responses[0] && r.responses[0].status;
    }
    const want = Object.fromEntries(Object.keys(cases).map(k => [k, 400]));
    want['HTTP/9.9'] = 505;
    assert.deepEqual(got, want);
  });

  test('a half-sent request does not block anybody else', async () => {
    const stalled = [];
    for (let i = 0; i < 5; i++) {
      const s = net.connect(srv.port, '127.0.0.1');
      await new Promise(r => s.once('connect', r));
      s.on('error', () => {});
      stalled.push(s);
    }
    let stalledGotData = false;
    stalled[0].write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Partial: ');
    stalled[1].write('POST /api/signin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{"user');
    stalled[2].write('G');
    for (const s of stalled) s.on('data', () => { stalledGotData = true; });
    try {
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now();
        const res = await request(srv, 'GET', '/');
        assert.equal(res.status, 200);
        assert.ok(Date.now() - t0 < 1000, `GET / took ${Date.now() - t0} ms`);
      }
      const u = await signup(srv, uname('unblocked'));
      assert.equal((await request(srv, 'GET', '/api/me', { cookie: u.cookie })).status, 200);
      assert.equal(stalledGotData, false, 'half requests got no answer');
      // Finishing one of them later still works.
      const done = new Promise(resolve => {
        let buf = Buffer.alloc(0);
        stalled[0].on('data', d => { buf = Buffer.concat([buf, d]); const p = parseResponses(buf); if (p.responses.length) resolve(p.responses[0]); });
      });
      stalled[0].write('yes\r\n\r\n');
      assert.equal((await done).status, 200);
    } finally {
      for (const s of stalled) s.destroy();
    }
  });

  test('a request with a body on a GET-only API, an unknown method, a huge URL', async () => {
    const r1 = await rawHttp(srv.port, `BREW / HTTP/1.1\r\n${host}\r\n`, { responses: 1 });
    assert.ok(r1.responses[0] && r1.responses[0].status >= 400 && r1.responses[0].status < 500, r1.text.slice(0, 80));
    await assertServing(srv);
    const r2 = await rawHttp(srv.port, `GET /${'u'.repeat(4000)} HTTP/1.1\r\n${host}\r\n`, { responses: 1 });
    assert.ok([404, 414].includes(r2.responses[0] && r2.responses[0].status), r2.text.slice(0, 80));
    await assertServing(srv);
  });

  test('many bad requests in a row do not take the server down', async () => {
    const bad = ['HELLO\r\n\r\n', 'GET / HTTP/1.1\nHost: x\n\n', `GET / HTTP/1.1\r\nX: ${'z'.repeat(20000)}\r\n\r\n`];
    await Promise.all(Array.from({ length: 30 }, (_, i) => rawHttp(srv.port, bad[i % bad.length], { timeoutMs: 3000 })));
    assert.ok(srv.alive());
    await assertServing(srv);
  });
});
