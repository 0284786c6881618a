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
#include <unistd.h>
#include <uv.h>

#include "acme/acme.h"
#include "app/app.h"
#include "app/config.h"
#include "http/http.h"
#include "media/sfu.h"
#include "net/conn.h"
#include "net/tls.h"
#include "store/db.h"
#include "util/log.h"

/* Everything the process runs, on one loop. */
struct onair {
  uv_loop_t *loop;
  struct config cfg;
  struct db *db;
  struct app app;
  struct http_server http;     /* the site: HTTPS with a certificate, else HTTP */
  struct tls_ctx *tls;         /* NULL: plain HTTP */
  struct acme *acme;           /* with tls-domain: gets and renews tls's certificate */
  struct ipset proxies;        /* trusted-proxies */
  struct conn_limits limits;   /* max-conns, max-conns-per-ip: every listener's */
  struct http_server redirect; /* plain HTTP to HTTPS, when http-listen is set */
  int redirecting;
  uv_signal_t sig_int, sig_term, sig_hup;
  uv_timer_t stop_timer; /* from the stop signal to the stop: the goodbyes go out */
  int stopping;
  /* How far onair_start() got: onair_stop() undoes that much. */
  int app_up, http_up, signals_up;
};

#define STOP_GRACE_MS 300 /* for the restart notices to reach the pages */
#define FD_RESERVE 64     /* descriptors kept from max-conns: files, database, sockets */

static void on_stop_timer(uv_timer_t *t) { uv_stop(t->loop); }

/* SIGINT, SIGTERM: no new connections; every page is told the server is
 * restarting (it reconnects and resumes by itself); a moment later the loop
 * stops and onair_stop() closes the rest. A second signal stops at once. */
static void on_signal(uv_signal_t *s, int signum) {
  struct onair *o = s->data;
  if (o->stopping) {
    uv_stop(s->loop);
    return;
  }
  o->stopping = 1;
  log_ev(LOG_INFO, "stopping", LOG_U("signal", signum));
  conn_listener_refuse(&o->http.tcp);
  live_notify_restart(&o->app);
  uv_timer_start(&o->stop_timer, on_stop_timer, STOP_GRACE_MS, 0);
}

/* SIGHUP: the certificate files are read again (a renewed certificate);
 * open connections keep theirs, new ones get the new one. */
static void on_hangup(uv_signal_t *s, int signum) {
  struct onair *o = s->data;
  char err[TLS_ERROR_MAX];
  if (o->tls == NULL)
    return;
  if (o->acme) {
    /* The ACME client's files are its own: it looks whether renewal is due. */
    acme_check(o->acme);
    return;
  }
  if (tls_ctx_reload(o->tls, err) < 0)
    log_ev(LOG_ERROR, "SIGHUP: keeping the current certificate", LOG_S("error", err));
  else
    log_ev(LOG_INFO, "SIGHUP: certificate reloaded", LOG_S("file", o->cfg.tls_cert));
}

/* tls-domain: the ACME client, and the context it fills: the stored
 * certificate, or none yet (connections refused until the first one is
 * here). http-listen defaults to :80, where HTTP-01 challenges come. */
static int onair_start_acme(struct onair *o) {
  struct config *cfg = &o->cfg;
  char err[TLS_ERROR_MAX];
  if (cfg->tls_cert[0] || cfg->tls_key[0]) {
    log_msg(LOG_ERROR, "tls-domain gets its certificate itself: set tls-domain, or tls-cert and "
                       "tls-key, not both");
    return -EINVAL;
  }
  struct acme_config ac = {
      .domains = cfg->tls_domain,
      .email = cfg->tls_email,
      .directory = cfg->acme_directory,
      .ca_file = cfg->acme_ca_file,
      .data_dir = cfg->data_dir,
      .renew_days = cfg->acme_renew_days,
  };
  if (acme_new(o->loop, &ac, &o->acme) < 0)
    return -EINVAL;
  const char *cert = acme_cert_path(o->acme), *key = acme_key_path(o->acme);
  if (tls_ctx_new(cert, key, &o->tls, err) < 0) {
    if (access(cert, F_OK) == 0)
      log_ev(LOG_WARN, "acme: cannot use the stored certificate: ordering a new one",
             LOG_S("error", err));
    if (tls_ctx_new_empty(cert, key, &o->tls) < 0)
      return -ENOMEM;
  }
  if (cfg->http_listen.port == 0) {
    snprintf(cfg->http_listen.host, sizeof(cfg->http_listen.host), "0.0.0.0");
    cfg->http_listen.port = 80;
  }
  return 0;
}

/* The certificate (tls-cert and tls-key, or tls-domain's), and the plain
 * HTTP listener that redirects to it. */
