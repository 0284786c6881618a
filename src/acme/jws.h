/* The ACME account key and what is signed with it (RFC 8555 6.2 and 8.1):
 * an ES256 (P-256) key, kept as PEM; its public JWK and RFC 7638
 * thumbprint; requests as JWS in flattened JSON form (RFC 7515 7.2.2),
 * signed by cjose; key authorizations. OpenSSL makes and stores the key,
 * cjose signs: no hand-written crypto. */
#ifndef ONAIR_ACME_JWS_H
#define ONAIR_ACME_JWS_H

#include <cjose/jwk.h>
#include <openssl/evp.h>
#include <stddef.h>

#define ACME_THUMBPRINT_LEN 43 /* characters: base64url of a SHA-256 digest */
#define ACME_JWK_MAX 256       /* bytes of a P-256 public JWK in JSON, NUL included */

struct acme_key {
  EVP_PKEY *pkey;              /* owned: the key, for storing it */
  cjose_jwk_t *jwk;            /* owned: the same key, for signing */
  char jwk_json[ACME_JWK_MAX]; /* the public JWK {"crv","kty","x","y"} */
  char thumbprint[ACME_THUMBPRINT_LEN + 1];
};

/* A new P-256 key into k. Returns 0 or -ENOMEM / -EIO. */
int acme_key_generate(struct acme_key *k);
/* k from a PEM private key (len bytes). -EINVAL unless it is a P-256 key. */
int acme_key_load(struct acme_key *k, const char *pem, size_t len);
void acme_key_free(struct acme_key *k);

/* The PEM (PKCS #8) of a private key into *pem (caller frees; *len bytes,
 * NUL-terminated). Returns 0 or -ENOMEM. */
int acme_pkey_pem(EVP_PKEY *pkey, char **pem, size_t *len);
/* A new P-256 key, or NULL. */
EVP_PKEY *acme_pkey_new(void);

/* The RFC 7638 thumbprint (SHA-256, base64url) of a public JWK in JSON:
 * the required members only (EC: crv, kty, x, y; RSA: e, kty, n), in
 * lexicographic order, no white space. Returns 0 or -EINVAL. */
int acme_jwk_thumbprint(const char *jwk_json, size_t len, char out[ACME_THUMBPRINT_LEN + 1]);

/* A request body: the flattened JWS JSON of payload (NULL: "", a
 * POST-as-GET) with the protected header {alg: ES256, nonce, url} and kid
 * (the account URL), or the public JWK when kid is NULL (new account).
 * Returns a string the caller frees, or NULL. */
char *acme_jws(const struct acme_key *k, const char *url, const char *nonce, const char *kid,
               const char *payload);

/* token "." thumbprint into out (RFC 8555 8.1). Returns 0 or -ENOBUFS. */
int acme_key_authorization(const char *token, const char *thumbprint, char *out, size_t size);

/* base64url without padding of len bytes into a new string, or NULL. */
char *acme_b64url(const unsigned char *data, size_t len);

#endif
