/* libFuzzer target for src/media/sdp.c.
 *
 * The input is SDP text. It is parsed; a failure must come with a reason.
 * A parsed offer is answered twice, as a publisher's and as a viewer's (the
 * viewer is sent the codecs sdp_pick_publisher() takes from the same offer,
 * or a fixed VP8/H.264 and Opus when it has none), and each answer must
 * parse back: same m-lines and mids, ICE-lite, setup passive, our
 * candidate, the direction the role implies, a codec the offer had under
 * the same number, and a BUNDLE group of exactly the accepted mids.
 * sdp_answer_pick() must name the same m-lines and codecs, or fail the
 * same way. An answer one byte too big for its buffer must fail with
 * -ENOBUFS. Any broken check traps. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "media/sdp.h"

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond))         \
      __builtin_trap();  \
  } while (0)

#define FUZZ_FP "sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"

static struct sdp offer, back;
static char out[SDP_MAX_TEXT], small[SDP_MAX_TEXT];

/* Every string field ends inside its array. */
static void fuzz_check_struct(const struct sdp *s) {
  size_t i, j;

  FUZZ_CHECK(s->n_media <= SDP_MAX_MEDIA && s->n_bundle <= SDP_MAX_MEDIA);
  for (i = 0; i < s->n_media; i++) {
    const struct sdp_media *m = &s->media[i];

    FUZZ_CHECK(m->n_codecs <= SDP_MAX_FORMATS && m->n_ssrcs <= SDP_MAX_SSRCS);
    FUZZ_CHECK(m->n_extmaps <= SDP_MAX_EXTMAPS && m->n_fids <= SDP_MAX_FID);
    FUZZ_CHECK(m->n_candidates <= SDP_MAX_CANDIDATES);
    FUZZ_CHECK(strnlen(m->mid, sizeof(m->mid)) < sizeof(m->mid));
    FUZZ_CHECK(strnlen(m->transport.ufrag, sizeof(m->transport.ufrag)) <
               sizeof(m->transport.ufrag));
    FUZZ_CHECK(strnlen(m->transport.fp.value, SDP_FP_MAX) < SDP_FP_MAX);
    FUZZ_CHECK(strnlen(m->msid, sizeof(m->msid)) < sizeof(m->msid));
    for (j = 0; j < m->n_codecs; j++) {
      const struct sdp_codec *c = &m->codecs[j];

      FUZZ_CHECK(c->pt <= 127 && c->apt <= 127 && c->rtx_pt <= 127);
      FUZZ_CHECK(strnlen(c->fmtp, sizeof(c->fmtp)) < sizeof(c->fmtp));
      FUZZ_CHECK(sdp_codec_by_pt(m, c->pt) == c); /* PTs are unique */
      if (c->rtx_pt >= 0)
        FUZZ_CHECK(sdp_codec_by_pt(m, c->rtx_pt)->apt == c->pt);
    }
  }
}

/* Parses the answer back and checks it against the offer. */
static void fuzz_check_answer(const struct sdp_answer_params *p, int len) {
  const char *why = NULL;
  size_t i, nb = 0;

  FUZZ_CHECK(len > 0 && (size_t)len == strlen(out));
  FUZZ_CHECK(sdp_parse(out, (size_t)len, &back, &why) == 0);
  fuzz_check_struct(&back);
  FUZZ_CHECK(back.ice_lite && back.bundle_groups == 1 && back.n_media == offer.n_media);
  for (i = 0; i < offer.n_media; i++) {
    const struct sdp_media *a = &back.media[i], *o = &offer.media[i];
    const struct sdp_codec *c;

    FUZZ_CHECK(strcmp(a->mid, o->mid) == 0 && strcmp(a->type, o->type) == 0);
    if (a->port == 0)
      continue;
    FUZZ_CHECK(nb < back.n_bundle && strcmp(back.bundle[nb++], a->mid) == 0);
    FUZZ_CHECK(a->port == p->port && a->transport.setup == SDP_SETUP_PASSIVE);
    FUZZ_CHECK(strcmp(a->transport.ufrag, p->ice_ufrag) == 0 && a->rtcp_mux);
    FUZZ_CHECK(a->n_candidates == 1 && a->end_of_candidates);
    FUZZ_CHECK(a->kind == SDP_KIND_AUDIO || a->kind == SDP_KIND_VIDEO);
    FUZZ_CHECK(a->direction == SDP_DIR_INACTIVE ||
               a->direction ==
                   (p->role == SDP_ROLE_PUBLISHER ? SDP_DIR_RECVONLY : SDP_DIR_SENDONLY));
    FUZZ_CHECK(a->n_codecs == 1 || a->n_codecs == 2);
    c = sdp_codec_by_pt(o, a->codecs[0].pt);
    FUZZ_CHECK(c != NULL && strcmp(c->name, a->codecs[0].name) == 0);
    FUZZ_CHECK(c->clock == a->codecs[0].clock && strcmp(c->fmtp, a->codecs[0].fmtp) == 0);
  }
  FUZZ_CHECK(nb == back.n_bundle);
}

