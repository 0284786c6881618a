/* Tests for src/auth/session.c with a real database: token shape and
 * uniqueness, lookup and destroy, that only the SHA-256 of a token is
 * stored (checked with a second SQLite connection and by scanning the
 * database files), malformed tokens refused before any database access, and
 * expiry. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "auth/session.h"
#include "store/db.h"

#define DAY (24LL * 3600 * 1000)

struct fixture {
  char dir[64];
  char path[128];
  struct db *db;
  int64_t uid;
};

static void rm_dir(const char *dir) {
  static const char *const names[] = {"s.db", "s.db-wal", "s.db-shm"};
  char p[256];
  for (size_t i = 0; i < 3; i++) {
    snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
    unlink(p);
  }
  rmdir(dir);
}

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof(*f));
  if (f == NULL || sodium_init() < 0)
    return -1;
  snprintf(f->dir, sizeof(f->dir), "/tmp/onair-test-session-XXXXXX");
  if (mkdtemp(f->dir) == NULL)
    return -1;
  snprintf(f->path, sizeof(f->path), "%s/s.db", f->dir);
  if (db_open(&f->db, f->path) != 0 || db_user_create(f->db, "olga", "", &f->uid) != 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  db_close(f->db);
  rm_dir(f->dir);
  free(f);
  return 0;
}

static int b64url_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '-' || ch == '_';
}

static void test_token_shape_and_uniqueness(void **state) {
  struct fixture *f = *state;
  enum { NT = 50 };
  char tokens[NT][SESSION_TOKEN_LEN + 1];
  for (int i = 0; i < NT; i++) {
    memset(tokens[i], '#', sizeof(tokens[i]));
    assert_int_equal(session_create(f->db, f->uid, DAY, tokens[i]), 0);
    assert_int_equal(strlen(tokens[i]), SESSION_TOKEN_LEN);
    assert_int_equal(SESSION_TOKEN_LEN, 22);
    for (int k = 0; k < SESSION_TOKEN_LEN; k++)
      assert_true(b64url_char(tokens[i][k]));
    assert_true(session_token_ok(tokens[i]));
    for (int k = 0; k < i; k++)
      assert_string_not_equal(tokens[i], tokens[k]);
  }
  /* Every one of them signs in. */
  for (int i = 0; i < NT; i++) {
    int64_t uid = -1;
    assert_int_equal(session_lookup(f->db, tokens[i], &uid), 0);
    assert_int_equal(uid, f->uid);
  }
}

static void test_lookup_and_destroy(void **state) {
  struct fixture *f = *state;
  int64_t uid2, got;
  char t1[SESSION_TOKEN_LEN + 1], t2[SESSION_TOKEN_LEN + 1];
  assert_int_equal(db_user_create(f->db, "pavel", "", &uid2), 0);
  assert_int_equal(session_create(f->db, f->uid, DAY, t1), 0);
  assert_int_equal(session_create(f->db, uid2, DAY, t2), 0);
  assert_int_equal(session_lookup(f->db, t1, &got), 0);
  assert_int_equal(got, f->uid);
  assert_int_equal(session_lookup(f->db, t2, &got), 0);
  assert_int_equal(got, uid2);

  assert_int_equal(session_destroy(f->db, t1), 0);
  got = -1;
  assert_int_equal(session_lookup(f->db, t1, &got), -ENOENT);
  assert_int_equal(got, -1);
  /* The other session lives on; destroying twice is fine. */
  assert_int_equal(session_lookup(f->db, t2, &got), 0);
  assert_int_equal(got, uid2);
  assert_int_equal(session_destroy(f->db, t1), 0);

  /* A well-formed token that was never issued. */
  assert_int_equal(session_lookup(f->db, "AAAAAAAAAAAAAAAAAAAAAA", &got), -ENOENT);
  assert_int_equal(session_destroy(f->db, "AAAAAAAAAAAAAAAAAAAAAA"), 0);
  /* A token that differs from a live one in its last character. */
  char near[SESSION_TOKEN_LEN + 1];
  memcpy(near, t2, sizeof(near));
  near[SESSION_TOKEN_LEN - 1] = near[SESSION_TOKEN_LEN - 1] == 'A' ? 'B' : 'A';
  assert_int_equal(session_lookup(f->db, near, &got), -ENOENT);
}

