#include "app/chat.h"

#include <errno.h>

#include "ws/utf8.h"

int chat_text_check(const char *text, size_t len, size_t max_chars) {
  size_t chars = 0;
  int visible = 0;
  const uint8_t *p = (const uint8_t *)text;
  if (utf8_valid(p, len, &chars) < 0)
    return -EINVAL;
  for (size_t i = 0; i < len; i++) {
    if (p[i] < 0x20 && p[i] != '\n' && p[i] != '\t')
      return -EINVAL;
    if (p[i] == 0x7f)
      return -EINVAL;
    if (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
      return -EINVAL; /* C1 controls U+0080-U+009F */
    if (p[i] != ' ' && p[i] != '\n' && p[i] != '\t')
      visible = 1;
  }
  if (!visible)
    return -ENODATA;
  if (chars > max_chars)
    return -E2BIG;
  return 0;
}

int chat_bucket_take(struct chat_bucket *b, unsigned burst, double per_sec, uint64_t now_ms) {
  if (!b->primed) {
    b->tokens = burst;
    b->last_ms = now_ms;
    b->primed = 1;
  }
  if (now_ms > b->last_ms) {
    b->tokens += (double)(now_ms - b->last_ms) * per_sec / 1000.0;
    if (b->tokens > burst)
      b->tokens = burst;
    b->last_ms = now_ms;
  }
  if (b->tokens < 1.0)
    return -EAGAIN;
  b->tokens -= 1.0;
  return 0;
}
