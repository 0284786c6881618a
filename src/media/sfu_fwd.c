/* Forwarding: each packet from a publisher is decrypted once and stored once
 * in its track's ring; for every viewer it is copied into the send ring,
 * rewritten (SSRC, sequence, timestamp, payload type), encrypted there and
 * queued for the loop turn's sendmmsg. Viewers' NACKs are answered from the
 * ring; their keyframe requests reach the publisher at most once a second. */
#include <assert.h>
#include <string.h>

#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/sfu_int.h"
#include "util/log.h"

#define SFU_REPLAY_MAX_AGE_MS 1500 /* a cached keyframe newer than this starts a viewer */
#define SFU_PACE_FACTOR 3.0        /* a joining viewer catches up at this times the stream's rate */
#define SFU_PACE_MIN_BPS 250000.0  /* bytes a second, whatever the stream's rate */
#define SFU_PACE_BURST 24000.0     /* bytes sent to it at once, at most */
#define SFU_NACK_MAX 64            /* sequence numbers answered per NACK packet */
#define SFU_MAX_DROPOUT 3000       /* RFC 3550 A.1: the largest jump ahead taken at once */
#define SFU_MAX_MISORDER 100       /* and the largest step back */
#define SFU_RATE_WINDOW_MS 1000
#define SFU_NACK_REPEAT_MS 50    /* a packet is resent to a viewer once in this */
#define SFU_NACK_SHARE 0.5       /* of the publisher's rate a viewer may get again */
#define SFU_NACK_MIN_BPS 16000.0 /* bytes a second, whatever the publisher's rate */

static int track_kind(const struct sfu_room *r, uint8_t pt) {
  for (int k = 0; k < SFU_KINDS; k++) {
    if (r->tracks[k].active && r->tracks[k].codec.pt == pt)
      return k;
  }
  return -1; /* RTX or a codec we did not take */
}

static int is_keyframe(const struct sfu_track *t, const struct rtp_hdr *h) {
  switch (t->family) {
  case SFU_CODEC_VP8: return rtp_vp8_keyframe(h->payload, h->payload_len) == 1;
  case SFU_CODEC_H264: return rtp_h264_keyframe(h->payload, h->payload_len) == 1;
  default: return 0;
  }
}

/* One packet to one viewer, built in the send ring. */
static void send_rtp(struct sfu_peer *v, struct sfu_out *out, const uint8_t *data, size_t len,
                     uint16_t seq, uint32_t ts) {
  struct sfu *s = v->sfu;
  uint16_t oseq;
  uint32_t ots;
  assert(!v->publisher && v->state == PEER_CONNECTED && v->srtp); /* a keyed viewer */
  if (len + SRTPCTX_MAX_TRAILER > UDP_SLOT_BYTES || seqmap_out(&out->map, seq, ts, &oseq, &ots) < 0)
    return;
  uint8_t *slot = udp_slot(s->udp);
  memcpy(slot, data, len);
  rtp_write_ssrc(slot, out->ssrc);
  rtp_write_seq(slot, oseq);
  rtp_write_ts(slot, ots);
  rtp_write_pt(slot, out->pt);
  size_t n = len;
  if (srtpctx_protect_rtp(v->srtp, slot, &n, UDP_SLOT_BYTES) < 0)
    return; /* the slot is simply reused */
  if (v->tcp)
    sfu_tcp_send(v->tcp, slot, n); /* copied out: the slot is reused */
  else
    udp_commit(s->udp, n, (const struct sockaddr *)&v->addr, v->addr_len);
  s->stats.rtp_out++;
  s->stats.rtp_out_bytes += n;
  out->packets++;
  out->octets += (uint32_t)(len - RTP_HDR_MIN);
}

