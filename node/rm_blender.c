/*  rm_blender: the render slot actor; rm_blender.h has the pipe protocol.

    One actor thread per slot owns at most one Blender child and polls, with
    zmq_poll, its pipe plus the child's two pipes: stdout+stderr (copied to
    the task log and scanned for progress and "Error:" lines) and the
    driver's result fd (JSON lines).  Commands go to the driver's stdin, a
    socketpair so that writing to a dead Blender returns EPIPE instead of
    raising SIGPIPE in the whole process.  Children are reaped with
    waitpid(WNOHANG) once their pipes close, or at once after SIGKILL. */
#define _GNU_SOURCE /* posix_spawn_file_actions_addchdir_np */
#include "rm_blender.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#define RENDER_FRAMES 19 /* frames of a RENDER message, command included */

/* ------------------------------------------------------------------------ */
/*  Small helpers                                                            */

static char *xstrdup(const char *s)
{
    return strdup(s ? s : "");
}

/*  A decimal number at the start of s; *end is set after it. */
static bool parse_u64_prefix(const char *s, uint64_t *out, char **end)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, end, 10);
    if (errno)
        return false;
    *out = v;
    return true;
}

/*  A string that is exactly a decimal number. */
static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    return parse_u64_prefix(s, out, &end) && *end == '\0';
}

static int imax(int a, int b)
{
    return a > b ? a : b;
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
/*  JSON: writing settings and commands, reading the driver's flat events.  */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return p;
}

static bool hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return false;
        v = v * 16 + (unsigned)d;
    }
    *out = v;
    return true;
}

static size_t utf8_put(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/*  Decodes \uXXXX (and a following low surrogate) at p (just after the
    'u'); returns the code point and advances *p past the digits. */
static bool json_unicode(const char **p, unsigned *cp)
{
    if (!hex4(*p, cp))
        return false;
    *p += 4;
    unsigned lo;
    if (*cp >= 0xd800 && *cp < 0xdc00 && (*p)[0] == '\\' && (*p)[1] == 'u' && hex4(*p + 2, &lo) &&
        lo >= 0xdc00 && lo < 0xe000) {
        *cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
        *p += 6;
    } else if (*cp >= 0xd800 && *cp < 0xe000) {
        *cp = 0xfffd; /* lone surrogate */
    }
    return *cp != 0; /* NUL would cut the string short */
}

/*  Parses a JSON string at p (on the quote) into a malloc'd UTF-8 string;
    returns the position after it, NULL if malformed. */
static const char *json_string(const char *p, char **out)
{
    if (*p++ != '"')
        return NULL;
    char *buf = malloc(strlen(p) + 1); /* unescaping never grows */
    if (!buf)
        return NULL;
    size_t n = 0;
    while (*p && *p != '"') {
        unsigned char c = (unsigned char)*p++;
        if (c < 0x20)
            break;
        if (c != '\\') {
            buf[n++] = (char)c;
            continue;
        }
        const char *esc = "\"\"\\\\//b\bf\fn\nr\rt\t";
        const char *hit = *p && *p != 'u' ? strchr(esc, *p) : NULL;
        unsigned cp;
        if (hit && (hit - esc) % 2 == 0) {
            buf[n++] = hit[1];
            p++;
        } else if (*p == 'u' && (p++, json_unicode(&p, &cp))) {
            n += utf8_put(buf + n, cp);
        } else {
            break;
        }
    }
    if (*p != '"') {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *out = buf;
    return p + 1;
}

/*  Skips any JSON value; NULL if malformed. */
static const char *json_skip(const char *p)
{
    if (*p == '"') {
        char *s = NULL;
        p = json_string(p, &s);
        free(s);
        return p;
    }
    if (*p == '[' || *p == '{') {
        char close = *p == '[' ? ']' : '}';
        p = json_ws(p + 1);
        while (p && *p != close) {
            if (close == '}') {
                char *key = NULL;
                p = json_string(p, &key);
                free(key);
                if (!p || *(p = json_ws(p)) != ':')
                    return NULL;
                p = json_ws(p + 1);
            }
            p = json_skip(p);
            if (!p)
                return NULL;
            p = json_ws(p);
            if (*p == ',')
                p = json_ws(p + 1);
            else if (*p != close)
                return NULL;
        }
        return p ? p + 1 : NULL;
    }
    const char *start = p;
    while (*p && !strchr(",}] \t\r\n", *p))
        p++;
    return p > start ? p : NULL;
}

/*  One event from the driver (see blender_driver.py). */
typedef struct {
    char *event, *file, *reason, *scope, *tempdir;
    int64_t frame, render_ms, pid;
    bool has_frame;
} drv_event_t;

static void drv_event_clear(drv_event_t *ev)
{
    free(ev->event);
    free(ev->file);
    free(ev->reason);
    free(ev->scope);
    free(ev->tempdir);
    memset(ev, 0, sizeof *ev);
}

static const char *drv_event_field(drv_event_t *ev, const char *key, const char *p)
{
    char **str = streq(key, "event")     ? &ev->event
                 : streq(key, "file")    ? &ev->file
                 : streq(key, "reason")  ? &ev->reason
                 : streq(key, "scope")   ? &ev->scope
                 : streq(key, "tempdir") ? &ev->tempdir
                                         : NULL;
    int64_t *num = streq(key, "frame")       ? &ev->frame
                   : streq(key, "render_ms") ? &ev->render_ms
                   : streq(key, "pid")       ? &ev->pid
                                             : NULL;
    if (str && *p == '"') {
        free(*str);
        *str = NULL;
        return json_string(p, str);
    }
    if (num && (*p == '-' || (*p >= '0' && *p <= '9'))) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno || end == p)
            return NULL;
        *num = v;
        ev->has_frame |= num == &ev->frame;
        return json_skip(p); /* a fraction or exponent, if any */
    }
    return json_skip(p);
}

