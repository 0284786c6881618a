/* The media plane with worker threads (src/media/worker.c, sfu_share.c,
 * docs/media.md "Shares"): viewers spread over the workers, each gets every
 * packet once and in order from the worker holding it, NACKs are answered
 * there, a viewer joining later starts on the cached keyframe, a viewer
 * that leaves stops getting packets while the others go on, and a viewer
 * whose path moves between UDP and ICE-TCP moves between a worker and the
 * media plane's own loop and keeps getting the stream.
 *
 * A real struct sfu on 127.0.0.1 with two workers, and the "browsers" of
 * sfu_browser.h; the workers send from their own threads straight to the
 * browsers' sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "media/rtcp.h"
#include "sfu_browser.h"

#define VIEWERS 5

static size_t want;
static int has_want(struct browser *b) { return b->nrtp >= want; }

static uint64_t until_ms;
static int time_passed(struct browser *b) { return uv_now(&w.loop) >= until_ms; }

static void run_for(struct browser *b, uint64_t ms) {
  until_ms = uv_now(&w.loop) + ms;
  wait_for(time_passed, b, "time to pass");
}

static int setup_two(void **state) {
  setup_workers = 2;
  return setup(state);
}

/* v got n packets more than it had (before), numbered without a gap. */
static void check_run(const struct browser *v, size_t before, size_t n) {
  assert_int_equal(v->nrtp, before + n);
  for (size_t i = before + 1; i < v->nrtp; i++)
    assert_int_equal((uint16_t)(v->rtp_seq[i - 1] + 1), v->rtp_seq[i]);
}

/* n packets (a keyframe first when key), and every viewer has them all. */
static void stream(struct browser *pub, struct browser **v, int nv, int n, int key) {
  size_t before[MAX_BROWSERS];
  for (int i = 0; i < nv; i++)
    before[i] = v[i]->nrtp;
  for (int i = 0; i < n; i++)
    publisher_rtp(pub, key && i == 0);
  for (int i = 0; i < nv; i++) {
    want = before[i] + (size_t)n;
    wait_for(has_want, v[i], "the packets at every viewer");
  }
  run_for(v[0], 30); /* nothing more comes */
  for (int i = 0; i < nv; i++)
    check_run(v[i], before[i], (size_t)n);
}

static void test_viewers_spread_over_workers(void **state) {
  struct browser *v[VIEWERS];
  struct browser *pub = room_with_viewers(v, VIEWERS);
  int on[3] = {0};
  for (int i = 0; i < VIEWERS; i++) {
    int share = peer_of(v[i])->share;
    assert_true(share == 1 || share == 2); /* UDP viewers go to the workers */
    on[share]++;
  }
  assert_true(on[1] >= 2 && on[2] >= 2); /* the one with fewer each time */
  stream(pub, v, VIEWERS, 40, 1);
  struct sfu_stats st;
  sfu_get_stats(w.sfu, &st);
  assert_int_equal(st.rtp_out, VIEWERS * 40);
  assert_true(st.udp_tx_packets >= VIEWERS * 40);
}

/* The ring to a worker is a byte ring of records: 4,000 packets (about
 * three times its size, so records go round it and some meet its end)
 * arrive whole and in order. */
static void test_ring_goes_round(void **state) {
  struct browser *v[2];
  struct browser *pub = room_with_viewers(v, 2);
  assert_int_not_equal(peer_of(v[0])->share, peer_of(v[1])->share); /* one on each worker */
  for (int i = 0; i < 20; i++)
    stream(pub, v, 2, 200, i == 0);
  struct sfu_stats st;
  sfu_get_stats(w.sfu, &st);
  assert_int_equal(st.rtp_out, 2 * 4000);
}

static int setup_two_holding(void **state) {
  setup_hold_ms = 60000; /* a frame waits for its last packet */
  int rc = setup_two(state);
  setup_hold_ms = 0;
  return rc;
}

static int setup_two_hold_short(void **state) {
  setup_hold_ms = 50;
  int rc = setup_two(state);
  setup_hold_ms = 0;
  return rc;
}

/* Sends a keyframe that is a whole frame (marker bit) and waits for it at
 * the viewers. */
