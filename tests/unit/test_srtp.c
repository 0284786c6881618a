/* Tests for src/media/srtpctx.c, included to reach its statics (the key
 * derivation, the keystream, contexts made from session keys):
 *   - the RFCs' vectors: RFC 3711 B.2 (AES-CM keystream) and B.3 (key
 *     derivation), RFC 7714 §16.1 and §17.1 (AEAD_AES_128_GCM SRTP and
 *     SRTCP);
 *   - libsrtp2 2.5, the reference, both ways and for both profiles: what
 *     one protects the other takes back byte for byte, and both protect to
 *     the same bytes, over thousands of packets of every shape through a
 *     sequence number wrap (rollover counter 0 -> 1), out of order, from
 *     several SSRCs, and SRTCP;
 *   - the refusals: a changed byte, a packet cut short (in a buffer of
 *     exactly its length), a replay, a late packet taken once, one older
 *     than the window, a buffer too small, unencrypted SRTCP, a forged
 *     packet from a new SSRC (no state made), the SSRC table's limits; a
 *     NACK's retransmission protected again to the same bytes;
 *   - no OpenSSL allocation per AEAD packet. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "media/srtpctx.c"
#include "../srtp_ref.h"

#define BUF 1600 /* bytes: any packet here and libsrtp's largest trailer */

/* Decodes hex (whitespace ignored) into out; returns the byte count. */
static size_t unhex(const char *s, uint8_t *out) {
  size_t n = 0;
  for (; *s; s++) {
    if (*s == ' ' || *s == '\n')
      continue;
    unsigned v;
    assert_int_equal(sscanf(s, "%2x", &v), 1);
    out[n++] = (uint8_t)v;
    s++;
  }
  return n;
}

static void assert_hex(const uint8_t *got, size_t len, const char *want) {
  uint8_t w[BUF];
  assert_int_equal(unhex(want, w), len);
  assert_memory_equal(got, w, len);
}

static uint32_t rnd_state = 0x9E3779B9;

static uint32_t rnd(void) { /* xorshift32: the same packets every run */
  rnd_state ^= rnd_state << 13;
  rnd_state ^= rnd_state >> 17;
  rnd_state ^= rnd_state << 5;
  return rnd_state;
}

/* ---- the RFCs' vectors ---- */

/* RFC 3711 B.2: session key 2B7E..., salt F0..FD, SSRC 0, index 0: the
 * counter's first and last three blocks of 65282. */
static void test_rfc3711_keystream(void **state) {
  static const struct {
    size_t block;
    const char *keystream;
  } want[] = {
      {0x0000, "E03EAD0935C95E80E166B16DD92B4EB4"}, {0x0001, "D23513162B02D0F72A43A2FE4A5F97AB"},
      {0x0002, "41E95B3BB0A2E8DD477901E4FCA894C0"}, {0xFEFF, "EC8CDF7398607CB0F2D21675EA9EA1E4"},
      {0xFF00, "362B7C3C6773516318A077D7FC5073AE"}, {0xFF01, "6A2CC3787889374FBEB4C81B17BA6C44"}};
  uint8_t key[SC_KEY], salt[SC_SALT_CM], iv[SC_IV];
  size_t n = 65282 * 16;
  uint8_t *ks = calloc(1, n);
  EVP_CIPHER *aes = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  (void)state;
  unhex("2B7E151628AED2A6ABF7158809CF4F3C", key);
  unhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD", salt);
  iv_make(iv, 0, salt, 0, 0);
  assert_hex(iv, SC_IV, "F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000");
  assert_non_null(ks);
  assert_true(EVP_CipherInit_ex2(c, aes, key, NULL, 1, NULL));
  assert_int_equal(ctr_xor(c, iv, ks, n), 0);
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
    assert_hex(ks + 16 * want[i].block, 16, want[i].keystream);
  EVP_CIPHER_CTX_free(c);
  EVP_CIPHER_free(aes);
  free(ks);
}

