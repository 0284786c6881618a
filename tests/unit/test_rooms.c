/* Tests for src/app/rooms.c: name rules, case-insensitive lookup and
 * uniqueness, viewers (duplicates, the per-room cap, removal), closing the
 * right room among several, and iteration. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "app/rooms.h"

/* The registry never looks into its members: any object stands for one. */
struct client {
  int n;
};

#define N(s) s, sizeof(s) - 1

static const struct {
  const char *name;
  const char *bytes;
  size_t len;
  int ok;
} name_cases[] = {
    {"empty", N(""), 0},
    {"one letter", N("a"), 1},
    {"letters digits _ -", N("Alice_99-live"), 1},
    {"all digits", N("12345"), 1},
    {"only punctuation allowed", N("_-"), 1},
    {"32 bytes", N("abcdefghijklmnopqrstuvwxyz012345"), 1},
    {"33 bytes", N("abcdefghijklmnopqrstuvwxyz0123456"), 0},
    {"unicode e-acute", N("caf\xc3\xa9"), 0},
    {"unicode only", N("\xe2\x98\x83"), 0},
    {"slash", N("a/b"), 0},
    {"leading slash", N("/a"), 0},
    {"dot", N("a.b"), 0},
    {"dot dot", N(".."), 0},
    {"space inside", N("a b"), 0},
    {"trailing space", N("ab "), 0},
    {"tab", N("a\tb"), 0},
    {"embedded NUL", N("ab\0cd"), 0},
    {"percent", N("a%20b"), 0},
    {"plus", N("a+b"), 0},
    {"at sign", N("a@b"), 0},
    {"backslash", N("a\\b"), 0},
    {"angle bracket", N("<script>"), 0},
    {"colon", N("a:b"), 0},
};

static int setup(void **state) {
  (void)state;
  return sodium_init() < 0 ? -1 : 0;
}

static void test_name_ok_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
    int got = rooms_name_ok(name_cases[i].bytes, name_cases[i].len);
    if (got != name_cases[i].ok) {
      print_error("name \"%s\": got %d, want %d\n", name_cases[i].name, got, name_cases[i].ok);
      fail();
    }
  }
}

/* rooms_open takes a C string: the same table through it (cases without an
 * embedded NUL) must give 0 or -EINVAL, and a refused name leaves nothing. */
static void test_open_name_table(void **state) {
  (void)state;
  struct rooms r;
  assert_int_equal(rooms_init(&r, 10), 0);
  size_t opened = 0;
  for (size_t i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
    if (strlen(name_cases[i].bytes) != name_cases[i].len)
      continue;
    struct room *room = NULL;
    int rc = rooms_open(&r, name_cases[i].bytes, (int64_t)i, NULL, 1000, &room);
    int want = name_cases[i].ok ? 0 : -EINVAL;
    if (rc != want) {
      print_error("open \"%s\": rc %d, want %d\n", name_cases[i].name, rc, want);
      fail();
    }
    if (rc == 0) {
      opened++;
      assert_non_null(room);
      assert_string_equal(room->name, name_cases[i].bytes);
      assert_int_equal(room->owner_id, (int64_t)i);
      assert_int_equal(room->since_ms, 1000);
    } else {
      assert_null(room);
    }
    assert_int_equal(rooms_count(&r), opened);
  }
  rooms_free(&r);
}

static void test_find_case_insensitive(void **state) {
  (void)state;
  struct rooms r;
  struct room *room;
  struct client bc;
  assert_int_equal(rooms_init(&r, 10), 0);
  assert_int_equal(rooms_open(&r, "Alice_Live", 7, &bc, 42, &room), 0);
  assert_string_equal(room->name, "Alice_Live"); /* as spelled */
  assert_string_equal(room->key, "alice_live");
  assert_ptr_equal(room->broadcaster, &bc);
  static const struct {
    const char *q;
    int found;
  } q[] = {
      {"Alice_Live", 1},  {"alice_live", 1}, {"ALICE_LIVE", 1}, {"aLiCe_LiVe", 1}, {"alice_liv", 0},
      {"alice_live_", 0}, {"alice-live", 0}, {"", 0},           {"alice live", 0},
  };
  for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
    struct room *got = rooms_find(&r, q[i].q, strlen(q[i].q));
    if (got != (q[i].found ? room : NULL)) {
      print_error("find \"%s\": got %p\n", q[i].q, (void *)got);
      fail();
    }
  }
  /* len is honoured: a prefix of a longer buffer. */
  assert_ptr_equal(rooms_find(&r, "alice_liveXYZ", 10), room);
  /* Far too long a name is refused without overflow. */
  char big[200];
  memset(big, 'a', sizeof(big));
  assert_null(rooms_find(&r, big, sizeof(big)));
  rooms_free(&r);
}

