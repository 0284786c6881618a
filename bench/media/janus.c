/* Janus's side: the publisher sends plain RTP to the streaming plugin's
 * mountpoint (bench/run-media.sh configures it), and each viewer goes
 * through the Janus HTTP API as janus.js would: create a session, attach
 * janus.plugin.streaming, "watch", take the offer from the long poll, answer
 * with "start". Janus offers, so it is the controlling ICE agent and checks
 * the viewer, which answers as ICE-lite and is the DTLS client
 * (a=setup:active), as it is with onair. */
#include "emu.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETUP_NS 10000000000LL

enum { J_CREATE, J_ATTACH, J_WATCH, J_POLL, J_START, J_DONE };

static int janus_post(struct mb_viewer *v, const char *path, json_t *msg) {
  const struct mb_cfg *cfg = mb_emu.cfg;
  char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
  int rc =
      text ? mb_hc_request(&v->hc, "POST", cfg->http_host, cfg->http_port, path, "", text) : -1;

  free(text);
  json_decref(msg);
  return rc;
}

static int janus_poll(struct mb_viewer *v) {
  const struct mb_cfg *cfg = mb_emu.cfg;
  char path[128];

  snprintf(path, sizeof(path), "/janus/%" PRIu64 "?maxev=1", v->janus_session);
  return mb_hc_request(&v->hc, "GET", cfg->http_host, cfg->http_port, path, "", NULL);
}

static int janus_message(struct mb_viewer *v, json_t *body, json_t *jsep) {
  char path[128];
  json_t *msg = json_pack("{s:s,s:s,s:o}", "janus", "message", "transaction", "m", "body", body);

  if (msg && jsep)
    json_object_set_new(msg, "jsep", jsep);
  snprintf(path, sizeof(path), "/janus/%" PRIu64 "/%" PRIu64, v->janus_session, v->janus_handle);
  return janus_post(v, path, msg);
}

/* The offer came: answer it and start. */
static int janus_answer(struct mb_viewer *v, const char *offer) {
  struct sockaddr_in local;
  socklen_t ll = sizeof(local);
  struct mb_rsdp r;
  char sdp[4096];
  unsigned i;

  if (mb_sdp_parse(offer, &r) < 0)
    return mb_viewer_fail(v, "Janus's offer is missing ICE or DTLS fields"), -1;
  for (i = 0; i < r.nm; i++)
    if (r.m[i].pt < 0)
      return mb_viewer_fail(v, "Janus's offer has an m-line without VP8 or Opus"), -1;
  getsockname(v->udp.fd, (struct sockaddr *)&local, &ll);
  if (mb_sdp_answer(sdp, sizeof(sdp), &r, &v->conn, &mb_emu.dtls, &local, mb_emu.cfg->twcc) < 0)
    return mb_viewer_fail(v, "answer too long"), -1;
  r.have_cand = 0; /* Janus checks us; the path is where its checks come from */
  mb_viewer_media(v, &r, mb_now());
  v->step = J_START;
  return janus_message(v, json_pack("{s:s}", "request", "start"),
                       json_pack("{s:s,s:s,s:b}", "type", "answer", "sdp", sdp, "trickle", 0));
}

static uint64_t data_id(json_t *res) {
  json_t *id = json_object_get(json_object_get(res, "data"), "id");

  return json_is_integer(id) ? (uint64_t)json_integer_value(id) : 0;
}

/* One response of the join's sequence; returns -1 when it went wrong. */
static int janus_step(struct mb_viewer *v, json_t *res) {
  const char *kind = json_string_value(json_object_get(res, "janus"));
  const char *sdp = json_string_value(json_object_get(json_object_get(res, "jsep"), "sdp"));
  char path[64];

  if (!kind || strcmp(kind, "error") == 0)
    return -1;
  switch (v->step) {
  case J_CREATE:
    if (!(v->janus_session = data_id(res)))
      return -1;
    snprintf(path, sizeof(path), "/janus/%" PRIu64, v->janus_session);
    v->step = J_ATTACH;
    return janus_post(v, path,
                      json_pack("{s:s,s:s,s:s}", "janus", "attach", "plugin",
                                "janus.plugin.streaming", "transaction", "a"));
  case J_ATTACH:
    if (!(v->janus_handle = data_id(res)))
      return -1;
    v->step = J_WATCH;
    return janus_message(
        v, json_pack("{s:s,s:i}", "request", "watch", "id", mb_emu.cfg->janus_stream), NULL);
  case J_WATCH: v->step = J_POLL; return janus_poll(v);
  case J_POLL: return sdp ? janus_answer(v, sdp) : janus_poll(v); /* a keepalive or another event */
  case J_START:
    v->step = J_DONE;
    mb_hc_close(&v->hc); /* the session lives on without it (session_timeout = 0) */
    return 0;
  }
  return -1;
}

