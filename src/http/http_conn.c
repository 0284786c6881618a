#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"
#include "util/buf.h"
#include "util/log.h"

/* Offsets into raw (raw may move while it grows). */
struct http_slice {
  size_t off, len;
};

struct http_conn {
  http_parser parser;
  http_request_cb cb;
  struct buf in;   /* bytes read but not yet parsed */
  struct buf raw;  /* url and header text of the current request */
  struct buf body; /* body of the current request */
  struct http_slice url;
  struct http_slice names[HTTP_MAX_HEADERS], values[HTTP_MAX_HEADERS];
  size_t nheaders;
  int last_was_value;
  int content_lengths;  /* Content-Length headers seen */
  int transfer_encoding;
  int head_checked;     /* the header block passed the byte-level checks */
  int busy;             /* a request is with the application */
  int driving;          /* inside http_drive() */
  int keep_alive;
  struct http_req req;
  char path[1024];
  char query[1024];
};

static const char security_headers[] =
    "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: same-origin\r\n"
    "X-Frame-Options: DENY\r\n";

static void http_drive(struct conn *c);
static void http_fail(struct conn *c, int status, const char *msg);

const char *http_status_text(int status) {
  switch (status) {
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 204: return "No Content";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 409: return "Conflict";
  case 413: return "Payload Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 426: return "Upgrade Required";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 503: return "Service Unavailable";
  default: return "Unknown";
  }
}

static struct conn *parser_conn(http_parser *p) { return p->data; }
static struct http_conn *parser_http(http_parser *p) { return parser_conn(p)->proto; }

