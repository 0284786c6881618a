#include "acme/acme.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/cert.h"
#include "acme/jws.h"
#include "acme/msg.h"
#include "acme/store.h"
#include "net/http_client.h"
#include "net/tls.h"
#include "util/log.h"

#define ACME_BODY_MAX (64 * 1024)           /* bytes of any response from the CA */
#define ACME_NONCE_MAX 256                  /* characters of a Replay-Nonce */
#define ACME_ATTEMPT_MS (10 * 60 * 1000)    /* an attempt gives up after this */
#define ACME_CHECK_MS (12 * 3600 * 1000ULL) /* the timer looks at least this often */
#define ACME_RETRY_MS (60 * 1000ULL)        /* the first retry after a failure, doubling */
#define ACME_POLL_MAX_S 60                  /* longest wait between polls, seconds */
#define ACME_BAD_NONCE_TRIES 5              /* a request sent again after badNonce */
#define ACME_DIR_MAX 1100                   /* bytes of <data>/acme */
#define ACME_PATH_MAX (ACME_DIR_MAX + ACME_NAME_MAX + 16) /* bytes of a file name */
#define ACME_KEYAUTH_MAX (ACME_TOKEN_MAX + 1 + ACME_THUMBPRINT_LEN + 1)
#define ACME_CHAIN_TYPE "application/pem-certificate-chain"

/* What the attempt in flight is waiting for. */
enum acme_step {
  STEP_IDLE,
  STEP_DIRECTORY,
  STEP_ACCOUNT,
  STEP_ORDER,
  STEP_AUTHZ,
  STEP_CHALLENGE,
  STEP_FINALIZE,
  STEP_POLL_ORDER,
  STEP_CERTIFICATE,
};

static const char *const step_names[] = {
    [STEP_IDLE] = "idle",
    [STEP_DIRECTORY] = "directory",
    [STEP_ACCOUNT] = "newAccount",
    [STEP_ORDER] = "newOrder",
    [STEP_AUTHZ] = "authorization",
    [STEP_CHALLENGE] = "challenge",
    [STEP_FINALIZE] = "finalize",
    [STEP_POLL_ORDER] = "order",
    [STEP_CERTIFICATE] = "certificate",
};

struct acme;
typedef void (*acme_resp_fn)(struct acme *a, const struct http_client_resp *r);
typedef void (*acme_step_fn)(struct acme *a);

/* An HTTP-01 token and what /.well-known/acme-challenge/<token> answers. */
struct acme_answer {
  char token[ACME_TOKEN_MAX + 1];
  char keyauth[ACME_KEYAUTH_MAX];
};

/* The signed request in flight (RFC 8555 6.2), kept to be sent again with a
 * fresh nonce after a badNonce error. */
struct acme_post {
  char url[ACME_URL_MAX];
  char *payload; /* owned; NULL: POST-as-GET */
  int use_jwk;   /* newAccount: the JWK instead of the account URL */
  unsigned tries;
  acme_resp_fn done; /* gets the 2xx responses */
};

struct acme {
  uv_loop_t *loop;
  struct http_client *hc;
  uv_timer_t timer;     /* a poll's wait, or the next check */
  acme_step_fn on_time; /* what the timer runs */
  struct tls_ctx *tls;  /* main's: what HTTPS serves */
  struct acme_names names;
  char names_text[ACME_NAMES_MAX * (ACME_NAME_MAX + 2)]; /* "a, b" for the log */
  char email[256], directory_url[ACME_URL_MAX], ca_file[1024];
  uint64_t renew_s; /* seconds */
  char account_key_path[ACME_PATH_MAX], account_path[ACME_PATH_MAX];
  char cert_path[ACME_PATH_MAX], key_path[ACME_PATH_MAX];
  struct acme_key key;
  char account_url[ACME_URL_MAX]; /* "" until registered */
  struct acme_directory directory;
  char nonce[ACME_NONCE_MAX + 1]; /* the next request's; "" when used */
  struct acme_cert_info cert;     /* the served certificate's */
  int have_cert;
  /* The attempt in flight. */
  enum acme_step step;
  struct acme_post post;
  char order_url[ACME_URL_MAX];
  struct acme_order order;
  size_t authz_i; /* the authorization being worked on */
  int challenge_posted, finalized, reregistered;
  unsigned polls;       /* of the object being waited for */
  uint64_t deadline_ms; /* uv_now() when the attempt gives up */
  EVP_PKEY *cert_key;   /* the new certificate's key, once finalizing */
  struct acme_answer answers[ACME_NAMES_MAX];
  size_t nanswers;
  unsigned failures_in_row;
  struct acme_stats stats;
  int closing;
};

