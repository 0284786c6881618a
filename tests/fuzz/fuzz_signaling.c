/* libFuzzer target for the signaling message dispatch (src/app/live.c):
 * JSON messages through its handler table from WebSocket clients of
 * several signed-in users (several tabs each), with rooms going live,
 * being watched and ending, chat, media offers to a real SFU
 * (sfu_fixture.h), connections dropping or closed by the server (sign-out,
 * a disabled user, a restart), the admin's calls, and loop turns where the
 * coalesced room lists and viewer counts go out.
 *
 * live.c is included (as h2o's tests include a .c) with the WebSocket
 * layer under it replaced by a fake one, by macros that apply to live.c
 * only: ws_upgrade stores the handlers and calls on_open, as the real one
 * does; what live.c writes (ws_send_text, conn_write) is decoded here as
 * the browser would read it; ws_close marks the connection closing, which
 * takes effect at the next loop turn. A connection only ever gets a whole,
 * valid UTF-8 text message, as ws_conn.c guarantees. Everything else is
 * onair's own: the room registry, chat rules and rate limits, an in-memory
 * SQLite database (new for each input), TURN credentials, the media plane.
 *
 * Anonymous clients never reach this table: the /ws route refuses an
 * upgrade without a session (route_admit in web.c), so every client here
 * is a signed-in one; what varies is the user, the session, and the
 * connection's state (open, closing after the server closed it, gone).
 *
 * The input is a profile byte and a script (README.md, "fuzz_signaling
 * input format"). An independent model of docs/protocol.md predicts, for
 * every message, the one reply its sender gets (its type or error code and
 * ref) and every message each other connection gets, field by field
 * (identities from the session, never from the message; room names as the
 * broadcaster spells them; viewer counts; chat history; rate limits), and
 * after every step live.c's state must agree with the model: who
 * broadcasts, who watches what, who is subscribed to the room list. No
 * message may reach a connection after it closed. At the end every
 * connection closes and nothing may be left: no room, no client, no media
 * peer. Any broken check traps. */
#include "sfu_fixture.h"

#include <jansson.h>
#include <stdio.h>
#include <strings.h>

#include "app/app.h"
#include "app/chat.h"
#include "app/config.h"
#include "app/rooms.h"
#include "auth/session.h"
#include "auth/turn.h"
#include "net/conn.h"
#include "store/db.h"
#include "util/container_of.h"
#include "util/log.h"
#include "util/map.h"
#include "ws/utf8.h"
#include "ws/ws_conn.h"
#include "ws/ws_frame.h"

#define SG_CONNS 6    /* connection slots */
#define SG_USERS 3    /* signed-in users */
#define SG_SESSIONS 4 /* session tokens */
#define SG_GOT_MAX 64 /* messages one connection may get in one step */
#define SG_MAX_VIEWERS 2
#define SG_TEXT_MAX 600 /* bytes of a text the input gives */

/* ---- the WebSocket layer, faked ---- */

struct sg_conn {
  struct conn c; /* what live.c holds */
  unsigned slot;
  const struct ws_handlers *h;
  void *user;  /* ws_user() */
  int closing; /* ws_close() was called: nothing comes in; it closes at the next turn */
  int gone;    /* on_close ran: nothing may be written to it */
};

static struct {
  struct sg_conn *conn[SG_CONNS]; /* NULL: a free slot */
  json_t *got[SG_CONNS];          /* what each slot got in this step, as read */
  json_t *want[SG_CONNS];         /* what the model says it gets */
  int refuse_upgrade;
} sgw;

static struct sg_conn *sg_of(struct conn *c) { return container_of(c, struct sg_conn, c); }

/* A frame onair wrote to a connection: one unmasked, final text frame of a
 * JSON object with a string type, or a close frame. */
static void sg_read_frame(struct sg_conn *sc, const uint8_t *f, size_t len) {
  size_t hl = 2, n;
  json_t *j;
  json_error_t err;

  FUZZ_CHECK(!sc->gone && len >= 2 && (f[1] & 0x80) == 0);
  n = f[1] & 0x7F;
  if (n == 126) {
    FUZZ_CHECK(len >= 4);
    n = (size_t)f[2] << 8 | f[3];
    hl = 4;
  } else if (n == 127) {
    FUZZ_CHECK(len >= 10 && f[2] == 0 && f[3] == 0 && f[4] == 0 && f[5] == 0);
    n = (size_t)f[6] << 24 | (size_t)f[7] << 16 | (size_t)f[8] << 8 | f[9];
    hl = 10;
  }
  FUZZ_CHECK(hl + n == len);
  if (f[0] == 0x88) {
    FUZZ_CHECK(n >= 2);
    json_array_append_new(sgw.got[sc->slot], json_pack("{s:i}", "close", f[2] << 8 | f[3]));
    return;
  }
  FUZZ_CHECK(f[0] == 0x81 && utf8_valid(f + hl, n, NULL) == 0);
  j = json_loadb((const char *)f + hl, n, JSON_REJECT_DUPLICATES, &err);
  FUZZ_CHECK(json_is_object(j) && json_is_string(json_object_get(j, "type")));
  FUZZ_CHECK(json_array_size(sgw.got[sc->slot]) < SG_GOT_MAX);
  json_array_append_new(sgw.got[sc->slot], j);
}

static int sg_conn_write(struct conn *c, struct sbuf *b) {
  sg_read_frame(sg_of(c), b->data, b->len);
  return 0;
}

static int sg_ws_send_text(struct conn *c, const char *text, size_t len) {
  struct sbuf *b = ws_frame_text(text, len);

  FUZZ_CHECK(b != NULL);
  sg_conn_write(c, b);
  sbuf_unref(b);
  return 0;
}

static void sg_ws_close(struct conn *c, uint16_t code, const char *reason) {
  struct sg_conn *sc = sg_of(c);

  FUZZ_CHECK(!sc->gone && reason != NULL && strlen(reason) <= 123);
  if (sc->closing)
    return;
  sc->closing = 1;
  json_array_append_new(sgw.got[sc->slot], json_pack("{s:i}", "close", code));
}

