/* Tests for src/util/map.c: put/get/replace/del, keys that differ only after
 * an embedded NUL or by length, growth to 10,000 keys, and iteration that
 * visits every key exactly once (also after deletions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "util/map.h"

#define K(s) s, sizeof(s) - 1

struct key {
  const char *name; /* for messages */
  const char *bytes;
  size_t len;
};

/* Every key here is distinct from every other as a byte string. */
static const struct key tricky[] = {
    {"empty", K("")},
    {"a", K("a")},
    {"ab", K("ab")},
    {"abc", K("abc")},
    {"abd", K("abd")},
    {"A (case differs)", K("A")},
    {"NUL", K("\0")},
    {"two NULs", K("\0\0")},
    {"ab NUL", K("ab\0")},
    {"ab NUL c", K("ab\0c")},
    {"ab NUL d", K("ab\0d")},
    {"high bytes", K("\xff\xfe")},
    {"utf-8", K("\xc3\xa9t\xc3\xa9")},
    {"long prefix 1", K("room-0123456789-0123456789-0123456789")},
    {"long prefix 2", K("room-0123456789-0123456789-0123456780")},
};

#define NTRICKY (sizeof(tricky) / sizeof(tricky[0]))

static int setup(void **state) {
  (void)state;
  return sodium_init() < 0 ? -1 : 0;
}

static void test_put_get_tricky_keys(void **state) {
  (void)state;
  struct map m;
  int vals[NTRICKY];
  assert_int_equal(map_init(&m), 0);
  for (size_t i = 0; i < NTRICKY; i++) {
    assert_int_equal(map_put(&m, tricky[i].bytes, tricky[i].len, &vals[i]), 0);
    assert_int_equal(m.count, i + 1);
  }
  for (size_t i = 0; i < NTRICKY; i++) {
    void *got = map_get(&m, tricky[i].bytes, tricky[i].len);
    if (got != &vals[i]) {
      print_error("key \"%s\": got the wrong value\n", tricky[i].name);
      fail();
    }
  }
  /* Lookups that share a prefix with a stored key but are not one. */
  static const struct key absent[] = {
      {"abcd", K("abcd")},         {"b", K("b")},   {"ab NUL c NUL", K("ab\0c\0")},
      {"three NULs", K("\0\0\0")}, {"aB", K("aB")}, {"room-", K("room-")},
  };
  for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
    if (map_get(&m, absent[i].bytes, absent[i].len) != NULL) {
      print_error("absent key \"%s\" found\n", absent[i].name);
      fail();
    }
  }
  /* The stored copy is NUL-terminated and has the right length. */
  size_t slot;
  for (struct map_entry *e = map_first(&m, &slot); e; e = map_next(&m, e, &slot)) {
    assert_int_equal(e->key[e->key_len], 0);
    assert_ptr_equal(map_get(&m, e->key, e->key_len), e->value);
  }
  map_free(&m);
}

static void test_map_copies_key(void **state) {
  (void)state;
  struct map m;
  int v;
  char key[8] = "mutable";
  assert_int_equal(map_init(&m), 0);
  assert_int_equal(map_put(&m, key, 7, &v), 0);
  memcpy(key, "changed", 7);
  assert_ptr_equal(map_get(&m, "mutable", 7), &v);
  assert_null(map_get(&m, "changed", 7));
  map_free(&m);
}

static void test_replace(void **state) {
  (void)state;
  struct map m;
  int a, b, c;
  assert_int_equal(map_init(&m), 0);
  assert_int_equal(map_put(&m, K("k"), &a), 0);
  assert_int_equal(map_put(&m, K("k2"), &c), 0);
  assert_int_equal(map_put(&m, K("k"), &b), 0);
  assert_int_equal(m.count, 2); /* replaced, not added */
  assert_ptr_equal(map_get(&m, K("k")), &b);
  assert_ptr_equal(map_get(&m, K("k2")), &c);
  assert_ptr_equal(map_del(&m, K("k")), &b);
  assert_null(map_get(&m, K("k")));
  assert_int_equal(m.count, 1);
  map_free(&m);
}

