/* The store: users, sessions, OpenID identities, stream keys and chat
 * history. One interface, two implementations chosen at open:
 *
 *   db_open()           SQLite, one WAL-mode file (db_sqlite.c): one node;
 *   db_open_postgres()  PostgreSQL through libpq (db_pg.c): what the nodes
 *                       of a cluster share (docs/cluster.md).
 *
 * Every call is synchronous and runs on the loop thread: a single indexed
 * statement, prepared once at open. On PostgreSQL that is one round trip
 * per call, the loop blocked while it lasts. Measured on the 2-core test
 * machine (tests' server, busy): 40-50 us for a lookup over the local
 * socket or 127.0.0.1, 250-600 us for a chat message, whose commit waits
 * for the WAL to reach the disk; a server on the LAN adds its network
 * round trip to each. Blocking is chosen: every call site gets its answer
 * in line, as with SQLite, instead of each becoming a callback chain; the
 * cost is below a millisecond a call with a nearby server, and bounded
 * (a 5 s statement timeout) with a struggling one.
 * A lost PostgreSQL connection makes calls fail with -EIO until it is back
 * (db_open_postgres() says how). */
#ifndef ONAIR_DB_H
#define ONAIR_DB_H

#include <stddef.h>
#include <stdint.h>

#define DB_NAME_MAX 64  /* bytes in a stored display name, NUL excluded */
#define DB_HASH_MAX 160 /* bytes in an Argon2id string, NUL excluded */

struct db;

struct db_user {
  int64_t id;
  char name[DB_NAME_MAX + 1];
  char pwhash[DB_HASH_MAX + 1]; /* empty for users without a password; not in lists */
  int admin;                    /* may use /admin; the first user is */
  int disabled;                 /* may not sign in; sessions gone */
  int64_t created_ms;
};

typedef void (*db_user_cb)(const struct db_user *u, void *arg);

struct db_chat {
  int64_t id;
  const char *room; /* valid during the callback only */
  const char *user;
  const char *text;
  int64_t ts; /* ms since the epoch */
};

typedef void (*db_chat_cb)(const struct db_chat *msg, void *arg);

/* Opens (creating if needed) the SQLite database at path. Returns 0 or
 * -EIO; *out is the caller's, freed with db_close(). */
int db_open(struct db **out, const char *path);
/* Connects to PostgreSQL (conninfo: a libpq connection string or URL;
 * connect_timeout is 5 s unless it says otherwise), creates the schema or
 * applies the migrations it lacks (at most one node at a time: the others
 * wait, then find them applied) and prepares every statement. Returns 0 or
 * -EIO (logged, without conninfo: it may hold a password); *out is the
 * caller's, freed with db_close().
 *
 * Later, a call that finds the connection lost returns -EIO and logs that
 * once; each call made at least 1 s after the last attempt reconnects
 * (blocking for up to the connect timeout) and prepares again, so the store
 * recovers by itself when PostgreSQL is back. A call that failed is not
 * retried: whether it committed is unknown. */
int db_open_postgres(struct db **out, const char *conninfo);
/* "sqlite" or "postgres". */
const char *db_kind(const struct db *db);
/* Closes the store; NULL is fine. */
void db_close(struct db *db);

/* Creates a user. Returns 0 and sets *id, -EEXIST when the name is taken
 * (names compare case-insensitively), or -EIO. */
int db_user_create(struct db *db, const char *name, const char *pwhash, int64_t *id);
/* Finds a user by name (case-insensitively). Returns 0, -ENOENT or -EIO. */
int db_user_find(struct db *db, const char *name, struct db_user *out);
int db_user_get(struct db *db, int64_t id, struct db_user *out);
/* Sets a user's flag by name: 0, -ENOENT, or -EIO. */
int db_user_set_admin(struct db *db, const char *name, int admin);
int db_user_set_disabled(struct db *db, const char *name, int disabled);
/* Calls cb for the first `limit` users by name. */
int db_user_list(struct db *db, int limit, db_user_cb cb, void *arg);
/* Ends every session of a user. */
int db_session_delete_user(struct db *db, int64_t user_id);

/* Sessions are keyed by the SHA-256 of the cookie value, never the value. */
int db_session_put(struct db *db, const uint8_t hash[32], int64_t user_id, int64_t expires_ms);
/* Returns 0 and sets *user_id for a live session, -ENOENT, or -EIO. */
int db_session_get(struct db *db, const uint8_t hash[32], int64_t now_ms, int64_t *user_id);
int db_session_delete(struct db *db, const uint8_t hash[32]);
/* Deletes expired sessions; returns how many, or -EIO. */
int db_session_expire(struct db *db, int64_t now_ms);

/* A session that came from an OpenID provider keeps the ID token, for the
 * provider's logout (id_token_hint). */
int db_session_put_oidc(struct db *db, const uint8_t hash[32], int64_t user_id, int64_t expires_ms,
                        const char *id_token);
/* Copies the session's ID token; -ENOENT when it has none. */
int db_session_id_token(struct db *db, const uint8_t hash[32], char *out, size_t size);

/* Users who sign in with an OpenID provider are keyed by (issuer, sub). */
int db_identity_find(struct db *db, const char *issuer, const char *sub, int64_t *user_id);
int db_identity_add(struct db *db, const char *issuer, const char *sub, int64_t user_id);

/* Stream keys and watch tokens (auth/streamkey.h), by the SHA-256 of the
 * key, each kind in its table: one per user, a put replaces the user's
 * earlier key of that kind. */
enum db_key { DB_KEY_STREAM, DB_KEY_WATCH, DB_KEYS };
int db_key_put(struct db *db, enum db_key which, int64_t user_id, const uint8_t hash[32],
               int64_t created_ms);
/* 0 and *user_id for a key of an enabled user, -ENOENT, or -EIO. */
int db_key_find(struct db *db, enum db_key which, const uint8_t hash[32], int64_t *user_id);
int db_key_created(struct db *db, enum db_key which, int64_t user_id, int64_t *created_ms);
int db_key_delete(struct db *db, enum db_key which, int64_t user_id);

/* Appends a chat message (durable when this returns). Sets *id. */
int db_chat_append(struct db *db, const char *room, const char *user, const char *text, int64_t ts,
                   int64_t *id);
/* Calls cb for the room's last `limit` messages, oldest first. */
int db_chat_recent(struct db *db, const char *room, int limit, db_chat_cb cb, void *arg);

#endif