static bool drv_event_parse(const char *line, drv_event_t *ev)
{
    memset(ev, 0, sizeof *ev);
    const char *p = json_ws(line);
    if (*p++ != '{')
        return false;
    p = json_ws(p);
    while (p && *p != '}') {
        char *key = NULL;
        p = json_string(p, &key);
        if (p && *(p = json_ws(p)) == ':')
            p = drv_event_field(ev, key, json_ws(p + 1));
        else
            p = NULL;
        free(key);
        if (!p)
            break;
        p = json_ws(p);
        if (*p == ',')
            p = json_ws(p + 1);
        else if (*p != '}')
            p = NULL;
    }
    if (!p || !ev->event) {
        drv_event_clear(ev);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/*  Pipe messages                                                            */

static const char *event_names[] = {NULL,           "PROGRESS",    "FRAME_DONE",   "FRAME_FAILED",
                                    "TASK_DONE",    "TASK_FAILED", "TASK_CANCELED"};
static const size_t event_frames[] = {0, 4, 6, 4, 3, 4, 2}; /* command included */

const char *rm_slot_event_name(rm_slot_event_type_t type)
{
    return type >= RM_SLOT_PROGRESS && type <= RM_SLOT_TASK_CANCELED ? event_names[type] : "?";
}

static bool is_abs(const char *path)
{
    return path && path[0] == '/';
}

static int task_validate(const rm_render_task_t *t, rm_err_t *err)
{
    if (!t->job_id || !*t->job_id)
        return rm_err_set(err, RM_EINVAL, "render task without a job id");
    if (!is_abs(t->blend) || !is_abs(t->out_dir) || !is_abs(t->log_path))
        return rm_err_set(err, RM_EINVAL, "job %s: blend, out_dir and log need absolute paths",
                          t->job_id);
    if (t->frame_count == 0 || !t->frames)
        return rm_err_set(err, RM_EINVAL, "job %s: task without frames", t->job_id);
    for (size_t i = 0; i < t->frame_count; i++)
        if (t->frames[i] > RM_BLENDER_MAX_FRAME)
            return rm_err_set(err, RM_EINVAL, "job %s: frame %" PRIu64 " beyond Blender's %d",
                              t->job_id, t->frames[i], RM_BLENDER_MAX_FRAME);
    return 0;
}

static char *frame_list(const uint64_t *frames, size_t count)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f)
        return NULL;
    for (size_t i = 0; i < count; i++)
        fprintf(f, i ? ",%" PRIu64 : "%" PRIu64, frames[i]);
    fclose(f);
    return buf;
}

