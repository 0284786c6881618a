/* TCP connections owned by a listener on a loop. Bytes read go to the
 * protocol bound to a connection (HTTP, then WebSocket after an upgrade)
 * through a small ops table. Writes are shared, reference-counted buffers, so
 * one chat frame can go to thousands of connections without a copy each.
 * What is written to a connection during one loop turn leaves in one
 * writev at the turn's end (CONN_OUTQ buffers at most; more flush early); a
 * connection whose unsent bytes pass its cap is closed (a slow reader is
 * dropped, not buffered). */
#ifndef ONAIR_CONN_H
#define ONAIR_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "util/map.h"

#define CONN_SNIFF_MAX 16    /* first bytes held while a sniffer decides */
#define CONN_OUTQ 256        /* most pieces queued on a connection for one write */
#define CONN_OUTQ_FIRST 8    /* a lent queue's room at first; it doubles as needed */
#define CONN_SPARE_OUTQ 1024 /* spare queues a listener keeps for reuse */

struct conn;
struct conn_listener;
struct tls_ctx;
struct tls_conn;
struct ipset;

#define SBUF_BLOCK (64 * 1024) /* bytes of a block that packed buffers share */
#define SBUF_PACK_MAX 4096     /* larger packed buffers get memory of their own */

/* A write buffer shared by every connection it is queued on. Its bytes are
 * its own (bytes[]), or lie in a block it shares with the packed buffers
 * made before and after it (sbuf_new_packed()). */
struct sbuf {
  uint32_t refs;
  size_t len;
  uint8_t *data;      /* len bytes */
  struct sbuf *block; /* where data lies (one reference held), or NULL */
  size_t cap;         /* a block: the room in bytes[] (len of it used) */
  uint8_t bytes[];
};

/* Returns a buffer of len bytes with one reference (the caller's). */
struct sbuf *sbuf_new(size_t len);
/* The same for a buffer about to go to many connections (a frame for a
 * room): buffers made one after another on a thread lie side by side in one
 * block, so a connection given several in a row sends them as one piece
 * (one iovec). Its len is final: made with the bytes it will hold. */
struct sbuf *sbuf_new_packed(size_t len);
void sbuf_ref(struct sbuf *b);
void sbuf_unref(struct sbuf *b);
/* Drops the thread's current block (its buffers keep it while they live). */
void sbuf_pack_release(void);

/* A run of bytes queued on a connection: in ref's memory (a buffer, or the
 * block of packed buffers side by side), one reference held. */
struct conn_slice {
  struct sbuf *ref;
  const uint8_t *data;
  size_t len;
};

/* What was written to a connection during one loop turn and waits for the
 * turn's end. The listener lends one to a connection while it has some: an
 * idle connection holds none. */
struct conn_outq {
  struct conn_outq *next_free; /* the listener's spare ones (of CONN_OUTQ_FIRST) */
  size_t bytes;
  size_t before; /* bytes unsent (libuv's, TLS's) when it was lent: at most that now */
  unsigned n, cap;
  struct conn_slice s[];
};

struct conn_ops {
  /* Bytes arrived; the protocol consumes what it can. */
  void (*on_data)(struct conn *c, const uint8_t *data, size_t len);
  /* The connection is going away: drop every reference to it. Called once,
   * possibly from inside on_data: do not free proto state here. */
  void (*on_close)(struct conn *c);
  /* The last reference is gone: free proto state. */
  void (*on_free)(struct conn *c);
  /* Optional: 1 when c waits for nothing (a keep-alive between requests)
   * and may be closed to make room for a new connection at the cap. */
  int (*idle)(struct conn *c);
};

