// Limits against denial of service (docs/operations.md, "Limits"): requests
// that trickle in (slowloris) are closed by their deadline, one address
// cannot take every connection, a flood at the descriptor limit does not
// stop another address from being served, and one address cannot open
// WebSockets without end. Each flood runs while a normal client is served.
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const WebSocket = require('ws');
const { startOnair } = require('../lib/server.js');
const { sleep, signup, COOKIE } = require('./util.js');

// One GET from a chosen local address on a fresh connection; resolves
// { status, body } or { error } (never rejects: a refused client is data).
function getFrom(srv, path, localAddress = '127.0.0.1') {
  return new Promise(resolve => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, path, localAddress, agent: false }, res => {
      let body = '';
      res.on('data', d => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', e => resolve({ error: e.code || e.message }));
    });
    req.setTimeout(20000, () => req.destroy(new Error('no answer in 20 s')));
    req.on('error', e => resolve({ error: e.code || e.message }));
    req.end();
  });
}

async function metrics(srv) {
  const res = await getFrom(srv, '/metrics', '127.0.0.2');
  assert.equal(res.status, 200, JSON.stringify(res));
  const values = {};
  for (const line of res.body.split('\n')) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) values[m[1]] = Number(m[2]);
  }
  return values;
}

// Sends bytes one at a time, gapMs apart, until the server closes the
// connection (or giveUpMs passes). Resolves { text, closed, sent }.
function trickle(port, bytes, gapMs, giveUpMs) {
  return new Promise(resolve => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    let sent = 0;
    let done = false;
    const finish = closed => {
      if (done) return;
      done = true;
      clearInterval(timer);
      clearTimeout(giveUp);
      sock.destroy();
      resolve({ text: got, closed, sent });
    };
    const timer = setInterval(() => {
      if (sent < bytes.length) sock.write(bytes.subarray(sent, ++sent));
    }, gapMs);
    const giveUp = setTimeout(() => finish(false), giveUpMs);
    sock.on('data', d => { got += d.toString('latin1'); });
    sock.on('close', () => finish(true));
    sock.on('error', () => finish(true));
  });
}

// Opens n connections from localAddress that send nothing. Resolves the
// sockets and what happened to each: 'open', or the first bytes heard
// before the server closed it.
async function silentConns(port, n, localAddress) {
  const socks = [];
  const fates = await Promise.all(Array.from({ length: n }, () => new Promise(resolve => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    socks.push(s);
    let heard = '';
    s.on('data', d => { heard += d.toString('latin1'); });
    s.on('close', () => resolve(heard || 'closed'));
    s.on('error', () => {});
    // Still open a while after connecting: kept by the server.
    s.on('connect', () => setTimeout(() => resolve('open'), 1500));
  })));
  return { socks, fates };
}

