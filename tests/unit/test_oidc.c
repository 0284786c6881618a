/* Tests for src/auth/oidc.c against an OpenID provider played by this test
 * on the same libuv loop: onair's own http_server on 127.0.0.1 serves discovery documents (a good one and broken ones under
 * other issuer paths), a JWKS of RSA keys made here with cjose (public part
 * only), and a token endpoint that checks the code exchange and answers
 * with an ID token signed here with the nonce the authorization URL carried.
 *
 * Covered: no issuer, no client; discovery success and each failure
 * (404, another issuer, no answer, no usable JWKS, a missing endpoint) with
 * its message; the authorization URL (every parameter, PKCE S256 checked
 * against the verifier the token endpoint receives); oidc_finish's refusals
 * (state missing, unknown, not this browser's, used; provider error; token
 * endpoint refusal; token refusals) and success (claims, issuer, next, the
 * raw token); the JWKS refetch for an unknown kid (once, and not again
 * within jwks_min_interval_ms); oidc_logout_url.
 *
 * Waiting is the harness's (harness.h): the loop runs until the condition
 * holds, each run bounded, the whole wait too. No sleeps. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjose/cjose.h>
#include <cmocka.h>
#include <http_parser.h>
#include <jansson.h>
#include <sodium.h>
#include <uv.h>

#include "auth/oidc.h"
#include "harness.h"
#include "http/http.h"
#include "net/conn.h"

#define CLIENT_ID "onair-test"
#define CLIENT_SECRET "s3cret"
#define REDIRECT "http://rp.test/authorization-code/callback"
#define NKEYS 3

enum token_mode {
  TOKEN_OK,      /* a signed ID token */
  TOKEN_REFUSED, /* 400 invalid_grant */
  TOKEN_NO_ID,   /* 200 without id_token */
  TOKEN_GARBAGE, /* an id_token that is no JWT */
  TOKEN_HOLD,    /* no answer: the request is held (srv.held) */
};

/* ---- the provider ----------------------------------------------------------
 */

static struct {
  uv_loop_t loop;
  struct http_server http;
  int port;
  char issuer[64];          /* http://127.0.0.1:<port> */
  cjose_jwk_t *keys[NKEYS]; /* kids "k1", "k2", "k3" */
  unsigned jwks_keys;       /* bit i: keys[i] is published */
  int njwks;                /* JWKS requests served */
  int ndiscovery;
  /* The token endpoint. */
  enum token_mode mode;
  int sign_key;         /* index into keys */
  const char *sign_kid; /* the kid put in the header */
  char nonce[64];       /* the nonce it signs with */
  char token_iss[128];
  const char *token_aud;
  int ntoken;
  char form_grant[64], form_code[256], form_redirect[256], form_verifier[128];
  char authorization[256];
  char content_type[128];
  char *last_id_token; /* what it issued last */
  struct conn *held;   /* TOKEN_HOLD: the request not answered; we hold a ref */
} srv;

static char *jwks_json(unsigned which) {
  json_t *list = json_array();
  for (int i = 0; i < NKEYS; i++) {
    if (!(which & (1u << i)))
      continue;
    cjose_err err;
    char *pub = cjose_jwk_to_json(srv.keys[i], false, &err);
    assert_non_null(pub);
    json_t *k = json_loads(pub, 0, NULL);
    free(pub);
    assert_non_null(k);
    assert_null(json_object_get(k, "d")); /* the public part only */
    json_object_set_new(k, "use", json_string("sig"));
    json_object_set_new(k, "alg", json_string("RS256"));
    json_array_append_new(list, k);
  }
  /* A key for encryption is not a signing key and is skipped. */
  json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s}", "kty", "oct", "kid", "enc1", "use",
                                        "enc", "k", "c2VjcmV0"));
  json_t *doc = json_pack("{s:o}", "keys", list);
  char *s = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  return s;
}

static void respond_json(struct conn *c, int status, json_t *j) {
  char *s = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  assert_non_null(s);
  http_respond(c, status, "application/json", NULL, s, strlen(s));
  free(s);
}

/* Discovery documents: the good one at the issuer, broken ones under other
 * paths (each an issuer a test configures). */
