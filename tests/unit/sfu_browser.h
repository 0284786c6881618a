/* Browsers for tests of the media plane (src/media/sfu*.c): a real struct
 * sfu on 127.0.0.1 and "browsers" written here, each a UDP socket (or an
 * ICE-TCP connection), STUN checks from stun.c's request builder, and an
 * OpenSSL DTLS client over memory BIOs whose records go out as datagrams;
 * once connected, each has the browser's end of SRTP and keeps what it
 * receives (decrypted sequence numbers, STUN answers). The tests reach into
 * sfu_int.h to see peers' states. A test includes this after cmocka.h and
 * harness.h and uses setup()/teardown() as its group's fixtures; owners
 * can be told to act from their peer_closed handler (enum act).
 *
 * Used by test_sfu_lifetimes.c and test_sfu_abuse.c. */
#ifndef ONAIR_TEST_SFU_BROWSER_H
#define ONAIR_TEST_SFU_BROWSER_H

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "media/sfu_int.h"
#include "media/stun.h"
#include "net/conn.h"
#include "util/container_of.h"

/* Not every test uses every helper. */
#pragma GCC diagnostic ignored "-Wunused-function"

#define MAX_BROWSERS 8
#define CHECK_EVERY_MS 50 /* a keepalive browser's consent checks */

/* What a browser's peer_closed handler does, besides counting. */
enum act {
  ACT_NONE,
  ACT_END_ROOM,    /* frees the room; the other browsers must not be told */
  ACT_DROP_OTHERS, /* drops every other viewer's peer and frees those browsers */
  ACT_REOFFER,     /* offers again, with its real fingerprint */
  ACT_CLOSE_SFU,   /* closes the whole media plane */
};

struct browser {
  struct sfu_owner owner; /* first: a call through a freed browser reads freed memory at once */
  int publisher;
  int bad_fp; /* its offer names a fingerprint its certificate does not have */
  enum act act;
  int forgotten; /* its room was freed: no call may come */
  int told;      /* peer_closed calls */
  char why[SFU_WHY_MAX];
  int ready; /* media_ready calls (the publisher owns the room) */
  int keepalive;
  uint64_t last_check_ms;
  int fd;              /* UDP, connected to the media port; -1 over ICE-TCP */
  struct tclient *tcp; /* ICE-TCP (RFC 4571 framing) */
  SSL_CTX *ctx;
  SSL *ssl;
  BIO *in, *out;
  EVP_PKEY *key;
  X509 *cert;
  char fp[DTLS_FINGERPRINT_MAX];
  int dtls_started, hold;
  uint8_t held[4096]; /* hold: the next DTLS flight, kept instead of sent */
  size_t held_len;
  char ufrag[SFU_ICE_UFRAG_LEN + 1], pwd[SFU_ICE_PWD_LEN + 1]; /* onair's, from the answer */
  struct srtpctx *srtp;
  struct dtls_srtp_keys keys; /* srtp's */
  uint16_t seq;
  int stun_ok, stun_err;
  int media_in;           /* SRTP datagrams received */
  int last_error;         /* ERROR-CODE of the last STUN error answer */
  uint16_t rtp_seq[4096]; /* sequence numbers of the RTP received */
  size_t nrtp;
  uint32_t rtp_ssrc; /* of the last one */
};

static struct {
  uv_loop_t loop;
  struct sfu *sfu;
  struct sfu_room *room;
  struct browser *b[MAX_BROWSERS]; /* NULL once freed */
  struct conn_listener tcp;
  int tcp_open;
} w;

/* ---- owners ------------------------------------------------------------- */

static int browser_index(const struct browser *b) {
  for (int i = 0; i < MAX_BROWSERS; i++) {
    if (w.b[i] == b)
      return i;
  }
  return -1;
}

static void browser_free(struct browser *b);
static void browser_offer(struct browser *b);

static void on_ready(struct sfu_owner *o) {
  struct browser *b = container_of(o, struct browser, owner);
  if (browser_index(b) < 0)
    fail_msg("media_ready for a freed owner");
  b->ready++;
}

