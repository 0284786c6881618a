// Guessing passwords is slowed without locking the owner out
// (docs/operations.md, "Limits"): failed sign-ins are throttled per
// address, per name at an address, and per name for browsers that do not
// hold the name's device cookie (set at every successful sign-in, OWASP's
// device cookies). An attacker spread over many addresses, retrying as
// soon as it is let, is slowed; the owner's browser signs in all along.
// The addresses are X-Forwarded-For values from a trusted proxy (onair's
// peer, 127.0.0.1), as behind nginx.
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startOnair } = require('../lib/server.js');
const { request, cookieFrom, uname, sleep, PASSWORD, COOKIE } = require('./util.js');

const DEVICE = 'onair_device';

function deviceFrom(res) {
  for (const line of res.headers['set-cookie'] || []) {
    const m = new RegExp(`^${DEVICE}=([^;]*)`).exec(line);
    if (m) return { value: m[1], line };
  }
  return undefined;
}

// A sign-in from address ip, with the browser's device cookie if any.
async function signinFrom(srv, name, password, ip, device) {
  const headers = { 'X-Forwarded-For': ip };
  if (device) headers.Cookie = `${DEVICE}=${device}`;
  const res = await request(srv, 'POST', '/api/signin', { body: { username: name, password }, headers });
  return { status: res.status, res, session: cookieFrom(res), device: deviceFrom(res) };
}

