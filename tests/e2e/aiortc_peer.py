#!/usr/bin/python3
"""An independent WebRTC peer for onair's SFU, built on Debian's python3-aiortc.

It signs up over onair's JSON API, opens onair's WebSocket with the session
cookie and speaks its protocol (docs/protocol.md, docs/media.md):

  publish  live.start, then media.offer with a sendonly generated video
           (moving colour bars) and a 440 Hz tone; applies media.answer and
           streams until its standard input closes or it gets SIGTERM.
  view     room.join ROOM, then (at once if room.joined says media_ready,
           else on media.ready) media.offer with recvonly audio and video;
           counts the frames aiortc decodes and exits 0 once it has
           --frames video frames (and some audio), 1 on timeout.

It prints one JSON object per line on stdout ({"event": ...}) for the test
that runs it (tests/e2e/interop.test.js); the sign-in, the WebSocket and the
events are onair_ws.py's, shared with gst_peer.py. Run it with Debian's
/usr/bin/python3 (python3-aiortc, python3-av, python3-websockets). aioice
skips 127.0.0.1, so the machine (the test's network namespace) needs another
address, and onair must announce one that address reaches.
"""
import asyncio
import fractions
import logging
import sys
import time

import numpy
from av import AudioFrame, VideoFrame
from aiortc import (RTCConfiguration, RTCPeerConnection, RTCSessionDescription,
                    MediaStreamTrack, VideoStreamTrack)
from aiortc.mediastreams import MediaStreamError

from onair_ws import arg_parser, emit, join_room, main, run_role


# ---- generated media ----------------------------------------------------------

BARS = numpy.array([  # BT.601 YUV of white, yellow, cyan, green, magenta, red, blue, black
    [235, 128, 128], [210, 16, 146], [170, 166, 16], [145, 54, 34],
    [106, 202, 222], [81, 90, 240], [41, 240, 110], [16, 128, 128]], dtype=numpy.uint8)


class ColourBars(VideoStreamTrack):
    """Eight colour bars sliding sideways, 30 frames a second."""

    def __init__(self, width=640, height=480):
        super().__init__()
        self.width, self.height = width, height
        self.frames = 0
        cols = numpy.arange(width) * len(BARS) // width
        self.row = BARS[cols]  # width x 3

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        shift = (self.frames * 8) % self.width
        row = numpy.roll(self.row, shift, axis=0)
        y = numpy.repeat(row[None, :, 0], self.height, axis=0)
        # A moving white square too, so that no two frames look alike.
        x0 = (self.frames * 5) % (self.width - 64)
        y[16:80, x0:x0 + 64] = 235
        u = numpy.repeat(row[None, ::2, 1], self.height // 2, axis=0)
        v = numpy.repeat(row[None, ::2, 2], self.height // 2, axis=0)
        frame = VideoFrame.from_ndarray(numpy.concatenate([y, u.reshape(-1, self.width), v.reshape(-1, self.width)]),
                                        format="yuv420p")
        frame.pts, frame.time_base = pts, time_base
        self.frames += 1
        return frame


class Tone(MediaStreamTrack):
    """A 440 Hz sine, 20 ms frames at 48 kHz, paced in real time."""
    kind = "audio"

    def __init__(self):
        super().__init__()
        self.rate, self.samples = 48000, 960
        self.pts = 0
        self.start = None

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        if self.start is None:
            self.start = time.time()
        else:
            wait = self.start + self.pts / self.rate - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        t = (numpy.arange(self.samples) + self.pts) / self.rate
        pcm = (numpy.sin(2 * numpy.pi * 440 * t) * 8000).astype(numpy.int16)
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.rate
        frame.pts = self.pts
        frame.time_base = fractions.Fraction(1, self.rate)
        self.pts += self.samples
        return frame


# ---- the two roles ------------------------------------------------------------

def new_pc():
    # No STUN or TURN server: onair is ICE-lite with one host candidate.
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))

    @pc.on("connectionstatechange")
    def on_state():
        emit("state", state=pc.connectionState)
    return pc


