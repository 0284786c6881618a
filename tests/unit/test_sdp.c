/* Tests for src/media/sdp.c.
 *
 * The fixtures in tests/unit/sdp/ are offers captured from real clients,
 * unedited:
 *   chromium_*.sdp  Chromium 156 (Debian's, headless) driven by
 *                   playwright-core: publisher = fake camera and microphone
 *                   added as sendonly transceivers (_gathered: after ICE
 *                   gathering, with candidates; _datachannel: plus a data
 *                   channel); viewer = recvonly audio and video transceivers.
 *   firefox_*.sdp   Firefox ESR 153 (Debian's, headless, fake media prefs),
 *                   the same two pages.
 *   aiortc_*.sdp    python3-aiortc 1.4.0 (Debian's): publisher with
 *                   AudioStreamTrack and VideoStreamTrack, viewer with two
 *                   recvonly transceivers.
 * Offers no client makes are derived from these by line edits (struct
 * edit) or built line by line for the limits. Every table row is its own
 * cmocka test, named after the row. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "media/sdp.h"

#define FB_VIDEO (SDP_FB_NACK | SDP_FB_NACK_PLI | SDP_FB_CCM_FIR)
#define OUR_FP                                                                                   \
  "sha-256 0F:1E:2D:3C:4B:5A:69:78:87:96:A5:B4:C3:D2:E1:F0:0F:1E:2D:3C:4B:5A:69:78:87:96:A5:B4:" \
  "C3:D2:E1:F0"
#define ANSWER_MAX 16384

/* Large structs stay off the stack. */
static struct sdp offer, answer, other;
static char text[SDP_MAX_TEXT + 64], out[ANSWER_MAX];

/* ---- fixtures and edits ---- */

static char *load(const char *name, size_t *len) {
  const char *slash = strrchr(__FILE__, '/');
  char path[512];
  FILE *f;
  char *buf = malloc(SDP_MAX_TEXT);

  snprintf(path, sizeof(path), "%.*s/sdp/%s", slash ? (int)(slash - __FILE__) : 1,
           slash ? __FILE__ : ".", name);
  f = fopen(path, "rb");
  if (f == NULL)
    fail_msg("cannot open fixture %s", path);
  assert_non_null(buf);
  *len = fread(buf, 1, SDP_MAX_TEXT, f);
  fclose(f);
  return buf;
}

enum edit_op {
  ED_NONE,
  ED_DEL,   /* drop the matching line */
  ED_SUB,   /* replace match with text in the matching line */
  ED_AFTER, /* insert text (with its own line end) after the matching line */
};

/* nth: 0 for every matching line, else only the nth one (from 1). */
struct edit {
  enum edit_op op;
  const char *match;
  int nth;
  const char *text;
};

#define MAX_EDITS 3

/* Applies edits line by line to in[0..len) into out; returns the length. */
static size_t apply(const char *in, size_t len, const struct edit *e, char *o, size_t cap) {
  int seen[MAX_EDITS] = {0};
  size_t off = 0, n = 0, k;

  while (off < len) {
    const char *nl = memchr(in + off, '\n', len - off);
    size_t ll = nl ? (size_t)(nl - (in + off)) + 1 : len - off;
    char line[2048], after[2048] = "";
    int drop = 0;

    assert_true(ll < sizeof(line));
    memcpy(line, in + off, ll);
    line[ll] = '\0';
    off += ll;
    for (k = 0; k < MAX_EDITS && e[k].op != ED_NONE; k++) {
      char *hit = strstr(line, e[k].match), tmp[2048];
      if (hit == NULL || (e[k].nth && ++seen[k] != e[k].nth))
        continue;
      if (e[k].op == ED_DEL)
        drop = 1;
      else if (e[k].op == ED_AFTER)
        snprintf(after, sizeof(after), "%s", e[k].text);
      else {
        snprintf(tmp, sizeof(tmp), "%.*s%s%s", (int)(hit - line), line, e[k].text,
                 hit + strlen(e[k].match));
        memcpy(line, tmp, strlen(tmp) + 1);
      }
    }
    if (!drop) {
      assert_true(n + strlen(line) + strlen(after) < cap);
      memcpy(o + n, line, strlen(line));
      n += strlen(line);
      memcpy(o + n, after, strlen(after));
      n += strlen(after);
    }
  }
  return n;
}

/* Loads a fixture, applies edits, parses it into s; returns the rc. */
static int parse_edited(const char *file, const struct edit *e, struct sdp *s, const char **why) {
  size_t len, n;
  char *raw = load(file, &len);
  int rc;

  n = apply(raw, len, e, text, sizeof(text));
  free(raw);
  rc = sdp_parse(text, n, s, why);
  if (rc < 0)
    assert_non_null(*why);
  return rc;
}

static void parse_ok(const char *file, const struct edit *e, struct sdp *s) {
  const char *why = NULL;
  int rc = parse_edited(file, e, s, &why);

  if (rc != 0)
    fail_msg("%s: %s (line %u)", file, why, s->err_line);
}

static const struct edit NO_EDITS[MAX_EDITS];

/* ---- parsing the captured offers ---- */

struct media_expect {
  enum sdp_kind kind;
  const char *mid;
  enum sdp_direction dir;
  size_t n_codecs;
  uint16_t port;
  const char *ufrag, *pwd, *fp; /* fp: the value's first 8 chars */
  unsigned n_candidates;
  int eoc;
  size_t n_extmaps, n_ssrcs, n_fids;
  const char *msid_track; /* the track id, or "" */
};

struct parse_case {
  const char *file;
  size_t n_media;
  size_t n_bundle;
  int allow_mixed;        /* session-level a=extmap-allow-mixed */
  const char *session_fp; /* the session-level fingerprint's first 8, or "" */
  struct media_expect m[3];
};

/* clang-format off */
static const struct parse_case parse_cases[] = {
    {"chromium_publisher.sdp", 2, 2, 1, "", {
        {SDP_KIND_AUDIO, "0", SDP_DIR_SENDONLY, 8, 9, "ICFW", "vGX0uhWFu1foMkHFLNvH42/F", "25:D0:94",
         0, 0, 4, 1, 0, "e79a5bcf-8aeb-4c01-8fd4-fe5c18540367"},
        {SDP_KIND_VIDEO, "1", SDP_DIR_SENDONLY, 23, 9, "ICFW", "vGX0uhWFu1foMkHFLNvH42/F", "25:D0:94",
         0, 0, 11, 2, 1, "3a4f82a9-4d14-4e98-bb61-84f08e1a521c"}}},
    {"chromium_publisher_gathered.sdp", 2, 2, 1, "", {
        {SDP_KIND_AUDIO, "0", SDP_DIR_SENDONLY, 8, 46657, "ICFW", "vGX0uhWFu1foMkHFLNvH42/F",
         "25:D0:94", 4, 0, 4, 1, 0, "e79a5bcf-8aeb-4c01-8fd4-fe5c18540367"},
        {SDP_KIND_VIDEO, "1", SDP_DIR_SENDONLY, 23, 49285, "ICFW", "vGX0uhWFu1foMkHFLNvH42/F",
         "25:D0:94", 4, 0, 11, 2, 1, "3a4f82a9-4d14-4e98-bb61-84f08e1a521c"}}},
    {"chromium_publisher_datachannel.sdp", 3, 3, 1, "", {
        {SDP_KIND_AUDIO, "0", SDP_DIR_SENDONLY, 8, 9, "cCDx", "57bNfmgCBQ/iciLDyMCJfcqa", "68:D7:89",
         0, 0, 4, 1, 0, "82147616-8795-4a5c-89ed-6747c624da3a"},
        {SDP_KIND_VIDEO, "1", SDP_DIR_SENDONLY, 23, 9, "cCDx", "57bNfmgCBQ/iciLDyMCJfcqa", "68:D7:89",
         0, 0, 11, 2, 1, "dbaadcc2-8544-4433-90b2-191593a91c92"},
        {SDP_KIND_APPLICATION, "2", SDP_DIR_SENDRECV, 0, 9, "cCDx", "57bNfmgCBQ/iciLDyMCJfcqa",
         "68:D7:89", 0, 0, 0, 0, 0, ""}}},
    {"chromium_viewer.sdp", 2, 2, 1, "", {
        {SDP_KIND_AUDIO, "0", SDP_DIR_RECVONLY, 8, 9, "Rkhz", "cXgw9BxjUy53w0Nvm5pSBlVi", "31:E4:8D",
         0, 0, 4, 0, 0, ""},
        {SDP_KIND_VIDEO, "1", SDP_DIR_RECVONLY, 34, 9, "Rkhz", "cXgw9BxjUy53w0Nvm5pSBlVi", "31:E4:8D",
         0, 0, 11, 0, 0, ""}}},
    {"firefox_publisher.sdp", 2, 2, 0, "25:8F:30", {
        {SDP_KIND_AUDIO, "0", SDP_DIR_SENDONLY, 5, 9, "a0c5452e", "f97d27b942ede00e9247678c23ac0eeb",
         "25:8F:30", 0, 0, 4, 1, 0, "{a1b7d5be-6a61-4aff-8adc-4f73b42b4a5f}"},
        {SDP_KIND_VIDEO, "1", SDP_DIR_SENDONLY, 9, 9, "a0c5452e", "f97d27b942ede00e9247678c23ac0eeb",
         "25:8F:30", 0, 0, 5, 2, 1, "{839317c2-6771-418a-861f-6bd4c602c450}"}}},
    {"firefox_viewer.sdp", 2, 2, 0, "01:85:08", {
        {SDP_KIND_AUDIO, "0", SDP_DIR_RECVONLY, 5, 9, "b66ad50d", "b525a421fa86ac002d201492859948a4",
         "01:85:08", 0, 0, 4, 1, 0, ""},
        {SDP_KIND_VIDEO, "1", SDP_DIR_RECVONLY, 9, 9, "b66ad50d", "b525a421fa86ac002d201492859948a4",
         "01:85:08", 0, 0, 5, 1, 0, ""}}},
    {"aiortc_publisher.sdp", 2, 2, 0, "", {
        {SDP_KIND_AUDIO, "0", SDP_DIR_SENDRECV, 3, 50156, "FcUh", "i28u3D4C98tXEqJHOxl6Zu", "41:7A:E6",
         2, 1, 2, 1, 0, "148cd2e9-6b08-42f6-8e58-8fc5d3507b68"},
        {SDP_KIND_VIDEO, "1", SDP_DIR_SENDRECV, 6, 37570, "dvtT", "OG1uObZ73Sv6yc7LoxmBvF", "41:7A:E6",
         2, 1, 2, 2, 1, "4e42017b-04da-48d4-a713-bdbce140f747"}}},
    {"aiortc_viewer.sdp", 2, 2, 0, "", {
        {SDP_KIND_AUDIO, "0", SDP_DIR_RECVONLY, 3, 44847, "WxMn", "0JmRASNF95D5vDlYOmHU5T", "0A:1F:3E",
         2, 1, 2, 1, 0, "f83c5af8-7342-466b-874b-80eaeb10cb0e"},
        {SDP_KIND_VIDEO, "1", SDP_DIR_RECVONLY, 6, 54366, "n5bg", "TD11VpLCEfCDie4spu4uPJ", "0A:1F:3E",
         2, 1, 2, 2, 1, "ddac3fb2-44c0-4f0f-93f0-77a23308cecd"}}},
    /* GStreamer 1.22 webrtcbin (tests/e2e/gst_peer.py): one codec each, the
     * second m-line bundle-only with port 0, msid only on a=ssrc. */
    {"gstreamer_publisher.sdp", 2, 2, 0, "", {
        {SDP_KIND_VIDEO, "video0", SDP_DIR_SENDONLY, 1, 9, "B0PJTIRi83HfYgj3OUr98mE+dPDjIhiy",
         "4XxyMXl8EmHU6r1NKarhBw2aPBBH6/8+", "E5:87:0C", 0, 0, 0, 1, 0, ""},
        {SDP_KIND_AUDIO, "audio1", SDP_DIR_SENDONLY, 1, 0, "B0PJTIRi83HfYgj3OUr98mE+dPDjIhiy",
         "4XxyMXl8EmHU6r1NKarhBw2aPBBH6/8+", "E5:87:0C", 0, 0, 0, 1, 0, ""}}},
    {"gstreamer_viewer.sdp", 2, 2, 0, "", {
        {SDP_KIND_AUDIO, "audio0", SDP_DIR_RECVONLY, 1, 9, "yk6mrRDrlb7QQ0YeANLjByIatglMg1IO",
         "M97CWrODqbwrph61JnVk1ERQXYaQ28uC", "1B:17:3B", 0, 0, 0, 0, 0, ""},
        {SDP_KIND_VIDEO, "video1", SDP_DIR_RECVONLY, 1, 0, "yk6mrRDrlb7QQ0YeANLjByIatglMg1IO",
         "M97CWrODqbwrph61JnVk1ERQXYaQ28uC", "1B:17:3B", 0, 0, 0, 0, 0, ""}}},
};
/* clang-format on */

