#include "app/config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/msg.h"
#include "auth/turn.h"
#include "util/ipset.h"
#include "util/log.h"

/* The field f of struct config, checked at compile time to be of type T: a
 * row whose type does not match its field does not build. */
#define CONFIG_FIELD(f, T)                                                         \
  .offset = offsetof(struct config, f) + _Generic(((struct config *)0)->f, T : 0), \
  .size = sizeof(((struct config *)0)->f)
#define STRING(f) .type = CONFIG_STRING, CONFIG_FIELD(f, char *)
#define BOOL(f) .type = CONFIG_BOOL, CONFIG_FIELD(f, int)
#define NUMBER(t, f, T, lo, hi) .type = (t), CONFIG_FIELD(f, T), .min = (lo), .max = (hi)
#define INT(f, lo, hi) NUMBER(CONFIG_INT, f, int, lo, hi)
#define UNSIGNED(f, lo, hi) NUMBER(CONFIG_UNSIGNED, f, unsigned, lo, hi)
#define SIZE(f, lo, hi) NUMBER(CONFIG_SIZE, f, size_t, lo, hi)
#define U64(f, lo, hi) NUMBER(CONFIG_U64, f, uint64_t, lo, hi)
#define DOUBLE(f, lo, hi) NUMBER(CONFIG_DOUBLE, f, double, lo, hi)
#define ADDR(f, lo, hi) \
  .type = CONFIG_ADDR, CONFIG_FIELD(f, struct config_addr), .min = (lo), .max = (hi)
/* listen_host and listen_port; the port in [lo, hi]. */
#define LISTEN(lo, hi) \
  .type = CONFIG_LISTEN, CONFIG_FIELD(listen_host, char *), .min = (lo), .max = (hi)

/* Up to 8 IPv4 or IPv6 addresses (no networks). */
static int check_addresses(const char *v) {
  struct ipset s;
  if (ipset_parse(&s, v, NULL) < 0 || s.n > 8 || strchr(v, '/'))
    return -EINVAL;
  return 0;
}

/* redis://host[:port] or unix:/path. */
static int check_redis_url(const char *v) {
  if (v[0] == '\0')
    return 0;
  if (strncmp(v, "unix:", 5) == 0)
    return v[5] == '/' ? 0 : -EINVAL;
  if (strncmp(v, "redis://", 8) != 0 || v[8] == '\0' || strchr(v + 8, '/'))
    return -EINVAL;
  return 0;
}

static int check_cluster_secret(const char *v) {
  return v[0] == '\0' || strlen(v) >= 16 ? 0 : -EINVAL;
}

static int check_node_name(const char *v) {
  for (const char *p = v; *p; p++)
    if (!isalnum((unsigned char)*p) && !strchr(".-_:", *p))
      return -EINVAL;
  return 0;
}

static int check_one_address(const char *v) {
  struct ipset s;
  if (ipset_parse(&s, v, NULL) < 0 || s.n > 1 || strchr(v, '/'))
    return -EINVAL;
  return 0;
}

static int check_log_level(const char *v) {
  enum log_level level;
  return log_level_parse(v, &level);
}

static int check_log_format(const char *v) {
  return strcmp(v, "text") == 0 || strcmp(v, "json") == 0 ? 0 : -EINVAL;
}

static int check_ipset(const char *v) {
  struct ipset s;
  return ipset_parse(&s, v, NULL) < 0 ? -EINVAL : 0;
}

static int check_domains(const char *v) {
  struct acme_names n;
  return acme_names_parse(v, &n) < 0 ? -EINVAL : 0;
}

static int check_email(const char *v) { return v[0] && !acme_email_ok(v) ? -EINVAL : 0; }

static int check_https_url(const char *v) { return acme_url_ok(v) ? 0 : -EINVAL; }

