// The pages are built into onair (issue 10, "Reachable by default"): started
// from a directory that has no web/ and with no `web` setting, onair serves
// the sign-in page and the assets, byte for byte the source tree's web/, with
// their Content-Type, an ETag that a revalidation answers 304, Cache-Control
// and the security headers (docs/protocol.md, "Pages"). `--web DIR` serves
// DIR instead (development: an edit shows on the next reload), and a DIR
// that cannot serve the pages stops onair at start with a message naming it.
'use strict';
const { describe, test, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startOnair, freePort, BIN, WEB } = require('../lib/server.js');
const { request } = require('./util.js');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-pages-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

function checkHeaders(res, type) {
  assert.equal(res.headers['content-type'], type);
  assert.match(res.headers.etag, /^"[0-9a-f]+(-[0-9a-f]+)+"$/);
  assert.equal(res.headers['cache-control'], 'no-cache');
  assert.match(res.headers['content-security-policy'], /script-src 'self'/);
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
}

describe('pages built in', { timeout: 60000 }, () => {
  const servers = [];
  after(async () => { for (const s of servers) await s.stop(); });

  test('from a directory without web/ and no --web: the pages and assets, revalidated', async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, 'cwd-'));
    const srv = await startOnair([], { cwd, env: { ONAIR_WEB: '' } }); // unset, as a user has it
    servers.push(srv);
    assert.match(srv.log(), /msg=listening .*web="\(built in\)"/);

    const front = await request(srv, 'GET', '/');
    assert.equal(front.status, 200);
    checkHeaders(front, 'text/html; charset=utf-8');
    assert.match(front.body, /<form id="signin"/, 'the sign-in page');
    assert.equal(front.body, fs.readFileSync(path.join(WEB, 'index.html'), 'utf8'));

    const assets = [['assets/style.css', 'text/css; charset=utf-8'],
      ['assets/view.js', 'text/javascript; charset=utf-8'],
      ['assets/favicon.svg', 'image/svg+xml']];
    for (const [file, type] of assets) {
      const res = await request(srv, 'GET', '/' + file);
      assert.equal(res.status, 200, file);
      checkHeaders(res, type);
      assert.equal(res.body, fs.readFileSync(path.join(WEB, file), 'utf8'), `${file} is web/'s`);
      const again = await request(srv, 'GET', '/' + file, { headers: { 'If-None-Match': res.headers.etag } });
      assert.equal(again.status, 304, `${file} revalidated`);
      assert.equal(again.headers.etag, res.headers.etag);
      assert.equal(again.body, '');
      const stale = await request(srv, 'GET', '/' + file, { headers: { 'If-None-Match': '"0-0"' } });
      assert.equal(stale.status, 200, `${file} with another ETag`);
    }
    const css = await request(srv, 'GET', '/assets/style.css');
    const js = await request(srv, 'GET', '/assets/view.js');
    assert.notEqual(css.headers.etag, js.headers.etag, 'each file its own ETag');

    assert.equal((await request(srv, 'GET', '/assets/nope.js')).status, 404);
    assert.equal((await request(srv, 'GET', '/assets/../index.html')).status, 404);
    assert.deepEqual(fs.readdirSync(cwd), [], 'nothing read or made in the working directory');
  });

  test('--web DIR that cannot serve the pages: onair exits at start, naming DIR', async () => {
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, 'x');
    const empty = fs.mkdtempSync(path.join(tmp, 'empty-'));
    const cases = [['/nonexistent-dir', /no such directory/], [file, /not a directory/],
      [empty, /no readable index\.html/]];
    for (const [dir, why] of cases) {
      const port = await freePort();
      const r = spawnSync(BIN, ['--listen', `127.0.0.1:${port}`, '--data', path.join(tmp, 'data-' + port),
        '--web', dir], { encoding: 'utf8', timeout: 20000, cwd: tmp });
      assert.notEqual(r.status, 0, `${dir}: exit code ${r.status}`);
      assert.equal(r.signal, null, `${dir}: not a crash`);
      const line = r.stderr.split('\n').find(l => l.includes('level=error')) || '';
      assert.ok(line.includes(`dir=${dir}`), `${dir} named: ${r.stderr}`);
      assert.match(line, why);
      assert.match(line, /web directory/);
    }
  });

  test('--web DIR: that directory\'s files, an edit showing on the next request', async () => {
    const dir = path.join(tmp, 'web-copy');
    fs.cpSync(WEB, dir, { recursive: true });
    const index = path.join(dir, 'index.html');
    const original = fs.readFileSync(index, 'utf8');
    fs.writeFileSync(index, original.replace('<form id="signin"', '<p id="dev-edit">edited</p><form id="signin"'));
    const srv = await startOnair(['--web', dir], { cwd: fs.mkdtempSync(path.join(tmp, 'cwd-')) });
    servers.push(srv);
    assert.match(srv.log(), new RegExp(`msg=listening .*web=${dir}`));

    const first = await request(srv, 'GET', '/');
    assert.equal(first.status, 200);
    checkHeaders(first, 'text/html; charset=utf-8');
    assert.match(first.body, /<p id="dev-edit">edited<\/p>/);
    assert.equal((await request(srv, 'GET', '/', { headers: { 'If-None-Match': first.headers.etag } })).status, 304);

    fs.writeFileSync(index, original.replace('<form id="signin"', '<p id="dev-edit">edited again, no rebuild</p><form id="signin"'));
    const second = await request(srv, 'GET', '/', { headers: { 'If-None-Match': first.headers.etag } });
    assert.equal(second.status, 200, 'the edit changes the ETag');
    assert.match(second.body, /edited again, no rebuild/);

    const js = await request(srv, 'GET', '/assets/view.js');
    assert.equal(js.status, 200);
    checkHeaders(js, 'text/javascript; charset=utf-8');
    fs.rmSync(path.join(dir, 'assets/view.js'));
    assert.equal((await request(srv, 'GET', '/assets/view.js')).status, 404, 'only DIR: nothing built in behind it');
  });
});
