/* Tests for src/ws/ws_conn.c over a real libuv loop and real TCP sockets on
 * 127.0.0.1: an http_server whose request callback calls ws_upgrade() under
 * the test's ws_server with the handlers below; each client is the
 * harness's raw socket speaking RFC 6455 by hand (masked frames out,
 * unmasked frames in).
 *
 * Covered: the 101 answer and its Sec-WebSocket-Accept; every refusal of
 * ws_upgrade() (405, 426, 400) with the connection left to HTTP; messages,
 * fragments and bytes that came in the same write as the upgrade; ping/pong;
 * the close handshake from either side; binary frames (1003) and protocol
 * errors (the parser's code); ws_send_text and one shared frame written to
 * two connections; frames of one loop turn leaving in one write per
 * connection (CONN_OUTQ at most), in order; a connection whose queued bytes
 * pass its cap dropped without hurting the others; keepalive (a silent
 * client is dropped after the timeout, clients that keep sending stay, and a
 * client that spoke during a stall of the loop longer than the timeout
 * stays).
 *
 * Waiting is the harness's (harness.h): event driven and bounded, no
 * sleeps. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>
#include <http_parser.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <uv.h>

#include "harness.h"
#include "http/http.h"
#include "net/conn.h"
#include "ws/ws_conn.h"
#include "ws/ws_frame.h"

#define MAX_RECS 64
#define MAX_MSGS 16
#define MAX_MESSAGE (64 * 1024) /* ws_config.max_message for these tests */

/* ---- server side ------------------------------------------------------ */

/* What the handlers saw of one WebSocket connection (the `user` pointer
 * given to ws_upgrade). Records are never freed during a test, so a test
 * can look at them after the connection is gone. */
struct wsrec {
  struct conn *conn;    /* valid until on_free */
  uint64_t upgraded_ms; /* uv_now() at the upgrade */
  int nmsg;
  char *msgs[MAX_MSGS]; /* NUL-terminated copies */
  size_t msg_len[MAX_MSGS];
  int nclose, nfree;
  int close_seq, free_seq; /* order of the callbacks (srv.seq) */
  uint64_t closed_ms;      /* uv_now() at on_close */
  int send_after_close_rc; /* ws_send_text() after ws_close() in on_message */
};

static struct {
  uv_loop_t loop;
  struct http_server http;
  struct ws_server ws;
  int ws_closed; /* the ws_server's close callback ran (keepalive_reset) */
  int port;
  int seq;
  int nrec;
  struct wsrec recs[MAX_RECS];
  int nhttp;              /* plain HTTP requests answered */
  int last_status;        /* what ws_upgrade() returned last */
  int user_seen_http;     /* ws_user() on the HTTP conn was not NULL */
  int user_after_refusal; /* ws_user() after a refused upgrade was not NULL */
} srv;

static struct wsrec *rec_of(struct conn *c) {
  struct wsrec *r = ws_user(c);
  assert_non_null(r);
  assert_ptr_equal(r->conn, c);
  return r;
}

