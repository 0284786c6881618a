/* What a run measures besides the server's CPU time and VmRSS
 * (bench/common/proc.c), and its one JSON line: our own CPU time
 * (getrusage) and the deliveries' latency percentiles. */
#include "cb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

double cb_self_cpu(void) {
  struct rusage ru;

  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

double cb_machine_busy(void) {
  unsigned long long v[8] = {0};
  char line[512];
  FILE *f = fopen("/proc/stat", "r");
  int n = 0;

  if (f) {
    if (fgets(line, sizeof(line), f))
      n = sscanf(line, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                 &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
  }
  if (n < 8)
    return -1;
  /* user nice system (idle iowait) irq softirq steal */
  return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

/* Share of a CPU that neither the server nor we used over the window of
 * secs seconds: anything else running on the machine meanwhile. */
static double other_share(const struct cb_bench *b, double server_cpu, double secs) {
  double other = (b->busy1 - b->busy0) - server_cpu - (b->ucpu1 - b->ucpu0);

  if (b->busy0 < 0 || b->busy1 < 0 || secs <= 0)
    return -1;
  return other > 0 ? other / secs : 0;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* The q quantile of the sorted latencies, ms; -1 when there are none. */
static double quantile_ms(const uint32_t *v, uint64_t n, double q) {
  uint64_t i = (uint64_t)(q * (double)n);

  if (!n)
    return -1;
  return v[i < n ? i : n - 1] / 1000.0;
}

static void print_burst(struct cb_bench *b) {
  double secs = (b->t_last - b->t_send0) / 1e9, cpu = b->cpu1 - b->cpu0;
  double ucpu = b->ucpu1 - b->ucpu0;

  qsort(b->lat_us, b->nlat, sizeof(*b->lat_us), cmp_u32);
  if (secs <= 0)
    secs = 1e-9;
  printf(",\"deliveries\":%llu,\"expected\":%llu,\"loss\":%lld,\"complete\":%s,"
         "\"refused_sends\":%llu,\"seconds\":%.3f,\"deliveries_per_s\":%.0f,"
         "\"server_cpu_s\":%.3f,\"server_us_per_delivery\":%.4f,\"server_cpu_share\":%.2f,"
         "\"client_cpu_s\":%.3f,\"client_cpu_share\":%.2f,"
         "\"latency_ms_p50\":%.2f,\"latency_ms_p99\":%.2f,\"latency_ms_max\":%.2f,"
         "\"other_cpu_share\":%.2f",
         (unsigned long long)b->got, (unsigned long long)b->want,
         (long long)b->want - (long long)b->got, b->got >= b->want ? "true" : "false",
         (unsigned long long)b->refused, secs, b->got / secs, cpu,
         b->got ? cpu * 1e6 / (double)b->got : -1, cpu / secs, ucpu, ucpu / secs,
         quantile_ms(b->lat_us, b->nlat, 0.5), quantile_ms(b->lat_us, b->nlat, 0.99),
         quantile_ms(b->lat_us, b->nlat, 1.0), other_share(b, cpu, secs));
  if (b->o.server == CB_ONAIR)
    printf(",\"joins_settled\":%s,\"room_viewers_frames\":%llu",
           b->settled >= b->joined - b->lost ? "true" : "false",
           (unsigned long long)b->viewer_frames);
}

static void print_hold(struct cb_bench *b) {
  double secs = (b->t_hold1 - b->t_hold0) / 1e9, cpu = b->hold_cpu1 - b->hold_cpu0;

  printf(",\"hold_s\":%.2f,\"server_idle_cpu_share\":%.3f,\"client_cpu_share\":%.3f,"
         "\"other_cpu_share\":%.2f",
         secs, cpu / secs, (b->ucpu1 - b->ucpu0) / secs, other_share(b, cpu, secs));
}

void cb_print_result(struct cb_bench *b) {
  uint32_t n = b->joined ? b->joined : 1;
  double join_s = (b->t_joined - b->t_join0) / 1e9;

  printf("{\"server\":\"%s\",\"label\":\"%s\",\"mode\":\"%s\",\"viewers\":%u,\"messages\":%u,"
         "\"joined\":%u,\"failed\":%u,\"lost\":%u,\"errors\":%llu",
         b->proto->name, b->o.label, b->o.mode == CB_BURST ? "burst" : "idle", b->o.viewers,
         b->o.mode == CB_BURST ? b->o.messages : 0, b->joined, b->failed_conns, b->lost,
         (unsigned long long)b->errors);
  printf(",\"join_s\":%.3f,\"server_ms_cpu_per_join\":%.4f,\"rss_before_kib\":%ld,"
         "\"rss_after_kib\":%ld,\"server_kib_per_conn\":%.2f,\"server_rss_mib\":%.1f",
         join_s, (b->cpu_join1 - b->cpu_join0) * 1e3 / n, b->rss0, b->rss1,
         (double)(b->rss1 - b->rss0) / n, b->rss1 / 1024.0);
  if (b->o.mode == CB_BURST)
    print_burst(b);
  else
    print_hold(b);
  printf("}\n");
  fflush(stdout);
}
