/* libFuzzer target for the SDP answer builder (src/media/sdp_answer.c):
 * sdp_answer() and sdp_answer_pick() with fuzzed struct sdp_answer_params
 * on a fuzzed offer. fuzz_sdp answers with fixed, valid parameters; here
 * our own side is fuzzed too: role, session id, ICE credentials,
 * fingerprint, addresses (up to 8, IPv4 or IPv6, with or without ICE-TCP),
 * port, cname, and for a viewer the codecs, SSRCs and msids sent.
 *
 * Input (see README.md, "fuzz_sdp_answer input format"):
 *   byte 0      bit 0 viewer, bit 1 tcp_port, bit 2 IPv6 address, bits 3-5
 *               how many more addresses (0..7), bit 6 audio msid without a
 *               track id, bit 7 a video RTX SSRC
 *   byte 1      low nibble the audio codec sent, high nibble the video one
 *               (0 none, 1..FUZZ_NCODECS from a table, 15 the one
 *               sdp_pick_publisher() takes from the offer's first m-line of
 *               that kind, as the media plane does)
 *   byte 2      which strings are the input's own rather than valid
 *               defaults: bit 0 ice-ufrag, 1 ice-pwd, 2 fingerprint, 3
 *               address, 4 cname, 5 audio msid, 6 video msid, 7 the other
 *               addresses
 *   bytes 3-10  session id, bytes 11-12 port, 13-16 audio SSRC, 17-20 video
 *               SSRC (big-endian)
 *   then one line (up to '\n') per bit set in byte 2, in bit order
 *   the rest    the offer, SDP text
 *
 * Checks: sdp_answer() fails with -EINVAL exactly when the offer fails
 * sdp_check_offer() or the parameters break the contract in sdp.h (decided
 * here independently); otherwise it answers or says -ENOENT, the same as
 * sdp_answer_pick(). An answer parses back with sdp_parse() and says what
 * the parameters said: ICE-lite, our ufrag, pwd and fingerprint, each
 * accepted m-line at our port with one candidate per address (UDP, then
 * TCP on tcp_port), at most one accepted m-line per kind, the codec
 * sdp_pick_publisher() or sdp_pick_match() takes under the offer's PT, the
 * direction the role implies, and for a viewer our SSRC, cname, msid and
 * FID group; rejected m-lines have port 0. It fails with -ENOBUFS one byte
 * short of its size and is the same with one byte to spare. Any broken
 * check traps. */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "media/sdp.h"

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond))         \
      __builtin_trap();  \
  } while (0)

#define FUZZ_HDR 21
#define FUZZ_STR_MAX 512 /* bytes of one overriding line kept */
#define FUZZ_NCODECS 8

static struct sdp offer, back;
static char out[SDP_MAX_TEXT], again[SDP_MAX_TEXT];

/* Codecs a viewer may be sent; some break the contract on purpose. */
static const struct sdp_codec fuzz_codecs[FUZZ_NCODECS] = {
    {.pt = 111, .name = "opus", .clock = 48000, .channels = 2, .apt = -1, .rtx_pt = -1},
    {.pt = 96, .name = "VP8", .clock = 90000, .channels = 1, .apt = -1, .rtx_pt = 97},
    {.pt = 102,
     .name = "H264",
     .clock = 90000,
     .channels = 1,
     .apt = -1,
     .rtx_pt = -1,
     .packetization_mode = 1,
     .profile_level_id = 0x42e01f},
    {.pt = 100,
     .name = "h264",
     .clock = 90000,
     .channels = 1,
     .apt = -1,
     .rtx_pt = -1,
     .packetization_mode = 1,
     .profile_level_id = 0x640c34},
    {.pt = 98,
     .name = "H264",
     .clock = 90000,
     .channels = 1,
     .apt = -1,
     .rtx_pt = -1,
     .packetization_mode = 0,
     .profile_level_id = 0x42001f},
    {.pt = 0, .name = "PCMU", .clock = 8000, .channels = 1, .apt = -1, .rtx_pt = -1},
    {.pt = 96, .name = "VP 8", .clock = 90000, .channels = 1, .apt = -1, .rtx_pt = -1},
    {.pt = 96, .name = "VP8", .clock = 0, .channels = 1, .apt = -1, .rtx_pt = -1},
};

