/* The floor (issue 11, point 2): what forwarding one packet to one viewer
 * cannot cost less than on this core. For the stream's own packets, in
 * turn: the RTP header and an AES-128-GCM seal (OpenSSL EVP, key set once,
 * the per-packet IV of RFC 7714, the header as AAD, a 16-byte tag) into a
 * batch buffer, and one sendmmsg per 32 datagrams to sockets on the same
 * address the servers use, which a thread on the emulator's core reads and
 * discards (as viewers would). The figure is this thread's CPU time per
 * packet. The same with AES-128-CTR + HMAC-SHA1-80 (RFC 3711) is measured
 * too, for the other profile. */
/* HMAC-SHA1 as onair's srtpctx.c does it: SHA1_Init/Update/Final
 * (deprecated in OpenSSL 3) from the key's inner and outer pads, hashed
 * once; OpenSSL 3.0's HMAC_CTX and EVP_MAC allocate per call. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "emu.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32
#define SINKS 64

struct floor {
  const struct mb_stream *st;
  int gcm;
  int fd, sinks[SINKS];
  struct sockaddr_in to[SINKS];
  EVP_CIPHER_CTX *ctx;
  SHA_CTX mac_in, mac_out; /* cm: SHA1 after the HMAC key's inner and outer pad */
  unsigned poll_us;        /* the reader's wait between turns, as the emulator's */
  uint8_t salt[14];
  int stop; /* atomic: the reader stops */
  const char *reader_cpus;
};

static double thread_cpu(void) {
  struct timespec ts;

  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pin(const char *list) {
  cpu_set_t set;
  int cpu;

  if (!list || mb_cpu_count(list) == 0)
    return;
  CPU_ZERO(&set);
  for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
    if (mb_cpu_in(list, cpu))
      CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Reads and discards what reaches the sinks, on the emulator's core. */
static void *reader(void *arg) {
  struct floor *f = arg;
  static uint8_t bufs[BATCH][MB_DGRAM];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct epoll_event evs[SINKS];
  int ep = epoll_create1(0), i, n;

  pin(f->reader_cpus);
  for (i = 0; i < SINKS; i++) {
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = f->sinks[i]};
    epoll_ctl(ep, EPOLL_CTL_ADD, f->sinks[i], &ev);
  }
  for (i = 0; i < BATCH; i++) {
    iov[i] = (struct iovec){bufs[i], MB_DGRAM};
    msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
  }
  while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
    n = epoll_wait(ep, evs, SINKS, 50);
    for (i = 0; i < n; i++)
      while (recvmmsg(evs[i].data.fd, msgs, BATCH, MSG_DONTWAIT, NULL) == BATCH) {
      }
    if (f->poll_us)
      usleep(f->poll_us);
  }
  close(ep);
  return NULL;
}

/* RFC 7714 8.1: IV = (00 00 || SSRC || ROC || SEQ) xor salt; AAD = header. */
static int seal_gcm(struct floor *f, uint8_t *p, size_t len) {
  uint8_t iv[12] = {0};
  int n, i;

  memcpy(iv + 2, p + 8, 4);
  memcpy(iv + 10, p + 2, 2);
  for (i = 0; i < 12; i++)
    iv[i] ^= f->salt[i];
  if (EVP_EncryptInit_ex(f->ctx, NULL, NULL, NULL, iv) != 1 ||
      EVP_EncryptUpdate(f->ctx, NULL, &n, p, 12) != 1 ||
      EVP_EncryptUpdate(f->ctx, p + 12, &n, p + 12, (int)len - 12) != 1 ||
      EVP_EncryptFinal_ex(f->ctx, p + len, &n) != 1 ||
      EVP_CIPHER_CTX_ctrl(f->ctx, EVP_CTRL_GCM_GET_TAG, 16, p + len) != 1)
    return -1;
  return (int)len + 16;
}

/* RFC 2104 with a 20-byte key: SHA1 of the key XOR ipad, and of it XOR
 * opad, hashed once. */
static int hmac_key(struct floor *f, const uint8_t key[20]) {
  uint8_t pad[SHA_CBLOCK];
  int i, ok;

  memset(pad, 0x36, sizeof(pad));
  for (i = 0; i < 20; i++)
    pad[i] ^= key[i];
  ok = SHA1_Init(&f->mac_in) && SHA1_Update(&f->mac_in, pad, sizeof(pad));
  memset(pad, 0x5c, sizeof(pad));
  for (i = 0; i < 20; i++)
    pad[i] ^= key[i];
  return ok && SHA1_Init(&f->mac_out) && SHA1_Update(&f->mac_out, pad, sizeof(pad));
}

