/* Tests for src/auth/throttle.c: free failures, then waits doubling from 1 s
 * up to 15 min; a success or 15 quiet minutes forget a key; the table stays
 * within max_keys (stale keys are swept, new keys beyond it go untracked). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "auth/throttle.h"

#define SEC 1000ULL
#define MIN (60 * SEC)
#define CAP (15 * MIN)

enum op { FAIL, SUCCESS, WAIT };

struct step {
  enum op op;
  const char *key;
  uint64_t now_ms;
  uint64_t want_wait; /* throttle_wait_ms(key, now_ms) after the op */
};

static int setup(void **state) {
  (void)state;
  return sodium_init() < 0 ? -1 : 0;
}

static void run_steps(const char *name, struct throttle *t, const struct step *steps, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const struct step *s = &steps[i];
    if (s->op == FAIL)
      throttle_fail(t, s->key, s->now_ms);
    else if (s->op == SUCCESS)
      throttle_success(t, s->key);
    uint64_t w = throttle_wait_ms(t, s->key, s->now_ms);
    if (w != s->want_wait) {
      print_error("%s, step %zu (key %s, t=%llu): wait %llu, want %llu\n", name, i, s->key,
                  (unsigned long long)s->now_ms, (unsigned long long)w,
                  (unsigned long long)s->want_wait);
      fail();
    }
  }
}

/* Three free failures, then 1 s, 2 s, 4 s... each attempt made as soon as
 * it is allowed. */
static void test_doubling(void **state) {
  (void)state;
  struct throttle t;
  assert_int_equal(throttle_init(&t, 3, 100), 0);
  const struct step steps[] = {
      {WAIT, "alice", 0, 0},
      {FAIL, "alice", 0, 0},
      {FAIL, "alice", 10, 0},
      {FAIL, "alice", 20, 1 * SEC}, /* the third failure starts the waits */
      {WAIT, "alice", 520, 500},
      {WAIT, "alice", 1019, 1},
      {WAIT, "alice", 1020, 0},
      {FAIL, "alice", 1020, 2 * SEC},
      {FAIL, "alice", 3020, 4 * SEC},
      {FAIL, "alice", 7020, 8 * SEC},
      {FAIL, "alice", 15020, 16 * SEC},
      {WAIT, "bob", 15020, 0}, /* other keys are not affected */
  };
  run_steps("doubling", &t, steps, sizeof(steps) / sizeof(steps[0]));
  throttle_free(&t);
}

static void test_cap_at_15_minutes(void **state) {
  (void)state;
  struct throttle t;
  assert_int_equal(throttle_init(&t, 1, 100), 0);
  uint64_t now = 0, want = SEC, prev = 0;
  int reached = 0;
  /* 70 failures in a row, each as soon as allowed: waits double then stay
   * at the cap (no shift overflow, no wrap to 0). */
  for (int i = 0; i < 70; i++) {
    throttle_fail(&t, "mallory", now);
    uint64_t w = throttle_wait_ms(&t, "mallory", now);
    if (w != want) {
      print_error("failure %d: wait %llu, want %llu\n", i + 1, (unsigned long long)w,
                  (unsigned long long)want);
      fail();
    }
    assert_true(w >= prev);
    if (w == CAP)
      reached = 1;
    prev = w;
    now += w;
    want = want * 2 > CAP ? CAP : want * 2;
  }
  assert_true(reached);
  throttle_free(&t);
}

static void test_success_resets(void **state) {
  (void)state;
  struct throttle t;
  assert_int_equal(throttle_init(&t, 2, 100), 0);
  const struct step steps[] = {
      {FAIL, "carol", 0, 0},
      {FAIL, "carol", 0, 1 * SEC},
      {FAIL, "carol", 1000, 2 * SEC},
      {SUCCESS, "carol", 3000, 0},
      /* Forgotten: two free failures again, then 1 s (not 4 s). */
      {FAIL, "carol", 3000, 0},
      {FAIL, "carol", 3000, 1 * SEC},
      /* A success on a key that was never tracked is harmless. */
      {SUCCESS, "nobody", 3000, 0},
      {WAIT, "carol", 3000, 1 * SEC},
  };
  run_steps("success", &t, steps, sizeof(steps) / sizeof(steps[0]));
  assert_int_equal(t.keys.count, 1);
  throttle_free(&t);
}

