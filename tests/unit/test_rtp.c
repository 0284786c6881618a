/* Tests for src/media/rtp.c: tables of hand-built packets (CSRCs, one-byte
 * and two-byte header extensions, padding) and of every malformed form, the
 * RFC 8285 element lookup and its readers (transport-wide sequence number,
 * MID, RID), the RTCP demultiplexing test, the in-place rewriters, a
 * viewer's copy with its own extension block, the VP8 payload descriptor
 * (read, every truncation, PictureID/TL0PICIDX rewritten) and VP8/H.264
 * keyframe detection tables. */
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
    {"keyframe, reserved bit before PID ignored", B(0x18, VP8_KEY), 1},
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

struct vp8_desc_case {
  const char *name;
  const uint8_t *bytes;
  size_t len;
  int rc;
  struct rtp_vp8_desc want;
};

static const struct vp8_desc_case vp8_desc_cases[] = {
    {"no X", B(0x10, 0x50, 0x2C), 0, {.len = 1, .start = 1}},
    {"no X, N, partition 3", B(0x23, 0xAA), 0, {.len = 1, .non_ref = 1, .partition = 3}},
    {"reserved bits ignored", B(0x5F, 0xAA), 0, {.len = 1, .start = 1, .partition = 7}},
    {"X with nothing", B(0x90, 0x00, 0xAA), 0, {.len = 2, .start = 1}},
    {"X, reserved bits of the X byte ignored", B(0x90, 0x0F, 0xAA), 0, {.len = 2, .start = 1}},
    {"I, 7-bit",
     B(0x90, 0x80, 0x7F, 0xAA),
     0,
     {.len = 3, .start = 1, .picture_id_bits = 7, .picture_id = 127}},
    {"I, 15-bit",
     B(0x90, 0x80, 0x92, 0x34, 0xAA),
     0,
     {.len = 4, .start = 1, .picture_id_bits = 15, .picture_id = 0x1234}},
    {"I 15-bit, L",
     B(0x90, 0xC0, 0xFF, 0xFF, 0x07, 0xAA),
     0,
     {.len = 5,
      .start = 1,
      .picture_id_bits = 15,
      .picture_id = 0x7FFF,
      .has_tl0picidx = 1,
      .tl0picidx = 7}},
    /* TID/Y/KEYIDX byte a5: TID 2, Y 1, KEYIDX 5 (K clear: not read) */
    {"I 7-bit, L, T",
     B(0x90, 0xE0, 0x05, 0xC8, 0xA5, 0xAA),
     0,
     {.len = 5,
      .start = 1,
      .picture_id_bits = 7,
      .picture_id = 5,
      .has_tl0picidx = 1,
      .tl0picidx = 0xC8,
      .has_tid = 1,
      .tid = 2,
      .layer_sync = 1}},
    {"T and K, S=0",
     B(0x80, 0x30, 0x7F, 0xAA),
     0,
     {.len = 3, .has_tid = 1, .tid = 1, .layer_sync = 1, .has_keyidx = 1, .keyidx = 31}},
    {"K only, the whole payload",
     B(0x90, 0x10, 0xDF),
     0,
     {.len = 3, .start = 1, .has_keyidx = 1, .keyidx = 31}},
    {"I 15-bit, L, T, K, partition 1",
     B(0x91, 0xF0, 0x80, 0x01, 0xFE, 0x45, 0xAA, 0xBB),
     0,
     {.len = 6,
      .start = 1,
      .partition = 1,
      .picture_id_bits = 15,
      .picture_id = 1,
      .has_tl0picidx = 1,
      .tl0picidx = 0xFE,
      .has_tid = 1,
      .tid = 1,
      .has_keyidx = 1,
      .keyidx = 5}},
    {"L without I",
     B(0x90, 0x40, 0x09, 0xAA),
     0,
     {.len = 3, .start = 1, .has_tl0picidx = 1, .tl0picidx = 9}},
    {"descriptor only, I 15-bit, L, T",
     B(0x90, 0xE0, 0x85, 0x00, 0x11, 0x40),
     0,
     {.len = 6,
      .start = 1,
      .picture_id_bits = 15,
      .picture_id = 0x0500,
      .has_tl0picidx = 1,
      .tl0picidx = 0x11,
      .has_tid = 1,
      .tid = 1}},
    {"empty", EMPTY, -EINVAL, {0}},
    {"X without its byte", B(0x90), -EINVAL, {0}},
    {"I without PictureID", B(0x90, 0x80), -EINVAL, {0}},
    {"15-bit PictureID cut", B(0x90, 0x80, 0x80), -EINVAL, {0}},
    {"L without TL0PICIDX", B(0x90, 0x40), -EINVAL, {0}},
    {"T without its byte", B(0x90, 0x20), -EINVAL, {0}},
    {"K without its byte", B(0x90, 0x10), -EINVAL, {0}},
    {"I then L cut", B(0x90, 0xC0, 0x05), -EINVAL, {0}},
    {"I L T K, TID byte cut", B(0x90, 0xF0, 0x80, 0x01, 0xFE), -EINVAL, {0}},
};

