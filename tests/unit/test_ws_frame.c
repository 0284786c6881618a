/* Tests for src/ws/ws_frame.c. Every parser case is a list of client frames
 * (masked with a different key each) and the events and final error they
 * must produce; each case is fed whole, one byte at a time, split in two at
 * every point, and in pseudo-random pieces, and must give the same events
 * every way. Raw-byte cases also pin down the byte at which an error is
 * raised, so that "fails as soon as the header says so" is checked. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ws/ws_frame.h"

/* ---- building client frames ---- */

struct frame {
  uint8_t b0;          /* FIN, RSV and opcode */
  const char *payload; /* NULL ends a list of frames */
  size_t len;
  int ext;      /* 0: minimal length encoding; 2 or 8: force that many bytes */
  int unmasked; /* send without a mask (a client must not) */
};

/* clang-format off */
#define FR(b0, s) {(b0), (s), sizeof(s) - 1, 0, 0}
#define FR_EXT(b0, s, ext) {(b0), (s), sizeof(s) - 1, (ext), 0}
#define FR_UNMASKED(b0, s) {(b0), (s), sizeof(s) - 1, 0, 1}
/* clang-format on */

/* Appends one frame to out (room for len + 14 bytes) and returns its size.
 * The mask key depends on seed so that frames differ. */
static size_t put_frame(uint8_t *out, uint8_t b0, const uint8_t *payload, size_t len, int ext,
                        int unmasked, unsigned seed) {
  uint8_t mask[4] = {(uint8_t)(0x37 + seed), 0xFA, (uint8_t)(0x21 ^ seed), 0x3D};
  size_t n = 0, i;
  int bytes = ext ? ext : len < 126 ? 0 : len <= 0xFFFF ? 2 : 8;

  out[n++] = b0;
  if (bytes == 0) {
    out[n++] = (uint8_t)len;
  } else {
    out[n++] = bytes == 2 ? 126 : 127;
    for (i = 0; i < (size_t)bytes; i++)
      out[n++] = (uint8_t)((uint64_t)len >> (8 * (bytes - 1 - i)));
  }
  if (unmasked) {
    memcpy(out + n, payload, len);
    return n + len;
  }
  out[1] |= 0x80;
  memcpy(out + n, mask, 4);
  n += 4;
  for (i = 0; i < len; i++)
    out[n + i] = payload[i] ^ mask[i & 3];
  return n + len;
}

/* ---- expected events and the driver ---- */

struct expect {
  enum ws_event_kind kind;
  const char *payload; /* NULL ends a list of events */
  size_t len;
  uint16_t code; /* close code, for WS_EV_CLOSE */
};

/* clang-format off */
#define EV(k, s) {(k), (s), sizeof(s) - 1, 0}
#define EV_CLOSE(code, s) {WS_EV_CLOSE, (s), sizeof(s) - 1, (code)}
/* clang-format on */

struct run {
  const char *name;
  const char *mode;
  size_t max_message;
  const struct expect *ev; /* nev entries */
  size_t nev;
  uint16_t err;   /* 0: the input must end without an error */
  size_t fail_at; /* if not 0: bytes fed when the error is raised */
  /* progress */
  struct ws_parser p;
  size_t got, fed;
  int failed;
};

#define CHECK(r, cond)                                                                          \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      print_error("case \"%s\" fed %s: %s (line %d)\n", (r)->name, (r)->mode, #cond, __LINE__); \
      fail();                                                                                   \
    }                                                                                           \
  } while (0)

static void check_event(struct run *r, const struct ws_event *ev) {
  const struct expect *want;

  CHECK(r, r->got < r->nev);
  want = &r->ev[r->got++];
  CHECK(r, ev->kind == want->kind);
  CHECK(r, ev->len == want->len);
  CHECK(r, ev->payload != NULL);
  CHECK(r, memcmp(ev->payload, want->payload, want->len) == 0);
  CHECK(r, ev->error == NULL);
  if (want->kind == WS_EV_CLOSE)
    CHECK(r, ev->close_code == want->code);
}

/* Feeds one piece, taking every event out of it. */
static void feed_piece(struct run *r, const uint8_t *d, size_t n) {
  size_t off = 0, used;
  struct ws_event ev;

  while (!r->failed) {
    int rc = ws_parser_feed(&r->p, d + off, n - off, &used, &ev);

    CHECK(r, used <= n - off);
    off += used;
    if (rc == WS_AGAIN) {
      CHECK(r, off == n);
      break;
    }
    if (rc == WS_ERROR) {
      r->failed = 1;
      CHECK(r, r->err != 0);
      CHECK(r, ev.close_code == r->err);
      CHECK(r, ev.error != NULL);
      if (r->fail_at)
        CHECK(r, r->fed < r->fail_at && r->fail_at <= r->fed + n);
      break;
    }
    CHECK(r, rc == WS_EVENT);
    CHECK(r, used > 0);
    check_event(r, &ev);
  }
  r->fed += n;
}

