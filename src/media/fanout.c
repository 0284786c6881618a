/* A share's rooms and viewers (fanout.h): each packet stored once in the
 * share's ring for its room, then copied into the send ring for every
 * viewer, rewritten, encrypted there and queued for the loop turn's
 * sendmmsg. */
#include "media/fanout.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "media/rtcp.h"
#include "util/counter.h"
#include "media/rtp.h"

#define FANOUT_STORE_SLOTS 1024       /* video packets kept: about 4 s at 1.5 Mbit/s */
#define FANOUT_AUDIO_STORE_SLOTS 128  /* audio packets kept: 2.5 s of Opus (audio is not NACKed) */
#define FANOUT_REPLAY_MAX_AGE_MS 1500 /* a cached keyframe newer than this starts a viewer */
#define FANOUT_PACE_FACTOR 3.0        /* a joining viewer catches up at this times the rate */
#define FANOUT_PACE_MIN_BPS 250000.0  /* bytes a second, whatever the stream's rate */
#define FANOUT_PACE_BURST 24000.0     /* bytes sent to it at once, at most */
#define FANOUT_NACK_REPEAT_MS 50      /* a packet is resent to a viewer once in this */
#define FANOUT_NACK_SHARE 0.5         /* of the publisher's rate a viewer may get again */
#define FANOUT_NACK_MIN_BPS 16000.0   /* bytes a second, whatever the publisher's rate */
#define FANOUT_LAYER_QUIET_MS 1000 /* a layer with no packet for this long is not sent (paused) */
#define FANOUT_SWITCH_ASK_MS 1000  /* a view waiting to switch asks for a keyframe this often */
#define FANOUT_VIDEO_HZ 90         /* video clock ticks a millisecond (RFC 7741, RFC 6184) */
/* Auto's layer from the viewer's estimate (docs/media.md, "Simulcast"). */
#define FANOUT_UP_MARGIN 1.15      /* a higher layer needs its rate and this much more */
#define FANOUT_STAY_MARGIN 0.75    /* the layer it gets: kept while the estimate holds this much */
#define FANOUT_PROBE_US 30000      /* a probe's length, at least */
#define FANOUT_PROBE_MAX_US 300000 /* and at most (BWE_PROBE_MIN_BYTES at a low rate) */
#define FANOUT_PROBE_GAIN 1.25     /* its rate, against what the next layer up needs */
#define FANOUT_PROBE_EVERY_MS 2000 /* between probes; doubled after each that lifted nothing */
#define FANOUT_PROBE_BACKOFF 4     /* doublings at most (32 s) */
#define FANOUT_PAD_BYTES 240       /* padding in one probe packet */
#define FANOUT_BWE_MIN_BPS 50000
#define FANOUT_BWE_MAX_BPS 50000000
#define FANOUT_FB_MAX 512 /* packets one feedback may tell of (the rest: the next) */

struct fanout_track {
  struct pktstore *store; /* made at the track's first packet (audio and the first layer: with
                             the room) */
  uint32_t rate_Bps;      /* the publisher's, as the media plane last said (fanout_msg) */
  uint64_t last_ms;       /* when its newest packet came in; 0: none */
};

struct fanout_room {
  uint64_t id;
  struct fanout_track tracks[FANOUT_TRACKS];
  uint8_t layers; /* video layers the publisher sends, as the media plane last said */
  struct fanout_view **views;
  size_t nviews, cap;
  struct fanout_room *next;
};

void fanout_init(struct fanout *f, uv_loop_t *loop, struct udp_sock *udp,
                 const struct fanout_ops *ops, void *arg) {
  memset(f, 0, sizeof(*f));
  f->loop = loop;
  f->udp = udp;
  f->ops = ops;
  f->arg = arg;
}

static struct fanout_room *share_room_find(const struct fanout *f, uint64_t id) {
  for (struct fanout_room *r = f->rooms; r; r = r->next) {
    if (r->id == id)
      return r;
  }
  return NULL;
}

/* The share's room id, made (with its rings) on first use; NULL: no memory. */
static struct fanout_room *room_get(struct fanout *f, uint64_t id) {
  struct fanout_room *r = share_room_find(f, id);
  if (r)
    return r;
  if ((r = calloc(1, sizeof(*r))) == NULL)
    return NULL;
  for (int k = 0; k < FANOUT_KINDS; k++) {
    size_t slots = k == FANOUT_VIDEO ? FANOUT_STORE_SLOTS : FANOUT_AUDIO_STORE_SLOTS;
    if ((r->tracks[k].store = pktstore_new(slots)) == NULL) {
      for (int j = 0; j < k; j++)
        pktstore_free(r->tracks[j].store);
      free(r);
      return NULL;
    }
  }
  r->id = id;
  r->layers = 1;
  r->next = f->rooms;
  f->rooms = r;
  return r;
}

void fanout_view_free(struct fanout_view *v) {
  if (v == NULL)
    return;
  srtpctx_free(v->srtp);
  free(v);
}

void fanout_view_free_unused(struct fanout_view *v) { free(v); }

static void room_free(struct fanout *f, struct fanout_room *r) {
  struct fanout_room **pp = &f->rooms;
  while (*pp != r)
    pp = &(*pp)->next;
  *pp = r->next;
  for (size_t i = 0; i < r->nviews; i++)
    fanout_view_free(r->views[i]);
  COUNTER_ADD(f->stats.views, -(uint64_t)r->nviews);
  for (int k = 0; k < FANOUT_TRACKS; k++)
    pktstore_free(r->tracks[k].store);
  free(r->views);
  free(r);
}