/* RFC 3711 B.3: the SRTP session keys. (The SRTCP labels are checked by
 * the libsrtp tests below: the same SRTCP bytes need the same keys.) */
static void test_kdf_vectors(void **state) {
  struct srtpctx_session sk;
  uint8_t mk[SC_KEY], ms[SC_SALT_CM];
  (void)state;
  unhex("E1F97A0D3E018BE0D64FA32C06DE4139", mk);
  unhex("0EC675AD498AFEEBB6960B3AABE6", ms);
  assert_int_equal(session_derive(&sk, 0, mk, ms, SC_SALT_CM), 0);
  assert_hex(sk.key[SC_RTP], SC_KEY, "C61E7A93744F39EE10734AFE3FF7A087");
  assert_hex(sk.salt[SC_RTP], SC_SALT_CM, "30CBBC08863D8C85D49DB34A9AE1");
  /* the first 20 of B.3's 94 bytes of auth key */
  assert_hex(sk.auth[SC_RTP], SC_AUTH_KEY, "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4");
}

/* RFC 7714's vectors give the session key and salt, the same for SRTP and
 * SRTCP, each way. */
static struct srtpctx *rfc7714_ctx(void) {
  struct srtpctx_session sk;
  memset(&sk, 0, sizeof(sk));
  for (int i = SC_RTP; i <= SC_RTCP; i++) {
    unhex("000102030405060708090a0b0c0d0e0f", sk.key[i]);
    unhex("517569642070726f2071756f", sk.salt[i]);
  }
  struct srtpctx *s = srtpctx_new_session(1, &sk, &sk);
  assert_non_null(s);
  return s;
}

/* RFC 7714 §16.1.1-2 (SRTP: SSRC 5501a0b2, ROC 0, SEQ f17b) and §17.1.1-2
 * (SRTCP: SSRC "Mars", SRTCP index 5d4, E set): the IV, the protected
 * packet, and the plaintext back. */
static const struct rfc7714_case {
  const char *name;
  int rtcp;
  uint32_t ssrc;
  uint64_t index;
  const char *iv, *plain, *protected;
} rfc7714_cases[] = {
    {"16.1 SRTP", 0, 0x5501a0b2, 0xf17b, "51753c6580c2726f20718414",
     "8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973 20646976 69736120 "
     "696e2070 61727465 73207472 6573",
     "8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5 0d294e6f "
     "42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439 0cce"},
    {"17.1 SRTCP", 1, 0x4d617273, 0x5d4, "517524055203726f207170bb",
     "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930 4c756e61 deadbeef "
     "deadbeef deadbeef deadbeef deadbeef",
     "81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7 6c06f32d c676a5f1 "
     "730d6fda 4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872 45d9eade 800005d4"},
};

static void test_rfc7714(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof(rfc7714_cases) / sizeof(rfc7714_cases[0]); k++) {
    const struct rfc7714_case *c = &rfc7714_cases[k];
    struct srtpctx *s = rfc7714_ctx();
    uint8_t pkt[BUF], iv[SC_IV];
    size_t len = unhex(c->plain, pkt), plain_len = len;
    print_message("RFC 7714 %s\n", c->name);
    iv_make(iv, 1, s->out.salt[c->rtcp], c->ssrc, c->index);
    assert_hex(iv, 12, c->iv);
    s->rtcp_index = (uint32_t)c->index - 1; /* the next SRTCP index sent */
    assert_int_equal(c->rtcp ? srtpctx_protect_rtcp(s, pkt, &len, sizeof(pkt))
                             : srtpctx_protect_rtp(s, pkt, &len, sizeof(pkt)),
                     0);
    assert_hex(pkt, len, c->protected);
    assert_int_equal(
        c->rtcp ? srtpctx_unprotect_rtcp(s, pkt, &len) : srtpctx_unprotect_rtp(s, pkt, &len), 0);
    assert_int_equal(len, plain_len);
    assert_hex(pkt, len, c->plain);
    srtpctx_free(s);
  }
}

/* ---- onair and libsrtp2 ---- */