static void test_parse_fixture(void **state) {
  const struct parse_case *c = *state;
  size_t i;

  parse_ok(c->file, NO_EDITS, &offer);
  assert_int_equal(offer.n_media, c->n_media);
  assert_int_equal(offer.bundle_groups, 1);
  assert_int_equal(offer.n_bundle, c->n_bundle);
  assert_int_equal(offer.extmap_allow_mixed, c->allow_mixed);
  assert_int_equal(offer.ice_lite, 0);
  assert_int_equal(strncmp(offer.transport.fp.value, c->session_fp, strlen(c->session_fp)), 0);
  assert_int_equal(offer.transport.fp.value[0] != '\0', c->session_fp[0] != '\0');
  for (i = 0; i < c->n_media; i++) {
    const struct sdp_media *m = &offer.media[i];
    const struct media_expect *e = &c->m[i];
    const char *track = strchr(m->msid, ' ');

    assert_int_equal(m->kind, e->kind);
    assert_string_equal(m->mid, e->mid);
    assert_string_equal(offer.bundle[i], e->mid);
    assert_int_equal(m->direction, e->dir);
    assert_int_equal(m->n_codecs, e->n_codecs);
    assert_int_equal(m->port, e->port);
    assert_int_equal(m->rtp, e->kind != SDP_KIND_APPLICATION);
    assert_int_equal(m->rtcp_mux, e->kind != SDP_KIND_APPLICATION);
    assert_string_equal(m->transport.ufrag, e->ufrag);
    assert_string_equal(m->transport.pwd, e->pwd);
    assert_string_equal(m->transport.fp.alg, "sha-256");
    assert_int_equal(strlen(m->transport.fp.value), 95);
    assert_memory_equal(m->transport.fp.value, e->fp, 8);
    assert_int_equal(m->transport.setup, SDP_SETUP_ACTPASS);
    assert_int_equal(m->n_candidates, e->n_candidates);
    assert_int_equal(m->end_of_candidates, e->eoc);
    assert_int_equal(m->n_extmaps, e->n_extmaps);
    assert_int_equal(m->n_ssrcs, e->n_ssrcs);
    assert_int_equal(m->n_fids, e->n_fids);
    assert_string_equal(track ? track + 1 : "", e->msid_track);
  }
}

/* One payload type of one fixture. */
struct codec_case {
  const char *file;
  size_t mindex;
  uint8_t pt;
  const char *name;
  uint32_t clock;
  uint8_t channels;
  const char *fmtp;
  int apt, rtx_pt, pmode;
  uint32_t plid;
  unsigned fb;
};

#define FB_ALL (FB_VIDEO | SDP_FB_GOOG_REMB | SDP_FB_TRANSPORT_CC)
#define CHROME_H264(pm, plid) \
  "level-asymmetry-allowed=1;packetization-mode=" #pm ";profile-level-id=" #plid

/* clang-format off */
static const struct codec_case codec_cases[] = {
    {"chromium_publisher.sdp", 0, 111, "opus", 48000, 2, "minptime=10;useinbandfec=1", -1, -1, 0,
     0x42000a, SDP_FB_TRANSPORT_CC},
    {"chromium_publisher.sdp", 0, 63, "red", 48000, 2, "111/111", -1, -1, 0, 0x42000a, 0},
    {"chromium_publisher.sdp", 0, 0, "PCMU", 8000, 1, "", -1, -1, 0, 0x42000a, 0},
    {"chromium_publisher.sdp", 0, 126, "telephone-event", 8000, 1, "", -1, -1, 0, 0x42000a, 0},
    {"chromium_publisher.sdp", 1, 96, "VP8", 90000, 1, "", -1, 97, 0, 0x42000a, FB_ALL},
    {"chromium_publisher.sdp", 1, 97, "rtx", 90000, 1, "apt=96", 96, -1, 0, 0x42000a, 0},
    {"chromium_publisher.sdp", 1, 102, "H264", 90000, 1, CHROME_H264(1, 42001f), -1, 103, 1,
     0x42001f, FB_ALL},
    {"chromium_publisher.sdp", 1, 104, "H264", 90000, 1, CHROME_H264(0, 42001f), -1, 107, 0,
     0x42001f, FB_ALL},
    {"chromium_publisher.sdp", 1, 108, "H264", 90000, 1, CHROME_H264(1, 42e01f), -1, 109, 1,
     0x42e01f, FB_ALL},
    {"chromium_publisher.sdp", 1, 116, "H264", 90000, 1, CHROME_H264(1, 4d001f), -1, 117, 1,
     0x4d001f, FB_ALL},
    {"chromium_publisher.sdp", 1, 45, "AV1", 90000, 1, "level-idx=5;profile=0;tier=0", -1, 46, 0,
     0x42000a, FB_ALL},
    {"chromium_publisher.sdp", 1, 100, "VP9", 90000, 1, "profile-id=2", -1, 101, 0, 0x42000a,
     FB_ALL},
    {"chromium_publisher.sdp", 1, 118, "red", 90000, 1, "", -1, 119, 0, 0x42000a, 0},
    {"chromium_publisher.sdp", 1, 120, "ulpfec", 90000, 1, "", -1, -1, 0, 0x42000a, 0},
    {"chromium_viewer.sdp", 1, 41, "H264", 90000, 1, CHROME_H264(1, f4001f), -1, 42, 1, 0xf4001f,
     FB_ALL},
    {"chromium_viewer.sdp", 1, 49, "flexfec-03", 90000, 1, "repair-window=10000000", -1, -1, 0,
     0x42000a, SDP_FB_GOOG_REMB | SDP_FB_TRANSPORT_CC},
    /* Firefox writes fmtp before rtpmap, and G722 with "/1". */
    {"firefox_publisher.sdp", 0, 109, "opus", 48000, 2,
     "maxplaybackrate=48000;stereo=1;useinbandfec=1", -1, -1, 0, 0x42000a, SDP_FB_TRANSPORT_CC},
    {"firefox_publisher.sdp", 0, 9, "G722", 8000, 1, "", -1, -1, 0, 0x42000a, SDP_FB_TRANSPORT_CC},
    {"firefox_publisher.sdp", 0, 101, "telephone-event", 8000, 1, "0-15", -1, -1, 0, 0x42000a, 0},
    {"firefox_publisher.sdp", 1, 120, "VP8", 90000, 1, "max-fs=12288;max-fr=60", -1, 124, 0,
     0x42000a, FB_ALL},
    {"firefox_publisher.sdp", 1, 124, "rtx", 90000, 1, "apt=120", 120, -1, 0, 0x42000a, 0},
    {"firefox_publisher.sdp", 1, 122, "red", 90000, 1, "", -1, 119, 0, 0x42000a, FB_ALL},
    {"aiortc_publisher.sdp", 0, 96, "opus", 48000, 2, "", -1, -1, 0, 0x42000a, 0},
    {"aiortc_publisher.sdp", 1, 97, "VP8", 90000, 1, "", -1, 98, 0, 0x42000a,
     SDP_FB_NACK | SDP_FB_NACK_PLI | SDP_FB_GOOG_REMB},
    {"aiortc_publisher.sdp", 1, 101, "H264", 90000, 1, CHROME_H264(1, 42e01f), -1, 102, 1,
     0x42e01f, SDP_FB_NACK | SDP_FB_NACK_PLI | SDP_FB_GOOG_REMB},
};
/* clang-format on */

static void test_codec(void **state) {
  const struct codec_case *c = *state;
  const struct sdp_codec *k;

  parse_ok(c->file, NO_EDITS, &offer);
  k = sdp_codec_by_pt(&offer.media[c->mindex], c->pt);
  assert_non_null(k);
  assert_string_equal(k->name, c->name);
  assert_int_equal(k->clock, c->clock);
  assert_int_equal(k->channels, c->channels);
  assert_string_equal(k->fmtp, c->fmtp);
  assert_int_equal(k->apt, c->apt);
  assert_int_equal(k->rtx_pt, c->rtx_pt);
  assert_int_equal(k->packetization_mode, c->pmode);
  assert_int_equal(k->profile_level_id, c->plid);
  assert_int_equal(k->fb, c->fb);
}

