/* A relayed room's description (src/media/relay_desc.c): what an origin
 * writes parses back the same; what an edge must refuse is refused, each
 * with its reason. And RTCP BYE (rtcp_build_bye), which a link's ends
 * send each other, parses back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/relay_desc.h"
#include "media/rtcp.h"

#define OPUS "\"codec\":{\"name\":\"opus\",\"pt\":111,\"clock\":48000,\"channels\":2}"
#define VP8 "\"codec\":{\"name\":\"VP8\",\"pt\":96,\"clock\":90000,\"channels\":1}"
#define AUDIO "\"audio\":{" OPUS ",\"ssrc\":7}"

static const struct {
  const char *text;
  const char *why; /* a word of the reason */
} bad[] = {
    {"", "JSON object"},
    {"null", "JSON object"},
    {"[]", "JSON object"},
    {"{\"v\":1,\"edge_ssrc\":5," AUDIO "} trailing", "JSON object"},
    {"{\"v\":1,\"v\":1,\"edge_ssrc\":5," AUDIO "}", "JSON object"},
    {"\xff\xfe{}", "JSON object"},
    {"{}", "version"},
    {"{\"v\":2,\"edge_ssrc\":5," AUDIO "}", "version"},
    {"{\"v\":1," AUDIO "}", "edge_ssrc"},
    {"{\"v\":1,\"edge_ssrc\":0," AUDIO "}", "edge_ssrc"},
    {"{\"v\":1,\"edge_ssrc\":5.5," AUDIO "}", "edge_ssrc"},
    {"{\"v\":1,\"edge_ssrc\":4294967296," AUDIO "}", "edge_ssrc"},
    {"{\"v\":1,\"edge_ssrc\":5,\"ext\":{\"rid\":256}," AUDIO "}", "ext"},
    {"{\"v\":1,\"edge_ssrc\":5,\"ext\":[]," AUDIO "}", "ext"},
    {"{\"v\":1,\"edge_ssrc\":5}", "no track"},
    {"{\"v\":1,\"edge_ssrc\":5,\"audio\":{\"codec\":{\"name\":\"PCMU\",\"pt\":0,\"clock\":8000,"
     "\"channels\":1},\"ssrc\":7}}",
     "Opus"},
    {"{\"v\":1,\"edge_ssrc\":5,\"audio\":{\"codec\":{\"name\":\"opus\",\"pt\":72,\"clock\":48000,"
     "\"channels\":2},\"ssrc\":7}}",
     "Opus"},
    {"{\"v\":1,\"edge_ssrc\":5,\"audio\":{\"codec\":{\"name\":\"opus\",\"pt\":111,\"clock\":0,"
     "\"channels\":2},\"ssrc\":7}}",
     "Opus"},
    {"{\"v\":1,\"edge_ssrc\":5,\"audio\":{\"codec\":{\"name\":\"opus\",\"pt\":111,\"clock\":48000,"
     "\"channels\":2,\"fmtp\":\"a\\u0001b\"},\"ssrc\":7}}",
     "Opus"},
    {"{\"v\":1,\"edge_ssrc\":5,\"audio\":{" OPUS "}}", "Opus"},
    {"{\"v\":1,\"edge_ssrc\":5,\"audio\":{" OPUS ",\"ssrc\":0}}", "Opus"},
    {"{\"v\":1,\"edge_ssrc\":5,\"video\":{\"codec\":{\"name\":\"VP9\",\"pt\":98,\"clock\":90000,"
     "\"channels\":1},\"layers\":[{\"ssrc\":9}]}}",
     "VP8"},
    {"{\"v\":1,\"edge_ssrc\":5,\"video\":{\"codec\":{\"name\":\"VP8\",\"pt\":\"96\",\"clock\":"
     "90000,\"channels\":1},\"layers\":[{\"ssrc\":9}]}}",
     "VP8"},
    {"{\"v\":1,\"edge_ssrc\":5,\"video\":{" VP8 ",\"layers\":[]}}", "layers"},
    {"{\"v\":1,\"edge_ssrc\":5,\"video\":{" VP8 "}}", "layers"},
    {"{\"v\":1,\"edge_ssrc\":5,\"video\":{" VP8 ",\"layers\":[{\"ssrc\":-9}]}}", "layers"},
    {"{\"v\":1,\"edge_ssrc\":5,\"video\":{" VP8
     ",\"layers\":[{\"rid\":\"a\",\"ssrc\":9},{\"rid\":\"a\",\"ssrc\":10}]}}",
     "layers"},
    {"{\"v\":1,\"edge_ssrc\":5,\"video\":{" VP8
     ",\"layers\":[{\"ssrc\":9},{\"rid\":\"a\",\"ssrc\":10}]}}",
     "layers"},
    {"{\"v\":1,\"edge_ssrc\":5,\"video\":{" VP8
     ",\"layers\":[{\"rid\":\"a b\",\"ssrc\":9},{\"rid\":\"c\",\"ssrc\":10}]}}",
     "layers"},
    {"{\"v\":1,\"edge_ssrc\":5,\"video\":{" VP8
     ",\"layers\":[{\"rid\":\"aaaaaaaaaaaaaaaaa\",\"ssrc\":9},{\"rid\":\"c\",\"ssrc\":10}]}}",
     "layers"},
    {"{\"v\":1,\"edge_ssrc\":5,\"video\":{" VP8
     ",\"layers\":[{\"rid\":\"a\",\"ssrc\":9},{\"rid\":\"b\",\"ssrc\":10},"
     "{\"rid\":\"c\",\"ssrc\":11},{\"rid\":\"d\",\"ssrc\":12}]}}",
     "layers"},
    {"{\"v\":1,\"edge_ssrc\":5," AUDIO ",\"video\":{\"codec\":{\"name\":\"VP8\",\"pt\":111,"
     "\"clock\":90000,\"channels\":1},\"layers\":[{\"ssrc\":9}]}}",
     "payload type"},
    {"{\"v\":1,\"edge_ssrc\":7," AUDIO "}", "distinct"},
    {"{\"v\":1,\"edge_ssrc\":5," AUDIO ",\"video\":{" VP8 ",\"layers\":[{\"ssrc\":7}]}}",
     "distinct"},
};