const struct config_key config_keys[] = {
    {.key = "config",
     .type = CONFIG_FILE,
     .arg = "FILE",
     .help = "key = value lines (same keys as the flags)",
     .doc = "a file of `key = value` lines, read before the environment and the flags"},
    {.key = "listen",
     LISTEN(1, 65535),
     .def = "0.0.0.0:8080",
     .arg = "HOST:PORT",
     .help = "where to serve HTTP and WebSocket (127.0.0.1:PORT: this machine only)",
     .doc = "address and port for HTTP and WebSocket (`:port` for all addresses); every IPv4 "
            "interface by default, `127.0.0.1:8080` keeps onair to this machine"},
    {.key = "port",
     INT(listen_port, 1, 65535),
     .flags = CONFIG_NO_ONAIR_ENV,
     .env_alias = "APP_BASE_PORT",
     .arg = "PORT",
     .help = "the port alone",
     .doc_default = "the port of `listen`"},
    {.key = "data",
     STRING(data_dir),
     .def = "data",
     .arg = "DIR",
     .help = "SQLite database and state",
     .doc = "directory for `onair.db` (created, mode 0700)"},
    {.key = "web",
     STRING(web_dir),
     .arg = "DIR",
     .help = "serve the pages from DIR, for development (default: built in)",
     .doc = "a directory (web/ of the source tree) to serve the pages and assets from instead "
            "of the copies built into onair, for developing them: an edited file shows on the "
            "next reload, without a rebuild. It must hold a readable `index.html`, else onair "
            "does not start",
     .doc_default = "(built in)"},
    {.key = "base-url",
     STRING(base_url),
     .env_alias = "APP_BASE_URL",
     .arg = "URL",
     .help = "public URL when behind a proxy (https://...)",
     .doc = "public URL when onair sits behind a proxy, e.g. `https://live.example.org`; an "
            "`https` URL makes the session cookie `Secure` and `__Host-` prefixed",
     .doc_default = "(from the Host header)"},
    {.key = "signup",
     BOOL(signup),
     .def = "true",
     .arg = "BOOL",
     .help = "whether anyone may create a local account"},
    {.key = "public-watch",
     BOOL(public_watch),
     .def = "false",
     .arg = "BOOL",
     .help = "let signed-out visitors watch (chat stays for signed-in users)",
     .doc = "with `true`, anyone with a room's link watches it without an account; chatting, "
            "going live and the dashboard still need one. Off, a signed-out visitor to "
            "`/view/<room>` sees whose room it is and whether it is live, and the sign-in "
            "buttons"},
    {.key = "log-level",
     STRING(log_level),
     .def = "info",
     .arg = "LEVEL",
     .help = "debug, info, warn, error",
     .doc = "`debug`, `info`, `warn`, `error`",
     .check = check_log_level},
    {.key = "log-format",
     STRING(log_format),
     .def = "text",
     .arg = "FORMAT",
     .help = "text (key=value fields) or json (one object per line)",
     .doc = "`text`: one line per event, `time=... level=... msg=\"...\"` and its fields as "
            "`key=value` (logfmt); `json`: one JSON object per line with the same keys, for log "
            "shippers",
     .check = check_log_format},
    {.key = "ws-ping-ms",
     U64(ws_ping_ms, 100, 3600 * 1000),
     .def = "2000",
     .arg = "MS",
     .help = "interval of server pings on every WebSocket"},
    {.key = "ws-timeout-ms",
     U64(ws_timeout_ms, 100, 3600 * 1000),
     .def = "6000",
     .arg = "MS",
     .help = "a WebSocket silent this long is closed",
     .doc = "a WebSocket silent this long is closed (a broadcaster's room then waits "
            "`reconnect-grace-ms` for them); judged at each ping (`ws-ping-ms`), except at a ping "
            "over two intervals late (the server was busy: what clients sent meanwhile is still "
            "unread)"},
    {.key = "reconnect-grace-ms",
     U64(reconnect_grace_ms, 0, 3600 * 1000),
     .def = "30000",
     .arg = "MS",
     .help = "a dropped broadcaster's room waits this long for them",
     .doc = "when a broadcaster's connection drops, their room stays, marked reconnecting, this "
            "long: viewers wait and chat, and the broadcaster's page resumes the same broadcast "
            "(in a cluster, on any node: a room whose origin died waits as long on the others). "
            "0 ends the room at once"},
    {.key = "chat-burst",
     UNSIGNED(chat_burst, 1, 1000),
     .def = "5",
     .arg = "N",
     .help = "chat messages a user may send at once"},
    {.key = "chat-per-sec",
     DOUBLE(chat_per_sec, 1, 1000),
     .def = "1",
     .arg = "N",
     .help = "chat messages per second after the burst"},
    {.key = "max-viewers",
     SIZE(max_viewers, 1, 1000000),
     .def = "10000",
     .arg = "N",
     .help = "viewers per room"},
    {.key = "media-port",
     INT(media_port, 0, 65535),
     .arg = "PORT",
     .help = "UDP port for all media (default: the HTTP port)",
     .doc = "the one UDP port every WebRTC peer uses; 0 is the HTTP port's number",
     .doc_default = "the HTTP port's number"},
    {.key = "media-bind",
     STRING(media_bind),
     .arg = "HOST",
     .help = "address the media socket binds (default: the HTTP host)",
     .doc = "the address the media socket binds",
     .doc_default = "the HTTP listen host"},
    {.key = "media-announce",
     STRING(media_announce),
     .arg = "IPS",
     .help = "address(es) put in SDP answers, for servers behind NAT",
     .doc = "the addresses put in SDP answers as host candidates, first preferred (up to 8, "
            "IPv4 and IPv6, separated by commas or spaces): the public addresses when onair is "
            "behind 1:1 NAT, e.g. `203.0.113.7, 2001:db8::7` (bind `media-bind = ::` to receive "
            "both)",
     .doc_default = "`media-bind`; when that is `0.0.0.0` or `::`, this machine's own addresses "
                    "(not loopback, not link-local; 127.0.0.1 when it has no other), logged at "
                    "start",
     .check = check_addresses},
    {.key = "media-consent-ms",
     U64(media_consent_ms, 1000, 600000),
     .def = "15000",
     .arg = "MS",
     .help = "drop a media peer silent this long",
     .doc = "a media peer that sends neither connectivity checks (RFC 7675) nor authenticated "
            "SRTP/SRTCP for this long is dropped (a link between nodes: after 3 s, or this if "
            "shorter)"},
    {.key = "media-workers",
     INT(media_workers, 0, 63),
     .def = "0",
     .arg = "N",
     .help = "threads sending media to viewers (0: one per core)",
     .doc = "threads that send the media to viewers, each with its share of them (a publisher's "
            "packet is decrypted once and handed to each); signaling, ICE, DTLS and the "
            "publishers' packets stay on the main loop, and so do ICE-TCP viewers. 0: one per "
            "core"},
    {.key = "media-gso",
     BOOL(media_gso),
     .def = "true",
     .arg = "BOOL",
     .help = "send a viewer's datagrams of one loop turn as one UDP GSO message",
     .doc = "with `true`, the datagrams queued for one viewer in one loop turn leave in one "
            "UDP GSO message (Linux 4.18 and later; where the kernel or the route refuses it, "
            "one datagram at a time as with `false`). `false` is for measuring the "
            "difference"},
    {.key = "media-frame-hold-ms",
     INT(media_frame_hold_ms, 0, 100),
     .def = "5",
     .arg = "MS",
     .help = "wait this long at most for the rest of a video frame before sending it on",
     .doc = "a worker that has a video frame's first packets but not its last (the RTP marker "
            "bit) waits up to this long for it, so that each viewer's copies of the frame "
            "leave in one UDP GSO message, not one or two at a time. A viewer decodes no "
            "packet of a frame before its last, so the frame is not late. 0: send at once"},
    {.key = "tls-cert",
     STRING(tls_cert),
     .arg = "FILE",
     .help = "certificate chain (PEM): serve HTTPS on listen",
     .doc = "a PEM file with the certificate and its chain, leaf first; with it `listen` serves "
            "HTTPS (TLS 1.2 and 1.3, HSTS) and the session cookie is `Secure`. Read again on "
            "SIGHUP",
     .doc_default = "(none: plain HTTP)"},
    {.key = "tls-key",
     STRING(tls_key),
     .arg = "FILE",
     .help = "the certificate's private key (PEM)",
     .doc = "the PEM private key of `tls-cert`; read again on SIGHUP"},
    {.key = "http-listen",
     ADDR(http_listen, 1, 65535),
     .arg = "HOST:PORT",
     .help = "plain HTTP that redirects to HTTPS (e.g. :80)",
     .doc = "with `tls-cert` or `tls-domain`: a plain HTTP listener whose every answer is a "
            "redirect to the same path on HTTPS (e.g. `:80`), except ACME's HTTP-01 challenges, "
            "which it answers",
     .doc_default = "(none); `:80` with `tls-domain`"},
    {.key = "tls-domain",
     STRING(tls_domain),
     .arg = "NAMES",
     .help = "get and renew a certificate for these names (ACME, HTTP-01 on port 80)",
     .doc = "the names, separated by commas or spaces (up to 8, no wildcards), of one "
            "certificate that onair obtains from `acme-directory` and renews by itself, answering "
            "the HTTP-01 challenge on `http-listen`; `listen` then serves HTTPS with it. Account "
            "and certificates are kept in `<data>/acme/`. Not with `tls-cert`",
     .doc_default = "(none)",
     .check = check_domains},
    {.key = "tls-email",
     STRING(tls_email),
     .arg = "EMAIL",
     .help = "contact address given to the certificate authority",
     .doc = "the contact address of the ACME account (the CA's notices about the certificates "
            "go there), e.g. `ops@example.org`",
     .doc_default = "(none)",
     .check = check_email},
    {.key = "acme-directory",
     STRING(acme_directory),
     .def = "https://acme-v02.api.letsencrypt.org/directory",
     .arg = "URL",
     .help = "the ACME server's directory URL (https)",
     .doc = "the ACME server's directory, an `https` URL: Let's Encrypt's by default; its staging "
            "server is `https://acme-staging-v02.api.letsencrypt.org/directory`",
     .check = check_https_url},
    {.key = "acme-ca-file",
     STRING(acme_ca_file),
     .arg = "FILE",
     .help = "CA certificates (PEM) to trust for the ACME server's HTTPS",
     .doc = "a PEM file of the CA certificates to trust for the ACME server's own HTTPS instead "
            "of the system's (a private CA, or a test server such as pebble)",
     .doc_default = "(the system's)"},
    {.key = "acme-renew-days",
     U64(acme_renew_days, 1, 365),
     .def = "30",
     .arg = "DAYS",
     .help = "renew when fewer days of validity remain",
     .doc = "renew the certificate when fewer than this many days of its validity remain; one "
            "valid for no longer than that in all is renewed when a third of its validity "
            "remains"},
    {.key = "trusted-proxies",
     STRING(trusted_proxies),
     .arg = "LIST",
     .help = "proxies whose X-Forwarded-For/-Proto are believed",
     .doc = "addresses and networks (`127.0.0.1`, `10.0.0.0/8`, `::1`), separated by commas, of "
            "reverse proxies in front of onair: from them, `X-Forwarded-For` names the client "
            "(sign-in limits, logs) and `X-Forwarded-Proto` the scheme; from anyone else both "
            "are ignored",
     .doc_default = "(none)",
     .check = check_ipset},
    {.key = "turn-url",
     STRING(turn_url),
     .arg = "URLS",
     .help = "TURN server(s) the pages use (turn:host:3478?transport=udp ...)",
     .doc = "TURN (and STUN) URLs, separated by spaces or commas, handed to every page for its "
            "RTCPeerConnection, e.g. `turn:turn.example.org:3478?transport=udp "
            "turns:turn.example.org:5349?transport=tcp`; a viewer whose UDP to onair is blocked "
            "then gets the media through that server",
     .doc_default = "(none)",
     .check = turn_urls_check},
    {.key = "turn-secret",
     STRING(turn_secret),
     .flags = CONFIG_SECRET,
     .arg = "SECRET",
     .help = "the TURN server's shared secret (coturn: static-auth-secret)",
     .doc = "the secret shared with the TURN server (coturn's `use-auth-secret` and "
            "`static-auth-secret`): each page gets its own credentials, "
            "`<expiry>:<user>` and its HMAC-SHA1, valid for `turn-ttl-s`"},
    {.key = "turn-ttl-s",
     U64(turn_ttl_s, 60, 7 * 24 * 3600),
     .def = "86400",
     .arg = "S",
     .help = "how long TURN credentials stay valid",
     .doc = "seconds a page's TURN credentials stay valid (a page gets new ones each time its "
            "WebSocket connects)"},
    {.key = "metrics-allow",
     STRING(metrics_allow),
     .def = "127.0.0.1, ::1",
     .arg = "LIST",
     .help = "addresses and networks that may read /metrics",
     .doc = "addresses and networks (as `trusted-proxies`) that may read `/metrics`; others get "
            "403. Behind a trusted proxy, the client's address is the one checked",
     .check = check_ipset},
    {.key = "http-request-timeout-ms",
     U64(http_request_ms, 1000, 600000),
     .def = "10000",
     .arg = "MS",
     .help = "a request's head must arrive within this",
     .doc = "a request's head (its line and headers) must arrive within this from its first "
            "byte, and its body at 1 KiB/s or faster on top; a slower one gets 408 and is closed "
            "(slowloris)"},
    {.key = "max-conns",
     SIZE(max_conns, 0, 10000000),
     .def = "0",
     .arg = "N",
     .help = "TCP connections in all (0: from the descriptor limit)",
     .doc = "TCP connections onair keeps open in all (HTTP, WebSocket, ICE-TCP); at the cap the "
            "oldest idle keep-alive connection is closed for a new one, and when none is idle "
            "accepting waits. 0: the descriptor limit (RLIMIT_NOFILE, raised to its hard limit at "
            "start) less 64 kept for files, the database and the media sockets",
     .doc_default = "0 (the descriptor limit less 64)"},
    {.key = "max-conns-per-ip",
     UNSIGNED(max_conns_per_ip, 0, 1000000),
     .def = "256",
     .arg = "N",
     .help = "TCP connections per client address (0: no cap)",
     .doc = "TCP connections one client address may hold; more are answered 429 (plain HTTP) and "
            "closed. `trusted-proxies` are exempt (behind a proxy, set its own limits). 0: no cap"},
    {.key = "max-ws-per-ip",
     UNSIGNED(max_ws_per_ip, 0, 1000000),
     .def = "64",
     .arg = "N",
     .help = "WebSockets per client address (0: no cap)",
     .doc = "WebSockets (open pages) one client address may hold, counted by the client's "
            "address behind a trusted proxy; more are answered 429. 0: no cap"},
    {.key = "signup-per-ip",
     UNSIGNED(signup_per_ip, 0, 1000000),
     .def = "5",
     .arg = "N",
     .help = "accounts one address may make at once (0: no limit)",
     .doc = "accounts one client address may make at once, then one every 2 minutes; more are "
            "answered 429 with `Retry-After`. 0: no limit"},
    {.key = "signup-per-sec",
     DOUBLE(signup_per_sec, 0, 1000),
     .def = "2",
     .arg = "N",
     .help = "new accounts per second in all (0: no limit)",
     .doc = "new accounts per second from everyone together, after a burst of 15 times as many; "
            "more are answered 429 with `Retry-After`. Password sign-ins are checked ahead of "
            "sign-ups in any case. 0: no limit"},
    {.key = "postgres",
     STRING(postgres),
     .flags = CONFIG_SECRET,
     .arg = "URL",
     .help = "keep users, sessions, keys and chat in PostgreSQL (cluster mode)",
     .doc = "a libpq connection string or URL (`postgresql://onair@db.example/onair`) of the "
            "PostgreSQL database every node of a cluster shares (docs/cluster.md): users, "
            "sessions, stream keys and chat history live there instead of "
            "`<data>/onair.db`; the schema is created or brought up to date at start",
     .doc_default = "(none: SQLite in the data directory)"},
    {.key = "redis",
     STRING(redis),
     .arg = "URL",
     .help = "share live events and the room directory over Redis (cluster mode)",
     .doc = "`redis://host:port` (or `unix:/path/to/socket`) of the Redis server the nodes of a "
            "cluster share: rooms starting and ending, viewer counts, chat between nodes, "
            "sign-outs, and which node is each room's origin (docs/cluster.md)",
     .doc_default = "(none: events stay in this process)",
     .check = check_redis_url},
    {.key = "cluster-secret",
     STRING(cluster_secret),
     .flags = CONFIG_SECRET,
     .arg = "SECRET",
     .help = "the secret every node of the cluster shares (16 bytes or more)",
     .doc = "the secret every node of a cluster shares (16 bytes or more): it authenticates "
            "requests between nodes and keys the SRTP of their media links. Required with "
            "`redis`",
     .check = check_cluster_secret},
    {.key = "node-name",
     STRING(node_name),
     .arg = "NAME",
     .help = "this node's name in the cluster (unique)",
     .doc = "this node's name in the cluster, unique among the nodes (letters, digits, `.`, "
            "`-`, `_`, `:`)",
     .doc_default = "`<hostname>:<port>`",
     .check = check_node_name},
    {.key = "node-url",
     STRING(node_url),
     .arg = "URL",
     .help = "where viewers reach this node (cluster redirects)",
     .doc = "the URL viewers reach this node at, e.g. `https://live2.example.org`: other nodes "
            "send viewers there when this one is the least loaded (docs/cluster.md)",
     .doc_default = "`base-url`, else `http://<listen>`"},
    {.key = "node-address",
     STRING(node_address),
     .arg = "IP",
     .help = "the address other nodes reach this node at (its HTTP and media ports)",
     .doc = "the address the other nodes of the cluster reach this node's HTTP port and media "
            "port at (a private network's, usually)",
     .doc_default = "the first `media-announce` address",
     .check = check_one_address},
    {.key = "node-redirect-margin",
     UNSIGNED(node_redirect, 0, 1000000),
     .def = "0",
     .arg = "N",
     .help = "send a new viewer to the least-loaded node when it has N fewer viewers (0: never)",
     .doc = "cluster: a watch page (`/view/<room>`) asked of this node is redirected to the node "
            "with the fewest viewers when that one has more than N fewer than this one (every "
            "node can pull any room). 0: never; for nodes whose URLs share the session cookie "
            "(docs/cluster.md, \"Sending viewers to nodes\")"},
    {.key = "node-relay-fanout",
     UNSIGNED(node_fanout, 0, 1000),
     .def = "0",
     .arg = "N",
     .help = "edges a node relays a room to before new edges pull it from an edge (0: no cap)",
     .doc = "cluster: a node that needs a room's media pulls it from the room's origin while the "
            "origin relays it to fewer than N nodes, and from the edge relaying it to the fewest "
            "once it does (a tree: docs/cluster.md). 0: always from the origin"},
    {.key = "oidc-issuer",
     STRING(oidc_issuer),
     .arg = "URL",
     .help = "OpenID Connect issuer URL",
     .doc = "OpenID Connect issuer URL; discovery reads "
            "`<issuer>/.well-known/openid-configuration`"},
    {.key = "oidc-client-id",
     STRING(oidc_client_id),
     .env_alias = "OKTA_CLIENT_ID",
     .arg = "ID",
     .help = "the client registered at the provider"},
    {.key = "oidc-client-secret",
     STRING(oidc_client_secret),
     .flags = CONFIG_SECRET,
     .env_alias = "OKTA_CLIENT_SECRET",
     .arg = "SECRET",
     .help = "the client's secret",
     .doc = "its secret (sent with HTTP Basic at the token endpoint)"},
    {.key = "oidc-name",
     STRING(oidc_name),
     .arg = "NAME",
     .help = "the name on the \"Sign in with ...\" button",
     .doc_default = "`Okta` when set from the `OKTA_` variables, else the issuer's host"},
    {.key = "oidc-scopes",
     STRING(oidc_scopes),
     .def = "openid profile email",
     .arg = "LIST",
     .help = "scopes asked for"},
    {.key = "oidc-jwks-min-interval-ms",
     U64(oidc_jwks_min_interval_ms, 0, 24 * 3600 * 1000),
     .def = "60000",
     .arg = "MS",
     .help = "an unknown kid refetches the JWKS at most this often",
     .doc = "an unknown `kid` refetches the JWKS at most this often"},
    {.key = NULL},
};

