/* The publisher: its own thread sends the stream in real time, to onair
 * as a WebRTC peer (ICE, DTLS client, SRTP) or to Janus's mountpoint as
 * plain RTP. It notes when each VP8 PictureID went out (mb_pic_sent), which
 * gives the forwarding delay of every packet a viewer decrypts.
 *
 * With simulcast (--pub-simulcast) it sends, as Chromium does for three
 * sendEncodings, three video streams (the layers l, m, h, each its own SSRC,
 * sequence numbers and keyframes, packets with MID, RID and transport-wide
 * sequence number extensions) merged in time order; the top one is the
 * single stream's, so a viewer of it gets what one of a single-stream
 * publisher gets. */
#include "mb.h"

#include "media/rtcp.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define CONNECT_NS 15000000000LL

int64_t mb_pic_sent[MB_PICS];

/* The layer whose SSRC this is, or NULL. */
static struct mb_layer *layer_of(struct mb_pub *p, uint32_t ssrc) {
  unsigned i;

  for (i = 0; i < p->nlayers; i++)
    if (p->lay[i].ssrc == ssrc)
      return &p->lay[i];
  return NULL;
}

/* onair's RTCP: a PLI or FIR for one of our video SSRCs asks that layer
 * for a keyframe; transport-wide feedback (simulcast) is counted, and
 * taken no further, as nothing here adapts its rate. */
static void pub_rtcp(struct mb_pub *p, uint8_t *buf, size_t len) {
  struct rtcp_iter it;
  struct rtcp_pkt pkt;
  struct rtcp_fir fir;
  struct mb_layer *l;
  uint32_t sender, media;
  int n = (int)len;

  if (srtp_unprotect_rtcp(p->conn.rx, buf, &n) != srtp_err_status_ok)
    return;
  rtcp_iter_init(&it, buf, (size_t)n);
  while (rtcp_next(&it, &pkt) == 1) {
    l = NULL;
    if (rtcp_parse_pli(&pkt, &sender, &media) == 0)
      l = layer_of(p, media);
    else if (rtcp_parse_fir(&pkt, &fir) == 0)
      l = layer_of(p, fir.entries[0].ssrc);
    else if (pkt.type == RTCP_RTPFB && pkt.count == 15)
      __atomic_add_fetch(&p->fb_in, 1, __ATOMIC_RELAXED);
    if (l) {
      l->key_wanted = 1;
      __atomic_add_fetch(&p->key_requests, 1, __ATOMIC_RELAXED);
    }
  }
}

static void pub_drain(struct mb_pub *p, int64_t now) {
  uint8_t buf[MB_DGRAM];
  struct sockaddr_in from;
  socklen_t fl = sizeof(from);
  ssize_t n;

  while ((n = recvfrom(p->conn.fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl)) >
         0) {
    fl = sizeof(from);
    if (p->janus)
      continue;
    if (n >= 2 && buf[0] >= 128 && buf[0] < 192 && buf[1] >= 192 && buf[1] <= 223) {
      if (p->conn.state == CONN_UP)
        pub_rtcp(p, buf, (size_t)n);
    } else {
      mb_conn_input(&p->conn, p->dtls, buf, (size_t)n, &from, now);
    }
  }
}

/* ICE and DTLS to onair, blocking in this thread. */
static int pub_connect(struct mb_pub *p) {
  int64_t start = mb_now();

  mb_conn_start(&p->conn, p->dtls, NULL, start);
  while (p->conn.state != CONN_UP && p->conn.state != CONN_FAILED) {
    struct pollfd pfd = {.fd = p->conn.fd, .events = POLLIN};
    int64_t now;
    poll(&pfd, 1, 10);
    now = mb_now();
    pub_drain(p, now);
    mb_conn_tick(&p->conn, p->dtls, now);
    if (now - start > CONNECT_NS || __atomic_load_n(&p->stop, __ATOMIC_RELAXED))
      break;
  }
  if (p->conn.state != CONN_UP) {
    mb_log("publisher: %s", p->conn.why ? p->conn.why : "did not connect in 15 s");
    return -1;
  }
  return 0;
}

