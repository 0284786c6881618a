/* Fuzzes the RTP parser (src/media/rtp.c). Keyframe detection and the VP8
 * payload descriptor run on the raw input (they see arbitrary payloads) and
 * on every parsed payload; a descriptor's IDs are rewritten and written back
 * to the original bytes. Every header extension id is looked up and read
 * as a 16-bit number, a MID and a RID, each agreeing with the element's
 * bytes, and written as a 16-bit number in place. A parsed packet is copied
 * into a buffer of exactly its size, rewritten (SSRC, sequence, timestamp,
 * PT), parsed again and compared field by field, then rewritten back to the
 * original bytes; and copied for a viewer, without extensions and with a
 * transport-wide sequence number, into a buffer of exactly the copy's size
 * (one byte less is refused): the copy parses, has the packet's header
 * fields, payload and padding, and its element reads back. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/rtp.h"

static void check_keyframe(const uint8_t *p, size_t len) {
  int k = rtp_vp8_keyframe(p, len);
  assert(k == 1 || k == 0 || k == -EINVAL);
  k = rtp_h264_keyframe(p, len);
  assert(k == 1 || k == 0 || k == -EINVAL);
  k = rtp_h264_slice_type(p, len);
  assert((k >= RTP_SLICE_P && k <= RTP_SLICE_SI) || k == -ENOENT || k == -EINVAL);
}

static void check_header(const uint8_t *p, size_t len, const struct rtp_hdr *h) {
  size_t want = RTP_HDR_MIN + 4u * h->csrc_count + (h->extension ? 4 + h->ext_len : 0);

  assert(h->csrc_count <= RTP_MAX_CSRC && h->pt <= 127 && h->marker <= 1);
  assert(h->header_len == want && h->payload == p + h->header_len);
  assert(h->header_len + h->payload_len + h->pad_len == len);
  assert(h->padding ? h->pad_len >= 1 && h->pad_len == p[len - 1] : h->pad_len == 0);
  assert(h->extension ? h->ext == p + RTP_HDR_MIN + 4u * h->csrc_count + 4 : h->ext == NULL);
  assert(h->ext_len % 4 == 0);
}

static void check_extensions(const struct rtp_hdr *h) {
  for (unsigned id = 0; id < 256; id++) {
    const uint8_t *d = NULL;
    size_t n = 0;
    int rc = rtp_ext_find(h, (uint8_t)id, &d, &n);
    assert(rc == 0 || rc == -ENOENT || rc == -EINVAL);
    if (id == 0 || (h->ext_profile == RTP_EXT_ONE_BYTE && h->ext && id > 14))
      assert(rc == -EINVAL);
    if (rc == 0) {
      assert(h->ext != NULL && d >= h->ext && n <= h->ext_len);
      assert((size_t)(d - h->ext) + n <= h->ext_len);
      if (h->ext_profile == RTP_EXT_ONE_BYTE)
        assert(n >= 1 && n <= 16);
    }
  }
}

/* Rewrites a copy, checks only the rewritten fields changed, restores it. */
static void check_rewrite(const uint8_t *p, size_t len, const struct rtp_hdr *h) {
  uint8_t *b = malloc(len);
  struct rtp_hdr g;

  memcpy(b, p, len);
  rtp_write_ssrc(b, ~h->ssrc);
  rtp_write_seq(b, (uint16_t)(h->seq + 1));
  rtp_write_ts(b, h->ts ^ 0x80000001u);
  rtp_write_pt(b, (uint8_t)(h->pt ^ 0xD5)); /* bit 7 must be dropped */
  assert(rtp_parse(b, len, &g) == 0);
  assert(g.ssrc == ~h->ssrc && g.seq == (uint16_t)(h->seq + 1));
  assert(g.ts == (h->ts ^ 0x80000001u) && g.pt == ((h->pt ^ 0xD5) & 0x7F));
  assert(g.marker == h->marker && g.csrc_count == h->csrc_count);
  assert(g.header_len == h->header_len && g.payload_len == h->payload_len);
  assert(g.pad_len == h->pad_len && g.ext_profile == h->ext_profile);
  assert(memcmp(g.csrc, h->csrc, 4u * h->csrc_count) == 0);
  assert(b[0] == p[0] && memcmp(b + RTP_HDR_MIN, p + RTP_HDR_MIN, len - RTP_HDR_MIN) == 0);
  rtp_write_ssrc(b, h->ssrc);
  rtp_write_seq(b, h->seq);
  rtp_write_ts(b, h->ts);
  rtp_write_pt(b, h->pt);
  assert(memcmp(b, p, len) == 0);
  free(b);
}

