// Simulcast, in Debian's chromium: the broadcast page sends its camera as
// three layers (a quarter, half and full size); each viewer gets one, by its
// quality menu. A viewer on Low decodes the low layer's size, one on Audio
// only gets no video packets, and the layers nobody watches are paused at the
// broadcaster (its getStats shows them inactive) until a viewer wants them.
// A viewer on Auto gets the layer its downlink carries: every page's media
// goes through a UDP relay in the test (tests/lib/udp-relay.js: onair
// announces the relay's address), which can put a bottleneck (a token
// bucket, 300 kbit/s) before one viewer; that viewer moves down to the low
// layer and keeps decoding, the others keep theirs, and it comes back up
// once the bottleneck is gone. A bottleneck on the broadcaster's uplink:
// its browser stops sending the layers that do not fit, it stays live, the
// High viewer gets the best layer still sent, and the high one again after.
//
// Run inside a network namespace so WebRTC stays on loopback:
//   tests/e2e/in-netns.sh node --test tests/e2e/simulcast.test.js
// Env: ONAIR_BIN, ONAIR_WEB (see tests/lib/server.js).
'use strict';
const { describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { chromium } = require('playwright-core');
const { stepper } = require('../lib/steps.js');
const { startOnair, freePort } = require('../lib/server.js');
const { startLossyRelay } = require('../lib/udp-relay.js');
const {
  CHROMIUM, BROWSER_ARGS, sleep, eventually, pageRtp, newUserContext, watchPage, goLive, assertPlays,
  openViewer, viewerStats,
} = require('../lib/media-e2e.js');

const STEP_MS = 90000;
const RELAY_ADDR = '127.0.0.2';
const CAP_BPS = 300000;
const UPLINK_BPS = 500000;

// The ICE ufrag of a page's newest open connection (what its checks name).
function pageUfrag(page) {
  return page.evaluate(() => {
    const pc = window.__onairTest.pcs.filter(p => p.connectionState === 'connected').pop();
    return pc ? /a=ice-ufrag:(\S+)/.exec(pc.localDescription.sdp)[1] : null;
  });
}

// Samples a viewer's decoded frames every 100 ms until stop() is called:
// resolves to the frames decoded and the longest time without a new one.
function watchFrames(page) {
  let on = true;
  const done = (async () => {
    let last = null;
    let lastChange = Date.now();
    let longest = 0;
    let first = null;
    while (on) {
      const s = await viewerStats(page).catch(() => null);
      const f = s ? s.framesDecoded : 0;
      if (first === null) first = f;
      if (last !== null && f > last) {
        longest = Math.max(longest, Date.now() - lastChange);
        lastChange = Date.now();
      }
      last = f;
      await sleep(100);
    }
    longest = Math.max(longest, Date.now() - lastChange);
    return { frames: last - first, longest };
  })();
  return { stop: () => { on = false; return done; } };
}

// The broadcaster's simulcast layers as its getStats tells them, lowest first.
async function layers(page) {
  const s = await page.evaluate(() => window.onairDebug.publisherStats());
  return s && Array.isArray(s.layers) ? s.layers.slice().sort((a, b) => a.rid.localeCompare(b.rid)) : [];
}
const byRid = (list, rid) => list.find(l => l.rid === rid);

// The browser's own estimate of what it may send (its congestion control,
// fed by onair's transport-wide feedback), bits per second, or 0.
async function outgoingEstimate(page) {
  return page.evaluate(async () => {
    let bps = 0;
    for (const pc of window.__onairTest.pcs) {
      if (pc.connectionState !== 'connected') continue;
      (await pc.getStats()).forEach(s => {
        if (s.type === 'candidate-pair' && s.nominated && s.availableOutgoingBitrate) bps = s.availableOutgoingBitrate;
      });
    }
    return bps;
  });
}

// Picks an entry of a viewer's quality menu, as a user would.
async function choose(page, quality) {
  await page.locator('#quality').selectOption(quality);
}

describe('simulcast: three layers, a quality menu, unwatched layers paused', { timeout: 300000 }, () => {
  let srv;
  let relay;
  let browser;
  let bc;
  const viewers = {};
  const errors = [];

  const step = stepper({ server: () => srv, timeoutMs: STEP_MS });

  before(async () => {
    const port = await freePort();
    relay = await startLossyRelay({
      listen: { address: RELAY_ADDR, port },
      target: { address: '127.0.0.1', port },
      lossRate: 0,
    });
    srv = await startOnair(['--media-announce', RELAY_ADDR], { port });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
  });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (srv) await srv.stop();
    if (relay) relay.close();
  });

  step('the broadcaster goes live with three layers; with nobody watching, only the lowest is sent', async t => {
    bc = await newUserContext(browser, srv, 'sim_bc');
    bc.page = watchPage(await bc.context.newPage(), bc.name, errors);
    await goLive(bc.page, srv, 'three layers');
    const l = await eventually(async () => {
      const x = await layers(bc.page);
      return x.length === 3 && !byRid(x, 'h').active && !byRid(x, 'm').active && byRid(x, 'l').active ? x : null;
    }, 'three encodings, h and m paused, l sent', 20000);
    t.diagnostic(`layers: ${JSON.stringify(l)}`);
  });

  step('a viewer on Low decodes the low layer; the higher ones stay paused', async t => {
    viewers.low = await openViewer(browser, srv, 'sim_low', bc.name, errors);
    await assertPlays(viewers.low.page, 'low viewer');
    await choose(viewers.low.page, 'low');
    const low = byRid(await layers(bc.page), 'l');
    const s = await eventually(async () => {
      const v = await viewerStats(viewers.low.page);
      return v && v.layer === 'low' && v.frameWidth === low.frameWidth && v.frameHeight === low.frameHeight ? v : null;
    }, `the low viewer decodes the low layer's ${low.frameWidth}x${low.frameHeight}`, 20000);
    t.diagnostic(`low viewer: ${s.frameWidth}x${s.frameHeight}, layer ${s.layer}`);
    await sleep(1500);
    const l = await layers(bc.page);
    assert.equal(byRid(l, 'h').active, false, 'the high layer is paused while only a Low viewer watches');
    assert.equal(byRid(l, 'm').active, false, 'the medium layer too');
  });

  step('a viewer on Audio only gets sound and no video packets', async t => {
    viewers.audio = await openViewer(browser, srv, 'sim_audio', bc.name, errors);
    await assertPlays(viewers.audio.page, 'audio viewer');
    await choose(viewers.audio.page, 'audio');
    await eventually(async () => (await viewerStats(viewers.audio.page)).layer === 'none', 'onair says no video is sent');
    await sleep(500); // what was on its way
    const a = await pageRtp(viewers.audio.page);
    await sleep(3000);
    const b = await pageRtp(viewers.audio.page);
    const v0 = a.inbound.video[0];
    const v1 = b.inbound.video[0];
    t.diagnostic(`audio viewer: video packets ${v0.packetsReceived} -> ${v1.packetsReceived}, audio bytes ${a.inbound.audio[0].bytesReceived} -> ${b.inbound.audio[0].bytesReceived}`);
    assert.equal(v1.packetsReceived, v0.packetsReceived, 'no video packet in 3 s');
    assert.ok(b.inbound.audio[0].bytesReceived > a.inbound.audio[0].bytesReceived, 'audio keeps coming');
  });

  step('a viewer on High: the high layer is sent again, and that viewer decodes it', async t => {
    viewers.high = await openViewer(browser, srv, 'sim_high', bc.name, errors);
    await assertPlays(viewers.high.page, 'high viewer');
    await choose(viewers.high.page, 'high');
    await eventually(async () => byRid(await layers(bc.page), 'h').active, 'the broadcaster sends the high layer again', 20000);
    const s = await eventually(async () => {
      const high = byRid(await layers(bc.page), 'h');
      const v = await viewerStats(viewers.high.page);
      return v && v.layer === 'high' && high.frameWidth > 0 && v.frameWidth === high.frameWidth ? v : null;
    }, 'the high viewer decodes the high layer\'s size', 30000);
    const low = await viewerStats(viewers.low.page);
    t.diagnostic(`high viewer: ${s.frameWidth}x${s.frameHeight}; low viewer: ${low.frameWidth}x${low.frameHeight}; ` +
      `the broadcaster's estimate: ${Math.round(await outgoingEstimate(bc.page) / 1000)} kbit/s`);
    assert.ok(s.frameWidth > low.frameWidth, 'High is larger than Low');
    await assertPlays(viewers.low.page, 'low viewer, still');
    await assertPlays(viewers.high.page, 'high viewer, still');
  });

  step('a viewer on Auto gets the high layer its network carries', async t => {
    viewers.auto = await openViewer(browser, srv, 'sim_auto', bc.name, errors);
    await assertPlays(viewers.auto.page, 'auto viewer');
    const t0 = Date.now();
    const s = await eventually(async () => {
      const v = await viewerStats(viewers.auto.page);
      return v && v.layer === 'high' && v.frameWidth === byRid(await layers(bc.page), 'h').frameWidth ? v : null;
    }, 'the Auto viewer on the high layer', 60000);
    t.diagnostic(`auto viewer: ${s.frameWidth}x${s.frameHeight} on ${s.layer} after ${Date.now() - t0} ms`);
  });

  step('a bottleneck of 300 kbit/s before the Auto viewer: it moves to the low layer and keeps playing', async t => {
    const ufrag = await pageUfrag(viewers.auto.page);
    assert.ok(ufrag, 'the Auto viewer\'s connection');
    const frames = watchFrames(viewers.auto.page);
    const t0 = Date.now();
    const link = relay.cap(ufrag, CAP_BPS);
    const low = byRid(await layers(bc.page), 'l');
    const s = await eventually(async () => {
      const v = await viewerStats(viewers.auto.page);
      return v && v.layer === 'low' && v.frameWidth === low.frameWidth ? v : null;
    }, 'the capped viewer on the low layer', 30000);
    const tookMs = Date.now() - t0;
    await sleep(5000); // and it stays there, decoding
    const f = await frames.stop();
    const still = await viewerStats(viewers.auto.page);
    const sentHigh = byRid(await layers(bc.page), 'h'); // what the broadcaster's high layer is now
    const high = await viewerStats(viewers.high.page);
    t.diagnostic(`capped viewer: low layer (${s.frameWidth}x${s.frameHeight}) after ${tookMs} ms; ` +
      `${f.frames} frames decoded since the cap, longest gap ${f.longest} ms; bottleneck dropped ${link.dropped()} packets; ` +
      `the High viewer: ${high.frameWidth}x${high.frameHeight} ${high.layer}`);
    // The issue asks that it get to the low layer and keep decoding; after
    // the 5 s hold a probe (10 kB: BWE_PROBE_MIN_BYTES; a 30 ms one passed
    // whole in the relay's burst and led it up) may find room for medium
    // when that layer is cheap, never for high under 300 kbit/s.
    t.diagnostic(`5 s later: ${still.layer} (${still.frameWidth}x${still.frameHeight}); ` +
      `the broadcaster's high layer: ${sentHigh.frameWidth}x${sentHigh.frameHeight}`);
    // Chromium scales its layers down when its CPU is short (a loaded
    // machine): a high layer sent at the low one's size costs what low does,
    // and Auto may take it (seen once in a clean-clone run: "high", 320x180).
    assert.ok(still.layer !== 'high' || sentHigh.frameWidth <= low.frameWidth,
      `not back on the high layer under the bottleneck (${still.layer}, ${still.frameWidth}x${still.frameHeight}; ` +
      `high sent at ${sentHigh.frameWidth}x${sentHigh.frameHeight})`);
    assert.ok(f.frames >= 50, `its video kept decoding (${f.frames} frames)`);
    // The gap is a time: shown above; asserted only as "no stall" (the
    // issue's 1 s is what bench/ measures), since a loaded machine stretches it.
    assert.ok(f.longest < 3000, `no stall: longest gap ${f.longest} ms`);
    assert.equal(high.layer, 'high', 'the High viewer keeps the high layer');
    assert.equal((await viewerStats(viewers.low.page)).layer, 'low', 'the Low viewer keeps the low layer');
  });

  step('the bottleneck lifted: the Auto viewer climbs back to the high layer', async t => {
    const ufrag = await pageUfrag(viewers.auto.page);
    const t0 = Date.now();
    relay.uncap(ufrag);
    const s = await eventually(async () => {
      const v = await viewerStats(viewers.auto.page);
      return v && v.layer === 'high' && v.frameWidth === byRid(await layers(bc.page), 'h').frameWidth ? v : null;
    }, 'the Auto viewer back on the high layer', 60000);
    t.diagnostic(`auto viewer back on ${s.layer} (${s.frameWidth}x${s.frameHeight}) after ${Date.now() - t0} ms`);
    await assertPlays(viewers.auto.page, 'auto viewer, after');
    // What an operator sees of it (docs/operations.md).
    const text = await (await fetch(srv.url + '/metrics')).text();
    const v = name => Number((new RegExp(`^${name} (\\S+)$`, 'm').exec(text) || [])[1]);
    const m = {
      switches: v('onair_layer_switches_total'), probes: v('onair_probe_packets_total'),
      viewerFeedback: v('onair_viewer_feedback_total'), publisherFeedback: v('onair_publisher_feedback_total'),
    };
    t.diagnostic(`metrics: ${JSON.stringify(m)}`);
    assert.ok(m.switches >= 2, 'the Auto viewer\'s moves down and up are counted');
    assert.ok(m.probes > 0, 'its climb back was probed for');
    assert.ok(m.viewerFeedback > 0 && m.publisherFeedback > 0, 'transport-wide feedback both ways');
  });

  step('a weak uplink: the broadcaster stays live, its highest layer goes, viewers keep playing', async t => {
    const ufrag = await pageUfrag(bc.page);
    const t0 = Date.now();
    relay.cap(ufrag, UPLINK_BPS, 300, { up: true });
    const s = await eventually(async () => {
      const v = await viewerStats(viewers.high.page);
      return v && v.layer !== 'high' && v.frameWidth > 0 ? v : null;
    }, 'the High viewer moved to a layer the uplink still carries', 60000);
    t.diagnostic(`uplink capped at ${UPLINK_BPS / 1000} kbit/s: the High viewer on ${s.layer} (${s.frameWidth}x${s.frameHeight}) ` +
      `after ${Date.now() - t0} ms; layers sent: ${JSON.stringify((await layers(bc.page)).map(l => [l.rid, l.active, l.frameWidth]))}`);
    await assertPlays(viewers.high.page, 'high viewer, weak uplink');
    await assertPlays(viewers.low.page, 'low viewer, weak uplink');
    assert.equal(await bc.page.locator('#end').isVisible(), true, 'the broadcaster is still live');
    const t1 = Date.now();
    relay.uncap(ufrag, { up: true });
    const back = await eventually(async () => {
      const v = await viewerStats(viewers.high.page);
      return v && v.layer === 'high' && v.frameWidth === byRid(await layers(bc.page), 'h').frameWidth ? v : null;
    }, 'the High viewer back on the high layer', 90000);
    t.diagnostic(`uplink free again: the High viewer on high (${back.frameWidth}x${back.frameHeight}) after ${Date.now() - t1} ms`);
  });

  step('no page errors or CSP violations', () => {
    assert.deepEqual(errors, []);
    assert.ok(srv.alive(), 'onair is still running');
  });
});
