/*  rm_slot_msg: building and decoding the slot pipe's commands and events. */
#include "rm_slot_msg.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define RENDER_FRAMES 21 /* frames of a RENDER message, command included */

static char *xstrdup(const char *s)
{
    return strdup(s ? s : "");
}

bool rm_slot_parse_u64_prefix(const char *s, uint64_t *out, char **end)
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
    return rm_slot_parse_u64_prefix(s, out, &end) && *end == '\0';
}

static const char *event_names[] = {NULL,        "PROGRESS",    "FRAME_DONE",   "FRAME_FAILED",
                                    "TASK_DONE", "TASK_FAILED", "TASK_CANCELED"};
static const size_t event_frames[] = {0, 4, 10, 4, 3, 4, 2}; /* command included */
#define EVENT_FRAMES_MAX 10

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

char *rm_slot_frame_list(const uint64_t *frames, size_t count)
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

zmsg_t *rm_slot_render_msg(const rm_render_task_t *t, rm_err_t *err)
{
    if (task_validate(t, err))
        return NULL;
    char *frames = rm_slot_frame_list(t->frames, t->frame_count);
    zmsg_t *msg = zmsg_new();
    if (!frames || !msg) {
        free(frames);
        zmsg_destroy(&msg);
        rm_err_set(err, RM_ENOMEM, "out of memory building a render task");
        return NULL;
    }
    const rm_render_settings_t *s = &t->settings;
    const char *strs[] = {"RENDER",   t->job_id,   t->blend,  t->project_dir,
                          t->out_dir, t->log_path, s->scene,  s->camera,
                          s->engine,  s->device,   s->format, s->source_root};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        zmsg_addstr(msg, strs[i] ? strs[i] : "");
    const uint64_t nums[] = {s->samples, s->percent,       s->res_x,           s->res_y,
                             s->gpu,     t->allow_scripts, t->frame_timeout_s, s->no_denoise};
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++)
        zmsg_addstrf(msg, "%" PRIu64, nums[i]);
    zmsg_addstr(msg, frames);
    free(frames);
    return msg;
}

