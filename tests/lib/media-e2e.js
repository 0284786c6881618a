// Helpers for the browser tests (every tests/e2e/*.test.js takes its
// Chromium flags from here; the SFU tests use the rest): Debian's chromium through playwright-core, users signed up
// over the JSON API, and an init script that lets a test look at a page's
// WebRTC connections and WebSocket traffic without any hook in the page.
//
// The init script is injected by playwright (CDP), not by the page, so the
// pages' strict CSP does not apply to it. It keeps:
//   window.__onairTest.pcs         every RTCPeerConnection the page made
//   window.__onairTest.sent        [{ type, t, offer }] WebSocket messages sent
//                                  (offer: a media.offer, or a room.join with the page's offer)
//   window.__onairTest.received    [{ type, t, reason }] messages received
//   window.__onairTest.firstFrame  [{ pc, t }] performance.now() at which each
//                                  receiving connection first had framesDecoded > 0
'use strict';
const { execFileSync } = require('node:child_process');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// shared/DESIGN.md, "Media in tests stays on the test's own network".
const QUIET_ARGS = [
  '--no-sandbox',
  '--allow-loopback-in-peer-connection',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--autoplay-policy=no-user-gesture-required',
];
const FAKE_CAMERA = '--use-fake-device-for-media-stream';
const FAKE_UI = '--use-fake-ui-for-media-stream';
const BROWSER_ARGS = [...QUIET_ARGS, FAKE_CAMERA, FAKE_UI];

const PASSWORD = 'correct horse battery';

function sleep(ms) { return new Promise(r => setTimeout(r, ms)); }

