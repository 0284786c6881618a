/* The client's transport: TCP through libuv, one HTTP/1.1 request and its
 * answer, then WebSocket frames (RFC 6455, client side: our frames masked,
 * the server's unmasked). Everything the server sends is parsed from what
 * has arrived so far, never past its length: a partial head or frame waits
 * in the connection's buffer for the next read, up to a cap. */
#include "cb.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define AGAIN 1 /* not enough bytes yet */

static uint8_t read_buf[CB_READ_BUF]; /* every read lands here first */
static uint64_t mask_state = 0x9e3779b97f4a7c15ULL;

/* Masks need not be secret here (we are the only client of a benchmark's
 * server); xorshift keeps them cheap. */
static uint32_t mask_next(void) {
  mask_state ^= mask_state << 13;
  mask_state ^= mask_state >> 7;
  mask_state ^= mask_state << 17;
  return (uint32_t)mask_state;
}

static int buf_append(struct cb_buf *b, const uint8_t *p, size_t n, size_t cap) {
  if (n > cap || b->len > cap - n)
    return -EMSGSIZE;
  if (b->len + n > b->cap) {
    size_t want = b->cap ? (size_t)b->cap * 2 : 512;
    uint8_t *q;
    while (want < b->len + n)
      want *= 2;
    if (want > cap)
      want = cap;
    if (!(q = realloc(b->p, want)))
      return -ENOMEM;
    b->p = q;
    b->cap = (uint32_t)want;
  }
  memcpy(b->p + b->len, p, n);
  b->len += (uint32_t)n;
  return 0;
}

static void buf_free(struct cb_buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

/* Drops the first n bytes; an emptied buffer gives its memory back. */
static void buf_consume(struct cb_buf *b, size_t n) {
  if (n >= b->len) {
    buf_free(b);
    return;
  }
  memmove(b->p, b->p + n, b->len - n);
  b->len -= (uint32_t)n;
}

void cb_conn_init(struct cb_conn *c, struct cb_bench *b, int role, uint32_t idx) {
  memset(c, 0, sizeof(*c));
  c->b = b;
  c->role = (uint8_t)role;
  c->idx = idx;
  c->state = CS_NEW;
}

/* ---- writing ------------------------------------------------------------ */

struct write_req {
  uv_write_t req;
  uint8_t data[];
};

static void on_written(uv_write_t *req, int status) {
  free(CB_CONTAINER_OF(req, struct write_req, req));
}

/* Writes what the socket takes now; the rest is copied into a request
 * (uv_try_write refuses while earlier requests wait, so order holds). */
int cb_conn_write(struct cb_conn *c, const void *p, size_t n) {
  uv_buf_t buf = uv_buf_init((char *)p, (unsigned)n);
  struct write_req *w;
  int rc;

  if (c->state == CS_CLOSED || c->state < CS_HTTP)
    return -ENOTCONN;
  rc = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
  if (rc >= 0 && (size_t)rc == n)
    return 0;
  if (rc < 0 && rc != UV_EAGAIN)
    return rc;
  if (rc < 0)
    rc = 0;
  if (!(w = malloc(sizeof(*w) + n - (size_t)rc)))
    return -ENOMEM;
  memcpy(w->data, (const uint8_t *)p + rc, n - (size_t)rc);
  buf = uv_buf_init((char *)w->data, (unsigned)(n - (size_t)rc));
  if ((rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written)) < 0)
    free(w);
  return rc;
}

size_t cb_ws_frame(uint8_t *out, int opcode, const char *p, size_t n) {
  uint32_t mask = mask_next();
  uint8_t m[4] = {(uint8_t)(mask >> 24), (uint8_t)(mask >> 16), (uint8_t)(mask >> 8),
                  (uint8_t)mask};
  size_t h = 0, i;

  out[h++] = (uint8_t)(0x80 | opcode);
  if (n < 126) {
    out[h++] = (uint8_t)(0x80 | n);
  } else if (n <= 0xffff) {
    out[h++] = 0x80 | 126;
    out[h++] = (uint8_t)(n >> 8);
    out[h++] = (uint8_t)n;
  } else {
    out[h++] = 0x80 | 127;
    for (i = 0; i < 8; i++)
      out[h++] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
  }
  memcpy(out + h, m, 4);
  h += 4;
  for (i = 0; i < n; i++)
    out[h + i] = (uint8_t)p[i] ^ m[i & 3];
  return h + n;
}

