/* Argon2id password hashing and checking on the libuv thread pool, so a
 * sign-in never stalls the loop. At most PWHASH_IN_FLIGHT run at once (the
 * pool stays free for other work, and memory is bounded: each takes
 * 64 MiB); the rest wait in two bounded queues, sign-ins (checks) always
 * taken before sign-ups (new hashes), so a flood of sign-ups delays a
 * sign-in by at most the hashes already running. The queues are the
 * process's, for its one loop. */
#ifndef ONAIR_PWHASH_H
#define ONAIR_PWHASH_H

#include <stddef.h>
#include <uv.h>

#define PWHASH_MAX_PASSWORD 256 /* bytes */
#define PWHASH_IN_FLIGHT 2      /* hashes on the pool at once */
#define PWHASH_QUEUE_MAX 64     /* waiting checks; and as many new hashes */

/* rc is 0 on success (hash set, or password matched), -EACCES for a wrong
 * password, -ENOMEM/-EINVAL otherwise. hash is valid during the call only. */
typedef void (*pwhash_cb)(void *arg, int rc, const char *hash);

/* Tuning: libsodium's opslimit and memlimit (bytes). Defaults: INTERACTIVE.
 * Set before the first hash: the dummy hash keeps the limits of its first use. */
void pwhash_set_limits(unsigned long long ops, size_t mem);

/* Both return 0 (cb will run), -EBUSY when the queue is full (try later),
 * or another negative errno. */
int pwhash_hash_async(uv_loop_t *loop, const char *password, size_t len, pwhash_cb cb, void *arg);
/* hash NULL checks against a dummy hash and always fails with -EACCES, so an
 * unknown user costs the same time as a wrong password. */
int pwhash_verify_async(uv_loop_t *loop, const char *hash, const char *password, size_t len,
                        pwhash_cb cb, void *arg);
/* Hashes running and waiting, for /metrics. */
void pwhash_load(unsigned *running, size_t *waiting_checks, size_t *waiting_hashes);

#endif
