/* RTCP (RFC 3550 section 6, RFC 4585, RFC 5104, draft-alvestrand-rmcat-remb):
 * an iterator over a compound packet that checks every header before any
 * packet is looked at, parsers for the packets an SFU acts on, and builders
 * into caller buffers. Pure: no I/O, no allocation. */
#ifndef ONAIR_RTCP_H
#define ONAIR_RTCP_H

#include <stddef.h>
#include <stdint.h>

#define RTCP_HDR_LEN 4 /* bytes of the common header */

enum rtcp_type {
  RTCP_SR = 200,
  RTCP_RR = 201,
  RTCP_SDES = 202,
  RTCP_BYE = 203,
  RTCP_APP = 204,
  RTCP_RTPFB = 205, /* transport-layer feedback (RFC 4585 6.2) */
  RTCP_PSFB = 206,  /* payload-specific feedback (RFC 4585 6.3) */
};

/* Feedback message types (FMT, the count field of RTPFB/PSFB). */
enum rtcp_fmt {
  RTCP_RTPFB_NACK = 1, /* generic NACK (RFC 4585 6.2.1) */
  RTCP_PSFB_PLI = 1,   /* picture loss indication (RFC 4585 6.3.1) */
  RTCP_PSFB_FIR = 4,   /* full intra request (RFC 5104 4.3.1) */
  RTCP_PSFB_AFB = 15,  /* application layer feedback: REMB */
};

#define RTCP_MAX_REPORTS 31    /* report blocks / BYE SSRCs / SDES chunks: 5-bit count */
#define RTCP_NACK_MAX_ITEMS 64 /* PID+BLP items looked at per NACK; the rest are ignored */
#define RTCP_NACK_ITEM_SEQS 17 /* sequence numbers one item can name */
#define RTCP_FIR_MAX 8         /* FIR entries kept per packet; the rest are ignored */
#define RTCP_REMB_MAX_SSRC 16  /* REMB SSRCs kept per packet; the rest are checked, not kept */
#define RTCP_CNAME_MAX 255     /* bytes: an SDES item's length is one byte */

/* Walks a compound packet. Initialise with rtcp_iter_init(). */
struct rtcp_iter {
  const uint8_t *p;
  size_t len; /* bytes */
  size_t off; /* bytes walked so far */
  int failed; /* a malformed packet was met: rtcp_next() keeps failing */
};

/* One packet of a compound. Pointers point into the bytes given to
 * rtcp_iter_init(). */
struct rtcp_pkt {
  uint8_t type;        /* enum rtcp_type; other values are passed through */
  uint8_t count;       /* RC, SC or FMT: the low 5 bits of the first byte */
  const uint8_t *data; /* the whole packet, common header included */
  size_t len;          /* bytes of data: (length field + 1) * 4 */
  const uint8_t *body; /* = data + 4 */
  size_t body_len;     /* bytes after the header, padding excluded */
};

struct rtcp_report_block {
  uint32_t ssrc;           /* the source this block reports on */
  uint8_t fraction_lost;   /* 1/256ths since the previous report */
  int32_t cumulative_lost; /* packets, 24-bit signed on the wire */
  uint32_t highest_seq;    /* extended highest sequence number received */
  uint32_t jitter;         /* timestamp units */
  uint32_t lsr;            /* middle 32 bits of the last SR's NTP time */
  uint32_t dlsr;           /* 1/65536 s since that SR */
};

struct rtcp_sr {
  uint32_t ssrc;
  uint64_t ntp;          /* NTP timestamp: seconds << 32 | fraction */
  uint32_t rtp_ts;       /* the same instant in media clock ticks */
  uint32_t packet_count; /* packets sent */
  uint32_t octet_count;  /* payload bytes sent */
  unsigned nreports;
  struct rtcp_report_block reports[RTCP_MAX_REPORTS];
};

struct rtcp_rr {
  uint32_t ssrc;
  unsigned nreports;
  struct rtcp_report_block reports[RTCP_MAX_REPORTS];
};

struct rtcp_bye {
  unsigned nssrc;
  uint32_t ssrc[RTCP_MAX_REPORTS];
  const uint8_t *reason; /* NULL when none; not NUL-terminated */
  size_t reason_len;
};

struct rtcp_sdes_chunk {
  uint32_t ssrc;
  const uint8_t *cname; /* NULL when the chunk has no CNAME; not NUL-terminated */
  size_t cname_len;
};

struct rtcp_sdes {
  unsigned nchunks;
  struct rtcp_sdes_chunk chunks[RTCP_MAX_REPORTS];
};

/* The common part of RTPFB and PSFB packets (RFC 4585 6.1). */
struct rtcp_fb {
  uint8_t fmt;
  uint32_t sender_ssrc;
  uint32_t media_ssrc;
  const uint8_t *fci; /* feedback control information */
  size_t fci_len;     /* bytes */
};

struct rtcp_nack {
  uint32_t sender_ssrc;
  uint32_t media_ssrc;  /* the source whose packets were lost */
  const uint8_t *items; /* nitems PID+BLP items of 4 bytes */
  size_t nitems;        /* 1..RTCP_NACK_MAX_ITEMS */
};

struct rtcp_fir_entry {
  uint32_t ssrc;  /* the source asked for a keyframe */
  uint8_t seq_nr; /* command sequence number: a repeat has the same one */
};

struct rtcp_fir {
  uint32_t sender_ssrc;
  unsigned nentries; /* 1..RTCP_FIR_MAX */
  struct rtcp_fir_entry entries[RTCP_FIR_MAX];
};

struct rtcp_remb {
  uint32_t sender_ssrc;
  uint64_t bitrate;    /* bits per second; UINT64_MAX if exp/mantissa overflow it */
  unsigned nssrc;      /* SSRCs kept, at most RTCP_REMB_MAX_SSRC */
  unsigned nssrc_wire; /* SSRCs the packet names */
  uint32_t ssrc[RTCP_REMB_MAX_SSRC];
};

