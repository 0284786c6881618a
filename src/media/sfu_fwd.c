/* Forwarding, the media plane's side: each packet from a publisher is
 * decrypted once, stored once in its track's ring and handed to every
 * share of viewers that has viewers of its room (fanout.h), which sends it
 * on. Viewers' RTCP comes in here: NACKs go to the viewer's share, keyframe
 * requests reach the publisher at most once a second. */
#include <assert.h>
#include <string.h>

#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/sfu_int.h"
#include "util/log.h"

#define SFU_MAX_DROPOUT 3000 /* RFC 3550 A.1: the largest jump ahead taken at once */
#define SFU_MAX_MISORDER 100 /* and the largest step back */
#define SFU_RATE_WINDOW_MS 1000

/* The simulcast layer whose rid the packet's RID header extension names,
 * or -1. */
static int track_by_rid(const struct sfu_room *r, const struct rtp_hdr *h) {
  const uint8_t *rid;
  size_t len;
  if (r->rid_ext == 0 || rtp_ext_find(h, r->rid_ext, &rid, &len) < 0)
    return -1;
  for (int i = SFU_VIDEO; i < SFU_VIDEO + r->layers; i++) {
    if (strlen(r->tracks[i].rid) == len && memcmp(r->tracks[i].rid, rid, len) == 0)
      return i;
  }
  return -1;
}

/* The track a publisher's packet belongs to: audio or video by its payload
 * type; a simulcast layer by its SSRC once known, else by its RID (which
 * browsers send until the SSRC is acknowledged). -1: RTX, a codec we did
 * not take, or a layer not told apart. */
static int track_of(const struct sfu_room *r, const struct rtp_hdr *h) {
  if (r->tracks[SFU_AUDIO].active && r->tracks[SFU_AUDIO].codec.pt == h->pt)
    return SFU_AUDIO;
  if (!r->tracks[SFU_VIDEO].active || r->tracks[SFU_VIDEO].codec.pt != h->pt)
    return -1;
  if (r->layers < 2)
    return SFU_VIDEO;
  int by_rid = track_by_rid(r, h);
  if (by_rid >= 0)
    return by_rid;
  for (int i = SFU_VIDEO; i < SFU_VIDEO + r->layers; i++) {
    if (r->tracks[i].ssrc_known && r->tracks[i].ssrc == h->ssrc)
      return i;
  }
  return -1;
}

static int is_keyframe(const struct sfu_track *t, const struct rtp_hdr *h) {
  switch (t->family) {
  case SFU_CODEC_VP8: return rtp_vp8_keyframe(h->payload, h->payload_len) == 1;
  case SFU_CODEC_H264: return rtp_h264_keyframe(h->payload, h->payload_len) == 1;
  default: return 0;
  }
}

/* Sends an RTCP packet built in s->scratch to p. */
static void send_rtcp(struct sfu_peer *p, size_t len) {
  struct sfu *s = p->sfu;
  if (p->state != PEER_CONNECTED ||
      srtpctx_protect_rtcp(p->srtp, s->scratch, &len, sizeof(s->scratch)) < 0)
    return;
  sfu_peer_send(p, s->scratch, len);
}

