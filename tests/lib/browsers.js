// Browsers for the cross-browser media tests (tests/e2e/firefox.test.js,
// h264.test.js): Debian's chromium through playwright-core and Debian's
// firefox-esr through puppeteer-core over WebDriver BiDi (Firefox speaks it
// natively; playwright-core cannot drive a stock Firefox). Both run headless
// with fake camera and microphone, no permission prompt, loopback-only
// WebRTC, and nothing that reaches out (shared/DESIGN.md, "Media in tests
// stays on the test's own network"): run the tests under tests/e2e/in-netns.sh.
// The Chromium side and the small helpers come from media-e2e.js.
//
// Page helpers take either kind of page: they only use page.evaluate(), which
// playwright and puppeteer both have.
'use strict';
const fs = require('node:fs');

const { CHROMIUM, BROWSER_ARGS, PASSWORD, sleep, eventually, signUp } = require('./media-e2e.js');

const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';

// Firefox preferences: fake camera and microphone without a prompt, autoplay,
// WebRTC on loopback, and every service that would phone home switched off
// (puppeteer adds its own list for updates, safe browsing, health report).
const FIREFOX_PREFS = {
  // media
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'media.autoplay.default': 0, // allow audible autoplay
  'media.autoplay.blocking_policy': 0,
  'media.peerconnection.ice.loopback': true, // gather 127.0.0.1 candidates (only lo is up)
  // Firefox gathers only the default route's address (there is none in the
  // test's namespace, so no candidate at all, and ICE never starts) unless the
  // page is capturing a real device or holds a camera or microphone
  // permission; fake devices do not count. Allowing both by default gives
  // every page, viewers included, its host candidates.
  'permissions.default.camera': 1,
  'permissions.default.microphone': 1,
  'media.peerconnection.ice.no_host': false,
  'media.peerconnection.ice.default_address_only': false,
  'media.peerconnection.ice.obfuscate_host_addresses': false, // no mDNS names in candidates
  'media.peerconnection.ice.proxy_only_if_behind_proxy': false,
  'media.peerconnection.identity.timeout': 1000,
  'media.gmp-manager.updateEnabled': false,
  'media.gmp-gmpopenh264.autoupdate': false,
  'media.gmp-gmpopenh264.enabled': false, // would be downloaded from the network
  'media.gmp-widevinecdm.enabled': false,
  'media.eme.enabled': false,
  // nothing reaches out
  'app.update.enabled': false,
  'app.update.auto': false,
  'app.update.service.enabled': false,
  'app.normandy.enabled': false,
  'app.normandy.api_url': '',
  'app.shield.optoutstudies.enabled': false,
  'browser.discovery.enabled': false,
  'browser.ping-centre.telemetry': false,
  'browser.newtabpage.activity-stream.feeds.telemetry': false,
  'browser.newtabpage.activity-stream.telemetry': false,
  'browser.newtabpage.activity-stream.feeds.section.topstories': false,
  'browser.newtabpage.activity-stream.feeds.snippets': false,
  'browser.region.network.url': '',
  'browser.region.update.enabled': false,
  'browser.safebrowsing.provider.mozilla.updateURL': '',
  'browser.safebrowsing.provider.google4.updateURL': '',
  'browser.safebrowsing.provider.google.updateURL': '',
  'browser.search.geoip.url': '',
  'browser.topsites.contile.enabled': false,
  'browser.urlbar.quicksuggest.enabled': false,
  'captivedetect.canonicalURL': '',
  'datareporting.policy.dataSubmissionEnabled': false,
  'datareporting.healthreport.uploadEnabled': false,
  'dom.push.enabled': false,
  'dom.push.connection.enabled': false,
  'extensions.blocklist.enabled': false,
  'extensions.getAddons.cache.enabled': false,
  'extensions.systemAddon.update.enabled': false,
  'geo.enabled': false,
  'messaging-system.rsexperimentloader.enabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'network.dns.disablePrefetch': true,
  'network.http.speculative-parallel-limit': 0,
  'network.predictor.enabled': false,
  'network.prefetch-next': false,
  'network.trr.mode': 5, // no DNS over HTTPS
  'privacy.resistFingerprinting': false,
  'security.OCSP.enabled': 0,
  'security.remote_settings.crlite_filters.enabled': false,
  'services.sync.enabled': false,
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.unified': false,
  'toolkit.telemetry.archive.enabled': false,
  'toolkit.coverage.endpoint.base': '',
};

// Debian's firefox-esr (puppeteer-core speaks WebDriver BiDi to it);
// extraPrefs are added to (or override) FIREFOX_PREFS.
async function launchFirefox(extraPrefs = {}) {
  if (!fs.existsSync(FIREFOX)) throw new Error(`${FIREFOX} is missing: run scripts/install-deps.sh --test (firefox-esr)`);
  const puppeteer = require('puppeteer-core');
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    extraPrefsFirefox: { ...FIREFOX_PREFS, ...extraPrefs },
    // As root in a container the content sandbox cannot always start.
    env: { ...process.env, MOZ_DISABLE_CONTENT_SANDBOX: '1', MOZ_CRASHREPORTER_DISABLE: '1' },
    protocolTimeout: 60000,
  });
}

