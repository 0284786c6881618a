/* RTCP compound walking, parsing and building. Every read is an explicit
 * byte operation at an offset checked against the packet's length first;
 * every write is checked against the caller's capacity first. */
#include "media/rtcp.h"

#include <errno.h>

#include "util/be.h"

/* ---- walking a compound packet ---- */

void rtcp_iter_init(struct rtcp_iter *it, const uint8_t *p, size_t len) {
  it->p = p;
  it->len = len;
  it->off = 0;
  it->failed = 0;
}

int rtcp_next(struct rtcp_iter *it, struct rtcp_pkt *pkt) {
  const uint8_t *p;
  size_t rest, n, pad = 0;

  if (it->failed)
    return -EINVAL;
  rest = it->len - it->off;
  if (rest == 0)
    return 0;
  p = it->p + it->off;
  if (rest < RTCP_HDR_LEN || p[0] >> 6 != 2)
    goto out_fail;
  n = ((size_t)be_rd16(p + 2) + 1) * 4;
  if (n > rest)
    goto out_fail;
  if (p[0] & 0x20) {
    /* P: the last byte counts the padding, itself included. */
    pad = p[n - 1];
    if (pad == 0 || pad > n - RTCP_HDR_LEN)
      goto out_fail;
  }
  pkt->type = p[1];
  pkt->count = p[0] & 0x1F;
  pkt->data = p;
  pkt->len = n;
  pkt->body = p + RTCP_HDR_LEN;
  pkt->body_len = n - RTCP_HDR_LEN - pad;
  it->off += n;
  return 1;
out_fail:
  it->failed = 1;
  return -EINVAL;
}

int rtcp_check(const uint8_t *p, size_t len) {
  struct rtcp_iter it;
  struct rtcp_pkt pkt;
  int n = 0, rc;

  rtcp_iter_init(&it, p, len);
  while ((rc = rtcp_next(&it, &pkt)) == 1)
    n++;
  if (rc < 0 || n == 0)
    return -EINVAL;
  return n;
}

/* ---- sender and receiver reports ---- */

#define RTCP_RB_LEN 24 /* bytes of a report block */

static void rtcp_read_rb(const uint8_t *p, struct rtcp_report_block *rb) {
  uint32_t lost = be_rd24(p + 5);

  rb->ssrc = be_rd32(p);
  rb->fraction_lost = p[4];
  /* 24-bit two's complement: a receiver may count duplicates as negative loss. */
  rb->cumulative_lost = lost & 0x800000 ? (int32_t)lost - 0x1000000 : (int32_t)lost;
  rb->highest_seq = be_rd32(p + 8);
  rb->jitter = be_rd32(p + 12);
  rb->lsr = be_rd32(p + 16);
  rb->dlsr = be_rd32(p + 20);
}

static void rtcp_write_rb(uint8_t *p, const struct rtcp_report_block *rb) {
  int32_t lost = rb->cumulative_lost;

  if (lost > 0x7FFFFF)
    lost = 0x7FFFFF;
  if (lost < -0x800000)
    lost = -0x800000;
  be_wr32(p, rb->ssrc);
  p[4] = rb->fraction_lost;
  be_wr24(p + 5, (uint32_t)lost & 0xFFFFFF);
  be_wr32(p + 8, rb->highest_seq);
  be_wr32(p + 12, rb->jitter);
  be_wr32(p + 16, rb->lsr);
  be_wr32(p + 20, rb->dlsr);
}

/* Reads count report blocks from b (after skip bytes) into out. */
static int rtcp_read_rbs(const uint8_t *b, size_t len, size_t skip, unsigned count,
                         struct rtcp_report_block *out) {
  unsigned i;

  if ((size_t)count * RTCP_RB_LEN > len - skip)
    return -EINVAL;
  for (i = 0; i < count; i++)
    rtcp_read_rb(b + skip + (size_t)i * RTCP_RB_LEN, &out[i]);
  return 0;
}