describe('sign-in throttling', { timeout: 120000 }, () => {
  let srv;
  before(async () => { srv = await startOnair(['--trusted-proxies', '127.0.0.1']); });
  after(async () => { if (srv) await srv.stop(); });

  test('sign-up and sign-in set a device cookie for the name (HttpOnly, a year)', async () => {
    const name = uname('dev');
    const up = await request(srv, 'POST', '/api/signup', { body: { username: name, password: PASSWORD } });
    assert.equal(up.status, 201);
    const d = deviceFrom(up);
    assert.ok(d, 'a device cookie at sign-up');
    assert.match(d.value, /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/);
    assert.match(d.line, /Max-Age=31536000/);
    assert.match(d.line, /HttpOnly/);
    const again = await signinFrom(srv, name, PASSWORD, '203.0.113.1');
    assert.equal(again.status, 200);
    assert.ok(again.device && again.device.value !== d.value, 'a new device cookie at each sign-in');
  });

  test('the owner of a name under attack from many addresses signs in; the attacker is slowed', async () => {
    const owner = uname('owner');
    const up = await request(srv, 'POST', '/api/signup', { body: { username: owner, password: PASSWORD } });
    const device = deviceFrom(up).value;
    // The attacker guesses from a new address each time and retries at
    // once whenever it is told to wait.
    const statuses = [];
    for (let i = 0; i < 40; i++) {
      const r = await signinFrom(srv, owner, `guess ${i}`, `198.51.100.${i + 1}`);
      statuses.push(r.status);
      assert.ok(r.status === 401 || r.status === 429, `attempt ${i}: ${r.status}`);
      if (r.status === 429) assert.ok(Number(r.res.headers['retry-after']) >= 1, 'Retry-After');
    }
    const guessed = statuses.filter(s => s === 401).length;
    assert.ok(guessed < 20, `the attacker got ${guessed} of 40 guesses checked`);
    assert.ok(statuses.slice(-5).every(s => s === 429), `the last guesses wait: ${statuses.slice(-5)}`);
    // A browser without the name's device cookie is slowed too, right
    // password or not: onair cannot tell it from the attacker.
    const stranger = await signinFrom(srv, owner, PASSWORD, '203.0.113.50');
    assert.equal(stranger.status, 429, 'an unknown browser on the attacked name waits');
    // The owner's browser signs in, from an address never seen before.
    const mine = await signinFrom(srv, owner, PASSWORD, '203.0.113.51', device);
    assert.equal(mine.status, 200, `owner with the device cookie: ${mine.res.body}`);
    assert.ok(mine.session, 'a session');
    // Again and again while the attack goes on: never locked out.
    for (let i = 0; i < 3; i++) {
      await signinFrom(srv, owner, `more guessing ${i}`, `198.51.100.${100 + i}`);
      const r = await signinFrom(srv, owner, PASSWORD, `203.0.113.${60 + i}`, mine.device.value);
      assert.equal(r.status, 200, `owner during the attack, round ${i}`);
    }
  });

  test('a device cookie counts only for its own name and only when signed by onair', async () => {
    const victim = uname('victim');
    await request(srv, 'POST', '/api/signup', { body: { username: victim, password: PASSWORD } });
    const other = uname('other');
    const otherDevice = deviceFrom(await request(srv, 'POST', '/api/signup',
      { body: { username: other, password: PASSWORD } })).value;
    for (let i = 0; i < 15; i++) await signinFrom(srv, victim, `guess ${i}`, `192.0.2.${i + 1}`);
    const forged = otherDevice.slice(0, 23) + (otherDevice[23] === 'A' ? 'B' : 'A') + otherDevice.slice(24);
    for (const [what, cookie] of [['another name\'s cookie', otherDevice], ['a forged cookie', forged],
      ['garbage', 'x'.repeat(45)]]) {
      const r = await signinFrom(srv, victim, PASSWORD, '203.0.113.70', cookie);
      assert.equal(r.status, 429, `${what} does not exempt from the name's throttle`);
    }
  });

  test('guesses from one browser with the device cookie are throttled on that device', async () => {
    const name = uname('dev2');
    const device = deviceFrom(await request(srv, 'POST', '/api/signup',
      { body: { username: name, password: PASSWORD } })).value;
    // A stolen device cookie gives 5 guesses, from any addresses, then waits.
    for (let i = 0; i < 5; i++)
      assert.equal((await signinFrom(srv, name, `wrong ${i}`, `203.0.113.${80 + i}`, device)).status, 401);
    const sixth = await signinFrom(srv, name, PASSWORD, '203.0.113.90', device);
    assert.equal(sixth.status, 429);
    assert.ok(Number(sixth.res.headers['retry-after']) >= 1);
  });

  test('one address guessing many names is throttled by its address', async () => {
    for (let i = 0; i < 20; i++)
      assert.equal((await signinFrom(srv, uname('n'), 'nope nope', '198.51.100.200')).status, 401);
    const r = await signinFrom(srv, uname('n'), 'nope nope', '198.51.100.200');
    assert.equal(r.status, 429);
    assert.equal(r.res.json.error, 'throttled');
    const elsewhere = await signinFrom(srv, uname('n'), 'nope nope', '198.51.100.201');
    assert.equal(elsewhere.status, 401, 'another address is not');
  });

  test('the device key survives a restart: the owner is still recognised', async () => {
    const name = uname('keep');
    const device = deviceFrom(await request(srv, 'POST', '/api/signup',
      { body: { username: name, password: PASSWORD } })).value;
    const dataDir = srv.dataDir;
    await srv.stop();
    srv = await startOnair(['--trusted-proxies', '127.0.0.1'], { dataDir });
    for (let i = 0; i < 12; i++) await signinFrom(srv, name, `guess ${i}`, `192.0.2.${100 + i}`);
    assert.equal((await signinFrom(srv, name, PASSWORD, '203.0.113.99')).status, 429, 'unknown browser waits');
    assert.equal((await signinFrom(srv, name, PASSWORD, '203.0.113.98', device)).status, 200, 'the owner does not');
    await sleep(10);
  });
});

