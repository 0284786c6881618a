/* db.h's store on SQLite: one WAL-mode file, every statement prepared once
 * at open. */
#include <assert.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db_int.h"
#include "util/container_of.h"
#include "util/log.h"

enum db_stmt {
  ST_USER_CREATE,
  ST_USER_FIND,
  ST_USER_GET,
  ST_SESSION_PUT,
  ST_SESSION_GET,
  ST_SESSION_DELETE,
  ST_SESSION_EXPIRE,
  ST_CHAT_APPEND,
  ST_CHAT_RECENT,
  ST_IDENTITY_FIND,
  ST_IDENTITY_ADD,
  ST_SESSION_PUT_OIDC,
  ST_SESSION_ID_TOKEN,
  ST_USER_SET_ADMIN,
  ST_USER_SET_DISABLED,
  ST_USER_LIST,
  ST_SESSION_DELETE_USER,
  ST_STREAMKEY_PUT,
  ST_STREAMKEY_FIND,
  ST_STREAMKEY_CREATED,
  ST_STREAMKEY_DELETE,
  ST_WATCHTOKEN_PUT, /* the same four for watch tokens, in the same order */
  ST_WATCHTOKEN_FIND,
  ST_WATCHTOKEN_CREATED,
  ST_WATCHTOKEN_DELETE,
  ST_COUNT,
};