static void test_refused(void **state) {
  struct relay_desc d;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    const char *why = NULL;
    memset(&d, 0xff, sizeof(d));
    if (relay_desc_parse(bad[i].text, strlen(bad[i].text), &d, &why) != -EINVAL || why == NULL)
      fail_msg("taken: %s", bad[i].text);
    if (strstr(why, bad[i].why) == NULL)
      fail_msg("%s: refused because %s", bad[i].text, why);
    assert_int_equal(d.edge_ssrc, 0); /* nothing half parsed is left */
    assert_int_equal(d.tracks[0].active, 0);
  }
}

/* Longer than RELAY_DESC_MAX: refused before it is parsed. */
static void test_too_long(void **state) {
  struct relay_desc d;
  const char *why = NULL;
  const char *good = "{\"v\":1,\"edge_ssrc\":5," AUDIO "}";
  char *big = malloc(RELAY_DESC_MAX + 1);
  assert_non_null(big);
  memset(big, ' ', RELAY_DESC_MAX + 1);
  memcpy(big, good, strlen(good));
  assert_int_equal(relay_desc_parse(big, RELAY_DESC_MAX, &d, &why), 0);
  assert_int_equal(relay_desc_parse(big, RELAY_DESC_MAX + 1, &d, &why), -EINVAL);
  assert_non_null(strstr(why, "too long"));
  free(big);
}