static int onair_start_tls(struct onair *o) {
  const struct config *cfg = &o->cfg;
  char err[TLS_ERROR_MAX];
  if (cfg->tls_domain[0]) {
    if (onair_start_acme(o) < 0)
      return -EINVAL;
  } else if (cfg->tls_cert[0] == 0) {
    if (cfg->http_listen.port)
      log_msg(LOG_WARN, "http-listen is set but tls-cert is not: nothing to redirect to; ignored");
    return 0;
  }
  if (o->acme == NULL && cfg->tls_key[0] == 0) {
    log_msg(LOG_ERROR, "tls-cert is set but tls-key is not");
    return -EINVAL;
  }
  if (o->acme == NULL && tls_ctx_new(cfg->tls_cert, cfg->tls_key, &o->tls, err) < 0) {
    log_ev(LOG_ERROR, "cannot use the certificate", LOG_S("error", err));
    return -EINVAL;
  }
  http_server_use_tls(&o->http, o->tls);
  if (cfg->http_listen.port == 0)
    return 0;
  int rc = http_server_init(&o->redirect, o->loop, app_redirect_to_https, &o->app);
  o->redirecting = rc == 0;
  http_server_trust_proxies(&o->redirect, &o->proxies);
  http_server_limit(&o->redirect, &o->limits);
  o->redirect.request_ms = cfg->http_request_ms;
  if (rc == 0)
    rc = http_server_listen(&o->redirect, cfg->http_listen.host, cfg->http_listen.port);
  if (rc < 0)
    log_ev(LOG_ERROR, "cannot listen", LOG_S("host", cfg->http_listen.host),
           LOG_U("port", cfg->http_listen.port), LOG_S("error", uv_strerror(rc)));
  return rc;
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
  log_format_parse(o->cfg.log_format); /* config_set checked it */
  config_log(&o->cfg);
  if (sodium_init() < 0) {
    log_msg(LOG_ERROR, "libsodium failed to initialise");
    return -EIO;
  }
  if (mkdir(o->cfg.data_dir, 0700) < 0 && errno != EEXIST) {
    log_ev(LOG_ERROR, "cannot create the data directory", LOG_S("dir", o->cfg.data_dir),
           LOG_S("error", strerror(errno)));
    return -errno;
  }
  /* The store: the cluster's PostgreSQL, else SQLite in the data directory.
   * The log names which, never the conninfo (it may hold a password). */
  if (o->cfg.postgres[0]) {
    log_ev(LOG_INFO, "store", LOG_S("kind", "postgres"));
    return db_open_postgres(&o->db, o->cfg.postgres) < 0 ? -EIO : 0;
  }
  char db_path[1100];
  snprintf(db_path, sizeof(db_path), "%s/onair.db", o->cfg.data_dir);
  log_ev(LOG_INFO, "store", LOG_S("kind", "sqlite"), LOG_S("path", db_path));
  return db_open(&o->db, db_path) < 0 ? -EIO : 0;
}

/* max-conns below the descriptor limit (raised to its hard limit first),
 * max-conns-per-ip with the trusted proxies exempt. */
static int onair_limits(struct onair *o) {
  const struct config *cfg = &o->cfg;
  size_t fds = conn_fd_limit();
  size_t total = cfg->max_conns;
  if (total == 0)
    total = fds > 2 * FD_RESERVE ? fds - FD_RESERVE : fds / 2;
  else if (fds && total > fds - fds / 8)
    log_ev(LOG_WARN, "max-conns is close to the descriptor limit: accepting may fail",
           LOG_U("max_conns", total), LOG_U("descriptors", fds));
  log_ev(LOG_INFO, "connection limits", LOG_U("descriptors", fds), LOG_U("max_conns", total),
         LOG_U("max_conns_per_ip", cfg->max_conns_per_ip),
         LOG_U("max_ws_per_ip", cfg->max_ws_per_ip));
  /* config_set checked the list: it parses. */
  ipset_parse(&o->proxies, cfg->trusted_proxies, NULL);
  return conn_limits_init(&o->limits, total, cfg->max_conns_per_ip, &o->proxies);
}

