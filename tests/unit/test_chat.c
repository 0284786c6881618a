/* Tests for src/app/chat.c: what a message may contain (a table of texts,
 * lengths counted in code points) and the per-user token bucket (burst,
 * refill, cap, a clock that steps back). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/chat.h"

#define T(s) s, sizeof(s) - 1

static const struct {
  const char *name;
  const char *text;
  size_t len;
  int rc;
} text_cases[] = {
    {"plain", T("hello"), 0},
    {"one char", T("x"), 0},
    {"leading and trailing space", T("  hi  "), 0},
    {"tab inside", T("a\tb"), 0},
    {"newline inside", T("line 1\nline 2"), 0},
    {"unicode", T("caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x98\x80"), 0},
    {"nbsp counts as visible", T("\xc2\xa0"), 0},
    {"empty", T(""), -ENODATA},
    {"one space", T(" "), -ENODATA},
    {"spaces", T("     "), -ENODATA},
    {"tab only", T("\t"), -ENODATA},
    {"newline only", T("\n"), -ENODATA},
    {"mixed white space", T(" \t\n \n\t "), -ENODATA},
    {"NUL", T("a\0b"), -EINVAL},
    {"lone NUL", T("\0"), -EINVAL},
    {"carriage return", T("a\rb"), -EINVAL},
    {"CRLF", T("a\r\nb"), -EINVAL},
    {"bell", T("ding\a"), -EINVAL},
    {"escape (terminal codes)", T("\x1b[31mred"), -EINVAL},
    {"unit separator 0x1f", T("a\x1f"), -EINVAL},
    {"DEL 0x7f", T("a\x7f"), -EINVAL},
    {"control in white space only", T(" \x01 "), -EINVAL},
    {"invalid: lone continuation", T("a\x80"), -EINVAL},
    {"invalid: overlong slash", T("\xc0\xaf"), -EINVAL},
    {"invalid: surrogate", T("\xed\xa0\x80"), -EINVAL},
    {"invalid: truncated", T("ok\xe2\x82"), -EINVAL},
    {"invalid: 0xff", T("\xff"), -EINVAL},
    {"invalid: above U+10FFFF", T("\xf4\x90\x80\x80"), -EINVAL},
};

static void test_text_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]); i++) {
    int rc = chat_text_check(text_cases[i].text, text_cases[i].len, CHAT_MAX_CHARS);
    if (rc != text_cases[i].rc) {
      print_error("text \"%s\": rc %d, want %d\n", text_cases[i].name, rc, text_cases[i].rc);
      fail();
    }
  }
}

/* Length limits: `count` repetitions of `unit` (optionally with a suffix). */
static const struct {
  const char *name;
  const char *unit;
  size_t count;
  int rc;
} len_cases[] = {
    {"500 ASCII", "a", 500, 0},
    {"501 ASCII", "a", 501, -E2BIG},
    {"2000 ASCII", "a", 2000, -E2BIG},
    {"500 two-byte (1000 bytes)", "\xc3\xa9", 500, 0},
    {"501 two-byte", "\xc3\xa9", 501, -E2BIG},
    {"500 three-byte (1500 bytes)", "\xe2\x82\xac", 500, 0},
    {"501 three-byte", "\xe2\x82\xac", 501, -E2BIG},
    {"500 four-byte (2000 bytes)", "\xf0\x9f\x98\x80", 500, 0},
    {"501 four-byte", "\xf0\x9f\x98\x80", 501, -E2BIG},
    {"250 mixed pairs (500 chars)", "a\xf0\x9f\x98\x80", 250, 0},
    {"251 mixed pairs (502 chars)", "a\xf0\x9f\x98\x80", 251, -E2BIG},
    {"500 newlines and letters", "\nb", 250, 0},
    {"501 spaces (only white space)", " ", 501, -ENODATA},
};

static void test_length_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(len_cases) / sizeof(len_cases[0]); i++) {
    size_t ul = strlen(len_cases[i].unit);
    size_t n = ul * len_cases[i].count;
    /* Exactly n bytes, no NUL, so a read past len shows under valgrind. */
    char *text = malloc(n);
    assert_non_null(text);
    for (size_t k = 0; k < len_cases[i].count; k++)
      memcpy(text + k * ul, len_cases[i].unit, ul);
    int rc = chat_text_check(text, n, CHAT_MAX_CHARS);
    free(text);
    if (rc != len_cases[i].rc) {
      print_error("length \"%s\": rc %d, want %d\n", len_cases[i].name, rc, len_cases[i].rc);
      fail();
    }
  }
}

