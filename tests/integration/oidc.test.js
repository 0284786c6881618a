// "Sign in with <provider>" over plain HTTP, against a real OpenID provider
// (npm oidc-provider, tests/lib/oidc-provider.js) on 127.0.0.1: the contract
// is docs/protocol.md, "OpenID Connect sign-in", and docs/configuration.md
// (the oidc-* keys and the tutorial's OKTA_ variables).
//
// A small cookie-jar "browser" (Agent) follows the redirects by hand: onair's
// /auth/oidc/start, the provider's authorization endpoint, its development
// login form, back to onair's /authorization-code/callback. Bad ID tokens are
// made by rewriting the token endpoint's answer (op.tamper) with
// tests/lib/jwt-forge.js: onair itself is not weakened in any way.
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const { startOnair, freePort, BIN } = require('../lib/server.js');
const { startProvider, CLIENT_ID, CLIENT_SECRET } = require('../lib/oidc-provider.js');
const forge = require('../lib/jwt-forge.js');
const { PASSWORD, sleep, uname, request, signup, signin, me, openWs, goLive } = require('./util.js');

const OP_NAME = 'TestOP';

// ---- a browser made of fetch and a cookie jar ---------------------------------

class Agent {
  constructor(label = 'agent') { this.label = label; this.cookies = []; this.log = []; }

  // Cookies are kept per host, not per port, as browsers do.
  storeCookies(url, lines) {
    const u = new URL(url);
    for (const line of lines) {
      const [pair, ...attrs] = line.split(';').map(s => s.trim());
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq), value = pair.slice(eq + 1);
      let cpath = u.pathname.replace(/\/[^/]*$/, '') || '/';
      let expired = false;
      for (const a of attrs) {
        const [k, ...v] = a.split('=');
        const key = k.toLowerCase(), val = v.join('=');
        if (key === 'path') cpath = val || '/';
        if (key === 'max-age' && Number(val) <= 0) expired = true;
        if (key === 'expires' && Date.parse(val) < Date.now()) expired = true;
      }
      this.cookies = this.cookies.filter(c => !(c.host === u.hostname && c.name === name && c.path === cpath));
      if (!expired && value !== '') this.cookies.push({ host: u.hostname, name, value, path: cpath });
    }
  }

  cookieHeader(url) {
    const u = new URL(url);
    const inPath = c => c.path === '/' || u.pathname === c.path ||
      u.pathname.startsWith(c.path.endsWith('/') ? c.path : c.path + '/');
    return this.cookies.filter(c => c.host === u.hostname && inPath(c))
      .sort((a, b) => b.path.length - a.path.length)
      .map(c => `${c.name}=${c.value}`).join('; ');
  }

  cookie(name) { const c = this.cookies.find(x => x.name === name); return c && c.value; }
  drop(name) { this.cookies = this.cookies.filter(c => c.name !== name); }
  clone(label) { const a = new Agent(label); a.cookies = this.cookies.map(c => ({ ...c })); return a; }

  // One request, no redirects followed. opts: method, headers, body, form
  // (object, sent urlencoded), json (object).
  async request(url, opts = {}) {
    const headers = { ...(opts.headers || {}) };
    const ch = this.cookieHeader(url);
    if (ch) headers.Cookie = ch;
    let body = opts.body;
    if (opts.form) {
      body = new URLSearchParams(opts.form).toString();
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
    }
    if (opts.json) {
      body = JSON.stringify(opts.json);
      headers['Content-Type'] = 'application/json';
    }
    const method = opts.method || (body !== undefined ? 'POST' : 'GET');
    const res = await fetch(url, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(15000) });
    const setCookies = res.headers.getSetCookie();
    this.storeCookies(url, setCookies);
    const text = await res.text();
    const loc = res.headers.get('location');
    const out = {
      url, status: res.status, headers: res.headers, setCookies, body: text,
      rawLocation: loc, location: loc ? new URL(loc, url).href : null,
    };
    this.log.push(`${method} ${url} -> ${res.status}${loc ? ' ' + loc : ''}`);
    return out;
  }

  // GETs url and follows redirects; stops before requesting a URL for which
  // stop(url) is true (returned as .stoppedAt) or at a non-redirect answer.
  async follow(url, stop = () => false) {
    if (stop(url)) return { stoppedAt: url };
    let res = await this.request(url);
    for (let hops = 0; hops < 20; hops++) {
      if (![301, 302, 303, 307, 308].includes(res.status) || !res.location) return res;
      if (stop(res.location)) return { ...res, stoppedAt: res.location };
      res = await this.request(res.location);
    }
    throw new Error(`${this.label}: too many redirects:\n${this.trail()}`);
  }

  trail() { return this.log.slice(-25).join('\n'); }
}

// A <form> on a page (the first, or the one with that id): { action, fields }.
function parseForm(html, pageUrl, id) {
  const unesc = s => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>').replace(/&#x2F;/g, '/').replace(/&amp;/g, '&');
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = m[1];
    if (id && !attrs.includes(`id="${id}"`)) continue;
    const action = (/action="([^"]*)"/.exec(attrs) || [])[1];
    const fields = {};
    for (const inp of m[2].matchAll(/<input\b([^>]*)>/gi)) {
      const name = (/name="([^"]*)"/.exec(inp[1]) || [])[1];
      const value = (/value="([^"]*)"/.exec(inp[1]) || [])[1] || '';
      if (name) fields[name] = unesc(value);
    }
    return { action: new URL(unesc(action || pageUrl), pageUrl).href, fields };
  }
  return null;
}

