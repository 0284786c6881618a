/* Another process's figures from the kernel, for the benchmark programs
 * (bench/media, bench/chat). */
#ifndef ONAIR_BENCH_PROC_H
#define ONAIR_BENCH_PROC_H

/* Seconds of CPU of every thread of pid, exited ones included: its process
 * CPU clock (ns), else utime+stime of /proc/<pid>/stat (clock ticks); -1
 * when neither can be read. */
double bench_proc_cpu_s(int pid);
/* VmRSS in KiB, -1 when unreadable. */
long bench_proc_rss_kib(int pid);

#endif
