/* One emulated viewer's media: a UDP socket of its own (its own 5-tuple, as
 * a browser has), ICE and DTLS through conn.c, then every RTP packet counted
 * by SSRC and sequence number from the clear header (received, gaps,
 * duplicates, gaps filled by retransmission), a sample authenticated and
 * decrypted (every packet until the first keyframe, then 1 in --sample-every), receiver
 * reports once a second (with LSR/DLSR from the server's sender reports)
 * and NACKs for video gaps, as a browser sends them. When the server
 * answered the transport-wide sequence number extension, each packet's
 * number and arrival go to onair's own twcc.c receiver, and a feedback
 * (RTPFB FMT 15, alone, as Chrome sends it with rtcp-rsize) goes out every
 * 100 ms, as Chrome's does.
 *
 * The socket takes UDP_GRO, as a receiver behind a NIC with UDP GRO does:
 * a server's GSO message arrives as one buffer (the kernel does not cut it
 * into datagrams on the way in) and is split here by its segment size.
 * That is what lets one core emulate 2,000 viewers; a server that sends
 * datagram by datagram is received as before. */
#include "emu.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/twcc.h"

#define BATCH 32
#define GRO_BUF 65536            /* bytes of a receive buffer: a whole GSO message */
#define NACK_RETRY_NS 30000000LL /* a browser's retry comes after about an RTT */
#define NACK_TRIES 3
#define RR_EVERY_NS 1000000000LL
#define SR_EVERY_NS 5000000000LL /* decrypt a sender report this often per track */
#define FB_EVERY_NS 100000000LL  /* transport-wide feedback: Chrome's interval */
#define FB_PER_TICK 4            /* feedback packets at most per interval (after a stall) */

static uint8_t bufs[BATCH][GRO_BUF];
static char ctrls[BATCH][CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(uint32_t)) +
                         CMSG_SPACE(sizeof(int))];

static void set_state(struct mb_viewer *v, int state);

static int seen_get(const struct mb_track *t, uint32_t s) {
  return t->seen[(s % MB_SEEN) / 8] >> (s % 8) & 1;
}

static void seen_set(struct mb_track *t, uint32_t s, int on) {
  uint8_t *b = &t->seen[(s % MB_SEEN) / 8];

  *b = on ? (uint8_t)(*b | 1 << (s % 8)) : (uint8_t)(*b & ~(1 << (s % 8)));
}

static void send_nack(struct mb_viewer *v, struct mb_track *t, const uint16_t *lost, size_t n) {
  uint8_t buf[512];
  int a, b;

  a = rtcp_build_rr(buf, sizeof(buf), v->ssrc, NULL);
  b = a > 0 ? rtcp_build_nack(buf + a, sizeof(buf) - (size_t)a, v->ssrc, t->ssrc, lost, n) : -1;
  if (b > 0 && mb_conn_send_rtcp(&v->conn, buf, (size_t)(a + b), sizeof(buf)) == 0) {
    v->nacks++;
    v->nacked += n;
  }
}

/* A new highest sequence number ext after a gap: the missing ones are
 * NACKed now and again until they come or NACK_TRIES. */
static void track_gap(struct mb_viewer *v, struct mb_track *t, uint32_t ext, int64_t now) {
  uint16_t lost[MB_PEND];
  uint32_t s;
  size_t n = 0;

  for (s = t->max + 1; s < ext && ext - s <= MB_SEEN; s++)
    seen_set(t, s, 0);
  if (ext - t->max > MB_SEEN)
    memset(t->seen, 0, sizeof(t->seen));
  /* Video only, as browsers: both servers' offers and ours ask for NACK
   * on video alone (rtcp-fb nack), and Janus ignores it on audio. */
  for (s = t->max + 1; t->video && s < ext && t->npend < MB_PEND && ext - s <= 256; s++) {
    t->pend[t->npend] = (uint16_t)s;
    t->tries[t->npend++] = 1;
    lost[n++] = (uint16_t)s;
  }
  if (n) {
    send_nack(v, t, lost, n);
    t->pend_next = now + NACK_RETRY_NS;
  }
}