/* sdp_answer_pick() agrees with the answer (rc: what sdp_answer() gave). */
static void fuzz_check_pick(const struct sdp_answer_params *p, int rc) {
  static const enum sdp_kind kinds[2] = {SDP_KIND_AUDIO, SDP_KIND_VIDEO};
  const struct sdp_media *m;
  const struct sdp_codec *c;
  const char *why = NULL;
  size_t k, i;

  for (k = 0; k < 2; k++) {
    int prc = sdp_answer_pick(&offer, p, kinds[k], &m, &c, &why);

    FUZZ_CHECK(prc == (rc < 0 ? rc : 0));
    if (rc < 0)
      continue;
    for (i = 0; i < back.n_media; i++) {
      const struct sdp_media *a = &back.media[i];

      if (a->kind != kinds[k] || a->port == 0)
        continue;
      FUZZ_CHECK(m == &offer.media[i] && c != NULL && c->pt == a->codecs[0].pt);
      break;
    }
    if (i == back.n_media)
      FUZZ_CHECK(m == NULL && c == NULL);
  }
}

static void fuzz_answer(enum sdp_role role, int offer_ok, unsigned variant) {
  static const struct sdp_codec vp8 = {
      .pt = 96, .name = "VP8", .clock = 90000, .channels = 1, .apt = -1, .rtx_pt = -1};
  static const struct sdp_codec h264 = {.pt = 102,
                                        .name = "H264",
                                        .clock = 90000,
                                        .channels = 1,
                                        .apt = -1,
                                        .rtx_pt = -1,
                                        .packetization_mode = 1,
                                        .profile_level_id = 0x42e01f};
  static const struct sdp_codec opus = {
      .pt = 111, .name = "opus", .clock = 48000, .channels = 2, .apt = -1, .rtx_pt = -1};
  struct sdp_answer_params p = {
      .role = role,
      .session_id = variant,
      .ice_ufrag = "fUzZ",
      .ice_pwd = "0123456789abcdefghijkl",
      .fingerprint = FUZZ_FP,
      .addr = variant & 1 ? "2001:db8::1" : "192.0.2.1",
      .port = 9999,
      .cname = "fuzz",
      .audio = {&opus, 11, 0, "s a"},
      .video = {variant & 2 ? &h264 : &vp8, 22, variant & 4 ? 33 : 0, "s v"}};
  struct sdp_codec picked[2];
  const char *why = NULL;
  size_t i;
  int len;

  for (i = 0; i < offer.n_media; i++) {
    const struct sdp_codec *c = sdp_pick_publisher(&offer.media[i]);
    int k = offer.media[i].kind == SDP_KIND_AUDIO ? 0 : 1;

    if (c != NULL && (variant & 8)) {
      picked[k] = *c;
      if (k == 0)
        p.audio.codec = &picked[0];
      else
        p.video.codec = &picked[1];
    }
  }
  len = sdp_answer(&offer, &p, out, sizeof(out), &why);
  if (len < 0) {
    FUZZ_CHECK(why != NULL && (len == -EINVAL || len == -ENOENT));
    FUZZ_CHECK(offer_ok || len == -EINVAL);
    fuzz_check_pick(&p, len);
    return;
  }
  FUZZ_CHECK(offer_ok);
  fuzz_check_answer(&p, len);
  fuzz_check_pick(&p, len);
  FUZZ_CHECK(sdp_answer(&offer, &p, small, (size_t)len, &why) == -ENOBUFS);
  FUZZ_CHECK(strlen(small) < (size_t)len && memcmp(small, out, strlen(small)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *why = NULL;
  unsigned variant = 0;
  int rc;
  size_t i;

  rc = sdp_parse((const char *)data, size, &offer, &why);
  if (rc < 0) {
    FUZZ_CHECK(why != NULL && (rc == -EINVAL || rc == -EMSGSIZE));
    return 0;
  }
  fuzz_check_struct(&offer);
  for (i = 0; i < size; i++)
    variant += data[i];
  rc = sdp_check_offer(&offer, &why);
  FUZZ_CHECK(rc == 0 || (rc == -EINVAL && why != NULL));
  fuzz_answer(SDP_ROLE_PUBLISHER, rc == 0, variant);
  fuzz_answer(SDP_ROLE_VIEWER, rc == 0, variant);
  return 0;
}
