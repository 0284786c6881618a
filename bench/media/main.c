/* onair-media-bench: bench/run-media.sh runs it in three ways.
 *   run    one server and SRTP profile, rising N (run.c)
 *   floor  AES-128-GCM seal + sendmmsg per packet on this core (floor.c)
 *   report the table, ratios, JSON, plot data and Markdown (report.c) */
#include "emu.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mb_floor_main(int argc, char **argv);
int mb_report_main(int argc, char **argv);

static const char usage[] =
    "usage: onair-media-bench run --server onair|janus --http HOST:PORT --pid PID [options]\n"
    "       onair-media-bench viewers --http HOST:PORT --count N [--room NAME] [--publish 1]\n"
    "                                 [--seconds S] [run's options]\n"
    "       onair-media-bench floor [--seconds S] [--reader-cpus LIST] [--media-host IP]\n"
    "                               [--viewer-net NETNS_PATH,ADDRESS]\n"
    "                               [--video WxH] [--kbps K] [--out FILE]\n"
    "       onair-media-bench stream [--video WxH] [--kbps K] [--save FILE]\n"
    "       onair-media-bench report --in FILE [--plot-data PREFIX] [--markdown FILE]\n"
    "       onair-media-bench spin (a SCHED_IDLE PAUSE loop, for SPIN=pause)\n"
    "run options: --profile gcm|cm --sizes 50,100,... --settle S --first-settle S --window S\n"
    "  --parts P (the window's parts; us/pkt is their median) --repeat R (the rows' repeat)\n"
    "  --join-conc N\n"
    "  --join-timeout S --rcvbuf BYTES --loss-limit PCT --media-host IP --janus-ports V,A\n"
    "  --janus-stream ID --server-cpus LIST --emu-cpus LIST --out FILE --video WxH --kbps K\n"
    "  --stream-s S --stream FILE (made by stream --save) --poll-us US --sample-every N\n"
    "  --drop-every N (ignore 1 in N packets once live, to check NACKs)\n"
    "  --twcc K (0: no transport-wide cc; K >= 1: every viewer offers it, 1 in K sends feedback)\n"
    "  --pub-simulcast 0|1 (onair: the publisher sends layers l, m, h as Chromium does)\n"
    "  --pub-pause 0|1 (simulcast: media.layers turns layers off and on, as the page; default 1)\n"
    "  --label NAME (the rows' server name, for a variant such as onair-nogso)\n"
    "  --viewer-net NETNS_PATH,ADDRESS (the viewers' sockets in that network namespace)\n"
    "viewers: N (0 or more) viewers join onair's room NAME (default benchcaster); --publish 1:\n"
    "  our publisher first, signed in as NAME;\n"
    "  {\"kind\":\"joined\",\"rtp\":[each viewer's packets],...} once all are live or failed;\n"
    "  they stay S seconds (default 60; SIGTERM ends it sooner); {\"kind\":\"held\",...}\n";

static int parse_uint(const char *s, unsigned *out) {
  char *end;
  unsigned long v = strtoul(s, &end, 10);

  if (end == s || *end || v > 100000000)
    return -1;
  *out = (unsigned)v;
  return 0;
}

/* "50,100,250": rising, at most MB_MAX_SIZES of them. */
static int parse_sizes(struct mb_cfg *c, const char *s) {
  const char *p = s;

  c->nsizes = 0;
  while (*p) {
    char *end;
    unsigned long v;
    while (*p == ',' || *p == ' ')
      p++;
    if (!*p)
      break;
    v = strtoul(p, &end, 10);
    if (end == p || (*end && *end != ',' && *end != ' ') || v == 0 || v > 1000000 ||
        c->nsizes == MB_MAX_SIZES || (c->nsizes && v <= c->sizes[c->nsizes - 1]))
      return -1;
    c->sizes[c->nsizes++] = (unsigned)v;
    p = end;
  }
  return c->nsizes ? 0 : -1;
}

static int parse_host_port(const char *s, const char **host, int *port) {
  static char h[64];
  const char *colon = strrchr(s, ':');
  unsigned p;

  if (!colon || (size_t)(colon - s) >= sizeof(h) || parse_uint(colon + 1, &p) < 0 || p > 65535)
    return -1;
  memcpy(h, s, (size_t)(colon - s));
  h[colon - s] = '\0';
  *host = h;
  *port = (int)p;
  return 0;
}

