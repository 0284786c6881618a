/* SRTP and SRTCP on OpenSSL 3: AES-128-GCM (RFC 7714) as an EVP AEAD,
 * AES-128 counter mode (RFC 3711 §4.1.1) as EVP aes-128-ctr and HMAC-SHA1
 * (§4.2.1) as RFC 2104 over OpenSSL's SHA1 with the keyed pads hashed
 * once. Every cipher context is made and keyed once, in
 * srtpctx_new(); a packet only sets its IV. What is ours is the packet
 * layout, the key derivation (§4.3), the index (rollover counter, §3.3.1)
 * and the replay windows (§3.3.2), checked against libsrtp2 and the RFCs'
 * vectors in tests/unit/test_srtp.c.
 *
 * libsrtp2's behaviour is kept where peers can see it: the first packet of
 * a source takes rollover counter 0, replay windows of 1024 SRTP and 128
 * SRTCP indexes, the first SRTCP index sent is 1. Unlike it, onair counts
 * SRTCP indexes per context rather than per SSRC (RFC 3711 only asks that
 * one never repeats under a key) and takes no unencrypted SRTCP. */

/* HMAC-SHA1 is SHA1_Init/Update/Final (deprecated in OpenSSL 3, kept for
 * this) from the inner and outer states of the key: OpenSSL 3.0's HMAC_CTX
 * and EVP_MAC copy a provider context per call (an allocation and a free,
 * EVP_MD_CTX_copy_ex), 7 % of onair's CPU with AES-CM in a perf profile at
 * 150 viewers. The construction is checked by the RFC 3711 vectors and
 * against libsrtp2 in test_srtp. */
#define OPENSSL_API_COMPAT 0x10100000L

#include "media/srtpctx.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "util/be.h"

#define SC_KEY 16        /* bytes of an AES-128 key, master or session */
#define SC_SALT_CM 14    /* bytes of a master or session salt for AES-CM */
#define SC_SALT_GCM 12   /* the same for GCM (RFC 7714 §11) */
#define SC_AUTH_KEY 20   /* bytes of the HMAC-SHA1 session key */
#define SC_SHA1 20       /* bytes of an HMAC-SHA1 output */
#define SC_TAG_CM 10     /* HMAC_SHA1_80 */
#define SC_TAG_GCM 16    /* AEAD_AES_128_GCM */
#define SC_IV 16         /* bytes of an AES-CM IV; GCM uses the first 12 */
#define SC_E_INDEX 4     /* bytes of SRTCP's E flag and 31-bit index */
#define SC_RTP_HDR 12    /* bytes of an RTP header without CSRCs */
#define SC_RTCP_HDR 8    /* bytes of the RTCP header left in the clear */
#define SC_PKT_MAX 65535 /* bytes: a UDP payload */
#define SC_RTP_WIN 1024  /* SRTP indexes a replay window spans */
#define SC_RTCP_WIN 128  /* SRTCP indexes a replay window spans */
#define SC_ROC_MAX 0xFFFFFFFFu
#define SC_RTCP_INDEX_MAX 0x7FFFFFFFu
#define SC_E_FLAG 0x80000000u

_Static_assert(SC_TAG_GCM + SC_E_INDEX <= SRTPCTX_MAX_TRAILER, "GCM trailer");
_Static_assert(SC_TAG_CM + SC_E_INDEX <= SRTPCTX_MAX_TRAILER, "AES-CM trailer");

enum { SC_RTP, SC_RTCP }; /* index of the session keys: SRTP, SRTCP */

/* One direction's session keys (RFC 3711 §4.3): [SC_RTP] and [SC_RTCP]. */
struct srtpctx_session {
  uint8_t key[2][SC_KEY];
  uint8_t salt[2][SC_SALT_CM];  /* GCM uses the first SC_SALT_GCM bytes */
  uint8_t auth[2][SC_AUTH_KEY]; /* AES-CM only */
};

