// TURN (docs/configuration.md: turn-url, turn-secret): a real coturn started
// by the test with the shared secret; onair hands every page short-lived
// credentials in hello. A viewer whose RTCPeerConnection may only use relayed
// candidates (iceTransportPolicy "relay", set by the test, as a browser whose
// UDP to onair is blocked would need) decodes the broadcast through coturn.
//
// Run inside a network namespace so WebRTC stays on loopback:
//   tests/e2e/in-netns.sh node --test tests/e2e/turn.test.js
'use strict';
const { describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { chromium } = require('playwright-core');
const { stepper } = require('../lib/steps.js');
const { startOnair, freePort } = require('../lib/server.js');
const { startCoturn } = require('../lib/coturn.js');
const {
  CHROMIUM, BROWSER_ARGS, newUserContext, watchPage, goLive, assertPlays,
} = require('../lib/media-e2e.js');

const SECRET = crypto.randomBytes(16).toString('hex');

// Runs in the viewer's pages (after the tracking init script): every
// RTCPeerConnection is relay-only.
function relayOnly() {
  const Base = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Base {
    constructor(config) { super({ ...(config || {}), iceTransportPolicy: 'relay' }); }
  };
}

// The candidate types of a page's selected pair.
function selectedPair(page) {
  return page.evaluate(async () => {
    const pc = window.__onairTest.pcs.find(p => p.connectionState === 'connected');
    if (!pc) return null;
    const r = await pc.getStats();
    let pairId = null;
    r.forEach(s => { if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId; });
    const pair = pairId && r.get(pairId);
    if (!pair) return null;
    return { local: r.get(pair.localCandidateId).candidateType, remote: r.get(pair.remoteCandidateId).candidateType };
  });
}

describe('a viewer through TURN', { timeout: 150000 }, () => {
  let srv, turn, browser;
  const errors = [];
  let bc, viewer;
  const step = stepper({ server: () => srv, timeoutMs: 45000,
    onFail: async t => { if (turn) t.diagnostic('coturn log:\n' + turn.log().slice(-3000)); } });

  before(async () => {
    turn = await startCoturn({ port: await freePort(), secret: SECRET });
    srv = await startOnair(['--turn-url', turn.url, '--turn-secret', SECRET, '--turn-ttl-s', '600']);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
  });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (srv) await srv.stop();
    if (turn) await turn.stop();
  });

  step('the pages are given the TURN server with credentials for their user', async () => {
    bc = await newUserContext(browser, srv, 'tina');
    bc.page = watchPage(await bc.context.newPage(), 'tina', errors);
    await goLive(bc.page, srv, 'via TURN');
    const hello = await bc.page.evaluate(() => new Promise(resolve => {
      const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
      ws.onmessage = ev => { resolve(JSON.parse(ev.data)); ws.close(); };
    }));
    assert.equal(hello.ice_servers.length, 1);
    const s = hello.ice_servers[0];
    assert.deepEqual(s.urls, [turn.url]);
    const [expiry, user] = s.username.split(':');
    assert.equal(user, 'tina');
    const left = Number(expiry) - Date.now() / 1000;
    assert.ok(left > 500 && left <= 601, `valid for turn-ttl-s (600 s): ${left}`);
    const want = crypto.createHmac('sha1', SECRET).update(s.username).digest('base64');
    assert.equal(s.credential, want, 'the TURN REST credential: base64(HMAC-SHA1(secret, username))');
  });

  step('a relay-only viewer decodes the broadcast through coturn', async t => {
    viewer = await newUserContext(browser, srv, 'theo');
    await viewer.context.addInitScript(relayOnly);
    viewer.page = watchPage(await viewer.context.newPage(), 'theo', errors);
    await viewer.page.goto(`${srv.url}/view/${bc.name}`);
    await assertPlays(viewer.page, 'the relayed viewer');
    const pair = await selectedPair(viewer.page);
    t.diagnostic(`selected pair: ${JSON.stringify(pair)}`);
    assert.equal(pair.local, 'relay', 'the viewer\'s media goes through the TURN server');
    assert.match(turn.log(), /theo/, 'coturn saw the viewer\'s credentials');
  });

  step('no page errors', () => {
    assert.deepEqual(errors, []);
    assert.ok(srv.alive());
  });
});
