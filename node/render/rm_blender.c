/*  rm_blender: the render slot actor; rm_slot_msg.h has the pipe protocol.

    One actor thread per slot owns at most one Blender child (rm_subprocess)
    and polls, with zmq_poll, its pipe plus the child's two pipes:
    stdout+stderr (copied to the task log and scanned for progress and
    "Error:" lines, rm_blender_output) and the driver's result fd (JSON
    lines, rm_driver_event).  Commands go to the driver's stdin.  Children
    are reaped once their pipes close, or at once after SIGKILL.

    Around it: rm_blender_task checks a task and opens its log,
    rm_blender_args makes what the slot tells Blender, rm_blender_tmpdir
    the TMPDIR it gives it, rm_blender_probe finds the driver. */
#include "rm_blender.h"
#include "rm_log.h"
#include "rm_logs.h"

#include "rm_blender_args.h"
#include "rm_blender_output.h"
#include "rm_blender_probe.h"
#include "rm_blender_task.h"
#include "rm_blender_tmpdir.h"
#include "rm_sandbox.h"
#include "rm_driver_event.h"
#include "rm_fs.h"
#include "rm_subprocess.h"
#include "rm_text.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define STARTUP_TIMEOUT_S 120                    /* default for rm_blender_config_t */
#define PROGRESS_INTERVAL_MS 250                 /* PROGRESS at most 4 a second */
#define OUTPUT_LINE_MAX 4096                     /* longer Blender lines are scanned in pieces */
#define RESULT_LINE_MAX RM_DRIVER_EVENT_LINE_MAX /* longer driver lines are dropped */

/* ------------------------------------------------------------------------ */
/*  Small helpers                                                            */

static char *dup_or_empty(const char *s)
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

static void log_write(int fd, const char *data, size_t len)
{
    if (fd >= 0)
        rm_fs_write_all(fd, data, len); /* a full disk loses log lines, not frames */
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
    rm_subprocess_t *proc; /* NULL = no Blender */
    int render_pid;        /* as the driver reports it (a wrapper may fork) */
    unsigned gen;          /* bumped per process, to spot a child replaced mid-loop */
    child_state_t state;
    bool oneshot;
    size_t oneshot_end; /* one-shot: frames[next..oneshot_end) were given */
    char *key, *job_id;
    char *fatal;     /* the driver's fatal reason */
    bool fatal_node; /* ... about this node, not the job */
    char *read_error;
    char last_error[300]; /* last "Error: " line, to explain a crash */
    int64_t deadline;     /* monotonic ms; 0 = none */
} child_t;

typedef struct {
    zsock_t *pipe;
    char *blender, *driver;
    char driver_error[RM_ERR_MSG_MAX];
    bool sandbox;
    char *node_home;
    int index, threads, startup_timeout_s;
    bool terminated;
    child_t child;
    task_t *task;
    size_t next;     /* frames[next] is the first not yet reported */
    bool frame_sent; /* frames[next] is being rendered */
    int log_fd;
    uint64_t log_from;                     /* the task log's size at the previous frame's end */
    char *oneshot_key;                     /* this job failed to serve: go straight to one-shot */
    rm_blender_tmpdir_t *tmpdir;           /* Blender's private TMPDIR; NULL = the usual one */
    bool used_oneshot;                     /* some of the current task ran in one-shot mode */
    rm_blender_output_progress_t progress; /* of frames[next] */
    int sent_percent;
    int64_t sent_ms;
} slot_t;

