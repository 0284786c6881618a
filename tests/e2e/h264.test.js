// H.264 through onair's SFU: a Chromium broadcaster whose upload can only be
// H.264 (an init script restricts its video transceiver to H.264 with
// setCodecPreferences before the page makes its offer), two Chromium viewers
// that decode it, and a Firefox viewer, which here has no H.264 decoder
// (Debian's firefox-esr gets H.264 only from the OpenH264 plugin it would
// download) and must be told so plainly instead of a black video.
//
// Run inside a network namespace so WebRTC stays on loopback:
//   tests/e2e/in-netns.sh node --test tests/e2e/h264.test.js
// Env: ONAIR_BIN, ONAIR_WEB (tests/lib/server.js), CHROMIUM, FIREFOX.
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { stepper } = require('../lib/steps.js');
const { startOnair } = require('../lib/server.js');
const {
  PASSWORD, launchChromium, launchFirefox, eventually, sleep, signUp, addInitScript, pageRtp, stream, topLayer,
} = require('../lib/browsers.js');

const WAIT_MS = 15000;
const MEDIA_MS = 30000;

function fmtpParam(fmtp, name) {
  const m = new RegExp(`(?:^|;)\\s*${name}=([^;]+)`, 'i').exec(fmtp || '');
  return m ? m[1].trim().toLowerCase() : null;
}

