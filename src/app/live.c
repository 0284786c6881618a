/* The WebSocket protocol of docs/protocol.md: going live, watching, chat,
 * signaling relay and the live room list. Identity is the session's, never
 * what a message says. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/chat.h"
#include "app/cluster.h"
#include "app/live_int.h"
#include "auth/session.h"
#include "auth/turn.h"
#include "media/sfu.h"
#include "util/container_of.h"
#include "util/log.h"
#include "ws/ws_conn.h"
#include "ws/ws_frame.h"

/* ---- sending ---- */

/* Sends j (consumed) to one client. */
void client_send(struct client *cl, json_t *j) {
  char *s = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  if (s == NULL)
    return;
  ws_send_text(cl->conn, s, strlen(s));
  free(s);
}

void client_error(struct client *cl, const char *code, const char *msg, const char *ref) {
  client_send(cl, json_pack("{s:s, s:s, s:s, s:s}", "type", "error", "code", code, "message", msg,
                            "ref", ref ? ref : ""));
}

/* j (consumed) as one WebSocket frame for any number of connections, or
 * NULL; caller sbuf_unref()s. */
static struct sbuf *json_frame(json_t *j) {
  char *s = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  if (s == NULL)
    return NULL;
  struct sbuf *frame = ws_frame_text(s, strlen(s));
  free(s);
  return frame;
}

/* Sends j (consumed) to every viewer of room, and to its broadcaster too
 * when with_broadcaster: framed once, the same bytes to each connection. */
void room_send_to(struct room *room, json_t *j, int with_broadcaster) {
  struct sbuf *frame = json_frame(j);
  if (frame == NULL)
    return;
  if (with_broadcaster && room->broadcaster)
    conn_write(room->broadcaster->conn, frame);
  for (size_t i = 0; i < room->nviewers; i++) {
    struct client *v = room->viewers[i];
    conn_write(v->conn, frame);
  }
  sbuf_unref(frame);
}

void room_send(struct room *room, json_t *j) { room_send_to(room, j, 1); }

/* The room is named after its broadcaster, as they spell their name. */
static json_t *room_json(const struct room *room) {
  return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "name", room->name, "title", room->title,
                   "broadcaster", room->name, "viewers", (json_int_t)room_viewers(room), "since",
                   (json_int_t)room->since_ms, "state", room_state(room));
}

char *live_rooms_json(struct app *app) {
  json_t *list = json_array();
  struct rooms_iter it;
  for (struct room *r = rooms_first(&app->rooms, &it); r; r = rooms_next(&app->rooms, &it))
    json_array_append_new(list, room_json(r));
  json_t *j = json_pack("{s:s, s:o}", "type", "rooms", "rooms", list);
  char *s = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  return s;
}

static void rooms_publish(uv_timer_t *t) {
  struct app *app = t->data;
  app->rooms_dirty = 0;
  if (app->watchers == NULL)
    return;
  char *s = live_rooms_json(app);
  if (s == NULL)
    return;
  struct sbuf *frame = ws_frame_text(s, strlen(s));
  free(s);
  if (frame == NULL)
    return;
  for (struct client *w = app->watchers; w; w = w->wnext)
    conn_write(w->conn, frame);
  sbuf_unref(frame);
}

/* The room list changed: tell watchers within 100 ms, once. */
void rooms_changed(struct app *app) {
  if (app->rooms_dirty)
    return;
  app->rooms_dirty = 1;
  uv_timer_start(&app->rooms_timer, rooms_publish, 100, 0);
}

static void history_add(const struct db_chat *m, void *arg) {
  json_array_append_new(arg, json_pack("{s:I, s:s, s:s, s:s, s:I}", "id", (json_int_t)m->id, "room",
                                       m->room, "user", m->user, "text", m->text, "ts",
                                       (json_int_t)m->ts));
}

static json_t *room_history(struct app *app, const struct room *room) {
  json_t *list = json_array();
  if (db_chat_recent(app->db, room->name, CHAT_HISTORY, history_add, list) < 0)
    log_ev(LOG_WARN, "chat history unavailable", LOG_S("room", room->name));
  return list;
}

static void viewers_publish(uv_timer_t *t) {
  struct app *app = t->data;
  struct room *room = rooms_take_changed(&app->rooms, uv_now(t->loop));
  for (; room; room = room->next_changed)
    room_send(room, json_pack("{s:s, s:s, s:I}", "type", "room.viewers", "room", room->name,
                              "viewers", (json_int_t)room_viewers(room)));
  if (app->rooms.changed) /* big rooms not yet due */
    uv_timer_start(&app->viewers_timer, viewers_publish, 100, 0);
}

