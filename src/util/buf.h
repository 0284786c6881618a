/* A growable byte buffer with a hard cap fixed when it is created. */
#ifndef ONAIR_BUF_H
#define ONAIR_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
  uint8_t *data;
  size_t len; /* bytes in use */
  size_t cap; /* bytes allocated */
  size_t max; /* bytes; appends beyond this fail with -ENOBUFS */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
/* Appends n bytes; returns 0, -ENOBUFS past the cap, or -ENOMEM. */
int buf_append(struct buf *b, const void *data, size_t n);
/* Appends a NUL that is not counted in len (for C-string views). */
int buf_terminate(struct buf *b);
/* Drops the first n bytes. */
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);

#endif