/* DTLS keys for profile gcm: onair's (local) and the peer's (remote). */
static struct dtls_srtp_keys keys_make(int gcm) {
  struct dtls_srtp_keys k = {.profile =
                                 gcm ? DTLS_SRTP_AEAD_AES_128_GCM : DTLS_SRTP_AES128_CM_SHA1_80,
                             .key_len = SC_KEY,
                             .salt_len = gcm ? SC_SALT_GCM : SC_SALT_CM};
  for (size_t i = 0; i < SC_KEY; i++) {
    k.local_key[i] = (uint8_t)rnd();
    k.remote_key[i] = (uint8_t)rnd();
  }
  for (size_t i = 0; i < SC_SALT_CM; i++) {
    k.local_salt[i] = (uint8_t)rnd();
    k.remote_salt[i] = (uint8_t)rnd();
  }
  return k;
}

static struct dtls_srtp_keys keys_swap(const struct dtls_srtp_keys *k) {
  struct dtls_srtp_keys p = *k;
  memcpy(p.local_key, k->remote_key, SC_KEY);
  memcpy(p.remote_key, k->local_key, SC_KEY);
  memcpy(p.local_salt, k->remote_salt, SC_SALT_CM);
  memcpy(p.remote_salt, k->local_salt, SC_SALT_CM);
  return p;
}

/* onair, its peer (onair's code with the keys swapped) and libsrtp in
 * three roles. */
struct pair {
  struct dtls_srtp_keys k;
  struct srtpctx *onair, *peer;
  srtp_t lib_out;  /* libsrtp sending with onair's keys */
  srtp_t lib_in;   /* libsrtp receiving what onair sends */
  srtp_t lib_peer; /* libsrtp sending with the peer's keys, to onair */
};

static void pair_open(struct pair *x, int gcm) {
  struct dtls_srtp_keys swapped;
  x->k = keys_make(gcm);
  swapped = keys_swap(&x->k);
  x->onair = srtpctx_new(&x->k);
  x->peer = srtpctx_new(&swapped);
  assert_non_null(x->onair);
  assert_non_null(x->peer);
  x->lib_out = srtp_ref_session(&x->k, 1);
  x->lib_in = srtp_ref_session(&swapped, 0);
  x->lib_peer = srtp_ref_session(&swapped, 1);
  assert_non_null(x->lib_out);
  assert_non_null(x->lib_in);
  assert_non_null(x->lib_peer);
}

static void pair_close(struct pair *x) {
  srtpctx_free(x->onair);
  srtpctx_free(x->peer);
  srtp_dealloc(x->lib_out);
  srtp_dealloc(x->lib_in);
  srtp_dealloc(x->lib_peer);
}

/* An RTP packet; v picks the CSRCs (0-2), a header extension (1-3 words)
 * and the payload's length (0..1199 bytes). Returns its length. */
static size_t rtp_make(uint8_t *p, uint32_t ssrc, uint16_t seq, unsigned v) {
  size_t cc = v % 3, ext = v / 3 % 2, words = 1 + v % 3, payload = v * 37 % 1200, n = 12;
  p[0] = (uint8_t)(0x80 | (ext ? 0x10 : 0) | cc);
  p[1] = (uint8_t)(96 | (v & 8 ? 0x80 : 0));
  p[2] = (uint8_t)(seq >> 8);
  p[3] = (uint8_t)seq;
  be_wr32(p + 4, v * 3000);
  be_wr32(p + 8, ssrc);
  for (size_t i = 0; i < cc; i++, n += 4)
    be_wr32(p + n, rnd());
  if (ext) {
    p[n] = 0xBE;
    p[n + 1] = 0xDE;
    p[n + 2] = 0;
    p[n + 3] = (uint8_t)words;
    n += 4;
    for (size_t i = 0; i < words; i++, n += 4)
      be_wr32(p + n, rnd());
  }
  for (size_t i = 0; i < payload; i++)
    p[n++] = (uint8_t)rnd();
  return n;
}

