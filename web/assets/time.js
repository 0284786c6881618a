// Formatting of the server's timestamps (ms since the epoch) for people.

// Made on first use: a browser takes tens of ms to set up a formatter (its
// locale data), which a page should not pay before it has anything to show.
const formats = {
  clock: { hour: '2-digit', minute: '2-digit' },
  dayClock: { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' },
  full: { dateStyle: 'full', timeStyle: 'medium' },
};
const made = {};
const format = (which, d) => (made[which] ||= new Intl.DateTimeFormat(undefined, formats[which])).format(d);

function valid(ts) {
  return typeof ts === 'number' && Number.isFinite(ts) && Math.abs(ts) < 8.64e15;
}

// "14:05" for today, "Mar 3, 14:05" for another day, "" for a bad value.
export function formatClock(ts, now = Date.now()) {
  if (!valid(ts)) return '';
  const d = new Date(ts);
  return format(d.toDateString() === new Date(now).toDateString() ? 'clock' : 'dayClock', d);
}

// The full date and time, for a tooltip.
export function formatFull(ts) {
  return valid(ts) ? format('full', new Date(ts)) : '';
}

// ISO 8601 for a <time datetime="...">.
export function isoTime(ts) {
  return valid(ts) ? new Date(ts).toISOString() : '';
}

// "just now", "5 min", "1 h 20 min" since ts.
export function formatSince(ts, now = Date.now()) {
  if (!valid(ts)) return '';
  const min = Math.floor(Math.max(0, now - ts) / 60000);
  if (min < 1) return 'just now';
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
}

// "0:07", "12:30", "1:02:03" for a running timer.
export function formatElapsed(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const pad = n => String(n).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}
