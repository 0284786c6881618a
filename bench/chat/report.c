/* `report`: the JSON lines of a whole run (one per server, size and
 * repeat) as tables of medians over the repeats, the ratios onair / seed
 * per size, and one JSON line of it all. */
#include "cb.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS 4096
#define MAX_KEYS 64
#define MAX_LABELS 8

struct table {
  json_t *rows[MAX_ROWS]; /* borrowed from the array loaded */
  size_t nrows;
  char keys[MAX_KEYS][48]; /* "burst 1000x200", "idle 10000" in order of appearance */
  size_t nkeys;
  char labels[MAX_LABELS][32]; /* onair first, then seed, then the rest */
  size_t nlabels;
};

static void row_key(json_t *r, char *out, size_t cap) {
  const char *mode = json_string_value(json_object_get(r, "mode"));
  long long n = json_integer_value(json_object_get(r, "viewers"));
  long long m = json_integer_value(json_object_get(r, "messages"));

  if (mode && !strcmp(mode, "idle"))
    snprintf(out, cap, "idle %lld", n);
  else
    snprintf(out, cap, "burst %lldx%lld", n, m);
}

static int label_rank(const char *l) {
  return !strcmp(l, "onair") ? 0 : !strcmp(l, "seed") ? 1 : 2;
}

/* Labels in order of appearance, then onair first and seed second. */
static void add_label(struct table *t, const char *l) {
  size_t i;

  for (i = 0; i < t->nlabels; i++)
    if (!strcmp(t->labels[i], l))
      return;
  if (t->nlabels == MAX_LABELS || strlen(l) >= sizeof(t->labels[0]))
    return;
  for (i = t->nlabels++; i > 0 && label_rank(t->labels[i - 1]) > label_rank(l); i--)
    memcpy(t->labels[i], t->labels[i - 1], sizeof(t->labels[0]));
  snprintf(t->labels[i], sizeof(t->labels[i]), "%s", l);
}

