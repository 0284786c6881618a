/* RTP packets (RFC 3550 section 5.1) and their header extensions (RFC 8285):
 * a parser that checks every length against the bytes it was given, in-place
 * rewriters for what an SFU changes per viewer, and keyframe detection for
 * VP8 (RFC 7741) and H.264 (RFC 6184) payloads. Pure: no I/O, no allocation. */
#ifndef ONAIR_RTP_H
#define ONAIR_RTP_H

#include <stddef.h>
#include <stdint.h>

#define RTP_HDR_MIN 12 /* bytes of the fixed header */
#define RTP_MAX_CSRC 15

#define RTP_EXT_ONE_BYTE 0xBEDE /* RFC 8285 4.2 profile */
#define RTP_EXT_TWO_BYTE 0x1000 /* RFC 8285 4.3 profile; low 4 bits are appbits */

/* A parsed header. Pointers point into the bytes given to rtp_parse() and
 * live as long as they do. */
struct rtp_hdr {
  uint8_t padding;    /* P bit */
  uint8_t extension;  /* X bit */
  uint8_t csrc_count; /* CC, 0..15 */
  uint8_t marker;     /* M bit */
  uint8_t pt;         /* payload type, 0..127 */
  uint16_t seq;
  uint32_t ts; /* media clock ticks */
  uint32_t ssrc;
  uint32_t csrc[RTP_MAX_CSRC];
  uint16_t ext_profile;   /* "defined by profile", when extension */
  const uint8_t *ext;     /* extension data after its 4-byte header, or NULL */
  size_t ext_len;         /* bytes of ext (a multiple of 4) */
  size_t header_len;      /* bytes: fixed header, CSRCs, extension */
  const uint8_t *payload; /* = packet + header_len */
  size_t payload_len;     /* bytes, padding excluded */
  size_t pad_len;         /* bytes of padding, count byte included */
};

/* Parses one RTP packet of len bytes. Returns 0, or -EINVAL when it is not a
 * well-formed version 2 packet: shorter than its fixed header, CSRC list or
 * extension say; padding count 0 or larger than what follows the header.
 * The payload type is not checked: tell RTCP apart with rtp_is_rtcp(). */
int rtp_parse(const uint8_t *p, size_t len, struct rtp_hdr *h);

/* 1 when the datagram is RTCP multiplexed on the RTP port (RFC 5761 4):
 * version 2, at least a 4-byte RTCP header, second byte 192..223 (RTCP packet
 * types 192..223, i.e. RTP payload types 64..95 with the marker bit). 0 if
 * not. */
int rtp_is_rtcp(const uint8_t *p, size_t len);

/* In-place rewriters. p holds a packet that rtp_parse() accepted (at least
 * RTP_HDR_MIN bytes); nothing else in it changes. rtp_write_pt keeps the
 * marker bit and uses the low 7 bits of pt. */
void rtp_write_ssrc(uint8_t *p, uint32_t ssrc);
void rtp_write_seq(uint8_t *p, uint16_t seq);
void rtp_write_ts(uint8_t *p, uint32_t ts);
void rtp_write_pt(uint8_t *p, uint8_t pt);

/* Finds header extension element id (one-byte form: 1..14, two-byte form:
 * 1..255) in a parsed header. Returns 0 with *data and *len set (len may be
 * 0 in the two-byte form), -ENOENT when the packet has no such element or no
 * RFC 8285 extension block, -EINVAL for an id out of range or an element
 * running past the extension block. */
int rtp_ext_find(const struct rtp_hdr *h, uint8_t id, const uint8_t **data, size_t *len);

/* Keyframe detection on a packet's payload (h->payload, h->payload_len).
 * Each returns 1 when the packet starts a keyframe, 0 when it does not, and
 * -EINVAL when the payload is too short or malformed to say.
 *
 * VP8: the payload descriptor (with its X/I/L/T/K extensions) must have S=1
 * and partition index 0, and the VP8 frame tag that follows must have the
 * inverse key-frame bit P=0 and the key frame start code 9d 01 2a. */
int rtp_vp8_keyframe(const uint8_t *payload, size_t len);
/* H.264: a single NAL unit of type 5 (IDR slice) or 7 (SPS), a STAP-A
 * aggregating one, or the first fragment (S bit) of an FU-A of one. */
int rtp_h264_keyframe(const uint8_t *payload, size_t len);

/* H.264 slice types (ITU-T H.264 7.4.3, slice_type modulo 5). */
enum rtp_h264_slice {
  RTP_SLICE_P = 0,
  RTP_SLICE_B = 1,
  RTP_SLICE_I = 2,
  RTP_SLICE_SP = 3,
  RTP_SLICE_SI = 4
};
/* The type of the first slice (NAL unit type 1 or 5) that starts in the
 * packet: a single NAL unit, the first slice of a STAP-A, or the first
 * fragment of an FU-A. -ENOENT when no slice starts in it, -EINVAL when the
 * payload is malformed or too short to read the slice header's first two
 * fields (first_mb_in_slice and slice_type, Exp-Golomb coded, read past
 * emulation prevention bytes). A B slice is what browsers' WebRTC decoders
 * do not expect: OBS's B-frames. */
int rtp_h264_slice_type(const uint8_t *payload, size_t len);

#endif
