/* STUN messages for ICE-lite (RFC 5389, RFC 8445, RFC 7675): the server side
 * of connectivity checks and consent freshness on the one media port. A
 * browser's Binding request is parsed with bounds on every attribute, its
 * MESSAGE-INTEGRITY (HMAC-SHA1 keyed with our ice-pwd) and FINGERPRINT
 * (CRC-32 xor 0x5354554e) are checked, and a success response carrying the
 * source address as XOR-MAPPED-ADDRESS, or an error response, is built into a
 * caller's buffer. A request builder exists for tests and test tools.
 *
 * Nothing here allocates (OpenSSL allocates its HMAC context per check) or
 * keeps state besides an HMAC template made once per process. */
#ifndef ONAIR_STUN_H
#define ONAIR_STUN_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define STUN_HEADER_LEN 20
#define STUN_MAGIC_COOKIE 0x2112A442u
#define STUN_TXID_LEN 12      /* bytes of a transaction id */
#define STUN_USERNAME_MAX 513 /* bytes of USERNAME (RFC 5389 15.3) */
#define STUN_REASON_MAX 763   /* bytes of an ERROR-CODE reason phrase */
#define STUN_UNKNOWN_MAX 8    /* unknown attribute types kept for a 420 */
#define STUN_FINGERPRINT_XOR 0x5354554Eu

/* Message classes (the C1 C0 bits of the type). */
#define STUN_CLASS_REQUEST 0
#define STUN_CLASS_INDICATION 1
#define STUN_CLASS_SUCCESS 2
#define STUN_CLASS_ERROR 3

#define STUN_METHOD_BINDING 0x001

/* Message types as on the wire: method and class interleaved. */
#define STUN_BINDING_REQUEST 0x0001
#define STUN_BINDING_INDICATION 0x0011
#define STUN_BINDING_SUCCESS 0x0101
#define STUN_BINDING_ERROR 0x0111

/* Attribute types. Below 0x8000 a receiver must understand the attribute. */
#define STUN_ATTR_MAPPED_ADDRESS 0x0001
#define STUN_ATTR_USERNAME 0x0006
#define STUN_ATTR_MESSAGE_INTEGRITY 0x0008
#define STUN_ATTR_ERROR_CODE 0x0009
#define STUN_ATTR_UNKNOWN_ATTRIBUTES 0x000A
#define STUN_ATTR_REALM 0x0014
#define STUN_ATTR_NONCE 0x0015
#define STUN_ATTR_XOR_MAPPED_ADDRESS 0x0020
#define STUN_ATTR_PRIORITY 0x0024
#define STUN_ATTR_USE_CANDIDATE 0x0025
#define STUN_ATTR_SOFTWARE 0x8022
#define STUN_ATTR_FINGERPRINT 0x8028
#define STUN_ATTR_ICE_CONTROLLED 0x8029
#define STUN_ATTR_ICE_CONTROLLING 0x802A

/* struct stun_msg.flags: which attributes were present. */
#define STUN_F_PRIORITY 0x01
#define STUN_F_USE_CANDIDATE 0x02
#define STUN_F_ICE_CONTROLLING 0x04
#define STUN_F_ICE_CONTROLLED 0x08
#define STUN_F_ERROR_CODE 0x10
#define STUN_F_XOR_MAPPED 0x20

/* A parsed message. Pointers point into the buffer given to stun_parse() and
 * live as long as it. When an attribute appears twice, the first counts. */
struct stun_msg {
  uint16_t type;   /* method and class as on the wire (0x0001: Binding request) */
  uint16_t method; /* 12 bits (STUN_METHOD_BINDING) */
  uint8_t cls;     /* STUN_CLASS_* */
  uint8_t txid[STUN_TXID_LEN];
  unsigned flags; /* STUN_F_* */

  const uint8_t *username; /* NULL if absent; not NUL-terminated */
  size_t username_len;     /* bytes, at most STUN_USERNAME_MAX */

  size_t integrity_off;   /* offset of the MESSAGE-INTEGRITY attribute header; 0: absent */
  size_t fingerprint_off; /* offset of the FINGERPRINT attribute header; 0: absent */
  uint32_t fingerprint;   /* its value */

  uint32_t priority;   /* PRIORITY, if STUN_F_PRIORITY */
  uint64_t tiebreaker; /* of ICE-CONTROLLING or ICE-CONTROLLED, whichever came first */

  uint16_t error_code;         /* 300..699, if STUN_F_ERROR_CODE */
  const uint8_t *error_reason; /* UTF-8, not NUL-terminated */
  size_t error_reason_len;

  struct sockaddr_storage mapped; /* XOR-MAPPED-ADDRESS decoded, if STUN_F_XOR_MAPPED */

