/* Counters that one thread writes and others read (a worker's, read for
 * /metrics): the writer, alone, stores the new sum with a relaxed atomic
 * store (no lock prefix); readers load each counter relaxed. */
#ifndef ONAIR_COUNTER_H
#define ONAIR_COUNTER_H

#include <stddef.h>
#include <stdint.h>

#define COUNTER_ADD(c, n) __atomic_store_n(&(c), (c) + (n), __ATOMIC_RELAXED)

/* Copies a struct of n uint64_t counters written by another thread. */
static inline void counters_read(void *dst, const void *src, size_t n) {
  const uint64_t *in = src;
  uint64_t *out = dst;
  for (size_t i = 0; i < n; i++)
    out[i] = __atomic_load_n(&in[i], __ATOMIC_RELAXED);
}

#endif
