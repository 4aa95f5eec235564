/*  Tests of the child-process module with ordinary programs (sh, sleep):
    the three channels, bounded lines, process-group kill, reaping,
    describing an exit, and running a short command with a time limit.
    Every wait is for an event (input, EOF, exit), bounded by WAIT_MS. */
#include "rm_subprocess.h"
#include "rm_test.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT_MS 10000
#define RESULT_FD 3

/*  What the line callbacks saw. */
typedef struct {
    char lines[8][64];
    int count;
    size_t bytes;   /* given to the chunk callback */
    int stop_after; /* the line callback says stop after this many; 0 = never */
} seen_t;

static bool on_line(void *arg, const char *line)
{
    seen_t *seen = arg;
    if (seen->count < 8)
        snprintf(seen->lines[seen->count], sizeof seen->lines[0], "%s", line);
    seen->count++;
    return seen->stop_after == 0 || seen->count < seen->stop_after;
}

static void on_chunk(void *arg, const char *data, size_t len)
{
    (void)data;
    ((seen_t *)arg)->bytes += len;
}

static rm_subprocess_t *start_sh(const char *script, size_t line_max)
{
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    rm_subprocess_spec_t spec = {.argv = argv,
                                 .result_fd = RESULT_FD,
                                 .output_line_max = line_max,
                                 .result_line_max = line_max};
    rm_err_t err;
    rm_subprocess_t *proc = rm_subprocess_new(&spec, &err);
    CHECK_MSG(proc != NULL, "cannot start sh: %s", err.msg);
    return proc;
}

/*  Reads stream until EOF (or a callback stop); false if WAIT_MS passed. */
static bool read_to_eof(rm_subprocess_t *proc, rm_subprocess_stream_t stream, seen_t *seen)
{
    int64_t deadline = zclock_mono() + WAIT_MS;
    while (rm_subprocess_fd(proc, stream) >= 0 && zclock_mono() < deadline) {
        struct pollfd pfd = {rm_subprocess_fd(proc, stream), POLLIN, 0};
        if (poll(&pfd, 1, 100) > 0 && !rm_subprocess_read(proc, stream, on_chunk, on_line, seen) &&
            seen->stop_after && seen->count >= seen->stop_after)
            return true;
    }
    return rm_subprocess_fd(proc, stream) < 0;
}

/*  Reads stream until a line comes. */
static bool read_line(rm_subprocess_t *proc, rm_subprocess_stream_t stream, seen_t *seen)
{
    int before = seen->count;
    int64_t deadline = zclock_mono() + WAIT_MS;
    while (seen->count == before && rm_subprocess_fd(proc, stream) >= 0 &&
           zclock_mono() < deadline) {
        struct pollfd pfd = {rm_subprocess_fd(proc, stream), POLLIN, 0};
        if (poll(&pfd, 1, 100) > 0)
            rm_subprocess_read(proc, stream, NULL, on_line, seen);
    }
    return seen->count > before;
}

/*  Waits for the child's exit: pidfd_open makes it an event to poll. */
static bool wait_exit(rm_subprocess_t *proc, int *status)
{
    int pidfd = (int)syscall(SYS_pidfd_open, rm_subprocess_pid(proc), 0);
    struct pollfd pfd = {pidfd, POLLIN, 0};
    if (pidfd >= 0)
        poll(&pfd, 1, WAIT_MS);
    int64_t deadline = zclock_mono() + WAIT_MS; /* without pidfd: ask until it has */
    bool reaped;
    while (!(reaped = rm_subprocess_reap(proc, status)) && zclock_mono() < deadline)
        poll(NULL, 0, 1);
    if (pidfd >= 0)
        close(pidfd);
    return reaped;
}