/* A viewer count changed (the registry knows which): everyone in the room
 * hears it within 100 ms, once however many joined meanwhile; in a room of
 * more than 100, at most every rooms_count_interval_ms(). */
void viewers_changed(struct app *app) {
  if (!uv_is_active((uv_handle_t *)&app->viewers_timer))
    uv_timer_start(&app->viewers_timer, viewers_publish, 100, 0);
}

/* What a media warning tells the broadcaster (and the log). */
const char *warning_text(const char *code) {
  if (strcmp(code, "bframes") == 0)
    return "Your encoder sends B-frames, which viewers' browsers cannot play smoothly. Set "
           "B-frames to 0 (OBS: Settings > Output > Streaming > Encoder settings) and restart the "
           "stream.";
  return "Your stream has a problem viewers' browsers may not play.";
}

/* media.warning for room's warning. */
json_t *warning_msg(const struct room *room) {
  return json_pack("{s:s, s:s, s:s, s:s}", "type", "media.warning", "room", room->name, "code",
                   room->warning, "message", warning_text(room->warning));
}

/* ---- room membership ---- */

/* Ends room: viewers get room.ended, the broadcaster live.ended. */
void room_end(struct app *app, struct room *room, const char *reason) {
  room_send_to(room, json_pack("{s:s, s:s}", "type", "room.ended", "room", room->name), 0);
  for (size_t i = 0; i < room->nviewers; i++) {
    struct client *v = room->viewers[i];
    v->room = NULL;
  }
  struct client *bc = room->broadcaster;
  if (bc) {
    bc->room = NULL;
    bc->broadcaster = 0;
  }
  if (bc && !bc->closed)
    client_send(bc, json_pack("{s:s, s:s, s:s}", "type", "live.ended", "room", room->name, "reason",
                              reason));
  log_ev(LOG_INFO, "room ended", LOG_S("room", room->name), LOG_S("reason", reason));
  cluster_room_ended(app, room, reason); /* a replica's media goes with its pull */
  if (room->media)
    sfu_room_free(room->media);
  whep_room_ended(room);
  if (room->encoder)
    whip_room_ended(room->encoder);
  rooms_close(&app->rooms, room);
  rooms_changed(app);
}

/* Ends the reconnecting rooms whose broadcaster did not come back in time;
 * stops when no room waits any more. */
static void grace_sweep(uv_timer_t *t) {
  struct app *app = t->data;
  uint64_t now = uv_now(app->loop);
  int waiting, ended;
  do {
    waiting = ended = 0;
    struct rooms_iter it;
    for (struct room *r = rooms_first(&app->rooms, &it); r; r = rooms_next(&app->rooms, &it)) {
      if (r->broadcaster || r->encoder || r->origin[0])
        continue; /* live, or a replica (its origin keeps the grace) */
      if (r->grace_until <= now) {
        room_end(app, r, "gone");
        ended = 1; /* the registry changed: look again */
        break;
      }
      waiting = 1;
    }
  } while (ended);
  if (!waiting)
    uv_timer_stop(t);
}

/* Takes a viewer out of its room and tells the room. */
static void viewer_leave(struct app *app, struct client *cl) {
  struct room *room = cl->room;
  if (room == NULL || cl->broadcaster)
    return;
  room_viewer_remove(&app->rooms, room, cl);
  if (room->media)
    sfu_drop(room->media, &cl->media);
  cl->room = NULL;
  if (room->broadcaster)
    client_send(room->broadcaster, json_pack("{s:s, s:s, s:s}", "type", "viewer.left", "room",
                                             room->name, "peer", cl->peer));
  cluster_viewer(app, room, cl->peer, cl->user, 0);
  cluster_pull_idle(app, room);
  cluster_count_changed(app, room);
  viewers_changed(app);
  rooms_changed(app);
}

static void client_unwatch(struct app *app, struct client *cl) {
  if (!cl->watching)
    return;
  if (cl->wprev)
    cl->wprev->wnext = cl->wnext;
  else
    app->watchers = cl->wnext;
  if (cl->wnext)
    cl->wnext->wprev = cl->wprev;
  cl->wprev = cl->wnext = NULL;
  cl->watching = 0;
}

/* ---- message handlers ---- */

/* A string member of msg, or NULL when missing or not a string. */
const char *msg_str(json_t *msg, const char *key, size_t *len) {
  json_t *v = json_object_get(msg, key);
  if (!json_is_string(v))
    return NULL;
  if (len)
    *len = json_string_length(v);
  return json_string_value(v);
}

