/* The crypto and files of the ACME client (src/acme/jws.c, cert.c,
 * store.c), checked against independent references:
 * - the JWK thumbprint against RFC 7638's own example (3.1), and key
 *   authorizations against RFC 8555 8.1's form with it;
 * - JWS requests: the flattened JSON is split and decoded here, its
 *   protected header read with jansson, and its signature verified by cjose
 *   with the public JWK alone (a verifier that is not the signer's code);
 * - the account key's PEM round trip, and refusal of other keys;
 * - the CSR decoded and verified with OpenSSL (signature, key, SANs, CN);
 * - the chain check against certificates issued here by a test CA: the
 *   good chain, and a wrong key, a missing name, an expired one, foreign
 *   PEM blocks, too many certificates, NULs, junk;
 * - when renewal is due, for long and short-lived certificates;
 * - the files: written whole with their mode, replaced atomically, read
 *   with a cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjose/cjose.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acme/cert.h"
#include "acme/jws.h"
#include "acme/msg.h"
#include "acme/store.h"
#include "case_check.h"

/* RFC 7638 3.1: the example key and its thumbprint. */
#define RFC7638_N                                                                                  \
  "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"        \
  "BJECPebW"                                                                                       \
  "KRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQ" \
  "MicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2N" \
  "cRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
#define RFC7638_THUMBPRINT "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

