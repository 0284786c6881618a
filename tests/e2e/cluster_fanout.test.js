// Origin-to-edge fan-out (issue 15, docs/media.md "Relay between nodes"):
// two nodes A and B over a real redis-server and PostgreSQL; a Chromium
// broadcaster and one Chromium viewer on A; 50 emulated viewers on B
// (onair-media-bench viewers: real WebRTC peers, ICE, DTLS-SRTP, each
// receiving and counting its RTP). A sends B one copy of the room, not 50:
// A's relay counter rises as its publisher's packets do, B sends 50 copies
// of what it takes in.
//
// Run inside a network namespace so WebRTC stays on loopback:
//   tests/e2e/in-netns.sh node --test tests/e2e/cluster_fanout.test.js
// Env: ONAIR_BIN, ONAIR_WEB (see tests/lib/server.js), ONAIR_MEDIA_BENCH
// (the built bench/media program; tests/CMakeLists.txt sets it).
'use strict';
const { describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { chromium } = require('playwright-core');
const { stepper } = require('../lib/steps.js');
const { newCluster, metrics } = require('../lib/cluster.js');
const {
  CHROMIUM, BROWSER_ARGS, sleep, eventually, newUserContext, watchPage, goLive, assertPlays,
} = require('../lib/media-e2e.js');

const EDGE_VIEWERS = 50;
const WINDOW_MS = 6000;
const MEDIA_BENCH = process.env.ONAIR_MEDIA_BENCH ||
  path.join(__dirname, '../../build/tests/media-bench/onair-media-bench');

// onair-media-bench viewers against node's room: its JSON lines by kind
// ("joined", "held") as they come, and stop() to end its hold early
// (SIGTERM: it prints "held" and exits).
function startEmulatedViewers(node, room, count) {
  const proc = spawn(MEDIA_BENCH, ['viewers', '--http', `127.0.0.1:${node.port}`, '--room', room,
    '--count', String(count), '--seconds', '300', '--join-timeout', '40'],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = {};
  let stderr = '';
  proc.stderr.on('data', d => { stderr = (stderr + d).slice(-4000); });
  readline.createInterface({ input: proc.stdout }).on('line', line => {
    try {
      const row = JSON.parse(line);
      if (row.kind) lines[row.kind] = row;
    } catch { /* not a row */ }
  });
  const exited = new Promise(r => proc.once('exit', r));
  return {
    lines,
    log: () => stderr,
    running: () => proc.exitCode === null && proc.signalCode === null,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

function rise(m0, m1, name) {
  assert.ok(Number.isFinite(m0[name]) && Number.isFinite(m1[name]), `/metrics has ${name}`);
  return m1[name] - m0[name];
}

describe('origin-to-edge fan-out: one copy to the edge for 50 viewers', { timeout: 240000 }, () => {
  let browser, emu;
  let bAtJoin; // B's /metrics as its emulated viewers had all joined
  const cluster = newCluster();
  const nodes = cluster.nodes;
  const errors = [];
  const step = stepper({
    server: () => nodes.A,
    timeoutMs: 90000,
    onFail: async t => {
      if (nodes.B) t.diagnostic(`node B log (tail):\n${nodes.B.log().slice(-3000)}`);
      if (emu) t.diagnostic(`onair-media-bench (tail):\n${emu.log()}`);
    },
  });

  before(async () => {
    assert.ok(fs.existsSync(MEDIA_BENCH), `${MEDIA_BENCH} is built (ONAIR_MEDIA_BENCH)`);
    await cluster.start(['A', 'B'], ['--log-level', 'info']);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
  });

  after(async () => {
    if (emu) await emu.stop();
    if (browser) await browser.close().catch(() => {});
    await cluster.stop();
  });

  step('A and B find each other in the directory', () => cluster.listed(eventually));

  step('a Chromium broadcaster on A; a Chromium viewer on A decodes its video', async () => {
    const bc = await newUserContext(browser, nodes.A, 'ada');
    bc.page = watchPage(await bc.context.newPage(), 'broadcaster', errors);
    await goLive(bc.page, nodes.A, 'Fan-out');
    const v = await newUserContext(browser, nodes.A, 'viewera');
    const page = watchPage(await v.context.newPage(), 'viewer on A', errors);
    await page.goto(`${nodes.A.url}/view/ada`);
    await assertPlays(page, 'the viewer on A');
  });

  step(`${EDGE_VIEWERS} emulated WebRTC viewers on B all receive the room's media`, async t => {
    emu = startEmulatedViewers(nodes.B, 'ada', EDGE_VIEWERS);
    const joined = await eventually(() => emu.lines.joined || (!emu.running() && 'exited'),
      'the emulated viewers on B to join', 150000, 200);
    assert.notEqual(joined, 'exited', 'onair-media-bench ran until its viewers joined');
    t.diagnostic(`joined: live ${joined.live}, failed ${joined.failed}, why ${joined.why}`);
    assert.equal(joined.live, EDGE_VIEWERS, 'every emulated viewer is live (keyed, a keyframe in)');
    bAtJoin = await metrics(nodes.B);
    assert.equal(bAtJoin.onair_cluster_pulls, 1, 'B pulls the room from A once');
  });

  step('A sends B one copy: its relay rises as its publisher\'s packets do; B sends 50', async t => {
    const a0 = await metrics(nodes.A);
    const b0 = await metrics(nodes.B);
    await sleep(WINDOW_MS);
    const a1 = await metrics(nodes.A);
    const b1 = await metrics(nodes.B);
    const aIn = rise(a0, a1, 'onair_rtp_packets_received_total');
    const aRelay = rise(a0, a1, 'onair_media_relay_out_packets_total');
    const aSent = rise(a0, a1, 'onair_rtp_packets_sent_total');
    const bRelay = rise(b0, b1, 'onair_media_relay_in_packets_total');
    const bSent = rise(b0, b1, 'onair_rtp_packets_sent_total');
    t.diagnostic(`over ${WINDOW_MS} ms: A received ${aIn}, relayed ${aRelay}, sent ${aSent}; ` +
      `B took ${bRelay} from the relay, sent ${bSent} (${(bSent / bRelay).toFixed(1)} per packet)`);
    assert.ok(aIn > 100, `A's publisher sent packets in the window (${aIn})`);
    // One copy per edge: as many as the publisher sent A (all its layers), give or take
    // the packets in flight at the window's ends. 50 copies would be a ratio near 50.
    assert.ok(aRelay / aIn > 0.7 && aRelay / aIn < 1.3,
      `A's relay packets / its publisher's = ${(aRelay / aIn).toFixed(2)}, near 1`);
    // A's one viewer gets one of the layers: at most about what came in.
    assert.ok(aSent > 0.2 * aIn && aSent < 1.3 * aIn,
      `A's packets to its one viewer / its publisher's = ${(aSent / aIn).toFixed(2)}`);
    assert.ok(bRelay > 0.7 * aRelay && bRelay < 1.3 * aRelay,
      `B took in what A relayed (${bRelay} of ${aRelay})`);
    // Each of B's viewers gets the audio and one video layer of what B takes in: with
    // simulcast a viewer on a lower layer gets fewer packets than one on the top layer.
    const perPacket = bSent / bRelay;
    assert.ok(perPacket > 0.2 * EDGE_VIEWERS && perPacket < 1.1 * EDGE_VIEWERS,
      `B's packets to viewers per relayed packet (${perPacket.toFixed(1)}) fit ${EDGE_VIEWERS} viewers`);
  });

  step('B counts 50 viewers, A 1; the room has 51 in all', async () => {
    assert.equal((await metrics(nodes.B)).onair_viewers, EDGE_VIEWERS, 'onair_viewers on B');
    assert.equal((await metrics(nodes.A)).onair_viewers, 1, 'onair_viewers on A');
    for (const [n, srv] of Object.entries(nodes)) {
      await eventually(async () => {
        const info = await (await fetch(`${srv.url}/api/rooms/ada`)).json();
        return info.room.viewers === EDGE_VIEWERS + 1;
      }, `node ${n}'s /api/rooms/ada to give ${EDGE_VIEWERS + 1} viewers`, 15000);
    }
  });

  step('every emulated viewer kept receiving packets', async t => {
    const joined = emu.lines.joined;
    await emu.stop();
    const held = emu.lines.held;
    assert.ok(held, 'onair-media-bench printed its viewers\' counts at the end');
    assert.equal(held.live, EDGE_VIEWERS, 'every emulated viewer is still live');
    const grew = held.rtp.map((n, i) => n - joined.rtp[i]);
    t.diagnostic(`packets per viewer since joining: min ${Math.min(...grew)}, max ${Math.max(...grew)}`);
    assert.equal(grew.filter(n => n > 100).length, EDGE_VIEWERS, 'each got over 100 packets more');
    // What B counted as sent is what the emulated viewers received over the same time
    // (give or take the packets around its ends: the metrics are read a moment after).
    const bSent = rise(bAtJoin, await metrics(nodes.B), 'onair_rtp_packets_sent_total');
    const got = grew.reduce((a, n) => a + n, 0);
    t.diagnostic(`B sent ${bSent} RTP packets since they joined; the viewers received ${got}`);
    assert.ok(Math.abs(bSent - got) < 0.15 * bSent, `B's sent packets (${bSent}) reached its viewers (${got})`);
  });

  step('no page errors', async () => {
    assert.deepEqual(errors, []);
  });
});
