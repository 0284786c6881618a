/* Simulcast forwarding as a viewer meets it (src/media/fanout.c): a share
 * driven directly on a loop of this test, sending over a real UDP socket
 * with SRTP to sockets of this test, which decrypt what arrives and check
 * what a receiver would: one layer's packets only, one SSRC, sequence
 * numbers +1 across layer switches, wrap-around and restarts, timestamps
 * moving forward by the wall time of a switch, VP8 picture IDs and
 * TL0PICIDX following on, the audio-only choice, a paused layer left for
 * the next one sent, NACKs answered with the right layer's packet.
 *
 * The publisher is this test: it builds each RTP packet, with a body that
 * names its track, sequence number, timestamp and VP8 IDs, so the receiver
 * can tell what it got and compare it byte for byte with what was sent.
 * Time is the loop's (uv_now, updated before each message; sleeps are
 * real): a paused layer takes FANOUT_LAYER_QUIET_MS (1 s) of it. Loopback
 * delivers a datagram within the send, so a packet's arrival time is taken
 * as the loop time of the message that made the share send it, which keeps
 * the timestamp-gap checks exact (to 1 ms) however loaded the machine. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "media/fanout.h"
#include "media/rtp.h"
#include "media/srtpctx.h"
#include "media/udp.h"

#define ROOM 7
#define VLOW FANOUT_VIDEO
#define VMED (FANOUT_VIDEO + 1)
#define VHIGH (FANOUT_VIDEO + 2)
#define PT_IN_VIDEO 96
#define PT_IN_AUDIO 111
#define PT_OUT_VIDEO 98 /* the viewer's: every packet is rewritten to it */
#define PT_OUT_AUDIO 109
#define VIDEO_BYTES 300 /* payload */
#define AUDIO_BYTES 80  /* payload */
#define BODY_BYTES 12   /* 'O', track, seq, ts, picid, tl0, key */
#define PUB_EXT_BYTES 8 /* the publisher's extension block: MID and RID */
#define MAX_GOT 2048    /* packets one viewer keeps */
#define MAX_SENT 4096   /* packets the publisher keeps */
#define MAX_VIEWERS 3
#define MAX_LOST 8
#define QUIET_MS 1000  /* FANOUT_LAYER_QUIET_MS */
#define GAP_SLACK_MS 1 /* a switch's timestamp gap against the time between (a clock tick) */

/* ---- the publisher ---- */

struct src {
  uint32_t ssrc;
  uint16_t seq;
  uint32_t ts;
  uint8_t bits; /* of the VP8 picture ID: 0 (no descriptor), 7 or 15 */
  uint16_t picid;
  uint8_t tl0;
  unsigned frames;
  uint64_t ms; /* when its newest packet was handed over (loop time) */
};

struct sent {
  int track;
  uint16_t seq;
  uint16_t len;
  uint16_t hdr_len; /* the RTP header with its extension block */
  uint8_t data[12 + PUB_EXT_BYTES + VIDEO_BYTES];
};

/* ---- a viewer: the share's view, and this test's receiving end ---- */

struct got {
  uint32_t ssrc;
  uint16_t seq;
  uint32_t ts;
  uint8_t pt, marker;
  int track; /* the publisher's, from the body */
  uint16_t in_seq;
  uint32_t in_ts;
  int key;
  int intact;   /* the bytes are the publisher's, but for header and VP8 IDs */
  uint8_t bits; /* VP8 picture ID as received (0: none) */
  uint16_t picid, in_picid;
  uint8_t tl0, in_tl0;
  uint64_t at_ms; /* when it came: the loop time of the message that made the share send it */
  int late;       /* numbered as one v lost: a retransmission */
};

struct viewer {
  struct fanout_view *view; /* the share's from FANOUT_VIEW_ADD */
  int fd;
  struct sockaddr_in addr;
  struct srtpctx *rx;
  uint32_t assrc, vssrc;
  int drop_armed; /* the next video packet numbered drop_seq is lost on the way */
  uint16_t drop_seq;
  uint16_t lost[MAX_LOST];
  int nlost;
  struct got got[MAX_GOT];
  size_t n;
};

struct told {
  struct fanout_view *view;
  int track, want;
};

struct rig {
  uv_loop_t loop;
  struct udp_sock *udp;
  struct fanout f;
  struct fanout_ops ops;
  struct src src[FANOUT_TRACKS];
  uint8_t layers;
  int asks[256]; /* ops->keyframe's tracks */
  size_t nasks;
  struct told told[256]; /* ops->layer's calls */
  size_t ntold;
  struct viewer *viewers[MAX_VIEWERS];
  size_t nviewers;
  struct sent *sent;
  size_t nsent;
  uint64_t now_ms; /* the loop time last read: what the share sees */
  /* Batches (as a worker's share takes them): a round's packets go in one
   * fanout_handle_pkts(). */
  int batch;
  struct fanout_msg queue[FANOUT_BATCH];
  size_t nqueue;
};

/* ---- the share's ops ---- */

static void on_keyframe(void *arg, uint64_t room_id, int track) {
  struct rig *r = arg;
  assert_int_equal(room_id, ROOM);
  assert_true(r->nasks < sizeof(r->asks) / sizeof(r->asks[0]));
  r->asks[r->nasks++] = track;
}

static void on_layer(void *arg, struct fanout_view *view, uint64_t room_id, int track, int want) {
  struct rig *r = arg;
  assert_int_equal(room_id, ROOM);
  assert_true(r->ntold < sizeof(r->told) / sizeof(r->told[0]));
  r->told[r->ntold++] = (struct told){view, track, want};
}

static void on_moved(void *arg, struct fanout_view *view) {
  (void)arg, (void)view;
  fail_msg("no view is moved");
}

static void on_tcp_send(struct sfu_tcp *t, const uint8_t *data, size_t len) {
  (void)t, (void)data, (void)len;
  fail_msg("no view is on TCP");
}

static void on_udp_recv(void *arg, uint8_t *data, size_t len, const struct sockaddr *from,
                        socklen_t from_len) {
  (void)arg, (void)data, (void)len, (void)from, (void)from_len;
}

/* The newest ops->layer call for v. */
static const struct told *told_last(const struct rig *r, const struct viewer *v) {
  for (size_t i = r->ntold; i-- > 0;) {
    if (r->told[i].view == v->view)
      return &r->told[i];
  }
  fail_msg("ops->layer never told of this view");
  return NULL;
}

static void assert_told(const struct rig *r, const struct viewer *v, int track, int want) {
  const struct told *t = told_last(r, v);
  assert_int_equal(t->track, track);
  assert_int_equal(t->want, want);
}

/* ---- time ---- */

/* The loop's time, brought up to date: the share's clock for the next
 * message. */
