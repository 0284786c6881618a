/* Tests for src/net/ifaddr.c: which addresses onair announces by itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/ifaddr.h"

/* Loopback, unspecified, link-local and v4-mapped addresses cannot reach a
 * remote browser; everything else can. */
static void test_usable(void **state) {
  (void)state;
  static const char *const yes[] = {"10.77.0.1", "192.168.1.20", "203.0.113.7", "2001:db8::7",
                                    "fd00::1"};
  static const char *const no[] = {"127.0.0.1", "127.1.2.3",       "0.0.0.0",     "::1", "::",
                                   "fe80::1",   "::ffff:10.0.0.1", "example.org", ""};
  for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
    assert_true(ifaddr_usable(yes[i]));
  for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
    assert_false(ifaddr_usable(no[i]));
}

/* The list is of this machine's usable addresses, each once, IPv4 first,
 * at most IFADDR_MAX, in the form media-announce takes. */
static void test_list(void **state) {
  (void)state;
  char out[IFADDR_MAX * 48];
  int n = ifaddr_list(1, out, sizeof(out));
  assert_true(n >= 0 && n <= IFADDR_MAX);
  int seen = 0, v6 = 0;
  char copy[sizeof(out)];
  memcpy(copy, out, sizeof(out));
  for (char *save, *a = strtok_r(copy, ", ", &save); a; a = strtok_r(NULL, ", ", &save)) {
    assert_true(ifaddr_usable(a));
    if (strchr(a, ':'))
      v6 = 1;
    else
      assert_false(v6); /* IPv4 first */
    seen++;
  }
  assert_int_equal(seen, n);
  /* Without v6, only IPv4; a buffer too small for one address gives none. */
  n = ifaddr_list(0, out, sizeof(out));
  assert_true(n >= 0);
  assert_null(strchr(out, ':'));
  char tiny[4];
  assert_int_equal(ifaddr_list(0, tiny, sizeof(tiny)), 0);
  assert_string_equal(tiny, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_usable),
      cmocka_unit_test(test_list),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