/* Sends an RTCP packet built in s->scratch to p. */
static void send_rtcp(struct sfu_peer *p, size_t len) {
  struct sfu *s = p->sfu;
  if (p->state != PEER_CONNECTED ||
      srtpctx_protect_rtcp(p->srtp, s->scratch, &len, sizeof(s->scratch)) < 0)
    return;
  sfu_peer_send(p, s->scratch, len);
}

void sfu_fwd_request_keyframe(struct sfu_room *r, uint64_t now) {
  struct sfu_track *t = &r->tracks[SFU_VIDEO];
  struct sfu_peer *pub = r->publisher;
  if (pub == NULL || pub->state != PEER_CONNECTED || !t->active || !t->ssrc_known)
    return;
  if (t->last_keyframe_request_ms && now - t->last_keyframe_request_ms < SFU_KEYFRAME_INTERVAL_MS)
    return; /* however many viewers ask */
  t->last_keyframe_request_ms = now;
  int n = rtcp_build_pli(pub->sfu->scratch, sizeof(pub->sfu->scratch), pub->rtcp_ssrc, t->ssrc);
  if (n > 0)
    send_rtcp(pub, (size_t)n);
  r->sfu->stats.keyframe_requests++;
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

/* Refills a catching-up viewer's pacing tokens: SFU_PACE_FACTOR times the
 * stream's rate (at least SFU_PACE_MIN_BPS), at most SFU_PACE_BURST at once,
 * so a joining viewer's start never overruns a default receive buffer. */
static void pace_refill(struct sfu_out *out, const struct sfu_track *t, uint64_t now) {
  double rate = (double)t->rate_Bps * SFU_PACE_FACTOR;
  if (rate < SFU_PACE_MIN_BPS)
    rate = SFU_PACE_MIN_BPS;
  tokens_refill(&out->pace_tokens, &out->pace_ms, rate, SFU_PACE_BURST, now);
}

/* Sends v the stored video from out->next on, in order, as its pacing
 * allows; the catch-up ends at the newest packet (a packet missing from the
 * ring is skipped: the viewer asks for it again). */
static void replay_pump(struct sfu_peer *v, const struct sfu_track *t, uint64_t now) {
  struct sfu_out *out = &v->out[SFU_VIDEO];
  uint32_t high;
  if (!t->store || pktstore_highest(t->store, &high) < 0) {
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
      send_rtp(v, out, p->data, p->len, out->next, h.ts);
    }
    if (out->next == (uint16_t)high)
      out->catching_up = 0; /* caught up: live from the next packet */
    out->next++;
  }
}

void sfu_fwd_pump(struct sfu_peer *v, uint64_t now) {
  if (v->out[SFU_VIDEO].catching_up && v->state == PEER_CONNECTED)
    replay_pump(v, &v->room->tracks[SFU_VIDEO], now);
}

/* Starts a viewer's video from the cached keyframe when it is recent and
 * whole in the ring; returns 1 if it did. The keyframe and what followed
 * it go out paced (replay_pump), not in one burst. */
static int replay_keyframe(struct sfu_peer *v, struct sfu_track *t, uint64_t now) {
  uint16_t seq;
  uint64_t ms;
  uint32_t high;
  if (!t->store || pktstore_last_keyframe(t->store, &seq, &ms) < 0 ||
      now - ms > SFU_REPLAY_MAX_AGE_MS || pktstore_highest(t->store, &high) < 0)
    return 0;
  for (uint16_t s = seq;; s++) {
    if (pktstore_get(t->store, s) == NULL)
      return 0; /* a gap: wait for a fresh keyframe instead */
    if (s == (uint16_t)high)
      break;
  }
  struct sfu_out *out = &v->out[SFU_VIDEO];
  struct rtp_hdr h;
  const struct pkt *key = pktstore_get(t->store, seq);
  if (rtp_parse(key->data, key->len, &h) < 0)
    return 0;
  seqmap_start(&out->map, seq, h.ts);
  out->started = 1;
  out->catching_up = 1;
  out->next = seq;
  out->pace_tokens = SFU_PACE_BURST;
  out->pace_ms = now;
  replay_pump(v, t, now);
  return 1;
}