static int sg_ws_upgrade(struct ws_server *s, struct conn *c, struct http_req *req,
                         const struct ws_handlers *h, void *user) {
  struct sg_conn *sc = sg_of(c);

  (void)s;
  (void)req;
  if (sgw.refuse_upgrade)
    return 400; /* a bad handshake */
  sc->h = h;
  sc->user = user;
  if (h->on_open)
    h->on_open(c);
  return 0;
}

static void *sg_ws_user(struct conn *c) { return sg_of(c)->user; }

#define ws_upgrade sg_ws_upgrade
#define ws_user sg_ws_user
#define ws_send_text sg_ws_send_text
#define ws_close sg_ws_close
#define conn_write sg_conn_write
#include "app/live.c"
#include "fuzz_input.h"
#undef ws_upgrade
#undef ws_user
#undef ws_send_text
#undef ws_close
#undef conn_write

/* ---- the model ---- */

enum sg_role { SG_NONE, SG_BROADCASTER, SG_VIEWER };

static const struct {
  int64_t id;
  const char *name;
} sg_users[SG_USERS] = {{1, "alice"}, {2, "Bob"}, {3, "carol_9"}};

static const char *const sg_tokens[SG_SESSIONS] = {
    "AAAAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBBBB", "CCCCCCCCCCCCCCCCCCCCCC",
    "DDDDDDDDDDDDDDDDDDDDDD"};

static struct {
  struct app app;
  struct config cfg;
  struct db *db;
  int h264;
  uint64_t next_conn_id;
  int64_t last_chat_id;
  int rooms_dirty; /* the room list changed since it was last sent */
  struct {
    unsigned user, session;
    enum sg_role role;
    unsigned room; /* the user whose room it broadcasts or watches */
    int watching;
    int closing; /* the server closed it; it goes at the next turn */
  } m[SG_CONNS];
  struct {
    int live;
    unsigned bc; /* its broadcaster's slot */
    char title[ROOM_TITLE_MAX * 4 + 1];
    int counted;  /* its viewer count changed since the last room.viewers */
    int ready;    /* the broadcaster's media reached the SFU */
    json_t *hist; /* chat in the room of this name, in this input, as sent */
  } room[SG_USERS];
  struct chat_bucket bucket[SG_USERS]; /* the model's own, by the documented rule */
} sg;

static int sg_open(unsigned s) { return sgw.conn[s] != NULL; }

static const char *sg_name(unsigned u) { return sg_users[u].name; }

static void sg_peer_id(unsigned s, char out[24]) {
  snprintf(out, 24, "p%" PRIu64, sgw.conn[s]->c.id);
}

static void sg_want(unsigned s, json_t *j) {
  FUZZ_CHECK(j != NULL);
  json_array_append_new(sgw.want[s], j);
}

/* The live room a name names (case-insensitively), or -1. */
static int sg_room_by_name(const char *name, size_t len) {
  for (unsigned u = 0; u < SG_USERS; u++)
    if (sg.room[u].live && strlen(sg_name(u)) == len && strncasecmp(name, sg_name(u), len) == 0)
      return (int)u;
  return -1;
}

static unsigned sg_viewers(unsigned u) {
  unsigned n = 0;

  for (unsigned s = 0; s < SG_CONNS; s++)
    n += sg_open(s) && sg.m[s].role == SG_VIEWER && sg.m[s].room == u;
  return n;
}

/* Everyone in room u: its broadcaster and viewers. */
static int sg_member(unsigned s, unsigned u) {
  return sg_open(s) && sg.m[s].role != SG_NONE && sg.m[s].room == u;
}

static json_t *sg_room_json(unsigned u) {
  return json_pack("{s:s, s:s, s:s, s:I, s:n, s:s}", "name", sg_name(u), "title", sg.room[u].title,
                   "broadcaster", sg_name(u), "viewers", (json_int_t)sg_viewers(u), "since",
                   "state", "live");
}

static json_t *sg_rooms_json(void) {
  json_t *list = json_array();

  for (unsigned u = 0; u < SG_USERS; u++)
    if (sg.room[u].live)
      json_array_append_new(list, sg_room_json(u));
  return list;
}

static void sg_want_error(unsigned s, const char *code, const char *ref) {
  sg_want(s,
          json_pack("{s:s, s:s, s:n, s:s}", "type", "error", "code", code, "message", "ref", ref));
}

/* A viewer leaves its room: its broadcaster hears it. */
static void sg_leave(unsigned s) {
  unsigned u = sg.m[s].room;
  char peer[24];

  if (sg.m[s].role != SG_VIEWER)
    return;
  sg_peer_id(s, peer);
  sg.m[s].role = SG_NONE;
  sg.room[u].counted = 1;
  sg.rooms_dirty = 1;
  sg_want(sg.room[u].bc,
          json_pack("{s:s, s:s, s:s}", "type", "viewer.left", "room", sg_name(u), "peer", peer));
}

/* Room u ends: viewers hear room.ended, the broadcaster live.ended (unless
 * its connection is what went). */
static void sg_end(unsigned u, const char *reason, int tell_bc) {
  unsigned bc = sg.room[u].bc;

  for (unsigned s = 0; s < SG_CONNS; s++) {
    if (!sg_open(s) || sg.m[s].role != SG_VIEWER || sg.m[s].room != u)
      continue;
    sg_want(s, json_pack("{s:s, s:s}", "type", "room.ended", "room", sg_name(u)));
    sg.m[s].role = SG_NONE;
  }
  if (tell_bc)
    sg_want(bc, json_pack("{s:s, s:s, s:s}", "type", "live.ended", "room", sg_name(u), "reason",
                          reason));
  sg.m[bc].role = SG_NONE;
  sg.room[u].live = sg.room[u].counted = sg.room[u].ready = 0;
  sg.rooms_dirty = 1;
}

/* ---- comparing what came with what the model says ---- */

static int sg_match(json_t *got, json_t *want);

