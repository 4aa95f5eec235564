/*  rm_blender: the render slot actor; rm_slot_msg.h has the pipe protocol.

    One actor thread per slot owns at most one Blender child and polls, with
    zmq_poll, its pipe plus the child's two pipes: stdout+stderr (copied to
    the task log and scanned for progress and "Error:" lines) and the
    driver's result fd (JSON lines).  Commands go to the driver's stdin, a
    socketpair so that writing to a dead Blender returns EPIPE instead of
    raising SIGPIPE in the whole process.  Children are reaped with
    waitpid(WNOHANG) once their pipes close, or at once after SIGKILL. */
#define _GNU_SOURCE /* posix_spawn_file_actions_addchdir_np */
#include "rm_blender.h"
#include "rm_logs.h"

#include "rm_driver_event.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define RESULT_FD 3                 /* the driver's --result-fd in the child */
#define STARTUP_TIMEOUT_S 120       /* default for rm_slot_config_t */
#define PROGRESS_INTERVAL_MS 250    /* PROGRESS at most 4 a second */
#define ONESHOT_MAX_FRAMES 1000     /* keeps --frames under Linux's 128 KiB per argument */
#define OUTPUT_LINE_MAX 4096        /* longer Blender lines are scanned in pieces */
#define RESULT_LINE_MAX (64 * 1024) /* longer driver lines are dropped */
#define PROBE_TIMEOUT_MS 10000

/* ------------------------------------------------------------------------ */
/*  Small helpers                                                            */

static char *xstrdup(const char *s)
{
    return strdup(s ? s : "");
}

static int imax(int a, int b)
{
    return a > b ? a : b;
}

static int64_t i64min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/*  Creates dir and its parents. */
static int make_dirs(const char *dir, rm_err_t *err)
{
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    if (zsys_dir_create("%s", dir) != 0 || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return rm_err_set(err, rm_err_from_errno(errno), "cannot create directory %s: %s", dir,
                          strerror(errno));
    return 0;
}

static int open_log(const char *path, rm_err_t *err)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash && slash != dir) {
        *slash = '\0';
        rc = make_dirs(dir, err);
    }
    free(dir);
    if (rc)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot open log %s: %s", path,
                          strerror(errno));
    return fd;
}

static void write_all(int fd, const char *data, size_t len)
{
    while (fd >= 0 && len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* a full disk loses log lines, not frames */
        data += n;
        len -= (size_t)n;
    }
}

/*  "Blender crashed with signal 11 (Segmentation fault)" etc. */
static void describe_status(int status, char *buf, size_t size)
{
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        snprintf(buf, size, "Blender was killed (signal 9; out of memory?)");
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "Blender crashed with signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else if (WIFEXITED(status))
        snprintf(buf, size, "Blender exited with status %d", WEXITSTATUS(status));
    else
        snprintf(buf, size, "Blender ended with wait status %d", status);
}

/* ------------------------------------------------------------------------ */
/*  Slot state                                                               */

typedef rm_slot_task_t task_t;

typedef enum {
    CHILD_NONE,
    CHILD_STARTING, /* spawned, driver not ready yet */
    CHILD_READY,    /* driver ready: rendering frames[next] if frame_sent */
    CHILD_QUITTING, /* no longer ours to use; reaped when it exits */
} child_state_t;

typedef struct {
    char *data;
    size_t len, cap;
    bool dropping; /* inside an overlong line being discarded */
} linebuf_t;

typedef struct {
    pid_t pid;
    bool exited;        /* reaped: pid is no longer ours to signal */
    int render_pid;     /* as the driver reports it (a wrapper may fork) */
    unsigned gen;       /* bumped per process, to spot a child replaced mid-loop */
    const char *tmpdir; /* the slot's, Blender's TMPDIR */
    int in_fd, out_fd, res_fd;
    child_state_t state;
    bool oneshot;
    size_t oneshot_end; /* one-shot: frames[next..oneshot_end) were given */
    char *key, *job_id;
    char *fatal;     /* the driver's fatal reason */
    bool fatal_node; /* ... about this node, not the job */
    char *read_error;
    char last_error[300]; /* last "Error: " line, to explain a crash */
    int64_t deadline;     /* monotonic ms; 0 = none */
    linebuf_t out, res;
} child_t;

typedef struct {
    zsock_t *pipe;
    char *blender, *driver;
    char driver_error[RM_ERR_MSG_MAX];
    int index, threads, startup_timeout_s;
    bool terminated;
    child_t child;
    task_t *task;
    size_t next;     /* frames[next] is the first not yet reported */
    bool frame_sent; /* frames[next] is being rendered */
    int log_fd;
    uint64_t log_from; /* the task log's size at the previous frame's end */
    char *oneshot_key; /* this job failed to serve: go straight to one-shot */
    char *tmpdir;      /* Blender's private TMPDIR, emptied after each process */
    char **env;        /* environ with that TMPDIR; NULL = environ */
    bool used_oneshot; /* some of the current task ran in one-shot mode */
    /* progress of frames[next] */
    int percent, sent_percent;
    int64_t sent_ms, eta_at, eta_elapsed, eta_total;
} slot_t;

/* ------------------------------------------------------------------------ */
/*  Events to the parent                                                     */

static void send_progress(slot_t *self, int percent)
{
    rm_slot_send_progress(self->pipe, self->task->job_id, self->task->frames[self->next], percent);
}

static void send_frame_done(slot_t *self, rm_slot_output_t *out)
{
    /* The frame's own log travels with its output (rm_logs.h). */
    uint64_t frame = self->task->frames[self->next];
    char log[4200];
    rm_err_t err = {0};
    if (rm_logs_frame_path(self->task->log_path, frame, log, sizeof log) != 0 ||
        rm_logs_cut(self->task->log_path, &self->log_from, log, &err) != 0) {
        zsys_warning("slot %d: frame %" PRIu64 ": no log of its own: %s", self->index, frame,
                     err.msg);
        log[0] = '\0';
    }
    out->pid = self->child.render_pid;
    out->log = log;
    rm_slot_send_frame_done(self->pipe, self->task->job_id, frame, out);
}

