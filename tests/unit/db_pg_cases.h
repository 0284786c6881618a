/* test_db.c's cases for what the PostgreSQL store adds (run by `test_db pg`
 * only): included by test_db.c, whose fixture (a fresh database per case,
 * pg_base, pg_new_database()) and helpers (collect(), struct chat_log) they
 * use. Apart from it to keep test_db.c a readable size. */
#ifndef ONAIR_TEST_DB_PG_CASES_H
#define ONAIR_TEST_DB_PG_CASES_H

#include <pthread.h>
#include <time.h>

#include "store/db_int.h" /* db_pg_conn(): the connection's settings */

#define RACERS 4

struct racer {
  pthread_barrier_t *go;
  const char *conninfo;
  int open_first; /* open, then wait for the others; else open after */
  struct db *db;  /* its own connection */
  char name[16];
  int rc;
  int64_t id;
};

/* A node: opens the store and signs up a user, the step the test races
 * started at the same instant as the other racers'. */
static void *racer_run(void *arg) {
  struct racer *r = arg;
  if (r->open_first)
    r->rc = db_open_postgres(&r->db, r->conninfo);
  pthread_barrier_wait(r->go);
  if (!r->open_first)
    r->rc = db_open_postgres(&r->db, r->conninfo);
  if (r->rc == 0)
    r->rc = db_user_create(r->db, r->name, "", &r->id);
  return NULL;
}

/* Runs RACERS racers on conninfo; each must have succeeded. */
static void race(struct racer *r, const char *conninfo, int open_first) {
  pthread_barrier_t go;
  pthread_t t[RACERS];
  pthread_barrier_init(&go, NULL, RACERS);
  memset(r, 0, RACERS * sizeof(*r));
  for (int i = 0; i < RACERS; i++) {
    r[i].go = &go;
    r[i].conninfo = conninfo;
    r[i].open_first = open_first;
    snprintf(r[i].name, sizeof(r[i].name), "racer%d", i);
    assert_int_equal(pthread_create(&t[i], NULL, racer_run, &r[i]), 0);
  }
  for (int i = 0; i < RACERS; i++)
    pthread_join(t[i], NULL);
  pthread_barrier_destroy(&go);
  for (int i = 0; i < RACERS; i++)
    assert_int_equal(r[i].rc, 0);
}

/* Nodes starting together on an empty database: every one opens, and the
 * migrations were applied once (schema_version as after one opener). */
static void test_pg_concurrent_migrations(void **state) {
  struct fixture *f = *state;
  char name[32], conninfo[512];
  for (int round = 0; round < 3; round++) {
    pg_new_database(name, sizeof(name), conninfo, sizeof(conninfo));
    struct racer r[RACERS];
    race(r, conninfo, 0);
    for (int i = 0; i < RACERS; i++)
      db_close(r[i].db);
    /* The fixture's database had one opener: compare with its steps. */
    PGconn *c = PQconnectdb(conninfo);
    PGconn *one = PQconnectdb(f->conninfo);
    PGresult *racy = PQexec(c, "SELECT count(*), count(DISTINCT version), max(version), "
                               "min(version) FROM schema_version");
    PGresult *alone = PQexec(one, "SELECT count(*), count(DISTINCT version), max(version), "
                                  "min(version) FROM schema_version");
    assert_int_equal(PQresultStatus(racy), PGRES_TUPLES_OK);
    assert_int_equal(PQresultStatus(alone), PGRES_TUPLES_OK);
    for (int col = 0; col < 4; col++)
      assert_string_equal(PQgetvalue(racy, 0, col), PQgetvalue(alone, 0, col));
    assert_string_equal(PQgetvalue(racy, 0, 3), "1");
    assert_string_equal(PQgetvalue(racy, 0, 0), PQgetvalue(racy, 0, 2));
    PQclear(racy);
    PQclear(alone);
    PQfinish(c);
    PQfinish(one);
    pg_drop_database(name);
  }
}

struct admins {
  int users, admins;
};

static void count_admins(const struct db_user *u, void *arg) {
  struct admins *a = arg;
  a->users++;
  a->admins += u->admin;
}