static void janus_response(struct mb_hc *h, int status, const char *head, const char *body,
                           size_t blen) {
  struct mb_viewer *v = MB_CONTAINER_OF(h, struct mb_viewer, hc);
  json_t *res = status == 200 ? json_loadb(body, blen, 0, NULL) : NULL;
  int rc = res ? janus_step(v, res) : -1;

  if (rc < 0 && v->state != V_FAILED) {
    static unsigned logged;
    if (logged++ < 3)
      mb_log("janus: viewer %u step %d: HTTP %d %.300s", v->idx, v->step, status, body);
    mb_viewer_fail(v, "Janus refused a step of the join");
  }
  json_decref(res);
}

static void janus_connected(struct mb_hc *h) {
  struct mb_viewer *v = MB_CONTAINER_OF(h, struct mb_viewer, hc);

  v->step = J_CREATE;
  janus_post(v, "/janus", json_pack("{s:s,s:s}", "janus", "create", "transaction", "c"));
}

static void janus_closed(struct mb_hc *h, const char *why) {
  struct mb_viewer *v = MB_CONTAINER_OF(h, struct mb_viewer, hc);

  static const char *steps[] = {"create", "attach", "watch", "poll", "start", "done"};
  static char why_step[6][96];

  if (v->step == J_DONE)
    return;
  snprintf(why_step[v->step], sizeof(why_step[0]), "Janus closed the HTTP connection (%s, at %s)",
           why, steps[v->step]);
  mb_viewer_fail(v, why_step[v->step]);
}

static const struct mb_hc_ops janus_ops = {janus_connected, janus_response, NULL, janus_closed};

void mb_janus_join(struct mb_viewer *v) {
  const struct mb_cfg *cfg = mb_emu.cfg;

  if (mb_hc_connect(&v->hc, cfg->http_host, cfg->http_port, &janus_ops) < 0)
    mb_viewer_fail(v, "cannot connect to Janus (open-files limit?)");
}

static int janus_addr(struct sockaddr_in *a, int port) {
  memset(a, 0, sizeof(*a));
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)port);
  return inet_pton(AF_INET, mb_emu.cfg->media_host, &a->sin_addr) == 1 ? 0 : -1;
}

int mb_janus_setup(void) {
  struct mb_emu *e = &mb_emu;
  const struct mb_cfg *cfg = e->cfg;
  int64_t start = mb_now();
  char *body = NULL;
  int status, fd;

  status = mb_http_blocking(cfg->http_host, cfg->http_port, "GET", "/janus/info", "", NULL, &body,
                            NULL, NULL, 0);
  if (status != 200 || !body || !strstr(body, "janus.plugin.streaming")) {
    mb_log("janus: /janus/info answered %d without the streaming plugin", status);
    free(body);
    return -1;
  }
  free(body);
  if ((fd = mb_udp_socket(cfg->media_host, 0)) < 0 ||
      janus_addr(&e->pub.janus_video, cfg->janus_video_port) < 0 ||
      janus_addr(&e->pub.janus_audio, cfg->janus_audio_port) < 0)
    return -1;
  mb_conn_init(&e->pub.conn, fd, 0);
  e->pub.janus = 1;
  if (mb_pub_start(&e->pub) < 0)
    return -1;
  while (__atomic_load_n(&e->pub.state, __ATOMIC_ACQUIRE) == 0 && mb_now() - start < SETUP_NS)
    mb_loop_turn(10);
  return __atomic_load_n(&e->pub.state, __ATOMIC_ACQUIRE) == 1 ? 0 : -1;
}