/* Counts seq on t. Returns 1 for a new highest one, 0 otherwise. */
static int track_seq(struct mb_viewer *v, struct mb_track *t, uint16_t seq, int64_t now) {
  uint32_t ext;

  if (t->unique == 0 && t->dups == 0) {
    t->first = t->max = seq;
    seen_set(t, seq, 1);
    t->unique = 1;
    return 1;
  }
  ext = t->max + (uint32_t)(int32_t)(int16_t)(seq - (uint16_t)t->max);
  if ((int32_t)(ext - t->max) > 0) {
    if (ext - t->max > 1)
      track_gap(v, t, ext, now);
    seen_set(t, ext, 1);
    t->max = ext;
    t->unique++;
    return 1;
  }
  if (t->max - ext >= MB_SEEN || (int32_t)(ext - t->first) < 0) {
    t->late++;
  } else if (seen_get(t, ext)) {
    t->dups++;
  } else {
    seen_set(t, ext, 1);
    t->unique++;
    t->filled++;
  }
  return 0;
}

static struct mb_track *track_of(struct mb_viewer *v, uint32_t ssrc, int video) {
  unsigned i;

  for (i = 0; i < v->ntr; i++)
    if (v->tr[i].ssrc == ssrc)
      return &v->tr[i];
  if (v->ntr == MB_TRACKS)
    return NULL;
  memset(&v->tr[v->ntr], 0, sizeof(v->tr[0]));
  v->tr[v->ntr].ssrc = ssrc;
  v->tr[v->ntr].video = (uint8_t)video;
  return &v->tr[v->ntr++];
}

static void delay_sample(const uint8_t *payload, size_t len, int64_t rx_wall, uint16_t pic) {
  int64_t sent = __atomic_load_n(&mb_pic_sent[pic], __ATOMIC_RELAXED);
  struct mb_emu *e = &mb_emu;
  double ms = (rx_wall - sent) / 1e6;

  if (!e->measuring || !sent || ms < 0 || ms > 10000)
    return;
  if (e->ndelays == e->delays_cap) {
    size_t cap = e->delays_cap ? e->delays_cap * 2 : 65536;
    float *nd = realloc(e->delays, cap * sizeof(*nd));
    if (!nd)
      return;
    e->delays = nd;
    e->delays_cap = cap;
  }
  e->delays[e->ndelays++] = (float)ms;
}

/* Authenticates and decrypts p in place; a VP8 packet's keyframe and
 * PictureID are looked at. */
static void decrypt_sample(struct mb_viewer *v, struct mb_track *t, uint8_t *p, size_t len,
                           int64_t rx_wall, int64_t now) {
  struct rtp_hdr h;
  int n = (int)len, key = 0;
  unsigned w = 0, ht = 0;
  uint16_t pic;

  if (srtp_unprotect(v->conn.rx, p, &n) != srtp_err_status_ok) {
    v->dec_fail++;
    return;
  }
  v->dec_ok++;
  if (!t->video || rtp_parse(p, (size_t)n, &h) < 0 ||
      mb_vp8_info(h.payload, h.payload_len, &pic, &key, &w, &ht) < 0)
    return;
  if (v->first_video_key == 0)
    v->first_video_key = key ? 1 : -1;
  /* A publisher not ours (viewers mode: no stream of our own) may send any size. */
  if (key && (!mb_emu.st.width || (w == mb_emu.st.width && ht == mb_emu.st.height))) {
    v->keys++;
    if (!v->t_key) {
      v->t_key = now;
      set_state(v, V_LIVE);
    }
  }
  delay_sample(h.payload, h.payload_len, rx_wall, pic);
}

/* The transport-wide sequence number, element id of RFC 8285's one-byte
 * form, from the clear header of the SRTP packet p (len >= 12 bytes). SRTP
 * authenticates the header but does not encrypt it, so it is read without
 * decrypting (a browser reads the same bytes after). rtp_parse() is not
 * used: it checks the padding count, which SRTP encrypts. Returns 0 with
 * *seq, -1 when the packet carries none. */