static const char *const stmt_sql[ST_COUNT] = {
    /* The first user is the admin. */
    [ST_USER_CREATE] = "INSERT INTO users(name, pwhash, created, admin) VALUES(?1, ?2, "
                       "CAST(strftime('%s','now') AS INTEGER) * 1000, "
                       "(SELECT COUNT(*) = 0 FROM users))",
    [ST_USER_FIND] = "SELECT id, name, pwhash, admin, disabled, created FROM users WHERE name = ?1",
    [ST_USER_GET] = "SELECT id, name, pwhash, admin, disabled, created FROM users WHERE id = ?1",
    [ST_SESSION_PUT] = "INSERT INTO sessions(hash, user_id, expires) VALUES(?1, ?2, ?3)",
    [ST_SESSION_GET] = "SELECT user_id FROM sessions WHERE hash = ?1 AND expires > ?2",
    [ST_SESSION_DELETE] = "DELETE FROM sessions WHERE hash = ?1",
    [ST_SESSION_EXPIRE] = "DELETE FROM sessions WHERE expires <= ?1",
    [ST_CHAT_APPEND] = "INSERT INTO messages(room, user, text, ts) VALUES(?1, ?2, ?3, ?4)",
    [ST_CHAT_RECENT] = "SELECT id, room, user, text, ts FROM (SELECT * FROM messages "
                       "WHERE room = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id",
    [ST_IDENTITY_FIND] = "SELECT user_id FROM identities WHERE issuer = ?1 AND sub = ?2",
    [ST_IDENTITY_ADD] = "INSERT INTO identities(issuer, sub, user_id) VALUES(?1, ?2, ?3)",
    [ST_SESSION_PUT_OIDC] = "INSERT INTO sessions(hash, user_id, expires, id_token) "
                            "VALUES(?1, ?2, ?3, ?4)",
    [ST_SESSION_ID_TOKEN] =
        "SELECT id_token FROM sessions WHERE hash = ?1 AND id_token IS NOT NULL",
    [ST_USER_SET_ADMIN] = "UPDATE users SET admin = ?2 WHERE name = ?1",
    [ST_USER_SET_DISABLED] = "UPDATE users SET disabled = ?2 WHERE name = ?1",
    [ST_USER_LIST] = "SELECT id, name, '', admin, disabled, created FROM users ORDER BY name "
                     "COLLATE NOCASE LIMIT ?1",
    [ST_SESSION_DELETE_USER] = "DELETE FROM sessions WHERE user_id = ?1",
    [ST_STREAMKEY_PUT] = "INSERT INTO stream_keys(user_id, hash, created) VALUES(?1, ?2, ?3) "
                         "ON CONFLICT(user_id) DO UPDATE SET hash = excluded.hash, "
                         "created = excluded.created",
    [ST_STREAMKEY_FIND] = "SELECT k.user_id FROM stream_keys k JOIN users u ON u.id = k.user_id "
                          "WHERE k.hash = ?1 AND u.disabled = 0",
    [ST_STREAMKEY_CREATED] = "SELECT created FROM stream_keys WHERE user_id = ?1",
    [ST_STREAMKEY_DELETE] = "DELETE FROM stream_keys WHERE user_id = ?1",
    [ST_WATCHTOKEN_PUT] = "INSERT INTO watch_tokens(user_id, hash, created) VALUES(?1, ?2, ?3) "
                          "ON CONFLICT(user_id) DO UPDATE SET hash = excluded.hash, "
                          "created = excluded.created",
    [ST_WATCHTOKEN_FIND] = "SELECT k.user_id FROM watch_tokens k JOIN users u ON u.id = k.user_id "
                           "WHERE k.hash = ?1 AND u.disabled = 0",
    [ST_WATCHTOKEN_CREATED] = "SELECT created FROM watch_tokens WHERE user_id = ?1",
    [ST_WATCHTOKEN_DELETE] = "DELETE FROM watch_tokens WHERE user_id = ?1",
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;" /* WAL + NORMAL: a commit survives a process crash */
    "PRAGMA foreign_keys=ON;"
    "CREATE TABLE IF NOT EXISTS users("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    "  pwhash TEXT NOT NULL DEFAULT '',"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sessions("
    "  hash BLOB PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  expires INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS messages("
    "  id INTEGER PRIMARY KEY,"
    "  room TEXT NOT NULL COLLATE NOCASE,"
    "  user TEXT NOT NULL,"
    "  text TEXT NOT NULL,"
    "  ts INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS messages_room ON messages(room, id);"
    "CREATE TABLE IF NOT EXISTS identities("
    "  issuer TEXT NOT NULL,"
    "  sub TEXT NOT NULL,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  PRIMARY KEY(issuer, sub));";

/* Columns added after the first schema, for databases that predate them. */
static const char *const migrations[] = {
    "ALTER TABLE sessions ADD COLUMN id_token TEXT",
    /* An existing database's first user becomes its admin. */
    "ALTER TABLE users ADD COLUMN admin INTEGER NOT NULL DEFAULT 0; "
    "UPDATE users SET admin = 1 WHERE id = (SELECT MIN(id) FROM users)",
    "ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0",
    /* WHIP's stream keys: a user's one key, by its SHA-256. */
    "CREATE TABLE stream_keys("
    "  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
    "  hash BLOB NOT NULL UNIQUE,"
    "  created INTEGER NOT NULL)",
    /* WHEP's watch tokens, the same way. */
    "CREATE TABLE watch_tokens("
    "  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
    "  hash BLOB NOT NULL UNIQUE,"
    "  created INTEGER NOT NULL)",
};

struct db_sqlite {
  struct db base;
  sqlite3 *conn;
  sqlite3_stmt *st[ST_COUNT];
};

static const struct db_ops sqlite_ops;

static struct db_sqlite *sq(struct db *base) {
  assert(base->ops == &sqlite_ops);
  return container_of(base, struct db_sqlite, base);
}

static int sq_fail(struct db_sqlite *db, const char *what) {
  log_ev(LOG_ERROR, "sqlite failed", LOG_S("what", what), LOG_S("error", sqlite3_errmsg(db->conn)));
  return -EIO;
}

/* PRAGMA user_version counts the migrations applied. */
static int sq_migrate(struct db_sqlite *db) {
  sqlite3_stmt *st;
  int version = 0;
  if (sqlite3_prepare_v2(db->conn, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
    return sq_fail(db, "user_version");
  if (sqlite3_step(st) == SQLITE_ROW)
    version = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  int count = (int)(sizeof(migrations) / sizeof(migrations[0]));
  for (int v = version; v < count; v++) {
    /* Each step and its version bump commit together, or not at all. */
    char sql[512];
    snprintf(sql, sizeof(sql), "BEGIN; %s; PRAGMA user_version = %d; COMMIT;", migrations[v],
             v + 1);
    if (sqlite3_exec(db->conn, sql, NULL, NULL, NULL) != SQLITE_OK) {
      int rc = sq_fail(db, "migration");
      sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
      return rc;
    }
  }
  return 0;
}

static void sq_close(struct db *base) {
  struct db_sqlite *db = sq(base);
  for (int i = 0; i < ST_COUNT; i++)
    sqlite3_finalize(db->st[i]);
  sqlite3_close(db->conn);
  free(db);
}

int db_sqlite_open(struct db **out, const char *path) {
  struct db_sqlite *db = calloc(1, sizeof(*db));
  if (db == NULL)
    return -ENOMEM;
  db->base.ops = &sqlite_ops;
  int rc = sqlite3_open_v2(path, &db->conn,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    goto out_fail;
  sqlite3_busy_timeout(db->conn, 2000);
  char *err = NULL;
  if (sqlite3_exec(db->conn, schema, NULL, NULL, &err) != SQLITE_OK) {
    log_ev(LOG_ERROR, "sqlite schema failed", LOG_S("error", err ? err : "?"));
    sqlite3_free(err);
    goto out_close;
  }
  if (sq_migrate(db) < 0)
    goto out_close;
  for (int i = 0; i < ST_COUNT; i++) {
    if (sqlite3_prepare_v3(db->conn, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &db->st[i],
                           NULL) != SQLITE_OK)
      goto out_fail;
  }
  *out = &db->base;
  return 0;

out_fail:
  log_ev(LOG_ERROR, "sqlite open failed", LOG_S("path", path),
         LOG_S("error", db->conn ? sqlite3_errmsg(db->conn) : "no memory"));
out_close:
  sq_close(&db->base);
  return -EIO;
}

/* Runs a prepared statement that returns no rows. */
static int sq_exec(struct db_sqlite *db, sqlite3_stmt *st, const char *what) {
  int rc = sqlite3_step(st);
  int ok = rc == SQLITE_DONE;
  int constraint = rc == SQLITE_CONSTRAINT;
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (constraint)
    return -EEXIST;
  return ok ? 0 : sq_fail(db, what);
}

static int sq_user_create(struct db *base, const char *name, const char *pwhash, int64_t *id) {
  struct db_sqlite *db = sq(base);
  sqlite3_stmt *st = db->st[ST_USER_CREATE];
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, pwhash, -1, SQLITE_STATIC);
  int rc = sq_exec(db, st, "user create");
  if (rc == 0)
    *id = sqlite3_last_insert_rowid(db->conn);
  return rc;
}

static void sq_user_columns(sqlite3_stmt *st, struct db_user *out) {
  out->id = sqlite3_column_int64(st, 0);
  snprintf(out->name, sizeof(out->name), "%s", (const char *)sqlite3_column_text(st, 1));
  snprintf(out->pwhash, sizeof(out->pwhash), "%s", (const char *)sqlite3_column_text(st, 2));
  out->admin = sqlite3_column_int(st, 3) != 0;
  out->disabled = sqlite3_column_int(st, 4) != 0;
  out->created_ms = sqlite3_column_int64(st, 5);
}

static int sq_user_row(struct db_sqlite *db, sqlite3_stmt *st, struct db_user *out) {
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    sq_user_columns(st, out);
    rc = 0;
  } else if (rc == SQLITE_DONE) {
    rc = -ENOENT;
  } else {
    rc = sq_fail(db, "user lookup");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc;
}

static int sq_user_find(struct db *base, const char *name, struct db_user *out) {
  struct db_sqlite *db = sq(base);
  sqlite3_stmt *st = db->st[ST_USER_FIND];
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  return sq_user_row(db, st, out);
}

static int sq_user_get(struct db *base, int64_t id, struct db_user *out) {
  struct db_sqlite *db = sq(base);
  sqlite3_stmt *st = db->st[ST_USER_GET];
  sqlite3_bind_int64(st, 1, id);
  return sq_user_row(db, st, out);
}

static int sq_session_put(struct db *base, const uint8_t hash[32], int64_t user_id,
                          int64_t expires_ms) {
  struct db_sqlite *db = sq(base);
  sqlite3_stmt *st = db->st[ST_SESSION_PUT];
  sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, user_id);
  sqlite3_bind_int64(st, 3, expires_ms);
  return sq_exec(db, st, "session put");
}

/* Steps st for one integer column: 0 with *out, -ENOENT or -EIO. */
static int sq_int_row(struct db_sqlite *db, sqlite3_stmt *st, const char *what, int64_t *out) {
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_int64(st, 0);
    rc = 0;
  } else if (rc == SQLITE_DONE) {
    rc = -ENOENT;
  } else {
    rc = sq_fail(db, what);
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc;
}

static int sq_session_get(struct db *base, const uint8_t hash[32], int64_t now_ms,
                          int64_t *user_id) {
  struct db_sqlite *db = sq(base);
  sqlite3_stmt *st = db->st[ST_SESSION_GET];
  sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, now_ms);
  return sq_int_row(db, st, "session get", user_id);
}

static int sq_session_delete(struct db *base, const uint8_t hash[32]) {
  struct db_sqlite *db = sq(base);
  sqlite3_stmt *st = db->st[ST_SESSION_DELETE];
  sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
  return sq_exec(db, st, "session delete");
}

/* The statement of op (ST_STREAMKEY_PUT ... ST_STREAMKEY_DELETE) for which
 * kind of key. */
static sqlite3_stmt *sq_key_st(struct db_sqlite *db, enum db_key which, enum db_stmt op) {
  return db->st[op + (ST_WATCHTOKEN_PUT - ST_STREAMKEY_PUT) * (which == DB_KEY_WATCH)];
}

static int sq_key_put(struct db *base, enum db_key which, int64_t user_id, const uint8_t hash[32],
                      int64_t created_ms) {
  struct db_sqlite *db = sq(base);
  sqlite3_stmt *st = sq_key_st(db, which, ST_STREAMKEY_PUT);
  sqlite3_bind_int64(st, 1, user_id);
  sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, created_ms);
  return sq_exec(db, st, "key put");
}

static int sq_key_find(struct db *base, enum db_key which, const uint8_t hash[32],
                       int64_t *user_id) {
  struct db_sqlite *db = sq(base);
  sqlite3_stmt *st = sq_key_st(db, which, ST_STREAMKEY_FIND);
  sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
  return sq_int_row(db, st, "key find", user_id);
}

static int sq_key_created(struct db *base, enum db_key which, int64_t user_id,
                          int64_t *created_ms) {
  struct db_sqlite *db = sq(base);
  sqlite3_stmt *st = sq_key_st(db, which, ST_STREAMKEY_CREATED);
  sqlite3_bind_int64(st, 1, user_id);
  return sq_int_row(db, st, "key created", created_ms);
}

static int sq_key_delete(struct db *base, enum db_key which, int64_t user_id) {
  struct db_sqlite *db = sq(base);
  sqlite3_stmt *st = sq_key_st(db, which, ST_STREAMKEY_DELETE);
  sqlite3_bind_int64(st, 1, user_id);
  return sq_exec(db, st, "key delete");
}

static int sq_session_expire(struct db *base, int64_t now_ms) {
  struct db_sqlite *db = sq(base);
  sqlite3_stmt *st = db->st[ST_SESSION_EXPIRE];
  sqlite3_bind_int64(st, 1, now_ms);
  int rc = sq_exec(db, st, "session expire");
  return rc < 0 ? rc : sqlite3_changes(db->conn);
}

static int sq_chat_append(struct db *base, const char *room, const char *user, const char *text,
                          int64_t ts, int64_t *id) {
  struct db_sqlite *db = sq(base);
  sqlite3_stmt *st = db->st[ST_CHAT_APPEND];
  sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, ts);
  int rc = sq_exec(db, st, "chat append");
  if (rc == 0)
    *id = sqlite3_last_insert_rowid(db->conn);
  return rc;
}

