/* Peers of the media plane: offers and answers, ICE-lite on the one UDP
 * port (STUN checks answered, addresses bound), DTLS-SRTP, consent. The
 * packets themselves are sfu_fwd.c's. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/sfu_int.h"
#include "media/stun.h"
#include "util/log.h"

#define SFU_TIMER_MS 100
#define SFU_ANSWER_MAX (16 * 1024)

static const char *const state_names[] = {"new", "checked", "connected", "closed"};

static void peer_set_state(struct sfu_peer *p, enum peer_state st) {
  if (p->state == st)
    return;
  assert(st > p->state); /* new -> checked -> connected -> closed, never back */
  log_ev(LOG_DEBUG, "media peer state", LOG_S("role", p->publisher ? "publisher" : "viewer"),
         LOG_S("peer", p->ufrag), LOG_S("from", state_names[p->state]),
         LOG_S("to", state_names[st]));
  p->state = st;
}

/* ICE characters (RFC 8839 5.4): ALPHA / DIGIT / "+" / "/". */
static void random_ice(char *out, size_t n) {
  static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < n; i++)
    out[i] = chars[randombytes_uniform(sizeof(chars) - 1)];
  out[n] = 0;
}

/* A compact binary key for an address: family, port, address bytes. */
static size_t addr_key(const struct sockaddr *sa, char out[20]) {
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    out[0] = 4;
    memcpy(out + 1, &in->sin_port, 2);
    memcpy(out + 3, &in->sin_addr, 4);
    return 7;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    out[0] = 6;
    memcpy(out + 1, &in6->sin6_port, 2);
    memcpy(out + 3, &in6->sin6_addr, 16);
    return 19;
  }
  return 0;
}

size_t sfu_addr_key(const struct sockaddr *sa, char out[20]) { return addr_key(sa, out); }

void sfu_peer_send(struct sfu_peer *p, const uint8_t *data, size_t len) {
  if (p->tcp)
    sfu_tcp_send(p->tcp, data, len);
  else if (p->addr_key_len)
    udp_send(p->sfu->udp, data, len, (const struct sockaddr *)&p->addr, p->addr_len);
}

static void dtls_out(void *arg, const uint8_t *data, size_t len) { sfu_peer_send(arg, data, len); }

/* Takes p out of the lookups, so no datagram reaches it any more. */
static void peer_unmap(struct sfu_peer *p) {
  struct sfu *s = p->sfu;
  sfu_tcp_forget_peer(p);
  if (map_get(&s->by_ufrag, p->ufrag, strlen(p->ufrag)) == p)
    map_del(&s->by_ufrag, p->ufrag, strlen(p->ufrag));
  for (size_t i = 0; i < p->nchecked; i++) {
    if (map_get(&s->by_addr, p->checked[i].key, p->checked[i].len) == p)
      map_del(&s->by_addr, p->checked[i].key, p->checked[i].len);
  }
  if (p->link)
    sfu_relay_in_close(p);
}

void sfu_peer_free(struct sfu_peer *p) {
  struct sfu *s = p->sfu;
  peer_unmap(p);
  if (p->link)
    sfu_relay_in_free(p);
  assert(p->tcps == NULL && p->ntcp == 0 && p->tcp == NULL);
  assert(s->stats.peers > 0);
  if (p->view)
    sfu_share_view_release(p); /* a handed view's srtp is the share's to free */
  dtls_free(p->dtls);
  srtpctx_free(p->srtp);
  free(p->twcc);
  s->stats.peers--;
  free(p);
}

/* p is r's publisher or one of its viewers (a peer is in its room from its
 * answer until it closes or is dropped). */
static void room_remove_peer(struct sfu_room *r, struct sfu_peer *p) {
  assert(p->room == r);
  if (r->publisher == p) {
    r->publisher = NULL;
    r->ready = 0;
    if (r->links) /* what the edges were told is of this publisher */
      sfu_relay_out_end_all(r);
    return;
  }
  for (size_t i = 0; i < r->nviewers; i++) {
    if (r->viewers[i] == p) {
      r->viewers[i] = r->viewers[--r->nviewers];
      r->layers_dirty = 1;
      return;
    }
  }
  assert(!"the peer is not in its room");
}

/* The callers up the stack may still hold p (a batch of datagrams, the
 * timer's walk over a room): p leaves its room and the lookups now, and is
 * freed, its owner told, at the reaper's safe point. */