// Polls fn until it returns a truthy value (or stops throwing); fails with the
// last error or `what` after timeoutMs.
async function eventually(fn, what, timeoutMs = 15000, intervalMs = 100) {
  const until = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = undefined;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ': ' + last.message : ''}`);
    }
    await sleep(intervalMs);
  }
}

// Runs in every page before its own scripts.
function initScript() {
  if (window.__onairTest) return;
  const T = window.__onairTest = { pcs: [], sent: [], received: [], firstFrame: [] };
  const OrigPC = window.RTCPeerConnection;
  if (OrigPC) {
    const watchFirstFrame = (pc, index) => {
      let started = false;
      pc.addEventListener('track', () => {
        if (started) return;
        started = true;
        const t0 = performance.now();
        const poll = async () => {
          if (pc.connectionState === 'closed' || performance.now() - t0 > 30000) return;
          try {
            const r = await pc.getStats();
            let decoded = 0;
            r.forEach(s => { if (s.type === 'inbound-rtp' && s.kind === 'video') decoded += s.framesDecoded || 0; });
            if (decoded > 0) { T.firstFrame.push({ pc: index, t: performance.now() }); return; }
          } catch { /* closed meanwhile */ }
          setTimeout(poll, 15);
        };
        poll();
      });
    };
    class TrackedPC extends OrigPC {
      constructor(...args) {
        super(...args);
        const index = T.pcs.length;
        T.pcs.push(this);
        watchFirstFrame(this, index);
      }
    }
    window.RTCPeerConnection = TrackedPC;
  }
  const OrigWS = window.WebSocket;
  class TrackedWS extends OrigWS {
    constructor(...args) {
      super(...args);
      T.ws = this;
      this.addEventListener('message', ev => {
        try {
          const m = JSON.parse(ev.data);
          T.received.push({ type: m.type, t: performance.now(), reason: m.reason, code: m.code, ref: m.ref });
        } catch { /* not ours to judge */ }
      });
    }
    send(data) {
      try {
        const m = JSON.parse(data);
        // An offer is a media.offer, or a room.join that carries one.
        T.sent.push({ type: m.type, t: performance.now(), offer: m.type === 'media.offer' || typeof m.sdp === 'string' });
      } catch { /* idem */ }
      return super.send(data);
    }
  }
  window.WebSocket = TrackedWS;
}

// RTP figures of every open connection in a page, straight from getStats():
// { pcs, open, states, outbound: { video: [..], audio: [..] }, inbound: {..},
//   remoteInbound: {..} } (remoteInbound: onair's receiver reports on our streams).
function pageRtp(page) {
  return page.evaluate(async () => {
    const T = window.__onairTest;
    const out = {
      pcs: T.pcs.length, open: 0, states: [],
      outbound: { video: [], audio: [] }, inbound: { video: [], audio: [] },
      remoteInbound: { video: [], audio: [] }, // what the far end (onair) reports receiving of our outbound streams
    };
    for (const pc of T.pcs) {
      out.states.push(pc.connectionState);
      if (pc.connectionState === 'closed') continue;
      out.open++;
      const r = await pc.getStats();
      r.forEach(s => {
        if (s.type === 'remote-inbound-rtp' && s.kind in out.remoteInbound) {
          out.remoteInbound[s.kind].push({ ssrc: s.ssrc, packetsLost: s.packetsLost, fractionLost: s.fractionLost,
            roundTripTime: s.roundTripTime, reportsReceived: s.reportsReceivedCount ?? s.roundTripTimeMeasurements });
          return;
        }
        if ((s.type !== 'outbound-rtp' && s.type !== 'inbound-rtp') || !(s.kind in out.outbound)) return;
        const pick = {
          ssrc: s.ssrc, rid: s.rid, active: s.active,
          packetsSent: s.packetsSent, bytesSent: s.bytesSent, framesEncoded: s.framesEncoded,
          packetsReceived: s.packetsReceived, bytesReceived: s.bytesReceived, packetsLost: s.packetsLost,
          framesDecoded: s.framesDecoded, framesReceived: s.framesReceived, frameWidth: s.frameWidth, frameHeight: s.frameHeight,
          nackCount: s.nackCount, pliCount: s.pliCount, firCount: s.firCount,
          freezeCount: s.freezeCount, totalFreezesDuration: s.totalFreezesDuration,
          totalSamplesReceived: s.totalSamplesReceived, concealedSamples: s.concealedSamples,
          retransmittedPacketsSent: s.retransmittedPacketsSent,
        };
        (s.type === 'outbound-rtp' ? out.outbound : out.inbound)[s.kind].push(pick);
      });
    }
    return out;
  });
}

// Signs a user up over the JSON API; returns the session cookie value.
async function signUp(srv, name, password = PASSWORD) {
  const res = await fetch(srv.url + '/api/signup', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Origin: srv.origin },
    body: JSON.stringify({ username: name, password }),
  });
  if (res.status !== 201) throw new Error(`sign-up of ${name}: HTTP ${res.status} ${await res.text()}`);
  const m = /onair_session=([^;]+)/.exec(res.headers.get('set-cookie') || '');
  if (!m) throw new Error(`sign-up of ${name}: no session cookie`);
  return m[1];
}

// A browser context signed in as a new user, with the init script;
// contextOptions go to browser.newContext() (a phone's viewport, touch).
async function newUserContext(browser, srv, name, contextOptions = {}) {
  const cookie = await signUp(srv, name);
  const context = await browser.newContext({ viewport: { width: 960, height: 640 }, ...contextOptions });
  await context.addCookies([{ name: 'onair_session', value: cookie, url: srv.url }]);
  await context.addInitScript(initScript);
  return { name, cookie, context };
}

// Page errors and CSP violations, collected for a final assertion.
function watchPage(page, who, errors) {
  page.on('pageerror', e => errors.push(`${who}: ${e.message}`));
  page.on('console', m => {
    if (m.type() === 'error' && /Content[- ]Security[- ]Policy/i.test(m.text())) errors.push(`${who}: CSP: ${m.text()}`);
  });
  return page;
}

// Opens /broadcast, waits for the camera and goes live; waits until the
// upload to onair carries encoded video.
async function goLive(page, srv, title = '') {
  await page.goto(srv.url + '/broadcast');
  await eventually(() => page.evaluate(() => document.querySelector('#preview').videoWidth > 0), 'the camera preview');
  await eventually(() => page.locator('#golive').isEnabled(), '"Go live" to be enabled');
  if (title) await page.locator('#room-title').fill(title);
  await page.locator('#golive').click();
  await page.locator('#end').waitFor({ state: 'visible', timeout: 15000 });
  return eventually(async () => {
    const s = await pageRtp(page);
    // One simulcast layer or more (docs/media.md): any that carries video.
    return s.outbound.video.some(v => v.packetsSent > 0 && v.framesEncoded > 0) ? s : null;
  }, 'the broadcaster\'s outbound video to carry packets', 20000);
}

// The page's viewer stats through the page's own debug hook (view.js).
function viewerStats(page) {
  return page.evaluate(() => window.onairDebug && window.onairDebug.videoStats());
}

// Waits until a viewer page shows decoded video that keeps coming, and audio
// that keeps arriving. Returns the last stats seen.
async function assertPlays(page, label, { frames = 10, timeoutMs = 30000, audio = true } = {}) {
  await eventually(() => page.evaluate(() => document.querySelector('video').videoWidth > 0),
    `${label}: <video> has a frame (videoWidth > 0)`, timeoutMs);
  const first = await eventually(async () => {
    const s = await viewerStats(page);
    return s && s.framesDecoded > 0 && (!audio || (s.audio && s.audio.bytes > 0)) ? s : null;
  }, `${label}: framesDecoded > 0${audio ? ' and audio bytes' : ''}`, timeoutMs);
  const second = await eventually(async () => {
    const s = await viewerStats(page);
    if (!s || s.framesDecoded < first.framesDecoded + frames) return null;
    if (audio && !(s.audio && s.audio.bytes > first.audio.bytes &&
        s.audio.totalSamplesReceived > first.audio.totalSamplesReceived)) return null;
    return s;
  }, `${label}: framesDecoded rising past ${first.framesDecoded + frames}${audio ? ', audio samples rising' : ''}`, 20000);
  if (second.frameWidth <= 0) throw new Error(`${label}: decoded frames have no width`);
  return second;
}

// Adds a veth pair inside the test's network namespace and gives `addr`
// (with its prefix, e.g. 10.99.0.1/24) to its first end. aioice (aiortc)
// skips 127.0.0.1, so aiortc needs an address like this. Only for a process
// that runs inside its own namespace (tests/e2e/in-netns.sh).
function addVeth(name, peer, addrs, peerAddrs = []) {
  if (!inOwnNetns()) throw new Error('refusing to add interfaces outside a test network namespace (run under tests/e2e/in-netns.sh)');
  const ip = (...a) => execFileSync('ip', a, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  if (!ip('-o', 'link', 'show').includes(`: ${name}@`)) ip('link', 'add', name, 'type', 'veth', 'peer', 'name', peer);
  for (const a of addrs) if (!ip('-o', 'addr', 'show', 'dev', name).includes(` ${a} `)) ip('addr', 'add', a, 'dev', name);
  for (const a of peerAddrs) if (!ip('-o', 'addr', 'show', 'dev', peer).includes(` ${a} `)) ip('addr', 'add', a, 'dev', peer);
  ip('link', 'set', name, 'up');
  ip('link', 'set', peer, 'up');
}

// Makes every UDP datagram sent from local port `port` fail (EACCES), as if
// that socket's network had gone: a policy rule ahead of the local routing
// table, in the test's own namespace only. Returns a function that undoes it.
function blockUdpFromPort(port) {
  if (!inOwnNetns()) throw new Error('refusing to change routing outside a test network namespace (run under tests/e2e/in-netns.sh)');
  const ip = (...a) => execFileSync('ip', a, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  // The local table is looked up at preference 0, before any rule one could
  // add: move it behind ours (idempotent).
  if (/^0:\s.*lookup local/m.test(ip('rule', 'show'))) {
    ip('rule', 'add', 'pref', '100', 'lookup', 'local');
    ip('rule', 'del', 'pref', '0');
  }
  const rule = ['pref', '10', 'ipproto', 'udp', 'sport', String(port), 'prohibit'];
  ip('rule', 'add', ...rule);
  return () => { try { ip('rule', 'del', ...rule); } catch { /* already gone */ } };
}

// Makes every UDP datagram sent to local port `port` fail, as on a network
// that blocks UDP to the server: every browser in the test's namespace must
// then reach it otherwise. Returns a function that undoes it.
function blockUdpToPort(port) {
  if (!inOwnNetns()) throw new Error('refusing to change routing outside a test network namespace (run under tests/e2e/in-netns.sh)');
  const ip = (...a) => execFileSync('ip', a, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  if (/^0:\s.*lookup local/m.test(ip('rule', 'show'))) {
    ip('rule', 'add', 'pref', '100', 'lookup', 'local');
    ip('rule', 'del', 'pref', '0');
  }
  const rule = ['pref', '11', 'ipproto', 'udp', 'dport', String(port), 'prohibit'];
  ip('rule', 'add', ...rule);
  return () => { try { ip('rule', 'del', ...rule); } catch { /* already gone */ } };
}

// The local UDP port of a page's connection's selected ICE candidate pair
// (the socket its STUN, DTLS and SRTP leave from).
function selectedLocalPort(page, pcIndex) {
  return page.evaluate(async i => {
    const pc = window.__onairTest.pcs[i];
    const r = await pc.getStats();
    let pairId = null;
    r.forEach(s => { if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId; });
    const pair = pairId && r.get(pairId);
    const local = pair && r.get(pair.localCandidateId);
    return local ? { port: local.port, address: local.address || local.ip, protocol: local.protocol } : null;
  }, pcIndex);
}

// Resolves just after a page's connection sends its next ICE check (STUN
// binding request) on the selected pair, so that what follows starts from a
// known "last check" time.
function afterNextIceCheck(page, pcIndex, timeoutMs = 10000) {
  return page.evaluate(async ([i, timeoutMs]) => {
    const pc = window.__onairTest.pcs[i];
    const sent = async () => {
      const r = await pc.getStats();
      let pairId = null;
      r.forEach(s => { if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId; });
      const pair = pairId && r.get(pairId);
      return pair ? pair.requestsSent : null;
    };
    const first = await sent();
    const t0 = performance.now();
    while (performance.now() - t0 < timeoutMs) {
      await new Promise(r => setTimeout(r, 10));
      const n = await sent();
      if (n !== first) return { before: first, after: n };
    }
    return null;
  }, [pcIndex, timeoutMs]);
}

// True when this process has a network namespace of its own: only lo and
// what the test added, so adding interfaces touches nothing of the machine's.
function inOwnNetns() {
  try {
    const links = execFileSync('ip', ['-o', 'link', 'show'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString()
      .split('\n').filter(Boolean).map(l => l.split(':')[1].trim().split('@')[0]);
    return links.every(l => l === 'lo' || /^(v\d|onair)/.test(l));
  } catch {
    return false;
  }
}

// A new user's page watching room (/view/<room>): { name, cookie, context, page }.
async function openViewer(browser, srv, name, room, errors) {
  const u = await newUserContext(browser, srv, name);
  u.page = watchPage(await u.context.newPage(), name, errors);
  await u.page.goto(`${srv.url}/view/${room}`);
  return u;
}

// Sends text from a page's chat box.
async function sendChat(page, text) {
  await page.locator('.chat-input').fill(text);
  await page.locator('.chat-send').click();
}

// Whether a page's chat list shows a message with exactly text.
function chatHas(page, text) {
  return page.$$eval('.chat-list .chat-msg .chat-text', (rows, t) => rows.some(r => r.textContent === t), text);
}

module.exports = {
  CHROMIUM, QUIET_ARGS, FAKE_CAMERA, FAKE_UI, BROWSER_ARGS, PASSWORD,
  sleep, eventually, initScript, pageRtp, signUp, newUserContext, watchPage, openViewer,
  goLive, viewerStats, assertPlays, addVeth, inOwnNetns, blockUdpFromPort, blockUdpToPort, selectedLocalPort,
  afterNextIceCheck, sendChat, chatHas,
};