void fanout_free(struct fanout *f) {
  while (f->rooms)
    room_free(f, f->rooms);
}

void fanout_vp8_read(const struct rtp_hdr *h, const uint8_t *pkt, struct fanout_vp8 *ids) {
  struct rtp_vp8_desc d;
  memset(ids, 0, sizeof(*ids));
  if (rtp_vp8_desc(h->payload, h->payload_len, &d) < 0 || d.picture_id_bits == 0)
    return;
  ids->payload_off = (uint16_t)(h->payload - pkt);
  ids->picid = d.picture_id;
  ids->bits = d.picture_id_bits;
  ids->has_tl0 = d.has_tl0picidx;
  ids->tl0 = d.tl0picidx;
}

/* The IDs of a stored packet, if it is VP8. */
static const struct fanout_vp8 *vp8_stored(const struct pkt *p, const struct rtp_hdr *h,
                                           struct fanout_vp8 *ids) {
  if (!(p->flags & PKT_VP8))
    return NULL;
  fanout_vp8_read(h, p->data, ids);
  return ids;
}

/* At a segment's first packet: offsets that make its picture IDs and
 * TL0PICIDX follow the newest ones the viewer was sent (0 at the first). */
static void vp8_ids_start(struct fanout_out *out, const struct fanout_vp8 *ids) {
  out->picid_off = 0;
  out->tl0_off = 0;
  if (ids == NULL || ids->bits == 0 || !out->ids_sent)
    return;
  out->picid_off = (uint16_t)(out->picid_last + 1 - ids->picid);
  out->tl0_off = (uint8_t)(out->tl0_last + 1 - ids->tl0);
}

/* The viewer's IDs into its copy (len bytes at slot), and the newest it
 * was sent remembered. */
static void vp8_ids_write(struct fanout_out *out, uint8_t *slot, size_t len,
                          const struct fanout_vp8 *ids, size_t shift) {
  uint16_t mask = ids->bits == 15 ? 0x7fff : 0x7f;
  uint16_t picid = (uint16_t)((ids->picid + out->picid_off) & mask);
  uint8_t tl0 = (uint8_t)(ids->tl0 + out->tl0_off);
  size_t off = ids->payload_off + shift; /* the copy's header may be longer */
  if ((out->picid_off || out->tl0_off) && off < len)
    rtp_vp8_write_ids(slot + off, len - off, picid, tl0);
  uint16_t ahead = (uint16_t)((picid - out->picid_last) & mask);
  if (out->ids_sent && (ahead == 0 || ahead > mask / 2))
    return; /* a resent one, or one out of order */
  out->picid_last = picid;
  if (ids->has_tl0)
    out->tl0_last = tl0;
  out->ids_sent = 1;
}

/* Protects the packet of n bytes in the send ring's slot and queues it to
 * v. */
static void send_slot(struct fanout *f, struct fanout_view *v, uint8_t *slot, size_t n) {
  if (srtpctx_protect_rtp(v->srtp, slot, &n, UDP_SLOT_BYTES) < 0)
    return; /* the slot is simply reused */
  if (v->tcp)
    f->ops->tcp_send(v->tcp, slot, n); /* copied out: the slot is reused */
  else
    udp_commit(f->udp, n, (const struct sockaddr *)&v->addr, v->addr_len);
  COUNTER_ADD(f->stats.rtp_out, 1);
  COUNTER_ADD(f->stats.rtp_out_bytes, n);
}

/* The transport-wide number of v's next packet of len bytes (before its
 * extension and SRTP), its send time and size remembered for feedback. */
static uint16_t twcc_next(struct fanout *f, struct fanout_view *v, size_t len) {
  return twcc_send_next(&v->twcc, f->now_us,
                        (uint32_t)(len + RTP_TWCC_BLOCK_LEN + SRTPCTX_MAX_TRAILER));
}

/* One packet (h parsed from data, len bytes) to one viewer, built in the
 * send ring: the publisher's header extensions replaced by the viewer's
 * transport-wide sequence number (none without it); ids: its VP8 IDs, or
 * NULL. */
static void send_rtp(struct fanout *f, struct fanout_view *v, struct fanout_out *out,
                     const uint8_t *data, size_t len, const struct rtp_hdr *h, uint16_t seq,
                     uint32_t ts, const struct fanout_vp8 *ids) {
  uint16_t oseq;
  uint32_t ots;
  if ((v->addr_len == 0 && v->tcp == NULL) ||
      len + RTP_TWCC_BLOCK_LEN + SRTPCTX_MAX_TRAILER > UDP_SLOT_BYTES ||
      seqmap_out(&out->map, seq, ts, &oseq, &ots) < 0)
    return;
  uint8_t *slot = udp_slot(f->udp);
  int n = rtp_copy_with_twcc(slot, UDP_SLOT_BYTES - SRTPCTX_MAX_TRAILER, data, h, v->twcc_id,
                             v->twcc_id ? twcc_next(f, v, len) : 0);
  if (n < 0)
    return;
  rtp_write_ssrc(slot, out->ssrc);
  rtp_write_seq(slot, oseq);
  rtp_write_ts(slot, ots);
  rtp_write_pt(slot, out->pt);
  if (ids && ids->bits)
    vp8_ids_write(out, slot, (size_t)n, ids, (size_t)n - len);
  send_slot(f, v, slot, (size_t)n);
  out->packets++;
  out->octets += (uint32_t)(len - RTP_HDR_MIN);
}

