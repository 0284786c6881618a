/* The media plane's side of its shares of viewers (fanout.h): which share
 * holds each connected viewer, what each share is told, and what the
 * shares ask back. Share 0 runs inline; the others are worker threads
 * (media_worker.h), told through their rings. */
#include <assert.h>
#include <string.h>

#include "media/rtp.h"
#include "media/sfu_int.h"

void sfu_share_post(struct sfu *s, int share, const struct fanout_msg *m) {
  assert(share >= 0 && (unsigned)share < s->nshares);
  assert(share == 0);
  fanout_handle(&s->inline_share, m);
}

void sfu_share_post_room(struct sfu_room *r, struct fanout_msg *m) {
  m->room_id = r->id;
  for (unsigned i = 0; i < r->sfu->nshares; i++) {
    if (r->share_views[i])
      sfu_share_post(r->sfu, (int)i, m);
  }
}

/* The share a viewer goes to: an ICE-TCP one to share 0 (its connection is
 * this loop's); else the worker with the fewest viewers (share 0 when
 * there are none). */
static int share_pick(const struct sfu *s, const struct sfu_peer *v) {
  if (v->tcp || s->nshares == 1)
    return 0;
  unsigned best = 1;
  for (unsigned i = 2; i < s->nshares; i++) {
    if (s->share_views[i] < s->share_views[best])
      best = i;
  }
  return (int)best;
}

/* A share that is getting its first viewer of r: its ring gets r's video
 * from the cached keyframe on (stored only), so the viewer starts there
 * rather than waiting for a new keyframe. */
static void share_seed(struct sfu_room *r, int share) {
  const struct sfu_track *t = &r->tracks[SFU_VIDEO];
  uint16_t seq;
  uint64_t ms;
  uint32_t high;
  if (!t->active || !t->store || pktstore_last_keyframe(t->store, &seq, &ms) < 0 ||
      pktstore_highest(t->store, &high) < 0)
    return;
  for (uint16_t n = seq;; n++) {
    const struct pkt *p = pktstore_get(t->store, n);
    struct rtp_hdr h;
    if (p && rtp_parse(p->data, p->len, &h) == 0) {
      struct fanout_msg m = {.type = FANOUT_PKT, .kind = SFU_VIDEO, .room_id = r->id};
      m.u.pkt.seq = n;
      m.u.pkt.ts = h.ts;
      m.u.pkt.flags = p->flags | FANOUT_SEED;
      m.u.pkt.ms = p->arrival_ms;
      m.u.pkt.rate_Bps = t->rate_Bps;
      m.u.pkt.len = p->len;
      m.u.pkt.data = p->data;
      sfu_share_post(r->sfu, share, &m);
    }
    if (n == (uint16_t)high)
      break;
  }
}

static void path_fill(const struct sfu_peer *v, struct fanout_msg *m) {
  m->u.path.tcp = v->tcp;
  m->u.path.addr_len = v->tcp || v->addr_key_len == 0 ? 0 : v->addr_len;
  if (m->u.path.addr_len)
    memcpy(&m->u.path.addr, &v->addr, v->addr_len);
}

void sfu_share_view_add(struct sfu_peer *v) {
  struct sfu *s = v->sfu;
  struct sfu_room *r = v->room;
  assert(!v->publisher && v->share < 0 && v->view && v->srtp);
  int i = share_pick(s, v);
  if (r->share_views[i] == 0)
    share_seed(r, i);
  r->share_views[i]++;
  s->share_views[i]++;
  v->view->srtp = v->srtp; /* its sending half is the share's from now on */
  v->view->room_id = r->id;
  struct fanout_msg m = {.type = FANOUT_VIEW_ADD, .view = v->view, .room_id = r->id};
  path_fill(v, &m);
  v->share = i;
  sfu_share_post(s, i, &m);
}

void sfu_share_view_release(struct sfu_peer *v) {
  struct sfu *s = v->sfu;
  struct sfu_room *r = v->room;
  if (v->share < 0) {
    fanout_view_free_unused(v->view); /* never handed: its srtp is still v's */
    v->view = NULL;
    return;
  }
  int i = v->share;
  struct fanout_msg m = {.type = FANOUT_VIEW_DEL, .view = v->view, .room_id = r->id};
  sfu_share_post(s, i, &m);
  assert(r->share_views[i] > 0 && s->share_views[i] > 0);
  s->share_views[i]--;
  if (--r->share_views[i] == 0) {
    struct fanout_msg d = {.type = FANOUT_ROOM_DEL, .room_id = r->id};
    sfu_share_post(s, i, &d);
  }
  v->share = -1;
  v->view = NULL;
  v->srtp = NULL; /* freed by the share with the view */
}

void sfu_share_view_path(struct sfu_peer *v) {
  if (v->share < 0)
    return;
  struct fanout_msg m = {.type = FANOUT_VIEW_PATH, .view = v->view, .room_id = v->room->id};
  path_fill(v, &m);
  sfu_share_post(v->sfu, v->share, &m);
}

void sfu_share_stats(const struct sfu *s, struct sfu_stats *out) {
  for (unsigned i = 0; i < s->nshares; i++) {
    struct fanout_stats f;
    fanout_stats_read(&s->inline_share, &f);
    out->rtp_out += f.rtp_out;
    out->rtp_out_bytes += f.rtp_out_bytes;
    out->nack_resent += f.nack_resent;
    out->nack_duplicates += f.nack_duplicates;
    out->nack_over_budget += f.nack_over_budget;
  }
}

static void share_keyframe(void *arg, uint64_t room_id) {
  struct sfu *s = arg;
  for (struct sfu_room *r = s->rooms; r; r = r->next) {
    if (r->id == room_id) {
      sfu_fwd_request_keyframe(r, uv_now(s->loop));
      return;
    }
  }
}

static void share_tcp_send(struct sfu_tcp *t, const uint8_t *data, size_t len) {
  sfu_tcp_send(t, data, len);
}

const struct fanout_ops sfu_share_ops = {
    .keyframe = share_keyframe,
    .tcp_send = share_tcp_send,
};
