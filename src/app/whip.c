/* WHIP ingest and WHEP playback (docs/obs.md, docs/protocol.md).
 *
 * WHIP (RFC 9725): an encoder such as OBS or GStreamer
 * publishes its user's room by POSTing its SDP offer to /whip with the
 * user's stream key as its Bearer token (auth/streamkey.h). onair answers
 * 201 with its SDP answer and the session's resource, /whip/<id>; a DELETE
 * there ends the broadcast. The room is the one a browser broadcast opens
 * (live.c): the same name, viewers and chat. onair is ICE-lite and puts its
 * candidates in the answer, so trickled candidates (PATCH) are not needed:
 * it learns the encoder's addresses from its checks. Error bodies are short
 * texts, for the encoder's log.
 *
 * WHEP: a player POSTs its offer to /whep/<room> and watches the room as a
 * viewer that counts, until its DELETE on /whep/<room>/<id>. */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "app/app.h"
#include "app/cluster.h"
#include "app/web.h"
#include "auth/session.h"
#include "auth/streamkey.h"
#include "auth/turn.h"
#include "media/sfu.h"
#include "util/b64url.h"
#include "util/container_of.h"
#include "util/log.h"

#define WHIP_ID_LEN 22 /* 128 random bits in base64url */

/* One encoder's session: /whip/<id>. */
struct whip {
  struct app *app;
  struct room *room;
  struct sfu_owner media; /* the room's media and its publisher's peer */
  int64_t user_id;
  char id[WHIP_ID_LEN + 1];
};

/* On every WHIP response: browsers' WHIP clients may call from any page
 * (the key, not a cookie, is the credential). */
#define WHIP_CORS                      \
  "Access-Control-Allow-Origin: *\r\n" \
  "Access-Control-Expose-Headers: Location, ETag, Link, Accept-Patch, Retry-After\r\n"

static void whip_text(struct conn *c, int status, const char *extra, const char *text) {
  char headers[512];
  snprintf(headers, sizeof(headers), WHIP_CORS "%s", extra ? extra : "");
  http_respond(c, status, "text/plain; charset=utf-8", headers, text, strlen(text));
}

static int whip_id_ok(const char *rest) {
  return strlen(rest) == WHIP_ID_LEN && b64url_ok(rest, WHIP_ID_LEN);
}

