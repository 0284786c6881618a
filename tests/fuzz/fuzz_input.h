/* A fuzz target's input read as a stream of operands: past its end every
 * read gives 0, so any input is a whole program. */
#ifndef ONAIR_FUZZ_INPUT_H
#define ONAIR_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

struct fuzz_in {
  const uint8_t *d;
  size_t n;
};

static inline uint8_t fuzz_byte(struct fuzz_in *in) {
  uint8_t b = 0;

  if (in->n) {
    b = in->d[0];
    in->d++;
    in->n--;
  }
  return b;
}

/* Two bytes, big-endian (read in order: the operands of | are not). */
static inline uint16_t fuzz_u16(struct fuzz_in *in) {
  uint16_t hi = fuzz_byte(in);

  return (uint16_t)(hi << 8 | fuzz_byte(in));
}

#endif
