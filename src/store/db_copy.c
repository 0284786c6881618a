/* db_copy(): each SQLite table read in one read transaction (a consistent
 * snapshot, even while onair runs on the file) and written to PostgreSQL
 * with COPY ... FROM STDIN in its text format, inside one transaction. */
#include "store/db_copy.h"

#include <errno.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db_int.h"
#include "util/log.h"

/* One table: its rows read from SQLite, the same columns in the same order
 * written to PostgreSQL. types has one letter per column: i an integer, f a
 * flag (0 or not), t text, b bytes. A NULL is written as NULL. */
struct copy_table {
  const char *select;
  const char *copy;
  const char *types;
  size_t count; /* offset of its count in struct db_copy_counts */
};

static const struct copy_table tables[] = {
    {"SELECT id, name, pwhash, admin, disabled, created FROM users ORDER BY id",
     "COPY users(id, name, pwhash, admin, disabled, created) FROM STDIN", "ittffi",
     offsetof(struct db_copy_counts, users)},
    {"SELECT issuer, sub, user_id FROM identities",
     "COPY identities(issuer, sub, user_id) FROM STDIN", "tti",
     offsetof(struct db_copy_counts, identities)},
    {"SELECT hash, user_id, expires, id_token FROM sessions",
     "COPY sessions(hash, user_id, expires, id_token) FROM STDIN", "biit",
     offsetof(struct db_copy_counts, sessions)},
    {"SELECT user_id, hash, created FROM stream_keys",
     "COPY stream_keys(user_id, hash, created) FROM STDIN", "ibi",
     offsetof(struct db_copy_counts, stream_keys)},
    {"SELECT user_id, hash, created FROM watch_tokens",
     "COPY watch_tokens(user_id, hash, created) FROM STDIN", "ibi",
     offsetof(struct db_copy_counts, watch_tokens)},
    {"SELECT id, room, user, text, ts FROM messages ORDER BY id",
     "COPY messages(id, room, sender, text, ts) FROM STDIN", "ittti",
     offsetof(struct db_copy_counts, messages)},
};

/* COPY data on its way to the server, sent in pieces of sizeof(buf). */
struct copy_out {
  PGconn *conn;
  char buf[8192];
  size_t len;
  int failed; /* PQputCopyData() failed: the connection is gone */
};

static void out_flush(struct copy_out *o) {
  if (o->len > 0 && !o->failed && PQputCopyData(o->conn, o->buf, (int)o->len) != 1)
    o->failed = 1;
  o->len = 0;
}

static void out_put(struct copy_out *o, const char *p, size_t n) {
  while (n > 0) {
    if (o->len == sizeof(o->buf))
      out_flush(o);
    size_t k = sizeof(o->buf) - o->len < n ? sizeof(o->buf) - o->len : n;
    memcpy(o->buf + o->len, p, k);
    o->len += k;
    p += k;
    n -= k;
  }
}

/* Text in COPY's text format: backslash, tab, newline and carriage return
 * escaped, everything else as it is. */
static void out_text(struct copy_out *o, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const char *esc = p[i] == '\\'   ? "\\\\"
                      : p[i] == '\t' ? "\\t"
                      : p[i] == '\n' ? "\\n"
                      : p[i] == '\r' ? "\\r"
                                     : NULL;
    if (esc)
      out_put(o, esc, 2);
    else
      out_put(o, (const char *)p + i, 1);
  }
}

/* bytea in hex ("\x00ff"), its backslash escaped for COPY. */
static void out_bytes(struct copy_out *o, const unsigned char *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  out_put(o, "\\\\x", 3);
  for (size_t i = 0; i < n; i++) {
    char h[2] = {hex[p[i] >> 4], hex[p[i] & 15]};
    out_put(o, h, 2);
  }
}

static void out_column(struct copy_out *o, sqlite3_stmt *st, int col, char type) {
  char num[24];
  if (sqlite3_column_type(st, col) == SQLITE_NULL) {
    out_put(o, "\\N", 2);
  } else if (type == 'i' || type == 'f') {
    int64_t v = sqlite3_column_int64(st, col);
    if (type == 'f')
      snprintf(num, sizeof(num), "%s", v ? "t" : "f");
    else
      snprintf(num, sizeof(num), "%lld", (long long)v);
    out_put(o, num, strlen(num));
  } else if (type == 'b') {
    const void *p = sqlite3_column_blob(st, col);
    out_bytes(o, p, (size_t)sqlite3_column_bytes(st, col));
  } else {
    const unsigned char *p = sqlite3_column_text(st, col);
    out_text(o, p, (size_t)sqlite3_column_bytes(st, col));
  }
}

static int pg_fail(PGconn *conn, PGresult *res, const char *what) {
  const char *e = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
  char msg[512];
  snprintf(msg, sizeof(msg), "%s", e);
  msg[strcspn(msg, "\n")] = 0;
  log_ev(LOG_ERROR, "copy failed", LOG_S("what", what), LOG_S("error", msg));
  PQclear(res);
  return -EIO;
}