/* Arrays of rooms (and names) come in no particular order. */
static int sg_match_set(json_t *got, json_t *want) {
  uint64_t used = 0;
  size_t i, k;

  if (!json_is_array(got) || json_array_size(got) != json_array_size(want))
    return 0;
  for (i = 0; i < json_array_size(want); i++) {
    for (k = 0; k < json_array_size(got); k++)
      if (!(used >> k & 1) && sg_match(json_array_get(got, k), json_array_get(want, i)))
        break;
    if (k == json_array_size(got))
      return 0;
    used |= 1ull << k;
  }
  return 1;
}

/* got is want, where a null in want stands for any value. */
static int sg_match(json_t *got, json_t *want) {
  const char *key;
  json_t *w;

  if (json_is_null(want))
    return got != NULL;
  if (json_is_object(want)) {
    if (!json_is_object(got) || json_object_size(got) != json_object_size(want))
      return 0;
    json_object_foreach(want, key, w) {
      json_t *g = json_object_get(got, key);

      if (strcmp(key, "rooms") == 0 || strcmp(key, "viewer_names") == 0 ? !sg_match_set(g, w)
                                                                        : !sg_match(g, w))
        return 0;
    }
    return 1;
  }
  if (json_is_array(want)) {
    if (!json_is_array(got) || json_array_size(got) != json_array_size(want))
      return 0;
    for (size_t i = 0; i < json_array_size(want); i++)
      if (!sg_match(json_array_get(got, i), json_array_get(want, i)))
        return 0;
    return 1;
  }
  return json_equal(got, want);
}

/* After each step: every connection got what the model says, in order. */
static void sg_verify(void) {
  for (unsigned s = 0; s < SG_CONNS; s++) {
    if (!sg_match(sgw.got[s], sgw.want[s])) {
      char *g = json_dumps(sgw.got[s], JSON_COMPACT), *w = json_dumps(sgw.want[s], JSON_COMPACT);

      fprintf(stderr, "slot %u got  %s\nslot %u want %s\n", s, g, s, w);
      free(g);
      free(w);
      __builtin_trap();
    }
    json_array_clear(sgw.got[s]);
    json_array_clear(sgw.want[s]);
  }
}

/* live.c's state is the model's: registry, clients, subscriptions. */
static void sg_check_state(void) {
  size_t rooms = 0, conns = 0;

  for (unsigned u = 0; u < SG_USERS; u++) {
    struct room *r = rooms_find(&sg.app.rooms, sg_name(u), strlen(sg_name(u)));

    FUZZ_CHECK((r != NULL) == sg.room[u].live);
    if (r == NULL)
      continue;
    rooms++;
    FUZZ_CHECK(strcmp(r->name, sg_name(u)) == 0 && r->owner_id == sg_users[u].id);
    FUZZ_CHECK(r->nviewers == sg_viewers(u) && strcmp(r->title, sg.room[u].title) == 0);
    FUZZ_CHECK(r->broadcaster == sgw.conn[sg.room[u].bc]->user && r->media != NULL);
    FUZZ_CHECK(sfu_room_ready(r->media) == sg.room[u].ready);
  }
  FUZZ_CHECK(rooms_count(&sg.app.rooms) == rooms);
  for (unsigned s = 0; s < SG_CONNS; s++) {
    const struct client *cl;

    if (!sg_open(s))
      continue;
    conns++;
    cl = sgw.conn[s]->user;
    FUZZ_CHECK(cl->user_id == sg_users[sg.m[s].user].id && cl->watching == sg.m[s].watching);
    FUZZ_CHECK(sgw.conn[s]->closing == sg.m[s].closing && !cl->closed);
    FUZZ_CHECK(cl->broadcaster == (sg.m[s].role == SG_BROADCASTER));
    FUZZ_CHECK(sg.m[s].role == SG_NONE
                   ? cl->room == NULL
                   : cl->room != NULL && strcmp(cl->room->name, sg_name(sg.m[s].room)) == 0);
  }
  FUZZ_CHECK(sg.app.peers.count == conns);
}

/* ---- messages in ---- */

/* A string member of msg (NULL: missing or not a string). */
static const char *sg_str(json_t *msg, const char *key, size_t *len) {
  json_t *v = json_object_get(msg, key);

  if (!json_is_string(v))
    return NULL;
  *len = json_string_length(v);
  return json_string_value(v);
}

/* live.start's title in *title (NULL: none, or blank); returns the error code
 * when it is refused, else NULL. */
static const char *sg_title(json_t *msg, const char **title) {
  size_t len = 0;
  int rc;

  *title = sg_str(msg, "title", &len);
  if (json_object_get(msg, "title") && *title == NULL)
    return "bad_message";
  rc = *title && len ? chat_text_check(*title, len, ROOM_TITLE_MAX) : -ENODATA;
  if (rc == -EINVAL || (rc == 0 && memchr(*title, '\n', len)))
    return "bad_message";
  if (rc == -E2BIG)
    return "too_long";
  if (rc < 0)
    *title = NULL;
  return NULL;
}

/* live.started to slot s, broadcaster of its user's room. */
static void sg_want_started(unsigned s) {
  unsigned u = sg.m[s].user;
  sg_want(s, json_pack("{s:s, s:s, s:s, s:n, s:I, s:b, s:O, s:s}", "type", "live.started", "room",
                       sg_name(u), "title", sg.room[u].title, "since", "viewers",
                       (json_int_t)sg_viewers(u), "resumed", 0, "history", sg.room[u].hist,
                       "source", "browser"));
}

static void sg_live_start(unsigned s, json_t *msg) {
  unsigned u = sg.m[s].user;
  const char *title, *code = sg_title(msg, &title);

  if (code) {
    sg_want_error(s, code, "live.start");
    return;
  }
  if (sg.m[s].role == SG_BROADCASTER) {
    if (title && strcmp(title, sg.room[u].title) != 0) {
      snprintf(sg.room[u].title, sizeof(sg.room[u].title), "%s", title);
      sg.rooms_dirty = 1;
    }
  } else {
    sg_leave(s);
    if (sg.room[u].live)
      sg_end(u, "replaced", 1); /* the same user live in another tab */
    sg.room[u].live = 1;
    sg.room[u].bc = s;
    sg.room[u].counted = sg.room[u].ready = 0;
    snprintf(sg.room[u].title, sizeof(sg.room[u].title), "%s", title ? title : "");
    sg.m[s].role = SG_BROADCASTER;
    sg.m[s].room = u;
    sg.rooms_dirty = 1;
  }
  sg_want_started(s);
}

