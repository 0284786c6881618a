/* Tests for src/media/stun.c: the RFC 5769 vectors, builders parsed back,
 * every malformed-message rule, and -ENOBUFS at every short capacity.
 * Messages are written as hex strings (spaces ignored) so a case reads like
 * the RFC's byte listings. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "media/stun.h"

#define PASSWORD "VOkJxbRl1RmTxUk/WvJxBt"
#define KEY ((const uint8_t *)PASSWORD)
#define KEY_LEN (sizeof(PASSWORD) - 1)

/* A header: type and length (4 hex digits each), cookie, transaction id. */
#define TXID_HEX "000102030405060708090a0b"
#define HDR(type, len) type len "2112a442" TXID_HEX

static const uint8_t rfc_txid[STUN_TXID_LEN] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                                0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

/* Decodes hex (whitespace ignored) into out; returns the byte count. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap) {
  size_t n = 0;
  int half = -1;

  for (; *hex; hex++) {
    int v = 0;

    if (*hex == ' ' || *hex == '\n')
      continue;
    if (*hex >= '0' && *hex <= '9')
      v = *hex - '0';
    else if (*hex >= 'a' && *hex <= 'f')
      v = *hex - 'a' + 10;
    else
      fail_msg("bad hex digit '%c'", *hex);
    if (half < 0) {
      half = v;
      continue;
    }
    assert_true(n < cap);
    out[n++] = (uint8_t)(half << 4 | v);
    half = -1;
  }
  assert_int_equal(half, -1);
  return n;
}

static void make_addr(struct sockaddr_storage *ss, const char *ip, uint16_t port) {
  memset(ss, 0, sizeof(*ss));
  if (strchr(ip, ':')) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
  }
}

/* "ip port" of a parsed address, for comparisons that print well. */
static const char *addr_str(const struct sockaddr_storage *ss, char *buf, size_t cap) {
  char ip[INET6_ADDRSTRLEN] = "?";

  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

    inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
    snprintf(buf, cap, "%s %u", ip, ntohs(s4->sin_port));
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

    inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
    snprintf(buf, cap, "%s %u", ip, ntohs(s6->sin6_port));
  } else {
    snprintf(buf, cap, "family %d", ss->ss_family);
  }
  return buf;
}

/* Offset of the first attribute of type t in a well-formed message, or 0. */
static size_t find_attr(const uint8_t *p, size_t len, uint16_t t) {
  size_t off = STUN_HEADER_LEN;

  while (off + 4 <= len) {
    size_t vlen = (size_t)(p[off + 2] << 8 | p[off + 3]);

    if ((uint16_t)(p[off] << 8 | p[off + 1]) == t)
      return off;
    off += 4 + ((vlen + 3) & ~(size_t)3);
  }
  return 0;
}

/* ---- RFC 5769 */

struct vector {
  const char *name;
  const char *hex;
  uint16_t type;
  const char *username; /* NULL: absent */
  uint32_t priority;    /* 0: absent */
  uint64_t tiebreaker;  /* of ICE-CONTROLLED; 0: absent */
  const char *mapped;   /* "ip port" of XOR-MAPPED-ADDRESS; NULL: absent */
};

static const struct vector rfc5769[] = {
    {"2.1 sample request",
     "000100582112a442b7e7a701bc34d686fa87dfae"
     "802200105354554e207465737420636c69656e74"
     "002400046e0001ff"
     "80290008932ff9b151263b36"
     "000600096576746a3a68367659202020"
     "000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2"
     "80280004e57a3bcf",
     STUN_BINDING_REQUEST, "evtj:h6vY", 0x6e0001ff, 0x932ff9b151263b36ULL, NULL},
    {"2.2 sample IPv4 response",
     "0101003c2112a442b7e7a701bc34d686fa87dfae"
     "8022000b7465737420766563746f7220"
     "002000080001a147e112a643"
     "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
     "80280004c07d4c96",
     STUN_BINDING_SUCCESS, NULL, 0, 0, "192.0.2.1 32853"},
    {"2.3 sample IPv6 response",
     "010100482112a442b7e7a701bc34d686fa87dfae"
     "8022000b7465737420766563746f7220"
     "002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9"
     "00080014a382954e4be67bf11784c97c8292c275bfe3ed41"
     "80280004c8fb0b4c",
     STUN_BINDING_SUCCESS, NULL, 0, 0, "2001:db8:1234:5678:11:2233:4455:6677 32853"},
};