static const char *const fuzz_addrs[2][8] = {
    {"192.0.2.1", "198.51.100.7", "203.0.113.9", "10.0.0.1", "127.0.0.1", "192.0.2.200",
     "100.64.0.1", "172.16.5.4"},
    {"2001:db8::1", "2001:db8::2", "fe80::1", "::1", "2001:db8:0:1::9", "::ffff:192.0.2.1",
     "2001:db8::abcd", "fd00::5"},
};

/* Our parameters and the strings they point to. */
struct fuzz_params {
  struct sdp_answer_params p;
  struct sdp_codec audio, video; /* copies of what is sent */
  const char *more[SDP_MAX_MORE_ADDRS];
  char str[8][FUZZ_STR_MAX + 1]; /* the input's own strings */
  int nstr;
  unsigned codecs; /* byte 1 of the input */
};

/* ---- the contract of struct sdp_answer_params, independently ---- */

static int fuzz_ice_chars(const char *s, size_t min, size_t max) {
  size_t n = strlen(s);

  if (n < min || n > max)
    return 0;
  return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") == n;
}

static int fuzz_token_char(unsigned char c) {
  return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]", c);
}

static int fuzz_token(const char *s, size_t max) {
  size_t n = strlen(s);

  if (n == 0 || n > max)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!fuzz_token_char((unsigned char)s[i]))
      return 0;
  return 1;
}

/* "alg AB:CD:..": a token of at most 15 chars, one space, 1..64 hex pairs. */
static int fuzz_fingerprint_ok(const char *fp) {
  const char *sp = strchr(fp, ' ');
  char alg[SDP_FP_ALG_MAX + SDP_FP_MAX];
  size_t n, i;

  if (sp == NULL || strlen(fp) >= sizeof(alg) || (size_t)(sp - fp) >= SDP_FP_ALG_MAX)
    return 0;
  memcpy(alg, fp, (size_t)(sp - fp));
  alg[sp - fp] = '\0';
  if (!fuzz_token(alg, SDP_FP_ALG_MAX - 1))
    return 0;
  n = strlen(sp + 1);
  if (n < 2 || n > 191 || n % 3 != 2)
    return 0;
  for (i = 0; i < n; i++)
    if (i % 3 == 2 ? sp[1 + i] != ':' : !strchr("0123456789abcdefABCDEF", sp[1 + i]))
      return 0;
  return 1;
}

