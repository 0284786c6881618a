/* The events between the nodes of a cluster (docs/cluster.md): messages
 * every other node hears, and keys that expire unless renewed (the
 * directory of nodes and rooms). One interface, two implementations: in
 * process (one node: no other node hears anything; keys live in a map),
 * and Redis (pub/sub on one channel; keys with a TTL). Calls never block:
 * what cannot be sent now (Redis down) is dropped and counted, and the
 * callers renew what matters (keys every few seconds). */
#ifndef ONAIR_BUS_H
#define ONAIR_BUS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define BUS_MSG_MAX (64 * 1024) /* bytes of one message or value; longer ones are refused */
#define BUS_KEY_MAX 128         /* bytes of a key */
#define BUS_LIST_MAX 1024       /* values one bus_get_all() gives at most */

struct bus;

/* A message another node published (msg is NUL-terminated, valid during the
 * call). */
typedef void (*bus_msg_fn)(void *arg, const char *msg, size_t len);
/* The connection to the other nodes came up (up = 1) or went (0). The
 * in-process bus is up from the start. */
typedef void (*bus_state_fn)(void *arg, int up);
/* bus_get_all()'s answer: the values of the set's live keys (n of them, each
 * NUL-terminated; valid during the call), or rc < 0 when it failed. */
typedef void (*bus_values_fn)(void *arg, int rc, const char *const *values, size_t n);

struct bus_ops {
  int (*publish)(struct bus *b, const char *msg, size_t len);
  int (*put)(struct bus *b, const char *set, const char *name, const char *value, unsigned ttl_s);
  int (*del)(struct bus *b, const char *set, const char *name);
  int (*get_all)(struct bus *b, const char *set, bus_values_fn cb, void *arg);
  void (*close)(struct bus *b);
};

struct bus_stats {
  uint64_t published, received; /* messages */
  uint64_t dropped;             /* not sent: the bus was down */
  uint64_t reconnects;          /* times the connection came back */
};

struct bus {
  const struct bus_ops *ops;
  bus_msg_fn on_msg;
  bus_state_fn on_state;
  void *arg;
  int up; /* messages flow now */
  struct bus_stats stats;
};

/* The one-node bus. Returns 0 or -ENOMEM. */
int bus_open_local(struct bus **out, bus_msg_fn on_msg, bus_state_fn on_state, void *arg);
/* A bus over the Redis server at url (redis://host[:port] or unix:/path):
 * messages on channel, keys under prefix. It connects in the background and
 * reconnects every second while the server is away (on_state tells). 0,
 * -EINVAL for a bad url, -ENOMEM. */
int bus_open_redis(uv_loop_t *loop, const char *url, const char *prefix, struct bus **out,
                   bus_msg_fn on_msg, bus_state_fn on_state, void *arg);

/* Every other node's on_msg gets msg (not this node's own). -ENOTCONN while
 * down (counted as dropped), -EMSGSIZE. */
static inline int bus_publish(struct bus *b, const char *msg, size_t len) {
  return b->ops->publish(b, msg, len);
}
/* Sets name's value in set (e.g. "nodes"), living ttl_s seconds unless put
 * again. */
static inline int bus_put(struct bus *b, const char *set, const char *name, const char *value,
                          unsigned ttl_s) {
  return b->ops->put(b, set, name, value, ttl_s);
}
static inline int bus_del(struct bus *b, const char *set, const char *name) {
  return b->ops->del(b, set, name);
}
/* cb gets the values of set's names whose keys have not expired. */
static inline int bus_get_all(struct bus *b, const char *set, bus_values_fn cb, void *arg) {
  return b->ops->get_all(b, set, cb, arg);
}
/* Frees b; callbacks of calls in flight run with rc -ECANCELED first. */
static inline void bus_close(struct bus *b) { b->ops->close(b); }

#endif
