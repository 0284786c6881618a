/* onair-chat-bench: the chat benchmark's client (bench/run-chat.sh drives
 * it). One libuv loop holds every connection: a broadcaster and N viewers
 * speaking onair's /ws protocol (docs/protocol.md) or the seed's socket.io
 * 2.3 (engine.io v3 over WebSocket), over this program's own minimal
 * HTTP/1.1 and WebSocket client. Modes: burst (the broadcaster posts M chat
 * messages at once, every viewer counts them and the send-to-receive
 * latency of each) and idle (N WebSockets held open, the server's memory
 * per connection). One JSON line of results per run; `report` turns the
 * lines of a whole run into a table and the ratios onair / seed. */
#ifndef CB_H
#define CB_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "proc.h"

#define CB_READ_BUF (256 * 1024) /* bytes of the one shared read buffer */
#define CB_MSG_MAX (256 * 1024)  /* bytes of one WebSocket message (all fragments), at most */
#define CB_HEAD_MAX (16 * 1024)  /* bytes of an HTTP response head, at most */
#define CB_BODY_MAX (64 * 1024)  /* bytes of an HTTP response body, at most */
#define CB_COOKIE_MAX 128        /* bytes of "onair_session=..." and its NUL */

#define CB_CONTAINER_OF(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

enum cb_server { CB_ONAIR, CB_SEED };
enum cb_mode { CB_BURST, CB_IDLE };
enum cb_role { ROLE_HTTP, ROLE_BROADCASTER, ROLE_VIEWER };
enum cb_cstate { CS_NEW, CS_CONNECTING, CS_HTTP, CS_WS, CS_CLOSED };

/* Bytes kept between reads; p is owned, len <= cap <= the cap given when
 * it grows (cb_buf_append). Empty buffers hold no memory. */
struct cb_buf {
  uint8_t *p;
  uint32_t len, cap;
};

struct cb_conn;
struct cb_bench;

/* What a protocol does with a connection's events (proto.c: onair, seed). */
struct cb_proto {
  const char *name;
  const char *ws_path; /* of the upgrade request */
  /* Extra header lines of the upgrade request ("" or "Name: value\r\n..."),
   * written into out (cap bytes); returns their length, or -1. */
  int (*headers)(struct cb_conn *c, char *out, size_t cap);
  void (*on_open)(struct cb_conn *c);                          /* 101 received */
  void (*on_text)(struct cb_conn *c, const char *p, size_t n); /* one text message */
  void (*on_tick)(struct cb_conn *c, int64_t now_ms);          /* once a second */
};

/* HTTP answer for a ROLE_HTTP connection (setup requests): status, the
 * value of its onair_session cookie ("" when none). */
typedef void (*cb_http_cb)(struct cb_conn *c, int status, const char *cookie);

/* One TCP connection: HTTP request, then (for the broadcaster and the
 * viewers) WebSocket frames. Viewers live in one array of the bench (never
 * freed before exit); the HTTP and broadcaster ones are malloc'd and freed
 * in their close callback. */
struct cb_conn {
  uv_tcp_t tcp;
  struct cb_bench *b;
  uv_connect_t connect;
  uint32_t idx;   /* viewer index */
  uint8_t role;   /* enum cb_role */
  uint8_t state;  /* enum cb_cstate */
  uint8_t frag;   /* opcode of the fragmented message being gathered, 0: none */
  uint8_t joined; /* the viewer (or broadcaster) finished joining */
  uint8_t settled;
  uint8_t counted;       /* counted as open (or lost) */
  char ws_key[25];       /* our Sec-WebSocket-Key */
  uint32_t viewers_seen; /* onair: the last room.viewers count seen */
  int64_t next_ping_ms;  /* seed: when "2" goes next (uv_now ms) */
  struct cb_buf in;      /* unparsed bytes: a partial head or frame */
  struct cb_buf msg;     /* a fragmented message being gathered */
  char *req;             /* ROLE_HTTP: the request, owned */
  size_t req_len;
  cb_http_cb http_cb;
};

struct cb_opts {
  int server;    /* enum cb_server */
  int mode;      /* enum cb_mode */
  char host[64]; /* the server's IPv4 address */
  int port;
  int pid;              /* the server's, for its CPU time and memory */
  uint32_t viewers;     /* N */
  uint32_t messages;    /* M (burst) */
  uint32_t concurrency; /* connections being set up at once */
  uint32_t per_addr;    /* connections per loopback source address */
  int join;             /* idle: the viewers join the room too */
  double timeout_s;     /* each wait, at most */
  double hold_s;        /* idle: window over which the server's idle CPU is read */
  char label[32];       /* the server's name in the results */
};