static int vp8_desc_equal(const struct rtp_vp8_desc *a, const struct rtp_vp8_desc *b) {
  return a->len == b->len && a->non_ref == b->non_ref && a->start == b->start &&
         a->partition == b->partition && a->picture_id_bits == b->picture_id_bits &&
         a->picture_id == b->picture_id && a->has_tl0picidx == b->has_tl0picidx &&
         a->tl0picidx == b->tl0picidx && a->has_tid == b->has_tid && a->tid == b->tid &&
         a->layer_sync == b->layer_sync && a->has_keyidx == b->has_keyidx && a->keyidx == b->keyidx;
}

/* Each descriptor, and each of its truncations: every prefix shorter than
 * the descriptor fails, the descriptor alone parses as the whole. */
static void test_vp8_desc_table(void **state) {
  for (size_t i = 0; i < sizeof(vp8_desc_cases) / sizeof(vp8_desc_cases[0]); i++) {
    const struct vp8_desc_case *c = &vp8_desc_cases[i];
    struct rtp_vp8_desc d;

    CHECK(c, rtp_vp8_desc(c->bytes, c->len, &d) == c->rc);
    if (c->rc != 0)
      continue;
    CHECK(c, vp8_desc_equal(&d, &c->want));
    for (size_t n = 0; n < c->want.len; n++)
      CHECK(c, rtp_vp8_desc(c->bytes, n, &d) == -EINVAL);
    CHECK(c, rtp_vp8_desc(c->bytes, c->want.len, &d) == 0 && vp8_desc_equal(&d, &c->want));
  }
}

struct vp8_write_case {
  const char *name;
  const uint8_t *in;
  size_t len;
  uint16_t picture_id;
  uint8_t tl0picidx;
  int rc;
  const uint8_t *out; /* len bytes: in, rewritten */
  size_t out_len;
};

static const struct vp8_write_case vp8_write_cases[] = {
    {"no X: nothing to write", B(0x10, 0x50), 5, 6, 0, B(0x10, 0x50)},
    {"X with T and K only", B(0x90, 0x30, 0x45, 0xAA), 5, 6, 0, B(0x90, 0x30, 0x45, 0xAA)},
    {"7-bit, modulo 128", B(0x90, 0x80, 0x7F, 0xAA), 261, 6, 0, B(0x90, 0x80, 0x05, 0xAA)},
    {"7-bit, 200 is 72", B(0x90, 0x80, 0x00, 0xAA), 200, 6, 0, B(0x90, 0x80, 0x48, 0xAA)},
    {"15-bit, modulo 32768", B(0x90, 0x80, 0x92, 0x34, 0xAA), 40000, 6, 0,
     B(0x90, 0x80, 0x9C, 0x40, 0xAA)},
    {"15-bit, 0xffff", B(0x90, 0x80, 0x80, 0x00, 0xAA), 0xFFFF, 6, 0,
     B(0x90, 0x80, 0xFF, 0xFF, 0xAA)},
    {"15-bit, L, T, K", B(0x91, 0xF0, 0x80, 0x01, 0xFE, 0x45, 0xAA, 0xBB), 0x0203, 0x00, 0,
     B(0x91, 0xF0, 0x82, 0x03, 0x00, 0x45, 0xAA, 0xBB)},
    {"7-bit, L", B(0x90, 0xC0, 0x11, 0x22, 0x33), 0x7F, 0xFF, 0, B(0x90, 0xC0, 0x7F, 0xFF, 0x33)},
    {"L only", B(0x90, 0x40, 0x09, 0xAA), 0x1234, 0x0A, 0, B(0x90, 0x40, 0x0A, 0xAA)},
    {"15-bit cut", B(0x90, 0x80, 0x92), 1, 2, -EINVAL, B(0x90, 0x80, 0x92)},
    {"15-bit, L cut: the PictureID is not written either", B(0x90, 0xC0, 0x92, 0x34), 1, 2, -EINVAL,
     B(0x90, 0xC0, 0x92, 0x34)},
    {"empty", EMPTY, 1, 2, -EINVAL, EMPTY},
};

