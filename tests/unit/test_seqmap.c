/* Tests for src/media/seqmap.c: scripts of starts, packets and NACK lookups
 * with the numbers the viewer must see: the first segment, continuity across
 * restarts, out-of-order and repeated packets, packets from before a start,
 * NACK back-mapping (and its refusals), and 16/32-bit wrap. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "media/seqmap.h"

enum op_kind {
  END,
  START, /* seqmap_start(in_seq, in_ts) */
  OUT,   /* seqmap_out(in_seq, in_ts): rc, and out_seq, out_ts when 0 */
  IN,    /* seqmap_in_seq(out_seq): rc, and in_seq when 0 */
  GAP,   /* ts_gap = in_ts */
};

struct op {
  enum op_kind kind;
  uint16_t in_seq;
  uint32_t in_ts;
  int rc;
  uint16_t out_seq;
  uint32_t out_ts;
};

#define S(seq, ts) \
  { START, (seq), (ts), 0, 0, 0 }
#define O(seq, ts, oseq, ots) \
  { OUT, (seq), (ts), 0, (oseq), (ots) }
#define OERR(seq, rc) \
  { OUT, (seq), 0, (rc), 0, 0 }
#define I(oseq, seq) \
  { IN, (seq), 0, 0, (oseq), 0 }
#define IERR(oseq) \
  { IN, 0, 0, -ENOENT, (oseq), 0 }
#define GAPSET(ticks) \
  { GAP, 0, (ticks), 0, 0, 0 }

struct script {
  const char *name;
  struct op ops[20];
};

static const struct script scripts[] = {
    {"before start", {OERR(5, -EAGAIN), IERR(5), IERR(0)}},
    {"first segment keeps the publisher's numbers",
     {S(1000, 90000), IERR(1000), O(1000, 90000, 1000, 90000), O(1001, 93000, 1001, 93000),
      I(1000, 1000), I(1001, 1001), IERR(1002), IERR(999)}},
    {"restart continues sequence and timestamp",
     {S(1000, 90000), O(1000, 90000, 1000, 90000), O(1001, 93000, 1001, 93000),
      O(1002, 96000, 1002, 96000), S(50000, 7777), O(50000, 7777, 1003, 99000),
      O(50001, 10777, 1004, 102000), I(1004, 50001), I(1003, 50000), IERR(1002), IERR(1005)}},
    {"restart mid-frame keeps going",
     {S(7, 0), O(7, 0, 7, 0), O(8, 0, 8, 0), S(9, 0), O(9, 0, 9, 3000), O(10, 0, 10, 3000)}},
    {"out of order and duplicates keep their order",
     {S(10, 0), O(10, 0, 10, 0), S(500, 100), O(502, 100, 13, 3000), O(500, 100, 11, 3000),
      O(501, 100, 12, 3000), O(501, 100, 12, 3000), O(503, 3100, 14, 6000), O(500, 100, 11, 3000),
      OERR(499, -ESTALE), I(13, 502), I(11, 500), IERR(10)}},
    {"packets from before the start are refused",
     {S(2000, 0), OERR(1999, -ESTALE), O(2003, 30, 2003, 30), O(2001, 10, 2001, 10),
      O(2000, 0, 2000, 0), OERR(1999, -ESTALE), OERR(1000, -ESTALE), I(2000, 2000), IERR(1999)}},
    {"16-bit sequence wrap",
     {S(65534, 10), O(65534, 10, 65534, 10), O(65535, 20, 65535, 20), O(0, 30, 0, 30),
      O(1, 40, 1, 40), I(0, 0), I(65535, 65535), I(65534, 65534), IERR(2), IERR(65533)}},
    {"32-bit timestamp wrap across a restart",
     {S(5, 4294966000u), O(5, 4294966000u, 5, 4294966000u), S(100, 0), O(100, 0, 6, 1704),
      O(101, 3000, 7, 4704)}},
    {"restart after 65535 continues at 0",
     {S(65535, 0), O(65535, 0, 65535, 0), S(100, 500), O(100, 500, 0, 3000), O(101, 800, 1, 3300),
      I(0, 100), I(1, 101), IERR(65535)}},
    {"restart with nothing sent starts where it would have",
     {S(1000, 90000), O(1000, 90000, 1000, 90000), S(5000, 1), S(7000, 500),
      O(7000, 500, 1001, 93000), I(1001, 7000)}},
    {"two starts before any packet",
     {S(1000, 90000), S(4000, 5), O(4000, 5, 1000, 90000), O(4001, 6, 1001, 90001)}},
    {"restart after the latest timestamp, not the last packet's",
     {S(0, 0), O(0, 1000, 0, 1000), O(2, 3000, 2, 3000), O(1, 2000, 1, 2000), S(9, 9),
      O(9, 9, 3, 6000)}},
    {"ts_gap set by the caller",
     {GAPSET(960), S(0, 0), O(0, 48000, 0, 48000), S(77, 5), O(77, 5, 1, 48960), GAPSET(0),
      S(99, 0), O(99, 0, 2, 48960)}},
    {"gap of packets within a segment",
     {S(100, 0), O(100, 0, 100, 0), O(130, 0, 130, 0), I(115, 115), O(115, 0, 115, 0), S(0, 0),
      O(0, 0, 131, 3000)}},
};

