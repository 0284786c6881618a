/* Tests for src/auth/turn.c: TURN REST credentials (checked against an HMAC
 * computed independently, with Python's hmac module, for the same secret,
 * user and time) and the check of turn-url lists. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth/turn.h"

static void test_credentials(void **state) {
  (void)state;
  char user[TURN_USERNAME_MAX], cred[TURN_CREDENTIAL_MAX];
  /* python3: base64(hmac.new(b"north-wind", b"1700086400:alice", sha1)) */
  assert_int_equal(turn_credentials("north-wind", "alice", 1700000000, 86400, user, cred), 0);
  assert_string_equal(user, "1700086400:alice");
  assert_string_equal(cred, "2cdv8ItP/4kX53j3SEoTDhjFpeM=");
  /* Another time, another credential; another secret too. */
  char cred2[TURN_CREDENTIAL_MAX];
  assert_int_equal(turn_credentials("north-wind", "alice", 1700000001, 86400, user, cred2), 0);
  assert_string_equal(user, "1700086401:alice");
  assert_string_not_equal(cred2, cred);
  assert_int_equal(turn_credentials("south-wind", "alice", 1700000000, 86400, user, cred2), 0);
  assert_string_not_equal(cred2, cred);
  /* Refused: no secret; a name that does not fit. */
  assert_int_equal(turn_credentials("", "alice", 1, 1, user, cred), -EINVAL);
  char long_name[TURN_USERNAME_MAX];
  memset(long_name, 'n', sizeof(long_name) - 1);
  long_name[sizeof(long_name) - 1] = 0;
  assert_int_equal(turn_credentials("s", long_name, 1, 1, user, cred), -EINVAL);
}

static void test_urls(void **state) {
  (void)state;
  static const struct {
    const char *text;
    int rc;
  } cases[] = {
      {"", 0},
      {"turn:turn.example.org:3478", 0},
      {"turn:203.0.113.1:3478?transport=udp turns:turn.example.org:5349?transport=tcp", 0},
      {"stun:stun.example.org, turn:[2001:db8::1]:3478", 0},
      {"http://turn.example.org", -EINVAL},
      {"turn:", -EINVAL},
      {"turn:x\"y", -EINVAL},
      {"turn:x\\y", -EINVAL},
      {"TURN:x", -EINVAL},
      {"turn:ok notaurl", -EINVAL},
      {"turn:caf\xc3\xa9", -EINVAL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    if (turn_urls_check(cases[i].text) != cases[i].rc) {
      print_error("\"%s\": want %d\n", cases[i].text, cases[i].rc);
      fail();
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_credentials),
      cmocka_unit_test(test_urls),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