void sfu_fwd_request_keyframe(struct sfu_room *r, int track, uint64_t now) {
  assert(track >= SFU_VIDEO && track < SFU_TRACKS);
  struct sfu_track *t = &r->tracks[track];
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

void sfu_fwd_restart(struct sfu_room *r, int k, uint64_t now) {
  struct sfu_track *t = &r->tracks[k];
  pktstore_reset(t->store);
  struct fanout_msg m = {.type = FANOUT_RESTART, .track = k};
  sfu_share_post_room(r, &m);
  if (r->links)
    sfu_relay_out_restart(r, k);
  if (k >= SFU_VIDEO && r->nviewers)
    sfu_fwd_request_keyframe(r, k, now);
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

/* The publisher's bytes a second, over windows of SFU_RATE_WINDOW_MS. A
 * window that spans a pause (a simulcast layer paused, then sent again) is
 * not believed: a layer's rate is what it takes while it is sent. */
static void track_rate(struct sfu_track *t, size_t len, uint64_t now) {
  if (t->rate_since_ms == 0)
    t->rate_since_ms = now;
  t->rate_bytes += len;
  if (now - t->rate_since_ms >= SFU_RATE_WINDOW_MS) {
    if (now - t->rate_since_ms <= 2 * SFU_RATE_WINDOW_MS)
      t->rate_Bps = (uint32_t)(t->rate_bytes * 1000 / (now - t->rate_since_ms));
    t->rate_bytes = 0;
    t->rate_since_ms = now;
  }
}

/* Browsers' WebRTC decoders expect frames in display order: B slices (an
 * encoder's B-frames) play back jerky or not at all. The room's owner hears
 * of the first one, once. */
static void check_bframes(struct sfu_room *r, struct sfu_track *t, const struct rtp_hdr *h) {
  if (rtp_h264_slice_type(h->payload, h->payload_len) != RTP_SLICE_B)
    return;
  t->bframes = 1;
  if (r->owner && r->owner->ops->media_warning)
    r->owner->ops->media_warning(r->owner, "bframes");
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
  uint16_t tseq;
  if (r->twcc_ext && rtp_ext_u16(&h, r->twcc_ext, &tseq) == 0)
    twcc_recv_on_packet(pub->twcc, tseq, (int64_t)(uv_hrtime() / 1000));
  assert(r->publisher == pub); /* a closed publisher is out of the lookups */
  int k = track_of(r, &h);
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
    sfu_fwd_restart(r, k, now);
  }
  track_rate(t, len, now);
  if (k >= SFU_VIDEO && t->family == SFU_CODEC_H264 && !t->bframes)
    check_bframes(r, t, &h);
  int key = k >= SFU_VIDEO && is_keyframe(t, &h);
  uint32_t flags = (key ? PKT_KEYFRAME : 0) | (h.marker ? PKT_MARKER : 0) |
                   (t->family == SFU_CODEC_VP8 ? PKT_VP8 : 0);
  if (pktstore_put(t->store, h.seq, data, len, flags, now) < 0) {
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
  struct fanout_msg m = {.type = FANOUT_PKT, .track = k};
  m.u.pkt.layers = r->layers;
  m.u.pkt.seq = h.seq;
  m.u.pkt.ts = h.ts;
  m.u.pkt.flags = flags;
  if (flags & PKT_VP8)
    fanout_vp8_read(&h, data, &m.u.pkt.vp8);
  m.u.pkt.ms = now;
  m.u.pkt.rate_Bps = t->rate_Bps;
  m.u.pkt.len = (uint16_t)len;
  m.u.pkt.data = data;
  sfu_share_post_room(r, &m);
  if (r->links) /* the one branch a room without links pays */
    sfu_relay_out_rtp(r, k, data, len, &h);
}

/* A viewer lost packets: its share resends them. */
static void on_nack(struct sfu_peer *v, const struct rtcp_pkt *pkt) {
  struct rtcp_nack nack;
  if (v->share < 0 || rtcp_parse_nack(pkt, &nack) < 0)
    return;
  struct fanout_msg m = {.type = FANOUT_NACK, .view = v->view, .room_id = v->room->id};
  m.u.nack.media_ssrc = nack.media_ssrc;
  m.u.nack.n = (uint16_t)rtcp_nack_lost(&nack, m.u.nack.lost, FANOUT_NACK_MAX);
  sfu_share_post(v->sfu, v->share, &m);
}

/* A viewer's transport-wide feedback or REMB: its share's estimate of its
 * downlink. */
static void on_estimate(struct sfu_peer *v, const struct rtcp_pkt *pkt) {
  struct rtcp_fb fb;
  struct rtcp_remb remb;
  struct fanout_msg m = {.view = v->view, .room_id = v->room->id};
  if (v->share < 0)
    return;
  if (pkt->type == RTCP_RTPFB && twcc_rtcp_fb(pkt, &fb) == 0 && fb.fci_len <= PKTSTORE_MTU) {
    m.type = FANOUT_TWCC;
    m.u.pkt.data = fb.fci;
    m.u.pkt.len = (uint16_t)fb.fci_len;
  } else if (pkt->type == RTCP_PSFB && rtcp_parse_remb(pkt, &remb) == 0) {
    m.type = FANOUT_REMB;
    m.u.remb_bps = remb.bitrate > UINT32_MAX ? UINT32_MAX : (uint32_t)remb.bitrate;
  } else {
    return;
  }
  sfu_share_post(v->sfu, v->share, &m);
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
      sfu_fwd_request_keyframe(v->room, v->layer_track ? v->layer_track : SFU_VIDEO, now);
    else if ((pkt.type == RTCP_RTPFB && pkt.count == TWCC_FMT) ||
             (pkt.type == RTCP_PSFB && pkt.count == RTCP_PSFB_AFB))
      on_estimate(v, &pkt);
  }
}

/* A publisher's sender report: remembered for our receiver reports, and
 * passed on to each viewer in its own numbering (lip sync). */
static void on_publisher_sr(struct sfu_peer *pub, const struct rtcp_pkt *pkt, uint64_t now) {
  struct sfu_room *r = pub->room;
  struct rtcp_sr sr;
  if (rtcp_parse_sr(pkt, &sr) < 0)
    return;
  for (int k = 0; k < SFU_TRACKS; k++) {
    struct sfu_track *t = &r->tracks[k];
    if (!t->active || !t->ssrc_known || t->ssrc != sr.ssrc)
      continue;
    t->lsr = (uint32_t)(sr.ntp >> 16);
    t->lsr_ms = now;
    struct fanout_msg m = {.type = FANOUT_SR, .track = k};
    m.u.sr.ntp = sr.ntp;
    m.u.sr.rtp_ts = sr.rtp_ts;
    sfu_share_post_room(r, &m);
    if (r->links)
      sfu_relay_out_sr(r, k, &sr);
  }
}

#define SFU_TWCC_PER_TICK 4 /* feedback packets sent at most each tick */

void sfu_fwd_twcc(struct sfu_room *r) {
  struct sfu_peer *pub = r->publisher;
  if (pub == NULL || pub->state != PEER_CONNECTED || r->twcc_ext == 0)
    return;
  const struct sfu_track *t = &r->tracks[r->tracks[SFU_VIDEO].ssrc_known ? SFU_VIDEO : SFU_AUDIO];
  for (int i = 0; i < SFU_TWCC_PER_TICK; i++) {
    int n = twcc_recv_build(pub->twcc, pub->sfu->scratch, sizeof(pub->sfu->scratch), pub->rtcp_ssrc,
                            t->ssrc);
    if (n <= 0)
      return;
    send_rtcp(pub, (size_t)n);
    r->sfu->stats.twcc_sent++;
  }
}

void sfu_fwd_report(struct sfu_room *r, uint64_t now) {
  struct sfu_peer *pub = r->publisher;
  if (pub == NULL || pub->state != PEER_CONNECTED)
    return;
  assert(pub->room == r && pub->publisher);
  for (int k = 0; k < SFU_TRACKS; k++) {
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
    if (pkt.type == RTCP_SR) {
      on_publisher_sr(pub, &pkt, now);
    } else if (pkt.type == RTCP_BYE && pub->link) {
      sfu_relay_in_bye(pub); /* pub is closed now */
      return;
    }
  }
}

size_t sfu_fwd_srtp(struct sfu_peer *p, uint8_t *data, size_t len) {
  uint64_t *drops = p->sfu->stats.dropped;
  assert(p->state == PEER_CONNECTED && p->srtp); /* keyed, and not closed */
  if (rtp_is_rtcp(data, len)) {
    if (srtpctx_unprotect_rtcp(p->srtp, data, &len) < 0) {
      drops[SFU_DROP_SRTP]++;
      return 0;
    }
    p->last_srtp_ms = uv_now(p->sfu->loop);
    if (p->publisher)
      on_publisher_rtcp(p, data, len);
    else
      on_viewer_rtcp(p, data, len);
    return 0;
  }
  if (!p->publisher) {
    drops[SFU_DROP_UNUSABLE]++;
    return 0;
  }
  if (seq_admit(p, data, len) < 0) {
    drops[SFU_DROP_SEQ_JUMP]++;
    return 0;
  }
  if (srtpctx_unprotect_rtp(p->srtp, data, &len) < 0) {
    drops[SFU_DROP_SRTP]++;
    return 0;
  }
  p->last_srtp_ms = uv_now(p->sfu->loop);
  on_publisher_rtp(p, data, len);
  return len;
}
