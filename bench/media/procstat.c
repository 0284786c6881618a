/* What the run reads about the processes: the server's CPU time (its
 * process CPU clock in ns, or utime+stime from /proc/<pid>/stat in clock
 * ticks when that clock cannot be read), its VmRSS, our own CPU time, and
 * how busy the CPUs of each side were (/proc/stat). */
#include "emu.h"
#include "proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* 1 when cpu is in list ("0", "1-3", "0,2"). */
int mb_cpu_in(const char *list, int cpu) {
  const char *p = list;

  while (p && *p) {
    char *end;
    long a = strtol(p, &end, 10), b = a;
    if (end == p)
      return 0;
    if (*end == '-')
      b = strtol(end + 1, &end, 10);
    if (cpu >= a && cpu <= b)
      return 1;
    p = *end == ',' ? end + 1 : NULL;
  }
  return 0;
}

int mb_cpu_count(const char *list) {
  int cpu, n = 0;

  for (cpu = 0; cpu < 1024; cpu++)
    n += mb_cpu_in(list, cpu);
  return n;
}

/* Busy seconds (everything but idle, iowait and nice) of the CPUs in each
 * list. Niced work is left out: run-media.sh's SPIN=1 keeps the CPUs from
 * idling with spinners at nice 19 and SCHED_IDLE, which give way to
 * anything else at once. */
static void cpu_busy(const char *lists[2], double busy[2]) {
  char line[512];
  FILE *f = fopen("/proc/stat", "r");
  double tick = (double)sysconf(_SC_CLK_TCK);

  busy[0] = busy[1] = 0;
  if (!f)
    return;
  while (fgets(line, sizeof(line), f)) {
    unsigned long long v[8] = {0};
    int cpu, k;
    if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2],
               &v[3], &v[4], &v[5], &v[6], &v[7]) != 9)
      continue;
    for (k = 0; k < 2; k++)
      if (lists[k] && mb_cpu_in(lists[k], cpu))
        busy[k] += (v[0] + v[2] + v[5] + v[6] + v[7]) / tick;
  }
  fclose(f);
}

/* Packets dropped because a CPU's input backlog (net.core.netdev_max_backlog)
 * was full: the second column of /proc/net/softnet_stat, summed over the
 * CPUs. With RPS on loopback (run-media.sh's RX_ON_EMU) a burst to every
 * viewer waits there for the emulator's CPU: a drop is the network's, not a
 * server's. */
static uint64_t backlog_drops(void) {
  FILE *f = fopen("/proc/net/softnet_stat", "r");
  char line[512];
  uint64_t sum = 0;
  unsigned processed, dropped;

  if (!f)
    return 0;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "%x %x", &processed, &dropped) == 2)
      sum += dropped;
  fclose(f);
  return sum;
}

void mb_proc_read(struct mb_proc *p, int pid, const char *server_cpus, const char *emu_cpus) {
  const char *lists[2] = {server_cpus, emu_cpus};
  struct rusage ru;

  p->t = mb_now();
  p->cpu_s = bench_proc_cpu_s(pid);
  p->rss_kib = bench_proc_rss_kib(pid);
  getrusage(RUSAGE_SELF, &ru);
  p->emu_cpu_s =
      ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  cpu_busy(lists, p->busy_s);
  p->backlog_drops = backlog_drops();
}
