/* One server, one SRTP profile, rising N: for each N the viewers that are
 * missing join (join_conc at a time), the stream settles, and a window of
 * window_s seconds is measured. A row per N goes to cfg->out as a JSON
 * line. The run stops raising N once loss passes loss_limit or the
 * emulator saturates, and says which. */
#include "emu.h"

#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TICK_NS 20000000LL
#define NS 1000000000LL
#define EMU_BUSY 0.95 /* of a core: the emulator is the limit */

struct mb_emu mb_emu;
static volatile sig_atomic_t interrupted;

struct snap {
  struct mb_proc proc;
  uint64_t rtp, expected, unique, dups, filled, dec_ok, dec_fail, nacked, ovfl;
  uint64_t pub_sent; /* packets the publisher sent */
  uint64_t twcc_pkts, twcc_bare, twcc_fbs;
  uint64_t lay_sent[MB_LAYERS]; /* video packets the publisher sent per layer */
  uint64_t pub_fb;              /* transport-wide feedback onair sent the publisher */
  uint64_t pad;                 /* probe packets (padding on RTX) the viewers got */
  unsigned live, failed, twcc_viewers;
};

/* Counters from onair's /metrics (docs/operations.md), read at a window's
 * ends; NAN where this build has none. */
enum { M_FEEDBACK, M_SWITCHES, M_PROBES, M_KEYREQ, M_RTP_IN, M_COUNT };
static const char *const metric_names[M_COUNT] = {
    "onair_viewer_feedback_total", "onair_layer_switches_total", "onair_probe_packets_total",
    "onair_keyframe_requests_total", "onair_rtp_packets_received_total"};

static void metrics_read(double m[M_COUNT]) {
  const struct mb_cfg *cfg = mb_emu.cfg;
  char *body = NULL, key[64];
  unsigned i;

  for (i = 0; i < M_COUNT; i++)
    m[i] = NAN;
  if (strcmp(cfg->server, "onair") != 0 ||
      mb_http_blocking(cfg->http_host, cfg->http_port, "GET", "/metrics", "", NULL, &body, NULL,
                       NULL, 0) != 200 ||
      !body) {
    free(body);
    return;
  }
  for (i = 0; i < M_COUNT; i++) {
    const char *at;
    snprintf(key, sizeof(key), "\n%s ", metric_names[i]);
    if ((at = strstr(body, key)))
      m[i] = strtod(at + strlen(key), NULL);
  }
  free(body);
}

static void on_signal(int sig) { interrupted = 1; }

static void snap_take(struct snap *s) {
  struct mb_emu *e = &mb_emu;
  unsigned i;

  memset(s, 0, sizeof(*s));
  for (i = 0; i < e->started; i++) {
    const struct mb_viewer *v = &e->v[i];
    unsigned k;
    s->rtp += v->rtp;
    s->expected += mb_viewer_expected(v);
    s->unique += mb_viewer_unique(v);
    for (k = 0; k < v->ntr; k++) {
      s->dups += v->tr[k].dups;
      s->filled += v->tr[k].filled;
    }
    s->dec_ok += v->dec_ok;
    s->dec_fail += v->dec_fail;
    s->nacked += v->nacked;
    s->ovfl += v->ovfl;
    s->live += v->state == V_LIVE;
    s->failed += v->state == V_FAILED;
    s->twcc_viewers += v->state == V_LIVE && v->twcc;
    s->twcc_pkts += v->twcc_pkts;
    s->twcc_bare += v->twcc_bare;
    s->twcc_fbs += v->twcc_fbs;
    s->pad += v->pad;
  }
  s->pub_sent = __atomic_load_n(&e->pub.sent, __ATOMIC_RELAXED);
  for (i = 0; i < e->pub.nlayers; i++)
    s->lay_sent[i] = __atomic_load_n(&e->pub.lay[i].sent, __ATOMIC_RELAXED);
  s->pub_fb = __atomic_load_n(&e->pub.fb_in, __ATOMIC_RELAXED);
  mb_proc_read(&s->proc, e->cfg->pid, e->cfg->server_cpus, e->cfg->emu_cpus);
}

