/* Tests for src/http/static.c: which relative paths may name a file under
 * the web root (no "..", no hidden files, no absolute or empty segments, only
 * plain characters), the Content-Type chosen by extension, the copies of
 * web/ built into the binary (every file, byte for byte, with an ETag of its
 * content), and the choice of source: built in by default, a directory only
 * when it can serve the pages. */
#include <errno.h>
#include <ftw.h>
#include <openssl/sha.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/static.h"

#ifndef ONAIR_WEB_SOURCE
#error "ONAIR_WEB_SOURCE: the source tree's web/ (tests/CMakeLists.txt sets it)"
#endif

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

/* ---- the built-in copies ------------------------------------------------ */

static const struct static_embedded *embedded_find(const char *relpath) {
  for (const struct static_embedded *e = static_embedded; e->path; e++) {
    if (strcmp(e->path, relpath) == 0)
      return e;
  }
  return NULL;
}

static uint8_t *read_whole(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long n = ftell(f);
  assert_true(n >= 0);
  rewind(f);
  uint8_t *data = malloc((size_t)n + 1);
  assert_non_null(data);
  assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return data;
}

static size_t web_files_seen;

/* Each file of the source tree's web/ has its built-in copy: the same
 * bytes, a 0 after them, and "<length hex>-<16 hex of SHA-256>" as ETag. */
static int check_one_file(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  if (type != FTW_F)
    return 0;
  const char *rel = path + strlen(ONAIR_WEB_SOURCE) + 1;
  if (!static_path_ok(rel))
    return 0; /* an editor's hidden file: not served, not built in */
  web_files_seen++;
  const struct static_embedded *e = embedded_find(rel);
  if (e == NULL) {
    print_error("web/%s is not built in\n", rel);
    fail();
  }
  size_t len;
  uint8_t *want = read_whole(path, &len);
  if (e->len != len || memcmp(e->data, want, len) != 0) {
    print_error("web/%s differs from its built-in copy (%zu bytes, not %zu): was the build "
                "run after the edit?\n",
                rel, e->len, len);
    fail();
  }
  assert_int_equal(e->data[len], 0);
  uint8_t md[SHA256_DIGEST_LENGTH];
  SHA256(want, len, md);
  char etag[64];
  snprintf(etag, sizeof(etag), "\"%zx-%02x%02x%02x%02x%02x%02x%02x%02x\"", len, md[0], md[1], md[2],
           md[3], md[4], md[5], md[6], md[7]);
  assert_string_equal(e->etag, etag);
  free(want);
  return 0;
}

static void test_embedded_is_web(void **state) {
  (void)state;
  web_files_seen = 0;
  assert_int_equal(nftw(ONAIR_WEB_SOURCE, check_one_file, 16, FTW_PHYS), 0);
  size_t rows = 0;
  for (const struct static_embedded *e = static_embedded; e->path; e++) {
    assert_true(static_path_ok(e->path));
    if (rows > 0)
      assert_true(strcmp(e[-1].path, e->path) < 0); /* sorted, no duplicates */
    rows++;
  }
  assert_int_equal(rows, web_files_seen); /* nothing built in that web/ lacks */
  assert_non_null(embedded_find("index.html"));
  assert_non_null(embedded_find("assets/view.js"));
}

/* Unset (NULL or ""): the built-in copies, whatever the directory. */
static void test_lookup_built_in(void **state) {
  (void)state;
  const char *roots[] = {NULL, ""};
  for (size_t i = 0; i < 2; i++) {
    struct static_files sf;
    assert_int_equal(static_files_init(&sf, roots[i], NULL), 0);
    const char *data;
    size_t len;
    assert_int_equal(static_lookup(&sf, "index.html", &data, &len), 0);
    const struct static_embedded *e = embedded_find("index.html");
    assert_ptr_equal(data, e->data);
    assert_int_equal(len, e->len);
    assert_non_null(strstr(data, "<form")); /* the sign-in page */
    assert_int_equal(static_lookup(&sf, "nope.html", &data, &len), -ENOENT);
    assert_int_equal(static_lookup(&sf, "../web/index.html", &data, &len), -ENOENT);
    assert_int_equal(static_lookup(&sf, "/index.html", &data, &len), -ENOENT);
    static_files_free(&sf);
  }
}

/* ---- a directory (development) --------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
}

/* A configured directory that cannot serve the pages is refused at init,
 * with the reason. */
static void test_dir_refused(void **state) {
  (void)state;
  char dir[] = "/tmp/onair-test-static-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char file[600], sub[600], sub_index[620];
  write_file(dir, "file", "x");
  snprintf(file, sizeof(file), "%s/file", dir);
  snprintf(sub, sizeof(sub), "%s/d", dir);
  snprintf(sub_index, sizeof(sub_index), "%s/index.html", sub);
  assert_int_equal(mkdir(sub, 0700), 0);
  assert_int_equal(mkdir(sub_index, 0700), 0);
  const struct {
    const char *root, *why;
  } cases[] = {
      {"/nonexistent-onair-web-dir", "no such directory"},
      {file, "not a directory"},
      {dir, "no readable index.html"}, /* none there */
      {sub, "no readable index.html"}, /* index.html is a directory */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct static_files sf;
    const char *why = NULL;
    assert_true(static_files_init(&sf, cases[i].root, &why) < 0);
    if (why == NULL || strcmp(why, cases[i].why) != 0) {
      print_error("%s: got \"%s\", want \"%s\"\n", cases[i].root, why ? why : "(null)",
                  cases[i].why);
      fail();
    }
    static_files_free(&sf); /* harmless after a failed init */
  }
  char cmd[700];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

/* A directory's files are read as they are now: an edit shows at once. */
static void test_dir_serves_current_files(void **state) {
  (void)state;
  char dir[] = "/tmp/onair-test-static-XXXXXX";
  assert_non_null(mkdtemp(dir));
  write_file(dir, "index.html", "<p>first</p>");
  struct static_files sf;
  assert_int_equal(static_files_init(&sf, dir, NULL), 0);
  const char *data;
  size_t len;
  assert_int_equal(static_lookup(&sf, "index.html", &data, &len), 0);
  assert_int_equal(len, strlen("<p>first</p>"));
  assert_string_equal(data, "<p>first</p>");
  write_file(dir, "index.html", "<p>edited, longer</p>");
  assert_int_equal(static_lookup(&sf, "index.html", &data, &len), 0);
  assert_string_equal(data, "<p>edited, longer</p>");
  /* Only the directory: a page built in but missing there is missing. */
  assert_int_equal(static_lookup(&sf, "assets/view.js", &data, &len), -ENOENT);
  static_files_free(&sf);
  char cmd[700];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_path_ok_table),
      cmocka_unit_test(test_path_dotdot_combinations),
      cmocka_unit_test(test_mime_table),
      cmocka_unit_test(test_embedded_is_web),
      cmocka_unit_test(test_lookup_built_in),
      cmocka_unit_test(test_dir_refused),
      cmocka_unit_test(test_dir_serves_current_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
