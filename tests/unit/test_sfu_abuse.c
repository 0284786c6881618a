/* What a hostile peer can make the media plane do (docs/operations.md,
 * "Limits"): a real struct sfu on 127.0.0.1 and browsers over real UDP,
 * DTLS and SRTP (sfu_browser.h). A viewer's NACKs draw each packet once in
 * 50 ms and no more bytes than its budget, however many it sends; a
 * publisher's packet 20,000 sequence numbers ahead does not stop the
 * stream; ICE checks from a peer claiming the controlled role, or without
 * PRIORITY, get 487 and 400 and bind nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <openssl/hmac.h>

#include "media/rtcp.h"
#include "media/srtpctx.h"
#include "sfu_browser.h"

static size_t want_rtp;
static int has_rtp(struct browser *b) { return b->nrtp >= want_rtp; }

static uint64_t until_ms;
static int time_passed(struct browser *b) { return uv_now(&w.loop) >= until_ms; }

/* Runs the loop (browsers polled) for ms of loop time. */
static void run_for(struct browser *b, uint64_t ms) {
  until_ms = uv_now(&w.loop) + ms;
  wait_for(time_passed, b, "time to pass");
}

/* How many times the viewer received seq. */
static int times_received(const struct browser *v, uint16_t seq) {
  int n = 0;
  for (size_t i = 0; i < v->nrtp; i++)
    n += v->rtp_seq[i] == seq;
  return n;
}

/* A publisher, one viewer, and n packets (a keyframe first) the viewer got. */
static struct browser *streaming(struct browser **viewer, int n) {
  struct browser *pub = room_with_viewers(viewer, 1);
  for (int i = 0; i < n; i++)
    publisher_rtp(pub, i == 0);
  want_rtp = (size_t)n;
  wait_for(has_rtp, *viewer, "the stream at the viewer");
  return pub;
}

static void send_nack(struct browser *v, const uint16_t *lost, size_t n) {
  uint8_t rtcp[512];
  int len = rtcp_build_nack(rtcp, sizeof(rtcp), 0x5eed, v->rtp_ssrc, lost, n);
  assert_true(len > 0);
  browser_rtcp(v, rtcp, (size_t)len);
}

/* A NACK for the same packet, again and again (and twice in one NACK),
 * draws it once; after 50 ms, a NACK for it is answered again. */
static void test_duplicate_nacks_answered_once(void **state) {
  struct browser *v;
  streaming(&v, 20);
  uint16_t x = v->rtp_seq[10], y = v->rtp_seq[12];
  assert_int_equal(times_received(v, x), 1);
  for (int i = 0; i < 3; i++)
    send_nack(v, &x, 1);
  /* One NACK packet whose two items both name y. */
  uint8_t two[64];
  int len = rtcp_build_nack(two, sizeof(two), 0x5eed, v->rtp_ssrc, &y, 1);
  assert_int_equal(len, 16);
  memcpy(two + 16, two + 12, 4); /* a second FCI: the same PID and BLP */
  two[3] = 4;                    /* length in words, less one */
  browser_rtcp(v, two, 20);
  want_rtp = v->nrtp + 2;
  wait_for(has_rtp, v, "the two retransmissions");
  run_for(v, 20); /* anything more would have come by now */
  assert_int_equal(times_received(v, x), 2);
  assert_int_equal(times_received(v, y), 2);
  struct sfu_stats st;
  sfu_get_stats(w.sfu, &st);
  assert_int_equal(st.nack_resent, 2);
  assert_int_equal(st.nack_duplicates, 3);
  run_for(v, 60);
  send_nack(v, &x, 1); /* the resent packet was lost too: asked again later */
  want_rtp = v->nrtp + 1;
  wait_for(has_rtp, v, "the retransmission after the repeat window");
  assert_int_equal(times_received(v, x), 3);
}

