/* Tests for src/net/tls.c with an independent OpenSSL client over memory
 * BIOs: the handshake (TLS 1.3 and 1.2; 1.1 refused) with the client
 * verifying the chain and name against its own trust store, data both ways
 * (also what the server writes before the handshake is done, and more than
 * one record), close_notify, garbage, a certificate reloaded (new sessions
 * get it, an open one keeps working) or refused on reload (the old one stays,
 * with the reason), and loading errors that name the file. The certificates
 * are made here, with OpenSSL, into a temporary directory. */
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/tls.h"

static char dir[64];
static char cert_a[128], key_a[128], cert_b[128], key_b[128], live_cert[128], live_key[128];

/* A self-signed certificate for "localhost", valid for days, with serial;
 * written to cert_path and key_path (PEM). */
static void make_cert(const char *cert_path, const char *key_path, long serial, int days) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *c = X509_new();
  assert_non_null(key);
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
  X509_gmtime_adj(X509_getm_notBefore(c), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c), (long)days * 24 * 3600);
  X509_set_pubkey(c, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC,
                             (const unsigned char *)"localhost", -1, -1, 0);
  X509_set_issuer_name(c, X509_get_subject_name(c));
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, c, c, NULL, NULL, 0);
  X509_EXTENSION *san = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost");
  X509_add_ext(c, san, -1);
  X509_EXTENSION_free(san);
  assert_true(X509_sign(c, key, EVP_sha256()) > 0);
  FILE *f = fopen(cert_path, "w");
  assert_non_null(f);
  PEM_write_X509(f, c);
  fclose(f);
  f = fopen(key_path, "w");
  assert_non_null(f);
  PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
  fclose(f);
  X509_free(c);
  EVP_PKEY_free(key);
}

