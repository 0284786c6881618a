/* The stream every run sends: a synthetic moving picture encoded with
 * libvpx (VP8, CBR, a keyframe every 2 s) and a tone with noise encoded with
 * libopus (20 ms frames), made at start, packetized here (RFC 7741 VP8
 * payload descriptor with a 15-bit PictureID; RFC 7587 Opus), looped. The
 * loop is a whole number of keyframe intervals, so every loop starts on a
 * keyframe.
 *
 * A browser answers a keyframe request (PLI, FIR) with a keyframe at its
 * next frame. So that the publisher can too, every third picture is also
 * encoded alone as a keyframe (a second encoder, all keyframes, at the size
 * of the stream's own; every picture would triple the time it takes to make
 * the stream): sent in place of that delta frame it is a real keyframe of
 * the same picture, at most 100 ms after the request. The delta frames after it were predicted from the original
 * frame, so a decoder would drift a little until the next periodic keyframe;
 * nothing here decodes them. */
#include "mb.h"

#include <math.h>
#include <stdio.h>
#include <opus/opus.h>
#include <stdlib.h>
#include <string.h>
#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

#define FPS 30
#define KEY_EVERY 60   /* frames: 2 s */
#define VP8_DESC 4     /* bytes: X|S, I, M|PictureID (15 bits) */
#define OPUS_FRAME 960 /* samples at 48 kHz: 20 ms */
#define OPUS_KBPS 64
/* Per-pixel noise (0..NOISE) so that libvpx at speed 16 spends the asked
 * rate on 720p: measured, 1 gives 1.52 Mbit/s for 1.5, 3 gives 2. */
#define NOISE 1
#define ALT_EVERY 3 /* frames with a keyframe alternate: a request waits at most 100 ms */

struct frame {
  size_t off, len;
  int key;
};

struct builder {
  struct mb_stream *s;
  unsigned noise; /* per-pixel noise, 0..noise */
  size_t blob_cap, pkts_cap, alt_cap;
  int alt; /* packets go to s->alt */
};

/* Appends n bytes: from p, or when p is NULL from the blob itself at
 * src (which a reallocation would move). */
static int blob_put(struct builder *b, const void *p, size_t src, size_t n, size_t *off) {
  struct mb_stream *s = b->s;

  if (s->blob_len + n > b->blob_cap) {
    size_t cap = b->blob_cap ? b->blob_cap * 2 : 1 << 20;
    uint8_t *nb;
    while (cap < s->blob_len + n)
      cap *= 2;
    if (!(nb = realloc(s->blob, cap)))
      return -1;
    s->blob = nb;
    b->blob_cap = cap;
  }
  memcpy(s->blob + s->blob_len, p ? p : s->blob + src, n);
  *off = s->blob_len;
  s->blob_len += n;
  return 0;
}

static struct mb_spkt *pkt_new(struct builder *b) {
  struct mb_spkt **list = b->alt ? &b->s->alt : &b->s->pkts;
  size_t *n = b->alt ? &b->s->nalt : &b->s->npkts, *cap = b->alt ? &b->alt_cap : &b->pkts_cap;

  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 4096;
    struct mb_spkt *np = realloc(*list, c * sizeof(*np));
    if (!np)
      return NULL;
    *list = np;
    *cap = c;
  }
  memset(&(*list)[*n], 0, sizeof(**list));
  return &(*list)[(*n)++];
}

/* A picture that changes everywhere each frame (a moving gradient, a
 * scrolling checkerboard and some noise), so the encoder spends its rate. */