static void test_open_duplicate(void **state) {
  (void)state;
  struct rooms r;
  struct room *room, *other = NULL;
  assert_int_equal(rooms_init(&r, 10), 0);
  assert_int_equal(rooms_open(&r, "bob", 1, NULL, 0, &room), 0);
  static const char *const dups[] = {"bob", "Bob", "BOB", "bOb"};
  for (size_t i = 0; i < sizeof(dups) / sizeof(dups[0]); i++) {
    int rc = rooms_open(&r, dups[i], 2, NULL, 0, &other);
    if (rc != -EEXIST) {
      print_error("open duplicate \"%s\": rc %d\n", dups[i], rc);
      fail();
    }
    assert_null(other);
  }
  assert_int_equal(rooms_count(&r), 1);
  /* The original is untouched. */
  assert_ptr_equal(rooms_find(&r, "BOB", 3), room);
  assert_int_equal(room->owner_id, 1);
  assert_string_equal(room->name, "bob");
  /* After closing, the name (in any case) is free again. */
  rooms_close(&r, room);
  assert_int_equal(rooms_count(&r), 0);
  assert_null(rooms_find(&r, "bob", 3));
  assert_int_equal(rooms_open(&r, "BOB", 3, NULL, 0, &other), 0);
  assert_string_equal(other->name, "BOB");
  assert_ptr_equal(rooms_find(&r, "bob", 3), other);
  rooms_free(&r);
}

static void test_viewers(void **state) {
  (void)state;
  struct rooms r;
  struct room *room;
  struct client v[5];
  assert_int_equal(rooms_init(&r, 3), 0);
  assert_int_equal(rooms_open(&r, "cam", 1, NULL, 0, &room), 0);
  assert_int_equal(room->nviewers, 0);
  assert_false(room_has_viewer(room, &v[0]));
  assert_int_equal(room_viewer_remove(&r, room, &v[0]), -ENOENT);

  static const struct {
    const char *what;
    int add; /* 1 add, 0 remove */
    int who;
    int rc;
    size_t n; /* nviewers after */
  } steps[] = {
      {"add 0", 1, 0, 0, 1},
      {"add 0 again", 1, 0, -EEXIST, 1},
      {"add 1", 1, 1, 0, 2},
      {"add 2 (full)", 1, 2, 0, 3},
      {"add 3 past max", 1, 3, -ENOSPC, 3},
      {"add 2 again when full", 1, 2, -EEXIST, 3},
      {"remove 3 (never added)", 0, 3, -ENOENT, 3},
      {"remove 1 (middle)", 0, 1, 0, 2},
      {"remove 1 again", 0, 1, -ENOENT, 2},
      {"add 3 now fits", 1, 3, 0, 3},
      {"add 4 past max", 1, 4, -ENOSPC, 3},
      {"remove 0 (first)", 0, 0, 0, 2},
      {"remove 3 (last)", 0, 3, 0, 1},
      {"remove 2", 0, 2, 0, 0},
      {"remove 2 from empty", 0, 2, -ENOENT, 0},
  };
  int in[5] = {0};
  for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
    struct client *who = &v[steps[i].who];
    int rc = steps[i].add ? room_viewer_add(&r, room, who) : room_viewer_remove(&r, room, who);
    if (rc != steps[i].rc || room->nviewers != steps[i].n) {
      print_error("step \"%s\": rc %d (want %d), n %zu (want %zu)\n", steps[i].what, rc,
                  steps[i].rc, room->nviewers, steps[i].n);
      fail();
    }
    if (rc == 0)
      in[steps[i].who] = steps[i].add;
    for (int k = 0; k < 5; k++) {
      if (room_has_viewer(room, &v[k]) != in[k]) {
        print_error("step \"%s\": has(%d) wrong\n", steps[i].what, k);
        fail();
      }
    }
  }
  rooms_free(&r);
}

