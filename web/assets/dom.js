// Small DOM helpers. Text is only ever set with textContent.

export const $ = id => document.getElementById(id);

export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

export function show(e, on = true) { e.hidden = !on; }

// Shows a plain status line; kind is '', 'error', 'ok' or 'warn'.
export function setStatus(e, text, kind = '') {
  e.textContent = text || '';
  e.dataset.kind = kind;
  e.hidden = !text;
}
