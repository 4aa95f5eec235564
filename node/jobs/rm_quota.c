#include "rm_quota.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_manifest.h"

/*  One submitter's recent submissions: a ring of their times. */
typedef struct {
    int64_t *at;
    size_t head, count;
} recent_t;

struct _rm_quota_t {
    uint64_t max_samples, max_resolution, artist_max_priority;
    uint64_t quota_jobs, quota_submits, quota_stored_bytes;
    zhashx_t *recent;        /* submitter name -> recent_t */
    zhashx_t *project_bytes; /* manifest hash (hex) -> its files' bytes + 1 */
};

static void recent_free(void **item)
{
    recent_t *r = *item;
    if (r)
        free(r->at);
    free(r);
    *item = NULL;
}

rm_quota_t *rm_quota_new(const rm_config_t *config)
{
    rm_quota_t *self = calloc(1, sizeof *self);
    if (!self || !(self->recent = zhashx_new()) || !(self->project_bytes = zhashx_new())) {
        if (self)
            zhashx_destroy(&self->recent);
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->recent, recent_free);
    self->max_samples = config->max_samples;
    self->max_resolution = config->max_resolution;
    self->artist_max_priority = config->artist_max_priority;
    self->quota_jobs = config->quota_jobs;
    self->quota_submits = config->quota_submits;
    self->quota_stored_bytes = config->quota_stored_gb << 30;
    return self;
}

void rm_quota_destroy(rm_quota_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->recent);
    zhashx_destroy(&(*self_p)->project_bytes);
    free(*self_p);
    *self_p = NULL;
}

int rm_quota_check_spec(const rm_quota_t *self, const char *role, const rm_job_spec_t *spec,
                        rm_err_t *err)
{
    if (self->max_samples && spec->samples > self->max_samples)
        return rm_err_set(err, RM_EINVAL,
                          "--samples %llu is above this node's limit of %llu (max_samples in "
                          "meshd.conf)",
                          (unsigned long long)spec->samples, (unsigned long long)self->max_samples);
    uint64_t side = spec->res_x > spec->res_y ? spec->res_x : spec->res_y;
    if (self->max_resolution && side > self->max_resolution)
        return rm_err_set(err, RM_EINVAL,
                          "--resolution %llux%llu is above this node's limit of %llu pixels a "
                          "side (max_resolution in meshd.conf)",
                          (unsigned long long)spec->res_x, (unsigned long long)spec->res_y,
                          (unsigned long long)self->max_resolution);
    return rm_quota_check_priority(self, role, spec->priority, err);
}

int rm_quota_check_priority(const rm_quota_t *self, const char *role, int64_t priority,
                            rm_err_t *err)
{
    bool artist = role && strcmp(role, "artist") == 0;
    int64_t bound = artist ? (int64_t)self->artist_max_priority : RM_QUOTA_MAX_PRIORITY;
    if (priority > bound || priority < -bound)
        return rm_err_set(err, RM_EINVAL, "--priority %lld is outside %lld..%lld%s",
                          (long long)priority, (long long)-bound, (long long)bound,
                          artist ? " for artists (artist_max_priority in meshd.conf)" : "");
    return 0;
}

static uint64_t unfinished_of(rm_jobs_t *jobs, const char *submitter, uint64_t enough)
{
    uint64_t n = 0;
    size_t count = 0;
    rm_job_t *const *active = rm_jobs_active(jobs, &count);
    for (size_t i = 0; i < count && n < enough; i++) {
        rm_job_t *job = active[i];
        const char *by = rm_job_spec(job)->submitter;
        n += !rm_job_finished(job) && by && strcmp(by, submitter) == 0;
    }
    return n;
}

/*  The submitter's ring, older times dropped; NULL without memory. */
static recent_t *recent_of(rm_quota_t *self, const char *submitter, int64_t now_ms)
{
    recent_t *r = zhashx_lookup(self->recent, submitter);
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r || !(r->at = calloc(self->quota_submits, sizeof *r->at))) {
            free(r);
            return NULL;
        }
        zhashx_insert(self->recent, submitter, r);
    }
    while (r->count > 0 && now_ms - r->at[r->head] >= RM_QUOTA_WINDOW_MS) {
        r->head = (r->head + 1) % self->quota_submits;
        r->count--;
    }
    return r;
}

