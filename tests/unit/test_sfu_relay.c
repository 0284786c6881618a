/* Relay between nodes (src/media/relay.c, docs/media.md "Relay between
 * nodes"): a room's origin sends one copy of its media over an SRTP link
 * to an edge, whose viewers get it as from a publisher of its own.
 *
 * Real struct sfu's on one loop, each with its own UDP port on 127.0.0.1,
 * and the "browsers" of sfu_browser.h (real DTLS and SRTP): a publisher on
 * the origin, viewers on the edges. Once connected, a browser is taken out
 * of sfu_browser.h's table and read here, where what it receives is
 * decrypted and each payload checked byte for byte against what a
 * publisher sent. Some links go through a UDP proxy in the test (two
 * sockets on the loop) that can drop, count and cut the link's packets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>

#include "media/relay_desc.h"
#include "media/rtcp.h"
#include "media/rtp.h"
#include "sfu_browser.h"
#include "util/be.h"

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

/* ---- tests ---------------------------------------------------------------- */

/* A viewer on the edge gets the origin publisher's packets, byte for byte,
 * in its own numbering; the origin sends each packet once on the link and
 * counts none of it as forwarded to viewers. */
static void test_relay_carries_media(void **state) {
  struct sfu_room *ro, *re;
  struct owner *oo, *oe;
  struct link k;
  struct stream a, vs;
  struct peer *pub = publisher_new(&ro, &oo, 0);
  re = edge_room(EDGE, &oe);
  relay(&k, ORIGIN, ro, EDGE, re, 0, NULL);
  assert_int_equal(oe->ready, 1); /* ready at once: no ICE, no DTLS */
  assert_int_equal(sfu_room_ready(re), 1);
  assert_int_equal(sfu_room_relays(ro), 1);
  assert_int_equal(sfu_room_relays(re), 0);
  struct peer *v = viewer_new(EDGE, re, SFU_QUALITY_AUTO);
  streams_plain(&a, &vs, 0);
  uint32_t first = publish(pub, &a, &vs, 60, 1);
  wait_all(&v, 1, first, sent.next, -1, -1);
  run_ms(50);
  assert_got_once(v, first, sent.next);
  assert_int_equal(v->video_gaps, 0);
  assert_true(v->video_ssrc != vs.ssrc && v->video_ssrc != k.ssrc[SFU_VIDEO]);
  struct sfu_stats so = stats_of(ORIGIN), se = stats_of(EDGE);
  assert_int_equal(so.rtp_in, sent.next - first);
  assert_int_equal(so.relay_out, so.rtp_in); /* one copy of each packet */
  assert_true(so.relay_out_bytes > so.rtp_in_bytes);
  assert_int_equal(so.relay_links, 1);
  assert_int_equal(so.rtp_out, 0); /* no viewer here: the link is not one */
  assert_int_equal(se.relay_in, so.relay_out);
  assert_int_equal(se.rtp_in, se.relay_in);
  assert_int_equal(se.relay_links, 0);
  assert_int_equal(se.rtp_out, so.relay_out);
  assert_int_equal(so.dropped[SFU_DROP_SRTP] + se.dropped[SFU_DROP_SRTP], 0);
}

/* One viewer on the origin, 20 on the edge: the origin sends each packet
 * to its viewer and once on the link, not 20 times. Workers on both. */
