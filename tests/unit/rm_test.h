/*  Tiny test helpers shared by the unit test programs.

    A program runs named cases, each a function that checks one behaviour:

        static void test_refuses_a_short_frame(void) { CHECK(...); }
        int main(void)
        {
            RM_RUN(test_refuses_a_short_frame);
            RM_TEST_DONE();
        }

    A failed CHECK names its case, file and line; each case prints "ok" or
    "FAILED" with its name, so ctest's output says which behaviour broke.
    A program can run one case: `test_rm_x CASE` (RM_RUN skips the rest). */
#ifndef RM_TEST_H
#define RM_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rm_test_failures;
static const char *rm_test_case __attribute__((unused)) = "main";
static const char *rm_test_only __attribute__((unused)); /* RM_TEST_ARGS: only this case */

#define RM_TEST_REPORT_()                                                                          \
    fprintf(stderr, "%s:%d: [%s] CHECK failed: ", __FILE__, __LINE__, rm_test_case)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            RM_TEST_REPORT_();                                                                     \
            fprintf(stderr, "%s\n", #cond);                                                        \
            rm_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            RM_TEST_REPORT_();                                                                     \
            fprintf(stderr, "%s: ", #cond);                                                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            rm_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

/*  main(argc, argv): `prog CASE` runs only the case named CASE. */
#define RM_TEST_ARGS(argc, argv) (rm_test_only = (argc) > 1 ? (argv)[1] : NULL)

/*  Runs the case function `fn` (void fn(void)) under its own name. */
#define RM_RUN(fn)                                                                                 \
    do {                                                                                           \
        if (rm_test_only && strcmp(rm_test_only, #fn) != 0)                                        \
            break;                                                                                 \
        int before_ = rm_test_failures;                                                            \
        rm_test_case = #fn;                                                                        \
        fn();                                                                                      \
        printf("%s %s\n", rm_test_failures == before_ ? "ok    " : "FAILED", #fn);                 \
        fflush(stdout);                                                                            \
        rm_test_case = "main";                                                                     \
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