/* The details the tables above do not reach. */
static void test_parse_details(void **state) {
  const struct sdp_media *v;

  parse_ok("chromium_publisher.sdp", NO_EDITS, &offer);
  v = &offer.media[1];
  assert_string_equal(v->type, "video");
  assert_string_equal(v->proto, "UDP/TLS/RTP/SAVPF");
  assert_string_equal(v->fmt0, "96");
  assert_string_equal(v->transport.options, "trickle");
  assert_int_equal(v->rtcp_rsize, 1);
  assert_int_equal(v->extmaps[0].id, 14);
  assert_string_equal(v->extmaps[0].uri, "urn:ietf:params:rtp-hdrext:toffset");
  assert_int_equal(v->extmaps[0].dir, SDP_EXTMAP_DEFAULT);
  assert_int_equal(v->fids[0].ssrc, 2880304085u);
  assert_int_equal(v->fids[0].rtx_ssrc, 154051746u);
  assert_int_equal(v->ssrcs[1].ssrc, 154051746u);
  assert_string_equal(v->ssrcs[1].cname, "+PvO0C/TXUnMEm+Z");
  assert_string_equal(v->ssrcs[1].msid, "903da7c8-6321-4293-801d-87dcbe03f339 "
                                        "3a4f82a9-4d14-4e98-bb61-84f08e1a521c");
  assert_string_equal(v->msid, v->ssrcs[1].msid);
  assert_string_equal(offer.transport.ufrag, ""); /* Chromium: all per m-line */

  /* Firefox: fingerprint and ice-options at session level, extmap
   * directions, ssrc lines without msid, ssrc-group after the ssrcs. */
  parse_ok("firefox_publisher.sdp", NO_EDITS, &offer);
  v = &offer.media[0];
  assert_string_equal(offer.transport.options, "trickle");
  assert_string_equal(v->transport.options, "trickle");
  assert_int_equal(v->extmap_allow_mixed, 1);
  assert_int_equal(v->extmaps[1].id, 2);
  assert_int_equal(v->extmaps[1].dir, SDP_EXTMAP_RECVONLY);
  assert_string_equal(v->extmaps[1].uri, "urn:ietf:params:rtp-hdrext:csrc-audio-level");
  assert_string_equal(v->ssrcs[0].cname, "{0331aa8f-c7dd-44ff-b838-d2d98a4059e4}");
  assert_string_equal(v->ssrcs[0].msid, "");
  assert_int_equal(offer.media[1].fids[0].ssrc, 2236139018u);
  assert_int_equal(offer.media[1].fids[0].rtx_ssrc, 2762467844u);

  /* aiortc: candidates inline, a different ufrag per m-line; the BUNDLE
   * transport is the first mid's. */
  parse_ok("aiortc_publisher.sdp", NO_EDITS, &offer);
  assert_ptr_equal(sdp_bundle_media(&offer), &offer.media[0]);
  assert_string_equal(sdp_bundle_media(&offer)->transport.ufrag, "FcUh");
  assert_string_equal(offer.media[1].ssrcs[0].cname, "60c3a424-42c7-40bd-befd-524d7c396e7e");

  /* webrtcbin: an '@' in the msid's stream id and the cname (not an RFC
   * 8830 token char, taken all the same). */
  parse_ok("gstreamer_publisher.sdp", NO_EDITS, &offer);
  assert_string_equal(offer.media[0].ssrcs[0].msid,
                      "user3972372015@host-8869ce1b webrtctransceiver0");
  assert_string_equal(offer.media[1].ssrcs[0].cname, "user3972372015@host-8869ce1b");
}

static void test_fingerprint_text(void **state) {
  char fp[128];

  parse_ok("aiortc_publisher.sdp", NO_EDITS, &offer);
  assert_int_equal(sdp_fingerprint_text(&offer.media[0].transport.fp, fp, sizeof(fp)), 103);
  assert_string_equal(fp, "sha-256 41:7A:E6:FD:75:2B:1C:79:A9:C6:DB:2D:EA:FF:83:B9:0A:A2:ED:53:"
                          "B0:DF:6B:85:3B:7F:72:7F:27:A4:3B:AB");
  assert_int_equal(sdp_fingerprint_text(&offer.media[0].transport.fp, fp, 103), -ENOBUFS);
  assert_int_equal(sdp_fingerprint_text(&offer.transport.fp, fp, sizeof(fp)), -EINVAL);
}

/* LF line ends, no final line end, and CRLF give the same struct. */
static void test_line_ends(void **state) {
  static const char *const files[] = {"chromium_publisher.sdp", "firefox_viewer.sdp",
                                      "aiortc_publisher.sdp"};
  const char *why = NULL;
  size_t f, len, i, n;

  for (f = 0; f < 3; f++) {
    char *raw = load(files[f], &len);

    assert_int_equal(sdp_parse(raw, len, &offer, &why), 0);
    for (i = 0, n = 0; i < len; i++)
      if (raw[i] != '\r')
        text[n++] = raw[i];
    assert_true(n < len);
    assert_int_equal(sdp_parse(text, n, &other, &why), 0);
    assert_memory_equal(&offer, &other, sizeof(offer));
    assert_int_equal(sdp_parse(raw, len - 2, &other, &why), 0); /* no final CRLF */
    assert_memory_equal(&offer, &other, sizeof(offer));
    free(raw);
  }
}

/* Nothing in a struct sdp points into the text. */
static void test_outlives_text(void **state) {
  const char *why = NULL;
  size_t len;
  char *raw = load("chromium_publisher.sdp", &len);

  assert_int_equal(sdp_parse(raw, len, &offer, &why), 0);
  memset(raw, 'X', len);
  free(raw);
  assert_string_equal(offer.media[1].mid, "1");
  assert_string_equal(offer.media[1].transport.pwd, "vGX0uhWFu1foMkHFLNvH42/F");
  assert_string_equal(sdp_codec_by_pt(&offer.media[1], 108)->fmtp, CHROME_H264(1, 42e01f));
}

/* Every prefix of a capture, in a buffer of exactly its length, either
 * parses or fails with a reason. */
static void test_prefixes(void **state) {
  static const char *const files[] = {"chromium_publisher_gathered.sdp", "firefox_publisher.sdp",
                                      "aiortc_viewer.sdp"};
  size_t f, len, k;

  for (f = 0; f < 3; f++) {
    char *raw = load(files[f], &len);

    for (k = 0; k <= len; k++) {
      char *copy = malloc(k ? k : 1);
      const char *why = NULL;
      int rc;

      memcpy(copy, raw, k);
      rc = sdp_parse(copy, k, &offer, &why);
      free(copy);
      assert_true(rc == 0 || (rc == -EINVAL && why != NULL));
      if (k == 0)
        assert_string_equal(why, "SDP is empty");
    }
    free(raw);
  }
}

/* ---- answers ---- */

static const struct sdp_codec *pick(const char *file, enum sdp_kind kind, struct sdp_codec *copy) {
  size_t i;

  parse_ok(file, NO_EDITS, &other);
  for (i = 0; i < other.n_media; i++) {
    if (other.media[i].kind == kind && sdp_pick_publisher(&other.media[i])) {
      *copy = *sdp_pick_publisher(&other.media[i]);
      return copy;
    }
  }
  fail_msg("%s has no codec onair takes", file);
  return NULL;
}

static struct sdp_answer_params params(enum sdp_role role) {
  struct sdp_answer_params p = {
      .role = role,
      .session_id = 4611686018427387904ull,
      .ice_ufrag = "oNaIr1",
      .ice_pwd = "0123456789abcdefABCDEF+/",
      .fingerprint = OUR_FP,
      .addr = "192.0.2.7",
      .port = 40000,
      .cname = "onair-cname",
      .audio = {NULL, 1111, 0, "onair-stream onair-audio"},
      .video = {NULL, 2222, 0, "onair-stream onair-video"},
  };
  return p;
}

/* Checks what every answer must hold, after parsing it back into `answer`:
 * m-lines follow the offer, accepted ones carry our transport and one
 * candidate, and the BUNDLE group lists exactly the accepted mids. */
static void check_answer(const struct sdp *o, const struct sdp_answer_params *p, int len) {
  const char *why = NULL;
  size_t i, nb = 0;

  assert_true(len > 0 && (size_t)len == strlen(out));
  if (sdp_parse(out, (size_t)len, &answer, &why) != 0)
    fail_msg("answer does not parse: %s (line %u)\n%s", why, answer.err_line, out);
  assert_int_equal(answer.ice_lite, 1);
  assert_int_equal(answer.bundle_groups, 1);
  assert_int_equal(answer.n_media, o->n_media);
  for (i = 0; i < o->n_media; i++) {
    const struct sdp_media *m = &answer.media[i], *om = &o->media[i];

    assert_string_equal(m->mid, om->mid);
    assert_string_equal(m->type, om->type);
    assert_string_equal(m->proto, om->proto);
    if (m->port == 0)
      continue;
    assert_string_equal(answer.bundle[nb++], m->mid);
    assert_int_equal(m->port, p->port);
    assert_string_equal(m->transport.ufrag, p->ice_ufrag);
    assert_string_equal(m->transport.pwd, p->ice_pwd);
    assert_string_equal(m->transport.fp.alg, "sha-256");
    assert_string_equal(m->transport.fp.value, &OUR_FP[8]); /* after "sha-256 " */
    assert_int_equal(m->transport.setup, SDP_SETUP_PASSIVE);
    assert_int_equal(m->rtcp_mux, 1);
    assert_int_equal(m->n_candidates, 1 + p->nmore);
    assert_int_equal(m->end_of_candidates, 1);
    assert_int_equal(m->n_extmaps, 0);
    /* The chosen codec is the offer's, under the offer's number. */
    assert_true(m->n_codecs == 1 || m->n_codecs == 2);
    assert_string_equal(m->codecs[0].name, sdp_codec_by_pt(om, m->codecs[0].pt)->name);
    assert_string_equal(m->codecs[0].fmtp, sdp_codec_by_pt(om, m->codecs[0].pt)->fmtp);
    assert_int_equal(m->codecs[0].fb & ~FB_VIDEO, 0);
  }
  assert_int_equal(answer.n_bundle, nb);
  assert_non_null(strstr(out, strchr(p->addr, ':') ? "\r\nc=IN IP6 " : "\r\nc=IN IP4 "));
}

