/* Tests for src/net/http_client.c (libcurl's multi interface on libuv)
 * against an HTTP server running in this test on the same loop: onair's own
 * http_server on 127.0.0.1, with handlers that record what
 * the client sent and answer as each case needs (a body, a 404, a 302, a
 * body one byte over the cap, no answer at all).
 *
 * Covered: GET with a body; POST of a form with Basic authentication (the
 * server checks the header and the body); a 404 is a response (status 404,
 * no error); connection refused and unsupported schemes give an error and
 * status 0; the body cap (exactly HTTP_CLIENT_MAX_BODY passes, one more byte
 * fails); redirects are reported, not followed; a server that never answers
 * times out after HTTP_CLIENT_TIMEOUT_MS (10 s: this case makes the program
 * take about that long); http_client_free with a request in flight;
 * http_client_escape; http_client_request (what ACME uses): a POST of a
 * JSON body with its content type and an Accept header, HEAD, response
 * headers (Replay-Nonce, Location, the last of a repeated one), a cap of
 * the request's own, and bad requests refused.
 *
 * Waiting is the harness's (harness.h): the loop runs until the request has
 * finished, each run bounded, the whole wait too. No sleeps. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <http_parser.h>
#include <uv.h>

#include "harness.h"
#include "http/http.h"
#include "net/conn.h"
#include "net/http_client.h"

#define MAX_REQS 16

/* ---- the server ---------------------------------------------------------- */

/* What the server saw of one request. */
struct seen {
  int method;
  char path[256];
  char query[256];
  char authorization[256]; /* "" if absent */
  char content_type[128];
  char accept[128];
  char user_agent[128];
  char body[1024];
  size_t body_len;
};

static struct {
  uv_loop_t loop;
  struct http_server http;
  int port;
  int nreq;
  struct seen reqs[MAX_REQS];
  struct conn *held; /* a request left unanswered; we hold a reference */
  struct http_client *hc;
} srv;

static void copy_header(struct http_req *req, const char *name, char *out, size_t size) {
  size_t len;
  const char *v = http_req_header(req, name, &len);
  snprintf(out, size, "%.*s", v ? (int)len : 0, v ? v : "");
}

static void on_request(struct conn *c, struct http_req *req) {
  assert_true(srv.nreq < MAX_REQS);
  struct seen *s = &srv.reqs[srv.nreq++];
  memset(s, 0, sizeof(*s));
  s->method = req->method;
  snprintf(s->path, sizeof(s->path), "%s", req->path);
  snprintf(s->query, sizeof(s->query), "%s", req->query);
  copy_header(req, "authorization", s->authorization, sizeof(s->authorization));
  copy_header(req, "content-type", s->content_type, sizeof(s->content_type));
  copy_header(req, "accept", s->accept, sizeof(s->accept));
  copy_header(req, "user-agent", s->user_agent, sizeof(s->user_agent));
  assert_true(req->body_len < sizeof(s->body));
  if (req->body_len) /* req->body is NULL without a body */
    memcpy(s->body, req->body, req->body_len);
  s->body_len = req->body_len;

  if (strcmp(req->path, "/hello") == 0) {
    http_respond(c, 200, "text/plain", NULL, "hello, world", 12);
  } else if (strcmp(req->path, "/form") == 0) {
    http_respond(c, 200, "application/json", NULL, "{\"ok\":true}", 11);
  } else if (strcmp(req->path, "/acme") == 0) {
    static const char extra[] = "Replay-Nonce: nonce-2\r\nLocation: https://ca.example/order/1\r\n"
                                "Link: <https://ca.example/dir>;rel=\"index\"\r\n"
                                "Link: <https://ca.example/alt>;rel=\"alternate\"\r\n";
    if (req->method == HTTP_HEAD)
      http_respond(c, 200, NULL, extra, NULL, 0);
    else
      http_respond(c, 201, "application/json", extra, "{\"status\":\"pending\"}", 20);
  } else if (strcmp(req->path, "/redirect") == 0) {
    http_respond(c, 302, "text/plain", "Location: /hello\r\n", "moved", 5);
  } else if (strcmp(req->path, "/empty") == 0) {
    http_respond(c, 204, NULL, NULL, NULL, 0);
  } else if (strcmp(req->path, "/fail") == 0) {
    http_respond(c, 500, "text/plain", NULL, "broken", 6);
  } else if (strcmp(req->path, "/big") == 0) {
    /* ?n=<bytes>: a body of exactly that many bytes. */
    char nbuf[32];
    assert_true(http_query_param(req->query, "n", nbuf, sizeof(nbuf)) > 0);
    size_t n = (size_t)strtoul(nbuf, NULL, 10);
    c->max_out = 8 * 1024 * 1024; /* room for the bodies over the client's cap */
    char *body = malloc(n);
    assert_non_null(body);
    for (size_t i = 0; i < n; i++)
      body[i] = (char)('a' + i % 26);
    http_respond(c, 200, "application/octet-stream", NULL, body, n);
    free(body);
  } else if (strcmp(req->path, "/hang") == 0) {
    assert_null(srv.held);
    conn_ref(c);
    srv.held = c; /* never answered */
  } else {
    http_respond(c, 404, "text/plain", NULL, "nope", 4);
  }
}

