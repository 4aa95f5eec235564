#include "rm_grants.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

typedef struct {
    rm_job_grant_t grant; /* grant.cred points to cred below */
    char job_id[RM_MAX_NAME + 1];
    uint64_t frame;
    uint8_t cred[];
} held_t;

struct _rm_grants_t {
    zhashx_t *by_frame; /* "job/frame" -> held_t */
};

static void held_free(void **item)
{
    free(*item);
    *item = NULL;
}

rm_grants_t *rm_grants_new(void)
{
    rm_grants_t *self = calloc(1, sizeof *self);
    if (!self || !(self->by_frame = zhashx_new())) {
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->by_frame, held_free);
    return self;
}

void rm_grants_destroy(rm_grants_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->by_frame);
    free(*self_p);
    *self_p = NULL;
}

static void grant_key_of(const char *job_id, uint64_t frame, char *key, size_t size)
{
    snprintf(key, size, "%s/%" PRIu64, job_id, frame);
}

void rm_grants_take(rm_grants_t *self, const char *coordinator, const rm_bin_t *cred,
                    const rm_task_t *task)
{
    uint32_t n = task->frames.count;
    size_t cred_len = cred ? cred->len : 0;
    if (!coordinator || strlen(coordinator) > RM_MAX_NAME || strlen(task->job_id) > RM_MAX_NAME ||
        n == 0 || task->grants.len != (size_t)n * 64 ||
        (task->gens.count != 0 && task->gens.count != n))
        return;
    for (uint32_t k = 0; k < n; k++) {
        held_t *h = calloc(1, sizeof *h + cred_len);
        if (!h)
            return;
        if (cred_len)
            memcpy(h->cred, cred->data, cred_len);
        h->grant.cred = (rm_bin_t){.data = cred_len ? h->cred : NULL, .len = cred_len};
        snprintf(h->grant.by, sizeof h->grant.by, "%s", coordinator);
        h->grant.stamp = task->stamp;
        h->grant.gen = task->gens.count ? task->gens.items[k] : 0;
        memcpy(h->grant.sig, task->grants.data + (size_t)k * 64, 64);
        snprintf(h->job_id, sizeof h->job_id, "%s", task->job_id);
        h->frame = task->frames.items[k];
        char key[RM_MAX_NAME + 32];
        grant_key_of(h->job_id, h->frame, key, sizeof key);
        zhashx_update(self->by_frame, key, h);
    }
}

const rm_job_grant_t *rm_grants_find(rm_grants_t *self, const char *job_id, uint64_t frame)
{
    char key[RM_MAX_NAME + 32];
    grant_key_of(job_id, frame, key, sizeof key);
    held_t *h = zhashx_lookup(self->by_frame, key);
    return h ? &h->grant : NULL;
}

void rm_grants_drop(rm_grants_t *self, const char *job_id, uint64_t frame)
{
    char key[RM_MAX_NAME + 32];
    grant_key_of(job_id, frame, key, sizeof key);
    zhashx_delete(self->by_frame, key);
}

void rm_grants_prune(rm_grants_t *self, rm_jobs_t *jobs)
{
    zlistx_t *keys = zhashx_keys(self->by_frame);
    if (!keys)
        return;
    for (const char *key = zlistx_first(keys); key; key = zlistx_next(keys)) {
        const held_t *h = zhashx_lookup(self->by_frame, key);
        rm_job_t *job = h ? rm_jobs_find(jobs, h->job_id) : NULL;
        const rm_frame_rec_t *rec = job ? rm_job_frame(job, h->frame) : NULL;
        if (!rec || rm_job_finished(job) || rec->state == RM_FRAME_DONE ||
            rec->state == RM_FRAME_FAILED)
            zhashx_delete(self->by_frame, key);
    }
    zlistx_destroy(&keys);
}

size_t rm_grants_count(rm_grants_t *self)
{
    return zhashx_size(self->by_frame);
}
