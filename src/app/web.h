/* What the HTTP route files (web.c, web_oidc.c) share. */
#ifndef ONAIR_WEB_H
#define ONAIR_WEB_H

#include <jansson.h>

#include "app/app.h"
#include "auth/session.h"

/* The signed-in user of a request, if any. */
struct who {
  int64_t id;
  char name[DB_NAME_MAX + 1];
  char token[SESSION_TOKEN_LEN + 1];
  int admin;
};

/* The request's signed-in user: 0 and *who, -ENOENT (no session, or a
 * disabled account), or -EIO (the store cannot be reached). */
int web_request_user(struct app *app, const struct http_req *req, struct who *who);
/* 1 if the request's Origin is this site's (CSRF guard). */
int web_origin_ok(struct app *app, const struct http_req *req);
/* Sends j (consumed) as JSON. */
void web_respond_json(struct conn *c, int status, const char *extra, json_t *j);
void web_respond_redirect(struct conn *c, const char *location);
/* This site's URL: base-url, or http(s)://<Host> as the request came. Returns 0
 * or -EINVAL. */
int web_site_url(struct app *app, const struct http_req *req, char *out, size_t size);
/* A same-site path from a `next` parameter, or "/dashboard". */
void web_next_path(const char *next, char *out, size_t size);

/* web_admin.c: the admin's JSON API (docs/protocol.md, "Admin"); who is an
 * admin (the route table checked it). */
void admin_api_rooms(struct conn *c, struct http_req *req, const struct who *who);
void admin_api_end_room(struct conn *c, struct http_req *req, const struct who *who);
void admin_api_users(struct conn *c, struct http_req *req, const struct who *who);
void admin_api_disable(struct conn *c, struct http_req *req, const struct who *who);
void admin_api_enable(struct conn *c, struct http_req *req, const struct who *who);
void admin_api_set_admin(struct conn *c, struct http_req *req, const struct who *who);

/* web_view.c: GET /view/<room> (the page, with the room in its Open Graph
 * tags) and GET /api/rooms/<name> (whose room, live or not), for anyone. */
void web_view_page(struct conn *c, struct http_req *req, const struct who *who);
void web_room_info(struct conn *c, struct http_req *req, const struct who *who);

/* web_oidc.c's routes (who is NULL or the signed-in user: unused). */
void web_auth_info(struct conn *c, struct http_req *req, const struct who *who);
void web_oidc_start(struct conn *c, struct http_req *req, const struct who *who);
void web_oidc_callback(struct conn *c, struct http_req *req, const struct who *who);
/* For a session from a provider with end_session_endpoint: the logout URL
 * (caller frees), else NULL. */
char *web_oidc_logout_url(struct app *app, const struct http_req *req, const char *token);

#endif
