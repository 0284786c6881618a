// /metrics and /healthz (docs/operations.md, "Seeing what it does"): the
// scrape passes Debian's promtool, its gauges and counters move with the
// traffic this test makes (users, WebSockets, a room with a viewer, chat,
// failed sign-ins), and only metrics-allow addresses may read it.
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const { startOnair } = require('../lib/server.js');
const { request, userWithWs, goLive, join, uname } = require('./util.js');

const PROMTOOL = process.env.PROMTOOL || '/usr/bin/promtool';

// The scrape as { text, values: { 'name{labels}': number } }.
async function scrape(srv) {
  const res = await request(srv, 'GET', '/metrics');
  assert.equal(res.status, 200, res.body);
  assert.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const values = {};
  for (const line of res.body.split('\n')) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) values[m[1]] = Number(m[2]);
  }
  return { text: res.body, values };
}

function promtoolCheck(text) {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { ok: r.status === 0, out: (r.stdout || '') + (r.stderr || '') };
}

describe('/metrics', { timeout: 60000 }, () => {
  let srv;
  const open = [];
  before(async () => { srv = await startOnair(); });
  after(async () => {
    for (const ws of open) ws.terminate();
    if (srv) await srv.stop();
  });

  test('passes promtool and moves with the traffic', async () => {
    const before = await scrape(srv);
    const check = promtoolCheck(before.text);
    assert.ok(check.ok, 'promtool check metrics:\n' + check.out);
    for (const name of ['onair_rooms_live', 'onair_websockets', 'onair_chat_messages_received_total',
      'onair_rtp_packets_received_total', 'onair_rtp_packets_sent_total', 'onair_nack_retransmits_total',
      'onair_keyframe_requests_total', 'onair_signin_failures_total', 'onair_loop_busy_seconds_total',
      'onair_layer_switches_total', 'onair_probe_packets_total', 'onair_viewer_feedback_total',
      'onair_publisher_feedback_total',
      'onair_media_dropped_total{reason="srtp"}', 'onair_media_dropped_total{reason="unknown_peer"}'])
      assert.ok(name in before.values, `${name} is in the scrape`);
    assert.equal(before.values.onair_rooms_live, 0);

    const bc = await userWithWs(srv, 'bc');
    const viewer = await userWithWs(srv, 'vw');
    open.push(bc.ws.ws, viewer.ws.ws);
    assert.equal((await goLive(bc.ws)).type, 'live.started');
    assert.equal((await join(viewer.ws, bc.name)).type, 'room.joined');
    await viewer.ws.request({ type: 'chat.send', room: bc.name, text: 'hi' }, m => m.type === 'chat');
    for (let i = 0; i < 2; i++)
      await request(srv, 'POST', '/api/signin', { body: { username: uname('x'), password: 'wrong one!' } });
    // A datagram from nowhere to the media port (the HTTP port's number).
    const dgram = require('node:dgram').createSocket('udp4');
    await new Promise(r => dgram.send(Buffer.from([0x80, 0x60, 0, 1]), srv.port, '127.0.0.1', r));
    dgram.close();

    let after;
    for (let i = 0; i < 50; i++) {
      after = await scrape(srv);
      if (after.values['onair_media_dropped_total{reason="unknown_peer"}'] > 0) break;
      await new Promise(r => setTimeout(r, 50));
    }
    const v = after.values;
    assert.equal(v.onair_rooms_live, 1);
    assert.equal(v.onair_viewers, 1);
    assert.equal(v.onair_websockets, 2);
    assert.equal(v.onair_chat_messages_received_total, before.values.onair_chat_messages_received_total + 1);
    assert.equal(v.onair_chat_messages_sent_total, before.values.onair_chat_messages_sent_total + 2,
      'one chat message to the viewer and the broadcaster');
    assert.equal(v.onair_signin_failures_total, before.values.onair_signin_failures_total + 2);
    assert.equal(v['onair_media_dropped_total{reason="unknown_peer"}'], 1);
    assert.ok(v.onair_loop_busy_seconds_total > 0);
    assert.ok(promtoolCheck(after.text).ok);

    viewer.ws.terminate();
    await viewer.ws.closed;
    for (let i = 0; i < 50 && (await scrape(srv)).values.onair_websockets !== 1; i++)
      await new Promise(r => setTimeout(r, 50));
    assert.equal((await scrape(srv)).values.onair_websockets, 1, 'the closed WebSocket is gone from the gauge');
  });

  test('/healthz answers anyone', async () => {
    const res = await request(srv, 'GET', '/healthz');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'ok\n');
  });
});

describe('metrics-allow', { timeout: 30000 }, () => {
  test('an address not listed gets 403', async () => {
    const srv = await startOnair(['--metrics-allow', '10.0.0.0/8']);
    try {
      const res = await request(srv, 'GET', '/metrics');
      assert.equal(res.status, 403);
      assert.doesNotMatch(res.body, /onair_/);
      assert.equal((await request(srv, 'GET', '/healthz')).status, 200);
    } finally {
      await srv.stop();
    }
  });
});
