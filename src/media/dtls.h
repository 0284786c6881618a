/* DTLS-SRTP (RFC 5764) for one peer, through OpenSSL memory BIOs: datagrams
 * go in with dtls_feed() and come out through a send callback, so the media
 * socket stays ours. onair is always the DTLS server (a=setup:passive). The
 * peer's certificate must hash to the fingerprint its SDP announced before
 * any key is exported. */
#ifndef ONAIR_DTLS_H
#define ONAIR_DTLS_H

#include <stddef.h>
#include <stdint.h>

#define DTLS_FINGERPRINT_MAX 128 /* "sha-256 " + 32 hex pairs with colons */
#define DTLS_SRTP_KEY_MAX 16     /* bytes of an SRTP master key (AES-128) */
#define DTLS_SRTP_SALT_MAX 14    /* bytes of an SRTP master salt (12 for GCM) */

enum dtls_state { DTLS_HANDSHAKING, DTLS_CONNECTED, DTLS_FAILED, DTLS_CLOSED };

enum dtls_srtp_profile {
  DTLS_SRTP_NONE = 0,
  DTLS_SRTP_AES128_CM_SHA1_80 = 1, /* RFC 5764 */
  DTLS_SRTP_AEAD_AES_128_GCM = 7,  /* RFC 7714, preferred */
};

/* Keys for one direction: a master key and salt. */
struct dtls_srtp_keys {
  enum dtls_srtp_profile profile;
  uint8_t local_key[DTLS_SRTP_KEY_MAX], local_salt[DTLS_SRTP_SALT_MAX];   /* what we send */
  uint8_t remote_key[DTLS_SRTP_KEY_MAX], remote_salt[DTLS_SRTP_SALT_MAX]; /* what we receive */
  size_t key_len, salt_len;
};

typedef void (*dtls_send_fn)(void *arg, const uint8_t *data, size_t len);

struct dtls;     /* opaque: one association with a peer */
struct dtls_ctx; /* opaque: our certificate and what every association shares */

/* Makes a certificate (ECDSA P-256, self-signed) and the context of every
 * association that uses it. NULL on failure. Used by one loop at a time. */
struct dtls_ctx *dtls_ctx_new(void);
/* Frees the context; free its associations first. */
void dtls_ctx_free(struct dtls_ctx *x);
/* "sha-256 AB:CD:..." of the context's certificate, for every SDP answer. */
const char *dtls_ctx_fingerprint(const struct dtls_ctx *x);

/* A server-side association expecting a peer whose certificate hashes to
 * remote_fingerprint ("sha-256 XX:..", case-insensitive). NULL on failure. */
struct dtls *dtls_new(struct dtls_ctx *x, const char *remote_fingerprint, dtls_send_fn send,
                      void *arg);
void dtls_free(struct dtls *d);

/* Feeds one received datagram. Returns the state after it; records sent in
 * answer go out through send. */
enum dtls_state dtls_feed(struct dtls *d, const uint8_t *data, size_t len);
/* Retransmits lost handshake flights; call when dtls_timeout_ms() passes. */
enum dtls_state dtls_on_timer(struct dtls *d);
/* Milliseconds until dtls_on_timer() should run, or -1 for none. */
long dtls_timeout_ms(struct dtls *d);

enum dtls_state dtls_get_state(const struct dtls *d);
/* Why the association failed (static text), or NULL. */
const char *dtls_error(const struct dtls *d);
/* The SRTP keys, valid once DTLS_CONNECTED. Returns 0 or -EAGAIN. */
int dtls_srtp_keys(const struct dtls *d, struct dtls_srtp_keys *out);

/* Compares two "sha-256 AB:.." fingerprints (case-insensitive hex). */
int dtls_fingerprint_equal(const char *a, const char *b);

#endif
