/* The report of a whole bench/run-media.sh run, from the JSON lines the
 * runs and the floor appended to one file: a table per profile, server and
 * N; the ratios at every N both servers carried (Janus's CPU per forwarded
 * packet over onair's; onair's over the floor); per server the largest N
 * carried under the loss limit and whose limit stopped it; everything as
 * one JSON line after "JSON:"; gnuplot data and script; the table as
 * Markdown for bench/RESULTS.md. */
#include "emu.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *profiles[] = {"gcm", "cm"};
static const char *servers[] = {"onair", "janus"};

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

static json_t *floor_row(json_t *rows) {
  json_t *row, *last = NULL;
  size_t i;

  json_array_foreach(rows, i, row) if (is(row, "floor", NULL, NULL)) last = row;
  return last;
}

/* A step the server carried: loss within the limit, not behind (a limit of
 * "emulator-drops" says only that the emulator dropped a few). */
static int carried(json_t *row) {
  return row && (!strcmp(str(row, "limit"), "") || !strcmp(str(row, "limit"), "emulator-drops"));
}

static void table_header(FILE *o) {
  fprintf(o, "%-7s %-5s %5s %5s %8s %9s %7s %8s %8s %8s %8s %8s %6s %6s %6s %5s  %s\n", "profile",
          "server", "N", "live", "us/pkt", "pkt/s", "loss%", "KiB/view", "p50 ms", "p99 ms",
          "join p50", "join max", "srvCPU", "other", "emuCPU", "drops", "limit");
}

static void table_row(FILE *o, json_t *r) {
  fprintf(o,
          "%-7s %-5s %5.0f %5.0f %8.2f %9.0f %7.3f %8.1f %8.2f %8.2f %8.0f %8.0f %6.2f %6.2f %6.2f "
          "%5.0f  %s\n",
          str(r, "profile"), str(r, "server"), num(r, "n"), num(r, "live"), num(r, "us_per_pkt"),
          num(r, "pps"), num(r, "loss_pct"), num(r, "kib_per_viewer"), num(r, "delay_ms_p50"),
          num(r, "delay_ms_p99"), num(r, "join_ms_p50"), num(r, "join_ms_max"),
          num(r, "server_cpu"), num(r, "server_other"), num(r, "emu_cpu"), num(r, "emu_drops"),
          str(r, "limit"));
}

