/* The cluster's bus (src/cluster/bus.h): the in-process one, and the Redis
 * one against a real redis-server the test starts on a unix socket in a
 * temporary directory (and stops, and starts again: the bus must come back
 * by itself). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster/bus.h"
#include "harness.h"

/* What one bus heard. */
struct heard {
  char last[256];
  int msgs;
  int ups, downs;
  int lists;   /* bus_get_all answers */
  int list_rc; /* the last one's */
  size_t nvalues;
  char values[8][128];
};

static void on_msg(void *arg, const char *msg, size_t len) {
  struct heard *h = arg;
  snprintf(h->last, sizeof(h->last), "%.*s", (int)len, msg);
  h->msgs++;
}

static void on_state(void *arg, int up) {
  struct heard *h = arg;
  if (up)
    h->ups++;
  else
    h->downs++;
}

static void on_values(void *arg, int rc, const char *const *values, size_t n) {
  struct heard *h = arg;
  h->lists++;
  h->list_rc = rc;
  h->nvalues = n;
  for (size_t i = 0; i < n && i < 8; i++)
    snprintf(h->values[i], sizeof(h->values[i]), "%s", values[i]);
}

static int has_value(const struct heard *h, const char *v) {
  for (size_t i = 0; i < h->nvalues && i < 8; i++)
    if (strcmp(h->values[i], v) == 0)
      return 1;
  return 0;
}

/* Runs the loop for ms of wall time. */
static void run_for(unsigned ms) {
  uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000;
  while (uv_hrtime() < end)
    harness_wait_event();
}

struct want {
  const int *v;
  int n;
};

static int reached(void *arg) {
  const struct want *w = arg;
  return *w->v >= w->n;
}

/* Waits until *v >= n; 1 if it came. */
static int wait_count(const int *v, int n) {
  struct want w = {v, n};
  return harness_wait_until(reached, &w);
}

/* ---- redis-server ---- */

static char dir[] = "/tmp/onair-test-bus-XXXXXX";
static char sock[128], url[160];
static int tcp_port; /* redis-server listens on 127.0.0.1:tcp_port, else on sock */
static pid_t redis_pid;

static void redis_start(void) {
  redis_pid = fork();
  assert_true(redis_pid >= 0);
  if (redis_pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* gone with the test, however it ends */
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
      dup2(null, 1);
      dup2(null, 2);
    }
    /* Nothing the test inherited (a flock's lock file) stays open in it. */
    for (int fd = 3; fd < 1024; fd++)
      close(fd);
    char port[16];
    snprintf(port, sizeof(port), "%d", tcp_port);
    if (tcp_port)
      execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", (char *)NULL);
    else
      execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock, "--save", "",
             "--appendonly", "no", "--daemonize", "no", (char *)NULL);
    _exit(127);
  }
  if (tcp_port)
    return; /* the buses retry until it listens */
  /* Ready when the socket answers: the bus's own retries wait for it. */
  for (int i = 0; i < 100 && access(sock, F_OK) != 0; i++)
    usleep(50 * 1000);
  assert_int_equal(access(sock, F_OK), 0);
}

static void redis_stop(void) {
  if (redis_pid <= 0)
    return;
  kill(redis_pid, SIGKILL);
  waitpid(redis_pid, NULL, 0);
  redis_pid = 0;
  unlink(sock);
}

static int setup(void **state) {
  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(sock, sizeof(sock), "%s/redis.sock", dir);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  redis_stop();
  rmdir(dir);
  return 0;
}

/* ---- tests ---- */

static void test_local(void **state) {
  (void)state;
  uv_loop_t loop;
  assert_int_equal(harness_init(&loop), 0);
  struct heard h = {0};
  struct bus *b;
  assert_int_equal(bus_open_local(&b, on_msg, on_state, &h), 0);
  assert_true(b->up);
  assert_int_equal(bus_publish(b, "{}", 2), 0);
  assert_int_equal(h.msgs, 0); /* no other node: nobody hears it, not even us */
  assert_int_equal(bus_put(b, "nodes", "a", "A", 10), 0);
  assert_int_equal(bus_put(b, "nodes", "b", "B", 1), 0);
  assert_int_equal(bus_put(b, "rooms", "a", "room-a", 10), 0);
  assert_int_equal(bus_get_all(b, "nodes", on_values, &h), 0);
  assert_int_equal(h.list_rc, 0);
  assert_int_equal(h.nvalues, 2);
  assert_true(has_value(&h, "A") && has_value(&h, "B"));
  assert_int_equal(bus_put(b, "nodes", "a", "A2", 10), 0); /* a put replaces */
  assert_int_equal(bus_del(b, "rooms", "a"), 0);
  run_for(1100); /* b expires */
  assert_int_equal(bus_get_all(b, "nodes", on_values, &h), 0);
  assert_int_equal(h.nvalues, 1);
  assert_string_equal(h.values[0], "A2");
  assert_int_equal(bus_get_all(b, "rooms", on_values, &h), 0);
  assert_int_equal(h.nvalues, 0);
  char big[BUS_MSG_MAX + 2];
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = 0;
  assert_int_equal(bus_publish(b, big, strlen(big)), -EMSGSIZE);
  bus_close(b);
  assert_int_equal(harness_finish(), 0);
}