/* Feeds buf in pieces of the given sizes (summing to len), then checks the
 * whole outcome, including that an error stays reported. */
static void run_pieces(struct run *r, const char *mode, const uint8_t *buf, size_t len,
                       const size_t *pieces, size_t npieces) {
  size_t i, off = 0, used = 99;
  struct ws_event ev;

  r->mode = mode;
  r->got = 0;
  r->fed = 0;
  r->failed = 0;
  ws_parser_init(&r->p, r->max_message);
  for (i = 0; i < npieces && !r->failed; i++) {
    feed_piece(r, buf + off, pieces[i]);
    off += pieces[i];
  }
  CHECK(r, r->got == r->nev);
  CHECK(r, r->failed == (r->err != 0));
  if (r->failed) {
    CHECK(r, ws_parser_feed(&r->p, (const uint8_t *)"\x81", 1, &used, &ev) == WS_ERROR);
    CHECK(r, used == 0 && ev.close_code == r->err && ev.error != NULL);
  }
  ws_parser_free(&r->p);
}

/* Runs one case whole, byte at a time, split in two at every point (every
 * 997th point for big inputs) and in pseudo-random pieces. */
static void run_all_ways(struct run *r, const uint8_t *buf, size_t len) {
  size_t *pieces = malloc((len + 1) * sizeof(*pieces));
  size_t i, k, n;
  uint32_t x = 2463534242u;
  int seed;

  assert_non_null(pieces);
  pieces[0] = len;
  run_pieces(r, "whole", buf, len, pieces, 1);
  for (i = 0; i < len; i++)
    pieces[i] = 1;
  run_pieces(r, "byte at a time", buf, len, pieces, len);
  for (k = 1; k<len; k += len> 4096 ? 997 : 1) {
    pieces[0] = k;
    pieces[1] = len - k;
    run_pieces(r, "split in two", buf, len, pieces, 2);
  }
  for (seed = 0; seed < 8; seed++) {
    for (i = 0, n = 0; i < len; i += pieces[n++]) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      pieces[n] = 1 + x % (seed < 4 ? 7 : 300);
      if (pieces[n] > len - i)
        pieces[n] = len - i;
    }
    run_pieces(r, "random pieces", buf, len, pieces, n);
  }
  free(pieces);
}

/* ---- table of frame sequences ---- */

struct seq_case {
  const char *name;
  size_t max_message; /* 0 here means 1024 */
  struct frame fr[6];
  struct expect ev[5];
  uint16_t err;
};

