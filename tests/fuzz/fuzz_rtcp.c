/* Fuzzes the RTCP walker and parsers (src/media/rtcp.c). Every packet of a
 * compound goes through every parser (each must refuse the types it is not
 * for); whatever parses is rebuilt with the matching builder into a buffer
 * of exactly the built size (and refused one byte short), parsed again and
 * compared with the first parse. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/rtcp.h"

#define BIG (20 + 4 * 256 + 28 + 24 * RTCP_MAX_REPORTS + 4 * RTCP_NACK_MAX_ITEMS * 17)

/* Runs the builder call `call` (using buf, cap) once to learn the length,
 * again into an exact-size heap buffer and one byte short; leaves the first
 * packet built in *out, the buffer in *owned and its length in built_len. */
#define BUILD(out, owned, call)    \
  do {                             \
    uint8_t big_[BIG];             \
    uint8_t *buf = big_;           \
    size_t cap = sizeof(big_);     \
    int n_ = (call);               \
    assert(n_ > 0 && n_ % 4 == 0); \
    cap = (size_t)n_ - 1;          \
    assert((call) == -ENOBUFS);    \
    cap = (size_t)n_;              \
    buf = *(owned) = malloc(cap);  \
    assert((call) == n_);          \
    built_len = cap;               \
    rebuilt_first(buf, cap, out);  \
  } while (0)

static size_t built_len;

static void rebuilt_first(const uint8_t *p, size_t len, struct rtcp_pkt *out) {
  struct rtcp_iter it;

  assert(rtcp_check(p, len) >= 1);
  rtcp_iter_init(&it, p, len);
  assert(rtcp_next(&it, out) == 1);
}

/* A built compound (built_len bytes at p) is two packets, the second an SDES
 * with one CNAME. */
static void compound_sdes(const uint8_t *p, uint32_t ssrc, const uint8_t *cname, size_t cname_len) {
  struct rtcp_iter it;
  struct rtcp_pkt pkt;
  struct rtcp_sdes sdes;

  assert(rtcp_check(p, built_len) == 2);
  rtcp_iter_init(&it, p, built_len);
  assert(rtcp_next(&it, &pkt) == 1 && rtcp_next(&it, &pkt) == 1);
  assert(rtcp_parse_sdes(&pkt, &sdes) == 0 && sdes.nchunks == 1);
  assert(sdes.chunks[0].ssrc == ssrc && sdes.chunks[0].cname_len == cname_len);
  assert(memcmp(sdes.chunks[0].cname, cname, cname_len) == 0);
}

static void same_rb(const struct rtcp_report_block *a, const struct rtcp_report_block *b) {
  assert(a->ssrc == b->ssrc && a->fraction_lost == b->fraction_lost);
  assert(a->cumulative_lost == b->cumulative_lost && a->highest_seq == b->highest_seq);
  assert(a->jitter == b->jitter && a->lsr == b->lsr && a->dlsr == b->dlsr);
}

static void redo_sr(const struct rtcp_sr *sr) {
  struct rtcp_pkt pkt;
  struct rtcp_sr again;
  uint8_t *owned = NULL;

  BUILD(&pkt, &owned, rtcp_build_sr(buf, cap, sr));
  assert(rtcp_parse_sr(&pkt, &again) == 0);
  assert(again.ssrc == sr->ssrc && again.ntp == sr->ntp && again.rtp_ts == sr->rtp_ts);
  assert(again.packet_count == sr->packet_count && again.octet_count == sr->octet_count);
  assert(again.nreports == sr->nreports);
  for (unsigned i = 0; i < sr->nreports; i++)
    same_rb(&again.reports[i], &sr->reports[i]);
  free(owned);
  BUILD(&pkt, &owned, rtcp_build_compound_sr_sdes(buf, cap, sr, "onair", 5));
  assert(rtcp_parse_sr(&pkt, &again) == 0);
  assert(again.ssrc == sr->ssrc && again.nreports == sr->nreports);
  compound_sdes(owned, sr->ssrc, (const uint8_t *)"onair", 5);
  free(owned);
}

static void redo_rr(const struct rtcp_rr *rr) {
  const struct rtcp_report_block *rb = rr->nreports ? &rr->reports[0] : NULL;
  struct rtcp_pkt pkt;
  struct rtcp_rr again;
  uint8_t *owned = NULL;

  BUILD(&pkt, &owned, rtcp_build_rr(buf, cap, rr->ssrc, rb));
  assert(rtcp_parse_rr(&pkt, &again) == 0);
  assert(again.ssrc == rr->ssrc && again.nreports == (rb ? 1 : 0));
  if (rb)
    same_rb(&again.reports[0], rb);
  free(owned);
}