static void serve_discovery(struct conn *c, const char *prefix) {
  char iss[128], authz[128], token[128], jwks[128], logout[128];
  snprintf(iss, sizeof(iss), "%s%s", srv.issuer, prefix);
  snprintf(authz, sizeof(authz), "%s/authorize", srv.issuer);
  snprintf(token, sizeof(token), "%s/token", srv.issuer);
  snprintf(jwks, sizeof(jwks), "%s/jwks", srv.issuer);
  snprintf(logout, sizeof(logout), "%s/logout", srv.issuer);
  srv.ndiscovery++;
  json_t *d =
      json_pack("{s:s, s:s, s:s, s:s, s:[s], s:[s]}", "issuer", iss, "authorization_endpoint",
                authz, "token_endpoint", token, "jwks_uri", jwks, "response_types_supported",
                "code", "id_token_signing_alg_values_supported", "RS256");
  if (strcmp(prefix, "") == 0) {
    json_object_set_new(d, "end_session_endpoint", json_string(logout));
  } else if (strcmp(prefix, "/noend") == 0) {
    /* no end_session_endpoint */
  } else if (strcmp(prefix, "/other") == 0) {
    json_object_set_new(d, "issuer", json_string(srv.issuer)); /* not the one asked for */
  } else if (strcmp(prefix, "/noissuer") == 0) {
    json_object_del(d, "issuer");
  } else if (strcmp(prefix, "/notoken") == 0) {
    json_object_del(d, "token_endpoint");
  } else if (strcmp(prefix, "/ftp") == 0) {
    json_object_set_new(d, "jwks_uri", json_string("ftp://127.0.0.1/jwks"));
  } else if (strcmp(prefix, "/badjwks") == 0) {
    snprintf(jwks, sizeof(jwks), "%s/jwks-broken", srv.issuer);
    json_object_set_new(d, "jwks_uri", json_string(jwks));
  } else if (strcmp(prefix, "/q") == 0) {
    /* Endpoints that already carry a query. */
    snprintf(authz, sizeof(authz), "%s/authorize?tenant=a", srv.issuer);
    snprintf(logout, sizeof(logout), "%s/logout?tenant=a", srv.issuer);
    json_object_set_new(d, "authorization_endpoint", json_string(authz));
    json_object_set_new(d, "end_session_endpoint", json_string(logout));
  } else if (strcmp(prefix, "/notjson") == 0) {
    json_decref(d);
    http_respond(c, 200, "application/json", NULL, "{not json", 9);
    return;
  }
  respond_json(c, 200, d);
}

static char *sign_token(const char *nonce) {
  time_t now = time(NULL);
  json_t *claims =
      json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "iss", srv.token_iss, "sub",
                "user-248289761001", "aud", srv.token_aud, "exp", (json_int_t)(now + 300), "iat",
                (json_int_t)now, "nonce", nonce, "name", "Jane Doe", "email", "jane@example.org");
  char *payload = json_dumps(claims, JSON_COMPACT);
  json_decref(claims);
  cjose_err err;
  cjose_header_t *h = cjose_header_new(&err);
  cjose_header_set(h, CJOSE_HDR_ALG, "RS256", &err);
  cjose_header_set(h, CJOSE_HDR_KID, srv.sign_kid, &err);
  cjose_jws_t *jws =
      cjose_jws_sign(srv.keys[srv.sign_key], h, (const uint8_t *)payload, strlen(payload), &err);
  assert_non_null(jws);
  const char *ser;
  assert_true(cjose_jws_export(jws, &ser, &err));
  char *out = strdup(ser);
  cjose_jws_release(jws);
  cjose_header_release(h);
  free(payload);
  return out;
}

static void form_param(const char *body, const char *key, char *out, size_t size) {
  if (http_query_param(body, key, out, size) < 0)
    out[0] = 0;
}

static void serve_token(struct conn *c, struct http_req *req) {
  srv.ntoken++;
  char body[4096];
  assert_true(req->body_len < sizeof(body));
  memcpy(body, req->body, req->body_len);
  body[req->body_len] = 0;
  form_param(body, "grant_type", srv.form_grant, sizeof(srv.form_grant));
  form_param(body, "code", srv.form_code, sizeof(srv.form_code));
  form_param(body, "redirect_uri", srv.form_redirect, sizeof(srv.form_redirect));
  form_param(body, "code_verifier", srv.form_verifier, sizeof(srv.form_verifier));
  size_t len;
  const char *v = http_req_header(req, "authorization", &len);
  snprintf(srv.authorization, sizeof(srv.authorization), "%.*s", v ? (int)len : 0, v ? v : "");
  v = http_req_header(req, "content-type", &len);
  snprintf(srv.content_type, sizeof(srv.content_type), "%.*s", v ? (int)len : 0, v ? v : "");
  switch (srv.mode) {
  case TOKEN_HOLD:
    conn_ref(c);
    srv.held = c;
    return;
  case TOKEN_REFUSED: respond_json(c, 400, json_pack("{s:s}", "error", "invalid_grant")); return;
  case TOKEN_NO_ID:
    respond_json(c, 200, json_pack("{s:s, s:s}", "access_token", "at", "token_type", "Bearer"));
    return;
  case TOKEN_GARBAGE:
    respond_json(c, 200, json_pack("{s:s, s:s}", "access_token", "at", "id_token", "not.a.jwt"));
    return;
  case TOKEN_OK: break;
  }
  free(srv.last_id_token);
  srv.last_id_token = sign_token(srv.nonce);
  respond_json(c, 200,
               json_pack("{s:s, s:s, s:s}", "access_token", "at", "token_type", "Bearer",
                         "id_token", srv.last_id_token));
}

