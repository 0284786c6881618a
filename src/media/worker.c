/* Worker threads (worker.h). Two single-producer single-consumer rings per
 * worker: the media plane's loop writes `in` and the worker reads it; the
 * worker writes `back` and the media plane's loop reads it. A ring's head
 * and tail are each written by one side only (release) and read by the
 * other (acquire). `in` holds records of their own size (a packet takes
 * its bytes, not an MTU), so its memory follows the bytes in flight;
 * `back` has fixed slots. */
#include "media/worker.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WORKER_RING_BYTES (512 * 1024) /* messages in flight to a worker: ~370 video packets */
#define WORKER_REC_ALIGN 64            /* a record's size is a multiple of this */
#define WORKER_BACK_SLOTS 1024         /* messages back */
#define WORKER_OVERFLOW_MAX 8192       /* packets waiting beyond a full ring, at most */
#define WORKER_TICK_MS 100

/* A message waiting in the overflow queue. */
struct worker_slot {
  struct fanout_msg m;
  uint8_t data[PKTSTORE_MTU]; /* a packet's bytes (m.u.pkt.data points here when taken) */
};

/* A message in `in`: its header, then a packet's bytes. */
struct rec {
  uint32_t size; /* bytes of the record; 0: the rest of the ring is unused, go on at 0 */
  struct fanout_msg m;
  uint8_t data[]; /* m.u.pkt.data points here when taken */
};

/* `in`: head and tail count bytes. */
struct bring {
  size_t cap;     /* a power of two, a multiple of WORKER_REC_ALIGN */
  size_t pending; /* the producer's: tail after the reserved record */
  uint8_t *bytes;
  _Alignas(64) size_t tail; /* bytes written */
  _Alignas(64) size_t head; /* bytes released */
};

/* A message back: what a worker asks of the media plane. */
struct worker_ask {
  enum worker_ask_type { WORKER_ASK_KEYFRAME, WORKER_ASK_MOVED, WORKER_ASK_LAYER } type;
  uint64_t room_id;         /* keyframe, layer */
  struct fanout_view *view; /* moved, layer */
  int track, want;          /* keyframe (track), layer */
};

struct ring {
  size_t mask, size; /* slots - 1, and bytes of one */
  uint8_t *slots;
  /* Each on its own cache line: one written by the producer, one by the
   * consumer. */
  _Alignas(64) size_t tail; /* next slot to write */
  _Alignas(64) size_t head; /* next slot to read */
};

/* A message that found the ring full, waiting in order. */
struct overflow {
  struct worker_slot s;
  struct overflow *next;
};

struct worker {
  uv_thread_t thread;
  uv_loop_t loop;       /* the worker's */
  uv_async_t wake;      /* the worker's: `in` has messages */
  uv_timer_t tick;      /* the worker's: paced catch-ups go on */
  uv_timer_t hold;      /* the worker's: a frame's packets wait for its last one */
  uv_async_t asked;     /* the media plane's: `back` has messages */
  struct udp_sock *udp; /* the worker's sending copy */
  struct fanout share;
  struct bring in;
  struct ring back;
  struct overflow *over_head, *over_tail; /* the media plane's */
  size_t over_count, over_pkts;
  uint64_t ring_dropped; /* packets dropped at a full ring and overflow */
  unsigned hold_ms;      /* a frame's first packets wait this long at most for its last */
  int stopping;          /* set (atomically) by worker_stop */
  int ended;             /* set (atomically) by the thread as its loop ends */
  const struct worker_ops *ops;
  void *arg;
};

static int ring_init(struct ring *r, size_t slots, size_t size) {
  r->slots = calloc(slots, size);
  r->mask = slots - 1;
  r->size = size;
  r->head = r->tail = 0;
  return r->slots ? 0 : -ENOMEM;
}

