/* The one media UDP socket. We own the fd (uv_poll_t) and move datagrams in
 * batches: recvmmsg when readable (paced when busy: UDP_PACE_MS), and every
 * datagram queued during a loop turn leaves in one sendmmsg at the end of
 * the turn (uv_check). Queued datagrams are built in place in the send
 * ring, so forwarding copies nothing on the way out. Where the kernel has
 * UDP GSO (UDP_SEGMENT), the datagrams of one turn to one destination leave
 * as one message the kernel cuts up (runs of equal size, the last of a run
 * may be shorter), in the order they were queued. */
#ifndef ONAIR_UDP_H
#define ONAIR_UDP_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define UDP_BATCH 32        /* datagrams per recvmmsg */
#define UDP_SEND_SLOTS 512  /* datagrams queued per loop turn before a flush */
#define UDP_SLOT_BYTES 2048 /* room for 1500 bytes and the SRTP trailer */
#define UDP_GSO_SEGS 64     /* datagrams in one GSO message, at most (the kernel's cap) */
#define UDP_GSO_BYTES 60000 /* bytes in one GSO message, at most */
/* Shorter datagrams (audio, RTCP) start no GSO run: on loopback their
 * segments take more of a receiver's buffer than plain datagrams do (video
 * sized ones take less), and a few bytes gain little. */
#define UDP_GSO_MIN_BYTES 512
/* A busy socket is read at most once in this long: a read within twice it
 * of the one before leaves the socket alone for it (a uv timer: 1 to 2 ms),
 * so that what comes meanwhile (the viewers' feedback, a few bytes each) is
 * taken in one batch rather than a wakeup each. A quiet socket is read at
 * once. */
#define UDP_PACE_MS 1

/* Only uint64_t counters: udp_stats_read() copies them one by one. */
struct udp_stats {
  uint64_t rx_packets, rx_bytes;
  uint64_t tx_packets, tx_bytes;
  uint64_t tx_dropped; /* the kernel refused (buffer full) */
  uint64_t tx_sends;   /* messages handed to the kernel (a GSO message holds several datagrams) */
  uint64_t tx_gso_fallbacks; /* GSO messages the kernel refused, sent one datagram at a time */
  uint64_t rx_reads;         /* wakeups that read the socket */
  uint64_t rx_paced;         /* of which left the socket alone for UDP_PACE_MS after */
};

/* A received datagram: the bytes may be modified in place (decryption). */
typedef void (*udp_recv_fn)(void *arg, uint8_t *data, size_t len, const struct sockaddr *from,
                            socklen_t from_len);

struct udp_sock;

/* Binds host:port (port 0: any). Returns 0 or a negative errno. */
int udp_open(uv_loop_t *loop, const char *host, int port, udp_recv_fn recv, void *arg,
             struct udp_sock **out);
/* A socket on loop that only sends, through a copy of of's descriptor (so
 * from the same address and port), with of's GSO setting: a worker
 * thread's. Returns 0 or a negative errno. */
int udp_open_sender(uv_loop_t *loop, const struct udp_sock *of, struct udp_sock **out);
void udp_close(struct udp_sock *u);
int udp_local_port(const struct udp_sock *u);
/* AF_INET or AF_INET6 (where IPv4 peers' addresses are v4-mapped). */
int udp_local_family(const struct udp_sock *u);
/* GSO is on from udp_open() where the kernel has it. Turns it off (on = 0)
 * or on again; -EOPNOTSUPP: this kernel has no UDP_SEGMENT. */
int udp_set_gso(struct udp_sock *u, int on);

/* The next send slot's buffer (UDP_SLOT_BYTES); fill it, then commit. */
uint8_t *udp_slot(struct udp_sock *u);
void udp_commit(struct udp_sock *u, size_t len, const struct sockaddr *to, socklen_t to_len);
/* Copies data into a slot and commits it. */
void udp_send(struct udp_sock *u, const uint8_t *data, size_t len, const struct sockaddr *to,
              socklen_t to_len);
/* Sends everything queued now (also done at the end of each loop turn). */
void udp_flush(struct udp_sock *u);

/* The counters; u's own loop only. */
const struct udp_stats *udp_get_stats(const struct udp_sock *u);
/* A copy of the counters, from any thread. */
void udp_stats_read(const struct udp_sock *u, struct udp_stats *out);

#endif