/* Sends an RTCP packet built in f->scratch to v. */
static void view_send_rtcp(struct fanout *f, struct fanout_view *v, size_t len) {
  if (srtpctx_protect_rtcp(v->srtp, f->scratch, &len, sizeof(f->scratch)) < 0)
    return;
  if (v->tcp)
    f->ops->tcp_send(v->tcp, f->scratch, len);
  else if (v->addr_len)
    udp_send(f->udp, f->scratch, len, (const struct sockaddr *)&v->addr, v->addr_len);
}

/* A byte bucket filled at rate bytes a second since *ms, holding at most
 * cap. */
static void tokens_refill(double *tokens, uint64_t *ms, double rate, double cap, uint64_t now) {
  if (now > *ms) {
    *tokens += (double)(now - *ms) * rate / 1000.0;
    *ms = now;
  }
  if (*tokens > cap)
    *tokens = cap;
}

/* Refills a catching-up viewer's pacing tokens: FANOUT_PACE_FACTOR times
 * the stream's rate (at least FANOUT_PACE_MIN_BPS), at most
 * FANOUT_PACE_BURST at once, so a joining viewer's start never overruns a
 * default receive buffer. */
static void pace_refill(struct fanout_out *out, const struct fanout_track *t, uint64_t now) {
  double rate = (double)t->rate_Bps * FANOUT_PACE_FACTOR;
  if (rate < FANOUT_PACE_MIN_BPS)
    rate = FANOUT_PACE_MIN_BPS;
  tokens_refill(&out->pace_tokens, &out->pace_ms, rate, FANOUT_PACE_BURST, now);
}

/* ---- simulcast layers ---- */

/* The media clock ticks between the last timestamp v was sent and the
 * first of a new segment (a switch, a restart): the wall time between
 * them, so the receiver's jitter estimate sees no jump. */
static uint32_t switch_gap(const struct fanout_out *out, uint64_t now) {
  if (out->last_ms == 0 || now <= out->last_ms)
    return out->last_ms ? 1 : SEQMAP_TS_GAP_DEFAULT;
  uint64_t ticks = (now - out->last_ms) * FANOUT_VIDEO_HZ;
  return ticks > 10u * 1000 * FANOUT_VIDEO_HZ ? 10u * 1000 * FANOUT_VIDEO_HZ : (uint32_t)ticks;
}

/* A layer's bits a second with the audio, as the publisher sends them
 * (the last rate heard of, for a layer paused now; 0: never heard). */
static double layer_bps(const struct fanout_room *r, int track) {
  return 8.0 * ((double)r->tracks[track].rate_Bps + r->tracks[FANOUT_AUDIO].rate_Bps);
}

static int layer_live(const struct fanout_room *r, int track, uint64_t now) {
  const struct fanout_track *t = &r->tracks[track];
  return t->store && t->last_ms && (now < t->last_ms || now - t->last_ms < FANOUT_LAYER_QUIET_MS);
}

/* What a layer needs, bits a second: its rate; for one never heard of (paused
 * from the start), a guess between the layers around it that were (a layer
 * is about 3 times the one below); 0 when none was. */
static double layer_need(const struct fanout_room *r, int track, uint64_t now) {
  int top = FANOUT_VIDEO + (r->layers ? r->layers : 1) - 1;
  double below = 0, above = 0;
  if (r->tracks[track].rate_Bps && layer_live(r, track, now))
    return layer_bps(r, track);
  for (int t = track - 1; t >= FANOUT_VIDEO && below == 0; t--)
    below = r->tracks[t].rate_Bps ? layer_bps(r, t) * (track - t) * 3 : 0;
  for (int t = track + 1; t <= top && above == 0; t++)
    above = r->tracks[t].rate_Bps ? layer_bps(r, t) / ((t - track) * 3) : 0;
  double guess = below && above ? sqrt(below * above) : below ? below : above;
  /* Paused: the rate it had, if it was ever sent long enough to tell, and
   * not less than the guess (a short burst before the pause says little). */
  return fmax(guess, r->tracks[track].rate_Bps ? layer_bps(r, track) : 0);
}

void fanout_hold_up(struct fanout_hold *h, uint64_t now) { h->up_ms = now ? now : 1; }

void fanout_hold_down(struct fanout_hold *h, uint64_t now) {
  if (h->up_ms && now - h->up_ms < FANOUT_UP_TRIAL_MS)
    h->fails += h->fails < FANOUT_UP_FAILS_MAX; /* that move up did not fit */
  else
    h->fails = 0; /* it held, or came long ago: the path changed since */
  h->up_ms = 0;
  h->down_ms = now ? now : 1;
}

int fanout_hold_on(const struct fanout_hold *h, uint64_t now) {
  return h->down_ms && now - h->down_ms < ((uint64_t)FANOUT_UP_HOLD_MS << h->fails);
}

/* Auto: the highest track v's estimate carries: the one it gets while the
 * estimate holds FANOUT_STAY_MARGIN of that layer's rate (a delay blip cuts
 * the estimate to 0.85 times what came through, under the rate it gets), a
 * lower one that fits, a higher one with FANOUT_UP_MARGIN to
 * spare and not while its hold is on (fanout_hold_on: no flapping). The
 * lowest always fits; with no layer heard of yet, any does. Without
 * an estimate (no feedback yet, or none negotiated): the highest. */
static int layer_auto(const struct fanout_view *v, int top, uint64_t now) {
  if (!v->estimating)
    return top;
  double est = bwe_estimate(&v->bwe);
  int cur = v->out[FANOUT_VIDEO].track;
  int hold = fanout_hold_on(&v->hold, now);
  for (int t = top; t > FANOUT_VIDEO; t--) {
    double need = layer_need(v->room, t, now);
    if (t == cur  ? need * FANOUT_STAY_MARGIN <= est
        : t < cur ? need <= est
                  : !hold && need * FANOUT_UP_MARGIN <= est)
      return t;
  }
  return FANOUT_VIDEO;
}

