/* A worker thread of the media plane: its own loop, running one share of
 * the viewers (fanout.h) and sending from a copy of the media socket's
 * descriptor. The media plane's loop posts messages into its ring; the
 * worker posts what it asks back (keyframes, views moved) into a second
 * ring and wakes the media plane's loop. Each ring has one writer and one
 * reader: no lock on the packet path. */
#ifndef ONAIR_WORKER_H
#define ONAIR_WORKER_H

#include <stdint.h>
#include <uv.h>

#include "media/fanout.h"
#include "media/udp.h"

struct worker;

/* What a worker asks back, taken on the media plane's loop. */
struct worker_ops {
  void (*keyframe)(void *arg, uint64_t room_id, int track);
  void (*moved)(void *arg, struct fanout_view *view);
  void (*layer)(void *arg, struct fanout_view *view, uint64_t room_id, int track, int want);
};

/* Starts a worker sending through (a copy of) udp's socket. It waits up to
 * hold_ms for the rest of a video frame whose first packets it has (0:
 * never). Its asks back come through ops on loop (the media plane's).
 * Returns 0 or a negative errno. */
int worker_start(uv_loop_t *loop, struct udp_sock *udp, unsigned hold_ms,
                 const struct worker_ops *ops, void *arg, struct worker **out);
/* Hands m to the worker (a packet's bytes are copied) and wakes it, but
 * for a viewer's feedback (FANOUT_TWCC, FANOUT_REMB), which waits for the
 * next wake; m's order among the messages posted to this worker is kept. Never blocks: when the ring
 * is full, messages wait in an overflow queue (packets beyond its cap are
 * dropped and counted). Media plane's loop only. */
void worker_post(struct worker *w, const struct fanout_msg *m);
/* Moves messages waiting in the overflow queue into the ring (the media
 * plane's timer calls it, for a worker nothing new is posted to). */
void worker_poll(struct worker *w);
/* Stops the thread (after the messages posted so far) and frees w, with
 * every view it still holds. Blocks until the thread has ended. */
void worker_stop(struct worker *w);
/* The worker's counters, its socket's and the packets dropped at a full
 * ring. Any thread. */
void worker_stats(const struct worker *w, struct fanout_stats *fan, struct udp_stats *udp,
                  uint64_t *ring_dropped);

#endif
