// A small UDP relay that stands between WebRTC clients and onair's media
// port and drops a share of the RTP that onair sends to the clients (never
// STUN, DTLS or RTCP), so a test can watch NACK recovery on a path it
// controls. onair announces the relay's address (--media-announce); each
// client address gets its own upstream socket, so onair sees one address per
// client as it would without the relay.
//
// The RTP header of SRTP is in the clear, so the relay can tell which
// sequence numbers it dropped and whether onair sent them again.
'use strict';
const dgram = require('node:dgram');

// RFC 7983 / RFC 5761: RTP has version 2 in the first byte and a second byte
// (marker + payload type) outside 192-223, where RTCP's packet types lie.
function isRtp(b) {
  return b.length >= 12 && b[0] >= 128 && b[0] <= 191 && !(b[1] >= 192 && b[1] <= 223);
}

// The ICE ufrag a client's STUN binding request names as its own (the part
// of USERNAME after the colon: RFC 8445 7.2.2), or null.
function stunClientUfrag(b) {
  if (b.length < 20 || b[0] > 3 || b.readUInt32BE(4) !== 0x2112a442) return null;
  for (let at = 20; at + 4 <= b.length;) {
    const type = b.readUInt16BE(at);
    const len = b.readUInt16BE(at + 2);
    if (at + 4 + len > b.length) return null;
    if (type === 0x0006) {
      const name = b.toString('latin1', at + 4, at + 4 + len);
      const colon = name.indexOf(':');
      return colon >= 0 ? name.slice(colon + 1) : null;
    }
    at += 4 + len + ((4 - (len % 4)) % 4);
  }
  return null;
}

// A bottleneck toward one client: a token bucket at bps (bits a second)
// in front of a drop-tail queue that holds queueMs of it, so that delay
// grows before packets are lost, as on a real narrow link.
function bottleneck(send, bps, queueMs) {
  const queue = [];
  let queued = 0;
  let tokens = 0;
  let last = process.hrtime.bigint();
  let timer = null;
  const cap = () => bps / 8 * queueMs / 1000;
  function pump() {
    timer = null;
    const now = process.hrtime.bigint();
    tokens = Math.min(tokens + Number(now - last) / 1e9 * bps / 8, 1500);
    last = now;
    while (queue.length && tokens >= queue[0].length) {
      const m = queue.shift();
      tokens -= m.length;
      queued -= m.length;
      send(m);
    }
    if (queue.length) timer = setTimeout(pump, 1);
  }
  return {
    dropped: 0,
    push(m) {
      if (queued + m.length > cap()) { this.dropped++; return; }
      queue.push(m);
      queued += m.length;
      if (!timer) pump();
    },
    setRate(r) { bps = r; },
  };
}

// startLossyRelay({ listen: { address, port }, target: { address, port },
//   lossRate, random }) resolves to { stats(ssrc), clients, setLoss(rate),
//   cap(ufrag, bps), uncap(ufrag), close() }: cap() puts a bottleneck
//   (bottleneck() above) on what onair sends to the client whose ICE ufrag
//   is ufrag.
async function startLossyRelay({ listen, target, lossRate = 0.05, random = Math.random }) {
  const front = dgram.createSocket('udp4');
  const clients = new Map(); // "addr:port" -> { up, fromClient, toClient }
  const perSsrc = new Map(); // ssrc -> { forwarded, dropped, droppedSeqs:Set, resentAfterDrop, duplicates, seen:Set }
  let rate = lossRate;

  function ssrcStats(ssrc) {
    let s = perSsrc.get(ssrc);
    if (!s) {
      s = { forwarded: 0, dropped: 0, droppedSeqs: new Set(), resentAfterDrop: 0, stillMissing: 0, seen: new Set() };
      perSsrc.set(ssrc, s);
    }
    return s;
  }

  function fromOnair(client, msg) {
    if (isRtp(msg)) {
      const ssrc = msg.readUInt32BE(8);
      const seq = msg.readUInt16BE(2);
      const s = ssrcStats(ssrc);
      if (random() < rate) {
        s.dropped++;
        s.droppedSeqs.add(seq);
        return;
      }
      if (s.droppedSeqs.delete(seq)) s.resentAfterDrop++;
      s.forwarded++;
    }
    client.toClient++;
    const link = client.ufrag ? caps.get(client.ufrag) : null;
    if (link) link.push(msg, client);
    else front.send(msg, client.port, client.address);
  }
  const caps = new Map(); // client ufrag -> { push(msg, client) }: toward it
  const upCaps = new Map(); // the same, from it toward onair

  front.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let c = clients.get(key);
    if (!c) {
      const up = dgram.createSocket('udp4');
      c = { address: rinfo.address, port: rinfo.port, up, fromClient: 0, toClient: 0, ready: null };
      c.ready = new Promise(r => up.bind({ address: listen.address, port: 0 }, r));
      up.on('message', m => fromOnair(c, m));
      up.on('error', () => {});
      clients.set(key, c);
    }
    c.fromClient++;
    if (!c.ufrag) c.ufrag = stunClientUfrag(msg);
    const link = c.ufrag ? upCaps.get(c.ufrag) : null;
    if (link) link.push(msg, c);
    else c.ready.then(() => c.up.send(msg, target.port, target.address));
  });
  front.on('error', () => {});
  await new Promise((resolve, reject) => {
    front.once('error', reject);
    front.bind({ address: listen.address, port: listen.port }, resolve);
  });

  return {
    clients,
    setLoss(r) { rate = r; },
    // A bottleneck toward the client with that ufrag (up: from it).
    cap(ufrag, bps, queueMs = 300, { up = false } = {}) {
      const links = new Map(); // per client address: its own bucket
      const out = (client, x) => (up ? client.ready.then(() => client.up.send(x, target.port, target.address))
        : front.send(x, client.port, client.address));
      const link = {
        dropped: () => [...links.values()].reduce((n, b) => n + b.dropped, 0),
        push(m, client) {
          const key = `${client.address}:${client.port}`;
          if (!links.has(key)) links.set(key, bottleneck(x => out(client, x), bps, queueMs));
          links.get(key).push(m);
        },
      };
      (up ? upCaps : caps).set(ufrag, link);
      return link;
    },
    uncap(ufrag, { up = false } = {}) { (up ? upCaps : caps).delete(ufrag); },
    // Figures for one RTP stream (by SSRC) toward the clients.
    stats(ssrc) {
      const s = perSsrc.get(ssrc >>> 0);
      if (!s) return null;
      return { forwarded: s.forwarded, dropped: s.dropped, resentAfterDrop: s.resentAfterDrop, stillMissing: s.droppedSeqs.size };
    },
    ssrcs: () => [...perSsrc.keys()],
    close() {
      for (const c of clients.values()) c.up.close();
      front.close();
    },
  };
}

module.exports = { startLossyRelay, isRtp, stunClientUfrag };
