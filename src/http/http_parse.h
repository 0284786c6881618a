/* The HTTP/1.1 request parser: http-parser plus the strict checks it lacks.
 * Pure (no I/O), resumable, and fuzzed. Before a request's header block
 * reaches http-parser it must be whole and clean: CRLF line ends only (a bare
 * LF is refused), no NUL, at most HTTP_MAX_HEADER_BYTES. Then: at most
 * HTTP_MAX_HEADERS headers, no Transfer-Encoding together with
 * Content-Length, one Content-Length at most, a body of at most
 * HTTP_MAX_BODY bytes. */
#ifndef ONAIR_HTTP_PARSE_H
#define ONAIR_HTTP_PARSE_H

#include <http_parser.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "util/buf.h"

enum http_parse_result {
  HTTP_PARSE_AGAIN = 0,   /* need more bytes (see http_parse_feed) */
  HTTP_PARSE_REQUEST = 1, /* p->req holds a whole request */
  HTTP_PARSE_ERROR = -1,  /* *status holds the status to answer; close after */
};

struct http_slice {
  size_t off, len; /* into raw, which may move while it grows */
};

struct http_parse {
  http_parser parser;
  struct buf raw;  /* url and header text of the current request */
  struct buf body; /* body of the current request */
  struct http_slice url;
  struct http_slice names[HTTP_MAX_HEADERS], values[HTTP_MAX_HEADERS];
  size_t nheaders;
  int last_was_value;
  int too_many_headers;
  int body_too_large;
  int bad_version;      /* not HTTP/1.0 or 1.1: 505 */
  int head_checked;     /* the current header block passed the byte checks */
  int head_done;        /* the current request's head is complete */
  size_t body_expected; /* bytes of its body (chunked: the cap), once head_done */
  struct http_req req;
  char path[1024];
  char query[1024];
};

void http_parse_init(struct http_parse *p);
void http_parse_free(struct http_parse *p);

/* Parses data[0..len), which must start where the previous call stopped
 * using bytes. Sets *used to the bytes consumed. AGAIN may consume nothing
 * while a header block is incomplete: keep the bytes and call again with
 * more appended. After REQUEST, p->req is valid until the next call; the
 * bytes after *used belong to the next request (or, if p->req.upgrade, to
 * the new protocol). */
int http_parse_feed(struct http_parse *p, const uint8_t *data, size_t len, size_t *used,
                    int *status);

#endif
