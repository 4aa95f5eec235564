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

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/*  True if 127.0.0.1:port can be bound now. */
static int rm_test_port_free_(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/*  n consecutive TCP ports on 127.0.0.1, below the ephemeral range (so no
    outgoing connection takes them), that no other test on this machine
    holds: each is locked (flock on /tmp/rm-test-ports/PORT.lock, the
    e2e tests' free_port takes the same locks) until this process exits,
    and free to bind now.  The first port, or 0. */
__attribute__((unused)) static int rm_test_ports(int n)
{
    mkdir("/tmp/rm-test-ports", 01777);
    static int seeded;
    if (!seeded++)
        srand((unsigned)time(NULL) ^ (unsigned)getpid() << 8);
    for (int attempt = 0; attempt < 500; attempt++) {
        int first = 20000 + rand() % 12000, fds[8], k = 0;
        for (; k < n && k < 8; k++) {
            char path[64];
            snprintf(path, sizeof path, "/tmp/rm-test-ports/%d.lock", first + k);
            fds[k] = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
            if (fds[k] < 0 || flock(fds[k], LOCK_EX | LOCK_NB) != 0 ||
                !rm_test_port_free_(first + k)) {
                if (fds[k] >= 0)
                    close(fds[k]);
                break;
            }
        }
        if (k == n)
            return first; /* the locks stay held: the fds are never closed */
        while (k-- > 0)
            close(fds[k]);
    }
    return 0;
}

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
