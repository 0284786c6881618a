/* Client connections for signaling: HTTP/1.1 requests with Content-Length
 * bodies (onair's API, Janus's HTTP transport), and WebSocket (RFC 6455,
 * client frames masked) after an upgrade, all non-blocking in the loop. A
 * blocking request serves the set-up steps. */
#include "mb.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define HC_IN_MAX (4u << 20) /* bytes buffered from one connection */

static void hc_closed(struct mb_hc *h, const char *why) {
  const struct mb_hc_ops *ops = h->ops;

  mb_hc_close(h);
  if (ops->closed)
    ops->closed(h, why);
}

static int buf_grow(char **p, size_t *cap, size_t need) {
  size_t c = *cap ? *cap : 4096;
  char *np;

  if (need <= *cap)
    return 0;
  while (c < need)
    c *= 2;
  if (c > HC_IN_MAX + 1 || !(np = realloc(*p, c)))
    return -1;
  *p = np;
  *cap = c;
  return 0;
}

static void hc_flush(struct mb_hc *h) {
  ssize_t n = 0;

  while (h->open && h->out_len > 0) {
    n = send(h->io.fd, h->out, h->out_len, MSG_NOSIGNAL);
    if (n <= 0)
      break;
    memmove(h->out, h->out + n, h->out_len - (size_t)n);
    h->out_len -= (size_t)n;
  }
  if (n < 0 && errno != EAGAIN && errno != EINTR)
    return hc_closed(h, "send failed");
  mb_io_mod(&h->io, EPOLLIN | (h->out_len || !h->open ? EPOLLOUT : 0));
}

static int hc_write(struct mb_hc *h, const void *p, size_t n) {
  if (h->io.fd < 0 || buf_grow(&h->out, &h->out_cap, h->out_len + n) < 0)
    return -1;
  memcpy(h->out + h->out_len, p, n);
  h->out_len += n;
  hc_flush(h);
  return 0;
}

/* The value of header name in a response head, up to its line's end. */
static const char *head_value(const char *head, size_t head_len, const char *name, size_t *len) {
  size_t nl = strlen(name);
  const char *p = head, *end = head + head_len;

  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol)
      break;
    if ((size_t)(eol - p) > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1;
      while (v < eol && *v == ' ')
        v++;
      *len = (size_t)(eol - v) - (eol > v && eol[-1] == '\r');
      return v;
    }
    p = eol + 1;
  }
  return NULL;
}

/* A chunked body at p (len bytes so far): when whole, its chunks are
 * moved together at p and the bytes it took on the wire are returned with
 * the body's length in *body_len; 0 if incomplete, -1 if malformed. */
static long chunked_walk(char *p, size_t len, size_t *body_len, int move) {
  size_t off = 0, out = 0;

  for (;;) {
    char *end;
    const char *eol = memmem(p + off, len - off, "\r\n", 2);
    unsigned long n;
    if (!eol)
      return len - off > 32 ? -1 : 0;
    n = strtoul(p + off, &end, 16);
    if (end == p + off || n > HC_IN_MAX)
      return -1;
    off = (size_t)(eol - p) + 2;
    if (len - off < n + 2)
      return 0;
    if (move)
      memmove(p + out, p + off, n);
    out += n;
    off += n + 2;
    if (n == 0) {
      *body_len = out;
      return (long)off;
    }
  }
}

/* Moves nothing until the whole body is there: a later read resumes the
 * walk from the start. */
static long chunked(char *p, size_t len, size_t *body_len) {
  long rc = chunked_walk(p, len, body_len, 0);

  return rc > 0 ? chunked_walk(p, len, body_len, 1) : rc;
}

/* A whole response at p: returns its length, 0 if incomplete, -1 if
 * malformed; *status, *head_len and *body_len filled. A chunked body
 * (Janus sends them) is moved together right after the head. */
static long http_response(char *p, size_t len, int *status, size_t *head_len, size_t *body_len) {
  const char *end = memmem(p, len, "\r\n\r\n", 4), *v;
  size_t vl;
  char num[24];
  long raw;

  if (!end)
    return len > 65536 ? -1 : 0;
  *head_len = (size_t)(end - p) + 4;
  if (len < 12 || strncmp(p, "HTTP/1.", 7) != 0)
    return -1;
  *status = (int)strtol(p + 9, NULL, 10);
  *body_len = 0;
  if ((v = head_value(p, *head_len, "Transfer-Encoding", &vl))) {
    if (vl != 7 || strncasecmp(v, "chunked", 7) != 0)
      return -1;
    raw = chunked(p + *head_len, len - *head_len, body_len);
    return raw <= 0 ? raw : (long)*head_len + raw;
  }
  if ((v = head_value(p, *head_len, "Content-Length", &vl)) && vl < sizeof(num)) {
    memcpy(num, v, vl);
    num[vl] = '\0';
    *body_len = (size_t)strtoul(num, NULL, 10);
  }
  if (len < *head_len + *body_len)
    return 0;
  return (long)(*head_len + *body_len);
}