static const struct {
  const char *word;
  int value;
} bool_words[] = {{"1", 1}, {"true", 1},  {"yes", 1}, {"on", 1},
                  {"0", 0}, {"false", 0}, {"no", 0},  {"off", 0}};

static int config_type_is_number(enum config_type t) {
  return t == CONFIG_INT || t == CONFIG_UNSIGNED || t == CONFIG_SIZE || t == CONFIG_U64 ||
         t == CONFIG_DOUBLE;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
    return -EINVAL;
  *out = v;
  return 0;
}

static int copy_str(char *dst, size_t size, const char *v) {
  if (strlen(v) >= size)
    return -EINVAL;
  memcpy(dst, v, strlen(v) + 1);
  return 0;
}

static int parse_bool(const char *v, int *out) {
  for (size_t i = 0; i < sizeof(bool_words) / sizeof(bool_words[0]); i++) {
    if (!strcmp(v, bool_words[i].word)) {
      *out = bool_words[i].value;
      return 0;
    }
  }
  return -EINVAL;
}

/* "host:port", "[v6]:port" or ":port" (every IPv4 address); the port in
 * [k->min, k->max]. */
/* "host:port", "[v6]:port" or ":port" (all addresses) into host (size
 * bytes) and *port, the port in the row's range. */
static int parse_hostport(const struct config_key *k, const char *v, char *host, size_t size,
                          int *port) {
  const char *colon = strrchr(v, ':');
  if (colon == NULL)
    return -EINVAL;
  uint64_t n;
  if (parse_u64(colon + 1, k->min, k->max, &n) < 0)
    return -EINVAL;
  const char *h = v;
  size_t hl = (size_t)(colon - v);
  if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
    h++;
    hl -= 2;
  }
  if (hl >= size)
    return -EINVAL;
  if (hl == 0) {
    snprintf(host, size, "0.0.0.0");
  } else {
    memcpy(host, h, hl);
    host[hl] = 0;
  }
  *port = (int)n;
  return 0;
}

