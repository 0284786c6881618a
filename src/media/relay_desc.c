/* A relayed room's description as JSON (relay_desc.h):
 *
 *   {"v":1, "edge_ssrc":N, "ext":{"rid":n, "twcc":n},
 *    "audio":{"codec":C, "ssrc":N},
 *    "video":{"codec":C, "layers":[{"rid":"l", "ssrc":N}, ...]}}
 *
 * where C is {"name", "pt", "clock", "channels", "fmtp",
 * "packetization_mode", "profile_level_id"}. Either of audio and video may
 * be missing, not both; unknown keys are ignored (a newer node may add
 * some). */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "media/relay_desc.h"

/* ---- writing -------------------------------------------------------------- */

static json_t *codec_json(const struct sdp_codec *c) {
  return json_pack("{s:s, s:i, s:I, s:i, s:s, s:i, s:I}", "name", c->name, "pt", (int)c->pt,
                   "clock", (json_int_t)c->clock, "channels", (int)c->channels, "fmtp", c->fmtp,
                   "packetization_mode", c->packetization_mode, "profile_level_id",
                   (json_int_t)c->profile_level_id);
}

static json_t *video_json(const struct relay_desc *d) {
  json_t *layers = json_array();
  for (int i = 0; layers && i < d->layers; i++) {
    const struct relay_desc_track *t = &d->tracks[1 + i];
    if (json_array_append_new(
            layers, json_pack("{s:s, s:I}", "rid", t->rid, "ssrc", (json_int_t)t->ssrc)) < 0) {
      json_decref(layers);
      return NULL;
    }
  }
  if (layers == NULL)
    return NULL;
  return json_pack("{s:o, s:o}", "codec", codec_json(&d->tracks[1].codec), "layers", layers);
}

int relay_desc_write(const struct relay_desc *d, char **out) {
  int rc = -ENOMEM;
  *out = NULL;
  json_t *root =
      json_pack("{s:i, s:I, s:{s:i, s:i}}", "v", RELAY_DESC_VERSION, "edge_ssrc",
                (json_int_t)d->edge_ssrc, "ext", "rid", (int)d->rid_ext, "twcc", (int)d->twcc_ext);
  if (root == NULL)
    return -ENOMEM;
  const struct relay_desc_track *a = &d->tracks[0];
  if (a->active && json_object_set_new(root, "audio",
                                       json_pack("{s:o, s:I}", "codec", codec_json(&a->codec),
                                                 "ssrc", (json_int_t)a->ssrc)) < 0)
    goto out_free;
  if (d->layers && json_object_set_new(root, "video", video_json(d)) < 0)
    goto out_free;
  if ((*out = json_dumps(root, JSON_COMPACT)) != NULL)
    rc = (int)strlen(*out);
out_free:
  json_decref(root);
  return rc;
}

/* ---- parsing -------------------------------------------------------------- */

/* o[key], an integer in 0..max, into *out; absent: 0 with *out = dflt,
 * unless need. */
static int uint_of(const json_t *o, const char *key, uint32_t max, int need, uint32_t dflt,
                   uint32_t *out) {
  const json_t *v = json_object_get(o, key);
  *out = dflt;
  if (v == NULL)
    return need ? -1 : 0;
  if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
    return -1;
  *out = (uint32_t)json_integer_value(v);
  return 0;
}

static int is_token_char(int c) { return c > 0x20 && c < 0x7f; }
static int is_fmtp_char(int c) { return c >= 0x20 && c < 0x7f; }
static int is_rid_char(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

/* o[key], a string shorter than cap whose bytes all pass ok, into out;
 * absent: "" unless need. */
static int text_of(const json_t *o, const char *key, char *out, size_t cap, int need,
                   int (*ok)(int c)) {
  const json_t *v = json_object_get(o, key);
  out[0] = 0;
  if (v == NULL)
    return need ? -1 : 0;
  if (!json_is_string(v))
    return -1;
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  if (n >= cap)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (!ok((unsigned char)s[i]))
      return -1;
  }
  memcpy(out, s, n);
  out[n] = 0;
  return 0;
}

/* A codec onair forwards: Opus for audio, VP8 or H.264 for video. */
static int codec_parse(const json_t *o, int video, struct sdp_codec *c) {
  uint32_t pt, clock, ch, mode, plid;
  memset(c, 0, sizeof(*c));
  c->apt = c->rtx_pt = -1;
  if (!json_is_object(o) || text_of(o, "name", c->name, sizeof(c->name), 1, is_token_char) < 0 ||
      uint_of(o, "pt", 127, 1, 0, &pt) < 0 || (pt >= 64 && pt <= 95) ||
      uint_of(o, "clock", 1000000, 1, 0, &clock) < 0 || clock == 0 ||
      uint_of(o, "channels", 8, 1, 1, &ch) < 0 || ch == 0 ||
      text_of(o, "fmtp", c->fmtp, sizeof(c->fmtp), 0, is_fmtp_char) < 0 ||
      uint_of(o, "packetization_mode", 2, 0, 0, &mode) < 0 ||
      uint_of(o, "profile_level_id", 0xffffff, 0, 0x42000a, &plid) < 0)
    return -1;
  c->pt = (uint8_t)pt;
  c->clock = clock;
  c->channels = (uint8_t)ch;
  c->packetization_mode = (int)mode;
  c->profile_level_id = plid;
  if (video)
    return strcasecmp(c->name, "VP8") == 0 || strcasecmp(c->name, "H264") == 0 ? 0 : -1;
  return strcasecmp(c->name, "opus") == 0 ? 0 : -1;
}

