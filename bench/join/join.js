#!/usr/bin/env node
// Join-time benchmark: how long a viewer waits for the first video frame, in
// Debian's chromium, for onair (its /view/<room> page, the SFU) and for the
// tutorial's peer-to-peer design (bench/join/tutorial/, the seed's socket.io
// 2.3 signaling), in one run, interleaved. Run by bench/run-join.sh inside a
// loopback-only network namespace (tests/e2e/in-netns.sh).
//
//   node bench/join/join.js run --onair BIN --seed-dir DIR --out FILE.jsonl
//        [--sizes "1 5 12"] [--repeats 4] [--single 20] [--warmup 1]
//        [--timeout 30] [--settle 1]
//   node bench/join/join.js report FILE.jsonl [--md]
//
// Per viewer it keeps, on the page's own clock (performance.now(), 0 at
// navigation start): DOMContentLoaded's end (the page load), and the first
// frame the page's <video> presents (requestVideoFrameCallback). Nothing
// else of the page is looked at, so a page that joins differently (offers
// earlier, one message fewer) is measured the same way.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.join(__dirname, '../..');
const TESTS = path.join(ROOT, 'tests');

function args(argv) {
  const o = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) {
      const k = argv[i].slice(2);
      const v = argv[i + 1] !== undefined && !argv[i + 1].startsWith('--') ? argv[++i] : true;
      o[k] = v;
    } else {
      o._.push(argv[i]);
    }
  }
  return o;
}

const sleep = ms => new Promise(r => setTimeout(r, ms));
const log = m => process.stderr.write(`join-bench: ${m}\n`);

// Bounded wait for a promise; rejects with `what` after ms.
function within(p, ms, what) {
  let timer;
  const t = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out (${ms} ms): ${what}`)), ms); });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

async function until(fn, what, ms = 15000, every = 100) {
  const end = Date.now() + ms;
  let last = null;
  for (;;) {
    try { const v = await fn(); if (v) return v; last = null; } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out (${ms} ms) waiting for ${what}${last ? ': ' + last.message : ''}`);
    await sleep(every);
  }
}

// ---- in every viewer page, before its own scripts ---------------------------
// Hooks every <video> the page has or adds: the first frame any of them
// presents (requestVideoFrameCallback) resolves window.__joinBench.done.
function frameHook() {
  if (window.__joinBench) return;
  let resolve;
  const R = window.__joinBench = { frame: null, playing: null, videos: 0, error: null };
  R.done = new Promise(r => { resolve = r; });
  // Where the time goes, on the same clock: the first time each step
  // happened (whatever page it is: both designs use a WebSocket and an
  // RTCPeerConnection, so the steps are comparable).
  R.marks = {};
  const mark = k => { if (!(k in R.marks)) R.marks[k] = performance.now(); };
  R.mark = mark;
  R.pcs = [];
  const WS = window.WebSocket;
  if (WS) {
    window.WebSocket = function (...a) {
      mark('ws_new');
      const ws = new WS(...a);
      ws.addEventListener('open', () => mark('ws_open'));
      ws.addEventListener('message', () => mark('ws_message'));
      return ws;
    };
    window.WebSocket.prototype = WS.prototype;
    for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) window.WebSocket[k] = WS[k];
  }
  const PC = window.RTCPeerConnection;
  if (PC) {
    const sld = PC.prototype.setLocalDescription;
    const srd = PC.prototype.setRemoteDescription;
    PC.prototype.setLocalDescription = function (...a) {
      mark('pc_local_set_call');
      return sld.apply(this, a).then(v => { mark('pc_local_set'); return v; });
    };
    PC.prototype.setRemoteDescription = function (...a) {
      mark('pc_remote_set_call');
      return srd.apply(this, a).then(v => { mark('pc_remote_set'); return v; });
    };
    window.RTCPeerConnection = function (...a) {
      mark('pc_new');
      const pc = new PC(...a);
      R.pcs.push(pc);
      pc.addEventListener('iceconnectionstatechange', () => {
        if (pc.iceConnectionState === 'connected' || pc.iceConnectionState === 'completed') mark('ice_connected');
      });
      pc.addEventListener('connectionstatechange', () => { if (pc.connectionState === 'connected') mark('pc_connected'); });
      pc.addEventListener('track', () => mark('pc_track'));
      return pc;
    };
    window.RTCPeerConnection.prototype = PC.prototype;
    Object.setPrototypeOf(window.RTCPeerConnection, PC);
  }
  document.addEventListener('readystatechange', () => mark(`doc_${document.readyState}`));
  const seen = new WeakSet();
  let observer = null;
  const hook = v => {
    if (seen.has(v)) return;
    seen.add(v);
    R.videos++;
    v.addEventListener('playing', () => { if (R.playing === null) R.playing = performance.now(); });
    v.addEventListener('loadedmetadata', () => mark('video_metadata'));
    if (typeof v.requestVideoFrameCallback !== 'function') {
      R.error = 'no requestVideoFrameCallback';
      resolve();
      return;
    }
    v.requestVideoFrameCallback((now, meta) => {
      if (R.frame) return;
      R.frame = {
        now,
        presented: meta.presentationTime,
        expected: meta.expectedDisplayTime,
        received: meta.receiveTime === undefined ? null : meta.receiveTime,
        width: meta.width,
        height: meta.height,
      };
      if (observer) observer.disconnect();
      resolve();
    });
  };
  const scan = () => { for (const v of document.querySelectorAll('video')) hook(v); };
  observer = new MutationObserver(scan);
  observer.observe(document, { childList: true, subtree: true });
}