static void start_on_key(struct browser *pub, struct browser **v, int nv) {
  publisher_rtp(pub, PUB_KEY | PUB_MARKER);
  for (int i = 0; i < nv; i++) {
    want = 1;
    wait_for(has_want, v[i], "the keyframe at every viewer");
  }
}

/* A frame's first packets wait at the worker for its last (the marker
 * bit), however the media plane's loop took them in; then each viewer's
 * copies of the frame leave as one GSO message. */
static void test_frame_leaves_whole(void **state) {
  struct browser *v[2];
  struct browser *pub = room_with_viewers(v, 2);
  start_on_key(pub, v, 2);
  struct sfu_stats before, after;
  sfu_get_stats(w.sfu, &before);
  publisher_rtp(pub, PUB_BIG);
  publisher_rtp(pub, PUB_BIG);
  run_for(v[0], 100); /* taken in by the media plane, held by the worker */
  assert_int_equal(v[0]->nrtp, 1);
  assert_int_equal(v[1]->nrtp, 1);
  publisher_rtp(pub, PUB_BIG);
  publisher_rtp(pub, PUB_BIG | PUB_MARKER);
  for (int i = 0; i < 2; i++) {
    want = 5;
    wait_for(has_want, v[i], "the frame at every viewer");
    check_run(v[i], 0, 5);
  }
  run_for(v[0], 30);
  sfu_get_stats(w.sfu, &after);
  assert_int_equal(after.udp_tx_packets - before.udp_tx_packets, 8);
  assert_int_equal(after.udp_tx_sends - before.udp_tx_sends, 2); /* one per viewer */
}

/* A frame whose last packet does not come is held no longer than the
 * setting: its packets reach the viewers, and the next frame goes on. */
static void test_frame_without_end_held_briefly(void **state) {
  struct browser *v[2];
  struct browser *pub = room_with_viewers(v, 2);
  start_on_key(pub, v, 2);
  stream(pub, v, 2, 3, 0); /* three packets, no marker: they come all the same */
  stream(pub, v, 2, 3, 0);
}

/* A NACK reaches the worker holding the viewer, which resends from its
 * own ring. */
static void test_nack_answered_by_the_worker(void **state) {
  struct browser *v[2];
  struct browser *pub = room_with_viewers(v, 2);
  stream(pub, v, 2, 20, 1);
  uint16_t lost = v[1]->rtp_seq[7];
  uint8_t rtcp[64];
  int len = rtcp_build_nack(rtcp, sizeof(rtcp), 0x5eed, v[1]->rtp_ssrc, &lost, 1);
  assert_true(len > 0);
  browser_rtcp(v[1], rtcp, (size_t)len);
  want = 21;
  wait_for(has_want, v[1], "the retransmission");
  assert_int_equal(v[1]->rtp_seq[20], lost);
  struct sfu_stats st;
  sfu_get_stats(w.sfu, &st);
  assert_int_equal(st.nack_resent, 1);
}

/* Viewers come and go while the stream runs: one that leaves gets nothing
 * more, the others miss nothing, and one that joins later starts on the
 * cached keyframe (its worker's ring got the room's video from the media
 * plane first). */
static void test_join_and_leave_while_streaming(void **state) {
  struct browser *v[2];
  struct browser *pub = room_with_viewers(v, 2);
  stream(pub, v, 2, 10, 1);
  sfu_drop(w.room, &v[0]->owner);
  size_t gone = v[0]->nrtp;
  stream(pub, &v[1], 1, 10, 0);
  assert_int_equal(v[0]->nrtp, gone);
  struct browser *late = browser_new(0, 0);
  browser_offer(late);
  browser_connect(late);
  want = 20; /* the keyframe and everything after it */
  wait_for(has_want, late, "the start from the cached keyframe");
  check_run(late, 0, 20);
  assert_int_equal(late->rtp_seq[0], v[1]->rtp_seq[0]); /* the keyframe */
  struct browser *both[2] = {v[1], late};
  stream(pub, both, 2, 10, 0);
}

/* An ICE-TCP viewer is sent to from the media plane's own loop (its
 * connection is that loop's); when it nominates a UDP address it moves to
 * a worker, and back again when it nominates ICE-TCP, without a gap in its
 * numbering. */
