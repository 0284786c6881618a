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

// startLossyRelay({ listen: { address, port }, target: { address, port },
//   lossRate, random }) resolves to { stats(ssrc), clients, setLoss(rate), close() }.
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
    front.send(msg, client.port, client.address);
  }

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
    c.ready.then(() => c.up.send(msg, target.port, target.address));
  });
  front.on('error', () => {});
  await new Promise((resolve, reject) => {
    front.once('error', reject);
    front.bind({ address: listen.address, port: listen.port }, resolve);
  });

  return {
    clients,
    setLoss(r) { rate = r; },
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

module.exports = { startLossyRelay, isRtp };
