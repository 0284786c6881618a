/* The cluster's directory and events (docs/cluster.md). Every
 * CLUSTER_RENEW_MS this node puts its entry (where it is reached, its
 * viewers per room) and each room it is the origin of, each living
 * CLUSTER_TTL_S, then reads every node's and room's entry back: a room
 * live on another node becomes a replica here (listed, joined and chatted
 * in as any room), one whose entry expired ends, and a node whose entry
 * expired no longer counts. Events carry what should not wait for the next
 * listing: rooms starting, changing and ending, viewer counts, chat,
 * sign-outs. While the bus is down nothing here is dropped: this node
 * serves its own rooms and the replicas it had, and catches up when the
 * bus is back. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/chat.h"
#include "app/cluster_int.h"
#include "app/live_int.h"
#include "http/http.h"
#include "net/http_client.h"
#include "net/ifaddr.h"
#include "util/log.h"

#define SET_NODES "nodes"
#define SET_ROOMS "rooms"

const char *cluster_node(const struct app *app) { return app->cluster->node; }

struct cluster_node *cluster_node_find(struct cluster *cl, const char *name) {
  return map_get(&cl->nodes, name, strlen(name));
}

static void publish(struct cluster *cl, json_t *j) {
  json_object_set_new(j, "node", json_string(cl->node));
  char *s = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  if (s == NULL)
    return;
  bus_publish(cl->bus, s, strlen(s));
  free(s);
}

/* ---- this node's entries ---- */

static json_t *room_entry(struct cluster *cl, const struct room *room) {
  return json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:I, s:s}", "name", room->name, "title",
                   room->title, "owner_id", (json_int_t)room->owner_id, "since",
                   (json_int_t)room->since_ms, "state", room_state(room), "origin", cl->node,
                   "claimed", (json_int_t)room->claimed_ms, "source",
                   room->encoder ? "encoder" : "browser");
}

/* The rooms this node can relay to another (its own with media, replicas
 * whose media flows here), each with the links it relays it on now. */
static json_t *local_sources(struct app *app) {
  json_t *sources = json_object();
  struct rooms_iter it;
  for (struct room *r = rooms_first(&app->rooms, &it); r; r = rooms_next(&app->rooms, &it)) {
    if (r->media && sfu_room_ready(r->media) && (r->origin[0] == 0 || r->pull))
      json_object_set_new(sources, r->key, json_integer(sfu_room_relays(r->media)));
  }
  return sources;
}

static json_t *local_counts(struct app *app, size_t *total);

/* This node's entry in the directory (and its counts event), with when it
 * was made: a listing read before the latest event must not undo it. */
static json_t *node_entry(struct cluster *cl) {
  struct app *app = cl->app;
  size_t total;
  json_t *counts = local_counts(app, &total);
  return json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:o, s:o, s:I}", "name", cl->node, "url",
                   cl->url, "api", cl->api, "address", cl->address, "media_port",
                   app->sfu ? sfu_port(app->sfu) : 0, "viewers", (json_int_t)total, "counts",
                   counts, "sources", local_sources(app), "at", (json_int_t)session_now_ms());
}

static void put_node(struct cluster *cl, json_t *node) {
  char *s = json_dumps(node, JSON_COMPACT);
  if (s)
    bus_put(cl->bus, SET_NODES, cl->node, s, CLUSTER_TTL_S);
  free(s);
}

/* This node's viewers in each room (replicas too), and in all. */
static json_t *local_counts(struct app *app, size_t *total) {
  json_t *counts = json_object();
  struct rooms_iter it;
  *total = 0;
  for (struct room *r = rooms_first(&app->rooms, &it); r; r = rooms_next(&app->rooms, &it)) {
    size_t n = room_local_viewers(r);
    *total += n;
    if (n)
      json_object_set_new(counts, r->key, json_integer((json_int_t)n));
  }
  return counts;
}

static void put_entries(struct cluster *cl) {
  struct app *app = cl->app;
  json_t *node = node_entry(cl);
  put_node(cl, node);
  json_decref(node);
  struct rooms_iter it;
  for (struct room *r = rooms_first(&app->rooms, &it); r; r = rooms_next(&app->rooms, &it)) {
    if (r->origin[0])
      continue;
    json_t *e = room_entry(cl, r);
    char *v = json_dumps(e, JSON_COMPACT);
    json_decref(e);
    if (v)
      bus_put(cl->bus, SET_ROOMS, r->key, v, CLUSTER_TTL_S);
    free(v);
  }
}

