#include "media/udp.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

struct udp_sock {
  int fd;
  uv_poll_t poll;
  uv_check_t check;
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
  struct udp_stats stats;
  int closing;
  int handles_closed;
};

static void udp_on_readable(uv_poll_t *p, int status, int events) {
  struct udp_sock *u = p->data;
  if (status < 0)
    return;
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
      u->stats.rx_packets++;
      u->stats.rx_bytes += len;
      u->recv(u->arg, u->rx[i], len, (struct sockaddr *)&u->rx_from[i],
              u->rx_msg[i].msg_hdr.msg_namelen);
    }
    if (n < UDP_BATCH)
      break;
  }
  udp_flush(u);
}

void udp_flush(struct udp_sock *u) {
  size_t done = 0;
  while (done < u->tx_count) {
    int n = sendmmsg(u->fd, u->tx_msg + done, (unsigned)(u->tx_count - done), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      /* EAGAIN (socket buffer full) or a per-destination error: skip one
       * datagram and go on; UDP may lose packets, NACK recovers them. */
      u->stats.tx_dropped++;
      done++;
      continue;
    }
    assert((size_t)n <= u->tx_count - done);
    for (int i = 0; i < n; i++)
      u->stats.tx_bytes += u->tx_msg[done + (size_t)i].msg_len;
    u->stats.tx_packets += (uint64_t)n;
    done += (size_t)n;
  }
  u->tx_count = 0;
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
  uv_poll_init(loop, &u->poll, u->fd);
  u->poll.data = u;
  uv_poll_start(&u->poll, UV_READABLE, udp_on_readable);
  uv_check_init(loop, &u->check);
  u->check.data = u;
  uv_check_start(&u->check, udp_on_check);
  uv_unref((uv_handle_t *)&u->check);
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

const struct udp_stats *udp_get_stats(const struct udp_sock *u) { return &u->stats; }

/* Both handles live in u: free it when the second one has closed (libuv
 * does not promise their order). */
static void udp_on_closed(uv_handle_t *h) {
  struct udp_sock *u = h->data;
  if (++u->handles_closed < 2)
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
}