static int sq_chat_recent(struct db *base, const char *room, int limit, db_chat_cb cb, void *arg) {
  struct db_sqlite *db = sq(base);
  sqlite3_stmt *st = db->st[ST_CHAT_RECENT];
  sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, limit);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct db_chat m = {
        .id = sqlite3_column_int64(st, 0),
        .room = (const char *)sqlite3_column_text(st, 1),
        .user = (const char *)sqlite3_column_text(st, 2),
        .text = (const char *)sqlite3_column_text(st, 3),
        .ts = sqlite3_column_int64(st, 4),
    };
    cb(&m, arg);
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? 0 : sq_fail(db, "chat recent");
}

static int sq_identity_find(struct db *base, const char *issuer, const char *sub,
                            int64_t *user_id) {
  struct db_sqlite *db = sq(base);
  sqlite3_stmt *st = db->st[ST_IDENTITY_FIND];
  sqlite3_bind_text(st, 1, issuer, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, sub, -1, SQLITE_STATIC);
  return sq_int_row(db, st, "identity find", user_id);
}

static int sq_identity_add(struct db *base, const char *issuer, const char *sub, int64_t user_id) {
  struct db_sqlite *db = sq(base);
  sqlite3_stmt *st = db->st[ST_IDENTITY_ADD];
  sqlite3_bind_text(st, 1, issuer, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, sub, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, user_id);
  return sq_exec(db, st, "identity add");
}

