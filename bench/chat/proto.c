/* The two protocols the client speaks. onair: /ws with the session cookie
 * and Origin, JSON messages with a "type" (docs/protocol.md). The seed:
 * socket.io 2.3 over engine.io v3 WebSocket frames: "0{...}" open, "40"
 * connect, "2"/"3" ping and pong, "42[name,args...]" events
 * (../shared/anchors/seed-signaling/README.md). Hot messages (chat, viewer
 * counts) are recognised by their bytes; rare ones are parsed with jansson. */
#include "cb.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEED_ROOM "room1"
#define BC_NAME "benchcaster"

static int64_t seed_ping_ms = 25000; /* the seed's pingInterval, from its open packet */

static int has_prefix(const char *p, size_t n, const char *pre) {
  size_t l = strlen(pre);
  return n >= l && memcmp(p, pre, l) == 0;
}

/* The digits at p (n bytes, up to 19) as a number; -1 when none. */
static int64_t digits(const char *p, size_t n) {
  int64_t v = 0;
  size_t i;

  for (i = 0; i < n && i < 19 && p[i] >= '0' && p[i] <= '9'; i++)
    v = v * 10 + (p[i] - '0');
  return i ? v : -1;
}

void cb_delivery(struct cb_bench *b, const char *p, size_t n) {
  const char *h = memchr(p, '#', n);
  int64_t sent = h ? digits(h + 1, n - (size_t)(h + 1 - p)) : -1;

  b->got++;
  b->t_last = b->now_ns;
  if (sent < 0 || (uint64_t)sent > b->now_ns) {
    if (b->errors++ < 5)
      cb_log("a delivery without a send time: %.*s", (int)(n < 200 ? n : 200), p);
    return;
  }
  if (b->nlat < b->want)
    b->lat_us[b->nlat++] = (uint32_t)((b->now_ns - (uint64_t)sent) / 1000);
}

/* Frames M messages (each stamped with the time it is made) into one
 * buffer and writes it: the broadcaster sends them all at once. */
int cb_send_burst(struct cb_bench *b) {
  size_t cap = (size_t)b->o.messages * 200, len = 0;
  uint8_t *out = malloc(cap ? cap : 1);
  char text[160];
  uint32_t j;
  int n, rc;

  if (!out)
    return -1;
  for (j = 0; j < b->o.messages; j++) {
    unsigned long long now = uv_hrtime();
    if (b->o.server == CB_ONAIR)
      n = snprintf(text, sizeof(text),
                   "{\"type\":\"chat.send\",\"room\":\"%s\",\"text\":\"#%llu m%u\"}", b->room, now,
                   j);
    else
      n = snprintf(text, sizeof(text), "42[\"message-sent\",\"%s\",\"#%llu m%u\",\"%s\"]",
                   SEED_ROOM, now, j, BC_NAME);
    if (n < 0 || (size_t)n >= sizeof(text))
      break;
    len += cb_ws_frame(out + len, 1, text, (size_t)n);
  }
  rc = cb_conn_write(b->bc, out, len);
  free(out);
  return rc;
}

/* ---- onair -------------------------------------------------------------- */

static int onair_headers(struct cb_conn *c, char *out, size_t cap) {
  struct cb_bench *b = c->b;
  const char *cookie = c->role == ROLE_BROADCASTER ? b->bc_cookie : b->v_cookie;
  int n =
      snprintf(out, cap, "Cookie: %s\r\nOrigin: http://%s:%d\r\n", cookie, b->o.host, b->o.port);

  return n < 0 || (size_t)n >= cap ? -1 : n;
}

static void onair_send(struct cb_conn *c, const char *text) {
  if (cb_ws_text(c, text, strlen(text)) < 0)
    cb_conn_close(c, "could not send");
}

static void onair_open(struct cb_conn *c) {
  struct cb_bench *b = c->b;
  char msg[128];

  if (c->role == ROLE_BROADCASTER) {
    onair_send(c, "{\"type\":\"live.start\",\"title\":\"bench\"}");
    return;
  }
  cb_viewer_opened(c);
  if (b->o.mode == CB_BURST || b->o.join) {
    snprintf(msg, sizeof(msg), "{\"type\":\"room.join\",\"room\":\"%s\"}", b->room);
    onair_send(c, msg);
  }
}

/* The value of "type" in a message, and its length; NULL if none. */
static const char *onair_type(const char *p, size_t n, size_t *tl) {
  static const char key[] = "\"type\":\"";
  const char *k = memmem(p, n, key, sizeof(key) - 1), *v, *e;

  if (!k)
    return NULL;
  v = k + sizeof(key) - 1;
  if (!(e = memchr(v, '"', n - (size_t)(v - p))))
    return NULL;
  *tl = (size_t)(e - v);
  return v;
}

static int type_is(const char *t, size_t tl, const char *want) {
  return tl == strlen(want) && memcmp(t, want, tl) == 0;
}

static void onair_viewers(struct cb_conn *c, const char *p, size_t n) {
  static const char key[] = "\"viewers\":";
  const char *k = memmem(p, n, key, sizeof(key) - 1);
  int64_t v = k ? digits(k + sizeof(key) - 1, n - (size_t)(k + sizeof(key) - 1 - p)) : -1;

  c->b->viewer_frames++;
  if (v < 0)
    return;
  c->viewers_seen = (uint32_t)v;
  if (v >= c->b->o.viewers && !c->settled) {
    c->settled = 1;
    c->b->settled++;
  }
}

