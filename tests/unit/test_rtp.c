/* Tests for src/media/rtp.c: tables of hand-built packets (CSRCs, one-byte
 * and two-byte header extensions, padding) and of every malformed form, the
 * RFC 8285 element lookup, the RTCP demultiplexing test, the in-place
 * rewriters, and VP8/H.264 keyframe detection tables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "case_check.h"
#include "media/rtp.h"

#define B(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})
#define EMPTY (const uint8_t[]){0}, 0
/* A parse case that must fail. */
#define BAD(name, ...) \
  { name, B(__VA_ARGS__), -EINVAL, 0, 0, 0, 0, 0, 0, 0, 0 }

/* The fixed header used by most cases: PT 96, seq 0x1234, ts 1000, SSRC
 * 0xdeadbeef; b0 and b1 are the first two bytes. */
#define FIXED(b0, b1) (b0), (b1), 0x12, 0x34, 0x00, 0x00, 0x03, 0xE8, 0xDE, 0xAD, 0xBE, 0xEF

struct parse_case {
  const char *name;
  const uint8_t *bytes;
  size_t len;
  int rc;
  uint8_t marker, pt, cc;
  uint16_t ext_profile;
  size_t ext_len, header_len, payload_len, pad_len;
};

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const struct parse_case parse_cases[] = {
    {"minimal", B(FIXED(0x80, 0x60), 'a', 'b', 'c', 'd'), 0, 0, 96, 0, 0, 0, 12, 4, 0},
    {"no payload", B(FIXED(0x80, 0x60)), 0, 0, 96, 0, 0, 0, 12, 0, 0},
    {"marker, PT 111", B(FIXED(0x80, 0xEF), 1, 2), 0, 1, 111, 0, 0, 0, 12, 2, 0},
    {"two CSRCs", B(FIXED(0x82, 0x60), 0, 0, 0, 1, 0, 0, 0, 2, 'x'), 0, 0, 96, 2, 0, 0, 20, 1, 0},
    {"fifteen CSRCs",
     B(FIXED(0x8F, 0x60), 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 7,
       0, 0, 0, 8, 0, 0, 0, 9, 0, 0, 0, 10, 0, 0, 0, 11, 0, 0, 0, 12, 0, 0, 0, 13, 0, 0, 0, 14, 0,
       0, 0, 15, 0, 0, 0),
     0, 0, 96, 15, 0, 0, 72, 0, 0},
    /* one-byte: id 1 (1 byte), id 2 (4 bytes), two padding bytes */
    {"one-byte extension",
     B(FIXED(0x90, 0x60), 0xBE, 0xDE, 0x00, 0x02, 0x10, 0xAA, 0x23, 0xB1, 0xB2, 0xB3, 0xB4, 0x00,
       'p', 'a', 'y'),
     0, 0, 96, 0, 0xBEDE, 8, 24, 3, 0},
    /* two-byte: id 1 (0 bytes), id 2 (3 bytes), one padding byte */
    {"two-byte extension",
     B(FIXED(0x90, 0x60), 0x10, 0x00, 0x00, 0x02, 0x01, 0x00, 0x02, 0x03, 'x', 'y', 'z', 0x00, 'p'),
     0, 0, 96, 0, 0x1000, 8, 24, 1, 0},
    {"empty extension", B(FIXED(0x90, 0x60), 0xBE, 0xDE, 0x00, 0x00, 'p'), 0, 0, 96, 0, 0xBEDE, 0,
     16, 1, 0},
    {"padding", B(FIXED(0xA0, 0x60), 'a', 'b', 'c', 0, 0, 3), 0, 0, 96, 0, 0, 0, 12, 3, 3},
    {"padding only (probe)", B(FIXED(0xA0, 0x60), 0, 0, 0, 4), 0, 0, 96, 0, 0, 0, 12, 0, 4},
    {"padding of one byte", B(FIXED(0xA0, 0x60), 'a', 1), 0, 0, 96, 0, 0, 0, 12, 1, 1},
    {"CSRC, extension, padding, marker",
     B(FIXED(0xB1, 0xE0), 0xCA, 0xFE, 0xBA, 0xBE, 0xBE, 0xDE, 0x00, 0x01, 0x51, 0x01, 0x02, 0x00,
       'v', 'p', '8', 0, 2),
     0, 1, 96, 1, 0xBEDE, 4, 24, 3, 2},
    {"empty", EMPTY, -EINVAL, 0, 0, 0, 0, 0, 0, 0, 0},
    BAD("11 bytes", 0x80, 0x60, 0x12, 0x34, 0, 0, 3, 0xE8, 0xDE, 0xAD, 0xBE),
    BAD("version 0", FIXED(0x00, 0x60), 1),
    BAD("version 1", FIXED(0x40, 0x60), 1),
    BAD("version 3", FIXED(0xC0, 0x60), 1),
    BAD("CSRC count past the end", FIXED(0x8F, 0x60), 0, 0, 0, 1),
    BAD("CSRC list one byte short", FIXED(0x82, 0x60), 0, 0, 0, 1, 0, 0, 0),
    BAD("extension header truncated", FIXED(0x90, 0x60), 0xBE, 0xDE),
    BAD("extension running past the end", FIXED(0x90, 0x60), 0xBE, 0xDE, 0x00, 0x03, 0x10, 0xAA, 0,
        0, 0, 0, 0, 0),
    BAD("extension length 0xffff", FIXED(0x90, 0x60), 0xBE, 0xDE, 0xFF, 0xFF, 0, 0, 0, 0),
    BAD("extension after CSRCs past the end", FIXED(0x91, 0x60), 0, 0, 0, 1, 0xBE, 0xDE, 0x00),
    BAD("padding larger than payload", FIXED(0xA0, 0x60), 'a', 'b', 0x20),
    BAD("padding one more than payload", FIXED(0xA0, 0x60), 'a', 'b', 4),
    BAD("padding count 0", FIXED(0xA0, 0x60), 'a', 'b', 0),
    BAD("padding bit, no byte after header", FIXED(0xA0, 0x60)),
    BAD("padding counting into extension", FIXED(0xB0, 0x60), 0xBE, 0xDE, 0x00, 0x01, 0x10, 0xAA, 0,
        0, 'a', 6),
};