/* ---- other nodes' viewers ---- */

/* A room's viewers on the other nodes, from their counts; the room's
 * members and the room list hear a change. */
static void room_others(struct cluster *cl, struct room *room) {
  size_t others = 0, slot;
  for (struct map_entry *e = map_first(&cl->nodes, &slot); e; e = map_next(&cl->nodes, e, &slot)) {
    struct cluster_node *n = e->value;
    json_t *v = json_object_get(n->counts, room->key);
    if (json_is_integer(v) && json_integer_value(v) > 0)
      others += (size_t)json_integer_value(v);
  }
  if (others == room->others)
    return;
  room->others = others;
  rooms_count_changed(&cl->app->rooms, room);
  viewers_changed(cl->app);
  rooms_changed(cl->app);
}

static void rooms_others(struct cluster *cl) {
  struct rooms_iter it;
  for (struct room *r = rooms_first(&cl->app->rooms, &it); r; r = rooms_next(&cl->app->rooms, &it))
    room_others(cl, r);
}

static void node_free(struct cluster_node *n) {
  json_decref(n->counts);
  json_decref(n->sources);
  free(n);
}

/* Another node's entry (from a listing or a counts event): kept, or
 * refreshed. NULL for this node's own or a bad one. */
static struct cluster_node *node_apply(struct cluster *cl, json_t *v) {
  const char *name = json_string_value(json_object_get(v, "name"));
  json_t *counts = json_object_get(v, "counts");
  if (name == NULL || strcmp(name, cl->node) == 0 || strlen(name) >= CLUSTER_NODE_MAX ||
      !json_is_object(counts))
    return NULL;
  struct cluster_node *n = cluster_node_find(cl, name);
  if (n == NULL) {
    if ((n = calloc(1, sizeof(*n))) == NULL)
      return NULL;
    snprintf(n->name, sizeof(n->name), "%s", name);
    if (map_put(&cl->nodes, n->name, strlen(n->name), n) < 0) {
      free(n);
      return NULL;
    }
    log_ev(LOG_INFO, "cluster: node joined", LOG_S("node", name));
  }
  json_int_t at = json_integer_value(json_object_get(v, "at"));
  if (at < n->at)
    return n; /* a listing read before the event that brought a newer one */
  n->at = at;
  json_decref(n->counts);
  n->counts = json_incref(counts);
  json_t *sources = json_object_get(v, "sources");
  json_decref(n->sources);
  n->sources = json_is_object(sources) ? json_incref(sources) : NULL;
  n->viewers = (uint64_t)json_integer_value(json_object_get(v, "viewers"));
  const char *s;
  if ((s = json_string_value(json_object_get(v, "url"))))
    snprintf(n->url, sizeof(n->url), "%s", s);
  if ((s = json_string_value(json_object_get(v, "api"))))
    snprintf(n->api, sizeof(n->api), "%s", s);
  if ((s = json_string_value(json_object_get(v, "address"))))
    snprintf(n->address, sizeof(n->address), "%s", s);
  json_int_t port = json_integer_value(json_object_get(v, "media_port"));
  n->media_port = port > 0 && port < 65536 ? (int)port : 0;
  return n;
}

/* The pages' CSP lets them open WebSockets to every node they may
 * reconnect to: the directory's, and those gone from it. */
static void csp_add(char *out, size_t size, size_t *len, const char *url) {
  int tls = strncmp(url, "https://", 8) == 0;
  if (!tls && strncmp(url, "http://", 7) != 0)
    return;
  int n = snprintf(out + *len, size - *len, "%s%s%s", *len ? " " : "", tls ? "wss://" : "ws://",
                   url + (tls ? 8 : 7));
  if (n > 0 && (size_t)n < size - *len)
    *len += (size_t)n;
  else
    out[*len] = 0;
}