/* The accepted m-line of a kind in the parsed answer, or NULL. */
static const struct sdp_media *answered(enum sdp_kind kind) {
  size_t i;

  for (i = 0; i < answer.n_media; i++)
    if (answer.media[i].kind == kind && answer.media[i].port != 0)
      return &answer.media[i];
  return NULL;
}

/* sdp_answer_pick() names, for each kind, the m-line and PT the answer has. */
static void check_pick(const struct sdp *o, const struct sdp_answer_params *p) {
  static const enum sdp_kind kinds[] = {SDP_KIND_AUDIO, SDP_KIND_VIDEO};
  const struct sdp_media *m;
  const struct sdp_codec *c;
  const char *why = NULL;
  size_t k;

  for (k = 0; k < 2; k++) {
    const struct sdp_media *a = answered(kinds[k]);

    assert_int_equal(sdp_answer_pick(o, p, kinds[k], &m, &c, &why), 0);
    if (a == NULL) {
      assert_null(m);
      assert_null(c);
      continue;
    }
    assert_non_null(m);
    assert_string_equal(m->mid, a->mid);
    assert_ptr_equal(c, sdp_codec_by_pt(m, a->codecs[0].pt));
  }
}

/* pt -1: the kind is rejected (or absent); rtx -1: no RTX. */
struct pub_case {
  const char *name, *file;
  struct edit edits[MAX_EDITS];
  int audio_pt, video_pt, video_rtx;
  unsigned video_fb;
  enum sdp_direction video_dir;
  const char *video_fmtp;
};

/* clang-format off */
static const struct pub_case pub_cases[] = {
    {"pub_chromium", "chromium_publisher.sdp", {{0}}, 111, 96, 97, FB_VIDEO, SDP_DIR_RECVONLY, ""},
    {"pub_chromium_gathered", "chromium_publisher_gathered.sdp", {{0}}, 111, 96, 97, FB_VIDEO,
     SDP_DIR_RECVONLY, ""},
    {"pub_chromium_datachannel_rejected", "chromium_publisher_datachannel.sdp", {{0}}, 111, 96, 97,
     FB_VIDEO, SDP_DIR_RECVONLY, ""},
    {"pub_firefox", "firefox_publisher.sdp", {{0}}, 109, 120, 124, FB_VIDEO, SDP_DIR_RECVONLY,
     "max-fs=12288;max-fr=60"},
    /* aiortc offers sendrecv and no ccm fir. */
    {"pub_aiortc", "aiortc_publisher.sdp", {{0}}, 96, 97, 98, SDP_FB_NACK | SDP_FB_NACK_PLI,
     SDP_DIR_RECVONLY, ""},
    {"pub_h264_when_no_vp8", "chromium_publisher.sdp",
     {{ED_SUB, "SAVPF 96 97 102", 0, "SAVPF 102"}}, 111, 108, 109, FB_VIDEO, SDP_DIR_RECVONLY,
     CHROME_H264(1, 42e01f)},
    {"pub_h264_baseline_when_no_cb", "chromium_publisher.sdp",
     {{ED_SUB, "SAVPF 96 97 102 103 104 107 108 109", 0, "SAVPF 102 103 104 107"}}, 111, 102, 103,
     FB_VIDEO, SDP_DIR_RECVONLY, CHROME_H264(1, 42001f)},
    /* OBS's x264 (B-frames on) sends Main or High: taken when nothing better is
     * offered. */
    {"pub_h264_main_when_only_main", "chromium_publisher.sdp",
     {{ED_SUB, "SAVPF 96 97 102 103 104 107 108 109 114 115 116 117 39 40 45 46 98", 0,
       "SAVPF 116 117"}},
     111, 116, 117, FB_VIDEO, SDP_DIR_RECVONLY, CHROME_H264(1, 4d001f)},
    {"pub_aiortc_h264_prefers_42e01f", "aiortc_publisher.sdp",
     {{ED_SUB, "SAVPF 97 98 99", 0, "SAVPF 99"}}, 96, 101, 102, SDP_FB_NACK | SDP_FB_NACK_PLI,
     SDP_DIR_RECVONLY, CHROME_H264(1, 42e01f)},
    {"pub_vp9_only_video_rejected", "chromium_publisher.sdp",
     {{ED_SUB, "SAVPF 96 97 102 103 104 107 108 109 114 115 116 117 39 40 45 46 98", 0, "SAVPF 98"}},
     111, -1, -1, 0, 0, ""},
    {"pub_inactive_video", "chromium_publisher.sdp", {{ED_SUB, "a=sendonly", 2, "a=inactive"}}, 111,
     96, 97, FB_VIDEO, SDP_DIR_INACTIVE, ""},
    {"pub_setup_active_accepted", "chromium_publisher.sdp",
     {{ED_SUB, "a=setup:actpass", 0, "a=setup:active"}}, 111, 96, 97, FB_VIDEO, SDP_DIR_RECVONLY,
     ""},
    {"pub_second_video_rejected", "chromium_publisher.sdp",
     {{ED_SUB, "a=group:BUNDLE 0 1", 0, "a=group:BUNDLE 0 1 2"},
      {ED_AFTER, "a=ssrc:154051746 msid", 0,
       "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=rtpmap:96 VP8/90000\r\na=rtcp-mux\r\n"
       "a=ice-ufrag:ICFW\r\na=ice-pwd:vGX0uhWFu1foMkHFLNvH42/F\r\na=setup:actpass\r\n"
       "a=fingerprint:sha-256 AA:BB\r\na=sendonly\r\n"}},
     111, 96, 97, FB_VIDEO, SDP_DIR_RECVONLY, ""},
    {"pub_not_bundled_rejected", "chromium_publisher.sdp",
     {{ED_SUB, "a=group:BUNDLE 0 1", 0, "a=group:BUNDLE 0"}}, 111, -1, -1, 0, 0, ""},
    {"pub_port_zero_rejected", "chromium_publisher.sdp", {{ED_SUB, "m=video 9", 0, "m=video 0"}},
     111, -1, -1, 0, 0, ""},
    {"pub_plain_rtp_rejected", "chromium_publisher.sdp",
     {{ED_SUB, "m=video 9 UDP/TLS/RTP/SAVPF", 0, "m=video 9 RTP/AVPF"}}, 111, -1, -1, 0, 0, ""},
    /* A bundle-only m-line (port 0) is taken; the BUNDLE tag is not it. */
    {"pub_bundle_only_accepted", "chromium_publisher.sdp",
     {{ED_SUB, "m=video 9", 0, "m=video 0"}, {ED_AFTER, "a=mid:1", 0, "a=bundle-only\r\n"}}, 111,
     96, 97, FB_VIDEO, SDP_DIR_RECVONLY, ""},
};
/* clang-format on */

static void test_publisher_answer(void **state) {
  const struct pub_case *c = *state;
  struct sdp_answer_params p = params(SDP_ROLE_PUBLISHER);
  const struct sdp_media *a, *v;
  const char *why = NULL;
  int len;

  parse_ok(c->file, c->edits, &offer);
  len = sdp_answer(&offer, &p, out, sizeof(out), &why);
  if (len < 0)
    fail_msg("%s: %d %s", c->name, len, why);
  check_answer(&offer, &p, len);
  check_pick(&offer, &p);
  assert_non_null(strstr(out, "\r\na=candidate:1 1 udp 2130706431 192.0.2.7 40000 typ host\r\n"));
  assert_non_null(strstr(out, "\r\no=- 4611686018427387904 "));
  assert_null(strstr(out, "a=ssrc"));
  assert_null(strstr(out, "a=msid"));
  a = answered(SDP_KIND_AUDIO);
  v = answered(SDP_KIND_VIDEO);
  assert_non_null(a);
  assert_int_equal(a->direction, SDP_DIR_RECVONLY);
  assert_int_equal(a->n_codecs, 1);
  assert_int_equal(a->codecs[0].pt, c->audio_pt);
  assert_int_equal(a->codecs[0].fb, 0); /* no transport-cc for now */
  assert_int_equal(a->n_ssrcs, 0);
  if (c->video_pt < 0) {
    assert_null(v);
    assert_int_equal(answer.n_bundle, 1);
    return;
  }
  assert_non_null(v);
  assert_int_equal(v->direction, c->video_dir);
  assert_int_equal(v->codecs[0].pt, c->video_pt);
  assert_int_equal(v->codecs[0].fb, c->video_fb);
  assert_string_equal(v->codecs[0].fmtp, c->video_fmtp);
  assert_int_equal(v->codecs[0].rtx_pt, c->video_rtx);
  assert_int_equal(v->n_codecs, 2);
  assert_string_equal(v->codecs[1].name, "rtx");
  assert_int_equal(v->codecs[1].apt, c->video_pt);
}

/* A viewer's offer answered with what a publisher sends: the publisher's
 * codec is found in the viewer's offer, under the viewer's number. */
struct view_case {
  const char *name, *file;
  struct edit edits[MAX_EDITS];
  const char *pub_file;   /* codecs picked from this publisher offer... */
  struct sdp_codec video; /* ...or this one when pub_file is NULL */
  uint32_t rtx_ssrc;
  int rc;
  const char *why;
  int audio_pt, video_pt, video_rtx;
};

#define H264(pt_, pm, plid)                                                            \
  {                                                                                    \
    .pt = pt_, .name = "H264", .clock = 90000, .channels = 1, .apt = -1, .rtx_pt = -1, \
    .packetization_mode = pm, .profile_level_id = plid                                 \
  }
#define NO_VIDEO \
  { .name = "" }
#define WHY_VIDEO "the viewer offers no codec matching the broadcaster's video"

