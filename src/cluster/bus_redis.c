/* The bus over Redis (hiredis' async API on the loop, through its libuv
 * adapter): two connections, one for commands and one subscribed to the
 * cluster's channel. A set's name lives in two keys: <prefix>:<set>:<name>
 * holds the value with its TTL, and the Redis set <prefix>:<set> indexes
 * the names (an expired one is dropped from it by the next bus_get_all()).
 * While Redis is away nothing blocks: messages are dropped (counted), and
 * both connections are tried again every second. */
#include <errno.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/bus.h"
#include "util/log.h"

#define REDIS_RETRY_MS 1000
#define REDIS_CONNECT_MS 5000 /* a connection not answering by then is given up */
#define REDIS_ID_LEN 16       /* hex characters of the sender id each message starts with */

struct bus_redis {
  struct bus b;
  uv_loop_t *loop;
  char host[256]; /* or a unix socket's path, with port 0 */
  int port;
  char prefix[64];
  char channel[BUS_KEY_MAX];
  char id[REDIS_ID_LEN + 1]; /* ours: our own messages come back and are skipped */
  redisAsyncContext *cmd, *sub;
  int cmd_up, sub_up;            /* connected; sub_up: subscribed */
  uint64_t cmd_since, sub_since; /* when each connection was made (loop time, ms) */
  uv_timer_t retry;
  int closing;
  int was_up; /* it has been up once: a later up is a reconnect */
};

/* One bus_get_all() in flight: SMEMBERS, then MGET of the names. */
struct get_all {
  struct bus_redis *r;
  bus_values_fn cb;
  void *arg;
  char set[BUS_KEY_MAX];
  char **names;
  size_t n;
};

static void set_up(struct bus_redis *r) {
  int up = r->cmd_up && r->sub_up;
  if (up == r->b.up)
    return;
  r->b.up = up;
  log_ev(up ? LOG_INFO : LOG_WARN, up ? "redis: connected" : "redis: connection lost",
         LOG_S("server", r->host));
  if (up && r->was_up)
    r->b.stats.reconnects++;
  r->was_up |= up;
  if (r->b.on_state)
    r->b.on_state(r->b.arg, up);
}

static void on_message(redisAsyncContext *c, void *reply, void *privdata) {
  struct bus_redis *r = privdata;
  redisReply *rep = reply;
  (void)c;
  if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
      rep->element[0]->type != REDIS_REPLY_STRING)
    return;
  const char *kind = rep->element[0]->str;
  if (strcmp(kind, "subscribe") == 0) {
    r->sub_up = 1;
    set_up(r);
    return;
  }
  redisReply *payload = rep->element[2];
  if (strcmp(kind, "message") != 0 || payload->type != REDIS_REPLY_STRING ||
      payload->len < REDIS_ID_LEN + 1 || payload->len > BUS_MSG_MAX + REDIS_ID_LEN + 1)
    return;
  if (memcmp(payload->str, r->id, REDIS_ID_LEN) == 0)
    return; /* our own */
  r->b.stats.received++;
  r->b.on_msg(r->b.arg, payload->str + REDIS_ID_LEN + 1, payload->len - REDIS_ID_LEN - 1);
}

/* The command connection answers: it is up. (hiredis 0.14 watches a new
 * connection only once a command is queued on it, so one is: PING.) */
static void on_pong(redisAsyncContext *c, void *reply, void *privdata) {
  struct bus_redis *r = privdata;
  if (reply == NULL || c != r->cmd)
    return;
  r->cmd_up = 1;
  set_up(r);
}

static void on_connect(const redisAsyncContext *c, int status) {
  struct bus_redis *r = c->data;
  if (status == REDIS_OK)
    return; /* up once PING or SUBSCRIBE is answered */
  /* hiredis frees the context after this call. */
  if (c == r->cmd)
    r->cmd = NULL;
  else if (c == r->sub)
    r->sub = NULL;
}

static void on_disconnect(const redisAsyncContext *c, int status) {
  struct bus_redis *r = c->data;
  (void)status;
  if (c == r->cmd) {
    r->cmd = NULL;
    r->cmd_up = 0;
  } else if (c == r->sub) {
    r->sub = NULL;
    r->sub_up = 0;
  }
  if (!r->closing)
    set_up(r);
}

/* ---- hiredis on the loop ----
 * Our own glue rather than hiredis' adapters/libuv.h: libuv reports a
 * socket error (a refused connection, a reset) as a failed poll and stops
 * watching, and that adapter ignores it, leaving hiredis waiting for ever.
 * Here an error is handed to hiredis as an event, which then reads or
 * connects, finds the error and ends the connection. */
