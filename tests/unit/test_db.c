/* Tests for the store (src/store/db.h) on both of its implementations: the
 * same cases against SQLite (a real file in a fresh temporary directory)
 * and, when run as `test_db pg` under tests/lib/with-postgres.sh, against a
 * real PostgreSQL server (a fresh database for each case): users
 * (case-insensitive names), sessions (expiry), chat history (last N, oldest
 * first, per room), persistence across reopen. Then what each adds: SQLite's
 * migrations of old files and paths that cannot be a database; PostgreSQL's
 * connection strings (a URL; its settings over the store's defaults),
 * migrations under concurrent openers, the first user's admin flag under
 * concurrent sign-ups, chat read back over another connection, and a lost
 * connection (the backend killed, the server down and up again) that the
 * store gets back by itself (those in db_pg_cases.h). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "store/db.h"
#include "util/log.h"

static int use_pg;          /* `test_db pg`: the cases run on PostgreSQL */
static const char *pg_base; /* ONAIR_TEST_POSTGRES: conninfo of a database there */

struct fixture {
  char dir[64]; /* SQLite: the temporary directory */
  char path[128];
  char dbname[32];    /* PostgreSQL: this case's own database */
  char conninfo[512]; /* ... and how to reach it */
  struct db *db;
};

static void rm_dir(const char *dir) {
  static const char *const names[] = {"onair.db", "onair.db-wal", "onair.db-shm",
                                      "junk.db",  "junk.db-wal",  "junk.db-shm"};
  char p[256];
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
    unlink(p);
  }
  rmdir(dir);
}

/* ---- PostgreSQL: the server's own connection, one database per case ----- */

static PGconn *pg_admin(void) {
  PGconn *c = PQconnectdb(pg_base);
  if (PQstatus(c) != CONNECTION_OK) {
    print_error("cannot connect to %s: %s", pg_base, PQerrorMessage(c));
    fail();
  }
  return c;
}

/* Runs sql on a new connection to pg_base; returns the first value of the
 * first row as a number (0 without one). */
static long long pg_admin_query(const char *sql) {
  PGconn *c = pg_admin();
  PGresult *r = PQexec(c, sql);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    print_error("%s: %s", sql, PQerrorMessage(c));
    fail();
  }
  long long v =
      st == PGRES_TUPLES_OK && PQntuples(r) > 0 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
  PQclear(r);
  PQfinish(c);
  return v;
}

/* A new empty database; its conninfo into conninfo. */
static void pg_new_database(char *name, size_t name_size, char *conninfo, size_t size) {
  static int seq;
  char sql[96];
  snprintf(name, name_size, "onair_case_%d_%d", (int)getpid(), ++seq);
  snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
  pg_admin_query(sql);
  /* A later keyword wins in a conninfo string. */
  snprintf(conninfo, size, "%s dbname=%s", pg_base, name);
}

static void pg_drop_database(const char *name) {
  char sql[96];
  snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
  pg_admin_query(sql);
}

/* ---- the fixture: an empty store of the kind under test ------------------ */

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof(*f));
  if (f == NULL)
    return -1;
  if (use_pg) {
    pg_new_database(f->dbname, sizeof(f->dbname), f->conninfo, sizeof(f->conninfo));
    if (db_open_postgres(&f->db, f->conninfo) != 0) {
      pg_drop_database(f->dbname);
      free(f);
      return -1;
    }
    *state = f;
    return 0;
  }
  snprintf(f->dir, sizeof(f->dir), "/tmp/onair-test-db-XXXXXX");
  if (mkdtemp(f->dir) == NULL) {
    free(f);
    return -1;
  }
  snprintf(f->path, sizeof(f->path), "%s/onair.db", f->dir);
  if (db_open(&f->db, f->path) != 0) {
    rm_dir(f->dir);
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  db_close(f->db);
  if (use_pg)
    pg_drop_database(f->dbname);
  else
    rm_dir(f->dir);
  free(f);
  return 0;
}

/* Opens the fixture's store again (another connection, on PostgreSQL). */
static int fixture_open(struct fixture *f, struct db **db) {
  return use_pg ? db_open_postgres(db, f->conninfo) : db_open(db, f->path);
}