static void test_parse_table(void **state) {
  for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
    const struct parse_case *c = &parse_cases[i];
    struct rtp_hdr h;
    int rc = rtp_parse(c->bytes, c->len, &h);

    CHECK(c, rc == c->rc);
    if (rc != 0)
      continue;
    CHECK(c, h.seq == 0x1234 && h.ts == 1000 && h.ssrc == 0xDEADBEEF);
    CHECK(c, h.marker == c->marker && h.pt == c->pt && h.csrc_count == c->cc);
    CHECK(c, h.extension == (c->ext_profile != 0) && h.ext_profile == c->ext_profile);
    CHECK(c, h.ext_len == c->ext_len);
    CHECK(c, h.header_len == c->header_len && h.payload == c->bytes + c->header_len);
    CHECK(c, h.payload_len == c->payload_len && h.pad_len == c->pad_len);
    CHECK(c, h.padding == (c->pad_len != 0));
    CHECK(c, h.header_len + h.payload_len + h.pad_len == c->len);
    for (unsigned k = 0; k < h.csrc_count; k++)
      CHECK(c, h.csrc[k] == be32(c->bytes + 12 + 4 * k));
  }
}

/* Every truncation of a valid packet with CSRCs, extension and padding
 * must fail (the padding count byte moves, so no prefix is valid). */
static void test_parse_every_truncation(void **state) {
  const struct parse_case *c = &parse_cases[11];
  struct rtp_hdr h;

  assert_string_equal(c->name, "CSRC, extension, padding, marker");
  assert_int_equal(rtp_parse(c->bytes, c->len, &h), 0);
  for (size_t n = 0; n < c->len; n++)
    assert_int_equal(rtp_parse(c->bytes, n, &h), -EINVAL);
}