void sfu_fwd_viewer_start(struct sfu_peer *v) {
  struct sfu_room *r = v->room;
  uint64_t now = uv_now(v->sfu->loop);
  v->out[SFU_AUDIO].started = 0;
  v->out[SFU_VIDEO].started = 0;
  v->out[SFU_VIDEO].catching_up = 0;
  if (v->out[SFU_VIDEO].active && !replay_keyframe(v, &r->tracks[SFU_VIDEO], now))
    sfu_fwd_request_keyframe(r, now);
}

/* A new source, or the stream jumped: what is stored is of no use, and
 * viewers' video starts again at its next keyframe, their numbering
 * continuous. */
static void track_restart(struct sfu_room *r, int k, uint64_t now) {
  struct sfu_track *t = &r->tracks[k];
  pktstore_reset(t->store);
  for (size_t i = 0; i < r->nviewers; i++) {
    r->viewers[i]->out[k].started = 0;
    r->viewers[i]->out[k].catching_up = 0;
  }
  if (k == SFU_VIDEO && r->nviewers)
    sfu_fwd_request_keyframe(r, now);
}

/* RFC 3550 A.1, on the clear header before SRTP (whose replay window
 * would otherwise move to a lone packet far ahead and refuse the stream
 * after it): a packet far from its source's numbers (SFU_MAX_DROPOUT ahead,
 * SFU_MAX_MISORDER back) is dropped unless it is the one that follows such
 * a packet. Returns 0 to let SRTP check it. */
static struct sfu_seq *seq_source(struct sfu_peer *p, uint32_t ssrc) {
  for (unsigned i = 0; i < SFU_SEQ_SOURCES; i++) {
    if (p->seqs[i].used && p->seqs[i].ssrc == ssrc)
      return &p->seqs[i];
  }
  return NULL;
}

static int seq_far(const struct sfu_seq *q, uint16_t seq) {
  uint16_t delta = (uint16_t)(seq - q->max_seq);
  return delta >= SFU_MAX_DROPOUT && delta <= (uint16_t)(0 - SFU_MAX_MISORDER);
}

static int seq_admit(struct sfu_peer *p, const uint8_t *data, size_t len) {
  if (len < RTP_HDR_MIN)
    return 0; /* SRTP refuses it */
  uint16_t seq = (uint16_t)(data[2] << 8 | data[3]);
  uint32_t ssrc =
      (uint32_t)data[8] << 24 | (uint32_t)data[9] << 16 | (uint32_t)data[10] << 8 | data[11];
  struct sfu_seq *q = seq_source(p, ssrc);
  if (q == NULL || !seq_far(q, seq) || (q->bad_set && seq == q->bad_seq))
    return 0;
  q->bad_seq = (uint16_t)(seq + 1);
  q->bad_set = 1;
  return -1;
}

/* An authenticated packet: its source's numbers move on. Returns 1 when
 * they jumped (a confirmed jump: the stream restarts there). */
static int seq_taken(struct sfu_peer *p, uint32_t ssrc, uint16_t seq) {
  struct sfu_seq *q = seq_source(p, ssrc);
  int jumped = 0;
  if (q == NULL) {
    q = &p->seqs[p->seqs_next++ % SFU_SEQ_SOURCES];
    q->used = 1;
    q->ssrc = ssrc;
    q->max_seq = seq;
  } else if (seq_far(q, seq)) {
    jumped = 1;
    q->max_seq = seq;
  } else if ((uint16_t)(seq - q->max_seq) < SFU_MAX_DROPOUT) {
    q->max_seq = seq;
  }
  q->bad_set = 0;
  return jumped;
}