static void test_user_create_find(void **state) {
  struct fixture *f = *state;
  static const struct {
    const char *name, *pwhash;
  } users[] = {
      {"Alice", "$argon2id$v=19$m=8,t=1,p=1$alice"},
      {"bob", "$argon2id$v=19$m=8,t=1,p=1$bob"},
      {"carol_99", ""}, /* no password */
  };
  int64_t ids[3];
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(db_user_create(f->db, users[i].name, users[i].pwhash, &ids[i]), 0);
    assert_true(ids[i] > 0);
    for (size_t k = 0; k < i; k++)
      assert_true(ids[k] != ids[i]);
  }
  static const struct {
    const char *query;
    int rc;
    int idx; /* which user, when found */
  } finds[] = {
      {"Alice", 0, 0},  {"alice", 0, 0},      {"ALICE", 0, 0},      {"bob", 0, 1},
      {"BOB", 0, 1},    {"Carol_99", 0, 2},   {"alic", -ENOENT, 0}, {"alice ", -ENOENT, 0},
      {"", -ENOENT, 0}, {"dave", -ENOENT, 0}, {"%", -ENOENT, 0},    {"a%", -ENOENT, 0},
  };
  for (size_t i = 0; i < sizeof(finds) / sizeof(finds[0]); i++) {
    struct db_user u;
    memset(&u, 0x55, sizeof(u));
    int rc = db_user_find(f->db, finds[i].query, &u);
    if (rc != finds[i].rc) {
      print_error("find \"%s\": rc %d, want %d\n", finds[i].query, rc, finds[i].rc);
      fail();
    }
    if (rc == 0) {
      int k = finds[i].idx;
      assert_int_equal(u.id, ids[k]);
      assert_string_equal(u.name, users[k].name); /* stored spelling */
      assert_string_equal(u.pwhash, users[k].pwhash);
    }
  }
}

static void test_user_duplicate(void **state) {
  struct fixture *f = *state;
  int64_t id, id2 = -1;
  assert_int_equal(db_user_create(f->db, "Dana", "h1", &id), 0);
  static const char *const dups[] = {"Dana", "dana", "DANA", "dAnA"};
  for (size_t i = 0; i < sizeof(dups) / sizeof(dups[0]); i++) {
    int rc = db_user_create(f->db, dups[i], "h2", &id2);
    if (rc != -EEXIST) {
      print_error("duplicate \"%s\": rc %d\n", dups[i], rc);
      fail();
    }
    assert_int_equal(id2, -1); /* not set on failure */
  }
  /* The original row is unchanged, and the statement is usable again. */
  struct db_user u;
  assert_int_equal(db_user_find(f->db, "dana", &u), 0);
  assert_int_equal(u.id, id);
  assert_string_equal(u.name, "Dana");
  assert_string_equal(u.pwhash, "h1");
  assert_int_equal(db_user_create(f->db, "Dana2", "h3", &id2), 0);
  assert_true(id2 != id);
}

static void test_user_get(void **state) {
  struct fixture *f = *state;
  int64_t a, b;
  struct db_user u;
  assert_int_equal(db_user_create(f->db, "erin", "ha", &a), 0);
  assert_int_equal(db_user_create(f->db, "Frank", "hb", &b), 0);
  assert_int_equal(db_user_get(f->db, b, &u), 0);
  assert_int_equal(u.id, b);
  assert_string_equal(u.name, "Frank");
  assert_string_equal(u.pwhash, "hb");
  assert_int_equal(db_user_get(f->db, a, &u), 0);
  assert_string_equal(u.name, "erin");
  static const int64_t missing[] = {0, -1, 999999, INT64_MAX};
  for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++)
    assert_int_equal(db_user_get(f->db, missing[i], &u), -ENOENT);
}

static void hash_of(uint8_t h[32], uint8_t seed) {
  for (int i = 0; i < 32; i++)
    h[i] = (uint8_t)(seed * 31 + i);
}

