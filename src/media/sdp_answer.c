/* SDP offers checked and answered (docs/media.md). Parsing is sdp.c's. */
#include "media/sdp.h"
#include "media/sdp_int.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static sdp_mline_msgs why_no_mid = SDP_PER_MLINE("has no mid");
static sdp_mline_msgs why_no_ufrag = SDP_PER_MLINE("has no ice-ufrag");
static sdp_mline_msgs why_no_pwd = SDP_PER_MLINE("has no ice-pwd");
static sdp_mline_msgs why_no_fp = SDP_PER_MLINE("has no fingerprint");
static sdp_mline_msgs why_fp_alg = SDP_PER_MLINE("has no sha-256 fingerprint");
static sdp_mline_msgs why_no_setup = SDP_PER_MLINE("has no a=setup");
static sdp_mline_msgs why_setup = SDP_PER_MLINE("has a=setup other than actpass or active");
static sdp_mline_msgs why_no_mux = SDP_PER_MLINE("has no a=rtcp-mux");

/* ---- checking an offer ---- */

static const struct sdp_media *sdp_media_by_mid(const struct sdp *s, const char *mid) {
  size_t i;

  for (i = 0; i < s->n_media; i++)
    if (strcmp(s->media[i].mid, mid) == 0)
      return &s->media[i];
  return NULL;
}

static int sdp_in_bundle(const struct sdp *s, const char *mid) {
  size_t i;

  for (i = 0; i < s->n_bundle; i++)
    if (strcmp(s->bundle[i], mid) == 0)
      return 1;
  return 0;
}

/* The transport of a bundled m-line that is neither rejected nor
 * bundle-only (which shares the BUNDLE tag's). */
static const char *sdp_check_transport(const struct sdp_media *m, size_t i) {
  const struct sdp_transport *t = &m->transport;

  if (t->ufrag[0] == '\0')
    return why_no_ufrag[i];
  if (t->pwd[0] == '\0')
    return why_no_pwd[i];
  if (t->fp.alg[0] == '\0')
    return why_no_fp[i];
  if (strcmp(t->fp.alg, "sha-256") != 0)
    return why_fp_alg[i];
  if (t->setup == SDP_SETUP_NONE)
    return why_no_setup[i];
  if (t->setup != SDP_SETUP_ACTPASS && t->setup != SDP_SETUP_ACTIVE)
    return why_setup[i];
  return NULL;
}

int sdp_check_offer(const struct sdp *s, const char **why) {
  size_t i, j;

  *why = NULL;
  if (s->bundle_groups == 0)
    *why = "no BUNDLE group";
  else if (s->bundle_groups > 1)
    *why = "more than one BUNDLE group";
  else if (s->n_bundle == 0)
    *why = "the BUNDLE group names no mid";
  for (i = 0; *why == NULL && i < s->n_bundle; i++) {
    if (sdp_media_by_mid(s, s->bundle[i]) == NULL)
      *why = "the BUNDLE group names a mid no m-line has";
    for (j = 0; j < i; j++)
      if (strcmp(s->bundle[j], s->bundle[i]) == 0)
        *why = "the BUNDLE group names a mid twice";
  }
  for (i = 0; *why == NULL && i < s->n_media; i++) {
    const struct sdp_media *m = &s->media[i];

    if (m->mid[0] == '\0') {
      *why = why_no_mid[i];
      break;
    }
    for (j = 0; j < i; j++)
      if (strcmp(s->media[j].mid, m->mid) == 0)
        *why = "two m-lines have the same mid";
    if (*why != NULL || !sdp_in_bundle(s, m->mid) || (m->port == 0 && !m->bundle_only))
      continue;
    if (!m->bundle_only)
      *why = sdp_check_transport(m, i);
    if (*why == NULL && m->rtp && !m->rtcp_mux)
      *why = why_no_mux[i];
  }
  if (*why == NULL && (sdp_bundle_media(s)->port == 0 || sdp_bundle_media(s)->bundle_only))
    *why = "the first m-line of the BUNDLE group is rejected or bundle-only";
  return *why ? -EINVAL : 0;
}