static void on_request(struct conn *c, struct http_req *req) {
  static const char wk[] = "/.well-known/openid-configuration";
  size_t pl = strlen(req->path), wl = sizeof(wk) - 1;
  if (pl >= wl && strcmp(req->path + pl - wl, wk) == 0 && req->method == HTTP_GET) {
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "%.*s", (int)(pl - wl), req->path);
    if (strcmp(prefix, "/missing") == 0) {
      srv.ndiscovery++;
      http_respond(c, 404, "text/plain", NULL, "no such thing", 13);
      return;
    }
    serve_discovery(c, prefix);
  } else if (strcmp(req->path, "/jwks") == 0) {
    srv.njwks++;
    char *s = jwks_json(srv.jwks_keys);
    http_respond(c, 200, "application/json", NULL, s, strlen(s));
    free(s);
  } else if (strcmp(req->path, "/jwks-broken") == 0) {
    http_respond(c, 500, "text/plain", NULL, "oops", 4);
  } else if (strcmp(req->path, "/token") == 0 && req->method == HTTP_POST) {
    serve_token(c, req);
  } else {
    http_respond(c, 404, "text/plain", NULL, "nope", 4);
  }
}

static int group_setup(void **state) {
  (void)state;
  if (sodium_init() < 0)
    return -1;
  static const uint8_t e[] = {1, 0, 1};
  for (int i = 0; i < NKEYS; i++) {
    cjose_err err;
    char kid[4];
    snprintf(kid, sizeof(kid), "k%d", i + 1);
    srv.keys[i] = cjose_jwk_create_RSA_random(2048, e, sizeof(e), &err);
    if (srv.keys[i] == NULL || !cjose_jwk_set_kid(srv.keys[i], kid, strlen(kid), &err))
      return -1;
  }
  if (harness_init(&srv.loop) != 0)
    return -1;
  srv.port = harness_http_listen(&srv.http, on_request, &srv);
  if (srv.port <= 0)
    return -1;
  snprintf(srv.issuer, sizeof(srv.issuer), "http://127.0.0.1:%d", srv.port);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  http_server_close(&srv.http, NULL);
  for (int i = 0; i < NKEYS; i++)
    cjose_jwk_release(srv.keys[i]);
  free(srv.last_id_token);
  return harness_finish() == 0 ? 0 : -1;
}

/* ---- the relying party
 * ---------------------------------------------------------- */

/* A configured client for issuer `iss` (which must live until oidc_new()
 * has copied it). */
static void config_for(struct oidc_config *cfg, const char *iss) {
  *cfg = (struct oidc_config){
      .issuer = iss,
      .client_id = CLIENT_ID,
      .client_secret = CLIENT_SECRET,
      .name = "",
      .scopes = "openid profile email",
      .jwks_min_interval_ms = 0,
  };
}

static int cond_discovered(void *arg) {
  const char *msg;
  struct oidc *o = arg;
  return oidc_available(o, &msg) || strncmp(msg, "onair is still contacting", 25) != 0;
}

/* Creates a client and waits for discovery to end either way. */
static struct oidc *oidc_open(const struct oidc_config *cfg) {
  struct oidc *o = NULL;
  assert_int_equal(oidc_new(&srv.loop, cfg, &o), 0);
  assert_non_null(o);
  if (!harness_wait_until(cond_discovered, o))
    fail_msg("discovery of %s never ended", cfg->issuer);
  harness_settle();
  return o;
}

/* oidc_open() of the client config_for(iss) describes. */
static struct oidc *oidc_open_at(const char *iss) {
  struct oidc_config cfg;
  config_for(&cfg, iss);
  return oidc_open(&cfg);
}

/* oidc_free() closes its retry timer and frees the struct in the close
 * callback: run the loop until that has happened. */
static void oidc_destroy(struct oidc *o) {
  oidc_free(o);
  harness_settle();
}

/* The value of query parameter key in url (decoded). */
static void url_param(const char *url, const char *key, char *out, size_t size) {
  const char *q = strchr(url, '?');
  assert_non_null(q);
  int rc = http_query_param(q + 1, key, out, size);
  if (rc < 0)
    fail_msg("no %s in %s", key, url);
}

struct begun {
  char *url;
  char state[OIDC_STATE_LEN + 1];
  char nonce[64];
  char challenge[64];
};

static void begin(struct oidc *o, const char *next, struct begun *b) {
  memset(b, 0, sizeof(*b));
  assert_int_equal(oidc_begin(o, REDIRECT, next, &b->url, b->state), 0);
  assert_int_equal(strlen(b->state), OIDC_STATE_LEN);
  url_param(b->url, "nonce", b->nonce, sizeof(b->nonce));
  url_param(b->url, "code_challenge", b->challenge, sizeof(b->challenge));
}

struct outcome {
  int called;
  char error[32]; /* "" on success */
  int status;
  char message[256];
  char sub[64];
  char name[64];
  char issuer[128];
  char next[256];
  char *id_token;
};

