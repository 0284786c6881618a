/* The rig of the relay tests (test_sfu_relay.c, test_sfu_relay_ends.c;
 * src/media/relay.c, docs/media.md "Relay between nodes"): real struct
 * sfu's on one loop, each with its own UDP port on 127.0.0.1 (the origin
 * and two edges), and the "browsers" of sfu_browser.h (real DTLS and SRTP):
 * a publisher on the origin, viewers on the edges. Once connected, a
 * browser is taken out of sfu_browser.h's table and read here, where what
 * it receives is decrypted and each payload checked byte for byte against
 * what a publisher sent. Some links go through a UDP proxy in the test
 * (two sockets on the loop) that can drop, count and cut the link's
 * packets. A test includes this after cmocka.h and uses one of the
 * setup_* functions and teardown_nodes as its fixtures. */
#ifndef ONAIR_TEST_RELAY_RIG_H
#define ONAIR_TEST_RELAY_RIG_H

#include <inttypes.h>
#include <sodium.h>

#include "media/relay_desc.h"
#include "media/rtcp.h"
#include "media/rtp.h"
#include "sfu_browser.h"
#include "util/be.h"

/* Not every test uses every helper. */
#pragma GCC diagnostic ignored "-Wunused-function"

enum { ORIGIN, EDGE, EDGE2, NODES };

#define PAY 240         /* bytes of a test packet's payload */
#define PAY_ID_AT 11    /* its id: after a VP8 descriptor and frame header */
#define MAX_IDS 4096    /* packets a test publishes */
#define MAX_PEERS 32    /* browsers taken out of sfu_browser.h's table */
#define RID_EXT 10      /* chromium_publisher.sdp's RID header extension id */
#define EDGE_VIEWERS 20 /* the fan-out test's viewers on the edge */
#define SHORT_CONSENT_MS 1000

/* ---- what publishers sent ------------------------------------------------- */

enum { SENT_KEY = 1, SENT_AUDIO = 2 };

static struct {
  uint32_t next;           /* ids handed out */
  uint8_t flags[MAX_IDS];  /* SENT_* */
  uint8_t source[MAX_IDS]; /* which publisher (the test's number) */
  uint8_t layer[MAX_IDS];  /* which simulcast layer */
} sent;

/* Packet id's payload: a VP8 keyframe's or interframe's first bytes (or
 * audio's), the id, then bytes that follow from the id. */
static size_t payload_make(uint32_t id, uint8_t *out) {
  static const uint8_t key[] = {0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00};
  static const uint8_t inter[PAY_ID_AT] = {0x10, 0x01};
  static const uint8_t audio[PAY_ID_AT] = {0xaa, 0xaa};
  memcpy(out,
         sent.flags[id] & SENT_AUDIO ? audio
         : sent.flags[id] & SENT_KEY ? key
                                     : inter,
         PAY_ID_AT);
  out[PAY_ID_AT] = (uint8_t)(id >> 24);
  out[PAY_ID_AT + 1] = (uint8_t)(id >> 16);
  out[PAY_ID_AT + 2] = (uint8_t)(id >> 8);
  out[PAY_ID_AT + 3] = (uint8_t)id;
  for (size_t i = PAY_ID_AT + 4; i < PAY; i++)
    out[i] = (uint8_t)(id * 7 + i);
  return PAY;
}

/* One stream a test publisher sends. */
struct stream {
  uint32_t ssrc;
  uint8_t pt, source, layer;
  uint16_t seq;
  uint32_t ts;
  const char *rid; /* carried in the RID header extension, or NULL */
};

/* The RID header extension (one-byte form) at p; its length. */
static size_t rid_ext(uint8_t *p, const char *rid) {
  size_t n = strlen(rid), words = (1 + n + 3) / 4;
  p[0] = 0xbe, p[1] = 0xde, p[2] = 0, p[3] = (uint8_t)words;
  memset(p + 4, 0, words * 4);
  p[4] = (uint8_t)(RID_EXT << 4 | (n - 1));
  memcpy(p + 5, rid, n);
  return 4 + words * 4;
}

