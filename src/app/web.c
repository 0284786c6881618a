/* HTTP routes: pages, assets, the JSON API (docs/protocol.md) and the
 * WebSocket upgrade. */
#include <errno.h>
#include <http_parser.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme.h"
#include "acme/msg.h"
#include "app/app.h"
#include "app/cluster.h"
#include "app/web.h"
#include "auth/device.h"
#include "auth/pwhash.h"
#include "auth/session.h"
#include "auth/streamkey.h"
#include "http/static.h"
#include "net/tls.h"
#include "util/log.h"

#define PASSWORD_MIN 8

/* Async sign-up / sign-in state; holds a reference on the connection. */
struct auth_job {
  struct app *app;
  struct conn *conn;
  int64_t user_id;
  char name[DB_NAME_MAX + 1];
  char ukey[DB_NAME_MAX + 3];          /* throttle key for the name */
  char akey[DB_NAME_MAX + 3 + 64 + 2]; /* the name at the address, or on the device */
  char ikey[64];                       /* throttle key for the address */
  int trusted_device;                  /* the browser has the name's device cookie */
  char client_ip[46];                  /* for the log */
  int disabled;                        /* the account is disabled: refused even with the password */
};

static struct app *conn_app(struct conn *c) { return c->app; }

/* The store (PostgreSQL) cannot be reached: nobody is told a wrong password
 * or signed out for it. */
static void respond_store_away(struct conn *c) {
  http_respond_error(c, 503, "store_unavailable",
                     "onair cannot reach its database just now; try again in a few seconds.");
}

int web_request_user(struct app *app, const struct http_req *req, struct who *who) {
  if (http_req_cookie(req, app->cookie_name, who->token, sizeof(who->token)) < 0)
    return -ENOENT;
  struct db_user u;
  int rc = session_lookup(app->db, who->token, &who->id);
  if (rc == 0)
    rc = db_user_get(app->db, who->id, &u);
  if (rc == -EIO)
    return -EIO; /* the store is away: not known to be signed out */
  if (rc < 0 || u.disabled)
    return -ENOENT;
  snprintf(who->name, sizeof(who->name), "%s", u.name);
  who->admin = u.admin;
  return 0;
}

/* State changes need an Origin equal to our own (CSRF guard). */
int web_origin_ok(struct app *app, const struct http_req *req) {
  size_t olen, hlen;
  const char *origin = http_req_header(req, "origin", &olen);
  const char *host = http_req_header(req, "host", &hlen);
  if (origin == NULL)
    return 0;
  if (cluster_origin_ok(app, origin, olen))
    return 1; /* a page of another node of the cluster, reconnecting here */
  const char *base = app->cfg->base_url;
  size_t blen = strlen(base);
  while (blen && base[blen - 1] == '/')
    blen--;
  /* With a configured public URL, only that origin counts: the Host header
   * is the client's to choose (DNS rebinding). */
  if (blen)
    return olen == blen && memcmp(origin, base, blen) == 0;
  if (host == NULL)
    return 0;
  static const char *const schemes[] = {"http://", "https://"};
  for (int i = 0; i < 2; i++) {
    size_t sl = strlen(schemes[i]);
    if (olen == sl + hlen && memcmp(origin, schemes[i], sl) == 0 &&
        memcmp(origin + sl, host, hlen) == 0)
      return 1;
  }
  return 0;
}

void web_respond_json(struct conn *c, int status, const char *extra, json_t *j) {
  char *s = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  if (s == NULL) {
    http_respond_error(c, 500, "internal", "out of memory");
    return;
  }
  http_respond(c, status, "application/json", extra, s, strlen(s));
  free(s);
}

static void respond_405(struct conn *c, const char *allow) {
  static const char body[] = "{\"error\":\"method_not_allowed\",\"message\":\"Wrong method.\"}";
  http_respond(c, 405, "application/json", allow, body, sizeof(body) - 1);
}

int web_site_url(struct app *app, const struct http_req *req, char *out, size_t size) {
  const char *base = app->cfg->base_url;
  size_t hlen, blen = strlen(base);
  while (blen && base[blen - 1] == '/')
    blen--;
  if (blen) {
    snprintf(out, size, "%.*s", (int)blen, base);
    return 0;
  }
  const char *host = http_req_header(req, "host", &hlen);
  if (host == NULL || hlen == 0 || hlen > 255 || memchr(host, '/', hlen) || memchr(host, '"', hlen))
    return -EINVAL;
  snprintf(out, size, "%s://%.*s", req->tls ? "https" : "http", (int)hlen, host);
  return 0;
}

