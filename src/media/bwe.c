/* Send-side bandwidth estimation from transport-wide feedback (GCC). The
 * pieces, in the order a feedback goes through them: groups of packets and
 * the delay variation between groups; the trendline filter and the overuse
 * detector; the delivered (acknowledged) rate; the AIMD controller; the
 * loss-based ceiling; probe clusters; the estimate. docs/media.md,
 * "Bandwidth estimation", explains each constant. */
#include "media/bwe.h"

#include <math.h>
#include <string.h>

/* ---- constants ---- */

/* groups */
#define GROUP_US 5000       /* packets sent within 5 ms of a group's first: one group */
#define BURST_US 5000       /* ... or arriving within 5 ms, faster than sent */
#define BURST_MAX_US 100000 /* ... for at most 100 ms from the group's first arrival */
#define SILENCE_US 2000000  /* nothing sent for 2 s: the delay history starts over */
#define JUMP_US 3000000     /* arrival and send deltas 3 s apart: the receiver's clock jumped */
#define NEG_RESET 3         /* groups in a row completing before their predecessor: start over */
/* trendline filter and detector */
#define SMOOTHING 0.9       /* weight of the previous smoothed delay */
#define TREND_GAIN 4.0      /* slope x min(deltas, 60) x 4 is compared with the threshold */
#define TREND_DELTAS_MAX 60 /* deltas after which the gain stops growing */
#define DELTAS_CAP 1000
#define THRESH_START 12.5 /* threshold, ms-equivalent units */
#define THRESH_MIN 6.0
#define THRESH_MAX 600.0
#define K_UP 0.0087     /* per ms: threshold rises toward a signal above it */
#define K_DOWN 0.039    /* per ms: threshold falls toward a signal below it */
#define ADAPT_SKIP 15.0 /* a signal this far above the threshold does not move it */
#define ADAPT_DT_MAX_MS 100.0
#define OVERUSE_MS 10.0 /* above the threshold for 10 ms of send time (and twice) */
/* delivered rate */
#define ACK_FIRST_US 500000  /* the first window */
#define ACK_WINDOW_US 150000 /* the later ones */
#define ACK_BACK_US 1000000  /* an arrival this far before the window: the clock went back */
#define ACK_NOISE 10.0       /* sample uncertainty per relative error */
#define ACK_DRIFT 5.0        /* kbit/s^2 of variance added per window */
/* AIMD */
#define BETA 0.85               /* decrease to 0.85 x the delivered rate */
#define GROWTH 0.07696          /* ln(1.08): +8% per second, compounded per feedback */
#define GROWTH_MIN_BPS 10000.0  /* ... at least 10 kbit/s per second */
#define ADDITIVE_MIN_BPS 4000.0 /* near capacity: at least 4 kbit/s per second */
#define FPS 30.0
#define MTU_BITS (1200 * 8)
#define ACK_LIMIT 1.5         /* never grow past 1.5 x the delivered rate ... */
#define ACK_LIMIT_BPS 10000.0 /* ... + 10 kbit/s */
#define CAP_ALPHA 0.05        /* link capacity: weight of a new overuse sample */
#define CAP_DEV_MIN 0.4
#define CAP_DEV_MAX 2.5
#define REDUCE_MIN_US 10000 /* decreases at least a round trip apart, within [10, 200] ms */
#define REDUCE_MAX_US 200000
#define STEP_MAX_US 1000000 /* a gap between feedbacks counts as at most 1 s */
/* loss */
#define LOSS_WINDOW_US 1000000
#define LOSS_MIN_PKTS 20
#define LOSS_LOW 0.02
#define LOSS_HIGH 0.10
/* probes */
#define PROBE_MIN_PKTS 5
#define PROBE_MIN_SPAN_US 1000
#define PROBE_MAX_SPAN_US 1000000
#define PROBE_UNSATURATED 0.9  /* received at >= 0.9 x the send rate: the path kept up */
#define PROBE_SATURATED 0.95   /* else: 0.95 x what came out */
#define PROBE_MAX_RATIO 2.0    /* received faster than twice the send rate: not a rate */
#define PROBE_OPEN_SPAN 0x7fff /* an open cluster takes any packet from its first on */
#define RTT_MAX_US 10000000
#define TIME_MAX_US (INT64_C(1) << 60) /* 36,000 years: beyond, a time is not believed */

