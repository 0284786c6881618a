/* The pages and assets, with their types, an ETag and revalidation (304).
 * By default they are the copies of web/ built into the binary
 * (cmake/embed_web.cmake); with a directory configured (`web`, for
 * development) they are that directory's files, read per request that
 * misses the small in-memory cache keyed by path, size and mtime, so an
 * edited file shows on the next reload. */
#ifndef ONAIR_STATIC_H
#define ONAIR_STATIC_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "util/map.h"

/* One file of web/ built into the binary. */
struct static_embedded {
  const char *path;    /* relative to web/: "index.html", "assets/view.js" */
  const uint8_t *data; /* len bytes, then a 0 byte */
  size_t len;          /* bytes */
  const char *etag;    /* "\"<len hex>-<16 hex digits of SHA-256>\"", quotes included */
};

/* Every file of web/, sorted by path, ended by a row whose path is NULL
 * (generated at build time into the build directory). */
extern const struct static_embedded static_embedded[];

/* Where the files come from, and the cache of a directory's files. */
struct static_files {
  char *root;       /* the directory, or NULL: the built-in copies */
  struct map cache; /* with root: relpath -> struct static_file */
};

/* Serves the built-in copies when root is NULL or "", else the files under
 * root (copied), which must be a directory with a readable index.html.
 * Returns 0, -ENOMEM, or another negative errno when root cannot serve the
 * pages, with *why (if why is not NULL) a static text saying what is wrong
 * with it ("no such directory", "not a directory", "no readable
 * index.html"). */
int static_files_init(struct static_files *sf, const char *root, const char **why);
void static_files_free(struct static_files *sf);

/* Answers req with the file at relpath ("index.html", "assets/app.js").
 * relpath must be a clean relative path: letters, digits, '.', '-', '_' and
 * '/', no empty or dot-leading segments; anything else, or a missing file,
 * is 404. */
void static_serve(struct static_files *sf, struct conn *c, const struct http_req *req,
                  const char *relpath);

/* The bytes of the file at relpath from whichever source is active: *data
 * (len bytes, then a 0 byte) stays valid until sf is freed or, with a
 * directory, until relpath is served or looked up again after the file
 * changed. Returns 0, or -ENOENT for a missing file or a path static_serve
 * refuses. */
int static_lookup(struct static_files *sf, const char *relpath, const char **data, size_t *len);

/* Returns 1 if relpath is acceptable as a file path under the root. */
int static_path_ok(const char *relpath);
/* The Content-Type for a file name, by extension. */
const char *static_mime_type(const char *name);

#endif