void web_next_path(const char *next, char *out, size_t size) {
  /* Only a path on this site: "/x", not "//host" or "/\\host". */
  int ok = next[0] == '/' && next[1] != '/' && next[1] != '\\';
  for (const char *p = next; ok && *p; p++)
    ok = (unsigned char)*p > 0x20 && *p != 0x7f && *p != '"';
  snprintf(out, size, "%s", ok && strlen(next) < size ? next : "/dashboard");
}

void web_respond_redirect(struct conn *c, const char *location) {
  char extra[1200];
  snprintf(extra, sizeof(extra), "Location: %s\r\nCache-Control: no-store\r\n", location);
  http_respond(c, 303, NULL, extra, NULL, 0);
}

/* A session for a password sign-in or sign-up, and a new device cookie
 * for the name: this browser is the owner's from now on. */
static void respond_with_session(struct conn *c, int status, int64_t user_id, const char *name) {
  struct app *app = conn_app(c);
  char token[SESSION_TOKEN_LEN + 1], device[DEVICE_COOKIE_LEN + 1], extra[512];
  if (session_create(app->db, user_id, app->cfg->session_ttl_ms, token) < 0) {
    http_respond_error(c, 500, "internal", "Could not start a session; try again.");
    return;
  }
  device_cookie_make(app->device_key, name, strlen(name), device);
  snprintf(extra, sizeof(extra),
           "Set-Cookie: %s=%s; Max-Age=%" PRId64 "%s\r\n"
           "Set-Cookie: %s=%s; Max-Age=%d%s\r\nCache-Control: no-store\r\n",
           app->cookie_name, token, app->cfg->session_ttl_ms / 1000, app->cookie_attrs,
           app->device_cookie_name, device, DEVICE_COOKIE_MAX_AGE_S, app->cookie_attrs);
  web_respond_json(c, status, extra, json_pack("{s:{s:s}}", "user", "name", name));
}

/* Parses {"username":..., "password":...}. Returns 0 or an error sent. */
static int read_credentials(struct conn *c, const struct http_req *req, const char **name,
                            size_t *nlen, const char **pw, size_t *pwlen, json_t **root) {
  json_error_t err;
  *root = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &err);
  json_t *u = json_object_get(*root, "username"), *p = json_object_get(*root, "password");
  if (!json_is_string(u) || !json_is_string(p)) {
    http_respond_error(c, 400, "bad_request", "Send a username and a password.");
    return -EINVAL;
  }
  *name = json_string_value(u);
  *nlen = json_string_length(u);
  *pw = json_string_value(p);
  *pwlen = json_string_length(p);
  return 0;
}

static void auth_job_free(struct auth_job *job) {
  struct app *app = job->app;
  conn_unref(job->conn);
  free(job);
  app_job_end(app);
}

static void signup_hashed(void *arg, int rc, const char *hash) {
  struct auth_job *job = arg;
  struct conn *c = job->conn;
  if (c->closing)
    goto out;
  if (rc < 0) {
    http_respond_error(c, 503, "busy", "Could not create the account; try again.");
    goto out;
  }
  int64_t id;
  rc = db_user_create(job->app->db, job->name, hash, &id);
  if (rc == -EEXIST) {
    http_respond_error(c, 409, "username_taken", "That username is taken.");
    goto out;
  }
  if (rc < 0) {
    http_respond_error(c, 500, "internal", "Could not create the account; try again.");
    goto out;
  }
  log_ev(LOG_INFO, "signed up", LOG_S("user", job->name), LOG_S("ip", job->client_ip));
  respond_with_session(c, 201, id, job->name);
out:
  auth_job_free(job);
}

static struct auth_job *auth_job_new(struct conn *c, const struct http_req *req, const char *name,
                                     size_t nlen) {
  struct auth_job *job = calloc(1, sizeof(*job));
  if (job == NULL)
    return NULL;
  job->app = conn_app(c);
  job->conn = c;
  memcpy(job->name, name, nlen);
  job->name[nlen] = 0;
  snprintf(job->ukey, sizeof(job->ukey), "u:");
  for (size_t i = 0; i < nlen; i++)
    job->ukey[2 + i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] + 32) : name[i];
  job->ukey[2 + nlen] = 0;
  snprintf(job->ikey, sizeof(job->ikey), "ip:%s", req->client_ip);
  /* The name on this device (a valid device cookie for it), else at this
   * address: one guesser is slowed on one name wherever it comes from. */
  char cookie[DEVICE_COOKIE_LEN + 2], nonce[DEVICE_NONCE_LEN + 1];
  if (http_req_cookie(req, job->app->device_cookie_name, cookie, sizeof(cookie)) >= 0 &&
      device_cookie_check(job->app->device_key, name, nlen, cookie, nonce) == 0) {
    job->trusted_device = 1;
    snprintf(job->akey, sizeof(job->akey), "%s|d:%s", job->ukey, nonce);
  } else {
    snprintf(job->akey, sizeof(job->akey), "%s|%s", job->ukey, job->ikey);
  }
  snprintf(job->client_ip, sizeof(job->client_ip), "%s", req->client_ip);
  conn_ref(c);
  app_job_begin(job->app);
  return job;
}

