/* Transport-wide congestion control feedback
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01), both directions:
 * as the receiver of a publisher's RTP, the arrival times of its packets by
 * their transport-wide sequence number and the feedback packets (RTCP
 * RTPFB, FMT 15) that tell them; as the sender to a viewer, the sequence
 * numbers of our packets with their send times and sizes, and the viewer's
 * feedback matched against them for the bandwidth estimator.
 *
 * Every state is a fixed-size struct the owner embeds by value: no
 * allocation, and no I/O. Not thread-safe: one loop owns a state. */
#ifndef ONAIR_TWCC_H
#define ONAIR_TWCC_H

#include <stddef.h>
#include <stdint.h>

#include "media/rtcp.h"

#define TWCC_FMT 15          /* FMT of the feedback in an RTPFB (PT 205) packet */
#define TWCC_TICK_US 250     /* unit of a receive delta */
#define TWCC_REF_US 64000    /* unit of the reference time */
#define TWCC_MAX_STATUS 4096 /* packets one feedback may report; more is -EINVAL */
#define TWCC_RECV_SLOTS 1024 /* arrivals the receiver keeps (a power of two) */
#define TWCC_RECV_LATE 256   /* how far before the next feedback a late packet still counts */
#define TWCC_SEND_SLOTS 2048 /* sent packets the sender keeps (a power of two) */

/* One packet as the feedback tells it: when it was sent, whether and when it arrived. */
struct twcc_pkt {
  int64_t send_us; /* our clock, microseconds */
  int64_t
      arrival_us; /* the receiver's clock (only differences mean anything); TWCC_LOST: not received */
  uint32_t size; /* bytes on the wire */
  uint16_t seq;  /* transport-wide sequence number */
};
#define TWCC_LOST INT64_MIN

/* ---- receive side: onair as the receiver of a publisher ---- */

/* Arrivals by unwrapped (64-bit) sequence number. Invariants: the slots of
 * the TWCC_RECV_SLOTS numbers up to high hold those numbers' arrivals (or
 * TWCC_LOST), and next <= high + 1. */
struct twcc_recv {
  int64_t arrival[TWCC_RECV_SLOTS]; /* us, at unwrapped seq & (slots - 1); TWCC_LOST: none */
  int64_t high;                     /* unwrapped seq of the newest packet */
  int64_t next;                     /* unwrapped seq the next feedback starts at */
  int64_t bad_arrival_us;           /* arrival of the packet refused as a jump */
  uint16_t bad_seq;                 /* the number that confirms that jump (RFC 3550 A.1) */
  uint8_t bad_valid;                /* the last packet was refused as a jump */
  uint8_t fb_count;                 /* feedback packet count the next feedback carries */
  uint8_t started;                  /* a packet has been seen */
};

void twcc_recv_init(struct twcc_recv *r);
/* Records that the packet numbered seq arrived at arrival_us (a monotonic
 * clock, microseconds; values beyond +-2^62 are clamped). Numbers are
 * unwrapped against the newest packet, so reordering and wrap past 65535
 * are fine; a duplicate keeps its first arrival. A packet more than
 * TWCC_RECV_SLOTS ahead of the newest, or more than TWCC_RECV_LATE before the
 * first one the next feedback reports (or out of the ring), is refused,
 * unless it is the one right after such a refused packet: two in a row mean
 * the sender's numbering jumped (RFC 3550 A.1), and the state starts over
 * from them, forgetting what was not reported yet.
 *
 * A packet arriving after a feedback reported it lost (within
 * TWCC_RECV_LATE) is reported received: the next feedback starts at it, and
 * so reports again the packets after it that earlier feedback covered, as
 * libwebrtc does. */
void twcc_recv_on_packet(struct twcc_recv *r, uint16_t seq, int64_t arrival_us);
/* Writes one feedback RTCP packet (RTPFB, FMT 15) at out: the packets from
 * the first not yet reported up to the newest, each received one with its
 * arrival delta (rounded to TWCC_TICK_US, without drift), the reference
 * time taken from the first received one. It ends early before a packet
 * whose delta does not fit 16 bits signed, or that would make it longer
 * than cap; the rest goes in the next feedback. Chunks are run-length,
 * 1-bit or 2-bit status vectors, whichever covers most; a length not a
 * multiple of 4 is padded with RTCP padding (P bit, count in the last byte),
 * as libwebrtc does. Returns the length, 0 when there is nothing new, or
 * -ENOBUFS when cap does not hold the header and the packets up to the first
 * received one (out then holds garbage and nothing is consumed). */
int twcc_recv_build(struct twcc_recv *r, uint8_t *out, size_t cap, uint32_t sender_ssrc,
                    uint32_t media_ssrc);