static void join_more(int64_t now) {
  struct mb_emu *e = &mb_emu;

  while (e->joining < e->cfg->join_conc && e->started < e->target) {
    struct mb_viewer *v = &e->v[e->started];
    v->idx = e->started++;
    if (mb_viewer_begin(v, now) < 0)
      continue;
    if (strcmp(e->cfg->server, "onair") == 0)
      mb_onair_join(v);
    else
      mb_janus_join(v);
  }
}

static int all_joined(void) { return mb_emu.started == mb_emu.target && mb_emu.pending == 0; }

/* Runs the loop for dur ns, or until done() says so. */
static void run_for(int64_t dur, int (*done)(void)) {
  struct mb_emu *e = &mb_emu;
  int64_t end = mb_now() + dur, next_tick = 0;
  unsigned i;

  while (!e->fatal && !interrupted) {
    int64_t now = mb_now();
    if (now >= end || (done && done()))
      break;
    if (e->last_turn && now - e->last_turn > e->turn_max_ns)
      e->turn_max_ns = now - e->last_turn;
    if (e->last_turn && now - e->last_turn > NS)
      mb_log("the emulator's loop took %.1f s for one turn (N=%u, %u joining): its sockets "
             "waited that long",
             (now - e->last_turn) / 1e9, e->target, e->joining);
    e->last_turn = now;
    if (now >= next_tick) {
      for (i = 0; i < e->started; i++)
        mb_viewer_tick(&e->v[i], now);
      join_more(now);
      next_tick = now + TICK_NS;
      if (__atomic_load_n(&e->pub.state, __ATOMIC_ACQUIRE) < 0)
        e->fatal = 1;
    }
    /* A turn that found the loop keeping up waits a little, so packets
     * gather in the sockets and each recvmmsg takes several: the cost per
     * packet is mostly per system call. The forwarding delay is stamped by
     * the kernel on arrival, so the wait does not show in it. */
    if (mb_loop_turn(5) < 256 && e->cfg->poll_us)
      usleep(e->cfg->poll_us);
  }
}

/* Joins the viewers [started, n) (join_conc at a time); those a server
 * cannot take in time never start, and count as failed. */
static void join_all(unsigned n) {
  struct mb_emu *e = &mb_emu;

  e->target = n;
  run_for((int64_t)e->cfg->join_timeout_s * 3 * NS, all_joined);
  if (!all_joined()) {
    e->target = e->started;
    run_for((int64_t)e->cfg->join_timeout_s * NS, all_joined);
  }
}

static int by_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;

  return x < y ? -1 : x > y;
}

static double pct(const float *v, size_t n, double p) {
  return n ? v[(size_t)fmin((double)n - 1, floor(p / 100 * (double)n))] : NAN;
}

static json_t *num(double x) {
  return isfinite(x) ? json_real(round(x * 1000) / 1000) : json_null();
}

/* The viewers that joined in this step, [from, to): join-to-first-keyframe,
 * packets lost from their first packet to the window (join_lost), and how
 * many started on a keyframe. */
static void join_stats(json_t *row, unsigned from, unsigned to) {
  float *ms = calloc(to - from + 1, sizeof(*ms));
  unsigned i, n = 0, failed = 0, on_key = 0;
  uint64_t lost = 0;

  for (i = from; i < to; i++) {
    const struct mb_viewer *v = &mb_emu.v[i];
    if (v->state != V_LIVE) {
      failed++;
      continue;
    }
    if (ms)
      ms[n] = (float)((v->t_key - v->t_join) / 1e6);
    n++;
    lost += mb_viewer_expected(v) - mb_viewer_unique(v);
    on_key += v->first_video_key == 1;
  }
  if (ms)
    qsort(ms, n, sizeof(*ms), by_float);
  json_object_set_new(row, "join_ms_p50", num(ms ? pct(ms, n, 50) : NAN));
  json_object_set_new(row, "join_ms_max", num(ms && n ? ms[n - 1] : NAN));
  json_object_set_new(row, "join_failed", json_integer(failed));
  json_object_set_new(row, "join_lost", json_integer((json_int_t)lost));
  json_object_set_new(row, "start_on_key", json_integer(on_key));
  free(ms);
}

