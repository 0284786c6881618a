#include "http/http_parse.h"

#include <string.h>
#include <strings.h>

static struct http_parse *parser_http(http_parser *p) { return p->data; }

static int on_message_begin(http_parser *p) {
  struct http_parse *h = parser_http(p);
  buf_reset(&h->raw);
  buf_reset(&h->body);
  h->url.off = h->url.len = 0;
  h->nheaders = 0;
  h->last_was_value = 0;
  h->too_many_headers = 0;
  h->body_too_large = 0;
  h->bad_version = 0;
  h->head_done = 0;
  h->body_expected = 0;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  struct http_parse *h = parser_http(p);
  if (h->url.len == 0)
    h->url.off = h->raw.len;
  h->url.len += len;
  return buf_append(&h->raw, at, len) < 0 ? -1 : 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  struct http_parse *h = parser_http(p);
  if (h->nheaders == 0 || h->last_was_value) {
    if (h->nheaders == HTTP_MAX_HEADERS) {
      h->too_many_headers = 1;
      return -1;
    }
    h->names[h->nheaders].off = h->raw.len;
    h->names[h->nheaders].len = 0;
    h->values[h->nheaders].off = h->raw.len;
    h->values[h->nheaders].len = 0;
    h->nheaders++;
    h->last_was_value = 0;
  }
  h->names[h->nheaders - 1].len += len;
  return buf_append(&h->raw, at, len) < 0 ? -1 : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  struct http_parse *h = parser_http(p);
  if (h->nheaders == 0)
    return -1;
  if (!h->last_was_value) {
    h->values[h->nheaders - 1].off = h->raw.len;
    h->last_was_value = 1;
  }
  h->values[h->nheaders - 1].len += len;
  return buf_append(&h->raw, at, len) < 0 ? -1 : 0;
}

static int slice_is(const struct http_parse *h, struct http_slice s, const char *name) {
  return s.len == strlen(name) && strncasecmp((const char *)h->raw.data + s.off, name, s.len) == 0;
}

/* RFC 9110 section 5.6.2: a field name is a token. */
static int is_token(const uint8_t *s, size_t len) {
  static const char extra[] = "!#$%&'*+-.^_`|~";
  if (len == 0)
    return 0;
  for (size_t i = 0; i < len; i++) {
    uint8_t ch = s[i];
    int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             (ch && strchr(extra, ch) != NULL);
    if (!ok)
      return 0;
  }
  return 1;
}

static int on_headers_complete(http_parser *p) {
  struct http_parse *h = parser_http(p);
  int content_lengths = 0, transfer_encoding = 0, hosts = 0;
  if (p->http_major != 1 || p->http_minor > 1) {
    h->bad_version = 1;
    return -1;
  }
  for (size_t i = 0; i < h->nheaders; i++) {
    if (!is_token(h->raw.data + h->names[i].off, h->names[i].len))
      return -1;
    if (slice_is(h, h->names[i], "content-length"))
      content_lengths++;
    else if (slice_is(h, h->names[i], "transfer-encoding"))
      transfer_encoding = 1;
    else if (slice_is(h, h->names[i], "host"))
      hosts++;
  }
  /* RFC 9112 section 3.2: HTTP/1.1 requests carry exactly one Host. */
  if (hosts > 1 || (hosts == 0 && p->http_minor == 1))
    return -1;
  /* Request smuggling guards (RFC 9112 section 6.3). */
  if (content_lengths > 1 || (content_lengths && transfer_encoding))
    return -1;
  if (content_lengths && p->content_length > HTTP_MAX_BODY) {
    h->body_too_large = 1;
    return -1;
  }
  h->head_done = 1;
  h->body_expected = content_lengths     ? (size_t)p->content_length
                     : transfer_encoding ? HTTP_MAX_BODY
                                         : 0;
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  struct http_parse *h = parser_http(p);
  if (buf_append(&h->body, at, len) < 0) {
    h->body_too_large = 1;
    return -1;
  }
  return 0;
}

