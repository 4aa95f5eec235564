/*  Tiny test helpers shared by the unit test programs. */
#ifndef RM_TEST_H
#define RM_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rm_test_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            rm_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            rm_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

#define RM_TEST_DONE()                                                                             \
    do {                                                                                           \
        if (rm_test_failures) {                                                                    \
            fprintf(stderr, "%d check(s) failed\n", rm_test_failures);                             \
            return 1;                                                                              \
        }                                                                                          \
        printf("all checks passed\n");                                                             \
        return 0;                                                                                  \
    } while (0)

#endif