static void test_del(void **state) {
  (void)state;
  struct map m;
  int vals[NTRICKY];
  assert_int_equal(map_init(&m), 0);
  /* Deleting from an empty map. */
  assert_null(map_del(&m, K("nope")));
  assert_int_equal(m.count, 0);
  for (size_t i = 0; i < NTRICKY; i++)
    assert_int_equal(map_put(&m, tricky[i].bytes, tricky[i].len, &vals[i]), 0);
  /* Missing keys, including prefixes of present ones: nothing changes. */
  assert_null(map_del(&m, K("abcd")));
  assert_null(map_del(&m, K("ab\0e")));
  assert_int_equal(m.count, NTRICKY);
  /* Delete every other key; the rest stay reachable. */
  for (size_t i = 0; i < NTRICKY; i += 2) {
    void *v = map_del(&m, tricky[i].bytes, tricky[i].len);
    if (v != &vals[i]) {
      print_error("del \"%s\": wrong value\n", tricky[i].name);
      fail();
    }
    /* Twice is a miss. */
    assert_null(map_del(&m, tricky[i].bytes, tricky[i].len));
  }
  assert_int_equal(m.count, NTRICKY / 2);
  for (size_t i = 0; i < NTRICKY; i++) {
    void *want = i % 2 ? &vals[i] : NULL;
    if (map_get(&m, tricky[i].bytes, tricky[i].len) != want) {
      print_error("after del, key \"%s\" wrong\n", tricky[i].name);
      fail();
    }
  }
  map_free(&m);
}

#define NMANY 10000

static size_t key_of(size_t i, char *out, size_t size) {
  return (size_t)snprintf(out, size, "user-%zu", i);
}

/* Keys are "user-N"; a visit counts in seen[N]. */
static void check_visits(const struct map *m, const unsigned char *present, size_t n) {
  unsigned char *seen = calloc(n, 1);
  size_t slot, visited = 0;
  assert_non_null(seen);
  for (struct map_entry *e = map_first(m, &slot); e; e = map_next(m, e, &slot)) {
    assert_true(e->key_len > 5);
    size_t idx = (size_t)strtoul(e->key + 5, NULL, 10);
    assert_true(idx < n);
    assert_true(present[idx]);
    assert_int_equal(seen[idx], 0); /* not twice */
    seen[idx] = 1;
    /* The value is the index it was stored with. */
    assert_int_equal((uintptr_t)e->value, idx + 1);
    visited++;
  }
  for (size_t i = 0; i < n; i++) {
    if (present[i] != seen[i]) {
      print_error("key user-%zu: present %d seen %d\n", i, present[i], seen[i]);
      fail();
    }
  }
  assert_int_equal(visited, m->count);
  free(seen);
}

static void test_many_keys_growth(void **state) {
  (void)state;
  struct map m;
  char key[32];
  unsigned char *present = calloc(NMANY, 1);
  assert_non_null(present);
  assert_int_equal(map_init(&m), 0);
  size_t slots0 = m.nslots;
  for (size_t i = 0; i < NMANY; i++) {
    size_t kl = key_of(i, key, sizeof(key));
    assert_int_equal(map_put(&m, key, kl, (void *)(uintptr_t)(i + 1)), 0);
    present[i] = 1;
  }
  assert_int_equal(m.count, NMANY);
  /* It grew (so chains stay short) and stays a power of two. */
  assert_true(m.nslots > slots0);
  assert_true(m.nslots >= NMANY / 2);
  assert_int_equal(m.nslots & (m.nslots - 1), 0);
  for (size_t i = 0; i < NMANY; i++) {
    size_t kl = key_of(i, key, sizeof(key));
    if (map_get(&m, key, kl) != (void *)(uintptr_t)(i + 1)) {
      print_error("user-%zu lost after growth\n", i);
      fail();
    }
  }
  check_visits(&m, present, NMANY);

  /* Delete every third key, then iterate again. */
  for (size_t i = 0; i < NMANY; i += 3) {
    size_t kl = key_of(i, key, sizeof(key));
    assert_ptr_equal(map_del(&m, key, kl), (void *)(uintptr_t)(i + 1));
    present[i] = 0;
  }
  check_visits(&m, present, NMANY);

  /* Put back with replaced values: no duplicates appear. */
  for (size_t i = 0; i < NMANY; i++) {
    size_t kl = key_of(i, key, sizeof(key));
    assert_int_equal(map_put(&m, key, kl, (void *)(uintptr_t)(i + 1)), 0);
    present[i] = 1;
  }
  assert_int_equal(m.count, NMANY);
  check_visits(&m, present, NMANY);
  map_free(&m);
  free(present);
}

/* Keys that are prefixes of each other ("k", "kk", ...) and keys that differ
 * only after an embedded NUL: enough of them that many share a chain, so a
 * lookup that compared too few bytes, or stopped at a NUL, would return a
 * neighbour's value. */