/* A descriptor's fields are within their ranges and agree with keyframe
 * detection; its IDs rewritten read back and written back restore the
 * bytes; a malformed one is refused without a byte written. */
static void check_vp8_desc(const uint8_t *p, size_t len) {
  struct rtp_vp8_desc d, e;
  int rc = rtp_vp8_desc(p, len, &d);
  uint8_t *b = malloc(len ? len : 1);
  uint16_t pid;

  assert(rc == 0 || rc == -EINVAL);
  memcpy(b, p, len);
  if (rc != 0) {
    assert(rtp_vp8_write_ids(b, len, 1, 2) == -EINVAL && memcmp(b, p, len) == 0);
    goto out;
  }
  assert(d.len >= 1 && d.len <= len && d.partition <= 7 && d.start <= 1 && d.non_ref <= 1);
  assert(d.picture_id_bits == 0 || d.picture_id_bits == 7 || d.picture_id_bits == 15);
  assert(d.picture_id < 1u << d.picture_id_bits && d.tid <= 3 && d.keyidx <= 31);
  assert(d.has_tid ? d.layer_sync <= 1 : d.tid == 0 && d.layer_sync == 0);
  assert(d.has_keyidx || d.keyidx == 0);
  assert(d.has_tl0picidx || d.tl0picidx == 0);
  if (rtp_vp8_keyframe(p, len) == 1)
    assert(d.start && d.partition == 0);
  pid = (uint16_t)~d.picture_id;
  assert(rtp_vp8_write_ids(b, len, pid, (uint8_t)~d.tl0picidx) == 0);
  assert(rtp_vp8_desc(b, len, &e) == 0 && e.len == d.len);
  assert(e.picture_id_bits == d.picture_id_bits && e.has_tl0picidx == d.has_tl0picidx);
  assert(e.picture_id == (d.picture_id_bits ? pid % (1u << d.picture_id_bits) : 0));
  assert(e.tl0picidx == (d.has_tl0picidx ? (uint8_t)~d.tl0picidx : 0));
  assert(e.tid == d.tid && e.layer_sync == d.layer_sync && e.keyidx == d.keyidx);
  assert(memcmp(b + d.len, p + d.len, len - d.len) == 0);
  assert(rtp_vp8_write_ids(b, len, d.picture_id, d.tl0picidx) == 0);
  assert(memcmp(b, p, len) == 0);
out:
  free(b);
}

/* A MID or RID read agrees with rtp_ext_find(): the element's bytes and a
 * NUL, or an error and "". A rid-id is a token. */
static int check_text(const struct rtp_hdr *h, uint8_t id, int found, const uint8_t *d, size_t n,
                      int (*fn)(const struct rtp_hdr *, uint8_t, char *, size_t)) {
  char out[256], small[4];
  int rc = fn(h, id, out, sizeof(out));

  if (found < 0)
    assert(rc == found && out[0] == '\0');
  else if (rc > 0)
    assert((size_t)rc == n && memcmp(out, d, n) == 0 && out[n] == '\0');
  else
    assert(rc == -EINVAL && out[0] == '\0'); /* 256 bytes hold any element */
  if (rc > 0 && n >= sizeof(small))
    assert(fn(h, id, small, sizeof(small)) == -ENOBUFS && small[0] == '\0');
  return rc;
}

/* Each id read as a 16-bit number, a MID and a RID; written as a 16-bit
 * number in a copy of p, where it reads back and only its two bytes
 * change (or nothing does, with the reader's error). */