static void window_stats(json_t *row, const struct snap *a, const struct snap *b,
                         const struct mb_proc *base, unsigned n) {
  const struct mb_cfg *cfg = mb_emu.cfg;
  double sec = (b->proc.t - a->proc.t) / 1e9, cpu = b->proc.cpu_s - a->proc.cpu_s;
  double delivered = (double)(b->rtp - a->rtp), expected = (double)(b->expected - a->expected);
  double lost = expected - (double)(b->unique - a->unique);
  double drops = (double)(b->ovfl - a->ovfl);
  int sc = mb_cpu_count(cfg->server_cpus), ec = mb_cpu_count(cfg->emu_cpus);

  json_object_set_new(row, "live", json_integer(b->live));
  json_object_set_new(row, "window_s", num(sec));
  json_object_set_new(row, "delivered", json_integer((json_int_t)delivered));
  json_object_set_new(row, "pps", num(delivered / sec));
  json_object_set_new(row, "server_cpu_s", num(cpu));
  json_object_set_new(row, "us_per_pkt", num(delivered > 0 ? cpu * 1e6 / delivered : NAN));
  json_object_set_new(row, "server_busy", num((b->proc.busy_s[0] - a->proc.busy_s[0]) / sec / sc));
  json_object_set_new(row, "server_cpu", num(cpu / sec));
  json_object_set_new(row, "server_cores", json_integer(sc));
  json_object_set_new(row, "emu_cpu", num((b->proc.emu_cpu_s - a->proc.emu_cpu_s) / sec));
  /* Cores of the server's CPUs that something else used: another process
   * on a shared machine, which makes this window's figures unreliable. */
  json_object_set_new(row, "server_other",
                      num((b->proc.busy_s[0] - a->proc.busy_s[0] - cpu) / sec));
  json_object_set_new(row, "emu_busy", num((b->proc.busy_s[1] - a->proc.busy_s[1]) / sec / ec));
  json_object_set_new(row, "loss_pct", num(expected > 0 ? fmax(lost, 0) * 100 / expected : NAN));
  /* What the live viewers should have had of what the publisher sent: a
   * server that queues instead of dropping falls behind, not into loss. */
  json_object_set_new(row, "behind_pct",
                      num(100 * (1 - delivered / ((double)b->live * (b->pub_sent - a->pub_sent)))));
  json_object_set_new(row, "emu_drops", json_integer((json_int_t)drops));
  json_object_set_new(row, "emu_drop_pct", num(expected > 0 ? drops * 100 / expected : NAN));
  /* The kernel's input backlogs: the way to the viewers' sockets, not the
   * server (with RPS one datagram or GSO message per viewer waits there). */
  json_object_set_new(row, "backlog_drops",
                      json_integer((json_int_t)(b->proc.backlog_drops - a->proc.backlog_drops)));
  json_object_set_new(row, "rtx_filled", json_integer((json_int_t)(b->filled - a->filled)));
  json_object_set_new(row, "dups", json_integer((json_int_t)(b->dups - a->dups)));
  json_object_set_new(row, "nacked", json_integer((json_int_t)(b->nacked - a->nacked)));
  json_object_set_new(row, "decrypted", json_integer((json_int_t)b->dec_ok));
  json_object_set_new(row, "decrypt_failed", json_integer((json_int_t)b->dec_fail));
  /* Transport-wide cc: live viewers that send feedback, what they sent, and
   * packets that reached them with and without the extension. */
  json_object_set_new(row, "twcc_viewers", json_integer(b->twcc_viewers));
  json_object_set_new(row, "twcc_fb_per_s", num((double)(b->twcc_fbs - a->twcc_fbs) / sec));
  json_object_set_new(row, "twcc_pkts", json_integer((json_int_t)(b->twcc_pkts - a->twcc_pkts)));
  json_object_set_new(row, "twcc_bare", json_integer((json_int_t)(b->twcc_bare - a->twcc_bare)));
  {
    json_t *lay = json_array();
    unsigned i;
    for (i = 0; i < mb_emu.pub.nlayers; i++)
      json_array_append_new(lay, num((double)(b->lay_sent[i] - a->lay_sent[i]) / sec));
    json_object_set_new(row, "pub_layer_pps", lay);
    json_object_set_new(row, "pub_fb_per_s", num((double)(b->pub_fb - a->pub_fb) / sec));
    json_object_set_new(row, "probe_pkts", json_integer((json_int_t)(b->pad - a->pad)));
  }
  json_object_set_new(row, "rss_kib", json_integer(b->proc.rss_kib));
  json_object_set_new(row, "rss_base_kib", json_integer(base->rss_kib));
  json_object_set_new(row, "kib_per_viewer", num((double)(b->proc.rss_kib - base->rss_kib) / n));
}