/* An RTCP packet from ssrc of 8 + 4 * (v % 40) bytes. */
static size_t rtcp_make(uint8_t *p, uint32_t ssrc, unsigned v) {
  size_t words = v % 40;
  p[0] = 0x80;
  p[1] = (uint8_t)(200 + v % 7);
  p[2] = (uint8_t)((words + 1) >> 8);
  p[3] = (uint8_t)(words + 1);
  be_wr32(p + 4, ssrc);
  for (size_t i = 0; i < words; i++)
    be_wr32(p + 8 + 4 * i, rnd());
  return 8 + 4 * words;
}

/* One packet each way. onair protects and libsrtp with the same keys
 * protects to the same bytes, which libsrtp's receiver takes back; libsrtp
 * protects for the peer and onair's code with the peer's keys to the same
 * bytes, which onair takes back. */
static void cross_packet(struct pair *x, const uint8_t *plain, size_t len, int rtcp) {
  uint8_t a[BUF], b[BUF];
  size_t n = len, hlen = SC_RTCP_HDR;
  int ln = (int)len;
  assert_true(rtcp || rtp_hdr_len(plain, len, &hlen) == 0);
  memcpy(a, plain, len);
  memcpy(b, plain, len);
  assert_int_equal(rtcp ? srtpctx_protect_rtcp(x->onair, a, &n, sizeof(a))
                        : srtpctx_protect_rtp(x->onair, a, &n, sizeof(a)),
                   0);
  assert_int_equal(rtcp ? srtp_protect_rtcp(x->lib_out, b, &ln) : srtp_protect(x->lib_out, b, &ln),
                   srtp_err_status_ok);
  assert_int_equal(n, (size_t)ln);
  assert_memory_equal(a, b, n);
  assert_int_equal(n, len + x->onair->tag + (rtcp ? SC_E_INDEX : 0));
  if (len - hlen >= 4) /* what is encrypted changed: not a no-op */
    assert_memory_not_equal(a + hlen, plain + hlen, len - hlen);
  assert_int_equal(rtcp ? srtp_unprotect_rtcp(x->lib_in, a, &ln)
                        : srtp_unprotect(x->lib_in, a, &ln),
                   srtp_err_status_ok);
  assert_int_equal(ln, (int)len);
  assert_memory_equal(a, plain, len);

  memcpy(a, plain, len);
  memcpy(b, plain, len);
  n = len;
  ln = (int)len;
  assert_int_equal(rtcp ? srtp_protect_rtcp(x->lib_peer, a, &ln)
                        : srtp_protect(x->lib_peer, a, &ln),
                   srtp_err_status_ok);
  assert_int_equal(rtcp ? srtpctx_protect_rtcp(x->peer, b, &n, sizeof(b))
                        : srtpctx_protect_rtp(x->peer, b, &n, sizeof(b)),
                   0);
  assert_int_equal(n, (size_t)ln);
  assert_memory_equal(a, b, n);
  assert_int_equal(
      rtcp ? srtpctx_unprotect_rtcp(x->onair, a, &n) : srtpctx_unprotect_rtp(x->onair, a, &n), 0);
  assert_int_equal(n, len);
  assert_memory_equal(a, plain, len);
}

/* 3 SSRCs, 3000 packets each from 1200 before the wrap, every seventh
 * pair sent the other way round (a late packet), every shape of packet. */
static void cross_rtp(int gcm) {
  static const uint32_t ssrcs[] = {0x11223344, 0xCAFEBABE, 1};
  struct pair x;
  uint8_t p[BUF];
  pair_open(&x, gcm);
  for (unsigned k = 0; k < 3000; k++) {
    unsigned at = k % 7 == 3 ? k + 1 : k % 7 == 4 ? k - 1 : k;
    for (unsigned j = 0; j < 3; j++) {
      uint16_t seq = (uint16_t)(65535 - 1200 + 100 * j + at);
      cross_packet(&x, p, rtp_make(p, ssrcs[j], seq, k * 3 + j), 0);
    }
  }
  /* The rollover counter went 0 -> 1 on both sides, the same way. */
  for (unsigned j = 0; j < 3; j++)
    assert_int_equal(in_find(x.onair, ssrcs[j])->rtp_top >> 16, 1);
  pair_close(&x);
}