static void check_readers(const uint8_t *p, size_t len, const struct rtp_hdr *h) {
  uint8_t *b = malloc(len);
  struct rtp_hdr g;

  memcpy(b, p, len);
  for (unsigned id = 0; id < 256; id++) {
    const uint8_t *d = NULL;
    size_t n = 0;
    uint16_t v = 0, w;
    int found = rtp_ext_find(h, (uint8_t)id, &d, &n);
    int rc = rtp_ext_u16(h, (uint8_t)id, &v);

    assert(found < 0 ? rc == found : rc == (n == 2 ? 0 : -EINVAL));
    assert(rc != 0 || v == (uint16_t)(d[0] << 8 | d[1]));
    int tok = check_text(h, (uint8_t)id, found, d, n, rtp_ext_token);
    if (check_text(h, (uint8_t)id, found, d, n, rtp_ext_rid) > 0)
      assert(tok > 0);
    assert(rtp_ext_write_u16(b, len, (uint8_t)id, (uint16_t)~v) == rc);
    if (rc != 0) {
      assert(memcmp(b, p, len) == 0);
      continue;
    }
    assert(rtp_parse(b, len, &g) == 0 && rtp_ext_u16(&g, (uint8_t)id, &w) == 0);
    assert(w == (uint16_t)~v);
    size_t off = (size_t)(d - p);
    assert(memcmp(b, p, off) == 0 && memcmp(b + off + 2, p + off + 2, len - off - 2) == 0);
    memcpy(b + off, p + off, 2);
  }
  free(b);
}

/* A viewer's copy without extensions (id 0) or with only id's: exactly its
 * size, one byte less refused; it parses with the packet's fields. */
static void check_copy(const uint8_t *p, size_t len, const struct rtp_hdr *h, uint8_t id) {
  size_t n = RTP_HDR_MIN + 4u * h->csrc_count + (id ? RTP_TWCC_BLOCK_LEN : 0) + h->payload_len +
             h->pad_len;
  uint16_t seq = (uint16_t)(h->seq * 31u + h->ts), v;
  uint8_t *b = malloc(n);
  const uint8_t *d;
  struct rtp_hdr g;
  size_t el;

  assert(n <= len + RTP_TWCC_BLOCK_LEN);
  assert(rtp_copy_with_twcc(b, n - 1, p, h, id, seq) == -ENOBUFS);
  assert(rtp_copy_with_twcc(b, n, p, h, id, seq) == (int)n);
  assert(rtp_parse(b, n, &g) == 0);
  assert(g.seq == h->seq && g.ts == h->ts && g.ssrc == h->ssrc && g.pt == h->pt);
  assert(g.marker == h->marker && g.csrc_count == h->csrc_count && g.padding == h->padding);
  assert(memcmp(g.csrc, h->csrc, 4u * h->csrc_count) == 0);
  assert(g.payload_len == h->payload_len && g.pad_len == h->pad_len);
  assert(memcmp(g.payload, h->payload, h->payload_len + h->pad_len) == 0);
  assert(g.extension == (id != 0));
  if (id) {
    assert(g.ext_profile == RTP_EXT_ONE_BYTE && g.ext_len == 4);
    assert(rtp_ext_u16(&g, id, &v) == 0 && v == seq);
    for (unsigned k = 1; k <= 14; k++)
      assert(k == id || rtp_ext_find(&g, (uint8_t)k, &d, &el) == -ENOENT);
    assert(rtp_ext_write_u16(b, n, id, (uint16_t)~seq) == 0);
    assert(rtp_parse(b, n, &g) == 0 && rtp_ext_u16(&g, id, &v) == 0 && v == (uint16_t)~seq);
  }
  free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct rtp_hdr h;
  int rtcp = rtp_is_rtcp(data, size);

  assert(rtcp == 0 || (rtcp == 1 && size >= 4 && data[1] >= 192 && data[1] <= 223));
  check_keyframe(data, size);
  check_vp8_desc(data, size);
  if (rtp_parse(data, size, &h) != 0)
    return 0;
  check_header(data, size, &h);
  check_extensions(&h);
  check_readers(data, size, &h);
  check_keyframe(h.payload, h.payload_len);
  check_vp8_desc(h.payload, h.payload_len);
  check_rewrite(data, size, &h);
  check_copy(data, size, &h, 0);
  check_copy(data, size, &h, (uint8_t)(1 + h.ssrc % 14));
  return 0;
}