// In the page: what its video receives so far (the inbound video stream of
// its peer connections with the most bytes), to compare the designs' streams.
async function pageStream() {
  let best = null;
  for (const pc of window.__joinBench.pcs) {
    if (pc.connectionState === 'closed') continue;
    for (const s of (await pc.getStats()).values()) {
      if (s.type !== 'inbound-rtp' || s.kind !== 'video' || (best && best.bytes >= s.bytesReceived)) continue;
      best = { bytes: s.bytesReceived, frames: s.framesDecoded || 0, height: s.frameHeight || 0, t: performance.now() };
    }
  }
  return best;
}

// Height, frames and kbit/s a page's video got between two pageStream()s.
function streamRate(a, b) {
  if (!a || !b || b.t <= a.t) return null;
  const s = (b.t - a.t) / 1000;
  return { height: b.height, fps: (b.frames - a.frames) / s, kbps: ((b.bytes - a.bytes) * 8) / s / 1000 };
}

// In the page, once the frame came: its times, ms from navigation start.
function pageTimes() {
  const R = window.__joinBench;
  const nav = performance.getEntriesByType('navigation')[0] || {};
  const f = R.frame;
  return {
    error: R.error,
    frame_ms: f ? (f.presented || f.now) : null,
    frame_cb_ms: f ? f.now : null,
    frame_received_ms: f ? f.received : null,
    width: f ? f.width : 0,
    height: f ? f.height : 0,
    playing_ms: R.playing,
    response_ms: nav.responseEnd || null,
    dcl_ms: nav.domContentLoadedEventEnd || null,
    load_ms: nav.loadEventEnd || null,
    time_origin: performance.timeOrigin,
    marks: R.marks,
    scripts_end_ms: Math.max(0, ...performance.getEntriesByType('resource')
      .filter(e => e.initiatorType === 'script' || e.initiatorType === 'link' || e.initiatorType === 'other')
      .map(e => e.responseEnd)),
  };
}

// ---- the two designs ------------------------------------------------------------
const VIEWPORT = { width: 960, height: 640 };

async function onairDesign(opt, casterBrowser, viewerBrowser, maxViewers) {
  process.env.ONAIR_BIN = path.resolve(opt.onair);
  const { startOnair } = require(path.join(TESTS, 'lib/server.js'));
  const { newUserContext, goLive, signUp } = require(path.join(TESTS, 'lib/media-e2e.js'));
  const srv = await startOnair(['--max-conns-per-ip', '0', '--max-ws-per-ip', '0', '--log-level', 'warn']);
  process.on('exit', () => { try { srv.proc.kill('SIGKILL'); } catch { /* gone */ } });
  const caster = await newUserContext(casterBrowser, srv, 'caster');
  const page = await caster.context.newPage();
  await goLive(page, srv, 'join benchmark');
  // One signed-in user per viewer slot, made once (an Argon2 hash each); every
  // measurement gives each viewer a fresh context with its user's cookie.
  const cookies = [];
  for (let i = 1; i <= maxViewers; i++) cookies.push(await signUp(srv, `viewer${i}`));
  const viewers = () => page.locator('#viewers').textContent();
  return {
    name: 'onair',
    url: `${srv.url}/view/caster`,
    async context(i) {
      const ctx = await viewerBrowser.newContext({ viewport: VIEWPORT });
      await ctx.addCookies([{ name: 'onair_session', value: cookies[i], url: srv.url }]);
      return ctx;
    },
    // The viewers left (their contexts closed): wait until onair counts none.
    async reset() { await until(async () => (await viewers()) === '0', 'onair to count 0 viewers', 15000); },
    healthy: () => srv.alive(),
    log: () => srv.log().slice(-3000),
    async stop() { await caster.context.close().catch(() => {}); await srv.stop(); },
  };
}

