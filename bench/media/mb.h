/* onair-media-bench: the media benchmark's one program (bench/run-media.sh
 * drives it). A publisher that is a real WebRTC peer (or plain RTP into
 * Janus's streaming plugin), N emulated viewers that are real WebRTC peers
 * (ICE, DTLS client, SRTP from the DTLS exporter), the counters and windows
 * that turn them into figures, the floor (AES-128-GCM seal + sendmmsg), and
 * the report. Everything runs in one thread and one epoll loop, except the
 * publisher, which paces in its own thread so a busy receive loop cannot
 * delay the stream it measures. */
#ifndef MB_H
#define MB_H

#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>
#include <srtp2/srtp.h>

#define MB_RTP_MAX 1200  /* bytes of a clear RTP packet of the stream, at most */
#define MB_DGRAM 1600    /* bytes of a datagram buffer */
#define MB_DTLS_MTU 1200 /* bytes of a DTLS datagram we send */
#define MB_PT_VP8 96
#define MB_PT_OPUS 111
#define MB_PT_RTX 97 /* a viewer's RTX for VP8 (apt=96), as Chrome offers it */
#define MB_PICS 32768 /* the 15-bit VP8 PictureID space */

#define MB_CONTAINER_OF(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

/* ---- util.c ---- */
int64_t mb_now(void);  /* CLOCK_MONOTONIC, ns */
int64_t mb_wall(void); /* CLOCK_REALTIME, ns (what SO_TIMESTAMPNS stamps) */
void mb_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mb_rand(void *out, size_t n);
/* A random string of n characters from [A-Za-z0-9+/] and a NUL. */
void mb_rand_ice(char *out, size_t n);

/* A file descriptor in the loop's epoll set: ready() gets its events. */
struct mb_io {
  int fd;
  uint32_t events; /* what it is registered for */
  void (*ready)(struct mb_io *io, uint32_t events);
};
int mb_loop_init(void);
int mb_io_add(struct mb_io *io, uint32_t events);
int mb_io_mod(struct mb_io *io, uint32_t events);
void mb_io_del(struct mb_io *io);
/* One turn: waits at most timeout_ms, dispatches what is ready; returns
 * how many were. */
int mb_loop_turn(int timeout_ms);

/* ---- stream.c: the pre-encoded stream, generated at start ---- */
struct mb_spkt {
  uint32_t off;   /* payload bytes at stream blob + off */
  uint16_t len;   /* payload bytes (VP8: descriptor included) */
  uint8_t video;  /* 1: VP8, 0: Opus */
  uint8_t marker; /* last packet of a video frame, first of the audio */
  uint8_t key;    /* the first packet of a keyframe */
  uint8_t first;  /* the first packet of a video frame */
  uint16_t frame; /* frame index in the loop (video) */
  uint32_t ts;    /* RTP timestamp in the loop */
  int64_t t_ns;   /* when it goes out, from the loop's start */
};

struct mb_stream {
  uint8_t *blob; /* owned */
  size_t blob_len;
  struct mb_spkt *pkts; /* one loop, in send order; owned */
  size_t npkts;
  struct mb_spkt *alt; /* each frame's picture as a keyframe, for keyframe requests; owned */
  size_t nalt;
  uint32_t *alt_first; /* frames + 1 entries: frame f's keyframe is alt[alt_first[f]..[f+1]) */
  unsigned width, height, fps;
  unsigned frames;       /* video frames per loop */
  unsigned audio_frames; /* 20 ms Opus frames per loop */
  int64_t loop_ns;
  uint32_t video_ts_loop, audio_ts_loop; /* RTP ticks per loop */
  double video_kbps, audio_kbps;         /* RTP packet bytes over the loop's time */
  double pps;                            /* packets per second */
  size_t video_pkts, audio_pkts;         /* per loop */
};
int mb_stream_make(struct mb_stream *s, unsigned w, unsigned h, unsigned kbps, unsigned seconds);
/* The same with per-pixel noise 0..noise (a power of 2 less 1) instead of
 * the stream's: a small picture with the stream's noise cannot go below
 * 182 kbit/s at 320x180 (461 at 640x360), whatever rate libvpx is asked. */
int mb_stream_make_noise(struct mb_stream *s, unsigned w, unsigned h, unsigned kbps,
                         unsigned seconds, unsigned noise);
void mb_stream_free(struct mb_stream *s);
/* Saves the made stream for other runs of this binary, or loads it. 0 or -1. */
int mb_stream_save(const struct mb_stream *s, const char *path);
int mb_stream_load(struct mb_stream *s, const char *path);
/* Packet p of loop number loop as a clear RTP packet in out (MB_RTP_MAX
 * bytes) with sequence number seq: timestamps and the VP8 PictureID run on
 * across loops. Returns its length, and its PictureID in *pic. */
