#define _GNU_SOURCE /* syncfs */
#include "rm_slots.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "rm_log.h"
#include "rm_blender.h"
#include "rm_manifest.h"

#define MAX_TASK_FRAMES RM_MAX_TASK_FRAMES
#define SPEED_WINDOW 16
/*  After a full disk, wait before handing out more work that would fail. */
#define DISK_FULL_BACKOFF_MS 5000 /* also after a task this node could not start */
/*  Below this much free space a failed render is blamed on the disk. */
#define DISK_LOW_BYTES (16u * 1024 * 1024)

typedef struct {
    zactor_t *actor;
    bool busy;
    char job_id[65];
    uint64_t frames[MAX_TASK_FRAMES];
    uint32_t nframes;
    uint64_t current;   /* frame being rendered (first not yet reported) */
    bool loaded;        /* its Blender may still hold a scene */
    int64_t idle_since; /* when its last task ended */
    struct _rm_slots_t *owner;
} slot_t;

/*  A rendered frame waiting for its files to be chunked into the store
    and journalled. */
typedef struct {
    char job_id[65];
    uint64_t frame;
    char *file;    /* the main image, absolute */
    char *dir;     /* the frame's folder, absolute */
    char *files;   /* every file in it, relative, '\n'-separated */
    char *warning; /* "" or what the render left out */
    char *log;     /* the frame's Blender log (rm_logs.h), "" if none */
    uint64_t render_ms;
} rendered_t;

static void rendered_free(rendered_t *r)
{
    free(r->file);
    free(r->dir);
    free(r->files);
    free(r->warning);
    free(r->log);
    r->file = r->dir = r->files = r->warning = r->log = NULL;
}

struct _rm_slots_t {
    slot_t *slots;
    rendered_t *rendered; /* stored by rm_slots_flush, after the slots have work */
    size_t nrendered;
    size_t rendered_cap;
    size_t count;
    char *node_name;
    rm_jobs_t *jobs;
    rm_store_t *store;
    char *projects_dir;
    uint64_t task_timeout;
    int64_t idle_ms; /* an idle slot's Blender is quit after this */
    uint64_t max_attempts;
    uint64_t max_project_bytes;
    uint64_t recent_ms[SPEED_WINDOW];
    size_t recent_count;
    int64_t paused_until;
    rm_slots_output_fn *output_fn;
    void *output_arg;
    rm_loop_t *loop; /* where the slots' pipes are read; NULL: not yet */
};

rm_slots_t *rm_slots_new(const rm_config_t *config, const char *node_name, bool blender_ok,
                         rm_jobs_t *jobs, rm_store_t *store, const char *projects_dir,
                         rm_err_t *err)
{
    rm_slots_t *self = calloc(1, sizeof *self);
    if (!self) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    self->node_name = strdup(node_name);
    self->projects_dir = strdup(projects_dir);
    self->jobs = jobs;
    self->store = store;
    self->task_timeout = config->task_timeout;
    self->idle_ms = (int64_t)config->slot_idle_s * 1000;
    self->max_attempts = config->max_attempts;
    self->max_project_bytes = config->max_project_gb << 30;
    if (mkdir(projects_dir, 0700) != 0 && errno != EEXIST) {
        rm_err_set(err, rm_err_from_errno(errno), "cannot create %s: %s", projects_dir,
                   strerror(errno));
        rm_slots_destroy(&self);
        return NULL;
    }
    size_t n = blender_ok ? config->slots : 0;
    self->slots = calloc(n ? n : 1, sizeof(slot_t));
    if (!self->node_name || !self->projects_dir || !self->slots) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        rm_slots_destroy(&self);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        rm_blender_config_t sc = {.blender = config->blender,
                                  .index = (int)i,
                                  .threads = (int)config->threads,
                                  .sandbox = config->sandbox,
                                  .node_home = config->home};
        self->slots[i].actor = rm_blender_new(&sc);
        if (!self->slots[i].actor) {
            rm_err_set(err, RM_EBLENDER, "cannot start render slot %zu", i);
            rm_slots_destroy(&self);
            return NULL;
        }
        self->count++;
    }
    return self;
}

