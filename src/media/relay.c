/* Relay between nodes (docs/media.md, "Relay between nodes"). A room's
 * origin sends one copy of its publisher's media to each edge that pulls
 * it, over SRTP between the two nodes' media ports; the edge's room takes
 * it through a relay-in publisher, a peer with neither ICE nor DTLS whose
 * packets then go the way a browser publisher's do (sfu_fwd.c).
 *
 * Both ends key a link from the application's key material (HKDF-SHA256,
 * a master key and salt per direction, AEAD_AES_128_GCM) and find a
 * datagram's link by the other node's address and an SSRC of the link: RTP
 * by its SSRC, RTCP by its first packet's sender SSRC. The origin chooses
 * every SSRC of a link and tells them in the description (relay_desc.h). */
#include <assert.h>
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/relay_desc.h"
#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/sfu_int.h"
#include "util/be.h"
#include "util/log.h"

_Static_assert(RELAY_TRACKS == SFU_TRACKS && RELAY_LAYERS == SFU_LAYERS,
               "a description's tracks are a room's");

#define LINK_CNAME "onair"
#define LINK_CNAME_LEN 5
#define LINK_KEY_LEN 16  /* AES-128 */
#define LINK_SALT_LEN 12 /* AEAD_AES_128_GCM's master salt */
#define LINK_INFO_DOWN "onair relay: origin to edge"
#define LINK_INFO_UP "onair relay: edge to origin"

/* ---- keys and addresses --------------------------------------------------- */

/* HKDF-SHA256 (RFC 5869) of the link's key material, salted with its id:
 * a master key and salt for the direction info names. */
static int link_hkdf(const struct sfu_link_params *lp, const char *info,
                     uint8_t out[LINK_KEY_LEN + LINK_SALT_LEN]) {
  char digest[] = "SHA256";
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
  EVP_KDF_CTX *c = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
  OSSL_PARAM ps[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)lp->key, sizeof(lp->key)),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)lp->id, sizeof(lp->id)),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info)),
      OSSL_PARAM_construct_end(),
  };
  int rc = c && EVP_KDF_derive(c, out, LINK_KEY_LEN + LINK_SALT_LEN, ps) == 1 ? 0 : -EIO;
  EVP_KDF_CTX_free(c);
  EVP_KDF_free(kdf);
  return rc;
}

/* This end's SRTP for the link: the origin sends down and receives up,
 * the edge the other way round. NULL on failure. */
static struct srtpctx *link_srtp(const struct sfu_link_params *lp, int origin) {
  uint8_t down[LINK_KEY_LEN + LINK_SALT_LEN], up[LINK_KEY_LEN + LINK_SALT_LEN];
  struct dtls_srtp_keys k = {
      .profile = DTLS_SRTP_AEAD_AES_128_GCM, .key_len = LINK_KEY_LEN, .salt_len = LINK_SALT_LEN};
  struct srtpctx *ctx = NULL;
  if (link_hkdf(lp, LINK_INFO_DOWN, down) == 0 && link_hkdf(lp, LINK_INFO_UP, up) == 0) {
    const uint8_t *send = origin ? down : up, *recv = origin ? up : down;
    memcpy(k.local_key, send, LINK_KEY_LEN);
    memcpy(k.local_salt, send + LINK_KEY_LEN, LINK_SALT_LEN);
    memcpy(k.remote_key, recv, LINK_KEY_LEN);
    memcpy(k.remote_salt, recv + LINK_KEY_LEN, LINK_SALT_LEN);
    ctx = srtpctx_new(&k);
  }
  OPENSSL_cleanse(down, sizeof(down));
  OPENSSL_cleanse(up, sizeof(up));
  OPENSSL_cleanse(&k, sizeof(k));
  return ctx;
}

/* The other node's address as the media socket sends to it and sees it:
 * an IPv4 one v4-mapped on an IPv6 socket (bound to ::). */
