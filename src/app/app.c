#include "app/app.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/cluster.h"
#include "auth/oidc.h"
#include "auth/session.h"
#include "media/sfu.h"
#include "net/ifaddr.h"
#include "util/container_of.h"
#include "util/log.h"

#define SESSION_SWEEP_MS (60 * 60 * 1000)

static void app_on_sweep(uv_timer_t *t) {
  struct app *app = t->data;
  int n = db_session_expire(app->db, session_now_ms());
  if (n > 0)
    log_ev(LOG_INFO, "sessions expired", LOG_U("count", n));
}

static void app_timer_init(struct app *app, uv_timer_t *t) {
  uv_timer_init(app->loop, t);
  t->data = app;
  app->handles_open++;
}

static int app_oidc_start(struct app *app) {
  const struct config *cfg = app->cfg;
  struct oidc_config oc = {
      .issuer = cfg->oidc_issuer,
      .client_id = cfg->oidc_client_id,
      .client_secret = cfg->oidc_client_secret,
      .name = cfg->oidc_name,
      .scopes = cfg->oidc_scopes,
      .jwks_min_interval_ms = cfg->oidc_jwks_min_interval_ms,
  };
  int rc = oidc_new(app->loop, &oc, &app->oidc);
  if (rc < 0)
    log_ev(LOG_ERROR, "cannot start the OpenID Connect client", LOG_S("error", strerror(-rc)));
  return rc;
}

/* The pages: built in, or with `web` set the files of that directory (for
 * development), which must be there at start. */
static int app_web_init(struct app *app, const char *web_dir) {
  const char *why = "out of memory";
  int rc = static_files_init(&app->files, web_dir, &why);
  if (rc < 0)
    log_ev(LOG_ERROR,
           "cannot serve the pages from the web directory (leave web unset for the "
           "built-in pages)",
           LOG_S("dir", web_dir), LOG_S("error", why));
  return rc;
}

int app_init(struct app *app, uv_loop_t *loop, const struct config *cfg, struct db *db) {
  memset(app, 0, sizeof(*app));
  app->loop = loop;
  app->cfg = cfg;
  app->db = db;
  app->started_ns = uv_hrtime();
  ipset_parse(&app->metrics_allow, cfg->metrics_allow, NULL); /* config_set checked it */
  int wrc = app_web_init(app, cfg->web_dir);
  if (wrc < 0)
    return wrc;
  if (rooms_init(&app->rooms, cfg->max_viewers) < 0 || map_init(&app->peers) < 0 ||
      map_init(&app->ws_by_ip) < 0 || map_init(&app->signup_by_ip) < 0 ||
      map_init(&app->users) < 0 || map_init(&app->whips) < 0 || map_init(&app->wheps) < 0 ||
      throttle_init(&app->throttle_user, SIGNIN_FREE_PER_NAME, 100000) < 0 ||
      throttle_init(&app->throttle_user_at, SIGNIN_FREE_PER_NAME_AT, 100000) < 0 ||
      throttle_init(&app->throttle_ip, SIGNIN_FREE_PER_IP, 100000) < 0)
    return -ENOMEM;
  char key_path[1100];
  snprintf(key_path, sizeof(key_path), "%s/device.key", cfg->data_dir);
  int krc = device_key_load(key_path, app->device_key);
  if (krc < 0) {
    log_ev(LOG_ERROR, "cannot read or make the device key", LOG_S("file", key_path),
           LOG_S("error", strerror(-krc)));
    return krc;
  }
  struct ws_config wcfg = {
      .max_message = cfg->ws_max_message,
      .ping_ms = cfg->ws_ping_ms,
      .timeout_ms = cfg->ws_timeout_ms,
  };
  int rc = ws_server_init(&app->ws, loop, &wcfg);
  if (rc < 0)
    return rc;
  app->handles_open++;
  /* Over TLS (ours, or a proxy's named by base-url) the cookie is Secure
   * and host-bound (__Host- prefix). */
  int tls = cfg->tls_cert[0] || cfg->tls_domain[0] || strncmp(cfg->base_url, "https://", 8) == 0;
  app->cookie_name = tls ? "__Host-" SESSION_COOKIE : SESSION_COOKIE;
  app->device_cookie_name = tls ? "__Host-onair_device" : "onair_device";
  app->cookie_attrs =
      tls ? "; Path=/; HttpOnly; SameSite=Lax; Secure" : "; Path=/; HttpOnly; SameSite=Lax";
  app_timer_init(app, &app->rooms_timer);
  app_timer_init(app, &app->viewers_timer);
  app_timer_init(app, &app->grace_timer);
  app_timer_init(app, &app->sweep_timer);
  uv_unref((uv_handle_t *)&app->sweep_timer);
  uv_timer_start(&app->sweep_timer, app_on_sweep, 1000, SESSION_SWEEP_MS);
  rc = app_oidc_start(app);
  return rc < 0 ? rc : cluster_start(app);
}

/* What the media plane announces when media-announce is unset: bound to
 * every interface, the machine's own addresses (loopback only when it has
 * no other); else the bound address. */
