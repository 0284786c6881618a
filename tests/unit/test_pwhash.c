/* Tests for src/auth/pwhash.c on a real libuv loop and thread pool: hashing
 * then verifying the right and wrong passwords, the unknown-user path (NULL
 * or empty hash, always -EACCES), the length cap refused at queue time, and
 * lengths honoured byte for byte. Limits are set to libsodium's minimum. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>
#include <uv.h>

#include "auth/pwhash.h"

struct result {
  int calls;
  int rc;
  char hash[crypto_pwhash_STRBYTES + 1];
};

static void on_done(void *arg, int rc, const char *hash) {
  struct result *r = arg;
  r->calls++;
  r->rc = rc;
  snprintf(r->hash, sizeof(r->hash), "%s", hash ? hash : "");
}

static int setup(void **state) {
  static uv_loop_t loop;
  if (sodium_init() < 0 || uv_loop_init(&loop) != 0)
    return -1;
  pwhash_set_limits(crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
  *state = &loop;
  return 0;
}

static int teardown(void **state) {
  uv_loop_t *loop = *state;
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0 ? 0 : -1;
}

/* Hashes pw synchronously (runs the loop until the callback). */
static void hash_now(uv_loop_t *loop, const char *pw, size_t len, char *out, size_t out_size) {
  struct result r = {0};
  assert_int_equal(pwhash_hash_async(loop, pw, len, on_done, &r), 0);
  assert_int_equal(r.calls, 0); /* never called synchronously */
  uv_run(loop, UV_RUN_DEFAULT);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.rc, 0);
  snprintf(out, out_size, "%s", r.hash);
}

static int verify_now(uv_loop_t *loop, const char *hash, const char *pw, size_t len) {
  struct result r = {0};
  int rc = pwhash_verify_async(loop, hash, pw, len, on_done, &r);
  if (rc < 0)
    return 1000 + rc; /* a queue-time failure, distinct from the callback's */
  assert_int_equal(r.calls, 0);
  uv_run(loop, UV_RUN_DEFAULT);
  assert_int_equal(r.calls, 1);
  return r.rc;
}

#define P(s) s, sizeof(s) - 1

static void test_hash_then_verify(void **state) {
  uv_loop_t *loop = *state;
  char hash[crypto_pwhash_STRBYTES + 1];
  hash_now(loop, P("correct horse battery staple"), hash, sizeof(hash));
  /* An Argon2id string carrying the limits in force. */
  assert_true(strncmp(hash, "$argon2id$", 10) == 0);
  assert_non_null(strstr(hash, "m=8,t=1"));
  assert_true(strlen(hash) < crypto_pwhash_STRBYTES);

  static const struct {
    const char *what;
    const char *pw;
    size_t len;
    int rc;
  } cases[] = {
      {"right password", P("correct horse battery staple"), 0},
      {"wrong password", P("correct horse battery stapler"), -EACCES},
      {"prefix", P("correct horse battery stapl"), -EACCES},
      {"case differs", P("Correct horse battery staple"), -EACCES},
      {"empty", P(""), -EACCES},
      {"right text, len one short", "correct horse battery staple", 27, -EACCES},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc = verify_now(loop, hash, cases[i].pw, cases[i].len);
    if (rc != cases[i].rc) {
      print_error("verify \"%s\": rc %d, want %d\n", cases[i].what, rc, cases[i].rc);
      fail();
    }
  }
}

static void test_salted(void **state) {
  uv_loop_t *loop = *state;
  char h1[crypto_pwhash_STRBYTES + 1], h2[crypto_pwhash_STRBYTES + 1];
  hash_now(loop, P("same"), h1, sizeof(h1));
  hash_now(loop, P("same"), h2, sizeof(h2));
  assert_string_not_equal(h1, h2); /* random salt */
  assert_int_equal(verify_now(loop, h1, P("same")), 0);
  assert_int_equal(verify_now(loop, h2, P("same")), 0);
}