void rm_slots_destroy(rm_slots_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_slots_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        if (self->loop)
            rm_loop_reader_end(self->loop, self->slots[i].actor);
        zactor_destroy(&self->slots[i].actor);
    }
    for (size_t i = 0; i < self->nrendered; i++)
        rendered_free(&self->rendered[i]);
    free(self->rendered);
    free(self->slots);
    free(self->node_name);
    free(self->projects_dir);
    free(self);
    *self_p = NULL;
}

static void on_slot_readable(void *arg, void *sock);

int rm_slots_watch(rm_slots_t *self, rm_loop_t *loop)
{
    self->loop = loop;
    for (size_t i = 0; i < self->count; i++) {
        self->slots[i].owner = self;
        if (rm_loop_reader(loop, self->slots[i].actor, on_slot_readable, &self->slots[i]) != 0)
            return -1;
    }
    return 0;
}

size_t rm_slots_count(rm_slots_t *self)
{
    return self->count;
}

size_t rm_slots_busy(rm_slots_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < self->count; i++)
        n += self->slots[i].busy;
    return n;
}

void rm_slots_describe(rm_slots_t *self, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < self->count && used < size; i++) {
        slot_t *s = &self->slots[i];
        if (!s->busy)
            continue;
        int n = snprintf(buf + used, size - used, "%s%s:%llu", used ? " " : "", s->job_id,
                         (unsigned long long)s->current);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

uint64_t rm_slots_ms_per_frame(rm_slots_t *self)
{
    if (self->recent_count == 0)
        return 0;
    size_t n = self->recent_count < SPEED_WINDOW ? self->recent_count : SPEED_WINDOW;
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += self->recent_ms[i];
    return sum / n;
}

/*  A manifest may name one chunk many times: what unpacking would write is
    bounded by the project's declared size, within max_project_gb and the
    free disk, before anything is written. */
static int check_unpack(rm_slots_t *self, const rm_job_spec_t *spec, const rm_manifest_t *manifest,
                        rm_err_t *err)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < manifest->files.count; i++)
        total += manifest->files.items[i].size;
    struct statvfs vfs;
    if (total > self->max_project_bytes)
        return rm_err_set(err, RM_EINVAL,
                          "the project of job %s is %llu bytes, over this node's "
                          "max_project_gb (%llu GiB)",
                          spec->job_id, (unsigned long long)total,
                          (unsigned long long)(self->max_project_bytes >> 30));
    if (statvfs(self->projects_dir, &vfs) == 0 &&
        total + DISK_LOW_BYTES > (uint64_t)vfs.f_bavail * vfs.f_frsize)
        return rm_err_set(err, RM_ENOSPC, "disk full: unpacking job %s needs %llu bytes, %llu free",
                          spec->job_id, (unsigned long long)total,
                          (unsigned long long)((uint64_t)vfs.f_bavail * vfs.f_frsize));
    return 0;
}

/*  PROJECTS/<manifest hex> and its completion marker. */
static int project_paths(rm_slots_t *self, const rm_job_spec_t *spec, char *dir, size_t size,
                         char *marker, size_t marker_size, rm_err_t *err)
{
    char hex[65];
    rm_hash_hex(&spec->manifest, hex);
    if ((size_t)snprintf(dir, size, "%s/%s", self->projects_dir, hex) >= size ||
        (size_t)snprintf(marker, marker_size, "%s/.complete", dir) >= marker_size)
        return rm_err_set(err, RM_EINVAL, "projects path too long");
    return 0;
}

/*  The project's directory in dir; its checks always, and unless
    check_only its files, once per manifest. */
