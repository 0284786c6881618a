#include "auth/idtoken.h"

#include <cjose/jws.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const char *const allowed_algs[] = {"RS256", "PS256", "ES256"};

const char *idtoken_error_code(int err) {
  switch (err) {
  case IDT_OK: return "ok";
  case IDT_BAD_ALG: return "bad_alg";
  case IDT_BAD_KID: return "bad_kid";
  case IDT_BAD_SIGNATURE: return "bad_signature";
  case IDT_BAD_ISS: return "bad_iss";
  case IDT_BAD_AUD: return "bad_aud";
  case IDT_EXPIRED: return "expired";
  case IDT_BAD_NONCE: return "bad_nonce";
  default: return "bad_token";
  }
}

/* Decodes one base64url segment into a JSON object. */
static json_t *segment_json(const char *seg, size_t len) {
  size_t max = len * 3 / 4 + 3, bin_len;
  unsigned char *bin = malloc(max);
  json_t *j = NULL;
  if (bin == NULL)
    return NULL;
  if (sodium_base642bin(bin, max, seg, len, NULL, &bin_len, NULL,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0)
    j = json_loadb((const char *)bin, bin_len, JSON_REJECT_DUPLICATES, NULL);
  free(bin);
  if (j && !json_is_object(j)) {
    json_decref(j);
    j = NULL;
  }
  return j;
}

/* Splits a compact JWS into its three segments' lengths. */
static int jws_split(const char *jwt, size_t len, size_t *h_len, size_t *p_off) {
  if (len == 0 || len > IDTOKEN_MAX_BYTES)
    return -1;
  const char *dot1 = memchr(jwt, '.', len);
  if (dot1 == NULL)
    return -1;
  const char *dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - jwt));
  if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - jwt)))
    return -1;
  *h_len = (size_t)(dot1 - jwt);
  *p_off = (size_t)(dot1 + 1 - jwt);
  return 0;
}

int idtoken_header(const char *jwt, size_t len, char alg[16], char kid[128]) {
  size_t h_len, p_off;
  if (jws_split(jwt, len, &h_len, &p_off) < 0)
    return IDT_BAD_TOKEN;
  json_t *h = segment_json(jwt, h_len);
  if (h == NULL)
    return IDT_BAD_TOKEN;
  int rc = IDT_BAD_ALG;
  const char *a = json_string_value(json_object_get(h, "alg"));
  json_t *k = json_object_get(h, "kid");
  if (k && (!json_is_string(k) || json_string_length(k) >= 128)) {
    rc = IDT_BAD_KID;
    goto out;
  }
  for (size_t i = 0; a && i < sizeof(allowed_algs) / sizeof(allowed_algs[0]); i++) {
    if (strcmp(a, allowed_algs[i]) == 0) {
      snprintf(alg, 16, "%s", a);
      snprintf(kid, 128, "%s", k ? json_string_value(k) : "");
      rc = IDT_OK;
    }
  }
out:
  json_decref(h);
  return rc;
}

int idtoken_key_fits(const cjose_jwk_t *key, const char *alg) {
  cjose_err err;
  cjose_jwk_kty_t kty = cjose_jwk_get_kty(key, &err);
  if (strcmp(alg, "RS256") == 0 || strcmp(alg, "PS256") == 0)
    return kty == CJOSE_JWK_KTY_RSA && cjose_jwk_get_keysize(key, &err) >= 2048;
  if (strcmp(alg, "ES256") == 0)
    return kty == CJOSE_JWK_KTY_EC && cjose_jwk_EC_get_curve(key, &err) == CJOSE_JWK_EC_P_256;
  return 0;
}

/* A numeric date claim; required ones must be present. */
static int claim_time(json_t *claims, const char *name, int required, int64_t *out) {
  json_t *v = json_object_get(claims, name);
  if (v == NULL)
    return required ? -1 : 1;
  if (!json_is_number(v))
    return -1;
  *out = (int64_t)json_number_value(v);
  return 0;
}

static int check_aud(json_t *claims, const char *client_id) {
  json_t *aud = json_object_get(claims, "aud");
  json_t *azp = json_object_get(claims, "azp");
  size_t n = 0;
  int found = 0;
  if (json_is_string(aud)) {
    n = 1;
    found = strcmp(json_string_value(aud), client_id) == 0;
  } else if (json_is_array(aud)) {
    size_t i;
    json_t *v;
    n = json_array_size(aud);
    json_array_foreach(aud, i, v) {
      if (json_is_string(v) && strcmp(json_string_value(v), client_id) == 0)
        found = 1;
    }
  }
  if (!found)
    return IDT_BAD_AUD;
  /* Several audiences: azp must name us (OIDC Core 3.1.3.7 items 4-5). */
  if ((n > 1 || azp) && (!json_is_string(azp) || strcmp(json_string_value(azp), client_id) != 0))
    return IDT_BAD_AUD;
  return IDT_OK;
}

static int check_claims(json_t *claims, const struct idtoken_expect *e) {
  const char *iss = json_string_value(json_object_get(claims, "iss"));
  if (iss == NULL || strcmp(iss, e->issuer) != 0)
    return IDT_BAD_ISS;
  int rc = check_aud(claims, e->client_id);
  if (rc != IDT_OK)
    return rc;
  int64_t exp, iat, nbf;
  if (claim_time(claims, "exp", 1, &exp) < 0 || e->now > exp + e->skew)
    return IDT_EXPIRED;
  if (claim_time(claims, "iat", 1, &iat) < 0 || iat > e->now + e->skew)
    return IDT_EXPIRED;
  rc = claim_time(claims, "nbf", 0, &nbf);
  if (rc < 0 || (rc == 0 && nbf > e->now + e->skew))
    return IDT_EXPIRED;
  const char *nonce = json_string_value(json_object_get(claims, "nonce"));
  size_t want = strlen(e->nonce);
  if (nonce == NULL || strlen(nonce) != want || sodium_memcmp(nonce, e->nonce, want) != 0)
    return IDT_BAD_NONCE;
  const char *sub = json_string_value(json_object_get(claims, "sub"));
  if (sub == NULL || sub[0] == 0 || strlen(sub) > 255)
    return IDT_BAD_TOKEN;
  return IDT_OK;
}

int idtoken_verify(const char *jwt, size_t len, const cjose_jwk_t *key,
                   const struct idtoken_expect *expect, json_t **claims) {
  char alg[16], kid[128];
  int rc = idtoken_header(jwt, len, alg, kid);
  if (rc != IDT_OK)
    return rc;
  if (!idtoken_key_fits(key, alg))
    return IDT_BAD_ALG;
  cjose_err err;
  cjose_jws_t *jws = cjose_jws_import(jwt, len, &err);
  if (jws == NULL)
    return IDT_BAD_TOKEN;
  uint8_t *plain = NULL;
  size_t plain_len = 0;
  json_t *c = NULL;
  rc = IDT_BAD_SIGNATURE;
  if (!cjose_jws_verify(jws, key, &err))
    goto out;
  rc = IDT_BAD_TOKEN;
  if (!cjose_jws_get_plaintext(jws, &plain, &plain_len, &err))
    goto out;
  c = json_loadb((const char *)plain, plain_len, JSON_REJECT_DUPLICATES, NULL);
  if (!json_is_object(c))
    goto out;
  rc = check_claims(c, expect);
out:
  if (rc == IDT_OK)
    *claims = c;
  else
    json_decref(c);
  cjose_jws_release(jws);
  return rc;
}
