/* onair: a self-hosted live broadcast service. Serves the pages, the JSON
 * API and the WebSocket protocol on one libuv loop, and the media on one UDP
 * port. */
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "app/app.h"
#include "app/config.h"
#include "http/http.h"
#include "store/db.h"
#include "util/log.h"

/* Everything the process runs, on one loop. */
struct onair {
  uv_loop_t *loop;
  struct config cfg;
  struct db *db;
  struct app app;
  struct http_server http;
  uv_signal_t sig_int, sig_term;
};

static void on_signal(uv_signal_t *s, int signum) {
  log_info("signal %d: stopping", signum);
  uv_stop(s->loop);
}

/* Settings, logging, libsodium, the data directory. Returns 0, or the exit
 * code (0 after --help). */
static int onair_prepare(struct onair *o, int argc, char **argv, int *exit_code) {
  config_defaults(&o->cfg);
  int rc = config_load(&o->cfg, argc, argv);
  if (rc != 0) {
    *exit_code = rc > 0 ? 0 : 2;
    return -EINVAL;
  }
  *exit_code = 1;
  if (log_level_parse(o->cfg.log_level, &log_min_level) < 0) {
    fprintf(stderr, "onair: unknown log level %s\n", o->cfg.log_level);
    *exit_code = 2;
    return -EINVAL;
  }
  if (sodium_init() < 0) {
    log_error("libsodium failed to initialise");
    return -EIO;
  }
  if (mkdir(o->cfg.data_dir, 0700) < 0 && errno != EEXIST) {
    log_error("cannot create data directory %s: %s", o->cfg.data_dir, strerror(errno));
    return -errno;
  }
  char db_path[1100];
  snprintf(db_path, sizeof(db_path), "%s/onair.db", o->cfg.data_dir);
  return db_open(&o->db, db_path) < 0 ? -EIO : 0;
}

/* The app, the media plane, the HTTP listener and the signals. */
static int onair_start(struct onair *o) {
  const struct config *cfg = &o->cfg;
  if (app_init(&o->app, o->loop, cfg, o->db) < 0 || app_media_start(&o->app) < 0)
    return -EIO;
  int rc = http_server_init(&o->http, o->loop, app_on_request, &o->app);
  if (rc == 0)
    rc = http_server_listen(&o->http, cfg->listen_host, cfg->listen_port);
  if (rc < 0) {
    log_error("cannot listen on %s:%d: %s", cfg->listen_host, cfg->listen_port, uv_strerror(rc));
    return rc;
  }
  uv_signal_init(o->loop, &o->sig_int);
  uv_signal_start(&o->sig_int, on_signal, SIGINT);
  uv_signal_init(o->loop, &o->sig_term);
  uv_signal_start(&o->sig_term, on_signal, SIGTERM);
  log_info("onair listening on http://%s:%d (data in %s, pages from %s)", cfg->listen_host,
           cfg->listen_port, cfg->data_dir, cfg->web_dir);
  if (strcmp(cfg->listen_host, "127.0.0.1") == 0)
    log_info("open http://localhost:%d in a browser", cfg->listen_port);
  return 0;
}

/* The one shutdown path: connections first (their rooms end), then the app
 * (media, OIDC, timers), then the loop runs until every handle has closed.
 * The database is consistent at every commit: nothing to flush. */
static void onair_stop(struct onair *o) {
  http_server_close(&o->http, NULL);
  app_close(&o->app, NULL);
  uv_close((uv_handle_t *)&o->sig_int, NULL);
  uv_close((uv_handle_t *)&o->sig_term, NULL);
  uv_run(o->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(o->loop) != 0)
    log_warn("a handle was still open at exit");
  db_close(o->db);
}

int main(int argc, char **argv) {
  struct onair *o = calloc(1, sizeof(*o)); /* large (read buffers): not on the stack */
  int exit_code = 1;
  if (o == NULL || onair_prepare(o, argc, argv, &exit_code) < 0)
    goto out;
  signal(SIGPIPE, SIG_IGN);
  o->loop = uv_default_loop();
  if (onair_start(o) < 0)
    goto out;
  uv_run(o->loop, UV_RUN_DEFAULT);
  onair_stop(o);
  log_info("stopped");
  exit_code = 0;
out:
  free(o);
  return exit_code;
}
