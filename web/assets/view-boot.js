// The first thing /view/<room> runs (a classic script at the top of
// view.html's <head>, before the stylesheet, so it runs before the first
// layout): it starts the join while the rest of the page still loads, so the
// WebSocket handshake, the media offer, onair's answer, ICE, DTLS and the
// first keyframe overlap the stylesheet, the layout and the modules instead
// of following them. view.js takes it all over when it runs
// (window.onairBoot):
//
//   boot.settled      resolves true once the socket is open, false if it failed
//   boot.take()       hands the socket over: returns the messages it had (JSON
//                     text, in order) and stops listening; call once
//   boot.joined       true if boot sent room.join with its offer (before take)
//   boot.offered      resolves to the offer (null if none could be made)
//   boot.sdp()        the offer's SDP (null before it is made)
//   boot.describe(iceServers)  sets the local description with hello's ICE
//                     servers, once; false if it could not. For view.js when
//                     boot had not seen hello, or not joined, by take()
//   boot.pc, boot.stream, boot.ready   the viewer's connection, its incoming
//                     stream, and a promise of its local description
//   boot.close()      closes the connection (view.js did not use it)
//
// onair's answer (media.answer) to the offer boot sent is applied here until
// take(), and not handed over, so it is never applied twice. Nothing else is
// acted on.
//
// The rest of the page (view.js and its modules: chat, player, the page's
// states) is fetched at once (view.html's modulepreload) but runs only once
// the first frame is on screen, so the main thread is free for the join
// while it matters; or as soon as anything is not the way to a picture
// (no room in the path, the socket closed, an error, a room without media
// yet, no WebRTC), and after LATE_MS whatever happens.
(() => {
  'use strict';
  const LATE_MS = 2000;
  let loaded = false;
  function page() {
    if (loaded) return;
    loaded = true;
    const go = () => import('/assets/view.js').catch(e => console.error('onair: the page did not load', e));
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', go, { once: true });
    else go();
  }
  setTimeout(page, LATE_MS);

  const raw = location.pathname.replace(/^\/view\//, '').replace(/\/$/, '');
  let room = raw;
  try { room = decodeURIComponent(raw); } catch { /* as it is */ }
  if (!room || typeof WebSocket !== 'function') {
    page();
    return;
  }

  const boot = { joined: false, pc: null, stream: null, ready: null };
  const queue = [];
  let taken = false;
  let offer = null;
  let hello = null;
  let settle;
  let described;
  let offered;
  boot.settled = new Promise(r => { settle = r; });
  boot.ready = new Promise((resolve, reject) => { described = { resolve, reject }; });
  boot.ready.catch(() => {});
  boot.offered = new Promise(r => { offered = r; });

  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
  boot.ws = ws;
  ws.addEventListener('open', () => {
    settle(true);
    join();
  });
  ws.addEventListener('close', () => {
    settle(false);
    page();
  });

  // The local description, set once hello said which ICE servers to gather
  // with (onair's TURN, when there is one): ICE starts here. The offer itself
  // goes out before that (the SDP is the same), so the WebSocket's handshake
  // and the offer's making overlap; onair's answer waits for this (ready).
  let describing = false;
  boot.describe = list => {
    if (describing || !offer || !boot.pc) return describing;
    const servers = Array.isArray(list) ? list.filter(s => s && (typeof s.urls === 'string' || Array.isArray(s.urls))) : [];
    try {
      if (servers.length) boot.pc.setConfiguration({ ...boot.pc.getConfiguration(), iceServers: servers });
      boot.pc.setLocalDescription(offer).then(described.resolve, described.reject);
    } catch (e) {
      described.reject(e);
      return false;
    }
    describing = true;
    return true;
  };
  boot.sdp = () => (offer ? offer.sdp : null);

  // room.join with the offer, as soon as the socket is open and the offer made.
  function join() {
    if (taken || !offer || !boot.pc) return;
    if (hello) boot.describe(hello.ice_servers);
    if (boot.joined || ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify({ type: 'room.join', room, sdp: offer.sdp }));
    boot.joined = true;
  }

  ws.addEventListener('message', ev => {
    if (taken || typeof ev.data !== 'string') return;
    let m = null;
    try { m = JSON.parse(ev.data); } catch { /* view.js ignores it too */ }
    if (m && m.type === 'media.answer' && boot.joined && typeof m.sdp === 'string') {
      const pc = boot.pc;
      boot.ready.then(() => pc.setRemoteDescription({ type: 'answer', sdp: m.sdp })).catch(() => {});
      return;
    }
    queue.push(ev.data);
    if (m && m.type === 'hello') {
      hello = m;
      join();
    } else if (!m || m.type === 'error' || m.type === 'room.ended' || m.type === 'media.closed' ||
               (m.type === 'room.joined' && (!m.media_ready || m.state === 'reconnecting'))) {
      page(); // not on the way to a picture: the page says what is going on
    }
  });

  boot.take = () => {
    taken = true;
    return queue.splice(0);
  };
  boot.close = () => {
    if (boot.pc) boot.pc.close();
    boot.pc = null;
  };

  // The video starts as soon as it can, even before view.js runs.
  function show() {
    if (taken) return; // view.js's from now on
    const video = document.getElementById('video');
    if (!video || !boot.stream || !boot.stream.getTracks().length || video.srcObject) return;
    video.srcObject = boot.stream;
    // The page's own script runs once the picture is there.
    if (typeof video.requestVideoFrameCallback === 'function') video.requestVideoFrameCallback(() => page());
    else video.addEventListener('playing', page, { once: true });
  }
  document.addEventListener('readystatechange', show);

  try {
    const pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    boot.pc = pc;
    boot.stream = new MediaStream();
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addEventListener('track', ev => {
      boot.stream.addTrack(ev.track);
      show();
    });
    pc.addEventListener('connectionstatechange', () => { if (pc.connectionState === 'failed') page(); });
    pc.createOffer().then(o => {
      offer = o;
      offered(o);
      join();
    }, () => {
      offered(null);
      page();
    });
  } catch {
    boot.pc = null; // no WebRTC here: view.js says so
    offered(null);
    page();
  }
  window.onairBoot = boot;
})();