static void check_vector(const struct vector *v) {
  uint8_t msg[256];
  size_t len = unhex(v->hex, msg, sizeof(msg));
  struct stun_msg m;
  char buf[80];

  assert_int_equal(stun_is_stun(msg, len), 1);
  assert_int_equal(stun_parse(msg, len, &m), 0);
  assert_int_equal(m.type, v->type);
  assert_int_equal(m.method, STUN_METHOD_BINDING);
  assert_int_equal(m.cls,
                   v->type == STUN_BINDING_REQUEST ? STUN_CLASS_REQUEST : STUN_CLASS_SUCCESS);
  assert_memory_equal(m.txid, rfc_txid, STUN_TXID_LEN);
  assert_int_equal(m.unknown_count, 0);
  assert_int_equal(m.fingerprint_off, len - 8);
  assert_int_equal(m.integrity_off, len - 32);
  if (v->username) {
    assert_int_equal(m.username_len, strlen(v->username));
    assert_memory_equal(m.username, v->username, m.username_len);
  } else {
    assert_null(m.username);
  }
  assert_int_equal(!!(m.flags & STUN_F_PRIORITY), v->priority != 0);
  assert_int_equal(m.priority, v->priority);
  assert_int_equal(!!(m.flags & STUN_F_ICE_CONTROLLED), v->tiebreaker != 0);
  assert_int_equal(m.tiebreaker, v->tiebreaker);
  assert_int_equal(m.flags & (STUN_F_ICE_CONTROLLING | STUN_F_USE_CANDIDATE), 0);
  if (v->mapped)
    assert_string_equal(addr_str(&m.mapped, buf, sizeof(buf)), v->mapped);
  else
    assert_int_equal(m.flags & STUN_F_XOR_MAPPED, 0);

  assert_int_equal(stun_check_fingerprint(msg, len, &m), 0);
  assert_int_equal(stun_check_integrity(msg, len, &m, KEY, KEY_LEN), 0);
  assert_int_equal(stun_check_integrity(msg, len, &m, KEY, KEY_LEN - 1), -EACCES);
  assert_int_equal(
      stun_check_integrity(msg, len, &m, (const uint8_t *)"VOkJxbRl1RmTxUk/WvJxBT", KEY_LEN),
      -EACCES);
  assert_int_equal(stun_check_integrity(msg, len, &m, KEY, 0), -EACCES);
  assert_int_equal(stun_check_integrity(msg, len, &m, NULL, 0), -EACCES);
}

static void test_rfc5769_vectors(void **state) {
  size_t i;

  for (i = 0; i < sizeof(rfc5769) / sizeof(rfc5769[0]); i++) {
    print_message("%s\n", rfc5769[i].name);
    check_vector(&rfc5769[i]);
  }
}

/* Flipping any one bit of a vector must fail the parse or the FINGERPRINT
 * check, and, before the end of MESSAGE-INTEGRITY, the parse or the
 * integrity check. */
static void test_rfc5769_flipped_bits(void **state) {
  size_t i, at, bit;

  for (i = 0; i < sizeof(rfc5769) / sizeof(rfc5769[0]); i++) {
    uint8_t orig[256], msg[256];
    size_t len = unhex(rfc5769[i].hex, orig, sizeof(orig));
    struct stun_msg m;

    for (at = 0; at < len; at++) {
      for (bit = 0; bit < 8; bit++) {
        memcpy(msg, orig, len);
        msg[at] ^= (uint8_t)(1u << bit);
        if (stun_parse(msg, len, &m) != 0)
          continue;
        if (stun_check_fingerprint(msg, len, &m) == 0)
          fail_msg("%s: flipped bit %zu of byte %zu passes FINGERPRINT", rfc5769[i].name, bit, at);
        if (at < len - 8 && stun_check_integrity(msg, len, &m, KEY, KEY_LEN) == 0)
          fail_msg("%s: flipped bit %zu of byte %zu passes MESSAGE-INTEGRITY", rfc5769[i].name, bit,
                   at);
      }
    }
  }
}

/* One flipped byte in SOFTWARE: still well-formed, both checks fail. */
static void test_rfc5769_flipped_software(void **state) {
  uint8_t msg[256];
  size_t len = unhex(rfc5769[0].hex, msg, sizeof(msg));
  struct stun_msg m;

  msg[24] ^= 0x01; /* 'S' of "STUN test client" */
  assert_int_equal(stun_parse(msg, len, &m), 0);
  assert_int_equal(stun_check_fingerprint(msg, len, &m), -EINVAL);
  assert_int_equal(stun_check_integrity(msg, len, &m, KEY, KEY_LEN), -EACCES);
}

