#include "app/rooms.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int rooms_init(struct rooms *r, size_t max_viewers) {
  r->max_viewers = max_viewers;
  r->changed = NULL;
  return map_init(&r->by_key);
}

static void room_free(struct room *room) {
  free(room->viewers);
  free(room);
}

void rooms_free(struct rooms *r) {
  size_t slot;
  for (struct map_entry *e = map_first(&r->by_key, &slot); e; e = map_next(&r->by_key, e, &slot))
    room_free(e->value);
  map_free(&r->by_key);
}

size_t rooms_count(const struct rooms *r) { return r->by_key.count; }

int rooms_name_ok(const char *name, size_t len) {
  if (len == 0 || len > ROOM_NAME_MAX)
    return 0;
  for (size_t i = 0; i < len; i++) {
    char ch = name[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '_' || ch == '-'))
      return 0;
  }
  return 1;
}

/* Lower-cases a valid name into key; returns its length or 0 if invalid. */
static size_t room_key(const char *name, size_t len, char key[ROOM_NAME_MAX + 1]) {
  if (!rooms_name_ok(name, len))
    return 0;
  for (size_t i = 0; i < len; i++)
    key[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] - 'A' + 'a') : name[i];
  key[len] = 0;
  return len;
}

struct room *rooms_find(const struct rooms *r, const char *name, size_t len) {
  char key[ROOM_NAME_MAX + 1];
  size_t klen = room_key(name, len, key);
  return klen ? map_get(&r->by_key, key, klen) : NULL;
}

int rooms_open(struct rooms *r, const char *name, int64_t owner_id, struct client *broadcaster,
               int64_t now_ms, struct room **out) {
  size_t len = strlen(name);
  char key[ROOM_NAME_MAX + 1];
  size_t klen = room_key(name, len, key);
  if (klen == 0)
    return -EINVAL;
  if (map_get(&r->by_key, key, klen))
    return -EEXIST;
  struct room *room = calloc(1, sizeof(*room));
  if (room == NULL)
    return -ENOMEM;
  memcpy(room->name, name, len + 1);
  memcpy(room->key, key, klen + 1);
  room->owner_id = owner_id;
  room->broadcaster = broadcaster;
  room->since_ms = now_ms;
  room->claimed_ms = now_ms;
  if (map_put(&r->by_key, key, klen, room) < 0) {
    free(room);
    return -ENOMEM;
  }
  *out = room;
  return 0;
}

void rooms_count_changed(struct rooms *r, struct room *room) {
  if (room->count_changed)
    return;
  room->count_changed = 1;
  room->next_changed = r->changed;
  r->changed = room;
}

uint64_t rooms_count_interval_ms(size_t n) {
  if (n <= 100)
    return 100;
  return n < 2000 ? (uint64_t)n : 2000;
}

struct room *rooms_take_changed(struct rooms *r, uint64_t now_ms) {
  struct room *due = NULL, **keep = &r->changed;
  while (*keep) {
    struct room *room = *keep;
    assert(room->count_changed); /* on the list exactly while marked */
    if (now_ms - room->count_sent_ms < rooms_count_interval_ms(room->nviewers)) {
      keep = &room->next_changed;
      continue;
    }
    *keep = room->next_changed;
    room->count_changed = 0;
    room->count_sent_ms = now_ms;
    room->next_changed = due;
    due = room;
  }
  return due;
}

void rooms_close(struct rooms *r, struct room *room) {
  assert(map_get(&r->by_key, room->key, strlen(room->key)) == room); /* open, closed once */
  if (room->count_changed) {
    struct room **pp = &r->changed;
    while (*pp != room) {
      assert(*pp != NULL); /* a marked room is on the changed list */
      pp = &(*pp)->next_changed;
    }
    *pp = room->next_changed;
  }
  map_del(&r->by_key, room->key, strlen(room->key));
  room_free(room);
}

int room_has_viewer(const struct room *room, const struct client *viewer) {
  for (size_t i = 0; i < room->nviewers; i++) {
    if (room->viewers[i] == viewer)
      return 1;
  }
  return 0;
}

int room_viewer_add(struct rooms *r, struct room *room, struct client *viewer) {
  assert(viewer != NULL && viewer != room->broadcaster); /* a broadcaster never watches its room */
  assert(room->nviewers <= room->cap && map_get(&r->by_key, room->key, strlen(room->key)) == room);
  if (room_has_viewer(room, viewer))
    return -EEXIST;
  if (room->nviewers >= r->max_viewers)
    return -ENOSPC;
  if (room->nviewers == room->cap) {
    size_t cap = room->cap ? room->cap * 2 : 8;
    struct client **v = realloc(room->viewers, cap * sizeof(*v));
    if (v == NULL)
      return -ENOMEM;
    room->viewers = v;
    room->cap = cap;
  }
  room->viewers[room->nviewers++] = viewer;
  rooms_count_changed(r, room);
  return 0;
}

int room_viewer_remove(struct rooms *r, struct room *room, struct client *viewer) {
  for (size_t i = 0; i < room->nviewers; i++) {
    if (room->viewers[i] == viewer) {
      room->viewers[i] = room->viewers[--room->nviewers];
      rooms_count_changed(r, room);
      assert(!room_has_viewer(room, viewer)); /* a client is in a room's list once */
      return 0;
    }
  }
  return -ENOENT;
}

struct room *rooms_first(const struct rooms *r, struct rooms_iter *it) {
  it->e = map_first(&r->by_key, &it->slot);
  return it->e ? it->e->value : NULL;
}

struct room *rooms_next(const struct rooms *r, struct rooms_iter *it) {
  it->e = map_next(&r->by_key, it->e, &it->slot);
  return it->e ? it->e->value : NULL;
}