static int twcc_seq_of(const uint8_t *p, size_t len, unsigned id, uint16_t *seq) {
  size_t off = RTP_HDR_MIN + 4u * (p[0] & 0x0f), end, i;

  if (!(p[0] & 0x10) || off + 4 > len || (p[off] << 8 | p[off + 1]) != RTP_EXT_ONE_BYTE)
    return -1;
  end = off + 4 + 4u * (size_t)(p[off + 2] << 8 | p[off + 3]);
  if (end > len)
    return -1;
  for (i = off + 4; i < end && p[i] >> 4 != 15;) {
    unsigned eid = p[i] >> 4, elen = (p[i] & 0x0fu) + 1;
    if (p[i] == 0) { /* padding between elements */
      i++;
      continue;
    }
    if (i + 1 + elen > end)
      return -1;
    if (eid == id) {
      if (elen != 2)
        return -1;
      *seq = (uint16_t)(p[i + 1] << 8 | p[i + 2]);
      return 0;
    }
    i += 1 + elen;
  }
  return -1;
}

/* Every packet that reached the viewer (duplicates and retransmissions
 * too, each has its own number) is recorded at its kernel arrival time. */
static void twcc_packet(struct mb_viewer *v, const uint8_t *p, size_t len, uint32_t ssrc,
                        int64_t rx_wall) {
  uint16_t seq;

  if (twcc_seq_of(p, len, v->twcc_id, &seq) < 0) {
    v->twcc_bare++;
    return;
  }
  v->twcc_pkts++;
  v->twcc_ssrc = ssrc;
  twcc_recv_on_packet(v->twcc, seq, (rx_wall ? rx_wall : mb_wall()) / 1000);
}

static void rtp_packet(struct mb_viewer *v, uint8_t *p, size_t len, int64_t rx_wall, int64_t now) {
  uint32_t ssrc = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
  int video = (p[1] & 0x7f) == v->vp8_pt;
  struct mb_track *t;

  static unsigned dropped;

  if (len < 12 || v->conn.state != CONN_UP)
    return;
  if ((p[1] & 0x7f) == MB_PT_RTX) {
    /* onair's probe, padding only (it resends NACKed packets on the
     * stream's own SSRC): numbered for feedback, not a forwarded packet. */
    v->pad++;
    if (v->twcc)
      twcc_packet(v, p, len, ssrc, rx_wall);
    return;
  }
  if (!(t = track_of(v, ssrc, video)))
    return;
  if (mb_emu.cfg->drop_every && v->t_key && ++dropped % mb_emu.cfg->drop_every == 0)
    return; /* as if lost on the way: the gap is NACKed */
  v->rtp++;
  if (v->twcc)
    twcc_packet(v, p, len, ssrc, rx_wall);
  if (!track_seq(v, t, (uint16_t)(p[2] << 8 | p[3]), now))
    return;
  if (v->t_key == 0 ? (video || t->unique <= 16) : ++t->samples % mb_emu.cfg->sample_every == 0)
    decrypt_sample(v, t, p, len, rx_wall, now);
}

/* A sender report: its time goes back in our receiver reports (LSR,
 * DLSR), from which the server learns the round-trip time, as from a
 * browser's (Janus sizes its retransmission buffer from it). Only SRs are
 * decrypted (their first header is in the clear), and one per track every
 * 5 s: libsrtp2 on NSS costs tens of microseconds a packet. */
static void sender_report(struct mb_viewer *v, uint8_t *p, size_t len, int64_t now) {
  struct rtcp_iter it;
  struct rtcp_pkt pkt;
  struct rtcp_sr sr;
  int n = (int)len;
  unsigned i;

  int64_t oldest = now;

  for (i = 0; i < v->ntr; i++)
    oldest = v->tr[i].sr_at < oldest ? v->tr[i].sr_at : oldest;
  if (v->ntr == 0 || now - oldest < SR_EVERY_NS)
    return; /* LSR and DLSR may name an older SR: the round trip comes out the same */
  if (v->conn.state != CONN_UP || srtp_unprotect_rtcp(v->conn.rx, p, &n) != srtp_err_status_ok)
    return;
  rtcp_iter_init(&it, p, (size_t)n);
  while (rtcp_next(&it, &pkt) == 1) {
    if (rtcp_parse_sr(&pkt, &sr) < 0)
      continue;
    for (i = 0; i < v->ntr; i++)
      if (v->tr[i].ssrc == sr.ssrc) {
        v->tr[i].lsr = (uint32_t)(sr.ntp >> 16);
        v->tr[i].sr_at = now;
      }
  }
}

