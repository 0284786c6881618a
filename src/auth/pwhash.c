#include "auth/pwhash.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pwhash_work {
  uv_work_t req;
  uv_loop_t *loop;
  struct pwhash_work *next; /* in its queue */
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

/* The waiting work: [0] checks (sign-ins), [1] new hashes (sign-ups). */
static struct {
  struct pwhash_work *head[2], *tail[2];
  size_t len[2];
  unsigned running;
} sched;

static void pwhash_finish(struct pwhash_work *w, int rc) {
  sodium_memzero(w->password, sizeof(w->password));
  w->cb(w->arg, rc, w->hash);
  sodium_memzero(w->hash, sizeof(w->hash));
  free(w);
}

static void pwhash_done(uv_work_t *req, int status);

/* Starts waiting work while fewer than PWHASH_IN_FLIGHT run, checks first. */
static void pwhash_pump(void) {
  while (sched.running < PWHASH_IN_FLIGHT) {
    int k = sched.head[0] ? 0 : 1;
    struct pwhash_work *w = sched.head[k];
    if (w == NULL)
      return;
    sched.head[k] = w->next;
    if (sched.head[k] == NULL)
      sched.tail[k] = NULL;
    sched.len[k]--;
    sched.running++;
    if (uv_queue_work(w->loop, &w->req, pwhash_run, pwhash_done) < 0) {
      sched.running--;
      pwhash_finish(w, -ENOMEM);
    }
  }
}

static void pwhash_done(uv_work_t *req, int status) {
  struct pwhash_work *w = req->data;
  sched.running--;
  pwhash_finish(w, status < 0 ? -ECANCELED : w->rc);
  pwhash_pump();
}

void pwhash_load(unsigned *running, size_t *waiting_checks, size_t *waiting_hashes) {
  *running = sched.running;
  *waiting_checks = sched.len[0];
  *waiting_hashes = sched.len[1];
}

static int pwhash_queue(uv_loop_t *loop, int verify, int dummy, const char *hash,
                        const char *password, size_t len, pwhash_cb cb, void *arg) {
  int k = verify ? 0 : 1;
  if (len > PWHASH_MAX_PASSWORD)
    return -EINVAL;
  if (sched.len[k] >= PWHASH_QUEUE_MAX)
    return -EBUSY;
  struct pwhash_work *w = calloc(1, sizeof(*w));
  if (w == NULL)
    return -ENOMEM;
  w->req.data = w;
  w->loop = loop;
  w->verify = verify;
  w->dummy = dummy;
  memcpy(w->password, password, len);
  w->len = len;
  if (hash)
    snprintf(w->hash, sizeof(w->hash), "%s", hash);
  w->cb = cb;
  w->arg = arg;
  if (sched.tail[k])
    sched.tail[k]->next = w;
  else
    sched.head[k] = w;
  sched.tail[k] = w;
  sched.len[k]++;
  /* The callback never runs inside this call: work started here completes
   * on a later loop turn. */
  pwhash_pump();
  return 0;
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
