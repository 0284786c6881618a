// The chat panel shared by the broadcast and view pages. Every piece of user
// text goes into the page with textContent.
import { el } from './dom.js';
import { formatClock, formatFull, isoTime } from './time.js';

export const MAX_CHARS = 500;
const MAX_SHOWN = 300;

function chars(s) { return [...s].length; }

// root holds: .chat-list (ul), .chat-form (form) with .chat-input and
// .chat-send, .chat-count and .chat-status. send(obj) sends a WebSocket message
// and returns false when the socket is not open.
export function createChat(root, { send }) {
  const list = root.querySelector('.chat-list');
  const form = root.querySelector('.chat-form');
  const input = root.querySelector('.chat-input');
  const button = root.querySelector('.chat-send');
  const count = root.querySelector('.chat-count');
  const status = root.querySelector('.chat-status');
  const empty = root.querySelector('.chat-empty');
  let room = null;
  let me = null;
  let broadcaster = null;
  let lastSent = '';
  let statusTimer = null;
  let tooLongShown = false; // the status says the message is too long
  const seen = new Set();

  function setStatusText(text, kind, ms) {
    clearTimeout(statusTimer);
    status.textContent = text || '';
    status.dataset.kind = kind || '';
    status.hidden = !text;
    if (text && ms) statusTimer = setTimeout(() => setStatusText(''), ms);
  }

  function refreshInput() {
    const n = chars(input.value);
    const over = n > MAX_CHARS;
    count.textContent = `${n}/${MAX_CHARS}`;
    count.hidden = n < MAX_CHARS - 100;
    count.dataset.kind = over ? 'error' : '';
    button.disabled = !room || over || input.value.trim() === '';
    // The red counter alone does not say why Send is off: say it in words.
    if (over) {
      const extra = n - MAX_CHARS;
      setStatusText(`A message can be at most ${MAX_CHARS} characters: remove ${extra} ` +
        `character${extra === 1 ? '' : 's'} to send it.`, 'error');
      tooLongShown = true;
    } else if (tooLongShown) {
      tooLongShown = false;
      setStatusText('');
    }
  }

  function nearBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 60;
  }

  function render(m) {
    const li = el('li', 'chat-msg');
    if (m.user === me) li.classList.add('mine');
    if (m.user === broadcaster) li.classList.add('from-broadcaster');
    const time = el('time', 'chat-time', formatClock(m.ts));
    time.dateTime = isoTime(m.ts);
    time.title = formatFull(m.ts);
    const user = el('span', 'chat-user', m.user);
    if (m.user === broadcaster) user.title = 'Broadcaster';
    const text = el('span', 'chat-text', m.text);
    li.append(time, user, text);
    return li;
  }

  function add(m) {
    if (!m || typeof m.user !== 'string' || typeof m.text !== 'string') return;
    if (m.id !== undefined && m.id !== null) {
      if (seen.has(m.id)) return;
      seen.add(m.id);
    }
    if (m.user === me && m.text === lastSent) lastSent = '';
    const stick = nearBottom();
    list.append(render(m));
    while (list.children.length > MAX_SHOWN) list.firstElementChild.remove();
    if (empty) empty.hidden = true;
    if (stick || m.user === me) list.scrollTop = list.scrollHeight;
  }

  form.addEventListener('submit', ev => {
    ev.preventDefault();
    const text = input.value;
    if (!room || text.trim() === '') return;
    if (chars(text) > MAX_CHARS) {
      setStatusText(`Messages can be at most ${MAX_CHARS} characters.`, 'error', 4000);
      return;
    }
    if (!send({ type: 'chat.send', room, text })) {
      setStatusText('Not connected — your message was not sent.', 'error', 4000);
      return;
    }
    lastSent = text;
    input.value = '';
    refreshInput();
    setStatusText('');
  });
  input.addEventListener('input', refreshInput);

  refreshInput();

  return {
    // Opens the chat for room; history is the server's list, oldest first.
    open(roomName, { user, broadcasterName, history } = {}) {
      room = roomName;
      if (user !== undefined) me = user;
      if (broadcasterName !== undefined) broadcaster = broadcasterName;
      if (Array.isArray(history)) history.forEach(add);
      input.disabled = false;
      input.placeholder = 'Say something…';
      setStatusText('');
      refreshInput();
      list.scrollTop = list.scrollHeight;
    },
    setUser(name) { me = name; },
    add,
    // Closes the chat (messages stay visible) and says why.
    close(reason) {
      room = null;
      input.disabled = true;
      input.placeholder = reason || 'Chat is closed';
      refreshInput();
    },
    clear() {
      list.replaceChildren();
      seen.clear();
      if (empty) empty.hidden = false;
    },
    // A server error about chat.send: show it, give back the unsent text.
    error(message) {
      setStatusText(message, 'error', 6000);
      if (lastSent && input.value === '' && room) {
        input.value = lastSent;
        refreshInput();
      }
      lastSent = '';
    },
  };
}
