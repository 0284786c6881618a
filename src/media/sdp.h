/* SDP offers and answers for WebRTC (RFC 8866 SDP, RFC 8829 JSEP, RFC 8843
 * BUNDLE, RFC 5763/8842 fingerprint and setup, RFC 8839 ICE attributes).
 *
 * Every client offers and onair answers (docs/media.md, "Signaling").
 * sdp_parse() reads an offer into a struct sdp that holds copies of
 * everything it keeps in fixed-size fields: no pointers into the text, no
 * allocation, so the struct outlives the text. sdp_answer() checks that the
 * offer is one onair can take (BUNDLE, ICE credentials, a SHA-256
 * fingerprint, setup actpass or active, rtcp-mux) and writes the answer:
 * ICE-lite, one host candidate, setup passive, one codec per m-line.
 *
 * A struct sdp is large (about 170 KiB): allocate it, or keep it in a
 * long-lived object, rather than on a small stack.
 *
 * Errors: 0 or a length on success, a negative errno on failure, and *why
 * set to a static sentence fit to send back to the client ("bad_sdp: ..."). */
#ifndef ONAIR_SDP_H
#define ONAIR_SDP_H

#include <stddef.h>
#include <stdint.h>

/* Limits (docs/media.md, "Limits"). Past any of them sdp_parse() refuses the
 * text; a value that does not fit its field is refused, never cut. */
#define SDP_MAX_TEXT (64 * 1024) /* bytes of SDP text */
#define SDP_MAX_LINE 1024        /* bytes of one line, without its CRLF */
#define SDP_MAX_MEDIA 8          /* m-lines */
/* "32 codecs" does not count RTX: Chromium 156's recvonly video m-line
 * alone lists 34 payload types, 18 codecs and 16 RTX. */
#define SDP_MAX_CODECS 32      /* codecs per m-line, RTX not counted */
#define SDP_MAX_FORMATS 64     /* payload types per m-line: codecs + RTX */
#define SDP_MAX_CANDIDATES 32  /* a=candidate lines per m-line */
#define SDP_MAX_SSRCS 16       /* distinct SSRCs in a=ssrc lines per m-line */
#define SDP_MAX_FID 8          /* a=ssrc-group:FID lines per m-line */
#define SDP_MAX_EXTMAPS 16     /* a=extmap lines per m-line */
#define SDP_MAX_RIDS 4         /* a=rid lines, and streams in a=simulcast, per m-line */
#define SDP_SIMULCAST_LAYERS 3 /* simulcast streams a publisher's answer takes, the first listed */

/* Field sizes, each including the terminating NUL. */
#define SDP_ICE_MAX 257    /* ice-ufrag and ice-pwd: 256 chars (RFC 8839) */
#define SDP_OPTIONS_MAX 64 /* ice-options */
#define SDP_FP_ALG_MAX 16  /* "sha-256" */
#define SDP_FP_MAX 192     /* hex:colon value, up to SHA-512's 64 bytes */
#define SDP_MID_MAX 32     /* a=mid */
#define SDP_TOKEN_MAX 32   /* media type, proto, first format, codec name */
#define SDP_FMTP_MAX 160   /* a=fmtp parameters */
#define SDP_URI_MAX 128    /* a=extmap URI */
#define SDP_CNAME_MAX 80   /* a=ssrc cname */
#define SDP_MSID_MAX 132   /* "stream-id track-id", 64 chars each */
#define SDP_RID_MAX 17     /* RFC 8851 rid-id: up to 16 chars */

enum sdp_kind { SDP_KIND_OTHER, SDP_KIND_AUDIO, SDP_KIND_VIDEO, SDP_KIND_APPLICATION };

/* RFC 8866 6.7. SDP_DIR_SENDRECV is the default when no attribute says. */
enum sdp_direction { SDP_DIR_SENDRECV, SDP_DIR_SENDONLY, SDP_DIR_RECVONLY, SDP_DIR_INACTIVE };

/* RFC 4145 a=setup; SDP_SETUP_NONE when absent. */
enum sdp_setup {
  SDP_SETUP_NONE,
  SDP_SETUP_ACTPASS,
  SDP_SETUP_ACTIVE,
  SDP_SETUP_PASSIVE,
  SDP_SETUP_HOLDCONN
};