/* The producer's slot to fill, or NULL when the ring is full. */
static void *ring_slot(struct ring *r) {
  size_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
  if (r->tail - head > r->mask)
    return NULL;
  return r->slots + (r->tail & r->mask) * r->size;
}

static void ring_commit(struct ring *r) {
  __atomic_store_n(&r->tail, r->tail + 1, __ATOMIC_RELEASE);
}

/* The consumer's next message, or NULL when the ring is empty; its slot
 * stays the consumer's until ring_release(). */
static void *ring_peek(struct ring *r) {
  size_t tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
  if (r->head == tail)
    return NULL;
  return r->slots + (r->head & r->mask) * r->size;
}

static void ring_release(struct ring *r) {
  __atomic_store_n(&r->head, r->head + 1, __ATOMIC_RELEASE);
}

static int bring_init(struct bring *r, size_t cap) {
  r->bytes = aligned_alloc(WORKER_REC_ALIGN, cap);
  r->cap = cap;
  r->head = r->tail = r->pending = 0;
  return r->bytes ? 0 : -ENOMEM;
}

/* The producer's record for a message of len packet bytes, or NULL when
 * the ring has no room for it; bring_commit() makes it the consumer's. */
static struct rec *bring_reserve(struct bring *r, size_t len) {
  size_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
  size_t need = (sizeof(struct rec) + len + WORKER_REC_ALIGN - 1) & ~(size_t)(WORKER_REC_ALIGN - 1);
  size_t pos = r->tail & (r->cap - 1), skip = 0;
  struct rec *rec;
  if (need > r->cap - pos) /* not before the end: the record starts at 0 */
    skip = r->cap - pos;
  if (r->tail + skip + need - head > r->cap)
    return NULL;
  if (skip) {
    ((struct rec *)(r->bytes + pos))->size = 0;
    pos = 0;
  }
  rec = (struct rec *)(r->bytes + pos);
  rec->size = (uint32_t)need;
  r->pending = r->tail + skip + need;
  return rec;
}

static void bring_commit(struct bring *r) {
  __atomic_store_n(&r->tail, r->pending, __ATOMIC_RELEASE);
}

/* The consumer's record at *at, moving *at past it; NULL when there is
 * none yet. The records up to *at stay the consumer's until
 * bring_release(). */
static struct rec *bring_next(struct bring *r, size_t *at) {
  size_t tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
  struct rec *rec;
  if (*at == tail)
    return NULL;
  rec = (struct rec *)(r->bytes + (*at & (r->cap - 1)));
  if (rec->size == 0) { /* a skip is always followed by its record */
    *at += r->cap - (*at & (r->cap - 1));
    rec = (struct rec *)r->bytes;
  }
  *at += rec->size;
  return rec;
}

static void bring_release(struct bring *r, size_t at) {
  __atomic_store_n(&r->head, at, __ATOMIC_RELEASE);
}

/* Copies m (and a packet's bytes) to msg and data. */
static void msg_fill(struct fanout_msg *msg, uint8_t *data, const struct fanout_msg *m) {
  *msg = *m;
  if (m->type == FANOUT_PKT || m->type == FANOUT_TWCC) {
    assert(m->u.pkt.len <= PKTSTORE_MTU);
    memcpy(data, m->u.pkt.data, m->u.pkt.len);
    msg->u.pkt.data = NULL; /* the consumer points it at its copy */
  }
}

static size_t msg_len(const struct fanout_msg *m) {
  return m->type == FANOUT_PKT || m->type == FANOUT_TWCC ? m->u.pkt.len : 0;
}

/* Moves waiting messages into the ring, in order, while it has room. */
static void overflow_drain(struct worker *w) {
  struct rec *s;
  while (w->over_head && (s = bring_reserve(&w->in, msg_len(&w->over_head->s.m))) != NULL) {
    struct overflow *o = w->over_head;
    s->m = o->s.m;
    memcpy(s->data, o->s.data, msg_len(&o->s.m));
    bring_commit(&w->in);
    w->over_head = o->next;
    if (w->over_head == NULL)
      w->over_tail = NULL;
    w->over_count--;
    w->over_pkts -= o->s.m.type == FANOUT_PKT;
    free(o);
  }
}