void sfu_peer_fail(struct sfu_peer *p, const char *why) {
  struct sfu *s = p->sfu;
  if (p->state == PEER_CLOSED)
    return;
  assert(p->next_closed == NULL && s->closed != p);
  log_ev(LOG_INFO, "media peer closed", LOG_S("role", p->publisher ? "publisher" : "viewer"),
         LOG_S("peer", p->ufrag), LOG_S("why", why));
  peer_set_state(p, PEER_CLOSED);
  room_remove_peer(p->room, p);
  peer_unmap(p);
  if (p->view)
    sfu_share_view_release(p); /* now: the room may be gone by the reaper's turn */
  snprintf(p->why, sizeof(p->why), "%s", why);
  p->next_closed = s->closed;
  s->closed = p;
}

/* The safe point: nothing of the media plane is on the stack. */
static void on_reap(uv_check_t *h) {
  struct sfu *s = h->data;
  while (s->closed) {
    struct sfu_peer *p = s->closed;
    s->closed = p->next_closed;
    assert(p->state == PEER_CLOSED); /* and out of its room and the lookups */
    struct sfu_owner *owner = p->owner;
    char why[SFU_WHY_MAX];
    memcpy(why, p->why, sizeof(why));
    sfu_peer_free(p);
    if (owner && owner->ops->peer_closed)
      owner->ops->peer_closed(owner, why);
  }
}

/* Nobody is told about closed peers of this owner or room any more. */
static void closed_forget(struct sfu *s, const struct sfu_owner *owner,
                          const struct sfu_room *room) {
  for (struct sfu_peer *p = s->closed; p; p = p->next_closed) {
    if ((owner && p->owner == owner) || (room && p->room == room))
      p->owner = NULL;
  }
}

struct sfu_peer *sfu_peer_new(struct sfu_room *r, struct sfu_owner *owner, int publisher,
                              const char *remote_fp) {
  struct sfu *s = r->sfu;
  struct sfu_peer *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return NULL;
  p->sfu = s;
  p->room = r;
  p->owner = owner;
  p->publisher = publisher;
  p->share = -1;
  p->created_ms = p->last_stun_ms = uv_now(s->loop);
  p->rtcp_ssrc = randombytes_random() | 1;
  snprintf(p->remote_fp, sizeof(p->remote_fp), "%s", remote_fp ? remote_fp : "");
  do /* a relay-in publisher's names only its log lines */
    random_ice(p->ufrag, SFU_ICE_UFRAG_LEN);
  while (map_get(&s->by_ufrag, p->ufrag, SFU_ICE_UFRAG_LEN));
  random_ice(p->pwd, SFU_ICE_PWD_LEN);
  p->dtls = remote_fp ? dtls_new(s->dtls, remote_fp, dtls_out, p) : NULL;
  if (!publisher)
    p->view = calloc(1, sizeof(*p->view));
  else if ((p->twcc = malloc(sizeof(*p->twcc))) != NULL)
    twcc_recv_init(p->twcc);
  if ((remote_fp && p->dtls == NULL) || (!publisher && p->view == NULL) ||
      (publisher && p->twcc == NULL) ||
      (remote_fp && map_put(&s->by_ufrag, p->ufrag, SFU_ICE_UFRAG_LEN, p) < 0)) {
    dtls_free(p->dtls);
    free(p->view);
    free(p->twcc);
    free(p);
    return NULL;
  }
  s->stats.peers++;
  return p;
}

/* The owner's existing peer in the room, if any. */
static struct sfu_peer *room_find(struct sfu_room *r, const struct sfu_owner *owner) {
  if (r->publisher && r->publisher->owner == owner)
    return r->publisher;
  for (size_t i = 0; i < r->nviewers; i++) {
    if (r->viewers[i]->owner == owner)
      return r->viewers[i];
  }
  return NULL;
}

_Static_assert((int)SFU_QUALITY_AUTO == FANOUT_PREF_AUTO &&
                   (int)SFU_QUALITY_LOW == FANOUT_PREF_LOW &&
                   (int)SFU_QUALITY_MEDIUM == FANOUT_PREF_MEDIUM &&
                   (int)SFU_QUALITY_HIGH == FANOUT_PREF_HIGH &&
                   (int)SFU_QUALITY_AUDIO == FANOUT_PREF_AUDIO,
               "the quality menu is the shares' preference");

int sfu_view_quality(struct sfu_room *r, struct sfu_owner *owner, enum sfu_quality q) {
  struct sfu_peer *p = room_find(r, owner);
  if ((unsigned)q >= FANOUT_PREFS)
    return -EINVAL;
  if (p == NULL || p->publisher)
    return -ENOENT;
  p->quality = q;
  if (p->share >= 0) {
    struct fanout_msg m = {.type = FANOUT_VIEW_PREF, .view = p->view, .room_id = r->id};
    m.u.pref = (enum fanout_pref)q;
    sfu_share_post(r->sfu, p->share, &m);
  } else if (p->share == -1 && p->view) {
    p->view->pref = (enum fanout_pref)q; /* not handed yet: still the media plane's */
  }                                      /* moving: set when it comes back (sfu_share.c) */
  return 0;
}