const struct sdp_media *sdp_bundle_media(const struct sdp *s) {
  return s->n_bundle ? sdp_media_by_mid(s, s->bundle[0]) : NULL;
}

int sdp_fingerprint_text(const struct sdp_fingerprint *fp, char *out, size_t cap) {
  int n;

  if (fp->alg[0] == '\0')
    return -EINVAL;
  n = snprintf(out, cap, "%s %s", fp->alg, fp->value);
  return n < 0 || (size_t)n >= cap ? -ENOBUFS : n;
}

/* ---- choosing codecs ---- */

const struct sdp_codec *sdp_codec_by_pt(const struct sdp_media *m, int pt) {
  size_t i;

  for (i = 0; i < m->n_codecs; i++)
    if (m->codecs[i].pt == pt)
      return &m->codecs[i];
  return NULL;
}

enum sdp_h264_profile {
  H264_OTHER,
  H264_CB,
  H264_B,
  H264_MAIN,
  H264_CHIGH,
  H264_HIGH,
  H264_HIGH444
};

/* profile_idc and the profile-iop bits that tell the profile apart, as
 * WebRTC classifies them (RFC 6184 8.1, H.264 A.2). */
static enum sdp_h264_profile sdp_h264_profile(uint32_t plid) {
  static const struct {
    uint8_t idc, mask, value;
    enum sdp_h264_profile profile;
  } pat[] = {
      {0x42, 0x4F, 0x40, H264_CB},      {0x4D, 0x8F, 0x80, H264_CB},
      {0x58, 0xCF, 0xC0, H264_CB},      {0x42, 0x4F, 0x00, H264_B},
      {0x58, 0xCF, 0x80, H264_B},       {0x4D, 0xAF, 0x00, H264_MAIN},
      {0x64, 0xFF, 0x00, H264_HIGH},    {0x64, 0xFF, 0x0C, H264_CHIGH},
      {0xF4, 0xFF, 0x00, H264_HIGH444},
  };
  uint8_t idc = (uint8_t)(plid >> 16), iop = (uint8_t)(plid >> 8);
  size_t i;

  for (i = 0; i < sizeof(pat) / sizeof(pat[0]); i++)
    if (pat[i].idc == idc && (iop & pat[i].mask) == pat[i].value)
      return pat[i].profile;
  return H264_OTHER;
}

/* Twice the level, so that level 1b (between 1 and 1.1) is 21. */
static unsigned sdp_h264_level(uint32_t plid) {
  unsigned level = plid & 0xFF, iop = (plid >> 8) & 0xFF;
  enum sdp_h264_profile prof = sdp_h264_profile(plid);

  if (level == 9 ||
      (level == 11 && (iop & 0x10) && (prof == H264_CB || prof == H264_B || prof == H264_MAIN)))
    return 21;
  return level * 2;
}

/* Can a decoder of profile recv take a stream of profile send? */
static int sdp_h264_decodes(enum sdp_h264_profile recv, enum sdp_h264_profile send) {
  static const unsigned decoders[] = {
      [H264_OTHER] = 0,
      [H264_CB] = 1u << H264_CB | 1u << H264_B | 1u << H264_MAIN | 1u << H264_CHIGH |
                  1u << H264_HIGH | 1u << H264_HIGH444,
      [H264_B] = 1u << H264_B,
      [H264_MAIN] = 1u << H264_MAIN | 1u << H264_HIGH | 1u << H264_HIGH444,
      [H264_CHIGH] = 1u << H264_CHIGH | 1u << H264_HIGH | 1u << H264_HIGH444,
      [H264_HIGH] = 1u << H264_HIGH | 1u << H264_HIGH444,
      [H264_HIGH444] = 1u << H264_HIGH444,
  };
  return (decoders[send] >> recv) & 1;
}