static void test_path_moves_between_loop_and_worker(void **state) {
  struct browser *none[1];
  struct browser *pub = room_with_viewers(none, 0);
  struct browser *v = browser_new(0, conn_listener_port(&w.tcp));
  browser_offer(v);
  browser_connect(v);
  assert_int_equal(peer_of(v)->share, 0);
  stream(pub, &v, 1, 10, 1);

  struct tclient *tcp = v->tcp; /* a UDP path beside it, nominated */
  v->tcp = NULL;
  v->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in to;
  uv_ip4_addr("127.0.0.1", sfu_port(w.sfu), &to);
  assert_int_equal(connect(v->fd, (struct sockaddr *)&to, sizeof(to)), 0);
  browser_check(v);
  wait_for(has_stun_ok, v, "the check over UDP");
  int share = peer_of(v)->share;
  assert_true(share == 1 || share == 2);
  stream(pub, &v, 1, 10, 0);

  v->tcp = tcp; /* and ICE-TCP nominated again */
  v->stun_ok = 0;
  browser_check(v);
  wait_for(has_stun_ok, v, "the check over ICE-TCP");
  run_for(v, 20); /* the view comes back from its worker */
  assert_int_equal(peer_of(v)->share, 0);
  stream(pub, &v, 1, 10, 0);
  check_run(v, 0, 30);
}

static int setup_none(void **state) {
  setup_workers = 0;
  return setup(state);
}

/* A batch of a room's packets (as a worker takes them from its ring) goes
 * out viewer by viewer: each viewer's three video-sized packets leave as
 * one GSO message, in order, and each arrives whole. Run on share 0 (no
 * workers), so the sending is this test's loop turn. */
static void test_batch_leaves_per_viewer(void **state) {
  struct browser *v[3];
  struct browser *pub = room_with_viewers(v, 3);
  stream(pub, v, 3, 1, 1); /* a keyframe: the viewers' video has started */
  static uint8_t pkt[3][1100];
  struct fanout_msg m[3];
  const struct fanout_msg *batch[3];
  for (int j = 0; j < 3; j++) {
    uint16_t seq = ++pub->seq;
    memset(pkt[j], 0, sizeof(pkt[j]));
    pkt[j][0] = 0x80;
    pkt[j][1] = 96;
    pkt[j][2] = (uint8_t)(seq >> 8);
    pkt[j][3] = (uint8_t)seq;
    memset(&m[j], 0, sizeof(m[j]));
    m[j].type = FANOUT_PKT;
    m[j].track = FANOUT_VIDEO;
    m[j].room_id = w.room->id;
    m[j].u.pkt.seq = seq;
    m[j].u.pkt.ms = uv_now(&w.loop);
    m[j].u.pkt.len = sizeof(pkt[j]);
    m[j].u.pkt.data = pkt[j];
    batch[j] = &m[j];
  }
  struct sfu_stats before, after;
  sfu_get_stats(w.sfu, &before);
  fanout_handle_pkts(&w.sfu->inline_share, batch, 3);
  udp_flush(w.sfu->udp);
  sfu_get_stats(w.sfu, &after);
  assert_int_equal(after.udp_tx_packets - before.udp_tx_packets, 9);
  assert_int_equal(after.udp_tx_sends - before.udp_tx_sends, 3); /* one per viewer */
  for (int i = 0; i < 3; i++) {
    want = 4;
    wait_for(has_want, v[i], "the batch at every viewer");
    check_run(v[i], 0, 4);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_viewers_spread_over_workers, setup_two, teardown),
      cmocka_unit_test_setup_teardown(test_ring_goes_round, setup_two, teardown),
      cmocka_unit_test_setup_teardown(test_frame_leaves_whole, setup_two_holding, teardown),
      cmocka_unit_test_setup_teardown(test_frame_without_end_held_briefly, setup_two_hold_short,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_nack_answered_by_the_worker, setup_two, teardown),
      cmocka_unit_test_setup_teardown(test_join_and_leave_while_streaming, setup_two, teardown),
      cmocka_unit_test_setup_teardown(test_path_moves_between_loop_and_worker, setup_two, teardown),
      cmocka_unit_test_setup_teardown(test_batch_leaves_per_viewer, setup_none, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
