// A real nginx (Debian's nginx-light) in front of onair for a test: TLS at
// nginx with the test's certificate, everything proxied to onair with the
// WebSocket upgrade and the X-Forwarded-* headers, as docs/operations.md
// shows. Its own config, pid, logs and temp files in a temporary directory;
// stopped (and that removed) by stop().
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const NGINX = process.env.NGINX || '/usr/sbin/nginx';

function config({ dir, port, upstream, cert, key }) {
  return `user root;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 512; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:${port} ssl;
    server_name localhost;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    location / {
      proxy_pass http://${upstream};
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_read_timeout 1h;
    }
  }
}
`;
}

function listening(port) {
  return new Promise(r => {
    const c = net.connect(port, '127.0.0.1', () => { c.end(); r(true); });
    c.on('error', () => r(false));
  });
}

// Starts nginx on 127.0.0.1:port proxying to upstream ("127.0.0.1:8080").
async function startNginx({ port, upstream, cert, key }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-nginx-'));
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, config({ dir, port, upstream, cert, key }));
  const proc = spawn(NGINX, ['-p', dir, '-c', conf, '-e', `${dir}/error.log`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', d => { out += d; });
  proc.stderr.on('data', d => { out += d; });
  const exited = new Promise(r => proc.once('exit', r));
  const log = () => out + (fs.existsSync(`${dir}/error.log`) ? fs.readFileSync(`${dir}/error.log`, 'utf8') : '');
  for (let i = 0; !(await listening(port)); i++) {
    if (proc.exitCode !== null || i > 200) throw new Error('nginx did not start:\n' + log());
    await new Promise(r => setTimeout(r, 50));
  }
  return {
    url: `https://localhost:${port}`,
    log,
    accessLog: () => (fs.existsSync(`${dir}/access.log`) ? fs.readFileSync(`${dir}/access.log`, 'utf8') : ''),
    async stop() {
      if (proc.exitCode === null) { proc.kill('SIGQUIT'); await exited; }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startNginx, NGINX };
