/* container_of: from a pointer to a member back to the struct that embeds
 * it. Layers below hand back the piece they know (a listener, a media
 * owner); the layer above embeds that piece and recovers its own object,
 * typed, without a void pointer. */
#ifndef ONAIR_CONTAINER_OF_H
#define ONAIR_CONTAINER_OF_H

#include <stddef.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