static uint64_t rig_now(struct rig *r) {
  uv_update_time(&r->loop);
  return r->now_ms = uv_now(&r->loop);
}

static void rig_sleep(struct rig *r, unsigned ms) {
  uv_sleep(ms);
  uv_update_time(&r->loop);
}

/* ---- receiving ---- */

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) {
  put16(p, (uint16_t)(v >> 16));
  put16(p + 2, (uint16_t)v);
}

/* The VP8 payload descriptor at p (RFC 7741 4.2), read here rather than
 * by rtp.c; returns its length. */
static size_t vp8_parse(const uint8_t *p, struct got *g) {
  size_t i = 1;
  if (!(p[0] & 0x80))
    return i;
  uint8_t x = p[i++];
  if (x & 0x80) {
    g->bits = p[i] & 0x80 ? 15 : 7;
    g->picid = g->bits == 15 ? (uint16_t)((p[i] & 0x7f) << 8 | p[i + 1]) : p[i];
    i += g->bits == 15 ? 2 : 1;
  }
  if (x & 0x40)
    g->tl0 = p[i++];
  if (x & 0x30)
    i++;
  return i;
}

/* Whether the payload (after a 12-byte header) is the one the publisher
 * sent as track's seq (the newest such), but for the VP8 IDs, and the
 * marker bit is its. */
static int sent_match(const struct rig *r, const struct got *g, const uint8_t *p, size_t len,
                      size_t body) {
  for (size_t i = r->nsent; i-- > 0;) {
    const struct sent *s = &r->sent[i];
    if (s->track != g->track || s->seq != g->in_seq)
      continue;
    const uint8_t *q = s->data + s->hdr_len - 12; /* its payload at q + 12, as at p + 12 */
    return (size_t)(s->len - s->hdr_len) == len - 12 && (s->data[1] & 0x80) == (p[1] & 0x80) &&
           (body == 12 || memcmp(q + 12, p + 12, 2) == 0) &&
           memcmp(q + body, p + body, len - body) == 0;
  }
  return 0;
}

static void got_parse(const struct rig *r, struct got *g, const uint8_t *p, size_t len) {
  memset(g, 0, sizeof(*g));
  assert_true(len >= 12 + 6 + BODY_BYTES);
  assert_int_equal(p[0], 0x80); /* version 2, no padding, extension or CSRC */
  g->marker = p[1] >> 7;
  g->pt = p[1] & 0x7f;
  g->seq = be16(p + 2);
  g->ts = be32(p + 4);
  g->ssrc = be32(p + 8);
  size_t body = 12 + (g->pt == PT_OUT_VIDEO && (p[12] & 0x80) ? vp8_parse(p + 12, g) : 0);
  const uint8_t *b = p + body;
  assert_int_equal(b[0], 'O');
  g->track = b[1];
  g->in_seq = be16(b + 2);
  g->in_ts = be32(b + 4);
  g->in_picid = be16(b + 8);
  g->in_tl0 = b[10];
  g->key = b[11];
  g->at_ms = r->now_ms;
  g->intact = sent_match(r, g, p, len, body);
}

static int viewer_lost(const struct viewer *v, uint16_t seq) {
  for (int i = 0; i < v->nlost; i++) {
    if (v->lost[i] == seq)
      return 1;
  }
  return 0;
}

/* Takes what has arrived at v: decrypted, parsed, kept in order. */
static void viewer_drain(const struct rig *r, struct viewer *v) {
  uint8_t buf[UDP_SLOT_BYTES];
  for (;;) {
    ssize_t n = recv(v->fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0) {
      assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
      return;
    }
    assert_true(n >= 12);
    if (v->drop_armed && be32(buf + 8) == v->vssrc && be16(buf + 2) == v->drop_seq) {
      v->drop_armed = 0; /* lost: never decrypted, as if it never came */
      assert_true(v->nlost < MAX_LOST);
      v->lost[v->nlost++] = v->drop_seq;
      continue;
    }
    size_t len = (size_t)n;
    assert_int_equal(srtpctx_unprotect_rtp(v->rx, buf, &len), 0);
    assert_true(v->n < MAX_GOT);
    got_parse(r, &v->got[v->n], buf, len);
    v->got[v->n].late = v->got[v->n].ssrc == v->vssrc && viewer_lost(v, v->got[v->n].seq);
    v->n++;
  }
}

/* What the share queued leaves, and every viewer takes what it got. */
static void pump(struct rig *r) {
  udp_flush(r->udp);
  for (size_t i = 0; i < r->nviewers; i++)
    viewer_drain(r, r->viewers[i]);
}

/* pump(), then waits a little for any datagram still on its way. */
static void settle(struct rig *r) {
  pump(r);
  for (size_t i = 0; i < r->nviewers; i++) {
    struct pollfd p = {.fd = r->viewers[i]->fd, .events = POLLIN};
    while (poll(&p, 1, 10) > 0)
      viewer_drain(r, r->viewers[i]);
  }
}

/* ---- sending ---- */

/* One packet of track into e: the RTP header with the extension block a
 * browser's simulcast sends (MID, and the layer's RID), the VP8
 * descriptor, the body that names it, then bytes of its own. */
static void pkt_build(const struct src *s, int track, int first, int last, int key,
                      struct sent *e) {
  static const uint8_t ext[PUB_EXT_BYTES] = {0xbe, 0xde, 0, 1, 0x10, '0', 0x20, 0};
  uint8_t *p = e->data;
  size_t i = 12 + PUB_EXT_BYTES;
  size_t len = i + (track == FANOUT_AUDIO ? AUDIO_BYTES : VIDEO_BYTES);
  p[0] = 0x90; /* version 2, X */
  p[1] = (uint8_t)((last && track != FANOUT_AUDIO ? 0x80 : 0) |
                   (track == FANOUT_AUDIO ? PT_IN_AUDIO : PT_IN_VIDEO));
  put16(p + 2, s->seq);
  put32(p + 4, s->ts);
  put32(p + 8, s->ssrc);
  memcpy(p + 12, ext, sizeof(ext));
  if (track == FANOUT_AUDIO)
    p[18] = 0; /* audio: the MID only, then padding */
  else
    p[19] = (uint8_t) "lmh"[track - FANOUT_VIDEO];
  e->hdr_len = (uint16_t)i;
  if (s->bits) {
    p[i++] = (uint8_t)(0x80 | (first ? 0x10 : 0)); /* X, S, partition 0 */
    p[i++] = 0xc0;                                 /* I, L */
    if (s->bits == 15)
      put16(p + i, (uint16_t)(0x8000 | s->picid)), i += 2;
    else
      p[i++] = (uint8_t)(s->picid & 0x7f);
    p[i++] = s->tl0;
  }
  p[i++] = 'O';
  p[i++] = (uint8_t)track;
  put16(p + i, s->seq), i += 2;
  put32(p + i, s->ts), i += 4;
  put16(p + i, s->picid), i += 2;
  p[i++] = s->tl0;
  p[i++] = (uint8_t)key;
  for (; i < len; i++)
    p[i] = (uint8_t)(s->seq * 7u + i);
  e->track = track;
  e->seq = s->seq;
  e->len = (uint16_t)len;
}

