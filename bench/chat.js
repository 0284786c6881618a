#!/usr/bin/env node
// Chat fan-out benchmark client: one broadcaster, N viewers in its room, the
// broadcaster posts M chat messages, every viewer counts what it receives.
// Runs against onair (/ws, docs/protocol.md) or the seed's socket.io server
// (../shared/anchors/seed-signaling beside the project) and prints one JSON line of results.
// The servers are started and stopped by bench/run-chat.sh; this process is
// only the client load, so its CPU is not counted as the server's.
//
//   node bench/chat.js run --server onair --url http://127.0.0.1:PORT --pid PID \
//        --viewers 1000 --messages 100
//   node bench/chat.js run --server seed --url http://127.0.0.1:PORT --pid PID \
//        --seed-dir DIR [--seed-client sio|raw] --viewers 1000 --messages 100
//   node bench/chat.js report results.jsonl      # table + ratios + JSON
//
// Server figures come from /proc/<pid>: CPU = utime+stime (all threads) over
// the delivery window; memory = VmRSS after the N viewers joined minus VmRSS
// before the first viewer connected, divided by N.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');

const ROOT = path.resolve(__dirname, '..');

// ---- arguments ----------------------------------------------------------------

function parseArgs(argv) {
  const o = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const k = a.slice(2);
      const v = argv[i + 1] !== undefined && !argv[i + 1].startsWith('--') ? argv[++i] : 'true';
      o[k] = v;
    } else o._.push(a);
  }
  return o;
}

// ---- small helpers ------------------------------------------------------------

const sleep = ms => new Promise(r => setTimeout(r, ms));
const now = () => Number(process.hrtime.bigint()) / 1e9;

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: no result in ${ms / 1000} s`)), ms); }),
  ]);
}

// Polls cond() every 20 ms until it is true or ms pass; resolves true/false.
async function waitFor(cond, ms) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(20);
  }
  return true;
}

// Runs fn(i) for i in [0, n) with at most `width` in flight.
async function pool(n, width, fn) {
  let next = 0;
  const workers = [];
  for (let w = 0; w < Math.min(width, n); w++) {
    workers.push((async () => {
      while (next < n) { const i = next++; await fn(i); }
    })());
  }
  await Promise.all(workers);
}

const CLK_TCK = +(process.env.CLK_TCK || 100);

function procCpuSeconds(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (+f[11] + +f[12]) / CLK_TCK; // fields 14 and 15 of stat(5): utime, stime
}

function procRssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? +m[1] : NaN;
}

function requireFrom(dir, name) {
  try {
    return require(require.resolve(name, { paths: [dir] }));
  } catch (e) {
    throw new Error(`cannot load ${name} from ${dir} (${e.code || e.message}); see bench/README.md`);
  }
}

// ---- onair --------------------------------------------------------------------

function postJson(url, route, body, origin) {
  const u = new URL(route, url);
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: false,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data), Origin: origin },
    }, res => {
      let text = '';
      res.on('data', d => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.setTimeout(15000, () => req.destroy(new Error(`POST ${route}: no answer in 15 s`)));
    req.on('error', reject);
    req.end(data);
  });
}

async function onairAccount(url, origin, name) {
  const body = { username: name, password: 'bench-password-' + name };
  let res = await postJson(url, '/api/signup', body, origin);
  if (res.status === 409) res = await postJson(url, '/api/signin', body, origin);
  if (res.status !== 201 && res.status !== 200)
    throw new Error(`sign-up of ${name}: HTTP ${res.status} ${res.text}`);
  const m = /onair_session=([^;]+)/.exec([].concat(res.headers['set-cookie'] || []).join('\n'));
  if (!m) throw new Error(`sign-up of ${name}: no session cookie`);
  return `onair_session=${m[1]}`;
}

// A WebSocket to onair whose JSON messages go to onMsg; resolves once open.
function onairSocket(WebSocket, wsUrl, origin, cookie, onMsg) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { headers: { Cookie: cookie, Origin: origin }, perMessageDeflate: false });
    ws.on('message', (data, isBinary) => { if (!isBinary) onMsg(JSON.parse(data.toString())); });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`/ws upgrade: HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

