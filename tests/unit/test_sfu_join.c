/* A viewer joining a room that is already live (src/media/sfu_fwd.c,
 * docs/media.md "Forwarding"): it starts on the cached keyframe, and the
 * keyframe and everything after it reach it paced, in order and whole,
 * never as one burst that a receive buffer drops.
 *
 * A real struct sfu on 127.0.0.1 and the "browsers" of sfu_browser.h. The
 * viewer's socket gets a receive buffer smaller than Linux's default (64
 * KiB, 128 KiB as the kernel counts it) and is read only between turns of
 * the loop, as a browser's would be: the video before
 * the join (about 165 KB) sent at once would not fit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <unistd.h>

#include "sfu_browser.h"

#define PAYLOAD 1100 /* bytes of VP8 per packet, as a camera's */
#define EVERY_MS 4   /* about 2 Mbit/s */
#define BEFORE 150   /* packets before the join: 0.6 s, well inside SFU_REPLAY_MAX_AGE_MS */
#define AFTER 250    /* packets while the viewer catches up */

static uint64_t until_ms;
static int time_passed(struct browser *b) { return uv_now(&w.loop) >= until_ms; }

static void run_for(struct browser *b, uint64_t ms) {
  until_ms = uv_now(&w.loop) + ms;
  wait_for(time_passed, b, "time to pass");
}

/* ms of real time pass, then the loop runs what came and every browser
 * reads what it got: a camera's spacing (run_for waits for events, and
 * may take the media plane's 100 ms timer to notice the time). */
static void tick(unsigned ms) {
  usleep(ms * 1000);
  harness_step();
  poll_all();
  harness_step();
}

/* A camera-sized VP8 packet (a keyframe's first, or an interframe's). */
static void publisher_big(struct browser *b, int keyframe) {
  static uint8_t pkt[12 + PAYLOAD + SRTPCTX_MAX_TRAILER];
  static const uint8_t key[] = {0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00};
  static const uint8_t inter[] = {0x10, 0x01, 0x00, 0x00, 0x00, 0x00};
  uint16_t seq = ++b->seq;
  uint32_t ts = (uint32_t)seq * 3000;
  memset(pkt, 0, sizeof(pkt));
  uint8_t head[12] = {0x80,
                      96,
                      (uint8_t)(seq >> 8),
                      (uint8_t)seq,
                      (uint8_t)(ts >> 24),
                      (uint8_t)(ts >> 16),
                      (uint8_t)(ts >> 8),
                      (uint8_t)ts,
                      0x11,
                      0x22,
                      0x33,
                      0x44};
  memcpy(pkt, head, sizeof(head));
  memcpy(pkt + 12, keyframe ? key : inter, keyframe ? sizeof(key) : sizeof(inter));
  size_t len = 12 + PAYLOAD;
  assert_int_equal(srtpctx_protect_rtp(b->srtp, pkt, &len, sizeof(pkt)), 0);
  browser_send(b, pkt, len);
}

static size_t want;
static int has_all(struct browser *b) { return b->nrtp >= want; }

static void test_join_paced_in_order_whole(void **state) {
  struct browser *none[1];
  struct browser *pub = room_with_viewers(none, 0);
  struct browser *v = browser_new(0, 0); /* its keys made before: the join itself is quick */
  publisher_big(pub, 1);
  for (int i = 1; i < BEFORE; i++) {
    tick(EVERY_MS);
    publisher_big(pub, 0);
  }
  int small = 64 * 1024;
  assert_int_equal(setsockopt(v->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
  browser_offer(v);
  browser_connect(v);
  for (int i = 0; i < AFTER; i++) {
    tick(EVERY_MS);
    publisher_big(pub, 0);
  }
  want = BEFORE + AFTER;
  wait_for(has_all, v, "every packet from the keyframe on");
  run_for(v, 50);
  /* Each packet once, in order, numbered without a gap: nothing dropped. */
  assert_int_equal(v->nrtp, BEFORE + AFTER);
  for (size_t i = 1; i < v->nrtp; i++)
    assert_int_equal((uint16_t)(v->rtp_seq[i - 1] + 1), v->rtp_seq[i]);
  struct sfu_peer *p = peer_of(v);
  assert_false(p->view->out[SFU_VIDEO].catching_up); /* live now */
  assert_int_equal(w.sfu->stats.dropped[SFU_DROP_SEND_BUFFER], 0);
}

/* A viewer that joins while the publisher pauses still gets the whole
 * start, from the media plane's timer. */
static void test_join_during_a_pause(void **state) {
  struct browser *none[1];
  struct browser *pub = room_with_viewers(none, 0);
  struct browser *v = browser_new(0, 0);
  publisher_big(pub, 1);
  for (int i = 1; i < 100; i++) {
    tick(2);
    publisher_big(pub, 0);
  }
  browser_offer(v);
  browser_connect(v);
  want = 100;
  wait_for(has_all, v, "the stored start, with no packet coming in");
  assert_int_equal(v->nrtp, 100);
  assert_false(peer_of(v)->view->out[SFU_VIDEO].catching_up);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_join_paced_in_order_whole, setup, teardown),
      cmocka_unit_test_setup_teardown(test_join_during_a_pause, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