static const struct seq_case seq_cases[] = {
    /* valid traffic */
    {"text", 0, {FR(0x81, "Hello")}, {EV(WS_EV_TEXT, "Hello")}, 0},
    {"empty text", 0, {FR(0x81, "")}, {EV(WS_EV_TEXT, "")}, 0},
    {"binary", 0, {FR(0x82, "\x00\xFF\x80")}, {EV(WS_EV_BINARY, "\x00\xFF\x80")}, 0},
    {"binary is not UTF-8 checked",
     0,
     {FR(0x82, "\xC0\xED\xA0\x80")},
     {EV(WS_EV_BINARY, "\xC0\xED\xA0\x80")},
     0},
    {"text in two fragments", 0, {FR(0x01, "Hel"), FR(0x80, "lo")}, {EV(WS_EV_TEXT, "Hello")}, 0},
    {"ping between text fragments",
     0,
     {FR(0x01, "Hel"), FR(0x89, "p"), FR(0x80, "lo")},
     {EV(WS_EV_PING, "p"), EV(WS_EV_TEXT, "Hello")},
     0},
    {"pong and ping between binary fragments",
     0,
     {FR(0x02, "\x01"), FR(0x8A, "pong"), FR(0x00, "\x02"), FR(0x89, ""), FR(0x80, "\x03")},
     {EV(WS_EV_PONG, "pong"), EV(WS_EV_PING, ""), EV(WS_EV_BINARY, "\x01\x02\x03")},
     0},
    {"empty fragments",
     0,
     {FR(0x01, ""), FR(0x00, "a"), FR(0x00, ""), FR(0x80, "")},
     {EV(WS_EV_TEXT, "a")},
     0},
    {"UTF-8 sequence split across fragments",
     0,
     {FR(0x01, "\xE2\x82"), FR(0x80, "\xAC!")},
     {EV(WS_EV_TEXT, "\xE2\x82\xAC!")},
     0},
    {"4-byte sequence over three fragments and a ping",
     0,
     {FR(0x01, "\xF0"), FR(0x89, "x"), FR(0x00, "\x9F\x98"), FR(0x80, "\x80")},
     {EV(WS_EV_PING, "x"), EV(WS_EV_TEXT, "\xF0\x9F\x98\x80")},
     0},
    {"ping", 0, {FR(0x89, "are you there")}, {EV(WS_EV_PING, "are you there")}, 0},
    {"pong", 0, {FR(0x8A, "\x00\x01")}, {EV(WS_EV_PONG, "\x00\x01")}, 0},
    {"close without a code", 0, {FR(0x88, "")}, {EV_CLOSE(1005, "")}, 0},
    {"close 1000 with a reason",
     0,
     {FR(0x88, "\x03\xE8"
               "bye")},
     {EV_CLOSE(1000, "bye")},
     0},
    {"close 1001 with a UTF-8 reason",
     0,
     {FR(0x88, "\x03\xE9\xC3\xA9t\xC3\xA9")},
     {EV_CLOSE(1001, "\xC3\xA9t\xC3\xA9")},
     0},
    {"messages back to back",
     0,
     {FR(0x81, "a"), FR(0x82, "b"), FR(0x81, "c")},
     {EV(WS_EV_TEXT, "a"), EV(WS_EV_BINARY, "b"), EV(WS_EV_TEXT, "c")},
     0},
    {"input after close is discarded",
     0,
     {FR(0x88, "\x0B\xB8"), FR(0x81, "late"), FR_UNMASKED(0xF3, "junk")},
     {EV_CLOSE(3000, "")},
     0},
    {"input after an empty close is discarded",
     0,
     {FR(0x88, ""), FR(0x89, "late"), FR(0x80, "x")},
     {EV_CLOSE(1005, "")},
     0},
    {"non-minimal 16-bit length is accepted",
     0,
     {FR_EXT(0x81, "abc", 2)},
     {EV(WS_EV_TEXT, "abc")},
     0},
    {"non-minimal 64-bit length is accepted",
     0,
     {FR_EXT(0x82, "abc", 8)},
     {EV(WS_EV_BINARY, "abc")},
     0},
    {"message of exactly max_message", 5, {FR(0x81, "12345")}, {EV(WS_EV_TEXT, "12345")}, 0},
    {"fragments adding up to max_message",
     5,
     {FR(0x01, "12"), FR(0x80, "345")},
     {EV(WS_EV_TEXT, "12345")},
     0},
    {"control frames do not count toward max_message",
     2,
     {FR(0x01, "ab"), FR(0x89, "a long ping payload"), FR(0x80, "")},
     {EV(WS_EV_PING, "a long ping payload"), EV(WS_EV_TEXT, "ab")},
     0},
    /* protocol errors: 1002 */
    {"RSV1", 0, {FR(0xC1, "x")}, {{0}}, 1002},
    {"RSV2", 0, {FR(0xA1, "x")}, {{0}}, 1002},
    {"RSV3", 0, {FR(0x91, "x")}, {{0}}, 1002},
    {"RSV1 on a ping", 0, {FR(0xC9, "")}, {{0}}, 1002},
    {"unmasked text", 0, {FR_UNMASKED(0x81, "hi")}, {{0}}, 1002},
    {"unmasked close", 0, {FR_UNMASKED(0x88, "")}, {{0}}, 1002},
    {"continuation without a message", 0, {FR(0x80, "x")}, {{0}}, 1002},
    {"non-final continuation without a message", 0, {FR(0x00, "x")}, {{0}}, 1002},
    {"continuation after a finished message",
     0,
     {FR(0x81, "a"), FR(0x80, "b")},
     {EV(WS_EV_TEXT, "a")},
     1002},
    {"text inside fragmented text", 0, {FR(0x01, "a"), FR(0x81, "b")}, {{0}}, 1002},
    {"binary inside fragmented text", 0, {FR(0x01, "a"), FR(0x02, "b")}, {{0}}, 1002},
    {"text inside fragmented binary after a ping",
     0,
     {FR(0x02, "a"), FR(0x89, ""), FR(0x01, "b")},
     {EV(WS_EV_PING, "")},
     1002},
    {"fragmented ping", 0, {FR(0x09, "")}, {{0}}, 1002},
    {"fragmented pong", 0, {FR(0x0A, "")}, {{0}}, 1002},
    {"fragmented close", 0, {FR(0x08, "")}, {{0}}, 1002},
    {"ping with a 16-bit length", 0, {FR_EXT(0x89, "x", 2)}, {{0}}, 1002},
    {"close with a 64-bit length", 0, {FR_EXT(0x88, "", 8)}, {{0}}, 1002},
    {"close of 1 byte", 0, {FR(0x88, "\x03")}, {{0}}, 1002},
    {"close of 1 byte after a ping of 2",
     0,
     {FR(0x89, "\x03\xE8"), FR(0x88, "\x03")},
     {EV(WS_EV_PING, "\x03\xE8")},
     1002},
    {"events before an error are delivered",
     0,
     {FR(0x89, "p"), FR(0x81, "ok"), FR(0xC1, "")},
     {EV(WS_EV_PING, "p"), EV(WS_EV_TEXT, "ok")},
     1002},
    /* invalid text: 1007 */
    {"text with a bad byte", 0, {FR(0x81, "ab\xFF")}, {{0}}, 1007},
    {"text with an overlong form", 0, {FR(0x81, "\xC0\xAF")}, {{0}}, 1007},
    {"text with a surrogate", 0, {FR(0x81, "\xED\xA0\x80")}, {{0}}, 1007},
    {"text above U+10FFFF", 0, {FR(0x81, "\xF4\x90\x80\x80")}, {{0}}, 1007},
    {"bad UTF-8 in a later fragment", 0, {FR(0x01, "ok"), FR(0x80, "\x80")}, {{0}}, 1007},
    {"text ending inside a sequence", 0, {FR(0x81, "a\xE2\x82")}, {{0}}, 1007},
    {"fragmented text ending inside a sequence",
     0,
     {FR(0x01, "\xE2"), FR(0x80, "\x82")},
     {{0}},
     1007},
    {"close reason with a bad byte", 0, {FR(0x88, "\x03\xE8\xFF")}, {{0}}, 1007},
    {"close reason ending inside a sequence", 0, {FR(0x88, "\x03\xE8\xC3")}, {{0}}, 1007},
    /* too big: 1009 */
    {"message over max_message", 4, {FR(0x81, "12345")}, {{0}}, 1009},
    {"binary over max_message", 4, {FR(0x82, "12345")}, {{0}}, 1009},
    {"fragments over max_message", 5, {FR(0x01, "123"), FR(0x80, "456")}, {{0}}, 1009},
    {"message over max_message after a good one",
     3,
     {FR(0x81, "abc"), FR(0x01, "ab"), FR(0x00, "c"), FR(0x80, "d")},
     {EV(WS_EV_TEXT, "abc")},
     1009},
};

