/* HTTP routes of OpenID Connect sign-in (docs/protocol.md): provider info
 * for the front page, the start of a sign-in, the tutorial's callback path,
 * and the provider's logout. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/web.h"
#include "auth/oidc.h"
#include "util/log.h"

#define STATE_COOKIE "onair_oidc"
#define CALLBACK_PATH "/authorization-code/callback"

struct callback_job {
  struct app *app;
  struct conn *conn;
};

void web_auth_info(struct conn *c, struct http_req *req, const struct who *who) {
  struct app *app = c->app;
  json_t *providers = json_array();
  if (app->oidc) {
    const char *msg;
    int ok = oidc_available(app->oidc, &msg);
    json_array_append_new(providers,
                          json_pack("{s:s, s:s, s:b, s:s}", "id", "oidc", "name",
                                    oidc_name(app->oidc), "available", ok, "message", msg));
  }
  web_respond_json(c, 200, "Cache-Control: no-store\r\n",
                   json_pack("{s:b, s:o}", "signup", app->cfg->signup, "providers", providers));
}

/* Writes text into out with &<>"' escaped. */
static void html_escape(const char *text, char *out, size_t size) {
  size_t n = 0;
  for (; *text && n + 7 < size; text++) {
    const char *rep = NULL;
    switch (*text) {
    case '&': rep = "&amp;"; break;
    case '<': rep = "&lt;"; break;
    case '>': rep = "&gt;"; break;
    case '"': rep = "&quot;"; break;
    case '\'': rep = "&#39;"; break;
    }
    if (rep) {
      memcpy(out + n, rep, strlen(rep));
      n += strlen(rep);
    } else {
      out[n++] = *text;
    }
  }
  out[n] = 0;
}

/* A plain page saying why sign-in failed; the code is in data-error. */
static void respond_failure(struct conn *c, int status, const char *code, const char *message,
                            const char *extra) {
  struct app *app = c->app;
  char name[200], msg[1200], page[3000];
  html_escape(app->oidc ? oidc_name(app->oidc) : "the provider", name, sizeof(name));
  html_escape(message, msg, sizeof(msg));
  int n = snprintf(page, sizeof(page),
                   "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                   "<title>Sign-in failed — onair</title>"
                   "<link rel=\"stylesheet\" href=\"/assets/style.css\"></head>\n<body>"
                   "<main class=\"home\" data-error=\"%s\"><section class=\"card auth-failed\">"
                   "<h1>Sign-in with %s did not work</h1><p id=\"reason\">%s</p>"
                   "<p><a class=\"btn primary\" href=\"/\">Back to the front page</a></p>"
                   "</section></main></body></html>\n",
                   code, name, msg);
  http_respond(c, status, "text/html; charset=utf-8", extra, page, (size_t)n);
}

void web_oidc_start(struct conn *c, struct http_req *req, const struct who *who) {
  struct app *app = c->app;
  char next_raw[512] = "", next[512], site[512], redirect[600], *url;
  char state[OIDC_STATE_LEN + 1];
  const char *why;
  if (app->oidc == NULL) {
    http_respond_error(c, 404, "not_found", "No sign-in provider is configured.");
    return;
  }
  if (!oidc_available(app->oidc, &why)) {
    char msg[800];
    snprintf(msg, sizeof(msg), "Sign-in with %s is unavailable right now: %s", oidc_name(app->oidc),
             why);
    respond_failure(c, 503, "provider_unavailable", msg, NULL);
    return;
  }
  http_query_param(req->query, "next", next_raw, sizeof(next_raw));
  web_next_path(next_raw, next, sizeof(next));
  if (web_site_url(app, req, site, sizeof(site)) < 0) {
    http_respond_error(c, 400, "bad_request", "The request has no Host.");
    return;
  }
  snprintf(redirect, sizeof(redirect), "%s%s", site, CALLBACK_PATH);
  if (oidc_begin(app->oidc, redirect, next, &url, state) < 0) {
    respond_failure(c, 503, "provider_unavailable", "Too many sign-ins at once; try again.", NULL);
    return;
  }
  /* The state cookie binds this sign-in to this browser (login CSRF). */
  size_t size = strlen(url) + 512;
  char *extra = malloc(size);
  if (extra == NULL) {
    free(url);
    http_respond_error(c, 503, "busy", "Try again.");
    return;
  }
  snprintf(extra, size,
           "Location: %s\r\nSet-Cookie: " STATE_COOKIE "=%s; Path=" CALLBACK_PATH
           "; Max-Age=600; HttpOnly; SameSite=Lax%s\r\nCache-Control: no-store\r\n",
           url, state, strncmp(site, "https://", 8) == 0 ? "; Secure" : "");
  http_respond(c, 303, NULL, extra, NULL, 0);
  free(extra);
  free(url);
}

/* A name for a new user from the token's claims: name, preferred_username
 * or email's local part, reduced to what usernames allow. */