static void end_room(struct browser *self) {
  sfu_room_free(w.room);
  w.room = NULL;
  for (int i = 0; i < MAX_BROWSERS; i++) {
    if (w.b[i] && w.b[i] != self)
      w.b[i]->forgotten = 1;
  }
}

static void drop_others(struct browser *self) {
  if (w.room == NULL)
    return;
  for (int i = 0; i < MAX_BROWSERS; i++) {
    struct browser *o = w.b[i];
    if (o && o != self && !o->publisher && !o->told) {
      sfu_drop(w.room, &o->owner);
      browser_free(o);
    }
  }
}

/* The owner's end: where live.c sends media.closed. */
static void on_closed(struct sfu_owner *o, const char *why) {
  struct browser *b = container_of(o, struct browser, owner);
  if (browser_index(b) < 0)
    fail_msg("peer_closed (%s) for an owner that dropped its peer", why);
  if (b->forgotten)
    fail_msg("peer_closed (%s) after the owner's room was freed", why);
  if (w.sfu == NULL)
    fail_msg("peer_closed (%s) after sfu_close()", why);
  b->told++;
  snprintf(b->why, sizeof(b->why), "%s", why);
  switch (b->act) {
  case ACT_NONE: break;
  case ACT_END_ROOM: end_room(b); break;
  case ACT_DROP_OTHERS: drop_others(b); break;
  case ACT_REOFFER:
    b->bad_fp = 0;
    browser_offer(b);
    break;
  case ACT_CLOSE_SFU:
    sfu_close(w.sfu); /* frees the rooms too */
    w.sfu = NULL;
    w.room = NULL;
    break;
  }
}

static const struct sfu_owner_ops owner_ops = {.media_ready = on_ready, .peer_closed = on_closed};

/* ---- browsers: transport ------------------------------------------------ */

static void browser_send(struct browser *b, const void *data, size_t len) {
  if (b->tcp) {
    uint8_t frame[2 + 4096];
    assert_true(len <= sizeof(frame) - 2);
    frame[0] = (uint8_t)(len >> 8);
    frame[1] = (uint8_t)len;
    memcpy(frame + 2, data, len);
    tclient_send(b->tcp, frame, len + 2);
    return;
  }
  assert_int_equal(send(b->fd, data, len, 0), (ssize_t)len);
}

static void browser_check(struct browser *b) {
  uint8_t msg[512], txid[STUN_TXID_LEN];
  char user[64];
  for (size_t i = 0; i < sizeof(txid); i++)
    txid[i] = (uint8_t)rand();
  snprintf(user, sizeof(user), "%s:%s", b->ufrag, "brws");
  int n = stun_build_binding_request(msg, sizeof(msg), txid, user, 0x6e7f1eff, 1, 1, 42,
                                     (const uint8_t *)b->pwd, strlen(b->pwd));
  assert_true(n > 0);
  browser_send(b, msg, (size_t)n);
  b->last_check_ms = uv_now(&w.loop);
}

/* Sends what the DTLS client wrote, one datagram per flight (records of a
 * flight together, as a browser packs them), or keeps it when holding. */
static void browser_flush(struct browser *b) {
  size_t pending;
  while ((pending = BIO_ctrl_pending(b->out)) > 0) {
    uint8_t buf[4096];
    assert_true(pending <= UDP_SLOT_BYTES);
    int n = BIO_read(b->out, buf, (int)pending);
    assert_int_equal(n, (int)pending);
    if (b->hold) {
      assert_true(b->held_len + (size_t)n <= sizeof(b->held));
      memcpy(b->held + b->held_len, buf, (size_t)n);
      b->held_len += (size_t)n;
    } else {
      browser_send(b, buf, (size_t)n);
    }
  }
}

/* A viewer keeps the sequence number (from the clear header: a packet
 * resent for a NACK is the same datagram again, which the viewer's own
 * SRTP would refuse as a replay) and SSRC of each RTP packet it gets (RTCP,
 * payload types 200-206, is not kept). */
static void browser_rtp_in(struct browser *b, const uint8_t *p, size_t len) {
  if (b->publisher || len < 12 || ((p[1] & 0x7f) >= 72 && (p[1] & 0x7f) <= 78))
    return;
  if (b->nrtp < sizeof(b->rtp_seq) / sizeof(b->rtp_seq[0]))
    b->rtp_seq[b->nrtp++] = (uint16_t)(p[2] << 8 | p[3]);
  b->rtp_ssrc = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
}

