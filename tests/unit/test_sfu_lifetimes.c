/* Lifetimes in the media plane (src/media/sfu.c, docs/media.md "Peers"):
 * peers closed from inside the callbacks that still hold them, and owners
 * that end rooms, drop peers or close the media plane from their
 * peer_closed handler.
 *
 * A real struct sfu on 127.0.0.1 and the "browsers" of sfu_browser.h (UDP
 * or ICE-TCP, STUN checks, an OpenSSL DTLS client). Closes happen where they happen in production: consent
 * running out in the 100 ms timer's walk over a room, a DTLS failure or
 * close_notify in the middle of a recvmmsg batch (datagrams after it, from
 * the same address, in the same batch), a failure inside an ICE-TCP
 * connection's read callback. The test reaches into sfu_int.h to shorten
 * consent and to see peers' states.
 *
 * The sanitizer build (build-asan) runs this too: a peer or owner used
 * after it was freed is an ASan report there, and a peer never freed a
 * LeakSanitizer one. In both builds an owner told about a peer after it
 * dropped it or after its room was freed fails the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sfu_browser.h"

/* ---- tests ----------------------------------------------------------------- */

/* Consent lost by some viewers in one tick: the timer's walk over the room
 * closes a viewer, looks again at the one moved into its slot, and the
 * viewers left go on receiving media. */
static void test_consent_some_viewers_in_timer(void **state) {
  struct browser *v[4];
  struct browser *pub = room_with_viewers(v, 4);
  pub->keepalive = v[1]->keepalive = 1;
  struct browser *all[] = {pub, v[0], v[1], v[2], v[3]};
  for (int i = 0; i < 5; i++)
    all[i]->stun_ok = 0;
  checks_in_one_batch(all, 5);
  /* The keepalives (every 50 ms) keep v1 and the publisher in, however
   * busy the machine is: a second without one would be needed to lose it. */
  w.sfu->cfg.consent_ms = 1000;
  wait_for(was_told, v[0], "v0's consent to run out");
  wait_for(was_told, v[3], "v3's consent to run out");
  wait_for(was_told, v[2], "v2's consent to run out");
  assert_string_equal(v[0]->why, "no connectivity checks (consent expired)");
  assert_int_equal(w.room->nviewers, 1);
  assert_ptr_equal(w.room->viewers[0], peer_of(v[1]));
  assert_int_equal(w.sfu->stats.peers, 2);
  /* The one left still gets the publisher's media. */
  publisher_rtp(pub, 1);
  wait_for(got_media, v[1], "the keyframe at the viewer left");
  assert_int_equal(pub->told + v[1]->told, 0);
  for (int i = 0; i < 4; i++)
    assert_true(v[i]->told <= 1);
}

static uint64_t until_ms;
static int time_passed(struct browser *b) { return uv_now(&w.loop) >= until_ms; }

/* A peer that sends no Binding request after connecting but keeps sending
 * authenticated SRTP (a publisher's RTP) or SRTCP (a viewer's receiver
 * reports) keeps its consent, as GStreamer's webrtcbin needs; packets that
 * fail authentication keep nothing alive; a peer that goes quiet is still
 * dropped within media-consent-ms. */
static void test_consent_kept_by_srtp(void **state) {
  struct browser *v[2];
  struct browser *pub = room_with_viewers(v, 2);
  w.sfu->cfg.consent_ms = 300;
  static const uint8_t rr[8] = {0x80, 201, 0, 1, 0, 0, 0, 7}; /* RR, no blocks */
  uint8_t junk[60] = {0x80, 201, 0, 1, 0, 0, 0, 9};           /* SRTCP that fails auth */
  publisher_rtp(pub, 1);
  uint64_t end = uv_now(&w.loop) + 1500; /* five consent periods */
  while (uv_now(&w.loop) < end) {
    publisher_rtp(pub, 0);
    browser_rtcp(v[0], rr, sizeof(rr));
    browser_send(v[1], junk, sizeof(junk));
    until_ms = uv_now(&w.loop) + 50;
    wait_for(time_passed, pub, "50 ms");
  }
  assert_int_equal(pub->told, 0);
  assert_int_equal(v[0]->told, 0);
  assert_int_equal(v[1]->told, 1); /* forged media is no sign of life */
  assert_string_equal(v[1]->why, "no connectivity checks (consent expired)");
  assert_true(w.sfu->stats.dropped[SFU_DROP_SRTP] > 0);
  /* Quiet from now on: both are dropped. */
  wait_for(was_told, pub, "the quiet publisher's consent to run out");
  wait_for(was_told, v[0], "the quiet viewer's consent to run out");
}

/* Everyone's consent runs out in one tick. The first viewer told drops the
 * other viewers (already closed, not yet reaped) and frees them: they are
 * never told. The publisher's handler ends the room. */
