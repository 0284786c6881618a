// End-to-end "Sign in with <provider>" in Debian's chromium: a real OpenID
// provider (npm oidc-provider, tests/lib/oidc-provider.js) and onair, both on
// 127.0.0.1. A person clicks "Sign in with TestOP" on the front page, signs in
// on the provider's own page, lands on the dashboard, goes live with the fake
// camera, and signs out; the old session cookie is then refused and the
// provider's session is over too (RP-initiated logout).
//
// Run inside a network namespace, like the other browser test:
//   tests/e2e/in-netns.sh node --test tests/e2e/oidc.test.js
// Env: ONAIR_BIN, ONAIR_WEB (see tests/lib/server.js); ONAIR_E2E_SHOTS=<dir>
// saves screenshots.
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { stepper } = require('../lib/steps.js');
const { startOnair, freePort } = require('../lib/server.js');
const { startProvider, CLIENT_ID, CLIENT_SECRET } = require('../lib/oidc-provider.js');

// Debian's chromium and the flags that keep it on the test's own network.
const { CHROMIUM, QUIET_ARGS, FAKE_CAMERA, FAKE_UI, eventually } = require('../lib/media-e2e.js');
const SHOTS = process.env.ONAIR_E2E_SHOTS || '';
const OP_NAME = 'TestOP';

const STEP_MS = 60000;
const WAIT_MS = 15000;


async function shot(page, name) {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `oidc-${name}.png`) });
}

// A JSON API call from node (not the browser) with a given session cookie.
async function api(srv, method, p, cookie, body) {
  const headers = {};
  if (cookie) headers.Cookie = `onair_session=${cookie}`;
  if (method === 'POST') headers.Origin = srv.origin;
  if (body) headers['Content-Type'] = 'application/json';
  const res = await fetch(srv.url + p, { method, headers, body: body && JSON.stringify(body), redirect: 'manual' });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text, headers: res.headers };
}