/* One direction's keyed ciphers. */
struct srtpctx_keys {
  EVP_CIPHER_CTX *aes[2]; /* AES-128-GCM or -CTR, keyed, for this direction */
  struct sc_hmac {        /* AES-CM only: SHA1 after the key's inner and outer pad */
    SHA_CTX inner, outer;
  } hmac[2];
  uint8_t salt[2][SC_SALT_CM];
};

/* What was taken from one source. An index is ROC << 16 | SEQ for SRTP,
 * the 31-bit SRTCP index for SRTCP; bit i % window of seen says whether
 * index i (within the window below top) was taken. */
struct srtpctx_in {
  uint32_t ssrc;
  uint64_t used; /* the context's clock when a packet was last taken */
  uint64_t rtp_top;
  uint64_t rtp_seen[SC_RTP_WIN / 64];
  uint64_t rtcp_top;
  uint64_t rtcp_seen[SC_RTCP_WIN / 64];
};

/* What was sent from one source: the highest SRTP index. */
struct srtpctx_out {
  uint32_t ssrc;
  uint64_t top;
};

/* Set once: the profile. Then the sending half (out, outs, rtcp_index:
 * only protect touches them) and the receiving half (in, ins, clock: only
 * unprotect), which two threads may use at once (srtpctx.h). */
struct srtpctx {
  int gcm;    /* AEAD_AES_128_GCM, else AES_CM_128_HMAC_SHA1_80 */
  size_t tag; /* bytes of the authentication tag */

  struct srtpctx_keys out;
  uint32_t rtcp_index; /* the last SRTCP index sent; 0 before the first */
  size_t nouts;
  struct srtpctx_out outs[SRTPCTX_SSRCS];

  struct srtpctx_keys in;
  size_t nins;
  uint64_t clock; /* packets taken, to find the source heard from longest ago */
  struct srtpctx_in ins[SRTPCTX_SSRCS];
};

/* ---- keys ---- */

/* The IV of a packet: the SSRC and the 48-bit index, XOR the session salt.
 * AES-CM (RFC 3711 §4.1.1): 16 bytes, the SSRC at byte 4, the index at 8.
 * GCM (RFC 7714 §8.1, §9.1): 12 bytes, the SSRC at byte 2, the index at 6
 * (an SRTCP index is 0 || 31 bits there, so one layout serves both). */
static void iv_make(uint8_t iv[SC_IV], int gcm, const uint8_t *salt, uint32_t ssrc,
                    uint64_t index) {
  size_t at = gcm ? 2 : 4, n = gcm ? SC_SALT_GCM : SC_SALT_CM;
  memset(iv, 0, SC_IV);
  be_wr32(iv + at, ssrc);
  for (int b = 0; b < 6; b++)
    iv[at + 4 + (size_t)b] = (uint8_t)(index >> (40 - 8 * b));
  for (size_t b = 0; b < n; b++)
    iv[b] ^= salt[b];
}

/* AES-CM: n bytes at p XORed with the keystream from iv, in place. c is an
 * AES-128-CTR context keyed already; its counter is all 128 bits of the
 * IV, which for a packet (under 2^16 blocks from a counter ending in 0000)
 * is RFC 3711's 16-bit block counter. */
static int ctr_xor(EVP_CIPHER_CTX *c, const uint8_t iv[SC_IV], uint8_t *p, size_t n) {
  int out;
  return EVP_CipherInit_ex2(c, NULL, NULL, iv, -1, NULL) && EVP_CipherUpdate(c, p, &out, p, (int)n)
             ? 0
             : -EINVAL;
}

/* The key derivation PRF (RFC 3711 §4.3.1, §4.3.3) with a key derivation
 * rate of 0: n bytes of AES-CM keystream under the master key (prf) from
 * (master salt XOR label << 48) * 2^16. A GCM master salt comes padded
 * with two zero bytes (RFC 7714 §11, erratum 4938). */