int rm_slot_render(zactor_t *slot, const rm_render_task_t *t, rm_err_t *err)
{
    zmsg_t *msg = rm_slot_render_msg(t, err);
    if (!msg)
        return -1;
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
    free(ev->dir);
    free(ev->files);
    free(ev->warning);
    free(ev->reason);
    free(ev->log);
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
        ev->dir = xstrdup(f[6]);
        ev->files = xstrdup(f[7]);
        ev->warning = xstrdup(f[8]);
        ev->log = xstrdup(f[9]);
        return parse_u64(f[2], &ev->frame) && parse_u64(f[4], &ev->render_ms) && ev->dir &&
               ev->files && ev->warning && ev->log;
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
    char *f[EVENT_FRAMES_MAX] = {0};
    size_t count = msg ? zmsg_size(msg) : 0;
    for (size_t i = 0; i < count && i < EVENT_FRAMES_MAX; i++)
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
    for (size_t i = 0; i < EVENT_FRAMES_MAX; i++)
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
/*  The slot's side                                                          */

void rm_slot_task_destroy(rm_slot_task_t **task_p)
{
    rm_slot_task_t *t = *task_p;
    if (!t)
        return;
    char **strs[] = {&t->job_id,      &t->blend,  &t->project_dir, &t->out_dir, &t->log_path,
                     &t->scene,       &t->camera, &t->engine,      &t->device,  &t->format,
                     &t->source_root, &t->key,    &t->real_out};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        free(*strs[i]);
    free(t->frames);
    free(t);
    *task_p = NULL;
}

static bool parse_frame_list(rm_slot_task_t *t, const char *list)
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

/*  Decodes RENDER (command already popped); f holds its other 20 frames. */
static rm_slot_task_t *task_decode(char **f)
{
    rm_slot_task_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    char **strs[] = {&t->job_id,   &t->blend,  &t->project_dir, &t->out_dir,
                     &t->log_path, &t->scene,  &t->camera,      &t->engine,
                     &t->device,   &t->format, &t->source_root};
    size_t i = 0;
    for (; i < sizeof strs / sizeof *strs; i++) {
        *strs[i] = f[i];
        f[i] = NULL; /* ownership moves to the task */
    }
    uint64_t *nums[] = {&t->samples, &t->percent,       &t->res_x,           &t->res_y,
                        &t->gpu,     &t->allow_scripts, &t->frame_timeout_s, &t->no_denoise};
    bool ok = true;
    for (size_t j = 0; j < sizeof nums / sizeof *nums; j++, i++)
        ok = ok && parse_u64(f[i], nums[j]);
    ok = ok && t->allow_scripts <= 1 && t->no_denoise <= 1 && parse_frame_list(t, f[i]);
    rm_render_task_t view = {.job_id = t->job_id,
                             .blend = t->blend,
                             .out_dir = t->out_dir,
                             .log_path = t->log_path,
                             .frames = t->frames,
                             .frame_count = t->frame_count};
    if (!ok || task_validate(&view, NULL)) {
        rm_slot_task_destroy(&t);
        return NULL;
    }
    return t;
}

rm_slot_task_t *rm_slot_task_decode(zmsg_t *msg, char **job_id)
{
    char *f[RENDER_FRAMES - 1] = {0};
    size_t count = msg ? zmsg_size(msg) : 0;
    bool complete = count == RENDER_FRAMES - 1;
    for (size_t i = 0; i < RENDER_FRAMES - 1 && i < count; i++)
        complete = (f[i] = zmsg_popstr(msg)) && complete;
    *job_id = xstrdup(f[0]);
    rm_slot_task_t *t = complete ? task_decode(f) : NULL;
    for (size_t i = 0; i < RENDER_FRAMES - 1; i++)
        free(f[i]);
    return t;
}

int rm_slot_send_progress(void *pipe, const char *job_id, uint64_t frame, int percent)
{
    char num[24], pct[12];
    snprintf(num, sizeof num, "%" PRIu64, frame);
    snprintf(pct, sizeof pct, "%d", percent);
    return zstr_sendx(pipe, "PROGRESS", job_id, num, pct, NULL);
}

int rm_slot_send_frame_done(void *pipe, const char *job_id, uint64_t frame,
                            const rm_slot_output_t *out)
{
    char num[24], ms[24], pidstr[16];
    snprintf(num, sizeof num, "%" PRIu64, frame);
    snprintf(ms, sizeof ms, "%" PRId64, out->render_ms < 0 ? 0 : out->render_ms);
    snprintf(pidstr, sizeof pidstr, "%d", out->pid);
    return zstr_sendx(pipe, "FRAME_DONE", job_id, num, out->file, ms, pidstr, out->dir,
                      out->files ? out->files : "", out->warning ? out->warning : "",
                      out->log ? out->log : "", NULL);
}

int rm_slot_send_frame_failed(void *pipe, const char *job_id, uint64_t frame, const char *reason)
{
    char num[24];
    snprintf(num, sizeof num, "%" PRIu64, frame);
    return zstr_sendx(pipe, "FRAME_FAILED", job_id, num, reason, NULL);
}

int rm_slot_send_task_done(void *pipe, const char *job_id, bool oneshot)
{
    return zstr_sendx(pipe, "TASK_DONE", job_id, oneshot ? "oneshot" : "persistent", NULL);
}

int rm_slot_send_task_failed(void *pipe, const char *job_id, const char *reason, bool fatal)
{
    return zstr_sendx(pipe, "TASK_FAILED", job_id, reason, fatal ? "1" : "0", NULL);
}

int rm_slot_send_task_canceled(void *pipe, const char *job_id)
{
    return zstr_sendx(pipe, "TASK_CANCELED", job_id, NULL);
}