enum aimd_state { AIMD_HOLD, AIMD_INCREASE, AIMD_DECREASE };
enum loss_band { LOSS_NONE, LOSS_BAND_LOW, LOSS_BAND_MID, LOSS_BAND_HIGH };

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

static double ack_bps(const struct bwe *b) { return b->ack_kbps * 1000.0; }

/* ---- trendline filter and overuse detector ---- */

static void filter_reset(struct bwe *b) {
  b->acc_delay_ms = 0;
  b->smooth_delay_ms = 0;
  b->hist_len = 0;
  b->hist_pos = 0;
  b->num_deltas = 0;
  b->trend = 0;
  b->prev_trend = 0;
  b->threshold = THRESH_START;
  b->thresh_us = INT64_MIN;
  b->over_ms = -1;
  b->over_count = 0;
  b->usage = BWE_NORMAL;
  b->neg_deltas = 0;
}

/* Least-squares slope of the window's points; the previous trend when the
 * points have no spread in x. */
static double filter_fit(const struct bwe *b) {
  double sx = 0, sy = 0, num = 0, den = 0, mx, my;
  int i;

  for (i = 0; i < b->hist_len; i++) {
    sx += b->hist_x[i];
    sy += b->hist_y[i];
  }
  mx = sx / b->hist_len;
  my = sy / b->hist_len;
  for (i = 0; i < b->hist_len; i++) {
    num += (b->hist_x[i] - mx) * (b->hist_y[i] - my);
    den += (b->hist_x[i] - mx) * (b->hist_x[i] - mx);
  }
  return den > 0 ? num / den : b->trend;
}

/* The threshold follows |m|: up slowly (K_UP), down fast (K_DOWN), not at
 * all for a spike far above it; arrival_us on the receiver's clock. */
static void threshold_adapt(struct bwe *b, double m, int64_t arrival_us) {
  double dt_ms, k;

  if (b->thresh_us == INT64_MIN)
    b->thresh_us = arrival_us;
  dt_ms = clampd((double)(arrival_us - b->thresh_us) / 1000.0, 0, ADAPT_DT_MAX_MS);
  b->thresh_us = arrival_us;
  if (fabs(m) > b->threshold + ADAPT_SKIP)
    return;
  k = fabs(m) < b->threshold ? K_DOWN : K_UP;
  b->threshold =
      clampd(b->threshold + k * (fabs(m) - b->threshold) * dt_ms, THRESH_MIN, THRESH_MAX);
}

/* One new trend: the usage it means. send_ms: the groups' send delta. */
static void detector_update(struct bwe *b, double send_ms, int64_t arrival_us) {
  int n = b->num_deltas < TREND_DELTAS_MAX ? b->num_deltas : TREND_DELTAS_MAX;
  double m = n * b->trend * TREND_GAIN;

  if (b->num_deltas < 2) {
    b->usage = BWE_NORMAL;
    return;
  }
  if (m > b->threshold) {
    b->over_ms = b->over_ms < 0 ? send_ms / 2 : b->over_ms + send_ms;
    b->over_count++;
    if (b->over_ms > OVERUSE_MS && b->over_count > 1 && b->trend >= b->prev_trend) {
      b->over_ms = 0;
      b->over_count = 0;
      b->usage = BWE_OVERUSING;
    }
  } else {
    b->over_ms = -1;
    b->over_count = 0;
    b->usage = m < -b->threshold ? BWE_UNDERUSING : BWE_NORMAL;
  }
  b->prev_trend = b->trend;
  threshold_adapt(b, m, arrival_us);
}

/* One delay variation between two groups (ms), the later group completed at
 * arrival_us (receiver's clock). */
