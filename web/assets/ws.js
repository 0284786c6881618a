// The one WebSocket to /ws: JSON messages in and out, optional reconnect
// with backoff. A handshake the server refuses because the session is gone
// sends the user to the sign-in page.
import { api, signInURL } from './api.js';

function wsURL() {
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
}

// handlers: onMessage(msg), onOpen(), onClose({ code, wasOpen, willRetry }).
export function openSocket({ onMessage, onOpen, onClose, reconnect = false }) {
  let ws = null;
  let stopped = false;
  let attempt = 0;
  let timer = null;

  function connect() {
    let wasOpen = false;
    ws = new WebSocket(wsURL());
    ws.addEventListener('open', () => {
      wasOpen = true;
      attempt = 0;
      if (onOpen) onOpen();
    });
    ws.addEventListener('message', ev => {
      if (typeof ev.data !== 'string') return;
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg && typeof msg === 'object' && typeof msg.type === 'string') onMessage(msg);
    });
    ws.addEventListener('close', async ev => {
      ws = null;
      if (stopped) return;
      if (!wasOpen) {
        // The handshake failed: maybe signed out (401), maybe the server is down.
        const me = await api('GET', '/api/me');
        if (me.status === 401) { location.assign(signInURL()); return; }
      }
      const willRetry = reconnect && !stopped;
      if (onClose) onClose({ code: ev.code, wasOpen, willRetry });
      if (willRetry) {
        const delay = Math.min(10000, 500 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
        attempt++;
        timer = setTimeout(connect, delay);
      }
    });
  }
  connect();

  return {
    // Sends one message; false if the socket is not open.
    send(obj) {
      if (!ws || ws.readyState !== WebSocket.OPEN) return false;
      ws.send(JSON.stringify(obj));
      return true;
    },
    get open() { return !!ws && ws.readyState === WebSocket.OPEN; },
    close() {
      stopped = true;
      clearTimeout(timer);
      if (ws) ws.close(1000);
    },
  };
}
