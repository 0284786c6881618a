// The top bar of a signed-in page: the user's name and the sign-out button.
import { api } from './api.js';
import { $, setStatus } from './dom.js';

export function setUserName(name) {
  const me = $('me');
  if (me && typeof name === 'string') {
    me.textContent = name;
    me.hidden = false;
  }
}

export function setupShell() {
  const btn = $('signout');
  if (!btn) return;
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    const r = await api('POST', '/api/signout');
    if (r.ok || r.status === 401) {
      // A provider's session ends at the provider, which comes back to /.
      const out = r.ok && r.data && typeof r.data.logout_url === 'string' ? r.data.logout_url : '/';
      location.assign(out);
      return;
    }
    btn.disabled = false;
    const notice = $('shell-notice');
    if (notice) setStatus(notice, `Could not sign out: ${r.message}`, 'error');
  });
}