/* The publisher's next packet of track, handed to the share as the media
 * plane does. */
static void pub_pkt(struct rig *r, int track, int first, int last, int key) {
  struct src *s = &r->src[track];
  assert_true(r->nsent < MAX_SENT);
  struct sent *e = &r->sent[r->nsent++];
  struct rtp_hdr h;
  pkt_build(s, track, first, last, key, e);
  assert_int_equal(rtp_parse(e->data, e->len, &h), 0);
  struct fanout_msg m = {.type = FANOUT_PKT, .track = track, .room_id = ROOM};
  m.u.pkt.seq = s->seq;
  m.u.pkt.ts = s->ts;
  m.u.pkt.flags =
      (key ? PKT_KEYFRAME : 0u) | (h.marker ? PKT_MARKER : 0u) | (s->bits ? PKT_VP8 : 0u);
  if (s->bits)
    fanout_vp8_read(&h, e->data, &m.u.pkt.vp8);
  m.u.pkt.ms = s->ms = rig_now(r);
  m.u.pkt.rate_Bps = 100000;
  m.u.pkt.len = e->len;
  m.u.pkt.layers = r->layers;
  m.u.pkt.data = e->data;
  if (r->batch) {
    assert_true(r->nqueue < FANOUT_BATCH);
    r->queue[r->nqueue++] = m;
  } else {
    fanout_handle(&r->f, &m);
    pump(r); /* what it made the share send arrives now, at the loop time it was sent */
  }
  s->seq++;
}

/* What the publisher queued goes to the share (in batch mode), and on to
 * the viewers. */
static void pub_flush(struct rig *r) {
  const struct fanout_msg *batch[FANOUT_BATCH];
  for (size_t i = 0; i < r->nqueue; i++)
    batch[i] = &r->queue[i];
  if (r->nqueue)
    fanout_handle_pkts(&r->f, batch, r->nqueue);
  r->nqueue = 0;
  pump(r);
}

/* One frame of track (two packets of video, a keyframe when key), then the
 * publisher's clock and IDs move on: 30 fps, a picture ID +1 (+3 at every
 * fifth frame, as if frames were missing), TL0PICIDX every other frame.
 * Queued in batch mode. */
static void frame_queue(struct rig *r, int track, int key) {
  struct src *s = &r->src[track];
  int n = track == FANOUT_AUDIO ? 1 : 2;
  for (int i = 0; i < n; i++)
    pub_pkt(r, track, i == 0, i == n - 1, key && i == 0);
  s->ts += track == FANOUT_AUDIO ? 960 : 3000;
  s->frames++;
  s->picid = (uint16_t)((s->picid + (s->frames % 5 == 0 ? 3 : 1)) & (s->bits == 7 ? 0x7f : 0x7fff));
  if (s->frames % 2 == 0)
    s->tl0++;
}

static void pub_frame(struct rig *r, int track, int key) {
  frame_queue(r, track, key);
  pub_flush(r);
}

#define ALL_LAYERS 7u

/* n rounds of an audio frame and a frame (not a keyframe) of each layer
 * in mask (bit 0: the lowest), in that order. */
static void rounds(struct rig *r, int n, unsigned mask) {
  for (int i = 0; i < n; i++) {
    frame_queue(r, FANOUT_AUDIO, 0);
    for (int l = 0; l < r->layers; l++) {
      if (mask & 1u << l)
        frame_queue(r, FANOUT_VIDEO + l, 0);
    }
    pub_flush(r);
  }
}

/* The publisher's tracks: audio, and layers each numbered apart (bits: VP8
 * picture IDs or none). */
static void sources(struct rig *r, uint8_t layers, uint8_t bits) {
  r->layers = layers;
  r->src[FANOUT_AUDIO] = (struct src){.ssrc = 0xa0d10, .seq = 1000, .ts = 5000};
  for (int l = 0; l < layers; l++) {
    r->src[FANOUT_VIDEO + l] = (struct src){.ssrc = 0x100u + (uint32_t)l,
                                            .seq = (uint16_t)(20000 + 5000 * l),
                                            .ts = 100000u * (uint32_t)(l + 1),
                                            .bits = bits,
                                            .picid = (uint16_t)(bits == 7 ? 10 * l : 1000 * l),
                                            .tl0 = (uint8_t)(40 * l)};
  }
}

/* The room before any viewer: a keyframe of every layer, then a frame
 * more (what a new share's seeded ring holds). */
static void warm(struct rig *r) {
  pub_frame(r, FANOUT_AUDIO, 0);
  for (int l = 0; l < r->layers; l++)
    pub_frame(r, FANOUT_VIDEO + l, 1);
  rounds(r, 1, ALL_LAYERS);
}

/* ---- viewers ---- */

/* The SRTP keys of the share's side (viewer_side 0) or of the viewer's. */
static struct dtls_srtp_keys keys(int viewer_side) {
  struct dtls_srtp_keys k = {.profile = DTLS_SRTP_AEAD_AES_128_GCM, .key_len = 16, .salt_len = 12};
  for (int i = 0; i < 16; i++) {
    k.local_key[i] = (uint8_t)(viewer_side ? 0x80 + i : 0x10 + i);
    k.remote_key[i] = (uint8_t)(viewer_side ? 0x10 + i : 0x80 + i);
  }
  for (int i = 0; i < 12; i++) {
    k.local_salt[i] = (uint8_t)(viewer_side ? 0xc0 + i : 0x40 + i);
    k.remote_salt[i] = (uint8_t)(viewer_side ? 0x40 + i : 0xc0 + i);
  }
  return k;
}

static void out_init(struct fanout_out *out, uint8_t pt, uint32_t ssrc) {
  out->active = 1;
  out->pt = pt;
  out->ssrc = ssrc;
  seqmap_init(&out->map, ssrc);
}

static void viewer_socket(struct viewer *v) {
  socklen_t alen = sizeof(v->addr);
  int rcvbuf = 1 << 20;
  v->fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(v->fd >= 0);
  setsockopt(v->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  v->addr.sin_family = AF_INET;
  v->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(v->fd, (struct sockaddr *)&v->addr, sizeof(v->addr)), 0);
  assert_int_equal(getsockname(v->fd, (struct sockaddr *)&v->addr, &alen), 0);
}

