/* Fuzzes the HTTP request parser (src/http/http_parse.c): the input is fed
 * in pieces whose sizes come from its first bytes, the way reads arrive, and
 * every request it yields is checked for internal consistency. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  size_t step = (size_t)data[0] % 64 + 1;
  data++;
  size--;
  struct http_parse p;
  http_parse_init(&p);
  /* The connection's input buffer: bytes arrive step by step. */
  uint8_t *in = malloc(size);
  size_t in_len = 0, fed = 0;
  while (fed < size) {
    size_t n = size - fed < step ? size - fed : step;
    memcpy(in + in_len, data + fed, n);
    in_len += n;
    fed += n;
    for (;;) {
      size_t used;
      int status = 0;
      int rc = http_parse_feed(&p, in, in_len, &used, &status);
      assert(used <= in_len);
      memmove(in, in + used, in_len - used);
      in_len -= used;
      if (rc == HTTP_PARSE_ERROR) {
        assert(status >= 400 && status < 600);
        goto out;
      }
      if (rc == HTTP_PARSE_AGAIN)
        break;
      const struct http_req *r = &p.req;
      assert(r->path_len == strlen(r->path));
      assert(r->nheaders <= HTTP_MAX_HEADERS);
      assert(r->body_len <= HTTP_MAX_BODY);
      for (size_t i = 0; i < r->nheaders; i++)
        assert(r->headers[i].name_len > 0);
      if (r->upgrade)
        goto out;
    }
  }
out:
  free(in);
  http_parse_free(&p);
  return 0;
}