// ---- the sign-in flow -----------------------------------------------------------

const isCallback = srv => u => u.startsWith(srv.url + '/authorization-code/callback');

// Runs agent from onair's /auth/oidc/start through the provider (typing
// `login` into its sign-in form when it asks) up to, not including, onair's
// callback. Resolves { start, authorizeUrl, callbackUrl, state, code,
// sawLogin }.
async function toCallback(agent, srv, op, { login = 'ada', next } = {}) {
  const startUrl = srv.url + '/auth/oidc/start' + (next !== undefined ? '?next=' + encodeURIComponent(next) : '');
  const start = await agent.request(startUrl);
  assert.equal(start.status, 303, `GET /auth/oidc/start: ${start.status} ${start.body.slice(0, 300)}`);
  const authorizeUrl = start.location;
  assert.ok(authorizeUrl.startsWith(op.issuer + '/'), `start redirects to the provider (${authorizeUrl})`);
  const stop = isCallback(srv);
  let r = await agent.follow(authorizeUrl, stop);
  let sawLogin = false;
  for (let i = 0; i < 4 && !r.stoppedAt; i++) {
    assert.equal(r.status, 200, `provider page: ${r.status} ${String(r.body).slice(0, 500)}\n${agent.trail()}`);
    const form = parseForm(r.body, r.url);
    assert.ok(form, `a form on the provider's page:\n${String(r.body).slice(0, 800)}`);
    if (form.fields.prompt === 'login') {
      sawLogin = true;
      form.fields.login = login;
      form.fields.password = 'any password will do';
    }
    r = await agent.request(form.action, { form: form.fields });
    if (r.location) r = stop(r.location) ? { ...r, stoppedAt: r.location } : await agent.follow(r.location, stop);
  }
  assert.ok(r.stoppedAt, `the provider sends the browser back to onair's callback:\n${agent.trail()}`);
  const cb = new URL(r.stoppedAt);
  return {
    start, authorizeUrl, callbackUrl: r.stoppedAt, sawLogin,
    state: cb.searchParams.get('state'), code: cb.searchParams.get('code'),
  };
}

// The whole sign-in: resolves { flow, res (the callback's answer), cookie }.
async function oidcSignIn(agent, srv, op, opts) {
  const flow = await toCallback(agent, srv, op, opts);
  const res = await agent.request(flow.callbackUrl);
  return { flow, res, cookie: sessionCookie(res) };
}

async function signInOk(agent, srv, op, opts = {}) {
  const r = await oidcSignIn(agent, srv, op, opts);
  assert.equal(r.res.status, 303, `callback: ${r.res.status} ${r.res.body.slice(0, 600)}\nonair log:\n${srv.log().slice(-1500)}`);
  assert.ok(r.cookie, 'the callback sets a session cookie');
  return r;
}

// The onair_session value a response sets (not a clearing one), or undefined.
function sessionCookie(res) {
  for (const line of res.setCookies) {
    const m = /^onair_session=([^;]*)/.exec(line);
    if (m && m[1]) return m[1];
  }
  return undefined;
}

function count(srv, table) {
  const out = execFileSync('sqlite3', [path.join(srv.dataDir, 'onair.db'), `select count(*) from ${table}`], { encoding: 'utf8' });
  return Number(out.trim());
}

function counts(srv) {
  return { sessions: count(srv, 'sessions'), users: count(srv, 'users'), identities: count(srv, 'identities') };
}

// The error page: status, HTML, <main data-error="code"> with some words for a
// person, no session cookie, and no session or user created.
function assertRefused(srv, res, status, code, before, what) {
  const ctx = `${what}: ${res.status} ${res.body.slice(0, 400)}`;
  assert.equal(res.status, status, ctx);
  assert.match(res.headers.get('content-type') || '', /^text\/html/, `${what}: an HTML page`);
  // protocol.md: "the reason in <main data-error="<code>">". Accepted too: the
  // attribute on an element inside <main>.
  const main = /<main\b([^>]*)>([\s\S]*?)<\/main>/.exec(res.body);
  assert.ok(main, `${what}: a <main> on the page: ${res.body.slice(0, 400)}`);
  const m = /\bdata-error="([^"]*)"/.exec(main[1]) || /\bdata-error="([^"]*)"/.exec(main[2]);
  assert.ok(m, `${what}: data-error in <main>: ${res.body.slice(0, 400)}`);
  assert.equal(m[1], code, ctx);
  assert.ok(main[2].replace(/<[^>]*>/g, '').trim().length >= 10, `${what}: the page says what went wrong`);
  assert.equal(sessionCookie(res), undefined, `${what}: no session cookie`);
  if (before) assert.deepEqual(counts(srv), before, `${what}: no session or user created`);
}

function oidcArgs(op, extra = []) {
  return ['--oidc-issuer', op.issuer, '--oidc-client-id', CLIENT_ID, '--oidc-client-secret', CLIENT_SECRET,
    '--oidc-name', OP_NAME, ...extra];
}

async function authInfo(srv) {
  const res = await request(srv, 'GET', '/api/auth');
  assert.equal(res.status, 200, `/api/auth: ${res.status} ${res.body}`);
  assert.ok(res.json, '/api/auth answers JSON');
  return res.json;
}

// onair discovers the provider in the background after it starts listening:
// a user who opens the page too early sees "still contacting" and, a moment
// later, the button. Waits for that moment (discovery takes one round trip,
// longer on a loaded machine).
async function providerReady(srv, timeoutMs = 30000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const info = await authInfo(srv);
    if (info.providers.length && info.providers[0].available) return info;
    if (Date.now() > end) return info;
    await new Promise(r => setTimeout(r, 50));
  }
}