static void csp_sources(struct cluster *cl) {
  char out[HTTP_CONNECT_SRC_MAX];
  size_t len = 0, slot;
  out[0] = 0;
  if (cl->app->site == NULL)
    return;
  for (struct map_entry *e = map_first(&cl->nodes, &slot); e; e = map_next(&cl->nodes, e, &slot))
    csp_add(out, sizeof(out), &len, ((struct cluster_node *)e->value)->url);
  for (unsigned i = 0; i < CLUSTER_FORMER && i < cl->nformer; i++)
    csp_add(out, sizeof(out), &len, cl->former[i]);
  http_server_connect_src(cl->app->site, out);
}

/* Whether listings have been complete long enough to tell what is gone
 * from them: a Redis that restarted holds nothing until every node has put
 * its entries again (within a renewal). */
static int settled(const struct cluster *cl) {
  return uv_now(cl->app->loop) - cl->up_since >= (uint64_t)CLUSTER_TTL_S * 1000;
}

static void on_nodes(void *arg, int rc, const char *const *values, size_t nvalues) {
  struct cluster *cl = arg;
  if (rc < 0 || cl->closing)
    return;
  uint64_t listing = ++cl->nodes_listing;
  for (size_t i = 0; i < nvalues; i++) {
    json_t *v = json_loads(values[i], 0, NULL);
    struct cluster_node *n = v ? node_apply(cl, v) : NULL;
    if (n)
      n->seen = listing;
    json_decref(v);
  }
  size_t slot;
  /* A Redis that came back empty: entries are being put again. */
  struct map_entry *e = settled(cl) ? map_first(&cl->nodes, &slot) : NULL;
  while (e) {
    struct cluster_node *n = e->value;
    e = map_next(&cl->nodes, e, &slot);
    if (n->seen == listing)
      continue;
    log_ev(LOG_WARN, "cluster: node gone", LOG_S("node", n->name));
    snprintf(cl->former[cl->nformer++ % CLUSTER_FORMER], CLUSTER_URL_MAX, "%s", n->url);
    map_del(&cl->nodes, n->name, strlen(n->name));
    node_free(n);
  }
  cl->stats.nodes = cl->nodes.count + 1;
  rooms_others(cl);
  csp_sources(cl);
}

/* ---- other nodes' rooms: replicas ---- */

/* A replica's broadcaster went or came back on its origin. */
static void replica_state(struct cluster *cl, struct room *room, int reconnecting) {
  if (room->origin_reconnecting == reconnecting)
    return;
  room->origin_reconnecting = reconnecting;
  rooms_changed(cl->app);
  if (reconnecting) {
    cluster_pull_end(cl->app, room);
    room_send_to(room,
                 json_pack("{s:s, s:s, s:I}", "type", "room.reconnecting", "room", room->name,
                           "grace_ms", (json_int_t)cl->app->cfg->reconnect_grace_ms),
                 0);
    return;
  }
  room_send_to(room,
               json_pack("{s:s, s:s, s:s}", "type", "room.resumed", "room", room->name,
                         "broadcaster_peer", ""),
               0);
  if (room->nviewers)
    cluster_pull_need(cl->app, room);
}

static void replica_title(struct cluster *cl, struct room *room, const char *title) {
  if (strcmp(room->title, title) == 0)
    return;
  snprintf(room->title, sizeof(room->title), "%s", title);
  rooms_changed(cl->app);
  room_send_to(
      room,
      json_pack("{s:s, s:s, s:s}", "type", "room.title", "room", room->name, "title", room->title),
      0);
}

/* A room entry of another node's (listing or event): its replica here is
 * made or brought up to date. */
