/* Tests for src/auth/streamkey.c with a real database: a key's shape, that
 * it finds its user, that a new key replaces the old one at once, revoking,
 * a disabled user's key refused, malformed keys refused, and that only the
 * key's SHA-256 is stored. */
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
#include "auth/streamkey.h"
#include "store/db.h"

struct fixture {
  char dir[64];
  char path[128];
  struct db *db;
  int64_t uid, uid2;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof(*f));
  if (f == NULL || sodium_init() < 0)
    return -1;
  snprintf(f->dir, sizeof(f->dir), "/tmp/onair-test-streamkey-XXXXXX");
  if (mkdtemp(f->dir) == NULL)
    return -1;
  snprintf(f->path, sizeof(f->path), "%s/k.db", f->dir);
  if (db_open(&f->db, f->path) != 0 || db_user_create(f->db, "olga", "", &f->uid) != 0 ||
      db_user_create(f->db, "pavel", "", &f->uid2) != 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  db_close(f->db);
  static const char *const names[] = {"k.db", "k.db-wal", "k.db-shm"};
  char p[256];
  for (size_t i = 0; i < 3; i++) {
    snprintf(p, sizeof(p), "%s/%s", f->dir, names[i]);
    unlink(p);
  }
  rmdir(f->dir);
  free(f);
  return 0;
}

static int64_t owner(struct fixture *f, const char *key) {
  int64_t uid = -1;
  int rc = streamkey_user(f->db, KEY_STREAM, key, strlen(key), &uid);
  return rc == 0 ? uid : rc;
}

