// Pages that survive the real world (issue 10), with three machines on the
// test's private network: onair on its default bind (every interface, port
// 8080, no --listen, no media-announce) in the test's namespace; the
// broadcaster's Chromium in a second namespace and the viewer's in a third,
// each reaching onair only through a veth link, so video can only flow
// through the host addresses onair announces by itself.
//
// - A view page opened while the room is offline says so and starts playing
//   by itself when the broadcaster goes live.
// - The broadcaster's network goes down for 10 s (longer than the WebSocket
//   timeout, shorter than the grace period): the viewer sees the
//   "connection dropped, waiting" notice, then plays again without a click;
//   the broadcaster's page is live again in the same room and says it
//   reconnected; chat sent during the gap is there.
// - Down for longer than the grace period: the room ends as before, and the
//   broadcaster's page says why and goes live again in one click, which
//   brings the waiting viewer back.
//
//   tests/e2e/in-netns.sh node --test tests/e2e/reconnect.test.js
'use strict';
const { describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { chromium } = require('playwright-core');
const { stepper } = require('../lib/steps.js');
const { startOnair } = require('../lib/server.js');
const { makeNetns } = require('../lib/netns.js');
const {
  BROWSER_ARGS, sleep, eventually, newUserContext, watchPage, goLive, assertPlays,
} = require('../lib/media-e2e.js');

const GRACE_MS = 20000; // the test's grace period: more than the WebSocket timeout (6 s) + the 10 s drop

describe('broadcasts survive network drops; reachable on the default bind', { timeout: 400000 }, () => {
  let srv, bcNet, vwNet, bcBrowser, vwBrowser, bc, viewer;
  const errors = [];
  const step = stepper({
    server: () => srv,
    timeoutMs: 90000,
    onFail: async t => {
      for (const [who, p] of [['broadcaster', bc && bc.page], ['viewer', viewer && viewer.page]]) {
        if (!p) continue;
        const text = await p.evaluate(() => document.body.innerText).catch(e => String(e));
        t.diagnostic(`${who} page:\n${text.slice(0, 1500)}`);
      }
    },
  });
  const bcSite = () => ({ url: `http://${bcNet.hostAddr}:8080`, origin: `http://${bcNet.hostAddr}:8080` });
  const vwSite = () => ({ url: `http://${vwNet.hostAddr}:8080`, origin: `http://${vwNet.hostAddr}:8080` });

  before(async () => {
    bcNet = makeNetns('bc', 61);
    vwNet = makeNetns('vw', 62);
    srv = await startOnair(['--reconnect-grace-ms', String(GRACE_MS)], { defaultBind: true });
    // getUserMedia needs a secure context; a plain-http LAN address is one
    // only by this flag (a real deployment uses HTTPS).
    bcBrowser = await chromium.launch({
      executablePath: bcNet.chromium(),
      args: [...BROWSER_ARGS, `--unsafely-treat-insecure-origin-as-secure=${bcSite().origin}`],
    });
    vwBrowser = await chromium.launch({ executablePath: vwNet.chromium(), args: BROWSER_ARGS });
  });

  after(async () => {
    if (bcNet) bcNet.up();
    for (const b of [bcBrowser, vwBrowser]) if (b) await b.close().catch(() => {});
    if (srv) await srv.stop();
    for (const n of [bcNet, vwNet]) if (n) n.remove();
  });

  step('onair on its default bind announces this machine\'s addresses, not loopback', async () => {
    await eventually(() => /announcing this machine's addresses/.test(srv.log()), 'the announce line in the log', 5000);
    const line = srv.log().split('\n').find(l => /announcing this machine's addresses/.test(l));
    assert.match(line, new RegExp(bcNet.hostAddr.replace(/\./g, '\\.')));
    assert.match(line, new RegExp(vwNet.hostAddr.replace(/\./g, '\\.')));
    assert.doesNotMatch(line, /127\.0\.0\.1/);
  });

  step('a view page opened while the room is offline says so', async () => {
    bc = await newUserContext(bcBrowser, bcSite(), 'nina');
    viewer = await newUserContext(vwBrowser, vwSite(), 'omar');
    viewer.page = watchPage(await viewer.context.newPage(), 'omar', errors);
    await viewer.page.goto(`${vwSite().url}/view/nina`);
    await eventually(async () => /nina is offline/.test(await viewer.page.locator('#banner').innerText()),
      'the offline banner');
    assert.match(await viewer.page.locator('#banner').innerText(), /starts playing by itself/);
  });

  step('going live from another machine: the waiting view page plays by itself', async () => {
    bc.page = watchPage(await bc.context.newPage(), 'nina', errors);
    await goLive(bc.page, bcSite(), 'Across the network');
    // The link to share is the address the broadcaster's browser used.
    assert.equal(await bc.page.locator('#room-link').textContent(), `${bcSite().url}/view/nina`);
    await assertPlays(viewer.page, 'the viewer in its own namespace', { timeoutMs: 45000 });
    assert.equal(await viewer.page.locator('#room-title').textContent(), 'Across the network');
  });

  step('a signed-out visitor to the link sees whose room it is, that it is live, and the way in', async () => {
    const context = await vwBrowser.newContext({ viewport: { width: 960, height: 640 } });
    try {
      const page = watchPage(await context.newPage(), 'signed-out visitor', errors);
      await page.goto(`${vwSite().url}/view/nina`);
      await eventually(async () => /nina is live now/.test(await page.locator('#banner').innerText()),
        'the live card for a signed-out visitor');
      assert.match(await page.locator('#banner').innerText(), /Across the network/);
      assert.equal(await page.locator('#title').textContent(), 'nina');
      assert.equal(await page.locator('#live-badge').isVisible(), true);
      assert.equal(await page.locator('#video-box').isVisible(), false, 'no video without public-watch');
      assert.equal(await page.locator('#banner-signin').getAttribute('href'), '/?next=%2Fview%2Fnina');
      assert.equal(await page.title(), 'nina is live — onair');
      assert.equal(await page.locator('meta[property="og:title"]').getAttribute('content'), 'nina is live: Across the network');
    } finally {
      await context.close();
    }
  });

  step('the broadcaster\'s network is down for 10 s: viewers wait, then play again without a click', async () => {
    bcNet.down();
    const t0 = Date.now();
    await eventually(async () => /connection dropped/.test(await viewer.page.locator('#video-msg').innerText()),
      'the viewer\'s "connection dropped, waiting" notice', 15000);
    assert.equal(await viewer.page.locator('#live-badge').getAttribute('data-state'), 'reconnecting');
    assert.equal(await viewer.page.locator('#banner').isVisible(), false, 'no "stream has ended"');
    // The broadcaster's page notices on its own and says so.
    await eventually(async () => /dropped|reconnecting/i.test(await bc.page.locator('#status').innerText()),
      'the broadcaster\'s "connection dropped" notice', 15000);
    // Chat goes on while the broadcaster is away.
    await viewer.page.locator('.chat-input').fill('are you there?');
    await viewer.page.locator('.chat-send').click();
    await eventually(async () => /are you there\?/.test(await viewer.page.locator('.chat-list').innerText()),
      'the viewer\'s message in the chat during the gap');
    await sleep(Math.max(0, 10000 - (Date.now() - t0)));
    bcNet.up();
    await eventually(async () => /Reconnected after/.test(await bc.page.locator('#status').innerText()),
      'the broadcaster\'s "Reconnected" notice', 45000);
    assert.equal(await bc.page.locator('#live-badge').getAttribute('data-state'), 'live');
    assert.equal(await bc.page.locator('#room-link').textContent(), `${bcSite().url}/view/nina`);
    await assertPlays(viewer.page, 'after the drop', { timeoutMs: 45000 });
    assert.equal(await viewer.page.locator('#live-badge').getAttribute('data-state'), 'live');
    assert.equal(await viewer.page.locator('#room-title').textContent(), 'Across the network');
    // Same room: the broadcaster's chat shows what was said during the gap.
    await eventually(async () => /are you there\?/.test(await bc.page.locator('.chat-list').innerText()),
      'the gap\'s chat on the broadcaster\'s page');
  });

  step('the viewer\'s media path breaks (its UDP blocked): it offers again by itself and plays', async () => {
    const answered = () => (srv.log().match(/media peer answered/g) || []).length;
    const before = answered();
    const unblock = vwNet.blockUdp();
    const t0 = Date.now();
    try {
      await eventually(async () => /Reconnecting video|trying again|Connecting to the stream/.test(await viewer.page.locator('#video-msg').innerText()),
        'the viewer\'s page noticing its video stopped', 45000);
      // Long enough for onair to give the peer up (media-consent-ms, 15 s):
      // only a new offer brings the video back.
      await eventually(() => /media peer closed/.test(srv.log().split('\n').slice(-200).join('\n')),
        'onair closing the viewer\'s silent media peer', 45000);
      await sleep(Math.max(0, 20000 - (Date.now() - t0)));
    } finally {
      unblock();
    }
    await assertPlays(viewer.page, 'after the media path came back', { timeoutMs: 60000 });
    assert.ok(answered() > before, 'the page offered again by itself');
    assert.equal(await viewer.page.locator('#banner').isVisible(), false);
  });

  step('down for longer than the grace period: the room ends; one click goes live again', async () => {
    bcNet.down();
    await eventually(async () => /connection dropped/.test(await viewer.page.locator('#video-msg').innerText()),
      'the reconnecting notice', 15000);
    await eventually(async () => /has ended/.test(await viewer.page.locator('#banner').innerText()),
      'the viewer\'s "stream has ended" once the grace period ran out', GRACE_MS + 20000);
    bcNet.up();
    await eventually(async () => /longer than 20 s/.test(await bc.page.locator('#status').innerText()),
      'the broadcaster\'s page saying why the broadcast ended', 45000);
    assert.equal(await bc.page.locator('#golive').textContent(), 'Go live again');
    assert.equal(await bc.page.locator('#room-title').inputValue(), 'Across the network');
    await eventually(() => bc.page.locator('#golive').isEnabled(), '"Go live again" enabled');
    await bc.page.locator('#golive').click();
    await bc.page.locator('#live-badge').waitFor({ state: 'visible', timeout: 15000 });
    await assertPlays(viewer.page, 'after going live again', { timeoutMs: 45000 });
  });

  step('no page errors', () => {
    assert.deepEqual(errors, []);
  });
});
