// onair behind a real nginx with TLS at nginx (docs/operations.md, "behind
// a proxy"): Chromium reaches https://localhost:<nginx> only; the pages, the
// API and the WebSocket go through nginx, the media straight to onair's UDP
// port. The broadcaster goes live, a viewer watches, they chat; onair was
// told its public URL (base-url) and that nginx is a trusted proxy.
//
// Run inside a network namespace so WebRTC stays on loopback:
//   tests/e2e/in-netns.sh node --test tests/e2e/nginx.test.js
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
const { startNginx } = require('../lib/nginx.js');
const {
  CHROMIUM, BROWSER_ARGS, PASSWORD, eventually, initScript, watchPage, goLive, assertPlays,
} = require('../lib/media-e2e.js');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-e2e-nginx-'));
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

function signUp(url, name, ca) {
  const body = JSON.stringify({ username: name, password: PASSWORD });
  return new Promise((resolve, reject) => {
    const req = https.request(url + '/api/signup', {
      method: 'POST', ca,
      headers: { 'Content-Type': 'application/json', Origin: url, 'Content-Length': Buffer.byteLength(body) },
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

describe('behind nginx', { timeout: 150000 }, () => {
  let srv, nginx, browser, cert, site;
  const errors = [];
  let bc, viewer;
  const step = stepper({ server: () => srv, timeoutMs: 45000,
    onFail: async t => { if (nginx) t.diagnostic('nginx log:\n' + nginx.log().slice(-3000)); } });

  async function user(name) {
    const cookie = await signUp(site.url, name, cert.pem);
    const context = await browser.newContext({ viewport: { width: 960, height: 640 } });
    await context.addCookies([{ name: '__Host-onair_session', value: cookie, url: site.url, secure: true }]);
    await context.addInitScript(initScript);
    return { name, context, page: watchPage(await context.newPage(), name, errors) };
  }

  before(async () => {
    cert = makeCert();
    const nginxPort = await freePort();
    srv = await startOnair(['--base-url', `https://localhost:${nginxPort}`, '--trusted-proxies', '127.0.0.1']);
    nginx = await startNginx({ port: nginxPort, upstream: `127.0.0.1:${srv.port}`, cert: cert.cert, key: cert.key });
    site = { url: nginx.url, origin: nginx.url };
    browser = await chromium.launch({ executablePath: CHROMIUM,
      args: [...BROWSER_ARGS, `--ignore-certificate-errors-spki-list=${cert.spki}`] });
  });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (nginx) await nginx.stop();
    if (srv) await srv.stop();
  });

  step('the broadcaster goes live through nginx', async () => {
    bc = await user('nina');
    await goLive(bc.page, site, 'behind nginx');
    const ws = await bc.page.evaluate(() => window.__onairTest.ws && window.__onairTest.ws.url);
    assert.equal(ws, `${site.url.replace('https', 'wss')}/ws`);
    await eventually(() => /"GET \/broadcast HTTP\/1\.1" 200 /.test(nginx.accessLog()), 'nginx to have served the page');
  });

  step('a viewer watches and they chat', async () => {
    viewer = await user('nils');
    await viewer.page.goto(`${site.url}/view/${bc.name}`);
    await assertPlays(viewer.page, 'the viewer behind nginx');
    await viewer.page.locator('.chat-input').fill('hello through nginx');
    await viewer.page.locator('.chat-send').click();
    for (const p of [bc.page, viewer.page]) {
      await eventually(async () => (await p.$$eval('.chat-list .chat-text', r => r.map(x => x.textContent)))
        .includes('hello through nginx'), 'the chat message on both pages');
    }
  });

  step('no page errors; onair still runs; the WebSockets went through nginx', async () => {
    assert.deepEqual(errors, []);
    assert.ok(srv.alive());
    await viewer.context.close(); // nginx logs a WebSocket when it ends
    await eventually(() => /"GET \/ws HTTP\/1\.1" 101 /.test(nginx.accessLog()),
      'nginx\'s log of the viewer\'s WebSocket (101)');
  });
});