static void name_from_claims(json_t *claims, char out[ROOM_NAME_MAX - 3]) {
  static const char *const keys[] = {"name", "preferred_username", "email"};
  size_t cap = ROOM_NAME_MAX - 4, n = 0;
  for (size_t k = 0; k < 3 && n == 0; k++) {
    const char *v = json_string_value(json_object_get(claims, keys[k]));
    for (; v && *v && *v != '@' && n < cap; v++) {
      char ch = *v;
      if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '_' || ch == '-')
        out[n++] = ch;
      else if ((ch == ' ' || ch == '.') && n && out[n - 1] != '_')
        out[n++] = '_';
    }
    while (n && out[n - 1] == '_')
      n--;
  }
  if (n == 0)
    n = (size_t)snprintf(out, cap + 1, "user");
  out[n] = 0;
}

/* Finds or creates the onair user for (issuer, sub). */
static int oidc_user(struct app *app, const char *issuer, json_t *claims, int64_t *id,
                     char name[DB_NAME_MAX + 1]) {
  const char *sub = json_string_value(json_object_get(claims, "sub"));
  struct db_user u;
  if (db_identity_find(app->db, issuer, sub, id) == 0 && db_user_get(app->db, *id, &u) == 0) {
    snprintf(name, DB_NAME_MAX + 1, "%s", u.name);
    return 0;
  }
  char base[ROOM_NAME_MAX - 3];
  name_from_claims(claims, base);
  for (int i = 1; i < 1000; i++) {
    if (i == 1)
      snprintf(name, DB_NAME_MAX + 1, "%s", base);
    else
      snprintf(name, DB_NAME_MAX + 1, "%s%d", base, i);
    int rc = db_user_create(app->db, name, "", id);
    if (rc == -EEXIST)
      continue;
    if (rc < 0)
      return rc;
    if (db_identity_add(app->db, issuer, sub, *id) < 0)
      return -EIO;
    log_ev(LOG_INFO, "user created", LOG_S("user", name), LOG_S("issuer", issuer));
    return 0;
  }
  return -EEXIST;
}

static void on_signed_in(void *arg, const struct oidc_result *r) {
  struct callback_job *job = arg;
  struct conn *c = job->conn;
  struct app *app = job->app;
  static const char clear_state[] = "Set-Cookie: " STATE_COOKIE "=; Path=" CALLBACK_PATH
                                    "; Max-Age=0; HttpOnly; SameSite=Lax\r\n";
  if (c->closing)
    goto out;
  if (r->error) {
    respond_failure(c, r->status, r->error, r->message, clear_state);
    goto out;
  }
  int64_t id;
  char name[DB_NAME_MAX + 1], token[SESSION_TOKEN_LEN + 1];
  struct db_user u;
  int found = oidc_user(app, r->issuer, r->claims, &id, name) == 0;
  if (found && db_user_get(app->db, id, &u) == 0 && u.disabled) {
    respond_failure(c, 403, "account_disabled", "This account is disabled.", clear_state);
    goto out;
  }
  if (!found ||
      session_create_oidc(app->db, id, app->cfg->session_ttl_ms, r->id_token, token) < 0) {
    respond_failure(c, 500, "internal", "onair could not record the sign-in; try again.",
                    clear_state);
    goto out;
  }
  char extra[1024];
  snprintf(extra, sizeof(extra),
           "Location: %s\r\n%sSet-Cookie: %s=%s; Max-Age=%" PRId64 "%s\r\n"
           "Cache-Control: no-store\r\n",
           r->next, clear_state, app->cookie_name, token, app->cfg->session_ttl_ms / 1000,
           app->cookie_attrs);
  log_ev(LOG_INFO, "signed in", LOG_S("user", name), LOG_S("provider", oidc_name(app->oidc)));
  http_respond(c, 303, NULL, extra, NULL, 0);
out:
  conn_unref(c);
  free(job);
  app_job_end(app);
}

void web_oidc_callback(struct conn *c, struct http_req *req, const struct who *who) {
  struct app *app = c->app;
  char state[128], cookie[128], code[2100], error[128];
  if (app->oidc == NULL) {
    http_respond_error(c, 404, "not_found", "No sign-in provider is configured.");
    return;
  }
  int has_state = http_query_param(req->query, "state", state, sizeof(state)) > 0;
  int has_cookie = http_req_cookie(req, STATE_COOKIE, cookie, sizeof(cookie)) > 0;
  int has_code = http_query_param(req->query, "code", code, sizeof(code)) > 0;
  int has_error = http_query_param(req->query, "error", error, sizeof(error)) > 0;
  struct callback_job *job = calloc(1, sizeof(*job));
  if (job == NULL) {
    http_respond_error(c, 503, "busy", "Try again.");
    return;
  }
  job->app = app;
  job->conn = c;
  conn_ref(c);
  app_job_begin(app);
  oidc_finish(app->oidc, has_state ? state : NULL, has_cookie ? cookie : NULL,
              has_code ? code : NULL, has_error ? error : NULL, on_signed_in, job);
}

char *web_oidc_logout_url(struct app *app, const struct http_req *req, const char *token) {
  char id_token[16 * 1024], site[512];
  if (app->oidc == NULL || session_id_token(app->db, token, id_token, sizeof(id_token)) < 0 ||
      web_site_url(app, req, site, sizeof(site)) < 0)
    return NULL;
  strncat(site, "/", sizeof(site) - strlen(site) - 1);
  return oidc_logout_url(app->oidc, id_token, site);
}
