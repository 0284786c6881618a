/* A viewer's downlink bandwidth estimate, send side, in the manner of Google
 * Congestion Control (draft-ietf-rmcat-gcc-02, with libwebrtc's later
 * trendline filter in place of the draft's Kalman filter): fed with the
 * viewer's transport-wide congestion control feedback (what we sent, when it
 * arrived) and, from clients that send only that, REMB. The SFU picks the
 * simulcast layer a viewer gets from bwe_estimate().
 *
 * Two estimates, the smaller wins, clamped to [min, max]:
 *   delay-based: packets grouped into 5 ms send bursts; the change of
 *     one-way delay between groups, accumulated and smoothed, fitted by a
 *     line over the last 20 groups; the line's slope against an adaptive
 *     threshold says overusing / normal / underusing; an AIMD controller
 *     grows the rate (8%/s, or about a packet per round trip near the last
 *     overuse, never past 1.5x the delivered rate) and cuts it to 0.85x the
 *     delivered rate on overuse.
 *   loss-based: the fraction lost over 1 s windows: over 10% cuts the rate
 *     by half the fraction, 2-10% holds it, under 2% lets it grow.
 * Probe clusters (bwe_probe_mark) let the estimate jump past the 1.5x bound
 * when a burst sent at a higher rate arrived at that rate. docs/media.md,
 * "Bandwidth estimation", gives the constants and why.
 *
 * Embedded by value in the viewer; no allocation; not thread-safe (the
 * viewer's loop owns it). Times are microseconds. Sender times (send_us,
 * now_us) are ours; arrival times are the receiver's clock, of which only
 * differences are used, so its offset from ours does not matter. */
#ifndef ONAIR_BWE_H
#define ONAIR_BWE_H

#include <stddef.h>
#include <stdint.h>

#include "media/twcc.h" /* struct twcc_pkt: what each feedback tells of each packet */

/* The delay detector's verdict on the latest groups. */
enum bwe_usage {
  BWE_NORMAL,
  BWE_UNDERUSING, /* delay falling: queues draining */
  BWE_OVERUSING,  /* delay growing: we send more than the path carries */
};

#define BWE_TREND_WINDOW 20 /* groups the trendline is fitted over */

/* A group: packets sent within 5 ms of its first (or arriving in a burst). */
struct bwe_group {
  int64_t first_send_us;    /* our clock */
  int64_t last_send_us;     /* the latest send time in the group */
  int64_t first_arrival_us; /* receiver's clock: the earliest arrival */
  int64_t last_arrival_us;  /* the latest arrival: when the group was complete */
  int used;                 /* holds at least one packet */
};

/* Every field is private; read them through the functions below. */
struct bwe {
  uint32_t min_bps, max_bps; /* the clamp, bits per second */
  uint32_t estimate_bps;     /* min(delay, loss, REMB) clamped: bwe_estimate() */
  int has_twcc;              /* a feedback came (n > 0) */
  int64_t last_fb_us;        /* our clock: the latest feedback's now_us */
  int64_t rtt_us;            /* smoothed (now - send) of each feedback's newest packet */

  /* inter-arrival: groups */
  struct bwe_group cur, prev;
  int neg_deltas; /* consecutive groups completed before the previous one */

  /* trendline filter and overuse detector (milliseconds, receiver's clock) */
  int64_t trend_origin_us;         /* arrival of the first group fitted: x = 0 */
  double acc_delay_ms;             /* sum of delay variations */
  double smooth_delay_ms;          /* acc_delay_ms, exponentially smoothed */
  double hist_x[BWE_TREND_WINDOW]; /* ms since trend_origin_us */
  double hist_y[BWE_TREND_WINDOW]; /* smooth_delay_ms then */
  int hist_len, hist_pos;          /* points held, next slot */
  int num_deltas;                  /* deltas seen, capped at 1000 */
  double trend, prev_trend;        /* slope, ms of delay per ms */
  double threshold;                /* compared with min(num_deltas, 60) * 4 * trend */
  int64_t thresh_us;               /* receiver's clock of its last update; INT64_MIN: none */
  double over_ms;                  /* time above threshold, ms of send time; < 0: not above */
  int over_count;                  /* deltas above threshold in a row */
  enum bwe_usage usage;

  /* acknowledged (delivered) rate, receiver's clock */
  int64_t ack_start_us; /* the window's start; INT64_MIN before the first packet */
  uint64_t ack_bytes;   /* bytes arrived in the window */
  int ack_windows;      /* windows closed (the first one is longer) */
  double ack_kbps;      /* Bayesian estimate, 0 before the first window */
  double ack_var;       /* its variance, kbit/s squared */

  /* AIMD rate controller, our clock */
  int aimd;               /* private state: hold, increase, decrease */
  double delay_bps;       /* the delay-based estimate */
  int64_t last_change_us; /* latest change of delay_bps (set at the first feedback) */
  double cap_kbps;        /* link capacity seen at overuse (0: none) */
  double cap_dev;         /* its normalised variance, kbit/s */