static void on_rooms_watch(struct client *cl, json_t *msg, size_t len) {
  struct app *app = cl->app;
  if (!cl->watching) {
    cl->watching = 1;
    cl->wnext = app->watchers;
    if (app->watchers)
      app->watchers->wprev = cl;
    app->watchers = cl;
  }
  char *s = live_rooms_json(app);
  if (s) {
    ws_send_text(cl->conn, s, strlen(s));
    free(s);
  }
}

/* live.start's optional title: 0 with *title (NULL for none), or -1 after
 * telling the client what is wrong with it. */
static int live_title(struct client *cl, json_t *msg, const char **title, const char *ref) {
  size_t tlen = 0;
  *title = msg_str(msg, "title", &tlen);
  int trc = *title && tlen ? chat_text_check(*title, tlen, ROOM_TITLE_MAX) : -ENODATA;
  if ((json_object_get(msg, "title") && *title == NULL) || trc == -EINVAL ||
      (trc == 0 && memchr(*title, '\n', tlen))) {
    client_error(cl, "bad_message", "The title must be one line of text.", ref);
    return -1;
  }
  if (trc == -E2BIG) {
    client_error(cl, "too_long", "Titles are at most 100 characters.", ref);
    return -1;
  }
  if (trc < 0)
    *title = NULL; /* absent or blank: no title */
  return 0;
}

/* A new title for a live room: the viewers are told (the broadcaster gets
 * its live.started). */
static void room_set_title(struct app *app, struct room *room, const char *title) {
  if (title == NULL || strcmp(room->title, title) == 0)
    return;
  snprintf(room->title, sizeof(room->title), "%s", title);
  rooms_changed(app);
  cluster_room_changed(app, room);
  room_send_to(
      room,
      json_pack("{s:s, s:s, s:s}", "type", "room.title", "room", room->name, "title", room->title),
      0);
}

/* live.started to cl, its room's broadcaster. */
static void send_live_started(struct client *cl, int resumed) {
  struct room *room = cl->room;
  client_send(cl, json_pack("{s:s, s:s, s:s, s:I, s:I, s:b, s:o, s:s}", "type", "live.started",
                            "room", room->name, "title", room->title, "since",
                            (json_int_t)room->since_ms, "viewers", (json_int_t)room_viewers(room),
                            "resumed", resumed, "history", room_history(cl->app, room), "source",
                            room->encoder ? "encoder" : "browser"));
}

/* cl, a broadcast page of the room's owner, shows the encoder's room: its
 * chat, viewers and title, and can end it; the media stays the encoder's. */
static void console_attach(struct room *room, struct client *cl) {
  room->broadcaster = cl;
  cl->room = room;
  cl->broadcaster = 1;
  if (room->title[0] == 0 && cl->console_title[0])
    room_set_title(cl->app, room, cl->console_title); /* set on the page before going live */
  send_live_started(cl, 0);
  if (room->warning)
    client_send(cl, warning_msg(room));
}

/* The first broadcast page of user_id waiting for its encoder's room, if
 * the room has none. */
void console_find(struct app *app, struct room *room) {
  size_t slot;
  if (room->broadcaster || room->encoder == NULL)
    return;
  for (struct map_entry *e = map_first(&app->peers, &slot); e;
       e = map_next(&app->peers, e, &slot)) {
    struct client *cl = e->value;
    if (cl->user_id == room->owner_id && cl->console && cl->room == NULL && !cl->closed) {
      console_attach(room, cl);
      return;
    }
  }
}

/* live.console: this page is the user's broadcast page; while the user's
 * encoder publishes the room (WHIP), the page shows it (live.started with
 * "source":"encoder"), now or once the encoder goes live. */
static void on_live_console(struct client *cl, json_t *msg, size_t len) {
  const char *title;
  if (live_title(cl, msg, &title, "live.console") < 0)
    return;
  cl->console = 1;
  snprintf(cl->console_title, sizeof(cl->console_title), "%s", title ? title : "");
  if (cl->room)
    return;
  struct room *room = rooms_find(&cl->app->rooms, cl->user, strlen(cl->user));
  if (room && room->owner_id == cl->user_id)
    console_find(cl->app, room);
}

/* cl broadcasts room, with a media room of its own. */
static void room_attach(struct app *app, struct room *room, struct client *cl) {
  room->broadcaster = cl;
  cl->room = room;
  cl->broadcaster = 1;
  if (app->sfu)
    room->media = sfu_room_new(app->sfu, &cl->media);
  room->warning = NULL; /* of the media before */
}

/* The broadcaster of a reconnecting room is back (on cl): the same room
 * goes on, its viewers offer again once the new media is ready. */