static void test_key_families(void **state) {
  (void)state;
  enum { NF = 300 };
  static char keys[2][NF][NF + 8];
  static size_t lens[2][NF];
  static int vals[2][NF];
  struct map m;
  assert_int_equal(map_init(&m), 0);
  for (int i = 0; i < NF; i++) {
    memset(keys[0][i], 'k', (size_t)i + 1);
    lens[0][i] = (size_t)i + 1;
    memcpy(keys[1][i], "nul\0", 4);
    lens[1][i] = 4 + (size_t)snprintf(keys[1][i] + 4, 8, "%03d", i);
    for (int f = 0; f < 2; f++)
      assert_int_equal(map_put(&m, keys[f][i], lens[f][i], &vals[f][i]), 0);
  }
  assert_int_equal(m.count, 2 * NF);
  for (int f = 0; f < 2; f++) {
    for (int i = 0; i < NF; i++) {
      if (map_get(&m, keys[f][i], lens[f][i]) != &vals[f][i]) {
        print_error("family %d key %d: wrong value\n", f, i);
        fail();
      }
    }
  }
  /* A longer run of 'k' and a NUL key with a suffix never stored. */
  char k[NF + 8];
  memset(k, 'k', sizeof(k));
  assert_null(map_get(&m, k, NF + 1));
  assert_null(map_get(&m,
                      "nul\0"
                      "999",
                      7));
  assert_null(map_get(&m, "nul", 3));
  /* Deleting every other prefix key leaves the rest intact. */
  for (int i = 0; i < NF; i += 2)
    assert_ptr_equal(map_del(&m, keys[0][i], lens[0][i]), &vals[0][i]);
  for (int i = 0; i < NF; i++)
    assert_ptr_equal(map_get(&m, keys[0][i], lens[0][i]), i % 2 ? &vals[0][i] : NULL);
  map_free(&m);
}

/* Iteration over maps of every size from 1 to 300 keys: whatever slots the
 * keys land in (the first, the last), each is visited once. */
static void test_iteration_every_size(void **state) {
  (void)state;
  enum { NMAX = 300 };
  unsigned char present[NMAX];
  char key[32];
  for (size_t n = 1; n <= NMAX; n++) {
    struct map m;
    assert_int_equal(map_init(&m), 0);
    memset(present, 0, sizeof(present));
    for (size_t i = 0; i < n; i++) {
      size_t kl = key_of(i, key, sizeof(key));
      assert_int_equal(map_put(&m, key, kl, (void *)(uintptr_t)(i + 1)), 0);
      present[i] = 1;
    }
    check_visits(&m, present, NMAX);
    map_free(&m);
  }
}

static void test_empty_iteration_and_reinit(void **state) {
  (void)state;
  struct map m;
  size_t slot = 99;
  assert_int_equal(map_init(&m), 0);
  assert_null(map_first(&m, &slot));
  int v;
  assert_int_equal(map_put(&m, K("only"), &v), 0);
  struct map_entry *e = map_first(&m, &slot);
  assert_non_null(e);
  assert_int_equal(e->key_len, 4);
  assert_memory_equal(e->key, "only", 5);
  assert_null(map_next(&m, e, &slot));
  assert_ptr_equal(map_del(&m, K("only")), &v);
  assert_null(map_first(&m, &slot));
  map_free(&m);
  assert_null(m.slots);
  assert_int_equal(m.count, 0);
  /* A freed map can be initialised again. */
  assert_int_equal(map_init(&m), 0);
  assert_null(map_get(&m, K("only")));
  map_free(&m);
}

/* Counters: taken up to the cap, the key gone at zero. */
static void test_counts(void **state) {
  struct map m;
  assert_int_equal(map_init(&m), 0);
  assert_int_equal(map_count_take(&m, K("1.2.3.4"), 2), 0);
  assert_int_equal(map_count_take(&m, K("1.2.3.4"), 2), 0);
  assert_int_equal(map_count_take(&m, K("1.2.3.4"), 2), -EBUSY);
  assert_int_equal(map_count_take(&m, K("5.6.7.8"), 2), 0);
  assert_int_equal((uintptr_t)map_get(&m, K("1.2.3.4")), 2);
  map_count_drop(&m, K("1.2.3.4"));
  assert_int_equal(map_count_take(&m, K("1.2.3.4"), 2), 0);
  map_count_drop(&m, K("1.2.3.4"));
  map_count_drop(&m, K("1.2.3.4"));
  assert_null(map_get(&m, K("1.2.3.4")));
  assert_int_equal(m.count, 1);
  for (int i = 0; i < 1000; i++) /* cap 0: none */
    assert_int_equal(map_count_take(&m, K("5.6.7.8"), 0), 0);
  assert_int_equal((uintptr_t)map_get(&m, K("5.6.7.8")), 1001);
  map_free(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_put_get_tricky_keys),
      cmocka_unit_test(test_map_copies_key),
      cmocka_unit_test(test_replace),
      cmocka_unit_test(test_del),
      cmocka_unit_test(test_many_keys_growth),
      cmocka_unit_test(test_key_families),
      cmocka_unit_test(test_iteration_every_size),
      cmocka_unit_test(test_empty_iteration_and_reinit),
      cmocka_unit_test(test_counts),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
