/* Query-string parameters (http_query_param in src/http/http_conn.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "http/http.h"

static void test_query_table(void **state) {
  static const struct {
    const char *query, *key;
    int rc;
    const char *value;
  } cases[] = {
      {"code=abc&state=xyz", "state", 3, "xyz"},
      {"code=abc&state=xyz", "code", 3, "abc"},
      {"code=abc&state=xyz", "nonce", -ENOENT, NULL},
      {"", "code", -ENOENT, NULL},
      {"codex=1&code=2", "code", 1, "2"}, /* a longer key is not a match */
      {"next=%2Fview%2Falice", "next", 11, "/view/alice"},
      {"q=a+b%20c", "q", 5, "a b c"},
      {"flag&x=1", "flag", 0, ""},
      {"x=", "x", 0, ""},
      {"x=%zz", "x", -EINVAL, NULL},
      {"x=%4", "x", -EINVAL, NULL}, /* truncated escape */
      {"x=%", "x", -EINVAL, NULL},
      {"x=%00", "x", -EINVAL, NULL}, /* no NUL smuggled into C strings */
      {"x=%41&y=2", "x", 1, "A"},
      {"a=1&&b=2", "b", 1, "2"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char out[64];
    int rc = http_query_param(cases[i].query, cases[i].key, out, sizeof(out));
    if (rc != cases[i].rc)
      fail_msg("case %zu (%s / %s): rc %d, want %d", i, cases[i].query, cases[i].key, rc,
               cases[i].rc);
    if (cases[i].value)
      assert_string_equal(out, cases[i].value);
  }
}

static void test_query_buffer_cap(void **state) {
  char out[4];
  assert_int_equal(http_query_param("x=abc", "x", out, sizeof(out)), 3);
  assert_int_equal(http_query_param("x=abcd", "x", out, sizeof(out)), -ENOBUFS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_query_table),
      cmocka_unit_test(test_query_buffer_cap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