static size_t build_frames(uint8_t *out, const struct frame *fr) {
  size_t n = 0;
  unsigned i;

  for (i = 0; fr[i].payload; i++)
    n += put_frame(out + n, fr[i].b0, (const uint8_t *)fr[i].payload, fr[i].len, fr[i].ext,
                   fr[i].unmasked, i);
  return n;
}

static void test_sequences(void **state) {
  size_t i;

  for (i = 0; i < sizeof(seq_cases) / sizeof(seq_cases[0]); i++) {
    const struct seq_case *c = &seq_cases[i];
    struct run r = {0};
    uint8_t buf[512];
    size_t len = build_frames(buf, c->fr);

    r.name = c->name;
    r.max_message = c->max_message ? c->max_message : 1024;
    r.ev = c->ev;
    while (r.nev < 5 && c->ev[r.nev].payload)
      r.nev++;
    r.err = c->err;
    run_all_ways(&r, buf, len);
  }
}

/* ---- raw bytes: where exactly an error is raised ---- */

struct raw_case {
  const char *name;
  size_t max_message;
  const char *bytes; /* masked with the key 00 00 00 00 */
  size_t len;
  uint16_t err;
  size_t fail_at; /* bytes that must be fed for the error to show */
};

#define RAW(s) s, sizeof(s) - 1

static const struct raw_case raw_cases[] = {
    {"reserved bit fails on byte 1", 1024, RAW("\xC1\x80\0\0\0\0"), 1002, 1},
    {"reserved opcode fails on byte 1", 1024, RAW("\x83\x80\0\0\0\0"), 1002, 1},
    {"unmasked frame fails on byte 2", 1024, RAW("\x81\x05hello"), 1002, 2},
    {"long ping fails on byte 2", 1024, RAW("\x89\xFE\x00\x7E"), 1002, 2},
    {"16-bit length over the cap fails before the mask", 1000, RAW("\x81\xFE\x03\xE9\0\0\0\0"),
     1009, 4},
    {"64-bit length over the cap fails before the mask", 65536,
     RAW("\x82\xFF\0\0\0\0\0\x10\0\0\0\0\0\0"), 1009, 10},
    {"64-bit length with the top bit set", SIZE_MAX, RAW("\x82\xFF\x80\0\0\0\0\0\0\x05\0\0\0\0"),
     1002, 10},
    {"top bit is a protocol error even over the cap", 64,
     RAW("\x82\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\0\0\0\0"), 1002, 10},
    {"continuation over the cap fails at its length byte", 5,
     RAW("\x01\x83\0\0\0\0abc\x80\x83\0\0\0\0def"), 1009, 11},
    {"bad UTF-8 fails before the frame ends", 1024, RAW("\x81\x8A\0\0\0\0ab\xC0"), 1007, 9},
    {"overlong 3-byte form fails at its second byte", 1024, RAW("\x81\x85\0\0\0\0\xE0\x80"), 1007,
     8},
    {"close of 1 byte fails when it ends", 1024, RAW("\x88\x81\0\0\0\0\x03"), 1002, 7},
    {"bad close code fails when the frame ends", 1024, RAW("\x88\x82\0\0\0\0\x03\xEC"), 1002, 8},
};