void sfu_drop(struct sfu_room *r, struct sfu_owner *owner) {
  closed_forget(r->sfu, owner, NULL);
  struct sfu_peer *p = room_find(r, owner);
  if (p == NULL)
    return;
  peer_set_state(p, PEER_CLOSED);
  room_remove_peer(r, p);
  sfu_peer_free(p);
}

static int room_add_viewer(struct sfu_room *r, struct sfu_peer *p) {
  assert(p->room == r && !p->publisher && p->state == PEER_NEW);
  if (r->nviewers == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 8;
    struct sfu_peer **v = realloc(r->viewers, cap * sizeof(*v));
    if (v == NULL)
      return -ENOMEM;
    r->viewers = v;
    r->cap = cap;
  }
  r->viewers[r->nviewers++] = p;
  return 0;
}

static const enum sdp_kind sfu_sdp_kinds[SFU_KINDS] = {SDP_KIND_AUDIO, SDP_KIND_VIDEO};

/* Track i of r takes codec c (NULL: inactive), as layer rid (NULL: no
 * simulcast). */
static int track_take(struct sfu_room *r, int i, const struct sdp_codec *c, const char *rid) {
  struct sfu_track *t = &r->tracks[i];
  t->active = c != NULL;
  t->ssrc_known = 0;
  t->bframes = 0; /* a new publisher: told again */
  snprintf(t->rid, sizeof(t->rid), "%s", rid ? rid : "");
  if (c == NULL)
    return 0;
  t->codec = *c;
  t->family = strcasecmp(c->name, "VP8") == 0    ? SFU_CODEC_VP8
              : strcasecmp(c->name, "H264") == 0 ? SFU_CODEC_H264
                                                 : SFU_CODEC_OTHER;
  size_t slots = i == SFU_AUDIO ? SFU_AUDIO_STORE_SLOTS : SFU_STORE_SLOTS;
  if (t->store == NULL && (t->store = pktstore_new(slots)) == NULL)
    return -ENOMEM;
  return 0;
}

int sfu_room_tracks(struct sfu_room *r, const struct sdp_codec *audio,
                    const struct sdp_codec *video, const char *const *rids, size_t n) {
  r->layers = n ? (uint8_t)n : 1;
  r->layers_told = 0; /* its page hears which layers are watched */
  r->layers_dirty = 1;
  if (track_take(r, SFU_AUDIO, audio, NULL) < 0)
    return -ENOMEM;
  for (int i = 0; i < SFU_LAYERS; i++) {
    const struct sdp_codec *lc = i < r->layers ? video : NULL;
    if (track_take(r, SFU_VIDEO + i, lc, n ? rids[i] : NULL) < 0)
      return -ENOMEM;
    struct fanout_msg msg = {.type = FANOUT_RESTART, .track = SFU_VIDEO + i};
    sfu_share_post_room(r, &msg);
  }
  return audio || video ? 0 : -ENOENT;
}

/* Publisher: remembers the codecs the answer takes (what it will send),
 * and its simulcast layers (the rids it sends, lowest first, when its RID
 * header extension is taken); viewers' video starts again at the new
 * layers' keyframes. */
static int publisher_take(struct sfu_room *r, const struct sdp *o,
                          const struct sdp_answer_params *ap) {
  const struct sdp_media *m[SFU_KINDS];
  const struct sdp_codec *c[SFU_KINDS];
  const char *rids[SFU_LAYERS], *why;
  size_t n = 0;
  for (int k = 0; k < SFU_KINDS; k++) {
    if (sdp_answer_pick(o, ap, sfu_sdp_kinds[k], &m[k], &c[k], &why) < 0)
      c[k] = NULL;
  }
  r->rid_ext = c[SFU_VIDEO] ? (uint8_t)sdp_ext_id(m[SFU_VIDEO], SDP_EXT_RID) : 0;
  /* Transport-wide: BUNDLE gives it one id on every m-line. */
  r->twcc_ext = (uint8_t)(c[SFU_VIDEO]   ? sdp_ext_id(m[SFU_VIDEO], SDP_EXT_TWCC)
                          : c[SFU_AUDIO] ? sdp_ext_id(m[SFU_AUDIO], SDP_EXT_TWCC)
                                         : 0);
  if (r->rid_ext && (n = sdp_simulcast_rids(m[SFU_VIDEO], rids, SFU_LAYERS)) < 2)
    n = 0;
  return sfu_room_tracks(r, c[SFU_AUDIO], c[SFU_VIDEO], rids, n);
}

