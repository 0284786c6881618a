/* One run, as phases a 10 ms timer walks through: sign-up (onair), the
 * broadcaster, a pause, the viewers joining (CONCURRENCY at a time), the
 * viewer counts settling (onair), a rest, then the burst and its
 * deliveries, or the idle hold. Every wait is bounded by the timeout. */
#include "cb.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_MS 10
#define PAUSE_MS 300 /* after the broadcaster is ready, before memory is read */
#define REST_MS 500  /* after the joins, before memory is read */

static void phase_set(struct cb_bench *b, int ph) {
  b->phase = ph;
  b->phase_t0 = uv_hrtime();
}

static double phase_ms(const struct cb_bench *b) { return (uv_hrtime() - b->phase_t0) / 1e6; }

static void run_fail(struct cb_bench *b, const char *why) {
  if (!b->failed)
    cb_log("run failed: %s", why);
  b->failed = 1;
  uv_stop(b->loop);
}

void cb_conn_lost(struct cb_conn *c, const char *why) {
  struct cb_bench *b = c->b;
  char msg[160];

  if (c->role != ROLE_VIEWER) {
    snprintf(msg, sizeof(msg), "%s: %s",
             c->role == ROLE_HTTP ? "a setup request" : "the broadcaster", why);
    if (b->phase != PH_DONE)
      run_fail(b, msg);
    return;
  }
  if (c->joined) {
    b->lost++;
  } else {
    b->failed_conns++;
    b->progress = uv_hrtime();
  }
  if (b->lost + b->failed_conns <= 5)
    cb_log("viewer %u: %s", c->idx, why);
}

/* ---- sign-up (onair) ---------------------------------------------------- */

static int signup(struct cb_bench *b, const char *route, const char *name);

static void on_signup(struct cb_conn *c, int status, const char *cookie) {
  struct cb_bench *b = c->b;
  int viewer = c->idx == 1;
  const char *name = viewer ? "benchviewer" : "benchcaster";
  char *dst = viewer ? b->v_cookie : b->bc_cookie;

  if (status == 409 && signup(b, "/api/signin", name) == 0)
    return;
  if ((status != 200 && status != 201) || !cookie[0]) {
    char why[96];
    snprintf(why, sizeof(why), "sign-up of %s: HTTP %d%s", name, status,
             cookie[0] ? "" : ", no session cookie");
    run_fail(b, why);
    return;
  }
  snprintf(dst, CB_COOKIE_MAX, "%s", cookie);
  b->signups++;
}

static int signup(struct cb_bench *b, const char *route, const char *name) {
  struct cb_conn *c = malloc(sizeof(*c));
  char body[128], *req = malloc(1024);
  int bl, n;

  if (!c || !req) {
    free(c);
    free(req);
    return -1;
  }
  cb_conn_init(c, b, ROLE_HTTP, strcmp(name, "benchviewer") == 0);
  bl = snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"bench-password-%s\"}",
                name, name);
  n = snprintf(
      req, 1024,
      "POST %s HTTP/1.1\r\nHost: %s:%d\r\nOrigin: http://%s:%d\r\n"
      "Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
      route, b->o.host, b->o.port, b->o.host, b->o.port, bl, body);
  if (cb_http_request(c, req, (size_t)n, on_signup) < 0) {
    cb_conn_close(c, NULL);
    return -1;
  }
  return 0;
}

/* ---- viewers ------------------------------------------------------------ */

static int need_broadcaster(const struct cb_bench *b) { return b->o.mode == CB_BURST || b->o.join; }

/* Viewer i's source address: 127.0.0.2, .3, ... per_addr viewers each,
 * when there are more viewers than one address takes (loopback only). */
static const struct sockaddr_in *viewer_src(const struct cb_bench *b, uint32_t i,
                                            struct sockaddr_in *sa) {
  uint32_t k = i / b->o.per_addr;

  if (b->o.viewers <= b->o.per_addr || strncmp(b->o.host, "127.", 4) != 0 || k > 250)
    return NULL;
  memset(sa, 0, sizeof(*sa));
  sa->sin_family = AF_INET;
  sa->sin_addr.s_addr = htonl(0x7f000002u + k);
  return sa;
}

