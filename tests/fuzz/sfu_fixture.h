/* The media plane as fuzz targets drive it: src/media/sfu.c, sfu_fwd.c,
 * sfu_share.c and fanout.c are included here (as h2o's tests include a .c), so a target calls the
 * UDP demultiplexer (on_datagram), the timer and the reaper directly, on a
 * real struct sfu (sfu_new on a private loop, bound to 127.0.0.1 port 0)
 * whose loop never runs. A few calls out of the media plane are replaced,
 * by macros that apply to the included files only:
 *
 *   udp_send, udp_slot, udp_commit  what the SFU sends is kept in fx.sent
 *                                   (to, bytes) instead of going to the
 *                                   socket, for the target to check;
 *   stun_parse, dtls_feed,          counted in fx.route, so a target can
 *   sfu_fwd_srtp (from sfu.c)       tell which layer each datagram reached;
 *   pktstore_new, pktstore_free     a freed store is reused (below);
 *   dtls_feed, dtls_srtp_keys       fx_connect() stands in for a DTLS
 *                                   handshake: the next DTLS record of a
 *                                   peer "completes" it, with keys the
 *                                   fixture chose, so the real code path
 *                                   (sfu_on_dtls) keys SRTP and marks the
 *                                   peer connected. Every other record goes
 *                                   to the real DTLS.
 *
 * randombytes (ICE credentials, SSRCs) is a fixed-seed generator reset by
 * fx_begin(), so an input replays the same way. The loop's time is set by
 * fx_begin() and moved by fx_advance().
 *
 * Peers are named by index: 0 the room's publisher, 1..FX_PEERS-1 viewers;
 * each has an owner in the fixture and, once connected, the browser's end
 * of SRTP (fx.browser[i]). Addresses are FX_NADDR fixed ones (IPv4 and
 * IPv6); fx_addr(i). */
#ifndef ONAIR_FUZZ_SFU_FIXTURE_H
#define ONAIR_FUZZ_SFU_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <sanitizer/asan_interface.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "media/dtls.h"
#include "media/pktstore.h"
#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/sdp.h"
#include "media/sfu.h"
#include "media/sfu_int.h"
#include "media/srtpctx.h"
#include "media/stun.h"
#include "media/udp.h"

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond))         \
      __builtin_trap();  \
  } while (0)

#define FX_FN static __attribute__((unused))

#define FX_PEERS 3
#define FX_NADDR 6
#define FX_SENT_MAX 1024 /* datagrams one step may send: 15 NACKs of 64 fit */
#define FX_T0 1000000    /* ms: the loop's time at the start of each input */

struct fx_sent {
  struct sockaddr_storage to;
  socklen_t to_len;
  size_t len;
  uint8_t data[UDP_SLOT_BYTES];
};

static struct {
  uv_loop_t loop;
  struct sfu *sfu;
  struct sfu_room *room;
  struct sfu_owner room_owner, owners[FX_PEERS];
  unsigned media_ready;      /* room_owner's media_ready calls */
  unsigned closed[FX_PEERS]; /* peer_closed calls per owner */
  struct srtpctx *browser[FX_PEERS];
  struct sdp answer[FX_PEERS]; /* onair's last answer to each peer's offer, parsed */
  struct dtls_srtp_keys keys;  /* the next fx_connect()'s, onair's side */
  const struct dtls *connect;  /* the association fx_connect() completes, or NULL */
  uint8_t *slot;               /* the send slot, UDP_SLOT_BYTES on the heap */
  struct fx_sent sent[FX_SENT_MAX];
  size_t nsent;     /* kept in sent[], at most FX_SENT_MAX */
  size_t nsent_all; /* sent, kept or not */
  struct {
    unsigned stun, dtls, srtp;   /* datagrams that reached each layer */
    const struct sfu_peer *peer; /* the last peer SRTP was for */
    const struct dtls *dtls_to;  /* the last association DTLS was fed to */
  } route;
  uint64_t rng;
} fx;

/* ---- what replaces the calls out of the media plane ---- */

