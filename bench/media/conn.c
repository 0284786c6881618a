/* One peer's transport, the client side of it: ICE connectivity checks
 * (sent to an ICE-lite server, or answered for a full agent that checks us),
 * a DTLS client handshake through memory BIOs that offers exactly one SRTP
 * profile, the server's certificate checked against its SDP fingerprint, and
 * libsrtp2 sessions keyed from the DTLS exporter (RFC 5764). */
#include "mb.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "media/stun.h"

#ifdef MB_HAVE_NSS
#include <nss.h>
#endif

#define CHECK_EVERY_NS 100000000LL /* 100 ms between checks */
#define CHECKS_MAX 100             /* 10 s of checks */
#define CONSENT_EVERY_NS 5000000000LL
#define DTLS_FIRST_US 200000 /* first DTLS retransmission after 200 ms */

const char *mb_profile_name(int gcm) {
  return gcm ? "SRTP_AEAD_AES_128_GCM" : "SRTP_AES128_CM_SHA1_80";
}

static int accept_any(int ok, X509_STORE_CTX *ctx) { return 1; } /* SDP fingerprint decides */

static int fingerprint_of(X509 *cert, char *out, size_t cap) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n, i;
  size_t o = 0;

  if (!X509_digest(cert, EVP_sha256(), md, &n) || cap < n * 3)
    return -1;
  for (i = 0; i < n; i++)
    o += (size_t)snprintf(out + o, cap - o, i ? ":%02X" : "%02X", md[i]);
  return 0;
}

static X509 *self_signed(EVP_PKEY *key) {
  X509 *x = X509_new();

  if (!x)
    return NULL;
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 30L * 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             (const unsigned char *)"onair-media-bench", -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  if (!X509_sign(x, key, EVP_sha256())) {
    X509_free(x);
    return NULL;
  }
  return x;
}

/* Debian's libsrtp2 runs on NSS, and each of its ciphers opens NSS with
 * NSS_INIT_OPTIMIZESPACE, under which the softoken's session tables have
 * 32 buckets instead of 1,024. Each PK11_Encrypt or PK11_Decrypt (one per
 * SRTP call) walks such a table's chain for the handle it takes, and the
 * chains grow with the keys: one SRTCP protection took 1.3 us with 100
 * viewers' contexts, 8.4 us with 1,000, 21 us with 2,000. Opened here
 * first without that flag (libsrtp2's later NSS_InitContext calls share
 * it): 1.1 us with 1,000, 1.7 with 2,000. */
int mb_srtp_init(void) {
#ifdef MB_HAVE_NSS
  if (!NSS_IsInitialized() &&
      !NSS_InitContext("", "", "", "", NULL,
                       NSS_INIT_READONLY | NSS_INIT_NOCERTDB | NSS_INIT_NOMODDB |
                           NSS_INIT_FORCEOPEN | NSS_INIT_NOROOTINIT))
    mb_log("NSS_InitContext failed: libsrtp2 opens NSS itself (slower with many viewers)");
#endif
  return srtp_init() == srtp_err_status_ok ? 0 : -1;
}

int mb_dtls_init(struct mb_dtls *d, int gcm) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *cert = key ? self_signed(key) : NULL;
  int rc = -1;

  memset(d, 0, sizeof(*d));
  d->gcm = gcm;
  if (!cert || !(d->ctx = SSL_CTX_new(DTLS_client_method())))
    goto out;
  SSL_CTX_set_min_proto_version(d->ctx, DTLS1_2_VERSION);
  if (SSL_CTX_use_certificate(d->ctx, cert) != 1 || SSL_CTX_use_PrivateKey(d->ctx, key) != 1 ||
      SSL_CTX_set_tlsext_use_srtp(d->ctx, mb_profile_name(gcm)) != 0)
    goto out;
  SSL_CTX_set_verify(d->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);
  rc = fingerprint_of(cert, d->fingerprint, sizeof(d->fingerprint));
out:
  X509_free(cert);
  EVP_PKEY_free(key);
  return rc;
}

int mb_udp_socket(const char *host, unsigned rcvbuf) {
  struct sockaddr_in a = {.sin_family = AF_INET};
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
  int buf = (int)rcvbuf;

  if (fd < 0)
    return -errno;
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    close(fd);
    return -EINVAL;
  }
  if (rcvbuf)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
  setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  return fd;
}