static int sdp_is(const struct sdp_codec *c, const char *name, uint32_t clock, unsigned ch) {
  return strcasecmp(c->name, name) == 0 && c->clock == clock && c->channels == ch;
}

/* What a publisher's H.264 profile is worth to its viewers, best first:
 * Constrained Baseline every browser decodes; Main and High (OBS's x264,
 * B-frames possible) Chromium and Safari do, Firefox's OpenH264 not;
 * 4:4:4 no browser. -1: not taken. */
static int sdp_h264_rank(enum sdp_h264_profile prof) {
  switch (prof) {
  case H264_CB: return 0;
  case H264_B: return 1;
  case H264_MAIN: return 2;
  case H264_CHIGH: return 3;
  case H264_HIGH: return 4;
  default: return -1;
  }
}

const struct sdp_codec *sdp_pick_publisher(const struct sdp_media *m) {
  const struct sdp_codec *best = NULL;
  int best_rank = 99;
  size_t i;

  for (i = 0; i < m->n_codecs; i++) {
    const struct sdp_codec *c = &m->codecs[i];
    enum sdp_h264_profile prof = sdp_h264_profile(c->profile_level_id);

    if (m->kind == SDP_KIND_AUDIO && sdp_is(c, "opus", 48000, 2))
      return c;
    if (m->kind != SDP_KIND_VIDEO)
      continue;
    if (sdp_is(c, "VP8", 90000, 1))
      return c;
    if (!sdp_is(c, "H264", 90000, 1) || c->packetization_mode != 1)
      continue;
    int rank = sdp_h264_rank(prof);
    if (rank < 0)
      continue;
    /* The best profile; among Constrained Baselines, 42e01f (what browsers
     * offer first). */
    if (rank < best_rank ||
        (rank == 0 && c->profile_level_id == 0x42e01f && best->profile_level_id != 0x42e01f)) {
      best = c;
      best_rank = rank;
    }
  }
  return best;
}

const struct sdp_codec *sdp_pick_match(const struct sdp_media *m, const struct sdp_codec *send) {
  enum sdp_h264_profile sprof = sdp_h264_profile(send->profile_level_id);
  const struct sdp_codec *fallback = NULL;
  size_t i;

  for (i = 0; i < m->n_codecs; i++) {
    const struct sdp_codec *c = &m->codecs[i];
    enum sdp_h264_profile rprof = sdp_h264_profile(c->profile_level_id);

    if (!sdp_is(c, send->name, send->clock, send->channels))
      continue;
    if (strcasecmp(send->name, "H264") != 0)
      return c;
    if (c->packetization_mode != send->packetization_mode || !sdp_h264_decodes(rprof, sprof) ||
        sdp_h264_level(c->profile_level_id) < sdp_h264_level(send->profile_level_id))
      continue;
    if (rprof == sprof)
      return c;
    if (fallback == NULL)
      fallback = c;
  }
  return fallback;
}

/* ---- header extensions and simulcast ---- */

static const char *const sdp_ext_uris[SDP_EXTS] = {
    [SDP_EXT_MID] = "urn:ietf:params:rtp-hdrext:sdes:mid",
    [SDP_EXT_RID] = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    [SDP_EXT_RRID] = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
    [SDP_EXT_TWCC] = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
};

int sdp_ext_id(const struct sdp_media *m, enum sdp_ext e) {
  for (size_t i = 0; i < m->n_extmaps; i++) {
    if (strcmp(m->extmaps[i].uri, sdp_ext_uris[e]) == 0 && m->extmaps[i].dir != SDP_EXTMAP_INACTIVE)
      return m->extmaps[i].id;
  }
  return 0;
}