static void release_held(void) {
  if (srv.held) {
    conn_close(srv.held);
    conn_unref(srv.held);
    srv.held = NULL;
  }
}

static int group_setup(void **state) {
  (void)state;
  if (harness_init(&srv.loop) != 0 || http_client_new(&srv.loop, &srv.hc) != 0)
    return -1;
  srv.port = harness_http_listen(&srv.http, on_request, &srv);
  return srv.port > 0 ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  release_held();
  http_client_free(srv.hc);
  http_server_close(&srv.http, NULL);
  return harness_finish() == 0 ? 0 : -1;
}

/* ---- the client's callback ------------------------------------------------
 */

struct result {
  int called;
  long status;
  char *body; /* copy */
  size_t len;
  char *error; /* copy, or NULL */
  /* Response headers, "(none)" if absent (only readable in the callback). */
  char nonce[64], location[128], link[128], missing[16];
};

static void header_copy(const struct http_client_resp *r, const char *name, char *out,
                        size_t size) {
  const char *v = http_client_resp_header(r, name);
  snprintf(out, size, "%s", v ? v : "(none)");
}

static void on_done(void *arg, const struct http_client_resp *r) {
  struct result *res = arg;
  res->called++;
  res->status = r->status;
  assert_non_null(r->body);
  assert_int_equal(r->body[r->len], 0); /* NUL-terminated, as promised */
  res->body = malloc(r->len + 1);
  assert_non_null(res->body);
  memcpy(res->body, r->body, r->len + 1);
  res->len = r->len;
  res->error = r->error ? strdup(r->error) : NULL;
  header_copy(r, "Replay-Nonce", res->nonce, sizeof(res->nonce));
  header_copy(r, "location", res->location, sizeof(res->location));
  header_copy(r, "Link", res->link, sizeof(res->link));
  header_copy(r, "X-Not-There", res->missing, sizeof(res->missing));
}

static void result_free(struct result *r) {
  free(r->body);
  free(r->error);
  memset(r, 0, sizeof(*r));
}

static int cond_called(void *arg) {
  struct result *r = arg;
  return r->called > 0;
}

/* Waits for the callback; fails if it does not run exactly once. */
static void wait_done(struct result *r) {
  if (!harness_wait_until(cond_called, r))
    fail_msg("the request never finished");
  harness_settle();
  assert_int_equal(r->called, 1);
}

static void url(char *out, size_t size, const char *path) {
  snprintf(out, size, "http://127.0.0.1:%d%s", srv.port, path);
}

static int setup(void **state) {
  (void)state;
  srv.nreq = 0;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  release_held();
  harness_settle();
  return 0;
}

/* ---- tests ----------------------------------------------------------------
 */

/* Responses of every kind are reported as responses: status and body, no
 * error. Redirects are not followed. */
static void test_get_responses(void **state) {
  (void)state;
  static const struct {
    const char *path;
    long status;
    const char *body;
    int nreq; /* requests the server saw */
  } cases[] = {
      {"/hello", 200, "hello, world", 1},
      {"/hello?x=1&y=%20", 200, "hello, world", 1},
      {"/missing", 404, "nope", 1},
      {"/fail", 500, "broken", 1},
      {"/empty", 204, "", 1},
      {"/redirect", 302, "moved", 1}, /* /hello is not fetched */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char u[128];
    struct result r = {0};
    srv.nreq = 0;
    url(u, sizeof(u), cases[i].path);
    assert_int_equal(http_client_get(srv.hc, u, on_done, &r), 0);
    assert_int_equal(r.called, 0); /* never from inside the call */
    wait_done(&r);
    if (r.status != cases[i].status || r.error != NULL || strcmp(r.body, cases[i].body) != 0) {
      print_error("%s: status %ld body \"%s\" error %s\n", cases[i].path, r.status, r.body,
                  r.error ? r.error : "(none)");
      fail();
    }
    assert_int_equal(r.len, strlen(cases[i].body));
    assert_int_equal(srv.nreq, cases[i].nreq);
    assert_int_equal(srv.reqs[0].method, HTTP_GET);
    assert_string_equal(srv.reqs[0].user_agent, "onair");
    assert_string_equal(srv.reqs[0].authorization, "");
    result_free(&r);
  }
}

