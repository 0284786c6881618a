/* The store's insides: db.h's functions dispatch through a table of ops
 * that each implementation fills (db_sqlite.c, db_pg.c). An implementation
 * embeds struct db as a member of its own struct and recovers that with
 * container_of(). Only src/store/ and its tests include this. */
#ifndef ONAIR_DB_INT_H
#define ONAIR_DB_INT_H

#include "store/db.h"

struct sqlite3;
struct pg_conn; /* libpq's PGconn */

/* Each op has the contract of the db.h function of the same name. */
struct db_ops {
  const char *kind; /* "sqlite" or "postgres" */
  void (*close)(struct db *db);
  int (*user_create)(struct db *db, const char *name, const char *pwhash, int64_t *id);
  int (*user_find)(struct db *db, const char *name, struct db_user *out);
  int (*user_get)(struct db *db, int64_t id, struct db_user *out);
  int (*user_set_admin)(struct db *db, const char *name, int admin);
  int (*user_set_disabled)(struct db *db, const char *name, int disabled);
  int (*user_list)(struct db *db, int limit, db_user_cb cb, void *arg);
  int (*session_delete_user)(struct db *db, int64_t user_id);
  int (*session_put)(struct db *db, const uint8_t hash[32], int64_t user_id, int64_t expires_ms);
  int (*session_get)(struct db *db, const uint8_t hash[32], int64_t now_ms, int64_t *user_id);
  int (*session_delete)(struct db *db, const uint8_t hash[32]);
  int (*session_expire)(struct db *db, int64_t now_ms);
  int (*session_put_oidc)(struct db *db, const uint8_t hash[32], int64_t user_id,
                          int64_t expires_ms, const char *id_token);
  int (*session_id_token)(struct db *db, const uint8_t hash[32], char *out, size_t size);
  int (*identity_find)(struct db *db, const char *issuer, const char *sub, int64_t *user_id);
  int (*identity_add)(struct db *db, const char *issuer, const char *sub, int64_t user_id);
  int (*key_put)(struct db *db, enum db_key which, int64_t user_id, const uint8_t hash[32],
                 int64_t created_ms);
  int (*key_find)(struct db *db, enum db_key which, const uint8_t hash[32], int64_t *user_id);
  int (*key_created)(struct db *db, enum db_key which, int64_t user_id, int64_t *created_ms);
  int (*key_delete)(struct db *db, enum db_key which, int64_t user_id);
  int (*chat_append)(struct db *db, const char *room, const char *user, const char *text,
                     int64_t ts, int64_t *id);
  int (*chat_recent)(struct db *db, const char *room, int limit, db_chat_cb cb, void *arg);
};

struct db {
  const struct db_ops *ops; /* never NULL */
};

int db_sqlite_open(struct db **out, const char *path);
int db_pg_open(struct db **out, const char *conninfo);

/* The connection under a store of that kind, for db_copy.c; NULL when db
 * is of the other kind. The store still owns it. */
struct sqlite3 *db_sqlite_conn(struct db *db);
struct pg_conn *db_pg_conn(struct db *db);

#endif
