/* The application: everything onair knows at run time, owned by the loop
 * thread. web.c answers HTTP, live.c speaks the WebSocket protocol of
 * docs/protocol.md. The HTTP servers that bring requests are main's; the
 * app owns what serves them: pages, WebSockets, rooms, sign-in, media. */
#ifndef ONAIR_APP_H
#define ONAIR_APP_H

#include <stdint.h>
#include <uv.h>

#include "app/chat.h"
#include "app/config.h"
#include "app/rooms.h"
#include "auth/device.h"
#include "auth/throttle.h"
#include "http/http.h"
#include "http/static.h"
#include "store/db.h"
#include "util/ipset.h"
#include "util/map.h"
#include "ws/ws_conn.h"

struct client; /* live.c's: one WebSocket of a signed-in user */
struct oidc;
struct sfu;
struct sfu_owner;
struct tls_ctx;
struct acme;
struct app;

/* What the app counts for /metrics (since start). */
/* Failed sign-ins allowed before waits begin (then doubling from 1 s). */
#define SIGNIN_FREE_PER_IP 20     /* from one address, any names */
#define SIGNIN_FREE_PER_NAME_AT 5 /* on one name from one address (or one device) */
#define SIGNIN_FREE_PER_NAME 10   /* on one name from browsers without its device cookie */

/* New accounts: per address signup-per-ip at once then one every 2
 * minutes; in all signup-per-sec with a burst of 15 seconds' worth. */
#define SIGNUP_PER_IP_PER_S (1.0 / 120)
#define SIGNUP_ALL_BURST_S 15
#define SIGNUP_MAX_ADDRESSES 100000 /* addresses tracked; beyond, only the total counts */

struct app_counters {
  uint64_t chat_in;           /* chat messages accepted */
  uint64_t chat_out;          /* chat messages sent to room members */
  uint64_t signin_failures;   /* wrong name or password */
  uint64_t ws_refused_per_ip; /* WebSockets refused at max-ws-per-ip */
};

typedef void (*app_close_cb)(struct app *app);

struct app {
  uv_loop_t *loop;
  const struct config *cfg;
  struct db *db;
  struct static_files files; /* the pages and assets */
  struct ws_server ws;       /* every WebSocket and its keepalive */
  struct rooms rooms;
  struct map peers;        /* peer id -> struct client */
  struct map ws_by_ip;     /* client address -> its WebSockets (as uintptr_t) */
  struct map users;        /* user id (decimal) -> struct user_state */
  struct map whips;        /* WHIP session id -> struct whip (whip.c) */
  struct map wheps;        /* WHEP session id -> struct whep (whip.c) */
  struct client *watchers; /* connections subscribed to the room list */
  /* Failed sign-ins (docs/operations.md, "Limits"): per address, per name
   * and address (or name and device), and per name for browsers without
   * the name's device cookie. */
  struct throttle throttle_user;
  struct throttle throttle_user_at;
  struct throttle throttle_ip;
  uint8_t device_key[DEVICE_KEY_BYTES]; /* signs device cookies; <data>/device.key */
  struct map signup_by_ip;              /* address -> struct chat_bucket of its sign-ups */
  struct chat_bucket signup_all;        /* every sign-up */
  const char *device_cookie_name;
  uv_timer_t rooms_timer; /* coalesces room list updates */
  int rooms_dirty;
  uv_timer_t sweep_timer;   /* expires sessions */
  uv_timer_t viewers_timer; /* coalesces room.viewers: a room of N joins sends N, not N^2 */
  uv_timer_t grace_timer;   /* ends rooms whose broadcaster did not come back in time */
  struct oidc *oidc;        /* NULL without a provider */
  struct sfu *sfu;          /* the media plane; NULL until app_media_start() */
  struct cluster *cluster;  /* the other nodes (cluster.c); NULL once closed */
  const char *cookie_name;
  const char *cookie_attrs;
  struct app_counters counters;
  const struct tls_ctx *tls;        /* main's, for the certificate's expiry; or NULL */
  struct acme *acme;                /* main's, with tls-domain: challenges, metrics; or NULL */
  const struct conn_limits *limits; /* main's connection caps, for /metrics; or NULL */
  struct http_server *site;   /* main's listener: /metrics, the cluster's CSP sources; or NULL */
  struct ipset metrics_allow; /* who may read /metrics */
  uint64_t started_ns;        /* uv_hrtime() at app_init */
  unsigned handles_open;      /* the app's own timers and servers not yet closed */
  unsigned jobs;              /* async work in flight that will use the app */
  int closing;
  app_close_cb close_cb;
};