/* The publisher's bytes a second, over windows of SFU_RATE_WINDOW_MS. */
static void track_rate(struct sfu_track *t, size_t len, uint64_t now) {
  if (t->rate_since_ms == 0)
    t->rate_since_ms = now;
  t->rate_bytes += len;
  if (now - t->rate_since_ms >= SFU_RATE_WINDOW_MS) {
    t->rate_Bps = (uint32_t)(t->rate_bytes * 1000 / (now - t->rate_since_ms));
    t->rate_bytes = 0;
    t->rate_since_ms = now;
  }
}

static void on_publisher_rtp(struct sfu_peer *pub, uint8_t *data, size_t len) {
  struct rtp_hdr h;
  if (rtp_parse(data, len, &h) < 0) {
    pub->sfu->stats.dropped[SFU_DROP_UNUSABLE]++;
    return;
  }
  int jumped = seq_taken(pub, h.ssrc, h.seq);
  struct sfu_room *r = pub->room;
  struct sfu *s = pub->sfu;
  assert(r->publisher == pub); /* a closed publisher is out of the lookups */
  int k = track_kind(r, h.pt);
  if (k < 0) {
    s->stats.dropped[SFU_DROP_UNUSABLE]++;
    return;
  }
  struct sfu_track *t = &r->tracks[k];
  uint64_t now = uv_now(s->loop);
  assert(t->store); /* made when the track became active */
  if (!t->ssrc_known || t->ssrc != h.ssrc || jumped) {
    t->ssrc = h.ssrc; /* a new source (first packet, the encoder restarted or renumbered) */
    t->ssrc_known = 1;
    track_restart(r, k, now);
  }
  track_rate(t, len, now);
  int key = k == SFU_VIDEO && is_keyframe(t, &h);
  if (pktstore_put(t->store, h.seq, data, len,
                   (key ? PKT_KEYFRAME : 0) | (h.marker ? PKT_MARKER : 0), now) < 0) {
    s->stats.dropped[SFU_DROP_UNUSABLE]++;
    return; /* older than anything kept, or too large: no use to a viewer */
  }
  if (t->packets++ == 0) {
    pktstore_highest(t->store, &t->base_ext_seq);
    t->expected_prior = t->received_prior = 0;
    t->lsr_ms = 0;
  }
  s->stats.rtp_in++;
  s->stats.rtp_in_bytes += len;
  for (size_t i = 0; i < r->nviewers; i++) {
    struct sfu_peer *v = r->viewers[i];
    struct sfu_out *out = &v->out[k];
    assert(v->room == r && v->state != PEER_CLOSED);
    if (v->state != PEER_CONNECTED || !out->active)
      continue;
    if (out->catching_up) {
      replay_pump(v, t, now); /* this packet too, in its turn */
      continue;
    }
    if (!out->started) {
      if (k == SFU_VIDEO && !key)
        continue; /* a decoder needs a keyframe first */
      seqmap_start(&out->map, h.seq, h.ts);
      out->started = 1;
    }
    send_rtp(v, out, data, len, h.seq, h.ts);
  }
}

/* 1 when v was sent seq (of kind k, its numbering) again lately. */
static int nack_repeated(const struct sfu_peer *v, int k, uint16_t seq, uint64_t now) {
  for (unsigned i = 0; i < SFU_NACK_RECENT; i++) {
    const struct sfu_resent *e = &v->resent[i];
    if (e->ms && e->seq == seq && e->kind == k && now - e->ms < SFU_NACK_REPEAT_MS)
      return 1;
  }
  return 0;
}

static void nack_remember(struct sfu_peer *v, int k, uint16_t seq, uint64_t now) {
  struct sfu_resent *e = &v->resent[v->resent_next++ % SFU_NACK_RECENT];
  e->seq = seq;
  e->kind = (uint8_t)k;
  e->ms = now ? now : 1;
}

/* Takes len bytes from v's retransmission budget: SFU_NACK_SHARE of the
 * publisher's rate (at least SFU_NACK_MIN_BPS), up to a second of it at
 * once. 0: resend; -1: spent. */
