/* WebSocket connections (RFC 6455) on top of conn: the upgrade handshake,
 * message delivery, shared frames for fan-out, close handshake and keepalive
 * (a ping every interval; a connection silent for the timeout is dropped). */
#ifndef ONAIR_WS_CONN_H
#define ONAIR_WS_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "net/conn.h"

struct ws_handlers {
  /* The upgrade is done (101 sent); runs before any message is delivered. */
  void (*on_open)(struct conn *c);
  /* A whole text message (valid UTF-8, not NUL-terminated). */
  void (*on_message)(struct conn *c, const char *text, size_t len);
  /* The connection closed (either side). Drop every reference to c. */
  void (*on_close)(struct conn *c);
  /* The connection's memory is going: free user. */
  void (*on_free)(void *user);
};

struct ws_config {
  size_t max_message;  /* bytes */
  uint64_t ping_ms;    /* interval between server pings */
  uint64_t timeout_ms; /* silence after which a connection is dropped */
};

struct ws_conn;
struct ws_server;
typedef void (*ws_server_close_cb)(struct ws_server *s);

/* The WebSockets of one loop: their settings and the keepalive timer that
 * pings them all and drops the silent (not on a run that comes late: after
 * a long loop turn what the peers sent meanwhile is still unread). The caller owns the memory and keeps
 * it until the close callback; connections belong to their HTTP listeners,
 * which close them. */
struct ws_server {
  struct ws_config cfg;
  uv_timer_t keepalive;
  struct ws_conn *conns; /* every open WebSocket */
  uint64_t last_sweep;   /* uv_now() of the keepalive's last run */
  size_t nconns;
  int closing;
  ws_server_close_cb close_cb;
};

int ws_server_init(struct ws_server *s, uv_loop_t *loop, const struct ws_config *cfg);
/* Stops the keepalive; close_cb (may be NULL) runs when the timer is closed.
 * Close the connections first (their listeners do). */
void ws_server_close(struct ws_server *s, ws_server_close_cb close_cb);

/* Validates the handshake of req (GET, Upgrade: websocket, Connection:
 * upgrade, version 13, a valid key). On success switches c to WebSocket
 * under s, writes the 101 answer, stores user (retrieved with ws_user()) and
 * returns 0. Otherwise returns the HTTP status to answer with; c is
 * unchanged. */
int ws_upgrade(struct ws_server *s, struct conn *c, struct http_req *req,
               const struct ws_handlers *h, void *user);

void *ws_user(struct conn *c);

/* A text frame ready to be written to any number of connections (one
 * reference, the caller's); packed beside the frames made before it
 * (sbuf_new_packed()), so make frames for one connection otherwise
 * (ws_send_text()). */
struct sbuf *ws_frame_text(const char *text, size_t len);
/* Frames and sends one text message. */
int ws_send_text(struct conn *c, const char *text, size_t len);
/* Sends a close frame with code and reason, then closes. */
void ws_close(struct conn *c, uint16_t code, const char *reason);

#endif