/* The server's CPU per delivered packet between two snapshots. */
static double part_us(const struct snap *a, const struct snap *b) {
  double delivered = (double)(b->rtp - a->rtp);

  return delivered > 0 ? (b->proc.cpu_s - a->proc.cpu_s) * 1e6 / delivered : NAN;
}

/* The window in cfg->parts equal parts: us_per_pkt is the median of the
 * parts' CPU per packet (us_per_pkt_window the whole window's). A burst of
 * a CPU second that both servers and the emulator showed at random times
 * here (no steal reported, no process of ours behind it) then moves one
 * part, not the figure. Loss, delay and the rest are the whole window's. */
static void measure_window(json_t *row, const struct mb_proc *base, unsigned n) {
  struct mb_emu *e = &mb_emu;
  const struct mb_cfg *cfg = e->cfg;
  unsigned k, parts = cfg->parts ? cfg->parts : 1;
  float us[16];
  json_t *list = json_array();
  struct snap a, b, first;
  double m0[M_COUNT], m1[M_COUNT], sec;

  parts = parts > 16 ? 16 : parts;
  metrics_read(m0); /* before the window: its CPU is not in it */
  snap_take(&first);
  a = first;
  e->ndelays = 0;
  e->measuring = 1;
  for (k = 0; k < parts; k++) {
    run_for((int64_t)cfg->window_s * NS / parts, NULL);
    snap_take(&b);
    us[k] = (float)part_us(&a, &b);
    json_array_append_new(list, num(us[k]));
    a = b;
  }
  e->measuring = 0;
  metrics_read(m1);
  sec = (b.proc.t - first.proc.t) / 1e9;
  window_stats(row, &first, &b, base, n);
  /* What onair counted: viewers' feedback taken a second, layer switches,
   * probe packets and keyframe requests in the window (switches also since
   * it started), publisher packets received a second. */
  json_object_set_new(row, "srv_feedback_per_s", num((m1[M_FEEDBACK] - m0[M_FEEDBACK]) / sec));
  json_object_set_new(row, "srv_switches", num(m1[M_SWITCHES] - m0[M_SWITCHES]));
  json_object_set_new(row, "srv_switches_total", num(m1[M_SWITCHES]));
  json_object_set_new(row, "srv_probe_pkts", num(m1[M_PROBES] - m0[M_PROBES]));
  json_object_set_new(row, "srv_key_requests", num(m1[M_KEYREQ] - m0[M_KEYREQ]));
  json_object_set_new(row, "srv_rtp_in_per_s", num((m1[M_RTP_IN] - m0[M_RTP_IN]) / sec));
  qsort(us, parts, sizeof(*us), by_float);
  json_object_set_new(row, "us_per_pkt_window", json_deep_copy(json_object_get(row, "us_per_pkt")));
  json_object_set_new(row, "us_per_pkt",
                      num(parts % 2 ? us[parts / 2] : (us[parts / 2 - 1] + us[parts / 2]) / 2));
  json_object_set_new(row, "us_parts", list);
}

