#!/usr/bin/python3
"""A GStreamer webrtcbin peer for onair's SFU (Debian's GStreamer 1.22 and libnice).

It signs in and speaks onair's protocol as aiortc_peer.py does (onair_ws.py:
the sign-in, the WebSocket, the JSON events on stdout):

  publish  live.start, then webrtcbin's offer with a sendonly VP8 test
           pattern (moving colour bars, 640x480 at 30 fps) and an Opus tone;
           applies media.answer and streams until its standard input closes
           or it gets SIGTERM. "stats" events: RTP packets sent.
  view     room.join ROOM, then (at once if room.joined says media_ready,
           else on media.ready) webrtcbin's offer with recvonly audio and
           video; decodes what arrives (vp8dec, opusdec) and runs until
           its standard input closes or it gets SIGTERM. "stats" events: RTP
           packets received and frames decoded, per kind, and the video's
           size.

Both print "ice" when webrtcbin's ICE connection state changes, "state" when
its connection state does, and (onair_ws.py) "ws" for media.closed,
room.ended, live.ended and errors; "gst_error" for an error on the
pipeline's bus (the peer then exits 1).

webrtcbin offers and onair (ICE-lite) answers with its host candidates;
webrtcbin adds them from the answer. libnice skips 127.0.0.1 while the
machine has another address, so the test's network namespace needs one (a
veth pair) and onair must announce it. Run with Debian's /usr/bin/python3
(python3-gi, gir1.2-gst-plugins-bad-1.0, gstreamer1.0-plugins-{base,good,bad},
gstreamer1.0-nice, python3-websockets). GST_DEBUG works as usual (stderr), and
GST_DEBUG_DUMP_DOT_DIR gets the pipeline's graph with every stats event.
"""
import asyncio
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import Gst, GstSdp, GstWebRTC  # noqa: E402

from onair_ws import arg_parser, emit, join_room, main, run_role  # noqa: E402

VIDEO_CAPS = "application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000"
AUDIO_CAPS = ("application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000,"
              "encoding-params=(string)2")
# keyframe-max-dist=60: a keyframe every 2 s, so a viewer starts soon.
PUBLISH = (
    "webrtcbin name=webrtc bundle-policy=max-bundle "
    "videotestsrc is-live=true pattern=smpte horizontal-speed=4 "
    "! video/x-raw,width={w},height={h},framerate=30/1 ! videoconvert "
    "! vp8enc deadline=1 keyframe-max-dist=60 ! rtpvp8pay name=vpay pt=96 "
    f"! {VIDEO_CAPS} ! webrtc. "
    "audiotestsrc is-live=true wave=sine freq=440 ! audioconvert ! audioresample "
    f"! opusenc ! rtpopuspay name=apay pt=111 ! {AUDIO_CAPS} ! webrtc. ")

# What a viewer does with each stream: no decodebin, whose asynchronous
# state change would hold a bin added while playing in PAUSED.
DECODE = {
    "video": "queue ! rtpvp8depay ! vp8dec ! fakesink name=sink sync=false async=false",
    "audio": "queue ! rtpopusdepay ! opusdec ! fakesink name=sink sync=false async=false",
}


class Counts:
    """Buffers seen by pad probes on GStreamer's streaming threads; read by
    the asyncio thread for the stats events."""

    def __init__(self):
        self.lock = threading.Lock()
        self.n = {}
        self.width = self.height = 0

    def probe(self, pad, key):
        """Counts the buffers (and buffers of lists) that pass pad as key."""
        def on_buffer(_pad, info):
            n = 1
            if info.type & Gst.PadProbeType.BUFFER_LIST:
                n = info.get_buffer_list().length()
            with self.lock:
                first = key not in self.n
                self.n[key] = self.n.get(key, 0) + n
            if first:
                emit("first", what=key)
            return Gst.PadProbeReturn.OK
        pad.add_probe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST, on_buffer)

    def snapshot(self):
        with self.lock:
            return dict(self.n)