static void filter_update(struct bwe *b, double recv_ms, double send_ms, int64_t arrival_us) {
  if (b->num_deltas == 0)
    b->trend_origin_us = arrival_us;
  if (b->num_deltas < DELTAS_CAP)
    b->num_deltas++;
  b->acc_delay_ms += recv_ms - send_ms;
  b->smooth_delay_ms = SMOOTHING * b->smooth_delay_ms + (1 - SMOOTHING) * b->acc_delay_ms;
  b->hist_x[b->hist_pos] = (double)(arrival_us - b->trend_origin_us) / 1000.0;
  b->hist_y[b->hist_pos] = b->smooth_delay_ms;
  b->hist_pos = (b->hist_pos + 1) % BWE_TREND_WINDOW;
  if (b->hist_len < BWE_TREND_WINDOW)
    b->hist_len++;
  if (b->hist_len == BWE_TREND_WINDOW)
    b->trend = filter_fit(b);
  detector_update(b, send_ms, arrival_us);
}

/* ---- groups ---- */

static void group_start(struct bwe_group *g, int64_t send_us, int64_t arrival_us) {
  g->first_send_us = send_us;
  g->last_send_us = send_us;
  g->first_arrival_us = arrival_us;
  g->last_arrival_us = arrival_us;
  g->used = 1;
}

/* Whether a packet starts a new group: sent more than 5 ms after the
 * group's first, unless it arrived in a burst with the group (within 5 ms of
 * its completion and sooner after it than it was sent: a queue emptying). */
static int group_is_new(const struct bwe_group *g, int64_t send_us, int64_t arrival_us) {
  int64_t arr_d = arrival_us - g->last_arrival_us;
  int64_t send_d = send_us - g->last_send_us;

  if (send_us - g->first_send_us <= GROUP_US)
    return 0;
  if (arr_d - send_d < 0 && arr_d <= BURST_US && arrival_us - g->first_arrival_us < BURST_MAX_US)
    return 0;
  return 1;
}

/* cur is complete: its delay variation against prev goes to the filter. */
static void group_close(struct bwe *b) {
  int64_t send_d = b->cur.last_send_us - b->prev.last_send_us;
  int64_t arr_d = b->cur.last_arrival_us - b->prev.last_arrival_us;

  if (!b->prev.used)
    return;
  if (arr_d - send_d > JUMP_US || send_d - arr_d > JUMP_US) {
    filter_reset(b);
    return;
  }
  if (arr_d < 0 && ++b->neg_deltas >= NEG_RESET) {
    filter_reset(b);
    return;
  }
  if (arr_d >= 0)
    b->neg_deltas = 0;
  filter_update(b, (double)arr_d / 1000.0, (double)send_d / 1000.0, b->cur.last_arrival_us);
}

/* A received packet, in send order, for the delay-based estimate. */
static void delay_on_packet(struct bwe *b, int64_t send_us, int64_t arrival_us) {
  struct bwe_group *g = &b->cur;

  if (!g->used) {
    group_start(g, send_us, arrival_us);
    return;
  }
  if (send_us - g->last_send_us > SILENCE_US) {
    filter_reset(b);
    b->prev.used = 0;
    group_start(g, send_us, arrival_us);
    return;
  }
  if (group_is_new(g, send_us, arrival_us)) {
    group_close(b);
    b->prev = *g;
    group_start(g, send_us, arrival_us);
    return;
  }
  if (send_us > g->last_send_us)
    g->last_send_us = send_us;
  if (arrival_us < g->first_arrival_us)
    g->first_arrival_us = arrival_us;
  if (arrival_us > g->last_arrival_us)
    g->last_arrival_us = arrival_us;
}

/* ---- delivered rate ---- */

/* A window's rate: a Bayesian update that trusts a sample less the further
 * it is from the estimate, and the estimate less as time goes by. */
static void ack_sample(struct bwe *b, double kbps) {
  double u, sv, pv;

  if (b->ack_kbps <= 0) {
    b->ack_kbps = kbps;
    b->ack_var = 50.0;
    return;
  }
  u = ACK_NOISE * fabs(b->ack_kbps - kbps) / b->ack_kbps;
  sv = u * u;
  pv = b->ack_var + ACK_DRIFT;
  b->ack_kbps = (sv * b->ack_kbps + pv * kbps) / (sv + pv);
  b->ack_var = sv * pv / (sv + pv);
}

/* A received packet's bytes into fixed windows of arrival time (150 ms, the
 * first 500 ms); a window closes when a packet arrives after it. A silence
 * of more than a window ends the grid: what follows starts a new one. */
