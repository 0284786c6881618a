/* Short-lived TURN credentials for browsers, in the TURN REST scheme that
 * coturn checks with its static-auth-secret: the username is
 * "<expiry, seconds since the epoch>:<onair user>" and the password is
 * base64(HMAC-SHA1(secret, username)). The server and onair share only the
 * secret; nothing is stored. */
#ifndef ONAIR_TURN_H
#define ONAIR_TURN_H

#include <stddef.h>
#include <stdint.h>

#define TURN_USERNAME_MAX 96   /* bytes, NUL included */
#define TURN_CREDENTIAL_MAX 32 /* base64 of 20 bytes, NUL included */

/* Credentials for user valid until now_s + ttl_s. Returns 0 or -EINVAL
 * (a user name that does not fit, an empty secret). */
int turn_credentials(const char *secret, const char *user, uint64_t now_s, uint64_t ttl_s,
                     char username[TURN_USERNAME_MAX], char credential[TURN_CREDENTIAL_MAX]);

/* 0 if text is a list (spaces or commas) of turn:, turns: or stun: URLs,
 * else -EINVAL. "" is the empty list. */
int turn_urls_check(const char *text);

#endif