static void test_relay_one_copy_per_edge(void **state) {
  struct sfu_room *ro, *re;
  struct owner *oo, *oe;
  struct link k;
  struct stream a, vs;
  struct peer *pub = publisher_new(&ro, &oo, 0), *ve[EDGE_VIEWERS];
  re = edge_room(EDGE, &oe);
  relay(&k, ORIGIN, ro, EDGE, re, 0, NULL);
  struct peer *vo = viewer_new(ORIGIN, ro, SFU_QUALITY_AUTO);
  for (int i = 0; i < EDGE_VIEWERS; i++)
    ve[i] = viewer_new(EDGE, re, SFU_QUALITY_AUTO);
  streams_plain(&a, &vs, 0);
  uint32_t first = publish(pub, &a, &vs, 100, 1);
  uint64_t n = sent.next - first;
  wait_all(&vo, 1, first, sent.next, -1, -1);
  wait_all(ve, EDGE_VIEWERS, first, sent.next, -1, -1);
  run_ms(50);
  for (int i = 0; i < EDGE_VIEWERS; i++)
    assert_got_once(ve[i], first, sent.next);
  struct sfu_stats so = stats_of(ORIGIN), se = stats_of(EDGE);
  assert_int_equal(so.rtp_in, n);
  assert_int_equal(so.relay_out, n);
  assert_int_equal(so.rtp_out, n); /* its one viewer's */
  assert_int_equal(se.relay_in, n);
  assert_int_equal(se.rtp_out, EDGE_VIEWERS * n);
}

/* A simulcast publisher: a link carries every layer (the origin's owner
 * hears all are wanted while it has a link), and the edge's viewers each
 * get the layer they chose, told apart by the link's SSRCs. */
static void test_relay_simulcast(void **state) {
  struct sfu_room *ro, *re;
  struct owner *oo, *oe;
  struct link k;
  struct stream a, vs[3];
  static const char *const rids[3] = {"l", "m", "h"};
  struct peer *pub = publisher_new(&ro, &oo, 1);
  streams_plain(&a, &vs[0], 0);
  for (int i = 0; i < 3; i++)
    vs[i] = (struct stream){.ssrc = 0xc0000000u + (uint32_t)i,
                            .pt = 96,
                            .layer = (uint8_t)i,
                            .seq = (uint16_t)(1000 * i),
                            .rid = rids[i]};
  for (int i = 0; i < 3; i++)
    pub_send(pub->b, &vs[i], 1);
  run_ms(1200); /* a report tick: only the lowest layer is wanted (no viewer) */
  assert_int_equal(oo->mask, 1);
  re = edge_room(EDGE, &oe);
  relay(&k, ORIGIN, ro, EDGE, re, 0, NULL);
  uint64_t stored = stats_of(ORIGIN).rtp_in; /* before the link */
  run_ms(150);
  assert_int_equal(oo->mask, 7);
  struct peer *low = viewer_new(EDGE, re, SFU_QUALITY_LOW);
  struct peer *high = viewer_new(EDGE, re, SFU_QUALITY_HIGH);
  uint32_t first = sent.next;
  for (int r = 0; r < 40; r++) {
    for (int i = 0; i < 3; i++)
      pub_send(pub->b, &vs[i], r == 0);
    pub_send(pub->b, &a, 0);
    tick();
  }
  wait_all(&low, 1, first, sent.next, -1, 0);
  wait_all(&high, 1, first, sent.next, -1, 2);
  run_ms(50);
  for (uint32_t id = first; id < sent.next; id++) {
    int video = !(sent.flags[id] & SENT_AUDIO);
    assert_int_equal(low->got[id], !video || sent.layer[id] == 0);
    assert_int_equal(high->got[id], !video || sent.layer[id] == 2);
  }
  assert_int_equal(low->bad + high->bad, 0);
  assert_int_equal(stats_of(ORIGIN).relay_out, stats_of(ORIGIN).rtp_in - stored);
  assert_int_equal(sfu_relay_out_end(ro, k.lp.id), 0);
  run_ms(150);
  assert_int_equal(oo->mask, 1); /* no link: back to what viewers here want */
}

/* A packet the link lost: the edge NACKs it on the link, the origin sends
 * it again from its store and the viewer gets it; the viewer's own NACK
 * for it is then answered from the edge's store. */