static void attempt_begin(struct acme *a);
static void account_register(struct acme *a);
static void order_new(struct acme *a);
static void authz_fetch(struct acme *a);
static void post_send(struct acme *a);

/* ---- steps, timer, failure ------------------------------------------------ */

static void acme_set_step(struct acme *a, enum acme_step s) {
  if (a->step != s)
    log_ev(LOG_DEBUG, "acme: step", LOG_S("from", step_names[a->step]), LOG_S("to", step_names[s]));
  a->step = s;
}

static void on_timer(uv_timer_t *t) {
  struct acme *a = t->data;
  a->on_time(a);
}

static void timer_run(struct acme *a, uint64_t ms, acme_step_fn fn) {
  a->on_time = fn;
  uv_timer_start(&a->timer, on_timer, ms, 0);
}

/* Forgets the order in flight: its answers and key. */
static void order_forget(struct acme *a) {
  EVP_PKEY_free(a->cert_key);
  a->cert_key = NULL;
  memset(a->answers, 0, sizeof(a->answers));
  a->nanswers = 0;
  a->authz_i = 0;
  a->challenge_posted = a->finalized = 0;
  a->polls = 0;
}

/* Forgets the attempt in flight: its order, request and wait. */
static void attempt_end(struct acme *a) {
  uv_timer_stop(&a->timer);
  free(a->post.payload);
  memset(&a->post, 0, sizeof(a->post));
  order_forget(a);
  acme_set_step(a, STEP_IDLE);
}

/* Milliseconds until the served certificate is due for renewal; 0 now. */
static uint64_t due_in_ms(const struct acme *a) {
  if (!a->have_cert || !a->cert.names_ok)
    return 0;
  time_t at = acme_renew_at(&a->cert, a->renew_s), now = time(NULL);
  return at <= now ? 0 : (uint64_t)(at - now) * 1000;
}

static void check_due(struct acme *a);

/* The timer looks again in ms (at most ACME_CHECK_MS). */
static void schedule(struct acme *a, uint64_t ms) {
  if (ms > ACME_CHECK_MS)
    ms = ACME_CHECK_MS;
  a->stats.next_check = time(NULL) + (time_t)((ms + 999) / 1000);
  timer_run(a, ms, check_due);
}

static void check_due(struct acme *a) {
  if (a->step != STEP_IDLE || a->closing)
    return;
  uint64_t ms = due_in_ms(a);
  if (ms == 0)
    attempt_begin(a);
  else
    schedule(a, ms);
}

/* The attempt failed: logged, counted, the served certificate kept, tried
 * again after 1, 2, 4 ... minutes (at most ACME_CHECK_MS). */
