// The broadcaster's page: camera preview and device choice, go live, end,
// viewer count and chat. Media goes through media.js only.
import { $, setStatus } from './dom.js';
import { api } from './api.js';
import { openSocket } from './ws.js';
import { setupShell, setUserName } from './shell.js';
import { createChat } from './chat.js';
import { createPublisher, setIceServers } from './media.js';
import { formatElapsed } from './time.js';

const video = $('preview');
const cameraSel = $('camera');
const micSel = $('mic');
const goLive = $('golive');
const endBtn = $('end');
const status = $('status');

let stream = null;      // the local camera/mic stream
let me = null;          // the signed-in user, from hello
let room = null;        // our room while live
let publisher = null;
let liveSince = 0;
let elapsedTimer = null;
let startTimer = null;
// While the connection to onair is gone during a broadcast: { at, room,
// restart, end }. onair keeps the room (viewers wait) for graceMs; the page
// takes it back (live.resume) as soon as it is connected again.
let away = null;
let restarting = false;  // onair said it is restarting (the connection's end is expected)
let graceMs = 30000;     // from hello: how long onair keeps a dropped broadcast
let goLiveLabel = 'Go live'; // "Go live again" after a broadcast a drop or restart ended
let uploadTimer = null;
let uploadRetries = 0;
let siteURL = location.origin; // links to share: onair's base-url, else the address this browser used
let encoder = false;    // the room is live from the user's encoder (OBS over WHIP): this page shows it

const chat = createChat($('chat'), { send: m => socket.send(m) });

// ---- camera and microphone -------------------------------------------------

function describeMediaError(e) {
  const name = e && e.name;
  if (name === 'NotAllowedError' || name === 'PermissionDeniedError' || name === 'SecurityError') {
    return ['Camera and microphone access was denied.',
      'onair needs your permission to use the camera and microphone. Allow access for this site in your browser (the camera icon in the address bar or the site settings), then press “Try again”.'];
  }
  if (name === 'NotFoundError' || name === 'DevicesNotFoundError' || name === 'OverconstrainedError') {
    return ['No camera or microphone was found.',
      'Connect a camera or microphone (or check that it is switched on), then press “Try again”.'];
  }
  if (name === 'NotReadableError' || name === 'TrackStartError' || name === 'AbortError') {
    return ['The camera or microphone could not be started.',
      'Another app may be using it. Close that app, then press “Try again”.'];
  }
  if (name === 'NoMediaDevices') {
    return ['This browser cannot use a camera on this page.',
      'Camera access needs a secure connection (https) and a current browser.'];
  }
  return ['The camera could not be started.', (e && e.message) || String(e)];
}

function showMediaError(e) {
  const [title, text] = describeMediaError(e);
  $('media-error-title').textContent = title;
  $('media-error-text').textContent = text;
  $('media-error').hidden = false;
  $('media-error').dataset.error = (e && e.name) || 'Error';
  $('preview-msg').textContent = 'No camera';
  $('preview-msg').hidden = false;
}

function videoConstraints(id) {
  const c = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
  if (id) c.deviceId = { exact: id };
  return c;
}
function audioConstraints(id) {
  const c = { echoCancellation: true, noiseSuppression: true };
  if (id) c.deviceId = { exact: id };
  return c;
}

// Asks for camera and microphone; with only one of them, uses that one.
async function acquire() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw Object.assign(new Error('no mediaDevices'), { name: 'NoMediaDevices' });
  }
  const gum = c => navigator.mediaDevices.getUserMedia(c);
  try {
    return await gum({ video: videoConstraints(), audio: audioConstraints() });
  } catch (first) {
    if (first.name !== 'NotFoundError' && first.name !== 'OverconstrainedError' && first.name !== 'NotReadableError') throw first;
    for (const c of [{ video: videoConstraints() }, { audio: audioConstraints() }]) {
      try { return await gum(c); } catch { /* try the next */ }
    }
    throw first;
  }
}

function showStream() {
  video.srcObject = stream;
  const hasVideo = stream.getVideoTracks().length > 0;
  $('preview-msg').textContent = hasVideo ? '' : 'Microphone only — no camera';
  $('preview-msg').hidden = hasVideo;
  video.play().catch(() => {});
}