static void on_ws_message(struct conn *c, const char *text, size_t len) {
  struct wsrec *r = rec_of(c);
  assert_int_equal(r->nclose, 0); /* nothing after on_close */
  if (r->nmsg < MAX_MSGS) {
    char *copy = malloc(len + 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    copy[len] = 0;
    r->msgs[r->nmsg] = copy;
    r->msg_len[r->nmsg] = len;
  }
  r->nmsg++;
  /* A few commands let the tests drive the server side. */
  if (len > 6 && memcmp(text, "reply:", 6) == 0) {
    assert_int_equal(ws_send_text(c, text + 6, len - 6), 0);
  } else if (len == 10 && memcmp(text, "close:", 6) == 0) {
    uint16_t code = 0; /* text is not NUL-terminated: four digits by hand */
    for (size_t i = 6; i < 10; i++)
      code = (uint16_t)(code * 10 + (text[i] - '0'));
    ws_close(c, code, "done here");
    r->send_after_close_rc = ws_send_text(c, "late", 4);
  }
}

static void on_ws_close(struct conn *c) {
  struct wsrec *r = rec_of(c);
  r->nclose++;
  r->close_seq = ++srv.seq;
  r->closed_ms = uv_now(&srv.loop);
}

static void on_ws_free(void *user) {
  struct wsrec *r = user;
  r->nfree++;
  r->free_seq = ++srv.seq;
  r->conn = NULL;
}

static const struct ws_handlers handlers = {
    .on_message = on_ws_message,
    .on_close = on_ws_close,
    .on_free = on_ws_free,
};

static void on_request(struct conn *c, struct http_req *req) {
  if (strcmp(req->path, "/ws") != 0) {
    srv.nhttp++;
    http_respond(c, 200, "text/plain", NULL, "plain", 5);
    return;
  }
  if (ws_user(c) != NULL)
    srv.user_seen_http = 1;
  assert_true(srv.nrec < MAX_RECS);
  struct wsrec *r = &srv.recs[srv.nrec];
  memset(r, 0, sizeof(*r));
  r->conn = c;
  r->upgraded_ms = uv_now(&srv.loop);
  srv.nrec++; /* before ws_upgrade: bytes that came with the request are
                 delivered inside it */
  int status = ws_upgrade(&srv.ws, c, req, &handlers, r);
  srv.last_status = status;
  if (status == 0)
    return;
  srv.nrec--;
  if (ws_user(c) != NULL)
    srv.user_after_refusal = 1;
  /* The connection is still HTTP's: answer it. */
  http_respond(c, status, "text/plain", NULL, "refused", 7);
}

static const struct ws_config long_keepalive = {
    .max_message = MAX_MESSAGE, .ping_ms = 600000, .timeout_ms = 1200000};

static int group_setup(void **state) {
  (void)state;
  if (harness_init(&srv.loop) != 0 || ws_server_init(&srv.ws, &srv.loop, &long_keepalive) != 0)
    return -1;
  srv.port = harness_http_listen(&srv.http, on_request, &srv);
  return srv.port > 0 ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  http_server_close(&srv.http, NULL); /* closes the WebSockets too */
  ws_server_close(&srv.ws, NULL);
  return harness_finish() == 0 ? 0 : -1;
}

/* ---- the client's side -------------------------------------------------- */

/* Sec-WebSocket-Accept computed here, independently of ws_frame.c. */
static void accept_for(const char *key, char out[29]) {
  char in[128];
  int n = snprintf(in, sizeof(in), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
  uint8_t md[SHA_DIGEST_LENGTH];
  SHA1((const uint8_t *)in, (size_t)n, md);
  assert_int_equal(EVP_EncodeBlock((uint8_t *)out, md, sizeof(md)), 28);
}

/* Opens a client, upgrades it on /ws and returns it; *rec is the server's
 * record of the connection. */
static struct tclient *ws_open_rcvbuf(struct wsrec **rec, int rcvbuf) {
  struct tclient *cl = tclient_open_rcvbuf(srv.port, rcvbuf);
  int before = srv.nrec;
  struct tresp r;
  assert_int_equal(tclient_ws_upgrade(cl, "x", "", &r), 101);
  assert_int_equal(srv.nrec, before + 1);
  if (rec)
    *rec = &srv.recs[before];
  return cl;
}

static struct tclient *ws_open(struct wsrec **rec) { return ws_open_rcvbuf(rec, 0); }

static int cond_nmsg(void *arg) {
  struct wsrec *r = arg;
  return r->nmsg > 0;
}

static int cond_freed(void *arg) {
  struct wsrec *r = arg;
  return r->nfree > 0;
}

/* The server's callbacks ran once each, on_close first. */
static void expect_callbacks_done(struct wsrec *r) {
  harness_wait_until(cond_freed, r);
  assert_int_equal(r->nclose, 1);
  assert_int_equal(r->nfree, 1);
  assert_true(r->close_seq < r->free_seq);
}

/* ---- fixtures ------------------------------------------------------------ */

static int setup(void **state) {
  (void)state;
  srv.nrec = 0;
  srv.nhttp = 0;
  srv.last_status = -1;
  srv.user_seen_http = 0;
  srv.user_after_refusal = 0;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tclient_close_all();
  harness_settle();
  for (int i = 0; i < MAX_RECS; i++) {
    for (int m = 0; m < MAX_MSGS; m++) {
      free(srv.recs[i].msgs[m]);
      srv.recs[i].msgs[m] = NULL;
    }
  }
  return 0;
}

/* ---- tests ----------------------------------------------------------------
 */

static void test_handshake_101(void **state) {
  (void)state;
  static const struct {
    const char *what;
    const char *key;
    const char *headers; /* besides Host and the key */
  } cases[] = {
      {"RFC example key", HARNESS_WS_KEY,
       "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: "
       "13\r\n"},
      {"another key", "AQIDBAUGBwgJCgsMDQ4PEA==",
       "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: "
       "13\r\n"},
      {"tokens in lists and any case", "x3JJHMbDL1EzLkh9GBhXDw==",
       "Upgrade: WebSocket\r\nConnection: keep-alive, "
       "Upgrade\r\nSec-WebSocket-Version: 13\r\n"},
      {"lower case names", "+/+/+/+/+/+/+/+/+/+/+w==",
       "upgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-version: "
       "13\r\n"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char req[512], want[29], line[64];
    snprintf(req, sizeof(req), "GET /ws HTTP/1.1\r\nHost: x\r\n%sSec-WebSocket-Key: %s\r\n\r\n",
             cases[i].headers, cases[i].key);
    struct tclient *cl = tclient_open(srv.port);
    srv.nrec = 0;
    tclient_send(cl, req, strlen(req));
    struct tresp r;
    tclient_read_response(cl, &r);
    if (r.status != 101) {
      print_error("%s: status %d\n", cases[i].what, r.status);
      fail();
    }
    accept_for(cases[i].key, want);
    if (i == 0)
      assert_string_equal(want, HARNESS_WS_ACCEPT); /* the helper agrees with the RFC */
    snprintf(line, sizeof(line), "\r\nSec-WebSocket-Accept: %s\r\n", want);
    assert_true(tresp_has(&r, line));
    assert_true(tresp_has(&r, "\r\nUpgrade: websocket\r\n"));
    assert_true(tresp_has(&r, "\r\nConnection: Upgrade\r\n"));
    assert_null(strcasestr(r.head, "Content-Length"));
    assert_int_equal(cl->len, 0); /* nothing after the head */
    assert_int_equal(srv.last_status, 0);
    assert_int_equal(srv.nrec, 1);
    assert_false(srv.user_seen_http); /* ws_user() is NULL for HTTP */
    /* The connection speaks WebSocket now. */
    tclient_send_text(cl, "after the upgrade");
    assert_true(harness_wait_until(cond_nmsg, &srv.recs[0]));
    assert_string_equal(srv.recs[0].msgs[0], "after the upgrade");
    tclient_close(cl);
    harness_settle();
    teardown(NULL);
  }
}

/* Refusals: ws_upgrade() returns the status, leaves the connection to HTTP
 * (the test's handler answers it) and a next request on it is served. */
static void test_upgrade_refused(void **state) {
  (void)state;
#define GOOD_KEY "Sec-WebSocket-Key: " HARNESS_WS_KEY "\r\n"
  static const struct {
    const char *what;
    const char *req;
    int status;
  } cases[] = {
      {"POST",
       "POST /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
       "Upgrade\r\n" GOOD_KEY "Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n",
       405},
      {"PUT",
       "PUT /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
       "Upgrade\r\n" GOOD_KEY "Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n",
       405},
      {"no Upgrade",
       "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n" GOOD_KEY
       "Sec-WebSocket-Version: 13\r\n\r\n",
       426},
      {"Upgrade: h2c",
       "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: "
       "Upgrade\r\n" GOOD_KEY "Sec-WebSocket-Version: 13\r\n\r\n",
       426},
      {"Upgrade: websockets",
       "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websockets\r\nConnection: "
       "Upgrade\r\n" GOOD_KEY "Sec-WebSocket-Version: 13\r\n\r\n",
       426},
      {"version 12",
       "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
       "Upgrade\r\n" GOOD_KEY "Sec-WebSocket-Version: 12\r\n\r\n",
       426},
      {"version 8",
       "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
       "Upgrade\r\n" GOOD_KEY "Sec-WebSocket-Version: 8\r\n\r\n",
       426},
      {"version 130",
       "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
       "Upgrade\r\n" GOOD_KEY "Sec-WebSocket-Version: 130\r\n\r\n",
       426},
      {"no version",
       "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
       "Upgrade\r\n" GOOD_KEY "\r\n",
       426},
      {"no Connection",
       "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" GOOD_KEY
       "Sec-WebSocket-Version: 13\r\n\r\n",
       400},
      {"Connection: keep-alive",
       "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
       "keep-alive\r\n" GOOD_KEY "Sec-WebSocket-Version: 13\r\n\r\n",
       400},
      {"Connection: upgrades",
       "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
       "upgrades\r\n" GOOD_KEY "Sec-WebSocket-Version: 13\r\n\r\n",
       400},
      {"no key",
       "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
       "Upgrade\r\n"
       "Sec-WebSocket-Version: 13\r\n\r\n",
       400},
      {"short key",
       "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
       "Upgrade\r\n"
       "Sec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 13\r\n\r\n",
       400},
      {"key of 17 bytes",
       "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
       "Upgrade\r\n"
       "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=\r\nSec-WebSocket-Version: "
       "13\r\n\r\n",
       400},
      {"key not base64",
       "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
       "Upgrade\r\n"
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ!=\r\nSec-WebSocket-Version: "
       "13\r\n\r\n",
       400},
      {"empty key",
       "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
       "Upgrade\r\n"
       "Sec-WebSocket-Key: \r\nSec-WebSocket-Version: 13\r\n\r\n",
       400},
  };
#undef GOOD_KEY
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct tclient *cl = tclient_open(srv.port);
    struct tresp r;
    srv.nhttp = 0;
    srv.nrec = 0;
    tclient_send(cl, cases[i].req, strlen(cases[i].req));
    tclient_read_response(cl, &r);
    if (r.status != cases[i].status || srv.last_status != cases[i].status) {
      print_error("%s: answered %d, ws_upgrade returned %d, want %d\n", cases[i].what, r.status,
                  srv.last_status, cases[i].status);
      fail();
    }
    assert_string_equal(r.body, "refused");
    assert_int_equal(srv.nrec, 0);
    assert_false(srv.user_after_refusal);
    assert_false(tresp_has(&r, "Sec-WebSocket-Accept"));
    assert_false(tresp_has(&r, "Connection: close")); /* still keep-alive HTTP */
    /* Still HTTP: the next request is answered. */
    tclient_send(cl, "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n", 32);
    tclient_read_response(cl, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "plain");
    assert_int_equal(srv.nhttp, 1);
    assert_false(cl->eof);
    tclient_close(cl);
    harness_settle();
  }
}

struct nmsg_wait {
  struct wsrec *r;
  int n;
};

static int cond_nmsg_reaches(void *arg) {
  struct nmsg_wait *w = arg;
  return w->r->nmsg >= w->n;
}

/* A masked text message, one split over many frames and writes, and one of
 * each size class of the length field. */
static void test_text_messages(void **state) {
  (void)state;
  struct wsrec *r;
  struct tclient *cl = ws_open(&r);
  tclient_send_text(cl, "hello");
  assert_true(harness_wait_until(cond_nmsg, r));
  assert_int_equal(r->msg_len[0], 5);
  assert_string_equal(r->msgs[0], "hello");

  /* Fragmented: "Hel" + ping + "lo, " + "wörld", the bytes cut across writes.
   */
  uint8_t buf[256];
  size_t n = tframe_build(buf, sizeof(buf), 0x01, "Hel", 3);
  n += tframe_build(buf + n, sizeof(buf) - n, 0x89, "mid", 3);
  n += tframe_build(buf + n, sizeof(buf) - n, 0x00, "lo, ", 4);
  n += tframe_build(buf + n, sizeof(buf) - n, 0x80, "w\xc3\xb6rld", 6);
  for (size_t off = 0; off < n; off += 3) {
    tclient_send(cl, buf + off, n - off < 3 ? n - off : 3);
    harness_settle();
  }
  struct tframe f;
  tclient_read_frame(cl, &f);
  assert_int_equal(f.opcode, WS_OP_PONG);
  assert_int_equal(f.len, 3);
  assert_memory_equal(f.payload, "mid", 3);
  free(f.payload);
  assert_int_equal(r->nmsg, 2);
  assert_string_equal(r->msgs[1], "Hello, w\xc3\xb6rld");

  /* Length encodings: 7-bit, 16-bit and 64-bit, up to the cap. */
  static const size_t sizes[] = {0, 125, 126, 65535, MAX_MESSAGE};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    char *t = malloc(sizes[i] + 1);
    assert_non_null(t);
    for (size_t k = 0; k < sizes[i]; k++)
      t[k] = (char)('a' + k % 26);
    t[sizes[i]] = 0;
    struct nmsg_wait w = {r, r->nmsg + 1};
    int before = r->nmsg;
    tclient_send_frame(cl, 0x81, t, sizes[i]);
    harness_wait_until(cond_nmsg_reaches, &w);
    assert_int_equal(r->nmsg, before + 1);
    assert_int_equal(r->msg_len[before], sizes[i]);
    assert_memory_equal(r->msgs[before], t, sizes[i]);
    free(t);
  }
  assert_int_equal(r->nclose, 0);
  tclient_close(cl);
  expect_callbacks_done(r); /* the client went away without a close frame */
}

/* Frames in the same write as the upgrade request are not lost: they are
 * handled after the 101 goes out, in order. */
static void test_bytes_with_upgrade(void **state) {
  (void)state;
  uint8_t buf[512];
  size_t req_len = harness_ws_request((char *)buf, sizeof(buf), "x", "");
  size_t n = req_len;
  n += tframe_build(buf + n, sizeof(buf) - n, 0x81, "first", 5);
  n += tframe_build(buf + n, sizeof(buf) - n, 0x89, "pp", 2);
  n += tframe_build(buf + n, sizeof(buf) - n, 0x81, "second", 6);
  struct tclient *cl = tclient_open(srv.port);
  tclient_send(cl, buf, n);
  struct tresp rr;
  tclient_read_response(cl, &rr);
  assert_int_equal(rr.status, 101);
  assert_int_equal(srv.nrec, 1);
  struct wsrec *r = &srv.recs[0];
  struct tframe f;
  tclient_read_frame(cl, &f); /* the pong comes after the 101 */
  assert_int_equal(f.opcode, WS_OP_PONG);
  assert_memory_equal(f.payload, "pp", 2);
  free(f.payload);
  harness_settle();
  assert_int_equal(r->nmsg, 2);
  assert_string_equal(r->msgs[0], "first");
  assert_string_equal(r->msgs[1], "second");

  /* Half a frame with the request, the rest later. */
  uint8_t frame[64];
  size_t fl = tframe_build(frame, sizeof(frame), 0x81, "split", 5);
  struct tclient *c2 = tclient_open(srv.port);
  memcpy(buf + req_len, frame, 4); /* buf still starts with the request */
  tclient_send(c2, buf, req_len + 4);
  tclient_read_response(c2, &rr);
  assert_int_equal(rr.status, 101);
  struct wsrec *r2 = &srv.recs[1];
  harness_settle();
  assert_int_equal(r2->nmsg, 0);
  tclient_send(c2, frame + 4, fl - 4);
  assert_true(harness_wait_until(cond_nmsg, r2));
  assert_string_equal(r2->msgs[0], "split");
  tclient_close(cl);
  tclient_close(c2);
  expect_callbacks_done(r);
  expect_callbacks_done(r2);
}

static void test_ping_pong(void **state) {
  (void)state;
  char big[125];
  memset(big, 'z', sizeof(big));
  static const char bin[] = {0, 1, 2, (char)0xff};
  static const struct {
    const void *payload;
    size_t len;
  } cases[] = {{"", 0}, {"onair?", 6}, {bin, 4}, {NULL, 125}};
  struct wsrec *r;
  struct tclient *cl = ws_open(&r);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const void *p = cases[i].payload ? cases[i].payload : big;
    tclient_send_frame(cl, 0x89, p, cases[i].len);
    struct tframe f;
    tclient_read_frame(cl, &f);
    assert_int_equal(f.opcode, WS_OP_PONG);
    assert_int_equal(f.len, cases[i].len);
    assert_memory_equal(f.payload, p, cases[i].len);
    free(f.payload);
  }
  /* A pong from the client is taken quietly. */
  tclient_send_frame(cl, 0x8A, "x", 1);
  tclient_send_text(cl, "still here");
  assert_true(harness_wait_until(cond_nmsg, r));
  assert_int_equal(cl->len, 0);
  assert_int_equal(r->nclose, 0);
  tclient_close(cl);
  expect_callbacks_done(r);
}

