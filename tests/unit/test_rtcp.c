/* Tests for src/media/rtcp.c: real-world-shaped compound packets walked and
 * parsed (SR+SDES, RR+REMB, NACK with several items, PLI, FIR, BYE), every
 * malformed form the walker or a parser must refuse, and build -> parse
 * round trips for every builder, including their -ENOBUFS edges. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "case_check.h"
#include "media/rtcp.h"

#define B(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})
#define EMPTY (const uint8_t[]){0}, 0

#define SSRC_A 0x11, 0x22, 0x33, 0x44
#define SSRC_B 0x55, 0x66, 0x77, 0x88

/* Report block on SSRC_B: 25/256 lost, cumulative -2, highest 0x10005,
 * jitter 32, LSR 0x3f3a8000, DLSR 1 s. */
#define RB_B                                                                                  \
  SSRC_B, 0x19, 0xFF, 0xFF, 0xFE, 0x00, 0x01, 0x00, 0x05, 0x00, 0x00, 0x00, 0x20, 0x3F, 0x3A, \
      0x80, 0x00, 0x00, 0x01, 0x00, 0x00

/* As a browser sends: SR with one report block, then SDES with a CNAME. */
static const uint8_t sr_sdes[] = {
    0x81, 200,  0x00, 0x0C, SSRC_A, 0xE8, 0x9D, 0x3F, 0x3A, 0x80, 0x00, 0x00, 0x00, /* NTP */
    0x00, 0x01, 0x5F, 0x90, 0x00,   0x00, 0x00, 0x64, 0x00, 0x00, 0x4E, 0x20, RB_B,
    0x81, 202,  0x00, 0x06, SSRC_A, 0x01, 0x10, 'a',  'b',  'c',  'd',  'e',  'f',
    'g',  'h',  'i',  'j',  'k',    'l',  'm',  'n',  'o',  'p',  0x00, 0x00};

/* RR with one block, then REMB of 1.5 Mbit/s (exp 3, mantissa 187500) on
 * SSRC_B. */
static const uint8_t rr_remb[] = {0x81, 201,  0x00,   0x07, SSRC_A, RB_B, 0x8F, 206,
                                  0x00, 0x05, SSRC_A, 0,    0,      0,    0,    'R',
                                  'E',  'M',  'B',    0x01, 0x0E,   0xDC, 0x6C, SSRC_B};

/* Generic NACK on SSRC_B: 100 (+101, 103), 200 (+216), 65535 (+0). */
static const uint8_t nack3[] = {0x81, 205,  0x00, 0x05, SSRC_A, SSRC_B, 0x00, 0x64, 0x00,
                                0x05, 0x00, 0xC8, 0x80, 0x00,   0xFF,   0xFF, 0x00, 0x01};

static const uint8_t pli[] = {0x81, 206, 0x00, 0x02, SSRC_A, SSRC_B};

static const uint8_t fir[] = {0x84, 206, 0x00, 0x04, SSRC_A, 0, 0, 0, 0, SSRC_B, 0x07, 0, 0, 0};

/* RR without blocks, then BYE with a reason. */
static const uint8_t rr_bye[] = {0x80,   201,  0x00, 0x01, SSRC_A, 0x81, 203, 0x00, 0x03,
                                 SSRC_A, 0x04, 'g',  'o',  'n',    'e',  0,   0,    0};

/* RR with 4 bytes of padding (P bit, count 4). */
static const uint8_t rr_padded[] = {0xA0, 201, 0x00, 0x02, SSRC_A, 0, 0, 0, 4};

/* ---- the walker ---- */

struct walk_case {
  const char *name;
  const uint8_t *bytes;
  size_t len;
  int npkts;                   /* rtcp_check's result */
  uint8_t types[4], counts[4]; /* of the packets, when valid */
  size_t body_lens[4];
};

