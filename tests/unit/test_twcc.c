/* Tests for src/media/twcc.c: a feedback built from known arrivals compared
 * byte for byte with one encoded by hand from the draft's chunk rules
 * (run-length, 1-bit and 2-bit vectors, small, large and negative deltas,
 * RTCP padding); hand-built FCIs parsed; every malformed form refused;
 * round trips from the sender's numbering through the receiver's feedback
 * back to the sender's matches, with losses, reordering, duplicates,
 * 16-bit wrap both ways, the 24-bit reference time's wrap, deltas too
 * large for one feedback, small capacities and numbering jumps. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "case_check.h"
#include "media/rtcp.h"
#include "media/twcc.h"

#define B(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

#define SSRC_A 0x11223344u
#define SSRC_B 0x55667788u
#define BIG 8192

/* The FCI of a built feedback (len bytes at p), after checking that it is
 * one RTCP packet of RTPFB FMT 15 from SSRC_A about SSRC_B. */
static void fci_of(const uint8_t *p, int len, const uint8_t **fci, size_t *fci_len) {
  struct rtcp_iter it;
  struct rtcp_pkt pkt;
  struct rtcp_fb fb;

  assert_true(len > 0 && len % 4 == 0);
  assert_int_equal(rtcp_check(p, (size_t)len), 1);
  rtcp_iter_init(&it, p, (size_t)len);
  assert_int_equal(rtcp_next(&it, &pkt), 1);
  assert_int_equal(twcc_rtcp_fb(&pkt, &fb), 0);
  assert_int_equal(fb.sender_ssrc, SSRC_A);
  assert_int_equal(fb.media_ssrc, SSRC_B);
  *fci = fb.fci;
  *fci_len = fb.fci_len;
}

#define WALK_MAX 64 /* packets walk_built() keeps */

/* Parses a built feedback into seqs[] and recv[] (us after the reference
 * time, or TWCC_LOST), the first WALK_MAX packets; returns the count. */
static unsigned walk_built(const uint8_t *p, int len, struct twcc_fb *fb, uint16_t *seqs,
                           int64_t *recv) {
  const uint8_t *fci;
  size_t fci_len;
  struct twcc_fb_iter it;
  unsigned n = 0;
  uint16_t seq;
  int64_t t;

  fci_of(p, len, &fci, &fci_len);
  assert_int_equal(twcc_parse(fci, fci_len, fb), 0);
  twcc_fb_iter_init(&it, fb);
  while (twcc_fb_next(&it, &seq, &t) == 1) {
    assert_int_equal(seq, (uint16_t)(fb->base_seq + n));
    if (n < WALK_MAX) {
      seqs[n] = seq;
      recv[n] = t;
    }
    n++;
  }
  assert_int_equal(n, fb->count);
  return n;
}

/* ---- the draft's encoding, by hand ---- */

#define T0 (1000 * 64000 + 1000) /* reference time 1000, first delta 4 ticks */

/* Arrivals (seq, us after T0), in arrival order: 100..119 one per ms (a
 * run); 120 lost, 121..133 with 123 and 130 lost (14 symbols of 0/1: a
 * 1-bit vector); 134 after 100 ms (a large delta), 135, 136 lost, 138 one
 * ms before 137 (a negative delta), 139, 140 (7 symbols with large ones: a
 * 2-bit vector). */
static void feed_draft_example(struct twcc_recv *r) {
  static const uint16_t late[][2] = {{134, 133}, {135, 134}, {138, 136},
                                     {137, 137}, {139, 138}, {140, 139}};

  for (int s = 100; s <= 133; s++)
    if (s != 120 && s != 123 && s != 130)
      twcc_recv_on_packet(r, (uint16_t)s, T0 + (s - 100) * 1000);
  for (size_t i = 0; i < sizeof(late) / sizeof(late[0]); i++)
    twcc_recv_on_packet(r, late[i][0], T0 + late[i][1] * 1000);
}

