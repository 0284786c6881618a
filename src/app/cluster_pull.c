/* Media between nodes (docs/cluster.md, "Media"): a node with viewers of a
 * replica asks the room's origin for it (POST /cluster/pull on the origin's
 * HTTP port, signed with the cluster secret); the origin answers with what
 * its media plane sends (sfu_relay_out) and the replica's media room takes
 * it as its publisher (sfu_relay_in): one copy per node, fanned out here.
 * The link's SRTP key is the HMAC of its random id under the cluster
 * secret, so only nodes that hold the secret can send or read it. */
#include <errno.h>
#include <http_parser.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/cluster_int.h"
#include "app/live_int.h"
#include "app/web.h"
#include "http/http.h"
#include "net/http_client.h"
#include "util/container_of.h"
#include "util/log.h"

#define PULL_RETRY_MS 1000 /* after a refused or failed pull */
#define PULL_AGAIN_MS 50   /* after a link that was flowing died */
#define PULL_BODY_MAX 2048 /* bytes of a node request */

/* HMAC-SHA256 under the cluster secret of label (may be "") then data. */
static void secret_mac(const struct cluster *cl, const char *label, const void *data, size_t len,
                       uint8_t mac[32]) {
  const char *secret = cl->app->cfg->cluster_secret;
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, (const uint8_t *)secret, strlen(secret));
  crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, strlen(label));
  crypto_auth_hmacsha256_update(&st, data, len);
  crypto_auth_hmacsha256_final(&st, mac);
}

void cluster_link_key(const struct cluster *cl, const uint8_t id[CLUSTER_LINK_ID],
                      uint8_t key[32]) {
  secret_mac(cl, "onair link key", id, CLUSTER_LINK_ID, key);
}

/* The hex HMAC of a node request's body under the cluster secret. */
static void request_mac(const struct cluster *cl, const char *body, size_t len, char hex[65]) {
  uint8_t mac[32];
  secret_mac(cl, "", body, len, mac);
  sodium_bin2hex(hex, 65, mac, sizeof(mac));
}

/* ---- the edge: pulling a replica's media ---- */

static struct cluster_pull *pull_of(struct sfu_owner *o) {
  return container_of(o, struct cluster_pull, owner);
}

/* The origin's media reached this node: the replica's viewers offer. */
static void on_pull_ready(struct sfu_owner *o) {
  struct cluster_pull *p = pull_of(o);
  if (p->room)
    room_send_to(p->room, json_pack("{s:s, s:s}", "type", "media.ready", "room", p->room->name), 0);
}

static void on_pull_warning(struct sfu_owner *o, const char *code) {
  struct cluster_pull *p = pull_of(o);
  if (p->room)
    room_media_warning(p->room, code);
}

/* The link went silent (the origin died, or dropped it): the replica's
 * media goes, and is asked for again while the room is in the directory. */
static void on_retry(uv_timer_t *t) { cluster_pulls_tick(t->data); }

/* The replica's WHEP players go with its media (they POST again); its
 * counts, here and on the other nodes, say so. */
static void pull_players_end(struct app *app, struct room *room) {
  if (room->nwhep == 0)
    return;
  whep_room_ended(room);
  rooms_count_changed(&app->rooms, room);
  cluster_count_changed(app, room);
  viewers_changed(app);
  rooms_changed(app);
}

/* p is asked again in ms (not at the next renewal, up to CLUSTER_RENEW_MS
 * later). */
static void pull_retry(struct cluster_pull *p, uint64_t ms) {
  struct cluster *cl = p->cl;
  p->retry_at = uv_now(cl->app->loop) + ms;
  if (cl->closing)
    return;
  if (!uv_is_active((uv_handle_t *)&cl->retry) || uv_timer_get_due_in(&cl->retry) > ms)
    uv_timer_start(&cl->retry, on_retry, ms, 0);
}

static void on_pull_closed(struct sfu_owner *o, const char *why) {
  struct cluster_pull *p = pull_of(o);
  struct room *room = p->room;
  if (room == NULL)
    return;
  log_ev(LOG_WARN, "cluster: media link closed", LOG_S("room", room->name),
         LOG_S("node", p->origin), LOG_S("why", why));
  if (room->media)
    sfu_room_free(room->media);
  room->media = NULL;
  pull_players_end(p->cl->app, room);
  if (room_local_viewers(room) == 0)
    cluster_pull_idle(p->cl->app, room); /* nobody left: it lingers, then stops */
  p->flowing = 0;
  pull_retry(p, PULL_AGAIN_MS); /* a dead link: at once (out of the media plane's call) */
  snprintf(p->avoid, sizeof(p->avoid), "%s", p->origin); /* it may be dead, yet listed */
  room_send_to(room, json_pack("{s:s, s:s}", "type", "media.closed", "reason", "origin"), 0);
}