static void test_consent_all_in_timer(void **state) {
  struct browser *v[3];
  struct browser *pub = room_with_viewers(v, 3);
  struct browser *all[] = {pub, v[0], v[1], v[2]};
  for (int i = 0; i < 4; i++) {
    all[i]->stun_ok = 0;
    all[i]->act = all[i]->publisher ? ACT_END_ROOM : ACT_DROP_OTHERS;
  }
  checks_in_one_batch(all, 4);
  w.sfu->cfg.consent_ms = 200;
  wait_for(was_told, pub, "the publisher's consent to run out");
  wait_for(room_peers_none, NULL, "every peer freed");
  int told = 0;
  for (int i = 0; i < MAX_BROWSERS; i++)
    told += w.b[i] && !w.b[i]->publisher ? w.b[i]->told : 0;
  assert_int_equal(told, 1); /* the others were dropped before their turn */
  assert_int_equal(pub->told, 1);
  assert_null(w.room);
}

/* A viewer's DTLS fails (its certificate is not the one its offer named)
 * while it is the middle of a recvmmsg batch: what the same address sent
 * after the failing flight, in the same batch, never reaches the peer;
 * another viewer's datagram in the batch is handled. Its owner, told at
 * the safe point, offers again from inside peer_closed, and connects. */
static void test_dtls_failure_mid_batch(void **state) {
  struct browser *v[1];
  struct browser *pub = room_with_viewers(v, 1);
  pub->keepalive = 1;
  struct browser *x = browser_new(0, 0);
  x->bad_fp = 1;
  x->act = ACT_REOFFER;
  browser_offer(x);
  browser_check(x);
  wait_for(has_stun_ok, x, "x's check");
  browser_start_dtls(x); /* ClientHello */
  x->hold = 1;
  wait_for(has_held, x, "x's second flight (its certificate)");
  x->hold = 0;
  uint64_t unknown = w.sfu->stats.dropped[SFU_DROP_UNKNOWN_PEER];
  static const uint8_t junk_dtls[] = {23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 1, 0};
  static const uint8_t junk_rtp[] = {0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7, 1, 2, 3, 4};
  x->stun_ok = x->stun_err = v[0]->stun_ok = 0;
  browser_send(x, x->held, x->held_len); /* fails at onair */
  browser_send(x, x->held, x->held_len);
  browser_send(x, junk_dtls, sizeof(junk_dtls));
  browser_send(x, junk_rtp, sizeof(junk_rtp));
  char old_ufrag[sizeof(x->ufrag)];
  memcpy(old_ufrag, x->ufrag, sizeof(old_ufrag));
  browser_check(x); /* its ufrag is gone: 401 */
  browser_check(v[0]);
  x->held_len = 0;
  wait_for(was_told, x, "x's DTLS failure");
  assert_non_null(strstr(x->why, "fingerprint"));
  assert_int_equal(x->told, 1);
  /* The answer to x's check is the new peer's (offered in peer_closed). */
  assert_string_not_equal(x->ufrag, old_ufrag);
  wait_for(has_stun_err, x, "the 401 to the closed peer's check");
  wait_for(has_stun_ok, v[0], "the other viewer's check");
  assert_true(w.sfu->stats.dropped[SFU_DROP_UNKNOWN_PEER] >= unknown + 3);
  assert_int_equal(w.room->nviewers, 2);
  /* The new peer, with the right fingerprint, connects. */
  browser_connect(x);
  publisher_rtp(pub, 1);
  wait_for(got_media, x, "media at the viewer that offered again");
  assert_int_equal(x->told, 1);
  assert_int_equal(pub->told + v[0]->told, 0);
}

static int media_two(struct browser *b) { return b->media_in >= 2; }

/* close_notify from a viewer and then from the publisher, between the
 * publisher's media packets in one batch: the forwarding of what follows
 * walks a room the viewer has left, and what the publisher sends after its
 * close_notify is dropped. The publisher's handler ends the room, which
 * frees the viewer still connected; neither viewer hears of it. */
static void test_close_notify_amid_media(void **state) {
  struct browser *v[2];
  struct browser *pub = room_with_viewers(v, 2);
  pub->act = ACT_END_ROOM;
  publisher_rtp(pub, 1);
  wait_for(got_media, v[0], "the keyframe at v0");
  wait_for(got_media, v[1], "the keyframe at v1");
  v[0]->media_in = v[1]->media_in = 0;
  uint64_t in = w.sfu->stats.rtp_in, unknown = w.sfu->stats.dropped[SFU_DROP_UNKNOWN_PEER];
  publisher_rtp(pub, 0);
  browser_shutdown(v[0]);
  publisher_rtp(pub, 0);
  browser_shutdown(pub);
  publisher_rtp(pub, 0);
  wait_for(was_told, pub, "the publisher's close");
  assert_string_equal(pub->why, "the peer closed DTLS");
  assert_null(w.room);
  assert_int_equal(w.sfu->stats.rtp_in, in + 2);
  assert_int_equal(w.sfu->stats.dropped[SFU_DROP_UNKNOWN_PEER], unknown + 1);
  wait_for(media_two, v[1], "both packets before the close at v1");
  harness_settle();
  poll_all();
  assert_int_equal(v[0]->media_in, 1); /* the one before its close_notify */
  assert_int_equal(v[1]->media_in, 2);
  assert_int_equal(v[1]->told, 0);
  assert_true(v[0]->told <= 1);
  assert_int_equal(w.sfu->stats.peers, 0);
  /* What the viewers send now reaches no peer. */
  v[1]->stun_err = 0;
  browser_check(v[1]);
  wait_for(has_stun_err, v[1], "the 401 to a freed peer's check");
}

