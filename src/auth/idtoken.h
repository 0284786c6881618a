/* OpenID Connect ID token checks (OIDC Core 3.1.3.7), done here rather than
 * left to a library's defaults: the algorithm comes from an allow-list
 * (RS256, PS256, ES256; never none or HS*), the key must be of the family
 * the algorithm names, the signature is verified with cjose against the key
 * the kid names, and iss, aud, azp, exp, iat, nbf and nonce are compared
 * with what the relying party expects. */
#ifndef ONAIR_IDTOKEN_H
#define ONAIR_IDTOKEN_H

#include <cjose/jwk.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define IDTOKEN_MAX_BYTES (16 * 1024)

enum idtoken_error {
  IDT_OK = 0,
  IDT_BAD_TOKEN, /* not a compact JWS with JSON header and claims */
  IDT_BAD_ALG,   /* alg not allowed, or the key is of another family */
  IDT_BAD_KID,   /* no key with that kid */
  IDT_BAD_SIGNATURE,
  IDT_BAD_ISS,
  IDT_BAD_AUD, /* aud lacks the client, or azp is not the client */
  IDT_EXPIRED, /* exp passed, or iat/nbf in the future (beyond skew) */
  IDT_BAD_NONCE,
};

struct idtoken_expect {
  const char *issuer;
  const char *client_id;
  const char *nonce;
  int64_t now;  /* seconds since the epoch */
  int64_t skew; /* seconds of clock difference tolerated */
};

/* Reads the protected header. Returns IDT_OK with alg and kid ("" when the
 * header has none) copied out, IDT_BAD_TOKEN or IDT_BAD_ALG. */
int idtoken_header(const char *jwt, size_t len, char alg[16], char kid[128]);

/* Verifies jwt with key and checks its claims. On IDT_OK, *claims holds the
 * claims (caller json_decref()s). */
int idtoken_verify(const char *jwt, size_t len, const cjose_jwk_t *key,
                   const struct idtoken_expect *expect, json_t **claims);

/* Whether key may verify alg (RSA for RS256/PS256, EC P-256 for ES256). */
int idtoken_key_fits(const cjose_jwk_t *key, const char *alg);

/* The failure code of docs/protocol.md ("bad_alg", ...). */
const char *idtoken_error_code(int err);

#endif
