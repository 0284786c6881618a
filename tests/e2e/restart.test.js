// A restart during a broadcast (SIGTERM, then onair again on the same port
// and data): both pages are told onair is restarting and reconnect by
// themselves; the broadcaster's page says the restart stopped the broadcast
// and goes live again with its title in one click, and the viewer's page
// plays again without anyone touching it (no reload).
//
// Run inside a network namespace so WebRTC stays on loopback:
//   tests/e2e/in-netns.sh node --test tests/e2e/restart.test.js
'use strict';
const { describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { chromium } = require('playwright-core');
const { stepper } = require('../lib/steps.js');
const { startOnair } = require('../lib/server.js');
const {
  CHROMIUM, BROWSER_ARGS, eventually, newUserContext, watchPage, goLive, assertPlays,
} = require('../lib/media-e2e.js');

describe('onair restarts during a broadcast', { timeout: 170000 }, () => {
  let srv, browser, port, dataDir;
  const errors = [];
  let bc, viewer;
  const step = stepper({ server: () => srv, timeoutMs: 60000 });

  before(async () => {
    srv = await startOnair();
    port = srv.port;
    dataDir = srv.dataDir;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
  });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (srv) await srv.stop();
  });

  step('a broadcast with a viewer playing', async () => {
    bc = await newUserContext(browser, srv, 'rita');
    bc.page = watchPage(await bc.context.newPage(), 'rita', errors);
    await goLive(bc.page, srv, 'Restart test');
    viewer = await newUserContext(browser, srv, 'rob');
    viewer.page = watchPage(await viewer.context.newPage(), 'rob', errors);
    await viewer.page.goto(`${srv.url}/view/${bc.name}`);
    await assertPlays(viewer.page, 'before the restart');
  });

  step('SIGTERM: onair exits at once, both pages say it is restarting', async () => {
    const t0 = Date.now();
    srv.proc.kill('SIGTERM');
    const { code } = await srv.exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 10000, 'onair stopped within seconds');
    await eventually(async () => /restarting/.test(await viewer.page.locator('#video-msg').textContent()),
      'the viewer\'s notice that onair is restarting');
    await eventually(async () => /restarting/.test(await bc.page.locator('#status').textContent()),
      'the broadcaster\'s notice that onair is restarting');
    assert.equal(await viewer.page.locator('#banner').isVisible(), false, 'no "stream has ended"');
  });

  step('onair is back: one click goes live again and the viewer plays again', async () => {
    srv = await startOnair([], { port, dataDir });
    await eventually(async () => /onair restarted while you were live/.test(await bc.page.locator('#status').textContent()),
      'the broadcaster\'s page saying the restart stopped the broadcast', 30000);
    assert.equal(await bc.page.locator('#golive').textContent(), 'Go live again');
    await eventually(() => bc.page.locator('#golive').isEnabled(), '"Go live again" enabled');
    assert.equal(await bc.page.locator('#room-title').inputValue(), 'Restart test');
    await bc.page.locator('#golive').click();
    await bc.page.locator('#live-badge').waitFor({ state: 'visible', timeout: 30000 });
    await assertPlays(viewer.page, 'after the restart', { timeoutMs: 45000 });
    assert.equal(await viewer.page.locator('#room-title').textContent(), 'Restart test');
  });

  step('no page errors', () => {
    assert.deepEqual(errors, []);
  });
});
