/* onair-migrate, the built program, run as an operator runs it: a data
 * directory whose SQLite store holds users (the admin, a disabled one, one
 * made admin later), sessions (one from an OpenID provider), an identity,
 * stream keys, watch tokens and chat in two rooms is copied into a fresh
 * PostgreSQL database; everything reads back through the PostgreSQL store
 * with the same ids, new rows get ids past the copied ones, and a second
 * run refuses without duplicating anything. Runs under
 * tests/lib/with-postgres.sh (ONAIR_TEST_POSTGRES). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "store/db.h"
#include "util/log.h"

static const char *pg_base;

struct fixture {
  char dir[64];
  char path[128];
  char dbname[32];
  char conninfo[512];
};

/* Runs sql on a new connection to pg_base. */
static void pg_admin(const char *sql) {
  PGconn *c = PQconnectdb(pg_base);
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    print_error("%s: %s", sql, PQerrorMessage(c));
    fail();
  }
  PQclear(r);
  PQfinish(c);
}

static int setup(void **state) {
  static int seq;
  struct fixture *f = calloc(1, sizeof(*f));
  if (f == NULL)
    return -1;
  snprintf(f->dir, sizeof(f->dir), "/tmp/onair-test-migrate-XXXXXX");
  if (mkdtemp(f->dir) == NULL) {
    free(f);
    return -1;
  }
  snprintf(f->path, sizeof(f->path), "%s/onair.db", f->dir);
  snprintf(f->dbname, sizeof(f->dbname), "onair_migrate_%d_%d", (int)getpid(), ++seq);
  char sql[96];
  snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->dbname);
  pg_admin(sql);
  snprintf(f->conninfo, sizeof(f->conninfo), "%s dbname=%s", pg_base, f->dbname);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  static const char *const names[] = {"onair.db", "onair.db-wal", "onair.db-shm"};
  char p[256], sql[96];
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    snprintf(p, sizeof(p), "%s/%s", f->dir, names[i]);
    unlink(p);
  }
  rmdir(f->dir);
  snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->dbname);
  pg_admin(sql);
  free(f);
  return 0;
}

/* Runs onair-migrate with args (NULL-terminated after the program's name);
 * returns its exit code, with its stdout and stderr together in out. */
static int run_tool(char *out, size_t size, const char *const *args) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    unsetenv("ONAIR_POSTGRES");
    execv(ONAIR_MIGRATE, (char *const *)args);
    _exit(127);
  }
  close(fds[1]);
  size_t len = 0;
  ssize_t n;
  while ((n = read(fds[0], out + len, size - 1 - len)) > 0)
    len += (size_t)n;
  out[len] = 0;
  close(fds[0]);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int migrate(struct fixture *f, char *out, size_t size) {
  const char *const args[] = {"onair-migrate", "--data", f->dir, "--postgres", f->conninfo, NULL};
  return run_tool(out, size, args);
}

static void hash_of(uint8_t h[32], uint8_t seed) {
  for (int i = 0; i < 32; i++)
    h[i] = (uint8_t)(seed * 7 + i * 3);
}

/* What the SQLite store held, to compare with. */
struct source {
  struct db_user users[4];
  int64_t chat_ids[5];
  int64_t key_created;
};

static const char *const user_names[4] = {"Ada", "bob", "Cyd", "dee"};
static const char *const chat_texts[5] = {
    "hello",
    "tab\there, newline\nhere",
    "back\\slash \\N \\x00",
    "caf\xc3\xa9 \xf0\x9f\x98\x80",
    "in the other room",
};

/* Fills the SQLite store at f->path: Ada (the admin), bob, Cyd (disabled),
 * dee (made admin); sessions of bob and Cyd (Cyd's from OpenID), dee's
 * identity, bob's stream key and watch token, Cyd's stream key; four
 * messages in Lobby and one in Other. */
