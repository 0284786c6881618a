#include "net/conn.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "net/tls.h"
#include "util/ipset.h"
#include "util/log.h"

struct conn_write_req {
  uv_write_t req;
  unsigned n;
  struct sbuf *refs[]; /* n, one reference each */
};

static void conn_flush_all(struct conn_listener *l);

/* Connection ids name connections in logs and in signaling ("p<id>"), so
 * they must differ across every listener and loop of the process: one
 * counter for the process, atomic because loops may run on several threads. */
static _Atomic uint64_t next_conn_id = 1;

static void conn_listener_maybe_done(struct conn_listener *l) {
  if (l->closing && l->handles_open == 0 && l->nconns == 0 && l->close_cb) {
    conn_listener_close_cb cb = l->close_cb;
    l->close_cb = NULL;
    cb(l);
  }
}

/* The end of a loop turn: what was written leaves, then the doomed close. */
static void conn_on_doom_check(uv_check_t *h) {
  struct conn_listener *l = h->data;
  conn_flush_all(l);
  while (l->doomed) {
    struct conn *c = l->doomed;
    l->doomed = c->next_doomed;
    c->next_doomed = NULL;
    conn_close(c);
    conn_unref(c);
  }
}

void conn_close_soon(struct conn *c) {
  if (c->closing || c->doomed)
    return;
  c->doomed = 1;
  conn_ref(c);
  c->next_doomed = c->listener->doomed;
  c->listener->doomed = c;
}

struct sbuf *sbuf_new(size_t len) {
  struct sbuf *b = malloc(sizeof(*b) + len);
  if (b == NULL)
    return NULL;
  b->refs = 1;
  b->len = len;
  b->data = b->bytes;
  b->block = NULL;
  b->cap = len;
  return b;
}

/* The block packed buffers are being carved from on this thread (one
 * reference), or NULL. Loops on other threads have their own. */
static _Thread_local struct sbuf *pack_block;

void sbuf_pack_release(void) {
  if (pack_block)
    sbuf_unref(pack_block);
  pack_block = NULL;
}

struct sbuf *sbuf_new_packed(size_t len) {
  if (len > SBUF_PACK_MAX)
    return sbuf_new(len);
  if (pack_block == NULL || pack_block->cap - pack_block->len < len) {
    sbuf_pack_release();
    pack_block = sbuf_new(SBUF_BLOCK);
    if (pack_block == NULL)
      return NULL;
    pack_block->len = 0;
  }
  struct sbuf *b = malloc(sizeof(*b));
  if (b == NULL)
    return NULL;
  b->refs = 1;
  b->len = len;
  b->data = pack_block->bytes + pack_block->len;
  b->block = pack_block;
  b->cap = 0;
  pack_block->len += len;
  sbuf_ref(pack_block);
  return b;
}

void sbuf_ref(struct sbuf *b) { b->refs++; }

void sbuf_unref(struct sbuf *b) {
  assert(b->refs > 0);
  if (--b->refs > 0)
    return;
  if (b->block)
    sbuf_unref(b->block);
  free(b);
}

/* c's queue goes back to its listener, emptied. */
static void conn_outq_return(struct conn *c) {
  struct conn_outq *q = c->outq;
  struct conn_listener *l = c->listener;
  c->outq = NULL;
  if (q->cap != CONN_OUTQ_FIRST || l->nspare_outq == CONN_SPARE_OUTQ) {
    free(q); /* grown in a burst, or a burst to a big room is over */
    return;
  }
  q->n = 0;
  q->bytes = 0;
  q->next_free = l->spare_outq;
  l->spare_outq = q;
  l->nspare_outq++;
}

static void conn_drop_queued(struct conn *c) {
  if (c->outq == NULL)
    return;
  for (unsigned i = 0; i < c->outq->n; i++)
    sbuf_unref(c->outq->s[i].ref);
  conn_outq_return(c);
}

static void conn_spare_outq_free(struct conn_listener *l) {
  while (l->spare_outq) {
    struct conn_outq *q = l->spare_outq;
    l->spare_outq = q->next_free;
    l->nspare_outq--;
    free(q);
  }
}

void conn_ref(struct conn *c) { c->refs++; }

void conn_unref(struct conn *c) {
  assert(c->refs > 0);
  if (--c->refs > 0)
    return;
  if (c->ops && c->ops->on_free)
    c->ops->on_free(c);
  struct conn_listener *l = c->listener;
  tls_conn_free(c->tls);
  free(c);
  l->nconns--;
  conn_listener_maybe_done(l);
}