static void viewers_pump(struct cb_bench *b) {
  struct sockaddr_in sa;
  char why[96];
  int rc;

  while (b->started < b->o.viewers &&
         b->started - (b->joined + b->failed_conns) < b->o.concurrency) {
    struct cb_conn *c = &b->viewers[b->started];
    cb_conn_init(c, b, ROLE_VIEWER, b->started);
    b->started++;
    if ((rc = cb_conn_start(c, viewer_src(b, c->idx, &sa))) < 0) {
      snprintf(why, sizeof(why), "connect: %s", uv_strerror(rc));
      cb_conn_close(c, why);
    }
  }
}

void cb_viewer_opened(struct cb_conn *c) {
  struct cb_bench *b = c->b;

  c->counted = 1;
  b->opened++;
  if (b->o.mode == CB_IDLE && !b->o.join)
    cb_viewer_joined(b, c);
}

void cb_viewer_joined(struct cb_bench *b, struct cb_conn *c) {
  if (c)
    c->joined = 1;
  b->joined++;
  b->progress = uv_hrtime();
  if (b->phase == PH_JOIN)
    viewers_pump(b);
}

/* ---- phases ------------------------------------------------------------- */

static void start_broadcaster(struct cb_bench *b) {
  int rc;

  if (!(b->bc = malloc(sizeof(*b->bc))))
    return run_fail(b, "out of memory");
  cb_conn_init(b->bc, b, ROLE_BROADCASTER, 0);
  if ((rc = cb_conn_start(b->bc, NULL)) < 0)
    run_fail(b, uv_strerror(rc));
}

static void begin_joins(struct cb_bench *b) {
  b->rss0 = bench_proc_rss_kib(b->o.pid);
  b->cpu_join0 = bench_proc_cpu_s(b->o.pid);
  b->t_join0 = b->progress = uv_hrtime();
  phase_set(b, PH_JOIN);
  viewers_pump(b);
}

static void joins_done(struct cb_bench *b) {
  b->t_joined = uv_hrtime();
  b->cpu_join1 = bench_proc_cpu_s(b->o.pid);
  if (b->failed_conns)
    cb_log("%u of %u viewers failed to join", b->failed_conns, b->o.viewers);
  if (!b->joined)
    return run_fail(b, "no viewer joined");
  phase_set(b, b->o.server == CB_ONAIR && need_broadcaster(b) ? PH_SETTLE : PH_REST);
}

static void begin_burst(struct cb_bench *b) {
  b->rss1 = bench_proc_rss_kib(b->o.pid);
  b->want = (uint64_t)b->joined * b->o.messages;
  if (b->o.mode == CB_IDLE) {
    b->ucpu0 = cb_self_cpu();
    b->busy0 = cb_machine_busy();
    b->hold_cpu0 = bench_proc_cpu_s(b->o.pid);
    b->t_hold0 = uv_hrtime();
    phase_set(b, PH_HOLD);
    return;
  }
  if (!(b->lat_us = malloc((b->want ? b->want : 1) * sizeof(*b->lat_us))))
    return run_fail(b, "out of memory");
  b->ucpu0 = cb_self_cpu();
  b->busy0 = cb_machine_busy();
  b->cpu0 = bench_proc_cpu_s(b->o.pid);
  b->t_send0 = b->t_last = uv_hrtime();
  phase_set(b, PH_BURST);
  if (cb_send_burst(b) < 0)
    run_fail(b, "the burst could not be sent");
}

static void finish(struct cb_bench *b) {
  if (b->phase == PH_BURST) {
    b->cpu1 = bench_proc_cpu_s(b->o.pid);
  } else {
    b->hold_cpu1 = bench_proc_cpu_s(b->o.pid);
    b->t_hold1 = uv_hrtime();
  }
  b->ucpu1 = cb_self_cpu();
  b->busy1 = cb_machine_busy();
  phase_set(b, PH_DONE);
  cb_print_result(b);
  uv_stop(b->loop);
}

