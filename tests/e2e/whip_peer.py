#!/usr/bin/python3
"""A WHIP publisher (or WHEP player) on Debian's GStreamer webrtcbin: what OBS does, from a script.

  whip_peer.py --url http://host:port --key sk_... [--codec vp8|h264]
               [--bframes N] [--width W --height H] [--stats-ms MS]
  whip_peer.py --url http://host:port --whep ROOM [--cookie SESSION | --key wt_...]

WHEP: recvonly audio and VP8 video, POSTed to URL/whep/ROOM (with the
onair_session cookie, or the broadcaster's watch token as Bearer); decodes what comes (vp8dec, opusdec) and
reports it in "stats" (packets and frames decoded per kind, the video's
size), and DELETEs the session on the way out.

It builds a sendonly pipeline (a moving test pattern, 30 fps, and an Opus
tone), makes webrtcbin's offer, POSTs it to URL/whip with
"Authorization: Bearer KEY" and applies the 201's answer. It then streams
until its standard input closes or it gets SIGTERM, and DELETEs the session
on the way out. --codec h264 encodes with x264enc (baseline-like settings,
bframes=N: OBS's "B-frames" setting).

Events on stdout (JSON lines, onair_ws.py's emit): "whip" with the POST's
status, Location, ETag and Link headers (or its error text); "answer";
"ice"/"state" as webrtcbin's states change; "stats" with RTP packets sent;
"deleted" with the DELETE's status; "gst_error" for a pipeline error (exit
1). Needs what gst_peer.py needs, and gstreamer1.0-plugins-ugly (x264enc)
for H.264.
"""
import argparse
import asyncio
import urllib.error
import urllib.request

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import Gst, GstSdp, GstWebRTC  # noqa: E402

from gst_peer import AUDIO_CAPS, Peer, receiver  # noqa: E402
from onair_ws import emit, main, stop_event  # noqa: E402

H264_CAPS = ("application/x-rtp,media=video,encoding-name=H264,payload=102,clock-rate=90000,"
             "packetization-mode=(string)1")
VP8_CAPS = "application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000"

ENCODE = {
    "vp8": "vp8enc deadline=1 keyframe-max-dist=60 ! rtpvp8pay name=vpay pt=96 ! " + VP8_CAPS,
    # key-int-max=60: a keyframe every 2 s; byte-stream and config-interval
    # so every keyframe carries SPS and PPS.
    "h264": ("x264enc tune=zerolatency speed-preset=ultrafast key-int-max=60 bframes={bframes} "
             "b-adapt=false ! video/x-h264,profile={profile} ! h264parse config-interval=-1 "
             "! rtph264pay name=vpay pt=102 config-interval=-1 aggregate-mode=zero-latency ! "
             + H264_CAPS),
}


def pipeline(args):
    profile = "main" if args.bframes else "constrained-baseline"
    return (
        "webrtcbin name=webrtc bundle-policy=max-bundle "
        "videotestsrc is-live=true pattern=smpte horizontal-speed=4 "
        f"! video/x-raw,width={args.width},height={args.height},framerate=30/1 ! videoconvert "
        f"! {ENCODE[args.codec].format(bframes=args.bframes, profile=profile)} ! webrtc. "
        "audiotestsrc is-live=true wave=sine freq=440 ! audioconvert ! audioresample "
        f"! opusenc ! rtpopuspay name=apay pt=111 ! {AUDIO_CAPS} ! webrtc. ")


def http(method, url, auth, body=None, content_type=None):
    """(status, headers, text) of one request; HTTP errors are answers too.
    auth: extra headers (the Bearer key, the session cookie)."""
    req = urllib.request.Request(url, data=body, method=method)
    for name, value in auth.items():
        req.add_header(name, value)
    if content_type:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status, res.headers, res.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def publisher(args):
    pipe = Gst.parse_launch(pipeline(args))
    peer = Peer(pipe, pipe.get_by_name("webrtc"))
    for pad in ("sink_0", "sink_1"):
        peer.webrtc.get_static_pad(pad).get_property("transceiver").set_property(
            "direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
    peer.counts.probe(pipe.get_by_name("vpay").get_static_pad("src"), "video_packets")
    peer.counts.probe(pipe.get_by_name("apay").get_static_pad("src"), "audio_packets")
    return peer


async def session(args, stop, peer, endpoint, auth):
    """The offer to endpoint, its answer, media until stop, the DELETE."""
    pipe = peer.pipe
    loop = asyncio.get_running_loop()
    location = None
    try:
        pipe.set_state(Gst.State.PLAYING)
        await asyncio.wait_for(peer.negotiation, 10)
        reply = await peer._promise("create-offer", None)  # owns the offer: keep it
        offer = reply.get_value("offer")
        await peer._promise("set-local-description", offer)
        # Without its candidates: onair is ICE-lite, puts its own in the
        # answer, and learns the encoder's from the encoder's checks.
        sdp = offer.sdp.as_text()
        emit("offer", sdp=sdp)
        status, headers, text = await loop.run_in_executor(
            None, http, "POST", endpoint, auth, sdp.encode(), "application/sdp")
        emit("whip", status=status, location=headers.get("Location"), etag=headers.get("ETag"),
             link=headers.get_all("Link"), content_type=headers.get("Content-Type"),
             text=None if status == 201 else text)
        if status != 201:
            return 3
        location = args.url + headers.get("Location")
        emit("answer", sdp=text)
        rc, msg = GstSdp.SDPMessage.new_from_text(text)
        if rc != GstSdp.SDPResult.OK:
            raise RuntimeError(f"onair's answer does not parse: {rc}")
        desc = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, msg)
        await peer._promise("set-remote-description", desc)
        return await peer.run_until(stop, args.stats_ms / 1000)
    finally:
        peer.close()
        if location:
            status, _, _ = await loop.run_in_executor(None, http, "DELETE", location, auth)
            emit("deleted", status=status)


async def run():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="onair's base URL")
    ap.add_argument("--key", help="the user's stream key (WHIP), or a watch token (WHEP)")
    ap.add_argument("--whep", metavar="ROOM", help="play ROOM over WHEP instead")
    ap.add_argument("--cookie", help="onair_session cookie (WHEP)")
    ap.add_argument("--codec", choices=("vp8", "h264"), default="vp8")
    ap.add_argument("--bframes", type=int, default=0, help="x264enc's B-frames (h264)")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--stats-ms", type=int, default=2000, help="interval of the stats events")
    args = ap.parse_args()
    Gst.init(None)
    if args.whep:
        auth = {"Cookie": f"onair_session={args.cookie}"} if args.cookie else {}
        if args.key:  # the broadcaster's watch token
            auth["Authorization"] = f"Bearer {args.key}"
        return await session(args, stop_event(), receiver("whep"), f"{args.url}/whep/{args.whep}", auth)
    return await session(args, stop_event(), publisher(args), args.url + "/whip",
                         {"Authorization": f"Bearer {args.key}"})


if __name__ == "__main__":
    main(run)
