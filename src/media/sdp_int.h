/* What sdp.c (parsing) and sdp_answer.c (checking offers, answering)
 * share. Not for other modules. */
#ifndef ONAIR_SDP_INT_H
#define ONAIR_SDP_INT_H

#include <stddef.h>

#include "media/sdp.h"

/* Messages that name an m-line stay static: one string per m-line. */
#define SDP_PER_MLINE(s)                                                                      \
  {                                                                                           \
    "m-line 1 " s, "m-line 2 " s, "m-line 3 " s, "m-line 4 " s, "m-line 5 " s, "m-line 6 " s, \
        "m-line 7 " s, "m-line 8 " s                                                          \
  }
_Static_assert(SDP_MAX_MEDIA == 8, "SDP_PER_MLINE has one message per m-line");

typedef const char *const sdp_mline_msgs[SDP_MAX_MEDIA];

/* Value checks on NUL-terminated strings. */
int sdp_store(char *dst, size_t cap, const char *src);
int sdp_is_token(const char *s);
int sdp_is_ice(const char *s, size_t min, size_t max);
int sdp_is_fp_value(const char *s);
int sdp_is_msid(const char *s);

#endif