async function runOnair(o) {
  const WebSocket = requireFrom(path.join(ROOT, 'tests'), 'ws');
  const origin = new URL(o.url).origin;
  const wsUrl = origin.replace(/^http/, 'ws') + '/ws';
  const N = o.viewers, M = o.messages, T = o.timeoutMs;
  const r = { server: 'onair', label: 'onair', client: 'ws', viewers: N, messages: M };

  const bcCookie = await onairAccount(o.url, origin, 'benchcaster');
  const vCookie = await onairAccount(o.url, origin, 'benchviewer');

  // The broadcaster goes live.
  let live = null, room = null, refused = 0;
  const bc = await onairSocket(WebSocket, wsUrl, origin, bcCookie, m => {
    if (m.type === 'live.started') { room = m.room; live(); }
    else if (m.type === 'error') {
      if (m.ref === 'chat.send') refused++; // e.g. rate_limited: nobody will get that one
      if (refused < 5) console.error('broadcaster got error:', JSON.stringify(m));
    }
  });
  const started = new Promise(res => { live = res; });
  bc.send(JSON.stringify({ type: 'live.start', title: 'bench' }));
  await withTimeout(started, T, 'live.start');
  await sleep(300);
  const rss0 = procRssKiB(o.pid);

  // N viewers connect and join (all on the one viewer account).
  let got = 0, errors = 0, settled = 0, viewerFrames = 0;
  const want = N * M;
  const viewers = [];
  const joinLat = [];
  const j0 = procCpuSeconds(o.pid);
  const tJoin0 = now();
  await withTimeout(pool(N, o.concurrency, async () => {
    const t0 = now();
    let joined, seen = 0;
    const p = new Promise(res => { joined = res; });
    const ws = await onairSocket(WebSocket, wsUrl, origin, vCookie, m => {
      switch (m.type) {
        case 'chat': got++; break;
        case 'room.joined': joined(); break;
        case 'room.viewers': // each join is announced to the whole room; wait for the last
          viewerFrames++;
          if (m.viewers >= N && seen < N) settled++;
          seen = m.viewers; break;
        case 'error': errors++; if (errors < 5) console.error('viewer got error:', JSON.stringify(m)); break;
      }
    });
    ws.send(JSON.stringify({ type: 'room.join', room }));
    await p;
    joinLat.push(now() - t0);
    viewers.push(ws);
  }), T, `${N} viewers joining`);
  r.join_s = +(now() - tJoin0).toFixed(3);
  // Joining announces room.viewers to everyone in the room (N*(N+1)/2 frames in
  // all); let that drain so it is neither in the memory nor the chat figures.
  r.joins_settled = await waitFor(() => settled >= N, T);
  r.settle_s = +(now() - tJoin0).toFixed(3);
  r.server_join_cpu_s = +(procCpuSeconds(o.pid) - j0).toFixed(2);
  r.room_viewers_frames = viewerFrames;
  await sleep(500);
  const rss1 = procRssKiB(o.pid);

  const c0 = procCpuSeconds(o.pid), u0 = process.cpuUsage(), t0 = now();
  for (let j = 0; j < M; j++) bc.send(JSON.stringify({ type: 'chat.send', room, text: 'hello ' + j }));
  const complete = await waitFor(() => got >= want - refused * N, T);
  const secs = now() - t0, u1 = process.cpuUsage(u0), c1 = procCpuSeconds(o.pid);

  for (const ws of viewers) ws.terminate();
  bc.terminate();
  r.refused_sends = refused;
  return finish(r, { got, want, secs, cpu: c1 - c0, rss0, rss1, complete: complete && !refused, errors, joinLat, clientCpu: u1 });
}

// ---- the seed (socket.io 2.3) -------------------------------------------------

// The same client interface over socket.io-client 2.3 (the seed's own client).
function seedSioClient(o) {
  const io = requireFrom(o.seedDir, 'socket.io-client');
  return {
    name: 'socket.io-client',
    connect(handlers) {
      return new Promise((resolve, reject) => {
        const s = io(o.url, { transports: ['websocket'], forceNew: true, reconnection: false });
        s.on('message-received', () => handlers.onChat && handlers.onChat());
        s.on('watcher', id => handlers.onWatcher && handlers.onWatcher(id));
        s.once('connect', () => resolve({
          id: s.id,
          emit: (...a) => s.emit(...a),
          close: () => s.close(),
        }));
        s.once('connect_error', reject);
      });
    },
  };
}

// The same over a bare `ws` WebSocket speaking engine.io v3 / socket.io v2
// text frames, so that the client-side cost is the same as for onair.
function seedRawClient(o) {
  const WebSocket = requireFrom(path.join(ROOT, 'tests'), 'ws');
  const wsUrl = new URL(o.url).origin.replace(/^http/, 'ws') + '/socket.io/?EIO=3&transport=websocket';
  return {
    name: 'ws (engine.io v3 frames)',
    connect(handlers) {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
        let sid = null, ping = null;
        ws.on('message', data => {
          const s = data.toString();
          if (s.startsWith('42["message-received"')) { handlers.onChat && handlers.onChat(); return; }
          if (s[0] === '0') { // open: {"sid":...,"pingInterval":...}
            const h = JSON.parse(s.slice(1));
            sid = h.sid;
            ping = setInterval(() => ws.send('2'), h.pingInterval || 25000);
          } else if (s === '40') {
            resolve({
              id: sid,
              emit: (...a) => ws.send('42' + JSON.stringify(a)),
              close: () => { clearInterval(ping); ws.terminate(); },
            });
          } else if (s.startsWith('42["watcher"')) {
            handlers.onWatcher && handlers.onWatcher(JSON.parse(s.slice(2))[1]);
          }
        });
        ws.once('close', () => clearInterval(ping));
        ws.once('error', reject);
      });
    },
  };
}