static const struct sdp_rid *sdp_rid_find(const struct sdp_media *m, const char *id) {
  for (size_t i = 0; i < m->n_rids; i++) {
    if (strcmp(m->rids[i].id, id) == 0)
      return &m->rids[i];
  }
  return NULL;
}

size_t sdp_simulcast_rids(const struct sdp_media *m, const char **rids, size_t max) {
  size_t n = 0;
  if (!m->simulcast_send || m->kind != SDP_KIND_VIDEO)
    return 0;
  for (size_t i = 0; i < m->n_simulcast && n < max; i++) {
    const struct sdp_rid *r = sdp_rid_find(m, m->simulcast[i]);
    if (r && r->send)
      rids[n++] = r->id;
  }
  return n;
}

/* ---- writing the answer ---- */

/* The answer being written: out of room once `full` is set. */
struct sdp_out {
  char *buf;
  size_t cap, len;
  int full;
};

__attribute__((format(printf, 2, 3))) static void sdp_put(struct sdp_out *o, const char *fmt, ...) {
  va_list ap;
  int n;

  if (o->full)
    return;
  va_start(ap, fmt);
  n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= o->cap - o->len) {
    o->full = 1;
    o->buf[o->len] = '\0';
    return;
  }
  o->len += (size_t)n;
}

/* What the answer does with one offered m-line. */
struct sdp_plan {
  const struct sdp_codec *codec; /* the offer's codec we take; NULL: rejected */
  const struct sdp_send *send;   /* viewer: what we send on it */
  enum sdp_direction dir;
};

static const char *const sdp_dir_names[] = {"sendrecv", "sendonly", "recvonly", "inactive"};

/* Chooses a codec, or rejection, for each m-line. */
static int sdp_plan_answer(const struct sdp *s, const struct sdp_answer_params *p,
                           struct sdp_plan *plan, const char **why) {
  unsigned taken = 0;
  size_t i, accepted = 0;

  for (i = 0; i < s->n_media; i++) {
    const struct sdp_media *m = &s->media[i];
    const struct sdp_send *send = m->kind == SDP_KIND_AUDIO ? &p->audio : &p->video;
    int offer_sends = m->direction == SDP_DIR_SENDRECV || m->direction == SDP_DIR_SENDONLY;
    int offer_recvs = m->direction == SDP_DIR_SENDRECV || m->direction == SDP_DIR_RECVONLY;

    memset(&plan[i], 0, sizeof(plan[i]));
    if (!m->rtp || strstr(m->proto, "SAVP") == NULL || /* DTLS-SRTP only */
        (m->kind != SDP_KIND_AUDIO && m->kind != SDP_KIND_VIDEO) || !sdp_in_bundle(s, m->mid) ||
        (m->port == 0 && !m->bundle_only) || (taken & (1u << m->kind)))
      continue;
    if (p->role == SDP_ROLE_PUBLISHER) {
      plan[i].codec = sdp_pick_publisher(m);
      plan[i].dir = offer_sends ? SDP_DIR_RECVONLY : SDP_DIR_INACTIVE;
    } else if (send->codec != NULL) {
      plan[i].codec = sdp_pick_match(m, send->codec);
      plan[i].send = send;
      plan[i].dir = offer_recvs ? SDP_DIR_SENDONLY : SDP_DIR_INACTIVE;
      if (plan[i].codec == NULL) {
        *why = m->kind == SDP_KIND_AUDIO
                   ? "the viewer offers no codec matching the broadcaster's audio"
                   : "the viewer offers no codec matching the broadcaster's video";
        return -ENOENT;
      }
    }
    if (plan[i].codec != NULL) {
      taken |= 1u << m->kind;
      accepted++;
    }
  }
  if (accepted > 0)
    return 0;
  *why = p->role == SDP_ROLE_PUBLISHER
             ? "no m-line offers a codec onair receives (VP8, H.264 or Opus)"
             : "no m-line can carry what the broadcaster sends";
  return -ENOENT;
}