static void room_resume(struct app *app, struct room *room, struct client *cl, const char *title) {
  room_attach(app, room, cl);
  room_send_to(room,
               json_pack("{s:s, s:s, s:s}", "type", "room.resumed", "room", room->name,
                         "broadcaster_peer", cl->peer),
               0);
  room_set_title(app, room, title);
  log_ev(LOG_INFO, "room resumed", LOG_S("room", room->name), LOG_U("conn", cl->conn->id));
  send_live_started(cl, 1);
  rooms_changed(app);
  cluster_room_changed(app, room);
}

/* The user's room is live on another node (a replica here) and its
 * broadcaster is back here: this node takes it over, with a later claim
 * (docs/cluster.md, "A node dies"); the other node, if alive, hears it and
 * lets go (live_room_yield). The caller attaches the broadcaster. */
void room_take(struct app *app, struct room *room) {
  log_ev(LOG_INFO, "cluster: room taken over", LOG_S("room", room->name),
         LOG_S("from", room->origin));
  cluster_pull_end(app, room); /* the replica's media and players go */
  room->origin[0] = 0;
  room->origin_reconnecting = 0;
  room->origin_encoder = 0;
  room->origin_lost_until = 0;
  int64_t now = session_now_ms();
  room->claimed_ms = now > room->claimed_ms ? now : room->claimed_ms + 1;
}

void live_room_yield(struct app *app, struct room *room, const char *origin) {
  struct client *bc = room->broadcaster;
  if (bc) {
    bc->room = NULL;
    bc->broadcaster = 0;
    if (!bc->closed)
      client_send(bc, json_pack("{s:s, s:s, s:s}", "type", "live.ended", "room", room->name,
                                "reason", "replaced"));
  }
  room->broadcaster = NULL;
  if (room->media)
    sfu_room_free(room->media);
  room->media = NULL;
  whep_room_ended(room);
  if (room->encoder)
    whip_room_ended(room->encoder);
  room->encoder = NULL;
  snprintf(room->origin, sizeof(room->origin), "%s", origin);
  room->origin_reconnecting = 1; /* until the new origin's entry says live */
  room_send_to(room,
               json_pack("{s:s, s:s, s:I}", "type", "room.reconnecting", "room", room->name,
                         "grace_ms", (json_int_t)app->cfg->reconnect_grace_ms),
               0);
  log_ev(LOG_INFO, "cluster: room taken over by another node", LOG_S("room", room->name),
         LOG_S("node", origin));
  rooms_changed(app);
}

/* Opens the user's own room with cl as its broadcaster. */
static void room_start(struct app *app, struct client *cl, const char *title) {
  struct room *room;
  int rc = rooms_open(&app->rooms, cl->user, cl->user_id, cl, session_now_ms(), &room);
  if (rc < 0) {
    client_error(cl, "bad_message", "Could not open the room.", "live.start");
    return;
  }
  if (title)
    snprintf(room->title, sizeof(room->title), "%s", title);
  room_attach(app, room, cl);
  log_ev(LOG_INFO, "room live", LOG_S("room", room->name), LOG_U("conn", cl->conn->id));
  send_live_started(cl, 0);
  rooms_changed(app);
  cluster_room_changed(app, room);
}

static void on_live_start(struct client *cl, json_t *msg, size_t len) {
  struct app *app = cl->app;
  const char *title;
  if (live_title(cl, msg, &title, "live.start") < 0)
    return;
  if (cl->broadcaster) {
    /* Already live here: a repeated start only updates the title. */
    room_set_title(app, cl->room, title);
    send_live_started(cl, 0);
    return;
  }
  viewer_leave(app, cl);
  /* The room is the user's own, whatever the message says. A reconnecting
   * one resumes; a live one on another connection (an old tab) is replaced. */
  struct room *old = rooms_find(&app->rooms, cl->user, strlen(cl->user));
  if (old) {
    if (old->owner_id != cl->user_id) {
      client_error(cl, "not_broadcaster", "That room belongs to someone else.", "live.start");
      return;
    }
    if (old->encoder || old->origin_encoder) {
      client_error(cl, "encoder_live", "Your encoder is live; stop it before going live here.",
                   "live.start");
      return;
    }
    if (old->origin[0]) /* live on another node: it moves here */
      room_take(app, old);
    if (old->broadcaster == NULL) {
      room_resume(app, old, cl, title);
      return;
    }
    room_end(app, old, "replaced");
  }
  room_start(app, cl, title);
}

/* live.resume: the page of a broadcaster whose connection dropped takes its
 * room back; no_such_room when it has ended meanwhile (the grace period
 * ran out, onair restarted). */