/*  Notes for the person reading the task log (and meshd's log). */
static void note(slot_t *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(slot_t *self, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    char *text = zsys_vprintf(fmt, args);
    va_end(args);
    if (!text)
        return;
    zsys_info("slot %d: %s", self->index, text);
    if (self->log_fd >= 0) {
        char *line = zsys_sprintf("rendermesh: slot %d: %s\n", self->index, text);
        if (line)
            write_all(self->log_fd, line, strlen(line));
        zstr_free(&line);
    }
    zstr_free(&text);
}

static void send_frame_failed(slot_t *self, const char *reason)
{
    char frame[24];
    snprintf(frame, sizeof frame, "%" PRIu64, self->task->frames[self->next]);
    note(self, "frame %s failed: %s", frame, reason);
    rm_slot_send_frame_failed(self->pipe, self->task->job_id, self->task->frames[self->next],
                              reason);
}

/*  Ends the current task with TASK_DONE (reason NULL), TASK_FAILED or
    TASK_CANCELED. */
static void task_finish(slot_t *self, const char *event, const char *reason, bool fatal)
{
    const char *job = self->task->job_id;
    if (streq(event, "TASK_DONE"))
        rm_slot_send_task_done(self->pipe, job, self->used_oneshot);
    else if (streq(event, "TASK_FAILED"))
        rm_slot_send_task_failed(self->pipe, job, reason, fatal);
    else
        rm_slot_send_task_canceled(self->pipe, job);
    if (reason)
        note(self, "job %s: %s%s", job, reason, fatal ? " (the job is broken)" : "");
    if (self->log_fd >= 0)
        close(self->log_fd);
    self->log_fd = -1;
    rm_slot_task_destroy(&self->task);
    self->frame_sent = false;
}

/* ------------------------------------------------------------------------ */
/*  The Blender child                                                        */

static void linebuf_reset(linebuf_t *lb)
{
    free(lb->data);
    memset(lb, 0, sizeof *lb);
}

/*  Blender makes a session dir, $TMPDIR/blender_XXXXXX, and removes it when
    it exits normally, not after SIGKILL.  Each slot gives its Blender a
    private TMPDIR and empties it after each process. */
static void remove_tree(const char *path, const char *prefix, int depth)
{
    struct stat st;
    DIR *dir = depth < 16 && lstat(path, &st) == 0 && S_ISDIR(st.st_mode) ? opendir(path) : NULL;
    struct dirent *entry;
    while (dir && (entry = readdir(dir))) {
        const char *name = entry->d_name;
        if (streq(name, ".") || streq(name, "..") || strncmp(name, prefix, strlen(prefix)) != 0)
            continue;
        char *sub = zsys_sprintf("%s/%s", path, name);
        if (sub && unlink(sub) != 0 && (errno == EISDIR || errno == EPERM)) {
            remove_tree(sub, "", depth + 1);
            rmdir(sub);
        }
        zstr_free(&sub);
    }
    if (dir)
        closedir(dir);
}

static void purge_tmpdir(const char *tmpdir)
{
    if (tmpdir)
        remove_tree(tmpdir, "blender_", 0);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/*  Forgets the (already reaped) child. */
static void child_clear(child_t *c)
{
    close_fd(&c->in_fd);
    close_fd(&c->out_fd);
    close_fd(&c->res_fd);
    if (c->pid > 0)
        purge_tmpdir(c->tmpdir);
    free(c->key);
    free(c->job_id);
    free(c->fatal);
    free(c->read_error);
    linebuf_reset(&c->out);
    linebuf_reset(&c->res);
    unsigned gen = c->gen;
    const char *tmpdir = c->tmpdir;
    memset(c, 0, sizeof *c);
    c->gen = gen + 1;
    c->tmpdir = tmpdir;
    c->in_fd = c->out_fd = c->res_fd = -1;
}

static void child_kill(child_t *c)
{
    if (c->pid > 0 && !c->exited) {
        killpg(c->pid, SIGKILL); /* its own group: takes wrappers' children too */
        kill(c->pid, SIGKILL);
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    child_clear(c);
}

static void child_send(child_t *c, const char *line)
{
    size_t len = strlen(line);
    while (c->in_fd >= 0 && len > 0) {
        ssize_t n = send(c->in_fd, line, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* Blender is gone: its exit is handled when reaped */
        line += n;
        len -= (size_t)n;
    }
}

static char *settings_json(const task_t *t, bool with_out_dir)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f)
        return NULL;
    const char *keys[] = {"scene", "camera", "engine", "device", "format", "source_root"};
    const char *vals[] = {t->scene, t->camera, t->engine, t->device, t->format, t->source_root};
    fputc('{', f);
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        fprintf(f, "\"%s\":", keys[i]);
        rm_driver_json_str(f, vals[i]);
        fputc(',', f);
    }
    fprintf(f,
            "\"samples\":%" PRIu64 ",\"percent\":%" PRIu64 ",\"res_x\":%" PRIu64
            ",\"res_y\":%" PRIu64 ",\"gpu_index\":%" PRId64 ",\"no_denoise\":%s",
            t->samples, t->percent, t->res_x, t->res_y, (int64_t)t->gpu - 1,
            t->no_denoise ? "true" : "false");
    if (with_out_dir) {
        fputs(",\"out_dir\":", f);
        rm_driver_json_str(f, t->out_dir);
    }
    fputc('}', f);
    fclose(f);
    return buf;
}

typedef struct {
    char *argv[32];
    int argc;
    bool failed;
} args_t;

static void arg(args_t *a, const char *value)
{
    char *copy = value ? strdup(value) : NULL;
    if (!copy || a->argc >= 31) {
        free(copy);
        a->failed = true;
        return;
    }
    a->argv[a->argc++] = copy;
}

static void args_free(args_t *a)
{
    for (int i = 0; i < a->argc; i++)
        free(a->argv[i]);
}

static void build_args(slot_t *self, bool oneshot, args_t *a)
{
    const task_t *t = self->task;
    arg(a, self->blender);
    arg(a, "-b");
    arg(a, "--factory-startup");
    if (self->threads > 0) {
        char n[16];
        snprintf(n, sizeof n, "%d", self->threads);
        arg(a, "-t");
        arg(a, n);
    }
    arg(a, t->allow_scripts ? "--enable-autoexec" : "--disable-autoexec");
    arg(a, t->blend);
    /* A driver bug must not look like a clean exit. */
    arg(a, "--python-exit-code");
    arg(a, "2");
    arg(a, "--python");
    arg(a, self->driver);
    arg(a, "--");
    arg(a, "--result-fd");
    arg(a, "3");
    arg(a, "--blend");
    arg(a, t->blend);
    char *json = settings_json(t, true);
    arg(a, "--settings");
    arg(a, json);
    free(json);
    if (oneshot) {
        size_t end = self->next + ONESHOT_MAX_FRAMES;
        self->child.oneshot_end = end < t->frame_count ? end : t->frame_count;
        char *list =
            rm_slot_frame_list(t->frames + self->next, self->child.oneshot_end - self->next);
        arg(a, "--frames");
        arg(a, list);
        free(list);
    } else {
        arg(a, "--serve");
    }
    a->argv[a->argc] = NULL;
}

static int spawn_actions(posix_spawn_file_actions_t *fa, int in, int out, int res, const char *cwd)
{
    int rc = posix_spawn_file_actions_adddup2(fa, in, 0);
    rc = rc ? rc : posix_spawn_file_actions_adddup2(fa, out, 1);
    rc = rc ? rc : posix_spawn_file_actions_adddup2(fa, out, 2);
    rc = rc ? rc : posix_spawn_file_actions_adddup2(fa, res, RESULT_FD);
    if (!rc && cwd && *cwd)
        rc = posix_spawn_file_actions_addchdir_np(fa, cwd);
    return rc;
}

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

/*  Spawns argv with stdin/stdout+stderr/result pipes; fills the child's fds
    and pid.  Returns an errno value. */
static int spawn_child(child_t *c, char **argv, const char *cwd, char **env)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, res[2] = {-1, -1};
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) || pipe2(out, O_CLOEXEC) ||
        pipe2(res, O_CLOEXEC)) {
        int e = errno;
        int fds[] = {in[0], in[1], out[0], out[1], res[0], res[1]};
        for (int i = 0; i < 6; i++)
            close_fd(&fds[i]);
        return e;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    spawn_attrs(&attr);
    int rc = spawn_actions(&fa, in[1], out[1], res[1], cwd);
    if (!rc)
        rc = posix_spawnp(&c->pid, argv[0], &fa, &attr, argv, env ? env : environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(in[1]);
    close(out[1]);
    close(res[1]);
    c->in_fd = in[0];
    c->out_fd = out[0];
    c->res_fd = res[0];
    fcntl(c->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(c->res_fd, F_SETFL, O_NONBLOCK);
    if (rc) {
        c->pid = 0;
        close_fd(&c->in_fd);
        close_fd(&c->out_fd);
        close_fd(&c->res_fd);
    }
    return rc;
}

/*  The short configured limit is there to give up on serving early; the
    one-shot fallback is the last resort and waits at least the default. */
static int startup_limit(const slot_t *self, bool oneshot)
{
    return oneshot ? imax(self->startup_timeout_s, STARTUP_TIMEOUT_S) : self->startup_timeout_s;
}

/*  Starts Blender for the current task: persistent unless this job already
    failed to serve.  Ends the task if Blender cannot be started at all. */
static void child_start(slot_t *self)
{
    child_t *c = &self->child;
    task_t *t = self->task;
    if (c->pid > 0)
        child_kill(c);
    bool oneshot = self->oneshot_key && streq(self->oneshot_key, t->key);
    args_t a = {0};
    build_args(self, oneshot, &a);
    int rc = a.failed ? ENOMEM : spawn_child(c, a.argv, t->project_dir, self->env);
    args_free(&a);
    if (rc) {
        char why[RM_ERR_MSG_MAX];
        snprintf(why, sizeof why, "cannot start Blender %s in %s: %s", self->blender,
                 *t->project_dir ? t->project_dir : ".", strerror(rc));
        task_finish(self, "TASK_FAILED", why, false);
        return;
    }
    c->state = CHILD_STARTING;
    c->oneshot = oneshot;
    self->used_oneshot |= oneshot;
    c->render_pid = c->pid;
    c->key = xstrdup(t->key);
    c->job_id = xstrdup(t->job_id);
    c->deadline = zclock_mono() + (int64_t)startup_limit(self, oneshot) * 1000;
    note(self, "started Blender pid %d (%s) for job %s", (int)c->pid,
         oneshot ? "one-shot" : "persistent", t->job_id);
}

/* ------------------------------------------------------------------------ */
/*  Frames                                                                   */

static void frame_begin(slot_t *self)
{
    uint64_t timeout = self->task->frame_timeout_s;
    self->frame_sent = true;
    self->percent = self->sent_percent = 0;
    self->eta_total = 0;
    self->child.deadline = timeout ? zclock_mono() + (int64_t)timeout * 1000 : 0;
}

static void frame_dispatch(slot_t *self)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f)
        return;
    fprintf(f, "{\"cmd\":\"render\",\"frame\":%" PRIu64 ",\"out_dir\":",
            self->task->frames[self->next]);
    rm_driver_json_str(f, self->task->out_dir);
    fputs("}\n", f);
    fclose(f);
    child_send(&self->child, buf);
    free(buf);
    frame_begin(self);
}