async def offer(pc, sock):
    await pc.setLocalDescription(await pc.createOffer())
    await sock.send({"type": "media.offer", "sdp": pc.localDescription.sdp})
    answer = await sock.expect("media.answer")
    emit("answer", sdp=answer["sdp"])
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))


async def publish(args, sock, stop):
    await sock.send({"type": "live.start", "title": args.title})
    started = await sock.expect("live.started")
    emit("live", room=started["room"])
    pc = new_pc()
    video = ColourBars()
    pc.addTransceiver(video, direction="sendonly")
    if not args.no_audio:
        pc.addTransceiver(Tone(), direction="sendonly")
    try:
        await offer(pc, sock)
        last = -1
        while not stop.is_set():
            if video.frames // 30 != last:
                last = video.frames // 30
                emit("sent", frames=video.frames, state=pc.connectionState)
            try:
                await asyncio.wait_for(stop.wait(), 1)
            except asyncio.TimeoutError:
                pass
    finally:
        emit("stopping", frames=video.frames)
        await pc.close()
        try:
            await sock.send({"type": "live.end"})
            await sock.expect("live.ended", timeout=3)
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass
    return 0


async def consume(track, counts):
    kind = track.kind
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        counts[kind] += 1
        if kind == "video":
            now = time.monotonic()
            if counts.get("last"):
                counts["max_gap_ms"] = max(counts["max_gap_ms"], round((now - counts["last"]) * 1000))
            counts["last"] = now
            counts["width"], counts["height"] = frame.width, frame.height
            if counts["video"] == 1:
                counts["first_ms"] = round((time.monotonic() - counts["t0"]) * 1000)
                emit("first_frame", width=frame.width, height=frame.height, ms=counts["first_ms"])


async def view(args, sock, stop):
    await join_room(sock, args.view, args.timeout)
    pc = new_pc()
    counts = {"video": 0, "audio": 0, "width": 0, "height": 0, "t0": time.monotonic(), "max_gap_ms": 0}
    tasks = []

    @pc.on("track")
    def on_track(track):
        emit("track", kind=track.kind)
        tasks.append(asyncio.ensure_future(consume(track, counts)))

    pc.addTransceiver("audio", direction="recvonly")
    pc.addTransceiver("video", direction="recvonly")
    rc = 1
    try:
        await offer(pc, sock)
        until = time.monotonic() + args.timeout
        last = None
        while time.monotonic() < until and not stop.is_set():
            now = (counts["video"], counts["audio"])
            if now != last:
                last = now
                emit("frames", video=counts["video"], audio=counts["audio"],
                     width=counts["width"], height=counts["height"])
            if counts["video"] >= args.frames and (args.no_audio or counts["audio"] >= args.audio_frames):
                rc = 0
                break
            await asyncio.sleep(0.5)
        emit("done" if rc == 0 else "timeout", video=counts["video"], audio=counts["audio"],
             width=counts["width"], height=counts["height"], first_ms=counts.get("first_ms"),
             max_gap_ms=counts["max_gap_ms"])
    finally:
        await pc.close()
        for t in tasks:
            t.cancel()
    return rc


async def run():
    ap = arg_parser(__doc__.split("\n\n")[0])
    ap.add_argument("--title", default="aiortc colour bars")
    ap.add_argument("--frames", type=int, default=60, help="video frames to decode (view)")
    ap.add_argument("--audio-frames", type=int, default=25, help="audio frames to decode (view)")
    ap.add_argument("--no-audio", action="store_true")
    ap.add_argument("--timeout", type=float, default=30, help="seconds to wait for the frames (view)")
    ap.add_argument("--debug", action="store_true", help="aiortc's own log on stderr")
    args = ap.parse_args()
    if args.debug:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                            format="%(relativeCreated)8.0f %(name)s %(message)s")
    return await run_role(args, publish, view)


if __name__ == "__main__":
    main(run)