void rtcp_iter_init(struct rtcp_iter *it, const uint8_t *p, size_t len);
/* The next packet of the compound. Returns 1 with *pkt filled, 0 at the end,
 * -EINVAL when the rest is not a packet: shorter than a header, version not
 * 2, a length field past the end, a padding count of 0 or larger than the
 * packet. After -EINVAL the iterator stays failed. */
int rtcp_next(struct rtcp_iter *it, struct rtcp_pkt *pkt);
/* Checks a whole compound packet with rtcp_next(). Returns the number of
 * packets (>= 1) or -EINVAL (also for 0 bytes). Compound packets should start
 * with SR or RR, but reduced-size RTCP (RFC 5506) need not, so that is not
 * checked. */
int rtcp_check(const uint8_t *p, size_t len);

/* Parsers: each takes a packet from rtcp_next() and returns 0, or -EINVAL when
 * the type or FMT is another or the body is shorter than its counts say.
 * Bytes after what the counts describe (profile extensions) are ignored. */
int rtcp_parse_sr(const struct rtcp_pkt *pkt, struct rtcp_sr *sr);
int rtcp_parse_rr(const struct rtcp_pkt *pkt, struct rtcp_rr *rr);
int rtcp_parse_sdes(const struct rtcp_pkt *pkt, struct rtcp_sdes *sdes);
int rtcp_parse_bye(const struct rtcp_pkt *pkt, struct rtcp_bye *bye);
/* Any RTPFB or PSFB packet. */
int rtcp_parse_fb(const struct rtcp_pkt *pkt, struct rtcp_fb *fb);
/* RTPFB FMT 1; a NACK without items is -EINVAL, items past
 * RTCP_NACK_MAX_ITEMS are ignored. */
int rtcp_parse_nack(const struct rtcp_pkt *pkt, struct rtcp_nack *nack);
/* The sequence numbers item i (< nack->nitems) names: its PID, then PID+k+1
 * for each bit k of its BLP, in increasing order with 16-bit wrap. Writes 1
 * to RTCP_NACK_ITEM_SEQS of them to out and returns how many. */
size_t rtcp_nack_item(const struct rtcp_nack *nack, size_t i, uint16_t out[RTCP_NACK_ITEM_SEQS]);
/* Every sequence number the NACK names, item after item, up to cap of them.
 * Returns how many were written. */
size_t rtcp_nack_lost(const struct rtcp_nack *nack, uint16_t *out, size_t cap);
/* PSFB FMT 1. */
int rtcp_parse_pli(const struct rtcp_pkt *pkt, uint32_t *sender_ssrc, uint32_t *media_ssrc);
/* PSFB FMT 4 with at least one 8-byte FCI entry. */
int rtcp_parse_fir(const struct rtcp_pkt *pkt, struct rtcp_fir *fir);
/* PSFB FMT 15 whose FCI starts with "REMB"; -EINVAL also when its SSRC list
 * runs past the packet. */
int rtcp_parse_remb(const struct rtcp_pkt *pkt, struct rtcp_remb *remb);

/* Builders: each writes one packet (or a compound) at buf and returns its
 * length in bytes, -ENOBUFS when cap is too small (buf then holds garbage),
 * or -EINVAL for arguments out of range. Lengths are multiples of 4. */

/* RR from ssrc with one report block, or none when rb is NULL. A
 * cumulative_lost outside 24 bits is clamped. */
int rtcp_build_rr(uint8_t *buf, size_t cap, uint32_t ssrc, const struct rtcp_report_block *rb);
/* SR with sr->nreports (<= RTCP_MAX_REPORTS) report blocks. */
int rtcp_build_sr(uint8_t *buf, size_t cap, const struct rtcp_sr *sr);
/* SDES with one chunk holding one CNAME item of cname_len (1..255) bytes. */
int rtcp_build_sdes(uint8_t *buf, size_t cap, uint32_t ssrc, const char *cname, size_t cname_len);
/* Compound RR (as rtcp_build_rr) + SDES CNAME, as RFC 3550 6.1 asks of
 * every compound packet. */
int rtcp_build_compound_rr_sdes(uint8_t *buf, size_t cap, uint32_t ssrc,
                                const struct rtcp_report_block *rb, const char *cname,
                                size_t cname_len);
/* Compound SR + SDES CNAME (the chunk's SSRC is sr->ssrc). */
int rtcp_build_compound_sr_sdes(uint8_t *buf, size_t cap, const struct rtcp_sr *sr,
                                const char *cname, size_t cname_len);
/* BYE for n (1..RTCP_MAX_REPORTS) SSRCs, without a reason. */
int rtcp_build_bye(uint8_t *buf, size_t cap, const uint32_t *ssrc, size_t n);
/* Generic NACK for n (>= 1) lost sequence numbers. Each one within 16 after
 * the current item's PID joins that item's BLP, any other starts a new item,
 * so a sorted list (with 16-bit wrap) packs tightest. Duplicates cost
 * nothing. */
int rtcp_build_nack(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                    const uint16_t *lost, size_t n);
int rtcp_build_pli(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc);
/* FIR asking media_ssrc for a keyframe; seq_nr is the command sequence
 * number, incremented by the caller for each new request (RFC 5104 4.3.1). */
int rtcp_build_fir(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                   uint8_t seq_nr);
/* REMB of bitrate bits/s (encoded with 18-bit mantissa, rounded down) for
 * nssrc (1..255) SSRCs. */
int rtcp_build_remb(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint64_t bitrate,
                    const uint32_t *ssrc, size_t nssrc);

#endif
