/* The media plane: one UDP port, ICE-lite, DTLS-SRTP, and forwarding from
 * each room's publisher to its viewers (docs/media.md). The application
 * (live.c) brings offers and gets answers. It names each room and each peer
 * by a struct sfu_owner embedded in its own object, and the media plane calls
 * back through the owner's ops; container_of() recovers the object. */
#ifndef ONAIR_SFU_H
#define ONAIR_SFU_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct sfu;
struct sfu_room;
struct sfu_owner;
struct conn;

struct sfu_config {
  const char *bind;     /* address the UDP socket binds */
  int port;             /* UDP port (0: any, for tests) */
  const char *announce; /* addresses in SDP answers, comma- or space-separated, first
                           preferred (IPv4 and IPv6; up to 8) */
  uint64_t consent_ms;  /* a peer with no STUN for this long is closed */
  int no_gso;           /* 1: one datagram per send, never UDP GSO */
  unsigned workers;     /* threads sending to viewers (at most 63); 0: all on loop */
  unsigned hold_ms;     /* a worker waits this long at most for a frame's last packet; 0: never */
};

struct sfu_owner_ops {
  /* A room's owner: its publisher is connected, viewers can offer now.
   * Called from inside the media plane: send messages, do not free rooms
   * or drop peers here. */
  void (*media_ready)(struct sfu_owner *room_owner);
  /* A peer's owner: the media plane closed the peer (consent lost, DTLS
   * failed). Called at a safe point of the loop: anything may be done. Not
   * called once the owner dropped the peer or freed its room. */
  void (*peer_closed)(struct sfu_owner *peer_owner, const char *why);
  /* A room's owner: something in its publisher's media that viewers'
   * browsers play badly, once per publisher: "bframes" (H.264 B slices:
   * OBS's B-frames). As media_ready, from inside the media plane. May be
   * NULL. */
  void (*media_warning)(struct sfu_owner *room_owner, const char *code);
  /* A room's owner: which of its publisher's simulcast layers (of layers,
   * lowest first) viewers take changed: bit i of mask set, layer i is
   * watched. The lowest the publisher sends (and those below) always are.
   * As media_ready, from inside the media plane. May be NULL. */
  void (*layers_wanted)(struct sfu_owner *room_owner, unsigned mask, unsigned layers);
  /* A viewer's owner: the layer it gets changed (0 lowest; -1: no video)
   * of layers. As media_ready. May be NULL. */
  void (*view_layer)(struct sfu_owner *peer_owner, int layer, unsigned layers);
};

/* A viewer's quality menu (docs/media.md, "Simulcast"). */
enum sfu_quality {
  SFU_QUALITY_AUTO,   /* the highest layer sent that its network carries */
  SFU_QUALITY_LOW,    /* the lowest layer */
  SFU_QUALITY_MEDIUM, /* the second (the highest of two) */
  SFU_QUALITY_HIGH,   /* the highest */
  SFU_QUALITY_AUDIO,  /* no video */
};

/* ICE-TCP on the site's own TCP port (beside HTTP): 1 if data (a TCP
 * connection's first bytes) is RFC 4571 framing of a STUN binding request,
 * 0 if not, -EAGAIN if more bytes are needed to tell. */
int sfu_tcp_sniff(const uint8_t *data, size_t len);
/* Takes over c (see conn_rebind()) as an ICE-TCP connection and feeds it
 * data. Returns 1 (taken) for conn_sniff_fn. */
int sfu_tcp_take(struct sfu *s, struct conn *c, const uint8_t *data, size_t len);
/* Answers offer TCP candidates on port (the listener the connections come
 * to); 0: none. */
void sfu_set_tcp_port(struct sfu *s, int port);

/* The application's end of a room or a peer; embed it. */
struct sfu_owner {
  const struct sfu_owner_ops *ops;
};

int sfu_new(uv_loop_t *loop, const struct sfu_config *cfg, struct sfu **out);
/* Frees every room and peer and closes the socket; s's memory goes when its
 * handles have closed (run the loop). */
void sfu_close(struct sfu *s);
int sfu_port(const struct sfu *s);

struct sfu_room *sfu_room_new(struct sfu *s, struct sfu_owner *owner);
/* Closes every peer of the room and frees it. */
void sfu_room_free(struct sfu_room *r);
/* 1 once the publisher is connected and its codecs are known. */
int sfu_room_ready(const struct sfu_room *r);

/* An offer from the room's publisher (publisher = 1) or a viewer. An earlier
 * peer of the same owner is replaced. Returns 0 with *answer (caller frees),
 * or a negative errno with *code ("bad_sdp", "no_codec", "not_ready") and
 * *why for the client. */
int sfu_offer(struct sfu_room *r, int publisher, struct sfu_owner *owner, const char *sdp,
              size_t len, char **answer, const char **code, const char **why);
/* The owner's viewer gets quality q from now on (its next offer too).
 * -ENOENT: the owner has no viewer in r. */
int sfu_view_quality(struct sfu_room *r, struct sfu_owner *owner, enum sfu_quality q);

/* The owner left: its peer closes (no peer_closed event). */
void sfu_drop(struct sfu_room *r, struct sfu_owner *owner);