int rm_slot_render(zactor_t *slot, const rm_render_task_t *t, rm_err_t *err)
{
    if (task_validate(t, err))
        return -1;
    char *frames = frame_list(t->frames, t->frame_count);
    zmsg_t *msg = zmsg_new();
    if (!frames || !msg) {
        free(frames);
        zmsg_destroy(&msg);
        return rm_err_set(err, RM_ENOMEM, "out of memory building a render task");
    }
    const rm_render_settings_t *s = &t->settings;
    const char *strs[] = {"RENDER",  t->job_id,          t->blend,  t->project_dir,
                          t->out_dir, t->log_path,        s->scene,  s->camera,
                          s->engine,  s->device,          s->format};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        zmsg_addstr(msg, strs[i] ? strs[i] : "");
    const uint64_t nums[] = {s->samples, s->percent, s->res_x, s->res_y, s->gpu, t->allow_scripts,
                             t->frame_timeout_s};
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++)
        zmsg_addstrf(msg, "%" PRIu64, nums[i]);
    zmsg_addstr(msg, frames);
    free(frames);
    if (zmsg_send(&msg, slot) != 0) {
        zmsg_destroy(&msg);
        return rm_err_set(err, RM_EIO, "cannot send a task to the render slot");
    }
    return 0;
}

int rm_slot_cancel(zactor_t *slot, const char *job_id)
{
    return zstr_sendx(slot, "CANCEL", job_id ? job_id : "", NULL);
}

int rm_slot_release(zactor_t *slot)
{
    return zstr_send(slot, "RELEASE");
}

void rm_slot_event_clear(rm_slot_event_t *ev)
{
    free(ev->job_id);
    free(ev->file);
    free(ev->reason);
    memset(ev, 0, sizeof *ev);
}

static bool event_fields(rm_slot_event_t *ev, char **f)
{
    uint64_t n;
    switch (ev->type) {
    case RM_SLOT_PROGRESS:
        if (!parse_u64(f[3], &n) || n > 100)
            return false;
        ev->percent = (int)n;
        return parse_u64(f[2], &ev->frame);
    case RM_SLOT_FRAME_DONE:
        if (!parse_u64(f[5], &n) || n > INT32_MAX)
            return false;
        ev->pid = (int)n;
        ev->file = xstrdup(f[3]);
        return parse_u64(f[2], &ev->frame) && parse_u64(f[4], &ev->render_ms);
    case RM_SLOT_FRAME_FAILED:
        ev->reason = xstrdup(f[3]);
        return parse_u64(f[2], &ev->frame);
    case RM_SLOT_TASK_DONE:
        ev->oneshot = streq(f[2], "oneshot");
        return ev->oneshot || streq(f[2], "persistent");
    case RM_SLOT_TASK_FAILED:
        ev->reason = xstrdup(f[2]);
        ev->fatal = streq(f[3], "1");
        return ev->fatal || streq(f[3], "0");
    default:
        return true;
    }
}

int rm_slot_event_decode(zmsg_t **msg_p, rm_slot_event_t *ev, rm_err_t *err)
{
    memset(ev, 0, sizeof *ev);
    zmsg_t *msg = msg_p ? *msg_p : NULL;
    char *f[6] = {0};
    size_t count = msg ? zmsg_size(msg) : 0;
    for (size_t i = 0; i < count && i < 6; i++)
        f[i] = zmsg_popstr(msg);
    zmsg_destroy(msg_p);
    int rc = -1;
    for (int t = RM_SLOT_PROGRESS; t <= RM_SLOT_TASK_CANCELED && f[0]; t++)
        if (streq(f[0], event_names[t]))
            ev->type = (rm_slot_event_type_t)t;
    if (ev->type && count == event_frames[ev->type]) {
        ev->job_id = xstrdup(f[1]);
        rc = event_fields(ev, f) ? 0 : -1;
    }
    if (rc)
        rm_err_set(err, RM_EPROTO, "malformed slot event %s (%zu frames)", f[0] ? f[0] : "(none)",
                   count);
    for (size_t i = 0; i < 6; i++)
        free(f[i]);
    if (rc)
        rm_slot_event_clear(ev);
    return rc;
}

int rm_slot_event_recv(zactor_t *slot, rm_slot_event_t *ev, rm_err_t *err)
{
    zmsg_t *msg = zmsg_recv(slot);
    if (!msg) {
        memset(ev, 0, sizeof *ev);
        return rm_err_set(err, RM_EIO, "render slot: receive interrupted");
    }
    return rm_slot_event_decode(&msg, ev, err);
}

/* ------------------------------------------------------------------------ */
/*  Slot state                                                               */

