/* DTLS-SRTP (src/media/dtls.c, src/media/srtpctx.c): a real OpenSSL DTLS
 * client handshakes with onair's server side through memory, both ends
 * derive the same SRTP keys, and packets protected by one end open at the
 * other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <malloc.h>
#include <string.h>

#include "media/dtls.h"
#include "media/srtpctx.h"

static struct dtls_ctx *ctx; /* our certificate, made once for the group */

/* Datagrams in flight between the two ends. */
struct wire {
  uint8_t pkt[64][2048];
  size_t len[64];
  int n;
};

struct client {
  SSL_CTX *ctx;
  SSL *ssl;
  BIO *in, *out;
  EVP_PKEY *key;
  X509 *cert;
  char fp[DTLS_FINGERPRINT_MAX];
};

static void to_client(void *arg, const uint8_t *data, size_t len) {
  struct wire *w = arg;
  assert_true(w->n < 64 && len <= sizeof(w->pkt[0]));
  memcpy(w->pkt[w->n], data, len);
  w->len[w->n++] = len;
}

static X509 *self_signed(EVP_PKEY *key) {
  X509 *c = X509_new();
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), 7);
  X509_gmtime_adj(X509_getm_notBefore(c), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c), 3600);
  X509_set_pubkey(c, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC,
                             (const unsigned char *)"browser", -1, -1, 0);
  X509_set_issuer_name(c, X509_get_subject_name(c));
  X509_sign(c, key, EVP_sha256());
  return c;
}

static int accept_any(int ok, X509_STORE_CTX *s) { return 1; }

static void client_init(struct client *cl, const char *profiles) {
  memset(cl, 0, sizeof(*cl));
  cl->key = EVP_EC_gen("P-256");
  cl->cert = self_signed(cl->key);
  unsigned char md[32];
  unsigned int n;
  X509_digest(cl->cert, EVP_sha256(), md, &n);
  size_t w = (size_t)snprintf(cl->fp, sizeof(cl->fp), "sha-256 ");
  for (unsigned i = 0; i < n; i++)
    w += (size_t)snprintf(cl->fp + w, sizeof(cl->fp) - w, i ? ":%02x" : "%02x", md[i]);
  cl->ctx = SSL_CTX_new(DTLS_client_method());
  SSL_CTX_use_certificate(cl->ctx, cl->cert);
  SSL_CTX_use_PrivateKey(cl->ctx, cl->key);
  SSL_CTX_set_verify(cl->ctx, SSL_VERIFY_PEER, accept_any);
  assert_int_equal(SSL_CTX_set_tlsext_use_srtp(cl->ctx, profiles), 0);
  cl->ssl = SSL_new(cl->ctx);
  cl->in = BIO_new(BIO_s_mem());
  cl->out = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(cl->in, -1);
  SSL_set_bio(cl->ssl, cl->in, cl->out);
  SSL_set_connect_state(cl->ssl);
}

static void client_free(struct client *cl) {
  SSL_free(cl->ssl);
  SSL_CTX_free(cl->ctx);
  X509_free(cl->cert);
  EVP_PKEY_free(cl->key);
}

/* Runs the handshake until neither side has anything to say. */
static void handshake(struct client *cl, struct dtls *d, struct wire *w) {
  for (int round = 0; round < 20; round++) {
    SSL_do_handshake(cl->ssl);
    uint8_t buf[8192];
    int n, sent = 0;
    while ((n = BIO_read(cl->out, buf, sizeof(buf))) > 0) {
      dtls_feed(d, buf, (size_t)n);
      sent = 1;
    }
    for (int i = 0; i < w->n; i++)
      BIO_write(cl->in, w->pkt[i], (int)w->len[i]);
    int got = w->n;
    w->n = 0;
    if (!sent && !got)
      break;
  }
  SSL_do_handshake(cl->ssl);
}