static int ws_frame(struct mb_hc *h, int opcode, const void *payload, size_t len) {
  uint8_t hdr[14], mask[4];
  size_t hl = 2, i;
  char *tmp;
  int rc;

  hdr[0] = (uint8_t)(0x80 | opcode);
  if (len < 126) {
    hdr[1] = (uint8_t)(0x80 | len);
  } else if (len < 65536) {
    hdr[1] = 0x80 | 126;
    hdr[2] = (uint8_t)(len >> 8);
    hdr[3] = (uint8_t)len;
    hl = 4;
  } else {
    return -1; /* nothing we send is that long */
  }
  mb_rand(mask, 4);
  memcpy(hdr + hl, mask, 4);
  hl += 4;
  if (!(tmp = malloc(hl + len)))
    return -1;
  memcpy(tmp, hdr, hl);
  for (i = 0; i < len; i++)
    tmp[hl + i] = (char)(((const uint8_t *)payload)[i] ^ mask[i & 3]);
  rc = hc_write(h, tmp, hl + len);
  free(tmp);
  return rc;
}

/* One frame from the server at the head of the input: returns bytes used,
 * 0 if incomplete, -1 to close. */
static long ws_input(struct mb_hc *h) {
  uint8_t *p = (uint8_t *)h->in;
  size_t len = h->in_len, hl = 2, pl;
  char saved;

  if (len < 2)
    return 0;
  pl = p[1] & 0x7f;
  if (pl == 126) {
    if (len < 4)
      return 0;
    pl = (size_t)(p[2] << 8 | p[3]);
    hl = 4;
  } else if (pl == 127) {
    return -1;
  }
  if ((p[1] & 0x80) || !(p[0] & 0x80))
    return -1; /* masked or fragmented: onair sends neither */
  if (len < hl + pl)
    return 0;
  switch (p[0] & 0x0f) {
  case 1:
    saved = h->in[hl + pl];
    h->in[hl + pl] = '\0';
    h->ops->ws_text(h, h->in + hl, pl);
    if (h->io.fd >= 0)
      h->in[hl + pl] = saved;
    break;
  case 8: return -1;
  case 9: ws_frame(h, 10, p + hl, pl); break;
  default: break;
  }
  return (long)(hl + pl);
}

static void hc_parse(struct mb_hc *h) {
  while (h->io.fd >= 0 && h->in_len > 0) {
    int status = 0;
    size_t head = 0, body = 0;
    long used = h->ws ? ws_input(h) : http_response(h->in, h->in_len, &status, &head, &body);
    if (used < 0)
      return hc_closed(h, h->ws ? "WebSocket closed" : "bad HTTP response");
    if (used == 0)
      return;
    if (!h->ws && status == 101) {
      h->ws = 1;
    } else if (!h->ws && !h->ops->response) {
      return hc_closed(h, "the server refused the WebSocket upgrade");
    } else if (!h->ws) {
      char saved = h->in[head + body];
      h->in[head + body] = '\0';
      h->ops->response(h, status, h->in, h->in + head, body);
      if (h->io.fd < 0)
        return;
      h->in[head + body] = saved;
    }
    if (h->io.fd < 0)
      return;
    memmove(h->in, h->in + used, h->in_len - (size_t)used);
    h->in_len -= (size_t)used;
  }
}

static void hc_read(struct mb_hc *h) {
  for (;;) {
    ssize_t n;
    if (buf_grow(&h->in, &h->in_cap, h->in_len + 65536 + 1) < 0)
      return hc_closed(h, "response too large");
    n = recv(h->io.fd, h->in + h->in_len, h->in_cap - h->in_len - 1, 0);
    if (n == 0)
      return hc_closed(h, "closed by the server");
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR)
        hc_closed(h, "recv failed");
      return;
    }
    h->in_len += (size_t)n;
    hc_parse(h);
    if (h->io.fd < 0)
      return;
  }
}

static void hc_ready(struct mb_io *io, uint32_t events) {
  struct mb_hc *h = MB_CONTAINER_OF(io, struct mb_hc, io);
  int err = 0;
  socklen_t el = sizeof(err);

  if (io->fd < 0)
    return;
  if (!h->open && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err)
      return hc_closed(h, "connect failed");
    h->open = 1;
    h->ops->connected(h);
    if (io->fd < 0)
      return;
    hc_flush(h);
  } else if (events & EPOLLOUT) {
    hc_flush(h);
  }
  if (io->fd >= 0 && h->open && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
    hc_read(h);
}

