/* Automatic certificates: an ACME client (RFC 8555) that obtains and renews
 * the certificate of onair's HTTPS listener from a CA (Let's Encrypt by
 * default), proving control of the names with the HTTP-01 challenge, which
 * the plain HTTP listener answers (acme_challenge_answer()).
 *
 * Everything runs on the loop: requests through http_client, waits on one
 * timer. One attempt at a time: directory, account (made once, kept),
 * order, authorizations and their challenges, finalize with a new key's
 * CSR, download. A certificate that passes acme_chain_check() is written to
 * <data>/acme/<first name>/ and swapped in with tls_ctx_reload(): new
 * connections get it, open ones keep theirs. A failed attempt changes
 * nothing served; it is logged, counted (acme_get_stats(), /metrics) and
 * tried again after 1, 2, 4 ... minutes, at most 12 hours apart. A
 * certificate is due acme_renew_at() (renew-days before it expires); the
 * timer looks at least every 12 hours.
 *
 * State in <data>/acme/ (mode 0700), every file written whole or not at
 * all (store.h):
 *   account.key          the account's ES256 private key, PEM, 0600
 *   account.json         {"directory": URL, "url": the account's URL}
 *   <name>/cert.pem      the certificate chain, leaf first, 0644
 *   <name>/key.pem       its private key, PEM, 0600 */
#ifndef ONAIR_ACME_H
#define ONAIR_ACME_H

#include <stdint.h>
#include <time.h>
#include <uv.h>

#define ACME_CHALLENGE_PATH "/.well-known/acme-challenge/" /* + token (RFC 8555 8.3) */

struct acme;
struct tls_ctx;

struct acme_config {
  const char *domains;   /* the certificate's names, separated by commas or spaces */
  const char *email;     /* the account's contact, or "" */
  const char *directory; /* the CA's directory URL (https) */
  const char *ca_file;   /* PEM CAs to trust for the CA's HTTPS, or "" for the system's */
  const char *data_dir;  /* the state goes to <data_dir>/acme/ */
  uint64_t renew_days;   /* renew this long before expiry (see acme_renew_at()) */
};

struct acme_stats {
  uint64_t failures;   /* attempts to obtain a certificate that failed, since start */
  uint64_t obtained;   /* certificates obtained since start */
  time_t last_success; /* when the served certificate was obtained (its notBefore at
                          start); 0 while there is none */
  time_t next_check;   /* when the timer next looks (or retries); 0 during an attempt */
};

/* Reads or makes the state in <data>/acme/ (the account key is made on the
 * first start). cfg is copied. Returns 0, or a negative errno with the
 * reason logged (bad names, unreadable account key, no directory). */
int acme_new(uv_loop_t *loop, const struct acme_config *cfg, struct acme **out);
/* The files tls_ctx_new() is to serve: the chain and its key. */
const char *acme_cert_path(const struct acme *a);
const char *acme_key_path(const struct acme *a);
/* Starts: tls (which must outlive a) serves the stored certificate, or none
 * yet (tls_ctx_ready() is 0); a missing, unusable or due certificate is
 * ordered now, else the timer waits for it to be due. */
void acme_start(struct acme *a, struct tls_ctx *tls);
/* Looks now (SIGHUP): starts an attempt if the certificate is due. */
void acme_check(struct acme *a);
/* The key authorization for an HTTP-01 token of the attempt in flight, or
 * NULL (not a token of ours). */
const char *acme_challenge_answer(const struct acme *a, const char *token);
void acme_get_stats(const struct acme *a, struct acme_stats *st);
/* Ends any attempt (nothing is written) and frees a once its timer has
 * closed; call before uv_run() runs the loop out. */
void acme_free(struct acme *a);

#endif
