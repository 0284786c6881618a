/* Chat rules: what a message may contain and how often a user may post. */
#ifndef ONAIR_CHAT_H
#define ONAIR_CHAT_H

#include <stddef.h>
#include <stdint.h>

#define CHAT_MAX_CHARS 500 /* code points */
#define CHAT_HISTORY 50    /* messages shown on join */

/* Checks a message's text (already valid UTF-8). Returns 0, -ENODATA when it
 * is empty or only white space, -E2BIG above max_chars code points, -EINVAL
 * for control characters other than tab and newline. */
int chat_text_check(const char *text, size_t len, size_t max_chars);

/* A token bucket: `burst` messages at once, refilled at `per_sec`. */
struct chat_bucket {
  double tokens;
  uint64_t last_ms;
  int primed;
};

/* Takes one token; returns 0, or -EAGAIN when the user must wait. */
int chat_bucket_take(struct chat_bucket *b, unsigned burst, double per_sec, uint64_t now_ms);

#endif