static int prepare_project(rm_slots_t *self, const rm_job_spec_t *spec, char *dir, size_t size,
                           bool check_only, rm_err_t *err)
{
    char marker[4200];
    if (project_paths(self, spec, dir, size, marker, sizeof marker, err) != 0)
        return -1;
    if (access(marker, F_OK) == 0)
        return 0;
    rm_manifest_t manifest = {0};
    if (rm_manifest_load(self->store, &spec->manifest, &manifest, err) != 0)
        return -1;
    int rc = check_unpack(self, spec, &manifest, err);
    if (rc == 0 && !check_only)
        rc = rm_manifest_materialize(&manifest, self->store, dir, err);
    rm_manifest_free(&manifest);
    if (rc != 0 && !check_only)
        return rm_err_prefix(err, "unpacking the project of job %s: ", spec->job_id);
    if (rc != 0 || check_only)
        return rc;
    /* The marker vouches for the files: they reach the disk first. */
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        syncfs(fd);
        close(fd);
    }
    FILE *f = fopen(marker, "w");
    if (!f || fclose(f) != 0)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot write %s: %s", marker,
                          strerror(errno));
    return 0;
}

int rm_slots_project_check(rm_slots_t *self, const rm_job_spec_t *spec, rm_err_t *err)
{
    char dir[4096];
    return prepare_project(self, spec, dir, sizeof dir, true, err);
}

int rm_slots_project_dir(rm_slots_t *self, const rm_job_spec_t *spec, char *dir, size_t size,
                         rm_err_t *err)
{
    return prepare_project(self, spec, dir, size, false, err);
}

static void format_frames(const uint64_t *frames, uint32_t n, char *buf, size_t size)
{
    if (n == 1)
        snprintf(buf, size, "%04llu", (unsigned long long)frames[0]);
    else
        snprintf(buf, size, "%04llu-%04llu", (unsigned long long)frames[0],
                 (unsigned long long)frames[n - 1]);
}

static int start_in_slot(rm_slots_t *self, slot_t *slot, rm_job_t *job, rm_err_t *err)
{
    const rm_job_spec_t *spec = rm_job_spec(job);
    char project[4096], blend[8192], out_dir[4096], log_path[4200], range[64];
    if (rm_slots_project_dir(self, spec, project, sizeof project, err) != 0)
        return -1;
    snprintf(blend, sizeof blend, "%s/%s", project, spec->blend);
    snprintf(out_dir, sizeof out_dir, "%s/out", rm_job_dir(job));
    format_frames(slot->frames, slot->nframes, range, sizeof range);
    snprintf(log_path, sizeof log_path, "%s/logs/frames_%s.log", rm_job_dir(job), range);
    rm_render_task_t task = {
        .job_id = spec->job_id,
        .blend = blend,
        .project_dir = project,
        .out_dir = out_dir,
        .log_path = log_path,
        .settings = {.scene = spec->scene,
                     .camera = spec->camera,
                     .engine = spec->engine,
                     .device = spec->device,
                     .format = spec->format,
                     .samples = spec->samples,
                     .percent = spec->percent,
                     .res_x = spec->res_x,
                     .res_y = spec->res_y,
                     .no_denoise = spec->no_denoise,
                     /* A local folder only: an S3 project's prefix is no
                        absolute path the .blend can store. */
                     .source_root =
                         spec->source_root && spec->source_root[0] == '/' ? spec->source_root : ""},
        .allow_scripts = spec->allow_scripts,
        .frame_timeout_s = spec->task_timeout ? spec->task_timeout : self->task_timeout,
        .frames = slot->frames,
        .frame_count = slot->nframes,
    };
    return rm_slot_render(slot->actor, &task, err);
}

static bool output_queued(const rm_slots_t *self, const char *job_id, uint64_t frame)
{
    for (size_t i = 0; i < self->nrendered; i++)
        if (self->rendered[i].frame == frame && strcmp(self->rendered[i].job_id, job_id) == 0)
            return true;
    return false;
}

#define SETTLED UINT64_MAX /* a task's frame the slot reported done or failed */

/*  Marks a frame of the slot's task as reported: it is no longer the slot's
    to release, even if it is handed out again to another slot. */
static void settle(slot_t *slot, uint64_t frame)
{
    for (uint32_t i = 0; i < slot->nframes; i++)
        if (slot->frames[i] == frame)
            slot->frames[i] = SETTLED;
}

/*  Frames of an ended task that were neither rendered nor failed go back to
    pending; rendered ones wait for rm_slots_flush. */