/* The client's close is answered with its code, then the server closes;
 * nothing sent after the close frame is delivered. */
static void test_close_handshake(void **state) {
  (void)state;
  static const struct {
    uint16_t code; /* 0: a close frame without a code */
    const char *reason;
  } cases[] = {{1000, "bye"}, {1001, ""}, {4000, "custom"}, {0, ""}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct wsrec *r;
    struct tclient *cl = ws_open(&r);
    uint8_t buf[256];
    uint8_t p[64];
    size_t pl = 0;
    if (cases[i].code) {
      p[0] = (uint8_t)(cases[i].code >> 8);
      p[1] = (uint8_t)cases[i].code;
      memcpy(p + 2, cases[i].reason, strlen(cases[i].reason));
      pl = 2 + strlen(cases[i].reason);
    }
    size_t n = tframe_build(buf, sizeof(buf), 0x88, p, pl);
    n += tframe_build(buf + n, sizeof(buf) - n, 0x81, "too late", 8);
    tclient_send(cl, buf, n);
    struct tframe f;
    tclient_read_frame(cl, &f);
    assert_int_equal(f.opcode, WS_OP_CLOSE);
    if (cases[i].code)
      assert_int_equal(tframe_close_code(&f), cases[i].code);
    else /* no code to echo: an empty close or 1000 (RFC 6455 5.5.1) */
      assert_true(f.len == 0 || tframe_close_code(&f) == 1000);
    free(f.payload);
    tclient_expect_closed(cl);
    assert_true(cl->eof); /* a clean FIN, not a reset */
    expect_callbacks_done(r);
    assert_int_equal(r->nmsg, 0);
    tclient_close(cl);
    harness_settle();
  }
}