static void copy_file(const char *from, const char *to) {
  char buf[8192];
  FILE *in = fopen(from, "r"), *out = fopen(to, "w");
  assert_non_null(in);
  assert_non_null(out);
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
    assert_int_equal(fwrite(buf, 1, n, out), n);
  fclose(in);
  fclose(out);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* ---- the client ------------------------------------------------------------ */

struct client {
  SSL_CTX *ctx;
  SSL *ssl;
  BIO *in, *out;
  uint8_t got[256 * 1024]; /* plaintext the server sent */
  size_t got_len;
};

/* A client that trusts trust_pem only and checks the name "localhost",
 * speaking TLS versions min..max. */
static void client_init(struct client *cl, const char *trust_pem, int min, int max) {
  memset(cl, 0, sizeof(*cl));
  cl->ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(cl->ctx, min);
  SSL_CTX_set_max_proto_version(cl->ctx, max);
  if (min < TLS1_2_VERSION)
    SSL_CTX_set_security_level(cl->ctx, 0); /* let it offer 1.1 at all */
  assert_int_equal(SSL_CTX_load_verify_locations(cl->ctx, trust_pem, NULL), 1);
  SSL_CTX_set_verify(cl->ctx, SSL_VERIFY_PEER, NULL);
  cl->ssl = SSL_new(cl->ctx);
  SSL_set_tlsext_host_name(cl->ssl, "localhost");
  SSL_set1_host(cl->ssl, "localhost");
  cl->in = BIO_new(BIO_s_mem());
  cl->out = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(cl->in, -1);
  SSL_set_bio(cl->ssl, cl->in, cl->out);
  SSL_set_connect_state(cl->ssl);
}

static void client_free(struct client *cl) {
  SSL_free(cl->ssl);
  SSL_CTX_free(cl->ctx);
}

/* What the server hands the application. */
struct plain {
  uint8_t data[256 * 1024];
  size_t len;
  struct tls_conn *echo_to; /* if set, writes back what it gets */
};

static void on_plain(void *arg, const uint8_t *data, size_t len) {
  struct plain *p = arg;
  assert_true(p->len + len <= sizeof(p->data));
  memcpy(p->data + p->len, data, len);
  p->len += len;
  if (p->echo_to)
    assert_int_equal(tls_conn_write(p->echo_to, data, len), 0);
}

/* Moves bytes both ways until neither side has more; returns the last
 * tls_conn_feed result. */
static int pump(struct client *cl, struct tls_conn *s, struct plain *p) {
  int rc = 0;
  for (int round = 0; round < 50; round++) {
    if (!SSL_is_init_finished(cl->ssl))
      SSL_do_handshake(cl->ssl);
    uint8_t buf[32768];
    int n, moved = 0;
    while ((n = BIO_read(cl->out, buf, sizeof(buf))) > 0) {
      rc = tls_conn_feed(s, buf, (size_t)n, on_plain, p);
      moved = 1;
    }
    size_t m;
    while ((m = tls_conn_take(s, buf, sizeof(buf))) > 0) {
      BIO_write(cl->in, buf, (int)m);
      moved = 1;
    }
    while ((n = SSL_read(cl->ssl, cl->got + cl->got_len, (int)(sizeof(cl->got) - cl->got_len))) > 0)
      cl->got_len += (size_t)n;
    ERR_clear_error();
    if (!moved)
      break;
  }
  return rc;
}

/* The serial of the certificate the client was shown. */
static long peer_serial(struct client *cl) {
  X509 *peer = SSL_get1_peer_certificate(cl->ssl);
  assert_non_null(peer);
  long serial = ASN1_INTEGER_get(X509_get_serialNumber(peer));
  X509_free(peer);
  return serial;
}

/* ---- tests ----------------------------------------------------------------- */

static int group_setup(void **state) {
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/onair-test-tls-XXXXXX");
  if (mkdtemp(dir) == NULL)
    return -1;
  snprintf(cert_a, sizeof(cert_a), "%s/a.pem", dir);
  snprintf(key_a, sizeof(key_a), "%s/a.key", dir);
  snprintf(cert_b, sizeof(cert_b), "%s/b.pem", dir);
  snprintf(key_b, sizeof(key_b), "%s/b.key", dir);
  snprintf(live_cert, sizeof(live_cert), "%s/live.pem", dir);
  snprintf(live_key, sizeof(live_key), "%s/live.key", dir);
  make_cert(cert_a, key_a, 1001, 30);
  make_cert(cert_b, key_b, 2002, 90);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  const char *files[] = {cert_a, key_a, cert_b, key_b, live_cert, live_key};
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
    unlink(files[i]);
  rmdir(dir);
  return 0;
}

static struct tls_ctx *ctx_of(const char *cert, const char *key) {
  struct tls_ctx *t;
  char err[TLS_ERROR_MAX];
  if (tls_ctx_new(cert, key, &t, err) < 0)
    fail_msg("tls_ctx_new: %s", err);
  return t;
}

/* TLS 1.3 and 1.2: the client verifies the chain and the name; data goes
 * both ways, including several records' worth; what the server wrote before
 * the handshake was done arrives after it. */
static void test_handshake_and_data(void **state) {
  (void)state;
  struct tls_ctx *t = ctx_of(cert_a, key_a);
  const int versions[] = {TLS1_3_VERSION, TLS1_2_VERSION};
  for (size_t v = 0; v < 2; v++) {
    struct client *cl = malloc(sizeof(*cl));
    struct plain *p = calloc(1, sizeof(*p));
    client_init(cl, cert_a, versions[v], versions[v]);
    struct tls_conn *s = tls_conn_new(t);
    assert_non_null(s);
    assert_int_equal(tls_conn_write(s, (const uint8_t *)"early ", 6), 0);
    assert_int_equal(pump(cl, s, p), 0);
    assert_true(SSL_is_init_finished(cl->ssl));
    assert_true(tls_conn_ready(s));
    assert_int_equal(SSL_version(cl->ssl), versions[v]);
    assert_int_equal(SSL_get_verify_result(cl->ssl), X509_V_OK);
    assert_int_equal(peer_serial(cl), 1001);
    /* Client to server, then an echo of 100 KB (several records) back. */
    static uint8_t big[100 * 1024];
    for (size_t i = 0; i < sizeof(big); i++)
      big[i] = (uint8_t)(i * 7 + v);
    p->echo_to = s;
    assert_int_equal(SSL_write(cl->ssl, big, sizeof(big)), (int)sizeof(big));
    assert_int_equal(pump(cl, s, p), 0);
    assert_int_equal(p->len, sizeof(big));
    assert_memory_equal(p->data, big, sizeof(big));
    assert_int_equal(cl->got_len, 6 + sizeof(big));
    assert_memory_equal(cl->got, "early ", 6);
    assert_memory_equal(cl->got + 6, big, sizeof(big));
    tls_conn_free(s);
    client_free(cl);
    free(cl);
    free(p);
  }
  tls_ctx_free(t);
}

/* TLS 1.1 is refused with an alert; the session is over. */
static void test_old_version_refused(void **state) {
  (void)state;
  struct tls_ctx *t = ctx_of(cert_a, key_a);
  struct client cl;
  struct plain *p = calloc(1, sizeof(*p));
  client_init(&cl, cert_a, TLS1_1_VERSION, TLS1_1_VERSION);
  struct tls_conn *s = tls_conn_new(t);
  assert_int_equal(pump(&cl, s, p), -EPROTO);
  assert_false(SSL_is_init_finished(cl.ssl));
  assert_false(tls_conn_ready(s));
  tls_conn_free(s);
  client_free(&cl);
  free(p);
  tls_ctx_free(t);
}

/* The client's close_notify ends the session (-ECONNRESET); the server's
 * reaches the client. Garbage instead of a handshake is -EPROTO. */
static void test_close_and_garbage(void **state) {
  (void)state;
  struct tls_ctx *t = ctx_of(cert_a, key_a);
  struct client cl;
  struct plain *p = calloc(1, sizeof(*p));
  client_init(&cl, cert_a, TLS1_2_VERSION, TLS1_3_VERSION);
  struct tls_conn *s = tls_conn_new(t);
  assert_int_equal(pump(&cl, s, p), 0);
  tls_conn_close_notify(s);
  pump(&cl, s, p);
  assert_int_equal(SSL_get_shutdown(cl.ssl) & SSL_RECEIVED_SHUTDOWN, SSL_RECEIVED_SHUTDOWN);
  SSL_shutdown(cl.ssl);
  assert_int_equal(pump(&cl, s, p), -ECONNRESET);
  tls_conn_free(s);
  client_free(&cl);

  s = tls_conn_new(t);
  static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  assert_int_equal(tls_conn_feed(s, (const uint8_t *)http, sizeof(http) - 1, on_plain, p), -EPROTO);
  assert_int_equal(p->len, 0);
  tls_conn_free(s);
  free(p);
  tls_ctx_free(t);
}

/* A reload serves the new certificate to new sessions while an open one
 * keeps going; a reload from broken files keeps the old certificate and
 * says why. notAfter follows the certificate. */
static void test_reload(void **state) {
  (void)state;
  copy_file(cert_a, live_cert);
  copy_file(key_a, live_key);
  struct tls_ctx *t = ctx_of(live_cert, live_key);
  time_t now = time(NULL);
  time_t a_end = tls_ctx_not_after(t);
  assert_true(a_end > now + 29 * 24 * 3600 && a_end <= now + 31 * 24 * 3600);
  struct client old, fresh;
  struct plain *p = calloc(1, sizeof(*p));
  client_init(&old, cert_a, TLS1_2_VERSION, TLS1_3_VERSION);
  struct tls_conn *s_old = tls_conn_new(t);
  assert_int_equal(pump(&old, s_old, p), 0);

  copy_file(cert_b, live_cert);
  copy_file(key_b, live_key);
  char err[TLS_ERROR_MAX];
  assert_int_equal(tls_ctx_reload(t, err), 0);
  assert_true(tls_ctx_not_after(t) > now + 89 * 24 * 3600);
  client_init(&fresh, cert_b, TLS1_2_VERSION, TLS1_3_VERSION);
  struct tls_conn *s_new = tls_conn_new(t);
  assert_int_equal(pump(&fresh, s_new, p), 0);
  assert_int_equal(peer_serial(&fresh), 2002);
  /* The open session still works. */
  assert_int_equal(SSL_write(old.ssl, "still here", 10), 10);
  assert_int_equal(pump(&old, s_old, p), 0);
  assert_memory_equal(p->data + p->len - 10, "still here", 10);

  /* Broken files: the reload fails, naming the file; b stays. */
  write_text(live_cert, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
  assert_int_equal(tls_ctx_reload(t, err), -EINVAL);
  assert_non_null(strstr(err, live_cert));
  copy_file(cert_a, live_cert); /* a's certificate with b's key */
  assert_int_equal(tls_ctx_reload(t, err), -EINVAL);
  assert_non_null(strstr(err, "does not match"));
  struct client again;
  client_init(&again, cert_b, TLS1_2_VERSION, TLS1_3_VERSION);
  struct tls_conn *s_again = tls_conn_new(t);
  assert_int_equal(pump(&again, s_again, p), 0);
  assert_int_equal(peer_serial(&again), 2002);

  tls_conn_free(s_old);
  tls_conn_free(s_new);
  tls_conn_free(s_again);
  client_free(&old);
  client_free(&fresh);
  client_free(&again);
  tls_ctx_free(t); /* sessions of it could outlive it; these are gone */
  free(p);
}

/* Missing or unreadable files: an error naming the file, no context. */
/* A context made before its certificate exists (tls-domain before the
 * first one): it refuses sessions until a reload finds the files. */
static void test_empty_until_reload(void **state) {
  (void)state;
  unlink(live_cert);
  unlink(live_key);
  struct tls_ctx *t;
  char err[TLS_ERROR_MAX];
  assert_int_equal(tls_ctx_new_empty(live_cert, live_key, &t), 0);
  assert_false(tls_ctx_ready(t));
  assert_int_equal(tls_ctx_not_after(t), 0);
  assert_null(tls_conn_new(t));
  assert_int_equal(tls_ctx_reload(t, err), -EINVAL); /* still no files */
  assert_false(tls_ctx_ready(t));
  copy_file(cert_b, live_cert);
  copy_file(key_b, live_key);
  assert_int_equal(tls_ctx_reload(t, err), 0);
  assert_true(tls_ctx_ready(t));
  struct client cl;
  struct plain *p = calloc(1, sizeof(*p));
  client_init(&cl, cert_b, TLS1_2_VERSION, TLS1_3_VERSION);
  struct tls_conn *s = tls_conn_new(t);
  assert_non_null(s);
  assert_int_equal(pump(&cl, s, p), 0);
  assert_int_equal(peer_serial(&cl), 2002);
  tls_conn_free(s);
  client_free(&cl);
  tls_ctx_free(t);
  free(p);
}

static void test_load_errors(void **state) {
  (void)state;
  char missing[160], err[TLS_ERROR_MAX];
  snprintf(missing, sizeof(missing), "%s/none.pem", dir);
  struct tls_ctx *t = (struct tls_ctx *)dir; /* anything but NULL */
  assert_int_equal(tls_ctx_new(missing, key_a, &t, err), -EINVAL);
  assert_null(t);
  assert_non_null(strstr(err, missing));
  assert_non_null(strstr(err, "certificate"));
  assert_int_equal(tls_ctx_new(cert_a, missing, &t, err), -EINVAL);
  assert_non_null(strstr(err, "private key"));
  assert_int_equal(tls_ctx_new(cert_a, key_b, &t, err), -EINVAL);
  assert_non_null(strstr(err, "does not match"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handshake_and_data), cmocka_unit_test(test_old_version_refused),
      cmocka_unit_test(test_close_and_garbage),  cmocka_unit_test(test_reload),
      cmocka_unit_test(test_empty_until_reload), cmocka_unit_test(test_load_errors),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
