// The death of a room's origin (docs/cluster.md, "A node dies"): three
// onair nodes over a real redis-server and PostgreSQL, a Chromium
// broadcaster on A, Chromium viewers on B and C.
// - A killed with SIGKILL: the broadcaster's page reconnects to another node
//   and its broadcast goes on from there (the same room, title, chat and
//   viewers); the viewers decode its video again.
// - The new origin killed while its broadcaster's page is gone too: the
//   last node's viewers wait reconnect-grace-ms for the broadcaster, then
//   see "This stream has ended"; the dashboard drops the room.
//
// Run inside a network namespace so WebRTC stays on loopback:
//   tests/e2e/in-netns.sh node --test tests/e2e/cluster_origin.test.js
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
const GRACE_MS = 8000;
const TITLE = 'Outliving its node';

describe('a room outlives its origin node', { timeout: 420000 }, () => {
  let browser;
  const cluster = newCluster();
  const nodes = cluster.nodes;
  const errors = [];
  let bc;                 // the broadcaster: { name, context, page }
  let bcSocket = '';      // the URL of the broadcaster page's WebSocket now
  const viewers = {};     // node name -> { name, context, page }
  const step = stepper({
    server: () => Object.values(nodes)[0],
    timeoutMs: STEP_MS,
    onFail: async t => {
      for (const [n, srv] of Object.entries(nodes)) t.diagnostic(`node ${n} log (tail):\n${srv.log().slice(-3000)}`);
    },
  });

  async function user(name, node) {
    const u = await newUserContext(browser, node, name);
    u.page = watchPage(await u.context.newPage(), name, errors);
    return u;
  }

  // The node the broadcaster's page is connected to.
  function bcNode() {
    return Object.keys(nodes).find(n => bcSocket.startsWith(nodes[n].url.replace(/^http/, 'ws')));
  }

  before(async () => {
    await cluster.start(['A', 'B', 'C'], ['--reconnect-grace-ms', String(GRACE_MS)]);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
  });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    await cluster.stop();
  });

  step('a broadcaster on A; viewers on B and C decode its video', async () => {
    await cluster.listed(eventually);
    bc = await user('ada', nodes.A);
    bc.page.on('websocket', ws => { bcSocket = ws.url(); });
    await goLive(bc.page, nodes.A, TITLE);
    assert.equal(bcNode(), 'A');
    for (const n of ['B', 'C']) {
      viewers[n] = await user('viewer' + n.toLowerCase(), nodes.A);
      await viewers[n].page.goto(`${nodes[n].url}/view/ada`);
      await assertPlays(viewers[n].page, `viewer on ${n}`);
    }
    await sendChat(viewers.B.page, 'before the origin died');
    await eventually(() => chatHas(bc.page, 'before the origin died'), 'the broadcaster to get the message');
  });

  step('A killed with SIGKILL: the broadcast goes on from another node, the viewers decode it again', async t => {
    // Enough frames before that the new connections' counts are seen below them.
    const before = {};
    for (const n of ['B', 'C']) {
      before[n] = (await eventually(async () => {
        const s = await viewerStats(viewers[n].page);
        return s && s.framesDecoded >= 150 ? s : null;
      }, `the viewer on ${n} to have decoded 150 frames`)).framesDecoded;
    }
    const killed = Date.now();
    await nodes.A.kill9();
    delete nodes.A;
    await eventually(async () => /you are live again/.test(await bc.page.locator('#status').textContent()),
      'the broadcaster\'s page to say it is live again', 30000);
    const origin = bcNode();
    assert.ok(origin === 'B' || origin === 'C', `the page reconnected to B or C (${bcSocket})`);
    t.diagnostic(`the broadcaster's page was live again on ${origin} ${Date.now() - killed} ms after A was killed`);
    await Promise.all(['B', 'C'].map(async n => {
      await decodesAgain(viewers[n].page, viewerStats, before[n], `the viewer on ${n} to decode again`, eventually);
      t.diagnostic(`the viewer on ${n} decoded again ${Date.now() - killed} ms after A was killed`);
    }));
    // The same room: its title, its chat, its viewers.
    assert.equal(await viewers.B.page.locator('#room-title').textContent(), TITLE);
    assert.equal(await chatHas(bc.page, 'before the origin died'), true, 'the chat history is kept');
    await sendChat(viewers.C.page, 'after the origin died');
    await eventually(() => chatHas(bc.page, 'after the origin died'), 'chat from C to reach the broadcaster');
    await eventually(async () => (await bc.page.locator('#viewers').textContent()) === '2',
      'the broadcaster to see 2 watching');
    const other = origin === 'B' ? 'C' : 'B';
    assert.equal((await metrics(nodes[other])).onair_cluster_pulls, 1, `${other} pulls the room from ${origin}`);
    assert.equal((await metrics(nodes[origin])).onair_cluster_pulls, 0, `${origin} is the room's origin`);
    const page = watchPage(await bc.context.newPage(), `dashboard ${other}`, errors);
    await page.goto(`${nodes[other].url}/dashboard`);
    await eventually(async () => (await dashboardViewers(page, 'ada')) === 2,
      `${other}'s dashboard to list the room with 2 viewers`, 15000);
    await page.close();
  });

  step('the new origin killed while its broadcaster is gone: after the grace, the stream has ended for everyone', async t => {
    const origin = bcNode();
    const last = origin === 'B' ? 'C' : 'B';
    const dashboard = watchPage(await viewers[last].context.newPage(), `dashboard ${last}`, errors);
    await dashboard.goto(`${nodes[last].url}/dashboard`);
    await eventually(async () => (await dashboardViewers(dashboard, 'ada')) !== null, 'the room on the dashboard');
    // The page closes first: nobody comes back to take the room over.
    await bc.context.close();
    const killed = Date.now();
    await nodes[origin].kill9();
    delete nodes[origin];
    for (const n of ['B', 'C']) {
      await eventually(async () => (await viewers[n].page.locator('#banner-title').textContent()) === 'This stream has ended',
        `the viewer from ${n} to see the stream ended`, 40000);
    }
    const ended = Date.now() - killed;
    t.diagnostic(`the viewers saw the stream ended ${ended} ms after its origin was killed (grace ${GRACE_MS} ms)`);
    assert.ok(ended >= GRACE_MS, 'not before the broadcaster\'s grace ran out');
    await eventually(async () => (await dashboardViewers(dashboard, 'ada')) === null,
      `${last}'s dashboard to drop the room`);
    const m = await metrics(nodes[last]);
    assert.equal(m.onair_rooms_live, 0, `no room on ${last}`);
    assert.equal(m.onair_cluster_pulls, 0, `${last} pulls nothing`);
    assert.ok(nodes[last].alive(), `${last} is running`);
  });

  step('no page errors', async () => {
    assert.deepEqual(errors, []);
  });
});
