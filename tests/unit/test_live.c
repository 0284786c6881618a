/* Tests for src/app/live.c (the WebSocket protocol of docs/protocol.md)
 * through the whole application on a real libuv loop, wired as src/main.c
 * wires it: config_defaults, a real SQLite database in a temporary
 * directory, app_init, and an http_server whose requests go to
 * app_on_request with the app; shut down as main does (http_server_close,
 * then app_close). Users and sessions are made directly with db_user_create
 * + session_create; the clients are the harness's raw sockets sending the
 * session cookie and Origin, doing the RFC 6455 handshake and speaking JSON
 * in masked text frames.
 *
 * The integration suite (tests/integration/websocket.test.js,
 * tutorial_defects.test.js, api.test.js) runs the real binary and covers
 * what a client sees end to end; each test below says which part of it is
 * left to that suite. What stays here is what only a unit test sees, or
 * what the suite does not send: live.c's own state (its peers, rooms and
 * watchers, checked after every test), the coalescing of room.viewers and
 * room lists, the error codes and refs of messages the suite does not try,
 * and paths no end-to-end client reaches (no media plane).
 *
 * Waiting is the harness's (harness.h): event driven and bounded, no
 * sleeps. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>
#include <uv.h>

#include "app/app.h"
#include "app/config.h"
#include "auth/session.h"
#include "harness.h"
#include "http/http.h"
#include "store/db.h"
#include "ws/ws_frame.h"

#define MAX_VIEWERS 3 /* cfg.max_viewers */
#define HOST "onair.test"
#define ORIGIN "http://" HOST

/* Users made at setup; each test uses the ones it needs so that rate-limit
 * buckets and chat history do not leak between tests. */
enum { ALICE, BOB, CAROL, DAVE, ERIN, FRANK, GRACE, HEIDI, IVAN, JUDY, NUSERS };
static const char *const user_names[NUSERS] = {"alice", "bob",   "carol", "dave", "erin",
                                               "frank", "grace", "heidi", "ivan", "judy"};

static struct {
  uv_loop_t loop;
  struct http_server http;
  int port;
  char dir[64];
  char db_path[128];
  struct config cfg;
  struct db *db;
  struct app app;
  int64_t ids[NUSERS];
  char tokens[NUSERS][SESSION_TOKEN_LEN + 1];
} t;

static int group_setup(void **state) {
  (void)state;
  if (sodium_init() < 0)
    return -1;
  snprintf(t.dir, sizeof(t.dir), "/tmp/onair-live-XXXXXX");
  if (mkdtemp(t.dir) == NULL)
    return -1;
  snprintf(t.db_path, sizeof(t.db_path), "%s/onair.db", t.dir);
  if (db_open(&t.db, t.db_path) < 0)
    return -1;
  config_defaults(&t.cfg);
  snprintf(t.cfg.data_dir, sizeof(t.cfg.data_dir), "%s", t.dir); /* device.key goes here */
  t.cfg.chat_burst = 5;
  t.cfg.chat_per_sec = 0.001; /* no refill within a test */
  t.cfg.max_viewers = MAX_VIEWERS;
  /* Keepalive far away: these tests are not about it. */
  t.cfg.ws_ping_ms = 600000;
  t.cfg.ws_timeout_ms = 1200000;
  /* A dropped broadcaster's room ends at once, but in the test of the grace
   * period (test_broadcaster_reconnects). */
  t.cfg.reconnect_grace_ms = 0;
  for (int i = 0; i < NUSERS; i++) {
    if (db_user_create(t.db, user_names[i], "", &t.ids[i]) < 0 ||
        session_create(t.db, t.ids[i], t.cfg.session_ttl_ms, t.tokens[i]) < 0)
      return -1;
  }
  if (harness_init(&t.loop) != 0 || app_init(&t.app, &t.loop, &t.cfg, t.db) < 0)
    return -1;
  t.port = harness_http_listen(&t.http, app_on_request, &t.app);
  return t.port > 0 ? 0 : -1;
}

/* main's shutdown: the connections (and with them every room) first, then
 * the app; nothing may be left on the loop. */
static int group_teardown(void **state) {
  (void)state;
  http_server_close(&t.http, NULL);
  app_close(&t.app, NULL);
  int rc = harness_finish();
  db_close(t.db);
  static const char *const files[] = {"onair.db", "onair.db-wal", "onair.db-shm", "device.key"};
  for (size_t i = 0; i < 4; i++) {
    char p[160];
    snprintf(p, sizeof(p), "%s/%s", t.dir, files[i]);
    unlink(p);
  }
  rmdir(t.dir);
  return rc == 0 ? 0 : -1;
}

/* ---- JSON messages --------------------------------------------------------- */

/* Sends j (consumed) as one text message. */
static void send_json(struct tclient *cl, json_t *j) {
  assert_non_null(j);
  char *s = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  assert_non_null(s);
  tclient_send_text(cl, s);
  free(s);
}

/* The next message, which must be a JSON object with a string type (caller
 * json_decref()s). */