size_t mb_stream_build(const struct mb_stream *s, const struct mb_spkt *p, uint64_t loop,
                       uint16_t seq, uint32_t ssrc, uint8_t *out, uint16_t *pic);
/* VP8 payload (descriptor first): PictureID, and whether it starts a
 * keyframe of w x h. Returns 0, or -1 if the descriptor has no 15-bit
 * PictureID. */
int mb_vp8_info(const uint8_t *p, size_t len, uint16_t *pic, int *key, unsigned *w, unsigned *h);

/* ---- conn.c: ICE, the DTLS client and SRTP of one peer ---- */
struct mb_dtls {
  SSL_CTX *ctx;
  char fingerprint[100]; /* ours, "AB:CD:..." (sha-256) */
  int gcm;               /* 1: SRTP_AEAD_AES_128_GCM, 0: SRTP_AES128_CM_SHA1_80 */
};
/* srtp_init(), libsrtp2's NSS opened for many contexts first. 0 or -1. */
int mb_srtp_init(void);
int mb_dtls_init(struct mb_dtls *d, int gcm);
const char *mb_profile_name(int gcm);

enum mb_conn_state { CONN_NEW, CONN_ICE, CONN_DTLS, CONN_UP, CONN_FAILED };

struct mb_conn {
  int fd;
  struct sockaddr_in remote;
  int state;       /* enum mb_conn_state */
  int controlling; /* 1: we check (onair is ICE-lite); 0: we answer (Janus checks us) */
  char lufrag[8], lpwd[32];
  char rufrag[64], rpwd[128];
  char rfp[128]; /* the remote's sha-256 fingerprint from its SDP */
  uint8_t txid[12];
  int checks;         /* Binding requests sent */
  int64_t next_ns;    /* next check or DTLS retransmission */
  int64_t consent_ns; /* next consent check when up */
  SSL *ssl;
  srtp_t tx, rx;
  const char *why; /* why it failed */
};
void mb_conn_init(struct mb_conn *c, int fd, int controlling);
void mb_conn_free(struct mb_conn *c);
/* Starts connectivity checks to remote (controlling), or waits for the
 * remote's checks. */
void mb_conn_start(struct mb_conn *c, struct mb_dtls *d, const struct sockaddr_in *remote,
                   int64_t now);
/* Retransmissions and consent. */
void mb_conn_tick(struct mb_conn *c, struct mb_dtls *d, int64_t now);
/* A STUN or DTLS datagram. Returns 1 when the connection just came up. */
int mb_conn_input(struct mb_conn *c, struct mb_dtls *d, uint8_t *p, size_t len,
                  const struct sockaddr_in *from, int64_t now);
/* Protects RTCP in place (cap bytes of room) and sends it. 0 or -1. */
int mb_conn_send_rtcp(struct mb_conn *c, uint8_t *p, size_t len, size_t cap);
int mb_udp_socket(const char *host, unsigned rcvbuf);
/* A viewer's UDP socket: bound to host, or, after mb_viewer_net("NETNS_PATH,
 * ADDRESS"), made in that network namespace and bound to its address. */
int mb_viewer_net(const char *spec);
int mb_viewer_socket(const char *host, unsigned rcvbuf);

/* ---- http.c: HTTP/1.1 and WebSocket client connections ---- */
struct mb_hc;
struct mb_hc_ops {
  void (*connected)(struct mb_hc *h);
  void (*response)(struct mb_hc *h, int status, const char *head, const char *body, size_t blen);
  void (*ws_text)(struct mb_hc *h, char *text, size_t len); /* text is NUL-terminated */
  void (*closed)(struct mb_hc *h, const char *why);
};
struct mb_hc {
  struct mb_io io;
  const struct mb_hc_ops *ops;
  int open; /* connected */
  int ws;   /* switched to WebSocket */
  char *in;
  size_t in_len, in_cap;
  char *out;
  size_t out_len, out_cap;
};
int mb_hc_connect(struct mb_hc *h, const char *host, int port, const struct mb_hc_ops *ops);
void mb_hc_close(struct mb_hc *h);
int mb_hc_request(struct mb_hc *h, const char *method, const char *host, int port, const char *path,
                  const char *headers, const char *body);
int mb_hc_ws_upgrade(struct mb_hc *h, const char *host, int port, const char *headers);
int mb_hc_ws_send(struct mb_hc *h, const char *text);
/* Blocking request for set-up: returns the status, the body in *body
 * (malloc'd) and the response head's Set-Cookie value for name in cookie. */
int mb_http_blocking(const char *host, int port, const char *method, const char *path,
                     const char *headers, const char *body, char **resp_body,
                     const char *cookie_name, char *cookie, size_t cookie_cap);
/* The type field of a JSON message: points into text, length in *len. */
const char *mb_json_type(const char *text, size_t *len);
int mb_json_type_is(const char *text, const char *type);