static void datagram(struct mb_viewer *v, uint8_t *p, size_t len, const struct sockaddr_in *from,
                     int64_t rx_wall, int64_t now) {
  if (len == 0)
    return;
  if (p[0] >= 128 && p[0] < 192) {
    if (len >= 2 && p[1] >= 192 && p[1] <= 223) {
      v->rtcp++;
      if (p[1] == RTCP_SR)
        sender_report(v, p, len, now);
    } else {
      rtp_packet(v, p, len, rx_wall, now);
    }
    return;
  }
  if (mb_conn_input(&v->conn, &mb_emu.dtls, p, len, from, now) == 1) {
    v->t_up = now;
    if (v->state == V_MEDIA)
      set_state(v, V_UP);
  }
  if (v->conn.state == CONN_FAILED)
    mb_viewer_fail(v, v->conn.why);
}

/* The receive time, socket drops and (for a GSO message) segment size. */
static void read_cmsgs(struct mb_viewer *v, struct msghdr *m, int64_t *rx_wall, int *seg) {
  struct cmsghdr *c;

  for (c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO)
      memcpy(seg, CMSG_DATA(c), sizeof(*seg));
    if (c->cmsg_level != SOL_SOCKET)
      continue;
    if (c->cmsg_type == SO_TIMESTAMPNS) {
      struct timespec ts;
      memcpy(&ts, CMSG_DATA(c), sizeof(ts));
      *rx_wall = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    } else if (c->cmsg_type == SO_RXQ_OVFL) {
      memcpy(&v->ovfl, CMSG_DATA(c), sizeof(v->ovfl));
    }
  }
}

