#include "proc.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The process's CPU clock: every thread's time, exited ones included, in
 * ns (clock_getcpuclockid works for another process we may trace). */
static double clock_cpu(int pid) {
  struct timespec ts;
  clockid_t clk;

  if (clock_getcpuclockid(pid, &clk) != 0 || clock_gettime(clk, &ts) != 0)
    return -1;
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double stat_cpu(int pid) {
  char path[64], buf[2048], *p;
  unsigned long ut, st;
  size_t n;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  if (!(f = fopen(path, "r")))
    return -1;
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  if (!(p = strrchr(buf, ')')) ||
      sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
    return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

long bench_proc_rss_kib(int pid) {
  char path[64], line[256];
  long kib = -1;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/status", pid);
  if (!(f = fopen(path, "r")))
    return -1;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "VmRSS: %ld", &kib) == 1)
      break;
  fclose(f);
  return kib;
}

double bench_proc_cpu_s(int pid) {
  double s = clock_cpu(pid);
  return s < 0 ? stat_cpu(pid) : s;
}