async function startPreview() {
  $('media-error').hidden = true;
  $('preview-msg').textContent = 'Starting camera…';
  $('preview-msg').hidden = false;
  try {
    stream = await acquire();
  } catch (e) {
    stream = null;
    showMediaError(e);
    updateButtons();
    return;
  }
  showStream();
  const missing = stream.getAudioTracks().length === 0 ? 'No microphone found: you will go live without sound.'
    : stream.getVideoTracks().length === 0 ? 'No camera found: you will go live with sound only.' : '';
  if (missing) setStatus(status, missing, 'warn');
  await refreshDevices();
  updateButtons();
}

function currentId(kind) {
  const t = stream && stream.getTracks().find(x => x.kind === kind);
  return t ? (t.getSettings().deviceId || '') : '';
}

async function refreshDevices() {
  let devices = [];
  try { devices = await navigator.mediaDevices.enumerateDevices(); } catch { return; }
  fill(cameraSel, devices.filter(d => d.kind === 'videoinput'), 'Camera', currentId('video'), 'No camera');
  fill(micSel, devices.filter(d => d.kind === 'audioinput'), 'Microphone', currentId('audio'), 'No microphone');
}

function fill(select, list, word, selected, none) {
  const options = list.filter(d => d.deviceId).map((d, i) => {
    const o = document.createElement('option');
    o.value = d.deviceId;
    o.textContent = d.label || `${word} ${i + 1}`;
    return o;
  });
  if (options.length === 0) {
    const o = document.createElement('option');
    o.value = '';
    o.textContent = none;
    options.push(o);
  }
  select.replaceChildren(...options);
  if (selected && options.some(o => o.value === selected)) select.value = selected;
  select.disabled = !stream || options.length < 2 && options[0].value === '';
}

async function switchDevice(kind) {
  const select = kind === 'video' ? cameraSel : micSel;
  const id = select.value;
  if (!stream || !id || id === currentId(kind)) return;
  const oldTracks = stream.getTracks().filter(t => t.kind === kind);
  const previous = currentId(kind);
  // Phones cannot open two cameras at once: stop the old one first.
  oldTracks.forEach(t => { t.stop(); stream.removeTrack(t); });
  let track = null;
  try {
    const s = await navigator.mediaDevices.getUserMedia(kind === 'video' ? { video: videoConstraints(id) } : { audio: audioConstraints(id) });
    track = s.getTracks()[0];
  } catch (e) {
    setStatus(status, `Could not switch to that ${kind === 'video' ? 'camera' : 'microphone'}: ${describeMediaError(e)[0]}`, 'error');
    try {
      const s = await navigator.mediaDevices.getUserMedia(kind === 'video' ? { video: videoConstraints(previous) } : { audio: audioConstraints(previous) });
      track = s.getTracks()[0];
    } catch { /* nothing left for this kind */ }
  }
  if (track) {
    stream.addTrack(track);
    if (publisher) publisher.replaceTrack(track);
  }
  showStream();
  await refreshDevices();
}

cameraSel.addEventListener('change', () => switchDevice('video'));
micSel.addEventListener('change', () => switchDevice('audio'));
$('retry-media').addEventListener('click', () => { setStatus(status, ''); startPreview(); });
if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
  navigator.mediaDevices.addEventListener('devicechange', () => { if (stream) refreshDevices(); });
}

// ---- going live ------------------------------------------------------------

function updateButtons() {
  const isLive = room !== null;
  goLive.hidden = isLive || !!away;
  endBtn.hidden = !isLive && !away;
  goLive.disabled = isLive || !!away || !stream || !socket.open || me === null || startTimer !== null;
  $('title-save').hidden = !isLive;
  $('title-save').disabled = !socket.open;
  if (away) {
    endBtn.textContent = away.end ? 'Ending when reconnected…' : 'End broadcast';
    endBtn.disabled = !!away.end;
  }
  if (!startTimer) goLive.textContent = goLiveLabel;
}

function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

// The connection dropped while live: the page says so plainly and keeps
// the broadcast's place (badge, link, chat) until it is back.
function wentAway(restart) {
  clearTimeout(uploadTimer);
  if (publisher) publisher.close();
  publisher = null;
  away = { at: Date.now(), room, restart };
  room = null;
  $('live-badge').dataset.state = 'reconnecting';
  $('live-badge').firstChild.textContent = 'RECONNECTING ';
  chat.close('Reconnecting…');
  const secs = Math.round(graceMs / 1000);
  setStatus(status, restart
    ? `onair is restarting (${clock(away.at)}). The page reconnects by itself and tells you what happened.`
    : `Your connection to onair dropped at ${clock(away.at)}. Reconnecting… Your viewers are told to wait; ` +
      `the broadcast goes on if you are back within ${secs} s.`, 'warn');
  updateButtons();
}