static void browser_packet(struct browser *b, const uint8_t *p, size_t len) {
  if (len == 0)
    return;
  if (p[0] <= 3) {
    struct stun_msg m;
    assert_int_equal(stun_parse(p, len, &m), 0);
    b->stun_ok += m.type == STUN_BINDING_SUCCESS;
    b->stun_err += m.type == STUN_BINDING_ERROR;
    if (m.type == STUN_BINDING_ERROR)
      b->last_error = m.error_code;
  } else if (p[0] >= 20 && p[0] <= 63) {
    if (b->ssl && b->dtls_started) /* not what an earlier association was sent */
      BIO_write(b->in, p, (int)len);
  } else if (p[0] >= 128 && p[0] <= 191) {
    b->media_in++;
    browser_rtp_in(b, p, len);
  }
}

/* Reads what came, answers DTLS, keeps consent fresh when asked to. */
static void browser_poll(struct browser *b) {
  uint8_t buf[4096];
  if (b->tcp) {
    while (b->tcp->len >= 2) {
      size_t n = (size_t)(b->tcp->buf[0] << 8 | b->tcp->buf[1]);
      if (b->tcp->len < 2 + n)
        break;
      browser_packet(b, b->tcp->buf + 2, n);
      memmove(b->tcp->buf, b->tcp->buf + 2 + n, b->tcp->len - 2 - n);
      b->tcp->len -= 2 + n;
    }
  } else {
    ssize_t n;
    while ((n = recv(b->fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0)
      browser_packet(b, buf, (size_t)n);
  }
  if (b->ssl && b->dtls_started) {
    if (!SSL_is_init_finished(b->ssl))
      SSL_do_handshake(b->ssl);
    else
      SSL_read(b->ssl, buf, sizeof(buf)); /* alerts */
    browser_flush(b);
  }
  if (b->keepalive && uv_now(&w.loop) - b->last_check_ms >= CHECK_EVERY_MS)
    browser_check(b);
}

static void poll_all(void) {
  for (int i = 0; i < MAX_BROWSERS; i++) {
    if (w.b[i])
      browser_poll(w.b[i]);
  }
}

struct until {
  int (*fn)(struct browser *b);
  struct browser *b;
};

static int until_cond(void *arg) {
  struct until *u = arg;
  poll_all();
  return u->fn(u->b);
}

/* Runs the loop, polling every browser, until fn(b) holds. */
static void wait_for(int (*fn)(struct browser *), struct browser *b, const char *what) {
  struct until u = {fn, b};
  if (!harness_wait_until(until_cond, &u))
    fail_msg("timed out waiting for %s", what);
}

/* ---- browsers: identity and offers ---------------------------------------- */

static int accept_any(int ok, X509_STORE_CTX *s) { return 1; }

static void browser_dtls_new(struct browser *b) {
  if (b->ssl)
    SSL_free(b->ssl);
  b->ssl = SSL_new(b->ctx);
  b->in = BIO_new(BIO_s_mem());
  b->out = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(b->in, -1);
  SSL_set_bio(b->ssl, b->in, b->out);
  SSL_set_connect_state(b->ssl);
  SSL_set_options(b->ssl, SSL_OP_NO_QUERY_MTU);
  DTLS_set_link_mtu(b->ssl, 1200);
  b->dtls_started = 0;
}

static void browser_identity(struct browser *b) {
  b->key = EVP_EC_gen("P-256");
  X509 *c = b->cert = X509_new();
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), 11);
  X509_gmtime_adj(X509_getm_notBefore(c), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c), 3600);
  X509_set_pubkey(c, b->key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC,
                             (const unsigned char *)"browser", -1, -1, 0);
  X509_set_issuer_name(c, X509_get_subject_name(c));
  X509_sign(c, b->key, EVP_sha256());
  unsigned char md[32];
  unsigned int n;
  X509_digest(c, EVP_sha256(), md, &n);
  size_t at = (size_t)snprintf(b->fp, sizeof(b->fp), "sha-256 ");
  for (unsigned i = 0; i < n; i++)
    at += (size_t)snprintf(b->fp + at, sizeof(b->fp) - at, i ? ":%02X" : "%02X", md[i]);
  b->ctx = SSL_CTX_new(DTLS_client_method());
  SSL_CTX_use_certificate(b->ctx, b->cert);
  SSL_CTX_use_PrivateKey(b->ctx, b->key);
  SSL_CTX_set_verify(b->ctx, SSL_VERIFY_PEER, accept_any);
  assert_int_equal(SSL_CTX_set_tlsext_use_srtp(b->ctx, "SRTP_AEAD_AES_128_GCM"), 0);
}