async function runSeed(o) {
  const client = o.seedClient === 'raw' ? seedRawClient(o) : seedSioClient(o);
  const N = o.viewers, M = o.messages, T = o.timeoutMs;
  const r = { server: 'seed', label: o.seedClient === 'raw' ? 'seed-raw' : 'seed', client: client.name, viewers: N, messages: M };
  const ROOM = 'room1';

  // The broadcaster registers the room. The seed never acknowledges this, but
  // it tells the broadcaster about each watcher: that is the join receipt.
  const pending = new Map();
  const bc = await withTimeout(client.connect({
    onWatcher: id => { const f = pending.get(id); if (f) { pending.delete(id); f(); } },
  }), T, 'broadcaster connect');
  bc.emit('broadcaster', ROOM, 'benchcaster');
  await sleep(300);
  const rss0 = procRssKiB(o.pid);

  let got = 0;
  const want = N * M;
  const viewers = [];
  const joinLat = [];
  const j0 = procCpuSeconds(o.pid);
  const tJoin0 = now();
  await withTimeout(pool(N, o.concurrency, async () => {
    const t0 = now();
    const s = await client.connect({ onChat: () => { got++; } });
    const joined = new Promise(res => pending.set(s.id, res));
    s.emit('watcher', ROOM);
    await joined;
    joinLat.push(now() - t0);
    viewers.push(s);
  }), T, `${N} viewers joining`);
  r.join_s = +(now() - tJoin0).toFixed(3);
  r.joins_settled = true;
  r.settle_s = r.join_s;
  r.server_join_cpu_s = +(procCpuSeconds(o.pid) - j0).toFixed(2);
  await sleep(500);
  const rss1 = procRssKiB(o.pid);

  const c0 = procCpuSeconds(o.pid), u0 = process.cpuUsage(), t0 = now();
  for (let j = 0; j < M; j++) bc.emit('message-sent', ROOM, 'hello ' + j, 'benchcaster');
  const complete = await waitFor(() => got >= want, T);
  const secs = now() - t0, u1 = process.cpuUsage(u0), c1 = procCpuSeconds(o.pid);

  for (const s of viewers) s.close();
  bc.close();
  return finish(r, { got, want, secs, cpu: c1 - c0, rss0, rss1, complete, errors: 0, joinLat, clientCpu: u1 });
}

// ---- results ------------------------------------------------------------------

function finish(r, x) {
  const lat = x.joinLat.slice().sort((a, b) => a - b);
  const q = p => (lat.length ? +(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] * 1000).toFixed(1) : null);
  Object.assign(r, {
    delivered: x.got,
    expected: x.want,
    loss: +(1 - x.got / x.want).toFixed(6),
    complete: x.complete,
    errors: x.errors,
    seconds: +x.secs.toFixed(3),
    deliveries_per_s: Math.round(x.got / x.secs),
    server_cpu_s: +x.cpu.toFixed(2),
    server_us_per_delivery: x.got ? +(x.cpu * 1e6 / x.got).toFixed(3) : null,
    // Share of the window the server was on a CPU (all its threads).
    server_cpu_share: +(x.cpu / x.secs).toFixed(2),
    // Share of the window the client process was on a CPU: near 1 means the
    // client, not the server, set the pace.
    client_cpu_share: +(((x.clientCpu.user + x.clientCpu.system) / 1e6) / x.secs).toFixed(2),
    rss_before_kib: x.rss0,
    rss_after_kib: x.rss1,
    server_kib_per_conn: +((x.rss1 - x.rss0) / r.viewers).toFixed(2),
    // Server CPU spent while the N viewers connected and joined, per viewer.
    server_ms_cpu_per_join: +(r.server_join_cpu_s * 1000 / r.viewers).toFixed(3),
    join_ms_p50: q(0.5),
    join_ms_p99: q(0.99),
  });
  return r;
}