int rtcp_parse_sr(const struct rtcp_pkt *pkt, struct rtcp_sr *sr) {
  const uint8_t *b = pkt->body;

  if (pkt->type != RTCP_SR || pkt->body_len < 24)
    return -EINVAL;
  sr->ssrc = be_rd32(b);
  sr->ntp = (uint64_t)be_rd32(b + 4) << 32 | be_rd32(b + 8);
  sr->rtp_ts = be_rd32(b + 12);
  sr->packet_count = be_rd32(b + 16);
  sr->octet_count = be_rd32(b + 20);
  if (rtcp_read_rbs(b, pkt->body_len, 24, pkt->count, sr->reports) < 0)
    return -EINVAL;
  sr->nreports = pkt->count;
  return 0;
}

int rtcp_parse_rr(const struct rtcp_pkt *pkt, struct rtcp_rr *rr) {
  if (pkt->type != RTCP_RR || pkt->body_len < 4)
    return -EINVAL;
  rr->ssrc = be_rd32(pkt->body);
  if (rtcp_read_rbs(pkt->body, pkt->body_len, 4, pkt->count, rr->reports) < 0)
    return -EINVAL;
  rr->nreports = pkt->count;
  return 0;
}

/* ---- SDES and BYE ---- */

/* Reads the chunk at b[*off..len): its SSRC and items up to the null item,
 * then moves *off to the next 32-bit boundary (RFC 3550 6.5). */
static int rtcp_read_chunk(const uint8_t *b, size_t len, size_t *off, struct rtcp_sdes_chunk *c) {
  size_t o = *off, l;

  if (len - o < 4)
    return -EINVAL;
  c->ssrc = be_rd32(b + o);
  c->cname = NULL;
  c->cname_len = 0;
  o += 4;
  for (;;) {
    if (o >= len)
      return -EINVAL; /* no null item */
    if (b[o] == 0)
      break;
    if (len - o < 2 || (l = b[o + 1]) > len - o - 2)
      return -EINVAL;
    if (b[o] == 1 && c->cname == NULL) {
      c->cname = b + o + 2;
      c->cname_len = l;
    }
    o += 2 + l;
  }
  o = (o + 1 + 3) & ~(size_t)3; /* the null item, then padding */
  *off = o < len ? o : len;
  return 0;
}

int rtcp_parse_sdes(const struct rtcp_pkt *pkt, struct rtcp_sdes *sdes) {
  size_t off = 0;
  unsigned i;
  int rc;

  if (pkt->type != RTCP_SDES)
    return -EINVAL;
  for (i = 0; i < pkt->count; i++) {
    rc = rtcp_read_chunk(pkt->body, pkt->body_len, &off, &sdes->chunks[i]);
    if (rc < 0)
      return rc;
  }
  sdes->nchunks = pkt->count;
  return 0;
}

int rtcp_parse_bye(const struct rtcp_pkt *pkt, struct rtcp_bye *bye) {
  size_t off = (size_t)pkt->count * 4;
  unsigned i;

  if (pkt->type != RTCP_BYE || off > pkt->body_len)
    return -EINVAL;
  bye->nssrc = pkt->count;
  for (i = 0; i < pkt->count; i++)
    bye->ssrc[i] = be_rd32(pkt->body + (size_t)i * 4);
  bye->reason = NULL;
  bye->reason_len = 0;
  if (off < pkt->body_len) {
    size_t l = pkt->body[off];
    if (l > pkt->body_len - off - 1)
      return -EINVAL;
    bye->reason = pkt->body + off + 1;
    bye->reason_len = l;
  }
  return 0;
}

/* ---- feedback ---- */

int rtcp_parse_fb(const struct rtcp_pkt *pkt, struct rtcp_fb *fb) {
  if ((pkt->type != RTCP_RTPFB && pkt->type != RTCP_PSFB) || pkt->body_len < 8)
    return -EINVAL;
  fb->fmt = pkt->count;
  fb->sender_ssrc = be_rd32(pkt->body);
  fb->media_ssrc = be_rd32(pkt->body + 4);
  fb->fci = pkt->body + 8;
  fb->fci_len = pkt->body_len - 8;
  return 0;
}