// JOIN_FLOOR=1 (a diagnostic, not in the report's ratios): onair's own
// join with nothing else on the page: view-boot.js and a <video>, served in
// place of /view/caster, so the figures show what chromium and onair take
// with no page weight at all.
// JOIN_FLOOR=css: the same with the site's stylesheet; JOIN_FLOOR=page:
// view.html itself without its modulepreload links.
async function floorDesign(onair) {
  let html = '<!doctype html><meta charset="utf-8"><script src="/assets/view-boot.js"></script>' +
    (process.env.JOIN_FLOOR === 'css' ? '<link rel="stylesheet" href="/assets/style.css">' : '') +
    '<video id="video" autoplay muted playsinline></video>';
  if (process.env.JOIN_FLOOR === 'page') {
    html = fs.readFileSync(path.join(ROOT, 'web/view.html'), 'utf8').replace(/^<link rel="modulepreload".*\n/gm, '');
  }
  return {
    ...onair,
    name: 'floor',
    async context(i) {
      const ctx = await onair.context(i);
      await ctx.route(onair.url, route => route.fulfill({ status: 200, contentType: 'text/html', body: html }));
      return ctx;
    },
    async stop() { /* onair's */ },
  };
}

async function freePort() {
  return require(path.join(TESTS, 'lib/server.js')).freePort();
}