/* A browser on UDP, or over ICE-TCP to tcp_port when it is not 0. */
static struct browser *browser_new(int publisher, int tcp_port) {
  struct browser *b = calloc(1, sizeof(*b));
  assert_non_null(b);
  int i = browser_index(NULL);
  assert_true(i >= 0);
  w.b[i] = b;
  b->owner.ops = &owner_ops;
  b->publisher = publisher;
  b->fd = -1;
  if (tcp_port) {
    b->tcp = tclient_open(tcp_port);
  } else {
    b->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(b->fd >= 0);
    struct sockaddr_in to;
    uv_ip4_addr("127.0.0.1", sfu_port(w.sfu), &to);
    assert_int_equal(connect(b->fd, (struct sockaddr *)&to, sizeof(to)), 0);
  }
  browser_identity(b);
  browser_dtls_new(b);
  return b;
}

static void browser_free(struct browser *b) {
  w.b[browser_index(b)] = NULL;
  if (b->fd >= 0)
    close(b->fd);
  if (b->tcp)
    tclient_close(b->tcp);
  srtpctx_free(b->srtp);
  SSL_free(b->ssl);
  SSL_CTX_free(b->ctx);
  X509_free(b->cert);
  EVP_PKEY_free(b->key);
  free(b);
}

/* A captured Chromium offer with b's fingerprint (or a wrong one). */
static char *offer_text(const struct browser *b) {
  const char *name = b->publisher ? "chromium_publisher.sdp" : "chromium_viewer.sdp";
  const char *slash = strrchr(__FILE__, '/');
  char path[1024];
  snprintf(path, sizeof(path), "%.*s/sdp/%s", slash ? (int)(slash - __FILE__) : 1,
           slash ? __FILE__ : ".", name);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char fp[DTLS_FINGERPRINT_MAX];
  snprintf(fp, sizeof(fp), "%s", b->fp);
  if (b->bad_fp)
    fp[8] = fp[8] == '0' ? '1' : '0';
  size_t cap = 64 * 1024, len = 0;
  char *out = malloc(cap), line[2048];
  assert_non_null(out);
  while (fgets(line, sizeof(line), f)) {
    if (strncmp(line, "a=fingerprint:", 14) == 0)
      snprintf(line, sizeof(line), "a=fingerprint:%s\r\n", fp);
    size_t n = strlen(line);
    assert_true(len + n < cap);
    memcpy(out + len, line, n + 1);
    len += n;
  }
  fclose(f);
  return out;
}

static void answer_attr(const char *answer, const char *attr, char *out, size_t cap) {
  const char *p = strstr(answer, attr);
  assert_non_null(p);
  p += strlen(attr);
  size_t n = strcspn(p, "\r\n");
  assert_true(n < cap);
  memcpy(out, p, n);
  out[n] = 0;
}

/* Offers (again); the browser's DTLS starts over. */
static void browser_offer(struct browser *b) {
  char *sdp = offer_text(b), *answer = NULL;
  const char *code = NULL, *why = NULL;
  int rc = sfu_offer(w.room, b->publisher, &b->owner, sdp, strlen(sdp), &answer, &code, &why);
  free(sdp);
  if (rc < 0)
    fail_msg("offer refused: %s (%s)", code, why);
  answer_attr(answer, "a=ice-ufrag:", b->ufrag, sizeof(b->ufrag));
  answer_attr(answer, "a=ice-pwd:", b->pwd, sizeof(b->pwd));
  free(answer);
  browser_dtls_new(b);
  b->stun_ok = 0;
}

/* ---- conditions ------------------------------------------------------------ */