static void test_raw_error_position(void **state) {
  size_t i;

  for (i = 0; i < sizeof(raw_cases) / sizeof(raw_cases[0]); i++) {
    const struct raw_case *c = &raw_cases[i];
    struct run r = {0};

    r.name = c->name;
    r.max_message = c->max_message;
    r.err = c->err;
    r.fail_at = c->fail_at;
    run_all_ways(&r, (const uint8_t *)c->bytes, c->len);
  }
}

/* ---- generated cases ---- */

static void run_one_frame(const char *name, size_t max_message, uint8_t b0, const uint8_t *payload,
                          size_t len, int ext, const struct expect *ev, uint16_t err) {
  uint8_t *buf = malloc(len + 14);
  struct run r = {0};

  assert_non_null(buf);
  r.name = name;
  r.max_message = max_message;
  r.ev = ev;
  r.nev = ev ? 1 : 0;
  r.err = err;
  run_all_ways(&r, buf, put_frame(buf, b0, payload, len, ext, 0, 7));
  free(buf);
}

static void test_reserved_opcodes(void **state) {
  static const uint8_t ops[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
  size_t i;

  for (i = 0; i < sizeof(ops); i++) {
    char name[32];

    snprintf(name, sizeof(name), "opcode 0x%X", ops[i]);
    run_one_frame(name, 64, (uint8_t)(0x80 | ops[i]), (const uint8_t *)"x", 1, 0, NULL, 1002);
  }
}

static void test_close_codes(void **state) {
  static const uint16_t valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009,
                                   1010, 1011, 3000, 3999, 4000, 4999};
  static const uint16_t invalid[] = {0,    1,    999,  1004, 1005, 1006, 1012, 1013, 1014,
                                     1015, 1016, 1100, 2000, 2999, 5000, 9999, 65535};
  size_t i;
  char name[32];

  for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
    uint8_t pl[4] = {(uint8_t)(valid[i] >> 8), (uint8_t)valid[i], 'o', 'k'};
    struct expect ev = {WS_EV_CLOSE, "ok", 2, valid[i]};

    snprintf(name, sizeof(name), "close code %u", valid[i]);
    run_one_frame(name, 64, 0x88, pl, 4, 0, &ev, 0);
  }
  for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
    uint8_t pl[2] = {(uint8_t)(invalid[i] >> 8), (uint8_t)invalid[i]};

    snprintf(name, sizeof(name), "close code %u", invalid[i]);
    run_one_frame(name, 64, 0x88, pl, 2, 0, NULL, 1002);
  }
}

static void fill_pattern(uint8_t *d, size_t len) {
  size_t i;

  for (i = 0; i < len; i++)
    d[i] = (uint8_t)('a' + i % 26);
}

/* 7-, 16- and 64-bit lengths at their edges, as text and binary. */
static void test_lengths(void **state) {
  static const size_t lens[] = {0, 125, 126, 127, 65535, 65536, 70000};
  uint8_t *d = malloc(70000);
  size_t i;

  assert_non_null(d);
  fill_pattern(d, 70000);
  for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
    struct expect t = {WS_EV_TEXT, (const char *)d, lens[i], 0};
    struct expect b = {WS_EV_BINARY, (const char *)d, lens[i], 0};
    char name[48];

    snprintf(name, sizeof(name), "text of %zu bytes", lens[i]);
    run_one_frame(name, 1 << 20, 0x81, d, lens[i], 0, &t, 0);
    snprintf(name, sizeof(name), "binary of %zu bytes", lens[i]);
    run_one_frame(name, 1 << 20, 0x82, d, lens[i], 0, &b, 0);
    snprintf(name, sizeof(name), "text of %zu bytes, cap 1 less", lens[i]);
    if (lens[i] > 0)
      run_one_frame(name, lens[i] - 1, 0x81, d, lens[i], 0, NULL, 1009);
  }
  free(d);
}

/* A 70000-byte text message in a 7-bit, a 16-bit and a 64-bit fragment with
 * a ping in between. */
static void test_fragmented_mixed_lengths(void **state) {
  uint8_t *d = malloc(70000), *buf = malloc(70000 + 64);
  struct expect ev[2] = {{WS_EV_PING, "!", 1, 0}, {WS_EV_TEXT, NULL, 70000, 0}};
  struct run r = {0};
  size_t n = 0;

  assert_non_null(d);
  assert_non_null(buf);
  fill_pattern(d, 70000);
  ev[1].payload = (const char *)d;
  n += put_frame(buf + n, 0x01, d, 100, 0, 0, 1);
  n += put_frame(buf + n, 0x00, d + 100, 1000, 0, 0, 2);
  n += put_frame(buf + n, 0x89, (const uint8_t *)"!", 1, 0, 0, 3);
  n += put_frame(buf + n, 0x80, d + 1100, 68900, 0, 0, 4);
  r.name = "fragmented 70000 bytes";
  r.max_message = 70000;
  r.ev = ev;
  r.nev = 2;
  run_all_ways(&r, buf, n);
  free(buf);
  free(d);
}