/* a=rtcp-fb types of struct sdp_codec.fb. */
#define SDP_FB_NACK 0x01         /* a=rtcp-fb:<pt> nack */
#define SDP_FB_NACK_PLI 0x02     /* a=rtcp-fb:<pt> nack pli */
#define SDP_FB_CCM_FIR 0x04      /* a=rtcp-fb:<pt> ccm fir */
#define SDP_FB_GOOG_REMB 0x08    /* a=rtcp-fb:<pt> goog-remb */
#define SDP_FB_TRANSPORT_CC 0x10 /* a=rtcp-fb:<pt> transport-cc */

/* One payload type of an m-line, from its rtpmap and fmtp lines. */
struct sdp_codec {
  uint8_t pt;                /* 0..127 */
  char name[SDP_TOKEN_MAX];  /* encoding name as written ("VP8", "opus"); empty: no rtpmap */
  uint32_t clock;            /* Hz */
  uint8_t channels;          /* 1 when the rtpmap gives none */
  char fmtp[SDP_FMTP_MAX];   /* a=fmtp parameters as written; empty if none */
  int apt;                   /* RTX: fmtp apt=, the PT it repairs; -1 if none */
  int rtx_pt;                /* the RTX PT whose apt is this PT; -1 if none */
  int packetization_mode;    /* H.264 fmtp packetization-mode, 0 when absent */
  uint32_t profile_level_id; /* H.264 fmtp profile-level-id, 0x42000a when absent */
  unsigned fb;               /* SDP_FB_* */
};

struct sdp_fingerprint {
  char alg[SDP_FP_ALG_MAX]; /* lower case, "sha-256"; empty: none */
  char value[SDP_FP_MAX];   /* "AB:CD:..." as written */
};

/* What one transport needs: at session level, or per m-line. */
struct sdp_transport {
  char ufrag[SDP_ICE_MAX];
  char pwd[SDP_ICE_MAX];
  char options[SDP_OPTIONS_MAX]; /* a=ice-options tokens as written */
  struct sdp_fingerprint fp;     /* the sha-256 one when several are given */
  enum sdp_setup setup;
};

enum sdp_extmap_dir {
  SDP_EXTMAP_DEFAULT,
  SDP_EXTMAP_SENDRECV,
  SDP_EXTMAP_SENDONLY,
  SDP_EXTMAP_RECVONLY,
  SDP_EXTMAP_INACTIVE
};

struct sdp_extmap {
  uint16_t id; /* 1..14 one-byte, 1..255 two-byte header extensions */
  enum sdp_extmap_dir dir;
  char uri[SDP_URI_MAX];
};

/* Header extensions onair understands (their a=extmap URIs in sdp.c). */
enum sdp_ext {
  SDP_EXT_MID,  /* urn:ietf:params:rtp-hdrext:sdes:mid (RFC 8843) */
  SDP_EXT_RID,  /* urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id (RFC 8852) */
  SDP_EXT_RRID, /* urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id (RFC 8852) */
  SDP_EXT_TWCC, /* draft-holmer-rmcat-transport-wide-cc-extensions-01 */
  SDP_EXTS
};

/* The attributes of one SSRC, gathered from its a=ssrc lines. */
struct sdp_ssrc {
  uint32_t ssrc;
  char cname[SDP_CNAME_MAX]; /* empty if none */
  char msid[SDP_MSID_MAX];   /* "stream-id track-id"; empty if none */
};

/* a=ssrc-group:FID <media ssrc> <rtx ssrc> */
struct sdp_fid {
  uint32_t ssrc, rtx_ssrc;
};

struct sdp_media {
  enum sdp_kind kind;
  char type[SDP_TOKEN_MAX];  /* m= media type as written ("audio") */
  uint16_t port;             /* 0: rejected, unless bundle_only */
  char proto[SDP_TOKEN_MAX]; /* "UDP/TLS/RTP/SAVPF" */
  char fmt0[SDP_TOKEN_MAX];  /* the first format of the m= line, as written */
  int rtp;                   /* proto is RTP: the formats are payload types */