static int sq_session_put_oidc(struct db *base, const uint8_t hash[32], int64_t user_id,
                               int64_t expires_ms, const char *id_token) {
  struct db_sqlite *db = sq(base);
  sqlite3_stmt *st = db->st[ST_SESSION_PUT_OIDC];
  sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, user_id);
  sqlite3_bind_int64(st, 3, expires_ms);
  sqlite3_bind_text(st, 4, id_token, -1, SQLITE_STATIC);
  return sq_exec(db, st, "session put");
}

static int sq_session_id_token(struct db *base, const uint8_t hash[32], char *out, size_t size) {
  struct db_sqlite *db = sq(base);
  sqlite3_stmt *st = db->st[ST_SESSION_ID_TOKEN];
  sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    const char *t = (const char *)sqlite3_column_text(st, 0);
    rc = t && strlen(t) < size ? 0 : -ENOBUFS;
    if (rc == 0)
      memcpy(out, t, strlen(t) + 1);
  } else {
    rc = rc == SQLITE_DONE ? -ENOENT : sq_fail(db, "session id_token");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc;
}

/* An UPDATE of one user by name: 0, -ENOENT when no such user, -EIO. */
static int sq_user_update(struct db_sqlite *db, enum db_stmt which, const char *name, int value) {
  sqlite3_stmt *st = db->st[which];
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, value);
  int rc = sq_exec(db, st, "user update");
  if (rc == 0 && sqlite3_changes(db->conn) == 0)
    rc = -ENOENT;
  return rc;
}

