/* The registry of live rooms: who broadcasts, who watches, and whose viewer
 * count changed. A pure data structure (no I/O), so its rules are
 * unit-tested on their own. Members are live.c's clients, which this module
 * never looks into. Room names compare case-insensitively. */
#ifndef ONAIR_ROOMS_H
#define ONAIR_ROOMS_H

#include <stddef.h>
#include <stdint.h>

#include "util/map.h"

struct client;   /* live.c's: one WebSocket of a signed-in user */
struct whip;     /* whip.c's: an encoder publishing over WHIP */
struct whep;     /* whip.c's: a player watching over WHEP */
struct sfu_room; /* the media plane's room */
struct cluster_pull;

#define ROOM_NAME_MAX 32   /* bytes, as usernames */
#define ROOM_TITLE_MAX 100 /* code points */

struct room {
  char name[ROOM_NAME_MAX + 1]; /* as the broadcaster spells it */
  char key[ROOM_NAME_MAX + 1];  /* lower case; the registry's key */
  int64_t owner_id;             /* the broadcaster's user id */
  struct client *broadcaster;   /* NULL while reconnecting, and for an encoder's room */
  struct whip *encoder;         /* the encoder (OBS) publishing it over WHIP, or NULL */
  struct whep *wheps;           /* its WHEP players (whip.c's list) */
  size_t nwhep;
  uint64_t grace_until;    /* while reconnecting: when it ends (loop time, ms) */
  struct client **viewers; /* unordered */
  size_t nviewers, cap;
  int64_t since_ms;       /* when it went live, ms since the epoch */
  struct sfu_room *media; /* or NULL; live.c creates and frees it */
  const char *warning;    /* what the media plane warned of ("bframes"), or NULL */
  int count_changed;      /* on the registry's changed list */
  uint64_t count_sent_ms; /* when rooms_take_changed() last gave it (loop time) */
  struct room *next_changed;
  char title[ROOM_TITLE_MAX * 4 + 1]; /* UTF-8, at most ROOM_TITLE_MAX code points */
  /* Cluster (cluster.c): a room live on another node is a replica here, so
   * that this node's pages list, join and chat in it; its media is pulled
   * from the origin while it has viewers here. */
  char origin[64];           /* the node it is live on when that is another; "": here */
  int origin_reconnecting;   /* a replica whose broadcaster is reconnecting on its origin */
  size_t others;             /* its viewers on other nodes */
  struct cluster_pull *pull; /* a replica's pull of its media, or NULL */
  uint64_t origin_seen;      /* a replica: the directory listing that last had it */
  int origin_encoder;        /* a replica an encoder publishes (WHIP) */
  /* A replica whose entry left the directory (its origin died, or ended it
   * unheard): it waits for its broadcaster on another node until then
   * (loop time, ms); 0 while listed. */
  uint64_t origin_lost_until;
  /* When its origin took it (went live, or took it over from another
   * node), ms since the epoch: of two nodes claiming a room, the later
   * claim keeps it. */
  int64_t claimed_ms;
};

struct rooms {
  struct map by_key;
  size_t max_viewers;   /* per room */
  struct room *changed; /* rooms whose viewer count changed, each once */
};

int rooms_init(struct rooms *r, size_t max_viewers);
/* Frees every room (members are not touched). */
void rooms_free(struct rooms *r);
size_t rooms_count(const struct rooms *r);

/* Returns 1 if name is a valid room (and user) name: 1-32 of A-Z a-z 0-9 _ -. */
int rooms_name_ok(const char *name, size_t len);

/* "live", or "reconnecting" while its broadcaster's connection is gone. */
static inline const char *room_state(const struct room *room) {
  if (room->origin[0])
    return room->origin_reconnecting ? "reconnecting" : "live";
  return room->broadcaster || room->encoder ? "live" : "reconnecting";
}

/* Everyone watching on this node: pages and WHEP players. */
static inline size_t room_local_viewers(const struct room *room) {
  return room->nviewers + room->nwhep;
}
/* Everyone watching, on every node. */
static inline size_t room_viewers(const struct room *room) {
  return room_local_viewers(room) + room->others;
}

/* NULL if no room of that name is live. */
struct room *rooms_find(const struct rooms *r, const char *name, size_t len);
/* Opens a room. -EEXIST if one of that name is live, -EINVAL for a bad name. */
int rooms_open(struct rooms *r, const char *name, int64_t owner_id, struct client *broadcaster,
               int64_t now_ms, struct room **out);
/* Removes and frees the room; its members are the caller's to notify. */
void rooms_close(struct rooms *r, struct room *room);

/* Both mark the room's count changed. -EEXIST if already a viewer, -ENOSPC
 * past max_viewers, -ENOMEM. */
int room_viewer_add(struct rooms *r, struct room *room, struct client *viewer);
/* -ENOENT if not a viewer. */
int room_viewer_remove(struct rooms *r, struct room *room, struct client *viewer);
int room_has_viewer(const struct room *room, const struct client *viewer);
/* The room's count changed otherwise (a WHEP player came or went). */
void rooms_count_changed(struct rooms *r, struct room *room);

/* The rooms whose viewer count changed and is due at now_ms (loop time),
 * linked by next_changed (NULL: none); the others stay on the registry's
 * list (r->changed) for a later call. A room is due rooms_count_interval_ms()
 * after it was last given. A room closed meanwhile is not on it. */
struct room *rooms_take_changed(struct rooms *r, uint64_t now_ms);
/* How often a room of n viewers hears its count: every 100 ms up to 100
 * viewers, then every n ms (1,000 viewers: every second), at most every 2 s.
 * Joins into a big room then cost its members about 1,000 messages a second
 * in all, not 10 each per second. */
uint64_t rooms_count_interval_ms(size_t n);

/* Iterates rooms: for (rm = rooms_first(r, &it); rm; rm = rooms_next(r, &it)) */
struct rooms_iter {
  size_t slot;
  struct map_entry *e;
};
struct room *rooms_first(const struct rooms *r, struct rooms_iter *it);
struct room *rooms_next(const struct rooms *r, struct rooms_iter *it);

#endif