/* live.resume: with no grace period (the fuzz configuration) no room ever
 * waits for its broadcaster, so only a live one answers. */
static void sg_live_resume(unsigned s) {
  if (sg.m[s].role == SG_BROADCASTER)
    sg_want_started(s);
  else
    sg_want_error(s, "no_such_room", "live.resume");
}

static void sg_room_join(unsigned s, json_t *msg) {
  size_t len = 0;
  const char *name = sg_str(msg, "room", &len);
  int u = name ? sg_room_by_name(name, len) : -1;
  char peer[24], bc_peer[24];

  if (name == NULL || sg.m[s].role == SG_BROADCASTER || u < 0 ||
      (sg.m[s].role == SG_VIEWER && sg.m[s].room == (unsigned)u)) {
    sg_want_error(s,
                  name == NULL                               ? "bad_message"
                  : sg.m[s].role == SG_BROADCASTER || u >= 0 ? "already_in_room"
                                                             : "no_such_room",
                  "room.join");
    return;
  }
  sg_leave(s);
  if (sg_viewers((unsigned)u) >= SG_MAX_VIEWERS) {
    sg_want_error(s, "room_full", "room.join");
    return;
  }
  sg.m[s].role = SG_VIEWER;
  sg.m[s].room = (unsigned)u;
  sg.room[u].counted = 1;
  sg.rooms_dirty = 1;
  sg_peer_id(s, peer);
  sg_peer_id(sg.room[u].bc, bc_peer);
  sg_want(s, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:O}", "type", "room.joined",
                       "room", sg_name((unsigned)u), "title", sg.room[u].title, "broadcaster",
                       sg_name((unsigned)u), "state", "live", "broadcaster_peer", bc_peer,
                       "viewers", (json_int_t)sg_viewers((unsigned)u), "media_ready",
                       sg.room[u].ready, "history", sg.room[u].hist));
  sg_want(sg.room[u].bc,
          json_pack("{s:s, s:s, s:s, s:s}", "type", "viewer.joined", "room", sg_name((unsigned)u),
                    "peer", peer, "user", sg_name(sg.m[s].user)));
}

/* chat.send, up to the rate limit: the error code, or NULL to go on. */
static const char *sg_chat_check(unsigned s, json_t *msg, int *room) {
  size_t rlen = 0, tlen = 0;
  const char *name = sg_str(msg, "room", &rlen), *text = sg_str(msg, "text", &tlen);
  int rc;

  if (name == NULL || text == NULL)
    return "bad_message";
  if ((*room = sg_room_by_name(name, rlen)) < 0)
    return "no_such_room";
  if (!sg_member(s, (unsigned)*room))
    return "not_in_room";
  rc = chat_text_check(text, tlen, CHAT_MAX_CHARS);
  if (rc == -E2BIG)
    return "too_long";
  if (rc == -EINVAL)
    return "bad_message";
  if (rc < 0)
    return "empty";
  if (chat_bucket_take(&sg.bucket[sg.m[s].user], sg.cfg.chat_burst, sg.cfg.chat_per_sec,
                       fx.loop.time) < 0)
    return "rate_limited";
  return NULL;
}

static void sg_chat_send(unsigned s, json_t *msg) {
  int u = -1;
  const char *code = sg_chat_check(s, msg, &u);
  size_t len;
  const char *text = sg_str(msg, "text", &len);

  if (code) {
    sg_want_error(s, code, "chat.send");
    return;
  }
  for (unsigned k = 0; k < SG_CONNS; k++)
    if (sg_member(k, (unsigned)u))
      sg_want(k, json_pack("{s:s, s:s, s:n, s:s, s:s, s:n}", "type", "chat", "room",
                           sg_name((unsigned)u), "id", "user", sg_name(sg.m[s].user), "text", text,
                           "ts"));
}

/* What onair said to a chat the model let through: ids only grow; the
 * room's history gets it. */
static void sg_chat_sent(unsigned s) {
  json_t *chat = json_array_get(sgw.got[s], 0), *h;
  json_int_t id = json_integer_value(json_object_get(chat, "id"));

  FUZZ_CHECK(json_is_integer(json_object_get(chat, "id")) &&
             json_is_integer(json_object_get(chat, "ts")) && id > sg.last_chat_id);
  sg.last_chat_id = id;
  json_t *room = json_object_get(chat, "room");
  int u = sg_room_by_name(json_string_value(room), json_string_length(room));

  FUZZ_CHECK(u >= 0);
  h = json_deep_copy(chat);
  json_object_del(h, "type");
  json_array_append_new(sg.room[u].hist, h);
  if (json_array_size(sg.room[u].hist) > CHAT_HISTORY)
    json_array_remove(sg.room[u].hist, 0);
}

static void sg_live_end(unsigned s) {
  if (sg.m[s].role == SG_BROADCASTER)
    sg_end(sg.m[s].room, "ended", 1);
  else
    sg_want_error(s, "not_broadcaster", "live.end");
}

static void sg_room_leave(unsigned s) {
  unsigned u = sg.m[s].room;

  if (sg.m[s].role != SG_VIEWER) {
    sg_want_error(s, "not_in_room", "room.leave");
    return;
  }
  sg_leave(s);
  sg_want(s, json_pack("{s:s, s:s}", "type", "room.left", "room", sg_name(u)));
}

static void sg_rooms_watch(unsigned s) {
  sg.m[s].watching = 1;
  sg_want(s, json_pack("{s:s, s:o}", "type", "rooms", "rooms", sg_rooms_json()));
}

/* The client's media peer in the SFU, if it has one. */
static struct sfu_peer *sg_peer(unsigned s) {
  struct client *cl = sgw.conn[s]->user;

  if (cl->room == NULL || cl->room->media == NULL)
    return NULL;
  return room_find(cl->room->media, &cl->media);
}