// Debian's chromium through playwright-core, with the flags of the other
// browser tests (tests/lib/media-e2e.js: loopback WebRTC, fake camera, quiet).
async function launchChromium(extraArgs = []) {
  const { chromium } = require('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: [...BROWSER_ARGS, ...extraArgs] });
}

// Runs in every page before its own scripts (playwright addInitScript,
// puppeteer evaluateOnNewDocument; neither is subject to the page's CSP).
// Keeps every RTCPeerConnection the page makes in window.__onairPeers.pcs, and
// when onlyVideoCodec names a video codec ('video/H264'), restricts every
// video transceiver the page adds to that codec (setCodecPreferences, right in
// addTransceiver, so before the page makes its offer).
function initScript(onlyVideoCodec) {
  if (window.__onairPeers) return;
  const T = window.__onairPeers = { pcs: [], codecPrefs: [] };
  const Orig = window.RTCPeerConnection;
  if (!Orig) return;
  if (onlyVideoCodec) {
    const addTransceiver = Orig.prototype.addTransceiver;
    Orig.prototype.addTransceiver = function (trackOrKind, init) {
      const tr = addTransceiver.call(this, trackOrKind, init);
      const kind = typeof trackOrKind === 'string' ? trackOrKind : trackOrKind.kind;
      if (kind === 'video') {
        const all = RTCRtpSender.getCapabilities('video').codecs;
        const wanted = all.filter(c => c.mimeType.toLowerCase() === onlyVideoCodec.toLowerCase());
        T.codecPrefs.push(wanted.map(c => c.mimeType + ' ' + (c.sdpFmtpLine || '')));
        if (wanted.length === 0) throw new Error(`onair test: this browser cannot send ${onlyVideoCodec}`);
        tr.setCodecPreferences(wanted);
      }
      return tr;
    };
  }
  function Tracked(...args) {
    const pc = new Orig(...args);
    T.pcs.push(pc);
    return pc;
  }
  Tracked.prototype = Orig.prototype;
  Object.setPrototypeOf(Tracked, Orig); // generateCertificate and friends
  window.RTCPeerConnection = Tracked;
}

// Adds initScript to a playwright context or page, or a puppeteer page.
async function addInitScript(target, onlyVideoCodec = null) {
  if (typeof target.addInitScript === 'function') {
    await target.addInitScript(initScript, onlyVideoCodec);
  } else {
    await target.evaluateOnNewDocument(initScript, onlyVideoCodec);
  }
}

// What getStats() says of every open connection in a page, one entry per RTP
// stream: { pcs, open, states, outbound: [..], inbound: [..] }, each with its
// kind, the codec's mimeType and sdpFmtpLine, and the counters that show that
// media flows (frames, samples, audio energy).
function pageRtp(page) {
  return page.evaluate(async () => {
    const T = window.__onairPeers;
    const out = { pcs: T ? T.pcs.length : 0, open: 0, states: [], outbound: [], inbound: [] };
    if (!T) return out;
    for (const pc of T.pcs) {
      out.states.push(pc.connectionState);
      if (pc.connectionState === 'closed') continue;
      out.open++;
      const r = await pc.getStats();
      const byId = new Map();
      r.forEach(s => byId.set(s.id, s));
      r.forEach(s => {
        if (s.type !== 'outbound-rtp' && s.type !== 'inbound-rtp') return;
        const codec = s.codecId ? byId.get(s.codecId) : null;
        const kind = s.kind || s.mediaType;
        (s.type === 'outbound-rtp' ? out.outbound : out.inbound).push({
          kind,
          ssrc: s.ssrc,
          rid: s.rid || '',
          active: s.active !== false,
          mimeType: codec ? codec.mimeType : null,
          fmtp: codec ? codec.sdpFmtpLine || '' : null,
          payloadType: codec ? codec.payloadType : null,
          packets: (s.type === 'outbound-rtp' ? s.packetsSent : s.packetsReceived) || 0,
          bytes: (s.type === 'outbound-rtp' ? s.bytesSent : s.bytesReceived) || 0,
          framesEncoded: s.framesEncoded || 0,
          framesDecoded: s.framesDecoded || 0,
          frameWidth: s.frameWidth || 0,
          frameHeight: s.frameHeight || 0,
          encoderImplementation: s.encoderImplementation || '',
          decoderImplementation: s.decoderImplementation || '',
          totalSamplesReceived: s.totalSamplesReceived || 0,
          totalAudioEnergy: s.totalAudioEnergy || 0,
          audioLevel: s.audioLevel || 0,
        });
      });
    }
    return out;
  });
}

// One kind's stream of one direction: the one with the most frames, then
// packets (a paused simulcast layer may have sent a packet or two and no
// frame), else the first.
function stream(rtp, direction, kind) {
  const list = rtp[direction].filter(s => s.kind === kind);
  const score = s => [s.framesEncoded + s.framesDecoded, s.packets];
  return list.reduce((a, b) => {
    const [fa, pa] = score(a), [fb, pb] = score(b);
    return fb > fa || (fb === fa && pb > pa) ? b : a;
  }, list[0] || null);
}

// The broadcaster's largest simulcast layer that is sent (its only video
// stream without simulcast): what a viewer on Auto or High gets.
function topLayer(rtp) {
  const sent = rtp.outbound.filter(s => s.kind === 'video' && s.active && s.packets > 0);
  return sent.reduce((a, b) => (!a || b.frameWidth > a.frameWidth ? b : a), null);
}

module.exports = {
  topLayer,
  CHROMIUM, FIREFOX, PASSWORD, FIREFOX_PREFS,
  launchFirefox, launchChromium, sleep, eventually, signUp,
  initScript, addInitScript, pageRtp, stream,
};