static void test_output_and_results_are_separate_channels(void)
{
    rm_subprocess_t *proc = start_sh("echo out; echo err >&2; echo res >&3", 256);
    seen_t out = {0}, res = {0};
    CHECK(read_to_eof(proc, RM_SUBPROCESS_OUTPUT, &out));
    CHECK(read_to_eof(proc, RM_SUBPROCESS_RESULT, &res));
    CHECK_MSG(out.count == 2 && streq(out.lines[0], "out") && streq(out.lines[1], "err"),
              "output: %d lines, %s", out.count, out.lines[0]);
    CHECK(out.bytes == 8);
    CHECK(res.count == 1 && streq(res.lines[0], "res"));
    int status;
    CHECK(wait_exit(proc, &status) && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    rm_subprocess_destroy(&proc);
    CHECK(proc == NULL);
}

static void test_stdin_reaches_the_child(void)
{
    rm_subprocess_t *proc = start_sh("read -r line; echo \"got $line\" >&3", 256);
    CHECK(rm_subprocess_send(proc, "hello\n") == 0);
    seen_t res = {0};
    CHECK(read_line(proc, RM_SUBPROCESS_RESULT, &res) && streq(res.lines[0], "got hello"));
    rm_subprocess_destroy(&proc);
}

static void test_long_output_lines_come_in_pieces(void)
{
    rm_subprocess_t *proc = start_sh("echo abcdefghijkl; echo xy", 8);
    seen_t out = {0};
    CHECK(read_to_eof(proc, RM_SUBPROCESS_OUTPUT, &out));
    CHECK_MSG(out.count == 3 && streq(out.lines[0], "abcdefg") && streq(out.lines[1], "hijkl") &&
                  streq(out.lines[2], "xy"),
              "%d lines: %s|%s|%s", out.count, out.lines[0], out.lines[1], out.lines[2]);
    rm_subprocess_destroy(&proc);
}

static void test_long_result_lines_are_dropped(void)
{
    rm_subprocess_t *proc = start_sh("echo abcdefghijkl >&3; echo ok >&3", 8);
    seen_t res = {0};
    CHECK(read_to_eof(proc, RM_SUBPROCESS_RESULT, &res));
    CHECK_MSG(res.count == 1 && streq(res.lines[0], "ok"), "%d lines: %s", res.count, res.lines[0]);
    rm_subprocess_destroy(&proc);
}

static void test_an_unterminated_last_line_is_not_passed(void)
{
    rm_subprocess_t *proc = start_sh("printf 'a\\nb' >&3", 256);
    seen_t res = {0};
    CHECK(read_to_eof(proc, RM_SUBPROCESS_RESULT, &res));
    CHECK(res.count == 1 && streq(res.lines[0], "a"));
    rm_subprocess_destroy(&proc);
}

/*  A line callback may destroy the child: the read stops at once. */
static void test_a_line_callback_can_stop_the_read(void)
{
    rm_subprocess_t *proc = start_sh("printf 'one\\ntwo\\nthree\\n' >&3", 256);
    seen_t res = {.stop_after = 1};
    CHECK(read_to_eof(proc, RM_SUBPROCESS_RESULT, &res));
    CHECK(res.count == 1 && streq(res.lines[0], "one"));
    rm_subprocess_destroy(&proc);
}

static void test_cwd_and_environment(void)
{
    char dir[] = "/tmp/rm_subprocess_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *argv[] = {"/bin/sh", "-c", "echo \"$(pwd) $RM_X\" >&3", NULL};
    char *env[] = {"RM_X=yes", NULL};
    rm_subprocess_spec_t spec = {.argv = argv,
                                 .cwd = dir,
                                 .env = env,
                                 .result_fd = RESULT_FD,
                                 .output_line_max = 256,
                                 .result_line_max = 256};
    rm_err_t err;
    rm_subprocess_t *proc = rm_subprocess_new(&spec, &err);
    CHECK(proc != NULL);
    seen_t res = {0};
    char want[64];
    snprintf(want, sizeof want, "%s yes", dir);
    CHECK(proc && read_line(proc, RM_SUBPROCESS_RESULT, &res));
    CHECK_MSG(streq(res.lines[0], want), "%s, want %s", res.lines[0], want);
    rm_subprocess_destroy(&proc);
    rmdir(dir);
}

static void test_a_missing_program_gives_the_system_reason(void)
{
    char *argv[] = {"/nonexistent/program", NULL};
    rm_subprocess_spec_t spec = {
        .argv = argv, .result_fd = RESULT_FD, .output_line_max = 8, .result_line_max = 8};
    rm_err_t err;
    CHECK(rm_subprocess_new(&spec, &err) == NULL);
    CHECK_MSG(err.code == RM_ENOTFOUND && streq(err.msg, strerror(ENOENT)), "%d %s", err.code,
              err.msg);
    spec.cwd = "/nonexistent/dir";
    argv[0] = "sh";
    CHECK(rm_subprocess_new(&spec, &err) == NULL);
    CHECK(err.code == RM_ENOTFOUND);
}

/*  destroy kills what the child started too: a pipe that only the child
    and its background sleep hold reaches EOF once both are dead. */