static void add_row(struct table *t, json_t *r) {
  const char *label = json_string_value(json_object_get(r, "label"));
  char key[48];
  size_t i;

  if (!label || t->nrows == MAX_ROWS)
    return;
  t->rows[t->nrows++] = r;
  add_label(t, label);
  row_key(r, key, sizeof(key));
  for (i = 0; i < t->nkeys; i++)
    if (!strcmp(t->keys[i], key))
      return;
  if (t->nkeys < MAX_KEYS)
    snprintf(t->keys[t->nkeys++], sizeof(t->keys[0]), "%s", key);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The median of field f over the rows of key and label; NAN when none. */
static double median(const struct table *t, const char *key, const char *label, const char *f,
                     int *runs) {
  double v[MAX_ROWS];
  size_t i, n = 0;
  char k[48];

  for (i = 0; i < t->nrows; i++) {
    json_t *x = json_object_get(t->rows[i], f);
    row_key(t->rows[i], k, sizeof(k));
    if (strcmp(k, key) || strcmp(json_string_value(json_object_get(t->rows[i], "label")), label))
      continue;
    if (json_is_number(x) && json_number_value(x) >= 0)
      v[n++] = json_number_value(x);
  }
  if (runs)
    *runs = (int)n;
  if (!n)
    return NAN;
  qsort(v, n, sizeof(v[0]), cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct col {
  const char *head, *field;
  int width, decimals;
};

static const struct col burst_cols[] = {
    {"deliv/s", "deliveries_per_s", 9, 0},
    {"us CPU/deliv", "server_us_per_delivery", 12, 3},
    {"p50 ms", "latency_ms_p50", 8, 1},
    {"p99 ms", "latency_ms_p99", 8, 1},
    {"KiB/conn", "server_kib_per_conn", 9, 2},
    {"join s", "join_s", 7, 2},
    {"ms CPU/join", "server_ms_cpu_per_join", 11, 3},
    {"loss", "loss", 6, 0},
    {"closed", "lost", 6, 0},
    {"srv CPU", "server_cpu_share", 7, 2},
    {"cli CPU", "client_cpu_share", 7, 2},
    {"other", "other_cpu_share", 5, 2},
};

static const struct col idle_cols[] = {
    {"KiB/conn", "server_kib_per_conn", 9, 2},
    {"RSS MiB", "server_rss_mib", 8, 1},
    {"join s", "join_s", 7, 2},
    {"ms CPU/join", "server_ms_cpu_per_join", 11, 3},
    {"idle CPU", "server_idle_cpu_share", 8, 3},
    {"other", "other_cpu_share", 5, 2},
    {"failed", "failed", 6, 0},
};

/* One table: the rows of every key of that mode, medians per label; the
 * medians also go into sizes (key -> label -> field -> value). */
static void print_table(const struct table *t, int idle, json_t *sizes) {
  const struct col *cols = idle ? idle_cols : burst_cols;
  size_t ncols = idle ? sizeof(idle_cols) / sizeof(*cols) : sizeof(burst_cols) / sizeof(*cols);
  size_t k, l, c;
  int runs;

  for (k = 0; k < t->nkeys && (strncmp(t->keys[k], "idle", 4) == 0) != idle; k++)
    ;
  if (k == t->nkeys) /* no size of this mode */
    return;
  printf("\n%-8s %8s %5s %4s", "server", idle ? "sockets" : "viewers", idle ? "" : "msgs", "runs");
  for (c = 0; c < ncols; c++)
    printf(" %*s", cols[c].width, cols[c].head);
  printf("\n");
  for (k = 0; k < t->nkeys; k++) {
    long long n, m = 0;
    if ((strncmp(t->keys[k], "idle", 4) == 0) != idle)
      continue;
    if (idle ? sscanf(t->keys[k], "idle %lld", &n) != 1
             : sscanf(t->keys[k], "burst %lldx%lld", &n, &m) != 2)
      continue;
    for (l = 0; l < t->nlabels; l++) {
      json_t *entry = json_object();
      median(t, t->keys[k], t->labels[l], "join_s", &runs);
      if (!runs) {
        json_decref(entry);
        continue;
      }
      if (idle)
        printf("%-8s %8lld %5s %4d", t->labels[l], n, "", runs);
      else
        printf("%-8s %8lld %5lld %4d", t->labels[l], n, m, runs);
      for (c = 0; c < ncols; c++) {
        double v = median(t, t->keys[k], t->labels[l], cols[c].field, NULL);
        printf(" %*.*f", cols[c].width, cols[c].decimals, v);
        json_object_set_new(entry, cols[c].field, json_real(isnan(v) ? -1 : v));
      }
      printf("\n");
      if (!json_object_get(sizes, t->keys[k]))
        json_object_set_new(sizes, t->keys[k], json_object());
      json_object_set_new(json_object_get(sizes, t->keys[k]), t->labels[l], entry);
    }
  }
}

struct ratio {
  const char *name, *field;
};

static const struct ratio burst_ratios[] = {
    {"CPU/delivery", "server_us_per_delivery"},
    {"deliveries/s", "deliveries_per_s"},
    {"p99 latency", "latency_ms_p99"},
    {"memory/conn", "server_kib_per_conn"},
};

static const struct ratio idle_ratios[] = {
    {"memory/conn", "server_kib_per_conn"},
    {"RSS", "server_rss_mib"},
    {"CPU/join", "server_ms_cpu_per_join"},
};

static double field_of(json_t *entry, const char *f) {
  json_t *v = json_object_get(entry, f);
  return json_is_number(v) ? json_number_value(v) : -1;
}

/* onair / each other label, per size; into the size's "ratios_onair_over_<label>". */
static void print_ratios(json_t *sizes) {
  const char *key, *label;
  json_t *size, *peer;

  printf("\nRatios onair / peer (deliveries/s: above 1 favours onair; the rest: below 1 does)\n\n");
  json_object_foreach(sizes, key, size) {
    int idle = strncmp(key, "idle", 4) == 0;
    const struct ratio *r = idle ? idle_ratios : burst_ratios;
    size_t nr = idle ? sizeof(idle_ratios) / sizeof(*r) : sizeof(burst_ratios) / sizeof(*r), i;
    json_t *onair = json_object_get(size, "onair"), *add;
    void *it;
    if (!onair)
      continue;
    add = json_object();
    for (it = json_object_iter(size); it; it = json_object_iter_next(size, it)) {
      char name[64];
      json_t *out = json_object();
      label = json_object_iter_key(it);
      peer = json_object_iter_value(it);
      if (!strcmp(label, "onair") || !strncmp(label, "ratios", 6)) {
        json_decref(out);
        continue;
      }
      printf("  %-15s vs %-6s", key, label);
      for (i = 0; i < nr; i++) {
        double a = field_of(onair, r[i].field), b = field_of(peer, r[i].field);
        double q = a >= 0 && b > 0 ? a / b : NAN;
        printf("  %s %.3f", r[i].name, q);
        json_object_set_new(out, r[i].field, json_real(isnan(q) ? -1 : q));
      }
      printf("\n");
      snprintf(name, sizeof(name), "ratios_onair_over_%s", label);
      json_object_set_new(add, name, out);
    }
    json_object_update(size, add); /* not while iterating over size */
    json_decref(add);
  }
}

int cb_report(const char *path) {
  json_t *all = json_array(), *sizes = json_object(), *out;
  struct table *t = calloc(1, sizeof(*t));
  char line[16384];
  FILE *f = fopen(path, "r");
  size_t i;
  int rc = -1;

  if (!f || !t || !all || !sizes) {
    cb_log("cannot read %s", path);
    goto out;
  }
  while (fgets(line, sizeof(line), f)) {
    json_t *r = json_loads(line, 0, NULL);
    if (json_is_object(r))
      json_array_append_new(all, r);
    else
      json_decref(r);
  }
  for (i = 0; i < json_array_size(all); i++)
    add_row(t, json_array_get(all, i));
  if (!t->nrows) {
    cb_log("no results in %s", path);
    goto out;
  }
  printf("Chat fan-out, one run on this machine (medians over runs)\n");
  print_table(t, 0, sizes);
  print_table(t, 1, sizes);
  print_ratios(sizes);
  out = json_pack("{s:s, s:O, s:O}", "benchmark", "chat", "sizes", sizes, "runs", all);
  printf("\nJSON:\n");
  json_dumpf(out, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
  printf("\n");
  json_decref(out);
  rc = 0;
out:
  if (f)
    fclose(f);
  free(t);
  json_decref(all);
  json_decref(sizes);
  return rc;
}