struct redis_ev {
  redisAsyncContext *ac; /* NULL once hiredis let go */
  uv_poll_t poll;
  int events;
};

static void on_redis_poll(uv_poll_t *h, int status, int events) {
  struct redis_ev *e = h->data;
  if (status < 0)
    events = e->events; /* let hiredis find the error */
  if (e->ac && (events & UV_READABLE))
    redisAsyncHandleRead(e->ac);
  if (e->ac && (events & UV_WRITABLE))
    redisAsyncHandleWrite(e->ac);
}

static void redis_ev_set(struct redis_ev *e, int events) {
  e->events = events;
  if (events)
    uv_poll_start(&e->poll, events, on_redis_poll);
  else
    uv_poll_stop(&e->poll);
}

static void ev_add_read(void *p) { redis_ev_set(p, ((struct redis_ev *)p)->events | UV_READABLE); }
static void ev_del_read(void *p) { redis_ev_set(p, ((struct redis_ev *)p)->events & ~UV_READABLE); }
static void ev_add_write(void *p) { redis_ev_set(p, ((struct redis_ev *)p)->events | UV_WRITABLE); }
static void ev_del_write(void *p) {
  redis_ev_set(p, ((struct redis_ev *)p)->events & ~UV_WRITABLE);
}

static void on_ev_closed(uv_handle_t *h) { free(h->data); }

static void ev_cleanup(void *p) {
  struct redis_ev *e = p;
  e->ac = NULL;
  uv_close((uv_handle_t *)&e->poll, on_ev_closed);
}

static int redis_attach(redisAsyncContext *ac, uv_loop_t *loop) {
  struct redis_ev *e = calloc(1, sizeof(*e));
  if (e == NULL)
    return -ENOMEM;
  if (uv_poll_init(loop, &e->poll, ac->c.fd) != 0) {
    free(e);
    return -EIO;
  }
  e->ac = ac;
  e->poll.data = e;
  ac->ev.data = e;
  ac->ev.addRead = ev_add_read;
  ac->ev.delRead = ev_del_read;
  ac->ev.addWrite = ev_add_write;
  ac->ev.delWrite = ev_del_write;
  ac->ev.cleanup = ev_cleanup;
  return 0;
}

static redisAsyncContext *redis_connect(struct bus_redis *r) {
  redisAsyncContext *c =
      r->port ? redisAsyncConnect(r->host, r->port) : redisAsyncConnectUnix(r->host);
  if (c == NULL)
    return NULL;
  if (c->err || redis_attach(c, r->loop) < 0) {
    redisAsyncFree(c);
    return NULL;
  }
  c->data = r;
  redisAsyncSetConnectCallback(c, on_connect);
  redisAsyncSetDisconnectCallback(c, on_disconnect);
  return c;
}

/* A connection still not answering after REDIS_CONNECT_MS (a server whose
 * machine is gone drops the connection attempt silently) is given up. */
static void give_up_slow(struct bus_redis *r, uint64_t now) {
  if (r->cmd && !r->cmd_up && now - r->cmd_since >= REDIS_CONNECT_MS) {
    redisAsyncContext *c = r->cmd;
    r->cmd = NULL;
    redisAsyncFree(c);
  }
  if (r->sub && !r->sub_up && now - r->sub_since >= REDIS_CONNECT_MS) {
    redisAsyncContext *c = r->sub;
    r->sub = NULL;
    redisAsyncFree(c);
  }
}

/* Every second while down: whichever connection is missing is made again. */
static void on_retry(uv_timer_t *t) {
  struct bus_redis *r = t->data;
  uint64_t now = uv_now(r->loop);
  if (r->closing)
    return;
  give_up_slow(r, now);
  if (r->cmd == NULL) {
    r->cmd_since = now;
    r->cmd = redis_connect(r);
    if (r->cmd && redisAsyncCommand(r->cmd, on_pong, r, "PING") != REDIS_OK)
      r->cmd_up = 0;
  }
  if (r->sub == NULL) {
    r->sub_since = now;
    r->sub = redis_connect(r);
    if (r->sub && redisAsyncCommand(r->sub, on_message, r, "SUBSCRIBE %s", r->channel) != REDIS_OK)
      r->sub_up = 0;
  }
}