static int parse_listen(struct config *cfg, const struct config_key *k, const char *v) {
  char host[sizeof(cfg->listen_host)];
  int port;
  if (parse_hostport(k, v, host, sizeof(host), &port) < 0)
    return -EINVAL;
  memcpy(cfg->listen_host, host, strlen(host) + 1);
  cfg->listen_port = port;
  return 0;
}

static int parse_addr(struct config_addr *a, const struct config_key *k, const char *v) {
  struct config_addr parsed = {.port = 0};
  if (v[0] && parse_hostport(k, v, parsed.host, sizeof(parsed.host), &parsed.port) < 0)
    return -EINVAL;
  *a = parsed;
  return 0;
}

/* Stores n, already within the row's range, in the row's field. */
static void store_number(struct config *cfg, const struct config_key *k, uint64_t n) {
  void *field = (char *)cfg + k->offset;
  switch (k->type) {
  case CONFIG_INT:
    assert(n <= INT_MAX);
    *(int *)field = (int)n;
    break;
  case CONFIG_UNSIGNED:
    assert(n <= UINT_MAX);
    *(unsigned *)field = (unsigned)n;
    break;
  case CONFIG_SIZE:
    assert(n <= SIZE_MAX);
    *(size_t *)field = (size_t)n;
    break;
  case CONFIG_U64: *(uint64_t *)field = n; break;
  case CONFIG_DOUBLE: *(double *)field = (double)n; break;
  default: assert(!"not a number type");
  }
}

