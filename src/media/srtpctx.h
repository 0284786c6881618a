/* SRTP and SRTCP for one peer (libsrtp2), keyed from DTLS-SRTP: one session
 * for what we send, one for what we receive. Packets are processed in
 * place; a protected packet grows by at most SRTPCTX_MAX_TRAILER bytes. */
#ifndef ONAIR_SRTPCTX_H
#define ONAIR_SRTPCTX_H

#include <stddef.h>
#include <stdint.h>

#include "media/dtls.h"

#define SRTPCTX_MAX_TRAILER 144 /* SRTP_MAX_TRAILER_LEN of libsrtp2 */

struct srtpctx; /* opaque */

/* Initialises libsrtp once per process. Returns 0 or -EIO. */
int srtpctx_global_init(void);

/* Sessions from DTLS keys. NULL on failure. */
struct srtpctx *srtpctx_new(const struct dtls_srtp_keys *keys);
void srtpctx_free(struct srtpctx *s);

/* In place. *len is the packet's length before and after; cap is the
 * buffer's size (protect needs len + SRTPCTX_MAX_TRAILER). Return 0,
 * -ENOBUFS, -EACCES (authentication failed / replay) or -EINVAL. */
int srtpctx_protect_rtp(struct srtpctx *s, uint8_t *pkt, size_t *len, size_t cap);
int srtpctx_unprotect_rtp(struct srtpctx *s, uint8_t *pkt, size_t *len);
int srtpctx_protect_rtcp(struct srtpctx *s, uint8_t *pkt, size_t *len, size_t cap);
int srtpctx_unprotect_rtcp(struct srtpctx *s, uint8_t *pkt, size_t *len);

#endif