static void test_unknown_user(void **state) {
  uv_loop_t *loop = *state;
  static const struct {
    const char *what;
    const char *hash;
    const char *pw;
    size_t len;
  } cases[] = {
      {"NULL hash", NULL, P("anything")},
      {"empty hash", "", P("anything")},
      {"NULL hash, empty password", NULL, P("")},
      /* Even the dummy hash's own password does not sign in. */
      {"NULL hash, dummy password", NULL, P("onair-dummy")},
      {"empty hash, dummy password", "", P("onair-dummy")},
      {"not an argon2 string", "plaintext", P("plaintext")},
      {"truncated argon2 string", "$argon2id$v=19$m=8,t=1,p=1$", P("x")},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc = verify_now(loop, cases[i].hash, cases[i].pw, cases[i].len);
    if (rc != -EACCES) {
      print_error("verify \"%s\": rc %d, want -EACCES\n", cases[i].what, rc);
      fail();
    }
  }
}

static void test_length_cap(void **state) {
  uv_loop_t *loop = *state;
  char pw[PWHASH_MAX_PASSWORD + 64];
  char hash[crypto_pwhash_STRBYTES + 1];
  memset(pw, 'p', sizeof(pw));
  struct result r = {0};
  static const size_t too_long[] = {PWHASH_MAX_PASSWORD + 1, PWHASH_MAX_PASSWORD + 63};
  for (size_t i = 0; i < 2; i++) {
    assert_int_equal(pwhash_hash_async(loop, pw, too_long[i], on_done, &r), -EINVAL);
    assert_int_equal(pwhash_verify_async(loop, NULL, pw, too_long[i], on_done, &r), -EINVAL);
  }
  /* Refused at queue time: nothing runs, no callback ever comes. */
  uv_run(loop, UV_RUN_DEFAULT);
  assert_int_equal(r.calls, 0);

  /* Exactly the cap is fine, and every byte counts. */
  assert_int_equal(PWHASH_MAX_PASSWORD, 256);
  hash_now(loop, pw, PWHASH_MAX_PASSWORD, hash, sizeof(hash));
  assert_int_equal(verify_now(loop, hash, pw, PWHASH_MAX_PASSWORD), 0);
  pw[PWHASH_MAX_PASSWORD - 1] = 'q';
  assert_int_equal(verify_now(loop, hash, pw, PWHASH_MAX_PASSWORD), -EACCES);
  assert_int_equal(verify_now(loop, hash, pw, PWHASH_MAX_PASSWORD - 1), -EACCES);
  /* Verifying with an over-long password against a real hash is refused too. */
  assert_int_equal(verify_now(loop, hash, pw, PWHASH_MAX_PASSWORD + 1), 1000 - EINVAL);
}

static void test_embedded_nul(void **state) {
  uv_loop_t *loop = *state;
  char hash[crypto_pwhash_STRBYTES + 1];
  hash_now(loop, P("ab\0cd"), hash, sizeof(hash));
  assert_int_equal(verify_now(loop, hash, P("ab\0cd")), 0);
  assert_int_equal(verify_now(loop, hash, P("ab\0ce")), -EACCES);
  assert_int_equal(verify_now(loop, hash, P("ab")), -EACCES);
}

static void test_empty_password(void **state) {
  uv_loop_t *loop = *state;
  char hash[crypto_pwhash_STRBYTES + 1];
  hash_now(loop, P(""), hash, sizeof(hash));
  assert_int_equal(verify_now(loop, hash, P("")), 0);
  assert_int_equal(verify_now(loop, hash, P(" ")), -EACCES);
}

/* Several jobs in flight at once each get their own answer. */
static void test_concurrent(void **state) {
  uv_loop_t *loop = *state;
  char hash[crypto_pwhash_STRBYTES + 1];
  hash_now(loop, P("secret"), hash, sizeof(hash));
  enum { NJ = 8 };
  struct result r[NJ];
  memset(r, 0, sizeof(r));
  for (int i = 0; i < NJ; i++) {
    const char *pw = i % 2 ? "secret" : "wrong!";
    assert_int_equal(pwhash_verify_async(loop, hash, pw, 6, on_done, &r[i]), 0);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  for (int i = 0; i < NJ; i++) {
    assert_int_equal(r[i].calls, 1);
    assert_int_equal(r[i].rc, i % 2 ? 0 : -EACCES);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hash_then_verify), cmocka_unit_test(test_salted),
      cmocka_unit_test(test_unknown_user),     cmocka_unit_test(test_length_cap),
      cmocka_unit_test(test_embedded_nul),     cmocka_unit_test(test_empty_password),
      cmocka_unit_test(test_concurrent),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
