#include "net/tls.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define TLS_EARLY_MAX (256 * 1024) /* bytes written before the handshake is done */

struct tls_ctx {
  SSL_CTX *ssl_ctx; /* the current certificate's; sessions hold their own reference */
  char *cert_path, *key_path;
  time_t not_after;
};

struct tls_conn {
  SSL *ssl;
  BIO *in, *out;    /* memory BIOs: bytes from and to the peer; the SSL owns them */
  struct buf early; /* plaintext written before the handshake finished */
};

/* The last OpenSSL error, or fallback, into err. */
static void tls_error(char err[TLS_ERROR_MAX], const char *what, const char *path) {
  unsigned long e = ERR_get_error();
  char why[160] = "";
  if (e)
    ERR_error_string_n(e, why, sizeof(why));
  snprintf(err, TLS_ERROR_MAX, "%s %s%s%s", what, path, why[0] ? ": " : "", why);
  ERR_clear_error();
}

/* 1 if OpenSSL's error queue holds reason; the queue is emptied then. */
static int errors_include(int reason) {
  unsigned long e;
  int found = 0;
  while ((e = ERR_get_error()) != 0)
    found |= ERR_GET_REASON(e) == reason;
  return found;
}

static time_t cert_not_after(SSL_CTX *x) {
  X509 *cert = SSL_CTX_get0_certificate(x);
  struct tm tm;
  if (cert == NULL || ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
    return 0;
  return timegm(&tm);
}

/* A context serving cert_path with key_path, or NULL with err set. */
static SSL_CTX *ctx_load(const char *cert_path, const char *key_path, char err[TLS_ERROR_MAX]) {
  SSL_CTX *x = SSL_CTX_new(TLS_server_method());
  if (x == NULL) {
    tls_error(err, "cannot make a TLS context", "");
    return NULL;
  }
  SSL_CTX_set_min_proto_version(x, TLS1_2_VERSION);
  SSL_CTX_set_options(x, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  /* Idle connections give their read and write buffers back. */
  SSL_CTX_set_mode(x, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(x, cert_path) != 1) {
    tls_error(err, "cannot read the certificate", cert_path);
    goto out_free;
  }
  if (SSL_CTX_use_PrivateKey_file(x, key_path, SSL_FILETYPE_PEM) != 1) {
    if (errors_include(X509_R_KEY_VALUES_MISMATCH))
      snprintf(err, TLS_ERROR_MAX, "the private key %s does not match the certificate %s", key_path,
               cert_path);
    else
      tls_error(err, "cannot read the private key", key_path);
    goto out_free;
  }
  if (SSL_CTX_check_private_key(x) != 1) {
    tls_error(err, "the private key does not match the certificate in", cert_path);
    goto out_free;
  }
  return x;
out_free:
  SSL_CTX_free(x);
  return NULL;
}

int tls_ctx_new_empty(const char *cert_path, const char *key_path, struct tls_ctx **out) {
  struct tls_ctx *t = calloc(1, sizeof(*t));
  *out = NULL;
  if (t == NULL || (t->cert_path = strdup(cert_path)) == NULL ||
      (t->key_path = strdup(key_path)) == NULL) {
    tls_ctx_free(t);
    return -ENOMEM;
  }
  *out = t;
  return 0;
}

int tls_ctx_ready(const struct tls_ctx *t) { return t->ssl_ctx != NULL; }

int tls_ctx_new(const char *cert_path, const char *key_path, struct tls_ctx **out,
                char err[TLS_ERROR_MAX]) {
  struct tls_ctx *t;
  if (tls_ctx_new_empty(cert_path, key_path, &t) < 0) {
    snprintf(err, TLS_ERROR_MAX, "out of memory");
    *out = NULL;
    return -ENOMEM;
  }
  int rc = tls_ctx_reload(t, err);
  if (rc < 0) {
    tls_ctx_free(t);
    *out = NULL;
    return rc;
  }
  *out = t;
  return 0;
}

int tls_ctx_reload(struct tls_ctx *t, char err[TLS_ERROR_MAX]) {
  SSL_CTX *x = ctx_load(t->cert_path, t->key_path, err);
  if (x == NULL)
    return -EINVAL;
  SSL_CTX_free(t->ssl_ctx);
  t->ssl_ctx = x;
  t->not_after = cert_not_after(x);
  return 0;
}

void tls_ctx_free(struct tls_ctx *t) {
  if (t == NULL)
    return;
  SSL_CTX_free(t->ssl_ctx);
  free(t->cert_path);
  free(t->key_path);
  free(t);
}

time_t tls_ctx_not_after(const struct tls_ctx *t) { return t->not_after; }

struct tls_conn *tls_conn_new(struct tls_ctx *t) {
  if (t->ssl_ctx == NULL)
    return NULL; /* no certificate yet */
  struct tls_conn *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  c->ssl = SSL_new(t->ssl_ctx);
  c->in = BIO_new(BIO_s_mem());
  c->out = BIO_new(BIO_s_mem());
  if (c->ssl == NULL || c->in == NULL || c->out == NULL) {
    BIO_free(c->in);
    BIO_free(c->out);
    SSL_free(c->ssl);
    free(c);
    return NULL;
  }
  BIO_set_mem_eof_return(c->in, -1); /* empty means "more to come", not EOF */
  SSL_set_bio(c->ssl, c->in, c->out);
  SSL_set_accept_state(c->ssl);
  buf_init(&c->early, TLS_EARLY_MAX);
  return c;
}

void tls_conn_free(struct tls_conn *c) {
  if (c == NULL)
    return;
  SSL_free(c->ssl);
  buf_free(&c->early);
  free(c);
}

int tls_conn_ready(const struct tls_conn *c) { return SSL_is_init_finished(c->ssl); }

static int tls_write_now(struct tls_conn *c, const uint8_t *data, size_t len) {
  while (len > 0) {
    int chunk = len > TLS_RECORD_MAX ? TLS_RECORD_MAX : (int)len;
    int n = SSL_write(c->ssl, data, chunk);
    if (n <= 0) {
      ERR_clear_error();
      return -EPROTO;
    }
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

int tls_conn_write(struct tls_conn *c, const uint8_t *data, size_t len) {
  if (!SSL_is_init_finished(c->ssl))
    return buf_append(&c->early, data, len);
  return tls_write_now(c, data, len);
}

/* Moves the handshake on; 1 when it is done, 0 for more bytes, -EPROTO. */
static int tls_handshake(struct tls_conn *c) {
  if (SSL_is_init_finished(c->ssl))
    return 1;
  int r = SSL_do_handshake(c->ssl);
  if (r == 1) {
    int rc = tls_write_now(c, c->early.data, c->early.len);
    buf_free(&c->early);
    return rc < 0 ? rc : 1;
  }
  int e = SSL_get_error(c->ssl, r);
  ERR_clear_error();
  return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -EPROTO;
}

int tls_conn_feed(struct tls_conn *c, const uint8_t *data, size_t len, tls_plain_fn plain,
                  void *arg) {
  if (len > 0 && BIO_write(c->in, data, (int)len) != (int)len)
    return -ENOMEM;
  int rc = tls_handshake(c);
  if (rc <= 0)
    return rc;
  uint8_t plaintext[TLS_RECORD_MAX];
  for (;;) {
    int n = SSL_read(c->ssl, plaintext, sizeof(plaintext));
    if (n > 0) {
      plain(arg, plaintext, (size_t)n);
      continue;
    }
    int e = SSL_get_error(c->ssl, n);
    ERR_clear_error();
    if (e == SSL_ERROR_WANT_READ)
      return 0;
    return e == SSL_ERROR_ZERO_RETURN ? -ECONNRESET : -EPROTO;
  }
}

void tls_conn_close_notify(struct tls_conn *c) {
  if (SSL_is_init_finished(c->ssl))
    SSL_shutdown(c->ssl);
  ERR_clear_error();
}

size_t tls_conn_pending(const struct tls_conn *c) { return BIO_ctrl_pending(c->out); }

size_t tls_conn_take(struct tls_conn *c, uint8_t *out, size_t cap) {
  int n = BIO_read(c->out, out, cap > INT32_MAX ? INT32_MAX : (int)cap);
  return n > 0 ? (size_t)n : 0;
}