int rm_quota_admit(rm_quota_t *self, rm_jobs_t *jobs, const char *submitter, int64_t now_ms,
                   rm_err_t *err)
{
    if (self->quota_jobs && unfinished_of(jobs, submitter, self->quota_jobs) >= self->quota_jobs)
        return rm_err_set(err, RM_EAGAIN,
                          "'%s' has %llu unfinished jobs in the mesh, its quota (quota_jobs in "
                          "meshd.conf): submit again when some finish, or cancel some",
                          submitter, (unsigned long long)self->quota_jobs);
    if (!self->quota_submits)
        return 0;
    recent_t *r = recent_of(self, submitter, now_ms);
    if (!r)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    if (r->count >= self->quota_submits) {
        int64_t wait_s = (r->at[r->head] + RM_QUOTA_WINDOW_MS - now_ms + 999) / 1000;
        return rm_err_set(err, RM_EAGAIN,
                          "'%s' submitted %llu jobs to this node in the last minute, its quota "
                          "(quota_submits in meshd.conf): submit again in %lld s",
                          submitter, (unsigned long long)self->quota_submits, (long long)wait_s);
    }
    r->at[(r->head + r->count) % self->quota_submits] = now_ms;
    r->count++;
    return 0;
}

/*  The bytes of the project `manifest` (remembered); 0 if this node does
    not hold its manifest. */
static uint64_t project_bytes(rm_quota_t *self, rm_store_t *store, const rm_hash_t *manifest)
{
    char hex[65];
    rm_hash_hex(manifest, hex);
    uintptr_t known = (uintptr_t)zhashx_lookup(self->project_bytes, hex);
    if (known)
        return (uint64_t)(known - 1);
    rm_manifest_t m = {0};
    rm_err_t ignored;
    if (rm_manifest_load(store, manifest, &m, &ignored) != 0)
        return 0; /* not here (yet): not remembered, read when it is */
    uint64_t total = 0;
    for (uint32_t i = 0; i < m.files.count; i++)
        total += m.files.items[i].size;
    rm_manifest_free(&m);
    zhashx_update(self->project_bytes, hex, (void *)(uintptr_t)(total + 1));
    return total;
}

static void fmt_gib(uint64_t bytes, char *out, size_t size)
{
    snprintf(out, size, "%.1f GiB", (double)bytes / (double)(1ull << 30));
}

int rm_quota_check_stored(rm_quota_t *self, rm_jobs_t *jobs, rm_store_t *store,
                          const char *submitter, const rm_hash_t *manifest, rm_err_t *err)
{
    if (!self->quota_stored_bytes)
        return 0;
    zhashx_t *seen = zhashx_new(); /* manifests counted */
    if (!seen)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    char hex[65];
    rm_hash_hex(manifest, hex);
    zhashx_insert(seen, hex, (void *)1);
    uint64_t held = 0, adding = project_bytes(self, store, manifest);
    bool new_project = true;
    for (size_t i = 0, n = rm_jobs_count(jobs); i < n; i++) {
        const rm_job_spec_t *spec = rm_job_spec(rm_jobs_at(jobs, i));
        if (!spec->submitter || strcmp(spec->submitter, submitter) != 0)
            continue;
        rm_hash_hex(&spec->manifest, hex);
        if (zhashx_insert(seen, hex, (void *)1) != 0) { /* counted already */
            new_project = new_project && memcmp(spec->manifest.b, manifest->b, 32) != 0;
            continue;
        }
        held += project_bytes(self, store, &spec->manifest);
    }
    zhashx_destroy(&seen);
    if (!new_project || held + adding <= self->quota_stored_bytes)
        return 0;
    char held_s[32], adding_s[32], quota_s[32];
    fmt_gib(held, held_s, sizeof held_s);
    fmt_gib(adding, adding_s, sizeof adding_s);
    fmt_gib(self->quota_stored_bytes, quota_s, sizeof quota_s);
    return rm_err_set(err, RM_EAGAIN,
                      "'%s' has %s of projects in jobs held here; this one (%s) would go over "
                      "its quota of %s (quota_stored_gb in meshd.conf): remove finished jobs "
                      "(meshctl rm) and submit again",
                      submitter, held_s, adding_s, quota_s);
}
