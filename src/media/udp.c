#include "media/udp.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/counter.h"
#include "util/log.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103 /* linux/udp.h, Linux 4.18 */
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

#define UDP_DEST_BUCKETS (2 * UDP_SEND_SLOTS) /* open addressing, power of two */

/* A GSO message being built at a flush: datagrams to one destination, all
 * seg bytes long but the last, which may be shorter (and closes it). */
struct udp_group {
  uint16_t first; /* its first slot, whose address it goes to */
  uint16_t nseg;
  uint16_t seg;    /* bytes of each datagram but the last */
  uint16_t iov;    /* its first entry in gso_iov */
  uint16_t filled; /* entries of gso_iov placed so far */
  uint8_t closed;  /* a shorter datagram ended it */
  uint32_t bytes;
};

struct udp_sock {
  int fd;
  uv_poll_t poll;
  uv_check_t check;
  uv_timer_t pace;       /* the reader's pause (UDP_PACE_MS); never started on a sender */
  uint64_t last_read_ns; /* uv_hrtime() of the last read */
  udp_recv_fn recv;
  void *arg;
  /* receive batch */
  uint8_t rx[UDP_BATCH][UDP_SLOT_BYTES];
  struct sockaddr_storage rx_from[UDP_BATCH];
  struct iovec rx_iov[UDP_BATCH];
  struct mmsghdr rx_msg[UDP_BATCH];
  /* send ring, emptied by every flush */
  uint8_t tx[UDP_SEND_SLOTS][UDP_SLOT_BYTES];
  struct sockaddr_storage tx_to[UDP_SEND_SLOTS];
  struct iovec tx_iov[UDP_SEND_SLOTS];
  struct mmsghdr tx_msg[UDP_SEND_SLOTS];
  size_t tx_count;
  /* GSO: the flush's messages, and which group each destination is in now
   * (a bucket is in use when its gen is the flush's). */
  int gso;
  uint32_t gen;
  struct {
    uint32_t gen;
    uint16_t group;
  } dest[UDP_DEST_BUCKETS];
  uint16_t slot_group[UDP_SEND_SLOTS];
  struct udp_group groups[UDP_SEND_SLOTS];
  struct iovec gso_iov[UDP_SEND_SLOTS];
  struct mmsghdr gso_msg[UDP_SEND_SLOTS];
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } gso_cmsg[UDP_SEND_SLOTS];
  struct udp_stats stats;
  int closing;
  int handles_closed;
};

static void udp_on_readable(uv_poll_t *p, int status, int events);

static void udp_on_pace(uv_timer_t *t) {
  struct udp_sock *u = t->data;
  if (!u->closing)
    uv_poll_start(&u->poll, UV_READABLE, udp_on_readable);
}

static void udp_on_readable(uv_poll_t *p, int status, int events) {
  struct udp_sock *u = p->data;
  if (status < 0)
    return;
  uint64_t t = uv_hrtime();
  COUNTER_ADD(u->stats.rx_reads, 1);
  if (t - u->last_read_ns < 2 * (uint64_t)UDP_PACE_MS * 1000000) {
    /* Busy (read a pause ago or less): after this read, none until the
     * pause is over (the kernel keeps what comes meanwhile; its buffer
     * holds seconds of it). */
    COUNTER_ADD(u->stats.rx_paced, 1);
    uv_poll_stop(&u->poll);
    uv_timer_start(&u->pace, udp_on_pace, UDP_PACE_MS, 0);
  }
  u->last_read_ns = t;
  /* A bounded number of batches per wakeup keeps the loop fair. */
  for (int round = 0; round < 8 && !u->closing; round++) {
    for (int i = 0; i < UDP_BATCH; i++) {
      u->rx_iov[i].iov_base = u->rx[i];
      u->rx_iov[i].iov_len = UDP_SLOT_BYTES;
      memset(&u->rx_msg[i].msg_hdr, 0, sizeof(u->rx_msg[i].msg_hdr));
      u->rx_msg[i].msg_hdr.msg_iov = &u->rx_iov[i];
      u->rx_msg[i].msg_hdr.msg_iovlen = 1;
      u->rx_msg[i].msg_hdr.msg_name = &u->rx_from[i];
      u->rx_msg[i].msg_hdr.msg_namelen = sizeof(u->rx_from[i]);
    }
    int n = recvmmsg(u->fd, u->rx_msg, UDP_BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0)
      break;
    for (int i = 0; i < n && !u->closing; i++) {
      size_t len = u->rx_msg[i].msg_len;
      if (u->rx_msg[i].msg_hdr.msg_flags & MSG_TRUNC)
        continue; /* larger than any packet we accept */
      COUNTER_ADD(u->stats.rx_packets, 1);
      COUNTER_ADD(u->stats.rx_bytes, len);
      u->recv(u->arg, u->rx[i], len, (struct sockaddr *)&u->rx_from[i],
              u->rx_msg[i].msg_hdr.msg_namelen);
    }
    if (n < UDP_BATCH)
      break;
  }
  udp_flush(u);
}