/* A viewer with pref, made as the media plane makes one, handed over. */
static struct viewer *viewer_add(struct rig *r, enum fanout_pref pref) {
  assert_true(r->nviewers < MAX_VIEWERS);
  struct viewer *v = calloc(1, sizeof(*v));
  struct fanout_view *w = calloc(1, sizeof(*w));
  assert_non_null(v);
  assert_non_null(w);
  r->viewers[r->nviewers++] = v;
  viewer_socket(v);
  struct dtls_srtp_keys ks = keys(0), kv = keys(1);
  v->rx = srtpctx_new(&kv);
  w->srtp = srtpctx_new(&ks);
  assert_non_null(v->rx);
  assert_non_null(w->srtp);
  v->assrc = 0x5000u + 2 * (uint32_t)r->nviewers;
  v->vssrc = v->assrc + 1;
  w->room_id = ROOM;
  w->pref = pref;
  out_init(&w->out[FANOUT_AUDIO], PT_OUT_AUDIO, v->assrc);
  out_init(&w->out[FANOUT_VIDEO], PT_OUT_VIDEO, v->vssrc);
  v->view = w;
  struct fanout_msg m = {.type = FANOUT_VIEW_ADD, .room_id = ROOM, .view = w};
  memcpy(&m.u.path.addr, &v->addr, sizeof(v->addr));
  m.u.path.addr_len = sizeof(v->addr);
  rig_now(r);
  fanout_handle(&r->f, &m);
  pump(r);
  return v;
}

static void view_pref(struct rig *r, struct viewer *v, enum fanout_pref pref) {
  struct fanout_msg m = {.type = FANOUT_VIEW_PREF, .room_id = ROOM, .view = v->view};
  m.u.pref = pref;
  rig_now(r);
  fanout_handle(&r->f, &m);
  pump(r);
}

static void tick(struct rig *r) {
  rig_now(r);
  fanout_tick(&r->f);
  pump(r);
}

/* ---- what a receiver checks ---- */

/* A viewer's packets of one SSRC, from index from on, as sent the first
 * time (retransmissions left out). */
struct list {
  const struct got *g[MAX_GOT];
  size_t n;
};

static struct list *list_of(const struct viewer *v, uint32_t ssrc, size_t from) {
  static struct list l;
  l.n = 0;
  for (size_t i = from; i < v->n; i++) {
    if (v->got[i].ssrc == ssrc && !v->got[i].late)
      l.g[l.n++] = &v->got[i];
  }
  return &l;
}

static size_t count_ssrc(const struct viewer *v, uint32_t ssrc, size_t from) {
  size_t n = 0;
  for (size_t i = from; i < v->n; i++)
    n += v->got[i].ssrc == ssrc;
  return n;
}

/* b follows a in the same segment: the same track, numbered alike. */
static int same_segment(const struct got *a, const struct got *b) {
  return a->track == b->track && (uint16_t)(a->seq - a->in_seq) == (uint16_t)(b->seq - b->in_seq);
}

/* Within a segment, the publisher's increments: timestamps, picture IDs
 * and TL0PICIDX moved by what the publisher's moved. */
static void check_within(const struct got *a, const struct got *b) {
  assert_int_equal(b->ts - a->ts, b->in_ts - a->in_ts);
  assert_int_equal(b->bits, a->bits);
  if (b->bits) {
    uint16_t mask = b->bits == 15 ? 0x7fff : 0x7f;
    assert_int_equal((b->picid - b->in_picid) & mask, (a->picid - a->in_picid) & mask);
    assert_int_equal((uint8_t)(b->tl0 - b->in_tl0), (uint8_t)(a->tl0 - a->in_tl0));
  }
}

/* A new segment (a switch, a restart) begins at b: at a keyframe, its
 * timestamp ahead of a's by the time between them (video: hz ticks a ms),
 * its picture ID and TL0PICIDX the newest sent + 1. */
static void check_switch(const struct got *a, const struct got *b, int hz) {
  int32_t jump = (int32_t)(b->ts - a->ts);
  assert_true(jump > 0);
  if (hz) {
    double wall = (double)(b->at_ms - a->at_ms);
    if (fabs((double)jump / hz - wall) > GAP_SLACK_MS)
      fail_msg("timestamp gap %d ticks (%.1f ms) at a switch %.0f ms after", jump,
               (double)jump / hz, wall);
    assert_true(b->key);
  }
  if (b->bits) {
    uint16_t mask = b->bits == 15 ? 0x7fff : 0x7f;
    assert_int_equal(b->picid, (a->picid + 1) & mask);
    assert_int_equal(b->tl0, (uint8_t)(a->tl0 + 1));
  }
}

/* The whole of l as v's receiver sees it: the publisher's bytes, one SSRC
 * and payload type, sequence numbers each +1 (but for those v lost), no
 * timestamp going back; segments checked as above. */
static void check_stream(const struct viewer *v, const struct list *l, uint8_t pt, int hz) {
  for (size_t i = 0; i < l->n; i++) {
    const struct got *b = l->g[i];
    assert_true(b->intact);
    assert_int_equal(b->pt, pt);
    assert_int_equal(b->ssrc, l->g[0]->ssrc);
    if (i == 0)
      continue;
    const struct got *a = l->g[i - 1];
    uint16_t want = (uint16_t)(a->seq + 1);
    while (want != b->seq && viewer_lost(v, want))
      want++;
    assert_int_equal(b->seq, want);
    if (same_segment(a, b)) {
      check_within(a, b);
    } else {
      check_switch(a, b, hz);
    }
  }
}

/* The tracks of l's segments, in order, are want[0..n). */
static void check_segments(const struct list *l, const int *want, size_t n) {
  size_t seg = 0;
  for (size_t i = 0; i < l->n; i++) {
    if (i == 0 || !same_segment(l->g[i - 1], l->g[i])) {
      assert_true(seg < n);
      if (l->g[i]->track != want[seg])
        fail_msg("segment %zu is track %d, not %d", seg, l->g[i]->track, want[seg]);
      seg++;
    }
  }
  assert_int_equal(seg, n);
}

static void check_video(const struct viewer *v, size_t from, const int *tracks, size_t n) {
  const struct list *l = list_of(v, v->vssrc, from);
  check_stream(v, l, PT_OUT_VIDEO, 90);
  check_segments(l, tracks, n);
}

static void check_audio(const struct viewer *v, size_t want) {
  const struct list *l = list_of(v, v->assrc, 0);
  assert_int_equal(l->n, want);
  check_stream(v, l, PT_OUT_AUDIO, 0);
  for (size_t i = 0; i < l->n; i++)
    assert_int_equal(l->g[i]->track, FANOUT_AUDIO);
}

