// JSON API calls. Same-origin fetch sends the session cookie and an Origin
// header, which the server requires on every POST.

// Returns { ok, status, data } or { ok:false, status, error, message, retryAfter }.
// A server that does not answer within timeoutMs counts as unreachable.
export async function api(method, path, body, { timeoutMs = 15000 } = {}) {
  const opts = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (typeof AbortSignal !== 'undefined' && AbortSignal.timeout) opts.signal = AbortSignal.timeout(timeoutMs);
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch {
    return { ok: false, status: 0, error: 'network', message: 'Could not reach the server. Check your connection and try again.' };
  }
  let data = null;
  try {
    const text = await res.text();
    if (text) data = JSON.parse(text);
  } catch { /* not JSON */ }
  if (res.ok) return { ok: true, status: res.status, data };
  const ra = parseInt(res.headers.get('Retry-After') || '', 10);
  return {
    ok: false,
    status: res.status,
    error: (data && typeof data.error === 'string') ? data.error : `http_${res.status}`,
    message: (data && typeof data.message === 'string' && data.message) ? data.message
      : `The server answered ${res.status}${res.statusText ? ' ' + res.statusText : ''}.`,
    retryAfter: Number.isFinite(ra) && ra >= 0 ? ra : null,
  };
}

// The sign-in page, coming back to this page afterwards.
export function signInURL() {
  return '/?next=' + encodeURIComponent(location.pathname + location.search);
}

// Resolves to the signed-in user's name; goes to the sign-in page if signed out.
export async function whoAmI() {
  const r = await api('GET', '/api/me');
  if (r.ok && r.data && r.data.user && typeof r.data.user.name === 'string') return r.data.user.name;
  if (r.status === 401) location.assign(signInURL());
  return null;
}
