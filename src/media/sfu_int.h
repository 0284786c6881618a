/* What sfu.c (peers, ICE, DTLS, offers) and sfu_fwd.c (RTP and RTCP
 * forwarding) share. Not for other modules. */
#ifndef ONAIR_SFU_INT_H
#define ONAIR_SFU_INT_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "media/dtls.h"
#include "media/fanout.h"
#include "media/pktstore.h"
#include "media/sdp.h"
#include "media/seqmap.h"
#include "media/sfu.h"
#include "media/srtpctx.h"
#include "media/twcc.h"
#include "media/udp.h"
#include "util/map.h"

#define SFU_ICE_UFRAG_LEN 8
#define SFU_ICE_PWD_LEN 24
#define SFU_KEYFRAME_INTERVAL_MS 1000 /* at most one request per publisher track */
#define SFU_STORE_SLOTS 1024          /* video packets kept per publisher */
#define SFU_AUDIO_STORE_SLOTS 128     /* audio packets: only their numbering is needed here */
#define SFU_MAX_CHECKED 4             /* addresses of one peer media is accepted from */

enum sfu_kind { SFU_AUDIO = FANOUT_AUDIO, SFU_VIDEO = FANOUT_VIDEO, SFU_KINDS = FANOUT_KINDS };
/* A room's tracks (fanout.h): SFU_AUDIO, then the video's simulcast layers
 * from the lowest, SFU_VIDEO + 0 .. (one, SFU_VIDEO, without simulcast). */
#define SFU_LAYERS FANOUT_LAYERS
#define SFU_TRACKS FANOUT_TRACKS

/* Shares of the viewers (fanout.h): 0 runs inline on the media plane's
 * loop (ICE-TCP viewers, and every viewer without workers); 1.. are
 * worker threads. */
#define SFU_MAX_SHARES 64
#define SFU_SHARE_MOVING (-2)

enum peer_state {
  PEER_NEW,       /* answered; waiting for a STUN check */
  PEER_CHECKED,   /* a check came in; the address is bound; DTLS next */
  PEER_CONNECTED, /* DTLS done, SRTP keyed: media flows */
  PEER_CLOSED,
};

/* A publisher's track: what came in, stored once for every viewer. */
struct sfu_track {
  int active;
  struct sdp_codec codec; /* as the publisher offered it (its PT) */
  enum sfu_video_codec { SFU_CODEC_OTHER, SFU_CODEC_VP8, SFU_CODEC_H264 } family;
  uint32_t ssrc; /* learnt from the first packet */
  int ssrc_known;
  struct pktstore *store;
  uint64_t last_keyframe_request_ms;
  uint8_t fir_seq;
  uint64_t packets;        /* received since the source started */
  uint32_t base_ext_seq;   /* extended sequence number of its first packet */
  uint64_t expected_prior; /* at the last receiver report */
  uint64_t received_prior;
  uint32_t lsr;    /* middle 32 bits of the last SR's NTP time */
  uint64_t lsr_ms; /* when it arrived; 0: none yet */
  /* The publisher's rate: a new share's ring starts with it. */
  uint64_t rate_since_ms, rate_bytes;
  uint32_t rate_Bps;     /* bytes a second over the last full window */
  int bframes;           /* H.264 B slices seen (the owner was told) */
  char rid[SDP_RID_MAX]; /* a simulcast layer's rid (RFC 8852); empty without simulcast */
};

#define SFU_WHY_MAX 128   /* bytes of a closed peer's reason */
#define SFU_SEQ_SOURCES 8 /* SSRCs a publisher's numbering is followed for */
#define SFU_MAX_TCP 4     /* ICE-TCP connections one peer may have checked */

struct conn;

/* A node-to-node link (relay.c; docs/media.md, "Relay between nodes"). On
 * the origin an outgoing link of a room (in NULL); on the edge the link a
 * relay-in publisher (in) takes its media from. Either way found through
 * the sfu's map of links by the other node's address and an SSRC of the
 * link. */
