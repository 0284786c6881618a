// A viewer's page: /view/<room>. Joins the room, plays the broadcaster's
// stream (through media.js), shows the viewer count and the chat, and says
// plainly when the stream is over.
import { $, setStatus } from './dom.js';
import { openSocket } from './ws.js';
import { api } from './api.js';
import { setupShell, setUserName } from './shell.js';
import { createChat } from './chat.js';
import { createViewer, setIceServers, iceServers } from './media.js';
import { createPlayer, createChatToggle } from './player.js';

const video = $('video');
const msg = $('video-msg');

function roomFromPath() {
  const raw = location.pathname.replace(/^\/view\//, '').replace(/\/$/, '');
  try { return decodeURIComponent(raw); } catch { return raw; }
}

const roomName = roomFromPath();
let me = null;
let state = 'connecting'; // connecting | joining | watching | waiting | reconnecting | rejoining
let restarting = false;   // onair said it is restarting
let watchingRooms = false; // rooms.watch sent on this connection
let broadcasterPeer = null;
let viewer = null;
let hadJoined = false;
let wasLost = false; // the connection dropped while watching: no "ended" until we know
let held = false;    // the broadcaster's connection dropped: onair keeps the room while they come back
let guest = false;   // signed out, watching because onair has public-watch: no chat
let nobody = false;  // no account has this room's name
let retryTimer = null;
let retries = 0;     // automatic re-offers after a failed media connection
let joinOffered = false; // the last room.join carried the page's media offer
const QUALITY_KEY = 'onair.quality'; // localStorage: the quality menu's choice
const QUALITIES = ['auto', 'high', 'medium', 'low', 'audio'];
let quality = 'auto'; // the quality menu's choice (media.quality)
try { quality = QUALITIES.includes(localStorage.getItem(QUALITY_KEY)) ? localStorage.getItem(QUALITY_KEY) : 'auto'; } catch { /* none kept */ }
let layer = null; // the simulcast layer onair says it sends (media.layer)
// view-boot.js started the join while the page loaded (socket, offer,
// room.join): the first connection and the first join take it over.
let boot = window.onairBoot || null;

const chat = createChat($('chat'), { send: m => socket.send(m) });

function overlay(text) {
  msg.textContent = text || '';
  msg.hidden = !text;
}

function banner(title, text) {
  $('banner-title').textContent = title;
  $('banner-text').textContent = text || '';
  $('banner').hidden = false;
}

function setViewers(n) {
  if (!Number.isFinite(n)) return;
  $('viewers').textContent = String(n);
  $('viewer-count').dataset.viewers = String(n);
  $('viewer-count').hidden = false;
}

function stopVideo() {
  clearTimeout(retryTimer);
  if (viewer) viewer.close();
  viewer = null;
  video.pause();
  video.srcObject = null;
  for (const b of ['play', 'unmute', 'retry']) $(b).hidden = true;
}

// The media connection failed (ICE failure, the path broke): offer again
// by itself, with backoff (1, 2, 4 … 10 s); Retry does it at once.
function reoffer() {
  clearTimeout(retryTimer);
  const delay = Math.min(10000, 1000 * 2 ** retries);
  retries++;
  retryTimer = setTimeout(() => {
    if (state === 'watching' && !held && viewer) viewer.start();
  }, delay);
}

function startViewer(adopt = null) {
  if (viewer) viewer.close();
  clearTimeout(retryTimer);
  // Playing already (view-boot.js's stream came before this script ran).
  overlay(adopt && video.srcObject && video.readyState >= 2 ? '' : 'Connecting to the stream…');
  viewer = createViewer({
    adopt,
    send: msg => socket.send(msg),
    onStream(stream) {
      if (video.srcObject !== stream) video.srcObject = stream;
      play();
    },
    onState(s) {
      if (state !== 'watching' || held) return;
      if (s === 'failed') {
        overlay('The video connection failed — trying again…');
        $('retry').hidden = false;
        reoffer();
      } else if (s === 'disconnected') {
        overlay('Reconnecting video…');
      } else if (s === 'connected') {
        retries = 0;
        $('retry').hidden = true;
        if (video.readyState >= 2) overlay('');
      }
    },
  });
}

function setBadge(live) {
  $('live-badge').textContent = live ? 'LIVE' : 'RECONNECTING';
  $('live-badge').dataset.state = live ? 'live' : 'reconnecting';
}

// The broadcaster's connection dropped: onair keeps the room for a while;
// the page waits (chat stays open) and plays again when they are back.
function hold() {
  held = true;
  stopVideo();
  setBadge(false);
  overlay(`${$('title').textContent}'s connection dropped — waiting for them to come back…`);
}

function resumed() {
  held = false;
  setBadge(true);
  startViewer();
  overlay(`${$('title').textContent} is back — connecting to the stream…`);
}

function play() {
  video.play().then(() => {
    $('play').hidden = true;
  }).catch(() => {
    $('play').hidden = false; // autoplay refused: let the user press play
  });
  $('unmute').hidden = !video.muted || !video.srcObject || video.srcObject.getAudioTracks().length === 0;
}

video.addEventListener('playing', () => { if (state === 'watching') overlay(''); });
video.addEventListener('loadedmetadata', () => play());
$('play').addEventListener('click', () => play());
$('unmute').addEventListener('click', () => {
  video.muted = !video.muted;
  $('unmute').textContent = video.muted ? 'Unmute' : 'Mute';
  $('unmute').hidden = false;
  play();
});
$('retry').addEventListener('click', () => {
  // Leave and join again: the broadcaster then sends a fresh offer.
  $('retry').hidden = true;
  state = 'rejoining';
  socket.send({ type: 'room.leave' });
});

// Joins the room with the page's media offer in the same message: when the
// broadcaster's media is in, onair's answer comes right after room.joined,
// without a round trip of its own.
function join() {
  state = 'joining';
  joinOffered = false;
  const early = boot;
  boot = null;
  if (early && early.pc) {
    joinEarly(early);
    return;
  }
  startViewer();
  const mine = viewer;
  viewer.start(sdp => {
    if (state !== 'joining' || viewer !== mine) return;
    joinOffered = !!sdp;
    socket.send(sdp ? { type: 'room.join', room: roomName, sdp } : { type: 'room.join', room: roomName });
  });
}

// The first join, with view-boot.js's connection: its room.join went out
// already, or goes out as soon as its offer is made.
function joinEarly(early) {
  startViewer(early);
  const mine = viewer;
  const servers = iceServers();
  if (early.joined) {
    joinOffered = true;
    early.describe(servers); // if view-boot.js had not had hello yet
    return;
  }
  early.offered.then(() => {
    if (state !== 'joining' || viewer !== mine) return;
    const sdp = early.describe(servers) ? early.sdp() : null;
    joinOffered = !!sdp;
    socket.send(sdp ? { type: 'room.join', room: roomName, sdp } : { type: 'room.join', room: roomName });
  });
}

// Until the room is live (again): the page follows the room list and
// joins as soon as it appears.
function waitForRoom() {
  state = 'waiting';
  if (!watchingRooms && socket.send({ type: 'rooms.watch' })) watchingRooms = true;
}

function ended() {
  if (state === 'ended' || state === 'waiting') return;
  wasLost = false;
  held = false;
  stopVideo();
  overlay('');
  $('video-box').hidden = true;
  $('live-badge').hidden = true;
  $('viewer-count').hidden = true;
  banner('This stream has ended', `${$('title').textContent} is no longer live. Thanks for watching! ` +
    'If they go live again, the stream starts here.');
  chat.close('The stream has ended');
  document.title = 'Stream ended — onair';
  waitForRoom();
}

function notLive(text) {
  stopVideo();
  $('video-box').hidden = true;
  $('title').textContent = roomName;
  if (nobody) banner(`No one called ${roomName} is on onair`, 'Check the link. If they sign up and go live, the stream starts here.');
  else banner(`${roomName} is offline`, text || 'This page starts playing by itself as soon as they go live.');
  chat.close('Chat is closed');
  document.title = `${roomName} is offline — onair`;
  if (roomName) waitForRoom();
  else state = 'notlive';
}

// The connection to onair is gone: the page reconnects and rejoins.
function lost() {
  stopVideo();
  wasLost = true;
  held = false;
  state = 'reconnecting';
  $('live-badge').hidden = true;
  $('video-box').hidden = false;
  $('banner').hidden = true;
  overlay(restarting ? 'onair is restarting — the stream comes back by itself.'
    : 'The connection to onair was lost — reconnecting…');
  chat.close('Reconnecting…');
}

function joined(m) {
  state = 'watching';
  hadJoined = true;
  wasLost = false;
  held = false;
  retries = 0;
  $('banner').hidden = true;
  $('video-box').hidden = false;
  broadcasterPeer = typeof m.broadcaster_peer === 'string' ? m.broadcaster_peer : null;
  const name = typeof m.broadcaster === 'string' ? m.broadcaster : m.room;
  $('title').textContent = name;
  $('room-title').textContent = typeof m.title === 'string' ? m.title : '';
  $('room-title').hidden = !m.title;
  document.title = `${name} is live — onair`;
  $('live-badge').hidden = false;
  setViewers(m.viewers);
  chat.open(m.room, { user: me, broadcasterName: name, history: m.history });
  if (guest) chat.close('Sign in to chat');
  setBadge(true);
  const offered = joinOffered;
  joinOffered = false;
  if (m.state === 'reconnecting') { hold(); return; }
  if (offered && viewer && m.media_ready) return; // media.answer follows
  startViewer();
  if (m.media_ready) viewer.start(); // else media.ready comes when the broadcaster's media arrives
}

function onMessage(m) {
  switch (m.type) {
    case 'hello':
      me = m.user;
      if (me === '' && !guest) setupGuest(); // public-watch: a signed-out visitor watches
      restarting = false;
      watchingRooms = false;
      setIceServers(m.ice_servers);
      chat.setUser(me);
      if (!guest) setUserName(me);
      if (!roomName) { notLive('This link does not name a room.'); break; }
      join();
      break;
    case 'server.restarting':
      restarting = true;
      break;
    case 'rooms':
      if (state === 'waiting' && Array.isArray(m.rooms) &&
          m.rooms.some(r => r && typeof r.name === 'string' && r.name.toLowerCase() === roomName.toLowerCase())) {
        join();
      }
      break;
    case 'room.joined':
      joined(m);
      break;
    case 'room.left':
      if (state === 'rejoining') {
        stopVideo();
        join();
      }
      break;
    case 'room.viewers':
      if (state === 'watching') setViewers(m.viewers);
      break;
    case 'room.title':
      // The broadcaster changed the title while live.
      if (state === 'watching' && typeof m.title === 'string') {
        $('room-title').textContent = m.title;
        $('room-title').hidden = !m.title;
      }
      break;
    case 'room.ended':
      ended();
      break;
    case 'room.reconnecting':
      if (state === 'watching') hold();
      break;
    case 'room.resumed':
      if (state === 'watching' && held) resumed();
      break;
    case 'media.ready':
      // The broadcaster's media reached onair (again): (re)connect to it.
      if (state === 'watching' && !held && viewer) viewer.start();
      break;
    case 'media.answer':
      if (state === 'watching' && viewer) {
        viewer.onAnswer(m.sdp);
        if (quality !== 'auto') socket.send({ type: 'media.quality', quality });
      }
      break;
    case 'media.layer':
      // The simulcast layer onair sends this page (shown in the stats panel).
      layer = typeof m.layer === 'string' ? m.layer : null;
      break;
    case 'media.closed':
      // onair dropped this page's media (lost connectivity): connect again.
      if (state === 'watching' && viewer) {
        overlay('Reconnecting video…');
        viewer.start();
      }
      break;
    case 'chat':
      if (state === 'watching') chat.add(m);
      break;
    case 'media.warning':
      // The broadcaster's stream has something browsers play badly.
      if (state === 'watching') {
        setStatus($('shell-notice'), m.code === 'bframes'
          ? 'The broadcaster\'s encoder sends B-frames, which browsers do not play smoothly: the picture may stutter. The broadcaster has been told how to fix it.'
          : 'The broadcaster\'s stream has a problem your browser may not play well.', 'warn');
      }
      break;
    case 'error':
      if (m.ref === 'room.join' && m.code === 'no_such_room') {
        if (wasLost) { // back, but the broadcaster is not yet: wait for them
          overlay(`Waiting for ${$('title').textContent} to come back — the stream starts by itself.`);
          waitForRoom();
        } else if (hadJoined) {
          ended();
        } else {
          notLive();
        }
      } else if (m.ref === 'chat.send') {
        chat.error(m.message || m.code);
      } else if (m.ref === 'media.offer') {
        if (m.code !== 'not_ready') overlay(`onair could not send the video: ${m.message || m.code}`);
      } else {
        chat.error(m.message || m.code);
      }
      break;
  }
}

let socket = null;
function connect() {
  socket = openSocket({
    adopt: boot && boot.ws ? boot : null,
    reconnect: true,
    onMessage,
    onClose({ code }) {
      if (code === 1012) restarting = true;
      if (state === 'notlive') return; // no room to come back to
      if (state === 'waiting' || state === 'ended') {
        watchingRooms = false; // the next connection asks again
        return;
      }
      lost();
    },
  });
}

// ---- a signed-out visitor (a shared link) ---------------------------------

const signInHref = () => `/?next=${encodeURIComponent(location.pathname)}`;

function setupGuest() {
  guest = true;
  $('signout').hidden = true;
  $('nav-live').hidden = true;
  $('nav-signin').href = signInHref();
  $('nav-signin').hidden = false;
  document.querySelector('.brand').href = '/';
}

// Without public-watch: whose room this is, whether it is live, and the
// way in (sign in or create an account, then back here).
function showCard(room) {
  const name = room.name;
  const live = room.state !== 'offline';
  state = 'card';
  $('video-box').hidden = true;
  $('title').textContent = name;
  $('room-title').textContent = room.title || '';
  $('room-title').hidden = !room.title;
  $('live-badge').hidden = !live;
  if (live) setViewers(room.viewers); else $('viewer-count').hidden = true;
  banner(live ? `${name} is live now` : `${name} is offline`,
    `${live && room.title ? `“${room.title}”. ` : ''}Sign in to watch${live ? '' : ' when they go live'} and to chat.`);
  $('banner').dataset.state = room.state;
  $('banner-live').hidden = true;
  $('banner-signin').href = signInHref();
  $('banner-signin').hidden = false;
  $('banner-signup').href = `${signInHref()}#signup`;
  $('banner-signup').hidden = false;
  chat.close('Sign in to chat');
  document.title = `${live ? `${name} is live` : `${name} is offline`} — onair`;
}

async function refreshCard() {
  const r = await api('GET', `/api/rooms/${encodeURIComponent(roomName)}`);
  if (r.ok && r.data && r.data.room) showCard(r.data.room);
}

// Whether anyone has this room's name (the offline banner's wording).
async function checkNobody() {
  const r = await api('GET', `/api/rooms/${encodeURIComponent(roomName)}`);
  if (r.status !== 404 || nobody) return;
  nobody = true;
  if (state === 'waiting' && !hadJoined) notLive();
}

async function start() {
  // view-boot.js's socket opened (signed in, or public-watch): on with it.
  if (boot && boot.ws && await boot.settled) {
    connect();
    checkNobody();
    return;
  }
  if (boot) boot.close();
  boot = null;
  const r = roomName ? await api('GET', `/api/rooms/${encodeURIComponent(roomName)}`) : null;
  const info = r && r.ok && r.data && r.data.room ? r.data : null;
  nobody = !!r && r.status === 404;
  if (info && !info.signed_in) {
    setupGuest();
    if (!info.public_watch) {
      showCard(info.room);
      setInterval(refreshCard, 15000);
      return;
    }
  }
  connect();
}

setupShell();
$('title').textContent = roomName || 'No room';
start();

// The quality menu: Auto lets onair pick the layer the network carries; a
// choice is kept for the next visit and goes to onair with each connection.
$('quality').value = quality;
$('quality').addEventListener('change', () => {
  quality = QUALITIES.includes($('quality').value) ? $('quality').value : 'auto';
  try { localStorage.setItem(QUALITY_KEY, quality); } catch { /* private mode: this visit only */ }
  if (state === 'watching' && viewer) socket.send({ type: 'media.quality', quality });
});

// Inbound video figures of the current connection, with the layer onair
// said it sends.
const videoStats = () => (viewer ? viewer.stats().then(s => (s ? { ...s, layer } : s)) : Promise.resolve(null));

// For the browser test.
window.onairDebug = { videoStats };

// Fullscreen, volume, picture-in-picture and stats (player.js); the overlay
// Unmute button stays view.js's, the player hides it once the sound is on.
createPlayer({ video, box: $('video-box'), unmuteHint: $('unmute'), stats: videoStats });
createChatToggle($('chat-toggle'), $('chat'));