/*  The current frame is reported: move on, or end the task.  Keeps a ready
    Blender busy; a dead or finished one is replaced by the caller. */
static void frame_advance(slot_t *self)
{
    child_t *c = &self->child;
    self->next++;
    self->frame_sent = false;
    c->deadline = 0;
    if (self->next >= self->task->frame_count) {
        task_finish(self, "TASK_DONE", NULL, false);
        if (c->oneshot && c->pid > 0)
            c->state = CHILD_QUITTING; /* exits by itself after its last frame */
        return;
    }
    if (c->state != CHILD_READY || c->exited)
        return; /* the caller replaces it */
    if (!c->oneshot)
        frame_dispatch(self);
    else if (self->next < c->oneshot_end)
        frame_begin(self);
    else
        child_start(self); /* the next batch of frames */
}

static bool below(const char *path, const char *dir)
{
    size_t len = strlen(dir);
    return path && strncmp(path, dir, len) == 0 && path[len] == '/';
}

/*  The driver says frames[next] is done: check the main file really is
    there, in the frame's folder inside out_dir (the node ships whatever
    folder it is given; the file names are checked when stored). */
static void frame_done(slot_t *self, const rm_driver_event_t *ev)
{
    const char *out_dir = self->task->real_out;
    char *real = ev->file ? realpath(ev->file, NULL) : NULL;
    /* A driver of before the frame folders reports the file alone. */
    char *dir = ev->dir ? realpath(ev->dir, NULL) : NULL;
    if (!ev->dir && real) {
        dir = strdup(real);
        if (dir)
            *strrchr(dir, '/') = '\0';
    }
    const char *base = real ? strrchr(real, '/') + 1 : "";
    struct stat st;
    char why[RM_ERR_MSG_MAX];
    if (!real || stat(real, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
        snprintf(why, sizeof why, "Blender wrote no output file %s", ev->file ? ev->file : "");
    else if (!below(real, out_dir) || !dir || !(below(dir, out_dir) || strcmp(dir, out_dir) == 0))
        snprintf(why, sizeof why, "Blender wrote %s, outside %s", real, out_dir);
    else if (!below(real, dir))
        snprintf(why, sizeof why, "the driver reported %s outside the frame's folder %s", real,
                 dir);
    else
        why[0] = '\0';
    if (why[0])
        send_frame_failed(self, why);
    else {
        rm_slot_output_t out = {.file = real,
                                .dir = dir,
                                .files = ev->files ? ev->files : base,
                                .warning = ev->warning ? ev->warning : "",
                                .render_ms = ev->render_ms};
        if (out.warning[0])
            note(self, "frame %llu: %s", (unsigned long long)self->task->frames[self->next],
                 out.warning);
        send_frame_done(self, &out);
    }
    free(real);
    free(dir);
}

/*  Stops a frame that overran its timeout. */
static void frame_timeout(slot_t *self)
{
    char why[64];
    snprintf(why, sizeof why, "timed out after %" PRIu64 " s", self->task->frame_timeout_s);
    child_kill(&self->child);
    send_frame_failed(self, why);
    frame_advance(self);
    if (self->task)
        child_start(self);
}

/* ------------------------------------------------------------------------ */
/*  Reading Blender's output and the driver's events                         */

/*  "MM:SS.hh" or "HH:MM:SS.hh" as Blender prints times; -1 if neither. */
static int64_t parse_clock(const char *s)
{
    int64_t total = 0;
    int parts = 0;
    while (*s >= '0' && *s <= '9' && parts < 3) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end - s > 4)
            return -1;
        total = total * 60 + v;
        parts++;
        if (*end == ':')
            s = end + 1;
        else if (*end == '.' && end[1] >= '0' && end[1] <= '9' && end[2] >= '0' && end[2] <= '9')
            return parts >= 2 ? total * 1000 + (end[1] - '0') * 100 + (end[2] - '0') * 10 : -1;
        else
            return -1;
    }
    return -1;
}