static void test_libsrtp_rtp(void **state) { cross_rtp(*(const int *)*state); }

/* SRTCP from one SSRC (libsrtp numbers SRTCP per SSRC, onair per context:
 * the same numbers here, so the same bytes), then from several: onair's
 * numbering is taken by libsrtp, libsrtp's (each SSRC from 1) by onair. */
static void cross_rtcp(int gcm) {
  static const uint32_t ssrcs[] = {0x4d617273, 7, 0xFFFFFFFF};
  struct pair x;
  uint8_t p[BUF], a[BUF];
  pair_open(&x, gcm);
  for (unsigned k = 0; k < 300; k++)
    cross_packet(&x, p, rtcp_make(p, ssrcs[0], k), 1);
  for (unsigned k = 0; k < 300; k++) {
    size_t len = rtcp_make(p, ssrcs[k % 3], k), n = len;
    int ln = (int)len;
    memcpy(a, p, len);
    assert_int_equal(srtpctx_protect_rtcp(x.onair, a, &n, sizeof(a)), 0);
    ln = (int)n;
    assert_int_equal(srtp_unprotect_rtcp(x.lib_in, a, &ln), srtp_err_status_ok);
    assert_memory_equal(a, p, len);
    ln = (int)len;
    memcpy(a, p, len);
    assert_int_equal(srtp_protect_rtcp(x.lib_peer, a, &ln), srtp_err_status_ok);
    n = (size_t)ln;
    assert_int_equal(srtpctx_unprotect_rtcp(x.onair, a, &n), 0);
    assert_int_equal(n, len);
    assert_memory_equal(a, p, len);
  }
  pair_close(&x);
}

static void test_libsrtp_rtcp(void **state) { cross_rtcp(*(const int *)*state); }

/* ---- refusals ---- */

/* The peer protects an RTP packet (into p, of len bytes). */
static size_t peer_rtp(struct pair *x, uint8_t *p, uint32_t ssrc, uint16_t seq, unsigned v) {
  size_t len = rtp_make(p, ssrc, seq, v);
  assert_int_equal(srtpctx_protect_rtp(x->peer, p, &len, BUF), 0);
  return len;
}

/* onair unprotects a copy of len bytes of p, in a heap buffer of exactly
 * that size (AddressSanitizer then sees any read past it). */
static int onair_take(struct pair *x, const uint8_t *p, size_t len, int rtcp) {
  uint8_t *q = malloc(len ? len : 1);
  size_t n = len;
  assert_non_null(q);
  memcpy(q, p, len);
  int rc = rtcp ? srtpctx_unprotect_rtcp(x->onair, q, &n) : srtpctx_unprotect_rtp(x->onair, q, &n);
  if (rc < 0)
    assert_int_equal(n, len);
  free(q);
  return rc;
}

/* Every byte changed in turn, then every shorter length: all refused, no
 * state made for the SSRC; the genuine packet is taken after them, once.
 * Authentication refuses a change (-EACCES), except one that makes the
 * header longer than the packet or clears SRTCP's E flag (-EINVAL). */
static void refuse_forged(struct pair *x, uint8_t *p, size_t len, int rtcp) {
  size_t hlen = SC_RTCP_HDR, e_flag = len - SC_E_INDEX - (x->onair->gcm ? 0 : SC_TAG_CM);
  assert_true(rtcp || rtp_hdr_len(p, len, &hlen) == 0);
  for (size_t i = 0; i < len; i++) {
    p[i] ^= (uint8_t)(1 << i % 8);
    int rc = onair_take(x, p, len, rtcp);
    p[i] ^= (uint8_t)(1 << i % 8);
    if (!(rc == -EACCES || (rc == -EINVAL && (i < hlen || (rtcp && i == e_flag)))))
      fail_msg("byte %zu of %zu changed: %d", i, len, rc);
  }
  for (size_t cut = 0; cut < len; cut++)
    assert_true(onair_take(x, p, cut, rtcp) < 0);
  assert_int_equal(x->onair->nins, 0);
  assert_int_equal(onair_take(x, p, len, rtcp), 0);
  assert_int_equal(x->onair->nins, 1);
  assert_int_equal(onair_take(x, p, len, rtcp), -EACCES); /* a replay */
}