static void test_sessions(void **state) {
  struct fixture *f = *state;
  int64_t uid, uid2, got;
  uint8_t h1[32], h2[32], h3[32];
  assert_int_equal(db_user_create(f->db, "gina", "", &uid), 0);
  assert_int_equal(db_user_create(f->db, "hank", "", &uid2), 0);
  hash_of(h1, 1);
  hash_of(h2, 2);
  hash_of(h3, 3);
  assert_int_equal(db_session_put(f->db, h1, uid, 10000), 0);
  assert_int_equal(db_session_put(f->db, h2, uid2, 20000), 0);
  /* The same hash twice is refused. */
  assert_int_equal(db_session_put(f->db, h1, uid2, 30000), -EEXIST);

  const struct {
    const char *what;
    const uint8_t *hash;
    int64_t now;
    int rc;
    int64_t uid;
  } gets[] = {
      {"h1 live", h1, 0, 0, 0},
      {"h1 just before expiry", h1, 9999, 0, 0},
      {"h1 at expiry", h1, 10000, -ENOENT, 0},
      {"h1 after expiry", h1, 50000, -ENOENT, 0},
      {"h2 live", h2, 10000, 0, 1},
      {"h3 unknown", h3, 0, -ENOENT, 0},
  };
  for (size_t i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
    got = -7;
    int rc = db_session_get(f->db, gets[i].hash, gets[i].now, &got);
    if (rc != gets[i].rc) {
      print_error("session get \"%s\": rc %d, want %d\n", gets[i].what, rc, gets[i].rc);
      fail();
    }
    if (rc == 0)
      assert_int_equal(got, gets[i].uid ? uid2 : uid);
    else
      assert_int_equal(got, -7);
  }

  /* Delete: gone; deleting again or an unknown hash is fine. */
  assert_int_equal(db_session_delete(f->db, h1), 0);
  assert_int_equal(db_session_get(f->db, h1, 0, &got), -ENOENT);
  assert_int_equal(db_session_delete(f->db, h1), 0);
  assert_int_equal(db_session_delete(f->db, h3), 0);
  assert_int_equal(db_session_get(f->db, h2, 0, &got), 0);
  assert_int_equal(got, uid2);
}

static void test_session_expire_count(void **state) {
  struct fixture *f = *state;
  int64_t uid, got;
  uint8_t h[5][32];
  static const int64_t expires[5] = {100, 200, 200, 300, 400};
  assert_int_equal(db_user_create(f->db, "ivan", "", &uid), 0);
  for (int i = 0; i < 5; i++) {
    hash_of(h[i], (uint8_t)(10 + i));
    assert_int_equal(db_session_put(f->db, h[i], uid, expires[i]), 0);
  }
  static const struct {
    int64_t now;
    int removed;
  } steps[] = {{50, 0}, {100, 1}, {100, 0}, {250, 2}, {300, 1}, {1000, 1}, {2000, 0}};
  for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
    int n = db_session_expire(f->db, steps[s].now);
    if (n != steps[s].removed) {
      print_error("expire at %lld: removed %d, want %d\n", (long long)steps[s].now, n,
                  steps[s].removed);
      fail();
    }
    /* Whatever is left is exactly what has not expired. */
    for (int i = 0; i < 5; i++) {
      int rc = db_session_get(f->db, h[i], 0, &got);
      assert_int_equal(rc, expires[i] > steps[s].now ? 0 : -ENOENT);
    }
  }
}

struct chat_log {
  int n;
  int64_t ids[64];
  char rooms[64][40];
  char users[64][40];
  char texts[64][80];
  int64_t ts[64];
};

static void collect(const struct db_chat *m, void *arg) {
  struct chat_log *log = arg;
  assert_true(log->n < 64);
  log->ids[log->n] = m->id;
  snprintf(log->rooms[log->n], sizeof(log->rooms[0]), "%s", m->room);
  snprintf(log->users[log->n], sizeof(log->users[0]), "%s", m->user);
  snprintf(log->texts[log->n], sizeof(log->texts[0]), "%s", m->text);
  log->ts[log->n] = m->ts;
  log->n++;
}