/* Parses v as row k says and stores it; nothing changes when v is refused. */
static int config_set_key(struct config *cfg, const struct config_key *k, const char *v) {
  void *field = (char *)cfg + k->offset;
  uint64_t n;
  switch (k->type) {
  case CONFIG_STRING:
    if (k->check && k->check(v) < 0)
      return -EINVAL;
    return copy_str(field, k->size, v);
  case CONFIG_BOOL: return parse_bool(v, field);
  case CONFIG_LISTEN: return parse_listen(cfg, k, v);
  case CONFIG_ADDR: return parse_addr(field, k, v);
  case CONFIG_FILE: return -ENOENT; /* config_load's; a file does not name another */
  default: break;
  }
  assert(config_type_is_number(k->type));
  if (parse_u64(v, k->min, k->max, &n) < 0)
    return -EINVAL;
  store_number(cfg, k, n);
  return 0;
}

int config_set(struct config *cfg, const char *key, const char *v) {
  for (const struct config_key *k = config_keys; k->key; k++) {
    if (!strcmp(k->key, key))
      return config_set_key(cfg, k, v);
  }
  return -ENOENT;
}

void config_defaults(struct config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  for (const struct config_key *k = config_keys; k->key; k++) {
    if (k->def) {
      int rc = config_set_key(cfg, k, k->def);
      assert(rc == 0); /* test_config checks every default too (NDEBUG builds) */
      (void)rc;
    }
  }
  /* Not keys: no flag, variable or file changes these. */
  cfg->ws_max_message = 64 * 1024;
  cfg->session_ttl_ms = 30LL * 24 * 3600 * 1000;
}

