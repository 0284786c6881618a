// Automatic HTTPS (tls-domain, docs/operations.md) against Debian's pebble,
// a real ACME server, started here on 127.0.0.1 (tests/lib/pebble.js) with
// real HTTP-01 validation: pebble resolves the name to 127.0.0.1 and fetches
// the challenge from onair's plain HTTP listener. Pebble issues certificates
// valid for VALIDITY_S seconds, so that onair (renewing a certificate this
// short-lived when a third of its validity is left) renews within the test.
// What a user would check:
// - before a certificate exists HTTPS refuses connections and plain HTTP
//   says 503; an unreachable CA is logged and retried, onair keeps serving;
// - onair obtains a certificate and serves HTTPS with it: curl and node,
//   trusting only pebble's root, accept the chain for the name;
// - the account key and the certificate's key are in data/acme, mode 0600;
// - a restart serves the stored certificate at once and orders nothing;
// - renewal: a new certificate is served to new connections while an open
//   keep-alive connection goes on;
// - with pebble stopped, renewal fails: the old certificate stays and
//   /metrics counts the failure.
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const tls = require('node:tls');
const { startOnair, freePort, BIN } = require('../lib/server.js');
const { startPebble } = require('../lib/pebble.js');
const { eventually, sleep } = require('../lib/media-e2e.js');

const DOMAIN = 'live.onair.test';
const VALIDITY_S = 75; // renewal due 50 s after issuance (a third left)

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-acme-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

// A TLS connection to onair for DOMAIN; resolves the certificate it was
// shown (and whether it verified against ca), or rejects when refused.
function handshake(port, ca) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: DOMAIN, ca, rejectUnauthorized: false }, () => {
      const cert = s.getPeerCertificate(true);
      const r = { fingerprint: cert.fingerprint256, authorized: s.authorized, error: s.authorizationError,
        issuer: cert.issuer && cert.issuer.CN, validTo: new Date(cert.valid_to) };
      s.end();
      resolve(r);
    });
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error('handshake timed out')));
  });
}

// GET over HTTPS for DOMAIN; resolves { status, headers, body, socket,
// fingerprint (of the certificate the connection was shown) }.
function get(port, p, ca, agent) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: p, servername: DOMAIN, ca, agent,
      headers: { Host: `${DOMAIN}:${port}` } }, res => {
      let body = '';
      const socket = res.socket; // kept: a kept-alive one goes back to the agent at the end
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      res.on('data', d => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body, socket, fingerprint }));
    });
    req.on('error', reject);
    req.end();
  });
}

function plainGet(port, p) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p, headers: { Host: DOMAIN }, agent: false }, res => {
      let body = '';
      res.on('data', d => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    }).on('error', reject);
  });
}

function metric(text, name) {
  const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : undefined;
}

function mode(p) { return fs.statSync(p).mode & 0o777; }

function fingerprintOfFile(p) {
  return new crypto.X509Certificate(fs.readFileSync(p)).fingerprint256;
}