static void test_chat_recent(void **state) {
  struct fixture *f = *state;
  int64_t ids[20], other_id;
  char text[32];
  /* Interleave two rooms so "per room" is tested. */
  for (int i = 0; i < 20; i++) {
    snprintf(text, sizeof(text), "msg %d", i);
    assert_int_equal(db_chat_append(f->db, "Lobby", i % 2 ? "jo" : "kim", text, 1000 + i, &ids[i]),
                     0);
    if (i > 0)
      assert_true(ids[i] > ids[i - 1]);
    assert_int_equal(db_chat_append(f->db, "other", "zed", "elsewhere", 5000 + i, &other_id), 0);
  }
  static const struct {
    const char *room;
    int limit;
    int want_n;
    int first; /* index of the oldest message returned */
  } q[] = {
      {"Lobby", 5, 5, 15},  {"lobby", 5, 5, 15}, {"LOBBY", 1, 1, 19}, {"Lobby", 20, 20, 0},
      {"Lobby", 50, 20, 0}, {"Lobby", 0, 0, 0},  {"nobody", 5, 0, 0}, {"Lobb", 5, 0, 0},
  };
  for (size_t k = 0; k < sizeof(q) / sizeof(q[0]); k++) {
    struct chat_log *log = calloc(1, sizeof(*log));
    assert_non_null(log);
    assert_int_equal(db_chat_recent(f->db, q[k].room, q[k].limit, collect, log), 0);
    if (log->n != q[k].want_n) {
      print_error("recent(%s, %d): %d messages, want %d\n", q[k].room, q[k].limit, log->n,
                  q[k].want_n);
      fail();
    }
    for (int i = 0; i < log->n; i++) {
      int idx = q[k].first + i; /* oldest first */
      snprintf(text, sizeof(text), "msg %d", idx);
      assert_int_equal(log->ids[i], ids[idx]);
      assert_string_equal(log->texts[i], text);
      assert_string_equal(log->users[i], idx % 2 ? "jo" : "kim");
      assert_string_equal(log->rooms[i], "Lobby");
      assert_int_equal(log->ts[i], 1000 + idx);
    }
    free(log);
  }
  /* The other room sees only its own. */
  struct chat_log *log = calloc(1, sizeof(*log));
  assert_non_null(log);
  assert_int_equal(db_chat_recent(f->db, "OTHER", 3, collect, log), 0);
  assert_int_equal(log->n, 3);
  assert_string_equal(log->texts[0], "elsewhere");
  assert_int_equal(log->ts[0], 5017);
  assert_int_equal(log->ids[2], other_id);
  free(log);
}

static void test_chat_text_roundtrip(void **state) {
  struct fixture *f = *state;
  /* Quotes, SQL metacharacters and UTF-8 come back byte for byte. */
  static const char *const texts[] = {
      "it's", "'); DROP TABLE messages; --", "caf\xc3\xa9 \xf0\x9f\x98\x80", "a\nb\tc", "%_",
  };
  int64_t id;
  for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
    assert_int_equal(db_chat_append(f->db, "r", "u", texts[i], (int64_t)i, &id), 0);
  struct chat_log *log = calloc(1, sizeof(*log));
  assert_non_null(log);
  assert_int_equal(db_chat_recent(f->db, "r", 10, collect, log), 0);
  assert_int_equal(log->n, 5);
  for (int i = 0; i < 5; i++)
    assert_string_equal(log->texts[i], texts[i]);
  free(log);
}

static void test_survives_reopen(void **state) {
  struct fixture *f = *state;
  int64_t uid, mid, got;
  uint8_t h[32];
  hash_of(h, 42);
  assert_int_equal(db_user_create(f->db, "Lena", "$hash", &uid), 0);
  assert_int_equal(db_session_put(f->db, h, uid, INT64_MAX), 0);
  assert_int_equal(db_chat_append(f->db, "Lena", "Lena", "hello again", 77, &mid), 0);
  db_close(f->db);
  f->db = NULL;

  assert_int_equal(fixture_open(f, &f->db), 0);
  struct db_user u;
  assert_int_equal(db_user_find(f->db, "lena", &u), 0);
  assert_int_equal(u.id, uid);
  assert_string_equal(u.pwhash, "$hash");
  assert_int_equal(db_session_get(f->db, h, 0, &got), 0);
  assert_int_equal(got, uid);
  struct chat_log *log = calloc(1, sizeof(*log));
  assert_non_null(log);
  assert_int_equal(db_chat_recent(f->db, "lena", 10, collect, log), 0);
  assert_int_equal(log->n, 1);
  assert_int_equal(log->ids[0], mid);
  assert_string_equal(log->texts[0], "hello again");
  free(log);
  /* The unique name still holds after reopening. */
  assert_int_equal(db_user_create(f->db, "LENA", "", &got), -EEXIST);
}