static int nack_budget_take(struct sfu_peer *v, size_t len, uint64_t now) {
  const struct sfu_room *r = v->room;
  double stream = (double)r->tracks[SFU_AUDIO].rate_Bps + (double)r->tracks[SFU_VIDEO].rate_Bps;
  double rate = stream * SFU_NACK_SHARE;
  if (rate < SFU_NACK_MIN_BPS)
    rate = SFU_NACK_MIN_BPS;
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

/* A viewer lost packets: resend them from the ring, each once in
 * SFU_NACK_REPEAT_MS and within the viewer's budget. */
static void on_nack(struct sfu_peer *v, const struct rtcp_pkt *pkt) {
  struct rtcp_nack nack;
  uint16_t lost[SFU_NACK_MAX];
  struct sfu_stats *st = &v->sfu->stats;
  uint64_t now = uv_now(v->sfu->loop);
  if (rtcp_parse_nack(pkt, &nack) < 0)
    return;
  for (int k = 0; k < SFU_KINDS; k++) {
    struct sfu_out *out = &v->out[k];
    struct sfu_track *t = &v->room->tracks[k];
    if (!out->active || !out->started || nack.media_ssrc != out->ssrc || !t->store)
      continue;
    size_t n = rtcp_nack_lost(&nack, lost, SFU_NACK_MAX);
    for (size_t i = 0; i < n; i++) {
      uint16_t in;
      const struct pkt *p;
      struct rtp_hdr h;
      if (seqmap_in_seq(&out->map, lost[i], &in) < 0 || (p = pktstore_get(t->store, in)) == NULL ||
          rtp_parse(p->data, p->len, &h) < 0)
        continue;
      if (nack_repeated(v, k, lost[i], now)) {
        st->nack_duplicates++;
        continue;
      }
      if (nack_budget_take(v, p->len, now) < 0) {
        st->nack_over_budget++;
        continue;
      }
      nack_remember(v, k, lost[i], now);
      send_rtp(v, out, p->data, p->len, in, h.ts);
      st->nack_resent++;
    }
  }
}

static void on_viewer_rtcp(struct sfu_peer *v, const uint8_t *data, size_t len) {
  struct rtcp_iter it;
  struct rtcp_pkt pkt;
  uint64_t now = uv_now(v->sfu->loop);
  rtcp_iter_init(&it, data, len);
  while (rtcp_next(&it, &pkt) > 0) {
    if (pkt.type == RTCP_RTPFB && pkt.count == RTCP_RTPFB_NACK)
      on_nack(v, &pkt);
    else if (pkt.type == RTCP_PSFB && (pkt.count == RTCP_PSFB_PLI || pkt.count == RTCP_PSFB_FIR))
      sfu_fwd_request_keyframe(v->room, now);
  }
}

/* A publisher's sender report: remembered for our receiver reports, and
 * passed on to each viewer in its own numbering (lip sync). */
static void on_publisher_sr(struct sfu_peer *pub, const struct rtcp_pkt *pkt, uint64_t now) {
  struct sfu_room *r = pub->room;
  struct rtcp_sr sr;
  if (rtcp_parse_sr(pkt, &sr) < 0)
    return;
  for (int k = 0; k < SFU_KINDS; k++) {
    struct sfu_track *t = &r->tracks[k];
    if (!t->active || !t->ssrc_known || t->ssrc != sr.ssrc)
      continue;
    t->lsr = (uint32_t)(sr.ntp >> 16);
    t->lsr_ms = now;
    for (size_t i = 0; i < r->nviewers; i++) {
      struct sfu_peer *v = r->viewers[i];
      struct sfu_out *out = &v->out[k];
      if (v->state != PEER_CONNECTED || !out->active || !out->started)
        continue;
      struct rtcp_sr o = {
          .ssrc = out->ssrc,
          .ntp = sr.ntp,
          .rtp_ts = sr.rtp_ts + out->map.ts_off,
          .packet_count = out->packets,
          .octet_count = out->octets,
      };
      int n = rtcp_build_compound_sr_sdes(v->sfu->scratch, sizeof(v->sfu->scratch), &o, "onair", 5);
      if (n > 0)
        send_rtcp(v, (size_t)n);
    }
  }
}

void sfu_fwd_report(struct sfu_room *r, uint64_t now) {
  struct sfu_peer *pub = r->publisher;
  if (pub == NULL || pub->state != PEER_CONNECTED)
    return;
  assert(pub->room == r && pub->publisher);
  for (int k = 0; k < SFU_KINDS; k++) {
    struct sfu_track *t = &r->tracks[k];
    uint32_t high;
    if (!t->active || !t->ssrc_known || t->packets == 0 || pktstore_highest(t->store, &high) < 0)
      continue;
    /* RFC 3550 A.3: loss from expected versus received packets. */
    uint64_t expected = (uint64_t)(high - t->base_ext_seq) + 1;
    int64_t lost = (int64_t)expected - (int64_t)t->packets;
    uint64_t exp_int = expected - t->expected_prior, rec_int = t->packets - t->received_prior;
    t->expected_prior = expected;
    t->received_prior = t->packets;
    int64_t lost_int = (int64_t)exp_int - (int64_t)rec_int;
    struct rtcp_report_block rb = {
        .ssrc = t->ssrc,
        .fraction_lost =
            exp_int && lost_int > 0 ? (uint8_t)((lost_int << 8) / (int64_t)exp_int) : 0,
        .cumulative_lost = (int32_t)(lost < 0 ? 0 : lost),
        .highest_seq = high,
        .lsr = t->lsr_ms ? t->lsr : 0,
        .dlsr = t->lsr_ms ? (uint32_t)((now - t->lsr_ms) * 65536 / 1000) : 0,
    };
    int n = rtcp_build_compound_rr_sdes(pub->sfu->scratch, sizeof(pub->sfu->scratch),
                                        pub->rtcp_ssrc, &rb, "onair", 5);
    if (n > 0)
      send_rtcp(pub, (size_t)n);
  }
}

static void on_publisher_rtcp(struct sfu_peer *pub, const uint8_t *data, size_t len) {
  struct rtcp_iter it;
  struct rtcp_pkt pkt;
  uint64_t now = uv_now(pub->sfu->loop);
  rtcp_iter_init(&it, data, len);
  while (rtcp_next(&it, &pkt) > 0) {
    if (pkt.type == RTCP_SR)
      on_publisher_sr(pub, &pkt, now);
  }
}

void sfu_fwd_srtp(struct sfu_peer *p, uint8_t *data, size_t len) {
  uint64_t *drops = p->sfu->stats.dropped;
  assert(p->state == PEER_CONNECTED && p->srtp); /* keyed, and not closed */
  if (rtp_is_rtcp(data, len)) {
    if (srtpctx_unprotect_rtcp(p->srtp, data, &len) < 0) {
      drops[SFU_DROP_SRTP]++;
      return;
    }
    p->last_srtp_ms = uv_now(p->sfu->loop);
    if (p->publisher)
      on_publisher_rtcp(p, data, len);
    else
      on_viewer_rtcp(p, data, len);
    return;
  }
  if (!p->publisher) {
    drops[SFU_DROP_UNUSABLE]++;
    return;
  }
  if (seq_admit(p, data, len) < 0) {
    drops[SFU_DROP_SEQ_JUMP]++;
    return;
  }
  if (srtpctx_unprotect_rtp(p->srtp, data, &len) < 0) {
    drops[SFU_DROP_SRTP]++;
    return;
  }
  p->last_srtp_ms = uv_now(p->sfu->loop);
  on_publisher_rtp(p, data, len);
}