/* Once a second: the protocol's own timers (the seed's pings). */
static void sweep(struct cb_bench *b) {
  int64_t now = (int64_t)uv_now(b->loop);
  uint32_t i;

  if (now - (int64_t)b->last_sweep < 1000)
    return;
  b->last_sweep = (uint64_t)now;
  if (b->bc && b->bc->state == CS_WS)
    b->proto->on_tick(b->bc, now);
  for (i = 0; i < b->started; i++)
    if (b->viewers[i].state == CS_WS)
      b->proto->on_tick(&b->viewers[i], now);
}

static int timed_out(const struct cb_bench *b, uint64_t since) {
  return (uv_hrtime() - since) / 1e9 > b->o.timeout_s;
}

static void step_join(struct cb_bench *b) {
  char why[128];

  viewers_pump(b);
  if (b->joined + b->failed_conns >= b->o.viewers)
    return joins_done(b);
  if (!timed_out(b, b->progress))
    return;
  snprintf(why, sizeof(why), "%u of %u viewers joined, none more in %.0f s", b->joined,
           b->o.viewers, b->o.timeout_s);
  run_fail(b, why);
}

static void step_wait(struct cb_bench *b) {
  uint64_t left = b->joined - b->lost;

  switch (b->phase) {
  case PH_SETTLE:
    if (b->settled >= left || timed_out(b, b->phase_t0)) {
      if (b->settled < left)
        cb_log("only %u of %llu viewers saw the count reach N", b->settled,
               (unsigned long long)left);
      phase_set(b, PH_REST);
    }
    break;
  case PH_REST:
    if (phase_ms(b) >= REST_MS)
      begin_burst(b);
    break;
  case PH_BURST:
    if (b->got + b->refused * left >= b->want || timed_out(b, b->phase_t0))
      finish(b);
    break;
  case PH_HOLD:
    if (phase_ms(b) >= b->o.hold_s * 1000)
      finish(b);
    break;
  }
}

static void on_tick(uv_timer_t *t) {
  struct cb_bench *b = CB_CONTAINER_OF(t, struct cb_bench, tick);

  sweep(b);
  switch (b->phase) {
  case PH_SIGNUP:
    if (b->signups == 2) {
      phase_set(b, PH_BROADCASTER);
      if (need_broadcaster(b))
        start_broadcaster(b);
    } else if (timed_out(b, b->phase_t0)) {
      run_fail(b, "sign-up: no answer");
    }
    break;
  case PH_BROADCASTER:
    if (!need_broadcaster(b) || b->bc_ready)
      phase_set(b, PH_PAUSE);
    else if (timed_out(b, b->phase_t0))
      run_fail(b, "the broadcaster did not get going");
    break;
  case PH_PAUSE:
    if (phase_ms(b) >= PAUSE_MS)
      begin_joins(b);
    break;
  case PH_JOIN: step_join(b); break;
  default: step_wait(b);
  }
}

int cb_run(struct cb_bench *b) {
  b->proto = b->o.server == CB_ONAIR ? &cb_onair : &cb_seed;
  if (!(b->viewers = calloc(b->o.viewers ? b->o.viewers : 1, sizeof(*b->viewers))))
    return -1;
  uv_timer_init(b->loop, &b->tick);
  phase_set(b, PH_SIGNUP);
  if (b->o.server == CB_ONAIR) {
    if (signup(b, "/api/signup", "benchcaster") < 0 || signup(b, "/api/signup", "benchviewer") < 0)
      return -1;
  } else {
    b->signups = 2;
  }
  uv_timer_start(&b->tick, on_tick, TICK_MS, TICK_MS);
  uv_run(b->loop, UV_RUN_DEFAULT);
  return b->failed ? -1 : 0;
}