/* Nodes signing up the first users together: exactly one is the admin. */
static void test_pg_first_admin_race(void **state) {
  (void)state;
  char name[32], conninfo[512];
  for (int round = 0; round < 5; round++) {
    pg_new_database(name, sizeof(name), conninfo, sizeof(conninfo));
    struct racer r[RACERS];
    race(r, conninfo, 1);
    struct admins a = {0, 0};
    assert_int_equal(db_user_list(r[0].db, 100, count_admins, &a), 0);
    assert_int_equal(a.users, RACERS);
    assert_int_equal(a.admins, 1);
    /* ... and a later one is not. */
    int64_t id;
    struct db_user u;
    assert_int_equal(db_user_create(r[1].db, "late", "", &id), 0);
    assert_int_equal(db_user_get(r[2].db, id, &u), 0);
    assert_int_equal(u.admin, 0);
    for (int i = 0; i < RACERS; i++)
      db_close(r[i].db);
    pg_drop_database(name);
  }
}

/* A message is committed when db_chat_append() returns: another connection
 * (another node) reads it at once. */
static void test_pg_chat_durable(void **state) {
  struct fixture *f = *state;
  int64_t ids[3];
  char text[16];
  for (int i = 0; i < 3; i++) {
    snprintf(text, sizeof(text), "kept %d", i);
    assert_int_equal(db_chat_append(f->db, "Durable", "sam", text, 100 + i, &ids[i]), 0);
  }
  struct db *other;
  assert_int_equal(db_open_postgres(&other, f->conninfo), 0);
  struct chat_log *log = calloc(1, sizeof(*log));
  assert_non_null(log);
  assert_int_equal(db_chat_recent(other, "durable", 10, collect, log), 0);
  assert_int_equal(log->n, 3);
  for (int i = 0; i < 3; i++) {
    snprintf(text, sizeof(text), "kept %d", i);
    assert_int_equal(log->ids[i], ids[i]);
    assert_string_equal(log->texts[i], text);
  }
  free(log);
  db_close(other);
}

static int log_pipe[2] = {-1, -1}, saved_stderr = -1;

/* The log (stderr) goes into a pipe until log_captured(); a case logs a few
 * lines, far from what the pipe holds. */
static void log_capture(void) {
  fflush(stderr);
  assert_int_equal(pipe(log_pipe), 0);
  saved_stderr = dup(2);
  dup2(log_pipe[1], 2);
  close(log_pipe[1]);
}

/* stderr is back; returns what was logged meanwhile. */
static const char *log_captured(void) {
  static char text[16384];
  fflush(stderr);
  dup2(saved_stderr, 2); /* the pipe's last writer is gone: read() ends */
  close(saved_stderr);
  size_t len = 0;
  ssize_t n;
  while (len < sizeof(text) - 1 && (n = read(log_pipe[0], text + len, sizeof(text) - 1 - len)) > 0)
    len += (size_t)n;
  text[len] = 0;
  close(log_pipe[0]);
  return text;
}

