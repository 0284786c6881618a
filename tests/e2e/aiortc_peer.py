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
that runs it (tests/e2e/interop.test.js). Run it with Debian's /usr/bin/python3
(python3-aiortc, python3-av, python3-websockets). aioice skips 127.0.0.1, so
the machine (the test's network namespace) needs another address, and onair
must announce one that address reaches.
"""
import argparse
import asyncio
import fractions
import json
import logging
import os
import signal
import sys
import time
import urllib.error
import urllib.request

import numpy
import websockets
from av import AudioFrame, VideoFrame
from aiortc import (RTCConfiguration, RTCPeerConnection, RTCSessionDescription,
                    MediaStreamTrack, VideoStreamTrack)
from aiortc.mediastreams import MediaStreamError


T0 = time.monotonic()


def emit(event, **fields):
    """One event for the test, with the seconds since start."""
    print(json.dumps({"event": event, "t": round(time.monotonic() - T0, 3), **fields}), flush=True)


# ---- onair's HTTP API and WebSocket -----------------------------------------

def sign_up(base, user, password):
    """Signs up (or in, if the name is taken); returns the session cookie."""
    body = json.dumps({"username": user, "password": password}).encode()
    for path in ("/api/signup", "/api/signin"):
        req = urllib.request.Request(base + path, data=body, method="POST", headers={
            "Content-Type": "application/json", "Origin": base})
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                for h in res.headers.get_all("Set-Cookie") or []:
                    if h.startswith("onair_session="):
                        return h.split(";", 1)[0]
                raise RuntimeError(f"{path}: no session cookie")
        except urllib.error.HTTPError as e:
            if path == "/api/signup" and e.code == 409:
                continue
            raise RuntimeError(f"{path}: HTTP {e.code} {e.read()[:200]!r}") from e
    raise RuntimeError("could not sign in")


class Socket:
    """onair's /ws: JSON messages, and a way to wait for one of a type."""

    def __init__(self, ws):
        self.ws = ws
        self.inbox = asyncio.Queue()
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, base, cookie):
        url = base.replace("http", "ws", 1) + "/ws"
        ws = await websockets.connect(url, extra_headers={"Cookie": cookie}, origin=base,
                                      max_size=1 << 20)
        return cls(ws)

    async def _read(self):
        try:
            async for text in self.ws:
                msg = json.loads(text)
                if msg.get("type") in ("error", "media.closed", "room.ended", "live.ended"):
                    emit("ws", message={k: v for k, v in msg.items() if k != "history"})
                await self.inbox.put(msg)
        except websockets.ConnectionClosed:
            pass
        await self.inbox.put({"type": "_closed"})

    async def send(self, msg):
        await self.ws.send(json.dumps(msg))

    async def expect(self, *types, timeout=15):
        """The next message of one of these types; an error for them fails."""
        async def wait():
            while True:
                msg = await self.inbox.get()
                t = msg.get("type")
                if t in types:
                    return msg
                if t == "_closed":
                    raise RuntimeError(f"the WebSocket closed while waiting for {types}")
                if t == "error":
                    raise RuntimeError(f"onair refused: {msg}")
        return await asyncio.wait_for(wait(), timeout)

    async def close(self):
        await self.ws.close()
        self.reader.cancel()


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
    await sock.send({"type": "room.join", "room": args.view})
    joined = await sock.expect("room.joined")
    emit("joined", room=joined["room"], media_ready=bool(joined.get("media_ready")))
    if not joined.get("media_ready"):
        await sock.expect("media.ready", timeout=args.timeout)
        emit("media_ready")
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


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="onair's base URL, e.g. http://127.0.0.1:8080")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", default="correct horse battery")
    role = ap.add_mutually_exclusive_group(required=True)
    role.add_argument("--publish", action="store_true", help="go live with generated media")
    role.add_argument("--view", metavar="ROOM", help="watch ROOM and count decoded frames")
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

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # The test closing our standard input also means stop.
    fd = sys.stdin.fileno()

    def on_stdin():
        if not os.read(fd, 4096):
            loop.remove_reader(fd)
            stop.set()
    loop.add_reader(fd, on_stdin)

    cookie = sign_up(args.url, args.user, args.password)
    sock = await Socket.open(args.url, cookie)
    hello = await sock.expect("hello")
    emit("hello", user=hello["user"])
    try:
        return await (publish(args, sock, stop) if args.publish else view(args, sock, stop))
    finally:
        await sock.close()


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except Exception as e:  # noqa: BLE001 - the test reads the reason
        emit("error", message=f"{type(e).__name__}: {e}")
        sys.exit(2)