/* The highest track v would take, whether it is sent or not. */
static int layer_want(const struct fanout_view *v, uint64_t now) {
  int top = (v->room->layers ? v->room->layers : 1) - 1;
  switch (v->pref) {
  case FANOUT_PREF_AUDIO: return FANOUT_NO_TRACK;
  case FANOUT_PREF_LOW: return FANOUT_VIDEO;
  case FANOUT_PREF_MEDIUM: return FANOUT_VIDEO + (top < 1 ? top : 1);
  case FANOUT_PREF_HIGH: return FANOUT_VIDEO + top;
  default: return layer_auto(v, FANOUT_VIDEO + top, now);
  }
}

/* The track v is to get: the one it wants (want) if the publisher sends
 * it, else the nearest lower one sent, else the nearest higher one; with
 * none sent, the one it wants (it waits for that one). */
static int layer_pick(const struct fanout_view *v, int want, uint64_t now) {
  const struct fanout_room *r = v->room;
  int top = FANOUT_VIDEO + (r->layers ? r->layers : 1) - 1;
  if (want == FANOUT_NO_TRACK)
    return want;
  for (int t = want; t >= FANOUT_VIDEO; t--) {
    if (layer_live(r, t, now))
      return t;
  }
  for (int t = want + 1; t <= top; t++) {
    if (layer_live(r, t, now))
      return t;
  }
  return want;
}

/* Tells the media plane v's track and want when either changed. */
static void layer_tell(struct fanout *f, struct fanout_view *v, int want) {
  uint8_t track = v->out[FANOUT_VIDEO].active ? v->out[FANOUT_VIDEO].track : FANOUT_NO_TRACK;
  if (!v->out[FANOUT_VIDEO].active)
    want = FANOUT_NO_TRACK;
  if (track == v->told_track && want == v->want)
    return;
  v->told_track = track;
  v->want = (uint8_t)want;
  if (f->ops->layer)
    f->ops->layer(f->arg, v, v->room_id, track, want);
}

static void video_start(struct fanout *f, struct fanout_view *v, int track, uint64_t now);

/* Sends v's video from the track it is to get now (its quality menu, what
 * the publisher sends): at once from nothing, at that track's next
 * keyframe from another (asked for, again every FANOUT_SWITCH_ASK_MS while
 * it waits). */
static void layer_update(struct fanout *f, struct fanout_view *v, uint64_t now) {
  struct fanout_out *out = &v->out[FANOUT_VIDEO];
  if (!out->active)
    return;
  int want = layer_want(v, now), pick = layer_pick(v, want, now);
  if (v->pref == FANOUT_PREF_AUTO && pick != FANOUT_NO_TRACK && out->track != FANOUT_NO_TRACK &&
      pick < out->target && pick < out->track)
    fanout_hold_down(&v->hold, now); /* its network carries less: up again only later */
  if (pick == FANOUT_NO_TRACK || out->track == FANOUT_NO_TRACK) {
    if (pick != out->track)
      video_start(f, v, pick, now);
  } else if (pick != out->target ||
             (pick != out->track && now - out->asked_ms >= FANOUT_SWITCH_ASK_MS)) {
    if (pick > out->target) {
      v->probe_backoff = 0; /* up: the next probe comes at its usual time */
      if (v->pref == FANOUT_PREF_AUTO)
        fanout_hold_up(&v->hold, now);
    }
    out->target = (uint8_t)pick;
    if (pick != out->track) {
      out->asked_ms = now;
      f->ops->keyframe(f->arg, v->room_id, pick);
    }
  }
  layer_tell(f, v, want);
}

/* ---- the viewer's estimate, and probes ---- */

/* The estimate starts at the first feedback or REMB, from 1.5 times what
 * v is sent: a path that carries less says so by delay and loss. */
static void estimate_start(struct fanout_view *v) {
  if (v->estimating)
    return;
  double bps = 1.5 * layer_bps(v->room, v->out[FANOUT_VIDEO].track);
  bwe_init(&v->bwe, bps > 300000 ? (uint32_t)fmin(bps, FANOUT_BWE_MAX_BPS) : 300000,
           FANOUT_BWE_MIN_BPS, FANOUT_BWE_MAX_BPS);
  v->estimating = 1;
}

static void view_on_twcc(struct fanout *f, const struct fanout_msg *m) {
  struct fanout_view *v = m->view;
  _Static_assert(sizeof(f->fb) / sizeof(f->fb[0]) == FANOUT_FB_MAX, "feedback room");
  int n = twcc_send_on_feedback(&v->twcc, m->u.pkt.data, m->u.pkt.len, f->fb, FANOUT_FB_MAX);
  if (n < 0)
    return;
  estimate_start(v);
  bwe_on_feedback(&v->bwe, f->fb, (size_t)n, f->now_us);
  COUNTER_ADD(f->stats.feedbacks, 1);
}

static void view_on_remb(struct fanout *f, const struct fanout_msg *m) {
  estimate_start(m->view);
  bwe_on_remb(&m->view->bwe, m->u.remb_bps, f->now_us);
  COUNTER_ADD(f->stats.feedbacks, 1);
}

