/* libFuzzer target for src/media/stun.c.
 *
 * The input is one UDP datagram. If it parses, every field is checked
 * against the parser's contract (pointers and offsets inside the input,
 * limits kept), both checks run with a fixed key, and onair's answer is
 * built the way the media plane would (420 for unknown attributes, 400 for
 * a bad USERNAME, else a success response carrying an address taken from
 * the input) and parsed back: it must parse, carry the same transaction id
 * and address, and pass both checks. Built again into a heap buffer of a
 * capacity taken from the input, it must fail with -ENOBUFS or give the
 * same bytes. Whatever the input, a request built from its bytes must parse
 * back to the same fields. Any broken invariant traps. Corpus files made
 * with FUZZ_KEY pass the integrity check, so both of its outcomes are
 * reached. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/stun.h"

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond))         \
      __builtin_trap();  \
  } while (0)

#define FUZZ_KEY "fuzz-ice-pwd-0123456789"
#define FUZZ_KEY_LEN (sizeof(FUZZ_KEY) - 1)

static const uint8_t *fuzz_key = (const uint8_t *)FUZZ_KEY;

static int fuzz_inside(const uint8_t *d, size_t size, const uint8_t *p, size_t len) {
  return p >= d && len <= size && (size_t)(p - d) <= size - len;
}

/* Checks a parsed message against the contract of stun_parse(). */
static void fuzz_check_msg(const uint8_t *d, size_t size, const struct stun_msg *m) {
  int rc;

  FUZZ_CHECK(stun_is_stun(d, size));
  FUZZ_CHECK(m->cls <= STUN_CLASS_ERROR && m->method <= 0xFFF);
  FUZZ_CHECK(memcmp(m->txid, d + 8, STUN_TXID_LEN) == 0);
  FUZZ_CHECK(!m->username || fuzz_inside(d, size, m->username, m->username_len));
  FUZZ_CHECK(m->username_len <= STUN_USERNAME_MAX);
  if (m->fingerprint_off)
    FUZZ_CHECK(m->fingerprint_off == size - 8);
  if (m->integrity_off)
    FUZZ_CHECK(m->integrity_off + 24 == size || m->integrity_off + 24 == m->fingerprint_off);
  if (m->flags & STUN_F_ERROR_CODE) {
    FUZZ_CHECK(m->error_code >= 300 && m->error_code <= 699);
    FUZZ_CHECK(fuzz_inside(d, size, m->error_reason, m->error_reason_len));
    FUZZ_CHECK(m->error_reason_len <= STUN_REASON_MAX);
  }
  if (m->flags & STUN_F_XOR_MAPPED)
    FUZZ_CHECK(m->mapped.ss_family == AF_INET || m->mapped.ss_family == AF_INET6);
  rc = stun_check_fingerprint(d, size, m);
  FUZZ_CHECK(rc == 0 || rc == -EINVAL);
  FUZZ_CHECK(rc == -EINVAL || m->fingerprint_off);
  rc = stun_check_integrity(d, size, m, fuzz_key, FUZZ_KEY_LEN);
  FUZZ_CHECK(rc == 0 || rc == -EACCES);
  FUZZ_CHECK(rc == -EACCES || m->integrity_off);
}

static int fuzz_same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
  const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;

  if (a->ss_family != b->ss_family)
    return 0;
  if (a->ss_family == AF_INET)
    return a4->sin_port == b4->sin_port && a4->sin_addr.s_addr == b4->sin_addr.s_addr;
  return a6->sin6_port == b6->sin6_port && memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0;
}

/* The address to report: the message's own XOR-MAPPED-ADDRESS, or one made
 * from its transaction id (IPv4 or IPv6 by its first bit). */
static void fuzz_pick_addr(const struct stun_msg *m, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof(*ss));
  if ((m->flags & STUN_F_XOR_MAPPED) &&
      !(m->mapped.ss_family == AF_INET6 &&
        IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)&m->mapped)->sin6_addr))) {
    *ss = m->mapped;
  } else if (m->txid[0] & 1) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

    s6->sin6_family = AF_INET6;
    memcpy(&s6->sin6_port, m->txid + 1, 2);
    memcpy(&s6->sin6_addr, m->txid + 3, 9);
    s6->sin6_addr.s6_addr[0] |= 0x20; /* never IPv4-mapped */
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

    s4->sin_family = AF_INET;
    memcpy(&s4->sin_port, m->txid + 1, 2);
    memcpy(&s4->sin_addr, m->txid + 3, 4);
  }
}

enum fuzz_answer_kind { FUZZ_420, FUZZ_400, FUZZ_SUCCESS };

static int fuzz_build(enum fuzz_answer_kind kind, const struct stun_msg *m,
                      const struct sockaddr_storage *ss, uint8_t *out, size_t cap) {
  switch (kind) {
  case FUZZ_420: return stun_build_binding_unknown(out, cap, m, fuzz_key, FUZZ_KEY_LEN);
  case FUZZ_400: return stun_build_binding_error(out, cap, m->txid, 400, NULL, NULL, 0);
  default:
    return stun_build_binding_success(out, cap, m->txid, (const struct sockaddr *)ss, fuzz_key,
                                      FUZZ_KEY_LEN);
  }
}

