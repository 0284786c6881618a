/* libFuzzer target for what an ACME server sends (src/acme/msg.c, cert.c).
 *
 * The first byte picks the parser, the rest is the body: 'd' directory,
 * 'o' order, 'a' authorization, 'p' problem, 'c' a certificate chain
 * (checked for a fixed key and name), 'n' a tls-domain setting. Whatever
 * is accepted must be what the client relies on: every URL an https one
 * that fits, a token base64url of a sane length, lists within their
 * arrays, every text ending inside its array without control characters,
 * a refusal with a reason. Any broken check traps. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acme/cert.h"
#include "acme/jws.h"
#include "acme/msg.h"

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond))         \
      __builtin_trap();  \
  } while (0)

/* A NUL-terminated string within size bytes, printable ASCII only. */
static void check_text(const char *s, size_t size) {
  size_t n = strnlen(s, size);
  FUZZ_CHECK(n < size);
  for (size_t i = 0; i < n; i++)
    FUZZ_CHECK((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f);
}

static void check_url(const char *u, int may_be_empty) {
  FUZZ_CHECK(strnlen(u, ACME_URL_MAX) < ACME_URL_MAX);
  FUZZ_CHECK(acme_url_ok(u) || (may_be_empty && u[0] == 0));
}

static void fuzz_directory(const char *b, size_t n, char *err) {
  struct acme_directory d;
  if (acme_directory_parse(b, n, &d, err) < 0)
    return;
  check_url(d.new_nonce, 0);
  check_url(d.new_account, 0);
  check_url(d.new_order, 0);
  check_text(d.terms, sizeof(d.terms));
}

static void fuzz_order(const char *b, size_t n, char *err) {
  struct acme_order o;
  if (acme_order_parse(b, n, &o, err) < 0)
    return;
  FUZZ_CHECK(o.nauthz >= 1 && o.nauthz <= ACME_NAMES_MAX);
  FUZZ_CHECK(o.status <= ACME_GONE);
  for (size_t i = 0; i < o.nauthz; i++)
    check_url(o.authz[i], 0);
  check_url(o.finalize, 0);
  check_url(o.certificate, o.status != ACME_VALID);
  check_text(o.error, sizeof(o.error));
}

static void fuzz_authz(const char *b, size_t n, char *err) {
  struct acme_authz a;
  if (acme_authz_parse(b, n, &a, err) < 0)
    return;
  FUZZ_CHECK(strnlen(a.name, sizeof(a.name)) < sizeof(a.name));
  check_url(a.url, a.status == ACME_VALID);
  if (a.url[0])
    FUZZ_CHECK(acme_token_ok(a.token, strlen(a.token)));
  check_text(a.error, sizeof(a.error));
}

static void fuzz_chain(const char *b, size_t n, char *err) {
  static EVP_PKEY *key;
  static struct acme_names names;
  if (key == NULL) {
    key = acme_pkey_new();
    FUZZ_CHECK(key && acme_names_parse("live.example.org", &names) == 0);
  }
  char *clean = NULL;
  size_t clean_len = 0;
  struct acme_cert_info info;
  /* Never accepted: nothing the fuzzer makes is for this new key. */
  FUZZ_CHECK(acme_chain_check(b, n, key, &names, 0, &clean, &clean_len, &info, err) == -EPROTO);
  FUZZ_CHECK(clean == NULL);
  struct acme_cert_info stored;
  if (acme_cert_info(b, n, &names, &stored) < 0)
    FUZZ_CHECK(stored.not_after == 0 && !stored.names_ok);
}

static void fuzz_names(const char *b, size_t n) {
  char *s = malloc(n + 1);
  struct acme_names names;
  FUZZ_CHECK(s != NULL);
  memcpy(s, b, n);
  s[n] = 0;
  if (acme_names_parse(s, &names) == 0) {
    FUZZ_CHECK(names.n <= ACME_NAMES_MAX);
    for (size_t i = 0; i < names.n; i++) {
      size_t len = strnlen(names.name[i], ACME_NAME_MAX);
      FUZZ_CHECK(len > 0 && len < ACME_NAME_MAX);
      FUZZ_CHECK(strspn(names.name[i], "abcdefghijklmnopqrstuvwxyz0123456789-.") == len);
    }
  }
  free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  const char *b = (const char *)data + 1;
  size_t n = size - 1;
  char err[ACME_ERR_MAX] = "";
  switch (data[0]) {
  case 'd': fuzz_directory(b, n, err); break;
  case 'o': fuzz_order(b, n, err); break;
  case 'a': fuzz_authz(b, n, err); break;
  case 'p': {
    struct acme_problem p;
    if (acme_problem_parse(b, n, &p) == 0) {
      check_text(p.type, sizeof(p.type));
      check_text(p.detail, sizeof(p.detail));
    }
    break;
  }
  case 'c': fuzz_chain(b, n, err); break;
  case 'n': fuzz_names(b, n); break;
  default: return 0;
  }
  check_text(err, sizeof(err));
  return 0;
}
