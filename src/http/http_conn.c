#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"
#include "http/http_parse.h"
#include "util/buf.h"
#include "util/container_of.h"
#include "util/log.h"

/* Backlog of unparsed bytes: one header block plus one read (reading stops
 * while a request is with the application). */
#define HTTP_IN_MAX (HTTP_MAX_HEADER_BYTES + CONN_READ_BUF + 1024)
#define HTTP_SWEEP_MS 1000      /* how often slow and idle connections are looked for */
#define HTTP_MIN_BODY_RATE 1024 /* bytes per second a body must at least come at */

struct http_conn {
  struct http_parse parse;
  struct http_server *srv;
  struct conn *conn;
  struct buf in; /* bytes read but not yet parsed */
  int busy;      /* a request is with the application */
  int driving;   /* inside http_drive() */
  int keep_alive;
  uint64_t idle_since;           /* uv_now() of the connection's start or its last response */
  uint64_t req_started;          /* uv_now() of the first byte of the request being read; 0: none */
  struct http_conn *prev, *next; /* every HTTP connection, for the idle sweep */
};

/* The CSP around connect-src's sources, which are 'self' and the server's
 * connect_src. */
static const char csp_head[] =
    "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; media-src 'self' blob:; connect-src 'self'";
static const char security_headers[] =
    "; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: same-origin\r\n"
    "X-Frame-Options: DENY\r\n";

static void http_fail(struct conn *c, int status, const char *msg);

const char *http_status_text(int status) {
  switch (status) {
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 204: return "No Content";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 412: return "Precondition Failed";
  case 413: return "Payload Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 426: return "Upgrade Required";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 503: return "Service Unavailable";
  case 505: return "HTTP Version Not Supported";
  default: return "Unknown";
  }
}

/* The last header named name (proxies append), or NULL. */
static const struct http_header *last_header(const struct http_req *req, const char *name) {
  const struct http_header *found = NULL;
  size_t nl = strlen(name);
  for (size_t i = 0; i < req->nheaders; i++) {
    const struct http_header *hd = &req->headers[i];
    if (hd->name_len == nl && strncasecmp(hd->name, name, nl) == 0)
      found = hd;
  }
  return found;
}

/* Who sent req, and over what. From a trusted proxy, X-Forwarded-For is read
 * from the right: each hop that is itself a trusted proxy is skipped, and the
 * first that is not is the client (a client can put anything on the left). */
static void http_req_origin(const struct http_server *s, const struct conn *c,
                            struct http_req *req) {
  snprintf(req->client_ip, sizeof(req->client_ip), "%s", c->peer_ip);
  req->tls = c->tls != NULL;
  if (s->proxies == NULL || !ipset_contains(s->proxies, c->peer_ip))
    return;
  const struct http_header *proto = last_header(req, "x-forwarded-proto");
  if (proto)
    req->tls = proto->value_len == 5 && strncasecmp(proto->value, "https", 5) == 0;
  const struct http_header *xff = last_header(req, "x-forwarded-for");
  size_t end = xff ? xff->value_len : 0;
  while (end > 0) {
    size_t start = end;
    while (start > 0 && xff->value[start - 1] != ',')
      start--;
    char hop[sizeof(req->client_ip)];
    size_t a = start, b = end;
    while (a < b && (xff->value[a] == ' ' || xff->value[a] == '\t'))
      a++;
    while (b > a && (xff->value[b - 1] == ' ' || xff->value[b - 1] == '\t'))
      b--;
    if (b - a == 0 || b - a >= sizeof(hop))
      return;
    memcpy(hop, xff->value + a, b - a);
    hop[b - a] = 0;
    if (!ipset_valid_ip(hop))
      return; /* not an address: believe nothing further left */
    snprintf(req->client_ip, sizeof(req->client_ip), "%s", hop);
    if (!ipset_contains(s->proxies, hop))
      return;
    end = start > 0 ? start - 1 : 0;
  }
}

static void http_drive(struct conn *c) {
  struct http_conn *h = c->proto;
  h->driving = 1;
  while (!c->closing && !h->busy && h->in.len > 0) {
    size_t used;
    int status;
    int rc = http_parse_feed(&h->parse, h->in.data, h->in.len, &used, &status);
    buf_consume(&h->in, used);
    if (rc == HTTP_PARSE_ERROR) {
      http_fail(c, status,
                status == 413   ? "request body too large"
                : status == 431 ? "request headers too large"
                                : "malformed request");
      break;
    }
    if (rc == HTTP_PARSE_AGAIN)
      break;
    h->busy = 1;
    h->req_started = 0;
    h->keep_alive = h->parse.req.keep_alive;
    conn_read_stop(c);
    http_req_origin(h->srv, c, &h->parse.req);
    h->srv->on_request(c, &h->parse.req);
    if (c->proto != h)
      return; /* upgraded: h is gone, the new protocol owns c */
  }
  h->driving = 0;
  if (!c->closing && !h->busy)
    conn_read_start(c);
}

