// The admin page: live rooms with who watches (end one), and the users
// (disable, enable, make admin). Everything goes through the JSON API
// (docs/protocol.md, "Admin"); this page only shows it.
import { api, signInURL } from './api.js';
import { $, el, setStatus } from './dom.js';
import { setupShell, setUserName } from './shell.js';
import { formatSince } from './time.js';

const status = $('status');
let me = null;

function button(text, cls, onClick) {
  const b = el('button', `btn small ${cls}`, text);
  b.type = 'button';
  b.addEventListener('click', async () => {
    b.disabled = true;
    await onClick();
    b.disabled = false;
  });
  return b;
}

async function act(method, path, body, done) {
  const r = await api(method, path, body);
  if (!r.ok) {
    setStatus(status, r.message, 'error');
    return;
  }
  setStatus(status, done, 'ok');
  await load();
}

function roomRow(r) {
  const tr = el('tr');
  tr.dataset.room = r.name;
  const watchers = el('td', 'viewers', String(r.viewers));
  if (r.viewer_names && r.viewer_names.length) watchers.title = r.viewer_names.join(', ');
  const names = el('span', 'muted viewer-names', r.viewer_names && r.viewer_names.length ? ` (${r.viewer_names.join(', ')})` : '');
  watchers.append(names);
  const end = button('End', 'danger', () => act('POST', '/api/admin/rooms/end', { room: r.name }, `${r.name}'s room has ended.`));
  tr.append(el('td', '', r.broadcaster), el('td', '', r.title || ''), watchers,
    el('td', '', formatSince(r.since)), el('td', 'actions'));
  tr.lastChild.append(end);
  return tr;
}

function userRow(u) {
  const tr = el('tr');
  tr.dataset.user = u.name;
  const actions = el('td', 'actions');
  if (u.name !== me) {
    actions.append(u.disabled
      ? button('Enable', '', () => act('POST', '/api/admin/users/enable', { user: u.name }, `${u.name} may sign in again.`))
      : button('Disable', 'danger', () => act('POST', '/api/admin/users/disable', { user: u.name }, `${u.name} is disabled and signed out.`)));
    actions.append(u.admin
      ? button('Remove admin', 'ghost', () => act('POST', '/api/admin/users/admin', { user: u.name, admin: false }, `${u.name} is no longer an admin.`))
      : button('Make admin', 'ghost', () => act('POST', '/api/admin/users/admin', { user: u.name, admin: true }, `${u.name} is an admin now.`)));
  }
  tr.append(el('td', '', u.name), el('td', 'role', u.admin ? 'admin' : 'user'),
    el('td', 'account', u.disabled ? 'disabled' : 'active'), actions);
  return tr;
}

async function load() {
  const [rooms, users] = await Promise.all([api('GET', '/api/admin/rooms'), api('GET', '/api/admin/users')]);
  if (rooms.status === 401 || users.status === 401) { location.assign(signInURL()); return; }
  if (!rooms.ok || !users.ok) {
    setStatus(status, (rooms.ok ? users : rooms).message, 'error');
    return;
  }
  const list = Array.isArray(rooms.data.rooms) ? rooms.data.rooms : [];
  $('rooms').replaceChildren(...list.map(roomRow));
  $('rooms-table').hidden = list.length === 0;
  $('no-rooms').hidden = list.length !== 0;
  $('users').replaceChildren(...(Array.isArray(users.data.users) ? users.data.users : []).map(userRow));
}

setupShell();
$('refresh').addEventListener('click', () => { setStatus(status, ''); load(); });
api('GET', '/api/me').then(r => {
  if (r.ok && r.data && r.data.user) {
    me = r.data.user.name;
    setUserName(me);
  }
  load();
});
