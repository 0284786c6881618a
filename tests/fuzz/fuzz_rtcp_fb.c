/* libFuzzer target for RTCP feedback through the forwarding code
 * (src/media/sfu_fwd.c): NACK, PLI, FIR and REMB from viewers, sender
 * reports from the publisher, on a real SFU (sfu_fixture.h) whose room has
 * a connected publisher (VP8 or H.264, and Opus) and two connected viewers
 * (the second, with a profile bit, audio only). The publisher's media and
 * every viewer's feedback go in as the browsers would send them: protected
 * with their end of SRTP, from their own address, through the UDP
 * demultiplexer. What onair sends back is read with the browsers' ends.
 *
 * The input is a profile byte and a script (README.md, "fuzz_rtcp_fb input
 * format"): publisher RTP (audio or video, keyframe or not, a new source,
 * sequence numbers ahead, back or repeated), viewer NACKs for what they
 * were sent (and for other SSRCs), PLI and FIR, REMB, compounds of fuzzed
 * RTCP packets, publisher sender reports, and time passing.
 *
 * Independent of sfu_fwd.c, from what the browsers saw:
 *   - a viewer receives RTP only under the SSRC and payload type of its
 *     answer, with the payload and marker of the publisher's packet whose
 *     sequence number maps to it; a packet it gets again is byte for byte
 *     what it got the first time, and comes only as the answer to its own
 *     NACK naming that number;
 *   - the publisher's packet one to 100 numbers past the newest is
 *     forwarded at once to every viewer that receives its kind (video from
 *     a keyframe on, after each new source; after a jump of the numbers,
 *     which onair may take as a new start, from the next keyframe);
 *   - one NACK packet draws at most 64 packets, only ones it names, and
 *     the nack_resent counter counts what went out (whether a NACK must be
 *     answered is left open: duplicates and a retransmission budget may
 *     hold it back);
 *   - keyframe requests reach the publisher as PLIs for its current video
 *     SSRC, at least a second apart, and a viewer's PLI or FIR draws one
 *     when a second has passed since the last; keyframe_requests counts
 *     them;
 *   - a publisher's sender report reaches every viewer that was sent its
 *     kind, in the viewer's numbering: its SSRC, the same NTP time, the
 *     RTP time moved by the viewer's offset, and the packets and octets
 *     the viewer was sent;
 *   - REMB, RR and SDES draw nothing, feedback never closes a peer, and
 *     nothing goes anywhere but the three browsers' addresses.
 * Any broken check traps. */
#include "sfu_fixture.h"
#include "fuzz_input.h"

#define FB_RING 4096      /* per viewer and kind: what it was sent, by number */
#define FB_PUB_RING 1024  /* per kind: what the publisher sent, by number */
#define FB_PAYLOAD_MAX 96 /* bytes of payload the input gives a packet */
#define FB_NACK_CAP 64    /* packets one NACK may draw (SFU_NACK_MAX) */
#define FB_KEYFRAME_MS 1000

enum fb_op {
  FB_OP_RTP,      /* the publisher sends a packet */
  FB_OP_NACK,     /* a viewer NACKs numbers relative to what it got */
  FB_OP_KEYFRAME, /* a viewer sends PLI or FIR */
  FB_OP_REMB,     /* a viewer sends RR + REMB */
  FB_OP_COMPOUND, /* a viewer (or the publisher) sends fuzzed RTCP packets */
  FB_OP_SR,       /* the publisher sends a sender report */
  FB_OP_TICK,     /* consent checks, then time passes */
  FB_OP_NACK_ABS, /* a viewer NACKs numbers the input gives */
  FB_OPS
};

struct fb_hist {
  int valid;
  uint64_t seq;  /* extended (a viewer's), or as sent (the publisher's) */
  uint64_t hash; /* of the payload (the publisher's) or the whole datagram (a viewer's) */
  size_t len;    /* plaintext length */
  size_t dlen;   /* datagram length (a viewer's) */
  int marker;
};

/* Whether a viewer's stream of one kind runs: it got a packet of the
 * publisher's current source (video: from a keyframe on). After a jump of
 * the publisher's numbers onair may have started the stream over, or not. */
enum fb_start { FB_NOT_STARTED, FB_STARTED, FB_MAYBE_STARTED };

/* What one viewer gets of one kind. */
struct fb_out {
  int active; /* the answer sends this kind */
  uint8_t pt;
  uint32_t ssrc;
  enum fb_start started;
  uint16_t last_seq; /* the last packet forwarded (not resent) */
  uint64_t ext_high; /* the highest number it got, extended; 0: none yet */
  uint16_t seq_off;  /* its number minus the publisher's */
  uint32_t ts_off;   /* its timestamp minus the publisher's */
  uint32_t packets, octets;
  struct fb_hist got[FB_RING];
};

