/* Tests for src/ws/utf8.c: a table of valid and invalid sequences checked
 * whole, byte at a time (with the position of the first rejected byte) and
 * split at every point, then an exhaustive comparison of all 1- to 3-byte
 * strings (and a sample of 4-byte ones) with a reference built from Unicode
 * table 3-7. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "case_check.h"
#include "ws/utf8.h"

#define VALID (-1)     /* every byte accepted and utf8_finish() is 0 */
#define TRUNCATED (-2) /* every byte accepted but a sequence is left open */

struct utf8_case {
  const char *name;
  const char *bytes;
  size_t len;
  int fail_at;  /* VALID, TRUNCATED, or index of the first rejected byte */
  size_t chars; /* code points, for VALID cases */
};

#define B(s) s, sizeof(s) - 1

static const struct utf8_case cases[] = {
    {"empty", B(""), VALID, 0},
    {"ascii", B("hello"), VALID, 5},
    {"nul byte", B("\0"), VALID, 1},
    {"U+0080 smallest 2-byte", B("\xC2\x80"), VALID, 1},
    {"U+07FF largest 2-byte", B("\xDF\xBF"), VALID, 1},
    {"U+0800 smallest 3-byte", B("\xE0\xA0\x80"), VALID, 1},
    {"U+D7FF below surrogates", B("\xED\x9F\xBF"), VALID, 1},
    {"U+E000 above surrogates", B("\xEE\x80\x80"), VALID, 1},
    {"U+FFFD", B("\xEF\xBF\xBD"), VALID, 1},
    {"U+FFFF noncharacter is well formed", B("\xEF\xBF\xBF"), VALID, 1},
    {"U+10000 smallest 4-byte", B("\xF0\x90\x80\x80"), VALID, 1},
    {"U+10FFFF largest", B("\xF4\x8F\xBF\xBF"), VALID, 1},
    {"greek kosme", B("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5"), VALID, 5},
    {"mixed widths", B("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z"), VALID, 5},
    {"lone continuation", B("\x80"), 0, 0},
    {"continuation after ascii", B("a\xBF"), 1, 0},
    {"overlong nul C0 80", B("\xC0\x80"), 0, 0},
    {"overlong C1 BF", B("\xC1\xBF"), 0, 0},
    {"overlong 3-byte E0 80 80", B("\xE0\x80\x80"), 1, 0},
    {"overlong 3-byte E0 9F BF", B("\xE0\x9F\xBF"), 1, 0},
    {"surrogate U+D800", B("\xED\xA0\x80"), 1, 0},
    {"surrogate U+DFFF", B("\xED\xBF\xBF"), 1, 0},
    {"surrogate pair (CESU-8)", B("\xED\xA0\xBD\xED\xB8\x80"), 1, 0},
    {"overlong 4-byte F0 80 80 80", B("\xF0\x80\x80\x80"), 1, 0},
    {"overlong 4-byte F0 8F BF BF", B("\xF0\x8F\xBF\xBF"), 1, 0},
    {"U+110000 above max", B("\xF4\x90\x80\x80"), 1, 0},
    {"lead F5", B("\xF5\x80\x80\x80"), 0, 0},
    {"lead F7", B("\xF7\xBF\xBF\xBF"), 0, 0},
    {"5-byte form F8", B("\xF8\x88\x80\x80\x80"), 0, 0},
    {"6-byte form FC", B("\xFC\x84\x80\x80\x80\x80"), 0, 0},
    {"byte FE", B("\xFE"), 0, 0},
    {"byte FF", B("ab\xFF"), 2, 0},
    {"ascii instead of continuation", B("\xC2\x41"), 1, 0},
    {"ascii as third byte", B("\xE2\x82\x41"), 2, 0},
    {"lead instead of continuation", B("\xE2\xC2\x80"), 1, 0},
    {"kosme then U+110000 (fails fast)",
     B("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xF4\x90\x80\x80\x65\x64"), 12, 0},
    {"truncated 2-byte", B("\xC2"), TRUNCATED, 0},
    {"truncated 3-byte", B("\xE2\x82"), TRUNCATED, 0},
    {"truncated 4-byte", B("\xF0\x9F\x98"), TRUNCATED, 0},
    {"truncated after text", B("ok\xF4\x8F\xBF"), TRUNCATED, 0},
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static void test_table_whole(void **state) {
  size_t i, chars;

  for (i = 0; i < NCASES; i++) {
    const struct utf8_case *c = &cases[i];
    const uint8_t *d = (const uint8_t *)c->bytes;
    struct utf8_state s;
    int fed, fin;

    chars = 12345;
    if (c->fail_at == VALID) {
      CHECK(c, utf8_valid(d, c->len, &chars) == 0);
      CHECK(c, chars == c->chars);
    } else {
      CHECK(c, utf8_valid(d, c->len, &chars) == -1);
      CHECK(c, chars == 12345); /* not written on failure */
    }
    CHECK(c, utf8_valid(d, c->len, NULL) == (c->fail_at == VALID ? 0 : -1));
    utf8_init(&s);
    fed = utf8_feed(&s, d, c->len);
    fin = utf8_finish(&s);
    CHECK(c, fed == (c->fail_at >= 0 ? -1 : 0));
    CHECK(c, fin == (c->fail_at == VALID ? 0 : -1));
  }
}

/* Byte at a time: the first -1 must come exactly at the first byte that no
 * valid string can continue with. */
static void test_table_byte_at_a_time(void **state) {
  size_t i, j;

  for (i = 0; i < NCASES; i++) {
    const struct utf8_case *c = &cases[i];
    struct utf8_state s;
    int failed_at = VALID;

    utf8_init(&s);
    for (j = 0; j < c->len; j++) {
      if (utf8_feed(&s, (const uint8_t *)c->bytes + j, 1) < 0) {
        failed_at = (int)j;
        break;
      }
    }
    if (failed_at == VALID && utf8_finish(&s) < 0)
      failed_at = TRUNCATED;
    CHECK(c, failed_at == c->fail_at);
  }
}

static void test_table_every_split(void **state) {
  size_t i, k;

  for (i = 0; i < NCASES; i++) {
    const struct utf8_case *c = &cases[i];
    const uint8_t *d = (const uint8_t *)c->bytes;

    for (k = 0; k <= c->len; k++) {
      struct utf8_state s;
      int ok;

      utf8_init(&s);
      ok =
          utf8_feed(&s, d, k) == 0 && utf8_feed(&s, d + k, c->len - k) == 0 && utf8_finish(&s) == 0;
      CHECK(c, ok == (c->fail_at == VALID));
    }
  }
}

static void test_error_is_sticky(void **state) {
  struct utf8_state s;

  utf8_init(&s);
  assert_int_equal(utf8_feed(&s, (const uint8_t *)"\xC0", 1), -1);
  assert_int_equal(utf8_feed(&s, (const uint8_t *)"abc", 3), -1);
  assert_int_equal(utf8_feed(&s, (const uint8_t *)"", 0), -1);
  assert_int_equal(utf8_finish(&s), -1);
  utf8_init(&s);
  assert_int_equal(utf8_feed(&s, (const uint8_t *)"abc", 3), 0);
  assert_int_equal(utf8_finish(&s), 0);
}

/* Reference: Unicode 15 table 3-7, "well-formed UTF-8 byte sequences".
 * Returns VALID, TRUNCATED or the index of the first byte that cannot be
 * part of a well-formed sequence. */
static int ref_check(const uint8_t *d, size_t len) {
  static const struct {
    uint8_t lo0, hi0, lo1, hi1, n;
  } rows[] = {
      {0x00, 0x7F, 0, 0, 1},       {0xC2, 0xDF, 0x80, 0xBF, 2}, {0xE0, 0xE0, 0xA0, 0xBF, 3},
      {0xE1, 0xEC, 0x80, 0xBF, 3}, {0xED, 0xED, 0x80, 0x9F, 3}, {0xEE, 0xEF, 0x80, 0xBF, 3},
      {0xF0, 0xF0, 0x90, 0xBF, 4}, {0xF1, 0xF3, 0x80, 0xBF, 4}, {0xF4, 0xF4, 0x80, 0x8F, 4},
  };
  size_t i = 0, r, k;

  while (i < len) {
    for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
      if (d[i] >= rows[r].lo0 && d[i] <= rows[r].hi0)
        break;
    if (r == sizeof(rows) / sizeof(rows[0]))
      return (int)i;
    for (k = 1; k < rows[r].n; k++) {
      uint8_t lo = k == 1 ? rows[r].lo1 : 0x80, hi = k == 1 ? rows[r].hi1 : 0xBF;

      if (i + k >= len)
        return TRUNCATED;
      if (d[i + k] < lo || d[i + k] > hi)
        return (int)(i + k);
    }
    i += rows[r].n;
  }
  return VALID;
}

/* Runs the validator byte at a time and reports like ref_check(). */
static int dut_check(const uint8_t *d, size_t len) {
  struct utf8_state s;
  size_t i;

  utf8_init(&s);
  for (i = 0; i < len; i++)
    if (utf8_feed(&s, d + i, 1) < 0)
      return (int)i;
  return utf8_finish(&s) == 0 ? VALID : TRUNCATED;
}

static void check_against_ref(const uint8_t *d, size_t len) {
  int want = ref_check(d, len), got = dut_check(d, len);

  if (want != got || (utf8_valid(d, len, NULL) == 0) != (want == VALID)) {
    print_error("bytes %02x %02x %02x %02x (len %zu): want %d got %d\n", d[0], len > 1 ? d[1] : 0,
                len > 2 ? d[2] : 0, len > 3 ? d[3] : 0, len, want, got);
    fail();
  }
}

static void test_exhaustive_short(void **state) {
  uint8_t d[3];
  unsigned a, b, c;

  for (a = 0; a < 256; a++) {
    d[0] = (uint8_t)a;
    check_against_ref(d, 1);
    for (b = 0; b < 256; b++) {
      d[1] = (uint8_t)b;
      check_against_ref(d, 2);
      for (c = 0; c < 256; c++) {
        d[2] = (uint8_t)c;
        check_against_ref(d, 3);
      }
    }
  }
}

/* All 4-byte strings whose first two bytes are anything and whose last two
 * bytes come from the interesting edges. */
static void test_four_byte_edges(void **state) {
  static const uint8_t tail[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90,
                                 0x9F, 0xA0, 0xBF, 0xC0, 0xF4, 0xFF};
  uint8_t d[4];
  unsigned a, b, c, e;

  for (a = 0; a < 256; a++)
    for (b = 0; b < 256; b++)
      for (c = 0; c < sizeof(tail); c++)
        for (e = 0; e < sizeof(tail); e++) {
          d[0] = (uint8_t)a;
          d[1] = (uint8_t)b;
          d[2] = tail[c];
          d[3] = tail[e];
          check_against_ref(d, 4);
        }
}

/* Every scalar value encodes to a valid 1-char string; every surrogate
 * encoded the same way is rejected. */
static void test_every_code_point(void **state) {
  uint32_t cp;

  for (cp = 0; cp <= 0x10FFFF; cp++) {
    uint8_t d[4];
    size_t n, chars = 0;

    if (cp < 0x80) {
      d[0] = (uint8_t)cp;
      n = 1;
    } else if (cp < 0x800) {
      d[0] = (uint8_t)(0xC0 | cp >> 6);
      d[1] = (uint8_t)(0x80 | (cp & 0x3F));
      n = 2;
    } else if (cp < 0x10000) {
      d[0] = (uint8_t)(0xE0 | cp >> 12);
      d[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
      d[2] = (uint8_t)(0x80 | (cp & 0x3F));
      n = 3;
    } else {
      d[0] = (uint8_t)(0xF0 | cp >> 18);
      d[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
      d[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
      d[3] = (uint8_t)(0x80 | (cp & 0x3F));
      n = 4;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      assert_int_equal(utf8_valid(d, n, NULL), -1);
      continue;
    }
    if (utf8_valid(d, n, &chars) != 0 || chars != 1) {
      print_error("U+%04X rejected\n", (unsigned)cp);
      fail();
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table_whole),       cmocka_unit_test(test_table_byte_at_a_time),
      cmocka_unit_test(test_table_every_split), cmocka_unit_test(test_error_is_sticky),
      cmocka_unit_test(test_exhaustive_short),  cmocka_unit_test(test_four_byte_edges),
      cmocka_unit_test(test_every_code_point),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