static void draw(vpx_image_t *img, unsigned f, uint32_t *seed, unsigned noise) {
  unsigned x, y;

  for (y = 0; y < img->d_h; y++) {
    uint8_t *row = img->planes[0] + (size_t)y * img->stride[0];
    for (x = 0; x < img->d_w; x++) {
      unsigned check = (((x + 4 * f) >> 5) ^ ((y + 2 * f) >> 5)) & 1;
      *seed = *seed * 1103515245u + 12345u;
      row[x] = (uint8_t)((x + y + 3 * f) / 4 + 60 * check + ((*seed >> 16) & noise));
    }
  }
  for (y = 0; y < img->d_h / 2; y++) {
    memset(img->planes[1] + (size_t)y * img->stride[1], (int)(128 + 40 * sin(f / 20.0 + y / 40.0)),
           img->d_w / 2);
    memset(img->planes[2] + (size_t)y * img->stride[2], (int)(128 + 40 * cos(f / 25.0 + y / 30.0)),
           img->d_w / 2);
  }
}

static int vp8_encoder(vpx_codec_ctx_t *codec, unsigned w, unsigned h, unsigned kbps) {
  vpx_codec_enc_cfg_t cfg;

  if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0))
    return -1;
  cfg.g_w = w;
  cfg.g_h = h;
  cfg.g_timebase.num = 1;
  cfg.g_timebase.den = FPS;
  cfg.rc_target_bitrate = kbps;
  cfg.rc_end_usage = VPX_CBR;
  cfg.rc_dropframe_thresh = 0; /* every frame exists */
  cfg.g_lag_in_frames = 0;
  cfg.g_threads = 1;
  cfg.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
  cfg.kf_mode = VPX_KF_DISABLED; /* keyframes exactly where we force them */
  cfg.rc_buf_sz = 1000;
  cfg.rc_buf_initial_sz = 500;
  cfg.rc_buf_optimal_sz = 600;
  if (vpx_codec_enc_init(codec, vpx_codec_vp8_cx(), &cfg, 0))
    return -1;
  vpx_codec_control(codec, VP8E_SET_CPUUSED, 16);
  return 0;
}

/* Encodes the loop's frames into the blob; frames[] says where each is.
 * all_key: every frame a keyframe. */
static int encode_video(struct builder *b, unsigned kbps, struct frame *frames, int all_key) {
  struct mb_stream *s = b->s;
  vpx_codec_ctx_t codec;
  vpx_image_t img;
  uint32_t seed = 1;
  unsigned f, got = 0;
  int rc = -1;

  if (vp8_encoder(&codec, s->width, s->height, kbps) < 0)
    return -1;
  if (!vpx_img_alloc(&img, VPX_IMG_FMT_I420, s->width, s->height, 16))
    goto out_codec;
  for (f = 0; f < s->frames; f++) {
    const vpx_codec_cx_pkt_t *pkt;
    vpx_codec_iter_t it = NULL;
    draw(&img, f, &seed, b->noise);
    if (all_key && f % ALT_EVERY) {
      got++; /* no alternate for this picture */
      continue;
    }
    if (vpx_codec_encode(&codec, &img, f, 1, f % KEY_EVERY && !all_key ? 0 : VPX_EFLAG_FORCE_KF,
                         VPX_DL_REALTIME))
      goto out_img;
    while ((pkt = vpx_codec_get_cx_data(&codec, &it))) {
      if (pkt->kind != VPX_CODEC_CX_FRAME_PKT || got >= s->frames)
        continue;
      frames[got].key = (pkt->data.frame.flags & VPX_FRAME_IS_KEY) != 0;
      frames[got].len = pkt->data.frame.sz;
      if (blob_put(b, pkt->data.frame.buf, 0, pkt->data.frame.sz, &frames[got].off) < 0)
        goto out_img;
      got++;
    }
  }
  rc = got == s->frames ? 0 : -1;
out_img:
  vpx_img_free(&img);
out_codec:
  vpx_codec_destroy(&codec);
  return rc;
}

/* Splits frame f into packets of at most MB_RTP_MAX bytes, of equal size
 * (as browsers do), each with the 4-byte descriptor. The PictureID is
 * written per packet when it goes out. */
