/* Tests for src/auth/device.c: a device cookie is accepted for the name it
 * was made for (in any case) under the key it was made with, and for
 * nothing else; the key is made once, kept 0600, and read back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "auth/device.h"

static int setup(void **state) {
  (void)state;
  return sodium_init() < 0 ? -1 : 0;
}

static void test_round_trip(void **state) {
  (void)state;
  uint8_t key[DEVICE_KEY_BYTES];
  randombytes_buf(key, sizeof(key));
  char c1[DEVICE_COOKIE_LEN + 1], c2[DEVICE_COOKIE_LEN + 1], nonce[DEVICE_NONCE_LEN + 1];
  device_cookie_make(key, "Alice", 5, c1);
  device_cookie_make(key, "Alice", 5, c2);
  assert_int_equal(strlen(c1), DEVICE_COOKIE_LEN);
  assert_string_not_equal(c1, c2); /* a new nonce each time */
  assert_int_equal(device_cookie_check(key, "Alice", 5, c1, nonce), 0);
  assert_memory_equal(nonce, c1, DEVICE_NONCE_LEN);
  assert_int_equal(nonce[DEVICE_NONCE_LEN], 0);
  assert_int_equal(device_cookie_check(key, "aLICE", 5, c1, nonce), 0); /* names are caseless */
  assert_int_equal(device_cookie_check(key, "alicE", 5, c2, nonce), 0);
}

static void test_refused(void **state) {
  (void)state;
  uint8_t key[DEVICE_KEY_BYTES], other[DEVICE_KEY_BYTES];
  randombytes_buf(key, sizeof(key));
  randombytes_buf(other, sizeof(other));
  char c[DEVICE_COOKIE_LEN + 1], bad[DEVICE_COOKIE_LEN + 8], nonce[DEVICE_NONCE_LEN + 1];
  device_cookie_make(key, "bob", 3, c);
  assert_int_equal(device_cookie_check(key, "bobby", 5, c, nonce), -1); /* another name */
  assert_int_equal(device_cookie_check(key, "bo", 2, c, nonce), -1);
  assert_int_equal(device_cookie_check(other, "bob", 3, c, nonce), -1); /* another key */
  for (size_t i = 0; i < DEVICE_COOKIE_LEN; i++) {                      /* any one byte changed */
    if (i == DEVICE_NONCE_LEN)
      continue;
    memcpy(bad, c, sizeof(c));
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    assert_int_equal(device_cookie_check(key, "bob", 3, bad, nonce), -1);
  }
  memcpy(bad, c, sizeof(c));
  bad[DEVICE_NONCE_LEN] = '-';
  assert_int_equal(device_cookie_check(key, "bob", 3, bad, nonce), -1);
  const char *shapes[] = {"", "x", "abc.def", "..............................................."};
  for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
    assert_int_equal(device_cookie_check(key, "bob", 3, shapes[i], nonce), -1);
  snprintf(bad, sizeof(bad), "%s=", c); /* one byte too long */
  assert_int_equal(device_cookie_check(key, "bob", 3, bad, nonce), -1);
  memcpy(bad, c, sizeof(c));
  bad[3] = '+'; /* not base64url */
  assert_int_equal(device_cookie_check(key, "bob", 3, bad, nonce), -1);
}

static void test_key_file(void **state) {
  (void)state;
  char dir[] = "/tmp/onair-device-XXXXXX", path[128];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/device.key", dir);
  uint8_t k1[DEVICE_KEY_BYTES], k2[DEVICE_KEY_BYTES];
  assert_int_equal(device_key_load(path, k1), 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(st.st_size, DEVICE_KEY_BYTES);
  assert_int_equal(device_key_load(path, k2), 0); /* read back, not made anew */
  assert_memory_equal(k1, k2, sizeof(k1));
  assert_int_equal(truncate(path, 10), 0); /* a damaged key is an error, not a new key */
  assert_int_equal(device_key_load(path, k2), -EINVAL);
  unlink(path);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_refused),
      cmocka_unit_test(test_key_file),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