static const uint8_t draft_example[] = {
    0xAF, 205,  0x00, 0x10,                         /* V=2 P FMT=15, PT=205, length 16 */
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* SSRCs */
    0x00, 0x64, 0x00, 0x29,                         /* base 100, 41 packets */
    0x00, 0x03, 0xE8, 0x00,                         /* reference time 1000, fb count 0 */
    0x20, 0x14,                                     /* run: 20 x received small */
    0x9B, 0xF7,                                     /* 1-bit: 01101111110111 */
    0xE4, 0x65,                                     /* 2-bit: 2 1 0 1 2 1 1 */
    4,    4,    4,    4,    4,    4,    4,    4,    4, 4, 4,
    4,    4,    4,    4,    4,    4,    4,    4,    4,       /* 100..119 */
    8,    4,    8,    4,    4,    4,    4,    4,    8, 4, 4, /* 121..133 */
    0x01, 0x90, 4,    12,   0xFF, 0xFC, 8,    4,             /* 134 .. 140 */
    0,    0,    3,                                           /* padding */
};

static void test_draft_example_bytes(void **state) {
  static struct twcc_recv r;
  uint8_t out[BIG];
  struct twcc_fb fb;
  uint16_t seqs[WALK_MAX];
  int64_t recv[WALK_MAX];
  unsigned n;
  int len;

  twcc_recv_init(&r);
  feed_draft_example(&r);
  len = twcc_recv_build(&r, out, sizeof(out), SSRC_A, SSRC_B);
  assert_int_equal(len, sizeof(draft_example));
  assert_memory_equal(out, draft_example, sizeof(draft_example));
  assert_int_equal(twcc_recv_build(&r, out, sizeof(out), SSRC_A, SSRC_B), 0);

  n = walk_built(draft_example, sizeof(draft_example), &fb, seqs, recv);
  assert_int_equal(fb.base_seq, 100);
  assert_int_equal(fb.ref_time, 1000);
  assert_int_equal(fb.fb_count, 0);
  assert_int_equal(fb.chunks_len, 6);
  assert_int_equal(fb.deltas_len, 39);
  assert_int_equal(n, 41);
  for (unsigned i = 0; i < n; i++) {
    int s = 100 + (int)i, lost = s == 120 || s == 123 || s == 130 || s == 136;
    int64_t at = s == 137 ? 137 : s == 138 ? 136 : s >= 134 ? s - 1 : s - 100;

    assert_int_equal(seqs[i], s);
    if (lost)
      assert_true(recv[i] == TWCC_LOST);
    else
      assert_true(recv[i] == 1000 + at * 1000); /* T0 is 1000 us after the reference */
  }
}

/* ---- parsing hand-built FCIs ---- */

struct parse_case {
  const char *name;
  const uint8_t *fci;
  size_t len;
  int rc;
  unsigned n;
  uint16_t seq0;
  int64_t recv[WALK_MAX]; /* us after the reference time; TWCC_LOST */
};

#define L TWCC_LOST

