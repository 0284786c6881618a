#include "net/http_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/log.h"

struct hc_req;

struct http_client {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  struct hc_req *pending; /* requests in flight, freed by http_client_free() */
  int closing;            /* inside http_client_free(): no new requests */
};

struct hc_req {
  struct http_client *hc;
  CURL *easy;
  struct buf body;
  char *post;                 /* owned copy of the POST body */
  struct curl_slist *headers; /* request headers curl sends; owned */
  http_client_cb cb;
  void *arg;
  char error[CURL_ERROR_SIZE];
  struct hc_req *prev, *next;
};

static void hc_unlink(struct hc_req *r) {
  if (r->prev)
    r->prev->next = r->next;
  else
    r->hc->pending = r->next;
  if (r->next)
    r->next->prev = r->prev;
}

static void hc_req_free(struct hc_req *r) {
  curl_easy_cleanup(r->easy);
  buf_free(&r->body);
  free(r->post);
  curl_slist_free_all(r->headers);
  free(r);
}

/* One per socket curl asks us to watch. */
struct hc_sock {
  uv_poll_t poll;
  curl_socket_t fd;
  struct http_client *hc;
};

static void hc_check_done(struct http_client *hc) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(hc->multi, &left))) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    struct hc_req *r;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    struct http_client_resp resp = {0};
    if (msg->data.result == CURLE_OK) {
      curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.status);
      buf_terminate(&r->body);
      resp.body = r->body.data ? (const char *)r->body.data : "";
      resp.len = r->body.len;
      resp.handle = r->easy;
    } else {
      resp.error = r->error[0] ? r->error : curl_easy_strerror(msg->data.result);
      resp.body = "";
    }
    curl_multi_remove_handle(hc->multi, r->easy);
    hc_unlink(r);
    r->cb(r->arg, &resp);
    hc_req_free(r);
  }
}

static void hc_on_poll(uv_poll_t *p, int status, int events) {
  struct hc_sock *s = p->data;
  int flags = 0, running;
  if (status < 0)
    flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  struct http_client *hc = s->hc;
  curl_multi_socket_action(hc->multi, s->fd, flags, &running);
  hc_check_done(hc);
}

static void hc_on_sock_closed(uv_handle_t *h) { free(h->data); }

static int hc_socket_cb(CURL *easy, curl_socket_t fd, int action, void *userp, void *socketp) {
  struct http_client *hc = userp;
  struct hc_sock *s = socketp;
  if (action == CURL_POLL_REMOVE) {
    if (s) {
      uv_poll_stop(&s->poll);
      uv_close((uv_handle_t *)&s->poll, hc_on_sock_closed);
      curl_multi_assign(hc->multi, fd, NULL);
    }
    return 0;
  }
  if (s == NULL) {
    s = calloc(1, sizeof(*s));
    if (s == NULL)
      return -1;
    s->fd = fd;
    s->hc = hc;
    if (uv_poll_init_socket(hc->loop, &s->poll, fd) < 0) {
      free(s);
      return -1;
    }
    s->poll.data = s;
    curl_multi_assign(hc->multi, fd, s);
  }
  int events = 0;
  if (action != CURL_POLL_OUT)
    events |= UV_READABLE;
  if (action != CURL_POLL_IN)
    events |= UV_WRITABLE;
  uv_poll_start(&s->poll, events, hc_on_poll);
  return 0;
}

static void hc_on_timer(uv_timer_t *t) {
  struct http_client *hc = t->data;
  int running;
  curl_multi_socket_action(hc->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  hc_check_done(hc);
}

static int hc_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
  struct http_client *hc = userp;
  if (timeout_ms < 0)
    uv_timer_stop(&hc->timer);
  else
    uv_timer_start(&hc->timer, hc_on_timer, (uint64_t)timeout_ms, 0);
  return 0;
}

/* curl_global_init sets up libcurl's process-wide state (and OpenSSL's) and
 * is not thread-safe: once per process, whichever client comes first. */
static uv_once_t curl_once = UV_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

int http_client_new(uv_loop_t *loop, struct http_client **out) {
  uv_once(&curl_once, curl_init_once);
  if (curl_init_rc != CURLE_OK)
    return -ENOMEM;
  struct http_client *hc = calloc(1, sizeof(*hc));
  if (hc == NULL)
    return -ENOMEM;
  hc->loop = loop;
  hc->multi = curl_multi_init();
  if (hc->multi == NULL) {
    free(hc);
    return -ENOMEM;
  }
  uv_timer_init(loop, &hc->timer);
  hc->timer.data = hc;
  curl_multi_setopt(hc->multi, CURLMOPT_SOCKETFUNCTION, hc_socket_cb);
  curl_multi_setopt(hc->multi, CURLMOPT_SOCKETDATA, hc);
  curl_multi_setopt(hc->multi, CURLMOPT_TIMERFUNCTION, hc_timer_cb);
  curl_multi_setopt(hc->multi, CURLMOPT_TIMERDATA, hc);
  *out = hc;
  return 0;
}

static void hc_on_timer_closed(uv_handle_t *h) { free(h->data); }