/* v's video packet numbered seq (as sent the first time), among its first
 * to. */
static const struct got *find_seq(const struct viewer *v, uint16_t seq, size_t to) {
  for (size_t i = 0; i < to; i++) {
    if (v->got[i].ssrc == v->vssrc && v->got[i].seq == seq && !v->got[i].late)
      return &v->got[i];
  }
  fail_msg("no video packet %u", seq);
  return NULL;
}

static const struct got *last_video(const struct viewer *v) {
  const struct list *l = list_of(v, v->vssrc, 0);
  assert_true(l->n > 0);
  return l->g[l->n - 1];
}

/* v asks again for video packets it lost (its numbering). */
static void nack(struct rig *r, struct viewer *v, const uint16_t *lost, uint16_t n) {
  struct fanout_msg m = {.type = FANOUT_NACK, .room_id = ROOM, .view = v->view};
  m.u.nack.media_ssrc = v->vssrc;
  m.u.nack.n = n;
  memcpy(m.u.nack.lost, lost, n * sizeof(*lost));
  rig_now(r);
  fanout_handle(&r->f, &m);
  settle(r);
}

/* v loses the next frame's second packet of the layer it gets, asks for
 * it again a frame later, and gets it: the publisher's packet in v's
 * numbering, its timestamp and VP8 IDs as its segment's. */
static void lose_and_nack(struct rig *r, struct viewer *v) {
  settle(r);
  v->drop_armed = 1;
  v->drop_seq = (uint16_t)(last_video(v)->seq + 2);
  rounds(r, 2, ALL_LAYERS);
  settle(r);
  assert_false(v->drop_armed);
  size_t at = v->n;
  nack(r, v, &v->drop_seq, 1);
  assert_int_equal(v->n, at + 1);
  const struct got *g = &v->got[at];
  assert_true(g->late && g->intact);
  assert_int_equal(g->seq, v->drop_seq);
  const struct got *a = find_seq(v, (uint16_t)(g->seq - 1), at);
  assert_true(same_segment(a, g));
  check_within(a, g);
}

/* ---- the rig ---- */

static int rig_setup(void **state) {
  struct rig *r = calloc(1, sizeof(*r));
  assert_non_null(r);
  r->sent = calloc(MAX_SENT, sizeof(*r->sent));
  assert_non_null(r->sent);
  assert_int_equal(uv_loop_init(&r->loop), 0);
  assert_int_equal(udp_open(&r->loop, "127.0.0.1", 0, on_udp_recv, r, &r->udp), 0);
  r->ops = (struct fanout_ops){
      .keyframe = on_keyframe, .layer = on_layer, .moved = on_moved, .tcp_send = on_tcp_send};
  fanout_init(&r->f, &r->loop, r->udp, &r->ops, r);
  *state = r;
  return 0;
}

static int rig_teardown(void **state) {
  struct rig *r = *state;
  fanout_free(&r->f); /* the views and their srtp */
  for (size_t i = 0; i < r->nviewers; i++) {
    close(r->viewers[i]->fd);
    srtpctx_free(r->viewers[i]->rx);
    free(r->viewers[i]);
  }
  udp_close(r->udp);
  uv_run(&r->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&r->loop), 0);
  free(r->sent);
  free(r);
  return 0;
}

/* ---- the cases ---- */

/* 1. In a room of three layers, a High viewer gets the high layer's packets
 * and a Low viewer the low layer's, each from the cached keyframe on, on
 * one SSRC; nothing of the other layers. */
static void test_one_layer_each(void **state) {
  struct rig *r = *state;
  sources(r, 3, 0);
  warm(r);
  struct viewer *hi = viewer_add(r, FANOUT_PREF_HIGH);
  struct viewer *lo = viewer_add(r, FANOUT_PREF_LOW);
  rounds(r, 10, ALL_LAYERS);
  settle(r);
  const int high[] = {VHIGH}, low[] = {VLOW};
  check_video(hi, 0, high, 1);
  check_video(lo, 0, low, 1);
  /* The cached keyframe and the frame after it, then 10 frames. */
  assert_int_equal(count_ssrc(hi, hi->vssrc, 0), 4 + 20);
  assert_int_equal(count_ssrc(lo, lo->vssrc, 0), 4 + 20);
  assert_true(list_of(hi, hi->vssrc, 0)->g[0]->key);
  check_audio(hi, 10);
  check_audio(lo, 10);
  assert_int_equal(hi->n, 4 + 20 + 10); /* nothing else came */
  assert_int_equal(lo->n, 4 + 20 + 10);
  assert_int_equal(r->nasks, 0); /* the cached keyframes did */
  assert_told(r, hi, VHIGH, VHIGH);
  assert_told(r, lo, VLOW, VLOW);
}

/* 2. Low to High: the low layer goes on until the high layer's keyframe
 * (asked for), then only the high layer; the numbering goes on without a
 * gap and the timestamp moves on by the time between. */
static void test_switch_up(void **state) {
  struct rig *r = *state;
  sources(r, 3, 0);
  warm(r);
  struct viewer *v = viewer_add(r, FANOUT_PREF_LOW);
  rounds(r, 5, ALL_LAYERS);
  assert_int_equal(r->nasks, 0);
  view_pref(r, v, FANOUT_PREF_HIGH);
  assert_int_equal(r->nasks, 1);
  assert_int_equal(r->asks[0], VHIGH);
  assert_told(r, v, VLOW, VHIGH);
  size_t at_pref = v->n;
  rounds(r, 5, ALL_LAYERS);
  settle(r);
  const struct list *l = list_of(v, v->vssrc, at_pref);
  assert_int_equal(l->n, 10); /* the low layer's, while the high one's keyframe is awaited */
  for (size_t i = 0; i < l->n; i++)
    assert_int_equal(l->g[i]->track, VLOW);
  rig_sleep(r, 60);
  pub_frame(r, VHIGH, 1);
  assert_told(r, v, VHIGH, VHIGH);
  rounds(r, 5, ALL_LAYERS);
  settle(r);
  const int tracks[] = {VLOW, VHIGH};
  check_video(v, 0, tracks, 2);
  l = list_of(v, v->vssrc, at_pref);
  assert_int_equal(l->n, 10 + 2 + 10);
  /* The gap checked in check_switch: at least the 60 ms slept. */
  int32_t jump = (int32_t)(l->g[10]->ts - l->g[9]->ts);
  assert_true(jump >= 60 * 90 && jump < 1000 * 90);
  check_audio(v, r->src[FANOUT_AUDIO].frames - 2); /* all but warm()'s */
  assert_int_equal(r->nasks, 1);
}