static json_t *recv_msg(struct tclient *cl) {
  struct tframe f;
  tclient_read_frame(cl, &f);
  if (f.opcode != WS_OP_TEXT)
    fail_msg("expected a text frame, got opcode %d (%zu bytes)", f.opcode, f.len);
  json_error_t err;
  json_t *j = json_loadb((const char *)f.payload, f.len, 0, &err);
  if (j == NULL || !json_is_object(j) || !json_is_string(json_object_get(j, "type")))
    fail_msg("not a typed JSON object: %s", (const char *)f.payload);
  free(f.payload);
  return j;
}

static const char *str(json_t *j, const char *key) {
  json_t *v = json_object_get(j, key);
  if (!json_is_string(v))
    fail_msg("member %s is not a string", key);
  return json_string_value(v);
}

static json_int_t num(json_t *j, const char *key) {
  json_t *v = json_object_get(j, key);
  if (!json_is_integer(v))
    fail_msg("member %s is not an integer", key);
  return json_integer_value(v);
}

/* The next message must have this type (caller json_decref()s). */
static json_t *expect_msg(struct tclient *cl, const char *type) {
  json_t *j = recv_msg(cl);
  if (strcmp(str(j, "type"), type) != 0) {
    char *s = json_dumps(j, JSON_COMPACT);
    print_error("expected \"%s\", got %s\n", type, s);
    free(s);
    json_decref(j);
    fail();
  }
  return j;
}

/* The next message must be this error, with this ref. */
static void expect_error(struct tclient *cl, const char *code, const char *ref) {
  json_t *j = expect_msg(cl, "error");
  if (strcmp(str(j, "code"), code) != 0 || strcmp(str(j, "ref"), ref) != 0) {
    print_error("expected error %s (ref \"%s\"), got %s (ref \"%s\")\n", code, ref, str(j, "code"),
                str(j, "ref"));
    json_decref(j);
    fail();
  }
  assert_true(strlen(str(j, "message")) > 0); /* text for a person */
  json_decref(j);
}

/* Nothing more arrived (after the loop has run everything it had). */
static void expect_nothing(struct tclient *cl) {
  harness_settle();
  if (cl->len != 0)
    fail_msg("unexpected %zu bytes: %.*s", cl->len, (int)(cl->len > 200 ? 200 : cl->len),
             (const char *)cl->buf + 2);
  assert_false(cl->eof || cl->reset);
}

/* The connection is open and serving: a request gets its answer. */
static void expect_open(struct tclient *cl) {
  send_json(cl, json_pack("{s:s}", "type", "nonsense.ping"));
  expect_error(cl, "unknown_type", "nonsense.ping");
}

/* The Origin and session cookie of user u's upgrade, as header lines. */
static void upgrade_headers(int u, char *out, size_t size) {
  snprintf(out, size, "Origin: " ORIGIN "\r\nCookie: theme=dark; onair_session=%s\r\n",
           t.tokens[u]);
}

/* Connects as user u, reads the 101 and the hello (its peer id kept in
 * cl->note). */
static struct tclient *live_open(int u) {
  struct tclient *cl = tclient_open(t.port);
  char extra[256];
  struct tresp r;
  upgrade_headers(u, extra, sizeof(extra));
  if (tclient_ws_upgrade(cl, HOST, extra, &r) != 101)
    fail_msg("upgrade for %s: status %d %s", user_names[u], r.status, r.body);
  json_t *hello = expect_msg(cl, "hello");
  assert_string_equal(str(hello, "user"), user_names[u]);
  snprintf(cl->note, sizeof(cl->note), "%s", str(hello, "peer"));
  json_decref(hello);
  return cl;
}

/* Goes live as the user of cl; returns after live.started. */
static void go_live(struct tclient *cl, const char *title) {
  if (title)
    send_json(cl, json_pack("{s:s, s:s}", "type", "live.start", "title", title));
  else
    send_json(cl, json_pack("{s:s}", "type", "live.start"));
  json_t *j = expect_msg(cl, "live.started");
  json_decref(j);
}

/* v joins room; v gets room.joined then room.viewers, the broadcaster bc
 * viewer.joined then room.viewers. */
static void join(struct tclient *v, struct tclient *bc, const char *room) {
  send_json(v, json_pack("{s:s, s:s}", "type", "room.join", "room", room));
  json_t *j = expect_msg(v, "room.joined");
  json_decref(j);
  json_decref(expect_msg(v, "room.viewers"));
  json_decref(expect_msg(bc, "viewer.joined"));
  json_decref(expect_msg(bc, "room.viewers"));
}

static void chat(struct tclient *cl, const char *room, const char *text) {
  send_json(cl, json_pack("{s:s, s:s, s:s}", "type", "chat.send", "room", room, "text", text));
}

/* live.c holds no client and has no coalesced update pending (one would
 * reach the next test's watchers). */
