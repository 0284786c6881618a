/* libFuzzer target for the media port's demultiplexer (on_datagram in
 * src/media/sfu.c, RFC 7983) and the ICE-lite checks behind it, on a real
 * SFU (sfu_fixture.h) with a room whose publisher and viewers are offered,
 * checked, connected, dropped and re-offered as the input says.
 *
 * The input is a profile byte and a script (README.md, "fuzz_demux input
 * format"): raw datagrams from any of the fixture's addresses, connectivity
 * checks the browser would send (right or forged password, with or without
 * USE-CANDIDATE), DTLS "completions", SRTP and SRTCP the browser protects,
 * offers, drops, time passing, and the SFU's own last datagram sent back to
 * it.
 *
 * Every datagram must reach exactly the layer its first byte and its source
 * say: nothing for an empty one; STUN for 0..3; else, from an address no
 * check bound (or a peer not checked yet), a drop counted as unknown_peer;
 * DTLS for 20..63 and SRTP for 128..191 (once connected) of the peer the
 * address is bound to; a not_media drop for anything else. A STUN datagram
 * is answered exactly as an independent reading of it says: a success
 * response (same transaction, the source as XOR-MAPPED-ADDRESS, our
 * password's integrity) to a well-formed request naming a live peer with
 * its password and fingerprint, after which the source is bound to that
 * peer; 400 (no PRIORITY) or 487 (ICE-CONTROLLED: a role conflict, RFC
 * 8445 7.3.1.1) to such a request, with our integrity, binding nothing; a
 * 401 when the ufrag names no live peer; nothing otherwise. The checks the
 * script sends are encoded here, not by onair's builder. The SFU
 * sends only to the fixture's addresses; its maps point only at live peers
 * of the room that passed a check from the address (sfu_fixture.h); a
 * peer's state never goes back, and a peer that closed stays gone until
 * offered again. At the end the room is freed and nothing of it may stay.
 * Any broken check traps. */
#include "sfu_fixture.h"
#include "fuzz_input.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

enum fuzz_op {
  FUZZ_OP_RAW,
  FUZZ_OP_CHECK,
  FUZZ_OP_CONNECT,
  FUZZ_OP_OFFER,
  FUZZ_OP_DROP,
  FUZZ_OP_SRTP,
  FUZZ_OP_TICK,
  FUZZ_OP_ECHO,
  FUZZ_OPS
};

static struct {
  int gcm, h264;
  int gone[FX_PEERS];              /* the peer closed or was dropped */
  enum peer_state state[FX_PEERS]; /* its state when last seen */
  uint8_t echo[UDP_SLOT_BYTES];    /* the SFU's last datagram */
  size_t echo_len;
} st;

/* The live peer of the room whose ufrag is u, found by walking the room. */
static struct sfu_peer *fuzz_peer_by_ufrag(const char *u, size_t len) {
  struct sfu_room *r = fx.room;

  if (r->publisher && strlen(r->publisher->ufrag) == len &&
      memcmp(r->publisher->ufrag, u, len) == 0)
    return r->publisher;
  for (size_t i = 0; i < r->nviewers; i++)
    if (strlen(r->viewers[i]->ufrag) == len && memcmp(r->viewers[i]->ufrag, u, len) == 0)
      return r->viewers[i];
  return NULL;
}

enum fuzz_reply {
  FUZZ_REPLY_NONE,
  FUZZ_REPLY_400, /* no PRIORITY (RFC 8445 7.1.1) */
  FUZZ_REPLY_401, /* no such user */
  FUZZ_REPLY_487, /* the peer claims to be controlled too (7.3.1.1) */
  FUZZ_REPLY_SUCCESS
};

/* How onair must answer a STUN datagram, read independently; *peer is the
 * peer it authenticated with (a success binds it). */
static enum fuzz_reply fuzz_want_reply(const uint8_t *d, size_t len, struct sfu_peer **peer) {
  struct stun_msg m;
  const char *local, *remote;
  size_t llen, rlen;
  struct sfu_peer *p;

  *peer = NULL;
  if (stun_parse(d, len, &m) < 0 || m.type != STUN_BINDING_REQUEST || m.username == NULL ||
      stun_username_split(m.username, m.username_len, &local, &llen, &remote, &rlen) < 0)
    return FUZZ_REPLY_NONE;
  p = fuzz_peer_by_ufrag(local, llen);
  if (p == NULL)
    return FUZZ_REPLY_401;
  if (stun_check_fingerprint(d, len, &m) < 0 ||
      stun_check_integrity(d, len, &m, (const uint8_t *)p->pwd, strlen(p->pwd)) < 0)
    return FUZZ_REPLY_NONE;
  *peer = p;
  if (!(m.flags & STUN_F_PRIORITY))
    return FUZZ_REPLY_400;
  return m.flags & STUN_F_ICE_CONTROLLED ? FUZZ_REPLY_487 : FUZZ_REPLY_SUCCESS;
}

