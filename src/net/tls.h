/* TLS for the server's TCP connections: OpenSSL through memory BIOs, so the
 * loop owns the socket and TLS only turns bytes into bytes. A struct tls_ctx
 * is the server's certificate and key, read from PEM files and read again on
 * tls_ctx_reload() (SIGHUP): connections made after a reload use the new
 * certificate, open ones keep theirs. A struct tls_conn is one connection's
 * session. */
#ifndef ONAIR_TLS_H
#define ONAIR_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TLS_ERROR_MAX 256 /* bytes of an error message */
#define TLS_RECORD_MAX (16 * 1024)

struct tls_ctx;
struct tls_conn;

/* Reads the certificate chain (PEM, leaf first) and its private key. On
 * failure returns a negative errno and says why in err. TLS 1.2 and 1.3
 * only, with OpenSSL's default ciphers for those. */
int tls_ctx_new(const char *cert_path, const char *key_path, struct tls_ctx **out,
                char err[TLS_ERROR_MAX]);
/* A context for cert_path and key_path that has no certificate yet (they do
 * not exist or cannot be used): new connections are refused (tls_conn_new()
 * returns NULL) until a tls_ctx_reload() succeeds. -ENOMEM. */
int tls_ctx_new_empty(const char *cert_path, const char *key_path, struct tls_ctx **out);
/* 1 once t has a certificate to serve. */
int tls_ctx_ready(const struct tls_ctx *t);
/* Reads the files again. On failure the old certificate stays in use and
 * err says why. */
int tls_ctx_reload(struct tls_ctx *t, char err[TLS_ERROR_MAX]);
/* Frees t; connections made from it stay valid (they hold their own
 * reference to OpenSSL's context). */
void tls_ctx_free(struct tls_ctx *t);
/* The current certificate's notAfter (seconds since the epoch); 0 without
 * one. */
time_t tls_ctx_not_after(const struct tls_ctx *t);

/* A server session on t's current certificate; NULL when out of memory or
 * t has none. */
struct tls_conn *tls_conn_new(struct tls_ctx *t);
void tls_conn_free(struct tls_conn *c);

/* Called with each piece of decrypted data. */
typedef void (*tls_plain_fn)(void *arg, const uint8_t *data, size_t len);

/* Feeds bytes from the peer; plaintext goes to plain (possibly several
 * times). Returns 0, or -EPROTO when the peer broke the protocol (the
 * connection is done; an alert may be pending in the output), or -ECONNRESET
 * after the peer's close_notify. plain may call tls_conn_write(). */
int tls_conn_feed(struct tls_conn *c, const uint8_t *data, size_t len, tls_plain_fn plain,
                  void *arg);
/* Encrypts data for the peer (into the pending output). Before the
 * handshake is done, the data waits and goes out with it. Returns 0 or a
 * negative errno. */
int tls_conn_write(struct tls_conn *c, const uint8_t *data, size_t len);
/* Queues close_notify. */
void tls_conn_close_notify(struct tls_conn *c);
/* Bytes to send to the peer (handshake and records), 0 if none. */
size_t tls_conn_pending(const struct tls_conn *c);
/* Moves up to cap of them into out; returns how many. */
size_t tls_conn_take(struct tls_conn *c, uint8_t *out, size_t cap);
/* 1 once the handshake is done. */
int tls_conn_ready(const struct tls_conn *c);

#endif
