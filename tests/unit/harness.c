/* The unit tests' harness (harness.h): the loop, the clients, and their
 * reading of HTTP responses and WebSocket frames. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/log.h"

static uv_loop_t *loop;
static uv_timer_t watchdog; /* ends a blocking run of the loop after HARNESS_POLL_MS */
static struct tclient *clients[HARNESS_MAX_CLIENTS];

/* ---- the loop ------------------------------------------------------------ */

int harness_init(uv_loop_t *l) {
  signal(SIGPIPE, SIG_IGN);
  log_min_level = LOG_ERROR;
  int rc = uv_loop_init(l);
  if (rc != 0)
    return rc;
  loop = l;
  return uv_timer_init(loop, &watchdog);
}

uv_loop_t *harness_loop(void) { return loop; }

int harness_finish(void) {
  tclient_close_all();
  uv_close((uv_handle_t *)&watchdog, NULL);
  /* Like uv_run(UV_RUN_DEFAULT), but bounded. */
  uv_update_time(loop);
  uint64_t deadline = uv_now(loop) + HARNESS_WAIT_MS;
  while (uv_run(loop, UV_RUN_NOWAIT) != 0 && uv_now(loop) < deadline) {
    int t = uv_backend_timeout(loop);
    struct pollfd p = {.fd = uv_backend_fd(loop), .events = POLLIN};
    poll(&p, 1, t < 0 || t > HARNESS_POLL_MS ? HARNESS_POLL_MS : t);
  }
  int rc = uv_loop_close(loop);
  if (rc != 0) {
    fprintf(stderr, "harness: handles still open at the end:\n");
    uv_print_all_handles(loop, stderr);
  }
  loop = NULL;
  return rc;
}

int harness_http_listen(struct http_server *s, http_request_cb on_request, void *app) {
  int rc = http_server_init(s, loop, on_request, app);
  if (rc == 0)
    rc = http_server_listen(s, "127.0.0.1", 0);
  return rc < 0 ? rc : http_server_port(s);
}

int harness_dead_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  socklen_t len = sizeof(sa);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  close(fd);
  return ntohs(sa.sin_port);
}

/* Reads whatever the client socket has now. */
static void tclient_drain(struct tclient *cl) {
  while (!cl->eof && !cl->reset && cl->len < cl->cap) {
    ssize_t n = recv(cl->fd, cl->buf + cl->len, cl->cap - cl->len, 0);
    if (n > 0)
      cl->len += (size_t)n;
    else if (n == 0)
      cl->eof = 1;
    else if (errno == EAGAIN || errno == EWOULDBLOCK)
      return;
    else if (errno == ECONNRESET)
      cl->reset = 1;
    else if (errno != EINTR)
      fail_msg("recv: %s", strerror(errno));
  }
}

static void drain_all(void) {
  for (size_t i = 0; i < HARNESS_MAX_CLIENTS; i++) {
    if (clients[i])
      tclient_drain(clients[i]);
  }
}

void harness_step(void) {
  uv_run(loop, UV_RUN_NOWAIT);
  drain_all();
}

static void on_watchdog(uv_timer_t *t) { (void)t; }

void harness_wait_event(void) {
  uv_timer_start(&watchdog, on_watchdog, HARNESS_POLL_MS, 0);
  uv_run(loop, UV_RUN_ONCE);
  uv_timer_stop(&watchdog);
  drain_all();
}

int harness_wait_until(harness_cond_cb cond, void *arg) {
  uv_update_time(loop);
  uint64_t deadline = uv_now(loop) + HARNESS_WAIT_MS;
  harness_step();
  while (!cond(arg)) {
    if (uv_now(loop) >= deadline)
      return 0;
    harness_wait_event();
  }
  return 1;
}

void harness_settle(void) {
  for (int i = 0; i < 50; i++)
    harness_step();
}

/* ---- clients --------------------------------------------------------------- */

