/* The unit tests' harness: one libuv loop driven from the test's thread, and
 * raw TCP clients of the servers on it, written independently of src/ (they
 * parse responses and frames themselves, so they check onair rather than
 * agree with it).
 *
 * Waiting is event driven and bounded. A wait runs the loop once
 * (UV_RUN_ONCE, so sockets curl registers from inside a callback are watched
 * too) with a watchdog timer that ends any run after HARNESS_POLL_MS; then
 * every open client reads what has arrived, and the condition is checked
 * again. It gives up after HARNESS_WAIT_MS of loop time. No sleeps: what a
 * client receives was written by a callback of this loop, so running the
 * loop is all a wait needs (a byte still in the kernel is read at the next
 * run, at most HARNESS_POLL_MS later).
 *
 * One loop per test program at a time: harness_init() ... harness_finish(),
 * which may follow each other again. Failures are cmocka failures of the
 * running test. */
#ifndef ONAIR_TEST_HARNESS_H
#define ONAIR_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "http/http.h"

#define HARNESS_POLL_MS 250   /* longest single run of the loop in a wait */
#define HARNESS_WAIT_MS 30000 /* loop time before a wait gives up */
#define HARNESS_MAX_CLIENTS 16
#define HARNESS_CLIENT_BUF (2 * 1024 * 1024) /* bytes a client holds unread */

typedef int (*harness_cond_cb)(void *arg);

/* ---- the loop ------------------------------------------------------------ */

/* Initialises loop and makes it the harness's; ignores SIGPIPE and keeps
 * the log to errors. Returns 0 or a libuv error. */
int harness_init(uv_loop_t *loop);
/* Closes every client still open and the watchdog, runs the loop until no
 * handle is left (at most HARNESS_WAIT_MS: a handle left open makes this
 * fail instead of hang, and is printed) and closes it. Returns
 * uv_loop_close()'s result: 0, or UV_EBUSY when something stayed open. The
 * caller closes its servers first. */
int harness_finish(void);
uv_loop_t *harness_loop(void);

/* http_server_init() and http_server_listen() on 127.0.0.1, a free port.
 * Returns the port, or a negative errno. */
int harness_http_listen(struct http_server *s, http_request_cb on_request, void *app);
/* A port on 127.0.0.1 nothing listens on (bound, then closed). */
int harness_dead_port(void);

/* Runs the loop once without blocking; every client reads what it has. */
void harness_step(void);
/* Runs the loop once, blocking until it has an event or for at most
 * HARNESS_POLL_MS; then every client reads what it has. */
void harness_wait_event(void);
/* Steps, then waits for events until cond(arg) holds. Returns 1, or 0 after
 * HARNESS_WAIT_MS of loop time (the caller decides whether that fails). */
int harness_wait_until(harness_cond_cb cond, void *arg);
/* Runs the loop until nothing is left to do right now (50 steps, never
 * blocking): what the loop had queued has run, timers still due have not. */
void harness_settle(void);

/* ---- clients --------------------------------------------------------------- */

/* A non-blocking TCP client in this thread. The harness owns it: it is in
 * the table of open clients from tclient_open() to tclient_close(). */
struct tclient {
  int fd;
  uint8_t *buf; /* bytes received, not yet taken; HARNESS_CLIENT_BUF */
  size_t len, cap;
  int eof;       /* the server closed (FIN) */
  int reset;     /* the connection was reset */
  char note[32]; /* the test's own (test_live keeps the hello's peer id) */
};

/* Connects to 127.0.0.1:port (a blocking connect, done from the listen
 * backlog before the loop accepts) with TCP_NODELAY, then makes the socket
 * non-blocking. rcvbuf > 0 sets SO_RCVBUF first (bytes). Fails the test if
 * it cannot, or when HARNESS_MAX_CLIENTS are open. */
struct tclient *tclient_open(int port);
struct tclient *tclient_open_rcvbuf(int port, int rcvbuf);
/* Closes the socket (the server sees it at its next read) and frees cl. */
void tclient_close(struct tclient *cl);
/* Closes every client still open (a test's teardown, after a failure). */
void tclient_close_all(void);
/* Sends all of data, running the loop whenever the socket is full so the
 * server reads; fails the test if the server stops reading for
 * HARNESS_WAIT_MS. */
void tclient_send(struct tclient *cl, const void *data, size_t len);
void tclient_send_str(struct tclient *cl, const char *s);
/* A harness_cond_cb: the connection ended (arg is a struct tclient). */
int tclient_ended(void *arg);
/* Waits for the server to close cl: fails unless it ended (FIN or reset)
 * with nothing received and left unread. */
void tclient_expect_closed(struct tclient *cl);

/* ---- HTTP responses ------------------------------------------------------- */

struct tresp {
  int status;
  char head[4096]; /* status line and headers, NUL-terminated */
  char body[8192]; /* NUL-terminated */
  size_t body_len;
};

/* Takes one complete response off the front of cl->buf into r. Returns 0 if
 * it is not all there yet. Its body is Content-Length bytes; a response
 * without one is a 1xx (a 101: what follows is another protocol), anything
 * else fails the test (it could not be delimited on a kept-alive
 * connection). */
int tresp_take(struct tclient *cl, struct tresp *r);
/* Waits for a complete response and takes it; fails the test if none
 * comes. */
void tclient_read_response(struct tclient *cl, struct tresp *r);
/* Whether the head contains this text, case-insensitively (pass
 * "\r\nName: value\r\n" for a whole header line). */
int tresp_has(const struct tresp *r, const char *text);

/* ---- WebSocket, the client's side (RFC 6455) ------------------------------ */

#define HARNESS_WS_KEY "dGhlIHNhbXBsZSBub25jZQ==" /* RFC 6455 section 1.3's example */
#define HARNESS_WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* Writes an upgrade request for /ws (HARNESS_WS_KEY, version 13) with
 * Host: host and the header lines extra ("" or "Name: v\r\n..."). Returns
 * its length; fails the test if cap is too small. */
size_t harness_ws_request(char *out, size_t cap, const char *host, const char *extra);
/* Sends that request on cl and reads the answer into r; returns its
 * status. */
int tclient_ws_upgrade(struct tclient *cl, const char *host, const char *extra, struct tresp *r);

/* Writes one masked client frame into out: b0 is the first byte as sent
 * (FIN, RSV, opcode). Returns its size; cap must be at least len + 14. */
size_t tframe_build(uint8_t *out, size_t cap, uint8_t b0, const void *payload, size_t len);
void tclient_send_frame(struct tclient *cl, uint8_t b0, const void *payload, size_t len);
/* One masked final text frame. */
void tclient_send_text(struct tclient *cl, const char *text);

/* A server frame. */
struct tframe {
  uint8_t b0;
  int opcode;
  uint8_t *payload; /* malloc'd, len + 1 bytes, NUL-terminated; caller frees */
  size_t len;
};

/* Takes one complete frame off the front of cl->buf; returns 0 if it is not
 * all there yet. Fails the test unless the frame is what a server must send:
 * unmasked, final, no RSV bits, the shortest length encoding. */
int tframe_take(struct tclient *cl, struct tframe *f);
/* Waits for the next frame and takes it; fails the test if none comes. */
void tclient_read_frame(struct tclient *cl, struct tframe *f);
/* The code of a close frame; fails the test for another frame or one
 * without a code. */
uint16_t tframe_close_code(const struct tframe *f);

#endif