static const struct sfu_owner_ops pull_ops = {
    .media_ready = on_pull_ready,
    .peer_closed = on_pull_closed,
    .media_warning = on_pull_warning,
};

static void pull_failed(struct cluster_pull *p, const char *why) {
  struct cluster *cl = p->cl;
  cl->stats.pulls_failed++;
  pull_retry(p, PULL_RETRY_MS);
  snprintf(p->avoid, sizeof(p->avoid), "%s", p->origin);
  log_ev(LOG_WARN, "cluster: pull failed", LOG_S("room", p->room->name), LOG_S("node", p->origin),
         LOG_S("why", why));
}

static void on_pull_answer(void *arg, const struct http_client_resp *r) {
  struct cluster_pull *p = arg;
  struct cluster *cl = p->cl;
  p->asking = 0;
  if (p->room == NULL || cl->closing) {
    free(p); /* the room ended meanwhile; it left the pull to us */
    return;
  }
  if (r->status != 200) {
    pull_failed(p, r->error ? r->error : "refused");
    return;
  }
  json_t *j = json_loadb(r->body, r->len, 0, NULL);
  const char *desc = json_string_value(json_object_get(j, "desc"));
  struct cluster_node *n = cluster_node_find(cl, p->origin);
  struct sfu_link_params lp = {.port = n ? n->media_port : 0};
  const char *why = "no description";
  int rc = -EINVAL;
  if (desc && n && p->room->media) {
    lp.addr = n->address;
    memcpy(lp.id, p->link, sizeof(lp.id));
    cluster_link_key(cl, p->link, lp.key);
    rc = sfu_relay_in(p->room->media, &p->owner, &lp, desc, strlen(desc), &why);
    sodium_memzero(lp.key, sizeof(lp.key));
  }
  json_decref(j);
  if (rc < 0) {
    pull_failed(p, why);
    return;
  }
  p->flowing = 1;
  p->avoid[0] = 0;
  log_ev(LOG_INFO, "cluster: pulling", LOG_S("room", p->room->name), LOG_S("node", p->origin));
  cluster_count_changed(cl->app, p->room); /* the others hear it can relay the room now */
}

/* Signs body and POSTs it to the node's path; cb(arg) gets the answer. */
static int node_request(struct cluster *cl, const struct cluster_node *n, const char *path,
                        const char *body, http_client_cb cb, void *arg) {
  char mac[65], url[CLUSTER_URL_MAX + 128];
  request_mac(cl, body, strlen(body), mac);
  snprintf(url, sizeof(url), "%s%s?mac=%s", n->api, path, mac);
  struct http_client_req rq = {
      .method = "POST",
      .url = url,
      .body = body,
      .body_len = strlen(body),
      .content_type = "application/json",
      .max_body = 256 * 1024,
  };
  return http_client_request(cl->http, &rq, cb, arg);
}

/* What a request to the origin says: who asks, when, for what, and where
 * the media goes. */
static char *pull_body(struct cluster_pull *p) {
  struct cluster *cl = p->cl;
  char link[2 * CLUSTER_LINK_ID + 1];
  sodium_bin2hex(link, sizeof(link), p->link, sizeof(p->link));
  json_t *j =
      json_pack("{s:s, s:I, s:s, s:s, s:s, s:i}", "node", cl->node, "ts",
                (json_int_t)session_now_ms() / 1000, "room", p->room->name, "link", link, "address",
                cl->address, "media_port", cl->app->sfu ? sfu_port(cl->app->sfu) : 0);
  char *s = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  return s;
}