static void conn_limits_resume(struct conn_limits *lim);

/* The socket is closed: its descriptor counts no more. */
static void conn_on_closed(uv_handle_t *h) {
  struct conn *c = h->data;
  struct conn_limits *lim = c->listener->limits;
  if (lim)
    lim->total--;
  conn_unref(c);
  if (lim)
    conn_limits_resume(lim);
}

static void conn_ip_release(struct conn *c) {
  struct conn_limits *lim = c->listener->limits;
  if (!c->ip_counted)
    return;
  c->ip_counted = 0;
  map_count_drop(&lim->by_ip, c->peer_ip, strlen(c->peer_ip));
}

static void conn_unlink(struct conn *c) {
  struct conn_listener *l = c->listener;
  if (l->oldest == c)
    l->oldest = c->prev;
  if (c->prev)
    c->prev->next = c->next;
  else if (l->conns == c)
    l->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  c->prev = c->next = NULL;
}

void conn_close(struct conn *c) {
  if (c->closing)
    return;
  c->closing = 1;
  conn_drop_queued(c);
  conn_unlink(c);
  conn_ip_release(c);
  if (c->ops && c->ops->on_close)
    c->ops->on_close(c);
  uv_close((uv_handle_t *)&c->tcp, conn_on_closed);
}

static void conn_on_shutdown(uv_shutdown_t *req, int status) {
  struct conn *c = req->data;
  free(req);
  conn_close(c);
  conn_unref(c);
}

static int conn_tls_flush(struct conn *c);
static void conn_flush_now(struct conn *c);

void conn_close_after_flush(struct conn *c) {
  if (c->closing || c->close_after_flush)
    return;
  if (c->tls && !c->doomed) {
    tls_conn_close_notify(c->tls);
    conn_tls_flush(c);
  }
  if (!c->doomed)
    conn_flush_now(c); /* into libuv's queue, which the shutdown waits for */
  c->close_after_flush = 1;
  conn_read_stop(c);
  uv_shutdown_t *req = malloc(sizeof(*req));
  if (req == NULL) {
    conn_close_soon(c);
    return;
  }
  req->data = c;
  conn_ref(c);
  /* uv_shutdown completes after every queued write. */
  if (uv_shutdown(req, (uv_stream_t *)&c->tcp, conn_on_shutdown) < 0) {
    free(req);
    conn_unref(c);
    conn_close_soon(c);
  }
}

static void conn_on_written(uv_write_t *req, int status) {
  struct conn_write_req *w = (struct conn_write_req *)req;
  for (unsigned i = 0; i < w->n; i++)
    sbuf_unref(w->refs[i]);
  free(w);
}

/* Hands n slices (their references) and their iov to libuv. */
static void conn_write_rest(struct conn *c, const struct conn_slice *s, const uv_buf_t *iov,
                            unsigned n) {
  struct conn_write_req *w = malloc(sizeof(*w) + n * sizeof(w->refs[0]));
  if (w == NULL) {
    for (unsigned i = 0; i < n; i++)
      sbuf_unref(s[i].ref);
    conn_close_soon(c);
    return;
  }
  w->n = n;
  for (unsigned i = 0; i < n; i++)
    w->refs[i] = s[i].ref;
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, iov, n, conn_on_written) < 0) {
    conn_on_written(&w->req, UV_EPIPE);
    conn_close_soon(c);
  }
}

/* Sends what is queued on c in one writev; libuv keeps what the socket does
 * not take now (uv_try_write refuses while earlier writes wait, so order is
 * kept). */
static void conn_flush_now(struct conn *c) {
  struct conn_outq *q = c->outq;
  uv_buf_t iov[CONN_OUTQ];
  unsigned n = q ? q->n : 0, i = 0;
  if (n == 0)
    return;
  c->listener->writes++;
  c->listener->bufs_written += n;
  for (unsigned k = 0; k < n; k++)
    iov[k] = uv_buf_init((char *)q->s[k].data, (unsigned)q->s[k].len);
  int done = uv_try_write((uv_stream_t *)&c->tcp, iov, n);
  if (done < 0 && done != UV_EAGAIN) {
    conn_drop_queued(c);
    conn_close_soon(c);
    return;
  }
  size_t left = done > 0 ? (size_t)done : 0;
  for (; i < n && left >= q->s[i].len; i++) {
    left -= q->s[i].len;
    sbuf_unref(q->s[i].ref);
  }
  if (i < n) {
    iov[i].base += left;
    iov[i].len -= left;
    conn_write_rest(c, q->s + i, iov + i, n - i);
  }
  conn_outq_return(c); /* every reference is released or handed on */
}