static void test_thumbprint_rfc7638(void **state) {
  char tp[ACME_THUMBPRINT_LEN + 1];
  /* As the RFC prints it: members in another order, and alg and kid. */
  static const char rfc[] = "{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\","
                            "\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}";
  assert_int_equal(acme_jwk_thumbprint(rfc, strlen(rfc), tp), 0);
  assert_string_equal(tp, RFC7638_THUMBPRINT);
  /* RFC 8555 8.1: token "." thumbprint. */
  char ka[200];
  assert_int_equal(
      acme_key_authorization("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", tp, ka, sizeof(ka)), 0);
  assert_string_equal(ka, "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA." RFC7638_THUMBPRINT);
  assert_int_equal(acme_key_authorization("abc", tp, ka, 47), -ENOBUFS);
  assert_int_equal(acme_key_authorization("abc", tp, ka, 48), 0);

  static const struct {
    const char *name, *jwk;
  } bad[] = {
      {"no kty", "{\"n\":\"abc\",\"e\":\"AQAB\"}"},
      {"unknown kty", "{\"kty\":\"oct\",\"k\":\"abc\"}"},
      {"RSA without e", "{\"kty\":\"RSA\",\"n\":\"abc\"}"},
      {"EC without y", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"abc\"}"},
      {"a quote in a value", "{\"kty\":\"RSA\",\"n\":\"a\\\"b\",\"e\":\"AQAB\"}"},
      {"a number", "{\"kty\":\"RSA\",\"n\":1,\"e\":\"AQAB\"}"},
      {"not JSON", "kty=RSA"},
      {"an array", "[\"RSA\"]"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    CHECK(&bad[i], acme_jwk_thumbprint(bad[i].jwk, strlen(bad[i].jwk), tp) == -EINVAL);
}

/* Decodes a base64url segment (len bytes) into a NUL-terminated string. */
static char *b64url_decode(const char *s, size_t len, size_t *out_len) {
  char *out = malloc(len + 1);
  assert_non_null(out);
  size_t n;
  assert_int_equal(sodium_base642bin((unsigned char *)out, len, s, len, NULL, &n, NULL,
                                     sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                   0);
  out[n] = 0;
  if (out_len)
    *out_len = n;
  return out;
}

/* Checks a request body as a CA would: flattened JSON, the header's
 * members, the payload, and the ES256 signature with the public JWK. */
static json_t *check_jws(const struct acme_key *k, const char *body, const char *payload) {
  json_t *j = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
  assert_non_null(j);
  assert_int_equal(json_object_size(j), 3);
  const char *prot = json_string_value(json_object_get(j, "protected"));
  const char *pay = json_string_value(json_object_get(j, "payload"));
  const char *sig = json_string_value(json_object_get(j, "signature"));
  assert_non_null(prot);
  assert_non_null(pay);
  assert_non_null(sig);
  char *p = b64url_decode(pay, strlen(pay), NULL);
  assert_string_equal(p, payload);
  free(p);
  size_t sig_len;
  free(b64url_decode(sig, strlen(sig), &sig_len));
  assert_int_equal(sig_len, 64); /* ES256: R || S, 32 bytes each (RFC 7518 3.4) */
  /* Verified by cjose with the public key alone. */
  char compact[4096];
  snprintf(compact, sizeof(compact), "%s.%s.%s", prot, pay, sig);
  cjose_err err;
  cjose_jwk_t *pub = cjose_jwk_import(k->jwk_json, strlen(k->jwk_json), &err);
  cjose_jws_t *jws = cjose_jws_import(compact, strlen(compact), &err);
  assert_non_null(pub);
  assert_non_null(jws);
  assert_true(cjose_jws_verify(jws, pub, &err));
  cjose_jws_release(jws);
  cjose_jwk_release(pub);
  char *h = b64url_decode(prot, strlen(prot), NULL);
  json_t *header = json_loads(h, JSON_REJECT_DUPLICATES, NULL);
  free(h);
  json_decref(j);
  assert_non_null(header);
  assert_string_equal(json_string_value(json_object_get(header, "alg")), "ES256");
  return header;
}

static void test_jws(void **state) {
  struct acme_key k;
  assert_int_equal(acme_key_generate(&k), 0);
  assert_int_equal(strlen(k.thumbprint), ACME_THUMBPRINT_LEN);
  /* newAccount: the JWK, no kid. */
  char *body = acme_jws(&k, "https://ca.example/acct", "nonce-1", NULL, "{\"a\":1}");
  assert_non_null(body);
  json_t *h = check_jws(&k, body, "{\"a\":1}");
  assert_string_equal(json_string_value(json_object_get(h, "nonce")), "nonce-1");
  assert_string_equal(json_string_value(json_object_get(h, "url")), "https://ca.example/acct");
  assert_null(json_object_get(h, "kid"));
  json_t *jwk = json_object_get(h, "jwk");
  char *jwk_text = json_dumps(jwk, JSON_COMPACT);
  char tp[ACME_THUMBPRINT_LEN + 1];
  assert_int_equal(acme_jwk_thumbprint(jwk_text, strlen(jwk_text), tp), 0);
  assert_string_equal(tp, k.thumbprint);  /* the key the CA sees is ours */
  assert_null(json_object_get(jwk, "d")); /* public only */
  free(jwk_text);
  json_decref(h);
  free(body);
  /* Afterwards: the account URL as kid; POST-as-GET has an empty payload. */
  body = acme_jws(&k, "https://ca.example/order/1", "nonce-2", "https://ca.example/acct/7", NULL);
  assert_non_null(body);
  h = check_jws(&k, body, "");
  assert_string_equal(json_string_value(json_object_get(h, "kid")), "https://ca.example/acct/7");
  assert_null(json_object_get(h, "jwk"));
  json_decref(h);
  free(body);
  acme_key_free(&k);
}

static void test_key_pem(void **state) {
  struct acme_key k, again;
  char *pem;
  size_t len;
  assert_int_equal(acme_key_generate(&k), 0);
  assert_int_equal(acme_pkey_pem(k.pkey, &pem, &len), 0);
  assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
  assert_int_equal(acme_key_load(&again, pem, len), 0);
  assert_string_equal(again.thumbprint, k.thumbprint);
  assert_string_equal(again.jwk_json, k.jwk_json);
  /* A signature by the loaded key verifies with the first one's JWK. */
  char *body = acme_jws(&again, "https://ca.example/x", "n", "https://ca.example/a", "{}");
  json_decref(check_jws(&k, body, "{}"));
  free(body);
  acme_key_free(&again);
  free(pem);
  /* Other keys, and not keys. */
  EVP_PKEY *others[] = {EVP_EC_gen("P-384"), EVP_RSA_gen(2048)};
  for (size_t i = 0; i < 2; i++) {
    assert_non_null(others[i]);
    assert_int_equal(acme_pkey_pem(others[i], &pem, &len), 0);
    assert_int_equal(acme_key_load(&again, pem, len), -EINVAL);
    free(pem);
    EVP_PKEY_free(others[i]);
  }
  assert_int_equal(acme_key_load(&again, "not a key", 9), -EINVAL);
  assert_int_equal(acme_key_load(&again, "", 0), -EINVAL);
  acme_key_free(&k);
}

static void test_csr(void **state) {
  struct acme_names names;
  assert_int_equal(acme_names_parse("live.example.org www.example.org", &names), 0);
  EVP_PKEY *key = acme_pkey_new();
  assert_non_null(key);
  char *b64 = acme_csr(key, &names);
  assert_non_null(b64);
  assert_null(strpbrk(b64, "+/=")); /* base64url, unpadded */
  size_t len;
  char *der = b64url_decode(b64, strlen(b64), &len);
  const unsigned char *p = (const unsigned char *)der;
  X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
  assert_non_null(req);
  assert_ptr_equal(p, (const unsigned char *)der + len);
  assert_int_equal(X509_REQ_verify(req, key), 1);
  assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), key), 1);
  char cn[256];
  assert_true(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn,
                                        sizeof(cn)) > 0);
  assert_string_equal(cn, "live.example.org");
  STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
  GENERAL_NAMES *sans = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
  assert_non_null(sans);
  assert_int_equal(sk_GENERAL_NAME_num(sans), 2);
  for (int i = 0; i < 2; i++) {
    GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
    assert_int_equal(g->type, GEN_DNS);
    assert_string_equal((const char *)ASN1_STRING_get0_data(g->d.dNSName), names.name[i]);
  }
  GENERAL_NAMES_free(sans);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509_REQ_free(req);
  free(der);
  free(b64);
  EVP_PKEY_free(key);
}