/* ws_close() from a handler: the frame goes out, the connection closes after
 * it, and later sends are refused. */
static void test_server_close(void **state) {
  (void)state;
  struct wsrec *r;
  struct tclient *cl = ws_open(&r);
  tclient_send_text(cl, "close:4321");
  struct tframe f;
  tclient_read_frame(cl, &f);
  assert_int_equal(tframe_close_code(&f), 4321);
  assert_int_equal(f.len, 2 + strlen("done here"));
  assert_memory_equal(f.payload + 2, "done here", f.len - 2);
  free(f.payload);
  tclient_expect_closed(cl);
  assert_int_equal(r->send_after_close_rc, -EPIPE);
  expect_callbacks_done(r);
  tclient_close(cl);
}

/* The server refuses what cl sent: a close frame with code, then the end of
 * the connection, with no message delivered and both callbacks run. */
static void expect_refused(struct tclient *cl, struct wsrec *r, uint16_t code, const char *what) {
  struct tframe f;
  tclient_read_frame(cl, &f);
  int got = f.opcode == WS_OP_CLOSE && f.len >= 2 ? f.payload[0] << 8 | f.payload[1] : -1;
  free(f.payload);
  if (got != code) {
    print_error("%s: opcode %d code %d, want close %d\n", what, f.opcode, got, code);
    fail();
  }
  tclient_expect_closed(cl);
  expect_callbacks_done(r);
  assert_int_equal(r->nmsg, 0);
}