static void test_identities(void **state) {
  struct fixture *f = *state;
  int64_t a, b, got;
  assert_int_equal(db_user_create(f->db, "mia", "", &a), 0);
  assert_int_equal(db_user_create(f->db, "noah", "", &b), 0);
  assert_int_equal(db_identity_add(f->db, "https://idp.example", "sub-1", a), 0);
  assert_int_equal(db_identity_add(f->db, "https://idp.example", "sub-2", b), 0);
  /* The same sub at another issuer is another person. */
  assert_int_equal(db_identity_add(f->db, "https://other.example", "sub-1", b), 0);
  /* One (issuer, sub) maps to one user. */
  assert_int_equal(db_identity_add(f->db, "https://idp.example", "sub-1", b), -EEXIST);
  static const struct {
    const char *issuer, *sub;
    int rc;
    int who; /* 0 a, 1 b */
  } q[] = {
      {"https://idp.example", "sub-1", 0, 0},
      {"https://idp.example", "sub-2", 0, 1},
      {"https://other.example", "sub-1", 0, 1},
      {"https://other.example", "sub-2", -ENOENT, 0},
      {"https://IDP.example", "sub-1", -ENOENT, 0}, /* exact, not case-folded */
      {"https://idp.example", "SUB-1", -ENOENT, 0},
      {"https://idp.example/", "sub-1", -ENOENT, 0},
      {"", "", -ENOENT, 0},
  };
  for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
    got = -1;
    int rc = db_identity_find(f->db, q[i].issuer, q[i].sub, &got);
    if (rc != q[i].rc || (rc == 0 && got != (q[i].who ? b : a))) {
      print_error("identity (%s, %s): rc %d, user %lld\n", q[i].issuer, q[i].sub, rc,
                  (long long)got);
      fail();
    }
  }
}

static void test_session_id_token(void **state) {
  struct fixture *f = *state;
  int64_t uid, got;
  uint8_t plain[32], oidc[32], unknown[32];
  char out[64];
  hash_of(plain, 60);
  hash_of(oidc, 61);
  hash_of(unknown, 62);
  assert_int_equal(db_user_create(f->db, "olivia", "", &uid), 0);
  assert_int_equal(db_session_put(f->db, plain, uid, 10000), 0);
  assert_int_equal(db_session_put_oidc(f->db, oidc, uid, 10000, "eyJ.header.sig"), 0);
  /* Both sign in. */
  assert_int_equal(db_session_get(f->db, plain, 0, &got), 0);
  assert_int_equal(db_session_get(f->db, oidc, 0, &got), 0);
  assert_int_equal(got, uid);
  /* Only the OpenID one has an ID token. */
  assert_int_equal(db_session_id_token(f->db, oidc, out, sizeof(out)), 0);
  assert_string_equal(out, "eyJ.header.sig");
  assert_int_equal(db_session_id_token(f->db, plain, out, sizeof(out)), -ENOENT);
  assert_int_equal(db_session_id_token(f->db, unknown, out, sizeof(out)), -ENOENT);
  /* The buffer must hold the token and its NUL. */
  assert_int_equal(db_session_id_token(f->db, oidc, out, 15), 0);
  memset(out, '#', sizeof(out));
  assert_int_equal(db_session_id_token(f->db, oidc, out, 14), -ENOBUFS);
  assert_int_equal(out[0], '#');
  /* Same hash twice is refused for OpenID sessions too. */
  assert_int_equal(db_session_put_oidc(f->db, oidc, uid, 10000, "other"), -EEXIST);
  /* Deleted with the session. */
  assert_int_equal(db_session_delete(f->db, oidc), 0);
  assert_int_equal(db_session_id_token(f->db, oidc, out, sizeof(out)), -ENOENT);
}

/* A database written by the first release (no id_token column, no
 * user_version) opens, keeps its rows and gains the new column once. */