static void ack_on_packet(struct bwe *b, int64_t arrival_us, uint32_t size) {
  int64_t win = b->ack_windows ? ACK_WINDOW_US : ACK_FIRST_US;

  if (b->ack_start_us != INT64_MIN && arrival_us < b->ack_start_us - ACK_BACK_US)
    b->ack_start_us = INT64_MIN;
  if (b->ack_start_us == INT64_MIN) {
    b->ack_start_us = arrival_us;
    b->ack_bytes = 0;
  } else if (arrival_us >= b->ack_start_us + win) {
    ack_sample(b, (double)b->ack_bytes * 8.0 * 1000.0 / (double)win);
    b->ack_windows++;
    if (arrival_us < b->ack_start_us + 2 * win)
      b->ack_start_us += win;
    else
      b->ack_start_us = arrival_us;
    b->ack_bytes = 0;
  }
  b->ack_bytes += size;
}

/* ---- AIMD ---- */

static void cap_reset(struct bwe *b) {
  b->cap_kbps = 0;
  b->cap_dev = CAP_DEV_MIN;
}

/* The link capacity: a moving average of the delivered rate at overuse,
 * with a normalised variance for its bounds. */
static void cap_update(struct bwe *b, double kbps) {
  double err;

  b->cap_kbps = b->cap_kbps > 0 ? (1 - CAP_ALPHA) * b->cap_kbps + CAP_ALPHA * kbps : kbps;
  err = b->cap_kbps - kbps;
  b->cap_dev = (1 - CAP_ALPHA) * b->cap_dev + CAP_ALPHA * err * err / fmax(b->cap_kbps, 1.0);
  b->cap_dev = clampd(b->cap_dev, CAP_DEV_MIN, CAP_DEV_MAX);
}

/* 3 standard deviations of the capacity, kbit/s. */
static double cap_spread(const struct bwe *b) { return 3.0 * sqrt(b->cap_dev * b->cap_kbps); }

/* Near the capacity: about one packet more per response time (rtt +
 * 100 ms), in bits per second per second. */
static double aimd_additive(const struct bwe *b) {
  double frame = b->delay_bps / FPS;
  double pkts = ceil(frame / MTU_BITS);
  double resp_s = 0.1 + (double)b->rtt_us / 1e6;

  return fmax(ADDITIVE_MIN_BPS, frame / fmax(pkts, 1.0) / resp_s);
}

static void aimd_increase(struct bwe *b, int64_t now_us) {
  double dt = (double)(now_us - b->last_change_us) / 1e6, ack = ack_bps(b), next;

  dt = clampd(dt, 0, STEP_MAX_US / 1e6);
  if (b->cap_kbps > 0 && b->ack_kbps > b->cap_kbps + cap_spread(b))
    cap_reset(b); /* the path carries more than it did: far from capacity again */
  if (b->cap_kbps > 0)
    next = b->delay_bps + aimd_additive(b) * dt;
  else
    next = b->delay_bps + fmax(b->delay_bps * GROWTH, GROWTH_MIN_BPS) * dt;
  if (ack > 0 && next > ACK_LIMIT * ack + ACK_LIMIT_BPS)
    next = fmax(ACK_LIMIT * ack + ACK_LIMIT_BPS, b->delay_bps);
  b->delay_bps = next;
}

static void aimd_decrease(struct bwe *b) {
  double ack = ack_bps(b), next;

  if (ack <= 0) {
    b->delay_bps /= 2; /* nothing delivered measured yet */
    return;
  }
  next = BETA * ack;
  if (next > b->delay_bps && b->cap_kbps > 0)
    next = BETA * b->cap_kbps * 1000.0;
  if (next < b->delay_bps)
    b->delay_bps = next;
  if (b->cap_kbps > 0 && b->ack_kbps < b->cap_kbps - cap_spread(b))
    cap_reset(b); /* far below what the path carried: that capacity is gone */
  cap_update(b, b->ack_kbps);
}

/* Decreases come a round trip apart, or at once when less than half the
 * estimate gets through. */
static int aimd_may_decrease(const struct bwe *b, int64_t now_us) {
  int64_t gap = b->rtt_us < REDUCE_MIN_US ? REDUCE_MIN_US : b->rtt_us;

  if (gap > REDUCE_MAX_US)
    gap = REDUCE_MAX_US;
  if (now_us - b->last_change_us >= gap)
    return 1;
  return b->ack_kbps > 0 && ack_bps(b) < 0.5 * b->delay_bps;
}

