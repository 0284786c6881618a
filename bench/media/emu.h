/* The viewer emulator and the run that drives it (viewer.c, onair.c,
 * janus.c, run.c, procstat.c). */
#ifndef MB_EMU_H
#define MB_EMU_H

#include "mb.h"

struct twcc_recv;

#define MB_MAX_SIZES 16
#define MB_TRACKS 4
#define MB_SEEN 1024 /* sequence numbers remembered per track */
#define MB_PEND 16   /* sequence numbers awaiting retransmission per track */

struct mb_cfg {
  const char *server; /* "onair" or "janus" */
  const char *label;  /* the rows' "server": the server, or a variant of it ("onair-nogso") */
  const char *http_host;
  int http_port;
  const char *media_host; /* our sockets bind here; servers' media is here too */
  int pid;                /* the server's */
  int gcm;
  unsigned sizes[MB_MAX_SIZES], nsizes;
  unsigned settle_s, first_settle_s, window_s, join_conc, join_timeout_s, rcvbuf;
  unsigned parts;    /* the window's parts: us_per_pkt is their median */
  unsigned repeat;   /* which of run-media.sh's REPEATS this run is (1, 2, ...) */
  double loss_limit; /* percent */
  int janus_video_port, janus_audio_port, janus_stream;
  const char *server_cpus, *emu_cpus; /* "0", "1", "0-1", ... */
  const char *out;                    /* rows appended here, one JSON line each */
  unsigned width, height, kbps, stream_s;
  const char *stream_file; /* load the stream from here instead of making it */
  unsigned poll_us;        /* sleep after a turn that kept up */
  unsigned sample_every;   /* decrypt 1 in this many packets once live */
  unsigned drop_every;     /* a check of NACKs: ignore 1 in this many RTP packets (0: none) */
  unsigned twcc; /* viewers offer transport-wide cc: 0 no; k >= 1: all do, 1 in k sends feedback */
  int simulcast; /* onair: the publisher sends three layers, as Chromium (publisher.c) */
  int pub_pause; /* simulcast: media.layers turns layers off and on, as the broadcast page */
  /* viewers mode (mb_hold) */
  const char *room; /* the room the viewers join; NULL: our publisher's */
  int publish;      /* 1: a publisher of our own first, as run's */
  unsigned hold_s;  /* seconds the viewers stay once joined (SIGTERM ends it sooner) */
};

struct mb_track {
  uint32_t ssrc;
  uint8_t video;
  uint8_t npend;
  uint32_t first, max; /* extended sequence numbers */
  uint64_t unique, dups, filled, late;
  uint32_t samples;
  uint32_t rr_expected, rr_unique; /* at the last receiver report */
  uint32_t lsr;                    /* middle 32 bits of the last SR's NTP time */
  int64_t sr_at;                   /* CLOCK_MONOTONIC ns that SR came */
  uint8_t seen[MB_SEEN / 8];
  uint16_t pend[MB_PEND];
  uint8_t tries[MB_PEND];
  int64_t pend_next;
};

/* A viewer's join: signaling, then ICE and DTLS (these two are what the
 * join concurrency counts), then keyed and waiting for a keyframe, live. */
enum mb_vstate { V_IDLE, V_SIGNALING, V_MEDIA, V_UP, V_LIVE, V_FAILED };

