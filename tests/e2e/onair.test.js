// End-to-end: real onair, Debian's chromium through playwright-core, each user
// in their own browser context, checking what a user would see.
//
// Run inside a network namespace so WebRTC stays on loopback:
//   tests/e2e/in-netns.sh node --test tests/e2e/onair.test.js
// Env: ONAIR_BIN, ONAIR_WEB (see tests/lib/server.js); ONAIR_E2E_SHOTS=<dir>
// saves screenshots of the pages at desktop and phone width.
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');
const WebSocket = require('ws');
const { stepper } = require('../lib/steps.js');
const { startOnair } = require('../lib/server.js');

// Debian's chromium and the flags that keep it on the test's own network.
const { CHROMIUM, QUIET_ARGS, FAKE_CAMERA, FAKE_UI, eventually } = require('../lib/media-e2e.js');
const SHOTS = process.env.ONAIR_E2E_SHOTS || '';

const STEP_MS = 60000;
const WAIT_MS = 15000;

// ---- helpers ----------------------------------------------------------------


async function shot(page, name) {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  const size = page.viewportSize();
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(SHOTS, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize(size);
}

// Everything the chat panel on a page shows: [{ time, datetime, user, text }].
function chatRows(page) {
  return page.$$eval('.chat-list .chat-msg', rows => rows.map(r => ({
    time: (r.querySelector('.chat-time') || {}).textContent || '',
    datetime: (r.querySelector('.chat-time') || { getAttribute: () => '' }).getAttribute('datetime') || '',
    user: (r.querySelector('.chat-user') || {}).textContent || '',
    text: (r.querySelector('.chat-text') || {}).textContent || '',
  })));
}

async function waitForChat(page, user, text, label) {
  const row = await eventually(async () => (await chatRows(page)).find(r => r.user === user && r.text === text),
    `${label}: chat message from ${user}: ${JSON.stringify(text)}`);
  assert.match(row.time, /\d/, `${label}: the message shows a time`);
  assert.ok(!Number.isNaN(Date.parse(row.datetime)), `${label}: the time element has a datetime`);
  assert.ok(Math.abs(Date.parse(row.datetime) - Date.now()) < 5 * 60000, `${label}: the time is about now`);
  return row;
}

async function sendChat(page, text) {
  await page.locator('.chat-input').fill(text);
  await page.locator('.chat-send').click();
}

function videoStats(page) {
  return page.evaluate(() => window.onairDebug && window.onairDebug.videoStats());
}

// Waits until the page shows decoded video that keeps coming.
async function assertVideoPlays(page, label) {
  await eventually(() => page.evaluate(() => document.querySelector('video').videoWidth > 0),
    `${label}: <video> has a frame (videoWidth > 0)`, 30000);
  const first = await eventually(async () => {
    const s = await videoStats(page);
    return s && s.framesDecoded > 0 ? s : null;
  }, `${label}: inbound-rtp video framesDecoded > 0`, 30000);
  const second = await eventually(async () => {
    const s = await videoStats(page);
    return s && s.framesDecoded >= first.framesDecoded + 10 ? s : null;
  }, `${label}: framesDecoded keeps rising past ${first.framesDecoded + 10}`, 20000);
  assert.ok(second.frameWidth > 0, `${label}: decoded frames have a width`);
}

// Signs up through the front page's form, as a person would.
async function signUpWithForm(page, url, name, password) {
  await page.goto(url + '/');
  await page.locator('#tab-signup').click();
  await page.locator('#signup-username').fill(name);
  await page.locator('#signup-password').fill(password);
  await page.locator('#signup button[type=submit]').click();
}

// ---- the test ---------------------------------------------------------------

describe('onair in the browser', { timeout: 170000 }, () => {
  let srv;
  let browser;
  const extraBrowsers = [];
  const users = {}; // name -> { context, page }
  const pages = []; // every page, for the dialog/error checks
  const dialogs = [];
  const pageErrors = [];

  // Each step is a test; once one fails, the rest are skipped (they build on it).
  const step = stepper({ server: () => srv, timeoutMs: STEP_MS, onFail: async () => {
      if (!SHOTS) return;
      for (const [n, u] of Object.entries(users))
        for (const p of u.context.pages())
          await p.screenshot({ path: path.join(SHOTS, `fail-${n}-${pages.indexOf(p)}.png`) }).catch(() => {});
    } });

  function watch(page, who) {
    pages.push(page);
    page.on('dialog', d => { dialogs.push(`${who}: ${d.type()} ${d.message()}`); d.dismiss().catch(() => {}); });
    page.on('pageerror', e => pageErrors.push(`${who}: ${e.message}`));
    page.on('console', m => {
      if (m.type() === 'error' && /Content[- ]Security[- ]Policy/i.test(m.text())) pageErrors.push(`${who}: CSP: ${m.text()}`);
    });
    return page;
  }

  async function newUser(name) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = watch(await context.newPage(), name);
    users[name] = { context, page };
    return users[name];
  }

  async function newPage(name) {
    return watch(await users[name].context.newPage(), name);
  }

  before(async () => {
    srv = await startOnair();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...QUIET_ARGS, FAKE_CAMERA, FAKE_UI] });
  });

  after(async () => {
    for (const b of extraBrowsers) await b.close().catch(() => {});
    if (browser) await browser.close().catch(() => {});
    if (srv) await srv.stop();
  });

  const PASSWORD = 'correct horse battery';
  let aBroadcast, bDash, bView, cView, dView;

  step('1. users sign up through the front page', async () => {
    for (const name of ['alice', 'bob', 'carol', 'dave']) {
      const { page } = await newUser(name);
      await signUpWithForm(page, srv.url, name, PASSWORD);
      await page.waitForURL(/\/dashboard$/, { timeout: WAIT_MS });
      await page.locator('#me').filter({ hasText: name }).waitFor({ timeout: WAIT_MS });
    }
    // A taken name gets the server's message, plainly, and no navigation.
    const page = await newPage('dave');
    await page.context().clearCookies();
    await signUpWithForm(page, srv.url, 'alice', PASSWORD);
    const error = page.locator('#signup-error');
    await error.waitFor({ state: 'visible', timeout: WAIT_MS });
    assert.ok((await error.textContent()).trim().length > 0, 'the sign-up error says something');
    assert.match(page.url(), /\/$|\/\?/, 'still on the front page');
    await shot(page, 'index-error');
    await page.close();
    // dave's own session was cleared above; sign in again through the form.
    // The `next` parameter brings him back where he was going.
    const d = users.dave.page;
    await d.goto(srv.url + '/?next=' + encodeURIComponent('/dashboard?via=next'));
    await d.locator('#signin-username').fill('dave');
    await d.locator('#signin-password').fill(PASSWORD);
    await d.locator('#signin button[type=submit]').click();
    await d.waitForURL(/\/dashboard\?via=next$/, { timeout: WAIT_MS });
    await d.locator('#me').filter({ hasText: 'dave' }).waitFor({ timeout: WAIT_MS });
  });

  step('2. A sees the camera preview and goes live', async () => {
    bDash = users.bob.page; // bob's dashboard is open before alice goes live
    await bDash.locator('#empty').waitFor({ state: 'visible', timeout: WAIT_MS });
    await bDash.evaluate(() => { window.__noReload = true; });
    await shot(bDash, 'dashboard-empty');

    aBroadcast = users.alice.page;
    await aBroadcast.goto(srv.url + '/broadcast');
    await eventually(() => aBroadcast.evaluate(() => document.querySelector('#preview').videoWidth > 0),
      'the preview shows the camera');
    assert.ok(await aBroadcast.locator('#camera option').count() >= 1, 'the camera list is filled');
    const goLive = aBroadcast.locator('#golive');
    await eventually(() => goLive.isEnabled(), '"Go live" to be enabled');
    await aBroadcast.locator('#room-title').fill('Morning <b>coffee</b>');
    await goLive.click();
    await aBroadcast.locator('#live-info').waitFor({ state: 'visible', timeout: WAIT_MS });
    assert.equal(await aBroadcast.locator('#room-link').textContent(), `${srv.url}/view/alice`);
    await aBroadcast.locator('#end').waitFor({ state: 'visible', timeout: WAIT_MS });
  });

  step('3. B\'s dashboard shows A\'s room without a reload', async () => {
    const room = bDash.locator('li[data-room="alice"]');
    await room.waitFor({ state: 'visible', timeout: WAIT_MS });
    assert.match(await room.textContent(), /alice/);
    assert.equal(await room.locator('.room-title').textContent(), 'Morning <b>coffee</b>', 'the title shows as text');
    assert.equal(await bDash.locator('#empty').isVisible(), false, 'the empty state is gone');
    assert.equal(await bDash.evaluate(() => window.__noReload), true, 'the dashboard was not reloaded');
    await shot(bDash, 'dashboard-live');
  });

  step('4. B and C open A\'s room and decode video; counts update live', async () => {
    // carol follows the link on her dashboard
    const cDash = users.carol.page;
    const link = cDash.locator('li[data-room="alice"] a');
    await link.waitFor({ state: 'visible', timeout: WAIT_MS });
    assert.equal(await link.getAttribute('href'), '/view/alice');
    await link.click();
    await cDash.waitForURL(/\/view\/alice$/, { timeout: WAIT_MS });
    cView = cDash;
    // bob keeps his dashboard open and opens the room in a second tab
    bView = await newPage('bob');
    await bView.goto(srv.url + (await bDash.locator('li[data-room="alice"] a').getAttribute('href')));

    for (const [p, who] of [[bView, 'bob'], [cView, 'carol']]) {
      await p.locator('#title').filter({ hasText: /^alice$/ }).waitFor({ timeout: WAIT_MS });
      // The room's title comes with the join, after the page's own heading.
      await p.locator('#room-title').filter({ hasText: /^Morning <b>coffee<\/b>$/ }).waitFor({ timeout: WAIT_MS });
      assert.equal(await p.locator('#room-title').textContent(), 'Morning <b>coffee</b>');
      await p.locator('#live-badge').waitFor({ state: 'visible', timeout: WAIT_MS });
      await eventually(async () => (await p.locator('#viewers').textContent()) === '2', `${who}'s page to show 2 viewers`);
    }
    await eventually(async () => (await bDash.locator('li[data-room="alice"] .room-viewers').getAttribute('data-viewers')) === '2',
      'bob\'s dashboard to show 2 viewers for alice');
    assert.match(await bDash.locator('li[data-room="alice"] .room-viewers').textContent(), /2 viewers/);
    assert.equal(await bDash.evaluate(() => window.__noReload), true, 'the dashboard was not reloaded');
    await eventually(async () => (await aBroadcast.locator('#viewers').textContent()) === '2', 'alice\'s page to show 2 watching');

    await Promise.all([assertVideoPlays(bView, 'bob'), assertVideoPlays(cView, 'carol')]);
    // The unmute button is there (autoplay starts muted).
    await bView.locator('#unmute').waitFor({ state: 'visible', timeout: WAIT_MS });
    await bView.locator('#unmute').click();
    assert.equal(await bView.evaluate(() => document.querySelector('video').muted), false, 'unmute unmutes');
    await shot(bView, 'view-live');
    await shot(bDash, 'dashboard-2-viewers');
  });

  step('5. B\'s chat message reaches A and C under B\'s name, with a time', async () => {
    await sendChat(bView, 'hello from bob');
    await waitForChat(aBroadcast, 'bob', 'hello from bob', 'alice');
    await waitForChat(cView, 'bob', 'hello from bob', 'carol');
    await waitForChat(bView, 'bob', 'hello from bob', 'bob');
    assert.equal(await bView.locator('.chat-input').inputValue(), '', 'the send box is cleared');
    await sendChat(aBroadcast, 'thanks for watching');
    await waitForChat(cView, 'alice', 'thanks for watching', 'carol');
    await shot(aBroadcast, 'broadcast-live');
  });

  const XSS = '<img src=x onerror=alert(1)>';
  step('6. markup in chat shows as text and runs nothing', async () => {
    await sendChat(bView, XSS);
    for (const [p, who] of [[aBroadcast, 'alice'], [cView, 'carol'], [bView, 'bob']]) {
      await waitForChat(p, 'bob', XSS, who);
      assert.equal(await p.locator('.chat-list img').count(), 0, `${who}: no <img> in the chat`);
      assert.equal(await p.locator('img').count(), 0, `${who}: no <img> on the page`);
    }
    // An onerror would fire as soon as the element exists; give it a moment.
    await new Promise(r => setTimeout(r, 500));
    assert.deepEqual(dialogs, [], 'no dialog opened');
    await shot(cView, 'view-chat');
  });

  step('6b. A changes the title while live: B and C see it and keep watching; a too-long chat message is explained', async () => {
    await aBroadcast.locator('#title-save').waitFor({ state: 'visible', timeout: WAIT_MS });
    await aBroadcast.locator('#room-title').fill('Afternoon tea');
    await aBroadcast.locator('#title-save').click();
    for (const [p, who] of [[bView, 'bob'], [cView, 'carol']])
      await eventually(async () => (await p.locator('#room-title').textContent()) === 'Afternoon tea', `${who} to see the new title`);
    await eventually(async () => /Afternoon tea/.test(await aBroadcast.locator('#status').textContent()), 'alice to be told');
    assert.equal(await aBroadcast.locator('#end').isVisible(), true, 'still live');
    const room = bDash.locator('li[data-room="alice"] .room-title');
    await eventually(async () => (await room.textContent()) === 'Afternoon tea', 'the dashboard to show the new title');
    await assertVideoPlays(bView, 'bob');
    await bView.locator('.chat-input').fill('x'.repeat(600));
    await eventually(async () => /at most 500 characters: remove 100 characters/.test(
      await bView.locator('.chat-status').textContent()), 'the reason Send is off, in words');
    assert.equal(await bView.locator('.chat-send').isDisabled(), true);
    await bView.locator('.chat-input').fill('');
    await eventually(async () => !(await bView.locator('.chat-status').isVisible()), 'the explanation to go');
  });

  step('7. a viewer who joins later sees the earlier messages', async () => {
    dView = users.dave.page;
    await dView.goto(srv.url + '/view/alice');
    await waitForChat(dView, 'bob', 'hello from bob', 'dave');
    await waitForChat(dView, 'bob', XSS, 'dave');
    await waitForChat(dView, 'alice', 'thanks for watching', 'dave');
    const rows = await chatRows(dView);
    const order = rows.map(r => r.text);
    assert.ok(order.indexOf('hello from bob') < order.indexOf(XSS), 'history is oldest first');
    assert.equal(await dView.locator('.chat-list img').count(), 0, 'history renders markup as text too');
    await eventually(async () => (await bDash.locator('li[data-room="alice"] .room-viewers').getAttribute('data-viewers')) === '3',
      'the dashboard to count dave too');
  });

  step('9. a room that does not exist; bad messages do not hurt the others', async () => {
    // In the browser
    const page = await newPage('bob');
    await page.goto(srv.url + '/view/nobody');
    await page.getByText('No one called nobody is on onair').waitFor({ timeout: WAIT_MS });
    assert.equal(await page.locator('#video-box').isVisible(), false, 'no video player for a room that is not live');
    await shot(page, 'view-not-live');
    await page.close();

    // On a raw WebSocket
    const res = await fetch(srv.url + '/api/signup', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: srv.origin },
      body: JSON.stringify({ username: 'eve', password: PASSWORD }),
    });
    assert.equal(res.status, 201);
    const setCookie = res.headers.get('set-cookie') || '';
    const cookie = (/onair_session=[^;]+/.exec(setCookie) || [])[0];
    assert.ok(cookie, 'sign-up sets the session cookie');

    const ws = new WebSocket(srv.url.replace(/^http/, 'ws') + '/ws', { headers: { Cookie: cookie, Origin: srv.origin } });
    const inbox = [];
    ws.on('message', d => { try { inbox.push(JSON.parse(String(d))); } catch { inbox.push({ unparsable: String(d) }); } });
    let closed = false;
    ws.on('close', () => { closed = true; });
    ws.on('error', () => {});
    try {
      await eventually(() => inbox.find(m => m.type === 'hello'), 'hello on the raw socket');
      assert.equal(inbox.find(m => m.type === 'hello').user, 'eve');
      ws.send(JSON.stringify({ type: 'room.join', room: 'nobody' }));
      const err = await eventually(() => inbox.find(m => m.type === 'error'), 'an error for room.join nobody');
      assert.equal(err.code, 'no_such_room');
      ws.send('{not json');
      await eventually(() => inbox.find(m => m.type === 'error' && m.code === 'bad_json'), 'bad_json for a broken message');
      ws.send(JSON.stringify({ type: 'no.such.type' }));
      await eventually(() => inbox.find(m => m.type === 'error' && m.code === 'unknown_type'), 'unknown_type for an unknown type');
      assert.equal(closed, false, 'the socket stays open after errors');
    } finally {
      ws.close();
    }

    // Everyone else is still served.
    await sendChat(bView, 'still here');
    await waitForChat(aBroadcast, 'bob', 'still here', 'alice');
    await waitForChat(cView, 'bob', 'still here', 'carol');
    assert.ok(srv.alive(), 'onair is still running');
  });

  step('8. A ends; viewers see "This stream has ended"; the dashboard drops the room', async () => {
    const stats = await videoStats(cView);
    assert.ok(stats && stats.framesDecoded > 0, 'carol was watching');
    await aBroadcast.locator('#end').click();
    for (const [p, who] of [[bView, 'bob'], [cView, 'carol'], [dView, 'dave']]) {
      await p.getByText('This stream has ended').waitFor({ state: 'visible', timeout: 5000 });
      const v = await p.evaluate(() => { const e = document.querySelector('video'); return { src: e.srcObject, paused: e.paused }; });
      assert.equal(v.src, null, `${who}: the video is stopped`);
      assert.equal(v.paused, true, `${who}: the video is paused`);
      assert.equal(await p.locator('.chat-input').isDisabled(), true, `${who}: chat is closed`);
    }
    await bDash.locator('li[data-room="alice"]').waitFor({ state: 'detached', timeout: WAIT_MS });
    await bDash.locator('#empty').waitFor({ state: 'visible', timeout: WAIT_MS });
    assert.equal(await bDash.evaluate(() => window.__noReload), true, 'the dashboard was not reloaded');
    await aBroadcast.locator('#golive').waitFor({ state: 'visible', timeout: WAIT_MS });
    assert.equal(await aBroadcast.locator('#live-info').isVisible(), false);
    await shot(cView, 'view-ended');
  });

  step('10. a denied or missing camera is said plainly on /broadcast', async () => {
    const cases = [
      // no fake UI: the permission prompt is refused
      { name: 'denied', args: [...QUIET_ARGS, FAKE_CAMERA], error: 'NotAllowedError', text: /denied/i },
      // fake UI but no fake device: there is no camera at all
      { name: 'missing', args: [...QUIET_ARGS, FAKE_UI], error: 'NotFoundError', text: /no camera or microphone/i },
    ];
    for (const c of cases) {
      const b = await chromium.launch({ executablePath: CHROMIUM, args: c.args });
      extraBrowsers.push(b);
      const context = await b.newContext({ viewport: { width: 1280, height: 800 } });
      await context.grantPermissions([]);
      const page = watch(await context.newPage(), `frank-${c.name}`);
      const who = `frank_${c.name}`;
      await signUpWithForm(page, srv.url, who, PASSWORD);
      await page.waitForURL(/\/dashboard$/, { timeout: WAIT_MS });
      await page.goto(srv.url + '/broadcast');
      const box = page.locator('#media-error');
      await box.waitFor({ state: 'visible', timeout: WAIT_MS });
      assert.match(await box.textContent(), c.text, `${c.name}: says what is wrong`);
      assert.equal(await box.getAttribute('data-error'), c.error);
      assert.equal(await page.locator('#golive').isDisabled(), true, `${c.name}: cannot go live without media`);
      await shot(page, `broadcast-${c.name}`);
      await b.close();
    }
  });

  step('11. signing out ends the session', async () => {
    const page = users.bob.page;
    await page.locator('#signout').click();
    await page.waitForURL(/\/$/, { timeout: WAIT_MS });
    await page.locator('#signin').waitFor({ state: 'visible', timeout: WAIT_MS });
    await page.goto(srv.url + '/dashboard');
    assert.match(page.url(), /\/(\?.*)?$/, 'the dashboard sends a signed-out user to the front page');
    await page.locator('#signin').waitFor({ state: 'visible', timeout: WAIT_MS });
  });

  step('no page errors, CSP violations or dialogs', async () => {
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(dialogs, []);
  });
});
