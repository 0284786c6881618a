/* The certificate side of ACME: the certificate signing request sent to
 * finalize an order (RFC 8555 7.4), the check of the chain the server
 * returns (untrusted until it has passed), what a stored certificate says
 * (its dates and names), and when it is due for renewal. OpenSSL does the
 * ASN.1 and the signatures. Pure functions: no I/O. */
#ifndef ONAIR_ACME_CERT_H
#define ONAIR_ACME_CERT_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "acme/msg.h"

#define ACME_CHAIN_MAX (64 * 1024) /* bytes of a certificate chain from the server */
#define ACME_CHAIN_CERTS 8         /* certificates in it, leaf included */

struct acme_cert_info {
  time_t not_before, not_after; /* the leaf's, seconds since the epoch */
  int names_ok;                 /* 1 if the leaf is valid for every name asked for */
};

/* The DER of a CSR for names (the first also as the subject's CN when it
 * fits), signed by key with SHA-256, base64url-encoded (caller frees); NULL
 * when out of memory. */
char *acme_csr(EVP_PKEY *key, const struct acme_names *names);

/* Checks a chain from the server (PEM, len bytes, leaf first): 1 to
 * ACME_CHAIN_CERTS certificates and no other PEM block, the leaf for key's public
 * key, valid for every name, and not expired at now. On success returns 0,
 * *clean is the chain written out again as PEM (caller frees; *clean_len
 * bytes) and info the leaf's; else -EPROTO with the reason in err. */
int acme_chain_check(const char *pem, size_t len, EVP_PKEY *key, const struct acme_names *names,
                     time_t now, char **clean, size_t *clean_len, struct acme_cert_info *info,
                     char err[ACME_ERR_MAX]);

/* The leaf (first certificate) of a PEM chain: its dates, and whether it
 * is valid for every name. Returns 0 or -EINVAL. */
int acme_cert_info(const char *pem, size_t len, const struct acme_names *names,
                   struct acme_cert_info *info);

/* When a certificate is due for renewal: renew_s (seconds) before its
 * notAfter, or, for a certificate valid for no longer than renew_s in all
 * (short-lived), when a third of its validity remains. */
time_t acme_renew_at(const struct acme_cert_info *info, uint64_t renew_s);

#endif