static void on_live_resume(struct client *cl, json_t *msg, size_t len) {
  struct app *app = cl->app;
  if (cl->broadcaster) {
    send_live_started(cl, 0);
    return;
  }
  struct room *room = rooms_find(&app->rooms, cl->user, strlen(cl->user));
  if (room == NULL || room->owner_id != cl->user_id || room->broadcaster || room->encoder ||
      room->origin_encoder) {
    client_error(cl, "no_such_room", "Your broadcast ended while you were disconnected.",
                 "live.resume");
    return;
  }
  viewer_leave(app, cl);
  if (room->origin[0]) /* its node died, or this page reconnected to another */
    room_take(app, room);
  room_resume(app, room, cl, NULL);
}

/* The broadcaster's connection dropped: the room waits reconnect-grace-ms
 * for them, its media gone, its viewers told. */
static void room_hold(struct app *app, struct room *room) {
  uint64_t grace = app->cfg->reconnect_grace_ms;
  if (room->media)
    sfu_room_free(room->media);
  room->media = NULL;
  whep_room_ended(room); /* their media went with it: players POST again */
  room->broadcaster = NULL;
  room->grace_until = uv_now(app->loop) + grace;
  room_send_to(room,
               json_pack("{s:s, s:s, s:I}", "type", "room.reconnecting", "room", room->name,
                         "grace_ms", (json_int_t)grace),
               0);
  log_ev(LOG_INFO, "room reconnecting", LOG_S("room", room->name), LOG_U("grace_ms", grace));
  if (!uv_is_active((uv_handle_t *)&app->grace_timer))
    uv_timer_start(&app->grace_timer, grace_sweep, 250, 250);
  rooms_changed(app);
  cluster_room_changed(app, room);
}

static void on_live_end(struct client *cl, json_t *msg, size_t len) {
  if (!cl->broadcaster || cl->room == NULL) {
    client_error(cl, "not_broadcaster", "Only the broadcaster can end a room.", "live.end");
    return;
  }
  room_end(cl->app, cl->room, "ended");
}

static void on_room_join(struct client *cl, json_t *msg, size_t msg_len) {
  struct app *app = cl->app;
  size_t len = 0;
  const char *name = msg_str(msg, "room", &len);
  if (name == NULL) {
    client_error(cl, "bad_message", "room.join needs a room name.", "room.join");
    return;
  }
  if (cl->broadcaster) {
    client_error(cl, "already_in_room", "End your broadcast before watching another room.",
                 "room.join");
    return;
  }
  struct room *room = rooms_find(&app->rooms, name, len);
  if (room == NULL) {
    client_error(cl, "no_such_room", "That room is not live.", "room.join");
    return;
  }
  if (cl->room == room) {
    client_error(cl, "already_in_room", "You are already in this room.", "room.join");
    return;
  }
  viewer_leave(app, cl);
  int rc = room_viewer_add(&app->rooms, room, cl);
  if (rc < 0) {
    client_error(cl, "room_full", "This room is full.", "room.join");
    return;
  }
  cl->room = room;
  struct client *bc = room->broadcaster;
  client_send(cl, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:o}", "type", "room.joined",
                            "room", room->name, "title", room->title, "broadcaster", room->name,
                            "state", room_state(room), "broadcaster_peer", bc ? bc->peer : "",
                            "viewers", (json_int_t)room_viewers(room), "media_ready",
                            room->media && sfu_room_ready(room->media), "history",
                            room_history(app, room)));
  if (room->warning)
    client_send(cl, warning_msg(room));
  /* The page's offer came with the join: the answer leaves with room.joined,
   * in the same write. Before the broadcaster's media is in, the page
   * offers again on media.ready. */
  if (json_object_get(msg, "sdp") && room->media && sfu_room_ready(room->media))
    on_media_offer(cl, msg, msg_len);
  if (bc)
    client_send(bc, json_pack("{s:s, s:s, s:s, s:s}", "type", "viewer.joined", "room", room->name,
                              "peer", cl->peer, "user", cl->user));
  cluster_viewer(app, room, cl->peer, cl->user, 1);
  cluster_pull_need(app, room);
  cluster_count_changed(app, room);
  viewers_changed(app);
  rooms_changed(app);
}

static void on_room_leave(struct client *cl, json_t *msg, size_t len) {
  if (cl->room == NULL || cl->broadcaster) {
    client_error(cl, "not_in_room", "You are not watching a room.", "room.leave");
    return;
  }
  char name[ROOM_NAME_MAX + 1];
  snprintf(name, sizeof(name), "%s", cl->room->name);
  viewer_leave(cl->app, cl);
  client_send(cl, json_pack("{s:s, s:s}", "type", "room.left", "room", name));
}

/* One message from the user's chat allowance (chat-burst, chat-per-sec):
 * 0, or -1 after telling the client why not. */
