// All WebRTC lives here. For now media goes peer to peer, as in the tutorial:
// the broadcaster opens one RTCPeerConnection per viewer and offers; each
// viewer answers. onair's SFU will replace this module's insides; the pages
// only use the small interface below.
//
//   const pub = createPublisher({ stream, send });
//   pub.addViewer(peer); pub.removeViewer(peer); pub.onSignal(from, data);
//   pub.replaceTrack(track); pub.close();
//
//   const view = createViewer({ send, onStream, onState });
//   view.onSignal(from, data); view.stats(); view.close();
//
// send(to, data) delivers `data` to peer `to` as a {"type":"signal"} message.
// Signal data is {kind:"offer"|"answer", sdp} or {kind:"candidate", candidate}.

const RTC_CONFIG = { iceServers: [] }; // no STUN/TURN: onair's SFU replaces this path
const MAX_PENDING_CANDIDATES = 64;

function isSdp(data) {
  return typeof data.sdp === 'string' && data.sdp.length > 0 && data.sdp.length < 32768;
}

// One connection's ICE candidates, held until the remote description is set.
function candidateQueue(pc) {
  let pending = [];
  return {
    async add(c) {
      if (!c || typeof c !== 'object') return;
      if (!pc.remoteDescription) {
        if (pending.length < MAX_PENDING_CANDIDATES) pending.push(c);
        return;
      }
      try { await pc.addIceCandidate(c); } catch (e) { console.warn('onair: bad ICE candidate', e); }
    },
    async flush() {
      const list = pending;
      pending = [];
      for (const c of list) {
        try { await pc.addIceCandidate(c); } catch (e) { console.warn('onair: bad ICE candidate', e); }
      }
    },
  };
}

function sendCandidates(pc, send, to) {
  pc.addEventListener('icecandidate', ev => {
    if (ev.candidate && ev.candidate.candidate) send(to, { kind: 'candidate', candidate: ev.candidate.toJSON() });
  });
}

// The broadcaster's side: one outgoing connection per viewer.
// onPeerState(peer, state) reports each connection's state, if given.
export function createPublisher({ stream, send, onPeerState }) {
  let tracks = stream.getTracks();
  const peers = new Map(); // peer -> { pc, queue }
  let closed = false;

  async function addViewer(peer) {
    if (closed || typeof peer !== 'string' || peers.has(peer)) return;
    const pc = new RTCPeerConnection(RTC_CONFIG);
    const entry = { pc, queue: candidateQueue(pc) };
    peers.set(peer, entry);
    for (const t of tracks) pc.addTrack(t, stream);
    sendCandidates(pc, send, peer);
    pc.addEventListener('connectionstatechange', () => {
      if (onPeerState) onPeerState(peer, pc.connectionState);
    });
    try {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      if (peers.get(peer) === entry) send(peer, { kind: 'offer', sdp: pc.localDescription.sdp });
    } catch (e) {
      console.warn('onair: could not make an offer', e);
      removeViewer(peer);
    }
  }

  function removeViewer(peer) {
    const entry = peers.get(peer);
    if (!entry) return;
    peers.delete(peer);
    entry.pc.close();
  }

  async function onSignal(from, data) {
    const entry = peers.get(from);
    if (!entry || !data || typeof data !== 'object') return;
    const { pc, queue } = entry;
    try {
      if (data.kind === 'answer' && isSdp(data)) {
        if (pc.signalingState !== 'have-local-offer') return;
        await pc.setRemoteDescription({ type: 'answer', sdp: data.sdp });
        await queue.flush();
      } else if (data.kind === 'candidate') {
        await queue.add(data.candidate);
      }
    } catch (e) {
      console.warn('onair: signaling with a viewer failed', e);
    }
  }

  // Swaps the camera or microphone track (device choice) on every connection.
  function replaceTrack(track) {
    const old = tracks.find(t => t.kind === track.kind);
    tracks = tracks.filter(t => t.kind !== track.kind).concat(track);
    for (const { pc } of peers.values()) {
      const sender = pc.getSenders().find(s => (s.track && s.track.kind === track.kind) || (old && s.track === old));
      if (sender) sender.replaceTrack(track).catch(e => console.warn('onair: replaceTrack failed', e));
    }
  }

  function close() {
    closed = true;
    for (const peer of [...peers.keys()]) removeViewer(peer);
  }

  return { addViewer, removeViewer, onSignal, replaceTrack, close, get viewerCount() { return peers.size; } };
}

// A viewer's side: one incoming connection from the broadcaster.
// onStream(MediaStream) when media arrives; onState(state) with the
// connection's state ('connecting', 'connected', 'failed', ...).
export function createViewer({ send, onStream, onState }) {
  let pc = null;
  let queue = null;
  let remote = null; // the peer the current connection talks to
  let closed = false;

  function reset() {
    if (pc) pc.close();
    pc = null;
    queue = null;
    remote = null;
  }

  function make(from) {
    reset();
    remote = from;
    pc = new RTCPeerConnection(RTC_CONFIG);
    queue = candidateQueue(pc);
    const mine = pc;
    const stream = new MediaStream();
    sendCandidates(pc, send, from);
    pc.addEventListener('track', ev => {
      if (mine !== pc) return;
      const s = ev.streams && ev.streams[0];
      if (s) { onStream(s); return; }
      stream.addTrack(ev.track);
      onStream(stream);
    });
    pc.addEventListener('connectionstatechange', () => {
      if (mine === pc && onState) onState(pc.connectionState);
    });
  }

  async function onSignal(from, data) {
    if (closed || typeof from !== 'string' || !data || typeof data !== 'object') return;
    try {
      if (data.kind === 'offer' && isSdp(data)) {
        // A new offer from someone else (or after a failure) starts over.
        if (!pc || remote !== from || pc.signalingState !== 'stable' || pc.connectionState === 'failed') make(from);
        const mine = pc;
        await pc.setRemoteDescription({ type: 'offer', sdp: data.sdp });
        await queue.flush();
        const answer = await pc.createAnswer();
        await pc.setLocalDescription(answer);
        if (mine === pc) send(from, { kind: 'answer', sdp: pc.localDescription.sdp });
      } else if (data.kind === 'candidate' && pc && from === remote) {
        await queue.add(data.candidate);
      }
    } catch (e) {
      console.warn('onair: signaling with the broadcaster failed', e);
      if (onState) onState('failed');
    }
  }

  // Inbound video figures, or null before there is a connection.
  async function stats() {
    if (!pc) return null;
    const report = await pc.getStats();
    let out = null;
    report.forEach(s => {
      if (s.type === 'inbound-rtp' && (s.kind === 'video' || s.mediaType === 'video')) {
        out = {
          framesDecoded: s.framesDecoded || 0,
          frameWidth: s.frameWidth || 0,
          frameHeight: s.frameHeight || 0,
          bytesReceived: s.bytesReceived || 0,
          packetsLost: s.packetsLost || 0,
        };
      }
    });
    return out;
  }

  function close() {
    closed = true;
    reset();
  }

  return { onSignal, stats, close };
}
