#include "media/dtls.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DTLS_MTU 1200 /* bytes per datagram we send */

struct dtls {
  SSL *ssl;
  BIO *in; /* memory BIO: received datagrams are written here */
  enum dtls_state state;
  const char *error;
  char remote_fp[DTLS_FINGERPRINT_MAX];
  dtls_send_fn send;
  void *arg;
  struct dtls_srtp_keys keys;
};

/* onair's DTLS identity: one key and self-signed certificate for every
 * peer of a media plane, the SSL_CTX built on them, and the BIO method of
 * outgoing datagrams. */
struct dtls_ctx {
  SSL_CTX *ssl_ctx;
  EVP_PKEY *key;
  X509 *cert;
  BIO_METHOD *out_method;
  char fp[DTLS_FINGERPRINT_MAX];
};

/* ---- the outgoing BIO: every write is one datagram for the send callback */

static int out_write(BIO *b, const char *data, int len) {
  struct dtls *d = BIO_get_data(b);
  if (len > 0)
    d->send(d->arg, (const uint8_t *)data, (size_t)len);
  return len;
}

static long out_ctrl(BIO *b, int cmd, long num, void *ptr) {
  switch (cmd) {
  case BIO_CTRL_FLUSH: return 1;
  case BIO_CTRL_DGRAM_QUERY_MTU:
  case BIO_CTRL_DGRAM_GET_FALLBACK_MTU: return DTLS_MTU;
  case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD: return 28; /* IPv4 + UDP headers */
  default: return 0;
  }
}

static int out_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

/* ---- certificate and fingerprints */

static void fingerprint_of(X509 *cert, char out[DTLS_FINGERPRINT_MAX]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  out[0] = 0;
  if (!X509_digest(cert, EVP_sha256(), md, &n))
    return;
  size_t w = (size_t)snprintf(out, DTLS_FINGERPRINT_MAX, "sha-256 ");
  for (unsigned int i = 0; i < n && w + 3 < DTLS_FINGERPRINT_MAX; i++)
    w += (size_t)snprintf(out + w, DTLS_FINGERPRINT_MAX - w, i ? ":%02X" : "%02X", md[i]);
}

int dtls_fingerprint_equal(const char *a, const char *b) {
  /* "sha-256" then the hex pairs; case and the separator space do not matter. */
  size_t la = strlen(a), lb = strlen(b);
  if (la != lb || la < 8)
    return 0;
  for (size_t i = 0; i < la; i++) {
    if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
      return 0;
  }
  return 1;
}

static X509 *make_cert(EVP_PKEY *key) {
  X509 *cert = X509_new();
  if (cert == NULL)
    return NULL;
  unsigned char serial[8];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;
  BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
  X509_NAME *name = X509_get_subject_name(cert);
  int ok = bn && X509_set_version(cert, 2) && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) &&
           X509_gmtime_adj(X509_getm_notBefore(cert), -24 * 3600) &&
           X509_gmtime_adj(X509_getm_notAfter(cert), 30L * 24 * 3600) &&
           X509_set_pubkey(cert, key) &&
           X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"onair", -1,
                                      -1, 0) &&
           X509_set_issuer_name(cert, name) && X509_sign(cert, key, EVP_sha256());
  BN_free(bn);
  if (!ok) {
    X509_free(cert);
    return NULL;
  }
  return cert;
}

/* Any certificate is accepted during the handshake: the check that counts is
 * the fingerprint comparison right after it. */
static int verify_any(int ok, X509_STORE_CTX *store) { return 1; }

/* Sets the context's SSL_CTX up: DTLS 1.2+, our certificate, the SRTP
 * profiles (GCM first: cheaper per packet), and a certificate demanded from
 * the peer. Returns 0 or -EIO. */