static void test_migrates_old_database(void **state) {
  struct fixture *f = *state;
  char p[160];
  snprintf(p, sizeof(p), "%s/junk.db", f->dir);
  sqlite3 *conn;
  assert_int_equal(sqlite3_open(p, &conn), SQLITE_OK);
  assert_int_equal(
      sqlite3_exec(conn,
                   "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE "
                   "COLLATE NOCASE, pwhash TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL);"
                   "CREATE TABLE sessions(hash BLOB PRIMARY KEY, user_id INTEGER NOT NULL "
                   "REFERENCES users(id) ON DELETE CASCADE, expires INTEGER NOT NULL);"
                   "CREATE TABLE messages(id INTEGER PRIMARY KEY, room TEXT NOT NULL COLLATE "
                   "NOCASE, user TEXT NOT NULL, text TEXT NOT NULL, ts INTEGER NOT NULL);"
                   "INSERT INTO users(id, name, pwhash, created) VALUES(7, 'Old', 'h', 0);"
                   "INSERT INTO sessions VALUES(x'"
                   "00000000000000000000000000000000"
                   "00000000000000000000000000000000', 7, 9223372036854775807);",
                   NULL, NULL, NULL),
      SQLITE_OK);
  sqlite3_close(conn);

  for (int round = 0; round < 2; round++) { /* the second open must not migrate again */
    struct db *db;
    uint8_t zero[32] = {0}, h[32];
    int64_t got;
    struct db_user u;
    assert_int_equal(db_open(&db, p), 0);
    assert_int_equal(db_user_find(db, "old", &u), 0);
    assert_int_equal(u.id, 7);
    assert_int_equal(u.admin, 1); /* the old database's first user is its admin */
    assert_int_equal(u.disabled, 0);
    assert_int_equal(db_session_get(db, zero, 0, &got), 0);
    assert_int_equal(got, 7);
    hash_of(h, (uint8_t)(70 + round));
    assert_int_equal(db_session_put_oidc(db, h, 7, INT64_MAX, "tok"), 0);
    char out[8];
    assert_int_equal(db_session_id_token(db, h, out, sizeof(out)), 0);
    assert_string_equal(out, "tok");
    db_close(db);
  }
}

struct listed {
  char names[8][DB_NAME_MAX + 1];
  int admin[8], disabled[8];
  int n;
};

static void on_user(const struct db_user *u, void *arg) {
  struct listed *l = arg;
  assert_true(l->n < 8);
  snprintf(l->names[l->n], sizeof(l->names[0]), "%s", u->name);
  l->admin[l->n] = u->admin;
  l->disabled[l->n] = u->disabled;
  assert_string_equal(u->pwhash, ""); /* lists carry no hashes */
  l->n++;
}

/* The first user is the admin, the next ones are not; flags are set by
 * name; a list is sorted by name and capped; a user's sessions all end. */
static void test_admin_and_disabled(void **state) {
  struct fixture *f = *state;
  int64_t ids[3];
  const char *names[] = {"zoe", "Adam", "mia"};
  for (int i = 0; i < 3; i++)
    assert_int_equal(db_user_create(f->db, names[i], "h", &ids[i]), 0);
  struct db_user u;
  assert_int_equal(db_user_get(f->db, ids[0], &u), 0);
  assert_int_equal(u.admin, 1);
  assert_true(u.created_ms > 0);
  assert_int_equal(db_user_get(f->db, ids[1], &u), 0);
  assert_int_equal(u.admin, 0);
  assert_int_equal(db_user_set_admin(f->db, "ADAM", 1), 0);
  assert_int_equal(db_user_set_disabled(f->db, "mia", 1), 0);
  assert_int_equal(db_user_set_disabled(f->db, "nobody", 1), -ENOENT);
  assert_int_equal(db_user_set_admin(f->db, "nobody", 1), -ENOENT);
  struct listed l = {.n = 0};
  assert_int_equal(db_user_list(f->db, 10, on_user, &l), 0);
  assert_int_equal(l.n, 3);
  assert_string_equal(l.names[0], "Adam");
  assert_int_equal(l.admin[0], 1);
  assert_string_equal(l.names[1], "mia");
  assert_int_equal(l.disabled[1], 1);
  assert_string_equal(l.names[2], "zoe");
  struct listed two = {.n = 0};
  assert_int_equal(db_user_list(f->db, 2, on_user, &two), 0);
  assert_int_equal(two.n, 2);

  uint8_t h1[32], h2[32];
  int64_t got;
  hash_of(h1, 1);
  hash_of(h2, 2);
  assert_int_equal(db_session_put(f->db, h1, ids[2], INT64_MAX), 0);
  assert_int_equal(db_session_put(f->db, h2, ids[2], INT64_MAX), 0);
  assert_int_equal(db_session_delete_user(f->db, ids[2]), 0);
  assert_int_equal(db_session_get(f->db, h1, 0, &got), -ENOENT);
  assert_int_equal(db_session_get(f->db, h2, 0, &got), -ENOENT);
}