  struct sdp_codec codecs[SDP_MAX_FORMATS]; /* in m= line order */
  size_t n_codecs;

  enum sdp_direction direction;
  char mid[SDP_MID_MAX]; /* empty if none */
  int rtcp_mux, rtcp_rsize, bundle_only, end_of_candidates, extmap_allow_mixed;
  unsigned n_candidates;
  /* This m-line's transport, with what it lacks taken from session level. */
  struct sdp_transport transport;

  struct sdp_extmap extmaps[SDP_MAX_EXTMAPS]; /* session-level ones are ignored */
  size_t n_extmaps;
  struct sdp_ssrc ssrcs[SDP_MAX_SSRCS];
  size_t n_ssrcs;
  struct sdp_fid fids[SDP_MAX_FID];
  size_t n_fids;
  char msid[SDP_MSID_MAX]; /* a=msid: "stream-id track-id"; empty if none */
  /* RFC 8851 a=rid lines, in order (restrictions after the direction are
   * not kept), and RFC 8853 a=simulcast: the streams it lists in order,
   * each the first of its alternatives, a paused one ("~") too. */
  struct sdp_rid {
    char id[SDP_RID_MAX];
    int send; /* direction "send": the offerer sends it */
  } rids[SDP_MAX_RIDS];
  size_t n_rids;
  char simulcast[SDP_MAX_RIDS][SDP_RID_MAX];
  size_t n_simulcast;
  int simulcast_send; /* the a=simulcast line is "send" (else "recv", or none) */
};

struct sdp {
  struct sdp_transport transport; /* session level, as written */
  int ice_lite, extmap_allow_mixed;
  unsigned bundle_groups;                  /* a=group:BUNDLE lines seen */
  char bundle[SDP_MAX_MEDIA][SDP_MID_MAX]; /* the first group's mids, in order */
  size_t n_bundle;
  struct sdp_media media[SDP_MAX_MEDIA]; /* in m= line order */
  size_t n_media;
  unsigned err_line; /* after a failed sdp_parse(): the 1-based line, or 0 */
};

/* Parses len bytes of SDP text (CRLF or LF line ends; NUL bytes refused).
 * Never reads past len. Returns 0, or -EINVAL (bad syntax, a value that
 * does not fit, a limit exceeded) or -EMSGSIZE (text over SDP_MAX_TEXT) with
 * *why set and out->err_line naming the line when there is one. m-lines are
 * numbered from 1 in messages ("m-line 2 has no ice-ufrag"). Offer-level
 * requirements (BUNDLE, ICE, fingerprint) are checked by sdp_check_offer(). */
int sdp_parse(const char *text, size_t len, struct sdp *out, const char **why);

/* Checks that a parsed offer is one onair can answer: one BUNDLE group that
 * names known mids once each, every m-line has a mid (unique), and every m-line
 * that is in the group and not rejected has ICE credentials, a sha-256
 * fingerprint, a=setup actpass or active, and a=rtcp-mux. Returns 0 or
 * -EINVAL with *why. sdp_answer() calls it first. */
int sdp_check_offer(const struct sdp *offer, const char **why);

enum sdp_role {
  SDP_ROLE_PUBLISHER, /* the offerer sends, onair receives: we answer recvonly */
  SDP_ROLE_VIEWER,    /* the offerer receives, onair sends: we answer sendonly */
};

/* What onair sends a viewer on one kind of media. */
struct sdp_send {
  /* The publisher's codec (e.g. a copy of what sdp_pick_publisher() gave on
   * its offer); NULL: onair sends nothing of this kind. */
  const struct sdp_codec *codec;
  uint32_t ssrc;     /* nonzero */
  uint32_t rtx_ssrc; /* video: the RTX SSRC; 0: no RTX for this viewer */
  const char *msid;  /* "stream-id track-id" */
};

#define SDP_MAX_MORE_ADDRS 7 /* host candidates beyond the first */

