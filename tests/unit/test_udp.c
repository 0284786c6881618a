/* The media socket (src/media/udp.c) on a real loop over 127.0.0.1:
 * batched receive, queued sends leaving at the end of the loop turn, ring
 * overflow flushing, GSO grouping per destination, stats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "media/udp.h"

struct inbox {
  int count;
  uint32_t seen[4096];
  struct sockaddr_storage last_from;
};

static void on_recv(void *arg, uint8_t *data, size_t len, const struct sockaddr *from,
                    socklen_t from_len) {
  struct inbox *in = arg;
  assert_int_equal(len, 100);
  uint32_t v;
  memcpy(&v, data, 4);
  if (in->count < 4096)
    in->seen[in->count] = v;
  in->count++;
  memcpy(&in->last_from, from, from_len);
}

/* Spins the loop until in has want datagrams, or 5 s have passed (a
 * bound, not a measure: a busy socket is paused 1 ms between reads,
 * UDP_PACE_MS, which a fixed count of turns may not outlast). */
#define RUN_LIMIT_NS 5000000000ull

static void run_until(uv_loop_t *loop, struct inbox *in, int want) {
  uint64_t end = uv_hrtime() + RUN_LIMIT_NS;
  while (in->count < want && uv_hrtime() < end)
    uv_run(loop, UV_RUN_NOWAIT);
}

static struct sockaddr_in addr_of(struct udp_sock *u) {
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", udp_local_port(u), &a);
  return a;
}

static void test_send_receive_batches(void **state) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct inbox ia = {0}, ib = {0};
  struct udp_sock *a, *b;
  assert_int_equal(udp_open(&loop, "127.0.0.1", 0, on_recv, &ia, &a), 0);
  assert_int_equal(udp_open(&loop, "127.0.0.1", 0, on_recv, &ib, &b), 0);
  assert_true(udp_local_port(a) > 0);
  struct sockaddr_in to_b = addr_of(b);
  /* More than a ring's worth: the ring flushes itself when full. */
  int total = UDP_SEND_SLOTS + 100;
  for (uint32_t i = 0; i < (uint32_t)total; i++) {
    uint8_t *slot = udp_slot(a);
    memset(slot, 0, 100);
    memcpy(slot, &i, 4);
    udp_commit(a, 100, (struct sockaddr *)&to_b, sizeof(to_b));
  }
  run_until(&loop, &ib, total);
  assert_int_equal(ib.count, total);
  for (int i = 0; i < total; i++)
    assert_int_equal(ib.seen[i], (uint32_t)i); /* in order on loopback */
  assert_int_equal(ntohs(((struct sockaddr_in *)&ib.last_from)->sin_port), udp_local_port(a));
  assert_int_equal(udp_get_stats(a)->tx_packets, (uint64_t)total);
  assert_int_equal(udp_get_stats(b)->rx_packets, (uint64_t)total);
  assert_int_equal(udp_get_stats(b)->rx_bytes, (uint64_t)total * 100);

  /* udp_send copies; an oversized datagram is not queued. */
  uint8_t big[UDP_SLOT_BYTES + 1] = {0};
  struct sockaddr_in to_a = addr_of(a);
  uint32_t v = 7;
  uint8_t msg[100] = {0};
  memcpy(msg, &v, 4);
  udp_send(b, big, sizeof(big), (struct sockaddr *)&to_a, sizeof(to_a));
  udp_send(b, msg, sizeof(msg), (struct sockaddr *)&to_a, sizeof(to_a));
  run_until(&loop, &ia, 1);
  assert_int_equal(ia.count, 1);
  assert_int_equal(ia.seen[0], 7);
  udp_close(a);
  udp_close(b);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* Datagrams of any length, each starting with its 4-byte number. */
struct lens {
  int count;
  uint32_t id[256];
  size_t len[256];
};

static void on_recv_lens(void *arg, uint8_t *data, size_t len, const struct sockaddr *from,
                         socklen_t from_len) {
  struct lens *in = arg;
  (void)from, (void)from_len;
  assert_true(len >= 4 && in->count < 256);
  memcpy(&in->id[in->count], data, 4);
  in->len[in->count++] = len;
}

