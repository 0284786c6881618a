/* Tests for src/http/static.c: which relative paths may name a file under
 * the web root (no "..", no hidden files, no absolute or empty segments, only
 * plain characters), and the Content-Type chosen by extension. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/static.h"

static const struct {
  const char *path;
  int ok;
} path_cases[] = {
    /* served */
    {"index.html", 1},
    {"assets/app.js", 1},
    {"assets/img/logo.svg", 1},
    {"a", 1},
    {"a-b_c.d", 1},
    {"v1.2.3/app.min.js", 1},
    {"a..b", 1}, /* dots inside a name are fine */
    {"file.", 1},
    {"-dash/_under", 1},
    {"ABC/xyz/123", 1},
    /* empty and absolute */
    {"", 0},
    {"/", 0},
    {"/index.html", 0},
    {"/etc/passwd", 0},
    {"//x", 0},
    /* dot segments */
    {".", 0},
    {"..", 0},
    {"../etc/passwd", 0},
    {"a/../b", 0},
    {"a/..", 0},
    {"a/.", 0},
    {"./a", 0},
    {"assets/../../x", 0},
    /* hidden files and directories */
    {".env", 0},
    {".git/config", 0},
    {"a/.env", 0},
    {"a/.hidden/b", 0},
    {".htaccess", 0},
    /* empty segments, trailing slash */
    {"a//b", 0},
    {"a/", 0},
    {"assets/", 0},
    {"a/b/", 0},
    /* characters outside the allowed set */
    {"a b", 0},
    {"a%2e%2e/b", 0},
    {"%2e%2e", 0},
    {"a\\b", 0},
    {"..\\x", 0},
    {"a?b", 0},
    {"a#b", 0},
    {"a:b", 0},
    {"C:x", 0},
    {"a~", 0},
    {"a+b", 0},
    {"a\tb", 0},
    {"a\nb", 0},
    {"caf\xc3\xa9.html", 0},
    {"\xc0\xae\xc0\xae/x", 0}, /* overlong '.' */
    {"a\x7f", 0},
};

static void test_path_ok_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
    int got = static_path_ok(path_cases[i].path);
    if (got != path_cases[i].ok) {
      print_error("path \"%s\": got %d, want %d\n", path_cases[i].path, got, path_cases[i].ok);
      fail();
    }
  }
}

/* Every path with a ".." segment built from a few pieces is refused. */
static void test_path_dotdot_combinations(void **state) {
  (void)state;
  static const char *const pieces[] = {"a", "..", "b.js", ".", "x"};
  char p[64];
  for (size_t i = 0; i < 5; i++) {
    for (size_t j = 0; j < 5; j++) {
      for (size_t k = 0; k < 5; k++) {
        snprintf(p, sizeof(p), "%s/%s/%s", pieces[i], pieces[j], pieces[k]);
        int has_dot_seg = pieces[i][0] == '.' || pieces[j][0] == '.' || pieces[k][0] == '.';
        if (static_path_ok(p) == has_dot_seg) {
          print_error("path \"%s\": got %d\n", p, static_path_ok(p));
          fail();
        }
      }
    }
  }
}

static const struct {
  const char *name;
  const char *type;
} mime_cases[] = {
    {"index.html", "text/html; charset=utf-8"},
    {"assets/app.js", "text/javascript; charset=utf-8"},
    {"mod.mjs", "text/javascript; charset=utf-8"},
    {"style.css", "text/css; charset=utf-8"},
    {"logo.svg", "image/svg+xml"},
    {"icon.png", "image/png"},
    {"favicon.ico", "image/x-icon"},
    {"data.json", "application/json"},
    {"site.webmanifest", "application/manifest+json"},
    {"robots.txt", "text/plain; charset=utf-8"},
    {"font.woff2", "font/woff2"},
    {"v1.2/app.min.js", "text/javascript; charset=utf-8"},
    /* unknown or tricky: never guessed as something a browser runs */
    {"README", "application/octet-stream"},
    {"archive.tar.gz", "application/octet-stream"},
    {"page.html.bak", "application/octet-stream"},
    {"page.htm", "application/octet-stream"},
    {"PAGE.HTML", "application/octet-stream"},
    {"app.jsx", "application/octet-stream"},
    {"font.woff", "application/octet-stream"},
    {"dir.js/file", "application/octet-stream"},
    {"noext.", "application/octet-stream"},
    {"", "application/octet-stream"},
};

static void test_mime_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(mime_cases) / sizeof(mime_cases[0]); i++) {
    const char *got = static_mime_type(mime_cases[i].name);
    if (got == NULL || strcmp(got, mime_cases[i].type) != 0) {
      print_error("mime \"%s\": got \"%s\", want \"%s\"\n", mime_cases[i].name,
                  got ? got : "(null)", mime_cases[i].type);
      fail();
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_path_ok_table),
      cmocka_unit_test(test_path_dotdot_combinations),
      cmocka_unit_test(test_mime_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