static const struct walk_case walk_cases[] = {
    {"SR+SDES", sr_sdes, sizeof(sr_sdes), 2, {200, 202}, {1, 1}, {48, 24}},
    {"RR+REMB", rr_remb, sizeof(rr_remb), 2, {201, 206}, {1, 15}, {28, 20}},
    {"NACK", nack3, sizeof(nack3), 1, {205}, {1}, {20}},
    {"PLI", pli, sizeof(pli), 1, {206}, {1}, {8}},
    {"FIR", fir, sizeof(fir), 1, {206}, {4}, {16}},
    {"RR+BYE", rr_bye, sizeof(rr_bye), 2, {201, 203}, {0, 1}, {4, 12}},
    {"padded RR", rr_padded, sizeof(rr_padded), 1, {201}, {0}, {4}},
    {"unknown type passes", B(0x80, 210, 0x00, 0x00), 1, {210}, {0}, {0}},
    {"empty", EMPTY, -EINVAL, {0}, {0}, {0}},
    {"3 bytes", B(0x80, 201, 0x00), -EINVAL, {0}, {0}, {0}},
    {"version 1", B(0x41, 201, 0x00, 0x01, SSRC_A), -EINVAL, {0}, {0}, {0}},
    {"version 3 in second packet",
     B(0x80, 201, 0x00, 0x01, SSRC_A, 0xC0, 201, 0x00, 0x00),
     -EINVAL,
     {0},
     {0},
     {0}},
    {"length field past the end", B(0x81, 201, 0x00, 0x07, SSRC_A, SSRC_B), -EINVAL, {0}, {0}, {0}},
    {"length one word past the end", B(0x80, 201, 0x00, 0x02, SSRC_A), -EINVAL, {0}, {0}, {0}},
    {"length 0xffff", B(0x80, 201, 0xFF, 0xFF, SSRC_A), -EINVAL, {0}, {0}, {0}},
    {"trailing 2 bytes", B(0x80, 201, 0x00, 0x01, SSRC_A, 0x80, 201), -EINVAL, {0}, {0}, {0}},
    {"padding count 0", B(0xA0, 201, 0x00, 0x01, 0, 0, 0, 0), -EINVAL, {0}, {0}, {0}},
    {"padding count past the body", B(0xA0, 201, 0x00, 0x01, 0, 0, 0, 5), -EINVAL, {0}, {0}, {0}},
};

static void test_walk_table(void **state) {
  for (size_t i = 0; i < sizeof(walk_cases) / sizeof(walk_cases[0]); i++) {
    const struct walk_case *c = &walk_cases[i];
    struct rtcp_iter it;
    struct rtcp_pkt pkt;
    int n = 0, rc;

    CHECK(c, rtcp_check(c->bytes, c->len) == c->npkts);
    rtcp_iter_init(&it, c->bytes, c->len);
    while ((rc = rtcp_next(&it, &pkt)) == 1) {
      CHECK(c, n < 4);
      if (c->npkts > 0) {
        CHECK(c, pkt.type == c->types[n] && pkt.count == c->counts[n]);
        CHECK(c, pkt.body_len == c->body_lens[n]);
      }
      CHECK(c, pkt.body == pkt.data + 4 && pkt.body_len <= pkt.len - 4);
      CHECK(c, pkt.data >= c->bytes && pkt.data + pkt.len <= c->bytes + c->len);
      n++;
    }
    CHECK(c, rc == (c->npkts > 0 ? 0 : c->len == 0 ? 0 : -EINVAL));
    if (c->npkts > 0)
      CHECK(c, n == c->npkts);
    if (rc < 0) /* a failed walk stays failed */
      CHECK(c, rtcp_next(&it, &pkt) == -EINVAL);
  }
}

/* The first n packets of a compound (test helper). */
static int walk(const uint8_t *p, size_t len, struct rtcp_pkt *pkts, int max) {
  struct rtcp_iter it;
  int n = 0;

  rtcp_iter_init(&it, p, len);
  while (n < max && rtcp_next(&it, &pkts[n]) == 1)
    n++;
  return n;
}

/* ---- parsers on valid packets ---- */

static void test_parse_sr_sdes(void **state) {
  struct rtcp_pkt pkts[2];
  struct rtcp_sr sr;
  struct rtcp_sdes sdes;
  struct rtcp_rr rr;

  assert_int_equal(walk(sr_sdes, sizeof(sr_sdes), pkts, 2), 2);
  assert_int_equal(rtcp_parse_sr(&pkts[0], &sr), 0);
  assert_int_equal(sr.ssrc, 0x11223344);
  assert_true(sr.ntp == 0xE89D3F3A80000000ull);
  assert_int_equal(sr.rtp_ts, 90000);
  assert_int_equal(sr.packet_count, 100);
  assert_int_equal(sr.octet_count, 20000);
  assert_int_equal(sr.nreports, 1);
  assert_int_equal(sr.reports[0].ssrc, 0x55667788);
  assert_int_equal(sr.reports[0].fraction_lost, 25);
  assert_int_equal(sr.reports[0].cumulative_lost, -2);
  assert_int_equal(sr.reports[0].highest_seq, 0x10005);
  assert_int_equal(sr.reports[0].jitter, 32);
  assert_int_equal(sr.reports[0].lsr, 0x3F3A8000);
  assert_int_equal(sr.reports[0].dlsr, 65536);
  assert_int_equal(rtcp_parse_rr(&pkts[0], &rr), -EINVAL);
  assert_int_equal(rtcp_parse_sdes(&pkts[1], &sdes), 0);
  assert_int_equal(sdes.nchunks, 1);
  assert_int_equal(sdes.chunks[0].ssrc, 0x11223344);
  assert_int_equal(sdes.chunks[0].cname_len, 16);
  assert_memory_equal(sdes.chunks[0].cname, "abcdefghijklmnop", 16);
  assert_int_equal(rtcp_parse_sr(&pkts[1], &sr), -EINVAL);
}