static void test_max_chars_parameter(void **state) {
  (void)state;
  assert_int_equal(chat_text_check(T("abc"), 3), 0);
  assert_int_equal(chat_text_check(T("abcd"), 3), -E2BIG);
  assert_int_equal(chat_text_check(T("\xc3\xa9\xc3\xa9\xc3\xa9"), 3), 0);
  assert_int_equal(chat_text_check(T("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"), 3), -E2BIG);
  /* len is honoured: the bytes after it are not looked at. */
  assert_int_equal(chat_text_check("ok\x01", 2, 10), 0);
  assert_int_equal(chat_text_check("  x", 2, 10), -ENODATA);
}

/* A bucket scenario: calls at given times and the results wanted. */
struct bucket_step {
  uint64_t now_ms;
  int rc;
};

static const struct {
  const char *name;
  unsigned burst;
  double per_sec;
  struct bucket_step steps[16];
  size_t nsteps;
} bucket_cases[] = {
    {"burst of 3 then wait",
     3,
     1.0,
     {{1000, 0}, {1000, 0}, {1000, 0}, {1000, -EAGAIN}, {1500, -EAGAIN}, {1999, -EAGAIN}},
     6},
    {"refill one per second",
     3,
     1.0,
     {{0, 0}, {0, 0}, {0, 0}, {0, -EAGAIN}, {1000, 0}, {1000, -EAGAIN}, {2000, 0}, {2000, -EAGAIN}},
     8},
    {"refill two per second",
     1,
     2.0,
     {{5000, 0}, {5000, -EAGAIN}, {5250, -EAGAIN}, {5500, 0}, {5999, -EAGAIN}, {6000, 0}},
     6},
    {"slow rate 0.5/s",
     1,
     0.5,
     {{0, 0}, {1000, -EAGAIN}, {1999, -EAGAIN}, {2000, 0}, {3000, -EAGAIN}},
     5},
    {"refused attempts do not delay the refill",
     1,
     1.0,
     {{0, 0}, {100, -EAGAIN}, {200, -EAGAIN}, {300, -EAGAIN}, {999, -EAGAIN}, {1000, 0}},
     6},
    {"long idle caps at burst",
     2,
     1.0,
     {{0, 0}, {0, 0}, {3600000, 0}, {3600000, 0}, {3600000, -EAGAIN}},
     5},
    {"partial refill adds up",
     5,
     1.0,
     {{0, 0},
      {0, 0},
      {0, 0},
      {0, 0},
      {0, 0},
      {0, -EAGAIN},
      {2500, 0},
      {2500, 0},
      {2500, -EAGAIN},
      {3000, 0},
      {3000, -EAGAIN}},
     11},
    {"clock steps back: no refill, no crash",
     2,
     1.0,
     {{10000, 0}, {10000, 0}, {5000, -EAGAIN}, {10999, -EAGAIN}, {11000, 0}},
     5},
    {"first call at time 0 still gets the burst",
     2,
     10.0,
     {{0, 0}, {0, 0}, {0, -EAGAIN}, {100, 0}, {100, -EAGAIN}},
     5},
};

static void test_bucket_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(bucket_cases) / sizeof(bucket_cases[0]); i++) {
    struct chat_bucket b;
    memset(&b, 0, sizeof(b)); /* as the caller's calloc leaves it */
    for (size_t s = 0; s < bucket_cases[i].nsteps; s++) {
      const struct bucket_step *st = &bucket_cases[i].steps[s];
      int rc = chat_bucket_take(&b, bucket_cases[i].burst, bucket_cases[i].per_sec, st->now_ms);
      if (rc != st->rc) {
        print_error("bucket \"%s\" step %zu (t=%llu): rc %d, want %d\n", bucket_cases[i].name, s,
                    (unsigned long long)st->now_ms, rc, st->rc);
        fail();
      }
    }
  }
}

/* Over a long run at one attempt per 10 ms the bucket lets through the burst
 * plus per_sec per second, no more. */
static void test_bucket_long_run_rate(void **state) {
  (void)state;
  struct chat_bucket b;
  memset(&b, 0, sizeof(b));
  unsigned ok = 0;
  for (uint64_t t = 0; t <= 60000; t += 10) {
    if (chat_bucket_take(&b, 5, 1.0, t) == 0)
      ok++;
  }
  /* 5 at once, then one per second for 60 s. */
  assert_in_range(ok, 64, 65);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text_table),           cmocka_unit_test(test_length_table),
      cmocka_unit_test(test_max_chars_parameter),  cmocka_unit_test(test_bucket_table),
      cmocka_unit_test(test_bucket_long_run_rate),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