/* ---- stun_is_stun */

struct is_case {
  const char *name;
  const char *hex;
  int want;
};

static const struct is_case is_cases[] = {
    {"header only", HDR("0001", "0000"), 1},
    {"first byte 3", HDR("03ff", "0000"), 1},
    {"first byte 4", HDR("0401", "0000"), 0},
    {"DTLS record", HDR("16fe", "0000"), 0},
    {"RTP", HDR("8060", "0000"), 0},
    {"19 bytes", "0001 0000 2112a442 000102030405060708090a", 0},
    {"bad cookie", "0001 0000 2112a443" TXID_HEX, 0},
    {"length 2", HDR("0001", "0002") "0000", 0},
    {"length 8, 4 bytes follow", HDR("0001", "0008") "00000000", 0},
    {"length 0, 4 bytes follow", HDR("0001", "0000") "00000000", 0},
    {"length 4", HDR("0001", "0004") "80220000", 1},
};

static void test_is_stun(void **state) {
  size_t i;

  assert_int_equal(stun_is_stun(NULL, 0), 0);
  assert_int_equal(stun_is_stun((const uint8_t *)"", 0), 0);
  for (i = 0; i < sizeof(is_cases) / sizeof(is_cases[0]); i++) {
    uint8_t msg[64];
    size_t len = unhex(is_cases[i].hex, msg, sizeof(msg));

    if (stun_is_stun(msg, len) != is_cases[i].want)
      fail_msg("is_stun \"%s\": want %d", is_cases[i].name, is_cases[i].want);
  }
}

/* ---- malformed messages */

static const struct is_case bad_cases[] = {
    {"zero-length buffer", "", 0},
    {"truncated header", "0001 0000 2112a442 000102030405060708090a", 0},
    {"first byte 4", HDR("0401", "0000"), 0},
    {"first byte 0xff", HDR("ff01", "0000"), 0},
    {"bad cookie", "0001 0000 a4422112" TXID_HEX, 0},
    {"length not multiple of 4", HDR("0001", "0006") "0006 0002 6162", 0},
    {"length beyond data", HDR("0001", "000c") "0006 0004 61626364", 0},
    {"length short of data", HDR("0001", "0004") "0006 0004 61626364", 0},
    {"attribute runs past end", HDR("0001", "0008") "0006 0008 61626364", 0},
    {"padding runs past end", HDR("0001", "0008") "0006 0005 61626364", 0},
    {"huge attribute length", HDR("0001", "0008") "0006 ffff 61626364", 0},
    {"attribute after FINGERPRINT", HDR("0001", "0010") "8028 0004 00000000 0025 0000 00000000", 0},
    {"optional attribute after FINGERPRINT", HDR("0001", "000c") "8028 0004 00000000 8022 0000", 0},
    {"two FINGERPRINTs", HDR("0001", "0010") "8028 0004 00000000 8028 0004 00000000", 0},
    {"USERNAME after MESSAGE-INTEGRITY",
     HDR("0001", "0020") "0008 0014 0000000000000000000000000000000000000000 0006 0004 61626364",
     0},
    {"unknown attribute after MESSAGE-INTEGRITY",
     HDR("0001", "001c") "0008 0014 0000000000000000000000000000000000000000 c057 0000", 0},
    {"two MESSAGE-INTEGRITYs",
     HDR("0001", "0030") "0008 0014 0000000000000000000000000000000000000000"
                         "0008 0014 0000000000000000000000000000000000000000",
     0},
    {"MESSAGE-INTEGRITY of 16 bytes",
     HDR("0001", "0014") "0008 0010 00000000000000000000000000000000", 0},
    {"FINGERPRINT of 8 bytes", HDR("0001", "000c") "8028 0008 0000000000000000", 0},
    {"PRIORITY of 8 bytes", HDR("0001", "000c") "0024 0008 0000000000000000", 0},
    {"USE-CANDIDATE with a value", HDR("0001", "0008") "0025 0004 00000000", 0},
    {"ICE-CONTROLLING of 4 bytes", HDR("0001", "0008") "802a 0004 00000000", 0},
    {"ICE-CONTROLLED of 12 bytes", HDR("0001", "0010") "8029 000c 000000000000000000000000", 0},
    {"ERROR-CODE of 2 bytes", HDR("0111", "0008") "0009 0002 00000000", 0},
    {"ERROR-CODE class 2", HDR("0111", "0008") "0009 0004 00000201", 0},
    {"ERROR-CODE class 7", HDR("0111", "0008") "0009 0004 00000701", 0},
    {"ERROR-CODE number 100", HDR("0111", "0008") "0009 0004 00000464", 0},
    {"XOR-MAPPED-ADDRESS family 3", HDR("0101", "000c") "0020 0008 0003a147 e112a643", 0},
    {"XOR-MAPPED-ADDRESS IPv4 in 20 bytes",
     HDR("0101", "0018") "0020 0014 0001a147 e112a643 0000000000000000 00000000", 0},
    {"XOR-MAPPED-ADDRESS IPv6 in 8 bytes", HDR("0101", "000c") "0020 0008 0002a147 e112a643", 0},
    {"XOR-MAPPED-ADDRESS of 2 bytes", HDR("0101", "0008") "0020 0002 00010000", 0},
};