/* 3. Back and forth across 16-bit sequence and 32-bit timestamp
 * wrap-around, and a change of mind before the keyframe came; packets
 * handed in batches, a switch amid one. */

/* v's menu set to pref: a keyframe of track asked for. */
static void switch_ask(struct rig *r, struct viewer *v, enum fanout_pref pref, int track) {
  size_t asks = r->nasks;
  view_pref(r, v, pref);
  assert_int_equal(r->nasks, asks + 1);
  assert_int_equal(r->asks[asks], track);
}

/* track's keyframe comes 20 ms later (in batch mode amid a round of the
 * other layers' frames): v moves to it. */
static void switch_take(struct rig *r, struct viewer *v, int track) {
  rig_sleep(r, 20);
  if (r->batch) {
    frame_queue(r, FANOUT_AUDIO, 0);
    for (int l = 0; l < r->layers; l++)
      frame_queue(r, FANOUT_VIDEO + l, FANOUT_VIDEO + l == track);
    pub_flush(r);
  } else {
    pub_frame(r, track, 1);
  }
  assert_told(r, v, track, track);
  rounds(r, 3, ALL_LAYERS);
}

static void switch_to(struct rig *r, struct viewer *v, enum fanout_pref pref, int track) {
  switch_ask(r, v, pref, track);
  rounds(r, 2, ALL_LAYERS);
  switch_take(r, v, track);
}

static void test_switch_wrap(void **state) {
  struct rig *r = *state;
  sources(r, 3, 0);
  r->src[VLOW].seq = 65530, r->src[VLOW].ts = 0xffffe000u;
  r->src[VMED].seq = 10, r->src[VMED].ts = 0xfffff400u;
  r->src[VHIGH].seq = 32766, r->src[VHIGH].ts = 0x7ffffc00u;
  r->src[FANOUT_AUDIO].seq = 65534, r->src[FANOUT_AUDIO].ts = 0xfffffc00u;
  r->batch = 1;
  warm(r);
  struct viewer *v = viewer_add(r, FANOUT_PREF_LOW);
  rounds(r, 3, ALL_LAYERS);
  switch_to(r, v, FANOUT_PREF_HIGH, VHIGH);
  switch_to(r, v, FANOUT_PREF_LOW, VLOW);
  /* High asked for, then Low again: the high keyframe is not taken. */
  switch_ask(r, v, FANOUT_PREF_HIGH, VHIGH);
  size_t asks = r->nasks;
  view_pref(r, v, FANOUT_PREF_LOW);
  assert_int_equal(r->nasks, asks);
  assert_told(r, v, VLOW, VLOW);
  pub_frame(r, VHIGH, 1);
  rounds(r, 2, ALL_LAYERS);
  switch_to(r, v, FANOUT_PREF_MEDIUM, VMED);
  switch_to(r, v, FANOUT_PREF_HIGH, VHIGH);
  switch_to(r, v, FANOUT_PREF_LOW, VLOW);
  settle(r);
  const int tracks[] = {VLOW, VHIGH, VLOW, VMED, VHIGH, VLOW};
  check_video(v, 0, tracks, 6);
  const struct list *l = list_of(v, v->vssrc, 0);
  int seq_wrapped = 0, ts_wrapped = 0;
  for (size_t i = 1; i < l->n; i++) {
    seq_wrapped |= l->g[i]->seq < l->g[i - 1]->seq;
    ts_wrapped |= l->g[i]->ts < l->g[i - 1]->ts;
  }
  assert_true(seq_wrapped && ts_wrapped);
  check_audio(v, r->src[FANOUT_AUDIO].frames - 2); /* all but warm()'s */
}

/* 4. VP8: after each switch the picture ID and TL0PICIDX are the newest
 * sent + 1, and within a segment they move as the publisher's do: 15-bit
 * picture IDs in ranges apart, one about to wrap past 32767; a packet
 * resent on a NACK carries its segment's IDs. */
static void test_vp8_ids(void **state) {
  struct rig *r = *state;
  sources(r, 3, 15);
  r->src[VLOW].picid = 32760, r->src[VLOW].tl0 = 250;
  r->src[VMED].picid = 5000, r->src[VMED].tl0 = 10;
  r->src[VHIGH].picid = 20000, r->src[VHIGH].tl0 = 128;
  warm(r);
  struct viewer *v = viewer_add(r, FANOUT_PREF_LOW);
  rounds(r, 4, ALL_LAYERS);
  switch_to(r, v, FANOUT_PREF_HIGH, VHIGH);
  lose_and_nack(r, v);
  /* A packet resent just before the switch is not the newest sent. */
  switch_ask(r, v, FANOUT_PREF_MEDIUM, VMED);
  lose_and_nack(r, v);
  switch_take(r, v, VMED);
  switch_to(r, v, FANOUT_PREF_LOW, VLOW);
  switch_to(r, v, FANOUT_PREF_HIGH, VHIGH);
  settle(r);
  const int tracks[] = {VLOW, VHIGH, VMED, VLOW, VHIGH};
  check_video(v, 0, tracks, 5);
  const struct list *l = list_of(v, v->vssrc, 0);
  int wrapped = 0;
  for (size_t i = 0; i < l->n; i++) {
    assert_int_equal(l->g[i]->bits, 15);
    wrapped |= i && l->g[i]->picid < l->g[i - 1]->picid;
  }
  assert_true(wrapped);
  assert_int_equal(l->g[0]->picid, 32760); /* the first segment: the publisher's own */
}

/* 4b. The same with 7-bit picture IDs (two layers; one about to wrap past
 * 127, its TL0PICIDX past 255). */
static void test_vp8_ids_7bit(void **state) {
  struct rig *r = *state;
  sources(r, 2, 7);
  r->src[VLOW].picid = 120, r->src[VLOW].tl0 = 254;
  r->src[VMED].picid = 3;
  warm(r);
  struct viewer *v = viewer_add(r, FANOUT_PREF_LOW);
  rounds(r, 3, ALL_LAYERS);
  switch_ask(r, v, FANOUT_PREF_HIGH, VMED);
  lose_and_nack(r, v);
  switch_take(r, v, VMED);
  switch_ask(r, v, FANOUT_PREF_LOW, VLOW);
  lose_and_nack(r, v);
  switch_take(r, v, VLOW);
  switch_to(r, v, FANOUT_PREF_HIGH, VMED);
  settle(r);
  const int tracks[] = {VLOW, VMED, VLOW, VMED};
  check_video(v, 0, tracks, 4);
  const struct list *l = list_of(v, v->vssrc, 0);
  for (size_t i = 0; i < l->n; i++)
    assert_int_equal(l->g[i]->bits, 7);
}

