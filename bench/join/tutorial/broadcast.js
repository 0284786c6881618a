// The tutorial's broadcaster page, written for the join benchmark from the
// seed's signaling protocol (../shared/anchors/seed-signaling/README.md; the
// tutorial's own pages were not kept). Its design: the broadcaster's browser
// serves every viewer itself. On each `watcher` it makes a new
// RTCPeerConnection for that viewer, adds the camera and microphone tracks,
// sends an `offer` and takes the viewer's `answer` and `candidate`s, all
// relayed by the seed's socket.io 2.3 server. No STUN or TURN server: the
// benchmark runs in a loopback-only network namespace.
//
// The room comes from ?room= (default "bench"). window.bench is for the
// benchmark's driver: live once the camera is on and `broadcaster` was sent;
// closeAll() closes every viewer's connection between measurements (the
// seed's disconnect handler never finds the room, so `disconnectPeer` never
// comes).
'use strict';
(function () {
  const room = new URLSearchParams(location.search).get('room') || 'bench';
  const config = { iceServers: [] };
  const peers = new Map(); // viewer's socket id -> its RTCPeerConnection
  const shown = document.getElementById('peers');
  const bench = window.bench = { live: false, error: null, offers: 0, peers: () => peers.size, closeAll };
  let stream = null;

  function count() { shown.textContent = String(peers.size); }

  function close(id) {
    const pc = peers.get(id);
    if (!pc) return;
    pc.close();
    peers.delete(id);
    count();
  }

  function closeAll() {
    for (const id of [...peers.keys()]) close(id);
  }

  const socket = io.connect(location.origin);

  socket.on('watcher', async id => {
    if (!stream) return; // not live yet: the seed only sends this after `broadcaster`
    close(id);
    const pc = new RTCPeerConnection(config);
    peers.set(id, pc);
    count();
    for (const track of stream.getTracks()) pc.addTrack(track, stream);
    pc.onicecandidate = ev => {
      if (ev.candidate) socket.emit('candidate', id, ev.candidate);
    };
    // A viewer that went away without a word: its connection fails.
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed' && peers.get(id) === pc) close(id);
    };
    try {
      await pc.setLocalDescription(await pc.createOffer());
      socket.emit('offer', id, pc.localDescription);
      bench.offers++;
    } catch (e) {
      bench.error = `offer to ${id}: ${e.message}`;
      close(id);
    }
  });

  socket.on('answer', (id, description) => {
    const pc = peers.get(id);
    if (pc) pc.setRemoteDescription(description).catch(e => { bench.error = `answer of ${id}: ${e.message}`; });
  });

  socket.on('candidate', (id, candidate) => {
    const pc = peers.get(id);
    if (pc) pc.addIceCandidate(new RTCIceCandidate(candidate)).catch(() => { /* a late one for a closed peer */ });
  });

  socket.on('disconnectPeer', close);

  window.addEventListener('unload', () => socket.close());

  // The same camera request as onair's broadcast page (web/assets/broadcast.js),
  // so that both designs send the same picture.
  navigator.mediaDevices.getUserMedia({
    video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } },
    audio: true,
  }).then(s => {
    stream = s;
    document.getElementById('preview').srcObject = s;
    socket.emit('broadcaster', room, 'bench-caster');
    bench.live = true;
  }).catch(e => { bench.error = `camera: ${e.message}`; });
})();