/* Streams one table's rows from src into the COPY t->copy; sets *rows. */
static int copy_rows(sqlite3 *src, PGconn *dst, const struct copy_table *t, int64_t *rows) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(src, t->select, -1, &st, NULL) != SQLITE_OK) {
    log_ev(LOG_ERROR, "copy failed", LOG_S("what", t->select), LOG_S("error", sqlite3_errmsg(src)));
    return -EIO;
  }
  PGresult *res = PQexec(dst, t->copy);
  if (PQresultStatus(res) != PGRES_COPY_IN) {
    sqlite3_finalize(st);
    return pg_fail(dst, res, t->copy);
  }
  PQclear(res);
  struct copy_out o = {.conn = dst};
  int ncol = (int)strlen(t->types), rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW && !o.failed) {
    for (int c = 0; c < ncol; c++) {
      if (c > 0)
        out_put(&o, "\t", 1);
      out_column(&o, st, c, t->types[c]);
    }
    out_put(&o, "\n", 1);
  }
  out_flush(&o);
  const char *abort_msg = rc == SQLITE_DONE ? NULL : "reading SQLite failed";
  if (abort_msg)
    log_ev(LOG_ERROR, "copy failed", LOG_S("what", t->select), LOG_S("error", sqlite3_errmsg(src)));
  sqlite3_finalize(st);
  if (o.failed || PQputCopyEnd(dst, abort_msg) != 1)
    return pg_fail(dst, NULL, t->copy);
  res = PQgetResult(dst);
  if (PQresultStatus(res) != PGRES_COMMAND_OK)
    return pg_fail(dst, res, t->copy);
  *rows = strtoll(PQcmdTuples(res), NULL, 10);
  PQclear(res);
  PQclear(PQgetResult(dst)); /* the NULL that ends the COPY's results */
  return abort_msg ? -EIO : 0;
}

/* A statement of the copy's transaction; for a SELECT, *value gets its
 * first column (text) when it returned a row. 0 or -EIO. */
static int pg_step(PGconn *conn, const char *sql, char *value, size_t size) {
  PGresult *res = PQexec(conn, sql);
  ExecStatusType status = PQresultStatus(res);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    return pg_fail(conn, res, sql);
  if (value && PQntuples(res) > 0)
    snprintf(value, size, "%s", PQgetvalue(res, 0, 0));
  PQclear(res);
  return 0;
}

/* The copy proper, inside the transactions db_copy() opened. */
static int copy_all(sqlite3 *src, PGconn *dst, struct db_copy_counts *n) {
  char held[8] = "";
  if (pg_step(dst, "LOCK TABLE users, messages IN EXCLUSIVE MODE", NULL, 0) < 0 ||
      pg_step(dst, "SELECT EXISTS(SELECT 1 FROM users) OR EXISTS(SELECT 1 FROM messages)", held,
              sizeof(held)) < 0)
    return -EIO;
  if (held[0] != 'f')
    return -EEXIST;
  for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
    if (copy_rows(src, dst, &tables[i], (int64_t *)((char *)n + tables[i].count)) < 0)
      return -EIO;
  }
  /* New rows get ids past the copied ones; the first user stays the first. */
  return pg_step(dst,
                 "SELECT setval(pg_get_serial_sequence('users', 'id'), max(id)) FROM users "
                 "HAVING max(id) IS NOT NULL;"
                 "SELECT setval(pg_get_serial_sequence('messages', 'id'), max(id)) "
                 "FROM messages HAVING max(id) IS NOT NULL;"
                 "INSERT INTO first_user SELECT true WHERE EXISTS(SELECT 1 FROM users) "
                 "ON CONFLICT DO NOTHING",
                 NULL, 0);
}

int db_copy(struct db *from, struct db *to, struct db_copy_counts *n) {
  sqlite3 *src = db_sqlite_conn(from);
  PGconn *dst = db_pg_conn(to);
  if (src == NULL || dst == NULL)
    return -EINVAL;
  memset(n, 0, sizeof(*n));
  if (sqlite3_exec(src, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
    log_ev(LOG_ERROR, "copy failed", LOG_S("what", "BEGIN"), LOG_S("error", sqlite3_errmsg(src)));
    return -EIO;
  }
  /* The store's 5 s statement timeout is for the loop; a copy takes what
   * it takes. */
  int rc = pg_step(dst, "BEGIN; SET LOCAL statement_timeout = 0", NULL, 0);
  if (rc == 0)
    rc = copy_all(src, dst, n);
  if (rc == 0)
    rc = pg_step(dst, "COMMIT", NULL, 0);
  else
    PQclear(PQexec(dst, "ROLLBACK"));
  sqlite3_exec(src, "COMMIT", NULL, NULL, NULL); /* it only read */
  if (rc < 0)
    memset(n, 0, sizeof(*n));
  return rc;
}