void http_client_free(struct http_client *hc) {
  if (hc == NULL)
    return;
  hc->closing = 1; /* a callback asking for more gets -ECANCELED */
  while (hc->pending) {
    struct hc_req *r = hc->pending;
    hc_unlink(r);
    curl_multi_remove_handle(hc->multi, r->easy);
    struct http_client_resp resp = {.body = "", .error = "cancelled"};
    r->cb(r->arg, &resp);
    hc_req_free(r);
  }
  curl_multi_cleanup(hc->multi);
  uv_timer_stop(&hc->timer);
  uv_close((uv_handle_t *)&hc->timer, hc_on_timer_closed);
}

static size_t hc_on_body(char *data, size_t size, size_t n, void *userp) {
  struct hc_req *r = userp;
  if (buf_append(&r->body, data, size * n) < 0)
    return 0; /* over the cap: curl fails the transfer */
  return size * n;
}

static struct hc_req *hc_req_new(struct http_client *hc, const char *url, size_t max_body,
                                 http_client_cb cb, void *arg) {
  struct hc_req *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return NULL;
  r->easy = curl_easy_init();
  if (r->easy == NULL) {
    free(r);
    return NULL;
  }
  r->hc = hc;
  r->cb = cb;
  r->arg = arg;
  buf_init(&r->body, max_body ? max_body : HTTP_CLIENT_MAX_BODY);
  curl_easy_setopt(r->easy, CURLOPT_URL, url);
  curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
  curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, hc_on_body);
  curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->error);
  curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)HTTP_CLIENT_TIMEOUT_MS);
  curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(r->easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "onair");
  return r;
}

static int hc_start(struct hc_req *r) {
  if (curl_multi_add_handle(r->hc->multi, r->easy) != CURLM_OK) {
    hc_req_free(r);
    return -ENOMEM;
  }
  r->next = r->hc->pending;
  if (r->next)
    r->next->prev = r;
  r->hc->pending = r;
  return 0;
}

/* Adds "name: value" to the request's headers; -ENOMEM. */
static int hc_add_header(struct hc_req *r, const char *name, const char *value) {
  char line[256];
  if ((size_t)snprintf(line, sizeof(line), "%s: %s", name, value) >= sizeof(line))
    return -EINVAL;
  struct curl_slist *l = curl_slist_append(r->headers, line);
  if (l == NULL)
    return -ENOMEM;
  r->headers = l;
  return 0;
}

/* The method, body and headers of rq on r's transfer. */
static int hc_req_setup(struct hc_req *r, const struct http_client_req *rq) {
  const char *m = rq->method ? rq->method : "GET";
  int rc = 0;
  if (strcmp(m, "HEAD") == 0) {
    curl_easy_setopt(r->easy, CURLOPT_NOBODY, 1L);
  } else if (strcmp(m, "POST") == 0) {
    if ((r->post = malloc(rq->body_len + 1)) == NULL)
      return -ENOMEM;
    if (rq->body_len)
      memcpy(r->post, rq->body, rq->body_len);
    r->post[rq->body_len] = 0;
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->post);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    if (rq->content_type)
      rc = hc_add_header(r, "Content-Type", rq->content_type);
  } else if (strcmp(m, "GET") != 0) {
    return -EINVAL;
  }
  if (rc == 0 && rq->accept)
    rc = hc_add_header(r, "Accept", rq->accept);
  if (rq->user) {
    curl_easy_setopt(r->easy, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(r->easy, CURLOPT_USERNAME, rq->user);
    curl_easy_setopt(r->easy, CURLOPT_PASSWORD, rq->pass ? rq->pass : "");
  }
  if (rq->ca_file) {
    curl_easy_setopt(r->easy, CURLOPT_CAINFO, rq->ca_file);
    curl_easy_setopt(r->easy, CURLOPT_CAPATH, NULL); /* that file alone */
  }
  curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
  return rc;
}

int http_client_request(struct http_client *hc, const struct http_client_req *rq, http_client_cb cb,
                        void *arg) {
  if (hc->closing)
    return -ECANCELED;
  if (rq->url == NULL)
    return -EINVAL;
  struct hc_req *r = hc_req_new(hc, rq->url, rq->max_body, cb, arg);
  if (r == NULL)
    return -ENOMEM;
  int rc = hc_req_setup(r, rq);
  if (rc < 0) {
    hc_req_free(r);
    return rc;
  }
  return hc_start(r);
}

int http_client_get(struct http_client *hc, const char *url, http_client_cb cb, void *arg) {
  struct http_client_req rq = {.method = "GET", .url = url};
  return http_client_request(hc, &rq, cb, arg);
}

int http_client_post_form(struct http_client *hc, const char *url, const char *form,
                          const char *user, const char *pass, http_client_cb cb, void *arg) {
  struct http_client_req rq = {.method = "POST",
                               .url = url,
                               .body = form,
                               .body_len = strlen(form),
                               .user = user,
                               .pass = pass};
  return http_client_request(hc, &rq, cb, arg);
}

const char *http_client_resp_header(const struct http_client_resp *r, const char *name) {
  struct curl_header *h;
  if (r->handle == NULL || curl_easy_header(r->handle, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
    return NULL;
  /* The last of that name: index amount - 1. */
  if (h->amount > 1 &&
      curl_easy_header(r->handle, name, h->amount - 1, CURLH_HEADER, -1, &h) != CURLHE_OK)
    return NULL;
  return h->value;
}

char *http_client_escape(const char *s) {
  char *e = curl_easy_escape(NULL, s, 0);
  if (e == NULL)
    return NULL;
  char *copy = strdup(e);
  curl_free(e);
  return copy;
}
