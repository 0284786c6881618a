/* Failed sign-in throttling. Each key (a username, a client address) may fail
 * `free_fails` times; after that every further attempt must wait, doubling
 * from 1 s up to 15 min. A success or 15 quiet minutes forget the key. The
 * table is bounded: when full, stale keys are swept and new keys beyond the
 * bound are not tracked. */
#ifndef ONAIR_THROTTLE_H
#define ONAIR_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#include "util/map.h"

struct throttle {
  struct map keys; /* key -> struct throttle_entry */
  unsigned free_fails;
  size_t max_keys;
};

int throttle_init(struct throttle *t, unsigned free_fails, size_t max_keys);
void throttle_free(struct throttle *t);
/* Returns 0 if an attempt is allowed now, or the ms to wait. */
uint64_t throttle_wait_ms(struct throttle *t, const char *key, uint64_t now_ms);
void throttle_fail(struct throttle *t, const char *key, uint64_t now_ms);
void throttle_success(struct throttle *t, const char *key);

#endif