/* media.offer's reply, which depends on the SDP: an answer, or an error
 * that leaves the client's media as it was (bad_sdp, not_ready) or
 * without a peer (no_codec). */
static void sg_offer_after(unsigned s, int had_peer) {
  json_t *r = json_array_get(sgw.got[s], 0);
  const char *type = json_string_value(json_object_get(r, "type"));
  const char *code = json_string_value(json_object_get(r, "code"));
  struct sfu_peer *p = sg_peer(s);
  unsigned u = sg.m[s].room;
  int viewer = sg.m[s].role == SG_VIEWER;

  FUZZ_CHECK(type != NULL);
  if (strcmp(type, "media.answer") == 0) {
    static struct sdp answer;
    const char *sdp = json_string_value(json_object_get(r, "sdp")), *why;

    FUZZ_CHECK(sdp && json_object_size(r) == 2 && p != NULL && p->state == PEER_NEW);
    FUZZ_CHECK(sdp_parse(sdp, strlen(sdp), &answer, &why) == 0 && answer.ice_lite);
    FUZZ_CHECK(!viewer || sg.room[u].ready);
    if (!viewer)
      sg.room[u].ready = 0; /* a new publisher peer: not connected yet */
  } else {
    FUZZ_CHECK(strcmp(type, "error") == 0 && code != NULL);
    FUZZ_CHECK(strcmp(json_string_value(json_object_get(r, "ref")), "media.offer") == 0);
    FUZZ_CHECK(strcmp(code, "bad_sdp") == 0 || strcmp(code, "no_codec") == 0 ||
               strcmp(code, "not_ready") == 0);
    FUZZ_CHECK(strcmp(code, "not_ready") != 0 || (viewer && !sg.room[u].ready));
    FUZZ_CHECK(!viewer || sg.room[u].ready || strcmp(code, "no_codec") != 0);
    if (strcmp(code, "no_codec") == 0) {
      FUZZ_CHECK(p == NULL);
      if (!viewer)
        sg.room[u].ready = 0;
    } else {
      FUZZ_CHECK((p != NULL) == had_peer);
    }
  }
  json_array_remove(sgw.got[s], 0);
}

enum sg_after { SG_AFTER_NONE, SG_AFTER_CHAT, SG_AFTER_OFFER };

/* What the model says of one message from slot s; what to look at after
 * live.c had it. */
static enum sg_after sg_expect(unsigned s, json_t *msg) {
  size_t len;
  const char *type = json_is_object(msg) ? sg_str(msg, "type", &len) : NULL;

  if (!json_is_object(msg))
    sg_want_error(s, "bad_json", "");
  else if (type == NULL)
    sg_want_error(s, "bad_message", "");
  else if (strcmp(type, "rooms.watch") == 0)
    sg_rooms_watch(s);
  else if (strcmp(type, "live.start") == 0)
    sg_live_start(s, msg);
  else if (strcmp(type, "live.resume") == 0)
    sg_live_resume(s);
  else if (strcmp(type, "ping") == 0)
    sg_want(s, json_pack("{s:s}", "type", "pong"));
  else if (strcmp(type, "live.end") == 0)
    sg_live_end(s);
  else if (strcmp(type, "room.join") == 0)
    sg_room_join(s, msg);
  else if (strcmp(type, "room.leave") == 0)
    sg_room_leave(s);
  else if (strcmp(type, "chat.send") == 0) {
    sg_chat_send(s, msg);
    return json_array_size(sgw.want[s]) && strcmp(json_string_value(json_object_get(
                                                      json_array_get(sgw.want[s], 0), "type")),
                                                  "chat") == 0
               ? SG_AFTER_CHAT
               : SG_AFTER_NONE;
  } else if (strcmp(type, "media.offer") == 0) {
    if (sg_str(msg, "sdp", &len) == NULL)
      sg_want_error(s, "bad_message", "media.offer");
    else if (sg.m[s].role == SG_NONE)
      sg_want_error(s, "not_in_room", "media.offer");
    else
      return SG_AFTER_OFFER;
  } else
    sg_want_error(s, "unknown_type", type);
  return SG_AFTER_NONE;
}

/* One whole text message (valid UTF-8, as ws_conn.c delivers) from slot s. */
static void sg_message(unsigned s, const char *text, size_t len) {
  json_error_t err;
  json_t *msg;
  enum sg_after after;
  int had_peer;

  if (!sg_open(s) || sgw.conn[s]->closing || utf8_valid((const uint8_t *)text, len, NULL) < 0)
    return;
  msg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
  had_peer = sg_peer(s) != NULL;
  after = sg_expect(s, msg);
  sgw.conn[s]->h->on_message(&sgw.conn[s]->c, text, len);
  if (after == SG_AFTER_CHAT)
    sg_chat_sent(s);
  else if (after == SG_AFTER_OFFER)
    sg_offer_after(s, had_peer);
  json_decref(msg);
}

/* ---- connections ---- */

/* The hello every connection gets first; TURN credentials for its user. */
static void sg_want_hello(unsigned s) {
  char peer[24];

  sg_peer_id(s, peer);
  sg_want(s, json_pack("{s:s, s:s, s:s, s:[{s:[s, s], s:n, s:n}], s:i}", "type", "hello", "user",
                       sg_name(sg.m[s].user), "peer", peer, "ice_servers", "urls",
                       "turn:turn.example.org:3478", "turns:turn.example.org:5349", "username",
                       "credential", "reconnect_grace_ms", 0));
}

static void sg_check_hello(unsigned s) {
  json_t *server = json_array_get(json_object_get(json_array_get(sgw.got[s], 0), "ice_servers"), 0);
  const char *user = json_string_value(json_object_get(server, "username"));
  const char *colon = user ? strchr(user, ':') : NULL;

  FUZZ_CHECK(colon && strcmp(colon + 1, sg_name(sg.m[s].user)) == 0);
  FUZZ_CHECK(strspn(user, "0123456789") == (size_t)(colon - user) && colon > user);
  FUZZ_CHECK(json_string_length(json_object_get(server, "credential")) == 28);
}