typedef struct {
    char *job_id, *blend, *project_dir, *out_dir, *log_path;
    char *scene, *camera, *engine, *device, *format;
    uint64_t samples, percent, res_x, res_y, gpu, allow_scripts, frame_timeout_s;
    uint64_t *frames;
    size_t frame_count;
    char *key; /* what a loaded Blender must match to be reused */
} task_t;

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
    int render_pid; /* as the driver reports it (a wrapper may fork) */
    unsigned gen;   /* bumped per process, to spot a child replaced mid-loop */
    int in_fd, out_fd, res_fd;
    child_state_t state;
    bool oneshot;
    size_t oneshot_end; /* one-shot: frames[next..oneshot_end) were given */
    char *key, *job_id, *tempdir;
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
    char *oneshot_key; /* this job failed to serve: go straight to one-shot */
    /* progress of frames[next] */
    int percent, sent_percent;
    int64_t sent_ms, eta_at, eta_elapsed, eta_total;
} slot_t;

static void task_destroy(task_t **task_p)
{
    task_t *t = *task_p;
    if (!t)
        return;
    char **strs[] = {&t->job_id, &t->blend,  &t->project_dir, &t->out_dir, &t->log_path, &t->scene,
                     &t->camera, &t->engine, &t->device,      &t->format,  &t->key};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        free(*strs[i]);
    free(t->frames);
    free(t);
    *task_p = NULL;
}

static bool parse_frames(task_t *t, const char *list)
{
    size_t count = 1;
    for (const char *p = list; *p; p++)
        count += *p == ',';
    t->frames = calloc(count, sizeof *t->frames);
    if (!t->frames)
        return false;
    const char *p = list;
    for (size_t i = 0; i < count; i++) {
        char *end;
        if (*p < '0' || *p > '9')
            return false;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno || v > RM_BLENDER_MAX_FRAME || (*end != ',' && *end != '\0'))
            return false;
        t->frames[i] = v;
        p = end + (*end == ',');
    }
    t->frame_count = count;
    return true;
}

/*  Decodes RENDER (command already popped); f holds its other 18 frames. */
static task_t *task_decode(char **f)
{
    task_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    char **strs[] = {&t->job_id, &t->blend,  &t->project_dir, &t->out_dir, &t->log_path,
                     &t->scene,  &t->camera, &t->engine,      &t->device,  &t->format};
    size_t i = 0;
    for (; i < sizeof strs / sizeof *strs; i++) {
        *strs[i] = f[i];
        f[i] = NULL; /* ownership moves to the task */
    }
    uint64_t *nums[] = {&t->samples, &t->percent,       &t->res_x,          &t->res_y,
                        &t->gpu,     &t->allow_scripts, &t->frame_timeout_s};
    bool ok = true;
    for (size_t j = 0; j < sizeof nums / sizeof *nums; j++, i++)
        ok = ok && parse_u64(f[i], nums[j]);
    ok = ok && t->allow_scripts <= 1 && parse_frames(t, f[i]);
    rm_render_task_t view = {.job_id = t->job_id,
                             .blend = t->blend,
                             .out_dir = t->out_dir,
                             .log_path = t->log_path,
                             .frames = t->frames,
                             .frame_count = t->frame_count};
    if (!ok || task_validate(&view, NULL)) {
        task_destroy(&t);
        return NULL;
    }
    return t;
}

/* ------------------------------------------------------------------------ */
/*  Events to the parent                                                     */

static void send_progress(slot_t *self, int percent)
{
    char frame[24], pct[8];
    snprintf(frame, sizeof frame, "%" PRIu64, self->task->frames[self->next]);
    snprintf(pct, sizeof pct, "%d", percent);
    zstr_sendx(self->pipe, "PROGRESS", self->task->job_id, frame, pct, NULL);
}

static void send_frame_done(slot_t *self, const char *file, int64_t render_ms)
{
    char frame[24], ms[24], pid[16];
    snprintf(frame, sizeof frame, "%" PRIu64, self->task->frames[self->next]);
    snprintf(ms, sizeof ms, "%" PRId64, render_ms < 0 ? 0 : render_ms);
    snprintf(pid, sizeof pid, "%d", self->child.render_pid);
    zstr_sendx(self->pipe, "FRAME_DONE", self->task->job_id, frame, file, ms, pid, NULL);
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
    zstr_sendx(self->pipe, "FRAME_FAILED", self->task->job_id, frame, reason, NULL);
}

/*  Ends the current task with TASK_DONE (reason NULL), TASK_FAILED or
    TASK_CANCELED. */
static void task_finish(slot_t *self, const char *event, const char *reason, bool fatal)
{
    const char *job = self->task->job_id;
    if (streq(event, "TASK_DONE"))
        zstr_sendx(self->pipe, event, job, self->child.oneshot ? "oneshot" : "persistent", NULL);
    else if (streq(event, "TASK_FAILED"))
        zstr_sendx(self->pipe, event, job, reason, fatal ? "1" : "0", NULL);
    else
        zstr_sendx(self->pipe, event, job, NULL);
    if (reason)
        note(self, "job %s: %s%s", job, reason, fatal ? " (the job is broken)" : "");
    if (self->log_fd >= 0)
        close(self->log_fd);
    self->log_fd = -1;
    task_destroy(&self->task);
    self->frame_sent = false;
}