static void test_key_shape_and_owner(void **state) {
  struct fixture *f = *state;
  char k1[STREAMKEY_LEN + 1], k2[STREAMKEY_LEN + 1];
  int64_t c1 = 0, c2 = 0, before = session_now_ms();
  assert_int_equal(streamkey_info(f->db, KEY_STREAM, f->uid, &c1), -ENOENT);
  assert_int_equal(streamkey_new(f->db, KEY_STREAM, f->uid, k1, &c1), 0);
  assert_int_equal(streamkey_new(f->db, KEY_STREAM, f->uid2, k2, &c2), 0);
  assert_int_equal(strlen(k1), STREAMKEY_LEN);
  assert_memory_equal(k1, "sk_", 3);
  for (size_t i = 3; i < STREAMKEY_LEN; i++)
    assert_non_null(
        strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", k1[i]));
  assert_string_not_equal(k1, k2);
  assert_true(c1 >= before && c1 <= session_now_ms());
  assert_int_equal(owner(f, k1), f->uid);
  assert_int_equal(owner(f, k2), f->uid2);
  int64_t got = 0;
  assert_int_equal(streamkey_info(f->db, KEY_STREAM, f->uid, &got), 0);
  assert_int_equal(got, c1);
}

static void test_new_key_replaces_old(void **state) {
  struct fixture *f = *state;
  char old[STREAMKEY_LEN + 1], key[STREAMKEY_LEN + 1], other[STREAMKEY_LEN + 1];
  int64_t c;
  assert_int_equal(streamkey_new(f->db, KEY_STREAM, f->uid, old, &c), 0);
  assert_int_equal(streamkey_new(f->db, KEY_STREAM, f->uid2, other, &c), 0);
  assert_int_equal(streamkey_new(f->db, KEY_STREAM, f->uid, key, &c), 0);
  assert_int_equal(owner(f, old), -ENOENT);
  assert_int_equal(owner(f, key), f->uid);
  assert_int_equal(owner(f, other), f->uid2); /* someone else's key lives on */
  assert_int_equal(streamkey_revoke(f->db, KEY_STREAM, f->uid), 0);
  assert_int_equal(owner(f, key), -ENOENT);
  assert_int_equal(streamkey_info(f->db, KEY_STREAM, f->uid, &c), -ENOENT);
  assert_int_equal(owner(f, other), f->uid2);
  assert_int_equal(streamkey_revoke(f->db, KEY_STREAM, f->uid), 0); /* twice is fine */
}

static void test_disabled_user_refused(void **state) {
  struct fixture *f = *state;
  char key[STREAMKEY_LEN + 1];
  int64_t c;
  assert_int_equal(streamkey_new(f->db, KEY_STREAM, f->uid2, key, &c), 0);
  assert_int_equal(db_user_set_disabled(f->db, "pavel", 1), 0);
  assert_int_equal(owner(f, key), -ENOENT);
  assert_int_equal(db_user_set_disabled(f->db, "pavel", 0), 0);
  assert_int_equal(owner(f, key), f->uid2);
}

static void test_malformed_refused(void **state) {
  struct fixture *f = *state;
  char key[STREAMKEY_LEN + 1], bad[STREAMKEY_LEN + 2];
  int64_t c, uid = -1;
  assert_int_equal(streamkey_new(f->db, KEY_STREAM, f->uid, key, &c), 0);
  /* One character off, the prefix, a short and a long key, a bad character. */
  memcpy(bad, key, sizeof(key));
  bad[STREAMKEY_LEN - 1] = bad[STREAMKEY_LEN - 1] == 'A' ? 'B' : 'A';
  assert_int_equal(owner(f, bad), -ENOENT);
  memcpy(bad, key, sizeof(key));
  bad[0] = 'S';
  assert_int_equal(owner(f, bad), -ENOENT);
  assert_int_equal(streamkey_user(f->db, KEY_STREAM, key, STREAMKEY_LEN - 1, &uid), -ENOENT);
  memcpy(bad, key, sizeof(key));
  bad[STREAMKEY_LEN] = 'A';
  bad[STREAMKEY_LEN + 1] = '\0';
  assert_int_equal(owner(f, bad), -ENOENT);
  memcpy(bad, key, sizeof(key));
  bad[10] = '=';
  assert_int_equal(owner(f, bad), -ENOENT);
  assert_int_equal(streamkey_user(f->db, KEY_STREAM, "", 0, &uid), -ENOENT);
  assert_int_equal(uid, -1);
  /* The key itself, not NUL terminated, inside a longer buffer. */
  char header[80];
  snprintf(header, sizeof(header), "%s trailing", key);
  assert_int_equal(streamkey_user(f->db, KEY_STREAM, header, STREAMKEY_LEN, &uid), 0);
  assert_int_equal(uid, f->uid);
}

/* A watch token is its own kind: not a stream key, replaced on its own. */
static void test_watch_tokens_apart(void **state) {
  struct fixture *f = *state;
  char sk[STREAMKEY_LEN + 1], wt[STREAMKEY_LEN + 1], wt2[STREAMKEY_LEN + 1];
  int64_t c, uid = -1;
  assert_int_equal(streamkey_new(f->db, KEY_STREAM, f->uid, sk, &c), 0);
  assert_int_equal(streamkey_new(f->db, KEY_WATCH, f->uid, wt, &c), 0);
  assert_memory_equal(wt, "wt_", 3);
  assert_int_equal(streamkey_user(f->db, KEY_WATCH, wt, STREAMKEY_LEN, &uid), 0);
  assert_int_equal(uid, f->uid);
  assert_int_equal(streamkey_user(f->db, KEY_STREAM, wt, STREAMKEY_LEN, &uid), -ENOENT);
  assert_int_equal(streamkey_user(f->db, KEY_WATCH, sk, STREAMKEY_LEN, &uid), -ENOENT);
  /* The same random part under the other prefix is no key either. */
  memcpy(wt2, sk, sizeof(sk));
  memcpy(wt2, "wt_", 3);
  assert_int_equal(streamkey_user(f->db, KEY_WATCH, wt2, STREAMKEY_LEN, &uid), -ENOENT);
  /* A new watch token leaves the stream key; revoking one leaves the other. */
  assert_int_equal(streamkey_new(f->db, KEY_WATCH, f->uid, wt2, &c), 0);
  assert_int_equal(streamkey_user(f->db, KEY_WATCH, wt, STREAMKEY_LEN, &uid), -ENOENT);
  assert_int_equal(streamkey_user(f->db, KEY_STREAM, sk, STREAMKEY_LEN, &uid), 0);
  assert_int_equal(streamkey_revoke(f->db, KEY_STREAM, f->uid), 0);
  assert_int_equal(streamkey_user(f->db, KEY_WATCH, wt2, STREAMKEY_LEN, &uid), 0);
  assert_int_equal(streamkey_info(f->db, KEY_STREAM, f->uid, &c), -ENOENT);
  assert_int_equal(streamkey_info(f->db, KEY_WATCH, f->uid, &c), 0);
}

static void test_db_keeps_only_the_hash(void **state) {
  struct fixture *f = *state;
  char key[STREAMKEY_LEN + 1];
  int64_t c;
  assert_int_equal(streamkey_new(f->db, KEY_STREAM, f->uid, key, &c), 0);
  uint8_t want[32];
  crypto_hash_sha256(want, (const unsigned char *)key, STREAMKEY_LEN);
  sqlite3 *conn;
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_open_v2(f->path, &conn, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal(
      sqlite3_prepare_v2(conn, "SELECT user_id, hash, created FROM stream_keys", -1, &st, NULL),
      SQLITE_OK);
  int rows = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    rows++;
    assert_int_equal(sqlite3_column_int64(st, 0), f->uid);
    assert_int_equal(sqlite3_column_bytes(st, 1), 32);
    assert_memory_equal(sqlite3_column_blob(st, 1), want, 32);
    assert_int_equal(sqlite3_column_int64(st, 2), c);
  }
  assert_int_equal(rows, 1);
  sqlite3_finalize(st);
  sqlite3_close(conn);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_key_shape_and_owner, setup, teardown),
      cmocka_unit_test_setup_teardown(test_new_key_replaces_old, setup, teardown),
      cmocka_unit_test_setup_teardown(test_disabled_user_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_malformed_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_watch_tokens_apart, setup, teardown),
      cmocka_unit_test_setup_teardown(test_db_keeps_only_the_hash, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
