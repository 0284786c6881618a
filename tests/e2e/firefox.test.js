// Firefox and Chromium on either side of onair's SFU: Debian's firefox-esr
// (driven over WebDriver BiDi by puppeteer-core) goes live and Debian's
// chromium (playwright-core) watches, then the other way round. Each side
// checks what a user would see (the <video> shows frames) and what getStats()
// says reached it (frames decoded, audio samples with energy, the codec).
//
// Run inside a network namespace so WebRTC stays on loopback:
//   tests/e2e/in-netns.sh node --test tests/e2e/firefox.test.js
// Env: ONAIR_BIN, ONAIR_WEB (tests/lib/server.js), FIREFOX, CHROMIUM.
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { stepper } = require('../lib/steps.js');
const { startOnair } = require('../lib/server.js');
const {
  PASSWORD, launchFirefox, launchChromium, eventually, signUp, addInitScript, pageRtp, stream, topLayer,
} = require('../lib/browsers.js');

const WAIT_MS = 15000;
const MEDIA_MS = 30000;

// ---- page helpers (a playwright or a puppeteer page) -------------------------

function videoStats(page) {
  return page.evaluate(() => window.onairDebug && window.onairDebug.videoStats());
}

// Waits until the page shows decoded video that keeps coming, and audio whose
// samples keep arriving and are not silence. Returns the last figures.
async function assertPlays(page, label) {
  await eventually(() => page.evaluate(() => document.querySelector('#video').videoWidth > 0),
    `${label}: <video> has a frame (videoWidth > 0)`, MEDIA_MS);
  const first = await eventually(async () => {
    const s = await videoStats(page);
    return s && s.framesDecoded > 0 ? s : null;
  }, `${label}: onairDebug.videoStats() framesDecoded > 0`, MEDIA_MS);
  const second = await eventually(async () => {
    const s = await videoStats(page);
    return s && s.framesDecoded >= first.framesDecoded + 15 ? s : null;
  }, `${label}: framesDecoded rising past ${first.framesDecoded + 15}`, 20000);
  assert.ok(second.frameWidth > 0, `${label}: decoded frames have a width`);

  // Autoplay starts muted; the viewer unmutes, as a person would to listen.
  await eventually(() => page.evaluate(() => !document.querySelector('#unmute').hidden), `${label}: the Unmute button`);
  await page.click('#unmute');
  assert.equal(await page.evaluate(() => document.querySelector('#video').muted), false, `${label}: unmute unmutes`);
  const a1 = await eventually(async () => {
    const a = stream(await pageRtp(page), 'inbound', 'audio');
    return a && a.totalSamplesReceived > 0 ? a : null;
  }, `${label}: inbound audio samples`, MEDIA_MS);
  const a2 = await eventually(async () => {
    const a = stream(await pageRtp(page), 'inbound', 'audio');
    return a && a.totalSamplesReceived > a1.totalSamplesReceived + 48000 && a.packets > a1.packets ? a : null;
  }, `${label}: inbound audio samples rising by a second's worth`, 20000);
  assert.equal(a2.mimeType && a2.mimeType.toLowerCase(), 'audio/opus', `${label}: audio is Opus`);
  const a3 = await eventually(async () => {
    const a = stream(await pageRtp(page), 'inbound', 'audio');
    return a && a.totalAudioEnergy > a2.totalAudioEnergy ? a : null;
  }, `${label}: the audio is not silence (totalAudioEnergy rising from ${a2.totalAudioEnergy})`, 10000);
  const v = stream(await pageRtp(page), 'inbound', 'video');
  assert.ok(v && v.framesDecoded > 0, `${label}: getStats shows decoded video`);
  return { video: second, audio: a3, rtp: v };
}

// ---- the test ---------------------------------------------------------------

