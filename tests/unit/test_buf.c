/* Tests for src/util/buf.c: the hard cap (within, at, one past, far past),
 * that a refused append leaves the content alone, zero-length appends,
 * consume, terminate and reset. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"

/* One append step of a scenario: append `n` bytes of `fill` and expect rc. */
struct buf_step {
  size_t n;
  char fill;
  int rc;
};

struct buf_case {
  const char *name;
  size_t max;
  struct buf_step steps[4];
  size_t nsteps;
  size_t want_len; /* bytes in the buffer after every step */
};

static const struct buf_case cases[] = {
    {"empty append on fresh buffer", 10, {{0, 'x', 0}}, 1, 0},
    {"within the cap", 10, {{4, 'a', 0}, {3, 'b', 0}}, 2, 7},
    {"exactly at the cap", 10, {{6, 'a', 0}, {4, 'b', 0}}, 2, 10},
    {"one past the cap in one go", 10, {{11, 'a', -ENOBUFS}}, 1, 0},
    {"one past the cap after data", 10, {{6, 'a', 0}, {5, 'b', -ENOBUFS}}, 2, 6},
    {"full then one more byte", 10, {{10, 'a', 0}, {1, 'b', -ENOBUFS}}, 2, 10},
    {"full then zero bytes", 10, {{10, 'a', 0}, {0, 'b', 0}}, 2, 10},
    {"refused then a fitting append", 10, {{8, 'a', 0}, {3, 'b', -ENOBUFS}, {2, 'c', 0}}, 3, 10},
    {"cap 0 refuses one byte", 0, {{1, 'a', -ENOBUFS}, {0, 'a', 0}}, 2, 0},
    {"past the first 256-byte chunk", 1000, {{200, 'a', 0}, {200, 'b', 0}, {600, 'c', 0}}, 3, 1000},
    {"big cap, growth then refusal",
     5000,
     {{4096, 'a', 0}, {905, 'b', -ENOBUFS}, {904, 'c', 0}},
     3,
     5000},
    {"huge n does not wrap", 10, {{3, 'a', 0}, {SIZE_MAX, 'b', -ENOBUFS}}, 2, 3},
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static void test_append_table(void **state) {
  (void)state;
  static uint8_t src[8192];
  for (size_t i = 0; i < NCASES; i++) {
    const struct buf_case *c = &cases[i];
    struct buf b;
    uint8_t want[8192];
    size_t want_len = 0;
    buf_init(&b, c->max);
    for (size_t s = 0; s < c->nsteps; s++) {
      const struct buf_step *st = &c->steps[s];
      size_t fill_n = st->n < sizeof(src) ? st->n : sizeof(src);
      memset(src, st->fill, fill_n);
      int rc = buf_append(&b, src, st->n);
      if (rc != st->rc) {
        print_error("case \"%s\" step %zu: rc %d, want %d\n", c->name, s, rc, st->rc);
        fail();
      }
      if (st->rc == 0) {
        memset(want + want_len, st->fill, st->n);
        want_len += st->n;
      }
      /* Content is exactly what the successful appends put there. */
      if (b.len != want_len || (want_len && memcmp(b.data, want, want_len) != 0)) {
        print_error("case \"%s\" step %zu: len %zu, want %zu\n", c->name, s, b.len, want_len);
        fail();
      }
      assert_true(b.len <= b.max);
    }
    if (b.len != c->want_len) {
      print_error("case \"%s\": final len %zu, want %zu\n", c->name, b.len, c->want_len);
      fail();
    }
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.max, c->max); /* the cap survives a free */
  }
}

static void test_zero_length_null_data(void **state) {
  (void)state;
  struct buf b;
  buf_init(&b, 16);
  assert_int_equal(buf_append(&b, NULL, 0), 0);
  assert_int_equal(b.len, 0);
  assert_int_equal(buf_append(&b, "abc", 3), 0);
  assert_int_equal(buf_append(&b, NULL, 0), 0);
  assert_int_equal(b.len, 3);
  assert_memory_equal(b.data, "abc", 3);
  buf_free(&b);
}

