#include "rm_jobs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <czmq.h>

#include "rm_fs.h"

struct _rm_jobs_t {
    char *root;
    rm_job_t **jobs; /* in submission order */
    size_t count;
    size_t cap;
    zhashx_t *by_id;   /* job id -> job: lookups on the loop are not scans */
    zhashx_t *dirty;   /* job id -> job with changes to spread: flushing is not a scan */
    rm_job_t **active; /* the unfinished jobs, in submission order (rm_jobs_active) */
    size_t nactive;
    bool active_stale; /* rebuilt from jobs at the next rm_jobs_active */
    rm_jobs_spec_check_fn *adopt_check;
    void *adopt_arg;
    const rm_job_trust_t *trust;
    rm_tombstones_t *tombstones;
    int64_t retain_ms; /* finished jobs kept this long; 0: forever */
};

/*  Room for one more job, made before a job is written: a job on disk
    that the table could not hold would be loaded only at restart. */
static int jobs_reserve(rm_jobs_t *self, rm_err_t *err)
{
    if (self->count < self->cap)
        return 0;
    size_t cap = self->cap ? self->cap * 2 : 16;
    rm_job_t **grown = realloc(self->jobs, cap * sizeof *grown);
    if (!grown)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    self->jobs = grown;
    self->cap = cap;
    return 0;
}

static int cmp_job_age(const void *a, const void *b)
{
    const rm_job_t *x = *(rm_job_t *const *)a, *y = *(rm_job_t *const *)b;
    int64_t ax = rm_job_spec(x)->submitted_at, ay = rm_job_spec(y)->submitted_at;
    if (ax != ay)
        return ax < ay ? -1 : 1;
    return strcmp(rm_job_id(x), rm_job_id(y));
}

/*  rm_jobs_at is in submission order. */
static void jobs_sort(rm_jobs_t *self)
{
    if (self->count > 1)
        qsort(self->jobs, self->count, sizeof *self->jobs, cmp_job_age);
    self->active_stale = true;
}

rm_job_t *const *rm_jobs_active(rm_jobs_t *self, size_t *count)
{
    if (self->active_stale) {
        rm_job_t **all = realloc(self->active, (self->count ? self->count : 1) * sizeof *all);
        if (!all) { /* no memory: every job, finished ones too */
            *count = self->count;
            return self->jobs;
        }
        self->active = all;
        self->nactive = 0;
        for (size_t i = 0; i < self->count; i++)
            self->active[self->nactive++] = self->jobs[i];
        self->active_stale = false;
    }
    /* Finished ones just leave; one that becomes unfinished again (a lost
       output reopened) marks the list stale (on_reopen). */
    size_t n = 0;
    for (size_t i = 0; i < self->nactive; i++)
        if (!rm_job_finished(self->active[i]))
            self->active[n++] = self->active[i];
    self->nactive = n;
    *count = n;
    return self->active;
}

static void on_dirty(void *arg, rm_job_t *job)
{
    rm_jobs_t *self = arg;
    zhashx_update(self->dirty, rm_job_id(job), job);
}

/*  A finished job with a frame to render again is active again. */
static void on_reopen(void *arg, rm_job_t *job)
{
    (void)job;
    ((rm_jobs_t *)arg)->active_stale = true;
}

/*  Appends a job (room reserved) and indexes it. */
static void jobs_append(rm_jobs_t *self, rm_job_t *job)
{
    rm_job_set_trust(job, self->trust);
    self->jobs[self->count++] = job;
    self->active_stale = true;
    zhashx_update(self->by_id, rm_job_id(job), job);
    rm_job_on_dirty(job, on_dirty, self);
    rm_job_on_reopen(job, on_reopen, self);
    if (rm_job_has_changes(job)) /* made before the table heard of it */
        on_dirty(self, job);
}

rm_job_t *rm_jobs_take_dirty(rm_jobs_t *self)
{
    rm_job_t *job = zhashx_first(self->dirty);
    if (job)
        zhashx_delete(self->dirty, rm_job_id(job));
    return job;
}

static int jobs_load(rm_jobs_t *self, const char *job_id, rm_err_t *err)
{
    if (jobs_reserve(self, err) != 0)
        return -1;
    rm_job_t *job = rm_job_load(self->root, job_id, err);
    if (!job)
        return -1;
    jobs_append(self, job);
    return 0;
}