/* rtcp_parse_fb() for one type and FMT. */
static int rtcp_parse_fb_of(const struct rtcp_pkt *pkt, uint8_t type, uint8_t fmt,
                            struct rtcp_fb *fb) {
  if (pkt->type != type || pkt->count != fmt)
    return -EINVAL;
  return rtcp_parse_fb(pkt, fb);
}

int rtcp_parse_nack(const struct rtcp_pkt *pkt, struct rtcp_nack *nack) {
  struct rtcp_fb fb;
  size_t n;

  if (rtcp_parse_fb_of(pkt, RTCP_RTPFB, RTCP_RTPFB_NACK, &fb) < 0)
    return -EINVAL;
  if (fb.fci_len == 0 || fb.fci_len % 4 != 0)
    return -EINVAL;
  n = fb.fci_len / 4;
  nack->sender_ssrc = fb.sender_ssrc;
  nack->media_ssrc = fb.media_ssrc;
  nack->items = fb.fci;
  nack->nitems = n < RTCP_NACK_MAX_ITEMS ? n : RTCP_NACK_MAX_ITEMS;
  return 0;
}

size_t rtcp_nack_item(const struct rtcp_nack *nack, size_t i, uint16_t out[RTCP_NACK_ITEM_SEQS]) {
  const uint8_t *it = nack->items + i * 4;
  uint16_t pid = be_rd16(it), blp = be_rd16(it + 2);
  size_t n = 0;
  unsigned k;

  out[n++] = pid;
  for (k = 0; k < 16; k++)
    if (blp & 1u << k)
      out[n++] = (uint16_t)(pid + k + 1);
  return n;
}

size_t rtcp_nack_lost(const struct rtcp_nack *nack, uint16_t *out, size_t cap) {
  uint16_t seqs[RTCP_NACK_ITEM_SEQS];
  size_t i, j, k, n = 0;

  for (i = 0; i < nack->nitems; i++) {
    k = rtcp_nack_item(nack, i, seqs);
    for (j = 0; j < k && n < cap; j++)
      out[n++] = seqs[j];
  }
  return n;
}

int rtcp_parse_pli(const struct rtcp_pkt *pkt, uint32_t *sender_ssrc, uint32_t *media_ssrc) {
  struct rtcp_fb fb;

  if (rtcp_parse_fb_of(pkt, RTCP_PSFB, RTCP_PSFB_PLI, &fb) < 0)
    return -EINVAL;
  *sender_ssrc = fb.sender_ssrc;
  *media_ssrc = fb.media_ssrc;
  return 0;
}

int rtcp_parse_fir(const struct rtcp_pkt *pkt, struct rtcp_fir *fir) {
  struct rtcp_fb fb;
  size_t i, n;

  if (rtcp_parse_fb_of(pkt, RTCP_PSFB, RTCP_PSFB_FIR, &fb) < 0)
    return -EINVAL;
  if (fb.fci_len == 0 || fb.fci_len % 8 != 0)
    return -EINVAL;
  n = fb.fci_len / 8;
  if (n > RTCP_FIR_MAX)
    n = RTCP_FIR_MAX;
  fir->sender_ssrc = fb.sender_ssrc;
  fir->nentries = (unsigned)n;
  for (i = 0; i < n; i++) {
    fir->entries[i].ssrc = be_rd32(fb.fci + i * 8);
    fir->entries[i].seq_nr = fb.fci[i * 8 + 4];
  }
  return 0;
}

int rtcp_parse_remb(const struct rtcp_pkt *pkt, struct rtcp_remb *remb) {
  struct rtcp_fb fb;
  unsigned exp, i, n;
  uint64_t mantissa;

  if (rtcp_parse_fb_of(pkt, RTCP_PSFB, RTCP_PSFB_AFB, &fb) < 0 || fb.fci_len < 8)
    return -EINVAL;
  if (fb.fci[0] != 'R' || fb.fci[1] != 'E' || fb.fci[2] != 'M' || fb.fci[3] != 'B')
    return -EINVAL;
  n = fb.fci[4];
  if ((size_t)n * 4 > fb.fci_len - 8)
    return -EINVAL;
  exp = fb.fci[5] >> 2;
  mantissa = be_rd24(fb.fci + 5) & 0x3FFFF;
  remb->sender_ssrc = fb.sender_ssrc;
  remb->bitrate = exp > 0 && mantissa > UINT64_MAX >> exp ? UINT64_MAX : mantissa << exp;
  remb->nssrc_wire = n;
  remb->nssrc = n < RTCP_REMB_MAX_SSRC ? n : RTCP_REMB_MAX_SSRC;
  for (i = 0; i < remb->nssrc; i++)
    remb->ssrc[i] = be_rd32(fb.fci + 8 + i * 4);
  return 0;
}

