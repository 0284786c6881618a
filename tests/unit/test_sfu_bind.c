/* Which media peer an address belongs to (src/media/sfu.c, peer_bind): a
 * real struct sfu on 127.0.0.1 and one UDP socket written here that sends
 * ICE checks for two peers in turn, as two browsers behind the same NAT
 * mapping would (or one that spoofs the other's source). The address
 * belongs to the peer whose check came last: media from it goes to that
 * peer. The test reaches into sfu_int.h for the address map, whose key is
 * the family, port and address bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "media/sfu_int.h"
#include "media/stun.h"

#define SDP_TRANSPORT                                                                             \
  "c=IN IP4 0.0.0.0\r\na=ice-ufrag:bRoW\r\na=ice-pwd:browserbrowserbrowser22\r\n"                 \
  "a=fingerprint:sha-256 "                                                                        \
  "25:D0:94:14:42:1C:09:2F:07:3E:2E:06:50:89:C9:0E:1D:2B:6B:53:AB:C3:AA:1B:DA:16:09:CC:61:0B:57:" \
  "06\r\na=setup:actpass\r\na=rtcp-mux\r\n"

/* A broadcaster's offer: Opus and VP8, sendonly. */
static const char publisher_sdp[] =
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" SDP_TRANSPORT
    "a=mid:0\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" SDP_TRANSPORT
    "a=mid:1\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\n";

static const struct sfu_owner_ops owner_ops; /* no calls are expected */

static struct {
  uv_loop_t loop;
  struct sfu *sfu;
  int fd;                  /* the browsers' one UDP socket */
  struct sockaddr_in self; /* its address */
  struct sockaddr_in sfu_addr;
} t;

static int setup(void **state) {
  struct sfu_config cfg = {
      .bind = "127.0.0.1", .port = 0, .announce = "127.0.0.1", .consent_ms = 30000};
  socklen_t len = sizeof(t.self);

  (void)state;
  if (sodium_init() < 0 || harness_init(&t.loop) != 0 || sfu_new(&t.loop, &cfg, &t.sfu) < 0)
    return -1;
  t.fd = socket(AF_INET, SOCK_DGRAM, 0);
  memset(&t.self, 0, sizeof(t.self));
  t.self.sin_family = AF_INET;
  t.self.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (t.fd < 0 || bind(t.fd, (struct sockaddr *)&t.self, sizeof(t.self)) < 0 ||
      getsockname(t.fd, (struct sockaddr *)&t.self, &len) < 0 ||
      fcntl(t.fd, F_SETFL, O_NONBLOCK) < 0)
    return -1;
  t.sfu_addr = t.self;
  t.sfu_addr.sin_port = htons((uint16_t)sfu_port(t.sfu));
  return 0;
}

static int teardown(void **state) {
  (void)state;
  close(t.fd);
  sfu_close(t.sfu);
  return harness_finish() == 0 ? 0 : -1;
}

/* A publisher peer in a room of its own. */
static struct sfu_peer *offer(struct sfu_room *room, struct sfu_owner *owner) {
  char *answer = NULL;
  const char *code, *why;

  assert_int_equal(
      sfu_offer(room, 1, owner, publisher_sdp, strlen(publisher_sdp), &answer, &code, &why), 0);
  free(answer);
  assert_non_null(room->publisher);
  return room->publisher;
}

/* The browser of peer p checks from the socket; returns the STUN message
 * type of onair's answer. */
static int check(const struct sfu_peer *p, uint8_t n) {
  uint8_t req[512], resp[512], txid[STUN_TXID_LEN] = {n};
  char user[64];
  struct stun_msg m;
  ssize_t got = -1;
  int len;

  snprintf(user, sizeof(user), "%s:bRoW", p->ufrag);
  len = stun_build_binding_request(req, sizeof(req), txid, user, 1u << 24, 1, 1, 42,
                                   (const uint8_t *)p->pwd, strlen(p->pwd));
  assert_true(len > 0);
  assert_int_equal(
      sendto(t.fd, req, (size_t)len, 0, (struct sockaddr *)&t.sfu_addr, sizeof(t.sfu_addr)), len);
  for (int i = 0; i < 200 && got < 0; i++) {
    harness_wait_event();
    got = recv(t.fd, resp, sizeof(resp), 0);
  }
  assert_true(got > 0);
  assert_int_equal(stun_parse(resp, (size_t)got, &m), 0);
  assert_memory_equal(m.txid, txid, STUN_TXID_LEN);
  return m.type;
}

/* The peer media from the socket's address goes to. */
static struct sfu_peer *owner_of_address(void) {
  char key[7] = {4};

  memcpy(key + 1, &t.self.sin_port, 2);
  memcpy(key + 3, &t.self.sin_addr, 4);
  return map_get(&t.sfu->by_addr, key, sizeof(key));
}

static void test_last_check_takes_the_address(void **state) {
  struct sfu_owner room_a = {&owner_ops}, room_b = {&owner_ops}, pub_a = {&owner_ops},
                   pub_b = {&owner_ops};
  struct sfu_room *ra = sfu_room_new(t.sfu, &room_a), *rb = sfu_room_new(t.sfu, &room_b);
  struct sfu_peer *a = offer(ra, &pub_a), *b = offer(rb, &pub_b);

  (void)state;
  assert_int_equal(check(a, 1), STUN_BINDING_SUCCESS);
  assert_ptr_equal(owner_of_address(), a);
  assert_int_equal(check(b, 2), STUN_BINDING_SUCCESS);
  assert_ptr_equal(owner_of_address(), b);
  /* a checked from here before: its check now takes the address back,
   * rather than being answered while its media still went to b. */
  assert_int_equal(check(a, 3), STUN_BINDING_SUCCESS);
  assert_ptr_equal(owner_of_address(), a);
  assert_int_equal(check(a, 4), STUN_BINDING_SUCCESS);
  assert_ptr_equal(owner_of_address(), a);
  assert_int_equal(check(b, 5), STUN_BINDING_SUCCESS);
  assert_ptr_equal(owner_of_address(), b);
  /* b goes: the address is nobody's, until a checks again. */
  sfu_room_free(rb);
  assert_null(owner_of_address());
  assert_int_equal(check(a, 6), STUN_BINDING_SUCCESS);
  assert_ptr_equal(owner_of_address(), a);
  sfu_room_free(ra);
  assert_null(owner_of_address());
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_last_check_takes_the_address),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