static void replica_apply(struct cluster *cl, json_t *v, uint64_t listing) {
  struct app *app = cl->app;
  const char *name = json_string_value(json_object_get(v, "name"));
  const char *origin = json_string_value(json_object_get(v, "origin"));
  const char *title = json_string_value(json_object_get(v, "title"));
  const char *state = json_string_value(json_object_get(v, "state"));
  if (name == NULL || origin == NULL || title == NULL || state == NULL ||
      !rooms_name_ok(name, strlen(name)) || strcmp(origin, cl->node) == 0 ||
      strlen(origin) >= sizeof(((struct room *)0)->origin) ||
      strlen(title) >= sizeof(((struct room *)0)->title))
    return;
  struct room *room = rooms_find(&app->rooms, name, strlen(name));
  json_int_t claimed = json_integer_value(json_object_get(v, "claimed"));
  if (room && room->origin[0] == 0) {
    /* Live here and there: the later claim keeps it (its broadcaster went
     * live, or came back, on that node). */
    if (claimed < room->claimed_ms ||
        (claimed == room->claimed_ms && strcmp(origin, cl->node) < 0)) {
      log_ev(LOG_WARN, "cluster: a room live here is announced by another node",
             LOG_S("room", name), LOG_S("node", origin));
      return;
    }
    live_room_yield(app, room, origin);
  }
  if (room && strcmp(room->origin, origin) != 0) {
    /* Its broadcaster went live again on another node: pull from there. */
    cluster_pull_end(app, room);
    snprintf(room->origin, sizeof(room->origin), "%s", origin);
    if (room->nviewers)
      cluster_pull_need(app, room);
  }
  if (room == NULL) {
    json_int_t since = json_integer_value(json_object_get(v, "since"));
    json_int_t owner = json_integer_value(json_object_get(v, "owner_id"));
    if (rooms_open(&app->rooms, name, owner, NULL, since, &room) < 0)
      return;
    snprintf(room->origin, sizeof(room->origin), "%s", origin);
    snprintf(room->title, sizeof(room->title), "%s", title);
    room->origin_reconnecting = strcmp(state, "reconnecting") == 0;
    log_ev(LOG_INFO, "cluster: room live on another node", LOG_S("room", name),
           LOG_S("node", origin));
    rooms_changed(app);
    room_others(cl, room);
  }
  room->origin_seen = listing;
  room->origin_lost_until = 0;
  room->claimed_ms = claimed;
  room->origin_encoder = json_is_string(json_object_get(v, "source")) &&
                         strcmp(json_string_value(json_object_get(v, "source")), "encoder") == 0;
  replica_title(cl, room, title);
  replica_state(cl, room, strcmp(state, "reconnecting") == 0);
}

/* Replicas whose entry expired: their origin died (or ended them unheard).
 * Each waits reconnect-grace-ms for its broadcaster to come back on some
 * node (which then takes it over), then ends. */
static void replicas_lost(struct cluster *cl, uint64_t listing) {
  uint64_t now = uv_now(cl->app->loop), grace = cl->app->cfg->reconnect_grace_ms;
  struct rooms_iter it;
  struct room *r = rooms_first(&cl->app->rooms, &it);
  while (r) {
    struct room *next = rooms_next(&cl->app->rooms, &it);
    if (r->origin[0] && r->origin_seen < listing) {
      if (grace && r->origin_lost_until == 0) {
        log_ev(LOG_INFO, "cluster: room gone from the directory; its broadcaster may come back",
               LOG_S("room", r->name), LOG_S("node", r->origin));
        r->origin_lost_until = now + grace;
        replica_state(cl, r, 1);
      } else if (now >= r->origin_lost_until) {
        log_ev(LOG_INFO, "cluster: room gone from the directory", LOG_S("room", r->name),
               LOG_S("node", r->origin));
        room_end(cl->app, r, "gone");
        next = rooms_first(&cl->app->rooms, &it); /* the registry changed */
      }
    }
    r = next;
  }
}

static void on_rooms(void *arg, int rc, const char *const *values, size_t nvalues) {
  struct cluster *cl = arg;
  uint64_t listing = ++cl->rooms_done;
  if (rc < 0 || cl->closing)
    return;
  for (size_t i = 0; i < nvalues; i++) {
    json_t *v = json_loads(values[i], 0, NULL);
    if (v)
      replica_apply(cl, v, listing);
    json_decref(v);
  }
  if (settled(cl))
    replicas_lost(cl, listing);
}

static void on_renew(uv_timer_t *t) {
  struct cluster *cl = t->data;
  if (!cl->bus->up)
    return;
  put_entries(cl);
  /* The rooms are read after the nodes, whose listing numbers them. */
  bus_get_all(cl->bus, SET_NODES, on_nodes, cl);
  cl->rooms_sent++;
  if (bus_get_all(cl->bus, SET_ROOMS, on_rooms, cl) < 0)
    cl->rooms_sent--; /* no answer will come */
  cluster_pulls_tick(cl);
}