static void sg_op_open(struct fuzz_in *in, unsigned s) {
  uint8_t a = fuzz_byte(in);
  struct http_req req;
  struct sg_conn *sc;
  unsigned u = (a & 3) % SG_USERS;
  int rc;

  if (sg_open(s))
    return;
  sc = calloc(1, sizeof(*sc));
  FUZZ_CHECK(sc != NULL);
  sc->slot = s;
  sc->c.id = ++sg.next_conn_id;
  sc->c.app = &sg.app;
  memset(&req, 0, sizeof(req));
  snprintf(req.client_ip, sizeof(req.client_ip), "198.51.100.%u", s);
  sgw.conn[s] = sc;
  sgw.refuse_upgrade = a >> 7;
  sg.m[s].user = u;
  sg.m[s].session = (a >> 2) & 3;
  sg.m[s].role = SG_NONE;
  sg.m[s].watching = sg.m[s].closing = 0;
  rc = live_accept(&sg.app, &sc->c, &req, sg_users[u].id, sg_name(u), sg_tokens[sg.m[s].session]);
  if (sgw.refuse_upgrade) {
    FUZZ_CHECK(rc == 400);
    free(sc);
    sgw.conn[s] = NULL;
    return;
  }
  FUZZ_CHECK(rc == 0);
  sg_want_hello(s);
  sg_check_hello(s);
}

/* The connection is gone (the browser left, or the server's close took
 * effect): live.c's on_close, then the memory goes. */
static void sg_op_drop(unsigned s) {
  struct sg_conn *sc = sgw.conn[s];

  if (sc == NULL)
    return;
  if (sg.m[s].role == SG_BROADCASTER)
    sg_end(sg.m[s].room, "disconnected", 0);
  else
    sg_leave(s);
  sg.m[s].watching = 0;
  sc->h->on_close(&sc->c);
  sc->gone = 1;
  sc->h->on_free(sc->user);
  free(sc);
  sgw.conn[s] = NULL;
}

/* A turn of the loop: the coalescing timers fire, closing connections
 * close, closed media peers are told. */
static void sg_op_turn(void) {
  FUZZ_CHECK(uv_is_active((uv_handle_t *)&sg.app.rooms_timer) == sg.rooms_dirty);
  if (sg.rooms_dirty) {
    uv_timer_stop(&sg.app.rooms_timer);
    for (unsigned s = 0; s < SG_CONNS; s++)
      if (sg_open(s) && sg.m[s].watching)
        sg_want(s, json_pack("{s:s, s:o}", "type", "rooms", "rooms", sg_rooms_json()));
    rooms_publish(&sg.app.rooms_timer);
    sg.rooms_dirty = 0;
  }
  if (uv_is_active((uv_handle_t *)&sg.app.viewers_timer)) {
    uv_timer_stop(&sg.app.viewers_timer);
    for (unsigned u = 0; u < SG_USERS; u++) {
      for (unsigned s = 0; sg.room[u].counted && s < SG_CONNS; s++)
        if (sg_member(s, u))
          sg_want(s, json_pack("{s:s, s:s, s:I}", "type", "room.viewers", "room", sg_name(u),
                               "viewers", (json_int_t)sg_viewers(u)));
      sg.room[u].counted = 0;
    }
    viewers_publish(&sg.app.viewers_timer);
  }
  for (unsigned u = 0; u < SG_USERS; u++)
    FUZZ_CHECK(!sg.room[u].counted);
  for (unsigned s = 0; s < SG_CONNS; s++)
    if (sg_open(s) && sg.m[s].closing)
      sg_op_drop(s);
  on_reap(&fx.sfu->reaper);
}

/* The client's browser completes ICE and DTLS with the SFU: a publisher's
 * room is ready, and its viewers are told. */
static void sg_op_media_connect(unsigned s) {
  struct sfu_peer *p = sg_open(s) ? sg_peer(s) : NULL;
  struct dtls_srtp_keys browser;
  unsigned u = sg.m[s].room;

  if (p == NULL || p->state != PEER_NEW)
    return;
  fx_check_peer(p, s % FX_NADDR, 1, 0, s);
  FUZZ_CHECK(p->state == PEER_CHECKED && fx_connect_peer(p, s, s % FX_NADDR, 0, &browser) == 0);
  if (!p->publisher)
    return;
  sg.room[u].ready = 1;
  for (unsigned k = 0; k < SG_CONNS; k++)
    if (sg_open(k) && sg.m[k].role == SG_VIEWER && sg.m[k].room == u)
      sg_want(k, json_pack("{s:s, s:s}", "type", "media.ready", "room", sg_name(u)));
}

/* No browser keeps consent (RFC 7675) for 31 s: every media peer closes,
 * and its client is told. */
static void sg_op_consent(void) {
  for (unsigned s = 0; s < SG_CONNS; s++)
    if (sg_open(s) && sg_peer(s) != NULL)
      sg_want(s, json_pack("{s:s, s:n}", "type", "media.closed", "reason"));
  fx_advance(31000);
  for (unsigned s = 0; s < SG_CONNS; s++)
    FUZZ_CHECK(!sg_open(s) || sg_peer(s) == NULL);
  for (unsigned u = 0; u < SG_USERS; u++)
    sg.room[u].ready = 0;
}

/* The server closes connections (sign-out, a disabled user, a restart). */
static void sg_want_close(unsigned s, int code) {
  if (sg.m[s].closing)
    return;
  sg.m[s].closing = 1;
  sg_want(s, json_pack("{s:i}", "close", code));
}