/*  Cycles: "... | Time:00:01.20 | Remaining:00:03.10 | ... | Sample 5/16";
    EEVEE: "... | Rendering 26 / 64 samples".  In background mode Cycles 3.4
    prints few sample lines, so the time estimate carries progress between
    them. */
static void progress_from_line(slot_t *self, const char *line)
{
    const char *p;
    uint64_t done, total;
    char *end;
    if ((p = strstr(line, "| Sample ")) && (p += 9, rm_slot_parse_u64_prefix(p, &done, &end)) &&
        *end == '/' && rm_slot_parse_u64_prefix(end + 1, &total, &end) && total > 0 &&
        done <= total)
        self->percent = imax(self->percent, (int)(done * 99 / total));
    else if ((p = strstr(line, "| Rendering ")) &&
             (p += 12, rm_slot_parse_u64_prefix(p, &done, &end)) && strncmp(end, " / ", 3) == 0 &&
             rm_slot_parse_u64_prefix(end + 3, &total, &end) && total > 0 && done <= total)
        self->percent = imax(self->percent, (int)(done * 99 / total));
    const char *t = strstr(line, "| Time:");
    const char *r = strstr(line, "| Remaining:");
    int64_t elapsed = t ? parse_clock(t + 7) : -1;
    int64_t remaining = r ? parse_clock(r + 12) : -1;
    if (elapsed >= 0 && remaining >= 0 && elapsed + remaining > 0) {
        self->eta_at = zclock_mono();
        self->eta_elapsed = elapsed;
        self->eta_total = elapsed + remaining;
    }
}

/*  Blender's reason for not reading the .blend, from an "Error:" line that
    quotes its path: "Cannot read file 'X': No such file or directory",
    "File format is not supported in file 'X'", "Failed to read blend file
    'X': Missing DNA block".  NULL if the line is about something else. */
static char *read_error_from(const char *msg, const char *blend)
{
    char *quoted = zsys_sprintf("'%s'", blend);
    const char *at = quoted ? strstr(msg, quoted) : NULL;
    char *reason = NULL;
    if (at && strncmp(at + strlen(quoted), ": ", 2) == 0 && at[strlen(quoted) + 2]) {
        reason = xstrdup(at + strlen(quoted) + 2);
    } else if (at) {
        size_t n = (size_t)(at - msg);
        while (n > 0 && msg[n - 1] == ' ')
            n--;
        if (n > 8 && strncmp(msg + n - 8, " in file", 8) == 0)
            n -= 8;
        reason = strndup(msg, n);
    }
    zstr_free(&quoted);
    return reason;
}

