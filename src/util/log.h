/* Logging to stderr, one line per event: the time, the level, what happened
 * and its details as key=value fields (logfmt), or one JSON object per line
 * with log_format_json set (for log shippers).
 *
 *   log_ev(LOG_INFO, "room live", LOG_S("room", room->name), LOG_U("conn", id));
 *   time=2026-12-04T05:10:00.123Z level=info msg="room live" room=alice conn=9
 *   {"time":"2026-12-04T05:10:00.123Z","level":"info","msg":"room live","room":"alice","conn":9}
 *
 * Values are quoted and escaped as needed: whatever a client sent cannot
 * forge a field or a line. Secrets (passwords, cookies, tokens, keys) are
 * never a field. */
#ifndef ONAIR_LOG_H
#define ONAIR_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

extern enum log_level log_min_level;
extern int log_format_json; /* 0: logfmt; 1: JSON lines */

struct log_field {
  const char *key; /* [a-z_]+ */
  const char *str; /* a text value, or NULL for a number */
  int64_t num;
};

static inline const char *log_str(const char *s) { return s ? s : ""; }

#define LOG_S(k, v) ((struct log_field){.key = (k), .str = log_str(v)})
#define LOG_U(k, v) ((struct log_field){.key = (k), .str = NULL, .num = (int64_t)(v)})

void log_fields(enum log_level level, const char *msg, const struct log_field *fields, size_t n);

/* An event with fields (at least one). */
#define log_ev(level, msg, ...)                                       \
  log_fields((level), (msg), (const struct log_field[]){__VA_ARGS__}, \
             sizeof((const struct log_field[]){__VA_ARGS__}) / sizeof(struct log_field))
/* An event without fields. */
#define log_msg(level, msg) log_fields((level), (msg), NULL, 0)

/* printf-style: the whole text is the event's msg, with no fields. */
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

/* Parses "debug", "info", "warn" or "error"; returns 0 or -EINVAL. */
int log_level_parse(const char *name, enum log_level *out);
/* Parses "text" or "json" into log_format_json; returns 0 or -EINVAL. */
int log_format_parse(const char *name);

#endif