rm_jobs_t *rm_jobs_new(const char *root, rm_err_t *err)
{
    if (mkdir(root, 0700) != 0 && errno != EEXIST) {
        rm_err_set(err, rm_err_from_errno(errno), "cannot create %s: %s", root, strerror(errno));
        return NULL;
    }
    rm_jobs_t *self = calloc(1, sizeof *self);
    char path[4200];
    snprintf(path, sizeof path, "%s/.tombstones", root);
    if (!self || !(self->root = strdup(root)) || !(self->by_id = zhashx_new()) ||
        !(self->dirty = zhashx_new()) || !(self->tombstones = rm_tombstones_new(path))) {
        if (self)
            free(self->root);
        free(self);
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    DIR *dir = opendir(root);
    if (!dir) {
        rm_err_set(err, rm_err_from_errno(errno), "cannot read %s: %s", root, strerror(errno));
        rm_jobs_destroy(&self);
        return NULL;
    }
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (strncmp(de->d_name, ".removed-", 9) == 0) { /* a removal a crash cut short */
            char gone[4300];
            rm_err_t ignored;
            snprintf(gone, sizeof gone, "%s/%s", root, de->d_name);
            rm_fs_remove_tree(gone, &ignored);
            continue;
        }
        if (!rm_job_record_valid_id(de->d_name))
            continue;
        rm_err_t load_err;
        if (jobs_load(self, de->d_name, &load_err) != 0)
            fprintf(stderr, "meshd: skipping job %s: %s\n", de->d_name, load_err.msg);
    }
    closedir(dir);
    jobs_sort(self);
    return self;
}

void rm_jobs_destroy(rm_jobs_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_jobs_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        rm_job_destroy(&self->jobs[i]);
    zhashx_destroy(&self->by_id);
    zhashx_destroy(&self->dirty);
    free(self->active);
    rm_tombstones_destroy(&self->tombstones);
    free(self->jobs);
    free(self->root);
    free(self);
    *self_p = NULL;
}

int rm_jobs_create(rm_jobs_t *self, const rm_job_spec_t *spec, rm_job_t **job_out, bool *created,
                   rm_err_t *err)
{
    *created = false;
    *job_out = NULL;
    if (!rm_job_record_valid_id(spec->job_id))
        return rm_err_set(err, RM_EINVAL, "job id '%s' is not 1-64 lowercase hex characters",
                          spec->job_id);
    rm_job_t *existing = rm_jobs_find(self, spec->job_id);
    if (existing) {
        if (memcmp(rm_job_spec(existing)->manifest.b, spec->manifest.b, 32) != 0)
            return rm_err_set(err, RM_EINVAL, "job id %s is taken by another project",
                              spec->job_id);
        *job_out = existing;
        return 0;
    }
    rm_job_t *job = NULL;
    if (jobs_reserve(self, err) != 0 || !(job = rm_job_new(self->root, spec, err)))
        return -1;
    jobs_append(self, job);
    jobs_sort(self);
    *job_out = job;
    *created = true;
    return 0;
}

rm_job_t *rm_jobs_find(rm_jobs_t *self, const char *job_id)
{
    return job_id ? zhashx_lookup(self->by_id, job_id) : NULL;
}

size_t rm_jobs_count(rm_jobs_t *self)
{
    return self->count;
}

rm_job_t *rm_jobs_at(rm_jobs_t *self, size_t index)
{
    return index < self->count ? self->jobs[index] : NULL;
}

void rm_jobs_set_adopt_check(rm_jobs_t *self, rm_jobs_spec_check_fn *check, void *arg)
{
    self->adopt_check = check;
    self->adopt_arg = arg;
}

void rm_jobs_set_trust(rm_jobs_t *self, const rm_job_trust_t *trust)
{
    self->trust = trust;
    for (size_t i = 0; i < self->count; i++)
        rm_job_set_trust(self->jobs[i], trust);
}

const rm_job_trust_t *rm_jobs_trust(rm_jobs_t *self)
{
    return self->trust;
}

/*  A job this node did not know, taken from a peer: not one removed here,
    nor one finished before the retention time. */
static rm_job_t *jobs_adopt(rm_jobs_t *self, const rm_job_record_t *rec, rm_err_t *err)
{
    const rm_tombstone_t *t = rm_tombstones_find(self->tombstones, rec->spec.job_id);
    if (t) {
        rm_err_set(err, RM_ENOTFOUND, "job %s was removed", rec->spec.job_id);
        return NULL;
    }
    if (self->retain_ms > 0 && rec->finished_at > 0 &&
        rec->finished_at + self->retain_ms < (int64_t)zclock_time()) {
        rm_err_set(err, RM_ENOTFOUND, "job %s finished before this mesh's retention time",
                   rec->spec.job_id);
        return NULL;
    }
    if (self->adopt_check && self->adopt_check(self->adopt_arg, &rec->spec, err) != 0)
        return NULL;
    if (jobs_reserve(self, err) != 0)
        return NULL;
    rm_job_t *job = rm_job_adopt(self->root, rec, self->trust, err);
    if (job)
        jobs_append(self, job);
    return job;
}

