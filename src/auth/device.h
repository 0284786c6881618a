/* Device cookies (OWASP, "Slow down online guessing attacks with device
 * cookies"): a browser that signed in as a user gets a cookie naming that
 * user, signed with the server's device key. Sign-ins from it are exempt
 * from the per-name throttle that slows an attacker guessing from many
 * addresses, so a name under attack slows the attacker, not its owner.
 * Value: "<nonce>.<mac>", both base64url; the MAC (HMAC-SHA-256, cut to
 * 128 bits) covers the lowercased name and the nonce. */
#ifndef ONAIR_DEVICE_H
#define ONAIR_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#define DEVICE_KEY_BYTES 32
#define DEVICE_NONCE_LEN 22  /* base64url of 16 bytes */
#define DEVICE_COOKIE_LEN 45 /* nonce, '.', base64url of 16 bytes */
#define DEVICE_COOKIE_MAX_AGE_S (365 * 24 * 3600)

/* Reads the key from path, or makes a new random one there (0600) when
 * the file does not exist. Returns 0 or a negative errno. */
int device_key_load(const char *path, uint8_t key[DEVICE_KEY_BYTES]);
/* A new cookie value for name (any case). */
void device_cookie_make(const uint8_t key[DEVICE_KEY_BYTES], const char *name, size_t name_len,
                        char out[DEVICE_COOKIE_LEN + 1]);
/* 0 when value is a cookie made for name (any case) with key, and its
 * nonce (names the device in throttle keys) is copied to nonce; else -1. */
int device_cookie_check(const uint8_t key[DEVICE_KEY_BYTES], const char *name, size_t name_len,
                        const char *value, char nonce[DEVICE_NONCE_LEN + 1]);

#endif