/* 429 with Retry-After: "<why>; try again in N seconds." */
static void respond_throttled(struct conn *c, uint64_t wait_ms, const char *why) {
  char extra[64], msg[128];
  uint64_t secs = (wait_ms + 999) / 1000;
  snprintf(extra, sizeof(extra), "Retry-After: %" PRIu64 "\r\n", secs);
  snprintf(msg, sizeof(msg), "%s; try again in %" PRIu64 " second%s.", why, secs,
           secs == 1 ? "" : "s");
  web_respond_json(c, 429, extra, json_pack("{s:s, s:s}", "error", "throttled", "message", msg));
}

/* Takes one token of b (burst, then per_sec); returns 0 or the ms until
 * there is one. */
static uint64_t bucket_wait_ms(struct chat_bucket *b, unsigned burst, double per_sec,
                               uint64_t now) {
  if (chat_bucket_take(b, burst, per_sec, now) == 0)
    return 0;
  return (uint64_t)((1.0 - b->tokens) * 1000.0 / per_sec) + 1;
}

/* New accounts per address and in all (docs/operations.md, "Limits"): a
 * script cannot fill the database, nor the hashing queue sign-ins use. */
static int signup_allowed(struct conn *c, const struct http_req *req) {
  struct app *app = conn_app(c);
  uint64_t now = uv_now(app->loop);
  size_t len = strlen(req->client_ip);
  const struct config *cfg = app->cfg;
  struct chat_bucket *b =
      cfg->signup_per_ip ? map_get(&app->signup_by_ip, req->client_ip, len) : NULL;
  if (b == NULL && cfg->signup_per_ip && app->signup_by_ip.count < SIGNUP_MAX_ADDRESSES &&
      (b = calloc(1, sizeof(*b))) != NULL &&
      map_put(&app->signup_by_ip, req->client_ip, len, b) < 0) {
    free(b);
    b = NULL;
  }
  uint64_t wait = b ? bucket_wait_ms(b, cfg->signup_per_ip, SIGNUP_PER_IP_PER_S, now) : 0;
  if (wait) {
    respond_throttled(c, wait, "Too many new accounts from your address");
    return 0;
  }
  unsigned burst = (unsigned)(cfg->signup_per_sec * SIGNUP_ALL_BURST_S);
  wait = cfg->signup_per_sec > 0
             ? bucket_wait_ms(&app->signup_all, burst ? burst : 1, cfg->signup_per_sec, now)
             : 0;
  if (wait) {
    respond_throttled(c, wait, "Too many new accounts at the moment");
    return 0;
  }
  return 1;
}

/* The hashing queue is full: 503, and when to come back. */
static void respond_busy(struct conn *c) {
  web_respond_json(c, 503, "Retry-After: 1\r\n",
                   json_pack("{s:s, s:s}", "error", "busy", "message",
                             "The server is busy; try again in a moment."));
}

static void signup_start(struct conn *c, const struct http_req *req, const char *name, size_t nlen,
                         const char *pw, size_t pwlen) {
  struct app *app = conn_app(c);
  struct auth_job *job = auth_job_new(c, req, name, nlen);
  int rc = job ? pwhash_hash_async(app->loop, pw, pwlen, signup_hashed, job) : -ENOMEM;
  if (rc < 0) {
    if (job)
      auth_job_free(job);
    respond_busy(c);
  }
}

