// Debian's pebble (Let's Encrypt's ACME test server) for a test, on
// 127.0.0.1 only, with Debian's pebble-challtestsrv as its DNS server (every
// name resolves to 127.0.0.1, no AAAA), so that pebble validates HTTP-01
// challenges for a real-looking name at onair's plain HTTP listener. The
// package ships no certificate for pebble's own HTTPS: the test makes a CA
// and a certificate for 127.0.0.1 with openssl; onair trusts that CA with
// acme-ca-file. Pebble's issuing root (made anew at each start) comes from
// its management interface. Both processes are stopped by stop().
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const { freePort } = require('./server.js');

// The binaries of the Debian package (dpkg -L pebble), or on PATH.
function binary(name) {
  try {
    const files = execFileSync('dpkg', ['-L', 'pebble'], { encoding: 'utf8' }).split('\n');
    const found = files.find(f => f.endsWith('/bin/' + name));
    if (found && fs.existsSync(found)) return found;
  } catch (e) { /* not a Debian package here: PATH */ }
  return name;
}

// A CA and a certificate for localhost and 127.0.0.1 signed by it, in dir.
function makeApiCert(dir) {
  const run = args => execFileSync('openssl', args, { stdio: 'pipe' });
  const f = name => path.join(dir, name);
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=onair test CA for pebble']);
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', f('api.key'), '-out', f('api.csr'), '-subj', '/CN=localhost']);
  fs.writeFileSync(f('api.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' +
    'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', f('api.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'),
    '-CAcreateserial', '-out', f('api.pem'), '-days', '2', '-extfile', f('api.ext')]);
  return { ca: f('ca.pem'), cert: f('api.pem'), key: f('api.key') };
}

function get(url, ca) {
  return new Promise((resolve, reject) => {
    https.get(url, { ca }, res => {
      let body = '';
      res.on('data', d => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
}

function startProcess(argv, env) {
  const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const p = { proc, out: '' };
  proc.stdout.on('data', d => { p.out += d; });
  proc.stderr.on('data', d => { p.out += d; });
  p.exited = new Promise(r => proc.once('exit', () => r()));
  return p;
}

async function stopProcess(p) {
  if (p && p.proc.exitCode === null && p.proc.signalCode === null) {
    p.proc.kill('SIGTERM');
    await p.exited;
  }
}

// Starts pebble validating HTTP-01 at httpPort (onair's http-listen),
// issuing certificates valid for validitySeconds. env adds PEBBLE_*
// settings. Returns { directory, caFile, root(), log(), orders(),
// validations(), stop() }.
async function startPebble({ httpPort, validitySeconds, env = {} }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-pebble-'));
  const certs = makeApiCert(dir);
  const [acmePort, mgmtPort, dnsPort, challMgmtPort] =
    [await freePort(), await freePort(), await freePort(), await freePort()];
  const config = path.join(dir, 'pebble.json');
  fs.writeFileSync(config, JSON.stringify({ pebble: {
    listenAddress: `127.0.0.1:${acmePort}`, managementListenAddress: `127.0.0.1:${mgmtPort}`,
    certificate: certs.cert, privateKey: certs.key, httpPort, tlsPort: 0,
    ocspResponderURL: '', externalAccountBindingRequired: false,
    certificateValidityPeriod: validitySeconds,
  } }));
  const dns = startProcess([binary('pebble-challtestsrv'), '-dns01', `127.0.0.1:${dnsPort}`,
    '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${challMgmtPort}`,
    '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '']);
  const pebble = startProcess([binary('pebble'), '-config', config, '-dnsserver', `127.0.0.1:${dnsPort}`],
    { PEBBLE_VA_NOSLEEP: '1', ...env });
  const self = {
    directory: `https://127.0.0.1:${acmePort}/dir`,
    caFile: certs.ca,
    log: () => pebble.out,
    // Orders pebble took, and HTTP-01 validations it made.
    orders: () => (pebble.out.match(/Added order/g) || []).length,
    validations: () => (pebble.out.match(/Attempting to validate w\/ HTTP/g) || []).length,
    async root() {
      const r = await get(`https://127.0.0.1:${mgmtPort}/roots/0`, fs.readFileSync(certs.ca));
      if (r.status !== 200) throw new Error('pebble root: HTTP ' + r.status);
      return r.body;
    },
    async stop() {
      await stopProcess(pebble);
      await stopProcess(dns);
    },
    cleanup() { fs.rmSync(dir, { recursive: true, force: true }); },
  };
  const ca = fs.readFileSync(certs.ca);
  for (let i = 0; ; i++) {
    try {
      if ((await get(self.directory, ca)).status === 200 && /Answering A queries/.test(dns.out)) break;
    } catch (e) { /* not up yet */ }
    if (i === 100 || pebble.proc.exitCode !== null || dns.proc.exitCode !== null) {
      await self.stop();
      throw new Error(`pebble did not start:\n${pebble.out}\n${dns.out}`);
    }
    await new Promise(r => setTimeout(r, 100));
  }
  return self;
}

module.exports = { startPebble };