static void cfg_defaults(struct mb_cfg *c) {
  memset(c, 0, sizeof(*c));
  c->server = "onair";
  c->media_host = "127.0.0.1";
  c->gcm = 1;
  c->sizes[0] = 1;
  c->nsizes = 1;
  c->settle_s = 3;
  c->first_settle_s = 15;
  c->window_s = 6;
  c->parts = 3;
  c->repeat = 1;
  c->join_conc = 20;
  c->join_timeout_s = 20;
  c->rcvbuf = 256 * 1024;
  c->loss_limit = 0.5;
  c->janus_stream = 1;
  c->server_cpus = "0";
  c->emu_cpus = "1";
  c->width = 1280;
  c->height = 720;
  c->kbps = 1500;
  c->stream_s = 10;
  c->poll_us = 2000;
  c->sample_every = 128;
  c->twcc = 1;
  c->pub_pause = 1;
  c->hold_s = 60;
}

static int set_option(struct mb_cfg *c, const char *k, const char *v) {
  unsigned u = 0;

  if (!strcmp(k, "--server"))
    return c->server = v, strcmp(v, "onair") && strcmp(v, "janus") ? -1 : 0;
  if (!strcmp(k, "--label"))
    return c->label = v, *v && strlen(v) < 32 ? 0 : -1;
  if (!strcmp(k, "--http"))
    return parse_host_port(v, &c->http_host, &c->http_port);
  if (!strcmp(k, "--profile"))
    return c->gcm = !strcmp(v, "gcm"), strcmp(v, "gcm") && strcmp(v, "cm") ? -1 : 0;
  if (!strcmp(k, "--sizes"))
    return parse_sizes(c, v);
  if (!strcmp(k, "--count")) /* viewers mode: 0 is allowed */
    return c->nsizes = 1, parse_uint(v, &c->sizes[0]);
  if (!strcmp(k, "--room"))
    return c->room = v, *v && strlen(v) < 64 && !strpbrk(v, "\"\\") ? 0 : -1;
  if (!strcmp(k, "--media-host"))
    return c->media_host = v, 0;
  if (!strcmp(k, "--server-cpus"))
    return c->server_cpus = v, 0;
  if (!strcmp(k, "--emu-cpus"))
    return c->emu_cpus = v, 0;
  if (!strcmp(k, "--viewer-net"))
    return mb_viewer_net(v);
  if (!strcmp(k, "--out"))
    return c->out = v, 0;
  if (!strcmp(k, "--stream"))
    return c->stream_file = v, 0;
  if (!strcmp(k, "--loss-limit"))
    return c->loss_limit = strtod(v, NULL), c->loss_limit > 0 ? 0 : -1;
  if (!strcmp(k, "--janus-ports"))
    return sscanf(v, "%d,%d", &c->janus_video_port, &c->janus_audio_port) == 2 ? 0 : -1;
  if (!strcmp(k, "--video"))
    return sscanf(v, "%ux%u", &c->width, &c->height) == 2 && c->width >= 64 && c->height >= 64 ? 0
                                                                                               : -1;
  if (parse_uint(v, &u) < 0)
    return -1;
  if (!strcmp(k, "--pid"))
    return c->pid = (int)u, 0;
  if (!strcmp(k, "--settle"))
    return c->settle_s = u, 0;
  if (!strcmp(k, "--first-settle"))
    return c->first_settle_s = u, 0;
  if (!strcmp(k, "--window"))
    return c->window_s = u, u ? 0 : -1;
  if (!strcmp(k, "--parts"))
    return c->parts = u, u && u <= 16 ? 0 : -1;
  if (!strcmp(k, "--repeat"))
    return c->repeat = u, u ? 0 : -1;
  if (!strcmp(k, "--join-conc"))
    return c->join_conc = u, u ? 0 : -1;
  if (!strcmp(k, "--join-timeout"))
    return c->join_timeout_s = u, u ? 0 : -1;
  if (!strcmp(k, "--rcvbuf"))
    return c->rcvbuf = u, 0;
  if (!strcmp(k, "--janus-stream"))
    return c->janus_stream = (int)u, 0;
  if (!strcmp(k, "--kbps"))
    return c->kbps = u, u >= 100 ? 0 : -1;
  if (!strcmp(k, "--poll-us"))
    return c->poll_us = u, u <= 100000 ? 0 : -1;
  if (!strcmp(k, "--drop-every"))
    return c->drop_every = u, 0;
  if (!strcmp(k, "--pub-simulcast"))
    return c->simulcast = (int)u, u <= 1 ? 0 : -1;
  if (!strcmp(k, "--publish"))
    return c->publish = (int)u, u <= 1 ? 0 : -1;
  if (!strcmp(k, "--seconds"))
    return c->hold_s = u, 0;
  if (!strcmp(k, "--pub-pause"))
    return c->pub_pause = (int)u, u <= 1 ? 0 : -1;
  if (!strcmp(k, "--twcc"))
    return c->twcc = u, 0;
  if (!strcmp(k, "--sample-every"))
    return c->sample_every = u, u ? 0 : -1;
  if (!strcmp(k, "--stream-s"))
    return c->stream_s = u, u >= 2 ? 0 : -1;
  return -1;
}

