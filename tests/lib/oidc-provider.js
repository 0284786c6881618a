// A real OpenID Connect provider for the tests: npm `oidc-provider` (pinned in
// tests/package-lock.json), run in this process on 127.0.0.1.
//
//   const op = await startProvider({ onairUrl: 'http://127.0.0.1:1234' });
//   op.issuer  // http://127.0.0.1:<port>[<pathPrefix>]
//   op.client  // { client_id, client_secret, ... } registered for onairUrl
//   op.keys    // the private JWKS it signs ID tokens with
//   op.tamper(fn)        // rewrite the id_token the token endpoint returns
//   op.rotate(newKeys)   // same port and issuer, new signing keys
//                        // (alias: restartWithKeys)
//   op.jwksRequests      // how many times the JWKS was fetched
//   await op.stop();
//
// It is the real thing: discovery, authorization endpoint with its built-in
// development login page (devInteractions: any login and password are
// accepted; the login names the account), PKCE (required), the token endpoint
// with client_secret_basic, a JWKS, and RP-initiated logout.
//
// The http server stays up across rotate(): a new Provider instance with the
// new keys takes over the same listening socket, so the issuer, port and
// provider sessions (shared in-memory storage, fixed cookie keys) all stay.
'use strict';
const http = require('node:http');
const net = require('node:net');
const { rsaJwk } = require('./jwt-forge.js');

const CLIENT_ID = 'onair-test-client';
const CLIENT_SECRET = 'onair-test-secret-0123456789abcdef';
const COOKIE_KEYS = ['onair-tests-oidc-provider-cookie-key'];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

// The confidential web client onair uses: its callback is the tutorial's path
// and it comes back to the site's front page after signing out.
function clientFor(onairUrls, extra = {}) {
  const bases = [].concat(onairUrls).map(u => u.replace(/\/+$/, ''));
  return {
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    client_name: 'onair',
    application_type: 'web',
    redirect_uris: bases.map(b => b + '/authorization-code/callback'),
    post_logout_redirect_uris: bases.map(b => b + '/'),
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
    ...extra,
  };
}

// Default accounts; a login that is not listed becomes an account whose sub
// is "sub-<login>" with preferred_username and email from the login.
const DEFAULT_ACCOUNTS = {
  ada: { sub: 'sub-ada-0001', name: 'Ada Lovelace', preferred_username: 'ada', email: 'ada@example.org' },
  grace: { sub: 'sub-grace-0002', name: 'Grace Hopper', preferred_username: 'grace', email: 'grace@example.org' },
};

function claimsFor(accounts, login) {
  const a = accounts[login];
  if (a) return { email_verified: true, ...a };
  return { sub: 'sub-' + login, preferred_username: login, email: `${login}@example.org`, email_verified: true };
}

function normPrefix(p) {
  if (!p) return '';
  let s = p.startsWith('/') ? p : '/' + p;
  while (s.endsWith('/')) s = s.slice(0, -1);
  return s;
}