/* Several requests in flight at once each get their own answer. */
static void test_concurrent(void **state) {
  (void)state;
  enum { N = 6 };
  struct result r[N];
  memset(r, 0, sizeof(r));
  for (int i = 0; i < N; i++) {
    char u[128];
    url(u, sizeof(u), i % 2 ? "/hello" : "/missing");
    assert_int_equal(http_client_get(srv.hc, u, on_done, &r[i]), 0);
  }
  for (int i = 0; i < N; i++) {
    wait_done(&r[i]);
    assert_null(r[i].error);
    assert_int_equal(r[i].status, i % 2 ? 200 : 404);
    assert_string_equal(r[i].body, i % 2 ? "hello, world" : "nope");
    result_free(&r[i]);
  }
  assert_int_equal(srv.nreq, N);
}

/* The form goes as the body with its content type; user and password as
 * HTTP Basic. */
static void test_post_form(void **state) {
  (void)state;
  static const struct {
    const char *form;
    const char *user, *pass;
    const char *authorization; /* what the server must see */
  } cases[] = {
      {"grant_type=authorization_code&code=abc%2Bdef", "onair-client", "s3cret",
       "Basic b25haXItY2xpZW50OnMzY3JldA=="},
      {"a=1", "user%3Aname", "p%40ss", "Basic dXNlciUzQW5hbWU6cCU0MHNz"},
      {"a=1", "only-user", NULL, "Basic b25seS11c2VyOg=="},
      {"no=auth", NULL, NULL, ""},
      {"", NULL, NULL, ""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char u[128];
    struct result r = {0};
    srv.nreq = 0;
    url(u, sizeof(u), "/form");
    assert_int_equal(
        http_client_post_form(srv.hc, u, cases[i].form, cases[i].user, cases[i].pass, on_done, &r),
        0);
    wait_done(&r);
    assert_null(r.error);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"ok\":true}");
    assert_int_equal(srv.nreq, 1);
    struct seen *s = &srv.reqs[0];
    assert_int_equal(s->method, HTTP_POST);
    assert_string_equal(s->path, "/form");
    assert_string_equal(s->content_type, "application/x-www-form-urlencoded");
    assert_int_equal(s->body_len, strlen(cases[i].form));
    assert_memory_equal(s->body, cases[i].form, s->body_len);
    if (strcmp(s->authorization, cases[i].authorization) != 0) {
      print_error("form %zu: Authorization \"%s\", want \"%s\"\n", i, s->authorization,
                  cases[i].authorization);
      fail();
    }
    result_free(&r);
  }
}

/* What ACME sends: a signed JSON body with its own content type, HEAD for
 * a nonce; and what it reads: response headers. */
static void test_request_json_head_headers(void **state) {
  (void)state;
  char u[128];
  url(u, sizeof(u), "/acme");
  static const char body[] = "{\"protected\":\"e30\",\"payload\":\"\",\"signature\":\"x\"}";
  struct http_client_req post = {.method = "POST",
                                 .url = u,
                                 .body = body,
                                 .body_len = sizeof(body) - 1,
                                 .content_type = "application/jose+json",
                                 .accept = "application/pem-certificate-chain"};
  struct result r = {0};
  srv.nreq = 0;
  assert_int_equal(http_client_request(srv.hc, &post, on_done, &r), 0);
  wait_done(&r);
  assert_null(r.error);
  assert_int_equal(r.status, 201);
  assert_string_equal(r.body, "{\"status\":\"pending\"}");
  assert_string_equal(r.nonce, "nonce-2");
  assert_string_equal(r.location, "https://ca.example/order/1"); /* any case of the name */
  assert_string_equal(r.link, "<https://ca.example/alt>;rel=\"alternate\""); /* the last */
  assert_string_equal(r.missing, "(none)");
  struct seen *s = &srv.reqs[0];
  assert_int_equal(s->method, HTTP_POST);
  assert_string_equal(s->content_type, "application/jose+json");
  assert_string_equal(s->accept, "application/pem-certificate-chain");
  assert_int_equal(s->body_len, sizeof(body) - 1);
  assert_memory_equal(s->body, body, s->body_len);
  result_free(&r);

  struct http_client_req head = {.method = "HEAD", .url = u};
  srv.nreq = 0;
  assert_int_equal(http_client_request(srv.hc, &head, on_done, &r), 0);
  wait_done(&r);
  assert_null(r.error);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.len, 0);
  assert_string_equal(r.nonce, "nonce-2");
  assert_int_equal(srv.reqs[0].method, HTTP_HEAD);
  assert_string_equal(srv.reqs[0].accept, "*/*"); /* none asked for: curl's default */
  result_free(&r);

  /* A failed request has no headers. */
  char refused[64];
  snprintf(refused, sizeof(refused), "http://127.0.0.1:%d/acme", harness_dead_port());
  struct http_client_req dead = {.method = "HEAD", .url = refused};
  assert_int_equal(http_client_request(srv.hc, &dead, on_done, &r), 0);
  wait_done(&r);
  assert_non_null(r.error);
  assert_string_equal(r.nonce, "(none)");
  result_free(&r);

  struct http_client_req bad[] = {{.method = "PUT", .url = u}, {.method = "GET", .url = NULL}};
  for (size_t i = 0; i < 2; i++)
    assert_int_equal(http_client_request(srv.hc, &bad[i], on_done, &r), -EINVAL);
  assert_int_equal(r.called, 0);
}