static const struct parse_case parse_cases[] = {
    {"run of 3 large, one negative",
     B(0x00, 0x05, 0x00, 0x03, 0x00, 0x00, 0x01, 0x07, 0x40, 0x03, 0xFF, 0xFF, 0x00, 0x05, 0x7F,
       0xFF),
     0,
     3,
     5,
     {-250, 1000, 1000 + 32767 * 250}},
    {"1-bit vector, count ends it, padding after",
     B(0xFF, 0xFE, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0xA8, 0x00, 0x02, 0x03, 0x00, 0x00),
     0,
     4,
     65534,
     {500, L, 1250, L}},
    {"2-bit vector then a run of 0 lost and a run",
     B(0x00, 0x10, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0xC4, 0x01, 0x00, 0x00, 0x20, 0x01, 0x00,
       0x00, 0x04),
     0,
     8,
     16,
     {L, 0, L, L, L, L, 0, 1000}},
    {"run of lost", B(0x00, 0x00, 0x00, 0x02, 0, 0, 0, 0, 0x00, 0x05), 0, 2, 0, {L, L}},
    {"too short", B(0x00, 0x00, 0x00, 0x01, 0, 0, 0), -EINVAL, 0, 0, {0}},
    {"status count 0", B(0x00, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0x20, 0x01, 4), -EINVAL, 0, 0, {0}},
    {"status count past the cap",
     B(0x00, 0x00, 0x10, 0x01, 0, 0, 0, 0, 0x10, 0x01),
     -EINVAL,
     0,
     0,
     {0}},
    {"no chunk", B(0x00, 0x00, 0x00, 0x01, 0, 0, 0, 0), -EINVAL, 0, 0, {0}},
    {"half a chunk", B(0x00, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0x20), -EINVAL, 0, 0, {0}},
    {"chunks short of the count",
     B(0x00, 0x00, 0x00, 0x05, 0, 0, 0, 0, 0x00, 0x04),
     -EINVAL,
     0,
     0,
     {0}},
    {"status count beyond the deltas",
     B(0x00, 0x00, 0x00, 0x03, 0, 0, 0, 0, 0x20, 0x03, 4, 4),
     -EINVAL,
     0,
     0,
     {0}},
    {"large delta cut in half",
     B(0x00, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0x40, 0x01, 0x01),
     -EINVAL,
     0,
     0,
     {0}},
    {"reserved symbol in a run",
     B(0x00, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0x60, 0x01, 0, 0),
     -EINVAL,
     0,
     0,
     {0}},
    {"reserved symbol in a 2-bit vector",
     B(0x00, 0x00, 0x00, 0x02, 0, 0, 0, 0, 0xDC, 0x00, 0, 0, 0, 0),
     -EINVAL,
     0,
     0,
     {0}},
    {"reserved symbol past the count is not looked at",
     B(0x00, 0x07, 0x00, 0x01, 0, 0, 0, 0, 0xC3, 0x00),
     0,
     1,
     7,
     {L}},
};

static void test_parse_table(void **state) {
  for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
    const struct parse_case *c = &parse_cases[i];
    struct twcc_fb fb;
    struct twcc_fb_iter it;
    uint16_t seq;
    int64_t recv;
    unsigned n = 0;

    CHECK(c, twcc_parse(c->fci, c->len, &fb) == c->rc);
    if (c->rc < 0)
      continue;
    CHECK(c, fb.count == c->n && fb.base_seq == c->seq0);
    twcc_fb_iter_init(&it, &fb);
    while (twcc_fb_next(&it, &seq, &recv) == 1) {
      CHECK(c, n < c->n);
      CHECK(c, seq == (uint16_t)(c->seq0 + n) && recv == c->recv[n]);
      n++;
    }
    CHECK(c, n == c->n);
  }
}

/* A malformed feedback changes nothing on the send side. */
static void test_send_refuses_malformed(void **state) {
  static struct twcc_send s;
  struct twcc_pkt out[4];

  twcc_send_init(&s);
  twcc_send_next(&s, 0, 100);
  assert_int_equal(
      twcc_send_on_feedback(&s, B(0x00, 0x00, 0x00, 0x02, 0, 0, 0, 0, 0x20, 0x02, 4), out, 4),
      -EINVAL);
  assert_int_equal(s.have_ref, 0);
  assert_int_equal(
      twcc_send_on_feedback(&s, B(0x00, 0x00, 0x00, 0x01, 0, 0, 1, 0, 0x20, 0x01, 4), out, 4), 1);
  assert_true(out[0].arrival_us == 64000 + 1000);
}

/* ---- round trips ---- */

/* A sender, a path and a receiver: packets 1 ms apart, one in ten lost,
 * the others 20..60 ms on the way (so often reordered, and often late for
 * the feedback that called them lost), a feedback every 10 ms. */
struct sim {
  struct twcc_send s;
  struct twcc_recv r;
  int64_t now;             /* us */
  int64_t sent_us[65536];  /* by seq */
  int64_t arrival[65536];  /* by seq: when it arrives, or TWCC_LOST */
  uint8_t got_recv[65536]; /* by seq: entries the sender got as received */
  uint8_t got_lost[65536]; /* ...and as lost */
  uint16_t queue[256];     /* on the way */
  size_t nqueue;
  uint32_t rng;
};

static struct sim sim;

static uint32_t sim_rand(void) {
  sim.rng = sim.rng * 1103515245u + 12345u;
  return sim.rng >> 16;
}

