/* A tiny test harness: TEST(name) { check(cond); ... } and run(name) print
 * one TAP line per test. */
#ifndef LINKGATE_CHECK_H
#define LINKGATE_CHECK_H

#include <stdio.h>

static int check_failed;
static int check_count;
static int check_any;

/* The exit status of a test program: 1 if any test failed. */
#define check_failed_any() (check_any ? 1 : 0)

#define check(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			printf("# %s:%d: check failed: %s\n", __FILE__,   \
			       __LINE__, #cond);                           \
			check_failed = 1;                                  \
		}                                                          \
	} while (0)

#define TEST(name) static void name(void)

#define run(name)                                                          \
	do {                                                               \
		check_failed = 0;                                          \
		name();                                                    \
		check_any |= check_failed;                                 \
		printf("%s %d - %s\n", check_failed ? "not ok" : "ok",     \
		       ++check_count, #name);                              \
	} while (0)

#endif