static void test_control_frame_limit(void **state) {
  uint8_t pl[126];
  struct expect ping = {WS_EV_PING, (const char *)pl, 125, 0};
  struct expect close = {WS_EV_CLOSE, (const char *)pl + 2, 123, 4000};

  fill_pattern(pl, sizeof(pl));
  run_one_frame("ping of 125 bytes", 16, 0x89, pl, 125, 0, &ping, 0);
  run_one_frame("ping of 126 bytes", 1024, 0x89, pl, 126, 0, NULL, 1002);
  run_one_frame("pong of 126 bytes", 1024, 0x8A, pl, 126, 0, NULL, 1002);
  pl[0] = 4000 >> 8;
  pl[1] = 4000 & 0xFF;
  run_one_frame("close of 125 bytes", 16, 0x88, pl, 125, 0, &close, 0);
  run_one_frame("close of 126 bytes", 1024, 0x88, pl, 126, 0, NULL, 1002);
}

/* ---- parser API details ---- */

/* One WS_EVENT per frame, consuming exactly that frame. */
static void test_consumed_stops_at_event(void **state) {
  uint8_t buf[64];
  size_t n1, n2, used;
  struct ws_parser p;
  struct ws_event ev;

  n1 = put_frame(buf, 0x81, (const uint8_t *)"one", 3, 0, 0, 1);
  n2 = put_frame(buf + n1, 0x89, (const uint8_t *)"two", 3, 0, 0, 2);
  ws_parser_init(&p, 64);
  assert_int_equal(ws_parser_feed(&p, buf, n1 + n2, &used, &ev), WS_EVENT);
  assert_int_equal(used, n1);
  assert_int_equal(ev.kind, WS_EV_TEXT);
  assert_memory_equal(ev.payload, "one", 3);
  assert_int_equal(ws_parser_feed(&p, buf + n1, n2, &used, &ev), WS_EVENT);
  assert_int_equal(used, n2);
  assert_int_equal(ev.kind, WS_EV_PING);
  assert_memory_equal(ev.payload, "two", 3);
  assert_int_equal(ws_parser_feed(&p, buf, 0, &used, &ev), WS_AGAIN);
  assert_int_equal(used, 0);
  /* A partial frame is consumed whole and remembered. */
  assert_int_equal(ws_parser_feed(&p, buf, n1 - 1, &used, &ev), WS_AGAIN);
  assert_int_equal(used, n1 - 1);
  assert_int_equal(ws_parser_feed(&p, buf + n1 - 1, 1, &used, &ev), WS_EVENT);
  assert_int_equal(used, 1);
  assert_memory_equal(ev.payload, "one", 3);
  ws_parser_free(&p);
}

/* The reassembly buffer grows to fit, never past max_message, and is reused:
 * later messages that fit do not reallocate it. */
static void test_buffer_reuse(void **state) {
  static uint8_t d[5000], buf[5000 + 14];
  struct ws_parser p;
  struct ws_event ev;
  const uint8_t *first = NULL;
  size_t n, used, cap = 0;
  int i;

  fill_pattern(d, sizeof(d));
  ws_parser_init(&p, 1 << 20);
  assert_null(p.msg);
  for (i = 0; i < 3; i++) {
    size_t len = i == 2 ? 100 : 5000;

    n = put_frame(buf, 0x82, d, len, 0, 0, (unsigned)i);
    assert_int_equal(ws_parser_feed(&p, buf, n, &used, &ev), WS_EVENT);
    assert_int_equal(ev.len, len);
    assert_memory_equal(ev.payload, d, len);
    if (i == 0) {
      first = p.msg;
      cap = p.msg_cap;
      assert_true(cap >= 5000 && cap <= 2 * 5000);
    }
    assert_ptr_equal(p.msg, first);
    assert_int_equal(p.msg_cap, cap);
  }
  ws_parser_free(&p);
  assert_null(p.msg);
  ws_parser_free(&p); /* twice is harmless */

  /* A cap that is not a power of two is a hard limit on the allocation. */
  ws_parser_init(&p, 3000);
  n = put_frame(buf, 0x82, d, 3000, 0, 0, 9);
  assert_int_equal(ws_parser_feed(&p, buf, n, &used, &ev), WS_EVENT);
  assert_int_equal(ev.len, 3000);
  assert_int_equal(p.msg_cap, 3000);
  ws_parser_free(&p);
}

/* Trimmed between messages, the parser holds no buffer; trimmed inside a
 * fragmented message, it keeps what came so far. */
