/* onair's signaling (docs/protocol.md): two accounts signed up over HTTP,
 * the broadcaster's WebSocket (live.start, then its media.offer), and one
 * WebSocket per viewer (room.join, then a recvonly media.offer). Every
 * WebSocket stays open for the run: it answers onair's pings, and closing it
 * would end that peer's media. */
#include "emu.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CASTER "benchcaster"
#define VIEWER "benchviewer"
#define PASSWORD "onair media bench 1"
#define SETUP_NS 30000000000LL

static int sign_in(const char *user, char *cookie, size_t cap) {
  const struct mb_cfg *cfg = mb_emu.cfg;
  static const char *paths[] = {"/api/signup", "/api/signin"};
  char body[256], hdr[256];
  int i, status = -1;

  snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", user, PASSWORD);
  snprintf(hdr, sizeof(hdr), "Origin: %s\r\n", mb_emu.origin);
  for (i = 0; i < 2; i++) {
    cookie[0] = '\0';
    status = mb_http_blocking(cfg->http_host, cfg->http_port, "POST", paths[i], hdr, body, NULL,
                              "onair_session", cookie, cap);
    if (status >= 200 && status < 300 && cookie[0])
      return 0;
  }
  mb_log("onair: cannot sign in %s (HTTP %d)", user, status);
  return -1;
}

static int ws_open(struct mb_hc *h, const char *cookie) {
  char hdr[512];

  snprintf(hdr, sizeof(hdr), "Cookie: %s\r\nOrigin: %s\r\n", cookie, mb_emu.origin);
  return mb_hc_ws_upgrade(h, mb_emu.cfg->http_host, mb_emu.cfg->http_port, hdr);
}

static int send_offer(struct mb_hc *h, const struct mb_conn *c, int publisher) {
  const struct mb_pub *p = &mb_emu.pub;
  char sdp[4096], *text;
  json_t *msg;
  int rc = -1;

  if (publisher && p->nlayers > 1
          ? mb_sdp_offer_simulcast(sdp, sizeof(sdp), c, &mb_emu.dtls, p->ssrc_a) < 0
          : mb_sdp_offer(sdp, sizeof(sdp), c, &mb_emu.dtls, publisher, p->ssrc_a, p->lay[0].ssrc,
                         !publisher && mb_emu.cfg->twcc) < 0)
    return -1;
  msg = json_pack("{s:s,s:s}", "type", "media.offer", "sdp", sdp);
  if (msg && (text = json_dumps(msg, JSON_COMPACT))) {
    rc = mb_hc_ws_send(h, text);
    free(text);
  }
  json_decref(msg);
  return rc;
}

/* The SDP of a media.answer. */
static int answer_sdp(const char *text, struct mb_rsdp *r) {
  json_t *msg = json_loads(text, 0, NULL);
  const char *sdp = msg ? json_string_value(json_object_get(msg, "sdp")) : NULL;
  int rc = sdp ? mb_sdp_parse(sdp, r) : -1;

  json_decref(msg);
  return rc;
}

/* ---- the broadcaster ---- */

/* media.layers: {"active":[true,false,true]}, lowest first; one not named
 * stays on (as web/assets/media.js's setLayers). */
static void caster_layers(const char *text) {
  struct mb_pub *p = &mb_emu.pub;
  json_t *msg = json_loads(text, 0, NULL), *active = json_object_get(msg, "active");
  unsigned i, mask = (1u << p->nlayers) - 1;
  static unsigned told;

  for (i = 0; i < p->nlayers && json_is_array(active) && i < json_array_size(active); i++)
    if (json_is_false(json_array_get(active, i)))
      mask &= ~(1u << i);
  json_decref(msg);
  if (told++ < 5 || told % 100 == 0)
    mb_log("onair: media.layers %s%s%s (%u so far)%s", mask & 1 ? "l" : "-", mask & 2 ? "m" : "-",
           mask & 4 ? "h" : "-", told, p->honour_pause ? "" : ", not honoured (--pub-pause 0)");
  mb_pub_set_active(p, mask);
}

static void caster_connected(struct mb_hc *h) { ws_open(h, mb_emu.caster_cookie); }

