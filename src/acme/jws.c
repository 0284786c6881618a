#include "acme/jws.h"

#include <cjose/header.h>
#include <cjose/jws.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/msg.h"

#define P256_BYTES 32

char *acme_b64url(const unsigned char *data, size_t len) {
  size_t size = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  char *out = malloc(size);
  if (out)
    sodium_bin2base64(out, size, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return out;
}

EVP_PKEY *acme_pkey_new(void) {
  EVP_PKEY *p = EVP_EC_gen("P-256");
  ERR_clear_error();
  return p;
}

int acme_pkey_pem(EVP_PKEY *pkey, char **pem, size_t *len) {
  BIO *b = BIO_new(BIO_s_mem());
  char *data;
  int rc = -ENOMEM;
  *pem = NULL;
  if (b && PEM_write_bio_PrivateKey(b, pkey, NULL, NULL, 0, NULL, NULL) == 1) {
    long n = BIO_get_mem_data(b, &data);
    if (n > 0 && (*pem = malloc((size_t)n + 1)) != NULL) {
      memcpy(*pem, data, (size_t)n);
      (*pem)[n] = 0;
      *len = (size_t)n;
      rc = 0;
    }
  }
  BIO_free(b);
  ERR_clear_error();
  return rc;
}

/* A P-256 coordinate or scalar of pkey, as 32 big-endian bytes. */
static int p256_param(EVP_PKEY *pkey, const char *name, unsigned char out[P256_BYTES]) {
  BIGNUM *bn = NULL;
  int ok = EVP_PKEY_get_bn_param(pkey, name, &bn) == 1 && BN_bn2binpad(bn, out, P256_BYTES) > 0;
  BN_clear_free(bn);
  return ok ? 0 : -EINVAL;
}

/* k->jwk, jwk_json and thumbprint from k->pkey (a P-256 key). */
static int key_derive(struct acme_key *k) {
  unsigned char x[P256_BYTES], y[P256_BYTES], d[P256_BYTES];
  int rc = -EINVAL;
  if (p256_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, x) < 0 ||
      p256_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, y) < 0 ||
      p256_param(k->pkey, OSSL_PKEY_PARAM_PRIV_KEY, d) < 0)
    goto out;
  cjose_jwk_ec_keyspec spec = {.crv = CJOSE_JWK_EC_P_256,
                               .d = d,
                               .dlen = P256_BYTES,
                               .x = x,
                               .xlen = P256_BYTES,
                               .y = y,
                               .ylen = P256_BYTES};
  cjose_err err;
  if ((k->jwk = cjose_jwk_create_EC_spec(&spec, &err)) == NULL)
    goto out;
  char *bx = acme_b64url(x, P256_BYTES), *by = acme_b64url(y, P256_BYTES);
  if (bx && by)
    snprintf(k->jwk_json, sizeof(k->jwk_json),
             "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", bx, by);
  free(bx);
  free(by);
  if (!bx || !by)
    goto out;
  rc = acme_jwk_thumbprint(k->jwk_json, strlen(k->jwk_json), k->thumbprint);
out:
  sodium_memzero(d, sizeof(d));
  ERR_clear_error();
  return rc;
}

int acme_key_generate(struct acme_key *k) {
  memset(k, 0, sizeof(*k));
  if ((k->pkey = acme_pkey_new()) == NULL)
    return -EIO;
  int rc = key_derive(k);
  if (rc < 0)
    acme_key_free(k);
  return rc;
}

/* 1 if pkey is an EC key on P-256. */
static int is_p256(EVP_PKEY *pkey) {
  char group[64];
  size_t len;
  return EVP_PKEY_is_a(pkey, "EC") &&
         EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                        &len) == 1 &&
         strcmp(group, "prime256v1") == 0;
}

int acme_key_load(struct acme_key *k, const char *pem, size_t len) {
  memset(k, 0, sizeof(*k));
  if (len > 64 * 1024)
    return -EINVAL;
  BIO *b = BIO_new_mem_buf(pem, (int)len);
  k->pkey = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
  BIO_free(b);
  ERR_clear_error();
  int rc = k->pkey && is_p256(k->pkey) ? key_derive(k) : -EINVAL;
  if (rc < 0)
    acme_key_free(k);
  return rc;
}