static void test_trim(void **state) {
  static uint8_t d[3000], buf[3000 + 14];
  struct ws_parser p;
  struct ws_event ev;
  size_t n, used;

  fill_pattern(d, sizeof(d));
  ws_parser_init(&p, 1 << 20);
  n = put_frame(buf, 0x81, (const uint8_t *)"hello", 5, 0, 0, 1);
  assert_int_equal(ws_parser_feed(&p, buf, n, &used, &ev), WS_EVENT);
  assert_non_null(p.msg);
  ws_parser_trim(&p);
  assert_null(p.msg);
  assert_int_equal(p.msg_cap, 0);
  n = put_frame(buf, 0x02, d, 2000, 0, 0, 2); /* first fragment */
  assert_int_equal(ws_parser_feed(&p, buf, n, &used, &ev), WS_AGAIN);
  ws_parser_trim(&p);
  assert_non_null(p.msg);
  n = put_frame(buf, 0x80, d + 2000, 1000, 0, 0, 3); /* the last */
  assert_int_equal(ws_parser_feed(&p, buf, n, &used, &ev), WS_EVENT);
  assert_int_equal(ev.kind, WS_EV_BINARY);
  assert_int_equal(ev.len, 3000);
  assert_memory_equal(ev.payload, d, 3000);
  ws_parser_trim(&p);
  assert_null(p.msg);
  ws_parser_free(&p);
}

static void test_free_unused_parser(void **state) {
  struct ws_parser p;

  ws_parser_init(&p, 100);
  ws_parser_free(&p);
  assert_null(p.msg);
}

/* ---- server frame header ---- */