int rm_jobs_merge(rm_jobs_t *self, const uint8_t *buf, size_t len, rm_job_t **job_out,
                  bool *changed, rm_err_t *err)
{
    rm_job_record_t in = {0};
    *job_out = NULL;
    *changed = false;
    if (rm_job_record_decode_peer(buf, len, &in, err) != 0)
        return -1;
    rm_job_t *job = rm_jobs_find(self, in.spec.job_id);
    int rc = 0;
    if (!job) {
        job = jobs_adopt(self, &in, err);
        rc = job ? 0 : -1;
        *changed = job != NULL;
    } else {
        rc = rm_job_apply_record(job, &in, changed, err);
    }
    if (rc != 0)
        rm_err_prefix(err, "merging job %s: ", in.spec.job_id);
    rm_job_record_free(&in);
    if (rc != 0)
        return -1;
    /* A new job, or an earlier submitted_at, moves it in submission order. */
    if (*changed)
        jobs_sort(self);
    *job_out = job;
    return 0;
}

/*  Index of job_id in the table, or SIZE_MAX. */
static size_t index_of(rm_jobs_t *self, const char *job_id)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(rm_job_id(self->jobs[i]), job_id) == 0)
            return i;
    return SIZE_MAX;
}

/*  Takes the job out of the table and deletes its folder (renamed first:
    a crash halfway leaves no half job to load). */
static int drop_job(rm_jobs_t *self, rm_job_t *job, rm_err_t *err)
{
    char dir[4200], gone[4300];
    size_t i = index_of(self, rm_job_id(job));
    snprintf(dir, sizeof dir, "%s/%s", self->root, rm_job_id(job));
    snprintf(gone, sizeof gone, "%s/.removed-%s", self->root, rm_job_id(job));
    if (rename(dir, gone) != 0 && errno != ENOENT)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot remove %s: %s", dir,
                          strerror(errno));
    zhashx_delete(self->by_id, rm_job_id(job));
    zhashx_delete(self->dirty, rm_job_id(job));
    self->active_stale = true;
    memmove(&self->jobs[i], &self->jobs[i + 1], (self->count - i - 1) * sizeof *self->jobs);
    self->count--;
    rm_job_destroy(&job);
    rm_err_t ignored;
    if (rm_fs_remove_tree(gone, &ignored) != 0)
        fprintf(stderr, "meshd: %s\n", ignored.msg);
    return 0;
}

int rm_jobs_remove(rm_jobs_t *self, const char *job_id, int64_t removed_at, const rm_bin_t *removal,
                   rm_err_t *err)
{
    if (removal && rm_tombstones_add(self->tombstones, job_id, removed_at, removal, err) < 0)
        return -1;
    rm_job_t *job = rm_jobs_find(self, job_id);
    return job ? drop_job(self, job, err) : 0;
}

const rm_bin_t *rm_jobs_removal(rm_jobs_t *self, const char *job_id)
{
    const rm_tombstone_t *t = rm_tombstones_find(self->tombstones, job_id);
    return t ? &t->removal : NULL;
}

void rm_jobs_set_retention(rm_jobs_t *self, int64_t retain_ms)
{
    self->retain_ms = retain_ms;
}

size_t rm_jobs_expire(rm_jobs_t *self, int64_t now_ms, rm_jobs_expired_fn *fn, void *arg)
{
    size_t n = 0;
    if (self->retain_ms <= 0)
        return 0;
    rm_tombstones_expire(self->tombstones, now_ms - self->retain_ms);
    for (size_t i = 0; i < self->count;) {
        rm_job_t *job = self->jobs[i];
        int64_t finished = rm_job_finished_at(job);
        rm_err_t err;
        if (!rm_job_finished(job) || finished == 0 || finished + self->retain_ms >= now_ms) {
            i++;
            continue;
        }
        char id[RM_MAX_NAME + 1];
        snprintf(id, sizeof id, "%s", rm_job_id(job));
        if (drop_job(self, job, &err) != 0) {
            fprintf(stderr, "meshd: %s\n", err.msg);
            i++;
            continue;
        }
        n++;
        if (fn)
            fn(arg, id);
    }
    return n;
}