static int occurrences(const char *text, const char *what) {
  int n = 0;
  for (const char *p = text; (p = strstr(p, what)) != NULL; p += strlen(what))
    n++;
  return n;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Calls the store every 50 ms until a call succeeds; returns the ms that
 * took, or -1 after 15 s. Every failure is -EIO and quick. */
static int64_t until_back(struct db *db, const char *name, int64_t want_id) {
  int64_t t0 = now_ms();
  struct db_user u;
  while (now_ms() - t0 < 15000) {
    int64_t t = now_ms();
    int rc = db_user_find(db, name, &u);
    if (rc == 0) {
      assert_int_equal(u.id, want_id);
      return now_ms() - t0;
    }
    assert_int_equal(rc, -EIO);
    assert_true(now_ms() - t < 1000);
    usleep(50 * 1000);
  }
  return -1;
}

/* The store's backend is killed while the store is idle (what a restart or
 * a failover does to it): the next call finds the connection closed before
 * sending anything on it, makes a new one and answers, having logged the
 * loss and the return once each. */
static void test_pg_backend_killed(void **state) {
  struct fixture *f = *state;
  int64_t uid, id;
  struct db_user u;
  char sql[160];
  assert_int_equal(db_user_create(f->db, "tess", "h", &uid), 0);
  snprintf(sql, sizeof(sql),
           "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
           "WHERE datname = '%s'",
           f->dbname);
  assert_int_equal(pg_admin_query(sql), 1);
  log_min_level = LOG_INFO;
  log_capture();
  int first = db_user_find(f->db, "tess", &u);
  const char *log = log_captured();
  log_min_level = LOG_WARN;
  assert_int_equal(first, 0);
  assert_int_equal(u.id, uid);
  assert_int_equal(occurrences(log, "postgres connection lost"), 1);
  assert_int_equal(occurrences(log, "postgres connection back"), 1);
  /* Everything works again, statements prepared anew. */
  assert_int_equal(db_chat_append(f->db, "tess", "tess", "back", 1, &id), 0);
  assert_int_equal(db_user_create(f->db, "TESS", "", &id), -EEXIST);
}

/* The server goes down for 3 s and comes back: calls fail at once all the
 * while (-EIO, no wait), and the store is back within seconds of the server. */
static void test_pg_server_down_and_up(void **state) {
  struct fixture *f = *state;
  const char *dir = getenv("ONAIR_TEST_PGDIR");
  assert_non_null(dir);
  char cmd[512];
  int64_t uid, id;
  struct db_user u;
  assert_int_equal(db_user_create(f->db, "uma", "h", &uid), 0);
  snprintf(cmd, sizeof(cmd), "%s down %s", ONAIR_PGTEMP, dir);
  assert_int_equal(system(cmd), 0);
  log_min_level = LOG_INFO;
  log_capture();
  int64_t t0 = now_ms();
  int calls = 0, failed = 0;
  while (now_ms() - t0 < 3000) {
    int64_t t = now_ms();
    failed += db_user_find(f->db, "uma", &u) == -EIO;
    calls++;
    assert_true(now_ms() - t < 1000);
    usleep(20 * 1000);
  }
  snprintf(cmd, sizeof(cmd), "%s up %s", ONAIR_PGTEMP, dir);
  int up = system(cmd);
  int64_t took = until_back(f->db, "uma", uid);
  const char *log = log_captured();
  log_min_level = LOG_WARN;
  assert_int_equal(up, 0);
  assert_int_equal(failed, calls);
  assert_true(took >= 0 && took < 5000);
  assert_int_equal(occurrences(log, "postgres connection lost"), 1);
  assert_int_equal(occurrences(log, "postgres connection back"), 1);
  assert_int_equal(db_chat_append(f->db, "uma", "uma", "after", 2, &id), 0);
}

/* A server that is not there: -EIO at once, *out untouched. */
static void test_pg_open_fails(void **state) {
  struct fixture *f = *state;
  struct db *db = (struct db *)0x1;
  char conninfo[600];
  enum log_level saved = log_min_level;
  log_min_level = LOG_ERROR + 1;
  snprintf(conninfo, sizeof(conninfo), "host=/nonexistent-dir dbname=onair");
  assert_int_equal(db_open_postgres(&db, conninfo), -EIO);
  assert_ptr_equal(db, (struct db *)0x1);
  snprintf(conninfo, sizeof(conninfo), "%s dbname=no_such_database", pg_base);
  assert_int_equal(db_open_postgres(&db, conninfo), -EIO);
  assert_ptr_equal(db, (struct db *)0x1);
  assert_int_equal(db_open_postgres(&db, "not a conninfo"), -EIO);
  assert_ptr_equal(db, (struct db *)0x1);
  log_min_level = saved;
  assert_string_equal(db_kind(f->db), "postgres");
}

/* The value of keyword in a conninfo's options (PQconninfo() or
 * PQconninfoParse()), copied into out ("" when unset). */
static void conninfo_value(PQconninfoOption *opts, const char *keyword, char *out, size_t size) {
  out[0] = 0;
  for (PQconninfoOption *o = opts; o && o->keyword; o++)
    if (strcmp(o->keyword, keyword) == 0 && o->val)
      snprintf(out, size, "%s", o->val);
}

/* A URL works as well as key=value; what the conninfo sets wins over the
 * store's defaults (connect_timeout 5, application_name onair), which hold
 * where it says nothing. */
static void test_pg_conninfo_forms(void **state) {
  struct fixture *f = *state;
  char host[256], user[64], url[600], value[64];
  PQconninfoOption *base = PQconninfoParse(pg_base, NULL);
  assert_non_null(base);
  conninfo_value(base, "host", host, sizeof(host));
  conninfo_value(base, "user", user, sizeof(user));
  PQconninfoFree(base);
  snprintf(url, sizeof(url), "postgresql://%s@/%s?host=%s&connect_timeout=2&application_name=mine",
           user, f->dbname, host);
  struct db *db;
  assert_int_equal(db_open_postgres(&db, url), 0);
  PQconninfoOption *used = PQconninfo(db_pg_conn(db));
  conninfo_value(used, "connect_timeout", value, sizeof(value));
  assert_string_equal(value, "2");
  conninfo_value(used, "application_name", value, sizeof(value));
  assert_string_equal(value, "mine");
  PQconninfoFree(used);
  db_close(db);
  used = PQconninfo(db_pg_conn(f->db));
  conninfo_value(used, "connect_timeout", value, sizeof(value));
  assert_string_equal(value, "5");
  conninfo_value(used, "application_name", value, sizeof(value));
  assert_string_equal(value, "onair");
  PQconninfoFree(used);
}

#endif