const NAME_RE = /^[A-Za-z0-9_-]{1,32}$/;
const now = () => Math.floor(Date.now() / 1000);

// ---- the main server --------------------------------------------------------------

describe('OpenID Connect sign-in against a real provider', { timeout: 120000 }, () => {
  let srv, op, jwksSeen;
  const ACCOUNTS = {
    bob: { sub: 'sub-bob-0003', preferred_username: 'bob.builder', email: 'bob@example.org' },
    carol: { sub: 'sub-carol-0004', email: 'carol@example.org' },
    taken: { sub: 'sub-taken-0005', name: 'Taken' },
    taken2: { sub: 'sub-taken-0006', name: 'Taken' },
    mallory: { sub: 'sub-mallory-0007', name: 'Mallory' },
  };

  before(async () => {
    const port = await freePort();
    const url = 'http://127.0.0.1:' + port;
    op = await startProvider({
      onairUrl: url,
      accounts: ACCOUNTS,
      // An RSA key (the ID tokens are RS256) and an EC key, both published.
      keys: { keys: [forge.rsaJwk('op-rsa-1'), forge.ecJwk('op-ec-1')] },
    });
    srv = await startOnair(oidcArgs(op), { port });
  });
  after(async () => {
    if (srv) await srv.stop();
    if (op) await op.stop();
  });

  test('GET /api/auth lists the provider as available', async () => {
    const info = await providerReady(srv);
    assert.equal(info.signup, true);
    assert.deepEqual(info.providers, [{ id: 'oidc', name: OP_NAME, available: true, message: '' }]);
  });

  test('/auth/oidc/start: 303 to the authorization endpoint with PKCE S256, state and nonce; a short-lived HttpOnly onair_oidc cookie', async () => {
    const disc = await (await fetch(op.issuer + '/.well-known/openid-configuration')).json();
    const a = new Agent('start');
    const res = await a.request(srv.url + '/auth/oidc/start?next=/broadcast');
    assert.equal(res.status, 303, res.body);
    const u = new URL(res.location);
    assert.equal(u.origin + u.pathname, disc.authorization_endpoint);
    const q = Object.fromEntries(u.searchParams);
    assert.equal(q.response_type, 'code');
    assert.equal(q.client_id, CLIENT_ID);
    assert.equal(q.redirect_uri, srv.url + '/authorization-code/callback');
    assert.deepEqual(q.scope.split(' ').sort(), ['email', 'openid', 'profile']);
    assert.equal(q.code_challenge_method, 'S256');
    assert.match(q.code_challenge, /^[A-Za-z0-9_-]{43}$/);
    assert.match(q.state, /^[A-Za-z0-9_-]{16,}$/, 'state carries 96+ random bits');
    assert.match(q.nonce, /^[A-Za-z0-9_-]{16,}$/, 'nonce carries 96+ random bits');
    const oc = res.setCookies.find(l => l.startsWith('onair_oidc='));
    assert.ok(oc, `Set-Cookie onair_oidc: ${res.setCookies}`);
    const attrs = oc.split(';').slice(1).map(s => s.trim().toLowerCase());
    assert.ok(attrs.includes('httponly'), oc);
    assert.ok(attrs.includes('samesite=lax'), oc);
    const maxAge = attrs.find(x => x.startsWith('max-age='));
    assert.ok(maxAge && Number(maxAge.slice(8)) > 0 && Number(maxAge.slice(8)) <= 600, `short-lived: ${oc}`);
    // Another start gives another state, nonce and verifier.
    const again = new URL((await a.request(srv.url + '/auth/oidc/start')).location);
    assert.notEqual(again.searchParams.get('state'), q.state);
    assert.notEqual(again.searchParams.get('nonce'), q.nonce);
    assert.notEqual(again.searchParams.get('code_challenge'), q.code_challenge);
  });

  let adaName;
  test('first sign-in: the provider\'s login page, back to `next` with a session; the user is created from the ID token', async () => {
    const before0 = counts(srv);
    const a = new Agent('ada');
    const { flow, res, cookie } = await signInOk(a, srv, op, { login: 'ada', next: '/broadcast' });
    assert.ok(flow.sawLogin, 'the provider asked to sign in');
    assert.equal(res.rawLocation, '/broadcast', 'back to next');
    const sc = res.setCookies.find(l => l.startsWith('onair_session='));
    const attrs = sc.split(';').slice(1).map(s => s.trim().toLowerCase());
    assert.ok(attrs.includes('httponly') && attrs.includes('samesite=lax') && attrs.includes('path=/'), sc);
    assert.match(cookie, /^[A-Za-z0-9_-]{22}$/);
    const m = await me(srv, cookie);
    assert.equal(m.status, 200, m.body);
    adaName = m.json.user.name;
    // name "Ada Lovelace" reduced to letters, digits, _ and -
    assert.match(adaName, /^Ada[_-]?Lovelace$/, `named from the name claim: ${adaName}`);
    const after0 = counts(srv);
    assert.deepEqual(after0, { sessions: before0.sessions + 1, users: before0.users + 1, identities: before0.identities + 1 });
    // The onair_oidc binding is spent.
    assert.equal(a.cookie('onair_oidc'), undefined, 'the onair_oidc cookie is cleared after use');
    // The session is a full session: the pages and the WebSocket take it.
    const page = await request(srv, 'GET', '/dashboard', { cookie });
    assert.equal(page.status, 200);
    const ws = await openWs(srv, cookie, { label: 'ada-ws' });
    try {
      assert.equal(ws.hello.user, adaName);
      const started = await goLive(ws);
      assert.equal(started.type, 'live.started', JSON.stringify(started));
      assert.equal(started.room, adaName);
    } finally {
      await ws.close();
    }
  });

  test('a later sign-in (new browser, new provider session) finds the same user again', async () => {
    const before0 = counts(srv);
    const a = new Agent('ada-again');
    const { flow, res, cookie } = await signInOk(a, srv, op, { login: 'ada' });
    assert.ok(flow.sawLogin);
    assert.equal(res.rawLocation, '/dashboard', 'default next is /dashboard');
    assert.equal((await me(srv, cookie)).json.user.name, adaName);
    assert.deepEqual(counts(srv), { ...before0, sessions: before0.sessions + 1 }, 'no second user or identity');
    // With the provider session still there, a third sign-in needs no login.
    const third = await signInOk(a, srv, op, { login: 'ada' });
    assert.equal(third.flow.sawLogin, false, 'the provider signed in silently');
    assert.equal((await me(srv, third.cookie)).json.user.name, adaName);
  });

  test('the name comes from preferred_username, else email; a taken name gets a number; the sub is the key', async () => {
    const b = await signInOk(new Agent('bob'), srv, op, { login: 'bob' });
    const bob = (await me(srv, b.cookie)).json.user.name;
    assert.match(bob, /^bob[_-]?builder$/, `from preferred_username "bob.builder": ${bob}`);
    const c = await signInOk(new Agent('carol'), srv, op, { login: 'carol' });
    const carol = (await me(srv, c.cookie)).json.user.name;
    assert.match(carol, NAME_RE);
    assert.match(carol, /^carol/, `from email carol@example.org: ${carol}`);
    // A local user holds "Taken": the provider's "Taken" gets a number.
    await signup(srv, 'Taken');
    const t1 = await signInOk(new Agent('taken'), srv, op, { login: 'taken' });
    const n1 = (await me(srv, t1.cookie)).json.user.name;
    assert.match(n1, /^Taken[_-]?\d+$/, `a number is added: ${n1}`);
    // Another sub with the same name is another user.
    const t2 = await signInOk(new Agent('taken2'), srv, op, { login: 'taken2' });
    const n2 = (await me(srv, t2.cookie)).json.user.name;
    assert.match(n2, /^Taken[_-]?\d+$/);
    assert.notEqual(n2, n1, 'a different sub is a different user');
    // ...and each is found again by its sub.
    const t1again = await signInOk(new Agent('taken-again'), srv, op, { login: 'taken' });
    assert.equal((await me(srv, t1again.cookie)).json.user.name, n1);
    // The local "Taken" account is untouched: its password still works.
    const local = await signin(srv, 'Taken');
    assert.equal(local.status, 200);
    assert.equal((await me(srv, local.cookie)).json.user.name, 'Taken');
  });

  test('next is followed only when it is a path on this site', async () => {
    for (const bad of ['https://evil.example/', '//evil.example/x', '/\\evil.example', 'javascript:alert(1)']) {
      const r = await signInOk(new Agent('next'), srv, op, { login: 'ada', next: bad });
      const loc = r.res.rawLocation;
      assert.ok(loc.startsWith('/') && !loc.startsWith('//') && !loc.startsWith('/\\'), `next=${bad} -> ${loc}`);
      assert.equal(new URL(loc, srv.url).origin, srv.url);
    }
  });

  // ---- refusals: state -------------------------------------------------------------

  test('state missing: 400 bad_state, no session', async () => {
    const a = new Agent('nostate');
    const flow = await toCallback(a, srv, op, { login: 'mallory' });
    const before0 = counts(srv);
    const res = await a.request(srv.url + '/authorization-code/callback?code=' + encodeURIComponent(flow.code));
    assertRefused(srv, res, 400, 'bad_state', before0, 'state missing');
  });

  test('state wrong: 400 bad_state, no session', async () => {
    const a = new Agent('wrongstate');
    const flow = await toCallback(a, srv, op, { login: 'mallory' });
    const before0 = counts(srv);
    const u = new URL(flow.callbackUrl);
    // One character changed (to a different one: the state is random).
    u.searchParams.set('state', (flow.state[0] === 'x' ? 'y' : 'x') + flow.state.slice(1));
    assertRefused(srv, await a.request(u.href), 400, 'bad_state', before0, 'state with one character changed');
    u.searchParams.set('state', 'A'.repeat(300));
    assertRefused(srv, await a.request(u.href), 400, 'bad_state', before0, 'a long state');
  });

  test('state used twice: the replayed callback is 400 bad_state, no second session', async () => {
    const a = new Agent('replay');
    const { flow } = await signInOk(a, srv, op, { login: 'mallory' });
    const before0 = counts(srv);
    assertRefused(srv, await a.request(flow.callbackUrl), 400, 'bad_state', before0, 'the same callback again');
  });

  test('state from another browser (without, or with another, onair_oidc cookie): 400 bad_state', async () => {
    const a = new Agent('victim');
    const flow = await toCallback(a, srv, op, { login: 'mallory' });
    const before0 = counts(srv);
    // A browser that never started a sign-in.
    assertRefused(srv, await new Agent('stranger').request(flow.callbackUrl), 400, 'bad_state', before0, 'no onair_oidc cookie');
    // A browser that started its own sign-in (a login-CSRF attempt).
    const b = new Agent('attacker');
    const own = await b.request(srv.url + '/auth/oidc/start');
    assert.equal(own.status, 303);
    assert.ok(b.cookie('onair_oidc'));
    assertRefused(srv, await b.request(flow.callbackUrl), 400, 'bad_state', before0, 'another browser\'s onair_oidc cookie');
  });

  test('the provider says error=access_denied (the user cancelled): 400 provider_error', async () => {
    const a = new Agent('cancel');
    const start = await a.request(srv.url + '/auth/oidc/start');
    // A fresh browser: the provider shows its login page; cancel there.
    const page = await a.follow(start.location, isCallback(srv));
    assert.equal(page.status, 200);
    const uid = /\/interaction\/([A-Za-z0-9_-]+)/.exec(page.url)[1];
    const back = await a.follow(`${op.issuer}/interaction/${uid}/abort`, isCallback(srv));
    assert.ok(back.stoppedAt, a.trail());
    const cb = new URL(back.stoppedAt);
    assert.equal(cb.searchParams.get('error'), 'access_denied');
    const before0 = counts(srv);
    assertRefused(srv, await a.request(back.stoppedAt), 400, 'provider_error', before0, 'error=access_denied');
  });

  test('code reused with a fresh state: the token endpoint refuses it, 400 token_exchange', async () => {
    const a = new Agent('reuse');
    const { flow } = await signInOk(a, srv, op, { login: 'mallory' });
    const tokenCalls = op.tokenRequests;
    // A new sign-in gives a fresh state bound to this browser; put the old code with it.
    const start = await a.request(srv.url + '/auth/oidc/start');
    const state = new URL(start.location).searchParams.get('state');
    const before0 = counts(srv);
    const res = await a.request(`${srv.url}/authorization-code/callback?code=${encodeURIComponent(flow.code)}&state=${encodeURIComponent(state)}`);
    assertRefused(srv, res, 400, 'token_exchange', before0, 'a reused code');
    assert.equal(op.tokenRequests, tokenCalls + 1, 'onair did ask the token endpoint');
  });

  // ---- refusals: the ID token -------------------------------------------------------

  const rsaKey = () => op.keys.keys.find(k => k.kty === 'RSA');
  const ecKey = () => op.keys.keys.find(k => k.kty === 'EC');
  const badTokens = [
    ['wrong iss', 'bad_iss', t => forge.resign(t, p => { p.iss = 'http://127.0.0.1:9/not-the-issuer'; }, { key: rsaKey() })],
    ['iss with a trailing slash', 'bad_iss', t => forge.resign(t, p => { p.iss += '/'; }, { key: rsaKey() })],
    ['wrong aud', 'bad_aud', t => forge.resign(t, p => { p.aud = 'some-other-client'; }, { key: rsaKey() })],
    ['aud lists us but azp names another client', 'bad_aud', t => forge.resign(t, p => { p.aud = [CLIENT_ID, 'other']; p.azp = 'other'; }, { key: rsaKey() })],
    ['expired', 'expired', t => forge.resign(t, p => { p.iat = now() - 7200; p.exp = now() - 3600; }, { key: rsaKey() })],
    ['issued in the future', 'expired', t => forge.resign(t, p => { p.iat = now() + 3600; p.exp = now() + 7200; }, { key: rsaKey() })],
    ['nonce mismatch', 'bad_nonce', t => forge.resign(t, p => { p.nonce = 'not-the-nonce-onair-sent'; }, { key: rsaKey() })],
    ['nonce missing', 'bad_nonce', t => forge.resign(t, p => { delete p.nonce; }, { key: rsaKey() })],
    ['alg none', 'bad_alg', t => forge.algNone(t)],
    ['HS256 keyed with the provider\'s RSA public key (PEM)', 'bad_alg', t => forge.hs256WithPublicKey(t, rsaKey())],
    ['a kid the JWKS does not have', 'bad_kid', t => forge.resign(t, null, { key: forge.rsaJwk('no-such-kid') })],
    ['bad signature: a second key set with the same kid', 'bad_signature', t => forge.resign(t, null, { key: forge.rsaJwk(rsaKey().kid) })],
    ['bad signature: one byte flipped', 'bad_signature', t => forge.flipSignature(t)],
    ['unparseable', 'bad_token', () => 'this-is.not-a.jwt!'],
  ];

  for (const [what, code, fn] of badTokens) {
    test(`ID token refused, ${what}: 401 ${code}, no session, no user`, async () => {
      let original;
      op.tamper(t => { original = t; return fn(t); });
      try {
        const before0 = counts(srv);
        const { res } = await oidcSignIn(new Agent('forged'), srv, op, { login: 'forged-' + code });
        assert.ok(original, 'the token endpoint was asked');
        assertRefused(srv, res, 401, code, before0, what);
      } finally {
        op.tamper(null);
      }
    });
  }

  // Controls: the forging itself is sound. The same claims signed again with
  // a key the provider publishes are accepted (RS256 by the RSA key, PS256 by
  // it, ES256 by the EC key), so each refusal above is for its own defect.
  for (const [what, fn] of [
    ['RS256, signed again with the provider\'s key', t => forge.resign(t, null, { key: rsaKey() })],
    ['PS256 with the provider\'s RSA key', t => forge.resign(t, null, { key: rsaKey(), alg: 'PS256' })],
    ['ES256 with the provider\'s EC key', t => forge.resign(t, null, { key: ecKey() })],
  ]) {
    test(`control: an ID token ${what} is accepted`, async () => {
      op.tamper(fn);
      try {
        const r = await signInOk(new Agent('control'), srv, op, { login: 'control' });
        assert.equal((await me(srv, r.cookie)).status, 200);
      } finally {
        op.tamper(null);
      }
    });
  }

  // ---- sign-out --------------------------------------------------------------------

  test('sign-out: 200 with the provider\'s end_session URL; the old cookie is refused; the provider session ends', async () => {
    const disc = await (await fetch(op.issuer + '/.well-known/openid-configuration')).json();
    const a = new Agent('grace');
    const { cookie } = await signInOk(a, srv, op, { login: 'grace' });
    const name = (await me(srv, cookie)).json.user.name;
    assert.match(name, /^Grace[_-]?Hopper$/);
    const before0 = counts(srv);

    const out = await a.request(srv.url + '/api/signout', { method: 'POST', headers: { Origin: srv.origin } });
    assert.equal(out.status, 200, out.body);
    const body = JSON.parse(out.body);
    const lu = new URL(body.logout_url);
    assert.equal(lu.origin + lu.pathname, disc.end_session_endpoint);
    assert.equal(lu.searchParams.get('client_id'), CLIENT_ID);
    assert.equal(lu.searchParams.get('post_logout_redirect_uri'), srv.url + '/');
    const hint = forge.decode(lu.searchParams.get('id_token_hint'));
    assert.equal(hint.payload.sub, 'sub-grace-0002', 'id_token_hint is grace\'s ID token');
    assert.equal(hint.payload.aud, CLIENT_ID);
    assert.ok(out.setCookies.some(l => /^onair_session=;/.test(l) || /^onair_session=[^;]*;.*max-age=0/i.test(l)), `the cookie is cleared: ${out.setCookies}`);
    assert.equal(a.cookie('onair_session'), undefined);
    assert.equal(count(srv, 'sessions'), before0.sessions - 1, 'the session is deleted');

    // The old cookie is refused.
    const m = await me(srv, cookie);
    assert.equal(m.status, 401);
    assert.equal(m.json.error, 'signed_out');
    assert.equal((await request(srv, 'GET', '/dashboard', { cookie })).status, 303);

    // The provider's logout page asks; say yes; back to onair's front page.
    const page = await a.follow(body.logout_url);
    assert.equal(page.status, 200, a.trail());
    const form = parseForm(page.body, page.url, 'op.logoutForm');
    assert.ok(form, page.body.slice(0, 500));
    const done = await a.request(form.action, { form: { ...form.fields, logout: 'yes' } });
    assert.equal(done.status, 303, done.body);
    assert.ok(done.location.startsWith(srv.url + '/'), `back to ${srv.url}/: ${done.location}`);
    const home = await a.request(done.location);
    assert.equal(home.status, 200);

    // The provider session is gone: signing in again asks for the login.
    const again = await toCallback(a, srv, op, { login: 'grace' });
    assert.ok(again.sawLogin, 'the provider asks to sign in again instead of signing in silently');
  });

  test('sign-out of a local account (no provider) is still 204', async () => {
    const u = await signup(srv);
    const res = await request(srv, 'POST', '/api/signout', { cookie: u.cookie });
    assert.equal(res.status, 204, res.body);
    assert.equal((await me(srv, u.cookie)).status, 401);
  });

  test('the server is still healthy; the log shows no crash', async () => {
    assert.ok(srv.alive(), 'onair is running');
    assert.equal((await request(srv, 'GET', '/')).status, 200);
    jwksSeen = op.jwksRequests;
    assert.ok(jwksSeen >= 1, 'onair fetched the JWKS');
  });
});