/* The publisher's stream of one kind, as sent and as onair took it. */
struct fb_pub {
  uint32_t ssrc; /* what the publisher sends now */
  uint16_t seq;  /* the last sent */
  int known;     /* onair took a packet: sfu_ssrc is its source */
  uint32_t sfu_ssrc;
  int high_valid; /* high is the newest number onair took */
  uint16_t high;
  struct fb_hist sent[FB_PUB_RING];
};

static struct {
  int h264;
  struct fb_out out[FX_PEERS][SFU_KINDS]; /* [0] is unused: the publisher */
  struct fb_pub pub[SFU_KINDS];
  int pli_seen;
  uint64_t pli_ms;
  uint8_t fir_seq;
  uint8_t nacked[FX_PEERS][SFU_KINDS][65536 / 8]; /* the step's NACKed numbers */
} st;

/* What one step sent and what it allows. */
struct fb_step {
  unsigned viewer; /* whose feedback this step is, or 0 */
  int stun_ok;     /* consent checks were answered */
  int rtp_kind;    /* the publisher's packet of this step: its kind, or -1 */
  const uint8_t *rtp;
  size_t rtp_len;
  unsigned forwarded[FX_PEERS][SFU_KINDS];
  unsigned resent[FX_PEERS];
  enum fb_start was_started[FX_PEERS][SFU_KINDS];
  unsigned plis;
  unsigned srs[FX_PEERS];
  struct {
    int kind;
    uint64_t ntp;
    uint32_t ts;
  } sr[8]; /* the publisher's SRs of this step, for sources onair knows */
  unsigned nsr;
};