static int chat_rate_take(struct client *cl) {
  struct app *app = cl->app;
  char key[24];
  snprintf(key, sizeof(key), "%" PRId64, cl->user_id);
  struct user_state *us = map_get(&app->users, key, strlen(key));
  if (us == NULL) {
    us = calloc(1, sizeof(*us));
    if (us == NULL || map_put(&app->users, key, strlen(key), us) < 0) {
      free(us);
      client_error(cl, "internal", "Try again.", "chat.send");
      return -1;
    }
  }
  if (chat_bucket_take(&us->bucket, app->cfg->chat_burst, app->cfg->chat_per_sec,
                       uv_now(app->loop)) < 0) {
    client_error(cl, "rate_limited", "You are sending messages too fast; wait a moment.",
                 "chat.send");
    return -1;
  }
  return 0;
}

static void on_chat_send(struct client *cl, json_t *msg, size_t len) {
  struct app *app = cl->app;
  size_t rlen = 0, tlen = 0;
  const char *name = msg_str(msg, "room", &rlen);
  const char *text = msg_str(msg, "text", &tlen);
  if (name == NULL || text == NULL) {
    client_error(cl, "bad_message", "chat.send needs a room and a text.", "chat.send");
    return;
  }
  struct room *room = rooms_find(&app->rooms, name, rlen);
  if (room == NULL) {
    client_error(cl, "no_such_room", "That room is not live.", "chat.send");
    return;
  }
  if (cl->room != room) {
    client_error(cl, "not_in_room", "Join the room before chatting in it.", "chat.send");
    return;
  }
  int rc = chat_text_check(text, tlen, CHAT_MAX_CHARS);
  if (rc == -E2BIG) {
    client_error(cl, "too_long", "Messages are at most 500 characters.", "chat.send");
    return;
  }
  if (rc == -EINVAL) {
    client_error(cl, "bad_message", "Messages cannot contain control characters.", "chat.send");
    return;
  }
  if (rc < 0) {
    client_error(cl, "empty", "That message has nothing to show.", "chat.send");
    return;
  }
  if (chat_rate_take(cl) < 0)
    return;
  int64_t ts = session_now_ms(), id;
  /* Stored before anyone sees it: what was shown survives a crash. */
  if (db_chat_append(app->db, room->name, cl->user, text, ts, &id) < 0) {
    client_error(cl, "internal", "The message could not be stored; try again.", "chat.send");
    return;
  }
  json_t *chat =
      json_pack("{s:s, s:s, s:I, s:s, s:s, s:I}", "type", "chat", "room", room->name, "id",
                (json_int_t)id, "user", cl->user, "text", text, "ts", (json_int_t)ts);
  room_send(room, json_incref(chat));
  cluster_chat(app, room, chat);
  json_decref(chat);
  app->counters.chat_in++;
  app->counters.chat_out += room->nviewers + 1;
}

/* The page's own keepalive: it hears from onair at least this often, so a
 * connection the network silently lost shows (browsers hide WebSocket pings). */
static void on_ping(struct client *cl, json_t *msg, size_t len) {
  client_send(cl, json_pack("{s:s}", "type", "pong"));
}

/* Client messages of docs/protocol.md and their handlers. */
typedef void (*live_handler_fn)(struct client *cl, json_t *msg, size_t len);
struct live_handler {
  const char *type;
  live_handler_fn fn;
  const char *guest_refused; /* what a guest (public-watch, no account) is told, or NULL */
};
static const struct live_handler handlers[] = {
    {"rooms.watch", on_rooms_watch, NULL},
    {"live.start", on_live_start, "Sign in to go live."},
    {"live.resume", on_live_resume, "Sign in to go live."},
    {"live.end", on_live_end, "Sign in to go live."},
    {"live.console", on_live_console, "Sign in to go live."},
    {"room.join", on_room_join, NULL},
    {"room.leave", on_room_leave, NULL},
    {"chat.send", on_chat_send, "Sign in to chat."},
    {"media.offer", on_media_offer, NULL},
    {"media.quality", on_media_quality, NULL},
    {"ping", on_ping, NULL},
};

static void live_on_message(struct conn *c, const char *text, size_t len) {
  struct client *cl = ws_user(c);
  json_error_t jerr;
  json_t *msg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (msg == NULL || !json_is_object(msg)) {
    client_error(cl, "bad_json", "Messages are JSON objects.", "");
    json_decref(msg);
    return;
  }
  const char *type = msg_str(msg, "type", NULL);
  const struct live_handler *h = NULL;
  for (size_t i = 0; type && i < sizeof(handlers) / sizeof(handlers[0]); i++) {
    if (strcmp(type, handlers[i].type) == 0)
      h = &handlers[i];
  }
  if (type == NULL)
    client_error(cl, "bad_message", "Every message needs a type.", "");
  else if (h == NULL)
    client_error(cl, "unknown_type", "Unknown message type.", type);
  else if (cl->user_id == 0 && h->guest_refused)
    client_error(cl, "signed_out", h->guest_refused, type);
  else
    h->fn(cl, msg, len);
  json_decref(msg);
}