static void api_signup(struct conn *c, struct http_req *req, const struct who *who) {
  struct app *app = conn_app(c);
  const char *name, *pw;
  size_t nlen, pwlen;
  json_t *root;
  if (!app->cfg->signup) {
    http_respond_error(c, 403, "signup_disabled", "Sign-up is turned off on this server.");
    return;
  }
  if (read_credentials(c, req, &name, &nlen, &pw, &pwlen, &root) < 0)
    goto out;
  if (!rooms_name_ok(name, nlen)) {
    http_respond_error(c, 400, "bad_username", "Usernames are 1 to 32 letters, digits, _ or -.");
    goto out;
  }
  if (pwlen < PASSWORD_MIN || pwlen > PWHASH_MAX_PASSWORD) {
    http_respond_error(c, 400, "bad_password", "Passwords are 8 to 256 characters.");
    goto out;
  }
  struct db_user existing;
  int frc = db_user_find(app->db, name, &existing);
  if (frc == 0) {
    http_respond_error(c, 409, "username_taken", "That username is taken.");
    goto out;
  }
  if (frc == -EIO) {
    respond_store_away(c);
    goto out;
  }
  if (signup_allowed(c, req))
    signup_start(c, req, name, nlen, pw, pwlen);
out:
  json_decref(root);
}

static void signin_checked(void *arg, int rc, const char *hash) {
  struct auth_job *job = arg;
  struct app *app = job->app;
  struct conn *c = job->conn;
  uint64_t now = uv_now(app->loop);
  if (rc < 0) {
    throttle_fail(&app->throttle_user, job->ukey, now);
    throttle_fail(&app->throttle_user_at, job->akey, now);
    throttle_fail(&app->throttle_ip, job->ikey, now);
    app->counters.signin_failures++;
    log_ev(LOG_INFO, "sign-in failed", LOG_S("user", job->name), LOG_S("ip", job->client_ip));
    if (!c->closing)
      http_respond_error(c, 401, "bad_credentials", "Wrong username or password.");
    goto out;
  }
  /* The per-name count stays: an attacker's guesses are not forgiven when
   * the owner signs in (it forgets them after 15 quiet minutes). */
  throttle_success(&app->throttle_user_at, job->akey);
  if (job->disabled) {
    log_ev(LOG_INFO, "sign-in of a disabled account", LOG_S("user", job->name),
           LOG_S("ip", job->client_ip));
    if (!c->closing)
      http_respond_error(c, 403, "account_disabled", "This account is disabled.");
    goto out;
  }
  if (!c->closing)
    respond_with_session(c, 200, job->user_id, job->name);
out:
  auth_job_free(job);
}

/* How long job's sign-in must wait: the longest of its address's, its
 * name's at that address (or on that device), and, unless the browser holds
 * the name's device cookie, its name's from anywhere. */
static uint64_t signin_wait_ms(struct app *app, const struct auth_job *job, uint64_t now) {
  uint64_t wait = throttle_wait_ms(&app->throttle_ip, job->ikey, now);
  uint64_t at = throttle_wait_ms(&app->throttle_user_at, job->akey, now);
  uint64_t name = job->trusted_device ? 0 : throttle_wait_ms(&app->throttle_user, job->ukey, now);
  if (at > wait)
    wait = at;
  return name > wait ? name : wait;
}

static void api_signin(struct conn *c, struct http_req *req, const struct who *who) {
  struct app *app = conn_app(c);
  const char *name, *pw;
  size_t nlen, pwlen;
  json_t *root;
  if (read_credentials(c, req, &name, &nlen, &pw, &pwlen, &root) < 0)
    goto out;
  if (nlen > DB_NAME_MAX || pwlen > PWHASH_MAX_PASSWORD) {
    http_respond_error(c, 401, "bad_credentials", "Wrong username or password.");
    goto out;
  }
  struct auth_job *job = auth_job_new(c, req, name, nlen);
  if (job == NULL) {
    http_respond_error(c, 503, "busy", "Try again.");
    goto out;
  }
  uint64_t wait = signin_wait_ms(app, job, uv_now(app->loop));
  if (wait) {
    respond_throttled(c, wait, "Too many failed sign-ins");
    auth_job_free(job);
    goto out;
  }
  struct db_user u;
  int frc = db_user_find(app->db, name, &u), found = frc == 0;
  if (frc == -EIO) { /* not a wrong password: nothing is counted against it */
    respond_store_away(c);
    auth_job_free(job);
    goto out;
  }
  if (found) {
    job->user_id = u.id;
    job->disabled = u.disabled;
    snprintf(job->name, sizeof(job->name), "%s", u.name);
  }
  if (pwhash_verify_async(app->loop, found ? u.pwhash : NULL, pw, pwlen, signin_checked, job) < 0) {
    auth_job_free(job);
    respond_busy(c);
  }
out:
  json_decref(root);
}

