/* Incremental UTF-8 validation (RFC 3629): rejects overlong forms,
 * surrogates, code points above U+10FFFF, and bad continuation bytes. */
#ifndef ONAIR_UTF8_H
#define ONAIR_UTF8_H

#include <stddef.h>
#include <stdint.h>

struct utf8_state {
  uint32_t need; /* continuation bytes still expected */
  uint32_t cp;   /* code point so far */
  uint32_t min;  /* smallest code point the sequence may encode */
};

void utf8_init(struct utf8_state *s);
/* Returns 0 if data so far can still be valid UTF-8, -1 at the first bad byte
 * (the first byte no valid sequence can continue with). Sticky: once it has
 * returned -1, utf8_feed and utf8_finish keep returning -1. */
int utf8_feed(struct utf8_state *s, const uint8_t *data, size_t len);
/* Returns 0 if no sequence is left open, -1 otherwise. */
int utf8_finish(const struct utf8_state *s);
/* Whole-buffer check; also counts code points into *chars when not NULL. */
int utf8_valid(const uint8_t *data, size_t len, size_t *chars);

#endif