static void acme_fail(struct acme *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void acme_fail(struct acme *a, const char *fmt, ...) {
  char why[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof(why), fmt, ap);
  va_end(ap);
  a->stats.failures++;
  unsigned shift = a->failures_in_row < 20 ? a->failures_in_row : 20;
  a->failures_in_row++;
  uint64_t ms = ACME_RETRY_MS << shift;
  if (ms > ACME_CHECK_MS)
    ms = ACME_CHECK_MS;
  log_ev(LOG_WARN, "acme: could not get a certificate", LOG_S("names", a->names_text),
         LOG_S("error", why),
         LOG_S("served", a->have_cert ? "the current one, kept" : "none: HTTPS waits"),
         LOG_U("retry_s", ms / 1000));
  attempt_end(a);
  schedule(a, ms);
}

/* Waits before polling with fn: the server's Retry-After (1 to
 * ACME_POLL_MAX_S seconds), else 1, 2, 3 ... up to 10 s. */
static void poll_later(struct acme *a, const struct http_client_resp *r, acme_step_fn fn) {
  if (uv_now(a->loop) >= a->deadline_ms) {
    acme_fail(a, "the CA did not finish within %d minutes", ACME_ATTEMPT_MS / 60000);
    return;
  }
  const char *ra = http_client_resp_header(r, "Retry-After");
  char *end;
  long s = ra ? strtol(ra, &end, 10) : 0;
  if (ra == NULL || end == ra || *end || s < 1)
    s = a->polls < 9 ? (long)a->polls + 1 : 10;
  if (s > ACME_POLL_MAX_S)
    s = ACME_POLL_MAX_S;
  a->polls++;
  timer_run(a, (uint64_t)s * 1000, fn);
}

/* ---- requests ------------------------------------------------------------- */

static int acme_request(struct acme *a, const char *method, const char *url, const char *body,
                        const char *accept, http_client_cb cb) {
  struct http_client_req rq = {
      .method = method,
      .url = url,
      .body = body,
      .body_len = body ? strlen(body) : 0,
      .content_type = body ? "application/jose+json" : NULL,
      .accept = accept,
      .ca_file = a->ca_file[0] ? a->ca_file : NULL,
      .max_body = ACME_BODY_MAX,
  };
  return http_client_request(a->hc, &rq, cb, a);
}

/* Keeps the response's Replay-Nonce (base64url) for the next request. */
static void nonce_take(struct acme *a, const struct http_client_resp *r) {
  const char *n = http_client_resp_header(r, "Replay-Nonce");
  size_t len = n ? strlen(n) : 0;
  if (len > 0 && len <= ACME_NONCE_MAX && acme_b64url_chars(n, len))
    memcpy(a->nonce, n, len + 1);
}

static void on_nonce(void *arg, const struct http_client_resp *r) {
  struct acme *a = arg;
  if (a->closing)
    return;
  if (r->error) {
    acme_fail(a, "newNonce %s: %s", a->directory.new_nonce, r->error);
    return;
  }
  nonce_take(a, r);
  if (a->nonce[0] == 0) {
    acme_fail(a, "newNonce: HTTP %ld without a usable Replay-Nonce", r->status);
    return;
  }
  post_send(a);
}

/* An error response to a signed request: a stale nonce sends it again, an
 * account the CA no longer knows is made again (once per attempt), anything
 * else fails the attempt with the CA's words. */
static void post_problem(struct acme *a, const struct http_client_resp *r) {
  struct acme_problem p;
  if (acme_problem_parse(r->body, r->len, &p) < 0)
    acme_text_copy(p.detail, sizeof(p.detail), r->body, r->len < 200 ? r->len : 200);
  if (acme_problem_is(&p, "badNonce") && a->post.tries++ < ACME_BAD_NONCE_TRIES) {
    log_ev(LOG_DEBUG, "acme: bad nonce, sending again", LOG_S("step", step_names[a->step]));
    post_send(a);
    return;
  }
  if (acme_problem_is(&p, "accountDoesNotExist") && !a->post.use_jwk && !a->reregistered) {
    log_ev(LOG_WARN, "acme: the CA does not know the account: making a new one",
           LOG_S("account", a->account_url));
    a->account_url[0] = 0;
    a->reregistered = 1;
    account_register(a);
    return;
  }
  acme_fail(a, "%s: HTTP %ld %s%s%s", step_names[a->step], r->status, p.type,
            p.type[0] && p.detail[0] ? ": " : "", p.detail);
}

static void on_post(void *arg, const struct http_client_resp *r) {
  struct acme *a = arg;
  if (a->closing)
    return;
  nonce_take(a, r);
  if (r->error)
    acme_fail(a, "%s %s: %s", step_names[a->step], a->post.url, r->error);
  else if (r->status >= 400)
    post_problem(a, r);
  else if (r->status < 200 || r->status > 299)
    acme_fail(a, "%s: unexpected HTTP %ld", step_names[a->step], r->status);
  else
    a->post.done(a, r);
}

/* Signs a->post with the nonce in hand (fetching one first if none) and
 * sends it. */
static void post_send(struct acme *a) {
  int rc;
  if (a->nonce[0] == 0) {
    rc = acme_request(a, "HEAD", a->directory.new_nonce, NULL, NULL, on_nonce);
  } else {
    const char *kid = a->post.use_jwk ? NULL : a->account_url;
    char *body = acme_jws(&a->key, a->post.url, a->nonce, kid, a->post.payload);
    a->nonce[0] = 0; /* each nonce once */
    if (body == NULL) {
      acme_fail(a, "%s: cannot sign the request", step_names[a->step]);
      return;
    }
    const char *accept = a->step == STEP_CERTIFICATE ? ACME_CHAIN_TYPE : NULL;
    rc = acme_request(a, "POST", a->post.url, body, accept, on_post);
    free(body);
  }
  if (rc < 0)
    acme_fail(a, "%s: cannot send the request: %s", step_names[a->step], strerror(-rc));
}

/* Sends payload (NULL: POST-as-GET) signed to url; done gets the 2xx
 * response. */
static void acme_post(struct acme *a, enum acme_step step, const char *url, const char *payload,
                      acme_resp_fn done) {
  acme_set_step(a, step);
  free(a->post.payload);
  memset(&a->post, 0, sizeof(a->post));
  snprintf(a->post.url, sizeof(a->post.url), "%s", url);
  a->post.use_jwk = step == STEP_ACCOUNT;
  a->post.done = done;
  if (payload && (a->post.payload = strdup(payload)) == NULL) {
    acme_fail(a, "%s: out of memory", step_names[step]);
    return;
  }
  post_send(a);
}

/* Sends the JSON j (consumed). */
static void acme_post_json(struct acme *a, enum acme_step step, const char *url, json_t *j,
                           acme_resp_fn done) {
  char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (s == NULL) {
    acme_fail(a, "%s: out of memory", step_names[step]);
    return;
  }
  acme_post(a, step, url, s, done);
  free(s);
}

/* The response's Location as an https URL into out; -EPROTO if none. */
static int location_take(const struct http_client_resp *r, char out[ACME_URL_MAX]) {
  const char *loc = http_client_resp_header(r, "Location");
  if (loc == NULL || !acme_url_ok(loc))
    return -EPROTO;
  memcpy(out, loc, strlen(loc) + 1);
  return 0;
}

/* ---- directory and account ----------------------------------------------- */

static void on_directory(void *arg, const struct http_client_resp *r) {
  struct acme *a = arg;
  char err[ACME_ERR_MAX];
  if (a->closing)
    return;
  if (r->error) {
    acme_fail(a, "directory %s: %s", a->directory_url, r->error);
    return;
  }
  if (r->status != 200) {
    acme_fail(a, "directory %s: HTTP %ld", a->directory_url, r->status);
    return;
  }
  if (acme_directory_parse(r->body, r->len, &a->directory, err) < 0) {
    acme_fail(a, "%s", err);
    return;
  }
  if (a->account_url[0])
    order_new(a);
  else
    account_register(a);
}

static void attempt_begin(struct acme *a) {
  a->stats.next_check = 0;
  a->deadline_ms = uv_now(a->loop) + ACME_ATTEMPT_MS;
  a->reregistered = 0;
  acme_set_step(a, STEP_DIRECTORY);
  log_ev(LOG_INFO, "acme: asking for a certificate", LOG_S("names", a->names_text),
         LOG_S("directory", a->directory_url));
  int rc = acme_request(a, "GET", a->directory_url, NULL, NULL, on_directory);
  if (rc < 0)
    acme_fail(a, "directory: cannot send the request: %s", strerror(-rc));
}

/* account.json: which account of which CA the key is. */
static void account_save(struct acme *a) {
  json_t *j = json_pack("{s:s,s:s}", "directory", a->directory_url, "url", a->account_url);
  char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
  json_decref(j);
  int rc = s ? acme_store_write(a->account_path, s, strlen(s), 0600) : -ENOMEM;
  free(s);
  if (rc < 0)
    log_ev(LOG_WARN, "acme: cannot write the account file (the CA finds the account by its key)",
           LOG_S("file", a->account_path), LOG_S("error", strerror(-rc)));
}

static void on_account(struct acme *a, const struct http_client_resp *r) {
  if (location_take(r, a->account_url) < 0) {
    acme_fail(a, "newAccount: HTTP %ld without the account's URL (Location)", r->status);
    return;
  }
  account_save(a);
  log_ev(LOG_INFO, "acme: account ready, the CA's terms of service agreed to",
         LOG_S("account", a->account_url), LOG_S("terms", a->directory.terms));
  order_new(a);
}

/* newAccount with the JWK: the CA makes the account, or returns the one
 * this key already has. Agrees to the CA's terms of service. */
static void account_register(struct acme *a) {
  json_t *j = json_pack("{s:b}", "termsOfServiceAgreed", 1);
  if (j && a->email[0]) {
    char mailto[300];
    snprintf(mailto, sizeof(mailto), "mailto:%s", a->email);
    json_object_set_new(j, "contact", json_pack("[s]", mailto));
  }
  acme_post_json(a, STEP_ACCOUNT, a->directory.new_account, j, on_account);
}

/* ---- order, authorizations, challenges --------------------------------- */

static void on_certificate(struct acme *a, const struct http_client_resp *r);
static void on_order(struct acme *a, const struct http_client_resp *r);

static void order_poll(struct acme *a) {
  acme_post(a, STEP_POLL_ORDER, a->order_url, NULL, on_order);
}

static void certificate_fetch(struct acme *a) {
  acme_post(a, STEP_CERTIFICATE, a->order.certificate, NULL, on_certificate);
}

/* A new key and its CSR to the order's finalize URL. */
static void finalize(struct acme *a) {
  EVP_PKEY_free(a->cert_key);
  a->cert_key = acme_pkey_new();
  char *csr = a->cert_key ? acme_csr(a->cert_key, &a->names) : NULL;
  if (csr == NULL) {
    acme_fail(a, "cannot make the certificate request");
    return;
  }
  a->finalized = 1;
  acme_post_json(a, STEP_FINALIZE, a->order.finalize, json_pack("{s:s}", "csr", csr), on_order);
  free(csr);
}

/* Every order response (new, polled, finalized): on to what its status
 * calls for. */
static void on_order(struct acme *a, const struct http_client_resp *r) {
  char err[ACME_ERR_MAX];
  if (a->step == STEP_ORDER && location_take(r, a->order_url) < 0) {
    acme_fail(a, "newOrder: HTTP %ld without the order's URL (Location)", r->status);
    return;
  }
  if (acme_order_parse(r->body, r->len, &a->order, err) < 0) {
    acme_fail(a, "%s", err);
    return;
  }
  switch (a->order.status) {
  case ACME_PENDING:
    if (a->authz_i < a->order.nauthz)
      authz_fetch(a);
    else
      poll_later(a, r, order_poll);
    return;
  case ACME_READY: a->finalized ? poll_later(a, r, order_poll) : finalize(a); return;
  case ACME_PROCESSING: poll_later(a, r, order_poll); return;
  case ACME_VALID: certificate_fetch(a); return;
  default:
    acme_fail(a, "the order is %s%s%s", acme_status_name(a->order.status),
              a->order.error[0] ? ": " : "", a->order.error);
  }
}

static void order_new(struct acme *a) {
  order_forget(a); /* a fresh order (also after making the account again) */
  json_t *ids = json_array();
  for (size_t i = 0; ids && i < a->names.n; i++)
    json_array_append_new(ids, json_pack("{s:s,s:s}", "type", "dns", "value", a->names.name[i]));
  acme_post_json(a, STEP_ORDER, a->directory.new_order, json_pack("{s:o}", "identifiers", ids),
                 on_order);
}

/* Serves token's key authorization until the attempt ends. */
static int answer_add(struct acme *a, const char *token) {
  for (size_t i = 0; i < a->nanswers; i++) {
    if (strcmp(a->answers[i].token, token) == 0)
      return 0;
  }
  if (a->nanswers == ACME_NAMES_MAX)
    return -ENOBUFS;
  struct acme_answer *ans = &a->answers[a->nanswers];
  snprintf(ans->token, sizeof(ans->token), "%s", token);
  if (acme_key_authorization(token, a->key.thumbprint, ans->keyauth, sizeof(ans->keyauth)) < 0)
    return -ENOBUFS;
  a->nanswers++;
  return 0;
}

static void on_challenge(struct acme *a, const struct http_client_resp *r) {
  poll_later(a, r, authz_fetch);
}

static void challenge_answer(struct acme *a, const struct acme_authz *az,
                             const struct http_client_resp *r) {
  if (answer_add(a, az->token) < 0) {
    acme_fail(a, "more challenges than names");
    return;
  }
  if (a->challenge_posted || az->challenge_status != ACME_PENDING) {
    poll_later(a, r, authz_fetch);
    return;
  }
  a->challenge_posted = 1;
  log_ev(LOG_INFO, "acme: answering the http-01 challenge", LOG_S("name", az->name));
  acme_post(a, STEP_CHALLENGE, az->url, "{}", on_challenge);
}

static int name_is_ours(const struct acme *a, const char *name) {
  for (size_t i = 0; i < a->names.n; i++) {
    if (strcmp(a->names.name[i], name) == 0)
      return 1;
  }
  return 0;
}

static void on_authz(struct acme *a, const struct http_client_resp *r) {
  struct acme_authz az;
  char err[ACME_ERR_MAX];
  if (acme_authz_parse(r->body, r->len, &az, err) < 0) {
    acme_fail(a, "%s", err);
    return;
  }
  if (!name_is_ours(a, az.name)) {
    acme_text_copy(err, sizeof(err), az.name, strlen(az.name));
    acme_fail(a, "an authorization for %s, a name onair did not ask for", err);
    return;
  }
  if (az.status == ACME_PENDING) {
    challenge_answer(a, &az, r);
    return;
  }
  if (az.status != ACME_VALID) {
    acme_fail(a, "the authorization of %s is %s%s%s", az.name, acme_status_name(az.status),
              az.error[0] ? ": " : "", az.error);
    return;
  }
  log_ev(LOG_INFO, "acme: authorized", LOG_S("name", az.name));
  a->authz_i++;
  a->challenge_posted = 0;
  a->polls = 0;
  if (a->authz_i < a->order.nauthz)
    authz_fetch(a);
  else
    order_poll(a);
}

static void authz_fetch(struct acme *a) {
  acme_post(a, STEP_AUTHZ, a->order.authz[a->authz_i], NULL, on_authz);
}

/* ---- the certificate ------------------------------------------------------ */

/* Writes the key, then the chain, then serves them. */
static int cert_install(struct acme *a, const char *chain, size_t chain_len) {
  char *pem;
  size_t len;
  char err[TLS_ERROR_MAX];
  int rc = acme_pkey_pem(a->cert_key, &pem, &len);
  if (rc == 0) {
    rc = acme_store_write(a->key_path, pem, len, 0600);
    sodium_memzero(pem, len);
    free(pem);
  }
  if (rc == 0)
    rc = acme_store_write(a->cert_path, chain, chain_len, 0644);
  if (rc < 0) {
    acme_fail(a, "cannot write %s: %s", a->cert_path, strerror(-rc));
    return rc;
  }
  if (tls_ctx_reload(a->tls, err) < 0) {
    acme_fail(a, "cannot serve the new certificate: %s", err);
    return -EINVAL;
  }
  return 0;
}

static void on_certificate(struct acme *a, const struct http_client_resp *r) {
  char err[ACME_ERR_MAX], *chain;
  size_t chain_len;
  struct acme_cert_info info;
  if (acme_chain_check(r->body, r->len, a->cert_key, &a->names, time(NULL), &chain, &chain_len,
                       &info, err) < 0) {
    acme_fail(a, "the CA's certificate: %s", err);
    return;
  }
  int rc = cert_install(a, chain, chain_len);
  free(chain);
  if (rc < 0)
    return;
  a->cert = info;
  a->have_cert = 1;
  a->failures_in_row = 0;
  a->stats.obtained++;
  a->stats.last_success = time(NULL);
  char until[32], due[32];
  time_t at = acme_renew_at(&info, a->renew_s);
  strftime(until, sizeof(until), "%Y-%m-%d %H:%M:%S UTC", gmtime(&info.not_after));
  strftime(due, sizeof(due), "%Y-%m-%d %H:%M:%S UTC", gmtime(&at));
  log_ev(LOG_INFO, "acme: new certificate in use", LOG_S("names", a->names_text),
         LOG_S("valid_until", until), LOG_S("renewal_due", due));
  attempt_end(a);
  check_due(a);
}

/* ---- set-up and the outside's view --------------------------------------- */

/* The account key: read, or made and written on the first start. */
static int account_key_load(struct acme *a) {
  char *pem;
  size_t len;
  int rc = acme_store_read(a->account_key_path, 64 * 1024, &pem, &len);
  if (rc == 0) {
    rc = acme_key_load(&a->key, pem, len);
    sodium_memzero(pem, len);
    free(pem);
    if (rc < 0)
      log_ev(LOG_ERROR,
             "acme: the account key is not a P-256 private key in PEM (move it away to "
             "make a new account)",
             LOG_S("file", a->account_key_path));
    return rc;
  }
  if (rc != -ENOENT) {
    log_ev(LOG_ERROR, "acme: cannot read the account key", LOG_S("file", a->account_key_path),
           LOG_S("error", strerror(-rc)));
    return rc;
  }
  if ((rc = acme_key_generate(&a->key)) == 0 &&
      (rc = acme_pkey_pem(a->key.pkey, &pem, &len)) == 0) {
    rc = acme_store_write(a->account_key_path, pem, len, 0600);
    sodium_memzero(pem, len);
    free(pem);
  }
  if (rc < 0)
    log_ev(LOG_ERROR, "acme: cannot make the account key", LOG_S("file", a->account_key_path),
           LOG_S("error", strerror(-rc)));
  else
    log_ev(LOG_INFO, "acme: made a new account key", LOG_S("file", a->account_key_path));
  return rc;
}

/* The account URL of account.json, if it is this directory's. */
static void account_load(struct acme *a) {
  char *s;
  size_t len;
  if (acme_store_read(a->account_path, 16 * 1024, &s, &len) < 0)
    return;
  json_t *j = json_loadb(s, len, JSON_REJECT_DUPLICATES, NULL);
  free(s);
  const char *dir = json_string_value(json_object_get(j, "directory"));
  const char *url = json_string_value(json_object_get(j, "url"));
  if (dir && url && strcmp(dir, a->directory_url) == 0 && acme_url_ok(url))
    memcpy(a->account_url, url, strlen(url) + 1);
  json_decref(j);
}

/* The file names, and the directories they go in. */
static int paths_make(struct acme *a, const char *data_dir) {
  char dir[ACME_DIR_MAX], cert_dir[ACME_DIR_MAX + ACME_NAME_MAX + 1];
  int n = snprintf(dir, sizeof(dir), "%s/acme", data_dir);
  if (n < 0 || (size_t)n >= sizeof(dir)) {
    log_ev(LOG_ERROR, "acme: the data directory's name is too long", LOG_S("dir", data_dir));
    return -ENAMETOOLONG;
  }
  snprintf(cert_dir, sizeof(cert_dir), "%s/%s", dir, a->names.name[0]);
  snprintf(a->account_key_path, ACME_PATH_MAX, "%s/account.key", dir);
  snprintf(a->account_path, ACME_PATH_MAX, "%s/account.json", dir);
  snprintf(a->cert_path, ACME_PATH_MAX, "%s/cert.pem", cert_dir);
  snprintf(a->key_path, ACME_PATH_MAX, "%s/key.pem", cert_dir);
  int rc = acme_store_mkdir(dir);
  if (rc == 0)
    rc = acme_store_mkdir(cert_dir);
  if (rc < 0)
    log_ev(LOG_ERROR, "acme: cannot create the directory", LOG_S("dir", cert_dir),
           LOG_S("error", strerror(-rc)));
  return rc;
}

/* The settings, checked and copied. */
static int config_take(struct acme *a, const struct acme_config *cfg) {
  if (acme_names_parse(cfg->domains, &a->names) < 0 || a->names.n == 0) {
    log_ev(LOG_ERROR, "acme: tls-domain is not a list of DNS names", LOG_S("value", cfg->domains));
    return -EINVAL;
  }
  if (!acme_url_ok(cfg->directory)) {
    log_ev(LOG_ERROR, "acme: acme-directory is not an https URL", LOG_S("value", cfg->directory));
    return -EINVAL;
  }
  for (size_t i = 0; i < a->names.n; i++) {
    size_t used = strlen(a->names_text);
    snprintf(a->names_text + used, sizeof(a->names_text) - used, "%s%s", i ? ", " : "",
             a->names.name[i]);
  }
  snprintf(a->email, sizeof(a->email), "%s", cfg->email ? cfg->email : "");
  snprintf(a->directory_url, sizeof(a->directory_url), "%s", cfg->directory);
  snprintf(a->ca_file, sizeof(a->ca_file), "%s", cfg->ca_file ? cfg->ca_file : "");
  a->renew_s = cfg->renew_days * 24 * 3600;
  return 0;
}

int acme_new(uv_loop_t *loop, const struct acme_config *cfg, struct acme **out) {
  struct acme *a = calloc(1, sizeof(*a));
  *out = NULL;
  if (a == NULL)
    return -ENOMEM;
  a->loop = loop;
  int rc = config_take(a, cfg);
  if (rc == 0)
    rc = paths_make(a, cfg->data_dir);
  if (rc == 0)
    rc = account_key_load(a);
  if (rc == 0 && (rc = http_client_new(loop, &a->hc)) < 0)
    log_msg(LOG_ERROR, "acme: cannot start the HTTP client");
  if (rc < 0) {
    acme_key_free(&a->key);
    free(a);
    return rc;
  }
  account_load(a);
  uv_timer_init(loop, &a->timer);
  a->timer.data = a;
  *out = a;
  return 0;
}

const char *acme_cert_path(const struct acme *a) { return a->cert_path; }
const char *acme_key_path(const struct acme *a) { return a->key_path; }

/* What the stored certificate says, when tls serves it. */
static void stored_cert_load(struct acme *a) {
  char *pem;
  size_t len;
  a->have_cert = 0;
  if (!tls_ctx_ready(a->tls) || acme_store_read(a->cert_path, ACME_CHAIN_MAX, &pem, &len) < 0)
    return;
  a->have_cert = acme_cert_info(pem, len, &a->names, &a->cert) == 0;
  free(pem);
}

void acme_start(struct acme *a, struct tls_ctx *tls) {
  a->tls = tls;
  stored_cert_load(a);
  if (a->have_cert) {
    char until[32];
    strftime(until, sizeof(until), "%Y-%m-%d %H:%M:%S UTC", gmtime(&a->cert.not_after));
    a->stats.last_success = a->cert.not_before;
    log_ev(LOG_INFO,
           a->cert.names_ok
               ? "acme: serving the stored certificate"
               : "acme: serving the stored certificate, not for every name: ordering one",
           LOG_S("names", a->names_text), LOG_S("valid_until", until));
  } else {
    log_ev(LOG_INFO, "acme: no certificate yet: HTTPS refuses connections until it is here",
           LOG_S("names", a->names_text));
  }
  check_due(a);
}

void acme_check(struct acme *a) {
  if (a->step == STEP_IDLE)
    check_due(a);
}

const char *acme_challenge_answer(const struct acme *a, const char *token) {
  for (size_t i = 0; a && i < a->nanswers; i++) {
    if (strcmp(a->answers[i].token, token) == 0)
      return a->answers[i].keyauth;
  }
  return NULL;
}

void acme_get_stats(const struct acme *a, struct acme_stats *st) { *st = a->stats; }

static void on_timer_closed(uv_handle_t *h) { free(h->data); }

void acme_free(struct acme *a) {
  if (a == NULL)
    return;
  a->closing = 1; /* the cancelled requests' callbacks return at once */
  http_client_free(a->hc);
  attempt_end(a);
  acme_key_free(&a->key);
  uv_close((uv_handle_t *)&a->timer, on_timer_closed);
}