static int kdf(EVP_CIPHER_CTX *prf, const uint8_t salt[SC_SALT_CM], int label, uint8_t *out,
               size_t n) {
  uint8_t iv[SC_IV] = {0};
  memcpy(iv, salt, SC_SALT_CM);
  iv[7] ^= (uint8_t)label;
  memset(out, 0, n);
  return ctr_xor(prf, iv, out, n);
}

/* One direction's session keys from its master key and salt. Labels 0-2
 * key SRTP (cipher key, auth key, salt), 3-5 SRTCP. */
static int session_derive(struct srtpctx_session *sk, int gcm, const uint8_t *master_key,
                          const uint8_t *master_salt, size_t salt_len) {
  uint8_t salt[SC_SALT_CM] = {0};
  EVP_CIPHER *aes = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
  EVP_CIPHER_CTX *prf = EVP_CIPHER_CTX_new();
  int rc = -EIO;
  memcpy(salt, master_salt, salt_len);
  if (aes && prf && EVP_CipherInit_ex2(prf, aes, master_key, NULL, 1, NULL)) {
    rc = 0;
    for (int i = SC_RTP; i <= SC_RTCP && rc == 0; i++) {
      rc = kdf(prf, salt, 3 * i, sk->key[i], SC_KEY);
      if (rc == 0 && !gcm)
        rc = kdf(prf, salt, 3 * i + 1, sk->auth[i], SC_AUTH_KEY);
      if (rc == 0)
        rc = kdf(prf, salt, 3 * i + 2, sk->salt[i], gcm ? SC_SALT_GCM : SC_SALT_CM);
    }
  }
  OPENSSL_cleanse(salt, sizeof(salt));
  EVP_CIPHER_CTX_free(prf); /* clears its key schedule */
  EVP_CIPHER_free(aes);
  return rc;
}

/* h's SHA1 states after the key's inner and outer pads (RFC 2104; the
 * 20-byte key is shorter than SHA1's 64-byte block). */
static int hmac_key(struct sc_hmac *h, const uint8_t key[SC_AUTH_KEY]) {
  uint8_t pad[SHA_CBLOCK];
  int ok;
  memset(pad, 0x36, sizeof(pad));
  for (int i = 0; i < SC_AUTH_KEY; i++)
    pad[i] ^= key[i];
  ok = SHA1_Init(&h->inner) && SHA1_Update(&h->inner, pad, sizeof(pad));
  memset(pad, 0x5c, sizeof(pad));
  for (int i = 0; i < SC_AUTH_KEY; i++)
    pad[i] ^= key[i];
  ok = ok && SHA1_Init(&h->outer) && SHA1_Update(&h->outer, pad, sizeof(pad));
  OPENSSL_cleanse(pad, sizeof(pad));
  return ok ? 0 : -EIO;
}

/* The ciphers of one direction, keyed once: enc 1 for what we send. */
static int keys_set(struct srtpctx_keys *k, int gcm, int enc, const struct srtpctx_session *sk) {
  EVP_CIPHER *aes = EVP_CIPHER_fetch(NULL, gcm ? "AES-128-GCM" : "AES-128-CTR", NULL);
  int ok = aes != NULL;
  for (int i = SC_RTP; i <= SC_RTCP && ok; i++) {
    ok = (k->aes[i] = EVP_CIPHER_CTX_new()) != NULL &&
         EVP_CipherInit_ex2(k->aes[i], aes, sk->key[i], NULL, enc, NULL);
    if (ok && !gcm)
      ok = hmac_key(&k->hmac[i], sk->auth[i]) == 0;
  }
  memcpy(k->salt, sk->salt, sizeof(k->salt));
  EVP_CIPHER_free(aes); /* the contexts hold their own reference */
  return ok ? 0 : -EIO;
}

static void keys_free(struct srtpctx_keys *k) {
  for (int i = SC_RTP; i <= SC_RTCP; i++) {
    EVP_CIPHER_CTX_free(k->aes[i]);
    OPENSSL_cleanse(&k->hmac[i], sizeof(k->hmac[i]));
  }
}