/* Phases of one run, in order; the tick timer moves between them. */
enum cb_phase {
  PH_SIGNUP,
  PH_BROADCASTER,
  PH_PAUSE,
  PH_JOIN,
  PH_SETTLE,
  PH_REST,
  PH_BURST,
  PH_HOLD,
  PH_DONE
};

struct cb_bench {
  uv_loop_t *loop;
  struct cb_opts o;
  const struct cb_proto *proto;
  uv_timer_t tick;
  int phase;           /* enum cb_phase */
  uint64_t phase_t0;   /* uv_hrtime() when the phase began, ns */
  uint64_t progress;   /* uv_hrtime() when the last viewer joined, ns */
  uint64_t last_sweep; /* ms of the last once-a-second sweep */
  int failed;          /* the run cannot go on: exit 1 */
  int signups;         /* setup answers received */
  char bc_cookie[CB_COOKIE_MAX], v_cookie[CB_COOKIE_MAX];
  char room[64];
  struct cb_conn *bc;      /* the broadcaster, or NULL */
  int bc_ready;            /* live (onair) or room registered (seed) */
  struct cb_conn *viewers; /* N, owned */
  uint32_t started, opened, joined, settled, lost, failed_conns;
  uint64_t got, want, refused, errors, viewer_frames;
  uint32_t *lat_us; /* latency of each delivery, µs; owned, want entries */
  uint64_t nlat;
  uint64_t t_join0, t_joined, t_send0, t_last; /* uv_hrtime() ns */
  uint64_t now_ns;                             /* uv_hrtime() of the read being handled */
  double cpu_join0, cpu_join1, cpu0, cpu1, hold_cpu0, hold_cpu1;
  double ucpu0, ucpu1; /* our own CPU, s */
  double busy0, busy1; /* every CPU's busy time on the machine, s (/proc/stat) */
  uint64_t t_hold0, t_hold1;
  long rss0, rss1; /* server VmRSS, KiB */
};

/* ---- conn.c ---- */
void cb_conn_init(struct cb_conn *c, struct cb_bench *b, int role, uint32_t idx);
/* Connects c to the server (from src, or the default source address when
 * src is NULL); for ROLE_HTTP writes req (owned by c from here) and calls
 * cb once, for the others upgrades to the protocol's WebSocket. 0 or a
 * negative errno. */
int cb_conn_start(struct cb_conn *c, const struct sockaddr_in *src);
int cb_http_request(struct cb_conn *c, char *req, size_t len, cb_http_cb cb);
/* Sends one text message (masked, one frame). 0 or a negative errno. */
int cb_ws_text(struct cb_conn *c, const char *p, size_t n);
/* Frames one masked text message into out (cap bytes, at least n + 14);
 * returns the frame's length. */
size_t cb_ws_frame(uint8_t *out, int opcode, const char *p, size_t n);
/* Writes bytes already framed (copied). 0 or a negative errno. */
int cb_conn_write(struct cb_conn *c, const void *p, size_t n);
void cb_conn_close(struct cb_conn *c, const char *why);

/* ---- proto.c ---- */
extern const struct cb_proto cb_onair, cb_seed;
/* The broadcaster sends the burst: M messages, each with its send time. */
int cb_send_burst(struct cb_bench *b);
/* A delivery to a viewer: the text holds "#<send ns>". */
void cb_delivery(struct cb_bench *b, const char *p, size_t n);

/* ---- run.c ---- */
int cb_run(struct cb_bench *b);
void cb_viewer_opened(struct cb_conn *c); /* its WebSocket is up (idle without join: done) */
/* A viewer joined the room: c, or NULL when only the count is known (the
 * seed tells the broadcaster). */
void cb_viewer_joined(struct cb_bench *b, struct cb_conn *c);
void cb_conn_lost(struct cb_conn *c, const char *why);

/* ---- stats.c ---- */
double cb_self_cpu(void);     /* our own user+system CPU, s */
double cb_machine_busy(void); /* busy time of all CPUs, s; -1 when unreadable */
void cb_print_result(struct cb_bench *b);

/* ---- report.c ---- */
int cb_report(const char *path);

/* ---- main.c ---- */
void cb_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
