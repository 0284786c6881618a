/* libFuzzer target for SRTP and SRTCP (src/media/srtpctx.c) as onair meets
 * them, differential against libsrtp2, the reference onair's code replaced.
 *
 * Both ends of a DTLS-SRTP association are keyed from one fixed struct
 * dtls_srtp_keys: onair (srtpctx_new(keys)) and the browser (the same keys
 * with local and remote swapped), each twice, as onair's code and as a
 * libsrtp2 session configured as onair configured it before (any SSRC, a
 * window of 1024, repeats allowed when sending). The input is a profile
 * byte and then a script of operations (README.md, "fuzz_srtp input
 * format") on packets whose plaintext the input gives. Every packet goes
 * through both implementations:
 *
 *   - both protect it or both refuse; SRTP to the same bytes, SRTCP to the
 *     same length (onair numbers SRTCP per context, libsrtp per SSRC);
 *   - both receivers get the same bytes and either both take them, giving
 *     the same plaintext, or both refuse;
 *   - a packet the browser protects reaches onair: it must give back the
 *     plaintext byte for byte in a heap buffer of exactly its size; a
 *     packet one ahead of the last one onair took from its SSRC (or any
 *     SRTCP packet) must be taken;
 *   - the same packet again (a replay) must be refused with -EACCES;
 *   - a copy with one byte changed, or cut short, must be refused, and must
 *     not stop the genuine packet from being taken after it;
 *   - the input's bytes as they are (neither SRTP nor anything) must be
 *     refused or taken without growing, never read or written past;
 *   - onair protects a packet (into exactly len + SRTPCTX_MAX_TRAILER
 *     bytes; one byte less is -ENOBUFS) and the browser takes it back.
 *
 * Sources stay within onair's SSRC table (4 SSRCs), so neither side forgets
 * one. Any broken check traps. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/dtls.h"
#include "media/rtp.h"
#include "media/srtpctx.h"
#include "../srtp_ref.h"
#include "fuzz_input.h"

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond))         \
      __builtin_trap();  \
  } while (0)

#define FUZZ_PKT_MAX 1500             /* bytes of plaintext */
#define FUZZ_BUF (FUZZ_PKT_MAX + 256) /* and any trailer, libsrtp's included */
#define FUZZ_NSSRC 4

enum fuzz_op {
  FUZZ_OP_RTP,      /* the browser protects, onair unprotects */
  FUZZ_OP_RTCP,     /* the same for SRTCP */
  FUZZ_OP_REPLAY,   /* the last packet taken, again */
  FUZZ_OP_TAMPER,   /* a new packet with one byte changed, then the genuine one */
  FUZZ_OP_TRUNCATE, /* a new packet cut short, then the genuine one */
  FUZZ_OP_RAW,      /* the input's bytes as they are */
  FUZZ_OP_SEND,     /* onair protects, the browser unprotects */
  FUZZ_OPS
};

/* One end: onair's code and libsrtp, sending and receiving with the same
 * keys. */
struct fuzz_end {
  struct srtpctx *ctx;
  srtp_t lib_out, lib_in;
};

/* The script's state: both ends, and what onair took. */
static struct {
  struct fuzz_end onair, browser;
  uint8_t last[FUZZ_BUF]; /* the last packet taken, protected */
  size_t last_len;
  int last_rtcp;
  uint16_t high[FUZZ_NSSRC]; /* per SSRC: the highest sequence number taken */
  int have[FUZZ_NSSRC];
} st;

static const uint32_t fuzz_ssrcs[FUZZ_NSSRC] = {0x11223344, 0xCAFEBABE, 1, 0xFFFFFFFF};

/* The next plaintext: a 2-byte length (up to FUZZ_PKT_MAX) and that many
 * bytes from the input (zeros past its end). RTP gets version 2, one of
 * FUZZ_NSSRC SSRCs (by byte 8's low bits) and no RTCP-like second byte;
 * RTCP gets version 2, an RTCP packet type and one of the SSRCs (by byte
 * 4's low bits). */
