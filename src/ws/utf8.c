/* Incremental UTF-8 validation (RFC 3629, Unicode table 3-7).
 *
 * The validator fails fast: a byte is rejected as soon as no continuation of
 * the sequence could be valid, not only when the sequence ends. After each
 * byte of a multi-byte sequence the code points still reachable form the range
 * [cp << 6*need, (cp << 6*need) | (2^(6*need) - 1)]; the byte is bad when that
 * whole range is overlong (below s->min), above U+10FFFF, or inside the
 * surrogates U+D800..U+DFFF. So "E0 80", "ED A0" and "F4 90" fail on their
 * second byte, and C0, C1 and F5..FF fail on their first. */
#include "ws/utf8.h"

#include <assert.h>

/* s->need takes this value after an error so that the state stays bad. */
#define UTF8_FAILED UINT32_MAX

void utf8_init(struct utf8_state *s) {
  s->need = 0;
  s->cp = 0;
  s->min = 0;
}

/* Returns 0 when some completion of the open sequence is a valid scalar. */
static int utf8_range_ok(const struct utf8_state *s) {
  uint32_t shift = 6 * s->need;
  uint32_t lo = s->cp << shift;
  uint32_t hi = lo | ((1u << shift) - 1);

  assert(s->need <= 3);
  if (hi < s->min || lo > 0x10FFFF)
    return -1;
  if (lo >= 0xD800 && hi <= 0xDFFF)
    return -1;
  return 0;
}

/* Starts a multi-byte sequence at lead byte b (not ASCII). Returns 0, or -1
 * for a byte that can never start a sequence. */
static int utf8_lead(struct utf8_state *s, uint8_t b) {
  assert(b >= 0x80);
  if (b >= 0xC0 && b <= 0xDF) {
    s->need = 1;
    s->cp = b & 0x1Fu;
    s->min = 0x80;
  } else if (b >= 0xE0 && b <= 0xEF) {
    s->need = 2;
    s->cp = b & 0x0Fu;
    s->min = 0x800;
  } else if (b >= 0xF0 && b <= 0xF7) {
    s->need = 3;
    s->cp = b & 0x07u;
    s->min = 0x10000;
  } else {
    return -1; /* a continuation byte, or F8..FF */
  }
  return utf8_range_ok(s);
}

int utf8_feed(struct utf8_state *s, const uint8_t *data, size_t len) {
  size_t i;

  if (s->need == UTF8_FAILED)
    return -1;
  for (i = 0; i < len; i++) {
    uint8_t b = data[i];

    if (s->need == 0) {
      if (b >= 0x80 && utf8_lead(s, b) < 0)
        goto out_fail;
      continue;
    }
    if ((b & 0xC0) != 0x80)
      goto out_fail;
    s->cp = (s->cp << 6) | (b & 0x3Fu);
    s->need--;
    if (utf8_range_ok(s) < 0)
      goto out_fail;
  }
  return 0;

out_fail:
  s->need = UTF8_FAILED;
  return -1;
}

int utf8_finish(const struct utf8_state *s) { return s->need == 0 ? 0 : -1; }

int utf8_valid(const uint8_t *data, size_t len, size_t *chars) {
  struct utf8_state s;
  size_t i, n = 0;

  utf8_init(&s);
  if (utf8_feed(&s, data, len) < 0 || utf8_finish(&s) < 0)
    return -1;
  if (chars) {
    /* Valid UTF-8: every byte that is not a continuation starts a char. */
    for (i = 0; i < len; i++)
      n += (data[i] & 0xC0) != 0x80;
    *chars = n;
  }
  return 0;
}