static void client_keys(struct client *cl, struct dtls_srtp_keys *k, size_t kl, size_t sl) {
  uint8_t m[60];
  assert_int_equal(
      SSL_export_keying_material(cl->ssl, m, 2 * (kl + sl), "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0),
      1);
  memcpy(k->local_key, m, kl); /* the client's own */
  memcpy(k->remote_key, m + kl, kl);
  memcpy(k->local_salt, m + 2 * kl, sl);
  memcpy(k->remote_salt, m + 2 * kl + sl, sl);
  k->key_len = kl;
  k->salt_len = sl;
}

static void test_handshake_and_srtp(void **state) {
  static const struct {
    const char *client_profiles;
    enum dtls_srtp_profile want;
    size_t key, salt;
  } cases[] = {
      {"SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM", DTLS_SRTP_AEAD_AES_128_GCM, 16, 12},
      {"SRTP_AES128_CM_SHA1_80", DTLS_SRTP_AES128_CM_SHA1_80, 16, 14},
  };
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    struct client cl;
    struct wire w = {0};
    client_init(&cl, cases[c].client_profiles);
    struct dtls *d = dtls_new(ctx, cl.fp, to_client, &w);
    assert_non_null(d);
    handshake(&cl, d, &w);
    assert_int_equal(dtls_get_state(d), DTLS_CONNECTED);
    assert_int_equal(SSL_is_init_finished(cl.ssl), 1);
    struct dtls_srtp_keys sk, ck = {0};
    assert_int_equal(dtls_srtp_keys(d, &sk), 0);
    assert_int_equal(sk.profile, cases[c].want);
    client_keys(&cl, &ck, cases[c].key, cases[c].salt);
    ck.profile = sk.profile;
    assert_memory_equal(sk.remote_key, ck.local_key, ck.key_len);
    assert_memory_equal(sk.local_key, ck.remote_key, ck.key_len);
    assert_memory_equal(sk.remote_salt, ck.local_salt, ck.salt_len);

    /* The browser's packet opens at onair, and onair's at the browser. */
    struct srtpctx *server = srtpctx_new(&sk), *browser = srtpctx_new(&ck);
    assert_non_null(server);
    assert_non_null(browser);
    uint8_t pkt[1500] = {0x80, 96, 0x12, 0x34, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef};
    memcpy(pkt + 12, "frame-bytes", 11);
    size_t len = 23;
    assert_int_equal(srtpctx_protect_rtp(browser, pkt, &len, sizeof(pkt)), 0);
    assert_true(len > 23);
    assert_memory_not_equal(pkt + 12, "frame-bytes", 11);
    uint8_t copy[1500];
    memcpy(copy, pkt, len);
    size_t copy_len = len;
    assert_int_equal(srtpctx_unprotect_rtp(server, pkt, &len), 0);
    assert_int_equal(len, 23);
    assert_memory_equal(pkt + 12, "frame-bytes", 11);
    /* A replay is refused; so is a flipped bit. */
    memcpy(pkt, copy, copy_len);
    len = copy_len;
    assert_int_equal(srtpctx_unprotect_rtp(server, pkt, &len), -EACCES);
    copy[14] ^= 1;
    copy[3] = 0x35; /* another sequence number, so not a replay */
    len = copy_len;
    assert_int_equal(srtpctx_unprotect_rtp(server, copy, &len), -EACCES);
    /* RTCP both ways. */
    uint8_t rr[256] = {0x80, 201, 0, 1, 0, 0, 0, 9};
    size_t rl = 8;
    assert_int_equal(srtpctx_protect_rtcp(server, rr, &rl, sizeof(rr)), 0);
    assert_int_equal(srtpctx_unprotect_rtcp(browser, rr, &rl), 0);
    assert_int_equal(rl, 8);
    assert_int_equal(srtpctx_protect_rtp(server, pkt, &len, 30), -ENOBUFS);
    srtpctx_free(server);
    srtpctx_free(browser);
    dtls_free(d);
    client_free(&cl);
  }
}

static void test_fingerprint_mismatch(void **state) {
  struct client cl;
  struct wire w = {0};
  client_init(&cl, "SRTP_AEAD_AES_128_GCM");
  char wrong[DTLS_FINGERPRINT_MAX];
  snprintf(wrong, sizeof(wrong), "%s", cl.fp);
  wrong[9] = wrong[9] == '0' ? '1' : '0';
  struct dtls *d = dtls_new(ctx, wrong, to_client, &w);
  handshake(&cl, d, &w);
  assert_int_equal(dtls_get_state(d), DTLS_FAILED);
  assert_non_null(strstr(dtls_error(d), "fingerprint"));
  struct dtls_srtp_keys k;
  assert_int_equal(dtls_srtp_keys(d, &k), -EAGAIN);
  dtls_free(d);
  client_free(&cl);
}