static size_t fuzz_plaintext(struct fuzz_in *in, uint8_t *p, int rtcp, int *ssrc_idx) {
  size_t len = fuzz_u16(in) % (FUZZ_PKT_MAX + 1);
  size_t take = len < in->n ? len : in->n;
  size_t at = rtcp ? 4 : 8;

  memset(p, 0, FUZZ_PKT_MAX);
  memcpy(p, in->d, take);
  in->d += take;
  in->n -= take;
  if (len < (rtcp ? 8 : RTP_HDR_MIN))
    len = rtcp ? 8 : RTP_HDR_MIN;
  p[0] = (uint8_t)(0x80 | (p[0] & 0x3F));
  if (rtcp)
    p[1] = (uint8_t)(200 + p[1] % 7);
  else
    p[1] &= 0x7F; /* never RTCP-like (72..95 with the marker) */
  *ssrc_idx = p[at] % FUZZ_NSSRC;
  memcpy(p + at, &(uint32_t){__builtin_bswap32(fuzz_ssrcs[*ssrc_idx])}, 4);
  return len;
}

static int fuzz_lib_ok(srtp_err_status_t s) { return s == srtp_err_status_ok; }

/* libsrtp protects len bytes of p into out (FUZZ_BUF bytes). Returns the
 * protected length, or 0 if refused. */
static size_t fuzz_lib_protect(srtp_t t, const uint8_t *p, size_t len, int rtcp, uint8_t *out) {
  int n = (int)len;

  memcpy(out, p, len);
  if (!fuzz_lib_ok(rtcp ? srtp_protect_rtcp(t, out, &n) : srtp_protect(t, out, &n)))
    return 0;
  return (size_t)n;
}

/* e protects p (len bytes) twice: onair's code into a buffer of exactly
 * len + SRTPCTX_MAX_TRAILER bytes (one byte less first: -ENOBUFS), and
 * libsrtp. Both or neither take it; SRTP must come out the same. Returns
 * the protected length (onair's copy in out, libsrtp's in lib_out), or 0
 * if both refused the plaintext. */
static size_t fuzz_protect(struct fuzz_end *e, const uint8_t *p, size_t len, int rtcp, uint8_t *out,
                           uint8_t *lib_out) {
  size_t cap = len + SRTPCTX_MAX_TRAILER, n = len;
  uint8_t *buf = malloc(cap);
  int rc;

  FUZZ_CHECK(buf != NULL);
  memcpy(buf, p, len);
  rc = rtcp ? srtpctx_protect_rtcp(e->ctx, buf, &n, cap - 1)
            : srtpctx_protect_rtp(e->ctx, buf, &n, cap - 1);
  FUZZ_CHECK(rc == -ENOBUFS && n == len);
  rc =
      rtcp ? srtpctx_protect_rtcp(e->ctx, buf, &n, cap) : srtpctx_protect_rtp(e->ctx, buf, &n, cap);
  /* -EACCES: a sequence number the sender's own window is past. */
  FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EACCES);
  size_t lib_n = fuzz_lib_protect(e->lib_out, p, len, rtcp, lib_out);
  FUZZ_CHECK((rc == 0) == (lib_n > 0));
  if (rc == 0) {
    FUZZ_CHECK(n > len && n <= cap && n == lib_n);
    FUZZ_CHECK(rtcp || memcmp(buf, lib_out, n) == 0);
    memcpy(out, buf, n);
  }
  free(buf);
  return rc == 0 ? n : 0;
}

/* e's receivers take len bytes of p: onair's code in a heap buffer of
 * exactly len bytes, and libsrtp. Both take them with the same plaintext
 * (into out, if not NULL, its length to *out_len), or both refuse. Returns
 * onair's result. */