// COOKIE is the session cookie; the device cookie never stands in for it.
test('a device cookie is no session', async () => {
  const srv = await startOnair();
  try {
    const name = uname('nos');
    const up = await request(srv, 'POST', '/api/signup', { body: { username: name, password: PASSWORD } });
    const device = deviceFrom(up).value;
    const res = await request(srv, 'GET', '/api/me', { headers: { Cookie: `${DEVICE}=${device}` } });
    assert.equal(res.status, 401);
    const both = await request(srv, 'GET', '/api/me', { headers: { Cookie: `${COOKIE}=${device}` } });
    assert.equal(both.status, 401);
  } finally { await srv.stop(); }
});

// A flood of sign-ups (each a 64 MiB Argon2id hash) must not hold up the
// owner's sign-in: checks are taken before new hashes, so the sign-in waits
// for at most the hashes already running (2), never for the queue. The
// bound is counted in hashes, not in seconds.
describe('a sign-up flood', { timeout: 180000 }, () => {
  let srv;
  before(async () => { srv = await startOnair(['--trusted-proxies', '127.0.0.1'], { signupLimits: true }); });
  after(async () => { if (srv) await srv.stop(); });

  async function waiting(kind) {
    const res = await request(srv, 'GET', '/metrics');
    const m = new RegExp(`^onair_password_hashes_waiting\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(res.body);
    return m ? Number(m[1]) : -1;
  }

  test('sign-ups are limited per address and in all; a sign-in overtakes the queued ones', async () => {
    const owner = uname('busy');
    assert.equal((await request(srv, 'POST', '/api/signup',
      { body: { username: owner, password: PASSWORD }, headers: { 'X-Forwarded-For': '192.0.2.1' } })).status, 201);
    // One address: 5 accounts, then 429 (the owner's sign-up was one).
    const one = [];
    for (let i = 0; i < 5; i++) {
      one.push((await request(srv, 'POST', '/api/signup',
        { body: { username: uname('same'), password: PASSWORD }, headers: { 'X-Forwarded-For': '192.0.2.1' } })));
    }
    assert.deepEqual(one.map(r => r.status), [201, 201, 201, 201, 429]);
    assert.equal(one[4].json.error, 'throttled');
    assert.match(one[4].json.message, /from your address/);
    assert.ok(Number(one[4].headers['retry-after']) > 60, one[4].headers['retry-after']);

    // Many addresses at once: 30 in all are let through at once (the
    // default signup-per-sec 2, a burst of 15 s), then 429.
    const done = [];
    const flood = Array.from({ length: 60 }, (_, i) => request(srv, 'POST', '/api/signup', {
      body: { username: uname('flood'), password: PASSWORD }, headers: { 'X-Forwarded-For': `198.18.0.${i + 1}` },
    }).then(r => { done.push(r.status === 201 ? 'signup' : `signup-${r.status}`); return r; }));
    while (await waiting('signup') < 10) await sleep(20);
    const signin = request(srv, 'POST', '/api/signin', {
      body: { username: owner, password: PASSWORD }, headers: { 'X-Forwarded-For': '192.0.2.1' },
    }).then(r => { done.push('signin'); return r; });
    const [res, ...floodRes] = await Promise.all([signin, ...flood]);
    assert.equal(res.status, 200, res.body);
    const statuses = floodRes.map(r => r.status);
    const created = statuses.filter(s => s === 201).length;
    const limited = floodRes.filter(r => r.status === 429);
    assert.ok(created >= 20 && created <= 30, `accounts made in the flood: ${created}`);
    assert.ok(limited.length >= 30, `refused: ${limited.length}`);
    assert.match(limited[0].json.message, /at the moment/);
    const before = done.indexOf('signin');
    const createdBefore = done.slice(0, before).filter(d => d === 'signup').length;
    const createdAfter = done.slice(before + 1).filter(d => d === 'signup').length;
    assert.ok(createdBefore <= 4, `sign-ups finished before the sign-in: ${createdBefore} (${done.join(' ')})`);
    assert.ok(createdAfter >= 10, `the sign-in did overtake a queue: ${createdAfter} after it`);
  });
});