static const char *media_announce_default(const char *bind, char *buf, size_t size) {
  int any4 = strcmp(bind, "0.0.0.0") == 0, any6 = strcmp(bind, "::") == 0;
  if (!any4 && !any6)
    return bind;
  int n = ifaddr_list(any6, buf, size);
  if (n > 0) {
    log_ev(LOG_INFO, "media-announce not set: announcing this machine's addresses",
           LOG_S("addresses", buf));
    return buf;
  }
  log_ev(LOG_WARN,
         "media-announce not set and this machine has no address but loopback: only browsers on "
         "this machine get video; set media-announce to the address viewers reach",
         LOG_S("announce", "127.0.0.1"));
  return "127.0.0.1";
}

/* Sending threads: n, or one per core for 0. */
static unsigned media_workers(int n) {
  if (n > 0)
    return (unsigned)n;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  return cores < 1 ? 1 : cores > 63 ? 63 : (unsigned)cores;
}

/* The media plane on its one UDP port: by default the HTTP port's number on
 * the HTTP host, announcing that host (the machine's addresses when bound
 * to all). */
int app_media_start(struct app *app) {
  const struct config *cfg = app->cfg;
  const char *bind = cfg->media_bind[0] ? cfg->media_bind : cfg->listen_host;
  char found[IFADDR_MAX * (INET6_ADDRSTRLEN + 2)];
  const char *announce = cfg->media_announce;
  if (announce[0] == 0)
    announce = media_announce_default(bind, found, sizeof(found));
  struct sfu_config mc = {
      .bind = bind,
      .port = cfg->media_port ? cfg->media_port : cfg->listen_port,
      .announce = announce,
      .consent_ms = cfg->media_consent_ms,
      .no_gso = !cfg->media_gso,
      .workers = media_workers(cfg->media_workers),
      .hold_ms = (unsigned)cfg->media_frame_hold_ms,
  };
  int rc = sfu_new(app->loop, &mc, &app->sfu);
  if (rc < 0) {
    log_ev(LOG_ERROR, "cannot open the media port", LOG_S("bind", bind), LOG_U("port", mc.port),
           LOG_S("error", uv_strerror(rc)));
    return rc;
  }
  log_ev(LOG_INFO, "media on udp", LOG_S("bind", bind), LOG_U("port", sfu_port(app->sfu)),
         LOG_S("announce", announce), LOG_U("workers", mc.workers));
  if (strchr(announce, ':') && !strchr(bind, ':'))
    log_ev(LOG_WARN,
           "media-announce has an IPv6 address but media-bind is IPv4: set media-bind = ::",
           LOG_S("bind", bind));
  return 0;
}

int app_media_sniff(void *arg, struct conn *c, const uint8_t *data, size_t len) {
  struct app *app = arg;
  if (app->sfu == NULL)
    return 0;
  int rc = sfu_tcp_sniff(data, len);
  return rc == 1 ? sfu_tcp_take(app->sfu, c, data, len) : rc;
}

static void app_free_memory(struct app *app) {
  size_t slot;
  for (struct map_entry *e = map_first(&app->users, &slot); e; e = map_next(&app->users, e, &slot))
    free(e->value);
  map_free(&app->users);
  map_free(&app->whips); /* empty: every session went with its room (live_end_all) */
  map_free(&app->wheps);
  for (struct map_entry *e = map_first(&app->signup_by_ip, &slot); e;
       e = map_next(&app->signup_by_ip, e, &slot))
    free(e->value);
  map_free(&app->signup_by_ip);
  map_free(&app->peers);
  map_free(&app->ws_by_ip);
  rooms_free(&app->rooms);
  throttle_free(&app->throttle_user);
  throttle_free(&app->throttle_user_at);
  sodium_memzero(app->device_key, sizeof(app->device_key));
  throttle_free(&app->throttle_ip);
  static_files_free(&app->files);
}

/* Frees the app once it is closing, its handles are closed and no job is
 * left to come back to it. */
static void app_maybe_done(struct app *app) {
  if (!app->closing || app->handles_open > 0 || app->jobs > 0)
    return;
  app->closing = 0; /* once */
  app_free_memory(app);
  if (app->close_cb)
    app->close_cb(app);
}

void app_job_begin(struct app *app) { app->jobs++; }

void app_job_end(struct app *app) {
  app->jobs--;
  app_maybe_done(app);
}

static void app_one_closed(struct app *app) {
  app->handles_open--;
  app_maybe_done(app);
}

static void app_on_timer_closed(uv_handle_t *h) { app_one_closed(h->data); }

static void app_on_ws_closed(struct ws_server *ws) {
  app_one_closed(container_of(ws, struct app, ws));
}

void app_close(struct app *app, app_close_cb close_cb) {
  app->closing = 1;
  app->close_cb = close_cb;
  live_end_all(app);
  cluster_close(app); /* after the rooms: the other nodes heard them end */
  sfu_close(app->sfu);
  app->sfu = NULL;
  oidc_free(app->oidc);
  app->oidc = NULL;
  uv_timer_t *timers[] = {&app->rooms_timer, &app->viewers_timer, &app->sweep_timer,
                          &app->grace_timer};
  for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++) {
    uv_timer_stop(timers[i]);
    uv_close((uv_handle_t *)timers[i], app_on_timer_closed);
  }
  ws_server_close(&app->ws, app_on_ws_closed);
}