/* The room lists /api/rooms and the admin page show. */
static void sg_check_lists(void) {
  json_error_t err;
  char *text = live_rooms_json(&sg.app);
  json_t *got = json_loads(text, 0, &err), *want, *rooms;

  want = json_pack("{s:s, s:o}", "type", "rooms", "rooms", sg_rooms_json());
  FUZZ_CHECK(sg_match(got, want));
  json_decref(got);
  json_decref(want);
  free(text);
  rooms = sg_rooms_json();
  for (size_t i = 0, u = 0; i < json_array_size(rooms); i++, u++) {
    json_t *names = json_array();

    while (!sg.room[u].live)
      u++;
    for (unsigned s = 0; s < SG_CONNS; s++)
      if (sg_open(s) && sg.m[s].role == SG_VIEWER && sg.m[s].room == u)
        json_array_append_new(names, json_string(sg_name(sg.m[s].user)));
    json_object_set_new(json_array_get(rooms, i), "viewer_names", names);
  }
  want = json_pack("{s:o}", "rooms", rooms);
  text = live_admin_rooms_json(&sg.app);
  got = json_loads(text, 0, &err);
  FUZZ_CHECK(sg_match(got, want));
  json_decref(got);
  json_decref(want);
  free(text);
}

/* The admin's and main's calls into live.c. */
static void sg_op_admin(uint8_t a) {
  unsigned u = (a >> 3) % SG_USERS;
  char name[32];

  snprintf(name, sizeof(name), "%s", sg_name(u));
  if (a & 128) /* rooms are found whatever the case */
    for (char *c = name; *c; c++)
      *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
  switch ((a & 7) % 6) {
  case 0: {
    int live = sg.room[u].live;

    if (live)
      sg_end(u, "admin", 1);
    FUZZ_CHECK(live_admin_end_room(&sg.app, name) == (live ? 0 : -ENOENT));
    break;
  }
  case 1:
    for (unsigned s = 0; s < SG_CONNS; s++)
      if (sg_open(s) && sg.m[s].user == u)
        sg_want_close(s, WS_CLOSE_POLICY);
    live_close_user(&sg.app, sg_users[u].id, "account disabled");
    break;
  case 2:
    for (unsigned s = 0; s < SG_CONNS; s++)
      if (sg_open(s) && sg.m[s].session == (a >> 3) % SG_SESSIONS)
        sg_want_close(s, WS_CLOSE_POLICY);
    live_close_session(&sg.app, sg_tokens[(a >> 3) % SG_SESSIONS]);
    break;
  case 3:
    for (unsigned s = 0; s < SG_CONNS; s++) {
      if (!sg_open(s))
        continue;
      sg_want(s, json_pack("{s:s}", "type", "server.restarting"));
      sg_want_close(s, WS_CLOSE_RESTART);
    }
    live_notify_restart(&sg.app);
    break;
  case 4:
    for (unsigned k = 0; k < SG_USERS; k++)
      if (sg.room[k].live)
        sg_end(k, "shutdown", 1);
    live_end_all(&sg.app);
    break;
  default: sg_check_lists(); break;
  }
}

/* ---- messages from the input ---- */

/* A string of the input's bytes (a length byte, then the bytes); bytes
 * that would not be UTF-8 are folded to ASCII. */
static json_t *sg_text(struct fuzz_in *in) {
  static char buf[SG_TEXT_MAX + 1];
  size_t n = fuzz_byte(in) * 3u % (SG_TEXT_MAX + 1);

  n = n < in->n ? n : in->n;
  memcpy(buf, in->d, n);
  in->d += n;
  in->n -= n;
  if (utf8_valid((const uint8_t *)buf, n, NULL) < 0)
    for (size_t i = 0; i < n; i++)
      buf[i] = (char)(buf[i] & 0x7F);
  for (size_t i = 0; i < n; i++)
    if (buf[i] == 0)
      buf[i] = ' '; /* JSON strings here carry no NUL */
  return json_stringn(buf, n);
}

/* A room name, as clients might send one: a user's name, in another
 * case, none, a bad one, not a string, or the input's. NULL: missing. */
static json_t *sg_room_name(struct fuzz_in *in) {
  static const char *const names[] = {"alice",   "Bob",    "carol_9", "ALICE",  "bob",
                                      "Carol_9", "nobody", "",        "alice!", "alice "};
  uint8_t b = fuzz_byte(in) % 16;

  if (b < sizeof(names) / sizeof(names[0]))
    return json_string(names[b]);
  switch (b) {
  case 10: return json_string("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"); /* 33: too long for a name */
  case 11: return json_integer(42);
  case 12: return json_null();
  case 13: return NULL;
  default: return sg_text(in);
  }
}

static json_t *sg_pack_room(const char *type, json_t *room) {
  json_t *j = json_pack("{s:s}", "type", type);

  if (room)
    json_object_set_new(j, "room", room);
  return j;
}

/* A message from one of the forms of docs/protocol.md, its variable parts
 * from the input. */
static json_t *sg_template(struct fuzz_in *in) {
  uint8_t t = fuzz_byte(in);
  json_t *j;

  switch (t % 18) {
  case 0: return json_pack("{s:s}", "type", "rooms.watch");
  case 1: return json_pack("{s:s}", "type", "live.start");
  case 2: return json_pack("{s:s, s:o}", "type", "live.start", "title", sg_text(in));
  case 3: return json_pack("{s:s}", "type", "live.end");
  case 4: return sg_pack_room("room.join", sg_room_name(in));
  case 5: return json_pack("{s:s}", "type", "room.leave");
  case 6:
    j = sg_pack_room("chat.send", sg_room_name(in));
    json_object_set_new(j, "text", sg_text(in));
    return j;
  case 7: return json_pack("{s:s, s:s}", "type", "media.offer", "sdp", fx_publisher_sdp(sg.h264));
  case 8: return json_pack("{s:s, s:s}", "type", "media.offer", "sdp", fx_viewer_sdp(t >> 7));
  case 9: return json_pack("{s:s, s:o}", "type", "media.offer", "sdp", sg_text(in));
  case 10: return json_pack("{s:o}", "type", sg_text(in));
  case 11: return json_pack("{s:[s]}", "type", "live.start");
  case 12: return json_pack("{s:s, s:i}", "type", "live.start", "title", 7);
  case 13: return sg_pack_room("chat.send", sg_room_name(in));
  case 14: return json_pack("[s]", "rooms.watch");
  case 15: return json_pack("{s:s}", "type", "room.join");
  case 16: /* who and when are the server's, whatever the message says */
    j = sg_pack_room("chat.send", sg_room_name(in));
    json_object_set_new(j, "text", sg_text(in));
    json_object_set_new(j, "user", json_string("mallory"));
    json_object_set_new(j, "ts", json_integer(1));
    return j;
  default:
    return json_pack("{s:s, s:o, s:s, s:s}", "type", "live.start", "title", sg_text(in), "room",
                     "mallory", "user", "mallory");
  }
}

