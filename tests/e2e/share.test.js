// Share links in Chromium (issue 10): with public-watch, a signed-out
// visitor's page plays the room and keeps chat for signed-in users; the
// sign-in page a shared link leads to says whose stream waits behind it,
// and signing in there lands on the stream.
//
//   tests/e2e/in-netns.sh node --test tests/e2e/share.test.js
'use strict';
const { describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { chromium } = require('playwright-core');
const { stepper } = require('../lib/steps.js');
const { startOnair } = require('../lib/server.js');
const {
  CHROMIUM, BROWSER_ARGS, PASSWORD, eventually, newUserContext, watchPage, goLive, assertPlays, signUp,
} = require('../lib/media-e2e.js');

describe('share links: public-watch and the way in', { timeout: 300000 }, () => {
  let srv, browser, bc, guest;
  const errors = [];
  const step = stepper({ server: () => srv, timeoutMs: 90000 });

  before(async () => {
    srv = await startOnair(['--public-watch', 'true']);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
  });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (srv) await srv.stop();
  });

  step('a signed-out visitor watches a live room with public-watch; chat asks them to sign in', async () => {
    bc = await newUserContext(browser, srv, 'petra');
    bc.page = watchPage(await bc.context.newPage(), 'petra', errors);
    await goLive(bc.page, srv, 'Open to all');
    guest = { context: await browser.newContext({ viewport: { width: 960, height: 640 } }) };
    guest.page = watchPage(await guest.context.newPage(), 'guest', errors);
    await guest.page.goto(`${srv.url}/view/petra`);
    await assertPlays(guest.page, 'the signed-out visitor', { timeoutMs: 45000 });
    assert.equal(await guest.page.locator('#room-title').textContent(), 'Open to all');
    assert.equal(await guest.page.locator('.chat-input').isDisabled(), true);
    assert.equal(await guest.page.locator('.chat-input').getAttribute('placeholder'), 'Sign in to chat');
    assert.equal(await guest.page.locator('#nav-signin').isVisible(), true);
    assert.equal(await guest.page.locator('#signout').isVisible(), false);
    // The broadcaster counts the guest as a viewer, and chat reaches it.
    await eventually(async () => (await bc.page.locator('#viewers').textContent()) === '1', 'the broadcaster\'s count of 1');
    await bc.page.locator('.chat-input').fill('hello guests');
    await bc.page.locator('.chat-send').click();
    await eventually(async () => /hello guests/.test(await guest.page.locator('.chat-list').innerText()), 'chat on the guest\'s page');
  });

  step('the sign-in page from a shared link says whose stream it is, and signing in lands on it', async () => {
    const name = 'quinn';
    await signUp(srv, name);
    await guest.page.locator('#nav-signin').click();
    await guest.page.waitForURL(/\/\?next=%2Fview%2Fpetra$/);
    await eventually(async () => /Sign in to watch petra, live now: “Open to all”/.test(await guest.page.locator('#auth-for').innerText()),
      'the sign-in page naming the stream');
    await guest.page.locator('#signin input[name="username"]').fill(name);
    await guest.page.locator('#signin input[name="password"]').fill(PASSWORD);
    await guest.page.locator('#signin button[type="submit"]').click();
    await guest.page.waitForURL(/\/view\/petra$/);
    await assertPlays(guest.page, 'signed in now', { timeoutMs: 45000 });
    await eventually(() => guest.page.locator('.chat-input').isEnabled(), 'chat open once signed in');
  });

  step('no page errors', () => {
    assert.deepEqual(errors, []);
  });
});
