/* Fuzzes transport-wide congestion control feedback (src/media/twcc.c).
 *
 * Byte 0 even: the receive side. The rest is ops (fuzz_input.h), by op % 4:
 *   0 a packet: an int8 step of the sequence number (0 means 1), a byte of
 *     time step scaled by op bits 2-3 (1 us, 250 us, 10 ms, 1 s), backwards
 *     when op bit 4; op bit 5 delivers it twice
 *   1 a feedback built into a capacity of (byte + 1) * 4 - op bits 2-3
 *   2 feedback built with room to spare until there is nothing new
 *   3 a jump: a 16-bit step of the sequence number, then a packet
 * Every feedback built must fit its capacity, walk as one RTCP packet,
 * parse, carry the next feedback count, and report as received only
 * numbers given, at one of the times given (within the 125 us rounding).
 *
 * Byte 0 odd: the send side. Bytes 1-2: packets sent (each remembered with
 * a send time and size derived from its unwrapped number), 65536 more when
 * byte 4 bit 1, byte 3: the entries' capacity / 16, byte 4 bit 0: match the
 * feedback twice. The rest is a
 * feedback's FCI: twcc_send_on_feedback() must agree with twcc_parse(),
 * give at most cap entries, in order, each a packet of the history with its
 * send time, size and the arrival the FCI tells; and the same feedback
 * again must give nothing new. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_input.h"
#include "media/rtcp.h"
#include "media/twcc.h"

#define CHECK(x)        \
  do {                  \
    if (!(x))           \
      __builtin_trap(); \
  } while (0)

#define BIG 8192
#define WRAP_US (((int64_t)1 << 24) * TWCC_REF_US) /* the reference time's period */
#define TIME_MAX ((int64_t)1 << 45)

/* ---- receive side ---- */

static struct {
  struct twcc_recv r;
  uint8_t seen[65536]; /* by seq: given at least once */
  int64_t tmin[65536]; /* by seq: the earliest time given */
  int64_t tmax[65536]; /* ...and the latest */
  uint16_t seq;        /* the last number given */
  int64_t now;         /* us */
  uint8_t fb_count;    /* the count the next feedback must carry */
} rx;

static void rx_packet(uint16_t seq, int64_t t) {
  twcc_recv_on_packet(&rx.r, seq, t);
  if (!rx.seen[seq] || t < rx.tmin[seq])
    rx.tmin[seq] = t;
  if (!rx.seen[seq] || t > rx.tmax[seq])
    rx.tmax[seq] = t;
  rx.seen[seq] = 1;
}

/* x (a reference time plus a delta) is one of seq's times, modulo the
 * reference time's wrap, within rounding. */
static int rx_time_ok(uint16_t seq, int64_t x) {
  int64_t lo = rx.tmin[seq] - 125, span = rx.tmax[seq] + 125 - lo;
  int64_t y = ((x - lo) % WRAP_US + WRAP_US) % WRAP_US;

  return span >= WRAP_US || y <= span;
}

/* Checks one feedback built (len bytes at p, into cap bytes). */
static void rx_check(const uint8_t *p, int len, size_t cap) {
  struct rtcp_iter it;
  struct rtcp_pkt pkt;
  struct rtcp_fb rfb;
  struct twcc_fb fb;
  struct twcc_fb_iter fi;
  uint16_t seq;
  int64_t recv;
  unsigned n = 0, nrecv = 0;
  int rc;

  CHECK(len >= 24 && (size_t)len <= cap && len % 4 == 0);
  CHECK(rtcp_check(p, (size_t)len) == 1);
  rtcp_iter_init(&it, p, (size_t)len);
  CHECK(rtcp_next(&it, &pkt) == 1 && twcc_rtcp_fb(&pkt, &rfb) == 0);
  CHECK(rfb.sender_ssrc == 1 && rfb.media_ssrc == 2);
  CHECK(twcc_parse(rfb.fci, rfb.fci_len, &fb) == 0);
  CHECK(fb.fb_count == rx.fb_count++);
  CHECK(fb.count >= 1 && fb.count <= TWCC_RECV_SLOTS);
  twcc_fb_iter_init(&fi, &fb);
  while ((rc = twcc_fb_next(&fi, &seq, &recv)) == 1) {
    CHECK(seq == (uint16_t)(fb.base_seq + n));
    n++;
    if (recv == TWCC_LOST)
      continue;
    nrecv++;
    CHECK(rx.seen[seq] && rx_time_ok(seq, (int64_t)fb.ref_time * TWCC_REF_US + recv));
  }
  CHECK(rc == 0 && n == fb.count && nrecv >= 1);
}

static void rx_build(size_t cap) {
  static uint8_t buf[BIG];
  int len = twcc_recv_build(&rx.r, buf, cap, 1, 2);

  CHECK(len >= 0 || (len == -ENOBUFS && cap < BIG));
  if (len > 0)
    rx_check(buf, len, cap);
}