/* clang-format off */
static const struct view_case view_cases[] = {
    /* Firefox's VP8 is PT 120, Chromium's viewer calls it 96. */
    {"view_chromium_vp8_from_firefox", "chromium_viewer.sdp", {{0}}, "firefox_publisher.sdp",
     NO_VIDEO, 3333, 0, NULL, 111, 96, 97},
    {"view_chromium_vp8_from_chromium", "chromium_viewer.sdp", {{0}}, "chromium_publisher.sdp",
     NO_VIDEO, 3333, 0, NULL, 111, 96, 97},
    {"view_chromium_vp8_no_rtx_ssrc", "chromium_viewer.sdp", {{0}}, "aiortc_publisher.sdp",
     NO_VIDEO, 0, 0, NULL, 111, 96, -1},
    {"view_firefox_vp8_from_chromium", "firefox_viewer.sdp", {{0}}, "chromium_publisher.sdp",
     NO_VIDEO, 3333, 0, NULL, 109, 120, 124},
    {"view_aiortc_vp8_from_chromium", "aiortc_viewer.sdp", {{0}}, "chromium_publisher.sdp",
     NO_VIDEO, 3333, 0, NULL, 96, 97, 98},
    {"view_chromium_h264_cb", "chromium_viewer.sdp", {{0}}, NULL, H264(126, 1, 0x42e01f), 3333, 0,
     NULL, -1, 108, 109},
    {"view_chromium_h264_mode0", "chromium_viewer.sdp", {{0}}, NULL, H264(97, 0, 0x42e01f), 3333, 0,
     NULL, -1, 114, 115},
    {"view_chromium_h264_main", "chromium_viewer.sdp", {{0}}, NULL, H264(97, 1, 0x4d001f), 3333, 0,
     NULL, -1, 116, 117},
    {"view_chromium_h264_lower_level", "chromium_viewer.sdp", {{0}}, NULL, H264(97, 1, 0x42e00d),
     3333, 0, NULL, -1, 108, 109},
    {"view_chromium_h264_level_too_high", "chromium_viewer.sdp", {{0}}, NULL,
     H264(97, 1, 0x42e034), 3333, -ENOENT, WHY_VIDEO, -1, -1, -1},
    {"view_aiortc_h264_cb", "aiortc_viewer.sdp", {{0}}, NULL, H264(126, 1, 0x42e01f), 3333, 0, NULL,
     -1, 101, 102},
    /* Without its 42e01f entry, aiortc's Baseline 42001f can decode CB. */
    {"view_aiortc_h264_baseline_decodes_cb", "aiortc_viewer.sdp",
     {{ED_DEL, "a=fmtp:101 ", 0, NULL}}, NULL, H264(126, 1, 0x42e01f), 3333, 0, NULL, -1, 99, 100},
    {"view_aiortc_h264_cb_cannot_decode_baseline", "aiortc_viewer.sdp",
     {{ED_DEL, "a=fmtp:99 ", 0, NULL}}, NULL, H264(126, 1, 0x42001f), 3333, -ENOENT, WHY_VIDEO, -1,
     -1, -1},
    {"view_firefox_no_h264", "firefox_viewer.sdp", {{0}}, NULL, H264(126, 1, 0x42e01f), 3333,
     -ENOENT, WHY_VIDEO, -1, -1, -1},
    {"view_aiortc_no_vp9", "aiortc_viewer.sdp", {{0}}, NULL,
     {.pt = 98, .name = "VP9", .clock = 90000, .channels = 1, .apt = -1, .rtx_pt = -1}, 3333,
     -ENOENT, WHY_VIDEO, -1, -1, -1},
    {"view_chromium_vp9", "chromium_viewer.sdp", {{0}}, NULL,
     {.pt = 39, .name = "vp9", .clock = 90000, .channels = 1, .apt = -1, .rtx_pt = -1}, 3333, 0,
     NULL, -1, 98, 99},
    {"view_audio_only_publisher", "chromium_viewer.sdp", {{0}}, NULL, NO_VIDEO, 0, 0, NULL, 111, -1,
     -1},
    {"view_inactive_video", "chromium_viewer.sdp", {{ED_SUB, "a=recvonly", 2, "a=inactive"}},
     "chromium_publisher.sdp", NO_VIDEO, 3333, 0, NULL, 111, 96, -1},
    /* aiortc's publisher offer (sendrecv) taken as a viewer's. */
    {"view_sendrecv_offer", "aiortc_publisher.sdp", {{0}}, "firefox_publisher.sdp", NO_VIDEO, 3333,
     0, NULL, 96, 97, 98},
};
/* clang-format on */

static void check_viewer_media(const struct sdp_media *m, const struct sdp_send *s, int pt, int rtx,
                               enum sdp_direction offered) {
  int sending = offered == SDP_DIR_RECVONLY || offered == SDP_DIR_SENDRECV;

  assert_non_null(m);
  assert_int_equal(m->codecs[0].pt, pt);
  assert_int_equal(m->codecs[0].rtx_pt, rtx);
  assert_int_equal(m->n_codecs, rtx < 0 ? 1 : 2);
  assert_int_equal(m->direction, sending ? SDP_DIR_SENDONLY : SDP_DIR_INACTIVE);
  if (!sending) {
    assert_int_equal(m->n_ssrcs, 0);
    return;
  }
  assert_string_equal(m->msid, s->msid);
  assert_int_equal(m->n_ssrcs, rtx < 0 ? 1 : 2);
  assert_int_equal(m->ssrcs[0].ssrc, s->ssrc);
  assert_string_equal(m->ssrcs[0].cname, "onair-cname");
  assert_string_equal(m->ssrcs[0].msid, s->msid);
  assert_int_equal(m->n_fids, rtx < 0 ? 0 : 1);
  if (rtx >= 0) {
    assert_int_equal(m->fids[0].ssrc, s->ssrc);
    assert_int_equal(m->fids[0].rtx_ssrc, s->rtx_ssrc);
    assert_int_equal(m->ssrcs[1].ssrc, s->rtx_ssrc);
  }
}

static void test_viewer_answer(void **state) {
  const struct view_case *c = *state;
  struct sdp_answer_params p = params(SDP_ROLE_VIEWER);
  struct sdp_codec audio, video = c->video;
  const char *why = NULL;
  int len;

  if (c->pub_file) {
    p.audio.codec = pick(c->pub_file, SDP_KIND_AUDIO, &audio);
    p.video.codec = pick(c->pub_file, SDP_KIND_VIDEO, &video);
  } else if (video.name[0] != '\0') {
    p.video.codec = &video;
  } else {
    p.audio.codec = pick("firefox_publisher.sdp", SDP_KIND_AUDIO, &audio);
  }
  p.video.rtx_ssrc = c->rtx_ssrc;
  parse_ok(c->file, c->edits, &offer);
  len = sdp_answer(&offer, &p, out, sizeof(out), &why);
  if (c->rc < 0) {
    const struct sdp_media *m;
    const struct sdp_codec *k;

    assert_int_equal(len, c->rc);
    assert_string_equal(why, c->why);
    why = NULL;
    assert_int_equal(sdp_answer_pick(&offer, &p, SDP_KIND_VIDEO, &m, &k, &why), c->rc);
    assert_string_equal(why, c->why);
    return;
  }
  if (len < 0)
    fail_msg("%s: %d %s", c->name, len, why);
  check_answer(&offer, &p, len);
  check_pick(&offer, &p);
  assert_non_null(strstr(out, "\r\na=msid-semantic: WMS *\r\n"));
  if (c->audio_pt < 0)
    assert_null(answered(SDP_KIND_AUDIO));
  else
    check_viewer_media(answered(SDP_KIND_AUDIO), &p.audio, c->audio_pt, -1,
                       offer.media[0].direction);
  if (c->video_pt < 0) {
    assert_null(answered(SDP_KIND_VIDEO));
    return;
  }
  check_viewer_media(answered(SDP_KIND_VIDEO), &p.video, c->video_pt, c->video_rtx,
                     offer.media[1].direction);
  assert_int_equal(answered(SDP_KIND_VIDEO)->codecs[0].fb,
                   sdp_codec_by_pt(&offer.media[1], c->video_pt)->fb & FB_VIDEO);
}

/* ---- refusals ---- */

enum stage { AT_PARSE, AT_ANSWER };

struct refusal {
  const char *name, *file;
  struct edit edits[MAX_EDITS];
  enum stage stage;
  const char *why;
  unsigned line; /* parse errors: the line named, counted from 1 */
};

#define S10 "abcdefghij"
#define S100 S10 S10 S10 S10 S10 S10 S10 S10 S10 S10
#define CP "chromium_publisher.sdp"