static void fx_keep(const uint8_t *data, size_t len, const struct sockaddr *to, socklen_t to_len) {
  struct fx_sent *s;

  FUZZ_CHECK(len > 0 && len <= UDP_SLOT_BYTES && to_len <= sizeof(s->to));
  fx.nsent_all++;
  if (fx.nsent == FX_SENT_MAX)
    return;
  s = &fx.sent[fx.nsent++];
  memcpy(&s->to, to, to_len);
  s->to_len = to_len;
  memcpy(s->data, data, len);
  s->len = len;
}

static void fx_udp_send(struct udp_sock *u, const uint8_t *data, size_t len,
                        const struct sockaddr *to, socklen_t to_len) {
  (void)u;
  fx_keep(data, len, to, to_len);
}

static uint8_t *fx_udp_slot(struct udp_sock *u) {
  (void)u;
  return fx.slot;
}

static void fx_udp_commit(struct udp_sock *u, size_t len, const struct sockaddr *to,
                          socklen_t to_len) {
  (void)u;
  fx_keep(fx.slot, len, to, to_len);
}

static int fx_stun_parse(const uint8_t *p, size_t len, struct stun_msg *m) {
  fx.route.stun++;
  return stun_parse(p, len, m);
}

static enum dtls_state fx_dtls_feed(struct dtls *d, const uint8_t *data, size_t len) {
  fx.route.dtls++;
  fx.route.dtls_to = d;
  if (fx.connect == d) {
    fx.connect = NULL;
    return DTLS_CONNECTED;
  }
  return dtls_feed(d, data, len);
}

static int fx_dtls_srtp_keys(const struct dtls *d, struct dtls_srtp_keys *out) {
  (void)d;
  *out = fx.keys;
  return 0;
}

/* A track's packet store is 1.5 MB, faulted in page by page when the
 * first packet resets it: most of an input's time. A freed store is kept
 * (poisoned, so that ASan still traps a use after free) and handed out
 * again, reset, which is what a new one is to its user. */
static struct pktstore *fx_stores[2 * 4];
static size_t fx_nstores;

static struct pktstore *fx_pktstore_new(size_t slots) {
  struct pktstore *ps;

  if (slots != SFU_STORE_SLOTS || fx_nstores == 0)
    return pktstore_new(slots);
  ps = fx_stores[--fx_nstores];
  ASAN_UNPOISON_MEMORY_REGION(ps, malloc_usable_size(ps));
  pktstore_reset(ps);
  return ps;
}

static void fx_pktstore_free(struct pktstore *ps) {
  if (ps == NULL || pktstore_slots(ps) != SFU_STORE_SLOTS ||
      fx_nstores == sizeof(fx_stores) / sizeof(fx_stores[0])) {
    pktstore_free(ps);
    return;
  }
  ASAN_POISON_MEMORY_REGION(ps, malloc_usable_size(ps));
  fx_stores[fx_nstores++] = ps;
}

#define udp_send fx_udp_send
#define udp_slot fx_udp_slot
#define udp_commit fx_udp_commit
#define stun_parse fx_stun_parse
#define dtls_feed fx_dtls_feed
#define dtls_srtp_keys(d, k) fx_dtls_srtp_keys(d, k) /* not the struct tag */
void fx_route_srtp(struct sfu_peer *p, uint8_t *data, size_t len);
#define sfu_fwd_srtp fx_route_srtp
#define pktstore_new fx_pktstore_new
#define pktstore_free fx_pktstore_free
#include "media/sfu.c"
#undef pktstore_new
#undef pktstore_free
#undef sfu_fwd_srtp
#include "media/sfu_fwd.c"
#include "media/sfu_share.c"
#define pktstore_new fx_pktstore_new
#define pktstore_free fx_pktstore_free
#include "media/fanout.c"
#undef pktstore_new
#undef pktstore_free
#undef udp_send
#undef udp_slot
#undef udp_commit
#undef stun_parse
#undef dtls_feed
#undef dtls_srtp_keys

