#include "media/srtpctx.h"

#include <errno.h>
#include <pthread.h>
#include <srtp2/srtp.h>
#include <stdlib.h>
#include <string.h>

struct srtpctx {
  srtp_t out; /* what we send (our keys) */
  srtp_t in;  /* what we receive (the peer's keys) */
};

/* libsrtp keeps its own process-wide state (its crypto kernel), so it is
 * initialised once per process, whichever loop asks first. */
static pthread_once_t srtp_once = PTHREAD_ONCE_INIT;
static int srtp_init_rc;

static void srtpctx_init_once(void) { srtp_init_rc = srtp_init() == srtp_err_status_ok ? 0 : -EIO; }

int srtpctx_global_init(void) {
  pthread_once(&srtp_once, srtpctx_init_once);
  return srtp_init_rc;
}

static int session(srtp_t *out, enum dtls_srtp_profile profile, const uint8_t *key, size_t key_len,
                   const uint8_t *salt, size_t salt_len, int outbound) {
  srtp_policy_t p;
  uint8_t master[DTLS_SRTP_KEY_MAX + DTLS_SRTP_SALT_MAX];
  memset(&p, 0, sizeof(p));
  if (profile == DTLS_SRTP_AEAD_AES_128_GCM) {
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
  } else if (profile == DTLS_SRTP_AES128_CM_SHA1_80) {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtcp);
  } else {
    return -EINVAL;
  }
  memcpy(master, key, key_len);
  memcpy(master + key_len, salt, salt_len);
  p.key = master;
  p.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
  p.window_size = 1024;  /* packets; retransmissions arrive late */
  p.allow_repeat_tx = 1; /* NACK answers resend the same packet */
  int rc = srtp_create(out, &p) == srtp_err_status_ok ? 0 : -EIO;
  memset(master, 0, sizeof(master));
  return rc;
}

struct srtpctx *srtpctx_new(const struct dtls_srtp_keys *k) {
  struct srtpctx *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return NULL;
  if (session(&s->out, k->profile, k->local_key, k->key_len, k->local_salt, k->salt_len, 1) < 0) {
    free(s);
    return NULL;
  }
  if (session(&s->in, k->profile, k->remote_key, k->key_len, k->remote_salt, k->salt_len, 0) < 0) {
    srtp_dealloc(s->out);
    free(s);
    return NULL;
  }
  return s;
}

void srtpctx_free(struct srtpctx *s) {
  if (s == NULL)
    return;
  srtp_dealloc(s->out);
  srtp_dealloc(s->in);
  free(s);
}

static int status_errno(srtp_err_status_t st) {
  switch (st) {
  case srtp_err_status_ok: return 0;
  case srtp_err_status_auth_fail:
  case srtp_err_status_replay_fail:
  case srtp_err_status_replay_old: return -EACCES;
  default: return -EINVAL;
  }
}

int srtpctx_protect_rtp(struct srtpctx *s, uint8_t *pkt, size_t *len, size_t cap) {
  if (*len < 12 || *len + SRTPCTX_MAX_TRAILER > cap)
    return -ENOBUFS;
  int n = (int)*len;
  int rc = status_errno(srtp_protect(s->out, pkt, &n));
  *len = (size_t)n;
  return rc;
}

int srtpctx_unprotect_rtp(struct srtpctx *s, uint8_t *pkt, size_t *len) {
  if (*len < 12 || *len > 65535)
    return -EINVAL;
  int n = (int)*len;
  int rc = status_errno(srtp_unprotect(s->in, pkt, &n));
  *len = (size_t)n;
  return rc;
}

int srtpctx_protect_rtcp(struct srtpctx *s, uint8_t *pkt, size_t *len, size_t cap) {
  if (*len < 8 || *len + SRTPCTX_MAX_TRAILER > cap)
    return -ENOBUFS;
  int n = (int)*len;
  int rc = status_errno(srtp_protect_rtcp(s->out, pkt, &n));
  *len = (size_t)n;
  return rc;
}

int srtpctx_unprotect_rtcp(struct srtpctx *s, uint8_t *pkt, size_t *len) {
  if (*len < 8 || *len > 65535)
    return -EINVAL;
  int n = (int)*len;
  int rc = status_errno(srtp_unprotect_rtcp(s->in, pkt, &n));
  *len = (size_t)n;
  return rc;
}
