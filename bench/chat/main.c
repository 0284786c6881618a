/* onair-chat-bench: arguments, the descriptor limit, and the two commands.
 *
 *   onair-chat-bench run --server onair|seed --port P --pid PID
 *       [--host 127.0.0.1] [--mode burst|idle] [--viewers N] [--messages M]
 *       [--concurrency C] [--per-addr K] [--join] [--timeout S] [--hold S]
 *       [--label NAME]
 *   onair-chat-bench report results.jsonl
 */
#include "cb.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

void cb_log(const char *fmt, ...) {
  va_list ap;

  fputs("chat-bench: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

static int usage(void) {
  fputs("usage: onair-chat-bench run --server onair|seed --port P --pid PID [--host H]\n"
        "           [--mode burst|idle] [--viewers N] [--messages M] [--concurrency C]\n"
        "           [--per-addr K] [--join] [--timeout S] [--hold S] [--label NAME]\n"
        "       onair-chat-bench report results.jsonl\n",
        stderr);
  return 2;
}

static int num(const char *s, double lo, double hi, double *out) {
  char *end;
  double v = strtod(s, &end);

  if (end == s || *end || v < lo || v > hi)
    return -1;
  *out = v;
  return 0;
}

/* One "--name value" pair into o. 0, or -1 for a bad one. */
static int opt_set(struct cb_opts *o, const char *k, const char *v) {
  double d;

  if (!strcmp(k, "--server") && (!strcmp(v, "onair") || !strcmp(v, "seed")))
    o->server = !strcmp(v, "onair") ? CB_ONAIR : CB_SEED;
  else if (!strcmp(k, "--mode") && (!strcmp(v, "burst") || !strcmp(v, "idle")))
    o->mode = !strcmp(v, "burst") ? CB_BURST : CB_IDLE;
  else if (!strcmp(k, "--host") && strlen(v) < sizeof(o->host))
    snprintf(o->host, sizeof(o->host), "%s", v);
  else if (!strcmp(k, "--label") && strlen(v) < sizeof(o->label))
    snprintf(o->label, sizeof(o->label), "%s", v);
  else if (num(v, 0, 1e9, &d) < 0)
    return -1;
  else if (!strcmp(k, "--port") && d >= 1 && d <= 65535)
    o->port = (int)d;
  else if (!strcmp(k, "--pid") && d >= 1)
    o->pid = (int)d;
  else if (!strcmp(k, "--viewers") && d >= 1 && d <= 1000000)
    o->viewers = (uint32_t)d;
  else if (!strcmp(k, "--messages") && d <= 100000)
    o->messages = (uint32_t)d;
  else if (!strcmp(k, "--concurrency") && d >= 1)
    o->concurrency = (uint32_t)d;
  else if (!strcmp(k, "--per-addr") && d >= 1 && d <= 60000)
    o->per_addr = (uint32_t)d;
  else if (!strcmp(k, "--timeout") && d >= 1)
    o->timeout_s = d;
  else if (!strcmp(k, "--hold") && d >= 0.1)
    o->hold_s = d;
  else
    return -1;
  return 0;
}

static int parse_run(int argc, char **argv, struct cb_opts *o) {
  int i;

  memset(o, 0, sizeof(*o));
  o->server = -1;
  snprintf(o->host, sizeof(o->host), "127.0.0.1");
  o->viewers = 1000;
  o->messages = 200;
  o->concurrency = 100;
  o->per_addr = 25000;
  o->timeout_s = 60;
  o->hold_s = 3;
  for (i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--join")) {
      o->join = 1;
    } else if (i + 1 >= argc || opt_set(o, argv[i], argv[i + 1]) < 0) {
      cb_log("bad argument: %s", argv[i]);
      return -1;
    } else {
      i++;
    }
  }
  if (o->server < 0 || !o->port || !o->pid)
    return -1;
  if (!o->label[0])
    snprintf(o->label, sizeof(o->label), "%s", o->server == CB_ONAIR ? "onair" : "seed");
  return 0;
}

/* Every viewer is a descriptor: raise the soft limit, and the hard one
 * where we may (root), to N + 256. */
static void raise_nofile(uint32_t viewers) {
  rlim_t need = (rlim_t)viewers + 256;
  struct rlimit rl;

  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
    return;
  if (rl.rlim_max < need) {
    struct rlimit up = {need, need};
    if (setrlimit(RLIMIT_NOFILE, &up) == 0)
      return;
  }
  rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
  setrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < need)
    cb_log("open-files limit %llu, below the %llu needed", (unsigned long long)rl.rlim_cur,
           (unsigned long long)need);
}

int main(int argc, char **argv) {
  struct cb_bench *b;
  int rc;

  if (argc == 3 && !strcmp(argv[1], "report"))
    return cb_report(argv[2]) < 0 ? 1 : 0;
  if (argc < 2 || strcmp(argv[1], "run") != 0)
    return usage();
  if (!(b = calloc(1, sizeof(*b))))
    return 1;
  if (parse_run(argc, argv, &b->o) < 0)
    return usage();
  if (bench_proc_cpu_s(b->o.pid) < 0) {
    cb_log("no process %d to measure", b->o.pid);
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  raise_nofile(b->o.viewers);
  b->loop = uv_default_loop();
  rc = cb_run(b);
  /* The connections go with the process: closing 100,000 handles one by
   * one would only slow the next run's start. */
  return rc < 0 ? 1 : 0;
}