static void test_consume(void **state) {
  (void)state;
  static const struct {
    const char *name;
    size_t n;
    const char *left;
  } steps[] = {
      {"nothing", 0, "0123456789"},
      {"one byte", 1, "123456789"},
      {"several", 4, "56789"},
      {"the rest", 5, ""},
  };
  struct buf b;
  buf_init(&b, 64);
  assert_int_equal(buf_append(&b, "0123456789", 10), 0);
  for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
    buf_consume(&b, steps[i].n);
    size_t want = strlen(steps[i].left);
    if (b.len != want || memcmp(b.data, steps[i].left, want) != 0) {
      print_error("consume \"%s\": len %zu, want %zu\n", steps[i].name, b.len, want);
      fail();
    }
  }
  /* Consuming frees room under the cap again. */
  assert_int_equal(buf_append(&b, "abcdefghij", 10), 0);
  buf_consume(&b, 3);
  assert_int_equal(buf_append(&b, "XY", 2), 0);
  assert_int_equal(b.len, 9);
  assert_memory_equal(b.data, "defghijXY", 9);
  buf_free(&b);
}

static void test_consume_makes_room_at_cap(void **state) {
  (void)state;
  struct buf b;
  buf_init(&b, 8);
  assert_int_equal(buf_append(&b, "abcdefgh", 8), 0);
  assert_int_equal(buf_append(&b, "i", 1), -ENOBUFS);
  buf_consume(&b, 2);
  assert_int_equal(buf_append(&b, "ij", 2), 0);
  assert_int_equal(buf_append(&b, "k", 1), -ENOBUFS);
  assert_memory_equal(b.data, "cdefghij", 8);
  buf_free(&b);
}

static void test_terminate(void **state) {
  (void)state;
  static const struct {
    const char *name;
    size_t max;
    const char *text;
  } cases_t[] = {
      {"empty buffer", 16, ""},
      {"some text", 16, "hello"},
      {"full to the cap", 5, "hello"},
      {"cap 0", 0, ""},
      {"cap at a growth boundary", 256, NULL}, /* 256 'z' */
  };
  for (size_t i = 0; i < sizeof(cases_t) / sizeof(cases_t[0]); i++) {
    struct buf b;
    char text[300];
    if (cases_t[i].text) {
      snprintf(text, sizeof(text), "%s", cases_t[i].text);
    } else {
      memset(text, 'z', 256);
      text[256] = 0;
    }
    size_t n = strlen(text);
    buf_init(&b, cases_t[i].max);
    assert_int_equal(buf_append(&b, text, n), 0);
    if (buf_terminate(&b) != 0) {
      print_error("terminate \"%s\" failed\n", cases_t[i].name);
      fail();
    }
    /* The NUL is there, inside the allocation, but not counted. */
    assert_int_equal(b.len, n);
    assert_true(b.cap >= n + 1);
    assert_non_null(b.data);
    assert_string_equal((const char *)b.data, text);
    /* The NUL does not eat into the cap: the buffer still fills to max. */
    if (n < b.max)
      assert_int_equal(buf_append(&b, "x", 1), 0);
    buf_free(&b);
  }
}

static void test_terminate_then_append_overwrites_nul(void **state) {
  (void)state;
  struct buf b;
  buf_init(&b, 32);
  assert_int_equal(buf_append(&b, "ab", 2), 0);
  assert_int_equal(buf_terminate(&b), 0);
  assert_int_equal(buf_append(&b, "cd", 2), 0);
  assert_int_equal(buf_terminate(&b), 0);
  assert_string_equal((const char *)b.data, "abcd");
  buf_free(&b);
}

static void test_reset(void **state) {
  (void)state;
  struct buf b;
  buf_init(&b, 4);
  assert_int_equal(buf_append(&b, "abcd", 4), 0);
  assert_int_equal(buf_append(&b, "e", 1), -ENOBUFS);
  buf_reset(&b);
  assert_int_equal(b.len, 0);
  assert_int_equal(b.max, 4);
  /* After a reset the whole cap is available again. */
  assert_int_equal(buf_append(&b, "wxyz", 4), 0);
  assert_memory_equal(b.data, "wxyz", 4);
  assert_int_equal(buf_append(&b, "!", 1), -ENOBUFS);
  buf_free(&b);
  /* buf_free leaves a usable empty buffer. */
  assert_int_equal(buf_append(&b, "ok", 2), 0);
  assert_memory_equal(b.data, "ok", 2);
  buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_append_table),
      cmocka_unit_test(test_zero_length_null_data),
      cmocka_unit_test(test_consume),
      cmocka_unit_test(test_consume_makes_room_at_cap),
      cmocka_unit_test(test_terminate),
      cmocka_unit_test(test_terminate_then_append_overwrites_nul),
      cmocka_unit_test(test_reset),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
