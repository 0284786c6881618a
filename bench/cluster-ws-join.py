#!/usr/bin/env python3
"""Joins a room on several onair nodes with one WebSocket each and no media:
python3 bench/cluster-ws-join.py ROOM HOST:PORT...

bench/run-cluster.sh's copies part uses it to make each edge node pull a
room from its origin (a room.join on a node that does not host the room is
what makes it pull; docs/cluster.md), without a WebRTC viewer on the edge:
the edge then takes the link in and forwards nothing, and no emulator runs
beside it. For each node (its HTTP address) it signs up or in as `benchedge` over
HTTP (POST /api/signup, else /api/signin, with the node's Origin), opens
/ws with that session's cookie and sends {"type":"room.join","room":ROOM}.
Once every node answered room.joined it prints one JSON line,
{"kind":"joined","n":N,"live":N,"why":""}, as onair-media-bench viewers
does, and then holds the sockets, answering onair's pings (it closes a
WebSocket that is silent for 6 s), until SIGTERM. An error message, a
close or a lost connection ends it with status 1. Standard library only."""
import base64
import json
import os
import select
import signal
import socket
import struct
import sys
import urllib.error
import urllib.request

USER = "benchedge"
PASSWORD = "onair cluster bench 1"
TIMEOUT_S = 30


def die(msg):
    sys.stderr.write("cluster-ws-join: %s\n" % msg)
    sys.exit(1)


def sign_in(addr):
    """The onair_session cookie ("onair_session=...") of a session on the
    node at addr (HOST:PORT)."""
    origin = "http://" + addr
    body = json.dumps({"username": USER, "password": PASSWORD}).encode()
    status = None
    for path in ("/api/signup", "/api/signin"):
        req = urllib.request.Request(origin + path, data=body, method="POST", headers={
            "Content-Type": "application/json", "Origin": origin})
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as r:
                for v in r.headers.get_all("Set-Cookie") or []:
                    kv = v.split(";", 1)[0].strip()
                    if kv.startswith("onair_session="):
                        return kv
        except urllib.error.HTTPError as e:
            status = e.code
    die("cannot sign in on %s (HTTP %s)" % (addr, status))


def frame(opcode, payload):
    """A client frame: FIN, masked (RFC 6455, 5.3)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class Conn:
    def __init__(self, addr, cookie):
        self.addr = addr
        self.buf = b""
        self.joined = False
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=TIMEOUT_S)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((
            "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
            "Origin: http://%s\r\nCookie: %s\r\n\r\n" % (addr, key, addr, cookie)).encode())
        while b"\r\n\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                die("%s closed the upgrade" % addr)
            self.buf += data
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            die("%s refused the upgrade: %s" % (addr, head.split(b"\r\n")[0].decode()))
        self.sock.setblocking(False)

    def send(self, opcode, payload):
        self.sock.setblocking(True)
        self.sock.sendall(frame(opcode, payload))
        self.sock.setblocking(False)

    def frames(self):
        """The complete frames in the buffer, as (opcode, payload)."""
        while len(self.buf) >= 2:
            b0, b1 = self.buf[0], self.buf[1]
            if b1 & 0x80:
                die("%s sent a masked frame" % self.addr)  # a server never masks
            n, off = b1 & 0x7F, 2
            if n == 126:
                if len(self.buf) < 4:
                    return
                n, off = struct.unpack("!H", self.buf[2:4])[0], 4
            elif n == 127:
                if len(self.buf) < 10:
                    return
                n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
            if len(self.buf) < off + n:
                return
            payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
            yield b0 & 0x0F, payload

    def on_readable(self):
        data = self.sock.recv(65536)
        if not data:
            die("%s closed the WebSocket" % self.addr)
        self.buf += data
        for op, payload in self.frames():
            if op == 9:
                self.send(10, payload)
            elif op == 8:
                die("%s closed the WebSocket (%r)" % (self.addr, payload[2:].decode(errors="replace")))
            elif op == 1:
                msg = json.loads(payload)
                if msg.get("type") == "room.joined":
                    self.joined = True
                if os.environ.get("WS_JOIN_DEBUG"):
                    sys.stderr.write("cluster-ws-join: %s: %s\n" % (self.addr, payload[:200]))
                elif msg.get("type") in ("error", "room.ended"):
                    die("%s: %s" % (self.addr, payload.decode()))


def main():
    if len(sys.argv) < 3:
        die("usage: cluster-ws-join.py ROOM HOST:PORT...")
    room = sys.argv[1]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    conns = [Conn(a, sign_in(a)) for a in sys.argv[2:]]
    join = json.dumps({"type": "room.join", "room": room}).encode()
    for c in conns:
        c.send(1, join)
    announced = False
    while True:
        ready, _, _ = select.select([c.sock for c in conns], [], [], 1.0)
        for c in conns:
            if c.sock in ready:
                c.on_readable()
        if not announced and all(c.joined for c in conns):
            print(json.dumps({"kind": "joined", "n": len(conns), "live": len(conns), "why": ""},
                             separators=(",", ":")),
                  flush=True)
            announced = True


if __name__ == "__main__":
    main()