static int packetize_frame(struct builder *b, const struct frame *fr, unsigned f) {
  size_t room = MB_RTP_MAX - 12 - VP8_DESC, n = (fr->len + room - 1) / room, i, done = 0;

  for (i = 0; i < n; i++) {
    size_t chunk = (fr->len - done + (n - i) - 1) / (n - i);
    uint8_t hdr[VP8_DESC] = {(uint8_t)(0x80 | (i == 0 ? 0x10 : 0)), 0x80, 0x80, 0};
    size_t off, off2;
    struct mb_spkt *p;
    if (blob_put(b, hdr, 0, VP8_DESC, &off) < 0 ||
        blob_put(b, NULL, fr->off + done, chunk, &off2) < 0 || !(p = pkt_new(b)))
      return -1;
    p->off = (uint32_t)off;
    p->len = (uint16_t)(VP8_DESC + chunk);
    p->video = 1;
    p->marker = i == n - 1;
    p->key = fr->key && i == 0;
    p->first = i == 0;
    p->frame = (uint16_t)f;
    p->ts = f * (90000 / FPS);
    p->t_ns = (int64_t)f * 1000000000 / FPS;
    done += chunk;
  }
  return 0;
}

static int encode_audio(struct builder *b) {
  struct mb_stream *s = b->s;
  int16_t pcm[OPUS_FRAME * 2];
  uint8_t out[1500];
  uint32_t seed = 7;
  unsigned f, i;
  int err, n;
  OpusEncoder *enc = opus_encoder_create(48000, 2, OPUS_APPLICATION_AUDIO, &err);

  if (!enc)
    return -1;
  opus_encoder_ctl(enc, OPUS_SET_BITRATE(OPUS_KBPS * 1000));
  for (f = 0; f < s->audio_frames; f++) {
    struct mb_spkt *p;
    size_t off;
    for (i = 0; i < OPUS_FRAME; i++) {
      double t = (f * OPUS_FRAME + i) / 48000.0;
      seed = seed * 1103515245u + 12345u;
      pcm[2 * i] = (int16_t)(8000 * sin(2 * M_PI * (440 + 200 * sin(t)) * t) +
                             (int)((seed >> 16) & 1023) - 512);
      pcm[2 * i + 1] = pcm[2 * i];
    }
    n = opus_encode(enc, pcm, OPUS_FRAME, out, sizeof(out));
    if (n <= 0 || blob_put(b, out, 0, (size_t)n, &off) < 0 || !(p = pkt_new(b)))
      goto out_fail;
    p->off = (uint32_t)off;
    p->len = (uint16_t)n;
    p->marker = f == 0;
    p->ts = f * OPUS_FRAME;
    p->t_ns = (int64_t)f * 20000000;
  }
  opus_encoder_destroy(enc);
  return 0;
out_fail:
  opus_encoder_destroy(enc);
  return -1;
}

static int by_time(const void *a, const void *b) {
  const struct mb_spkt *x = a, *y = b;

  if (x->t_ns != y->t_ns)
    return x->t_ns < y->t_ns ? -1 : 1;
  if (x->video != y->video)
    return x->video ? 1 : -1;      /* audio first at the same instant */
  return x->off < y->off ? -1 : 1; /* a frame's packets in order */
}

static void stream_figures(struct mb_stream *s) {
  double sec = s->loop_ns / 1e9, vbytes = 0, abytes = 0;
  size_t i;

  for (i = 0; i < s->npkts; i++) {
    if (s->pkts[i].video) {
      vbytes += 12 + s->pkts[i].len;
      s->video_pkts++;
    } else {
      abytes += 12 + s->pkts[i].len;
      s->audio_pkts++;
    }
  }
  s->video_kbps = vbytes * 8 / sec / 1000;
  s->audio_kbps = abytes * 8 / sec / 1000;
  s->pps = s->npkts / sec;
}

/* The keyframe of every picture, alone: s->alt, with s->alt_first[f] its
 * first packet for frame f (s->alt_first[frames] = s->nalt). */