struct ext_case {
  const char *name;
  size_t pkt; /* index into parse_cases */
  uint8_t id;
  int rc;
  const char *data;
  size_t len;
};

static const struct ext_case ext_cases[] = {
    {"one-byte id 1", 5, 1, 0, "\xAA", 1},
    {"one-byte id 2", 5, 2, 0, "\xB1\xB2\xB3\xB4", 4},
    {"one-byte absent id", 5, 3, -ENOENT, NULL, 0},
    {"one-byte id 15 out of range", 5, 15, -EINVAL, NULL, 0},
    {"id 0", 5, 0, -EINVAL, NULL, 0},
    {"two-byte id 1, empty", 6, 1, 0, "", 0},
    {"two-byte id 2", 6, 2, 0, "xyz", 3},
    {"two-byte absent", 6, 200, -ENOENT, NULL, 0},
    {"no extension", 0, 1, -ENOENT, NULL, 0},
    {"empty extension block", 7, 1, -ENOENT, NULL, 0},
    {"after CSRCs", 11, 5, 0, "\x01\x02", 2},
};

static void test_ext_find_table(void **state) {
  for (size_t i = 0; i < sizeof(ext_cases) / sizeof(ext_cases[0]); i++) {
    const struct ext_case *c = &ext_cases[i];
    const struct parse_case *p = &parse_cases[c->pkt];
    struct rtp_hdr h;
    const uint8_t *data = NULL;
    size_t len = 999;

    CHECK(c, p->rc == 0 && rtp_parse(p->bytes, p->len, &h) == 0);
    CHECK(c, rtp_ext_find(&h, c->id, &data, &len) == c->rc);
    if (c->rc == 0)
      CHECK(c, len == c->len && data != NULL && memcmp(data, c->data, len) == 0);
  }
}

struct ext_bad_case {
  const char *name;
  const uint8_t *bytes;
  size_t len;
  uint8_t id;
  int rc;
};

static const struct ext_bad_case ext_bad_cases[] = {
    {"one-byte element past the block", B(FIXED(0x90, 0x60), 0xBE, 0xDE, 0, 1, 0x1F, 0, 0, 0), 1,
     -EINVAL},
    {"one-byte element past the block, other id",
     B(FIXED(0x90, 0x60), 0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0x25, 0), 3, -EINVAL},
    {"one-byte id 15 stops the walk",
     B(FIXED(0x90, 0x60), 0xBE, 0xDE, 0, 2, 0x10, 0x01, 0xF0, 0x00, 0x21, 0xAA, 0xBB, 0), 2,
     -ENOENT},
    {"one-byte before id 15 found",
     B(FIXED(0x90, 0x60), 0xBE, 0xDE, 0, 2, 0x10, 0x01, 0xF0, 0x00, 0x21, 0xAA, 0xBB, 0), 1, 0},
    {"two-byte length past the block", B(FIXED(0x90, 0x60), 0x10, 0x00, 0, 1, 0x01, 0x03, 1, 2), 1,
     -EINVAL},
    {"two-byte id without length byte", B(FIXED(0x90, 0x60), 0x10, 0x00, 0, 1, 0, 0, 0, 0x07), 7,
     -EINVAL},
    {"two-byte appbits", B(FIXED(0x90, 0x60), 0x10, 0x05, 0, 1, 0x09, 0x01, 0x42, 0), 9, 0},
    {"unknown profile", B(FIXED(0x90, 0x60), 0x12, 0x34, 0, 1, 0x10, 0xAA, 0, 0), 1, -ENOENT},
};

static void test_ext_malformed(void **state) {
  for (size_t i = 0; i < sizeof(ext_bad_cases) / sizeof(ext_bad_cases[0]); i++) {
    const struct ext_bad_case *c = &ext_bad_cases[i];
    struct rtp_hdr h;
    const uint8_t *data;
    size_t len;

    CHECK(c, rtp_parse(c->bytes, c->len, &h) == 0);
    CHECK(c, rtp_ext_find(&h, c->id, &data, &len) == c->rc);
  }
}