/* ---- events ---- */

static void on_chat_event(struct cluster *cl, json_t *v, struct room *room) {
  json_t *id = json_object_get(v, "id"), *ts = json_object_get(v, "ts");
  const char *user = json_string_value(json_object_get(v, "user"));
  const char *text = json_string_value(json_object_get(v, "text"));
  if (room == NULL || !json_is_integer(id) || !json_is_integer(ts) || user == NULL || text == NULL)
    return;
  room_send(room, json_pack("{s:s, s:s, s:O, s:s, s:s, s:O}", "type", "chat", "room", room->name,
                            "id", id, "user", user, "text", text, "ts", ts));
  cl->app->counters.chat_out += room->nviewers + (room->broadcaster != NULL);
}

/* A session signed out on another node: its hash is all that travels. */
static void on_signout_event(struct cluster *cl, const char *hash) {
  if (hash == NULL || strlen(hash) != 64)
    return;
  live_close_session_hash(cl->app, hash);
}

static void on_viewer_event(struct cluster *cl, json_t *v, struct room *room) {
  const char *peer = json_string_value(json_object_get(v, "peer"));
  const char *user = json_string_value(json_object_get(v, "user"));
  const char *node = json_string_value(json_object_get(v, "node"));
  if (room == NULL || room->origin[0] || room->broadcaster == NULL || peer == NULL ||
      user == NULL || node == NULL)
    return;
  char remote_peer[CLUSTER_NODE_MAX + 32];
  snprintf(remote_peer, sizeof(remote_peer), "%s/%s", node, peer);
  int joined = json_is_true(json_object_get(v, "joined"));
  json_t *m = json_pack("{s:s, s:s, s:s}", "type", joined ? "viewer.joined" : "viewer.left", "room",
                        room->name, "peer", remote_peer);
  if (joined)
    json_object_set_new(m, "user", json_string(user));
  client_send(room->broadcaster, m);
}

static void on_bus_msg(void *arg, const char *msg, size_t len) {
  struct cluster *cl = arg;
  struct app *app = cl->app;
  json_t *v = json_loadb(msg, len, JSON_REJECT_DUPLICATES, NULL);
  const char *t = json_string_value(json_object_get(v, "t"));
  const char *name = json_string_value(json_object_get(v, "room"));
  const char *node = json_string_value(json_object_get(v, "node"));
  if (t == NULL || node == NULL || cl->closing) {
    json_decref(v);
    return;
  }
  struct room *room = name ? rooms_find(&app->rooms, name, strlen(name)) : NULL;
  cl->stats.events_applied++;
  if (strcmp(t, "room") == 0) {
    replica_apply(cl, json_object_get(v, "entry"), cl->rooms_sent + 1);
  } else if (strcmp(t, "end") == 0) {
    const char *reason = json_string_value(json_object_get(v, "reason"));
    if (room && strcmp(room->origin, node) == 0)
      room_end(app, room, reason && strlen(reason) < 32 ? reason : "ended");
  } else if (strcmp(t, "counts") == 0) {
    if (node_apply(cl, json_object_get(v, "entry")))
      rooms_others(cl);
  } else if (strcmp(t, "chat") == 0) {
    on_chat_event(cl, v, room);
  } else if (strcmp(t, "signout") == 0) {
    on_signout_event(cl, json_string_value(json_object_get(v, "hash")));
  } else if (strcmp(t, "user") == 0) {
    json_t *id = json_object_get(v, "user_id");
    const char *reason = json_string_value(json_object_get(v, "reason"));
    if (json_is_integer(id) && reason && strlen(reason) < 64)
      live_close_user(app, json_integer_value(id), reason);
  } else if (strcmp(t, "end_request") == 0) {
    const char *origin = json_string_value(json_object_get(v, "origin"));
    if (room && room->origin[0] == 0 && origin && strcmp(origin, cl->node) == 0)
      room_end(app, room, "admin");
  } else if (strcmp(t, "viewer") == 0) {
    on_viewer_event(cl, v, room);
  } else {
    cl->stats.events_applied--;
  }
  json_decref(v);
}