  /* loss-based controller, our clock */
  double loss_bps;       /* the loss-based ceiling */
  int64_t loss_start_us; /* the 1 s window's start (set at the first feedback) */
  uint32_t loss_sent;    /* packets reported in the window */
  uint32_t loss_lost;    /* of which lost */
  double loss_fraction;  /* of the last window closed */
  int loss_band;         /* private: the last window's verdict */

  /* REMB */
  uint32_t remb_bps; /* the latest REMB (0: none) */

  /* probing */
  struct {
    uint16_t first_seq, last_seq; /* the cluster, inclusive, mod 2^16 */
    int active;
    uint32_t sent, received; /* packets reported */
    uint64_t sent_bytes, recv_bytes;
    int64_t send_first_us, send_last_us;
    uint32_t send_last_size; /* bytes of the last one sent */
    int64_t arr_first_us, arr_last_us;
    uint32_t arr_first_size; /* bytes of the first one to arrive */
    int open;                /* begun, its last packet not sent yet */
    uint16_t max_off;        /* the furthest packet reported, from first_seq */
  } probe;
  uint32_t probe_bps; /* the latest cluster's measured rate, 0 if it failed */
};

/* Starts at start_bps, never below min_bps nor above max_bps (min_bps <=
 * start_bps <= max_bps, or they are put in order). */
void bwe_init(struct bwe *b, uint32_t start_bps, uint32_t min_bps, uint32_t max_bps);
/* One transport-wide feedback: n entries in sequence order, each packet at
 * most once over all feedbacks, arrival_us TWCC_LOST for one not received.
 * now_us is when the feedback came (our clock). Entries sent before the
 * group in progress (a late report) count for loss only; times beyond
 * +-2^60 us are not believed (the entry is skipped, or counted as received
 * for loss only if it arrived). An all-lost feedback moves only the loss
 * window. Cheap: O(n), plus a 20-point fit per group of packets. */
void bwe_on_feedback(struct bwe *b, const struct twcc_pkt *p, size_t n, int64_t now_us);
/* A REMB of bps: caps the estimate; for a client that sends no TWCC
 * feedback, it is the estimate. The latest REMB holds until the next. */
void bwe_on_remb(struct bwe *b, uint32_t bps, int64_t now_us);
/* Marks transport-wide sequence numbers [first_seq, last_seq] (inclusive,
 * mod 2^16) as a probe cluster: packets the caller sends (or sent) faster
 * than the estimate, paced over 1 ms to 1 s; every packet in the range
 * counts, media or padding. When feedback reaches last_seq (or passes it),
 * the cluster is measured: its send rate (bytes but the last one sent over
 * the send span) and receive rate (bytes but the first to arrive over the
 * arrival span). Valid when at least 5 packets and 80% of the range
 * arrived and the receive rate is at most 2x the send rate; the result is
 * min(send, receive) when the receive rate kept up (>= 0.9x), else 0.95x
 * the receive rate (the path saturated there). A valid result above the
 * delay-based estimate, while the detector does not say overusing, becomes
 * the delay-based estimate (and lifts the loss-based ceiling unless the
 * last loss window was over 10%). A new mark replaces a pending cluster. */
void bwe_probe_mark(struct bwe *b, uint16_t first_seq, uint16_t last_seq);

/* The padding a probe cluster should carry, bytes, at least. A shaper
 * (a token bucket, a policer) lets a burst through at the send rate, so a
 * cluster measures (its bytes) / (its bytes - the burst) times the path's
 * rate: a 30 ms probe at 560 kbit/s through a 300 kbit/s bucket 1,500
 * bytes deep measured 490 kbit/s, and the layer it led to did not fit.
 * With 10 kB, such a burst adds under 20% (test_bwe's probe_bucket). */
#define BWE_PROBE_MIN_BYTES 10000

/* A cluster from first_seq on whose end is not known yet: the packets
 * reported before bwe_probe_mark(b, first_seq, last) closes it count too
 * (a feedback may come while the probe is still being sent). */
void bwe_probe_begin(struct bwe *b, uint16_t first_seq);

/* The estimate, bits per second, in [min_bps, max_bps]. */
uint32_t bwe_estimate(const struct bwe *b);
/* The delay detector's state, for logs. */
enum bwe_usage bwe_state(const struct bwe *b);
/* A name for a state: "normal", "underusing", "overusing". */
const char *bwe_state_name(enum bwe_usage u);
/* The delivered rate the feedback shows, bits per second (0 before about
 * half a second of packets arrived). */
uint32_t bwe_acked_bps(const struct bwe *b);
/* Fraction of packets lost over the last 1 s window closed, 0..1. */
double bwe_loss_fraction(const struct bwe *b);
/* The latest probe cluster's measured rate, bits per second; 0 when none
 * completed or it was not valid (too few packets back, too short). */
uint32_t bwe_probe_bps(const struct bwe *b);
/* Round-trip time seen through feedback (the newest packet's age when its
 * feedback came, so including the receiver's feedback delay), microseconds;
 * 0 before the first feedback. */
int64_t bwe_rtt_us(const struct bwe *b);

#endif