static void test_parse_rr_remb(void **state) {
  struct rtcp_pkt pkts[2];
  struct rtcp_rr rr;
  struct rtcp_remb remb;
  struct rtcp_fb fb;
  uint32_t a, b;

  assert_int_equal(walk(rr_remb, sizeof(rr_remb), pkts, 2), 2);
  assert_int_equal(rtcp_parse_rr(&pkts[0], &rr), 0);
  assert_int_equal(rr.ssrc, 0x11223344);
  assert_int_equal(rr.nreports, 1);
  assert_int_equal(rr.reports[0].cumulative_lost, -2);
  assert_int_equal(rr.reports[0].highest_seq, 0x10005);
  assert_int_equal(rtcp_parse_remb(&pkts[1], &remb), 0);
  assert_int_equal(remb.sender_ssrc, 0x11223344);
  assert_true(remb.bitrate == 1500000);
  assert_int_equal(remb.nssrc, 1);
  assert_int_equal(remb.nssrc_wire, 1);
  assert_int_equal(remb.ssrc[0], 0x55667788);
  assert_int_equal(rtcp_parse_fb(&pkts[1], &fb), 0);
  assert_int_equal(fb.fmt, 15);
  assert_int_equal(fb.fci_len, 12);
  assert_int_equal(rtcp_parse_pli(&pkts[1], &a, &b), -EINVAL);
  assert_int_equal(rtcp_parse_fb(&pkts[0], &fb), -EINVAL);
}

static void test_parse_nack(void **state) {
  static const uint16_t want[] = {100, 101, 103, 200, 216, 65535, 0};
  struct rtcp_pkt pkt;
  struct rtcp_nack nack;
  uint16_t seqs[RTCP_NACK_ITEM_SEQS], all[32];

  assert_int_equal(walk(nack3, sizeof(nack3), &pkt, 1), 1);
  assert_int_equal(rtcp_parse_nack(&pkt, &nack), 0);
  assert_int_equal(nack.sender_ssrc, 0x11223344);
  assert_int_equal(nack.media_ssrc, 0x55667788);
  assert_int_equal(nack.nitems, 3);
  assert_int_equal(rtcp_nack_item(&nack, 0, seqs), 3);
  assert_int_equal(seqs[2], 103);
  assert_int_equal(rtcp_nack_item(&nack, 2, seqs), 2);
  assert_int_equal(seqs[1], 0); /* 65535 + 1 wraps */
  assert_int_equal(rtcp_nack_lost(&nack, all, 32), 7);
  assert_memory_equal(all, want, sizeof(want));
  assert_int_equal(rtcp_nack_lost(&nack, all, 4), 4); /* capped */
  assert_int_equal(all[3], 200);
}

/* One item with every BLP bit names 17 sequence numbers. */
static void test_nack_full_item(void **state) {
  static const uint8_t p[] = {0x81, 205, 0x00, 0x03, SSRC_A, SSRC_B, 0xFF, 0xF8, 0xFF, 0xFF};
  struct rtcp_pkt pkt;
  struct rtcp_nack nack;
  uint16_t seqs[RTCP_NACK_ITEM_SEQS];

  assert_int_equal(walk(p, sizeof(p), &pkt, 1), 1);
  assert_int_equal(rtcp_parse_nack(&pkt, &nack), 0);
  assert_int_equal(rtcp_nack_item(&nack, 0, seqs), 17);
  for (int k = 0; k < 17; k++)
    assert_int_equal(seqs[k], (uint16_t)(0xFFF8 + k));
}

/* Items beyond RTCP_NACK_MAX_ITEMS are not looked at. */
static void test_nack_item_bound(void **state) {
  uint8_t p[12 + 4 * (RTCP_NACK_MAX_ITEMS + 10)] = {0x81, 205, 0, 0};
  struct rtcp_pkt pkt;
  struct rtcp_nack nack;

  p[3] = (uint8_t)(sizeof(p) / 4 - 1);
  for (size_t i = 0; i < RTCP_NACK_MAX_ITEMS + 10; i++)
    p[12 + 4 * i + 1] = (uint8_t)i;
  assert_int_equal(walk(p, sizeof(p), &pkt, 1), 1);
  assert_int_equal(rtcp_parse_nack(&pkt, &nack), 0);
  assert_int_equal(nack.nitems, RTCP_NACK_MAX_ITEMS);
}