#define SFU_LINK_ID_LEN 16
#define SFU_LINK_KEY_MAX 24   /* a map key: an address's key (<= 19 bytes), an SSRC */
#define SFU_RELAY_NACK_GAP 64 /* edge: a jump of 2..this ahead is NACKed on the link */

struct sfu_link {
  struct sfu *sfu;
  struct sfu_room *room;
  struct sfu_peer *in;   /* edge: the relay-in publisher; NULL: an outgoing link */
  struct sfu_link *next; /* origin: the room's other links */
  uint8_t id[SFU_LINK_ID_LEN];
  struct sockaddr_storage addr; /* the other node's media address */
  socklen_t addr_len;
  char addr_key[20]; /* sfu_addr_key() of addr */
  size_t addr_key_len;
  struct srtpctx *srtp;          /* origin: the link's; edge: NULL (in->srtp) */
  uint32_t ssrc[SFU_TRACKS];     /* the link's SSRC of each track; 0: inactive */
  uint32_t edge_ssrc;            /* what the edge sends its RTCP on the link from */
  uint8_t rid_ext, twcc_ext;     /* the header extension ids the packets carry */
  int mapped;                    /* its SSRCs are in the sfu's map of links */
  int bye_heard;                 /* edge: the origin ended it (no BYE back) */
  uint64_t heard_ms;             /* origin: the edge's last authenticated RTCP */
  uint64_t keepalive_ms;         /* when this end last sent a keepalive */
  struct seqmap map[SFU_TRACKS]; /* origin: the link's numbering of each track */
  uint8_t restart[SFU_TRACKS];   /* origin: the track's next packet starts a segment */
  uint64_t sent_ms[SFU_TRACKS];  /* origin: when the track's last packet went */
  uint32_t packets[SFU_TRACKS], octets[SFU_TRACKS]; /* origin: sent, for its SRs */
  uint16_t high[SFU_TRACKS]; /* edge: the highest sequence number taken per track */
  uint8_t high_set[SFU_TRACKS];
};

/* An ICE-TCP connection (RFC 6544, onair passive) on the site's TCP port,
 * its packets framed by a 2-byte length (RFC 4571). It belongs to the peer
 * whose check came over it first; until then only a check is accepted. */
struct sfu_tcp {
  struct sfu *sfu;
  struct conn *conn;
  struct sfu_peer *peer;        /* NULL until a good check */
  struct sfu_tcp *peer_next;    /* the peer's connections */
  struct sfu_tcp *prev, *next;  /* the sfu's */
  struct sockaddr_storage from; /* the remote end, for XOR-MAPPED-ADDRESS */
  socklen_t from_len;
  size_t have; /* bytes of the frame being read, its length included */
  uint8_t frame[2 + UDP_SLOT_BYTES];
};