/* One padding-only packet on v's RTX stream, numbered for feedback. */
static void send_padding(struct fanout *f, struct fanout_view *v) {
  struct fanout_out *out = &v->out[FANOUT_VIDEO];
  size_t n = RTP_HDR_MIN + RTP_TWCC_BLOCK_LEN + FANOUT_PAD_BYTES;
  uint8_t *slot = udp_slot(f->udp);
  uint16_t tseq = twcc_next(f, v, n - RTP_TWCC_BLOCK_LEN);
  memset(slot, 0, n);
  slot[0] = 0x80 | 0x20 | 0x10; /* version 2, padding, extension */
  rtp_write_pt(slot, out->rtx_pt);
  rtp_write_seq(slot, out->rtx_seq++);
  rtp_write_ssrc(slot, out->rtx_ssrc);
  slot[12] = RTP_EXT_ONE_BYTE >> 8;
  slot[13] = RTP_EXT_ONE_BYTE & 0xff;
  slot[15] = 1; /* one word of elements */
  slot[16] = (uint8_t)(v->twcc_id << 4 | 1);
  slot[17] = (uint8_t)(tseq >> 8);
  slot[18] = (uint8_t)tseq;
  slot[n - 1] = FANOUT_PAD_BYTES; /* RFC 3550 5.1: the count, itself included */
  v->probe_last = tseq;
  send_slot(f, v, slot, n);
  COUNTER_ADD(f->stats.probe_packets, 1);
}

/* Sends what is due of v's probe (its rate since it began); at its end,
 * the estimator is told which packets it was. */
static void probe_pump(struct fanout *f, struct fanout_view *v) {
  int64_t elapsed = f->now_us - (int64_t)v->probe_ms;
  double due = (double)v->probe_bps * (double)elapsed / 8e6 - v->probe_sent;
  while (v->probe_left && (due >= FANOUT_PAD_BYTES || elapsed >= (int64_t)v->probe_us)) {
    send_padding(f, v);
    due -= FANOUT_PAD_BYTES;
    v->probe_sent += FANOUT_PAD_BYTES;
    v->probe_left = v->probe_left > FANOUT_PAD_BYTES ? v->probe_left - FANOUT_PAD_BYTES : 0;
  }
  if (v->probe_left == 0)
    bwe_probe_mark(&v->bwe, v->probe_first, v->probe_last);
}

/* An Auto viewer whose estimate does not carry the next layer up, which
 * the publisher sends: a probe of padding on RTX at FANOUT_PROBE_GAIN times
 * what that layer needs (its media included), for FANOUT_PROBE_US or as long
 * as BWE_PROBE_MIN_BYTES of padding take at that rate (a shaper's burst
 * would make a smaller one look faster than the path), once in
 * FANOUT_PROBE_EVERY_MS, less often while probes lift nothing. */
static void probe_maybe(struct fanout *f, struct fanout_view *v, uint64_t now) {
  const struct fanout_out *out = &v->out[FANOUT_VIDEO];
  const struct fanout_room *r = v->room;
  int next = out->track + 1;
  if (!v->estimating || !v->twcc_id || !out->rtx_ssrc || v->pref != FANOUT_PREF_AUTO ||
      v->probe_left || now < v->next_probe_ms || out->track == FANOUT_NO_TRACK ||
      next >= FANOUT_VIDEO + r->layers)
    return;
  /* The next layer may be paused (nobody took it): what it would need. */
  double need = layer_need(r, next, now) * FANOUT_UP_MARGIN, est = bwe_estimate(&v->bwe);
  if (need == 0 || need <= est || fanout_hold_on(&v->hold, now))
    return; /* the switch comes by itself, or not yet */
  if (v->next_probe_ms && est < need && v->probe_backoff < FANOUT_PROBE_BACKOFF)
    v->probe_backoff++; /* the last one did not lift it enough */
  double pad = need * FANOUT_PROBE_GAIN - layer_bps(r, out->track);
  v->probe_bps = (uint32_t)pad;
  v->probe_ms = (uint64_t)f->now_us;
  v->probe_us =
      (uint32_t)fmin(fmax(FANOUT_PROBE_US, BWE_PROBE_MIN_BYTES * 8e6 / pad), FANOUT_PROBE_MAX_US);
  v->probe_left = (uint32_t)(pad * v->probe_us / 8e6) + FANOUT_PAD_BYTES;
  v->probe_sent = 0;
  v->probe_first = (uint16_t)v->twcc.next;
  bwe_probe_begin(&v->bwe, v->probe_first); /* a feedback may come before its end */
  v->next_probe_ms = now + ((uint64_t)FANOUT_PROBE_EVERY_MS << v->probe_backoff);
  probe_pump(f, v);
}

/* Sends v the stored video from out->next on, in order, as its pacing
 * allows; the catch-up ends at the newest packet (a packet missing from the
 * ring is skipped: the viewer asks for it again). */
static void replay_pump(struct fanout *f, struct fanout_view *v, uint64_t now) {
  struct fanout_out *out = &v->out[FANOUT_VIDEO];
  const struct fanout_track *t = &v->room->tracks[out->track];
  uint32_t high;
  if (t->store == NULL || pktstore_highest(t->store, &high) < 0) {
    out->catching_up = 0;
    return;
  }
  pace_refill(out, t, now);
  while (out->catching_up) {
    const struct pkt *p = pktstore_get(t->store, out->next);
    struct rtp_hdr h;
    if (p && out->pace_tokens < (double)p->len)
      return; /* the rest at the next packet in, or the timer */
    if (p && rtp_parse(p->data, p->len, &h) == 0) {
      struct fanout_vp8 ids;
      out->pace_tokens -= (double)p->len;
      send_rtp(f, v, out, p->data, p->len, &h, out->next, h.ts, vp8_stored(p, &h, &ids));
      out->last_ms = now;
    }
    if (out->next == (uint16_t)high)
      out->catching_up = 0; /* caught up: live from the next packet */
    out->next++;
  }
}