// ---- key rotation ---------------------------------------------------------------------

describe('key rotation', { timeout: 60000 }, () => {
  const INTERVAL = 2000;
  let srv, op;
  before(async () => {
    const port = await freePort();
    op = await startProvider({ onairUrl: 'http://127.0.0.1:' + port, keys: { keys: [forge.rsaJwk('rot-1')] } });
    srv = await startOnair(oidcArgs(op, ['--oidc-jwks-min-interval-ms', String(INTERVAL)]), { port });
    await providerReady(srv);
  });
  after(async () => {
    if (srv) await srv.stop();
    if (op) await op.stop();
  });

  test('the provider switches signing keys: the next sign-in works after exactly one JWKS refetch', async () => {
    const a = new Agent('rot');
    await signInOk(a, srv, op, { login: 'ada' });
    const j0 = op.jwksRequests;
    assert.ok(j0 >= 1, 'the JWKS was fetched for the first sign-in');
    await signInOk(a, srv, op, { login: 'ada' });
    assert.equal(op.jwksRequests, j0, 'a known kid needs no fetch');
    await sleep(INTERVAL + 300);
    op.rotate({ keys: [forge.rsaJwk('rot-2')] });
    let seen;
    op.tamper(t => { seen = t; return t; }); // only watches
    try {
      await signInOk(a, srv, op, { login: 'ada' });
    } finally {
      op.tamper(null);
    }
    assert.equal(forge.decode(seen).header.kid, 'rot-2', 'the token was signed with the new key');
    assert.equal(op.jwksRequests, j0 + 1, 'one JWKS refetch for the new kid');
    await signInOk(a, srv, op, { login: 'ada' });
    assert.equal(op.jwksRequests, j0 + 1, 'the new key is cached');
  });

  test('unknown kids refetch the JWKS at most once per oidc-jwks-min-interval-ms', async () => {
    await sleep(INTERVAL + 300);
    const j0 = op.jwksRequests;
    const before0 = counts(srv);
    for (const kid of ['ghost-1', 'ghost-2', 'ghost-3']) {
      op.tamper(t => forge.resign(t, null, { key: forge.rsaJwk(kid) }));
      try {
        const { res } = await oidcSignIn(new Agent(kid), srv, op, { login: 'ada' });
        assertRefused(srv, res, 401, 'bad_kid', before0, kid);
      } finally {
        op.tamper(null);
      }
    }
    assert.equal(op.jwksRequests, j0 + 1, 'three unknown kids within the interval: one refetch');
    await sleep(INTERVAL + 300);
    op.tamper(t => forge.resign(t, null, { key: forge.rsaJwk('ghost-4') }));
    try {
      const { res } = await oidcSignIn(new Agent('ghost-4'), srv, op, { login: 'ada' });
      assertRefused(srv, res, 401, 'bad_kid', before0, 'ghost-4');
    } finally {
      op.tamper(null);
    }
    assert.equal(op.jwksRequests, j0 + 2, 'after the interval an unknown kid refetches again');
    await signInOk(new Agent('after-ghosts'), srv, op, { login: 'ada' });
  });

  test('the provider goes down after startup: the callback is 502 provider_unavailable; local accounts keep working', async () => {
    const a = new Agent('down-late');
    const flow = await toCallback(a, srv, op, { login: 'ada' });
    await op.stop();
    const before0 = counts(srv);
    const res = await a.request(flow.callbackUrl);
    assertRefused(srv, res, 502, 'provider_unavailable', before0, 'token endpoint unreachable');
    const u = await signup(srv);
    assert.equal((await me(srv, u.cookie)).status, 200);
    assert.ok(srv.alive());
  });
});

