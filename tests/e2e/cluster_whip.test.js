// An encoder and a WHEP player in a cluster, through the death of the
// encoder's node (docs/cluster.md, "When a node dies"): three onair nodes
// over a real redis-server and PostgreSQL; Debian's GStreamer webrtcbin
// (tests/e2e/whip_peer.py) as the encoder, as OBS publishes, and as a WHEP
// player; a Chromium viewer.
// - The encoder publishes to A; a Chromium viewer on B and a WHEP player on
//   C decode it (both nodes pull it from A).
// - A killed with SIGKILL: the encoder, as OBS does when its server is gone,
//   is stopped and publishes to B with the same key, retrying every second:
//   409 while A's room entry lives, then 201, and B takes the room over. The
//   viewer decodes again; the WHEP player's session went with C's link to A
//   (its DELETE: 404), and a new player on C decodes the room from B.
// - The encoder stops (DELETE): the viewer sees the stream has ended, and
//   the room leaves C's list.
//
// libnice skips 127.0.0.1, so, as in whip.test.js, the test's network
// namespace gets a veth pair with 10.99.0.1, which every node binds and
// announces for media and gives as its node address; the nodes listen for
// HTTP on every address (the others pull at 10.99.0.1), and keep
// http://127.0.0.1:<port> as their URL (one cookie for the viewer's page).
// Run inside a namespace:
//   tests/e2e/in-netns.sh node --test tests/e2e/cluster_whip.test.js
'use strict';
const { describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { freePort } = require('../lib/server.js');
const { stepper } = require('../lib/steps.js');
const { startPythonPeer } = require('../lib/python-peer.js');
const { gstMissing } = require('../lib/gst-peer.js');
const { startRedis, startPostgres, startNode, metrics, decodesAgain } = require('../lib/cluster.js');
const {
  CHROMIUM, BROWSER_ARGS, sleep, eventually, newUserContext, watchPage, viewerStats, assertPlays,
  addVeth, inOwnNetns,
} = require('../lib/media-e2e.js');

const MEDIA_ADDR = '10.99.0.1';
const STEP_MS = 90000;
const CONSENT_MS = 4000;
const GRACE_MS = 15000;
const SCRIPT = path.join(__dirname, 'whip_peer.py');

function missing() {
  if (!inOwnNetns()) return 'not inside a network namespace of its own (run under tests/e2e/in-netns.sh)';
  return gstMissing();
}

describe('an encoder and a WHEP player in a cluster, through the death of the encoder\'s node', { timeout: 240000 }, () => {
  let redis, pg, browser;
  const nodes = {};
  const peers = [];
  const errors = [];
  const why = missing();
  let obs;        // the broadcaster's account: { name, cookie, context, key, token }
  let enc;        // the encoder publishing now
  let player;     // the WHEP player on C now
  let viewer;     // the Chromium viewer on B: { name, cookie, context, page }

  const steps = stepper({
    server: () => nodes.B,
    timeoutMs: STEP_MS,
    onFail: async t => {
      for (const [n, srv] of Object.entries(nodes)) t.diagnostic(`node ${n} log (tail):\n${srv.log().slice(-3000)}`);
      for (const p of peers) t.diagnostic(p.output());
    },
  });
  const step = (name, fn) => steps(name, async t => {
    if (why) throw new Error(why);
    await fn(t);
  });

  function peer(args, label) {
    const p = startPythonPeer(SCRIPT, ['--stats-ms', '500', ...args], label);
    peers.push(p);
    return p;
  }

  // POSTs of a new whip_peer.py process (args) every second or so until one
  // answers 201; every other answer must be one of `allowed`. Returns
  // { peer, refused: [statuses before], ms: from the first POST to the 201 }.
  async function postUntilCreated(args, label, allowed, timeoutMs) {
    const start = Date.now();
    const refused = [];
    for (;;) {
      const tried = Date.now();
      const p = peer(args, label);
      const posted = await p.waitFor('whip', `the ${label}'s POST`, 20000);
      if (posted.status === 201) return { peer: p, refused, ms: Date.now() - start, posted };
      assert.ok(allowed.includes(posted.status),
        `the ${label}'s POST answered ${posted.status} (expected ${allowed.join(' or ')} until 201): ${posted.text}`);
      refused.push(posted.status);
      await p.exited;
      if (Date.now() - start > timeoutMs) {
        throw new Error(`the ${label}'s POST still answered ${posted.status} after ${Date.now() - start} ms`);
      }
      await sleep(Math.max(0, 1000 - (Date.now() - tried)));
    }
  }

  // A WHEP player of obs's room on C with the broadcaster's watch token. A
  // replica's first player finds no media yet (503 while C pulls it).
  async function whepPlayer(t) {
    const r = await postUntilCreated(['--url', nodes.C.url, '--whep', 'obs', '--key', obs.token],
      'WHEP player', [503], 20000);
    assert.match(r.posted.location, /^\/whep\/obs\/[A-Za-z0-9_-]{22}$/);
    t.diagnostic(`WHEP player on C: 201 after ${r.refused.length} answers 503 (${r.ms} ms)`);
    const stats = await r.peer.waitFor(e => e.event === 'stats' && e.video_decoded >= 30 && e.audio_decoded > 0,
      '30 video frames and audio decoded', 30000);
    assert.ok(stats.width >= 160 && stats.height >= 90, `a picture: ${stats.width}x${stats.height}`);
    return { peer: r.peer, stats };
  }

  // The rooms on node n's /api/rooms (the broadcaster's session).
  async function roomsOn(n) {
    const res = await fetch(`${nodes[n].url}/api/rooms`, { headers: { Cookie: `onair_session=${obs.cookie}` } });
    assert.equal(res.status, 200);
    return (await res.json()).rooms;
  }

  // The viewers of obs's room on node n's list, or undefined when not listed.
  async function viewersOn(n) {
    const room = (await roomsOn(n)).find(r => r.name === 'obs');
    return room && room.viewers;
  }

  before(async () => {
    if (why) return;
    addVeth('v0', 'v1', [`${MEDIA_ADDR}/24`]);
    redis = await startRedis();
    pg = startPostgres();
    for (const n of ['A', 'B', 'C']) {
      const port = await freePort();
      // Later flags win: these replace startNode's --listen 127.0.0.1:port and
      // --node-address 127.0.0.1.
      nodes[n] = await startNode(n, redis, pg, [
        '--listen', `0.0.0.0:${port}`, '--node-url', `http://127.0.0.1:${port}`,
        '--media-bind', MEDIA_ADDR, '--media-announce', MEDIA_ADDR, '--node-address', MEDIA_ADDR,
        '--media-consent-ms', String(CONSENT_MS), '--reconnect-grace-ms', String(GRACE_MS),
      ], { port });
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
  });

  after(async () => {
    await Promise.all(peers.map(p => p.stop()));
    if (browser) await browser.close().catch(() => {});
    for (const srv of Object.values(nodes)) await srv.stop().catch(() => {});
    if (redis) await redis.stop();
    if (pg) pg.stop();
  });

  step('an encoder publishes to A; a Chromium viewer on B and a WHEP player on C decode it', async t => {
    for (const [n, srv] of Object.entries(nodes)) {
      await eventually(async () => (await metrics(srv)).onair_cluster_nodes === 3,
        `node ${n} to list 3 nodes`, 15000);
    }
    obs = await newUserContext(browser, nodes.A, 'obs');
    for (const [api, field, re] of [['stream-key', 'key', /^sk_/], ['watch-token', 'token', /^wt_/]]) {
      const res = await fetch(`${nodes.A.url}/api/${api}/new`, {
        method: 'POST', headers: { Cookie: `onair_session=${obs.cookie}`, Origin: nodes.A.origin },
      });
      assert.equal(res.status, 200, `POST /api/${api}/new`);
      obs[field] = (await res.json()).key;
      assert.match(obs[field], re);
    }
    enc = peer(['--url', nodes.A.url, '--key', obs.key], 'WHIP encoder on A');
    const posted = await enc.waitFor('whip', 'the WHIP POST', 20000);
    assert.equal(posted.status, 201, JSON.stringify(posted));
    await enc.waitFor(e => e.event === 'state' && e.state === 'connected', 'its connection to A', 20000);

    viewer = await newUserContext(browser, nodes.A, 'viewer');
    viewer.page = watchPage(await viewer.context.newPage(), 'viewer', errors);
    await viewer.page.goto(`${nodes.B.url}/view/obs`);
    await assertPlays(viewer.page, 'the viewer on B');

    player = await whepPlayer(t);
    t.diagnostic(`WHEP player on C: ${JSON.stringify(player.stats)}`);
    assert.equal((await metrics(nodes.B)).onair_cluster_pulls, 1, 'B pulls the room from A');
    const c = await metrics(nodes.C);
    assert.equal(c.onair_cluster_pulls, 1, 'C pulls the room from A');
    assert.equal(c.onair_viewers, 1, 'the player counts as a viewer on C');
    await eventually(async () => (await viewersOn('A')) === 2, 'A to count 2 viewers (on B and C)', 10000);
  });

  step('A killed: the encoder publishes to B (409 until A\'s entry expires); the viewer and a new WHEP player decode again', async t => {
    // Enough frames that the new connection's count is seen below them.
    const framesBefore = (await eventually(async () => {
      const s = await viewerStats(viewer.page);
      return s && s.framesDecoded >= 90 ? s : null;
    }, 'the viewer on B to have decoded 90 frames')).framesDecoded;
    const killed = Date.now();
    await nodes.A.kill9();
    delete nodes.A;
    // OBS, its server gone, stops; its user points it at B.
    await enc.stop();
    const r = await postUntilCreated(['--url', nodes.B.url, '--key', obs.key], 'WHIP encoder on B', [409], 30000);
    enc = r.peer;
    assert.ok(r.refused.length >= 1, 'B refused the encoder (409) while A\'s room entry lived');
    const published = Date.now() - killed;
    t.diagnostic(`the encoder's POST to B: ${r.refused.length} answers 409 over ${r.ms} ms, ` +
      `201 ${published} ms after A was killed`);
    await enc.waitFor(e => e.event === 'state' && e.state === 'connected', 'its connection to B', 20000);

    await decodesAgain(viewer.page, viewerStats, framesBefore, 'the viewer on B to decode again', eventually, 40000);
    t.diagnostic(`the viewer on B decoded again ${Date.now() - killed} ms after A was killed`);
    const m = await metrics(nodes.B);
    assert.equal(m.onair_cluster_pulls, 0, 'the room is B\'s own: B pulls nothing');
    assert.equal(m.onair_rooms_live, 1, 'the room is live on B');

    // The old player's session went with C's link to A (or with C's pull
    // of the room from A, when B's claim is heard first).
    await eventually(async () => (await metrics(nodes.C)).onair_viewers === 0,
      'C to count no viewer (the player\'s session dropped)', 15000);
    await player.peer.stop();
    assert.equal((await player.peer.waitFor('deleted', 'the DELETE', 10000)).status, 404,
      'the old WHEP session has ended');
    assert.ok(nodes.C.alive(), 'C is running');
    // The broadcaster's count (the cluster's total, on B's list) drops the
    // player that went.
    const dropped = Date.now();
    await eventually(async () => (await viewersOn('B')) === 1, 'B to count 1 viewer (the player on C gone)', 10000);
    t.diagnostic(`B counted 1 viewer ${Date.now() - dropped} ms after the old player's DELETE`);
    player = await whepPlayer(t);
    t.diagnostic(`a new WHEP player on C decoded 30 frames ${Date.now() - killed} ms after A was killed: ` +
      JSON.stringify(player.stats));
    assert.equal((await metrics(nodes.C)).onair_cluster_pulls, 1, 'C pulls the room from B');
    await eventually(async () => (await viewersOn('B')) === 2, 'B to count 2 viewers (the new player too)', 10000);
  });

  step('the encoder stops: the viewer sees the stream has ended; the room leaves C', async () => {
    assert.ok((await roomsOn('C')).some(r => r.name === 'obs'), 'C lists the room');
    await enc.stop();
    assert.equal((await enc.waitFor('deleted', 'the DELETE', 10000)).status, 200);
    await eventually(async () => (await viewer.page.locator('#banner-title').textContent()) === 'This stream has ended',
      'the viewer to see the stream ended', 15000);
    await eventually(async () => !(await roomsOn('C')).some(r => r.name === 'obs'), 'C to drop the room', 15000);
    await player.peer.stop();
    assert.equal((await player.peer.waitFor('deleted', 'the DELETE', 10000)).status, 404,
      'the WHEP session ended with the room');
    for (const n of ['B', 'C']) assert.ok(nodes[n].alive(), `${n} is running`);
  });

  step('no page errors', async () => {
    assert.deepEqual(errors, []);
  });
});