static int sdp_visible(const char *s, size_t max) {
  size_t n;

  if (s == NULL || s[0] == '\0')
    return 0;
  for (n = 0; s[n] != '\0'; n++)
    if (n == max || s[n] <= 0x20 || s[n] >= 0x7f)
      return 0;
  return 1;
}

static int sdp_check_send(const struct sdp_send *t) {
  if (t->codec == NULL)
    return 0;
  return t->ssrc == 0 || t->rtx_ssrc == t->ssrc || !sdp_is_msid(t->msid) ||
                 !sdp_is_token(t->codec->name) || t->codec->clock == 0
             ? -1
             : 0;
}

/* Our side's parameters; *ip6 tells the address family. */
static int sdp_check_params(const struct sdp_answer_params *p, int *ip6, const char **why) {
  char fp[SDP_FP_ALG_MAX + SDP_FP_MAX], *sp;
  unsigned char a[16];

  *why = NULL;
  if (p->role != SDP_ROLE_PUBLISHER && p->role != SDP_ROLE_VIEWER)
    *why = "bad role";
  else if (!sdp_is_ice(p->ice_ufrag, 4, 256) || !sdp_is_ice(p->ice_pwd, 22, 256))
    *why = "our ice-ufrag or ice-pwd is malformed";
  else if (p->fingerprint == NULL || sdp_store(fp, sizeof(fp), p->fingerprint) < 0 ||
           (sp = strchr(fp, ' ')) == NULL || (*sp = '\0', !sdp_is_token(fp)) ||
           strlen(fp) >= SDP_FP_ALG_MAX || !sdp_is_fp_value(sp + 1))
    *why = "our fingerprint is not \"<alg> AB:CD:...\"";
  else if (p->addr == NULL || p->port == 0)
    *why = "our address or port is missing";
  else if (inet_pton(AF_INET, p->addr, a) == 1)
    *ip6 = 0;
  else if (inet_pton(AF_INET6, p->addr, a) == 1)
    *ip6 = 1;
  else
    *why = "our address is neither IPv4 nor IPv6";
  for (size_t i = 0; *why == NULL && i < p->nmore; i++) {
    if (p->nmore > SDP_MAX_MORE_ADDRS || (inet_pton(AF_INET, p->more_addrs[i], a) != 1 &&
                                          inet_pton(AF_INET6, p->more_addrs[i], a) != 1))
      *why = "one of our other addresses is neither IPv4 nor IPv6";
  }
  if (*why == NULL && p->session_id > INT64_MAX)
    *why = "session id above 2^63 - 1";
  if (*why == NULL && p->role == SDP_ROLE_VIEWER &&
      (!sdp_visible(p->cname, SDP_CNAME_MAX - 1) || sdp_check_send(&p->audio) < 0 ||
       sdp_check_send(&p->video) < 0))
    *why = "our cname, an ssrc, an msid or a codec to send is malformed";
  return *why ? -EINVAL : 0;
}

static void sdp_put_codec(struct sdp_out *o, const struct sdp_codec *c, int video) {
  static const struct {
    unsigned bit;
    const char *text;
  } fbs[] = {{SDP_FB_NACK, "nack"}, {SDP_FB_NACK_PLI, "nack pli"}, {SDP_FB_CCM_FIR, "ccm fir"}};
  size_t i;

  if (c->channels > 1)
    sdp_put(o, "a=rtpmap:%u %s/%u/%u\r\n", c->pt, c->name, (unsigned)c->clock, c->channels);
  else
    sdp_put(o, "a=rtpmap:%u %s/%u\r\n", c->pt, c->name, (unsigned)c->clock);
  for (i = 0; video && i < sizeof(fbs) / sizeof(fbs[0]); i++)
    if (c->fb & fbs[i].bit)
      sdp_put(o, "a=rtcp-fb:%u %s\r\n", c->pt, fbs[i].text);
  if (c->fmtp[0] != '\0')
    sdp_put(o, "a=fmtp:%u %s\r\n", c->pt, c->fmtp);
}