static int link_addr(struct sfu_link *l, const struct sfu_link_params *lp) {
  int family = udp_local_family(l->sfu->udp);
  struct sockaddr_in in4;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&l->addr;
  memset(&l->addr, 0, sizeof(l->addr));
  if (lp->addr == NULL || lp->port < 1 || lp->port > 65535)
    return -EINVAL;
  if (uv_ip4_addr(lp->addr, lp->port, &in4) == 0 && family == AF_INET) {
    memcpy(&l->addr, &in4, sizeof(in4));
    l->addr_len = sizeof(in4);
  } else if (uv_ip4_addr(lp->addr, lp->port, &in4) == 0 && family == AF_INET6) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = in4.sin_port;
    in6->sin6_addr.s6_addr[10] = in6->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&in6->sin6_addr.s6_addr[12], &in4.sin_addr, 4);
    l->addr_len = sizeof(*in6);
  } else if (family == AF_INET6 && uv_ip6_addr(lp->addr, lp->port, in6) == 0) {
    l->addr_len = sizeof(*in6);
  } else {
    return -EINVAL;
  }
  l->addr_key_len = sfu_addr_key((const struct sockaddr *)&l->addr, l->addr_key);
  return l->addr_key_len ? 0 : -EINVAL;
}

/* ---- the map of links ------------------------------------------------------ */

static size_t link_key(const struct sfu_link *l, uint32_t ssrc, char key[SFU_LINK_KEY_MAX]) {
  memcpy(key, l->addr_key, l->addr_key_len);
  be_wr32((uint8_t *)key + l->addr_key_len, ssrc);
  return l->addr_key_len + 4;
}

/* Every SSRC of l: its tracks', then the edge's. Returns how many. */
static size_t link_ssrcs(const struct sfu_link *l, uint32_t out[SFU_TRACKS + 1]) {
  size_t n = 0;
  for (int k = 0; k < SFU_TRACKS; k++) {
    if (l->ssrc[k])
      out[n++] = l->ssrc[k];
  }
  out[n++] = l->edge_ssrc;
  return n;
}

static void link_unmap(struct sfu_link *l) {
  uint32_t ssrcs[SFU_TRACKS + 1];
  char key[SFU_LINK_KEY_MAX];
  size_t n = link_ssrcs(l, ssrcs);
  for (size_t i = 0; l->mapped && i < n; i++) {
    size_t klen = link_key(l, ssrcs[i], key);
    if (map_get(&l->sfu->links, key, klen) == l)
      map_del(&l->sfu->links, key, klen);
  }
  l->mapped = 0;
}

/* Each SSRC of l under the other node's address: -EADDRINUSE when one is
 * another link's already (nothing mapped then), -ENOMEM. */
static int link_map(struct sfu_link *l) {
  uint32_t ssrcs[SFU_TRACKS + 1];
  char key[SFU_LINK_KEY_MAX];
  size_t n = link_ssrcs(l, ssrcs), i;
  int rc = 0;
  for (i = 0; i < n && rc == 0; i++) {
    size_t klen = link_key(l, ssrcs[i], key);
    rc = map_get(&l->sfu->links, key, klen)          ? -EADDRINUSE
         : map_put(&l->sfu->links, key, klen, l) < 0 ? -ENOMEM
                                                     : 0;
  }
  if (rc < 0)
    i--; /* the one that failed was not put */
  while (rc < 0 && i-- > 0)
    map_del(&l->sfu->links, key, link_key(l, ssrcs[i], key));
  l->mapped = rc == 0;
  return rc;
}

/* A new SSRC for l: neither 0, nor l's, nor one any link uses between the
 * two nodes. */
static uint32_t link_pick(const struct sfu_link *l) {
  char key[SFU_LINK_KEY_MAX];
  for (;;) {
    uint32_t x = randombytes_random();
    int taken = x == 0 || x == l->edge_ssrc || map_get(&l->sfu->links, key, link_key(l, x, key));
    for (int k = 0; k < SFU_TRACKS; k++)
      taken |= l->ssrc[k] == x;
    if (!taken)
      return x;
  }
}

/* ---- links ------------------------------------------------------------------ */

static void link_log(const struct sfu_link *l, const char *what, const char *why) {
  char id[2 * 8 + 1];
  for (int i = 0; i < 8; i++)
    snprintf(id + 2 * i, 3, "%02x", l->id[i]);
  log_ev(LOG_INFO, what, LOG_S("link", id), LOG_S("role", l->in ? "edge" : "origin"),
         LOG_S("why", why));
}