static int ssrc_of(const json_t *o, uint32_t *ssrc) {
  return uint_of(o, "ssrc", UINT32_MAX, 1, 0, ssrc) < 0 || *ssrc == 0 ? -1 : 0;
}

/* The video's layers, lowest first: each an SSRC and, with two or more,
 * a distinct rid. */
static int layers_parse(const json_t *v, struct relay_desc *d) {
  const json_t *ls = json_object_get(v, "layers");
  size_t n = json_array_size(ls);
  if (!json_is_array(ls) || n < 1 || n > RELAY_LAYERS)
    return -1;
  d->layers = (uint8_t)n;
  for (size_t i = 0; i < n; i++) {
    const json_t *l = json_array_get(ls, i);
    struct relay_desc_track *t = &d->tracks[1 + i];
    if (!json_is_object(l) || ssrc_of(l, &t->ssrc) < 0 ||
        text_of(l, "rid", t->rid, sizeof(t->rid), n > 1, is_rid_char) < 0 ||
        (n > 1 && t->rid[0] == 0))
      return -1;
    for (size_t j = 1; j <= i; j++) {
      if (n > 1 && strcmp(d->tracks[j].rid, t->rid) == 0)
        return -1;
    }
    t->active = 1;
    if (i > 0)
      t->codec = d->tracks[1].codec; /* one codec for every layer */
  }
  return 0;
}

static int media_parse(const json_t *root, struct relay_desc *d, const char **why) {
  const json_t *a = json_object_get(root, "audio"), *v = json_object_get(root, "video");
  if (a == NULL && v == NULL) {
    *why = "the description has no track";
    return -1;
  }
  if (a &&
      (!json_is_object(a) || codec_parse(json_object_get(a, "codec"), 0, &d->tracks[0].codec) < 0 ||
       ssrc_of(a, &d->tracks[0].ssrc) < 0)) {
    *why = "the description's audio is not Opus with an SSRC";
    return -1;
  }
  d->tracks[0].active = a != NULL;
  if (v && (!json_is_object(v) ||
            codec_parse(json_object_get(v, "codec"), 1, &d->tracks[1].codec) < 0)) {
    *why = "the description's video is not VP8 or H.264";
    return -1;
  }
  if (v && layers_parse(v, d) < 0) {
    *why = "the description's video layers are not 1 to 3, each with an SSRC and a distinct rid";
    return -1;
  }
  if (a && v && d->tracks[0].codec.pt == d->tracks[1].codec.pt) {
    *why = "the description's audio and video share a payload type";
    return -1;
  }
  return 0;
}

/* Every SSRC of d differs from the others. */
static int ssrcs_distinct(const struct relay_desc *d) {
  uint32_t all[1 + RELAY_TRACKS];
  size_t n = 0;
  all[n++] = d->edge_ssrc;
  for (int i = 0; i < RELAY_TRACKS; i++) {
    if (d->tracks[i].active)
      all[n++] = d->tracks[i].ssrc;
  }
  for (size_t i = 0; i < n; i++) {
    for (size_t j = i + 1; j < n; j++) {
      if (all[i] == all[j])
        return -1;
    }
  }
  return 0;
}

static int head_parse(const json_t *root, struct relay_desc *d, const char **why) {
  uint32_t v, rid = 0, twcc = 0;
  const json_t *ext = json_object_get(root, "ext");
  if (uint_of(root, "v", UINT32_MAX, 1, 0, &v) < 0 || v != RELAY_DESC_VERSION) {
    *why = "the description's version is not 1";
    return -1;
  }
  if (uint_of(root, "edge_ssrc", UINT32_MAX, 1, 0, &d->edge_ssrc) < 0 || d->edge_ssrc == 0) {
    *why = "the description has no edge_ssrc";
    return -1;
  }
  if (ext && (!json_is_object(ext) || uint_of(ext, "rid", 255, 0, 0, &rid) < 0 ||
              uint_of(ext, "twcc", 255, 0, 0, &twcc) < 0)) {
    *why = "the description's ext is not header extension ids";
    return -1;
  }
  d->rid_ext = (uint8_t)rid;
  d->twcc_ext = (uint8_t)twcc;
  return 0;
}

int relay_desc_parse(const char *text, size_t len, struct relay_desc *d, const char **why) {
  memset(d, 0, sizeof(*d));
  if (len > RELAY_DESC_MAX) {
    *why = "the description is too long";
    return -EINVAL;
  }
  json_error_t err;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
  int rc = -EINVAL;
  *why = "the description is not a JSON object";
  if (!json_is_object(root) || head_parse(root, d, why) < 0 || media_parse(root, d, why) < 0)
    goto out;
  if (ssrcs_distinct(d) < 0) {
    *why = "the description's SSRCs are not distinct";
    goto out;
  }
  rc = 0;
out:
  json_decref(root);
  if (rc < 0)
    memset(d, 0, sizeof(*d));
  return rc;
}