static int dtls_ctx_setup(struct dtls_ctx *x) {
  SSL_CTX *ctx = x->ssl_ctx;
  if (!SSL_CTX_use_certificate(ctx, x->cert) || !SSL_CTX_use_PrivateKey(ctx, x->key) ||
      !SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION))
    return -EIO;
  /* tls_use_srtp returns 0 on success. */
  if (SSL_CTX_set_tlsext_use_srtp(ctx, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80") != 0)
    return -EIO;
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_any);
  SSL_CTX_set_read_ahead(ctx, 1);
  /* After the handshake, a record (an alert) is rare: its buffers go again
   * once it is read. */
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  return 0;
}

struct dtls_ctx *dtls_ctx_new(void) {
  struct dtls_ctx *x = calloc(1, sizeof(*x));
  if (x == NULL)
    return NULL;
  x->key = EVP_EC_gen("P-256");
  x->cert = x->key ? make_cert(x->key) : NULL;
  x->ssl_ctx = SSL_CTX_new(DTLS_server_method());
  x->out_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "onair dtls out");
  if (!x->cert || !x->ssl_ctx || !x->out_method)
    goto fail;
  BIO_meth_set_write(x->out_method, out_write);
  BIO_meth_set_ctrl(x->out_method, out_ctrl);
  BIO_meth_set_create(x->out_method, out_create);
  if (dtls_ctx_setup(x) < 0)
    goto fail;
  fingerprint_of(x->cert, x->fp);
  return x;
fail:
  dtls_ctx_free(x);
  return NULL;
}

void dtls_ctx_free(struct dtls_ctx *x) {
  if (x == NULL)
    return;
  SSL_CTX_free(x->ssl_ctx);
  X509_free(x->cert);
  EVP_PKEY_free(x->key);
  BIO_meth_free(x->out_method);
  free(x);
}

const char *dtls_ctx_fingerprint(const struct dtls_ctx *x) { return x->fp; }

struct dtls *dtls_new(struct dtls_ctx *x, const char *remote_fingerprint, dtls_send_fn send,
                      void *arg) {
  if (strlen(remote_fingerprint) >= DTLS_FINGERPRINT_MAX)
    return NULL;
  struct dtls *d = calloc(1, sizeof(*d));
  if (d == NULL)
    return NULL;
  d->send = send;
  d->arg = arg;
  snprintf(d->remote_fp, sizeof(d->remote_fp), "%s", remote_fingerprint);
  d->ssl = SSL_new(x->ssl_ctx);
  d->in = BIO_new(BIO_s_mem());
  BIO *out = BIO_new(x->out_method);
  if (d->ssl == NULL || d->in == NULL || out == NULL) {
    BIO_free(out);
    BIO_free(d->in);
    SSL_free(d->ssl);
    free(d);
    return NULL;
  }
  BIO_set_data(out, d);
  BIO_set_mem_eof_return(d->in, -1);
  SSL_set_bio(d->ssl, d->in, out); /* the SSL owns both BIOs now */
  SSL_set_options(d->ssl, SSL_OP_NO_QUERY_MTU);
  SSL_set_mtu(d->ssl, DTLS_MTU - 28);
  SSL_set_accept_state(d->ssl);
  d->state = DTLS_HANDSHAKING;
  return d;
}

void dtls_free(struct dtls *d) {
  if (d == NULL)
    return;
  OPENSSL_cleanse(&d->keys, sizeof(d->keys));
  SSL_free(d->ssl);
  free(d);
}

static enum dtls_state dtls_fail(struct dtls *d, const char *why) {
  d->state = DTLS_FAILED;
  d->error = why;
  ERR_clear_error();
  return d->state;
}