  /* Comprehension-required attributes (type < 0x8000) we do not know: the
   * caller answers a request that has any with 420. The first
   * STUN_UNKNOWN_MAX types are kept for UNKNOWN-ATTRIBUTES. */
  unsigned unknown_count;
  uint16_t unknown[STUN_UNKNOWN_MAX];
};

/* 1 if p looks like a STUN message: first byte 0..3 (RFC 7983), at least a
 * header, the magic cookie, and a length field that is a multiple of 4 and
 * equal to len - 20. 0 otherwise. */
int stun_is_stun(const uint8_t *p, size_t len);

/* Parses one whole message (a UDP datagram). Returns 0 with *m filled, or
 * -EINVAL if the header fails stun_is_stun(), an attribute runs past the end,
 * a known attribute has a bad length or value, USERNAME is longer than
 * STUN_USERNAME_MAX, anything follows FINGERPRINT, or anything but
 * FINGERPRINT follows MESSAGE-INTEGRITY. Never reads past len. Unknown
 * comprehension-required attributes do not fail the parse (unknown_count). */
int stun_parse(const uint8_t *p, size_t len, struct stun_msg *m);

/* Checks FINGERPRINT of a message stun_parse() accepted from the same
 * bytes: CRC-32 of everything before the attribute, xor 0x5354554e. Returns
 * 0, or -EINVAL if it is absent or wrong. */
int stun_check_fingerprint(const uint8_t *p, size_t len, const struct stun_msg *m);

/* Checks MESSAGE-INTEGRITY of a message stun_parse() accepted from the same
 * bytes: HMAC-SHA1 keyed with key (for ICE, the ice-pwd of the side that
 * receives the request) over the message before the attribute, with the
 * header's length field set to end right after MESSAGE-INTEGRITY. Compared
 * in constant time. Returns 0, or -EACCES if it is absent or wrong, if the
 * key is empty, or if OpenSSL fails. */
int stun_check_integrity(const uint8_t *p, size_t len, const struct stun_msg *m, const uint8_t *key,
                         size_t key_len);

/* Splits USERNAME "ourufrag:theirufrag" at the first ':' (RFC 8445 7.2.2:
 * the receiver's ufrag comes first). Returns 0, or -EINVAL if there is no
 * ':' or either part is empty. The parts point into u. */
int stun_username_split(const uint8_t *u, size_t len, const char **local, size_t *local_len,
                        const char **remote, size_t *remote_len);

/* The builders write one message into out (cap bytes) and return its length,
 * or -ENOBUFS if it does not fit (out then holds garbage), or -EINVAL for a
 * bad argument, or -EIO if OpenSSL fails. MESSAGE-INTEGRITY is added when
 * key is not NULL and key_len > 0; FINGERPRINT is always last. */

/* A Binding success response to the request txid, reporting the request's
 * source address (AF_INET or AF_INET6; an IPv4-mapped IPv6 address is
 * reported as IPv4) in XOR-MAPPED-ADDRESS. key: our ice-pwd. */
int stun_build_binding_success(uint8_t *out, size_t cap, const uint8_t txid[STUN_TXID_LEN],
                               const struct sockaddr *mapped, const uint8_t *key, size_t key_len);

/* A Binding error response with ERROR-CODE code (300..699; ICE-lite uses 400
 * Bad Request, 401 Unauthorized, 420 Unknown Attribute, 487 Role Conflict)
 * and reason (NUL-terminated, at most STUN_REASON_MAX bytes; NULL: the
 * standard phrase). RFC 5389 10.1.2: pass no key when the request failed
 * authentication (400, 401). For 420 use stun_build_binding_unknown(). */
int stun_build_binding_error(uint8_t *out, size_t cap, const uint8_t txid[STUN_TXID_LEN], int code,
                             const char *reason, const uint8_t *key, size_t key_len);

/* The 420 error response to req: ERROR-CODE 420 and UNKNOWN-ATTRIBUTES
 * listing the unknown comprehension-required types req carried. */
int stun_build_binding_unknown(uint8_t *out, size_t cap, const struct stun_msg *req,
                               const uint8_t *key, size_t key_len);

/* A Binding request as a browser sends it: USERNAME (NUL-terminated,
 * "receiverufrag:senderufrag"; NULL: none), PRIORITY, USE-CANDIDATE
 * if use_candidate, ICE-CONTROLLING with tiebreaker if controlling else
 * ICE-CONTROLLED, MESSAGE-INTEGRITY keyed with the receiver's ice-pwd, and
 * FINGERPRINT. */
int stun_build_binding_request(uint8_t *out, size_t cap, const uint8_t txid[STUN_TXID_LEN],
                               const char *username, uint32_t priority, int use_candidate,
                               int controlling, uint64_t tiebreaker, const uint8_t *key,
                               size_t key_len);

#endif