/* 5. Audio only: no video packet at all, audio goes on; Auto again starts
 * the video at a keyframe (the cached one, or one asked for when the ring
 * cannot give it whole), numbered on from before. */
static void test_audio_only(void **state) {
  struct rig *r = *state;
  sources(r, 3, 15);         /* VP8: the IDs follow on from a replayed keyframe too */
  r->src[VHIGH].seq = 65519; /* the second cached keyframe at 65535, what follows past 0 */
  warm(r);
  struct viewer *v = viewer_add(r, FANOUT_PREF_AUTO);
  rounds(r, 3, ALL_LAYERS);
  view_pref(r, v, FANOUT_PREF_AUDIO);
  assert_told(r, v, FANOUT_NO_TRACK, FANOUT_NO_TRACK);
  size_t at = v->n;
  rounds(r, 3, ALL_LAYERS);
  pub_frame(r, VHIGH, 1);
  rounds(r, 2, ALL_LAYERS);
  settle(r);
  assert_int_equal(count_ssrc(v, v->vssrc, at), 0);
  assert_int_equal(count_ssrc(v, v->assrc, at), 5);
  rig_sleep(r, 60);
  view_pref(r, v, FANOUT_PREF_AUTO); /* the cached keyframe, at once */
  settle(r);
  assert_int_equal(r->nasks, 0);
  assert_told(r, v, VHIGH, VHIGH);
  assert_int_equal(count_ssrc(v, v->vssrc, at), 2 + 4);
  assert_int_equal(list_of(v, v->vssrc, at)->g[0]->in_seq, 65535);
  view_pref(r, v, FANOUT_PREF_AUDIO);
  at = v->n;
  pub_frame(r, VHIGH, 1);
  r->src[VHIGH].seq++; /* lost on the way in: the ring cannot start anyone here */
  rounds(r, 2, ALL_LAYERS);
  view_pref(r, v, FANOUT_PREF_AUTO);
  assert_int_equal(r->nasks, 1);
  assert_int_equal(r->asks[0], VHIGH);
  rounds(r, 1, ALL_LAYERS);
  settle(r);
  assert_int_equal(count_ssrc(v, v->vssrc, at), 0); /* waits for the keyframe */
  rig_sleep(r, 20);
  pub_frame(r, VHIGH, 1);
  rounds(r, 2, ALL_LAYERS);
  settle(r);
  const int tracks[] = {VHIGH, VHIGH, VHIGH};
  check_video(v, 0, tracks, 3);
  check_audio(v, r->src[FANOUT_AUDIO].frames - 2);
}

/* 6. The high and low layers stop, the medium one goes on: after
 * FANOUT_LAYER_QUIET_MS without a packet a High viewer is moved down and a
 * Low viewer up to the medium layer, at its keyframe (asked for); the High
 * viewer back up when the high layer comes again. ops->layer tells each
 * move, the want staying what the menu says. */

/* Ticks every 100 ms (as the media plane does) while only the medium layer
 * is sent, until the others have been quiet long enough; a keyframe of
 * the medium layer is asked for once for each viewer whose layer went
 * quiet, not before. */
static void wait_quiet(struct rig *r) {
  uint64_t low_ms = r->src[VLOW].ms, high_ms = r->src[VHIGH].ms;
  for (;;) {
    rig_sleep(r, 100);
    rounds(r, 1, 2u);
    uint64_t now = rig_now(r);
    fanout_tick(&r->f); /* at now, as the share sees it */
    pump(r);
    size_t quiet = (now - low_ms >= QUIET_MS) + (now - high_ms >= QUIET_MS);
    assert_int_equal(r->nasks, quiet);
    for (size_t i = 0; i < r->nasks; i++)
      assert_int_equal(r->asks[i], VMED);
    if (quiet == 2)
      return;
  }
}

static void test_paused_layer(void **state) {
  struct rig *r = *state;
  sources(r, 3, 0);
  warm(r);
  struct viewer *hi = viewer_add(r, FANOUT_PREF_HIGH);
  struct viewer *lo = viewer_add(r, FANOUT_PREF_LOW);
  rounds(r, 3, ALL_LAYERS);
  settle(r);
  size_t hi_at = hi->n, lo_at = lo->n;
  wait_quiet(r);
  settle(r);
  assert_int_equal(count_ssrc(hi, hi->vssrc, hi_at), 0);
  assert_int_equal(count_ssrc(lo, lo->vssrc, lo_at), 0);
  assert_told(r, hi, VHIGH, VHIGH); /* not moved yet */
  assert_told(r, lo, VLOW, VLOW);
  pub_frame(r, VMED, 1);
  assert_told(r, hi, VMED, VHIGH);
  assert_told(r, lo, VMED, VLOW);
  rounds(r, 3, 2u);
  pub_frame(r, VHIGH, 1); /* back; taken at the next tick */
  rounds(r, 1, 6u);
  assert_told(r, hi, VMED, VHIGH);
  tick(r);
  assert_int_equal(r->nasks, 3);
  assert_int_equal(r->asks[2], VHIGH);
  rounds(r, 1, 6u);
  pub_frame(r, VHIGH, 1);
  assert_told(r, hi, VHIGH, VHIGH);
  assert_told(r, lo, VMED, VLOW); /* the low layer is still quiet */
  rounds(r, 2, 6u);
  settle(r);
  const int hi_tracks[] = {VHIGH, VMED, VHIGH}, lo_tracks[] = {VLOW, VMED};
  check_video(hi, 0, hi_tracks, 3);
  check_video(lo, 0, lo_tracks, 2);
  check_audio(hi, r->src[FANOUT_AUDIO].frames - 2);
  check_audio(lo, r->src[FANOUT_AUDIO].frames - 2);
}

/* 7. NACKs after a switch: one for a packet of the current segment is
 * answered with that packet of the layer sent now; one for a packet from
 * before the switch is not answered with anything else. */