static int config_file(struct config *cfg, const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    fprintf(stderr, "onair: cannot open config file %s\n", path);
    return -EINVAL;
  }
  char line[2048];
  const char *why = "not key = value";
  int lineno = 0, rc = 0;
  while (fgets(line, sizeof(line), f)) {
    lineno++;
    char *p = line;
    p[strcspn(p, "\r\n")] = 0;
    while (*p == ' ' || *p == '\t')
      p++;
    if (*p == 0 || *p == '#')
      continue;
    char *eq = strchr(p, '=');
    if (eq == NULL) {
      rc = -EINVAL;
      break;
    }
    char *kend = eq;
    while (kend > p && (kend[-1] == ' ' || kend[-1] == '\t'))
      kend--;
    *kend = 0;
    char *v = eq + 1;
    while (*v == ' ' || *v == '\t')
      v++;
    int set = config_set(cfg, p, v);
    if (set < 0) {
      fprintf(stderr, "onair: %s:%d: %s: %s\n", path, lineno, p,
              set == -ENOENT ? "unknown key" : "bad value");
      fclose(f);
      return -EINVAL;
    }
  }
  fclose(f);
  if (rc < 0)
    fprintf(stderr, "onair: %s:%d: %s\n", path, lineno, why);
  return rc;
}

