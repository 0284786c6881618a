/* SDP offers in, answers out (see sdp.h). The parser copies each line into
 * a NUL-terminated buffer on the stack, so no helper can read past the
 * caller's length, and cuts it into tokens in place. Attributes go through
 * a table of handlers; what an m-line implies as a whole (RTX links,
 * wildcard feedback, the codec limit) is settled when the m-line ends. */
#include "media/sdp.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Messages that name an m-line stay static: one string per m-line. */
#define SDP_PER_MLINE(s)                                                      \
  {"m-line 1 " s, "m-line 2 " s, "m-line 3 " s, "m-line 4 " s,                \
   "m-line 5 " s, "m-line 6 " s, "m-line 7 " s, "m-line 8 " s}
_Static_assert(SDP_MAX_MEDIA == 8, "SDP_PER_MLINE has one message per m-line");

typedef const char *const sdp_mline_msgs[SDP_MAX_MEDIA];
static sdp_mline_msgs why_codecs = SDP_PER_MLINE("has more than 32 codecs");
static sdp_mline_msgs why_formats = SDP_PER_MLINE("lists more than 64 payload types");
static sdp_mline_msgs why_candidates = SDP_PER_MLINE("has more than 32 candidates");
static sdp_mline_msgs why_ssrcs = SDP_PER_MLINE("has more than 16 ssrcs");
static sdp_mline_msgs why_fids = SDP_PER_MLINE("has more than 8 ssrc-group:FID lines");
static sdp_mline_msgs why_extmaps = SDP_PER_MLINE("has more than 16 extmaps");
static sdp_mline_msgs why_no_mid = SDP_PER_MLINE("has no mid");
static sdp_mline_msgs why_no_ufrag = SDP_PER_MLINE("has no ice-ufrag");
static sdp_mline_msgs why_no_pwd = SDP_PER_MLINE("has no ice-pwd");
static sdp_mline_msgs why_no_fp = SDP_PER_MLINE("has no fingerprint");
static sdp_mline_msgs why_fp_alg = SDP_PER_MLINE("has no sha-256 fingerprint");
static sdp_mline_msgs why_no_setup = SDP_PER_MLINE("has no a=setup");
static sdp_mline_msgs why_setup = SDP_PER_MLINE("has a=setup other than actpass or active");
static sdp_mline_msgs why_no_mux = SDP_PER_MLINE("has no a=rtcp-mux");

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
static int sdp_store(char *dst, size_t cap, const char *src) {
  size_t n = strlen(src);

  if (n >= cap)
    return -1;
  memcpy(dst, src, n + 1);
  return 0;
}

/* RFC 8866 token-char. */
static int sdp_token_char(unsigned char c) {
  return c == 0x21 || (c >= 0x23 && c <= 0x27) || c == 0x2A || c == 0x2B ||
         c == 0x2D || c == 0x2E || (c >= 0x30 && c <= 0x39) ||
         (c >= 0x41 && c <= 0x5A) || (c >= 0x5E && c <= 0x7E);
}