static void test_vp8_write_ids_table(void **state) {
  for (size_t i = 0; i < sizeof(vp8_write_cases) / sizeof(vp8_write_cases[0]); i++) {
    const struct vp8_write_case *c = &vp8_write_cases[i];
    uint8_t buf[16];
    struct rtp_vp8_desc d;

    CHECK(c, c->len == c->out_len && c->len <= sizeof(buf));
    memcpy(buf, c->in, c->len);
    CHECK(c, rtp_vp8_write_ids(buf, c->len, c->picture_id, c->tl0picidx) == c->rc);
    CHECK(c, memcmp(buf, c->out, c->len) == 0);
    if (c->rc != 0)
      continue;
    CHECK(c, rtp_vp8_desc(buf, c->len, &d) == 0);
    if (d.picture_id_bits)
      CHECK(c, d.picture_id == c->picture_id % (1u << d.picture_id_bits));
    if (d.has_tl0picidx)
      CHECK(c, d.tl0picidx == c->tl0picidx);
  }
}

struct copy_case {
  const char *name;
  const uint8_t *in;
  size_t len;
  uint8_t id;
  uint16_t seq;
  size_t cap;
  int rc; /* the copy's length, or an error */
  const uint8_t *out;
  size_t out_len;
};

#define CSRCS 0xCA, 0xFE, 0xBA, 0xBE, 0x00, 0x00, 0x00, 0x07
/* mid "0" (id 1), rid "hi" (id 10), transport-wide seq 7 (id 5) */
#define PUB_EXT 0xBE, 0xDE, 0x00, 0x02, 0x10, '0', 0xA1, 'h', 'i', 0x51, 0x00, 0x07
/* two-byte form: id 1 (2 bytes), id 2 (1 byte), a padding byte */
#define PUB_EXT2 0x10, 0x00, 0x00, 0x02, 0x01, 0x02, 0xAA, 0xBB, 0x02, 0x01, 'x', 0x00