static int fuzz_ip(const char *s) {
  unsigned char a[16];

  return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static int fuzz_msid_ok(const char *s) {
  char buf[FUZZ_STR_MAX + 1];
  const char *sp = strchr(s, ' ');

  if (sp == NULL)
    return fuzz_token(s, 64);
  if (strlen(s) >= sizeof(buf) || (size_t)(sp - s) > 64)
    return 0;
  memcpy(buf, s, (size_t)(sp - s));
  buf[sp - s] = '\0';
  return fuzz_token(buf, 64) && fuzz_token(sp + 1, 64);
}

static int fuzz_send_ok(const struct sdp_send *t) {
  if (t->codec == NULL)
    return 1;
  return t->ssrc != 0 && t->rtx_ssrc != t->ssrc && fuzz_msid_ok(t->msid) &&
         fuzz_token(t->codec->name, SDP_TOKEN_MAX) && t->codec->clock != 0;
}

static int fuzz_params_ok(const struct sdp_answer_params *p) {
  if (!fuzz_ice_chars(p->ice_ufrag, 4, 256) || !fuzz_ice_chars(p->ice_pwd, 22, 256) ||
      !fuzz_fingerprint_ok(p->fingerprint) || !fuzz_ip(p->addr) || p->port == 0 ||
      p->session_id > INT64_MAX)
    return 0;
  for (size_t i = 0; i < p->nmore; i++)
    if (!fuzz_ip(p->more_addrs[i]))
      return 0;
  if (p->role == SDP_ROLE_PUBLISHER)
    return 1;
  if (strlen(p->cname) == 0 || strlen(p->cname) > SDP_CNAME_MAX - 1)
    return 0;
  for (const char *c = p->cname; *c; c++)
    if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
      return 0;
  return fuzz_send_ok(&p->audio) && fuzz_send_ok(&p->video);
}

/* ---- the parameters from the input ---- */

static uint32_t fuzz_be32(const uint8_t *d) {
  return (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
}

/* The codec sent for one kind by its choice nibble. */
static const struct sdp_codec *fuzz_codec(unsigned choice, enum sdp_kind kind,
                                          struct sdp_codec *copy) {
  const struct sdp_codec *c = NULL;

  if (choice >= 1 && choice <= FUZZ_NCODECS) {
    c = &fuzz_codecs[choice - 1];
  } else if (choice == 15) {
    for (size_t i = 0; c == NULL && i < offer.n_media; i++)
      if (offer.media[i].kind == kind)
        c = sdp_pick_publisher(&offer.media[i]);
  }
  if (c == NULL)
    return NULL;
  *copy = *c;
  return copy;
}

/* The next overriding string (the input's next line), or def. */
static const char *fuzz_str(struct fuzz_params *f, int use, const uint8_t **d, size_t *n,
                            const char *def) {
  const uint8_t *nl;
  size_t len;
  char *s;

  if (!use)
    return def;
  nl = memchr(*d, '\n', *n);
  len = nl ? (size_t)(nl - *d) : *n;
  s = f->str[f->nstr++];
  memcpy(s, *d, len < FUZZ_STR_MAX ? len : FUZZ_STR_MAX);
  s[len < FUZZ_STR_MAX ? len : FUZZ_STR_MAX] = '\0';
  *d += nl ? len + 1 : len;
  *n -= nl ? len + 1 : len;
  return s;
}

/* Reads the header and the overriding lines; leaves *d, *n at the offer. */
static void fuzz_read_params(struct fuzz_params *f, const uint8_t **d, size_t *n) {
  const uint8_t *h = *d;
  unsigned strs = h[2];
  struct sdp_answer_params *p = &f->p;
  int ip6 = (h[0] >> 2) & 1;

  memset(f, 0, sizeof(*f));
  *d += FUZZ_HDR;
  *n -= FUZZ_HDR;
  f->codecs = h[1];
  p->role = h[0] & 1 ? SDP_ROLE_VIEWER : SDP_ROLE_PUBLISHER;
  p->tcp_port = h[0] & 2 ? 8443 : 0;
  p->nmore = (h[0] >> 3) & 7;
  p->session_id = (uint64_t)fuzz_be32(h + 3) << 32 | fuzz_be32(h + 7);
  p->port = (uint16_t)(h[11] << 8 | h[12]);
  p->ice_ufrag = fuzz_str(f, strs & 1, d, n, "fUzZ");
  p->ice_pwd = fuzz_str(f, strs & 2, d, n, "0123456789abcdefghijkl");
  p->fingerprint = fuzz_str(f, strs & 4, d, n, "sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01");
  p->addr = fuzz_str(f, strs & 8, d, n, fuzz_addrs[ip6][0]);
  p->cname = fuzz_str(f, strs & 16, d, n, "fuzz-cname");
  p->audio.msid = fuzz_str(f, strs & 32, d, n, h[0] & 64 ? "stream" : "stream audio");
  p->video.msid = fuzz_str(f, strs & 64, d, n, "stream video");
  for (size_t i = 0; i < p->nmore; i++)
    f->more[i] = fuzz_addrs[(ip6 + i) & 1][1 + i];
  if (p->nmore)
    f->more[p->nmore - 1] = fuzz_str(f, strs & 128, d, n, f->more[p->nmore - 1]);
  p->more_addrs = f->more;
  /* The offer decides choice 15, so the codecs are set once it is parsed. */
  p->audio.ssrc = fuzz_be32(h + 13);
  p->video.ssrc = fuzz_be32(h + 17);
  p->video.rtx_ssrc = h[0] & 128 ? p->video.ssrc ^ 0x5A5A5A5A : 0;
}

/* ---- the answer, read back ---- */

/* Checks the candidate lines of each accepted m-line of the answer text:
 * one per address in order, UDP on our port, then TCP on tcp_port. */
static void fuzz_check_candidates(const struct sdp_answer_params *p) {
  const char *line = out;
  int m = -1;
  size_t k = 0, want = (1 + p->nmore) * (p->tcp_port ? 2 : 1);

  while (*line) {
    const char *end = strstr(line, "\r\n");
    char f[8][FUZZ_STR_MAX];

    FUZZ_CHECK(end != NULL);
    if (strncmp(line, "m=", 2) == 0) {
      FUZZ_CHECK(m < 0 || back.media[m].port == 0 || k == want);
      m++;
      k = 0;
    } else if (strncmp(line, "a=candidate:", 12) == 0) {
      size_t a = k % (1 + p->nmore);
      int tcp = k > p->nmore;
      char copy[SDP_MAX_LINE + 1];

      FUZZ_CHECK(m >= 0 && (size_t)(end - line) <= SDP_MAX_LINE);
      memcpy(copy, line, (size_t)(end - line));
      copy[end - line] = '\0';
      FUZZ_CHECK(sscanf(copy + 12, "%511s %511s %511s %511s %511s %511s %511s %511s", f[0], f[1],
                        f[2], f[3], f[4], f[5], f[6], f[7]) == 8);
      FUZZ_CHECK(strcmp(f[2], tcp ? "tcp" : "udp") == 0);
      FUZZ_CHECK(strcmp(f[4], a ? p->more_addrs[a - 1] : p->addr) == 0);
      FUZZ_CHECK(strtoul(f[5], NULL, 10) == (tcp ? p->tcp_port : p->port));
      FUZZ_CHECK(strcmp(f[6], "typ") == 0 && strcmp(f[7], "host") == 0);
      k++;
    }
    line = end + 2;
  }
  FUZZ_CHECK(m < 0 || back.media[m].port == 0 || k == want);
}

/* The codec the answer must take on offer m-line i, or NULL. */
static const struct sdp_codec *fuzz_want_codec(const struct sdp_answer_params *p, size_t i) {
  const struct sdp_media *o = &offer.media[i];
  const struct sdp_send *send = o->kind == SDP_KIND_AUDIO ? &p->audio : &p->video;

  if (p->role == SDP_ROLE_PUBLISHER)
    return sdp_pick_publisher(o);
  return send->codec ? sdp_pick_match(o, send->codec) : NULL;
}

static void fuzz_check_viewer_media(const struct sdp_answer_params *p, const struct sdp_media *a,
                                    const struct sdp_media *o) {
  const struct sdp_send *send = o->kind == SDP_KIND_AUDIO ? &p->audio : &p->video;
  int offer_recvs = o->direction == SDP_DIR_SENDRECV || o->direction == SDP_DIR_RECVONLY;

  FUZZ_CHECK(a->direction == (offer_recvs ? SDP_DIR_SENDONLY : SDP_DIR_INACTIVE));
  if (!offer_recvs) {
    FUZZ_CHECK(a->n_ssrcs == 0 && a->msid[0] == '\0');
    return;
  }
  FUZZ_CHECK(strcmp(a->msid, send->msid) == 0);
  FUZZ_CHECK(a->n_ssrcs >= 1 && a->ssrcs[0].ssrc == send->ssrc);
  FUZZ_CHECK(strcmp(a->ssrcs[0].cname, p->cname) == 0 && strcmp(a->ssrcs[0].msid, send->msid) == 0);
  if (a->n_codecs == 2) {
    FUZZ_CHECK(a->n_fids == 1 && a->fids[0].ssrc == send->ssrc);
    FUZZ_CHECK(a->fids[0].rtx_ssrc == send->rtx_ssrc && a->n_ssrcs == 2);
  } else {
    FUZZ_CHECK(a->n_fids == 0 && a->n_ssrcs == 1);
  }
}

static void fuzz_check_media(const struct sdp_answer_params *p, size_t i, unsigned *taken,
                             size_t *nb) {
  const struct sdp_media *a = &back.media[i], *o = &offer.media[i];
  const struct sdp_codec *want = fuzz_want_codec(p, i), *c;

  FUZZ_CHECK(strcmp(a->mid, o->mid) == 0 && strcmp(a->type, o->type) == 0);
  FUZZ_CHECK(strcmp(a->proto, o->proto) == 0);
  if (a->port == 0)
    return;
  FUZZ_CHECK(!(*taken & (1u << a->kind)) && want != NULL);
  *taken |= 1u << a->kind;
  FUZZ_CHECK(*nb < back.n_bundle && strcmp(back.bundle[(*nb)++], a->mid) == 0);
  FUZZ_CHECK(a->port == p->port && a->rtcp_mux && a->end_of_candidates);
  FUZZ_CHECK(strcmp(a->transport.ufrag, p->ice_ufrag) == 0);
  FUZZ_CHECK(strcmp(a->transport.pwd, p->ice_pwd) == 0);
  FUZZ_CHECK(a->transport.setup == SDP_SETUP_PASSIVE);
  FUZZ_CHECK(a->codecs[0].pt == want->pt && strcmp(a->codecs[0].name, want->name) == 0);
  FUZZ_CHECK(a->codecs[0].clock == want->clock && strcmp(a->codecs[0].fmtp, want->fmtp) == 0);
  FUZZ_CHECK(a->n_codecs == 1 || a->n_codecs == 2);
  if (a->n_codecs == 2) {
    FUZZ_CHECK(a->kind == SDP_KIND_VIDEO && want->rtx_pt == a->codecs[1].pt);
    c = sdp_codec_by_pt(o, want->rtx_pt);
    FUZZ_CHECK(c != NULL && a->codecs[1].apt == want->pt);
  }
  if (p->role == SDP_ROLE_VIEWER)
    fuzz_check_viewer_media(p, a, o);
  else
    FUZZ_CHECK(a->n_ssrcs == 0 &&
               a->direction == (o->direction == SDP_DIR_SENDRECV || o->direction == SDP_DIR_SENDONLY
                                    ? SDP_DIR_RECVONLY
                                    : SDP_DIR_INACTIVE));
}

static void fuzz_check_answer(const struct sdp_answer_params *p, int len) {
  const char *why = NULL;
  char fp[SDP_FP_ALG_MAX + SDP_FP_MAX];
  unsigned taken = 0;
  size_t nb = 0;

  FUZZ_CHECK(len > 0 && (size_t)len == strlen(out));
  FUZZ_CHECK(sdp_parse(out, (size_t)len, &back, &why) == 0);
  FUZZ_CHECK(back.ice_lite && back.bundle_groups == 1 && back.n_media == offer.n_media);
  for (size_t i = 0; i < offer.n_media; i++)
    fuzz_check_media(p, i, &taken, &nb);
  FUZZ_CHECK(nb == back.n_bundle && taken != 0);
  for (size_t i = 0; i < back.n_media; i++) {
    if (back.media[i].port == 0)
      continue;
    FUZZ_CHECK(sdp_fingerprint_text(&back.media[i].transport.fp, fp, sizeof(fp)) > 0);
    FUZZ_CHECK(strcasecmp(fp, p->fingerprint) == 0);
  }
  fuzz_check_candidates(p);
}

/* sdp_answer_pick() names the m-line and codec the answer took. */
static void fuzz_check_pick(const struct sdp_answer_params *p, int rc) {
  static const enum sdp_kind kinds[2] = {SDP_KIND_AUDIO, SDP_KIND_VIDEO};
  const struct sdp_media *m;
  const struct sdp_codec *c;
  const char *why = NULL;

  for (size_t k = 0; k < 2; k++) {
    size_t i;

    FUZZ_CHECK(sdp_answer_pick(&offer, p, kinds[k], &m, &c, &why) == (rc < 0 ? rc : 0));
    if (rc < 0) {
      FUZZ_CHECK(m == NULL && c == NULL && why != NULL);
      continue;
    }
    for (i = 0; i < back.n_media; i++)
      if (back.media[i].kind == kinds[k] && back.media[i].port != 0)
        break;
    if (i == back.n_media)
      FUZZ_CHECK(m == NULL && c == NULL);
    else
      FUZZ_CHECK(m == &offer.media[i] && c != NULL && c->pt == back.media[i].codecs[0].pt);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct fuzz_params f;
  const char *why = NULL;
  int offer_ok, len;

  if (size < FUZZ_HDR)
    return 0;
  fuzz_read_params(&f, &data, &size);
  if (sdp_parse((const char *)data, size, &offer, &why) < 0)
    return 0;
  f.p.audio.codec = fuzz_codec(f.codecs & 15, SDP_KIND_AUDIO, &f.audio);
  f.p.video.codec = fuzz_codec(f.codecs >> 4, SDP_KIND_VIDEO, &f.video);
  offer_ok = sdp_check_offer(&offer, &why) == 0;
  why = NULL;
  len = sdp_answer(&offer, &f.p, out, sizeof(out), &why);
  if (!offer_ok || !fuzz_params_ok(&f.p))
    FUZZ_CHECK(len == -EINVAL && why != NULL);
  else
    FUZZ_CHECK(len > 0 || (len == -ENOENT && why != NULL));
  if (len > 0)
    fuzz_check_answer(&f.p, len);
  fuzz_check_pick(&f.p, len);
  if (len < 0)
    return 0;
  FUZZ_CHECK(sdp_answer(&offer, &f.p, again, (size_t)len, &why) == -ENOBUFS);
  FUZZ_CHECK(strlen(again) < (size_t)len && memcmp(again, out, strlen(again)) == 0);
  FUZZ_CHECK(sdp_answer(&offer, &f.p, again, (size_t)len + 1, &why) == len);
  FUZZ_CHECK(memcmp(again, out, (size_t)len + 1) == 0);
  return 0;
}