static void refusals_forged(int gcm) {
  struct pair x;
  uint8_t p[BUF];
  size_t len;
  pair_open(&x, gcm);
  refuse_forged(&x, p, peer_rtp(&x, p, 0xABCD, 1000, 4), 0); /* a CSRC and an extension */
  pair_close(&x);
  pair_open(&x, gcm);
  len = rtcp_make(p, 0xABCD, 12);
  assert_int_equal(srtpctx_protect_rtcp(x.peer, p, &len, sizeof(p)), 0);
  refuse_forged(&x, p, len, 1);
  /* SRTCP with its E flag cleared (unencrypted): refused unread. */
  len = rtcp_make(p, 0xABCD, 13);
  assert_int_equal(srtpctx_protect_rtcp(x.peer, p, &len, sizeof(p)), 0);
  p[len - SC_E_INDEX - (gcm ? 0 : SC_TAG_CM)] &= 0x7F;
  assert_int_equal(onair_take(&x, p, len, 1), -EINVAL);
  pair_close(&x);
}

/* The replay window: a late packet within 1024 is taken once, one 1024
 * behind is too old, and a jump of more than a window forgets the rest. */
static void refusals_window(int gcm) {
  struct pair x;
  uint8_t p976[BUF], p977[BUF], p2000[BUF], p4100[BUF];
  pair_open(&x, gcm);
  size_t l976 = peer_rtp(&x, p976, 7, 976, 1), l977 = peer_rtp(&x, p977, 7, 977, 2);
  size_t l2000 = peer_rtp(&x, p2000, 7, 2000, 3), l4100 = peer_rtp(&x, p4100, 7, 4100, 5);
  assert_int_equal(onair_take(&x, p2000, l2000, 0), 0);
  assert_int_equal(onair_take(&x, p977, l977, 0), 0); /* 1023 behind */
  assert_int_equal(onair_take(&x, p977, l977, 0), -EACCES);
  assert_int_equal(onair_take(&x, p976, l976, 0), -EACCES); /* 1024 behind */
  assert_int_equal(onair_take(&x, p4100, l4100, 0), 0);
  assert_int_equal(onair_take(&x, p2000, l2000, 0), -EACCES);
  assert_int_equal(onair_take(&x, p4100, l4100, 0), -EACCES);
  pair_close(&x);
}

/* What onair sends: a buffer one byte short, a NACK's retransmission (the
 * same bytes again, taken by a receiver that lost the first), a sequence
 * number its own window is past. */
static void refusals_send(int gcm) {
  struct pair x;
  uint8_t first[BUF], again[BUF], p[BUF];
  size_t lfirst, lagain, len;
  pair_open(&x, gcm);
  len = rtp_make(p, 9, 99, 7);
  size_t plain = len;
  assert_int_equal(srtpctx_protect_rtp(x.onair, p, &len, plain + SRTPCTX_MAX_TRAILER - 1),
                   -ENOBUFS);
  assert_int_equal(len, plain);
  len = rtcp_make(p, 9, 3);
  plain = len;
  assert_int_equal(srtpctx_protect_rtcp(x.onair, p, &len, plain + SRTPCTX_MAX_TRAILER - 1),
                   -ENOBUFS);
  assert_int_equal(len, plain);

  lfirst = rtp_make(first, 9, 100, 4);
  memcpy(again, first, lfirst);
  lagain = lfirst;
  assert_int_equal(srtpctx_protect_rtp(x.onair, first, &lfirst, BUF), 0);
  for (uint16_t seq = 101; seq <= 110; seq++) {
    len = rtp_make(p, 9, seq, seq);
    assert_int_equal(srtpctx_protect_rtp(x.onair, p, &len, BUF), 0);
    assert_int_equal(srtpctx_unprotect_rtp(x.peer, p, &len), 0);
  }
  assert_int_equal(srtpctx_protect_rtp(x.onair, again, &lagain, BUF), 0);
  assert_int_equal(lagain, lfirst);
  assert_memory_equal(again, first, lfirst);
  assert_int_equal(srtpctx_unprotect_rtp(x.peer, again, &lagain), 0);
  assert_int_equal(srtpctx_unprotect_rtp(x.peer, first, &lfirst), -EACCES);

  len = rtp_make(p, 9, 5000, 1);
  assert_int_equal(srtpctx_protect_rtp(x.onair, p, &len, BUF), 0);
  len = rtp_make(p, 9, 5000 - 1024, 1);
  assert_int_equal(srtpctx_protect_rtp(x.onair, p, &len, BUF), -EACCES);
  len = rtp_make(p, 9, 5000 - 1023, 1);
  assert_int_equal(srtpctx_protect_rtp(x.onair, p, &len, BUF), 0);
  pair_close(&x);
}