async function tutorialDesign(opt, casterBrowser, viewerBrowser) {
  const port = await freePort();
  const proc = spawn(process.execPath, [path.join(__dirname, 'tutorial-server.js')], {
    env: { ...process.env, PORT: String(port), SEED_DIR: path.resolve(opt['seed-dir']) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', d => { out += d; });
  proc.stderr.on('data', d => { out += d; });
  const exited = new Promise(r => proc.once('exit', r));
  process.on('exit', () => { try { proc.kill('SIGKILL'); } catch { /* gone */ } });
  const url = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(url + '/watch.html')).ok, 'the tutorial server to listen', 10000);
  const ctx = await casterBrowser.newContext({ viewport: VIEWPORT });
  const page = await ctx.newPage();
  page.on('pageerror', e => log(`tutorial broadcaster: ${e.message}`));
  await page.goto(`${url}/broadcast.html?room=bench`);
  await until(async () => {
    const b = await page.evaluate(() => ({ live: window.bench.live, error: window.bench.error }));
    if (b.error) throw new Error(b.error);
    return b.live;
  }, 'the tutorial broadcaster to go live', 15000);
  await until(() => page.evaluate(() => document.querySelector('#preview').videoWidth > 0), 'its camera preview', 15000);
  return {
    name: 'tutorial',
    url: `${url}/watch.html?room=bench`,
    context: () => viewerBrowser.newContext({ viewport: VIEWPORT }),
    async reset() {
      await page.evaluate(() => window.bench.closeAll());
      const err = await page.evaluate(() => window.bench.error);
      if (err) { log(`tutorial broadcaster said: ${err}`); await page.evaluate(() => { window.bench.error = null; }); }
    },
    healthy: () => proc.exitCode === null && proc.signalCode === null,
    log: () => out.slice(-3000),
    async stop() {
      await ctx.close().catch(() => {});
      proc.kill('SIGTERM');
      await within(exited, 5000, 'the tutorial server to exit').catch(() => proc.kill('SIGKILL'));
    },
  };
}

// ---- one measurement: n viewers of one design -----------------------------------
// mode: 'single' (n = 1), 'one-by-one' (each viewer opened once the one
// before it has its first frame) or 'at-once' (all n navigations started
// together). Returns one row per viewer.
const traced = new Set(); // JOIN_TRACE=prefix: chromium's trace of each design's first measured viewer
async function measure(design, n, mode, timeoutMs) {
  const slots = [];
  for (let i = 0; i < n; i++) {
    const ctx = await design.context(i);
    await ctx.addInitScript(frameHook);
    const page = await ctx.newPage();
    const errors = [];
    page.on('pageerror', e => errors.push(e.message));
    slots.push({ ctx, page, errors });
  }
  const one = async (s, i) => {
    const row = { viewer: i + 1, ok: false };
    const started = Date.now();
    const trace = process.env.JOIN_TRACE && !traced.has(design.name) && mode === 'single';
    if (trace) {
      traced.add(design.name);
      await s.ctx.browser().startTracing(s.page, { path: `${process.env.JOIN_TRACE}-${design.name}.json`,
        categories: ['devtools.timeline', 'v8', 'blink', 'loading', 'toplevel', 'webrtc', 'disabled-by-default-devtools.timeline'] });
    }
    try {
      const times = await within((async () => {
        await s.page.goto(design.url, { waitUntil: 'domcontentloaded', timeout: timeoutMs });
        await s.page.evaluate(() => window.__joinBench.done);
        return s.page.evaluate(pageTimes);
      })(), timeoutMs, `viewer ${i + 1}'s first frame`);
      Object.assign(row, times);
      row.ok = !times.error && times.frame_ms !== null;
    } catch (e) {
      row.error = e.message.split('\n')[0];
      row.wall_ms = Date.now() - started;
      // How far it got.
      row.marks = await s.page.evaluate(() => (window.__joinBench ? window.__joinBench.marks : null)).catch(() => null);
    }
    if (s.errors.length) row.page_errors = s.errors.slice(0, 3);
    if (trace) await s.ctx.browser().stopTracing();
    return row;
  };
  let rows;
  if (mode === 'at-once') {
    rows = await Promise.all(slots.map(one));
  } else {
    rows = [];
    for (const [i, s] of slots.entries()) rows.push(await one(s, i));
  }
  // What the open pages cost while they play: the viewers' chromium (every
  // process of it) over STEADY_MS, in CPUs, once all of them have a frame.
  // What each page's video got meanwhile: the designs' streams differ (one
  // encoder for every onair viewer, one per viewer for the tutorial's).
  if (n > 1 && rows.every(r => r.ok)) {
    const stream = () => Promise.all(slots.map(s => s.page.evaluate(pageStream).catch(() => null)));
    const before = await stream();
    const cpu = await browserCpu(STEADY_MS);
    const after = await stream();
    for (const [i, r] of rows.entries()) {
      r.steady_cpu = cpu;
      r.stream = streamRate(before[i], after[i]);
    }
  }
  await Promise.all(slots.map(s => s.ctx.close().catch(() => {})));
  return rows;
}

// ---- the viewers' chromium's CPU, from /proc ---------------------------------
const STEADY_MS = 3000;
const VIEWER_MARK = '--onair-join-bench-viewers'; // on the viewers' chromium's command line

function procTree() {
  const kids = new Map();
  let root = null;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(d));
      if (root === null && fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(VIEWER_MARK)) root = Number(d);
    } catch { /* gone meanwhile */ }
  }
  const all = [];
  for (const stack = root === null ? [] : [root]; stack.length;) {
    const p = stack.pop();
    all.push(p);
    stack.push(...(kids.get(p) || []));
  }
  return all;
}

// utime + stime of every process of the tree, in clock ticks (100 a second).
function ticks(pids) {
  let t = 0;
  for (const p of pids) {
    try {
      const f = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
      t += Number(f[11]) + Number(f[12]);
    } catch { /* gone */ }
  }
  return t;
}

async function browserCpu(ms) {
  const pids = procTree();
  if (!pids.length) return null;
  const t0 = ticks(pids);
  const start = Date.now();
  await sleep(ms);
  return (ticks(pids) - t0) / 100 / ((Date.now() - start) / 1000);
}