/* The links node n relays room on, or -1 when it cannot relay it. */
static json_int_t links_of(const struct cluster_node *n, const struct room *room) {
  json_t *v = n->sources ? json_object_get(n->sources, room->key) : NULL;
  return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* Where to pull room from: its origin while the origin relays it on fewer
 * than node-relay-fanout links (or with no cap); else the node relaying it
 * on the fewest that is under the cap (a tree), but not the edge named
 * avoid (its link just died or it refused: it may be dead and still in the
 * directory for seconds); else the origin anyway. */
static struct cluster_node *pull_source(struct cluster *cl, const struct room *room,
                                        const char *avoid) {
  struct cluster_node *origin = cluster_node_find(cl, room->origin), *best = NULL;
  unsigned cap = cl->app->cfg->node_fanout;
  if (cap == 0 || origin == NULL || links_of(origin, room) < (json_int_t)cap)
    return origin;
  size_t slot;
  for (struct map_entry *e = map_first(&cl->nodes, &slot); e; e = map_next(&cl->nodes, e, &slot)) {
    struct cluster_node *n = e->value;
    json_int_t links = links_of(n, room);
    if (n != origin && links >= 0 && links < (json_int_t)cap && strcmp(n->name, avoid) != 0 &&
        (best == NULL || links < links_of(best, room)))
      best = n;
  }
  return best ? best : origin;
}

static void pull_ask(struct cluster_pull *p) {
  struct cluster *cl = p->cl;
  struct room *room = p->room;
  struct cluster_node *n = pull_source(cl, room, p->avoid);
  p->retry_at = 0;
  if (n == NULL || n->api[0] == 0 || n->media_port == 0 || cl->app->sfu == NULL) {
    p->retry_at = uv_now(cl->app->loop) + PULL_RETRY_MS; /* not in the directory yet */
    return;
  }
  if (room->media == NULL && (room->media = sfu_room_new(cl->app->sfu, &p->owner)) == NULL) {
    p->retry_at = uv_now(cl->app->loop) + PULL_RETRY_MS;
    return;
  }
  snprintf(p->origin, sizeof(p->origin), "%s", n->name); /* the origin, or an edge */
  randombytes_buf(p->link, sizeof(p->link));
  char *body = pull_body(p);
  if (body && node_request(cl, n, "/cluster/pull", body, on_pull_answer, p) == 0) {
    p->asking = 1;
    cl->stats.pulls_started++;
  } else {
    p->retry_at = uv_now(cl->app->loop) + PULL_RETRY_MS;
  }
  free(body);
}

void cluster_pull_need(struct app *app, struct room *room) {
  struct cluster *cl = app->cluster;
  if (cl == NULL || room->origin[0] == 0 || room->origin_reconnecting)
    return;
  struct cluster_pull *p = room->pull;
  /* Asked for before anyone watches here (a WHEP player's first offer
   * comes before its room has media): it lingers as if its last viewer
   * had left. */
  uint64_t idle = room_local_viewers(room) ? 0 : uv_now(app->loop) | 1;
  if (p) {
    p->idle_since = idle;
    return;
  }
  if ((p = calloc(1, sizeof(*p))) == NULL)
    return;
  p->cl = cl;
  p->room = room;
  p->owner.ops = &pull_ops;
  p->idle_since = idle;
  p->next = cl->pulls;
  cl->pulls = p;
  room->pull = p;
  cl->stats.pulls++;
  pull_ask(p);
}

static void on_release_answer(void *arg, const struct http_client_resp *r) {
  (void)arg;
  (void)r; /* the origin's link times out anyway */
}

/* Unlinks p from the room and the cluster; the origin hears the link end.
 * p is freed here, or by its request's answer when one is in flight. */
static void pull_free(struct cluster_pull *p) {
  struct cluster *cl = p->cl;
  struct room *room = p->room;
  for (struct cluster_pull **pp = &cl->pulls; *pp; pp = &(*pp)->next) {
    if (*pp == p) {
      *pp = p->next;
      break;
    }
  }
  cl->stats.pulls--;
  struct cluster_node *n = cluster_node_find(cl, p->origin);
  if (p->flowing && n && !cl->closing) {
    char *body = pull_body(p);
    if (body)
      node_request(cl, n, "/cluster/release", body, on_release_answer, NULL);
    free(body);
  }
  if (room->media)
    sfu_room_free(room->media);
  room->media = NULL;
  pull_players_end(cl->app, room);
  room->pull = NULL;
  p->room = NULL;
  if (!p->asking)
    free(p);
}

void cluster_pull_end(struct app *app, struct room *room) {
  if (app->cluster && room->pull)
    pull_free(room->pull);
}

void cluster_pull_idle(struct app *app, struct room *room) {
  if (room->pull && room_local_viewers(room) == 0 && room->pull->idle_since == 0)
    room->pull->idle_since = uv_now(app->loop) | 1;
}

void cluster_pulls_tick(struct cluster *cl) {
  uint64_t now = uv_now(cl->app->loop);
  struct cluster_pull *p = cl->pulls;
  while (p) {
    struct cluster_pull *next = p->next;
    /* An edge relaying the room on to others keeps its pull. */
    int relays = p->room->media && sfu_room_relays(p->room->media) > 0;
    if (p->idle_since && now - p->idle_since >= CLUSTER_LINGER_MS && !relays)
      pull_free(p);
    else if (!p->asking && !p->flowing && p->retry_at && now >= p->retry_at)
      pull_ask(p);
    p = next;
  }
}

void cluster_pulls_close(struct cluster *cl) {
  while (cl->pulls)
    pull_free(cl->pulls);
}

/* ---- the origin: answering another node ---- */

/* A request signed with the cluster secret, made within the allowed
 * clock skew: its JSON body, or NULL after answering why not. */
static json_t *request_take(struct cluster *cl, struct conn *c, struct http_req *req) {
  char mac[65], want[65];
  if (cl->app->cfg->cluster_secret[0] == 0) {
    http_respond_error(c, 404, "not_found", "This node is not in a cluster.");
    return NULL;
  }
  if (req->body_len == 0 || req->body_len > PULL_BODY_MAX ||
      http_query_param(req->query, "mac", mac, sizeof(mac)) < 0) {
    http_respond_error(c, 400, "bad_request", "A signed request body is needed.");
    return NULL;
  }
  request_mac(cl, (const char *)req->body, req->body_len, want);
  if (sodium_memcmp(mac, want, 64) != 0) {
    http_respond_error(c, 403, "bad_signature", "The request is not signed by this cluster.");
    return NULL;
  }
  json_t *j = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL);
  json_int_t ts = json_integer_value(json_object_get(j, "ts"));
  int64_t now = session_now_ms() / 1000;
  if (j == NULL || ts < now - CLUSTER_CLOCK_SKEW_S || ts > now + CLUSTER_CLOCK_SKEW_S) {
    json_decref(j);
    http_respond_error(c, 400, "stale", "The request's time is off; check the clocks.");
    return NULL;
  }
  return j;
}