static int fuzz_unprotect(struct fuzz_end *e, const uint8_t *p, size_t len, int rtcp, uint8_t *out,
                          size_t *out_len) {
  static uint8_t lib[FUZZ_BUF];
  uint8_t *buf = malloc(len ? len : 1);
  size_t n = len;
  int rc, lib_n = (int)len;

  FUZZ_CHECK(buf != NULL && len <= sizeof(lib));
  memcpy(buf, p, len);
  rc = rtcp ? srtpctx_unprotect_rtcp(e->ctx, buf, &n) : srtpctx_unprotect_rtp(e->ctx, buf, &n);
  FUZZ_CHECK(rc == 0 || rc == -EACCES || rc == -EINVAL);
  FUZZ_CHECK(rc < 0 || n <= len);
  memcpy(lib, p, len);
  int lib_ok = fuzz_lib_ok(rtcp ? srtp_unprotect_rtcp(e->lib_in, lib, &lib_n)
                                : srtp_unprotect(e->lib_in, lib, &lib_n));
  FUZZ_CHECK((rc == 0) == lib_ok);
  FUZZ_CHECK(rc < 0 || (n == (size_t)lib_n && memcmp(buf, lib, n) == 0));
  if (rc == 0 && out)
    memcpy(out, buf, n);
  *out_len = n;
  free(buf);
  return rc;
}

/* A genuine packet reaches onair: taken (when it must be) with the same
 * plaintext. */
static void fuzz_deliver(const uint8_t *plain, size_t len, const uint8_t *prot, size_t plen,
                         int rtcp, int ssrc_idx) {
  static uint8_t back[FUZZ_BUF];
  uint16_t seq = (uint16_t)(plain[2] << 8 | plain[3]);
  size_t n;
  int rc = fuzz_unprotect(&st.onair, prot, plen, rtcp, back, &n);

  /* Newer than anything taken from its SSRC: no replay, never too old. */
  if (rtcp || !st.have[ssrc_idx] || seq == (uint16_t)(st.high[ssrc_idx] + 1))
    FUZZ_CHECK(rc == 0);
  if (rc < 0) {
    FUZZ_CHECK(rc == -EACCES);
    return;
  }
  FUZZ_CHECK(n == len && memcmp(back, plain, len) == 0);
  if (!rtcp && (!st.have[ssrc_idx] || (int16_t)(seq - st.high[ssrc_idx]) > 0)) {
    st.high[ssrc_idx] = seq;
    st.have[ssrc_idx] = 1;
  }
  memcpy(st.last, prot, plen);
  st.last_len = plen;
  st.last_rtcp = rtcp;
}

/* A new packet from the browser: forged (one byte changed, or cut short)
 * first, then genuine. SRTCP goes as libsrtp numbered it (as browsers
 * do), SRTP as both protected it. */
static void fuzz_packet(struct fuzz_in *in, enum fuzz_op op, int rtcp) {
  static uint8_t plain[FUZZ_PKT_MAX], ours[FUZZ_BUF], prot[FUZZ_BUF];
  int ssrc_idx = 0;
  size_t len = fuzz_plaintext(in, plain, rtcp, &ssrc_idx), plen, n;
  size_t pos = fuzz_u16(in);
  uint8_t flip = fuzz_byte(in);

  plen = fuzz_protect(&st.browser, plain, len, rtcp, ours, prot);
  if (plen == 0)
    return;
  if (op == FUZZ_OP_TAMPER) {
    prot[pos % plen] ^= flip ? flip : 1;
    FUZZ_CHECK(fuzz_unprotect(&st.onair, prot, plen, rtcp, NULL, &n) < 0);
    prot[pos % plen] ^= flip ? flip : 1;
  } else if (op == FUZZ_OP_TRUNCATE) {
    FUZZ_CHECK(fuzz_unprotect(&st.onair, prot, pos % plen, rtcp, NULL, &n) < 0);
  }
  fuzz_deliver(plain, len, prot, plen, rtcp, ssrc_idx);
}

/* onair protects what it sends a viewer; the browser takes it back. */
static void fuzz_send(struct fuzz_in *in, int rtcp) {
  static uint8_t plain[FUZZ_PKT_MAX], prot[FUZZ_BUF], lib[FUZZ_BUF], back[FUZZ_BUF];
  int ssrc_idx = 0;
  size_t len = fuzz_plaintext(in, plain, rtcp, &ssrc_idx), plen, n;

  plen = fuzz_protect(&st.onair, plain, len, rtcp, prot, lib);
  if (plen == 0)
    return;
  if (fuzz_unprotect(&st.browser, prot, plen, rtcp, back, &n) == 0)
    FUZZ_CHECK(n == len && memcmp(back, plain, len) == 0);
  else
    FUZZ_CHECK(!rtcp); /* SRTP may refuse an old sequence number; SRTCP never */
}

