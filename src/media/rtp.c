/* RTP header parsing and rewriting, RFC 8285 extension lookup and readers,
 * a viewer's copy with its own extension block, the VP8 payload descriptor,
 * and VP8/H.264 keyframe detection. Every read is an explicit byte
 * operation at an offset checked against len first. */
#include "media/rtp.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "util/be.h"

/* Fills the extension fields from the block at p[off..len). Returns the
 * offset after it, or 0 if it runs past len. */
static size_t rtp_parse_ext(const uint8_t *p, size_t len, size_t off, struct rtp_hdr *h) {
  size_t words;

  if (len - off < 4)
    return 0;
  h->ext_profile = be_rd16(p + off);
  words = be_rd16(p + off + 2);
  off += 4;
  if (words * 4 > len - off)
    return 0;
  h->ext = p + off;
  h->ext_len = words * 4;
  return off + words * 4;
}

int rtp_parse(const uint8_t *p, size_t len, struct rtp_hdr *h) {
  size_t off = RTP_HDR_MIN, i;

  if (len < RTP_HDR_MIN || p[0] >> 6 != 2)
    return -EINVAL;
  h->padding = p[0] >> 5 & 1;
  h->extension = p[0] >> 4 & 1;
  h->csrc_count = p[0] & 0x0F;
  h->marker = p[1] >> 7;
  h->pt = p[1] & 0x7F;
  h->seq = be_rd16(p + 2);
  h->ts = be_rd32(p + 4);
  h->ssrc = be_rd32(p + 8);
  if ((size_t)h->csrc_count * 4 > len - off)
    return -EINVAL;
  for (i = 0; i < h->csrc_count; i++, off += 4)
    h->csrc[i] = be_rd32(p + off);
  h->ext_profile = 0;
  h->ext = NULL;
  h->ext_len = 0;
  if (h->extension) {
    off = rtp_parse_ext(p, len, off, h);
    if (off == 0)
      return -EINVAL;
  }
  h->header_len = off;
  h->pad_len = 0;
  if (h->padding) {
    /* The last byte counts the padding, itself included (RFC 3550 5.1). */
    if (len == off || p[len - 1] == 0 || p[len - 1] > len - off)
      return -EINVAL;
    h->pad_len = p[len - 1];
  }
  h->payload = p + off;
  h->payload_len = len - off - h->pad_len;
  return 0;
}

int rtp_is_rtcp(const uint8_t *p, size_t len) {
  return len >= 4 && p[0] >> 6 == 2 && p[1] >= 192 && p[1] <= 223;
}

void rtp_write_ssrc(uint8_t *p, uint32_t ssrc) {
  p[8] = (uint8_t)(ssrc >> 24);
  p[9] = (uint8_t)(ssrc >> 16);
  p[10] = (uint8_t)(ssrc >> 8);
  p[11] = (uint8_t)ssrc;
}

void rtp_write_seq(uint8_t *p, uint16_t seq) {
  p[2] = (uint8_t)(seq >> 8);
  p[3] = (uint8_t)seq;
}

void rtp_write_ts(uint8_t *p, uint32_t ts) {
  p[4] = (uint8_t)(ts >> 24);
  p[5] = (uint8_t)(ts >> 16);
  p[6] = (uint8_t)(ts >> 8);
  p[7] = (uint8_t)ts;
}

void rtp_write_pt(uint8_t *p, uint8_t pt) { p[1] = (uint8_t)((p[1] & 0x80) | (pt & 0x7F)); }

/* RFC 8285 4.2: elements are an ID/L byte and L+1 bytes; ID 0 is a padding
 * byte, ID 15 ends the block. */
static int rtp_ext_find_one(const uint8_t *e, size_t n, uint8_t id, const uint8_t **data,
                            size_t *len) {
  size_t off = 0, el;

  while (off < n) {
    uint8_t eid = e[off] >> 4;
    if (eid == 0) {
      off++;
      continue;
    }
    if (eid == 15)
      return -ENOENT;
    el = (size_t)(e[off] & 0x0F) + 1;
    if (el > n - off - 1)
      return -EINVAL;
    if (eid == id) {
      *data = e + off + 1;
      *len = el;
      return 0;
    }
    off += 1 + el;
  }
  return -ENOENT;
}

/* RFC 8285 4.3: elements are an ID byte, a length byte and that many bytes;
 * a 0 byte in place of an ID is padding. */