/* Hands the receiver, in order of arrival, the packets arrived by now. */
static void sim_deliver(int64_t now) {
  for (;;) {
    size_t best = sim.nqueue;

    for (size_t i = 0; i < sim.nqueue; i++)
      if (sim.arrival[sim.queue[i]] <= now &&
          (best == sim.nqueue || sim.arrival[sim.queue[i]] < sim.arrival[sim.queue[best]]))
        best = i;
    if (best == sim.nqueue)
      return;
    twcc_recv_on_packet(&sim.r, sim.queue[best], sim.arrival[sim.queue[best]]);
    sim.queue[best] = sim.queue[--sim.nqueue];
  }
}

static int near(int64_t a, int64_t b) { return a - b <= 125 && b - a <= 125; }

/* Builds every feedback due and matches each on the send side, checking
 * each entry against what was sent and when it arrived. */
static void sim_feedback(size_t cap) {
  uint8_t buf[BIG];
  struct twcc_pkt out[TWCC_MAX_STATUS];
  const uint8_t *fci;
  size_t fci_len;
  int len, n;

  while ((len = twcc_recv_build(&sim.r, buf, cap, SSRC_A, SSRC_B)) > 0) {
    assert_true((size_t)len <= cap);
    fci_of(buf, len, &fci, &fci_len);
    n = twcc_send_on_feedback(&sim.s, fci, fci_len, out, TWCC_MAX_STATUS);
    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
      uint16_t seq = out[i].seq;

      assert_true(i == 0 || (uint16_t)(seq - out[i - 1].seq - 1) < 1024); /* in order */
      assert_true(out[i].send_us == sim.sent_us[seq]);
      assert_int_equal(out[i].size, 1000 + seq % 200);
      if (out[i].arrival_us == TWCC_LOST) {
        sim.got_lost[seq]++;
      } else {
        assert_true(sim.arrival[seq] != TWCC_LOST && near(out[i].arrival_us, sim.arrival[seq]));
        sim.got_recv[seq]++;
      }
    }
  }
  assert_int_equal(len, 0);
}

/* Sends n packets; every one that arrived reaches the sender once as
 * received, every one lost between the first and the last arrival once as lost. Returns
 * how many came as lost, then as received. */
static unsigned sim_run(int n, size_t cap) {
  uint16_t first = (uint16_t)sim.s.next;
  unsigned late = 0;
  int first_recv = -1, last_recv = -1;

  for (int i = 0; i < n; i++) {
    uint16_t seq = twcc_send_next(&sim.s, sim.now, 1000 + (uint32_t)((uint16_t)sim.s.next % 200));

    sim.sent_us[seq] = sim.now;
    sim.arrival[seq] = TWCC_LOST;
    if (sim_rand() % 10 != 0) {
      sim.arrival[seq] = sim.now + 20000 + sim_rand() % 40000;
      sim.queue[sim.nqueue++] = seq;
      first_recv = first_recv < 0 ? i : first_recv;
      last_recv = i;
    }
    sim_deliver(sim.now);
    if (i % 10 == 9)
      sim_feedback(cap);
    sim.now += 1000;
  }
  sim_deliver(INT64_MAX);
  sim_feedback(cap);
  for (int i = 0; i < n; i++) {
    uint16_t seq = (uint16_t)(first + i);

    assert_int_equal(sim.got_recv[seq], sim.arrival[seq] != TWCC_LOST);
    if (sim.arrival[seq] == TWCC_LOST)
      assert_int_equal(sim.got_lost[seq], i > first_recv && i < last_recv);
    assert_true(sim.got_lost[seq] <= 1);
    late += sim.got_lost[seq] && sim.got_recv[seq];
  }
  return late;
}

static void sim_init(uint32_t first_seq) {
  memset(&sim, 0, sizeof(sim));
  twcc_send_init(&sim.s);
  twcc_recv_init(&sim.r);
  while (sim.s.next < first_seq)
    twcc_send_next(&sim.s, 0, 0);
  sim.rng = 1;
  sim.now = 5000000;
}

static void test_round_trip(void **state) {
  sim_init(0);
  assert_true(sim_run(1500, BIG) > 0);
}

