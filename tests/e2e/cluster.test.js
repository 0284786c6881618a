// Three onair nodes as one service (docs/cluster.md): a real redis-server
// and a real PostgreSQL started by the test, nodes A, B and C on 127.0.0.1
// sharing them. A Chromium broadcaster on A, Chromium viewers on B and C
// (their media pulled from A, one copy per node); chat and the room list
// across nodes; B killed with SIGKILL (its viewer moves to another node and
// watches again, the directory forgets B); Redis restarted mid-broadcast;
// a chat message acknowledged just before its node is killed is in
// PostgreSQL.
//
// Run inside a network namespace so WebRTC stays on loopback:
//   tests/e2e/in-netns.sh node --test tests/e2e/cluster.test.js
// Env: ONAIR_BIN, ONAIR_WEB (see tests/lib/server.js).
'use strict';
const { describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { chromium } = require('playwright-core');
const { stepper } = require('../lib/steps.js');
const {
  newCluster, metrics, dashboardViewers, decodesAgain,
} = require('../lib/cluster.js');
const {
  CHROMIUM, BROWSER_ARGS, eventually, newUserContext, watchPage, goLive, viewerStats, assertPlays,
  sendChat, chatHas,
} = require('../lib/media-e2e.js');

const STEP_MS = 60000;

describe('a cluster of three nodes', { timeout: 420000 }, () => {
  let browser;
  const cluster = newCluster();
  const nodes = cluster.nodes;
  const errors = [];
  let bc;                 // the broadcaster on A: { name, context, page }
  const viewers = {};     // node name -> { name, context, page }
  const step = stepper({
    server: () => nodes.A,
    timeoutMs: STEP_MS,
    onFail: async t => {
      for (const [n, srv] of Object.entries(nodes)) {
        if (n !== 'A') t.diagnostic(`node ${n} log (tail):\n${srv.log().slice(-3000)}`);
      }
    },
  });

  async function user(name, node) {
    const u = await newUserContext(browser, node, name);
    u.page = watchPage(await u.context.newPage(), name, errors);
    return u;
  }

  before(async () => {
    // A node with more than one viewer over the least loaded sends new ones there.
    // A node relays a room to one other at most: a third pulls it from an edge (a tree).
    await cluster.start(['A', 'B', 'C'], ['--node-redirect-margin', '1', '--node-relay-fanout', '1']);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
  });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    await cluster.stop();
  });

  step('the nodes find each other in the directory', () => cluster.listed(eventually));

  step('a Chromium broadcaster on A; Chromium viewers on B and C decode its video', async t => {
    bc = await user('ada', nodes.A);
    await goLive(bc.page, nodes.A, 'Across nodes');
    for (const n of ['B', 'C']) {
      // An account made on A signs in on B and C: one PostgreSQL.
      viewers[n] = await user('viewer' + n.toLowerCase(), nodes.A);
      await viewers[n].page.goto(`${nodes[n].url}/view/ada`);
      const s = await assertPlays(viewers[n].page, `viewer on ${n}`);
      t.diagnostic(`viewer on ${n}: ${s.frameWidth}x${s.frameHeight} frames=${s.framesDecoded}`);
    }
    // B pulled from A; A relays to one node at most, so C pulled from B.
    assert.equal((await metrics(nodes.A)).onair_cluster_relays_served_total, 1, 'A relayed the room to B only');
    assert.equal((await metrics(nodes.B)).onair_cluster_relays_served_total, 1, 'B relayed it on to C');
    assert.equal((await metrics(nodes.A)).onair_media_relay_links, 1, 'A sends one copy');
    for (const n of ['B', 'C']) assert.equal((await metrics(nodes[n])).onair_cluster_pulls, 1, `${n} pulls the room`);
  });

  step('chat from the viewer on C reaches the broadcaster on A and the viewer on B', async () => {
    await sendChat(viewers.C.page, 'hello from C');
    await eventually(() => chatHas(bc.page, 'hello from C'), 'the broadcaster on A to show the message');
    await eventually(() => chatHas(viewers.B.page, 'hello from C'), 'the viewer on B to show the message');
    await sendChat(bc.page, 'hello from A');
    await eventually(() => chatHas(viewers.C.page, 'hello from A'), 'the viewer on C to show A\'s message');
  });

  step('every node\'s dashboard lists the room with the total viewer count', async () => {
    for (const n of ['A', 'B', 'C']) {
      const page = watchPage(await bc.context.newPage(), `dashboard ${n}`, errors);
      await page.goto(`${nodes[n].url}/dashboard`);
      await eventually(async () => (await dashboardViewers(page, 'ada')) === 2,
        `node ${n}'s dashboard to list ada's room with 2 viewers`, 15000);
      await page.close();
    }
    await eventually(async () => (await bc.page.locator('#viewers').textContent()) === '2',
      'the broadcaster to see 2 watching');
  });

  step('a new viewer asked of a loaded node is sent to the least-loaded one, and watches there', async t => {
    // A has no viewer, B and C one each: C serves one more itself (2 is not
    // more than 0 + 1), and sends the next to A.
    const first = watchPage(await viewers.C.context.newPage(), 'second tab on C', errors);
    await first.goto(`${nodes.C.url}/view/ada`);
    assert.equal(new URL(first.url()).port, String(nodes.C.port), 'C serves the second viewer itself');
    await assertPlays(first, 'the second viewer on C');
    const second = watchPage(await viewers.C.context.newPage(), 'third tab on C', errors);
    await second.goto(`${nodes.C.url}/view/ada`);
    assert.equal(new URL(second.url()).port, String(nodes.A.port), 'the third is sent to A, the least loaded');
    await assertPlays(second, 'the viewer sent to A');
    t.diagnostic(`third viewer at ${second.url()}`);
    await first.close();
    await second.close();
    await eventually(async () => (await bc.page.locator('#viewers').textContent()) === '2',
      'the broadcaster to see 2 watching again');
  });

  step('B killed with SIGKILL: its viewer watches again on another node, C pulls from A now; the directory drops B', async t => {
    const page = viewers.B.page;
    const cBefore = (await viewerStats(viewers.C.page)).framesDecoded;
    const sockets = [];
    const t0 = Date.now();
    page.on('websocket', ws => {
      sockets.push(`${Date.now() - t0}ms ${ws.url()}`);
      ws.on('framereceived', f => sockets.push(`${Date.now() - t0}ms < ${String(f.payload).slice(0, 60)}`));
      ws.on('framesent', f => sockets.push(`${Date.now() - t0}ms > ${String(f.payload).slice(0, 60)}`));
      ws.on('close', () => sockets.push(`${Date.now() - t0}ms closed`));
    });
    page.on('console', m => sockets.push(`${Date.now() - t0}ms console: ${m.text()}`));
    const before = (await viewerStats(page)).framesDecoded;
    const killed = Date.now();
    await nodes.B.kill9();
    const dead = nodes.B;
    delete nodes.B;
    // The page's next connection goes to another node (hello named them),
    // which pulls the room for it.
    await decodesAgain(page, viewerStats, before, 'the viewer from B to decode again', eventually).catch(e => {
      t.diagnostic(`sockets: ${sockets.join(' ')}`);
      throw e;
    });
    const back = Date.now() - killed;
    t.diagnostic(`the viewer decoded again ${back} ms after B was killed`);
    // C's media came through B: its link went silent, C pulls from A.
    await decodesAgain(viewers.C.page, viewerStats, cBefore,
      'the viewer on C to decode again, through a pull from A', eventually);
    t.diagnostic(`the viewer on C decoded again ${Date.now() - killed} ms after B was killed`);
    assert.equal((await metrics(nodes.A)).onair_cluster_relays_served_total, 2, 'C pulled from A');
    t.diagnostic(sockets.join('\n'));
    await eventually(async () => (await metrics(nodes.A)).onair_cluster_nodes === 2 &&
      (await metrics(nodes.C)).onair_cluster_nodes === 2, 'A and C to drop B from the directory', 15000);
    t.diagnostic(`B left the directory ${Date.now() - killed} ms after it was killed`);
    assert.equal(await bc.page.locator('#live-badge').isVisible(), true, 'the room stays live');
    assert.match(dead.log(), /cluster/, 'B ran as a node of the cluster');
  });

  step('Redis restarted mid-broadcast: viewers keep playing, events flow again', async () => {
    await cluster.redis.restart();
    for (const n of ['A', 'C']) {
      await eventually(async () => (await metrics(nodes[n])).onair_cluster_bus_reconnects_total >= 1,
        `node ${n} to reconnect to Redis`, 15000);
    }
    const s0 = await viewerStats(viewers.C.page);
    await eventually(async () => (await viewerStats(viewers.C.page)).framesDecoded > s0.framesDecoded + 30,
      'the viewer on C to keep decoding');
    await sendChat(viewers.C.page, 'after the restart');
    await eventually(() => chatHas(bc.page, 'after the restart'), 'chat from C to reach A again');
    for (const [n, srv] of Object.entries(nodes)) assert.ok(srv.alive(), `node ${n} is running`);
  });

  step('an admin on C ends the room live on A: it ends on every node; live again, C watches again', async () => {
    // ada, the first account, is the admin; her session works on every node.
    const res = await fetch(`${nodes.C.url}/api/admin/rooms/end`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: `onair_session=${bc.cookie}`, origin: nodes.C.url },
      body: JSON.stringify({ room: 'ada' }),
    });
    assert.equal(res.status, 200, 'C ends the room');
    await eventually(async () => /has ended/.test(await bc.page.locator('#status').textContent()),
      'the broadcaster on A to hear the broadcast ended');
    await eventually(async () => /has ended/.test(await viewers.C.page.locator('#banner-title').textContent()),
      'the viewer on C to see the stream ended');
    await eventually(async () => (await metrics(nodes.C)).onair_cluster_pulls === 0, 'C to stop pulling');
    await goLive(bc.page, nodes.A, 'Again');
    await assertPlays(viewers.C.page, 'the viewer on C, once ada is live again');
  });

  step('a chat message acknowledged on C just before C is killed is in PostgreSQL', async () => {
    const text = 'kept through kill -9 ' + Date.now();
    await sendChat(viewers.C.page, text);
    // The sender's page shows its own message only once onair stored and sent it.
    await eventually(() => chatHas(viewers.C.page, text), 'C to acknowledge the message');
    await nodes.C.kill9();
    delete nodes.C;
    const rows = cluster.pg.query(`SELECT count(*) FROM messages WHERE text = '${text}'`);
    assert.equal(rows, '1', 'the message is in PostgreSQL once');
  });

  step('no page errors', async () => {
    assert.deepEqual(errors, []);
  });
});
