// End to end through onair's SFU in Debian's chromium: one broadcaster, three
// viewers and a late one, each a separate signed-in user in their own browser
// context. Checks what the media plane promises (docs/media.md): every viewer
// decodes video and audio, the broadcaster uploads one video stream however
// many watch, a late viewer decodes (its offer sent with its room.join), viewers come and go
// without disturbing the others, a viewer that stops its ICE consent checks is
// dropped, and the end of the broadcast stops everyone.
//
// Run inside a network namespace so WebRTC stays on loopback:
//   tests/e2e/in-netns.sh node --test tests/e2e/sfu.test.js
// Env: ONAIR_BIN, ONAIR_WEB (see tests/lib/server.js).
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { chromium } = require('playwright-core');
const { stepper } = require('../lib/steps.js');
const { startOnair } = require('../lib/server.js');
const {
  CHROMIUM, BROWSER_ARGS, eventually, pageRtp, newUserContext, watchPage, goLive, viewerStats, assertPlays,
  blockUdpFromPort, selectedLocalPort, afterNextIceCheck,
} = require('../lib/media-e2e.js');

const CONSENT_MS = 3000;
const STEP_MS = 45000;

// framesDecoded of each page, now and again once each has gone up by `more`.
async function allKeepDecoding(pages, more, label, timeoutMs = 10000) {
  const start = await Promise.all(pages.map(p => viewerStats(p.page)));
  await Promise.all(pages.map(async (p, i) => {
    assert.ok(start[i] && start[i].framesDecoded > 0, `${label}: ${p.name} was decoding`);
    await eventually(async () => {
      const s = await viewerStats(p.page);
      return s && s.framesDecoded >= start[i].framesDecoded + more;
    }, `${label}: ${p.name}'s framesDecoded to rise by ${more} from ${start[i].framesDecoded}`, timeoutMs);
  }));
}