static int sdp_is_token(const char *s) {
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
static int sdp_is_ice(const char *s, size_t min, size_t max) {
  size_t n;

  if (s == NULL)
    return 0;
  for (n = 0; s[n] != '\0'; n++) {
    char c = s[n];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '+' || c == '/'))
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
static int sdp_is_fp_value(const char *s) {
  size_t n = strlen(s), i;

  if (n < 2 || n > 64 * 3 - 1 || n % 3 != 2)
    return 0;
  for (i = 0; i < n; i++) {
    if (i % 3 == 2 ? s[i] != ':' : sdp_hex(s[i]) < 0)
      return 0;
  }
  return 1;
}

/* "stream-id[ track-id]": one or two tokens of 1..64 chars. */
static int sdp_is_msid(const char *s) {
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
    if (i != a && !sdp_token_char((unsigned char)s[i]))
      return 0;
  return 1;
}

/* ---- the parser ---- */

struct sdp_parser {
  struct sdp *s;
  struct sdp_media *m; /* the current m-line; NULL at session level */
  enum sdp_direction dir; /* session-level direction */
  int m_dir_set;          /* the current m-line had a direction attribute */
  unsigned fb_all;        /* a=rtcp-fb:* of the current m-line */
  uint8_t rtpmap_seen[16]; /* bit per PT: the current m-line's rtpmaps */
  uint8_t fmtp_seen[16];   /* bit per PT: the current m-line's fmtps */
  const char *why;
};

static int sdp_fail(struct sdp_parser *p, const char *why) {
  p->why = why;
  return -EINVAL;
}

static size_t sdp_mindex(const struct sdp_parser *p) {
  return (size_t)(p->m - p->s->media);
}

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
  m->kind = strcmp(type, "audio") == 0   ? SDP_KIND_AUDIO
            : strcmp(type, "video") == 0 ? SDP_KIND_VIDEO
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
  case 'v':
    return sdp_fail(p, "a second v= line");
  case 'm':
    return sdp_line_media(p, line + 2);
  case 'a':
    return sdp_line_attr(p, line + 2);
  default:
    return 0; /* o= s= c= t= b= ...: nothing onair needs */
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

enum sdp_h264_profile { H264_OTHER, H264_CB, H264_B, H264_MAIN, H264_CHIGH, H264_HIGH, H264_HIGH444 };

/* profile_idc and the profile-iop bits that tell the profile apart, as
 * WebRTC classifies them (RFC 6184 8.1, H.264 A.2). */
static enum sdp_h264_profile sdp_h264_profile(uint32_t plid) {
  static const struct {
    uint8_t idc, mask, value;
    enum sdp_h264_profile profile;
  } pat[] = {
      {0x42, 0x4F, 0x40, H264_CB},   {0x4D, 0x8F, 0x80, H264_CB},    {0x58, 0xCF, 0xC0, H264_CB},
      {0x42, 0x4F, 0x00, H264_B},    {0x58, 0xCF, 0x80, H264_B},     {0x4D, 0xAF, 0x00, H264_MAIN},
      {0x64, 0xFF, 0x00, H264_HIGH}, {0x64, 0xFF, 0x0C, H264_CHIGH}, {0xF4, 0xFF, 0x00, H264_HIGH444},
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

  if (level == 9 || (level == 11 && (iop & 0x10) &&
                     (prof == H264_CB || prof == H264_B || prof == H264_MAIN)))
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

const struct sdp_codec *sdp_pick_publisher(const struct sdp_media *m) {
  const struct sdp_codec *cb = NULL, *b = NULL;
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
    if (prof == H264_CB && (cb == NULL || (c->profile_level_id == 0x42e01f &&
                                           cb->profile_level_id != 0x42e01f)))
      cb = c;
    if (prof == H264_B && b == NULL)
      b = c;
  }
  return cb ? cb : b;
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

/* ---- writing the answer ---- */

/* The answer being written: out of room once `full` is set. */
struct sdp_out {
  char *buf;
  size_t cap, len;
  int full;
};

__attribute__((format(printf, 2, 3))) static void sdp_put(struct sdp_out *o, const char *fmt,
                                                          ...) {
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
        (m->kind != SDP_KIND_AUDIO && m->kind != SDP_KIND_VIDEO) ||
        !sdp_in_bundle(s, m->mid) || (m->port == 0 && !m->bundle_only) ||
        (taken & (1u << m->kind)))
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
  sdp_put(o, "a=candidate:1 1 udp 2130706431 %s %u typ host\r\na=end-of-candidates\r\n", p->addr,
          p->port);
}

int sdp_answer_pick(const struct sdp *offer, const struct sdp_answer_params *p,
                    enum sdp_kind kind, const struct sdp_media **m, const struct sdp_codec **c,
                    const char **why) {
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