static int cond_idle(void *arg) {
  (void)arg;
  return t.app.peers.count == 0 && !uv_is_active((uv_handle_t *)&t.app.rooms_timer) &&
         !uv_is_active((uv_handle_t *)&t.app.viewers_timer);
}

/* ---- fixtures ------------------------------------------------------------ */

static int setup(void **state) {
  (void)state;
  return 0;
}

/* Closes what a test left open and checks that live.c forgot every client:
 * no peers, no rooms, no watchers. */
static int teardown(void **state) {
  (void)state;
  tclient_close_all();
  assert_true(harness_wait_until(cond_idle, NULL));
  assert_int_equal(t.app.peers.count, 0);
  assert_int_equal(rooms_count(&t.app.rooms), 0);
  assert_null(t.app.watchers);
  return 0;
}

/* ---- tests ---------------------------------------------------------------- */

/* hello is the first message, names the session's user and a peer id of
 * this connection ("p" and the connection's number), and live.c holds one
 * peer per connection. */
static void test_hello_first(void **state) {
  (void)state;
  struct tclient *a1 = live_open(ALICE);
  struct tclient *a2 = live_open(ALICE);
  struct tclient *b = live_open(BOB);
  assert_int_equal(a1->note[0], 'p');
  assert_true(strlen(a1->note) > 1);
  assert_true(strspn(a1->note + 1, "0123456789") == strlen(a1->note) - 1);
  /* Every connection is its own peer, even for the same user. */
  assert_string_not_equal(a1->note, a2->note);
  assert_string_not_equal(a1->note, b->note);
  assert_int_equal(t.app.peers.count, 3);
  expect_nothing(a1);
  expect_nothing(b);
}

/* A message pipelined with the upgrade request is answered after hello:
 * hello is the first message on every connection. */
static void test_hello_before_pipelined_reply(void **state) {
  (void)state;
  struct tclient *cl = tclient_open(t.port);
  char extra[256];
  uint8_t buf[1024];
  upgrade_headers(BOB, extra, sizeof(extra));
  size_t n = harness_ws_request((char *)buf, sizeof(buf), HOST, extra);
  static const char watch[] = "{\"type\":\"rooms.watch\"}";
  n += tframe_build(buf + n, sizeof(buf) - n, 0x81, watch, strlen(watch));
  tclient_send(cl, buf, n);
  struct tresp r;
  tclient_read_response(cl, &r);
  assert_int_equal(r.status, 101);
  json_decref(expect_msg(cl, "hello"));
  json_decref(expect_msg(cl, "rooms"));
}

/* Refused upgrades make no client. End to end (websocket.test.js,
 * "upgrade"): no cookie and an unknown session (401 signed_out), no or a
 * foreign Origin (403), a bad version (426 naming 13). Here: a session
 * cookie that is no token, an Origin that is ours with a path, and the
 * codes of the 403 and the 426 (the suite checks their status only). */
