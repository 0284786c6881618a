/* The one-node bus: nobody else to hear a message; keys in a map, each
 * with its expiry, so the directory reads the same as over Redis. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cluster/bus.h"
#include "util/map.h"

struct bus_local {
  struct bus b;
  struct map keys; /* "<set>:<name>" -> struct local_value */
};

struct local_value {
  uint64_t expires_ms; /* uv_hrtime() in ms */
  char set[BUS_KEY_MAX];
  char value[];
};

static uint64_t now_ms(void) { return uv_hrtime() / 1000000; }

static int local_key(char *key, const char *set, const char *name) {
  int n = snprintf(key, BUS_KEY_MAX, "%s:%s", set, name);
  return n < 0 || n >= BUS_KEY_MAX ? -EINVAL : n;
}

static int local_publish(struct bus *b, const char *msg, size_t len) {
  (void)msg;
  if (len > BUS_MSG_MAX)
    return -EMSGSIZE;
  b->stats.published++; /* heard by no one: there is no other node */
  return 0;
}

static int local_put(struct bus *b, const char *set, const char *name, const char *value,
                     unsigned ttl_s) {
  struct bus_local *l = (struct bus_local *)b;
  char key[BUS_KEY_MAX];
  size_t vlen = strlen(value);
  int n = local_key(key, set, name);
  if (n < 0 || vlen > BUS_MSG_MAX || strlen(set) >= BUS_KEY_MAX)
    return n < 0 ? n : -EMSGSIZE;
  struct local_value *v = malloc(sizeof(*v) + vlen + 1);
  if (v == NULL)
    return -ENOMEM;
  v->expires_ms = now_ms() + (uint64_t)ttl_s * 1000;
  snprintf(v->set, sizeof(v->set), "%s", set);
  memcpy(v->value, value, vlen + 1);
  free(map_del(&l->keys, key, (size_t)n));
  if (map_put(&l->keys, key, (size_t)n, v) < 0) {
    free(v);
    return -ENOMEM;
  }
  return 0;
}

static int local_del(struct bus *b, const char *set, const char *name) {
  struct bus_local *l = (struct bus_local *)b;
  char key[BUS_KEY_MAX];
  int n = local_key(key, set, name);
  if (n < 0)
    return n;
  free(map_del(&l->keys, key, (size_t)n));
  return 0;
}

static int local_get_all(struct bus *b, const char *set, bus_values_fn cb, void *arg) {
  struct bus_local *l = (struct bus_local *)b;
  const char *values[BUS_LIST_MAX];
  size_t n = 0, slot;
  uint64_t now = now_ms();
  for (struct map_entry *e = map_first(&l->keys, &slot); e && n < BUS_LIST_MAX;
       e = map_next(&l->keys, e, &slot)) {
    const struct local_value *v = e->value;
    if (strcmp(v->set, set) == 0 && v->expires_ms > now)
      values[n++] = v->value;
  }
  cb(arg, 0, values, n);
  return 0;
}

static void local_close(struct bus *b) {
  struct bus_local *l = (struct bus_local *)b;
  size_t slot;
  for (struct map_entry *e = map_first(&l->keys, &slot); e; e = map_next(&l->keys, e, &slot))
    free(e->value);
  map_free(&l->keys);
  free(l);
}

static const struct bus_ops local_ops = {
    .publish = local_publish,
    .put = local_put,
    .del = local_del,
    .get_all = local_get_all,
    .close = local_close,
};

int bus_open_local(struct bus **out, bus_msg_fn on_msg, bus_state_fn on_state, void *arg) {
  struct bus_local *l = calloc(1, sizeof(*l));
  if (l == NULL || map_init(&l->keys) < 0) {
    free(l);
    return -ENOMEM;
  }
  l->b.ops = &local_ops;
  l->b.on_msg = on_msg;
  l->b.on_state = on_state;
  l->b.arg = arg;
  l->b.up = 1;
  *out = &l->b;
  return 0;
}