static void test_redis_bad_url(void **state) {
  (void)state;
  uv_loop_t loop;
  assert_int_equal(harness_init(&loop), 0);
  struct bus *b;
  const char *bad[] = {"http://x", "redis://", "redis://h:0", "redis://h:70000", "unix:"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(bus_open_redis(&loop, bad[i], "t", &b, on_msg, on_state, NULL), -EINVAL);
  assert_int_equal(harness_finish(), 0);
}

/* Two nodes' buses over one redis-server: messages go to the other only,
 * keys expire, and a restart of the server is survived. */
static void redis_story(void) {
  uv_loop_t loop;
  assert_int_equal(harness_init(&loop), 0);
  struct heard ha = {0}, hb = {0};
  struct bus *a, *b;
  /* The server is not there yet: the buses wait for it. */
  assert_int_equal(bus_open_redis(&loop, url, "t", &a, on_msg, on_state, &ha), 0);
  assert_int_equal(bus_open_redis(&loop, url, "t", &b, on_msg, on_state, &hb), 0);
  run_for(300);
  assert_false(a->up);
  assert_int_equal(bus_publish(a, "lost", 4), -ENOTCONN);
  assert_int_equal(a->stats.dropped, 1);
  redis_start();
  assert_true(wait_count(&ha.ups, 1));
  assert_true(wait_count(&hb.ups, 1));

  assert_int_equal(bus_publish(a, "{\"t\":\"hi\"}", 10), 0);
  assert_true(wait_count(&hb.msgs, 1));
  assert_string_equal(hb.last, "{\"t\":\"hi\"}");
  run_for(200);
  assert_int_equal(ha.msgs, 0); /* not its own */

  assert_int_equal(bus_put(a, "nodes", "a", "{\"name\":\"a\"}", 1), 0);
  assert_int_equal(bus_put(b, "nodes", "b", "{\"name\":\"b\"}", 30), 0);
  assert_int_equal(bus_get_all(b, "nodes", on_values, &hb), 0);
  assert_true(wait_count(&hb.lists, 1));
  assert_int_equal(hb.list_rc, 0);
  assert_int_equal(hb.nvalues, 2);
  assert_true(has_value(&hb, "{\"name\":\"a\"}"));
  run_for(2100); /* a's key expires: gone from the listing */
  assert_int_equal(bus_get_all(b, "nodes", on_values, &hb), 0);
  assert_true(wait_count(&hb.lists, 2));
  assert_int_equal(hb.nvalues, 1);
  assert_string_equal(hb.values[0], "{\"name\":\"b\"}");
  assert_int_equal(bus_del(b, "nodes", "b"), 0);
  assert_int_equal(bus_get_all(b, "nodes", on_values, &hb), 0);
  assert_true(wait_count(&hb.lists, 3));
  assert_int_equal(hb.nvalues, 0);

  /* The server restarts: both buses notice, come back, and talk again. */
  redis_stop();
  assert_true(wait_count(&ha.downs, 1));
  assert_true(wait_count(&hb.downs, 1));
  assert_int_equal(bus_publish(a, "lost again", 10), -ENOTCONN);
  redis_start();
  assert_true(wait_count(&ha.ups, 2));
  assert_true(wait_count(&hb.ups, 2));
  assert_int_equal(a->stats.reconnects, 1);
  assert_int_equal(bus_publish(a, "{\"t\":\"back\"}", 12), 0);
  assert_true(wait_count(&hb.msgs, 2));
  assert_string_equal(hb.last, "{\"t\":\"back\"}");

  /* A listing in flight when the bus closes is answered, cancelled. */
  hb.lists = 0;
  assert_int_equal(bus_get_all(b, "nodes", on_values, &hb), 0);
  bus_close(b);
  assert_int_equal(hb.lists, 1);
  assert_int_equal(hb.list_rc, -ECANCELED);
  bus_close(a);
  redis_stop();
  assert_int_equal(harness_finish(), 0);
}

static void test_redis(void **state) {
  (void)state;
  tcp_port = 0;
  snprintf(url, sizeof(url), "unix:%s", sock);
  redis_story();
}

/* The same over TCP, where a connection to a server that is not there yet
 * fails later, not at once. */
static void test_redis_tcp(void **state) {
  (void)state;
  tcp_port = harness_dead_port();
  assert_true(tcp_port > 0);
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d", tcp_port);
  redis_story();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_local),
      cmocka_unit_test(test_redis_bad_url),
      cmocka_unit_test(test_redis),
      cmocka_unit_test(test_redis_tcp),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