int mb_hc_connect(struct mb_hc *h, const char *host, int port, const struct mb_hc_ops *ops) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  int fd;

  memset(h, 0, sizeof(*h));
  h->io.fd = -1;
  h->ops = ops;
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
    return -EINVAL;
  fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
    int e = -errno;
    close(fd);
    return e;
  }
  h->io.fd = fd;
  h->io.ready = hc_ready;
  return mb_io_add(&h->io, EPOLLIN | EPOLLOUT);
}

void mb_hc_close(struct mb_hc *h) {
  if (h->io.fd >= 0) {
    mb_io_del(&h->io);
    close(h->io.fd);
  }
  h->io.fd = -1;
  h->open = 0;
  free(h->in);
  free(h->out);
  h->in = h->out = NULL;
  h->in_len = h->in_cap = h->out_len = h->out_cap = 0;
}

int mb_hc_request(struct mb_hc *h, const char *method, const char *host, int port, const char *path,
                  const char *headers, const char *body) {
  size_t bl = body ? strlen(body) : 0, cap = 512 + strlen(path) + bl + strlen(headers);
  char *req = malloc(cap);
  int n, rc;

  if (!req)
    return -1;
  n = snprintf(req, cap,
               "%s %s HTTP/1.1\r\nHost: %s:%d\r\n%sContent-Type: application/json\r\n"
               "Content-Length: %zu\r\n\r\n%s",
               method, path, host, port, headers, bl, body ? body : "");
  rc = n > 0 && (size_t)n < cap ? hc_write(h, req, (size_t)n) : -1;
  free(req);
  return rc;
}

int mb_hc_ws_upgrade(struct mb_hc *h, const char *host, int port, const char *headers) {
  uint8_t key[16];
  char b64[32], req[2048];
  int n;

  mb_rand(key, sizeof(key));
  EVP_EncodeBlock((unsigned char *)b64, key, sizeof(key));
  n = snprintf(req, sizeof(req),
               "GET /ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
               host, port, b64, headers);
  if (n <= 0 || (size_t)n >= sizeof(req))
    return -1;
  return hc_write(h, req, (size_t)n);
}

int mb_hc_ws_send(struct mb_hc *h, const char *text) { return ws_frame(h, 1, text, strlen(text)); }

const char *mb_json_type(const char *text, size_t *len) {
  const char *p = strstr(text, "\"type\""), *e;

  if (!p)
    return NULL;
  p += 6;
  while (*p == ' ' || *p == ':')
    p++;
  if (*p++ != '"' || !(e = strchr(p, '"')))
    return NULL;
  *len = (size_t)(e - p);
  return p;
}

int mb_json_type_is(const char *text, const char *type) {
  size_t n;
  const char *t = mb_json_type(text, &n);

  return t && n == strlen(type) && memcmp(t, type, n) == 0;
}

static int blocking_connect(const char *host, int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  struct timeval tv = {10, 0};
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return -1;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1 ||
      connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void copy_cookie(const char *head, size_t hl, const char *name, char *cookie, size_t cap) {
  const char *p = head, *end = head + hl;
  size_t nl = strlen(name);

  while (p < end && (p = memmem(p, (size_t)(end - p), "Set-Cookie: ", 12))) {
    p += 12;
    if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
      size_t n = strcspn(p, ";\r\n");
      if (n < cap) {
        memcpy(cookie, p, n);
        cookie[n] = '\0';
      }
      return;
    }
  }
}

int mb_http_blocking(const char *host, int port, const char *method, const char *path,
                     const char *headers, const char *body, char **resp_body,
                     const char *cookie_name, char *cookie, size_t cookie_cap) {
  size_t cap = 65536, len = 0, head = 0, blen = 0, bl = body ? strlen(body) : 0;
  char *buf = malloc(cap), *req = malloc(1024 + bl);
  int fd = blocking_connect(host, port), status = -1, n;
  long whole = 0;

  if (!buf || !req || fd < 0)
    goto out;
  n = snprintf(req, 1024 + bl,
               "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n%s"
               "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
               method, path, host, port, headers, bl, body ? body : "");
  if (n <= 0 || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
    goto out;
  while (whole == 0 && len < cap - 1) {
    ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
    if (r <= 0)
      break;
    len += (size_t)r;
    whole = http_response(buf, len, &status, &head, &blen);
  }
  if (whole <= 0) {
    status = -1;
    goto out;
  }
  buf[head + blen] = '\0';
  if (cookie_name)
    copy_cookie(buf, head, cookie_name, cookie, cookie_cap);
  if (resp_body && (*resp_body = malloc(blen + 1)))
    memcpy(*resp_body, buf + head, blen + 1);
out:
  if (fd >= 0)
    close(fd);
  free(buf);
  free(req);
  return status;
}