static void fuzz_raw(struct fuzz_in *in, int rtcp) {
  size_t len = fuzz_byte(in), n;

  len = len < in->n ? len : in->n;
  fuzz_unprotect(&st.onair, in->d, len, rtcp, NULL, &n);
  in->d += len;
  in->n -= len;
}

static void fuzz_keys(uint8_t b, struct dtls_srtp_keys *onair, struct dtls_srtp_keys *browser) {
  memset(onair, 0, sizeof(*onair));
  onair->profile = b & 1 ? DTLS_SRTP_AEAD_AES_128_GCM : DTLS_SRTP_AES128_CM_SHA1_80;
  onair->key_len = DTLS_SRTP_KEY_MAX;
  onair->salt_len = b & 1 ? 12 : DTLS_SRTP_SALT_MAX;
  for (size_t i = 0; i < DTLS_SRTP_KEY_MAX; i++) {
    onair->local_key[i] = (uint8_t)(0x10 + i);
    onair->remote_key[i] = (uint8_t)(0xA0 + i);
  }
  for (size_t i = 0; i < DTLS_SRTP_SALT_MAX; i++) {
    onair->local_salt[i] = (uint8_t)(0x30 + i);
    onair->remote_salt[i] = (uint8_t)(0xC0 + i);
  }
  *browser = *onair;
  memcpy(browser->local_key, onair->remote_key, DTLS_SRTP_KEY_MAX);
  memcpy(browser->remote_key, onair->local_key, DTLS_SRTP_KEY_MAX);
  memcpy(browser->local_salt, onair->remote_salt, DTLS_SRTP_SALT_MAX);
  memcpy(browser->remote_salt, onair->local_salt, DTLS_SRTP_SALT_MAX);
}

static void fuzz_end_open(struct fuzz_end *e, const struct dtls_srtp_keys *k) {
  e->ctx = srtpctx_new(k);
  FUZZ_CHECK(e->ctx != NULL);
  e->lib_out = srtp_ref_session(k, 1);
  e->lib_in = srtp_ref_session(k, 0);
  FUZZ_CHECK(e->lib_out != NULL && e->lib_in != NULL);
}

static void fuzz_end_close(struct fuzz_end *e) {
  srtpctx_free(e->ctx);
  srtp_dealloc(e->lib_out);
  srtp_dealloc(e->lib_in);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  FUZZ_CHECK(srtpctx_global_init() == 0);
  FUZZ_CHECK(srtp_init() == srtp_err_status_ok);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fuzz_in in = {data, size};
  struct dtls_srtp_keys ko, kb;

  if (size < 1)
    return 0;
  memset(&st, 0, sizeof(st));
  fuzz_keys(fuzz_byte(&in), &ko, &kb);
  fuzz_end_open(&st.onair, &ko);
  fuzz_end_open(&st.browser, &kb);
  while (in.n > 0) {
    uint8_t op = fuzz_byte(&in);
    size_t n;

    switch (op % FUZZ_OPS) {
    case FUZZ_OP_RTP:
    case FUZZ_OP_RTCP:
    case FUZZ_OP_TAMPER:
    case FUZZ_OP_TRUNCATE:
      fuzz_packet(&in, (enum fuzz_op)(op % FUZZ_OPS),
                  op % FUZZ_OPS == FUZZ_OP_RTCP || (op % FUZZ_OPS != FUZZ_OP_RTP && (op & 0x80)));
      break;
    case FUZZ_OP_REPLAY:
      if (st.last_len)
        FUZZ_CHECK(fuzz_unprotect(&st.onair, st.last, st.last_len, st.last_rtcp, NULL, &n) ==
                   -EACCES);
      break;
    case FUZZ_OP_RAW: fuzz_raw(&in, op & 0x80); break;
    default: fuzz_send(&in, op & 0x80); break;
    }
  }
  fuzz_end_close(&st.onair);
  fuzz_end_close(&st.browser);
  return 0;
}
