// Interop of onair's SFU with an independent WebRTC stack: Debian's
// python3-aiortc (tests/e2e/aiortc_peer.py), speaking onair's own HTTP API
// and WebSocket protocol, against Debian's chromium through playwright-core.
//   - an aiortc publisher's generated video (and tone) is decoded by a
//     Chromium viewer and by an aiortc viewer;
//   - a Chromium broadcaster is received and decoded by an aiortc viewer.
//
// aioice (aiortc's ICE) skips 127.0.0.1, so this test gives its network
// namespace a veth pair with 10.99.0.1 and onair binds and announces that
// address for media; Chromium reaches it too. Run inside a namespace:
//   tests/e2e/in-netns.sh node --test tests/e2e/interop.test.js
// Env: ONAIR_BIN, ONAIR_WEB (see tests/lib/server.js), ONAIR_TEST_PYTHON
// (default /usr/bin/python3).
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { chromium } = require('playwright-core');
const { startOnair } = require('../lib/server.js');
const { startAiortcPeer, PYTHON } = require('../lib/aiortc-peer.js');
const {
  CHROMIUM, BROWSER_ARGS, eventually, pageRtp, newUserContext, watchPage, openViewer, goLive, viewerStats, assertPlays,
  addVeth, inOwnNetns,
} = require('../lib/media-e2e.js');

const MEDIA_ADDR = '10.99.0.1';
const STEP_MS = 60000;