static void test_relay_nack(void **state) {
  struct sfu_room *ro, *re;
  struct owner *oo, *oe;
  struct link k;
  struct stream a, vs;
  uint8_t nack[64];
  struct peer *pub = publisher_new(&ro, &oo, 0);
  re = edge_room(EDGE, &oe);
  proxy_open(ORIGIN, EDGE);
  relay(&k, ORIGIN, ro, EDGE, re, 1, NULL);
  struct peer *v = viewer_new(EDGE, re, SFU_QUALITY_AUTO);
  streams_plain(&a, &vs, 0);
  uint32_t first = publish(pub, &a, &vs, 20, 1);
  wait_all(&v, 1, first, sent.next, -1, -1);
  px.drop_ssrc = k.ssrc[SFU_VIDEO];
  uint32_t lost = pub_send(pub->b, &vs, 0);
  tick();
  publish(pub, &a, &vs, 10, 0);
  wait_all(&v, 1, first, sent.next, -1, -1);
  run_ms(50);
  assert_int_equal(px.dropped, 1);
  assert_int_equal(px.resent, 1);
  assert_int_equal(v->got[lost], 1);
  assert_int_equal(v->bad, 0);
  assert_int_equal(stats_of(ORIGIN).relay_nack_resent, 1);
  assert_int_equal(stats_of(ORIGIN).relay_out, stats_of(ORIGIN).rtp_in + 1);
  int n = rtcp_build_nack(nack, sizeof(nack), 0x1234, v->video_ssrc, &v->seq_of[lost], 1);
  assert_true(n > 0);
  browser_rtcp(v->b, nack, (size_t)n);
  run_ms(50);
  assert_int_equal(stats_of(EDGE).nack_resent, 1);
  assert_int_equal(stats_of(ORIGIN).relay_nack_resent, 1); /* the edge had it */
}

/* A viewer's PLI on the edge reaches the publisher on the origin. */
static void test_relay_pli(void **state) {
  struct sfu_room *ro, *re;
  struct owner *oo, *oe;
  struct link k;
  struct stream a, vs;
  uint8_t pli[64];
  struct peer *pub = publisher_new(&ro, &oo, 0);
  re = edge_room(EDGE, &oe);
  relay(&k, ORIGIN, ro, EDGE, re, 0, NULL);
  struct peer *v = viewer_new(EDGE, re, SFU_QUALITY_AUTO);
  streams_plain(&a, &vs, 0);
  uint32_t first = publish(pub, &a, &vs, 10, 1);
  wait_all(&v, 1, first, sent.next, -1, -1);
  run_ms(1100); /* past the one-a-second bound of what the join asked */
  plis_before = pub->plis;
  uint64_t edge_asked = stats_of(EDGE).keyframe_requests;
  uint64_t origin_asked = stats_of(ORIGIN).keyframe_requests;
  int n = rtcp_build_pli(pli, sizeof(pli), 0x1234, v->video_ssrc);
  browser_rtcp(v->b, pli, (size_t)n);
  wait_until(has_pli, pub, "the publisher's PLI");
  assert_int_equal(pub->pli_ssrc, vs.ssrc);
  assert_int_equal(stats_of(EDGE).keyframe_requests, edge_asked + 1);
  assert_int_equal(stats_of(ORIGIN).keyframe_requests, origin_asked + 1);
}

/* Two rooms relayed between the same two nodes: each edge room's viewer
 * gets its own room's packets and none of the other's. */
static void test_relay_two_rooms(void **state) {
  struct sfu_room *ro[2], *re[2];
  struct owner *oo[2], *oe[2];
  struct link k[2];
  struct stream a[2], vs[2];
  struct peer *pub[2], *v[2];
  for (int i = 0; i < 2; i++) {
    pub[i] = publisher_new(&ro[i], &oo[i], 0);
    re[i] = edge_room(EDGE, &oe[i]);
    relay(&k[i], ORIGIN, ro[i], EDGE, re[i], 0, NULL);
    v[i] = viewer_new(EDGE, re[i], SFU_QUALITY_AUTO);
    streams_plain(&a[i], &vs[i], (uint8_t)i);
  }
  uint32_t first = sent.next;
  for (int r = 0; r < 40; r++) {
    for (int i = 0; i < 2; i++) {
      pub_send(pub[i]->b, &vs[i], r == 0);
      pub_send(pub[i]->b, &a[i], 0);
    }
    tick();
  }
  for (int i = 0; i < 2; i++)
    wait_all(&v[i], 1, first, sent.next, i, -1);
  run_ms(50);
  for (uint32_t id = first; id < sent.next; id++) {
    assert_int_equal(v[0]->got[id], sent.source[id] == 0);
    assert_int_equal(v[1]->got[id], sent.source[id] == 1);
  }
  struct sfu_stats so = stats_of(ORIGIN);
  assert_int_equal(so.relay_links, 2);
  assert_int_equal(so.relay_out, so.rtp_in);
  assert_int_equal(stats_of(EDGE).relay_in, so.relay_out);
}