/* The detector's verdict u moves the controller: normal -> increase (from
 * hold), overusing -> decrease then hold, underusing -> hold. */
static void aimd_update(struct bwe *b, enum bwe_usage u, int64_t now_us) {
  if (u == BWE_OVERUSING && !aimd_may_decrease(b, now_us))
    return;
  if (u == BWE_OVERUSING) {
    b->aimd = AIMD_DECREASE;
  } else if (u == BWE_UNDERUSING) {
    b->aimd = AIMD_HOLD;
  } else if (b->aimd == AIMD_HOLD) {
    b->aimd = AIMD_INCREASE;
    b->last_change_us = now_us; /* growth counts from here, not from the hold */
  }
  if (b->aimd == AIMD_INCREASE) {
    aimd_increase(b, now_us);
    b->last_change_us = now_us;
  } else if (b->aimd == AIMD_DECREASE) {
    aimd_decrease(b);
    b->aimd = AIMD_HOLD;
    b->last_change_us = now_us;
  }
  b->delay_bps = clampd(b->delay_bps, b->min_bps, b->max_bps);
}

/* ---- loss ---- */

static double current(const struct bwe *b) { return fmin(b->delay_bps, b->loss_bps); }

/* At the end of each window of at least 1 s and 20 packets: over 10% lost
 * cuts the estimate by half the fraction, 2-10% holds it, under 2% lets the
 * ceiling rise to the delivered rate and grow 8%/s from there. */
static void loss_update(struct bwe *b, uint32_t sent, uint32_t lost, int64_t now_us, double dt) {
  double f;

  b->loss_sent += sent;
  b->loss_lost += lost;
  if (b->loss_band == LOSS_BAND_LOW)
    b->loss_bps += b->loss_bps * GROWTH * dt;
  if (now_us - b->loss_start_us >= LOSS_WINDOW_US && b->loss_sent >= LOSS_MIN_PKTS) {
    f = (double)b->loss_lost / (double)b->loss_sent;
    b->loss_fraction = f;
    if (f > LOSS_HIGH) {
      b->loss_band = LOSS_BAND_HIGH;
      b->loss_bps = current(b) * (1.0 - 0.5 * f);
    } else if (f >= LOSS_LOW) {
      b->loss_band = LOSS_BAND_MID;
      b->loss_bps = current(b);
    } else {
      b->loss_band = LOSS_BAND_LOW;
      b->loss_bps = fmax(b->loss_bps, ack_bps(b));
    }
    b->loss_sent = 0;
    b->loss_lost = 0;
    b->loss_start_us = now_us;
  }
  b->loss_bps = clampd(b->loss_bps, b->min_bps, b->max_bps);
}

/* ---- probes ---- */

/* The cluster's rate from what its feedback showed, 0 when not valid. */
static double probe_rate(const struct bwe *b) {
  uint32_t count = (uint32_t)(uint16_t)(b->probe.last_seq - b->probe.first_seq) + 1;
  int64_t send_span = b->probe.send_last_us - b->probe.send_first_us;
  int64_t arr_span = b->probe.arr_last_us - b->probe.arr_first_us;
  double send_rate, recv_rate;

  if (b->probe.received < PROBE_MIN_PKTS || b->probe.received * 5 < count * 4)
    return 0;
  if (send_span < PROBE_MIN_SPAN_US || send_span > PROBE_MAX_SPAN_US || arr_span <= 0)
    return 0;
  send_rate = (double)(b->probe.sent_bytes - b->probe.send_last_size) * 8e6 / (double)send_span;
  recv_rate = (double)(b->probe.recv_bytes - b->probe.arr_first_size) * 8e6 / (double)arr_span;
  if (recv_rate > PROBE_MAX_RATIO * send_rate)
    return 0;
  if (recv_rate < PROBE_UNSATURATED * send_rate)
    return PROBE_SATURATED * recv_rate;
  return fmin(send_rate, recv_rate);
}

