// ICE over TCP (RFC 6544) on onair's own TCP port: the test's network drops
// every UDP datagram to onair (a routing rule in its namespace), as a
// network that blocks UDP would. Without any TURN server, the broadcaster's
// and the viewer's Chromium connect to the passive TCP candidate onair puts
// in its answers (the HTTP port), the viewer decodes the broadcast, and the
// pages and chat keep working on the same port.
//
// Run inside a network namespace:
//   tests/e2e/in-netns.sh node --test tests/e2e/icetcp.test.js
'use strict';
const { describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { chromium } = require('playwright-core');
const { stepper } = require('../lib/steps.js');
const { startOnair } = require('../lib/server.js');
const {
  CHROMIUM, BROWSER_ARGS, newUserContext, watchPage, goLive, assertPlays, blockUdpToPort,
} = require('../lib/media-e2e.js');

// The selected pair of a page's open connection: its local candidate's
// protocol and the remote candidate's port.
function selectedPair(page) {
  return page.evaluate(async () => {
    const pc = window.__onairTest.pcs.find(p => p.connectionState === 'connected');
    if (!pc) return null;
    const r = await pc.getStats();
    let pairId = null;
    r.forEach(s => { if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId; });
    const pair = pairId && r.get(pairId);
    if (!pair) return null;
    const local = r.get(pair.localCandidateId), remote = r.get(pair.remoteCandidateId);
    return { protocol: local.protocol, tcpType: local.tcpType, remotePort: remote.port,
      remoteProtocol: remote.protocol };
  });
}

describe('ICE-TCP when UDP is blocked', { timeout: 150000 }, () => {
  let srv, browser, unblock;
  const errors = [];
  let bc, viewer;
  const step = stepper({ server: () => srv, timeoutMs: 45000 });

  before(async () => {
    srv = await startOnair();
    unblock = blockUdpToPort(srv.port); // the media port is the HTTP port's number
    browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
  });

  after(async () => {
    if (unblock) unblock();
    if (browser) await browser.close().catch(() => {});
    if (srv) await srv.stop();
  });

  step('the broadcaster goes live over TCP', async t => {
    bc = await newUserContext(browser, srv, 'tom');
    bc.page = watchPage(await bc.context.newPage(), 'tom', errors);
    await goLive(bc.page, srv, 'over TCP');
    const pair = await selectedPair(bc.page);
    t.diagnostic(`broadcaster: ${JSON.stringify(pair)}`);
    assert.equal(pair.protocol, 'tcp');
    assert.equal(pair.remoteProtocol, 'tcp');
    assert.equal(pair.remotePort, srv.port, 'onair\'s passive candidate is its HTTP port');
  });

  step('a viewer decodes the broadcast over TCP; chat on the same port', async t => {
    viewer = await newUserContext(browser, srv, 'tara');
    viewer.page = watchPage(await viewer.context.newPage(), 'tara', errors);
    await viewer.page.goto(`${srv.url}/view/${bc.name}`);
    await assertPlays(viewer.page, 'the viewer over ICE-TCP');
    const pair = await selectedPair(viewer.page);
    t.diagnostic(`viewer: ${JSON.stringify(pair)}`);
    assert.equal(pair.protocol, 'tcp');
    await viewer.page.locator('.chat-input').fill('over tcp');
    await viewer.page.locator('.chat-send').click();
    await bc.page.locator('.chat-list .chat-text', { hasText: 'over tcp' }).waitFor({ timeout: 15000 });
    const m = await (await fetch(srv.url + '/metrics')).text();
    assert.match(m, /^onair_rtp_packets_sent_total [1-9]/m, 'packets went out to the viewer');
  });

  step('no page errors', () => {
    assert.deepEqual(errors, []);
    assert.ok(srv.alive());
  });
});