static int make_alternates(struct builder *b, const struct frame *frames) {
  struct mb_stream *s = b->s;
  double key_bytes = 0;
  unsigned f, keys = 0;
  struct frame *alt = calloc(s->frames, sizeof(*alt));
  int rc = -1;

  for (f = 0; f < s->frames; f++)
    if (frames[f].key) {
      key_bytes += (double)frames[f].len;
      keys++;
    }
  if (!alt || !keys || !(s->alt_first = calloc(s->frames + 1, sizeof(*s->alt_first))))
    goto out;
  if (encode_video(b, (unsigned)(key_bytes / keys * 8 * FPS / 1000), alt, 1) < 0)
    goto out;
  b->alt = 1;
  for (f = 0; f < s->frames; f++) {
    s->alt_first[f] = (uint32_t)s->nalt;
    if (f % ALT_EVERY == 0 && packetize_frame(b, &alt[f], f) < 0)
      goto out;
  }
  s->alt_first[s->frames] = (uint32_t)s->nalt;
  rc = 0;
out:
  b->alt = 0;
  free(alt);
  return rc;
}

int mb_stream_make(struct mb_stream *s, unsigned w, unsigned h, unsigned kbps, unsigned seconds) {
  return mb_stream_make_noise(s, w, h, kbps, seconds, NOISE);
}

int mb_stream_make_noise(struct mb_stream *s, unsigned w, unsigned h, unsigned kbps,
                         unsigned seconds, unsigned noise) {
  struct builder b = {s, noise, 0, 0, 0, 0};
  struct frame *frames;
  unsigned f;
  int rc = -1;

  memset(s, 0, sizeof(*s));
  seconds = (seconds + 1) / 2 * 2; /* whole keyframe intervals */
  s->width = w & ~1u;
  s->height = h & ~1u;
  s->fps = FPS;
  s->frames = seconds * FPS;
  s->audio_frames = seconds * 50;
  s->loop_ns = (int64_t)seconds * 1000000000;
  s->video_ts_loop = seconds * 90000;
  s->audio_ts_loop = seconds * 48000;
  if (!(frames = calloc(s->frames, sizeof(*frames))))
    return -1;
  if (encode_video(&b, kbps, frames, 0) < 0 || encode_audio(&b) < 0)
    goto out;
  for (f = 0; f < s->frames; f++)
    if (packetize_frame(&b, &frames[f], f) < 0)
      goto out;
  if (make_alternates(&b, frames) < 0)
    goto out;
  qsort(s->pkts, s->npkts, sizeof(s->pkts[0]), by_time);
  stream_figures(s);
  rc = 0;
out:
  free(frames);
  if (rc < 0)
    mb_stream_free(s);
  return rc;
}

void mb_stream_free(struct mb_stream *s) {
  free(s->blob);
  free(s->pkts);
  free(s->alt);
  free(s->alt_first);
  memset(s, 0, sizeof(*s));
}

size_t mb_stream_build(const struct mb_stream *s, const struct mb_spkt *p, uint64_t loop,
                       uint16_t seq, uint32_t ssrc, uint8_t *out, uint16_t *pic) {
  uint32_t ts = (uint32_t)(p->ts + loop * (p->video ? s->video_ts_loop : s->audio_ts_loop));

  out[0] = 0x80;
  out[1] = (uint8_t)((p->marker ? 0x80 : 0) | (p->video ? MB_PT_VP8 : MB_PT_OPUS));
  out[2] = (uint8_t)(seq >> 8);
  out[3] = (uint8_t)seq;
  out[4] = (uint8_t)(ts >> 24);
  out[5] = (uint8_t)(ts >> 16);
  out[6] = (uint8_t)(ts >> 8);
  out[7] = (uint8_t)ts;
  out[8] = (uint8_t)(ssrc >> 24);
  out[9] = (uint8_t)(ssrc >> 16);
  out[10] = (uint8_t)(ssrc >> 8);
  out[11] = (uint8_t)ssrc;
  memcpy(out + 12, s->blob + p->off, p->len);
  *pic = (uint16_t)((loop * s->frames + p->frame) & 0x7fff);
  if (p->video) {
    out[14] = (uint8_t)(0x80 | *pic >> 8);
    out[15] = (uint8_t)*pic;
  }
  return 12 + (size_t)p->len;
}