static void test_many_viewers_growth(void **state) {
  (void)state;
  struct rooms r;
  struct room *room;
  enum { NV = 100 };
  struct client v[NV], extra;
  assert_int_equal(rooms_init(&r, NV), 0);
  assert_int_equal(rooms_open(&r, "big", 1, NULL, 0, &room), 0);
  for (int i = 0; i < NV; i++)
    assert_int_equal(room_viewer_add(&r, room, &v[i]), 0);
  assert_int_equal(room_viewer_add(&r, room, &extra), -ENOSPC);
  for (int i = 0; i < NV; i++)
    assert_true(room_has_viewer(room, &v[i]));
  /* Remove the even ones; the odd ones remain. */
  for (int i = 0; i < NV; i += 2)
    assert_int_equal(room_viewer_remove(&r, room, &v[i]), 0);
  assert_int_equal(room->nviewers, NV / 2);
  for (int i = 0; i < NV; i++)
    assert_int_equal(room_has_viewer(room, &v[i]), i % 2);
  rooms_free(&r); /* frees the viewer array too (valgrind checks) */
}

/* The tutorial's rooms.splice(object, 1) removed the wrong room: closing one
 * room among several must remove exactly that one. */
static void test_close_right_room(void **state) {
  (void)state;
  static const char *const names[] = {"alpha", "Bravo", "charlie", "delta", "Echo"};
  enum { NR = sizeof(names) / sizeof(names[0]) };
  for (size_t victim = 0; victim < NR; victim++) {
    struct rooms r;
    struct room *rooms[NR];
    struct client bc[NR];
    assert_int_equal(rooms_init(&r, 10), 0);
    for (size_t i = 0; i < NR; i++)
      assert_int_equal(rooms_open(&r, names[i], (int64_t)i, &bc[i], 0, &rooms[i]), 0);
    struct client viewer;
    assert_int_equal(room_viewer_add(&r, rooms[victim], &viewer), 0);
    rooms_close(&r, rooms[victim]);
    assert_int_equal(rooms_count(&r), NR - 1);
    for (size_t i = 0; i < NR; i++) {
      struct room *got = rooms_find(&r, names[i], strlen(names[i]));
      if (i == victim) {
        if (got != NULL) {
          print_error("closed room %s still found\n", names[i]);
          fail();
        }
        continue;
      }
      if (got != rooms[i]) {
        print_error("closing %s lost %s\n", names[victim], names[i]);
        fail();
      }
      assert_int_equal(got->owner_id, (int64_t)i);
      assert_ptr_equal(got->broadcaster, &bc[i]);
    }
    rooms_free(&r);
  }
}

static void test_iteration(void **state) {
  (void)state;
  struct rooms r;
  struct rooms_iter it;
  enum { NR = 50 };
  struct room *opened[NR];
  int seen[NR] = {0};
  assert_int_equal(rooms_init(&r, 10), 0);
  assert_null(rooms_first(&r, &it));
  for (int i = 0; i < NR; i++) {
    char name[16];
    snprintf(name, sizeof(name), "Room%d", i);
    assert_int_equal(rooms_open(&r, name, i, NULL, 0, &opened[i]), 0);
  }
  size_t visits = 0;
  for (struct room *rm = rooms_first(&r, &it); rm; rm = rooms_next(&r, &it)) {
    assert_true(rm->owner_id >= 0 && rm->owner_id < NR);
    assert_ptr_equal(rm, opened[rm->owner_id]);
    seen[rm->owner_id]++;
    visits++;
  }
  assert_int_equal(visits, NR);
  for (int i = 0; i < NR; i++)
    assert_int_equal(seen[i], 1);
  rooms_free(&r);
}

/* A viewer count that changed is reported once per room however often it
 * changed, a closed room is never reported, and the list starts empty again
 * after each take. */
