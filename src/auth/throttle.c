#include "auth/throttle.h"

#include <stdlib.h>
#include <string.h>

#define THROTTLE_FORGET_MS (15 * 60 * 1000ULL)
#define THROTTLE_MAX_WAIT_MS (15 * 60 * 1000ULL)

struct throttle_entry {
  unsigned fails;
  uint64_t last_ms;  /* time of the last failure */
  uint64_t until_ms; /* no attempt before this */
};

int throttle_init(struct throttle *t, unsigned free_fails, size_t max_keys) {
  t->free_fails = free_fails;
  t->max_keys = max_keys;
  return map_init(&t->keys);
}

void throttle_free(struct throttle *t) {
  size_t slot;
  for (struct map_entry *e = map_first(&t->keys, &slot); e; e = map_next(&t->keys, e, &slot))
    free(e->value);
  map_free(&t->keys);
}

uint64_t throttle_wait_ms(struct throttle *t, const char *key, uint64_t now_ms) {
  struct throttle_entry *e = map_get(&t->keys, key, strlen(key));
  if (e == NULL || now_ms >= e->until_ms)
    return 0;
  return e->until_ms - now_ms;
}

static void throttle_sweep(struct throttle *t, uint64_t now_ms) {
  size_t slot;
  struct map_entry *e = map_first(&t->keys, &slot);
  while (e) {
    struct map_entry *next = map_next(&t->keys, e, &slot);
    struct throttle_entry *te = e->value;
    if (now_ms - te->last_ms > THROTTLE_FORGET_MS && now_ms >= te->until_ms) {
      free(te);
      map_del(&t->keys, e->key, e->key_len);
    }
    e = next;
  }
}

void throttle_fail(struct throttle *t, const char *key, uint64_t now_ms) {
  size_t klen = strlen(key);
  struct throttle_entry *e = map_get(&t->keys, key, klen);
  if (e == NULL) {
    if (t->keys.count >= t->max_keys)
      throttle_sweep(t, now_ms);
    if (t->keys.count >= t->max_keys)
      return;
    e = calloc(1, sizeof(*e));
    if (e == NULL || map_put(&t->keys, key, klen, e) < 0) {
      free(e);
      return;
    }
  } else if (now_ms - e->last_ms > THROTTLE_FORGET_MS) {
    e->fails = 0;
  }
  e->fails++;
  e->last_ms = now_ms;
  if (e->fails >= t->free_fails) {
    unsigned shift = e->fails - t->free_fails;
    uint64_t wait = shift >= 20 ? THROTTLE_MAX_WAIT_MS : 1000ULL << shift;
    if (wait > THROTTLE_MAX_WAIT_MS)
      wait = THROTTLE_MAX_WAIT_MS;
    e->until_ms = now_ms + wait;
  }
}

void throttle_success(struct throttle *t, const char *key) {
  free(map_del(&t->keys, key, strlen(key)));
}