describe('slow requests (slowloris)', { timeout: 120000 }, () => {
  let srv;
  before(async () => { srv = await startOnair(['--http-request-timeout-ms', '2000', '--metrics-allow', '127.0.0.0/8']); });
  after(async () => { if (srv) await srv.stop(); });

  test('heads sent a byte at a time get 408 and are closed; normal requests are served meanwhile', async () => {
    const head = Buffer.from(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'a'.repeat(200)}\r\n\r\n`);
    const slow = Array.from({ length: 60 }, () => trickle(srv.port, head, 200, 30000));
    // A normal client keeps being served while the slow ones hang on.
    for (let i = 0; i < 10; i++) {
      const r = await getFrom(srv, '/');
      assert.equal(r.status, 200, `normal request ${i} during the flood: ${JSON.stringify(r).slice(0, 200)}`);
      await sleep(150);
    }
    const ends = await Promise.all(slow);
    for (const e of ends) {
      assert.ok(e.closed, `a trickling connection is still open after ${e.sent} bytes`);
      assert.ok(e.sent < head.length, 'the server closed it before its head was complete');
      assert.match(e.text, /^HTTP\/1\.1 408 Request Timeout\r\n/, e.text.slice(0, 80));
    }
    const m = await metrics(srv);
    assert.ok(m.onair_http_requests_timed_out_total >= 60, `timed-out requests counted: ${m.onair_http_requests_timed_out_total}`);
  });

  test('a body slower than 1 KiB/s gets 408; a complete request after its head is served', async () => {
    const body = Buffer.alloc(4000, 'x');
    const head = `POST /api/signin HTTP/1.1\r\nHost: 127.0.0.1:${srv.port}\r\nOrigin: ${srv.origin}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    // The head at once, then the body at 20 bytes a second.
    const sock = net.connect(srv.port, '127.0.0.1');
    let got = '';
    sock.on('data', d => { got += d.toString('latin1'); });
    const closed = new Promise(r => sock.on('close', r));
    sock.on('error', () => {});
    sock.write(head);
    let sent = 0;
    const timer = setInterval(() => { if (sent < body.length) sock.write(body.subarray(sent, sent += 10)); }, 500);
    await closed;
    clearInterval(timer);
    assert.ok(sent < body.length, `closed before the body was complete (${sent} of ${body.length})`);
    assert.match(got, /^HTTP\/1\.1 408 /, got.slice(0, 80));
    // A request whose parts come with pauses inside the deadline is fine.
    const name = `slow${process.pid % 10000}`;
    const json = JSON.stringify({ username: name, password: 'a slow but fine password' });
    const parts = [`POST /api/signup HTTP/1.1\r\nHost: 127.0.0.1:${srv.port}\r\nOrigin: ${srv.origin}\r\n`,
      `Content-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n`, json.slice(0, 10), json.slice(10)];
    const ok = net.connect(srv.port, '127.0.0.1');
    let answer = '';
    ok.on('data', d => { answer += d.toString('latin1'); });
    for (const p of parts) { await new Promise(r => ok.write(p, r)); await sleep(300); }
    for (let i = 0; i < 50 && !/\r\n\r\n/.test(answer); i++) await sleep(100);
    ok.destroy();
    assert.match(answer, /^HTTP\/1\.1 201 /, answer.slice(0, 80));
  });
});