static void test_parse_pli_fir_bye(void **state) {
  struct rtcp_pkt pkts[2];
  struct rtcp_fir f;
  struct rtcp_bye bye;
  struct rtcp_rr rr;
  uint32_t a = 0, b = 0;

  assert_int_equal(walk(pli, sizeof(pli), pkts, 1), 1);
  assert_int_equal(rtcp_parse_pli(&pkts[0], &a, &b), 0);
  assert_int_equal(a, 0x11223344);
  assert_int_equal(b, 0x55667788);
  assert_int_equal(rtcp_parse_fir(&pkts[0], &f), -EINVAL);
  assert_int_equal(walk(fir, sizeof(fir), pkts, 1), 1);
  assert_int_equal(rtcp_parse_fir(&pkts[0], &f), 0);
  assert_int_equal(f.sender_ssrc, 0x11223344);
  assert_int_equal(f.nentries, 1);
  assert_int_equal(f.entries[0].ssrc, 0x55667788);
  assert_int_equal(f.entries[0].seq_nr, 7);
  assert_int_equal(rtcp_parse_pli(&pkts[0], &a, &b), -EINVAL);
  assert_int_equal(walk(rr_bye, sizeof(rr_bye), pkts, 2), 2);
  assert_int_equal(rtcp_parse_rr(&pkts[0], &rr), 0);
  assert_int_equal(rr.nreports, 0);
  assert_int_equal(rtcp_parse_bye(&pkts[1], &bye), 0);
  assert_int_equal(bye.nssrc, 1);
  assert_int_equal(bye.ssrc[0], 0x11223344);
  assert_int_equal(bye.reason_len, 4);
  assert_memory_equal(bye.reason, "gone", 4);
}

/* Two chunks; the first one's null item falls on a word boundary, so it
 * needs a whole word of nulls; the second has no CNAME. */
static void test_parse_sdes_chunks(void **state) {
  static const uint8_t p[] = {0x82, 202,  0x00, 0x05, SSRC_A, 0x01, 0x02, 'a', 'b',
                              0x00, 0x00, 0x00, 0x00, SSRC_B, 0x06, 0x01, 'c', 0x00};
  struct rtcp_pkt pkt;
  struct rtcp_sdes sdes;

  assert_int_equal(walk(p, sizeof(p), &pkt, 1), 1);
  assert_int_equal(rtcp_parse_sdes(&pkt, &sdes), 0);
  assert_int_equal(sdes.nchunks, 2);
  assert_int_equal(sdes.chunks[0].ssrc, 0x11223344);
  assert_int_equal(sdes.chunks[0].cname_len, 2);
  assert_memory_equal(sdes.chunks[0].cname, "ab", 2);
  assert_int_equal(sdes.chunks[1].ssrc, 0x55667788);
  assert_null(sdes.chunks[1].cname);
}

/* ---- parsers on malformed packets ---- */

enum which { SR, RR, SDES, BYE, FB, NACK, PLI, FIR, REMB };

struct bad_case {
  const char *name;
  const uint8_t *bytes;
  size_t len;
  enum which parser;
};