/* Between a close and the safe point, the application drops the peer,
 * offers again, or ends everything: nobody is told about a peer it let go,
 * and closing the media plane from a peer_closed handler frees the closed
 * peers still waiting. */
static void test_between_close_and_reap(void **state) {
  struct browser *v[3];
  struct browser *pub = room_with_viewers(v, 3);
  sfu_peer_fail(peer_of(v[0]), "test: failed");
  sfu_drop(w.room, &v[0]->owner);
  browser_free(v[0]); /* a call for it would read freed memory */
  sfu_peer_fail(peer_of(v[1]), "test: failed");
  browser_offer(v[1]); /* the old peer is forgotten, a new one answered */
  harness_settle();
  assert_int_equal(v[1]->told, 0);
  browser_connect(v[1]);
  /* Both close in one turn; the publisher's handler closes the media plane. */
  pub->act = ACT_CLOSE_SFU;
  sfu_peer_fail(peer_of(v[2]), "test: failed");
  sfu_peer_fail(peer_of(pub), "test: failed");
  wait_for(was_told, pub, "the publisher's close");
  assert_null(w.sfu);
  assert_true(v[2]->told <= 1);
  assert_int_equal(v[1]->told, 0);
}

/* ICE-TCP: a viewer's DTLS fails inside its connection's read callback,
 * with another frame behind the failing one in the same read. The peer's
 * connection closes at the listener's safe point (the frame after is not
 * answered), the owner is told once. A publisher over TCP then loses
 * consent in the timer: its connection closes too. */
static void test_ice_tcp_closes(void **state) {
  int port = conn_listener_port(&w.tcp);
  struct browser *pub = browser_new(1, port);
  w.room = sfu_room_new(w.sfu, &pub->owner);
  browser_offer(pub);
  browser_connect(pub);
  pub->keepalive = 1;
  struct browser *x = browser_new(0, port);
  x->bad_fp = 1;
  browser_offer(x);
  browser_check(x);
  wait_for(has_stun_ok, x, "x's check over TCP");
  browser_start_dtls(x);
  x->hold = 1;
  wait_for(has_held, x, "x's second flight");
  x->hold = 0;
  x->stun_ok = 0;
  /* Both frames in one write: onair reads them in one callback. */
  uint8_t two[2 * (2 + 4096)];
  size_t n = 0;
  two[n++] = (uint8_t)(x->held_len >> 8);
  two[n++] = (uint8_t)x->held_len;
  memcpy(two + n, x->held, x->held_len);
  n += x->held_len;
  uint8_t chk[512], txid[STUN_TXID_LEN] = {1, 2, 3};
  char user[64];
  snprintf(user, sizeof(user), "%s:brws", x->ufrag);
  int cn = stun_build_binding_request(chk, sizeof(chk), txid, user, 1, 1, 1, 42,
                                      (const uint8_t *)x->pwd, strlen(x->pwd));
  assert_true(cn > 0);
  two[n++] = (uint8_t)(cn >> 8);
  two[n++] = (uint8_t)cn;
  memcpy(two + n, chk, (size_t)cn);
  n += (size_t)cn;
  tclient_send(x->tcp, two, n);
  wait_for(was_told, x, "x's DTLS failure over TCP");
  assert_non_null(strstr(x->why, "fingerprint"));
  if (!harness_wait_until(tclient_ended, x->tcp))
    fail_msg("x's connection was not closed");
  poll_all();
  /* The frame after the failing one was not read: no answer, not even 401. */
  assert_int_equal(x->stun_ok + x->stun_err, 0);
  assert_int_equal(x->told, 1);
  /* The publisher over TCP loses consent in the timer. */
  pub->keepalive = 0;
  w.sfu->cfg.consent_ms = 200;
  wait_for(was_told, pub, "the TCP publisher's consent");
  if (!harness_wait_until(tclient_ended, pub->tcp))
    fail_msg("the publisher's connection was not closed");
  assert_null(w.sfu->tcps);
  assert_int_equal(w.sfu->stats.peers, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_consent_some_viewers_in_timer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_consent_all_in_timer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_consent_kept_by_srtp, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dtls_failure_mid_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_notify_amid_media, setup, teardown),
      cmocka_unit_test_setup_teardown(test_between_close_and_reap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ice_tcp_closes, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