static struct sfu_peer *peer_of(const struct browser *b) {
  if (w.sfu == NULL)
    return NULL;
  return map_get(&w.sfu->by_ufrag, b->ufrag, strlen(b->ufrag));
}

static int has_stun_ok(struct browser *b) { return b->stun_ok > 0; }
static int has_stun_err(struct browser *b) { return b->stun_err > 0; }
static int was_told(struct browser *b) { return b->told > 0; }
static int has_held(struct browser *b) { return b->held_len > 0; }
static int got_media(struct browser *b) { return b->media_in > 0; }

static int is_connected(struct browser *b) {
  struct sfu_peer *p = peer_of(b);
  return p && p->state == PEER_CONNECTED && SSL_is_init_finished(b->ssl);
}

static int room_peers_none(struct browser *b) { return w.sfu == NULL || w.sfu->stats.peers == 0; }

/* ---- what browsers do ------------------------------------------------------ */

static void browser_start_dtls(struct browser *b) {
  b->dtls_started = 1;
  SSL_do_handshake(b->ssl);
  browser_flush(b);
}

/* The client's SRTP keys (RFC 5764 4.2: client key, server key, client
 * salt, server salt). */
static void browser_srtp(struct browser *b) {
  const SRTP_PROTECTION_PROFILE *prof = SSL_get_selected_srtp_profile(b->ssl);
  assert_non_null(prof);
  assert_int_equal(prof->id, SRTP_AEAD_AES_128_GCM);
  size_t kl = 16, sl = 12;
  uint8_t m[56];
  assert_int_equal(
      SSL_export_keying_material(b->ssl, m, 2 * (kl + sl), "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0),
      1);
  struct dtls_srtp_keys k = {.profile = DTLS_SRTP_AEAD_AES_128_GCM, .key_len = kl, .salt_len = sl};
  memcpy(k.local_key, m, kl);
  memcpy(k.remote_key, m + kl, kl);
  memcpy(k.local_salt, m + 2 * kl, sl);
  memcpy(k.remote_salt, m + 2 * kl + sl, sl);
  srtpctx_free(b->srtp); /* of an earlier association */
  b->srtp = srtpctx_new(&k);
  b->keys = k;
  assert_non_null(b->srtp);
}

/* A check, then DTLS to the end: connected on both sides. */
static void browser_connect(struct browser *b) {
  browser_check(b);
  wait_for(has_stun_ok, b, "the check's answer");
  browser_start_dtls(b);
  wait_for(is_connected, b, "DTLS");
  browser_srtp(b);
}

enum { PUB_KEY = 1, PUB_MARKER = 2, PUB_BIG = 4 }; /* publisher_rtp*()'s keyframe */

/* A VP8 packet (a keyframe's first, or an interframe's) numbered seq,
 * protected by srtp (the publisher's, or another context with its keys),
 * sent now. */

static void publisher_rtp_with(struct browser *b, struct srtpctx *srtp, int keyframe,
                               uint16_t seq) {
  uint8_t pkt[1200] = {0x80, 96, 0, 0, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44};
  static const uint8_t key[] = {0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00};
  static const uint8_t inter[] = {0x10, 0x01, 0x00, 0x00, 0x00, 0x00};
  uint32_t ts = (uint32_t)seq * 3000;
  pkt[2] = (uint8_t)(seq >> 8);
  pkt[3] = (uint8_t)seq;
  pkt[4] = (uint8_t)(ts >> 24);
  pkt[5] = (uint8_t)(ts >> 16);
  pkt[6] = (uint8_t)(ts >> 8);
  pkt[7] = (uint8_t)ts;
  if (keyframe & PUB_MARKER)
    pkt[1] |= 0x80;
  memcpy(pkt + 12, keyframe & PUB_KEY ? key : inter,
         keyframe & PUB_KEY ? sizeof(key) : sizeof(inter));
  size_t len = keyframe & PUB_BIG ? 12 + 1000 : 12 + 100;
  assert_int_equal(srtpctx_protect_rtp(srtp, pkt, &len, sizeof(pkt)), 0);
  browser_send(b, pkt, len);
}

static void publisher_rtp_at(struct browser *b, int keyframe, uint16_t seq) {
  publisher_rtp_with(b, b->srtp, keyframe, seq);
}

/* The same with the publisher's next sequence number. */
static void publisher_rtp(struct browser *b, int keyframe) {
  publisher_rtp_at(b, keyframe, ++b->seq);
}

/* An RTCP packet protected by b's SRTP, sent now. */
static void browser_rtcp(struct browser *b, const uint8_t *rtcp, size_t len) {
  uint8_t pkt[1500];
  assert_true(len + 64 <= sizeof(pkt));
  memcpy(pkt, rtcp, len);
  assert_int_equal(srtpctx_protect_rtcp(b->srtp, pkt, &len, sizeof(pkt)), 0);
  browser_send(b, pkt, len);
}

/* close_notify, sent now. */
static void browser_shutdown(struct browser *b) {
  b->dtls_started = 0;
  SSL_shutdown(b->ssl);
  uint8_t buf[2048];
  int n = BIO_read(b->out, buf, sizeof(buf));
  assert_true(n > 0);
  browser_send(b, buf, (size_t)n);
}

/* ---- the world ------------------------------------------------------------- */

static int sniff(void *arg, struct conn *c, const uint8_t *data, size_t len) {
  int rc = sfu_tcp_sniff(data, len);
  return rc == 1 ? sfu_tcp_take(arg, c, data, len) : rc;
}

static void not_ice(struct conn *c, const uint8_t *data, size_t len) { conn_close_soon(c); }
static const struct conn_ops not_ice_ops = {.on_data = not_ice};
static void on_accept(struct conn *c) { c->ops = &not_ice_ops; }

/* Worker threads of the media plane a test's setup starts (0: none, as
 * most tests want: everything on the test's loop). */
static unsigned setup_workers;
static unsigned setup_hold_ms; /* their sfu_config.hold_ms */

static int setup(void **state) {
  memset(&w, 0, sizeof(w));
  if (harness_init(&w.loop) != 0)
    return -1;
  struct sfu_config cfg = {.bind = "127.0.0.1",
                           .port = 0,
                           .announce = "127.0.0.1",
                           .consent_ms = 30000,
                           .workers = setup_workers,
                           .hold_ms = setup_hold_ms};
  if (sfu_new(&w.loop, &cfg, &w.sfu) < 0)
    return -1;
  if (conn_listener_init(&w.tcp, &w.loop, on_accept, NULL) < 0)
    return -1;
  conn_listener_set_sniffer(&w.tcp, sniff, w.sfu);
  if (conn_listener_start(&w.tcp, "127.0.0.1", 0) < 0)
    return -1;
  w.tcp_open = 1;
  sfu_set_tcp_port(w.sfu, conn_listener_port(&w.tcp));
  return 0;
}

static int teardown(void **state) {
  for (int i = 0; i < MAX_BROWSERS; i++) {
    if (w.b[i])
      browser_free(w.b[i]);
  }
  if (w.room)
    sfu_room_free(w.room);
  if (w.sfu) {
    /* Nothing is left on the list of closed peers (all were reaped). */
    assert_null(w.sfu->closed);
    sfu_close(w.sfu);
  }
  if (w.tcp_open)
    conn_listener_close(&w.tcp, NULL);
  return harness_finish() == 0 ? 0 : -1;
}

/* A room with a connected publisher (that owns it) and n connected viewers. */
static struct browser *room_with_viewers(struct browser **v, int n) {
  struct browser *pub = browser_new(1, 0);
  w.room = sfu_room_new(w.sfu, &pub->owner);
  assert_non_null(w.room);
  browser_offer(pub);
  browser_connect(pub);
  assert_int_equal(pub->ready, 1);
  for (int i = 0; i < n; i++) {
    v[i] = browser_new(0, 0);
    browser_offer(v[i]);
    browser_connect(v[i]);
  }
  return pub;
}

/* Every browser checks once, all in one recvmmsg batch: they share one
 * last_stun_ms, so they lose consent in the same tick of the timer. */
static void checks_in_one_batch(struct browser **all, int n) {
  for (int i = 0; i < n; i++)
    browser_check(all[i]);
  for (int i = 0; i < n; i++)
    wait_for(has_stun_ok, all[i], "the batch's answers");
}

#endif