static void http_on_data(struct conn *c, const uint8_t *data, size_t len) {
  struct http_conn *h = c->proto;
  if (h->req_started == 0 && !h->busy)
    h->req_started = uv_now(c->tcp.loop); /* the clock runs from a request's first byte */
  /* Parse as the bytes come, so however TCP cuts a stream of pipelined
   * requests, only one request at a time must fit the backlog. */
  while (len > 0) {
    size_t room = h->in.max - h->in.len;
    size_t n = len < room ? len : room;
    if (n == 0) {
      http_fail(c, 503, "too many pipelined requests");
      return;
    }
    buf_append(&h->in, data, n);
    data += n;
    len -= n;
    if (h->busy)
      continue; /* kept until the application answers */
    http_drive(c);
    if (c->proto != h) {
      if (len && !c->closing && c->ops)
        c->ops->on_data(c, data, len); /* the rest belongs to the new protocol */
      return;
    }
    if (c->closing || c->close_after_flush)
      return;
  }
}

static void http_unlink(struct http_conn *h) {
  if (h->prev)
    h->prev->next = h->next;
  else if (h->srv->conns == h)
    h->srv->conns = h->next;
  if (h->next)
    h->next->prev = h->prev;
  h->prev = h->next = NULL;
}

/* How long the request being read may take, from its first byte: its head
 * within request_ms, its body at HTTP_MIN_BODY_RATE at least on top. */
static uint64_t http_request_deadline(const struct http_conn *h) {
  uint64_t ms = h->srv->request_ms;
  if (h->parse.head_done)
    ms += (uint64_t)h->parse.body_expected * 1000 / HTTP_MIN_BODY_RATE;
  return h->req_started + ms;
}

/* Slow or silent clients are closed, so they cannot hold connections open:
 * a request that trickles in (slowloris) past its deadline gets 408, an
 * idle keep-alive is closed. Requests with the application are not timed
 * here. */
static void http_on_idle_timer(uv_timer_t *t) {
  struct http_server *s = t->data;
  uint64_t now = uv_now(t->loop);
  for (struct http_conn *h = s->conns; h; h = h->next) {
    if (h->busy || h->conn->closing || h->conn->doomed || h->conn->close_after_flush)
      continue;
    if (h->req_started && now > http_request_deadline(h)) {
      s->slow_closed++;
      http_fail(h->conn, 408, "the request came too slowly");
    } else if (!h->req_started && now - h->idle_since > s->idle_ms) {
      conn_close_soon(h->conn);
    }
  }
}

static void http_on_free(struct conn *c) {
  struct http_conn *h = c->proto;
  if (h == NULL)
    return;
  http_unlink(h);
  http_parse_free(&h->parse);
  buf_free(&h->in);
  free(h);
  c->proto = NULL;
}

/* Between requests (or before the first byte): may make room at the cap. */
static int http_idle(struct conn *c) {
  const struct http_conn *h = c->proto;
  return h && !h->busy && h->req_started == 0;
}

static const struct conn_ops http_ops = {
    .on_data = http_on_data,
    .on_close = NULL,
    .on_free = http_on_free,
    .idle = http_idle,
};

/* Binds the HTTP protocol to a freshly accepted connection. */
static void http_on_accept(struct conn *c) {
  struct http_server *s = container_of(c->listener, struct http_server, tcp);
  struct http_conn *h = calloc(1, sizeof(*h));
  if (h == NULL) {
    conn_close_soon(c);
    return;
  }
  http_parse_init(&h->parse);
  h->srv = s;
  buf_init(&h->in, HTTP_IN_MAX);
  h->conn = c;
  h->idle_since = uv_now(c->tcp.loop);
  h->next = s->conns;
  if (s->conns)
    s->conns->prev = h;
  s->conns = h;
  c->proto = h;
  c->ops = &http_ops;
}