int mb_vp8_info(const uint8_t *p, size_t len, uint16_t *pic, int *key, unsigned *w, unsigned *h) {
  size_t off = 1;

  *key = 0;
  if (len < 4 || !(p[0] & 0x80) || !(p[1] & 0x80) || !(p[2] & 0x80))
    return -1;
  *pic = (uint16_t)((p[2] & 0x7f) << 8 | p[3]);
  off = 4 + ((p[1] & 0x40) ? 1 : 0) + ((p[1] & 0x30) ? 1 : 0);
  if (!(p[0] & 0x10) || (p[0] & 0x0f) || len < off + 10)
    return 0; /* not a frame's first packet */
  p += off;
  if ((p[0] & 1) == 0 && p[3] == 0x9d && p[4] == 0x01 && p[5] == 0x2a) {
    *key = 1;
    *w = (unsigned)((p[6] | p[7] << 8) & 0x3fff);
    *h = (unsigned)((p[8] | p[9] << 8) & 0x3fff);
  }
  return 0;
}

/* The made stream in a file, for the other runs of the same bench run:
 * this binary's own layout, checked by a magic with the struct sizes. */
static void stream_magic(char magic[32]) {
  memset(magic, 0, 32);
  snprintf(magic, 32, "onair-mb-stream %zu %zu", sizeof(struct mb_stream), sizeof(struct mb_spkt));
}

int mb_stream_save(const struct mb_stream *s, const char *path) {
  FILE *f = fopen(path, "wb");
  char magic[32];
  int ok;

  if (!f)
    return -1;
  stream_magic(magic);
  ok = fwrite(magic, 32, 1, f) == 1 && fwrite(s, sizeof(*s), 1, f) == 1 &&
       fwrite(s->blob, 1, s->blob_len, f) == s->blob_len &&
       fwrite(s->pkts, sizeof(*s->pkts), s->npkts, f) == s->npkts &&
       fwrite(s->alt, sizeof(*s->alt), s->nalt, f) == s->nalt &&
       fwrite(s->alt_first, sizeof(*s->alt_first), s->frames + 1, f) == s->frames + 1;
  return fclose(f) == 0 && ok ? 0 : -1;
}

int mb_stream_load(struct mb_stream *s, const char *path) {
  FILE *f = fopen(path, "rb");
  char magic[32], want[32];
  struct mb_stream h;
  int ok;

  memset(s, 0, sizeof(*s));
  if (!f)
    return -1;
  stream_magic(want);
  ok = fread(magic, 32, 1, f) == 1 && memcmp(magic, want, 32) == 0 &&
       fread(&h, sizeof(h), 1, f) == 1;
  if (ok) {
    *s = h; /* the saved pointers mean nothing here */
    s->blob = malloc(h.blob_len);
    s->pkts = calloc(h.npkts, sizeof(*s->pkts));
    s->alt = calloc(h.nalt + 1, sizeof(*s->alt));
    s->alt_first = calloc(h.frames + 1, sizeof(*s->alt_first));
    ok = s->blob && s->pkts && s->alt && s->alt_first &&
         fread(s->blob, 1, s->blob_len, f) == s->blob_len &&
         fread(s->pkts, sizeof(*s->pkts), s->npkts, f) == s->npkts &&
         fread(s->alt, sizeof(*s->alt), s->nalt, f) == s->nalt &&
         fread(s->alt_first, sizeof(*s->alt_first), s->frames + 1, f) == s->frames + 1;
  }
  fclose(f);
  if (!ok)
    mb_stream_free(s);
  return ok ? 0 : -1;
}