/* The handshake is done: check the peer, then export the SRTP keys. */
static enum dtls_state dtls_connected(struct dtls *d) {
  X509 *peer = SSL_get1_peer_certificate(d->ssl);
  char fp[DTLS_FINGERPRINT_MAX];
  if (peer == NULL)
    return dtls_fail(d, "the peer sent no certificate");
  fingerprint_of(peer, fp);
  X509_free(peer);
  if (!dtls_fingerprint_equal(fp, d->remote_fp))
    return dtls_fail(d, "the peer's certificate does not match its SDP fingerprint");
  SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(d->ssl);
  if (p == NULL)
    return dtls_fail(d, "no SRTP profile was negotiated");
  struct dtls_srtp_keys *k = &d->keys;
  if (p->id == SRTP_AEAD_AES_128_GCM) {
    k->profile = DTLS_SRTP_AEAD_AES_128_GCM;
    k->key_len = 16, k->salt_len = 12;
  } else if (p->id == SRTP_AES128_CM_SHA1_80) {
    k->profile = DTLS_SRTP_AES128_CM_SHA1_80;
    k->key_len = 16, k->salt_len = 14;
  } else {
    return dtls_fail(d, "an SRTP profile onair does not support was negotiated");
  }
  /* RFC 5764 4.2: client key, server key, client salt, server salt. */
  uint8_t m[2 * (DTLS_SRTP_KEY_MAX + DTLS_SRTP_SALT_MAX)];
  size_t kl = k->key_len, sl = k->salt_len;
  if (!SSL_export_keying_material(d->ssl, m, 2 * (kl + sl), "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0))
    return dtls_fail(d, "SRTP key export failed");
  memcpy(k->remote_key, m, kl);
  memcpy(k->local_key, m + kl, kl);
  memcpy(k->remote_salt, m + 2 * kl, sl);
  memcpy(k->local_salt, m + 2 * kl + sl, sl);
  OPENSSL_cleanse(m, sizeof(m));
  /* The record buffers the handshake used (about 35 KB) go now: an
   * association lives as long as its viewer watches, and reads a record
   * again only for an alert. */
  SSL_free_buffers(d->ssl);
  d->state = DTLS_CONNECTED;
  return d->state;
}

enum dtls_state dtls_feed(struct dtls *d, const uint8_t *data, size_t len) {
  if (d->state == DTLS_FAILED || d->state == DTLS_CLOSED)
    return d->state;
  if (len == 0 || len > 16384 || BIO_write(d->in, data, (int)len) != (int)len)
    return d->state;
  if (d->state == DTLS_HANDSHAKING) {
    int rc = SSL_do_handshake(d->ssl);
    if (rc == 1)
      return dtls_connected(d);
    int err = SSL_get_error(d->ssl, rc);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
      return dtls_fail(d, "the DTLS handshake failed");
    return d->state;
  }
  /* Connected: onair carries no data over DTLS; read to see alerts. */
  uint8_t sink[2048];
  int rc = SSL_read(d->ssl, sink, sizeof(sink));
  if (rc <= 0) {
    int err = SSL_get_error(d->ssl, rc);
    if (err == SSL_ERROR_ZERO_RETURN)
      d->state = DTLS_CLOSED;
    else if (err != SSL_ERROR_WANT_READ)
      return dtls_fail(d, "DTLS error after the handshake");
  }
  ERR_clear_error();
  return d->state;
}

long dtls_timeout_ms(struct dtls *d) {
  struct timeval tv;
  if (d->state != DTLS_HANDSHAKING || DTLSv1_get_timeout(d->ssl, &tv) != 1)
    return -1;
  return tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

enum dtls_state dtls_on_timer(struct dtls *d) {
  if (d->state == DTLS_HANDSHAKING && DTLSv1_handle_timeout(d->ssl) < 0)
    return dtls_fail(d, "the DTLS handshake timed out");
  return d->state;
}

enum dtls_state dtls_get_state(const struct dtls *d) { return d->state; }

const char *dtls_error(const struct dtls *d) { return d->error; }

int dtls_srtp_keys(const struct dtls *d, struct dtls_srtp_keys *out) {
  if (d->state != DTLS_CONNECTED)
    return -EAGAIN;
  *out = d->keys;
  return 0;
}