/* The viewers' network (run-media.sh's VIEWER_NET=veth): their sockets are
 * made in another network namespace, bound to its address, so what the
 * server sends them crosses a veth whose receiving side (GRO, threaded
 * NAPI) runs on the emulator's CPUs, as a viewer's kernel would on its own
 * machine. The rest of the process stays where it started. */
static int viewer_ns = -1, home_ns = -1;
static char viewer_host[64];

int mb_viewer_net(const char *spec) {
  char path[256];
  const char *comma = strchr(spec, ',');

  if (!comma || (size_t)(comma - spec) >= sizeof(path) || strlen(comma + 1) >= sizeof(viewer_host))
    return mb_log("--viewer-net takes NETNS_PATH,ADDRESS"), -1;
  memcpy(path, spec, (size_t)(comma - spec));
  path[comma - spec] = '\0';
  snprintf(viewer_host, sizeof(viewer_host), "%s", comma + 1);
  viewer_ns = open(path, O_RDONLY | O_CLOEXEC);
  home_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (viewer_ns < 0 || home_ns < 0)
    return mb_log("cannot open network namespaces %s and our own: %s", path, strerror(errno)), -1;
  return 0;
}

int mb_viewer_socket(const char *host, unsigned rcvbuf) {
  int fd;

  if (viewer_ns < 0)
    return mb_udp_socket(host, rcvbuf);
  if (setns(viewer_ns, CLONE_NEWNET) < 0)
    return -errno;
  fd = mb_udp_socket(viewer_host, rcvbuf);
  if (setns(home_ns, CLONE_NEWNET) < 0) {
    mb_log("cannot go back to our network namespace: %s", strerror(errno));
    abort();
  }
  return fd;
}

void mb_conn_init(struct mb_conn *c, int fd, int controlling) {
  memset(c, 0, sizeof(*c));
  c->fd = fd;
  c->controlling = controlling;
  mb_rand_ice(c->lufrag, 4);
  mb_rand_ice(c->lpwd, 24);
}

void mb_conn_free(struct mb_conn *c) {
  if (c->ssl)
    SSL_free(c->ssl);
  if (c->tx)
    srtp_dealloc(c->tx);
  if (c->rx)
    srtp_dealloc(c->rx);
  c->ssl = NULL;
  c->tx = c->rx = NULL;
}

static void conn_fail(struct mb_conn *c, const char *why) {
  c->state = CONN_FAILED;
  c->why = why;
}

static void send_to(struct mb_conn *c, const void *p, size_t len) {
  sendto(c->fd, p, len, 0, (const struct sockaddr *)&c->remote, sizeof(c->remote));
}

static void send_check(struct mb_conn *c, int use_candidate) {
  uint8_t buf[512];
  char user[200];
  uint64_t tie;
  int n;

  snprintf(user, sizeof(user), "%s:%s", c->rufrag, c->lufrag);
  mb_rand(c->txid, sizeof(c->txid));
  mb_rand(&tie, sizeof(tie));
  n = stun_build_binding_request(buf, sizeof(buf), c->txid, user, 0x6e7f1eff, use_candidate, 1, tie,
                                 (const uint8_t *)c->rpwd, strlen(c->rpwd));
  if (n > 0)
    send_to(c, buf, (size_t)n);
  c->checks++;
}

/* Sends what OpenSSL wrote, whole records packed into datagrams of at
 * most MB_DTLS_MTU bytes: a memory BIO runs a flight's records together,
 * and a server may read datagrams into buffers of an Ethernet MTU. */
static void dtls_flush(struct mb_conn *c) {
  uint8_t buf[16384];
  BIO *wb = SSL_get_wbio(c->ssl);
  int n;

  while ((n = BIO_read(wb, buf, sizeof(buf))) > 0) {
    size_t off = 0, start = 0;
    while (off + 13 <= (size_t)n) {
      size_t rec = 13 + (size_t)(buf[off + 11] << 8 | buf[off + 12]);
      if (off + rec > (size_t)n)
        rec = (size_t)n - off;
      if (off > start && off + rec - start > MB_DTLS_MTU) {
        send_to(c, buf + start, off - start);
        start = off;
      }
      off += rec;
    }
    if ((size_t)n > start)
      send_to(c, buf + start, (size_t)n - start);
  }
}