static void on_finished(void *arg, const struct oidc_result *r) {
  struct outcome *out = arg;
  out->called++;
  snprintf(out->error, sizeof(out->error), "%s", r->error ? r->error : "");
  out->status = r->status;
  snprintf(out->message, sizeof(out->message), "%s", r->message ? r->message : "");
  if (r->error == NULL) {
    assert_non_null(r->claims);
    snprintf(out->sub, sizeof(out->sub), "%s",
             json_string_value(json_object_get(r->claims, "sub")));
    snprintf(out->name, sizeof(out->name), "%s",
             json_string_value(json_object_get(r->claims, "name")));
    snprintf(out->issuer, sizeof(out->issuer), "%s", r->issuer);
    snprintf(out->next, sizeof(out->next), "%s", r->next);
    assert_non_null(r->id_token);
    out->id_token = strdup(r->id_token);
  } else {
    assert_null(r->claims);
  }
}

static int cond_called(void *arg) {
  struct outcome *out = arg;
  return out->called > 0;
}

/* Finishes a sign-in and waits for the answer (exactly one). */
static void finish(struct oidc *o, const char *state, const char *cookie, const char *code,
                   const char *provider_error, struct outcome *out) {
  memset(out, 0, sizeof(*out));
  oidc_finish(o, state, cookie, code, provider_error, on_finished, out);
  if (!harness_wait_until(cond_called, out))
    fail_msg("oidc_finish never answered");
  harness_settle();
  assert_int_equal(out->called, 1);
}

static int cond_held(void *arg) {
  (void)arg;
  return srv.held != NULL;
}

static void outcome_free(struct outcome *out) {
  free(out->id_token);
  out->id_token = NULL;
}

/* The provider's token endpoint answers normally, signing with key k1 for
 * this issuer and client. */
static void provider_reset(const char *iss) {
  srv.mode = TOKEN_OK;
  srv.sign_key = 0;
  srv.sign_kid = "k1";
  srv.jwks_keys = 1u;
  srv.token_aud = CLIENT_ID;
  snprintf(srv.token_iss, sizeof(srv.token_iss), "%s", iss);
  srv.nonce[0] = 0;
}

static int setup(void **state) {
  (void)state;
  provider_reset(srv.issuer);
  srv.njwks = srv.ntoken = srv.ndiscovery = 0;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  harness_settle();
  return 0;
}

/* ---- tests
 * ------------------------------------------------------------------------ */

static void test_no_issuer(void **state) {
  (void)state;
  struct oidc_config cfg = {.issuer = ""};
  struct oidc *o = (struct oidc *)&cfg; /* anything but NULL */
  assert_int_equal(oidc_new(&srv.loop, &cfg, &o), 0);
  assert_null(o);
  oidc_free(NULL); /* harmless */
}

/* Discovery: ready with a good document; otherwise unavailable, with a
 * message for a person saying why. */
