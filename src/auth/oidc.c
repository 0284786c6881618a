#include "auth/oidc.h"

#include <cjose/jwk.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/idtoken.h"
#include "net/http_client.h"
#include "util/log.h"
#include "util/map.h"

#define OIDC_MAX_KEYS 64
#define OIDC_MAX_PENDING 10000
#define OIDC_RETRY_MS 30000 /* rediscovery after a failure */
#define OIDC_SKEW_S 60

enum oidc_state { OIDC_DISCOVERING, OIDC_READY, OIDC_FAILED };

struct oidc_key {
  char kid[128];
  cjose_jwk_t *jwk;
};

struct oidc {
  uv_loop_t *loop;
  char *issuer, *client_id, *client_secret, *scopes; /* owned copies */
  uint64_t jwks_min_interval_ms;
  struct http_client *hc;
  char name[64];
  enum oidc_state state;
  char message[640]; /* why sign-in is unavailable, for people (fits an issuer URL) */
  char *authorization_endpoint, *token_endpoint, *jwks_uri, *end_session_endpoint;
  struct oidc_key keys[OIDC_MAX_KEYS];
  size_t nkeys;
  uint64_t jwks_fetched_ms; /* uv_now() of the last JWKS request */
  int closing;              /* inside oidc_free(): requests end, none start */
  uv_timer_t retry;
  struct map pending; /* state -> struct oidc_pending */
};

struct oidc_pending {
  char state[OIDC_STATE_LEN + 1];
  char nonce[OIDC_STATE_LEN + 1];
  char verifier[OIDC_STATE_LEN + 1];
  char next[256];
  char redirect_uri[512];
  uint64_t created_ms;
};

/* A sign-in between the callback and its answer. */
struct oidc_job {
  struct oidc *o;
  struct oidc_pending p;
  oidc_done_cb cb;
  void *arg;
  char *id_token;
  int refetched;
};

static void oidc_discover(struct oidc *o);
static void on_retry(uv_timer_t *t) { oidc_discover(t->data); }