static void release_task(rm_slots_t *self, rm_job_t *job, slot_t *slot, const char *reason)
{
    for (uint32_t i = 0; i < slot->nframes; i++)
        if (slot->frames[i] != SETTLED && !output_queued(self, rm_job_id(job), slot->frames[i]))
            rm_job_frame_release(job, slot->frames[i], reason);
}

size_t rm_slots_free(rm_slots_t *self)
{
    if (zclock_time() < self->paused_until)
        return 0;
    return self->count - rm_slots_busy(self);
}

int rm_slots_take(rm_slots_t *self, rm_job_t *job, const uint64_t *frames, uint32_t n,
                  rm_err_t *err)
{
    rm_err_t local;
    if (!err)
        err = &local;
    slot_t *slot = NULL;
    for (size_t i = 0; i < self->count && !slot; i++)
        if (!self->slots[i].busy)
            slot = &self->slots[i];
    if (!slot)
        return rm_err_set(err, RM_EINVAL, "no free render slot");
    /* Frames finished elsewhere meanwhile (a copy won) are not rendered. */
    slot->nframes = 0;
    for (uint32_t i = 0; i < n && i < MAX_TASK_FRAMES; i++) {
        const rm_frame_rec_t *f = rm_job_frame(job, frames[i]);
        if (f && (f->state == RM_FRAME_PENDING || f->state == RM_FRAME_ASSIGNED) &&
            !output_queued(self, rm_job_id(job), frames[i]))
            slot->frames[slot->nframes++] = frames[i];
    }
    if (slot->nframes == 0 || rm_job_finished(job))
        return 0;
    if (start_in_slot(self, slot, job, err) != 0) {
        rm_log_error("cannot start job %s: %s", rm_job_id(job), err->msg);
        rm_job_log(job, "cannot start on %s: %s", self->node_name, err->msg);
        release_task(self, job, slot, err->msg);
        if (err->code == RM_ENOSPC || err->code == RM_EIO)
            self->paused_until = zclock_time() + DISK_FULL_BACKOFF_MS;
        else
            rm_job_fail(job, err->msg, NULL);
        slot->nframes = 0;
        return -1;
    }
    slot->busy = true;
    slot->loaded = true;
    slot->current = slot->frames[0];
    snprintf(slot->job_id, sizeof slot->job_id, "%s", rm_job_id(job));
    return 0;
}

int rm_slots_running(rm_slots_t *self, rm_task_t **tasks, uint32_t *count, rm_err_t *err)
{
    *tasks = calloc(self->count + self->nrendered + 1, sizeof(rm_task_t));
    *count = 0;
    if (!*tasks)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    for (size_t i = 0; i < self->count; i++) {
        slot_t *s = &self->slots[i];
        if (!s->busy)
            continue;
        rm_task_t *t = &(*tasks)[(*count)++];
        t->job_id = strdup(s->job_id);
        t->frames.items = calloc(s->nframes ? s->nframes : 1, sizeof(uint64_t));
        if (!t->job_id || !t->frames.items)
            goto oom;
        for (uint32_t k = 0; k < s->nframes; k++)
            if (s->frames[k] != SETTLED)
                t->frames.items[t->frames.count++] = s->frames[k];
    }
    for (size_t i = 0; i < self->nrendered; i++) {
        rm_task_t *t = &(*tasks)[(*count)++];
        t->job_id = strdup(self->rendered[i].job_id);
        t->frames.items = calloc(1, sizeof(uint64_t));
        if (!t->job_id || !t->frames.items)
            goto oom;
        t->frames.items[t->frames.count++] = self->rendered[i].frame;
    }
    return 0;
oom:
    for (uint32_t i = 0; i < *count; i++) {
        free((*tasks)[i].job_id);
        free((*tasks)[i].frames.items);
    }
    free(*tasks);
    *tasks = NULL;
    *count = 0;
    return rm_err_set(err, RM_ENOMEM, "out of memory");
}

void rm_slots_on_output(rm_slots_t *self, rm_slots_output_fn *fn, void *arg)
{
    self->output_fn = fn;
    self->output_arg = arg;
}

