/* Fuzzes the RTP parser (src/media/rtp.c). Keyframe detection runs on the
 * raw input (it sees arbitrary payloads) and on every parsed payload; every
 * header extension id is looked up; a parsed packet is copied into a buffer
 * of exactly its size, rewritten (SSRC, sequence, timestamp, PT), parsed
 * again and compared field by field, then rewritten back to the original
 * bytes. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct rtp_hdr h;
  int rtcp = rtp_is_rtcp(data, size);

  assert(rtcp == 0 || (rtcp == 1 && size >= 4 && data[1] >= 192 && data[1] <= 223));
  check_keyframe(data, size);
  if (rtp_parse(data, size, &h) != 0)
    return 0;
  check_header(data, size, &h);
  check_extensions(&h);
  check_keyframe(h.payload, h.payload_len);
  check_rewrite(data, size, &h);
  return 0;
}