static struct sfu_link *link_new(struct sfu_room *r, const struct sfu_link_params *lp, int origin,
                                 int *rc, const char **why) {
  struct sfu_link *l = calloc(1, sizeof(*l));
  *why = "out of memory";
  *rc = -ENOMEM;
  if (l == NULL)
    return NULL;
  l->sfu = r->sfu;
  l->room = r;
  memcpy(l->id, lp->id, SFU_LINK_ID_LEN);
  l->heard_ms = uv_now(r->sfu->loop);
  if ((*rc = link_addr(l, lp)) < 0) {
    *why = "the link's address is not an address of the media socket's family";
  } else if ((l->srtp = link_srtp(lp, origin)) == NULL) {
    *rc = -EIO;
    *why = "the link's keys could not be made";
  } else {
    return l;
  }
  free(l);
  return NULL;
}

static void link_free(struct sfu_link *l) {
  assert(!l->mapped);
  srtpctx_free(l->srtp);
  free(l);
}

/* An RTCP packet built in the sfu's scratch, protected with this end's
 * SRTP of the link (a relay-in publisher's own on the edge), to the other
 * node. */
static void link_send_rtcp(struct sfu_link *l, size_t len) {
  struct sfu *s = l->sfu;
  struct srtpctx *srtp = l->in ? l->in->srtp : l->srtp;
  if (srtpctx_protect_rtcp(srtp, s->scratch, &len, sizeof(s->scratch)) == 0)
    udp_send(s->udp, s->scratch, len, (const struct sockaddr *)&l->addr, l->addr_len);
}

/* The SSRC this end's RTCP on l is sent from: the edge's, or the origin's
 * first track's. */
static uint32_t link_rtcp_ssrc(const struct sfu_link *l) {
  for (int k = 0; !l->in && k < SFU_TRACKS; k++) {
    if (l->ssrc[k])
      return l->ssrc[k];
  }
  return l->edge_ssrc;
}

/* A receiver report without blocks: the other end hears the link is
 * alive while no media or report goes (a paused publisher, an edge that
 * has taken nothing yet). */
static void link_keepalive(struct sfu_link *l) {
  struct sfu *s = l->sfu;
  int n = rtcp_build_compound_rr_sdes(s->scratch, sizeof(s->scratch), link_rtcp_ssrc(l), NULL,
                                      LINK_CNAME, LINK_CNAME_LEN);
  if (n > 0)
    link_send_rtcp(l, (size_t)n);
}

/* RR and BYE naming this end's SSRCs: the other end lets go now rather
 * than after consent_ms. */
static void link_bye(struct sfu_link *l) {
  struct sfu *s = l->sfu;
  uint32_t ssrcs[SFU_TRACKS + 1];
  size_t n = l->in ? 0 : link_ssrcs(l, ssrcs) - 1; /* the origin's: all but the edge's */
  if (l->in)
    ssrcs[n++] = l->edge_ssrc;
  int a = rtcp_build_rr(s->scratch, sizeof(s->scratch), link_rtcp_ssrc(l), NULL);
  int b = a > 0 ? rtcp_build_bye(s->scratch + a, sizeof(s->scratch) - (size_t)a, ssrcs, n) : -1;
  if (b > 0)
    link_send_rtcp(l, (size_t)(a + b));
}

/* The track whose link SSRC is ssrc, or -1. */
static int link_track(const struct sfu_link *l, uint32_t ssrc) {
  for (int k = 0; k < SFU_TRACKS; k++) {
    if (l->ssrc[k] && l->ssrc[k] == ssrc)
      return k;
  }
  return -1;
}

/* ---- the origin's side --------------------------------------------------- */

/* Origin: l leaves its room and is freed (the edge hears BYE if bye). */
static void link_end(struct sfu_link *l, int bye, const char *why) {
  struct sfu_room *r = l->room;
  struct sfu_link **pp = &r->links;
  while (*pp != l)
    pp = &(*pp)->next;
  *pp = l->next;
  if (bye)
    link_bye(l);
  link_unmap(l);
  r->layers_dirty = 1; /* the layers it wanted may not be wanted now */
  assert(r->sfu->stats.relay_links > 0);
  r->sfu->stats.relay_links--;
  link_log(l, "media relay ended", why);
  link_free(l);
}

/* One packet of track k (publisher's numbers seq, ts) to l's edge, in the
 * link's numbering and SSRC, protected in the send ring. */