static void test_no_common_profile(void **state) {
  struct client cl;
  struct wire w = {0};
  client_init(&cl, "SRTP_AES128_CM_SHA1_32");
  struct dtls *d = dtls_new(ctx, cl.fp, to_client, &w);
  handshake(&cl, d, &w);
  assert_int_not_equal(dtls_get_state(d), DTLS_CONNECTED);
  dtls_free(d);
  client_free(&cl);
}

static void test_garbage_and_close(void **state) {
  struct wire w = {0};
  struct dtls *d = dtls_new(ctx, "sha-256 00:11", to_client, &w);
  static const uint8_t junk[][8] = {{22, 0xfe, 0xfd, 0, 0, 0, 0, 0}, {0}, {23, 1, 2, 3}};
  for (size_t i = 0; i < 3; i++)
    dtls_feed(d, junk[i], sizeof(junk[i]));
  dtls_feed(d, junk[0], 0);
  assert_int_not_equal(dtls_get_state(d), DTLS_CONNECTED);
  dtls_free(d);

  struct client cl;
  client_init(&cl, "SRTP_AEAD_AES_128_GCM");
  d = dtls_new(ctx, cl.fp, to_client, &w);
  handshake(&cl, d, &w);
  assert_int_equal(dtls_get_state(d), DTLS_CONNECTED);
  SSL_shutdown(cl.ssl);
  uint8_t buf[2048];
  int n = BIO_read(cl.out, buf, sizeof(buf));
  assert_true(n > 0);
  assert_int_equal(dtls_feed(d, buf, (size_t)n), DTLS_CLOSED);
  dtls_free(d);
  client_free(&cl);
}

/* What one association keeps after its handshake (a viewer holds one for
 * as long as it watches): no record buffers. The heap grows by less than
 * 20 KiB for it (OpenSSL's SSL object and handshake buffer, the session,
 * the peer's certificate); the record buffers kept would be 35 KB more. */
static void test_memory_after_handshake(void **state) {
#if defined(__SANITIZE_ADDRESS__)
  skip(); /* ASan's allocator: glibc's counts say nothing */
#else
  struct client cl;
  client_init(&cl, "SRTP_AEAD_AES_128_GCM");
  struct wire w = {0};
  size_t before = mallinfo2().uordblks;
  struct dtls *d = dtls_new(ctx, cl.fp, to_client, &w);
  assert_non_null(d);
  handshake(&cl, d, &w);
  assert_int_equal(dtls_get_state(d), DTLS_CONNECTED);
  client_free(&cl);
  size_t after = mallinfo2().uordblks;
  print_message("one association: %zu bytes\n", after - before);
  assert_true(after < before + 20 * 1024);
  dtls_free(d);
#endif
}

static void test_fingerprints(void **state) {
  const char *fp = dtls_ctx_fingerprint(ctx);
  assert_int_equal(strncmp(fp, "sha-256 ", 8), 0);
  assert_int_equal(strlen(fp), 8 + 32 * 3 - 1);
  assert_true(dtls_fingerprint_equal("sha-256 AB:CD", "SHA-256 ab:cd"));
  assert_false(dtls_fingerprint_equal("sha-256 AB:CD", "sha-256 AB:CE"));
  assert_false(dtls_fingerprint_equal("sha-256 AB:CD", "sha-256 AB:CD:EF"));
  assert_false(dtls_fingerprint_equal("", ""));
}

static int setup(void **state) {
  ctx = dtls_ctx_new();
  return ctx && srtpctx_global_init() == 0 ? 0 : -1;
}

static int teardown(void **state) {
  dtls_ctx_free(ctx);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handshake_and_srtp), cmocka_unit_test(test_fingerprint_mismatch),
      cmocka_unit_test(test_no_common_profile),  cmocka_unit_test(test_garbage_and_close),
      cmocka_unit_test(test_fingerprints),       cmocka_unit_test(test_memory_after_handshake),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