/* Viewer: its packets carry its transport-wide sequence number when it
 * offers that extension with a one-byte id and the room has simulcast
 * layers to choose from (its feedback makes its estimate, which picks its
 * layer; with one layer there is nothing to pick, and neither it nor onair
 * spends anything on feedback); docs/media.md, "Bandwidth estimation". */
static void viewer_twcc(struct sfu_peer *p, const struct sdp *o, struct sdp_answer_params *ap) {
  int id = 0;
  for (size_t i = 0; i < o->n_media && id == 0; i++)
    id = sdp_ext_id(&o->media[i], SDP_EXT_TWCC);
  twcc_send_init(&p->view->twcc);
  if (id < 1 || id > 14 || p->room->layers < 2)
    return;
  p->view->twcc_id = (uint8_t)id;
  ap->exts |= 1u << SDP_EXT_TWCC;
}

/* Viewer: what onair sends it, on the payload types the answer picks. */
static void viewer_take(struct sfu_peer *p, const struct sdp *o, struct sdp_answer_params *ap) {
  struct sfu_room *r = p->room;
  struct sdp_send *sends[SFU_KINDS] = {&ap->audio, &ap->video};
  for (int k = 0; k < SFU_KINDS; k++) {
    if (!r->tracks[k].active)
      continue;
    sends[k]->codec = &r->tracks[k].codec;
    sends[k]->ssrc = randombytes_random() | 1;
    /* Video: RTX (when the viewer offers it) carries probes' padding. */
    sends[k]->rtx_ssrc = k == SFU_VIDEO ? (sends[k]->ssrc + 1) | 1 : 0;
  }
  viewer_twcc(p, o, ap);
  for (int k = 0; k < SFU_KINDS; k++) {
    struct fanout_out *out = &p->view->out[k];
    const struct sdp_media *m;
    const struct sdp_codec *c = NULL;
    const char *why;
    if (!sends[k]->codec || sdp_answer_pick(o, ap, sfu_sdp_kinds[k], &m, &c, &why) < 0)
      c = NULL;
    out->active = c != NULL;
    if (c == NULL)
      continue;
    out->pt = c->pt;
    out->ssrc = sends[k]->ssrc;
    seqmap_init(&out->map, out->ssrc);
    out->rtx_pt = c->rtx_pt >= 0 ? (uint8_t)c->rtx_pt : 0;
    out->rtx_ssrc = c->rtx_pt >= 0 ? sends[k]->rtx_ssrc : 0;
  }
}

/* Parses and checks an offer for r: SDP onair can answer, a fingerprint
 * (into fp), and for a viewer a publisher already connected. */
static int offer_check(const struct sfu_room *r, int publisher, const char *text, size_t len,
                       struct sdp *o, char fp[DTLS_FINGERPRINT_MAX], const char **code,
                       const char **why) {
  int rc;
  if ((rc = sdp_parse(text, len, o, why)) < 0 || (rc = sdp_check_offer(o, why)) < 0)
    return rc;
  const struct sdp_media *bm = sdp_bundle_media(o);
  if (bm == NULL || sdp_fingerprint_text(&bm->transport.fp, fp, DTLS_FINGERPRINT_MAX) < 0) {
    *why = "the offer has no usable fingerprint";
    return -EINVAL;
  }
  if (!publisher && !r->ready) {
    *code = "not_ready";
    *why = "the broadcaster's media has not reached onair yet";
    return -EAGAIN;
  }
  return 0;
}

/* Writes p's answer to offer o into out (SFU_ANSWER_MAX bytes) and takes
 * the codecs it chose: what a publisher sends, or what a viewer gets. */
static int peer_answer(struct sfu_peer *p, const struct sdp *o, char *out, const char **code,
                       const char **why) {
  struct sfu_room *r = p->room;
  struct sfu *s = r->sfu;
  char msid_a[64], msid_v[64];
  snprintf(msid_a, sizeof(msid_a), "%s audio", r->stream_id);
  snprintf(msid_v, sizeof(msid_v), "%s video", r->stream_id);
  const char *more[SDP_MAX_MORE_ADDRS];
  for (size_t i = 1; i < s->nannounce; i++)
    more[i - 1] = s->announce[i];
  struct sdp_answer_params ap = {
      .role = p->publisher ? SDP_ROLE_PUBLISHER : SDP_ROLE_VIEWER,
      .session_id = randombytes_random(),
      .ice_ufrag = p->ufrag,
      .ice_pwd = p->pwd,
      .fingerprint = dtls_ctx_fingerprint(s->dtls),
      .addr = s->announce[0],
      .tcp_port = (uint16_t)s->tcp_port,
      .more_addrs = more,
      .nmore = s->nannounce - 1,
      .port = (uint16_t)sfu_port(s),
      .cname = "onair",
      .audio = {.msid = msid_a},
      .video = {.msid = msid_v},
      .exts = p->publisher ? 1u << SDP_EXT_MID | 1u << SDP_EXT_RID | 1u << SDP_EXT_TWCC : 0,
  };
  if (!p->publisher)
    viewer_take(p, o, &ap);
  int rc = sdp_answer(o, &ap, out, SFU_ANSWER_MAX, why);
  if (rc == -ENOENT)
    *code = "no_codec";
  if (rc >= 0 && p->publisher && (rc = publisher_take(r, o, &ap)) == -ENOENT) {
    *code = "no_codec";
    *why = "the offer has no VP8, H.264 or Opus";
  }
  return rc < 0 ? rc : 0;
}