static void output_line(slot_t *self, const char *line)
{
    child_t *c = &self->child;
    if (strncmp(line, "Error: ", 7) == 0) {
        snprintf(c->last_error, sizeof c->last_error, "%s", line + 7);
        if (c->state == CHILD_STARTING && !c->read_error && self->task)
            c->read_error = read_error_from(line + 7, self->task->blend);
    }
    if (self->task && self->frame_sent)
        progress_from_line(self, line);
}

static void on_ready(slot_t *self, const rm_driver_event_t *ev)
{
    child_t *c = &self->child;
    if (c->state != CHILD_STARTING)
        return;
    c->state = CHILD_READY;
    c->deadline = 0;
    if (ev->pid > 0 && ev->pid <= INT32_MAX)
        c->render_pid = (int)ev->pid;
    if (!self->task || c->exited)
        return;
    if (c->oneshot)
        frame_begin(self); /* the driver starts on its --frames at once */
    else
        frame_dispatch(self);
}

static void on_frame_event(slot_t *self, const rm_driver_event_t *ev)
{
    if (!self->task || !self->frame_sent || !ev->has_frame || ev->frame < 0 ||
        (uint64_t)ev->frame != self->task->frames[self->next]) {
        note(self, "ignoring a driver event for frame %" PRId64 ", not the one rendering",
             ev->frame);
        return;
    }
    if (streq(ev->event, "done"))
        frame_done(self, ev);
    else
        send_frame_failed(self, ev->reason ? ev->reason : "Blender failed without a reason");
    frame_advance(self);
}

static void result_line(slot_t *self, const char *line)
{
    child_t *c = &self->child;
    rm_driver_event_t ev;
    if (!rm_driver_event_parse(line, &ev)) {
        note(self, "ignoring a malformed driver line: %.200s", line);
        return;
    }
    if (streq(ev.event, "ready")) {
        on_ready(self, &ev);
    } else if (streq(ev.event, "done") || streq(ev.event, "failed")) {
        on_frame_event(self, &ev);
    } else if (streq(ev.event, "fatal")) {
        free(c->fatal);
        c->fatal = xstrdup(ev.reason ? ev.reason : "the driver gave up without a reason");
        c->fatal_node = ev.scope && streq(ev.scope, "node");
    } else {
        note(self, "ignoring driver event %.40s", ev.event);
    }
    rm_driver_event_clear(&ev);
}

typedef void line_fn(slot_t *self, const char *line);

/*  Splits data into lines for fn.  Overlong lines are cut into pieces
    (keep_long) or dropped.  Stops if fn replaced the child (and so lb). */