// ---- the broadcasters' camera -----------------------------------------------------
// A Y4M clip, 640x360 at 30 fps, 2 s looped by chromium: a gradient that
// moves and a bright square that crosses it, so every frame differs (the
// encoders do real work) and no frame is a repeat. Written once to the temp dir.
function cameraClip() {
  const W = 640, H = 360, FRAMES = 60;
  const file = path.join(require('node:os').tmpdir(), `onair-join-camera-${W}x${H}.y4m`);
  if (fs.existsSync(file)) return file;
  const head = Buffer.from(`YUV4MPEG2 W${W} H${H} F30:1 Ip A1:1 C420jpeg\n`);
  const ysz = W * H, csz = (W / 2) * (H / 2);
  const frame = Buffer.alloc(6 + ysz + 2 * csz);
  const parts = [head];
  for (let f = 0; f < FRAMES; f++) {
    frame.write('FRAME\n', 0);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) frame[6 + y * W + x] = (x + y + 4 * f) & 0xff;
    }
    const bx = Math.floor((W - 80) * f / FRAMES), by = Math.floor((H - 80) / 2);
    for (let y = by; y < by + 80; y++) frame.fill(235, 6 + y * W + bx, 6 + y * W + bx + 80);
    frame.fill(128 + (f & 31), 6 + ysz, 6 + ysz + csz);
    frame.fill(128 - (f & 31), 6 + ysz + csz);
    parts.push(Buffer.from(frame));
  }
  fs.writeFileSync(`${file}.tmp`, Buffer.concat(parts));
  fs.renameSync(`${file}.tmp`, file);
  return file;
}

// ---- run ---------------------------------------------------------------------
async function run(opt) {
  const sizes = String(opt.sizes || '1 5 12').trim().split(/[\s,]+/).map(Number);
  if (sizes.some(n => !Number.isInteger(n) || n < 1 || n > 50)) throw new Error('--sizes: viewer counts from 1 to 50');
  const repeats = Number(opt.repeats || 4);
  const single = Number(opt.single || 20);
  const warmup = Number(opt.warmup ?? 1);
  const timeoutMs = 1000 * Number(opt.timeout || 30);
  const settleMs = 1000 * Number(opt.settle ?? 1);
  if (!opt.out) throw new Error('--out FILE is required');
  const out = fs.openSync(opt.out, 'a');
  const write = o => fs.writeSync(out, JSON.stringify(o) + '\n');

  const { CHROMIUM, BROWSER_ARGS } = require(path.join(TESTS, 'lib/media-e2e.js'));
  const { chromium } = require(path.join(TESTS, 'node_modules/playwright-core'));
  // Broadcasters in one browser process, every viewer in another.
  // Both broadcasters' camera: a 640x360 clip (CAMERA=fake: chromium's own
  // fake camera, which gives onair's page 1280x720 while the tutorial's
  // per-viewer encoders start at 640x360 and below, so onair's viewers then
  // decode four times the pixels on this one machine).
  const camera = process.env.CAMERA === 'fake' ? [] : [`--use-file-for-fake-video-capture=${cameraClip()}`];
  const casterBrowser = await chromium.launch({ executablePath: CHROMIUM, args: [...BROWSER_ARGS, ...camera] });
  // The floor's page is served by playwright: chromium counts it as public and
  // would refuse its WebSocket to 127.0.0.1 (local network access checks).
  const floorArgs = process.env.JOIN_FLOOR ? ['--disable-features=LocalNetworkAccessChecks'] : [];
  const viewerBrowser = await chromium.launch({ executablePath: CHROMIUM, args: [...BROWSER_ARGS, ...floorArgs, VIEWER_MARK] });
  const designs = [];
  let failed = false;
  try {
    const maxN = Math.max(...sizes);
    designs.push(await onairDesign(opt, casterBrowser, viewerBrowser, maxN));
    log(`onair live at ${designs[0].url}`);
    designs.push(await tutorialDesign(opt, casterBrowser, viewerBrowser));
    if (process.env.JOIN_FLOOR) designs.push(await floorDesign(designs[0]));
    log(`tutorial design live at ${designs[1].url}`);
    write({ type: 'meta', started: new Date().toISOString(), sizes, repeats, single, warmup,
      timeout_s: timeoutMs / 1000, settle_s: settleMs / 1000, chromium: casterBrowser.version(), node: process.version });

    // The schedule: round r has a single viewer (r <= single) and every
    // larger N in both modes (r <= repeats); each step measures both designs,
    // the first of them alternating from step to step.
    const steps = [];
    for (let w = 0; w < warmup; w++) steps.push({ n: 1, mode: 'single', warmup: true });
    for (let r = 1; r <= Math.max(repeats, sizes.includes(1) ? single : 0); r++) {
      if (sizes.includes(1) && r <= single) steps.push({ n: 1, mode: 'single', round: r });
      if (r > repeats) continue;
      for (const n of sizes.filter(x => x > 1)) {
        for (const mode of ['one-by-one', 'at-once']) steps.push({ n, mode, round: r });
      }
    }
    log(`${steps.length} steps, each with both designs`);
    for (const [k, st] of steps.entries()) {
      const order = k % 2 === 0 ? designs : [...designs].reverse();
      for (const d of order) {
        if (!d.healthy()) throw new Error(`${d.name} is not running:\n${d.log()}`);
        const rows = await measure(d, st.n, st.mode, timeoutMs);
        for (const row of rows) {
          write({ type: 'viewer', design: d.name, n: st.n, mode: st.mode, round: st.round || 0,
            warmup: !!st.warmup, step: k + 1, ...row });
        }
        const ok = rows.filter(r => r.ok);
        const med = median(ok.map(r => r.frame_ms));
        log(`step ${k + 1}/${steps.length} ${d.name.padEnd(8)} N=${st.n} ${st.mode}${st.warmup ? ' (warm-up)' : ''}: ` +
          `${ok.length}/${rows.length} saw a frame, median ${fmt(med)} ms` +
          (ok.length < rows.length ? ` (${rows.find(r => !r.ok).error || 'no frame'})` : ''));
        await d.reset();
        await sleep(settleMs);
      }
    }
  } catch (e) {
    failed = true;
    log(`failed: ${e.stack || e.message}`);
    for (const d of designs) log(`${d.name} log (tail):\n${d.log()}`);
  } finally {
    for (const d of designs) await d.stop().catch(() => {});
    await casterBrowser.close().catch(() => {});
    await viewerBrowser.close().catch(() => {});
    fs.closeSync(out);
  }
  return failed ? 1 : 0;
}