int sfu_offer(struct sfu_room *r, int publisher, struct sfu_owner *owner, const char *text,
              size_t len, char **answer, const char **code, const char **why) {
  int rc = -ENOMEM;
  char fp[DTLS_FINGERPRINT_MAX];
  struct sfu_peer *p = NULL;
  struct sdp *o = malloc(sizeof(*o));
  char *out = malloc(SFU_ANSWER_MAX);
  *code = "bad_sdp";
  *answer = NULL;
  *why = "out of memory";
  if (o == NULL || out == NULL)
    goto out_free;
  if ((rc = offer_check(r, publisher, text, len, o, fp, code, why)) < 0)
    goto out_free;
  struct sfu_peer *old = room_find(r, owner);
  enum sfu_quality quality = old && !old->publisher ? old->quality : SFU_QUALITY_AUTO;
  sfu_drop(r, owner);
  if (publisher && r->publisher)
    sfu_drop(r, r->publisher->owner);
  assert(room_find(r, owner) == NULL && (!publisher || r->publisher == NULL));
  *why = "out of memory";
  if ((p = sfu_peer_new(r, owner, publisher, fp)) == NULL) {
    rc = -ENOMEM;
    goto out_free;
  }
  if (!publisher) {
    p->quality = quality;
    p->view->pref = (enum fanout_pref)quality;
  }
  if ((rc = peer_answer(p, o, out, code, why)) < 0)
    goto out_free;
  if (publisher) {
    r->publisher = p;
    r->ready = 0;
  } else if ((rc = room_add_viewer(r, p)) < 0) {
    *why = "out of memory";
    goto out_free;
  }
  log_ev(LOG_INFO, "media peer answered", LOG_S("role", publisher ? "publisher" : "viewer"),
         LOG_S("peer", p->ufrag));
  *answer = out;
  free(o);
  return 0;
out_free:
  if (p)
    sfu_peer_free(p);
  free(o);
  free(out);
  return rc < 0 ? rc : -EINVAL;
}

/* Remembers an address that passed a check (media is accepted from it) and,
 * when the check nominates it (or none was nominated yet), sends there. */
static void peer_bind(struct sfu_peer *p, const struct sockaddr *from, socklen_t from_len,
                      int use_candidate) {
  struct sfu *s = p->sfu;
  char key[20];
  size_t klen = addr_key(from, key), i;
  if (klen == 0)
    return;
  for (i = 0; i < p->nchecked; i++) {
    if (p->checked[i].len == klen && memcmp(p->checked[i].key, key, klen) == 0)
      break;
  }
  if (i == p->nchecked) {
    if (p->nchecked < SFU_MAX_CHECKED) {
      i = p->nchecked++;
    } else {
      /* Full: replace the oldest that is not the nominated one. */
      i = p->next_evict++ % SFU_MAX_CHECKED;
      if (p->checked[i].len == p->addr_key_len &&
          memcmp(p->checked[i].key, p->addr_key, p->addr_key_len) == 0)
        i = p->next_evict++ % SFU_MAX_CHECKED;
      if (map_get(&s->by_addr, p->checked[i].key, p->checked[i].len) == p)
        map_del(&s->by_addr, p->checked[i].key, p->checked[i].len);
    }
    memcpy(p->checked[i].key, key, klen);
    p->checked[i].len = klen;
  }
  /* The address is p's now, also when another peer's check from it came
   * since p's last one (a reused port, or a spoofed source): else p's
   * checks would keep passing while its media went to the other peer. */
  map_put(&s->by_addr, key, klen, p);
  if (use_candidate || !p->nominated) {
    if (use_candidate)
      p->nominated = 1;
    p->tcp = NULL; /* media goes over UDP from now on */
    memcpy(p->addr_key, key, klen);
    p->addr_key_len = klen;
    memcpy(&p->addr, from, from_len);
    p->addr_len = from_len;
    sfu_share_view_path(p);
  }
}