/* The link id and the requesting node's media address of a request. */
static int request_link(json_t *j, struct sfu_link_params *lp) {
  const char *link = json_string_value(json_object_get(j, "link"));
  const char *addr = json_string_value(json_object_get(j, "address"));
  json_int_t port = json_integer_value(json_object_get(j, "media_port"));
  size_t n = 0;
  if (link == NULL || addr == NULL || port < 1 || port > 65535 ||
      sodium_hex2bin(lp->id, sizeof(lp->id), link, strlen(link), NULL, &n, NULL) < 0 ||
      n != sizeof(lp->id))
    return -EINVAL;
  lp->addr = addr;
  lp->port = (int)port;
  return 0;
}

static void serve_pull(struct cluster *cl, struct conn *c, json_t *j, struct room *room,
                       int release) {
  struct sfu_link_params lp = {0};
  if (request_link(j, &lp) < 0)
    return http_respond_error(c, 400, "bad_request", "link, address and media_port are needed.");
  if (release) {
    if (room && room->media)
      sfu_relay_out_end(room->media, lp.id);
    return http_respond(c, 204, NULL, NULL, NULL, 0);
  }
  /* The origin relays its room; an edge, a room whose media flows to it. */
  if (room == NULL || room->media == NULL ||
      (room->origin[0] && !(room->pull && room->pull->flowing)))
    return http_respond_error(c, 404, "no_such_room", "That room's media is not here.");
  char *desc = NULL;
  cluster_link_key(cl, lp.id, lp.key);
  int rc = sfu_relay_out(room->media, &lp, &desc);
  sodium_memzero(lp.key, sizeof(lp.key));
  if (rc == -ENOTCONN)
    return http_respond_error(c, 409, "not_ready", "The room's media is not in yet.");
  if (rc < 0)
    return http_respond_error(c, 503, "unavailable", "Could not relay the room.");
  json_t *ans = json_pack("{s:s}", "desc", desc);
  free(desc);
  char *s = json_dumps(ans, JSON_COMPACT);
  json_decref(ans);
  cl->stats.relays_served++;
  cluster_count_changed(cl->app, room); /* its links: where the next edge pulls from */
  log_ev(LOG_INFO, "cluster: relaying", LOG_S("room", room->name),
         LOG_S("node", json_string_value(json_object_get(j, "node"))));
  http_respond(c, 200, "application/json", NULL, s, s ? strlen(s) : 0);
  free(s);
}

void cluster_route(struct conn *c, struct http_req *req) {
  struct app *app = c->app;
  struct cluster *cl = app->cluster;
  if (cl == NULL)
    return http_respond_error(c, 503, "unavailable", "Shutting down.");
  if (req->method != HTTP_POST)
    return http_respond(c, 405, NULL, "Allow: POST\r\n", NULL, 0);
  int release = strcmp(req->path, "/cluster/release") == 0;
  if (!release && strcmp(req->path, "/cluster/pull") != 0)
    return http_respond_error(c, 404, "not_found", "No such request.");
  json_t *j = request_take(cl, c, req);
  if (j == NULL)
    return;
  const char *name = json_string_value(json_object_get(j, "room"));
  struct room *room = name ? rooms_find(&app->rooms, name, strlen(name)) : NULL;
  serve_pull(cl, c, j, room, release);
  json_decref(j);
}