/* ------------------------------------------------------------------------ */
/*  The Blender child                                                        */

static void linebuf_reset(linebuf_t *lb)
{
    free(lb->data);
    memset(lb, 0, sizeof *lb);
}

/*  Blender's session temp dir (/tmp/blender_XXXXXX) survives a SIGKILL. */
static void remove_tempdir(const char *dir)
{
    struct stat st;
    const char *base = dir ? strstr(dir, "/blender_") : NULL;
    if (!base || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return;
    zdir_t *zdir = zdir_new(dir, NULL);
    if (zdir)
        zdir_remove(zdir, true);
    zdir_destroy(&zdir);
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
    remove_tempdir(c->tempdir);
    free(c->key);
    free(c->job_id);
    free(c->tempdir);
    free(c->fatal);
    free(c->read_error);
    linebuf_reset(&c->out);
    linebuf_reset(&c->res);
    unsigned gen = c->gen;
    memset(c, 0, sizeof *c);
    c->gen = gen + 1;
    c->in_fd = c->out_fd = c->res_fd = -1;
}

static void child_kill(child_t *c)
{
    if (c->pid > 0) {
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
    const char *keys[] = {"scene", "camera", "engine", "device", "format"};
    const char *vals[] = {t->scene, t->camera, t->engine, t->device, t->format};
    fputc('{', f);
    for (size_t i = 0; i < 5; i++) {
        fprintf(f, "\"%s\":", keys[i]);
        json_str(f, vals[i]);
        fputc(',', f);
    }
    fprintf(f,
            "\"samples\":%" PRIu64 ",\"percent\":%" PRIu64 ",\"res_x\":%" PRIu64
            ",\"res_y\":%" PRIu64 ",\"gpu_index\":%" PRId64,
            t->samples, t->percent, t->res_x, t->res_y, (int64_t)t->gpu - 1);
    if (with_out_dir) {
        fputs(",\"out_dir\":", f);
        json_str(f, t->out_dir);
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
        char *list = frame_list(t->frames + self->next, self->child.oneshot_end - self->next);
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
static int spawn_child(child_t *c, char **argv, const char *cwd)
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
        rc = posix_spawn(&c->pid, argv[0], &fa, &attr, argv, environ);
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
    int rc = a.failed ? ENOMEM : spawn_child(c, a.argv, t->project_dir);
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
    c->render_pid = c->pid;
    c->key = xstrdup(t->key);
    c->job_id = xstrdup(t->job_id);
    c->deadline = zclock_mono() + (int64_t)self->startup_timeout_s * 1000;
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
    json_str(f, self->task->out_dir);
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
    if (c->state != CHILD_READY)
        return;
    if (!c->oneshot)
        frame_dispatch(self);
    else if (self->next < c->oneshot_end)
        frame_begin(self);
    else
        child_start(self); /* the next batch of frames */
}

/*  The driver says frames[next] is done: check the file really is there. */
static void frame_done(slot_t *self, const drv_event_t *ev)
{
    const char *out_dir = self->task->out_dir;
    size_t len = strlen(out_dir);
    struct stat st;
    char why[RM_ERR_MSG_MAX];
    if (!ev->file || strncmp(ev->file, out_dir, len) != 0 || ev->file[len] != '/')
        snprintf(why, sizeof why, "Blender reported output %s outside %s",
                 ev->file ? ev->file : "(none)", out_dir);
    else if (stat(ev->file, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
        snprintf(why, sizeof why, "Blender wrote no output file %s", ev->file);
    else {
        send_frame_done(self, ev->file, ev->render_ms);
        return;
    }
    send_frame_failed(self, why);
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
    if ((p = strstr(line, "| Sample ")) && (p += 9, parse_u64_prefix(p, &done, &end)) &&
        *end == '/' && parse_u64_prefix(end + 1, &total, &end) && total > 0 && done <= total)
        self->percent = imax(self->percent, (int)(done * 99 / total));
    else if ((p = strstr(line, "| Rendering ")) && (p += 12, parse_u64_prefix(p, &done, &end)) &&
             strncmp(end, " / ", 3) == 0 && parse_u64_prefix(end + 3, &total, &end) &&
             total > 0 && done <= total)
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