static void overflow_add(struct worker *w, const struct fanout_msg *m) {
  struct overflow *o = NULL;
  if (m->type != FANOUT_PKT || w->over_pkts < WORKER_OVERFLOW_MAX)
    o = malloc(sizeof(*o));
  if (o == NULL) {
    /* A packet more than the cap (the worker is that far behind; its
     * viewers ask again or wait for the next keyframe). A control message
     * that finds no memory would leave a viewer in two minds: abort. */
    assert(m->type == FANOUT_PKT);
    if (m->type != FANOUT_PKT)
      abort();
    __atomic_store_n(&w->ring_dropped, w->ring_dropped + 1, __ATOMIC_RELAXED);
    return;
  }
  msg_fill(&o->s.m, o->s.data, m);
  o->next = NULL;
  if (w->over_tail)
    w->over_tail->next = o;
  else
    w->over_head = o;
  w->over_tail = o;
  w->over_count++;
  w->over_pkts += m->type == FANOUT_PKT;
}

void worker_post(struct worker *w, const struct fanout_msg *m) {
  struct rec *s;
  overflow_drain(w);
  if (w->over_head == NULL && (s = bring_reserve(&w->in, msg_len(m))) != NULL) {
    msg_fill(&s->m, s->data, m);
    bring_commit(&w->in);
  } else {
    overflow_add(w, m);
  }
  /* A viewer's feedback can wait for the next wake (the room's next packet,
   * a few ms): waking the worker for each one, 10-20 a second per viewer,
   * cost more than the estimate does (bench/RESULTS.md, 2026-12-05 15:20). */
  if (m->type != FANOUT_TWCC && m->type != FANOUT_REMB)
    uv_async_send(&w->wake);
}

/* ---- the worker's side ---------------------------------------------- */

static void back_post(struct worker *w, const struct worker_ask *a) {
  struct worker_ask *s;
  /* The media plane's loop empties `back` at every wake; a full ring means
   * it is far behind, and the worker waits for it rather than lose a
   * moved view. */
  while ((s = ring_slot(&w->back)) == NULL) {
    uv_async_send(&w->asked);
    uv_sleep(1);
  }
  *s = *a;
  ring_commit(&w->back);
  uv_async_send(&w->asked);
}

static void ask_keyframe(void *arg, uint64_t room_id, int track) {
  struct worker_ask a = {.type = WORKER_ASK_KEYFRAME, .room_id = room_id, .track = track};
  back_post(arg, &a);
}

static void ask_layer(void *arg, struct fanout_view *view, uint64_t room_id, int track, int want) {
  struct worker_ask a = {
      .type = WORKER_ASK_LAYER, .room_id = room_id, .view = view, .track = track, .want = want};
  back_post(arg, &a);
}

static void ask_moved(void *arg, struct fanout_view *view) {
  struct worker_ask a = {.type = WORKER_ASK_MOVED, .view = view};
  back_post(arg, &a);
}

static void no_tcp(struct sfu_tcp *t, const uint8_t *data, size_t len) {
  (void)t, (void)data, (void)len;
  assert(!"an ICE-TCP viewer on a worker"); /* the media plane keeps those */
}

static const struct fanout_ops worker_fanout_ops = {
    .keyframe = ask_keyframe,
    .moved = ask_moved,
    .layer = ask_layer,
    .tcp_send = no_tcp,
};

static void on_closed(uv_handle_t *h) { (void)h; }

static void worker_close_handles(struct worker *w) {
  fanout_free(&w->share);
  udp_close(w->udp); /* after sending what is queued */
  uv_close((uv_handle_t *)&w->wake, on_closed);
  uv_close((uv_handle_t *)&w->tick, on_closed);
  uv_close((uv_handle_t *)&w->hold, on_closed);
}

