// A real TURN server for a test: Debian's coturn (turnserver) with the TURN
// REST shared secret onair is given (turn-secret), on 127.0.0.1, allowed to
// relay to loopback peers (onair is one). Its log in a temporary directory;
// stopped by stop().
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const dgram = require('node:dgram');

const TURNSERVER = process.env.TURNSERVER || '/usr/bin/turnserver';

// Resolves once something answers a STUN binding request on port.
function stunAnswers(port) {
  return new Promise(resolve => {
    const s = dgram.createSocket('udp4');
    const req = Buffer.alloc(20);
    req.writeUInt16BE(0x0001, 0);
    req.writeUInt32BE(0x2112a442, 4);
    require('node:crypto').randomFillSync(req, 8, 12);
    const done = ok => { clearTimeout(timer); s.close(); resolve(ok); };
    const timer = setTimeout(() => done(false), 200);
    s.on('message', () => done(true));
    s.on('error', () => done(false));
    s.send(req, port, '127.0.0.1');
  });
}

async function startCoturn({ port, secret, realm = 'onair.test' }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-coturn-'));
  const logFile = path.join(dir, 'turn.log');
  const args = ['-n', '--listening-ip=127.0.0.1', `--listening-port=${port}`, '--relay-ip=127.0.0.1',
    '--use-auth-secret', `--static-auth-secret=${secret}`, `--realm=${realm}`, '--fingerprint',
    '--no-tls', '--no-dtls', '--no-cli', '--allow-loopback-peers', '--no-multicast-peers',
    `--pidfile=${path.join(dir, 'turn.pid')}`, `--log-file=${logFile}`, '--simple-log', '--verbose'];
  const proc = spawn(TURNSERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', d => { out += d; });
  proc.stderr.on('data', d => { out += d; });
  const exited = new Promise(r => proc.once('exit', r));
  const log = () => out + (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  for (let i = 0; !(await stunAnswers(port)); i++) {
    if (proc.exitCode !== null || i > 100) throw new Error('coturn did not start:\n' + log());
  }
  return {
    url: `turn:127.0.0.1:${port}?transport=udp`,
    log,
    async stop() {
      if (proc.exitCode === null) { proc.kill('SIGTERM'); await exited; }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startCoturn };
