/* Keys a user hands to software that is not a browser, each proving who it
 * acts for (docs/obs.md):
 *   stream keys ("sk_"): an encoder (OBS, GStreamer) publishes the user's
 *     room over WHIP with one;
 *   watch tokens ("wt_"): a WHEP player watches the user's room with one,
 *     without an account.
 * A key is its prefix and 256 random bits in base64url; onair keeps only its
 * SHA-256, one key of each kind per user: a new key replaces the old one at
 * once. It is shown once, when made. */
#ifndef ONAIR_STREAMKEY_H
#define ONAIR_STREAMKEY_H

#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

#define STREAMKEY_LEN 46 /* the prefix and 43 base64url characters */

enum key_kind { KEY_STREAM = DB_KEY_STREAM, KEY_WATCH = DB_KEY_WATCH };

/* Makes user_id a new key of kind (the old one stops working) and writes
 * it, NUL terminated, to key. Returns 0 or -EIO. */
int streamkey_new(struct db *db, enum key_kind kind, int64_t user_id, char key[STREAMKEY_LEN + 1],
                  int64_t *created_ms);
/* Whose key of kind it is: 0 with *user_id, -ENOENT (malformed, of another
 * kind, unknown or replaced; malformed keys are refused before the database
 * is asked) or -EIO. key need not be NUL terminated. */
int streamkey_user(struct db *db, enum key_kind kind, const char *key, size_t len,
                   int64_t *user_id);
/* When user_id's key of kind was made: 0 with *created_ms, -ENOENT (none)
 * or -EIO. */
int streamkey_info(struct db *db, enum key_kind kind, int64_t user_id, int64_t *created_ms);
/* user_id has no key of kind any more. */
int streamkey_revoke(struct db *db, enum key_kind kind, int64_t user_id);

#endif