static int on_message_begin(http_parser *p) {
  struct http_conn *h = parser_http(p);
  buf_reset(&h->raw);
  buf_reset(&h->body);
  h->url.off = h->url.len = 0;
  h->nheaders = 0;
  h->last_was_value = 0;
  h->content_lengths = 0;
  h->transfer_encoding = 0;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  struct http_conn *h = parser_http(p);
  if (h->url.len == 0)
    h->url.off = h->raw.len;
  h->url.len += len;
  return buf_append(&h->raw, at, len) < 0 ? -1 : 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  struct http_conn *h = parser_http(p);
  if (h->nheaders == 0 || h->last_was_value) {
    if (h->nheaders == HTTP_MAX_HEADERS)
      return -1;
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
  struct http_conn *h = parser_http(p);
  if (h->nheaders == 0)
    return -1;
  if (!h->last_was_value) {
    h->values[h->nheaders - 1].off = h->raw.len;
    h->last_was_value = 1;
  }
  h->values[h->nheaders - 1].len += len;
  return buf_append(&h->raw, at, len) < 0 ? -1 : 0;
}

static int slice_is(const struct http_conn *h, struct http_slice s, const char *name) {
  return s.len == strlen(name) && strncasecmp((const char *)h->raw.data + s.off, name, s.len) == 0;
}

static int on_headers_complete(http_parser *p) {
  struct http_conn *h = parser_http(p);
  for (size_t i = 0; i < h->nheaders; i++) {
    if (slice_is(h, h->names[i], "content-length"))
      h->content_lengths++;
    else if (slice_is(h, h->names[i], "transfer-encoding"))
      h->transfer_encoding = 1;
  }
  /* Request smuggling guards (RFC 9112 section 6.3). */
  if (h->content_lengths > 1 || (h->content_lengths && h->transfer_encoding))
    return -1;
  if (h->content_lengths && p->content_length > HTTP_MAX_BODY) {
    h->body.len = HTTP_MAX_BODY + 1; /* remembered as "too large" */
    return -1;
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  struct http_conn *h = parser_http(p);
  if (buf_append(&h->body, at, len) < 0) {
    h->body.len = HTTP_MAX_BODY + 1;
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

/* Checks the header block at the start of h->in, before the parser sees it:
 * no bare LF, no NUL, and a size cap. Returns 1 when the whole block is there
 * and clean, 0 when more bytes are needed, or an HTTP status to fail with. */
static int http_head_check(struct http_conn *h) {
  const uint8_t *d = h->in.data;
  size_t n = h->in.len;
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
static int http_req_build(struct conn *c, struct http_conn *h) {
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
  }
  r->nheaders = h->nheaders;
  r->body = h->body.data;
  r->body_len = h->body.len;
  r->upgrade = h->parser.upgrade;
  r->keep_alive = http_should_keep_alive(&h->parser);
  h->keep_alive = r->keep_alive;
  return 0;
}

static void http_dispatch(struct conn *c, struct http_conn *h) {
  int status = http_req_build(c, h);
  if (status) {
    http_fail(c, status, "malformed request");
    return;
  }
  h->busy = 1;
  h->head_checked = 0;
  conn_read_stop(c);
  h->cb(c, &h->req);
}

static void http_drive(struct conn *c) {
  struct http_conn *h = c->proto;
  h->driving = 1;
  while (!c->closing && !h->busy && h->in.len > 0 && c->proto == h) {
    if (!h->head_checked) {
      int rc = http_head_check(h);
      if (rc == 0)
        break;
      if (rc != 1) {
        http_fail(c, rc, rc == 431 ? "request headers too large" : "malformed request");
        break;
      }
      h->head_checked = 1;
    }
    size_t n = http_parser_execute(&h->parser, &parser_settings, (const char *)h->in.data,
                                   h->in.len);
    enum http_errno err = HTTP_PARSER_ERRNO(&h->parser);
    buf_consume(&h->in, n);
    if (err == HPE_PAUSED) {
      http_parser_pause(&h->parser, 0);
      http_dispatch(c, h);
      continue;
    }
    if (err != HPE_OK) {
      int status = h->body.len > HTTP_MAX_BODY ? 413 : 400;
      if (h->nheaders == HTTP_MAX_HEADERS)
        status = 431;
      log_debug("conn %llu: http error %s", (unsigned long long)c->id, http_errno_name(err));
      http_fail(c, status, status == 413 ? "request body too large" : "malformed request");
      break;
    }
    if (n == 0)
      break;
  }
  h->driving = 0;
  if (!c->closing && !h->busy && c->proto == h)
    conn_read_start(c);
}

static void http_on_data(struct conn *c, const uint8_t *data, size_t len) {
  struct http_conn *h = c->proto;
  /* The unparsed backlog is bounded: one header block plus one body. */
  if (buf_append(&h->in, data, len) < 0) {
    http_fail(c, h->head_checked ? 413 : 431, "request too large");
    return;
  }
  if (!h->busy)
    http_drive(c);
}

static void http_on_free(struct conn *c) {
  struct http_conn *h = c->proto;
  if (h == NULL)
    return;
  buf_free(&h->in);
  buf_free(&h->raw);
  buf_free(&h->body);
  free(h);
  c->proto = NULL;
}

static const struct conn_ops http_ops = {
    .on_data = http_on_data,
    .on_close = NULL,
    .on_free = http_on_free,
};

int http_conn_bind(struct conn *c, http_request_cb cb) {
  struct http_conn *h = calloc(1, sizeof(*h));
  if (h == NULL)
    return -ENOMEM;
  http_parser_init(&h->parser, HTTP_REQUEST);
  h->parser.data = c;
  h->cb = cb;
  buf_init(&h->in, HTTP_MAX_HEADER_BYTES + HTTP_MAX_BODY + 1024);
  buf_init(&h->raw, HTTP_MAX_HEADER_BYTES);
  buf_init(&h->body, HTTP_MAX_BODY);
  c->proto = h;
  c->ops = &http_ops;
  return 0;
}

static void http_fail(struct conn *c, int status, const char *msg) {
  struct http_conn *h = c->proto;
  h->busy = 1;
  h->keep_alive = 0;
  http_respond_error(c, status, "bad_request", msg);
}

void http_respond(struct conn *c, int status, const char *content_type, const char *extra,
                  const void *body, size_t len) {
  struct http_conn *h = c->proto;
  if (c->closing)
    return;
  char head[2048];
  int n = snprintf(head, sizeof(head),
                   "HTTP/1.1 %d %s\r\n%s%s%s%sContent-Length: %zu\r\n%s%s\r\n", status,
                   http_status_text(status), security_headers,
                   content_type ? "Content-Type: " : "", content_type ? content_type : "",
                   content_type ? "\r\n" : "", len, extra ? extra : "",
                   h->keep_alive ? "" : "Connection: close\r\n");
  if (n < 0 || (size_t)n >= sizeof(head)) {
    conn_close_soon(c);
    return;
  }
  struct sbuf *b = sbuf_new((size_t)n + len);
  if (b == NULL) {
    conn_close_soon(c);
    return;
  }
  memcpy(b->data, head, (size_t)n);
  if (len)
    memcpy(b->data + n, body, len);
  conn_write(c, b);
  sbuf_unref(b);
  if (!h->keep_alive) {
    conn_close_after_flush(c);
    return;
  }
  h->busy = 0;
  if (!h->driving)
    http_drive(c);
}

void http_respond_error(struct conn *c, int status, const char *code, const char *msg) {
  char body[512];
  /* code and msg are the server's own constants: no escaping needed. */
  int n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"message\":\"%s\"}", code, msg);
  http_respond(c, status, "application/json", NULL, body, (size_t)n);
}

int http_upgrade_take(struct conn *c, uint8_t **rest, size_t *rest_len) {
  struct http_conn *h = c->proto;
  *rest = NULL;
  *rest_len = h->in.len;
  if (h->in.len) {
    *rest = malloc(h->in.len);
    if (*rest == NULL)
      return -ENOMEM;
    memcpy(*rest, h->in.data, h->in.len);
  }
  http_on_free(c);
  c->ops = NULL;
  return 0;
}

const char *http_req_header(const struct http_req *req, const char *name, size_t *len) {
  size_t nl = strlen(name);
  for (size_t i = 0; i < req->nheaders; i++) {
    const struct http_header *hd = &req->headers[i];
    if (hd->name_len == nl && strncasecmp(hd->name, name, nl) == 0) {
      if (len)
        *len = hd->value_len;
      return hd->value;
    }
  }
  return NULL;
}

int http_req_cookie(const struct http_req *req, const char *name, char *out, size_t out_size) {
  size_t vlen, nl = strlen(name);
  const char *v = http_req_header(req, "cookie", &vlen);
  if (v == NULL)
    return -ENOENT;
  const char *end = v + vlen;
  while (v < end) {
    while (v < end && (*v == ' ' || *v == ';'))
      v++;
    const char *semi = memchr(v, ';', (size_t)(end - v));
    const char *stop = semi ? semi : end;
    if ((size_t)(stop - v) > nl && memcmp(v, name, nl) == 0 && v[nl] == '=') {
      size_t n = (size_t)(stop - v) - nl - 1;
      if (n + 1 > out_size)
        return -ENOBUFS;
      memcpy(out, v + nl + 1, n);
      out[n] = 0;
      return (int)n;
    }
    v = stop;
  }
  return -ENOENT;
}