/* on_datagram's call to sfu_fwd_srtp. */
void fx_route_srtp(struct sfu_peer *p, uint8_t *data, size_t len) {
  fx.route.srtp++;
  fx.route.peer = p;
  sfu_fwd_srtp(p, data, len);
}

/* ---- randombytes: a fixed-seed generator (splitmix64) ---- */

static uint32_t fx_random(void) {
  uint64_t z = (fx.rng += 0x9E3779B97F4A7C15ull);

  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (uint32_t)((z ^ (z >> 31)) >> 16);
}

static void fx_random_buf(void *const buf, const size_t size) {
  for (size_t i = 0; i < size; i++)
    ((uint8_t *)buf)[i] = (uint8_t)fx_random();
}

static const char *fx_random_name(void) { return "fuzz-fixed-seed"; }

static struct randombytes_implementation fx_rng_impl = {
    .implementation_name = fx_random_name,
    .random = fx_random,
    .buf = fx_random_buf,
};

/* ---- addresses, offers ---- */

/* The browser's addresses media may come from. */
FX_FN const struct sockaddr *fx_addr(unsigned i, socklen_t *len) {
  static struct sockaddr_storage ss[FX_NADDR];
  static int made;
  static const char *const hosts[FX_NADDR] = {"127.0.0.1", "127.0.0.1",   "10.1.2.3",
                                              "::1",       "2001:db8::7", "192.0.2.9"};
  static const int ports[FX_NADDR] = {50000, 50001, 9, 50000, 65535, 1};

  if (!made) {
    for (unsigned k = 0; k < FX_NADDR; k++) {
      if (strchr(hosts[k], ':'))
        FUZZ_CHECK(uv_ip6_addr(hosts[k], ports[k], (struct sockaddr_in6 *)&ss[k]) == 0);
      else
        FUZZ_CHECK(uv_ip4_addr(hosts[k], ports[k], (struct sockaddr_in *)&ss[k]) == 0);
    }
    made = 1;
  }
  i %= FX_NADDR;
  *len = ss[i].ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  return (const struct sockaddr *)&ss[i];
}

/* The same address (family, port, bytes)? */
FX_FN int fx_same_addr(const struct sockaddr *a, const struct sockaddr *b) {
  char ka[20], kb[20];
  size_t la = addr_key(a, ka), lb = addr_key(b, kb);

  return la != 0 && la == lb && memcmp(ka, kb, la) == 0;
}

#define FX_SDP_SESSION                                  \
  "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" \
  "a=group:BUNDLE 0 1\r\n"
#define FX_SDP_TRANSPORT                                                                          \
  "c=IN IP4 0.0.0.0\r\na=ice-ufrag:bRoW\r\na=ice-pwd:browserbrowserbrowser22\r\n"                 \
  "a=fingerprint:sha-256 "                                                                        \
  "25:D0:94:14:42:1C:09:2F:07:3E:2E:06:50:89:C9:0E:1D:2B:6B:53:AB:C3:AA:1B:DA:16:09:CC:61:0B:57:" \
  "06\r\na=setup:actpass\r\na=rtcp-mux\r\n"

/* A publisher's offer: Opus 111, and VP8 96 (RTX 97) or, with h264, H.264
 * 102 (RTX 103). */
FX_FN const char *fx_publisher_sdp(int h264) {
  static const char vp8[] =
      FX_SDP_SESSION "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" FX_SDP_TRANSPORT
                     "a=mid:0\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\n"
                     "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n" FX_SDP_TRANSPORT
                     "a=mid:1\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\n"
                     "a=rtcp-fb:96 nack pli\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n";
  static const char h264s[] =
      FX_SDP_SESSION "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" FX_SDP_TRANSPORT
                     "a=mid:0\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\n"
                     "m=video 9 UDP/TLS/RTP/SAVPF 102 103\r\n" FX_SDP_TRANSPORT
                     "a=mid:1\r\na=sendonly\r\na=rtpmap:102 H264/90000\r\n"
                     "a=fmtp:102 packetization-mode=1;profile-level-id=42e01f\r\n"
                     "a=rtpmap:103 rtx/90000\r\na=fmtp:103 apt=102\r\n";

  return h264 ? h264s : vp8;
}