static void link_rtp(struct sfu_link *l, int k, const uint8_t *data, size_t len, uint16_t seq,
                     uint32_t ts) {
  struct sfu *s = l->sfu;
  uint16_t oseq;
  uint32_t ots;
  if (len + SRTPCTX_MAX_TRAILER > UDP_SLOT_BYTES ||
      seqmap_out(&l->map[k], seq, ts, &oseq, &ots) < 0)
    return;
  uint8_t *slot = udp_slot(s->udp);
  size_t n = len;
  memcpy(slot, data, len);
  rtp_write_ssrc(slot, l->ssrc[k]);
  rtp_write_seq(slot, oseq);
  rtp_write_ts(slot, ots);
  if (srtpctx_protect_rtp(l->srtp, slot, &n, UDP_SLOT_BYTES) < 0)
    return; /* the slot is simply reused */
  udp_commit(s->udp, n, (const struct sockaddr *)&l->addr, l->addr_len);
  l->packets[k]++;
  l->octets[k] += (uint32_t)(len - RTP_HDR_MIN);
  s->stats.relay_out++;
  s->stats.relay_out_bytes += n;
}

/* Track k's first packet on l, or its first from a new source: a segment
 * of the link's numbering starts, going on from the last one sent (and
 * from its timestamp plus the time since), so the edge sees one stream
 * and the link never sends an SRTP index twice. */
static void link_segment(struct sfu_link *l, int k, const struct rtp_hdr *h, uint64_t now) {
  struct seqmap *m = &l->map[k];
  uint64_t clock = l->room->tracks[k].codec.clock;
  if (m->started && l->sent_ms[k]) {
    uint64_t gap = (now - l->sent_ms[k]) * clock / 1000;
    m->ts_gap = gap == 0 ? 1 : gap > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uint32_t)gap;
  }
  seqmap_start(m, h->seq, h->ts);
  l->restart[k] = 0;
}

void sfu_relay_out_rtp(struct sfu_room *r, int k, const uint8_t *data, size_t len,
                       const struct rtp_hdr *h) {
  uint64_t now = uv_now(r->sfu->loop);
  for (struct sfu_link *l = r->links; l; l = l->next) {
    if (!l->ssrc[k])
      continue; /* a track that was not active when the link began */
    if (!l->map[k].started || l->restart[k])
      link_segment(l, k, h, now);
    link_rtp(l, k, data, len, h->seq, h->ts);
    l->sent_ms[k] = now;
  }
}

void sfu_relay_out_restart(struct sfu_room *r, int k) {
  for (struct sfu_link *l = r->links; l; l = l->next)
    l->restart[k] = 1;
}

void sfu_relay_out_sr(struct sfu_room *r, int k, const struct rtcp_sr *sr) {
  struct sfu *s = r->sfu;
  for (struct sfu_link *l = r->links; l; l = l->next) {
    if (!l->ssrc[k] || !l->map[k].started || l->restart[k])
      continue;
    struct rtcp_sr o = {
        .ssrc = l->ssrc[k],
        .ntp = sr->ntp,
        .rtp_ts = sr->rtp_ts + l->map[k].ts_off,
        .packet_count = l->packets[k],
        .octet_count = l->octets[k],
    };
    int n =
        rtcp_build_compound_sr_sdes(s->scratch, sizeof(s->scratch), &o, LINK_CNAME, LINK_CNAME_LEN);
    if (n > 0)
      link_send_rtcp(l, (size_t)n);
  }
}

/* The edge lost packets on the link: each one still stored goes again,
 * with the number it had. */
static void link_nack(struct sfu_link *l, const struct rtcp_pkt *pkt) {
  struct rtcp_nack nack;
  uint16_t lost[FANOUT_NACK_MAX];
  int k;
  if (rtcp_parse_nack(pkt, &nack) < 0 || (k = link_track(l, nack.media_ssrc)) < 0 ||
      !l->map[k].started)
    return;
  const struct pktstore *store = l->room->tracks[k].store;
  size_t n = rtcp_nack_lost(&nack, lost, FANOUT_NACK_MAX);
  for (size_t i = 0; store && i < n; i++) {
    uint16_t in;
    const struct pkt *p;
    struct rtp_hdr h;
    if (seqmap_in_seq(&l->map[k], lost[i], &in) < 0 || (p = pktstore_get(store, in)) == NULL ||
        rtp_parse(p->data, p->len, &h) < 0)
      continue;
    link_rtp(l, k, p->data, p->len, in, h.ts);
    l->sfu->stats.relay_nack_resent++;
  }
}