static unsigned int dtls_timer(SSL *ssl, unsigned int previous_us) {
  if (previous_us == 0)
    return DTLS_FIRST_US;
  return previous_us >= 2000000 ? 2000000 : previous_us * 2;
}

static void dtls_start(struct mb_conn *c, struct mb_dtls *d, int64_t now) {
  BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());

  c->state = CONN_DTLS;
  if (!rb || !wb || !(c->ssl = SSL_new(d->ctx))) {
    BIO_free(rb);
    BIO_free(wb);
    conn_fail(c, "SSL_new");
    return;
  }
  BIO_set_mem_eof_return(rb, -1);
  SSL_set_bio(c->ssl, rb, wb);
  SSL_set_options(c->ssl, SSL_OP_NO_QUERY_MTU);
  DTLS_set_link_mtu(c->ssl, MB_DTLS_MTU);
  DTLS_set_timer_cb(c->ssl, dtls_timer);
  SSL_set_connect_state(c->ssl);
  SSL_do_handshake(c->ssl);
  dtls_flush(c);
}

static int srtp_session(srtp_t *s, int gcm, int inbound, const uint8_t *key) {
  srtp_policy_t pol;

  memset(&pol, 0, sizeof(pol));
  if (gcm) {
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
  } else {
    srtp_crypto_policy_set_rtp_default(&pol.rtp);
    srtp_crypto_policy_set_rtcp_default(&pol.rtcp);
  }
  pol.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
  pol.key = (unsigned char *)key;
  pol.window_size = 1024;
  pol.allow_repeat_tx = 1;
  return srtp_create(s, &pol) == srtp_err_status_ok ? 0 : -1;
}

/* RFC 5764 4.2: client key, server key, client salt, server salt. */
static int dtls_keys(struct mb_conn *c, struct mb_dtls *d) {
  size_t kl = 16, sl = d->gcm ? 12 : 14;
  uint8_t km[2 * (16 + 14)], tx[16 + 14], rx[16 + 14];
  const SRTP_PROTECTION_PROFILE *prof = SSL_get_selected_srtp_profile(c->ssl);
  X509 *peer = SSL_get1_peer_certificate(c->ssl);
  char fp[128];
  int rc;

  rc = peer ? fingerprint_of(peer, fp, sizeof(fp)) : -1;
  X509_free(peer);
  if (rc < 0 || strcasecmp(fp, c->rfp) != 0)
    return conn_fail(c, "the server's certificate does not match its SDP fingerprint"), -1;
  if (!prof || strcmp(prof->name, mb_profile_name(d->gcm)) != 0)
    return conn_fail(c, "no SRTP profile negotiated"), -1;
  if (SSL_export_keying_material(c->ssl, km, 2 * (kl + sl), "EXTRACTOR-dtls_srtp", 19, NULL, 0,
                                 0) != 1)
    return conn_fail(c, "DTLS exporter failed"), -1;
  memcpy(tx, km, kl);
  memcpy(tx + kl, km + 2 * kl, sl);
  memcpy(rx, km + kl, kl);
  memcpy(rx + kl, km + 2 * kl + sl, sl);
  if (srtp_session(&c->tx, d->gcm, 0, tx) < 0 || srtp_session(&c->rx, d->gcm, 1, rx) < 0)
    return conn_fail(c, "srtp_create failed"), -1;
  c->state = CONN_UP;
  return 1;
}

static int dtls_input(struct mb_conn *c, struct mb_dtls *d, const uint8_t *p, size_t len) {
  uint8_t junk[2048];
  int rc;

  if (!c->ssl)
    return 0;
  BIO_write(SSL_get_rbio(c->ssl), p, (int)len);
  if (c->state == CONN_DTLS) {
    rc = SSL_do_handshake(c->ssl);
    dtls_flush(c);
    if (rc == 1)
      return dtls_keys(c, d);
    if (SSL_get_error(c->ssl, rc) != SSL_ERROR_WANT_READ)
      conn_fail(c, "DTLS handshake failed");
    return c->state == CONN_FAILED ? -1 : 0;
  }
  while (SSL_read(c->ssl, junk, sizeof(junk)) > 0) {
  }
  if (SSL_get_shutdown(c->ssl) & SSL_RECEIVED_SHUTDOWN)
    return conn_fail(c, "DTLS closed by the server"), -1;
  return 0;
}