/* Sends st's next packet from b (a keyframe's first when key); its id. */
static uint32_t pub_send(struct browser *b, struct stream *st, int key) {
  uint8_t pkt[1500];
  uint32_t id = sent.next++;
  assert_true(id < MAX_IDS);
  sent.flags[id] = (uint8_t)((key ? SENT_KEY : 0) | (st->pt == 111 ? SENT_AUDIO : 0));
  sent.source[id] = st->source;
  sent.layer[id] = st->layer;
  pkt[0] = st->rid ? 0x90 : 0x80;
  pkt[1] = (uint8_t)(0x80 | st->pt); /* each video packet a whole frame */
  pkt[2] = (uint8_t)(st->seq >> 8), pkt[3] = (uint8_t)st->seq;
  pkt[4] = (uint8_t)(st->ts >> 24), pkt[5] = (uint8_t)(st->ts >> 16);
  pkt[6] = (uint8_t)(st->ts >> 8), pkt[7] = (uint8_t)st->ts;
  pkt[8] = (uint8_t)(st->ssrc >> 24), pkt[9] = (uint8_t)(st->ssrc >> 16);
  pkt[10] = (uint8_t)(st->ssrc >> 8), pkt[11] = (uint8_t)st->ssrc;
  size_t len = 12 + (st->rid ? rid_ext(pkt + 12, st->rid) : 0);
  len += payload_make(id, pkt + len);
  assert_int_equal(srtpctx_protect_rtp(b->srtp, pkt, &len, sizeof(pkt)), 0);
  browser_send(b, pkt, len);
  st->seq++;
  st->ts += st->pt == 111 ? 960 : 3000;
  return id;
}

/* ---- peers read here ----------------------------------------------------- */

/* A browser taken out of sfu_browser.h's table once connected. */
struct peer {
  struct browser *b;
  uint8_t got[MAX_IDS]; /* times each id came (decrypted and checked) */
  size_t nrtp;
  int bad;                  /* payloads that are no packet a publisher sent */
  uint32_t video_ssrc;      /* of its video (a viewer) */
  uint16_t video_seq;       /* the last one's number */
  uint16_t seq_of[MAX_IDS]; /* the number each video packet came with */
  int video_gaps;           /* video numbers that did not follow the one before */
  int plis;                 /* a publisher: PLIs or FIRs for one of its SSRCs */
  uint32_t pli_ssrc;        /* the SSRC the last one named */
};

static struct {
  struct sfu *sfu[NODES];
  unsigned workers;
  uint64_t consent_ms;
  const char *bind;      /* the nodes' media sockets' address */
  const char *link_host; /* the address links are given for the other node */
  struct peer *peers[MAX_PEERS];
  size_t npeers;
} t;

static void peer_rtp(struct peer *v, uint8_t *p, size_t len) {
  struct rtp_hdr h;
  uint8_t want[PAY];
  if (srtpctx_unprotect_rtp(v->b->srtp, p, &len) < 0 || rtp_parse(p, len, &h) < 0 ||
      h.payload_len == 0)
    return; /* a resend already taken (a replay to SRTP), or a probe's padding */
  uint32_t id = h.payload_len == PAY ? be_rd32(h.payload + PAY_ID_AT) : UINT32_MAX;
  if (id >= sent.next || payload_make(id, want) != h.payload_len ||
      memcmp(want, h.payload, PAY) != 0) {
    v->bad++;
    return;
  }
  if (v->got[id] < 255)
    v->got[id]++;
  v->nrtp++;
  if (sent.flags[id] & SENT_AUDIO)
    return;
  if (v->video_ssrc == h.ssrc && (uint16_t)(v->video_seq + 1) != h.seq)
    v->video_gaps++;
  if (v->got[id] > 1)
    return; /* a resend it had */
  v->video_ssrc = h.ssrc;
  v->video_seq = h.seq;
  v->seq_of[id] = h.seq;
}

static void peer_rtcp(struct peer *v, uint8_t *p, size_t len) {
  struct rtcp_iter it;
  struct rtcp_pkt pkt;
  struct rtcp_fb fb;
  if (srtpctx_unprotect_rtcp(v->b->srtp, p, &len) < 0)
    return;
  rtcp_iter_init(&it, p, len);
  while (rtcp_next(&it, &pkt) > 0) {
    if (pkt.type == RTCP_PSFB && (pkt.count == RTCP_PSFB_PLI || pkt.count == RTCP_PSFB_FIR) &&
        rtcp_parse_fb(&pkt, &fb) == 0) {
      v->plis++;
      v->pli_ssrc = fb.media_ssrc;
    }
  }
}