int srtpctx_global_init(void) {
  EVP_CIPHER *gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
  EVP_CIPHER *ctr = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
  EVP_MD *sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
  int rc = gcm && ctr && sha1 ? 0 : -EIO;
  EVP_CIPHER_free(gcm);
  EVP_CIPHER_free(ctr);
  EVP_MD_free(sha1);
  return rc;
}

/* A context from session keys (the RFC 7714 vectors give those). */
static struct srtpctx *srtpctx_new_session(int gcm, const struct srtpctx_session *out,
                                           const struct srtpctx_session *in) {
  struct srtpctx *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return NULL;
  s->gcm = gcm;
  s->tag = gcm ? SC_TAG_GCM : SC_TAG_CM;
  if (keys_set(&s->out, gcm, 1, out) < 0 || keys_set(&s->in, gcm, 0, in) < 0) {
    srtpctx_free(s);
    return NULL;
  }
  return s;
}

struct srtpctx *srtpctx_new(const struct dtls_srtp_keys *k) {
  int gcm = k->profile == DTLS_SRTP_AEAD_AES_128_GCM;
  struct srtpctx_session out, in;
  struct srtpctx *s = NULL;
  if ((!gcm && k->profile != DTLS_SRTP_AES128_CM_SHA1_80) || k->key_len != SC_KEY ||
      k->salt_len != (gcm ? SC_SALT_GCM : SC_SALT_CM))
    return NULL;
  memset(&out, 0, sizeof(out));
  memset(&in, 0, sizeof(in));
  if (session_derive(&out, gcm, k->local_key, k->local_salt, k->salt_len) == 0 &&
      session_derive(&in, gcm, k->remote_key, k->remote_salt, k->salt_len) == 0)
    s = srtpctx_new_session(gcm, &out, &in);
  OPENSSL_cleanse(&out, sizeof(out));
  OPENSSL_cleanse(&in, sizeof(in));
  return s;
}

void srtpctx_free(struct srtpctx *s) {
  if (s == NULL)
    return;
  keys_free(&s->out);
  keys_free(&s->in);
  OPENSSL_cleanse(s, sizeof(*s));
  free(s);
}

/* ---- transforms ---- */

/* AES-GCM over pkt: the first aad bytes (and the 4 of more, if not NULL)
 * authenticated, bytes aad..n encrypted or decrypted in place, the tag at
 * pkt + n written (enc) or checked. c's direction was set when keyed. */
static int gcm_run(EVP_CIPHER_CTX *c, int enc, const uint8_t iv[SC_IV], uint8_t *pkt, size_t aad,
                   size_t n, const uint8_t *more) {
  int out;
  if (!EVP_CipherInit_ex2(c, NULL, NULL, iv, -1, NULL) ||
      (!enc && !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, SC_TAG_GCM, pkt + n)) ||
      !EVP_CipherUpdate(c, NULL, &out, pkt, (int)aad) ||
      (more && !EVP_CipherUpdate(c, NULL, &out, more, SC_E_INDEX)) ||
      !EVP_CipherUpdate(c, pkt + aad, &out, pkt + aad, (int)(n - aad)) ||
      !EVP_CipherFinal_ex(c, pkt + n, &out) ||
      (enc && !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, SC_TAG_GCM, pkt + n)))
    return enc ? -EINVAL : -EACCES;
  return 0;
}

/* HMAC-SHA1 of n bytes at p, then the 4 bytes of roc if not NULL
 * (RFC 2104: SHA1(key ^ opad || SHA1(key ^ ipad || text)), both pads
 * hashed once by hmac_key()). */
static int hmac_sha1(const struct sc_hmac *h, const uint8_t *p, size_t n, const uint8_t *roc,
                     uint8_t mac[SC_SHA1]) {
  SHA_CTX c = h->inner;
  int ok = SHA1_Update(&c, p, n) && (roc == NULL || SHA1_Update(&c, roc, 4)) && SHA1_Final(mac, &c);
  c = h->outer;
  ok = ok && SHA1_Update(&c, mac, SC_SHA1) && SHA1_Final(mac, &c);
  OPENSSL_cleanse(&c, sizeof(c));
  return ok ? 0 : -EINVAL;
}

