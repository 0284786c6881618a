// Chromium over https://localhost with onair's own TLS (tls-cert, tls-key):
// a certificate made by the test with Debian's openssl, trusted by this
// Chromium through its SPKI hash (no certificate error is ignored beyond that
// one key). The broadcaster goes live from the camera (which browsers allow
// only on secure pages), a viewer watches through the SFU and they chat, all
// over HTTPS and wss.
//
// Run inside a network namespace so WebRTC stays on loopback:
//   tests/e2e/in-netns.sh node --test tests/e2e/https.test.js
'use strict';
const { describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { stepper } = require('../lib/steps.js');
const { startOnair, freePort } = require('../lib/server.js');
const {
  CHROMIUM, BROWSER_ARGS, PASSWORD, eventually, initScript, watchPage, goLive, assertPlays,
} = require('../lib/media-e2e.js');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-e2e-https-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

function makeCert() {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'pipe' });
  const pem = fs.readFileSync(cert);
  const spki = new crypto.X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return { cert, key, pem, spki: crypto.createHash('sha256').update(spki).digest('base64') };
}

// Signs a user up over HTTPS (trusting only ca); returns the session cookie.
function signUp(srv, name, ca) {
  const body = JSON.stringify({ username: name, password: PASSWORD });
  return new Promise((resolve, reject) => {
    const req = https.request(srv.url + '/api/signup', {
      method: 'POST', ca,
      headers: { 'Content-Type': 'application/json', Origin: srv.origin, 'Content-Length': Buffer.byteLength(body) },
    }, res => {
      res.resume();
      const m = /__Host-onair_session=([^;]+)/.exec((res.headers['set-cookie'] || []).join('\n'));
      if (res.statusCode !== 201 || !m) reject(new Error(`sign-up of ${name}: ${res.statusCode}`));
      else resolve(m[1]);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('Chromium over HTTPS', { timeout: 150000 }, () => {
  let srv, browser, cert;
  const errors = [];
  let bc, viewer;
  const step = stepper({ server: () => srv, timeoutMs: 45000 });

  async function user(name) {
    const cookie = await signUp(srv, name, cert.pem);
    const context = await browser.newContext({ viewport: { width: 960, height: 640 } });
    await context.addCookies([{ name: '__Host-onair_session', value: cookie, url: srv.url, secure: true }]);
    await context.addInitScript(initScript);
    const page = watchPage(await context.newPage(), name, errors);
    return { name, context, page };
  }

  before(async () => {
    cert = makeCert();
    const port = await freePort();
    srv = await startOnair(['--tls-cert', cert.cert, '--tls-key', cert.key], { port });
    srv.url = srv.origin = `https://localhost:${port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM,
      args: [...BROWSER_ARGS, `--ignore-certificate-errors-spki-list=${cert.spki}`] });
  });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (srv) await srv.stop();
  });

  step('the broadcaster goes live from an https page, over wss', async () => {
    bc = await user('hanna');
    await goLive(bc.page, srv, 'over TLS');
    const where = await bc.page.evaluate(() => ({
      secure: window.isSecureContext, protocol: location.protocol,
      ws: window.__onairTest.ws && window.__onairTest.ws.url,
    }));
    assert.deepEqual(where, { secure: true, protocol: 'https:', ws: `${srv.url.replace('https', 'wss')}/ws` });
  });

  step('a viewer watches and they chat', async () => {
    viewer = await user('hugo');
    await viewer.page.goto(`${srv.url}/view/${bc.name}`);
    await assertPlays(viewer.page, 'the viewer over https');
    await viewer.page.locator('.chat-input').fill('hello over TLS');
    await viewer.page.locator('.chat-send').click();
    for (const p of [bc.page, viewer.page]) {
      await eventually(async () => (await p.$$eval('.chat-list .chat-text', r => r.map(x => x.textContent)))
        .includes('hello over TLS'), 'the chat message on both pages');
    }
  });

  step('no page errors or CSP violations', () => {
    assert.deepEqual(errors, []);
    assert.ok(srv.alive());
  });
});
