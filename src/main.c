/* onair: a self-hosted live broadcast service. Serves the pages, the JSON
 * API and the WebSocket protocol on one libuv loop. */
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "app/app.h"
#include "app/config.h"
#include "auth/oidc.h"
#include "http/static.h"
#include "net/conn.h"
#include "store/db.h"
#include "util/log.h"
#include "ws/ws_conn.h"

static uv_tcp_t listener;
static uv_signal_t sig_int, sig_term;

static void on_accept(struct conn *c) {
  if (http_conn_bind(c, app_on_request) < 0)
    conn_close_soon(c);
}

/* The media plane on its one UDP port: by default the HTTP port's number on
 * the HTTP host, announcing that host (127.0.0.1 when bound to all). */
static int media_start(uv_loop_t *loop, const struct config *cfg, struct app *app) {
  const char *bind = cfg->media_bind[0] ? cfg->media_bind : cfg->listen_host;
  const char *announce = cfg->media_announce;
  if (announce[0] == 0)
    announce = strcmp(bind, "0.0.0.0") == 0 || strcmp(bind, "::") == 0 ? "127.0.0.1" : bind;
  struct sfu_config mc = {
      .bind = bind,
      .port = cfg->media_port ? cfg->media_port : cfg->listen_port,
      .announce = announce,
      .consent_ms = cfg->media_consent_ms,
  };
  int rc = sfu_new(loop, &mc, &live_media_events, &app->sfu);
  if (rc < 0) {
    log_error("cannot open the media port udp %s:%d: %s", bind, mc.port, uv_strerror(rc));
    return rc;
  }
  log_info("media on udp %s:%d, announced as %s", bind, sfu_port(app->sfu), announce);
  return 0;
}

static void on_signal(uv_signal_t *s, int signum) {
  log_info("signal %d: stopping", signum);
  uv_stop(s->loop);
}

int main(int argc, char **argv) {
  struct config cfg;
  config_defaults(&cfg);
  int rc = config_load(&cfg, argc, argv);
  if (rc != 0)
    return rc > 0 ? 0 : 2;
  if (log_level_parse(cfg.log_level, &log_min_level) < 0) {
    fprintf(stderr, "onair: unknown log level %s\n", cfg.log_level);
    return 2;
  }
  if (sodium_init() < 0) {
    log_error("libsodium failed to initialise");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  if (mkdir(cfg.data_dir, 0700) < 0 && errno != EEXIST) {
    log_error("cannot create data directory %s: %s", cfg.data_dir, strerror(errno));
    return 1;
  }
  char db_path[1100];
  snprintf(db_path, sizeof(db_path), "%s/onair.db", cfg.data_dir);
  struct db *db;
  if (db_open(&db, db_path) < 0)
    return 1;
  if (static_init(cfg.web_dir) < 0)
    return 1;

  uv_loop_t *loop = uv_default_loop();
  struct app app;
  if (app_init(&app, loop, &cfg, db) < 0 || conn_init(loop) < 0)
    return 1;
  if (oidc_new(loop, &cfg, &app.oidc) < 0)
    return 1;
  if (media_start(loop, &cfg, &app) < 0)
    return 1;
  struct ws_config wcfg = {
      .max_message = cfg.ws_max_message,
      .ping_ms = cfg.ws_ping_ms,
      .timeout_ms = cfg.ws_timeout_ms,
  };
  ws_init(loop, &wcfg);
  rc = conn_listen(loop, &listener, cfg.listen_host, cfg.listen_port, on_accept, &app);
  if (rc < 0) {
    log_error("cannot listen on %s:%d: %s", cfg.listen_host, cfg.listen_port, uv_strerror(rc));
    return 1;
  }
  uv_signal_init(loop, &sig_int);
  uv_signal_start(&sig_int, on_signal, SIGINT);
  uv_signal_init(loop, &sig_term);
  uv_signal_start(&sig_term, on_signal, SIGTERM);
  log_info("onair listening on http://%s:%d (data in %s, pages from %s)", cfg.listen_host,
           cfg.listen_port, cfg.data_dir, cfg.web_dir);
  if (strcmp(cfg.listen_host, "127.0.0.1") == 0)
    log_info("open http://localhost:%d in a browser", cfg.listen_port);
  uv_run(loop, UV_RUN_DEFAULT);
  /* Stopped by a signal: the database is consistent at every commit, so
   * there is nothing to flush; close what we own and exit. */
  db_close(db);
  log_info("stopped");
  return 0;
}