struct sdp_answer_params {
  enum sdp_role role;
  uint64_t session_id;           /* o= sess-id, at most 2^63 - 1 */
  const char *ice_ufrag;         /* ours: 4..256 ice-chars */
  const char *ice_pwd;           /* ours: 22..256 ice-chars */
  const char *fingerprint;       /* ours: "sha-256 AB:CD:..." */
  const char *addr;              /* the host candidate: IPv4 or IPv6 text */
  const char *const *more_addrs; /* more host candidates, less preferred in order */
  size_t nmore;                  /* at most SDP_MAX_MORE_ADDRS */
  uint16_t tcp_port;             /* nonzero: also a passive TCP candidate (RFC 6544) per address */
  uint16_t port;                 /* the media port, nonzero */
  /* Header extensions the answer takes, with the ids the offer gave them:
   * a bit (1u << enum sdp_ext) for each. A publisher's simulcast (a=rid
   * recv, a=simulcast:recv) is answered only with SDP_EXT_RID taken, and
   * rtcp-fb transport-cc only with SDP_EXT_TWCC. */
  unsigned exts;
  /* Viewer only. */
  const char *cname;
  struct sdp_send audio, video;
};

/* Writes the answer to offer into out (cap bytes, NUL-terminated) and
 * returns its length, or:
 *   -EINVAL   the offer is not acceptable (sdp_check_offer()), or p is bad;
 *   -ENOENT   no codec matches: for a viewer, an m-line of a kind onair sends
 *             offers no match for the publisher's codec; for a publisher, no
 *             m-line offers VP8, H.264 or Opus (signal "no_codec");
 *   -ENOBUFS  the answer does not fit in cap;
 * each with *why set. Answer m-lines follow the offer's, same kind and mid;
 * one is rejected (port 0) if its kind is neither audio nor video, if its
 * proto is not SRTP (SAVP/SAVPF), if it is not in the BUNDLE group or was
 * rejected by the offerer, if it offers no usable codec (publisher), if
 * onair sends nothing of its kind (viewer), or if an earlier m-line already
 * took its kind. */
int sdp_answer(const struct sdp *offer, const struct sdp_answer_params *p, char *out, size_t cap,
               const char **why);

/* What sdp_answer(offer, p) takes for one kind: the offer's m-line and its
 * codec (the PT onair receives from a publisher, or sends a viewer), both
 * NULL when every m-line of that kind is rejected. Returns 0, or the error
 * sdp_answer() would return (but never -ENOBUFS), with *why. */
int sdp_answer_pick(const struct sdp *offer, const struct sdp_answer_params *p, enum sdp_kind kind,
                    const struct sdp_media **m, const struct sdp_codec **c, const char **why);

/* The codec with payload type pt, or NULL. */
const struct sdp_codec *sdp_codec_by_pt(const struct sdp_media *m, int pt);

/* The codec onair takes from a publisher's m-line, or NULL: video VP8, else
 * H.264 packetization-mode 1 Constrained Baseline (42e01f first), else
 * packetization-mode 1 Baseline; audio Opus 48000/2. */
const struct sdp_codec *sdp_pick_publisher(const struct sdp_media *m);

/* The viewer's codec that can carry what `send` describes, or NULL: same
 * name (case-insensitive), clock and channels; for H.264 also the same
 * packetization-mode, a profile that can decode the sent one (the same
 * profile first) and a level no lower. Offer order breaks ties. */
const struct sdp_codec *sdp_pick_match(const struct sdp_media *m, const struct sdp_codec *send);

/* The id m's offer gives header extension e (a=extmap), or 0 when it
 * offers none. */
int sdp_ext_id(const struct sdp_media *m, enum sdp_ext e);

/* The simulcast streams a publisher's m-line sends (the rid ids its
 * a=simulcast:send line lists that also have an a=rid send line), in the
 * order listed, at most max; 0 when it sends no simulcast. onair takes them
 * as the layers from lowest to highest. */
size_t sdp_simulcast_rids(const struct sdp_media *m, const char **rids, size_t max);

/* The m-line whose transport the BUNDLE group uses (its first mid), or NULL. */
const struct sdp_media *sdp_bundle_media(const struct sdp *s);

/* Writes "sha-256 AB:CD:..." for dtls_new() from a fingerprint. Returns its
 * length, -ENOBUFS, or -EINVAL if fp is empty. */
int sdp_fingerprint_text(const struct sdp_fingerprint *fp, char *out, size_t cap);

#endif