static void test_round_trip_small_cap(void **state) {
  sim_init(0);
  sim_run(600, 40);
}

static void test_wrap_send_side(void **state) {
  sim_init(65500);
  sim_run(100, BIG);
  assert_true(sim.s.next == 65600);
}

/* ---- receive side ---- */

static void test_loss_reporting(void **state) {
  static struct {
    struct twcc_send s;
    struct twcc_recv r;
  } m;
  uint8_t buf[BIG];
  struct twcc_pkt out[16];
  const uint8_t *fci;
  size_t fci_len;
  int len;

  twcc_send_init(&m.s);
  twcc_recv_init(&m.r);
  for (int i = 0; i < 10; i++) {
    uint16_t seq = twcc_send_next(&m.s, i * 1000, 500);

    if (i != 3 && i != 4 && i != 7)
      twcc_recv_on_packet(&m.r, seq, 5000 + i * 1000);
  }
  len = twcc_recv_build(&m.r, buf, sizeof(buf), SSRC_A, SSRC_B);
  fci_of(buf, len, &fci, &fci_len);
  assert_int_equal(twcc_send_on_feedback(&m.s, fci, fci_len, out, 16), 10);
  for (int i = 0; i < 10; i++) {
    assert_int_equal(out[i].seq, i);
    assert_true(out[i].send_us == i * 1000 && out[i].size == 500);
    if (i == 3 || i == 4 || i == 7)
      assert_true(out[i].arrival_us == TWCC_LOST);
    else
      assert_true(out[i].arrival_us == 5000 + i * 1000);
  }
  /* The same feedback again says nothing new. */
  assert_int_equal(twcc_send_on_feedback(&m.s, fci, fci_len, out, 16), 0);
}

/* Feeds (seq, us) pairs, builds one feedback with capacity cap and walks
 * it; returns its length. */
static int feed_build(struct twcc_recv *r, const int64_t (*pkts)[2], size_t n, size_t cap,
                      struct twcc_fb *fb, uint16_t *seqs, int64_t *recv) {
  uint8_t buf[BIG];
  int len;

  for (size_t i = 0; i < n; i++)
    twcc_recv_on_packet(r, (uint16_t)pkts[i][0], pkts[i][1]);
  len = twcc_recv_build(r, buf, cap, SSRC_A, SSRC_B);
  if (len > 0)
    walk_built(buf, len, fb, seqs, recv);
  return len;
}

static void test_wrap_receive_side(void **state) {
  static struct twcc_recv r;
  static const int64_t fwd[][2] = {{65534, 0}, {65535, 1000}, {0, 2000}, {1, 3000}};
  static const int64_t back[][2] = {{3, 4000}, {2, 5000}, {65535, 6000}, {4, 7000}};
  struct twcc_fb fb;
  uint16_t seqs[WALK_MAX];
  int64_t recv[WALK_MAX];

  twcc_recv_init(&r);
  assert_true(feed_build(&r, fwd, 4, BIG, &fb, seqs, recv) > 0);
  assert_int_equal(fb.base_seq, 65534);
  assert_int_equal(fb.count, 4);
  assert_true(recv[3] == 3000);
  /* 2 and 3 swapped, and 65535 again (a duplicate: 1000 stands) */
  assert_true(feed_build(&r, back, 4, BIG, &fb, seqs, recv) > 0);
  assert_int_equal(fb.base_seq, 2);
  assert_int_equal(fb.count, 3);
  assert_true(recv[0] == 5000 && recv[1] == 4000 && recv[2] == 7000);

  /* 65535 arriving first after a wrap the other way: 0 then 65535. */
  twcc_recv_init(&r);
  static const int64_t rev[][2] = {{0, 1000}, {65535, 2000}, {1, 3000}};
  assert_true(feed_build(&r, rev, 3, BIG, &fb, seqs, recv) > 0);
  assert_int_equal(fb.base_seq, 65535);
  assert_int_equal(fb.count, 3);
  assert_true(recv[0] == 2000 && recv[1] == 1000 && recv[2] == 3000);
}