/* clang-format off */
static const struct refusal refusals[] = {
    {"no_bundle", CP, {{ED_DEL, "a=group:BUNDLE", 0, NULL}}, AT_ANSWER, "no BUNDLE group", 0},
    {"two_bundle_groups", CP, {{ED_AFTER, "a=group:BUNDLE", 0, "a=group:BUNDLE 1\r\n"}}, AT_ANSWER,
     "more than one BUNDLE group", 0},
    {"empty_bundle", CP, {{ED_SUB, "a=group:BUNDLE 0 1", 0, "a=group:BUNDLE"}}, AT_ANSWER,
     "the BUNDLE group names no mid", 0},
    {"bundle_mid_twice", CP, {{ED_SUB, "BUNDLE 0 1", 0, "BUNDLE 0 1 0"}}, AT_ANSWER,
     "the BUNDLE group names a mid twice", 0},
    {"bundle_unknown_mid", CP, {{ED_SUB, "BUNDLE 0 1", 0, "BUNDLE 0 1 7"}}, AT_ANSWER,
     "the BUNDLE group names a mid no m-line has", 0},
    {"no_ufrag_in_mline_2", CP, {{ED_DEL, "a=ice-ufrag", 2, NULL}}, AT_ANSWER,
     "m-line 2 has no ice-ufrag", 0},
    {"no_pwd", CP, {{ED_DEL, "a=ice-pwd", 0, NULL}}, AT_ANSWER, "m-line 1 has no ice-pwd", 0},
    {"no_fingerprint", CP, {{ED_DEL, "a=fingerprint", 0, NULL}}, AT_ANSWER,
     "m-line 1 has no fingerprint", 0},
    {"firefox_no_session_fingerprint", "firefox_publisher.sdp", {{ED_DEL, "a=fingerprint", 0, NULL}},
     AT_ANSWER, "m-line 1 has no fingerprint", 0},
    {"sha1_fingerprint_only", CP, {{ED_SUB, "fingerprint:sha-256", 0, "fingerprint:sha-1"}},
     AT_ANSWER, "m-line 1 has no sha-256 fingerprint", 0},
    {"no_setup", CP, {{ED_DEL, "a=setup", 0, NULL}}, AT_ANSWER, "m-line 1 has no a=setup", 0},
    {"setup_passive", CP, {{ED_SUB, "a=setup:actpass", 2, "a=setup:passive"}}, AT_ANSWER,
     "m-line 2 has a=setup other than actpass or active", 0},
    {"no_rtcp_mux", CP, {{ED_DEL, "a=rtcp-mux", 2, NULL}}, AT_ANSWER, "m-line 2 has no a=rtcp-mux",
     0},
    {"bundle_only_no_rtcp_mux", CP,
     {{ED_SUB, "m=video 9", 0, "m=video 0"}, {ED_SUB, "a=rtcp-mux", 2, "a=bundle-only"}}, AT_ANSWER,
     "m-line 2 has no a=rtcp-mux", 0},
    {"no_mid", CP, {{ED_DEL, "a=mid:1", 0, NULL}, {ED_SUB, "BUNDLE 0 1", 0, "BUNDLE 0"}}, AT_ANSWER,
     "m-line 2 has no mid", 0},
    {"same_mid_twice", CP, {{ED_SUB, "a=mid:1", 0, "a=mid:0"}, {ED_SUB, "BUNDLE 0 1", 0, "BUNDLE 0"}},
     AT_ANSWER, "two m-lines have the same mid", 0},
    {"bundle_tag_rejected", CP, {{ED_SUB, "m=audio 9", 0, "m=audio 0"}}, AT_ANSWER,
     "the first m-line of the BUNDLE group is rejected or bundle-only", 0},
    {"bundle_tag_bundle_only", CP, {{ED_AFTER, "a=mid:0", 0, "a=bundle-only\r\n"}}, AT_ANSWER,
     "the first m-line of the BUNDLE group is rejected or bundle-only", 0},
    {"not_v0", CP, {{ED_SUB, "v=0", 1, "v=1"}}, AT_PARSE, "SDP does not start with v=0", 1},
    {"second_v", CP, {{ED_AFTER, "s=-", 0, "v=0\r\n"}}, AT_PARSE, "a second v= line", 4},
    {"not_a_line", CP, {{ED_AFTER, "s=-", 0, "hello\r\n"}}, AT_PARSE,
     "a line is not <letter>=<value>", 4},
    {"nine_bundle_mids", CP, {{ED_SUB, "BUNDLE 0 1", 0, "BUNDLE 0 1 2 3 4 5 6 7 8"}}, AT_PARSE,
     "BUNDLE group names more than 8 mids", 5},
    {"ufrag_bad_char", CP, {{ED_SUB, "ice-ufrag:ICFW", 1, "ice-ufrag:IC-W"}}, AT_PARSE,
     "a=ice-ufrag is not 4 to 256 ice-chars", 11},
    {"ufrag_too_short", CP, {{ED_SUB, "ice-ufrag:ICFW", 1, "ice-ufrag:ICF"}}, AT_PARSE,
     "a=ice-ufrag is not 4 to 256 ice-chars", 11},
    {"ufrag_twice", CP, {{ED_AFTER, "a=ice-ufrag", 1, "a=ice-ufrag:ABCD\r\n"}}, AT_PARSE,
     "two a=ice-ufrag at one level", 12},
    {"pwd_too_short", CP, {{ED_SUB, "vGX0uhWFu1foMkHFLNvH42/F", 1, "vGX0uhWFu1foMkHFLNvH4"}},
     AT_PARSE, "a=ice-pwd is not 22 to 256 ice-chars", 12},
    {"fingerprint_bad_hex", CP, {{ED_SUB, "sha-256 25:D0", 1, "sha-256 25:DX"}}, AT_PARSE,
     "a=fingerprint value is not hex pairs with colons", 14},
    {"fingerprint_no_value", CP, {{ED_SUB, "sha-256 25:D0:", 1, "sha-256"}, {ED_SUB, "sha-256", 1, ""}},
     AT_PARSE, "malformed a=fingerprint", 14},
    {"setup_unknown", CP, {{ED_SUB, "a=setup:actpass", 1, "a=setup:both"}}, AT_PARSE,
     "a=setup is not actpass, active, passive or holdconn", 15},
    {"two_mids", CP, {{ED_AFTER, "a=mid:1", 0, "a=mid:2\r\n"}}, AT_PARSE, "two a=mid in one m-line",
     48},
    {"mid_too_long", CP, {{ED_SUB, "a=mid:1", 0, "a=mid:" S10 S10 S10 "xy"}}, AT_PARSE,
     "a=mid is not a token of up to 31 chars", 47},
    {"two_directions", CP, {{ED_AFTER, "a=sendonly", 1, "a=recvonly\r\n"}}, AT_PARSE,
     "two direction attributes in one m-line", 22},
    {"empty_mid", CP, {{ED_SUB, "a=mid:0", 0, "a=mid:"}}, AT_PARSE, "an a= attribute lacks its value",
     16},
    {"port_too_big", CP, {{ED_SUB, "m=audio 9 ", 0, "m=audio 65536 "}}, AT_PARSE,
     "m= line port is not 0 to 65535", 8},
    {"mline_no_format", CP, {{ED_SUB, "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126", 0,
                              "m=audio 9 UDP/TLS/RTP/SAVPF"}},
     AT_PARSE, "m= line has no format", 8},
    {"pt_128", CP, {{ED_SUB, "SAVPF 96 97", 0, "SAVPF 128 97"}}, AT_PARSE,
     "m= line payload type is not 0 to 127", 39},
    {"pt_twice", CP, {{ED_SUB, "SAVPF 96 97", 0, "SAVPF 96 96"}}, AT_PARSE,
     "m= line lists a payload type twice", 39},
    {"rtpmap_no_clock", CP, {{ED_SUB, "a=rtpmap:96 VP8/90000", 0, "a=rtpmap:96 VP8"}}, AT_PARSE,
     "a=rtpmap has no clock rate", 64},
    {"rtpmap_bad_channels", CP, {{ED_SUB, "opus/48000/2", 0, "opus/48000/two"}}, AT_PARSE,
     "a=rtpmap clock rate or channels is not a number", 26},
    {"rtpmap_twice", CP, {{ED_AFTER, "a=rtpmap:96 VP8/90000", 0, "a=rtpmap:96 VP9/90000\r\n"}},
     AT_PARSE, "two a=rtpmap for one payload type", 65},
    {"fmtp_twice", CP, {{ED_AFTER, "a=fmtp:97 apt=96", 0, "a=fmtp:97 apt=96\r\n"}}, AT_PARSE,
     "two a=fmtp for one payload type", 72},
    {"fmtp_bad_profile", CP, {{ED_SUB, "profile-level-id=42e01f", 1, "profile-level-id=42e0zz"}},
     AT_PARSE, "a=fmtp has a bad apt, packetization-mode or profile-level-id", 96},
    {"fmtp_bad_apt", CP, {{ED_SUB, "apt=96", 0, "apt=300"}}, AT_PARSE,
     "a=fmtp has a bad apt, packetization-mode or profile-level-id", 71},
    {"fmtp_bad_mode", CP, {{ED_SUB, "packetization-mode=1", 1, "packetization-mode=3"}}, AT_PARSE,
     "a=fmtp has a bad apt, packetization-mode or profile-level-id", 78},
    {"fmtp_too_long", CP, {{ED_SUB, "minptime=10", 0, "minptime=10;x=" S100 S10 S10 S10 S10}},
     AT_PARSE, "a=fmtp longer than 159 bytes", 28},
    {"rtcp_fb_bad_pt", CP, {{ED_SUB, "a=rtcp-fb:96 nack pli", 0, "a=rtcp-fb:x nack pli"}}, AT_PARSE,
     "a=rtcp-fb payload type is not 0 to 127 or *", 69},
    {"extmap_id_256", CP, {{ED_SUB, "a=extmap:14 ", 0, "a=extmap:256 "}}, AT_PARSE,
     "a=extmap id is not 1 to 255", 48},
    {"extmap_bad_direction", "firefox_publisher.sdp", {{ED_SUB, "extmap:2/recvonly", 0, "extmap:2/up"}},
     AT_PARSE, "a=extmap direction is not sendrecv, sendonly, recvonly or inactive", 13},
    {"extmap_uri_too_long", CP, {{ED_SUB, "urn:3gpp:video-orientation", 0, "urn:" S100 S10 S10 S10}},
     AT_PARSE, "a=extmap URI longer than 127 bytes", 50},
    {"ssrc_not_number", CP, {{ED_SUB, "a=ssrc:1022761848 cname", 0, "a=ssrc:4294967296 cname"}},
     AT_PARSE, "malformed a=ssrc", 37},
    {"fid_one_ssrc", CP, {{ED_SUB, "FID 2880304085 154051746", 0, "FID 2880304085"}}, AT_PARSE,
     "a=ssrc-group:FID does not name two ssrcs", 157},
    {"msid_three_tokens", CP, {{ED_SUB, "a=msid:903da7c8", 1, "a=msid:x y 903da7c8"}}, AT_PARSE,
     "a=msid is not one or two tokens of up to 64 chars", 22},
    {"candidate_no_typ", "aiortc_publisher.sdp", {{ED_SUB, " typ host", 1, " type host"}}, AT_PARSE,
     "malformed a=candidate", 20},
    {"candidate_bad_port", "aiortc_publisher.sdp", {{ED_SUB, " 50156 typ", 1, " 65536 typ"}},
     AT_PARSE, "malformed a=candidate", 20},
};
/* clang-format on */

static void test_refusal(void **state) {
  const struct refusal *c = *state;
  struct sdp_answer_params p = params(SDP_ROLE_PUBLISHER);
  const char *why = NULL;
  int rc = parse_edited(c->file, c->edits, &offer, &why);

  if (c->stage == AT_PARSE) {
    assert_int_equal(rc, -EINVAL);
    assert_string_equal(why, c->why);
    assert_int_equal(offer.err_line, c->line);
    return;
  }
  if (rc != 0)
    fail_msg("%s does not parse: %s (line %u)", c->name, why, offer.err_line);
  assert_int_equal(sdp_check_offer(&offer, &why), -EINVAL);
  assert_string_equal(why, c->why);
  why = NULL;
  assert_int_equal(sdp_answer(&offer, &p, out, sizeof(out), &why), -EINVAL);
  assert_string_equal(why, c->why);
}