static void linebuf_feed(slot_t *self, linebuf_t *lb, const char *data, size_t len, size_t max,
                         bool keep_long, line_fn *fn)
{
    unsigned gen = self->child.gen;
    for (size_t i = 0; i < len && self->child.gen == gen; i++) {
        if (!lb->data && !(lb->data = malloc(max)))
            return;
        bool full = lb->len + 1 >= max;
        if (data[i] != '\n' && !full) {
            if (!lb->dropping)
                lb->data[lb->len++] = data[i];
            continue;
        }
        if (full && !keep_long && data[i] != '\n') {
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
        if (!drop)
            fn(self, lb->data);
    }
}

/*  Reads what is there from one of the child's pipes.  Returns true if more
    may follow now (stopped after a batch), false on EAGAIN or EOF. */
static bool child_read(slot_t *self, bool results)
{
    child_t *c = &self->child;
    unsigned gen = c->gen;
    char buf[16384];
    for (int i = 0; i < 64; i++) {
        int fd = results ? c->res_fd : c->out_fd;
        if (c->gen != gen || fd < 0)
            return false;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return false;
        if (n <= 0) {
            close_fd(results ? &c->res_fd : &c->out_fd);
            return false;
        }
        if (results) {
            linebuf_feed(self, &c->res, buf, (size_t)n, RESULT_LINE_MAX, false, result_line);
        } else {
            write_all(self->task ? self->log_fd : -1, buf, (size_t)n);
            linebuf_feed(self, &c->out, buf, (size_t)n, OUTPUT_LINE_MAX, true, output_line);
        }
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/*  Blender ending, by itself or by a timer                                  */

/*  Blender died before the driver was ready. */
static void startup_failed(slot_t *self, const char *why, const char *read_error, bool oneshot)
{
    task_t *t = self->task;
    char *reason = NULL;
    if (read_error) {
        reason = zsys_sprintf("cannot read %s: %s", t->blend, read_error);
        task_finish(self, "TASK_FAILED", reason ? reason : "cannot read the .blend", true);
    } else if (!oneshot) {
        note(self,
             "persistent Blender did not start (%s); falling back to one Blender per task "
             "(--frames) for job %s",
             why, t->job_id);
        free(self->oneshot_key);
        self->oneshot_key = xstrdup(t->key);
        child_start(self);
    } else {
        reason = zsys_sprintf("Blender did not start: %s", why);
        task_finish(self, "TASK_FAILED", reason ? reason : why, false);
    }
    zstr_free(&reason);
}

/*  The child has been reaped and its pipes drained. */
static void child_exited(slot_t *self, int status)
{
    child_t *c = &self->child;
    char why[RM_ERR_MSG_MAX];
    describe_status(status, why, sizeof why);
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (c->last_error[0] && !clean)
        snprintf(why + strlen(why), sizeof why - strlen(why), "; last error: %s", c->last_error);
    child_state_t state = c->state;
    bool oneshot = c->oneshot, fatal_node = c->fatal_node;
    char *fatal = c->fatal, *read_error = c->read_error;
    c->fatal = c->read_error = NULL;
    child_clear(c);
    if (!self->task || state == CHILD_QUITTING) {
        /* an idle or finished Blender: nothing was lost */
    } else if (fatal) {
        task_finish(self, "TASK_FAILED", fatal, !fatal_node);
    } else if (state == CHILD_STARTING) {
        startup_failed(self, why, read_error, oneshot);
    } else {
        if (self->frame_sent) {
            send_frame_failed(self, why);
            frame_advance(self);
        }
        if (self->task)
            child_start(self); /* the rest of the task in a fresh Blender */
    }
    free(fatal);
    free(read_error);
}

/*  Reaps the child if it has exited, after reading what it left in the
    pipes (its last events come before its exit). */
static void slot_reap(slot_t *self)
{
    child_t *c = &self->child;
    int status = 0;
    if (c->pid <= 0 || c->exited)
        return;
    pid_t r = waitpid(c->pid, &status, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR))
        return;
    if (r < 0)
        status = 255 << 8; /* ECHILD: not ours any more; treat as a failure */
    c->exited = true;
    unsigned gen = c->gen;
    while (c->gen == gen && child_read(self, true))
        ;
    while (c->gen == gen && child_read(self, false))
        ;
    if (c->gen == gen)
        child_exited(self, status);
}

static void startup_timeout(slot_t *self)
{
    bool oneshot = self->child.oneshot;
    char why[96];
    snprintf(why, sizeof why, "the driver was not ready within %d s", startup_limit(self, oneshot));
    child_kill(&self->child);
    if (self->task)
        startup_failed(self, why, NULL, oneshot);
}

static void progress_tick(slot_t *self, int64_t now)
{
    int percent = self->percent;
    if (self->eta_total > 0) {
        int64_t est = (self->eta_elapsed + now - self->eta_at) * 99 / self->eta_total;
        percent = imax(percent, (int)(est > 99 ? 99 : est));
    }
    self->percent = percent;
    if (percent > self->sent_percent && now - self->sent_ms >= PROGRESS_INTERVAL_MS) {
        send_progress(self, percent);
        self->sent_percent = percent;
        self->sent_ms = now;
    }
}

static void slot_timers(slot_t *self)
{
    child_t *c = &self->child;
    int64_t now = zclock_mono();
    if (c->pid > 0 && !c->exited && c->deadline && now >= c->deadline) {
        if (c->state == CHILD_STARTING)
            startup_timeout(self);
        else if (self->task && self->frame_sent)
            frame_timeout(self);
        else
            c->deadline = 0;
    }
    if (self->task && self->frame_sent)
        progress_tick(self, zclock_mono());
}

/* ------------------------------------------------------------------------ */
/*  Commands from the parent                                                 */

static char *task_key(const task_t *t, const struct stat *st)
{
    char *settings = settings_json(t, false);
    char *key = NULL;
    if (settings)
        key = zsys_sprintf("%s\n%s\n%ju:%ju:%jd.%09ld:%jd\n%s\n%" PRIu64 "\n%s", t->job_id,
                           t->blend, (uintmax_t)st->st_dev, (uintmax_t)st->st_ino,
                           (intmax_t)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec,
                           (intmax_t)st->st_size, t->project_dir, t->allow_scripts, settings);
    free(settings);
    return key;
}

/*  Checks what Blender will need, then reuses the loaded Blender if it holds
    the same job, or starts one. */
static void task_begin(slot_t *self, task_t *t)
{
    child_t *c = &self->child;
    rm_err_t err;
    rm_err_clear(&err);
    struct stat st;
    self->task = t;
    self->next = 0;
    self->frame_sent = false;
    self->used_oneshot = false;
    if (!self->driver)
        rm_err_set(&err, RM_ENOTFOUND, "%s", self->driver_error);
    else if (stat(t->blend, &st) != 0)
        rm_err_set(&err, rm_err_from_errno(errno), "cannot open %s: %s", t->blend, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rm_err_set(&err, RM_EINVAL, "%s is not a file", t->blend);
    else if (make_dirs(t->out_dir, &err) == 0 && (self->log_fd = open_log(t->log_path, &err)) >= 0)
        t->key = task_key(t, &st);
    off_t log_end = self->log_fd >= 0 ? lseek(self->log_fd, 0, SEEK_END) : 0;
    self->log_from = log_end > 0 ? (uint64_t)log_end : 0;
    if (err.code == RM_OK && !(t->real_out = realpath(t->out_dir, NULL)))
        rm_err_set(&err, rm_err_from_errno(errno), "cannot resolve %s: %s", t->out_dir,
                   strerror(errno));
    if (err.code == RM_OK && !t->key)
        rm_err_set(&err, RM_ENOMEM, "out of memory");
    if (err.code != RM_OK) {
        task_finish(self, "TASK_FAILED", err.msg, false);
    } else if (c->state == CHILD_READY && !c->oneshot && !c->exited && streq(c->key, t->key)) {
        note(self, "job %s: %zu frame(s) in the loaded Blender pid %d", t->job_id, t->frame_count,
             c->render_pid);
        frame_dispatch(self);
    } else {
        child_start(self);
    }
}

static void on_render(slot_t *self, zmsg_t *msg)
{
    char *job = NULL;
    task_t *t = rm_slot_task_decode(msg, &job);
    if (!t) {
        rm_slot_send_task_failed(self->pipe, job, "malformed RENDER message", false);
    } else if (self->task) {
        char *why = zsys_sprintf("slot %d is busy with job %s", self->index, self->task->job_id);
        rm_slot_send_task_failed(self->pipe, t->job_id, why ? why : "slot busy", false);
        zstr_free(&why);
        rm_slot_task_destroy(&t);
    } else {
        task_begin(self, t);
    }
    free(job);
}

static void on_cancel(slot_t *self, const char *job)
{
    child_t *c = &self->child;
    if (self->task && streq(self->task->job_id, job)) {
        child_kill(c);
        task_finish(self, "TASK_CANCELED", "canceled", false);
    } else if (c->pid > 0 && c->job_id && streq(c->job_id, job)) {
        child_kill(c); /* an idle Blender still holding the canceled job */
    }
}

static void on_release(slot_t *self)
{
    child_t *c = &self->child;
    if (!self->task && c->state == CHILD_READY && !c->exited) {
        child_send(c, "{\"cmd\":\"quit\"}\n");
        c->state = CHILD_QUITTING;
    }
}

static void slot_command(slot_t *self)
{
    zmsg_t *msg = zmsg_recv(self->pipe);
    char *cmd = msg ? zmsg_popstr(msg) : NULL;
    if (!cmd) {
        /* interrupted: nothing to do */
    } else if (streq(cmd, "$TERM")) {
        self->terminated = true;
    } else if (streq(cmd, "RENDER")) {
        on_render(self, msg);
    } else if (streq(cmd, "CANCEL")) {
        char *job = zmsg_popstr(msg);
        on_cancel(self, job ? job : "");
        free(job);
    } else if (streq(cmd, "RELEASE")) {
        on_release(self);
    } else {
        zsys_warning("slot %d: unknown command %.40s", self->index, cmd);
    }
    free(cmd);
    zmsg_destroy(&msg);
}

/* ------------------------------------------------------------------------ */
/*  The actor                                                                */

static void env_free(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}

/*  Slot dirs of meshd processes that died without cleaning up:
    rendermesh-slotN-PID-XXXXXX where PID no longer exists. */
static void purge_stale_tmpdirs(const char *root)
{
    DIR *dir = opendir(root);
    struct dirent *entry;
    while (dir && (entry = readdir(dir))) {
        const char *dash = strncmp(entry->d_name, "rendermesh-slot", 15) == 0
                               ? strchr(entry->d_name + 15, '-')
                               : NULL;
        uint64_t pid;
        char *end;
        if (!dash || !rm_slot_parse_u64_prefix(dash + 1, &pid, &end) || *end != '-' || pid == 0 ||
            pid > INT32_MAX || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char *path = zsys_sprintf("%s/%s", root, entry->d_name);
        if (path) {
            remove_tree(path, "", 0);
            rmdir(path);
        }
        zstr_free(&path);
    }
    if (dir)
        closedir(dir);
}

/*  A private TMPDIR for the slot's Blenders, and the environment naming it. */
static void slot_tmpdir(slot_t *self)
{
    const char *root = getenv("TMPDIR");
    root = root && *root ? root : "/tmp";
    purge_stale_tmpdirs(root);
    char *dir = zsys_sprintf("%s/rendermesh-slot%d-%d-XXXXXX", root, self->index, (int)getpid());
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = dir && mkdtemp(dir) ? calloc(n + 2, sizeof *env) : NULL;
    size_t j = 0;
    for (size_t i = 0; env && i < n; i++)
        if (strncmp(environ[i], "TMPDIR=", 7) != 0)
            env[j++] = xstrdup(environ[i]);
    if (env)
        env[j] = zsys_sprintf("TMPDIR=%s", dir);
    if (!env || !env[j]) {
        zsys_warning("slot %d: no private TMPDIR (%s); Blender's temp dirs may pile up",
                     self->index, strerror(errno));
        zstr_free(&dir);
        env_free(env);
        return;
    }
    self->tmpdir = dir;
    self->env = env;
    self->child.tmpdir = dir;
}

static slot_t *slot_new(zsock_t *pipe, const rm_slot_config_t *cfg)
{
    slot_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->pipe = pipe;
    self->blender = xstrdup(cfg->blender);
    self->index = cfg->index;
    self->threads = cfg->threads;
    self->startup_timeout_s =
        cfg->startup_timeout_s > 0 ? cfg->startup_timeout_s : STARTUP_TIMEOUT_S;
    self->log_fd = -1;
    self->child.in_fd = self->child.out_fd = self->child.res_fd = -1;
    slot_tmpdir(self);
    char path[4096];
    rm_err_t err;
    if (cfg->driver && *cfg->driver)
        self->driver = xstrdup(cfg->driver);
    else if (rm_blender_driver_path(path, sizeof path, &err) == 0)
        self->driver = xstrdup(path);
    else
        snprintf(self->driver_error, sizeof self->driver_error, "%s", err.msg);
    return self;
}

static void slot_destroy(slot_t **self_p)
{
    slot_t *self = *self_p;
    if (!self)
        return;
    child_kill(&self->child);
    if (self->log_fd >= 0)
        close(self->log_fd);
    rm_slot_task_destroy(&self->task);
    free(self->blender);
    free(self->driver);
    free(self->oneshot_key);
    if (self->tmpdir) {
        remove_tree(self->tmpdir, "", 0);
        rmdir(self->tmpdir);
    }
    zstr_free(&self->tmpdir);
    env_free(self->env);
    free(self);
    *self_p = NULL;
}

static long slot_timeout(const slot_t *self)
{
    const child_t *c = &self->child;
    if (c->pid <= 0)
        return -1;
    int64_t t = c->out_fd < 0 && c->res_fd < 0 ? 20 : 1000; /* pipes closed: exit is near */
    if (c->deadline)
        t = i64min(t, imax(0, (int)i64min(c->deadline - zclock_mono(), INT32_MAX)));
    if (self->task && self->frame_sent)
        t = i64min(t, PROGRESS_INTERVAL_MS);
    return (long)t;
}

static void slot_poll(slot_t *self)
{
    child_t *c = &self->child;
    zmq_pollitem_t items[3] = {{zsock_resolve(self->pipe), 0, ZMQ_POLLIN, 0}};
    int n = 1, out_i = -1, res_i = -1;
    if (c->out_fd >= 0) {
        items[n] = (zmq_pollitem_t){NULL, c->out_fd, ZMQ_POLLIN, 0};
        out_i = n++;
    }
    if (c->res_fd >= 0) {
        items[n] = (zmq_pollitem_t){NULL, c->res_fd, ZMQ_POLLIN, 0};
        res_i = n++;
    }
    if (zmq_poll(items, n, slot_timeout(self)) < 0) {
        self->terminated = errno == ETERM;
        return;
    }
    unsigned gen = c->gen;
    if (items[0].revents & ZMQ_POLLIN)
        slot_command(self);
    if (out_i >= 0 && c->gen == gen && items[out_i].revents)
        child_read(self, false);
    if (res_i >= 0 && c->gen == gen && items[res_i].revents)
        child_read(self, true);
    slot_reap(self);
    slot_timers(self);
}

static void slot_actor(zsock_t *pipe, void *args)
{
    slot_t *self = slot_new(pipe, args);
    zsock_signal(pipe, 0);
    while (self && !self->terminated)
        slot_poll(self);
    slot_destroy(&self);
}

zactor_t *rm_slot_new(const rm_slot_config_t *config)
{
    if (!config || !config->blender || !*config->blender)
        return NULL;
    return zactor_new(slot_actor, (void *)config);
}

/* ------------------------------------------------------------------------ */
/*  Probe and driver location                                                */

/*  Runs argv with stdout+stderr captured into out (NUL-terminated), for at
    most timeout_ms.  Returns an errno value from spawning, or 0 with
    *status set (-1 if it had to be killed). */
static int run_capture(char **argv, char *out, size_t size, int timeout_ms, int *status)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return errno;
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
        return rc;
    }
    size_t len = 0;
    int64_t deadline = zclock_mono() + timeout_ms;
    bool timed_out = false;
    while (true) {
        int64_t left = deadline - zclock_mono();
        struct pollfd pfd = {p[0], POLLIN, 0};
        if (left <= 0 || (poll(&pfd, 1, (int)left) == 0)) {
            timed_out = true;
            break;
        }
        char buf[4096];
        ssize_t n = read(p[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t keep = (size_t)n < size - 1 - len ? (size_t)n : size - 1 - len;
        memcpy(out + len, buf, keep);
        len += keep;
    }
    out[len] = '\0';
    close(p[0]);
    if (timed_out) {
        killpg(pid, SIGKILL);
        kill(pid, SIGKILL);
    }
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    if (timed_out)
        *status = -1;
    return 0;
}

int rm_blender_probe(const char *blender, char *version, size_t size, rm_err_t *err)
{
    struct stat st;
    if (!blender || !*blender)
        return rm_err_set(err, RM_EINVAL, "no Blender path given");
    if (strchr(blender, '/') && stat(blender, &st) != 0)
        return rm_err_set(err, RM_EBLENDER, "blender not found at %s", blender);
    char out[8192], why[128];
    int status;
    char *argv[] = {(char *)blender, "--version", NULL};
    int rc = run_capture(argv, out, sizeof out, PROBE_TIMEOUT_MS, &status);
    if (rc == ENOENT)
        return rm_err_set(err, RM_EBLENDER, "blender not found at %s", blender);
    if (rc)
        return rm_err_set(err, RM_EBLENDER, "blender at %s failed: %s", blender, strerror(rc));
    if (status == -1)
        return rm_err_set(err, RM_EBLENDER, "blender at %s failed: no answer to --version in %d s",
                          blender, PROBE_TIMEOUT_MS / 1000);
    const char *line = strncmp(out, "Blender ", 8) == 0 ? out : strstr(out, "\nBlender ");
    line = line && *line == '\n' ? line + 1 : line;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !line) {
        describe_status(status, why, sizeof why);
        out[strcspn(out, "\n")] = '\0';
        return rm_err_set(err, RM_EBLENDER, "blender at %s failed: %s%s%.200s", blender,
                          WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "no version printed"
                                                                        : why,
                          *out ? ": " : "", out);
    }
    snprintf(version, size, "%.*s", (int)strcspn(line, "\r\n"), line);
    return 0;
}

/*  Cycles reports its build options itself (bpy.app.build_options has no
    OpenImageDenoise field): ask the Blender that will render. */
#define CAPS_EXPR                                                                                  \
    "import _cycles; print('RM_CAPS', 'denoise' if getattr(_cycles, "                              \
    "'with_openimagedenoise', False) else '')"

int rm_blender_caps(const char *blender, char *caps, size_t size, rm_err_t *err)
{
    char out[16384];
    int status;
    caps[0] = '\0';
    char *argv[] = {(char *)blender, "-b", "--factory-startup", "--python-expr", CAPS_EXPR, NULL};
    int rc = run_capture(argv, out, sizeof out, PROBE_TIMEOUT_MS, &status);
    if (rc)
        return rm_err_set(err, RM_EBLENDER, "blender at %s failed: %s", blender, strerror(rc));
    const char *line = strncmp(out, "RM_CAPS", 7) == 0 ? out : strstr(out, "\nRM_CAPS");
    if (status == -1 || !line)
        return rm_err_set(err, RM_EBLENDER, "blender at %s did not say what it can do%s", blender,
                          status == -1 ? " in time" : "");
    line += line[0] == '\n' ? 8 : 7;
    line += strspn(line, " ");
    snprintf(caps, size, "%.*s", (int)strcspn(line, "\r\n"), line);
    return 0;
}

int rm_blender_driver_path(char *path, size_t size, rm_err_t *err)
{
    char exe[4096], beside[4200];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    snprintf(beside, sizeof beside, "%s/../share/rendermesh/blender_driver.py", exe);
    const char *candidates[] = {
#ifdef RM_DRIVER_SOURCE_PATH
        RM_DRIVER_SOURCE_PATH,
#endif
#ifdef RM_DRIVER_INSTALL_PATH
        RM_DRIVER_INSTALL_PATH,
#endif
        beside};
    size_t count = sizeof candidates / sizeof *candidates;
    for (size_t i = 0; i < count; i++) {
        if (access(candidates[i], R_OK) == 0 && strlen(candidates[i]) < size) {
            snprintf(path, size, "%s", candidates[i]);
            return 0;
        }
    }
    return rm_err_set(err, RM_ENOTFOUND, "blender_driver.py not found (looked in %s%s%s)",
                      candidates[0], count > 1 ? " and " : "",
                      count > 1 ? candidates[count - 1] : "");
}