static void gso_fallback(struct udp_sock *u, size_t gi);

/* Sends count messages of msgs: one datagram each, or (grouped) the flush's
 * GSO messages, u->groups[i] telling how many datagrams message i holds. A
 * message the kernel refuses is skipped (EAGAIN when the buffer is full, or
 * an error for one destination): UDP may lose packets, NACK recovers them.
 * A GSO message refused for another reason goes one datagram at a time. */
static void send_messages(struct udp_sock *u, struct mmsghdr *msgs, size_t count, int grouped) {
  size_t done = 0;
  while (done < count) {
    int n = sendmmsg(u->fd, msgs + done, (unsigned)(count - done), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (grouped && errno != EAGAIN && errno != EWOULDBLOCK && u->groups[done].nseg > 1)
        gso_fallback(u, done);
      else
        COUNTER_ADD(u->stats.tx_dropped, grouped ? u->groups[done].nseg : 1);
      done++;
      continue;
    }
    assert((size_t)n <= count - done);
    for (size_t i = done; i < done + (size_t)n; i++) {
      COUNTER_ADD(u->stats.tx_bytes, msgs[i].msg_len);
      COUNTER_ADD(u->stats.tx_packets, grouped ? u->groups[i].nseg : 1);
    }
    COUNTER_ADD(u->stats.tx_sends, (uint64_t)n);
    done += (size_t)n;
  }
}

/* The group slot i's datagram joins: its destination's current group if
 * that takes it, else a new one. Returns the group. */
static uint16_t group_slot(struct udp_sock *u, size_t i, size_t *ngroups) {
  const struct msghdr *m = &u->tx_msg[i].msg_hdr;
  size_t len = u->tx_iov[i].iov_len;
  uint32_t h = 2166136261u; /* FNV-1a over the address */
  for (socklen_t k = 0; k < m->msg_namelen; k++)
    h = (h ^ ((const uint8_t *)m->msg_name)[k]) * 16777619u;
  size_t b = h & (UDP_DEST_BUCKETS - 1);
  for (; u->dest[b].gen == u->gen; b = (b + 1) & (UDP_DEST_BUCKETS - 1)) {
    struct udp_group *g = &u->groups[u->dest[b].group];
    const struct msghdr *gm = &u->tx_msg[g->first].msg_hdr;
    if (gm->msg_namelen != m->msg_namelen || memcmp(gm->msg_name, m->msg_name, m->msg_namelen))
      continue;
    if (!g->closed && g->nseg < UDP_GSO_SEGS && len <= g->seg && g->bytes + len <= UDP_GSO_BYTES) {
      g->nseg++;
      g->bytes += (uint32_t)len;
      g->closed = len < g->seg;
      return u->dest[b].group;
    }
    break; /* a new group for this destination replaces the full one */
  }
  struct udp_group *g = &u->groups[*ngroups];
  *g = (struct udp_group){.first = (uint16_t)i,
                          .nseg = 1,
                          .seg = (uint16_t)len,
                          .bytes = (uint32_t)len,
                          .closed = len < UDP_GSO_MIN_BYTES};
  u->dest[b].gen = u->gen;
  u->dest[b].group = (uint16_t)*ngroups;
  return (uint16_t)(*ngroups)++;
}

/* One message per group: its datagrams' buffers in order, and UDP_SEGMENT
 * when it holds more than one. */