/* A publisher offering nothing onair takes. */
static void test_no_codec_publisher(void **state) {
  static const struct edit e[MAX_EDITS] = {
      {ED_SUB, "SAVPF 111 63", 0, "SAVPF 63"},
      {ED_SUB, "SAVPF 96 97 102 103 104 107 108 109 114 115 116 117 39 40 45 46 98", 0,
       "SAVPF 45 98"}};
  struct sdp_answer_params p = params(SDP_ROLE_PUBLISHER);
  const char *why = NULL;

  parse_ok(CP, e, &offer);
  assert_int_equal(sdp_answer(&offer, &p, out, sizeof(out), &why), -ENOENT);
  assert_string_equal(why, "no m-line offers a codec onair receives (VP8, H.264 or Opus)");
  /* A viewer with nothing to receive. */
  p = params(SDP_ROLE_VIEWER);
  parse_ok("chromium_viewer.sdp", NO_EDITS, &offer);
  assert_int_equal(sdp_answer(&offer, &p, out, sizeof(out), &why), -ENOENT);
  assert_string_equal(why, "no m-line can carry what the broadcaster sends");
  /* Opus in mono is not the publisher's stereo Opus. */
  struct sdp_codec mono = {.pt = 111, .name = "opus", .clock = 48000, .channels = 1};
  p.audio.codec = &mono;
  assert_int_equal(sdp_answer(&offer, &p, out, sizeof(out), &why), -ENOENT);
  assert_string_equal(why, "the viewer offers no codec matching the broadcaster's audio");
}

static void test_nul_and_control_bytes(void **state) {
  static const char *const bad[] = {"\0", "\x01", "\x7f", "\r", "\x1b"};
  const char *why = NULL;
  size_t len, i;
  char *raw = load(CP, &len);
  char *at = strstr(raw, "a=mid:1");

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    memcpy(text, raw, len);
    text[at - raw + 6] = bad[i][0]; /* a=mid:<byte> */
    assert_int_equal(sdp_parse(text, len, &offer, &why), -EINVAL);
    assert_string_equal(why, i == 0 ? "SDP holds a NUL byte" : "a line holds a control character");
    assert_int_equal(offer.err_line, i == 0 ? 0 : 47);
  }
  /* A tab is not a control character: a trailing one is cut like a space. */
  memcpy(text, raw, len);
  text[at - raw - 2] = '\t'; /* "a=setup:actpass\r\n" becomes "...actpass\t\n" */
  assert_int_equal(sdp_parse(text, len, &offer, &why), 0);
  free(raw);
}

/* ---- limits, at the limit and one past it ---- */