/* Starts a viewer's video from the cached keyframe when it is recent and
 * whole in the ring; returns 1 if it did. The keyframe and what followed
 * it go out paced (replay_pump), not in one burst. */
static int replay_keyframe(struct fanout *f, struct fanout_view *v, uint64_t now) {
  const struct pktstore *store = v->room->tracks[v->out[FANOUT_VIDEO].track].store;
  uint16_t seq;
  uint64_t ms;
  uint32_t high;
  if (store == NULL || pktstore_last_keyframe(store, &seq, &ms) < 0 ||
      (now > ms && now - ms > FANOUT_REPLAY_MAX_AGE_MS) || pktstore_highest(store, &high) < 0)
    return 0;
  for (uint16_t s = seq;; s++) {
    if (pktstore_get(store, s) == NULL)
      return 0; /* a gap: wait for a fresh keyframe instead */
    if (s == (uint16_t)high)
      break;
  }
  struct fanout_out *out = &v->out[FANOUT_VIDEO];
  struct rtp_hdr h;
  const struct pkt *key = pktstore_get(store, seq);
  struct fanout_vp8 ids;
  if (rtp_parse(key->data, key->len, &h) < 0)
    return 0;
  out->map.ts_gap = switch_gap(out, now);
  seqmap_start(&out->map, seq, h.ts);
  vp8_ids_start(out, vp8_stored(key, &h, &ids));
  out->started = 1;
  out->catching_up = 1;
  out->next = seq;
  out->pace_tokens = FANOUT_PACE_BURST;
  out->pace_ms = now;
  replay_pump(f, v, now);
  return 1;
}

/* A viewer's video (re)starts on track at a keyframe: the cached one, or
 * the next one, which the publisher is asked for. */
static void video_start(struct fanout *f, struct fanout_view *v, int track, uint64_t now) {
  struct fanout_out *out = &v->out[FANOUT_VIDEO];
  out->track = out->target = (uint8_t)track;
  out->started = 0;
  out->catching_up = 0;
  if (track != FANOUT_NO_TRACK && !replay_keyframe(f, v, now)) {
    out->asked_ms = now;
    f->ops->keyframe(f->arg, v->room_id, track);
  }
}

/* A viewer's streams start again: audio at once, video at a keyframe of
 * the layer it is to get. */
static void view_start(struct fanout *f, struct fanout_view *v) {
  uint64_t now = uv_now(f->loop);
  v->out[FANOUT_AUDIO].started = 0;
  int want = layer_want(v, now);
  if (v->out[FANOUT_VIDEO].active)
    video_start(f, v, layer_pick(v, want, now), now);
  layer_tell(f, v, want);
}

static void view_add(struct fanout *f, struct fanout_view *v) {
  struct fanout_room *r = room_get(f, v->room_id);
  if (r && r->nviews == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 8;
    struct fanout_view **a = realloc(r->views, cap * sizeof(*a));
    if (a == NULL)
      r = NULL;
    else
      r->views = a, r->cap = cap;
  }
  if (r == NULL) {
    fanout_view_free(v); /* out of memory: the viewer gets nothing, and says so by leaving */
    return;
  }
  v->room = r;
  if (v->layers >= 1 && v->layers <= FANOUT_LAYERS)
    r->layers = v->layers; /* before the share has had a packet of the room */
  v->index = r->nviews;
  r->views[r->nviews++] = v;
  COUNTER_ADD(f->stats.views, 1);
  const struct fanout_out *video = &v->out[FANOUT_VIDEO];
  if (!video->started || video->catching_up)
    view_start(f, v); /* new; or moved from another share before it was live */
}

/* Takes v out of its room; the room stays (FANOUT_ROOM_DEL frees it). */
static void view_unlink(struct fanout *f, struct fanout_view *v) {
  struct fanout_room *r = v->room;
  assert(r && v->index < r->nviews && r->views[v->index] == v);
  r->views[v->index] = r->views[--r->nviews];
  r->views[v->index]->index = v->index;
  v->room = NULL;
  COUNTER_ADD(f->stats.views, -(uint64_t)1);
}

/* Stores packet m in r's ring; 1 when it is to go on to the viewers. */
static int pkt_store(struct fanout_room *r, const struct fanout_msg *m) {
  struct fanout_track *t = &r->tracks[m->track];
  if (t->store == NULL && (t->store = pktstore_new(FANOUT_STORE_SLOTS)) == NULL)
    return 0; /* out of memory: this layer is not sent from this share */
  if (pktstore_put(t->store, m->u.pkt.seq, m->u.pkt.data, m->u.pkt.len, m->u.pkt.flags & 0xff,
                   m->u.pkt.ms) < 0)
    return 0; /* the media plane took it, so the same ring takes it too */
  t->rate_Bps = m->u.pkt.rate_Bps;
  t->last_ms = m->u.pkt.ms;
  if (m->u.pkt.layers >= 1 && m->u.pkt.layers <= FANOUT_LAYERS)
    r->layers = m->u.pkt.layers;
  return !(m->u.pkt.flags & FANOUT_SEED);
}