static const struct copy_case copy_cases[] = {
    {"no extension", B(FIXED(0x80, 0x60), 'a', 'b', 'c'), 3, 0x0102, 23, 23,
     B(FIXED(0x90, 0x60), 0xBE, 0xDE, 0, 1, 0x31, 0x01, 0x02, 0x00, 'a', 'b', 'c')},
    {"one-byte block replaced, marker kept", B(FIXED(0x90, 0xE0), PUB_EXT, 'v', 'p', '8'), 3,
     0xBEEF, 128, 23, B(FIXED(0x90, 0xE0), 0xBE, 0xDE, 0, 1, 0x31, 0xBE, 0xEF, 0, 'v', 'p', '8')},
    {"two-byte block replaced by a one-byte one", B(FIXED(0x90, 0x60), PUB_EXT2, 'p'), 14, 0xFFFF,
     21, 21, B(FIXED(0x90, 0x60), 0xBE, 0xDE, 0, 1, 0xE1, 0xFF, 0xFF, 0, 'p')},
    {"CSRCs, extension, padding",
     B(FIXED(0xB2, 0x60), CSRCS, 0xBE, 0xDE, 0, 1, 0x51, 1, 2, 0, 'd', 'a', 't', 'a', 0, 0, 3), 1,
     0x0001, 128, 35,
     B(FIXED(0xB2, 0x60), CSRCS, 0xBE, 0xDE, 0, 1, 0x11, 0, 1, 0, 'd', 'a', 't', 'a', 0, 0, 3)},
    {"padding only (probe)", B(FIXED(0xA0, 0x60), 0, 0, 0, 4), 2, 0x1234, 24, 24,
     B(FIXED(0xB0, 0x60), 0xBE, 0xDE, 0, 1, 0x21, 0x12, 0x34, 0, 0, 0, 0, 4)},
    {"no payload", B(FIXED(0x80, 0x60)), 7, 9, 20, 20,
     B(FIXED(0x90, 0x60), 0xBE, 0xDE, 0, 1, 0x71, 0, 9, 0)},
    {"id 0 drops the one-byte block", B(FIXED(0x90, 0xE0), PUB_EXT, 'v', 'p', '8'), 0, 5, 15, 15,
     B(FIXED(0x80, 0xE0), 'v', 'p', '8')},
    {"id 0 drops the two-byte block", B(FIXED(0x90, 0x60), PUB_EXT2, 'p'), 0, 5, 128, 13,
     B(FIXED(0x80, 0x60), 'p')},
    {"id 0 keeps CSRCs and padding",
     B(FIXED(0xB2, 0x60), CSRCS, 0xBE, 0xDE, 0, 1, 0x51, 1, 2, 0, 'd', 'a', 't', 'a', 0, 0, 3), 0,
     0, 128, 27, B(FIXED(0xA2, 0x60), CSRCS, 'd', 'a', 't', 'a', 0, 0, 3)},
    {"id 0, no extension: the same bytes", B(FIXED(0x80, 0x60), 'a'), 0, 0, 13, 13,
     B(FIXED(0x80, 0x60), 'a')},
    {"id 0, empty block", B(FIXED(0x90, 0x60), 0xBE, 0xDE, 0, 0, 'p'), 0, 0, 128, 13,
     B(FIXED(0x80, 0x60), 'p')},
    {"cap one byte short", B(FIXED(0x80, 0x60), 'a', 'b', 'c'), 3, 0x0102, 22, -ENOBUFS, EMPTY},
    {"cap one byte short, id 0", B(FIXED(0x90, 0xE0), PUB_EXT, 'v', 'p', '8'), 0, 0, 14, -ENOBUFS,
     EMPTY},
    {"cap 0", B(FIXED(0x80, 0x60)), 0, 0, 0, -ENOBUFS, EMPTY},
    {"id 15", B(FIXED(0x80, 0x60), 'a'), 15, 1, 128, -EINVAL, EMPTY},
    {"id 255", B(FIXED(0x80, 0x60), 'a'), 255, 1, 128, -EINVAL, EMPTY},
};

/* The copy is the bytes expected; it parses, carries the input's payload
 * and padding, and its element reads back. On error out is untouched. */
static void test_copy_with_twcc_table(void **state) {
  for (size_t i = 0; i < sizeof(copy_cases) / sizeof(copy_cases[0]); i++) {
    const struct copy_case *c = &copy_cases[i];
    uint8_t buf[128], untouched[128];
    struct rtp_hdr in, out;
    uint16_t seq;

    memset(buf, 0x55, sizeof(buf));
    memset(untouched, 0x55, sizeof(untouched));
    CHECK(c, c->cap <= sizeof(buf) && rtp_parse(c->in, c->len, &in) == 0);
    CHECK(c, rtp_copy_with_twcc(buf, c->cap, c->in, &in, c->id, c->seq) == c->rc);
    if (c->rc < 0) {
      CHECK(c, memcmp(buf, untouched, sizeof(buf)) == 0);
      continue;
    }
    CHECK(c, (size_t)c->rc == c->out_len && memcmp(buf, c->out, c->out_len) == 0);
    CHECK(c, memcmp(buf + c->rc, untouched, sizeof(buf) - (size_t)c->rc) == 0);
    CHECK(c, rtp_parse(buf, (size_t)c->rc, &out) == 0);
    CHECK(c, out.payload_len == in.payload_len && out.pad_len == in.pad_len);
    CHECK(c, memcmp(out.payload, in.payload, in.payload_len + in.pad_len) == 0);
    CHECK(c, out.extension == (c->id != 0));
    if (c->id)
      CHECK(c, rtp_ext_u16(&out, c->id, &seq) == 0 && seq == c->seq);
  }
}