/* An edge keyed differently from the origin: every link packet fails
 * authentication both ways and reaches no viewer; a packet with a link's
 * SSRC from another address is no link's. */
static void test_relay_wrong_key(void **state) {
  struct sfu_room *ro, *re;
  struct owner *oo, *oe;
  struct link k;
  struct stream a, vs;
  uint8_t other[32], pkt[64] = {0x80, 96};
  struct peer *pub = publisher_new(&ro, &oo, 0);
  re = edge_room(EDGE, &oe);
  randombytes_buf(other, sizeof(other));
  relay(&k, ORIGIN, ro, EDGE, re, 0, other);
  struct peer *v = viewer_new(EDGE, re, SFU_QUALITY_AUTO);
  streams_plain(&a, &vs, 0);
  publish(pub, &a, &vs, 20, 1);
  run_ms(1200); /* keepalives and reports went both ways */
  struct sfu_stats so = stats_of(ORIGIN), se = stats_of(EDGE);
  assert_int_equal(so.relay_out, so.rtp_in);
  assert_int_equal(se.relay_in, 0);
  assert_int_equal(se.rtp_in, 0);
  assert_true(se.dropped[SFU_DROP_SRTP] >= so.relay_out);
  assert_true(so.dropped[SFU_DROP_SRTP] >= 1);
  assert_int_equal(v->nrtp + (size_t)v->bad, 0);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in to;
  uv_ip4_addr("127.0.0.1", sfu_port(t.sfu[EDGE]), &to);
  be_wr32(pkt + 8, k.ssrc[SFU_VIDEO]);
  assert_int_equal(sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)), 64);
  close(fd);
  run_ms(50);
  assert_int_equal(stats_of(EDGE).dropped[SFU_DROP_UNKNOWN_PEER],
                   se.dropped[SFU_DROP_UNKNOWN_PEER] + 1);
}

/* A tree: origin -> edge -> edge2, the links given host1 and host2 for
 * the other node; edge2's viewer gets the publisher's packets, and the
 * middle node sends on one copy of what it takes. */
static void tree(const char *host1, const char *host2) {
  struct sfu_room *ro, *r1, *r2;
  struct owner *oo, *o1, *o2;
  struct link k1, k2;
  struct stream a, vs;
  struct peer *pub = publisher_new(&ro, &oo, 0);
  r1 = edge_room(EDGE, &o1);
  t.link_host = host1;
  relay(&k1, ORIGIN, ro, EDGE, r1, 0, NULL);
  r2 = edge_room(EDGE2, &o2);
  t.link_host = host2;
  relay(&k2, EDGE, r1, EDGE2, r2, 0, NULL);
  assert_int_equal(o2->ready, 1);
  struct peer *v1 = viewer_new(EDGE, r1, SFU_QUALITY_AUTO);
  struct peer *v2 = viewer_new(EDGE2, r2, SFU_QUALITY_AUTO);
  streams_plain(&a, &vs, 0);
  uint32_t first = publish(pub, &a, &vs, 40, 1);
  wait_all(&v2, 1, first, sent.next, -1, -1);
  wait_all(&v1, 1, first, sent.next, -1, -1);
  run_ms(50);
  assert_got_once(v2, first, sent.next);
  uint64_t n = sent.next - first;
  assert_int_equal(stats_of(ORIGIN).relay_out, n);
  assert_int_equal(stats_of(EDGE).relay_in, n);
  assert_int_equal(stats_of(EDGE).relay_out, n);
  assert_int_equal(stats_of(EDGE2).relay_in, n);
  /* The middle node's relay-in ends: so does its link on. */
  sfu_room_free(ro);
  wait_until(owner_closed, k1.in, "the middle node's relay to close");
  wait_until(owner_closed, k2.in, "the last node's relay to close");
  assert_int_equal(stats_of(EDGE).relay_links, 0);
}