static void test_malformed(void **state) {
  size_t i;

  for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
    uint8_t msg[128];
    size_t len = unhex(bad_cases[i].hex, msg, sizeof(msg));
    struct stun_msg m;

    if (stun_parse(msg, len, &m) != -EINVAL)
      fail_msg("malformed \"%s\" was accepted", bad_cases[i].name);
  }
}

/* USERNAME of 513 bytes parses; of 514 does not. */
static void test_username_limit(void **state) {
  uint8_t msg[STUN_HEADER_LEN + 4 + 516];
  struct stun_msg m;
  size_t n;

  for (n = STUN_USERNAME_MAX; n <= STUN_USERNAME_MAX + 1; n++) {
    size_t len = STUN_HEADER_LEN + 4 + ((n + 3) & ~(size_t)3);

    memset(msg, 'u', sizeof(msg));
    unhex(HDR("0001", "0000") "0006 0000", msg, sizeof(msg));
    msg[2] = (uint8_t)((len - STUN_HEADER_LEN) >> 8);
    msg[3] = (uint8_t)(len - STUN_HEADER_LEN);
    msg[22] = (uint8_t)(n >> 8);
    msg[23] = (uint8_t)n;
    if (n == STUN_USERNAME_MAX) {
      assert_int_equal(stun_parse(msg, len, &m), 0);
      assert_int_equal(m.username_len, n);
      assert_ptr_equal(m.username, msg + 24);
    } else {
      assert_int_equal(stun_parse(msg, len, &m), -EINVAL);
    }
  }
}

/* ---- well-formed edge cases */

static void test_header_only(void **state) {
  uint8_t msg[32];
  size_t len = unhex(HDR("0011", "0000"), msg, sizeof(msg));
  struct stun_msg m;

  assert_int_equal(stun_parse(msg, len, &m), 0);
  assert_int_equal(m.type, STUN_BINDING_INDICATION);
  assert_int_equal(m.cls, STUN_CLASS_INDICATION);
  assert_int_equal(m.method, STUN_METHOD_BINDING);
  assert_int_equal(m.flags, 0);
  assert_null(m.username);
  assert_int_equal(stun_check_fingerprint(msg, len, &m), -EINVAL);
  assert_int_equal(stun_check_integrity(msg, len, &m, KEY, KEY_LEN), -EACCES);
}

static void test_method_and_class(void **state) {
  static const struct {
    const char *type;
    uint16_t method;
    uint8_t cls;
  } cases[] = {
      {"0001", 0x001, STUN_CLASS_REQUEST}, {"0111", 0x001, STUN_CLASS_ERROR},
      {"0003", 0x003, STUN_CLASS_REQUEST}, {"0113", 0x003, STUN_CLASS_ERROR},
      {"03ef", 0x0ff, STUN_CLASS_SUCCESS}, {"0200", 0x080, STUN_CLASS_REQUEST},
      {"0020", 0x010, STUN_CLASS_REQUEST}, {"0010", 0x000, STUN_CLASS_INDICATION},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char hex[64];
    uint8_t msg[32];
    struct stun_msg m;
    size_t len;

    snprintf(hex, sizeof(hex), "%s0000 2112a442 %s", cases[i].type, TXID_HEX);
    len = unhex(hex, msg, sizeof(msg));
    assert_int_equal(stun_parse(msg, len, &m), 0);
    assert_int_equal(m.method, cases[i].method);
    assert_int_equal(m.cls, cases[i].cls);
  }
}