/* A simulcast H.264 room and its Opus, written and parsed back. */
static void test_round_trip(void **state) {
  struct relay_desc d = {.edge_ssrc = 0xfffffffe, .layers = 3, .rid_ext = 10, .twcc_ext = 3};
  static const char *const rids[3] = {"q", "h_1", "F-2"};
  d.tracks[0] = (struct relay_desc_track){
      .active = 1,
      .codec = {.pt = 111, .name = "opus", .clock = 48000, .channels = 2, .apt = -1, .rtx_pt = -1},
      .ssrc = 1};
  snprintf(d.tracks[0].codec.fmtp, sizeof(d.tracks[0].codec.fmtp), "minptime=10;useinbandfec=1");
  for (int i = 0; i < 3; i++) {
    struct relay_desc_track *t = &d.tracks[1 + i];
    t->active = 1;
    t->codec = (struct sdp_codec){.pt = 102,
                                  .name = "H264",
                                  .clock = 90000,
                                  .channels = 1,
                                  .apt = -1,
                                  .rtx_pt = -1,
                                  .packetization_mode = 1,
                                  .profile_level_id = 0x42e01f};
    snprintf(t->codec.fmtp, sizeof(t->codec.fmtp), "packetization-mode=1;profile-level-id=42e01f");
    snprintf(t->rid, sizeof(t->rid), "%s", rids[i]);
    t->ssrc = 0x80000000u + (uint32_t)i;
  }
  char *text = NULL;
  int n = relay_desc_write(&d, &text);
  assert_true(n > 0);
  assert_int_equal((size_t)n, strlen(text));
  struct relay_desc back;
  const char *why = NULL;
  assert_int_equal(relay_desc_parse(text, (size_t)n, &back, &why), 0);
  assert_memory_equal(&back, &d, sizeof(d));
  free(text);
}

/* One layer without a rid; no audio. */
static void test_video_only(void **state) {
  const char *text = "{\"v\":1,\"edge_ssrc\":5,\"video\":{" VP8 ",\"layers\":[{\"ssrc\":9}]},"
                     "\"later\":{\"keys\":[1]}}";
  struct relay_desc d;
  const char *why = NULL;
  assert_int_equal(relay_desc_parse(text, strlen(text), &d, &why), 0);
  assert_int_equal(d.tracks[0].active, 0);
  assert_int_equal(d.layers, 1);
  assert_int_equal(d.tracks[1].ssrc, 9);
  assert_string_equal(d.tracks[1].rid, "");
  assert_int_equal(d.tracks[1].codec.profile_level_id, 0x42000a); /* SDP's default */
  assert_int_equal(d.tracks[2].active, 0);
}

static void test_rtcp_bye(void **state) {
  uint8_t buf[64];
  const uint32_t ssrcs[3] = {1, 0xdeadbeef, 7};
  struct rtcp_iter it;
  struct rtcp_pkt pkt;
  struct rtcp_bye bye;
  int n = rtcp_build_bye(buf, sizeof(buf), ssrcs, 3);
  assert_int_equal(n, 16);
  assert_int_equal(rtcp_check(buf, (size_t)n), 1);
  rtcp_iter_init(&it, buf, (size_t)n);
  assert_int_equal(rtcp_next(&it, &pkt), 1);
  assert_int_equal(rtcp_parse_bye(&pkt, &bye), 0);
  assert_int_equal(bye.nssrc, 3);
  assert_int_equal(bye.ssrc[1], 0xdeadbeef);
  assert_null(bye.reason);
  assert_int_equal(rtcp_build_bye(buf, 15, ssrcs, 3), -ENOBUFS);
  assert_int_equal(rtcp_build_bye(buf, sizeof(buf), ssrcs, 0), -EINVAL);
  assert_int_equal(rtcp_build_bye(buf, sizeof(buf), ssrcs, RTCP_MAX_REPORTS + 1), -EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_refused),    cmocka_unit_test(test_too_long),
      cmocka_unit_test(test_round_trip), cmocka_unit_test(test_video_only),
      cmocka_unit_test(test_rtcp_bye),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
