/* libsrtp2, the reference onair's SRTP (src/media/srtpctx.c) is checked
 * and measured against: one session per direction of a DTLS-SRTP
 * association, configured as srtpctx.c configured libsrtp when it wrapped it
 * (any SSRC, a replay window of 1024 packets, repeats allowed when
 * sending). Used by tests/unit/test_srtp.c, tests/fuzz/fuzz_srtp.c and
 * bench/srtp-cost.c; srtp_init() first. */
#ifndef ONAIR_TESTS_SRTP_REF_H
#define ONAIR_TESTS_SRTP_REF_H

#include <srtp2/srtp.h>
#include <string.h>

#include "media/dtls.h"

/* A session that sends with k's local key and salt (outbound), or that
 * receives with its remote ones. NULL on failure; srtp_dealloc(). */
static inline srtp_t srtp_ref_session(const struct dtls_srtp_keys *k, int outbound) {
  srtp_policy_t p;
  srtp_t t = NULL;
  uint8_t master[DTLS_SRTP_KEY_MAX + DTLS_SRTP_SALT_MAX];

  memset(&p, 0, sizeof(p));
  if (k->profile == DTLS_SRTP_AEAD_AES_128_GCM) {
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
  } else {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtcp);
  }
  memcpy(master, outbound ? k->local_key : k->remote_key, k->key_len);
  memcpy(master + k->key_len, outbound ? k->local_salt : k->remote_salt, k->salt_len);
  p.key = master;
  p.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
  p.window_size = 1024;
  p.allow_repeat_tx = 1;
  if (srtp_create(&t, &p) != srtp_err_status_ok)
    return NULL;
  return t;
}

#endif