static void api_signout(struct conn *c, struct http_req *req, const struct who *who) {
  struct app *app = conn_app(c);
  char token[SESSION_TOKEN_LEN + 1], extra[256];
  char *logout_url = NULL;
  if (http_req_cookie(req, app->cookie_name, token, sizeof(token)) >= 0 &&
      session_token_ok(token)) {
    logout_url = web_oidc_logout_url(app, req, token);
    session_destroy(app->db, token);
    live_close_session(app, token);
    cluster_signout(app, token);
  }
  snprintf(extra, sizeof(extra), "Set-Cookie: %s=; Max-Age=0%s\r\nCache-Control: no-store\r\n",
           app->cookie_name, app->cookie_attrs);
  if (logout_url) {
    /* The provider's session ends too (RP-initiated logout): the page goes there. */
    web_respond_json(c, 200, extra, json_pack("{s:s}", "logout_url", logout_url));
    free(logout_url);
    return;
  }
  http_respond(c, 204, NULL, extra, NULL, 0);
}

static void api_rooms(struct conn *c, struct http_req *req, const struct who *who) {
  char *s = live_rooms_json(conn_app(c));
  if (s == NULL) {
    http_respond_error(c, 500, "internal", "out of memory");
    return;
  }
  http_respond(c, 200, "application/json", "Cache-Control: no-store\r\n", s, strlen(s));
  free(s);
}

static void api_me(struct conn *c, struct http_req *req, const struct who *who) {
  web_respond_json(c, 200, "Cache-Control: no-store\r\n",
                   json_pack("{s:{s:s, s:b}}", "user", "name", who->name, "admin", who->admin));
}

/* The user's stream key or watch token (by the path: /api/stream-key...,
 * /api/watch-token...). */
static enum key_kind api_key_kind(const struct http_req *req) {
  return strncmp(req->path, "/api/watch-token", 16) == 0 ? KEY_WATCH : KEY_STREAM;
}

/* Whether the user has one and when it was made; never the key itself
 * (onair keeps only its hash). */
static void api_key(struct conn *c, struct http_req *req, const struct who *who) {
  int64_t created = 0;
  int rc = streamkey_info(conn_app(c)->db, api_key_kind(req), who->id, &created);
  if (rc < 0 && rc != -ENOENT)
    return http_respond_error(c, 500, "storage", "Could not read your key.");
  web_respond_json(c, 200, "Cache-Control: no-store\r\n",
                   rc == 0 ? json_pack("{s:b, s:I}", "exists", 1, "created", (json_int_t)created)
                           : json_pack("{s:b, s:n}", "exists", 0, "created"));
}

/* A new one for the user, shown this once; the old one stops working at
 * once. */
static void api_key_new(struct conn *c, struct http_req *req, const struct who *who) {
  char key[STREAMKEY_LEN + 1];
  int64_t created = 0;
  enum key_kind kind = api_key_kind(req);
  if (streamkey_new(conn_app(c)->db, kind, who->id, key, &created) < 0)
    return http_respond_error(c, 500, "storage", "Could not make a key.");
  log_ev(LOG_INFO, kind == KEY_WATCH ? "watch token made" : "stream key made",
         LOG_S("user", who->name));
  web_respond_json(c, 200, "Cache-Control: no-store\r\n",
                   json_pack("{s:s, s:I}", "key", key, "created", (json_int_t)created));
  sodium_memzero(key, sizeof(key));
}

/* The user's key stops working; no new one. */
static void api_key_revoke(struct conn *c, struct http_req *req, const struct who *who) {
  enum key_kind kind = api_key_kind(req);
  if (streamkey_revoke(conn_app(c)->db, kind, who->id) < 0)
    return http_respond_error(c, 500, "storage", "Could not revoke the key.");
  log_ev(LOG_INFO, kind == KEY_WATCH ? "watch token revoked" : "stream key revoked",
         LOG_S("user", who->name));
  web_respond_json(c, 200, "Cache-Control: no-store\r\n", json_pack("{s:b}", "exists", 0));
}

static void route_ws(struct conn *c, struct http_req *req, const struct who *who) {
  int status = live_accept(conn_app(c), c, req, who->id, who->name, who->token);
  if (status == 426) {
    static const char body[] =
        "{\"error\":\"bad_upgrade\",\"message\":\"WebSocket version 13 is required.\"}";
    http_respond(c, 426, "application/json", "Sec-WebSocket-Version: 13\r\n", body,
                 sizeof(body) - 1);
  } else if (status == 429) {
    http_respond_error(c, 429, "too_many_connections",
                       "Too many pages are open from your address; close one and retry.");
  } else if (status) {
    http_respond_error(c, status, "bad_upgrade", "A WebSocket upgrade was expected.");
  }
}