/* A check from a full agent (Janus): answered with our pwd; the first one
 * names the path and starts DTLS. */
static int stun_request(struct mb_conn *c, struct mb_dtls *d, const uint8_t *p, size_t len,
                        const struct stun_msg *m, const struct sockaddr_in *from, int64_t now) {
  size_t ul = strlen(c->lufrag);
  uint8_t out[512];
  int n;

  if (!m->username || m->username_len <= ul || memcmp(m->username, c->lufrag, ul) != 0 ||
      m->username[ul] != ':' ||
      stun_check_integrity(p, len, m, (const uint8_t *)c->lpwd, strlen(c->lpwd)) < 0)
    return 0;
  n = stun_build_binding_success(out, sizeof(out), m->txid, (const struct sockaddr *)from,
                                 (const uint8_t *)c->lpwd, strlen(c->lpwd));
  if (n > 0)
    sendto(c->fd, out, (size_t)n, 0, (const struct sockaddr *)from, sizeof(*from));
  if (c->state == CONN_ICE && !c->controlling) {
    c->remote = *from;
    dtls_start(c, d, now);
  }
  return 0;
}

static int stun_input(struct mb_conn *c, struct mb_dtls *d, const uint8_t *p, size_t len,
                      const struct sockaddr_in *from, int64_t now) {
  struct stun_msg m;

  if (stun_parse(p, len, &m) < 0 || stun_check_fingerprint(p, len, &m) < 0)
    return 0;
  if (m.type == STUN_BINDING_REQUEST)
    return stun_request(c, d, p, len, &m, from, now);
  if (m.type != STUN_BINDING_SUCCESS || memcmp(m.txid, c->txid, sizeof(c->txid)) != 0 ||
      stun_check_integrity(p, len, &m, (const uint8_t *)c->rpwd, strlen(c->rpwd)) < 0)
    return 0;
  if (c->state == CONN_ICE)
    dtls_start(c, d, now);
  return 0;
}

int mb_conn_input(struct mb_conn *c, struct mb_dtls *d, uint8_t *p, size_t len,
                  const struct sockaddr_in *from, int64_t now) {
  if (c->state == CONN_FAILED || len == 0)
    return 0;
  if (p[0] < 4)
    return stun_input(c, d, p, len, from, now);
  if (p[0] >= 20 && p[0] < 64)
    return dtls_input(c, d, p, len);
  return 0;
}

void mb_conn_start(struct mb_conn *c, struct mb_dtls *d, const struct sockaddr_in *remote,
                   int64_t now) {
  c->state = CONN_ICE;
  if (remote)
    c->remote = *remote;
  if (c->controlling) {
    send_check(c, 1);
    c->next_ns = now + CHECK_EVERY_NS;
  }
}

void mb_conn_tick(struct mb_conn *c, struct mb_dtls *d, int64_t now) {
  struct timeval tv;

  if (c->state == CONN_ICE && c->controlling && now >= c->next_ns) {
    if (c->checks >= CHECKS_MAX)
      return conn_fail(c, "no answer to connectivity checks");
    send_check(c, 1);
    c->next_ns = now + CHECK_EVERY_NS;
  } else if (c->state == CONN_DTLS && DTLSv1_get_timeout(c->ssl, &tv) == 1 && tv.tv_sec == 0 &&
             tv.tv_usec == 0) {
    if (DTLSv1_handle_timeout(c->ssl) < 0)
      return conn_fail(c, "DTLS handshake timed out");
    dtls_flush(c);
  } else if (c->state == CONN_UP && c->controlling && now >= c->consent_ns) {
    if (c->consent_ns)
      send_check(c, 0); /* consent freshness, as a browser keeps it (RFC 7675) */
    c->consent_ns = now + CONSENT_EVERY_NS;
  }
}

int mb_conn_send_rtcp(struct mb_conn *c, uint8_t *p, size_t len, size_t cap) {
  int n = (int)len;

  if (c->state != CONN_UP || cap < len + SRTP_MAX_TRAILER_LEN)
    return -1;
  if (srtp_protect_rtcp(c->tx, p, &n) != srtp_err_status_ok)
    return -1;
  send_to(c, p, (size_t)n);
  return 0;
}