struct demux_case {
  const char *name;
  const uint8_t *bytes;
  size_t len;
  int rtcp;
};

static const struct demux_case demux_cases[] = {
    {"SR", B(0x80, 200, 0, 6), 1},
    {"RR", B(0x81, 201, 0, 7), 1},
    {"RTPFB", B(0x81, 205, 0, 3), 1},
    {"PSFB", B(0x81, 206, 0, 2), 1},
    {"192, lowest", B(0x80, 192, 0, 1), 1},
    {"223, highest", B(0x80, 223, 0, 1), 1},
    {"224 is RTP PT 96 with marker", B(0x80, 224, 0, 1), 0},
    {"191 is RTP PT 63 with marker", B(0x80, 191, 0, 1), 0},
    {"RTP PT 96", B(FIXED(0x80, 0x60)), 0},
    {"RTP PT 111 with marker", B(FIXED(0x80, 0xEF)), 0},
    {"version 1", B(0x40, 200, 0, 6), 0},
    {"3 bytes", B(0x80, 200, 0), 0},
    {"empty", EMPTY, 0},
};

static void test_is_rtcp_table(void **state) {
  for (size_t i = 0; i < sizeof(demux_cases) / sizeof(demux_cases[0]); i++) {
    const struct demux_case *c = &demux_cases[i];
    CHECK(c, rtp_is_rtcp(c->bytes, c->len) == c->rtcp);
  }
}

/* Rewriting changes exactly the field written, in every valid packet. */
static void test_rewrite(void **state) {
  for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
    const struct parse_case *c = &parse_cases[i];
    uint8_t buf[128];
    struct rtp_hdr a, b;

    if (c->rc != 0)
      continue;
    memcpy(buf, c->bytes, c->len);
    rtp_write_ssrc(buf, 0x01020304);
    rtp_write_seq(buf, 0xFFFE);
    rtp_write_ts(buf, 0x80000001);
    rtp_write_pt(buf, 0xFF); /* only 7 bits are used */
    CHECK(c, rtp_parse(c->bytes, c->len, &a) == 0);
    CHECK(c, rtp_parse(buf, c->len, &b) == 0);
    CHECK(c, b.ssrc == 0x01020304 && b.seq == 0xFFFE && b.ts == 0x80000001 && b.pt == 127);
    CHECK(c, b.marker == a.marker && b.csrc_count == a.csrc_count);
    CHECK(c, b.header_len == a.header_len && b.payload_len == a.payload_len);
    CHECK(c, memcmp(buf + 12, c->bytes + 12, c->len - 12) == 0);
    rtp_write_pt(buf, 96);
    CHECK(c, rtp_parse(buf, c->len, &b) == 0 && b.pt == 96 && b.marker == a.marker);
  }
}

struct key_case {
  const char *name;
  const uint8_t *bytes;
  size_t len;
  int rc;
};

/* A VP8 key frame's first bytes: frame tag (P=0), start code, 640x480. */
#define VP8_KEY 0x50, 0x2C, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01
#define VP8_DELTA 0x51, 0x2C, 0x00, 0x11, 0x22, 0x33

