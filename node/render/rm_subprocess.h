/*  rm_subprocess: a child process with pipes, knowing nothing of Blender.

    The child gets three channels: stdin is one end of a socketpair (so that
    writing to a dead child returns EPIPE instead of raising SIGPIPE in the
    whole process), stdout and stderr share one pipe (its output, for logs
    and for scanning), and a third pipe sits at an fd of the caller's choice
    for machine-readable results, kept apart from whatever the child's
    libraries print.  The parent's ends are non-blocking; the caller polls
    rm_subprocess_fd and reads with rm_subprocess_read when one is readable.

    The child leads a new process group with default signal handling, so
    rm_subprocess_destroy can kill it with everything it started (wrapper
    scripts, their children).  Nothing here blocks except that kill, which
    waits for the SIGKILLed child to be reaped.

    rm_subprocess_capture runs a short command to completion and collects
    its output, with a time limit. */
#ifndef RM_SUBPROCESS_H
#define RM_SUBPROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "rm_error.h"

typedef struct _rm_subprocess_t rm_subprocess_t;

/*  How to start a child; nothing is kept after rm_subprocess_new. */
typedef struct {
    char *const *argv;      /* NULL-terminated; argv[0] is looked up on PATH */
    const char *cwd;        /* NULL or "" = ours */
    char *const *env;       /* NULL = ours (environ) */
    int result_fd;          /* where the child finds the result pipe (3 or more) */
    size_t output_line_max; /* longer output lines are passed in pieces */
    size_t result_line_max; /* longer result lines are dropped: half a record is noise */
} rm_subprocess_spec_t;

/*  The child's two readable channels. */
typedef enum {
    RM_SUBPROCESS_OUTPUT, /* stdout + stderr */
    RM_SUBPROCESS_RESULT, /* the result fd */
} rm_subprocess_stream_t;

/*  Starts the child.  NULL if it cannot be started; err's message is then
    the system's reason alone ("No such file or directory"), for the caller
    to prefix with what it was starting (rm_err_prefix). */
rm_subprocess_t *rm_subprocess_new(const rm_subprocess_spec_t *spec, rm_err_t *err);

/*  Kills the child and its process group with SIGKILL and reaps it, unless
    rm_subprocess_reap already did; closes the pipes; NULLs *self_p. */
void rm_subprocess_destroy(rm_subprocess_t **self_p);

pid_t rm_subprocess_pid(const rm_subprocess_t *self);

/*  The parent's end of a stream, to poll for input; -1 once it reached EOF. */
int rm_subprocess_fd(const rm_subprocess_t *self, rm_subprocess_stream_t stream);

/*  Writes all of data to the child's stdin.  -1 if the child has closed it
    or is gone (its exit is for rm_subprocess_reap to tell). */
int rm_subprocess_send(rm_subprocess_t *self, const char *data);

/*  Called with each piece of output as read (chunk) and each line without
    its '\n' (line); arg is rm_subprocess_read's.  A line callback returns
    false to stop the read at once, e.g. because it destroyed the child. */
typedef void(rm_subprocess_chunk_fn)(void *arg, const char *data, size_t len);
typedef bool(rm_subprocess_line_fn)(void *arg, const char *line);

/*  Reads what the stream holds now, at most 1 MiB, so that one chatty child
    cannot starve the caller's other work.  chunk may be NULL.  A last line
    without '\n' at EOF is not passed.  Returns true if more may be waiting
    (call again), false when the stream would block, reached EOF (its fd is
    closed then) or a line callback said stop (self is not touched after
    that). */
bool rm_subprocess_read(rm_subprocess_t *self, rm_subprocess_stream_t stream,
                        rm_subprocess_chunk_fn *chunk, rm_subprocess_line_fn *line, void *arg);

/*  Reaps the child if it has exited, without waiting.  True the one time it
    finds it so, with *status its wait status (exit 255 if it was not ours
    to wait for); false while it runs and ever after.  What it wrote before
    exiting can still be read. */
bool rm_subprocess_reap(rm_subprocess_t *self, int *status);

/*  True once rm_subprocess_reap returned true: the pid is no longer ours. */
bool rm_subprocess_reaped(const rm_subprocess_t *self);

/*  "NAME exited with status 1", "NAME crashed with signal 11 (Segmentation
    fault)", "NAME was killed (signal 9; out of memory?)". */
void rm_subprocess_describe(int status, const char *name, char *buf, size_t size);

/*  Runs argv (stdin /dev/null, our environment) to completion, its stdout
    and stderr copied to out (NUL-terminated, cut to size).  After
    timeout_ms it is killed with its process group and *status is -1;
    otherwise *status is its wait status.  -1 if it cannot be started, with
    err as for rm_subprocess_new. */
int rm_subprocess_capture(char *const *argv, int timeout_ms, char *out, size_t size, int *status,
                          rm_err_t *err);

#endif
