/*  rm_subprocess: spawning with posix_spawn, reading bounded lines from
    non-blocking pipes, process-group kill and reaping. */
#define _GNU_SOURCE /* posix_spawn_file_actions_addchdir_np, pipe2 */
#include "rm_subprocess.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define READ_CHUNK 16384
#define READ_BATCH 64 /* chunks per rm_subprocess_read: 1 MiB */

/*  A stream's partial line. */
typedef struct {
    char *data; /* max bytes, allocated at the first byte */
    size_t len, max;
    bool keep_long; /* overlong lines are passed in pieces, else dropped */
    bool dropping;  /* inside an overlong line being discarded */
} linebuf_t;

struct _rm_subprocess_t {
    pid_t pid;
    bool reaped;
    int in_fd;
    int fds[2]; /* by rm_subprocess_stream_t */
    linebuf_t lines[2];
};

static void fd_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* ------------------------------------------------------------------------ */
/*  Spawning                                                                 */

/*  A new process group, so that a kill reaches what the child starts, and
    signals as a fresh process has them: no mask inherited from the thread
    that spawns, no handler or ignore that exec would keep. */
static void spawn_attrs(posix_spawnattr_t *attr)
{
    sigset_t none, deflt;
    sigemptyset(&none);
    sigemptyset(&deflt);
    int sigs[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        sigaddset(&deflt, sigs[i]);
    posix_spawnattr_setsigmask(attr, &none);
    posix_spawnattr_setsigdefault(attr, &deflt);
    posix_spawnattr_setpgroup(attr, 0);
    posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                       POSIX_SPAWN_SETSIGDEF);
}

static int spawn_actions(posix_spawn_file_actions_t *fa, int in, int out, int res, int res_at,
                         const char *cwd)
{
    int rc = posix_spawn_file_actions_adddup2(fa, in, 0);
    rc = rc ? rc : posix_spawn_file_actions_adddup2(fa, out, 1);
    rc = rc ? rc : posix_spawn_file_actions_adddup2(fa, out, 2);
    rc = rc ? rc : posix_spawn_file_actions_adddup2(fa, res, res_at);
    if (!rc && cwd && *cwd)
        rc = posix_spawn_file_actions_addchdir_np(fa, cwd);
    return rc;
}

/*  Makes the three channels (every end close-on-exec: the child gets its
    ends by dup2), spawns, and keeps the parent's ends.  Returns an errno
    value. */
