/* Clocks, logging, randomness and the one epoll loop. */
#include "mb.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

static int epfd = -1;

int64_t mb_now(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t mb_wall(void) {
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void mb_log(const char *fmt, ...) {
  va_list ap;

  fputs("media-bench: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

void mb_rand(void *out, size_t n) {
  if (RAND_bytes(out, (int)n) != 1)
    memset(out, 0x5a, n); /* never: OpenSSL's generator does not fail here */
}

void mb_rand_ice(char *out, size_t n) {
  static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  uint8_t r[64];
  size_t i;

  if (n > sizeof(r))
    n = sizeof(r);
  mb_rand(r, n);
  for (i = 0; i < n; i++)
    out[i] = set[r[i] & 63];
  out[n] = '\0';
}

int mb_loop_init(void) {
  epfd = epoll_create1(EPOLL_CLOEXEC);
  return epfd < 0 ? -errno : 0;
}

int mb_io_add(struct mb_io *io, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = io};

  io->events = events;
  return epoll_ctl(epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0 ? -errno : 0;
}

int mb_io_mod(struct mb_io *io, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = io};

  if (io->events == events)
    return 0;
  io->events = events;
  return epoll_ctl(epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0 ? -errno : 0;
}

void mb_io_del(struct mb_io *io) {
  if (io->fd >= 0)
    epoll_ctl(epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

int mb_loop_turn(int timeout_ms) {
  struct epoll_event evs[256];
  int i, n;

  n = epoll_wait(epfd, evs, 256, timeout_ms);
  for (i = 0; i < n; i++) {
    struct mb_io *io = evs[i].data.ptr;
    io->ready(io, evs[i].events);
  }
  return n;
}