/* ---- builders ---- */

/* The common header of a packet of len bytes (a multiple of 4, >= 4). */
static void rtcp_put_hdr(uint8_t *buf, uint8_t count, uint8_t type, size_t len) {
  buf[0] = (uint8_t)(0x80 | (count & 0x1F));
  buf[1] = type;
  be_wr16(buf + 2, (uint16_t)(len / 4 - 1));
}

int rtcp_build_rr(uint8_t *buf, size_t cap, uint32_t ssrc, const struct rtcp_report_block *rb) {
  size_t n = 8 + (rb ? RTCP_RB_LEN : 0);

  if (cap < n)
    return -ENOBUFS;
  rtcp_put_hdr(buf, rb ? 1 : 0, RTCP_RR, n);
  be_wr32(buf + 4, ssrc);
  if (rb)
    rtcp_write_rb(buf + 8, rb);
  return (int)n;
}

int rtcp_build_sr(uint8_t *buf, size_t cap, const struct rtcp_sr *sr) {
  size_t n, i;

  if (sr->nreports > RTCP_MAX_REPORTS)
    return -EINVAL;
  n = 28 + (size_t)sr->nreports * RTCP_RB_LEN;
  if (cap < n)
    return -ENOBUFS;
  rtcp_put_hdr(buf, (uint8_t)sr->nreports, RTCP_SR, n);
  be_wr32(buf + 4, sr->ssrc);
  be_wr32(buf + 8, (uint32_t)(sr->ntp >> 32));
  be_wr32(buf + 12, (uint32_t)sr->ntp);
  be_wr32(buf + 16, sr->rtp_ts);
  be_wr32(buf + 20, sr->packet_count);
  be_wr32(buf + 24, sr->octet_count);
  for (i = 0; i < sr->nreports; i++)
    rtcp_write_rb(buf + 28 + i * RTCP_RB_LEN, &sr->reports[i]);
  return (int)n;
}

int rtcp_build_sdes(uint8_t *buf, size_t cap, uint32_t ssrc, const char *cname, size_t cname_len) {
  size_t n, i;

  if (cname_len == 0 || cname_len > RTCP_CNAME_MAX)
    return -EINVAL;
  /* header, SSRC, CNAME type and length, text, null item, padding */
  n = (4 + 4 + 2 + cname_len + 1 + 3) & ~(size_t)3;
  if (cap < n)
    return -ENOBUFS;
  rtcp_put_hdr(buf, 1, RTCP_SDES, n);
  be_wr32(buf + 4, ssrc);
  buf[8] = 1; /* CNAME */
  buf[9] = (uint8_t)cname_len;
  for (i = 0; i < cname_len; i++)
    buf[10 + i] = (uint8_t)cname[i];
  for (i = 10 + cname_len; i < n; i++)
    buf[i] = 0;
  return (int)n;
}

int rtcp_build_compound_rr_sdes(uint8_t *buf, size_t cap, uint32_t ssrc,
                                const struct rtcp_report_block *rb, const char *cname,
                                size_t cname_len) {
  int a, b;

  if (cname_len == 0 || cname_len > RTCP_CNAME_MAX)
    return -EINVAL;
  a = rtcp_build_rr(buf, cap, ssrc, rb);
  if (a < 0)
    return a;
  b = rtcp_build_sdes(buf + a, cap - (size_t)a, ssrc, cname, cname_len);
  return b < 0 ? b : a + b;
}

