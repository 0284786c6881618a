#include "ws/ws_conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/log.h"
#include "ws/ws_frame.h"

struct ws_conn {
  struct ws_parser parser;
  const struct ws_handlers *handlers;
  void *user;
  uint64_t last_rx; /* uv_now() ms of the last byte received */
  struct conn *conn;
  struct ws_server *srv;
  struct ws_conn *prev, *next; /* the server's open WebSockets, for keepalive */
  int close_sent;
};

static void ws_list_remove(struct ws_conn *w) {
  w->srv->nconns--;
  if (w->prev)
    w->prev->next = w->next;
  else if (w->srv->conns == w)
    w->srv->conns = w->next;
  if (w->next)
    w->next->prev = w->prev;
  w->prev = w->next = NULL;
}

/* One frame; packed (sbuf_new_packed()) when it is to go to many. */
static struct sbuf *ws_frame_make(enum ws_opcode op, const uint8_t *payload, size_t len,
                                  int packed) {
  uint8_t hdr[10];
  size_t hl = ws_frame_header(hdr, op, len);
  struct sbuf *b = packed ? sbuf_new_packed(hl + len) : sbuf_new(hl + len);
  if (b == NULL)
    return NULL;
  memcpy(b->data, hdr, hl);
  if (len)
    memcpy(b->data + hl, payload, len);
  return b;
}

static struct sbuf *ws_frame_control(enum ws_opcode op, const uint8_t *payload, size_t len) {
  return ws_frame_make(op, payload, len, 0);
}

/* Text frames side by side: a burst of chat to a room leaves each
 * connection as one piece. */
struct sbuf *ws_frame_text(const char *text, size_t len) {
  return ws_frame_make(WS_OP_TEXT, (const uint8_t *)text, len, 1);
}

/* A frame for one connection has memory of its own: the many such frames
 * of a wave of joins (hello, room.joined) then leave no blocks half used
 * among the connections' own allocations. */
int ws_send_text(struct conn *c, const char *text, size_t len) {
  struct sbuf *b = ws_frame_make(WS_OP_TEXT, (const uint8_t *)text, len, 0);
  if (b == NULL)
    return -ENOMEM;
  int rc = conn_write(c, b);
  sbuf_unref(b);
  return rc;
}

static void ws_send_control(struct conn *c, enum ws_opcode op, const uint8_t *p, size_t len) {
  struct sbuf *b = ws_frame_control(op, p, len);
  if (b == NULL)
    return;
  conn_write(c, b);
  sbuf_unref(b);
}

void ws_close(struct conn *c, uint16_t code, const char *reason) {
  struct ws_conn *w = c->proto;
  if (c->closing)
    return;
  if (!w->close_sent) {
    uint8_t payload[125];
    size_t n = ws_close_payload(payload, code, reason);
    ws_send_control(c, WS_OP_CLOSE, payload, n);
    w->close_sent = 1;
  }
  conn_close_after_flush(c);
}

static void ws_on_event(struct conn *c, struct ws_conn *w, const struct ws_event *ev) {
  switch (ev->kind) {
  case WS_EV_TEXT: w->handlers->on_message(c, (const char *)ev->payload, ev->len); break;
  case WS_EV_BINARY: ws_close(c, WS_CLOSE_UNSUPPORTED, "binary messages are not accepted"); break;
  case WS_EV_PING: ws_send_control(c, WS_OP_PONG, ev->payload, ev->len); break;
  case WS_EV_PONG: break;
  case WS_EV_CLOSE:
    /* Echo the code (RFC 6455 5.5.1), then close. */
    ws_close(c, ev->close_code == 1005 ? WS_CLOSE_NORMAL : ev->close_code, "");
    break;
  }
}

static void ws_on_data(struct conn *c, const uint8_t *data, size_t len) {
  struct ws_conn *w = c->proto;
  w->last_rx = uv_now(c->tcp.loop);
  while (len > 0 && !c->closing && !c->close_after_flush) {
    size_t used = 0;
    struct ws_event ev;
    int rc = ws_parser_feed(&w->parser, data, len, &used, &ev);
    data += used;
    len -= used;
    if (rc == WS_AGAIN)
      break;
    if (rc < 0) {
      log_ev(LOG_DEBUG, "websocket error", LOG_U("conn", c->id),
             LOG_S("error", ev.error ? ev.error : "?"));
      ws_close(c, ev.close_code, ev.error ? ev.error : "protocol error");
      break;
    }
    ws_on_event(c, w, &ev);
  }
  /* What was read is handled: an idle connection keeps no message buffer. */
  if (c->proto == w)
    ws_parser_trim(&w->parser);
}

static void ws_on_close(struct conn *c) {
  struct ws_conn *w = c->proto;
  ws_list_remove(w);
  if (w->handlers->on_close)
    w->handlers->on_close(c);
}

