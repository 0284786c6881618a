// The tutorial's viewer page, written for the join benchmark from the seed's
// signaling protocol (../shared/anchors/seed-signaling/README.md). It asks
// the broadcaster for a stream (`watcher`), answers the offer that comes
// back on a new RTCPeerConnection, trades ICE candidates through the seed,
// and plays what arrives in the <video>. The room comes from ?room=
// (default "bench").
'use strict';
(function () {
  const room = new URLSearchParams(location.search).get('room') || 'bench';
  const config = { iceServers: [] };
  const video = document.getElementById('video');
  let pc = null;

  const socket = io.connect(location.origin);

  socket.on('offer', async (id, description) => {
    if (pc) pc.close();
    const mine = pc = new RTCPeerConnection(config);
    mine.ontrack = ev => {
      if (video.srcObject !== ev.streams[0]) video.srcObject = ev.streams[0];
    };
    mine.onicecandidate = ev => {
      if (ev.candidate) socket.emit('candidate', id, ev.candidate);
    };
    try {
      await mine.setRemoteDescription(description);
      await mine.setLocalDescription(await mine.createAnswer());
      socket.emit('answer', id, mine.localDescription);
    } catch (e) {
      console.error('watch: could not answer', e);
    }
  });

  socket.on('candidate', (id, candidate) => {
    // Queued behind setRemoteDescription by the connection's own operations chain.
    if (pc) pc.addIceCandidate(new RTCIceCandidate(candidate)).catch(e => console.error('watch: candidate', e));
  });

  socket.on('connect', () => socket.emit('watcher', room));
  socket.on('broadcaster', () => socket.emit('watcher', room));

  window.addEventListener('unload', () => {
    socket.close();
    if (pc) pc.close();
  });
})();