static void on_bus_state(void *arg, int up) {
  struct cluster *cl = arg;
  cl->stats.bus_up = up;
  if (up)
    cl->up_since = uv_now(cl->app->loop);
  if (up && !cl->closing)
    on_renew(&cl->renew); /* back: entries now, not in two seconds */
}

/* ---- live.c's events ---- */

void cluster_room_changed(struct app *app, struct room *room) {
  struct cluster *cl = app->cluster;
  if (cl == NULL || room->origin[0])
    return;
  json_t *e = room_entry(cl, room);
  char *v = json_dumps(e, JSON_COMPACT);
  if (v)
    bus_put(cl->bus, SET_ROOMS, room->key, v, CLUSTER_TTL_S);
  free(v);
  publish(cl, json_pack("{s:s, s:o}", "t", "room", "entry", e));
}

void cluster_room_ended(struct app *app, struct room *room, const char *reason) {
  struct cluster *cl = app->cluster;
  if (cl == NULL)
    return;
  if (room->origin[0]) {
    cluster_pull_end(app, room);
    return;
  }
  bus_del(cl->bus, SET_ROOMS, room->key);
  publish(cl, json_pack("{s:s, s:s, s:s}", "t", "end", "room", room->name, "reason", reason));
}

/* The entry goes to the directory as well as to the nodes listening: one
 * that reads the directory next finds it there, not the one before. */
static void on_counts(uv_timer_t *t) {
  struct cluster *cl = t->data;
  json_t *node = node_entry(cl);
  put_node(cl, node);
  publish(cl, json_pack("{s:s, s:o}", "t", "counts", "entry", node));
}

/* The entry goes out within CLUSTER_COUNTS_MS, once however many viewers
 * came and went meanwhile (it lists every room: a join must not cost that). */
void cluster_count_changed(struct app *app, struct room *room) {
  struct cluster *cl = app->cluster;
  (void)room;
  if (cl == NULL || cl->nodes.count == 0 || uv_is_active((uv_handle_t *)&cl->counts))
    return;
  uv_timer_start(&cl->counts, on_counts, CLUSTER_COUNTS_MS, 0);
}

void cluster_chat(struct app *app, struct room *room, json_t *msg) {
  struct cluster *cl = app->cluster;
  if (cl == NULL || cl->nodes.count == 0)
    return;
  json_t *e = json_deep_copy(msg);
  json_object_del(e, "type");
  json_object_set_new(e, "t", json_string("chat"));
  json_object_set_new(e, "room", json_string(room->name));
  publish(cl, e);
}

void cluster_signout(struct app *app, const char *token) {
  struct cluster *cl = app->cluster;
  if (cl == NULL)
    return;
  char hash[65];
  live_token_hash(token, hash);
  publish(cl, json_pack("{s:s, s:s}", "t", "signout", "hash", hash));
}

void cluster_user_closed(struct app *app, int64_t user_id, const char *reason) {
  struct cluster *cl = app->cluster;
  if (cl == NULL)
    return;
  publish(cl, json_pack("{s:s, s:I, s:s}", "t", "user", "user_id", (json_int_t)user_id, "reason",
                        reason));
}

void cluster_end_request(struct app *app, struct room *room, const char *reason) {
  struct cluster *cl = app->cluster;
  if (cl == NULL || room->origin[0] == 0)
    return;
  publish(cl, json_pack("{s:s, s:s, s:s, s:s}", "t", "end_request", "room", room->name, "origin",
                        room->origin, "reason", reason));
}

void cluster_viewer(struct app *app, struct room *room, const char *peer, const char *user,
                    int joined) {
  struct cluster *cl = app->cluster;
  if (cl == NULL || room->origin[0] == 0)
    return;
  publish(cl, json_pack("{s:s, s:s, s:s, s:s, s:b}", "t", "viewer", "room", room->name, "peer",
                        peer, "user", user, "joined", joined));
}

static int url_is(const char *url, const char *origin, size_t len) {
  size_t ulen = strlen(url);
  while (ulen && url[ulen - 1] == '/')
    ulen--;
  return ulen && ulen == len && memcmp(url, origin, len) == 0;
}