// The a=rtpmap codec names of the m=video section of an SDP.
function videoCodecNames(sdp) {
  const video = (sdp || '').split(/\r?\nm=/).find(s => s.startsWith('video '));
  if (!video) return [];
  return [...video.matchAll(/a=rtpmap:\d+ ([^/\r\n]+)\//g)].map(m => m[1].toUpperCase());
}

function videoStats(page) {
  return page.evaluate(() => window.onairDebug && window.onairDebug.videoStats());
}

describe('H.264 through onair', { timeout: 170000 }, () => {
  let srv;
  let chromium;
  let firefox;
  const pageErrors = [];

  const step = stepper({ server: () => srv });

  // A Chromium user signed up over the API; onlyVideoCodec restricts what the
  // page's video transceivers may send (see tests/lib/browsers.js).
  async function chromiumPage(who, onlyVideoCodec = null) {
    const cookie = await signUp(srv, who);
    const context = await chromium.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addCookies([{ name: 'onair_session', value: cookie, url: srv.url }]);
    await addInitScript(context, onlyVideoCodec);
    const page = await context.newPage();
    page.on('pageerror', e => pageErrors.push(`${who}: ${e.message}`));
    page.on('console', m => {
      if (m.type() === 'error' && /Content[- ]Security[- ]Policy/i.test(m.text())) pageErrors.push(`${who}: ${m.text()}`);
    });
    return page;
  }

  // Waits until a viewer page shows decoded H.264 that keeps coming, with Opus
  // audio; returns { first frame ms, inbound video stats }.
  // t0: when the viewer opened the page (Date.now()).
  async function assertPlaysH264(page, label, t0) {
    await eventually(() => page.evaluate(() => document.querySelector('#video').videoWidth > 0),
      `${label}: <video> has a frame (videoWidth > 0)`, MEDIA_MS);
    const firstFrameMs = Date.now() - t0;
    const first = await eventually(async () => {
      const s = await videoStats(page);
      return s && s.framesDecoded > 0 ? s : null;
    }, `${label}: onairDebug.videoStats() framesDecoded > 0`, MEDIA_MS);
    const second = await eventually(async () => {
      const s = await videoStats(page);
      return s && s.framesDecoded >= first.framesDecoded + 20 ? s : null;
    }, `${label}: framesDecoded rising past ${first.framesDecoded + 20}`, 20000);
    assert.ok(second.frameWidth > 0 && second.frameHeight > 0, `${label}: decoded frames have a size`);

    const rtp = await pageRtp(page);
    const v = stream(rtp, 'inbound', 'video');
    assert.ok(v, `${label}: an inbound video stream`);
    assert.equal(v.mimeType && v.mimeType.toLowerCase(), 'video/h264', `${label}: the viewer receives H.264 (got ${v.mimeType})`);
    assert.ok(v.framesDecoded > 0, `${label}: getStats shows decoded H.264 frames`);
    const a1 = stream(rtp, 'inbound', 'audio');
    assert.ok(a1 && a1.mimeType && a1.mimeType.toLowerCase() === 'audio/opus', `${label}: the audio is Opus`);
    await eventually(async () => {
      const a = stream(await pageRtp(page), 'inbound', 'audio');
      return a && a.totalSamplesReceived > a1.totalSamplesReceived + 24000 && a.packets > a1.packets;
    }, `${label}: inbound audio samples keep arriving`, 15000);
    return { firstFrameMs, video: v };
  }

  before(async () => {
    srv = await startOnair();
    [chromium, firefox] = await Promise.all([launchChromium(), launchFirefox()]);
  });

  after(async () => {
    if (firefox) await firefox.close().catch(() => {});
    if (chromium) await chromium.close().catch(() => {});
    if (srv) await srv.stop();
  });

  let hana; // the H.264 broadcaster
  let upload; // hana's outbound video stats
  let v1;
  let v2;

  step('1. Debian\'s chromium can encode and decode H.264', async () => {
    const page = await chromiumPage('probe');
    await page.goto(srv.url + '/');
    const caps = await page.evaluate(() => ({
      send: RTCRtpSender.getCapabilities('video').codecs.map(c => `${c.mimeType} ${c.sdpFmtpLine || ''}`),
      recv: RTCRtpReceiver.getCapabilities('video').codecs.map(c => `${c.mimeType} ${c.sdpFmtpLine || ''}`),
    }));
    assert.ok(caps.send.some(c => /^video\/H264 .*packetization-mode=1/i.test(c)),
      `chromium can send H.264 packetization-mode 1: ${caps.send.join(', ')}`);
    assert.ok(caps.recv.some(c => /^video\/H264 .*packetization-mode=1/i.test(c)), 'chromium can receive H.264');
    await page.context().close();
  });

  step('2. an H.264-only broadcaster goes live; onair answers H.264 and the upload is H.264', async t => {
    hana = await chromiumPage('hana', 'video/H264');
    await hana.goto(srv.url + '/broadcast');
    await eventually(() => hana.evaluate(() => document.querySelector('#preview').videoWidth > 0), 'hana: the preview');
    await eventually(() => hana.locator('#golive').isEnabled(), 'hana: "Go live" to be enabled');
    await hana.locator('#room-title').fill('H.264 only');
    await hana.locator('#golive').click();
    await hana.locator('#end').waitFor({ state: 'visible', timeout: WAIT_MS });

    // The offer carried H.264 alone, and onair's answer chose it.
    const sdp = await eventually(() => hana.evaluate(() => {
      const pc = window.__onairPeers.pcs[0];
      return pc && pc.remoteDescription ? { local: pc.localDescription.sdp, remote: pc.remoteDescription.sdp } : null;
    }), 'hana: onair\'s answer');
    const offered = new Set(videoCodecNames(sdp.local));
    assert.ok(offered.has('H264') && !offered.has('VP8') && !offered.has('VP9') && !offered.has('AV1'),
      `the offer's video is H.264 only (offered ${[...offered]})`);
    const answered = videoCodecNames(sdp.remote).filter(c => c !== 'RTX');
    assert.deepEqual([...new Set(answered)], ['H264'], `onair answers H.264 (answer has ${answered})`);

    const first = await eventually(async () => {
      const r = await pageRtp(hana);
      const v = stream(r, 'outbound', 'video');
      return r.states.includes('connected') && v && v.framesEncoded > 0 && v.packets > 0 ? v : null;
    }, 'hana: the upload connects and sends encoded video', MEDIA_MS);
    // Frames encoded over all its simulcast layers (onair pauses the ones
    // nobody watches, so one layer's count may stop).
    const frames = r => r.outbound.filter(s => s.kind === 'video').reduce((n, s) => n + s.framesEncoded, 0);
    const f1 = frames(await pageRtp(hana));
    upload = await eventually(async () => {
      const r = await pageRtp(hana);
      return frames(r) > f1 + 20 ? stream(r, 'outbound', 'video') : null;
    }, 'hana: outbound frames keep being encoded', 20000);
    assert.equal(upload.mimeType && upload.mimeType.toLowerCase(), 'video/h264', `the upload is H.264 (getStats codec ${upload.mimeType})`);
    assert.equal(fmtpParam(upload.fmtp, 'packetization-mode'), '1', `H.264 packetization-mode 1 (${upload.fmtp})`);
    const audio = stream(await pageRtp(hana), 'outbound', 'audio');
    assert.ok(audio && audio.mimeType.toLowerCase() === 'audio/opus' && audio.packets > 0, 'the upload carries Opus audio');
    const pub = await hana.evaluate(() => window.onairDebug.publisherStats());
    assert.ok(pub && pub.video && pub.video.framesEncoded > 0 && pub.streams >= 1 && pub.streams <= 3,
      'onairDebug.publisherStats() shows encoded video (one stream per simulcast layer)');
    t.diagnostic(`upload: ${upload.mimeType} ${upload.fmtp} by ${upload.encoderImplementation || '?'}, ${upload.frameWidth}x${upload.frameHeight}`);
  });

  step('3. two Chromium viewers decode the H.264 stream', async t => {
    v1 = await chromiumPage('vera');
    const t1 = Date.now();
    await v1.goto(srv.url + '/view/hana');
    await v1.locator('#title').filter({ hasText: /^hana$/ }).waitFor({ timeout: WAIT_MS });
    const a = await assertPlaysH264(v1, 'vera', t1);
    // Let the broadcast run a while, so the second viewer joins mid-stream
    // and has to start from a keyframe.
    await sleep(3000);
    v2 = await chromiumPage('vince');
    const t2 = Date.now();
    await v2.goto(srv.url + '/view/hana');
    const b = await assertPlaysH264(v2, 'vince', t2);
    for (const [got, who] of [[a, 'vera'], [b, 'vince']]) {
      t.diagnostic(`${who}: ${got.video.mimeType} ${got.video.fmtp} ${got.video.decoderImplementation ? 'by ' + got.video.decoderImplementation + ', ' : ''}first frame after ${got.firstFrameMs} ms`);
      // onair maps the broadcaster's H.264 onto the payload type the viewer
      // offered for the same profile and packetization mode.
      assert.equal(fmtpParam(got.video.fmtp, 'packetization-mode'), '1', `${who}: packetization-mode 1 (${got.video.fmtp})`);
      assert.equal(fmtpParam(got.video.fmtp, 'profile-level-id'), fmtpParam(upload.fmtp, 'profile-level-id'),
        `${who}: the viewer's H.264 profile-level-id is the broadcaster's (${got.video.fmtp} vs ${upload.fmtp})`);
      assert.ok(got.firstFrameMs < 10000, `${who}: first frame within 10 s of opening the page (${got.firstFrameMs} ms)`);
    }
    // The first viewer kept playing while the second joined.
    const s = await videoStats(v1);
    await eventually(async () => (await videoStats(v1)).framesDecoded > s.framesDecoded + 10, 'vera keeps decoding');
    await eventually(() => hana.evaluate(() => document.querySelector('#viewers').textContent === '2'), 'hana\'s page shows 2 watching');
    // Frames the broadcaster encodes arrive with its size (its largest
    // simulcast layer, once onair switched the viewer to it).
    await eventually(async () => {
      const up = topLayer(await pageRtp(hana));
      const down = stream(await pageRtp(v2), 'inbound', 'video');
      return up && down && `${down.frameWidth}x${down.frameHeight}` === `${up.frameWidth}x${up.frameHeight}`;
    }, 'the viewer to decode the broadcaster\'s frame size (its largest layer)', 20000);

    // H.264 goes up as simulcast layers too: vince on Low decodes the
    // lowest one, smaller than the top, still H.264; back on Auto, the top.
    const r = await pageRtp(hana);
    const layers = r.outbound.filter(s => s.kind === 'video');
    assert.ok(layers.length >= 2 && layers.every(s => s.rid), `the page sends H.264 as simulcast layers (rids ${layers.map(s => s.rid || '-')})`);
    const top = topLayer(r);
    await v2.locator('#quality').selectOption('low');
    const low = await eventually(async () => {
      const down = stream(await pageRtp(v2), 'inbound', 'video');
      return down && down.frameWidth > 0 && down.frameWidth < top.frameWidth ? down : null;
    }, 'vince on Low to decode a smaller picture than the top layer', 20000);
    assert.equal(low.mimeType.toLowerCase(), 'video/h264', `vince on Low decodes H.264 (${low.mimeType})`);
    t.diagnostic(`H.264 layers: ${layers.map(s => `${s.rid} ${s.frameWidth}x${s.frameHeight}`).join(', ')}; vince on Low: ${low.frameWidth}x${low.frameHeight}`);
    await v2.locator('#quality').selectOption('auto');
    await eventually(async () => {
      const down = stream(await pageRtp(v2), 'inbound', 'video');
      return down && down.frameWidth === top.frameWidth;
    }, 'vince back on Auto to decode the top layer again', 20000);
  });

  step('4. a Firefox viewer without H.264 is told plainly, and the others keep playing', async t => {
    const context = await firefox.createBrowserContext();
    const page = await context.newPage();
    page.on('pageerror', e => pageErrors.push(`fern (firefox): ${e.message}`));
    await addInitScript(page);
    await page.goto(srv.url + '/');
    const canH264 = await page.evaluate(() => RTCRtpReceiver.getCapabilities('video').codecs.some(c => /h264/i.test(c.mimeType)));
    await page.click('#tab-signup');
    await page.type('#signup-username', 'fern');
    await page.type('#signup-password', PASSWORD);
    await page.click('#signup button[type=submit]');
    await page.waitForFunction(() => location.pathname === '/dashboard', { timeout: WAIT_MS });
    await page.goto(srv.url + '/view/hana');
    if (canH264) {
      // A Firefox with an H.264 decoder (the OpenH264 plugin) plays it.
      await eventually(() => page.evaluate(() => document.querySelector('#video').videoWidth > 0), 'fern: <video> has a frame', MEDIA_MS);
      const s = await eventually(async () => { const x = await videoStats(page); return x && x.framesDecoded > 10 ? x : null; }, 'fern: frames decoded', MEDIA_MS);
      assert.ok(s.frameWidth > 0);
    } else {
      // onair refuses the offer with no_codec, and the page says so.
      const text = await eventually(() => page.evaluate(() => {
        const m = document.querySelector('#video-msg');
        return m && !m.hidden && /could not send the video/i.test(m.textContent) ? m.textContent : null;
      }), 'fern: the page says the video cannot be sent', WAIT_MS);
      assert.match(text, /codec|H\.?264|decode/i, `the message names the reason: ${JSON.stringify(text)}`);
      t.diagnostic(`fern (firefox, no H.264) sees: ${text}`);
      assert.equal(await page.evaluate(() => document.querySelector('#video').videoWidth), 0, 'fern: no video frames');
      // The rest of the room works for fern: chat reaches the broadcaster.
      await page.type('.chat-input', 'no video here');
      await page.click('.chat-send');
      await hana.locator('.chat-list .chat-msg').filter({ hasText: 'no video here' }).waitFor({ timeout: WAIT_MS });
    }
    for (const [p, who] of [[v1, 'vera'], [v2, 'vince']]) {
      const s = await videoStats(p);
      await eventually(async () => (await videoStats(p)).framesDecoded > s.framesDecoded + 10, `${who} keeps decoding`);
    }
    await context.close();
  });

  step('5. no page errors or CSP violations; onair still running', async () => {
    assert.deepEqual(pageErrors, []);
    assert.ok(srv.alive(), 'onair is still running');
  });
});