static void test_binary_refused(void **state) {
  (void)state;
  static const struct {
    const char *what;
    uint8_t b0;
  } cases[] = {{"binary", 0x82}, {"fragmented binary", 0x02}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct wsrec *r;
    struct tclient *cl = ws_open(&r);
    tclient_send_frame(cl, cases[i].b0, "\x01\x02\x03", 3);
    if ((cases[i].b0 & 0x80) == 0)
      tclient_send_frame(cl, 0x80, "\x04", 1);
    expect_refused(cl, r, WS_CLOSE_UNSUPPORTED, cases[i].what);
    tclient_close(cl);
    harness_settle();
  }
}

/* Violations close with the code the parser names. */
#define RAW(s) (const uint8_t *)s, sizeof(s) - 1
static void test_protocol_errors(void **state) {
  (void)state;
  static const struct {
    const char *what;
    const uint8_t *bytes;
    size_t len;
    uint16_t code;
  } cases[] = {
      {"unmasked", RAW("\x81\x02hi"), WS_CLOSE_PROTOCOL},
      {"RSV1", RAW("\xc1\x82\0\0\0\0hi"), WS_CLOSE_PROTOCOL},
      {"RSV3", RAW("\x91\x82\0\0\0\0hi"), WS_CLOSE_PROTOCOL},
      {"opcode 3", RAW("\x83\x82\0\0\0\0hi"), WS_CLOSE_PROTOCOL},
      {"opcode 0xB", RAW("\x8b\x80\0\0\0\0"), WS_CLOSE_PROTOCOL},
      {"fragmented ping", RAW("\x09\x80\0\0\0\0"), WS_CLOSE_PROTOCOL},
      {"ping of 126", RAW("\x89\xfe\0\x7e\0\0\0\0"), WS_CLOSE_PROTOCOL},
      {"continuation first", RAW("\x80\x82\0\0\0\0hi"), WS_CLOSE_PROTOCOL},
      {"text inside a message", RAW("\x01\x81\0\0\0\0h\x81\x81\0\0\0\0i"), WS_CLOSE_PROTOCOL},
      {"64-bit top bit", RAW("\x81\xff\x80\0\0\0\0\0\0\0\0\0\0\0"), WS_CLOSE_PROTOCOL},
      {"close of 1 byte", RAW("\x88\x81\0\0\0\0\x03"), WS_CLOSE_PROTOCOL},
      {"close code 1005", RAW("\x88\x82\0\0\0\0\x03\xed"), WS_CLOSE_PROTOCOL},
      {"close code 999", RAW("\x88\x82\0\0\0\0\x03\xe7"), WS_CLOSE_PROTOCOL},
      {"close reason not UTF-8", RAW("\x88\x83\0\0\0\0\x03\xe8\xff"), WS_CLOSE_INVALID_DATA},
      {"text not UTF-8", RAW("\x81\x82\0\0\0\0\xff\xfe"), WS_CLOSE_INVALID_DATA},
      {"surrogate", RAW("\x81\x83\0\0\0\0\xed\xa0\x80"), WS_CLOSE_INVALID_DATA},
      {"text ends mid-character", RAW("\x81\x81\0\0\0\0\xc3"), WS_CLOSE_INVALID_DATA},
      {"over max_message (64-bit length)", RAW("\x81\xff\0\0\0\0\0\x01\0\x01\0\0\0\0"),
       WS_CLOSE_TOO_BIG},
      /* Built below: 40000 bytes in a first fragment, then a continuation
       * announcing 30000 more (70000 > 64 KiB). */
      {"fragments over max_message", NULL, 0, WS_CLOSE_TOO_BIG},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct wsrec *r;
    struct tclient *cl = ws_open(&r);
    if (cases[i].bytes) {
      tclient_send(cl, cases[i].bytes, cases[i].len);
    } else {
      char *t = malloc(40000);
      assert_non_null(t);
      memset(t, 'x', 40000);
      tclient_send_frame(cl, 0x01, t, 40000);
      free(t);
      tclient_send(cl, "\x80\xfe\x75\x30\0\0\0\0", 8); /* 0x7530 = 30000 */
    }
    expect_refused(cl, r, cases[i].code, cases[i].what);
    tclient_close(cl);
    harness_settle();
  }
}
#undef RAW