/* Rooms an encoder publishes over WHIP (whip.c; live.c keeps the rooms).
 * live_encoder_start opens user's room with w as its encoder and media as
 * its media owner: 0 with *out, -EEXIST when the room is live, -ENOTCONN
 * without a media plane, -ENOMEM. live_encoder_ready tells its viewers to
 * offer; live_encoder_end ends it for everyone (reason as room_end's), and
 * whip_room_ended(w) runs as any end of an encoder's room does. */
int live_encoder_start(struct app *app, int64_t user_id, const char *user, struct whip *w,
                       struct sfu_owner *media, struct room **out);
/* The encoder's offer was answered: the room is announced (room list, the
 * user's broadcast page). */
void live_encoder_live(struct app *app, struct room *room);
void live_encoder_ready(struct app *app, struct room *room);
/* The media plane warned of the encoder's media (sfu_owner_ops). */
void live_encoder_warning(struct app *app, struct room *room, const char *code);
void live_encoder_end(struct app *app, struct room *room, const char *reason);
void whip_room_ended(struct whip *w);
/* WHEP players (whip.c) count as viewers: their room's count changed. */
void live_count_changed(struct app *app, struct room *room);
/* The room's media is gone (it ended, or its broadcaster dropped): its WHEP
 * sessions end. */
void whep_room_ended(struct room *room);
/* The WHIP routes: POST /whip, and DELETE, PATCH, OPTIONS on /whip/<id>. */
void whip_route(struct conn *c, struct http_req *req);
/* The WHEP routes: POST /whep/<room>, DELETE and OPTIONS on
 * /whep/<room>/<id>. */
struct who;
void whep_route(struct conn *c, struct http_req *req, const struct who *user);

/* Sets the app up on loop: the pages (built in, or cfg->web_dir's), the
 * WebSocket server, the OIDC client when cfg names a provider. cfg and db
 * must outlive it. Returns 0 or a negative errno (logged). */
int app_init(struct app *app, uv_loop_t *loop, const struct config *cfg, struct db *db);
/* Opens the media plane on its UDP port (cfg's media-* settings). */
int app_media_start(struct app *app);
/* A conn_sniff_fn for the site's listener: ICE-TCP connections (RFC 6544)
 * go to the media plane, everything else stays HTTP. */
int app_media_sniff(void *arg, struct conn *c, const uint8_t *data, size_t len);
/* The one shutdown path: ends every room, frees the media plane, the OIDC
 * client and what the app holds; close_cb (may be NULL) runs once the
 * app's handles are closed. Close the HTTP servers first, so no request
 * arrives meanwhile and every WebSocket is gone. */
void app_close(struct app *app, app_close_cb close_cb);

/* Async work that will come back to the app (password hashing on the
 * thread pool, a sign-in waiting for the provider): app_close() frees the
 * app only once every job has ended. */
void app_job_begin(struct app *app);
void app_job_end(struct app *app);

/* HTTP entry point (web.c); each connection's app is the struct app. */
void app_on_request(struct conn *c, struct http_req *req);
/* The plain HTTP listener's entry point when the site is HTTPS: every
 * request is sent to the same path on HTTPS (308). */
void app_redirect_to_https(struct conn *c, struct http_req *req);

/* live.c: takes over c as a WebSocket for the signed-in user. Returns 0 or
 * an HTTP status. */
int live_accept(struct app *app, struct conn *c, struct http_req *req, int64_t user_id,
                const char *user, const char *token);
/* Closes every WebSocket opened with session token (after sign-out). */
void live_close_session(struct app *app, const char *token);
/* JSON of the live rooms: {"rooms":[...]} (caller frees). */
char *live_rooms_json(struct app *app);
/* Ends every live room (at shutdown). */
void live_end_all(struct app *app);
/* The admin's view of the live rooms, with who watches:
 * {"rooms":[{"name","title","broadcaster","since","viewers","viewer_names":[...]}]}
 * (caller frees). */
char *live_admin_rooms_json(struct app *app);
/* Ends a room for an admin (reason "admin"): 0 or -ENOENT. */
int live_admin_end_room(struct app *app, const char *name);
/* Closes every WebSocket of a user (1008, reason), e.g. a disabled one;
 * their rooms end. */
void live_close_user(struct app *app, int64_t user_id, const char *reason);
/* The server is stopping: every page is told {"type":"server.restarting"}
 * and its WebSocket closed with 1012 (Service Restart). */
void live_notify_restart(struct app *app);

/* metrics.c: GET /metrics (Prometheus text format) for metrics-allow
 * addresses, and GET /healthz for anyone. */
void metrics_serve(struct conn *c, struct http_req *req);
void metrics_health(struct conn *c, struct http_req *req);

#endif
