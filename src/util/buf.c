#include "util/buf.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max;
}

void buf_free(struct buf *b) {
  free(b->data);
  buf_init(b, b->max);
}

static int buf_reserve(struct buf *b, size_t need) {
  if (need <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap *= 2;
  if (cap > b->max + 1)
    cap = b->max + 1; /* room for a terminating NUL */
  uint8_t *p = realloc(b->data, cap);
  if (p == NULL)
    return -ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int buf_append(struct buf *b, const void *data, size_t n) {
  if (n > b->max - b->len)
    return -ENOBUFS;
  int rc = buf_reserve(b, b->len + n);
  if (rc < 0)
    return rc;
  if (n)
    memcpy(b->data + b->len, data, n);
  b->len += n;
  return 0;
}

int buf_terminate(struct buf *b) {
  int rc = buf_reserve(b, b->len + 1);
  if (rc < 0)
    return rc;
  b->data[b->len] = 0;
  return 0;
}

void buf_consume(struct buf *b, size_t n) {
  assert(n <= b->len);
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

void buf_reset(struct buf *b) { b->len = 0; }
