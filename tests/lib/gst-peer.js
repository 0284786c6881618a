// Runs tests/e2e/gst_peer.py (a WebRTC peer on Debian's GStreamer webrtcbin
// and libnice, through python3-gi) as a child process and collects the JSON
// events it prints.
'use strict';
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { startPythonPeer, PYTHON } = require('./python-peer.js');

const SCRIPT = path.join(__dirname, '../e2e/gst_peer.py');

// The GStreamer elements the peer builds its pipelines from.
const ELEMENTS = ['webrtcbin', 'nicesrc', 'dtlsdec', 'srtpdec', 'videotestsrc', 'vp8enc', 'rtpvp8pay',
  'audiotestsrc', 'opusenc', 'rtpopuspay', 'vp8dec', 'opusdec', 'rtpvp8depay',
  'rtpopusdepay', 'fakesink'];

// Why the peer cannot run here (a missing package), or null.
function gstMissing() {
  const check = `
import gi
gi.require_version("Gst", "1.0"); gi.require_version("GstSdp", "1.0"); gi.require_version("GstWebRTC", "1.0")
from gi.repository import Gst, GstSdp, GstWebRTC
import websockets
Gst.init(None)
missing = [e for e in ${JSON.stringify(ELEMENTS)} if Gst.ElementFactory.find(e) is None]
if missing:
    raise SystemExit("missing GStreamer elements: " + " ".join(missing))
`;
  try {
    execFileSync(PYTHON, ['-c', check], { stdio: 'pipe' });
  } catch (e) {
    const why = String(e.stderr || e.message).trim().split('\n').pop();
    return `${PYTHON} cannot run the GStreamer peer (scripts/install-deps.sh --test): ${why}`;
  }
  return null;
}

// startGstPeer(['--url', url, '--user', 'x', '--publish']): see
// startPythonPeer (tests/lib/python-peer.js).
function startGstPeer(args) {
  return startPythonPeer(SCRIPT, args, 'GStreamer peer');
}

module.exports = { startGstPeer, gstMissing, SCRIPT };