static const struct key_case vp8_cases[] = {
    {"keyframe, 1-byte descriptor", B(0x10, VP8_KEY), 1},
    {"keyframe, N bit set", B(0x30, VP8_KEY), 1},
    {"keyframe, X with I (15-bit), L, T", B(0x90, 0xE0, 0x80, 0x01, 0x05, 0x20, VP8_KEY), 1},
    {"keyframe, X with I (7-bit) and K", B(0x90, 0x90, 0x7F, 0x00, VP8_KEY), 1},
    {"keyframe, X with nothing", B(0x90, 0x00, VP8_KEY), 1},
    {"keyframe, X with T and K (one byte)", B(0x90, 0x30, 0x40, VP8_KEY), 1},
    {"delta frame", B(0x10, VP8_DELTA), 0},
    {"delta frame, X with I L T K", B(0x90, 0xF0, 0x81, 0x02, 0x05, 0x60, VP8_DELTA), 0},
    {"continuation of a keyframe (S=0)", B(0x00, VP8_KEY), 0},
    {"continuation, X", B(0x80, 0x80, 0x12, VP8_KEY), 0},
    {"start of partition 1", B(0x11, VP8_KEY), 0},
    {"start of partition 7", B(0x17, VP8_KEY), 0},
    {"empty", EMPTY, -EINVAL},
    {"X without its byte", B(0x90), -EINVAL},
    {"I without picture id", B(0x90, 0x80), -EINVAL},
    {"15-bit picture id cut", B(0x90, 0x80, 0x80), -EINVAL},
    {"L without TL0PICIDX", B(0x90, 0x40), -EINVAL},
    {"T without its byte", B(0x90, 0x20), -EINVAL},
    {"S=1 with no frame tag", B(0x10), -EINVAL},
    {"frame tag cut at 2", B(0x10, 0x50, 0x2C), -EINVAL},
    {"key tag, start code cut", B(0x10, 0x50, 0x2C, 0x00, 0x9D, 0x01), -EINVAL},
    {"key tag, wrong start code", B(0x10, 0x50, 0x2C, 0x00, 0x9D, 0x01, 0x2B), -EINVAL},
};

static const struct key_case h264_cases[] = {
    {"IDR slice", B(0x65, 0x88, 0x84, 0x00), 1},
    {"SPS", B(0x67, 0x42, 0xC0, 0x1F), 1},
    {"PPS", B(0x68, 0xCE, 0x3C, 0x80), 0},
    {"non-IDR slice", B(0x41, 0x9A, 0x02), 0},
    {"SEI", B(0x06, 0x05, 0x10), 0},
    {"AUD", B(0x09, 0xF0), 0},
    {"STAP-A with SPS and PPS", B(0x78, 0, 4, 0x67, 0x42, 0xC0, 0x1F, 0, 2, 0x68, 0xCE), 1},
    {"STAP-A with SPS, PPS, IDR",
     B(0x78, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xCE, 0, 3, 0x65, 0x88, 0x84), 1},
    {"STAP-A with SEI and non-IDR", B(0x78, 0, 2, 0x06, 0x05, 0, 2, 0x41, 0x9A), 0},
    {"STAP-A, IDR second", B(0x78, 0, 1, 0x09, 0, 1, 0x65), 1},
    {"FU-A start of IDR", B(0x7C, 0x85, 0x88, 0x84), 1},
    {"FU-A start of SPS", B(0x7C, 0x87, 0x42), 1},
    {"FU-A middle of IDR", B(0x7C, 0x05, 0x11, 0x22), 0},
    {"FU-A end of IDR", B(0x7C, 0x45, 0x11), 0},
    {"FU-A start of non-IDR", B(0x5C, 0x81, 0x9A), 0},
    {"STAP-B", B(0x79, 0, 0, 0, 2, 0x65, 0x88), 0},
    {"FU-B", B(0x7D, 0x85, 0, 0), 0},
    {"empty", EMPTY, -EINVAL},
    {"forbidden bit", B(0xE5, 0x88), -EINVAL},
    {"FU-A without FU header", B(0x7C), -EINVAL},
    {"STAP-A header only", B(0x78), -EINVAL},
    {"STAP-A size past the end", B(0x78, 0, 5, 0x67, 0x42), -EINVAL},
    {"STAP-A size 0", B(0x78, 0, 0, 0, 1, 0x67), -EINVAL},
    {"STAP-A one stray byte", B(0x78, 0, 1, 0x67, 0), -EINVAL},
    {"STAP-A unit with forbidden bit", B(0x78, 0, 2, 0xE7, 0x42), -EINVAL},
};

/* First slice types; bits: first_mb_in_slice ue(0) = "1", then slice_type:
 * P "1", B "010", I(7) "0001000", B(6) "00111". */