static void test_upgrade_refusals(void **state) {
  (void)state;
  char good_cookie[64];
  snprintf(good_cookie, sizeof(good_cookie), "Cookie: onair_session=%s\r\n", t.tokens[BOB]);
  static const char base[] = "Host: " HOST "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Key: " HARNESS_WS_KEY "\r\n";
  const struct {
    const char *what;
    const char *version;
    const char *origin; /* a header line */
    const char *cookie; /* a header line */
    int status;
    const char *error;
  } cases[] = {
      {"malformed session", "13", "Origin: " ORIGIN "\r\n", "Cookie: onair_session=x\r\n", 401,
       "signed_out"},
      {"origin with a path", "13", "Origin: " ORIGIN "/x\r\n", good_cookie, 403, "bad_origin"},
      {"version 12", "12", "Origin: " ORIGIN "\r\n", good_cookie, 426, "bad_upgrade"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char req[1024];
    int n =
        snprintf(req, sizeof(req), "GET /ws HTTP/1.1\r\n%sSec-WebSocket-Version: %s\r\n%s%s\r\n",
                 base, cases[i].version, cases[i].origin, cases[i].cookie);
    struct tclient *cl = tclient_open(t.port);
    tclient_send(cl, req, (size_t)n);
    struct tresp r;
    tclient_read_response(cl, &r);
    char want[64];
    snprintf(want, sizeof(want), "\"error\":\"%s\"", cases[i].error);
    if (r.status != cases[i].status || strstr(r.body, want) == NULL) {
      print_error("%s: %d %s, want %d %s\n", cases[i].what, r.status, r.body, cases[i].status,
                  cases[i].error);
      fail();
    }
    assert_false(tresp_has(&r, "Sec-WebSocket-Accept"));
    assert_int_equal(t.app.peers.count, 0); /* no client was made */
    tclient_close(cl);
    harness_settle();
  }
}

/* live.start opens the broadcaster's room in the registry; again while live
 * only the title changes (the suite only goes live once per connection). */
static void test_live_start(void **state) {
  (void)state;
  struct tclient *a = live_open(ALICE);
  send_json(a, json_pack("{s:s, s:s}", "type", "live.start", "title", "Morning coffee"));
  json_t *j = expect_msg(a, "live.started");
  assert_string_equal(str(j, "room"), "alice");
  assert_true(json_is_array(json_object_get(j, "history")));
  json_decref(j);
  struct room *room = rooms_find(&t.app.rooms, "alice", 5);
  assert_non_null(room);
  assert_string_equal(room->title, "Morning coffee");
  assert_int_equal(room->owner_id, t.ids[ALICE]);
  /* Again while live: only the title changes. */
  send_json(a, json_pack("{s:s, s:s}", "type", "live.start", "title", "Second cup"));
  j = expect_msg(a, "live.started");
  assert_string_equal(str(j, "room"), "alice");
  json_decref(j);
  assert_int_equal(rooms_count(&t.app.rooms), 1);
  assert_string_equal(rooms_find(&t.app.rooms, "alice", 5)->title, "Second cup");
  expect_nothing(a);
}

/* Titles: one line of at most 100 characters; blank means none. End to end
 * (websocket.test.js, "room titles"): 101 characters, a newline, a control
 * character and a number refused with nothing live, 100 characters taken.
 * Here: the refusals the suite does not send, and what a start while live
 * does to the title (blank or none keeps it). */
static void test_live_start_title(void **state) {
  (void)state;
  const struct {
    const char *what;
    json_t *title; /* NULL: no title member */
    const char *error;
    const char *want_title; /* the room's title afterwards */
  } cases[] = {
      {"C1 control", json_string("next\xc2\x85line"), "bad_message", NULL},
      {"null", json_null(), "bad_message", NULL},
      {"a title", json_string("First title"), NULL, "First title"},
      {"blank keeps the title", json_string("   "), NULL, "First title"},
      {"none keeps the title", NULL, NULL, "First title"},
      {"a tab is fine", json_string("a\tb"), NULL, "a\tb"},
  };
  struct tclient *c = live_open(CAROL);
  int live = 0;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *m = json_pack("{s:s}", "type", "live.start");
    if (cases[i].title)
      json_object_set_new(m, "title", cases[i].title);
    send_json(c, m);
    json_t *j = recv_msg(c);
    const char *type = str(j, "type");
    if (cases[i].error) {
      if (strcmp(type, "error") != 0 || strcmp(str(j, "code"), cases[i].error) != 0) {
        print_error("%s: got %s, want error %s\n", cases[i].what, type, cases[i].error);
        fail();
      }
      assert_string_equal(str(j, "ref"), "live.start");
    } else {
      if (strcmp(type, "live.started") != 0) {
        print_error("%s: got %s %s\n", cases[i].what, type,
                    json_is_string(json_object_get(j, "code")) ? str(j, "code") : "");
        fail();
      }
      live = 1;
      struct room *room = rooms_find(&t.app.rooms, "carol", 5);
      assert_non_null(room);
      assert_string_equal(room->title, cases[i].want_title);
    }
    json_decref(j);
    if (!live) /* a refused first start opened nothing */
      assert_null(rooms_find(&t.app.rooms, "carol", 5));
  }
  expect_nothing(c);
}

/* room.join and room.leave beyond the suite's. End to end (websocket.test.js
 * "room life" and "message errors", tutorial_defects.test.js): no_such_room,
 * bad_message (its code), the fields of room.joined and viewer.joined, the
 * counts, and room.leave outside a room. Here: bad_message's ref, a room
 * named in another case, room.joined without a media plane, joins refused
 * while in a room, the broadcaster told of a room.leave, and a broadcaster
 * that cannot leave its own room. */
static void test_room_join(void **state) {
  (void)state;
  struct tclient *a = live_open(ALICE);
  struct tclient *b = live_open(BOB);
  send_json(b, json_pack("{s:s}", "type", "room.join"));
  expect_error(b, "bad_message", "room.join");
  go_live(a, "Live!");
  send_json(a, json_pack("{s:s, s:s}", "type", "room.join", "room", "bob"));
  expect_error(a, "already_in_room", "room.join");
  /* Names compare case-insensitively. */
  send_json(b, json_pack("{s:s, s:s}", "type", "room.join", "room", "ALICE"));
  json_t *j = expect_msg(b, "room.joined");
  assert_string_equal(str(j, "room"), "alice");
  assert_true(json_is_false(json_object_get(j, "media_ready"))); /* no media plane here */
  json_decref(j);
  json_decref(expect_msg(b, "room.viewers"));
  json_decref(expect_msg(a, "viewer.joined"));
  json_decref(expect_msg(a, "room.viewers"));
  send_json(b, json_pack("{s:s, s:s}", "type", "room.join", "room", "alice"));
  expect_error(b, "already_in_room", "room.join");

  send_json(b, json_pack("{s:s}", "type", "room.leave"));
  json_decref(expect_msg(b, "room.left"));
  j = expect_msg(a, "viewer.left");
  assert_string_equal(str(j, "peer"), b->note);
  json_decref(j);
  j = expect_msg(a, "room.viewers");
  assert_int_equal(num(j, "viewers"), 0);
  json_decref(j);
  assert_int_equal(rooms_find(&t.app.rooms, "alice", 5)->nviewers, 0);
  send_json(a, json_pack("{s:s}", "type", "room.leave"));
  expect_error(a, "not_in_room", "room.leave"); /* a broadcaster does not leave */
  expect_nothing(a);
  expect_nothing(b);
}