/* The edge's PLI or FIR: a keyframe request to the publisher (at most
 * one a second per layer, however many edges and viewers ask). */
static void link_keyframe(struct sfu_link *l, const struct rtcp_pkt *pkt, uint64_t now) {
  uint32_t sender, media;
  struct rtcp_fir fir;
  int k = -1;
  if (pkt->count == RTCP_PSFB_PLI && rtcp_parse_pli(pkt, &sender, &media) == 0)
    k = link_track(l, media);
  else if (pkt->count == RTCP_PSFB_FIR && rtcp_parse_fir(pkt, &fir) == 0)
    k = link_track(l, fir.entries[0].ssrc);
  if (k >= SFU_VIDEO)
    sfu_fwd_request_keyframe(l->room, k, now);
}

/* Origin: RTCP from l's edge (its receiver reports keep l alive). */
static void link_rtcp(struct sfu_link *l, uint8_t *data, size_t len) {
  struct sfu *s = l->sfu;
  struct rtcp_iter it;
  struct rtcp_pkt pkt;
  if (!rtp_is_rtcp(data, len)) {
    s->stats.dropped[SFU_DROP_UNUSABLE]++; /* an edge sends no media */
    return;
  }
  if (srtpctx_unprotect_rtcp(l->srtp, data, &len) < 0) {
    s->stats.dropped[SFU_DROP_SRTP]++;
    return;
  }
  uint64_t now = uv_now(s->loop);
  l->heard_ms = now;
  rtcp_iter_init(&it, data, len);
  while (rtcp_next(&it, &pkt) > 0) {
    if (pkt.type == RTCP_RTPFB && pkt.count == RTCP_RTPFB_NACK) {
      link_nack(l, &pkt);
    } else if (pkt.type == RTCP_PSFB) {
      link_keyframe(l, &pkt, now);
    } else if (pkt.type == RTCP_BYE) {
      link_end(l, 0, "the edge let go");
      return;
    }
  }
}

/* What the edge needs to take l's media: r's tracks with l's SSRCs. */
static int link_describe(const struct sfu_link *l, char **desc) {
  const struct sfu_room *r = l->room;
  const struct sfu_link *in = r->publisher->link; /* an edge relaying on: its origin's ids */
  struct relay_desc d = {
      .edge_ssrc = l->edge_ssrc,
      .layers = r->tracks[SFU_VIDEO].active ? r->layers : 0,
      .rid_ext = in ? in->rid_ext : r->rid_ext,
      .twcc_ext = in ? in->twcc_ext : r->twcc_ext,
  };
  for (int k = 0; k < SFU_TRACKS; k++) {
    const struct sfu_track *t = &r->tracks[k];
    if (!t->active)
      continue;
    d.tracks[k].active = 1;
    d.tracks[k].codec = t->codec;
    d.tracks[k].ssrc = l->ssrc[k];
    snprintf(d.tracks[k].rid, sizeof(d.tracks[k].rid), "%s", t->rid);
  }
  return relay_desc_write(&d, desc) < 0 ? -ENOMEM : 0;
}

static struct sfu_link *link_find(const struct sfu_room *r, const uint8_t id[SFU_LINK_ID_LEN]) {
  for (struct sfu_link *l = r->links; l; l = l->next) {
    if (memcmp(l->id, id, SFU_LINK_ID_LEN) == 0)
      return l;
  }
  return NULL;
}

int sfu_relay_out(struct sfu_room *r, const struct sfu_link_params *lp, char **desc) {
  const char *why;
  int rc;
  *desc = NULL;
  if (!r->ready || r->publisher == NULL || r->publisher->state != PEER_CONNECTED)
    return -ENOTCONN;
  if (link_find(r, lp->id))
    return -EEXIST;
  struct sfu_link *l = link_new(r, lp, 1, &rc, &why);
  if (l == NULL)
    return rc;
  for (int k = 0; k < SFU_TRACKS; k++) {
    if (r->tracks[k].active) {
      l->ssrc[k] = link_pick(l);
      seqmap_init(&l->map[k], l->ssrc[k]);
    }
  }
  l->edge_ssrc = link_pick(l);
  if ((rc = link_describe(l, desc)) < 0 || (rc = link_map(l)) < 0) {
    free(*desc);
    *desc = NULL;
    link_free(l);
    return rc;
  }
  l->next = r->links;
  r->links = l;
  r->layers_dirty = 1; /* every layer is wanted now */
  r->sfu->stats.relay_links++;
  link_log(l, "media relay out", lp->addr);
  return 0;
}

