#include "rm_jobs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <czmq.h>

struct _rm_jobs_t {
    char *root;
    rm_job_t **jobs; /* in submission order */
    size_t count;
    size_t cap;
    zhashx_t *by_id; /* job id -> job: lookups on the loop are not scans */
    rm_jobs_spec_check_fn *adopt_check;
    void *adopt_arg;
    const rm_job_trust_t *trust;
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
}

/*  Appends a job (room reserved) and indexes it. */
static void jobs_append(rm_jobs_t *self, rm_job_t *job)
{
    rm_job_set_trust(job, self->trust);
    self->jobs[self->count++] = job;
    zhashx_update(self->by_id, rm_job_id(job), job);
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
    if (!self || !(self->root = strdup(root)) || !(self->by_id = zhashx_new())) {
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

/*  A job this node did not know, taken from a peer. */
static rm_job_t *jobs_adopt(rm_jobs_t *self, const rm_job_record_t *rec, rm_err_t *err)
{
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