/* ---- a test CA ------------------------------------------------------------ */

static EVP_PKEY *ca_key;
static X509 *ca_cert;

/* A certificate for key, valid from nb to na, for the DNS names, signed by
 * the test CA (or self-signed as the CA when ca is 0). */
static X509 *issue(EVP_PKEY *key, const char *dns, time_t nb, time_t na, int ca) {
  X509 *x = X509_new();
  assert_non_null(x);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), (long)randombytes_uniform(1000000) + 1);
  ASN1_TIME_set(X509_getm_notBefore(x), nb);
  ASN1_TIME_set(X509_getm_notAfter(x), na);
  X509_set_pubkey(x, key);
  X509_NAME *n = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)(ca ? "leaf" : "ca"), -1,
                             -1, 0);
  X509_set_issuer_name(x, ca ? X509_get_subject_name(ca_cert) : n);
  if (dns) {
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, ca ? ca_cert : x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, dns);
    assert_non_null(e);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
  }
  assert_true(X509_sign(x, ca ? ca_key : key, EVP_sha256()) > 0);
  return x;
}

static char *pem_of(X509 *const *certs, size_t n, const char *extra) {
  BIO *b = BIO_new(BIO_s_mem());
  for (size_t i = 0; i < n; i++) {
    PEM_write_bio_X509(b, certs[i]);
    if (extra && i == 0)
      BIO_puts(b, extra);
  }
  char *data;
  long len = BIO_get_mem_data(b, &data);
  char *out = strndup(data, (size_t)len);
  BIO_free(b);
  return out;
}

static int ca_setup(void **state) {
  ca_key = EVP_EC_gen("P-256");
  time_t now = time(NULL);
  ca_cert = issue(ca_key, NULL, now - 3600, now + 86400 * 365, 0);
  return ca_key && ca_cert ? 0 : -1;
}

static int ca_teardown(void **state) {
  X509_free(ca_cert);
  EVP_PKEY_free(ca_key);
  return 0;
}