int http_server_init(struct http_server *s, uv_loop_t *loop, http_request_cb on_request,
                     void *app) {
  memset(s, 0, sizeof(*s));
  s->on_request = on_request;
  s->idle_ms = HTTP_IDLE_MS;
  s->request_ms = HTTP_REQUEST_MS;
  int rc = conn_listener_init(&s->tcp, loop, http_on_accept, app);
  if (rc < 0)
    return rc;
  uv_timer_init(loop, &s->idle_timer);
  s->idle_timer.data = s;
  uv_unref((uv_handle_t *)&s->idle_timer);
  s->pending = 2;
  return 0;
}

void http_server_trust_proxies(struct http_server *s, const struct ipset *set) { s->proxies = set; }

void http_server_use_tls(struct http_server *s, struct tls_ctx *t) {
  conn_listener_use_tls(&s->tcp, t);
  s->hsts = 1;
}

void http_server_connect_src(struct http_server *s, const char *sources) {
  size_t n = strlen(sources);
  if (n >= sizeof(s->connect_src)) {
    n = sizeof(s->connect_src) - 1;
    while (n && sources[n] != ' ')
      n--; /* a source cut in two would be another one */
  }
  memcpy(s->connect_src, sources, n);
  s->connect_src[n] = 0;
}

int http_server_listen(struct http_server *s, const char *host, int port) {
  int rc = conn_listener_start(&s->tcp, host, port);
  if (rc == 0)
    rc = uv_timer_start(&s->idle_timer, http_on_idle_timer, HTTP_SWEEP_MS, HTTP_SWEEP_MS);
  return rc;
}

int http_server_port(const struct http_server *s) { return conn_listener_port(&s->tcp); }

void http_server_limit(struct http_server *s, struct conn_limits *lim) {
  conn_listener_limit(&s->tcp, lim);
}

static void http_server_one_closed(struct http_server *s) {
  if (--s->pending == 0 && s->close_cb)
    s->close_cb(s);
}

static void http_server_on_listener_closed(struct conn_listener *l) {
  http_server_one_closed(container_of(l, struct http_server, tcp));
}

static void http_server_on_timer_closed(uv_handle_t *h) { http_server_one_closed(h->data); }

void http_server_close(struct http_server *s, http_server_close_cb close_cb) {
  if (s->closing)
    return;
  s->closing = 1;
  s->close_cb = close_cb;
  uv_timer_stop(&s->idle_timer);
  uv_close((uv_handle_t *)&s->idle_timer, http_server_on_timer_closed);
  conn_listener_close(&s->tcp, http_server_on_listener_closed);
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
  char head[2048 + HTTP_CONNECT_SRC_MAX];
  /* HTTPS only: browsers then refuse plain HTTP to this host for a year. */
  const char *hsts = h->srv->hsts ? "Strict-Transport-Security: max-age=31536000\r\n" : "";
  int n = snprintf(
      head, sizeof(head), "HTTP/1.1 %d %s\r\n%s%s%s%s%s%s%s%sContent-Length: %zu\r\n%s%s\r\n",
      status, http_status_text(status), csp_head, h->srv->connect_src[0] ? " " : "",
      h->srv->connect_src, security_headers, hsts, content_type ? "Content-Type: " : "",
      content_type ? content_type : "", content_type ? "\r\n" : "", len, extra ? extra : "",
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
  h->idle_since = uv_now(c->tcp.loop);
  if (h->in.len)
    h->req_started = h->idle_since; /* the next request, pipelined, is already coming */
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

static int hex_value(char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

int http_query_param(const char *query, const char *key, char *out, size_t out_size) {
  size_t kl = strlen(key);
  const char *p = query;
  while (*p) {
    const char *end = p + strcspn(p, "&");
    if ((size_t)(end - p) >= kl && memcmp(p, key, kl) == 0 && (p[kl] == '=' || p + kl == end)) {
      const char *v = p[kl] == '=' ? p + kl + 1 : end;
      size_t n = 0;
      for (; v < end; v++) {
        int ch = (unsigned char)*v;
        if (ch == '+') {
          ch = ' ';
        } else if (ch == '%') {
          int hi = v + 2 < end ? hex_value(v[1]) : -1;
          int lo = hi >= 0 ? hex_value(v[2]) : -1;
          if (lo < 0)
            return -EINVAL;
          ch = hi << 4 | lo;
          v += 2;
        }
        if (ch == 0)
          return -EINVAL;
        if (n + 1 >= out_size)
          return -ENOBUFS;
        out[n++] = (char)ch;
      }
      out[n] = 0;
      return (int)n;
    }
    p = *end ? end + 1 : end;
  }
  return -ENOENT;
}
