/* ID token checks (src/auth/idtoken.c) against tokens signed here with
 * cjose: every refusal the OIDC issue names, and the accepted forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjose/cjose.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/idtoken.h"

#define ISS "https://id.example.org"
#define CLIENT "onair-client"
#define NONCE "n-0S6_WzA2Mj"

static cjose_jwk_t *rsa_key, *rsa_other, *ec_key;
static int64_t now;

static int setup(void **state) {
  cjose_err err;
  static const uint8_t e[] = {1, 0, 1};
  rsa_key = cjose_jwk_create_RSA_random(2048, e, sizeof(e), &err);
  rsa_other = cjose_jwk_create_RSA_random(2048, e, sizeof(e), &err);
  ec_key = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &err);
  now = (int64_t)time(NULL);
  return rsa_key && rsa_other && ec_key ? 0 : -1;
}

static int teardown(void **state) {
  cjose_jwk_release(rsa_key);
  cjose_jwk_release(rsa_other);
  cjose_jwk_release(ec_key);
  return 0;
}

/* Claims as JSON text, with one field replaced or removed ("-"). */
static char *claims_json(const char *override_key, json_t *override_value) {
  json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "iss", ISS, "sub", "248289761001",
                        "aud", CLIENT, "exp", (json_int_t)(now + 300), "iat", (json_int_t)now,
                        "nonce", NONCE, "name", "Jane Doe");
  if (override_key) {
    if (override_value)
      json_object_set_new(c, override_key, override_value);
    else
      json_object_del(c, override_key);
  }
  char *s = json_dumps(c, JSON_COMPACT);
  json_decref(c);
  return s;
}

static char *sign(cjose_jwk_t *key, const char *alg, const char *kid, const char *claims) {
  cjose_err err;
  cjose_header_t *h = cjose_header_new(&err);
  cjose_header_set(h, CJOSE_HDR_ALG, alg, &err);
  if (kid)
    cjose_header_set(h, CJOSE_HDR_KID, kid, &err);
  cjose_jws_t *jws = cjose_jws_sign(key, h, (const uint8_t *)claims, strlen(claims), &err);
  assert_non_null(jws);
  const char *ser;
  assert_true(cjose_jws_export(jws, &ser, &err));
  char *out = strdup(ser);
  cjose_jws_release(jws);
  cjose_header_release(h);
  return out;
}