// Connected again after a drop: take the room back (or end it, if asked).
function resumeLive() {
  if (!away) return;
  if (!socket.send({ type: 'live.resume' })) return;
  if (away.end) socket.send({ type: 'live.end' });
  setStatus(status, 'onair is back — resuming your broadcast…', 'warn');
}

// The room did not survive the drop: say why, and offer one click back.
function awayEnded() {
  const why = away.restart
    ? `onair restarted while you were live (${clock(away.at)}), so your broadcast stopped.`
    : `Your connection to onair was gone for longer than ${Math.round(graceMs / 1000)} s ` +
      `(since ${clock(away.at)}), so your broadcast ended.`;
  const asked = away.end;
  away = null;
  stoppedLive(asked ? 'Your broadcast has ended.' : `${why} Press “Go live again” to continue with the same title.`,
    asked ? 'ok' : 'warn');
  if (!asked) goLiveLabel = 'Go live again';
  updateButtons();
}

function setViewers(n) {
  if (!Number.isFinite(n)) return;
  $('viewers').textContent = String(n);
  $('viewers-word').textContent = 'watching';
  $('viewer-pill').dataset.viewers = String(n);
}

function startedLive(m) {
  clearTimeout(startTimer);
  startTimer = null;
  const back = away;
  away = null;
  room = m.room;
  liveSince = Number.isFinite(m.since) && m.since > 0 ? m.since : Date.now();
  $('live-badge').dataset.state = 'live';
  $('live-badge').firstChild.textContent = 'LIVE ';
  goLiveLabel = 'Go live';
  publisher = createPublisher({
    stream,
    send: msg => socket.send(msg),
    onState(s) {
      if (s === 'failed') {
        // The media path broke (ICE failure): upload again by itself, with
        // backoff (1, 2, 4 … 10 s).
        setStatus(status, 'The video upload to onair failed — trying again…', 'warn');
        clearTimeout(uploadTimer);
        uploadTimer = setTimeout(() => { if (publisher && room) publisher.start(); }, Math.min(10000, 1000 * 2 ** uploadRetries++));
      } else if (s === 'connected') {
        if (uploadRetries > 0 && /upload to onair failed/.test(status.textContent)) setStatus(status, 'The video upload is back.', 'ok');
        uploadRetries = 0;
      }
    },
  });
  publisher.start();
  showLive(m);
  if (m.resumed && back) {
    const secs = Math.max(1, Math.round((Date.now() - back.at) / 1000));
    setStatus(status, `Reconnected after ${secs} s — you are live again, with the same room, title and viewers.`, 'ok');
  } else {
    setStatus(status, '');
  }
  chat.open(room, { user: me, broadcasterName: me, history: m.history });
  updateButtons();
}

function tick() { $('elapsed').textContent = formatElapsed(Date.now() - liveSince); }

// Live (from this page or the encoder): the badge and its clock, viewers,
// the link to share, the end button.
function showLive(m) {
  setViewers(Number.isFinite(m.viewers) ? m.viewers : 0);
  $('viewer-pill').hidden = false;
  $('live-badge').hidden = false;
  tick();
  clearInterval(elapsedTimer);
  elapsedTimer = setInterval(tick, 1000);
  const link = `${siteURL}/view/${encodeURIComponent(room)}`;
  $('room-link').href = link;
  $('room-link').textContent = link;
  $('live-info').hidden = false;
  endBtn.disabled = false;
  endBtn.textContent = 'End broadcast';
}

function stoppedLive(message, kind) {
  encoder = false;
  clearTimeout(uploadTimer);
  if (publisher) publisher.close();
  publisher = null;
  room = null;
  clearInterval(elapsedTimer);
  $('viewer-pill').hidden = true;
  $('live-badge').hidden = true;
  $('live-info').hidden = true;
  chat.close('Chat opens when you go live');
  setStatus(status, message, kind);
  updateButtons();
}

goLive.addEventListener('click', () => {
  if (!stream) return;
  const title = $('room-title').value.trim();
  if (!socket.send(title ? { type: 'live.start', title } : { type: 'live.start' })) {
    setStatus(status, 'Not connected to onair yet — try again in a moment.', 'error');
    return;
  }
  chat.clear();
  goLive.textContent = 'Going live…';
  startTimer = setTimeout(() => {
    startTimer = null;
    setStatus(status, 'onair did not answer. Try again.', 'error');
    updateButtons();
  }, 10000);
  updateButtons();
});

