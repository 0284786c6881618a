/* Rooms an encoder publishes over WHIP (whip.c calls these): opened,
 * live, ready, counted and ended as live.c's rooms are, and a page of the
 * owner's that shows it (live.console). */
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "app/app.h"
#include "app/cluster.h"
#include "app/live_int.h"
#include "auth/session.h"
#include "media/sfu.h"
#include "util/log.h"

int live_encoder_start(struct app *app, int64_t user_id, const char *user, struct whip *w,
                       struct sfu_owner *media, struct room **out) {
  if (app->sfu == NULL)
    return -ENOTCONN;
  struct room *room = rooms_find(&app->rooms, user, strlen(user));
  int taken = room && room->origin[0] && room->owner_id == user_id &&
              (room->origin_reconnecting || room->origin_lost_until);
  if (taken) { /* waiting for its broadcaster on a node that died or let go */
    room_take(app, room);
    room_send_to(room,
                 json_pack("{s:s, s:s, s:s}", "type", "room.resumed", "room", room->name,
                           "broadcaster_peer", ""),
                 0);
  } else {
    int rc = rooms_open(&app->rooms, user, user_id, NULL, session_now_ms(), &room);
    if (rc < 0)
      return rc;
  }
  room->encoder = w;
  room->media = sfu_room_new(app->sfu, media);
  if (room->media == NULL) {
    room->encoder = NULL;
    if (taken)
      room_end(app, room, "failed");
    else
      rooms_close(&app->rooms, room);
    return -ENOMEM;
  }
  *out = room;
  return 0;
}

void live_encoder_live(struct app *app, struct room *room) {
  log_ev(LOG_INFO, "room live", LOG_S("room", room->name), LOG_S("source", "whip"));
  rooms_changed(app);
  cluster_room_changed(app, room);
  console_find(app, room);
}

void live_encoder_ready(struct app *app, struct room *room) {
  (void)app;
  room_send_to(room, json_pack("{s:s, s:s}", "type", "media.ready", "room", room->name), 0);
}

void live_count_changed(struct app *app, struct room *room) {
  rooms_count_changed(&app->rooms, room);
  cluster_count_changed(app, room);
  if (room_local_viewers(room)) /* a replica's WHEP players: its media is pulled */
    cluster_pull_need(app, room);
  else
    cluster_pull_idle(app, room);
  viewers_changed(app);
  rooms_changed(app);
}

void live_encoder_warning(struct app *app, struct room *room, const char *code) {
  (void)app;
  room_media_warning(room, code);
}

void live_encoder_end(struct app *app, struct room *room, const char *reason) {
  room_end(app, room, reason);
}