static void fill_sqlite(struct fixture *f, struct source *src) {
  struct db *db;
  assert_int_equal(db_open(&db, f->path), 0);
  int64_t id;
  uint8_t h[32];
  for (int i = 0; i < 4; i++) {
    char pw[64];
    snprintf(pw, sizeof(pw), "$argon2id$v=19$m=8,t=1,p=1$%s", user_names[i]);
    assert_int_equal(db_user_create(db, user_names[i], pw, &id), 0);
  }
  assert_int_equal(db_user_set_disabled(db, "cyd", 1), 0);
  assert_int_equal(db_user_set_admin(db, "dee", 1), 0);
  for (int i = 0; i < 4; i++)
    assert_int_equal(db_user_find(db, user_names[i], &src->users[i]), 0);
  hash_of(h, 1);
  assert_int_equal(db_session_put(db, h, src->users[1].id, INT64_MAX), 0);
  hash_of(h, 2);
  assert_int_equal(db_session_put_oidc(db, h, src->users[2].id, 4000000000000, "eyJ.tok\\en"), 0);
  assert_int_equal(db_identity_add(db, "https://idp.example", "sub-dee", src->users[3].id), 0);
  hash_of(h, 3);
  assert_int_equal(db_key_put(db, DB_KEY_STREAM, src->users[1].id, h, 111), 0);
  hash_of(h, 4);
  assert_int_equal(db_key_put(db, DB_KEY_WATCH, src->users[1].id, h, 222), 0);
  hash_of(h, 5);
  assert_int_equal(db_key_put(db, DB_KEY_STREAM, src->users[2].id, h, 333), 0);
  for (int i = 0; i < 5; i++)
    assert_int_equal(db_chat_append(db, i < 4 ? "Lobby" : "Other", user_names[i % 4], chat_texts[i],
                                    1000 + i, &src->chat_ids[i]),
                     0);
  db_close(db);
}

/* Messages as db_chat_recent() reports them, checked against the source's
 * from index next on; a NULL src only counts them. */
struct chat_check {
  const struct source *src;
  int next;
};

static void check_message(const struct db_chat *m, void *arg) {
  struct chat_check *c = arg;
  int i = c->next++;
  if (c->src == NULL)
    return;
  assert_true(i < 5);
  assert_int_equal(m->id, c->src->chat_ids[i]);
  assert_string_equal(m->text, chat_texts[i]);
  assert_string_equal(m->user, user_names[i % 4]);
  assert_string_equal(m->room, i < 4 ? "Lobby" : "Other");
  assert_int_equal(m->ts, 1000 + i);
}

static void check_users(struct db *pg, const struct source *src) {
  for (int i = 0; i < 4; i++) {
    struct db_user u;
    const struct db_user *want = &src->users[i];
    assert_int_equal(db_user_find(pg, user_names[i], &u), 0);
    assert_int_equal(u.id, want->id);
    assert_string_equal(u.name, want->name);
    assert_string_equal(u.pwhash, want->pwhash);
    assert_int_equal(u.admin, want->admin);
    assert_int_equal(u.disabled, want->disabled);
    assert_int_equal(u.created_ms, want->created_ms);
  }
  assert_int_equal(src->users[0].admin, 1); /* the cases the store had */
  assert_int_equal(src->users[2].disabled, 1);
  assert_int_equal(src->users[3].admin, 1);
}

static void check_sessions_and_keys(struct db *pg, const struct source *src) {
  uint8_t h[32];
  int64_t got;
  char token[32];
  hash_of(h, 1);
  assert_int_equal(db_session_get(pg, h, 0, &got), 0);
  assert_int_equal(got, src->users[1].id);
  hash_of(h, 2);
  assert_int_equal(db_session_get(pg, h, 0, &got), 0);
  assert_int_equal(got, src->users[2].id);
  assert_int_equal(db_session_get(pg, h, 4000000000000, &got), -ENOENT); /* expiry kept */
  assert_int_equal(db_session_id_token(pg, h, token, sizeof(token)), 0);
  assert_string_equal(token, "eyJ.tok\\en");
  assert_int_equal(db_identity_find(pg, "https://idp.example", "sub-dee", &got), 0);
  assert_int_equal(got, src->users[3].id);
  hash_of(h, 3);
  assert_int_equal(db_key_find(pg, DB_KEY_STREAM, h, &got), 0);
  assert_int_equal(got, src->users[1].id);
  hash_of(h, 4);
  assert_int_equal(db_key_find(pg, DB_KEY_WATCH, h, &got), 0);
  assert_int_equal(got, src->users[1].id);
  assert_int_equal(db_key_created(pg, DB_KEY_WATCH, src->users[1].id, &got), 0);
  assert_int_equal(got, 222);
  hash_of(h, 5); /* Cyd is disabled: the key is there, not usable */
  assert_int_equal(db_key_find(pg, DB_KEY_STREAM, h, &got), -ENOENT);
  assert_int_equal(db_key_created(pg, DB_KEY_STREAM, src->users[2].id, &got), 0);
  assert_int_equal(got, 333);
}

static void check_chat(struct db *pg, const struct source *src) {
  struct chat_check lobby = {src, 0}, other = {src, 4};
  assert_int_equal(db_chat_recent(pg, "lobby", 50, check_message, &lobby), 0);
  assert_int_equal(db_chat_recent(pg, "OTHER", 50, check_message, &other), 0);
  assert_int_equal(lobby.next, 4);
  assert_int_equal(other.next, 5);
}