/* A binding request: the USERNAME names the peer, MESSAGE-INTEGRITY proves
 * the sender knows its password, and the source address becomes the
 * peer's (RFC 8445 7.3, ICE-lite). */
static void stun_reply(struct sfu *s, struct sfu_tcp *via, const uint8_t *resp, int n,
                       const struct sockaddr *from, socklen_t from_len) {
  if (n <= 0)
    return;
  if (via)
    sfu_tcp_send(via, resp, (size_t)n);
  else
    udp_send(s->udp, resp, (size_t)n, from, from_len);
}

/* Checks that came over an ICE-TCP connection (via) bind that connection;
 * others bind their UDP source address. */
void sfu_on_stun(struct sfu *s, uint8_t *data, size_t len, const struct sockaddr *from,
                 socklen_t from_len, struct sfu_tcp *via) {
  struct stun_msg m;
  const char *local, *remote;
  size_t llen, rlen;
  if (stun_parse(data, len, &m) < 0 || m.type != STUN_BINDING_REQUEST)
    return;
  if (stun_username_split(m.username, m.username_len, &local, &llen, &remote, &rlen) < 0)
    return;
  struct sfu_peer *p = map_get(&s->by_ufrag, local, llen);
  uint8_t *resp = s->scratch;
  if (p == NULL || p->state == PEER_CLOSED) {
    int n =
        stun_build_binding_error(resp, sizeof(s->scratch), m.txid, 401, "Unknown user", NULL, 0);
    stun_reply(s, via, resp, n, from, from_len);
    return;
  }
  if (stun_check_fingerprint(data, len, &m) < 0 ||
      stun_check_integrity(data, len, &m, (const uint8_t *)p->pwd, strlen(p->pwd)) < 0)
    return; /* a forged or damaged check: no answer (RFC 8445 7.3.1.1) */
  /* A check must carry PRIORITY (RFC 8445 7.1.1), and onair, ICE-lite, is
   * always controlled: a peer claiming that role too is in conflict
   * (7.3.1.1). Neither binds an address or refreshes consent. */
  int code = !(m.flags & STUN_F_PRIORITY) ? 400 : (m.flags & STUN_F_ICE_CONTROLLED) ? 487 : 0;
  if (code) {
    int n = stun_build_binding_error(resp, sizeof(s->scratch), m.txid, code, NULL,
                                     (const uint8_t *)p->pwd, strlen(p->pwd));
    stun_reply(s, via, resp, n, from, from_len);
    return;
  }
  int use = (m.flags & STUN_F_USE_CANDIDATE) != 0;
  if (via && sfu_tcp_bind(via, p, use) < 0)
    return; /* a connection of another peer, or one too many */
  if (!via)
    peer_bind(p, from, from_len, use);
  p->last_stun_ms = uv_now(s->loop);
  if (p->state == PEER_NEW)
    peer_set_state(p, PEER_CHECKED);
  int n = stun_build_binding_success(resp, sizeof(s->scratch), m.txid, from,
                                     (const uint8_t *)p->pwd, strlen(p->pwd));
  stun_reply(s, via, resp, n, from, from_len);
}

void sfu_on_dtls(struct sfu_peer *p, const uint8_t *data, size_t len) {
  enum dtls_state st = dtls_feed(p->dtls, data, len);
  if (st == DTLS_FAILED) {
    sfu_peer_fail(p, dtls_error(p->dtls));
    return;
  }
  if (st == DTLS_CLOSED) {
    sfu_peer_fail(p, "the peer closed DTLS");
    return;
  }
  if (st != DTLS_CONNECTED || p->state == PEER_CONNECTED)
    return;
  struct dtls_srtp_keys keys;
  if (dtls_srtp_keys(p->dtls, &keys) < 0 || (p->srtp = srtpctx_new(&keys)) == NULL) {
    sfu_peer_fail(p, "SRTP could not be set up");
    return;
  }
  sfu_peer_connected(p);
}

void sfu_peer_connected(struct sfu_peer *p) {
  peer_set_state(p, PEER_CONNECTED);
  struct sfu_room *r = p->room;
  if (p->publisher) {
    r->ready = 1;
    log_ev(LOG_INFO, "media publisher connected", LOG_S("peer", p->ufrag));
    if (r->owner && r->owner->ops->media_ready)
      r->owner->ops->media_ready(r->owner);
  } else {
    sfu_share_view_add(p);
  }
}