describe('connection caps at a 512-descriptor limit', { timeout: 180000 }, () => {
  let srv;
  const socks = [];
  before(async () => {
    srv = await startOnair(['--max-conns-per-ip', '100', '--metrics-allow', '127.0.0.0/8'],
      { wrapper: ['prlimit', '--nofile=512:512', '--'] });
    // startOnair's probe connection is gone (only the scrape's is open).
    while ((await metrics(srv)).onair_connections > 1) await sleep(50);
  });
  after(async () => {
    for (const s of socks) s.destroy();
    if (srv) await srv.stop();
  });

  test('the cap comes from the descriptor limit', () => {
    assert.match(srv.log(), /msg="connection limits" descriptors=512 max_conns=448 max_conns_per_ip=100/);
  });

  test('one address is held to its cap and told so; another address is served', async () => {
    const { socks: mine, fates } = await silentConns(srv.port, 150, '127.0.0.1');
    socks.push(...mine);
    const open = fates.filter(f => f === 'open').length;
    const refused = fates.filter(f => /^HTTP\/1\.1 429 /.test(f)).length;
    const kinds = {};
    for (const f of fates) kinds[f.slice(0, 30)] = (kinds[f.slice(0, 30)] || 0) + 1;
    assert.equal(open, 100, `connections kept from one address: ${JSON.stringify(kinds)}`);
    assert.equal(refused, 50, `refused with 429: ${refused} (${[...new Set(fates)].map(f => f.slice(0, 40))})`);
    // A further request from the capped address is refused (429, or a
    // reset when its bytes come after the close).
    const again = await getFrom(srv, '/', '127.0.0.1');
    assert.ok(again.status === 429 || again.error === 'ECONNRESET', `capped address: ${JSON.stringify(again)}`);
    const other = await getFrom(srv, '/healthz', '127.0.0.2');
    assert.equal(other.status, 200, `another address during the flood: ${JSON.stringify(other)}`);
    const m = await metrics(srv);
    assert.ok(m['onair_connections_refused_total{reason="max_conns_per_ip"}'] >= 51, JSON.stringify(m));
    for (const s of mine) s.destroy();
  });

  test('past the descriptor limit: accepting pauses, the oldest idle go, a new address is served', async () => {
    // 612 silent connections from 7 addresses (under their per-address
    // cap): more than the 448 onair may hold.
    const flood = [];
    for (let a = 3; a <= 9; a++) {
      for (let i = 0; i < 88; i++) {
        const s = net.connect({ port: srv.port, host: '127.0.0.1', localAddress: `127.0.0.${a}` });
        s.on('error', () => {});
        flood.push(s);
      }
    }
    socks.push(...flood);
    await sleep(2000);
    const served = await getFrom(srv, '/healthz', '127.0.0.10');
    assert.equal(served.status, 200, `a new address during the flood: ${JSON.stringify(served)}`);
    assert.ok(srv.alive(), 'onair is running');
    const m = await metrics(srv);
    assert.ok(m.onair_connections <= 448 + 2, `open connections within the cap: ${m.onair_connections}`);
    assert.ok(m.onair_connections_evicted_total > 0, `idle connections closed for new ones: ${m.onair_connections_evicted_total}`);
    assert.ok(m.onair_accept_pauses_total > 0, 'accepting paused at the cap');
    assert.doesNotMatch(srv.log(), /accept failed/, 'no accept ran out of descriptors');
    for (const s of flood) s.destroy();
    // Once the flood is gone the connections are given back.
    let now = Infinity;
    for (let i = 0; i < 100 && now > 5; i++) {
      await sleep(100);
      now = (await metrics(srv)).onair_connections;
    }
    assert.ok(now <= 5, `connections after the flood left: ${now}`);
  });
});

describe('WebSockets per address', { timeout: 60000 }, () => {
  let srv;
  const open = [];
  before(async () => { srv = await startOnair(['--max-ws-per-ip', '3']); });
  after(async () => {
    for (const ws of open) ws.terminate();
    if (srv) await srv.stop();
  });

  // Resolves 'open' or the status the upgrade was answered with.
  function ws(cookie, localAddress) {
    return new Promise(resolve => {
      const w = new WebSocket(srv.url.replace(/^http/, 'ws') + '/ws', {
        headers: { Cookie: `${COOKIE}=${cookie}` }, origin: srv.origin, localAddress, perMessageDeflate: false,
      });
      open.push(w);
      w.once('open', () => resolve({ status: 'open', w }));
      w.once('unexpected-response', (req, res) => {
        let body = '';
        res.on('data', d => { body += d; });
        res.on('end', () => resolve({ status: res.statusCode, body }));
      });
      w.once('error', e => resolve({ status: e.message }));
    });
  }

  test('the fourth page from one address is refused with 429 until one closes; another address is served', async () => {
    const u = await signup(srv);
    const first = [];
    for (let i = 0; i < 3; i++) {
      const r = await ws(u.cookie, '127.0.0.1');
      assert.equal(r.status, 'open', `page ${i + 1}`);
      first.push(r.w);
    }
    const fourth = await ws(u.cookie, '127.0.0.1');
    assert.equal(fourth.status, 429);
    assert.equal(JSON.parse(fourth.body).error, 'too_many_connections');
    const other = await ws(u.cookie, '127.0.0.2');
    assert.equal(other.status, 'open', 'another address');
    first[0].close();
    let again;
    for (let i = 0; i < 50; i++) {
      again = await ws(u.cookie, '127.0.0.1');
      if (again.status === 'open') break;
      await sleep(100);
    }
    assert.equal(again.status, 'open', 'a page again once one closed');
  });
});
