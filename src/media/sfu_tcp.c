/* ICE-TCP (RFC 6544): a browser whose UDP cannot reach onair connects to
 * the site's own TCP port (the HTTP one; the first bytes tell the two apart)
 * and sends its checks, DTLS and SRTP as packets framed by a 2-byte length
 * (RFC 4571). onair's side is passive: it answers checks on the connection
 * they came over, and a peer's media goes over its nominated connection. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "media/sfu_int.h"
#include "media/stun.h"
#include "net/conn.h"
#include "util/log.h"

#define TCP_FRAME_MAX UDP_SLOT_BYTES /* a framed packet: what a datagram may be */

int sfu_tcp_sniff(const uint8_t *d, size_t len) {
  /* length (2), then a STUN binding request: type 0x0001, a length that is a
   * multiple of 4 and fits the frame, the magic cookie. */
  static const uint8_t head[] = {0x00, 0x01};
  static const uint8_t cookie[] = {0x21, 0x12, 0xa4, 0x42};
  size_t want = 2 + 8;
  size_t n = len < want ? len : want;
  uint8_t probe[10] = {0};
  memcpy(probe, d, n);
  if (n >= 4 && memcmp(probe + 2, head, 2) != 0)
    return 0;
  if (n >= 2 && (probe[0] << 8 | probe[1]) > TCP_FRAME_MAX)
    return 0;
  if (n >= 1 && probe[0] > (TCP_FRAME_MAX >> 8))
    return 0;
  if (n >= 10 && memcmp(probe + 6, cookie, 4) != 0)
    return 0;
  return n < want ? -EAGAIN : 1;
}

void sfu_tcp_send(struct sfu_tcp *t, const uint8_t *data, size_t len) {
  if (t->conn == NULL || len > TCP_FRAME_MAX)
    return;
  struct sbuf *b = sbuf_new(2 + len);
  if (b == NULL)
    return;
  b->data[0] = (uint8_t)(len >> 8);
  b->data[1] = (uint8_t)len;
  memcpy(b->data + 2, data, len);
  conn_write(t->conn, b);
  sbuf_unref(b);
}

static void tcp_unlink_from_peer(struct sfu_tcp *t) {
  struct sfu_peer *p = t->peer;
  if (p == NULL)
    return;
  struct sfu_tcp **pp = &p->tcps;
  while (*pp && *pp != t)
    pp = &(*pp)->peer_next;
  assert(*pp == t && p->ntcp > 0); /* t is on its peer's list */
  if (*pp) {
    *pp = t->peer_next;
    p->ntcp--;
  }
  if (p->tcp == t) {
    p->tcp = NULL; /* no path until another check, or consent runs out */
    sfu_share_view_path(p);
  }
  t->peer = NULL;
  t->peer_next = NULL;
}

int sfu_tcp_bind(struct sfu_tcp *t, struct sfu_peer *p, int use_candidate) {
  assert(p->state != PEER_CLOSED && t->conn); /* checks of closed peers are refused first */
  if (t->peer && t->peer != p)
    return -EPERM;
  if (t->peer == NULL) {
    if (p->ntcp >= SFU_MAX_TCP)
      return -EPERM;
    t->peer = p;
    t->peer_next = p->tcps;
    p->tcps = t;
    p->ntcp++;
  }
  if (use_candidate || (!p->nominated && p->tcp == NULL && p->addr_key_len == 0)) {
    if (use_candidate)
      p->nominated = 1;
    p->tcp = t;
    sfu_share_view_path(p);
  }
  return 0;
}

void sfu_tcp_forget_peer(struct sfu_peer *p) {
  while (p->tcps) {
    struct sfu_tcp *t = p->tcps;
    tcp_unlink_from_peer(t);
    if (t->conn)
      conn_close_soon(t->conn); /* a connection with no peer is of no use */
  }
  assert(p->ntcp == 0 && p->tcp == NULL);
}

