/* onair-migrate: copies a one-node data directory's SQLite store into the
 * PostgreSQL database of a cluster (docs/cluster.md, "PostgreSQL").
 *
 *   onair-migrate --data DIR --postgres CONNINFO
 *
 * CONNINFO may come from $ONAIR_POSTGRES instead (onair's own variable),
 * which keeps a password out of the process list; libpq's PGPASSWORD and
 * ~/.pgpass work as well. Exit 0 when everything was copied, 1 when
 * nothing was (the database already holds users, a store failed), 2 on a
 * usage error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/db.h"
#include "store/db_copy.h"
#include "util/log.h"

static int usage(void) {
  fprintf(stderr, "usage: onair-migrate --data DIR --postgres CONNINFO\n"
                  "Copies DIR/onair.db (users, sessions, identities, stream keys, watch tokens,\n"
                  "chat) into an empty PostgreSQL database; CONNINFO may be in $ONAIR_POSTGRES.\n");
  return 2;
}

static void print_counts(const struct db_copy_counts *n) {
  printf("copied into PostgreSQL:\n"
         "  users          %lld\n"
         "  sessions       %lld\n"
         "  identities     %lld\n"
         "  stream keys    %lld\n"
         "  watch tokens   %lld\n"
         "  chat messages  %lld\n",
         (long long)n->users, (long long)n->sessions, (long long)n->identities,
         (long long)n->stream_keys, (long long)n->watch_tokens, (long long)n->messages);
}

/* Opens both stores and copies; returns the exit code. */
static int migrate(const char *path, const char *conninfo) {
  struct db *from = NULL, *to = NULL;
  struct db_copy_counts n;
  int code = 1;
  if (db_open(&from, path) < 0) {
    fprintf(stderr, "onair-migrate: cannot open %s\n", path);
    return 1;
  }
  if (db_open_postgres(&to, conninfo) < 0) {
    fprintf(stderr, "onair-migrate: cannot use the PostgreSQL database (see the log above)\n");
    goto out;
  }
  int rc = db_copy(from, to, &n);
  if (rc == -EEXIST)
    fprintf(stderr, "onair-migrate: the PostgreSQL database already holds users or chat: "
                    "nothing copied (was it migrated already?)\n");
  else if (rc < 0)
    fprintf(stderr, "onair-migrate: the copy failed (see the log above): nothing copied\n");
  else
    print_counts(&n);
  code = rc == 0 ? 0 : 1;
out:
  db_close(to);
  db_close(from);
  return code;
}

int main(int argc, char **argv) {
  const char *data = NULL, *conninfo = getenv("ONAIR_POSTGRES");
  for (int i = 1; i < argc; i++) {
    if (i + 1 < argc && strcmp(argv[i], "--data") == 0)
      data = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--postgres") == 0)
      conninfo = argv[++i];
    else
      return usage();
  }
  if (data == NULL || conninfo == NULL || conninfo[0] == 0)
    return usage();
  char path[4096];
  if (snprintf(path, sizeof(path), "%s/onair.db", data) >= (int)sizeof(path))
    return usage();
  /* db_open() would create an empty one. */
  if (access(path, R_OK | W_OK) < 0) {
    fprintf(stderr, "onair-migrate: %s: %s\n", path, strerror(errno));
    return 1;
  }
  log_min_level = LOG_WARN;
  return migrate(path, conninfo);
}