int rtcp_build_compound_sr_sdes(uint8_t *buf, size_t cap, const struct rtcp_sr *sr,
                                const char *cname, size_t cname_len) {
  int a, b;

  if (cname_len == 0 || cname_len > RTCP_CNAME_MAX)
    return -EINVAL;
  a = rtcp_build_sr(buf, cap, sr);
  if (a < 0)
    return a;
  b = rtcp_build_sdes(buf + a, cap - (size_t)a, sr->ssrc, cname, cname_len);
  return b < 0 ? b : a + b;
}

int rtcp_build_bye(uint8_t *buf, size_t cap, const uint32_t *ssrc, size_t n) {
  size_t len = 4 + 4 * n, i;

  if (n == 0 || n > RTCP_MAX_REPORTS)
    return -EINVAL;
  if (cap < len)
    return -ENOBUFS;
  rtcp_put_hdr(buf, (uint8_t)n, RTCP_BYE, len);
  for (i = 0; i < n; i++)
    be_wr32(buf + 4 + 4 * i, ssrc[i]);
  return (int)len;
}

int rtcp_build_nack(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                    const uint16_t *lost, size_t n) {
  size_t off = 12, i;
  uint16_t pid = 0, blp = 0, d;

  if (n == 0)
    return -EINVAL;
  for (i = 0; i < n; i++) {
    d = (uint16_t)(lost[i] - pid);
    if (i > 0 && d <= 16) {
      if (d > 0)
        blp |= (uint16_t)(1u << (d - 1));
      continue;
    }
    if (i > 0) /* the current item is complete */
      be_wr16(buf + off - 2, blp);
    if (cap < off + 4 || off + 4 > 4 * 65536)
      return -ENOBUFS;
    pid = lost[i];
    blp = 0;
    be_wr16(buf + off, pid);
    off += 4;
  }
  be_wr16(buf + off - 2, blp);
  rtcp_put_hdr(buf, RTCP_RTPFB_NACK, RTCP_RTPFB, off);
  be_wr32(buf + 4, sender_ssrc);
  be_wr32(buf + 8, media_ssrc);
  return (int)off;
}

int rtcp_build_pli(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc) {
  if (cap < 12)
    return -ENOBUFS;
  rtcp_put_hdr(buf, RTCP_PSFB_PLI, RTCP_PSFB, 12);
  be_wr32(buf + 4, sender_ssrc);
  be_wr32(buf + 8, media_ssrc);
  return 12;
}

int rtcp_build_fir(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                   uint8_t seq_nr) {
  if (cap < 20)
    return -ENOBUFS;
  rtcp_put_hdr(buf, RTCP_PSFB_FIR, RTCP_PSFB, 20);
  be_wr32(buf + 4, sender_ssrc);
  be_wr32(buf + 8, 0); /* RFC 5104 4.3.1.2: the media source SSRC is unused */
  be_wr32(buf + 12, media_ssrc);
  buf[16] = seq_nr;
  buf[17] = buf[18] = buf[19] = 0;
  return 20;
}

int rtcp_build_remb(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint64_t bitrate,
                    const uint32_t *ssrc, size_t nssrc) {
  size_t n, i;
  unsigned exp = 0;

  if (nssrc == 0 || nssrc > 255)
    return -EINVAL;
  n = 20 + nssrc * 4;
  if (cap < n)
    return -ENOBUFS;
  while (bitrate >> exp > 0x3FFFF)
    exp++;
  rtcp_put_hdr(buf, RTCP_PSFB_AFB, RTCP_PSFB, n);
  be_wr32(buf + 4, sender_ssrc);
  be_wr32(buf + 8, 0);
  buf[12] = 'R';
  buf[13] = 'E';
  buf[14] = 'M';
  buf[15] = 'B';
  buf[16] = (uint8_t)nssrc;
  be_wr24(buf + 17, (uint32_t)exp << 18 | (uint32_t)(bitrate >> exp));
  for (i = 0; i < nssrc; i++)
    be_wr32(buf + 20 + i * 4, ssrc[i]);
  return (int)n;
}
