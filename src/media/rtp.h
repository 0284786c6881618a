/* RTP packets (RFC 3550 section 5.1) and their header extensions (RFC 8285):
 * a parser that checks every length against the bytes it was given, in-place
 * rewriters for what an SFU changes per viewer, readers of the elements it
 * routes by (MID, RID, transport-wide sequence number), a viewer's copy of a
 * packet carrying only the viewer's own extension, the VP8 payload
 * descriptor (RFC 7741) read and its picture IDs rewritten, and keyframe
 * detection for VP8 and H.264 (RFC 6184) payloads. Pure: no I/O, no
 * allocation. */
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

/* The element id as a 16-bit big-endian number: the transport-wide sequence
 * number (draft-holmer-rmcat-transport-wide-cc-extensions-01 2). Returns 0
 * with *v set, -ENOENT as rtp_ext_find(), -EINVAL as rtp_ext_find() or when
 * the element is not exactly 2 bytes. */
int rtp_ext_u16(const struct rtp_hdr *h, uint8_t id, uint16_t *v);

/* Writes v into the 2-byte element id of the packet p of len bytes, in
 * place; nothing else changes. Returns 0, -ENOENT when the packet has no
 * such element, -EINVAL when p does not parse, id is out of range or the
 * element is not exactly 2 bytes. */
int rtp_ext_write_u16(uint8_t *p, size_t len, uint8_t id, uint16_t v);

/* Copies the element id, an SDES item carried as an extension (RFC 7941),
 * into out as a NUL-terminated string. rtp_ext_token takes a MID (RFC 8843
 * 15, an identification-tag: RFC 4566's token, visible ASCII but for
 * " ( ) , / : ; < = > ? @ [ ] and backslash); rtp_ext_rid an RtpStreamId or
 * RepairedRtpStreamId (RFC 8852; RFC 8851 10's rid-id: [A-Za-z0-9_-]). The
 * element is 1..16 bytes in the one-byte form, 1..255 in the two-byte form.
 * Returns its length (> 0), -ENOENT as rtp_ext_find(), -EINVAL as
 * rtp_ext_find() or for an empty element or a byte outside the set,
 * -ENOBUFS when out cannot hold it and its NUL. On error out (when cap > 0)
 * holds "". */
int rtp_ext_token(const struct rtp_hdr *h, uint8_t id, char *out, size_t cap);
int rtp_ext_rid(const struct rtp_hdr *h, uint8_t id, char *out, size_t cap);

/* A copy of a packet is at most this many bytes longer than the packet: the
 * one-byte extension block of rtp_copy_with_twcc(). */
#define RTP_TWCC_BLOCK_LEN 8

/* A viewer's copy of the packet pkt, which rtp_parse() filled h from, in
 * out (cap bytes; pkt and out must not overlap): the fixed header and the
 * CSRCs as they are, then the viewer's own extension block instead of the
 * publisher's, then the payload and the padding as they are (P kept).
 * With twcc_id 1..14 the block is RFC 8285's one-byte form (0xBEDE, 1
 * word) holding only the transport-wide sequence number element (id,
 * twcc_seq big-endian, one padding byte) and the X bit is set; with
 * twcc_id 0 there is no block and the X bit is clear. Returns the copy's
 * length (at most the packet's + RTP_TWCC_BLOCK_LEN), -ENOBUFS when cap is
 * too small (out unchanged), -EINVAL for twcc_id 15 or more. Two memcpy's
 * and eight byte stores: it runs per packet per viewer. */
int rtp_copy_with_twcc(uint8_t *out, size_t cap, const uint8_t *pkt, const struct rtp_hdr *h,
                       uint8_t twcc_id, uint16_t twcc_seq);

/* The VP8 payload descriptor (RFC 7741 4.2): the first byte X|R|N|S|R|PID,
 * and when X is set, a byte I|L|T|K|RSV followed by the fields those bits
 * announce. A field's value is 0 when the descriptor does not carry it. */
struct rtp_vp8_desc {
  size_t len;              /* bytes of the descriptor; the VP8 payload follows */
  uint8_t non_ref;         /* N: the frame is not used as a reference */
  uint8_t start;           /* S: the packet starts a VP8 partition */
  uint8_t partition;       /* PID, 0..7 */
  uint8_t picture_id_bits; /* I and M: 0 (no PictureID), 7 or 15 */
  uint16_t picture_id;     /* 0..127 or 0..32767 */
  uint8_t has_tl0picidx;   /* L */
  uint8_t tl0picidx;       /* the temporal base layer's running index */
  uint8_t has_tid;         /* T: tid and layer_sync are carried */
  uint8_t tid;             /* temporal layer, 0..3 */
  uint8_t layer_sync;      /* Y */
  uint8_t has_keyidx;      /* K */
  uint8_t keyidx;          /* 0..31 */
};

/* Parses the descriptor at the start of a VP8 payload of len bytes into *d.
 * It may be all of the payload (d->len == len). Reserved bits are ignored,
 * as the RFC asks. Returns 0, or -EINVAL when the payload is shorter than
 * the descriptor its bits announce (d then holds nothing useful). */
int rtp_vp8_desc(const uint8_t *payload, size_t len, struct rtp_vp8_desc *d);

/* Rewrites in place the PictureID (picture_id modulo 128 or 32768, as wide
 * as the one there; M kept) and the TL0PICIDX of the descriptor at the
 * start of payload, each only if the descriptor carries it; no other byte
 * changes. Returns 0, or -EINVAL as rtp_vp8_desc() (nothing written). */
int rtp_vp8_write_ids(uint8_t *payload, size_t len, uint16_t picture_id, uint8_t tl0picidx);

/* Keyframe detection on a packet's payload (h->payload, h->payload_len).
 * Each returns 1 when the packet starts a keyframe, 0 when it does not, and
 * -EINVAL when the payload is too short or malformed to say.
 *
 * VP8: the payload descriptor (rtp_vp8_desc()) must have S=1 and partition
 * index 0, and the VP8 frame tag that follows must have the
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