int sfu_relay_out_end(struct sfu_room *r, const uint8_t id[16]) {
  struct sfu_link *l = link_find(r, id);
  if (l == NULL)
    return -ENOENT;
  link_end(l, 1, "ended");
  return 0;
}

void sfu_relay_out_end_all(struct sfu_room *r) {
  while (r->links)
    link_end(r->links, 1, "the room or its publisher went");
}

unsigned sfu_room_relays(const struct sfu_room *r) {
  unsigned n = 0;
  for (const struct sfu_link *l = r->links; l; l = l->next)
    n++;
  return n;
}

/* A keepalive when a third of the consent time (at most a second) has
 * passed since the last: at least two reach the other end in its consent
 * time, one lost is no matter. */
static void link_keepalive_due(struct sfu_link *l, uint64_t now) {
  uint64_t every = sfu_link_silence_ms(l->sfu) / 3;
  every = every < 100 ? 100 : every > 1000 ? 1000 : every;
  if (now - l->keepalive_ms >= every) {
    link_keepalive(l);
    l->keepalive_ms = now;
  }
}

void sfu_relay_tick(struct sfu_room *r, uint64_t now) {
  struct sfu_link *next;
  for (struct sfu_link *l = r->links; l; l = next) {
    next = l->next;
    if (now - l->heard_ms > sfu_link_silence_ms(r->sfu))
      link_end(l, 1, "the edge went silent");
    else
      link_keepalive_due(l, now);
  }
  if (r->publisher && r->publisher->link)
    link_keepalive_due(r->publisher->link, now);
}

/* ---- the edge's side ------------------------------------------------------ */

/* A jump of 2..SFU_RELAY_NACK_GAP ahead of the highest sequence number
 * taken on a track: the ones between are NACKed on the link, once each
 * (the origin resends them from its store; whatever comes later than the
 * highest is not asked for again). */
static void link_gap(struct sfu_link *l, const uint8_t *data) {
  struct sfu *s = l->sfu;
  uint32_t ssrc = be_rd32(data + 8);
  uint16_t seq = be_rd16(data + 2), lost[SFU_RELAY_NACK_GAP];
  int k = link_track(l, ssrc);
  if (k < 0)
    return;
  uint16_t d = (uint16_t)(seq - l->high[k]), high = l->high[k];
  if (l->high_set[k] && (d == 0 || d >= 0x8000))
    return; /* a repeat, or a late one (a resend) */
  int first = !l->high_set[k];
  l->high[k] = seq;
  l->high_set[k] = 1;
  if (first || d < 2 || d > SFU_RELAY_NACK_GAP)
    return;
  size_t n = 0;
  for (uint16_t q = (uint16_t)(high + 1); q != seq; q++)
    lost[n++] = q;
  int len = rtcp_build_nack(s->scratch, sizeof(s->scratch), l->edge_ssrc, ssrc, lost, n);
  if (len > 0)
    link_send_rtcp(l, (size_t)len);
}

/* Edge: an SRTP packet from the origin, taken as a browser publisher's
 * (sfu_fwd_srtp); then its gap, if it left one. */
static void relay_in_rtp(struct sfu_link *l, uint8_t *data, size_t len) {
  struct sfu *s = l->sfu;
  size_t taken = sfu_fwd_srtp(l->in, data, len); /* l->in stays: RTP closes nothing */
  if (taken == 0)
    return;
  s->stats.relay_in++;
  s->stats.relay_in_bytes += taken;
  link_gap(l, data);
}

int sfu_relay_datagram(struct sfu *s, const char *akey, size_t alen, uint8_t *data, size_t len) {
  char key[SFU_LINK_KEY_MAX];
  if (len < RTP_HDR_MIN || data[0] < 128 || data[0] > 191 || alen + 4 > sizeof(key))
    return 0;
  int rtcp = rtp_is_rtcp(data, len);
  memcpy(key, akey, alen);
  memcpy(key + alen, data + (rtcp ? 4 : 8), 4); /* RTCP's sender SSRC, RTP's SSRC */
  struct sfu_link *l = map_get(&s->links, key, alen + 4);
  if (l == NULL)
    return 0;
  if (l->in == NULL)
    link_rtcp(l, data, len);
  else if (rtcp)
    sfu_fwd_srtp(l->in, data, len); /* sender reports, BYE */
  else
    relay_in_rtp(l, data, len);
  return 1;
}