/* The app, the media plane, the HTTP listener and the signals. */
static int onair_start(struct onair *o) {
  const struct config *cfg = &o->cfg;
  if (onair_limits(o) < 0 || app_init(&o->app, o->loop, cfg, o->db) < 0)
    return -EIO;
  o->app_up = 1;
  if (app_media_start(&o->app) < 0)
    return -EIO;
  int rc = http_server_init(&o->http, o->loop, app_on_request, &o->app);
  o->http_up = rc == 0;
  http_server_trust_proxies(&o->http, &o->proxies);
  http_server_limit(&o->http, &o->limits);
  o->http.request_ms = cfg->http_request_ms;
  /* Behind a proxy that terminates TLS (base-url https), browsers get HSTS
   * through it as from onair's own TLS. */
  o->http.hsts = strncmp(cfg->base_url, "https://", 8) == 0;
  o->app.limits = &o->limits;
  o->app.site = &o->http;
  if (rc == 0 && (rc = onair_start_tls(o)) < 0)
    return rc;
  o->app.tls = o->tls;
  o->app.acme = o->acme;
  if (rc == 0)
    rc = http_server_listen(&o->http, cfg->listen_host, cfg->listen_port);
  if (rc < 0) {
    log_ev(LOG_ERROR, "cannot listen", LOG_S("host", cfg->listen_host),
           LOG_U("port", cfg->listen_port), LOG_S("error", uv_strerror(rc)));
    return rc;
  }
  /* ICE-TCP on the same port, for browsers whose UDP is blocked. */
  conn_listener_set_sniffer(&o->http.tcp, app_media_sniff, &o->app);
  sfu_set_tcp_port(o->app.sfu, http_server_port(&o->http));
  uv_timer_init(o->loop, &o->stop_timer);
  uv_signal_init(o->loop, &o->sig_int);
  o->sig_int.data = o;
  uv_signal_start(&o->sig_int, on_signal, SIGINT);
  uv_signal_init(o->loop, &o->sig_term);
  o->sig_term.data = o;
  uv_signal_start(&o->sig_term, on_signal, SIGTERM);
  uv_signal_init(o->loop, &o->sig_hup);
  o->sig_hup.data = o;
  uv_signal_start(&o->sig_hup, on_hangup, SIGHUP);
  o->signals_up = 1;
  if (o->acme)
    acme_start(o->acme, o->tls); /* the listeners answer its challenges from now on */
  const char *scheme = o->tls ? "https" : "http";
  log_ev(LOG_INFO, "listening", LOG_S("scheme", scheme), LOG_S("host", cfg->listen_host),
         LOG_U("port", cfg->listen_port), LOG_S("data", cfg->data_dir),
         LOG_S("web", cfg->web_dir[0] ? cfg->web_dir : "(built in)"));
  if (strcmp(cfg->listen_host, "127.0.0.1") == 0) {
    char url[128];
    snprintf(url, sizeof(url), "%s://localhost:%d", scheme, cfg->listen_port);
    log_ev(LOG_INFO, "open this in a browser", LOG_S("url", url));
  }
  return 0;
}

/* The one shutdown path: connections first (their rooms end), then the app
 * (media, OIDC, timers), then the loop runs until every handle has closed.
 * The database is consistent at every commit: nothing to flush. Also after
 * a failed start: only what was set up is closed. */
static void onair_stop(struct onair *o) {
  if (o->http_up)
    http_server_close(&o->http, NULL);
  if (o->redirecting)
    http_server_close(&o->redirect, NULL);
  acme_free(o->acme); /* its requests end; nothing half-written */
  o->app.acme = NULL;
  if (o->app_up)
    app_close(&o->app, NULL);
  if (o->signals_up) {
    uv_close((uv_handle_t *)&o->sig_int, NULL);
    uv_close((uv_handle_t *)&o->sig_term, NULL);
    uv_close((uv_handle_t *)&o->stop_timer, NULL);
    uv_close((uv_handle_t *)&o->sig_hup, NULL);
  }
  uv_run(o->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(o->loop) != 0)
    log_msg(LOG_WARN, "a handle was still open at exit");
  tls_ctx_free(o->tls); /* after the connections that used it */
  conn_limits_free(&o->limits);
  sbuf_pack_release(); /* the last frames are gone with their connections */
  db_close(o->db);
}

/* `onair admin NAME [--data DIR ...]`: makes the user NAME an admin (of
 * the data directory the settings name) and exits; for an operator who has
 * no admin yet or lost the only one. */
static int onair_admin_command(int argc, char **argv) {
  if (argc < 3 || argv[2][0] == '-') {
    fprintf(stderr, "usage: onair admin NAME [--data DIR] [--config FILE]\n");
    return 2;
  }
  const char *name = argv[2];
  struct onair *o = calloc(1, sizeof(*o));
  int exit_code = 1;
  argv[2] = argv[0]; /* the settings after NAME, read as onair's own */
  if (o == NULL || onair_prepare(o, argc - 2, argv + 2, &exit_code) < 0)
    goto out;
  int rc = db_user_set_admin(o->db, name, 1);
  if (rc == 0)
    printf("%s is an admin now.\n", name);
  else
    fprintf(stderr, "onair: %s\n", rc == -ENOENT ? "no user of that name" : "the database failed");
  exit_code = rc == 0 ? 0 : 1;
  db_close(o->db);
out:
  free(o);
  return exit_code;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "admin") == 0)
    return onair_admin_command(argc, argv);
  struct onair *o = calloc(1, sizeof(*o)); /* large (read buffers): not on the stack */
  int exit_code = 1;
  if (o == NULL || onair_prepare(o, argc, argv, &exit_code) < 0)
    goto out;
  signal(SIGPIPE, SIG_IGN);
  o->loop = uv_default_loop();
  uv_loop_configure(o->loop, UV_METRICS_IDLE_TIME); /* the loop's busy time, for /metrics */
  if (onair_start(o) < 0) {
    onair_stop(o);
    goto out;
  }
  uv_run(o->loop, UV_RUN_DEFAULT);
  onair_stop(o);
  log_msg(LOG_INFO, "stopped");
  exit_code = 0;
out:
  free(o);
  return exit_code;
}