describe('automatic HTTPS from an ACME server (pebble)', { timeout: 280000 }, () => {
  let pebble, root, srv, port, httpPort, args, acme;
  before(async () => {
    httpPort = await freePort();
    port = await freePort();
    pebble = await startPebble({ httpPort, validitySeconds: VALIDITY_S, env: { PEBBLE_AUTHZREUSE: '0' } });
    root = await pebble.root();
    fs.writeFileSync(path.join(tmp, 'root.pem'), root);
    args = ['--http-listen', `127.0.0.1:${httpPort}`, '--tls-domain', DOMAIN, '--tls-email', 'ops@onair.test',
      '--acme-directory', pebble.directory, '--acme-ca-file', pebble.caFile];
  });
  after(async () => {
    if (srv) await srv.stop();
    if (pebble) { await pebble.stop(); pebble.cleanup(); }
  });

  test('obtains a certificate by HTTP-01 and serves HTTPS with it', async () => {
    srv = await startOnair(args, { port });
    acme = path.join(srv.dataDir, 'acme');
    const served = await eventually(async () => {
      const h = await handshake(port, root);
      return h.authorized ? h : null;
    }, 'a certificate served', 60000);
    assert.match(served.issuer, /Pebble Intermediate CA/);
    assert.ok(pebble.validations() >= 1, 'pebble fetched the challenge from onair:\n' + pebble.log());
    assert.match(pebble.log(), new RegExp(`Attempting to validate w/ HTTP: http://${DOMAIN.replace(/\./g, '\\.')}:${httpPort}/\\.well-known/acme-challenge/`));
    assert.equal(pebble.orders(), 1);
    // curl, trusting pebble's root alone, for the name.
    const curl = spawnSync('curl', ['-sS', '--fail', '--cacert', path.join(tmp, 'root.pem'),
      '--resolve', `${DOMAIN}:${port}:127.0.0.1`, `https://${DOMAIN}:${port}/healthz`], { encoding: 'utf8' });
    assert.equal(curl.status, 0, curl.stderr);
    assert.equal(curl.stdout, 'ok\n');
    // The state in data/acme.
    assert.equal(mode(acme), 0o700);
    assert.equal(mode(path.join(acme, 'account.key')), 0o600);
    assert.match(fs.readFileSync(path.join(acme, 'account.key'), 'utf8'), /BEGIN PRIVATE KEY/);
    const account = JSON.parse(fs.readFileSync(path.join(acme, 'account.json'), 'utf8'));
    assert.equal(account.directory, pebble.directory);
    assert.match(account.url, /^https:\/\/127\.0\.0\.1:\d+\//);
    assert.equal(mode(path.join(acme, DOMAIN, 'key.pem')), 0o600);
    assert.equal(fingerprintOfFile(path.join(acme, DOMAIN, 'cert.pem')), served.fingerprint);
    assert.equal(fs.readdirSync(path.join(acme, DOMAIN)).sort().join(','), 'cert.pem,key.pem');
    // /metrics.
    const m = (await get(port, '/metrics', root)).body;
    const promtool = spawnSync('/usr/bin/promtool', ['check', 'metrics'], { input: m, encoding: 'utf8' });
    assert.equal(promtool.status, 0, promtool.stdout + promtool.stderr);
    assert.equal(metric(m, 'onair_acme_certificates_obtained_total'), 1);
    assert.equal(metric(m, 'onair_acme_renewal_failures_total'), 0);
    assert.equal(metric(m, 'onair_tls_certificate_expiry_timestamp_seconds'), served.validTo.getTime() / 1000);
    assert.ok(Math.abs(metric(m, 'onair_acme_last_success_timestamp_seconds') - Date.now() / 1000) < 60);
    // The plain listener sends people to HTTPS.
    const r = await plainGet(httpPort, '/view/bob');
    assert.equal(r.status, 308);
    assert.equal(r.headers.location, `https://${DOMAIN}:${port}/view/bob`);
    // Challenges are answered on both listeners; a token not in flight is
    // not found (the route's own answer, not the site's 404).
    const unknown = '/.well-known/acme-challenge/AAAAAAAAAAAAAAAAAAAAAA';
    for (const r of [await plainGet(httpPort, unknown), await get(port, unknown, root)]) {
      assert.equal(r.status, 404);
      assert.match(r.body, /No such challenge/);
    }
    assert.notEqual((await plainGet(httpPort, '/.well-known/acme-challenge/../../etc/passwd')).status, 200);
  });

  test('a restart serves the stored certificate and orders nothing', async () => {
    const before = fingerprintOfFile(path.join(acme, DOMAIN, 'cert.pem'));
    const accountBefore = fs.readFileSync(path.join(acme, 'account.json'), 'utf8');
    const orders = pebble.orders();
    await srv.stop();
    srv = await startOnair(args, { port, dataDir: srv.dataDir });
    const h = await handshake(port, root); // at once: no waiting for the CA
    assert.ok(h.authorized, h.error);
    assert.equal(h.fingerprint, before);
    await sleep(2000);
    assert.equal(pebble.orders(), orders, 'no new order');
    assert.equal(fs.readFileSync(path.join(acme, 'account.json'), 'utf8'), accountBefore);
    assert.match(srv.log(), /acme: serving the stored certificate" names=live\.onair\.test/);
    assert.doesNotMatch(srv.log(), /new account key|asking for a certificate/);
  });

  test('renews when the validity left is short: new connections get the new certificate, an open one goes on', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: root });
    const first = await get(port, '/healthz', root, agent);
    assert.equal(first.status, 200);
    const old = first.fingerprint;
    const orders = pebble.orders();
    // Meanwhile the open connection is used now and then (an idle one is
    // closed after 30 s): the same socket throughout.
    const renewed = await eventually(async () => {
      const k = await get(port, '/healthz', root, agent);
      assert.equal(k.socket, first.socket, 'the kept-alive connection went on');
      const h = await handshake(port, root);
      return h.fingerprint !== old && h.authorized ? h : null;
    }, 'a renewed certificate', 90000);
    assert.equal(pebble.orders(), orders + 1);
    assert.equal(fingerprintOfFile(path.join(acme, DOMAIN, 'cert.pem')), renewed.fingerprint);
    const again = await get(port, '/healthz', root, agent);
    assert.equal(again.status, 200);
    assert.equal(again.socket, first.socket, 'the kept-alive connection still answers');
    assert.equal(again.fingerprint, old, 'with the certificate it began with');
    agent.destroy();
    const m = (await get(port, '/metrics', root)).body;
    assert.equal(metric(m, 'onair_acme_certificates_obtained_total'), 1);
    assert.match(srv.log(), /acme: new certificate in use" names=live\.onair\.test/);
  });

  test('renewal fails with the CA gone: the old certificate stays, the failure is counted', async () => {
    const served = (await handshake(port, root)).fingerprint;
    await pebble.stop();
    const m = await eventually(async () => {
      const text = (await get(port, '/metrics', root)).body;
      return metric(text, 'onair_acme_renewal_failures_total') >= 1 ? text : null;
    }, 'a counted failure', 90000);
    assert.equal(metric(m, 'onair_acme_certificates_obtained_total'), 1);
    assert.ok(metric(m, 'onair_acme_next_check_timestamp_seconds') > Date.now() / 1000, 'a retry is planned');
    const h = await handshake(port, root);
    assert.equal(h.fingerprint, served);
    assert.match(srv.log(), /acme: could not get a certificate" names=live\.onair\.test error="directory https:[^"]*" served="the current one, kept" retry_s=60/);
    assert.ok(srv.alive());
  });
});

describe('before the first certificate', { timeout: 60000 }, () => {
  test('HTTPS refuses, plain HTTP says 503, an unreachable CA is logged and tried again', async () => {
    const httpPort = await freePort();
    const dead = await freePort();
    const srv = await startOnair(['--http-listen', `127.0.0.1:${httpPort}`, '--tls-domain', DOMAIN,
      '--acme-directory', `https://127.0.0.1:${dead}/dir`]);
    try {
      await eventually(() => /acme: could not get a certificate" names=live\.onair\.test error="directory https:\/\/127\.0\.0\.1:\d+\/dir: [^"]+" served="none: HTTPS waits" retry_s=60/.test(srv.log()), 'the failure logged', 20000);
      await assert.rejects(handshake(srv.port), 'no certificate: the connection is refused');
      const r = await plainGet(httpPort, '/');
      assert.equal(r.status, 503);
      assert.equal(r.headers['retry-after'], '30');
      assert.match(JSON.parse(r.body).message, /getting its HTTPS certificate/);
      assert.ok(srv.alive());
    } finally {
      await srv.stop();
    }
  });
});

describe('ACME settings that cannot work stop the start with the reason', { timeout: 60000 }, () => {
  const cases = [
    ['tls-domain with tls-cert', ['--tls-domain', DOMAIN, '--tls-cert', '/etc/x.pem', '--tls-key', '/etc/x.key'], 1, /tls-domain gets its certificate itself/],
    ['a wildcard', ['--tls-domain', '*.onair.test'], 2, /tls-domain/],
    ['an http directory', ['--tls-domain', DOMAIN, '--acme-directory', 'http://ca.example/dir'], 2, /acme-directory/],
    ['not an e-mail address', ['--tls-domain', DOMAIN, '--tls-email', 'ops'], 2, /tls-email/],
  ];
  for (const [what, extra, code, re] of cases) {
    test(what, async () => {
      const port = await freePort();
      const r = spawnSync(BIN, ['--listen', `127.0.0.1:${port}`, '--data', path.join(tmp, 'data-' + port),
        '--http-listen', `127.0.0.1:${await freePort()}`, ...extra], { encoding: 'utf8', timeout: 20000 });
      assert.equal(r.status, code, r.stderr);
      assert.match(r.stderr, re);
    });
  }
});
