/* Tests for src/util/log.c: the logfmt and JSON lines, read back with an
 * independent parser (jansson for JSON, a small logfmt reader here): every
 * value arrives intact whatever it holds (spaces, quotes, '=', newlines,
 * control bytes, UTF-8), one event is always one line, levels below the
 * minimum are not written, and an event too long for a line is cut but
 * still ends its line. */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/log.h"

static char path[64];
static int saved_stderr = -1;

/* stderr goes to a file until captured() returns what was written. */
static void capture(void) {
  fflush(stderr);
  snprintf(path, sizeof(path), "/tmp/onair-test-log-XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  saved_stderr = dup(2);
  dup2(fd, 2);
  close(fd);
}

static char *captured(void) {
  fflush(stderr);
  dup2(saved_stderr, 2);
  close(saved_stderr);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  static char text[16384];
  size_t n = fread(text, 1, sizeof(text) - 1, f);
  text[n] = 0;
  fclose(f);
  unlink(path);
  return text;
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

static const char *const tricky[] = {
    "plain",
    "two words",
    "quote\" and \\ backslash",
    "key=value injected=yes",
    "new\nline",
    "tab\there\rcr",
    "",
    "caf\xc3\xa9 \xe2\x98\x83",
    "\x01\x7f",
};

/* A logfmt line read back: its key=value pairs in order (values
 * unquoted and unescaped). */
struct pairs {
  char key[16][32];
  char val[16][256];
  int n;
};

static void logfmt_parse(const char *p, struct pairs *out) {
  out->n = 0;
  while (*p && *p != '\n' && out->n < 16) {
    size_t k = 0, v = 0;
    while (*p && *p != '=' && k + 1 < sizeof(out->key[0]))
      out->key[out->n][k++] = *p++;
    out->key[out->n][k] = 0;
    assert_int_equal(*p, '=');
    p++;
    char *val = out->val[out->n];
    if (*p != '"') {
      while (*p && *p != ' ' && *p != '\n' && v + 1 < sizeof(out->val[0]))
        val[v++] = *p++;
    } else {
      for (p++; *p && *p != '"' && v + 1 < sizeof(out->val[0]); p++) {
        if (p[0] == '\\' && p[1] == 'u') {
          unsigned code = 0;
          assert_int_equal(sscanf(p + 2, "%4x", &code), 1);
          val[v++] = (char)code;
          p += 5;
        } else if (*p == '\\') {
          val[v++] = *++p;
        } else {
          val[v++] = *p;
        }
      }
      assert_int_equal(*p, '"');
      p++;
    }
    val[v] = 0;
    out->n++;
    if (*p == ' ')
      p++;
  }
}

static const char *pair(const struct pairs *ps, const char *key) {
  for (int i = 0; i < ps->n; i++) {
    if (strcmp(ps->key[i], key) == 0)
      return ps->val[i];
  }
  return NULL;
}

static void test_logfmt(void **state) {
  (void)state;
  log_format_json = 0;
  log_min_level = LOG_INFO;
  for (size_t i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++) {
    capture();
    log_ev(LOG_WARN, "an event", LOG_S("value", tricky[i]), LOG_U("n", -42), LOG_S("last", "x"));
    char *line = captured();
    assert_int_equal(count_lines(line), 1);
    struct pairs ps;
    logfmt_parse(line, &ps);
    assert_int_equal(ps.n, 6); /* time level msg value n last: nothing injected */
    assert_string_equal(ps.key[0], "time");
    assert_string_equal(pair(&ps, "level"), "warn");
    assert_string_equal(pair(&ps, "msg"), "an event");
    if (strcmp(pair(&ps, "value"), tricky[i]) != 0) {
      print_error("value \"%s\" came back as \"%s\" in %s", tricky[i], pair(&ps, "value"), line);
      fail();
    }
    assert_string_equal(pair(&ps, "n"), "-42");
    assert_string_equal(pair(&ps, "last"), "x");
  }
}

static void test_json(void **state) {
  (void)state;
  log_format_json = 1;
  log_min_level = LOG_INFO;
  for (size_t i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++) {
    capture();
    log_ev(LOG_ERROR, "a \"quoted\" event", LOG_S("value", tricky[i]), LOG_U("n", 7));
    log_msg(LOG_INFO, "no fields");
    char *text = captured();
    assert_int_equal(count_lines(text), 2);
    char *second = strchr(text, '\n') + 1;
    json_error_t err;
    json_t *j = json_loadb(text, (size_t)(second - text), 0, &err);
    if (j == NULL)
      fail_msg("not JSON (%s): %s", err.text, text);
    assert_string_equal(json_string_value(json_object_get(j, "level")), "error");
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "a \"quoted\" event");
    assert_string_equal(json_string_value(json_object_get(j, "value")), tricky[i]);
    assert_int_equal(json_integer_value(json_object_get(j, "n")), 7);
    assert_non_null(json_string_value(json_object_get(j, "time")));
    json_decref(j);
    j = json_loads(second, 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "no fields");
    json_decref(j);
  }
  log_format_json = 0;
}

static void test_levels_and_length(void **state) {
  (void)state;
  log_min_level = LOG_WARN;
  capture();
  log_msg(LOG_INFO, "hidden");
  log_msg(LOG_DEBUG, "hidden too");
  log_msg(LOG_WARN, "shown");
  log_info("printf %s", "style");
  char *text = captured();
  assert_int_equal(count_lines(text), 1);
  assert_non_null(strstr(text, "msg=shown"));
  log_min_level = LOG_INFO;
  static char big[16384];
  memset(big, 'y', sizeof(big) - 1);
  capture();
  log_ev(LOG_INFO, "big", LOG_S("value", big));
  log_info("printf %s", "style");
  text = captured();
  assert_int_equal(count_lines(text), 2);
  assert_non_null(strstr(text, "msg=\"printf style\""));
  assert_true(strlen(text) < 10000);
  char *first_end = strchr(text, '\n');
  assert_true(first_end - text < 8192);
}

static void test_parse(void **state) {
  (void)state;
  enum log_level l;
  assert_int_equal(log_level_parse("debug", &l), 0);
  assert_int_equal(l, LOG_DEBUG);
  assert_int_equal(log_level_parse("loud", &l), -EINVAL);
  assert_int_equal(log_format_parse("json"), 0);
  assert_int_equal(log_format_json, 1);
  assert_int_equal(log_format_parse("text"), 0);
  assert_int_equal(log_format_json, 0);
  assert_int_equal(log_format_parse("xml"), -EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_logfmt),
      cmocka_unit_test(test_json),
      cmocka_unit_test(test_levels_and_length),
      cmocka_unit_test(test_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