/* Past max_viewers a join is refused (the suite runs with the default cap,
 * which it never reaches). */
static void test_room_full(void **state) {
  (void)state;
  struct tclient *a = live_open(ALICE);
  go_live(a, NULL);
  struct tclient *v[MAX_VIEWERS];
  for (int i = 0; i < MAX_VIEWERS; i++) {
    v[i] = live_open(BOB + i);
    join(v[i], a, "alice");
    for (int k = 0; k < i; k++) /* earlier viewers hear the count */
      json_decref(expect_msg(v[k], "room.viewers"));
  }
  struct tclient *late = live_open(BOB + MAX_VIEWERS);
  send_json(late, json_pack("{s:s, s:s}", "type", "room.join", "room", "alice"));
  expect_error(late, "room_full", "room.join");
  expect_nothing(a);
  assert_int_equal(rooms_find(&t.app.rooms, "alice", 5)->nviewers, MAX_VIEWERS);
}

/* chat.send beyond the suite's. End to end (websocket.test.js "chat",
 * tutorial_defects.test.js): membership, unknown rooms, the 500-character
 * limit, blank text, control characters refused (its code not pinned),
 * history. Here: the codes for control characters, DEL, C1 and escapes, a
 * text that is missing or not a string, tab and newline delivered, one id
 * for everyone, and a room named in another case. */
static void test_chat(void **state) {
  (void)state;
  struct tclient *bc = live_open(DAVE);
  struct tclient *v = live_open(ERIN);
  go_live(bc, "chat room");
  join(v, bc, "dave");
  send_json(v, json_pack("{s:s, s:s}", "type", "chat.send", "room", "dave"));
  expect_error(v, "bad_message", "chat.send");
  send_json(v, json_pack("{s:s, s:s, s:b}", "type", "chat.send", "room", "dave", "text", 1));
  expect_error(v, "bad_message", "chat.send");

  const struct {
    const char *what;
    const char *text;
    const char *error; /* NULL: delivered */
  } cases[] = {
      {"plain", "hi there", NULL},
      {"control character", "a\x01z", "bad_message"},
      {"DEL", "a\x7fz", "bad_message"},
      {"C1 control", "a\xc2\x85z", "bad_message"},
      {"escape", "\x1b[31mred", "bad_message"},
      {"tab and newline", "line one\n\tline two", NULL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    chat(v, "dave", cases[i].text);
    if (cases[i].error) {
      json_t *j = recv_msg(v);
      if (strcmp(str(j, "type"), "error") != 0 || strcmp(str(j, "code"), cases[i].error) != 0) {
        print_error("%s: got %s, want %s\n", cases[i].what, str(j, "type"), cases[i].error);
        fail();
      }
      assert_string_equal(str(j, "ref"), "chat.send");
      json_decref(j);
      continue;
    }
    /* Everyone in the room gets the same chat, the sender included. */
    struct tclient *who[2] = {v, bc};
    json_int_t id = -1;
    for (int k = 0; k < 2; k++) {
      json_t *j = expect_msg(who[k], "chat");
      assert_string_equal(str(j, "room"), "dave");
      assert_string_equal(str(j, "user"), "erin");
      assert_string_equal(str(j, "text"), cases[i].text);
      if (k == 0)
        id = num(j, "id");
      else
        assert_int_equal(num(j, "id"), id);
      json_decref(j);
    }
  }
  /* A room name in another case is the same room. */
  chat(bc, "DAVE", "from the host");
  json_t *j = expect_msg(bc, "chat");
  assert_string_equal(str(j, "room"), "dave");
  assert_string_equal(str(j, "user"), "dave");
  json_decref(j);
  json_decref(expect_msg(v, "chat"));
  expect_nothing(v);
}

/* The chat burst (5 here). End to end (websocket.test.js, "rate limit"):
 * the burst, rate_limited, the limit per user across connections, the
 * refill. Here: a refused message costs nothing, and one user's limit is
 * not another's. */
static void test_rate_limit(void **state) {
  (void)state;
  struct tclient *bc = live_open(GRACE);
  struct tclient *v = live_open(HEIDI);
  go_live(bc, NULL);
  join(v, bc, "grace");
  for (int i = 0; i < 3; i++) { /* refused: not counted */
    chat(v, "grace", " ");
    expect_error(v, "empty", "chat.send");
  }
  for (int i = 0; i < 5; i++) {
    char text[16];
    snprintf(text, sizeof(text), "msg %d", i);
    chat(v, "grace", text);
    for (int k = 0; k < 2; k++) {
      json_t *j = expect_msg(k ? bc : v, "chat");
      assert_string_equal(str(j, "text"), text);
      json_decref(j);
    }
  }
  chat(v, "grace", "one too many");
  expect_error(v, "rate_limited", "chat.send");
  /* Another user still may. */
  chat(bc, "grace", "host speaking");
  json_t *j = expect_msg(v, "chat");
  assert_string_equal(str(j, "user"), "grace");
  json_decref(j);
  json_decref(expect_msg(bc, "chat"));
  expect_nothing(v);
}

/* Messages that are not what the protocol says get an error with the
 * message's type as ref ("" when it has none) and the connection stays
 * open. End to end (websocket.test.js, "message errors"): text that is no
 * JSON, arrays, a bare string, a duplicate type, {}, a numeric type, an
 * unknown type and its ref. */
static void test_bad_messages(void **state) {
  (void)state;
  static const struct {
    const char *text;
    const char *code;
    const char *ref;
  } cases[] = {
      {"42", "bad_json", ""},
      {"null", "bad_json", ""},
      {"", "bad_json", ""},
      {"{\"type\":\"chat.send\"} trailing", "bad_json", ""},
      {"{\"type\":\"LIVE.START\"}", "unknown_type", "LIVE.START"},
      {"{\"type\":\"\"}", "unknown_type", ""},
      {"{\"type\":null}", "bad_message", ""},
      {"{\"kind\":\"live.start\"}", "bad_message", ""},
  };
  struct tclient *cl = live_open(IVAN);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    tclient_send_text(cl, cases[i].text);
    json_t *j = expect_msg(cl, "error");
    if (strcmp(str(j, "code"), cases[i].code) != 0 || strcmp(str(j, "ref"), cases[i].ref) != 0) {
      print_error("%s: got %s ref \"%s\", want %s ref \"%s\"\n", cases[i].text, str(j, "code"),
                  str(j, "ref"), cases[i].code, cases[i].ref);
      fail();
    }
    json_decref(j);
  }
  expect_open(cl);
  expect_nothing(cl);
}