/* Edge: r's tracks are the description's, their SSRCs known from the
 * start (the link's); layers are told by SSRC alone, and no
 * transport-wide feedback goes on a link. */
static int in_tracks(struct sfu_room *r, const struct relay_desc *d) {
  const char *rids[SFU_LAYERS];
  for (int i = 0; i < d->layers; i++)
    rids[i] = d->tracks[SFU_VIDEO + i].rid;
  int rc = sfu_room_tracks(r, d->tracks[SFU_AUDIO].active ? &d->tracks[SFU_AUDIO].codec : NULL,
                           d->layers ? &d->tracks[SFU_VIDEO].codec : NULL, rids,
                           d->layers > 1 ? d->layers : 0);
  if (rc < 0)
    return rc;
  r->rid_ext = 0;
  r->twcc_ext = 0;
  for (int k = 0; k < SFU_TRACKS; k++) {
    r->tracks[k].ssrc = d->tracks[k].ssrc;
    r->tracks[k].ssrc_known = d->tracks[k].active;
    if (d->tracks[k].active) /* a new source, told before its first packet */
      sfu_fwd_restart(r, k, uv_now(r->sfu->loop));
  }
  return 0;
}

/* Edge: l's SSRCs and extension ids from the description. */
static void in_take(struct sfu_link *l, const struct relay_desc *d) {
  for (int k = 0; k < SFU_TRACKS; k++)
    l->ssrc[k] = d->tracks[k].active ? d->tracks[k].ssrc : 0;
  l->edge_ssrc = d->edge_ssrc;
  l->rid_ext = d->rid_ext;
  l->twcc_ext = d->twcc_ext;
}

/* Edge: p is the relay-in publisher of l, sending to the origin. */
static void in_bind(struct sfu_peer *p, struct sfu_link *l) {
  p->link = l;
  l->in = p;
  p->srtp = l->srtp;
  l->srtp = NULL;
  p->rtcp_ssrc = l->edge_ssrc;
  memcpy(&p->addr, &l->addr, l->addr_len);
  p->addr_len = l->addr_len;
  memcpy(p->addr_key, l->addr_key, l->addr_key_len);
  p->addr_key_len = l->addr_key_len;
  p->last_srtp_ms = uv_now(p->sfu->loop);
}

int sfu_relay_in(struct sfu_room *r, struct sfu_owner *owner, const struct sfu_link_params *lp,
                 const char *desc, size_t desc_len, const char **why) {
  struct relay_desc d;
  int rc;
  if (r->publisher) {
    *why = "the room has a publisher";
    return -EEXIST;
  }
  if (relay_desc_parse(desc, desc_len, &d, why) < 0)
    return -EINVAL;
  struct sfu_link *l = link_new(r, lp, 0, &rc, why);
  if (l == NULL)
    return rc;
  in_take(l, &d);
  if ((rc = link_map(l)) < 0) {
    *why = rc == -EADDRINUSE ? "an SSRC of the description is in use between the two nodes"
                             : "out of memory";
    link_free(l);
    return rc;
  }
  struct sfu_peer *p = sfu_peer_new(r, owner, 1, NULL);
  if (p == NULL) {
    link_unmap(l);
    link_free(l);
    *why = "out of memory";
    return -ENOMEM;
  }
  in_bind(p, l);
  if ((rc = in_tracks(r, &d)) < 0) {
    sfu_peer_free(p); /* the origin hears BYE */
    *why = "out of memory";
    return rc;
  }
  r->publisher = p;
  link_log(l, "media relay in", lp->addr);
  sfu_peer_connected(p);
  return 0;
}

void sfu_relay_in_bye(struct sfu_peer *pub) {
  pub->link->bye_heard = 1;
  sfu_peer_fail(pub, "the origin ended the relay");
}

void sfu_relay_in_close(struct sfu_peer *p) {
  struct sfu_link *l = p->link;
  if (!l->mapped)
    return;
  if (!l->bye_heard)
    link_bye(l);
  link_unmap(l);
}

void sfu_relay_in_free(struct sfu_peer *p) {
  link_free(p->link);
  p->link = NULL;
}