static void print_table(FILE *o, json_t *rows) {
  size_t i, p, s;
  json_t *row;

  table_header(o);
  for (p = 0; p < 2; p++)
    for (s = 0; s < 2; s++)
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

static json_t *ratios(FILE *o, json_t *rows, json_t *fl) {
  json_t *out = json_array(), *r;
  size_t i;

  json_array_foreach(rows, i, r) {
    const char *p = str(r, "profile");
    json_t *j = step_at(rows, "janus", p, num(r, "n"));
    double on = num(r, "us_per_pkt"), floor_us = num(fl, "gcm_us");
    double floor_p = num(fl, strcmp(p, "gcm") ? "cm_us" : "gcm_us");
    double jr = carried(r) && carried(j) ? num(j, "us_per_pkt") / on : NAN;
    if (!is(r, "step", "onair", NULL))
      continue;
    fprintf(o,
            "%-3s N=%-5.0f Janus/onair CPU per packet %6.2f   onair/floor %5.2f (GCM floor %.2f us",
            p, num(r, "n"), jr, on / floor_us, floor_us);
    if (strcmp(p, "gcm"))
      fprintf(o, "; onair/CM floor %.2f", on / floor_p);
    fprintf(o, ")%s\n",
            carried(j) ? ""
            : j        ? "  (Janus did not carry this N)"
                       : "  (Janus not measured at this N)");
    json_array_append_new(
        out, json_pack("{s:s,s:f,s:o,s:o,s:o,s:o}", "profile", p, "n", num(r, "n"), "onair_us",
                       json_real(on), "janus_us", j ? json_real(num(j, "us_per_pkt")) : json_null(),
                       "janus_over_onair", isfinite(jr) ? json_real(jr) : json_null(),
                       "onair_over_floor", json_real(on / floor_us)));
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

/* Per server and profile: the largest N carried, and what stopped it. */
static json_t *summary(FILE *o, json_t *rows) {
  json_t *out = json_array(), *r, *best, *stop;
  size_t i, p, s;

  for (p = 0; p < 2; p++)
    for (s = 0; s < 2; s++) {
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
      fprintf(o, "%-5s %-3s most viewers carried: %5.0f (%.1f KiB/viewer, p99 delay %.2f ms)%s\n",
              servers[s], profiles[p], best ? num(best, "n") : 0, num(best, "kib_per_viewer"),
              num(best, "delay_ms_p99"), stop ? "" : ", every N asked");
      if (stop)
        fprintf(o,
                "        stopped at N=%.0f by the %s (loss %.3f %%, %.1f %% behind, p99 delay %.0f "
                "ms, emulator %.0f %% of a core, %.0f socket drops)\n",
                num(stop, "n"), str(stop, "limit"), num(stop, "loss_pct"), num(stop, "behind_pct"),
                num(stop, "delay_ms_p99"), 100 * num(stop, "emu_cpu"), num(stop, "emu_drops"));
      join_line(o, rows, servers[s], profiles[p]);
      json_array_append_new(out, json_pack("{s:s,s:s,s:f,s:s}", "server", servers[s], "profile",
                                           profiles[p], "max_n", best ? num(best, "n") : 0.0,
                                           "stopped_by", stop ? str(stop, "limit") : ""));
    }
  return out;
}

/* PREFIX.dat (one block per server and profile: N, us/pkt, loss %) and
 * PREFIX.gp, which gnuplot turns into PREFIX.png. */
static void plot_files(const char *prefix, json_t *rows, json_t *fl, const char *title) {
  char path[1024];
  size_t i, p, s;
  json_t *r;
  FILE *d, *g;

  snprintf(path, sizeof(path), "%s.dat", prefix);
  if (!(d = fopen(path, "w")))
    return;
  for (p = 0; p < 2; p++)
    for (s = 0; s < 2; s++) {
      fprintf(d, "# %s %s: N us_per_pkt loss_pct\n", servers[s], profiles[p]);
      json_array_foreach(rows, i, r) if (is(r, "step", servers[s], profiles[p]))
          fprintf(d, "%.0f %.4f %.4f\n", num(r, "n"), num(r, "us_per_pkt"), num(r, "loss_pct"));
      fprintf(d, "\n\n");
    }
  fclose(d);
  snprintf(path, sizeof(path), "%s.gp", prefix);
  if (!(g = fopen(path, "w")))
    return;
  fprintf(g, "set terminal pngcairo size 1000,900 font 'sans,10'\nset output '%s.png'\n", prefix);
  fprintf(g, "set multiplot layout 2,1 title \"%s\"\nset logscale x\nset grid\n", title);
  fprintf(g, "set key outside right\nset xlabel 'viewers (N)'\nset yrange [0:*]\n");
  fprintf(g, "set ylabel 'server CPU us per forwarded packet'\n");
  fprintf(g,
          "plot '%s.dat' index 0 u 1:2 w lp lw 2 t 'onair AES-GCM', '' index 1 u 1:2 w lp lw 2 "
          "t 'Janus AES-GCM', '' index 2 u 1:2 w lp lw 2 t 'onair AES-CM', '' index 3 u 1:2 w lp "
          "lw 2 t 'Janus AES-CM', %f w l dt 2 lw 2 t 'floor: GCM seal + sendmmsg', %f w l dt 3 "
          "t 'floor: CM+HMAC + sendmmsg'\n",
          prefix, num(fl, "gcm_us"), num(fl, "cm_us"));
  fprintf(g, "set ylabel 'loss %%'\nset yrange [0:*]\n");
  fprintf(g,
          "plot '%s.dat' index 0 u 1:3 w lp lw 2 t 'onair AES-GCM', '' index 1 u 1:3 w lp lw 2 "
          "t 'Janus AES-GCM', '' index 2 u 1:3 w lp lw 2 t 'onair AES-CM', '' index 3 u 1:3 w lp "
          "lw 2 t 'Janus AES-CM'\nunset multiplot\n",
          prefix);
  fclose(g);
}

int mb_report_main(int argc, char **argv) {
  const char *in = NULL, *plot = NULL, *md = NULL, *title = "onair and Janus: media forwarding";
  json_t *rows, *fl, *all, *rat, *sum;
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
  rows = load(in);
  fl = floor_row(rows);
  print_table(stdout, rows);
  busy_warning(stdout, rows);
  printf("\n");
  rat = ratios(stdout, rows, fl);
  printf("\n");
  sum = summary(stdout, rows);
  all = json_pack("{s:O,s:o,s:o}", "rows", rows, "ratios", rat, "summary", sum);
  if (md && (m = fopen(md, "w"))) {
    fprintf(m, "```\n");
    print_table(m, rows);
    busy_warning(m, rows);
    fprintf(m, "\n");
    json_decref(ratios(m, rows, fl));
    fprintf(m, "\n");
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