/* NACKs for everything stored, over and over: the bytes resent stay within
 * the viewer's budget (16 kB/s at this publisher's small rate, a second's
 * worth at once), the rest is counted, and the stream goes on. */
static void test_nack_flood_capped(void **state) {
  struct browser *v;
  struct browser *pub = streaming(&v, 600);
  uint64_t start = uv_now(&w.loop);
  uint16_t lost[600];
  for (int i = 0; i < 600; i++)
    lost[i] = v->rtp_seq[i];
  for (int round = 0; round < 10; round++) {
    for (int i = 0; i < 600; i += 60)
      send_nack(v, lost + i, 60);
    run_for(v, 60);
  }
  run_for(v, 20);
  uint64_t secs_ms = uv_now(&w.loop) - start;
  struct sfu_stats stats;
  sfu_get_stats(w.sfu, &stats);
  const struct sfu_stats *st = &stats;
  /* 112-byte packets; the budget: half the publisher's rate, at least
   * 16 kB/s, and a second of it at once. */
  double rate = 0.5 * (w.room->tracks[SFU_VIDEO].rate_Bps + w.room->tracks[SFU_AUDIO].rate_Bps);
  if (rate < 16000)
    rate = 16000;
  uint64_t cap = (uint64_t)((rate + rate * (double)secs_ms / 1000) / 112) + 1;
  assert_true(st->nack_resent > 0);
  if (st->nack_resent > cap)
    fail_msg("%" PRIu64 " packets resent in %" PRIu64 " ms, over the budget's %" PRIu64,
             st->nack_resent, secs_ms, cap);
  assert_true(st->nack_over_budget > 0);
  assert_int_equal(st->nack_resent + st->nack_over_budget + st->nack_duplicates, 10 * 600);
  /* Forwarding is not the budget's: the next packets arrive. */
  size_t before = v->nrtp;
  for (int i = 0; i < 5; i++)
    publisher_rtp(pub, 0);
  want_rtp = before + 5;
  wait_for(has_rtp, v, "the stream after the flood");
}

/* One packet 20,000 ahead (authentic: the publisher's keys, from a second
 * SRTP context so the publisher's own goes on where it was) is dropped and
 * the stream plays on; a jump the next packet confirms is taken (the
 * encoder renumbered), and the viewer's numbering stays continuous. */
static void test_sequence_jump(void **state) {
  struct browser *v;
  struct browser *pub = streaming(&v, 10);
  struct srtpctx *side = srtpctx_new(&pub->keys);
  assert_non_null(side);
  publisher_rtp_with(pub, side, 0, (uint16_t)(pub->seq + 20000));
  srtpctx_free(side);
  for (int i = 0; i < 10; i++)
    publisher_rtp(pub, 0);
  want_rtp = 20;
  wait_for(has_rtp, v, "the packets after the jump");
  run_for(v, 20);
  assert_int_equal(v->nrtp, 20);
  assert_int_equal(w.sfu->stats.dropped[SFU_DROP_SEQ_JUMP], 1);
  /* Confirmed: 30000 alone waits, 30001 (a keyframe) follows it. */
  pub->seq = 30000;
  publisher_rtp_at(pub, 0, pub->seq);
  publisher_rtp(pub, 1);
  publisher_rtp(pub, 0);
  want_rtp = 22;
  wait_for(has_rtp, v, "the stream from its new numbering");
  assert_int_equal(w.sfu->stats.dropped[SFU_DROP_SEQ_JUMP], 2);
  for (size_t i = 1; i < v->nrtp; i++)
    assert_int_equal((uint16_t)(v->rtp_seq[i] - v->rtp_seq[i - 1]), 1);
}

/* The check as stun_build_binding_request() makes it, with PRIORITY taken
 * out and MESSAGE-INTEGRITY and FINGERPRINT made again. */
static uint32_t crc32_of(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++)
      c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
  }
  return ~c;
}