/* Packet m to viewer v (or, while v catches up, its next stored ones). */
static void view_pkt(struct fanout *f, struct fanout_view *v, const struct fanout_msg *m,
                     const struct rtp_hdr *h, uint64_t now) {
  int k = m->track == FANOUT_AUDIO ? FANOUT_AUDIO : FANOUT_VIDEO;
  struct fanout_out *out = &v->out[k];
  if (!out->active)
    return;
  if (k == FANOUT_VIDEO && m->track != out->track) {
    if (m->track != out->target || !(m->u.pkt.flags & PKT_KEYFRAME))
      return; /* another layer's */
    COUNTER_ADD(f->stats.layer_switches, 1);
    out->track = (uint8_t)m->track; /* the switch: its keyframe is here */
    out->started = 0;
    out->catching_up = 0;
    layer_tell(f, v, v->want);
  }
  if (out->catching_up) {
    replay_pump(f, v, now); /* this packet too, in its turn */
    return;
  }
  if (!out->started) {
    if (k == FANOUT_VIDEO && !(m->u.pkt.flags & PKT_KEYFRAME))
      return; /* a decoder needs a keyframe first */
    out->map.ts_gap = k == FANOUT_VIDEO ? switch_gap(out, now) : SEQMAP_TS_GAP_DEFAULT;
    seqmap_start(&out->map, m->u.pkt.seq, m->u.pkt.ts);
    vp8_ids_start(out, m->u.pkt.flags & PKT_VP8 ? &m->u.pkt.vp8 : NULL);
    out->started = 1;
  }
  send_rtp(f, v, out, m->u.pkt.data, m->u.pkt.len, h, m->u.pkt.seq, m->u.pkt.ts,
           m->u.pkt.flags & PKT_VP8 ? &m->u.pkt.vp8 : NULL);
  out->last_ms = now;
}

void fanout_handle_pkts(struct fanout *f, const struct fanout_msg *const *m, size_t n) {
  struct fanout_room *r = room_get(f, m[0]->room_id);
  uint64_t now = uv_now(f->loop);
  uint8_t go[FANOUT_BATCH];
  struct rtp_hdr h[FANOUT_BATCH];
  size_t any = 0;
  assert(n >= 1 && n <= FANOUT_BATCH);
  if (r == NULL)
    return;
  f->now_us = (int64_t)(uv_hrtime() / 1000);
  for (size_t j = 0; j < n; j++) {
    assert(m[j]->type == FANOUT_PKT && m[j]->room_id == r->id);
    go[j] = (uint8_t)pkt_store(r, m[j]) && rtp_parse(m[j]->u.pkt.data, m[j]->u.pkt.len, &h[j]) == 0;
    any += go[j];
  }
  /* Viewer by viewer: a viewer's packets of the batch sit together in the
   * send ring and leave as one GSO message. */
  for (size_t i = 0; any && i < r->nviews; i++) {
    for (size_t j = 0; j < n; j++) {
      if (go[j])
        view_pkt(f, r->views[i], m[j], &h[j], now);
    }
    if (r->views[i]->probe_left)
      probe_pump(f, r->views[i]);
  }
}

static void on_pkt(struct fanout *f, const struct fanout_msg *m) { fanout_handle_pkts(f, &m, 1); }

/* A new source: what is stored is of no use, and viewers' streams start
 * again at its next keyframe, their numbering continuous. */
static void on_restart(struct fanout *f, const struct fanout_msg *m) {
  struct fanout_room *r = share_room_find(f, m->room_id);
  if (r == NULL)
    return;
  if (r->tracks[m->track].store)
    pktstore_reset(r->tracks[m->track].store);
  for (size_t i = 0; i < r->nviews; i++) {
    struct fanout_view *v = r->views[i];
    int k = m->track == FANOUT_AUDIO ? FANOUT_AUDIO : FANOUT_VIDEO;
    if (k == FANOUT_VIDEO && v->out[k].track != m->track)
      continue; /* another layer's viewer */
    v->out[k].started = 0;
    v->out[k].catching_up = 0;
  }
}

/* A publisher's sender report, passed on to each viewer in its own
 * numbering (lip sync). */
static void on_sr(struct fanout *f, const struct fanout_msg *m) {
  struct fanout_room *r = share_room_find(f, m->room_id);
  for (size_t i = 0; r && i < r->nviews; i++) {
    struct fanout_view *v = r->views[i];
    int k = m->track == FANOUT_AUDIO ? FANOUT_AUDIO : FANOUT_VIDEO;
    struct fanout_out *out = &v->out[k];
    if (!out->active || !out->started || (k == FANOUT_VIDEO && out->track != m->track))
      continue;
    struct rtcp_sr o = {
        .ssrc = out->ssrc,
        .ntp = m->u.sr.ntp,
        .rtp_ts = m->u.sr.rtp_ts + out->map.ts_off,
        .packet_count = out->packets,
        .octet_count = out->octets,
    };
    int n = rtcp_build_compound_sr_sdes(f->scratch, sizeof(f->scratch), &o, "onair", 5);
    if (n > 0)
      view_send_rtcp(f, v, (size_t)n);
  }
}

/* 1 when v was sent seq (of kind k, its numbering) again lately. */
static int nack_repeated(const struct fanout_view *v, int k, uint16_t seq, uint64_t now) {
  for (unsigned i = 0; i < FANOUT_NACK_RECENT; i++) {
    const struct fanout_resent *e = &v->resent[i];
    if (e->ms && e->seq == seq && e->kind == k && now - e->ms < FANOUT_NACK_REPEAT_MS)
      return 1;
  }
  return 0;
}

static void nack_remember(struct fanout_view *v, int k, uint16_t seq, uint64_t now) {
  struct fanout_resent *e = &v->resent[v->resent_next++ % FANOUT_NACK_RECENT];
  e->seq = seq;
  e->kind = (uint8_t)k;
  e->ms = now ? now : 1;
}