def nick(value):
    return value.value_nick if value is not None else None


class Peer:
    """One webrtcbin in a pipeline, its offer/answer with onair, and what
    it reports."""

    def __init__(self, pipe, webrtc):
        self.pipe, self.webrtc = pipe, webrtc
        self.counts = Counts()
        self.loop = asyncio.get_running_loop()
        self.negotiation = self.loop.create_future()
        webrtc.connect("on-negotiation-needed", self._on_negotiation_needed)
        webrtc.connect("notify::ice-connection-state", self._on_state, "ice", "ice-connection-state")
        webrtc.connect("notify::connection-state", self._on_state, "state", "connection-state")
        webrtc.connect("notify::ice-gathering-state", self._on_state, "gathering", "ice-gathering-state")

    def _on_negotiation_needed(self, _webrtc):
        def ready():
            if not self.negotiation.done():
                self.negotiation.set_result(True)
        self.loop.call_soon_threadsafe(ready)

    def _on_state(self, webrtc, _pspec, event, prop):
        emit(event, state=nick(webrtc.get_property(prop)))

    async def _promise(self, signal, *args):
        """Emits a webrtcbin action signal that takes a Gst.Promise and
        waits (off the event loop) for its reply."""
        promise = Gst.Promise.new()
        self.webrtc.emit(signal, *args, promise)
        result = await self.loop.run_in_executor(None, promise.wait)
        reply = promise.get_reply()
        if result != Gst.PromiseResult.REPLIED:
            raise RuntimeError(f"{signal}: promise {nick(result)}")
        if reply is not None and reply.has_field("error"):
            raise RuntimeError(f"{signal}: {reply.get_value('error')}")
        return reply

    async def negotiate(self, sock):
        """webrtcbin's offer to onair, onair's answer back to webrtcbin."""
        self.pipe.set_state(Gst.State.PLAYING)
        await asyncio.wait_for(self.negotiation, 10)
        reply = await self._promise("create-offer", None)
        offer = reply.get_value("offer")
        await self._promise("set-local-description", offer)
        text = offer.sdp.as_text()
        emit("offer", sdp=text)
        await sock.send({"type": "media.offer", "sdp": text})
        answer = await sock.expect("media.answer")
        emit("answer", sdp=answer["sdp"])
        rc, sdp = GstSdp.SDPMessage.new_from_text(answer["sdp"])
        if rc != GstSdp.SDPResult.OK:
            raise RuntimeError(f"onair's answer does not parse: {rc}")
        desc = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)
        await self._promise("set-remote-description", desc)

    def bus_error(self):
        """An error on the pipeline's bus (also printed), or None."""
        bus = self.pipe.get_bus()
        while True:
            msg = bus.pop_filtered(Gst.MessageType.ERROR | Gst.MessageType.WARNING)
            if msg is None:
                return None
            err, debug = msg.parse_error() if msg.type == Gst.MessageType.ERROR else msg.parse_warning()
            kind = "gst_error" if msg.type == Gst.MessageType.ERROR else "gst_warning"
            emit(kind, source=msg.src.get_name(), message=err.message, debug=debug)
            if msg.type == Gst.MessageType.ERROR:
                return err.message

    def stats(self):
        """A "stats" event: the counts so far, the decoded video's size (a
        viewer's) and webrtcbin's states."""
        c = self.counts.snapshot()
        if self.counts.width:
            c.update(width=self.counts.width, height=self.counts.height)
        emit("stats", ice=nick(self.webrtc.get_property("ice-connection-state")),
             state=nick(self.webrtc.get_property("connection-state")), **c)
        # With GST_DEBUG_DUMP_DOT_DIR set, the pipeline's graph too.
        Gst.debug_bin_to_dot_file(self.pipe, Gst.DebugGraphDetails.ALL, self.pipe.get_name())

    async def run_until(self, stop, every_s):
        """Prints stats every every_s until stop is set; 1 on a bus error."""
        while not stop.is_set():
            if self.bus_error() is not None:
                return 1
            self.stats()
            try:
                await asyncio.wait_for(stop.wait(), every_s)
            except asyncio.TimeoutError:
                pass
        self.stats()
        return 0

    def close(self):
        self.pipe.set_state(Gst.State.NULL)