static int spawn_piped(rm_subprocess_t *self, const rm_subprocess_spec_t *spec)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, res[2] = {-1, -1};
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) || pipe2(out, O_CLOEXEC) ||
        pipe2(res, O_CLOEXEC)) {
        int e = errno;
        int fds[] = {in[0], in[1], out[0], out[1], res[0], res[1]};
        for (int i = 0; i < 6; i++)
            fd_close(&fds[i]);
        return e;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    spawn_attrs(&attr);
    int rc = spawn_actions(&fa, in[1], out[1], res[1], spec->result_fd, spec->cwd);
    if (!rc)
        rc = posix_spawnp(&self->pid, spec->argv[0], &fa, &attr, spec->argv,
                          spec->env ? spec->env : environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(in[1]);
    close(out[1]);
    close(res[1]);
    self->in_fd = in[0];
    self->fds[RM_SUBPROCESS_OUTPUT] = out[0];
    self->fds[RM_SUBPROCESS_RESULT] = res[0];
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(res[0], F_SETFL, O_NONBLOCK);
    return rc;
}

static void subprocess_free(rm_subprocess_t *self)
{
    fd_close(&self->in_fd);
    for (int i = 0; i < 2; i++) {
        fd_close(&self->fds[i]);
        free(self->lines[i].data);
    }
    free(self);
}

rm_subprocess_t *rm_subprocess_new(const rm_subprocess_spec_t *spec, rm_err_t *err)
{
    rm_subprocess_t *self = calloc(1, sizeof *self);
    if (!self) {
        rm_err_set(err, RM_ENOMEM, "%s", strerror(ENOMEM));
        return NULL;
    }
    self->in_fd = self->fds[0] = self->fds[1] = -1;
    self->lines[RM_SUBPROCESS_OUTPUT] =
        (linebuf_t){.max = spec->output_line_max, .keep_long = true};
    self->lines[RM_SUBPROCESS_RESULT] = (linebuf_t){.max = spec->result_line_max};
    int rc = spawn_piped(self, spec);
    if (rc) {
        rm_err_set(err, rm_err_from_errno(rc), "%s", strerror(rc));
        subprocess_free(self);
        return NULL;
    }
    return self;
}

void rm_subprocess_destroy(rm_subprocess_t **self_p)
{
    rm_subprocess_t *self = *self_p;
    if (!self)
        return;
    if (!self->reaped) {
        killpg(self->pid, SIGKILL); /* its own group: takes wrappers' children too */
        kill(self->pid, SIGKILL);
        while (waitpid(self->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    subprocess_free(self);
    *self_p = NULL;
}

pid_t rm_subprocess_pid(const rm_subprocess_t *self)
{
    return self->pid;
}

int rm_subprocess_fd(const rm_subprocess_t *self, rm_subprocess_stream_t stream)
{
    return self->fds[stream];
}

int rm_subprocess_send(rm_subprocess_t *self, const char *data)
{
    size_t len = strlen(data);
    while (self->in_fd >= 0 && len > 0) {
        ssize_t n = send(self->in_fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return len == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------ */
/*  Reading                                                                  */

/*  Splits data into lines for fn.  Overlong lines are cut into pieces of
    max - 1 bytes (keep_long) or dropped.  False if fn said stop. */
static bool linebuf_feed(linebuf_t *lb, const char *data, size_t len, rm_subprocess_line_fn *fn,
                         void *arg)
{
    for (size_t i = 0; i < len; i++) {
        if (!lb->data && !(lb->data = malloc(lb->max)))
            return true;
        bool full = lb->len + 1 >= lb->max;
        if (data[i] != '\n' && !full) {
            if (!lb->dropping)
                lb->data[lb->len++] = data[i];
            continue;
        }
        if (full && !lb->keep_long && data[i] != '\n') {
            lb->dropping = true;
            lb->len = 0;
            continue;
        }
        bool drop = lb->dropping;
        lb->data[lb->len] = '\0';
        lb->len = 0;
        lb->dropping = false;
        if (full && data[i] != '\n')
            i--; /* this byte starts the next piece */
        if (!drop && !fn(arg, lb->data))
            return false;
    }
    return true;
}

bool rm_subprocess_read(rm_subprocess_t *self, rm_subprocess_stream_t stream,
                        rm_subprocess_chunk_fn *chunk, rm_subprocess_line_fn *line, void *arg)
{
    char buf[READ_CHUNK];
    for (int i = 0; i < READ_BATCH; i++) {
        int *fd = &self->fds[stream];
        if (*fd < 0)
            return false;
        ssize_t n = read(*fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return false;
        if (n <= 0) {
            fd_close(fd);
            return false;
        }
        if (chunk)
            chunk(arg, buf, (size_t)n);
        if (!linebuf_feed(&self->lines[stream], buf, (size_t)n, line, arg))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/*  Ending                                                                   */

bool rm_subprocess_reap(rm_subprocess_t *self, int *status)
{
    if (self->reaped)
        return false;
    pid_t r = waitpid(self->pid, status, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR))
        return false;
    if (r < 0)
        *status = 255 << 8; /* ECHILD: not ours any more; treat as a failure */
    self->reaped = true;
    return true;
}

bool rm_subprocess_reaped(const rm_subprocess_t *self)
{
    return self->reaped;
}

void rm_subprocess_describe(int status, const char *name, char *buf, size_t size)
{
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        snprintf(buf, size, "%s was killed (signal 9; out of memory?)", name);
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "%s crashed with signal %d (%s)", name, WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else if (WIFEXITED(status))
        snprintf(buf, size, "%s exited with status %d", name, WEXITSTATUS(status));
    else
        snprintf(buf, size, "%s ended with wait status %d", name, status);
}

/* ------------------------------------------------------------------------ */
/*  Running a short command                                                  */

/*  Copies what fd gives until EOF or the deadline into out (cut to size).
    False if the deadline came first. */
static bool capture_until(int fd, int64_t deadline, char *out, size_t size)
{
    size_t len = 0;
    bool in_time = true;
    while (true) {
        int64_t left = deadline - zclock_mono();
        struct pollfd pfd = {fd, POLLIN, 0};
        if (left <= 0 || (poll(&pfd, 1, (int)left) == 0)) {
            in_time = false;
            break;
        }
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t keep = (size_t)n < size - 1 - len ? (size_t)n : size - 1 - len;
        memcpy(out + len, buf, keep);
        len += keep;
    }
    out[len] = '\0';
    return in_time;
}

int rm_subprocess_capture(char *const *argv, int timeout_ms, char *out, size_t size, int *status,
                          rm_err_t *err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return rm_err_set(err, rm_err_from_errno(errno), "%s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    spawn_attrs(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(p[1]);
    if (rc) {
        close(p[0]);
        return rm_err_set(err, rm_err_from_errno(rc), "%s", strerror(rc));
    }
    bool in_time = capture_until(p[0], zclock_mono() + timeout_ms, out, size);
    close(p[0]);
    if (!in_time) {
        killpg(pid, SIGKILL);
        kill(pid, SIGKILL);
    }
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    if (!in_time)
        *status = -1;
    return 0;
}
