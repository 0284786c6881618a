/* Relay between nodes, the links' lives (src/media/relay.c, docs/media.md
 * "Relay between nodes"): the origin going silent, ending the link or
 * going away; the edge relaying in again or letting go; the descriptions
 * and calls refused. The rig (three media planes, browsers, a proxy) is
 * relay_rig.h's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay_rig.h"

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
  struct scene sc;
  struct link k2;
  scene_up(&sc, 0, 20);
  assert_int_equal(sfu_relay_out_end(sc.ro, sc.k.lp.id), 0);
  wait_until(owner_closed, sc.k.in, "the relay-in to close");
  publish(sc.pub, &sc.a, &sc.vs, 5, 0); /* while no link: not for the edge */
  relay(&k2, ORIGIN, sc.ro, EDGE, sc.re, 0, NULL);
  assert_int_equal(sc.oe->ready, 2);
  uint32_t first = publish(sc.pub, &sc.a, &sc.vs, 20, 1);
  wait_all(&sc.v, 1, first, sent.next, -1, -1);
  run_ms(50);
  assert_got_once(sc.v, first, sent.next);
  assert_int_equal(sc.v->video_gaps, 0);
  assert_int_equal(sc.v->nrtp, 2 * (sent.next - first));
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
      cmocka_unit_test_setup_teardown(test_relay_origin_silent, setup_short, teardown_nodes),
      cmocka_unit_test_setup_teardown(test_relay_origin_ends, setup_plain, teardown_nodes),
      cmocka_unit_test_setup_teardown(test_relay_again, setup_plain, teardown_nodes),
      cmocka_unit_test_setup_teardown(test_relay_edge_lets_go, setup_plain, teardown_nodes),
      cmocka_unit_test_setup_teardown(test_relay_refused, setup_plain, teardown_nodes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