/* libsrtp sends (it has no limit on SSRCs) from ssrc to onair. */
static size_t lib_rtp(struct pair *x, uint8_t *p, uint32_t ssrc, uint16_t seq) {
  int ln = (int)rtp_make(p, ssrc, seq, seq);
  assert_int_equal(srtp_protect(x->lib_peer, p, &ln), srtp_err_status_ok);
  return (size_t)ln;
}

/* 16 SSRCs each way. Forged packets from new SSRCs make no state; a 17th
 * genuine source takes the place of the one heard from longest ago; onair
 * sends from no 17th SSRC. */
static void refusals_ssrcs(int gcm) {
  struct pair x;
  uint8_t first[SRTPCTX_SSRCS][BUF], p[BUF];
  size_t lens[SRTPCTX_SSRCS], len;
  pair_open(&x, gcm);
  for (uint32_t j = 0; j < SRTPCTX_SSRCS; j++) {
    lens[j] = lib_rtp(&x, first[j], 1000 + j, 10);
    assert_int_equal(onair_take(&x, first[j], lens[j], 0), 0);
  }
  for (uint32_t j = 0; j < 50; j++) {
    len = lib_rtp(&x, p, 5000 + j, 10);
    p[len - 1] ^= 1;
    assert_int_equal(onair_take(&x, p, len, 0), -EACCES);
  }
  len = lib_rtp(&x, p, 1000, 11); /* 1001 is now the one heard from longest ago */
  assert_int_equal(onair_take(&x, p, len, 0), 0);
  len = lib_rtp(&x, p, 6000, 10);
  assert_int_equal(onair_take(&x, p, len, 0), 0);
  for (uint32_t j = 0; j < SRTPCTX_SSRCS; j++) {
    if (j != 1)
      assert_int_equal(onair_take(&x, first[j], lens[j], 0), -EACCES);
  }
  /* 1001 forgotten: a replay of its packet goes through (and takes the
   * place of the source now heard from longest ago). */
  assert_int_equal(onair_take(&x, first[1], lens[1], 0), 0);

  for (uint32_t j = 0; j < SRTPCTX_SSRCS; j++) {
    len = rtp_make(p, 2000 + j, 1, 1);
    assert_int_equal(srtpctx_protect_rtp(x.onair, p, &len, BUF), 0);
  }
  len = rtp_make(p, 3000, 1, 1);
  assert_int_equal(srtpctx_protect_rtp(x.onair, p, &len, BUF), -EINVAL);
  len = rtp_make(p, 2000, 2, 1);
  assert_int_equal(srtpctx_protect_rtp(x.onair, p, &len, BUF), 0);
  pair_close(&x);
}

static void test_refusals(void **state) {
  int gcm = *(const int *)*state;
  refusals_forged(gcm);
  refusals_window(gcm);
  refusals_send(gcm);
  refusals_ssrcs(gcm);
}

