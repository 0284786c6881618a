#include "http/static.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/map.h"

#define STATIC_MAX_FILE (4 * 1024 * 1024) /* bytes; larger files are not served */

struct static_file {
  off_t size;
  struct timespec mtime;
  char etag[64];
  uint8_t *data; /* size bytes, then a 0 byte */
};

/* Why root cannot serve the pages, or NULL when it can: a directory with a
 * readable index.html. */
static const char *static_root_problem(const char *root) {
  struct stat st;
  if (stat(root, &st) < 0)
    return errno == ENOENT ? "no such directory" : strerror(errno);
  if (!S_ISDIR(st.st_mode))
    return "not a directory";
  char index[4096];
  if ((size_t)snprintf(index, sizeof(index), "%s/index.html", root) >= sizeof(index))
    return "path too long";
  if (stat(index, &st) < 0 || !S_ISREG(st.st_mode))
    return "no readable index.html";
  int fd = open(index, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return "no readable index.html";
  close(fd);
  return NULL;
}

int static_files_init(struct static_files *sf, const char *root, const char **why) {
  memset(sf, 0, sizeof(*sf));
  if (root == NULL || root[0] == 0)
    return 0; /* the built-in copies: nothing to set up */
  const char *problem = static_root_problem(root);
  if (problem) {
    if (why)
      *why = problem;
    return -ENOENT;
  }
  sf->root = strdup(root);
  if (sf->root == NULL)
    return -ENOMEM;
  if (map_init(&sf->cache) < 0) {
    free(sf->root);
    sf->root = NULL;
    return -ENOMEM;
  }
  return 0;
}

void static_files_free(struct static_files *sf) {
  if (sf->root == NULL)
    return;
  size_t slot;
  struct map *cache = &sf->cache;
  for (struct map_entry *e = map_first(cache, &slot); e; e = map_next(cache, e, &slot)) {
    struct static_file *f = e->value;
    free(f->data);
    free(f);
  }
  map_free(cache);
  free(sf->root);
  sf->root = NULL;
}

int static_path_ok(const char *p) {
  if (*p == 0 || *p == '/')
    return 0;
  int seg_start = 1;
  for (; *p; p++) {
    char ch = *p;
    int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '.' || ch == '-' || ch == '_' || ch == '/';
    if (!ok)
      return 0;
    if (seg_start && (ch == '.' || ch == '/'))
      return 0; /* no "..", no hidden files, no empty segments */
    seg_start = ch == '/';
  }
  return !seg_start;
}

const char *static_mime_type(const char *name) {
  static const struct {
    const char *ext, *type;
  } types[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".json", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".txt", "text/plain; charset=utf-8"},
      {".woff2", "font/woff2"},
  };
  const char *dot = strrchr(name, '.');
  if (dot) {
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
      if (strcmp(dot, types[i].ext) == 0)
        return types[i].type;
    }
  }
  return "application/octet-stream";
}

/* Reads the file if the cache has no copy of this size and mtime. */
static struct static_file *static_load(struct static_files *sf, const char *relpath,
                                       const char *full) {
  struct stat st;
  if (stat(full, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STATIC_MAX_FILE)
    return NULL;
  struct static_file *f = map_get(&sf->cache, relpath, strlen(relpath));
  if (f && f->size == st.st_size && f->mtime.tv_sec == st.st_mtim.tv_sec &&
      f->mtime.tv_nsec == st.st_mtim.tv_nsec)
    return f;
  int fd = open(full, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  uint8_t *data = malloc((size_t)st.st_size + 1);
  ssize_t got = data ? read(fd, data, (size_t)st.st_size) : -1;
  close(fd);
  if (got != st.st_size) {
    free(data);
    return NULL;
  }
  data[got] = 0; /* static_lookup's callers may read a page as a string */
  if (f == NULL) {
    f = calloc(1, sizeof(*f));
    if (f == NULL || map_put(&sf->cache, relpath, strlen(relpath), f) < 0) {
      free(f);
      free(data);
      return NULL;
    }
  }
  free(f->data);
  f->data = data;
  f->size = st.st_size;
  f->mtime = st.st_mtim;
  snprintf(f->etag, sizeof(f->etag), "\"%llx-%llx-%lx\"", (unsigned long long)st.st_size,
           (unsigned long long)st.st_mtim.tv_sec, (unsigned long)st.st_mtim.tv_nsec);
  return f;
}

/* The built-in copy of relpath, or NULL. */
static const struct static_embedded *static_embedded_find(const char *relpath) {
  for (const struct static_embedded *e = static_embedded; e->path; e++) {
    if (strcmp(e->path, relpath) == 0)
      return e;
  }
  return NULL;
}

/* What to answer for relpath, from whichever source is active. */
struct static_hit {
  const uint8_t *data;
  size_t len; /* bytes */
  const char *etag;
};

static int static_find(struct static_files *sf, const char *relpath, struct static_hit *hit) {
  if (!static_path_ok(relpath))
    return -ENOENT;
  if (sf->root == NULL) {
    const struct static_embedded *e = static_embedded_find(relpath);
    if (e == NULL)
      return -ENOENT;
    *hit = (struct static_hit){.data = e->data, .len = e->len, .etag = e->etag};
    return 0;
  }
  char full[4096];
  if ((size_t)snprintf(full, sizeof(full), "%s/%s", sf->root, relpath) >= sizeof(full))
    return -ENOENT;
  struct static_file *f = static_load(sf, relpath, full);
  if (f == NULL)
    return -ENOENT;
  *hit = (struct static_hit){.data = f->data, .len = (size_t)f->size, .etag = f->etag};
  return 0;
}

int static_lookup(struct static_files *sf, const char *relpath, const char **data, size_t *len) {
  struct static_hit hit;
  if (static_find(sf, relpath, &hit) < 0)
    return -ENOENT;
  *data = (const char *)hit.data;
  *len = hit.len;
  return 0;
}

void static_serve(struct static_files *sf, struct conn *c, const struct http_req *req,
                  const char *relpath) {
  struct static_hit hit;
  if (static_find(sf, relpath, &hit) < 0) {
    http_respond_error(c, 404, "not_found", "no such page");
    return;
  }
  char extra[160];
  /* Revalidate every time: a deploy shows at once, and a 304 is cheap. */
  snprintf(extra, sizeof(extra), "ETag: %s\r\nCache-Control: no-cache\r\n", hit.etag);
  size_t inm_len;
  const char *inm = http_req_header(req, "if-none-match", &inm_len);
  if (inm && inm_len == strlen(hit.etag) && memcmp(inm, hit.etag, inm_len) == 0) {
    http_respond(c, 304, NULL, extra, NULL, 0);
    return;
  }
  http_respond(c, 200, static_mime_type(relpath), extra, hit.data, hit.len);
}
