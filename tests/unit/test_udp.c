/* The media socket (src/media/udp.c) on a real loop over 127.0.0.1:
 * batched receive, queued sends leaving at the end of the loop turn, ring
 * overflow flushing, stats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

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

static void run_until(uv_loop_t *loop, struct inbox *in, int want) {
  for (int i = 0; i < 2000 && in->count < want; i++)
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
      cmocka_unit_test(test_send_receive_batches),
      cmocka_unit_test(test_bad_address),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