describe('SFU in the browser', { timeout: 150000 }, () => {
  let srv;
  let browser;
  const errors = [];
  let bc;              // the broadcaster: { name, context, page }
  const viewers = [];  // { name, context, page }
  let late;            // the viewer who joins last
  let layersAtStart;   // the broadcaster's outbound video SSRCs when it went live
  const ssrcs = s => s.outbound.video.map(v => v.ssrc).sort().join(',');
  let unblock = null;  // undoes the consent step's routing rule

  const step = stepper({ server: () => srv, timeoutMs: STEP_MS });

  async function user(name) {
    const u = await newUserContext(browser, srv, name);
    u.page = watchPage(await u.context.newPage(), name, errors);
    return u;
  }

  async function openView(u) {
    await u.page.goto(`${srv.url}/view/${bc.name}`);
    await u.page.locator('#live-badge').waitFor({ state: 'visible', timeout: 15000 });
  }

  before(async () => {
    srv = await startOnair(['--media-consent-ms', String(CONSENT_MS)]);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
  });

  after(async () => {
    if (unblock) unblock();
    if (browser) await browser.close().catch(() => {});
    if (srv) await srv.stop();
  });

  step('the broadcaster goes live with one upload to onair', async t => {
    bc = await user('bella');
    const s = await goLive(bc.page, srv, 'SFU test');
    assert.equal(s.open, 1, 'the broadcast page has one open RTCPeerConnection');
    // One upload: the camera's simulcast layers (docs/media.md), whatever the viewers.
    assert.ok(s.outbound.video.length >= 1 && s.outbound.video.length <= 3, 'one video upload of at most three layers');
    assert.equal(s.outbound.audio.length, 1, 'one outbound audio stream');
    layersAtStart = ssrcs(s);
    t.diagnostic(`outbound video: ${s.outbound.video.map(v => `${v.rid || '-'} ${v.frameWidth || ''} packets=${v.packetsSent}`).join(', ')}`);
  });

  step('three viewers decode video and audio', async t => {
    for (const name of ['vic', 'val', 'vera']) viewers.push(await user(name));
    await Promise.all(viewers.map(openView));
    const got = await Promise.all(viewers.map(v => assertPlays(v.page, v.name)));
    for (const [i, s] of got.entries()) {
      t.diagnostic(`${viewers[i].name}: ${s.frameWidth}x${s.frameHeight} frames=${s.framesDecoded} audio samples=${s.audio.totalSamplesReceived}`);
    }
    await eventually(async () => (await bc.page.locator('#viewers').textContent()) === '3', 'the broadcaster to see 3 watching');
  });

  step('/metrics counts the media: packets in from one publisher, out to three viewers', async t => {
    const read = async () => {
      const text = await (await fetch(srv.url + '/metrics')).text();
      const v = name => Number((new RegExp(`^${name} (\\S+)$`, 'm').exec(text) || [])[1]);
      return { peers: v('onair_media_peers'), in: v('onair_rtp_packets_received_total'),
        out: v('onair_rtp_packets_sent_total'), viewers: v('onair_viewers'), rooms: v('onair_rooms_live') };
    };
    let a = await read();
    const b = await eventually(async () => {
      const m = await read();
      // A few seconds of media: over a shorter window, what the viewers'
      // worker still holds (a frame's last packets) weighs on the ratio.
      if (!(m.in > a.in + 300 && m.out > a.out + 3 * 240))
        return null;
      // The viewers start on the simulcast layer sent while nobody watched
      // (the lowest) and climb as their estimates allow; 'in' counts every
      // layer. A window taken before they reached the top: the next one.
      if (m.out - a.out < 2 * (m.in - a.in)) {
        a = m;
        return null;
      }
      return m;
    }, 'the RTP counters to rise, each packet in going out to several viewers', 45000);
    t.diagnostic(`metrics: ${JSON.stringify(a)} -> ${JSON.stringify(b)}`);
    assert.equal(b.rooms, 1);
    assert.equal(b.viewers, 3);
    assert.equal(b.peers, 4, 'a publisher and three viewers');
    assert.ok(b.out - a.out >= 2 * (b.in - a.in), 'each packet in goes out to several viewers');
  });

  step('the broadcaster still sends one video stream with three viewers', async t => {
    const before = await pageRtp(bc.page);
    assert.equal(before.pcs, 1, 'the broadcast page made one RTCPeerConnection in all');
    assert.equal(before.open, 1, 'one open RTCPeerConnection');
    assert.equal(ssrcs(before), layersAtStart, 'the same outbound-rtp video entries as with no viewer');
    assert.equal(before.outbound.audio.length, 1, 'one outbound-rtp audio entry');
    // And it is that one upload that keeps flowing (same SSRCs, more packets).
    const sent = s => s.outbound.video.reduce((n, v) => n + v.packetsSent, 0);
    const after = await eventually(async () => {
      const s = await pageRtp(bc.page);
      return ssrcs(s) === layersAtStart && sent(s) > sent(before) + 20 ? s : null;
    }, 'the one upload to keep sending');
    t.diagnostic(`broadcaster: ${after.outbound.video.length} outbound video stream(s), ${after.pcs} RTCPeerConnection(s)`);
    // onair's receiver reports: on loopback it lost nothing of the upload.
    const rr = await eventually(async () => {
      const s = await pageRtp(bc.page);
      return s.remoteInbound.video.length && s.remoteInbound.audio.length ? s.remoteInbound : null;
    }, 'onair\'s receiver reports on the broadcaster\'s streams');
    t.diagnostic(`onair reports: ${JSON.stringify(rr)}`);
    assert.equal(rr.video[0].packetsLost, 0, 'onair received every video packet of the upload');
    assert.equal(rr.audio[0].packetsLost, 0, 'onair received every audio packet of the upload');
  });

  step('a late viewer decodes the broadcast; the broadcaster still sends one stream', async t => {
    late = await user('lena');
    await openView(late);
    const timing = await eventually(() => late.page.evaluate(() => {
      const T = window.__onairTest;
      if (T.firstFrame.length === 0) return null;
      const last = pick => { const m = T.sent.filter(pick).pop(); return m ? m.t : null; };
      const types = T.received.map(x => x.type);
      return { join: last(x => x.type === 'room.join'), offer: last(x => x.offer), frame: T.firstFrame[0].t,
        joinOffered: T.sent.some(x => x.type === 'room.join' && x.offer),
        separateOffers: T.sent.filter(x => x.type === 'media.offer').length,
        answerNext: types.indexOf('media.answer') === types.indexOf('room.joined') + 1,
        answer: (T.received.find(x => x.type === 'media.answer') || {}).t };
    }), 'the late viewer\'s first decoded frame', 15000, 50);
    assert.ok(timing.offer !== null && timing.join !== null, 'the page sent room.join and its offer');
    // A faster join (docs/protocol.md): the offer goes with room.join into a
    // live room, and onair's answer is the very next message after room.joined.
    assert.ok(timing.joinOffered, 'the page\'s offer went with its room.join');
    assert.equal(timing.separateOffers, 0, 'no separate media.offer was needed');
    assert.ok(timing.answerNext, 'media.answer came right after room.joined');
    const fromOffer = timing.frame - timing.offer;
    const fromJoin = timing.frame - timing.join;
    t.diagnostic(`late viewer: first frame ${fromOffer.toFixed(0)} ms after media.offer, ${fromJoin.toFixed(0)} ms after room.join` +
      ` (answer after ${(timing.answer - timing.offer).toFixed(0)} ms)`);
    // How fast is measured by the join-time benchmark, not here: a test
    // that asserts a time fails on a loaded machine.
    assert.ok(timing.frame > timing.offer, 'the first frame came after the viewer\'s offer');
    await assertPlays(late.page, late.name);
    const s = await pageRtp(bc.page);
    assert.equal(ssrcs(s), layersAtStart, 'still the one upload with four viewers');
    assert.equal(s.open, 1, 'still one open RTCPeerConnection on the broadcast page');
  });

  step('one viewer leaving leaves the others playing', async () => {
    const gone = viewers.pop();
    await gone.page.close();
    await eventually(async () => (await bc.page.locator('#viewers').textContent()) === '3', 'the broadcaster to see 3 watching');
    await allKeepDecoding([...viewers, late], 30, 'after vera left');
  });

  step('a viewer that stops its consent checks is dropped; the others play on', async t => {
    // Closing the RTCPeerConnection would not do: Chromium then sends a DTLS
    // close_notify, and onair rightly drops the peer at once for that. To
    // test consent (RFC 7675), the viewer's socket goes silent instead, as
    // when its network vanishes: its datagrams to onair are refused by a
    // routing rule in the test's namespace. The page, its
    // RTCPeerConnection and its WebSocket stay open.
    const open = await late.page.evaluate(() => window.__onairTest.pcs
      .map((pc, i) => (pc.connectionState === 'connected' ? i : -1)).filter(i => i >= 0));
    assert.equal(open.length, 1, 'the late viewer has one connected RTCPeerConnection');
    const local = await selectedLocalPort(late.page, open[0]);
    assert.ok(local && local.port > 0 && local.protocol === 'udp', `the viewer's selected candidate is UDP (${JSON.stringify(local)})`);
    const logBefore = srv.log().length;
    // Right after a check went out, so the silence lasts from now.
    assert.ok(await afterNextIceCheck(late.page, open[0]), 'the viewer sends ICE checks');
    unblock = blockUdpFromPort(local.port);
    const t0 = Date.now();
    const line = await eventually(() => srv.log().slice(logBefore).split('\n').find(l => /consent expired/.test(l)),
      '"consent expired" in onair\'s log', 3 * CONSENT_MS + 7000, 50);
    const took = Date.now() - t0;
    t.diagnostic(`dropped ${took} ms after its checks stopped: ${line.trim()}`);
    assert.match(line, /viewer/, 'the dropped peer is a viewer');
    assert.ok(took >= CONSENT_MS - 500, `not dropped before the consent time (${took} ms after the last check)`);
    const told = await late.page.evaluate(() => window.__onairTest.received.filter(m => m.type === 'media.closed'));
    t.diagnostic(`the viewer's page was told: ${JSON.stringify(told)}`);
    assert.equal(await late.page.evaluate(() => window.__onairTest.ws.readyState), 1, 'its WebSocket is still open');
    await allKeepDecoding(viewers, 30, 'after the silent viewer was dropped');
    // With consent at 3 s and Chromium's checks every ~2.5 s, no healthy peer may be dropped.
    const drops = srv.log().split('\n').filter(l => /consent expired/.test(l));
    assert.equal(drops.length, 1, `only the silent viewer lost consent:\n${drops.join('\n')}`);
  });

  // docs/protocol.md: media.closed means "onair closed that page's media
  // (consent lost, DTLS failed): offer again". The page does, on a new
  // connection, and plays again.
  step('the dropped viewer\'s page offers again once its network is back', async t => {
    if (unblock) { unblock(); unblock = null; }
    const offers = () => late.page.evaluate(() => window.__onairTest.sent.filter(m => m.offer).length);
    await eventually(async () => (await offers()) >= 2, 'a new media.offer from the dropped viewer\'s page', 5000);
    await assertPlays(late.page, late.name, { audio: false });
  });

  step('the broadcaster ending stops every viewer', async () => {
    await bc.page.locator('#end').click();
    for (const v of [...viewers, late]) {
      await v.page.getByText('This stream has ended').waitFor({ state: 'visible', timeout: 5000 });
      assert.equal(await v.page.evaluate(() => document.querySelector('video').srcObject), null, `${v.name}: the video is stopped`);
      assert.equal(await v.page.evaluate(() => window.__onairTest.pcs.every(pc => pc.connectionState === 'closed')), true,
        `${v.name}: its RTCPeerConnection is closed`);
    }
    await bc.page.locator('#golive').waitFor({ state: 'visible', timeout: 15000 });
    assert.equal((await pageRtp(bc.page)).open, 0, 'the broadcaster\'s upload is closed');
    assert.ok(srv.alive(), 'onair is still running');
  });

  step('no page errors or CSP violations', () => {
    assert.deepEqual(errors, []);
  });
});
