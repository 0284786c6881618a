/* The media plane's side of its shares of viewers (fanout.h): which share
 * holds each connected viewer, what each share is told, and what the
 * shares ask back. Share 0 runs inline on the media plane's loop and keeps
 * the ICE-TCP viewers (their connections are this loop's); the others are
 * worker threads (worker.h), told through their rings. A viewer whose path
 * changes between UDP and ICE-TCP moves between share 0 and a worker. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "media/rtp.h"
#include "media/sfu_int.h"
#include "media/worker.h"
#include "util/log.h"

void sfu_share_post(struct sfu *s, int share, const struct fanout_msg *m) {
  assert(share >= 0 && (unsigned)share < s->nshares);
  if (share == 0)
    fanout_handle(&s->inline_share, m);
  else
    worker_post(s->workers[share - 1], m);
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
static void share_seed_track(struct sfu_room *r, int share, int track) {
  const struct sfu_track *t = &r->tracks[track];
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
      struct fanout_msg m = {.type = FANOUT_PKT, .track = track, .room_id = r->id};
      m.u.pkt.seq = n;
      m.u.pkt.layers = r->layers;
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

static void share_seed(struct sfu_room *r, int share) {
  for (int i = 0; i < r->layers; i++)
    share_seed_track(r, share, SFU_VIDEO + i);
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
  v->view->layers = r->layers;
  struct fanout_msg m = {.type = FANOUT_VIEW_ADD, .view = v->view, .room_id = r->id};
  path_fill(v, &m);
  v->share = i;
  sfu_share_post(s, i, &m);
}

/* v's share lets it go: the counts drop, and a share left with no viewer
 * of the room lets the room go too. */
static void share_leave(struct sfu_peer *v, int i, enum fanout_msg_type type) {
  struct sfu *s = v->sfu;
  struct sfu_room *r = v->room;
  struct fanout_msg m = {.type = type, .view = v->view, .room_id = r->id};
  assert(i >= 0 && r->share_views[i] > 0 && s->share_views[i] > 0);
  sfu_share_post(s, i, &m);
  s->share_views[i]--;
  if (--r->share_views[i] == 0) {
    struct fanout_msg d = {.type = FANOUT_ROOM_DEL, .room_id = r->id};
    sfu_share_post(s, i, &d);
  }
}

static struct sfu_moving **moving_find(struct sfu *s, const struct fanout_view *view) {
  struct sfu_moving **pp = &s->moving;
  while (*pp && (*pp)->view != view)
    pp = &(*pp)->next;
  return pp;
}

void sfu_share_view_release(struct sfu_peer *v) {
  struct sfu *s = v->sfu;
  if (v->share == SFU_SHARE_MOVING) {
    struct sfu_moving *m = *moving_find(s, v->view);
    assert(m && m->peer == v);
    m->peer = NULL; /* the view (and srtp) is freed when it arrives */
    v->share = -1;
    v->view = NULL;
    v->srtp = NULL;
    return;
  }
  if (v->share < 0) {
    fanout_view_free_unused(v->view); /* never handed: its srtp is still v's */
    v->view = NULL;
    return;
  }
  share_leave(v, v->share, FANOUT_VIEW_DEL);
  v->share = -1;
  v->view = NULL;
  v->srtp = NULL; /* freed by the share with the view */
}

/* v's path is now ICE-TCP while a worker holds it, or UDP while share 0
 * does: the view comes back (ops moved) and goes where it belongs. */
static void share_move(struct sfu_peer *v) {
  struct sfu *s = v->sfu;
  struct sfu_moving *m = malloc(sizeof(*m));
  if (m == NULL)
    return; /* it stays: a TCP path it cannot use is as good as a lost one */
  m->view = v->view;
  m->peer = v;
  m->next = s->moving;
  s->moving = m;
  int from = v->share;
  v->share = SFU_SHARE_MOVING; /* before: share 0 gives it back at once */
  share_leave(v, from, FANOUT_VIEW_MOVE);
}

void sfu_share_view_path(struct sfu_peer *v) {
  if (v->share < 0)
    return; /* not handed yet, or moving: the path is read when it is added */
  int on_worker = v->share > 0, tcp = v->tcp != NULL;
  if (v->sfu->nshares > 1 && on_worker == tcp && (tcp || v->addr_key_len)) {
    share_move(v);
    return;
  }
  struct fanout_msg m = {.type = FANOUT_VIEW_PATH, .view = v->view, .room_id = v->room->id};
  path_fill(v, &m);
  sfu_share_post(v->sfu, v->share, &m);
}

void sfu_share_stats(const struct sfu *s, struct sfu_stats *out) {
  for (unsigned i = 0; i < s->nshares; i++) {
    struct fanout_stats f;
    if (i == 0) {
      fanout_stats_read(&s->inline_share, &f);
    } else {
      struct udp_stats u;
      uint64_t ring_dropped;
      worker_stats(s->workers[i - 1], &f, &u, &ring_dropped);
      out->udp_tx_packets += u.tx_packets;
      out->udp_tx_bytes += u.tx_bytes;
      out->udp_tx_sends += u.tx_sends;
      out->dropped[SFU_DROP_SEND_BUFFER] += u.tx_dropped + ring_dropped;
    }
    out->rtp_out += f.rtp_out;
    out->rtp_out_bytes += f.rtp_out_bytes;
    out->nack_resent += f.nack_resent;
    out->nack_duplicates += f.nack_duplicates;
    out->nack_over_budget += f.nack_over_budget;
    out->layer_switches += f.layer_switches;
    out->probe_packets += f.probe_packets;
    out->viewer_feedbacks += f.feedbacks;
  }
}