static void test_delta_too_large_splits(void **state) {
  static struct twcc_recv r;
  static const int64_t gap[][2] = {{10, 0}, {11, 1000}, {12, 9000000}, {13, 9001000}};
  static const int64_t back[][2] = {{21, 11000000}, {20, 20000000}};
  struct twcc_fb fb;
  uint16_t seqs[WALK_MAX];
  int64_t recv[WALK_MAX];

  twcc_recv_init(&r);
  assert_true(feed_build(&r, gap, 4, BIG, &fb, seqs, recv) > 0);
  assert_int_equal(fb.base_seq, 10);
  assert_int_equal(fb.count, 2);
  assert_int_equal(fb.fb_count, 0);
  assert_true(feed_build(&r, gap, 0, BIG, &fb, seqs, recv) > 0);
  assert_int_equal(fb.base_seq, 12);
  assert_int_equal(fb.count, 2);
  assert_int_equal(fb.fb_count, 1);
  assert_true((int64_t)fb.ref_time * 64000 + recv[0] == 9000000);
  assert_true(recv[1] - recv[0] == 1000);
  assert_int_equal(feed_build(&r, gap, 0, BIG, &fb, seqs, recv), 0);

  /* Negative too large: 20 arrived 9 s after 21 (numbers 14..19 lost). */
  assert_true(feed_build(&r, back, 2, BIG, &fb, seqs, recv) > 0);
  assert_int_equal(fb.base_seq, 14);
  assert_int_equal(fb.count, 7);
  assert_true((int64_t)fb.ref_time * 64000 + recv[6] == 20000000);
  assert_true(feed_build(&r, back, 0, BIG, &fb, seqs, recv) > 0);
  assert_int_equal(fb.base_seq, 21);
  assert_int_equal(fb.count, 1);
}

/* Packet s's arrival in test_cap: mostly 0.5 ms apart, every third far
 * ahead (large deltas, positive and negative). */
static int64_t cap_arrival(unsigned s) { return 300000 + s * (s % 3 ? 500 : 80000); }

static void test_cap(void **state) {
  static struct twcc_recv r;
  uint8_t buf[BIG];
  struct twcc_fb fb;
  uint16_t seqs[WALK_MAX];
  int64_t recv[WALK_MAX];
  unsigned next;
  int len;

  twcc_recv_init(&r);
  for (unsigned s = 0; s < 40; s++)
    twcc_recv_on_packet(&r, (uint16_t)s, cap_arrival(s));
  /* 20 bytes of header, a chunk and a delta: 23, padded to 24. */
  assert_int_equal(twcc_recv_build(&r, buf, 23, SSRC_A, SSRC_B), -ENOBUFS);
  assert_int_equal(twcc_recv_build(&r, buf, 0, SSRC_A, SSRC_B), -ENOBUFS);
  len = twcc_recv_build(&r, buf, 24, SSRC_A, SSRC_B);
  assert_int_equal(len, 24);
  walk_built(buf, len, &fb, seqs, recv);
  assert_int_equal(fb.base_seq, 0);
  assert_int_equal(fb.count, 2);    /* the second delta fills the padding */
  assert_int_equal(fb.fb_count, 0); /* the refused ones did not count */
  for (next = fb.count; next < 40; next += fb.count) {
    len = twcc_recv_build(&r, buf, 36, SSRC_A, SSRC_B);
    assert_true(len > 0 && len <= 36);
    walk_built(buf, len, &fb, seqs, recv);
    assert_int_equal(fb.base_seq, next);
    for (unsigned i = 0; i < fb.count; i++)
      assert_true(near((int64_t)fb.ref_time * 64000 + recv[i], cap_arrival(next + i)));
  }
  assert_int_equal(next, 40);
  assert_int_equal(twcc_recv_build(&r, buf, 36, SSRC_A, SSRC_B), 0);

  /* A long loss before the first arrival must fit too: 1000 lost, 1 received. */
  twcc_recv_init(&r);
  twcc_recv_on_packet(&r, 0, 0);
  assert_true(twcc_recv_build(&r, buf, BIG, SSRC_A, SSRC_B) > 0);
  twcc_recv_on_packet(&r, 1001, 100000);
  assert_int_equal(twcc_recv_build(&r, buf, 24, SSRC_A, SSRC_B), -ENOBUFS);
  len = twcc_recv_build(&r, buf, 28, SSRC_A, SSRC_B);
  walk_built(buf, len, &fb, seqs, recv);
  assert_int_equal(fb.count, 1001);
}

