/* The publisher: its own thread sends the stream in real time, to onair
 * as a WebRTC peer (ICE, DTLS client, SRTP) or to Janus's mountpoint as
 * plain RTP. It notes when each VP8 PictureID went out (mb_pic_sent), which
 * gives the forwarding delay of every packet a viewer decrypts. */
#include "mb.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define CONNECT_NS 15000000000LL

int64_t mb_pic_sent[MB_PICS];

static void pub_drain(struct mb_pub *p, int64_t now) {
  uint8_t buf[MB_DGRAM];
  struct sockaddr_in from;
  socklen_t fl = sizeof(from);
  ssize_t n;

  while ((n = recvfrom(p->conn.fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl)) >
         0) {
    if (!p->janus)
      mb_conn_input(&p->conn, p->dtls, buf, (size_t)n, &from, now); /* RTCP is ignored */
    fl = sizeof(from);
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

static void pub_pace(struct mb_pub *p) {
  uint8_t buf[MB_DGRAM];
  int64_t t0 = mb_now() + 20000000;
  uint64_t k;

  for (k = 0; !__atomic_load_n(&p->stop, __ATOMIC_RELAXED); k++) {
    const struct mb_spkt *sp;
    uint16_t pic;
    size_t len = mb_stream_rtp(p->st, k, p->ssrc_v, p->ssrc_a, buf, &sp, &pic);
    int64_t due = t0 + (int64_t)(k / p->st->npkts) * p->st->loop_ns + sp->t_ns, now = mb_now();
    if (now < due)
      sleep_until(due);
    else if (now - due > p->late_max_ns)
      p->late_max_ns = now - due;
    if (sp->video && (buf[12] & 0x10))
      __atomic_store_n(&mb_pic_sent[pic], mb_wall(), __ATOMIC_RELAXED);
    pub_send(p, buf, len, sp->video);
    __atomic_add_fetch(&p->sent, 1, __ATOMIC_RELAXED);
    if ((k & 7) == 0) {
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