/* The answer onair sent to a STUN request (req) from `from`; bound_before
 * is the peer the address was bound to before it, state_before p's state. */
static void fuzz_check_reply(enum fuzz_reply want, struct sfu_peer *p, const uint8_t *req,
                             const struct sockaddr *from, const struct sfu_peer *bound_before,
                             enum peer_state state_before) {
  struct stun_msg r;
  const struct fx_sent *s = &fx.sent[0];
  char key[20];
  size_t klen = addr_key(from, key);

  if (want == FUZZ_REPLY_NONE) {
    FUZZ_CHECK(fx.nsent_all == 0);
    return;
  }
  FUZZ_CHECK(fx.nsent_all == 1 && fx_same_addr((const struct sockaddr *)&s->to, from));
  FUZZ_CHECK(stun_parse(s->data, s->len, &r) == 0 && memcmp(r.txid, req + 8, STUN_TXID_LEN) == 0);
  FUZZ_CHECK(stun_check_fingerprint(s->data, s->len, &r) == 0);
  if (want == FUZZ_REPLY_401) {
    FUZZ_CHECK(r.type == STUN_BINDING_ERROR && r.error_code == 401 && r.integrity_off == 0);
    return;
  }
  FUZZ_CHECK(stun_check_integrity(s->data, s->len, &r, (const uint8_t *)p->pwd, strlen(p->pwd)) ==
             0);
  if (want != FUZZ_REPLY_SUCCESS) {
    /* Refused, with our integrity: nothing bound, no state change. */
    FUZZ_CHECK(r.type == STUN_BINDING_ERROR &&
               r.error_code == (want == FUZZ_REPLY_400 ? 400 : 487));
    FUZZ_CHECK(map_get(&fx.sfu->by_addr, key, klen) == bound_before && p->state == state_before);
    return;
  }
  FUZZ_CHECK(r.type == STUN_BINDING_SUCCESS && (r.flags & STUN_F_XOR_MAPPED));
  FUZZ_CHECK(fx_same_addr((const struct sockaddr *)&r.mapped, from));
  FUZZ_CHECK(p->state == PEER_CHECKED || p->state == PEER_CONNECTED);
  FUZZ_CHECK(map_get(&fx.sfu->by_addr, key, klen) == p);
}

/* ---- a browser's check, encoded here (RFC 5389, RFC 8445 7.1.2) ---- */

static size_t fuzz_put_attr(uint8_t *p, size_t off, uint16_t type, const void *v, size_t len) {
  p[off] = (uint8_t)(type >> 8);
  p[off + 1] = (uint8_t)type;
  p[off + 2] = (uint8_t)(len >> 8);
  p[off + 3] = (uint8_t)len;
  memcpy(p + off + 4, v, len);
  memset(p + off + 4 + len, 0, (4 - len % 4) % 4);
  return off + 4 + (len + 3) / 4 * 4;
}

static uint32_t fuzz_crc32(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFF;

  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++)
      c = c >> 1 ^ (0xEDB88320 & (0 - (c & 1)));
  }
  return ~c;
}

/* A Binding request for user ("ours:theirs") keyed with pwd: PRIORITY
 * unless no_priority, ICE-CONTROLLED when controlled (else CONTROLLING),
 * USE-CANDIDATE when use. Returns its length. */