void rm_slots_cancel(rm_slots_t *self, const char *job_id)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->slots[i].busy && strcmp(self->slots[i].job_id, job_id) == 0)
            rm_slot_cancel(self->slots[i].actor, job_id);
}

const char *rm_slots_job_at(rm_slots_t *self, size_t i)
{
    return i < self->count && self->slots[i].busy ? self->slots[i].job_id : NULL;
}

void rm_slots_stop(rm_slots_t *self, size_t i, const char *why)
{
    if (i >= self->count || !self->slots[i].busy)
        return;
    slot_t *s = &self->slots[i];
    rm_job_t *job = rm_jobs_find(self->jobs, s->job_id);
    if (job)
        rm_job_log(job,
                   "frame %llu stopped on %s: %s; it goes back to pending (no attempt counted)",
                   (unsigned long long)s->current, self->node_name, why);
    /* The slot answers TASK_CANCELED: its unreported frames are released,
       not failed (task_ended). */
    rm_slot_cancel(s->actor, s->job_id);
}

static void record_speed(rm_slots_t *self, uint64_t ms)
{
    self->recent_ms[self->recent_count % SPEED_WINDOW] = ms;
    self->recent_count++;
}

/*  Stores every file of the frame's folder as one manifest; *main is the
    main image's name in it. */
static int store_outputs(rm_slots_t *self, const rendered_t *r, rm_hash_t *output, uint64_t *size,
                         const char **main, rm_err_t *err)
{
    size_t dlen = strlen(r->dir);
    if (strncmp(r->file, r->dir, dlen) != 0 || r->file[dlen] != '/')
        return rm_err_set(err, RM_EINVAL, "%s is not in %s", r->file, r->dir);
    *main = r->file + dlen + 1;
    char *list = strdup(r->files);
    size_t n = 1;
    for (const char *p = r->files; *p; p++)
        n += *p == '\n';
    const char **names = calloc(n, sizeof *names);
    int rc = -1;
    if (!list || !names) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        goto out;
    }
    size_t count = 0;
    bool has_main = false;
    for (char *save = NULL, *name = strtok_r(list, "\n", &save); name;
         name = strtok_r(NULL, "\n", &save)) {
        names[count++] = name;
        has_main |= strcmp(name, *main) == 0;
    }
    if (!has_main)
        rm_err_set(err, RM_EINVAL, "the render's files do not list its image %s", *main);
    else
        rc = rm_manifest_store_files(self->store, r->dir, names, count, output, size, err);
out:
    free(names);
    free(list);
    return rc;
}

static void frame_failed(rm_slots_t *self, rm_job_t *job, const rm_slot_event_t *ev);

static void frame_done(rm_slots_t *self, rm_job_t *job, const rendered_t *r)
{
    rm_err_t err;
    rm_hash_t output;
    uint64_t size = 0;
    const char *name = "";
    int rc = store_outputs(self, r, &output, &size, &name, &err);
    rm_frame_output_t out = {.output = output,
                             .size = size,
                             .file = name,
                             .render_ms = r->render_ms,
                             .warning = r->warning};
    /* The frame's log travels with it (rm_logs.h); a frame is not lost for
       want of its log. */
    uint64_t log_size = 0;
    const char *log_name = strrchr(r->log, '/');
    if (rc == 0 && log_name && log_name[1] &&
        rm_manifest_store_file(self->store, r->log, log_name + 1, &out.log, &log_size, &err) != 0) {
        rm_log_warning("job %s frame %llu: its log is not stored: %s", rm_job_id(job),
                       (unsigned long long)r->frame, err.msg);
        memset(&out.log, 0, sizeof out.log);
    }
    if (rc == 0 && self->output_fn)
        self->output_fn(self->output_arg, job, r->frame, &out);
    else if (rc == 0)
        rc = rm_job_frame_done(job, r->frame, &out, self->node_name, NULL, &err);
    if (rc != 0 && err.code != RM_ENOSPC && err.code != RM_EIO && err.code != RM_ENOMEM) {
        /* What the render wrote cannot be an output (a link, a name no
           manifest takes): a failed attempt with the reason, not a retry
           forever. */
        char why[RM_ERR_MSG_MAX + 40];
        snprintf(why, sizeof why, "the render's files cannot be stored: %s", err.msg);
        frame_failed(self, job, &(rm_slot_event_t){.frame = r->frame, .reason = why});
        return;
    }
    if (rc != 0) {
        /* The render is not lost from the job: the frame is rendered again
           once the disk has room. */
        rm_log_error("job %s frame %llu: cannot store the output: %s", rm_job_id(job),
                     (unsigned long long)r->frame, err.msg);
        rm_job_log(job, "frame %llu rendered but not stored: %s", (unsigned long long)r->frame,
                   err.msg);
        rm_job_frame_release(job, r->frame, err.msg);
        self->paused_until = zclock_time() + DISK_FULL_BACKOFF_MS;
        return;
    }
    record_speed(self, r->render_ms);
    rm_job_log(job, "frame %llu done on %s in %llu ms (%s, %llu bytes)",
               (unsigned long long)r->frame, self->node_name, (unsigned long long)r->render_ms,
               name, (unsigned long long)size);
    if (r->warning[0])
        rm_job_log(job, "frame %llu: %s", (unsigned long long)r->frame, r->warning);
}

