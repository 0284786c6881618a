/* Argon2id password hashing and checking on the libuv thread pool, so a
 * sign-in never stalls the loop. */
#ifndef ONAIR_PWHASH_H
#define ONAIR_PWHASH_H

#include <stddef.h>
#include <uv.h>

#define PWHASH_MAX_PASSWORD 256 /* bytes */

/* rc is 0 on success (hash set, or password matched), -EACCES for a wrong
 * password, -ENOMEM/-EINVAL otherwise. hash is valid during the call only. */
typedef void (*pwhash_cb)(void *arg, int rc, const char *hash);

/* Tuning: libsodium's opslimit and memlimit (bytes). Defaults: INTERACTIVE.
 * Set before the first hash: the dummy hash keeps the limits of its first use. */
void pwhash_set_limits(unsigned long long ops, size_t mem);

int pwhash_hash_async(uv_loop_t *loop, const char *password, size_t len, pwhash_cb cb, void *arg);
/* hash NULL checks against a dummy hash and always fails with -EACCES, so an
 * unknown user costs the same time as a wrong password. */
int pwhash_verify_async(uv_loop_t *loop, const char *hash, const char *password, size_t len,
                        pwhash_cb cb, void *arg);

#endif