static char *b64(const void *data, size_t len) {
  size_t size = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  char *out = malloc(size);
  sodium_bin2base64(out, size, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return out;
}

/* A token assembled by hand: header JSON, claims, raw signature bytes. */
static char *forge(const char *header, const char *claims, const void *sig, size_t sig_len) {
  char *h = b64(header, strlen(header)), *c = b64(claims, strlen(claims));
  char *s = sig_len ? b64(sig, sig_len) : strdup("");
  size_t n = strlen(h) + strlen(c) + strlen(s) + 3;
  char *out = malloc(n);
  snprintf(out, n, "%s.%s.%s", h, c, s);
  free(h);
  free(c);
  free(s);
  return out;
}

static int verify(const char *jwt, const cjose_jwk_t *key) {
  struct idtoken_expect e = {
      .issuer = ISS, .client_id = CLIENT, .nonce = NONCE, .now = now, .skew = 60};
  json_t *claims = NULL;
  int rc = idtoken_verify(jwt, strlen(jwt), key, &e, &claims);
  if (rc == IDT_OK) {
    assert_string_equal(json_string_value(json_object_get(claims, "sub")), "248289761001");
    json_decref(claims);
  } else {
    assert_null(claims);
  }
  return rc;
}

static void test_valid_rs256_ps256_es256(void **state) {
  char *c = claims_json(NULL, NULL);
  char *t1 = sign(rsa_key, "RS256", "k1", c), *t2 = sign(rsa_key, "PS256", "k1", c);
  char *t3 = sign(ec_key, "ES256", "e1", c);
  assert_int_equal(verify(t1, rsa_key), IDT_OK);
  assert_int_equal(verify(t2, rsa_key), IDT_OK);
  assert_int_equal(verify(t3, ec_key), IDT_OK);
  char alg[16], kid[128];
  assert_int_equal(idtoken_header(t3, strlen(t3), alg, kid), IDT_OK);
  assert_string_equal(alg, "ES256");
  assert_string_equal(kid, "e1");
  free(c), free(t1), free(t2), free(t3);
}

/* Each claim change is refused with its own code. */
static void test_claims_refused(void **state) {
  struct {
    const char *key;
    json_t *value;
    int want;
  } cases[] = {
      {"iss", json_string("https://evil.example.org"), IDT_BAD_ISS},
      {"iss", NULL, IDT_BAD_ISS},
      {"iss", json_string(ISS "/"), IDT_BAD_ISS},
      {"aud", json_string("another-client"), IDT_BAD_AUD},
      {"aud", json_pack("[s, s]", "another-client", CLIENT), IDT_BAD_AUD}, /* no azp */
      {"aud", NULL, IDT_BAD_AUD},
      {"azp", json_string("another-client"), IDT_BAD_AUD},
      {"exp", json_integer(now - 61), IDT_EXPIRED},
      {"exp", NULL, IDT_EXPIRED},
      {"exp", json_string("tomorrow"), IDT_EXPIRED},
      {"iat", json_integer(now + 3600), IDT_EXPIRED},
      {"nbf", json_integer(now + 3600), IDT_EXPIRED},
      {"nonce", json_string("n-someone-else"), IDT_BAD_NONCE},
      {"nonce", json_string(NONCE "x"), IDT_BAD_NONCE},
      {"nonce", NULL, IDT_BAD_NONCE},
      {"sub", json_string(""), IDT_BAD_TOKEN},
      {"sub", NULL, IDT_BAD_TOKEN},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *c = claims_json(cases[i].key, cases[i].value);
    char *t = sign(rsa_key, "RS256", "k1", c);
    int rc = verify(t, rsa_key);
    if (rc != cases[i].want)
      fail_msg("case %zu (%s): got %s, want %s", i, cases[i].key, idtoken_error_code(rc),
               idtoken_error_code(cases[i].want));
    free(c), free(t);
  }
}

static void test_claims_accepted_edges(void **state) {
  char *c1 = claims_json("exp", json_integer(now - 59)); /* within the skew */
  char *c2 = claims_json("aud", json_pack("[s, s]", CLIENT, "other"));
  json_t *c3j = json_loads(c2, 0, NULL);
  json_object_set_new(c3j, "azp", json_string(CLIENT));
  char *c3 = json_dumps(c3j, JSON_COMPACT);
  char *c4 = claims_json("aud", json_pack("[s]", CLIENT));
  char *t1 = sign(rsa_key, "RS256", "k1", c1), *t3 = sign(rsa_key, "RS256", "k1", c3);
  char *t4 = sign(rsa_key, "RS256", "k1", c4);
  assert_int_equal(verify(t1, rsa_key), IDT_OK);
  assert_int_equal(verify(t3, rsa_key), IDT_OK);
  assert_int_equal(verify(t4, rsa_key), IDT_OK);
  json_decref(c3j);
  free(c1), free(c2), free(c3), free(c4), free(t1), free(t3), free(t4);
}

static void test_signature_and_key(void **state) {
  char *c = claims_json(NULL, NULL);
  char *t = sign(rsa_other, "RS256", "k1", c); /* same kid, another key */
  assert_int_equal(verify(t, rsa_key), IDT_BAD_SIGNATURE);
  /* A flipped byte in the payload. */
  char *t2 = sign(rsa_key, "RS256", "k1", c);
  char *dot = strchr(t2, '.');
  dot[3] = dot[3] == 'A' ? 'B' : 'A';
  assert_int_not_equal(verify(t2, rsa_key), IDT_OK);
  /* An RS256 header with an EC key, and ES256 with an RSA key. */
  char *t3 = sign(rsa_key, "RS256", "k1", c), *t4 = sign(ec_key, "ES256", "e1", c);
  assert_int_equal(verify(t3, ec_key), IDT_BAD_ALG);
  assert_int_equal(verify(t4, rsa_key), IDT_BAD_ALG);
  free(c), free(t), free(t2), free(t3), free(t4);
}

static void test_alg_none_and_hs256(void **state) {
  char *c = claims_json(NULL, NULL);
  char *none = forge("{\"alg\":\"none\"}", c, NULL, 0);
  char *none2 = forge("{\"alg\":\"None\",\"kid\":\"k1\"}", c, NULL, 0);
  assert_int_equal(verify(none, rsa_key), IDT_BAD_ALG);
  assert_int_equal(verify(none2, rsa_key), IDT_BAD_ALG);
  /* HS256 keyed with the provider's RSA public key, the classic confusion. */
  cjose_err err;
  char *pub = cjose_jwk_to_json(rsa_key, false, &err);
  const char *header = "{\"alg\":\"HS256\",\"kid\":\"k1\"}";
  char *h = b64(header, strlen(header)), *cl = b64(c, strlen(c));
  char signing[8192];
  snprintf(signing, sizeof(signing), "%s.%s", h, cl);
  uint8_t mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, (const uint8_t *)pub, strlen(pub));
  crypto_auth_hmacsha256_update(&st, (const uint8_t *)signing, strlen(signing));
  crypto_auth_hmacsha256_final(&st, mac);
  char *hs = forge(header, c, mac, sizeof(mac));
  assert_int_equal(verify(hs, rsa_key), IDT_BAD_ALG);
  char alg[16], kid[128];
  assert_int_equal(idtoken_header(hs, strlen(hs), alg, kid), IDT_BAD_ALG);
  free(c), free(none), free(none2), free(pub), free(h), free(cl), free(hs);
}