static void test_relay_tree(void **state) { tree("127.0.0.1", "127.0.0.1"); }

/* The same on sockets bound to ::, one link given an IPv4 address (sent
 * to, and seen from, v4-mapped), the other ::1. */
static void test_relay_dual_stack(void **state) { tree("127.0.0.1", "::1"); }

/* The origin goes silent (the link cut both ways): the edge's relay-in
 * closes after the consent time and its owner is told; the origin drops
 * the link too. */
static void test_relay_origin_silent(void **state) {
  struct sfu_room *ro, *re;
  struct owner *oo, *oe;
  struct link k;
  struct stream a, vs;
  struct peer *pub = publisher_new(&ro, &oo, 0);
  re = edge_room(EDGE, &oe);
  proxy_open(ORIGIN, EDGE);
  relay(&k, ORIGIN, ro, EDGE, re, 1, NULL);
  streams_plain(&a, &vs, 0);
  publish(pub, &a, &vs, 10, 1);
  run_ms(SHORT_CONSENT_MS + 500); /* keepalives hold the link up while nothing is sent */
  assert_int_equal(k.in->closed, 0);
  assert_int_equal(stats_of(ORIGIN).relay_links, 1);
  px.cut = 1;
  uint64_t cut_ms = uv_now(&w.loop);
  wait_until(owner_closed, k.in, "the relay-in to close");
  uint64_t took = uv_now(&w.loop) - cut_ms;
  /* Heard last a keepalive's spacing (a third of it) before the cut at
   * most, closed at most a tick of the timer after the consent time. */
  if (took + SHORT_CONSENT_MS / 3 + 100 < SHORT_CONSENT_MS || took > SHORT_CONSENT_MS + 200)
    fail_msg("closed %" PRIu64 " ms after the cut", took);
  assert_non_null(strstr(k.in->why, "silent"));
  assert_int_equal(sfu_room_ready(re), 0);
  int node = ORIGIN;
  wait_until(node_links_none, &node, "the origin to drop the link");
  assert_int_equal(oo->closed, 0); /* the publisher is still there */
  assert_int_equal(oe->closed, 0); /* the room's owner is not the relay's */
}

/* The origin's room, or the whole origin, goes: the edge hears BYE and
 * its owner is told at once, well before the consent time. */
static void test_relay_origin_ends(void **state) {
  struct sfu_room *ro[2], *re[2];
  struct owner *oo[2], *oe[2];
  struct link k[2];
  for (int i = 0; i < 2; i++) {
    publisher_new(&ro[i], &oo[i], 0);
    re[i] = edge_room(EDGE, &oe[i]);
    relay(&k[i], ORIGIN, ro[i], EDGE, re[i], 0, NULL);
  }
  uint64_t start = uv_now(&w.loop);
  sfu_room_free(ro[0]);
  wait_until(owner_closed, k[0].in, "the relay-in to close");
  assert_non_null(strstr(k[0].in->why, "origin ended"));
  assert_int_equal(k[1].in->closed, 0);
  sfu_close(t.sfu[ORIGIN]);
  t.sfu[ORIGIN] = NULL;
  wait_until(owner_closed, k[1].in, "the relay-in to close");
  assert_true(uv_now(&w.loop) - start < 5000);
  assert_int_equal(stats_of(EDGE).peers, 0);
}

