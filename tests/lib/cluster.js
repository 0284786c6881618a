// A cluster for a test (docs/cluster.md): a real redis-server and a real
// PostgreSQL (tests/lib/pgtemp.sh), both started here in temporary places
// and stopped when the test ends, and onair nodes on 127.0.0.1 sharing them.
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const { startOnair, freePort } = require('./server.js');

const PGTEMP = path.join(__dirname, 'pgtemp.sh');
const SECRET = 'cluster-test-secret-0123456789';

function sleep(ms) { return new Promise(r => setTimeout(r, ms)); }

async function waitForTcp(port, timeoutMs = 10000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await new Promise(r => {
      const c = net.connect(port, '127.0.0.1', () => { c.end(); r(true); });
      c.on('error', () => r(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error('nothing listens on ' + port);
}

// redis-server on 127.0.0.1:port (a free one), in memory only. restart()
// stops it (SIGKILL: as a crash) and starts it again on the same port.
async function startRedis() {
  const port = await freePort();
  let proc = null;
  let exited = null;
  async function up() {
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
      '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' });
    exited = new Promise(r => proc.once('exit', r));
    await waitForTcp(port);
  }
  async function down() {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
  }
  await up();
  return {
    url: 'redis://127.0.0.1:' + port,
    port,
    down,
    up,
    async restart() { await down(); await up(); },
    stop: down,
  };
}

// A PostgreSQL server of its own (pgtemp.sh) with an empty database.
// Returns { conninfo, dir, query(sql), stop() }.
function startPostgres() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-pg.'));
  const conninfo = execFileSync(PGTEMP, ['start', dir], { encoding: 'utf8' }).trim();
  const args = conninfo.split(/\s+/).reduce((o, kv) => {
    const [k, v] = kv.split('=');
    o[k] = v;
    return o;
  }, {});
  return {
    conninfo,
    dir,
    // Runs sql with psql on the server's socket; its rows, '|' between columns.
    query(sql) {
      const user = args.user ? ['-U', args.user] : [];
      return execFileSync('psql', ['-h', args.host, '-d', args.dbname, ...user, '-At', '-c', sql],
        { encoding: 'utf8' }).trim();
    },
    stop() {
      try { execFileSync(PGTEMP, ['stop', dir], { stdio: 'ignore' }); } catch { /* gone */ }
    },
  };
}

// Starts a node of the cluster: onair with --redis, --postgres and the
// cluster's secret, named name, reached at 127.0.0.1. extraArgs and opts go
// to startOnair (opts.port reuses a port, to restart a node).
async function startNode(name, redis, pg, extraArgs = [], opts = {}) {
  const args = ['--redis', redis.url, '--postgres', pg.conninfo, '--cluster-secret', SECRET,
    '--node-name', name, '--node-address', '127.0.0.1', ...extraArgs];
  const node = await startOnair(args, opts);
  node.name = name;
  return node;
}

// A test's cluster: start(names, args) starts a redis-server, a PostgreSQL
// and a node per name (startNode with args); stop(), for the test's
// after(), stops the nodes still in nodes (a test deletes a node it
// killed), then Redis and PostgreSQL, whatever start() got to.
function newCluster() {
  const c = {
    redis: null,
    pg: null,
    nodes: {},
    async start(names, args = []) {
      c.redis = await startRedis();
      c.pg = startPostgres();
      for (const n of names) c.nodes[n] = await startNode(n, c.redis, c.pg, args);
    },
    async stop() {
      for (const srv of Object.values(c.nodes)) await srv.stop().catch(() => {});
      if (c.redis) await c.redis.stop();
      if (c.pg) c.pg.stop();
    },
    // Waits until every node lists them all in its directory.
    async listed(eventually) {
      const count = Object.keys(c.nodes).length;
      for (const [n, srv] of Object.entries(c.nodes)) {
        await eventually(async () => (await metrics(srv)).onair_cluster_nodes === count,
          `node ${n} to list ${count} nodes`, 15000);
      }
    },
  };
  return c;
}

// The node's /metrics as { name: value } (series without labels).
async function metrics(node) {
  const text = await (await fetch(node.url + '/metrics')).text();
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+) (\S+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

// The room as the dashboard on page shows it: its viewer count, or null
// when the room is not listed.
function dashboardViewers(page, room) {
  return page.evaluate(name => {
    for (const li of document.querySelectorAll('#rooms li')) {
      if (li.textContent.includes(name)) {
        const v = li.querySelector('.room-viewers');
        return v ? Number(v.dataset.viewers) : null;
      }
    }
    return null;
  }, room);
}

// Waits until the viewer on page decodes again after its media broke
// (stats(page) gives { framesDecoded }): a new connection's counters start
// from 0, so "again" is 10 frames more than the lowest count seen since,
// which is below before (the count when the media broke).
async function decodesAgain(page, stats, before, what, eventually, timeoutMs = 30000) {
  let low = Infinity;
  let last = null;
  return eventually(async () => {
    const s = await stats(page);
    if (!s) return null;
    last = s;
    low = Math.min(low, s.framesDecoded);
    return low < before && s.framesDecoded >= low + 10 ? s : null;
  }, what, timeoutMs).catch(e => {
    e.message += ` (frames decoded before ${before}, lowest since ${low}, last ${JSON.stringify(last)})`;
    throw e;
  });
}

module.exports = {
  startRedis, startPostgres, startNode, newCluster, metrics, dashboardViewers, decodesAgain, SECRET,
};
