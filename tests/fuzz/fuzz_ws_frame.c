/* libFuzzer target for src/ws/ws_frame.c and src/ws/utf8.c.
 *
 * Input layout:
 *   byte 0   bits 0-1: max_message (16, 125, 1024 or 1 MiB);
 *            bits 2-7: largest piece - 1 (63 means "one piece")
 *   byte 1   seed of the piece sizes
 *   rest     client-to-server wire bytes
 *
 * The wire bytes are parsed twice, whole and in pieces whose sizes come from
 * the input, and both runs must produce the same events and the same error.
 * Every event is checked against the parser's contract (text is UTF-8, sizes
 * within limits, close codes valid), and any failure traps. The same bytes
 * also go through utf8 (whole vs byte at a time), ws_accept_key and
 * ws_close_payload. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws/utf8.h"
#include "ws/ws_frame.h"

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond))         \
      __builtin_trap();  \
  } while (0)

/* What one run produced: events folded into a hash, and the final error. */
struct fuzz_trace {
  uint64_t hash;
  size_t events;
  uint16_t err; /* 0 if the run ended without an error */
};

static void fuzz_mix(uint64_t *h, const uint8_t *d, size_t len) {
  size_t i;

  for (i = 0; i < len; i++) {
    *h ^= d[i];
    *h *= 0x100000001B3ULL; /* FNV-1a */
  }
}

static int fuzz_close_code_ok(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
         (code >= 3000 && code <= 4999);
}

/* Checks one event against the contract and folds it into the trace. */
static void fuzz_event(struct fuzz_trace *t, const struct ws_event *ev, size_t max_message) {
  uint8_t head[11];
  size_t i;

  FUZZ_CHECK(ev->payload != NULL);
  FUZZ_CHECK(ev->error == NULL);
  switch (ev->kind) {
  case WS_EV_TEXT:
    FUZZ_CHECK(utf8_valid(ev->payload, ev->len, NULL) == 0);
    /* fall through */
  case WS_EV_BINARY: FUZZ_CHECK(ev->len <= max_message); break;
  case WS_EV_PING:
  case WS_EV_PONG: FUZZ_CHECK(ev->len <= 125); break;
  case WS_EV_CLOSE:
    FUZZ_CHECK(ev->len <= 123);
    FUZZ_CHECK(utf8_valid(ev->payload, ev->len, NULL) == 0);
    if (ev->close_code == 1005)
      FUZZ_CHECK(ev->len == 0);
    else
      FUZZ_CHECK(fuzz_close_code_ok(ev->close_code));
    break;
  default: FUZZ_CHECK(0);
  }
  head[0] = (uint8_t)ev->kind;
  head[1] = (uint8_t)(ev->close_code >> 8);
  head[2] = (uint8_t)ev->close_code;
  for (i = 0; i < 8; i++)
    head[3 + i] = (uint8_t)((uint64_t)ev->len >> (8 * i));
  fuzz_mix(&t->hash, head, sizeof(head));
  fuzz_mix(&t->hash, ev->payload, ev->len);
  t->events++;
}

/* Feeds one piece, taking all events out of it. Returns -1 after an error. */
static int fuzz_piece(struct ws_parser *p, struct fuzz_trace *t, const uint8_t *d, size_t len) {
  size_t off = 0, used;
  struct ws_event ev;

  for (;;) {
    int rc = ws_parser_feed(p, d + off, len - off, &used, &ev);

    FUZZ_CHECK(used <= len - off);
    off += used;
    if (rc == WS_AGAIN) {
      FUZZ_CHECK(off == len);
      return 0;
    }
    if (rc == WS_ERROR) {
      FUZZ_CHECK(ev.error != NULL);
      FUZZ_CHECK(ev.close_code == WS_CLOSE_PROTOCOL || ev.close_code == WS_CLOSE_INVALID_DATA ||
                 ev.close_code == WS_CLOSE_TOO_BIG || ev.close_code == WS_CLOSE_INTERNAL);
      t->err = ev.close_code;
      /* The error is sticky. */
      FUZZ_CHECK(ws_parser_feed(p, d, len, &used, &ev) == WS_ERROR);
      FUZZ_CHECK(used == 0 && ev.close_code == t->err);
      return -1;
    }
    FUZZ_CHECK(rc == WS_EVENT);
    FUZZ_CHECK(used > 0); /* an event always ends a frame in this call */
    fuzz_event(t, &ev, p->max_message);
  }
}