/* ONAIR_<KEY>: the key in upper case, '-' as '_'. */
static void config_env_name(const char *key, char *name, size_t size) {
  size_t n = (size_t)snprintf(name, size, "ONAIR_");
  for (; *key && n + 1 < size; key++)
    name[n++] = *key == '-' ? '_' : (char)toupper((unsigned char)*key);
  assert(*key == 0); /* name is big enough for every key */
  name[n] = 0;
}

static int config_env_set(struct config *cfg, const struct config_key *k, const char *name) {
  const char *v = getenv(name);
  if (v && config_set_key(cfg, k, v) < 0) {
    fprintf(stderr, "onair: bad value in %s\n", name);
    return -EINVAL;
  }
  return 0;
}

/* The tutorial's OKTA_BASE_URL: its authorization server is the default
 * custom one under the org URL. */
static int config_env_okta(struct config *cfg) {
  const char *v = getenv("OKTA_BASE_URL");
  if (v == NULL || *v == 0)
    return 0;
  size_t n = strlen(v);
  while (n && v[n - 1] == '/')
    n--;
  if (n + sizeof("/oauth2/default") > sizeof(cfg->oidc_issuer)) {
    fprintf(stderr, "onair: bad value in OKTA_BASE_URL\n");
    return -EINVAL;
  }
  snprintf(cfg->oidc_issuer, sizeof(cfg->oidc_issuer), "%.*s/oauth2/default", (int)n, v);
  snprintf(cfg->oidc_name, sizeof(cfg->oidc_name), "Okta");
  return 0;
}

/* The tutorial's variables (each row's env_alias, OKTA_BASE_URL) first, then
 * ONAIR_<KEY>, so that an ONAIR_ variable beats a tutorial one. */
static int config_env(struct config *cfg) {
  const struct config_key *k;
  for (k = config_keys; k->key; k++) {
    if (k->env_alias && config_env_set(cfg, k, k->env_alias) < 0)
      return -EINVAL;
  }
  if (config_env_okta(cfg) < 0)
    return -EINVAL;
  for (k = config_keys; k->key; k++) {
    if (k->type == CONFIG_FILE || (k->flags & CONFIG_NO_ONAIR_ENV))
      continue; /* config_load reads ONAIR_CONFIG */
    char name[64];
    config_env_name(k->key, name, sizeof(name));
    if (config_env_set(cfg, k, name) < 0)
      return -EINVAL;
  }
  return 0;
}

/* --help's last lines: the environment's names. */
static void config_write_help_env(FILE *out) {
  fputs("Each key also reads ONAIR_<KEY> from the environment, '-' as '_' (ONAIR_DATA,\n"
        "ONAIR_WS_PING_MS, ...)",
        out);
  const char *sep = ", except ";
  for (const struct config_key *k = config_keys; k->key; k++) {
    if (k->flags & CONFIG_NO_ONAIR_ENV) {
      fprintf(out, "%s%s", sep, k->key);
      sep = ", ";
    }
  }
  fputs(". The tutorial's variables work too, below the ONAIR_ ones:\n", out);
  for (const struct config_key *k = config_keys; k->key; k++) {
    if (k->env_alias)
      fprintf(out, "  %-21s  --%s\n", k->env_alias, k->key);
  }
  fprintf(out, "  %-21s  --oidc-issuer (it + /oauth2/default), --oidc-name Okta\n",
          "OKTA_BASE_URL");
}

void config_write_help(FILE *out) {
  fputs("usage: onair [--KEY VALUE]...\n", out);
  for (const struct config_key *k = config_keys; k->key; k++) {
    char flag[64];
    snprintf(flag, sizeof(flag), "--%s %s", k->key, k->arg);
    if (strlen(flag) > 21)
      fprintf(out, "  %s\n  %-21s  %s", flag, "", k->help);
    else
      fprintf(out, "  %-21s  %s", flag, k->help);
    if (k->def && k->doc_default == NULL)
      fprintf(out, " (default %s)", k->def);
    fputc('\n', out);
  }
  fprintf(out, "  %-21s  %s\n", "-h, --help", "this text");
  config_write_help_env(out);
}

static void config_md_environment(FILE *out, const struct config_key *k) {
  const char *sep = "";
  if (!(k->flags & CONFIG_NO_ONAIR_ENV)) {
    char name[64];
    config_env_name(k->key, name, sizeof(name));
    fprintf(out, "`%s`", name);
    sep = ", ";
  }
  if (k->env_alias)
    fprintf(out, "%s`%s`", sep, k->env_alias);
}