// ---- provider down or misconfigured at startup ------------------------------------------

describe('provider down or misconfigured at startup', { timeout: 60000 }, () => {
  const started = [];
  let op;
  before(async () => { op = await startProvider({ onairUrl: 'http://127.0.0.1:1' }); });
  after(async () => {
    for (const s of started) await s.stop();
    if (op) await op.stop();
  });

  async function check(label, issuer, logRe) {
    const srv = await startOnair(['--oidc-issuer', issuer, '--oidc-client-id', CLIENT_ID,
      '--oidc-client-secret', CLIENT_SECRET, '--oidc-name', OP_NAME]);
    started.push(srv);
    // Discovery runs at startup; give it a moment to fail ("still
    // contacting" is the state before it has, not the failure).
    let info;
    const until = Date.now() + 30000;
    do {
      info = await authInfo(srv);
      const p = info.providers && info.providers[0];
      if (p && p.available === false && !/still contacting/.test(p.message)) break;
      await sleep(100);
    } while (Date.now() < until);
    assert.equal(info.providers.length, 1, JSON.stringify(info));
    const p = info.providers[0];
    assert.equal(p.id, 'oidc');
    assert.equal(p.name, OP_NAME);
    assert.equal(p.available, false, `${label}: available:false`);
    assert.equal(typeof p.message, 'string');
    assert.ok(p.message.length >= 10, `${label}: a message for a person: ${JSON.stringify(p.message)}`);
    assert.equal(info.signup, true);
    // The log says why.
    assert.match(srv.log(), /oidc|openid|discovery/i, `${label}: the log mentions OIDC:\n${srv.log()}`);
    assert.match(srv.log(), logRe, `${label}: the log gives the reason:\n${srv.log()}`);
    // The start page says so plainly.
    const a = new Agent(label);
    const res = await a.request(srv.url + '/auth/oidc/start');
    assertRefused(srv, res, 503, 'provider_unavailable', null, `${label}: /auth/oidc/start`);
    // Everything else works: local sign-up, sign-in, pages.
    const u = await signup(srv);
    assert.equal((await me(srv, u.cookie)).status, 200);
    assert.equal((await signin(srv, u.name)).status, 200);
    assert.equal((await request(srv, 'GET', '/dashboard', { cookie: u.cookie })).status, 200);
    const ws = await openWs(srv, u.cookie);
    await ws.close();
    assert.ok(srv.alive());
    return srv;
  }

  test('nothing listens at the issuer', async () => {
    const port = await freePort();
    await check('down', `http://127.0.0.1:${port}`, new RegExp(`127\\.0\\.0\\.1:${port}|refused|connect`, 'i'));
  });

  test('the issuer has no discovery document (404)', async () => {
    await check('404', op.url + '/no/such/issuer', /404|not found|discovery/i);
  });

  test('the discovery document names another issuer', async () => {
    // Same provider, reached as "localhost": its document says 127.0.0.1.
    await check('issuer mismatch', op.issuer.replace('127.0.0.1', 'localhost'), /issuer/i);
  });
});

