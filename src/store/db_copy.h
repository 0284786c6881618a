/* Moving a one-node data directory into the cluster's PostgreSQL: every row
 * of a SQLite store copied into a PostgreSQL store (tools/migrate.c, the
 * onair-migrate program). */
#ifndef ONAIR_DB_COPY_H
#define ONAIR_DB_COPY_H

#include <stdint.h>

#include "store/db.h"

/* Rows copied, per table. */
struct db_copy_counts {
  int64_t users, sessions, identities, stream_keys, watch_tokens, messages;
};

/* Copies every user (id, password hash, flags, creation time), session,
 * OpenID identity, stream key, watch token and chat message (id kept) of
 * from, a SQLite store, into to, a PostgreSQL store (db_open_postgres():
 * its schema is current), in one transaction of each, and moves to's id
 * sequences past the copied ids. Nothing else may add users or messages to
 * to meanwhile (its tables are locked: a node's sign-up waits). Returns 0
 * and fills *n; -EEXIST when to already holds users or chat messages
 * (nothing is copied: a second run duplicates nothing); -EINVAL when the
 * stores are not of those kinds; -EIO (logged; nothing is copied). */
int db_copy(struct db *from, struct db *to, struct db_copy_counts *n);

#endif