static void config_md_default(FILE *out, const struct config_key *k) {
  if (k->doc_default)
    fputs(k->doc_default, out);
  else if (k->def == NULL || k->def[0] == 0)
    fputs("(none)", out);
  else if (config_type_is_number(k->type))
    fputs(k->def, out);
  else
    fprintf(out, "`%s`", k->def);
}

static void config_md_values(FILE *out, const struct config_key *k) {
  unsigned long long min = k->min, max = k->max;
  const char *sep = "";
  switch (k->type) {
  case CONFIG_STRING: fprintf(out, "text, at most %zu bytes", k->size - 1); break;
  case CONFIG_LISTEN:
  case CONFIG_ADDR:
    fprintf(out, "`host:port`, `[v6]:port`, `:port`%s; port %llu to %llu",
            k->type == CONFIG_ADDR ? " or empty (none)" : "", min, max);
    break;
  case CONFIG_FILE: fputs("a file name", out); break;
  case CONFIG_BOOL:
    for (int want = 1; want >= 0; want--) {
      for (size_t i = 0; i < sizeof(bool_words) / sizeof(bool_words[0]); i++) {
        if (bool_words[i].value == want) {
          fprintf(out, "%s`%s`", sep, bool_words[i].word);
          sep = ", ";
        }
      }
      sep = " or ";
    }
    break;
  default: fprintf(out, "%llu to %llu", min, max); break;
  }
}

/* The value of row k in cfg as text (a secret: "(set)" or ""). */
static void config_value_text(const struct config *cfg, const struct config_key *k, char *out,
                              size_t size) {
  const void *field = (const char *)cfg + k->offset;
  switch (k->type) {
  case CONFIG_STRING:
    snprintf(out, size, "%s",
             k->flags & CONFIG_SECRET && *(const char *)field ? "(set)" : (const char *)field);
    break;
  case CONFIG_BOOL: snprintf(out, size, "%s", *(const int *)field ? "true" : "false"); break;
  case CONFIG_LISTEN: snprintf(out, size, "%s:%d", cfg->listen_host, cfg->listen_port); break;
  case CONFIG_ADDR: {
    const struct config_addr *a = field;
    if (a->port)
      snprintf(out, size, "%s:%d", a->host, a->port);
    else
      out[0] = 0;
    break;
  }
  case CONFIG_INT: snprintf(out, size, "%d", *(const int *)field); break;
  case CONFIG_UNSIGNED: snprintf(out, size, "%u", *(const unsigned *)field); break;
  case CONFIG_SIZE: snprintf(out, size, "%zu", *(const size_t *)field); break;
  case CONFIG_U64: snprintf(out, size, "%llu", (unsigned long long)*(const uint64_t *)field); break;
  case CONFIG_DOUBLE: snprintf(out, size, "%.0f", *(const double *)field); break;
  default: snprintf(out, size, "%s", ""); break;
  }
}

void config_log(const struct config *cfg) {
  struct log_field fields[64];
  static char values[64][1100];
  size_t n = 0;
  for (const struct config_key *k = config_keys; k->key && n < 64; k++) {
    if (k->type == CONFIG_FILE || !strcmp(k->key, "port"))
      continue; /* the file was read; the port is listen's */
    config_value_text(cfg, k, values[n], sizeof(values[n]));
    fields[n] = LOG_S(k->key, values[n]);
    n++;
  }
  log_fields(LOG_INFO, "settings", fields, n);
}

void config_write_markdown(FILE *out) {
  fputs("| key | environment | default | values | meaning |\n"
        "| --- | --- | --- | --- | --- |\n",
        out);
  for (const struct config_key *k = config_keys; k->key; k++) {
    fprintf(out, "| `%s` | ", k->key);
    config_md_environment(out, k);
    fputs(" | ", out);
    config_md_default(out, k);
    fputs(" | ", out);
    config_md_values(out, k);
    fprintf(out, " | %s |\n", k->doc ? k->doc : k->help);
  }
}

int config_load(struct config *cfg, int argc, char **argv) {
  const char *file = getenv("ONAIR_CONFIG");
  for (int i = 1; i + 1 < argc; i++) {
    if (!strcmp(argv[i], "--config"))
      file = argv[i + 1];
  }
  if (file && config_file(cfg, file) < 0)
    return -EINVAL;
  if (config_env(cfg) < 0)
    return -EINVAL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      config_write_help(stdout);
      return 1;
    }
    if (!strcmp(a, "--help-markdown")) {
      config_write_markdown(stdout);
      return 1;
    }
    if (strncmp(a, "--", 2) != 0 || i + 1 >= argc) {
      fprintf(stderr, "onair: unexpected argument %s (try --help)\n", a);
      return -EINVAL;
    }
    const char *v = argv[++i];
    if (!strcmp(a, "--config"))
      continue;
    int rc = config_set(cfg, a + 2, v);
    if (rc < 0) {
      fprintf(stderr, "onair: %s %s: %s\n", a, v, rc == -ENOENT ? "unknown flag" : "bad value");
      return -EINVAL;
    }
  }
  return 0;
}