static void test_duplicates_and_late(void **state) {
  static struct {
    struct twcc_send s;
    struct twcc_recv r;
  } m;
  static const int64_t first[][2] = {{0, 0}, {1, 1000}, {1, 5000}, {3, 3000}, {4, 4000}};
  static const int64_t late[][2] = {{2, 9000}, {5, 10000}};
  struct twcc_fb fb;
  uint16_t seqs[WALK_MAX];
  int64_t recv[WALK_MAX];
  uint8_t buf[BIG];
  struct twcc_pkt out[16];
  const uint8_t *fci;
  size_t fci_len;
  int len;

  twcc_send_init(&m.s);
  twcc_recv_init(&m.r);
  for (int i = 0; i < 6; i++)
    twcc_send_next(&m.s, i, 100);
  assert_true(feed_build(&m.r, first, 5, BIG, &fb, seqs, recv) > 0);
  assert_int_equal(fb.count, 5);
  assert_true(recv[1] == 1000 && recv[2] == TWCC_LOST);
  /* 2 arrives late: the next feedback starts at it and repeats 3 and 4. */
  for (int i = 0; i < 2; i++)
    twcc_recv_on_packet(&m.r, (uint16_t)late[i][0], late[i][1]);
  len = twcc_recv_build(&m.r, buf, sizeof(buf), SSRC_A, SSRC_B);
  walk_built(buf, len, &fb, seqs, recv);
  assert_int_equal(fb.base_seq, 2);
  assert_int_equal(fb.count, 4);
  assert_true(recv[0] == 9000 && recv[1] == 3000 && recv[3] == 10000);

  /* The sender hears of 2 lost, then received; of 3 and 4 once. */
  twcc_recv_init(&m.r);
  for (int i = 0; i < 5; i++)
    twcc_recv_on_packet(&m.r, (uint16_t)first[i][0], first[i][1]);
  len = twcc_recv_build(&m.r, buf, sizeof(buf), SSRC_A, SSRC_B);
  fci_of(buf, len, &fci, &fci_len);
  assert_int_equal(twcc_send_on_feedback(&m.s, fci, fci_len, out, 16), 5);
  assert_true(out[2].seq == 2 && out[2].arrival_us == TWCC_LOST);
  for (int i = 0; i < 2; i++)
    twcc_recv_on_packet(&m.r, (uint16_t)late[i][0], late[i][1]);
  len = twcc_recv_build(&m.r, buf, sizeof(buf), SSRC_A, SSRC_B);
  fci_of(buf, len, &fci, &fci_len);
  assert_int_equal(twcc_send_on_feedback(&m.s, fci, fci_len, out, 16), 2);
  assert_true(out[0].seq == 2 && out[0].arrival_us - out[1].arrival_us == 9000 - 10000);
  assert_true(out[1].seq == 5);

  /* Far older than the last feedback: ignored. */
  twcc_recv_init(&m.r);
  twcc_recv_on_packet(&m.r, 1000, 0);
  twcc_recv_on_packet(&m.r, 1600, 1000);
  assert_true(twcc_recv_build(&m.r, buf, sizeof(buf), SSRC_A, SSRC_B) > 0);
  twcc_recv_on_packet(&m.r, 1200, 2000);
  assert_int_equal(twcc_recv_build(&m.r, buf, sizeof(buf), SSRC_A, SSRC_B), 0);
}