/*  True once the child was reaped: its pid is no longer ours to use. */
static bool child_reaped(const child_t *c)
{
    return c->proc && rm_subprocess_reaped(c->proc);
}

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
        rm_log_warning("slot %d: frame %" PRIu64 ": no log of its own: %s", self->index, frame,
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
    rm_log_info("slot %d: %s", self->index, text);
    if (self->log_fd >= 0) {
        char *safe = rm_text_escaped(text, false);
        char *line = safe ? zsys_sprintf("rendermesh: slot %d: %s\n", self->index, safe) : NULL;
        free(safe);
        if (line)
            log_write(self->log_fd, line, strlen(line));
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

/*  Ends the child: kills it unless it was reaped, empties the TMPDIR it
    used, and forgets it. */
static void child_end(slot_t *self)
{
    child_t *c = &self->child;
    if (c->proc) {
        rm_subprocess_destroy(&c->proc);
        if (self->tmpdir)
            rm_blender_tmpdir_purge(self->tmpdir);
    }
    free(c->key);
    free(c->job_id);
    free(c->fatal);
    free(c->read_error);
    unsigned gen = c->gen;
    memset(c, 0, sizeof *c);
    c->gen = gen + 1;
}

static void child_send(child_t *c, const char *line)
{
    if (c->proc)
        rm_subprocess_send(c->proc, line); /* if Blender is gone, its exit tells */
}

/*  Spawns Blender for the current task, from frames[next]. */
static int child_spawn(slot_t *self, bool oneshot, rm_err_t *err)
{
    child_t *c = &self->child;
    const task_t *t = self->task;
    rm_blender_args_t *args =
        rm_blender_args_new(self->blender, self->driver, self->threads, t, oneshot, self->next);
    if (!args)
        return rm_err_set(err, RM_ENOMEM, "%s", strerror(ENOMEM));
    rm_sandbox_t *sandbox = NULL;
    if (self->sandbox) {
        /* It reads its project, writes its output folder (made by
           rm_blender_task_prepare) and the slot's TMPDIR. */
        rm_sandbox_paths_t paths = {.driver = self->driver,
                                    .node_home = self->node_home,
                                    .project_dir = t->project_dir,
                                    .out_dir = t->out_dir,
                                    .tmp_dir =
                                        self->tmpdir ? rm_blender_tmpdir_path(self->tmpdir) : NULL};
        if (!(sandbox = rm_sandbox_new(&paths, rm_blender_args_argv(args), err))) {
            rm_blender_args_destroy(&args);
            return -1;
        }
    }
    rm_subprocess_spec_t spec = {.argv = sandbox ? rm_sandbox_argv(sandbox)
                                                 : rm_blender_args_argv(args),
                                 .cwd = t->project_dir,
                                 .env = self->tmpdir ? rm_blender_tmpdir_env(self->tmpdir) : NULL,
                                 .result_fd = RM_BLENDER_ARGS_RESULT_FD,
                                 .output_line_max = OUTPUT_LINE_MAX,
                                 .result_line_max = RESULT_LINE_MAX};
    c->proc = rm_subprocess_new(&spec, err);
    c->oneshot_end = rm_blender_args_end(args);
    rm_blender_args_destroy(&args);
    rm_sandbox_destroy(&sandbox);
    return c->proc ? 0 : -1;
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
    if (c->proc)
        child_end(self);
    bool oneshot = self->oneshot_key && streq(self->oneshot_key, t->key);
    rm_err_t err;
    if (child_spawn(self, oneshot, &err) != 0) {
        rm_err_prefix(&err, "cannot start Blender %s in %s: ", self->blender,
                      *t->project_dir ? t->project_dir : ".");
        task_finish(self, "TASK_FAILED", err.msg, false);
        return;
    }
    c->state = CHILD_STARTING;
    c->oneshot = oneshot;
    self->used_oneshot |= oneshot;
    c->render_pid = (int)rm_subprocess_pid(c->proc);
    c->key = dup_or_empty(t->key);
    c->job_id = dup_or_empty(t->job_id);
    c->deadline = zclock_mono() + (int64_t)startup_limit(self, oneshot) * 1000;
    note(self, "started Blender pid %d (%s) for job %s", c->render_pid,
         oneshot ? "one-shot" : "persistent", t->job_id);
}

/* ------------------------------------------------------------------------ */
/*  Frames                                                                   */

static void frame_begin(slot_t *self)
{
    uint64_t timeout = self->task->frame_timeout_s;
    self->frame_sent = true;
    self->progress = (rm_blender_output_progress_t){0};
    self->sent_percent = 0;
    self->child.deadline = timeout ? zclock_mono() + (int64_t)timeout * 1000 : 0;
}

static void frame_dispatch(slot_t *self)
{
    char *cmd = rm_blender_args_render(self->task->frames[self->next], self->task->out_dir);
    if (!cmd)
        return;
    child_send(&self->child, cmd);
    free(cmd);
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
        if (c->oneshot && c->proc)
            c->state = CHILD_QUITTING; /* exits by itself after its last frame */
        return;
    }
    if (c->state != CHILD_READY || child_reaped(c))
        return; /* the caller replaces it */
    if (!c->oneshot)
        frame_dispatch(self);
    else if (self->next < c->oneshot_end)
        frame_begin(self);
    else
        child_start(self); /* the next batch of frames */
}

/*  The driver says frames[next] is done: report it, or fail it if its
    output is not where it must be. */
static void frame_finished(slot_t *self, const rm_driver_event_t *ev)
{
    char *real = ev->file ? realpath(ev->file, NULL) : NULL;
    /* A driver of before the frame folders reports the file alone. */
    char *dir = ev->dir ? realpath(ev->dir, NULL) : NULL;
    if (!ev->dir && real) {
        dir = strdup(real);
        if (dir)
            *strrchr(dir, '/') = '\0';
    }
    char why[RM_ERR_MSG_MAX];
    rm_blender_output_check(ev->file, real, dir, self->task->real_out, why, sizeof why);
    if (why[0]) {
        send_frame_failed(self, why);
    } else {
        rm_slot_output_t out = {.file = real,
                                .dir = dir,
                                .files = ev->files ? ev->files : strrchr(real, '/') + 1,
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
    child_end(self);
    send_frame_failed(self, why);
    frame_advance(self);
    if (self->task)
        child_start(self);
}

/* ------------------------------------------------------------------------ */
/*  Reading Blender's output and the driver's events                         */

static void output_line(slot_t *self, const char *line)
{
    child_t *c = &self->child;
    if (strncmp(line, "Error: ", 7) == 0) {
        snprintf(c->last_error, sizeof c->last_error, "%s", line + 7);
        if (c->state == CHILD_STARTING && !c->read_error && self->task)
            c->read_error = rm_blender_output_read_error(line + 7, self->task->blend);
    }
    if (self->task && self->frame_sent)
        rm_blender_output_scan(&self->progress, line, zclock_mono());
}

static void on_ready(slot_t *self, const rm_driver_event_t *ev)
{
    child_t *c = &self->child;
    if (c->state != CHILD_STARTING)
        return;
    c->state = CHILD_READY;
    c->deadline = 0;
    /* In a sandbox the driver's pid is its namespace's: keep bwrap's. */
    if (!self->sandbox && ev->pid > 0 && ev->pid <= INT32_MAX)
        c->render_pid = (int)ev->pid;
    if (!self->task || child_reaped(c))
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
        frame_finished(self, ev);
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
        c->fatal = dup_or_empty(ev.reason ? ev.reason : "the driver gave up without a reason");
        c->fatal_node = ev.scope && streq(ev.scope, "node");
    } else {
        note(self, "ignoring driver event %.40s", ev.event);
    }
    rm_driver_event_clear(&ev);
}

/*  rm_subprocess callbacks: a line callback stops the read when the line
    replaced the child (a frame event may start the next Blender). */
static bool on_output_line(void *arg, const char *line)
{
    slot_t *self = arg;
    unsigned gen = self->child.gen;
    output_line(self, line);
    return self->child.gen == gen;
}

static bool on_result_line(void *arg, const char *line)
{
    slot_t *self = arg;
    unsigned gen = self->child.gen;
    result_line(self, line);
    return self->child.gen == gen;
}

static void on_output_chunk(void *arg, const char *data, size_t len)
{
    slot_t *self = arg;
    log_write(self->task ? self->log_fd : -1, data, len);
}

/*  Reads what is there from one of the child's pipes.  Returns true if more
    may follow now (stopped after a batch), false on EAGAIN or EOF. */
static bool child_read(slot_t *self, rm_subprocess_stream_t stream)
{
    rm_subprocess_t *proc = self->child.proc;
    if (!proc)
        return false;
    if (stream == RM_SUBPROCESS_RESULT)
        return rm_subprocess_read(proc, stream, NULL, on_result_line, self);
    return rm_subprocess_read(proc, stream, on_output_chunk, on_output_line, self);
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
        self->oneshot_key = dup_or_empty(t->key);
        child_start(self);
    } else {
        reason = zsys_sprintf("Blender did not start: %s", why);
        task_finish(self, "TASK_FAILED", reason ? reason : why, false);
    }
    zstr_free(&reason);
}

/*  "Blender crashed with signal 11 (...)", with its last "Error:" line
    unless it exited cleanly. */
static void exit_reason(const child_t *c, int status, char *why, size_t size)
{
    rm_subprocess_describe(status, "Blender", why, size);
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (c->last_error[0] && !clean)
        snprintf(why + strlen(why), size - strlen(why), "; last error: %s", c->last_error);
}

/*  The child has been reaped and its pipes drained. */
static void child_exited(slot_t *self, int status)
{
    child_t *c = &self->child;
    char why[RM_ERR_MSG_MAX];
    exit_reason(c, status, why, sizeof why);
    child_state_t state = c->state;
    bool oneshot = c->oneshot, fatal_node = c->fatal_node;
    char *fatal = c->fatal, *read_error = c->read_error;
    c->fatal = c->read_error = NULL;
    child_end(self);
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
    if (!c->proc || !rm_subprocess_reap(c->proc, &status))
        return;
    unsigned gen = c->gen;
    while (c->gen == gen && child_read(self, RM_SUBPROCESS_RESULT))
        ;
    while (c->gen == gen && child_read(self, RM_SUBPROCESS_OUTPUT))
        ;
    if (c->gen == gen)
        child_exited(self, status);
}

static void startup_timeout(slot_t *self)
{
    bool oneshot = self->child.oneshot;
    char why[96];
    snprintf(why, sizeof why, "the driver was not ready within %d s", startup_limit(self, oneshot));
    child_end(self);
    if (self->task)
        startup_failed(self, why, NULL, oneshot);
}

static void progress_tick(slot_t *self, int64_t now)
{
    int percent = rm_blender_output_percent(&self->progress, now);
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
    if (c->proc && !child_reaped(c) && c->deadline && now >= c->deadline) {
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

/*  Checks what Blender will need for t, opens the task log and sets t's
    key and real_out. */
static int task_prepare(slot_t *self, task_t *t, rm_err_t *err)
{
    if (!self->driver)
        return rm_err_set(err, RM_ENOTFOUND, "%s", self->driver_error);
    return rm_blender_task_prepare(t, &self->log_fd, &self->log_from, err);
}

/*  Reuses the loaded Blender if it holds the same job, or starts one. */
static void task_begin(slot_t *self, task_t *t)
{
    child_t *c = &self->child;
    rm_err_t err;
    rm_err_clear(&err);
    self->task = t;
    self->next = 0;
    self->frame_sent = false;
    self->used_oneshot = false;
    self->log_from = 0;
    if (task_prepare(self, t, &err) != 0) {
        task_finish(self, "TASK_FAILED", err.msg, false);
    } else if (c->state == CHILD_READY && !c->oneshot && !child_reaped(c) &&
               streq(c->key, t->key)) {
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
        child_end(self);
        task_finish(self, "TASK_CANCELED", "canceled", false);
    } else if (c->proc && c->job_id && streq(c->job_id, job)) {
        child_end(self); /* an idle Blender still holding the canceled job */
    }
}

static void on_release(slot_t *self)
{
    child_t *c = &self->child;
    if (!self->task && c->state == CHILD_READY && !child_reaped(c)) {
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
        rm_log_warning("slot %d: unknown command %.40s", self->index, cmd);
    }
    free(cmd);
    zmsg_destroy(&msg);
}

/* ------------------------------------------------------------------------ */
/*  The actor                                                                */

static slot_t *slot_new(zsock_t *pipe, const rm_blender_config_t *cfg)
{
    slot_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->pipe = pipe;
    self->blender = dup_or_empty(cfg->blender);
    self->index = cfg->index;
    self->threads = cfg->threads;
    self->sandbox = cfg->sandbox;
    self->node_home = dup_or_empty(cfg->node_home);
    self->startup_timeout_s =
        cfg->startup_timeout_s > 0 ? cfg->startup_timeout_s : STARTUP_TIMEOUT_S;
    self->log_fd = -1;
    rm_err_t err;
    if (!(self->tmpdir = rm_blender_tmpdir_new(self->index, &err)))
        rm_log_warning("slot %d: no private TMPDIR (%s); Blender's temp dirs may pile up",
                       self->index, err.msg);
    char path[4096];
    if (cfg->driver && *cfg->driver)
        self->driver = dup_or_empty(cfg->driver);
    else if (rm_blender_probe_driver(path, sizeof path, &err) == 0)
        self->driver = dup_or_empty(path);
    else
        snprintf(self->driver_error, sizeof self->driver_error, "%s", err.msg);
    return self;
}

static void slot_destroy(slot_t **self_p)
{
    slot_t *self = *self_p;
    if (!self)
        return;
    child_end(self);
    if (self->log_fd >= 0)
        close(self->log_fd);
    rm_slot_task_destroy(&self->task);
    free(self->blender);
    free(self->driver);
    free(self->node_home);
    free(self->oneshot_key);
    rm_blender_tmpdir_destroy(&self->tmpdir);
    free(self);
    *self_p = NULL;
}

static long slot_timeout(const slot_t *self)
{
    const child_t *c = &self->child;
    if (!c->proc)
        return -1;
    bool closed = rm_subprocess_fd(c->proc, RM_SUBPROCESS_OUTPUT) < 0 &&
                  rm_subprocess_fd(c->proc, RM_SUBPROCESS_RESULT) < 0;
    int64_t t = closed ? 20 : 1000; /* pipes closed: exit is near */
    if (c->deadline)
        t = i64min(t, imax(0, (int)i64min(c->deadline - zclock_mono(), INT32_MAX)));
    if (self->task && self->frame_sent)
        t = i64min(t, PROGRESS_INTERVAL_MS);
    return (long)t;
}

/*  Adds the child's open pipe for stream to items; its index, or -1. */
static int poll_add(zmq_pollitem_t *items, int *n, const child_t *c, rm_subprocess_stream_t stream)
{
    int fd = c->proc ? rm_subprocess_fd(c->proc, stream) : -1;
    if (fd < 0)
        return -1;
    items[*n] = (zmq_pollitem_t){NULL, fd, ZMQ_POLLIN, 0};
    return (*n)++;
}

static void slot_poll(slot_t *self)
{
    child_t *c = &self->child;
    zmq_pollitem_t items[3] = {{zsock_resolve(self->pipe), 0, ZMQ_POLLIN, 0}};
    int n = 1;
    int out_i = poll_add(items, &n, c, RM_SUBPROCESS_OUTPUT);
    int res_i = poll_add(items, &n, c, RM_SUBPROCESS_RESULT);
    if (zmq_poll(items, n, slot_timeout(self)) < 0) {
        self->terminated = errno == ETERM;
        return;
    }
    unsigned gen = c->gen;
    if (items[0].revents & ZMQ_POLLIN)
        slot_command(self);
    if (out_i >= 0 && c->gen == gen && items[out_i].revents)
        child_read(self, RM_SUBPROCESS_OUTPUT);
    if (res_i >= 0 && c->gen == gen && items[res_i].revents)
        child_read(self, RM_SUBPROCESS_RESULT);
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

zactor_t *rm_blender_new(const rm_blender_config_t *config)
{
    if (!config || !config->blender || !*config->blender)
        return NULL;
    return zactor_new(slot_actor, (void *)config);
}