struct conn {
  uv_tcp_t tcp;
  const struct conn_ops *ops;
  void *proto;                    /* the protocol's state; ops->on_free frees it */
  void *app;                      /* the listener's application context */
  struct conn_listener *listener; /* the one that accepted it; outlives it */
  struct tls_conn *tls;           /* NULL: plain TCP */
  uint64_t id;                    /* unique in the process for its lifetime */
  char peer_ip[46];               /* remote address, text */
  size_t max_out;                 /* bytes; unsent data beyond this closes the conn */
  unsigned closing : 1;           /* conn_close() was called */
  unsigned reading : 1;
  unsigned close_after_flush : 1;
  unsigned doomed : 1;       /* conn_close_soon() was called */
  unsigned sniffed : 1;      /* the listener's sniffer has seen its first bytes */
  unsigned ip_counted : 1;   /* counted in its listener's limits' by_ip */
  unsigned flush_queued : 1; /* on its listener's flush list */
  uint8_t sniff_len;         /* bytes held in sniff_buf */
  uint8_t sniff_buf[CONN_SNIFF_MAX];
  struct conn_outq *outq;  /* written this loop turn, not yet sent; or NULL */
  struct conn *next_flush; /* the listener's flush list */
  uint32_t refs;           /* the loop's one + async work in flight */
  struct conn *next_doomed;
  struct conn *prev, *next; /* the listener's open connections */
};

/* Caps on the TCP connections of every listener sharing it (one loop):
 * in all (below the descriptor limit) and per client address. At the total
 * cap a listener closes its oldest idle connection and stops accepting
 * until one is gone (the kernel holds new ones in its backlog); over the
 * per-address cap a new connection is answered 429 (plain HTTP) and closed.
 * The caller owns the memory and keeps it while listeners use it. */
struct conn_limits {
  size_t max_total;           /* 0: no cap */
  unsigned max_per_ip;        /* 0: no cap */
  const struct ipset *exempt; /* addresses without a per-address cap, or NULL */
  size_t total;               /* sockets open (accepted, not yet closed) */
  struct map by_ip;           /* peer address -> connections (as uintptr_t) */
  struct conn_listener *listeners;
  uint64_t refused_per_ip; /* connections refused for their address's cap */
  uint64_t evicted;        /* idle connections closed to make room */
  uint64_t pauses;         /* times accepting stopped at the total cap */
};

int conn_limits_init(struct conn_limits *lim, size_t max_total, unsigned max_per_ip,
                     const struct ipset *exempt);
void conn_limits_free(struct conn_limits *lim);
/* Raises the soft descriptor limit to the hard one; returns the limit in
 * force (RLIMIT_NOFILE), or 0 when it cannot be read. */
size_t conn_fd_limit(void);

typedef void (*conn_accept_cb)(struct conn *c);
/* Looks at a connection's first bytes (before TLS) and may take it over for
 * another protocol on the same port (ICE-TCP beside HTTP): returns 1 when it
 * took c (conn_rebind()) and consumed data, 0 when c is not its, -EAGAIN
 * when it needs more bytes (up to CONN_SNIFF_MAX are held for it). */
typedef int (*conn_sniff_fn)(void *arg, struct conn *c, const uint8_t *data, size_t len);
typedef void (*conn_listener_close_cb)(struct conn_listener *l);

#define CONN_READ_BUF (64 * 1024) /* bytes read per callback */

/* A listening TCP socket and the connections it accepted, with what they
 * share: the safe point of the loop where doomed connections close, and one
 * read buffer (protocols copy what they keep). The caller owns the memory
 * (usually embedded in a server) and keeps it until the close callback. */
