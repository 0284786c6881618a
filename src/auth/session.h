/* Sign-in sessions: a cookie carries 128 random bits (22 base64url
 * characters); the database keeps only their SHA-256, so a copy of the
 * database signs nobody in. */
#ifndef ONAIR_SESSION_H
#define ONAIR_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

#define SESSION_COOKIE "onair_session"
#define SESSION_TOKEN_LEN 22

/* Creates a session for user_id lasting ttl_ms; writes the token (22 chars
 * and a NUL) to token. Returns 0 or -EIO. */
int session_create(struct db *db, int64_t user_id, int64_t ttl_ms,
                   char token[SESSION_TOKEN_LEN + 1]);
/* The same for a sign-in through an OpenID provider: id_token is kept for
 * the provider's logout. */
int session_create_oidc(struct db *db, int64_t user_id, int64_t ttl_ms, const char *id_token,
                        char token[SESSION_TOKEN_LEN + 1]);
/* Copies the ID token of an OpenID session; -ENOENT for other sessions. */
int session_id_token(struct db *db, const char *token, char *out, size_t size);
/* Finds the user of a live session. Returns 0, -ENOENT (unknown, expired or
 * malformed token) or -EIO. */
int session_lookup(struct db *db, const char *token, int64_t *user_id);
/* Ends a session; unknown tokens are fine. */
int session_destroy(struct db *db, const char *token);
/* 1 if token has the shape of one of ours. */
int session_token_ok(const char *token);

int64_t session_now_ms(void);

#endif