/* media.offer's errors that need no media plane (app.sfu is NULL here). End
 * to end (websocket.test.js, "no peer-to-peer relay"): no sdp, and a bad
 * one from a viewer. */
static void test_media_offer_errors(void **state) {
  (void)state;
  struct tclient *cl = live_open(IVAN);
  send_json(cl, json_pack("{s:s, s:i}", "type", "media.offer", "sdp", 5));
  expect_error(cl, "bad_message", "media.offer");
  send_json(cl, json_pack("{s:s, s:s}", "type", "media.offer", "sdp", "v=0\r\n"));
  expect_error(cl, "not_in_room", "media.offer");
  expect_nothing(cl);
}

/* The next rooms message whose list has n rooms (earlier ones, coalesced or
 * not, are skipped); returns it. */
static json_t *expect_rooms(struct tclient *cl, size_t n) {
  for (int i = 0; i < 10; i++) {
    json_t *j = expect_msg(cl, "rooms");
    json_t *list = json_object_get(j, "rooms");
    assert_true(json_is_array(list));
    if (json_array_size(list) == n)
      return j;
    json_decref(j);
  }
  fail_msg("no rooms message with %zu rooms", n);
  return NULL;
}

/* The broadcaster goes away: the room leaves the registry and its viewers
 * are in no room (leaving is refused) and can join another. End to end
 * (tutorial_defects.test.js, "an abrupt disconnect ends exactly that
 * room"): room.ended, the room list, chat in the ended room refused. */
static void test_broadcaster_disconnect(void **state) {
  (void)state;
  struct tclient *a = live_open(ALICE);
  struct tclient *b = live_open(BOB);
  struct tclient *c = live_open(CAROL);
  go_live(a, NULL);
  join(b, a, "alice");
  join(c, a, "alice");
  json_decref(expect_msg(b, "room.viewers"));

  tclient_close(a); /* the tab is gone, no close frame */
  for (int k = 0; k < 2; k++) {
    json_t *j = expect_msg(k ? c : b, "room.ended");
    assert_string_equal(str(j, "room"), "alice");
    json_decref(j);
  }
  assert_int_equal(rooms_count(&t.app.rooms), 0);
  char *list = live_rooms_json(&t.app);
  assert_string_equal(list, "{\"type\":\"rooms\",\"rooms\":[]}");
  free(list);
  send_json(b, json_pack("{s:s}", "type", "room.leave"));
  expect_error(b, "not_in_room", "room.leave");
  go_live(b, NULL);
  join(c, b, "bob");
  expect_nothing(c);
}

/* With a grace period, a dropped broadcaster's room waits: its viewers hear
 * room.reconnecting and stay (chat goes on, media waits), the room list
 * says "reconnecting", and live.resume from the broadcaster's new
 * connection takes the same room back (live.started "resumed", the title
 * and viewers kept; viewers get room.resumed naming the new peer). When
 * the grace period runs out the room ends and live.resume is refused. */
