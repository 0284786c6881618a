/* /metrics in the Prometheus text exposition format (version 0.0.4),
 * written directly, and /healthz. Every name and what it counts is listed in
 * docs/operations.md. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme.h"
#include "app/app.h"
#include "app/cluster.h"
#include "auth/pwhash.h"
#include "http/http.h"
#include "media/sfu.h"
#include "net/conn.h"
#include "net/tls.h"
#include "util/buf.h"

#define METRICS_MAX (64 * 1024) /* bytes of one scrape */

static void put(struct buf *b, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if (n > 0)
    buf_append(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* One metric with no labels: HELP, TYPE and its value. */
static void metric(struct buf *b, const char *name, const char *type, const char *help,
                   double value) {
  put(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, value);
}

static void app_metrics(struct buf *b, struct app *app) {
  size_t viewers = 0;
  struct rooms_iter it;
  for (struct room *r = rooms_first(&app->rooms, &it); r; r = rooms_next(&app->rooms, &it))
    viewers += room_local_viewers(r);
  metric(b, "onair_rooms_live", "gauge", "Rooms live now.", (double)rooms_count(&app->rooms));
  metric(b, "onair_viewers", "gauge", "Viewers in live rooms now.", (double)viewers);
  metric(b, "onair_websockets", "gauge", "Open WebSocket connections.", (double)app->ws.nconns);
  metric(b, "onair_chat_messages_received_total", "counter", "Chat messages accepted.",
         (double)app->counters.chat_in);
  metric(b, "onair_chat_messages_sent_total", "counter",
         "Chat messages sent to room members (one per recipient).", (double)app->counters.chat_out);
  metric(b, "onair_signin_failures_total", "counter", "Sign-ins refused for a wrong password.",
         (double)app->counters.signin_failures);
}

/* The media plane's links to other nodes (docs/media.md, "Relay between
 * nodes"). */
static void relay_metrics(struct buf *b, const struct sfu_stats *s) {
  metric(b, "onair_media_relay_links", "gauge",
         "Outgoing node-to-node relay links (one per edge pulling a room from this node).",
         (double)s->relay_links);
  metric(b, "onair_media_relay_out_packets_total", "counter",
         "RTP packets sent on relay links to edges, resends included (one copy per link).",
         (double)s->relay_out);
  metric(b, "onair_media_relay_out_bytes_total", "counter", "Bytes of those packets (encrypted).",
         (double)s->relay_out_bytes);
  metric(b, "onair_media_relay_in_packets_total", "counter",
         "RTP packets taken from relay links (this node as an edge).", (double)s->relay_in);
  metric(b, "onair_media_relay_in_bytes_total", "counter", "Bytes of those packets (decrypted).",
         (double)s->relay_in_bytes);
  metric(b, "onair_media_relay_nack_retransmits_total", "counter",
         "Packets sent again on a relay link for an edge's NACK.", (double)s->relay_nack_resent);
}

static void media_metrics(struct buf *b, const struct sfu *sfu) {
  struct sfu_stats s = {0};
  if (sfu)
    sfu_get_stats(sfu, &s);
  metric(b, "onair_media_peers", "gauge", "WebRTC peers of the media plane.", (double)s.peers);
  metric(b, "onair_rtp_packets_received_total", "counter", "Publishers' RTP packets stored.",
         (double)s.rtp_in);
  metric(b, "onair_rtp_bytes_received_total", "counter", "Bytes of those packets (decrypted).",
         (double)s.rtp_in_bytes);
  metric(b, "onair_rtp_packets_sent_total", "counter", "RTP packets forwarded to viewers.",
         (double)s.rtp_out);
  metric(b, "onair_rtp_bytes_sent_total", "counter", "Bytes of those packets (encrypted).",
         (double)s.rtp_out_bytes);
  metric(b, "onair_nack_retransmits_total", "counter", "Packets sent again for a viewer's NACK.",
         (double)s.nack_resent);
  metric(b, "onair_nack_duplicates_total", "counter",
         "Packets a viewer asked for again soon after they were resent: not resent.",
         (double)s.nack_duplicates);
  metric(b, "onair_nack_over_budget_total", "counter",
         "Packets not resent: the viewer's retransmission budget was spent.",
         (double)s.nack_over_budget);
  metric(b, "onair_layer_switches_total", "counter",
         "Viewers moved to another simulcast layer (quality menu, estimate, a layer paused).",
         (double)s.layer_switches);
  metric(b, "onair_probe_packets_total", "counter",
         "Padding packets sent to find out whether a viewer's downlink carries a higher layer.",
         (double)s.probe_packets);
  metric(b, "onair_viewer_feedback_total", "counter",
         "Viewers' transport-wide congestion control feedback (and REMB) taken.",
         (double)s.viewer_feedbacks);
  metric(b, "onair_publisher_feedback_total", "counter",
         "Transport-wide congestion control feedback packets sent to publishers.",
         (double)s.twcc_sent);
  metric(b, "onair_keyframe_requests_total", "counter",
         "Keyframe requests sent to publishers (PLI/FIR, at most one a second).",
         (double)s.keyframe_requests);
  relay_metrics(b, &s);
  metric(b, "onair_media_datagrams_received_total", "counter", "UDP datagrams received.",
         (double)s.udp_rx_packets);
  metric(b, "onair_media_reads_total", "counter",
         "Reads of the media socket: datagrams received over reads is the batch one took (a busy "
         "socket is read at most once a millisecond).",
         (double)s.udp_rx_reads);
  metric(b, "onair_media_datagrams_sent_total", "counter", "UDP datagrams sent.",
         (double)s.udp_tx_packets);
  metric(b, "onair_media_sends_total", "counter",
         "Messages the media socket handed to the kernel: a UDP GSO message carries several "
         "datagrams to one peer.",
         (double)s.udp_tx_sends);
  put(b, "# HELP onair_media_dropped_total Media datagrams not used, by reason.\n"
         "# TYPE onair_media_dropped_total counter\n");
  for (int i = 0; i < SFU_DROPS; i++)
    put(b, "onair_media_dropped_total{reason=\"%s\"} %" PRIu64 "\n",
        sfu_drop_name((enum sfu_drop)i), s.dropped[i]);
}

static void process_metrics(struct buf *b, struct app *app) {
  uint64_t now = uv_hrtime();
  double up = (double)(now - app->started_ns) / 1e9;
  double idle = (double)uv_metrics_idle_time(app->loop) / 1e9;
  metric(b, "onair_loop_busy_seconds_total", "counter",
         "Time the event loop spent working rather than waiting.", up > idle ? up - idle : 0);
  metric(b, "onair_uptime_seconds", "gauge", "Seconds since onair started.", up);
  if (app->tls && tls_ctx_ready(app->tls))
    metric(b, "onair_tls_certificate_expiry_timestamp_seconds", "gauge",
           "When the served certificate expires (Unix time).", (double)tls_ctx_not_after(app->tls));
}

/* The caps of docs/operations.md's "Limits" and what they refused. */
static void limit_metrics(struct buf *b, const struct app *app) {
  const struct conn_limits *lim = app->limits;
  if (lim) {
    metric(b, "onair_connections", "gauge", "TCP connections open (HTTP, WebSocket, ICE-TCP).",
           (double)lim->total);
    metric(b, "onair_connections_max", "gauge", "The cap on open TCP connections (max-conns).",
           (double)lim->max_total);
    metric(b, "onair_connections_evicted_total", "counter",
           "Idle keep-alive connections closed to make room at the cap.", (double)lim->evicted);
    metric(b, "onair_accept_pauses_total", "counter",
           "Times accepting paused with every connection busy at the cap.", (double)lim->pauses);
  }
  put(b, "# HELP onair_connections_refused_total Connections refused at a per-address cap.\n"
         "# TYPE onair_connections_refused_total counter\n");
  put(b, "onair_connections_refused_total{reason=\"max_conns_per_ip\"} %" PRIu64 "\n",
      lim ? lim->refused_per_ip : 0);
  put(b, "onair_connections_refused_total{reason=\"max_ws_per_ip\"} %" PRIu64 "\n",
      app->counters.ws_refused_per_ip);
  if (app->site) {
    metric(b, "onair_http_requests_timed_out_total", "counter",
           "Requests closed with 408 for coming too slowly (http-request-timeout-ms).",
           (double)app->site->slow_closed);
    metric(b, "onair_tcp_writes_total", "counter",
           "Socket writes to HTTP and WebSocket connections (one writev per connection per loop "
           "turn).",
           (double)app->site->tcp.writes);
    metric(b, "onair_tcp_buffers_written_total", "counter",
           "Pieces of memory those writes carried (responses, TLS records, runs of frames "
           "side by side).",
           (double)app->site->tcp.bufs_written);
  }
}

/* Password hashing (pwhash.h's queues). */
static void auth_metrics(struct buf *b) {
  unsigned running;
  size_t checks, hashes;
  pwhash_load(&running, &checks, &hashes);
  metric(b, "onair_password_hashes_running", "gauge", "Argon2id hashes being computed now.",
         (double)running);
  put(b,
      "# HELP onair_password_hashes_waiting Argon2id work waiting, by kind.\n"
      "# TYPE onair_password_hashes_waiting gauge\n"
      "onair_password_hashes_waiting{kind=\"signin\"} %zu\n"
      "onair_password_hashes_waiting{kind=\"signup\"} %zu\n",
      checks, hashes);
}

/* tls-domain's ACME client. */
static void acme_metrics(struct buf *b, const struct acme *acme) {
  struct acme_stats st;
  acme_get_stats(acme, &st);
  metric(b, "onair_acme_renewal_failures_total", "counter",
         "Attempts to obtain or renew the certificate that failed.", (double)st.failures);
  metric(b, "onair_acme_certificates_obtained_total", "counter",
         "Certificates obtained from the ACME server since start.", (double)st.obtained);
  metric(b, "onair_acme_last_success_timestamp_seconds", "gauge",
         "When the served certificate was obtained (Unix time; 0: none yet).",
         (double)st.last_success);
  metric(b, "onair_acme_next_check_timestamp_seconds", "gauge",
         "When the ACME client next looks at the certificate or retries (Unix time; 0: now).",
         (double)st.next_check);
}

/* The cluster (docs/cluster.md): only with redis set. */
static void cluster_metrics(struct buf *b, const struct app *app) {
  struct cluster_stats s;
  cluster_get_stats(app, &s);
  metric(b, "onair_cluster_nodes", "gauge", "Nodes in the cluster's directory, this one included.",
         (double)s.nodes);
  metric(b, "onair_cluster_bus_up", "gauge", "1 while the connection to Redis is up.",
         (double)s.bus_up);
  metric(b, "onair_cluster_bus_reconnects_total", "counter",
         "Times the connection to Redis came back.", (double)s.bus_reconnects);
  metric(b, "onair_cluster_events_published_total", "counter", "Events sent to the other nodes.",
         (double)s.bus_published);
  metric(b, "onair_cluster_events_received_total", "counter",
         "Events received from the other nodes.", (double)s.bus_received);
  metric(b, "onair_cluster_events_dropped_total", "counter", "Events not sent: Redis was down.",
         (double)s.bus_dropped);
  metric(b, "onair_cluster_pulls", "gauge", "Rooms whose media this node pulls from their origin.",
         (double)s.pulls);
  metric(b, "onair_cluster_pulls_failed_total", "counter",
         "Pulls the origin refused or did not answer.", (double)s.pulls_failed);
  metric(b, "onair_cluster_relays_served_total", "counter",
         "Pulls of this node's rooms other nodes made.", (double)s.relays_served);
}

void metrics_serve(struct conn *c, struct http_req *req) {
  struct app *app = c->app;
  if (!ipset_contains(&app->metrics_allow, req->client_ip)) {
    http_respond_error(c, 403, "forbidden", "Metrics are not served to this address.");
    return;
  }
  struct buf b;
  buf_init(&b, METRICS_MAX);
  app_metrics(&b, app);
  media_metrics(&b, app->sfu);
  process_metrics(&b, app);
  limit_metrics(&b, app);
  auth_metrics(&b);
  if (app->acme)
    acme_metrics(&b, app->acme);
  if (app->cfg->redis[0])
    cluster_metrics(&b, app);
  http_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", "Cache-Control: no-store\r\n",
               b.data, b.len);
  buf_free(&b);
}

void metrics_health(struct conn *c, struct http_req *req) {
  http_respond(c, 200, "text/plain; charset=utf-8", "Cache-Control: no-store\r\n", "ok\n", 3);
}