static int rtp_ext_find_two(const uint8_t *e, size_t n, uint8_t id, const uint8_t **data,
                            size_t *len) {
  size_t off = 0, el;

  while (off < n) {
    if (e[off] == 0) {
      off++;
      continue;
    }
    if (n - off < 2)
      return -EINVAL;
    el = e[off + 1];
    if (el > n - off - 2)
      return -EINVAL;
    if (e[off] == id) {
      *data = e + off + 2;
      *len = el;
      return 0;
    }
    off += 2 + el;
  }
  return -ENOENT;
}

int rtp_ext_find(const struct rtp_hdr *h, uint8_t id, const uint8_t **data, size_t *len) {
  if (id == 0)
    return -EINVAL;
  if (h->ext == NULL)
    return -ENOENT;
  if (h->ext_profile == RTP_EXT_ONE_BYTE) {
    if (id > 14)
      return -EINVAL;
    return rtp_ext_find_one(h->ext, h->ext_len, id, data, len);
  }
  if ((h->ext_profile & 0xFFF0) == RTP_EXT_TWO_BYTE)
    return rtp_ext_find_two(h->ext, h->ext_len, id, data, len);
  return -ENOENT;
}

int rtp_ext_u16(const struct rtp_hdr *h, uint8_t id, uint16_t *v) {
  const uint8_t *d;
  size_t n;
  int rc = rtp_ext_find(h, id, &d, &n);

  if (rc < 0)
    return rc;
  if (n != 2)
    return -EINVAL;
  *v = be_rd16(d);
  return 0;
}

int rtp_ext_write_u16(uint8_t *p, size_t len, uint8_t id, uint16_t v) {
  struct rtp_hdr h;
  const uint8_t *d;
  size_t n, off;
  int rc;

  if (rtp_parse(p, len, &h) < 0)
    return -EINVAL;
  if ((rc = rtp_ext_find(&h, id, &d, &n)) < 0)
    return rc;
  if (n != 2)
    return -EINVAL;
  off = (size_t)(d - p); /* d points into p, read-only */
  p[off] = (uint8_t)(v >> 8);
  p[off + 1] = (uint8_t)v;
  return 0;
}

/* RFC 4566 9's token-char: %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 /
 * %x41-5A / %x5E-7E. */
static int rtp_token_char(uint8_t c) {
  if (c < 0x21 || c > 0x7E)
    return 0;
  return c != 0x22 && c != 0x28 && c != 0x29 && c != 0x2C && c != 0x2F &&
         !(c >= 0x3A && c <= 0x40) && !(c >= 0x5B && c <= 0x5D);
}

/* RFC 8851 10's rid-id: 1*(alpha-numeric / "-" / "_"). */
static int rtp_rid_char(uint8_t c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' ||
         c == '_';
}

/* rtp_ext_token() and rtp_ext_rid(), with the set of bytes taken. */
static int rtp_ext_text(const struct rtp_hdr *h, uint8_t id, char *out, size_t cap,
                        int (*ok)(uint8_t)) {
  const uint8_t *d;
  size_t n, i;
  int rc = rtp_ext_find(h, id, &d, &n);

  if (cap > 0)
    out[0] = '\0';
  if (rc < 0)
    return rc;
  if (n == 0)
    return -EINVAL;
  for (i = 0; i < n; i++) {
    if (!ok(d[i]))
      return -EINVAL;
  }
  if (n >= cap)
    return -ENOBUFS;
  memcpy(out, d, n);
  out[n] = '\0';
  return (int)n; /* n <= 255 */
}

int rtp_ext_token(const struct rtp_hdr *h, uint8_t id, char *out, size_t cap) {
  return rtp_ext_text(h, id, out, cap, rtp_token_char);
}

int rtp_ext_rid(const struct rtp_hdr *h, uint8_t id, char *out, size_t cap) {
  return rtp_ext_text(h, id, out, cap, rtp_rid_char);
}

int rtp_copy_with_twcc(uint8_t *out, size_t cap, const uint8_t *pkt, const struct rtp_hdr *h,
                       uint8_t twcc_id, uint16_t twcc_seq) {
  size_t head = RTP_HDR_MIN + 4u * h->csrc_count; /* fixed header and CSRCs */
  size_t tail = h->payload_len + h->pad_len;      /* payload and padding */
  size_t block = twcc_id ? RTP_TWCC_BLOCK_LEN : 0, n = head + block + tail;

  assert(h->payload == pkt + h->header_len && head <= h->header_len);
  if (twcc_id > 14)
    return -EINVAL;
  if (n > cap)
    return -ENOBUFS;
  if (n > INT_MAX)
    return -EINVAL;
  memcpy(out, pkt, head);
  out[0] = (uint8_t)((out[0] & ~0x10) | (twcc_id ? 0x10 : 0)); /* X */
  if (twcc_id) {
    out[head] = RTP_EXT_ONE_BYTE >> 8;
    out[head + 1] = RTP_EXT_ONE_BYTE & 0xFF;
    out[head + 2] = 0;
    out[head + 3] = 1;                           /* words of elements */
    out[head + 4] = (uint8_t)(twcc_id << 4 | 1); /* ID, L = 2 bytes - 1 */
    out[head + 5] = (uint8_t)(twcc_seq >> 8);
    out[head + 6] = (uint8_t)twcc_seq;
    out[head + 7] = 0; /* padding to the word */
  }
  memcpy(out + head + block, h->payload, tail);
  return (int)n;
}