/* 1 when record s is a packet to go on (not a seed) of room id. */
static int live_pkt_of(struct rec *s, uint64_t id) {
  if (s->m.type != FANOUT_PKT || (s->m.u.pkt.flags & FANOUT_SEED) || s->m.room_id != id)
    return 0;
  s->m.u.pkt.data = s->data;
  return 1;
}

/* 1 when the ring ends inside a video frame: its last message is a live
 * video packet without the RTP marker bit, and the frame's other packets
 * are on their way (a publisher sends a frame's packets together, and a
 * viewer decodes none of them before the last). Holding them until it
 * comes lets each viewer's copies of the frame leave as one GSO message
 * instead of one or two at a time. A longer ring is taken at once. */
static int frame_open(struct worker *w) {
  size_t at = w->in.head, n = 0;
  struct rec *r, *last = NULL;
  while (n++ < FANOUT_BATCH && (r = bring_next(&w->in, &at)) != NULL)
    last = r;
  if (last == NULL || n > FANOUT_BATCH)
    return 0;
  return last->m.type == FANOUT_PKT && last->m.track >= FANOUT_VIDEO &&
         !(last->m.u.pkt.flags & (FANOUT_SEED | PKT_MARKER));
}

/* Everything in the ring, in order; the packets of one room that follow
 * each other go to fanout_handle_pkts together. */
static void ring_take(struct worker *w) {
  size_t at = w->in.head; /* only this thread writes it */
  struct rec *s;
  while ((s = bring_next(&w->in, &at)) != NULL) {
    const struct fanout_msg *batch[FANOUT_BATCH];
    size_t n = 0, peek = at;
    struct rec *b;
    if (live_pkt_of(s, s->m.room_id)) {
      batch[n++] = &s->m;
      while (n < FANOUT_BATCH && (b = bring_next(&w->in, &peek)) && live_pkt_of(b, s->m.room_id)) {
        batch[n++] = &b->m;
        at = peek;
      }
      fanout_handle_pkts(&w->share, batch, n);
    } else {
      if (s->m.type == FANOUT_PKT || s->m.type == FANOUT_TWCC)
        s->m.u.pkt.data = s->data;
      fanout_handle(&w->share, &s->m);
    }
    bring_release(&w->in, at);
  }
}

static void on_hold(uv_timer_t *t) { ring_take(t->data); }

/* The ring has messages: taken now, or within hold_ms when a frame is
 * still coming in. */
static void on_wake(uv_async_t *a) {
  struct worker *w = a->data;
  int stopping = __atomic_load_n(&w->stopping, __ATOMIC_ACQUIRE);
  if (!stopping && w->hold_ms && frame_open(w)) {
    if (!uv_is_active((uv_handle_t *)&w->hold))
      uv_timer_start(&w->hold, on_hold, w->hold_ms, 0);
    return;
  }
  uv_timer_stop(&w->hold);
  ring_take(w);
  if (stopping && !uv_is_closing((uv_handle_t *)a))
    worker_close_handles(w);
}

static void on_tick(uv_timer_t *t) {
  struct worker *w = t->data;
  fanout_tick(&w->share);
}

static void worker_main(void *arg) {
  struct worker *w = arg;
  uv_run(&w->loop, UV_RUN_DEFAULT);
  __atomic_store_n(&w->ended, 1, __ATOMIC_RELEASE);
}

/* ---- the media plane's side ------------------------------------------ */

/* Takes what the worker asked, in order. */
static void asks_take(struct worker *w) {
  struct worker_ask *s;
  while ((s = ring_peek(&w->back)) != NULL) {
    struct worker_ask a = *s;
    ring_release(&w->back);
    if (a.type == WORKER_ASK_MOVED)
      w->ops->moved(w->arg, a.view);
    else if (a.type == WORKER_ASK_LAYER)
      w->ops->layer(w->arg, a.view, a.room_id, a.track, a.want);
    else
      w->ops->keyframe(w->arg, a.room_id, a.track);
  }
}

