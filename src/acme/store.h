/* The ACME client's files (<data>/acme/): each written whole or not at all
 * (a temporary file in the same directory, fsync, rename over the old one,
 * fsync of the directory), so a crash leaves the old file or the new one,
 * never half of one; read back with a size cap. Blocking file I/O of a few
 * kilobytes, done on the loop at start and once per renewal. */
#ifndef ONAIR_ACME_STORE_H
#define ONAIR_ACME_STORE_H

#include <stddef.h>
#include <sys/types.h>

/* Creates directory path (mode 0700) unless it exists. 0 or -errno. */
int acme_store_mkdir(const char *path);
/* Replaces path with len bytes of data, the file's mode mode (0600 for
 * keys). Returns 0 or -errno; on failure path is as it was. */
int acme_store_write(const char *path, const void *data, size_t len, mode_t mode);
/* Reads path whole into *data (caller frees; NUL-terminated, *len bytes).
 * -ENOENT when there is none, -EFBIG over max bytes, or -errno. */
int acme_store_read(const char *path, size_t max, char **data, size_t *len);

#endif