static void test_broadcaster_reconnects(void **state) {
  (void)state;
  t.cfg.reconnect_grace_ms = 60000;
  struct tclient *a = live_open(ALICE);
  struct tclient *b = live_open(BOB);
  go_live(a, "Resume me");
  join(b, a, "alice");
  tclient_close(a); /* the network dropped: no close frame */
  json_t *j = expect_msg(b, "room.reconnecting");
  assert_string_equal(str(j, "room"), "alice");
  assert_int_equal(num(j, "grace_ms"), 60000);
  json_decref(j);
  char *list = live_rooms_json(&t.app);
  assert_non_null(strstr(list, "\"state\":\"reconnecting\""));
  free(list);
  chat(b, "alice", "still here?");
  json_decref(expect_msg(b, "chat"));
  send_json(b, json_pack("{s:s, s:s}", "type", "media.offer", "sdp", "v=0"));
  expect_error(b, "not_ready", "media.offer");

  struct tclient *a2 = live_open(ALICE);
  send_json(a2, json_pack("{s:s}", "type", "live.resume"));
  j = expect_msg(a2, "live.started");
  assert_true(json_is_true(json_object_get(j, "resumed")));
  assert_string_equal(str(j, "title"), "Resume me");
  assert_int_equal(num(j, "viewers"), 1);
  assert_int_equal(json_array_size(json_object_get(j, "history")), 1);
  json_decref(j);
  j = expect_msg(b, "room.resumed");
  assert_string_equal(str(j, "broadcaster_peer"), a2->note);
  json_decref(j);
  list = live_rooms_json(&t.app);
  assert_non_null(strstr(list, "\"state\":\"live\""));
  free(list);

  t.cfg.reconnect_grace_ms = 50;
  tclient_close(a2);
  json_decref(expect_msg(b, "room.reconnecting"));
  json_decref(expect_msg(b, "room.ended")); /* nobody came back in time */
  assert_null(rooms_find(&t.app.rooms, "alice", 5));
  struct tclient *a3 = live_open(ALICE);
  send_json(a3, json_pack("{s:s}", "type", "live.resume"));
  expect_error(a3, "no_such_room", "live.resume");
  t.cfg.reconnect_grace_ms = 0;
}

/* live.end: a room named in it is ignored, the broadcaster gets live.ended
 * (reason "ended") and its viewers room.ended, the room leaves the
 * registry, and the broadcaster is one no more. End to end
 * (tutorial_defects.test.js, "only the broadcaster can end a broadcast"):
 * live.end refused to others. */
static void test_live_end(void **state) {
  (void)state;
  struct tclient *a = live_open(ALICE);
  struct tclient *b = live_open(BOB);
  go_live(a, NULL);
  join(b, a, "alice");
  assert_non_null(rooms_find(&t.app.rooms, "alice", 5));
  send_json(a, json_pack("{s:s, s:s}", "type", "live.end", "room", "bob")); /* room ignored */
  json_t *j = expect_msg(a, "live.ended");
  assert_string_equal(str(j, "room"), "alice");
  assert_string_equal(str(j, "reason"), "ended");
  json_decref(j);
  j = expect_msg(b, "room.ended");
  assert_string_equal(str(j, "room"), "alice");
  json_decref(j);
  assert_null(rooms_find(&t.app.rooms, "alice", 5));
  send_json(a, json_pack("{s:s}", "type", "live.end"));
  expect_error(a, "not_broadcaster", "live.end");
  expect_nothing(b);
}

/* Going live from a second tab ends the first tab's broadcast. End to end
 * (websocket.test.js, "going live again on another connection replaces the
 * old one"): live.ended "replaced", room.ended, the new tab's live.started.
 * Here: the registry's room afterwards (new title, no viewers) and the old
 * tab no longer a broadcaster. */
static void test_live_replaced(void **state) {
  (void)state;
  struct tclient *old = live_open(ALICE);
  struct tclient *b = live_open(BOB);
  struct tclient *tab = live_open(ALICE);
  go_live(old, "first tab");
  join(b, old, "alice");
  send_json(tab, json_pack("{s:s, s:s}", "type", "live.start", "title", "second tab"));
  json_t *j = expect_msg(old, "live.ended");
  assert_string_equal(str(j, "reason"), "replaced");
  json_decref(j);
  json_decref(expect_msg(b, "room.ended"));
  json_decref(expect_msg(tab, "live.started"));
  struct room *room = rooms_find(&t.app.rooms, "alice", 5);
  assert_non_null(room);
  assert_string_equal(room->title, "second tab");
  assert_int_equal(room->nviewers, 0);
  send_json(old, json_pack("{s:s}", "type", "live.end"));
  expect_error(old, "not_broadcaster", "live.end");
}

/* rooms.watch: the list at once, then after each change, coalesced. End to
 * end (websocket.test.js, "dashboard watch"): the first list, its fields,
 * updates on a join, a new and an ended room, at most one list per 100 ms.
 * Here: changes made in one turn of the loop (a leave and a new title)
 * come as one list and one room.viewers, and a second watch does not
 * subscribe twice. */
