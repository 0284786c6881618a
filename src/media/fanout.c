/* A share's rooms and viewers (fanout.h): each packet stored once in the
 * share's ring for its room, then copied into the send ring for every
 * viewer, rewritten, encrypted there and queued for the loop turn's
 * sendmmsg. */
#include "media/fanout.h"

#include <assert.h>
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

struct fanout_track {
  struct pktstore *store;
  uint32_t rate_Bps; /* the publisher's, as the media plane last said (fanout_msg) */
};

struct fanout_room {
  uint64_t id;
  struct fanout_track tracks[FANOUT_KINDS];
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
  for (int k = 0; k < FANOUT_KINDS; k++)
    pktstore_free(r->tracks[k].store);
  free(r->views);
  free(r);
}

void fanout_free(struct fanout *f) {
  while (f->rooms)
    room_free(f, f->rooms);
}

/* One packet to one viewer, built in the send ring. */
static void send_rtp(struct fanout *f, struct fanout_view *v, struct fanout_out *out,
                     const uint8_t *data, size_t len, uint16_t seq, uint32_t ts) {
  uint16_t oseq;
  uint32_t ots;
  if ((v->addr_len == 0 && v->tcp == NULL) || len + SRTPCTX_MAX_TRAILER > UDP_SLOT_BYTES ||
      seqmap_out(&out->map, seq, ts, &oseq, &ots) < 0)
    return;
  uint8_t *slot = udp_slot(f->udp);
  memcpy(slot, data, len);
  rtp_write_ssrc(slot, out->ssrc);
  rtp_write_seq(slot, oseq);
  rtp_write_ts(slot, ots);
  rtp_write_pt(slot, out->pt);
  size_t n = len;
  if (srtpctx_protect_rtp(v->srtp, slot, &n, UDP_SLOT_BYTES) < 0)
    return; /* the slot is simply reused */
  if (v->tcp)
    f->ops->tcp_send(v->tcp, slot, n); /* copied out: the slot is reused */
  else
    udp_commit(f->udp, n, (const struct sockaddr *)&v->addr, v->addr_len);
  COUNTER_ADD(f->stats.rtp_out, 1);
  COUNTER_ADD(f->stats.rtp_out_bytes, n);
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

/* Sends v the stored video from out->next on, in order, as its pacing
 * allows; the catch-up ends at the newest packet (a packet missing from the
 * ring is skipped: the viewer asks for it again). */
static void replay_pump(struct fanout *f, struct fanout_view *v, uint64_t now) {
  struct fanout_out *out = &v->out[FANOUT_VIDEO];
  const struct fanout_track *t = &v->room->tracks[FANOUT_VIDEO];
  uint32_t high;
  if (pktstore_highest(t->store, &high) < 0) {
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
      out->pace_tokens -= (double)p->len;
      send_rtp(f, v, out, p->data, p->len, out->next, h.ts);
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
  const struct pktstore *store = v->room->tracks[FANOUT_VIDEO].store;
  uint16_t seq;
  uint64_t ms;
  uint32_t high;
  if (pktstore_last_keyframe(store, &seq, &ms) < 0 ||
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
  if (rtp_parse(key->data, key->len, &h) < 0)
    return 0;
  seqmap_start(&out->map, seq, h.ts);
  out->started = 1;
  out->catching_up = 1;
  out->next = seq;
  out->pace_tokens = FANOUT_PACE_BURST;
  out->pace_ms = now;
  replay_pump(f, v, now);
  return 1;
}

/* A viewer's video (re)starts at a keyframe: the cached one, or the next
 * one, which the publisher is asked for. */
static void view_start(struct fanout *f, struct fanout_view *v) {
  uint64_t now = uv_now(f->loop);
  v->out[FANOUT_AUDIO].started = 0;
  v->out[FANOUT_VIDEO].started = 0;
  v->out[FANOUT_VIDEO].catching_up = 0;
  if (v->out[FANOUT_VIDEO].active && !replay_keyframe(f, v, now))
    f->ops->keyframe(f->arg, v->room_id);
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
  struct fanout_track *t = &r->tracks[m->kind];
  if (pktstore_put(t->store, m->u.pkt.seq, m->u.pkt.data, m->u.pkt.len, m->u.pkt.flags & 0xff,
                   m->u.pkt.ms) < 0)
    return 0; /* the media plane took it, so the same ring takes it too */
  t->rate_Bps = m->u.pkt.rate_Bps;
  return !(m->u.pkt.flags & FANOUT_SEED);
}

/* Packet m to viewer v (or, while v catches up, its next stored ones). */
static void view_pkt(struct fanout *f, struct fanout_view *v, const struct fanout_msg *m,
                     uint64_t now) {
  int k = m->kind;
  struct fanout_out *out = &v->out[k];
  if (!out->active)
    return;
  if (out->catching_up) {
    replay_pump(f, v, now); /* this packet too, in its turn */
    return;
  }
  if (!out->started) {
    if (k == FANOUT_VIDEO && !(m->u.pkt.flags & PKT_KEYFRAME))
      return; /* a decoder needs a keyframe first */
    seqmap_start(&out->map, m->u.pkt.seq, m->u.pkt.ts);
    out->started = 1;
  }
  send_rtp(f, v, out, m->u.pkt.data, m->u.pkt.len, m->u.pkt.seq, m->u.pkt.ts);
}

void fanout_handle_pkts(struct fanout *f, const struct fanout_msg *const *m, size_t n) {
  struct fanout_room *r = room_get(f, m[0]->room_id);
  uint64_t now = uv_now(f->loop);
  uint8_t go[FANOUT_BATCH];
  size_t any = 0;
  assert(n >= 1 && n <= FANOUT_BATCH);
  if (r == NULL)
    return;
  for (size_t j = 0; j < n; j++) {
    assert(m[j]->type == FANOUT_PKT && m[j]->room_id == r->id);
    any += go[j] = (uint8_t)pkt_store(r, m[j]);
  }
  /* Viewer by viewer: a viewer's packets of the batch sit together in the
   * send ring and leave as one GSO message. */
  for (size_t i = 0; any && i < r->nviews; i++) {
    for (size_t j = 0; j < n; j++) {
      if (go[j])
        view_pkt(f, r->views[i], m[j], now);
    }
  }
}

static void on_pkt(struct fanout *f, const struct fanout_msg *m) { fanout_handle_pkts(f, &m, 1); }

/* A new source: what is stored is of no use, and viewers' streams start
 * again at its next keyframe, their numbering continuous. */
static void on_restart(struct fanout *f, const struct fanout_msg *m) {
  struct fanout_room *r = share_room_find(f, m->room_id);
  if (r == NULL)
    return;
  pktstore_reset(r->tracks[m->kind].store);
  for (size_t i = 0; i < r->nviews; i++) {
    r->views[i]->out[m->kind].started = 0;
    r->views[i]->out[m->kind].catching_up = 0;
  }
}

/* A publisher's sender report, passed on to each viewer in its own
 * numbering (lip sync). */
static void on_sr(struct fanout *f, const struct fanout_msg *m) {
  struct fanout_room *r = share_room_find(f, m->room_id);
  for (size_t i = 0; r && i < r->nviews; i++) {
    struct fanout_view *v = r->views[i];
    struct fanout_out *out = &v->out[m->kind];
    if (!out->active || !out->started)
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
  double stream = (double)r->tracks[FANOUT_AUDIO].rate_Bps + r->tracks[FANOUT_VIDEO].rate_Bps;
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
  const struct pktstore *store = v->room->tracks[k].store;
  uint16_t in;
  const struct pkt *p;
  struct rtp_hdr h;
  if (seqmap_in_seq(&out->map, lost, &in) < 0 || (p = pktstore_get(store, in)) == NULL ||
      rtp_parse(p->data, p->len, &h) < 0)
    return;
  if (nack_repeated(v, k, lost, now)) {
    COUNTER_ADD(f->stats.nack_duplicates, 1);
    return;
  }
  if (nack_budget_take(v, p->len, now) < 0) {
    COUNTER_ADD(f->stats.nack_over_budget, 1);
    return;
  }
  nack_remember(v, k, lost, now);
  send_rtp(f, v, out, p->data, p->len, in, h.ts);
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
  switch (m->type) {
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
  }
}

void fanout_tick(struct fanout *f) {
  uint64_t now = uv_now(f->loop);
  for (struct fanout_room *r = f->rooms; r; r = r->next) {
    for (size_t i = 0; i < r->nviews; i++) {
      if (r->views[i]->out[FANOUT_VIDEO].catching_up)
        replay_pump(f, r->views[i], now);
    }
  }
}

void fanout_stats_read(const struct fanout *f, struct fanout_stats *out) {
  counters_read(out, &f->stats, sizeof(*out) / sizeof(uint64_t));
}

uint32_t fanout_rate(const struct fanout *f, uint64_t room_id, int kind) {
  const struct fanout_room *r = share_room_find(f, room_id);
  return r ? r->tracks[kind].rate_Bps : 0;
}
