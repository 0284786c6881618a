// The viewer's player controls on /view/<room>, over view.js's <video>:
// fullscreen, mute and volume, picture-in-picture and a stats panel; and the
// page's "Hide chat" / "Show chat" toggle.
//
//   createPlayer({ video, box, stats, unmuteHint });
//   createChatToggle(button, chat);
//
// box is what goes fullscreen (the video with these controls, so they stay
// on screen); stats() resolves to media.js's viewer.stats() figures or null;
// unmuteHint is view.js's overlay "Unmute" button, hidden here once the
// sound is on by any means. The controls are the elements of view.html's
// .player-bar and #player-stats. Keys, while focus is not in a text field:
// f toggles fullscreen, m toggles mute.
import { $ } from './dom.js';

const IDLE_MS = 3000;  // the controls fade after this long without a pointer move or tap
const STATS_MS = 1000; // stats panel refresh period
const CHAT_KEY = 'onair.chat'; // localStorage: 'hidden' when the viewer hid the chat

// Sets a control's accessible name and its tooltip (with its key, if any).
function setLabel(button, label, key) {
  button.setAttribute('aria-label', label);
  button.title = key ? `${label} (${key})` : label;
}

// True when a key press belongs to what has focus (typing in the chat).
function isTyping(target) {
  if (!target || !target.tagName) return false;
  if (target.isContentEditable || target.tagName === 'TEXTAREA' || target.tagName === 'SELECT') return true;
  return target.tagName === 'INPUT' && !['range', 'checkbox', 'radio', 'button', 'submit'].includes(target.type);
}

function fullscreenControls(video, box, button) {
  const supported = document.fullscreenEnabled || typeof video.webkitEnterFullscreen === 'function';
  button.hidden = !supported;

  // On a phone the stream fills the screen best sideways; a portrait
  // stream, or a browser that cannot lock, stays as it is.
  function lockLandscape() {
    const o = screen.orientation;
    if (!o || typeof o.lock !== 'function' || !matchMedia('(pointer: coarse)').matches) return;
    if (video.videoWidth && video.videoWidth < video.videoHeight) return;
    o.lock('landscape').catch(() => {});
  }

  async function toggle() {
    if (document.fullscreenElement) {
      await document.exitFullscreen().catch(() => {});
    } else if (document.fullscreenEnabled && box.requestFullscreen) {
      try {
        await box.requestFullscreen({ navigationUI: 'hide' });
      } catch (e) {
        console.warn('onair: fullscreen refused', e);
        return;
      }
      lockLandscape();
    } else if (typeof video.webkitEnterFullscreen === 'function') {
      video.webkitEnterFullscreen(); // iPhone: the system's own player
    }
  }

  document.addEventListener('fullscreenchange', () => {
    const on = document.fullscreenElement === box;
    button.dataset.on = String(on);
    setLabel(button, on ? 'Exit fullscreen' : 'Fullscreen', 'f');
    if (!on && screen.orientation && typeof screen.orientation.unlock === 'function') {
      try { screen.orientation.unlock(); } catch { /* nothing was locked */ }
    }
  });
  button.addEventListener('click', toggle);
  return toggle;
}

function volumeControls(video, muteButton, slider, unmuteHint) {
  // The video starts muted (autoplay rules): the button then says "Unmute"
  // in words, not only with an icon.
  const muteText = muteButton.querySelector('.player-btn-text');

  function show() {
    const silent = video.muted || video.volume === 0;
    muteButton.dataset.on = String(silent);
    setLabel(muteButton, silent ? 'Unmute' : 'Mute', 'm');
    muteText.hidden = !silent;
    slider.value = String(silent ? 0 : video.volume);
    slider.setAttribute('aria-valuetext', silent ? 'muted' : `${Math.round(video.volume * 100)} %`);
    if (!video.muted && unmuteHint) unmuteHint.hidden = true;
  }

  function setMuted(muted) {
    if (!muted && video.volume === 0) video.volume = 1;
    video.muted = muted;
    if (!muted && video.paused && video.srcObject) video.play().catch(() => {});
  }

  video.addEventListener('volumechange', show);
  muteButton.addEventListener('click', () => setMuted(!(video.muted || video.volume === 0)));
  slider.addEventListener('input', () => {
    const v = Number(slider.value);
    video.volume = v;
    setMuted(v === 0);
  });
  show();
  return () => setMuted(!(video.muted || video.volume === 0));
}