static void probe_finish(struct bwe *b) {
  double r = probe_rate(b);

  b->probe.active = 0;
  b->probe_bps = (uint32_t)fmin(r, 4e9);
  if (r <= 0 || b->usage == BWE_OVERUSING)
    return;
  if (r > b->delay_bps)
    b->delay_bps = clampd(r, b->min_bps, b->max_bps);
  if (r > b->loss_bps && b->loss_band != LOSS_BAND_HIGH)
    b->loss_bps = clampd(r, b->min_bps, b->max_bps);
}

/* One feedback entry against the pending cluster; arrived: received, with
 * a believable arrival time. */
static void probe_on_packet(struct bwe *b, const struct twcc_pkt *p, int arrived) {
  uint16_t off = (uint16_t)(p->seq - b->probe.first_seq);
  uint16_t span = (uint16_t)(b->probe.last_seq - b->probe.first_seq);

  if (off > span) {
    if (!b->probe.open && (int16_t)(p->seq - b->probe.last_seq) > 0)
      probe_finish(b); /* past the cluster: its end's report is not coming */
    return;
  }
  if (b->probe.sent == 0 || p->send_us < b->probe.send_first_us)
    b->probe.send_first_us = p->send_us;
  if (b->probe.sent == 0 || p->send_us >= b->probe.send_last_us) {
    b->probe.send_last_us = p->send_us;
    b->probe.send_last_size = p->size;
  }
  b->probe.sent++;
  b->probe.sent_bytes += p->size;
  if (off > b->probe.max_off)
    b->probe.max_off = off;
  if (arrived) {
    if (b->probe.received == 0 || p->arrival_us < b->probe.arr_first_us) {
      b->probe.arr_first_us = p->arrival_us;
      b->probe.arr_first_size = p->size;
    }
    if (b->probe.received == 0 || p->arrival_us > b->probe.arr_last_us)
      b->probe.arr_last_us = p->arrival_us;
    b->probe.received++;
    b->probe.recv_bytes += p->size;
  }
  if (off == span && !b->probe.open)
    probe_finish(b);
}

void bwe_probe_begin(struct bwe *b, uint16_t first_seq) {
  memset(&b->probe, 0, sizeof(b->probe));
  b->probe.first_seq = first_seq;
  b->probe.last_seq = (uint16_t)(first_seq + PROBE_OPEN_SPAN);
  b->probe.active = 1;
  b->probe.open = 1;
}

void bwe_probe_mark(struct bwe *b, uint16_t first_seq, uint16_t last_seq) {
  if (b->probe.active && b->probe.open && b->probe.first_seq == first_seq) {
    /* Begun: what was reported meanwhile stays counted; all of it reported
     * already (a packet past the end can not have been sent yet). */
    b->probe.open = 0;
    b->probe.last_seq = last_seq;
    if (b->probe.sent && b->probe.max_off >= (uint16_t)(last_seq - first_seq))
      probe_finish(b);
    return;
  }
  memset(&b->probe, 0, sizeof(b->probe));
  b->probe.first_seq = first_seq;
  b->probe.last_seq = last_seq;
  b->probe.active = 1;
}

/* ---- the estimate ---- */

static void estimate_update(struct bwe *b) {
  double e;

  if (b->has_twcc)
    e = current(b);
  else
    e = b->remb_bps ? b->remb_bps : b->delay_bps;
  if (b->remb_bps && b->remb_bps < e)
    e = b->remb_bps;
  b->estimate_bps = (uint32_t)clampd(e, b->min_bps, b->max_bps);
}

void bwe_init(struct bwe *b, uint32_t start_bps, uint32_t min_bps, uint32_t max_bps) {
  memset(b, 0, sizeof(*b));
  if (min_bps < 1)
    min_bps = 1;
  if (max_bps < min_bps)
    max_bps = min_bps;
  b->min_bps = min_bps;
  b->max_bps = max_bps;
  b->delay_bps = clampd(start_bps, min_bps, max_bps);
  b->loss_bps = max_bps;
  b->aimd = AIMD_HOLD;
  b->loss_band = LOSS_NONE;
  b->ack_start_us = INT64_MIN;
  cap_reset(b);
  filter_reset(b);
  estimate_update(b);
}

/* Whether a time is close enough to zero that differences of two cannot
 * overflow (a receiver's report of arrival times is not to be trusted). */