static void peer_poll(struct peer *v) {
  uint8_t buf[2048];
  ssize_t n;
  while ((n = recv(v->b->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
    if (buf[0] < 128 || buf[0] > 191)
      continue;
    if (rtp_is_rtcp(buf, (size_t)n))
      peer_rtcp(v, buf, (size_t)n);
    else
      peer_rtp(v, buf, (size_t)n);
  }
  if (v->b->keepalive && uv_now(&w.loop) - v->b->last_check_ms >= CHECK_EVERY_MS)
    browser_check(v->b);
}

static void poll_peers(void) {
  poll_all();
  for (size_t i = 0; i < t.npeers; i++)
    peer_poll(t.peers[i]);
}

struct cond {
  int (*fn)(void *arg);
  void *arg;
};

static int cond_run(void *arg) {
  struct cond *c = arg;
  poll_peers();
  return c->fn(c->arg);
}

static void wait_until(int (*fn)(void *), void *arg, const char *what) {
  struct cond c = {fn, arg};
  if (!harness_wait_until(cond_run, &c))
    fail_msg("timed out waiting for %s", what);
}

static uint64_t until_ms;
static int time_up(void *arg) { return uv_now(&w.loop) >= until_ms; }

static void run_ms(uint64_t ms) {
  until_ms = uv_now(&w.loop) + ms;
  wait_until(time_up, NULL, "time to pass");
}

/* A camera's spacing between packets: the loop runs what came, every peer
 * reads what it got. */
static void tick(void) {
  usleep(2000);
  harness_step();
  poll_peers();
}

/* Browser b (connected) is read here from now on. */
static struct peer *peer_take(struct browser *b) {
  struct peer *v = calloc(1, sizeof(*v));
  assert_non_null(v);
  assert_true(t.npeers < MAX_PEERS);
  v->b = b;
  w.b[browser_index(b)] = NULL;
  t.peers[t.npeers++] = v;
  b->keepalive = t.consent_ms < 30000;
  return v;
}

/* ---- nodes, rooms and owners --------------------------------------------- */

/* An owner of a room (or of a relay-in publisher). */
struct owner {
  struct sfu_owner o;
  int ready, closed;
  char why[SFU_WHY_MAX];
  unsigned mask; /* the last layers_wanted */
};

static void own_ready(struct sfu_owner *o) { container_of(o, struct owner, o)->ready++; }

static void own_closed(struct sfu_owner *o, const char *why) {
  struct owner *ow = container_of(o, struct owner, o);
  ow->closed++;
  snprintf(ow->why, sizeof(ow->why), "%s", why);
}

static void own_layers(struct sfu_owner *o, unsigned mask, unsigned layers) {
  container_of(o, struct owner, o)->mask = mask;
}

static const struct sfu_owner_ops own_ops = {
    .media_ready = own_ready, .peer_closed = own_closed, .layers_wanted = own_layers};

static struct owner owners[8];

static struct owner *owner_new(void) {
  for (size_t i = 0; i < sizeof(owners) / sizeof(owners[0]); i++) {
    if (owners[i].o.ops == NULL) {
      owners[i].o.ops = &own_ops;
      return &owners[i];
    }
  }
  fail_msg("too many owners");
  return NULL;
}

/* The browsers sfu_browser.h makes talk to w.sfu, in w.room. */
static void use(int node, struct sfu_room *room) {
  w.sfu = t.sfu[node];
  w.room = room;
}

static int setup_nodes(void **state) {
  memset(&w, 0, sizeof(w));
  memset(&sent, 0, sizeof(sent));
  memset(owners, 0, sizeof(owners));
  if (harness_init(&w.loop) != 0)
    return -1;
  for (int i = 0; i < NODES; i++) {
    struct sfu_config cfg = {
        .bind = t.bind, .announce = "127.0.0.1", .consent_ms = t.consent_ms, .workers = t.workers};
    if (sfu_new(&w.loop, &cfg, &t.sfu[i]) < 0)
      return -1;
  }
  return 0;
}

static int setup_with(unsigned workers, uint64_t consent_ms, const char *bind) {
  t.workers = workers;
  t.consent_ms = consent_ms;
  t.bind = bind;
  t.link_host = "127.0.0.1";
  return setup_nodes(NULL);
}

static int setup_plain(void **state) { return setup_with(0, 30000, "127.0.0.1"); }
static int setup_busy(void **state) { return setup_with(2, 30000, "127.0.0.1"); }
static int setup_short(void **state) { return setup_with(0, SHORT_CONSENT_MS, "127.0.0.1"); }
/* IPv6 sockets that take IPv4 too (bound to ::): an IPv4 node is v4-mapped. */
static int setup_dual(void **state) { return setup_with(1, 30000, "::"); }

static void proxy_close(void);

static int teardown_nodes(void **state) {
  for (size_t i = 0; i < t.npeers; i++) {
    w.b[browser_index(NULL)] = t.peers[i]->b; /* back in the table, to be freed there */
    browser_free(t.peers[i]->b);
    free(t.peers[i]);
  }
  t.npeers = 0;
  for (int i = 0; i < MAX_BROWSERS; i++) {
    if (w.b[i])
      browser_free(w.b[i]);
  }
  for (int i = 0; i < NODES; i++) /* their rooms go with them */
    sfu_close(t.sfu[i]);
  memset(t.sfu, 0, sizeof(t.sfu));
  w.sfu = NULL;
  w.room = NULL;
  proxy_close();
  return harness_finish() == 0 ? 0 : -1;
}

/* A publisher (its offer with three simulcast layers when simulcast)
 * connected to a new room of the origin, owned by *owner. */
static struct peer *publisher_new(struct sfu_room **room, struct owner **owner, int simulcast) {
  *owner = owner_new();
  *room = sfu_room_new(t.sfu[ORIGIN], &(*owner)->o);
  assert_non_null(*room);
  use(ORIGIN, *room);
  struct browser *b = browser_new(1, 0);
  char *sdp = offer_text(b), *answer = NULL;
  const char *code = NULL, *why = NULL;
  if (simulcast)
    strcat(sdp, "a=rid:l send\r\na=rid:m send\r\na=rid:h send\r\na=simulcast:send l;m;h\r\n");
  if (sfu_offer(*room, 1, &b->owner, sdp, strlen(sdp), &answer, &code, &why) < 0)
    fail_msg("the publisher's offer: %s", why);
  free(sdp);
  answer_attr(answer, "a=ice-ufrag:", b->ufrag, sizeof(b->ufrag));
  answer_attr(answer, "a=ice-pwd:", b->pwd, sizeof(b->pwd));
  free(answer);
  browser_connect(b);
  assert_int_equal((*owner)->ready, 1);
  assert_int_equal(sfu_room_ready(*room), 1);
  return peer_take(b);
}

/* A viewer of room on node, connected, wanting quality q. */
static struct peer *viewer_new(int node, struct sfu_room *room, enum sfu_quality q) {
  use(node, room);
  struct browser *b = browser_new(0, 0);
  browser_offer(b);
  assert_int_equal(sfu_view_quality(room, &b->owner, q), 0);
  browser_connect(b);
  return peer_take(b);
}

/* ---- the proxy between the origin and an edge ---------------------------- */

static struct {
  int open;
  uv_udp_t up, down; /* up faces the origin (it sends there), down the edge */
  int up_port, down_port;
  int origin_port, edge_port;
  int cut;            /* nothing passes either way */
  uint32_t drop_ssrc; /* drop the next RTP datagram from this SSRC to the edge */
  uint32_t dropped_ssrc;
  uint16_t dropped_seq;
  int dropped, resent; /* dropped; passed later with the dropped one's SSRC and number */
  int down_rtp, down_rtcp, up_rtcp;
} px;

static void px_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  static char mem[65536];
  buf->base = mem;
  buf->len = sizeof(mem);
}

static void px_forward(uv_udp_t *via, int port, const uv_buf_t *buf, ssize_t n) {
  struct sockaddr_in to;
  uv_ip4_addr("127.0.0.1", port, &to);
  uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);
  assert_int_equal(uv_udp_try_send(via, &b, 1, (const struct sockaddr *)&to), n);
}