static int hmac_sha1(const struct floor *f, const uint8_t *p, size_t len, const uint8_t roc[4],
                     uint8_t mac[20]) {
  SHA_CTX c = f->mac_in;
  int ok = SHA1_Update(&c, p, len) && SHA1_Update(&c, roc, 4) && SHA1_Final(mac, &c);

  c = f->mac_out;
  return ok && SHA1_Update(&c, mac, 20) && SHA1_Final(mac, &c);
}

/* RFC 3711 4.1.1 and 4.2: AES-CTR with IV = salt xor SSRC xor index, then
 * HMAC-SHA1 over the packet and the ROC, 80 bits of it appended. */
static int seal_cm(struct floor *f, uint8_t *p, size_t len) {
  uint8_t iv[16] = {0}, roc[4] = {0}, tag[20];
  int n, i;

  memcpy(iv + 4, p + 8, 4);
  memcpy(iv + 12, p + 2, 2);
  for (i = 0; i < 14; i++)
    iv[i] ^= f->salt[i];
  if (EVP_EncryptInit_ex(f->ctx, NULL, NULL, NULL, iv) != 1 ||
      EVP_EncryptUpdate(f->ctx, p + 12, &n, p + 12, (int)len - 12) != 1 ||
      !hmac_sha1(f, p, len, roc, tag))
    return -1;
  memcpy(p + len, tag, 10);
  return (int)len + 10;
}

static int floor_keys(struct floor *f) {
  uint8_t key[16], mkey[20];

  mb_rand(key, sizeof(key));
  mb_rand(mkey, sizeof(mkey));
  mb_rand(f->salt, sizeof(f->salt));
  if (!(f->ctx = EVP_CIPHER_CTX_new()) ||
      EVP_EncryptInit_ex(f->ctx, f->gcm ? EVP_aes_128_gcm() : EVP_aes_128_ctr(), NULL, key, NULL) !=
          1)
    return -1;
  if (f->gcm)
    return EVP_CIPHER_CTX_ctrl(f->ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 ? 0 : -1;
  return hmac_key(f, mkey) ? 0 : -1;
}

/* Seals and sends packets for seconds of this thread's CPU time; returns
 * the CPU microseconds per packet. */
static double floor_measure(struct floor *f, double seconds, double *pps) {
  static uint8_t bufs[BATCH][MB_DGRAM];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  double c0 = thread_cpu(), c = c0;
  int64_t w0 = mb_now();
  uint64_t k = 0, sent = 0;
  int i;

  while (c - c0 < seconds) {
    for (i = 0; i < BATCH; i++, k++) {
      const struct mb_spkt *sp = &f->st->pkts[k % f->st->npkts];
      uint16_t pic;
      size_t len =
          mb_stream_build(f->st, sp, k / f->st->npkts, (uint16_t)k, 0x11223344, bufs[i], &pic);
      int n = f->gcm ? seal_gcm(f, bufs[i], len) : seal_cm(f, bufs[i], len);
      if (n < 0)
        return -1;
      iov[i] = (struct iovec){bufs[i], (size_t)n};
      msgs[i].msg_hdr = (struct msghdr){.msg_name = &f->to[k % SINKS],
                                        .msg_namelen = sizeof(f->to[0]),
                                        .msg_iov = &iov[i],
                                        .msg_iovlen = 1};
    }
    for (i = 0; i < BATCH;) {
      int n = sendmmsg(f->fd, msgs + i, (unsigned)(BATCH - i), 0);
      if (n <= 0)
        return -1;
      i += n;
    }
    sent += BATCH;
    if ((sent & 1023) == 0)
      c = thread_cpu();
  }
  c = thread_cpu();
  *pps = sent / ((mb_now() - w0) / 1e9);
  return (c - c0) * 1e6 / (double)sent;
}

static int floor_sockets(struct floor *f, const char *host) {
  socklen_t al = sizeof(f->to[0]);
  int i;

  if ((f->fd = mb_udp_socket(host, 0)) < 0)
    return -1;
  fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) & ~O_NONBLOCK); /* sendmmsg sends all */
  for (i = 0; i < SINKS; i++) {
    if ((f->sinks[i] = mb_viewer_socket(host, 0)) < 0 ||
        getsockname(f->sinks[i], (struct sockaddr *)&f->to[i], &al) < 0)
      return -1;
  }
  return 0;
}