// While live, the title can change: everyone watching sees the new one.
$('title-save').addEventListener('click', () => {
  const title = $('room-title').value.trim();
  if (!room || !title) {
    setStatus(status, 'Type the new title first.', 'warn');
    return;
  }
  if (!socket.send({ type: 'live.start', title })) setStatus(status, 'Not connected to onair right now.', 'error');
});

endBtn.addEventListener('click', () => {
  if (away) {
    // Not connected: onair ends the room when the page is back (or when
    // the grace period runs out, whichever comes first).
    away.end = true;
    setStatus(status, 'Your broadcast ends as soon as onair is reachable again.', 'warn');
    updateButtons();
    return;
  }
  endBtn.disabled = true;
  endBtn.textContent = 'Ending…';
  if (!socket.send({ type: 'live.end' })) stoppedLive('Your broadcast has ended.', 'ok');
});

// Copies node's text (an input's value) to the clipboard; where the page
// may not, selects it for Ctrl+C. The button says which.
async function copyFrom(button, node) {
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(node.value !== undefined ? node.value : node.textContent);
    button.textContent = 'Copied';
  } catch {
    if (node.select) {
      node.select();
    } else {
      const range = document.createRange();
      range.selectNodeContents(node);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
    }
    button.textContent = 'Press Ctrl+C';
  }
  setTimeout(() => { button.textContent = label; }, 2000);
}

$('copy').addEventListener('click', () => copyFrom($('copy'), $('room-link')));

// ---- streaming from an encoder (OBS over WHIP) ------------------------------

// The user's encoder went live (or was live when the page opened): the page
// shows the room (badge, viewers, link, chat, title, end); the camera here
// is not used.
function startedEncoder(m) {
  clearTimeout(startTimer);
  startTimer = null;
  encoder = true;
  room = m.room;
  liveSince = Number.isFinite(m.since) && m.since > 0 ? m.since : Date.now();
  $('live-badge').dataset.state = 'live';
  $('live-badge').firstChild.textContent = 'LIVE ';
  showLive(m);
  if (m.title) $('room-title').value = m.title;
  setStatus(status, 'You are live from your encoder (OBS). This page shows its chat and viewers; the camera here is not sent.', 'ok');
  chat.open(room, { user: me, broadcasterName: me, history: m.history });
  updateButtons();
}

// A key the user hands out (docs/obs.md): the stream key for OBS, the watch
// token for WHEP players. ids: the row's elements' id prefix ("key",
// "token"); api: its API path; noun: what the page calls it; use: who it
// is for (the note shown with a new one).
function keyRow({ ids, api: path, noun, use }) {
  const el = k => $(`${ids}-${k}`);
  let exists = false;
  const show = data => {
    exists = !!(data && data.exists);
    el('new').textContent = exists ? `Make a new ${noun}` : `Make a ${noun}`;
    el('info').textContent = !data ? ''
      : exists ? `You have a ${noun}, made ${new Date(data.created).toLocaleString()}. onair keeps only its fingerprint, so it cannot show it again; a new one replaces it at once.`
        : `You have no ${noun} yet.`;
  };
  el('new').addEventListener('click', async () => {
    if (exists && !confirm(`A new ${noun} stops your current one at once. Make a new one?`)) return;
    const r = await api('POST', `${path}/new`);
    if (!r.ok) {
      el('info').textContent = `Could not make a ${noun}: ${r.message}`;
      return;
    }
    show({ exists: true, created: r.data.created });
    el('value').value = r.data.key;
    el('value').hidden = false;
    el('copy').hidden = false;
    el('info').textContent = `Copy it into ${use} now: it is shown only this once.`;
  });
  el('copy').addEventListener('click', () => copyFrom(el('copy'), el('value')));
  api('GET', path).then(r => show(r.ok ? r.data : null));
}

keyRow({ ids: 'key', api: '/api/stream-key', noun: 'stream key', use: 'OBS (anyone who has it can go live as you)' });
keyRow({ ids: 'token', api: '/api/watch-token', noun: 'watch token', use: 'the player (it watches your room without an account)' });

// live.console, with the title typed so far: the encoder's room takes it
// when it goes live.
function sendConsole() {
  const title = $('room-title').value.trim();
  socket.send(title ? { type: 'live.console', title } : { type: 'live.console' });
}
$('room-title').addEventListener('change', () => { if (room === null && !away && me !== null) sendConsole(); });

