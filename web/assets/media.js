// All WebRTC lives here. Media goes through onair's SFU: the broadcaster
// sends one stream to onair whatever the number of viewers, and every viewer
// receives it from onair. Each page holds one RTCPeerConnection to the
// server; the page offers, onair answers (docs/media.md, "Signaling").
//
//   const pub = createPublisher({ stream, send, onState });
//   pub.start(); pub.onAnswer(sdp); pub.replaceTrack(track); pub.stats(); pub.close();
//   pub.setLayers([true, false, false]): which simulcast layers to send
//   (media.layers: onair pauses the ones nobody watches).
//
//   const view = createViewer({ send, onStream, onState });
//   view.start(); view.onAnswer(sdp); view.stats(); view.close();
//   view.start(via): via(sdp) takes the offer instead of a media.offer (the
//   page sends it with its room.join); via(null) when no offer could be made.
//   createViewer({ ..., adopt }) takes over the connection view-boot.js
//   made and offered with the page's room.join ({ pc, stream, ready }): no
//   start() needed for it; its answer was applied by view-boot.js.
//
// send(msg) sends a WebSocket message ({"type":"media.offer","sdp":...}).
// onState(state) reports the connection's state ('connecting', 'connected',
// 'failed', ...).

// onair is ICE-lite with one host candidate in its answer. A TURN server,
// when the operator runs one (turn-url), comes with short-lived credentials
// in the WebSocket's hello: setIceServers() before start().
const RTC_CONFIG = { iceServers: [], bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };

// Takes hello's ice_servers ([{ urls, username, credential }]); anything
// else leaves the list empty.
export function setIceServers(list) {
  const ok = s => s && (typeof s.urls === 'string' || Array.isArray(s.urls));
  RTC_CONFIG.iceServers = Array.isArray(list) ? list.filter(ok) : [];
}

// The list setIceServers() kept.
export const iceServers = () => RTC_CONFIG.iceServers;

function isSdp(sdp) {
  return typeof sdp === 'string' && sdp.length > 0 && sdp.length < 65536;
}

function watchState(pc, onState) {
  pc.addEventListener('connectionstatechange', () => {
    if (onState) onState(pc.connectionState);
  });
}

// Makes pc's offer and hands its SDP to deliver.
async function offer(pc, deliver) {
  const o = await pc.createOffer();
  await pc.setLocalDescription(o);
  deliver(pc.localDescription.sdp);
}

const asMediaOffer = send => sdp => send({ type: 'media.offer', sdp });

async function answer(pc, sdp, onState) {
  if (!isSdp(sdp) || pc.signalingState !== 'have-local-offer') return;
  try {
    await pc.setRemoteDescription({ type: 'answer', sdp });
  } catch (e) {
    console.warn('onair: the server\'s answer was refused', e);
    if (onState) onState('failed');
  }
}

// Outbound or inbound RTP figures of one kind from getStats(), and the
// round-trip time of the connection's ICE pair in use (seconds, or null).
async function rtpStats(pc, type) {
  if (!pc) return null;
  const report = await pc.getStats();
  const out = { video: null, audio: null, streams: 0, roundTripTime: null };
  report.forEach(s => {
    if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded' &&
        typeof s.currentRoundTripTime === 'number') out.roundTripTime = s.currentRoundTripTime;
    if (s.type !== type) return;
    const kind = s.kind || s.mediaType;
    if (kind === 'video') out.streams++;
    if (kind === 'video' && type === 'outbound-rtp') {
      (out.layers = out.layers || []).push({ rid: s.rid || '', active: s.active !== false, frameWidth: s.frameWidth || 0, frameHeight: s.frameHeight || 0, framesEncoded: s.framesEncoded || 0, bytes: s.bytesSent || 0 });
      // The figures shown are the largest layer's that is sent.
      if (out.video && (s.active === false || (s.frameWidth || 0) < out.video.frameWidth)) return;
    }
    const mine = {
      framesDecoded: s.framesDecoded || 0,
      framesEncoded: s.framesEncoded || 0,
      frameWidth: s.frameWidth || 0,
      frameHeight: s.frameHeight || 0,
      bytes: (type === 'inbound-rtp' ? s.bytesReceived : s.bytesSent) || 0,
      packets: (type === 'inbound-rtp' ? s.packetsReceived : s.packetsSent) || 0,
      packetsLost: s.packetsLost || 0,
      nackCount: s.nackCount || 0,
      pliCount: s.pliCount || 0,
      totalSamplesReceived: s.totalSamplesReceived || 0,
      framesPerSecond: s.framesPerSecond || 0,
      // Playout delay: jitterBufferDelay / jitterBufferEmittedCount (seconds).
      jitterBufferDelay: s.jitterBufferDelay || 0,
      jitterBufferEmittedCount: s.jitterBufferEmittedCount || 0,
    };
    if (kind === 'video' || kind === 'audio') out[kind] = mine;
  });
  return out;
}