int cluster_origin_ok(struct app *app, const char *origin, size_t len) {
  struct cluster *cl = app->cluster;
  if (cl == NULL || app->cfg->redis[0] == 0)
    return 0;
  size_t slot;
  for (struct map_entry *e = map_first(&cl->nodes, &slot); e; e = map_next(&cl->nodes, e, &slot)) {
    const struct cluster_node *n = e->value;
    if (url_is(n->url, origin, len))
      return 1;
  }
  for (unsigned i = 0; i < CLUSTER_FORMER; i++)
    if (url_is(cl->former[i], origin, len))
      return 1;
  return 0;
}

static int by_viewers(const void *a, const void *b) {
  const struct cluster_node *x = *(const struct cluster_node *const *)a;
  const struct cluster_node *y = *(const struct cluster_node *const *)b;
  return x->viewers < y->viewers ? -1 : x->viewers > y->viewers;
}

int cluster_redirect(struct app *app, const char *path, char *out, size_t size) {
  struct cluster *cl = app->cluster;
  unsigned margin = app->cfg->node_redirect;
  if (cl == NULL || margin == 0 || app->cfg->redis[0] == 0)
    return -ENOENT;
  size_t here, slot;
  json_decref(local_counts(app, &here));
  const struct cluster_node *least = NULL;
  for (struct map_entry *e = map_first(&cl->nodes, &slot); e; e = map_next(&cl->nodes, e, &slot)) {
    const struct cluster_node *n = e->value;
    if (n->url[0] && (least == NULL || n->viewers < least->viewers))
      least = n;
  }
  if (least == NULL || here <= least->viewers + margin)
    return -ENOENT;
  int n = snprintf(out, size, "%s%s", least->url, path);
  return n > 0 && (size_t)n < size ? 0 : -ENOENT;
}

json_t *cluster_nodes_json(struct app *app) {
  struct cluster *cl = app->cluster;
  json_t *list = json_array();
  if (cl == NULL || cl->nodes.count == 0)
    return list;
  const struct cluster_node *nodes[64];
  size_t n = 0, slot;
  for (struct map_entry *e = map_first(&cl->nodes, &slot); e && n < 64;
       e = map_next(&cl->nodes, e, &slot))
    nodes[n++] = e->value;
  qsort(nodes, n, sizeof(nodes[0]), by_viewers);
  for (size_t i = 0; i < n; i++)
    if (nodes[i]->url[0])
      json_array_append_new(list, json_string(nodes[i]->url));
  return list;
}

/* ---- start and stop ---- */

/* node-name, node-url and node-address, or what they default to. */
static void cluster_names(struct cluster *cl, const struct config *cfg, int media_port) {
  char host[64] = "onair";
  if (cfg->node_name[0]) {
    snprintf(cl->node, sizeof(cl->node), "%s", cfg->node_name);
  } else {
    gethostname(host, sizeof(host) - 1);
    snprintf(cl->node, sizeof(cl->node), "%.40s:%d", host, cfg->listen_port);
  }
  const char *addr = cfg->node_address;
  char first[64] = "";
  if (addr[0] == 0) {
    size_t n = strcspn(cfg->media_announce, ", \t");
    snprintf(first, sizeof(first), "%.*s", (int)n, cfg->media_announce);
    addr = first[0] ? first : cfg->media_bind[0] ? cfg->media_bind : cfg->listen_host;
  }
  snprintf(cl->address, sizeof(cl->address), "%s", addr);
  if (strcmp(addr, "0.0.0.0") == 0 || strcmp(addr, "::") == 0) {
    char found[IFADDR_MAX * (INET6_ADDRSTRLEN + 2)];
    if (ifaddr_list(strcmp(addr, "::") == 0, found, sizeof(found)) > 0)
      snprintf(cl->address, sizeof(cl->address), "%.*s", (int)strcspn(found, ", "), found);
  }
  int v6 = strchr(cl->address, ':') != NULL;
  if (cfg->node_url[0])
    snprintf(cl->url, sizeof(cl->url), "%s", cfg->node_url);
  else if (cfg->base_url[0])
    snprintf(cl->url, sizeof(cl->url), "%s", cfg->base_url);
  else
    snprintf(cl->url, sizeof(cl->url), "http://%s%s%s:%d", v6 ? "[" : "", cl->address,
             v6 ? "]" : "", cfg->listen_port);
  /* Nodes reach each other's HTTP port at the node address; with HTTPS
   * (whose certificate names the site, not the address) at the node URL. */
  if (cfg->tls_cert[0] || cfg->tls_domain[0])
    snprintf(cl->api, sizeof(cl->api), "%s", cl->url);
  else
    snprintf(cl->api, sizeof(cl->api), "http://%s%s%s:%d", v6 ? "[" : "", cl->address,
             v6 ? "]" : "", cfg->listen_port);
  (void)media_port;
}

