/* Relay between nodes, the media (src/media/relay.c, docs/media.md "Relay
 * between nodes"): a room's origin sends one copy of its media over an
 * SRTP link to an edge, whose viewers get it as from a publisher of its
 * own: byte for byte, in their own numbering, one copy per edge however
 * many viewers, each simulcast layer, NACKs and PLIs passed through, rooms
 * kept apart, nothing from a wrong key, a tree of three nodes, IPv6. The
 * rig (three media planes, browsers, a proxy) is relay_rig.h's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay_rig.h"

/* A viewer on the edge gets the origin publisher's packets, byte for byte,
 * in its own numbering; the origin sends each packet once on the link and
 * counts none of it as forwarded to viewers. */
static void test_relay_carries_media(void **state) {
  struct scene sc;
  scene_up(&sc, 0, 60);
  struct peer *v = sc.v;
  run_ms(50);
  assert_int_equal(sfu_room_ready(sc.re), 1);
  assert_int_equal(sfu_room_relays(sc.ro), 1);
  assert_int_equal(sfu_room_relays(sc.re), 0);
  assert_got_once(v, sc.first, sent.next);
  assert_int_equal(v->video_gaps, 0);
  assert_true(v->video_ssrc != sc.vs.ssrc && v->video_ssrc != sc.k.ssrc[SFU_VIDEO]);
  struct sfu_stats so = stats_of(ORIGIN), se = stats_of(EDGE);
  assert_int_equal(so.rtp_in, sent.next - sc.first);
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
  struct scene sc;
  uint8_t nack[64];
  scene_up(&sc, 1, 20);
  struct peer *v = sc.v;
  px.drop_ssrc = sc.k.ssrc[SFU_VIDEO];
  uint32_t lost = pub_send(sc.pub->b, &sc.vs, 0);
  tick();
  publish(sc.pub, &sc.a, &sc.vs, 10, 0);
  wait_all(&v, 1, sc.first, sent.next, -1, -1);
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
  struct scene sc;
  uint8_t pli[64];
  scene_up(&sc, 0, 10);
  run_ms(1100); /* past the one-a-second bound of what the join asked */
  plis_before = sc.pub->plis;
  uint64_t edge_asked = stats_of(EDGE).keyframe_requests;
  uint64_t origin_asked = stats_of(ORIGIN).keyframe_requests;
  int n = rtcp_build_pli(pli, sizeof(pli), 0x1234, sc.v->video_ssrc);
  browser_rtcp(sc.v->b, pli, (size_t)n);
  wait_until(has_pli, sc.pub, "the publisher's PLI");
  assert_int_equal(sc.pub->pli_ssrc, sc.vs.ssrc);
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
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
