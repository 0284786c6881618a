/* Transport-wide congestion control feedback: the receiver's arrival ring
 * and feedback builder, the parser, and the sender's history. Every read of
 * a feedback is an explicit byte operation at an offset checked against its
 * length first; every write is checked against the caller's capacity first.
 *
 * A feedback's packets each get a status symbol: 0 not received, 1
 * received with a delta of 0..255 ticks (one byte), 2 received with
 * another delta (two bytes, signed), 3 reserved. That symbol is also the
 * number of delta bytes the packet takes, which both sides rely on. */
#include "media/twcc.h"

#include <errno.h>
#include <string.h>

#include "util/be.h"

#define TWCC_FCI_HDR 8                   /* base seq, status count, reference time, fb count */
#define TWCC_PKT_HDR (12 + TWCC_FCI_HDR) /* RTCP header and SSRCs, then the above */
#define TWCC_RUN_MAX 8191                /* a run-length chunk's 13-bit length */
#define TWCC_VEC1 14                     /* symbols of a 1-bit status vector chunk */
#define TWCC_VEC2 7                      /* symbols of a 2-bit status vector chunk */
#define TWCC_CLAMP_US ((int64_t)1 << 62)

enum twcc_sym { TWCC_SYM_LOST = 0, TWCC_SYM_SMALL = 1, TWCC_SYM_LARGE = 2, TWCC_SYM_RESERVED = 3 };

/* What feedback told of a sent packet (struct twcc_sent's state). */
enum twcc_sent_state { TWCC_UNREPORTED = 0, TWCC_REPORTED_LOST = 1, TWCC_REPORTED_RECEIVED = 2 };