struct sfu_peer {
  struct sfu *sfu;
  struct sfu_room *room;   /* closed: the room it was in (compared, never followed) */
  struct sfu_owner *owner; /* closed: NULL once nobody is to be told */
  int publisher;
  enum peer_state state;
  char ufrag[SFU_ICE_UFRAG_LEN + 1], pwd[SFU_ICE_PWD_LEN + 1];
  char remote_fp[DTLS_FINGERPRINT_MAX];
  struct sockaddr_storage addr;
  socklen_t addr_len;
  char addr_key[20]; /* map key of addr, the nominated address we send to;
                        addr_key_len 0 while unbound */
  size_t addr_key_len;
  int nominated; /* a check carried USE-CANDIDATE */
  /* Every address that passed a check: media is accepted from each (a
   * browser checks all its pairs, and keeps sending on the nominated one). */
  struct sfu_addr {
    char key[20];
    size_t len;
  } checked[SFU_MAX_CHECKED];
  size_t nchecked;
  size_t next_evict;
  struct dtls *dtls;
  struct srtpctx *srtp;
  uint64_t last_stun_ms;
  /* The last authenticated SRTP or SRTCP packet: a peer that keeps sending
   * them is alive though it sends no Binding requests (libnice, GStreamer's
   * webrtcbin). */
  uint64_t last_srtp_ms;
  uint64_t created_ms;
  /* Viewer: what it is sent, set up by its answer; handed to a share
   * (share >= 0) when DTLS is done, after which it is the share's. */
  struct fanout_view *view;
  int share; /* -1: not handed; SFU_SHARE_MOVING: on its way to another */
  /* Publisher, RFC 3550 A.1 per source: the highest sequence number taken
   * (decrypted), and the one that would confirm a jump away from it. */
  struct sfu_seq {
    uint32_t ssrc;
    uint16_t max_seq, bad_seq;
    uint8_t used, bad_set;
  } seqs[SFU_SEQ_SOURCES];
  unsigned seqs_next;
  struct sfu_tcp *tcp;  /* the nominated path when it is TCP; NULL: UDP (addr) */
  struct sfu_tcp *tcps; /* every ICE-TCP connection checked for it */
  size_t ntcp;
  uint32_t rtcp_ssrc;     /* our SSRC in RTCP we send to this peer */
  struct twcc_recv *twcc; /* publisher: its packets' arrivals, for TWCC feedback */
  /* Viewer: its quality menu, and the video track its share says it gets
   * and would take (fanout ops->layer; FANOUT_NO_TRACK: none). */
  enum sfu_quality quality;
  uint8_t layer_track, layer_want;
  int told_none;                /* its owner was last told it gets no video */
  struct sfu_link *link;        /* a relay-in publisher's link (relay.c); NULL: a browser */
  struct sfu_peer *next_closed; /* the sfu's list of peers to reap */
  char why[SFU_WHY_MAX];        /* closed: why, for the owner */
};

struct sfu_room {
  struct sfu *sfu;
  struct sfu_owner *owner;
  struct sfu_peer *publisher;
  struct sfu_track tracks[SFU_TRACKS];
  uint8_t layers;       /* video tracks the publisher sends: 1, or its simulcast layers */
  uint8_t rid_ext;      /* the publisher's RID header extension id; 0: none */
  uint8_t twcc_ext;     /* its transport-wide sequence number's; 0: none */
  unsigned layers_told; /* the watched layers' mask the owner was last told */
  int layers_dirty;     /* a viewer's want changed, or it left: tell at the next tick */
  int ready;
  struct sfu_peer **viewers;
  size_t nviewers, cap;
  char stream_id[24];                   /* msid stream of what viewers receive */
  uint64_t id;                          /* names it to the shares */
  uint32_t share_views[SFU_MAX_SHARES]; /* its viewers each share holds; >0: it has the room */
  struct sfu_link *links;               /* outgoing relay links (relay.c) */
  struct sfu_room *next, *prev;
};

struct sfu {
  uv_loop_t *loop;
  struct sfu_config cfg;
  char announce[SDP_MAX_MORE_ADDRS + 1][64]; /* host candidates, first preferred */
  size_t nannounce;
  struct dtls_ctx *dtls; /* our certificate, for every peer */
  struct udp_sock *udp;
  struct map by_ufrag; /* our ufrag -> peer */
  struct map by_addr;  /* bound address -> peer */
  struct map links;    /* relay: another node's address and a link's SSRC -> link */
  struct sfu_room *rooms;
  uv_timer_t timer;
  uv_check_t reaper;       /* the safe point where closed peers are freed */
  struct sfu_peer *closed; /* closed peers: their owners are told, then freed */
  struct sfu_tcp *tcps;    /* ICE-TCP connections */
  int tcp_port;            /* the site's TCP port, in answers' TCP candidates; 0: none */
  unsigned handles_open;   /* timer and reaper, until closed */
  unsigned ticks;
  struct sfu_stats stats;
  uint64_t next_room_id;
  struct fanout inline_share;                 /* share 0 */
  struct worker *workers[SFU_MAX_SHARES - 1]; /* share i is workers[i - 1] */
  unsigned nshares;                           /* 1 + workers */
  /* Views on their way back from a share (FANOUT_VIEW_MOVE), each with the
   * peer it is for (NULL once that closed). */
  struct sfu_moving {
    struct fanout_view *view;
    struct sfu_peer *peer;
    struct sfu_moving *next;
  } * moving;
  uint32_t share_views[SFU_MAX_SHARES]; /* viewers each share holds */
  uint8_t scratch[UDP_SLOT_BYTES];      /* RTCP we build before protecting */
};