static const struct bad_case bad_cases[] = {
    {"SR shorter than sender info", B(0x80, 200, 0x00, 0x01, SSRC_A), SR},
    {"SR with RC 1 and no block",
     B(0x81, 200, 0x00, 0x06, SSRC_A, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5),
     SR},
    {"RR without SSRC", B(0x80, 201, 0x00, 0x00), RR},
    {"RR with RC 2 and one block", B(0x82, 201, 0x00, 0x07, SSRC_A, RB_B), RR},
    {"RR, block cut by padding",
     B(0xA1, 201, 0x00, 0x07, SSRC_A, SSRC_B, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
       0, 4),
     RR},
    {"SR parsed as RR", sr_sdes, sizeof(sr_sdes), RR},
    {"SDES chunk without SSRC", B(0x81, 202, 0x00, 0x00), SDES},
    {"SDES chunk without null item", B(0x81, 202, 0x00, 0x02, SSRC_A, 0x01, 0x02, 'a', 'b'), SDES},
    {"SDES item past the end", B(0x81, 202, 0x00, 0x02, SSRC_A, 0x01, 0x09, 'a', 'b'), SDES},
    {"SDES item type, no length", B(0x81, 202, 0x00, 0x02, SSRC_A, 0x02, 0x00, 0x01, 0x05), SDES},
    {"SDES two chunks, one present", B(0x82, 202, 0x00, 0x02, SSRC_A, 0x01, 0x01, 'a', 0x00), SDES},
    {"BYE SSRC count past the end", B(0x82, 203, 0x00, 0x01, SSRC_A), BYE},
    {"BYE reason past the end", B(0x81, 203, 0x00, 0x02, SSRC_A, 0x09, 'a', 'b', 'c'), BYE},
    {"FB without media SSRC", B(0x81, 205, 0x00, 0x01, SSRC_A), FB},
    {"FB on an RR", B(0x80, 201, 0x00, 0x02, SSRC_A, SSRC_B), FB},
    {"NACK with zero items", B(0x81, 205, 0x00, 0x02, SSRC_A, SSRC_B), NACK},
    {"NACK item cut by padding", B(0xA1, 205, 0x00, 0x03, SSRC_A, SSRC_B, 0x00, 0x01, 0x00, 0x02),
     NACK},
    {"NACK with FMT 15", B(0x8F, 205, 0x00, 0x03, SSRC_A, SSRC_B, 0, 1, 0, 0), NACK},
    {"NACK as PSFB", B(0x81, 206, 0x00, 0x03, SSRC_A, SSRC_B, 0, 1, 0, 0), NACK},
    {"PLI without media SSRC", B(0x81, 206, 0x00, 0x01, SSRC_A), PLI},
    {"PLI as RTPFB", B(0x81, 205, 0x00, 0x02, SSRC_A, SSRC_B), PLI},
    {"FIR with zero entries", B(0x84, 206, 0x00, 0x02, SSRC_A, 0, 0, 0, 0), FIR},
    {"FIR with half an entry", B(0x84, 206, 0x00, 0x03, SSRC_A, 0, 0, 0, 0, SSRC_B), FIR},
    {"REMB with num SSRC past the end",
     B(0x8F, 206, 0x00, 0x05, SSRC_A, 0, 0, 0, 0, 'R', 'E', 'M', 'B', 0x03, 0x0E, 0xDC, 0x6C,
       SSRC_B),
     REMB},
    {"REMB without bitrate", B(0x8F, 206, 0x00, 0x03, SSRC_A, 0, 0, 0, 0, 'R', 'E', 'M', 'B'),
     REMB},
    {"REMB with another identifier",
     B(0x8F, 206, 0x00, 0x05, SSRC_A, 0, 0, 0, 0, 'R', 'E', 'M', 'X', 0x01, 0x0E, 0xDC, 0x6C,
       SSRC_B),
     REMB},
    {"REMB as FMT 1",
     B(0x81, 206, 0x00, 0x05, SSRC_A, 0, 0, 0, 0, 'R', 'E', 'M', 'B', 0x01, 0x0E, 0xDC, 0x6C,
       SSRC_B),
     REMB},
};

static int run_parser(enum which w, const struct rtcp_pkt *pkt) {
  struct rtcp_sr sr;
  struct rtcp_rr rr;
  struct rtcp_sdes sdes;
  struct rtcp_bye bye;
  struct rtcp_fb fb;
  struct rtcp_nack nack;
  struct rtcp_fir f;
  struct rtcp_remb remb;
  uint32_t a, b;

  switch (w) {
  case SR: return rtcp_parse_sr(pkt, &sr);
  case RR: return rtcp_parse_rr(pkt, &rr);
  case SDES: return rtcp_parse_sdes(pkt, &sdes);
  case BYE: return rtcp_parse_bye(pkt, &bye);
  case FB: return rtcp_parse_fb(pkt, &fb);
  case NACK: return rtcp_parse_nack(pkt, &nack);
  case PLI: return rtcp_parse_pli(pkt, &a, &b);
  case FIR: return rtcp_parse_fir(pkt, &f);
  case REMB: return rtcp_parse_remb(pkt, &remb);
  }
  return 1;
}

static void test_parse_malformed_table(void **state) {
  for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
    const struct bad_case *c = &bad_cases[i];
    struct rtcp_pkt pkt;

    CHECK(c, walk(c->bytes, c->len, &pkt, 1) == 1);   /* the header is fine... */
    CHECK(c, run_parser(c->parser, &pkt) == -EINVAL); /* ...the body is not */
  }
}

/* ---- builders ---- */

static const struct rtcp_report_block rb1 = {0x55667788, 25, -2, 0x10005, 32, 0x3F3A8000, 65536};

static void test_build_rr(void **state) {
  uint8_t buf[64];
  struct rtcp_pkt pkt;
  struct rtcp_rr rr;
  int n;

  n = rtcp_build_rr(buf, sizeof(buf), 0x11223344, &rb1);
  assert_int_equal(n, 32);
  assert_memory_equal(buf, rr_remb, 32); /* the same bytes as the hand-built one */
  assert_int_equal(rtcp_check(buf, (size_t)n), 1);
  assert_int_equal(rtcp_build_rr(buf, 31, 0x11223344, &rb1), -ENOBUFS);
  n = rtcp_build_rr(buf, 8, 0x11223344, NULL);
  assert_int_equal(n, 8);
  assert_int_equal(walk(buf, 8, &pkt, 1), 1);
  assert_int_equal(rtcp_parse_rr(&pkt, &rr), 0);
  assert_int_equal(rr.ssrc, 0x11223344);
  assert_int_equal(rr.nreports, 0);
  assert_int_equal(rtcp_build_rr(buf, 7, 0x11223344, NULL), -ENOBUFS);
}

