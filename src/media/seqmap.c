/* Sequence number and timestamp offsets for one viewer's track. Sequence
 * arithmetic is mod 2^16 and order is decided by signed 16-bit distance, as
 * RTP receivers do; timestamps likewise mod 2^32. */
#include "media/seqmap.h"

#include <errno.h>
#include <string.h>

void seqmap_init(struct seqmap *m, uint32_t out_ssrc) {
  memset(m, 0, sizeof(*m));
  m->out_ssrc = out_ssrc;
  m->ts_gap = SEQMAP_TS_GAP_DEFAULT;
}

void seqmap_start(struct seqmap *m, uint16_t in_seq, uint32_t in_ts) {
  if (!m->started) {
    m->out_start = in_seq;
    m->ts_start = in_ts;
  } else if (m->sent) {
    m->out_start = (uint16_t)(m->out_high + 1);
    m->ts_start = m->ts_high + m->ts_gap;
  }
  /* else: the segment being replaced sent nothing; start where it would have. */
  m->seq_off = (uint16_t)(m->out_start - in_seq);
  m->ts_off = m->ts_start - in_ts;
  m->started = 1;
  m->sent = 0;
  m->span = 0;
}

int seqmap_out(struct seqmap *m, uint16_t in_seq, uint32_t in_ts, uint16_t *out_seq,
               uint32_t *out_ts) {
  uint16_t o;
  uint32_t t;
  int32_t d;

  if (!m->started)
    return -EAGAIN;
  o = (uint16_t)(in_seq + m->seq_off);
  t = in_ts + m->ts_off;
  if (!m->sent) {
    d = (int16_t)(o - m->out_start);
    if (d < 0)
      return -ESTALE;
    m->sent = 1;
    m->out_high = o;
    m->span = (uint16_t)d;
    m->ts_high = t;
  } else {
    d = (int16_t)(o - m->out_high);
    if (d > 0) {
      m->out_high = o;
      m->span = (uint32_t)m->span + (uint32_t)d > 65535 ? 65535 : (uint16_t)(m->span + d);
    } else if ((uint32_t)-d > m->span) {
      return -ESTALE;
    }
    if ((int32_t)(t - m->ts_high) > 0)
      m->ts_high = t;
  }
  *out_seq = o;
  *out_ts = t;
  return 0;
}

int seqmap_in_seq(const struct seqmap *m, uint16_t out_seq, uint16_t *in_seq) {
  uint16_t back;

  if (!m->started || !m->sent)
    return -ENOENT;
  back = (uint16_t)(m->out_high - out_seq);
  if (back > m->span || back >= 32768)
    return -ENOENT;
  *in_seq = (uint16_t)(out_seq - m->seq_off);
  return 0;
}
