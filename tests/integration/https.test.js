// Native HTTPS (docs/configuration.md: tls-cert, tls-key, http-listen):
// certificates made by the test with Debian's openssl; node's https, tls and
// the ws package as clients that trust only them. What a user meets: pages
// and the API over HTTPS with HSTS, plain HTTP sent to HTTPS, the session
// cookie Secure and host-bound, WebSockets over wss, a renewed certificate
// picked up on SIGHUP without dropping open connections, a broken one
// refused with the old one kept, and a bad setting stopping the start.
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const tls = require('node:tls');
const WebSocket = require('ws');
const { startOnair, freePort, BIN } = require('../lib/server.js');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-https-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

// A self-signed certificate for localhost and 127.0.0.1; returns its paths.
function makeCert(name, days) {
  const cert = path.join(dir, name + '.pem');
  const key = path.join(dir, name + '.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-keyout', key, '-out', cert, '-days', String(days), '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'pipe' });
  return { cert, key, pem: fs.readFileSync(cert) };
}

// The certificate a new TLS connection is shown (sha-256 fingerprint), with
// the client trusting only ca.
function servedFingerprint(port, ca) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.end();
      resolve(fp);
    });
    s.on('error', reject);
  });
}

function fingerprintOf(pem) {
  return new (require('node:crypto').X509Certificate)(pem).fingerprint256;
}

// One HTTPS request; resolves { status, headers, body, socket }.
function get(url, opts = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: opts.method || 'GET', headers: opts.headers || {},
      ca: opts.ca, agent: opts.agent, servername: 'localhost' }, res => {
      let body = '';
      const socket = res.socket;
      const protocol = socket.getProtocol();
      res.on('data', d => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body, socket, protocol }));
    });
    req.on('error', reject);
    if (opts.body) req.write(opts.body);
    req.end();
  });
}

function plainGet(port, path, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'GET', headers, agent: false }, res => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitForLog(srv, re, what) {
  for (let i = 0; i < 100; i++) {
    if (re.test(srv.log())) return;
    await new Promise(r => setTimeout(r, 50));
  }
  assert.fail(`${what}: not in the log:\n${srv.log()}`);
}

describe('HTTPS with a certificate of the operator\'s', { timeout: 120000 }, () => {
  let a, b, live, srv, port, redirectPort, base;
  before(async () => {
    a = makeCert('a', 30);
    b = makeCert('b', 90);
    live = { cert: path.join(dir, 'live.pem'), key: path.join(dir, 'live.key') };
    fs.copyFileSync(a.cert, live.cert);
    fs.copyFileSync(a.key, live.key);
    port = await freePort();
    redirectPort = await freePort();
    base = `https://localhost:${port}`;
    srv = await startOnair(['--tls-cert', live.cert, '--tls-key', live.key,
      '--http-listen', `127.0.0.1:${redirectPort}`], { port });
  });
  after(async () => { if (srv) await srv.stop(); });

  test('pages over HTTPS, with HSTS; plain HTTP on the HTTPS port is refused', async () => {
    const res = await get(base + '/', { ca: a.pem });
    assert.equal(res.status, 200);
    assert.match(res.body, /<html/i);
    assert.equal(res.headers['strict-transport-security'], 'max-age=31536000');
    assert.ok(['TLSv1.3', 'TLSv1.2'].includes(res.protocol), res.protocol);
    assert.equal(await servedFingerprint(port, a.pem), fingerprintOf(a.pem));
    await assert.rejects(plainGet(port, '/', {}), 'a plain HTTP request gets no HTTP answer');
    assert.equal((await get(base + '/api/auth', { ca: a.pem })).status, 200, 'still serving');
  });

  test('the plain HTTP listener sends every request to the same place on HTTPS', async () => {
    const r = await plainGet(redirectPort, '/view/bob?from=link', { Host: `live.example:${redirectPort}` });
    assert.equal(r.status, 308);
    assert.equal(r.headers.location, `https://live.example:${port}/view/bob?from=link`);
    assert.equal(r.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP');
    const v6 = await plainGet(redirectPort, '/', { Host: '[::1]:80' });
    assert.equal(v6.headers.location, `https://[::1]:${port}/`);
    const bad = await plainGet(redirectPort, '/', { Host: 'evil.example/x@y' });
    assert.equal(bad.status, 400);
  });

  test('sign-up over HTTPS: the cookie is Secure and __Host-; the WebSocket is wss', async () => {
    const body = JSON.stringify({ username: 'tess', password: 'correct horse battery' });
    const res = await get(base + '/api/signup', { method: 'POST', ca: a.pem, body,
      headers: { 'Content-Type': 'application/json', Origin: base, 'Content-Length': Buffer.byteLength(body) } });
    assert.equal(res.status, 201, res.body);
    const cookie = res.headers['set-cookie'][0];
    assert.match(cookie, /^__Host-onair_session=[^;]+;/);
    assert.match(cookie, /; Secure/);
    assert.match(cookie, /; Path=\//);
    const session = cookie.split(';')[0];
    const ws = new WebSocket(`wss://localhost:${port}/ws`, { ca: a.pem, headers: { Cookie: session }, origin: base });
    const hello = await new Promise((resolve, reject) => {
      ws.once('message', m => resolve(JSON.parse(m.toString())));
      ws.once('error', reject);
    });
    assert.equal(hello.type, 'hello');
    assert.equal(hello.user, 'tess');
    ws.close();
  });

  test('SIGHUP: a renewed certificate for new connections, open ones keep going', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: a.pem });
    const first = await get(base + '/api/auth', { agent });
    assert.equal(first.status, 200);
    fs.copyFileSync(b.cert, live.cert);
    fs.copyFileSync(b.key, live.key);
    srv.proc.kill('SIGHUP');
    await waitForLog(srv, /certificate reloaded/, 'the reload');
    assert.equal(await servedFingerprint(port, b.pem), fingerprintOf(b.pem), 'new connections get b');
    const again = await get(base + '/api/auth', { agent });
    assert.equal(again.status, 200);
    assert.equal(again.socket, first.socket, 'the kept-alive connection (on a) still answers');
    agent.destroy();

    // Broken files: refused, said why, b stays.
    fs.writeFileSync(live.cert, 'not a certificate\n');
    srv.proc.kill('SIGHUP');
    await waitForLog(srv, /keeping the current certificate.*live\.pem/, 'the refusal');
    assert.equal(await servedFingerprint(port, b.pem), fingerprintOf(b.pem), 'b is still served');
    assert.ok(srv.alive());
  });
});

describe('bad TLS settings stop the start with the reason', { timeout: 60000 }, () => {
  const cases = [
    ['a certificate file that does not exist', ['--tls-cert', '/nonexistent/cert.pem', '--tls-key', '/nonexistent/key.pem'], /cannot read the certificate \/nonexistent\/cert\.pem/],
    ['tls-cert without tls-key', () => ['--tls-cert', makeCert('nokey', 1).cert], /tls-key is not/],
    ['a key of another certificate', () => ['--tls-cert', makeCert('c1', 1).cert, '--tls-key', makeCert('c2', 1).key], /does not match/],
  ];
  for (const [what, args, re] of cases) {
    test(what, async () => {
      const port = await freePort();
      const r = spawnSync(BIN, ['--listen', `127.0.0.1:${port}`, '--data', path.join(dir, 'data-' + port),
        ...(typeof args === 'function' ? args() : args)], { encoding: 'utf8', timeout: 20000 });
      assert.equal(r.status, 1, `exit code 1: ${r.stderr}`);
      assert.match(r.stderr, re);
    });
  }
});
