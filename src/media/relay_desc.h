/* The description of a relayed room (docs/media.md, "Relay between
 * nodes"): what an origin tells an edge about a link's media, as JSON text
 * the edge's application hands back to sfu_relay_in(). Written by the
 * origin's media plane; on the edge it is input from another node, so the
 * parser checks every field (types, ranges, lengths, distinct SSRCs) and
 * refuses anything else with a reason. Pure: no I/O. */
#ifndef ONAIR_RELAY_DESC_H
#define ONAIR_RELAY_DESC_H

#include <stddef.h>
#include <stdint.h>

#include "media/sdp.h"

#define RELAY_DESC_MAX (8 * 1024) /* bytes of a description */
#define RELAY_DESC_VERSION 1
#define RELAY_LAYERS 3                  /* video layers, as SFU_LAYERS */
#define RELAY_TRACKS (1 + RELAY_LAYERS) /* audio, then the video layers from the lowest */

struct relay_desc_track {
  int active;
  struct sdp_codec codec; /* name, pt, clock, channels, fmtp, H.264's mode and profile */
  char rid[SDP_RID_MAX];  /* a simulcast layer's rid; empty without simulcast */
  uint32_t ssrc;          /* the link's SSRC for this track (never 0) */
};

struct relay_desc {
  uint32_t edge_ssrc; /* what the edge sends its RTCP on the link from (never 0) */
  uint8_t layers;     /* video layers 1..RELAY_LAYERS; 0: no video */
  /* Header extension ids the link's packets carry (the publisher's: they
   * pass untouched); 0: none. The edge tells layers by SSRC and sends no
   * transport-wide feedback on a link, so it reads neither. */
  uint8_t rid_ext, twcc_ext;
  struct relay_desc_track tracks[RELAY_TRACKS]; /* [0] audio, [1 + i] video layer i */
};

/* d as JSON into *out (NUL-terminated; caller frees with free()). Returns
 * its length, or -ENOMEM. */
int relay_desc_write(const struct relay_desc *d, char **out);
/* Parses len bytes of JSON into d. Returns 0, or -EINVAL with *why (a
 * static sentence) for anything malformed, out of range or inconsistent:
 * more than RELAY_DESC_MAX bytes, an unknown version, no track, a codec
 * other than Opus for audio or VP8/H.264 for video, a payload type in
 * 64..95 (RTCP's under rtcp-mux) or the same for audio and video, a rid
 * that is not RFC 8851's, layers without distinct rids, an SSRC of 0 or
 * used twice. */
int relay_desc_parse(const char *text, size_t len, struct relay_desc *d, const char **why);

#endif