/* Every datagram on the media port (RFC 7983 demultiplexing). */
static void on_datagram(void *arg, uint8_t *data, size_t len, const struct sockaddr *from,
                        socklen_t from_len) {
  struct sfu *s = arg;
  if (len == 0)
    return;
  if (data[0] <= 3) {
    sfu_on_stun(s, data, len, from, from_len, NULL);
    return;
  }
  char key[20];
  size_t klen = addr_key(from, key);
  struct sfu_peer *p = klen ? map_get(&s->by_addr, key, klen) : NULL;
  assert(p == NULL || p->state != PEER_CLOSED); /* a closed peer left the lookups */
  if (p == NULL && klen && s->links.count && sfu_relay_datagram(s, key, klen, data, len))
    return; /* another node's (docs/media.md, "Relay between nodes") */
  if (p == NULL || p->state == PEER_NEW) {
    s->stats.dropped[SFU_DROP_UNKNOWN_PEER]++;
    return;
  }
  if (data[0] >= 20 && data[0] <= 63)
    sfu_on_dtls(p, data, len);
  else if (data[0] >= 128 && data[0] <= 191 && p->state == PEER_CONNECTED)
    sfu_fwd_srtp(p, data, len);
  else
    s->stats.dropped[SFU_DROP_NOT_MEDIA]++;
}

/* Consent (RFC 7675) and DTLS retransmission for one peer. Returns 1 if
 * the peer was closed (and freed). A peer is alive while it sends Binding
 * requests or authenticated SRTP/SRTCP from a checked address (media only
 * a holder of the DTLS-SRTP keys can make): GStreamer's webrtcbin and other
 * libnice peers never refresh consent with checks. */
static int peer_tick(struct sfu_peer *p, uint64_t now) {
  assert(p->state != PEER_CLOSED); /* a closed peer left its room */
  uint64_t heard = p->last_srtp_ms > p->last_stun_ms ? p->last_srtp_ms : p->last_stun_ms;
  if (now - heard > (p->link ? sfu_link_silence_ms(p->sfu) : p->sfu->cfg.consent_ms)) {
    sfu_peer_fail(p,
                  p->link ? "the origin went silent" : "no connectivity checks (consent expired)");
    return 1;
  }
  if (p->state == PEER_CHECKED && dtls_timeout_ms(p->dtls) == 0 &&
      dtls_on_timer(p->dtls) == DTLS_FAILED) {
    sfu_peer_fail(p, dtls_error(p->dtls));
    return 1;
  }
  return 0;
}

static void on_timer(uv_timer_t *t) {
  struct sfu *s = t->data;
  uint64_t now = uv_now(s->loop);
  int report = ++s->ticks % (1000 / SFU_TIMER_MS) == 0;
  for (struct sfu_room *r = s->rooms; r; r = r->next) {
    if (report)
      sfu_fwd_report(r, now);
    sfu_fwd_twcc(r);
    if (r->layers_dirty || report) /* and once a second: what the publisher sends changes */
      sfu_share_layers_update(r);
    if (r->links || (r->publisher && r->publisher->link))
      sfu_relay_tick(r, now);
    if (r->publisher)
      peer_tick(r->publisher, now);
    size_t i = 0;
    while (i < r->nviewers) {
      /* A closed viewer's slot takes the last one: look at it again. */
      if (!peer_tick(r->viewers[i], now))
        i++;
    }
  }
  sfu_share_tick(s);
}

/* The announced addresses, each IPv4 or IPv6 text. */
static int announce_parse(struct sfu *s, const char *list) {
  uint8_t a[16];
  const char *p = list;
  s->nannounce = 0;
  while (*(p += strspn(p, ", \t"))) {
    size_t len = strcspn(p, ", \t");
    if (s->nannounce == SDP_MAX_MORE_ADDRS + 1 || len >= sizeof(s->announce[0]))
      return -EINVAL;
    char *addr = s->announce[s->nannounce];
    memcpy(addr, p, len);
    addr[len] = 0;
    if (inet_pton(AF_INET, addr, a) != 1 && inet_pton(AF_INET6, addr, a) != 1)
      return -EINVAL;
    s->nannounce++;
    p += len;
  }
  return s->nannounce ? 0 : -EINVAL;
}

static void sfu_free_memory(struct sfu *s) {
  map_free(&s->by_ufrag);
  map_free(&s->by_addr);
  map_free(&s->links);
  dtls_ctx_free(s->dtls);
  free(s);
}

