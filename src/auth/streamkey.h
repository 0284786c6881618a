/* Stream keys: what an encoder (OBS, GStreamer) proves its user with when it
 * publishes over WHIP (docs/obs.md). A key is "sk_" and 256 random bits in
 * base64url; onair keeps only its SHA-256, one key per user: a new key
 * replaces the old one at once. It is shown once, when made. */
#ifndef ONAIR_STREAMKEY_H
#define ONAIR_STREAMKEY_H

#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

#define STREAMKEY_PREFIX "sk_"
#define STREAMKEY_LEN 46 /* "sk_" and 43 base64url characters */

/* Makes user_id a new key (the old one stops working) and writes it, NUL
 * terminated, to key. Returns 0 or -EIO. */
int streamkey_new(struct db *db, int64_t user_id, char key[STREAMKEY_LEN + 1], int64_t *created_ms);
/* Whose key it is: 0 with *user_id, -ENOENT (malformed, unknown or
 * replaced; malformed keys are refused before the database is asked) or
 * -EIO. key need not be NUL terminated. */
int streamkey_user(struct db *db, const char *key, size_t len, int64_t *user_id);
/* When user_id's key was made: 0 with *created_ms, -ENOENT (none) or -EIO. */
int streamkey_info(struct db *db, int64_t user_id, int64_t *created_ms);
/* user_id has no key any more. */
int streamkey_revoke(struct db *db, int64_t user_id);

#endif