static int time_ok(int64_t t_us) { return t_us >= -TIME_MAX_US && t_us <= TIME_MAX_US; }

/* Whether a received packet may go to the delay and delivered-rate
 * estimates: not one sent before the group in progress (a late report of
 * packets already passed). */
static int packet_fresh(const struct bwe *b, const struct twcc_pkt *p) {
  return !b->cur.used || p->send_us >= b->cur.first_send_us;
}

/* What one feedback showed. */
struct tally {
  uint32_t received, lost; /* for the loss window */
  uint32_t used;           /* received packets the delay and rate estimates took */
  int64_t newest_us;       /* the latest send time among those */
  enum bwe_usage worst;    /* overusing if the detector said so on the way, else its last */
};

/* The feedback's packets through the probe, groups and delivered rate. */
static void feedback_packets(struct bwe *b, const struct twcc_pkt *p, size_t n, struct tally *t) {
  size_t i;

  memset(t, 0, sizeof(*t));
  t->worst = BWE_NORMAL;
  for (i = 0; i < n; i++) {
    int arrived = p[i].arrival_us != TWCC_LOST && time_ok(p[i].arrival_us);

    if (!time_ok(p[i].send_us))
      continue; /* not one of ours */
    if (b->probe.active)
      probe_on_packet(b, &p[i], arrived);
    if (p[i].arrival_us == TWCC_LOST) {
      t->lost++;
      continue;
    }
    t->received++;
    if (!arrived || !packet_fresh(b, &p[i]))
      continue;
    if (t->used++ == 0 || p[i].send_us > t->newest_us)
      t->newest_us = p[i].send_us;
    ack_on_packet(b, p[i].arrival_us, p[i].size);
    delay_on_packet(b, p[i].send_us, p[i].arrival_us);
    if (b->usage == BWE_OVERUSING)
      t->worst = BWE_OVERUSING;
  }
  if (t->worst != BWE_OVERUSING)
    t->worst = b->usage;
}

/* The newest packet's age when its feedback came: a round trip plus the
 * receiver's wait; smoothed 1/8. Ages out of [0, 10 s] are not believed. */
static void rtt_update(struct bwe *b, int64_t sample_us) {
  if (sample_us < 0 || sample_us > RTT_MAX_US)
    return;
  b->rtt_us = b->rtt_us ? (7 * b->rtt_us + sample_us) / 8 : sample_us;
}

void bwe_on_feedback(struct bwe *b, const struct twcc_pkt *p, size_t n, int64_t now_us) {
  struct tally t;
  double dt;

  if (n == 0)
    return;
  if (!b->has_twcc) {
    b->has_twcc = 1;
    b->last_fb_us = now_us;
    b->last_change_us = now_us;
    b->loss_start_us = now_us;
  }
  dt = clampd((double)(now_us - b->last_fb_us) / 1e6, 0, STEP_MAX_US / 1e6);
  b->last_fb_us = now_us;
  feedback_packets(b, p, n, &t);
  if (t.used > 0) {
    rtt_update(b, now_us - t.newest_us);
    aimd_update(b, t.worst, now_us);
  }
  loss_update(b, t.received + t.lost, t.lost, now_us, dt);
  estimate_update(b);
}

void bwe_on_remb(struct bwe *b, uint32_t bps, int64_t now_us) {
  (void)now_us; /* the latest REMB holds until the next, however old */
  b->remb_bps = bps ? bps : 1;
  estimate_update(b);
}

uint32_t bwe_estimate(const struct bwe *b) { return b->estimate_bps; }

enum bwe_usage bwe_state(const struct bwe *b) { return b->usage; }

const char *bwe_state_name(enum bwe_usage u) {
  switch (u) {
  case BWE_NORMAL: return "normal";
  case BWE_UNDERUSING: return "underusing";
  case BWE_OVERUSING: return "overusing";
  }
  return "?";
}

uint32_t bwe_acked_bps(const struct bwe *b) { return (uint32_t)fmin(ack_bps(b), 4e9); }

double bwe_loss_fraction(const struct bwe *b) { return b->loss_fraction; }

uint32_t bwe_probe_bps(const struct bwe *b) { return b->probe_bps; }

int64_t bwe_rtt_us(const struct bwe *b) { return b->rtt_us; }