/* Readers' packets: one-byte form (0), two-byte form (1), no extension (2).
 * The first's elements: id 1 mid "0"; id 3 transport-wide seq 0x1234; id
 * 10 rid "hi"; id 11 repaired rid "l"; id 4 3 bytes; id 5 "a b" (a space);
 * id 6 "." (a token, not a rid-id); id 7 "a" NUL; id 8 16 letters; id 9
 * "~!#" (token punctuation); id 12 "(" (not a token); id 2 1 byte.
 * The second's: id 1 empty; id 20 0xabcd; id 30 20 letters; id 31 0x80
 * (not ASCII); id 200 rid "r-_". */
#define LETTERS16 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p'
struct reader_pkt {
  const uint8_t *bytes;
  size_t len;
};

static const struct reader_pkt reader_pkts[] = {
    {B(FIXED(0x90, 0x60), 0xBE, 0xDE, 0x00, 0x0C, 0x10, '0', 0x31, 0x12, 0x34, 0xA1, 'h', 'i', 0xB0,
       'l', 0x42, 1, 2, 3, 0x52, 'a', ' ', 'b', 0x60, '.', 0x71, 'a', 0x00, 0x8F, LETTERS16, 0x92,
       '~', '!', '#', 0xC0, '(', 0x20, 0x05, 'x')},
    {B(FIXED(0x90, 0x60), 0x10, 0x00, 0x00, 0x09, 0x01, 0x00, 0x14, 0x02, 0xAB, 0xCD, 0x1E, 0x14,
       LETTERS16, 'q', 'r', 's', 't', 0x1F, 0x01, 0x80, 0xC8, 0x03, 'r', '-', '_', 'x')},
    {B(FIXED(0x80, 0x60), 'x')},
};

enum reader { READ_U16, READ_TOKEN, READ_RID };

struct reader_case {
  const char *name;
  int pkt; /* 0, 1, 2 as above */
  enum reader fn;
  uint8_t id;
  size_t cap;
  int rc;
  const char *text; /* READ_TOKEN, READ_RID */
  uint16_t v;       /* READ_U16 */
};