static void floor_row(const char *out, double gcm_us, double gcm_pps, double cm_us, double cm_pps,
                      const struct mb_stream *st) {
  double bytes = 0;
  size_t i;
  json_t *row;

  for (i = 0; i < st->npkts; i++)
    bytes += 12 + st->pkts[i].len;
  row = json_pack("{s:s,s:f,s:f,s:f,s:f,s:i,s:i,s:f}", "kind", "floor", "gcm_us", gcm_us, "gcm_pps",
                  gcm_pps, "cm_us", cm_us, "cm_pps", cm_pps, "batch", BATCH, "sinks", SINKS,
                  "rtp_bytes", bytes / (double)st->npkts);
  char *text = row ? json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  FILE *f = out ? fopen(out, "a") : NULL;

  if (text) {
    printf("%s\n", text);
    if (f)
      fprintf(f, "%s\n", text);
  }
  if (f)
    fclose(f);
  free(text);
  json_decref(row);
}

static int floor_run(struct floor *f, double seconds, double *us, double *pps) {
  double warm;

  if (floor_keys(f) < 0)
    return -1;
  floor_measure(f, 0.2, &warm); /* caches, the reader's first wake-ups */
  *us = floor_measure(f, seconds, pps);
  EVP_CIPHER_CTX_free(f->ctx);
  f->ctx = NULL;
  return *us > 0 ? 0 : -1;
}

struct floor_opts {
  double seconds;
  const char *out, *host, *reader_cpus, *file, *viewer_net;
  unsigned w, h, kbps, poll_us;
};

static int floor_options(struct floor_opts *o, int argc, char **argv) {
  int i;

  *o = (struct floor_opts){2, NULL, "127.0.0.1", "1", NULL, NULL, 1280, 720, 1500, 2000};
  for (i = 2; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--seconds"))
      o->seconds = strtod(v, NULL);
    else if (!strcmp(k, "--out"))
      o->out = v;
    else if (!strcmp(k, "--media-host"))
      o->host = v;
    else if (!strcmp(k, "--reader-cpus"))
      o->reader_cpus = v;
    else if (!strcmp(k, "--viewer-net"))
      o->viewer_net = v;
    else if (!strcmp(k, "--video"))
      sscanf(v, "%ux%u", &o->w, &o->h);
    else if (!strcmp(k, "--kbps"))
      sscanf(v, "%u", &o->kbps);
    else if (!strcmp(k, "--stream"))
      o->file = v;
    else if (!strcmp(k, "--poll-us"))
      o->poll_us = (unsigned)strtoul(v, NULL, 10);
    else
      return fprintf(stderr, "floor: unknown option %s\n", k), -1;
  }
  return i == argc && o->seconds > 0 ? 0 : -1;
}

int mb_floor_main(int argc, char **argv) {
  struct floor_opts o;
  struct mb_stream st;
  struct floor f;
  double gus = -1, gpps = 0, cus = -1, cpps = 0;
  pthread_t th;
  int rc = 1;

  if (floor_options(&o, argc, argv) < 0)
    return 2;
  if ((o.file ? mb_stream_load(&st, o.file) : mb_stream_make(&st, o.w, o.h, o.kbps, 10)) < 0)
    return 1;
  memset(&f, 0, sizeof(f));
  f.st = &st;
  f.reader_cpus = o.reader_cpus;
  f.poll_us = o.poll_us;
  if (o.viewer_net && mb_viewer_net(o.viewer_net) < 0)
    goto out;
  if (floor_sockets(&f, o.host) < 0 || pthread_create(&th, NULL, reader, &f) != 0)
    goto out;
  f.gcm = 1;
  if (floor_run(&f, o.seconds, &gus, &gpps) == 0 &&
      (f.gcm = 0, floor_run(&f, o.seconds, &cus, &cpps)) == 0)
    rc = 0;
  __atomic_store_n(&f.stop, 1, __ATOMIC_RELAXED);
  pthread_join(th, NULL);
  mb_log("floor: AES-128-GCM seal + sendmmsg %.3f us/packet (%.0f packets/s); AES-CM + "
         "HMAC-SHA1-80 %.3f us/packet",
         gus, gpps, cus);
  floor_row(o.out, gus, gpps, cus, cpps, &st);
out:
  mb_stream_free(&st);
  return rc;
}