/* Takes len bytes from v's retransmission budget: FANOUT_NACK_SHARE of the
 * publisher's rate (at least FANOUT_NACK_MIN_BPS), up to a second of it at
 * once. 0: resend; -1: spent. */
static int nack_budget_take(struct fanout_view *v, size_t len, uint64_t now) {
  const struct fanout_room *r = v->room;
  double stream =
      (double)r->tracks[FANOUT_AUDIO].rate_Bps + r->tracks[v->out[FANOUT_VIDEO].track].rate_Bps;
  double rate = stream * FANOUT_NACK_SHARE;
  if (rate < FANOUT_NACK_MIN_BPS)
    rate = FANOUT_NACK_MIN_BPS;
  if (v->nack_tokens_ms == 0) {
    v->nack_tokens = rate;
    v->nack_tokens_ms = now ? now : 1;
  }
  tokens_refill(&v->nack_tokens, &v->nack_tokens_ms, rate, rate, now);
  if (v->nack_tokens < (double)len)
    return -1;
  v->nack_tokens -= (double)len;
  return 0;
}

/* Resends one packet v lost (its numbering), once in FANOUT_NACK_REPEAT_MS
 * and within its budget. */
static void nack_one(struct fanout *f, struct fanout_view *v, int k, uint16_t lost, uint64_t now) {
  struct fanout_out *out = &v->out[k];
  const struct pktstore *store =
      v->room->tracks[k == FANOUT_AUDIO ? FANOUT_AUDIO : out->track].store;
  uint16_t in;
  const struct pkt *p;
  struct rtp_hdr h;
  if (store == NULL || seqmap_in_seq(&out->map, lost, &in) < 0 ||
      (p = pktstore_get(store, in)) == NULL || rtp_parse(p->data, p->len, &h) < 0)
    return;
  if (nack_repeated(v, k, lost, now)) {
    COUNTER_ADD(f->stats.nack_duplicates, 1);
    return;
  }
  if (nack_budget_take(v, p->len, now) < 0) {
    COUNTER_ADD(f->stats.nack_over_budget, 1);
    return;
  }
  struct fanout_vp8 ids;
  nack_remember(v, k, lost, now);
  send_rtp(f, v, out, p->data, p->len, &h, in, h.ts, vp8_stored(p, &h, &ids));
  COUNTER_ADD(f->stats.nack_resent, 1);
}

static void view_on_nack(struct fanout *f, const struct fanout_msg *m) {
  struct fanout_view *v = m->view;
  uint64_t now = uv_now(f->loop);
  for (int k = 0; k < FANOUT_KINDS; k++) {
    const struct fanout_out *out = &v->out[k];
    if (!out->active || !out->started || m->u.nack.media_ssrc != out->ssrc)
      continue;
    for (size_t i = 0; i < m->u.nack.n && i < FANOUT_NACK_MAX; i++)
      nack_one(f, v, k, m->u.nack.lost[i], now);
  }
}

static void on_room_del(struct fanout *f, uint64_t id) {
  struct fanout_room *r = share_room_find(f, id);
  if (r)
    room_free(f, r);
}

void fanout_handle(struct fanout *f, const struct fanout_msg *m) {
  struct fanout_view *v = m->view;
  f->now_us = (int64_t)(uv_hrtime() / 1000);
  switch (m->type) {
  case FANOUT_TWCC: view_on_twcc(f, m); break;
  case FANOUT_REMB: view_on_remb(f, m); break;
  case FANOUT_PKT: on_pkt(f, m); break;
  case FANOUT_RESTART: on_restart(f, m); break;
  case FANOUT_SR: on_sr(f, m); break;
  case FANOUT_VIEW_ADD:
    v->addr = m->u.path.addr;
    v->addr_len = m->u.path.addr_len;
    v->tcp = m->u.path.tcp;
    view_add(f, v);
    break;
  case FANOUT_VIEW_PATH:
    v->addr = m->u.path.addr;
    v->addr_len = m->u.path.addr_len;
    v->tcp = m->u.path.tcp;
    break;
  case FANOUT_VIEW_DEL:
    view_unlink(f, v);
    fanout_view_free(v);
    break;
  case FANOUT_VIEW_MOVE:
    view_unlink(f, v);
    f->ops->moved(f->arg, v);
    break;
  case FANOUT_VIEW_START: view_start(f, v); break;
  case FANOUT_NACK: view_on_nack(f, m); break;
  case FANOUT_ROOM_DEL: on_room_del(f, m->room_id); break;
  case FANOUT_VIEW_PREF:
    v->pref = m->u.pref;
    layer_update(f, v, uv_now(f->loop));
    break;
  }
}

void fanout_tick(struct fanout *f) {
  uint64_t now = uv_now(f->loop);
  f->now_us = (int64_t)(uv_hrtime() / 1000);
  for (struct fanout_room *r = f->rooms; r; r = r->next) {
    for (size_t i = 0; i < r->nviews; i++) {
      if (r->views[i]->out[FANOUT_VIDEO].catching_up)
        replay_pump(f, r->views[i], now);
      layer_update(f, r->views[i], now);
      probe_maybe(f, r->views[i], now);
      if (r->views[i]->probe_left)
        probe_pump(f, r->views[i]);
    }
  }
}

void fanout_stats_read(const struct fanout *f, struct fanout_stats *out) {
  counters_read(out, &f->stats, sizeof(*out) / sizeof(uint64_t));
}