// Simulcast (docs/media.md, "Simulcast"): the camera's video goes up as
// several encodings, lowest first, and onair sends each viewer the one its
// network carries. Three (a quarter, half and the full size) from a camera
// of 540 lines or more, two from 270, else one: as many as Chromium's
// encoder sends for that size (it leaves out the lowest of more). Under a
// weak uplink the browser's encoder drops the highest ones by itself.
function videoEncodings(track) {
  const s = track.getSettings ? track.getSettings() : {};
  const lines = Math.min(s.width || 0, s.height || 0);
  if (lines >= 540) {
    return [{ rid: 'l', scaleResolutionDownBy: 4, maxBitrate: 150000 },
      { rid: 'm', scaleResolutionDownBy: 2, maxBitrate: 500000 },
      { rid: 'h', scaleResolutionDownBy: 1, maxBitrate: 2500000 }];
  }
  if (lines >= 270) return [{ rid: 'l', scaleResolutionDownBy: 2, maxBitrate: 200000 }, { rid: 'h', scaleResolutionDownBy: 1, maxBitrate: 1200000 }];
  return null;
}

function addSender(pc, track, stream) {
  const init = { direction: 'sendonly', streams: [stream] };
  const encodings = track.kind === 'video' ? videoEncodings(track) : null;
  if (encodings) {
    try { return pc.addTransceiver(track, { ...init, sendEncodings: encodings }); } catch (e) {
      console.warn('onair: no simulcast in this browser', e);
    }
  }
  return pc.addTransceiver(track, init);
}

// The broadcaster's side: one upload to onair.
export function createPublisher({ stream, send, onState }) {
  let pc = null;

  async function start() {
    close();
    pc = new RTCPeerConnection(RTC_CONFIG);
    watchState(pc, onState);
    for (const t of stream.getTracks()) addSender(pc, t, stream);
    try {
      await offer(pc, asMediaOffer(send));
    } catch (e) {
      console.warn('onair: could not make an offer', e);
      if (onState) onState('failed');
    }
  }

  // Swaps the camera or microphone track (device choice) without renegotiating.
  function replaceTrack(track) {
    if (!pc) return;
    const sender = pc.getSenders().find(s => s.track && s.track.kind === track.kind);
    if (sender) sender.replaceTrack(track).catch(e => console.warn('onair: replaceTrack failed', e));
  }

  // Turns simulcast layers on and off (active[i] for the i-th encoding,
  // lowest first; one not named stays on).
  async function setLayers(active) {
    const sender = pc && pc.getSenders().find(s => s.track && s.track.kind === 'video');
    if (!sender || !Array.isArray(active)) return;
    const p = sender.getParameters();
    if (!p.encodings || p.encodings.length < 2) return;
    let changed = false;
    p.encodings.forEach((e, i) => {
      const on = active[i] !== false;
      if (e.active !== on) { e.active = on; changed = true; }
    });
    if (changed) await sender.setParameters(p).catch(e => console.warn('onair: could not pause or resume a layer', e));
  }

  function close() {
    if (pc) pc.close();
    pc = null;
  }

  return {
    start,
    onAnswer: sdp => (pc ? answer(pc, sdp, onState) : undefined),
    replaceTrack,
    setLayers,
    stats: () => rtpStats(pc, 'outbound-rtp'),
    close,
  };
}

// A viewer's side: one download from onair.
// onStream(MediaStream) when media arrives.
export function createViewer({ send, onStream, onState, adopt = null }) {
  let pc = null;
  let ready = Promise.resolve(); // the local description is set

  function listen(mine, stream) {
    watchState(mine, onState);
    mine.addEventListener('track', ev => {
      if (mine !== pc) return;
      stream.addTrack(ev.track);
      onStream(stream);
    });
  }
  if (adopt && adopt.pc && adopt.pc.signalingState !== 'closed') {
    pc = adopt.pc;
    ready = adopt.ready || ready;
    listen(pc, adopt.stream);
    if (adopt.stream.getTracks().length) Promise.resolve().then(() => { if (pc === adopt.pc) onStream(adopt.stream); });
  }

  async function start(via) {
    close();
    pc = new RTCPeerConnection(RTC_CONFIG);
    ready = Promise.resolve();
    const mine = pc;
    listen(mine, new MediaStream());
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
    const deliver = via || asMediaOffer(send);
    try {
      await offer(mine, sdp => { if (mine === pc) deliver(sdp); });
    } catch (e) {
      if (mine !== pc) return; // closed or replaced meanwhile
      console.warn('onair: could not make an offer', e);
      if (via) via(null);
      else if (onState) onState('failed');
    }
  }

  // Inbound video figures (and audio under .audio, the ICE pair's
  // roundTripTime), or null before there is a connection.
  async function stats() {
    const s = await rtpStats(pc, 'inbound-rtp');
    if (!s || !s.video) {
      return s && s.audio ? { framesDecoded: 0, frameWidth: 0, audio: s.audio, roundTripTime: s.roundTripTime } : null;
    }
    return { ...s.video, audio: s.audio, roundTripTime: s.roundTripTime };
  }

  function close() {
    if (pc) pc.close();
    pc = null;
  }

  function onAnswer(sdp) {
    const mine = pc;
    if (!mine) return;
    ready.then(() => { if (mine === pc) answer(mine, sdp, onState); },
      () => { if (mine === pc && onState) onState('failed'); }); // no local description: offer again
  }

  return { start, onAnswer, stats, close };
}