struct conn_listener {
  uv_tcp_t tcp;
  uv_check_t doom_check;        /* the safe point; queued writes leave here too */
  uv_idle_t flush_idle;         /* active while writes wait: the loop does not block */
  struct conn *flush;           /* connections with queued writes */
  struct conn_outq *spare_outq; /* returned by connections, lent again */
  unsigned nspare_outq;         /* at most CONN_SPARE_OUTQ */
  conn_accept_cb accept_cb;     /* binds a protocol to each new connection */
  void *app;                    /* copied to each connection's app */
  struct tls_ctx *tls;          /* borrowed; NULL: plain TCP */
  conn_sniff_fn sniff;          /* or NULL */
  void *sniff_arg;
  struct conn *doomed;                /* closed at the next safe point */
  struct conn *conns;                 /* open connections, newest first */
  struct conn *oldest;                /* the last of conns */
  struct conn_limits *limits;         /* or NULL */
  struct conn_listener *next_limited; /* the limits' other listeners */
  int paused;                         /* a connection waits in libuv to be accepted */
  size_t nconns;                      /* accepted and not yet freed */
  uint64_t writes;                    /* socket writes (writev) of queued buffers */
  uint64_t bufs_written;              /* the buffers they carried */
  unsigned handles_open;              /* the listener's own uv handles not yet closed */
  int closing;
  int refusing; /* new connections are closed at once (the server is stopping) */
  conn_listener_close_cb close_cb;
  uint8_t read_buf[CONN_READ_BUF];
};

/* Prepares l on loop; nothing listens until conn_listener_start(). */
int conn_listener_init(struct conn_listener *l, uv_loop_t *loop, conn_accept_cb accept_cb,
                       void *app);
/* Connections accepted from now on speak TLS with t's certificate (t must
 * outlive l); their protocols see plaintext. */
void conn_listener_use_tls(struct conn_listener *l, struct tls_ctx *t);
/* New connections are closed as soon as they are accepted (the server is
 * stopping; the kernel would otherwise queue them unanswered). */
void conn_listener_refuse(struct conn_listener *l);
/* Connections of l count against lim (before conn_listener_start). */
void conn_listener_limit(struct conn_listener *l, struct conn_limits *lim);
/* Every new connection's first bytes go to sniff first. */
void conn_listener_set_sniffer(struct conn_listener *l, conn_sniff_fn sniff, void *arg);
/* Listens on host:port (port 0: any free port, see conn_listener_port()). */
int conn_listener_start(struct conn_listener *l, const char *host, int port);
/* The bound port, or a negative errno. */
int conn_listener_port(const struct conn_listener *l);
/* Stops accepting and closes every connection now; close_cb (may be NULL)
 * runs once the listener's handles are closed and every connection is freed
 * (async work holding a reference delays that). l stays valid until then. */
void conn_listener_close(struct conn_listener *l, conn_listener_close_cb close_cb);

/* Switches c to another protocol: the current one's state is freed
 * (ops->on_free), TLS is dropped (a sniffed protocol speaks plain TCP), and
 * ops and proto take its place. */
void conn_rebind(struct conn *c, const struct conn_ops *ops, void *proto);

/* Queues b (the connection takes its own reference) for the write that
 * ends this loop turn, with whatever else was written to c meanwhile.
 * Returns 0, or -ENOBUFS when the conn is being closed for being too slow,
 * or -EPIPE if it is closing. Never closes synchronously. */
int conn_write(struct conn *c, struct sbuf *b);
/* Copies data into a new buffer and writes it. */
int conn_write_copy(struct conn *c, const void *data, size_t len);

/* Starts or stops reading (for back-pressure while a request is handled). */
void conn_read_start(struct conn *c);
void conn_read_stop(struct conn *c);

/* Closes at once (pending writes are dropped). Safe to call twice. Calls
 * ops->on_close synchronously: never call it on another connection while
 * iterating a list that on_close edits; use conn_close_soon(). */
void conn_close(struct conn *c);
/* Closes at the next safe point of the loop (after this callback returns);
 * writes to it are dropped from now on. */
void conn_close_soon(struct conn *c);
/* Closes once everything queued so far has been written (after TLS's
 * close_notify). */
void conn_close_after_flush(struct conn *c);

/* Keeps c's memory alive across async work; conn_unref frees it when the
 * last reference goes and it is closed. */
void conn_ref(struct conn *c);
void conn_unref(struct conn *c);

#endif
