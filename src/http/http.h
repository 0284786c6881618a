/* HTTP/1.1 server side on a conn: http-parser plus the strict checks it lacks
 * (bare LF, Transfer-Encoding with Content-Length, duplicate Content-Length,
 * header and body caps), keep-alive and pipelining one request at a time.
 * A request is handed to the application, which answers now or later with
 * http_respond(); reading pauses until it does. */
#ifndef ONAIR_HTTP_H
#define ONAIR_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "net/conn.h"
#include "util/ipset.h"

#define HTTP_MAX_HEADERS 64
#define HTTP_MAX_HEADER_BYTES (16 * 1024) /* request line + headers */
#define HTTP_MAX_BODY (16 * 1024)         /* JSON API bodies */

struct http_header {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
};

/* Valid until http_respond() or http_upgrade_take(). */
struct http_req {
  int method;       /* enum http_method */
  const char *path; /* NUL-terminated, without the query */
  size_t path_len;
  const char *query; /* NUL-terminated, "" if none */
  struct http_header headers[HTTP_MAX_HEADERS];
  size_t nheaders;
  const uint8_t *body;
  size_t body_len;
  int upgrade; /* the client asked for a protocol switch */
  int keep_alive;
  int tls;            /* it came over TLS (https), ours or a trusted proxy's */
  char client_ip[46]; /* the client's address: the peer's, or a trusted proxy's word */
};

/* Called for every complete request. The handler must eventually call
 * http_respond() (or take the connection with http_upgrade_take()). */
typedef void (*http_request_cb)(struct conn *c, struct http_req *req);

struct http_conn;
struct http_server;
typedef void (*http_server_close_cb)(struct http_server *s);

#define HTTP_CONNECT_SRC_MAX 1024 /* bytes of extra CSP connect-src sources */
#define HTTP_IDLE_MS 30000        /* a connection with no request done for this long is closed */
#define HTTP_REQUEST_MS 10000     /* default head deadline (http-request-timeout-ms) */

/* An HTTP/1.1 server on one TCP listener. The caller owns the memory and
 * keeps it until the close callback; several servers may share a loop. */
struct http_server {
  struct conn_listener tcp;
  http_request_cb on_request;
  struct http_conn *conns; /* every HTTP connection, for the idle sweep */
  uv_timer_t idle_timer;
  uint64_t idle_ms;     /* HTTP_IDLE_MS unless changed before listening */
  uint64_t request_ms;  /* a request's head must come within this from its first byte */
  uint64_t slow_closed; /* requests closed for coming too slowly, since start */
  int hsts;             /* responses carry Strict-Transport-Security (a TLS server's) */
  /* More sources for the pages' CSP connect-src (a cluster's other nodes,
   * where a page reconnects when its node is gone): "" for 'self' only. */
  char connect_src[HTTP_CONNECT_SRC_MAX];
  const struct ipset *proxies; /* peers whose X-Forwarded-For/-Proto are believed */
  int closing;
  unsigned pending; /* the listener and the timer, until each has closed */
  http_server_close_cb close_cb;
};

/* Prepares s on loop: requests go to on_request, and each connection's app
 * is app. Nothing listens until http_server_listen(). */
int http_server_init(struct http_server *s, uv_loop_t *loop, http_request_cb on_request, void *app);
/* Serves HTTPS with t's certificate (t must outlive s), with HSTS on every
 * response. Call before http_server_listen(). */
void http_server_use_tls(struct http_server *s, struct tls_ctx *t);
/* Sets s->connect_src (sources separated by spaces; a longer text is cut
 * at its last whole source). */
void http_server_connect_src(struct http_server *s, const char *sources);
/* Requests from these peers (reverse proxies) are taken to come from the
 * client their X-Forwarded-For names, over TLS when X-Forwarded-Proto says
 * https. From any other peer those headers are ignored. set must outlive s. */
void http_server_trust_proxies(struct http_server *s, const struct ipset *set);
/* Listens on host:port (port 0: any free port, see http_server_port()). */
int http_server_listen(struct http_server *s, const char *host, int port);
int http_server_port(const struct http_server *s);
/* Its connections count against lim (before listening). */
void http_server_limit(struct http_server *s, struct conn_limits *lim);
/* Closes every connection and the listener; close_cb (may be NULL) runs
 * when all of it is gone. */
void http_server_close(struct http_server *s, http_server_close_cb close_cb);

/* Finds a header (case-insensitive name); returns its value or NULL. */
const char *http_req_header(const struct http_req *req, const char *name, size_t *len);
/* Copies cookie `name` from the Cookie header into out (NUL-terminated);
 * returns its length or -ENOENT / -ENOBUFS. */
int http_req_cookie(const struct http_req *req, const char *name, char *out, size_t out_size);

/* Finds key in a query string ("a=1&b=x%20y"), percent-decodes its value
 * ('+' is a space) into out (NUL-terminated). Returns the length, -ENOENT,
 * -ENOBUFS, or -EINVAL for a bad escape or a decoded NUL. */
int http_query_param(const char *query, const char *key, char *out, size_t out_size);

/* Sends a response. extra is preformatted header lines ("Name: v\r\n"), or
 * NULL. Adds Content-Length, the security headers, and Connection: close when
 * the request did not keep alive. Then reading resumes. */
void http_respond(struct conn *c, int status, const char *content_type, const char *extra,
                  const void *body, size_t len);
/* A JSON error body {"error":code,"message":msg}. */
void http_respond_error(struct conn *c, int status, const char *code, const char *msg);

/* For an upgrade: detaches the HTTP state and returns the bytes that followed
 * the request (already read, belonging to the new protocol) in *rest
 * (caller frees). The caller binds new ops to c. */
int http_upgrade_take(struct conn *c, uint8_t **rest, size_t *rest_len);

const char *http_status_text(int status);

#endif