static int sq_user_set_admin(struct db *base, const char *name, int admin) {
  struct db_sqlite *db = sq(base);
  return sq_user_update(db, ST_USER_SET_ADMIN, name, admin != 0);
}

static int sq_user_set_disabled(struct db *base, const char *name, int disabled) {
  struct db_sqlite *db = sq(base);
  return sq_user_update(db, ST_USER_SET_DISABLED, name, disabled != 0);
}

static int sq_user_list(struct db *base, int limit, db_user_cb cb, void *arg) {
  struct db_sqlite *db = sq(base);
  sqlite3_stmt *st = db->st[ST_USER_LIST];
  sqlite3_bind_int(st, 1, limit);
  int rc;
  struct db_user u;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    sq_user_columns(st, &u);
    cb(&u, arg);
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? 0 : sq_fail(db, "user list");
}

static int sq_session_delete_user(struct db *base, int64_t user_id) {
  struct db_sqlite *db = sq(base);
  sqlite3_stmt *st = db->st[ST_SESSION_DELETE_USER];
  sqlite3_bind_int64(st, 1, user_id);
  return sq_exec(db, st, "session delete user");
}

static const struct db_ops sqlite_ops = {
    .kind = "sqlite",
    .close = sq_close,
    .user_create = sq_user_create,
    .user_find = sq_user_find,
    .user_get = sq_user_get,
    .user_set_admin = sq_user_set_admin,
    .user_set_disabled = sq_user_set_disabled,
    .user_list = sq_user_list,
    .session_delete_user = sq_session_delete_user,
    .session_put = sq_session_put,
    .session_get = sq_session_get,
    .session_delete = sq_session_delete,
    .session_expire = sq_session_expire,
    .session_put_oidc = sq_session_put_oidc,
    .session_id_token = sq_session_id_token,
    .identity_find = sq_identity_find,
    .identity_add = sq_identity_add,
    .key_put = sq_key_put,
    .key_find = sq_key_find,
    .key_created = sq_key_created,
    .key_delete = sq_key_delete,
    .chat_append = sq_chat_append,
    .chat_recent = sq_chat_recent,
};

struct sqlite3 *db_sqlite_conn(struct db *db) {
  return db->ops == &sqlite_ops ? sq(db)->conn : NULL;
}