static void test_destroy_kills_the_process_group(void)
{
    int held[2];
    CHECK(pipe(held) == 0); /* not close-on-exec: the children inherit it */
    rm_subprocess_t *proc = start_sh("sleep 1000 & echo started >&3; wait", 256);
    close(held[1]);
    seen_t res = {0};
    CHECK(read_line(proc, RM_SUBPROCESS_RESULT, &res) && streq(res.lines[0], "started"));
    rm_subprocess_destroy(&proc);
    struct pollfd pfd = {held[0], POLLIN, 0};
    char byte;
    CHECK_MSG(poll(&pfd, 1, WAIT_MS) == 1 && read(held[0], &byte, 1) == 0,
              "the background sleep outlived destroy");
    close(held[0]);
}

static void test_reap_tells_the_exit_once(void)
{
    rm_subprocess_t *proc = start_sh("echo bye >&3; exit 3", 256);
    int status = 0;
    CHECK(!rm_subprocess_reaped(proc));
    CHECK(wait_exit(proc, &status) && WIFEXITED(status) && WEXITSTATUS(status) == 3);
    CHECK(rm_subprocess_reaped(proc));
    CHECK(!rm_subprocess_reap(proc, &status));
    /* What it wrote before exiting is still there. */
    seen_t res = {0};
    CHECK(read_to_eof(proc, RM_SUBPROCESS_RESULT, &res) && streq(res.lines[0], "bye"));
    /* Its stdin is gone: -1, and no SIGPIPE kills this test. */
    CHECK(rm_subprocess_send(proc, "anyone?\n") == -1);
    rm_subprocess_destroy(&proc);
}

static void test_describe_exits(void)
{
    char buf[128];
    rm_subprocess_describe(1 << 8, "Blender", buf, sizeof buf);
    CHECK_MSG(streq(buf, "Blender exited with status 1"), "%s", buf);
    rm_subprocess_t *proc = start_sh("kill -SEGV $$", 256);
    int status;
    CHECK(wait_exit(proc, &status));
    rm_subprocess_describe(status, "Blender", buf, sizeof buf);
    CHECK_MSG(streq(buf, "Blender crashed with signal 11 (Segmentation fault)"), "%s", buf);
    rm_subprocess_destroy(&proc);
    proc = start_sh("kill -KILL $$", 256);
    CHECK(wait_exit(proc, &status));
    rm_subprocess_describe(status, "X", buf, sizeof buf);
    CHECK_MSG(streq(buf, "X was killed (signal 9; out of memory?)"), "%s", buf);
    rm_subprocess_destroy(&proc);
}

static void test_capture_collects_output_and_status(void)
{
    char out[64];
    int status;
    rm_err_t err;
    char *argv[] = {"sh", "-c", "echo hi; echo there >&2; exit 4", NULL};
    CHECK(rm_subprocess_capture(argv, WAIT_MS, out, sizeof out, &status, &err) == 0);
    CHECK_MSG(streq(out, "hi\nthere\n"), "%s", out);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 4);
    /* Cut to size, the rest read and dropped. */
    char small[4];
    CHECK(rm_subprocess_capture(argv, WAIT_MS, small, sizeof small, &status, &err) == 0);
    CHECK_MSG(streq(small, "hi\n"), "%s", small);
}

static void test_capture_kills_at_the_time_limit(void)
{
    char out[64];
    int status = 0;
    rm_err_t err;
    char *argv[] = {"sh", "-c", "echo waiting; sleep 1000", NULL};
    int64_t start = zclock_mono();
    CHECK(rm_subprocess_capture(argv, 200, out, sizeof out, &status, &err) == 0);
    CHECK(status == -1 && streq(out, "waiting\n"));
    CHECK_MSG(zclock_mono() - start < WAIT_MS, "the limit did not stop it");
    char *missing[] = {"/nonexistent/program", NULL};
    CHECK(rm_subprocess_capture(missing, 200, out, sizeof out, &status, &err) == -1);
    CHECK(err.code == RM_ENOTFOUND && streq(err.msg, strerror(ENOENT)));
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_output_and_results_are_separate_channels);
    RM_RUN(test_stdin_reaches_the_child);
    RM_RUN(test_long_output_lines_come_in_pieces);
    RM_RUN(test_long_result_lines_are_dropped);
    RM_RUN(test_an_unterminated_last_line_is_not_passed);
    RM_RUN(test_a_line_callback_can_stop_the_read);
    RM_RUN(test_cwd_and_environment);
    RM_RUN(test_a_missing_program_gives_the_system_reason);
    RM_RUN(test_destroy_kills_the_process_group);
    RM_RUN(test_reap_tells_the_exit_once);
    RM_RUN(test_describe_exits);
    RM_RUN(test_capture_collects_output_and_status);
    RM_RUN(test_capture_kills_at_the_time_limit);
    RM_TEST_DONE();
}
