/* libFuzzer target for src/media/relay_desc.c.
 *
 * The input is a relayed room's description, as an edge gets it from
 * another node. It is parsed; a failure must come with a reason and leave
 * the struct zeroed. A parsed description must hold what the parser
 * promises (an Opus or VP8/H.264 codec, payload types outside 64..95,
 * 1..3 layers with distinct rids when more than one, distinct nonzero
 * SSRCs, strings ending inside their arrays), and written back and parsed
 * again it must give the same struct. Any broken check traps. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "media/relay_desc.h"

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond))         \
      __builtin_trap();  \
  } while (0)

static const struct relay_desc zero;

static void fuzz_check_track(const struct relay_desc_track *t, int video) {
  const struct sdp_codec *c = &t->codec;

  FUZZ_CHECK(t->ssrc != 0 && c->pt <= 127 && (c->pt < 64 || c->pt > 95));
  FUZZ_CHECK(strnlen(c->name, sizeof(c->name)) < sizeof(c->name));
  FUZZ_CHECK(strnlen(c->fmtp, sizeof(c->fmtp)) < sizeof(c->fmtp));
  FUZZ_CHECK(strnlen(t->rid, sizeof(t->rid)) < sizeof(t->rid));
  FUZZ_CHECK(c->clock > 0 && c->channels > 0 && c->apt == -1 && c->rtx_pt == -1);
  if (video)
    FUZZ_CHECK(strcasecmp(c->name, "VP8") == 0 || strcasecmp(c->name, "H264") == 0);
  else
    FUZZ_CHECK(strcasecmp(c->name, "opus") == 0);
}

static void fuzz_check_desc(const struct relay_desc *d) {
  FUZZ_CHECK(d->edge_ssrc != 0 && d->layers <= RELAY_LAYERS);
  FUZZ_CHECK(d->tracks[0].active || d->layers > 0);
  if (d->tracks[0].active)
    fuzz_check_track(&d->tracks[0], 0);
  for (int i = 0; i < RELAY_LAYERS; i++) {
    const struct relay_desc_track *t = &d->tracks[1 + i];

    FUZZ_CHECK(t->active == (i < d->layers));
    if (!t->active)
      continue;
    fuzz_check_track(t, 1);
    FUZZ_CHECK(t->ssrc != d->edge_ssrc && (!d->tracks[0].active || t->ssrc != d->tracks[0].ssrc));
    FUZZ_CHECK(memcmp(&t->codec, &d->tracks[1].codec, sizeof(t->codec)) == 0);
    for (int j = 0; j < i; j++) {
      FUZZ_CHECK(d->tracks[1 + j].ssrc != t->ssrc);
      FUZZ_CHECK(strcmp(d->tracks[1 + j].rid, t->rid) != 0 && t->rid[0] != 0);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct relay_desc d, back;
  const char *why = NULL;
  char *text = NULL;

  if (relay_desc_parse((const char *)data, size, &d, &why) < 0) {
    FUZZ_CHECK(why != NULL && memcmp(&d, &zero, sizeof(d)) == 0);
    return 0;
  }
  fuzz_check_desc(&d);
  int n = relay_desc_write(&d, &text);
  FUZZ_CHECK(n > 0 && text != NULL && (size_t)n == strlen(text));
  FUZZ_CHECK(relay_desc_parse(text, (size_t)n, &back, &why) == 0);
  FUZZ_CHECK(memcmp(&d, &back, sizeof(d)) == 0);
  free(text);
  return 0;
}