static void caster_text(struct mb_hc *h, char *text, size_t len) {
  struct mb_emu *e = &mb_emu;
  struct mb_rsdp r;

  if (mb_json_type_is(text, "hello")) {
    mb_hc_ws_send(h, "{\"type\":\"live.start\",\"title\":\"media bench\"}");
  } else if (mb_json_type_is(text, "live.started")) {
    send_offer(h, &e->pub.conn, 1);
  } else if (mb_json_type_is(text, "media.answer")) {
    if (answer_sdp(text, &r) < 0 || !r.have_cand) {
      mb_log("onair: the broadcaster's answer has no usable candidate");
      e->fatal = 1;
      return;
    }
    if (e->pub.nlayers > 1) {
      const char *sdp = strstr(text, "a=simulcast:recv");
      if (!sdp) {
        mb_log("onair: its answer takes no simulcast (no a=simulcast:recv): one layer");
      } else {
        mb_log("onair: the broadcaster's answer has %.*s", (int)strcspn(sdp, "\\\r\n"), sdp);
      }
    }
    snprintf(e->pub.conn.rufrag, sizeof(e->pub.conn.rufrag), "%s", r.ufrag);
    snprintf(e->pub.conn.rpwd, sizeof(e->pub.conn.rpwd), "%s", r.pwd);
    snprintf(e->pub.conn.rfp, sizeof(e->pub.conn.rfp), "%s", r.fp);
    e->pub.conn.remote = r.cand;
    if (mb_pub_start(&e->pub) < 0)
      e->fatal = 1;
  } else if (mb_json_type_is(text, "media.layers")) {
    caster_layers(text);
  } else if (mb_json_type_is(text, "error") || mb_json_type_is(text, "live.ended")) {
    mb_log("onair: broadcaster got %.300s", text);
    e->fatal = 1;
  }
}

static void caster_closed(struct mb_hc *h, const char *why) {
  mb_log("onair: the broadcaster's WebSocket closed: %s", why);
  mb_emu.fatal = 1;
}

static const struct mb_hc_ops caster_ops = {caster_connected, NULL, caster_text, caster_closed};

int mb_onair_viewer_setup(void) {
  struct mb_emu *e = &mb_emu;

  snprintf(e->origin, sizeof(e->origin), "http://%s:%d", e->cfg->http_host, e->cfg->http_port);
  return sign_in(VIEWER, e->viewer_cookie, sizeof(e->viewer_cookie));
}

int mb_onair_setup(void) {
  struct mb_emu *e = &mb_emu;
  const struct mb_cfg *cfg = e->cfg;
  int64_t start = mb_now();
  int fd;

  if (mb_onair_viewer_setup() < 0 ||
      sign_in(cfg->room ? cfg->room : CASTER, e->caster_cookie, sizeof(e->caster_cookie)) < 0)
    return -1;
  if ((fd = mb_udp_socket(cfg->media_host, 0)) < 0)
    return -1;
  mb_conn_init(&e->pub.conn, fd, 1);
  if (mb_hc_connect(&e->caster, cfg->http_host, cfg->http_port, &caster_ops) < 0)
    return -1;
  while (!e->fatal && __atomic_load_n(&e->pub.state, __ATOMIC_ACQUIRE) == 0 &&
         mb_now() - start < SETUP_NS)
    mb_loop_turn(10);
  if (__atomic_load_n(&e->pub.state, __ATOMIC_ACQUIRE) != 1) {
    mb_log("onair: the publisher did not connect");
    return -1;
  }
  return 0;
}

/* ---- viewers ---- */

static void viewer_connected(struct mb_hc *h) { ws_open(h, mb_emu.viewer_cookie); }

static void viewer_text(struct mb_hc *h, char *text, size_t len) {
  struct mb_viewer *v = MB_CONTAINER_OF(h, struct mb_viewer, hc);
  struct mb_rsdp r;

  if (v->state != V_SIGNALING) {
    if (mb_json_type_is(text, "media.closed") || mb_json_type_is(text, "room.ended"))
      mb_viewer_fail(v, "onair closed the viewer's media");
    return;
  }
  if (mb_json_type_is(text, "hello")) {
    char join[160];
    snprintf(join, sizeof(join), "{\"type\":\"room.join\",\"room\":\"%s\"}",
             mb_emu.cfg->room ? mb_emu.cfg->room : CASTER);
    mb_hc_ws_send(h, join);
  } else if ((mb_json_type_is(text, "room.joined") && strstr(text, "\"media_ready\":true")) ||
             mb_json_type_is(text, "media.ready")) {
    if (!v->offered++)
      send_offer(h, &v->conn, 0);
  } else if (mb_json_type_is(text, "media.answer")) {
    if (answer_sdp(text, &r) < 0 || !r.have_cand)
      return mb_viewer_fail(v, "onair's answer has no usable candidate");
    mb_viewer_media(v, &r, mb_now());
  } else if (mb_json_type_is(text, "error")) {
    mb_log("onair: viewer %u got %.200s", v->idx, text);
    mb_viewer_fail(v, "onair refused the viewer");
  }
}

static void viewer_closed(struct mb_hc *h, const char *why) {
  struct mb_viewer *v = MB_CONTAINER_OF(h, struct mb_viewer, hc);

  mb_viewer_fail(v, "its WebSocket closed");
}

static const struct mb_hc_ops viewer_ops = {viewer_connected, NULL, viewer_text, viewer_closed};

void mb_onair_join(struct mb_viewer *v) {
  const struct mb_cfg *cfg = mb_emu.cfg;

  if (mb_hc_connect(&v->hc, cfg->http_host, cfg->http_port, &viewer_ops) < 0)
    mb_viewer_fail(v, "cannot connect to onair (open-files limit?)");
}