/* cumulative_lost is 24-bit signed: values outside are clamped. */
static void test_build_rr_lost_clamp(void **state) {
  static const struct {
    int32_t in, out;
  } cases[] = {{0, 0},
               {-1, -1},
               {-2, -2},
               {8388607, 8388607},
               {8388608, 8388607},
               {INT32_MAX, 8388607},
               {-8388608, -8388608},
               {-8388609, -8388608},
               {INT32_MIN, -8388608},
               {1000, 1000}};
  uint8_t buf[32];
  struct rtcp_pkt pkt;
  struct rtcp_rr rr;

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct rtcp_report_block rb = rb1;
    rb.cumulative_lost = cases[i].in;
    assert_int_equal(rtcp_build_rr(buf, sizeof(buf), 1, &rb), 32);
    assert_int_equal(walk(buf, 32, &pkt, 1), 1);
    assert_int_equal(rtcp_parse_rr(&pkt, &rr), 0);
    assert_int_equal(rr.reports[0].cumulative_lost, cases[i].out);
  }
}

static void test_build_sr(void **state) {
  struct rtcp_sr sr = {0x11223344, 0xE89D3F3A80000000ull, 90000, 100, 20000, 1, {rb1}}, got;
  uint8_t buf[1024];
  struct rtcp_pkt pkt;
  int n;

  n = rtcp_build_sr(buf, sizeof(buf), &sr);
  assert_int_equal(n, 52);
  assert_memory_equal(buf, sr_sdes, 52);
  sr.nreports = RTCP_MAX_REPORTS;
  for (int i = 0; i < RTCP_MAX_REPORTS; i++) {
    sr.reports[i] = rb1;
    sr.reports[i].ssrc = (uint32_t)i;
  }
  n = rtcp_build_sr(buf, sizeof(buf), &sr);
  assert_int_equal(n, 28 + 24 * RTCP_MAX_REPORTS);
  assert_int_equal(rtcp_build_sr(buf, (size_t)n - 1, &sr), -ENOBUFS);
  assert_int_equal(walk(buf, (size_t)n, &pkt, 1), 1);
  assert_int_equal(rtcp_parse_sr(&pkt, &got), 0);
  assert_int_equal(got.nreports, RTCP_MAX_REPORTS);
  assert_int_equal(got.reports[30].ssrc, 30);
  assert_true(got.ntp == sr.ntp);
  sr.nreports = RTCP_MAX_REPORTS + 1;
  assert_int_equal(rtcp_build_sr(buf, sizeof(buf), &sr), -EINVAL);
}

static void test_build_sdes_compound(void **state) {
  struct rtcp_sr sr = {0x11223344, 0xE89D3F3A80000000ull, 90000, 100, 20000, 1, {rb1}};
  char cname[RTCP_CNAME_MAX + 1];
  uint8_t buf[600];
  struct rtcp_pkt pkts[2];
  struct rtcp_sdes sdes;
  struct rtcp_rr rr;
  int n;

  n = rtcp_build_compound_sr_sdes(buf, sizeof(buf), &sr, "abcdefghijklmnop", 16);
  assert_int_equal(n, sizeof(sr_sdes));
  assert_memory_equal(buf, sr_sdes, sizeof(sr_sdes)); /* byte for byte what a browser sends */
  assert_int_equal(
      rtcp_build_compound_sr_sdes(buf, sizeof(sr_sdes) - 1, &sr, "abcdefghijklmnop", 16), -ENOBUFS);
  memset(cname, 'x', sizeof(cname));
  /* Every CNAME length pads to a word boundary and parses back. */
  for (size_t len = 1; len <= RTCP_CNAME_MAX; len++) {
    n = rtcp_build_compound_rr_sdes(buf, sizeof(buf), 0xABCD, &rb1, cname, len);
    assert_int_equal(n, 32 + ((4 + 4 + 2 + len + 1 + 3) & ~(size_t)3));
    assert_int_equal(rtcp_check(buf, (size_t)n), 2);
    assert_int_equal(walk(buf, (size_t)n, pkts, 2), 2);
    assert_int_equal(rtcp_parse_rr(&pkts[0], &rr), 0);
    assert_int_equal(rr.reports[0].jitter, 32);
    assert_int_equal(rtcp_parse_sdes(&pkts[1], &sdes), 0);
    assert_int_equal(sdes.chunks[0].ssrc, 0xABCD);
    assert_int_equal(sdes.chunks[0].cname_len, len);
    assert_int_equal(rtcp_build_compound_rr_sdes(buf, (size_t)n - 1, 0xABCD, &rb1, cname, len),
                     -ENOBUFS);
  }
  assert_int_equal(rtcp_build_sdes(buf, sizeof(buf), 1, cname, 0), -EINVAL);
  assert_int_equal(rtcp_build_sdes(buf, sizeof(buf), 1, cname, 256), -EINVAL);
  assert_int_equal(rtcp_build_compound_rr_sdes(buf, sizeof(buf), 1, NULL, cname, 256), -EINVAL);
}