static void test_discovery(void **state) {
  (void)state;
  char dead[64];
  snprintf(dead, sizeof(dead), "http://127.0.0.1:%d", harness_dead_port());
  const struct {
    const char *what;
    const char *suffix; /* appended to the issuer; NULL: the dead one */
    int available;
    const char *message; /* a fragment of it */
    int njwks;
  } cases[] = {
      {"good", "", 1, "", 1},
      {"no end_session_endpoint", "/noend", 1, "", 1},
      {"404", "/missing", 0, "404", 0},
      {"another issuer", "/other", 0, "another issuer", 0},
      {"no issuer in the document", "/noissuer", 0, "another issuer", 0},
      {"not JSON", "/notjson", 0, "another issuer", 0},
      {"no token endpoint", "/notoken", 0, "lacks an endpoint", 0},
      {"jwks_uri not http", "/ftp", 0, "lacks an endpoint", 0},
      {"JWKS fails", "/badjwks", 0, "JWKS", 0},
      {"unreachable", NULL, 0, "did not answer", 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct oidc_config cfg;
    char iss[128];
    snprintf(iss, sizeof(iss), "%s%s", cases[i].suffix ? srv.issuer : dead,
             cases[i].suffix ? cases[i].suffix : "");
    config_for(&cfg, iss);
    srv.njwks = 0;
    struct oidc *o = NULL;
    assert_int_equal(oidc_new(&srv.loop, &cfg, &o), 0);
    assert_non_null(o);
    /* Until discovery ends: unavailable, and sign-in cannot start. */
    const char *msg;
    char *url = NULL;
    char st[OIDC_STATE_LEN + 1];
    assert_false(oidc_available(o, &msg));
    assert_non_null(strstr(msg, "127.0.0.1"));
    assert_int_equal(oidc_begin(o, REDIRECT, "/", &url, st), -EAGAIN);
    assert_null(url);
    assert_true(harness_wait_until(cond_discovered, o));
    harness_settle();
    int avail = oidc_available(o, &msg);
    if (avail != cases[i].available || strstr(msg, cases[i].message) == NULL) {
      print_error("%s: available %d message \"%s\"\n", cases[i].what, avail, msg);
      fail();
    }
    if (avail) {
      assert_string_equal(msg, "");
    } else {
      assert_true(strlen(msg) > 10);
      assert_int_equal(oidc_begin(o, REDIRECT, "/", &url, st), -EAGAIN);
    }
    assert_int_equal(srv.njwks, cases[i].njwks);
    assert_string_equal(oidc_name(o), "127.0.0.1"); /* the issuer's host */
    oidc_destroy(o);
  }
  /* A configured name wins over the host. */
  struct oidc_config cfg;
  config_for(&cfg, srv.issuer);
  cfg.name = "Okta";
  struct oidc *o = oidc_open(&cfg);
  assert_string_equal(oidc_name(o), "Okta");
  oidc_destroy(o);
}

/* The authorization URL carries every parameter; PKCE's challenge is
 * BASE64URL(SHA-256(verifier)) of the verifier the token endpoint gets. */
static void test_begin_url(void **state) {
  (void)state;
  struct oidc *o = oidc_open_at(srv.issuer);
  struct begun b;
  begin(o, "/view/alice", &b);
  char prefix[128];
  snprintf(prefix, sizeof(prefix), "%s/authorize?", srv.issuer);
  assert_true(strncmp(b.url, prefix, strlen(prefix)) == 0);
  const struct {
    const char *key, *value; /* NULL: checked below */
  } params[] = {
      {"response_type", "code"},
      {"client_id", CLIENT_ID},
      {"redirect_uri", REDIRECT},
      {"scope", "openid profile email"},
      {"code_challenge_method", "S256"},
      {"state", NULL},
      {"nonce", NULL},
      {"code_challenge", NULL},
  };
  for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
    char v[512];
    url_param(b.url, params[i].key, v, sizeof(v));
    if (params[i].value && strcmp(v, params[i].value) != 0) {
      print_error("%s=\"%s\", want \"%s\"\n", params[i].key, v, params[i].value);
      fail();
    }
  }
  /* Escaped in the URL itself (no raw ':' or '/' or ' ' in the query). */
  const char *q = strchr(b.url, '?');
  assert_null(strchr(q, ' '));
  assert_null(strstr(q, "redirect_uri=http://"));
  char st[64];
  url_param(b.url, "state", st, sizeof(st));
  assert_string_equal(st, b.state);
  assert_int_equal(strlen(b.nonce), 43);
  assert_int_equal(strlen(b.challenge), 43);
  assert_string_not_equal(b.nonce, b.state);

  /* Finish, and check the exchange the token endpoint saw. */
  snprintf(srv.nonce, sizeof(srv.nonce), "%s", b.nonce);
  struct outcome out;
  finish(o, b.state, b.state, "the-code+/=", NULL, &out);
  assert_string_equal(out.error, "");
  assert_int_equal(srv.ntoken, 1);
  assert_string_equal(srv.form_grant, "authorization_code");
  assert_string_equal(srv.form_code, "the-code+/=");
  assert_string_equal(srv.form_redirect, REDIRECT);
  assert_string_equal(srv.content_type, "application/x-www-form-urlencoded");
  assert_int_equal(strlen(srv.form_verifier), 43); /* RFC 7636: 43-128 characters */
  uint8_t digest[32];
  char want[64];
  crypto_hash_sha256(digest, (const uint8_t *)srv.form_verifier, strlen(srv.form_verifier));
  sodium_bin2base64(want, sizeof(want), digest, sizeof(digest),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  assert_string_equal(b.challenge, want);
  /* client_secret_basic: base64("onair-test:s3cret"). */
  assert_string_equal(srv.authorization, "Basic b25haXItdGVzdDpzM2NyZXQ=");
  outcome_free(&out);

  /* Every sign-in gets its own state, nonce and verifier. */
  struct begun b2;
  begin(o, "/", &b2);
  assert_string_not_equal(b2.state, b.state);
  assert_string_not_equal(b2.nonce, b.nonce);
  assert_string_not_equal(b2.challenge, b.challenge);
  free(b.url);
  free(b2.url);
  oidc_destroy(o);
}

/* Endpoints that carry a query already get "&" parameters. */
static void test_endpoints_with_query(void **state) {
  (void)state;
  char iss[128];
  snprintf(iss, sizeof(iss), "%s/q", srv.issuer);
  struct oidc *o = oidc_open_at(iss);
  const char *msg;
  assert_true(oidc_available(o, &msg));
  struct begun b;
  begin(o, "/", &b);
  char want[128];
  snprintf(want, sizeof(want), "%s/authorize?tenant=a&response_type=code&", srv.issuer);
  assert_true(strncmp(b.url, want, strlen(want)) == 0);
  free(b.url);
  char *u = oidc_logout_url(o, "h.p.s", "http://rp.test/");
  assert_non_null(u);
  snprintf(want, sizeof(want), "%s/logout?tenant=a&id_token_hint=h.p.s&", srv.issuer);
  assert_true(strncmp(u, want, strlen(want)) == 0);
  free(u);
  oidc_destroy(o);
}

/* A good sign-in: claims, issuer, next, the raw token. */
static void test_finish_success(void **state) {
  (void)state;
  struct oidc *o = oidc_open_at(srv.issuer);
  struct begun b;
  begin(o, "/view/alice", &b);
  snprintf(srv.nonce, sizeof(srv.nonce), "%s", b.nonce);
  struct outcome out;
  finish(o, b.state, b.state, "code-1", NULL, &out);
  if (out.error[0])
    fail_msg("refused: %s (%s)", out.error, out.message);
  assert_int_equal(out.status, 200);
  assert_string_equal(out.sub, "user-248289761001");
  assert_string_equal(out.name, "Jane Doe");
  assert_string_equal(out.issuer, srv.issuer);
  assert_string_equal(out.next, "/view/alice");
  assert_non_null(srv.last_id_token);
  assert_string_equal(out.id_token, srv.last_id_token);
  outcome_free(&out);

  /* The state was used: the same callback again is refused before any
   * token request. */
  int before = srv.ntoken;
  finish(o, b.state, b.state, "code-1", NULL, &out);
  assert_string_equal(out.error, "bad_state");
  assert_int_equal(out.status, 400);
  assert_int_equal(srv.ntoken, before);
  free(b.url);
  oidc_destroy(o);
}

/* oidc_free() while a sign-in waits for the token endpoint: the sign-in
 * ends at once, from inside oidc_free, as "provider_unavailable" (so its
 * owner frees what it holds), once; nothing is leaked (valgrind). */
static void test_free_while_finishing(void **state) {
  (void)state;
  struct oidc *o = oidc_open_at(srv.issuer);
  struct begun b;
  begin(o, "/", &b);
  srv.mode = TOKEN_HOLD;
  struct outcome out = {0};
  oidc_finish(o, b.state, b.state, "code-held", NULL, on_finished, &out);
  assert_true(harness_wait_until(cond_held, NULL));
  assert_int_equal(out.called, 0);
  oidc_free(o);
  assert_int_equal(out.called, 1);
  assert_string_equal(out.error, "provider_unavailable");
  harness_settle();
  http_respond(srv.held, 400, "text/plain", NULL, "late", 4);
  conn_unref(srv.held);
  srv.held = NULL;
  harness_settle();
  assert_int_equal(out.called, 1);
  outcome_free(&out);
  free(b.url);
}

/* Each way the callback can be wrong, with its code and status. */
static void test_finish_refusals(void **state) {
  (void)state;
  struct oidc *o = oidc_open_at(srv.issuer);
  enum { S_OK, S_NULL, S_UNKNOWN, S_OTHER_COOKIE, S_NO_COOKIE, S_SHORT_COOKIE };
  enum { N_SENT, N_OTHER };
  const struct {
    const char *what;
    int state;        /* what state and cookie the callback carries */
    const char *code; /* NULL: none */
    const char *provider_error;
    enum token_mode mode; /* the token endpoint's answer */
    int sign_key;
    const char *kid;
    int nonce; /* N_SENT or N_OTHER */
    const char *aud;
    const char *error; /* expected */
    int status;
    int token_requests; /* made for this case */
  } cases[] = {
      {"no state", S_NULL, "c", NULL, TOKEN_OK, 0, "k1", N_SENT, CLIENT_ID, "bad_state", 400, 0},
      {"unknown state", S_UNKNOWN, "c", NULL, TOKEN_OK, 0, "k1", N_SENT, CLIENT_ID, "bad_state",
       400, 0},
      {"another sign-in's cookie", S_OTHER_COOKIE, "c", NULL, TOKEN_OK, 0, "k1", N_SENT, CLIENT_ID,
       "bad_state", 400, 0},
      {"no cookie", S_NO_COOKIE, "c", NULL, TOKEN_OK, 0, "k1", N_SENT, CLIENT_ID, "bad_state", 400,
       0},
      {"cookie a prefix of the state", S_SHORT_COOKIE, "c", NULL, TOKEN_OK, 0, "k1", N_SENT,
       CLIENT_ID, "bad_state", 400, 0},
      {"provider error", S_OK, NULL, "access_denied", TOKEN_OK, 0, "k1", N_SENT, CLIENT_ID,
       "provider_error", 400, 0},
      {"no code", S_OK, NULL, NULL, TOKEN_OK, 0, "k1", N_SENT, CLIENT_ID, "bad_state", 400, 0},
      {"empty code", S_OK, "", NULL, TOKEN_OK, 0, "k1", N_SENT, CLIENT_ID, "bad_state", 400, 0},
      {"token endpoint 400", S_OK, "c", NULL, TOKEN_REFUSED, 0, "k1", N_SENT, CLIENT_ID,
       "token_exchange", 400, 1},
      {"no id_token", S_OK, "c", NULL, TOKEN_NO_ID, 0, "k1", N_SENT, CLIENT_ID, "token_exchange",
       400, 1},
      {"id_token not a JWT", S_OK, "c", NULL, TOKEN_GARBAGE, 0, "k1", N_SENT, CLIENT_ID,
       "bad_token", 401, 1},
      {"another nonce", S_OK, "c", NULL, TOKEN_OK, 0, "k1", N_OTHER, CLIENT_ID, "bad_nonce", 401,
       1},
      {"another audience", S_OK, "c", NULL, TOKEN_OK, 0, "k1", N_SENT, "someone-else", "bad_aud",
       401, 1},
      {"signed with another key under k1", S_OK, "c", NULL, TOKEN_OK, 1, "k1", N_SENT, CLIENT_ID,
       "bad_signature", 401, 1},
      {"the control: all good", S_OK, "c", NULL, TOKEN_OK, 0, "k1", N_SENT, CLIENT_ID, "", 200, 1},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct begun b, other;
    begin(o, "/next", &b);
    begin(o, "/elsewhere", &other);
    srv.mode = cases[i].mode;
    srv.sign_key = cases[i].sign_key;
    srv.sign_kid = cases[i].kid;
    srv.token_aud = cases[i].aud;
    snprintf(srv.nonce, sizeof(srv.nonce), "%s", cases[i].nonce == N_SENT ? b.nonce : other.nonce);
    const char *st = b.state, *cookie = b.state;
    char short_cookie[OIDC_STATE_LEN];
    switch (cases[i].state) {
    case S_NULL: st = NULL; break;
    case S_UNKNOWN: st = cookie = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"; break;
    case S_OTHER_COOKIE: cookie = other.state; break;
    case S_NO_COOKIE: cookie = NULL; break;
    case S_SHORT_COOKIE:
      memcpy(short_cookie, b.state, OIDC_STATE_LEN - 1); /* one character short */
      short_cookie[OIDC_STATE_LEN - 1] = 0;
      cookie = short_cookie;
      break;
    }
    int before = srv.ntoken;
    struct outcome out;
    finish(o, st, cookie, cases[i].code, cases[i].provider_error, &out);
    if (strcmp(out.error, cases[i].error) != 0 || out.status != cases[i].status ||
        srv.ntoken - before != cases[i].token_requests) {
      print_error("%s: \"%s\" %d after %d token requests, want \"%s\" %d after %d\n", cases[i].what,
                  out.error, out.status, srv.ntoken - before, cases[i].error, cases[i].status,
                  cases[i].token_requests);
      fail();
    }
    assert_true(strlen(out.message) > 0 || cases[i].status == 200);
    outcome_free(&out);
    /* Whatever happened, the state is used up: the right cookie now fails
     * too (except where the state itself was never ours). */
    if (st != NULL && cases[i].state != S_UNKNOWN) {
      srv.mode = TOKEN_OK;
      srv.sign_key = 0;
      srv.sign_kid = "k1";
      srv.token_aud = CLIENT_ID;
      snprintf(srv.nonce, sizeof(srv.nonce), "%s", b.nonce);
      finish(o, b.state, b.state, "c", NULL, &out);
      assert_string_equal(out.error, "bad_state");
      outcome_free(&out);
    }
    /* The other sign-in is untouched by this one. */
    provider_reset(srv.issuer);
    snprintf(srv.nonce, sizeof(srv.nonce), "%s", other.nonce);
    finish(o, other.state, other.state, "c", NULL, &out);
    if (out.error[0])
      fail_msg("%s: the other sign-in was refused: %s", cases[i].what, out.error);
    assert_string_equal(out.next, "/elsewhere");
    outcome_free(&out);
    free(b.url);
    free(other.url);
  }
  oidc_destroy(o);
}

/* Finishes a fresh sign-in whose token is signed with key index `key`
 * under `kid`; returns the error ("" on success). */
static void sign_in_with(struct oidc *o, int key, const char *kid, struct outcome *out) {
  struct begun b;
  begin(o, "/", &b);
  srv.mode = TOKEN_OK;
  srv.sign_key = key;
  srv.sign_kid = kid;
  snprintf(srv.nonce, sizeof(srv.nonce), "%s", b.nonce);
  finish(o, b.state, b.state, "c", NULL, out);
  free(b.url);
}

/* An unknown kid makes one JWKS refetch: success when the new set has the
 * key, bad_kid when it does not. A known kid fetches nothing. */
static void test_unknown_kid_refetch(void **state) {
  (void)state;
  srv.jwks_keys = 1u;                        /* k1 */
  struct oidc *o = oidc_open_at(srv.issuer); /* min interval 0 */
  assert_int_equal(srv.njwks, 1);
  struct outcome out;
  const struct {
    const char *what;
    unsigned publish; /* the JWKS from now on */
    int key;
    const char *kid;
    const char *error;
    int fetches;
  } cases[] = {
      {"known kid", 1u, 0, "k1", "", 0},
      {"rotated in: k2", 3u, 1, "k2", "", 1},
      {"k2 now known", 3u, 1, "k2", "", 0},
      {"never published: k3", 3u, 2, "k3", "bad_kid", 1},
      {"still not: k3", 3u, 2, "k3", "bad_kid", 1},
      {"k1 still known after the refetches", 3u, 0, "k1", "", 0},
      {"k1 rotated out", 6u, 0, "k1", "", 0}, /* cached: no fetch needed */
      {"k3 rotated in", 6u, 2, "k3", "", 1},
      {"k1 gone after that refetch", 6u, 0, "k1", "bad_kid", 1},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    srv.jwks_keys = cases[i].publish;
    int before = srv.njwks;
    sign_in_with(o, cases[i].key, cases[i].kid, &out);
    if (strcmp(out.error, cases[i].error) != 0 || srv.njwks - before != cases[i].fetches) {
      print_error("%s: \"%s\" after %d JWKS fetches, want \"%s\" after %d\n", cases[i].what,
                  out.error, srv.njwks - before, cases[i].error, cases[i].fetches);
      fail();
    }
    if (out.error[0])
      assert_int_equal(out.status, 401);
    outcome_free(&out);
  }
  oidc_destroy(o);
}

static int cond_time(void *arg) {
  uint64_t *until = arg;
  return uv_now(&srv.loop) >= *until;
}

/* Within jwks_min_interval_ms of the last fetch an unknown kid fetches
 * nothing; after it, once. */
static void test_jwks_min_interval(void **state) {
  (void)state;
  enum { INTERVAL = 300 };
  struct oidc_config cfg;
  config_for(&cfg, srv.issuer);
  cfg.jwks_min_interval_ms = INTERVAL;
  srv.jwks_keys = 1u;
  struct oidc *o = oidc_open(&cfg);
  uint64_t discovered = uv_now(&srv.loop);
  assert_int_equal(srv.njwks, 1);
  struct outcome out;
  srv.jwks_keys = 3u; /* k2 is published, but not fetched yet */
  /* Right after discovery's fetch: no refetch. */
  sign_in_with(o, 1, "k2", &out);
  assert_string_equal(out.error, "bad_kid");
  assert_int_equal(srv.njwks, 1);
  outcome_free(&out);
  /* After the interval: one refetch, and k2 is found. */
  uint64_t until = discovered + INTERVAL + 10;
  assert_true(harness_wait_until(cond_time, &until));
  sign_in_with(o, 1, "k2", &out);
  assert_string_equal(out.error, "");
  assert_int_equal(srv.njwks, 2);
  outcome_free(&out);
  /* A second unknown kid right away: no refetch. */
  srv.jwks_keys = 7u;
  sign_in_with(o, 2, "k3", &out);
  assert_string_equal(out.error, "bad_kid");
  assert_int_equal(srv.njwks, 2);
  outcome_free(&out);
  oidc_destroy(o);

  /* A large interval: no unknown kid triggers a fetch. */
  config_for(&cfg, srv.issuer);
  cfg.jwks_min_interval_ms = 24 * 3600 * 1000;
  srv.jwks_keys = 1u;
  srv.njwks = 0;
  o = oidc_open(&cfg);
  srv.jwks_keys = 7u;
  for (int k = 1; k < NKEYS; k++) {
    sign_in_with(o, k, k == 1 ? "k2" : "k3", &out);
    assert_string_equal(out.error, "bad_kid");
    outcome_free(&out);
  }
  assert_int_equal(srv.njwks, 1); /* discovery's only */
  oidc_destroy(o);
}

static void test_logout_url(void **state) {
  (void)state;
  struct oidc *o = oidc_open_at(srv.issuer);
  char *u = oidc_logout_url(o, "eyJh.eyJz.c2ln", "http://rp.test/");
  assert_non_null(u);
  char want[512];
  snprintf(want, sizeof(want),
           "%s/logout?id_token_hint=eyJh.eyJz.c2ln&client_id=" CLIENT_ID
           "&post_logout_redirect_uri=http%%3A%%2F%%2Frp.test%%2F",
           srv.issuer);
  assert_string_equal(u, want);
  free(u);
  /* A long token (ID tokens run to kilobytes) fits. */
  char *big = malloc(8001);
  assert_non_null(big);
  memset(big, 'A', 8000);
  big[8000] = 0;
  u = oidc_logout_url(o, big, "http://rp.test/");
  assert_non_null(u);
  char hint[8100];
  url_param(u, "id_token_hint", hint, sizeof(hint));
  assert_string_equal(hint, big);
  free(u);
  free(big);
  oidc_destroy(o);

  char iss[128];
  snprintf(iss, sizeof(iss), "%s/noend", srv.issuer);
  o = oidc_open_at(iss);
  const char *msg;
  assert_true(oidc_available(o, &msg));
  assert_null(oidc_logout_url(o, "eyJh.eyJz.c2ln", "http://rp.test/"));
  oidc_destroy(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_no_issuer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_discovery, setup, teardown),
      cmocka_unit_test_setup_teardown(test_begin_url, setup, teardown),
      cmocka_unit_test_setup_teardown(test_endpoints_with_query, setup, teardown),
      cmocka_unit_test_setup_teardown(test_finish_success, setup, teardown),
      cmocka_unit_test_setup_teardown(test_finish_refusals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_free_while_finishing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_kid_refetch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_jwks_min_interval, setup, teardown),
      cmocka_unit_test_setup_teardown(test_logout_url, setup, teardown),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