static void delay_stats(json_t *row) {
  struct mb_emu *e = &mb_emu;

  qsort(e->delays, e->ndelays, sizeof(float), by_float);
  json_object_set_new(row, "delay_ms_p50", num(pct(e->delays, e->ndelays, 50)));
  json_object_set_new(row, "delay_ms_p99", num(pct(e->delays, e->ndelays, 99)));
  json_object_set_new(row, "delay_samples", json_integer((json_int_t)e->ndelays));
  json_object_set_new(row, "pub_late_ms", num(e->pub.late_max_ns / 1e6));
  /* The emulator's longest loop turn in the step: what it answers (pings,
   * consent, handshakes) waited that long. */
  json_object_set_new(row, "emu_turn_max_ms", num(e->turn_max_ns / 1e6));
  e->turn_max_ns = 0;
  json_object_set_new(row, "key_requests", json_integer((json_int_t)e->pub.key_requests));
  json_object_set_new(row, "keys_sent", json_integer((json_int_t)e->pub.keys_sent));
}

static double row_num(json_t *row, const char *key) {
  json_t *v = json_object_get(row, key);

  return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Whose limit the step met, if any. Loss past the limit, failing joins,
 * or a server falling behind (it queues what it cannot send: packets spend
 * over a second in it, or the viewers got 2 % less than the publisher sent;
 * the delay is stamped by the kernel on arrival, so a slow emulator does
 * not add to it) are the server's, unless the emulator used its whole core
 * or dropped packets in its own sockets while the server kept the delay
 * short. Returns 1 to stop raising N. */
static int judge(json_t *row, unsigned n) {
  double loss = row_num(row, "loss_pct"), emu = row_num(row, "emu_cpu");
  double drops = row_num(row, "emu_drop_pct"), failed = row_num(row, "join_failed");
  double backlog = row_num(row, "backlog_drops");
  /* With simulcast neither tells: a viewer on a lower layer gets fewer
   * packets than the top one's, and one moved between layers PictureIDs
   * onair shifted, so the delay is a few frames off (README). */
  int behind = !mb_emu.cfg->simulcast &&
               (!(row_num(row, "delay_ms_p99") <= 1000) || row_num(row, "behind_pct") > 2);
  /* With the viewers' receive path on the emulator's CPUs (run-media.sh's
   * RX_ON_EMU) the kernel's work there is charged to no process: their busy
   * time counts too. Saturated, they also delay the kernel's arrival stamp
   * and drop in the sockets, so neither the delay nor the shortfall can
   * tell the server's limit then. */
  int emu_sat = emu >= EMU_BUSY || row_num(row, "emu_busy") >= EMU_BUSY;
  int emu_limit = emu_sat || drops > 0.01 || backlog > 0, stop = 0;
  const char *limit = "";

  if (!(loss <= mb_emu.cfg->loss_limit) || behind || failed > n * 0.005) {
    limit = emu_sat || (emu_limit && !behind) ? "emulator" : "server";
    stop = 1;
  } else if (emu_sat) {
    limit = "emulator";
    stop = 1;
  } else if (emu_limit) {
    limit = "emulator-drops";
  }
  json_object_set_new(row, "limit", json_string(limit));
  return stop;
}

static void emit(json_t *row) {
  const char *out = mb_emu.cfg->out;
  char *text = json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER);
  FILE *f = out ? fopen(out, "a") : NULL;

  if (text) {
    printf("%s\n", text);
    fflush(stdout);
    if (f)
      fprintf(f, "%s\n", text);
  }
  if (f)
    fclose(f);
  free(text);
}