struct nack_case {
  const char *name;
  const uint16_t *lost;
  size_t n;
  size_t items;         /* the packet must hold this many items */
  const uint16_t *want; /* the sequence numbers it names, in item order */
  size_t nwant;
};

#define L(...) (const uint16_t[]){__VA_ARGS__}, sizeof((const uint16_t[]){__VA_ARGS__}) / 2

static const struct nack_case nack_cases[] = {
    {"the three-item packet", L(100, 101, 103, 200, 216, 65535, 0), 3,
     L(100, 101, 103, 200, 216, 65535, 0)},
    {"one", L(7), 1, L(7)},
    {"17 in one item", L(10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26), 1,
     L(10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26)},
    {"18 need two", L(10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27), 2,
     L(10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27)},
    {"wrap inside an item", L(65530, 65535, 0, 5), 1, L(65530, 65535, 0, 5)},
    {"duplicates", L(5, 5, 6, 6, 5), 1, L(5, 6)},
    {"unsorted", L(50, 10, 12, 49), 3, L(50, 10, 12, 49)},
    {"gaps of 17", L(0, 17, 34, 51), 4, L(0, 17, 34, 51)},
};

static void test_build_nack_table(void **state) {
  for (size_t i = 0; i < sizeof(nack_cases) / sizeof(nack_cases[0]); i++) {
    const struct nack_case *c = &nack_cases[i];
    uint8_t buf[256];
    uint16_t got[64];
    struct rtcp_pkt pkt;
    struct rtcp_nack nack;
    int n = rtcp_build_nack(buf, sizeof(buf), 0x11223344, 0x55667788, c->lost, c->n);

    CHECK(c, n == (int)(12 + 4 * c->items));
    CHECK(c, walk(buf, (size_t)n, &pkt, 1) == 1);
    CHECK(c, rtcp_parse_nack(&pkt, &nack) == 0 && nack.nitems == c->items);
    CHECK(c, nack.sender_ssrc == 0x11223344 && nack.media_ssrc == 0x55667788);
    CHECK(c, rtcp_nack_lost(&nack, got, 64) == c->nwant);
    CHECK(c, memcmp(got, c->want, c->nwant * 2) == 0);
    CHECK(c, rtcp_build_nack(buf, (size_t)n - 1, 1, 2, c->lost, c->n) == -ENOBUFS);
  }
}

static void test_build_nack_bytes(void **state) {
  static const uint16_t lost[] = {100, 101, 103, 200, 216, 65535, 0};
  uint8_t buf[64];

  assert_int_equal(rtcp_build_nack(buf, sizeof(buf), 0x11223344, 0x55667788, lost, 7),
                   sizeof(nack3));
  assert_memory_equal(buf, nack3, sizeof(nack3));
  assert_int_equal(rtcp_build_nack(buf, sizeof(buf), 1, 2, lost, 0), -EINVAL);
}

static void test_build_pli_fir(void **state) {
  uint8_t buf[32];
  struct rtcp_pkt pkt;
  struct rtcp_fir f;
  uint32_t a, b;

  assert_int_equal(rtcp_build_pli(buf, sizeof(buf), 0x11223344, 0x55667788), sizeof(pli));
  assert_memory_equal(buf, pli, sizeof(pli));
  assert_int_equal(rtcp_build_pli(buf, 11, 1, 2), -ENOBUFS);
  assert_int_equal(walk(buf, sizeof(pli), &pkt, 1), 1);
  assert_int_equal(rtcp_parse_pli(&pkt, &a, &b), 0);
  assert_int_equal(rtcp_build_fir(buf, sizeof(buf), 0x11223344, 0x55667788, 7), sizeof(fir));
  assert_memory_equal(buf, fir, sizeof(fir));
  assert_int_equal(rtcp_build_fir(buf, 19, 1, 2, 3), -ENOBUFS);
  for (unsigned seq = 0; seq < 256; seq += 51) {
    assert_int_equal(rtcp_build_fir(buf, sizeof(buf), 9, 0xCAFE, (uint8_t)seq), 20);
    assert_int_equal(walk(buf, 20, &pkt, 1), 1);
    assert_int_equal(rtcp_parse_fir(&pkt, &f), 0);
    assert_int_equal(f.sender_ssrc, 9);
    assert_int_equal(f.entries[0].ssrc, 0xCAFE);
    assert_int_equal(f.entries[0].seq_nr, seq);
  }
}