/* ---- sdp.c ---- */
#define MB_TWCC_URI "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
#define MB_TWCC_ID 3 /* the transport-wide sequence number's extmap id in our offers (Chrome's) */
struct mb_rsdp {
  char ufrag[64], pwd[128], fp[128];
  struct sockaddr_in cand; /* first UDP IPv4 host candidate */
  int have_cand;
  int twcc_id; /* the first transport-wide-cc extmap id (1..14) of any m-line, 0: none */
  unsigned nm;
  struct {
    int video;
    char mid[32];
    int pt;      /* VP8 or Opus payload type */
    int twcc_id; /* its transport-wide-cc extmap id (1..14), 0: none */
  } m[4];
};
int mb_sdp_parse(const char *sdp, struct mb_rsdp *r);
/* Offers to onair: a browser's recvonly viewer, or a sendonly publisher.
 * twcc: the transport-wide sequence number extension (id MB_TWCC_ID) and
 * rtcp-fb transport-cc on both codecs, as Chrome offers them. */
int mb_sdp_offer(char *out, size_t cap, const struct mb_conn *c, const struct mb_dtls *d,
                 int publisher, uint32_t ssrc_a, uint32_t ssrc_v, int twcc);
/* A simulcast publisher's offer, as Chromium writes it for three
 * sendEncodings (rids l, m, h): the MID, RID and transport-wide sequence
 * number extensions (ids MB_MID_ID, MB_RID_ID, MB_TWCC_ID) and rtcp-fb
 * transport-cc, a=rid:<rid> send and a=simulcast:send l;m;h, no a=ssrc on
 * the video. */
int mb_sdp_offer_simulcast(char *out, size_t cap, const struct mb_conn *c, const struct mb_dtls *d,
                           uint32_t ssrc_a);
/* The viewer's answer to Janus's offer: recvonly, ICE-lite with our host
 * candidate, setup:active; with twcc, the offer's transport-wide-cc
 * extension and rtcp-fb transport-cc on each m-line that offers it. */
int mb_sdp_answer(char *out, size_t cap, const struct mb_rsdp *offer, const struct mb_conn *c,
                  const struct mb_dtls *d, const struct sockaddr_in *local, int twcc);

/* ---- publisher.c ---- */
#define MB_LAYERS 3       /* simulcast layers the publisher sends at most: l, m, h */
#define MB_MID_ID 4       /* extmap ids of a simulcast publisher's offer, Chromium's */
#define MB_RID_ID 10
extern int64_t mb_pic_sent[MB_PICS]; /* CLOCK_REALTIME ns each PictureID went out (atomic) */
/* One video stream the publisher sends: the only one, or a simulcast layer
 * (lowest first; the top one is the single stream's, whose audio goes out
 * with it). */
struct mb_layer {
  const struct mb_stream *st;
  uint32_t ssrc;
  uint16_t seq;      /* the next sequence number */
  uint64_t k;        /* the next packet of st (all loops) */
  int key_wanted;    /* a PLI or FIR came: its next frame with a keyframe goes out as one */
  int resuming;      /* turned on again: nothing until a frame it can send as a keyframe */
  uint64_t sent;     /* its video packets (atomic) */
  char rid;          /* 'l', 'm', 'h' */
};
struct mb_pub {
  int janus;                                   /* plain RTP into Janus's mountpoint */
  struct sockaddr_in janus_video, janus_audio; /* its ports */
  struct mb_conn conn;                         /* onair: ICE, DTLS, SRTP */
  struct mb_dtls *dtls;
  struct mb_layer lay[MB_LAYERS];
  unsigned nlayers;                 /* 1, or MB_LAYERS with simulcast */
  int honour_pause;                 /* simulcast: media.layers turns layers off and on */
  unsigned active;                  /* atomic: bit i, layer i is sent (media.layers) */
  uint32_t ssrc_a;
  int state;                        /* atomic: 0 connecting, 1 sending, -1 failed */
  int stop;                         /* atomic */
  uint64_t sent;                    /* packets a viewer of the top layer gets: audio, top (atomic) */
  uint16_t seq_a;                   /* the next audio sequence number */
  uint16_t tw_seq;                  /* simulcast: the next transport-wide sequence number */
  uint64_t key_requests, keys_sent; /* (atomic) */
  uint64_t fb_in;                   /* RTCP transport-wide feedback from onair (atomic) */
  int64_t late_max_ns;              /* the latest a packet went out after its time */
  unsigned long th;
};
int mb_pub_start(struct mb_pub *p);
void mb_pub_stop(struct mb_pub *p);
/* media.layers: which layers (lowest first) viewers take; the others are
 * turned off, as a browser's page does with setParameters (the lowest one
 * sent always stays on: onair says so itself). */
void mb_pub_set_active(struct mb_pub *p, unsigned mask);

#endif