/* A request's own cap on the body. */
static void test_request_cap(void **state) {
  (void)state;
  static const struct {
    size_t cap, n;
    int ok;
  } cases[] = {{100, 100, 1}, {100, 101, 0}, {64 * 1024, 64 * 1024 + 1, 0}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char path[64], u[128];
    snprintf(path, sizeof(path), "/big?n=%zu", cases[i].n);
    url(u, sizeof(u), path);
    struct http_client_req rq = {.url = u, .max_body = cases[i].cap};
    struct result r = {0};
    assert_int_equal(http_client_request(srv.hc, &rq, on_done, &r), 0);
    wait_done(&r);
    assert_int_equal(r.error == NULL, cases[i].ok);
    assert_int_equal(r.len, cases[i].ok ? cases[i].n : 0);
    result_free(&r);
    harness_settle();
  }
}

/* No response: an error for a person, status 0. */
static void test_errors(void **state) {
  (void)state;
  char refused[64];
  snprintf(refused, sizeof(refused), "http://127.0.0.1:%d/hello", harness_dead_port());
  const char *const urls[] = {
      refused,
      "file:///etc/hostname", /* only http and https */
      "ftp://127.0.0.1/x",
      "gopher://127.0.0.1/x",
      "http://[::1", /* malformed */
  };
  for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
    struct result r = {0};
    srv.nreq = 0;
    assert_int_equal(http_client_get(srv.hc, urls[i], on_done, &r), 0);
    wait_done(&r);
    if (r.error == NULL || r.status != 0) {
      print_error("%s: status %ld, error %s\n", urls[i], r.status, r.error ? r.error : "(none)");
      fail();
    }
    assert_true(strlen(r.error) > 0);
    assert_int_equal(r.len, 0);
    assert_string_equal(r.body, "");
    result_free(&r);
  }
  assert_int_equal(srv.nreq, 0);
}