/* From the origin, to the edge: RTP may be dropped. */
static void px_from_origin(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *a,
                           unsigned flags) {
  const uint8_t *p = (const uint8_t *)buf->base;
  if (n < 12 || px.cut)
    return;
  if (rtp_is_rtcp(p, (size_t)n)) {
    px.down_rtcp++;
  } else {
    px.down_rtp++;
    uint32_t ssrc = be_rd32(p + 8);
    uint16_t seq = be_rd16(p + 2);
    if (px.drop_ssrc && ssrc == px.drop_ssrc) {
      px.drop_ssrc = 0;
      px.dropped_ssrc = ssrc;
      px.dropped++;
      px.dropped_seq = seq;
      return;
    }
    if (px.dropped && seq == px.dropped_seq && ssrc == px.dropped_ssrc)
      px.resent++;
  }
  px_forward(&px.down, px.edge_port, buf, n);
}

static void px_from_edge(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *a,
                         unsigned flags) {
  if (n < 12 || px.cut)
    return;
  px.up_rtcp++;
  px_forward(&px.up, px.origin_port, buf, n);
}

static int px_bind(uv_udp_t *u, uv_udp_recv_cb cb) {
  struct sockaddr_in a;
  struct sockaddr_storage got;
  int len = sizeof(got);
  uv_ip4_addr("127.0.0.1", 0, &a);
  assert_int_equal(uv_udp_init(&w.loop, u), 0);
  assert_int_equal(uv_udp_bind(u, (const struct sockaddr *)&a, 0), 0);
  assert_int_equal(uv_udp_recv_start(u, px_alloc, cb), 0);
  assert_int_equal(uv_udp_getsockname(u, (struct sockaddr *)&got, &len), 0);
  return ntohs(((struct sockaddr_in *)&got)->sin_port);
}

