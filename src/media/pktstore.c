/* The packet ring. Each slot remembers the extended (64-bit, never
 * wrapping) sequence number of what it holds, so a lookup can tell a packet
 * of this lap from one of an earlier lap or one from before a jump. */
#include "media/pktstore.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Extended sequence numbers start one lap in, so a packet that arrives late
 * from before the first one (across a wrap) still gets a positive number. */
#define PKTSTORE_EXT_BASE 65536

struct pktstore_slot {
  uint64_t ext; /* extended sequence number of pkt, when pkt.len > 0 */
  struct pkt pkt;
};

struct pktstore {
  size_t slots;     /* a power of two */
  uint64_t highest; /* extended; valid when have_seq */
  int have_seq;
  int jump_pending;   /* the last put was refused as too old */
  uint16_t jump_next; /* ...and this sequence number would confirm a jump */
  int have_kf;
  uint64_t kf_ext; /* the last keyframe start: extended sequence number */
  uint16_t kf_seq;
  uint64_t kf_ms;
  struct pktstore_slot slot[];
};

struct pktstore *pktstore_new(size_t slots) {
  struct pktstore *ps;

  if (slots == 0)
    slots = PKTSTORE_DEFAULT_SLOTS;
  if (slots > PKTSTORE_MAX_SLOTS || (slots & (slots - 1)) != 0) {
    errno = EINVAL;
    return NULL;
  }
  ps = calloc(1, sizeof(*ps) + slots * sizeof(ps->slot[0]));
  if (ps == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  ps->slots = slots;
  return ps;
}

void pktstore_free(struct pktstore *ps) { free(ps); }

void pktstore_reset(struct pktstore *ps) {
  size_t i;

  for (i = 0; i < ps->slots; i++)
    ps->slot[i].pkt.len = 0;
  ps->have_seq = 0;
  ps->jump_pending = 0;
  ps->have_kf = 0;
}

size_t pktstore_slots(const struct pktstore *ps) { return ps->slots; }

/* The extended sequence number seq gets, or 0 when it must be refused. May
 * start the store over (a confirmed jump). */
static uint64_t pktstore_extend(struct pktstore *ps, uint16_t seq) {
  int32_t d;

  if (!ps->have_seq) {
    ps->have_seq = 1;
    ps->highest = PKTSTORE_EXT_BASE + seq;
    return ps->highest;
  }
  d = (int16_t)(seq - (uint16_t)ps->highest);
  if (d > 0) {
    ps->highest += (uint64_t)d;
    return ps->highest;
  }
  if ((size_t)-d < ps->slots)
    return ps->highest - (uint64_t)-d;
  if (ps->jump_pending && seq == ps->jump_next) {
    uint64_t next = ps->highest + (uint16_t)(seq - (uint16_t)ps->highest);
    pktstore_reset(ps);
    ps->have_seq = 1;
    ps->highest = next;
    return next;
  }
  ps->jump_pending = 1;
  ps->jump_next = (uint16_t)(seq + 1);
  return 0;
}

int pktstore_put(struct pktstore *ps, uint16_t seq, const uint8_t *data, size_t len, uint32_t flags,
                 uint64_t now_ms) {
  struct pktstore_slot *s;
  uint64_t ext;

  if (len == 0 || len > PKTSTORE_MTU)
    return -EINVAL;
  ext = pktstore_extend(ps, seq);
  if (ext == 0)
    return -ERANGE;
  ps->jump_pending = 0;
  s = &ps->slot[seq & (ps->slots - 1)];
  s->ext = ext;
  s->pkt.seq = seq;
  s->pkt.len = (uint16_t)len;
  s->pkt.flags = flags;
  s->pkt.arrival_ms = now_ms;
  memcpy(s->pkt.data, data, len);
  if ((flags & PKT_KEYFRAME) && (!ps->have_kf || ext >= ps->kf_ext)) {
    ps->have_kf = 1;
    ps->kf_ext = ext;
    ps->kf_seq = seq;
    ps->kf_ms = now_ms;
  }
  return 0;
}

/* Whether the slot holding ext is still among the last ps->slots numbers. */
static int pktstore_in_window(const struct pktstore *ps, uint64_t ext) {
  return ps->have_seq && ext <= ps->highest && ps->highest - ext < ps->slots;
}

const struct pkt *pktstore_get(const struct pktstore *ps, uint16_t seq) {
  const struct pktstore_slot *s = &ps->slot[seq & (ps->slots - 1)];

  if (s->pkt.len == 0 || s->pkt.seq != seq || !pktstore_in_window(ps, s->ext))
    return NULL;
  return &s->pkt;
}

int pktstore_highest(const struct pktstore *ps, uint32_t *ext_seq) {
  if (!ps->have_seq)
    return -ENOENT;
  *ext_seq = (uint32_t)(ps->highest - PKTSTORE_EXT_BASE);
  return 0;
}

/* Within the window the keyframe's slot still holds it: anything put there
 * since is the same number again (a duplicate) or older and refused. */
int pktstore_last_keyframe(const struct pktstore *ps, uint16_t *seq, uint64_t *ms) {
  if (!ps->have_kf || !pktstore_in_window(ps, ps->kf_ext))
    return -ENOENT;
  *seq = ps->kf_seq;
  *ms = ps->kf_ms;
  return 0;
}
