#include "acme/store.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int acme_store_mkdir(const char *path) {
  if (mkdir(path, 0700) == 0 || errno == EEXIST)
    return 0;
  return -errno;
}

/* Writes all of data to fd. */
static int write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

/* fsync of the directory path is in, so the rename lasts. */
static void sync_dir(const char *path) {
  char copy[1200];
  snprintf(copy, sizeof(copy), "%s", path);
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

int acme_store_write(const char *path, const void *data, size_t len, mode_t mode) {
  char tmp[1200];
  if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
    return -ENAMETOOLONG;
  unlink(tmp); /* left by a crash */
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0)
    return -errno;
  int rc = write_all(fd, data, len);
  if (rc == 0 && fchmod(fd, mode) < 0) /* whatever the umask */
    rc = -errno;
  if (rc == 0 && fsync(fd) < 0)
    rc = -errno;
  if (close(fd) < 0 && rc == 0)
    rc = -errno;
  if (rc == 0 && rename(tmp, path) < 0)
    rc = -errno;
  if (rc < 0)
    unlink(tmp);
  else
    sync_dir(path);
  return rc;
}

int acme_store_read(const char *path, size_t max, char **data, size_t *len) {
  *data = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  struct stat st;
  int rc = 0;
  if (fstat(fd, &st) < 0)
    rc = -errno;
  else if (!S_ISREG(st.st_mode))
    rc = -EINVAL;
  else if ((uint64_t)st.st_size > max)
    rc = -EFBIG;
  else if ((*data = malloc((size_t)st.st_size + 1)) == NULL)
    rc = -ENOMEM;
  size_t got = 0;
  while (rc == 0 && got < (size_t)st.st_size) {
    ssize_t n = read(fd, *data + got, (size_t)st.st_size - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      rc = n < 0 ? -errno : -EIO;
    else
      got += (size_t)n;
  }
  close(fd);
  if (rc < 0) {
    free(*data);
    *data = NULL;
    return rc;
  }
  (*data)[got] = 0;
  *len = got;
  return 0;
}