static void redo_sdes(const struct rtcp_sdes *sdes) {
  for (unsigned i = 0; i < sdes->nchunks; i++) {
    const struct rtcp_sdes_chunk *c = &sdes->chunks[i];
    struct rtcp_pkt pkt;
    struct rtcp_sdes again;
    uint8_t *owned = NULL;

    if (c->cname == NULL || c->cname_len == 0)
      continue;
    BUILD(&pkt, &owned, rtcp_build_sdes(buf, cap, c->ssrc, (const char *)c->cname, c->cname_len));
    assert(rtcp_parse_sdes(&pkt, &again) == 0 && again.nchunks == 1);
    assert(again.chunks[0].ssrc == c->ssrc && again.chunks[0].cname_len == c->cname_len);
    assert(memcmp(again.chunks[0].cname, c->cname, c->cname_len) == 0);
    free(owned);
    BUILD(
        &pkt, &owned,
        rtcp_build_compound_rr_sdes(buf, cap, c->ssrc, NULL, (const char *)c->cname, c->cname_len));
    assert(pkt.type == RTCP_RR && pkt.count == 0);
    compound_sdes(owned, c->ssrc, c->cname, c->cname_len);
    free(owned);
  }
}

static int cmp_u16(const void *a, const void *b) {
  return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* Sorts and removes duplicates; returns the new count. */
static size_t uniq(uint16_t *v, size_t n) {
  size_t k = 0;

  qsort(v, n, sizeof(v[0]), cmp_u16);
  for (size_t i = 0; i < n; i++)
    if (k == 0 || v[k - 1] != v[i])
      v[k++] = v[i];
  return k;
}

static void redo_nack(const struct rtcp_nack *nack) {
  static uint16_t lost[RTCP_NACK_MAX_ITEMS * 17], again_lost[RTCP_NACK_MAX_ITEMS * 17];
  size_t n = rtcp_nack_lost(nack, lost, RTCP_NACK_MAX_ITEMS * 17), m;
  struct rtcp_pkt pkt;
  struct rtcp_nack again;
  uint8_t *owned = NULL;

  assert(n >= nack->nitems && n <= nack->nitems * 17);
  BUILD(&pkt, &owned, rtcp_build_nack(buf, cap, nack->sender_ssrc, nack->media_ssrc, lost, n));
  assert(rtcp_parse_nack(&pkt, &again) == 0);
  assert(again.sender_ssrc == nack->sender_ssrc && again.media_ssrc == nack->media_ssrc);
  assert(again.nitems <= nack->nitems); /* packing never needs more items */
  m = rtcp_nack_lost(&again, again_lost, RTCP_NACK_MAX_ITEMS * 17);
  n = uniq(lost, n);
  assert(uniq(again_lost, m) == n && memcmp(lost, again_lost, n * 2) == 0);
  free(owned);
}

static void redo_fir(const struct rtcp_fir *fir) {
  for (unsigned i = 0; i < fir->nentries; i++) {
    struct rtcp_pkt pkt;
    struct rtcp_fir again;
    uint8_t *owned = NULL;

    BUILD(&pkt, &owned,
          rtcp_build_fir(buf, cap, fir->sender_ssrc, fir->entries[i].ssrc, fir->entries[i].seq_nr));
    assert(rtcp_parse_fir(&pkt, &again) == 0 && again.nentries == 1);
    assert(again.sender_ssrc == fir->sender_ssrc);
    assert(again.entries[0].ssrc == fir->entries[i].ssrc);
    assert(again.entries[0].seq_nr == fir->entries[i].seq_nr);
    free(owned);
  }
}

static void redo_pli(uint32_t sender, uint32_t media) {
  struct rtcp_pkt pkt;
  uint32_t a, b;
  uint8_t *owned = NULL;

  BUILD(&pkt, &owned, rtcp_build_pli(buf, cap, sender, media));
  assert(rtcp_parse_pli(&pkt, &a, &b) == 0 && a == sender && b == media);
  free(owned);
}

static void redo_remb(const struct rtcp_remb *remb) {
  static const uint32_t one = 1;
  const uint32_t *ssrc = remb->nssrc ? remb->ssrc : &one;
  size_t n = remb->nssrc ? remb->nssrc : 1;
  struct rtcp_pkt pkt;
  struct rtcp_remb again;
  uint8_t *owned = NULL;

  assert(remb->nssrc <= remb->nssrc_wire && remb->nssrc <= RTCP_REMB_MAX_SSRC);
  BUILD(&pkt, &owned, rtcp_build_remb(buf, cap, remb->sender_ssrc, remb->bitrate, ssrc, n));
  assert(rtcp_parse_remb(&pkt, &again) == 0);
  assert(again.sender_ssrc == remb->sender_ssrc && again.nssrc == n);
  assert(memcmp(again.ssrc, ssrc, n * 4) == 0);
  if (remb->bitrate != UINT64_MAX)
    assert(again.bitrate == remb->bitrate);
  free(owned);
}

/* Every parser on one packet: each accepts only its own type and FMT. */
static void check_pkt(const struct rtcp_pkt *pkt) {
  static struct rtcp_sr sr;
  static struct rtcp_rr rr;
  static struct rtcp_sdes sdes;
  struct rtcp_bye bye;
  struct rtcp_fb fb;
  struct rtcp_nack nack;
  struct rtcp_fir fir;
  struct rtcp_remb remb;
  uint32_t a, b;
  int fb_ok = rtcp_parse_fb(pkt, &fb) == 0;

  if (rtcp_parse_sr(pkt, &sr) == 0) {
    assert(pkt->type == RTCP_SR && sr.nreports == pkt->count);
    redo_sr(&sr);
  }
  if (rtcp_parse_rr(pkt, &rr) == 0) {
    assert(pkt->type == RTCP_RR && rr.nreports == pkt->count);
    redo_rr(&rr);
  }
  if (rtcp_parse_sdes(pkt, &sdes) == 0) {
    assert(pkt->type == RTCP_SDES && sdes.nchunks == pkt->count);
    redo_sdes(&sdes);
  }
  if (rtcp_parse_bye(pkt, &bye) == 0) {
    assert(pkt->type == RTCP_BYE && bye.nssrc == pkt->count);
    assert(!bye.reason || bye.reason + bye.reason_len <= pkt->body + pkt->body_len);
  }
  if (fb_ok)
    assert((pkt->type == RTCP_RTPFB || pkt->type == RTCP_PSFB) && fb.fmt == pkt->count &&
           fb.fci + fb.fci_len == pkt->body + pkt->body_len);
  if (rtcp_parse_nack(pkt, &nack) == 0) {
    assert(fb_ok && pkt->type == RTCP_RTPFB && nack.nitems >= 1);
    assert(nack.nitems <= RTCP_NACK_MAX_ITEMS);
    redo_nack(&nack);
  }
  if (rtcp_parse_pli(pkt, &a, &b) == 0) {
    assert(fb_ok && pkt->type == RTCP_PSFB && pkt->count == RTCP_PSFB_PLI);
    redo_pli(a, b);
  }
  if (rtcp_parse_fir(pkt, &fir) == 0) {
    assert(fb_ok && pkt->type == RTCP_PSFB && fir.nentries >= 1 && fir.nentries <= RTCP_FIR_MAX);
    redo_fir(&fir);
  }
  if (rtcp_parse_remb(pkt, &remb) == 0) {
    assert(fb_ok && pkt->type == RTCP_PSFB && pkt->count == RTCP_PSFB_AFB);
    redo_remb(&remb);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct rtcp_iter it;
  struct rtcp_pkt pkt;
  int n = rtcp_check(data, size), k = 0, rc;
  size_t walked = 0;

  rtcp_iter_init(&it, data, size);
  while ((rc = rtcp_next(&it, &pkt)) == 1) {
    assert(pkt.data == data + walked && pkt.len % 4 == 0 && pkt.len >= RTCP_HDR_LEN);
    assert(pkt.body == pkt.data + RTCP_HDR_LEN && pkt.body_len <= pkt.len - RTCP_HDR_LEN);
    assert(pkt.count == (data[walked] & 0x1F) && pkt.type == data[walked + 1]);
    walked += pkt.len;
    assert(walked <= size);
    check_pkt(&pkt);
    k++;
  }
  assert(rc == 0 || rc == -EINVAL);
  assert(rc == 0 ? walked == size && n == (k > 0 ? k : -EINVAL) : n == -EINVAL);
  return 0;
}