describe('Sign in with an OpenID provider, in the browser', { timeout: 170000 }, () => {
  let op, srv, browser, context, page;
  const pageErrors = [];

  const step = stepper({ server: () => srv, timeoutMs: STEP_MS, onFail: async t => {
      if (page) t.diagnostic('page: ' + page.url());
      if (SHOTS && page) await page.screenshot({ path: path.join(SHOTS, 'oidc-fail.png') });
    } });

  before(async () => {
    const port = await freePort();
    const url = 'http://127.0.0.1:' + port;
    op = await startProvider({ onairUrl: url });
    srv = await startOnair(['--oidc-issuer', op.issuer, '--oidc-client-id', CLIENT_ID,
      '--oidc-client-secret', CLIENT_SECRET, '--oidc-name', OP_NAME], { port });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...QUIET_ARGS, FAKE_CAMERA, FAKE_UI] });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    // Errors on onair's own pages count (the provider's pages are its own
    // business: they fetch web fonts that the test network does not have).
    page.on('pageerror', e => { if (page.url().startsWith(srv.url)) pageErrors.push(`${page.url()}: ${e.message}`); });
    page.on('console', m => {
      if (page.url().startsWith(srv.url) && m.type() === 'error' && /Content[- ]Security[- ]Policy/i.test(m.text())) pageErrors.push(`CSP: ${m.text()}`);
    });
    page.on('dialog', d => { pageErrors.push(`dialog: ${d.message()}`); d.dismiss().catch(() => {}); });
  });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (srv) await srv.stop();
    if (op) await op.stop();
  });

  let name, oldCookie;

  step('1. the front page offers "Sign in with TestOP"; it leads to the provider\'s sign-in page', async () => {
    await page.goto(srv.url + '/');
    const button = page.getByRole('link', { name: `Sign in with ${OP_NAME}` });
    await button.waitFor({ state: 'visible', timeout: WAIT_MS });
    await shot(page, 'front');
    await button.click();
    await page.waitForURL(u => u.href.startsWith(op.issuer + '/interaction/'), { timeout: WAIT_MS });
    await page.locator('input[name=login]').waitFor({ state: 'visible', timeout: WAIT_MS });
    await shot(page, 'provider-login');
  });

  step('2. signing in at the provider lands on the dashboard, named from the ID token', async () => {
    await page.locator('input[name=login]').fill('ada');
    await page.locator('input[name=password]').fill('whatever the provider wants');
    await page.locator('button[type=submit]').click();
    await page.waitForURL(u => u.href === srv.url + '/dashboard', { timeout: WAIT_MS });
    const me = page.locator('#me');
    await eventually(async () => /^Ada[_-]?Lovelace$/.test((await me.textContent()) || ''), 'the dashboard shows Ada\'s name');
    name = (await me.textContent()).trim();
    const cookies = await context.cookies(srv.url);
    oldCookie = (cookies.find(c => c.name === 'onair_session') || {}).value;
    assert.ok(oldCookie, 'a session cookie');
    assert.equal(cookies.find(c => c.name === 'onair_session').httpOnly, true);
    assert.equal((await api(srv, 'GET', '/api/me', oldCookie)).json.user.name, name);
    await shot(page, 'dashboard');
  });

  step('3. the provider-made user goes live from /broadcast', async () => {
    await page.goto(srv.url + '/broadcast');
    await eventually(() => page.evaluate(() => document.querySelector('#preview').videoWidth > 0), 'the preview shows the camera');
    const goLive = page.locator('#golive');
    await eventually(() => goLive.isEnabled(), '"Go live" to be enabled');
    await page.locator('#room-title').fill('Signed in with OIDC');
    await goLive.click();
    await page.locator('#live-info').waitFor({ state: 'visible', timeout: WAIT_MS });
    assert.equal(await page.locator('#room-link').textContent(), `${srv.url}/view/${name}`);
    const rooms = await api(srv, 'GET', '/api/rooms', oldCookie);
    assert.equal(rooms.status, 200);
    const room = rooms.json.rooms.find(r => r.name === name);
    assert.ok(room, `the room is live: ${rooms.text}`);
    assert.equal(room.broadcaster, name);
    assert.equal(room.title, 'Signed in with OIDC');
    await shot(page, 'live');
  });

  step('4. signing out ends the onair session and, at the provider, its session too', async () => {
    await page.locator('#signout').click();
    // RP-initiated logout: the provider asks to confirm.
    await page.waitForURL(u => u.href.startsWith(op.issuer + '/session/end'), { timeout: WAIT_MS });
    const u = new URL(page.url());
    assert.ok(u.searchParams.get('id_token_hint'), 'id_token_hint');
    assert.equal(u.searchParams.get('post_logout_redirect_uri'), srv.url + '/');
    await shot(page, 'provider-logout');
    await page.getByRole('button', { name: /yes, sign me out/i }).click();
    await page.waitForURL(v => v.href === srv.url + '/' || v.href.startsWith(srv.url + '/?'), { timeout: WAIT_MS });
    await page.locator('#signin').waitFor({ state: 'visible', timeout: WAIT_MS });
    await shot(page, 'signed-out');

    // The old cookie is refused, and the broadcast ended with the session.
    const meOld = await api(srv, 'GET', '/api/me', oldCookie);
    assert.equal(meOld.status, 401);
    assert.equal(meOld.json.error, 'signed_out');
    assert.equal((await context.cookies(srv.url)).find(c => c.name === 'onair_session'), undefined, 'the browser has no session cookie');
    await page.goto(srv.url + '/dashboard');
    await page.locator('#signin').waitFor({ state: 'visible', timeout: WAIT_MS });

    // The provider session is over: the button leads to its login page again.
    await page.goto(srv.url + '/');
    await page.getByRole('link', { name: `Sign in with ${OP_NAME}` }).click();
    await page.waitForURL(v => v.href.startsWith(op.issuer + '/interaction/'), { timeout: WAIT_MS });
    await page.locator('input[name=login]').waitFor({ state: 'visible', timeout: WAIT_MS });
  });

  step('5. the room ended with the sign-out', async () => {
    // Someone else (a local account) sees no live room.
    const su = await api(srv, 'POST', '/api/signup', null, { username: 'watcher', password: 'correct horse battery' });
    assert.equal(su.status, 201, su.text);
    const cookie = /onair_session=([^;]+)/.exec(su.headers.get('set-cookie'))[1];
    await eventually(async () => {
      const r = await api(srv, 'GET', '/api/rooms', cookie);
      return r.status === 200 && !r.json.rooms.some(x => x.name === name);
    }, 'the room to end after sign-out');
  });

  step('6. with the provider down, the front page says so plainly and local sign-up still works', async () => {
    const deadPort = await freePort();
    const down = await startOnair(['--oidc-issuer', `http://127.0.0.1:${deadPort}`, '--oidc-client-id', CLIENT_ID,
      '--oidc-client-secret', CLIENT_SECRET, '--oidc-name', OP_NAME]);
    const ctx2 = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const p = await ctx2.newPage();
      p.on('pageerror', e => pageErrors.push(`down: ${e.message}`));
      await p.goto(down.url + '/');
      const note = p.locator('.provider-down, [role=alert]').filter({ hasText: OP_NAME });
      await note.waitFor({ state: 'visible', timeout: WAIT_MS });
      assert.match(await note.textContent(), /unavailable|not available|down|did not answer/i);
      assert.equal(await p.getByRole('link', { name: `Sign in with ${OP_NAME}` }).count(), 0, 'no button that cannot work');
      await shot(p, 'provider-down');
      // The start URL itself answers with a page that says why.
      const res = await p.goto(down.url + '/auth/oidc/start');
      assert.equal(res.status(), 503);
      assert.match(await p.locator('main').textContent(), new RegExp(OP_NAME));
      // A local account works as before.
      await p.goto(down.url + '/');
      await p.locator('#tab-signup').click();
      await p.locator('#signup-username').fill('localuser');
      await p.locator('#signup-password').fill('correct horse battery');
      await p.locator('#signup button[type=submit]').click();
      await p.waitForURL(/\/dashboard$/, { timeout: WAIT_MS });
      await p.locator('#me').filter({ hasText: 'localuser' }).waitFor({ timeout: WAIT_MS });
    } finally {
      await ctx2.close().catch(() => {});
      await down.stop();
    }
  });

  step('7. a refused sign-in shows a page that says what went wrong, in the browser', async () => {
    const res = await page.goto(srv.url + '/authorization-code/callback?code=abc&state=not-a-state');
    assert.equal(res.status(), 400);
    const box = page.locator('[data-error]');
    assert.equal(await box.first().getAttribute('data-error'), 'bad_state');
    assert.ok(((await page.locator('main').textContent()) || '').trim().length > 10, 'the page has words for a person');
    assert.equal((await context.cookies(srv.url)).find(c => c.name === 'onair_session'), undefined, 'no session');
    await shot(page, 'refused');
  });

  step('no page errors, CSP violations or dialogs on onair\'s pages', async () => {
    assert.deepEqual(pageErrors, []);
  });
});
