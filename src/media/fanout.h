/* A share of the media plane's viewers, and the work of sending to them.
 * The media plane (sfu.c) takes each publisher packet in, decrypts it once
 * and hands it to every share that has viewers of its room; a share keeps
 * its own ring of the room's recent packets and sends each packet to each
 * of its viewers there: copied into the send ring, rewritten (SSRC,
 * sequence, timestamp, payload type) and encrypted per viewer. A joining
 * viewer starts on the cached keyframe, paced; NACKs are answered from the
 * ring within the viewer's budget; a publisher's sender reports go on to
 * each viewer in its own numbering.
 *
 * The media plane talks to a share only by messages (struct fanout_msg),
 * which fanout_handle() takes in order on the share's loop: the media
 * plane's own loop (a share run inline) or a worker thread's (media_worker,
 * fed through a ring). A share reaches back only through its ops, on its
 * own loop. Nothing of a share is locked: it is one loop's. */
#ifndef ONAIR_FANOUT_H
#define ONAIR_FANOUT_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "media/bwe.h"
#include "media/pktstore.h"
#include "media/seqmap.h"
#include "media/srtpctx.h"
#include "media/twcc.h"
#include "media/udp.h"

enum fanout_kind { FANOUT_AUDIO, FANOUT_VIDEO, FANOUT_KINDS };

/* A room's tracks: FANOUT_AUDIO, then the video's simulcast layers from
 * the lowest, FANOUT_VIDEO + 0 .. FANOUT_VIDEO + FANOUT_LAYERS - 1 (one
 * layer, FANOUT_VIDEO, without simulcast). */
#define FANOUT_LAYERS 3
#define FANOUT_TRACKS (FANOUT_VIDEO + FANOUT_LAYERS)
#define FANOUT_NO_TRACK 0 /* a view's video layer: none (audio only, or not chosen yet) */

/* What a viewer asked to see (the quality menu). */
enum fanout_pref {
  FANOUT_PREF_AUTO,   /* the highest layer that is sent and fits its estimate */
  FANOUT_PREF_LOW,    /* the lowest layer */
  FANOUT_PREF_MEDIUM, /* the second one (the highest, with two) */
  FANOUT_PREF_HIGH,   /* the highest */
  FANOUT_PREF_AUDIO,  /* no video at all */
  FANOUT_PREFS
};

#define FANOUT_NACK_MAX 64    /* sequence numbers answered per NACK packet */
#define FANOUT_NACK_RECENT 64 /* resent packets remembered per viewer */

struct sfu_tcp;
struct rtp_hdr;

#define FANOUT_UP_HOLD_MS 5000   /* after a move down, none up for this long */
#define FANOUT_UP_TRIAL_MS 10000 /* a move up that comes down within this did not fit */
#define FANOUT_UP_FAILS_MAX 3    /* the hold doubles at most this often (40 s) */

/* An Auto viewer's last moves (fanout_hold_*). */
struct fanout_hold {
  uint64_t down_ms; /* its last move down (0: none) */
  uint64_t up_ms;   /* its last move up, if none down since (0: none) */
  unsigned fails;   /* moves up in a row that came down within the trial */
};

/* A VP8 packet's picture ID and TL0PICIDX (RFC 7741 4.2), which each
 * viewer's copy carries in that viewer's own numbering. */
struct fanout_vp8 {
  uint16_t payload_off; /* bytes before the payload descriptor (the RTP header) */
  uint16_t picid;
  uint8_t bits; /* of the picture ID: 7 or 15; 0: none (nothing rewritten) */
  uint8_t has_tl0, tl0;
};

/* A viewer's outgoing stream of one kind. */
struct fanout_out {
  int active;
  uint8_t pt; /* the viewer's payload type for the publisher's codec */
  uint32_t ssrc;
  struct seqmap map;
  int started; /* video: waits for a keyframe */
  /* Video: the track it is sent (FANOUT_VIDEO + layer; FANOUT_NO_TRACK:
   * none), and the one it moves to at that track's next keyframe. */
  uint8_t track, target;
  uint64_t last_ms;  /* when a packet last went out: the timestamp gap at a switch */
  uint64_t asked_ms; /* when a keyframe of target was last asked for */
  /* VP8: its picture IDs and TL0PICIDX follow on from segment to segment
   * (a switch, a new source): offsets from the publisher's, and the newest
   * it was sent. */
  uint16_t picid_off, picid_last;
  uint8_t tl0_off, tl0_last, ids_sent;
  /* Video: RTX (RFC 4588), which carries only padding to probe the
   * viewer's downlink (rtx_ssrc 0: none negotiated). */
  uint8_t rtx_pt;
  uint32_t rtx_ssrc;
  uint16_t rtx_seq;
  uint32_t packets, octets; /* sent, for our sender reports */
  /* Video of a joining viewer: the stored packets from the cached keyframe
   * on go out paced, in order, until it has caught up with the newest. */
  int catching_up;
  uint16_t next;      /* the publisher's number of the next stored packet to send */
  double pace_tokens; /* bytes it may be sent now */
  uint64_t pace_ms;   /* when they were counted */
};