function aiortcMissing() {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} is missing`;
  try {
    require('node:child_process').execFileSync(PYTHON, ['-c', 'import aiortc, av, websockets, numpy'], { stdio: 'pipe' });
  } catch (e) {
    return `${PYTHON} lacks python3-aiortc or python3-websockets (scripts/install-deps.sh --test): ${String(e.stderr || e.message).trim().split('\n').pop()}`;
  }
  if (!inOwnNetns()) return 'not inside a network namespace of its own (run under tests/e2e/in-netns.sh)';
  return null;
}

describe('interop with aiortc', { timeout: 170000 }, () => {
  let srv;
  let browser;
  const peers = [];
  const errors = [];
  const missing = aiortcMissing();

  function step(name, fn, opts = {}) {
    test(name, { timeout: STEP_MS, ...opts }, async t => {
      if (missing) throw new Error(missing);
      try {
        await fn(t);
      } catch (e) {
        if (opts.todo) throw e;
        if (srv) t.diagnostic('onair log (tail):\n' + srv.log().slice(-4000));
        for (const p of peers) t.diagnostic(p.output());
        throw e;
      }
    });
  }

  function aiortc(args) {
    const p = startAiortcPeer(['--url', srv.url, ...args]);
    peers.push(p);
    return p;
  }

  const viewerPage = (name, room) => openViewer(browser, srv, name, room, errors);

  before(async () => {
    if (missing) return;
    addVeth('v0', 'v1', [`${MEDIA_ADDR}/24`]);
    srv = await startOnair(['--media-bind', MEDIA_ADDR, '--media-announce', MEDIA_ADDR]);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
  });

  after(async () => {
    await Promise.all(peers.map(p => p.stop()));
    if (browser) await browser.close().catch(() => {});
    if (srv) await srv.stop();
  });

  step('an aiortc publisher is decoded by Chromium and by an aiortc viewer', async t => {
    const pub = aiortc(['--user', 'pyro', '--publish', '--title', 'colour bars from aiortc']);
    await pub.waitFor('live', 'live.started');
    const answer = await pub.waitFor('answer', 'media.answer');
    assert.match(answer.sdp, new RegExp(`^c=IN IP4 ${MEDIA_ADDR.replace(/\./g, '\\.')}`, 'm'), 'the answer points at the announced address');
    await pub.waitFor(e => e.event === 'state' && e.state === 'connected', 'its connection to onair', 20000);

    const chrome = await viewerPage('cleo', 'pyro');
    const s = await assertPlays(chrome.page, 'Chromium viewer of aiortc', { frames: 30 });
    t.diagnostic(`Chromium decoded ${s.framesDecoded} frames ${s.frameWidth}x${s.frameHeight}, audio samples ${s.audio.totalSamplesReceived}`);
    assert.equal(s.frameWidth, 640, 'the width aiortc sends');
    assert.equal(s.frameHeight, 480, 'the height aiortc sends');

    const view = aiortc(['--user', 'pia', '--view', 'pyro', '--frames', '60', '--timeout', '30']);
    const joined = await view.waitFor('joined', 'room.joined');
    assert.equal(joined.media_ready, true, 'room.joined says the media is ready');
    const done = await view.waitFor(e => e.event === 'done' || e.event === 'timeout' || e.event === 'error', 'its result', 45000);
    t.diagnostic(`aiortc viewer: ${JSON.stringify(done)}`);
    assert.equal(done.event, 'done', `the aiortc viewer decoded enough: ${JSON.stringify(done)}`);
    assert.ok(done.video >= 60, 'at least 60 video frames');
    assert.equal(done.width, 640);
    assert.equal(done.height, 480);
    assert.ok(done.audio >= 25, 'audio frames too');
    assert.equal((await view.exited).code, 0, 'the aiortc viewer exits 0');

    // Chromium still plays, then the publisher leaves: the room ends.
    const before = await viewerStats(chrome.page);
    await eventually(async () => (await viewerStats(chrome.page)).framesDecoded > before.framesDecoded + 15,
      'the Chromium viewer to keep decoding');
    await pub.stop();
    await chrome.page.getByText('This stream has ended').waitFor({ state: 'visible', timeout: 10000 });
    await chrome.context.close();
  });

  let carla = null;        // the Chromium broadcaster of the second step
  let carlaViewer = null;  // what its aiortc viewer reported
  step('a Chromium broadcaster is decoded by an aiortc viewer', async t => {
    const bc = carla = await newUserContext(browser, srv, 'carla');
    bc.page = watchPage(await bc.context.newPage(), 'carla', errors);
    await goLive(bc.page, srv, 'from Chromium');

    const view = aiortc(['--user', 'pavel', '--view', 'carla', '--frames', '60', '--timeout', '30']);
    const done = carlaViewer = await view.waitFor(e => e.event === 'done' || e.event === 'timeout' || e.event === 'error', 'its result', 45000);
    t.diagnostic(`aiortc viewer: ${JSON.stringify(done)}`);
    assert.equal(done.event, 'done', `the aiortc viewer decoded enough: ${JSON.stringify(done)}`);
    assert.ok(done.video >= 60, 'at least 60 video frames');
    // The simulcast layer onair sends it: the largest one the broadcaster sends.
    const out = (await pageRtp(bc.page)).outbound.video.filter(v => v.active !== false && v.packetsSent > 0)
      .reduce((a, b) => (b.frameWidth > a.frameWidth ? b : a));
    t.diagnostic(`Chromium sends ${out.frameWidth}x${out.frameHeight}, ${out.framesEncoded} frames encoded so far`);
    t.diagnostic(view.events.filter(e => e.event === 'frames').map(e => `${e.t}s v=${e.video} a=${e.audio}`).join(', '));
    assert.ok(done.width >= 160 && done.width <= 1920 && done.height >= 90 && done.height <= 1080,
      `a sensible frame size: ${done.width}x${done.height}`);
    assert.equal(done.width, out.frameWidth, 'the width Chromium encodes');
    assert.equal(done.height, out.frameHeight, 'the height Chromium encodes');
    assert.ok(done.audio >= 25, 'audio frames too');
    assert.equal((await view.exited).code, 0, 'the aiortc viewer exits 0');
  });

  // Chromium here has two host candidates (127.0.0.1 and 10.99.0.1). It
  // nominates one pair (USE-CANDIDATE) and keeps checking the other; onair
  // moves the peer's one bound address to whichever pair sent the latest
  // check and drops DTLS/SRTP from the nominated pair until its next check
  // (src/media/sfu.c, on_stun and on_datagram). So the first second or so
  // of the upload is lost, a viewer that starts then gets a gap it cannot
  // NACK back, and aiortc (strict about sequence gaps) freezes until its
  // jitter buffer overflows and it sends a PLI, ~5 s later.
  step('onair loses none of a Chromium upload that checks two candidate pairs', async t => {
    assert.ok(carla && carlaViewer, 'the previous step ran');
    const rr = await eventually(async () => {
      const s = await pageRtp(carla.page);
      return s.remoteInbound.video.length ? s.remoteInbound.video[0] : null;
    }, 'onair\'s receiver reports on the broadcaster\'s video');
    t.diagnostic(`onair's receiver report: ${JSON.stringify(rr)}; aiortc viewer: first frame after ${carlaViewer.first_ms} ms, longest wait between frames ${carlaViewer.max_gap_ms} ms`);
    await carla.page.locator('#end').click();
    await carla.page.locator('#golive').waitFor({ state: 'visible', timeout: 15000 });
    assert.equal(rr.packetsLost, 0, 'onair received every video packet the broadcaster sent (on a lossless veth)');
  });

  step('no page errors or CSP violations; onair still runs', () => {
    assert.deepEqual(errors, []);
    assert.ok(srv.alive(), 'onair is still running');
  });
});