static void sg_op_template(struct fuzz_in *in, unsigned s) {
  json_t *j = sg_template(in);
  char *text;

  FUZZ_CHECK(j != NULL);
  text = json_dumps(j, JSON_COMPACT);
  FUZZ_CHECK(text != NULL);
  sg_message(s, text, strlen(text));
  free(text);
  json_decref(j);
}

/* The input's bytes as one message: a 2-byte length, then the text. */
static void sg_op_raw(struct fuzz_in *in, unsigned s) {
  size_t hi = fuzz_byte(in), n = hi << 8 | fuzz_byte(in);

  n = n < in->n ? n : in->n;
  sg_message(s, (const char *)in->d, n);
  in->d += n;
  in->n -= n;
}

/* ---- the input ---- */

enum sg_op {
  SG_OP_OPEN,
  SG_OP_RAW,
  SG_OP_TEMPLATE,
  SG_OP_DROP,
  SG_OP_TURN,
  SG_OP_MEDIA,
  SG_OP_CONSENT,
  SG_OP_ADMIN,
  SG_OP_WAIT,
  SG_OPS
};

static void sg_step(struct fuzz_in *in, uint8_t op) {
  unsigned s = (op >> 4) % SG_CONNS;

  switch (op % 16 < SG_OPS ? op % 16 : SG_OP_TEMPLATE) {
  case SG_OP_OPEN: sg_op_open(in, s); break;
  case SG_OP_RAW: sg_op_raw(in, s); break;
  case SG_OP_TEMPLATE: sg_op_template(in, s); break;
  case SG_OP_DROP: sg_op_drop(s); break;
  case SG_OP_TURN: sg_op_turn(); break;
  case SG_OP_MEDIA: sg_op_media_connect(s); break;
  case SG_OP_CONSENT: sg_op_consent(); break;
  case SG_OP_ADMIN: sg_op_admin(fuzz_byte(in)); break;
  default: fx.loop.time += (uint64_t)fuzz_byte(in) * 100; break;
  }
  sg_verify();
  sg_check_state();
}

static void sg_begin(uint8_t flags) {
  fx_reset();
  sg.h264 = flags & 1;
  sg.next_conn_id = 0;
  sg.last_chat_id = 0;
  sg.rooms_dirty = 0;
  memset(sg.m, 0, sizeof(sg.m));
  memset(sg.bucket, 0, sizeof(sg.bucket));
  for (unsigned u = 0; u < SG_USERS; u++) {
    sg.room[u].live = sg.room[u].counted = sg.room[u].ready = 0;
    json_array_clear(sg.room[u].hist);
  }
  FUZZ_CHECK(db_open(&sg.db, ":memory:") == 0);
  sg.app.db = sg.db;
}

/* Every connection goes; nothing of the input may stay. */
static void sg_finish(void) {
  size_t slot;

  for (unsigned s = 0; s < SG_CONNS; s++)
    sg_op_drop(s);
  sg_op_turn();
  sg_verify();
  FUZZ_CHECK(rooms_count(&sg.app.rooms) == 0 && sg.app.peers.count == 0);
  FUZZ_CHECK(sg.app.ws_by_ip.count == 0);
  FUZZ_CHECK(sg.app.watchers == NULL && sg.app.rooms.changed == NULL);
  FUZZ_CHECK(fx.sfu->rooms == NULL && fx.sfu->closed == NULL && fx.sfu->stats.peers == 0);
  FUZZ_CHECK(fx.sfu->by_ufrag.count == 0 && fx.sfu->by_addr.count == 0);
  uv_timer_stop(&sg.app.viewers_timer);
  for (struct map_entry *e = map_first(&sg.app.users, &slot); e;
       e = map_next(&sg.app.users, e, &slot))
    free(e->value);
  map_free(&sg.app.users);
  FUZZ_CHECK(map_init(&sg.app.users) == 0);
  db_close(sg.db);
  sg.db = sg.app.db = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fx_init();
  config_defaults(&sg.cfg);
  sg.cfg.reconnect_grace_ms = 0; /* a dropped broadcaster's room ends at once, as modelled */
  sg.cfg.max_viewers = SG_MAX_VIEWERS;
  sg.cfg.chat_burst = 5;
  sg.cfg.chat_per_sec = 1;
  snprintf(sg.cfg.turn_url, sizeof(sg.cfg.turn_url), "%s",
           "turn:turn.example.org:3478, turns:turn.example.org:5349");
  snprintf(sg.cfg.turn_secret, sizeof(sg.cfg.turn_secret), "%s", "fuzz-turn-secret");
  sg.app.loop = &fx.loop;
  sg.app.cfg = &sg.cfg;
  sg.app.sfu = fx.sfu;
  FUZZ_CHECK(rooms_init(&sg.app.rooms, SG_MAX_VIEWERS) == 0);
  FUZZ_CHECK(map_init(&sg.app.peers) == 0 && map_init(&sg.app.users) == 0);
  FUZZ_CHECK(map_init(&sg.app.ws_by_ip) == 0);
  FUZZ_CHECK(uv_timer_init(&fx.loop, &sg.app.rooms_timer) == 0);
  FUZZ_CHECK(uv_timer_init(&fx.loop, &sg.app.viewers_timer) == 0);
  sg.app.rooms_timer.data = sg.app.viewers_timer.data = &sg.app;
  for (unsigned s = 0; s < SG_CONNS; s++) {
    sgw.got[s] = json_array();
    sgw.want[s] = json_array();
  }
  for (unsigned u = 0; u < SG_USERS; u++)
    sg.room[u].hist = json_array();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fuzz_in in = {data, size};

  sg_begin(fuzz_byte(&in));
  while (in.n > 0)
    sg_step(&in, fuzz_byte(&in));
  sg_finish();
  return 0;
}