/* AES-CM and HMAC-SHA1-80: bytes from..to of pkt encrypted and the tag
 * written at pkt + n (enc), or the tag at pkt + n checked and bytes
 * from..to decrypted. The tag covers pkt[0..n) and then the 4 bytes of roc
 * (SRTP's rollover counter) if not NULL. */
static int cm_run(struct srtpctx_keys *k, int i, int enc, const uint8_t iv[SC_IV], uint8_t *pkt,
                  size_t from, size_t to, size_t n, const uint8_t *roc) {
  uint8_t mac[SC_SHA1];
  if (enc && ctr_xor(k->aes[i], iv, pkt + from, to - from) < 0)
    return -EINVAL;
  if (hmac_sha1(&k->hmac[i], pkt, n, roc, mac) < 0)
    return enc ? -EINVAL : -EACCES;
  if (enc) {
    memcpy(pkt + n, mac, SC_TAG_CM);
    return 0;
  }
  if (CRYPTO_memcmp(mac, pkt + n, SC_TAG_CM) != 0)
    return -EACCES;
  return ctr_xor(k->aes[i], iv, pkt + from, to - from) < 0 ? -EACCES : 0;
}

/* SRTP: the payload (from hlen to n) of the packet with this index through
 * k's cipher, the tag at pkt + n. */
static int rtp_run(struct srtpctx *s, struct srtpctx_keys *k, int enc, uint8_t *pkt, size_t hlen,
                   size_t n, uint64_t index) {
  uint8_t iv[SC_IV], roc[4];
  iv_make(iv, s->gcm, k->salt[SC_RTP], be_rd32(pkt + 8), index);
  if (s->gcm)
    return gcm_run(k->aes[SC_RTP], enc, iv, pkt, hlen, n, NULL);
  be_wr32(roc, (uint32_t)(index >> 16));
  return cm_run(k, SC_RTP, enc, iv, pkt, hlen, n, n, roc);
}

/* SRTCP: everything after the 8-byte header (up to n) through k's cipher.
 * GCM (RFC 7714 §9): the tag at pkt + n, then E and the index, which are
 * authenticated too. AES-CM (RFC 3711 §3.4): E and the index at pkt + n,
 * then the tag over everything before it. */
static int rtcp_run(struct srtpctx *s, struct srtpctx_keys *k, int enc, uint8_t *pkt, size_t n) {
  uint8_t iv[SC_IV];
  const uint8_t *e_index = pkt + n + (s->gcm ? SC_TAG_GCM : 0);
  iv_make(iv, s->gcm, k->salt[SC_RTCP], be_rd32(pkt + 4), be_rd32(e_index) & SC_RTCP_INDEX_MAX);
  if (s->gcm)
    return gcm_run(k->aes[SC_RTCP], enc, iv, pkt, SC_RTCP_HDR, n, e_index);
  return cm_run(k, SC_RTCP, enc, iv, pkt, SC_RTCP_HDR, n, n + SC_E_INDEX, NULL);
}

/* ---- indexes and replay windows ---- */

/* RFC 3711 §3.3.1 and Appendix A: the index of a packet with sequence
 * number seq from a source whose highest index is top. The rollover
 * counter never goes below 0 (a source's first packets near 65535 and then
 * a little back: libsrtp does the same) nor past 2^32 - 1 (the key must be
 * replaced before, §9.2; a wrap there guesses an old index, refused). */
static uint64_t index_guess(uint64_t top, uint16_t seq) {
  uint64_t roc = top >> 16;
  int s_l = (uint16_t)top;
  if (s_l < 0x8000) {
    if (seq - s_l > 0x8000 && roc > 0)
      roc--;
  } else if (s_l - 0x8000 > seq && roc < SC_ROC_MAX) {
    roc++;
  }
  return roc << 16 | seq;
}

/* 0 if index i is new to a window of w indexes (a power of two) whose
 * highest is top: above it, or within w below and not seen. */