/* The header extensions p takes that m offers, rtcp-fb transport-cc with
 * the one of that name, and a publisher's simulcast layers. */
static void sdp_put_exts(struct sdp_out *o, const struct sdp_media *m,
                         const struct sdp_answer_params *p, const struct sdp_codec *c) {
  const char *rids[SDP_MAX_RIDS];
  size_t n = 0;
  for (int e = 0; e < SDP_EXTS; e++) {
    int id = sdp_ext_id(m, (enum sdp_ext)e);
    if ((p->exts & (1u << e)) && id > 0)
      sdp_put(o, "a=extmap:%d %s\r\n", id, sdp_ext_uris[e]);
  }
  if ((p->exts & (1u << SDP_EXT_TWCC)) && sdp_ext_id(m, SDP_EXT_TWCC) &&
      (c->fb & SDP_FB_TRANSPORT_CC))
    sdp_put(o, "a=rtcp-fb:%u transport-cc\r\n", c->pt);
  if (p->role == SDP_ROLE_PUBLISHER && (p->exts & (1u << SDP_EXT_RID)) &&
      sdp_ext_id(m, SDP_EXT_RID))
    n = sdp_simulcast_rids(m, rids, SDP_SIMULCAST_LAYERS);
  if (n < 2)
    return; /* one stream: no simulcast to answer */
  for (size_t i = 0; i < n; i++)
    sdp_put(o, "a=rid:%s recv\r\n", rids[i]);
  sdp_put(o, "a=simulcast:recv");
  for (size_t i = 0; i < n; i++)
    sdp_put(o, "%c%s", i ? ';' : ' ', rids[i]);
  sdp_put(o, "\r\n");
}

static void sdp_put_ssrc(struct sdp_out *o, uint32_t ssrc, const char *cname, const char *msid) {
  sdp_put(o, "a=ssrc:%u cname:%s\r\n", (unsigned)ssrc, cname);
  sdp_put(o, "a=ssrc:%u msid:%s\r\n", (unsigned)ssrc, msid);
}

static void sdp_put_media(struct sdp_out *o, const struct sdp_media *m,
                          const struct sdp_answer_params *p, const struct sdp_plan *pl, int ip6) {
  const struct sdp_codec *c = pl->codec, *rtx = NULL;
  int video = m->kind == SDP_KIND_VIDEO, sending = pl->send && pl->dir == SDP_DIR_SENDONLY;

  if (c == NULL) {
    sdp_put(o, "m=%s 0 %s %s\r\nc=IN IP4 0.0.0.0\r\na=mid:%s\r\n", m->type, m->proto, m->fmt0,
            m->mid);
    return;
  }
  if (video && c->rtx_pt >= 0 && (p->role == SDP_ROLE_PUBLISHER || (sending && pl->send->rtx_ssrc)))
    rtx = sdp_codec_by_pt(m, c->rtx_pt);
  sdp_put(o, "m=%s %u %s %u", m->type, p->port, m->proto, c->pt);
  if (rtx)
    sdp_put(o, " %u", rtx->pt);
  sdp_put(o, "\r\nc=IN %s %s\r\na=mid:%s\r\na=%s\r\n", ip6 ? "IP6" : "IP4", p->addr, m->mid,
          sdp_dir_names[pl->dir]);
  sdp_put(o, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:%s\r\na=setup:passive\r\n",
          p->ice_ufrag, p->ice_pwd, p->fingerprint);
  sdp_put(o, "a=rtcp-mux\r\n");
  sdp_put_codec(o, c, video);
  sdp_put_exts(o, m, p, c);
  if (rtx)
    sdp_put(o, "a=rtpmap:%u %s/%u\r\na=fmtp:%u apt=%u\r\n", rtx->pt, rtx->name,
            (unsigned)rtx->clock, rtx->pt, c->pt);
  if (sending) {
    if (rtx)
      sdp_put(o, "a=ssrc-group:FID %u %u\r\n", (unsigned)pl->send->ssrc,
              (unsigned)pl->send->rtx_ssrc);
    sdp_put_ssrc(o, pl->send->ssrc, p->cname, pl->send->msid);
    if (rtx)
      sdp_put_ssrc(o, pl->send->rtx_ssrc, p->cname, pl->send->msid);
    sdp_put(o, "a=msid:%s\r\n", pl->send->msid);
  }
  /* RFC 8445 5.1.2: host type preference 126, the local preference falling
   * with each address, component 1. */
  for (size_t i = 0; i <= p->nmore; i++) {
    unsigned long prio = 126ul << 24 | (65535ul - i) << 8 | 255ul;
    sdp_put(o, "a=candidate:%zu 1 udp %lu %s %u typ host\r\n", i + 1, prio,
            i ? p->more_addrs[i - 1] : p->addr, p->port);
  }
  /* ICE-TCP, passive, after every UDP candidate (RFC 6544 4.2: TCP less
   * preferred); port 9 would be an active candidate, ours are not. */
  for (size_t i = 0; p->tcp_port && i <= p->nmore; i++) {
    unsigned long prio = 126ul << 24 | (32767ul - i) << 8 | 255ul;
    sdp_put(o, "a=candidate:%zu 1 tcp %lu %s %u typ host tcptype passive\r\n", i + 10 + 1, prio,
            i ? p->more_addrs[i - 1] : p->addr, p->tcp_port);
  }
  sdp_put(o, "a=end-of-candidates\r\n");
}

