/* Static files from the web/ directory: pages and assets, with their types,
 * an ETag and revalidation (304). Files are read per request that misses the
 * small in-memory cache keyed by path, size and mtime. */
#ifndef ONAIR_STATIC_H
#define ONAIR_STATIC_H

#include "http/http.h"
#include "util/map.h"

/* The files under one directory and the cache of their contents. */
struct static_files {
  char *root;
  struct map cache; /* relpath -> struct static_file */
};

/* Serves files from root (copied). */
int static_files_init(struct static_files *sf, const char *root);
void static_files_free(struct static_files *sf);

/* Answers req with the file at relpath under the root ("index.html",
 * "assets/app.js"). relpath must be a clean relative path: letters, digits,
 * '.', '-', '_' and '/', no empty or dot-leading segments; anything else, or a
 * missing file, is 404. */
void static_serve(struct static_files *sf, struct conn *c, const struct http_req *req,
                  const char *relpath);

/* Returns 1 if relpath is acceptable as a file path under the root. */
int static_path_ok(const char *relpath);
/* The Content-Type for a file name, by extension. */
const char *static_mime_type(const char *name);

#endif