static const struct reader_case reader_cases[] = {
    {"twcc", 0, READ_U16, 3, 0, 0, NULL, 0x1234},
    {"u16 of 3 bytes", 0, READ_U16, 4, 0, -EINVAL, NULL, 0},
    {"u16 of 1 byte", 0, READ_U16, 2, 0, -EINVAL, NULL, 0},
    {"u16 absent", 0, READ_U16, 13, 0, -ENOENT, NULL, 0},
    {"u16 id 15 in the one-byte form", 0, READ_U16, 15, 0, -EINVAL, NULL, 0},
    {"u16 id 0", 0, READ_U16, 0, 0, -EINVAL, NULL, 0},
    {"u16, two-byte form", 1, READ_U16, 20, 0, 0, NULL, 0xABCD},
    {"u16 of 0 bytes", 1, READ_U16, 1, 0, -EINVAL, NULL, 0},
    {"u16, no extension", 2, READ_U16, 3, 0, -ENOENT, NULL, 0},
    {"mid", 0, READ_TOKEN, 1, 17, 1, "0", 0},
    {"rid", 0, READ_RID, 10, 17, 2, "hi", 0},
    {"repaired rid", 0, READ_RID, 11, 17, 1, "l", 0},
    {"rid cap exactly", 0, READ_RID, 10, 3, 2, "hi", 0},
    {"rid cap one short", 0, READ_RID, 10, 2, -ENOBUFS, NULL, 0},
    {"rid with a space", 0, READ_RID, 5, 17, -EINVAL, NULL, 0},
    {"mid with a space", 0, READ_TOKEN, 5, 17, -EINVAL, NULL, 0},
    {"mid '.'", 0, READ_TOKEN, 6, 17, 1, ".", 0},
    {"rid '.'", 0, READ_RID, 6, 17, -EINVAL, NULL, 0},
    {"mid with a NUL", 0, READ_TOKEN, 7, 17, -EINVAL, NULL, 0},
    {"rid with a NUL", 0, READ_RID, 7, 17, -EINVAL, NULL, 0},
    {"mid of 16 bytes", 0, READ_TOKEN, 8, 17, 16, "abcdefghijklmnop", 0},
    {"mid of 16 bytes, cap 16", 0, READ_TOKEN, 8, 16, -ENOBUFS, NULL, 0},
    {"rid of 16 bytes", 0, READ_RID, 8, 17, 16, "abcdefghijklmnop", 0},
    {"mid punctuation", 0, READ_TOKEN, 9, 17, 3, "~!#", 0},
    {"rid punctuation", 0, READ_RID, 9, 17, -EINVAL, NULL, 0},
    {"mid '('", 0, READ_TOKEN, 12, 17, -EINVAL, NULL, 0},
    {"mid absent", 0, READ_TOKEN, 13, 17, -ENOENT, NULL, 0},
    {"mid cap 0", 0, READ_TOKEN, 1, 0, -ENOBUFS, NULL, 0},
    {"mid id 0", 0, READ_TOKEN, 0, 17, -EINVAL, NULL, 0},
    {"rid id 15 in the one-byte form", 0, READ_RID, 15, 17, -EINVAL, NULL, 0},
    {"mid empty, two-byte form", 1, READ_TOKEN, 1, 17, -EINVAL, NULL, 0},
    {"rid of 20 bytes, two-byte form", 1, READ_RID, 30, 21, 20, "abcdefghijklmnopqrst", 0},
    {"rid of 20 bytes, cap 20", 1, READ_RID, 30, 20, -ENOBUFS, NULL, 0},
    {"mid not ASCII", 1, READ_TOKEN, 31, 17, -EINVAL, NULL, 0},
    {"rid, id 200", 1, READ_RID, 200, 17, 3, "r-_", 0},
    {"rid, no extension", 2, READ_RID, 10, 17, -ENOENT, NULL, 0},
};

static int reader_parse(int pkt, struct rtp_hdr *h) {
  return rtp_parse(reader_pkts[pkt].bytes, reader_pkts[pkt].len, h);
}

/* A string's out is the element and a NUL; on error, "" (cap > 0) or
 * untouched (cap 0). */
static void test_ext_readers_table(void **state) {
  for (size_t i = 0; i < sizeof(reader_cases) / sizeof(reader_cases[0]); i++) {
    const struct reader_case *c = &reader_cases[i];
    struct rtp_hdr h;
    char out[32];
    uint16_t v = 0;
    int rc;

    CHECK(c, reader_parse(c->pkt, &h) == 0 && c->cap <= sizeof(out));
    memset(out, 'Z', sizeof(out));
    if (c->fn == READ_U16) {
      CHECK(c, rtp_ext_u16(&h, c->id, &v) == c->rc);
      CHECK(c, c->rc != 0 || v == c->v);
      continue;
    }
    rc = c->fn == READ_RID ? rtp_ext_rid(&h, c->id, out, c->cap)
                           : rtp_ext_token(&h, c->id, out, c->cap);
    CHECK(c, rc == c->rc);
    if (rc > 0)
      CHECK(c, strlen(out) == (size_t)rc && strcmp(out, c->text) == 0);
    else
      CHECK(c, out[0] == (c->cap > 0 ? '\0' : 'Z'));
  }
}