static void test_nack_after_switch(void **state) {
  struct rig *r = *state;
  sources(r, 3, 0);
  r->src[VHIGH].seq = 65521; /* its keyframe at 65535, the packet lost at 2 */
  warm(r);
  struct viewer *v = viewer_add(r, FANOUT_PREF_LOW);
  rounds(r, 3, ALL_LAYERS);
  settle(r);
  v->drop_armed = 1; /* the next low frame's second packet */
  v->drop_seq = (uint16_t)(last_video(v)->seq + 2);
  rounds(r, 1, ALL_LAYERS);
  settle(r);
  assert_int_equal(v->nlost, 1);
  uint16_t lost_low = v->lost[0], lost_low_in = (uint16_t)(last_video(v)->in_seq + 1);
  view_pref(r, v, FANOUT_PREF_HIGH);
  rounds(r, 1, ALL_LAYERS);
  pub_frame(r, VHIGH, 1);
  settle(r);
  const struct got *kf_end = last_video(v); /* the keyframe's second packet */
  assert_int_equal(kf_end->track, VHIGH);
  assert_int_equal(kf_end->in_seq, 0); /* past the wrap */
  v->drop_armed = 1;                   /* the second packet of the frame after the keyframe */
  v->drop_seq = (uint16_t)(kf_end->seq + 2);
  uint16_t lost_high_in = (uint16_t)(kf_end->in_seq + 2);
  rounds(r, 2, ALL_LAYERS);
  settle(r);
  assert_int_equal(v->nlost, 2);
  uint16_t lost_high = v->lost[1];
  const int tracks[] = {VLOW, VHIGH};
  check_video(v, 0, tracks, 2);
  size_t at = v->n;
  const uint16_t lost[] = {lost_low, lost_high};
  nack(r, v, lost, 2);
  size_t high_answers = 0;
  for (size_t i = at; i < v->n; i++) {
    const struct got *g = &v->got[i];
    assert_int_equal(g->ssrc, v->vssrc);
    assert_true(g->intact);
    if (g->seq == lost_high) {
      assert_int_equal(g->track, VHIGH);
      assert_int_equal(g->in_seq, lost_high_in);
      assert_int_equal(g->ts, find_seq(v, (uint16_t)(lost_high - 1), at)->ts); /* its frame's */
      high_answers++;
    } else {
      assert_int_equal(g->seq, lost_low); /* nothing but the two asked for */
      assert_int_equal(g->track, VLOW);
      assert_int_equal(g->in_seq, lost_low_in);
    }
  }
  assert_int_equal(high_answers, 1);
}

/* 8. The publisher's layer restarts (a new source, numbered anew): the
 * viewer's numbering, timestamps and VP8 IDs go on, from its keyframe; so
 * does the audio's. */
static void test_restart(void **state) {
  struct rig *r = *state;
  sources(r, 3, 15);
  warm(r);
  struct viewer *v = viewer_add(r, FANOUT_PREF_HIGH);
  rounds(r, 3, ALL_LAYERS);
  rig_sleep(r, 30);
  struct fanout_msg m = {.type = FANOUT_RESTART, .room_id = ROOM, .track = VHIGH};
  fanout_handle(&r->f, &m);
  m.track = FANOUT_AUDIO;
  fanout_handle(&r->f, &m);
  r->src[VHIGH] = (struct src){.ssrc = 0x999, .seq = 50000, .ts = 777, .bits = 15, .picid = 9};
  r->src[FANOUT_AUDIO] = (struct src){.ssrc = 0x998, .seq = 3, .ts = 12345};
  size_t at = v->n;
  pub_frame(r, FANOUT_AUDIO, 0);
  pub_frame(r, VHIGH, 0); /* not a keyframe: the viewer waits */
  settle(r);
  assert_int_equal(count_ssrc(v, v->vssrc, at), 0);
  assert_int_equal(count_ssrc(v, v->assrc, at), 1);
  rig_sleep(r, 20);
  pub_frame(r, VHIGH, 1);
  rounds(r, 3, ALL_LAYERS);
  settle(r);
  const int tracks[] = {VHIGH, VHIGH};
  check_video(v, 0, tracks, 2);
  assert_int_equal(count_ssrc(v, v->vssrc, at), 2 + 6);
  check_audio(v, 3 + 1 + 3);
}

/* 9. Auto's hysteresis: after a move down, none up for 5 s; each move up
 * that comes down again within 10 s doubles that (10, 20, 40 s, no more);
 * a move up that held, or a move down long after, starts over at 5 s. */
static void test_hold(void **state) {
  (void)state;
  struct fanout_hold h = {0};
  uint64_t t = 1000;
  assert_false(fanout_hold_on(&h, t)); /* never moved */
  fanout_hold_down(&h, t);
  assert_true(fanout_hold_on(&h, t + FANOUT_UP_HOLD_MS - 1));
  assert_false(fanout_hold_on(&h, t + FANOUT_UP_HOLD_MS));
  for (unsigned fails = 1; fails <= FANOUT_UP_FAILS_MAX + 2; fails++) {
    uint64_t hold = (uint64_t)FANOUT_UP_HOLD_MS << h.fails;
    t += hold;
    fanout_hold_up(&h, t);          /* up as soon as allowed (a probe said it fits) */
    fanout_hold_down(&h, t + 2000); /* and down 2 s later: it did not */
    t += 2000;
    unsigned want = fails < FANOUT_UP_FAILS_MAX ? fails : FANOUT_UP_FAILS_MAX;
    assert_int_equal(h.fails, want);
    assert_true(fanout_hold_on(&h, t + ((uint64_t)FANOUT_UP_HOLD_MS << want) - 1));
    assert_false(fanout_hold_on(&h, t + ((uint64_t)FANOUT_UP_HOLD_MS << want)));
  }
  /* Up, and it holds past the trial: the next move down holds 5 s again. */
  t += (uint64_t)FANOUT_UP_HOLD_MS << FANOUT_UP_FAILS_MAX;
  fanout_hold_up(&h, t);
  t += FANOUT_UP_TRIAL_MS;
  fanout_hold_down(&h, t);
  assert_int_equal(h.fails, 0);
  assert_false(fanout_hold_on(&h, t + FANOUT_UP_HOLD_MS));
  /* Two moves down in a row (no move up between): no doubling. */
  fanout_hold_down(&h, t + 100);
  assert_int_equal(h.fails, 0);
  /* Loop time 0 (a fresh loop) still counts as a move. */
  struct fanout_hold z = {0};
  fanout_hold_down(&z, 0);
  assert_true(fanout_hold_on(&z, 1));
}

int main(void) {
  if (srtpctx_global_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_one_layer_each, rig_setup, rig_teardown),
      cmocka_unit_test_setup_teardown(test_switch_up, rig_setup, rig_teardown),
      cmocka_unit_test_setup_teardown(test_switch_wrap, rig_setup, rig_teardown),
      cmocka_unit_test_setup_teardown(test_vp8_ids, rig_setup, rig_teardown),
      cmocka_unit_test_setup_teardown(test_vp8_ids_7bit, rig_setup, rig_teardown),
      cmocka_unit_test_setup_teardown(test_audio_only, rig_setup, rig_teardown),
      cmocka_unit_test_setup_teardown(test_paused_layer, rig_setup, rig_teardown),
      cmocka_unit_test_setup_teardown(test_nack_after_switch, rig_setup, rig_teardown),
      cmocka_unit_test_setup_teardown(test_restart, rig_setup, rig_teardown),
      cmocka_unit_test(test_hold),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