describe('Firefox and Chromium through onair', { timeout: 170000 }, () => {
  let srv;
  let firefox;
  let chromium;
  const pageErrors = [];

  const step = stepper({ server: () => srv });

  // A Firefox user in a browser context of their own (own cookies).
  async function firefoxPage(who) {
    const context = await firefox.createBrowserContext();
    const page = await context.newPage();
    page.on('pageerror', e => pageErrors.push(`${who} (firefox): ${e.message}`));
    page.on('console', m => {
      if (m.type() === 'error' && /Content[- ]Security[- ]Policy|CSP/i.test(m.text())) pageErrors.push(`${who} (firefox): ${m.text()}`);
    });
    page.on('dialog', d => { pageErrors.push(`${who} (firefox): dialog ${d.message()}`); d.dismiss().catch(() => {}); });
    await addInitScript(page);
    return page;
  }

  // A Chromium user signed up over the API, with the session cookie set.
  async function chromiumPage(who) {
    const cookie = await signUp(srv, who);
    const context = await chromium.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addCookies([{ name: 'onair_session', value: cookie, url: srv.url }]);
    await addInitScript(context);
    const page = await context.newPage();
    page.on('pageerror', e => pageErrors.push(`${who} (chromium): ${e.message}`));
    page.on('console', m => {
      if (m.type() === 'error' && /Content[- ]Security[- ]Policy/i.test(m.text())) pageErrors.push(`${who} (chromium): ${m.text()}`);
    });
    page.on('dialog', d => { pageErrors.push(`${who} (chromium): dialog ${d.message()}`); d.dismiss().catch(() => {}); });
    return page;
  }

  // Signs up through the front page's form in Firefox, as a person would.
  async function firefoxSignUp(page, name) {
    await page.goto(srv.url + '/');
    await page.click('#tab-signup');
    await page.type('#signup-username', name);
    await page.type('#signup-password', PASSWORD);
    await page.click('#signup button[type=submit]');
    await page.waitForFunction(() => location.pathname === '/dashboard', { timeout: WAIT_MS });
    await page.waitForFunction(n => (document.querySelector('#me') || {}).textContent === n, { timeout: WAIT_MS }, name);
  }

  // The broadcaster's upload: outbound video frames encoded and packets sent
  // rising, outbound Opus audio; the connection connected. Returns the figures.
  async function assertUploads(page, label) {
    const v1 = await eventually(async () => {
      const r = await pageRtp(page);
      const v = stream(r, 'outbound', 'video');
      return r.states.includes('connected') && v && v.framesEncoded > 0 && v.packets > 0 ? v : null;
    }, `${label}: the upload connects and sends encoded video`, MEDIA_MS);
    // Frames encoded over all its simulcast layers (onair pauses the ones
    // nobody watches, so one layer's count may stop).
    const frames = r => r.outbound.filter(s => s.kind === 'video').reduce((n, s) => n + s.framesEncoded, 0);
    const f1 = frames(await pageRtp(page));
    const r2 = await eventually(async () => {
      const r = await pageRtp(page);
      const a = stream(r, 'outbound', 'audio');
      return frames(r) > f1 + 15 && a && a.packets > 25 ? r : null;
    }, `${label}: outbound video frames and audio packets keep going`, 20000);
    const pub = await page.evaluate(() => window.onairDebug.publisherStats());
    assert.ok(pub && pub.video && pub.video.framesEncoded > 0, `${label}: onairDebug.publisherStats() shows encoded video`);
    assert.ok(pub.audio && pub.audio.packets > 0, `${label}: onairDebug.publisherStats() shows audio packets`);
    return { video: stream(r2, 'outbound', 'video'), audio: stream(r2, 'outbound', 'audio') };
  }

  before(async () => {
    srv = await startOnair();
    [firefox, chromium] = await Promise.all([launchFirefox(), launchChromium()]);
  });

  after(async () => {
    if (firefox) await firefox.close().catch(() => {});
    if (chromium) await chromium.close().catch(() => {});
    if (srv) await srv.stop();
  });

  let ffBroadcast; // fiona, Firefox
  let crView; // carl, Chromium
  let ffView2; // fred, Firefox, watching fiona
  let crBroadcast; // cora, Chromium
  let ffView; // finn, Firefox
  let fionaUpload;

  step('1. a Firefox user signs up through the front page', async () => {
    const version = await firefox.version();
    assert.match(version, /firefox/i, `puppeteer drives Firefox (${version})`);
    ffBroadcast = await firefoxPage('fiona');
    await firefoxSignUp(ffBroadcast, 'fiona');
  });

  step('2. Firefox goes live: preview, "Go live", VP8 and Opus upload to onair', async t => {
    const p = ffBroadcast;
    await p.goto(srv.url + '/broadcast');
    await eventually(() => p.evaluate(() => document.querySelector('#preview').videoWidth > 0), 'fiona: the preview shows the camera');
    await eventually(() => p.evaluate(() => !document.querySelector('#golive').disabled), 'fiona: "Go live" to be enabled');
    await p.type('#room-title', 'Firefox live');
    await p.click('#golive');
    await eventually(() => p.evaluate(() => !document.querySelector('#live-info').hidden), 'fiona: the live info to show');
    assert.equal(await p.evaluate(() => document.querySelector('#room-link').textContent), `${srv.url}/view/fiona`);
    fionaUpload = await assertUploads(p, 'fiona (firefox)');
    assert.equal(fionaUpload.video.mimeType.toLowerCase(), 'video/vp8', 'Firefox uploads VP8');
    assert.equal(fionaUpload.audio.mimeType.toLowerCase(), 'audio/opus', 'Firefox uploads Opus');
    t.diagnostic(`firefox upload: ${fionaUpload.video.mimeType} ${fionaUpload.video.frameWidth}x${fionaUpload.video.frameHeight}, ${fionaUpload.audio.mimeType}`);
  });

  step('3. a Chromium viewer decodes the Firefox broadcaster\'s video and audio', async () => {
    crView = await chromiumPage('carl');
    await crView.goto(srv.url + '/view/fiona');
    await crView.locator('#title').filter({ hasText: /^fiona$/ }).waitFor({ timeout: WAIT_MS });
    // The room's title comes with the join, after the page's own heading.
    await crView.locator('#room-title').filter({ hasText: /^Firefox live$/ }).waitFor({ timeout: WAIT_MS });
    const got = await assertPlays(crView, 'carl (chromium) watching fiona (firefox)');
    assert.equal(got.rtp.mimeType.toLowerCase(), 'video/vp8', 'carl decodes VP8');
    // What Firefox encoded is what Chromium decodes, frame size and all: its
    // largest simulcast layer, once onair switched the viewer to it.
    await eventually(async () => {
      const up = topLayer(await pageRtp(ffBroadcast));
      const down = stream(await pageRtp(crView), 'inbound', 'video');
      return up && down && down.frameWidth === up.frameWidth && down.frameHeight === up.frameHeight;
    }, 'the viewer to decode frames of the size the broadcaster encodes (its largest layer)', 20000);
    await eventually(() => ffBroadcast.evaluate(() => document.querySelector('#viewers').textContent === '1'),
      'fiona\'s page to show 1 watching');
  });

  step('4. a Firefox viewer watches the Firefox broadcaster too', async () => {
    ffView2 = await firefoxPage('fred');
    await firefoxSignUp(ffView2, 'fred');
    await ffView2.goto(srv.url + '/view/fiona');
    const got = await assertPlays(ffView2, 'fred (firefox) watching fiona (firefox)');
    assert.equal(got.rtp.mimeType.toLowerCase(), 'video/vp8', 'fred decodes VP8');
    await eventually(() => ffBroadcast.evaluate(() => document.querySelector('#viewers').textContent === '2'),
      'fiona\'s page to show 2 watching');
    // carl still plays
    const before = await videoStats(crView);
    await eventually(async () => (await videoStats(crView)).framesDecoded > before.framesDecoded + 10, 'carl keeps decoding');
  });

  step('5. Firefox ends the broadcast; both viewers see "This stream has ended"', async () => {
    await ffBroadcast.click('#end');
    await crView.getByText('This stream has ended').waitFor({ state: 'visible', timeout: WAIT_MS });
    await eventually(() => ffView2.evaluate(() => !document.querySelector('#banner').hidden &&
      document.querySelector('#banner-title').textContent === 'This stream has ended'), 'fred: "This stream has ended"');
    await eventually(() => ffBroadcast.evaluate(() => !document.querySelector('#golive').hidden), 'fiona: "Go live" is back');
    assert.equal(await ffView2.evaluate(() => document.querySelector('#video').srcObject), null, 'fred: the video is stopped');
  });

  step('6. Chromium goes live and a Firefox viewer decodes its video and audio', async t => {
    crBroadcast = await chromiumPage('cora');
    await crBroadcast.goto(srv.url + '/broadcast');
    await eventually(() => crBroadcast.evaluate(() => document.querySelector('#preview').videoWidth > 0), 'cora: the preview');
    await eventually(() => crBroadcast.locator('#golive').isEnabled(), 'cora: "Go live" to be enabled');
    await crBroadcast.locator('#golive').click();
    await crBroadcast.locator('#end').waitFor({ state: 'visible', timeout: WAIT_MS });
    const up = await assertUploads(crBroadcast, 'cora (chromium)');
    assert.equal(up.video.mimeType.toLowerCase(), 'video/vp8', 'Chromium uploads VP8 by default');

    ffView = await firefoxPage('finn');
    await firefoxSignUp(ffView, 'finn');
    await ffView.goto(srv.url + '/view/cora');
    await ffView.waitForFunction(() => document.querySelector('#title').textContent === 'cora', { timeout: WAIT_MS });
    const got = await assertPlays(ffView, 'finn (firefox) watching cora (chromium)');
    assert.equal(got.rtp.mimeType.toLowerCase(), 'video/vp8', 'finn decodes VP8');
    const size = await ffView.evaluate(() => { const v = document.querySelector('#video'); return [v.videoWidth, v.videoHeight]; });
    assert.ok(size[0] > 0 && size[1] > 0, `finn's <video> has a size (${size})`);
    t.diagnostic(`firefox viewer: ${got.rtp.mimeType} ${size.join('x')}, ${got.video.framesDecoded} frames, audio energy ${got.audio.totalAudioEnergy.toFixed(3)}`);
    await eventually(() => crBroadcast.evaluate(() => document.querySelector('#viewers').textContent === '1'),
      'cora\'s page to show 1 watching');
  });

  step('7. chat from the Firefox viewer reaches the Chromium broadcaster, and back', async () => {
    await ffView.type('.chat-input', 'hello from firefox');
    await ffView.click('.chat-send');
    const row = crBroadcast.locator('.chat-list .chat-msg').filter({ hasText: 'hello from firefox' });
    await row.waitFor({ timeout: WAIT_MS });
    assert.equal(await row.locator('.chat-user').textContent(), 'finn');
    await crBroadcast.locator('.chat-input').fill('hello from chromium');
    await crBroadcast.locator('.chat-send').click();
    await eventually(() => ffView.evaluate(() => [...document.querySelectorAll('.chat-list .chat-msg')]
      .some(r => r.querySelector('.chat-user').textContent === 'cora' && r.querySelector('.chat-text').textContent === 'hello from chromium')),
    'finn sees cora\'s message');
  });

  step('8. no page errors, CSP violations or dialogs in either browser', async () => {
    assert.deepEqual(pageErrors, []);
    assert.ok(srv.alive(), 'onair is still running');
  });
});