// ---- report ------------------------------------------------------------------
function median(xs) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
// Nearest rank: the smallest value with at least p of the values at or below it.
function pct(xs, p) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(p * s.length) - 1)];
}
const fmt = x => (Number.isFinite(x) ? x.toFixed(0) : '-');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? (a / b).toFixed(2) : '-');

function summarize(rows) {
  const groups = new Map();
  for (const r of rows) {
    if (r.type !== 'viewer' || r.warmup) continue;
    const key = `${r.design}|${r.n}|${r.mode}`;
    if (!groups.has(key)) groups.set(key, { design: r.design, n: r.n, mode: r.mode, rows: [] });
    groups.get(key).rows.push(r);
  }
  const modes = ['single', 'one-by-one', 'at-once'];
  const list = [...groups.values()].sort((a, b) => a.n - b.n || modes.indexOf(a.mode) - modes.indexOf(b.mode) ||
    (a.design === 'onair' ? -1 : 1));
  for (const g of list) {
    const ok = g.rows.filter(r => r.ok && r.dcl_ms !== null);
    const total = ok.map(r => r.frame_ms);
    const load = ok.map(r => r.dcl_ms);
    const join = ok.map(r => r.frame_ms - r.dcl_ms);
    const steps = new Map(g.rows.filter(r => typeof r.steady_cpu === 'number').map(r => [r.step, r.steady_cpu / r.n]));
    const streams = g.rows.map(r => r.stream).filter(Boolean);
    Object.assign(g, {
      page_cpu: median([...steps.values()]),
      stream_height: median(streams.map(s => s.height)),
      stream_fps: median(streams.map(s => s.fps)),
      stream_kbps: median(streams.map(s => s.kbps)),
      viewers: g.rows.length, ok: ok.length,
      total_p50: median(total), total_p95: pct(total, 0.95),
      load_p50: median(load), load_p95: pct(load, 0.95),
      join_p50: median(join), join_p95: pct(join, 0.95),
    });
    delete g.rows;
  }
  return list;
}

// One viewer opening a live room, step by step: the median time (ms from
// navigation start) each design's page first reached each step.
const PHASES = [
  ['response', r => r.response_ms], ['scripts', r => r.scripts_end_ms], ['ws_new', r => r.marks.ws_new],
  ['pc_new', r => r.marks.pc_new], ['dcl', r => r.dcl_ms], ['ws_open', r => r.marks.ws_open],
  ['ws_message', r => r.marks.ws_message], ['offer_set', r => r.marks.pc_local_set],
  ['answer_in', r => r.marks.pc_remote_set_call], ['answer_set', r => r.marks.pc_remote_set],
  ['ice', r => r.marks.ice_connected], ['dtls', r => r.marks.pc_connected], ['track', r => r.marks.pc_track],
  ['frame_in', r => r.frame_received_ms], ['frame', r => r.frame_ms],
];