/* The PictureID at p[off..len) into d. Returns the offset after it, or 0 if
 * it runs past len. */
static size_t rtp_vp8_picture_id(const uint8_t *p, size_t len, size_t off, struct rtp_vp8_desc *d) {
  if (off >= len)
    return 0;
  if (!(p[off] & 0x80)) { /* M: 0 is a 7-bit PictureID */
    d->picture_id_bits = 7;
    d->picture_id = p[off];
    return off + 1;
  }
  if (len - off < 2)
    return 0;
  d->picture_id_bits = 15;
  d->picture_id = (uint16_t)((p[off] & 0x7F) << 8 | p[off + 1]);
  return off + 2;
}

/* The extension fields after the X byte x, from p[2..len). Returns the
 * descriptor's length, or 0 if it runs past len. */
static size_t rtp_vp8_ext(const uint8_t *p, size_t len, uint8_t x, struct rtp_vp8_desc *d) {
  size_t off = 2;

  if (x & 0x80) { /* I */
    off = rtp_vp8_picture_id(p, len, off, d);
    if (off == 0)
      return 0;
  }
  if (x & 0x40) { /* L */
    if (off >= len)
      return 0;
    d->has_tl0picidx = 1;
    d->tl0picidx = p[off++];
  }
  if (x & 0x30) { /* T or K: one byte TID(2)|Y|KEYIDX(5) */
    if (off >= len)
      return 0;
    if (x & 0x20) {
      d->has_tid = 1;
      d->tid = p[off] >> 6;
      d->layer_sync = p[off] >> 5 & 1;
    }
    if (x & 0x10) {
      d->has_keyidx = 1;
      d->keyidx = p[off] & 0x1F;
    }
    off++;
  }
  return off;
}

int rtp_vp8_desc(const uint8_t *payload, size_t len, struct rtp_vp8_desc *d) {
  memset(d, 0, sizeof(*d));
  if (len < 1)
    return -EINVAL;
  d->non_ref = payload[0] >> 5 & 1;
  d->start = payload[0] >> 4 & 1;
  d->partition = payload[0] & 0x07;
  d->len = 1;
  if (!(payload[0] & 0x80)) /* X */
    return 0;
  if (len < 2)
    return -EINVAL;
  d->len = rtp_vp8_ext(payload, len, payload[1], d);
  return d->len ? 0 : -EINVAL;
}

int rtp_vp8_write_ids(uint8_t *payload, size_t len, uint16_t picture_id, uint8_t tl0picidx) {
  struct rtp_vp8_desc d;
  size_t off = 2; /* after the X byte */

  if (rtp_vp8_desc(payload, len, &d) < 0)
    return -EINVAL;
  if (d.picture_id_bits == 7) {
    payload[off++] = (uint8_t)(picture_id & 0x7F); /* M stays 0 */
  } else if (d.picture_id_bits == 15) {
    payload[off++] = (uint8_t)(0x80 | (picture_id >> 8 & 0x7F));
    payload[off++] = (uint8_t)picture_id;
  }
  if (d.has_tl0picidx)
    payload[off] = tl0picidx;
  return 0;
}

int rtp_vp8_keyframe(const uint8_t *payload, size_t len) {
  struct rtp_vp8_desc d;
  const uint8_t *f;

  if (rtp_vp8_desc(payload, len, &d) < 0)
    return -EINVAL;
  /* Only the first packet of partition 0 carries the frame tag. */
  if (!d.start || d.partition != 0)
    return 0;
  f = payload + d.len;
  len -= d.len;
  if (len < 3)
    return -EINVAL;
  if (f[0] & 0x01) /* P: 1 is an interframe (RFC 6386 9.1) */
    return 0;
  if (len < 6 || f[3] != 0x9D || f[4] != 0x01 || f[5] != 0x2A)
    return -EINVAL;
  return 1;
}

static int rtp_h264_key_type(uint8_t type) { return type == 5 || type == 7; }