static int replay_check(uint64_t top, const uint64_t *seen, uint64_t w, uint64_t i) {
  if (i > top)
    return 0;
  if (top - i >= w)
    return -EACCES; /* too old to tell */
  return seen[i % w / 64] >> (i % 64) & 1 ? -EACCES : 0;
}

/* Marks index i taken; the window moves up to it if it is above top. */
static void replay_take(uint64_t *top, uint64_t *seen, uint64_t w, uint64_t i) {
  if (i > *top && i - *top >= w) {
    memset(seen, 0, w / 8);
  } else {
    for (uint64_t j = *top + 1; j < i; j++) /* indexes that leave the window */
      seen[j % w / 64] &= ~(1ULL << (j % 64));
  }
  if (i > *top)
    *top = i;
  seen[i % w / 64] |= 1ULL << (i % 64);
}

static struct srtpctx_in *in_find(struct srtpctx *s, uint32_t ssrc) {
  for (size_t i = 0; i < s->nins; i++) {
    if (s->ins[i].ssrc == ssrc)
      return &s->ins[i];
  }
  return NULL;
}

/* The state of a source whose first packet just authenticated: a free
 * slot, else the one heard from longest ago (which, should it come back,
 * starts over at rollover counter 0 with an empty replay window). A fresh
 * SRTCP window is libsrtp's: indexes 0..127 all unseen. */
static struct srtpctx_in *in_add(struct srtpctx *s, uint32_t ssrc) {
  struct srtpctx_in *e = &s->ins[0];
  if (s->nins < SRTPCTX_SSRCS) {
    e = &s->ins[s->nins++];
  } else {
    for (size_t i = 1; i < SRTPCTX_SSRCS; i++) {
      if (s->ins[i].used < e->used)
        e = &s->ins[i];
    }
  }
  memset(e, 0, sizeof(*e));
  e->ssrc = ssrc;
  e->rtcp_top = SC_RTCP_WIN - 1;
  return e;
}

/* The state of a source we send from, made on its first packet. NULL when
 * SRTPCTX_SSRCS are in use: forgetting one could repeat a (ROC, SEQ), and
 * with it a keystream, were the source to come back. */
static struct srtpctx_out *out_get(struct srtpctx *s, uint32_t ssrc) {
  for (size_t i = 0; i < s->nouts; i++) {
    if (s->outs[i].ssrc == ssrc)
      return &s->outs[i];
  }
  if (s->nouts == SRTPCTX_SSRCS)
    return NULL;
  s->outs[s->nouts] = (struct srtpctx_out){.ssrc = ssrc};
  return &s->outs[s->nouts++];
}

/* 0 if index i of a packet from e's source (SRTCP if rtcp) is new to it;
 * any index is new to a source not heard from yet (e NULL). */
static int in_check(const struct srtpctx_in *e, int rtcp, uint64_t i) {
  if (e == NULL)
    return 0;
  return rtcp ? replay_check(e->rtcp_top, e->rtcp_seen, SC_RTCP_WIN, i)
              : replay_check(e->rtp_top, e->rtp_seen, SC_RTP_WIN, i);
}

/* A packet from ssrc with index i authenticated: its source's state e
 * (made now if NULL) takes the index. */
static void in_take(struct srtpctx *s, struct srtpctx_in *e, uint32_t ssrc, int rtcp, uint64_t i) {
  if (e == NULL)
    e = in_add(s, ssrc);
  if (rtcp)
    replay_take(&e->rtcp_top, e->rtcp_seen, SC_RTCP_WIN, i);
  else
    replay_take(&e->rtp_top, e->rtp_seen, SC_RTP_WIN, i);
  e->used = ++s->clock;
}

/* ---- packets ---- */

/* The length of the RTP header at p (CSRCs and extension included), which
 * must fit in len bytes. */