/* ws_send_text in every length class, each arriving as one unmasked final
 * text frame with the shortest length encoding. */
static void test_send_text(void **state) {
  (void)state;
  static const size_t sizes[] = {0, 1, 125, 126, 65535, 65536, 300000};
  struct wsrec *r;
  struct tclient *cl = ws_open(&r);
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    char *t = malloc(sizes[i] + 1);
    assert_non_null(t);
    for (size_t k = 0; k < sizes[i]; k++)
      t[k] = (char)('A' + (k * 7 + i) % 26);
    assert_int_equal(ws_send_text(r->conn, t, sizes[i]), 0);
    struct tframe f;
    tclient_read_frame(cl, &f);
    assert_int_equal(f.b0, 0x81);
    assert_int_equal(f.len, sizes[i]);
    assert_memory_equal(f.payload, t, sizes[i]);
    free(f.payload);
    free(t);
  }
  /* From a handler too. */
  tclient_send_text(cl, "reply:pong-text");
  struct tframe f;
  tclient_read_frame(cl, &f);
  assert_int_equal(f.opcode, WS_OP_TEXT);
  assert_string_equal((char *)f.payload, "pong-text");
  free(f.payload);
  tclient_close(cl);
  expect_callbacks_done(r);
}

/* One frame, two connections: both get the same bytes, also when the frame
 * is too big to be written at once and the test has dropped its reference
 * before the rest goes out. */
static void test_shared_frame(void **state) {
  (void)state;
  static const size_t sizes[] = {12, 700 * 1024};
  struct wsrec *r1, *r2;
  /* Small buffers on both sides: the big frame cannot leave at once. */
  struct tclient *c1 = ws_open_rcvbuf(&r1, 4096);
  struct tclient *c2 = ws_open_rcvbuf(&r2, 4096);
  int small = 4096;
  uv_send_buffer_size((uv_handle_t *)&r1->conn->tcp, &small);
  uv_send_buffer_size((uv_handle_t *)&r2->conn->tcp, &small);
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    char *t = malloc(sizes[i]);
    assert_non_null(t);
    for (size_t k = 0; k < sizes[i]; k++)
      t[k] = (char)('a' + (k / 3 + i) % 26);
    struct sbuf *b = ws_frame_text(t, sizes[i]);
    assert_non_null(b);
    assert_int_equal(b->refs, 1);
    assert_int_equal(conn_write(r1->conn, b), 0);
    assert_int_equal(conn_write(r2->conn, b), 0);
    if (sizes[i] > 100 * 1024)
      assert_int_equal(b->refs, 3); /* queued on both: each holds a reference */
    sbuf_unref(b);                  /* the connections keep what they still need */
    struct tframe f1, f2;
    tclient_read_frame(c1, &f1);
    tclient_read_frame(c2, &f2);
    assert_int_equal(f1.opcode, WS_OP_TEXT);
    assert_int_equal(f1.len, sizes[i]);
    assert_int_equal(f2.len, sizes[i]);
    assert_memory_equal(f1.payload, t, sizes[i]);
    assert_memory_equal(f2.payload, t, sizes[i]);
    free(f1.payload);
    free(f2.payload);
    free(t);
  }
  tclient_close(c1);
  tclient_close(c2);
  expect_callbacks_done(r1);
  expect_callbacks_done(r2);
}

/* The next frame c gets is a text frame saying want. */
static void expect_text(struct tclient *c, const char *want) {
  struct tframe f;
  tclient_read_frame(c, &f);
  assert_string_equal((char *)f.payload, want);
  free(f.payload);
}

/* Frames written to a connection during one loop turn leave together: one
 * socket write per CONN_OUTQ of them, in order; two connections given the
 * same frames get one write each (frames in memory of their own). */