/* sfu.c */
/* A compact binary key for an address (family, port, address bytes) into
 * out; its length, 0 for another family. */
size_t sfu_addr_key(const struct sockaddr *sa, char out[20]);
/* A peer of r: a browser's (remote_fp, its SDP's fingerprint: DTLS, ICE
 * credentials found by ufrag) or, with remote_fp NULL, a relay-in
 * publisher (neither). NULL when out of memory. */
struct sfu_peer *sfu_peer_new(struct sfu_room *r, struct sfu_owner *owner, int publisher,
                              const char *remote_fp);
/* Unlinks and frees a peer the caller has removed from its room. */
void sfu_peer_free(struct sfu_peer *p);
/* p's SRTP is keyed: media flows (a publisher makes its room ready). */
void sfu_peer_connected(struct sfu_peer *p);
/* r's tracks from now on: audio and video codecs (NULL: none) and the
 * video's simulcast layers (n rids, lowest first; 0: one layer). Viewers'
 * video starts again at the new layers' keyframes. -ENOENT: neither codec;
 * -ENOMEM. */
int sfu_room_tracks(struct sfu_room *r, const struct sdp_codec *audio,
                    const struct sdp_codec *video, const char *const *rids, size_t n);
void sfu_peer_send(struct sfu_peer *p, const uint8_t *data, size_t len);
/* Closes p now (no more media to or from it) and, at the next safe point,
 * tells its owner why and frees it. */
void sfu_peer_fail(struct sfu_peer *p, const char *why);

void sfu_on_stun(struct sfu *s, uint8_t *data, size_t len, const struct sockaddr *from,
                 socklen_t from_len, struct sfu_tcp *via);
void sfu_on_dtls(struct sfu_peer *p, const uint8_t *data, size_t len);

/* sfu_tcp.c */
/* Sends one packet framed on t (dropped if t is closing). */
void sfu_tcp_send(struct sfu_tcp *t, const uint8_t *data, size_t len);
/* A good check for p came over t: t is p's (a nominating check, or p's
 * first path, makes t where p's media goes). -EPERM if t is another peer's
 * or p has SFU_MAX_TCP connections already. */
int sfu_tcp_bind(struct sfu_tcp *t, struct sfu_peer *p, int use_candidate);
/* p is closing: its connections are closed and forget it. */
void sfu_tcp_forget_peer(struct sfu_peer *p);
/* The media plane is closing: every ICE-TCP connection is closed. */
void sfu_tcp_close_all(struct sfu *s);

/* sfu_share.c */
/* Hands message m to share i (inline: handled now). */
void sfu_share_post(struct sfu *s, int share, const struct fanout_msg *m);
/* m to every share holding r. */
void sfu_share_post_room(struct sfu_room *r, struct fanout_msg *m);
/* A viewer's DTLS is done: its view goes to a share (with what that
 * share's ring lacks of the room), and starts on a keyframe. */
void sfu_share_view_add(struct sfu_peer *v);
/* v's path changed (a nominating check, an ICE-TCP connection). */
void sfu_share_view_path(struct sfu_peer *v);
/* v closes: its view (and SRTP) is dropped by its share, or freed here. */
void sfu_share_view_release(struct sfu_peer *v);
/* The layers r's viewers would take, and the lowest the publisher sends
 * (all while it sends none): its owner hears when that changes (a
 * publisher pauses the others). The media plane's timer calls it for a
 * room marked layers_dirty, and once a second. */
void sfu_share_layers_update(struct sfu_room *r);
/* Adds the shares' counters (forwarding, NACKs, the workers' sockets) to
 * out. */