/* Reads a whole file (missing is empty). */
static uint8_t *slurp(const char *path, size_t *len) {
  *len = 0;
  FILE *fp = fopen(path, "rb");
  if (fp == NULL)
    return NULL;
  uint8_t *data = NULL;
  uint8_t chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
    uint8_t *p = realloc(data, *len + n);
    assert_non_null(p);
    data = p;
    memcpy(data + *len, chunk, n);
    *len += n;
  }
  fclose(fp);
  return data;
}

static void test_db_keeps_only_the_hash(void **state) {
  struct fixture *f = *state;
  char tok[SESSION_TOKEN_LEN + 1];
  int64_t before = session_now_ms();
  assert_int_equal(session_create(f->db, f->uid, DAY, tok), 0);
  int64_t after = session_now_ms();

  uint8_t want[32];
  crypto_hash_sha256(want, (const unsigned char *)tok, strlen(tok));

  sqlite3 *conn;
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_open_v2(f->path, &conn, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal(
      sqlite3_prepare_v2(conn, "SELECT hash, user_id, expires FROM sessions", -1, &st, NULL),
      SQLITE_OK);
  int rows = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    rows++;
    const void *h = sqlite3_column_blob(st, 0);
    int hl = sqlite3_column_bytes(st, 0);
    assert_int_equal(sqlite3_column_type(st, 0), SQLITE_BLOB);
    assert_int_equal(hl, 32);
    assert_memory_equal(h, want, 32);
    /* Not the token, nor a prefix of it. */
    assert_memory_not_equal(h, tok, SESSION_TOKEN_LEN);
    assert_int_equal(sqlite3_column_int64(st, 1), f->uid);
    int64_t exp = sqlite3_column_int64(st, 2);
    assert_in_range(exp, before + DAY, after + DAY);
  }
  assert_int_equal(rows, 1);
  sqlite3_finalize(st);
  /* No column anywhere holds the token text. */
  assert_int_equal(sqlite3_prepare_v2(conn,
                                      "SELECT count(*) FROM sessions WHERE hash = ?1 OR "
                                      "CAST(hash AS TEXT) = ?1 OR instr(hash, ?1) > 0",
                                      -1, &st, NULL),
                   SQLITE_OK);
  sqlite3_bind_text(st, 1, tok, -1, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 0);
  sqlite3_finalize(st);
  sqlite3_close(conn);

  /* A copy of the database files does not contain the token bytes. */
  static const char *const sfx[] = {"", "-wal", "-shm"};
  int hash_seen = 0;
  for (size_t i = 0; i < 3; i++) {
    char p[256];
    size_t len;
    snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
    uint8_t *data = slurp(p, &len);
    if (data && memmem(data, len, tok, SESSION_TOKEN_LEN) != NULL) {
      print_error("token found in %s\n", p);
      fail();
    }
    /* ... while the hash is there (so the scan looks at the right files). */
    if (data && memmem(data, len, want, 32) != NULL)
      hash_seen = 1;
    free(data);
  }
  assert_true(hash_seen);
}

static const struct {
  const char *name;
  const char *token;
} malformed[] = {
    {"empty", ""},
    {"21 chars", "AAAAAAAAAAAAAAAAAAAAA"},
    {"23 chars", "AAAAAAAAAAAAAAAAAAAAAAA"},
    {"standard base64 '+'", "AAAAAAAAAAAAAAAAAAAAA+"},
    {"standard base64 '/'", "AAAAAAAAAAAAAAAAAAAAA/"},
    {"padding '='", "AAAAAAAAAAAAAAAAAAAAA="},
    {"space", "AAAAAAAAAA AAAAAAAAAAA"},
    {"quote", "AAAAAAAAAA'AAAAAAAAAAA"},
    {"semicolon", "AAAAAAAAAA;AAAAAAAAAAA"},
    {"percent", "AAAAAAAAAA%AAAAAAAAAAA"},
    {"non-ASCII", "AAAAAAAAAAAAAAAAAAAA\xc3\xa9"},
    {"sql", "' OR 1=1 --AAAAAAAAAAA"},
    {"very long", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
};

static void test_token_ok_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
    if (session_token_ok(malformed[i].token)) {
      print_error("malformed \"%s\" accepted\n", malformed[i].name);
      fail();
    }
  }
  static const char *const good[] = {"AAAAAAAAAAAAAAAAAAAAAA", "abcdefghijklmnopqrstuv",
                                     "0123456789-_0123456789", "__________------------"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    assert_true(session_token_ok(good[i]));
}

