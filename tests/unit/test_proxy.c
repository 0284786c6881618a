/* Tests for src/util/ipset.c (parsing address lists, membership) and for
 * how src/http/http_conn.c believes a reverse proxy: a real http_server on
 * 127.0.0.1 whose handler answers with the client address and scheme it was
 * given. X-Forwarded-For is read from the right past trusted hops only;
 * X-Forwarded-Proto counts only from a trusted peer; from an untrusted peer
 * both are ignored. */
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
#include "util/ipset.h"

/* ---- ipset ------------------------------------------------------------------ */

static void test_parse(void **state) {
  (void)state;
  static const struct {
    const char *text;
    int rc;
    size_t n;
    const char *bad; /* the entry *bad points at, for a refusal */
  } cases[] = {
      {"", 0, 0, NULL},
      {"  ,, ", 0, 0, NULL},
      {"127.0.0.1", 0, 1, NULL},
      {"127.0.0.1, ::1", 0, 2, NULL},
      {"10.0.0.0/8,192.168.0.0/16 fd00::/8", 0, 3, NULL},
      {"0.0.0.0/0", 0, 1, NULL},
      {"::/0", 0, 1, NULL},
      {"10.0.0.1/8", -EINVAL, 0, "10.0.0.1/8"}, /* host bits set: a typing error */
      {"10.0.0.0/33", -EINVAL, 0, "10.0.0.0/33"},
      {"10.0.0.0/", -EINVAL, 0, "10.0.0.0/"},
      {"10.0.0.0/x", -EINVAL, 0, "10.0.0.0/x"},
      {"127.0.0.1, localhost", -EINVAL, 0, "localhost"},
      {"256.1.1.1", -EINVAL, 0, "256.1.1.1"},
      {"::1/129", -EINVAL, 0, "::1/129"},
      {"1.2.3.4;5.6.7.8", -EINVAL, 0, "1.2.3.4;5.6.7.8"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct ipset s;
    const char *bad = NULL;
    int rc = ipset_parse(&s, cases[i].text, &bad);
    if (rc != cases[i].rc || (rc == 0 && s.n != cases[i].n) ||
        (rc < 0 && (bad == NULL || strcmp(bad, cases[i].bad) != 0))) {
      print_error("\"%s\": rc %d n %zu bad \"%s\"\n", cases[i].text, rc, s.n, bad ? bad : "");
      fail();
    }
  }
  char many[1024] = "";
  for (int i = 0; i <= IPSET_MAX; i++)
    snprintf(many + strlen(many), sizeof(many) - strlen(many), "10.0.0.%d,", i);
  struct ipset s;
  assert_int_equal(ipset_parse(&s, many, NULL), -E2BIG);
}

static void test_contains(void **state) {
  (void)state;
  struct ipset s;
  assert_int_equal(ipset_parse(&s, "10.0.0.0/8, 192.168.1.7, fd00::/8, ::1", NULL), 0);
  static const struct {
    const char *ip;
    int in;
  } cases[] = {
      {"10.0.0.1", 1},
      {"10.255.255.255", 1},
      {"11.0.0.1", 0},
      {"192.168.1.7", 1},
      {"192.168.1.8", 0},
      {"::ffff:10.1.2.3", 1}, /* v4-mapped */
      {"::ffff:11.1.2.3", 0},
      {"fd12::1", 1},
      {"fe80::1", 0},
      {"::1", 1},
      {"::2", 0},
      {"not an address", 0},
      {"", 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    if (ipset_contains(&s, cases[i].ip) != cases[i].in) {
      print_error("%s: want %d\n", cases[i].ip, cases[i].in);
      fail();
    }
  }
  struct ipset empty;
  assert_int_equal(ipset_parse(&empty, "", NULL), 0);
  assert_false(ipset_contains(&empty, "127.0.0.1"));
  struct ipset prefix;
  assert_int_equal(ipset_parse(&prefix, "172.16.0.0/12", NULL), 0);
  assert_true(ipset_contains(&prefix, "172.31.255.255"));
  assert_false(ipset_contains(&prefix, "172.32.0.0"));
}

/* ---- X-Forwarded-* through a real server ------------------------------------ */

static uv_loop_t loop;
static struct http_server srv;
static struct ipset trusted;
static int port;

static void on_request(struct conn *c, struct http_req *req) {
  char body[128];
  int n = snprintf(body, sizeof(body), "%s %s", req->client_ip, req->tls ? "https" : "http");
  http_respond(c, 200, "text/plain", NULL, body, (size_t)n);
}

/* The body for a request carrying the header lines extra. */
static void ask(const char *extra, char *out, size_t size) {
  char req[1024];
  snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\n%s\r\n", extra);
  struct tclient *cl = tclient_open(port);
  tclient_send_str(cl, req);
  struct tresp r;
  tclient_read_response(cl, &r);
  assert_int_equal(r.status, 200);
  snprintf(out, size, "%.100s", r.body);
  tclient_close(cl);
}

static void check(const char *extra, const char *want) {
  char got[128];
  ask(extra, got, sizeof(got));
  if (strcmp(got, want) != 0) {
    print_error("with \"%s\": got \"%s\", want \"%s\"\n", extra, got, want);
    fail();
  }
}

static int proxy_setup(void **state) {
  (void)state;
  if (harness_init(&loop) != 0)
    return -1;
  port = harness_http_listen(&srv, on_request, NULL);
  return port > 0 ? 0 : -1;
}

static int proxy_teardown(void **state) {
  (void)state;
  http_server_close(&srv, NULL);
  return harness_finish() == 0 ? 0 : -1;
}

/* The client connects from 127.0.0.1: first as a trusted proxy, then not. */
static void test_forwarded(void **state) {
  (void)state;
  check("", "127.0.0.1 http"); /* no set: the peer */
  assert_int_equal(ipset_parse(&trusted, "127.0.0.1, 10.0.0.0/8", NULL), 0);
  http_server_trust_proxies(&srv, &trusted);
  check("", "127.0.0.1 http");
  check("X-Forwarded-For: 203.0.113.9\r\n", "203.0.113.9 http");
  check("X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\n", "203.0.113.9 https");
  check("X-Forwarded-Proto: HTTPS\r\n", "127.0.0.1 https");
  check("X-Forwarded-Proto: http\r\n", "127.0.0.1 http");
  /* Right to left past trusted hops; what a client wrote on the left loses. */
  check("X-Forwarded-For: 1.1.1.1, 203.0.113.9, 10.1.1.1\r\n", "203.0.113.9 http");
  check("X-Forwarded-For: 198.51.100.1,10.2.2.2 , 10.1.1.1\r\n", "198.51.100.1 http");
  check("X-Forwarded-For: 2001:db8::7\r\n", "2001:db8::7 http");
  /* Junk stops the walk at the last hop believed. */
  check("X-Forwarded-For: 203.0.113.9, junk\r\n", "127.0.0.1 http");
  check("X-Forwarded-For: junk, 10.1.1.1\r\n", "10.1.1.1 http");
  check("X-Forwarded-For: ,\r\n", "127.0.0.1 http");
  /* Two headers: the last is the proxy's (it appended). */
  check("X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 203.0.113.9\r\n", "203.0.113.9 http");
  /* An untrusted peer's headers count for nothing. */
  struct ipset other;
  assert_int_equal(ipset_parse(&other, "10.0.0.0/8", NULL), 0);
  http_server_trust_proxies(&srv, &other);
  check("X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\n", "127.0.0.1 http");
  http_server_trust_proxies(&srv, NULL);
}

int main(void) {
  const struct CMUnitTest ipset_tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_contains),
  };
  const struct CMUnitTest proxy_tests[] = {
      cmocka_unit_test(test_forwarded),
  };
  int failed = cmocka_run_group_tests_name("ipset", ipset_tests, NULL, NULL);
  failed += cmocka_run_group_tests_name("forwarded", proxy_tests, proxy_setup, proxy_teardown);
  return failed;
}