void sfu_share_stats(const struct sfu *s, struct sfu_stats *out);
/* Starts cfg.workers worker threads sending through s's socket. */
int sfu_share_start(struct sfu *s);
/* Stops them, after every view has been released. */
void sfu_share_stop(struct sfu *s);
/* The media plane's 100 ms timer: share 0's paced catch-ups, the workers'
 * waiting messages. */
void sfu_share_tick(struct sfu *s);
/* The share callbacks' ops, for share 0 and the workers. */
extern const struct fanout_ops sfu_share_ops;

/* sfu_fwd.c */
/* An SRTP or SRTCP datagram from peer p, which is connected. Returns the
 * clear length of a publisher's RTP packet that was admitted (its number
 * not far from its stream's), authenticated, decrypted in place and handed
 * on (stored for its track, sent to the shares and the room's links,
 * unless of no use: an unknown payload type, too old); else 0. */
size_t sfu_fwd_srtp(struct sfu_peer *p, uint8_t *data, size_t len);
/* Track k of r has a new source (or its stream jumped): what is stored is
 * of no use, and viewers' streams (and r's links') start again at its next
 * keyframe, their numbering continuous. */
void sfu_fwd_restart(struct sfu_room *r, int k, uint64_t now);
/* Asks r's publisher for a keyframe of track (SFU_VIDEO + layer), at most
 * one a second for each. */
void sfu_fwd_request_keyframe(struct sfu_room *r, int track, uint64_t now);
/* Transport-wide congestion control feedback to the room's publisher
 * (every tick, 100 ms): the arrivals of its packets since the last. */
void sfu_fwd_twcc(struct sfu_room *r);
/* Receiver reports to the room's publisher (once a second). */
void sfu_fwd_report(struct sfu_room *r, uint64_t now);

/* relay.c */
struct rtcp_sr;
struct rtp_hdr;
/* A datagram from the address whose key is akey (alen bytes) and no
 * browser peer: 1 when it was a link's (taken, or counted as dropped), 0
 * when no link has that address and its SSRC. */
int sfu_relay_datagram(struct sfu *s, const char *akey, size_t alen, uint8_t *data, size_t len);
/* Origin: a publisher packet of track k (h parsed from data), stored: a
 * copy to each of r's links. Called only when r->links. */
void sfu_relay_out_rtp(struct sfu_room *r, int k, const uint8_t *data, size_t len,
                       const struct rtp_hdr *h);
/* Origin: track k has a new source: each link's numbering goes on from
 * where it was at its next packet. */
void sfu_relay_out_restart(struct sfu_room *r, int k);
/* Origin: the publisher's sender report for track k, to each link. */
void sfu_relay_out_sr(struct sfu_room *r, int k, const struct rtcp_sr *sr);
/* Origin: every link of r ends (the edges hear BYE). */
void sfu_relay_out_end_all(struct sfu_room *r);
/* The media plane's timer, for a room with links or a relay-in publisher:
 * links silent for sfu_link_silence_ms() end; each link gets a keepalive
 * each way a third of that apart (a second). */
void sfu_relay_tick(struct sfu_room *r, uint64_t now);
/* A link between nodes is dead when silent this long (3 s; less when
 * consent_ms is less): its keepalives come every second, media far more
 * often, so three missed keepalives are not a lost packet but a node gone,
 * and a tree's edges pull again from elsewhere without waiting for the
 * browsers' consent time. */
#define SFU_LINK_SILENCE_MS 3000
static inline uint64_t sfu_link_silence_ms(const struct sfu *s) {
  return s->cfg.consent_ms < SFU_LINK_SILENCE_MS ? s->cfg.consent_ms : SFU_LINK_SILENCE_MS;
}
/* Edge: the origin said BYE: the relay-in publisher closes. */
void sfu_relay_in_bye(struct sfu_peer *pub);
/* Edge: relay-in publisher p leaves the lookups (the origin hears BYE
 * unless it said it first); again is a no-op. */
void sfu_relay_in_close(struct sfu_peer *p);
/* Edge: frees p's link (p is being freed). */
void sfu_relay_in_free(struct sfu_peer *p);

#endif