static void test_unknown_attributes(void **state) {
  uint8_t msg[256];
  size_t len;
  struct stun_msg m;

  /* Two comprehension-required unknowns, one optional (GOOG-NETWORK-INFO). */
  len = unhex(HDR("0001", "0014") "0003 0000 c057 0004 00010000 7fff 0001 41000000", msg,
              sizeof(msg));
  assert_int_equal(stun_parse(msg, len, &m), 0);
  assert_int_equal(m.unknown_count, 2);
  assert_int_equal(m.unknown[0], 0x0003);
  assert_int_equal(m.unknown[1], 0x7fff);

  /* Ten unknowns: all counted, the first eight kept. */
  len = unhex(HDR("0001", "0028") "0100 0000 0101 0000 0102 0000 0103 0000 0104 0000"
                                  "0105 0000 0106 0000 0107 0000 0108 0000 0109 0000",
              msg, sizeof(msg));
  assert_int_equal(stun_parse(msg, len, &m), 0);
  assert_int_equal(m.unknown_count, 10);
  assert_int_equal(m.unknown[0], 0x0100);
  assert_int_equal(m.unknown[STUN_UNKNOWN_MAX - 1], 0x0107);

  /* Understood but unused attributes are not unknown. */
  len = unhex(
      HDR("0001", "001c") "0014 0001 72000000 0015 0001 6e000000 0001 0008 0001 1234 7f000001", msg,
      sizeof(msg));
  assert_int_equal(stun_parse(msg, len, &m), 0);
  assert_int_equal(m.unknown_count, 0);
}

/* A repeated attribute: the first occurrence counts. */
static void test_repeated_attributes(void **state) {
  uint8_t msg[128];
  size_t len = unhex(HDR("0001", "0038") "0006 0003 61626300 0006 0003 78797a00"
                                         "0024 0004 00000001 0024 0004 00000002"
                                         "802a 0008 0000000000000011 8029 0008 0000000000000022",
                     msg, sizeof(msg));
  struct stun_msg m;

  assert_int_equal(stun_parse(msg, len, &m), 0);
  assert_int_equal(m.username_len, 3);
  assert_memory_equal(m.username, "abc", 3);
  assert_int_equal(m.priority, 1);
  assert_int_equal(m.tiebreaker, 0x11);
  assert_int_equal(m.flags & (STUN_F_ICE_CONTROLLING | STUN_F_ICE_CONTROLLED),
                   STUN_F_ICE_CONTROLLING | STUN_F_ICE_CONTROLLED);

  /* Two ERROR-CODEs and two XOR-MAPPED-ADDRESSes (IPv4, then IPv6). */
  len = unhex(HDR("0111", "0038") "0009 0005 00000401 41000000 0009 0004 00000505"
                                  "0020 0008 0001a147 e112a643"
                                  "0020 0014 0002a147 0113a9faa5d3f179bc25f4b5bed2b9d9",
              msg, sizeof(msg));
  assert_int_equal(stun_parse(msg, len, &m), 0);
  assert_int_equal(m.error_code, 401);
  assert_int_equal(m.error_reason_len, 1);
  assert_memory_equal(m.error_reason, "A", 1);
  assert_int_equal(m.mapped.ss_family, AF_INET);
}

/* ---- stun_username_split */

static void test_username_split(void **state) {
  static const struct {
    const char *u;
    int rc;
    const char *local, *remote;
  } cases[] = {
      {"abcd:wxyz", 0, "abcd", "wxyz"}, {"a:b", 0, "a", "b"},
      {"a:b:c", 0, "a", "b:c"},         {"a::", 0, "a", ":"},
      {":b", -EINVAL, NULL, NULL},      {"a:", -EINVAL, NULL, NULL},
      {":", -EINVAL, NULL, NULL},       {"abcd", -EINVAL, NULL, NULL},
      {"", -EINVAL, NULL, NULL},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *local = NULL, *remote = NULL;
    size_t local_len = 0, remote_len = 0;
    int rc = stun_username_split((const uint8_t *)cases[i].u, strlen(cases[i].u), &local,
                                 &local_len, &remote, &remote_len);

    if (rc != cases[i].rc)
      fail_msg("split \"%s\": rc %d, want %d", cases[i].u, rc, cases[i].rc);
    if (rc)
      continue;
    assert_int_equal(local_len, strlen(cases[i].local));
    assert_memory_equal(local, cases[i].local, local_len);
    assert_int_equal(remote_len, strlen(cases[i].remote));
    assert_memory_equal(remote, cases[i].remote, remote_len);
  }
  assert_int_equal(stun_username_split(NULL, 0, NULL, NULL, NULL, NULL), -EINVAL);
}