static void build_group_msg(struct udp_sock *u, size_t gi) {
  struct udp_group *g = &u->groups[gi];
  struct mmsghdr *mm = &u->gso_msg[gi];
  const struct msghdr *first = &u->tx_msg[g->first].msg_hdr;
  memset(mm, 0, sizeof(*mm));
  mm->msg_hdr.msg_iov = &u->gso_iov[g->iov];
  mm->msg_hdr.msg_iovlen = g->nseg;
  mm->msg_hdr.msg_name = first->msg_name;
  mm->msg_hdr.msg_namelen = first->msg_namelen;
  if (g->nseg < 2)
    return;
  mm->msg_hdr.msg_control = u->gso_cmsg[gi].buf;
  mm->msg_hdr.msg_controllen = sizeof(u->gso_cmsg[gi].buf);
  struct cmsghdr *c = CMSG_FIRSTHDR(&mm->msg_hdr);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  memcpy(CMSG_DATA(c), &g->seg, sizeof(uint16_t));
}

/* The kernel refused GSO message gi (no checksum offload on the route, a
 * datagram over its MTU): its datagrams go one by one. */
static void gso_fallback(struct udp_sock *u, size_t gi) {
  const struct udp_group *g = &u->groups[gi];
  COUNTER_ADD(u->stats.tx_gso_fallbacks, 1);
  for (uint16_t k = 0; k < g->nseg; k++) {
    size_t slot = (size_t)((uint8_t *)u->gso_iov[g->iov + k].iov_base - u->tx[0]) / UDP_SLOT_BYTES;
    send_messages(u, &u->tx_msg[slot], 1, 0);
  }
}

static void flush_gso(struct udp_sock *u) {
  size_t ngroups = 0;
  if (++u->gen == 0) { /* wrapped: forget every bucket */
    memset(u->dest, 0, sizeof(u->dest));
    u->gen = 1;
  }
  for (size_t i = 0; i < u->tx_count; i++)
    u->slot_group[i] = group_slot(u, i, &ngroups);
  uint16_t next = 0;
  for (size_t g = 0; g < ngroups; g++) {
    u->groups[g].iov = next;
    next = (uint16_t)(next + u->groups[g].nseg);
  }
  for (size_t i = 0; i < u->tx_count; i++) {
    struct udp_group *g = &u->groups[u->slot_group[i]];
    u->gso_iov[g->iov + g->filled++] = u->tx_iov[i];
  }
  for (size_t g = 0; g < ngroups; g++)
    build_group_msg(u, g);
  send_messages(u, u->gso_msg, ngroups, 1);
}

void udp_flush(struct udp_sock *u) {
  if (u->gso && u->tx_count > 1)
    flush_gso(u);
  else
    send_messages(u, u->tx_msg, u->tx_count, 0);
  u->tx_count = 0;
}

int udp_set_gso(struct udp_sock *u, int on) {
  int zero = 0;
  if (on && setsockopt(u->fd, SOL_UDP, UDP_SEGMENT, &zero, sizeof(zero)) < 0)
    return -EOPNOTSUPP;
  udp_flush(u); /* what was queued leaves the way it was grouped for */
  u->gso = on != 0;
  return 0;
}

static void udp_on_check(uv_check_t *c) {
  struct udp_sock *u = c->data;
  if (u->tx_count)
    udp_flush(u);
}

uint8_t *udp_slot(struct udp_sock *u) {
  assert(!u->closing); /* a closed socket's ring is never flushed again */
  if (u->tx_count == UDP_SEND_SLOTS)
    udp_flush(u);
  assert(u->tx_count < UDP_SEND_SLOTS);
  return u->tx[u->tx_count];
}

void udp_commit(struct udp_sock *u, size_t len, const struct sockaddr *to, socklen_t to_len) {
  size_t i = u->tx_count;
  /* The slot is the one udp_slot() handed out: nothing was queued between. */
  assert(i < UDP_SEND_SLOTS && !u->closing);
  if (len > UDP_SLOT_BYTES || to_len > sizeof(u->tx_to[i]))
    return;
  memcpy(&u->tx_to[i], to, to_len);
  u->tx_iov[i].iov_base = u->tx[i];
  u->tx_iov[i].iov_len = len;
  memset(&u->tx_msg[i], 0, sizeof(u->tx_msg[i]));
  u->tx_msg[i].msg_hdr.msg_iov = &u->tx_iov[i];
  u->tx_msg[i].msg_hdr.msg_iovlen = 1;
  u->tx_msg[i].msg_hdr.msg_name = &u->tx_to[i];
  u->tx_msg[i].msg_hdr.msg_namelen = to_len;
  u->tx_count++;
}