static void proxy_open(int origin, int edge) {
  memset(&px, 0, sizeof(px));
  px.up_port = px_bind(&px.up, px_from_origin);
  px.down_port = px_bind(&px.down, px_from_edge);
  px.origin_port = sfu_port(t.sfu[origin]);
  px.edge_port = sfu_port(t.sfu[edge]);
  px.open = 1;
}

static void proxy_close(void) {
  if (!px.open)
    return;
  uv_close((uv_handle_t *)&px.up, NULL);
  uv_close((uv_handle_t *)&px.down, NULL);
  px.open = 0;
}

/* ---- links ------------------------------------------------------------------- */

struct link {
  struct sfu_link_params lp;
  uint32_t ssrc[SFU_TRACKS]; /* the link's, from its description */
  uint32_t edge_ssrc;
  struct owner *in; /* the relay-in publisher's owner */
};

/* The link's SSRCs, as the origin's description tells the edge. */
static void link_ssrcs(struct link *k, const char *desc) {
  struct relay_desc d;
  const char *why = NULL;
  assert_int_equal(relay_desc_parse(desc, strlen(desc), &d, &why), 0);
  for (int i = 0; i < SFU_TRACKS; i++)
    k->ssrc[i] = d.tracks[i].active ? d.tracks[i].ssrc : 0;
  k->edge_ssrc = d.edge_ssrc;
}

/* Room ro of node from relayed to room re of node to (through the proxy
 * when via_proxy); the edge's end keyed with edge_key when not NULL (a
 * wrong key). */
static void relay(struct link *k, int from, struct sfu_room *ro, int to, struct sfu_room *re,
                  int via_proxy, const uint8_t *edge_key) {
  char *desc = NULL;
  const char *why = NULL;
  memset(k, 0, sizeof(*k));
  randombytes_buf(k->lp.key, sizeof(k->lp.key));
  randombytes_buf(k->lp.id, sizeof(k->lp.id));
  k->lp.addr = t.link_host;
  k->lp.port = via_proxy ? px.up_port : sfu_port(t.sfu[to]);
  assert_int_equal(sfu_relay_out(ro, &k->lp, &desc), 0);
  assert_non_null(desc);
  link_ssrcs(k, desc);
  struct sfu_link_params in = k->lp;
  in.port = via_proxy ? px.down_port : sfu_port(t.sfu[from]);
  if (edge_key)
    memcpy(in.key, edge_key, sizeof(in.key));
  k->in = owner_new();
  int rc = sfu_relay_in(re, &k->in->o, &in, desc, strlen(desc), &why);
  if (rc < 0)
    fail_msg("sfu_relay_in: %d (%s)", rc, why);
  free(desc);
}