static void queue(struct udp_sock *u, struct udp_sock *to, uint32_t id, size_t len) {
  struct sockaddr_in a = addr_of(to);
  uint8_t *slot = udp_slot(u);
  memset(slot, (int)id, len);
  memcpy(slot, &id, 4);
  udp_commit(u, len, (struct sockaddr *)&a, sizeof(a));
}

static void run_until_lens(uv_loop_t *loop, struct lens *x, int nx, struct lens *y, int ny) {
  uint64_t end = uv_hrtime() + RUN_LIMIT_NS;
  while ((x->count < nx || y->count < ny) && uv_hrtime() < end)
    uv_run(loop, UV_RUN_NOWAIT);
}

/* One turn's datagrams to two viewers, interleaved as forwarding queues
 * them: each viewer gets its own, in order, each the length it was queued
 * with (not glued together); with GSO they left in a few messages (a run of
 * equal sizes, ended by a shorter one), without it one message each. */
static void check_gso(int gso) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct lens lb = {0}, lc = {0}, ld = {0};
  struct inbox ia = {0};
  struct udp_sock *a, *b, *c, *d;
  assert_int_equal(udp_open(&loop, "127.0.0.1", 0, on_recv, &ia, &a), 0);
  assert_int_equal(udp_open(&loop, "127.0.0.1", 0, on_recv_lens, &lb, &b), 0);
  assert_int_equal(udp_open(&loop, "127.0.0.1", 0, on_recv_lens, &lc, &c), 0);
  assert_int_equal(udp_open(&loop, "127.0.0.1", 0, on_recv_lens, &ld, &d), 0);
  assert_int_equal(udp_set_gso(a, gso), 0); /* Linux 4.18 and later have it */
  /* b: 5 x 1200, one 700 (ends the run), 3 x 1200 again; c: 9 x 900;
   * d: 2 x 200 (audio: no run of short datagrams). */
  static const size_t b_len[9] = {1200, 1200, 1200, 1200, 1200, 700, 1200, 1200, 1200};
  for (uint32_t i = 0; i < 9; i++) {
    queue(a, b, i, b_len[i]);
    queue(a, c, 100 + i, 900);
    if (i < 2)
      queue(a, d, 200 + i, 200);
  }
  udp_flush(a);
  const struct udp_stats *st = udp_get_stats(a);
  assert_int_equal(st->tx_packets, 20);
  assert_int_equal(st->tx_sends, gso ? 5 : 20); /* b: 6 + 3, c: 9, d: 1 + 1 */
  assert_int_equal(st->tx_gso_fallbacks, 0);
  run_until_lens(&loop, &lb, 9, &lc, 9);
  run_until_lens(&loop, &ld, 2, &lc, 9);
  assert_int_equal(ld.count, 2);
  assert_int_equal(ld.id[1], 201);
  assert_int_equal(lb.count, 9);
  assert_int_equal(lc.count, 9);
  for (int i = 0; i < 9; i++) {
    assert_int_equal(lb.id[i], (uint32_t)i);
    assert_int_equal(lb.len[i], b_len[i]);
    assert_int_equal(lc.id[i], (uint32_t)(100 + i));
    assert_int_equal(lc.len[i], 900);
  }
  udp_close(a);
  udp_close(b);
  udp_close(c);
  udp_close(d);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_gso_per_destination(void **state) {
  (void)state;
  check_gso(1);
}

static void test_without_gso(void **state) {
  (void)state;
  check_gso(0);
}

/* More datagrams to one address than one GSO message may hold: they are
 * split over several messages, and all arrive in order. */