static void on_asked(uv_async_t *a) {
  struct worker *w = a->data;
  asks_take(w);
  overflow_drain(w); /* the worker made room, maybe */
}

void worker_poll(struct worker *w) {
  if (w->over_head) {
    overflow_drain(w);
    uv_async_send(&w->wake);
  }
}

static void worker_free_memory(struct worker *w) {
  free(w->in.bytes);
  free(w->back.slots);
  free(w);
}

static void on_asked_closed(uv_handle_t *h) {
  struct worker *w = h->data;
  while (w->over_head) {
    struct overflow *o = w->over_head;
    w->over_head = o->next;
    free(o);
  }
  worker_free_memory(w);
}

int worker_start(uv_loop_t *loop, struct udp_sock *udp, unsigned hold_ms,
                 const struct worker_ops *ops, void *arg, struct worker **out) {
  struct worker *w = calloc(1, sizeof(*w));
  int rc = -ENOMEM;
  if (w == NULL)
    return rc;
  w->ops = ops;
  w->arg = arg;
  w->hold_ms = hold_ms;
  if (bring_init(&w->in, WORKER_RING_BYTES) < 0 ||
      ring_init(&w->back, WORKER_BACK_SLOTS, sizeof(struct worker_ask)) < 0 ||
      (rc = uv_loop_init(&w->loop)) < 0)
    goto out_free;
  if ((rc = udp_open_sender(&w->loop, udp, &w->udp)) < 0)
    goto out_loop;
  fanout_init(&w->share, &w->loop, w->udp, &worker_fanout_ops, w);
  uv_async_init(&w->loop, &w->wake, on_wake);
  w->wake.data = w;
  uv_timer_init(&w->loop, &w->tick);
  w->tick.data = w;
  uv_timer_start(&w->tick, on_tick, WORKER_TICK_MS, WORKER_TICK_MS);
  uv_timer_init(&w->loop, &w->hold);
  w->hold.data = w;
  uv_async_init(loop, &w->asked, on_asked);
  w->asked.data = w;
  uv_unref((uv_handle_t *)&w->asked);
  if ((rc = uv_thread_create(&w->thread, worker_main, w)) < 0) {
    worker_close_handles(w);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    uv_close((uv_handle_t *)&w->asked, on_asked_closed); /* which frees w */
    return rc;
  }
  *out = w;
  return 0;
out_loop:
  uv_loop_close(&w->loop);
out_free:
  worker_free_memory(w);
  return rc;
}

void worker_stop(struct worker *w) {
  overflow_drain(w);
  /* What is still waiting goes first; the worker's asks are taken all the
   * while (a worker whose answers' ring is full waits for that). */
  while (w->over_head) {
    uv_async_send(&w->wake);
    uv_sleep(1);
    asks_take(w);
    overflow_drain(w);
  }
  __atomic_store_n(&w->stopping, 1, __ATOMIC_RELEASE);
  uv_async_send(&w->wake);
  while (!__atomic_load_n(&w->ended, __ATOMIC_ACQUIRE)) {
    asks_take(w);
    uv_sleep(1);
  }
  uv_thread_join(&w->thread);
  uv_loop_close(&w->loop);
  asks_take(w); /* the last ones: views given back are freed by ops->moved */
  uv_close((uv_handle_t *)&w->asked, on_asked_closed);
}

void worker_stats(const struct worker *w, struct fanout_stats *fan, struct udp_stats *udp,
                  uint64_t *ring_dropped) {
  fanout_stats_read(&w->share, fan);
  udp_stats_read(w->udp, udp);
  *ring_dropped = __atomic_load_n(&w->ring_dropped, __ATOMIC_RELAXED);
}