/* A viewer's offer, on payload types of its own: Opus 109, VP8 98 (RTX 99)
 * and H.264 100; audio only when audio_only. */
FX_FN const char *fx_viewer_sdp(int audio_only) {
  static const char both[] =
      FX_SDP_SESSION "m=audio 9 UDP/TLS/RTP/SAVPF 109\r\n" FX_SDP_TRANSPORT
                     "a=mid:0\r\na=recvonly\r\na=rtpmap:109 opus/48000/2\r\n"
                     "m=video 9 UDP/TLS/RTP/SAVPF 98 99 100\r\n" FX_SDP_TRANSPORT
                     "a=mid:1\r\na=recvonly\r\na=rtpmap:98 VP8/90000\r\na=rtcp-fb:98 nack\r\n"
                     "a=rtpmap:99 rtx/90000\r\na=fmtp:99 apt=98\r\na=rtpmap:100 H264/90000\r\n"
                     "a=fmtp:100 packetization-mode=1;profile-level-id=42e01f\r\n";
  static const char audio[] =
      "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
      "m=audio 9 UDP/TLS/RTP/SAVPF 109\r\n" FX_SDP_TRANSPORT
      "a=mid:0\r\na=recvonly\r\na=rtpmap:109 opus/48000/2\r\n";

  return audio_only ? audio : both;
}

/* ---- the fixture ---- */

static void fx_on_ready(struct sfu_owner *owner) {
  FUZZ_CHECK(owner == &fx.room_owner);
  fx.media_ready++;
}

static void fx_on_closed(struct sfu_owner *owner, const char *why) {
  FUZZ_CHECK(owner >= fx.owners && owner < fx.owners + FX_PEERS && why != NULL);
  fx.closed[owner - fx.owners]++;
}

static const struct sfu_owner_ops fx_owner_ops = {
    .media_ready = fx_on_ready,
    .peer_closed = fx_on_closed,
};

/* Once per process: the generator, libsodium, the loop and the SFU. */
FX_FN void fx_init(void) {
  struct sfu_config cfg = {
      .bind = "127.0.0.1", .port = 0, .announce = "192.0.2.1 2001:db8::1", .consent_ms = 30000};

  FUZZ_CHECK(randombytes_set_implementation(&fx_rng_impl) == 0);
  FUZZ_CHECK(sodium_init() >= 0);
  FUZZ_CHECK(uv_loop_init(&fx.loop) == 0);
  FUZZ_CHECK(sfu_new(&fx.loop, &cfg, &fx.sfu) == 0);
  fx.slot = malloc(UDP_SLOT_BYTES);
  FUZZ_CHECK(fx.slot != NULL);
  fx.room_owner.ops = &fx_owner_ops;
  for (size_t i = 0; i < FX_PEERS; i++)
    fx.owners[i].ops = &fx_owner_ops;
}

/* A new input: the same randomness and time as every other. */
FX_FN void fx_reset(void) {
  fx.rng = 0x6F6E616972ull;
  fx.loop.time = FX_T0;
  fx.sfu->ticks = 0;
  fx.media_ready = 0;
  memset(fx.closed, 0, sizeof(fx.closed));
  memset(&fx.route, 0, sizeof(fx.route));
  fx.nsent = fx.nsent_all = 0;
  fx.connect = NULL;
}

/* A new input with a room of the fixture's (fx.room, owned by
 * fx.room_owner); peers are the fixture's by index. */
FX_FN void fx_begin(void) {
  fx_reset();
  fx.room = sfu_room_new(fx.sfu, &fx.room_owner);
  FUZZ_CHECK(fx.room != NULL);
}

/* Peer i's peer in the room, or NULL (never offered, dropped, or closed). */
FX_FN struct sfu_peer *fx_peer(unsigned i) { return room_find(fx.room, &fx.owners[i]); }