// opts:
//   port        listen here (default: a free port)
//   pathPrefix  mount the provider under this path, e.g. '/oauth2/default'
//               (the Okta custom authorization server form)
//   keys        private JWKS { keys: [...] } (default: one new RSA key)
//   accounts    { login: { sub, name, preferred_username, email } }
//   onairUrl    onair's base URL(s) to register the default client for
//   clients     full client list (overrides onairUrl's default client)
//   consent     true: show the consent page (default: first-party client,
//               consent is granted without asking)
//   logout      false: no RP-initiated logout (no end_session_endpoint)
async function startProvider(opts = {}) {
  const { default: Provider } = await import('oidc-provider');
  const port = opts.port || await freePort();
  const prefix = normPrefix(opts.pathPrefix);
  const url = `http://127.0.0.1:${port}`;
  const issuer = url + prefix;
  const accounts = { ...DEFAULT_ACCOUNTS, ...(opts.accounts || {}) };
  let clients = opts.clients || (opts.onairUrl ? [clientFor(opts.onairUrl)] : []);
  let keys = opts.keys || { keys: [rsaJwk('op-key-1')] };
  let tamperFn = null;
  const state = { jwksRequests: 0, tokenRequests: 0, requests: [], logins: [] };

  function build() {
    const provider = new Provider(issuer, {
      clients,
      jwks: keys,
      cookies: { keys: COOKIE_KEYS },
      // The profile claims go into the ID token even in the code flow (as
      // Okta does), since that is where onair names its users from.
      conformIdTokenClaims: false,
      claims: {
        openid: ['sub'],
        profile: ['name', 'preferred_username'],
        email: ['email', 'email_verified'],
      },
      scopes: ['openid', 'profile', 'email'],
      responseTypes: ['code'],
      pkce: { required: () => true },
      features: {
        devInteractions: { enabled: true },
        rpInitiatedLogout: { enabled: opts.logout !== false },
        revocation: { enabled: false },
        introspection: { enabled: false },
        registration: { enabled: false },
        userinfo: { enabled: true },
      },
      async findAccount(ctx, id) {
        // id is the account's sub (the login form's login was mapped to it
        // on the way in, see mapLoginBody).
        const login = Object.keys(accounts).find(l => accounts[l].sub === id) || (id.startsWith('sub-') ? id.slice(4) : id);
        const claims = claimsFor(accounts, login);
        return { accountId: id, async claims() { return { ...claims, sub: id }; } };
      },
      async loadExistingGrant(ctx) {
        const grantId = (ctx.oidc.result && ctx.oidc.result.consent && ctx.oidc.result.consent.grantId) ||
          ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
        if (grantId) {
          // A grant is gone once its code was replayed (the provider revokes
          // it); a first-party client then just gets a new one.
          const found = await ctx.oidc.provider.Grant.find(grantId);
          if (found || opts.consent) return found;
        }
        if (opts.consent) return undefined;
        const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
        grant.addOIDCScope('openid profile email');
        grant.addOIDCClaims(['name', 'preferred_username', 'email', 'email_verified']);
        await grant.save();
        return grant;
      },
      ttl: {
        AuthorizationCode: 120,
        IdToken: 3600,
        AccessToken: 3600,
        Interaction: 600,
        Session: 3600,
        Grant: 3600,
      },
    });
    provider.use(async (ctx, next) => {
      state.requests.push(`${ctx.method} ${ctx.path}`);
      if (ctx.path === '/jwks') state.jwksRequests++;
      if (ctx.path === '/token') state.tokenRequests++;
      await next();
      if (ctx.path === '/token' && tamperFn && ctx.body && typeof ctx.body === 'object' && ctx.body.id_token) {
        ctx.body = { ...ctx.body, id_token: tamperFn(ctx.body.id_token) };
      }
    });
    provider.on('server_error', (ctx, err) => { state.lastServerError = err; });
    return provider;
  }

  // devInteractions makes the login typed in (any text) the accountId, i.e.
  // the sub. Accounts listed by login have their own sub: rewrite the
  // submitted login before the provider sees it, so `login=ada` signs in as
  // sub-ada-0001 and any other login x as sub-x.
  function mapLoginBody(body) {
    const params = Object.fromEntries(new URLSearchParams(body));
    if (params.prompt === 'login') {
      state.logins.push(params.login || '');
      params.login = claimsFor(accounts, params.login || '').sub;
    }
    return params;
  }

  let provider = build();
  let handler = provider.callback();
  const sockets = new Set();

  const server = http.createServer((req, res) => {
    if (prefix) {
      if (req.url !== prefix && !req.url.startsWith(prefix + '/') && !req.url.startsWith(prefix + '?')) {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('not under ' + prefix);
        return;
      }
      req.originalUrl = req.url;
      req.url = req.url.slice(prefix.length) || '/';
      if (req.url.startsWith('?')) req.url = '/' + req.url;
    }
    const path = req.url.split('?')[0];
    if (req.method === 'POST' && /^\/interaction\/[^/]+$/.test(path)) {
      // The login form: read the (small, urlencoded) body, map the login to
      // the account's sub, and hand the provider the parsed body (it uses
      // req.body when the stream has already been read).
      const chunks = [];
      let size = 0;
      req.on('data', c => { size += c.length; if (size <= 65536) chunks.push(c); });
      req.on('end', () => {
        req.body = mapLoginBody(Buffer.concat(chunks).toString('utf8'));
        handler(req, res);
      });
      return;
    }
    handler(req, res);
  });
  server.on('connection', s => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });

  const op = {
    issuer,
    url,
    port,
    pathPrefix: prefix,
    client: clients[0],
    clients,
    accounts,
    get keys() { return keys; },
    get provider() { return provider; },
    get jwksRequests() { return state.jwksRequests; },
    get tokenRequests() { return state.tokenRequests; },
    get requests() { return state.requests; },
    // the logins typed into the provider's sign-in form, in order
    get logins() { return state.logins; },
    // fn(idToken) -> the id_token to send instead; null turns it off.
    tamper(fn) { tamperFn = fn || null; },
    // Switches to a new signing key set: the next token is signed with it and
    // the JWKS publishes only it. Port, issuer, clients and sessions stay.
    rotate(newKeys) {
      keys = newKeys;
      provider = build();
      handler = provider.callback();
    },
    restartWithKeys(newKeys) { op.rotate(newKeys); },
    // Same as rotate, for other client lists (e.g. onair on another port).
    setClients(newClients) {
      clients = newClients;
      op.client = clients[0];
      op.clients = clients;
      provider = build();
      handler = provider.callback();
    },
    endpoint(name) { return provider.urlFor(name); },
    async stop() {
      await new Promise(resolve => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
  return op;
}

module.exports = { startProvider, clientFor, CLIENT_ID, CLIENT_SECRET, DEFAULT_ACCOUNTS, freePort };