static void ws_on_free(struct conn *c) {
  struct ws_conn *w = c->proto;
  if (w->handlers->on_free)
    w->handlers->on_free(w->user);
  ws_parser_free(&w->parser);
  free(w);
  c->proto = NULL;
}

static const struct conn_ops ws_ops = {
    .on_data = ws_on_data,
    .on_close = ws_on_close,
    .on_free = ws_on_free,
};

void *ws_user(struct conn *c) {
  struct ws_conn *w = c->proto;
  return c->ops == &ws_ops ? w->user : NULL;
}

/* Does the comma-separated header value contain token (case-insensitive)? */
static int header_has_token(const char *v, size_t len, const char *token) {
  size_t tl = strlen(token);
  size_t i = 0;
  while (i < len) {
    while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
      i++;
    size_t start = i;
    while (i < len && v[i] != ',')
      i++;
    size_t end = i;
    while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
      end--;
    if (end - start == tl && strncasecmp(v + start, token, tl) == 0)
      return 1;
  }
  return 0;
}

int ws_upgrade(struct ws_server *s, struct conn *c, struct http_req *req,
               const struct ws_handlers *h, void *user) {
  size_t len, klen;
  const char *v;
  if (req->method != 1 /* HTTP_GET */)
    return 405;
  v = http_req_header(req, "upgrade", &len);
  if (v == NULL || !header_has_token(v, len, "websocket"))
    return 426;
  v = http_req_header(req, "connection", &len);
  if (v == NULL || !header_has_token(v, len, "upgrade"))
    return 400;
  v = http_req_header(req, "sec-websocket-version", &len);
  if (v == NULL || len != 2 || memcmp(v, "13", 2) != 0)
    return 426;
  const char *key = http_req_header(req, "sec-websocket-key", &klen);
  char accept[29];
  if (key == NULL || ws_accept_key(key, klen, accept) < 0)
    return 400;

  struct ws_conn *w = calloc(1, sizeof(*w));
  if (w == NULL)
    return 503;
  uint8_t *rest;
  size_t rest_len;
  if (http_upgrade_take(c, &rest, &rest_len) < 0) {
    free(w);
    return 503;
  }
  ws_parser_init(&w->parser, s->cfg.max_message);
  w->handlers = h;
  w->user = user;
  w->conn = c;
  w->srv = s;
  w->last_rx = uv_now(c->tcp.loop);
  w->next = s->conns;
  if (s->conns)
    s->conns->prev = w;
  s->conns = w;
  s->nconns++;
  c->proto = w;
  c->ops = &ws_ops;

  char resp[256];
  int n = snprintf(resp, sizeof(resp),
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                   accept);
  conn_write_copy(c, resp, (size_t)n);
  if (h->on_open)
    h->on_open(c);
  if (rest_len && !c->closing)
    ws_on_data(c, rest, rest_len);
  free(rest);
  conn_read_start(c);
  return 0;
}

static void ws_on_keepalive(uv_timer_t *t) {
  struct ws_server *s = t->data;
  uint64_t now = uv_now(t->loop);
  /* A run more than two intervals after the last one follows a stall of the
   * loop (one long turn): the peers' bytes of that time wait unread behind
   * this timer, so silence is judged at the next run. */
  int judge = now - s->last_sweep <= 2 * s->cfg.ping_ms;
  static const uint8_t ping_payload[] = "onair";
  struct sbuf *ping = ws_frame_control(WS_OP_PING, ping_payload, sizeof(ping_payload) - 1);
  struct ws_conn *w = s->conns;
  while (w) {
    struct ws_conn *next = w->next; /* conn_close() unlinks w */
    if (judge && now - w->last_rx > s->cfg.timeout_ms) {
      log_ev(LOG_INFO, "websocket silent: closing", LOG_U("conn", w->conn->id),
             LOG_U("silent_ms", now - w->last_rx));
      conn_close(w->conn);
    } else if (ping && !w->conn->close_after_flush) {
      conn_write(w->conn, ping);
    }
    w = next;
  }
  if (ping)
    sbuf_unref(ping);
  s->last_sweep = now;
}

int ws_server_init(struct ws_server *s, uv_loop_t *loop, const struct ws_config *cfg) {
  memset(s, 0, sizeof(*s));
  s->cfg = *cfg;
  uv_timer_init(loop, &s->keepalive);
  s->keepalive.data = s;
  s->last_sweep = uv_now(loop);
  uv_unref((uv_handle_t *)&s->keepalive);
  return uv_timer_start(&s->keepalive, ws_on_keepalive, cfg->ping_ms, cfg->ping_ms);
}

static void ws_server_on_closed(uv_handle_t *h) {
  struct ws_server *s = h->data;
  if (s->close_cb)
    s->close_cb(s);
}

void ws_server_close(struct ws_server *s, ws_server_close_cb close_cb) {
  if (s->closing)
    return;
  s->closing = 1;
  s->close_cb = close_cb;
  uv_timer_stop(&s->keepalive);
  uv_close((uv_handle_t *)&s->keepalive, ws_server_on_closed);
}