/* Keeps the loop from blocking in poll while writes wait (they were queued
 * after this turn's check) and sends them. */
static void conn_on_flush_idle(uv_idle_t *h) { conn_flush_all(h->data); }

/* c waits for the listener's flush at the end of this loop turn. */
static void conn_flush_later(struct conn *c) {
  struct conn_listener *l = c->listener;
  if (c->flush_queued)
    return;
  c->flush_queued = 1;
  conn_ref(c);
  c->next_flush = l->flush;
  l->flush = c;
  if (!uv_is_active((uv_handle_t *)&l->flush_idle))
    uv_idle_start(&l->flush_idle, conn_on_flush_idle);
}

/* Is c's unsent data, with extra more bytes, over its cap? Then it is a
 * slow reader, closed at the next safe point. */
static int conn_over_cap(struct conn *c, size_t extra) {
  size_t queued = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
  if (c->outq)
    queued += c->outq->bytes;
  if (c->tls)
    queued += tls_conn_pending(c->tls);
  if (queued + extra <= c->max_out)
    return 0;
  log_ev(LOG_INFO, "slow reader dropped", LOG_U("conn", c->id), LOG_S("ip", c->peer_ip));
  conn_close_soon(c);
  return 1;
}

/* A spare queue of l's, or a new one. */
static struct conn_outq *conn_outq_lend(struct conn_listener *l) {
  struct conn_outq *q = l->spare_outq;
  if (q == NULL) {
    q = calloc(1, sizeof(*q) + CONN_OUTQ_FIRST * sizeof(q->s[0]));
    if (q)
      q->cap = CONN_OUTQ_FIRST;
    return q;
  }
  l->spare_outq = q->next_free;
  l->nspare_outq--;
  return q;
}

/* Room for one more buffer in c's queue: lent, or grown (doubled). */
static int conn_outq_room(struct conn *c) {
  struct conn_outq *q = c->outq;
  if (q == NULL) {
    if ((c->outq = conn_outq_lend(c->listener)) == NULL)
      return -ENOMEM;
    c->outq->before = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
    if (c->tls)
      c->outq->before += tls_conn_pending(c->tls);
    return 0;
  }
  if (q->n < q->cap)
    return 0;
  unsigned cap = q->cap * 2 < CONN_OUTQ ? q->cap * 2 : CONN_OUTQ;
  q = realloc(q, sizeof(*q) + cap * sizeof(q->s[0]));
  if (q == NULL)
    return -ENOMEM;
  q->cap = cap;
  c->outq = q;
  return 0;
}

/* Queues b, as it is, for the end of the loop turn: as a longer piece of
 * what is queued last when b's bytes follow it in the same block. */
static int conn_write_raw(struct conn *c, struct sbuf *b) {
  if (c->closing || c->close_after_flush || c->doomed)
    return -EPIPE;
  struct sbuf *ref = b->block ? b->block : b;
  struct conn_outq *q = c->outq;
  if (q && q->n > 0 && q->s[q->n - 1].ref == ref &&
      q->s[q->n - 1].data + q->s[q->n - 1].len == b->data) {
    /* The cap, without asking libuv each time: what it held at the lending
     * can only have shrunk since. */
    if (q->before + q->bytes + b->len > c->max_out && conn_over_cap(c, b->len))
      return -ENOBUFS;
    q->s[q->n - 1].len += b->len;
    q->bytes += b->len;
    return 0; /* already on the flush list */
  }
  if (q && q->n == CONN_OUTQ)
    conn_flush_now(c);
  if (c->doomed)
    return -EPIPE;
  if (conn_over_cap(c, b->len))
    return -ENOBUFS;
  if (conn_outq_room(c) < 0) {
    conn_close_soon(c);
    return -ENOMEM;
  }
  sbuf_ref(ref);
  c->outq->s[c->outq->n++] = (struct conn_slice){ref, b->data, b->len};
  c->outq->bytes += b->len;
  conn_flush_later(c);
  return 0;
}

/* Queues what TLS has for the peer (records, handshake, alerts). */
static int conn_tls_flush(struct conn *c) {
  size_t n = tls_conn_pending(c->tls);
  if (n == 0)
    return 0;
  struct sbuf *b = sbuf_new(n);
  if (b == NULL) {
    conn_close_soon(c);
    return -ENOMEM;
  }
  b->len = tls_conn_take(c->tls, b->data, n);
  int rc = conn_write_raw(c, b);
  sbuf_unref(b);
  return rc;
}

