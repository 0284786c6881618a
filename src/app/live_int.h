/* What live.c (the WebSocket protocol), live_media.c (its media messages)
 * and cluster.c (the other nodes' rooms) share. Not for other modules. */
#ifndef ONAIR_LIVE_INT_H
#define ONAIR_LIVE_INT_H

#include <jansson.h>

#include "app/app.h"
#include "auth/session.h"
#include "media/sfu.h"

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
  int console; /* a broadcast page (live.console): shows the user's encoder's room when live */
  char console_title[ROOM_TITLE_MAX * 4 + 1]; /* its title for that room, "" for none */
  struct client *wprev, *wnext;
  int closed;
  int end_on_close; /* closed by the server (sign-out, disabled): its room ends, no grace */
  char ip[46];      /* the client's address, counted in app->ws_by_ip ("": not counted) */
  /* Names its media peer, and as the broadcaster its room's media, to the
   * media plane, which calls back through it. */
  struct sfu_owner media;
};

/* What live.c keeps per user across connections. */
struct user_state {
  struct chat_bucket bucket;
};

/* live.c */
/* Sends j (consumed) to one client. */
void client_send(struct client *cl, json_t *j);
void client_error(struct client *cl, const char *code, const char *msg, const char *ref);
/* Sends j (consumed) to every viewer of room, and to its broadcaster too
 * when with_broadcaster (room_send: with). */
void room_send_to(struct room *room, json_t *j, int with_broadcaster);
void room_send(struct room *room, json_t *j);
/* A string member of msg, or NULL when missing or not a string. */
const char *msg_str(json_t *msg, const char *key, size_t *len);
/* Ends room: viewers get room.ended, the broadcaster live.ended. */
void room_end(struct app *app, struct room *room, const char *reason);
/* The user's room is live on another node (a replica here) and its
 * broadcaster (or encoder) is back here: this node takes it over, with a
 * later claim; the caller attaches the broadcaster. */
void room_take(struct app *app, struct room *room);
/* Gives the encoder's room its owner's first waiting broadcast page. */
void console_find(struct app *app, struct room *room);
/* Another node took room over (a later claim, docs/cluster.md): its
 * broadcaster here gets live.ended "replaced", its media goes, and it
 * becomes a replica of origin, its viewers kept. */
void live_room_yield(struct app *app, struct room *room, const char *origin);
/* The room list changed: watchers hear within 100 ms, once. */
void rooms_changed(struct app *app);
/* A viewer count changed: the room hears within 100 ms (rooms_take_changed). */
void viewers_changed(struct app *app);
/* media.warning for room's warning, and its text. */
json_t *warning_msg(const struct room *room);
const char *warning_text(const char *code);

/* A session token's SHA-256 in hex: what travels between nodes of a
 * sign-out. */
void live_token_hash(const char *token, char hex[65]);
/* Closes every WebSocket of the session whose token hashes to hash. */
void live_close_session_hash(struct app *app, const char *hash);

/* live_media.c: media.offer and media.quality, and what the media plane
 * tells a page's peer (its owner ops). */
void on_media_offer(struct client *cl, json_t *msg, size_t msg_len);
void on_media_quality(struct client *cl, json_t *msg, size_t msg_len);
void room_media_warning(struct room *room, const char *code);
extern const struct sfu_owner_ops live_client_media_ops;

#endif