void udp_send(struct udp_sock *u, const uint8_t *data, size_t len, const struct sockaddr *to,
              socklen_t to_len) {
  if (len > UDP_SLOT_BYTES)
    return;
  memcpy(udp_slot(u), data, len);
  udp_commit(u, len, to, to_len);
}

int udp_open(uv_loop_t *loop, const char *host, int port, udp_recv_fn recv, void *arg,
             struct udp_sock **out) {
  struct sockaddr_storage ss;
  socklen_t ss_len;
  memset(&ss, 0, sizeof(ss));
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) == 0) {
    ss_len = sizeof(struct sockaddr_in);
  } else if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) == 0) {
    ss_len = sizeof(struct sockaddr_in6);
  } else {
    return -EINVAL;
  }
  struct udp_sock *u = calloc(1, sizeof(*u));
  if (u == NULL)
    return -ENOMEM;
  u->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (u->fd < 0 || bind(u->fd, (struct sockaddr *)&ss, ss_len) < 0) {
    int rc = -errno;
    if (u->fd >= 0)
      close(u->fd);
    free(u);
    return rc;
  }
  int bufsize = 4 * 1024 * 1024;
  setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
  setsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
  u->recv = recv;
  u->arg = arg;
  udp_set_gso(u, 1); /* stays off where the kernel has no UDP_SEGMENT */
  uv_poll_init(loop, &u->poll, u->fd);
  u->poll.data = u;
  uv_poll_start(&u->poll, UV_READABLE, udp_on_readable);
  uv_check_init(loop, &u->check);
  u->check.data = u;
  uv_check_start(&u->check, udp_on_check);
  uv_unref((uv_handle_t *)&u->check);
  uv_timer_init(loop, &u->pace);
  u->pace.data = u;
  *out = u;
  return 0;
}

int udp_local_port(const struct udp_sock *u) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getsockname(u->fd, (struct sockaddr *)&ss, &len) < 0)
    return -errno;
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int udp_local_family(const struct udp_sock *u) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getsockname(u->fd, (struct sockaddr *)&ss, &len) < 0)
    return -errno;
  return ss.ss_family;
}

const struct udp_stats *udp_get_stats(const struct udp_sock *u) { return &u->stats; }

void udp_stats_read(const struct udp_sock *u, struct udp_stats *out) {
  counters_read(out, &u->stats, sizeof(*out) / sizeof(uint64_t));
}

int udp_open_sender(uv_loop_t *loop, const struct udp_sock *of, struct udp_sock **out) {
  struct udp_sock *u = calloc(1, sizeof(*u));
  if (u == NULL)
    return -ENOMEM;
  u->fd = fcntl(of->fd, F_DUPFD_CLOEXEC, 0);
  if (u->fd < 0) {
    int rc = -errno;
    free(u);
    return rc;
  }
  u->gso = of->gso;
  uv_poll_init(loop, &u->poll, u->fd); /* never started: the media plane's loop reads */
  u->poll.data = u;
  uv_check_init(loop, &u->check);
  u->check.data = u;
  uv_check_start(&u->check, udp_on_check);
  uv_unref((uv_handle_t *)&u->check);
  uv_timer_init(loop, &u->pace);
  u->pace.data = u;
  *out = u;
  return 0;
}

/* The three handles live in u: free it when the last one has closed (libuv
 * does not promise their order). */
static void udp_on_closed(uv_handle_t *h) {
  struct udp_sock *u = h->data;
  if (++u->handles_closed < 3)
    return;
  close(u->fd);
  free(u);
}

void udp_close(struct udp_sock *u) {
  if (u == NULL || u->closing)
    return;
  u->closing = 1;
  udp_flush(u);
  uv_poll_stop(&u->poll);
  uv_check_stop(&u->check);
  uv_close((uv_handle_t *)&u->poll, udp_on_closed);
  uv_close((uv_handle_t *)&u->check, udp_on_closed);
  uv_close((uv_handle_t *)&u->pace, udp_on_closed); /* stops it */
}