/* The origin ends the link (its publisher re-offered, say) and the edge
 * relays the room in again: the edge's viewer, still there, gets the
 * stream again from its next keyframe, numbered on without a gap. */
static void test_relay_again(void **state) {
  struct sfu_room *ro, *re;
  struct owner *oo, *oe;
  struct link k1, k2;
  struct stream a, vs;
  struct peer *pub = publisher_new(&ro, &oo, 0);
  re = edge_room(EDGE, &oe);
  relay(&k1, ORIGIN, ro, EDGE, re, 0, NULL);
  struct peer *v = viewer_new(EDGE, re, SFU_QUALITY_AUTO);
  streams_plain(&a, &vs, 0);
  uint32_t first = publish(pub, &a, &vs, 20, 1);
  wait_all(&v, 1, first, sent.next, -1, -1);
  assert_int_equal(sfu_relay_out_end(ro, k1.lp.id), 0);
  wait_until(owner_closed, k1.in, "the relay-in to close");
  publish(pub, &a, &vs, 5, 0); /* while no link: not for the edge */
  relay(&k2, ORIGIN, ro, EDGE, re, 0, NULL);
  assert_int_equal(oe->ready, 2);
  first = publish(pub, &a, &vs, 20, 1);
  wait_all(&v, 1, first, sent.next, -1, -1);
  run_ms(50);
  assert_got_once(v, first, sent.next);
  assert_int_equal(v->video_gaps, 0);
  assert_int_equal(v->nrtp, 2 * (sent.next - first));
}

/* The edge lets go (its relay-in dropped, its room freed) or the origin
 * ends the link: the origin stops sending at once. */
static void test_relay_edge_lets_go(void **state) {
  struct sfu_room *ro, *re;
  struct owner *oo, *oe;
  struct link k;
  struct stream a, vs;
  int origin = ORIGIN;
  struct peer *pub = publisher_new(&ro, &oo, 0);
  streams_plain(&a, &vs, 0);
  for (int how = 0; how < 3; how++) {
    re = edge_room(EDGE, &oe);
    relay(&k, ORIGIN, ro, EDGE, re, 0, NULL);
    publish(pub, &a, &vs, 10, how == 0);
    assert_int_equal(stats_of(ORIGIN).relay_links, 1);
    if (how == 0) {
      sfu_drop(re, &k.in->o);
    } else if (how == 1) {
      sfu_room_free(re);
      re = NULL;
    } else {
      assert_int_equal(sfu_relay_out_end(ro, k.lp.id), 0);
      assert_int_equal(sfu_relay_out_end(ro, k.lp.id), -ENOENT);
      assert_int_equal(stats_of(ORIGIN).relay_links, 0);
      wait_until(owner_closed, k.in, "the edge to hear BYE");
      assert_non_null(strstr(k.in->why, "origin ended"));
    }
    wait_until(node_links_none, &origin, "the origin to drop the link");
    assert_int_equal(sfu_room_relays(ro), 0);
    uint64_t out = stats_of(ORIGIN).relay_out;
    publish(pub, &a, &vs, 5, 0);
    run_ms(50);
    assert_int_equal(stats_of(ORIGIN).relay_out, out);
    assert_int_equal(k.in->closed, how == 2); /* a drop is not told */
    if (re)
      sfu_room_free(re);
  }
}

/* Descriptions an edge refuses (test_relay_desc.c has the whole table)
 * make nothing; and the calls' other errors. */