$('whip-url-copy').addEventListener('click', () => copyFrom($('whip-url-copy'), $('whip-url')));
$('whep-url-copy').addEventListener('click', () => copyFrom($('whep-url-copy'), $('whep-url')));
$('whip-url').textContent = `${siteURL}/whip`;

// ---- the WebSocket ---------------------------------------------------------

function onMessage(m) {
  switch (m.type) {
    case 'hello':
      me = m.user;
      restarting = false;
      if (Number.isFinite(m.reconnect_grace_ms)) graceMs = m.reconnect_grace_ms;
      if (typeof m.base_url === 'string' && /^https?:\/\/[^/]+/.test(m.base_url)) siteURL = m.base_url.replace(/\/+$/, '');
      setIceServers(m.ice_servers);
      $('whip-url').textContent = `${siteURL}/whip`;
      $('whep-url').textContent = `${siteURL}/whep/${encodeURIComponent(me)}`;
      chat.setUser(me);
      setUserName(me);
      resumeLive();
      // Show the user's encoder's broadcast, now or once it starts.
      if (!away) sendConsole();
      updateButtons();
      break;
    case 'server.restarting':
      restarting = true;
      break;
    case 'live.started':
      if (away && !m.resumed) break; // the answer to our own live.resume while live elsewhere: not expected
      if (m.source === 'encoder' && room === null) {
        startedEncoder(m);
      } else if (room === null || m.room !== room) {
        startedLive(m);
      } else {
        // While live, the answer to a title change: the broadcast goes on.
        const title = $('room-title').value.trim();
        setStatus(status, title ? `Title changed to “${title}”.` : 'Title unchanged.', 'ok');
      }
      break;
    case 'live.ended':
      if (encoder) stoppedLive('Your encoder\'s broadcast has ended.', 'ok');
      else if (m.reason === 'replaced') stoppedLive('You went live from another tab or device, so this page stopped broadcasting.', 'warn');
      else stoppedLive('Your broadcast has ended.', 'ok');
      break;
    case 'media.answer':
      if (publisher) publisher.onAnswer(m.sdp);
      break;
    case 'media.layers':
      // Layers nobody watches are paused, and sent again when someone does.
      if (publisher) publisher.setLayers(m.active);
      break;
    case 'media.closed':
      // onair dropped the upload (lost connectivity): send it again.
      if (publisher && room) publisher.start();
      break;
    case 'room.viewers':
      if (m.room === room) setViewers(m.viewers);
      break;
    case 'chat':
      if (m.room === room) chat.add(m);
      break;
    case 'media.warning':
      if (m.room === room) setStatus(status, m.message || m.code, 'warn');
      break;
    case 'error':
      if (m.ref === 'chat.send') chat.error(m.message || m.code);
      else if (m.ref === 'media.offer') setStatus(status, `onair could not take the video: ${m.message || m.code}`, 'error');
      else {
        if (m.ref === 'live.resume' && away) { awayEnded(); break; }
        if (m.ref === 'live.start') { clearTimeout(startTimer); startTimer = null; }
        if (m.ref === 'live.end') { endBtn.disabled = false; endBtn.textContent = 'End broadcast'; }
        setStatus(status, m.message || m.code, 'error');
        updateButtons();
      }
      break;
  }
}

setupShell();
const socket = openSocket({
  reconnect: true,
  onMessage,
  onOpen() { if (!room && !away && /reconnecting|restarting/i.test(status.textContent)) setStatus(status, ''); },
  onClose({ willRetry, code }) {
    me = null;
    clearTimeout(startTimer);
    startTimer = null;
    const restart = restarting || code === 1012;
    if (room && encoder) {
      // The encoder's broadcast goes on without this page: shown again
      // once connected (live.console).
      stoppedLive(willRetry ? 'Connection to onair lost — reconnecting… Your encoder\'s broadcast goes on.' : '', 'warn');
    } else if (room) {
      wentAway(restart);
    } else if (away) {
      away.restart = away.restart || restart;
    } else if (willRetry) {
      setStatus(status, restart ? 'onair is restarting — reconnecting…' : 'Connection lost — reconnecting…', 'warn');
    }
    updateButtons();
  },
});

startPreview();

// For tests and troubleshooting: the upload's outbound RTP figures
// ({ video, audio, streams }, streams counting outbound video streams).
window.onairDebug = { publisherStats: () => (publisher ? publisher.stats() : Promise.resolve(null)) };
