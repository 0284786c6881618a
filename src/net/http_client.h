/* Outbound HTTP(S) requests on the loop: libcurl's multi interface driven
 * by libuv polls and one timer, so a slow or dead server (an OpenID
 * provider, an ACME CA) never stalls the loop. Responses are capped;
 * redirects are not followed. */
#ifndef ONAIR_HTTP_CLIENT_H
#define ONAIR_HTTP_CLIENT_H

#include <stddef.h>
#include <uv.h>

#define HTTP_CLIENT_MAX_BODY (1024 * 1024) /* bytes */
#define HTTP_CLIENT_TIMEOUT_MS 10000

struct http_client;

struct http_client_resp {
  long status;      /* HTTP status, 0 if no response came */
  const char *body; /* NUL-terminated; valid during the callback */
  size_t len;
  const char *error; /* why the request failed, or NULL when a response came */
  void *handle;      /* the transfer, for http_client_resp_header(); NULL without a response */
};

/* What http_client_request() sends. Every string is copied or used before
 * the call returns. */
struct http_client_req {
  const char *method;       /* "GET" (or NULL), "HEAD" or "POST" */
  const char *url;          /* http or https */
  const char *body;         /* POST: body_len bytes, copied */
  size_t body_len;          /* bytes */
  const char *content_type; /* of the body; NULL: application/x-www-form-urlencoded */
  const char *accept;       /* the Accept header; NULL: curl's, any type */
  const char *user, *pass;  /* HTTP Basic authentication, or NULL */
  const char *ca_file;      /* PEM file of the CAs to trust for https instead of the
                               system's, or NULL */
  size_t max_body;          /* cap on the response body, bytes; 0: HTTP_CLIENT_MAX_BODY */
};

typedef void (*http_client_cb)(void *arg, const struct http_client_resp *r);

/* Returns 0 and sets *out, or -ENOMEM. */
int http_client_new(uv_loop_t *loop, struct http_client **out);
/* Cancels pending requests and frees: each pending request's callback runs
 * once, from inside this call, with error "cancelled" (so its owner can
 * free what it holds). */
void http_client_free(struct http_client *hc);

/* Starts a GET; cb runs once with the response or the error. -ENOMEM, or
 * -ECANCELED while the client is being freed. */
int http_client_get(struct http_client *hc, const char *url, http_client_cb cb, void *arg);
/* POSTs an application/x-www-form-urlencoded body; user/pass (or NULL) go
 * as HTTP Basic authentication. */
int http_client_post_form(struct http_client *hc, const char *url, const char *form,
                          const char *user, const char *pass, http_client_cb cb, void *arg);

/* Starts any request of rq; cb runs once with the response or the error
 * (a body over the cap is an error). -ENOMEM, -EINVAL (no URL, an unknown
 * method), or -ECANCELED while the client is being freed. */
int http_client_request(struct http_client *hc, const struct http_client_req *rq, http_client_cb cb,
                        void *arg);
/* The value of the response's header name (case-insensitive; the last one
 * when repeated), or NULL. Only inside the callback. */
const char *http_client_resp_header(const struct http_client_resp *r, const char *name);

/* Percent-encodes s for a URL query or form value into a new string. */
char *http_client_escape(const char *s);

#endif