static int ws_send(struct cb_conn *c, int opcode, const char *p, size_t n) {
  uint8_t small[256], *out = small;
  int rc;

  if (n > CB_MSG_MAX)
    return -EMSGSIZE;
  if (n + 14 > sizeof(small) && !(out = malloc(n + 14)))
    return -ENOMEM;
  rc = cb_conn_write(c, out, cb_ws_frame(out, opcode, p, n));
  if (out != small)
    free(out);
  return rc;
}

int cb_ws_text(struct cb_conn *c, const char *p, size_t n) {
  if (c->state != CS_WS)
    return -ENOTCONN;
  return ws_send(c, 1, p, n);
}

/* ---- closing ------------------------------------------------------------ */

static void on_closed(uv_handle_t *h) {
  struct cb_conn *c = CB_CONTAINER_OF(h, struct cb_conn, tcp);

  buf_free(&c->in);
  buf_free(&c->msg);
  free(c->req);
  c->req = NULL;
  if (c->role != ROLE_VIEWER)
    free(c);
}

void cb_conn_close(struct cb_conn *c, const char *why) {
  int was = c->state;

  if (was == CS_CLOSED)
    return;
  c->state = CS_CLOSED;
  if (why)
    cb_conn_lost(c, why);
  if (was == CS_NEW) /* no handle yet */
    on_closed((uv_handle_t *)&c->tcp);
  else
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* ---- HTTP ------------------------------------------------------------- */

/* The length of the head (its blank line included), 0 while incomplete. */
static size_t head_len(const uint8_t *p, size_t n) {
  size_t i;

  for (i = 3; i < n; i++)
    if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r')
      return i + 1;
  return 0;
}

/* The next header called name at or after *pos in head (hl bytes): its
 * value and length, *pos moved past its line; NULL when there is none. */
static const char *header_next(const char *head, size_t hl, const char *name, size_t *pos,
                               size_t *vlen) {
  size_t nl = strlen(name);

  while (*pos < hl) {
    const char *line = head + *pos, *end = memchr(line, '\n', hl - *pos);
    size_t ll = end ? (size_t)(end - line) : hl - *pos;
    *pos += ll + 1;
    if (ll > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
      const char *v = line + nl + 1, *e = line + ll;
      while (v < e && (*v == ' ' || *v == '\t'))
        v++;
      while (e > v && (e[-1] == '\r' || e[-1] == ' '))
        e--;
      *vlen = (size_t)(e - v);
      return v;
    }
  }
  return NULL;
}

static int status_of(const char *head, size_t hl) {
  if (hl < 12 || memcmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ')
    return -1;
  if (head[9] < '1' || head[9] > '5' || head[10] < '0' || head[10] > '9' || head[11] < '0' ||
      head[11] > '9')
    return -1;
  return (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
}

/* "onair_session=<value>" from the Set-Cookie headers into out ("" if none). */
static void session_cookie(const char *head, size_t hl, char *out, size_t cap) {
  static const char name[] = "onair_session=";
  size_t pos = 0, vl, n;
  const char *v;

  out[0] = '\0';
  while ((v = header_next(head, hl, "Set-Cookie", &pos, &vl))) {
    if (vl <= sizeof(name) - 1 || memcmp(v, name, sizeof(name) - 1) != 0)
      continue;
    for (n = 0; n < vl && v[n] != ';'; n++)
      ;
    if (n < cap)
      snprintf(out, cap, "%.*s", (int)n, v);
    return;
  }
}

/* A setup request's answer: complete when head and Content-Length bytes
 * of body are in. Returns bytes used, 0 while incomplete, or -errno. */
static long http_answer(struct cb_conn *c, const uint8_t *p, size_t n) {
  size_t hl = head_len(p, n), pos = 0, vl;
  char cookie[CB_COOKIE_MAX], num[24];
  const char *v;
  long body = 0;
  int status;

  if (!hl)
    return n > CB_HEAD_MAX ? -EMSGSIZE : 0;
  if ((status = status_of((const char *)p, hl)) < 0)
    return -EPROTO;
  if ((v = header_next((const char *)p, hl, "Content-Length", &pos, &vl))) {
    char *end;
    snprintf(num, sizeof(num), "%.*s", (int)(vl < 20 ? vl : 20), v);
    body = strtol(num, &end, 10);
    if (end == num || *end || body < 0 || body > CB_BODY_MAX)
      return -EPROTO;
  }
  if (n - hl < (size_t)body)
    return 0;
  session_cookie((const char *)p, hl, cookie, sizeof(cookie));
  c->http_cb(c, status, cookie);
  cb_conn_close(c, NULL);
  return (long)(hl + (size_t)body);
}

static int accept_ok(const struct cb_conn *c, const char *v, size_t vl) {
  unsigned char md[SHA_DIGEST_LENGTH], want[32];
  char in[64];
  int n;

  n = snprintf(in, sizeof(in), "%s%s", c->ws_key, WS_GUID);
  SHA1((const unsigned char *)in, (size_t)n, md);
  n = EVP_EncodeBlock(want, md, SHA_DIGEST_LENGTH);
  return vl == (size_t)n && memcmp(v, want, vl) == 0;
}

/* The upgrade's answer: 101 with the right Sec-WebSocket-Accept. Returns
 * the head's length, 0 while incomplete, or -errno. */
static long upgrade_answer(struct cb_conn *c, const uint8_t *p, size_t n) {
  size_t hl = head_len(p, n), pos = 0, vl;
  const char *v;
  int status;

  if (!hl)
    return n > CB_HEAD_MAX ? -EMSGSIZE : 0;
  status = status_of((const char *)p, hl);
  if (status != 101) {
    if (c->b->errors++ < 5)
      cb_log("upgrade answered HTTP %d", status);
    return -ECONNREFUSED;
  }
  v = header_next((const char *)p, hl, "Sec-WebSocket-Accept", &pos, &vl);
  if (!v || !accept_ok(c, v, vl))
    return -EPROTO;
  c->state = CS_WS;
  c->b->proto->on_open(c);
  return (long)hl;
}

/* ---- WebSocket frames --------------------------------------------------- */

struct ws_hdr {
  int fin, op;
  size_t hlen, plen;
};

/* The frame header at p (n bytes): 0 with *h filled, AGAIN, or -EPROTO
 * for what a server may not send (RSV bits, a mask, an unknown opcode, a
 * fragmented or long control frame) and -EMSGSIZE past CB_MSG_MAX. */
static int ws_header(const uint8_t *p, size_t n, struct ws_hdr *h) {
  uint64_t len;
  size_t i;

  if (n < 2)
    return AGAIN;
  h->fin = p[0] >> 7;
  h->op = p[0] & 0x0f;
  if ((p[0] & 0x70) || (p[1] & 0x80) || (h->op > 2 && h->op < 8) || h->op > 10)
    return -EPROTO;
  len = p[1] & 0x7f;
  h->hlen = len == 126 ? 4 : len == 127 ? 10 : 2;
  if (n < h->hlen)
    return AGAIN;
  if (len >= 126)
    for (len = 0, i = 2; i < h->hlen; i++)
      len = len << 8 | p[i];
  if (h->op >= 8 && (!h->fin || len > 125))
    return -EPROTO;
  if (len > CB_MSG_MAX)
    return -EMSGSIZE;
  h->plen = (size_t)len;
  return 0;
}

static void ws_message(struct cb_conn *c, int op, const uint8_t *p, size_t n) {
  if (op == 1)
    c->b->proto->on_text(c, (const char *)p, n);
  else if (c->b->errors++ < 5)
    cb_log("a binary message of %zu bytes: ignored", n);
}

/* One whole frame. 0, or -errno to close the connection. */
static int ws_frame_in(struct cb_conn *c, const struct ws_hdr *h, const uint8_t *p) {
  int rc;

  switch (h->op) {
  case 9: return ws_send(c, 10, (const char *)p, h->plen);
  case 10: return 0;
  case 8: cb_conn_close(c, "close frame from the server"); return 0;
  case 0:
    if (!c->frag)
      return -EPROTO;
    if ((rc = buf_append(&c->msg, p, h->plen, CB_MSG_MAX)) < 0)
      return rc;
    if (h->fin) {
      ws_message(c, c->frag, c->msg.p, c->msg.len);
      c->frag = 0;
      buf_free(&c->msg);
    }
    return 0;
  default:
    if (c->frag)
      return -EPROTO;
    if (h->fin) {
      ws_message(c, h->op, p, h->plen);
      return 0;
    }
    c->frag = (uint8_t)h->op;
    return buf_append(&c->msg, p, h->plen, CB_MSG_MAX);
  }
}

/* Whole frames from p (n bytes): bytes used (the rest is a partial
 * frame), or -errno. Stops when a handler closed the connection. */
static long ws_input(struct cb_conn *c, const uint8_t *p, size_t n) {
  size_t off = 0;
  struct ws_hdr h;
  int rc;

  while (off < n && c->state == CS_WS) {
    rc = ws_header(p + off, n - off, &h);
    if (rc == AGAIN)
      break;
    if (rc < 0)
      return rc;
    if (n - off - h.hlen < h.plen)
      break;
    if ((rc = ws_frame_in(c, &h, p + off + h.hlen)) < 0)
      return rc;
    off += h.hlen + h.plen;
  }
  return (long)off;
}

static long conn_input(struct cb_conn *c, const uint8_t *p, size_t n) {
  long used = 0, more;

  if (c->state == CS_HTTP) {
    used = c->role == ROLE_HTTP ? http_answer(c, p, n) : upgrade_answer(c, p, n);
    if (used <= 0)
      return used;
  }
  if (c->state != CS_WS)
    return used;
  more = ws_input(c, p + used, n - (size_t)used);
  return more < 0 ? more : used + more;
}

/* ---- reading ------------------------------------------------------------ */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  *buf = uv_buf_init((char *)read_buf, sizeof(read_buf));
}

static void input_failed(struct cb_conn *c, long rc) {
  char why[96];

  snprintf(why, sizeof(why), "bad input from the server: %s", strerror((int)-rc));
  cb_conn_close(c, why);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct cb_conn *c = CB_CONTAINER_OF(s, struct cb_conn, tcp);
  size_t cap = c->state == CS_WS ? CB_MSG_MAX + 14 : CB_HEAD_MAX + CB_BODY_MAX;
  const uint8_t *p = (const uint8_t *)buf->base;
  long used;
  int rc;

  if (nread < 0) {
    cb_conn_close(c, nread == UV_EOF ? "closed by the server" : uv_strerror((int)nread));
    return;
  }
  c->b->now_ns = uv_hrtime();
  if (c->in.len) {
    if ((rc = buf_append(&c->in, p, (size_t)nread, cap)) < 0)
      return input_failed(c, rc);
    p = c->in.p;
    nread = c->in.len;
  }
  used = conn_input(c, p, (size_t)nread);
  if (used < 0)
    return input_failed(c, used);
  if (c->state == CS_CLOSED)
    return;
  if (c->in.len)
    buf_consume(&c->in, (size_t)used);
  else if ((size_t)used < (size_t)nread &&
           (rc = buf_append(&c->in, p + used, (size_t)nread - (size_t)used, cap)) < 0)
    input_failed(c, rc);
}

/* ---- connecting --------------------------------------------------------- */

static int upgrade_request(struct cb_conn *c) {
  const struct cb_proto *pr = c->b->proto;
  char extra[512], req[1024];
  uint8_t key[16];
  int n, i;

  for (i = 0; i < 16; i += 4) {
    uint32_t m = mask_next();
    memcpy(key + i, &m, 4);
  }
  EVP_EncodeBlock((unsigned char *)c->ws_key, key, 16);
  if ((n = pr->headers(c, extra, sizeof(extra))) < 0)
    return -EINVAL;
  n = snprintf(req, sizeof(req),
               "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
               pr->ws_path, c->b->o.host, c->b->o.port, c->ws_key, extra);
  if (n < 0 || (size_t)n >= sizeof(req))
    return -EMSGSIZE;
  return cb_conn_write(c, req, (size_t)n);
}

static void on_connected(uv_connect_t *req, int status) {
  struct cb_conn *c = CB_CONTAINER_OF(req, struct cb_conn, connect);
  char why[96];
  int rc;

  if (c->state == CS_CLOSED)
    return;
  if (status < 0) {
    snprintf(why, sizeof(why), "connect: %s", uv_strerror(status));
    cb_conn_close(c, why);
    return;
  }
  c->state = CS_HTTP;
  rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (rc == 0)
    rc = c->role == ROLE_HTTP ? cb_conn_write(c, c->req, c->req_len) : upgrade_request(c);
  if (rc < 0) {
    snprintf(why, sizeof(why), "request: %s", uv_strerror(rc));
    cb_conn_close(c, why);
  }
}

int cb_conn_start(struct cb_conn *c, const struct sockaddr_in *src) {
  struct sockaddr_in dst;
  int rc, one = 1;
  uv_os_fd_t fd;

  if ((rc = uv_ip4_addr(c->b->o.host, c->b->o.port, &dst)) < 0)
    return rc;
  if ((rc = uv_tcp_init_ex(c->b->loop, &c->tcp, AF_INET)) < 0)
    return rc;
  c->state = CS_CONNECTING;
  if (src) {
    /* The port is picked at connect() for the 4-tuple, not at bind(). */
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
      setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    if ((rc = uv_tcp_bind(&c->tcp, (const struct sockaddr *)src, 0)) < 0)
      return rc;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  return uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&dst, on_connected);
}

int cb_http_request(struct cb_conn *c, char *req, size_t len, cb_http_cb cb) {
  c->req = req;
  c->req_len = len;
  c->http_cb = cb;
  return cb_conn_start(c, NULL);
}