/* Each byte value as a one-byte mid and rid element is taken exactly when
 * it is in the set spelled out here: RFC 4566's token-char, RFC 8851's
 * rid-id. */
static void test_ext_text_every_byte(void **state) {
  static const char token[] = "!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`"
                              "abcdefghijklmnopqrstuvwxyz{|}~";
  static const char rid[] = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
  uint8_t pkt[] = {FIXED(0x90, 0x60), 0xBE, 0xDE, 0x00, 0x01, 0x50, 'x', 0, 0};
  struct rtp_hdr h;
  char out[4];

  for (unsigned c = 0; c < 256; c++) {
    int in_token = c != 0 && strchr(token, (int)c) != NULL;
    int in_rid = c != 0 && strchr(rid, (int)c) != NULL;
    pkt[17] = (uint8_t)c;
    assert_int_equal(rtp_parse(pkt, sizeof(pkt), &h), 0);
    assert_int_equal(rtp_ext_token(&h, 5, out, sizeof(out)), in_token ? 1 : -EINVAL);
    assert_int_equal(rtp_ext_rid(&h, 5, out, sizeof(out)), in_rid ? 1 : -EINVAL);
  }
}

struct write_u16_case {
  const char *name;
  int pkt;
  size_t cut; /* bytes cut from the end */
  uint8_t id;
  int rc;
};

static const struct write_u16_case write_u16_cases[] = {
    {"one-byte form", 0, 0, 3, 0},
    {"two-byte form", 1, 0, 20, 0},
    {"element of 3 bytes", 0, 0, 4, -EINVAL},
    {"element of 0 bytes", 1, 0, 1, -EINVAL},
    {"absent", 0, 0, 13, -ENOENT},
    {"no extension", 2, 0, 3, -ENOENT},
    {"id 0", 0, 0, 0, -EINVAL},
    {"not a packet", 0, 60, 3, -EINVAL},
};

/* Only the element's two bytes change, and they read back. */
static void test_ext_write_u16_table(void **state) {
  for (size_t i = 0; i < sizeof(write_u16_cases) / sizeof(write_u16_cases[0]); i++) {
    const struct write_u16_case *c = &write_u16_cases[i];
    const uint8_t *src = reader_pkts[c->pkt].bytes;
    size_t len = reader_pkts[c->pkt].len;
    uint8_t buf[128];
    struct rtp_hdr h;
    const uint8_t *d;
    size_t n, changed = 0;
    uint16_t v;

    CHECK(c, len <= sizeof(buf) && c->cut < len);
    len -= c->cut;
    memcpy(buf, src, len);
    CHECK(c, rtp_ext_write_u16(buf, len, c->id, 0xF00D) == c->rc);
    for (size_t k = 0; k < len; k++)
      changed += buf[k] != src[k];
    if (c->rc != 0) {
      CHECK(c, changed == 0);
      continue;
    }
    CHECK(c, changed == 2 && rtp_parse(buf, len, &h) == 0);
    CHECK(c, rtp_ext_u16(&h, c->id, &v) == 0 && v == 0xF00D);
    CHECK(c, rtp_ext_find(&h, c->id, &d, &n) == 0 && memcmp(buf, src, (size_t)(d - buf)) == 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_table),          cmocka_unit_test(test_parse_every_truncation),
      cmocka_unit_test(test_ext_find_table),       cmocka_unit_test(test_ext_malformed),
      cmocka_unit_test(test_is_rtcp_table),        cmocka_unit_test(test_rewrite),
      cmocka_unit_test(test_vp8_keyframe_table),   cmocka_unit_test(test_h264_keyframe_table),
      cmocka_unit_test(test_h264_slice_table),     cmocka_unit_test(test_keyframe_in_packet),
      cmocka_unit_test(test_vp8_desc_table),       cmocka_unit_test(test_vp8_write_ids_table),
      cmocka_unit_test(test_copy_with_twcc_table), cmocka_unit_test(test_ext_readers_table),
      cmocka_unit_test(test_ext_text_every_byte),  cmocka_unit_test(test_ext_write_u16_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
