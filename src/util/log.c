#include "util/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The process logs to one stderr at one level and in one format, set at
 * start (and by tests) before any loop runs; every loop reads them. */
enum log_level log_min_level = LOG_INFO;
int log_format_json = 0;

#define LOG_LINE_MAX 8192 /* bytes; a longer event is cut (and still ends its line) */

static const char *const level_names[] = {"debug", "info", "warn", "error"};

struct line {
  char buf[LOG_LINE_MAX];
  size_t len;
};

static void put_raw(struct line *l, const char *s, size_t n) {
  if (n > sizeof(l->buf) - 1 - l->len)
    n = sizeof(l->buf) - 1 - l->len;
  memcpy(l->buf + l->len, s, n);
  l->len += n;
}

static void put(struct line *l, const char *s) { put_raw(l, s, strlen(s)); }

/* s, escaped for inside double quotes (JSON and logfmt alike). */
static void put_escaped(struct line *l, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[8];
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      put_raw(l, esc, 2);
    } else if (*p < 0x20 || *p == 0x7f) {
      snprintf(esc, sizeof(esc), "\\u%04x", *p);
      put(l, esc);
    } else {
      put_raw(l, (const char *)p, 1);
    }
  }
}

/* logfmt leaves a value bare when it is one plain token. */
static int needs_quotes(const char *s) {
  if (*s == 0)
    return 1;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
      return 1;
  }
  return 0;
}

static void put_value(struct line *l, const struct log_field *f) {
  char num[24];
  if (f->str == NULL) {
    snprintf(num, sizeof(num), "%" PRId64, f->num);
    put(l, num);
  } else if (log_format_json || needs_quotes(f->str)) {
    put(l, "\"");
    put_escaped(l, f->str);
    put(l, "\"");
  } else {
    put(l, f->str);
  }
}

static void put_time(struct line *l) {
  struct timespec ts;
  struct tm tm;
  char t[64];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(t, sizeof(t), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
  put(l, t);
}

void log_fields(enum log_level level, const char *msg, const struct log_field *fields, size_t n) {
  if (level < log_min_level)
    return;
  struct line l = {.len = 0};
  const char *sep = log_format_json ? "," : " ";
  put(&l, log_format_json ? "{\"time\":\"" : "time=");
  put_time(&l);
  put(&l, log_format_json ? "\",\"level\":\"" : " level=");
  put(&l, level_names[level]);
  put(&l, log_format_json ? "\",\"msg\":" : " msg=");
  struct log_field m = LOG_S("msg", msg);
  put_value(&l, &m);
  for (size_t i = 0; i < n; i++) {
    put(&l, sep);
    put(&l, log_format_json ? "\"" : "");
    put(&l, fields[i].key);
    put(&l, log_format_json ? "\":" : "=");
    put_value(&l, &fields[i]);
  }
  put(&l, log_format_json ? "}\n" : "\n");
  if (l.buf[l.len - 1] != '\n') { /* cut: the line still ends */
    l.len = sizeof(l.buf) - 2;
    l.buf[l.len++] = '\n';
  }
  fwrite(l.buf, 1, l.len, stderr);
}

void log_write(enum log_level level, const char *fmt, ...) {
  if (level < log_min_level)
    return;
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof(text), fmt, ap);
  va_end(ap);
  log_fields(level, text, NULL, 0);
}

int log_level_parse(const char *name, enum log_level *out) {
  for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
    if (strcmp(name, level_names[i]) == 0) {
      *out = (enum log_level)i;
      return 0;
    }
  }
  return -EINVAL;
}

int log_format_parse(const char *name) {
  if (strcmp(name, "text") == 0)
    log_format_json = 0;
  else if (strcmp(name, "json") == 0)
    log_format_json = 1;
  else
    return -EINVAL;
  return 0;
}