static void test_coalesced_writes(void **state) {
  (void)state;
  enum { N = 2 * CONN_OUTQ + 3 };
  struct wsrec *r1, *r2;
  struct tclient *c1 = ws_open(&r1);
  struct tclient *c2 = ws_open(&r2);
  struct conn_listener *l = r1->conn->listener;
  harness_settle(); /* the 101 answers are out */
  uint64_t writes = l->writes, bufs = l->bufs_written;
  for (int i = 0; i < N; i++) {
    /* Frames in memory of their own (not packed side by side). */
    char t[16];
    int n = snprintf(t, sizeof(t), "m%d", i);
    struct sbuf *b = sbuf_new((size_t)n + 2);
    assert_non_null(b);
    b->data[0] = 0x81; /* FIN, text */
    b->data[1] = (uint8_t)n;
    memcpy(b->data + 2, t, (size_t)n);
    assert_int_equal(conn_write(r1->conn, b), 0);
    if (i < CONN_OUTQ)
      assert_int_equal(conn_write(r2->conn, b), 0);
    sbuf_unref(b);
  }
  /* Nothing has left before the loop turns, except the full batches. */
  assert_int_equal(l->writes - writes, N / CONN_OUTQ);
  for (int i = 0; i < N; i++) {
    char want[16];
    snprintf(want, sizeof(want), "m%d", i);
    expect_text(c1, want);
    if (i < CONN_OUTQ)
      expect_text(c2, want);
  }
  assert_int_equal(l->writes - writes, N / CONN_OUTQ + 2); /* c1's rest, c2's one */
  assert_int_equal(l->bufs_written - bufs, N + CONN_OUTQ);
  tclient_close(c1);
  tclient_close(c2);
  expect_callbacks_done(r1);
  expect_callbacks_done(r2);
}

/* Room frames made one after another lie side by side: a connection given
 * a run of them sends it as one piece, and a frame of its own in between
 * splits the run without changing the order. */
static void test_packed_frames_merge(void **state) {
  (void)state;
  enum { N = 3 * CONN_OUTQ };
  struct wsrec *r1, *r2;
  struct tclient *c1 = ws_open(&r1);
  struct tclient *c2 = ws_open(&r2);
  struct conn_listener *l = r1->conn->listener;
  harness_settle();
  sbuf_pack_release(); /* a fresh block: the run is not split by its end */
  uint64_t writes = l->writes, bufs = l->bufs_written;
  for (int i = 0; i < N; i++) {
    char t[16];
    int n = snprintf(t, sizeof(t), "m%d", i);
    struct sbuf *b = ws_frame_text(t, (size_t)n);
    assert_non_null(b);
    assert_int_equal(conn_write(r1->conn, b), 0);
    assert_int_equal(conn_write(r2->conn, b), 0);
    sbuf_unref(b);
    if (i == N / 2)
      assert_int_equal(ws_send_text(r2->conn, "own", 3), 0); /* c2's alone: after m<N/2> */
  }
  assert_int_equal(l->writes - writes, 0); /* far fewer than CONN_OUTQ pieces each */
  for (int i = 0; i < N; i++) {
    char want[16];
    snprintf(want, sizeof(want), "m%d", i);
    expect_text(c1, want);
    expect_text(c2, want);
    if (i == N / 2)
      expect_text(c2, "own");
  }
  /* c1: one piece. c2: its own frame has memory of its own, so its run is
   * split there (three pieces). */
  assert_int_equal(l->writes - writes, 2);
  assert_int_equal(l->bufs_written - bufs, 1 + 3);
  tclient_close(c1);
  tclient_close(c2);
  expect_callbacks_done(r1);
  expect_callbacks_done(r2);
}

/* A connection whose queued bytes pass its cap within one turn is dropped
 * as a slow reader; the others still get their frames. */
static void test_queued_over_cap(void **state) {
  (void)state;
  struct wsrec *r1, *r2;
  struct tclient *c1 = ws_open(&r1);
  struct tclient *c2 = ws_open(&r2);
  harness_settle();
  r1->conn->max_out = 1000;
  char t[400];
  memset(t, 'x', sizeof(t));
  struct sbuf *b = ws_frame_text(t, sizeof(t));
  assert_non_null(b);
  assert_int_equal(conn_write(r1->conn, b), 0);
  assert_int_equal(conn_write(r1->conn, b), 0);
  assert_int_equal(conn_write(r1->conn, b), -ENOBUFS); /* 3 x 404 bytes > 1000 */
  assert_int_equal(conn_write(r1->conn, b), -EPIPE);   /* closing */
  assert_int_equal(conn_write(r2->conn, b), 0);
  sbuf_unref(b);
  struct tframe f;
  tclient_read_frame(c2, &f);
  assert_int_equal(f.len, sizeof(t));
  free(f.payload);
  tclient_expect_closed(c1);
  expect_callbacks_done(r1);
  tclient_close(c2);
  expect_callbacks_done(r2);
}

/* ---- keepalive ------------------------------------------------------------
 */

#define KA_PING_MS 50
#define KA_TIMEOUT_MS 200

static void on_ws_server_closed(struct ws_server *s) {
  (void)s;
  srv.ws_closed = 1;
}

static int cond_ws_server_closed(void *arg) {
  (void)arg;
  return srv.ws_closed;
}

/* Replaces the ws_server by one with cfg (no WebSocket is open). */
static void keepalive_reset(const struct ws_config *cfg) {
  srv.ws_closed = 0;
  ws_server_close(&srv.ws, on_ws_server_closed);
  assert_true(harness_wait_until(cond_ws_server_closed, NULL));
  assert_int_equal(ws_server_init(&srv.ws, &srv.loop, cfg), 0);
}

/* What the keepalive test's clients saw; they answer pings as they come. */
struct ka {
  struct tclient *silent, *ponger, *texter;
  struct wsrec *rs;
  int silent_pings, ponger_pings, texts;
  uint64_t start;
};