static void test_malformed(void **state) {
  const char *bad[] = {
      "", "abc", "a.b", "a.b.c.d", "!!!.e30.", "e30.e30.", "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln"};
  char alg[16], kid[128];
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rc = idtoken_header(bad[i], strlen(bad[i]), alg, kid);
    if (i < 5)
      assert_int_equal(rc, IDT_BAD_TOKEN);
    else if (i == 5)
      assert_int_equal(rc, IDT_BAD_ALG); /* "{}" header: no alg */
    assert_int_not_equal(verify(bad[i], rsa_key), IDT_OK);
  }
  /* Over the size cap. */
  size_t big = IDTOKEN_MAX_BYTES + 10;
  char *huge = malloc(big + 1);
  memset(huge, 'A', big);
  huge[10] = '.', huge[20] = '.', huge[big] = 0;
  assert_int_equal(idtoken_header(huge, big, alg, kid), IDT_BAD_TOKEN);
  free(huge);
  /* A kid that is not a string. */
  char *c = claims_json(NULL, NULL);
  char *t = forge("{\"alg\":\"RS256\",\"kid\":7}", c, "x", 1);
  assert_int_equal(idtoken_header(t, strlen(t), alg, kid), IDT_BAD_KID);
  free(c), free(t);
}

static void test_error_codes(void **state) {
  assert_string_equal(idtoken_error_code(IDT_BAD_ALG), "bad_alg");
  assert_string_equal(idtoken_error_code(IDT_BAD_KID), "bad_kid");
  assert_string_equal(idtoken_error_code(IDT_BAD_SIGNATURE), "bad_signature");
  assert_string_equal(idtoken_error_code(IDT_BAD_ISS), "bad_iss");
  assert_string_equal(idtoken_error_code(IDT_BAD_AUD), "bad_aud");
  assert_string_equal(idtoken_error_code(IDT_EXPIRED), "expired");
  assert_string_equal(idtoken_error_code(IDT_BAD_NONCE), "bad_nonce");
  assert_string_equal(idtoken_error_code(IDT_BAD_TOKEN), "bad_token");
}

int main(void) {
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_rs256_ps256_es256),
      cmocka_unit_test(test_claims_refused),
      cmocka_unit_test(test_claims_accepted_edges),
      cmocka_unit_test(test_signature_and_key),
      cmocka_unit_test(test_alg_none_and_hs256),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_error_codes),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