// ---- local sign-up turned off ------------------------------------------------------------

describe('signup = false with a provider that has no end_session_endpoint', { timeout: 60000 }, () => {
  let srv, op;
  before(async () => {
    const port = await freePort();
    op = await startProvider({ onairUrl: 'http://127.0.0.1:' + port, logout: false });
    srv = await startOnair(oidcArgs(op, ['--signup', 'false']), { port });
    await providerReady(srv);
  });
  after(async () => {
    if (srv) await srv.stop();
    if (op) await op.stop();
  });

  test('POST /api/signup is 403 signup_disabled; /api/auth says signup:false; provider sign-in still creates users', async () => {
    const info = await authInfo(srv);
    assert.equal(info.signup, false);
    assert.equal(info.providers[0].available, true);
    const res = await request(srv, 'POST', '/api/signup', { body: { username: uname('nos'), password: PASSWORD } });
    assert.equal(res.status, 403, res.body);
    assert.equal(res.json.error, 'signup_disabled');
    assert.equal(count(srv, 'users'), 0);
    const r = await signInOk(new Agent('nosignup'), srv, op, { login: 'grace' });
    assert.match((await me(srv, r.cookie)).json.user.name, /^Grace[_-]?Hopper$/);
    assert.equal(count(srv, 'users'), 1);
  });

  test('sign-out of a provider session without end_session_endpoint: 204, the cookie is refused', async () => {
    const disc = await (await fetch(op.issuer + '/.well-known/openid-configuration')).json();
    assert.equal(disc.end_session_endpoint, undefined, 'the provider publishes no end_session_endpoint');
    const a = new Agent('no-rp-logout');
    const { cookie } = await signInOk(a, srv, op, { login: 'ada' });
    const before0 = count(srv, 'sessions');
    const out = await a.request(srv.url + '/api/signout', { method: 'POST', headers: { Origin: srv.origin } });
    assert.equal(out.status, 204, out.body);
    assert.equal(count(srv, 'sessions'), before0 - 1);
    assert.equal((await me(srv, cookie)).status, 401);
  });
});

