"""What onair's Python test peers share: events for the test, onair's JSON
API and WebSocket, and the way a peer is told to stop.

Used by aiortc_peer.py and gst_peer.py (both run as scripts from this
directory, so this module is on their import path). A peer prints one JSON
object per line on stdout ({"event": ..., "t": seconds since start}); the
node side (tests/lib/python-peer.js) reads them. Needs python3-websockets.
"""
import argparse
import asyncio
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request

import websockets

T0 = time.monotonic()
_emit_lock = threading.Lock()


def emit(event, **fields):
    """One event for the test, with the seconds since start. Any thread may
    call it (GStreamer signals arrive on its streaming threads)."""
    line = json.dumps({"event": event, "t": round(time.monotonic() - T0, 3), **fields})
    with _emit_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


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
    """onair's /ws: JSON messages, and a way to wait for one of a type.
    Messages that end something (error, media.closed, room.ended,
    live.ended) are also printed as "ws" events when they arrive."""

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
        emit("ws_closed")
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


async def join_room(sock, room, timeout):
    """room.join, then (unless room.joined says media_ready) waits for
    media.ready: a viewer may offer when this returns."""
    await sock.send({"type": "room.join", "room": room})
    joined = await sock.expect("room.joined")
    emit("joined", room=joined["room"], media_ready=bool(joined.get("media_ready")))
    if not joined.get("media_ready"):
        await sock.expect("media.ready", timeout=timeout)
        emit("media_ready")


def arg_parser(description):
    """The options every peer takes: onair's URL, the user, and a role
    (--publish or --view ROOM)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--url", required=True, help="onair's base URL, e.g. http://127.0.0.1:8080")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", default="correct horse battery")
    role = ap.add_mutually_exclusive_group(required=True)
    role.add_argument("--publish", action="store_true", help="go live with generated media")
    role.add_argument("--view", metavar="ROOM", help="watch ROOM and count decoded frames")
    return ap


def stop_event():
    """An event set on SIGTERM, SIGINT, or when the test closes our
    standard input."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    fd = sys.stdin.fileno()

    def on_stdin():
        if not os.read(fd, 4096):
            loop.remove_reader(fd)
            stop.set()
    loop.add_reader(fd, on_stdin)
    return stop


async def run_role(args, publish, view):
    """Signs in, opens the WebSocket, waits for hello and runs the role
    (publish(args, sock, stop) or view(...)); returns its exit code."""
    stop = stop_event()
    cookie = sign_up(args.url, args.user, args.password)
    sock = await Socket.open(args.url, cookie)
    hello = await sock.expect("hello")
    emit("hello", user=hello["user"])
    try:
        return await (publish(args, sock, stop) if args.publish else view(args, sock, stop))
    finally:
        await sock.close()


def main(coro_fn):
    """Runs coro_fn() and exits with its code; an exception is an "error"
    event (the test reads the reason) and exit code 2."""
    try:
        sys.exit(asyncio.run(coro_fn()))
    except Exception as e:  # noqa: BLE001 - the test reads the reason
        emit("error", message=f"{type(e).__name__}: {e}")
        sys.exit(2)