static uint64_t fb_hash(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;

  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

static uint16_t fb_rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t fb_rd32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void fb_wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void fb_wr32(uint8_t *p, uint32_t v) {
  fb_wr16(p, (uint16_t)(v >> 16));
  fb_wr16(p + 2, (uint16_t)v);
}

static int fb_connected(unsigned i) {
  struct sfu_peer *p = fx_peer(i);

  return p != NULL && p->state == PEER_CONNECTED;
}

/* ---- what the browsers receive ---- */

/* Reads a viewer's answer: which kinds it is sent, under which SSRC and PT. */
static void fb_read_answer(unsigned v) {
  const struct sdp *a = &fx.answer[v];

  for (size_t m = 0; m < a->n_media; m++) {
    const struct sdp_media *md = &a->media[m];
    int k = md->kind == SDP_KIND_AUDIO ? SFU_AUDIO : md->kind == SDP_KIND_VIDEO ? SFU_VIDEO : -1;

    if (k < 0 || md->port == 0 || md->n_ssrcs == 0 || md->direction != SDP_DIR_SENDONLY)
      continue;
    st.out[v][k].active = 1;
    st.out[v][k].pt = md->codecs[0].pt;
    st.out[v][k].ssrc = md->ssrcs[0].ssrc;
  }
}

/* Which of the three browsers a datagram went to. */
static unsigned fb_dest(const struct fx_sent *s) {
  socklen_t alen;

  for (unsigned i = 0; i < FX_PEERS; i++)
    if (fx_same_addr((const struct sockaddr *)&s->to, fx_addr(i, &alen)))
      return i;
  __builtin_trap();
}

/* seq as a number that does not wrap, near the highest o got. */
static uint64_t fb_ext(const struct fb_out *o, uint16_t seq) {
  uint64_t high = o->ext_high ? o->ext_high : (1u << 20) + seq;

  return high + (uint64_t)(int64_t)(int16_t)(seq - (uint16_t)high);
}

/* A packet of the publisher's (in number pub_seq) reached viewer v as
 * plaintext p: the same payload and marker, the viewer's SSRC and PT. */
static void fb_check_content(unsigned v, int k, const uint8_t *p, size_t len, uint16_t pub_seq) {
  const struct fb_out *o = &st.out[v][k];
  const struct fb_hist *h = &st.pub[k].sent[pub_seq % FB_PUB_RING];

  FUZZ_CHECK(len >= 12 && p[0] == 0x80 && (p[1] & 0x7F) == o->pt && fb_rd32(p + 8) == o->ssrc);
  FUZZ_CHECK(h->valid && h->seq == pub_seq && h->len == len);
  FUZZ_CHECK(h->hash == fb_hash(p + 12, len - 12) && h->marker == p[1] >> 7);
}

/* Remembers what viewer v got first under number seq (ext). */
static void fb_keep(struct fb_out *o, uint64_t ext, const struct fx_sent *s, size_t len) {
  struct fb_hist *g = &o->got[ext % FB_RING];

  *g = (struct fb_hist){1, ext, fb_hash(s->data, s->len), len, s->len, 0};
  if (ext > o->ext_high)
    o->ext_high = ext;
  o->octets += (uint32_t)(len - 12);
}

/* An RTP datagram to viewer v. */
static void fb_got_rtp(struct fb_step *step, unsigned v, const struct fx_sent *s) {
  static uint8_t buf[UDP_SLOT_BYTES];
  uint32_t ssrc = fb_rd32(s->data + 8);
  uint16_t seq = fb_rd16(s->data + 2);
  int k = ssrc == st.out[v][SFU_AUDIO].ssrc ? SFU_AUDIO : SFU_VIDEO;
  struct fb_out *o = &st.out[v][k];
  uint64_t ext = fb_ext(o, seq);
  const struct fb_hist *g = &o->got[ext % FB_RING];
  int nacked = st.nacked[v][k][seq / 8] >> (seq % 8) & 1;
  size_t len = s->len;

  FUZZ_CHECK(v != 0 && o->active && o->ssrc == ssrc);
  o->packets++;
  if (g->valid && g->seq == ext) {
    /* Again: only for its own NACK, and what it got the first time. */
    FUZZ_CHECK(step->viewer == v && nacked);
    FUZZ_CHECK(g->dlen == s->len && g->hash == fb_hash(s->data, s->len));
    o->octets += (uint32_t)(g->len - 12);
    step->resent[v]++;
    return;
  }
  memcpy(buf, s->data, len);
  FUZZ_CHECK(srtpctx_unprotect_rtp(fx.browser[v], buf, &len) == 0 && len >= 12);
  if (step->viewer == v) {
    /* Resent, never sent before: a packet that came out of order, before
     * the keyframe the viewer's video started at. */
    FUZZ_CHECK(nacked && o->started != FB_NOT_STARTED);
    fb_check_content(v, k, buf, len, (uint16_t)(seq - o->seq_off));
    step->resent[v]++;
  } else {
    /* Forwarded: the publisher's packet of this step. */
    FUZZ_CHECK(step->rtp_kind == k && step->forwarded[v][k]++ == 0);
    FUZZ_CHECK(len == step->rtp_len && memcmp(buf + 12, step->rtp + 12, len - 12) == 0);
    FUZZ_CHECK(buf[0] == step->rtp[0] && (buf[1] & 0x7F) == o->pt);
    FUZZ_CHECK((buf[1] & 0x80) == (step->rtp[1] & 0x80));
    o->seq_off = (uint16_t)(seq - fb_rd16(step->rtp + 2));
    o->ts_off = fb_rd32(buf + 4) - fb_rd32(step->rtp + 4);
    o->last_seq = seq;
    o->started = FB_STARTED;
  }
  fb_keep(o, ext, s, len);
}

/* One RTCP packet (n bytes, at p) onair sent the publisher. */
static void fb_got_pub_rtcp(struct fb_step *step, const uint8_t *p, size_t n) {
  const struct fb_pub *vid = &st.pub[SFU_VIDEO];

  if (p[1] == 206 && (p[0] & 0x1F) == 1) {
    /* PLI: for the video source onair knows, a second after the last. */
    FUZZ_CHECK(n == 12 && vid->known && fb_rd32(p + 8) == vid->sfu_ssrc);
    FUZZ_CHECK(!st.pli_seen || fx.loop.time - st.pli_ms >= FB_KEYFRAME_MS);
    st.pli_seen = 1;
    st.pli_ms = fx.loop.time;
    step->plis++;
  } else if (p[1] == 201) {
    /* RR: its report block is about a source onair knows. */
    uint32_t rb = n >= 32 ? fb_rd32(p + 8) : 0;

    FUZZ_CHECK((p[0] & 0x1F) == 1 && n == 32);
    FUZZ_CHECK((st.pub[SFU_AUDIO].known && rb == st.pub[SFU_AUDIO].sfu_ssrc) ||
               (vid->known && rb == vid->sfu_ssrc));
  } else {
    FUZZ_CHECK(p[1] == 202); /* SDES */
  }
}

/* One RTCP packet onair sent viewer v: a sender report of the
 * publisher's, passed on in the viewer's numbering. */
static void fb_got_viewer_rtcp(struct fb_step *step, unsigned v, const uint8_t *p, size_t n) {
  uint32_t ssrc = n >= 28 ? fb_rd32(p + 4) : 0;
  int k = ssrc == st.out[v][SFU_AUDIO].ssrc ? SFU_AUDIO : SFU_VIDEO;
  const struct fb_out *o = &st.out[v][k];
  uint64_t ntp = n >= 28 ? (uint64_t)fb_rd32(p + 8) << 32 | fb_rd32(p + 12) : 0;
  unsigned i;

  if (p[1] == 202)
    return;
  FUZZ_CHECK(p[1] == 200 && n >= 28 && o->active && o->started != FB_NOT_STARTED);
  FUZZ_CHECK(o->ssrc == ssrc);
  for (i = 0; i < step->nsr; i++)
    if (step->sr[i].kind == k && step->sr[i].ntp == ntp &&
        step->sr[i].ts + o->ts_off == fb_rd32(p + 16))
      break;
  FUZZ_CHECK(i < step->nsr);
  FUZZ_CHECK(fb_rd32(p + 20) == o->packets && fb_rd32(p + 24) == o->octets);
  step->srs[v]++;
}

/* An SRTCP datagram to browser d: it unprotects, and every packet of the
 * compound is one onair may send there. */
static void fb_got_rtcp(struct fb_step *step, unsigned d, const struct fx_sent *s) {
  static uint8_t buf[UDP_SLOT_BYTES];
  size_t len = s->len, off = 0;

  memcpy(buf, s->data, len);
  FUZZ_CHECK(srtpctx_unprotect_rtcp(fx.browser[d], buf, &len) == 0);
  while (off < len) {
    size_t n;

    FUZZ_CHECK(len - off >= 4 && buf[off] >> 6 == 2 && !(buf[off] & 0x20));
    n = ((size_t)fb_rd16(buf + off + 2) + 1) * 4;
    FUZZ_CHECK(n <= len - off);
    if (d == 0)
      fb_got_pub_rtcp(step, buf + off, n);
    else
      fb_got_viewer_rtcp(step, d, buf + off, n);
    off += n;
  }
}

/* Everything onair sent in this step. */
static void fb_check_sent(struct fb_step *step) {
  FUZZ_CHECK(fx.nsent == fx.nsent_all);
  for (size_t i = 0; i < fx.nsent; i++) {
    const struct fx_sent *s = &fx.sent[i];
    unsigned d = fb_dest(s);

    FUZZ_CHECK(s->len >= 12);
    if (s->data[0] <= 3)
      FUZZ_CHECK(step->stun_ok);
    else if (s->data[1] >= 192 && s->data[1] <= 223)
      fb_got_rtcp(step, d, s);
    else
      fb_got_rtp(step, d, s);
  }
}

/* ---- the publisher ---- */

/* The payload's first bytes: what makes a keyframe or not. */
static size_t fb_payload_head(int k, int key, uint8_t *p) {
  static const uint8_t vp8_key[] = {0x10, 0x00, 0x00, 0x00, 0x9D, 0x01, 0x2A};
  static const uint8_t vp8_delta[] = {0x10, 0x01, 0x00, 0x00};

  if (k == SFU_AUDIO)
    return 0;
  if (st.h264) {
    p[0] = key ? 0x65 : 0x41; /* an IDR slice, or a non-IDR one */
    return 1;
  }
  memcpy(p, key ? vp8_key : vp8_delta, key ? sizeof(vp8_key) : sizeof(vp8_delta));
  return key ? sizeof(vp8_key) : sizeof(vp8_delta);
}

/* onair took the publisher's packet (ahead of the newest it took, or of a
 * new source): who must have got it, and who may have. Only a stream that
 * runs gets a packet of it 1 to 100 numbers ahead at once; after a jump
 * the stream may have started over (RFC 3550 A.1), video then waits for
 * a keyframe. */
static void fb_expect_forward(const struct fb_step *step, int k, int ahead, int key, int fresh) {
  for (unsigned v = 1; v < FX_PEERS; v++) {
    const struct fb_out *o = &st.out[v][k];
    enum fb_start was = step->was_started[v][k];
    int may = fb_connected(v) && o->active && (was != FB_NOT_STARTED || k == SFU_AUDIO || key);
    int must = fb_connected(v) && o->active && (was == FB_STARTED || k == SFU_AUDIO || key);

    FUZZ_CHECK(may || !step->forwarded[v][k]);
    if (must && (fresh || (ahead >= 1 && ahead <= 100)))
      FUZZ_CHECK(step->forwarded[v][k] == 1);
  }
}

/* onair took a packet of a source other than the last (or the first):
 * every viewer starts over, video at a keyframe. */
static void fb_new_source(struct fb_pub *pb, int k) {
  pb->known = 1;
  pb->sfu_ssrc = pb->ssrc;
  pb->high_valid = 0;
  memset(pb->sent, 0, sizeof(pb->sent));
  for (unsigned v = 1; v < FX_PEERS; v++)
    st.out[v][k].started = FB_NOT_STARTED;
}

/* onair took packet seq: how far ahead of the newest it is; a jump leaves
 * whether the viewers' streams run open. */
static int fb_took(struct fb_pub *pb, int k, uint16_t seq) {
  int ahead = pb->high_valid ? (int16_t)(seq - pb->high) : 1;

  if (ahead > 100 || ahead < -100)
    for (unsigned v = 1; v < FX_PEERS; v++)
      if (st.out[v][k].started == FB_STARTED)
        st.out[v][k].started = FB_MAYBE_STARTED;
  if (ahead > 0 || ahead < -100) {
    pb->high = seq;
    pb->high_valid = 1;
  }
  return ahead;
}

/* The publisher's next packet of one kind: plaintext in *pkt, *len. */
static void fb_pub_packet(struct fuzz_in *in, uint8_t op, int k, uint8_t *pkt, size_t *len) {
  struct fb_pub *pb = &st.pub[k];
  int8_t delta = (int8_t)fuzz_byte(in);
  size_t n = fuzz_byte(in) % (FB_PAYLOAD_MAX + 1);

  if (op & 64)
    pb->ssrc = pb->ssrc * 2654435761u + 1; /* the encoder restarted */
  pb->seq = (uint16_t)(pb->seq + (delta ? delta : 1));
  pkt[0] = 0x80;
  pkt[1] = (uint8_t)((op & 32 ? 0x80 : 0) | (k == SFU_AUDIO ? 111 : st.h264 ? 102 : 96));
  fb_wr16(pkt + 2, pb->seq);
  fb_wr32(pkt + 4, (uint32_t)pb->seq * 3000u + pb->ssrc); /* a clock of its own per source */
  fb_wr32(pkt + 8, pb->ssrc);
  *len = 12 + fb_payload_head(k, k == SFU_VIDEO && (op & 16), pkt + 12);
  n = n < in->n ? n : in->n;
  memcpy(pkt + *len, in->d, n);
  in->d += n;
  in->n -= n;
  *len += n;
}

static void fb_pub_rtp(struct fuzz_in *in, uint8_t op, struct fb_step *step) {
  static uint8_t pkt[UDP_SLOT_BYTES], prot[UDP_SLOT_BYTES];
  int k = op & 8 ? SFU_VIDEO : SFU_AUDIO, key = k == SFU_VIDEO && (op & 16), fresh = 0, ahead = 0;
  struct fb_pub *pb = &st.pub[k];
  uint64_t srtp = fx.sfu->stats.dropped[SFU_DROP_SRTP], in0 = fx.sfu->stats.rtp_in;
  size_t len, plen;
  int kept;

  fb_pub_packet(in, op, k, pkt, &len);
  memcpy(prot, pkt, len);
  plen = len;
  if (srtpctx_protect_rtp(fx.browser[0], prot, &plen, sizeof(prot)) < 0)
    return;
  fx_deliver(prot, plen, 0);
  kept = fx.sfu->stats.rtp_in - in0 == 1; /* else too old, or a jump not yet believed */
  if (fx.sfu->stats.dropped[SFU_DROP_SRTP] == srtp) {
    /* onair read it (not a number the publisher's SRTP used already). */
    fresh = !pb->known || pb->sfu_ssrc != pb->ssrc;
    if (fresh)
      fb_new_source(pb, k);
  }
  if (kept) {
    ahead = fb_took(pb, k, pb->seq);
    pb->sent[pb->seq % FB_PUB_RING] =
        (struct fb_hist){1, pb->seq, fb_hash(pkt + 12, len - 12), len, 0, pkt[1] >> 7};
    step->rtp_kind = k;
    step->rtp = pkt;
    step->rtp_len = len;
  }
  for (unsigned v = 1; v < FX_PEERS; v++)
    step->was_started[v][k] = st.out[v][k].started;
  fb_check_sent(step);
  if (kept)
    fb_expect_forward(step, k, ahead, key, fresh);
}

/* ---- viewers' feedback ---- */

/* Protects an RTCP compound (len bytes at pkt) with browser i's SRTP and
 * sends it from i's address. */
static void fb_send_rtcp(unsigned i, const uint8_t *pkt, size_t len) {
  static uint8_t prot[UDP_SLOT_BYTES];

  FUZZ_CHECK(len <= sizeof(prot) - SRTPCTX_MAX_TRAILER);
  memcpy(prot, pkt, len);
  if (len < 8 || srtpctx_protect_rtcp(fx.browser[i], prot, &len, sizeof(prot)) < 0)
    return;
  fx_deliver(prot, len, i);
}

/* An RR without report blocks, as a receive-only browser starts with. */
static size_t fb_put_rr(uint8_t *p, uint32_t ssrc) {
  p[0] = 0x80;
  p[1] = 201;
  fb_wr16(p + 2, 1);
  fb_wr32(p + 4, ssrc);
  return 8;
}

static size_t fb_put_remb(uint8_t *p, uint32_t ssrc, uint32_t media, uint32_t bits) {
  p[0] = 0x80 | 15;
  p[1] = 206;
  fb_wr16(p + 2, 5);
  fb_wr32(p + 4, ssrc);
  fb_wr32(p + 8, 0);
  memcpy(p + 12, "REMB", 4);
  fb_wr32(p + 16, 1u << 24 | (bits & 0x3FFFF));
  fb_wr32(p + 20, media);
  return 24;
}

/* Marks the numbers a NACK's FCI (nitems items at fci) names for viewer
 * v's stream of media: what may come again. */
static void fb_mark_nack(unsigned v, uint32_t media, const uint8_t *fci, size_t nitems) {
  for (int k = 0; k < SFU_KINDS; k++) {
    struct fb_out *o = &st.out[v][k];

    if (!o->active || o->ssrc != media)
      continue;
    for (size_t i = 0; i < nitems && i < RTCP_NACK_MAX_ITEMS; i++) {
      uint16_t pid = fb_rd16(fci + 4 * i), blp = fb_rd16(fci + 4 * i + 2);

      for (int b = -1; b < 16; b++) {
        uint16_t seq = (uint16_t)(pid + b + 1);

        if (b >= 0 && !(blp >> b & 1))
          continue;
        st.nacked[v][k][seq / 8] |= (uint8_t)(1 << (seq % 8));
      }
    }
  }
}

/* The viewer's own SSRC in its RTCP (any will do). */
static uint32_t fb_viewer_ssrc(unsigned v) { return 0xB0000000u + v; }

/* The SSRC a NACK or PLI names, by the input's choice: the viewer's video
 * or audio, the other viewer's video, or the publisher's own. */
static uint32_t fb_media_ssrc(unsigned v, unsigned choice) {
  switch (choice & 3) {
  case 0: return st.out[v][SFU_VIDEO].ssrc;
  case 1: return st.out[v][SFU_AUDIO].ssrc;
  case 2: return st.out[3 - v][SFU_VIDEO].ssrc;
  default: return st.pub[SFU_VIDEO].sfu_ssrc;
  }
}

/* A NACK from viewer v: n items, their PIDs counted back from the last
 * packet it got (or absolute), BLPs from the input. */
static void fb_nack(struct fuzz_in *in, uint8_t op, int absolute, struct fb_step *step) {
  static uint8_t pkt[UDP_SLOT_BYTES];
  unsigned v = 1 + ((op >> 3) & 1);
  uint32_t media = fb_media_ssrc(v, op >> 4);
  size_t nitems = fuzz_byte(in) % 16 + 1, len = op & 64 ? fb_put_rr(pkt, fb_viewer_ssrc(v)) : 0;
  int k = media == st.out[v][SFU_AUDIO].ssrc ? SFU_AUDIO : SFU_VIDEO;
  struct sfu_stats st0, st1;
  sfu_get_stats(fx.sfu, &st0);
  uint64_t resent = st0.nack_resent;
  uint8_t *p = pkt + len;

  p[0] = 0x80 | 1;
  p[1] = 205;
  fb_wr16(p + 2, (uint16_t)(2 + nitems));
  fb_wr32(p + 4, fb_viewer_ssrc(v));
  fb_wr32(p + 8, media);
  for (size_t i = 0; i < nitems; i++) {
    uint16_t pid = absolute ? fuzz_u16(in) : (uint16_t)(st.out[v][k].last_seq - fuzz_byte(in));

    fb_wr16(p + 12 + 4 * i, pid);
    fb_wr16(p + 14 + 4 * i, fuzz_u16(in));
  }
  fb_mark_nack(v, media, p + 12, nitems);
  len += 12 + 4 * nitems;
  if (op & 128)
    len += fb_put_remb(pkt + len, fb_viewer_ssrc(v), media, 300000);
  step->viewer = v;
  fb_send_rtcp(v, pkt, len);
  fb_check_sent(step);
  FUZZ_CHECK(step->resent[v] <= FB_NACK_CAP);
  sfu_get_stats(fx.sfu, &st1);
  FUZZ_CHECK(st1.nack_resent - resent == step->resent[v]);
}

/* A PLI or FIR from viewer v. */
static void fb_keyframe(uint8_t op, struct fb_step *step) {
  static uint8_t pkt[64];
  unsigned v = 1 + ((op >> 3) & 1);
  uint32_t media = fb_media_ssrc(v, op >> 5);
  size_t len = op & 16 ? fb_put_rr(pkt, fb_viewer_ssrc(v)) : 0;
  uint8_t *p = pkt + len;
  uint64_t requests = fx.sfu->stats.keyframe_requests;
  int due = fb_connected(0) && st.pub[SFU_VIDEO].known &&
            (!st.pli_seen || fx.loop.time - st.pli_ms >= FB_KEYFRAME_MS);

  p[0] = 0x80 | (op & 128 ? 4 : 1);
  p[1] = 206;
  fb_wr16(p + 2, op & 128 ? 4 : 2);
  fb_wr32(p + 4, fb_viewer_ssrc(v));
  fb_wr32(p + 8, op & 128 ? 0 : media);
  len += 12;
  if (op & 128) { /* FIR: the FCI names the SSRC */
    fb_wr32(p + 12, media);
    fb_wr32(p + 16, (uint32_t)st.fir_seq++ << 24);
    len += 8;
  }
  step->viewer = v;
  fb_send_rtcp(v, pkt, len);
  fb_check_sent(step);
  FUZZ_CHECK(step->plis == (unsigned)due);
  FUZZ_CHECK(fx.sfu->stats.keyframe_requests - requests == step->plis);
}

/* RR and REMB from viewer v: onair sends nothing for them. */
static void fb_remb(struct fuzz_in *in, uint8_t op, struct fb_step *step) {
  static uint8_t pkt[64];
  unsigned v = 1 + ((op >> 3) & 1);
  size_t len = fb_put_rr(pkt, fb_viewer_ssrc(v));
  uint32_t bits = (uint32_t)fuzz_u16(in) << 8;

  bits |= fuzz_byte(in);

  len += fb_put_remb(pkt + len, fb_viewer_ssrc(v), fb_media_ssrc(v, op >> 4), bits);
  step->viewer = v;
  fb_send_rtcp(v, pkt, len);
  fb_check_sent(step);
  FUZZ_CHECK(fx.nsent_all == 0);
}

/* What a fuzzed packet (n bytes at p, from browser `from`) may draw: the
 * numbers a viewer's NACK names, the publisher's SR passed on. */
static void fb_note_packet(struct fb_step *step, unsigned from, const uint8_t *p, size_t n) {
  size_t body = n - 4 - (p[0] & 0x20 ? p[n - 1] : 0);

  if (from && p[1] == 205 && (p[0] & 0x1F) == 1 && body >= 12)
    fb_mark_nack(from, fb_rd32(p + 8), p + 12, (body - 8) / 4);
  if (!from && p[1] == 200 && body >= 24 && step->nsr < 8) {
    for (int k = 0; k < SFU_KINDS; k++) {
      if (!st.pub[k].known || st.pub[k].sfu_ssrc != fb_rd32(p + 4))
        continue;
      step->sr[step->nsr].kind = k;
      step->sr[step->nsr].ntp = (uint64_t)fb_rd32(p + 8) << 32 | fb_rd32(p + 12);
      step->sr[step->nsr++].ts = fb_rd32(p + 16);
    }
  }
}

/* Fuzzed RTCP packets in a compound, from a viewer or the publisher: each
 * a header with the input's type, count and padding bit, and the input's
 * body. */
static void fb_compound(struct fuzz_in *in, uint8_t op, struct fb_step *step) {
  static uint8_t pkt[UDP_SLOT_BYTES];
  unsigned from = op & 8 ? 1 + ((op >> 4) & 1) : 0, npkts = (op >> 5) + 1;
  size_t len = 0;

  for (unsigned i = 0; i < npkts && len < 1024; i++) {
    uint8_t type = fuzz_byte(in), count = fuzz_byte(in);
    size_t body = fuzz_byte(in) % 32 * 4, take = body < in->n ? body : in->n;
    uint8_t *p = pkt + len;

    p[0] = (uint8_t)(0x80 | (count & 0x3F));
    p[1] = (uint8_t)(192 + type % 32);
    fb_wr16(p + 2, (uint16_t)(body / 4));
    memset(p + 4, 0, body);
    memcpy(p + 4, in->d, take);
    in->d += take;
    in->n -= take;
    if ((p[0] & 0x20) && (body == 0 || p[3 + body] == 0 || p[3 + body] > body))
      p[0] &= (uint8_t)~0x20; /* padding: a valid count, or none */
    fb_note_packet(step, from, p, 4 + body);
    len += 4 + body;
  }
  step->viewer = from;
  fb_send_rtcp(from, pkt, len);
  fb_check_sent(step);
}

/* A sender report from the publisher for its source of one kind (or a
 * source onair does not know). */
static void fb_sr(struct fuzz_in *in, uint8_t op, struct fb_step *step) {
  static uint8_t pkt[28];
  int k = op & 8 ? SFU_VIDEO : SFU_AUDIO;
  uint32_t ssrc = op & 16 ? 0x5EC0DE : st.pub[k].ssrc;
  uint64_t ntp = 0;

  for (int i = 0; i < 8; i++)
    ntp = ntp << 8 | fuzz_byte(in);
  pkt[0] = 0x80;
  pkt[1] = 200;
  fb_wr16(pkt + 2, 6);
  fb_wr32(pkt + 4, ssrc);
  fb_wr32(pkt + 8, (uint32_t)(ntp >> 32));
  fb_wr32(pkt + 12, (uint32_t)ntp);
  fb_wr16(pkt + 16, fuzz_u16(in));
  fb_wr16(pkt + 18, fuzz_u16(in));
  memset(pkt + 20, 0, 8);
  fb_note_packet(step, 0, pkt, sizeof(pkt));
  fb_send_rtcp(0, pkt, sizeof(pkt));
  fb_check_sent(step);
  for (unsigned v = 1; v < FX_PEERS; v++) {
    const struct fb_out *o = &st.out[v][k];
    int due = step->nsr && fb_connected(v) && o->active;

    if (o->started == FB_MAYBE_STARTED)
      FUZZ_CHECK(step->srs[v] <= (unsigned)due);
    else
      FUZZ_CHECK(step->srs[v] == (unsigned)(due && o->started == FB_STARTED));
  }
}

/* Every browser checks (as consent, RFC 7675, needs), then time passes
 * and onair's timer runs: receiver reports go to the publisher. */
static void fb_tick(uint8_t op, struct fb_step *step) {
  for (unsigned i = 0; i < FX_PEERS; i++)
    FUZZ_CHECK(fx_check(i, i, 0, 0, 7 + i) == 0);
  fx_advance((uint64_t)(op >> 3) * 100);
  step->stun_ok = 1;
  fb_check_sent(step);
}

static void fb_step(struct fuzz_in *in, uint8_t op) {
  struct fb_step step;

  memset(&step, 0, sizeof(step));
  step.rtp_kind = -1;
  memset(st.nacked, 0, sizeof(st.nacked));
  fx.nsent = fx.nsent_all = 0;
  switch (op % FB_OPS) {
  case FB_OP_RTP: fb_pub_rtp(in, op, &step); break;
  case FB_OP_NACK: fb_nack(in, op, 0, &step); break;
  case FB_OP_KEYFRAME: fb_keyframe(op, &step); break;
  case FB_OP_REMB: fb_remb(in, op, &step); break;
  case FB_OP_COMPOUND: fb_compound(in, op, &step); break;
  case FB_OP_SR: fb_sr(in, op, &step); break;
  case FB_OP_TICK: fb_tick(op, &step); break;
  default: fb_nack(in, op, 1, &step); break;
  }
  for (unsigned i = 0; i < FX_PEERS; i++)
    FUZZ_CHECK(fb_connected(i)); /* feedback never closes a peer */
  fx_check_maps();
}

/* The room: the publisher and two viewers, each checked and connected from
 * its own address. */
static void fb_setup(int gcm, int audio_only) {
  fx_begin();
  FUZZ_CHECK(fx_offer(0, fx_publisher_sdp(st.h264)) == 0);
  FUZZ_CHECK(fx_check(0, 0, 1, 0, 1) == 0 && fx_connect(0, 0, gcm) == 0);
  for (unsigned v = 1; v < FX_PEERS; v++) {
    FUZZ_CHECK(fx_offer(v, fx_viewer_sdp(v == 2 && audio_only)) == 0);
    FUZZ_CHECK(fx_check(v, v, 1, 0, 1 + v) == 0 && fx_connect(v, v, gcm) == 0);
    fb_read_answer(v);
  }
  FUZZ_CHECK(st.out[1][SFU_AUDIO].active && st.out[1][SFU_VIDEO].active);
  st.pub[SFU_AUDIO].ssrc = 0x1A2B3C4D;
  st.pub[SFU_VIDEO].ssrc = 0x5E6F7081;
  st.pub[SFU_AUDIO].seq = 1000;
  st.pub[SFU_VIDEO].seq = 65500; /* wraps soon */
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fx_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fuzz_in in = {data, size};
  uint8_t flags = fuzz_byte(&in);

  memset(&st, 0, sizeof(st));
  st.h264 = (flags >> 1) & 1;
  fb_setup(flags & 1, (flags >> 2) & 1);
  while (in.n > 0)
    fb_step(&in, fuzz_byte(&in));
  fx_end();
  return 0;
}