/* The same answer into a heap buffer of exactly cap bytes (so ASan sees a
 * write past it): -ENOBUFS if it is short, else the same bytes. */
static void fuzz_build_short(enum fuzz_answer_kind kind, const struct stun_msg *m,
                             const struct sockaddr_storage *ss, const uint8_t *full, int len,
                             size_t cap) {
  uint8_t *out = malloc(cap ? cap : 1);
  int rc;

  FUZZ_CHECK(out != NULL);
  rc = fuzz_build(kind, m, ss, out, cap);
  if (cap < (size_t)len)
    FUZZ_CHECK(rc == -ENOBUFS);
  else
    FUZZ_CHECK(rc == len && memcmp(out, full, (size_t)len) == 0);
  free(out);
}

/* Builds onair's answer to m and parses it back. */
static void fuzz_answer(const struct stun_msg *m, size_t seed) {
  const char *local, *remote;
  size_t local_len, remote_len;
  struct sockaddr_storage ss;
  enum fuzz_answer_kind kind;
  struct stun_msg r;
  uint8_t out[1024];
  int len, split;

  split = m->username ? stun_username_split(m->username, m->username_len, &local, &local_len,
                                            &remote, &remote_len)
                      : -EINVAL;
  if (split == 0) {
    FUZZ_CHECK(local_len > 0 && remote_len > 0 && local_len + 1 + remote_len == m->username_len);
    FUZZ_CHECK(memchr(local, ':', local_len) == NULL);
  }
  fuzz_pick_addr(m, &ss);
  kind = m->unknown_count ? FUZZ_420 : split < 0 ? FUZZ_400 : FUZZ_SUCCESS;
  len = fuzz_build(kind, m, &ss, out, sizeof(out));
  FUZZ_CHECK(len > 0 && (size_t)len <= sizeof(out));
  fuzz_build_short(kind, m, &ss, out, len, seed % ((size_t)len + 2));
  FUZZ_CHECK(stun_parse(out, (size_t)len, &r) == 0);
  FUZZ_CHECK(memcmp(r.txid, m->txid, STUN_TXID_LEN) == 0);
  FUZZ_CHECK(stun_check_fingerprint(out, (size_t)len, &r) == 0);
  FUZZ_CHECK(r.unknown_count == 0);
  if (kind == FUZZ_420) {
    FUZZ_CHECK(r.type == STUN_BINDING_ERROR && r.error_code == 420);
  } else if (kind == FUZZ_400) {
    FUZZ_CHECK(r.type == STUN_BINDING_ERROR && r.error_code == 400 && !r.integrity_off);
    return;
  } else {
    FUZZ_CHECK(r.type == STUN_BINDING_SUCCESS && (r.flags & STUN_F_XOR_MAPPED));
    FUZZ_CHECK(fuzz_same_addr(&r.mapped, &ss));
  }
  FUZZ_CHECK(stun_check_integrity(out, (size_t)len, &r, fuzz_key, FUZZ_KEY_LEN) == 0);
}

/* A request whose USERNAME is the input (up to its first NUL, at most
 * STUN_USERNAME_MAX bytes) must parse back to the same fields. */
static void fuzz_request(const uint8_t *d, size_t size) {
  char username[STUN_USERNAME_MAX + 1];
  uint8_t txid[STUN_TXID_LEN] = {0}, out[1024];
  size_t n = size < STUN_USERNAME_MAX ? size : STUN_USERNAME_MAX;
  uint64_t tie = 0;
  struct stun_msg r;
  int len;

  memcpy(username, d, n);
  username[n] = 0;
  n = strlen(username);
  memcpy(txid, d, size < STUN_TXID_LEN ? size : STUN_TXID_LEN);
  memcpy(&tie, d, size < sizeof(tie) ? size : sizeof(tie));
  len = stun_build_binding_request(out, sizeof(out), txid, username, (uint32_t)tie, (int)(tie & 1),
                                   (int)(tie & 2), tie, fuzz_key, FUZZ_KEY_LEN);
  FUZZ_CHECK(len > 0);
  FUZZ_CHECK(stun_parse(out, (size_t)len, &r) == 0);
  FUZZ_CHECK(r.type == STUN_BINDING_REQUEST && r.unknown_count == 0);
  FUZZ_CHECK(r.username_len == n && memcmp(r.username, username, n) == 0);
  FUZZ_CHECK(r.priority == (uint32_t)tie && r.tiebreaker == tie);
  FUZZ_CHECK(!!(r.flags & STUN_F_USE_CANDIDATE) == (int)(tie & 1));
  FUZZ_CHECK(!!(r.flags & STUN_F_ICE_CONTROLLING) == !!(tie & 2));
  FUZZ_CHECK(stun_check_fingerprint(out, (size_t)len, &r) == 0);
  FUZZ_CHECK(stun_check_integrity(out, (size_t)len, &r, fuzz_key, FUZZ_KEY_LEN) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct stun_msg m;
  int rc = stun_parse(data, size, &m);

  FUZZ_CHECK(rc == 0 || rc == -EINVAL);
  if (rc == 0) {
    fuzz_check_msg(data, size, &m);
    fuzz_answer(&m, data[size - 1]);
  }
  fuzz_request(data, size);
  return 0;
}