/* Every address the SFU maps goes to a live peer of the room that passed a
 * check from it; every ufrag to a live peer with that ufrag. */
FX_FN void fx_check_maps(void) {
  struct map_entry *e;
  size_t slot, live = 0;

  for (e = map_first(&fx.sfu->by_addr, &slot); e; e = map_next(&fx.sfu->by_addr, e, &slot)) {
    struct sfu_peer *p = e->value;
    size_t i;

    FUZZ_CHECK(p == fx.room->publisher || room_find(fx.room, p->owner) == p);
    FUZZ_CHECK(p->state != PEER_CLOSED && p->state != PEER_NEW);
    for (i = 0; i < p->nchecked; i++)
      if (p->checked[i].len == e->key_len && memcmp(p->checked[i].key, e->key, e->key_len) == 0)
        break;
    FUZZ_CHECK(i < p->nchecked);
  }
  for (e = map_first(&fx.sfu->by_ufrag, &slot); e; e = map_next(&fx.sfu->by_ufrag, e, &slot)) {
    struct sfu_peer *p = e->value;

    FUZZ_CHECK(strcmp(p->ufrag, e->key) == 0 && p->state != PEER_CLOSED);
    FUZZ_CHECK(p == fx.room->publisher || room_find(fx.room, p->owner) == p);
    live++;
  }
  /* Every peer in the room, and no other, is live. */
  FUZZ_CHECK(live == (fx.room->publisher ? 1 : 0) + fx.room->nviewers);
  FUZZ_CHECK(live <= fx.sfu->stats.peers);
}

/* Offers for peer i (0: the publisher) and checks the answer parses; it
 * is kept in fx.answer[i]. */
FX_FN int fx_offer(unsigned i, const char *sdp) {
  struct sdp *answer = &fx.answer[i];
  const char *code, *why;
  char *text;
  int rc = sfu_offer(fx.room, i == 0, &fx.owners[i], sdp, strlen(sdp), &text, &code, &why);

  if (rc < 0) {
    FUZZ_CHECK(code != NULL && why != NULL && text == NULL);
    return rc;
  }
  FUZZ_CHECK(sdp_parse(text, strlen(text), answer, &why) == 0);
  FUZZ_CHECK(strcmp(answer->media[0].transport.ufrag, fx_peer(i)->ufrag) == 0);
  free(text);
  return 0;
}

/* Delivers one datagram, as the socket would: in a heap buffer of exactly
 * its size. */
FX_FN void fx_deliver(const uint8_t *data, size_t len, unsigned addr) {
  socklen_t alen;
  const struct sockaddr *from = fx_addr(addr, &alen);
  uint8_t *copy = malloc(len ? len : 1);

  FUZZ_CHECK(copy != NULL);
  memcpy(copy, data, len);
  on_datagram(fx.sfu, copy, len, from, alen);
  free(copy);
}

/* A connectivity check for peer p from address addr, as the browser sends
 * it (with a wrong password when forged). */
FX_FN void fx_check_peer(const struct sfu_peer *p, unsigned addr, int use_candidate, int forged,
                         uint32_t txid) {
  uint8_t out[512], id[STUN_TXID_LEN] = {0};
  char user[64];
  int n;

  memcpy(id, &txid, sizeof(txid));
  snprintf(user, sizeof(user), "%s:bRoW", p->ufrag);
  n = stun_build_binding_request(out, sizeof(out), id, user, 1u << 24, use_candidate, 1, 42,
                                 (const uint8_t *)(forged ? "not-the-password" : p->pwd),
                                 forged ? 16 : strlen(p->pwd));
  FUZZ_CHECK(n > 0);
  fx_deliver(out, (size_t)n, addr);
}

/* The same for the fixture's peer i. Returns 0 if sent. */
FX_FN int fx_check(unsigned i, unsigned addr, int use_candidate, int forged, uint32_t txid) {
  struct sfu_peer *p = fx_peer(i);

  if (p == NULL)
    return -ENOENT;
  fx_check_peer(p, addr, use_candidate, forged, txid);
  return 0;
}