/* max-ws-per-ip: counts cl against its address; -EBUSY at the cap. */
static int client_ip_take(struct app *app, struct client *cl, const char *ip) {
  unsigned cap = app->cfg->max_ws_per_ip;
  if (cap == 0 || ip[0] == 0)
    return 0;
  int rc = map_count_take(&app->ws_by_ip, ip, strlen(ip), cap);
  if (rc == -EBUSY) {
    app->counters.ws_refused_per_ip++;
    return rc;
  }
  if (rc == 0)
    snprintf(cl->ip, sizeof(cl->ip), "%s", ip);
  return 0; /* out of memory: let it in, uncounted */
}

static void client_ip_release(struct app *app, struct client *cl) {
  if (cl->ip[0] == 0)
    return;
  map_count_drop(&app->ws_by_ip, cl->ip, strlen(cl->ip));
  cl->ip[0] = 0;
}

static void live_on_close(struct conn *c) {
  struct client *cl = ws_user(c);
  struct app *app = cl->app;
  cl->closed = 1;
  client_ip_release(app, cl);
  if (cl->broadcaster && cl->room && cl->room->encoder && !cl->end_on_close) {
    /* A broadcast page of an encoder's room went: the room goes on (with
     * another broadcast page of the user's, if one waits). */
    struct room *room = cl->room;
    room->broadcaster = NULL;
    cl->room = NULL;
    cl->broadcaster = 0;
    console_find(app, room);
  } else if (cl->broadcaster && cl->room && !cl->end_on_close && app->cfg->reconnect_grace_ms > 0 &&
             !app->closing)
    room_hold(app, cl->room);
  else if (cl->broadcaster && cl->room)
    room_end(app, cl->room, "disconnected");
  else
    viewer_leave(app, cl);
  client_unwatch(app, cl);
  map_del(&app->peers, cl->peer, strlen(cl->peer));
}

static void live_on_free(void *user) { free(user); }

/* hello comes first, before anything the client sent with its upgrade. */
/* What the page passes to RTCPeerConnection as iceServers: the configured
 * TURN/STUN URLs with credentials for this user (docs/protocol.md). */
static json_t *ice_servers(const struct app *app, const char *user) {
  const struct config *cfg = app->cfg;
  json_t *list = json_array();
  if (cfg->turn_url[0] == 0)
    return list;
  json_t *urls = json_array();
  for (const char *p = cfg->turn_url; *(p += strspn(p, ", \t"));) {
    size_t len = strcspn(p, ", \t");
    json_array_append_new(urls, json_stringn(p, len));
    p += len;
  }
  json_t *server = json_pack("{s:o}", "urls", urls);
  char username[TURN_USERNAME_MAX], credential[TURN_CREDENTIAL_MAX];
  if (cfg->turn_secret[0] &&
      turn_credentials(cfg->turn_secret, user, (uint64_t)(session_now_ms() / 1000), cfg->turn_ttl_s,
                       username, credential) == 0) {
    json_object_set_new(server, "username", json_string(username));
    json_object_set_new(server, "credential", json_string(credential));
  }
  json_array_append_new(list, server);
  return list;
}

static void live_on_open(struct conn *c) {
  struct client *cl = ws_user(c);
  const struct config *cfg = cl->app->cfg;
  json_t *hello = json_pack("{s:s, s:s, s:s, s:o, s:I}", "type", "hello", "user", cl->user, "peer",
                            cl->peer, "ice_servers", ice_servers(cl->app, cl->user),
                            "reconnect_grace_ms", (json_int_t)cfg->reconnect_grace_ms);
  /* The public address, for links to share (else the page's own). */
  if (hello && cfg->base_url[0])
    json_object_set_new(hello, "base_url", json_string(cfg->base_url));
  /* The other nodes of a cluster: where the page reconnects if this one
   * goes away. */
  if (hello && cfg->redis[0])
    json_object_set_new(hello, "nodes", cluster_nodes_json(cl->app));
  client_send(cl, hello);
}

static const struct ws_handlers live_handlers = {
    .on_open = live_on_open,
    .on_message = live_on_message,
    .on_close = live_on_close,
    .on_free = live_on_free,
};