/*  A render that failed because the disk is full is no fault of the frame. */
static bool disk_nearly_full(const char *dir)
{
    struct statvfs vfs;
    if (statvfs(dir, &vfs) != 0)
        return false;
    return (uint64_t)vfs.f_bavail * vfs.f_frsize < DISK_LOW_BYTES;
}

static void frame_failed(rm_slots_t *self, rm_job_t *job, const rm_slot_event_t *ev)
{
    rm_err_t err;
    if (disk_nearly_full(rm_job_dir(job))) {
        char why[RM_ERR_MSG_MAX];
        snprintf(why, sizeof why, "disk full on %s: %s", self->node_name, ev->reason);
        rm_log_error("job %s frame %llu: %s; will retry", rm_job_id(job),
                     (unsigned long long)ev->frame, why);
        rm_job_log(job, "frame %llu: %s; will retry", (unsigned long long)ev->frame, why);
        rm_job_frame_release(job, ev->frame, why);
        self->paused_until = zclock_time() + DISK_FULL_BACKOFF_MS;
        return;
    }
    rm_log_warning("job %s frame %llu failed: %s", rm_job_id(job), (unsigned long long)ev->frame,
                   ev->reason);
    rm_job_log(job, "frame %llu failed on %s: %s", (unsigned long long)ev->frame, self->node_name,
               ev->reason);
    if (rm_job_frame_failed(job, ev->frame, ev->reason, self->max_attempts, &err) != 0) {
        rm_log_error("job %s: %s", rm_job_id(job), err.msg);
        rm_job_frame_release(job, ev->frame, ev->reason);
    }
}

static void task_ended(rm_slots_t *self, slot_t *slot, rm_job_t *job, const rm_slot_event_t *ev)
{
    if (ev->type == RM_SLOT_TASK_FAILED) {
        rm_log_warning("job %s: task failed: %s", slot->job_id, ev->reason);
        if (job)
            rm_job_log(job, "task failed on %s: %s", self->node_name, ev->reason);
        if (job && ev->fatal)
            rm_job_fail(job, ev->reason, NULL);
        else if (job) {
            /* This node could not render the task (Blender would not start):
               each frame counts an attempt, so a node that never can fails
               the job with the reason instead of retrying forever. */
            for (uint32_t i = 0; i < slot->nframes; i++) {
                const rm_frame_rec_t *f =
                    slot->frames[i] == SETTLED ? NULL : rm_job_frame(job, slot->frames[i]);
                if (f && f->state == RM_FRAME_ASSIGNED &&
                    !output_queued(self, rm_job_id(job), slot->frames[i]))
                    frame_failed(
                        self, job,
                        &(rm_slot_event_t){.frame = slot->frames[i], .reason = ev->reason});
            }
            self->paused_until = zclock_time() + DISK_FULL_BACKOFF_MS;
        }
    }
    if (job)
        release_task(self, job, slot, ev->type == RM_SLOT_TASK_FAILED ? ev->reason : NULL);
    slot->busy = false;
    slot->nframes = 0;
    slot->idle_since = zclock_mono();
}