static size_t check_without_priority(const struct browser *b, uint8_t *out) {
  uint8_t txid[STUN_TXID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  char user[64];
  snprintf(user, sizeof(user), "%s:brws", b->ufrag);
  int n = stun_build_binding_request(out, 512, txid, user, 0x6e7f1eff, 0, 1, 42,
                                     (const uint8_t *)b->pwd, strlen(b->pwd));
  assert_true(n > 0);
  size_t at = 20, len = (size_t)n, mi = 0;
  while (at + 4 <= len) { /* drop PRIORITY; find MESSAGE-INTEGRITY */
    uint16_t type = (uint16_t)(out[at] << 8 | out[at + 1]);
    size_t alen = (size_t)(out[at + 2] << 8 | out[at + 3]), whole = 4 + ((alen + 3) & ~(size_t)3);
    if (type == STUN_ATTR_PRIORITY) {
      memmove(out + at, out + at + whole, len - at - whole);
      len -= whole;
      continue;
    }
    if (type == STUN_ATTR_MESSAGE_INTEGRITY)
      mi = at;
    at += whole;
  }
  assert_true(mi > 0);
  out[2] = (uint8_t)((mi + 24 - 20) >> 8); /* the length up to MESSAGE-INTEGRITY's end */
  out[3] = (uint8_t)(mi + 24 - 20);
  unsigned hl = 20;
  HMAC(EVP_sha1(), b->pwd, (int)strlen(b->pwd), out, mi, out + mi + 4, &hl);
  out[2] = (uint8_t)((len - 20) >> 8); /* and with FINGERPRINT */
  out[3] = (uint8_t)(len - 20);
  uint32_t fp = crc32_of(out, mi + 24) ^ 0x5354554eu;
  for (int i = 0; i < 4; i++)
    out[mi + 28 + i] = (uint8_t)(fp >> (24 - 8 * i));
  return len;
}

static void test_stun_role_conflict_and_priority(void **state) {
  struct browser *v[1];
  room_with_viewers(v, 1);
  struct sfu_peer *p = peer_of(v[0]);
  uint64_t consent = p->last_stun_ms;
  run_for(v[0], 20);
  /* ICE-CONTROLLED: onair (ICE-lite) is the controlled one: 487. */
  uint8_t msg[512], txid[STUN_TXID_LEN] = {9};
  char user[64];
  snprintf(user, sizeof(user), "%s:brws", v[0]->ufrag);
  int n = stun_build_binding_request(msg, sizeof(msg), txid, user, 0x6e7f1eff, 0, 0, 42,
                                     (const uint8_t *)v[0]->pwd, strlen(v[0]->pwd));
  v[0]->stun_err = 0;
  browser_send(v[0], msg, (size_t)n);
  wait_for(has_stun_err, v[0], "the answer to a controlled check");
  assert_int_equal(v[0]->last_error, 487);
  /* No PRIORITY: 400. */
  size_t len = check_without_priority(v[0], msg);
  struct stun_msg m;
  assert_int_equal(stun_parse(msg, len, &m), 0);
  assert_int_equal(
      stun_check_integrity(msg, len, &m, (const uint8_t *)v[0]->pwd, strlen(v[0]->pwd)), 0);
  assert_int_equal(stun_check_fingerprint(msg, len, &m), 0);
  assert_false(m.flags & STUN_F_PRIORITY);
  v[0]->stun_err = 0;
  browser_send(v[0], msg, len);
  wait_for(has_stun_err, v[0], "the answer to a check without PRIORITY");
  assert_int_equal(v[0]->last_error, 400);
  assert_int_equal(p->last_stun_ms, consent); /* neither kept the peer alive */
  /* A proper check still succeeds. */
  v[0]->stun_ok = 0;
  browser_check(v[0]);
  wait_for(has_stun_ok, v[0], "the answer to a proper check");
  assert_true(p->last_stun_ms > consent);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_duplicate_nacks_answered_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nack_flood_capped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sequence_jump, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stun_role_conflict_and_priority, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