static void test_rooms_watch(void **state) {
  (void)state;
  struct tclient *w = live_open(DAVE);
  struct tclient *a = live_open(ALICE);
  struct tclient *b = live_open(BOB);
  send_json(w, json_pack("{s:s}", "type", "rooms.watch"));
  json_decref(expect_rooms(w, 0));
  expect_nothing(w);
  go_live(a, "Watch me");
  json_decref(expect_rooms(w, 1));
  join(b, a, "alice");
  json_t *j = expect_msg(w, "rooms");
  json_t *r = json_array_get(json_object_get(j, "rooms"), 0);
  assert_int_equal(num(r, "viewers"), 1);
  json_decref(j);
  /* Several changes in a row come as one message. */
  static const char leave[] = "{\"type\":\"room.leave\"}";
  static const char retitle[] = "{\"type\":\"live.start\",\"title\":\"New title\"}";
  uint8_t buf[256];
  size_t n = tframe_build(buf, sizeof(buf), 0x81, leave, strlen(leave));
  tclient_send(b, buf, n); /* these two are handled in the same loop turn */
  n = tframe_build(buf, sizeof(buf), 0x81, retitle, strlen(retitle));
  tclient_send(a, buf, n);
  json_decref(expect_msg(b, "room.left"));
  json_decref(expect_msg(a, "viewer.left"));
  json_decref(expect_msg(a, "live.started"));
  json_decref(expect_msg(a, "room.viewers")); /* coalesced: within 100 ms */
  j = expect_msg(w, "rooms");
  r = json_array_get(json_object_get(j, "rooms"), 0);
  assert_int_equal(num(r, "viewers"), 0);
  assert_string_equal(str(r, "title"), "New title");
  json_decref(j);
  expect_nothing(w);
  expect_nothing(a);
  /* A second watch is answered, and does not subscribe twice. */
  send_json(w, json_pack("{s:s}", "type", "rooms.watch"));
  json_decref(expect_rooms(w, 1));
  send_json(a, json_pack("{s:s}", "type", "live.end"));
  json_decref(expect_msg(a, "live.ended"));
  json_decref(expect_rooms(w, 0));
  expect_nothing(w);
}

/* Signing out closes that session's WebSockets with 1008. End to end
 * (tutorial_defects.test.js, "sign-out is POST with an Origin check"): the
 * one WebSocket of the session closed 1008 "signed out". Here: every
 * WebSocket of that session closes, and another session of the same user
 * stays open. */
static void test_signout_closes(void **state) {
  (void)state;
  char token[SESSION_TOKEN_LEN + 1];
  assert_int_equal(session_create(t.db, t.ids[JUDY], t.cfg.session_ttl_ms, token), 0);
  char saved[SESSION_TOKEN_LEN + 1];
  memcpy(saved, t.tokens[JUDY], sizeof(saved));
  memcpy(t.tokens[JUDY], token, sizeof(token));
  struct tclient *ws1 = live_open(JUDY);
  struct tclient *ws2 = live_open(JUDY);
  memcpy(t.tokens[JUDY], saved, sizeof(saved));
  struct tclient *other = live_open(JUDY); /* another session of the same user */
  struct tclient *h = tclient_open(t.port);
  char req[512];
  int n = snprintf(req, sizeof(req),
                   "POST /api/signout HTTP/1.1\r\nHost: " HOST "\r\nOrigin: " ORIGIN "\r\n"
                   "Cookie: onair_session=%s\r\nContent-Length: 0\r\n\r\n",
                   token);
  tclient_send(h, req, (size_t)n);
  struct tresp r;
  tclient_read_response(h, &r);
  assert_int_equal(r.status, 204);
  for (int k = 0; k < 2; k++) {
    struct tclient *ws = k ? ws2 : ws1;
    struct tframe f;
    tclient_read_frame(ws, &f);
    assert_int_equal(tframe_close_code(&f), WS_CLOSE_POLICY);
    assert_memory_equal(f.payload + 2, "signed out", f.len - 2);
    free(f.payload);
    tclient_expect_closed(ws);
  }
  expect_open(other);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_hello_first, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hello_before_pipelined_reply, setup, teardown),
      cmocka_unit_test_setup_teardown(test_upgrade_refusals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_live_start, setup, teardown),
      cmocka_unit_test_setup_teardown(test_live_start_title, setup, teardown),
      cmocka_unit_test_setup_teardown(test_room_join, setup, teardown),
      cmocka_unit_test_setup_teardown(test_room_full, setup, teardown),
      cmocka_unit_test_setup_teardown(test_chat, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_messages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_media_offer_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_broadcaster_disconnect, setup, teardown),
      cmocka_unit_test_setup_teardown(test_broadcaster_reconnects, setup, teardown),
      cmocka_unit_test_setup_teardown(test_live_end, setup, teardown),
      cmocka_unit_test_setup_teardown(test_live_replaced, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rooms_watch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_signout_closes, setup, teardown),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