/* One whole packet from the connection. */
static void tcp_packet(struct sfu_tcp *t, uint8_t *data, size_t len) {
  struct sfu *s = t->sfu;
  if (len == 0)
    return;
  if (data[0] <= 3) {
    sfu_on_stun(s, data, len, (const struct sockaddr *)&t->from, t->from_len, t);
    if (t->peer == NULL && t->conn)
      conn_close_after_flush(t->conn); /* not a check of ours: the error goes, then we */
    return;
  }
  struct sfu_peer *p = t->peer;
  assert(p == NULL || p->state != PEER_CLOSED); /* a closing peer's connections forgot it */
  if (p == NULL || p->state == PEER_NEW) {
    s->stats.dropped[SFU_DROP_UNKNOWN_PEER]++;
    return;
  }
  if (data[0] >= 20 && data[0] <= 63)
    sfu_on_dtls(p, data, len);
  else if (data[0] >= 128 && data[0] <= 191 && p->state == PEER_CONNECTED)
    sfu_fwd_srtp(p, data, len);
  else
    s->stats.dropped[SFU_DROP_NOT_MEDIA]++;
}

static void tcp_on_data(struct conn *c, const uint8_t *data, size_t len) {
  struct sfu_tcp *t = c->proto;
  while (len > 0 && !c->closing && !c->doomed && !c->close_after_flush) {
    size_t need = t->have < 2 ? 2 : 2 + (size_t)(t->frame[0] << 8 | t->frame[1]);
    size_t n = need - t->have < len ? need - t->have : len;
    memcpy(t->frame + t->have, data, n);
    t->have += n;
    data += n;
    len -= n;
    if (t->have == 2 && (t->frame[0] << 8 | t->frame[1]) > TCP_FRAME_MAX) {
      log_ev(LOG_DEBUG, "ice-tcp frame too large", LOG_U("bytes", t->frame[0] << 8 | t->frame[1]),
             LOG_S("ip", c->peer_ip));
      conn_close_soon(c);
      return;
    }
    if (t->have >= 2 && t->have == 2 + (size_t)(t->frame[0] << 8 | t->frame[1])) {
      size_t plen = t->have - 2;
      t->have = 0;
      tcp_packet(t, t->frame + 2, plen);
    }
  }
}

static void tcp_on_close(struct conn *c) {
  struct sfu_tcp *t = c->proto;
  assert(t->conn == c);
  tcp_unlink_from_peer(t);
  if (t->prev)
    t->prev->next = t->next;
  else if (t->sfu->tcps == t)
    t->sfu->tcps = t->next;
  if (t->next)
    t->next->prev = t->prev;
  t->prev = t->next = NULL;
  t->conn = NULL;
}

static void tcp_on_free(struct conn *c) {
  free(c->proto);
  c->proto = NULL;
}

static const struct conn_ops tcp_ops = {
    .on_data = tcp_on_data,
    .on_close = tcp_on_close,
    .on_free = tcp_on_free,
};

int sfu_tcp_take(struct sfu *s, struct conn *c, const uint8_t *data, size_t len) {
  struct sfu_tcp *t = calloc(1, sizeof(*t));
  if (t == NULL) {
    conn_close_soon(c);
    return 1;
  }
  t->sfu = s;
  t->conn = c;
  int alen = sizeof(t->from);
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&t->from, &alen) == 0)
    t->from_len = (socklen_t)alen;
  t->next = s->tcps;
  if (s->tcps)
    s->tcps->prev = t;
  s->tcps = t;
  conn_rebind(c, &tcp_ops, t);
  log_ev(LOG_DEBUG, "ice-tcp connection", LOG_S("ip", c->peer_ip));
  tcp_on_data(c, data, len);
  return 1;
}

void sfu_tcp_close_all(struct sfu *s) {
  while (s->tcps)
    conn_close(s->tcps->conn); /* on_close unlinks it */
}

void sfu_set_tcp_port(struct sfu *s, int port) { s->tcp_port = port; }