/* Everything queued on c leaves now: TLS's records, then one writev. */
static void conn_flush(struct conn *c) {
  if (c->closing || c->doomed) {
    conn_drop_queued(c);
    return;
  }
  if (c->tls)
    conn_tls_flush(c);
  conn_flush_now(c);
}

static void conn_flush_all(struct conn_listener *l) {
  while (l->flush) {
    struct conn *c = l->flush;
    l->flush = c->next_flush;
    c->next_flush = NULL;
    c->flush_queued = 0;
    conn_flush(c);
    conn_unref(c);
  }
  uv_idle_stop(&l->flush_idle);
}

int conn_write(struct conn *c, struct sbuf *b) {
  if (c->tls == NULL)
    return conn_write_raw(c, b);
  if (c->closing || c->close_after_flush || c->doomed)
    return -EPIPE;
  if (conn_over_cap(c, b->len))
    return -ENOBUFS;
  /* Each connection encrypts its own copy: the shared frame stays shared
   * up to here. The records leave at the end of the turn. */
  if (tls_conn_write(c->tls, b->data, b->len) < 0) {
    conn_close_soon(c);
    return -EPIPE;
  }
  conn_flush_later(c);
  return 0;
}

int conn_write_copy(struct conn *c, const void *data, size_t len) {
  struct sbuf *b = sbuf_new(len);
  if (b == NULL)
    return -ENOMEM;
  memcpy(b->data, data, len);
  int rc = conn_write(c, b);
  sbuf_unref(b);
  return rc;
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out) {
  /* One read buffer per listener: protocols copy what they keep. */
  struct conn *c = h->data;
  out->base = (char *)c->listener->read_buf;
  out->len = sizeof(c->listener->read_buf);
}

static void conn_on_plain(void *arg, const uint8_t *data, size_t len) {
  struct conn *c = arg;
  if (!c->closing && !c->doomed)
    c->ops->on_data(c, data, len);
}

/* Ciphertext from the peer: plaintext to the protocol, then whatever TLS
 * answers (handshake, alerts) to the peer. A broken or closed session ends
 * the connection once its last records are out. */
static void conn_tls_read(struct conn *c, const uint8_t *data, size_t len) {
  int rc = tls_conn_feed(c->tls, data, len, conn_on_plain, c);
  if (c->closing)
    return;
  conn_tls_flush(c);
  if (rc == -ECONNRESET)
    conn_close_after_flush(c);
  else if (rc < 0) {
    log_ev(LOG_DEBUG, "TLS error", LOG_U("conn", c->id), LOG_S("ip", c->peer_ip));
    conn_close_after_flush(c);
  }
}

/* Bytes for the connection's protocol, through TLS when it has it. */
static void conn_deliver(struct conn *c, const uint8_t *data, size_t len) {
  if (c->closing || c->doomed || len == 0)
    return;
  if (c->tls)
    conn_tls_read(c, data, len);
  else
    c->ops->on_data(c, data, len);
}

/* The first bytes go to the listener's sniffer until it decides. */
static void conn_sniff(struct conn *c, const uint8_t *data, size_t len) {
  struct conn_listener *l = c->listener;
  uint8_t joined[CONN_SNIFF_MAX + CONN_READ_BUF];
  if (c->sniff_len) { /* bytes held from before: the sniffer sees them all at once */
    memcpy(joined, c->sniff_buf, c->sniff_len);
    memcpy(joined + c->sniff_len, data, len);
    data = joined;
    len += c->sniff_len;
    c->sniff_len = 0;
  }
  int rc = l->sniff(l->sniff_arg, c, data, len);
  if (rc == -EAGAIN && len < CONN_SNIFF_MAX) {
    memcpy(c->sniff_buf, data, len);
    c->sniff_len = (uint8_t)len;
    return;
  }
  c->sniffed = 1;
  if (rc != 1)
    conn_deliver(c, data, len);
}

static void conn_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct conn *c = s->data;
  if (n < 0) {
    conn_close(c);
    return;
  }
  if (!c->sniffed && c->listener->sniff && !c->closing && !c->doomed)
    conn_sniff(c, (const uint8_t *)buf->base, (size_t)n);
  else
    conn_deliver(c, (const uint8_t *)buf->base, (size_t)n);
}

