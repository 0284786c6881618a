// The one WebSocket to /ws: JSON messages in and out, optional reconnect
// with backoff. A handshake the server refuses because the session is gone
// sends the user to the sign-in page.
//
// A network that silently drops everything (Wi-Fi gone, a laptop lid
// closed) never closes a WebSocket by itself, and browsers hide the
// server's pings: the page sends its own ping every PING_MS and counts the
// connection lost when nothing (pong or anything else) came back for
// DEAD_MS. A connection attempt that has not opened in DEAD_MS is given up
// and tried again.
//
// In a cluster (docs/cluster.md) hello names the other nodes, least loaded
// first: when the node this page talks to is gone (the connection dropped,
// or a new one failed), the next attempt goes to the next node at once, and
// only a whole round of failures waits before the next round.
const PING_MS = 2500;
const DEAD_MS = 7000;
const NEXT_NODE_MS = 250;
import { api, signInURL } from './api.js';

// base: another node's URL (http[s]://host[:port]), or null for this page's own.
function wsURL(base) {
  if (base) return base.replace(/^http/, 'ws').replace(/\/+$/, '') + '/ws';
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
}

// handlers: onMessage(msg), onOpen(), onClose({ code, wasOpen, willRetry }).
// adopt: a socket a page opened before its modules ran (view-boot.js's
// window.onairBoot): used for the first connection if it is not closed, its
// messages so far handed to onMessage first, in order.
export function openSocket({ onMessage, onOpen, onClose, reconnect = false, adopt = null }) {
  let ws = null;
  let stopped = false;
  let attempt = 0;
  let timer = null;
  let pinger = null;
  let nodes = [null]; // where to connect: this page's own node first, then hello's others
  let at = 0;         // the one used now
  let tried = 0;      // nodes that failed in a row

  // hello's nodes: the one answering stays first, this page's own node is
  // kept, the others follow as hello lists them.
  function learnNodes(list) {
    if (!Array.isArray(list)) return;
    const urls = list.filter(u => typeof u === 'string' && /^https?:\/\/[^/]+\/?$/.test(u))
      .map(u => u.replace(/\/+$/, ''));
    const here = nodes[at];
    nodes = [here, ...[null, ...urls].filter(u => u !== here && u !== location.origin)];
    at = 0;
  }

  function connect() {
    let wasOpen = false;
    let heard = Date.now();
    const early = adopt && adopt.ws.readyState <= WebSocket.OPEN ? adopt : null;
    const backlog = adopt ? adopt.take() : [];
    adopt = null;
    const mine = early ? early.ws : new WebSocket(wsURL(nodes[at]));
    ws = mine;
    let ended = false;
    // The connection is over (closed, or given up as dead): once.
    const end = ev => {
      if (ended) return;
      ended = true;
      clearInterval(pinger);
      if (ws === mine) closed(ev);
    };
    pinger = setInterval(() => {
      if (Date.now() - heard > DEAD_MS) {
        try { mine.close(4000, 'no answer'); } catch { /* already closing */ }
        end({ code: 1006 });
      } else if (mine.readyState === WebSocket.OPEN) {
        mine.send('{"type":"ping"}');
      }
    }, PING_MS);
    const opened = () => {
      wasOpen = true;
      heard = Date.now();
      attempt = 0;
      tried = 0;
      if (onOpen) onOpen();
    };
    const received = data => {
      heard = Date.now();
      if (ws !== mine || typeof data !== 'string') return;
      let msg;
      try { msg = JSON.parse(data); } catch { return; }
      if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string' || msg.type === 'pong') return;
      if (msg.type === 'hello') learnNodes(msg.nodes);
      onMessage(msg);
    };
    mine.addEventListener('open', opened);
    mine.addEventListener('message', ev => received(ev.data));
    mine.addEventListener('close', ev => end(ev));
    // What came before: once openSocket() has returned (the caller's handle
    // is set), and before anything that comes next (a microtask).
    if (early) {
      Promise.resolve().then(() => {
        if (mine.readyState === WebSocket.OPEN || backlog.length) opened();
        for (const data of backlog) received(data);
      });
    }

    async function closed(ev) {
      ws = null;
      if (stopped) return;
      if (!wasOpen) {
        // The handshake failed: maybe signed out (401), maybe the server is down.
        const me = await api('GET', '/api/me', undefined, { timeoutMs: 5000 });
        if (me.status === 401) { location.assign(signInURL()); return; }
      }
      const willRetry = reconnect && !stopped;
      if (onClose) onClose({ code: ev.code, wasOpen, willRetry });
      if (willRetry) {
        // Another node, if there is one not tried in this round: at once.
        tried++;
        if (nodes.length > 1) at = (at + 1) % nodes.length;
        let delay = Math.min(10000, 500 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
        if (nodes.length > 1 && tried < nodes.length) delay = NEXT_NODE_MS;
        else { attempt++; tried = 0; }
        timer = setTimeout(connect, delay);
      }
    }
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
      clearInterval(pinger);
      if (ws) ws.close(1000);
    },
  };
}