/* ---- Relay between nodes (docs/media.md, "Relay between nodes") ----
 * A room's origin (the node its publisher sends to) sends one copy of the
 * room's media to each edge that pulls it, over SRTP on the two nodes'
 * media ports, keyed by the application; the edge's room takes it as from a
 * publisher of its own (a relay-in publisher) and fans it out to its
 * viewers. An edge's room may be relayed on (a tree). */

/* A node-to-node link's keying. */
struct sfu_link_params {
  const char *addr; /* the other node's media address, IPv4 or IPv6 text */
  int port;         /* its media UDP port */
  uint8_t key[32];  /* the link's key material (the app derives it from the cluster secret) */
  uint8_t id[16];   /* the link's id, random, chosen by the edge */
};
/* Origin: room r's media goes to the edge at lp from now on (one copy of
 * each simulcast layer: a link wants every layer). Returns 0 with *desc
 * (JSON, NUL-terminated, caller frees) for the edge's sfu_relay_in(),
 * -ENOTCONN if r's publisher is not connected, -EEXIST for a link id r
 * already has, -EINVAL for an address that is not one (or of another
 * family than the media socket's), -ENOMEM, -EIO (key derivation). The link
 * ends with sfu_relay_out_end(), when the edge says BYE or is silent for
 * 3 s (SFU_LINK_SILENCE_MS, or consent_ms if shorter), when r's publisher leaves or is replaced (the edge hears
 * BYE), and with r. */
int sfu_relay_out(struct sfu_room *r, const struct sfu_link_params *lp, char **desc);
/* Origin: the link with id stops (the edge let go). -ENOENT if r has none. */
int sfu_relay_out_end(struct sfu_room *r, const uint8_t id[16]);
/* Edge: room r's publisher is the origin at lp, as desc (desc_len bytes)
 * tells: a relay-in publisher, connected at once (r is ready, and r's
 * owner's media_ready is called from inside this call, as for a browser
 * publisher). owner's peer_closed is called when the origin goes silent
 * (3 s, as above) or ends the link (BYE); sfu_drop(r, owner) and
 * sfu_room_free(r) end it (the origin hears BYE). Returns 0, -EINVAL with
 * *why (a bad description or address), -EEXIST if r has a publisher,
 * -EADDRINUSE if an SSRC of desc is already in use between the two nodes
 * (unlikely: ask the origin for another link), -ENOMEM, -EIO. */
int sfu_relay_in(struct sfu_room *r, struct sfu_owner *owner, const struct sfu_link_params *lp,
                 const char *desc, size_t desc_len, const char **why);
/* How many outgoing links room r has. */
unsigned sfu_room_relays(const struct sfu_room *r);

/* Why a datagram was not used. */
enum sfu_drop {
  SFU_DROP_UNKNOWN_PEER, /* from no checked address, or before its check */
  SFU_DROP_NOT_MEDIA,    /* not STUN, DTLS, RTP or RTCP; or media before DTLS is done */
  SFU_DROP_SRTP,         /* failed authentication or replay check */
  SFU_DROP_UNUSABLE,     /* RTP a viewer sent, an unknown payload type, or too old to keep */
  SFU_DROP_SEND_BUFFER,  /* the kernel's send buffer was full */
  SFU_DROP_SEQ_JUMP,     /* a publisher's packet far from its stream's numbers, unconfirmed */
  SFU_DROPS
};

struct sfu_stats {
  uint64_t peers;                  /* now */
  uint64_t rtp_in, rtp_in_bytes;   /* publishers' packets stored */
  uint64_t rtp_out, rtp_out_bytes; /* packets forwarded to viewers */
  uint64_t nack_resent, keyframe_requests;
  uint64_t nack_duplicates;  /* asked again within 50 ms of its resending: not resent */
  uint64_t nack_over_budget; /* not resent: the viewer's retransmission budget was spent */
  uint64_t layer_switches;   /* viewers moved to another simulcast layer */
  uint64_t probe_packets;    /* padding sent to probe viewers' downlinks */
  uint64_t viewer_feedbacks; /* viewers' transport-wide feedback and REMB taken */
  uint64_t twcc_sent;        /* transport-wide feedback packets sent to publishers */
  uint64_t relay_links;      /* outgoing node-to-node links now */
  uint64_t relay_out, relay_out_bytes; /* RTP sent on links (resends included; encrypted) */
  uint64_t relay_in, relay_in_bytes;   /* RTP taken from links (authenticated; decrypted) */
  uint64_t relay_nack_resent;          /* packets sent again on a link for an edge's NACK */
  uint64_t dropped[SFU_DROPS];
  uint64_t udp_rx_packets, udp_rx_bytes, udp_tx_packets, udp_tx_bytes;
  uint64_t udp_rx_reads; /* wakeups that read the media socket (udp.h, UDP_PACE_MS) */
  uint64_t udp_tx_sends; /* messages handed to the kernel (GSO: several datagrams each) */
};
/* The media plane's counters since it started. */
void sfu_get_stats(const struct sfu *s, struct sfu_stats *out);
/* A name for a drop reason ("unknown_peer", ...). */
const char *sfu_drop_name(enum sfu_drop why);

#endif
