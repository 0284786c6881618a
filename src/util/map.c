#include "util/map.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One secret SipHash key for every map of the process, drawn on first use:
 * keys a client chooses (names, addresses) cannot be made to collide
 * without it, and one key is as good as one per map. Once per process,
 * thread-safe, because maps live on every loop. */
static unsigned char hash_key[crypto_shorthash_KEYBYTES];
static pthread_once_t hash_key_once = PTHREAD_ONCE_INIT;

static void hash_key_make(void) { randombytes_buf(hash_key, sizeof(hash_key)); }

static uint64_t map_hash(const char *key, size_t len) {
  unsigned char out[crypto_shorthash_BYTES];
  pthread_once(&hash_key_once, hash_key_make);
  crypto_shorthash(out, (const unsigned char *)key, len, hash_key);
  uint64_t h;
  memcpy(&h, out, sizeof(h));
  return h;
}

int map_init(struct map *m) {
  m->nslots = 16;
  m->count = 0;
  m->slots = calloc(m->nslots, sizeof(*m->slots));
  return m->slots ? 0 : -ENOMEM;
}

void map_free(struct map *m) {
  for (size_t i = 0; i < m->nslots; i++) {
    struct map_entry *e = m->slots[i];
    while (e) {
      struct map_entry *next = e->next;
      free(e);
      e = next;
    }
  }
  free(m->slots);
  m->slots = NULL;
  m->nslots = m->count = 0;
}

static struct map_entry **map_find(const struct map *m, const char *key, size_t len) {
  struct map_entry **pp = &m->slots[map_hash(key, len) & (m->nslots - 1)];
  for (; *pp; pp = &(*pp)->next) {
    if ((*pp)->key_len == len && memcmp((*pp)->key, key, len) == 0)
      return pp;
  }
  return pp;
}

void *map_get(const struct map *m, const char *key, size_t key_len) {
  struct map_entry **pp = map_find(m, key, key_len);
  return *pp ? (*pp)->value : NULL;
}

static int map_grow(struct map *m) {
  size_t n = m->nslots * 2;
  struct map_entry **slots = calloc(n, sizeof(*slots));
  if (slots == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < m->nslots; i++) {
    struct map_entry *e = m->slots[i];
    while (e) {
      struct map_entry *next = e->next;
      size_t s = map_hash(e->key, e->key_len) & (n - 1);
      e->next = slots[s];
      slots[s] = e;
      e = next;
    }
  }
  free(m->slots);
  m->slots = slots;
  m->nslots = n;
  return 0;
}

int map_put(struct map *m, const char *key, size_t key_len, void *value) {
  struct map_entry **pp = map_find(m, key, key_len);
  if (*pp) {
    (*pp)->value = value;
    return 0;
  }
  struct map_entry *e = malloc(sizeof(*e) + key_len + 1);
  if (e == NULL)
    return -ENOMEM;
  memcpy(e->key, key, key_len);
  e->key[key_len] = 0;
  e->key_len = key_len;
  e->value = value;
  e->next = NULL;
  *pp = e;
  m->count++;
  if (m->count > m->nslots && map_grow(m) < 0)
    return 0; /* still inserted; the chains are just longer */
  return 0;
}

void *map_del(struct map *m, const char *key, size_t key_len) {
  struct map_entry **pp = map_find(m, key, key_len);
  struct map_entry *e = *pp;
  if (e == NULL)
    return NULL;
  void *v = e->value;
  *pp = e->next;
  free(e);
  m->count--;
  return v;
}

struct map_entry *map_first(const struct map *m, size_t *slot) {
  for (*slot = 0; *slot < m->nslots; (*slot)++) {
    if (m->slots[*slot])
      return m->slots[*slot];
  }
  return NULL;
}

struct map_entry *map_next(const struct map *m, struct map_entry *e, size_t *slot) {
  if (e->next)
    return e->next;
  for ((*slot)++; *slot < m->nslots; (*slot)++) {
    if (m->slots[*slot])
      return m->slots[*slot];
  }
  return NULL;
}

int map_count_take(struct map *m, const char *key, size_t key_len, uintptr_t cap) {
  uintptr_t n = (uintptr_t)map_get(m, key, key_len);
  if (cap && n >= cap)
    return -EBUSY;
  return map_put(m, key, key_len, (void *)(n + 1));
}

void map_count_drop(struct map *m, const char *key, size_t key_len) {
  uintptr_t n = (uintptr_t)map_get(m, key, key_len);
  if (n <= 1)
    map_del(m, key, key_len);
  else
    map_put(m, key, key_len, (void *)(n - 1)); /* the key is there: no allocation */
}
