/* Tests for src/media/pktstore.c: scripts of puts and lookups run against a
 * small store (16 slots, so eviction is quick to reach): put/get, overwrite
 * after the ring wraps, lookups of evicted and never-stored numbers, the
 * 65535 -> 0 wrap and the extended highest number, late packets, jumps, and
 * keyframe tracking. Every stored byte is checked on the way out. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "media/pktstore.h"

enum op_kind {
  END,  /* the rest of the script is empty */
  PUT,  /* put count packets from seq on, with flags at ms; expect rc */
  GET,  /* get count numbers from seq on: present, with the bytes put at ms */
  GONE, /* get count numbers from seq on: NULL */
  HIGH, /* pktstore_highest: rc, and ext when 0 */
  KF,   /* pktstore_last_keyframe: rc, and seq, ms when 0 */
  RESET,
};

struct op {
  enum op_kind kind;
  uint16_t seq;
  unsigned count;
  uint32_t flags;
  uint64_t ms;
  int rc;
  uint32_t ext;
};

#define P(seq, n, fl, ms) \
  { PUT, (seq), (n), (fl), (ms), 0, 0 }
#define P1(seq) \
  { PUT, (seq), 1, 0, 0, 0, 0 }
#define PR(seq) \
  { PUT, (seq), 1, 0, 0, -ERANGE, 0 } /* refused */
#define G(seq, n, fl, ms) \
  { GET, (seq), (n), (fl), (ms), 0, 0 }
#define G1(seq) \
  { GET, (seq), 1, 0, 0, 0, 0 }
#define X(seq, n) \
  { GONE, (seq), (n), 0, 0, 0, 0 }
#define H(ext) \
  { HIGH, 0, 1, 0, 0, 0, (ext) }
#define HNONE \
  { HIGH, 0, 1, 0, 0, -ENOENT, 0 }
#define K(seq, ms) \
  { KF, (seq), 1, 0, (ms), 0, 0 }
#define KNONE \
  { KF, 0, 1, 0, 0, -ENOENT, 0 }
#define R \
  { RESET, 0, 1, 0, 0, 0, 0 }

struct script {
  const char *name;
  size_t slots;
  struct op ops[16];
};

/* The bytes put for seq at ms: their length and content depend on both, so
 * a lookup that returns another packet is caught. */
static size_t pkt_bytes(uint16_t seq, uint64_t ms, uint8_t *out) {
  size_t len = 12 + (seq + ms) % 200;

  for (size_t i = 0; i < len; i++)
    out[i] = (uint8_t)(seq * 31 + ms * 7 + i);
  return len;
}

#define KEY PKT_KEYFRAME
#define MARK PKT_MARKER