static struct sfu_room *room_by_id(struct sfu *s, uint64_t room_id) {
  for (struct sfu_room *r = s->rooms; r; r = r->next) {
    if (r->id == room_id)
      return r;
  }
  return NULL;
}

static void share_keyframe(void *arg, uint64_t room_id, int track) {
  struct sfu *s = arg;
  struct sfu_room *r = room_by_id(s, room_id);
  if (r && track >= SFU_VIDEO && track < SFU_TRACKS)
    sfu_fwd_request_keyframe(r, track, uv_now(s->loop));
}

/* The lowest layer the publisher sends (a packet in the last second), or
 * -1: a browser may leave out its lowest encodings (Chromium sends fewer
 * layers than asked from a small camera, and drops the lowest). */
static int layer_base(const struct sfu_room *r, uint64_t now) {
  for (int i = 0; i < r->layers; i++) {
    const struct sfu_track *t = &r->tracks[SFU_VIDEO + i];
    uint32_t high;
    const struct pkt *p;
    if (t->active && t->store && pktstore_highest(t->store, &high) == 0 &&
        (p = pktstore_get(t->store, (uint16_t)high)) != NULL && now - p->arrival_ms < 1000)
      return i;
  }
  return -1;
}

void sfu_share_layers_update(struct sfu_room *r) {
  int base = layer_base(r, uv_now(r->sfu->loop));
  /* Never paused: the layers up to the lowest one sent (those below it
   * the browser leaves out itself), and all while none is sent. */
  unsigned mask = base < 0 ? (1u << r->layers) - 1 : (2u << base) - 1;
  r->layers_dirty = 0;
  if (r->links) /* a link carries every layer: its edge's viewers choose there */
    mask = (1u << r->layers) - 1;
  for (size_t i = 0; i < r->nviewers; i++) {
    unsigned want = r->viewers[i]->layer_want;
    if (want >= SFU_VIDEO && want < SFU_TRACKS)
      mask |= 1u << (want - SFU_VIDEO);
  }
  if (r->layers < 2 || mask == r->layers_told)
    return;
  r->layers_told = mask;
  if (r->owner && r->owner->ops->layers_wanted)
    r->owner->ops->layers_wanted(r->owner, mask, r->layers);
}

/* A share says which layer a view gets and would take. */
static void share_layer(void *arg, struct fanout_view *view, uint64_t room_id, int track,
                        int want) {
  struct sfu_room *r = room_by_id(arg, room_id);
  struct sfu_peer *v = NULL;
  for (size_t i = 0; r && i < r->nviewers && v == NULL; i++) {
    if (r->viewers[i]->view == view)
      v = r->viewers[i];
  }
  if (v == NULL)
    return; /* it left meanwhile */
  v->layer_want = (uint8_t)want;
  r->layers_dirty = 1; /* the owner hears at the next tick */
  if (v->layer_track == track)
    return;
  v->layer_track = (uint8_t)track;
  /* Without simulcast the one layer is not news, unless it follows none. */
  int tell = r->layers >= 2 || track == FANOUT_NO_TRACK || v->told_none;
  v->told_none = track == FANOUT_NO_TRACK;
  if (tell && v->owner && v->owner->ops->view_layer)
    v->owner->ops->view_layer(v->owner, track >= SFU_VIDEO ? track - SFU_VIDEO : -1, r->layers);
}

static void share_tcp_send(struct sfu_tcp *t, const uint8_t *data, size_t len) {
  sfu_tcp_send(t, data, len);
}

/* A view a share gave back (FANOUT_VIEW_MOVE): to its viewer's new share,
 * or freed when the viewer closed meanwhile. */
static void share_moved(void *arg, struct fanout_view *view) {
  struct sfu *s = arg;
  struct sfu_moving **pp = moving_find(s, view), *m = *pp;
  assert(m); /* every move is recorded */
  *pp = m->next;
  struct sfu_peer *v = m->peer;
  free(m);
  if (v == NULL) {
    fanout_view_free(view);
    return;
  }
  assert(v->share == SFU_SHARE_MOVING && v->view == view);
  v->share = -1;
  view->pref = (enum fanout_pref)v->quality; /* set while it was on its way */
  sfu_share_view_add(v);
}

const struct fanout_ops sfu_share_ops = {
    .keyframe = share_keyframe,
    .moved = share_moved,
    .layer = share_layer,
    .tcp_send = share_tcp_send,
};

static const struct worker_ops share_worker_ops = {
    .keyframe = share_keyframe,
    .moved = share_moved,
    .layer = share_layer,
};

int sfu_share_start(struct sfu *s) {
  unsigned n = s->cfg.workers < SFU_MAX_SHARES ? s->cfg.workers : SFU_MAX_SHARES - 1;
  for (unsigned i = 0; i < n; i++) {
    int rc = worker_start(s->loop, s->udp, s->cfg.hold_ms, &share_worker_ops, s, &s->workers[i]);
    if (rc < 0) {
      log_ev(LOG_ERROR, "cannot start a media worker", LOG_S("error", uv_strerror(rc)));
      return rc;
    }
    s->nshares++;
  }
  return 0;
}

void sfu_share_stop(struct sfu *s) {
  for (unsigned i = 1; i < s->nshares; i++)
    worker_stop(s->workers[i - 1]);
  s->nshares = 1;
  assert(s->moving == NULL); /* views on their way back came back with the stops */
}

void sfu_share_tick(struct sfu *s) {
  fanout_tick(&s->inline_share);
  for (unsigned i = 1; i < s->nshares; i++)
    worker_poll(s->workers[i - 1]);
}
