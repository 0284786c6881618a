/* Tests for the first-bytes sniffer of src/net/conn.c and the ICE-TCP
 * signature of src/media/sfu_tcp.c: sfu_tcp_sniff's verdicts (a table), and
 * a real HTTP server whose listener hands ICE-TCP connections to another
 * protocol (here an echo of what it got) while HTTP requests, also sent a
 * byte at a time, are still answered as HTTP. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "http/http.h"
#include "media/sfu.h"
#include "net/conn.h"

/* A framed STUN binding request (RFC 4571 length 20, then a header-only
 * binding request with the magic cookie). */
static const uint8_t framed_check[] = {0x00, 0x14, 0x00, 0x01, 0x00, 0x00, 0x21, 0x12,
                                       0xa4, 0x42, 1,    2,    3,    4,    5,    6,
                                       7,    8,    9,    10,   11,   12};

static void test_signature(void **state) {
  (void)state;
  static const uint8_t tls_hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03};
  static const uint8_t big_frame[] = {0x40, 0x00, 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
  static const uint8_t no_cookie[] = {0x00, 0x14, 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x43};
  static const uint8_t not_binding[] = {0x00, 0x14, 0x01, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
  static const struct {
    const char *name;
    const uint8_t *data;
    size_t len;
    int want;
  } cases[] = {
      {"a framed binding request", framed_check, sizeof(framed_check), 1},
      {"its first 10 bytes", framed_check, 10, 1},
      {"its first 9 bytes: more needed", framed_check, 9, -EAGAIN},
      {"one zero byte: more needed", framed_check, 1, -EAGAIN},
      {"HTTP", (const uint8_t *)"GET / HTTP/1.1\r\n", 16, 0},
      {"one letter of HTTP", (const uint8_t *)"G", 1, 0},
      {"a TLS ClientHello", tls_hello, sizeof(tls_hello), 0},
      {"a frame longer than a datagram", big_frame, sizeof(big_frame), 0},
      {"no magic cookie", no_cookie, sizeof(no_cookie), 0},
      {"a binding response, not a request", not_binding, sizeof(not_binding), 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int got = sfu_tcp_sniff(cases[i].data, cases[i].len);
    if (got != cases[i].want) {
      print_error("%s: %d, want %d\n", cases[i].name, got, cases[i].want);
      fail();
    }
  }
}

/* ---- through a real listener -------------------------------------------------- */

static uv_loop_t loop;
static struct http_server srv;
static int port, taken;

static void echo_on_data(struct conn *c, const uint8_t *data, size_t len) {
  conn_write_copy(c, data, len);
}

static const struct conn_ops echo_ops = {.on_data = echo_on_data};

static int sniff(void *arg, struct conn *c, const uint8_t *data, size_t len) {
  int rc = sfu_tcp_sniff(data, len);
  if (rc != 1)
    return rc;
  taken++;
  conn_rebind(c, &echo_ops, NULL);
  echo_on_data(c, data, len);
  return 1;
}

static void on_request(struct conn *c, struct http_req *req) {
  http_respond(c, 200, "text/plain", NULL, req->path, req->path_len);
}

static int setup(void **state) {
  (void)state;
  if (harness_init(&loop) != 0)
    return -1;
  port = harness_http_listen(&srv, on_request, NULL);
  conn_listener_set_sniffer(&srv.tcp, sniff, NULL);
  return port > 0 ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  http_server_close(&srv, NULL);
  return harness_finish() == 0 ? 0 : -1;
}

static int cond_echoed(void *arg) {
  struct tclient *cl = arg;
  return cl->len >= sizeof(framed_check);
}

/* Byte by byte, each kind is still recognised: the listener holds the first
 * bytes until the sniffer can tell. */
static void test_listener(void **state) {
  (void)state;
  struct tclient *cl = tclient_open(port);
  static const char req[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  for (size_t i = 0; i < sizeof(req) - 1; i++) {
    tclient_send(cl, req + i, 1);
    harness_settle();
  }
  struct tresp r;
  tclient_read_response(cl, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "/hello");
  tclient_close(cl);
  assert_int_equal(taken, 0);

  cl = tclient_open(port);
  for (size_t i = 0; i < sizeof(framed_check); i++) {
    tclient_send(cl, framed_check + i, 1);
    harness_settle();
  }
  assert_true(harness_wait_until(cond_echoed, cl));
  assert_int_equal(taken, 1);
  assert_memory_equal(cl->buf, framed_check, sizeof(framed_check));
  tclient_close(cl);
}

int main(void) {
  const struct CMUnitTest pure[] = {cmocka_unit_test(test_signature)};
  const struct CMUnitTest live[] = {cmocka_unit_test(test_listener)};
  int failed = cmocka_run_group_tests_name("signature", pure, NULL, NULL);
  return failed + cmocka_run_group_tests_name("listener", live, setup, teardown);
}