static void test_open_bad_paths(void **state) {
  struct fixture *f = *state;
  char p[256];
  struct db *db = (struct db *)0x1; /* must stay untouched on failure */
  enum log_level saved = log_min_level;
  log_min_level = LOG_ERROR + 1; /* the failures below log on purpose */

  /* A directory that does not exist. */
  snprintf(p, sizeof(p), "%s/no/such/dir/onair.db", f->dir);
  assert_int_equal(db_open(&db, p), -EIO);
  assert_ptr_equal(db, (struct db *)0x1);
  /* A directory, not a file. */
  assert_int_equal(db_open(&db, f->dir), -EIO);
  assert_ptr_equal(db, (struct db *)0x1);
  /* A file that is not a database. */
  snprintf(p, sizeof(p), "%s/junk.db", f->dir);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  char junk[4096];
  memset(junk, 'J', sizeof(junk));
  assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
  close(fd);
  assert_int_equal(db_open(&db, p), -EIO);
  assert_ptr_equal(db, (struct db *)0x1);

  log_min_level = saved;
  /* The fixture's own database still works. */
  int64_t id;
  assert_int_equal(db_user_create(f->db, "still_ok", "", &id), 0);
  db_close(NULL); /* harmless */
}

/* Stream keys and watch tokens: one per user and kind, replaced by a put;
 * found only while the user is enabled; a hash belongs to one user. */
static void test_keys(void **state) {
  struct fixture *f = *state;
  int64_t a, b, got, created;
  uint8_t h1[32], h2[32], h3[32];
  hash_of(h1, 91);
  hash_of(h2, 92);
  hash_of(h3, 93);
  assert_int_equal(db_user_create(f->db, "pat", "", &a), 0);
  assert_int_equal(db_user_create(f->db, "quinn", "", &b), 0);
  for (int k = 0; k < DB_KEYS; k++) {
    enum db_key which = (enum db_key)k;
    assert_int_equal(db_key_find(f->db, which, h1, &got), -ENOENT);
    assert_int_equal(db_key_created(f->db, which, a, &created), -ENOENT);
    assert_int_equal(db_key_put(f->db, which, a, h1, 1000 + k), 0);
    assert_int_equal(db_key_find(f->db, which, h1, &got), 0);
    assert_int_equal(got, a);
    assert_int_equal(db_key_created(f->db, which, a, &created), 0);
    assert_int_equal(created, 1000 + k);
    /* Another user cannot take the same hash; an unknown user has none. */
    assert_int_equal(db_key_put(f->db, which, b, h1, 5), -EEXIST);
    assert_int_equal(db_key_put(f->db, which, 999999, h3, 5), -EEXIST);
    /* A new key replaces the old one. */
    assert_int_equal(db_key_put(f->db, which, a, h2, 2000 + k), 0);
    assert_int_equal(db_key_find(f->db, which, h1, &got), -ENOENT);
    assert_int_equal(db_key_find(f->db, which, h2, &got), 0);
    assert_int_equal(db_key_created(f->db, which, a, &created), 0);
    assert_int_equal(created, 2000 + k);
  }
  /* The kinds are apart: the watch token's hash is no stream key. */
  assert_int_equal(db_key_delete(f->db, DB_KEY_STREAM, a), 0);
  assert_int_equal(db_key_find(f->db, DB_KEY_STREAM, h2, &got), -ENOENT);
  assert_int_equal(db_key_find(f->db, DB_KEY_WATCH, h2, &got), 0);
  /* A disabled user's key is not found, and is again once enabled. */
  assert_int_equal(db_user_set_disabled(f->db, "PAT", 1), 0);
  assert_int_equal(db_key_find(f->db, DB_KEY_WATCH, h2, &got), -ENOENT);
  assert_int_equal(db_key_created(f->db, DB_KEY_WATCH, a, &created), 0);
  assert_int_equal(db_user_set_disabled(f->db, "pat", 0), 0);
  assert_int_equal(db_key_find(f->db, DB_KEY_WATCH, h2, &got), 0);
  assert_int_equal(db_key_delete(f->db, DB_KEY_WATCH, a), 0);
  assert_int_equal(db_key_delete(f->db, DB_KEY_WATCH, a), 0);
  assert_int_equal(db_key_find(f->db, DB_KEY_WATCH, h2, &got), -ENOENT);
}