static int step(unsigned n, unsigned prev, const struct mb_proc *base) {
  struct mb_emu *e = &mb_emu;
  const struct mb_cfg *cfg = e->cfg;
  json_t *row = json_object();
  int64_t t0 = mb_now();
  int stop;

  join_all(n);
  json_object_set_new(row, "join_s", num((mb_now() - t0) / 1e9));
  /* After the first joins both onair and the emulator spent about a CPU
   * second more within some 15 s (N = 50 measured at 20 and 31 us a
   * packet with SETTLE=3, 3.1 with 15): the first step waits it out. */
  run_for((int64_t)(prev == 0 ? cfg->first_settle_s : cfg->settle_s) * NS, NULL);
  json_object_set_new(row, "kind", json_string("step"));
  json_object_set_new(row, "server", json_string(cfg->label));
  json_object_set_new(row, "profile", json_string(cfg->gcm ? "gcm" : "cm"));
  json_object_set_new(row, "n", json_integer(n));
  json_object_set_new(row, "repeat", json_integer(cfg->repeat));
  join_stats(row, prev, n);
  measure_window(row, base, n);
  delay_stats(row);
  stop = judge(row, n);
  mb_log("%s %s N=%u: %.2f us/pkt, %.0f pkt/s, loss %.3f %%, %.1f KiB/viewer, p99 %.1f ms, "
         "join p50 %.0f ms, emulator %.0f %% of a core; twcc feedback from %.0f viewers, %.0f/s "
         "(onair took %.0f/s); layer switches %.0f (%.0f in all)%s%s",
         cfg->label, cfg->gcm ? "gcm" : "cm", n, row_num(row, "us_per_pkt"), row_num(row, "pps"),
         row_num(row, "loss_pct"), row_num(row, "kib_per_viewer"), row_num(row, "delay_ms_p99"),
         row_num(row, "join_ms_p50"), 100 * row_num(row, "emu_cpu"), row_num(row, "twcc_viewers"),
         row_num(row, "twcc_fb_per_s"), row_num(row, "srv_feedback_per_s"),
         row_num(row, "srv_switches"), row_num(row, "srv_switches_total"),
         stop ? ", stop: limit " : "",
         stop ? json_string_value(json_object_get(row, "limit")) : "");
  emit(row);
  json_decref(row);
  return stop || e->fatal || interrupted;
}

static json_t *layer_figures(const struct mb_stream *s) {
  return json_pack("{s:i,s:i,s:o,s:o}", "width", s->width, "height", s->height, "video_kbps",
                   num(s->video_kbps), "video_pps", num((double)s->video_pkts * 1e9 / s->loop_ns));
}

static void emit_stream(void) {
  const struct mb_emu *e = &mb_emu;
  const struct mb_stream *s = &e->st;
  size_t i, vbytes = 0;
  json_t *row, *layers = json_array();

  for (i = 0; i < s->npkts; i++)
    vbytes += s->pkts[i].video ? 12 + s->pkts[i].len : 0;
  for (i = 0; i + 1 < e->pub.nlayers; i++)
    json_array_append_new(layers, layer_figures(&e->lower[i]));
  json_array_append_new(layers, layer_figures(s));
  row = json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:o,s:o,s:o,s:o,s:i,s:o}", "kind", "stream", "server",
                  mb_emu.cfg->label, "profile", mb_emu.cfg->gcm ? "gcm" : "cm", "width", s->width,
                  "height", s->height, "fps", s->fps, "video_kbps", num(s->video_kbps),
                  "audio_kbps", num(s->audio_kbps), "pps", num(s->pps), "video_pkt_bytes",
                  num((double)vbytes / (double)s->video_pkts), "simulcast", e->pub.nlayers,
                  "layers", layers);
  emit(row);
  json_decref(row);
  mb_log("stream: VP8 %ux%u %.0f kbit/s + Opus %.0f kbit/s, %.0f packets/s (video packets %.0f "
         "bytes on average)",
         s->width, s->height, s->video_kbps, s->audio_kbps, s->pps,
         (double)vbytes / (double)s->video_pkts);
  for (i = 0; i + 1 < e->pub.nlayers; i++)
    mb_log("simulcast layer %c: VP8 %ux%u %.0f kbit/s, %.0f packets/s", e->pub.lay[i].rid,
           e->lower[i].width, e->lower[i].height, e->lower[i].video_kbps,
           (double)e->lower[i].video_pkts * 1e9 / e->lower[i].loop_ns);
}