/* STAP-A (RFC 6184 5.7.1): after its NAL header, units of a 16-bit size and
 * that many bytes, each with its own NAL header. */
static int rtp_h264_stap_a(const uint8_t *p, size_t len) {
  size_t off = 1, n;
  int key = 0;

  if (len < 1 + 3)
    return -EINVAL;
  while (off < len) {
    if (len - off < 2)
      return -EINVAL;
    n = be_rd16(p + off);
    off += 2;
    if (n == 0 || n > len - off || p[off] & 0x80)
      return -EINVAL;
    if (rtp_h264_key_type(p[off] & 0x1F))
      key = 1;
    off += n;
  }
  return key;
}

/* Reads Exp-Golomb codes from a NAL unit's RBSP, skipping emulation
 * prevention bytes (00 00 03). */
struct rtp_bits {
  const uint8_t *p;
  size_t len, off; /* bytes, and the byte being read */
  unsigned bit;    /* next bit of p[off], 7 first */
  unsigned zeros;  /* zero bytes just before p[off] */
};

static int rtp_bit(struct rtp_bits *b) {
  if (b->bit == 7 && b->zeros >= 2 && b->off < b->len && b->p[b->off] == 3) {
    b->off++; /* emulation prevention byte */
    b->zeros = 0;
  }
  if (b->off >= b->len)
    return -EINVAL;
  int v = (b->p[b->off] >> b->bit) & 1;
  if (b->bit-- == 0) {
    b->zeros = b->p[b->off] == 0 ? b->zeros + 1 : 0;
    b->bit = 7;
    b->off++;
  }
  return v;
}

/* ue(v), up to 31 bits of value: 0 with *v, or -EINVAL. */
static int rtp_ue(struct rtp_bits *b, uint32_t *v) {
  int n = 0, bit;
  while ((bit = rtp_bit(b)) == 0) {
    if (++n > 31)
      return -EINVAL;
  }
  if (bit < 0)
    return -EINVAL;
  uint32_t x = 1;
  for (int i = 0; i < n; i++) {
    if ((bit = rtp_bit(b)) < 0)
      return -EINVAL;
    x = x << 1 | (uint32_t)bit;
  }
  *v = x - 1;
  return 0;
}

/* The slice type of the slice header at p (after its NAL header). */
static int rtp_h264_slice_at(const uint8_t *p, size_t len) {
  struct rtp_bits b = {.p = p, .len = len, .bit = 7};
  uint32_t first_mb, type;
  if (rtp_ue(&b, &first_mb) < 0 || rtp_ue(&b, &type) < 0 || type > 9)
    return -EINVAL;
  return (int)(type % 5);
}

static int rtp_h264_is_slice(uint8_t type) { return type == 1 || type == 5; }

int rtp_h264_slice_type(const uint8_t *payload, size_t len) {
  if (len < 1 || payload[0] & 0x80)
    return -EINVAL;
  uint8_t type = payload[0] & 0x1F;
  if (rtp_h264_is_slice(type))
    return rtp_h264_slice_at(payload + 1, len - 1);
  if (type == 28) {
    if (len < 2)
      return -EINVAL;
    if (!(payload[1] & 0x80) || !rtp_h264_is_slice(payload[1] & 0x1F))
      return -ENOENT;
    return rtp_h264_slice_at(payload + 2, len - 2);
  }
  if (type != 24)
    return -ENOENT;
  for (size_t off = 1; off < len;) { /* STAP-A, as rtp_h264_stap_a() */
    if (len - off < 2)
      return -EINVAL;
    size_t n = be_rd16(payload + off);
    off += 2;
    if (n == 0 || n > len - off || payload[off] & 0x80)
      return -EINVAL;
    if (rtp_h264_is_slice(payload[off] & 0x1F))
      return rtp_h264_slice_at(payload + off + 1, n - 1);
    off += n;
  }
  return -ENOENT;
}

int rtp_h264_keyframe(const uint8_t *payload, size_t len) {
  uint8_t type;

  if (len < 1 || payload[0] & 0x80) /* F: forbidden_zero_bit */
    return -EINVAL;
  type = payload[0] & 0x1F;
  if (type >= 1 && type <= 23)
    return rtp_h264_key_type(type);
  if (type == 24)
    return rtp_h264_stap_a(payload, len);
  if (type == 28) { /* FU-A (5.8): FU header S|E|R|type */
    if (len < 2)
      return -EINVAL;
    return (payload[1] & 0x80) && rtp_h264_key_type(payload[1] & 0x1F);
  }
  return 0; /* STAP-B, MTAP, FU-B and reserved types: not packetization-mode 1 */
}