async def publish(args, sock, stop):
    await sock.send({"type": "live.start", "title": args.title})
    started = await sock.expect("live.started")
    emit("live", room=started["room"])
    pipe = Gst.parse_launch(PUBLISH.format(w=args.width, h=args.height))
    peer = Peer(pipe, pipe.get_by_name("webrtc"))
    for pad in ("sink_0", "sink_1"):  # video, audio (PUBLISH links them in that order)
        peer.webrtc.get_static_pad(pad).get_property("transceiver").set_property(
            "direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
    peer.counts.probe(pipe.get_by_name("vpay").get_static_pad("src"), "video_packets")
    peer.counts.probe(pipe.get_by_name("apay").get_static_pad("src"), "audio_packets")
    try:
        await peer.negotiate(sock)
        return await peer.run_until(stop, args.stats_ms / 1000)
    finally:
        peer.close()
        try:
            await sock.send({"type": "live.end"})
            await sock.expect("live.ended", timeout=3)
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass


def on_incoming(peer, pad):
    """A stream from onair: count its RTP packets, decode it, count the
    frames that come out (and the video's size)."""
    if pad.direction != Gst.PadDirection.SRC:
        return
    kind = pad.get_current_caps().get_structure(0).get_string("media")
    emit("track", kind=kind)
    peer.counts.probe(pad, f"{kind}_packets")
    decode = Gst.parse_bin_from_description(DECODE[kind], True)
    peer.pipe.add(decode)
    decode.sync_state_with_parent()
    sink = decode.get_by_name("sink").get_static_pad("sink")
    peer.counts.probe(sink, f"{kind}_decoded")
    if kind == "video":
        def on_caps(_pad, _pspec):
            caps = sink.get_current_caps()
            if caps is not None:
                s = caps.get_structure(0)
                peer.counts.width, peer.counts.height = s.get_int("width")[1], s.get_int("height")[1]
        sink.connect("notify::caps", on_caps)
    pad.link(decode.get_static_pad("sink"))


def receiver(name):
    """A webrtcbin with recvonly audio and VP8 video that decodes what
    comes (on_incoming); whip_peer.py's WHEP player too."""
    pipe = Gst.Pipeline.new(name)
    webrtc = Gst.ElementFactory.make("webrtcbin", "webrtc")
    webrtc.set_property("bundle-policy", GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
    pipe.add(webrtc)
    peer = Peer(pipe, webrtc)
    for caps in (AUDIO_CAPS, VIDEO_CAPS):
        webrtc.emit("add-transceiver", GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY,
                    Gst.Caps.from_string(caps))
    webrtc.connect("pad-added", lambda _w, pad: on_incoming(peer, pad))
    return peer


async def view(args, sock, stop):
    await join_room(sock, args.view, args.timeout)
    peer = receiver("view")
    try:
        await peer.negotiate(sock)
        return await peer.run_until(stop, args.stats_ms / 1000)
    finally:
        peer.close()


async def run():
    ap = arg_parser(__doc__.split("\n\n")[0])
    ap.add_argument("--title", default="GStreamer test pattern")
    ap.add_argument("--width", type=int, default=640, help="video width (publish)")
    ap.add_argument("--height", type=int, default=480, help="video height (publish)")
    ap.add_argument("--stats-ms", type=int, default=2000, help="interval of the stats events")
    ap.add_argument("--timeout", type=float, default=30, help="seconds to wait for media.ready (view)")
    args = ap.parse_args()
    Gst.init(None)
    return await run_role(args, publish, view)


if __name__ == "__main__":
    main(run)
