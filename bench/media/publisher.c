/* The publisher: its own thread sends the stream in real time, to onair
 * as a WebRTC peer (ICE, DTLS client, SRTP) or to Janus's mountpoint as
 * plain RTP. It notes when each VP8 PictureID went out (mb_pic_sent), which
 * gives the forwarding delay of every packet a viewer decrypts. */
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

/* onair's RTCP: a PLI or FIR for our video asks for a keyframe. */
static void pub_rtcp(struct mb_pub *p, uint8_t *buf, size_t len) {
  struct rtcp_iter it;
  struct rtcp_pkt pkt;
  struct rtcp_fir fir;
  uint32_t sender, media;
  int n = (int)len;

  if (srtp_unprotect_rtcp(p->conn.rx, buf, &n) != srtp_err_status_ok)
    return;
  rtcp_iter_init(&it, buf, (size_t)n);
  while (rtcp_next(&it, &pkt) == 1) {
    if ((rtcp_parse_pli(&pkt, &sender, &media) == 0 && media == p->ssrc_v) ||
        (rtcp_parse_fir(&pkt, &fir) == 0 && fir.entries[0].ssrc == p->ssrc_v)) {
      p->key_wanted = 1;
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

static void send_one(struct mb_pub *p, const struct mb_spkt *sp, uint64_t loop) {
  uint8_t buf[MB_DGRAM];
  uint16_t pic, seq = sp->video ? p->seq_v++ : p->seq_a++;
  size_t len = mb_stream_build(p->st, sp, loop, seq, sp->video ? p->ssrc_v : p->ssrc_a, buf, &pic);

  if (sp->video && sp->first)
    __atomic_store_n(&mb_pic_sent[pic], mb_wall(), __ATOMIC_RELAXED);
  pub_send(p, buf, len, sp->video);
  __atomic_add_fetch(&p->sent, 1, __ATOMIC_RELAXED);
}

/* A keyframe was asked for: frame f goes out as its keyframe instead.
 * Returns how many of the stream's packets that replaced. */
static uint64_t send_keyframe(struct mb_pub *p, uint64_t k) {
  const struct mb_stream *st = p->st;
  uint64_t loop = k / st->npkts, skip = 0;
  unsigned f = st->pkts[k % st->npkts].frame;
  uint32_t i;

  for (i = st->alt_first[f]; i < st->alt_first[f + 1]; i++)
    send_one(p, &st->alt[i], loop);
  while ((k + skip) / st->npkts == loop && st->pkts[(k + skip) % st->npkts].video &&
         st->pkts[(k + skip) % st->npkts].frame == f)
    skip++;
  __atomic_add_fetch(&p->keys_sent, 1, __ATOMIC_RELAXED);
  return skip;
}

static void pub_pace(struct mb_pub *p) {
  const struct mb_stream *st = p->st;
  int64_t t0 = mb_now() + 20000000;
  uint64_t k = 0, turns = 0;

  while (!__atomic_load_n(&p->stop, __ATOMIC_RELAXED)) {
    const struct mb_spkt *sp = &st->pkts[k % st->npkts];
    int64_t due = t0 + (int64_t)(k / st->npkts) * st->loop_ns + sp->t_ns, now = mb_now();
    if (now < due)
      sleep_until(due);
    else if (now - due > p->late_max_ns)
      p->late_max_ns = now - due;
    if (sp->video && sp->first && p->key_wanted &&
        st->alt_first[sp->frame + 1] > st->alt_first[sp->frame]) {
      p->key_wanted = 0;
      k += send_keyframe(p, k);
    } else {
      send_one(p, sp, k / st->npkts);
      k++;
    }
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
