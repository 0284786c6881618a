/* The admin's JSON API (docs/protocol.md, "Admin"): the live rooms and who
 * watches, ending a room, the users, disabling and enabling an account,
 * making or unmaking an admin. The route table lets only admins in; what
 * an admin does is logged with their name. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/cluster.h"
#include "app/rooms.h"
#include "app/web.h"
#include "util/log.h"

#define ADMIN_USERS_MAX 1000 /* users in one list */

/* The string member key of the request's JSON body, a valid name, into
 * out; answers 400 and returns -EINVAL otherwise. */
static int body_name(struct conn *c, struct http_req *req, const char *key, char *out, size_t size,
                     json_t **root) {
  *root = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL);
  json_t *v = json_object_get(*root, key);
  const char *s = json_string_value(v);
  if (s == NULL || !rooms_name_ok(s, json_string_length(v)) || json_string_length(v) >= size) {
    char msg[64];
    snprintf(msg, sizeof(msg), "Send {\"%s\": \"<name>\"}.", key);
    http_respond_error(c, 400, "bad_request", msg);
    return -EINVAL;
  }
  snprintf(out, size, "%s", s);
  return 0;
}

void admin_api_rooms(struct conn *c, struct http_req *req, const struct who *who) {
  char *s = live_admin_rooms_json(c->app);
  if (s == NULL)
    return http_respond_error(c, 500, "internal", "out of memory");
  http_respond(c, 200, "application/json", "Cache-Control: no-store\r\n", s, strlen(s));
  free(s);
}

void admin_api_end_room(struct conn *c, struct http_req *req, const struct who *who) {
  char name[ROOM_NAME_MAX + 1];
  json_t *root;
  if (body_name(c, req, "room", name, sizeof(name), &root) == 0) {
    if (live_admin_end_room(c->app, name) < 0) {
      http_respond_error(c, 404, "no_such_room", "That room is not live.");
    } else {
      log_ev(LOG_INFO, "room ended by an admin", LOG_S("room", name), LOG_S("admin", who->name));
      web_respond_json(c, 200, NULL, json_pack("{s:s}", "ended", name));
    }
  }
  json_decref(root);
}

static void add_user(const struct db_user *u, void *arg) {
  json_array_append_new(arg,
                        json_pack("{s:s, s:b, s:b, s:I}", "name", u->name, "admin", u->admin,
                                  "disabled", u->disabled, "created", (json_int_t)u->created_ms));
}

void admin_api_users(struct conn *c, struct http_req *req, const struct who *who) {
  struct app *app = c->app;
  json_t *list = json_array();
  if (db_user_list(app->db, ADMIN_USERS_MAX, add_user, list) < 0) {
    json_decref(list);
    return http_respond_error(c, 500, "internal", "The users could not be read.");
  }
  web_respond_json(c, 200, "Cache-Control: no-store\r\n", json_pack("{s:o}", "users", list));
}

/* Sets a flag of the user named in the body; not the admin's own. */
static void set_flag(struct conn *c, struct http_req *req, const struct who *who, int disable,
                     int value) {
  struct app *app = c->app;
  char name[DB_NAME_MAX + 1];
  json_t *root;
  struct db_user u;
  if (body_name(c, req, "user", name, sizeof(name), &root) < 0)
    goto out;
  if (db_user_find(app->db, name, &u) < 0) {
    http_respond_error(c, 404, "no_such_user", "No such user.");
    goto out;
  }
  if (u.id == who->id) {
    http_respond_error(c, 400, "own_account", "Not on your own account.");
    goto out;
  }
  int rc = disable ? db_user_set_disabled(app->db, u.name, value)
                   : db_user_set_admin(app->db, u.name, value);
  if (rc < 0) {
    http_respond_error(c, 500, "internal", "The change could not be stored.");
    goto out;
  }
  if (disable && value) { /* out at once: no session, no open page */
    db_session_delete_user(app->db, u.id);
    live_close_user(app, u.id, "account disabled");
    cluster_user_closed(app, u.id, "account disabled");
  }
  log_ev(LOG_INFO,
         disable ? (value ? "user disabled" : "user enabled")
                 : (value ? "admin added" : "admin removed"),
         LOG_S("user", u.name), LOG_S("admin", who->name));
  web_respond_json(c, 200, NULL,
                   json_pack("{s:s, s:b}", "user", u.name, disable ? "disabled" : "admin", value));
out:
  json_decref(root);
}

void admin_api_disable(struct conn *c, struct http_req *req, const struct who *who) {
  set_flag(c, req, who, 1, 1);
}

void admin_api_enable(struct conn *c, struct http_req *req, const struct who *who) {
  set_flag(c, req, who, 1, 0);
}

void admin_api_set_admin(struct conn *c, struct http_req *req, const struct who *who) {
  json_t *root = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL);
  json_t *admin = json_object_get(root, "admin");
  int value = json_is_true(admin);
  int ok = json_is_boolean(admin);
  json_decref(root);
  if (!ok)
    return http_respond_error(c, 400, "bad_request",
                              "Send {\"user\": \"<name>\", \"admin\": true}.");
  set_flag(c, req, who, 0, value);
}