/* Names fold ASCII letters only, on both stores (SQLite's NOCASE): É and é
 * are different letters, so these are two users; the list sorts by the
 * folded name. */
static void test_names_ascii_folding(void **state) {
  struct fixture *f = *state;
  int64_t upper, lower, id;
  struct db_user u;
  assert_int_equal(db_user_create(f->db, "\xc3\x89mile", "", &upper), 0); /* Émile */
  assert_int_equal(db_user_create(f->db, "\xc3\xa9mile", "", &lower), 0); /* émile */
  assert_int_equal(db_user_create(f->db, "\xc3\x89MILE", "", &id), -EEXIST);
  assert_int_equal(db_user_find(f->db, "\xc3\x89MiLe", &u), 0);
  assert_int_equal(u.id, upper);
  assert_int_equal(db_user_find(f->db, "\xc3\xa9MILE", &u), 0);
  assert_int_equal(u.id, lower);
  assert_int_equal(db_user_create(f->db, "b_", "", &id), 0);
  assert_int_equal(db_user_create(f->db, "B1", "", &id), 0);
  assert_int_equal(db_user_create(f->db, "a", "", &id), 0);
  struct listed l = {.n = 0};
  assert_int_equal(db_user_list(f->db, 10, on_user, &l), 0);
  static const char *const order[] = {"a", "B1", "b_", "\xc3\x89mile", "\xc3\xa9mile"};
  assert_int_equal(l.n, 5);
  for (int i = 0; i < 5; i++)
    assert_string_equal(l.names[i], order[i]);
}

#include "db_pg_cases.h"

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "pg") == 0) {
    pg_base = getenv("ONAIR_TEST_POSTGRES");
    if (pg_base == NULL || pg_base[0] == 0) {
      fprintf(stderr, "test_db pg: no ONAIR_TEST_POSTGRES: run it under "
                      "tests/lib/with-postgres.sh\n");
      return 1;
    }
    use_pg = 1;
  }
  log_min_level = LOG_WARN;
  const struct CMUnitTest both[] = {
      cmocka_unit_test_setup_teardown(test_user_create_find, setup, teardown),
      cmocka_unit_test_setup_teardown(test_user_duplicate, setup, teardown),
      cmocka_unit_test_setup_teardown(test_user_get, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_session_expire_count, setup, teardown),
      cmocka_unit_test_setup_teardown(test_chat_recent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_chat_text_roundtrip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_survives_reopen, setup, teardown),
      cmocka_unit_test_setup_teardown(test_identities, setup, teardown),
      cmocka_unit_test_setup_teardown(test_session_id_token, setup, teardown),
      cmocka_unit_test_setup_teardown(test_admin_and_disabled, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_names_ascii_folding, setup, teardown),
  };
  const struct CMUnitTest sqlite_only[] = {
      cmocka_unit_test_setup_teardown(test_migrates_old_database, setup, teardown),
      cmocka_unit_test_setup_teardown(test_open_bad_paths, setup, teardown),
  };
  const struct CMUnitTest pg_only[] = {
      cmocka_unit_test_setup_teardown(test_pg_open_fails, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pg_conninfo_forms, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pg_concurrent_migrations, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pg_first_admin_race, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pg_chat_durable, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pg_backend_killed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pg_server_down_and_up, setup, teardown),
  };
  if (!use_pg)
    return cmocka_run_group_tests_name("db_sqlite", both, NULL, NULL) +
           cmocka_run_group_tests_name("db_sqlite_only", sqlite_only, NULL, NULL);
  return cmocka_run_group_tests_name("db_postgres", both, NULL, NULL) +
         cmocka_run_group_tests_name("db_postgres_only", pg_only, NULL, NULL);
}