/* Reads the options after the mode into c; -1 (usage printed) on a bad one. */
static int parse_options(struct mb_cfg *c, int argc, char **argv) {
  int i;

  cfg_defaults(c);
  for (i = 2; i + 1 < argc; i += 2)
    if (set_option(c, argv[i], argv[i + 1]) < 0) {
      fprintf(stderr, "onair-media-bench: bad option %s %s\n%s", argv[i], argv[i + 1], usage);
      return -1;
    }
  if (i != argc || !c->http_host)
    return fputs(usage, stderr), -1;
  return 0;
}

static int viewers_main(int argc, char **argv) {
  struct mb_cfg c;

  if (parse_options(&c, argc, argv) < 0)
    return 2;
  if (c.nsizes != 1 || strcmp(c.server, "onair") != 0)
    return fputs(usage, stderr), 2;
  if (!c.label)
    c.label = c.server;
  return mb_hold(&c);
}

static int run_main(int argc, char **argv) {
  struct mb_cfg c;

  if (parse_options(&c, argc, argv) < 0)
    return 2;
  if (c.pid <= 0 || (!strcmp(c.server, "janus") && (!c.janus_video_port || !c.janus_audio_port))) {
    fputs(usage, stderr);
    return 2;
  }
  if (!c.label)
    c.label = c.server;
  return mb_run(&c);
}

/* Makes the stream and prints its figures; --save FILE keeps it for the
 * runs (run --stream FILE, floor --stream FILE). */
static int stream_main(int argc, char **argv) {
  struct mb_cfg c;
  struct mb_stream s;
  const char *save = NULL;
  int64_t t0 = mb_now();
  int i;

  cfg_defaults(&c);
  for (i = 2; i + 1 < argc; i += 2)
    if (set_option(&c, argv[i], argv[i + 1]) < 0 &&
        !(strcmp(argv[i], "--save") == 0 && (save = argv[i + 1])))
      return fputs(usage, stderr), 2;
  if (mb_stream_make(&s, c.width, c.height, c.kbps, c.stream_s) < 0)
    return 1;
  mb_log("stream: VP8 %ux%u %.0f kbit/s (asked %u), Opus %.0f kbit/s, %.0f packets/s, "
         "%zu keyframes on request; made in %.1f s",
         s.width, s.height, s.video_kbps, c.kbps, s.audio_kbps, s.pps,
         s.nalt ? (size_t)s.frames / 3 : 0, (mb_now() - t0) / 1e9);
  i = save && mb_stream_save(&s, save) < 0 ? 1 : 0;
  mb_stream_free(&s);
  return i;
}

/* Keeps this CPU from halting (bench/run-media.sh SPIN=pause): at SCHED_IDLE
 * it gives way to any other task at once, and PAUSE, as the kernel's own
 * idle=poll loop uses, leaves the core's shared units to whoever else runs. */
static int spin_main(void) {
  struct sched_param sp = {0};

  if (sched_setscheduler(0, SCHED_IDLE, &sp) < 0)
    return perror("spin: SCHED_IDLE"), 1;
  for (;;)
    __builtin_ia32_pause();
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "spin"))
    return spin_main();
  if (argc >= 2 && !strcmp(argv[1], "stream"))
    return stream_main(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "run"))
    return run_main(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "viewers"))
    return viewers_main(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "floor"))
    return mb_floor_main(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "report"))
    return mb_report_main(argc, argv);
  fputs(usage, stderr);
  return 2;
}