// ---- the tutorial's .env ------------------------------------------------------------------

function waitForPort(port, child, timeoutMs) {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error('onair exited with ' + child.exitCode));
      const c = net.connect(port, '127.0.0.1', () => { c.end(); resolve(); });
      c.on('error', () => {
        if (Date.now() > until) reject(new Error('onair did not listen on ' + port));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

describe('the tutorial\'s .env works unchanged', { timeout: 60000 }, () => {
  let op, proc, srv;
  before(async () => {
    const port = await freePort();
    const url = 'http://127.0.0.1:' + port;
    op = await startProvider({ onairUrl: url, pathPrefix: '/oauth2/default' });
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-test-'));
    // Only the .env names (and where the data and pages are): no --listen,
    // no --oidc-* flags. Nothing else from ONAIR_* leaks in.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ONAIR_') && !k.startsWith('OKTA_') && !k.startsWith('APP_')));
    Object.assign(env, {
      OKTA_BASE_URL: op.url,
      OKTA_CLIENT_ID: CLIENT_ID,
      OKTA_CLIENT_SECRET: CLIENT_SECRET,
      APP_BASE_PORT: String(port),
      APP_BASE_URL: url,
    });
    proc = spawn(BIN, ['--data', dataDir], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    proc.stdout.on('data', d => { out += d; });
    proc.stderr.on('data', d => { out += d; });
    const exited = new Promise(r => proc.once('exit', r));
    await waitForPort(port, proc, 10000);
    srv = {
      url, origin: url, port, dataDir, log: () => out,
      async stop() { if (proc.exitCode === null && proc.signalCode === null) { proc.kill('SIGTERM'); await exited; } },
    };
  });
  after(async () => {
    if (srv) await srv.stop();
    if (op) await op.stop();
  });

  test('APP_BASE_PORT is the port; OKTA_BASE_URL + /oauth2/default is the issuer; the button says Okta; sign-in works', async () => {
    const info = await providerReady(srv);
    assert.deepEqual(info.providers, [{ id: 'oidc', name: 'Okta', available: true, message: '' }]);
    const a = new Agent('okta');
    const r = await signInOk(a, srv, op, { login: 'ada' });
    assert.ok(r.flow.authorizeUrl.startsWith(op.url + '/oauth2/default/auth?'), r.flow.authorizeUrl);
    assert.equal(new URL(r.flow.authorizeUrl).searchParams.get('redirect_uri'), srv.url + '/authorization-code/callback');
    assert.match((await me(srv, r.cookie)).json.user.name, /^Ada[_-]?Lovelace$/);
    // APP_BASE_URL is the base-url: the only origin accepted for a POST.
    const bad = await request(srv, 'POST', '/api/signout', { cookie: r.cookie, origin: 'http://localhost:' + srv.port });
    assert.equal(bad.status, 403);
    const out = await request(srv, 'POST', '/api/signout', { cookie: r.cookie });
    assert.equal(out.status, 200, out.body);
    assert.ok(out.json.logout_url.startsWith(op.url + '/oauth2/default/session/end?'), out.json.logout_url);
    assert.equal(new URL(out.json.logout_url).searchParams.get('post_logout_redirect_uri'), srv.url + '/');
  });
});