static void test_gso_message_caps(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct lens lb = {0}, none = {0};
  struct inbox ia = {0};
  struct udp_sock *a, *b;
  assert_int_equal(udp_open(&loop, "127.0.0.1", 0, on_recv, &ia, &a), 0);
  assert_int_equal(udp_open(&loop, "127.0.0.1", 0, on_recv_lens, &lb, &b), 0);
  for (uint32_t i = 0; i < 200; i++)
    queue(a, b, i, 1000); /* 60 fit in UDP_GSO_BYTES */
  udp_flush(a);
  assert_int_equal(udp_get_stats(a)->tx_packets, 200);
  assert_int_equal(udp_get_stats(a)->tx_sends, 4); /* 60 + 60 + 60 + 20 */
  run_until_lens(&loop, &lb, 200, &none, 0);
  assert_int_equal(lb.count, 200);
  for (int i = 0; i < 200; i++)
    assert_int_equal(lb.id[i], (uint32_t)i);
  udp_close(a);
  udp_close(b);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* Sends n datagrams numbered from *next to u over a plain socket. */
static void plain_send(int fd, struct udp_sock *u, uint32_t *next, int n) {
  struct sockaddr_in to = addr_of(u);
  uint8_t buf[100] = {0};
  for (int i = 0; i < n; i++, (*next)++) {
    memcpy(buf, next, 4);
    assert_int_equal(sendto(fd, buf, sizeof(buf), 0, (struct sockaddr *)&to, sizeof(to)), 100);
  }
}

/* A busy socket is read at most once per UDP_PACE_MS: a read right after
 * another leaves what comes next in the kernel until the pause is over;
 * then it is all read, in order, none lost. A quiet socket is read at once. */
static void test_paced_reads(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct inbox in = {0};
  struct udp_sock *u;
  assert_int_equal(udp_open(&loop, "127.0.0.1", 0, on_recv, &in, &u), 0);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(fd >= 0);
  uint32_t next = 0;
  /* Waits (the pause's timer, then the read) until want have come. */
#define WAIT_FOR(want)            \
  do {                            \
    while (in.count < (want))     \
      uv_run(&loop, UV_RUN_ONCE); \
  } while (0)
  plain_send(fd, u, &next, 5);
  WAIT_FOR(5);
  struct udp_stats s;
  udp_stats_read(u, &s);
  assert_int_equal(s.rx_paced, 0); /* quiet until now: read at once */
  /* Right after the last read: read, then a pause (tried again on a
   * machine so slow that two reads came more than 2 ms apart). */
  uint64_t start = 0; /* the loop's time before the read that paused it */
  for (int tries = 0; tries < 20 && s.rx_paced == 0; tries++) {
    uv_update_time(&loop);
    start = uv_now(&loop);
    plain_send(fd, u, &next, 5);
    WAIT_FOR((int)next);
    udp_stats_read(u, &s);
  }
  assert_true(s.rx_paced >= 1);
  uint64_t reads = s.rx_reads;
  int had = in.count;
  plain_send(fd, u, &next, 5);
  for (int i = 0; i < 50; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  uv_update_time(&loop);
  /* The pause's timer is due UDP_PACE_MS of the loop's time after that
   * read, so not before start + UDP_PACE_MS (a slow machine may be past it). */
  if (uv_now(&loop) - start < UDP_PACE_MS)
    assert_int_equal(in.count, had); /* left in the kernel meanwhile */
  WAIT_FOR((int)next);
#undef WAIT_FOR
  assert_int_equal(in.count, (int)next);
  for (int i = 0; i < in.count; i++)
    assert_int_equal(in.seen[i], (uint32_t)i);
  udp_stats_read(u, &s);
  assert_int_equal(s.rx_packets, next);
  assert_true(s.rx_reads <= reads + 2); /* the five in one read or two */
  close(fd);
  udp_close(u);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_bad_address(void **state) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct udp_sock *u;
  struct inbox in = {0};
  assert_int_equal(udp_open(&loop, "not-an-address", 0, on_recv, &in, &u), -EINVAL);
  assert_int_equal(udp_open(&loop, "192.0.2.1", 0, on_recv, &in, &u), -EADDRNOTAVAIL);
  uv_loop_close(&loop);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_send_receive_batches), cmocka_unit_test(test_gso_per_destination),
      cmocka_unit_test(test_without_gso),          cmocka_unit_test(test_gso_message_caps),
      cmocka_unit_test(test_bad_address),          cmocka_unit_test(test_paced_reads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