function phases(rows, p) {
  const single = rows.filter(r => r.type === 'viewer' && !r.warmup && r.ok && r.mode === 'single' && r.marks);
  if (!single.length) return;
  p('');
  p('one viewer, step by step (median ms from navigation start; - where the page never got there)');
  p('design    ' + PHASES.map(([k]) => k.padStart(11)).join(''));
  for (const design of ['onair', 'tutorial', 'floor']) {
    const mine = single.filter(r => r.design === design);
    if (!mine.length) continue;
    p(design.padEnd(10) + PHASES.map(([, f]) => {
      const xs = mine.map(f).filter(x => typeof x === 'number' && x > 0);
      return fmt(xs.length * 2 > mine.length ? median(xs) : NaN).padStart(11);
    }).join(''));
  }
}

function report(file, md) {
  const rows = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(l => JSON.parse(l));
  const list = summarize(rows);
  const lines = [];
  const p = s => lines.push(s);
  p('design     N mode        viewers  frame p50  frame p95   load p50  load p95   join p50  join p95  CPU/page' +
    '  height    fps  kbit/s  ms/frame');
  for (const g of list) {
    p(`${g.design.padEnd(9)}${String(g.n).padStart(3)} ${g.mode.padEnd(11)}${`${g.ok}/${g.viewers}`.padStart(8)}` +
      [g.total_p50, g.total_p95, g.load_p50, g.load_p95, g.join_p50, g.join_p95].map(x => fmt(x).padStart(10)).join(' ').replace(/^/, ' ') +
      (Number.isFinite(g.page_cpu) ? g.page_cpu.toFixed(3).padStart(10) : '-'.padStart(10)) +
      fmt(g.stream_height).padStart(8) + fmt(g.stream_fps).padStart(7) + fmt(g.stream_kbps).padStart(8) +
      (g.stream_fps > 0 ? ((g.page_cpu * 1000) / g.stream_fps).toFixed(1) : '-').padStart(10));
  }
  p('');
  p('onair/tutorial     frame p50  frame p95   join p50  join p95');
  const ratios = [];
  for (const a of list.filter(g => g.design === 'onair')) {
    const b = list.find(g => g.design === 'tutorial' && g.n === a.n && g.mode === a.mode);
    if (!b) continue;
    const r = { n: a.n, mode: a.mode, frame_p50: ratio(a.total_p50, b.total_p50), frame_p95: ratio(a.total_p95, b.total_p95),
      join_p50: ratio(a.join_p50, b.join_p50), join_p95: ratio(a.join_p95, b.join_p95) };
    ratios.push(r);
    p(`N=${String(a.n).padEnd(3)}${a.mode.padEnd(13)}` +
      [r.frame_p50, r.frame_p95, r.join_p50, r.join_p95].map(x => x.padStart(10)).join(' '));
  }
  const one = list.find(g => g.design === 'onair' && g.mode === 'single');
  if (one) {
    p('');
    p(`one viewer opening a live room: onair ${fmt(one.total_p95)} ms p95 from navigation to the first frame ` +
      `(median ${fmt(one.total_p50)}, ${one.ok} runs); target 300 ms`);
  }
  phases(rows, p);
  const failed = list.reduce((s, g) => s + g.viewers - g.ok, 0);
  if (failed) p(`${failed} viewer(s) saw no frame within the timeout: left out of the figures (see the rows)`);
  process.stdout.write(lines.join('\n') + '\n');
  if (!md) process.stdout.write('JSON: ' + JSON.stringify({ groups: list, ratios }) + '\n');
}

async function main() {
  const o = args(process.argv.slice(2));
  const cmd = o._[0];
  if (cmd === 'run') {
    for (const k of ['onair', 'seed-dir']) if (!o[k]) throw new Error(`--${k} is required`);
    process.exitCode = await run(o);
  } else if (cmd === 'report' && o._[1]) {
    report(o._[1], !!o.md);
  } else {
    process.stderr.write('usage: join.js run --onair BIN --seed-dir DIR --out FILE [--sizes "1 5 12"] [--repeats 4]\n' +
      '         [--single 20] [--warmup 1] [--timeout 30] [--settle 1]\n       join.js report FILE [--md]\n');
    process.exitCode = 2;
  }
}

process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));
main().catch(e => { log(e.stack || e.message); process.exitCode = 1; });