static void test_jump_restarts(void **state) {
  static struct twcc_recv r;
  static const int64_t start[][2] = {{100, 0}, {101, 1000}};
  static const int64_t stray[][2] = {{30000, 2000}, {102, 3000}};
  static const int64_t jump[][2] = {{40000, 4000}, {40001, 5000}};
  struct twcc_fb fb;
  uint16_t seqs[WALK_MAX];
  int64_t recv[WALK_MAX];

  twcc_recv_init(&r);
  assert_true(feed_build(&r, start, 2, BIG, &fb, seqs, recv) > 0);
  /* One stray number changes nothing. */
  assert_true(feed_build(&r, stray, 2, BIG, &fb, seqs, recv) > 0);
  assert_int_equal(fb.base_seq, 102);
  assert_int_equal(fb.count, 1);
  /* Two in a row: the numbering jumped; both are reported. */
  assert_true(feed_build(&r, jump, 2, BIG, &fb, seqs, recv) > 0);
  assert_int_equal(fb.base_seq, 40000);
  assert_int_equal(fb.count, 2);
  assert_true(recv[1] - recv[0] == 1000);
  assert_int_equal(fb.fb_count, 2);
}

/* The receiver's clock passes a multiple of 2^24 x 64 ms: the 24-bit
 * reference time wraps, the sender's arrival times do not jump. */
static void test_ref_time_wrap(void **state) {
  static struct {
    struct twcc_send s;
    struct twcc_recv r;
  } m;
  const int64_t wrap = ((int64_t)1 << 24) * 64000;
  uint8_t buf[BIG];
  struct twcc_pkt out[4];
  const uint8_t *fci;
  size_t fci_len;
  int len;

  twcc_send_init(&m.s);
  twcc_recv_init(&m.r);
  for (int i = 0; i < 2; i++) {
    twcc_send_next(&m.s, i, 100);
    twcc_recv_on_packet(&m.r, (uint16_t)i, wrap - 30000 + i * 60000);
    len = twcc_recv_build(&m.r, buf, sizeof(buf), SSRC_A, SSRC_B);
    fci_of(buf, len, &fci, &fci_len);
    assert_int_equal(fci[4] << 16 | fci[5] << 8 | fci[6], i ? 0 : 0xFFFFFF);
    assert_int_equal(twcc_send_on_feedback(&m.s, fci, fci_len, &out[i], 1), 1);
  }
  assert_true(out[0].arrival_us == wrap - 30000);
  assert_true(out[1].arrival_us - out[0].arrival_us == 60000);
}

/* ---- send side ---- */

static void test_send_history(void **state) {
  static struct twcc_send s;
  /* base 0, 3000 packets: runs of 1500 received with delta 0. */
  static const uint8_t fci[] = {0x00, 0x00, 0x0B, 0xB8, 0, 0, 0, 0, 0x25, 0xDC, 0x25, 0xDC};
  uint8_t all[sizeof(fci) + 3000];
  static struct twcc_pkt out[3000];
  int n;

  memcpy(all, fci, sizeof(fci));
  memset(all + sizeof(fci), 0, 3000);
  twcc_send_init(&s);
  assert_int_equal(twcc_send_on_feedback(&s, all, sizeof(all), out, 3000), 0); /* none sent */
  for (int i = 0; i < 2500; i++)
    assert_int_equal(twcc_send_next(&s, i, (uint32_t)i), i);
  /* 0..451 are older than the 2048 kept; 2500.. never sent. */
  n = twcc_send_on_feedback(&s, all, sizeof(all), out, 100);
  assert_int_equal(n, 100);
  assert_int_equal(out[0].seq, 452);
  assert_int_equal(out[99].seq, 551);
  n = twcc_send_on_feedback(&s, all, sizeof(all), out, 3000);
  assert_int_equal(n, 2048 - 100);
  assert_int_equal(out[0].seq, 552);
  assert_int_equal(out[n - 1].seq, 2499);
  assert_int_equal(out[n - 1].size, 2499);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_draft_example_bytes),    cmocka_unit_test(test_parse_table),
      cmocka_unit_test(test_send_refuses_malformed), cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_round_trip_small_cap),   cmocka_unit_test(test_wrap_send_side),
      cmocka_unit_test(test_loss_reporting),         cmocka_unit_test(test_wrap_receive_side),
      cmocka_unit_test(test_delta_too_large_splits), cmocka_unit_test(test_cap),
      cmocka_unit_test(test_duplicates_and_late),    cmocka_unit_test(test_jump_restarts),
      cmocka_unit_test(test_ref_time_wrap),          cmocka_unit_test(test_send_history),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