/* ---- parsing a feedback ---- */

/* One feedback's FCI, checked whole by twcc_parse(). Pointers point into
 * the FCI given to it. */
struct twcc_fb {
  uint16_t base_seq;     /* the first packet reported */
  uint16_t count;        /* packets reported: 1..TWCC_MAX_STATUS */
  uint32_t ref_time;     /* 24 bits, TWCC_REF_US units; wraps (the draft calls it signed) */
  uint8_t fb_count;      /* feedback packet count: +1 per feedback the receiver sent */
  const uint8_t *chunks; /* the packet chunks, 2 bytes each */
  size_t chunks_len;     /* bytes */
  const uint8_t *deltas; /* the receive deltas */
  size_t deltas_len;     /* bytes they take (trailing bytes are not counted) */
};

/* Walks the packets of a parsed feedback in order. */
struct twcc_fb_iter {
  const struct twcc_fb *fb;
  size_t chunk_off;  /* bytes of chunks passed */
  unsigned in_chunk; /* symbols of the current chunk passed */
  size_t delta_off;  /* bytes of deltas passed */
  unsigned i;        /* packets passed */
  int64_t ticks;     /* sum of the deltas passed, TWCC_TICK_US units */
};

/* Checks and reads one feedback's FCI (len bytes after the RTCP header and
 * the two SSRCs). Returns 0, or -EINVAL when it is shorter than 8 bytes,
 * reports 0 or more than TWCC_MAX_STATUS packets, has fewer chunks than the
 * count needs, gives a reserved status symbol (3) to a reported packet, or
 * lacks a delta a received packet needs. Bytes after the deltas (padding)
 * are ignored, as are a vector's symbols past the count. */
int twcc_parse(const uint8_t *fci, size_t len, struct twcc_fb *fb);
/* The RTCP-level step before twcc_parse(): 0 with fb filled (rtcp_parse_fb)
 * when pkt (from rtcp_next()) is an RTPFB packet of FMT TWCC_FMT, else
 * -EINVAL. */
int twcc_rtcp_fb(const struct rtcp_pkt *pkt, struct rtcp_fb *fb);
void twcc_fb_iter_init(struct twcc_fb_iter *it, const struct twcc_fb *fb);
/* The next packet reported: returns 1 with *seq and *recv_us, its arrival
 * in microseconds after the reference time (ref_time * TWCC_REF_US), or
 * TWCC_LOST; 0 after the last; -EINVAL only if fb was not from a successful
 * twcc_parse(). */
int twcc_fb_next(struct twcc_fb_iter *it, uint16_t *seq, int64_t *recv_us);

/* ---- send side: onair as the sender to a viewer ---- */

struct twcc_sent {
  int64_t send_us; /* our clock */
  uint32_t size;   /* bytes on the wire */
  uint8_t state;   /* what feedback told of it so far (twcc.c) */
};

/* The last TWCC_SEND_SLOTS packets sent, by unwrapped sequence number. */
struct twcc_send {
  struct twcc_sent sent[TWCC_SEND_SLOTS]; /* at unwrapped seq & (slots - 1) */
  int64_t next; /* unwrapped seq of the next packet sent (the first is 0) */
  int64_t ref;  /* the last feedback's reference time, unwrapped */
  uint8_t have_ref;
};

void twcc_send_init(struct twcc_send *s);
/* Numbers the next packet sent (send_us on our clock, size bytes on the
 * wire) and remembers it. Returns the sequence number to write in its
 * transport-wide sequence number header extension. */
uint16_t twcc_send_next(struct twcc_send *s, int64_t send_us, uint32_t size);
/* Parses one feedback's FCI (as twcc_parse()) and matches it against the
 * packets sent: out gets, in sequence order, up to cap entries, one per
 * packet reported with send_us and size from the history and arrival_us
 * from the reference time (unwrapped across feedbacks, so the receiver's
 * clock reads on without a jump at its 24-bit wrap) and the deltas, or
 * TWCC_LOST. Left out: packets not in the history (older than the last
 * TWCC_SEND_SLOTS, or never sent), a packet already given as received by
 * an earlier feedback, and a loss already given (a receiver may report
 * packets again, libwebrtc does when one arrives late): so each packet
 * reaches out at most once lost and at most once received, after its
 * loss when it arrived late. Packets past cap stay unreported for a later
 * feedback. Returns the number of entries, or -EINVAL on a malformed
 * feedback (nothing is changed then). */
int twcc_send_on_feedback(struct twcc_send *s, const uint8_t *fci, size_t len, struct twcc_pkt *out,
                          size_t cap);

#endif