void conn_rebind(struct conn *c, const struct conn_ops *ops, void *proto) {
  if (c->ops && c->ops->on_free)
    c->ops->on_free(c);
  tls_conn_free(c->tls);
  c->tls = NULL;
  c->ops = ops;
  c->proto = proto;
}

void conn_read_start(struct conn *c) {
  if (c->closing || c->reading || c->close_after_flush)
    return;
  if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_on_read) == 0)
    c->reading = 1;
}

void conn_read_stop(struct conn *c) {
  if (!c->reading || c->closing)
    return;
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = 0;
}

static void conn_peer_name(struct conn *c) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) < 0)
    return;
  if (ss.ss_family == AF_INET6)
    uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer_ip, sizeof(c->peer_ip));
  else
    uv_ip4_name((struct sockaddr_in *)&ss, c->peer_ip, sizeof(c->peer_ip));
}

/* Counts c against its address's cap; -EBUSY when the address is at it. */
static int conn_ip_admit(struct conn *c) {
  struct conn_limits *lim = c->listener->limits;
  if (lim == NULL || lim->max_per_ip == 0 || c->peer_ip[0] == 0 ||
      (lim->exempt && ipset_contains(lim->exempt, c->peer_ip)))
    return 0;
  int rc = map_count_take(&lim->by_ip, c->peer_ip, strlen(c->peer_ip), lim->max_per_ip);
  if (rc == -EBUSY) {
    lim->refused_per_ip++;
    return rc;
  }
  c->ip_counted = rc == 0; /* out of memory: let in, uncounted */
  return 0;
}

/* Over its address's cap: a plain connection hears why (HTTPS and ICE-TCP
 * peers cannot read it and just see the close). */
static void conn_refuse_busy(struct conn *c) {
  static const char busy[] = "HTTP/1.1 429 Too Many Requests\r\n"
                             "Content-Type: text/plain; charset=utf-8\r\n"
                             "Content-Length: 41\r\nConnection: close\r\n\r\n"
                             "Too many connections from your address.\n";
  uv_os_fd_t fd;
  if (c->listener->tls == NULL && uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) {
    /* What the client sent already is read first: closing a socket with
     * unread bytes resets it, and the client would not see the answer. */
    for (int i = 0; i < 4 && recv(fd, c->listener->read_buf, CONN_READ_BUF, MSG_DONTWAIT) > 0; i++)
      ;
    uv_buf_t b = uv_buf_init((char *)busy, sizeof(busy) - 1);
    uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
  }
  conn_close(c);
}

/* Takes the connection libuv holds for l and binds its protocol. */
static void conn_accept_one(struct conn_listener *l) {
  struct conn *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return;
  uv_tcp_init(l->tcp.loop, &c->tcp);
  c->tcp.data = c;
  c->refs = 1;
  c->id = next_conn_id++;
  c->app = l->app;
  c->listener = l;
  c->max_out = 1024 * 1024;
  c->next = l->conns;
  if (l->conns)
    l->conns->prev = c;
  else
    l->oldest = c;
  l->conns = c;
  l->nconns++;
  if (l->limits)
    l->limits->total++;
  if (uv_accept((uv_stream_t *)&l->tcp, (uv_stream_t *)&c->tcp) < 0 || l->refusing) {
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  conn_peer_name(c);
  if (conn_ip_admit(c) < 0) {
    conn_refuse_busy(c);
    return;
  }
  if (l->tls && (c->tls = tls_conn_new(l->tls)) == NULL) {
    conn_close(c);
    return;
  }
  l->accept_cb(c);
  conn_read_start(c);
}

/* Closes the oldest connection of l's limits that waits for nothing;
 * returns 1 if there was one. */
static int conn_evict_idle(struct conn_limits *lim) {
  for (struct conn_listener *l = lim->listeners; l; l = l->next_limited) {
    for (struct conn *c = l->oldest; c; c = c->prev) {
      if (!c->closing && !c->doomed && !c->close_after_flush && c->ops && c->ops->idle &&
          c->ops->idle(c)) {
        lim->evicted++;
        log_ev(LOG_DEBUG, "idle connection closed for a new one", LOG_U("conn", c->id),
               LOG_S("ip", c->peer_ip));
        conn_close_soon(c);
        return 1;
      }
    }
  }
  return 0;
}

static int conn_limits_full(const struct conn_limits *lim) {
  return lim && lim->max_total && lim->total >= lim->max_total;
}

/* A connection went: paused listeners take theirs while there is room. */
static void conn_limits_resume(struct conn_limits *lim) {
  for (struct conn_listener *l = lim->listeners; l && !conn_limits_full(lim); l = l->next_limited) {
    if (l->paused && !l->closing) {
      l->paused = 0;
      conn_accept_one(l); /* libuv watches the socket again from here */
    }
  }
}

/* At the total cap the connection is left with libuv, which stops
 * watching the socket until it is taken: accepting pauses (new ones wait
 * in the kernel's backlog) while the oldest idle connection closes. */
static void conn_on_accept(uv_stream_t *server, int status) {
  struct conn_listener *l = server->data;
  if (status < 0) {
    log_ev(LOG_WARN, "accept failed", LOG_S("error", uv_strerror(status)));
    return;
  }
  if (conn_limits_full(l->limits)) {
    if (!l->paused)
      l->limits->pauses++;
    l->paused = 1;
    conn_evict_idle(l->limits);
    return;
  }
  conn_accept_one(l);
}

int conn_limits_init(struct conn_limits *lim, size_t max_total, unsigned max_per_ip,
                     const struct ipset *exempt) {
  memset(lim, 0, sizeof(*lim));
  lim->max_total = max_total;
  lim->max_per_ip = max_per_ip;
  lim->exempt = exempt;
  return map_init(&lim->by_ip);
}

void conn_limits_free(struct conn_limits *lim) { map_free(&lim->by_ip); }

size_t conn_fd_limit(void) {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) < 0)
    return 0;
  if (r.rlim_cur < r.rlim_max) {
    struct rlimit raised = {r.rlim_max, r.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
      r.rlim_cur = r.rlim_max;
  }
  return r.rlim_cur == RLIM_INFINITY || r.rlim_cur > SIZE_MAX ? SIZE_MAX : (size_t)r.rlim_cur;
}