static void test_chain_check(void **state) {
  struct acme_names names;
  assert_int_equal(acme_names_parse("live.example.org,www.example.org", &names), 0);
  time_t now = time(NULL), nb = now - 60, na = now + 90 * 86400;
  EVP_PKEY *key = acme_pkey_new(), *other = acme_pkey_new();
  X509 *good = issue(key, "DNS:live.example.org,DNS:www.example.org", nb, na, 1);
  X509 *one_name = issue(key, "DNS:live.example.org", nb, na, 1);
  X509 *wrong_key = issue(other, "DNS:live.example.org,DNS:www.example.org", nb, na, 1);
  X509 *expired = issue(key, "DNS:live.example.org,DNS:www.example.org", now - 200, now - 100, 1);
  X509 *wildcard = issue(key, "DNS:*.example.org", nb, na, 1);
  X509 *chain[] = {good, ca_cert};
  X509 *nine[] = {good, ca_cert, ca_cert, ca_cert, ca_cert, ca_cert, ca_cert, ca_cert, ca_cert};
  struct {
    const char *name;
    char *pem;
    int ok;
    const char *err;
  } cases[] = {
      {"leaf and CA", pem_of(chain, 2, NULL), 1, NULL},
      {"leaf alone", pem_of(chain, 1, NULL), 1, NULL},
      {"text between certificates", pem_of(chain, 2, "some words\n"), 1, NULL},
      {"eight", pem_of(nine, 8, NULL), 1, NULL},
      {"nine", pem_of(nine, 9, NULL), 0, "PEM certificates"},
      {"one name missing", pem_of(&one_name, 1, NULL), 0, "every name"},
      {"a wildcard (not asked for)", pem_of(&wildcard, 1, NULL), 1, NULL},
      {"another key", pem_of(&wrong_key, 1, NULL), 0, "not for the key"},
      {"expired", pem_of(&expired, 1, NULL), 0, "expired"},
      {"a private key in it",
       pem_of(chain, 1, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0,
       "PEM certificates"},
      {"broken base64", strdup("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"), 0,
       "PEM certificates"},
      {"HTML", strdup("<html>502 Bad Gateway</html>"), 0, "PEM certificates"},
      {"empty", strdup(""), 0, "empty"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char err[ACME_ERR_MAX] = "", *clean = NULL;
    size_t clean_len = 0;
    struct acme_cert_info info;
    int rc = acme_chain_check(cases[i].pem, strlen(cases[i].pem), key, &names, now, &clean,
                              &clean_len, &info, err);
    CHECK(&cases[i], (rc == 0) == cases[i].ok);
    CHECK(&cases[i], cases[i].err == NULL || strstr(err, cases[i].err) != NULL);
    CHECK(&cases[i], rc == 0 || clean == NULL);
    if (rc == 0) {
      CHECK(&cases[i], info.not_before == nb && info.not_after == na && info.names_ok);
      CHECK(&cases[i], strlen(clean) == clean_len && strstr(clean, "some words") == NULL);
    }
    free(clean);
  }
  /* The good chain comes back as the same certificates, nothing else. */
  char err[ACME_ERR_MAX], *clean;
  size_t clean_len;
  struct acme_cert_info info;
  assert_int_equal(acme_chain_check(cases[2].pem, strlen(cases[2].pem), key, &names, now, &clean,
                                    &clean_len, &info, err),
                   0);
  assert_string_equal(clean, cases[0].pem);
  free(clean);
  /* A NUL inside, and more than ACME_CHAIN_MAX bytes. */
  assert_int_equal(acme_chain_check(cases[0].pem, strlen(cases[0].pem) + 1, key, &names, now,
                                    &clean, &clean_len, &info, err),
                   -EPROTO);
  char *big = calloc(1, ACME_CHAIN_MAX + 2);
  memset(big, '\n', ACME_CHAIN_MAX + 1);
  memcpy(big, cases[0].pem, strlen(cases[0].pem));
  assert_int_equal(
      acme_chain_check(big, ACME_CHAIN_MAX + 1, key, &names, now, &clean, &clean_len, &info, err),
      -EPROTO);
  free(big);
  /* What a stored certificate says. */
  assert_int_equal(acme_cert_info(cases[0].pem, strlen(cases[0].pem), &names, &info), 0);
  assert_true(info.names_ok);
  assert_int_equal(info.not_after, na);
  struct acme_names more;
  assert_int_equal(acme_names_parse("live.example.org,new.example.org", &more), 0);
  assert_int_equal(acme_cert_info(cases[0].pem, strlen(cases[0].pem), &more, &info), 0);
  assert_false(info.names_ok);
  assert_int_equal(acme_cert_info("junk", 4, &names, &info), -EINVAL);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    free(cases[i].pem);
  X509 *all[] = {good, one_name, wrong_key, expired, wildcard};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    X509_free(all[i]);
  EVP_PKEY_free(key);
  EVP_PKEY_free(other);
}

static void test_renew_at(void **state) {
  const time_t day = 86400, t0 = 1700000000;
  static const struct {
    const char *name;
    time_t life;     /* seconds */
    uint64_t renew;  /* seconds */
    time_t due_left; /* seconds of validity left when due */
  } cases[] = {
      {"90 days, 30 before", 90 * day, 30 * day, 30 * day},
      {"90 days, 89 before", 90 * day, 89 * day, 89 * day},
      {"30 days and a minute, 30 before", 30 * day + 60, 30 * day, 30 * day},
      {"30 days, 30 before: a third", 30 * day, 30 * day, 10 * day},
      {"6 days (short-lived), 30 before: a third", 6 * day, 30 * day, 2 * day},
      {"60 seconds: a third", 60, 30 * day, 20},
      {"2 seconds: a third", 2, day, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct acme_cert_info info = {.not_before = t0, .not_after = t0 + cases[i].life};
    CHECK(&cases[i], acme_renew_at(&info, cases[i].renew) == info.not_after - cases[i].due_left);
  }
  struct acme_cert_info broken = {.not_before = t0, .not_after = t0 - 10};
  assert_int_equal(acme_renew_at(&broken, 30 * day), t0 - 10);
}

static void test_store(void **state) {
  char dir[] = "/tmp/onair-test-acme-XXXXXX", path[128], tmp[160];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/sub", dir);
  assert_int_equal(acme_store_mkdir(path), 0);
  assert_int_equal(acme_store_mkdir(path), 0); /* exists: fine */
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0700);
  snprintf(path, sizeof(path), "%s/sub/key.pem", dir);
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  mode_t old = umask(0); /* the mode is the one asked for, whatever the umask */
  assert_int_equal(acme_store_write(path, "first", 5, 0600), 0);
  umask(old);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(access(tmp, F_OK), -1);
  /* Replaced whole; a stale temporary file from a crash is no obstacle. */
  FILE *f = fopen(tmp, "w");
  fputs("half", f);
  fclose(f);
  assert_int_equal(acme_store_write(path, "second!", 7, 0644), 0);
  char *data;
  size_t len;
  assert_int_equal(acme_store_read(path, 100, &data, &len), 0);
  assert_int_equal(len, 7);
  assert_string_equal(data, "second!");
  free(data);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0644);
  assert_int_equal(acme_store_read(path, 6, &data, &len), -EFBIG);
  assert_null(data);
  snprintf(tmp, sizeof(tmp), "%s/sub/missing", dir);
  assert_int_equal(acme_store_read(tmp, 100, &data, &len), -ENOENT);
  snprintf(tmp, sizeof(tmp), "%s/sub", dir);
  assert_int_equal(acme_store_read(tmp, 100, &data, &len), -EINVAL); /* a directory */
  snprintf(tmp, sizeof(tmp), "%s/nodir/x", dir);
  assert_int_equal(acme_store_write(tmp, "x", 1, 0600), -ENOENT);
  unlink(path);
  snprintf(path, sizeof(path), "%s/sub", dir);
  rmdir(path);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_thumbprint_rfc7638),
      cmocka_unit_test(test_jws),
      cmocka_unit_test(test_key_pem),
      cmocka_unit_test(test_csr),
      cmocka_unit_test(test_chain_check),
      cmocka_unit_test(test_renew_at),
      cmocka_unit_test(test_store),
  };
  return cmocka_run_group_tests(tests, ca_setup, ca_teardown);
}
