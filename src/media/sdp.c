/* SDP offers in, answers out (see sdp.h). The parser copies each line into
 * a NUL-terminated buffer on the stack, so no helper can read past the
 * caller's length, and cuts it into tokens in place. Attributes go through
 * a table of handlers; what an m-line implies as a whole (RTX links,
 * wildcard feedback, the codec limit) is settled when the m-line ends. */
#include "media/sdp.h"
#include "media/sdp_int.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static sdp_mline_msgs why_codecs = SDP_PER_MLINE("has more than 32 codecs");
static sdp_mline_msgs why_formats = SDP_PER_MLINE("lists more than 64 payload types");
static sdp_mline_msgs why_candidates = SDP_PER_MLINE("has more than 32 candidates");
static sdp_mline_msgs why_ssrcs = SDP_PER_MLINE("has more than 16 ssrcs");
static sdp_mline_msgs why_fids = SDP_PER_MLINE("has more than 8 ssrc-group:FID lines");
static sdp_mline_msgs why_extmaps = SDP_PER_MLINE("has more than 16 extmaps");
static sdp_mline_msgs why_rids = SDP_PER_MLINE("has more than 4 a=rid lines");
static sdp_mline_msgs why_simulcast = SDP_PER_MLINE("lists more than 4 simulcast streams");

/* ---- small string helpers (all on NUL-terminated copies) ---- */

/* The next space-separated token of *s, NUL-terminated in place; NULL at
 * the end. Runs of spaces or tabs count as one separator. */
static char *sdp_tok(char **s) {
  char *p = *s, *start;

  while (*p == ' ' || *p == '\t')
    p++;
  if (*p == '\0') {
    *s = p;
    return NULL;
  }
  start = p;
  while (*p != '\0' && *p != ' ' && *p != '\t')
    p++;
  if (*p != '\0')
    *p++ = '\0';
  *s = p;
  return start;
}

/* What is left of *s after leading spaces (may be empty). */
static char *sdp_rest(char **s) {
  while (**s == ' ' || **s == '\t')
    (*s)++;
  return *s;
}

/* A whole decimal token of 1..10 digits, no more than max. */
static int sdp_u32(const char *t, uint32_t max, uint32_t *out) {
  uint64_t v = 0;
  size_t i;

  if (t == NULL || t[0] == '\0')
    return -1;
  for (i = 0; t[i] != '\0'; i++) {
    if (i == 10 || t[i] < '0' || t[i] > '9')
      return -1;
    v = v * 10 + (uint64_t)(t[i] - '0');
  }
  if (v > max)
    return -1;
  *out = (uint32_t)v;
  return 0;
}

/* Copies src into a field of cap bytes; -1 if it does not fit. */
int sdp_store(char *dst, size_t cap, const char *src) {
  size_t n = strlen(src);

  if (n >= cap)
    return -1;
  memcpy(dst, src, n + 1);
  return 0;
}

/* RFC 8866 token-char. */
static int sdp_token_char(unsigned char c) {
  return c == 0x21 || (c >= 0x23 && c <= 0x27) || c == 0x2A || c == 0x2B || c == 0x2D ||
         c == 0x2E || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) ||
         (c >= 0x5E && c <= 0x7E);
}

int sdp_is_token(const char *s) {
  if (s == NULL || *s == '\0')
    return 0;
  for (; *s != '\0'; s++)
    if (!sdp_token_char((unsigned char)*s))
      return 0;
  return 1;
}

/* A token that may also hold '/' (proto "UDP/TLS/RTP/SAVPF"). */
static int sdp_is_proto(const char *s) {
  if (s == NULL || *s == '\0')
    return 0;
  for (; *s != '\0'; s++)
    if (!sdp_token_char((unsigned char)*s) && *s != '/')
      return 0;
  return 1;
}

/* RFC 8839 ice-char run of min..max chars. */
int sdp_is_ice(const char *s, size_t min, size_t max) {
  size_t n;

  if (s == NULL)
    return 0;
  for (n = 0; s[n] != '\0'; n++) {
    char c = s[n];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
          c == '/'))
      return 0;
  }
  return n >= min && n <= max;
}