static int redis_publish(struct bus *b, const char *msg, size_t len) {
  struct bus_redis *r = (struct bus_redis *)b;
  if (len > BUS_MSG_MAX)
    return -EMSGSIZE;
  if (!r->cmd_up) {
    b->stats.dropped++;
    return -ENOTCONN;
  }
  /* One argument: our id, a space, the message. */
  char *payload = malloc(REDIS_ID_LEN + 1 + len);
  if (payload == NULL)
    return -ENOMEM;
  memcpy(payload, r->id, REDIS_ID_LEN);
  payload[REDIS_ID_LEN] = ' ';
  memcpy(payload + REDIS_ID_LEN + 1, msg, len);
  int ok = redisAsyncCommand(r->cmd, NULL, NULL, "PUBLISH %s %b", r->channel, payload,
                             (size_t)REDIS_ID_LEN + 1 + len) == REDIS_OK;
  free(payload);
  if (!ok) {
    b->stats.dropped++;
    return -EIO;
  }
  b->stats.published++;
  return 0;
}

static int redis_put(struct bus *b, const char *set, const char *name, const char *value,
                     unsigned ttl_s) {
  struct bus_redis *r = (struct bus_redis *)b;
  if (!r->cmd_up)
    return -ENOTCONN;
  if (strlen(value) > BUS_MSG_MAX)
    return -EMSGSIZE;
  if (redisAsyncCommand(r->cmd, NULL, NULL, "SET %s:%s:%s %s EX %u", r->prefix, set, name, value,
                        ttl_s) != REDIS_OK ||
      redisAsyncCommand(r->cmd, NULL, NULL, "SADD %s:%s %s", r->prefix, set, name) != REDIS_OK)
    return -EIO;
  return 0;
}

static int redis_del(struct bus *b, const char *set, const char *name) {
  struct bus_redis *r = (struct bus_redis *)b;
  if (!r->cmd_up)
    return -ENOTCONN;
  if (redisAsyncCommand(r->cmd, NULL, NULL, "DEL %s:%s:%s", r->prefix, set, name) != REDIS_OK ||
      redisAsyncCommand(r->cmd, NULL, NULL, "SREM %s:%s %s", r->prefix, set, name) != REDIS_OK)
    return -EIO;
  return 0;
}

static void get_all_free(struct get_all *g) {
  for (size_t i = 0; i < g->n; i++)
    free(g->names[i]);
  free(g->names);
  free(g);
}

static void get_all_fail(struct get_all *g, int rc) {
  g->cb(g->arg, rc, NULL, 0);
  get_all_free(g);
}

/* MGET's answer: the live values; the names whose keys expired leave the
 * index. */
static void on_mget(redisAsyncContext *c, void *reply, void *privdata) {
  struct get_all *g = privdata;
  redisReply *rep = reply;
  (void)c;
  if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != g->n) {
    get_all_fail(g, rep == NULL ? -ECANCELED : -EIO);
    return;
  }
  const char *values[BUS_LIST_MAX];
  size_t n = 0;
  for (size_t i = 0; i < g->n; i++) {
    redisReply *v = rep->element[i];
    if (v->type == REDIS_REPLY_STRING)
      values[n++] = v->str;
    else if (g->r->cmd_up)
      redisAsyncCommand(g->r->cmd, NULL, NULL, "SREM %s:%s %s", g->r->prefix, g->set, g->names[i]);
  }
  g->cb(g->arg, 0, values, n);
  get_all_free(g);
}

static int mget_send(struct get_all *g) {
  struct bus_redis *r = g->r;
  const char **argv = calloc(g->n + 1, sizeof(*argv));
  char **keys = calloc(g->n, sizeof(*keys));
  int rc = -ENOMEM;
  if (argv == NULL || keys == NULL)
    goto out;
  argv[0] = "MGET";
  for (size_t i = 0; i < g->n; i++) {
    size_t len = strlen(r->prefix) + strlen(g->set) + strlen(g->names[i]) + 3;
    if ((keys[i] = malloc(len)) == NULL)
      goto out;
    snprintf(keys[i], len, "%s:%s:%s", r->prefix, g->set, g->names[i]);
    argv[i + 1] = keys[i];
  }
  rc = redisAsyncCommandArgv(r->cmd, on_mget, g, (int)g->n + 1, argv, NULL) == REDIS_OK ? 0 : -EIO;
out:
  for (size_t i = 0; keys && i < g->n; i++)
    free(keys[i]);
  free(keys);
  free(argv);
  return rc;
}