static const struct script scripts[] = {
    {"put and get", 16, {P(1, 5, 0, 10), G(1, 5, 0, 10), X(0, 1), X(6, 1), H(5)}},
    {"flags and arrival time kept",
     16,
     {P(7, 1, MARK, 1234), P(8, 1, KEY | MARK, 99), G(7, 1, MARK, 1234), G(8, 1, KEY | MARK, 99)}},
    {"never stored", 16, {X(0, 1), X(65535, 1), HNONE, P1(3), X(4, 1)}},
    {"slot holds another seq", 16, {P1(5), X(21, 1), X(65525, 1), G1(5)}},
    {"ring overwrite", 16, {P(0, 41, 0, 5), X(0, 25), G(25, 16, 0, 5), H(40)}},
    {"evicted by a gap, slot untouched",
     16,
     {P(0, 1, 0, 1), P(20, 1, 0, 2), X(0, 1), G(20, 1, 0, 2)}},
    {"just inside the window", 16, {P1(0), P1(15), G1(0), P1(16), X(0, 1)}},
    {"wrap 65535 -> 0",
     16,
     {P(65530, 12, 0, 8), G(65530, 12, 0, 8), H(0x10005), X(65529, 1), X(6, 1)}},
    {"wrap twice",
     16,
     {P1(65535), P1(0), P1(9), P1(30000), P1(60000), P1(65534), P1(3), H(0x20003), G1(3), G1(65534),
      X(60000, 1)}},
    {"late packets",
     16,
     {P(100, 1, 0, 1), P(102, 1, 0, 3), P(101, 1, 0, 2), G(100, 1, 0, 1), G(101, 1, 0, 2),
      G(102, 1, 0, 3), H(102)}},
    {"late across the wrap",
     16,
     {P(2, 1, 0, 1), P(65534, 1, 0, 0), G(65534, 1, 0, 0), G(2, 1, 0, 1), H(2)}},
    {"too old refused", 16, {P(100, 3, 0, 0), PR(86), X(86, 1), G(100, 3, 0, 0), H(102)}},
    {"duplicate replaces", 16, {P(9, 1, 0, 1), P(9, 1, KEY, 2), G(9, 1, KEY, 2)}},
    {"forward jump accepted", 16, {P1(0), P1(30000), X(0, 1), G1(30000), H(30000)}},
    {"jump back confirmed by the next packet",
     16,
     {P(1000, 11, 0, 0), PR(500), P(501, 1, 0, 9), G(501, 1, 0, 9), X(500, 1), X(1005, 1), P1(502),
      H(0x101F6)}},
    {"jump ahead by half the space confirmed",
     16,
     {P1(0), PR(32768), P1(32769), G1(32769), X(0, 1), H(32769)}},
    {"a refused packet then a good one: no jump",
     16,
     {P(1000, 11, 0, 0), PR(500), P1(1011), PR(501), G1(1011), X(501, 1)}},
    {"keyframe tracking",
     16,
     {KNONE, P(10, 1, KEY, 100), P(11, 10, 0, 110), K(10, 100), P(21, 1, KEY, 300), K(21, 300),
      P(15, 1, KEY, 400), K(21, 300), P(22, 15, 0, 0), K(21, 300), P1(37), KNONE,
      P(38, 1, KEY, 900), K(38, 900)}},
    {"keyframe across the wrap",
     16,
     {P(65533, 1, KEY, 5), P(65534, 4, 0, 0), K(65533, 5), P(2, 1, KEY, 6), K(2, 6)}},
    {"keyframe slot reused by a duplicate", 16, {P(10, 1, KEY, 100), P(10, 1, 0, 101), K(10, 100)}},
    {"reset forgets",
     16,
     {P(10, 1, KEY, 1), P(11, 5, 0, 0), R, X(10, 6), HNONE, KNONE, P(40000, 1, 0, 2),
      G(40000, 1, 0, 2), H(40000)}},
    {"default size", 0, {P(0, 1024, 0, 3), G(0, 1024, 0, 3), P1(1024), X(0, 1), G(1, 1023, 0, 3)}},
};

#define FAIL_AT(s, i, what)                                             \
  do {                                                                  \
    print_error("script \"%s\", op %zu: %s\n", (s)->name, (i), (what)); \
    fail();                                                             \
  } while (0)

static void check_get(const struct script *s, size_t i, const struct pktstore *ps,
                      const struct op *o, uint16_t seq) {
  uint8_t want[PKTSTORE_MTU];
  const struct pkt *p = pktstore_get(ps, seq);
  size_t len = pkt_bytes(seq, o->ms, want);

  if (p == NULL)
    FAIL_AT(s, i, "packet missing");
  if (p->seq != seq || p->len != len || memcmp(p->data, want, len) != 0)
    FAIL_AT(s, i, "other bytes");
  if (p->flags != o->flags || p->arrival_ms != o->ms)
    FAIL_AT(s, i, "other flags or time");
}

