/* db.h's functions, each passed to the store that db was opened as: SQLite
 * (db_sqlite.c) or PostgreSQL (db_pg.c). */
#include "store/db.h"

#include <stddef.h>

#include "store/db_int.h"

int db_open(struct db **out, const char *path) { return db_sqlite_open(out, path); }

int db_open_postgres(struct db **out, const char *conninfo) { return db_pg_open(out, conninfo); }

const char *db_kind(const struct db *db) { return db->ops->kind; }

void db_close(struct db *db) {
  if (db != NULL)
    db->ops->close(db);
}

int db_user_create(struct db *db, const char *name, const char *pwhash, int64_t *id) {
  return db->ops->user_create(db, name, pwhash, id);
}

int db_user_find(struct db *db, const char *name, struct db_user *out) {
  return db->ops->user_find(db, name, out);
}

int db_user_get(struct db *db, int64_t id, struct db_user *out) {
  return db->ops->user_get(db, id, out);
}

int db_user_set_admin(struct db *db, const char *name, int admin) {
  return db->ops->user_set_admin(db, name, admin);
}

int db_user_set_disabled(struct db *db, const char *name, int disabled) {
  return db->ops->user_set_disabled(db, name, disabled);
}

int db_user_list(struct db *db, int limit, db_user_cb cb, void *arg) {
  return db->ops->user_list(db, limit, cb, arg);
}

int db_session_delete_user(struct db *db, int64_t user_id) {
  return db->ops->session_delete_user(db, user_id);
}

int db_session_put(struct db *db, const uint8_t hash[32], int64_t user_id, int64_t expires_ms) {
  return db->ops->session_put(db, hash, user_id, expires_ms);
}

int db_session_get(struct db *db, const uint8_t hash[32], int64_t now_ms, int64_t *user_id) {
  return db->ops->session_get(db, hash, now_ms, user_id);
}

int db_session_delete(struct db *db, const uint8_t hash[32]) {
  return db->ops->session_delete(db, hash);
}

int db_session_expire(struct db *db, int64_t now_ms) { return db->ops->session_expire(db, now_ms); }

int db_session_put_oidc(struct db *db, const uint8_t hash[32], int64_t user_id, int64_t expires_ms,
                        const char *id_token) {
  return db->ops->session_put_oidc(db, hash, user_id, expires_ms, id_token);
}

int db_session_id_token(struct db *db, const uint8_t hash[32], char *out, size_t size) {
  return db->ops->session_id_token(db, hash, out, size);
}

int db_identity_find(struct db *db, const char *issuer, const char *sub, int64_t *user_id) {
  return db->ops->identity_find(db, issuer, sub, user_id);
}

int db_identity_add(struct db *db, const char *issuer, const char *sub, int64_t user_id) {
  return db->ops->identity_add(db, issuer, sub, user_id);
}

int db_key_put(struct db *db, enum db_key which, int64_t user_id, const uint8_t hash[32],
               int64_t created_ms) {
  return db->ops->key_put(db, which, user_id, hash, created_ms);
}

int db_key_find(struct db *db, enum db_key which, const uint8_t hash[32], int64_t *user_id) {
  return db->ops->key_find(db, which, hash, user_id);
}

int db_key_created(struct db *db, enum db_key which, int64_t user_id, int64_t *created_ms) {
  return db->ops->key_created(db, which, user_id, created_ms);
}

int db_key_delete(struct db *db, enum db_key which, int64_t user_id) {
  return db->ops->key_delete(db, which, user_id);
}

int db_chat_append(struct db *db, const char *room, const char *user, const char *text, int64_t ts,
                   int64_t *id) {
  return db->ops->chat_append(db, room, user, text, ts, id);
}

int db_chat_recent(struct db *db, const char *room, int limit, db_chat_cb cb, void *arg) {
  return db->ops->chat_recent(db, room, limit, cb, arg);
}
