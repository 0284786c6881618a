/* The registry of live rooms: who broadcasts, who watches. A pure data
 * structure (no I/O), so its rules are unit-tested on their own. Members are
 * the caller's opaque pointers. Room names compare case-insensitively. */
#ifndef ONAIR_ROOMS_H
#define ONAIR_ROOMS_H

#include <stddef.h>
#include <stdint.h>

#include "util/map.h"

#define ROOM_NAME_MAX 32   /* bytes, as usernames */
#define ROOM_TITLE_MAX 100 /* code points */

struct room {
  char name[ROOM_NAME_MAX + 1]; /* as the broadcaster spells it */
  char key[ROOM_NAME_MAX + 1];  /* lower case; the registry's key */
  int64_t owner_id;             /* the broadcaster's user id */
  void *broadcaster;
  void **viewers; /* unordered */
  size_t nviewers, cap;
  int64_t since_ms;        /* when it went live, ms since the epoch */
  void *media;             /* the SFU's room (struct sfu_room), or NULL; live.c owns it */
  int viewers_dirty;       /* the count changed since it was last sent */
  struct room *next_dirty; /* live.c's list of rooms with a count to send */
  char title[ROOM_TITLE_MAX * 4 + 1]; /* UTF-8, at most ROOM_TITLE_MAX code points */
};

struct rooms {
  struct map by_key;
  size_t max_viewers; /* per room */
};

int rooms_init(struct rooms *r, size_t max_viewers);
/* Frees every room (members are not touched). */
void rooms_free(struct rooms *r);
size_t rooms_count(const struct rooms *r);

/* Returns 1 if name is a valid room (and user) name: 1-32 of A-Z a-z 0-9 _ -. */
int rooms_name_ok(const char *name, size_t len);

/* NULL if no room of that name is live. */
struct room *rooms_find(const struct rooms *r, const char *name, size_t len);
/* Opens a room. -EEXIST if one of that name is live, -EINVAL for a bad name. */
int rooms_open(struct rooms *r, const char *name, int64_t owner_id, void *broadcaster,
               int64_t now_ms, struct room **out);
/* Removes and frees the room; its members are the caller's to notify. */
void rooms_close(struct rooms *r, struct room *room);

/* -EEXIST if already a viewer, -ENOSPC past max_viewers, -ENOMEM. */
int room_viewer_add(struct rooms *r, struct room *room, void *viewer);
/* -ENOENT if not a viewer. */
int room_viewer_remove(struct room *room, void *viewer);
int room_has_viewer(const struct room *room, const void *viewer);

/* Iterates rooms: for (rm = rooms_first(r, &it); rm; rm = rooms_next(r, &it)) */
struct rooms_iter {
  size_t slot;
  struct map_entry *e;
};
struct room *rooms_first(const struct rooms *r, struct rooms_iter *it);
struct room *rooms_next(const struct rooms *r, struct rooms_iter *it);

#endif
