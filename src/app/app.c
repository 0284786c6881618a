#include "app/app.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define SESSION_SWEEP_MS (60 * 60 * 1000)

static void app_on_sweep(uv_timer_t *t) {
  struct app *app = t->data;
  int n = db_session_expire(app->db, session_now_ms());
  if (n > 0)
    log_info("expired %d sessions", n);
}

int app_init(struct app *app, uv_loop_t *loop, const struct config *cfg, struct db *db) {
  memset(app, 0, sizeof(*app));
  app->loop = loop;
  app->cfg = cfg;
  app->db = db;
  if (rooms_init(&app->rooms, cfg->max_viewers) < 0 || map_init(&app->peers) < 0 ||
      map_init(&app->users) < 0 || throttle_init(&app->throttle_user, 5, 100000) < 0 ||
      throttle_init(&app->throttle_ip, 20, 100000) < 0)
    return -ENOMEM;
  /* Behind TLS the cookie is Secure and host-bound (__Host- prefix). */
  int tls = strncmp(cfg->base_url, "https://", 8) == 0;
  app->cookie_name = tls ? "__Host-" SESSION_COOKIE : SESSION_COOKIE;
  app->cookie_attrs =
      tls ? "; Path=/; HttpOnly; SameSite=Lax; Secure" : "; Path=/; HttpOnly; SameSite=Lax";
  uv_timer_init(loop, &app->rooms_timer);
  app->rooms_timer.data = app;
  uv_timer_init(loop, &app->viewers_timer);
  app->viewers_timer.data = app;
  uv_timer_init(loop, &app->sweep_timer);
  app->sweep_timer.data = app;
  uv_unref((uv_handle_t *)&app->sweep_timer);
  uv_timer_start(&app->sweep_timer, app_on_sweep, 1000, SESSION_SWEEP_MS);
  return 0;
}

void app_shutdown(struct app *app) {
  uv_timer_stop(&app->rooms_timer);
  uv_timer_stop(&app->sweep_timer);
  uv_timer_stop(&app->viewers_timer);
  uv_close((uv_handle_t *)&app->viewers_timer, NULL);
  uv_close((uv_handle_t *)&app->rooms_timer, NULL);
  uv_close((uv_handle_t *)&app->sweep_timer, NULL);
  size_t slot;
  for (struct map_entry *e = map_first(&app->users, &slot); e; e = map_next(&app->users, e, &slot))
    free(e->value);
  map_free(&app->users);
  map_free(&app->peers);
  rooms_free(&app->rooms);
  throttle_free(&app->throttle_user);
  throttle_free(&app->throttle_ip);
}