static void test_changed_counts(void **state) {
  (void)state;
  struct rooms r;
  struct room *a, *b, *c;
  struct client v[4];
  assert_int_equal(rooms_init(&r, 10), 0);
  assert_int_equal(rooms_open(&r, "a", 1, NULL, 0, &a), 0);
  assert_int_equal(rooms_open(&r, "b", 2, NULL, 0, &b), 0);
  assert_int_equal(rooms_open(&r, "c", 3, NULL, 0, &c), 0);
  assert_null(rooms_take_changed(&r, 1000)); /* opening changes no count */

  for (int i = 0; i < 3; i++)
    assert_int_equal(room_viewer_add(&r, a, &v[i]), 0);
  assert_int_equal(room_viewer_add(&r, b, &v[3]), 0);
  assert_int_equal(room_viewer_remove(&r, b, &v[3]), 0);
  assert_int_equal(room_viewer_add(&r, a, &v[0]), -EEXIST);    /* no change */
  assert_int_equal(room_viewer_remove(&r, c, &v[0]), -ENOENT); /* no change */
  int seen_a = 0, seen_b = 0;
  for (struct room *rm = rooms_take_changed(&r, 2000); rm; rm = rm->next_changed) {
    assert_true(rm == a || rm == b);
    seen_a += rm == a;
    seen_b += rm == b;
  }
  assert_int_equal(seen_a, 1);
  assert_int_equal(seen_b, 1);
  assert_null(rooms_take_changed(&r, 3000));

  /* Changed, then closed before the take: not reported. */
  assert_int_equal(room_viewer_add(&r, b, &v[0]), 0);
  assert_int_equal(room_viewer_add(&r, c, &v[1]), 0);
  assert_int_equal(room_viewer_remove(&r, a, &v[2]), 0);
  rooms_close(&r, c);
  rooms_close(&r, a);
  struct room *left = rooms_take_changed(&r, 4000);
  assert_ptr_equal(left, b);
  assert_null(left->next_changed);
  rooms_free(&r);
}

/* A big room hears its count less often than a small one: a change in a
 * room of 2,000 viewers is given 2 s after the last, while a small room's
 * goes every 100 ms; the big one waits on the list meanwhile. */
static void test_big_room_count_paced(void **state) {
  (void)state;
  enum { BIG = 2000 };
  static struct client many[BIG + 1];
  struct client one;
  struct rooms r;
  struct room *big, *small;
  assert_int_equal(rooms_init(&r, BIG + 10), 0);
  assert_int_equal(rooms_open(&r, "big", 1, NULL, 0, &big), 0);
  assert_int_equal(rooms_open(&r, "small", 2, NULL, 0, &small), 0);
  for (int i = 0; i < BIG; i++)
    assert_int_equal(room_viewer_add(&r, big, &many[i]), 0);
  assert_ptr_equal(rooms_take_changed(&r, 10000), big); /* the first change goes at once */
  assert_int_equal(room_viewer_add(&r, big, &many[BIG]), 0);
  assert_int_equal(room_viewer_add(&r, small, &one), 0);
  struct room *due = rooms_take_changed(&r, 10100);
  assert_ptr_equal(due, small); /* the small room's is due, the big one's waits */
  assert_null(due->next_changed);
  assert_ptr_equal(r.changed, big);
  assert_null(rooms_take_changed(&r, 11999));
  assert_int_equal(room_viewer_remove(&r, small, &one), 0);
  due = rooms_take_changed(&r, 12000); /* 2 s after the last: both */
  assert_non_null(due);
  assert_non_null(due->next_changed);
  assert_true((due == big && due->next_changed == small) ||
              (due == small && due->next_changed == big));
  assert_null(r.changed);
  assert_int_equal(rooms_count_interval_ms(1), 100);
  assert_int_equal(rooms_count_interval_ms(100), 100);
  assert_int_equal(rooms_count_interval_ms(1000), 1000);
  assert_int_equal(rooms_count_interval_ms(100000), 2000);
  rooms_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_name_ok_table),
      cmocka_unit_test(test_open_name_table),
      cmocka_unit_test(test_find_case_insensitive),
      cmocka_unit_test(test_open_duplicate),
      cmocka_unit_test(test_viewers),
      cmocka_unit_test(test_many_viewers_growth),
      cmocka_unit_test(test_close_right_room),
      cmocka_unit_test(test_iteration),
      cmocka_unit_test(test_changed_counts),
      cmocka_unit_test(test_big_room_count_paced),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
