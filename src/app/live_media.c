/* The media messages of docs/protocol.md (media.offer, media.quality) and
 * what the media plane tells a page (docs/media.md). */
#include <string.h>

#include "app/live_int.h"
#include "util/container_of.h"
#include "util/log.h"

/* WebRTC through the SFU (docs/media.md): the client offers, onair answers. */
void on_media_offer(struct client *cl, json_t *msg, size_t msg_len) {
  size_t len = 0;
  const char *sdp = msg_str(msg, "sdp", &len);
  if (sdp == NULL) {
    client_error(cl, "bad_message", "media.offer needs an sdp.", "media.offer");
    return;
  }
  if (cl->room == NULL) {
    client_error(cl, "not_in_room", "Go live or join a room first.", "media.offer");
    return;
  }
  if (cl->room->media == NULL) {
    client_error(cl, "not_ready", "The broadcaster is reconnecting; wait for media.ready.",
                 "media.offer");
    return;
  }
  if (cl->broadcaster && cl->room->encoder) {
    client_error(cl, "encoder_live", "Your encoder sends this room's media.", "media.offer");
    return;
  }
  char *answer;
  const char *code, *why;
  if (sfu_offer(cl->room->media, cl->broadcaster, &cl->media, sdp, len, &answer, &code, &why) < 0) {
    client_error(cl, code, why, "media.offer");
    return;
  }
  client_send(cl, json_pack("{s:s, s:s}", "type", "media.answer", "sdp", answer));
  free(answer);
}

/* The broadcaster's media reached onair: viewers connect to it now. */
static void on_media_ready(struct sfu_owner *owner) {
  struct client *bc = container_of(owner, struct client, media);
  struct room *room = bc->room;
  room_send_to(room, json_pack("{s:s, s:s}", "type", "media.ready", "room", room->name), 0);
}

static void on_media_closed(struct sfu_owner *owner, const char *why) {
  struct client *cl = container_of(owner, struct client, media);
  client_send(cl, json_pack("{s:s, s:s}", "type", "media.closed", "reason", why));
}

/* The media plane warned of room's publisher's media (sfu_owner_ops):
 * everyone in the room hears it (media.warning), a late viewer with
 * room.joined. */
void room_media_warning(struct room *room, const char *code) {
  room->warning = code;
  log_ev(LOG_WARN, "media warning", LOG_S("room", room->name), LOG_S("code", code),
         LOG_S("message", warning_text(code)));
  room_send(room, warning_msg(room));
}

static void on_media_warning(struct sfu_owner *owner, const char *code) {
  struct client *bc = container_of(owner, struct client, media);
  if (bc->room)
    room_media_warning(bc->room, code);
}

/* Simulcast (docs/media.md): the broadcast page turns the layers nobody
 * watches off (media.layers); a viewer's page hears which one it gets
 * (media.layer) and picks one (media.quality). */
static const char *const quality_names[] = {"auto", "low", "medium", "high", "audio"};

static void on_layers_wanted(struct sfu_owner *owner, unsigned mask, unsigned layers) {
  struct client *bc = container_of(owner, struct client, media);
  json_t *active = json_array();
  for (unsigned i = 0; i < layers; i++)
    json_array_append_new(active, json_boolean(mask >> i & 1));
  client_send(bc, json_pack("{s:s, s:o}", "type", "media.layers", "active", active));
}

static void on_view_layer(struct sfu_owner *owner, int layer, unsigned layers) {
  struct client *cl = container_of(owner, struct client, media);
  const char *name = layer < 0                       ? "none"
                     : (unsigned)layer + 1 == layers ? "high"
                     : layer == 0                    ? "low"
                                                     : "medium";
  client_send(cl, json_pack("{s:s, s:s, s:i, s:i}", "type", "media.layer", "layer", name, "index",
                            layer, "layers", (int)layers));
}

void on_media_quality(struct client *cl, json_t *msg, size_t msg_len) {
  (void)msg_len;
  const char *q = msg_str(msg, "quality", NULL);
  int i = 0;
  while (q && i < 5 && strcmp(q, quality_names[i]) != 0)
    i++;
  if (q == NULL || i == 5)
    client_error(cl, "bad_message", "media.quality is auto, high, medium, low or audio.",
                 "media.quality");
  else if (cl->room == NULL || cl->broadcaster || cl->room->media == NULL ||
           sfu_view_quality(cl->room->media, &cl->media, (enum sfu_quality)i) < 0)
    client_error(cl, "not_watching", "Watch the room's media first.", "media.quality");
}

const struct sfu_owner_ops live_client_media_ops = {
    .media_ready = on_media_ready,
    .peer_closed = on_media_closed,
    .media_warning = on_media_warning,
    .layers_wanted = on_layers_wanted,
    .view_layer = on_view_layer,
};