int sfu_new(uv_loop_t *loop, const struct sfu_config *cfg, struct sfu **out) {
  if (srtpctx_global_init() < 0)
    return -EIO;
  struct sfu *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return -ENOMEM;
  if (map_init(&s->by_ufrag) < 0 || map_init(&s->by_addr) < 0 || map_init(&s->links) < 0 ||
      (s->dtls = dtls_ctx_new()) == NULL) {
    sfu_free_memory(s);
    return -ENOMEM;
  }
  s->loop = loop;
  s->cfg = *cfg;
  if (announce_parse(s, cfg->announce) < 0) {
    sfu_free_memory(s);
    return -EINVAL;
  }
  int rc = udp_open(loop, cfg->bind, cfg->port, on_datagram, s, &s->udp);
  if (rc < 0) {
    sfu_free_memory(s);
    return rc;
  }
  if (cfg->no_gso)
    udp_set_gso(s->udp, 0);
  fanout_init(&s->inline_share, loop, s->udp, &sfu_share_ops, s);
  s->nshares = 1;
  if ((rc = sfu_share_start(s)) < 0) {
    sfu_share_stop(s);
    udp_close(s->udp);
    sfu_free_memory(s); /* the socket's memory goes with its handles */
    return rc;
  }
  uv_timer_init(loop, &s->timer);
  s->timer.data = s;
  uv_unref((uv_handle_t *)&s->timer);
  uv_timer_start(&s->timer, on_timer, SFU_TIMER_MS, SFU_TIMER_MS);
  uv_check_init(loop, &s->reaper);
  s->reaper.data = s;
  uv_unref((uv_handle_t *)&s->reaper);
  uv_check_start(&s->reaper, on_reap);
  s->handles_open = 2;
  *out = s;
  return 0;
}

static void sfu_on_handle_closed(uv_handle_t *h) {
  struct sfu *s = h->data;
  if (--s->handles_open == 0)
    sfu_free_memory(s);
}

void sfu_close(struct sfu *s) {
  if (s == NULL)
    return;
  sfu_tcp_close_all(s);
  while (s->rooms)
    sfu_room_free(s->rooms);
  while (s->closed) {
    struct sfu_peer *p = s->closed;
    s->closed = p->next_closed;
    sfu_peer_free(p);
  }
  assert(s->stats.peers == 0 && s->tcps == NULL);
  fanout_free(&s->inline_share);
  sfu_share_stop(s);
  udp_close(s->udp);
  uv_timer_stop(&s->timer);
  uv_check_stop(&s->reaper);
  uv_close((uv_handle_t *)&s->timer, sfu_on_handle_closed);
  uv_close((uv_handle_t *)&s->reaper, sfu_on_handle_closed);
}

int sfu_port(const struct sfu *s) { return udp_local_port(s->udp); }

struct sfu_room *sfu_room_new(struct sfu *s, struct sfu_owner *owner) {
  struct sfu_room *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return NULL;
  r->sfu = s;
  r->owner = owner;
  r->id = ++s->next_room_id;
  char id[17];
  random_ice(id, 16);
  for (char *c = id; *c; c++)
    if (*c == '+' || *c == '/')
      *c = 'x';
  snprintf(r->stream_id, sizeof(r->stream_id), "onair-%s", id);
  r->next = s->rooms;
  if (s->rooms)
    s->rooms->prev = r;
  s->rooms = r;
  return r;
}

void sfu_room_free(struct sfu_room *r) {
  struct sfu *s = r->sfu;
  assert(r->prev ? r->prev->next == r : s->rooms == r); /* one of s's rooms, linked */
  closed_forget(s, NULL, r);
  sfu_relay_out_end_all(r);
  if (r->publisher)
    sfu_peer_free(r->publisher);
  for (size_t i = 0; i < r->nviewers; i++)
    sfu_peer_free(r->viewers[i]);
  for (int k = 0; k < SFU_TRACKS; k++)
    pktstore_free(r->tracks[k].store);
  if (r->prev)
    r->prev->next = r->next;
  else
    s->rooms = r->next;
  if (r->next)
    r->next->prev = r->prev;
  free(r->viewers);
  free(r);
}

int sfu_room_ready(const struct sfu_room *r) { return r->ready; }

void sfu_get_stats(const struct sfu *s, struct sfu_stats *out) {
  *out = s->stats;
  const struct udp_stats *u = udp_get_stats(s->udp);
  out->dropped[SFU_DROP_SEND_BUFFER] = u->tx_dropped;
  out->udp_rx_packets = u->rx_packets;
  out->udp_rx_bytes = u->rx_bytes;
  out->udp_rx_reads = u->rx_reads;
  out->udp_tx_packets = u->tx_packets;
  out->udp_tx_bytes = u->tx_bytes;
  out->udp_tx_sends = u->tx_sends;
  sfu_share_stats(s, out);
}

const char *sfu_drop_name(enum sfu_drop why) {
  static const char *const names[SFU_DROPS] = {"unknown_peer", "not_media",   "srtp",
                                               "unusable",     "send_buffer", "seq_jump"};
  return why < SFU_DROPS ? names[why] : "?";
}