static void sleep_until(int64_t t) {
  struct timespec ts = {(time_t)(t / 1000000000), (long)(t % 1000000000)};

  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

static void pub_send(struct mb_pub *p, uint8_t *buf, size_t len, int video) {
  const struct sockaddr_in *to = video ? &p->janus_video : &p->janus_audio;
  int n = (int)len;

  if (!p->janus) {
    if (srtp_protect(p->conn.tx, buf, &n) != srtp_err_status_ok)
      return;
    to = &p->conn.remote;
  }
  sendto(p->conn.fd, buf, (size_t)n, 0, (const struct sockaddr *)to, sizeof(*to));
}

/* A simulcast publisher's header extensions (RFC 8285, one-byte form), on
 * every packet: MID ("0" audio, "1" video), the layer's RID, and the
 * transport-wide sequence number. Chromium stops sending MID and RID once
 * onair's RTCP has named the SSRCs; sending them always is simpler and
 * costs onair what it costs to skip them. The block goes in after the
 * 12-byte header of the len bytes in buf; returns the new length. */
static size_t put_exts(struct mb_pub *p, uint8_t *buf, size_t len, char rid) {
  uint8_t ext[16] = {0xbe, 0xde, 0, 0};
  size_t e = 4;

  ext[e++] = MB_MID_ID << 4;
  ext[e++] = rid ? '1' : '0';
  if (rid) {
    ext[e++] = MB_RID_ID << 4;
    ext[e++] = (uint8_t)rid;
  }
  ext[e++] = MB_TWCC_ID << 4 | 1;
  ext[e++] = (uint8_t)(p->tw_seq >> 8);
  ext[e++] = (uint8_t)p->tw_seq;
  p->tw_seq++;
  e = (e + 3) / 4 * 4; /* zero padding to whole words */
  ext[3] = (uint8_t)((e - 4) / 4);
  memmove(buf + 12 + e, buf + 12, len - 12);
  memcpy(buf + 12, ext, e);
  buf[0] |= 0x10;
  return len + e;
}

/* Packet sp of layer l (audio: l is the top layer), loop number loop. */
static void send_one(struct mb_pub *p, struct mb_layer *l, const struct mb_spkt *sp,
                     uint64_t loop) {
  uint8_t buf[MB_DGRAM];
  int top = l == &p->lay[p->nlayers - 1];
  uint16_t pic, seq = sp->video ? l->seq++ : p->seq_a++;
  size_t len = mb_stream_build(l->st, sp, loop, seq, sp->video ? l->ssrc : p->ssrc_a, buf, &pic);

  if (sp->video && sp->first && top)
    __atomic_store_n(&mb_pic_sent[pic], mb_wall(), __ATOMIC_RELAXED);
  if (p->nlayers > 1)
    len = put_exts(p, buf, len, sp->video ? l->rid : 0);
  pub_send(p, buf, len, sp->video);
  if (sp->video)
    __atomic_add_fetch(&l->sent, 1, __ATOMIC_RELAXED);
  if (top)
    __atomic_add_fetch(&p->sent, 1, __ATOMIC_RELAXED);
}

/* Whether frame f of st has a picture to send as a keyframe. */
static int has_alt(const struct mb_stream *st, unsigned f) {
  return st->alt_first[f + 1] > st->alt_first[f];
}

/* A keyframe was asked for: l's frame at l->k goes out as its keyframe
 * instead. Moves l->k past the frame's own packets. */
static void send_keyframe(struct mb_pub *p, struct mb_layer *l) {
  const struct mb_stream *st = l->st;
  uint64_t loop = l->k / st->npkts;
  unsigned f = st->pkts[l->k % st->npkts].frame;
  uint32_t i;

  for (i = st->alt_first[f]; i < st->alt_first[f + 1]; i++)
    send_one(p, l, &st->alt[i], loop);
  while (l->k / st->npkts == loop && st->pkts[l->k % st->npkts].video &&
         st->pkts[l->k % st->npkts].frame == f)
    l->k++;
  __atomic_add_fetch(&p->keys_sent, 1, __ATOMIC_RELAXED);
}

/* When l's next packet is due. */
static int64_t due_of(const struct mb_layer *l, int64_t t0) {
  const struct mb_stream *st = l->st;

  return t0 + (int64_t)(l->k / st->npkts) * st->loop_ns + st->pkts[l->k % st->npkts].t_ns;
}

/* Layer l's next packet, now due: sent, or, while l is off (media.layers),
 * passed over. A layer turned on again starts at its next frame that is
 * or can be sent as a keyframe, as a browser's encoder starts a resumed
 * layer with a keyframe. Audio goes with the top layer only. */
static void layer_step(struct mb_pub *p, struct mb_layer *l, unsigned i) {
  const struct mb_spkt *sp = &l->st->pkts[l->k % l->st->npkts];
  int top = i == p->nlayers - 1;
  int on = !p->honour_pause || (__atomic_load_n(&p->active, __ATOMIC_RELAXED) >> i & 1);

  if (!sp->video ? !top : !on) {
    if (sp->video)
      l->resuming = 1;
    l->k++;
    return;
  }
  if (sp->video && l->resuming) {
    if (!sp->first || (!sp->key && !has_alt(l->st, sp->frame))) {
      l->k++;
      return;
    }
    l->resuming = 0;
    l->key_wanted = !sp->key;
  }
  if (sp->video && sp->first && l->key_wanted && has_alt(l->st, sp->frame)) {
    l->key_wanted = 0;
    send_keyframe(p, l);
  } else {
    send_one(p, l, sp, l->k / l->st->npkts);
    l->k++;
  }
}

static void pub_pace(struct mb_pub *p) {
  int64_t t0 = mb_now() + 20000000;
  uint64_t turns = 0;

  while (!__atomic_load_n(&p->stop, __ATOMIC_RELAXED)) {
    unsigned i, next = p->nlayers - 1;
    int64_t due, now;
    for (i = 0; i + 1 < p->nlayers; i++) /* the lower layers' streams' audio is not sent */
      while (!p->lay[i].st->pkts[p->lay[i].k % p->lay[i].st->npkts].video)
        p->lay[i].k++;
    due = due_of(&p->lay[next], t0);
    for (i = 0; i + 1 < p->nlayers; i++)
      if (due_of(&p->lay[i], t0) < due) {
        next = i;
        due = due_of(&p->lay[i], t0);
      }
    now = mb_now();
    if (now < due)
      sleep_until(due);
    else if (now - due > p->late_max_ns)
      p->late_max_ns = now - due;
    layer_step(p, &p->lay[next], next);
    if ((++turns & 7) == 0) {
      now = mb_now();
      pub_drain(p, now);
      if (!p->janus)
        mb_conn_tick(&p->conn, p->dtls, now);
    }
  }
}

static void *pub_main(void *arg) {
  struct mb_pub *p = arg;

  if (!p->janus && pub_connect(p) < 0) {
    __atomic_store_n(&p->state, -1, __ATOMIC_RELEASE);
    return NULL;
  }
  __atomic_store_n(&p->state, 1, __ATOMIC_RELEASE);
  pub_pace(p);
  return NULL;
}

int mb_pub_start(struct mb_pub *p) {
  pthread_t th;

  if (pthread_create(&th, NULL, pub_main, p) != 0)
    return -1;
  p->th = (unsigned long)th;
  return 0;
}

void mb_pub_stop(struct mb_pub *p) {
  __atomic_store_n(&p->stop, 1, __ATOMIC_RELAXED);
  if (p->th)
    pthread_join((pthread_t)p->th, NULL);
  p->th = 0;
}

void mb_pub_set_active(struct mb_pub *p, unsigned mask) {
  __atomic_store_n(&p->active, mask, __ATOMIC_RELAXED);
}