int sdp_answer_pick(const struct sdp *offer, const struct sdp_answer_params *p, enum sdp_kind kind,
                    const struct sdp_media **m, const struct sdp_codec **c, const char **why) {
  struct sdp_plan plan[SDP_MAX_MEDIA];
  size_t i;
  int rc, ip6 = 0;

  *m = NULL;
  *c = NULL;
  rc = sdp_check_offer(offer, why);
  if (rc == 0)
    rc = sdp_check_params(p, &ip6, why);
  if (rc == 0)
    rc = sdp_plan_answer(offer, p, plan, why);
  for (i = 0; rc == 0 && i < offer->n_media; i++) {
    if (plan[i].codec != NULL && offer->media[i].kind == kind) {
      *m = &offer->media[i];
      *c = plan[i].codec;
    }
  }
  return rc;
}

int sdp_answer(const struct sdp *offer, const struct sdp_answer_params *p, char *out, size_t cap,
               const char **why) {
  struct sdp_plan plan[SDP_MAX_MEDIA];
  struct sdp_out o = {out, cap, 0, cap == 0};
  size_t i;
  int rc, ip6 = 0;

  rc = sdp_check_offer(offer, why);
  if (rc == 0)
    rc = sdp_check_params(p, &ip6, why);
  if (rc == 0)
    rc = sdp_plan_answer(offer, p, plan, why);
  if (rc < 0)
    return rc;
  sdp_put(&o, "v=0\r\no=- %llu 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=ice-lite\r\n",
          (unsigned long long)p->session_id);
  sdp_put(&o, "a=group:BUNDLE");
  for (i = 0; i < offer->n_media; i++)
    if (plan[i].codec)
      sdp_put(&o, " %s", offer->media[i].mid);
  sdp_put(&o, "\r\n");
  if (p->role == SDP_ROLE_VIEWER)
    sdp_put(&o, "a=msid-semantic: WMS *\r\n");
  for (i = 0; i < offer->n_media; i++)
    sdp_put_media(&o, &offer->media[i], p, &plan[i], ip6);
  if (o.full) {
    *why = "the answer does not fit the buffer";
    return -ENOBUFS;
  }
  assert(o.len < cap && o.len <= INT32_MAX);
  return (int)o.len;
}
