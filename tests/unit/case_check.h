/* CHECK(c, cond) for table-driven cmocka tests: fails the running test
 * naming the case (c->name) and the condition that did not hold. Include
 * after <cmocka.h>. */
#ifndef ONAIR_TEST_CASE_CHECK_H
#define ONAIR_TEST_CASE_CHECK_H

#define CHECK(c, cond)                                    \
  do {                                                    \
    if (!(cond)) {                                        \
      print_error("case \"%s\": %s\n", (c)->name, #cond); \
      fail();                                             \
    }                                                     \
  } while (0)

#endif