static int on_message_complete(http_parser *p) {
  http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Checks the header block at the start of d, before the parser sees it:
 * no bare LF, no NUL, and a size cap. Returns 1 when the whole block is there
 * and clean, 0 when more bytes are needed, or an HTTP status to fail with. */
static int http_head_check(const uint8_t *d, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (d[i] == 0)
      return 400;
    if (d[i] == '\n') {
      if (i == 0 || d[i - 1] != '\r')
        return 400;
      if (i >= 3 && d[i - 2] == '\n' && d[i - 3] == '\r')
        return i + 1 > HTTP_MAX_HEADER_BYTES ? 431 : 1;
    }
    if (i + 1 > HTTP_MAX_HEADER_BYTES)
      return 431;
  }
  return 0;
}

/* Turns the slices of the finished request into h->req. */
static int http_req_build(struct http_parse *h) {
  struct http_req *r = &h->req;
  memset(r, 0, sizeof(*r));
  if (buf_terminate(&h->raw) < 0)
    return 500;
  const char *raw = (const char *)h->raw.data;
  struct http_parser_url u;
  http_parser_url_init(&u);
  if (h->url.len == 0 || http_parser_parse_url(raw + h->url.off, h->url.len, 0, &u) != 0)
    return 400;
  if (!(u.field_set & (1 << UF_PATH)))
    return 400;
  size_t plen = u.field_data[UF_PATH].len;
  if (plen >= sizeof(h->path))
    return 414;
  memcpy(h->path, raw + h->url.off + u.field_data[UF_PATH].off, plen);
  h->path[plen] = 0;
  h->query[0] = 0;
  if (u.field_set & (1 << UF_QUERY)) {
    size_t qlen = u.field_data[UF_QUERY].len;
    if (qlen >= sizeof(h->query))
      return 414;
    memcpy(h->query, raw + h->url.off + u.field_data[UF_QUERY].off, qlen);
    h->query[qlen] = 0;
  }
  r->method = h->parser.method;
  r->path = h->path;
  r->path_len = plen;
  r->query = h->query;
  for (size_t i = 0; i < h->nheaders; i++) {
    r->headers[i].name = raw + h->names[i].off;
    r->headers[i].name_len = h->names[i].len;
    r->headers[i].value = raw + h->values[i].off;
    r->headers[i].value_len = h->values[i].len;
    /* RFC 9110 5.5: surrounding white space is not part of the value. */
    while (r->headers[i].value_len && (r->headers[i].value[r->headers[i].value_len - 1] == ' ' ||
                                       r->headers[i].value[r->headers[i].value_len - 1] == '\t'))
      r->headers[i].value_len--;
  }
  r->nheaders = h->nheaders;
  r->body = h->body.data;
  r->body_len = h->body.len;
  r->upgrade = h->parser.upgrade;
  r->keep_alive = http_should_keep_alive(&h->parser);
  return 0;
}

void http_parse_init(struct http_parse *h) {
  memset(h, 0, sizeof(*h));
  http_parser_init(&h->parser, HTTP_REQUEST);
  h->parser.data = h;
  buf_init(&h->raw, HTTP_MAX_HEADER_BYTES);
  buf_init(&h->body, HTTP_MAX_BODY);
}

void http_parse_free(struct http_parse *h) {
  buf_free(&h->raw);
  buf_free(&h->body);
}

int http_parse_feed(struct http_parse *h, const uint8_t *data, size_t len, size_t *used,
                    int *status) {
  *used = 0;
  if (len == 0)
    return HTTP_PARSE_AGAIN;
  if (!h->head_checked) {
    int rc = http_head_check(data, len);
    if (rc == 0)
      return HTTP_PARSE_AGAIN;
    if (rc != 1) {
      *status = rc;
      return HTTP_PARSE_ERROR;
    }
    h->head_checked = 1;
  }
  size_t n = http_parser_execute(&h->parser, &parser_settings, (const char *)data, len);
  enum http_errno err = HTTP_PARSER_ERRNO(&h->parser);
  *used = n;
  if (err == HPE_PAUSED) {
    http_parser_pause(&h->parser, 0);
    h->head_checked = 0;
    *status = http_req_build(h);
    return *status ? HTTP_PARSE_ERROR : HTTP_PARSE_REQUEST;
  }
  if (err != HPE_OK) {
    *status = h->body_too_large ? 413 : h->too_many_headers ? 431 : h->bad_version ? 505 : 400;
    return HTTP_PARSE_ERROR;
  }
  return HTTP_PARSE_AGAIN;
}