struct tclient *tclient_open_rcvbuf(int port, int rcvbuf) {
  size_t slot;
  for (slot = 0; slot < HARNESS_MAX_CLIENTS && clients[slot]; slot++)
    ;
  assert_true(slot < HARNESS_MAX_CLIENTS);
  struct tclient *cl = calloc(1, sizeof(*cl));
  assert_non_null(cl);
  cl->cap = HARNESS_CLIENT_BUF;
  cl->buf = malloc(cl->cap);
  assert_non_null(cl->buf);
  cl->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(cl->fd >= 0);
  clients[slot] = cl; /* from here on, tclient_close_all() frees it */
  if (rcvbuf > 0)
    setsockopt(cl->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(cl->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  int one = 1;
  setsockopt(cl->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  assert_int_equal(fcntl(cl->fd, F_SETFL, fcntl(cl->fd, F_GETFL) | O_NONBLOCK), 0);
  return cl;
}

struct tclient *tclient_open(int port) {
  return tclient_open_rcvbuf(port, 0);
}

void tclient_close(struct tclient *cl) {
  for (size_t i = 0; i < HARNESS_MAX_CLIENTS; i++) {
    if (clients[i] == cl)
      clients[i] = NULL;
  }
  close(cl->fd);
  free(cl->buf);
  free(cl);
}

void tclient_close_all(void) {
  for (size_t i = 0; i < HARNESS_MAX_CLIENTS; i++) {
    if (clients[i])
      tclient_close(clients[i]);
  }
}

void tclient_send(struct tclient *cl, const void *data, size_t len) {
  const char *p = data;
  uv_update_time(loop);
  uint64_t deadline = uv_now(loop) + HARNESS_WAIT_MS;
  while (len > 0) {
    ssize_t n = send(cl->fd, p, len, MSG_NOSIGNAL);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      fail_msg("send: %s", strerror(errno));
    if (uv_now(loop) >= deadline)
      fail_msg("send: the server has not read for %d ms (%zu bytes left)", HARNESS_WAIT_MS, len);
    harness_wait_event(); /* the socket is full: let the server read */
  }
}

void tclient_send_str(struct tclient *cl, const char *s) { tclient_send(cl, s, strlen(s)); }

int tclient_ended(void *arg) {
  const struct tclient *cl = arg;
  return cl->eof || cl->reset;
}

void tclient_expect_closed(struct tclient *cl) {
  if (!harness_wait_until(tclient_ended, cl))
    fail_msg("the server did not close the connection (%zu bytes unread)", cl->len);
  if (cl->len != 0)
    fail_msg("%zu bytes unread at the close: %.*s", cl->len, (int)(cl->len > 80 ? 80 : cl->len),
             (const char *)cl->buf);
}

/* ---- HTTP responses ------------------------------------------------------- */

/* The size of the complete response at the front of cl->buf (head_len and
 * body_len set), or 0 while it is incomplete. */
static size_t resp_size(const struct tclient *cl, size_t *head_len, size_t *body_len) {
  const uint8_t *end = memmem(cl->buf, cl->len, "\r\n\r\n", 4);
  if (end == NULL)
    return 0;
  size_t hl = (size_t)(end - cl->buf) + 4;
  char head[4096];
  if (hl >= sizeof(head))
    fail_msg("a response head of %zu bytes", hl);
  memcpy(head, cl->buf, hl);
  head[hl] = 0;
  if (strncmp(head, "HTTP/1.1 ", 9) != 0)
    fail_msg("not an HTTP/1.1 response: %.40s", head);
  long status = strtol(head + 9, NULL, 10);
  const char *clh = strcasestr(head, "\r\nContent-Length:");
  size_t bl = 0;
  if (clh)
    bl = (size_t)strtoul(clh + 17, NULL, 10);
  else if (status >= 200)
    fail_msg("a %ld response without Content-Length", status);
  *head_len = hl;
  *body_len = bl;
  return cl->len >= hl + bl ? hl + bl : 0;
}

int tresp_take(struct tclient *cl, struct tresp *r) {
  size_t hl, bl;
  size_t total = resp_size(cl, &hl, &bl);
  if (total == 0)
    return 0;
  if (bl >= sizeof(r->body))
    fail_msg("a response body of %zu bytes", bl);
  memcpy(r->head, cl->buf, hl);
  r->head[hl] = 0;
  r->status = (int)strtol(r->head + 9, NULL, 10);
  memcpy(r->body, cl->buf + hl, bl);
  r->body[bl] = 0;
  r->body_len = bl;
  memmove(cl->buf, cl->buf + total, cl->len - total);
  cl->len -= total;
  return 1;
}

static int have_response(void *arg) {
  struct tclient *cl = arg;
  size_t hl, bl;
  return cl->eof || cl->reset || resp_size(cl, &hl, &bl) > 0;
}

void tclient_read_response(struct tclient *cl, struct tresp *r) {
  harness_wait_until(have_response, cl);
  if (!tresp_take(cl, r))
    fail_msg("no complete response (have %zu bytes, eof %d, reset %d)", cl->len, cl->eof,
             cl->reset);
}

int tresp_has(const struct tresp *r, const char *text) { return strcasestr(r->head, text) != NULL; }

/* ---- WebSocket ------------------------------------------------------------- */

size_t harness_ws_request(char *out, size_t cap, const char *host, const char *extra) {
  int n = snprintf(out, cap,
                   "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: " HARNESS_WS_KEY "\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                   host, extra);
  assert_true(n > 0 && (size_t)n < cap);
  return (size_t)n;
}

int tclient_ws_upgrade(struct tclient *cl, const char *host, const char *extra, struct tresp *r) {
  char req[2048];
  size_t n = harness_ws_request(req, sizeof(req), host, extra);
  tclient_send(cl, req, n);
  tclient_read_response(cl, r);
  return r->status;
}

size_t tframe_build(uint8_t *out, size_t cap, uint8_t b0, const void *payload, size_t len) {
  static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  size_t n = 0;
  assert_true(cap >= len + 14);
  out[n++] = b0;
  if (len < 126) {
    out[n++] = (uint8_t)(0x80 | len);
  } else if (len <= 0xFFFF) {
    out[n++] = 0x80 | 126;
    out[n++] = (uint8_t)(len >> 8);
    out[n++] = (uint8_t)len;
  } else {
    out[n++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--)
      out[n++] = (uint8_t)((uint64_t)len >> (8 * i));
  }
  memcpy(out + n, mask, 4);
  n += 4;
  const uint8_t *p = payload;
  for (size_t i = 0; i < len; i++)
    out[n + i] = p[i] ^ mask[i & 3];
  return n + len;
}

void tclient_send_frame(struct tclient *cl, uint8_t b0, const void *payload, size_t len) {
  uint8_t *f = malloc(len + 14);
  assert_non_null(f);
  size_t n = tframe_build(f, len + 14, b0, payload, len);
  tclient_send(cl, f, n);
  free(f);
}

void tclient_send_text(struct tclient *cl, const char *text) {
  tclient_send_frame(cl, 0x81, text, strlen(text));
}

/* The size of the complete frame at the front of cl->buf (its header's
 * length in *hl_out), or 0 while it is incomplete. */
static size_t frame_size(const struct tclient *cl, size_t *hl_out) {
  if (cl->len < 2)
    return 0;
  const uint8_t *b = cl->buf;
  uint64_t len = b[1] & 0x7F;
  size_t hl = len == 126 ? 4 : len == 127 ? 10 : 2;
  if (cl->len < hl)
    return 0;
  if (hl == 4)
    len = (uint64_t)b[2] << 8 | b[3];
  for (size_t i = 2; hl == 10 && i < 10; i++)
    len = (i == 2 ? 0 : len << 8) | b[i];
  if (cl->len < hl + len)
    return 0;
  *hl_out = hl;
  return hl + (size_t)len;
}

int tframe_take(struct tclient *cl, struct tframe *f) {
  size_t hl;
  size_t total = frame_size(cl, &hl);
  if (total == 0)
    return 0;
  const uint8_t *b = cl->buf;
  assert_int_equal(b[0] & 0xF0, 0x80); /* final, no RSV bits: onair never fragments */
  assert_int_equal(b[1] & 0x80, 0);    /* never masked */
  f->b0 = b[0];
  f->opcode = b[0] & 0x0F;
  f->len = total - hl;
  if (hl == 4) /* the shortest length encoding (RFC 6455 5.2) */
    assert_true(f->len >= 126);
  if (hl == 10)
    assert_true(f->len > 0xFFFF);
  f->payload = malloc(f->len + 1);
  assert_non_null(f->payload);
  memcpy(f->payload, b + hl, f->len);
  f->payload[f->len] = 0;
  memmove(cl->buf, cl->buf + total, cl->len - total);
  cl->len -= total;
  return 1;
}

static int have_frame(void *arg) {
  struct tclient *cl = arg;
  size_t hl;
  return cl->eof || cl->reset || frame_size(cl, &hl) > 0;
}

void tclient_read_frame(struct tclient *cl, struct tframe *f) {
  harness_wait_until(have_frame, cl);
  if (!tframe_take(cl, f))
    fail_msg("no frame (have %zu bytes, eof %d, reset %d)", cl->len, cl->eof, cl->reset);
}

uint16_t tframe_close_code(const struct tframe *f) {
  assert_int_equal(f->opcode, 0x8);
  assert_true(f->len >= 2);
  return (uint16_t)(f->payload[0] << 8 | f->payload[1]);
}