/* Host without its port: "example.org", "[::1]". */
static size_t host_name_len(const char *host, size_t len) {
  const char *end = host[0] == '[' ? memchr(host, ']', len) : NULL;
  if (end)
    return (size_t)(end - host) + 1;
  const char *colon = memchr(host, ':', len);
  return colon ? (size_t)(colon - host) : len;
}

/* This site on HTTPS: base-url when it is https, else the Host's name with
 * the HTTPS port. -EINVAL for a Host that cannot be put in a URL. */
static int https_site(struct app *app, const struct http_req *req, char *out, size_t size) {
  if (strncmp(app->cfg->base_url, "https://", 8) == 0)
    return web_site_url(app, req, out, size);
  size_t hlen;
  const char *host = http_req_header(req, "host", &hlen);
  if (host == NULL || hlen == 0 || hlen > 255)
    return -EINVAL;
  for (size_t i = 0; i < hlen; i++) {
    if (host[i] <= ' ' || host[i] == '/' || host[i] == '\\' || host[i] == '"' || host[i] == '@')
      return -EINVAL;
  }
  int n = (int)host_name_len(host, hlen);
  int port = app->cfg->listen_port;
  if (port == 443)
    snprintf(out, size, "https://%.*s", n, host);
  else
    snprintf(out, size, "https://%.*s:%d", n, host, port);
  return 0;
}

/* GET /.well-known/acme-challenge/<token>, on both listeners: the key
 * authorization of an HTTP-01 challenge the ACME client is answering now
 * (RFC 8555 8.3); any other token is not found. */
static void route_acme_challenge(struct conn *c, struct http_req *req, const struct who *who) {
  const char *token = req->path + strlen(ACME_CHALLENGE_PATH);
  const char *answer =
      acme_token_ok(token, strlen(token)) ? acme_challenge_answer(conn_app(c)->acme, token) : NULL;
  if (answer == NULL)
    return http_respond_error(c, 404, "not_found", "No such challenge.");
  http_respond(c, 200, "application/octet-stream", "Cache-Control: no-store\r\n", answer,
               strlen(answer));
}

void app_redirect_to_https(struct conn *c, struct http_req *req) {
  char site[300], extra[1500];
  struct app *app = conn_app(c);
  if (req->method == HTTP_GET &&
      strncmp(req->path, ACME_CHALLENGE_PATH, strlen(ACME_CHALLENGE_PATH)) == 0)
    return route_acme_challenge(c, req, NULL);
  if (app->acme && !tls_ctx_ready(app->tls)) {
    /* tls-domain before its first certificate: HTTPS refuses connections. */
    static const char body[] = "{\"error\":\"no_certificate\",\"message\":\"This site is "
                               "getting its HTTPS certificate. Try again in a minute.\"}";
    http_respond(c, 503, "application/json", "Retry-After: 30\r\nCache-Control: no-store\r\n", body,
                 sizeof(body) - 1);
    return;
  }
  if (https_site(conn_app(c), req, site, sizeof(site)) < 0) {
    http_respond_error(c, 400, "bad_host", "This site is served over HTTPS.");
    return;
  }
  /* The same path and query; one too long for a header goes to the front page. */
  int fits = req->path_len + strlen(req->query) < 1024;
  snprintf(extra, sizeof(extra), "Location: %s%s%s%s\r\nCache-Control: no-store\r\n", site,
           fits ? req->path : "/", fits && req->query[0] ? "?" : "", fits ? req->query : "");
  http_respond(c, 308, NULL, extra, NULL, 0);
}

/* The front page, or the dashboard for a signed-in user. */
static void route_front(struct conn *c, struct http_req *req, const struct who *who) {
  struct who me;
  if (web_request_user(conn_app(c), req, &me) == 0)
    return web_respond_redirect(c, "/dashboard");
  static_serve(&conn_app(c)->files, c, req, "index.html");
}

static int view_name_ok(const char *rest) { return rooms_name_ok(rest, strlen(rest)); }

static void route_metrics(struct conn *c, struct http_req *req, const struct who *who) {
  metrics_serve(c, req);
}

static void route_health(struct conn *c, struct http_req *req, const struct who *who) {
  metrics_health(c, req);
}