static int sdp_hex(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* "AB:CD:..": 1..64 hex pairs separated by colons (RFC 8122). */
int sdp_is_fp_value(const char *s) {
  size_t n = strlen(s), i;

  if (n < 2 || n > 64 * 3 - 1 || n % 3 != 2)
    return 0;
  for (i = 0; i < n; i++) {
    if (i % 3 == 2 ? s[i] != ':' : sdp_hex(s[i]) < 0)
      return 0;
  }
  return 1;
}

/* "stream-id[ track-id]": one or two words of 1..64 visible ASCII chars.
 * RFC 8830 asks for token chars, but GStreamer's webrtcbin names its streams
 * "user<n>@host-<hex>"; onair only keeps an offer's msid, never sends it to
 * another peer, so any visible char will do. */
static int sdp_msid_char(unsigned char c) { return c > 0x20 && c < 0x7f; }

int sdp_is_msid(const char *s) {
  const char *sp;
  size_t a, b;

  if (s == NULL)
    return 0;
  sp = strchr(s, ' ');
  a = sp ? (size_t)(sp - s) : strlen(s);
  b = sp ? strlen(sp + 1) : 0;
  if (a == 0 || a > 64 || (sp && (b == 0 || b > 64)))
    return 0;
  for (size_t i = 0; s[i] != '\0'; i++)
    if (i != a && !sdp_msid_char((unsigned char)s[i]))
      return 0;
  return 1;
}

/* ---- the parser ---- */

struct sdp_parser {
  struct sdp *s;
  struct sdp_media *m;     /* the current m-line; NULL at session level */
  enum sdp_direction dir;  /* session-level direction */
  int m_dir_set;           /* the current m-line had a direction attribute */
  unsigned fb_all;         /* a=rtcp-fb:* of the current m-line */
  uint8_t rtpmap_seen[16]; /* bit per PT: the current m-line's rtpmaps */
  uint8_t fmtp_seen[16];   /* bit per PT: the current m-line's fmtps */
  const char *why;
};

static int sdp_fail(struct sdp_parser *p, const char *why) {
  p->why = why;
  return -EINVAL;
}

static size_t sdp_mindex(const struct sdp_parser *p) { return (size_t)(p->m - p->s->media); }

static struct sdp_transport *sdp_cur_transport(struct sdp_parser *p) {
  return p->m ? &p->m->transport : &p->s->transport;
}

static struct sdp_codec *sdp_codec_mut(struct sdp_media *m, uint32_t pt) {
  size_t i;

  for (i = 0; i < m->n_codecs; i++)
    if (m->codecs[i].pt == pt)
      return &m->codecs[i];
  return NULL;
}

/* A payload type of an a= line: 0..127, or NULL to ignore the line because
 * the m= line does not list it. *bad is set when the number is malformed. */
static struct sdp_codec *sdp_line_codec(struct sdp_parser *p, const char *t, int *bad) {
  uint32_t pt;

  *bad = sdp_u32(t, 127, &pt) < 0;
  return *bad ? NULL : sdp_codec_mut(p->m, pt);
}

static int attr_ufrag(struct sdp_parser *p, char *v) {
  struct sdp_transport *t = sdp_cur_transport(p);

  if (t->ufrag[0] != '\0')
    return sdp_fail(p, "two a=ice-ufrag at one level");
  if (!sdp_is_ice(v, 4, 256))
    return sdp_fail(p, "a=ice-ufrag is not 4 to 256 ice-chars");
  memcpy(t->ufrag, v, strlen(v) + 1);
  return 0;
}

static int attr_pwd(struct sdp_parser *p, char *v) {
  struct sdp_transport *t = sdp_cur_transport(p);

  if (t->pwd[0] != '\0')
    return sdp_fail(p, "two a=ice-pwd at one level");
  if (!sdp_is_ice(v, 22, 256))
    return sdp_fail(p, "a=ice-pwd is not 22 to 256 ice-chars");
  memcpy(t->pwd, v, strlen(v) + 1);
  return 0;
}

static int attr_ice_options(struct sdp_parser *p, char *v) {
  struct sdp_transport *t = sdp_cur_transport(p);

  if (sdp_store(t->options, sizeof(t->options), sdp_rest(&v)) < 0)
    return sdp_fail(p, "a=ice-options longer than 63 bytes");
  return 0;
}

/* Keeps one fingerprint per level: the first sha-256 one, else the first. */
static int attr_fingerprint(struct sdp_parser *p, char *v) {
  struct sdp_fingerprint *fp = &sdp_cur_transport(p)->fp;
  char *alg = sdp_tok(&v), *val = sdp_tok(&v);
  size_t i;

  if (alg == NULL || val == NULL || sdp_tok(&v) != NULL || !sdp_is_token(alg))
    return sdp_fail(p, "malformed a=fingerprint");
  if (strlen(alg) >= sizeof(fp->alg))
    return sdp_fail(p, "a=fingerprint algorithm name too long");
  if (!sdp_is_fp_value(val))
    return sdp_fail(p, "a=fingerprint value is not hex pairs with colons");
  for (i = 0; alg[i] != '\0'; i++)
    if (alg[i] >= 'A' && alg[i] <= 'Z')
      alg[i] = (char)(alg[i] - 'A' + 'a');
  if (fp->alg[0] != '\0' && (strcmp(fp->alg, "sha-256") == 0 || strcmp(alg, "sha-256") != 0))
    return 0;
  memcpy(fp->alg, alg, strlen(alg) + 1);
  memcpy(fp->value, val, strlen(val) + 1);
  return 0;
}

static int attr_setup(struct sdp_parser *p, char *v) {
  static const char *const names[] = {"", "actpass", "active", "passive", "holdconn"};
  struct sdp_transport *t = sdp_cur_transport(p);
  size_t i;

  for (i = 1; i < sizeof(names) / sizeof(names[0]); i++) {
    if (strcmp(v, names[i]) == 0) {
      t->setup = (enum sdp_setup)i;
      return 0;
    }
  }
  return sdp_fail(p, "a=setup is not actpass, active, passive or holdconn");
}

static int attr_ice_lite(struct sdp_parser *p, char *v) {
  p->s->ice_lite = 1;
  return 0;
}

static int attr_allow_mixed(struct sdp_parser *p, char *v) {
  if (p->m)
    p->m->extmap_allow_mixed = 1;
  else
    p->s->extmap_allow_mixed = 1;
  return 0;
}

/* a=group:BUNDLE mid...; other group semantics are ignored. */
static int attr_group(struct sdp_parser *p, char *v) {
  struct sdp *s = p->s;
  char *sem = sdp_tok(&v), *mid;

  if (sem == NULL || strcmp(sem, "BUNDLE") != 0)
    return 0;
  if (++s->bundle_groups > 1)
    return 0; /* sdp_check_offer() refuses it */
  while ((mid = sdp_tok(&v)) != NULL) {
    if (s->n_bundle == SDP_MAX_MEDIA)
      return sdp_fail(p, "BUNDLE group names more than 8 mids");
    if (!sdp_is_token(mid) || sdp_store(s->bundle[s->n_bundle], SDP_MID_MAX, mid) < 0)
      return sdp_fail(p, "BUNDLE group mid is not a token of up to 31 chars");
    s->n_bundle++;
  }
  return 0;
}

static int attr_direction(struct sdp_parser *p, enum sdp_direction d) {
  if (p->m == NULL) {
    p->dir = d;
    return 0;
  }
  if (p->m_dir_set)
    return sdp_fail(p, "two direction attributes in one m-line");
  p->m->direction = d;
  p->m_dir_set = 1;
  return 0;
}

static int attr_sendrecv(struct sdp_parser *p, char *v) {
  return attr_direction(p, SDP_DIR_SENDRECV);
}
static int attr_sendonly(struct sdp_parser *p, char *v) {
  return attr_direction(p, SDP_DIR_SENDONLY);
}
static int attr_recvonly(struct sdp_parser *p, char *v) {
  return attr_direction(p, SDP_DIR_RECVONLY);
}
static int attr_inactive(struct sdp_parser *p, char *v) {
  return attr_direction(p, SDP_DIR_INACTIVE);
}

static int attr_mid(struct sdp_parser *p, char *v) {
  if (p->m->mid[0] != '\0')
    return sdp_fail(p, "two a=mid in one m-line");
  if (!sdp_is_token(v) || sdp_store(p->m->mid, sizeof(p->m->mid), v) < 0)
    return sdp_fail(p, "a=mid is not a token of up to 31 chars");
  return 0;
}

static int attr_rtcp_mux(struct sdp_parser *p, char *v) {
  p->m->rtcp_mux = 1;
  return 0;
}
static int attr_rtcp_rsize(struct sdp_parser *p, char *v) {
  p->m->rtcp_rsize = 1;
  return 0;
}
static int attr_bundle_only(struct sdp_parser *p, char *v) {
  p->m->bundle_only = 1;
  return 0;
}
static int attr_end_of_candidates(struct sdp_parser *p, char *v) {
  p->m->end_of_candidates = 1;
  return 0;
}

/* a=rtpmap:<pt> <name>/<clock>[/<channels>] */
static int attr_rtpmap(struct sdp_parser *p, char *v) {
  char *pt = sdp_tok(&v), *enc = sdp_tok(&v), *name, *clock, *chans;
  struct sdp_codec *c;
  uint32_t hz, ch = 1;
  int bad;

  if (pt == NULL || enc == NULL || sdp_tok(&v) != NULL)
    return sdp_fail(p, "malformed a=rtpmap");
  c = sdp_line_codec(p, pt, &bad);
  if (bad)
    return sdp_fail(p, "a=rtpmap payload type is not 0 to 127");
  name = enc;
  clock = strchr(enc, '/');
  if (clock == NULL)
    return sdp_fail(p, "a=rtpmap has no clock rate");
  *clock++ = '\0';
  chans = strchr(clock, '/');
  if (chans)
    *chans++ = '\0';
  if (!sdp_is_token(name) || strlen(name) >= SDP_TOKEN_MAX)
    return sdp_fail(p, "a=rtpmap encoding name is not a token of up to 31 chars");
  if (sdp_u32(clock, UINT32_MAX, &hz) < 0 || hz == 0 ||
      (chans && (sdp_u32(chans, 255, &ch) < 0 || ch == 0)))
    return sdp_fail(p, "a=rtpmap clock rate or channels is not a number");
  if (c == NULL)
    return 0;
  if (p->rtpmap_seen[c->pt / 8] & (1u << (c->pt % 8)))
    return sdp_fail(p, "two a=rtpmap for one payload type");
  p->rtpmap_seen[c->pt / 8] |= (uint8_t)(1u << (c->pt % 8));
  memcpy(c->name, name, strlen(name) + 1);
  c->clock = hz;
  c->channels = (uint8_t)ch;
  return 0;
}

/* Reads the fmtp parameters onair uses: apt (RTX), packetization-mode and
 * profile-level-id (H.264). Items without '=' (red's "111/111") are kept
 * only as text. */
static int sdp_fmtp_params(struct sdp_codec *c, const char *text) {
  char buf[SDP_FMTP_MAX], *item = buf, *next, *eq, *key, *val, *rest;
  uint32_t n;
  size_t i;

  if (sdp_store(buf, sizeof(buf), text) < 0)
    return -1;
  for (; item != NULL; item = next) {
    next = strchr(item, ';');
    if (next)
      *next++ = '\0';
    eq = strchr(item, '=');
    if (eq == NULL)
      continue;
    *eq = '\0';
    rest = eq + 1;
    key = sdp_tok(&item);
    val = sdp_tok(&rest);
    if (key == NULL)
      continue;
    if (strcasecmp(key, "apt") == 0) {
      if (sdp_u32(val, 127, &n) < 0)
        return -1;
      c->apt = (int)n;
    } else if (strcasecmp(key, "packetization-mode") == 0) {
      if (sdp_u32(val, 2, &n) < 0)
        return -1;
      c->packetization_mode = (int)n;
    } else if (strcasecmp(key, "profile-level-id") == 0) {
      if (val == NULL || strlen(val) != 6)
        return -1;
      for (i = 0, n = 0; i < 6; i++) {
        if (sdp_hex(val[i]) < 0)
          return -1;
        n = n << 4 | (uint32_t)sdp_hex(val[i]);
      }
      c->profile_level_id = n;
    }
  }
  return 0;
}

/* a=fmtp:<pt> <parameters> */
static int attr_fmtp(struct sdp_parser *p, char *v) {
  char *pt = sdp_tok(&v), *params = sdp_rest(&v);
  struct sdp_codec *c;
  int bad;

  if (pt == NULL || params[0] == '\0')
    return sdp_fail(p, "malformed a=fmtp");
  c = sdp_line_codec(p, pt, &bad);
  if (bad)
    return sdp_fail(p, "a=fmtp payload type is not 0 to 127");
  if (c == NULL)
    return 0;
  if (p->fmtp_seen[c->pt / 8] & (1u << (c->pt % 8)))
    return sdp_fail(p, "two a=fmtp for one payload type");
  p->fmtp_seen[c->pt / 8] |= (uint8_t)(1u << (c->pt % 8));
  if (sdp_store(c->fmtp, sizeof(c->fmtp), params) < 0)
    return sdp_fail(p, "a=fmtp longer than 159 bytes");
  if (sdp_fmtp_params(c, params) < 0)
    return sdp_fail(p, "a=fmtp has a bad apt, packetization-mode or profile-level-id");
  return 0;
}

/* a=rtcp-fb:<pt|*> <type> [<subtype>]; unknown types are ignored. */
static int attr_rtcp_fb(struct sdp_parser *p, char *v) {
  char *pt = sdp_tok(&v), *type = sdp_tok(&v), *sub = sdp_tok(&v);
  struct sdp_codec *c = NULL;
  unsigned bit = 0;
  int bad;

  if (pt == NULL || type == NULL)
    return sdp_fail(p, "malformed a=rtcp-fb");
  if (strcmp(pt, "*") != 0) {
    c = sdp_line_codec(p, pt, &bad);
    if (bad)
      return sdp_fail(p, "a=rtcp-fb payload type is not 0 to 127 or *");
    if (c == NULL)
      return 0;
  }
  if (strcmp(type, "nack") == 0 && sub == NULL)
    bit = SDP_FB_NACK;
  else if (strcmp(type, "nack") == 0 && strcmp(sub, "pli") == 0)
    bit = SDP_FB_NACK_PLI;
  else if (strcmp(type, "ccm") == 0 && sub && strcmp(sub, "fir") == 0)
    bit = SDP_FB_CCM_FIR;
  else if (strcmp(type, "goog-remb") == 0)
    bit = SDP_FB_GOOG_REMB;
  else if (strcmp(type, "transport-cc") == 0)
    bit = SDP_FB_TRANSPORT_CC;
  if (c)
    c->fb |= bit;
  else
    p->fb_all |= bit;
  return 0;
}

/* a=extmap:<id>[/<direction>] <uri> [<attributes>] */
static int attr_extmap(struct sdp_parser *p, char *v) {
  static const char *const dirs[] = {"", "sendrecv", "sendonly", "recvonly", "inactive"};
  struct sdp_media *m = p->m;
  char *id = sdp_tok(&v), *uri = sdp_tok(&v), *dir;
  struct sdp_extmap *e;
  uint32_t n;
  size_t i;

  if (id == NULL || uri == NULL)
    return sdp_fail(p, "malformed a=extmap");
  if (m->n_extmaps == SDP_MAX_EXTMAPS)
    return sdp_fail(p, why_extmaps[sdp_mindex(p)]);
  e = &m->extmaps[m->n_extmaps];
  e->dir = SDP_EXTMAP_DEFAULT;
  dir = strchr(id, '/');
  if (dir) {
    *dir++ = '\0';
    for (i = 1; i < sizeof(dirs) / sizeof(dirs[0]); i++)
      if (strcmp(dir, dirs[i]) == 0)
        e->dir = (enum sdp_extmap_dir)i;
    if (e->dir == SDP_EXTMAP_DEFAULT)
      return sdp_fail(p, "a=extmap direction is not sendrecv, sendonly, recvonly or inactive");
  }
  if (sdp_u32(id, 255, &n) < 0 || n == 0)
    return sdp_fail(p, "a=extmap id is not 1 to 255");
  e->id = (uint16_t)n;
  if (sdp_store(e->uri, sizeof(e->uri), uri) < 0)
    return sdp_fail(p, "a=extmap URI longer than 127 bytes");
  m->n_extmaps++;
  return 0;
}

static struct sdp_ssrc *sdp_ssrc_get(struct sdp_parser *p, uint32_t ssrc) {
  struct sdp_media *m = p->m;
  size_t i;

  for (i = 0; i < m->n_ssrcs; i++)
    if (m->ssrcs[i].ssrc == ssrc)
      return &m->ssrcs[i];
  if (m->n_ssrcs == SDP_MAX_SSRCS)
    return NULL;
  m->ssrcs[m->n_ssrcs].ssrc = ssrc;
  return &m->ssrcs[m->n_ssrcs++];
}

/* a=ssrc:<ssrc> <attribute>[:<value>]: cname and msid are kept. */
static int attr_ssrc(struct sdp_parser *p, char *v) {
  char *id = sdp_tok(&v), *attr = sdp_rest(&v), *val;
  struct sdp_ssrc *s;
  uint32_t ssrc;

  if (sdp_u32(id, UINT32_MAX, &ssrc) < 0 || attr[0] == '\0')
    return sdp_fail(p, "malformed a=ssrc");
  s = sdp_ssrc_get(p, ssrc);
  if (s == NULL)
    return sdp_fail(p, why_ssrcs[sdp_mindex(p)]);
  val = strchr(attr, ':');
  if (val)
    *val++ = '\0';
  if (strcmp(attr, "cname") == 0) {
    if (val == NULL || val[0] == '\0' || sdp_store(s->cname, sizeof(s->cname), val) < 0)
      return sdp_fail(p, "a=ssrc cname is empty or longer than 79 bytes");
  } else if (strcmp(attr, "msid") == 0) {
    if (!sdp_is_msid(val) || sdp_store(s->msid, sizeof(s->msid), val) < 0)
      return sdp_fail(p, "a=ssrc msid is not one or two tokens of up to 64 chars");
  }
  return 0;
}

/* a=ssrc-group:FID <ssrc> <rtx ssrc>; other semantics are ignored. */
static int attr_ssrc_group(struct sdp_parser *p, char *v) {
  struct sdp_media *m = p->m;
  char *sem = sdp_tok(&v), *a = sdp_tok(&v), *b = sdp_tok(&v);
  struct sdp_fid f;

  if (sem == NULL || strcmp(sem, "FID") != 0)
    return 0;
  if (sdp_u32(a, UINT32_MAX, &f.ssrc) < 0 || sdp_u32(b, UINT32_MAX, &f.rtx_ssrc) < 0 ||
      sdp_tok(&v) != NULL)
    return sdp_fail(p, "a=ssrc-group:FID does not name two ssrcs");
  if (m->n_fids == SDP_MAX_FID)
    return sdp_fail(p, why_fids[sdp_mindex(p)]);
  m->fids[m->n_fids++] = f;
  return 0;
}

/* RFC 8851 rid-id: 1 to 16 of [A-Za-z0-9_-]. */
static int sdp_is_rid(const char *s) {
  size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
  return n > 0 && n < SDP_RID_MAX && s[n] == '\0';
}

/* a=rid:<rid-id> <send|recv> [<restrictions>] */
static int attr_rid(struct sdp_parser *p, char *v) {
  struct sdp_media *m = p->m;
  char *id = sdp_tok(&v), *dir = sdp_tok(&v);
  if (id == NULL || dir == NULL || !sdp_is_rid(id) ||
      (strcmp(dir, "send") != 0 && strcmp(dir, "recv") != 0))
    return sdp_fail(p, "a=rid is not <rid-id> send|recv");
  if (m->n_rids == SDP_MAX_RIDS)
    return sdp_fail(p, why_rids[sdp_mindex(p)]);
  memcpy(m->rids[m->n_rids].id, id, strlen(id) + 1);
  m->rids[m->n_rids++].send = strcmp(dir, "send") == 0;
  return 0;
}

/* a=simulcast:<send|recv> <streams>[ <recv|send> <streams>], streams
 * separated by ';', alternatives by ',', a paused one starting with '~'
 * (RFC 8853). The first direction's streams are kept, the first of each
 * one's alternatives. */
static int attr_simulcast(struct sdp_parser *p, char *v) {
  struct sdp_media *m = p->m;
  char *dir = sdp_tok(&v), *list = sdp_tok(&v), *stream;
  if (dir == NULL || list == NULL || (strcmp(dir, "send") != 0 && strcmp(dir, "recv") != 0))
    return sdp_fail(p, "a=simulcast is not send|recv <streams>");
  m->simulcast_send = strcmp(dir, "send") == 0;
  m->n_simulcast = 0;
  while ((stream = strsep(&list, ";")) != NULL) {
    char *first = strsep(&stream, ",");
    if (first[0] == '~')
      first++;
    if (!sdp_is_rid(first))
      return sdp_fail(p, "a=simulcast names a stream that is not a rid-id");
    if (m->n_simulcast == SDP_MAX_RIDS)
      return sdp_fail(p, why_simulcast[sdp_mindex(p)]);
    memcpy(m->simulcast[m->n_simulcast++], first, strlen(first) + 1);
  }
  return 0;
}

/* a=msid:<stream-id> [<track-id>]; the first one is kept. */
static int attr_msid(struct sdp_parser *p, char *v) {
  if (!sdp_is_msid(v))
    return sdp_fail(p, "a=msid is not one or two tokens of up to 64 chars");
  if (p->m->msid[0] == '\0')
    memcpy(p->m->msid, v, strlen(v) + 1);
  return 0;
}

/* a=candidate:<foundation> <component> <transport> <priority> <address>
 * <port> typ <type> ...: counted, and checked only that far. */
static int attr_candidate(struct sdp_parser *p, char *v) {
  char *t[8];
  uint32_t n;
  size_t i;

  if (p->m->n_candidates == SDP_MAX_CANDIDATES)
    return sdp_fail(p, why_candidates[sdp_mindex(p)]);
  for (i = 0; i < 8; i++)
    t[i] = sdp_tok(&v);
  if (t[7] == NULL || strcmp(t[6], "typ") != 0 || sdp_u32(t[1], 256, &n) < 0 ||
      sdp_u32(t[3], UINT32_MAX, &n) < 0 || sdp_u32(t[5], 65535, &n) < 0)
    return sdp_fail(p, "malformed a=candidate");
  p->m->n_candidates++;
  return 0;
}

/* ---- lines ---- */

#define SDP_AT_SESSION 1 /* meaningful at session level */
#define SDP_AT_MEDIA 2   /* meaningful in an m-line */

static const struct sdp_attr {
  const char *name;
  int where; /* SDP_AT_*; elsewhere the attribute is ignored */
  int need_value;
  int (*fn)(struct sdp_parser *p, char *value);
} sdp_attrs[] = {
    {"ice-ufrag", SDP_AT_SESSION | SDP_AT_MEDIA, 1, attr_ufrag},
    {"ice-pwd", SDP_AT_SESSION | SDP_AT_MEDIA, 1, attr_pwd},
    {"ice-options", SDP_AT_SESSION | SDP_AT_MEDIA, 1, attr_ice_options},
    {"fingerprint", SDP_AT_SESSION | SDP_AT_MEDIA, 1, attr_fingerprint},
    {"setup", SDP_AT_SESSION | SDP_AT_MEDIA, 1, attr_setup},
    {"ice-lite", SDP_AT_SESSION, 0, attr_ice_lite},
    {"extmap-allow-mixed", SDP_AT_SESSION | SDP_AT_MEDIA, 0, attr_allow_mixed},
    {"group", SDP_AT_SESSION, 1, attr_group},
    {"sendrecv", SDP_AT_SESSION | SDP_AT_MEDIA, 0, attr_sendrecv},
    {"sendonly", SDP_AT_SESSION | SDP_AT_MEDIA, 0, attr_sendonly},
    {"recvonly", SDP_AT_SESSION | SDP_AT_MEDIA, 0, attr_recvonly},
    {"inactive", SDP_AT_SESSION | SDP_AT_MEDIA, 0, attr_inactive},
    {"mid", SDP_AT_MEDIA, 1, attr_mid},
    {"rtcp-mux", SDP_AT_MEDIA, 0, attr_rtcp_mux},
    {"rtcp-rsize", SDP_AT_MEDIA, 0, attr_rtcp_rsize},
    {"bundle-only", SDP_AT_MEDIA, 0, attr_bundle_only},
    {"end-of-candidates", SDP_AT_MEDIA, 0, attr_end_of_candidates},
    {"rtpmap", SDP_AT_MEDIA, 1, attr_rtpmap},
    {"fmtp", SDP_AT_MEDIA, 1, attr_fmtp},
    {"rtcp-fb", SDP_AT_MEDIA, 1, attr_rtcp_fb},
    {"extmap", SDP_AT_MEDIA, 1, attr_extmap},
    {"ssrc", SDP_AT_MEDIA, 1, attr_ssrc},
    {"ssrc-group", SDP_AT_MEDIA, 1, attr_ssrc_group},
    {"msid", SDP_AT_MEDIA, 1, attr_msid},
    {"rid", SDP_AT_MEDIA, 1, attr_rid},
    {"simulcast", SDP_AT_MEDIA, 1, attr_simulcast},
    {"candidate", SDP_AT_MEDIA, 1, attr_candidate},
};

/* a=<name>[:<value>] */
static int sdp_line_attr(struct sdp_parser *p, char *a) {
  char *value = strchr(a, ':');
  size_t i;

  if (value)
    *value++ = '\0';
  for (i = 0; i < sizeof(sdp_attrs) / sizeof(sdp_attrs[0]); i++) {
    const struct sdp_attr *h = &sdp_attrs[i];

    if (strcmp(a, h->name) != 0)
      continue;
    if (!(h->where & (p->m ? SDP_AT_MEDIA : SDP_AT_SESSION)))
      return 0;
    if (h->need_value && (value == NULL || value[0] == '\0'))
      return sdp_fail(p, "an a= attribute lacks its value");
    return h->fn(p, value ? value : a + strlen(a));
  }
  return 0; /* unknown attributes are ignored */
}

/* Settles what the current m-line implies as a whole. */
static int sdp_media_end(struct sdp_parser *p) {
  struct sdp_media *m = p->m;
  size_t i, codecs = 0;

  if (m == NULL)
    return 0;
  if (!p->m_dir_set)
    m->direction = p->dir;
  for (i = 0; i < m->n_codecs; i++) {
    struct sdp_codec *c = &m->codecs[i], *primary;

    c->fb |= p->fb_all;
    if (strcasecmp(c->name, "rtx") != 0) {
      codecs++;
      continue;
    }
    primary = c->apt >= 0 ? sdp_codec_mut(m, (uint32_t)c->apt) : NULL;
    if (primary && primary != c && primary->rtx_pt < 0)
      primary->rtx_pt = c->pt;
  }
  if (codecs > SDP_MAX_CODECS)
    return sdp_fail(p, why_codecs[sdp_mindex(p)]);
  return 0;
}

/* A payload type as its m= line lists it, before any rtpmap or fmtp: the
 * defaults, and the names of static PTs 0 and 8, which may come without. */
static void sdp_codec_init(struct sdp_codec *c, uint32_t pt) {
  memset(c, 0, sizeof(*c));
  c->pt = (uint8_t)pt;
  c->apt = -1;
  c->rtx_pt = -1;
  c->channels = 1;
  c->profile_level_id = 0x42000a; /* RFC 6184 8.1: Baseline, level 1.0 */
  if (pt == 0 || pt == 8) {
    memcpy(c->name, pt == 0 ? "PCMU" : "PCMA", 5);
    c->clock = 8000;
  }
}

/* The formats of an m= line: payload types when the proto is RTP. */
static int sdp_media_formats(struct sdp_parser *p, char *v) {
  struct sdp_media *m = p->m;
  char *f;
  uint32_t pt;

  while ((f = sdp_tok(&v)) != NULL) {
    if (m->fmt0[0] == '\0' && (!sdp_is_proto(f) || sdp_store(m->fmt0, sizeof(m->fmt0), f) < 0))
      return sdp_fail(p, "m= line format is not a token of up to 31 chars");
    if (!m->rtp)
      continue;
    if (sdp_u32(f, 127, &pt) < 0)
      return sdp_fail(p, "m= line payload type is not 0 to 127");
    if (sdp_codec_mut(m, pt) != NULL)
      return sdp_fail(p, "m= line lists a payload type twice");
    if (m->n_codecs == SDP_MAX_FORMATS)
      return sdp_fail(p, why_formats[sdp_mindex(p)]);
    sdp_codec_init(&m->codecs[m->n_codecs++], pt);
  }
  if (m->fmt0[0] == '\0')
    return sdp_fail(p, "m= line has no format");
  return 0;
}

/* m=<media> <port>[/<count>] <proto> <fmt> ... */
static int sdp_line_media(struct sdp_parser *p, char *v) {
  struct sdp *s = p->s;
  char *type = sdp_tok(&v), *port = sdp_tok(&v), *proto = sdp_tok(&v), *count;
  struct sdp_media *m;
  uint32_t n;

  if (sdp_media_end(p) < 0)
    return -EINVAL;
  if (s->n_media == SDP_MAX_MEDIA)
    return sdp_fail(p, "more than 8 media sections");
  m = p->m = &s->media[s->n_media++];
  p->m_dir_set = 0;
  p->fb_all = 0;
  memset(p->rtpmap_seen, 0, sizeof(p->rtpmap_seen));
  memset(p->fmtp_seen, 0, sizeof(p->fmtp_seen));
  if (proto == NULL || !sdp_is_token(type) || !sdp_is_proto(proto) ||
      sdp_store(m->type, sizeof(m->type), type) < 0 ||
      sdp_store(m->proto, sizeof(m->proto), proto) < 0)
    return sdp_fail(p, "malformed m= line");
  count = strchr(port, '/');
  if (count)
    *count++ = '\0';
  if (sdp_u32(port, 65535, &n) < 0 || (count && sdp_u32(count, 65535, &(uint32_t){0}) < 0))
    return sdp_fail(p, "m= line port is not 0 to 65535");
  m->port = (uint16_t)n;
  m->kind = strcmp(type, "audio") == 0         ? SDP_KIND_AUDIO
            : strcmp(type, "video") == 0       ? SDP_KIND_VIDEO
            : strcmp(type, "application") == 0 ? SDP_KIND_APPLICATION
                                               : SDP_KIND_OTHER;
  m->rtp = strstr(proto, "RTP/") != NULL;
  return sdp_media_formats(p, v);
}

/* One line without its line end, NUL-terminated; the first must be v=0. */
static int sdp_line(struct sdp_parser *p, char *line, int first) {
  if (first)
    return strcmp(line, "v=0") == 0 ? 0 : sdp_fail(p, "SDP does not start with v=0");
  if (line[0] < 'a' || line[0] > 'z' || line[1] != '=')
    return sdp_fail(p, "a line is not <letter>=<value>");
  switch (line[0]) {
  case 'v': return sdp_fail(p, "a second v= line");
  case 'm': return sdp_line_media(p, line + 2);
  case 'a': return sdp_line_attr(p, line + 2);
  default: return 0; /* o= s= c= t= b= ...: nothing onair needs */
  }
}

/* Copies the line at text[*off] into buf (SDP_MAX_LINE + 1 bytes) without
 * its CRLF or LF and with trailing blanks cut, and moves *off past it. */
static int sdp_take_line(const char *text, size_t len, size_t *off, char *buf,
                         struct sdp_parser *p) {
  const char *start = text + *off, *nl = memchr(start, '\n', len - *off);
  size_t n = nl ? (size_t)(nl - start) : len - *off, i;

  *off += nl ? n + 1 : n;
  if (n > 0 && start[n - 1] == '\r')
    n--;
  if (n > SDP_MAX_LINE)
    return sdp_fail(p, "a line is longer than 1024 bytes");
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)start[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return sdp_fail(p, "a line holds a control character");
  }
  while (n > 0 && (start[n - 1] == ' ' || start[n - 1] == '\t'))
    n--;
  memcpy(buf, start, n);
  buf[n] = '\0';
  return 0;
}