static size_t fuzz_stun_request(uint8_t *p, const uint8_t txid[STUN_TXID_LEN], const char *user,
                                const char *pwd, int use, int controlled, int no_priority) {
  static const uint8_t prio[4] = {0x6E, 0x00, 0x1E, 0xFF}, tie[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  uint8_t mac[EVP_MAX_MD_SIZE], crc[4];
  unsigned mac_len = 0;
  uint32_t c;
  size_t off;

  p[0] = 0x00;
  p[1] = 0x01;
  memcpy(p + 4, (const uint8_t[]){0x21, 0x12, 0xA4, 0x42}, 4);
  memcpy(p + 8, txid, STUN_TXID_LEN);
  off = fuzz_put_attr(p, 20, STUN_ATTR_USERNAME, user, strlen(user));
  if (!no_priority)
    off = fuzz_put_attr(p, off, STUN_ATTR_PRIORITY, prio, 4);
  off = fuzz_put_attr(p, off, controlled ? STUN_ATTR_ICE_CONTROLLED : STUN_ATTR_ICE_CONTROLLING,
                      tie, 8);
  if (use)
    off = fuzz_put_attr(p, off, STUN_ATTR_USE_CANDIDATE, "", 0);
  p[2] = (uint8_t)((off + 24 - 20) >> 8); /* the length counts MESSAGE-INTEGRITY */
  p[3] = (uint8_t)(off + 24 - 20);
  FUZZ_CHECK(HMAC(EVP_sha1(), pwd, (int)strlen(pwd), p, off, mac, &mac_len) != NULL);
  off = fuzz_put_attr(p, off, STUN_ATTR_MESSAGE_INTEGRITY, mac, mac_len);
  p[2] = (uint8_t)((off + 8 - 20) >> 8); /* ... and FINGERPRINT */
  p[3] = (uint8_t)(off + 8 - 20);
  c = fuzz_crc32(p, off) ^ 0x5354554E;
  crc[0] = (uint8_t)(c >> 24);
  crc[1] = (uint8_t)(c >> 16);
  crc[2] = (uint8_t)(c >> 8);
  crc[3] = (uint8_t)c;
  return fuzz_put_attr(p, off, STUN_ATTR_FINGERPRINT, crc, 4);
}

enum fuzz_layer { FUZZ_NONE, FUZZ_STUN, FUZZ_UNKNOWN, FUZZ_DTLS, FUZZ_SRTP, FUZZ_NOT_MEDIA };

/* Where the first-byte rules send a datagram from `from`; *peer is the
 * peer its address is bound to. */
static enum fuzz_layer fuzz_want_layer(const uint8_t *d, size_t len, const struct sockaddr *from,
                                       struct sfu_peer **peer) {
  char key[20];
  size_t klen = addr_key(from, key);

  *peer = NULL;
  if (len == 0)
    return FUZZ_NONE;
  if (d[0] <= 3)
    return FUZZ_STUN;
  *peer = map_get(&fx.sfu->by_addr, key, klen);
  if (*peer == NULL || (*peer)->state == PEER_NEW)
    return FUZZ_UNKNOWN;
  if (d[0] >= 20 && d[0] <= 63)
    return FUZZ_DTLS;
  if (d[0] >= 128 && d[0] <= 191 && (*peer)->state == PEER_CONNECTED)
    return FUZZ_SRTP;
  return FUZZ_NOT_MEDIA;
}

/* Delivers one datagram from address addr and checks where it went. */
static void fuzz_send(const uint8_t *d, size_t len, unsigned addr) {
  const uint64_t *drops = fx.sfu->stats.dropped;
  uint64_t unknown = drops[SFU_DROP_UNKNOWN_PEER], not_media = drops[SFU_DROP_NOT_MEDIA];
  unsigned stun = fx.route.stun, dtls = fx.route.dtls, srtp = fx.route.srtp;
  socklen_t alen;
  const struct sockaddr *from = fx_addr(addr, &alen);
  struct sfu_peer *peer, *bound = NULL;
  enum fuzz_layer layer = fuzz_want_layer(d, len, from, &peer);
  enum fuzz_reply reply = layer == FUZZ_STUN ? fuzz_want_reply(d, len, &bound) : FUZZ_REPLY_NONE;
  char key[20];
  const struct sfu_peer *bound_before = map_get(&fx.sfu->by_addr, key, addr_key(from, key));
  enum peer_state state_before = bound ? bound->state : PEER_NEW;

  fx.nsent = fx.nsent_all = 0;
  fx.route.peer = NULL;
  fx.route.dtls_to = NULL;
  fx_deliver(d, len, addr);
  FUZZ_CHECK(fx.route.stun - stun == (layer == FUZZ_STUN));
  FUZZ_CHECK(fx.route.dtls - dtls == (layer == FUZZ_DTLS));
  FUZZ_CHECK(fx.route.srtp - srtp == (layer == FUZZ_SRTP));
  FUZZ_CHECK(drops[SFU_DROP_UNKNOWN_PEER] - unknown == (layer == FUZZ_UNKNOWN));
  FUZZ_CHECK(drops[SFU_DROP_NOT_MEDIA] - not_media == (layer == FUZZ_NOT_MEDIA));
  if (layer == FUZZ_SRTP)
    FUZZ_CHECK(fx.route.peer == peer);
  if (layer == FUZZ_DTLS)
    FUZZ_CHECK(fx.route.dtls_to == peer->dtls);
  if (layer == FUZZ_STUN)
    fuzz_check_reply(reply, bound, d, from, bound_before, state_before);
}

/* A packet the browser of peer i protects (RTP, or SRTCP when rtcp) from
 * the input's plaintext. */
static void fuzz_srtp(struct fuzz_in *in, unsigned i, unsigned addr, int rtcp) {
  uint8_t buf[UDP_SLOT_BYTES];
  size_t len = fuzz_byte(in) * 4u + 12, take = len < in->n ? len : in->n;

  memset(buf, 0, len);
  memcpy(buf, in->d, take);
  in->d += take;
  in->n -= take;
  buf[0] = (uint8_t)(0x80 | (buf[0] & 0x3F));
  if (rtcp)
    buf[1] = (uint8_t)(200 + buf[1] % 7);
  else
    buf[1] &= 0x7F;
  if (fx.browser[i] == NULL ||
      (rtcp ? srtpctx_protect_rtcp(fx.browser[i], buf, &len, sizeof(buf))
            : srtpctx_protect_rtp(fx.browser[i], buf, &len, sizeof(buf))) < 0)
    return;
  fuzz_send(buf, len, addr);
}

static void fuzz_raw(struct fuzz_in *in) {
  unsigned addr = fuzz_byte(in);
  size_t len = fuzz_byte(in);

  len = len < in->n ? len : in->n;
  fuzz_send(in->d, len, addr);
  in->d += len;
  in->n -= len;
}

static void fuzz_offer(unsigned i, unsigned variant) {
  const char *sdp =
      i == 0 ? fx_publisher_sdp(st.h264 ^ (int)(variant & 1)) : fx_viewer_sdp((int)(variant & 1));

  if (fx_offer(i, sdp) == 0) {
    st.gone[i] = 0;
    st.state[i] = PEER_NEW;
  }
}

static void fuzz_step(struct fuzz_in *in, uint8_t op) {
  unsigned i = fuzz_byte(in) % FX_PEERS, a;

  switch (op % FUZZ_OPS) {
  case FUZZ_OP_RAW: fuzz_raw(in); break;
  case FUZZ_OP_CHECK:
    a = fuzz_byte(in);
    if (fx_peer(i) != NULL) {
      uint8_t req[512], id[STUN_TXID_LEN] = {0};
      char user[64];
      const struct sfu_peer *p = fx_peer(i);

      id[0] = (uint8_t)a;
      snprintf(user, sizeof(user), "%s:bRoW", p->ufrag);
      fuzz_send(req,
                fuzz_stun_request(req, id, user, op & 0x80 ? "forged-password" : p->pwd,
                                  (op >> 3) & 1, (op >> 4) & 1, (op >> 5) & 1),
                a);
    }
    break;
  case FUZZ_OP_CONNECT: fx_connect(i, fuzz_byte(in), st.gcm); break;
  case FUZZ_OP_OFFER: fuzz_offer(i, op >> 3); break;
  case FUZZ_OP_DROP:
    sfu_drop(fx.room, &fx.owners[i]);
    st.gone[i] = 1;
    break;
  case FUZZ_OP_SRTP: fuzz_srtp(in, i, fuzz_byte(in), op & 0x80); break;
  case FUZZ_OP_TICK: fx_advance((uint64_t)(op >> 3) * 1000); break;
  default:
    if (st.echo_len)
      fuzz_send(st.echo, st.echo_len, op >> 3);
    break;
  }
}

/* After each step: states only go forward, what closed stays gone, the
 * maps are sound, and every datagram went to one of our addresses. */
static void fuzz_check_step(void) {
  for (unsigned i = 0; i < FX_PEERS; i++) {
    struct sfu_peer *p = fx_peer(i);

    if (p == NULL) {
      st.gone[i] = 1;
      continue;
    }
    FUZZ_CHECK(!st.gone[i] && p->state >= st.state[i] && p->state != PEER_CLOSED);
    st.state[i] = p->state;
  }
  fx_check_maps();
  for (size_t k = 0; k < fx.nsent; k++) {
    unsigned a;
    socklen_t alen;

    for (a = 0; a < FX_NADDR; a++)
      if (fx_same_addr((const struct sockaddr *)&fx.sent[k].to, fx_addr(a, &alen)))
        break;
    FUZZ_CHECK(a < FX_NADDR);
  }
  if (fx.nsent) {
    st.echo_len = fx.sent[fx.nsent - 1].len;
    memcpy(st.echo, fx.sent[fx.nsent - 1].data, st.echo_len);
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fx_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fuzz_in in = {data, size};
  uint8_t flags = fuzz_byte(&in);

  memset(&st, 0, sizeof(st));
  for (unsigned i = 0; i < FX_PEERS; i++)
    st.gone[i] = 1;
  st.gcm = flags & 1;
  st.h264 = (flags >> 1) & 1;
  fx_begin();
  fuzz_offer(0, 0);
  while (in.n > 0) {
    uint8_t op = fuzz_byte(&in);

    fx.nsent = fx.nsent_all = 0;
    fuzz_step(&in, op);
    fuzz_check_step();
  }
  fx_end();
  return 0;
}