/* Bodies up to HTTP_CLIENT_MAX_BODY arrive whole; one byte more fails. */
static void test_body_cap(void **state) {
  (void)state;
  static const struct {
    size_t n;
    int ok;
  } cases[] = {
      {0, 1},
      {100 * 1024, 1},
      {HTTP_CLIENT_MAX_BODY, 1},
      {HTTP_CLIENT_MAX_BODY + 1, 0},
      {3 * HTTP_CLIENT_MAX_BODY, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char path[64], u[128];
    struct result r = {0};
    snprintf(path, sizeof(path), "/big?n=%zu", cases[i].n);
    url(u, sizeof(u), path);
    assert_int_equal(http_client_get(srv.hc, u, on_done, &r), 0);
    wait_done(&r);
    if (cases[i].ok) {
      if (r.error) {
        print_error("%zu bytes: %s\n", cases[i].n, r.error);
        fail();
      }
      assert_int_equal(r.status, 200);
      assert_int_equal(r.len, cases[i].n);
      for (size_t k = 0; k < r.len; k += 4099)
        assert_int_equal(r.body[k], 'a' + k % 26);
      if (r.len)
        assert_int_equal(r.body[r.len - 1], 'a' + (r.len - 1) % 26);
    } else {
      if (r.error == NULL) {
        print_error("%zu bytes: accepted (status %ld, %zu bytes)\n", cases[i].n, r.status, r.len);
        fail();
      }
      assert_int_equal(r.status, 0);
      assert_int_equal(r.len, 0);
    }
    result_free(&r);
    harness_settle();
  }
}

static int cond_held(void *arg) {
  (void)arg;
  return srv.held != NULL;
}

/* A server that takes the request and never answers: the request fails
 * after HTTP_CLIENT_TIMEOUT_MS, not before, and the loop was never stalled
 * meanwhile (another request is served while it waits). */
static void test_timeout(void **state) {
  (void)state;
  char u[128];
  struct result hung = {0}, quick = {0};
  url(u, sizeof(u), "/hang");
  uint64_t t0 = uv_now(&srv.loop);
  assert_int_equal(http_client_get(srv.hc, u, on_done, &hung), 0);
  assert_true(harness_wait_until(cond_held, NULL));
  url(u, sizeof(u), "/hello");
  assert_int_equal(http_client_get(srv.hc, u, on_done, &quick), 0);
  wait_done(&quick);
  assert_int_equal(quick.status, 200);
  assert_int_equal(hung.called, 0);
  wait_done(&hung);
  uint64_t elapsed = uv_now(&srv.loop) - t0;
  assert_non_null(hung.error);
  assert_int_equal(hung.status, 0);
  if (elapsed < HTTP_CLIENT_TIMEOUT_MS - 100 || elapsed > HTTP_CLIENT_TIMEOUT_MS + 5000) {
    print_error("timed out after %llu ms\n", (unsigned long long)elapsed);
    fail();
  }
  result_free(&hung);
  result_free(&quick);
}

/* What a cancelled request's callback saw, and a request it tried to start
 * from inside the callback. */
struct cancelled {
  int called;
  int error_is_cancelled;
  long status;
  struct http_client *hc; /* asks it for another request from the callback */
  int again_rc;
};

static void on_cancelled(void *arg, const struct http_client_resp *r) {
  struct cancelled *c = arg;
  c->called++;
  c->error_is_cancelled = r->error && strcmp(r->error, "cancelled") == 0;
  c->status = r->status;
  if (c->hc)
    c->again_rc = http_client_get(c->hc, "http://127.0.0.1:1/", on_cancelled, c);
}

/* Freeing a client ends what it has in flight: each callback runs once,
 * from inside http_client_free, with the error "cancelled" (so its owner can
 * free what it holds); a request asked for from there is refused; nothing is
 * leaked (run under valgrind) and the loop can close. */
static void test_free_in_flight(void **state) {
  (void)state;
  struct http_client *hc;
  struct cancelled hung = {0}, early = {0};
  char u[128];
  assert_int_equal(http_client_new(&srv.loop, &hc), 0);
  url(u, sizeof(u), "/hang");
  hung.hc = hc;
  assert_int_equal(http_client_get(hc, u, on_cancelled, &hung), 0);
  assert_true(harness_wait_until(cond_held, NULL));
  assert_int_equal(hung.called, 0);
  http_client_free(hc);
  assert_int_equal(hung.called, 1);
  assert_true(hung.error_is_cancelled);
  assert_int_equal(hung.status, 0);
  assert_int_equal(hung.again_rc, -ECANCELED);
  harness_settle();
  release_held();
  harness_settle();
  assert_int_equal(hung.called, 1);
  /* A client freed before its request even started. */
  assert_int_equal(http_client_new(&srv.loop, &hc), 0);
  url(u, sizeof(u), "/hello");
  assert_int_equal(http_client_get(hc, u, on_cancelled, &early), 0);
  http_client_free(hc);
  assert_int_equal(early.called, 1);
  assert_true(early.error_is_cancelled);
  harness_settle();
  assert_int_equal(early.called, 1);
}

static void test_escape(void **state) {
  (void)state;
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"", ""},
      {"abcXYZ019", "abcXYZ019"},
      {"-._~", "-._~"},
      {"a b", "a%20b"},
      {"a+b&c=d", "a%2Bb%26c%3Dd"},
      {"/?#[]@", "%2F%3F%23%5B%5D%40"},
      {"http://127.0.0.1:8080/cb?x=1", "http%3A%2F%2F127.0.0.1%3A8080%2Fcb%3Fx%3D1"},
      {"\xc3\xa9", "%C3%A9"},
      {"%", "%25"},
      {"\n\t", "%0A%09"},
      {"openid profile email", "openid%20profile%20email"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *e = http_client_escape(cases[i].in);
    assert_non_null(e);
    if (strcmp(e, cases[i].out) != 0) {
      print_error("escape(\"%s\") = \"%s\", want \"%s\"\n", cases[i].in, e, cases[i].out);
      fail();
    }
    free(e);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_get_responses, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_post_form, setup, teardown),
      cmocka_unit_test_setup_teardown(test_request_json_head_headers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_request_cap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_body_cap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_free_in_flight, setup, teardown),
      cmocka_unit_test_setup_teardown(test_escape, setup, teardown),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