function pipControls(video, button) {
  button.hidden = !(document.pictureInPictureEnabled === true && typeof video.requestPictureInPicture === 'function');
  if (button.hidden) return;
  const show = on => {
    button.dataset.on = String(on);
    setLabel(button, on ? 'Exit picture in picture' : 'Picture in picture');
  };
  button.addEventListener('click', async () => {
    try {
      if (document.pictureInPictureElement) await document.exitPictureInPicture();
      else await video.requestPictureInPicture();
    } catch (e) {
      console.warn('onair: picture-in-picture failed', e);
    }
  });
  video.addEventListener('enterpictureinpicture', () => show(true));
  video.addEventListener('leavepictureinpicture', () => show(false));
  show(false);
}

// The layer onair sends (media.layer), as the stats panel names it.
const LAYER_NAMES = { high: 'High', medium: 'Medium', low: 'Low', none: 'Audio only' };

// "1.2 Mbit/s", "850 kbit/s" from bits per second.
function bitrate(bps) {
  return bps >= 1e6 ? `${(bps / 1e6).toFixed(1)} Mbit/s` : `${Math.round(bps / 1e3)} kbit/s`;
}

// The panel's figures from two stats() samples (prev may be null: the first
// sample, or counters that went back after a reconnect). '—' for unknown.
function statsFigures(s, prev, seconds) {
  const none = '—';
  const layer = s && LAYER_NAMES[s.layer] ? LAYER_NAMES[s.layer] : none;
  if (!s || !s.frameWidth) return { layer, resolution: none, fps: none, bitrate: none, loss: none, delay: none, rtt: none };
  const bytes = x => x.bytes + (x.audio ? x.audio.bytes : 0);
  const d = prev && seconds > 0 && bytes(s) >= bytes(prev) && s.framesDecoded >= prev.framesDecoded ? prev : null;
  let fps = s.framesPerSecond;
  if (!fps && d) fps = (s.framesDecoded - d.framesDecoded) / seconds;
  const received = s.packets + s.packetsLost;
  // Playout delay over the last period when frames came out, else since the start.
  const emitted = d ? s.jitterBufferEmittedCount - d.jitterBufferEmittedCount : 0;
  const delay = emitted > 0 ? (s.jitterBufferDelay - d.jitterBufferDelay) / emitted
    : s.jitterBufferEmittedCount > 0 ? s.jitterBufferDelay / s.jitterBufferEmittedCount : null;
  return {
    layer,
    resolution: `${s.frameWidth}×${s.frameHeight}`,
    fps: fps ? `${Math.round(fps)}` : none,
    bitrate: d ? bitrate((bytes(s) - bytes(d)) * 8 / seconds) : none,
    loss: received > 0 ? `${(100 * s.packetsLost / received).toFixed(1)} % (${s.packetsLost} packets)` : none,
    delay: delay !== null ? `${Math.round(delay * 1000)} ms` : none,
    rtt: typeof s.roundTripTime === 'number' ? `${Math.round(s.roundTripTime * 1000)} ms` : none,
  };
}

