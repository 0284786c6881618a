/* The app's side of a cluster (docs/cluster.md): this node's entry and
 * its rooms in the directory, the other nodes' rooms as replicas here, the
 * events live.c sends to the other nodes and applies from them, and the
 * media pulled from a room's origin for this node's viewers. Without the
 * redis key, the bus is the in-process one and none of this leaves the
 * process. */
#ifndef ONAIR_CLUSTER_H
#define ONAIR_CLUSTER_H

#include <jansson.h>
#include <stdint.h>

struct app;
struct room;
struct conn;
struct http_req;

#define CLUSTER_RENEW_MS 2000   /* this node's keys are put again this often */
#define CLUSTER_TTL_S 6         /* and expire this long after the last put */
#define CLUSTER_LINGER_MS 30000 /* a pull with no viewer left stops after this */
#define CLUSTER_CLOCK_SKEW_S 60 /* a node request's time may be off by this much */
#define CLUSTER_COUNTS_MS 100   /* a node's viewer counts go out at most this often */

struct cluster_stats {
  uint64_t nodes;          /* nodes in the directory, this one included */
  uint64_t pulls;          /* rooms whose media this node pulls now */
  uint64_t pulls_started;  /* pulls asked for since start */
  uint64_t pulls_failed;   /* pulls the origin refused or did not answer */
  uint64_t relays_served;  /* pulls this node answered as an origin */
  uint64_t events_applied; /* other nodes' events applied here */
  uint64_t bus_published, bus_received, bus_dropped, bus_reconnects;
  int bus_up;
};

/* Opens the bus (Redis with cfg->redis, else in process) and starts
 * renewing this node's entry. 0 or a negative errno (logged). */
int cluster_start(struct app *app);
/* Stops: this node's keys are deleted (when the bus is up) and the bus is
 * closed. Pulls end with their rooms (live_end_all first). */
void cluster_close(struct app *app);
void cluster_get_stats(const struct app *app, struct cluster_stats *out);
/* This node's name. */
const char *cluster_node(const struct app *app);

/* live.c's events, for the other nodes. A room of this node's went live or
 * changed (title, state). */
void cluster_room_changed(struct app *app, struct room *room);
/* A room ended: this node's (the others hear it), or a replica (its pull
 * stops). */
void cluster_room_ended(struct app *app, struct room *room, const char *reason);
/* The room's viewers on this node changed. */
void cluster_count_changed(struct app *app, struct room *room);
/* A chat message was stored and sent to this node's members (msg is the
 * "chat" message they got; not consumed). */
void cluster_chat(struct app *app, struct room *room, json_t *msg);
/* A session was signed out / a user closed (disabled): every node closes
 * their pages too. */
void cluster_signout(struct app *app, const char *token);
void cluster_user_closed(struct app *app, int64_t user_id, const char *reason);
/* A replica is to end everywhere (an admin ended it here): its origin is
 * asked to end it. */
void cluster_end_request(struct app *app, struct room *room, const char *reason);
/* A viewer joined (joined = 1) or left a replica here: the origin's
 * broadcaster hears it. */
void cluster_viewer(struct app *app, struct room *room, const char *peer, const char *user,
                    int joined);

/* A replica got a viewer here: its media is pulled from its origin (once;
 * viewers hear media.ready when it flows). A pull lingering without
 * viewers is kept; one asked for while nobody watches here lingers. */
void cluster_pull_need(struct app *app, struct room *room);
/* The replica's last viewer here left: its pull stops after
 * CLUSTER_LINGER_MS unless a viewer comes. */
void cluster_pull_idle(struct app *app, struct room *room);
/* The replica ends here: its pull stops (the origin is told). */
void cluster_pull_end(struct app *app, struct room *room);

/* 1 if origin (len bytes, not NUL-terminated) is a node's URL. */
int cluster_origin_ok(struct app *app, const char *origin, size_t len);

/* POST /cluster/pull and /cluster/release: another node's requests (signed
 * with the cluster secret). */
void cluster_route(struct conn *c, struct http_req *req);
/* node-redirect-margin: 0 and the URL (out, size bytes) of the least-loaded
 * node, path appended, when this one has more than the margin more viewers
 * than it; -ENOENT to serve here. */
int cluster_redirect(struct app *app, const char *path, char *out, size_t size);
/* The other nodes' URLs, least loaded first: where a page reconnects when
 * this node is gone (hello's "nodes"). */
json_t *cluster_nodes_json(struct app *app);

#endif