/* Who may use a route. */
enum route_access {
  ROUTE_PUBLIC,
  ROUTE_API_USER,   /* signed in, else 401 */
  ROUTE_PAGE,       /* signed in, else 303 to the sign-in page */
  ROUTE_SOCKET,     /* signed in (401) and from this site (403) */
  ROUTE_ADMIN,      /* signed in (401) as an admin (403) */
  ROUTE_ADMIN_PAGE, /* signed in (303 to sign in) as an admin (403) */
  ROUTE_ENCODER,    /* from any site, any method: the route checks its Bearer key (whip.c) */
};

typedef void (*route_fn)(struct conn *c, struct http_req *req, const struct who *who);

/* One row per URL of docs/protocol.md. A path ending in '/' is a prefix:
 * rest_ok (if set) must accept what follows it. A row serves file when it
 * has no fn. A POST needs this site's Origin. */
struct route {
  const char *path;
  int method; /* HTTP_GET or HTTP_POST; ROUTE_ANY_METHOD: the route's own business */
  enum route_access access;
  route_fn fn;
  const char *file;
  int (*rest_ok)(const char *rest);
};

#define ROUTE_ANY_METHOD (-1)

static void route_whip(struct conn *c, struct http_req *req, const struct who *who) {
  (void)who;
  whip_route(c, req);
}

/* WHEP players are the signed-in user's (its cookie) or guests. */
static void route_whep(struct conn *c, struct http_req *req, const struct who *who) {
  (void)who;
  struct who user;
  whep_route(c, req, web_request_user(conn_app(c), req, &user) == 0 ? &user : NULL);
}

/* Another node's requests: signed with the cluster secret (cluster_pull.c). */
static void route_cluster(struct conn *c, struct http_req *req, const struct who *who) {
  (void)who;
  cluster_route(c, req);
}

static const struct route routes[] = {
    {"/api/signup", HTTP_POST, ROUTE_PUBLIC, api_signup, NULL, NULL},
    {"/api/signin", HTTP_POST, ROUTE_PUBLIC, api_signin, NULL, NULL},
    {"/api/signout", HTTP_POST, ROUTE_PUBLIC, api_signout, NULL, NULL},
    {"/api/auth", HTTP_GET, ROUTE_PUBLIC, web_auth_info, NULL, NULL},
    {"/api/me", HTTP_GET, ROUTE_API_USER, api_me, NULL, NULL},
    {"/api/rooms", HTTP_GET, ROUTE_API_USER, api_rooms, NULL, NULL},
    {"/api/stream-key", HTTP_GET, ROUTE_API_USER, api_key, NULL, NULL},
    {"/api/stream-key/new", HTTP_POST, ROUTE_API_USER, api_key_new, NULL, NULL},
    {"/api/stream-key/revoke", HTTP_POST, ROUTE_API_USER, api_key_revoke, NULL, NULL},
    {"/api/watch-token", HTTP_GET, ROUTE_API_USER, api_key, NULL, NULL},
    {"/api/watch-token/new", HTTP_POST, ROUTE_API_USER, api_key_new, NULL, NULL},
    {"/api/watch-token/revoke", HTTP_POST, ROUTE_API_USER, api_key_revoke, NULL, NULL},
    {"/api/rooms/", HTTP_GET, ROUTE_PUBLIC, web_room_info, NULL, NULL},
    {"/api/admin/rooms", HTTP_GET, ROUTE_ADMIN, admin_api_rooms, NULL, NULL},
    {"/api/admin/rooms/end", HTTP_POST, ROUTE_ADMIN, admin_api_end_room, NULL, NULL},
    {"/api/admin/users", HTTP_GET, ROUTE_ADMIN, admin_api_users, NULL, NULL},
    {"/api/admin/users/disable", HTTP_POST, ROUTE_ADMIN, admin_api_disable, NULL, NULL},
    {"/api/admin/users/enable", HTTP_POST, ROUTE_ADMIN, admin_api_enable, NULL, NULL},
    {"/api/admin/users/admin", HTTP_POST, ROUTE_ADMIN, admin_api_set_admin, NULL, NULL},
    {"/admin", HTTP_GET, ROUTE_ADMIN_PAGE, NULL, "admin.html", NULL},
    {"/ws", HTTP_GET, ROUTE_SOCKET, route_ws, NULL, NULL},
    {"/whip", ROUTE_ANY_METHOD, ROUTE_ENCODER, route_whip, NULL, NULL},
    {"/whip/", ROUTE_ANY_METHOD, ROUTE_ENCODER, route_whip, NULL, NULL},
    {"/whep/", ROUTE_ANY_METHOD, ROUTE_ENCODER, route_whep, NULL, NULL},
    {"/cluster/", ROUTE_ANY_METHOD, ROUTE_ENCODER, route_cluster, NULL, NULL},
    {"/assets/", HTTP_GET, ROUTE_PUBLIC, NULL, NULL, NULL},
    {"/auth/oidc/start", HTTP_GET, ROUTE_PUBLIC, web_oidc_start, NULL, NULL},
    {"/authorization-code/callback", HTTP_GET, ROUTE_PUBLIC, web_oidc_callback, NULL, NULL},
    {"/favicon.ico", HTTP_GET, ROUTE_PUBLIC, NULL, "assets/favicon.ico", NULL},
    {"/", HTTP_GET, ROUTE_PUBLIC, route_front, NULL, NULL},
    {"/dashboard", HTTP_GET, ROUTE_PAGE, NULL, "dashboard.html", NULL},
    {"/broadcast", HTTP_GET, ROUTE_PAGE, NULL, "broadcast.html", NULL},
    {"/view/", HTTP_GET, ROUTE_PUBLIC, web_view_page, NULL, view_name_ok},
    {"/metrics", HTTP_GET, ROUTE_PUBLIC, route_metrics, NULL, NULL}, /* metrics-allow only */
    {"/healthz", HTTP_GET, ROUTE_PUBLIC, route_health, NULL, NULL},
    {ACME_CHALLENGE_PATH, HTTP_GET, ROUTE_PUBLIC, route_acme_challenge, NULL, NULL},
};