/* A harness_cond_cb: handles the frames that came, and holds once the
 * silent client is gone and the others have lived for three timeouts. */
static int ka_step(void *arg) {
  struct ka *k = arg;
  struct tframe f;
  while (tframe_take(k->silent, &f)) {
    assert_int_equal(f.opcode, WS_OP_PING);
    assert_string_equal((char *)f.payload, "onair");
    k->silent_pings++;
    free(f.payload);
  }
  while (tframe_take(k->ponger, &f)) {
    assert_int_equal(f.opcode, WS_OP_PING);
    k->ponger_pings++;
    tclient_send_frame(k->ponger, 0x8A, f.payload, f.len);
    free(f.payload);
  }
  while (tframe_take(k->texter, &f)) {
    assert_int_equal(f.opcode, WS_OP_PING);
    tclient_send_text(k->texter, "still typing");
    k->texts++;
    free(f.payload);
  }
  return k->rs->nclose && uv_now(&srv.loop) - k->start > 3 * KA_TIMEOUT_MS;
}

/* A silent client is dropped once it has been silent for the timeout (and
 * was pinged meanwhile); one answering pings with pongs and one sending
 * text stay open. */
static void test_keepalive(void **state) {
  (void)state;
  const struct ws_config fast = {
      .max_message = MAX_MESSAGE, .ping_ms = KA_PING_MS, .timeout_ms = KA_TIMEOUT_MS};
  keepalive_reset(&fast);
  struct wsrec *rs, *rp, *rt;
  struct tclient *silent = ws_open(&rs);
  struct tclient *ponger = ws_open(&rp);
  struct tclient *texter = ws_open(&rt);
  struct ka k = {silent, ponger, texter, rs, 0, 0, 0, uv_now(&srv.loop)};
  if (!harness_wait_until(ka_step, &k))
    fail_msg("keepalive: no verdict after %d ms", HARNESS_WAIT_MS);
  /* The silent client: closed after more than the timeout, at the first
   * keepalive tick past it (give a generous margin for slow machines). */
  assert_int_equal(rs->nclose, 1);
  uint64_t silent_for = rs->closed_ms - rs->upgraded_ms;
  if (silent_for <= KA_TIMEOUT_MS || silent_for > KA_TIMEOUT_MS + 10 * KA_PING_MS) {
    print_error("silent client closed after %llu ms (timeout %d ms)\n",
                (unsigned long long)silent_for, KA_TIMEOUT_MS);
    fail();
  }
  assert_true(k.silent_pings >= 2);
  harness_wait_until(tclient_ended, silent);
  assert_true(silent->eof || silent->reset);
  expect_callbacks_done(rs);
  /* The others are alive and well. */
  assert_int_equal(rp->nclose, 0);
  assert_int_equal(rt->nclose, 0);
  assert_false(ponger->eof || ponger->reset);
  assert_false(texter->eof || texter->reset);
  assert_true(k.ponger_pings >= 3 * KA_TIMEOUT_MS / KA_PING_MS / 2);
  assert_true(k.texts >= 2);
  assert_true(rt->nmsg >= 2);
  tclient_send_text(ponger, "alive");
  assert_true(harness_wait_until(cond_nmsg, rp));
  tclient_close(silent);
  tclient_close(ponger);
  tclient_close(texter);
  expect_callbacks_done(rp);
  expect_callbacks_done(rt);
  keepalive_reset(&long_keepalive);
}

struct stall {
  struct wsrec *r;
  uint64_t until;
};

static int stall_step(void *arg) {
  struct stall *st = arg;
  return st->r->nclose || (st->r->nmsg > 0 && uv_now(&srv.loop) >= st->until);
}

/* A client that spoke while the loop stood still for longer than the
 * timeout (one long turn) is not dropped: its bytes were waiting unread. */
static void test_keepalive_after_stall(void **state) {
  (void)state;
  const struct ws_config fast = {
      .max_message = MAX_MESSAGE, .ping_ms = KA_PING_MS, .timeout_ms = KA_TIMEOUT_MS};
  keepalive_reset(&fast);
  struct wsrec *r;
  struct tclient *cl = ws_open(&r);
  harness_settle();
  tclient_send_text(cl, "typing while the loop is busy");
  usleep(3 * KA_TIMEOUT_MS * 1000); /* the loop does not run */
  struct stall st = {r, 0};
  uv_update_time(&srv.loop);
  st.until = uv_now(&srv.loop) + 3 * KA_PING_MS;
  assert_true(harness_wait_until(stall_step, &st));
  assert_int_equal(r->nclose, 0);
  assert_int_equal(r->nmsg, 1);
  assert_false(cl->eof || cl->reset);
  tclient_close(cl);
  expect_callbacks_done(r);
  keepalive_reset(&long_keepalive);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_handshake_101, setup, teardown),
      cmocka_unit_test_setup_teardown(test_upgrade_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_text_messages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bytes_with_upgrade, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ping_pong, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_handshake, setup, teardown),
      cmocka_unit_test_setup_teardown(test_server_close, setup, teardown),
      cmocka_unit_test_setup_teardown(test_binary_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_protocol_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_send_text, setup, teardown),
      cmocka_unit_test_setup_teardown(test_shared_frame, setup, teardown),
      cmocka_unit_test_setup_teardown(test_coalesced_writes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_packed_frames_merge, setup, teardown),
      cmocka_unit_test_setup_teardown(test_queued_over_cap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keepalive_after_stall, setup, teardown),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