/* A layer of w x h at about kbps, the picture without the stream's
 * per-pixel noise. libvpx's rate control overshoots on a small picture,
 * so the rate asked is corrected by what came out, up to three tries; this
 * moving picture has a floor all the same (about 154 kbit/s at 320x180,
 * 360 at 640x360), which the rows' "layers" show. */
static int make_layer(struct mb_stream *s, unsigned w, unsigned h, double kbps, unsigned secs) {
  double ask = kbps;
  int i;

  for (i = 0; i < 3; i++) {
    if (mb_stream_make_noise(s, w, h, ask > 20 ? (unsigned)ask : 20, secs, 0) < 0)
      return -1;
    if (fabs(s->video_kbps - kbps) <= 0.1 * kbps || i == 2)
      break;
    ask *= kbps / s->video_kbps;
    mb_stream_free(s);
  }
  return 0;
}

/* Simulcast: the layers below the stream, as Chromium's page asks for them
 * (web/assets/media.js: a quarter and half the size, 150 and 500 kbit/s
 * against 2.5 Mbit/s): 1/16 and 1/5 of the stream's rate. Made once and
 * kept beside the stream's file for the other runs. */
static int make_lower(const struct mb_cfg *cfg) {
  static const unsigned scale[MB_LAYERS - 1] = {4, 2}, div[MB_LAYERS - 1] = {16, 5};
  struct mb_emu *e = &mb_emu;
  char path[512];
  unsigned i;

  for (i = 0; i < MB_LAYERS - 1; i++) {
    snprintf(path, sizeof(path), "%s.%u", cfg->stream_file ? cfg->stream_file : "", i);
    if (cfg->stream_file && mb_stream_load(&e->lower[i], path) == 0)
      continue;
    if (make_layer(&e->lower[i], e->st.width / scale[i], e->st.height / scale[i],
                   e->st.video_kbps / div[i], (unsigned)(e->st.loop_ns / 1000000000)) < 0 ||
        e->lower[i].loop_ns != e->st.loop_ns)
      return -1;
    if (cfg->stream_file && mb_stream_save(&e->lower[i], path) < 0)
      return -1;
  }
  return 0;
}

static void pub_setup(const struct mb_cfg *cfg) {
  static const char rids[MB_LAYERS] = {'l', 'm', 'h'};
  struct mb_pub *p = &mb_emu.pub;
  unsigned i;

  p->nlayers = cfg->simulcast && strcmp(cfg->server, "onair") == 0 ? MB_LAYERS : 1;
  for (i = 0; i < p->nlayers; i++) {
    struct mb_layer *l = &p->lay[i];
    l->st = i + 1 < p->nlayers ? &mb_emu.lower[i] : &mb_emu.st;
    l->rid = p->nlayers > 1 ? rids[i] : 0;
    mb_rand(&l->ssrc, 4);
  }
  p->honour_pause = p->nlayers > 1 && cfg->pub_pause;
  p->active = (1u << p->nlayers) - 1; /* all on, until onair says otherwise */
  p->dtls = &mb_emu.dtls;
  mb_rand(&p->ssrc_a, 4);
}

