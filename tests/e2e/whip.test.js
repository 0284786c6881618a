// WHIP ingest end to end (issue 13): an encoder that is not onair's code,
// Debian's GStreamer webrtcbin driven by tests/e2e/whip_peer.py (the WHIP
// exchange OBS makes), publishes a user's room with the user's stream key;
// Chromium viewers decode its video and hear its audio, in VP8 and in H.264
// (x264enc, as OBS encodes); the encoder stopping (its DELETE) ends the room
// on the viewers' page.
//
// libnice skips 127.0.0.1, so, as in interop.test.js, the test's network
// namespace gets a veth pair with 10.99.0.1 and onair binds and announces
// that address for media. Run inside a namespace:
//   tests/e2e/in-netns.sh node --test tests/e2e/whip.test.js
'use strict';
const { describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { startOnair } = require('../lib/server.js');
const { stepper } = require('../lib/steps.js');
const { startPythonPeer } = require('../lib/python-peer.js');
const { gstMissing } = require('../lib/gst-peer.js');
const {
  CHROMIUM, BROWSER_ARGS, newUserContext, watchPage, openViewer, assertPlays, viewerStats, eventually, goLive,
  addVeth, inOwnNetns,
} = require('../lib/media-e2e.js');

const MEDIA_ADDR = '10.99.0.1';
const STEP_MS = 90000;
const SCRIPT = path.join(__dirname, 'whip_peer.py');

function missing() {
  if (!inOwnNetns()) return 'not inside a network namespace of its own (run under tests/e2e/in-netns.sh)';
  return gstMissing();
}

describe('WHIP: a GStreamer encoder publishes, Chromium watches', { timeout: 400000 }, () => {
  let srv;
  let browser;
  const peers = [];
  const errors = [];
  const why = missing();

  const steps = stepper({
    server: () => srv, timeoutMs: STEP_MS,
    onFail: async t => { for (const p of peers) t.diagnostic(p.output()); },
  });
  const step = (name, fn) => steps(name, async t => {
    if (why) throw new Error(why);
    await fn(t);
  });

  // A signed-up user with a browser context and a stream key.
  async function streamer(name) {
    const u = await newUserContext(browser, srv, name);
    const res = await fetch(`${srv.url}/api/stream-key/new`, {
      method: 'POST', headers: { Cookie: `onair_session=${u.cookie}`, Origin: srv.origin },
    });
    assert.equal(res.status, 200);
    u.key = (await res.json()).key;
    return u;
  }

  function encoder(key, args = []) {
    const p = startPythonPeer(SCRIPT, ['--url', srv.url, '--key', key, ...args], 'WHIP encoder');
    peers.push(p);
    return p;
  }

  const viewer = (name, room) => openViewer(browser, srv, name, room, errors);

  before(async () => {
    if (why) return;
    addVeth('v0', 'v1', [`${MEDIA_ADDR}/24`]);
    srv = await startOnair(['--media-bind', MEDIA_ADDR, '--media-announce', MEDIA_ADDR]);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
  });

  after(async () => {
    await Promise.all(peers.map(p => p.stop()));
    if (browser) await browser.close().catch(() => {});
    if (srv) await srv.stop();
  });

  for (const codec of ['vp8', 'h264']) {
    step(`${codec}: the encoder's room is live; a Chromium viewer decodes it and hears it; DELETE ends it`, async t => {
      const u = await streamer(`obs${codec}`);
      const enc = encoder(u.key, ['--codec', codec, '--width', '640', '--height', '360']);
      const posted = await enc.waitFor('whip', 'the WHIP POST', 20000);
      assert.equal(posted.status, 201, JSON.stringify(posted));
      assert.match(posted.location, /^\/whip\/[A-Za-z0-9_-]{22}$/);
      assert.match(posted.content_type, /^application\/sdp/);
      await enc.waitFor(e => e.event === 'state' && e.state === 'connected', 'its connection to onair', 20000);

      const v = await viewer(`w${codec}`, u.name);
      const s = await assertPlays(v.page, `Chromium viewer of the ${codec} encoder`, { frames: 30 });
      t.diagnostic(`Chromium decoded ${s.framesDecoded} frames ${s.frameWidth}x${s.frameHeight} (${s.codec || codec}), ` +
        `audio samples ${s.audio.totalSamplesReceived}`);
      assert.equal(s.frameWidth, 640, 'the width the encoder sends');
      assert.equal(s.frameHeight, 360, 'the height the encoder sends');
      assert.ok(s.audio.totalSamplesReceived > 0, 'the encoder\'s audio is heard');
      // The room is an ordinary one: the dashboard lists it, chat works.
      const list = await v.page.evaluate(async () => (await (await fetch('/api/rooms')).json()).rooms);
      const room = list.find(r => r.name === u.name);
      assert.ok(room && room.state === 'live' && room.viewers === 1, JSON.stringify(list));
      await v.page.locator('.chat-input').fill('hello OBS');
      await v.page.locator('.chat-send').click();
      await v.page.locator('.chat-list').getByText('hello OBS').waitFor({ timeout: 10000 });

      assert.ok(!srv.log().includes(`msg="media warning" room=${u.name} `), 'no B-frames: no warning');
      assert.equal(await v.page.locator('#shell-notice').isVisible(), false);
      const before = await viewerStats(v.page);
      await eventually(async () => (await viewerStats(v.page)).framesDecoded > before.framesDecoded + 15,
        'the viewer to keep decoding');
      await enc.stop();
      const deleted = await enc.waitFor('deleted', 'the DELETE', 10000);
      assert.equal(deleted.status, 200);
      await v.page.getByText('This stream has ended').waitFor({ state: 'visible', timeout: 10000 });
      await v.context.close();
      await u.context.close();
    });
  }

  step('the broadcast page makes the key, shows the encoder\'s room and its B-frames warning, and ends it', async t => {
    // B-frames on (x264enc bframes=2, as OBS's default).
    const u = await newUserContext(browser, srv, 'obsbf');
    const page = watchPage(await u.context.newPage(), 'obsbf', errors);
    await page.goto(`${srv.url}/broadcast`);
    assert.equal(await page.locator('#whip-url').textContent(), `${srv.url}/whip`);
    await page.getByText('You have no stream key yet.').waitFor();
    await page.locator('#key-new').click();
    const key = page.locator('#key-value');
    await key.waitFor({ state: 'visible' });
    const value = await key.inputValue();
    assert.match(value, /^sk_[A-Za-z0-9_-]{43}$/);
    await page.getByText('it is shown only this once').waitFor();
    // The title, typed before OBS goes live.
    await page.locator('#room-title').fill('Late show from OBS');
    await page.locator('#room-title').press('Tab');

    const enc = encoder(value, ['--codec', 'h264', '--bframes', '2', '--width', '640', '--height', '360']);
    assert.equal((await enc.waitFor('whip', 'the WHIP POST', 20000)).status, 201);
    await page.getByText('You are live from your encoder').waitFor({ timeout: 20000 });
    await page.locator('#live-badge').waitFor({ state: 'visible' });
    const status = page.locator('#status');
    await status.getByText('Your encoder sends B-frames').waitFor({ timeout: 20000 });
    assert.match(await status.textContent(), /Set B-frames to 0 \(OBS: Settings > Output > Streaming > Encoder settings\)/);
    t.diagnostic(`the broadcast page: ${await status.textContent()}`);
    await eventually(() => /msg="media warning" room=obsbf code=bframes message="Your encoder sends B-frames/.test(srv.log()),
      'the log to say it');

    const v = await viewer('wbf', u.name);
    const notice = v.page.locator('#shell-notice');
    await notice.getByText('encoder sends B-frames').waitFor({ state: 'visible', timeout: 20000 });
    assert.equal(await v.page.locator('#room-title').textContent(), 'Late show from OBS');
    await page.locator('#viewer-pill').getByText('1 watching').waitFor({ timeout: 10000 });
    await page.locator('.chat-input').fill('hello from the broadcast page');
    await page.locator('.chat-send').click();
    await v.page.locator('.chat-list').getByText('hello from the broadcast page').waitFor({ timeout: 10000 });

    await page.locator('#end').click();
    await page.getByText('Your encoder\'s broadcast has ended.').waitFor({ timeout: 10000 });
    await v.page.getByText('This stream has ended').waitFor({ state: 'visible', timeout: 10000 });
    await enc.stop();
    assert.equal((await enc.waitFor('deleted', 'the DELETE', 10000)).status, 404, 'the session ended with the room');
    await v.context.close();
    await u.context.close();
  });

  step('WHEP: a GStreamer player with the broadcaster\'s watch token decodes a Chromium broadcast, counts as a viewer, and leaves on DELETE', async t => {
    const bc = await newUserContext(browser, srv, 'whepcaster');
    bc.page = watchPage(await bc.context.newPage(), 'whepcaster', errors);
    await goLive(bc.page, srv, 'to a WHEP player');
    assert.equal(await bc.page.locator('#whep-url').textContent(), `${srv.url}/whep/whepcaster`);
    await bc.page.locator('#token-new').click();
    await bc.page.locator('#token-value').waitFor({ state: 'visible' });
    const token = await bc.page.locator('#token-value').inputValue();
    assert.match(token, /^wt_[A-Za-z0-9_-]{43}$/);
    const player = startPythonPeer(SCRIPT, ['--url', srv.url, '--whep', bc.name, '--key', token], 'WHEP player');
    peers.push(player);
    const posted = await player.waitFor('whip', 'the WHEP POST', 20000);
    assert.equal(posted.status, 201, JSON.stringify(posted));
    assert.match(posted.location, /^\/whep\/whepcaster\/[A-Za-z0-9_-]{22}$/);
    const stats = await player.waitFor(e => e.event === 'stats' && e.video_decoded >= 30 && e.audio_decoded > 0,
      '30 video frames and audio decoded', 30000);
    t.diagnostic(`WHEP player: ${JSON.stringify(stats)}`);
    assert.ok(stats.width >= 160 && stats.height >= 90, `a picture: ${stats.width}x${stats.height}`);
    await bc.page.locator('#viewer-pill').getByText('1 watching').waitFor({ timeout: 10000 });
    await player.stop();
    assert.equal((await player.waitFor('deleted', 'the DELETE', 10000)).status, 200);
    await bc.page.locator('#viewer-pill').getByText('0 watching').waitFor({ timeout: 10000 });
    await bc.context.close();
  });

  step('no page error and no CSP violation', async () => {
    assert.deepEqual(errors, []);
  });
});