/* Fixed keys for peer i, onair's side in *onair and the browser's in
 * *browser; gcm picks the profile. */
FX_FN void fx_keys(unsigned i, int gcm, struct dtls_srtp_keys *onair,
                   struct dtls_srtp_keys *browser) {
  memset(onair, 0, sizeof(*onair));
  onair->profile = gcm ? DTLS_SRTP_AEAD_AES_128_GCM : DTLS_SRTP_AES128_CM_SHA1_80;
  onair->key_len = DTLS_SRTP_KEY_MAX;
  onair->salt_len = gcm ? 12 : DTLS_SRTP_SALT_MAX;
  for (size_t k = 0; k < DTLS_SRTP_KEY_MAX; k++) {
    onair->local_key[k] = (uint8_t)(0x10 + k + 16 * i);
    onair->remote_key[k] = (uint8_t)(0xA0 + k + 16 * i);
  }
  for (size_t k = 0; k < DTLS_SRTP_SALT_MAX; k++) {
    onair->local_salt[k] = (uint8_t)(0x30 + k + i);
    onair->remote_salt[k] = (uint8_t)(0xC0 + k + i);
  }
  *browser = *onair;
  memcpy(browser->local_key, onair->remote_key, DTLS_SRTP_KEY_MAX);
  memcpy(browser->remote_key, onair->local_key, DTLS_SRTP_KEY_MAX);
  memcpy(browser->local_salt, onair->remote_salt, DTLS_SRTP_SALT_MAX);
  memcpy(browser->remote_salt, onair->local_salt, DTLS_SRTP_SALT_MAX);
}

/* Peer p's DTLS handshake "completes" with the next record from addr:
 * sfu_on_dtls keys SRTP (with fx_keys(i, gcm); the browser's end in
 * *browser) and connects the peer. Returns 0 if it did. */
FX_FN int fx_connect_peer(struct sfu_peer *p, unsigned i, unsigned addr, int gcm,
                          struct dtls_srtp_keys *browser) {
  static const uint8_t record[13] = {22, 0xFE, 0xFD}; /* a DTLS 1.2 handshake record header */

  if (p->state != PEER_CHECKED)
    return -EAGAIN;
  fx_keys(i, gcm, &fx.keys, browser);
  fx.connect = p->dtls;
  fx_deliver(record, sizeof(record), addr);
  fx.connect = NULL;
  return p->state == PEER_CONNECTED ? 0 : -EAGAIN;
}

/* The same for the fixture's peer i, whose browser end is fx.browser[i]. */
FX_FN int fx_connect(unsigned i, unsigned addr, int gcm) {
  struct sfu_peer *p = fx_peer(i);
  struct dtls_srtp_keys browser;

  if (p == NULL || fx_connect_peer(p, i, addr, gcm, &browser) < 0 || fx_peer(i) != p)
    return -EAGAIN;
  srtpctx_free(fx.browser[i]);
  fx.browser[i] = srtpctx_new(&browser);
  FUZZ_CHECK(fx.browser[i] != NULL);
  return 0;
}

/* Moves the loop's time on by ms and runs the SFU's timer, then the safe
 * point where closed peers are freed and their owners told. */
FX_FN void fx_advance(uint64_t ms) {
  fx.loop.time += ms;
  on_timer(&fx.sfu->timer);
  on_reap(&fx.sfu->reaper);
}

/* The input is over: the room goes, and with it every peer. Nothing of it
 * may be left in the SFU. */
FX_FN void fx_end(void) {
  sfu_room_free(fx.room);
  fx.room = NULL;
  on_reap(&fx.sfu->reaper);
  FUZZ_CHECK(fx.sfu->rooms == NULL && fx.sfu->closed == NULL && fx.sfu->stats.peers == 0);
  FUZZ_CHECK(fx.sfu->by_ufrag.count == 0 && fx.sfu->by_addr.count == 0);
  for (size_t i = 0; i < FX_PEERS; i++) {
    srtpctx_free(fx.browser[i]);
    fx.browser[i] = NULL;
  }
}

#endif
