/* SRTP and SRTCP (RFC 3711) for one peer, keyed from DTLS-SRTP: one set of
 * session keys for what we send, one for what we receive. Two profiles:
 * AEAD_AES_128_GCM (RFC 7714) and AES_CM_128_HMAC_SHA1_80, both on OpenSSL
 * 3's ciphers. Packets are processed in place; a protected packet grows by
 * at most SRTPCTX_MAX_TRAILER bytes.
 *
 * Per direction, up to SRTPCTX_SSRCS sources each keep their own rollover
 * counter and replay window (1024 SRTP packets, 128 SRTCP packets).
 *
 * Contexts share nothing. Within one, the sending half (the protect
 * functions) and the receiving half (the unprotect functions) share no
 * mutable state: one thread may protect while another unprotects (a
 * viewer's media goes out from a worker while its RTCP is taken on the
 * media plane's loop). Each half is used by one thread at a time, and
 * srtpctx_free() only when neither is in use. */
#ifndef ONAIR_SRTPCTX_H
#define ONAIR_SRTPCTX_H

#include <stddef.h>
#include <stdint.h>

#include "media/dtls.h"

/* bytes: the GCM tag (16) and the SRTCP index (4); AES-CM adds 10 + 4 */
#define SRTPCTX_MAX_TRAILER 20
#define SRTPCTX_SSRCS 16 /* sources per direction */

struct srtpctx; /* opaque */

/* Checks that OpenSSL has the algorithms (AES-128-GCM, AES-128-CTR,
 * SHA-1), once per media plane; there is no process-wide state. Returns 0
 * or -EIO. */
int srtpctx_global_init(void);

/* Session keys derived from the DTLS keys (RFC 3711 §4.3, key derivation
 * rate 0). NULL on failure (an unknown profile, key or salt length, or
 * OpenSSL out of memory). Caller owns; srtpctx_free(). */
struct srtpctx *srtpctx_new(const struct dtls_srtp_keys *keys);
/* Frees s and zeroes its key material. NULL is allowed. */
void srtpctx_free(struct srtpctx *s);

/* In place. *len is the packet's length before and after; cap is the
 * buffer's size (protect needs len + SRTPCTX_MAX_TRAILER). Return 0,
 * -ENOBUFS (cap too small), -EACCES (authentication failed; replayed or
 * older than the replay window; protect: older than the window behind
 * what was sent from that SSRC) or -EINVAL (not a packet: too short, a
 * header longer than the packet, SRTCP without its E flag; protect: a
 * 17th SSRC, the SRTCP index used up). A refused packet's bytes past its
 * header may have changed.
 *
 * Protecting a sequence number again (a NACK's retransmission) is allowed
 * and gives the same bytes for the same plaintext. A packet from an SSRC
 * not heard from yet makes its state only once it authenticates; with
 * SRTPCTX_SSRCS sources already, the one heard from longest ago is
 * forgotten. */
int srtpctx_protect_rtp(struct srtpctx *s, uint8_t *pkt, size_t *len, size_t cap);
int srtpctx_unprotect_rtp(struct srtpctx *s, uint8_t *pkt, size_t *len);
int srtpctx_protect_rtcp(struct srtpctx *s, uint8_t *pkt, size_t *len, size_t cap);
int srtpctx_unprotect_rtcp(struct srtpctx *s, uint8_t *pkt, size_t *len);

#endif