static void test_forget_after_quiet(void **state) {
  (void)state;
  struct throttle t;
  assert_int_equal(throttle_init(&t, 2, 100), 0);
  const struct step steps[] = {
      {FAIL, "dave", 0, 0},
      {FAIL, "dave", 0, 1 * SEC},
      {FAIL, "dave", 1 * SEC, 2 * SEC},
      /* Exactly 15 minutes after the last failure: still remembered. */
      {FAIL, "dave", 1 * SEC + CAP, 4 * SEC},
      /* More than 15 quiet minutes: the count starts again (first failure
       * is free). */
      {FAIL, "dave", 1 * SEC + CAP + CAP + 1, 0},
      {FAIL, "dave", 1 * SEC + CAP + CAP + 1, 1 * SEC},
  };
  run_steps("forget", &t, steps, sizeof(steps) / sizeof(steps[0]));
  throttle_free(&t);
}

static void test_keys_independent(void **state) {
  (void)state;
  struct throttle t;
  assert_int_equal(throttle_init(&t, 1, 100), 0);
  const struct step steps[] = {
      {FAIL, "user:eve", 0, 1 * SEC},
      {WAIT, "user:Eve", 0, 0}, /* keys are exact bytes; callers normalise */
      {WAIT, "user:ev", 0, 0},
      {FAIL, "ip:10.0.0.1", 0, 1 * SEC},
      {FAIL, "ip:10.0.0.1", 1000, 2 * SEC},
      {WAIT, "user:eve", 500, 500},
      {SUCCESS, "user:eve", 500, 0},
      {WAIT, "ip:10.0.0.1", 1500, 1500},
  };
  run_steps("independent", &t, steps, sizeof(steps) / sizeof(steps[0]));
  throttle_free(&t);
}

static void test_max_keys_untracked(void **state) {
  (void)state;
  struct throttle t;
  assert_int_equal(throttle_init(&t, 1, 3), 0);
  const struct step steps[] = {
      {FAIL, "a", 0, 1 * SEC},
      {FAIL, "b", 0, 1 * SEC},
      {FAIL, "c", 0, 1 * SEC},
      /* Full and nothing stale: a new key is not tracked. */
      {FAIL, "d", 0, 0},
      {FAIL, "d", 10, 0},
      /* Tracked keys still count while the table is full. */
      {FAIL, "a", 1000, 2 * SEC},
  };
  run_steps("max_keys", &t, steps, sizeof(steps) / sizeof(steps[0]));
  assert_int_equal(t.keys.count, 3);
  throttle_free(&t);
}

static void test_max_keys_sweep(void **state) {
  (void)state;
  struct throttle t;
  assert_int_equal(throttle_init(&t, 1, 3), 0);
  throttle_fail(&t, "old1", 0);
  throttle_fail(&t, "old2", 1 * MIN);
  throttle_fail(&t, "recent", 10 * MIN);
  assert_int_equal(t.keys.count, 3);
  /* At 15 min + 1 ms after old1 only old1 is stale: it is swept and the new
   * key takes its place. */
  uint64_t now = CAP + 1;
  throttle_fail(&t, "new1", now);
  assert_int_equal(t.keys.count, 3);
  assert_int_equal(throttle_wait_ms(&t, "new1", now), 1 * SEC);
  assert_null(map_get(&t.keys, "old1", 4));
  assert_non_null(map_get(&t.keys, "old2", 4));
  assert_non_null(map_get(&t.keys, "recent", 6));
  /* Full again, nothing stale: the next new key is not tracked. */
  throttle_fail(&t, "new2", now);
  assert_int_equal(throttle_wait_ms(&t, "new2", now), 0);
  assert_null(map_get(&t.keys, "new2", 4));
  /* Much later every key is stale: all are swept, the new one tracked. */
  now = 10 * MIN + CAP + CAP;
  throttle_fail(&t, "new3", now);
  assert_int_equal(t.keys.count, 1);
  assert_int_equal(throttle_wait_ms(&t, "new3", now), 1 * SEC);
  throttle_free(&t);
}

/* max_keys 0 tracks nothing and never blocks. */
static void test_max_keys_zero(void **state) {
  (void)state;
  struct throttle t;
  assert_int_equal(throttle_init(&t, 1, 0), 0);
  for (int i = 0; i < 10; i++)
    throttle_fail(&t, "x", (uint64_t)i);
  assert_int_equal(throttle_wait_ms(&t, "x", 10), 0);
  assert_int_equal(t.keys.count, 0);
  throttle_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_doubling),         cmocka_unit_test(test_cap_at_15_minutes),
      cmocka_unit_test(test_success_resets),   cmocka_unit_test(test_forget_after_quiet),
      cmocka_unit_test(test_keys_independent), cmocka_unit_test(test_max_keys_untracked),
      cmocka_unit_test(test_max_keys_sweep),   cmocka_unit_test(test_max_keys_zero),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