struct counter {
  int users;
};

static void count_user(const struct db_user *u, void *arg) {
  (void)u;
  ((struct counter *)arg)->users++;
}

static void test_copies_everything(void **state) {
  struct fixture *f = *state;
  struct source src;
  char out[4096];
  fill_sqlite(f, &src);
  int code = migrate(f, out, sizeof(out));
  if (code != 0)
    print_error("onair-migrate: exit %d: %s\n", code, out);
  assert_int_equal(code, 0);
  static const char *const counts[] = {"users          4", "sessions       2", "identities     1",
                                       "stream keys    2", "watch tokens   1", "chat messages  5"};
  for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
    if (strstr(out, counts[i]) == NULL)
      print_error("no \"%s\" in:\n%s\n", counts[i], out);
    assert_non_null(strstr(out, counts[i]));
  }

  struct db *pg;
  assert_int_equal(db_open_postgres(&pg, f->conninfo), 0);
  check_users(pg, &src);
  check_sessions_and_keys(pg, &src);
  check_chat(pg, &src);
  /* New rows get ids past the copied ones; a new user is no admin. */
  int64_t id;
  struct db_user u;
  assert_int_equal(db_user_create(pg, "eve", "", &id), 0);
  assert_true(id > src.users[3].id);
  assert_int_equal(db_user_get(pg, id, &u), 0);
  assert_int_equal(u.admin, 0);
  assert_int_equal(db_user_create(pg, "ADA", "", &id), -EEXIST);
  assert_int_equal(db_chat_append(pg, "Lobby", "eve", "new", 2000, &id), 0);
  assert_true(id > src.chat_ids[4]);

  /* A second run refuses, and nothing is duplicated. */
  code = migrate(f, out, sizeof(out));
  assert_int_equal(code, 1);
  assert_non_null(strstr(out, "already holds"));
  struct counter c = {0};
  assert_int_equal(db_user_list(pg, 100, count_user, &c), 0);
  assert_int_equal(c.users, 5);
  struct chat_check lobby = {NULL, 0};
  assert_int_equal(db_chat_recent(pg, "lobby", 50, check_message, &lobby), 0);
  assert_int_equal(lobby.next, 5);
  db_close(pg);
}

/* An empty store copies nothing, and the first user signing up on
 * PostgreSQL afterwards is the admin. */
static void test_empty_store(void **state) {
  struct fixture *f = *state;
  struct db *db;
  char out[4096];
  assert_int_equal(db_open(&db, f->path), 0);
  db_close(db);
  assert_int_equal(migrate(f, out, sizeof(out)), 0);
  assert_non_null(strstr(out, "users          0"));
  struct db *pg;
  int64_t id;
  struct db_user u;
  assert_int_equal(db_open_postgres(&pg, f->conninfo), 0);
  assert_int_equal(db_user_create(pg, "first", "", &id), 0);
  assert_int_equal(db_user_get(pg, id, &u), 0);
  assert_int_equal(u.admin, 1);
  db_close(pg);
}

/* Usage errors exit 2; a directory without onair.db exits 1 and creates
 * nothing; a database that cannot be reached exits 1. */
static void test_refusals(void **state) {
  struct fixture *f = *state;
  char out[4096];
  const char *const none[] = {"onair-migrate", NULL};
  assert_int_equal(run_tool(out, sizeof(out), none), 2);
  assert_non_null(strstr(out, "usage"));
  const char *const no_pg[] = {"onair-migrate", "--data", f->dir, NULL};
  assert_int_equal(run_tool(out, sizeof(out), no_pg), 2);
  const char *const no_db[] = {"onair-migrate", "--data", f->dir, "--postgres", f->conninfo, NULL};
  assert_int_equal(run_tool(out, sizeof(out), no_db), 1);
  assert_non_null(strstr(out, "onair.db"));
  assert_int_equal(access(f->path, F_OK), -1);
  struct db *db;
  assert_int_equal(db_open(&db, f->path), 0);
  db_close(db);
  const char *const away[] = {
      "onair-migrate", "--data", f->dir, "--postgres", "host=/nonexistent-dir dbname=onair", NULL};
  assert_int_equal(run_tool(out, sizeof(out), away), 1);
}

int main(void) {
  pg_base = getenv("ONAIR_TEST_POSTGRES");
  if (pg_base == NULL || pg_base[0] == 0) {
    fprintf(stderr, "test_migrate: no ONAIR_TEST_POSTGRES: run it under "
                    "tests/lib/with-postgres.sh\n");
    return 1;
  }
  log_min_level = LOG_WARN;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_copies_everything, setup, teardown),
      cmocka_unit_test_setup_teardown(test_empty_store, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