static void run_op(const struct script *s, size_t i, struct pktstore *ps, const struct op *o) {
  uint8_t buf[PKTSTORE_MTU];
  uint32_t ext;
  uint16_t kseq;
  uint64_t kms;

  for (unsigned k = 0; k < o->count; k++) {
    uint16_t seq = (uint16_t)(o->seq + k);
    switch (o->kind) {
    case END: break;
    case PUT:
      if (pktstore_put(ps, seq, buf, pkt_bytes(seq, o->ms, buf), o->flags, o->ms) != o->rc)
        FAIL_AT(s, i, "put rc");
      break;
    case GET: check_get(s, i, ps, o, seq); break;
    case GONE:
      if (pktstore_get(ps, seq) != NULL)
        FAIL_AT(s, i, "packet still there");
      break;
    case HIGH:
      if (pktstore_highest(ps, &ext) != o->rc || (o->rc == 0 && ext != o->ext))
        FAIL_AT(s, i, "highest");
      break;
    case KF:
      if (pktstore_last_keyframe(ps, &kseq, &kms) != o->rc ||
          (o->rc == 0 && (kseq != o->seq || kms != o->ms)))
        FAIL_AT(s, i, "last keyframe");
      break;
    case RESET: pktstore_reset(ps); break;
    }
  }
}

static void test_scripts(void **state) {
  for (size_t j = 0; j < sizeof(scripts) / sizeof(scripts[0]); j++) {
    const struct script *s = &scripts[j];
    struct pktstore *ps = pktstore_new(s->slots);

    assert_non_null(ps);
    for (size_t i = 0; i < 16 && s->ops[i].kind != END; i++)
      run_op(s, i, ps, &s->ops[i]);
    pktstore_free(ps);
  }
}

static void test_new_sizes(void **state) {
  static const struct {
    size_t slots, got; /* got 0: refused with EINVAL */
  } cases[] = {{0, 1024}, {1, 1}, {2, 2},     {1024, 1024},        {32768, 32768},
               {1000, 0}, {3, 0}, {65536, 0}, {(size_t)1 << 40, 0}};

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct pktstore *ps;
    errno = 0;
    ps = pktstore_new(cases[i].slots);
    if (cases[i].got == 0) {
      assert_null(ps);
      assert_int_equal(errno, EINVAL);
      continue;
    }
    assert_non_null(ps);
    assert_int_equal(pktstore_slots(ps), cases[i].got);
    pktstore_free(ps);
  }
}

static void test_put_lengths(void **state) {
  struct pktstore *ps = pktstore_new(16);
  uint8_t buf[PKTSTORE_MTU + 1];

  memset(buf, 0xAB, sizeof(buf));
  assert_int_equal(pktstore_put(ps, 1, buf, 0, 0, 0), -EINVAL);
  assert_int_equal(pktstore_put(ps, 1, buf, PKTSTORE_MTU + 1, 0, 0), -EINVAL);
  assert_null(pktstore_get(ps, 1));
  assert_int_equal(pktstore_put(ps, 1, buf, PKTSTORE_MTU, 0, 0), 0);
  assert_int_equal(pktstore_get(ps, 1)->len, PKTSTORE_MTU);
  assert_int_equal(pktstore_get(ps, 1)->data[PKTSTORE_MTU - 1], 0xAB);
  assert_int_equal(pktstore_put(ps, 2, buf, 1, 0, 0), 0);
  assert_int_equal(pktstore_get(ps, 2)->len, 1);
  pktstore_free(ps);
}

/* A long run through many wraps: only the last slots numbers are kept, and
 * the extended number counts every lap. */
static void test_long_run(void **state) {
  struct pktstore *ps = pktstore_new(64);
  uint8_t buf[16] = {0};
  uint32_t ext;
  uint32_t total = 3 * 65536 + 100;

  for (uint32_t i = 0; i < total; i++) {
    uint16_t seq = (uint16_t)(40000 + i);
    buf[0] = (uint8_t)i;
    assert_int_equal(pktstore_put(ps, seq, buf, sizeof(buf), 0, i), 0);
  }
  assert_int_equal(pktstore_highest(ps, &ext), 0);
  assert_int_equal(ext, 40000 + total - 1);
  for (uint32_t back = 0; back < 200; back++) {
    uint16_t seq = (uint16_t)(40000 + total - 1 - back);
    const struct pkt *p = pktstore_get(ps, seq);
    if (back < 64) {
      assert_non_null(p);
      assert_int_equal(p->arrival_ms, total - 1 - back);
    } else {
      assert_null(p);
    }
  }
  pktstore_free(ps);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scripts),
      cmocka_unit_test(test_new_sizes),
      cmocka_unit_test(test_put_lengths),
      cmocka_unit_test(test_long_run),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