static void udp_ready(struct mb_io *io, uint32_t events) {
  struct mb_viewer *v = MB_CONTAINER_OF(io, struct mb_viewer, udp);
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_in from[BATCH];
  int i, n, round;

  for (round = 0; round < 4 && io->fd >= 0; round++) {
    int64_t now = mb_now();
    for (i = 0; i < BATCH; i++) {
      iov[i] = (struct iovec){bufs[i], GRO_BUF};
      msgs[i].msg_hdr = (struct msghdr){.msg_name = &from[i],
                                        .msg_namelen = sizeof(from[i]),
                                        .msg_iov = &iov[i],
                                        .msg_iovlen = 1,
                                        .msg_control = ctrls[i],
                                        .msg_controllen = sizeof(ctrls[i])};
    }
    n = recvmmsg(io->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    for (i = 0; i < n && io->fd >= 0; i++) {
      int64_t rx_wall = 0;
      int seg = 0;
      size_t at = 0, len = msgs[i].msg_len;
      read_cmsgs(v, &msgs[i].msg_hdr, &rx_wall, &seg);
      if (seg <= 0)
        seg = (int)len;
      do { /* each datagram of a GSO message; the last may be shorter */
        size_t n = len - at < (size_t)seg ? len - at : (size_t)seg;
        datagram(v, bufs[i] + at, n, &from[i], rx_wall, now);
        at += n;
      } while (at < len && io->fd >= 0);
    }
    if (n < BATCH)
      break;
  }
}

static void set_state(struct mb_viewer *v, int state) {
  int was_joining = v->state == V_SIGNALING || v->state == V_MEDIA;
  int is_joining = state == V_SIGNALING || state == V_MEDIA;
  int was_pending = was_joining || v->state == V_UP;
  int is_pending = is_joining || state == V_UP;

  mb_emu.joining += is_joining - was_joining;
  mb_emu.pending += is_pending - was_pending;
  v->state = state;
}

int mb_viewer_begin(struct mb_viewer *v, int64_t now) {
  const struct mb_cfg *cfg = mb_emu.cfg;
  int fd = mb_viewer_socket(cfg->media_host, cfg->rcvbuf);

  v->udp.fd = -1;
  v->hc.io.fd = -1;
  v->t_join = now;
  if (fd < 0) {
    v->state = V_FAILED;
    v->why = "no UDP socket (open-files limit?)";
    return -1;
  }
  setsockopt(fd, SOL_UDP, UDP_GRO, &(int){1}, sizeof(int));
  v->udp.fd = fd;
  v->udp.ready = udp_ready;
  mb_io_add(&v->udp, EPOLLIN);
  mb_conn_init(&v->conn, fd, strcmp(cfg->server, "onair") == 0);
  mb_rand(&v->ssrc, sizeof(v->ssrc));
  v->vp8_pt = MB_PT_VP8;
  set_state(v, V_SIGNALING);
  return 0;
}

void mb_viewer_media(struct mb_viewer *v, const struct mb_rsdp *r, int64_t now) {
  unsigned i;

  snprintf(v->conn.rufrag, sizeof(v->conn.rufrag), "%s", r->ufrag);
  snprintf(v->conn.rpwd, sizeof(v->conn.rpwd), "%s", r->pwd);
  snprintf(v->conn.rfp, sizeof(v->conn.rfp), "%s", r->fp);
  for (i = 0; i < r->nm; i++)
    if (r->m[i].video && r->m[i].pt >= 0)
      v->vp8_pt = r->m[i].pt;
  /* Every viewer offered the extension (cfg twcc); 1 in cfg twcc of them
   * reads it and sends feedback. */
  if (r->twcc_id && mb_emu.cfg->twcc && v->idx % mb_emu.cfg->twcc == 0 &&
      (v->twcc = malloc(sizeof(*v->twcc)))) {
    twcc_recv_init(v->twcc);
    v->twcc_id = (uint8_t)r->twcc_id;
  }
  set_state(v, V_MEDIA);
  mb_conn_start(&v->conn, &mb_emu.dtls, r->have_cand ? &r->cand : NULL, now);
}

void mb_viewer_close(struct mb_viewer *v) {
  if (v->udp.fd >= 0) {
    mb_io_del(&v->udp);
    close(v->udp.fd);
    v->udp.fd = -1;
  }
  mb_hc_close(&v->hc);
  mb_conn_free(&v->conn);
  free(v->twcc);
  v->twcc = NULL;
}

void mb_viewer_fail(struct mb_viewer *v, const char *why) {
  if (v->state == V_FAILED)
    return;
  static unsigned logged;

  v->why = why ? why : "failed";
  if (logged++ < 5)
    mb_log("viewer %u failed: %s", v->idx, v->why);
  set_state(v, V_FAILED);
  mb_viewer_close(v);
}

/* A receiver report per track, each its own compound packet (RR with one
 * block, SDES), as libwebrtc's receive streams send them: Janus reads the
 * first report block of a compound only, and takes the round-trip time of
 * that block's stream from it. */
static void send_rr(struct mb_viewer *v, int64_t now) {
  uint8_t buf[256];
  unsigned i;
  int n, m;

  for (i = 0; i < v->ntr; i++) {
    struct mb_track *t = &v->tr[i];
    uint32_t expected = t->max - t->first + 1, de = expected - t->rr_expected;
    uint32_t du = (uint32_t)t->unique - t->rr_unique;
    struct rtcp_report_block rb = {.ssrc = t->ssrc, .highest_seq = t->max, .lsr = t->lsr};
    if (t->sr_at)
      rb.dlsr = (uint32_t)((now - t->sr_at) * 65536 / 1000000000);
    rb.cumulative_lost = (int32_t)(expected - (uint32_t)t->unique);
    rb.fraction_lost = de && du < de ? (uint8_t)((de - du) * 256 / de) : 0;
    t->rr_expected = expected;
    t->rr_unique = (uint32_t)t->unique;
    n = rtcp_build_rr(buf, sizeof(buf), v->ssrc, &rb);
    m = n > 0 ? rtcp_build_sdes(buf + n, sizeof(buf) - (size_t)n, v->ssrc, "onair-media-bench", 17)
              : -1;
    if (m > 0)
      mb_conn_send_rtcp(&v->conn, buf, (size_t)(n + m), sizeof(buf));
  }
}

/* The arrivals since the last feedback, as Chrome sends them with
 * rtcp-rsize: a lone RTPFB packet, sender SSRC ours, media SSRC the newest
 * packet's. twcc_recv_build() splits what does not fit one packet. */
static void send_twcc(struct mb_viewer *v) {
  uint8_t buf[MB_RTP_MAX];
  int k, n;

  for (k = 0; k < FB_PER_TICK; k++) {
    n = twcc_recv_build(v->twcc, buf, sizeof(buf) - SRTP_MAX_TRAILER_LEN, v->ssrc, v->twcc_ssrc);
    if (n <= 0)
      break;
    if (mb_conn_send_rtcp(&v->conn, buf, (size_t)n, sizeof(buf)) == 0)
      v->twcc_fbs++;
  }
}

static void nack_retry(struct mb_viewer *v, struct mb_track *t, int64_t now) {
  uint16_t lost[MB_PEND];
  size_t n = 0;
  unsigned i, k = 0;

  for (i = 0; i < t->npend; i++) {
    uint32_t s = t->max - (uint16_t)(t->max - t->pend[i]);
    if (seen_get(t, s) || t->max - s > 512 || t->tries[i] >= NACK_TRIES)
      continue; /* came, too old, or given up */
    t->pend[k] = t->pend[i];
    t->tries[k] = (uint8_t)(t->tries[i] + 1);
    lost[n++] = t->pend[k++];
  }
  t->npend = (uint8_t)k;
  if (n)
    send_nack(v, t, lost, n);
  t->pend_next = now + NACK_RETRY_NS;
}

void mb_viewer_tick(struct mb_viewer *v, int64_t now) {
  unsigned i;

  if ((v->state == V_SIGNALING || v->state == V_MEDIA || v->state == V_UP) &&
      now - v->t_join > (int64_t)mb_emu.cfg->join_timeout_s * 1000000000)
    return mb_viewer_fail(v, v->state == V_SIGNALING ? "signaling timed out"
                                                     : "no keyframe in time (ICE, DTLS or media)");
  if (v->state != V_MEDIA && v->state != V_UP && v->state != V_LIVE)
    return;
  mb_conn_tick(&v->conn, &mb_emu.dtls, now);
  if (v->conn.state == CONN_FAILED)
    return mb_viewer_fail(v, v->conn.why);
  if (v->conn.state != CONN_UP)
    return;
  if (now >= v->next_rr) {
    if (v->next_rr)
      send_rr(v, now);
    v->next_rr = now + (v->next_rr ? RR_EVERY_NS : (int64_t)(v->ssrc % RR_EVERY_NS));
  }
  if (v->twcc && now >= v->next_fb) {
    if (v->next_fb)
      send_twcc(v);
    /* Every 100 ms on average (the loop ticks every 20 ms), each viewer at
     * its own phase; a stall does not make a burst of them. */
    v->next_fb = v->next_fb && now - v->next_fb < FB_EVERY_NS
                     ? v->next_fb + FB_EVERY_NS
                     : now + (v->next_fb ? FB_EVERY_NS : (int64_t)(v->ssrc % FB_EVERY_NS));
  }
  for (i = 0; i < v->ntr; i++)
    if (v->tr[i].npend && now >= v->tr[i].pend_next)
      nack_retry(v, &v->tr[i], now);
}

uint64_t mb_viewer_expected(const struct mb_viewer *v) {
  uint64_t n = 0;
  unsigned i;

  for (i = 0; i < v->ntr; i++)
    n += v->tr[i].unique || v->tr[i].dups ? (uint64_t)(v->tr[i].max - v->tr[i].first) + 1 : 0;
  return n;
}

uint64_t mb_viewer_unique(const struct mb_viewer *v) {
  uint64_t n = 0;
  unsigned i;

  for (i = 0; i < v->ntr; i++)
    n += v->tr[i].unique;
  return n;
}
