#include "acme/cert.h"

#include <errno.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/jws.h"

static int cert_fail(char err[ACME_ERR_MAX], const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, ACME_ERR_MAX, fmt, ap);
  va_end(ap);
  ERR_clear_error();
  return -EPROTO;
}

/* The subjectAltName extension: DNS:name for every name. */
static X509_EXTENSION *san_extension(const struct acme_names *names) {
  GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
  X509_EXTENSION *ext = NULL;
  for (size_t i = 0; gens && i < names->n; i++) {
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();
    if (g == NULL || s == NULL || ASN1_STRING_set(s, names->name[i], -1) != 1) {
      GENERAL_NAME_free(g);
      ASN1_IA5STRING_free(s);
      goto out;
    }
    GENERAL_NAME_set0_value(g, GEN_DNS, s);
    if (sk_GENERAL_NAME_push(gens, g) == 0) {
      GENERAL_NAME_free(g);
      goto out;
    }
  }
  if (gens)
    ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens);
out:
  GENERAL_NAMES_free(gens);
  return ext;
}

/* The request's subject (CN) and extensions, then its signature. */
static int csr_fill(X509_REQ *req, EVP_PKEY *key, const struct acme_names *names) {
  X509_NAME *subject = X509_REQ_get_subject_name(req);
  if (strlen(names->name[0]) <= 64 &&
      X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, (const unsigned char *)names->name[0],
                                 -1, -1, 0) != 1)
    return -ENOMEM;
  X509_EXTENSION *san = san_extension(names);
  STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
  int ok = san && exts && sk_X509_EXTENSION_push(exts, san);
  if (!ok)
    X509_EXTENSION_free(san); /* not in the stack */
  ok = ok && X509_REQ_add_extensions(req, exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  if (!ok || X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
      X509_REQ_set_pubkey(req, key) != 1 || X509_REQ_sign(req, key, EVP_sha256()) <= 0)
    return -ENOMEM;
  return 0;
}

char *acme_csr(EVP_PKEY *key, const struct acme_names *names) {
  X509_REQ *req = X509_REQ_new();
  unsigned char *der = NULL;
  char *out = NULL;
  if (req && names->n > 0 && csr_fill(req, key, names) == 0) {
    int n = i2d_X509_REQ(req, &der);
    if (n > 0)
      out = acme_b64url(der, (size_t)n);
  }
  OPENSSL_free(der);
  X509_REQ_free(req);
  ERR_clear_error();
  return out;
}

static time_t asn1_time(const ASN1_TIME *t) {
  struct tm tm;
  if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
    return 0;
  return timegm(&tm);
}

static void leaf_info(X509 *leaf, const struct acme_names *names, struct acme_cert_info *info) {
  info->not_before = asn1_time(X509_get0_notBefore(leaf));
  info->not_after = asn1_time(X509_get0_notAfter(leaf));
  info->names_ok = names->n > 0;
  for (size_t i = 0; i < names->n; i++) {
    if (X509_check_host(leaf, names->name[i], 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) != 1)
      info->names_ok = 0;
  }
}

/* Reads up to ACME_CHAIN_CERTS certificates; returns how many, or -EPROTO
 * (none kept) for more, a PEM block of another kind or a broken one. Text
 * outside PEM blocks is skipped, as OpenSSL does. */
static int chain_read(const char *pem, size_t len, X509 *certs[ACME_CHAIN_CERTS]) {
  BIO *b = BIO_new_mem_buf(pem, (int)len);
  int n = 0;
  if (b == NULL)
    return -ENOMEM;
  for (;;) {
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long dlen = 0;
    if (PEM_read_bio(b, &name, &header, &data, &dlen) != 1)
      break; /* the end, or junk: told apart below */
    const unsigned char *p = data;
    X509 *x = NULL;
    if (strcmp(name, "CERTIFICATE") == 0 && n < ACME_CHAIN_CERTS)
      x = d2i_X509(NULL, &p, dlen);
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    if (x == NULL || p != data + dlen) {
      X509_free(x);
      while (n > 0)
        X509_free(certs[--n]);
      n = -EPROTO;
      break;
    }
    certs[n++] = x;
  }
  BIO_free(b);
  unsigned long e = ERR_peek_last_error();
  if (n > 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
    for (int i = 0; i < n; i++) /* stopped at something that was not the end */
      X509_free(certs[i]);
    n = -EPROTO;
  }
  ERR_clear_error();
  return n;
}

/* The certificates written out again as PEM. */
static int chain_write(X509 **certs, int n, char **out, size_t *out_len) {
  BIO *b = BIO_new(BIO_s_mem());
  char *data;
  int rc = -ENOMEM;
  for (int i = 0; b && i < n; i++) {
    if (PEM_write_bio_X509(b, certs[i]) != 1)
      goto out;
  }
  long len = b ? BIO_get_mem_data(b, &data) : 0;
  if (len > 0 && (*out = malloc((size_t)len + 1)) != NULL) {
    memcpy(*out, data, (size_t)len);
    (*out)[len] = 0;
    *out_len = (size_t)len;
    rc = 0;
  }
out:
  BIO_free(b);
  return rc;
}

/* Checks the leaf against what was asked for. */
static int leaf_check(X509 *leaf, EVP_PKEY *key, const struct acme_names *names, time_t now,
                      struct acme_cert_info *info, char err[ACME_ERR_MAX]) {
  leaf_info(leaf, names, info);
  if (X509_check_private_key(leaf, key) != 1)
    return cert_fail(err, "the certificate is not for the key onair sent");
  if (!info->names_ok)
    return cert_fail(err, "the certificate is not valid for every name asked for");
  if (info->not_after <= now || info->not_before >= info->not_after)
    return cert_fail(err, "the certificate is expired or its dates are wrong");
  return 0;
}

int acme_chain_check(const char *pem, size_t len, EVP_PKEY *key, const struct acme_names *names,
                     time_t now, char **clean, size_t *clean_len, struct acme_cert_info *info,
                     char err[ACME_ERR_MAX]) {
  X509 *certs[ACME_CHAIN_CERTS];
  *clean = NULL;
  if (len == 0 || len > ACME_CHAIN_MAX || memchr(pem, 0, len))
    return cert_fail(err, "the certificate chain is empty, too long or has NUL bytes");
  int n = chain_read(pem, len, certs);
  if (n <= 0)
    return cert_fail(err, "the certificate chain is not 1 to %d PEM certificates",
                     ACME_CHAIN_CERTS);
  int rc = leaf_check(certs[0], key, names, now, info, err);
  if (rc == 0 && chain_write(certs, n, clean, clean_len) < 0)
    rc = cert_fail(err, "out of memory");
  for (int i = 0; i < n; i++)
    X509_free(certs[i]);
  ERR_clear_error();
  return rc;
}

int acme_cert_info(const char *pem, size_t len, const struct acme_names *names,
                   struct acme_cert_info *info) {
  memset(info, 0, sizeof(*info));
  if (len > ACME_CHAIN_MAX)
    return -EINVAL;
  BIO *b = BIO_new_mem_buf(pem, (int)len);
  X509 *leaf = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
  BIO_free(b);
  ERR_clear_error();
  if (leaf == NULL)
    return -EINVAL;
  leaf_info(leaf, names, info);
  X509_free(leaf);
  return 0;
}

time_t acme_renew_at(const struct acme_cert_info *info, uint64_t renew_s) {
  time_t life = info->not_after - info->not_before;
  if (life <= 0)
    return info->not_after;
  uint64_t window = renew_s;
  if (window >= (uint64_t)life)
    window = (uint64_t)life / 3;
  return info->not_after - (time_t)window;
}