static void queue_rendered(rm_slots_t *self, rm_job_t *job, const rm_slot_event_t *ev)
{
    if (self->nrendered == self->rendered_cap) {
        size_t cap = self->rendered_cap ? self->rendered_cap * 2 : 16;
        rendered_t *grown = realloc(self->rendered, cap * sizeof *grown);
        if (!grown) {
            rm_job_frame_release(job, ev->frame, "out of memory");
            return;
        }
        self->rendered = grown;
        self->rendered_cap = cap;
    }
    rendered_t *r = &self->rendered[self->nrendered];
    memset(r, 0, sizeof *r);
    snprintf(r->job_id, sizeof r->job_id, "%s", rm_job_id(job));
    r->frame = ev->frame;
    r->render_ms = ev->render_ms;
    r->file = strdup(ev->file);
    r->dir = strdup(ev->dir ? ev->dir : "");
    r->files = strdup(ev->files ? ev->files : "");
    r->warning = strdup(ev->warning ? ev->warning : "");
    r->log = strdup(ev->log ? ev->log : "");
    if (!r->file || !r->dir || !r->files || !r->warning || !r->log) {
        rendered_free(r);
        rm_job_frame_release(job, ev->frame, "out of memory");
        return;
    }
    self->nrendered++;
}

void rm_slots_flush(rm_slots_t *self)
{
    for (size_t i = 0; i < self->nrendered; i++) {
        rendered_t *r = &self->rendered[i];
        rm_job_t *job = rm_jobs_find(self->jobs, r->job_id);
        if (job)
            frame_done(self, job, r);
        rendered_free(r);
    }
    self->nrendered = 0;
}

void rm_slots_tick(rm_slots_t *self, int64_t now)
{
    /* A kept-alive Blender holds the job's whole scene in memory (GBs for
       production scenes): once no task came for a while, the slot quits it,
       and the next task starts a fresh one. */
    for (size_t i = 0; i < self->count; i++) {
        slot_t *s = &self->slots[i];
        if (s->busy || !s->loaded || now - s->idle_since < self->idle_ms)
            continue;
        rm_slot_release(s->actor);
        s->loaded = false;
    }
}

static void handle_event(rm_slots_t *self, slot_t *slot, rm_slot_event_t *ev);

static void on_slot_readable(void *arg, void *sock)
{
    (void)sock;
    slot_t *slot = arg;
    rm_slots_t *self = slot->owner;
    /* Take every event the slot has sent, so a finished task frees the slot
       before the outputs of its frames are stored. */
    do {
        rm_slot_event_t ev;
        rm_err_t err;
        if (rm_slot_event_recv(slot->actor, &ev, &err) != 0) {
            rm_log_error("render slot: %s", err.msg);
            return;
        }
        handle_event(self, slot, &ev);
        rm_slot_event_clear(&ev);
    } while (zsock_events(zactor_sock(slot->actor)) & ZMQ_POLLIN);
}

static void handle_event(rm_slots_t *self, slot_t *slot, rm_slot_event_t *ev_in)
{
    rm_slot_event_t ev = *ev_in;
    rm_job_t *job = rm_jobs_find(self->jobs, ev.job_id);
    switch (ev.type) {
    case RM_SLOT_PROGRESS:
        if (job)
            rm_job_frame_progress(job, ev.frame, (uint64_t)ev.percent);
        slot->current = ev.frame;
        break;
    case RM_SLOT_FRAME_DONE:
        settle(slot, ev.frame);
        if (job)
            queue_rendered(self, job, &ev);
        break;
    case RM_SLOT_FRAME_FAILED:
        settle(slot, ev.frame);
        if (job)
            frame_failed(self, job, &ev);
        break;
    case RM_SLOT_TASK_DONE:
    case RM_SLOT_TASK_FAILED:
    case RM_SLOT_TASK_CANCELED:
        task_ended(self, slot, job, &ev);
        break;
    }
}