function statsControls(button, panel, stats) {
  let run = 0; // bumped on each show and hide: an older poll loop stops
  let prev = null;
  let prevAt = 0;

  async function poll(mine) {
    let s = null;
    try { s = await stats(); } catch { s = null; }
    if (mine !== run) return;
    const now = performance.now();
    const figures = statsFigures(s, prev, (now - prevAt) / 1000);
    for (const [name, text] of Object.entries(figures)) panel.querySelector(`[data-stat="${name}"]`).textContent = text;
    prev = s && s.frameWidth ? s : null;
    prevAt = now;
    setTimeout(() => { if (mine === run) poll(mine); }, STATS_MS);
  }

  button.addEventListener('click', () => {
    const on = panel.hidden;
    panel.hidden = !on;
    button.setAttribute('aria-pressed', String(on));
    run++;
    prev = null;
    if (on) poll(run);
  });
}

// The controls show on a mouse move, a tap or keyboard focus, and fade
// after IDLE_MS; a tap on the video while they show hides them.
function autoHide(video, box, bar) {
  let timer = 0;
  const hide = () => {
    if (bar.matches(':hover')) { timer = setTimeout(hide, IDLE_MS); return; }
    box.dataset.controls = 'off';
  };
  const wake = () => {
    box.dataset.controls = 'on';
    clearTimeout(timer);
    timer = setTimeout(hide, IDLE_MS);
  };
  box.addEventListener('pointermove', e => { if (e.pointerType === 'mouse') wake(); });
  box.addEventListener('pointerleave', e => {
    if (e.pointerType === 'mouse') { clearTimeout(timer); box.dataset.controls = 'off'; }
  });
  box.addEventListener('pointerup', e => {
    if (e.pointerType === 'mouse' || bar.contains(e.target)) return wake();
    if (box.dataset.controls === 'on') { clearTimeout(timer); box.dataset.controls = 'off'; } else wake();
  });
  video.addEventListener('playing', wake);
  if (!video.paused && video.readyState >= 2) wake(); // playing before this script ran (view-boot.js)
  return wake;
}

export function createPlayer({ video, box, stats, unmuteHint }) {
  const bar = box.querySelector('.player-bar');
  const toggleFullscreen = fullscreenControls(video, box, $('fullscreen'));
  const toggleMute = volumeControls(video, $('mute'), $('volume'), unmuteHint);
  pipControls(video, $('pip'));
  statsControls($('stats-toggle'), $('player-stats'), stats);
  const wake = autoHide(video, box, bar);

  box.addEventListener('dblclick', e => {
    if (e.target.closest('button, input, .player-bar, .player-stats')) return;
    toggleFullscreen();
  });
  document.addEventListener('keydown', e => {
    if (e.defaultPrevented || e.repeat || e.ctrlKey || e.metaKey || e.altKey || box.hidden || isTyping(e.target)) return;
    const key = (e.key || '').toLowerCase();
    if (key !== 'f' && key !== 'm') return;
    e.preventDefault();
    if (key === 'f') toggleFullscreen();
    else toggleMute();
    wake();
  });
  // The stream ended (view.js hides the box): nothing left to show full
  // screen or in a floating window.
  new MutationObserver(() => {
    if (!box.hidden) return;
    if (document.fullscreenElement === box) document.exitFullscreen().catch(() => {});
    if (document.pictureInPictureElement === video) document.exitPictureInPicture().catch(() => {});
  }).observe(box, { attributes: true, attributeFilter: ['hidden'] });
}

// button shows or hides chat (the page's <aside>); its parent layout gives
// the video the whole width while the chat is hidden. The choice is kept
// for the next visit.
export function createChatToggle(button, chat) {
  const layout = chat.parentElement;
  function set(open) {
    chat.hidden = !open;
    layout.classList.toggle('chat-hidden', !open);
    button.setAttribute('aria-expanded', String(open));
    button.textContent = open ? 'Hide chat' : 'Show chat';
  }
  let stored = null;
  try { stored = localStorage.getItem(CHAT_KEY); } catch { /* storage off */ }
  set(stored !== 'hidden');
  button.addEventListener('click', () => {
    const open = chat.hidden;
    set(open);
    try { localStorage.setItem(CHAT_KEY, open ? 'shown' : 'hidden'); } catch { /* storage off */ }
  });
}