/* a / b rounded towards minus infinity (b > 0). */
static int64_t twcc_div_floor(int64_t a, int64_t b) {
  int64_t q = a / b;

  return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* ---- status chunks ---- */

/* Symbol k of a chunk (k < twcc_chunk_len(c)). */
static unsigned twcc_chunk_sym(uint16_t c, unsigned k) {
  if (!(c & 0x8000))
    return (c >> 13) & 3;
  if (!(c & 0x4000))
    return (c >> (13 - k)) & 1;
  return (c >> (12 - 2 * k)) & 3;
}

/* Symbols a chunk holds: a run's length, 14 or 7. */
static unsigned twcc_chunk_len(uint16_t c) {
  if (!(c & 0x8000))
    return c & TWCC_RUN_MAX;
  return (c & 0x4000) ? TWCC_VEC2 : TWCC_VEC1;
}

/* Encodes symbols as they come, each chunk as soon as the next symbol
 * would not fit it. The pending symbols are kept while any chunk could
 * still take them: up to 7 of any kind (a 2-bit vector), up to 14 without a
 * large delta (a 1-bit vector), or a run of one symbol. */
struct twcc_chunker {
  uint8_t *p;                  /* where the next chunk goes */
  size_t nchunks;              /* chunks written */
  uint8_t sym[TWCC_VEC1];      /* the first pending symbols */
  unsigned n;                  /* pending symbols */
  uint8_t all_same, has_large; /* of the pending symbols */
};

static int twcc_chunker_can_add(const struct twcc_chunker *c, unsigned s) {
  if (c->n < TWCC_VEC2)
    return 1;
  if (c->n < TWCC_VEC1 && !c->has_large && s != TWCC_SYM_LARGE)
    return 1;
  return c->all_same && s == c->sym[0] && c->n < TWCC_RUN_MAX;
}

/* Bytes of chunks once every pending symbol is written. */
static size_t twcc_chunker_bytes(const struct twcc_chunker *c) {
  return 2 * (c->nchunks + (c->n > 0));
}

/* Bytes adding s would add to twcc_chunker_bytes(). */
static size_t twcc_chunker_cost(const struct twcc_chunker *c, unsigned s) {
  if (twcc_chunker_can_add(c, s))
    return c->n == 0 ? 2 : 0;
  return 2;
}

static void twcc_chunker_put(struct twcc_chunker *c, uint16_t chunk) {
  be_wr16(c->p + 2 * c->nchunks, chunk);
  c->nchunks++;
}

/* A status vector of the first n (<= 7 or 14) pending symbols, 2-bit
 * symbols when two_bit; the symbols past n are 0. */
static uint16_t twcc_chunker_vector(const struct twcc_chunker *c, unsigned n, int two_bit) {
  uint16_t v = two_bit ? 0xC000 : 0x8000;
  unsigned k;

  for (k = 0; k < n; k++)
    v |= two_bit ? (uint16_t)(c->sym[k] << (12 - 2 * k)) : (uint16_t)(c->sym[k] << (13 - k));
  return v;
}

static void twcc_chunker_add(struct twcc_chunker *c, unsigned s) {
  if (c->n == 0) {
    c->all_same = 1;
    c->has_large = 0;
  } else if (s != c->sym[0]) {
    c->all_same = 0;
  }
  if (s == TWCC_SYM_LARGE)
    c->has_large = 1;
  if (c->n < TWCC_VEC1)
    c->sym[c->n] = (uint8_t)s;
  c->n++;
}

/* Writes the chunk the pending symbols make when the next one cannot join
 * them (so n >= 7): their run, 14 of them as a 1-bit vector, or the first 7
 * as a 2-bit vector, keeping the rest pending. */
static void twcc_chunker_emit(struct twcc_chunker *c) {
  unsigned k, rest;

  if (c->all_same) {
    twcc_chunker_put(c, (uint16_t)(c->sym[0] << 13 | c->n));
    c->n = 0;
    return;
  }
  if (c->n == TWCC_VEC1 && !c->has_large) {
    twcc_chunker_put(c, twcc_chunker_vector(c, TWCC_VEC1, 0));
    c->n = 0;
    return;
  }
  twcc_chunker_put(c, twcc_chunker_vector(c, TWCC_VEC2, 1));
  rest = c->n - TWCC_VEC2;
  c->n = 0;
  for (k = 0; k < rest; k++)
    twcc_chunker_add(c, c->sym[TWCC_VEC2 + k]);
}

static void twcc_chunker_push(struct twcc_chunker *c, unsigned s) {
  if (!twcc_chunker_can_add(c, s))
    twcc_chunker_emit(c);
  twcc_chunker_add(c, s);
}

/* Writes the last chunk. */
static void twcc_chunker_flush(struct twcc_chunker *c) {
  if (c->n == 0)
    return;
  if (c->all_same)
    twcc_chunker_put(c, (uint16_t)(c->sym[0] << 13 | c->n));
  else if (c->n <= TWCC_VEC2)
    twcc_chunker_put(c, twcc_chunker_vector(c, c->n, 1));
  else
    twcc_chunker_put(c, twcc_chunker_vector(c, c->n, 0));
  c->n = 0;
}

/* ---- receive side ---- */

#define TWCC_RECV_MASK ((uint64_t)TWCC_RECV_SLOTS - 1)

static int64_t *twcc_recv_slot(struct twcc_recv *r, int64_t u) {
  return &r->arrival[(uint64_t)u & TWCC_RECV_MASK];
}

void twcc_recv_init(struct twcc_recv *r) {
  memset(r, 0, sizeof(*r));
  for (size_t i = 0; i < TWCC_RECV_SLOTS; i++)
    r->arrival[i] = TWCC_LOST;
}

/* Starts over with seq as the first packet (unwrapped to itself). */
static void twcc_recv_restart(struct twcc_recv *r, uint16_t seq, int64_t arrival_us) {
  uint8_t fb_count = r->fb_count;

  twcc_recv_init(r);
  r->fb_count = fb_count; /* the count runs on: the sender detects lost feedback by it */
  r->started = 1;
  r->high = r->next = seq;
  *twcc_recv_slot(r, seq) = arrival_us;
}

/* Makes u (ahead of high by less than the ring) the newest: the numbers
 * between become not received, and unreported ones leaving the ring are
 * never reported. */
static void twcc_recv_advance(struct twcc_recv *r, int64_t u) {
  for (int64_t v = r->high + 1; v <= u; v++)
    *twcc_recv_slot(r, v) = TWCC_LOST;
  r->high = u;
  if (u - r->next >= TWCC_RECV_SLOTS)
    r->next = u - TWCC_RECV_SLOTS + 1;
}

/* A packet out of the window: the first of a jump, or the second that
 * confirms it (RFC 3550 A.1). */
static void twcc_recv_refused(struct twcc_recv *r, uint16_t seq, int64_t arrival_us) {
  uint16_t first = (uint16_t)(seq - 1);
  int64_t first_us = r->bad_arrival_us;

  if (r->bad_valid && seq == r->bad_seq) {
    twcc_recv_restart(r, first, first_us);
    twcc_recv_advance(r, r->high + 1);
    *twcc_recv_slot(r, r->high) = arrival_us;
    return;
  }
  r->bad_valid = 1;
  r->bad_seq = (uint16_t)(seq + 1);
  r->bad_arrival_us = arrival_us;
}

void twcc_recv_on_packet(struct twcc_recv *r, uint16_t seq, int64_t arrival_us) {
  int64_t u, *slot;

  if (arrival_us > TWCC_CLAMP_US)
    arrival_us = TWCC_CLAMP_US;
  if (arrival_us < -TWCC_CLAMP_US)
    arrival_us = -TWCC_CLAMP_US;
  if (!r->started) {
    twcc_recv_restart(r, seq, arrival_us);
    return;
  }
  u = r->high + (int16_t)(uint16_t)(seq - (uint16_t)r->high);
  if (u - r->high >= TWCC_RECV_SLOTS || u <= r->high - TWCC_RECV_SLOTS ||
      u < r->next - TWCC_RECV_LATE) {
    twcc_recv_refused(r, seq, arrival_us);
    return;
  }
  r->bad_valid = 0;
  if (u > r->high)
    twcc_recv_advance(r, u);
  slot = twcc_recv_slot(r, u);
  if (*slot != TWCC_LOST)
    return; /* a duplicate: the first arrival stands */
  *slot = arrival_us;
  if (u < r->next)
    r->next = u; /* reported lost, or not at all: the next feedback starts here */
}

/* One feedback being built: chunks go straight to the packet, deltas to
 * deltas[] until the chunks are all written. */
struct twcc_build {
  struct twcc_chunker ck;
  uint8_t deltas[2 * TWCC_RECV_SLOTS];
  size_t dlen;     /* bytes of deltas */
  int64_t ref;     /* reference time, TWCC_REF_US units; valid once nrecv > 0 */
  int64_t prev_us; /* the last received packet's arrival as the deltas tell it */
  unsigned count;  /* packets taken */
  unsigned nrecv;  /* received packets taken */
};

/* Takes packet u into the feedback unless its delta does not fit 16 bits or
 * the packet would outgrow cap. Returns 1 if taken, 0 if not. */
static int twcc_build_take(struct twcc_build *b, int64_t t, size_t cap) {
  int64_t ticks = 0;
  unsigned s = TWCC_SYM_LOST;
  size_t size;

  if (t != TWCC_LOST) {
    if (b->nrecv == 0) {
      b->ref = twcc_div_floor(t, TWCC_REF_US);
      b->prev_us = b->ref * TWCC_REF_US;
    }
    ticks = twcc_div_floor(t - b->prev_us + TWCC_TICK_US / 2, TWCC_TICK_US);
    if (ticks < INT16_MIN || ticks > INT16_MAX)
      return 0;
    s = ticks >= 0 && ticks <= 255 ? TWCC_SYM_SMALL : TWCC_SYM_LARGE;
  }
  size = TWCC_PKT_HDR + twcc_chunker_bytes(&b->ck) + twcc_chunker_cost(&b->ck, s) + b->dlen + s;
  if (((size + 3) & ~(size_t)3) > cap)
    return 0;
  twcc_chunker_push(&b->ck, s);
  if (s == TWCC_SYM_SMALL)
    b->deltas[b->dlen++] = (uint8_t)ticks;
  if (s == TWCC_SYM_LARGE) {
    be_wr16(b->deltas + b->dlen, (uint16_t)(int16_t)ticks);
    b->dlen += 2;
  }
  if (s != TWCC_SYM_LOST) {
    b->prev_us += ticks * TWCC_TICK_US;
    b->nrecv++;
  }
  b->count++;
  return 1;
}

/* The header, the deltas after the chunks, and the padding. Returns the
 * length. */
static size_t twcc_build_finish(const struct twcc_recv *r, struct twcc_build *b, uint8_t *out,
                                uint32_t sender_ssrc, uint32_t media_ssrc) {
  size_t len = TWCC_PKT_HDR + 2 * b->ck.nchunks + b->dlen;
  size_t total = (len + 3) & ~(size_t)3, pad = total - len;
  uint32_t ref = (uint32_t)((uint64_t)b->ref & 0xFFFFFF);

  memcpy(out + TWCC_PKT_HDR + 2 * b->ck.nchunks, b->deltas, b->dlen);
  memset(out + len, 0, pad);
  if (pad > 0)
    out[total - 1] = (uint8_t)pad;
  out[0] = (uint8_t)(0x80 | (pad > 0 ? 0x20 : 0) | TWCC_FMT);
  out[1] = RTCP_RTPFB;
  be_wr16(out + 2, (uint16_t)(total / 4 - 1));
  be_wr32(out + 4, sender_ssrc);
  be_wr32(out + 8, media_ssrc);
  be_wr16(out + 12, (uint16_t)r->next);
  be_wr16(out + 14, (uint16_t)b->count);
  be_wr32(out + 16, ref << 8 | r->fb_count);
  return total;
}

int twcc_recv_build(struct twcc_recv *r, uint8_t *out, size_t cap, uint32_t sender_ssrc,
                    uint32_t media_ssrc) {
  struct twcc_build b;
  size_t len;
  int64_t u;

  if (!r->started || r->next > r->high)
    return 0;
  memset(&b.ck, 0, sizeof(b.ck));
  b.ck.p = out + TWCC_PKT_HDR;
  b.dlen = 0;
  b.count = b.nrecv = 0;
  b.ref = b.prev_us = 0;
  for (u = r->next; u <= r->high; u++)
    if (!twcc_build_take(&b, *twcc_recv_slot(r, u), cap))
      break;
  if (b.nrecv == 0)
    return -ENOBUFS; /* the newest packet was received: only cap stops short of it */
  twcc_chunker_flush(&b.ck);
  len = twcc_build_finish(r, &b, out, sender_ssrc, media_ssrc);
  r->next += b.count;
  r->fb_count++;
  return (int)len;
}

/* ---- parsing ---- */

/* Walks the chunks until they cover fb->count packets: sets chunks_len and
 * deltas_len. Returns 0 or -EINVAL. */
static int twcc_parse_chunks(struct twcc_fb *fb, size_t avail) {
  size_t off = 0, need = 0;
  unsigned covered = 0, k, n, s;
  uint16_t c;

  while (covered < fb->count) {
    if (avail - off < 2)
      return -EINVAL;
    c = be_rd16(fb->chunks + off);
    off += 2;
    n = twcc_chunk_len(c);
    if (n > fb->count - covered)
      n = fb->count - covered;
    for (k = 0; k < n; k++) {
      s = twcc_chunk_sym(c, k);
      if (s == TWCC_SYM_RESERVED)
        return -EINVAL;
      need += s; /* a symbol is its packet's delta bytes */
    }
    covered += n;
  }
  if (need > avail - off)
    return -EINVAL;
  fb->chunks_len = off;
  fb->deltas = fb->chunks + off;
  fb->deltas_len = need;
  return 0;
}

int twcc_parse(const uint8_t *fci, size_t len, struct twcc_fb *fb) {
  if (len < TWCC_FCI_HDR)
    return -EINVAL;
  fb->base_seq = be_rd16(fci);
  fb->count = be_rd16(fci + 2);
  fb->ref_time = be_rd24(fci + 4);
  fb->fb_count = fci[7];
  if (fb->count == 0 || fb->count > TWCC_MAX_STATUS)
    return -EINVAL;
  fb->chunks = fci + TWCC_FCI_HDR;
  return twcc_parse_chunks(fb, len - TWCC_FCI_HDR);
}

int twcc_rtcp_fb(const struct rtcp_pkt *pkt, struct rtcp_fb *fb) {
  if (pkt->type != RTCP_RTPFB || pkt->count != TWCC_FMT)
    return -EINVAL;
  return rtcp_parse_fb(pkt, fb);
}

void twcc_fb_iter_init(struct twcc_fb_iter *it, const struct twcc_fb *fb) {
  memset(it, 0, sizeof(*it));
  it->fb = fb;
}

/* The status symbol of the next packet, moving past it. */
static int twcc_fb_sym(struct twcc_fb_iter *it) {
  const struct twcc_fb *fb = it->fb;
  uint16_t c;

  for (;;) {
    if (fb->chunks_len - it->chunk_off < 2)
      return -EINVAL;
    c = be_rd16(fb->chunks + it->chunk_off);
    if (it->in_chunk < twcc_chunk_len(c))
      break;
    it->chunk_off += 2; /* done with it (or a run of 0) */
    it->in_chunk = 0;
  }
  return (int)twcc_chunk_sym(c, it->in_chunk++);
}

int twcc_fb_next(struct twcc_fb_iter *it, uint16_t *seq, int64_t *recv_us) {
  const struct twcc_fb *fb = it->fb;
  const uint8_t *d = fb->deltas + it->delta_off;
  size_t left = fb->deltas_len - it->delta_off;
  int s;

  if (it->i >= fb->count)
    return 0;
  s = twcc_fb_sym(it);
  if (s < 0 || s == TWCC_SYM_RESERVED || (size_t)s > left)
    return -EINVAL;
  *seq = (uint16_t)(fb->base_seq + it->i);
  *recv_us = TWCC_LOST;
  if (s == TWCC_SYM_SMALL)
    it->ticks += d[0];
  if (s == TWCC_SYM_LARGE)
    it->ticks += (int16_t)be_rd16(d);
  if (s != TWCC_SYM_LOST)
    *recv_us = it->ticks * TWCC_TICK_US;
  it->delta_off += (size_t)s;
  it->i++;
  return 1;
}

/* ---- send side ---- */

#define TWCC_SEND_MASK ((uint64_t)TWCC_SEND_SLOTS - 1)

void twcc_send_init(struct twcc_send *s) { memset(s, 0, sizeof(*s)); }

uint16_t twcc_send_next(struct twcc_send *s, int64_t send_us, uint32_t size) {
  struct twcc_sent *e = &s->sent[(uint64_t)s->next & TWCC_SEND_MASK];

  e->send_us = send_us;
  e->size = size;
  e->state = TWCC_UNREPORTED;
  return (uint16_t)s->next++;
}

/* The history entry of unwrapped u, or NULL when it is not kept. */
static struct twcc_sent *twcc_send_find(struct twcc_send *s, int64_t u) {
  if (u < 0 || u >= s->next || u < s->next - TWCC_SEND_SLOTS)
    return NULL;
  return &s->sent[(uint64_t)u & TWCC_SEND_MASK];
}

/* The reference time in microseconds, unwrapped against the last one
 * (24 bits wrap every 12.4 days of the receiver's clock). */
static int64_t twcc_send_ref_us(struct twcc_send *s, uint32_t ref_time) {
  int32_t d;

  if (!s->have_ref) {
    s->ref = ref_time;
    s->have_ref = 1;
  } else {
    d = (int32_t)(((ref_time - (uint32_t)s->ref) & 0xFFFFFF) ^ 0x800000) - 0x800000;
    s->ref += d;
  }
  return s->ref * TWCC_REF_US;
}

/* Whether an entry reported as recv_us is news (see twcc_send_on_feedback). */
static int twcc_send_news(struct twcc_sent *e, int64_t recv_us) {
  if (recv_us == TWCC_LOST) {
    if (e->state != TWCC_UNREPORTED)
      return 0;
    e->state = TWCC_REPORTED_LOST;
    return 1;
  }
  if (e->state == TWCC_REPORTED_RECEIVED)
    return 0;
  e->state = TWCC_REPORTED_RECEIVED;
  return 1;
}

int twcc_send_on_feedback(struct twcc_send *s, const uint8_t *fci, size_t len, struct twcc_pkt *out,
                          size_t cap) {
  struct twcc_fb fb;
  struct twcc_fb_iter it;
  struct twcc_sent *e;
  int64_t ref_us, base, recv_us;
  uint16_t seq, newest = (uint16_t)(s->next - 1);
  size_t n = 0;
  int rc;

  rc = twcc_parse(fci, len, &fb);
  if (rc < 0)
    return rc;
  ref_us = twcc_send_ref_us(s, fb.ref_time);
  base = s->next - 1 + (int16_t)(uint16_t)(fb.base_seq - newest);
  twcc_fb_iter_init(&it, &fb);
  while (n < cap && (rc = twcc_fb_next(&it, &seq, &recv_us)) == 1) {
    e = twcc_send_find(s, base + it.i - 1);
    if (e == NULL || !twcc_send_news(e, recv_us))
      continue;
    out[n].send_us = e->send_us;
    out[n].arrival_us = recv_us == TWCC_LOST ? TWCC_LOST : ref_us + recv_us;
    out[n].size = e->size;
    out[n].seq = seq;
    n++;
  }
  return rc < 0 ? rc : (int)n;
}