/* A NULL database proves the malformed token never reaches it: any query
 * would crash. */
static void test_malformed_refused_without_db(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
    int64_t uid = -5;
    int rc = session_lookup(NULL, malformed[i].token, &uid);
    if (rc != -ENOENT || uid != -5) {
      print_error("lookup of malformed \"%s\": rc %d\n", malformed[i].name, rc);
      fail();
    }
    assert_int_equal(session_destroy(NULL, malformed[i].token), 0);
  }
}

static void test_expired_refused(void **state) {
  struct fixture *f = *state;
  static const struct {
    const char *what;
    int64_t ttl_ms;
    int rc;
  } cases[] = {
      {"expired an hour ago", -3600 * 1000, -ENOENT},
      {"expires now", 0, -ENOENT},
      {"a day left", DAY, 0},
      {"thirty days left", 30 * DAY, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char tok[SESSION_TOKEN_LEN + 1];
    int64_t uid = -1;
    assert_int_equal(session_create(f->db, f->uid, cases[i].ttl_ms, tok), 0);
    int rc = session_lookup(f->db, tok, &uid);
    if (rc != cases[i].rc) {
      print_error("session \"%s\": rc %d, want %d\n", cases[i].what, rc, cases[i].rc);
      fail();
    }
    assert_int_equal(uid, rc == 0 ? f->uid : -1);
  }
  /* The expired ones are what db_session_expire removes. */
  assert_int_equal(db_session_expire(f->db, session_now_ms()), 2);
}

static void test_oidc_session(void **state) {
  struct fixture *f = *state;
  char plain[SESSION_TOKEN_LEN + 1], oidc[SESSION_TOKEN_LEN + 1], out[128];
  int64_t uid;
  assert_int_equal(session_create(f->db, f->uid, DAY, plain), 0);
  assert_int_equal(session_create_oidc(f->db, f->uid, DAY, "eyJhbGciOi.payload.sig", oidc), 0);
  assert_true(session_token_ok(oidc));
  assert_string_not_equal(plain, oidc);
  assert_int_equal(session_lookup(f->db, oidc, &uid), 0);
  assert_int_equal(uid, f->uid);
  assert_int_equal(session_id_token(f->db, oidc, out, sizeof(out)), 0);
  assert_string_equal(out, "eyJhbGciOi.payload.sig");
  assert_int_equal(session_id_token(f->db, plain, out, sizeof(out)), -ENOENT);
  assert_int_equal(session_id_token(f->db, "AAAAAAAAAAAAAAAAAAAAAA", out, sizeof(out)), -ENOENT);
  assert_int_equal(session_id_token(f->db, oidc, out, 5), -ENOBUFS);
  /* Malformed tokens never reach the database. */
  for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
    assert_int_equal(session_id_token(NULL, malformed[i].token, out, sizeof(out)), -ENOENT);
  /* Signing out forgets the ID token with the session. */
  assert_int_equal(session_destroy(f->db, oidc), 0);
  assert_int_equal(session_lookup(f->db, oidc, &uid), -ENOENT);
  assert_int_equal(session_id_token(f->db, oidc, out, sizeof(out)), -ENOENT);
}

static void test_now_ms(void **state) {
  (void)state;
  int64_t a = session_now_ms();
  /* Wall-clock milliseconds: after 2020-01-01, before 2100. */
  assert_true(a > 1577836800000LL);
  assert_true(a < 4102444800000LL);
  assert_true(session_now_ms() >= a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_token_shape_and_uniqueness, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lookup_and_destroy, setup, teardown),
      cmocka_unit_test_setup_teardown(test_db_keeps_only_the_hash, setup, teardown),
      cmocka_unit_test(test_token_ok_table),
      cmocka_unit_test(test_malformed_refused_without_db),
      cmocka_unit_test_setup_teardown(test_expired_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_oidc_session, setup, teardown),
      cmocka_unit_test(test_now_ms),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