void acme_key_free(struct acme_key *k) {
  EVP_PKEY_free(k->pkey);
  cjose_jwk_release(k->jwk);
  memset(k, 0, sizeof(*k));
}

/* 1 if s is fit to be copied into canonical JSON as is: base64url, or a
 * curve name ("P-256"). */
static int canonical_ok(const char *s) {
  return s && s[0] && strlen(s) <= 2048 && acme_b64url_chars(s, strlen(s));
}

/* The RFC 7638 canonical JSON of the key j into out. */
static int jwk_canonical(json_t *j, char *out, size_t size) {
  const char *kty = json_string_value(json_object_get(j, "kty"));
  int n = -1;
  if (kty && strcmp(kty, "EC") == 0) {
    const char *crv = json_string_value(json_object_get(j, "crv"));
    const char *x = json_string_value(json_object_get(j, "x"));
    const char *y = json_string_value(json_object_get(j, "y"));
    if (canonical_ok(crv) && canonical_ok(x) && canonical_ok(y))
      n = snprintf(out, size, "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", crv, x,
                   y);
  } else if (kty && strcmp(kty, "RSA") == 0) {
    const char *e = json_string_value(json_object_get(j, "e"));
    const char *nn = json_string_value(json_object_get(j, "n"));
    if (canonical_ok(e) && canonical_ok(nn))
      n = snprintf(out, size, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", e, nn);
  }
  return n > 0 && (size_t)n < size ? n : -EINVAL;
}

int acme_jwk_thumbprint(const char *jwk_json, size_t len, char out[ACME_THUMBPRINT_LEN + 1]) {
  char canon[4300];
  unsigned char digest[32];
  json_t *j = json_loadb(jwk_json, len, JSON_REJECT_DUPLICATES, NULL);
  int n = json_is_object(j) ? jwk_canonical(j, canon, sizeof(canon)) : -EINVAL;
  json_decref(j);
  if (n < 0 || EVP_Digest(canon, (size_t)n, digest, NULL, EVP_sha256(), NULL) != 1)
    return -EINVAL;
  sodium_bin2base64(out, ACME_THUMBPRINT_LEN + 1, digest, sizeof(digest),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return 0;
}

/* The protected header of a request. */
static cjose_header_t *jws_header(const struct acme_key *k, const char *url, const char *nonce,
                                  const char *kid) {
  cjose_err err;
  cjose_header_t *h = cjose_header_new(&err);
  if (h == NULL)
    return NULL;
  int ok = cjose_header_set(h, CJOSE_HDR_ALG, CJOSE_HDR_ALG_ES256, &err) &&
           cjose_header_set(h, "nonce", nonce, &err) && cjose_header_set(h, "url", url, &err) &&
           (kid ? cjose_header_set(h, CJOSE_HDR_KID, kid, &err)
                : cjose_header_set_raw(h, "jwk", k->jwk_json, &err));
  if (!ok) {
    cjose_header_release(h);
    return NULL;
  }
  return h;
}

char *acme_jws(const struct acme_key *k, const char *url, const char *nonce, const char *kid,
               const char *payload) {
  cjose_err err;
  cjose_header_t *h = jws_header(k, url, nonce, kid);
  if (h == NULL)
    return NULL;
  const char *p = payload ? payload : "";
  cjose_jws_t *jws = cjose_jws_sign(k->jwk, h, (const uint8_t *)p, strlen(p), &err);
  cjose_header_release(h);
  const char *compact = NULL;
  char *out = NULL;
  if (jws && cjose_jws_export(jws, &compact, &err)) {
    /* header.payload.signature -> {"protected","payload","signature"} */
    const char *d1 = strchr(compact, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    size_t size = strlen(compact) + 64;
    if (d2 && (out = malloc(size)) != NULL)
      snprintf(out, size, "{\"protected\":\"%.*s\",\"payload\":\"%.*s\",\"signature\":\"%s\"}",
               (int)(d1 - compact), compact, (int)(d2 - d1 - 1), d1 + 1, d2 + 1);
  }
  cjose_jws_release(jws);
  ERR_clear_error();
  return out;
}

int acme_key_authorization(const char *token, const char *thumbprint, char *out, size_t size) {
  int n = snprintf(out, size, "%s.%s", token, thumbprint);
  return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
}