/* Keys that do not match: nothing taken. A context refuses keys it cannot
 * use. */
static void test_wrong_keys(void **state) {
  struct pair x, y;
  uint8_t p[BUF];
  (void)state;
  pair_open(&x, 1);
  pair_open(&y, 1);
  size_t len = peer_rtp(&x, p, 5, 5, 5);
  assert_int_equal(onair_take(&y, p, len, 0), -EACCES);
  assert_int_equal(onair_take(&x, p, len, 0), 0);
  struct dtls_srtp_keys k = x.k;
  k.salt_len = SC_SALT_CM; /* GCM takes a 12-byte salt */
  assert_null(srtpctx_new(&k));
  k = x.k;
  k.profile = DTLS_SRTP_NONE;
  assert_null(srtpctx_new(&k));
  pair_close(&x);
  pair_close(&y);
}

/* ---- allocations ---- */

static long openssl_allocs;

static void *count_malloc(size_t n, const char *file, int line) {
  (void)file;
  (void)line;
  openssl_allocs++;
  return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line) {
  (void)file;
  (void)line;
  openssl_allocs++;
  return realloc(p, n);
}

static void count_free(void *p, const char *file, int line) {
  (void)file;
  (void)line;
  free(p);
}

static int counting; /* CRYPTO_set_mem_functions took our functions */

/* 1000 packets each way, SRTP and SRTCP: with GCM OpenSSL allocates
 * nothing. With AES-CM, OpenSSL 3.0's HMAC allocates as it re-uses the
 * prepared key (HMAC_Init_ex and HMAC_Final each copy a digest state,
 * which 3.0 duplicates on the heap): at most 2 per packet, nothing else. */
static void allocs(int gcm) {
  struct pair x;
  uint8_t p[BUF];
  pair_open(&x, gcm);
  long before = openssl_allocs;
  for (unsigned k = 0; k < 1000; k++) {
    size_t len = rtp_make(p, 77, (uint16_t)k, k);
    assert_int_equal(srtpctx_protect_rtp(x.onair, p, &len, BUF), 0);
    assert_int_equal(srtpctx_unprotect_rtp(x.peer, p, &len), 0);
    len = rtcp_make(p, 77, k);
    assert_int_equal(srtpctx_protect_rtcp(x.onair, p, &len, BUF), 0);
    assert_int_equal(srtpctx_unprotect_rtcp(x.peer, p, &len), 0);
  }
  long per_4000 = openssl_allocs - before;
  print_message("%s: %ld OpenSSL allocations for 4000 packet operations\n",
                gcm ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80", per_4000);
  if (gcm)
    assert_int_equal(per_4000, 0);
  else
    assert_true(per_4000 <= 2 * 4000);
  pair_close(&x);
}

static void test_allocations(void **state) {
  (void)state;
  if (!counting)
    skip();
  allocs(1);
  allocs(0);
}

/* A test of one profile, named after it; its state says which. */
static const int profile_gcm = 1, profile_cm = 0;
#define GCM_TEST(f) \
  { #f " AEAD_AES_128_GCM", f, NULL, NULL, (void *)&profile_gcm }
#define CM_TEST(f) \
  { #f " AES_CM_128_HMAC_SHA1_80", f, NULL, NULL, (void *)&profile_cm }

int main(void) {
  /* Before OpenSSL allocates anything, or it is refused. */
  counting = CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free);
  if (srtp_init() != srtp_err_status_ok || srtpctx_global_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc3711_keystream),
      cmocka_unit_test(test_kdf_vectors),
      cmocka_unit_test(test_rfc7714),
      GCM_TEST(test_libsrtp_rtp),
      CM_TEST(test_libsrtp_rtp),
      GCM_TEST(test_libsrtp_rtcp),
      CM_TEST(test_libsrtp_rtcp),
      GCM_TEST(test_refusals),
      CM_TEST(test_refusals),
      cmocka_unit_test(test_wrong_keys),
      cmocka_unit_test(test_allocations),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  srtp_shutdown();
  return failed;
}
