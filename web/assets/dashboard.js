// The dashboard: who is live now, kept current over the WebSocket.
import { $, el, setStatus } from './dom.js';
import { openSocket } from './ws.js';
import { setupShell, setUserName } from './shell.js';
import { formatSince } from './time.js';
import { api } from './api.js';

let me = null;
let rooms = null; // the last list from the server

function liveFor(since) {
  if (!since) return '';
  const d = formatSince(since);
  return d === 'just now' ? 'just went live' : `live for ${d}`;
}

function plural(n, one, many) { return `${n} ${n === 1 ? one : many}`; }

function card(r) {
  const li = el('li', 'room');
  li.dataset.room = r.name;
  const a = el('a', 'room-link');
  a.href = '/view/' + encodeURIComponent(r.name);

  const avatar = el('span', 'avatar', (r.broadcaster || '?').slice(0, 1).toUpperCase());
  avatar.setAttribute('aria-hidden', 'true');
  const body = el('span', 'room-body');
  const name = el('span', 'room-name', r.broadcaster);
  if (r.broadcaster === me) name.append(el('span', 'tag', 'you'));
  const meta = el('span', 'room-meta');
  const viewers = el('span', 'room-viewers', plural(r.viewers, 'viewer', 'viewers'));
  viewers.dataset.viewers = String(r.viewers);
  const since = el('span', 'room-since', liveFor(r.since));
  since.dataset.since = String(r.since || '');
  meta.append(viewers, since);
  body.append(name);
  if (typeof r.title === 'string' && r.title) body.append(el('span', 'room-title', r.title));
  body.append(meta);
  const reconnecting = r.state === 'reconnecting';
  const badge = el('span', 'live-badge', reconnecting ? 'RECONNECTING' : 'LIVE');
  badge.dataset.state = reconnecting ? 'reconnecting' : 'live';
  a.append(avatar, body, badge);
  li.append(a);
  return li;
}

function valid(r) {
  return r && typeof r.name === 'string' && r.name && typeof r.broadcaster === 'string'
    && Number.isFinite(r.viewers);
}

function render() {
  $('loading').hidden = rooms !== null;
  if (rooms === null) return;
  const list = rooms.filter(valid).sort((a, b) => b.viewers - a.viewers || (b.since || 0) - (a.since || 0));
  $('rooms').replaceChildren(...list.map(card));
  $('empty').hidden = list.length > 0;
}

// Refresh "live for 5 min" now and then.
setInterval(() => {
  for (const s of document.querySelectorAll('.room-since')) {
    const ts = Number(s.dataset.since);
    if (ts) s.textContent = liveFor(ts);
  }
}, 30000);

setupShell();
// Admins get a way to the admin page.
api('GET', '/api/me').then(r => { if (r.ok && r.data && r.data.user && r.data.user.admin) $('admin-link').hidden = false; });
const socket = openSocket({
  reconnect: true,
  onOpen() {
    setStatus($('conn'), '');
  },
  onMessage(m) {
    switch (m.type) {
      case 'hello':
        me = m.user;
        setUserName(m.user);
        socket.send({ type: 'rooms.watch' });
        break;
      case 'rooms':
        if (Array.isArray(m.rooms)) { rooms = m.rooms; render(); }
        break;
      case 'error':
        setStatus($('conn'), m.message || m.code, 'error');
        break;
    }
  },
  onClose({ willRetry }) {
    if (willRetry) setStatus($('conn'), 'Connection lost — reconnecting…', 'warn');
  },
});