struct sb {
  char *p;
  size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void sb_add(struct sb *b, const char *fmt, ...) {
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  assert_true(n >= 0 && (size_t)n < b->cap - b->len);
  b->len += (size_t)n;
}

/* A session whose BUNDLE group names mids 0..n_mids-1. */
static void sb_session(struct sb *b, int n_mids) {
  int i;

  b->len = 0;
  sb_add(b, "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE");
  for (i = 0; i < n_mids; i++)
    sb_add(b, " %d", i);
  sb_add(b, "\r\n");
}

/* A video m-line with n codecs (PT 2i) each with an RTX (PT 2i+1) if rtx,
 * `extra` more formats, and n_cand candidates. */
static void sb_media(struct sb *b, int mid, int n, int rtx, const char *extra, int n_cand) {
  int i;

  sb_add(b, "m=video 9 UDP/TLS/RTP/SAVPF");
  for (i = 0; i < n; i++)
    sb_add(b, rtx ? " %d %d" : " %d", 2 * i, 2 * i + 1);
  sb_add(b,
         "%s\r\nc=IN IP4 0.0.0.0\r\na=mid:%d\r\na=sendonly\r\na=rtcp-mux\r\n"
         "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\na=setup:actpass\r\n"
         "a=fingerprint:sha-256 0A:0B\r\n",
         extra, mid);
  for (i = 0; i < n; i++) {
    sb_add(b, "a=rtpmap:%d %s/90000\r\n", 2 * i, i == 0 ? "VP8" : "x-codec");
    if (rtx)
      sb_add(b, "a=rtpmap:%d rtx/90000\r\na=fmtp:%d apt=%d\r\n", 2 * i + 1, 2 * i + 1, 2 * i);
  }
  for (i = 0; i < n_cand; i++)
    sb_add(b, "a=candidate:%d 1 udp 2122194687 192.0.2.2 %d typ host\r\n", i, 5000 + i);
}

enum limit_kind {
  LIM_MEDIA,
  LIM_CODECS,
  LIM_FORMATS,
  LIM_CANDIDATES,
  LIM_SSRCS,
  LIM_FIDS,
  LIM_EXTMAPS,
  LIM_LINE
};

struct limit_case {
  const char *name;
  enum limit_kind kind;
  int max;         /* the most that is accepted */
  const char *why; /* one more */
};

/* clang-format off */
static const struct limit_case limit_cases[] = {
    {"limit_media", LIM_MEDIA, 8, "more than 8 media sections"},
    {"limit_codecs", LIM_CODECS, 32, "m-line 2 has more than 32 codecs"},
    {"limit_payload_types", LIM_FORMATS, 64, "m-line 2 lists more than 64 payload types"},
    {"limit_candidates", LIM_CANDIDATES, 32, "m-line 2 has more than 32 candidates"},
    {"limit_ssrcs", LIM_SSRCS, 16, "m-line 2 has more than 16 ssrcs"},
    {"limit_fids", LIM_FIDS, 8, "m-line 2 has more than 8 ssrc-group:FID lines"},
    {"limit_extmaps", LIM_EXTMAPS, 16, "m-line 2 has more than 16 extmaps"},
    {"limit_line", LIM_LINE, 1024, "a line is longer than 1024 bytes"},
};
/* clang-format on */

/* Builds an offer with n of the limited thing (in the second m-line). */
static size_t build_limit(enum limit_kind kind, int n) {
  struct sb b = {text, 0, sizeof(text)};
  int i;

  sb_session(&b, kind != LIM_MEDIA ? 2 : n < 8 ? n : 8);
  if (kind == LIM_MEDIA) {
    for (i = 0; i < n; i++)
      sb_media(&b, i, 1, 1, "", 1);
    return b.len;
  }
  sb_media(&b, 0, 1, 1, "", 1);
  if (kind == LIM_CODECS) /* codecs without RTX */
    sb_media(&b, 1, n, 0, "", 1);
  else if (kind == LIM_FORMATS) /* codecs with RTX, and one more PT if n is odd */
    sb_media(&b, 1, n / 2, 1, n % 2 ? " 127" : "", 1);
  else
    sb_media(&b, 1, 1, 1, "", kind == LIM_CANDIDATES ? n : 1);
  for (i = 0; i < n; i++) {
    if (kind == LIM_SSRCS)
      sb_add(&b, "a=ssrc:%d cname:c\r\n", 1000 + i);
    if (kind == LIM_FIDS)
      sb_add(&b, "a=ssrc-group:FID %d %d\r\n", 1000 + i, 2000 + i);
    if (kind == LIM_EXTMAPS)
      sb_add(&b, "a=extmap:%d urn:x-%d\r\n", 1 + i, i);
  }
  if (kind == LIM_LINE) {
    sb_add(&b, "a=x-pad:");
    for (i = 8; i < n; i++)
      sb_add(&b, "p");
    sb_add(&b, "\r\n");
  }
  return b.len;
}

static void test_limit(void **state) {
  const struct limit_case *c = *state;
  struct sdp_answer_params p = params(SDP_ROLE_PUBLISHER);
  const char *why = NULL;
  size_t len = build_limit(c->kind, c->max);

  if (sdp_parse(text, len, &offer, &why) != 0)
    fail_msg("%s at the limit: %s (line %u)", c->name, why, offer.err_line);
  assert_true(sdp_answer(&offer, &p, out, sizeof(out), &why) > 0);
  len = build_limit(c->kind, c->max + 1);
  assert_int_equal(sdp_parse(text, len, &offer, &why), -EINVAL);
  assert_string_equal(why, c->why);
  assert_true(offer.err_line > 0);
}

/* 64 KiB of text is taken, one byte more is not. */
static void test_text_limit(void **state) {
  const char *why = NULL;
  size_t len;
  char *raw = load("aiortc_publisher.sdp", &len);

  memcpy(text, raw, len);
  free(raw);
  while (len + 100 <= SDP_MAX_TEXT) {
    memcpy(text + len, "a=x-pad:", 8);
    memset(text + len + 8, 'p', 90);
    memcpy(text + len + 98, "\r\n", 2);
    len += 100;
  }
  memset(text + len, '\n', SDP_MAX_TEXT - len); /* blank lines */
  assert_int_equal(sdp_parse(text, SDP_MAX_TEXT, &offer, &why), 0);
  assert_int_equal(offer.media[1].n_candidates, 2);
  text[SDP_MAX_TEXT] = '\n';
  assert_int_equal(sdp_parse(text, SDP_MAX_TEXT + 1, &offer, &why), -EMSGSIZE);
  assert_string_equal(why, "SDP larger than 64 KiB");
}

/* ---- our parameters and the output buffer ---- */

struct param_case {
  const char *name;
  void (*spoil)(struct sdp_answer_params *p);
  const char *why;
};

#define WHY_ICE "our ice-ufrag or ice-pwd is malformed"
#define WHY_FP "our fingerprint is not \"<alg> AB:CD:...\""
#define WHY_VIEWER "our cname, an ssrc, an msid or a codec to send is malformed"

static void spoil_ufrag(struct sdp_answer_params *p) { p->ice_ufrag = "abc"; }
static void spoil_pwd(struct sdp_answer_params *p) { p->ice_pwd = "0123456789abcdefABCD:F"; }
static void spoil_fp_space(struct sdp_answer_params *p) { p->fingerprint = "sha-256AB:CD"; }
static void spoil_fp_hex(struct sdp_answer_params *p) { p->fingerprint = "sha-256 AB:C"; }
static void spoil_addr(struct sdp_answer_params *p) { p->addr = "media.example"; }
static void spoil_addr_crlf(struct sdp_answer_params *p) { p->addr = "192.0.2.7\r\na=x"; }
static void spoil_port(struct sdp_answer_params *p) { p->port = 0; }
static void spoil_session(struct sdp_answer_params *p) { p->session_id = 1ull << 63; }
static void spoil_role(struct sdp_answer_params *p) { p->role = (enum sdp_role)7; }
static void spoil_cname(struct sdp_answer_params *p) { p->cname = "on air"; }
static void spoil_ssrc(struct sdp_answer_params *p) { p->audio.ssrc = 0; }
static void spoil_rtx(struct sdp_answer_params *p) { p->video.rtx_ssrc = p->video.ssrc; }
static void spoil_msid(struct sdp_answer_params *p) { p->video.msid = "a b c"; }

/* clang-format off */
static const struct param_case param_cases[] = {
    {"param_ufrag", spoil_ufrag, WHY_ICE},
    {"param_pwd", spoil_pwd, WHY_ICE},
    {"param_fingerprint_space", spoil_fp_space, WHY_FP},
    {"param_fingerprint_hex", spoil_fp_hex, WHY_FP},
    {"param_addr", spoil_addr, "our address is neither IPv4 nor IPv6"},
    {"param_addr_crlf", spoil_addr_crlf, "our address is neither IPv4 nor IPv6"},
    {"param_port", spoil_port, "our address or port is missing"},
    {"param_session_id", spoil_session, "session id above 2^63 - 1"},
    {"param_role", spoil_role, "bad role"},
    {"param_cname", spoil_cname, WHY_VIEWER},
    {"param_ssrc", spoil_ssrc, WHY_VIEWER},
    {"param_rtx_ssrc", spoil_rtx, WHY_VIEWER},
    {"param_msid", spoil_msid, WHY_VIEWER},
};
/* clang-format on */

static void test_bad_param(void **state) {
  const struct param_case *c = *state;
  struct sdp_answer_params p = params(SDP_ROLE_VIEWER);
  struct sdp_codec audio, video;
  const char *why = NULL;

  p.audio.codec = pick(CP, SDP_KIND_AUDIO, &audio);
  p.video.codec = pick(CP, SDP_KIND_VIDEO, &video);
  p.video.rtx_ssrc = 3333;
  parse_ok("chromium_viewer.sdp", NO_EDITS, &offer);
  assert_true(sdp_answer(&offer, &p, out, sizeof(out), &why) > 0);
  c->spoil(&p);
  assert_int_equal(sdp_answer(&offer, &p, out, sizeof(out), &why), -EINVAL);
  assert_string_equal(why, c->why);
}

static void test_ipv6(void **state) {
  struct sdp_answer_params p = params(SDP_ROLE_PUBLISHER);
  const char *why = NULL;
  int len;

  p.addr = "2001:db8::7";
  parse_ok("firefox_publisher.sdp", NO_EDITS, &offer);
  len = sdp_answer(&offer, &p, out, sizeof(out), &why);
  check_answer(&offer, &p, len);
  assert_non_null(strstr(out, "\r\nc=IN IP6 2001:db8::7\r\n"));
  assert_non_null(strstr(out, "\r\na=candidate:1 1 udp 2130706431 2001:db8::7 40000 typ host\r\n"));
}

/* Several announced addresses (1:1 NAT, IPv4 and IPv6): one host candidate
 * each, in order, the priorities falling; c= names the first. A bad one is
 * refused. */
static void test_more_addresses(void **state) {
  struct sdp_answer_params p = params(SDP_ROLE_PUBLISHER);
  static const char *const more[] = {"2001:db8::7", "198.51.100.9"};
  const char *why = NULL;
  p.more_addrs = more;
  p.nmore = 2;
  parse_ok("chromium_publisher.sdp", NO_EDITS, &offer);
  int len = sdp_answer(&offer, &p, out, sizeof(out), &why);
  check_answer(&offer, &p, len);
  assert_non_null(strstr(out, "\r\nc=IN IP4 192.0.2.7\r\n"));
  const char *c1 = strstr(out, "\r\na=candidate:1 1 udp 2130706431 192.0.2.7 40000 typ host\r\n");
  const char *c2 = strstr(out, "\r\na=candidate:2 1 udp 2130706175 2001:db8::7 40000 typ host\r\n");
  const char *c3 =
      strstr(out, "\r\na=candidate:3 1 udp 2130705919 198.51.100.9 40000 typ host\r\n");
  assert_non_null(c1);
  assert_non_null(c2);
  assert_non_null(c3);
  assert_true(c1 < c2 && c2 < c3);
  static const char *const bad[] = {"203.0.113.1", "media.example"};
  p.more_addrs = bad;
  assert_int_equal(sdp_answer(&offer, &p, out, sizeof(out), &why), -EINVAL);
  assert_string_equal(why, "one of our other addresses is neither IPv4 nor IPv6");
}

/* Every buffer too small by any amount gives -ENOBUFS and a terminated
 * prefix; one byte more than the length gives the whole answer. */
static void test_enobufs(void **state) {
  static char full[ANSWER_MAX], small[ANSWER_MAX];
  struct sdp_answer_params p = params(SDP_ROLE_PUBLISHER);
  const char *why = NULL;
  int len, rc;
  size_t cap;

  parse_ok("chromium_publisher_datachannel.sdp", NO_EDITS, &offer);
  len = sdp_answer(&offer, &p, full, sizeof(full), &why);
  assert_true(len > 0);
  for (cap = 0; cap <= (size_t)len; cap++) {
    memset(small, '#', sizeof(small));
    why = NULL;
    rc = sdp_answer(&offer, &p, cap ? small : NULL, cap, &why);
    assert_int_equal(rc, -ENOBUFS);
    assert_string_equal(why, "the answer does not fit the buffer");
    if (cap > 0) {
      assert_true(strlen(small) < cap);
      assert_memory_equal(small, full, strlen(small));
    }
  }
  assert_int_equal(sdp_answer(&offer, &p, small, (size_t)len + 1, &why), len);
  assert_string_equal(small, full);
}

/* A parsed answer is not an offer onair takes (setup passive). */
static void test_answer_is_not_an_offer(void **state) {
  struct sdp_answer_params p = params(SDP_ROLE_PUBLISHER);
  const char *why = NULL;
  int len;

  parse_ok(CP, NO_EDITS, &offer);
  len = sdp_answer(&offer, &p, out, sizeof(out), &why);
  assert_int_equal(sdp_parse(out, (size_t)len, &answer, &why), 0);
  assert_int_equal(sdp_check_offer(&answer, &why), -EINVAL);
  assert_string_equal(why, "m-line 1 has a=setup other than actpass or active");
}

/* Attributes the captures do not exercise. */
static void test_parse_odd_forms(void **state) {
  static const struct edit e[MAX_EDITS] = {
      /* wildcard feedback, an fmtp with blanks, an rtpmap for an unlisted PT */
      {ED_AFTER, "a=rtcp-mux", 2,
       "a=rtcp-fb:* ccm fir\r\na=rtpmap:125 VP8/90000\r\na=fmtp:125 x=1\r\n"},
      {ED_SUB, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", 0,
       " packetization-mode = 1 ; profile-level-id=42E01F"},
      {ED_SUB, "a=sendonly", 0, "a=sendonly  "},
  };

  parse_ok(CP, e, &offer);
  assert_int_equal(sdp_codec_by_pt(&offer.media[1], 120)->fb, SDP_FB_CCM_FIR);
  assert_null(sdp_codec_by_pt(&offer.media[1], 125));
  assert_int_equal(sdp_codec_by_pt(&offer.media[1], 108)->packetization_mode, 1);
  assert_int_equal(sdp_codec_by_pt(&offer.media[1], 108)->profile_level_id, 0x42e01f);
  assert_string_equal(sdp_codec_by_pt(&offer.media[1], 108)->fmtp,
                      "packetization-mode = 1 ; profile-level-id=42E01F");
  assert_int_equal(offer.media[0].direction, SDP_DIR_SENDONLY);
}

/* ---- main: one cmocka test per table row ---- */

#define ROWS(table) (sizeof(table) / sizeof((table)[0]))

static void add(struct CMUnitTest *t, size_t *n, const char *name, CMUnitTestFunction fn,
                const void *state) {
  t[*n].name = name;
  t[*n].test_func = fn;
  t[*n].setup_func = NULL;
  t[*n].teardown_func = NULL;
  t[*n].initial_state = (void *)state;
  (*n)++;
}

int main(void) {
  static struct CMUnitTest t[256];
  static char names[ROWS(parse_cases) + ROWS(codec_cases)][80];
  size_t n = 0, i, k = 0;

  for (i = 0; i < ROWS(parse_cases); i++, k++) {
    snprintf(names[k], sizeof(names[k]), "parse_%s", parse_cases[i].file);
    add(t, &n, names[k], test_parse_fixture, &parse_cases[i]);
  }
  for (i = 0; i < ROWS(codec_cases); i++, k++) {
    snprintf(names[k], sizeof(names[k]), "codec_%s_%u", codec_cases[i].file, codec_cases[i].pt);
    add(t, &n, names[k], test_codec, &codec_cases[i]);
  }
  for (i = 0; i < ROWS(pub_cases); i++)
    add(t, &n, pub_cases[i].name, test_publisher_answer, &pub_cases[i]);
  for (i = 0; i < ROWS(view_cases); i++)
    add(t, &n, view_cases[i].name, test_viewer_answer, &view_cases[i]);
  for (i = 0; i < ROWS(refusals); i++)
    add(t, &n, refusals[i].name, test_refusal, &refusals[i]);
  for (i = 0; i < ROWS(limit_cases); i++)
    add(t, &n, limit_cases[i].name, test_limit, &limit_cases[i]);
  for (i = 0; i < ROWS(param_cases); i++)
    add(t, &n, param_cases[i].name, test_bad_param, &param_cases[i]);
  add(t, &n, "parse_details", test_parse_details, NULL);
  add(t, &n, "parse_odd_forms", test_parse_odd_forms, NULL);
  add(t, &n, "fingerprint_text", test_fingerprint_text, NULL);
  add(t, &n, "line_ends", test_line_ends, NULL);
  add(t, &n, "outlives_text", test_outlives_text, NULL);
  add(t, &n, "prefixes", test_prefixes, NULL);
  add(t, &n, "no_codec", test_no_codec_publisher, NULL);
  add(t, &n, "nul_and_control_bytes", test_nul_and_control_bytes, NULL);
  add(t, &n, "text_limit", test_text_limit, NULL);
  add(t, &n, "ipv6", test_ipv6, NULL);
  add(t, &n, "more addresses", test_more_addresses, NULL);
  add(t, &n, "enobufs", test_enobufs, NULL);
  add(t, &n, "answer_is_not_an_offer", test_answer_is_not_an_offer, NULL);
  if (n > ROWS(t))
    return 1;
  return _cmocka_run_group_tests("sdp", t, n, NULL, NULL);
}