/* A new session's id: 128 random bits, base64url. */
static void session_id(char id[WHIP_ID_LEN + 1]) {
  uint8_t raw[16];
  randombytes_buf(raw, sizeof(raw));
  sodium_bin2base64(id, WHIP_ID_LEN + 1, raw, sizeof(raw),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* 1 if the request's Content-Type is type (parameters aside). */
static int whip_type_is(const struct http_req *req, const char *type) {
  size_t len = 0, n = strlen(type);
  const char *v = http_req_header(req, "Content-Type", &len);
  return v && len >= n && strncasecmp(v, type, n) == 0 && (len == n || v[n] == ';' || v[n] == ' ');
}

/* The Bearer key's user (a stream key, or a WHEP watch token): 0 with
 * *user_id, or -1 once answered (401; 429 while the address is throttled,
 * as a password sign-in is). */
static int whip_auth(struct conn *c, struct http_req *req, enum key_kind kind, int64_t *user_id) {
  const char *what = kind == KEY_WATCH ? "watch token" : "stream key";
  struct app *app = ((struct app *)c->app);
  char ikey[64];
  snprintf(ikey, sizeof(ikey), "whip:%s", req->client_ip);
  uint64_t now = uv_now(app->loop);
  uint64_t wait = throttle_wait_ms(&app->throttle_ip, ikey, now);
  if (wait) {
    char extra[64];
    snprintf(extra, sizeof(extra), "Retry-After: %" PRIu64 "\r\n", (wait + 999) / 1000);
    whip_text(c, 429, extra, "Too many wrong keys from your address; wait and retry.\n");
    return -1;
  }
  char text[128];
  size_t len = 0;
  const char *v = http_req_header(req, "Authorization", &len);
  if (v == NULL || len < 7 || strncasecmp(v, "Bearer ", 7) != 0) {
    snprintf(text, sizeof(text), "A %s is needed: Authorization: Bearer <your %s>.\n", what, what);
    whip_text(c, 401, "WWW-Authenticate: Bearer\r\n", text);
    return -1;
  }
  int rc = streamkey_user(app->db, kind, v + 7, len - 7, user_id);
  if (rc == 0) {
    throttle_success(&app->throttle_ip, ikey);
    return 0;
  }
  if (rc == -ENOENT) {
    throttle_fail(&app->throttle_ip, ikey, now);
    log_ev(LOG_WARN, "whip refused",
           LOG_S("why", kind == KEY_WATCH ? "wrong watch token" : "wrong stream key"),
           LOG_S("ip", req->client_ip));
    snprintf(text, sizeof(text), "Wrong %s (or an old one: it was replaced).\n", what);
    whip_text(c, 401, "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n", text);
  } else {
    whip_text(c, 500, NULL, "The key could not be checked; try again.\n");
  }
  return -1;
}

/* ---- the session's media ---- */

static void whip_on_media_ready(struct sfu_owner *owner) {
  struct whip *w = container_of(owner, struct whip, media);
  live_encoder_ready(w->app, w->room);
}

/* The encoder's media went quiet (consent lost, DTLS failed): the room ends
 * as a browser broadcast's does when its page is gone. */
static void whip_on_media_closed(struct sfu_owner *owner, const char *why) {
  struct whip *w = container_of(owner, struct whip, media);
  log_ev(LOG_INFO, "whip media closed", LOG_S("room", w->room->name), LOG_S("why", why));
  live_encoder_end(w->app, w->room, "gone");
}

static void whip_on_media_warning(struct sfu_owner *owner, const char *code) {
  struct whip *w = container_of(owner, struct whip, media);
  live_encoder_warning(w->app, w->room, code);
}

static const struct sfu_owner_ops whip_media_ops = {
    .media_ready = whip_on_media_ready,
    .peer_closed = whip_on_media_closed,
    .media_warning = whip_on_media_warning,
};

void whip_room_ended(struct whip *w) {
  map_del(&w->app->whips, w->id, WHIP_ID_LEN);
  log_ev(LOG_INFO, "whip session ended", LOG_S("room", w->room->name));
  free(w);
}

/* ---- the HTTP side ---- */

/* RFC 9725's Link headers for the configured TURN servers, with this user's
 * credentials; "" without TURN. */
static void whip_links(const struct app *app, const char *user, char *out, size_t size) {
  const struct config *cfg = app->cfg;
  char username[TURN_USERNAME_MAX] = "", credential[TURN_CREDENTIAL_MAX] = "";
  out[0] = 0;
  if (cfg->turn_url[0] == 0)
    return;
  int creds = cfg->turn_secret[0] &&
              turn_credentials(cfg->turn_secret, user, (uint64_t)(session_now_ms() / 1000),
                               cfg->turn_ttl_s, username, credential) == 0;
  size_t used = 0;
  for (const char *p = cfg->turn_url; *(p += strspn(p, ", \t"));) {
    int len = (int)strcspn(p, ", \t");
    int n = creds
                ? snprintf(out + used, size - used,
                           "Link: <%.*s>; rel=\"ice-server\"; username=\"%s\"; "
                           "credential=\"%s\"; credential-type=\"password\"\r\n",
                           len, p, username, credential)
                : snprintf(out + used, size - used, "Link: <%.*s>; rel=\"ice-server\"\r\n", len, p);
    if (n < 0 || (size_t)n >= size - used) {
      out[used] = 0; /* what fits */
      return;
    }
    used += (size_t)n;
    p += len;
  }
}

/* 201 with the answer, the session's Location and ETag, and the ICE servers. */
static void whip_created(struct conn *c, struct whip *w, const char *user, const char *answer) {
  char links[1536], extra[2048];
  whip_links(w->app, user, links, sizeof(links));
  snprintf(extra, sizeof(extra),
           WHIP_CORS "Location: /whip/%s\r\nETag: \"%s\"\r\n"
                     "Accept-Patch: application/trickle-ice-sdpfrag\r\n%s",
           w->id, w->id, links);
  http_respond(c, 201, "application/sdp", extra, answer, strlen(answer));
}

/* POST /whip: the encoder's offer opens its user's room. */
static void whip_post(struct conn *c, struct http_req *req) {
  struct app *app = ((struct app *)c->app);
  int64_t uid;
  if (whip_auth(c, req, KEY_STREAM, &uid) < 0)
    return;
  if (!whip_type_is(req, "application/sdp"))
    return whip_text(c, 415, "Accept-Post: application/sdp\r\n",
                     "The offer must be sent as Content-Type: application/sdp.\n");
  if (req->body_len == 0)
    return whip_text(c, 400, NULL, "The request has no SDP offer.\n");
  struct db_user u;
  if (db_user_get(app->db, uid, &u) < 0)
    return whip_text(c, 500, NULL, "Your account could not be read; try again.\n");
  struct whip *w = calloc(1, sizeof(*w));
  if (w == NULL)
    return whip_text(c, 503, NULL, "Out of memory; try again.\n");
  session_id(w->id);
  w->app = app;
  w->user_id = uid;
  w->media.ops = &whip_media_ops;
  int rc = live_encoder_start(app, uid, u.name, w, &w->media, &w->room);
  if (rc < 0) {
    free(w);
    if (rc == -EEXIST)
      return whip_text(c, 409, NULL, "Your room is already live; stop that broadcast first.\n");
    return whip_text(c, 503, NULL, "onair cannot take media now; try again.\n");
  }
  if (map_put(&app->whips, w->id, WHIP_ID_LEN, w) < 0) {
    live_encoder_end(app, w->room, "failed"); /* frees w */
    return whip_text(c, 503, NULL, "Out of memory; try again.\n");
  }
  char *answer;
  const char *code, *why;
  if (sfu_offer(w->room->media, 1, &w->media, (const char *)req->body, req->body_len, &answer,
                &code, &why) < 0) {
    char text[256];
    snprintf(text, sizeof(text), "%s (%s).\n", why, code);
    live_encoder_end(app, w->room, "failed"); /* nobody saw it: frees w */
    return whip_text(c, 400, NULL, text);
  }
  log_ev(LOG_INFO, "whip session", LOG_S("room", u.name), LOG_S("ip", req->client_ip));
  live_encoder_live(app, w->room);
  whip_created(c, w, u.name, answer);
  free(answer);
}

/* The session of /whip/<id> if it is the key's user's, else NULL once
 * answered (401, 429, or 404: another user's session is not told apart
 * from none). */
static struct whip *whip_session(struct conn *c, struct http_req *req) {
  int64_t uid;
  if (whip_auth(c, req, KEY_STREAM, &uid) < 0)
    return NULL;
  const char *id = req->path + 6; /* after "/whip/" */
  struct whip *w = whip_id_ok(id) ? map_get(&((struct app *)c->app)->whips, id, WHIP_ID_LEN) : NULL;
  if (w == NULL || w->user_id != uid) {
    whip_text(c, 404, NULL, "No such WHIP session (it ended, or it is not yours).\n");
    return NULL;
  }
  return w;
}

/* DELETE /whip/<id>: the encoder stopped; the room ends for its viewers. */
static void whip_delete(struct conn *c, struct http_req *req) {
  struct whip *w = whip_session(c, req);
  if (w == NULL)
    return;
  live_encoder_end(w->app, w->room, "ended"); /* frees w */
  whip_text(c, 200, NULL, "The broadcast has ended.\n");
}

/* PATCH /whip/<id> with trickled candidates: 204, nothing to do (onair is
 * ICE-lite: the encoder's checks tell it its addresses). An ICE restart
 * (new credentials) is not offered: 405, the encoder POSTs again. */
static void whip_patch(struct conn *c, struct http_req *req) {
  struct whip *w = whip_session(c, req);
  if (w == NULL)
    return;
  if (!whip_type_is(req, "application/trickle-ice-sdpfrag"))
    return whip_text(c, 415, "Accept-Patch: application/trickle-ice-sdpfrag\r\n",
                     "PATCH takes Content-Type: application/trickle-ice-sdpfrag.\n");
  size_t len = 0;
  const char *tag = http_req_header(req, "If-Match", &len);
  if (tag && !(len == 1 && tag[0] == '*') &&
      !(len == WHIP_ID_LEN + 2 && tag[0] == '"' && memcmp(tag + 1, w->id, WHIP_ID_LEN) == 0))
    return whip_text(c, 412, NULL, "That is not this session's ICE (If-Match).\n");
  if (tag && len == 1)
    return whip_text(c, 405, "Allow: DELETE, PATCH, OPTIONS\r\n",
                     "ICE restarts are not supported: start the stream again.\n");
  http_respond(c, 204, NULL, WHIP_CORS, NULL, 0);
}

/* A CORS preflight. */
static void whip_options(struct conn *c, const char *methods) {
  char extra[512];
  snprintf(extra, sizeof(extra),
           WHIP_CORS "Access-Control-Allow-Methods: %s\r\n"
                     "Access-Control-Allow-Headers: Authorization, Content-Type, If-Match\r\n"
                     "Access-Control-Max-Age: 86400\r\nAllow: %s\r\n"
                     "Accept-Post: application/sdp\r\n",
           methods, methods);
  http_respond(c, 204, NULL, extra, NULL, 0);
}

void whip_route(struct conn *c, struct http_req *req) {
  int endpoint = strcmp(req->path, "/whip") == 0;
  const char *methods = endpoint ? "POST, OPTIONS" : "DELETE, PATCH, OPTIONS";
  if (req->method == HTTP_OPTIONS)
    return whip_options(c, methods);
  if (endpoint && req->method == HTTP_POST)
    return whip_post(c, req);
  if (!endpoint && req->method == HTTP_DELETE)
    return whip_delete(c, req);
  if (!endpoint && req->method == HTTP_PATCH)
    return whip_patch(c, req);
  char allow[64];
  snprintf(allow, sizeof(allow), "Allow: %s\r\n", methods);
  whip_text(c, 405, allow, "Method not allowed here.\n");
}

/* ---- WHEP playback ---- */

/* One player's session: /whep/<room>/<id>. It counts as a viewer. */
struct whep {
  struct app *app;
  struct room *room;
  struct sfu_owner media; /* its viewer peer */
  char id[WHIP_ID_LEN + 1];
  struct whep *prev, *next; /* the room's */
};

/* Unlinks and frees p (its peer is gone or dropped by the caller). */
static void whep_forget(struct whep *p) {
  struct room *room = p->room;
  if (p->prev)
    p->prev->next = p->next;
  else
    room->wheps = p->next;
  if (p->next)
    p->next->prev = p->prev;
  room->nwhep--;
  map_del(&p->app->wheps, p->id, WHIP_ID_LEN);
  free(p);
}

/* The player went without a DELETE (its media went quiet). */
static void whep_on_media_closed(struct sfu_owner *owner, const char *why) {
  struct whep *p = container_of(owner, struct whep, media);
  struct app *app = p->app;
  struct room *room = p->room;
  log_ev(LOG_INFO, "whep media closed", LOG_S("room", room->name), LOG_S("why", why));
  whep_forget(p);
  live_count_changed(app, room);
}

static const struct sfu_owner_ops whep_media_ops = {.peer_closed = whep_on_media_closed};

void whep_room_ended(struct room *room) {
  while (room->wheps)
    whep_forget(room->wheps);
}

/* 201 with the answer and the session's Location. */
static void whep_created(struct conn *c, struct whep *p, const char *user, const char *answer) {
  char links[1536], extra[2048];
  whip_links(p->app, user, links, sizeof(links));
  snprintf(extra, sizeof(extra), WHIP_CORS "Location: /whep/%s/%s\r\nETag: \"%s\"\r\n%s",
           p->room->name, p->id, p->id, links);
  http_respond(c, 201, "application/sdp", extra, answer, strlen(answer));
}

/* The room a player may watch now, or NULL once answered. */
static struct room *whep_room(struct conn *c, struct http_req *req, const char *name, size_t len,
                              const struct who *user) {
  struct app *app = c->app;
  size_t alen;
  int64_t token_user = 0; /* the owner of the room a watch token opens */
  if (user == NULL && http_req_header(req, "Authorization", &alen)) {
    if (whip_auth(c, req, KEY_WATCH, &token_user) < 0)
      return NULL;
  } else if (user == NULL && !app->cfg->public_watch) {
    whip_text(c, 401, "WWW-Authenticate: Bearer\r\n",
              "Sign in to watch, or send the broadcaster's watch token as a Bearer token.\n");
    return NULL;
  }
  if (!whip_type_is(req, "application/sdp")) {
    whip_text(c, 415, "Accept-Post: application/sdp\r\n",
              "The offer must be sent as Content-Type: application/sdp.\n");
    return NULL;
  }
  struct room *room = rooms_find(&app->rooms, name, len);
  if (room == NULL) {
    whip_text(c, 404, NULL, "That room is not live.\n");
  } else if (token_user && room->owner_id != token_user) {
    whip_text(c, 401, "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n",
              "That watch token is for another room.\n");
  } else if (room->media == NULL || !sfu_room_ready(room->media)) {
    cluster_pull_need(app, room); /* a room live on another node: its media comes here */
    whip_text(c, 503, "Retry-After: 2\r\n", "The broadcast has no media yet; retry shortly.\n");
  } else if (room_local_viewers(room) >= app->rooms.max_viewers) {
    whip_text(c, 503, NULL, "This room is full.\n");
  } else {
    return room;
  }
  return NULL;
}

/* POST /whep/<room>: a player's offer; it watches the room. */
static void whep_post(struct conn *c, struct http_req *req, const char *name, size_t len,
                      const struct who *user) {
  struct app *app = c->app;
  const char *who = user ? user->name : "guest"; /* a token's player too */
  struct room *room = whep_room(c, req, name, len, user);
  if (room == NULL)
    return;
  struct whep *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return whip_text(c, 503, NULL, "Out of memory; try again.\n");
  session_id(p->id);
  p->app = app;
  p->room = room;
  p->media.ops = &whep_media_ops;
  char *answer;
  const char *code, *why;
  if (req->body_len == 0 || sfu_offer(room->media, 0, &p->media, (const char *)req->body,
                                      req->body_len, &answer, &code, &why) < 0) {
    char text[256];
    snprintf(text, sizeof(text), "%s.\n", req->body_len ? why : "The request has no SDP offer");
    free(p);
    return whip_text(c, 400, NULL, text);
  }
  if (map_put(&app->wheps, p->id, WHIP_ID_LEN, p) < 0) {
    sfu_drop(room->media, &p->media);
    free(p);
    free(answer);
    return whip_text(c, 503, NULL, "Out of memory; try again.\n");
  }
  p->next = room->wheps;
  if (room->wheps)
    room->wheps->prev = p;
  room->wheps = p;
  room->nwhep++;
  live_count_changed(app, room);
  log_ev(LOG_INFO, "whep session", LOG_S("room", room->name), LOG_S("user", who));
  whep_created(c, p, who, answer);
  free(answer);
}

/* DELETE /whep/<room>/<id>: the player stopped. The session's URL is its
 * capability (128 random bits), as a guest player has no other. */
static void whep_delete(struct conn *c, const char *name, size_t len, const char *id) {
  struct app *app = c->app;
  struct whep *p = whip_id_ok(id) ? map_get(&app->wheps, id, WHIP_ID_LEN) : NULL;
  if (p == NULL || rooms_find(&app->rooms, name, len) != p->room)
    return whip_text(c, 404, NULL, "No such WHEP session (it ended).\n");
  struct room *room = p->room;
  if (room->media)
    sfu_drop(room->media, &p->media);
  whep_forget(p);
  live_count_changed(app, room);
  whip_text(c, 200, NULL, "Stopped watching.\n");
}

void whep_route(struct conn *c, struct http_req *req, const struct who *user) {
  const char *rest = req->path + 6; /* after "/whep/" */
  const char *slash = strchr(rest, '/');
  size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
  const char *methods = slash ? "DELETE, OPTIONS" : "POST, OPTIONS";
  if (req->method == HTTP_OPTIONS)
    return whip_options(c, methods);
  if (!slash && req->method == HTTP_POST)
    return whep_post(c, req, rest, len, user);
  if (slash && req->method == HTTP_DELETE)
    return whep_delete(c, rest, len, slash + 1);
  char allow[64];
  snprintf(allow, sizeof(allow), "Allow: %s\r\n", methods);
  whip_text(c, 405, allow, "Method not allowed here.\n");
}