/* Gives each m-line what it lacks from session level. */
static void sdp_inherit(struct sdp *s) {
  const struct sdp_transport *st = &s->transport;
  size_t i;

  for (i = 0; i < s->n_media; i++) {
    struct sdp_transport *t = &s->media[i].transport;

    if (t->ufrag[0] == '\0')
      memcpy(t->ufrag, st->ufrag, sizeof(t->ufrag));
    if (t->pwd[0] == '\0')
      memcpy(t->pwd, st->pwd, sizeof(t->pwd));
    if (t->options[0] == '\0')
      memcpy(t->options, st->options, sizeof(t->options));
    if (t->fp.alg[0] == '\0')
      t->fp = st->fp;
    if (t->setup == SDP_SETUP_NONE)
      t->setup = st->setup;
  }
}

int sdp_parse(const char *text, size_t len, struct sdp *out, const char **why) {
  struct sdp_parser p;
  char line[SDP_MAX_LINE + 1];
  size_t off = 0;
  unsigned lineno = 0;
  int rc = 0, seen = 0;

  memset(out, 0, sizeof(*out));
  memset(&p, 0, sizeof(p));
  p.s = out;
  p.dir = SDP_DIR_SENDRECV;
  if (len > SDP_MAX_TEXT) {
    *why = "SDP larger than 64 KiB";
    return -EMSGSIZE;
  }
  if (memchr(text, '\0', len) != NULL) {
    *why = "SDP holds a NUL byte";
    return -EINVAL;
  }
  while (off < len) {
    lineno++;
    rc = sdp_take_line(text, len, &off, line, &p);
    if (rc < 0)
      goto out_fail;
    if (line[0] == '\0')
      continue; /* a blank line */
    rc = sdp_line(&p, line, !seen++);
    if (rc < 0)
      goto out_fail;
  }
  if (!seen) {
    rc = sdp_fail(&p, "SDP is empty");
    goto out_fail;
  }
  rc = sdp_media_end(&p);
  if (rc < 0)
    goto out_fail;
  sdp_inherit(out);
  return 0;

out_fail:
  out->err_line = lineno;
  *why = p.why;
  return rc;
}