// Median of a list of numbers (the runs of one configuration).
function median(xs) {
  const s = xs.filter(v => typeof v === 'number' && isFinite(v)).sort((a, b) => a - b);
  if (!s.length) return null;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function report(file) {
  const rows = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(l => JSON.parse(l));
  const key = r => `${r.viewers}x${r.messages}`;
  const sizes = [...new Set(rows.map(key))];
  const pick = (size, label) => rows.filter(r => key(r) === size && (r.label || r.server) === label);
  const agg = (rs, f) => median(rs.map(r => r[f]));
  const fields = ['deliveries_per_s', 'server_us_per_delivery', 'server_kib_per_conn', 'join_s', 'server_ms_cpu_per_join', 'loss',
    'server_cpu_share', 'client_cpu_share'];

  const out = { benchmark: 'chat fan-out', sizes: [] };
  const lines = [];
  const pad = (s, n) => String(s).padStart(n);
  const W = [8, 7, 5, 4, 9, 12, 9, 7, 12, 8, 10, 10];
  lines.push(['server', 'viewers', 'msgs', 'runs', 'deliv/s', 'us CPU/deliv', 'KiB/conn', 'join s', 'ms CPU/join',
    'loss', 'server CPU', 'client CPU'].map((h, i) => (i === 0 ? h.padEnd(W[0]) : pad(h, W[i]))).join(' '));
  for (const size of sizes) {
    const entry = { size, viewers: null, messages: null };
    for (const server of ['onair', 'seed', 'seed-raw']) {
      const rs = pick(size, server);
      if (!rs.length) continue;
      const m = {};
      for (const f of fields) m[f] = agg(rs, f);
      m.runs = rs.length;
      m.complete = rs.every(r => r.complete);
      m.client = rs[0].client;
      entry.viewers = rs[0].viewers; entry.messages = rs[0].messages;
      entry[server] = m;
      lines.push([server.padEnd(W[0]), pad(rs[0].viewers, W[1]), pad(rs[0].messages, W[2]), pad(rs.length, W[3]),
        pad(m.deliveries_per_s, W[4]), pad(m.server_us_per_delivery, W[5]), pad(m.server_kib_per_conn, W[6]),
        pad(m.join_s, W[7]), pad(m.server_ms_cpu_per_join, W[8]), pad(m.loss, W[9]),
        pad(m.server_cpu_share, W[10]), pad(m.client_cpu_share, W[11])].join(' '));
    }
    const ratio = (a, b) => (a != null && b ? +(a / b).toFixed(3) : null);
    const ratios = (a, b) => ({
      throughput: ratio(a.deliveries_per_s, b.deliveries_per_s),
      cpu_per_delivery: ratio(a.server_us_per_delivery, b.server_us_per_delivery),
      memory_per_connection: ratio(a.server_kib_per_conn, b.server_kib_per_conn),
      join_time: ratio(a.join_s, b.join_s),
      cpu_per_join: ratio(a.server_ms_cpu_per_join, b.server_ms_cpu_per_join),
    });
    if (entry.onair && entry.seed) entry.ratios_onair_over_seed = ratios(entry.onair, entry.seed);
    if (entry.onair && entry['seed-raw']) entry.ratios_onair_over_seed_raw = ratios(entry.onair, entry['seed-raw']);
    out.sizes.push(entry);
  }
  out.runs = rows;
  console.log('\nChat fan-out, one run on this machine (medians over runs):\n');
  console.log(lines.join('\n'));
  console.log('\nRatios onair / seed  (throughput: >1 is better for onair; CPU, memory, join: <1 is better for onair)\n');
  for (const e of out.sizes) {
    for (const [peer, x] of [['seed', e.ratios_onair_over_seed], ['seed-raw', e.ratios_onair_over_seed_raw]]) {
      if (!x) continue;
      console.log(`  ${e.size.padEnd(9)} vs ${peer.padEnd(8)} throughput ${x.throughput}   CPU/delivery ${x.cpu_per_delivery}   ` +
        `memory/conn ${x.memory_per_connection}   join time ${x.join_time}   CPU/join ${x.cpu_per_join}`);
    }
  }
  console.log('\nJSON:');
  console.log(JSON.stringify(out));
}

// ---- main ---------------------------------------------------------------------

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const cmd = a._[0];
  if (cmd === 'report') return report(a._[1] || a.file);
  if (cmd !== 'run') {
    console.error('usage: chat.js run --server onair|seed --url URL --pid PID [--viewers N] [--messages M]\n' +
      '                  [--concurrency C] [--timeout S] [--seed-dir DIR] [--seed-client sio|raw]\n' +
      '       chat.js report results.jsonl');
    process.exit(2);
  }
  const o = {
    server: a.server, url: a.url, pid: +a.pid,
    viewers: +(a.viewers || 1000), messages: +(a.messages || 100),
    concurrency: +(a.concurrency || 50), timeoutMs: 1000 * +(a.timeout || 60),
    seedDir: a['seed-dir'], seedClient: a['seed-client'] || 'sio',
  };
  if (!o.url || !o.pid) throw new Error('--url and --pid are required');
  fs.accessSync(`/proc/${o.pid}/stat`);
  const r = o.server === 'onair' ? await runOnair(o) : await runSeed(o);
  console.log(JSON.stringify(r));
  process.exit(0);
}

main().catch(e => { console.error('chat.js:', e.message); process.exit(1); });