struct fanout_room;

/* One viewer as its share sees it. The media plane makes it (with the
 * viewer's streams set up from its answer) and hands it over with
 * FANOUT_VIEW_ADD; from then on it is the share's, and so is srtp: the
 * share encrypts with its sending half and frees both at FANOUT_VIEW_DEL.
 * The media plane names it in messages and never reads it again. */
struct fanout_view {
  uint64_t room_id;
  struct fanout_room *room; /* the share's room, once added */
  size_t index;             /* in the room's views */
  struct srtpctx *srtp;
  /* Where its packets go: the nominated UDP address (addr_len 0: none
   * yet), or an ICE-TCP connection (inline shares only). */
  struct sockaddr_storage addr;
  socklen_t addr_len;
  struct sfu_tcp *tcp;
  struct fanout_out out[FANOUT_KINDS];
  uint8_t layers; /* the room's video layers when it was handed over (the media plane's word) */
  enum fanout_pref pref;
  /* Its downlink estimate (docs/media.md, "Bandwidth estimation"): what it
   * was sent, numbered by the transport-wide sequence number extension
   * (twcc_id 0: not negotiated), and its feedback; or its REMB. */
  uint8_t twcc_id;
  int estimating; /* feedback or REMB came: the estimate picks Auto's layer */
  struct twcc_send twcc;
  struct bwe bwe;
  struct fanout_hold hold; /* Auto's moves: up again only after a while */
  /* A probe: padding on RTX sent at probe_bps from probe_ms for probe_us,
   * probe_left bytes still to go, its transport-wide numbers from
   * probe_first; the next one not before next_probe_ms. */
  uint32_t probe_bps, probe_us;
  uint64_t probe_ms, next_probe_ms;
  uint32_t probe_left, probe_sent;
  uint16_t probe_first, probe_last;
  unsigned probe_backoff; /* probes in a row that did not lift the estimate */
  uint8_t want;           /* the highest track it would take (FANOUT_NO_TRACK: none), as told */
  uint8_t told_track;     /* out[FANOUT_VIDEO].track as last told (ops->layer) */
  /* Its retransmission budget, in bytes (a token bucket), and the packets
   * resent lately (a NACK for one of them again is a duplicate). */
  double nack_tokens;
  uint64_t nack_tokens_ms; /* 0: not started */
  struct fanout_resent {
    uint16_t seq; /* the viewer's numbering */
    uint8_t kind;
    uint64_t ms;
  } resent[FANOUT_NACK_RECENT];
  unsigned resent_next;
};

enum fanout_msg_type {
  FANOUT_PKT,        /* a publisher packet of room_id, decrypted and taken in */
  FANOUT_RESTART,    /* room_id's kind has a new source: stored packets are void */
  FANOUT_SR,         /* room_id's publisher sent a sender report for kind */
  FANOUT_VIEW_ADD,   /* view joins room_id, with its path; it starts on a keyframe */
  FANOUT_VIEW_PATH,  /* view's path changed */
  FANOUT_VIEW_DEL,   /* view left: freed, and its srtp */
  FANOUT_VIEW_MOVE,  /* view leaves this share for another: ops->moved gives it back */
  FANOUT_VIEW_START, /* view's video starts again at a keyframe (the publisher re-offered) */
  FANOUT_NACK,       /* view lost packets */
  FANOUT_ROOM_DEL,   /* the share has no more viewers of room_id: its ring goes */
  FANOUT_VIEW_PREF,  /* view's quality menu changed (u.pref) */
  FANOUT_TWCC,       /* view's transport-wide feedback: its FCI in u.pkt.data, u.pkt.len */
  FANOUT_REMB,       /* view's receiver estimate (u.remb_bps) */
};

#define FANOUT_SEED 0x100 /* FANOUT_PKT flag: stored only (a new share's ring, filled) */