static void random_b64(char out[OIDC_STATE_LEN + 1]) {
  uint8_t raw[32];
  randombytes_buf(raw, sizeof(raw));
  sodium_bin2base64(out, OIDC_STATE_LEN + 1, raw, sizeof(raw),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static void oidc_fail(struct oidc *o, const char *fmt, const char *detail) {
  if (o->closing)
    return;
  o->state = OIDC_FAILED;
  snprintf(o->message, sizeof(o->message), fmt, detail);
  log_ev(LOG_WARN, "oidc provider unavailable", LOG_S("issuer", o->issuer),
         LOG_S("why", o->message), LOG_U("retry_s", OIDC_RETRY_MS / 1000));
  uv_timer_start(&o->retry, on_retry, OIDC_RETRY_MS, 0);
}

static void keys_clear(struct oidc *o) {
  for (size_t i = 0; i < o->nkeys; i++)
    cjose_jwk_release(o->keys[i].jwk);
  o->nkeys = 0;
}

/* Replaces the key set with the signing keys of a JWKS document. */
static int jwks_load(struct oidc *o, const char *body, size_t len) {
  json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
  json_t *keys = json_object_get(doc, "keys");
  if (!json_is_array(keys)) {
    json_decref(doc);
    return -EINVAL;
  }
  keys_clear(o);
  size_t i;
  json_t *k;
  json_array_foreach(keys, i, k) {
    const char *use = json_string_value(json_object_get(k, "use"));
    if (o->nkeys == OIDC_MAX_KEYS || (use && strcmp(use, "sig") != 0))
      continue;
    char *s = json_dumps(k, JSON_COMPACT);
    cjose_err err;
    cjose_jwk_t *jwk = s ? cjose_jwk_import(s, strlen(s), &err) : NULL;
    free(s);
    if (jwk == NULL)
      continue; /* a key type we do not use */
    const char *kid = json_string_value(json_object_get(k, "kid"));
    snprintf(o->keys[o->nkeys].kid, sizeof(o->keys[0].kid), "%s", kid ? kid : "");
    o->keys[o->nkeys++].jwk = jwk;
  }
  json_decref(doc);
  return 0;
}

/* The key for kid; without a kid, the only key that fits alg. */
static const cjose_jwk_t *key_find(const struct oidc *o, const char *kid, const char *alg) {
  const cjose_jwk_t *found = NULL;
  int fitting = 0;
  for (size_t i = 0; i < o->nkeys; i++) {
    if (kid[0] && strcmp(o->keys[i].kid, kid) == 0)
      return o->keys[i].jwk;
    if (!kid[0] && idtoken_key_fits(o->keys[i].jwk, alg)) {
      found = o->keys[i].jwk;
      fitting++;
    }
  }
  return fitting == 1 ? found : NULL;
}

static void on_discovery_jwks(void *arg, const struct http_client_resp *r) {
  struct oidc *o = arg;
  if (o->closing)
    return;
  o->jwks_fetched_ms = uv_now(o->loop);
  if (r->error || r->status != 200) {
    if (r->error)
      log_ev(LOG_WARN, "oidc jwks failed", LOG_S("error", r->error));
    oidc_fail(o, "its signing keys (JWKS) could not be fetched%s.", "");
    return;
  }
  if (jwks_load(o, r->body, r->len) < 0 || o->nkeys == 0) {
    oidc_fail(o, "its signing keys (JWKS) include none onair can use%s.", "");
    return;
  }
  o->state = OIDC_READY;
  o->message[0] = 0;
  log_ev(LOG_INFO, "oidc ready", LOG_S("issuer", o->issuer), LOG_U("keys", o->nkeys));
}

static char *json_strdup(json_t *doc, const char *key) {
  const char *v = json_string_value(json_object_get(doc, key));
  return v && (strncmp(v, "https://", 8) == 0 || strncmp(v, "http://", 7) == 0) ? strdup(v) : NULL;
}

static void on_discovery(void *arg, const struct http_client_resp *r) {
  struct oidc *o = arg;
  if (o->closing)
    return;
  if (r->error) {
    log_ev(LOG_WARN, "oidc discovery failed", LOG_S("error", r->error));
    oidc_fail(o, "%s did not answer.", o->issuer);
    return;
  }
  if (r->status != 200) {
    oidc_fail(o, "its discovery document is missing (HTTP %s); check the issuer URL.",
              r->status == 404 ? "404" : "error");
    return;
  }
  json_t *doc = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, NULL);
  const char *issuer = json_string_value(json_object_get(doc, "issuer"));
  if (issuer == NULL || strcmp(issuer, o->issuer) != 0) {
    oidc_fail(o, "its discovery document names another issuer (%s); check the issuer URL.",
              issuer ? issuer : "none");
    json_decref(doc);
    return;
  }
  free(o->authorization_endpoint);
  free(o->token_endpoint);
  free(o->jwks_uri);
  free(o->end_session_endpoint);
  o->authorization_endpoint = json_strdup(doc, "authorization_endpoint");
  o->token_endpoint = json_strdup(doc, "token_endpoint");
  o->jwks_uri = json_strdup(doc, "jwks_uri");
  o->end_session_endpoint = json_strdup(doc, "end_session_endpoint");
  json_decref(doc);
  if (!o->authorization_endpoint || !o->token_endpoint || !o->jwks_uri) {
    oidc_fail(o, "its discovery document lacks an endpoint%s.", "");
    return;
  }
  if (http_client_get(o->hc, o->jwks_uri, on_discovery_jwks, o) < 0)
    oidc_fail(o, "out of memory%s", "");
}

static void oidc_discover(struct oidc *o) {
  char url[600];
  size_t n = strlen(o->issuer);
  const char *slash = n && o->issuer[n - 1] == '/' ? "" : "/";
  snprintf(url, sizeof(url), "%s%s.well-known/openid-configuration", o->issuer, slash);
  if (o->state != OIDC_FAILED)
    o->state = OIDC_DISCOVERING;
  if (http_client_get(o->hc, url, on_discovery, o) < 0)
    oidc_fail(o, "out of memory%s", "");
}

static void oidc_free_memory(struct oidc *o) {
  free(o->issuer);
  free(o->client_id);
  free(o->client_secret);
  free(o->scopes);
  free(o);
}

int oidc_new(uv_loop_t *loop, const struct oidc_config *cfg, struct oidc **out) {
  *out = NULL;
  if (cfg->issuer == NULL || cfg->issuer[0] == 0)
    return 0;
  struct oidc *o = calloc(1, sizeof(*o));
  if (o == NULL)
    return -ENOMEM;
  o->issuer = strdup(cfg->issuer);
  o->client_id = strdup(cfg->client_id ? cfg->client_id : "");
  o->client_secret = strdup(cfg->client_secret ? cfg->client_secret : "");
  o->scopes = strdup(cfg->scopes ? cfg->scopes : "openid");
  o->jwks_min_interval_ms = cfg->jwks_min_interval_ms;
  if (!o->issuer || !o->client_id || !o->client_secret || !o->scopes || map_init(&o->pending) < 0) {
    oidc_free_memory(o);
    return -ENOMEM;
  }
  if (http_client_new(loop, &o->hc) < 0) {
    map_free(&o->pending);
    oidc_free_memory(o);
    return -ENOMEM;
  }
  o->loop = loop;
  if (cfg->name && cfg->name[0]) {
    snprintf(o->name, sizeof(o->name), "%s", cfg->name);
  } else {
    /* The issuer's host names the provider: "https://id.example.org/x" */
    const char *h = strstr(o->issuer, "://");
    h = h ? h + 3 : o->issuer;
    snprintf(o->name, sizeof(o->name), "%.*s", (int)strcspn(h, "/:"), h);
  }
  snprintf(o->message, sizeof(o->message), "onair is still contacting %s.", o->name);
  uv_timer_init(loop, &o->retry);
  o->retry.data = o;
  uv_unref((uv_handle_t *)&o->retry);
  *out = o;
  log_ev(LOG_INFO, "oidc discovering", LOG_S("issuer", o->issuer));
  oidc_discover(o);
  return 0;
}

static void oidc_on_closed(uv_handle_t *h) { oidc_free_memory(h->data); }

void oidc_free(struct oidc *o) {
  if (o == NULL)
    return;
  /* Requests in flight end first, while everything they use is still here:
   * a sign-in waiting for the provider is told it is unavailable. */
  o->closing = 1;
  http_client_free(o->hc);
  size_t slot;
  for (struct map_entry *e = map_first(&o->pending, &slot); e; e = map_next(&o->pending, e, &slot))
    free(e->value);
  map_free(&o->pending);
  keys_clear(o);
  free(o->authorization_endpoint);
  free(o->token_endpoint);
  free(o->jwks_uri);
  free(o->end_session_endpoint);
  uv_timer_stop(&o->retry);
  uv_close((uv_handle_t *)&o->retry, oidc_on_closed); /* o goes with its timer */
}

const char *oidc_name(const struct oidc *o) { return o->name; }

int oidc_available(const struct oidc *o, const char **message) {
  *message = o->state == OIDC_READY ? "" : o->message;
  return o->state == OIDC_READY;
}

/* Drops sign-ins that were started but never finished. */
static void pending_sweep(struct oidc *o, uint64_t now) {
  size_t slot;
  struct map_entry *e = map_first(&o->pending, &slot);
  while (e) {
    struct map_entry *next = map_next(&o->pending, e, &slot);
    struct oidc_pending *p = e->value;
    if (now - p->created_ms > OIDC_PENDING_TTL_MS) {
      map_del(&o->pending, e->key, e->key_len);
      free(p);
    }
    e = next;
  }
}

/* Appends "&key=escaped(value)" (or "?" first) to a URL being built. */
static int url_param(char *url, size_t size, const char *key, const char *value) {
  char *esc = http_client_escape(value);
  if (esc == NULL)
    return -ENOMEM;
  size_t n = strlen(url);
  int w = snprintf(url + n, size - n, "%c%s=%s", strchr(url, '?') ? '&' : '?', key, esc);
  free(esc);
  return w < 0 || (size_t)w >= size - n ? -ENOBUFS : 0;
}

int oidc_begin(struct oidc *o, const char *redirect_uri, const char *next, char **url,
               char state[OIDC_STATE_LEN + 1]) {
  if (o->state != OIDC_READY)
    return -EAGAIN;
  uint64_t now = uv_now(o->loop);
  if (o->pending.count >= OIDC_MAX_PENDING)
    pending_sweep(o, now);
  if (o->pending.count >= OIDC_MAX_PENDING)
    return -EAGAIN;
  struct oidc_pending *p = calloc(1, sizeof(*p));
  size_t size = 4096;
  char *u = malloc(size);
  if (p == NULL || u == NULL)
    goto out_nomem;
  random_b64(p->state);
  random_b64(p->nonce);
  random_b64(p->verifier);
  snprintf(p->next, sizeof(p->next), "%s", next);
  snprintf(p->redirect_uri, sizeof(p->redirect_uri), "%s", redirect_uri);
  p->created_ms = now;
  /* PKCE S256: challenge = BASE64URL(SHA-256(verifier)), RFC 7636 4.2 */
  uint8_t digest[32];
  char challenge[OIDC_STATE_LEN + 1];
  crypto_hash_sha256(digest, (const uint8_t *)p->verifier, strlen(p->verifier));
  sodium_bin2base64(challenge, sizeof(challenge), digest, sizeof(digest),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  snprintf(u, size, "%s", o->authorization_endpoint);
  if (url_param(u, size, "response_type", "code") < 0 ||
      url_param(u, size, "client_id", o->client_id) < 0 ||
      url_param(u, size, "redirect_uri", redirect_uri) < 0 ||
      url_param(u, size, "scope", o->scopes) < 0 || url_param(u, size, "state", p->state) < 0 ||
      url_param(u, size, "nonce", p->nonce) < 0 ||
      url_param(u, size, "code_challenge", challenge) < 0 ||
      url_param(u, size, "code_challenge_method", "S256") < 0)
    goto out_nomem;
  if (map_put(&o->pending, p->state, strlen(p->state), p) < 0)
    goto out_nomem;
  memcpy(state, p->state, OIDC_STATE_LEN + 1);
  *url = u;
  return 0;
out_nomem:
  free(p);
  free(u);
  return -ENOMEM;
}

static void job_done(struct oidc_job *job, const char *error, int status, const char *message,
                     json_t *claims) {
  struct oidc_result r = {
      .error = error,
      .message = message,
      .status = status,
      .claims = claims,
      .id_token = job->id_token,
      .issuer = job->o->issuer,
      .next = job->p.next,
  };
  if (error)
    log_ev(LOG_INFO, "oidc sign-in refused", LOG_S("code", error), LOG_S("why", message));
  job->cb(job->arg, &r);
  if (job->id_token)
    sodium_memzero(job->id_token, strlen(job->id_token));
  free(job->id_token);
  free(job);
}

static const char *refusal_message(int err) {
  switch (err) {
  case IDT_BAD_ALG:
    return "The provider's ID token uses a signing algorithm onair does not accept.";
  case IDT_BAD_KID: return "The provider's ID token was signed with a key it does not publish.";
  case IDT_BAD_SIGNATURE: return "The provider's ID token has a bad signature.";
  case IDT_BAD_ISS: return "The ID token comes from another issuer.";
  case IDT_BAD_AUD: return "The ID token was issued to another application.";
  case IDT_EXPIRED: return "The ID token has expired or is not valid yet (check the clocks).";
  case IDT_BAD_NONCE: return "The ID token does not belong to this sign-in (nonce mismatch).";
  default: return "The provider's ID token could not be read.";
  }
}

static void job_verify(struct oidc_job *job);

static void on_job_jwks(void *arg, const struct http_client_resp *r) {
  struct oidc_job *job = arg;
  if (r->error == NULL && r->status == 200 && !job->o->closing)
    jwks_load(job->o, r->body, r->len);
  job_verify(job);
}

/* Checks the ID token; refetches the JWKS once for an unknown kid. */
static void job_verify(struct oidc_job *job) {
  struct oidc *o = job->o;
  char alg[16], kid[128];
  if (o->closing) {
    job_done(job, "provider_unavailable", 503, "onair is shutting down; try again later.", NULL);
    return;
  }
  size_t len = strlen(job->id_token);
  int rc = idtoken_header(job->id_token, len, alg, kid);
  if (rc != IDT_OK) {
    job_done(job, idtoken_error_code(rc), 401, refusal_message(rc), NULL);
    return;
  }
  const cjose_jwk_t *key = key_find(o, kid, alg);
  uint64_t now = uv_now(o->loop);
  if (key == NULL && !job->refetched && now - o->jwks_fetched_ms >= o->jwks_min_interval_ms) {
    job->refetched = 1;
    o->jwks_fetched_ms = now;
    log_ev(LOG_INFO, "oidc unknown key id: refetching the JWKS", LOG_S("kid", kid));
    if (http_client_get(o->hc, o->jwks_uri, on_job_jwks, job) == 0)
      return;
  }
  if (key == NULL) {
    job_done(job, "bad_kid", 401, refusal_message(IDT_BAD_KID), NULL);
    return;
  }
  struct idtoken_expect expect = {
      .issuer = o->issuer,
      .client_id = o->client_id,
      .nonce = job->p.nonce,
      .now = (int64_t)time(NULL),
      .skew = OIDC_SKEW_S,
  };
  json_t *claims = NULL;
  rc = idtoken_verify(job->id_token, len, key, &expect, &claims);
  if (rc != IDT_OK) {
    job_done(job, idtoken_error_code(rc), 401, refusal_message(rc), NULL);
    return;
  }
  job_done(job, NULL, 200, "", claims);
  json_decref(claims);
}

static void on_token(void *arg, const struct http_client_resp *r) {
  struct oidc_job *job = arg;
  if (r->error) {
    job_done(job, "provider_unavailable", 502, "The provider did not answer; try again later.",
             NULL);
    return;
  }
  json_t *doc = json_loadb(r->body, r->len, 0, NULL);
  const char *id_token = json_string_value(json_object_get(doc, "id_token"));
  if (r->status != 200 || id_token == NULL) {
    const char *e = json_string_value(json_object_get(doc, "error"));
    log_ev(LOG_INFO, "oidc token endpoint refused", LOG_U("status", r->status),
           LOG_S("error", e ? e : ""));
    job_done(job, "token_exchange", 400,
             "The provider refused to complete this sign-in (the code was used or has expired). "
             "Start again.",
             NULL);
    json_decref(doc);
    return;
  }
  job->id_token = strdup(id_token);
  json_decref(doc);
  if (job->id_token == NULL) {
    job_done(job, "bad_token", 500, "Out of memory.", NULL);
    return;
  }
  job_verify(job);
}

/* client_secret_basic: id and secret are form-encoded first (RFC 6749 2.3.1). */
static int token_request(struct oidc_job *job, const char *code) {
  struct oidc *o = job->o;
  char form[4096] = "";
  if (url_param(form, sizeof(form), "grant_type", "authorization_code") < 0 ||
      url_param(form, sizeof(form), "code", code) < 0 ||
      url_param(form, sizeof(form), "redirect_uri", job->p.redirect_uri) < 0 ||
      url_param(form, sizeof(form), "code_verifier", job->p.verifier) < 0)
    return -ENOBUFS;
  char *user = http_client_escape(o->client_id);
  char *pass = http_client_escape(o->client_secret);
  int rc = -ENOMEM;
  if (user && pass)
    rc = http_client_post_form(o->hc, o->token_endpoint, form + 1, user, pass, on_token, job);
  free(user);
  free(pass);
  return rc;
}

void oidc_finish(struct oidc *o, const char *state, const char *cookie_state, const char *code,
                 const char *provider_error, oidc_done_cb cb, void *arg) {
  struct oidc_job *job = calloc(1, sizeof(*job));
  if (job == NULL) {
    struct oidc_result r = {.error = "bad_state", .message = "Out of memory.", .status = 500};
    cb(arg, &r);
    return;
  }
  job->o = o;
  job->cb = cb;
  job->arg = arg;
  struct oidc_pending *p = state ? map_get(&o->pending, state, strlen(state)) : NULL;
  int fresh = p && uv_now(o->loop) - p->created_ms <= OIDC_PENDING_TTL_MS;
  /* The state must be one we issued, unused, and this browser's. */
  int bound = p && cookie_state && strlen(cookie_state) == OIDC_STATE_LEN &&
              sodium_memcmp(cookie_state, p->state, OIDC_STATE_LEN) == 0;
  if (p) {
    job->p = *p;
    map_del(&o->pending, state, strlen(state)); /* one use, whatever happens */
    free(p);
  }
  if (!fresh || !bound) {
    job_done(job, "bad_state", 400,
             "This sign-in link is not valid here (it was used, expired, or started in another "
             "browser). Start again.",
             NULL);
    return;
  }
  if (provider_error) {
    job_done(job, "provider_error", 400, "The provider did not sign you in.", NULL);
    return;
  }
  if (code == NULL || code[0] == 0 || strlen(code) > 2048) {
    job_done(job, "bad_state", 400, "The provider's answer has no code. Start again.", NULL);
    return;
  }
  if (o->state == OIDC_FAILED || token_request(job, code) < 0)
    job_done(job, "provider_unavailable", 502, "The provider is unavailable; try again later.",
             NULL);
}

char *oidc_logout_url(const struct oidc *o, const char *id_token, const char *post_logout_uri) {
  if (o->end_session_endpoint == NULL)
    return NULL;
  size_t size = strlen(o->end_session_endpoint) + strlen(id_token) * 3 + 2048;
  char *u = malloc(size);
  if (u == NULL)
    return NULL;
  snprintf(u, size, "%s", o->end_session_endpoint);
  if (url_param(u, size, "id_token_hint", id_token) < 0 ||
      url_param(u, size, "client_id", o->client_id) < 0 ||
      url_param(u, size, "post_logout_redirect_uri", post_logout_uri) < 0) {
    free(u);
    return NULL;
  }
  return u;
}
