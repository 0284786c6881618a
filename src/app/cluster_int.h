/* What cluster.c (directory and events) and cluster_pull.c (media between
 * nodes) share. Not for other modules. */
#ifndef ONAIR_CLUSTER_INT_H
#define ONAIR_CLUSTER_INT_H

#include <stdint.h>
#include <uv.h>

#include "app/cluster.h"
#include "cluster/bus.h"
#include "media/sfu.h"
#include "util/map.h"

#define CLUSTER_NODE_MAX 64
#define CLUSTER_URL_MAX 300
#define CLUSTER_LINK_ID 16 /* bytes of a link's id */
#define CLUSTER_FORMER 16  /* gone nodes' URLs remembered */

/* Another node, as its directory entry and its events tell. */
struct cluster_node {
  char name[CLUSTER_NODE_MAX];
  char url[CLUSTER_URL_MAX]; /* where viewers reach it */
  char api[CLUSTER_URL_MAX]; /* where nodes reach its HTTP port */
  char address[64];          /* its media address, */
  int media_port;            /* and port */
  uint64_t viewers;          /* its viewers, every room */
  json_t *counts;            /* room key -> its viewers there */
  json_t *sources;           /* room key -> links it relays the room on: rooms it can relay */
  uint64_t seen;             /* the directory listing that last had it */
  int64_t at;                /* when its node made the entry held (its clock, ms) */
};

/* A replica's media, pulled from its origin (cluster_pull.c). */
struct cluster_pull {
  struct cluster *cl;
  struct room *room;      /* NULL once the room ended (the request in flight frees it) */
  struct sfu_owner owner; /* the replica's media room's, and its relay peer's */
  uint8_t link[CLUSTER_LINK_ID];
  char origin[CLUSTER_NODE_MAX]; /* the node asked */
  char avoid[CLUSTER_NODE_MAX];  /* an edge that failed it: not asked again while others can */
  int asking;                    /* a request is in flight */
  int flowing;                   /* the origin answered: the relay is set up */
  uint64_t retry_at;             /* ask again at this loop time (ms); 0: no */
  uint64_t idle_since;           /* its last viewer here left (loop time, ms); 0: has viewers */
  struct cluster_pull *next;
};

struct cluster {
  struct app *app;
  struct bus *bus;
  char node[CLUSTER_NODE_MAX];
  char url[CLUSTER_URL_MAX];
  char api[CLUSTER_URL_MAX];
  char address[64];
  struct map nodes; /* name -> struct cluster_node, every other node */
  /* The URLs of nodes gone from the directory: their pages reconnect to
   * this node, with their Origin (cluster_origin_ok()). */
  char former[CLUSTER_FORMER][CLUSTER_URL_MAX];
  unsigned nformer;
  uint64_t nodes_listing; /* node listings done: a node's seen */
  /* Room listings asked for and answered (in order, so the answer's number
   * is known): a replica an event announced is not ended by a listing
   * asked for before the event. */
  uint64_t rooms_sent, rooms_done;
  uv_timer_t renew;
  uv_timer_t counts; /* coalesces counts events: one per COUNTS_MS however many joins */
  uv_timer_t retry;  /* a failed pull's retry, sooner than the next renewal */
  unsigned handles;  /* timers not yet closed; the memory goes with the last */
  uint64_t up_since; /* when the bus last came up (loop time, ms) */
  struct http_client *http;
  struct cluster_pull *pulls;
  struct cluster_stats stats;
  int closing;
};

/* cluster.c */
struct cluster_node *cluster_node_find(struct cluster *cl, const char *name);

/* cluster_pull.c */
/* The renew timer's tick: retries, and pulls idle past CLUSTER_LINGER_MS end. */
void cluster_pulls_tick(struct cluster *cl);
/* Every pull ends (shutting down). */
void cluster_pulls_close(struct cluster *cl);
/* The link's key: HMAC-SHA256 of the link id under the cluster secret. */
void cluster_link_key(const struct cluster *cl, const uint8_t id[CLUSTER_LINK_ID], uint8_t key[32]);

#endif