static const struct route *route_find(const char *path) {
  for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
    const struct route *rt = &routes[i];
    size_t n = strlen(rt->path);
    int prefix = n > 1 && rt->path[n - 1] == '/';
    if (prefix ? strncmp(path, rt->path, n) == 0 && (!rt->rest_ok || rt->rest_ok(path + n))
               : strcmp(path, rt->path) == 0)
      return rt;
  }
  return NULL;
}

/* Refuses what the route's access rule refuses; returns 0 to go on. */
static int route_admit(struct conn *c, struct http_req *req, const struct route *rt,
                       struct who *who) {
  struct app *app = conn_app(c);
  if (rt->access == ROUTE_ENCODER)
    return 0;
  if ((req->method == HTTP_POST || rt->access == ROUTE_SOCKET) && !web_origin_ok(app, req)) {
    http_respond_error(c, 403, "bad_origin",
                       rt->access == ROUTE_SOCKET ? "Cross-site WebSocket refused."
                                                  : "Cross-site requests are refused.");
    return -EPERM;
  }
  if (rt->access == ROUTE_PUBLIC)
    return 0;
  int rc = web_request_user(app, req, who);
  if (rc == -EIO) {
    respond_store_away(c);
    return -EPERM;
  }
  if (rc == 0) {
    int admin_only = rt->access == ROUTE_ADMIN || rt->access == ROUTE_ADMIN_PAGE;
    if (!admin_only || who->admin)
      return 0;
    http_respond_error(c, 403, "not_admin", "Only an admin may do that.");
    return -EPERM;
  }
  if (rt->access == ROUTE_SOCKET && app->cfg->public_watch) {
    memset(who, 0, sizeof(*who)); /* a guest: watches, never chats nor goes live (live.c) */
    return 0;
  }
  if (rt->access == ROUTE_PAGE || rt->access == ROUTE_ADMIN_PAGE) {
    char loc[1100];
    snprintf(loc, sizeof(loc), "/?next=%s", req->path);
    web_respond_redirect(c, loc);
  } else {
    http_respond_error(c, 401, "signed_out", "Sign in first.");
  }
  return -EPERM;
}

void app_on_request(struct conn *c, struct http_req *req) {
  const struct route *rt = route_find(req->path);
  int api = strncmp(req->path, "/api/", 5) == 0;
  if (rt == NULL && api)
    return http_respond_error(c, 404, "not_found", "No such API.");
  if (rt == NULL && req->method == HTTP_GET)
    return http_respond_error(c, 404, "not_found", "No such page.");
  if (rt == NULL || (rt->method != ROUTE_ANY_METHOD && req->method != rt->method))
    return respond_405(c, rt && rt->method == HTTP_POST ? "Allow: POST\r\n" : "Allow: GET\r\n");
  struct who who;
  if (route_admit(c, req, rt, &who) < 0)
    return;
  if (rt->fn)
    return rt->fn(c, req, &who);
  /* A file: the row's own, or the path under /assets/. */
  static_serve(&conn_app(c)->files, c, req, rt->file ? rt->file : req->path + 1);
}
