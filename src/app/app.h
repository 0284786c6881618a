/* The application: everything onair knows at run time, owned by the loop
 * thread. web.c answers HTTP, live.c speaks the WebSocket protocol of
 * docs/protocol.md. */
#ifndef ONAIR_APP_H
#define ONAIR_APP_H

#include <stdint.h>
#include <uv.h>

#include "app/chat.h"
#include "app/config.h"
#include "app/rooms.h"
#include "auth/session.h"
#include "auth/throttle.h"
#include "http/http.h"
#include "media/sfu.h"
#include "store/db.h"
#include "util/map.h"

struct app {
  uv_loop_t *loop;
  const struct config *cfg;
  struct db *db;
  struct rooms rooms;
  struct map peers;        /* peer id -> struct client */
  struct map users;        /* user id (decimal) -> struct user_state */
  struct client *watchers; /* connections subscribed to the room list */
  struct throttle throttle_user;
  struct throttle throttle_ip;
  uv_timer_t rooms_timer; /* coalesces room list updates */
  int rooms_dirty;
  uv_timer_t sweep_timer;   /* expires sessions */
  uv_timer_t viewers_timer; /* coalesces room.viewers: a room of N joins sends N, not N^2 */
  struct room *dirty_rooms;
  struct oidc *oidc; /* NULL without a provider */
  struct sfu *sfu;   /* the media plane; NULL if it could not start */
  const char *cookie_name;
  const char *cookie_attrs;
};

/* One WebSocket connection of a signed-in user. */
struct client {
  struct app *app;
  struct conn *conn;
  int64_t user_id;
  char user[DB_NAME_MAX + 1];
  char peer[24];                     /* "p<conn id>", names this connection in signaling */
  char token[SESSION_TOKEN_LEN + 1]; /* the session it was opened with */
  struct room *room;                 /* the room it broadcasts or watches, or NULL */
  int broadcaster;                   /* 1 if it is room's broadcaster */
  int watching;                      /* subscribed to the room list */
  struct client *wprev, *wnext;
  int closed;
};

struct user_state {
  struct chat_bucket bucket;
};

int app_init(struct app *app, uv_loop_t *loop, const struct config *cfg, struct db *db);
void app_shutdown(struct app *app);

/* HTTP entry point (web.c). */
void app_on_request(struct conn *c, struct http_req *req);

/* live.c: takes over c as a WebSocket for the signed-in user. Returns 0 or
 * an HTTP status. */
int live_accept(struct app *app, struct conn *c, struct http_req *req, int64_t user_id,
                const char *user, const char *token);
/* The media plane's events (pass to sfu_new()). */
extern const struct sfu_events live_media_events;
/* Closes every WebSocket opened with session token (after sign-out). */
void live_close_session(struct app *app, const char *token);
/* JSON of the live rooms: {"rooms":[...]} (caller frees). */
char *live_rooms_json(struct app *app);

#endif
