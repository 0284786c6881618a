#include "auth/pwhash.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pwhash_work {
  uv_work_t req;
  int verify;
  char password[PWHASH_MAX_PASSWORD];
  size_t len;
  char hash[crypto_pwhash_STRBYTES];
  int dummy; /* verifying for an unknown user */
  int rc;
  pwhash_cb cb;
  void *arg;
};

/* The Argon2id cost is a property of the process (every stored hash was
 * made with it); tests lower it with pwhash_set_limits() before any hashing.
 * The dummy hash, made once with that cost, lets a sign-in for an unknown
 * name take as long as one for a known name. Written once, read by the
 * pool's threads after uv_once. */
static unsigned long long ops_limit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
static size_t mem_limit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
static char dummy_hash[crypto_pwhash_STRBYTES];

void pwhash_set_limits(unsigned long long ops, size_t mem) {
  ops_limit = ops;
  mem_limit = mem;
}

static uv_once_t dummy_once = UV_ONCE_INIT;

/* Made once, on a pool thread: never on the loop. */
static void dummy_make(void) {
  if (crypto_pwhash_str(dummy_hash, "onair-dummy", 11, ops_limit, mem_limit) != 0)
    dummy_hash[0] = 0;
}

static void pwhash_run(uv_work_t *req) {
  struct pwhash_work *w = req->data;
  if (w->dummy) {
    uv_once(&dummy_once, dummy_make);
    snprintf(w->hash, sizeof(w->hash), "%s", dummy_hash);
  }
  if (!w->verify) {
    w->rc =
        crypto_pwhash_str(w->hash, w->password, w->len, ops_limit, mem_limit) == 0 ? 0 : -ENOMEM;
    return;
  }
  int ok = crypto_pwhash_str_verify(w->hash, w->password, w->len) == 0;
  w->rc = ok && !w->dummy ? 0 : -EACCES;
}

static void pwhash_done(uv_work_t *req, int status) {
  struct pwhash_work *w = req->data;
  sodium_memzero(w->password, sizeof(w->password));
  w->cb(w->arg, status < 0 ? -ECANCELED : w->rc, w->hash);
  sodium_memzero(w->hash, sizeof(w->hash));
  free(w);
}

static int pwhash_queue(uv_loop_t *loop, int verify, int dummy, const char *hash,
                        const char *password, size_t len, pwhash_cb cb, void *arg) {
  if (len > PWHASH_MAX_PASSWORD)
    return -EINVAL;
  struct pwhash_work *w = calloc(1, sizeof(*w));
  if (w == NULL)
    return -ENOMEM;
  w->req.data = w;
  w->verify = verify;
  w->dummy = dummy;
  memcpy(w->password, password, len);
  w->len = len;
  if (hash)
    snprintf(w->hash, sizeof(w->hash), "%s", hash);
  w->cb = cb;
  w->arg = arg;
  int rc = uv_queue_work(loop, &w->req, pwhash_run, pwhash_done);
  if (rc < 0) {
    sodium_memzero(w->password, sizeof(w->password));
    free(w);
  }
  return rc;
}

int pwhash_hash_async(uv_loop_t *loop, const char *password, size_t len, pwhash_cb cb, void *arg) {
  return pwhash_queue(loop, 0, 0, NULL, password, len, cb, arg);
}

int pwhash_verify_async(uv_loop_t *loop, const char *hash, const char *password, size_t len,
                        pwhash_cb cb, void *arg) {
  int dummy = hash == NULL || hash[0] == 0;
  if (dummy)
    hash = NULL; /* the pool thread fills in the dummy hash */
  return pwhash_queue(loop, 1, dummy, hash, password, len, cb, arg);
}