static void test_frame_header(void **state) {
  static const struct {
    enum ws_opcode op;
    uint64_t len;
    size_t n;
    uint8_t want[10];
  } cases[] = {
      {WS_OP_TEXT, 0, 2, {0x81, 0x00}},
      {WS_OP_TEXT, 5, 2, {0x81, 0x05}},
      {WS_OP_BINARY, 125, 2, {0x82, 0x7D}},
      {WS_OP_TEXT, 126, 4, {0x81, 0x7E, 0x00, 0x7E}},
      {WS_OP_TEXT, 65535, 4, {0x81, 0x7E, 0xFF, 0xFF}},
      {WS_OP_BINARY, 65536, 10, {0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}},
      {WS_OP_TEXT, 0x0102030405ULL, 10, {0x81, 0x7F, 0, 0, 0, 1, 2, 3, 4, 5}},
      {WS_OP_TEXT,
       0x7FFFFFFFFFFFFFFFULL,
       10,
       {0x81, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
      {WS_OP_CLOSE, 2, 2, {0x88, 0x02}},
      {WS_OP_PING, 0, 2, {0x89, 0x00}},
      {WS_OP_PONG, 125, 2, {0x8A, 0x7D}},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uint8_t out[10];

    memset(out, 0xEE, sizeof(out));
    assert_int_equal(ws_frame_header(out, cases[i].op, cases[i].len), cases[i].n);
    assert_memory_equal(out, cases[i].want, cases[i].n);
  }
}

/* ---- close payload ---- */

static void test_close_payload(void **state) {
  char reason[200];
  uint8_t out[125 + 8];
  size_t n;

  memset(out, 0xEE, sizeof(out));
  n = ws_close_payload(out, 1000, "bye");
  assert_int_equal(n, 5);
  assert_memory_equal(out,
                      "\x03\xE8"
                      "bye",
                      5);
  assert_int_equal(out[5], 0xEE); /* no NUL written */

  assert_int_equal(ws_close_payload(out, 1009, NULL), 2);
  assert_memory_equal(out, "\x03\xF1", 2);
  assert_int_equal(ws_close_payload(out, 4999, ""), 2);
  assert_memory_equal(out, "\x13\x87", 2);
  assert_int_equal(ws_close_payload(out, 0, "ignored"), 0);

  /* Long ASCII: cut at 123 bytes of reason, 125 in all. */
  memset(reason, 'r', sizeof(reason) - 1);
  reason[sizeof(reason) - 1] = '\0';
  memset(out, 0xEE, sizeof(out));
  assert_int_equal(ws_close_payload(out, 1011, reason), 125);
  assert_memory_equal(out + 2, reason, 123);
  assert_int_equal(out[125], 0xEE);

  /* Exactly 123 bytes fit. */
  reason[123] = '\0';
  assert_int_equal(ws_close_payload(out, 1011, reason), 125);

  /* A 2-byte character straddling the cut is dropped whole. */
  memset(reason, 'r', 122);
  memcpy(reason + 122, "\xC3\xA9tail", 7);
  n = ws_close_payload(out, 1008, reason);
  assert_int_equal(n, 2 + 122);
  assert_int_equal(utf8_valid(out + 2, n - 2, NULL), 0);

  /* A 4-byte character straddling the cut is dropped whole. */
  memset(reason, 'r', 121);
  memcpy(reason + 121, "\xF0\x9F\x98\x80", 5);
  n = ws_close_payload(out, 1008, reason);
  assert_int_equal(n, 2 + 121);
  assert_int_equal(utf8_valid(out + 2, n - 2, NULL), 0);

  /* A character ending exactly at the cut is kept. */
  memset(reason, 'r', 120);
  memcpy(reason + 120, "\xE2\x82\xACzz", 6);
  n = ws_close_payload(out, 1008, reason);
  assert_int_equal(n, 125);
  assert_memory_equal(out + 122, "\xE2\x82\xAC", 3);
}

/* The frame a server builds from ws_frame_header + ws_close_payload parses
 * back (once masked) into the same close event. */
static void test_close_round_trip(void **state) {
  uint8_t pl[125], buf[140];
  struct ws_parser p;
  struct ws_event ev;
  size_t n, used;

  n = ws_close_payload(pl, 1001, "going away");
  assert_int_equal(ws_frame_header(buf, WS_OP_CLOSE, n), 2);
  assert_int_equal(buf[0], 0x88);
  assert_int_equal(buf[1], n);
  n = put_frame(buf, buf[0], pl, n, 0, 0, 5);
  ws_parser_init(&p, 16);
  assert_int_equal(ws_parser_feed(&p, buf, n, &used, &ev), WS_EVENT);
  assert_int_equal(ev.kind, WS_EV_CLOSE);
  assert_int_equal(ev.close_code, 1001);
  assert_int_equal(ev.len, 10);
  assert_memory_equal(ev.payload, "going away", 10);
  ws_parser_free(&p);
}

/* ---- handshake accept key ---- */

static void test_accept_key(void **state) {
  static const struct {
    const char *key, *accept;
  } ok[] = {
      /* RFC 6455 section 1.3 */
      {"dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
      {"x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk="},
      {"AAAAAAAAAAAAAAAAAAAAAA==", "ICX+Yqv66kxgM0FcWaLWlFLwTAI="},
      {"/////////////////////w==", "XXpj4jYzLM2yUE0C7TIgMwTQh2g="},
      /* non-zero pad bits still decode to 16 bytes; the hash is of the text */
      {"dGhlIHNhbXBsZSBub25jZR==", "Zgw8jYXtqX5qJr7MJ1Q/MqzeSRI="},
  };
  size_t i;

  for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    char out[29];

    memset(out, 'X', sizeof(out));
    assert_int_equal(ws_accept_key(ok[i].key, 24, out), 0);
    assert_string_equal(out, ok[i].accept);
  }
}

static void test_accept_key_invalid(void **state) {
  static const struct {
    const char *key;
    size_t len;
  } bad[] = {
      {"", 0},
      {"dGhlIHNhbXBsZSBub25jZQ=", 23},
      {"dGhlIHNhbXBsZSBub25jZQ===", 25},
      {"dGhlIHNhbXBsZSBub25jZQ==", 22}, /* length says fewer bytes */
      {"dGhlIHNhbXBsZSBub25jZ===", 24}, /* 15 bytes and a bit */
      {"dGhlIHNhbXBsZSBub25jZQAA", 24}, /* 18 bytes */
      {"dGhlIHNhbXBsZSBub25jZQ=A", 24},
      {"dGhlIHNhbXBsZSBub25jZQA=", 24}, /* 17 bytes */
      {"dGhlIHNhbXBsZSBub25jZ!==", 24},
      {"dGhlIHNhbXBs ZSBub25jZ==", 24},
      {"dGhlIHNhbXBsZSBub25jZ-==", 24}, /* base64url is not base64 */
      {"dGhlIHNhbXBsZSBub25jZ_==", 24},
      {"dGhlIHNhbXBs\0ZSBub25jZ==", 24},
      {" dGhlIHNhbXBsZSBub25jZQ=", 24},
      {"=dGhlIHNhbXBsZSBub25jZQ=", 24},
  };
  size_t i;
  char out[29];

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (ws_accept_key(bad[i].key, bad[i].len, out) != -EINVAL) {
      print_error("key %zu \"%s\" accepted\n", i, bad[i].key);
      fail();
    }
  }
  assert_int_equal(ws_accept_key(NULL, 24, out), -EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sequences),
      cmocka_unit_test(test_raw_error_position),
      cmocka_unit_test(test_reserved_opcodes),
      cmocka_unit_test(test_close_codes),
      cmocka_unit_test(test_lengths),
      cmocka_unit_test(test_fragmented_mixed_lengths),
      cmocka_unit_test(test_control_frame_limit),
      cmocka_unit_test(test_consumed_stops_at_event),
      cmocka_unit_test(test_buffer_reuse),
      cmocka_unit_test(test_free_unused_parser),
      cmocka_unit_test(test_trim),
      cmocka_unit_test(test_frame_header),
      cmocka_unit_test(test_close_payload),
      cmocka_unit_test(test_close_round_trip),
      cmocka_unit_test(test_accept_key),
      cmocka_unit_test(test_accept_key_invalid),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
