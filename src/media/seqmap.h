/* A viewer's view of one track: the SSRC, sequence numbers and timestamps
 * the viewer sees, derived from the publisher's by constant offsets that
 * change only when the stream (re)starts. A viewer that joins mid-stream, or
 * a publisher that restarts, still sees one continuous stream: sequence
 * numbers go on from the last one sent plus one, timestamps from after the
 * last one. Embedded by value in the viewer; no allocation. */
#ifndef ONAIR_SEQMAP_H
#define ONAIR_SEQMAP_H

#include <stdint.h>

/* Media clock ticks put between the last timestamp sent and the first one
 * after a restart: one frame of 30 fps video at 90 kHz. A gap too long looks
 * like a short pause; a timestamp that goes back would not play. A caller
 * that knows the wall time since the last packet sets ts_gap to it in clock
 * ticks before seqmap_start(), so the receiver's jitter estimate sees no
 * jump. */
#define SEQMAP_TS_GAP_DEFAULT 3000

/* All fields are private except out_ssrc and ts_gap. Offsets are added mod
 * 2^16 and 2^32. */
struct seqmap {
  uint32_t out_ssrc;  /* the SSRC the viewer sees */
  uint32_t ts_gap;    /* ticks between segments; seqmap_init sets the default */
  int started;        /* seqmap_start() was called */
  int sent;           /* a packet went out in the current segment */
  uint16_t seq_off;   /* out_seq = in_seq + seq_off */
  uint32_t ts_off;    /* out_ts = in_ts + ts_off */
  uint16_t out_start; /* output sequence number of the segment's first packet */
  uint32_t ts_start;  /* output timestamp of the segment's first packet */
  uint16_t out_high;  /* highest output sequence number of the segment, when sent */
  uint16_t span;      /* out_high - out_start, saturating at 65535 */
  uint32_t ts_high;   /* latest output timestamp of the segment, when sent */
};

void seqmap_init(struct seqmap *m, uint32_t out_ssrc);
/* Begins a segment whose first packet (a keyframe, for video) has in_seq and
 * in_ts. The first segment keeps the publisher's numbers; a later one starts
 * at the sequence number after the last one sent and at ts_gap ticks after
 * the latest timestamp sent (or where the previous segment started, if it
 * sent nothing). */
void seqmap_start(struct seqmap *m, uint16_t in_seq, uint32_t in_ts);
/* The viewer's sequence number and timestamp for an incoming packet. Packets
 * out of order or repeated map to the same relative order and the same
 * numbers. Returns 0, -EAGAIN before seqmap_start(), or -ESTALE for a packet
 * from before the segment's start (its number may already have been sent). */
int seqmap_out(struct seqmap *m, uint16_t in_seq, uint32_t in_ts, uint16_t *out_seq,
               uint32_t *out_ts);
/* The publisher's sequence number for one the viewer NACKed. Returns 0, or
 * -ENOENT when out_seq is not one of the current segment's (from an earlier
 * segment, or not sent yet). */
int seqmap_in_seq(const struct seqmap *m, uint16_t out_seq, uint16_t *in_seq);

#endif