struct mb_viewer {
  unsigned idx;
  int state; /* enum mb_vstate */
  const char *why;
  struct mb_io udp;
  struct mb_conn conn;
  struct mb_hc hc;
  int step;                    /* signaling step */
  int offered;                 /* onair: media.offer sent */
  int64_t t_join, t_up, t_key; /* CLOCK_MONOTONIC ns */
  int first_video_key;         /* 1: the first video packet started a keyframe, -1: it did not */
  uint32_t ssrc;
  int vp8_pt;
  unsigned ntr;
  struct mb_track tr[MB_TRACKS];
  uint64_t rtp, rtcp, dec_ok, dec_fail, keys, nacks, nacked;
  uint32_t ovfl; /* the socket's drop counter (SO_RXQ_OVFL) */
  int64_t next_rr;
  uint64_t janus_session, janus_handle;
  /* Transport-wide congestion control, when the server answered it and
   * this viewer is one that sends feedback (cfg twcc) */
  struct twcc_recv *twcc; /* owned (malloc), NULL: none */
  uint8_t twcc_id;        /* the extension's id, 1..14 */
  uint32_t twcc_ssrc;     /* the media SSRC of the newest packet numbered */
  int64_t next_fb;        /* CLOCK_MONOTONIC ns the next feedback is due */
  uint64_t twcc_pkts;     /* packets that carried the extension */
  uint64_t twcc_bare;     /* packets that did not */
  uint64_t twcc_fbs;      /* feedback packets sent */
  uint64_t pad;           /* packets on RTX (onair's probes: padding only), not in rtp */
};

struct mb_emu {
  const struct mb_cfg *cfg;
  struct mb_dtls dtls;
  struct mb_stream st;
  struct mb_stream lower[MB_LAYERS - 1]; /* simulcast: the layers below st, lowest first */
  struct mb_pub pub;
  struct mb_viewer *v; /* cfg max size of them */
  unsigned nv;         /* allocated */
  unsigned target;     /* viewers [0, target) should be joined */
  unsigned started;    /* viewers whose join has begun */
  unsigned joining;    /* in signaling, ICE or DTLS */
  unsigned pending;    /* begun, neither live nor failed */
  int measuring;       /* a window is open: decrypted samples give delays */
  int64_t last_turn;   /* when the loop last began a turn */
  int64_t turn_max_ns; /* the longest turn since the last step's row */
  float *delays;       /* ms, this window's */
  size_t ndelays, delays_cap;
  /* onair */
  char viewer_cookie[256], caster_cookie[256], origin[128];
  struct mb_hc caster;
  int caster_step;
  int fatal; /* the run cannot go on */
};

extern struct mb_emu mb_emu;

/* viewer.c */
int mb_viewer_begin(struct mb_viewer *v, int64_t now);
void mb_viewer_media(struct mb_viewer *v, const struct mb_rsdp *r, int64_t now);
void mb_viewer_fail(struct mb_viewer *v, const char *why);
void mb_viewer_tick(struct mb_viewer *v, int64_t now);
void mb_viewer_close(struct mb_viewer *v);
/* Sequence-number loss of a viewer so far: expected minus received. */
uint64_t mb_viewer_expected(const struct mb_viewer *v);
uint64_t mb_viewer_unique(const struct mb_viewer *v);

/* onair.c, janus.c: signaling */
int mb_onair_setup(void);
int mb_onair_viewer_setup(void); /* signs the viewers' account in; mb_onair_setup does too */
void mb_onair_join(struct mb_viewer *v);
int mb_janus_setup(void);
void mb_janus_join(struct mb_viewer *v);

/* procstat.c */
struct mb_proc {
  double cpu_s;           /* the server's user+system CPU, all threads */
  long rss_kib;           /* its VmRSS */
  double emu_cpu_s;       /* ours (getrusage), publisher thread included */
  double busy_s[2];       /* busy time of the server's CPUs and of ours (/proc/stat) */
  int64_t t;              /* CLOCK_MONOTONIC ns */
  uint64_t backlog_drops; /* packets the kernel's input backlogs dropped, all CPUs */
};
void mb_proc_read(struct mb_proc *p, int pid, const char *server_cpus, const char *emu_cpus);
int mb_cpu_count(const char *list);
int mb_cpu_in(const char *list, int cpu); /* 1 when cpu is in list ("0", "1-3", "0,2") */

/* run.c */
int mb_run(const struct mb_cfg *cfg);
/* viewers mode: cfg->sizes[0] viewers join and stay cfg->hold_s seconds;
 * JSON lines "joined" and "held" give each viewer's packets. */
int mb_hold(const struct mb_cfg *cfg);

#endif