static void onair_error(struct cb_conn *c, const char *p, size_t n) {
  struct cb_bench *b = c->b;

  if (c->role == ROLE_BROADCASTER && memmem(p, n, "\"ref\":\"chat.send\"", 17))
    b->refused++;
  if (b->errors++ < 5)
    cb_log("%s got: %.*s", c->role == ROLE_BROADCASTER ? "the broadcaster" : "a viewer",
           (int)(n < 300 ? n : 300), p);
}

static void onair_live(struct cb_conn *c, const char *p, size_t n) {
  json_t *j = json_loadb(p, n, 0, NULL);
  const char *room = j ? json_string_value(json_object_get(j, "room")) : NULL;

  if (room && strlen(room) < sizeof(c->b->room)) {
    snprintf(c->b->room, sizeof(c->b->room), "%s", room);
    c->b->bc_ready = 1;
  } else {
    cb_conn_close(c, "live.started without a room");
  }
  json_decref(j);
}

static void onair_text(struct cb_conn *c, const char *p, size_t n) {
  size_t tl;
  const char *t = onair_type(p, n, &tl);

  if (!t)
    return;
  if (type_is(t, tl, "chat")) {
    if (c->role == ROLE_VIEWER)
      cb_delivery(c->b, p, n);
  } else if (type_is(t, tl, "room.viewers")) {
    if (c->role == ROLE_VIEWER)
      onair_viewers(c, p, n);
  } else if (type_is(t, tl, "room.joined")) {
    if (c->role == ROLE_VIEWER)
      cb_viewer_joined(c->b, c);
  } else if (type_is(t, tl, "error")) {
    onair_error(c, p, n);
  } else if (type_is(t, tl, "live.started") && c->role == ROLE_BROADCASTER) {
    onair_live(c, p, n);
  }
}

static void onair_tick(struct cb_conn *c, int64_t now_ms) {} /* onair pings; we answer */

const struct cb_proto cb_onair = {
    .name = "onair",
    .ws_path = "/ws",
    .headers = onair_headers,
    .on_open = onair_open,
    .on_text = onair_text,
    .on_tick = onair_tick,
};

/* ---- the seed (socket.io 2.3) ------------------------------------------ */

static int seed_headers(struct cb_conn *c, char *out, size_t cap) {
  out[0] = '\0';
  return 0;
}

static void seed_open(struct cb_conn *c) {} /* the server speaks first: "0{...}" */

static void seed_send(struct cb_conn *c, const char *text) {
  if (cb_ws_text(c, text, strlen(text)) < 0)
    cb_conn_close(c, "could not send");
}

/* "0{"sid":...,"pingInterval":25000,...}": when to ping. */
static void seed_handshake(struct cb_conn *c, const char *p, size_t n) {
  json_t *j = json_loadb(p + 1, n - 1, 0, NULL);
  json_int_t ms = j ? json_integer_value(json_object_get(j, "pingInterval")) : 0;

  if (ms >= 1000 && ms <= 3600000)
    seed_ping_ms = ms;
  json_decref(j);
  c->next_ping_ms = (int64_t)uv_now(c->b->loop) + seed_ping_ms;
}

/* "40": connected to the default namespace. */
static void seed_connected(struct cb_conn *c) {
  struct cb_bench *b = c->b;

  if (c->role == ROLE_BROADCASTER) {
    seed_send(c, "42[\"broadcaster\",\"" SEED_ROOM "\",\"" BC_NAME "\"]");
    b->bc_ready = 1;
    return;
  }
  cb_viewer_opened(c);
  if (b->o.mode == CB_BURST || b->o.join) {
    seed_send(c, "42[\"watcher\",\"" SEED_ROOM "\"]");
    c->joined = 1; /* the receipt goes to the broadcaster */
  }
}

static void seed_text(struct cb_conn *c, const char *p, size_t n) {
  if (has_prefix(p, n, "42[\"message-received\"")) {
    if (c->role == ROLE_VIEWER)
      cb_delivery(c->b, p, n);
  } else if (has_prefix(p, n, "42[\"watcher\"")) {
    /* The seed tells the broadcaster about each watcher: the join receipt. */
    if (c->role == ROLE_BROADCASTER)
      cb_viewer_joined(c->b, NULL);
  } else if (n == 2 && has_prefix(p, n, "40")) {
    seed_connected(c);
  } else if (n > 1 && p[0] == '0') {
    seed_handshake(c, p, n);
  } else if (has_prefix(p, n, "44") || has_prefix(p, n, "1")) {
    if (c->b->errors++ < 5)
      cb_log("the seed sent: %.*s", (int)(n < 200 ? n : 200), p);
  }
}

static void seed_tick(struct cb_conn *c, int64_t now_ms) {
  if (c->state != CS_WS || !c->next_ping_ms || now_ms < c->next_ping_ms)
    return;
  c->next_ping_ms = now_ms + seed_ping_ms;
  seed_send(c, "2");
}

const struct cb_proto cb_seed = {
    .name = "seed",
    .ws_path = "/socket.io/?EIO=3&transport=websocket",
    .headers = seed_headers,
    .on_open = seed_open,
    .on_text = seed_text,
    .on_tick = seed_tick,
};