/* An edge's room, its owner told it is ready by the relay. */
static struct sfu_room *edge_room(int node, struct owner **owner) {
  *owner = owner_new();
  struct sfu_room *r = sfu_room_new(t.sfu[node], &(*owner)->o);
  assert_non_null(r);
  return r;
}

static struct sfu_stats stats_of(int node) {
  struct sfu_stats s;
  sfu_get_stats(t.sfu[node], &s);
  return s;
}

/* ---- conditions -------------------------------------------------------------- */

static struct peer **want_peers;
static size_t want_npeers;
static uint32_t want_from, want_to; /* every id in [from, to) of want_source's */
static int want_source = -1;
static int want_layer = -1;

/* Each of want_peers has every wanted id. */
static int peers_have_all(void *arg) {
  for (size_t i = 0; i < want_npeers; i++) {
    for (uint32_t id = want_from; id < want_to; id++) {
      if ((want_source < 0 || sent.source[id] == want_source) &&
          (want_layer < 0 || (sent.flags[id] & SENT_AUDIO) || sent.layer[id] == want_layer) &&
          want_peers[i]->got[id] == 0)
        return 0;
    }
  }
  return 1;
}

static void wait_all(struct peer **v, size_t n, uint32_t from, uint32_t to, int source, int layer) {
  want_peers = v;
  want_npeers = n;
  want_from = from;
  want_to = to;
  want_source = source;
  want_layer = layer;
  wait_until(peers_have_all, NULL, "every packet at every viewer");
}

static int owner_closed(void *arg) { return ((struct owner *)arg)->closed > 0; }

static int node_links_none(void *arg) { return stats_of(*(int *)arg).relay_links == 0; }

static int plis_before;
static int has_pli(void *arg) { return ((struct peer *)arg)->plis > plis_before; }

/* A non-simulcast publisher's audio and video streams. */
static void streams_plain(struct stream *a, struct stream *v, uint8_t source) {
  *a = (struct stream){.ssrc = 0xa0000001u + source, .pt = 111, .source = source, .seq = 100};
  *v = (struct stream){.ssrc = 0xb0000001u + source, .pt = 96, .source = source, .seq = 5000};
}

/* n rounds of a video packet (the first a keyframe when key) and, every
 * other round, an audio packet. Returns the first id. */
static uint32_t publish(struct peer *pub, struct stream *a, struct stream *v, int n, int key) {
  uint32_t first = sent.next;
  for (int i = 0; i < n; i++) {
    pub_send(pub->b, v, key && i == 0);
    if (i % 2 == 0)
      pub_send(pub->b, a, 0);
    tick();
  }
  return first;
}

static void assert_got_once(const struct peer *v, uint32_t from, uint32_t to) {
  for (uint32_t id = from; id < to; id++)
    assert_int_equal(v->got[id], 1);
  assert_int_equal(v->bad, 0);
}

/* The most tests' start: a publisher on the origin, its room relayed to a
 * room of the edge (through the proxy when via_proxy) with one viewer,
 * and the viewer has the first rounds of packets. */
struct scene {
  struct sfu_room *ro, *re;
  struct owner *oo, *oe;
  struct link k;
  struct stream a, vs;
  struct peer *pub, *v;
  uint32_t first; /* the first packet's id */
};

static void scene_up(struct scene *sc, int via_proxy, int rounds) {
  sc->pub = publisher_new(&sc->ro, &sc->oo, 0);
  sc->re = edge_room(EDGE, &sc->oe);
  if (via_proxy)
    proxy_open(ORIGIN, EDGE);
  relay(&sc->k, ORIGIN, sc->ro, EDGE, sc->re, via_proxy, NULL);
  assert_int_equal(sc->oe->ready, 1); /* ready at once: no ICE, no DTLS */
  sc->v = viewer_new(EDGE, sc->re, SFU_QUALITY_AUTO);
  streams_plain(&sc->a, &sc->vs, 0);
  sc->first = publish(sc->pub, &sc->a, &sc->vs, rounds, 1);
  wait_all(&sc->v, 1, sc->first, sent.next, -1, -1);
}

#endif