void conn_listener_limit(struct conn_listener *l, struct conn_limits *lim) {
  l->limits = lim;
  l->next_limited = lim->listeners;
  lim->listeners = l;
}

int conn_listener_init(struct conn_listener *l, uv_loop_t *loop, conn_accept_cb accept_cb,
                       void *app) {
  memset(l, 0, sizeof(*l));
  l->accept_cb = accept_cb;
  l->app = app;
  uv_tcp_init(loop, &l->tcp);
  l->tcp.data = l;
  uv_check_init(loop, &l->doom_check);
  l->doom_check.data = l;
  uv_unref((uv_handle_t *)&l->doom_check);
  uv_idle_init(loop, &l->flush_idle);
  l->flush_idle.data = l;
  l->handles_open = 3;
  return uv_check_start(&l->doom_check, conn_on_doom_check);
}

void conn_listener_use_tls(struct conn_listener *l, struct tls_ctx *t) { l->tls = t; }

void conn_listener_refuse(struct conn_listener *l) { l->refusing = 1; }

void conn_listener_set_sniffer(struct conn_listener *l, conn_sniff_fn sniff, void *arg) {
  l->sniff = sniff;
  l->sniff_arg = arg;
}

int conn_listener_start(struct conn_listener *l, const char *host, int port) {
  struct sockaddr_storage ss;
  int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
  if (rc < 0)
    rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
  if (rc < 0)
    return rc;
  rc = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&ss, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&l->tcp, 1024, conn_on_accept);
  return rc;
}

int conn_listener_port(const struct conn_listener *l) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  int rc = uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len);
  if (rc < 0)
    return rc;
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void conn_listener_on_closed(uv_handle_t *h) {
  struct conn_listener *l = h->data;
  l->handles_open--;
  conn_listener_maybe_done(l);
}

void conn_listener_close(struct conn_listener *l, conn_listener_close_cb close_cb) {
  if (l->closing)
    return;
  l->closing = 1;
  l->close_cb = close_cb;
  if (l->limits) { /* the limits outlive l, not their list of it */
    struct conn_listener **pp = &l->limits->listeners;
    while (*pp != l)
      pp = &(*pp)->next_limited;
    *pp = l->next_limited;
  }
  /* conn_close() unlinks each connection: take them from the head. */
  while (l->conns)
    conn_close(l->conns);
  conn_on_doom_check(&l->doom_check); /* what was doomed is closed by now: drop the refs */
  conn_spare_outq_free(l);
  uv_check_stop(&l->doom_check);
  uv_close((uv_handle_t *)&l->tcp, conn_listener_on_closed);
  uv_close((uv_handle_t *)&l->flush_idle, conn_listener_on_closed);
  uv_close((uv_handle_t *)&l->doom_check, conn_listener_on_closed);
}
