// The front page: sign in and sign up.
import { api } from './api.js';
import { $ } from './dom.js';

// Where to go after signing in: the `next` parameter if it is a path on this
// site, else the dashboard.
function destination() {
  const next = new URLSearchParams(location.search).get('next');
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/dashboard';
  try {
    const u = new URL(next, location.origin);
    if (u.origin !== location.origin) return '/dashboard';
    return u.pathname + u.search + u.hash;
  } catch {
    return '/dashboard';
  }
}

function showError(box, text) {
  box.textContent = text;
  box.hidden = !text;
}

function selectTab(which) {
  for (const name of ['signin', 'signup']) {
    const on = name === which;
    $(`tab-${name}`).setAttribute('aria-selected', String(on));
    $(name).hidden = !on;
  }
  $(`${which}-username`).focus();
}

function messageFor(r) {
  if (r.error === 'throttled' || r.status === 429) {
    if (/try again/i.test(r.message)) return r.message;
    const wait = r.retryAfter;
    const again = wait === null ? 'Please wait a little and try again.'
      : `Try again in ${wait} second${wait === 1 ? '' : 's'}.`;
    return `${r.message} ${again}`;
  }
  return r.message;
}

function localCheck(kind, username, password) {
  if (!username) return 'Enter a username.';
  if (!password) return 'Enter a password.';
  if (kind === 'signup') {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(username)) return 'Usernames are 1–32 letters, digits, “_” or “-”.';
    if (new TextEncoder().encode(password).length < 8) return 'Passwords need at least 8 characters.';
  }
  return '';
}

function wire(kind) {
  const form = $(kind);
  const box = $(`${kind}-error`);
  const button = form.querySelector('button[type=submit]');
  const label = button.textContent;
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const username = $(`${kind}-username`).value.trim();
    const password = $(`${kind}-password`).value;
    const problem = localCheck(kind, username, password);
    if (problem) { showError(box, problem); return; }
    showError(box, '');
    button.disabled = true;
    button.textContent = kind === 'signin' ? 'Signing in…' : 'Creating account…';
    const r = await api('POST', `/api/${kind}`, { username, password });
    if (r.ok) {
      location.assign(destination());
      return;
    }
    button.disabled = false;
    button.textContent = label;
    showError(box, messageFor(r));
  });
}

// Sign-in providers (OpenID Connect) and whether local sign-up is open.
async function loadProviders() {
  const r = await api('GET', '/api/auth');
  if (!r.ok || !r.data) return;
  const box = $('providers');
  box.replaceChildren();
  for (const p of Array.isArray(r.data.providers) ? r.data.providers : []) {
    if (typeof p.name !== 'string') continue;
    if (p.available) {
      const a = document.createElement('a');
      a.className = 'btn wide provider';
      a.href = '/auth/oidc/start?next=' + encodeURIComponent(destination());
      a.textContent = `Sign in with ${p.name}`;
      box.append(a);
    } else {
      const msg = document.createElement('p');
      msg.className = 'form-error provider-down';
      msg.setAttribute('role', 'alert');
      msg.textContent = `Sign-in with ${p.name} is unavailable right now: ${p.message || 'the provider did not answer.'}`;
      box.append(msg);
    }
  }
  if (box.childElementCount) {
    const or = document.createElement('p');
    or.className = 'providers-or muted';
    or.textContent = 'or with an onair account';
    box.append(or);
  }
  box.hidden = box.childElementCount === 0;
  if (r.data.signup === false) {
    $('tab-signup').hidden = true;
    selectTab('signin');
  }
}

$('tab-signin').addEventListener('click', () => selectTab('signin'));
$('tab-signup').addEventListener('click', () => selectTab('signup'));
if (location.hash === '#signup') selectTab('signup');
wire('signin');
wire('signup');
loadProviders();

// Coming from a shared link (next=/view/<room>): say whose stream waits
// behind the form, and whether it is live.
async function showWhereTo() {
  const m = /^\/view\/([A-Za-z0-9_-]{1,32})$/.exec(destination());
  if (!m) return;
  const r = await api('GET', `/api/rooms/${m[1]}`);
  const room = r.ok && r.data && r.data.room;
  if (!room) return;
  const live = room.state !== 'offline';
  $('auth-for').textContent = live
    ? `Sign in to watch ${room.name}, live now${room.title ? `: “${room.title}”` : ''}.`
    : `Sign in to watch ${room.name} (offline right now; the stream starts when they go live).`;
  $('auth-for').hidden = false;
}
showWhereTo();