/* publish 0: viewers only, of a publisher not ours (viewers mode). */
static int run_setup(const struct mb_cfg *cfg, unsigned maxn, int publish) {
  struct mb_emu *e = &mb_emu;
  unsigned i;

  e->caster.io.fd = -1;
  if (mb_srtp_init() < 0 || mb_loop_init() < 0 || mb_dtls_init(&e->dtls, cfg->gcm) < 0)
    return -1;
  if (!publish)
    goto viewers;
  if (cfg->stream_file
          ? mb_stream_load(&e->st, cfg->stream_file) < 0
          : mb_stream_make(&e->st, cfg->width, cfg->height, cfg->kbps, cfg->stream_s) < 0) {
    mb_log("cannot encode the stream (libvpx, libopus)");
    return -1;
  }
  if (cfg->simulcast && strcmp(cfg->server, "onair") == 0 && make_lower(cfg) < 0) {
    mb_log("cannot encode the simulcast layers (libvpx, libopus)");
    return -1;
  }
  pub_setup(cfg);
  emit_stream();
viewers:
  if (!(e->v = calloc(maxn ? maxn : 1, sizeof(*e->v))))
    return -1;
  for (i = 0; i < maxn; i++)
    e->v[i].udp.fd = e->v[i].hc.io.fd = e->v[i].conn.fd = -1;
  e->nv = maxn;
  if (!publish)
    return mb_onair_viewer_setup();
  return strcmp(cfg->server, "onair") == 0 ? mb_onair_setup() : mb_janus_setup();
}

static void run_close(void) {
  struct mb_emu *e = &mb_emu;
  unsigned i;

  for (i = 0; i < e->nv; i++)
    mb_viewer_close(&e->v[i]);
  mb_pub_stop(&e->pub);
  mb_hc_close(&e->caster);
}

static void signals_catch(void) {
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);
}

/* {"kind":kind,"n":N,"live":L,"failed":F,"rtp":[each viewer's RTP packets so far],
 * "why":the first failure's reason or null}. */
static void emit_viewers(const char *kind, unsigned n) {
  struct mb_emu *e = &mb_emu;
  json_t *row = json_object(), *rtp = json_array();
  const char *why = NULL;
  unsigned i, live = 0, failed = 0;

  for (i = 0; i < n; i++) {
    const struct mb_viewer *v = &e->v[i];
    live += v->state == V_LIVE;
    failed += v->state == V_FAILED || i >= e->started;
    if (v->state == V_FAILED && !why)
      why = v->why;
    json_array_append_new(rtp, json_integer((json_int_t)v->rtp));
  }
  json_object_set_new(row, "kind", json_string(kind));
  json_object_set_new(row, "room", json_string(e->cfg->room ? e->cfg->room : "benchcaster"));
  json_object_set_new(row, "n", json_integer(n));
  json_object_set_new(row, "live", json_integer(live));
  json_object_set_new(row, "failed", json_integer(failed));
  json_object_set_new(row, "why", why ? json_string(why) : json_null());
  json_object_set_new(row, "rtp", rtp);
  emit(row);
  json_decref(row);
}

int mb_hold(const struct mb_cfg *cfg) {
  struct mb_emu *e = &mb_emu;
  unsigned n = cfg->sizes[0];
  int rc = 1;

  e->cfg = cfg;
  signals_catch();
  if (run_setup(cfg, n, cfg->publish) < 0) {
    mb_log("viewers: set-up failed");
    goto out;
  }
  join_all(n);
  emit_viewers("joined", n);
  run_for((int64_t)cfg->hold_s * NS, NULL);
  emit_viewers("held", n);
  rc = e->fatal ? 1 : 0;
out:
  run_close();
  return rc;
}

int mb_run(const struct mb_cfg *cfg) {
  struct mb_emu *e = &mb_emu;
  unsigned i, prev = 0, maxn = 0;
  struct mb_proc base;
  int rc = 1;

  e->cfg = cfg;
  signals_catch();
  for (i = 0; i < cfg->nsizes; i++)
    maxn = cfg->sizes[i] > maxn ? cfg->sizes[i] : maxn;
  if (run_setup(cfg, maxn, 1) < 0) {
    mb_log("%s: set-up failed", cfg->server);
    goto out;
  }
  run_for(3 * NS, NULL); /* the publisher alone */
  mb_proc_read(&base, cfg->pid, cfg->server_cpus, cfg->emu_cpus);
  for (i = 0; i < cfg->nsizes && !e->fatal; i++) {
    if (step(cfg->sizes[i], prev, &base))
      break;
    prev = cfg->sizes[i];
  }
  rc = e->fatal || interrupted ? 1 : 0;
out:
  run_close();
  return rc;
}
