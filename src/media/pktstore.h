/* A track's recent RTP packets: a ring of slots indexed by sequence number,
 * written once per incoming packet and read for every viewer and every NACK.
 * One allocation at creation, none after. Not thread-safe: one loop owns a
 * store. */
#ifndef ONAIR_PKTSTORE_H
#define ONAIR_PKTSTORE_H

#include <stddef.h>
#include <stdint.h>

#define PKTSTORE_MTU 1500 /* bytes one slot holds */
#define PKTSTORE_DEFAULT_SLOTS 1024
#define PKTSTORE_MAX_SLOTS 32768 /* half the sequence space, so order stays decidable */

/* Flags stored with a packet (pktstore_put's flags, struct pkt's flags). */
enum pkt_flag {
  PKT_KEYFRAME = 1 << 0, /* the first packet of a keyframe (rtp_*_keyframe() == 1) */
  PKT_MARKER = 1 << 1,   /* RTP marker bit: the last packet of a frame (video) */
  PKT_VP8 = 1 << 2,      /* a VP8 packet (its payload descriptor has picture IDs) */
};

struct pkt {
  uint16_t seq;        /* RTP sequence number */
  uint16_t len;        /* bytes of data; 0 for an empty slot */
  uint32_t flags;      /* enum pkt_flag */
  uint64_t arrival_ms; /* the now_ms given to pktstore_put */
  uint8_t data[PKTSTORE_MTU];
};

struct pktstore; /* opaque */

/* A store of slots packets (a power of two up to PKTSTORE_MAX_SLOTS; 0 picks
 * PKTSTORE_DEFAULT_SLOTS). Returns NULL with errno EINVAL or ENOMEM. Caller
 * owns; pktstore_free(). */
struct pktstore *pktstore_new(size_t slots);
void pktstore_free(struct pktstore *ps);
/* Forgets every packet and the sequence history (a new source). */
void pktstore_reset(struct pktstore *ps);

/* Stores a copy of one packet (the whole RTP packet, len 1..PKTSTORE_MTU) in
 * slot seq & (slots - 1), replacing what it held. The first packet, and any
 * packet ahead of the highest one by less than 32768, sets the highest
 * sequence number (counting a rollover when it wraps past 65535). A packet
 * behind it by less than the number of slots is stored in its place; one
 * further behind is older than anything kept and is refused with -ERANGE,
 * unless it is the one right after such a refused packet: two in a row mean
 * the source jumped (RFC 3550 A.1), and the store starts over from them.
 * Returns 0, -EINVAL for a length out of range, or -ERANGE. */
int pktstore_put(struct pktstore *ps, uint16_t seq, const uint8_t *data, size_t len, uint32_t flags,
                 uint64_t now_ms);
/* The packet stored for seq, or NULL when its slot is empty, holds another
 * sequence number, or holds one that is no longer among the last slots
 * sequence numbers. Valid until the next put or reset. */
const struct pkt *pktstore_get(const struct pktstore *ps, uint16_t seq);
/* The extended highest sequence number stored (RFC 3550 A.1: the rollover
 * count in the high 16 bits, 0 at the first packet and incremented by each
 * wrap past 65535; a jump the store restarted from counts as the distance
 * forward to it). 0, or -ENOENT when empty. */
int pktstore_highest(const struct pktstore *ps, uint32_t *ext_seq);
/* The sequence number and arrival time of the most recent packet stored with
 * PKT_KEYFRAME. 0, or -ENOENT when there is none or it has been evicted. */
int pktstore_last_keyframe(const struct pktstore *ps, uint16_t *seq, uint64_t *ms);
size_t pktstore_slots(const struct pktstore *ps);

#endif