struct fanout_msg {
  enum fanout_msg_type type;
  int track; /* FANOUT_AUDIO, or FANOUT_VIDEO + a layer */
  uint64_t room_id;
  struct fanout_view *view;
  union {
    struct {
      uint16_t seq;
      uint32_t ts;
      uint32_t flags;    /* enum pkt_flag, FANOUT_SEED */
      uint64_t ms;       /* when the media plane took it in (its loop's clock) */
      uint32_t rate_Bps; /* the stream's rate as the media plane counts it (bytes a second) */
      uint16_t len;
      uint8_t layers;        /* video layers the publisher sends (1: no simulcast) */
      struct fanout_vp8 vp8; /* with PKT_VP8 */
      const uint8_t *data;   /* the whole RTP packet, clear */
    } pkt;
    struct {
      struct sockaddr_storage addr;
      socklen_t addr_len;
      struct sfu_tcp *tcp;
    } path;
    struct {
      uint32_t media_ssrc;
      uint16_t n;
      uint16_t lost[FANOUT_NACK_MAX]; /* the viewer's numbering */
    } nack;
    struct {
      uint64_t ntp;
      uint32_t rtp_ts;
    } sr;
    enum fanout_pref pref;
    uint32_t remb_bps;
  } u;
};

/* Counters (uint64_t only), each written by the share's loop only;
 * fanout_stats_read() reads them from any thread. */
struct fanout_stats {
  uint64_t rtp_out, rtp_out_bytes; /* packets forwarded to viewers */
  uint64_t nack_resent;
  uint64_t nack_duplicates;  /* asked again within FANOUT_NACK_REPEAT_MS: not resent */
  uint64_t nack_over_budget; /* not resent: the viewer's budget was spent */
  uint64_t views;            /* now */
  uint64_t layer_switches;   /* a viewer moved to another simulcast layer (at its keyframe) */
  uint64_t probe_packets;    /* padding sent to probe a viewer's downlink */
  uint64_t feedbacks;        /* viewers' transport-wide feedback (and REMB) taken */
};

struct fanout_ops {
  /* A view needs a keyframe of track its share's ring has not got. */
  void (*keyframe)(void *arg, uint64_t room_id, int track);
  /* view now gets track (FANOUT_NO_TRACK: no video), and would take up
   * to want; said when either changes. */
  void (*layer)(void *arg, struct fanout_view *view, uint64_t room_id, int track, int want);
  /* FANOUT_VIEW_MOVE is done: view (and its srtp) is the media plane's. */
  void (*moved)(void *arg, struct fanout_view *view);
  /* Sends an ICE-TCP view's packet (inline shares only). */
  void (*tcp_send)(struct sfu_tcp *t, const uint8_t *data, size_t len);
};

struct fanout {
  uv_loop_t *loop;
  struct udp_sock *udp; /* sends; the share's own, or the media plane's socket inline */
  const struct fanout_ops *ops;
  void *arg;
  struct fanout_room *rooms;
  struct fanout_stats stats;
  int64_t now_us;                  /* the send time of what goes out this loop turn (uv_hrtime) */
  struct twcc_pkt fb[512];         /* a viewer's feedback, as twcc.c reads it */
  uint8_t scratch[UDP_SLOT_BYTES]; /* RTCP built before protecting */
};

void fanout_init(struct fanout *f, uv_loop_t *loop, struct udp_sock *udp,
                 const struct fanout_ops *ops, void *arg);
/* Frees every room and view (and their srtp) still held. */
void fanout_free(struct fanout *f);
void fanout_handle(struct fanout *f, const struct fanout_msg *m);
#define FANOUT_BATCH 32 /* packets fanout_handle_pkts() takes at once */
/* n (1..FANOUT_BATCH) FANOUT_PKT messages of one room, in order: the same
 * as handling each, but each viewer's packets are sent one after another
 * (so they leave together). */
void fanout_handle_pkts(struct fanout *f, const struct fanout_msg *const *m, size_t n);
/* The VP8 IDs of packet pkt (parsed into h); ids->bits 0 when it has none. */
void fanout_vp8_read(const struct rtp_hdr *h, const uint8_t *pkt, struct fanout_vp8 *ids);

/* Auto's hysteresis (docs/media.md, "Simulcast"): after a move down, no
 * move up for FANOUT_UP_HOLD_MS, doubled for each move up in a row that came
 * down again within FANOUT_UP_TRIAL_MS (a probe that overrated the path),
 * up to FANOUT_UP_FAILS_MAX doublings. Times are milliseconds. */
void fanout_hold_up(struct fanout_hold *h, uint64_t now);
void fanout_hold_down(struct fanout_hold *h, uint64_t now);
int fanout_hold_on(const struct fanout_hold *h, uint64_t now);
/* Frees a view that was never handed to a share (not its srtp). */
void fanout_view_free_unused(struct fanout_view *v);
/* Frees a view and its srtp (a view moved back to a viewer that closed). */
void fanout_view_free(struct fanout_view *v);
/* Paced catch-ups go on (every 100 ms, for a publisher that paused). */
void fanout_tick(struct fanout *f);
void fanout_stats_read(const struct fanout *f, struct fanout_stats *out);

#endif
