/* A string-keyed hash map with chaining. Keys are hashed with SipHash under a
 * random per-process key, so a peer cannot choose keys that collide. The map
 * copies keys; values are the caller's pointers. */
#ifndef ONAIR_MAP_H
#define ONAIR_MAP_H

#include <stddef.h>
#include <stdint.h>

struct map_entry {
  struct map_entry *next;
  void *value;
  size_t key_len;
  char key[]; /* NUL-terminated copy */
};

struct map {
  struct map_entry **slots;
  size_t nslots; /* power of two */
  size_t count;
};

int map_init(struct map *m);
/* Frees the entries, not the values. */
void map_free(struct map *m);
void *map_get(const struct map *m, const char *key, size_t key_len);
/* Inserts or replaces; returns 0 or -ENOMEM. */
int map_put(struct map *m, const char *key, size_t key_len, void *value);
/* Removes key; returns the value it had, or NULL. */
void *map_del(struct map *m, const char *key, size_t key_len);

/* A map as counters per key (values are counts, as uintptr_t; a key at 0
 * is removed). map_count_take adds one unless the key is already at cap
 * (0: no cap): 0, -EBUSY at the cap, or -ENOMEM (nothing counted).
 * map_count_drop takes one away. */
int map_count_take(struct map *m, const char *key, size_t key_len, uintptr_t cap);
void map_count_drop(struct map *m, const char *key, size_t key_len);

/* Iteration: for (e = map_first(m, &i); e; e = map_next(m, e, &i)). Do not
 * insert while iterating; deleting the current entry is not allowed either. */
struct map_entry *map_first(const struct map *m, size_t *slot);
struct map_entry *map_next(const struct map *m, struct map_entry *e, size_t *slot);

#endif
