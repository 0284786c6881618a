/* What a shared /view/<room> link shows to anyone, signed in or not: the
 * watch page with Open Graph tags naming the room (so a pasted link
 * previews with its title), and GET /api/rooms/<name>, whose room it is and
 * whether it is live (docs/protocol.md, "Pages" and "JSON API"). */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/cluster.h"
#include "app/rooms.h"
#include "app/web.h"
#include "net/conn.h"
#include "util/buf.h"

/* The room's state and canonical name: "live" or "reconnecting" (*room
 * set), "offline" for a user who is not live (name as they spell it), or
 * -ENOENT for nobody of that name. */
static int room_lookup(struct app *app, const char *name, struct room **room, char *canon,
                       size_t size, const char **state) {
  *room = rooms_find(&app->rooms, name, strlen(name));
  if (*room) {
    snprintf(canon, size, "%s", (*room)->name);
    *state = room_state(*room);
    return 0;
  }
  struct db_user u;
  if (db_user_find(app->db, name, &u) < 0)
    return -ENOENT;
  snprintf(canon, size, "%.*s", ROOM_NAME_MAX, u.name);
  *state = "offline";
  return 0;
}

void web_room_info(struct conn *c, struct http_req *req, const struct who *who) {
  struct app *app = c->app;
  const char *name = req->path + strlen("/api/rooms/");
  struct room *room;
  char canon[ROOM_NAME_MAX + 1];
  const char *state;
  struct who me;
  if (!rooms_name_ok(name, strlen(name)) ||
      room_lookup(app, name, &room, canon, sizeof(canon), &state) < 0)
    return http_respond_error(c, 404, "no_such_room", "Nobody of that name is on this site.");
  json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "name", canon, "broadcaster", canon,
                        "state", state, "title", room ? room->title : "", "viewers",
                        (json_int_t)(room ? room_viewers(room) : 0), "since",
                        (json_int_t)(room ? room->since_ms : 0));
  web_respond_json(c, 200, "Cache-Control: no-store\r\n",
                   json_pack("{s:o, s:b, s:b}", "room", r, "signed_in",
                             web_request_user(app, req, &me) == 0, "public_watch",
                             app->cfg->public_watch));
}

static int put(struct buf *b, const char *s) { return buf_append(b, s, strlen(s)); }

/* Appends s to b with HTML's special characters escaped. */
static int html_escaped(struct buf *b, const char *s) {
  int rc = 0;
  for (; *s && rc == 0; s++) {
    switch (*s) {
    case '&': rc = put(b, "&amp;"); break;
    case '<': rc = put(b, "&lt;"); break;
    case '>': rc = put(b, "&gt;"); break;
    case '"': rc = put(b, "&quot;"); break;
    case '\'': rc = put(b, "&#39;"); break;
    default: rc = buf_append(b, s, 1);
    }
  }
  return rc;
}

static int meta(struct buf *b, const char *property, const char *content) {
  return put(b, "<meta property=\"") | put(b, property) | put(b, "\" content=\"") |
         html_escaped(b, content) | put(b, "\">\n");
}

/* The <title> and Open Graph tags for a room. */
static int room_head(struct app *app, const struct http_req *req, const char *canon,
                     const struct room *room, const char *state, struct buf *b) {
  char heading[ROOM_NAME_MAX + ROOM_TITLE_MAX * 4 + 64], site[300], url[1400];
  const char *title = room ? room->title : "";
  int offline = strcmp(state, "offline") == 0;
  if (offline)
    snprintf(heading, sizeof(heading), "%s is offline", canon);
  else
    snprintf(heading, sizeof(heading), "%s is live%s%s", canon, title[0] ? ": " : "", title);
  int rc = put(b, "<title>") | html_escaped(b, heading) | put(b, " — onair</title>\n") |
           meta(b, "og:site_name", "onair") | meta(b, "og:type", "video.other") |
           meta(b, "og:title", heading) |
           meta(b, "og:description",
                offline ? "Watch here when they go live, with chat."
                        : "Watching live now on onair, with chat.");
  if (web_site_url(app, req, site, sizeof(site)) == 0) {
    snprintf(url, sizeof(url), "%s/view/%s", site, canon);
    rc |= meta(b, "og:url", url);
  }
  return rc;
}

/* Sends the page with an ETag of its content (it changes with the room), or
 * 304 when the browser has it. */
static void respond_page(struct conn *c, const struct http_req *req, const struct buf *b) {
  uint8_t hash[16];
  char etag[2 * sizeof(hash) + 5], extra[128];
  crypto_generichash(hash, sizeof(hash), b->data, b->len, NULL, 0);
  etag[0] = '"';
  sodium_bin2hex(etag + 1, sizeof(etag) - 1, hash, sizeof(hash));
  snprintf(etag + 1 + 2 * sizeof(hash), 4, "\"");
  snprintf(extra, sizeof(extra), "Cache-Control: no-cache\r\nETag: %s\r\n", etag);
  size_t len;
  const char *inm = http_req_header(req, "if-none-match", &len);
  if (inm && len == strlen(etag) && memcmp(inm, etag, len) == 0)
    return http_respond(c, 304, NULL, extra, NULL, 0);
  http_respond(c, 200, "text/html; charset=utf-8", extra, b->data, b->len);
}

/* GET /view/<room>: web/view.html with the room's <title> and Open Graph
 * tags in place of its generic title. */
void web_view_page(struct conn *c, struct http_req *req, const struct who *who) {
  struct app *app = c->app;
  const char *name = req->path + strlen("/view/"), *page, *cut, *end;
  size_t len;
  struct room *room;
  char canon[ROOM_NAME_MAX + 1];
  const char *state;
  char elsewhere[512];
  if (cluster_redirect(app, req->path, elsewhere, sizeof(elsewhere)) == 0)
    return web_respond_redirect(c, elsewhere); /* a less loaded node of the cluster */
  if (room_lookup(app, name, &room, canon, sizeof(canon), &state) < 0) {
    snprintf(canon, sizeof(canon), "%s", name); /* the page says nobody is live there */
    state = "offline";
  }
  if (static_lookup(&app->files, "view.html", &page, &len) < 0 ||
      (cut = strstr(page, "<title>")) == NULL || (end = strstr(cut, "</title>\n")) == NULL)
    return http_respond_error(c, 500, "internal", "The page is missing.");
  struct buf b;
  buf_init(&b, len + 4096);
  end += strlen("</title>\n");
  int rc = buf_append(&b, page, (size_t)(cut - page)) |
           room_head(app, req, canon, room, state, &b) |
           buf_append(&b, end, len - (size_t)(end - page));
  if (rc < 0)
    http_respond_error(c, 503, "busy", "Try again.");
  else
    respond_page(c, req, &b);
  buf_free(&b);
}