static const struct key_case slice_cases[] = {
    {"single B slice", B(0x41, 0xA0), RTP_SLICE_B},
    {"non-reference B slice, type 6", B(0x01, 0x9C), RTP_SLICE_B},
    {"single P slice, type 5", B(0x41, 0x9A), RTP_SLICE_P},
    {"P slice", B(0x41, 0xC0), RTP_SLICE_P},
    {"IDR I slice, type 7", B(0x65, 0x88), RTP_SLICE_I},
    {"FU-A start of a B slice", B(0x5C, 0x81, 0xA0), RTP_SLICE_B},
    {"FU-A start of an IDR", B(0x7C, 0x85, 0x88, 0x84), RTP_SLICE_I},
    {"FU-A middle of a B slice", B(0x5C, 0x01, 0xA0), -ENOENT},
    {"FU-A start of SPS", B(0x7C, 0x87, 0x42), -ENOENT},
    {"STAP-A, SEI then a B slice", B(0x78, 0, 2, 0x06, 0x05, 0, 2, 0x01, 0xA0), RTP_SLICE_B},
    {"STAP-A, SPS and PPS only", B(0x78, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xCE), -ENOENT},
    {"SPS", B(0x67, 0x42, 0xC0, 0x1F), -ENOENT},
    /* 16 zero bits, 03 skipped, then 7 more and a 1: first_mb_in_slice of
     * 23 bits; then "010", B. Read with the 03, the type would be P. */
    {"emulation prevention byte", B(0x41, 0, 0, 3, 1, 0xFF, 0xFF, 0xFE, 0xA0), RTP_SLICE_B},
    {"slice header cut short", B(0x41, 0x00), -EINVAL},
    {"slice NAL header only", B(0x41), -EINVAL},
    {"slice_type 10", B(0x41, 0x8B), -EINVAL},
    {"empty", EMPTY, -EINVAL},
    {"forbidden bit", B(0xC1, 0xA0), -EINVAL},
    {"FU-A without FU header", B(0x5C), -EINVAL},
    {"STAP-A size past the end", B(0x78, 0, 5, 0x41, 0xA0), -EINVAL},
};

static void run_key_cases(const struct key_case *cases, size_t n,
                          int (*fn)(const uint8_t *, size_t)) {
  for (size_t i = 0; i < n; i++) {
    const struct key_case *c = &cases[i];
    CHECK(c, fn(c->bytes, c->len) == c->rc);
  }
}

static void test_vp8_keyframe_table(void **state) {
  run_key_cases(vp8_cases, sizeof(vp8_cases) / sizeof(vp8_cases[0]), rtp_vp8_keyframe);
}

static void test_h264_slice_table(void **state) {
  run_key_cases(slice_cases, sizeof(slice_cases) / sizeof(slice_cases[0]), rtp_h264_slice_type);
}

static void test_h264_keyframe_table(void **state) {
  run_key_cases(h264_cases, sizeof(h264_cases) / sizeof(h264_cases[0]), rtp_h264_keyframe);
}

/* A whole packet: the payload parse_rtp hands out is what detection reads. */
static void test_keyframe_in_packet(void **state) {
  static const uint8_t pkt[] = {
      FIXED(0xB0, 0xE0), 0xBE, 0xDE, 0x00, 0x01, 0x30, 0x01, 0x02, 0x03, 0x90, 0x80, 0x15,
      VP8_KEY,           0x00, 0x00, 0x03};
  struct rtp_hdr h;

  assert_int_equal(rtp_parse(pkt, sizeof(pkt), &h), 0);
  assert_int_equal(h.payload_len, 3 + 10);
  assert_int_equal(rtp_vp8_keyframe(h.payload, h.payload_len), 1);
  assert_int_equal(rtp_vp8_keyframe(h.payload, 3 + 5), -EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_table),        cmocka_unit_test(test_parse_every_truncation),
      cmocka_unit_test(test_ext_find_table),     cmocka_unit_test(test_ext_malformed),
      cmocka_unit_test(test_is_rtcp_table),      cmocka_unit_test(test_rewrite),
      cmocka_unit_test(test_vp8_keyframe_table), cmocka_unit_test(test_h264_keyframe_table),
      cmocka_unit_test(test_h264_slice_table),   cmocka_unit_test(test_keyframe_in_packet),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