static void fuzz_parse(const uint8_t *d, size_t len, size_t max_message, size_t max_piece,
                       uint32_t seed, struct fuzz_trace *t) {
  struct ws_parser p;
  size_t off = 0;
  uint32_t x = seed;

  memset(t, 0, sizeof(*t));
  t->hash = 0xCBF29CE484222325ULL;
  ws_parser_init(&p, max_message);
  while (off < len) {
    size_t n = len - off;

    if (max_piece) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      if (n > 1 + x % max_piece)
        n = 1 + x % max_piece;
    }
    if (fuzz_piece(&p, t, d + off, n) < 0)
      break;
    off += n;
  }
  FUZZ_CHECK(p.msg_cap <= max_message);
  ws_parser_free(&p);
}

/* utf8: whole buffer vs byte at a time. */
static void fuzz_utf8(const uint8_t *d, size_t len) {
  struct utf8_state s;
  size_t i, chars = 0;
  int whole = utf8_valid(d, len, &chars), bytes = 0;

  utf8_init(&s);
  for (i = 0; i < len && bytes == 0; i++)
    bytes = utf8_feed(&s, d + i, 1);
  if (bytes < 0) /* a rejected byte stays rejected */
    FUZZ_CHECK(utf8_feed(&s, d, len) < 0 && utf8_finish(&s) < 0);
  else
    bytes = utf8_finish(&s);
  FUZZ_CHECK(whole == bytes);
  if (whole == 0)
    FUZZ_CHECK(chars <= len);
}

/* The key is a request header value; the reason is text the server sends. */
static void fuzz_handshake_and_close(const uint8_t *d, size_t len) {
  char out[29], reason[160];
  uint8_t pl[125];
  size_t n = len < 24 ? len : 24, r;

  if (ws_accept_key((const char *)d, n, out) == 0) {
    FUZZ_CHECK(n == 24 && out[28] == '\0' && strlen(out) == 28);
  }
  r = len < sizeof(reason) - 1 ? len : sizeof(reason) - 1;
  memcpy(reason, d, r);
  reason[r] = '\0';
  n = ws_close_payload(pl, 1000, reason);
  FUZZ_CHECK(n >= 2 && n <= 125 && pl[0] == 0x03 && pl[1] == 0xE8);
  if (utf8_valid((const uint8_t *)reason, strlen(reason), NULL) == 0)
    FUZZ_CHECK(utf8_valid(pl + 2, n - 2, NULL) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const size_t caps[4] = {16, 125, 1024, 1 << 20};
  struct fuzz_trace whole, pieces;
  size_t max_message, max_piece;

  if (size < 2)
    return 0;
  max_message = caps[data[0] & 3];
  max_piece = (data[0] >> 2) == 63 ? 0 : 1 + (data[0] >> 2);
  fuzz_parse(data + 2, size - 2, max_message, 0, 0, &whole);
  fuzz_parse(data + 2, size - 2, max_message, max_piece, 0x9E3779B9u ^ data[1], &pieces);
  FUZZ_CHECK(whole.events == pieces.events);
  FUZZ_CHECK(whole.hash == pieces.hash);
  FUZZ_CHECK(whole.err == pieces.err);
  fuzz_utf8(data + 2, size - 2);
  fuzz_handshake_and_close(data + 2, size - 2);
  return 0;
}