int live_accept(struct app *app, struct conn *c, struct http_req *req, int64_t user_id,
                const char *user, const char *token) {
  struct client *cl = calloc(1, sizeof(*cl));
  if (cl == NULL)
    return 503;
  cl->app = app;
  cl->conn = c;
  cl->media.ops = &live_client_media_ops;
  cl->user_id = user_id;
  snprintf(cl->user, sizeof(cl->user), "%s", user);
  snprintf(cl->peer, sizeof(cl->peer), "p%" PRIu64, c->id);
  snprintf(cl->token, sizeof(cl->token), "%s", token);
  if (client_ip_take(app, cl, req->client_ip) < 0) {
    free(cl);
    return 429;
  }
  if (map_put(&app->peers, cl->peer, strlen(cl->peer), cl) < 0) {
    client_ip_release(app, cl);
    free(cl);
    return 503;
  }
  int status = ws_upgrade(&app->ws, c, req, &live_handlers, cl);
  if (status) {
    map_del(&app->peers, cl->peer, strlen(cl->peer));
    client_ip_release(app, cl);
    free(cl);
    return status;
  }
  return 0;
}

void live_close_session(struct app *app, const char *token) {
  size_t slot;
  for (struct map_entry *e = map_first(&app->peers, &slot); e;
       e = map_next(&app->peers, e, &slot)) {
    struct client *cl = e->value;
    if (sodium_memcmp(cl->token, token, SESSION_TOKEN_LEN + 1) == 0) {
      cl->end_on_close = 1; /* signed out: the room ends, nobody comes back to it */
      ws_close(cl->conn, WS_CLOSE_POLICY, "signed out");
    }
  }
}

void live_token_hash(const char *token, char hex[65]) {
  uint8_t h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, (const uint8_t *)token, strlen(token));
  sodium_bin2hex(hex, 65, h, sizeof(h));
}

void live_close_session_hash(struct app *app, const char *hash) {
  size_t slot;
  for (struct map_entry *e = map_first(&app->peers, &slot); e;
       e = map_next(&app->peers, e, &slot)) {
    struct client *cl = e->value;
    char mine[65];
    if (cl->token[0] == 0)
      continue; /* a guest */
    live_token_hash(cl->token, mine);
    if (sodium_memcmp(mine, hash, 64) == 0) {
      cl->end_on_close = 1;
      ws_close(cl->conn, WS_CLOSE_POLICY, "signed out");
    }
  }
}

void live_end_all(struct app *app) {
  struct rooms_iter it;
  struct room *r;
  while ((r = rooms_first(&app->rooms, &it)) != NULL)
    room_end(app, r, "shutdown");
}

void live_notify_restart(struct app *app) {
  struct sbuf *frame = json_frame(json_pack("{s:s}", "type", "server.restarting"));
  size_t slot;
  for (struct map_entry *e = map_first(&app->peers, &slot); e;
       e = map_next(&app->peers, e, &slot)) {
    struct client *cl = e->value;
    if (frame)
      conn_write(cl->conn, frame);
    ws_close(cl->conn, WS_CLOSE_RESTART, "server restarting");
  }
  if (frame)
    sbuf_unref(frame);
}

char *live_admin_rooms_json(struct app *app) {
  json_t *list = json_array();
  struct rooms_iter it;
  for (struct room *r = rooms_first(&app->rooms, &it); r; r = rooms_next(&app->rooms, &it)) {
    json_t *room = room_json(r);
    json_t *names = json_array();
    for (size_t i = 0; i < r->nviewers; i++)
      json_array_append_new(names, json_string(r->viewers[i]->user));
    json_object_set_new(room, "viewer_names", names);
    json_array_append_new(list, room);
  }
  json_t *j = json_pack("{s:o}", "rooms", list);
  char *s = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  return s;
}

int live_admin_end_room(struct app *app, const char *name) {
  struct room *room = rooms_find(&app->rooms, name, strlen(name));
  if (room == NULL)
    return -ENOENT;
  if (room->origin[0])
    cluster_end_request(app, room, "admin"); /* its origin ends it, for every node */
  else
    room_end(app, room, "admin");
  return 0;
}

void live_close_user(struct app *app, int64_t user_id, const char *reason) {
  size_t slot;
  for (struct map_entry *e = map_first(&app->peers, &slot); e;
       e = map_next(&app->peers, e, &slot)) {
    struct client *cl = e->value;
    if (cl->user_id == user_id) {
      cl->end_on_close = 1;
      ws_close(cl->conn, WS_CLOSE_POLICY, reason);
    }
  }
  /* A room of theirs waiting for a reconnect ends too. */
  struct rooms_iter it;
  for (struct room *r = rooms_first(&app->rooms, &it); r; r = rooms_next(&app->rooms, &it)) {
    if (r->owner_id == user_id && r->broadcaster == NULL) {
      room_end(app, r, reason);
      break; /* one room per user */
    }
  }
}