#define FAIL_AT(s, i, what)                                             \
  do {                                                                  \
    print_error("script \"%s\", op %zu: %s\n", (s)->name, (i), (what)); \
    fail();                                                             \
  } while (0)

static void run_op(const struct script *s, size_t i, struct seqmap *m, const struct op *o) {
  uint16_t seq = 0xAAAA;
  uint32_t ts = 0xBBBBBBBB;
  int rc;

  switch (o->kind) {
  case END: break;
  case START: seqmap_start(m, o->in_seq, o->in_ts); break;
  case GAP: m->ts_gap = o->in_ts; break;
  case OUT:
    rc = seqmap_out(m, o->in_seq, o->in_ts, &seq, &ts);
    if (rc != o->rc)
      FAIL_AT(s, i, "seqmap_out rc");
    if (rc == 0 && (seq != o->out_seq || ts != o->out_ts)) {
      print_error("got seq %u ts %u\n", seq, ts);
      FAIL_AT(s, i, "seqmap_out numbers");
    }
    break;
  case IN:
    rc = seqmap_in_seq(m, o->out_seq, &seq);
    if (rc != o->rc)
      FAIL_AT(s, i, "seqmap_in_seq rc");
    if (rc == 0 && seq != o->in_seq)
      FAIL_AT(s, i, "seqmap_in_seq number");
    break;
  }
}

static void test_scripts(void **state) {
  for (size_t j = 0; j < sizeof(scripts) / sizeof(scripts[0]); j++) {
    const struct script *s = &scripts[j];
    struct seqmap m;

    seqmap_init(&m, 0x5EED);
    assert_int_equal(m.out_ssrc, 0x5EED);
    assert_int_equal(m.ts_gap, SEQMAP_TS_GAP_DEFAULT);
    for (size_t i = 0; i < 20 && s->ops[i].kind != END; i++)
      run_op(s, i, &m, &s->ops[i]);
  }
}

/* Across many restarts at random-looking publisher numbers, the viewer's
 * sequence numbers never repeat or skip and its timestamps never go back. */
static void test_many_restarts(void **state) {
  struct seqmap m;
  uint16_t want = 0, in_seq, out_seq;
  uint32_t in_ts, out_ts, last_ts = 0, x = 12345;
  int first = 1;

  seqmap_init(&m, 1);
  for (int seg = 0; seg < 500; seg++) {
    x = x * 1103515245 + 12345;
    in_seq = (uint16_t)(x >> 8);
    in_ts = x * 2654435761u;
    seqmap_start(&m, in_seq, in_ts);
    for (int k = 0; k < (int)(x >> 28) + 1; k++) {
      assert_int_equal(
          seqmap_out(&m, (uint16_t)(in_seq + k), in_ts + 3000u * (uint32_t)k, &out_seq, &out_ts),
          0);
      if (!first) {
        assert_int_equal(out_seq, want);
        assert_true((int32_t)(out_ts - last_ts) > 0);
      }
      first = 0;
      want = (uint16_t)(out_seq + 1);
      last_ts = out_ts;
    }
  }
}

/* NACKs reach back at most half the sequence space. */
static void test_nack_reach(void **state) {
  struct seqmap m;
  uint16_t out_seq, in_seq;
  uint32_t out_ts;

  seqmap_init(&m, 1);
  seqmap_start(&m, 0, 0);
  for (uint32_t i = 0; i < 40000; i++)
    assert_int_equal(seqmap_out(&m, (uint16_t)i, i, &out_seq, &out_ts), 0);
  assert_int_equal(seqmap_in_seq(&m, 39999, &in_seq), 0);
  assert_int_equal(seqmap_in_seq(&m, 39999 - 32767, &in_seq), 0);
  assert_int_equal(in_seq, 39999 - 32767);
  assert_int_equal(seqmap_in_seq(&m, 39999 - 32768, &in_seq), -ENOENT);
  assert_int_equal(seqmap_in_seq(&m, 0, &in_seq), -ENOENT);
  assert_int_equal(seqmap_in_seq(&m, 40000, &in_seq), -ENOENT);
  /* a late packet 20000 back is still in the segment */
  assert_int_equal(seqmap_out(&m, 20000, 20000, &out_seq, &out_ts), 0);
  assert_int_equal(out_seq, 20000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scripts),
      cmocka_unit_test(test_many_restarts),
      cmocka_unit_test(test_nack_reach),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