static int rtp_hdr_len(const uint8_t *p, size_t len, size_t *hlen) {
  if (len < SC_RTP_HDR)
    return -EINVAL;
  size_t h = SC_RTP_HDR + 4 * (size_t)(p[0] & 0x0F);
  if (p[0] & 0x10) {
    if (len < h + 4)
      return -EINVAL;
    h += 4 + 4 * (size_t)(p[h + 2] << 8 | p[h + 3]);
  }
  if (len < h)
    return -EINVAL;
  *hlen = h;
  return 0;
}

int srtpctx_protect_rtp(struct srtpctx *s, uint8_t *pkt, size_t *len, size_t cap) {
  size_t hlen;
  if (*len + SRTPCTX_MAX_TRAILER > cap)
    return -ENOBUFS;
  if (*len > SC_PKT_MAX || rtp_hdr_len(pkt, *len, &hlen) < 0)
    return -EINVAL;
  struct srtpctx_out *o = out_get(s, be_rd32(pkt + 8));
  if (o == NULL)
    return -EINVAL;
  uint64_t i = index_guess(o->top, be_rd16(pkt + 2));
  if (i + SC_RTP_WIN <= o->top)
    return -EACCES; /* as libsrtp: a sender's own window is past it */
  if (i > o->top)
    o->top = i; /* at or below: sent again (a NACK's answer) */
  int rc = rtp_run(s, &s->out, 1, pkt, hlen, *len, i);
  if (rc == 0)
    *len += s->tag;
  return rc;
}

int srtpctx_unprotect_rtp(struct srtpctx *s, uint8_t *pkt, size_t *len) {
  size_t hlen;
  if (*len > SC_PKT_MAX || rtp_hdr_len(pkt, *len, &hlen) < 0 || *len - hlen < s->tag)
    return -EINVAL;
  uint32_t ssrc = be_rd32(pkt + 8);
  struct srtpctx_in *e = in_find(s, ssrc);
  /* A new source's first packet: rollover counter 0, no window yet. */
  uint64_t i = index_guess(e ? e->rtp_top : 0, be_rd16(pkt + 2));
  size_t n = *len - s->tag;
  int rc = in_check(e, 0, i) < 0 ? -EACCES : rtp_run(s, &s->in, 0, pkt, hlen, n, i);
  if (rc == 0) {
    in_take(s, e, ssrc, 0, i);
    *len = n;
  }
  return rc;
}

int srtpctx_protect_rtcp(struct srtpctx *s, uint8_t *pkt, size_t *len, size_t cap) {
  size_t n = *len;
  if (n + SRTPCTX_MAX_TRAILER > cap)
    return -ENOBUFS;
  if (n < SC_RTCP_HDR || n > SC_PKT_MAX || s->rtcp_index == SC_RTCP_INDEX_MAX)
    return -EINVAL;
  s->rtcp_index++;
  be_wr32(pkt + n + (s->gcm ? SC_TAG_GCM : 0), SC_E_FLAG | s->rtcp_index);
  int rc = rtcp_run(s, &s->out, 1, pkt, n);
  if (rc == 0)
    *len = n + s->tag + SC_E_INDEX;
  return rc;
}

int srtpctx_unprotect_rtcp(struct srtpctx *s, uint8_t *pkt, size_t *len) {
  if (*len > SC_PKT_MAX || *len < SC_RTCP_HDR + s->tag + SC_E_INDEX)
    return -EINVAL;
  size_t n = *len - s->tag - SC_E_INDEX;
  uint32_t e_index = be_rd32(pkt + n + (s->gcm ? SC_TAG_GCM : 0));
  if (!(e_index & SC_E_FLAG))
    return -EINVAL; /* unencrypted SRTCP: never what onair negotiates */
  uint64_t i = e_index & SC_RTCP_INDEX_MAX;
  uint32_t ssrc = be_rd32(pkt + 4);
  struct srtpctx_in *e = in_find(s, ssrc);
  int rc = in_check(e, 1, i) < 0 ? -EACCES : rtcp_run(s, &s->in, 0, pkt, n);
  if (rc == 0) {
    in_take(s, e, ssrc, 1, i);
    *len = n;
  }
  return rc;
}