static void test_relay_refused(void **state) {
  static const char *const bad[] = {
      "",
      "{\"v\":1,\"edge_ssrc\":5}",
      "{\"v\":1,\"edge_ssrc\":5,\"video\":{\"codec\":{\"name\":\"VP9\",\"pt\":98,\"clock\":90000,"
      "\"channels\":1},\"layers\":[{\"ssrc\":9}]}}",
  };
  struct owner *oe, *in = owner_new();
  struct sfu_room *re = edge_room(EDGE, &oe);
  struct sfu_link_params lp = {.addr = "127.0.0.1", .port = sfu_port(t.sfu[ORIGIN])};
  const char *why;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    why = NULL;
    if (sfu_relay_in(re, &in->o, &lp, bad[i], strlen(bad[i]), &why) != -EINVAL || why == NULL)
      fail_msg("description %zu was taken: %s", i, bad[i]);
  }
  assert_null(re->publisher);
  assert_int_equal(stats_of(EDGE).peers, 0);
  assert_int_equal(t.sfu[EDGE]->links.count, 0);
  assert_int_equal(sfu_room_ready(re), 0);

  /* The calls' other errors. */
  struct owner *oo;
  struct sfu_room *empty = sfu_room_new(t.sfu[ORIGIN], &owner_new()->o);
  char *desc = NULL;
  assert_int_equal(sfu_relay_out(empty, &lp, &desc), -ENOTCONN);
  assert_null(desc);
  assert_int_equal(sfu_relay_out_end(empty, lp.id), -ENOENT);
  struct sfu_room *ro;
  publisher_new(&ro, &oo, 1);
  struct sfu_link_params wrong = lp;
  const char *const addrs[] = {"nonsense", "::1", "300.1.1.1", NULL};
  for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
    wrong.addr = addrs[i];
    assert_int_equal(sfu_relay_out(ro, &wrong, &desc), -EINVAL);
  }
  wrong.addr = "127.0.0.1";
  wrong.port = 0;
  assert_int_equal(sfu_relay_out(ro, &wrong, &desc), -EINVAL);
  lp.port = sfu_port(t.sfu[EDGE]);
  assert_int_equal(sfu_relay_out(ro, &lp, &desc), 0);
  char *again = NULL;
  assert_int_equal(sfu_relay_out(ro, &lp, &again), -EEXIST);
  /* A simulcast room's description says what the room has. */
  struct relay_desc d;
  assert_int_equal(relay_desc_parse(desc, strlen(desc), &d, &why), 0);
  assert_int_equal(d.layers, 3);
  assert_string_equal(d.tracks[SFU_VIDEO + 2].rid, "h");
  assert_string_equal(d.tracks[SFU_AUDIO].codec.name, "opus");
  assert_int_equal(d.rid_ext, RID_EXT);
  lp.port = sfu_port(t.sfu[ORIGIN]);
  assert_int_equal(sfu_relay_in(re, &in->o, &lp, desc, strlen(desc), &why), 0);
  assert_int_equal(sfu_relay_in(re, &in->o, &lp, desc, strlen(desc), &why), -EEXIST);
  free(desc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_relay_carries_media, setup_plain, teardown_nodes),
      cmocka_unit_test_setup_teardown(test_relay_one_copy_per_edge, setup_busy, teardown_nodes),
      cmocka_unit_test_setup_teardown(test_relay_simulcast, setup_busy, teardown_nodes),
      cmocka_unit_test_setup_teardown(test_relay_nack, setup_plain, teardown_nodes),
      cmocka_unit_test_setup_teardown(test_relay_pli, setup_plain, teardown_nodes),
      cmocka_unit_test_setup_teardown(test_relay_two_rooms, setup_plain, teardown_nodes),
      cmocka_unit_test_setup_teardown(test_relay_wrong_key, setup_plain, teardown_nodes),
      cmocka_unit_test_setup_teardown(test_relay_tree, setup_busy, teardown_nodes),
      cmocka_unit_test_setup_teardown(test_relay_dual_stack, setup_dual, teardown_nodes),
      cmocka_unit_test_setup_teardown(test_relay_origin_silent, setup_short, teardown_nodes),
      cmocka_unit_test_setup_teardown(test_relay_origin_ends, setup_plain, teardown_nodes),
      cmocka_unit_test_setup_teardown(test_relay_again, setup_plain, teardown_nodes),
      cmocka_unit_test_setup_teardown(test_relay_edge_lets_go, setup_plain, teardown_nodes),
      cmocka_unit_test_setup_teardown(test_relay_refused, setup_plain, teardown_nodes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
