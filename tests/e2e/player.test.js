// The viewer's player (web/assets/player.js) the way a viewer uses it, and
// the view and broadcast pages on a 390×844 phone: fullscreen by button,
// double-click and the f key; volume slider, mute button and the m key;
// the stats panel; picture-in-picture where the browser has it and no
// button where it has not; the video edge to edge and the chat folding away
// on a phone; every broadcast control at least as wide as its label.
//
// Headless Chromium does fullscreen and picture-in-picture. Its Escape only
// leaves fullscreen when the key event carries the native key code a real
// keyboard sends (27); playwright's keyboard.press() leaves it out, so
// pressEscape() sends the key over CDP. screen.orientation.lock() is "not
// available on this device" in headless Chromium: the player ignores that
// failure, and no step can check that a phone turns sideways.
//
// Run inside a network namespace so WebRTC stays on loopback:
//   tests/e2e/in-netns.sh node --test tests/e2e/player.test.js
'use strict';
const { describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { chromium } = require('playwright-core');
const { stepper } = require('../lib/steps.js');
const { startOnair } = require('../lib/server.js');
const {
  CHROMIUM, BROWSER_ARGS, sleep, eventually, newUserContext, watchPage, goLive, assertPlays,
} = require('../lib/media-e2e.js');

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

// The id of document.fullscreenElement, or null.
function fullscreenId(page) {
  return page.evaluate(() => (document.fullscreenElement ? document.fullscreenElement.id : null));
}

async function waitFullscreen(page, id, what) {
  await eventually(async () => (await fullscreenId(page)) === id, `${what}: document.fullscreenElement is ${id || 'null'}`, 5000);
}

// Escape as a keyboard sends it (with its native key code): see the top.
async function pressEscape(page) {
  const cdp = await page.context().newCDPSession(page);
  const key = { key: 'Escape', code: 'Escape', windowsVirtualKeyCode: 27, nativeVirtualKeyCode: 27 };
  await cdp.send('Input.dispatchKeyEvent', { type: 'rawKeyDown', ...key });
  await cdp.send('Input.dispatchKeyEvent', { type: 'keyUp', ...key });
  await cdp.detach();
}

// Adds "Permissions-Policy: picture-in-picture=()" to the responses of the
// pages matching urlPattern. Over CDP (Fetch.continueResponse), so the
// response still comes from onair's address: a playwright route.fulfill()
// response counts as from the public internet, and Chromium's local network
// access checks then block the page's WebSocket to 127.0.0.1.
async function forbidPictureInPicture(page, urlPattern) {
  const cdp = await page.context().newCDPSession(page);
  cdp.on('Fetch.requestPaused', ev => {
    const responseHeaders = [...(ev.responseHeaders || []), { name: 'Permissions-Policy', value: 'picture-in-picture=()' }];
    cdp.send('Fetch.continueResponse', { requestId: ev.requestId, responseCode: ev.responseStatusCode, responseHeaders })
      .catch(() => {}); // the page went away meanwhile
  });
  await cdp.send('Fetch.enable', { patterns: [{ urlPattern, requestStage: 'Response' }] });
}

// What plays and what the controls say of it: video.volume and .muted, the
// mute button's accessible name and visible text, the slider's value.
function sound(page) {
  return page.evaluate(() => {
    const v = document.querySelector('#video');
    const b = document.querySelector('#mute');
    return {
      volume: v.volume, muted: v.muted, label: b.getAttribute('aria-label'),
      text: b.innerText.trim(), slider: document.querySelector('#volume').value,
    };
  });
}

// Waits for sound() to be `want` (the controls follow the video's
// volumechange event, a task after the change).
async function expectSound(page, want, what) {
  let last;
  try {
    await eventually(async () => {
      last = await sound(page);
      return JSON.stringify(last) === JSON.stringify(want);
    }, what, 3000);
  } catch {
    assert.deepEqual(last, want, what);
  }
}

// A control of the player as a viewer reaches it: the pointer over the video
// (mouse) or a tap on it (touch) shows the controls, then the control is
// pressed. A tap while the controls show hides them, so look first.
async function press(page, selector, { touch = false } = {}) {
  await eventually(async () => {
    if (touch) {
      if (await page.locator('#video-box').getAttribute('data-controls') !== 'on') {
        await page.locator('#video').tap({ timeout: 1000 });
      }
      await page.locator(selector).tap({ timeout: 1500 });
    } else {
      await page.locator('#video-box').hover({ timeout: 1000 });
      await page.locator(selector).click({ timeout: 1500 });
    }
    return true;
  }, `pressing ${selector}`, 10000);
}

// The stats panel's figures by name ({ resolution: '640×480', ... }).
function statsShown(page) {
  return page.evaluate(() => {
    const out = {};
    for (const dd of document.querySelectorAll('#player-stats [data-stat]')) out[dd.dataset.stat] = dd.textContent;
    return out;
  });
}

// Every visible select, input and button that is narrower than its label
// text (a <label>'s text before the control, measured with a Range; a
// button's own text: scrollWidth > clientWidth) or reaches past the window.
function narrowControls(page) {
  return page.evaluate(() => {
    const bad = [];
    for (const el of document.querySelectorAll('select, input, button')) {
      const box = el.getBoundingClientRect();
      if (box.width === 0 || getComputedStyle(el).visibility === 'hidden') continue;
      const name = `#${el.id || el.className}`;
      if (box.left < 0 || box.right > innerWidth) bad.push(`${name} spans ${box.left}..${box.right} of ${innerWidth} px`);
      if (el.tagName === 'BUTTON') {
        if (el.scrollWidth > el.clientWidth) bad.push(`${name}: its text needs ${el.scrollWidth} px, has ${el.clientWidth}`);
        continue;
      }
      const label = el.labels && el.labels[0];
      if (!label) continue; // named by aria-label: no text on screen to fit
      const r = document.createRange();
      r.selectNodeContents(label);
      r.setEndBefore(el);
      const text = r.getBoundingClientRect();
      if (box.width < text.width) bad.push(`${name} is ${box.width} px, its label "${r.toString().trim()}" ${text.width} px`);
    }
    return bad;
  });
}

describe('the viewer\'s player, and both pages on a phone', { timeout: 300000 }, () => {
  let srv, browser;
  const errors = [];
  let bc, viewer;
  const step = stepper({ server: () => srv, timeoutMs: 60000 });

  before(async () => {
    srv = await startOnair();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
  });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (srv) await srv.stop();
  });

  // A new user's page on the broadcast, once it plays; prepare(page) runs
  // before the page loads.
  async function openViewer(name, contextOptions = {}, prepare = async () => {}) {
    const user = await newUserContext(browser, srv, name, contextOptions);
    user.page = watchPage(await user.context.newPage(), name, errors);
    await prepare(user.page);
    await user.page.goto(`${srv.url}/view/${bc.name}`);
    await assertPlays(user.page, name);
    return user;
  }

  step('a broadcast with a viewer playing', async () => {
    bc = await newUserContext(browser, srv, 'pia');
    bc.page = watchPage(await bc.context.newPage(), 'pia', errors);
    await goLive(bc.page, srv, 'Player test');
    viewer = await openViewer('paul');
  });

  step('fullscreen: the button, a double-click and f enter it; the button, f and Escape leave it', async () => {
    const page = viewer.page;
    assert.equal(await fullscreenId(page), null);
    await press(page, '#fullscreen');
    await waitFullscreen(page, 'video-box', 'the Fullscreen button');
    // The label follows on fullscreenchange, which may come a moment later.
    await eventually(async () => (await page.locator('#fullscreen').getAttribute('aria-label')) === 'Exit fullscreen',
      'the button saying "Exit fullscreen"');
    // The controls came along: on screen, over the video, after a mouse move.
    await page.mouse.move(200, 200);
    await page.mouse.move(210, 210);
    const bar = await page.evaluate(() => {
      const r = document.querySelector('.player-bar').getBoundingClientRect();
      return { bottom: r.bottom, width: r.width, opacity: getComputedStyle(document.querySelector('.player-bar')).opacity };
    });
    const screen = await page.evaluate(() => ({ w: innerWidth, h: innerHeight }));
    assert.ok(bar.bottom <= screen.h && bar.width === screen.w && bar.opacity === '1', `controls in fullscreen: ${JSON.stringify(bar)}`);
    await press(page, '#fullscreen');
    await waitFullscreen(page, null, 'the Exit fullscreen button');
    await eventually(async () => (await page.locator('#fullscreen').getAttribute('aria-label')) === 'Fullscreen',
      'the button saying "Fullscreen" again');

    await page.locator('#video').dblclick();
    await waitFullscreen(page, 'video-box', 'a double-click on the video');
    await page.keyboard.press('f');
    await waitFullscreen(page, null, 'the f key');

    await page.keyboard.press('f');
    await waitFullscreen(page, 'video-box', 'the f key');
    await pressEscape(page);
    await waitFullscreen(page, null, 'Escape');
    await assertPlays(page, 'after fullscreen', { frames: 5 });
  });

  step('volume: the page starts muted and says Unmute; the slider, m and the mute button set what plays', async () => {
    const page = viewer.page;
    const muted = { muted: true, label: 'Unmute', text: 'Unmute', slider: '0' };
    await expectSound(page, { volume: 1, ...muted }, 'at the start');
    assert.equal(await page.locator('#unmute').isVisible(), true, 'the overlay Unmute button');

    await page.locator('#video-box').hover();
    await page.locator('#volume').fill('0.3');
    const at03 = { volume: 0.3, muted: false, label: 'Mute', text: '', slider: '0.3' };
    await expectSound(page, at03, 'the slider at 0.3');
    assert.equal(await page.locator('#unmute').isVisible(), false, 'no overlay Unmute once the sound is on');

    await page.keyboard.press('m');
    await expectSound(page, { volume: 0.3, ...muted }, 'after m');
    await page.keyboard.press('m');
    await expectSound(page, at03, 'after m again');

    await press(page, '#mute');
    await expectSound(page, { volume: 0.3, ...muted }, 'after the Mute button');
    assert.equal(await page.locator('#mute').getAttribute('aria-label'), 'Unmute');
    await press(page, '#mute');
    await expectSound(page, at03, 'after the Unmute button');
    await press(page, '#mute');
    await expectSound(page, { volume: 0.3, ...muted }, 'after the Mute button again');

    // Typing in the chat is typing: no shortcut.
    await page.locator('.chat-input').fill('');
    await page.locator('.chat-input').pressSequentially('fm');
    assert.equal(await page.locator('.chat-input').inputValue(), 'fm');
    await sleep(300); // what a wrongly taken m or f would have done by now
    await expectSound(page, { volume: 0.3, ...muted }, 'after typing m in the chat');
    assert.equal(await fullscreenId(page), null, 'f typed in the chat does not go fullscreen');
    await page.locator('.chat-input').fill('');
  });

  step('keyboard: Tab reaches the controls, which then show, and Enter presses them', async () => {
    const page = viewer.page;
    await page.mouse.move(5, 5); // off the video: the controls fade
    await eventually(async () => await page.locator('#video-box').getAttribute('data-controls') === 'off', 'the controls to fade', 5000);
    await page.locator('#title').click();
    const active = () => page.evaluate(() => document.activeElement && document.activeElement.id);
    for (let i = 0; i < 30 && await active() !== 'mute'; i++) await page.keyboard.press('Tab');
    assert.equal(await active(), 'mute', 'Tab reaches the mute button');
    const look = () => page.evaluate(() => ({
      opacity: getComputedStyle(document.querySelector('.player-bar')).opacity,
      outline: getComputedStyle(document.querySelector('#mute')).outlineStyle,
    }));
    await eventually(async () => JSON.stringify(await look()) === '{"opacity":"1","outline":"solid"}',
      'the controls to show (past their fade-in), with the focus ring', 3000);
    await page.keyboard.press('Enter');
    await expectSound(page, { volume: 0.3, muted: false, label: 'Mute', text: '', slider: '0.3' }, 'Enter on Mute');
    await page.keyboard.press('Tab');
    assert.equal(await active(), 'volume');
    await page.keyboard.press('ArrowLeft');
    await expectSound(page, { volume: 0.25, muted: false, label: 'Mute', text: '', slider: '0.25' }, 'ArrowLeft on the slider');
    for (let i = 0; i < 5 && await active() !== 'fullscreen'; i++) await page.keyboard.press('Tab');
    assert.equal(await active(), 'fullscreen', 'Tab: Stats, picture in picture, fullscreen');
    await page.keyboard.press('Enter');
    await waitFullscreen(page, 'video-box', 'Enter on Fullscreen');
    await page.keyboard.press('Enter');
    await waitFullscreen(page, null, 'Enter on Exit fullscreen');
  });

  step('stats: the toggle shows the resolution, frame rate, bitrate, loss and the playout delay', async () => {
    const page = viewer.page;
    assert.equal(await page.locator('#player-stats').isVisible(), false);
    await press(page, '#stats-toggle');
    assert.equal(await page.locator('#stats-toggle').getAttribute('aria-pressed'), 'true');
    assert.equal(await page.locator('#player-stats').isVisible(), true);
    // The size read with the panel each time: an Auto viewer may move to
    // another simulcast layer (another size) meanwhile.
    const videoSize = () => page.evaluate(() => `${document.querySelector('#video').videoWidth}×${document.querySelector('#video').videoHeight}`);
    const shown = await eventually(async () => {
      const s = await statsShown(page);
      return s.resolution === await videoSize() && /^\d+ ms$/.test(s.delay) && /bit\/s$/.test(s.bitrate) ? s : null;
    }, 'the stats panel to show the video\'s size, a playout delay and a bitrate', 10000);
    assert.match(shown.resolution, /^\d+×\d+$/);
    assert.match(shown.fps, /^\d+$/);
    assert.ok(Number(shown.fps) > 0, `frame rate ${shown.fps}`);
    assert.match(shown.loss, /^\d+\.\d % \(\d+ packets\)$/);
    assert.match(shown.rtt, /^\d+ ms$/);
    await press(page, '#stats-toggle');
    assert.equal(await page.locator('#stats-toggle').getAttribute('aria-pressed'), 'false');
    assert.equal(await page.locator('#player-stats').isVisible(), false);
  });

  step('picture in picture: the button floats the video and brings it back', async () => {
    const page = viewer.page;
    assert.equal(await page.evaluate(() => document.pictureInPictureEnabled), true);
    assert.equal(await page.locator('#pip').isVisible(), true);
    await press(page, '#pip');
    await eventually(() => page.evaluate(() => document.pictureInPictureElement === document.querySelector('#video')),
      'document.pictureInPictureElement to be the video', 5000);
    await eventually(async () => await page.locator('#pip').getAttribute('aria-label') === 'Exit picture in picture',
      'the button to say "Exit picture in picture"', 3000);
    await press(page, '#pip');
    await eventually(() => page.evaluate(() => document.pictureInPictureElement === null), 'picture in picture to end', 5000);
    await eventually(async () => await page.locator('#pip').getAttribute('aria-label') === 'Picture in picture',
      'the button to say "Picture in picture"', 3000);
  });

  step('picture in picture: no button where the browser does not allow it', async () => {
    // A permissions policy that forbids it (as a proxy in front of onair may
    // send) makes document.pictureInPictureEnabled false in this same
    // Chromium: the page's response gets the header on its way in.
    const other = await openViewer('pete', {}, page => forbidPictureInPicture(page, '*/view/*'));
    const page = other.page;
    assert.equal(await page.evaluate(() => document.pictureInPictureEnabled), false);
    assert.equal(await page.locator('#pip').isVisible(), false, 'no picture-in-picture button');
    assert.equal(await page.locator('#fullscreen').isVisible(), true, 'the other controls are there');
    await other.context.close();
  });

  step('chat: Hide chat gives the video the width, Show chat brings the chat back', async () => {
    const page = viewer.page;
    const toggle = page.locator('#chat-toggle');
    const width = () => page.evaluate(() => document.querySelector('#video-box').getBoundingClientRect().width);
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    assert.equal((await toggle.innerText()).trim(), 'Hide chat');
    const before = await width();
    await toggle.click();
    assert.equal(await page.locator('#chat').isVisible(), false);
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    assert.equal((await toggle.innerText()).trim(), 'Show chat');
    const wide = await width();
    assert.ok(wide > before * 1.3, `the video grows without the chat: ${before} -> ${wide} px`);
    await toggle.click();
    assert.equal(await page.locator('#chat').isVisible(), true);
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    assert.equal(await width(), before);
  });

  step('a 390×844 phone: the video edge to edge, fullscreen by a tap, the chat folds away', async () => {
    const { page } = await openViewer('phoebe', PHONE);
    const m = await page.evaluate(() => ({
      box: document.querySelector('#video-box').getBoundingClientRect().width,
      inner: innerWidth,
      scroll: document.documentElement.scrollWidth,
    }));
    assert.equal(m.inner, 390);
    assert.ok(m.box >= 0.95 * m.inner, `video box ${m.box} px of ${m.inner}`);
    assert.ok(m.scroll <= m.inner, `no sideways scrolling: ${m.scroll} > ${m.inner}`);
    assert.deepEqual(await narrowControls(page), []);

    await press(page, '#fullscreen', { touch: true });
    await waitFullscreen(page, 'video-box', 'a tap on Fullscreen');
    await press(page, '#fullscreen', { touch: true });
    await waitFullscreen(page, null, 'a tap on Exit fullscreen');

    const toggle = page.locator('#chat-toggle');
    await toggle.tap();
    assert.equal(await page.locator('#chat').isVisible(), false);
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    assert.equal((await toggle.innerText()).trim(), 'Show chat');
    await toggle.tap();
    assert.equal(await page.locator('#chat').isVisible(), true);
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    assert.equal((await toggle.innerText()).trim(), 'Hide chat');
    const chat = await page.locator('#chat').boundingBox();
    const video = await page.locator('#video-box').boundingBox();
    assert.ok(chat.y >= video.y + video.height, 'the chat is below the video on a phone');
  });

  step('the broadcast page on a 390×844 phone: pickers stacked full width, no control under its label, no sideways scrolling', async () => {
    const me = await newUserContext(browser, srv, 'pam', PHONE);
    const page = watchPage(await me.context.newPage(), 'pam', errors);
    const check = async when => {
      const bad = await narrowControls(page);
      assert.deepEqual(bad, [], `${when}: controls narrower than their labels`);
      const w = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth }));
      assert.ok(w.scroll <= w.inner, `${when}: the page scrolls sideways (${w.scroll} > ${w.inner})`);
      const cam = await page.locator('#camera').boundingBox();
      const mic = await page.locator('#mic').boundingBox();
      const title = await page.locator('#room-title').boundingBox();
      const row = await page.locator('.controls').boundingBox();
      for (const [name, b] of [['camera', cam], ['microphone', mic], ['title', title]]) {
        assert.ok(b.width >= row.width - 1, `${when}: the ${name} field is ${b.width} of ${row.width} px`);
      }
      assert.ok(mic.y >= cam.y + cam.height && title.y >= mic.y + mic.height, `${when}: camera, microphone, title stacked`);
    };
    await page.goto(srv.url + '/broadcast');
    await eventually(() => page.locator('#golive').isEnabled(), '"Go live" to be enabled');
    await check('before going live');
    await goLive(page, srv, 'From a phone');
    await page.locator('#live-info').waitFor({ state: 'visible' });
    await check('live');
    await me.context.close();
  });

  step('no page errors', () => {
    assert.deepEqual(errors, []);
  });
});