static void test_build_remb(void **state) {
  static const struct {
    uint64_t in, out; /* bits/s, and what survives the 18-bit mantissa */
  } cases[] = {{0, 0},
               {1, 1},
               {262143, 262143},
               {262144, 262144},
               {262145, 262144},
               {1500000, 1500000},
               {2500001, 2500000},
               {UINT64_MAX, 0x3FFFFull << 46}};
  static const uint32_t ssrcs[] = {0x55667788, 2, 3};
  uint8_t buf[64];
  struct rtcp_pkt pkt;
  struct rtcp_remb remb;

  assert_int_equal(rtcp_build_remb(buf, sizeof(buf), 0x11223344, 1500000, ssrcs, 1), 24);
  assert_memory_equal(buf, rr_remb + 32, 24);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    assert_int_equal(rtcp_build_remb(buf, sizeof(buf), 1, cases[i].in, ssrcs, 3), 32);
    assert_int_equal(walk(buf, 32, &pkt, 1), 1);
    assert_int_equal(rtcp_parse_remb(&pkt, &remb), 0);
    assert_true(remb.bitrate == cases[i].out);
    assert_int_equal(remb.nssrc, 3);
    assert_int_equal(remb.ssrc[2], 3);
  }
  assert_int_equal(rtcp_build_remb(buf, 31, 1, 1, ssrcs, 3), -ENOBUFS);
  assert_int_equal(rtcp_build_remb(buf, sizeof(buf), 1, 1, ssrcs, 0), -EINVAL);
}

/* exp 63 with a large mantissa does not fit 64 bits: saturate. */
static void test_remb_saturates(void **state) {
  static const uint8_t p[] = {0x8F, 206, 0x00, 0x04, SSRC_A, 0,    0,    0,   0,
                              'R',  'E', 'M',  'B',  0x00,   0xFF, 0xFF, 0xFF};
  struct rtcp_pkt pkt;
  struct rtcp_remb remb;

  assert_int_equal(walk(p, sizeof(p), &pkt, 1), 1);
  assert_int_equal(rtcp_parse_remb(&pkt, &remb), 0);
  assert_true(remb.bitrate == UINT64_MAX);
  assert_int_equal(remb.nssrc, 0);
}

/* A REMB naming more SSRCs than kept: all are bounds-checked, 16 kept. */
static void test_remb_many_ssrcs(void **state) {
  uint8_t p[20 + 4 * 40] = {
      0x8F, 206,  0,   sizeof(p) / 4 - 1, SSRC_A, 0, 0, 0, 0, 'R', 'E', 'M', 'B', 40,
      0x04, 0x00, 0x01};
  struct rtcp_pkt pkt;
  struct rtcp_remb remb;

  for (int i = 0; i < 40; i++)
    p[20 + 4 * i + 3] = (uint8_t)i;
  assert_int_equal(walk(p, sizeof(p), &pkt, 1), 1);
  assert_int_equal(rtcp_parse_remb(&pkt, &remb), 0);
  assert_true(remb.bitrate == 2);
  assert_int_equal(remb.nssrc_wire, 40);
  assert_int_equal(remb.nssrc, RTCP_REMB_MAX_SSRC);
  assert_int_equal(remb.ssrc[15], 15);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_walk_table),
      cmocka_unit_test(test_parse_sr_sdes),
      cmocka_unit_test(test_parse_rr_remb),
      cmocka_unit_test(test_parse_nack),
      cmocka_unit_test(test_nack_full_item),
      cmocka_unit_test(test_nack_item_bound),
      cmocka_unit_test(test_parse_pli_fir_bye),
      cmocka_unit_test(test_parse_sdes_chunks),
      cmocka_unit_test(test_parse_malformed_table),
      cmocka_unit_test(test_build_rr),
      cmocka_unit_test(test_build_rr_lost_clamp),
      cmocka_unit_test(test_build_sr),
      cmocka_unit_test(test_build_sdes_compound),
      cmocka_unit_test(test_build_nack_table),
      cmocka_unit_test(test_build_nack_bytes),
      cmocka_unit_test(test_build_pli_fir),
      cmocka_unit_test(test_build_remb),
      cmocka_unit_test(test_remb_saturates),
      cmocka_unit_test(test_remb_many_ssrcs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
