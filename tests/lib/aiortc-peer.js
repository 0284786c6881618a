// Runs tests/e2e/aiortc_peer.py (an independent WebRTC peer on Debian's
// python3-aiortc) as a child process and collects the JSON events it prints.
'use strict';
const path = require('node:path');
const { startPythonPeer, PYTHON } = require('./python-peer.js');

// ONAIR_AIORTC_SCRIPT runs another copy of the peer (e.g. one instrumented
// for debugging; it needs onair_ws.py beside it).
const SCRIPT = process.env.ONAIR_AIORTC_SCRIPT || path.join(__dirname, '../e2e/aiortc_peer.py');

// startAiortcPeer(['--url', url, '--user', 'x', '--publish']): see
// startPythonPeer (tests/lib/python-peer.js).
function startAiortcPeer(args) {
  return startPythonPeer(SCRIPT, args, 'aiortc peer');
}

module.exports = { startAiortcPeer, PYTHON, SCRIPT };