static void rx_drain(void) {
  static uint8_t buf[BIG];
  int len, i = 0;

  while ((len = twcc_recv_build(&rx.r, buf, BIG, 1, 2)) > 0) {
    rx_check(buf, len, BIG);
    CHECK(++i <= TWCC_RECV_SLOTS); /* each one reports at least one packet */
  }
  CHECK(len == 0);
}

static void rx_step(struct fuzz_in *in, uint8_t op) {
  static const int64_t scale[4] = {1, 250, 10000, 1000000};
  int8_t step;
  int64_t dt;

  switch (op % 4) {
  case 0:
    step = (int8_t)fuzz_byte(in);
    rx.seq = (uint16_t)(rx.seq + (step ? step : 1));
    dt = fuzz_byte(in) * scale[(op >> 2) & 3];
    rx.now += op & 16 ? -dt : dt;
    if (rx.now > TIME_MAX || rx.now < -TIME_MAX)
      rx.now = 0;
    rx_packet(rx.seq, rx.now);
    if (op & 32)
      rx_packet(rx.seq, rx.now + 1);
    break;
  case 1: rx_build((size_t)(fuzz_byte(in) + 1) * 4 - ((op >> 2) & 3)); break;
  case 2: rx_drain(); break;
  default:
    rx.seq = (uint16_t)(rx.seq + fuzz_u16(in));
    rx.now += (op >> 2) * 1000;
    rx_packet(rx.seq, rx.now);
    break;
  }
}

static void rx_run(struct fuzz_in *in) {
  memset(rx.seen, 0, sizeof(rx.seen));
  twcc_recv_init(&rx.r);
  rx.seq = 0;
  rx.now = 0;
  rx.fb_count = 0;
  while (in->n > 0)
    rx_step(in, fuzz_byte(in));
  rx_drain();
}

/* ---- send side ---- */

static struct twcc_send tx;
static struct twcc_pkt out[TWCC_MAX_STATUS];
static int64_t told[TWCC_MAX_STATUS]; /* by offset from the base: what the FCI says */

/* Checks entries out[0..n) against the history (npkts sent) and told[]. */
static void tx_check(const struct twcc_fb *fb, int n, uint32_t npkts, int64_t ref_us) {
  int prev = -1;

  for (int i = 0; i < n; i++) {
    uint16_t back = (uint16_t)((uint16_t)(npkts - 1) - out[i].seq);
    int64_t u = (int64_t)npkts - 1 - back;
    int off = (uint16_t)(out[i].seq - fb->base_seq);

    CHECK(npkts > 0 && back < TWCC_SEND_SLOTS && u >= 0);
    CHECK(off < fb->count && off > prev); /* in order, each once */
    prev = off;
    CHECK(out[i].send_us == u * 1000 + 3 && out[i].size == (uint32_t)u * 7);
    if (told[off] == TWCC_LOST)
      CHECK(out[i].arrival_us == TWCC_LOST);
    else
      CHECK(out[i].arrival_us == ref_us + told[off]);
  }
}

static void tx_run(struct fuzz_in *in) {
  uint32_t npkts = fuzz_u16(in);
  size_t cap = fuzz_byte(in) * 16u;
  uint8_t flags = fuzz_byte(in);
  int twice = flags & 1, rc, n;
  struct twcc_fb fb;
  struct twcc_fb_iter fi;
  uint16_t seq;

  if (flags & 2)
    npkts += 65536;
  twcc_send_init(&tx);
  for (uint32_t i = 0; i < npkts; i++)
    CHECK(twcc_send_next(&tx, (int64_t)i * 1000 + 3, i * 7) == (uint16_t)i);
  rc = twcc_parse(in->d, in->n, &fb);
  n = twcc_send_on_feedback(&tx, in->d, in->n, out, cap);
  if (rc < 0) {
    CHECK(n == rc && rc == -EINVAL && !tx.have_ref);
    return;
  }
  CHECK(n >= 0 && (size_t)n <= cap && n <= fb.count);
  twcc_fb_iter_init(&fi, &fb);
  for (unsigned i = 0; i < fb.count; i++)
    CHECK(twcc_fb_next(&fi, &seq, &told[i]) == 1 && seq == (uint16_t)(fb.base_seq + i));
  CHECK(twcc_fb_next(&fi, &seq, &told[0]) == 0);
  tx_check(&fb, n, npkts, (int64_t)fb.ref_time * TWCC_REF_US);
  if (!twice)
    return;
  rc = twcc_send_on_feedback(&tx, in->d, in->n, out, cap);
  CHECK(rc >= 0 && (size_t)rc <= cap);
  if ((size_t)n < cap)
    CHECK(rc == 0); /* nothing new: the first call was not cut short */
  tx_check(&fb, rc, npkts, (int64_t)fb.ref_time * TWCC_REF_US);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fuzz_in in = {data, size};

  if (fuzz_byte(&in) & 1)
    tx_run(&in);
  else
    rx_run(&in);
  return 0;
}