int cluster_start(struct app *app) {
  const struct config *cfg = app->cfg;
  struct cluster *cl = calloc(1, sizeof(*cl));
  if (cl == NULL || map_init(&cl->nodes) < 0) {
    free(cl);
    return -ENOMEM;
  }
  cl->app = app;
  cluster_names(cl, cfg, app->sfu ? sfu_port(app->sfu) : 0);
  int rc;
  if (cfg->redis[0] && cfg->cluster_secret[0] == 0) {
    log_msg(LOG_ERROR, "redis needs cluster-secret: the nodes authenticate each other with it");
    rc = -EINVAL;
    goto out_free;
  }
  rc = cfg->redis[0]
           ? bus_open_redis(app->loop, cfg->redis, "onair", &cl->bus, on_bus_msg, on_bus_state, cl)
           : bus_open_local(&cl->bus, on_bus_msg, on_bus_state, cl);
  if (rc < 0)
    goto out_free;
  if (http_client_new(app->loop, &cl->http) < 0) {
    rc = -ENOMEM;
    goto out_bus;
  }
  uv_timer_init(app->loop, &cl->renew);
  uv_timer_init(app->loop, &cl->counts);
  uv_timer_init(app->loop, &cl->retry);
  cl->retry.data = cl;
  cl->counts.data = cl;
  cl->handles = 3;
  cl->renew.data = cl;
  uv_timer_start(&cl->renew, on_renew, CLUSTER_RENEW_MS, CLUSTER_RENEW_MS);
  app->cluster = cl;
  cl->stats.bus_up = cl->bus->up;
  cl->stats.nodes = 1;
  if (cfg->redis[0])
    log_ev(LOG_INFO, "cluster", LOG_S("node", cl->node), LOG_S("url", cl->url),
           LOG_S("address", cl->address));
  return 0;
out_bus:
  bus_close(cl->bus);
out_free:
  map_free(&cl->nodes);
  free(cl);
  return rc;
}

/* The cluster's last handle closed: its memory goes (it no longer looks
 * at the app, which may be gone). */
static void on_timer_closed(uv_handle_t *h) {
  struct cluster *cl = h->data;
  if (--cl->handles == 0)
    free(cl);
}

void cluster_close(struct app *app) {
  struct cluster *cl = app->cluster;
  if (cl == NULL)
    return;
  cl->closing = 1;
  cluster_pulls_close(cl);
  if (cl->bus->up)
    bus_del(cl->bus, SET_NODES, cl->node);
  bus_close(cl->bus); /* listings in flight are cancelled (closing: ignored) */
  http_client_free(cl->http);
  size_t slot;
  for (struct map_entry *e = map_first(&cl->nodes, &slot); e; e = map_next(&cl->nodes, e, &slot))
    node_free(e->value);
  map_free(&cl->nodes);
  app->cluster = NULL;
  uv_close((uv_handle_t *)&cl->renew, on_timer_closed);
  uv_close((uv_handle_t *)&cl->counts, on_timer_closed);
  uv_close((uv_handle_t *)&cl->retry, on_timer_closed);
}

void cluster_get_stats(const struct app *app, struct cluster_stats *out) {
  const struct cluster *cl = app->cluster;
  memset(out, 0, sizeof(*out));
  if (cl == NULL)
    return;
  *out = cl->stats;
  out->bus_published = cl->bus->stats.published;
  out->bus_received = cl->bus->stats.received;
  out->bus_dropped = cl->bus->stats.dropped;
  out->bus_reconnects = cl->bus->stats.reconnects;
  out->bus_up = cl->bus->up;
}