static void on_smembers(redisAsyncContext *c, void *reply, void *privdata) {
  struct get_all *g = privdata;
  redisReply *rep = reply;
  (void)c;
  if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
    get_all_fail(g, rep == NULL ? -ECANCELED : -EIO);
    return;
  }
  size_t n = rep->elements < BUS_LIST_MAX ? rep->elements : BUS_LIST_MAX;
  if (n == 0) {
    get_all_fail(g, 0);
    return;
  }
  if ((g->names = calloc(n, sizeof(*g->names))) == NULL) {
    get_all_fail(g, -ENOMEM);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    redisReply *e = rep->element[i];
    if (e->type != REDIS_REPLY_STRING || (g->names[g->n] = strdup(e->str)) == NULL)
      continue;
    g->n++;
  }
  int rc = !g->r->cmd_up ? -ENOTCONN : g->n == 0 ? -EIO : mget_send(g);
  if (rc < 0)
    get_all_fail(g, rc);
}

static int redis_get_all(struct bus *b, const char *set, bus_values_fn cb, void *arg) {
  struct bus_redis *r = (struct bus_redis *)b;
  if (!r->cmd_up)
    return -ENOTCONN;
  struct get_all *g = calloc(1, sizeof(*g));
  if (g == NULL)
    return -ENOMEM;
  g->r = r;
  g->cb = cb;
  g->arg = arg;
  snprintf(g->set, sizeof(g->set), "%s", set);
  if (redisAsyncCommand(r->cmd, on_smembers, g, "SMEMBERS %s:%s", r->prefix, set) != REDIS_OK) {
    free(g);
    return -EIO;
  }
  return 0;
}

static void on_retry_closed(uv_handle_t *h) { free(h->data); }

static void redis_close(struct bus *b) {
  struct bus_redis *r = (struct bus_redis *)b;
  r->closing = 1;
  /* Pending callbacks run now, with no reply: their owners are told. */
  if (r->cmd)
    redisAsyncFree(r->cmd);
  if (r->sub)
    redisAsyncFree(r->sub);
  r->cmd = r->sub = NULL;
  uv_close((uv_handle_t *)&r->retry, on_retry_closed);
}

static const struct bus_ops redis_ops = {
    .publish = redis_publish,
    .put = redis_put,
    .del = redis_del,
    .get_all = redis_get_all,
    .close = redis_close,
};

/* redis://host[:port] or unix:/path into r. */
static int parse_url(struct bus_redis *r, const char *url) {
  if (strncmp(url, "unix:", 5) == 0) {
    r->port = 0;
    if (url[5] != '/')
      return -EINVAL;
    return snprintf(r->host, sizeof(r->host), "%s", url + 5) < (int)sizeof(r->host) ? 0 : -EINVAL;
  }
  if (strncmp(url, "redis://", 8) != 0)
    return -EINVAL;
  const char *h = url + 8, *colon = strrchr(h, ':');
  size_t hlen = colon ? (size_t)(colon - h) : strlen(h);
  r->port = 6379;
  if (colon) {
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 1 || p > 65535)
      return -EINVAL;
    r->port = (int)p;
  }
  if (hlen == 0 || hlen >= sizeof(r->host))
    return -EINVAL;
  memcpy(r->host, h, hlen);
  r->host[hlen] = 0;
  return 0;
}

int bus_open_redis(uv_loop_t *loop, const char *url, const char *prefix, struct bus **out,
                   bus_msg_fn on_msg, bus_state_fn on_state, void *arg) {
  struct bus_redis *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return -ENOMEM;
  if (parse_url(r, url) < 0) {
    free(r);
    return -EINVAL;
  }
  r->loop = loop;
  r->b.ops = &redis_ops;
  r->b.on_msg = on_msg;
  r->b.on_state = on_state;
  r->b.arg = arg;
  snprintf(r->prefix, sizeof(r->prefix), "%s", prefix);
  snprintf(r->channel, sizeof(r->channel), "%s:events", prefix);
  uint8_t raw[REDIS_ID_LEN / 2];
  randombytes_buf(raw, sizeof(raw));
  sodium_bin2hex(r->id, sizeof(r->id), raw, sizeof(raw));
  uv_timer_init(loop, &r->retry);
  r->retry.data = r;
  uv_timer_start(&r->retry, on_retry, 0, REDIS_RETRY_MS);
  uv_unref((uv_handle_t *)&r->retry); /* the app's own handles keep the loop */
  *out = &r->b;
  return 0;
}