/* ---- builders */

/* Parses out (len bytes) and checks both integrity (if key) and FINGERPRINT. */
static void parse_built(const uint8_t *out, int len, struct stun_msg *m, const uint8_t *key,
                        size_t key_len) {
  assert_true(len > 0);
  assert_int_equal(stun_parse(out, (size_t)len, m), 0);
  assert_int_equal(stun_check_fingerprint(out, (size_t)len, m), 0);
  assert_int_equal(m->fingerprint_off, (size_t)len - 8);
  if (key) {
    assert_int_equal(stun_check_integrity(out, (size_t)len, m, key, key_len), 0);
    assert_int_equal(stun_check_integrity(out, (size_t)len, m, (const uint8_t *)"wrong", 5),
                     -EACCES);
    assert_int_equal(m->integrity_off, (size_t)len - 32);
  } else {
    assert_int_equal(m->integrity_off, 0);
  }
}

static void test_build_success(void **state) {
  static const struct {
    const char *ip;
    uint16_t port;
    const char *want; /* as decoded */
  } cases[] = {
      {"192.0.2.1", 32853, "192.0.2.1 32853"},
      {"2001:db8:1234:5678:11:2233:4455:6677", 32853, "2001:db8:1234:5678:11:2233:4455:6677 32853"},
      {"0.0.0.0", 0, "0.0.0.0 0"},
      {"255.255.255.255", 65535, "255.255.255.255 65535"},
      {"::1", 1, "::1 1"},
      {"::ffff:198.51.100.7", 5000, "198.51.100.7 5000"},
      {"fe80::1", 9, "fe80::1 9"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct sockaddr_storage ss;
    uint8_t out[256];
    struct stun_msg m;
    char buf[80];
    int len;

    make_addr(&ss, cases[i].ip, cases[i].port);
    len = stun_build_binding_success(out, sizeof(out), rfc_txid, (struct sockaddr *)&ss, KEY,
                                     KEY_LEN);
    parse_built(out, len, &m, KEY, KEY_LEN);
    assert_int_equal(m.type, STUN_BINDING_SUCCESS);
    assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
    assert_memory_equal(m.txid, rfc_txid, STUN_TXID_LEN);
    assert_true(m.flags & STUN_F_XOR_MAPPED);
    assert_string_equal(addr_str(&m.mapped, buf, sizeof(buf)), cases[i].want);
  }
}

/* Our XOR-MAPPED-ADDRESS is byte for byte the one in RFC 5769 2.2 and 2.3. */
static void test_build_success_matches_rfc(void **state) {
  static const struct {
    const char *ip, *attr_hex;
  } cases[] = {
      {"192.0.2.1", "002000080001a147e112a643"},
      {"2001:db8:1234:5678:11:2233:4455:6677", "002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct sockaddr_storage ss;
    uint8_t out[256], want[32];
    size_t n = unhex(cases[i].attr_hex, want, sizeof(want));
    int len;

    make_addr(&ss, cases[i].ip, 32853);
    len = stun_build_binding_success(out, sizeof(out), rfc_txid, (struct sockaddr *)&ss, NULL, 0);
    assert_true(len > 0);
    assert_int_equal(find_attr(out, (size_t)len, STUN_ATTR_XOR_MAPPED_ADDRESS), 20);
    assert_memory_equal(out + 20, want, n);
  }
}

static void test_build_success_bad_family(void **state) {
  struct sockaddr sa;
  uint8_t out[256];

  memset(&sa, 0, sizeof(sa));
  sa.sa_family = AF_UNIX;
  assert_int_equal(stun_build_binding_success(out, sizeof(out), rfc_txid, &sa, KEY, KEY_LEN),
                   -EINVAL);
  assert_int_equal(stun_build_binding_success(out, sizeof(out), rfc_txid, NULL, KEY, KEY_LEN),
                   -EINVAL);
}

static void test_build_error(void **state) {
  static const struct {
    int code;
    const char *reason; /* given */
    const char *want;   /* on the wire */
    int keyed;
  } cases[] = {
      {400, NULL, "Bad Request", 0},
      {401, NULL, "Unauthorized", 0},
      {420, NULL, "Unknown Attribute", 1},
      {487, NULL, "Role Conflict", 1},
      {487, "role conflict: we are controlled", "role conflict: we are controlled", 1},
      {400, "", "", 0},
      {300, "abc", "abc", 0},
      {699, NULL, "", 1},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const uint8_t *key = cases[i].keyed ? KEY : NULL;
    uint8_t out[256];
    struct stun_msg m;
    int len = stun_build_binding_error(out, sizeof(out), rfc_txid, cases[i].code, cases[i].reason,
                                       key, cases[i].keyed ? KEY_LEN : 0);

    parse_built(out, len, &m, key, KEY_LEN);
    assert_int_equal(m.type, STUN_BINDING_ERROR);
    assert_int_equal(m.cls, STUN_CLASS_ERROR);
    assert_true(m.flags & STUN_F_ERROR_CODE);
    assert_int_equal(m.error_code, cases[i].code);
    assert_int_equal(m.error_reason_len, strlen(cases[i].want));
    assert_memory_equal(m.error_reason, cases[i].want, m.error_reason_len);
  }
}

static void test_build_error_bad_args(void **state) {
  static char long_reason[STUN_REASON_MAX + 2];
  uint8_t out[1024];
  int len;

  assert_int_equal(stun_build_binding_error(out, sizeof(out), rfc_txid, 299, NULL, NULL, 0),
                   -EINVAL);
  assert_int_equal(stun_build_binding_error(out, sizeof(out), rfc_txid, 700, NULL, NULL, 0),
                   -EINVAL);
  assert_int_equal(stun_build_binding_error(out, sizeof(out), rfc_txid, -400, NULL, NULL, 0),
                   -EINVAL);
  memset(long_reason, 'r', STUN_REASON_MAX + 1);
  assert_int_equal(stun_build_binding_error(out, sizeof(out), rfc_txid, 400, long_reason, NULL, 0),
                   -EINVAL);
  long_reason[STUN_REASON_MAX] = 0; /* exactly the maximum */
  len = stun_build_binding_error(out, sizeof(out), rfc_txid, 400, long_reason, NULL, 0);
  assert_int_equal(len, 20 + 4 + 4 + 764 + 8);
}

/* A request with unknown attributes is answered with 420 and their list. */
static void test_build_unknown(void **state) {
  uint8_t req[64], out[256];
  size_t req_len = unhex(HDR("0001", "000c") "0003 0000 c057 0000 7ffe 0000", req, sizeof(req));
  struct stun_msg m, r;
  size_t off;
  int len;

  assert_int_equal(stun_parse(req, req_len, &m), 0);
  len = stun_build_binding_unknown(out, sizeof(out), &m, KEY, KEY_LEN);
  parse_built(out, len, &r, KEY, KEY_LEN);
  assert_int_equal(r.error_code, 420);
  assert_memory_equal(r.txid, m.txid, STUN_TXID_LEN);
  off = find_attr(out, (size_t)len, STUN_ATTR_UNKNOWN_ATTRIBUTES);
  assert_true(off > 0);
  assert_memory_equal(out + off, "\x00\x0a\x00\x04\x00\x03\x7f\xfe", 8);
}

static void test_build_request(void **state) {
  static char long_user[STUN_USERNAME_MAX + 2];
  static const struct {
    const char *username;
    uint32_t priority;
    int use_candidate, controlling;
    uint64_t tiebreaker;
  } cases[] = {
      {"ourufrag:theirufrag", 0x6e0001ff, 1, 1, 0x932ff9b151263b36ULL},
      {"a:b", 0, 0, 0, 0},
      {"x:y", 0xffffffffu, 0, 1, ~0ULL},
      {NULL, 1, 1, 0, 1},
      {long_user, 7, 0, 0, 7},
  };
  size_t i;

  memset(long_user, 'u', STUN_USERNAME_MAX);
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uint8_t out[1024];
    struct stun_msg m;
    int len = stun_build_binding_request(out, sizeof(out), rfc_txid, cases[i].username,
                                         cases[i].priority, cases[i].use_candidate,
                                         cases[i].controlling, cases[i].tiebreaker, KEY, KEY_LEN);

    parse_built(out, len, &m, KEY, KEY_LEN);
    assert_int_equal(m.type, STUN_BINDING_REQUEST);
    if (cases[i].username) {
      assert_int_equal(m.username_len, strlen(cases[i].username));
      assert_memory_equal(m.username, cases[i].username, m.username_len);
    } else {
      assert_null(m.username);
    }
    assert_true(m.flags & STUN_F_PRIORITY);
    assert_int_equal(m.priority, cases[i].priority);
    assert_int_equal(!!(m.flags & STUN_F_USE_CANDIDATE), cases[i].use_candidate);
    assert_int_equal(!!(m.flags & STUN_F_ICE_CONTROLLING), cases[i].controlling);
    assert_int_equal(!!(m.flags & STUN_F_ICE_CONTROLLED), !cases[i].controlling);
    assert_int_equal(m.tiebreaker, cases[i].tiebreaker);
  }
  long_user[STUN_USERNAME_MAX] = 'u';
  assert_int_equal(stun_build_binding_request((uint8_t[1024]){0}, 1024, rfc_txid, long_user, 0, 0,
                                              0, 0, KEY, KEY_LEN),
                   -EINVAL);
}

/* Every builder fails with -ENOBUFS at every capacity short of its message,
 * writes nothing past cap, and fits exactly at its length. */
static int build_one(int which, uint8_t *out, size_t cap) {
  static const uint8_t unknown_req[] = {0x00, 0x01, 0x00, 0x04, 0x21, 0x12, 0xa4, 0x42,
                                        0,    1,    2,    3,    4,    5,    6,    7,
                                        8,    9,    10,   11,   0x00, 0x03, 0x00, 0x00};
  struct sockaddr_storage ss;
  struct stun_msg m;

  switch (which) {
  case 0:
    make_addr(&ss, "192.0.2.1", 1);
    return stun_build_binding_success(out, cap, rfc_txid, (struct sockaddr *)&ss, KEY, KEY_LEN);
  case 1:
    make_addr(&ss, "2001:db8::1", 1);
    return stun_build_binding_success(out, cap, rfc_txid, (struct sockaddr *)&ss, KEY, KEY_LEN);
  case 2: return stun_build_binding_error(out, cap, rfc_txid, 401, NULL, NULL, 0);
  case 3: return stun_build_binding_error(out, cap, rfc_txid, 487, "Role", KEY, KEY_LEN);
  case 4:
    assert_int_equal(stun_parse(unknown_req, sizeof(unknown_req), &m), 0);
    return stun_build_binding_unknown(out, cap, &m, KEY, KEY_LEN);
  default:
    return stun_build_binding_request(out, cap, rfc_txid, "abc:defg", 1, 1, 1, 2, KEY, KEY_LEN);
  }
}

static void test_build_nobufs(void **state) {
  int which;

  for (which = 0; which < 6; which++) {
    uint8_t out[512];
    int full = build_one(which, out, sizeof(out));
    size_t cap;

    assert_true(full > 0 && full % 4 == 0);
    for (cap = 0; cap < (size_t)full; cap++) {
      memset(out, 0xEE, sizeof(out));
      if (build_one(which, out, cap) != -ENOBUFS)
        fail_msg("builder %d fit in %zu of %d bytes", which, cap, full);
      assert_int_equal(out[cap], 0xEE);
    }
    assert_int_equal(build_one(which, out, (size_t)full), full);
  }
  assert_int_equal(stun_build_binding_error(NULL, 0, rfc_txid, 400, NULL, NULL, 0), -ENOBUFS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc5769_vectors),
      cmocka_unit_test(test_rfc5769_flipped_bits),
      cmocka_unit_test(test_rfc5769_flipped_software),
      cmocka_unit_test(test_is_stun),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_username_limit),
      cmocka_unit_test(test_header_only),
      cmocka_unit_test(test_method_and_class),
      cmocka_unit_test(test_unknown_attributes),
      cmocka_unit_test(test_repeated_attributes),
      cmocka_unit_test(test_username_split),
      cmocka_unit_test(test_build_success),
      cmocka_unit_test(test_build_success_matches_rfc),
      cmocka_unit_test(test_build_success_bad_family),
      cmocka_unit_test(test_build_error),
      cmocka_unit_test(test_build_error_bad_args),
      cmocka_unit_test(test_build_unknown),
      cmocka_unit_test(test_build_request),
      cmocka_unit_test(test_build_nobufs),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
