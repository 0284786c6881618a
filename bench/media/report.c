/* The report of a whole bench/run-media.sh run, from the JSON lines the
 * runs and the floor appended to one file: a table per profile, server and
 * N; the ratios at every N both servers carried (Janus's CPU per forwarded
 * packet over onair's; onair's over the floor; each variant of onair, such
 * as onair-nogso or onair-w2, over the reference onair); per server the
 * largest N carried under the loss limit, per core, and whose limit stopped
 * it; everything as one JSON line after "JSON:"; gnuplot data and script;
 * the table as Markdown for bench/RESULTS.md. */
#include "emu.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LABELS 8

static const char *profiles[] = {"gcm", "cm"};
/* The servers of the run as the rows name them ("onair", "janus",
 * "onair-nogso", ...), in the order they first appear; they point into the
 * rows. ref is the one the others are compared with: "onair" if it ran,
 * else the first variant of onair, else NULL. */
static const char *servers[MAX_LABELS];
static size_t nservers;
static const char *ref;

static double num(json_t *row, const char *key) {
  json_t *v = json_object_get(row, key);

  return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *str(json_t *row, const char *key) {
  const char *s = json_string_value(json_object_get(row, key));

  return s ? s : "";
}

static int is(json_t *row, const char *kind, const char *server, const char *profile) {
  return !strcmp(str(row, "kind"), kind) && (!server || !strcmp(str(row, "server"), server)) &&
         (!profile || !strcmp(str(row, "profile"), profile));
}

static json_t *load(const char *path) {
  json_t *rows = json_array();
  char *line = NULL;
  size_t cap = 0;
  FILE *f = fopen(path, "r");

  if (!f)
    return rows;
  while (getline(&line, &cap, f) > 0) {
    json_t *row = json_loads(line, 0, NULL);
    if (json_is_object(row))
      json_array_append_new(rows, row);
    else
      json_decref(row);
  }
  free(line);
  fclose(f);
  return rows;
}

/* The step of server and profile with n viewers, or NULL. */
static json_t *step_at(json_t *rows, const char *server, const char *profile, double n) {
  size_t i;
  json_t *row;

  json_array_foreach(rows, i,
                     row) if (is(row, "step", server, profile) && num(row, "n") == n) return row;
  return NULL;
}

static int is_onair(const char *label) {
  return !strncmp(label, "onair", 5) && (label[5] == '\0' || label[5] == '-');
}

static void find_servers(json_t *rows) {
  size_t i, k;
  json_t *row;

  nservers = 0;
  ref = NULL;
  json_array_foreach(rows, i, row) {
    const char *l = str(row, "server");
    if (!is(row, "step", NULL, NULL))
      continue;
    for (k = 0; k < nservers && strcmp(servers[k], l); k++)
      ;
    if (k == nservers && nservers < MAX_LABELS)
      servers[nservers++] = l;
  }
  for (k = 0; k < nservers; k++)
    if (!strcmp(servers[k], "onair"))
      ref = servers[k];
  for (k = 0; k < nservers && !ref; k++)
    if (is_onair(servers[k]))
      ref = servers[k];
}

/* The last row of kind ("floor", or "floor_rx_server": the floor with the
 * receive path on the sender's CPU, which run-media.sh measures too when
 * the viewers' receive path is on the emulator's), or NULL. */
static json_t *floor_row(json_t *rows, const char *kind) {
  json_t *row, *last = NULL;
  size_t i;

  json_array_foreach(rows, i, row) if (is(row, kind, NULL, NULL)) last = row;
  return last;
}

/* The emulator's CPUs were saturated at a step the server met in every
 * way (loss, delay, shortfall, joins at run.c's defaults): the run went no
 * higher, but the server carried it. */
static int emu_saturated_only(json_t *row) {
  return row && !strcmp(str(row, "limit"), "emulator") && num(row, "loss_pct") <= 0.5 &&
         num(row, "delay_ms_p99") <= 1000 && !(num(row, "behind_pct") > 2) &&
         !(num(row, "join_failed") > num(row, "n") * 0.005);
}

/* A step the server carried: loss within the limit, not behind (a limit of
 * "emulator-drops" says only that the emulator dropped a few). */
static int carried(json_t *row) {
  return row && (!strcmp(str(row, "limit"), "") || !strcmp(str(row, "limit"), "emulator-drops") ||
                 emu_saturated_only(row));
}

static int by_us(const void *a, const void *b) {
  double x = num(*(json_t *const *)a, "us_per_pkt"), y = num(*(json_t *const *)b, "us_per_pkt");

  return x < y ? -1 : x > y;
}

/* The steps of one server, profile and N over run-media.sh's REPEATS, as
 * one row: the median repeat's, with the median CPU per packet. When most
 * repeats carried the N only those count; otherwise the row is one that
 * did not (and says why). repeats, carried_repeats, us_min and us_max tell
 * the spread. */
static json_t *merge_group(json_t **g, size_t k) {
  json_t *out;
  size_t c = 0, m = 0, i;
  int want;

  for (i = 0; i < k; i++)
    c += carried(g[i]) != 0;
  want = c * 2 > k;
  for (i = 0; i < k; i++) /* the pool first */
    if ((carried(g[i]) != 0) == want) {
      json_t *t = g[m];
      g[m++] = g[i];
      g[i] = t;
    }
  qsort(g, m, sizeof(*g), by_us);
  out = json_deep_copy(g[m / 2]);
  json_object_set_new(
      out, "us_per_pkt",
      json_real(m % 2 ? num(g[m / 2], "us_per_pkt")
                      : (num(g[m / 2 - 1], "us_per_pkt") + num(g[m / 2], "us_per_pkt")) / 2));
  json_object_set_new(out, "repeats", json_integer((json_int_t)k));
  json_object_set_new(out, "carried_repeats", json_integer((json_int_t)c));
  json_object_set_new(out, "us_min", json_real(num(g[0], "us_per_pkt")));
  json_object_set_new(out, "us_max", json_real(num(g[m - 1], "us_per_pkt")));
  return out;
}

/* The rows with each server's, profile's and N's steps merged into one
 * (merge_group), in the order their first step came. */
static json_t *merge_repeats(json_t *rows) {
  json_t *out = json_array(), *r, *s, *g[64];
  size_t i, j, k;

  json_array_foreach(rows, i, r) {
    int seen = 0;
    if (!is(r, "step", NULL, NULL)) {
      json_array_append(out, r);
      continue;
    }
    for (j = 0; j < i && !seen; j++) {
      s = json_array_get(rows, j);
      seen = is(s, "step", str(r, "server"), str(r, "profile")) && num(s, "n") == num(r, "n");
    }
    if (seen)
      continue;
    k = 0;
    json_array_foreach(rows, j, s) if (k < 64 &&
                                       is(s, "step", str(r, "server"), str(r, "profile")) &&
                                       num(s, "n") == num(r, "n")) g[k++] = s;
    json_array_append_new(out, merge_group(g, k));
  }
  return out;
}

static void table_header(FILE *o) {
  fprintf(o, "%-7s %-11s %5s %5s %8s %11s %9s %7s %8s %8s %8s %8s %8s %6s %6s %6s %5s  %s\n",
          "profile", "server", "N", "live", "us/pkt", "range(reps)", "pkt/s", "loss%", "KiB/view",
          "p50 ms", "p99 ms", "join p50", "join max", "srvCPU", "other", "emuCPU", "drops",
          "limit");
}

static void table_row(FILE *o, json_t *r) {
  char range[32] = "";

  if (num(r, "repeats") > 1)
    snprintf(range, sizeof(range), "%.1f-%.1f(%.0f)", num(r, "us_min"), num(r, "us_max"),
             num(r, "repeats"));
  fprintf(o,
          "%-7s %-11s %5.0f %5.0f %8.2f %11s %9.0f %7.3f %8.1f %8.2f %8.2f %8.0f %8.0f %6.2f %6.2f "
          "%6.2f "
          "%5.0f  %s\n",
          str(r, "profile"), str(r, "server"), num(r, "n"), num(r, "live"), num(r, "us_per_pkt"),
          range, num(r, "pps"), num(r, "loss_pct"), num(r, "kib_per_viewer"),
          num(r, "delay_ms_p50"), num(r, "delay_ms_p99"), num(r, "join_ms_p50"),
          num(r, "join_ms_max"), num(r, "server_cpu"), num(r, "server_other"), num(r, "emu_cpu"),
          num(r, "emu_drops") + (isfinite(num(r, "backlog_drops")) ? num(r, "backlog_drops") : 0),
          str(r, "limit"));
}

static void print_table(FILE *o, json_t *rows) {
  size_t i, p, s;
  json_t *row;

  table_header(o);
  for (p = 0; p < 2; p++)
    for (s = 0; s < nservers; s++)
      json_array_foreach(rows, i, row) if (is(row, "step", servers[s], profiles[p]))
          table_row(o, row);
}

/* Other work on the server's CPUs during a window (column "other"). */
static void busy_warning(FILE *o, json_t *rows) {
  double worst = 0;
  size_t i;
  json_t *r;

  json_array_foreach(rows, i, r) if (is(r, "step", NULL, NULL)) worst =
      fmax(worst, num(r, "server_other"));
  if (worst > 0.05)
    fprintf(o,
            "\nWARNING: other processes used up to %.0f %% of a server CPU during a window: "
            "those rows (column \"other\") are not reliable; run again on a quiet machine.\n",
            100 * worst);
}

/* Per profile and N of the reference onair: Janus's CPU per packet over
 * its, and its over the floor. */
static json_t *ratios(FILE *o, json_t *rows, json_t *fl) {
  json_t *out = json_array(), *r;
  size_t i;

  json_array_foreach(rows, i, r) {
    const char *p = str(r, "profile");
    json_t *j = step_at(rows, "janus", p, num(r, "n"));
    double on = num(r, "us_per_pkt"), floor_us = num(fl, "gcm_us");
    double floor_p = num(fl, strcmp(p, "gcm") ? "cm_us" : "gcm_us");
    double jr = carried(r) && carried(j) ? num(j, "us_per_pkt") / on : NAN;
    if (!ref || !is(r, "step", ref, NULL))
      continue;
    fprintf(o, "%-3s N=%-5.0f Janus/%s CPU per packet %6.2f   %s/floor %5.2f (GCM floor %.2f us", p,
            num(r, "n"), ref, jr, ref, on / floor_us, floor_us);
    if (strcmp(p, "gcm"))
      fprintf(o, "; %s/CM floor %.2f", ref, on / floor_p);
    fprintf(o, ")%s\n",
            carried(j) ? ""
            : j        ? "  (Janus did not carry this N)"
                       : "  (Janus not measured at this N)");
    json_array_append_new(out,
                          json_pack("{s:s,s:s,s:f,s:o,s:o,s:o,s:o}", "profile", p, "onair", ref,
                                    "n", num(r, "n"), "onair_us", json_real(on), "janus_us",
                                    j ? json_real(num(j, "us_per_pkt")) : json_null(),
                                    "janus_over_onair", isfinite(jr) ? json_real(jr) : json_null(),
                                    "onair_over_floor", json_real(on / floor_us)));
  }
  return out;
}

static void floor_note(FILE *o, json_t *fl, json_t *flrx) {
  if (fl && flrx)
    fprintf(o,
            "floor: GCM %.2f us, CM %.2f us; with the receive path on the sender's CPU (as "
            "RX_ON_EMU=0): GCM %.2f us, CM %.2f us\n",
            num(fl, "gcm_us"), num(fl, "cm_us"), num(flrx, "gcm_us"), num(flrx, "cm_us"));
}

/* Each variant of onair (onair-nogso, onair-w2, ...) against the reference,
 * per profile and N both carried: its CPU per packet over the reference's
 * (above 1: the variant costs more), and the median of those ratios. */
static json_t *variants(FILE *o, json_t *rows) {
  json_t *out = json_array(), *r;
  double v[64];
  size_t i, k, p, nv;

  for (k = 0; k < nservers; k++) {
    if (!ref || servers[k] == ref || !is_onair(servers[k]))
      continue;
    for (p = 0; p < 2; p++) {
      nv = 0;
      json_array_foreach(rows, i, r) {
        json_t *b = step_at(rows, ref, profiles[p], num(r, "n"));
        double x;
        if (!is(r, "step", servers[k], profiles[p]) || !carried(r) || !carried(b))
          continue;
        x = num(r, "us_per_pkt") / num(b, "us_per_pkt");
        fprintf(o, "%-3s N=%-5.0f %s/%s CPU per packet %5.2f (%.2f and %.2f us)\n", profiles[p],
                num(r, "n"), servers[k], ref, x, num(r, "us_per_pkt"), num(b, "us_per_pkt"));
        if (nv < 64)
          v[nv++] = x;
        json_array_append_new(out,
                              json_pack("{s:s,s:s,s:s,s:f,s:f}", "profile", profiles[p], "variant",
                                        servers[k], "onair", ref, "n", num(r, "n"), "ratio", x));
      }
      if (nv) {
        size_t a, c;
        for (a = 1; a < nv; a++) /* insertion sort: a handful */
          for (c = a; c > 0 && v[c - 1] > v[c]; c--) {
            double t = v[c];
            v[c] = v[c - 1];
            v[c - 1] = t;
          }
        fprintf(o, "%-3s %s/%s CPU per packet: median %.2f over %zu N, %.2f to %.2f\n", profiles[p],
                servers[k], ref, nv % 2 ? v[nv / 2] : (v[nv / 2 - 1] + v[nv / 2]) / 2, nv, v[0],
                v[nv - 1]);
      }
    }
  }
  return out;
}

/* The joins of the steps carried: how many viewers started on a keyframe,
 * packets missing between a viewer's first packet and its first window,
 * the slowest join. */
static void join_line(FILE *o, json_t *rows, const char *server, const char *profile) {
  double joined = 0, on_key = 0, lost = 0, slowest = 0, prev = 0, dec = 0, failed = 0;
  size_t i;
  json_t *r;

  json_array_foreach(rows, i, r) {
    if (!is(r, "step", server, profile))
      continue;
    if (carried(r)) {
      joined += num(r, "n") - prev;
      on_key += num(r, "start_on_key");
      lost += num(r, "join_lost");
      slowest = fmax(slowest, num(r, "join_ms_max"));
    }
    prev = num(r, "n");
    dec = fmax(dec, num(r, "decrypted")); /* both count from the run's start */
    failed = fmax(failed, num(r, "decrypt_failed"));
  }
  fprintf(o,
          "        joins: %.0f of %.0f started on a keyframe, %.0f packets lost at join, slowest "
          "%.0f ms; %.0f packets decrypted and checked, %.0f failed\n",
          on_key, joined, lost, slowest, dec, failed);
}

/* Per server and profile: the largest N carried, per core of the
 * server's, and what stopped it. */
static json_t *summary(FILE *o, json_t *rows) {
  json_t *out = json_array(), *r, *best, *stop;
  size_t i, p, s;
  double cores = 1;

  for (p = 0; p < 2; p++)
    for (s = 0; s < nservers; s++) {
      best = stop = NULL;
      json_array_foreach(rows, i, r) {
        if (!is(r, "step", servers[s], profiles[p]))
          continue;
        if (carried(r))
          best = r;
        else if (!stop)
          stop = r;
      }
      if (!best && !stop)
        continue;
      cores = num(best ? best : stop, "server_cores");
      if (!(cores >= 1))
        cores = 1; /* rows of a run before server_cores: one core, as it ran then */
      fprintf(o,
              "%-11s %-3s most viewers carried: %5.0f, %.0f per core of the server's %.0f (%.1f "
              "KiB/viewer, p99 delay %.2f ms)%s\n",
              servers[s], profiles[p], best ? num(best, "n") : 0, best ? num(best, "n") / cores : 0,
              cores, num(best, "kib_per_viewer"), num(best, "delay_ms_p99"),
              stop                       ? ""
              : emu_saturated_only(best) ? ", where the emulator's CPUs were saturated"
                                         : ", every N asked");
      if (stop)
        fprintf(o,
                "        stopped at N=%.0f by the %s (loss %.3f %%, %.1f %% behind, p99 delay %.0f "
                "ms, emulator %.0f %% of a core, its CPUs %.0f %% busy, %.0f socket drops, %.0f "
                "backlog drops)\n",
                num(stop, "n"), str(stop, "limit"), num(stop, "loss_pct"), num(stop, "behind_pct"),
                num(stop, "delay_ms_p99"), 100 * num(stop, "emu_cpu"), 100 * num(stop, "emu_busy"),
                num(stop, "emu_drops"), num(stop, "backlog_drops"));
      join_line(o, rows, servers[s], profiles[p]);
      json_array_append_new(out, json_pack("{s:s,s:s,s:f,s:f,s:f,s:s}", "server", servers[s],
                                           "profile", profiles[p], "max_n",
                                           best ? num(best, "n") : 0.0, "server_cores", cores,
                                           "per_core", best ? num(best, "n") / cores : 0.0,
                                           "stopped_by", stop ? str(stop, "limit") : ""));
    }
  if (nservers)
    fprintf(o,
            "Viewers per machine: not measured. This machine has %ld CPUs; the server had %.0f "
            "and the emulator the rest, so the figure per core is the one this run can give. A "
            "figure per machine needs the emulator on another machine (or more cores than the "
            "server and the emulator use together).\n",
            sysconf(_SC_NPROCESSORS_ONLN), cores);
  return out;
}

/* PREFIX.dat (one block per server and profile: N, us/pkt, loss %) and
 * PREFIX.gp, which gnuplot turns into PREFIX.png. */
static void plot_files(const char *prefix, json_t *rows, json_t *fl, const char *title) {
  char path[1024];
  size_t i, p, s, idx;
  json_t *r;
  FILE *d, *g;
  int col;

  snprintf(path, sizeof(path), "%s.dat", prefix);
  if (!(d = fopen(path, "w")))
    return;
  for (p = 0; p < 2; p++)
    for (s = 0; s < nservers; s++) {
      fprintf(d, "# %s %s: N us_per_pkt loss_pct\n", servers[s], profiles[p]);
      json_array_foreach(rows, i, r) if (is(r, "step", servers[s], profiles[p]))
          fprintf(d, "%.0f %.4f %.4f\n", num(r, "n"), num(r, "us_per_pkt"), num(r, "loss_pct"));
      /* gnuplot cannot plot an empty block: a point off the axes keeps the indexes */
      fprintf(d, "-1 NaN NaN\n\n\n");
    }
  fclose(d);
  snprintf(path, sizeof(path), "%s.gp", prefix);
  if (!(g = fopen(path, "w")))
    return;
  fprintf(g, "set terminal pngcairo size 1000,900 font 'sans,10'\nset output '%s.png'\n", prefix);
  fprintf(g, "set multiplot layout 2,1 title \"%s\"\nset logscale x\nset grid\n", title);
  fprintf(g, "set key outside right\nset xlabel 'viewers (N)'\nset xrange [10:*]\n");
  for (col = 2; col <= 3; col++) {
    fprintf(g, "set yrange [0:*]\nset ylabel '%s'\nplot ",
            col == 2 ? "server CPU us per forwarded packet" : "loss %");
    for (idx = 0, p = 0; p < 2; p++)
      for (s = 0; s < nservers; s++, idx++)
        fprintf(g, "%s'%s.dat' index %zu u 1:%d w lp lw 2 t '%s %s'", idx ? ", " : "", prefix, idx,
                col, servers[s], p ? "AES-CM" : "AES-GCM");
    if (col == 2)
      fprintf(g,
              ", %f w l dt 2 lw 2 t 'floor: GCM seal + sendmmsg', %f w l dt 3 "
              "t 'floor: CM+HMAC + sendmmsg'",
              num(fl, "gcm_us"), num(fl, "cm_us"));
    fprintf(g, "\n");
  }
  fprintf(g, "unset multiplot\n");
  fclose(g);
}

int mb_report_main(int argc, char **argv) {
  const char *in = NULL, *plot = NULL, *md = NULL, *title = "onair and Janus: media forwarding";
  json_t *rows, *fl, *flrx, *all, *rat, *var, *sum;
  char *text;
  FILE *m;
  int i;

  for (i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--in"))
      in = argv[i + 1];
    else if (!strcmp(argv[i], "--plot"))
      plot = argv[i + 1];
    else if (!strcmp(argv[i], "--markdown"))
      md = argv[i + 1];
    else if (!strcmp(argv[i], "--title"))
      title = argv[i + 1];
  }
  if (!in)
    return fprintf(stderr, "report: --in FILE is needed\n"), 2;
  all = load(in);
  rows = merge_repeats(all);
  json_decref(all);
  find_servers(rows);
  fl = floor_row(rows, "floor");
  flrx = floor_row(rows, "floor_rx_server");
  print_table(stdout, rows);
  busy_warning(stdout, rows);
  printf("\n");
  rat = ratios(stdout, rows, fl);
  floor_note(stdout, fl, flrx);
  printf("\n");
  var = variants(stdout, rows);
  if (json_array_size(var))
    printf("\n");
  sum = summary(stdout, rows);
  all =
      json_pack("{s:O,s:o,s:o,s:o}", "rows", rows, "ratios", rat, "variants", var, "summary", sum);
  if (md && (m = fopen(md, "w"))) {
    fprintf(m, "```\n");
    print_table(m, rows);
    busy_warning(m, rows);
    fprintf(m, "\n");
    json_decref(ratios(m, rows, fl));
    floor_note(m, fl, flrx);
    fprintf(m, "\n");
    if (json_array_size(var)) {
      json_decref(variants(m, rows));
      fprintf(m, "\n");
    }
    json_decref(summary(m, rows));
    fprintf(m, "```\n");
    fclose(m);
  }
  if (plot)
    plot_files(plot, rows, fl, title);
  text = json_dumps(all, JSON_COMPACT);
  printf("\nJSON: %s\n", text ? text : "{}");
  free(text);
  json_decref(all);
  json_decref(rows);
  return 0;
}
