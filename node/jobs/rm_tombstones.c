#include "rm_tombstones.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "rm_cred.h"
#include "rm_fs.h"
#include "rm_signed.h"

typedef struct {
    RM_LIST(rm_tombstone_t) items;
} file_t;

static const rm_field_t tombstone_fields[] = {
    RM_FIELD(rm_tombstone_t, job_id, RM_F_STR, 64, "the job removed"),
    RM_FIELD(rm_tombstone_t, removed_at, RM_F_I64, 0, "unix ms"),
    RM_FIELD(rm_tombstone_t, removal, RM_F_BIN, 2 * RM_SIGNED_MAX, "the signed removal"),
};
static const rm_struct_desc_t tombstone_desc =
    RM_DESC(rm_tombstone_t, "tombstone", tombstone_fields, "a job removed");
static const rm_field_t file_fields[] = {
    RM_FIELD_LIST_OF(file_t, items, tombstone_desc, RM_MAX_TOMBSTONES, "every tombstone"),
};
static const rm_struct_desc_t file_desc =
    RM_DESC(file_t, "tombstones", file_fields, "the jobs removed here");

struct _rm_tombstones_t {
    char *path;
    zhashx_t *by_id; /* job id -> rm_tombstone_t (owned) */
};

static void tombstone_free(void **item)
{
    rm_tombstone_t *t = *item;
    if (t) {
        rm_codec_free(&tombstone_desc, t);
        free(t);
    }
    *item = NULL;
}

static void load(rm_tombstones_t *self)
{
    uint8_t *data = NULL;
    size_t len = 0, used = 0;
    rm_err_t err;
    file_t f = {0};
    if (rm_secret_read(self->path, &data, &len, 64u << 20, &err) != 0) {
        if (err.code != RM_ENOTFOUND)
            fprintf(stderr, "meshd: tombstones not read: %s\n", err.msg);
        return;
    }
    if (rm_codec_decode(&file_desc, &f, data, len, &used, &err) != 0) {
        fprintf(stderr, "meshd: %s is damaged (%s): starting without tombstones\n", self->path,
                err.msg);
        free(data);
        return;
    }
    for (uint32_t i = 0; i < f.items.count; i++) {
        rm_tombstone_t *t = malloc(sizeof *t);
        if (!t)
            break;
        *t = f.items.items[i];
        memset(&f.items.items[i], 0, sizeof f.items.items[i]);
        zhashx_update(self->by_id, t->job_id, t);
    }
    rm_codec_free(&file_desc, &f);
    free(data);
}

rm_tombstones_t *rm_tombstones_new(const char *path)
{
    rm_tombstones_t *self = calloc(1, sizeof *self);
    if (!self || !(self->path = strdup(path)) || !(self->by_id = zhashx_new())) {
        if (self)
            free(self->path);
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->by_id, tombstone_free);
    load(self);
    return self;
}

void rm_tombstones_destroy(rm_tombstones_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->by_id);
    free((*self_p)->path);
    free(*self_p);
    *self_p = NULL;
}

static int save(rm_tombstones_t *self, rm_err_t *err)
{
    file_t f = {0};
    size_t n = zhashx_size(self->by_id);
    f.items.items = calloc(n ? n : 1, sizeof(rm_tombstone_t));
    if (!f.items.items)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    /* Shallow copies: only encoded. */
    for (rm_tombstone_t *t = zhashx_first(self->by_id); t; t = zhashx_next(self->by_id))
        f.items.items[f.items.count++] = *t;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = rm_codec_encode(&file_desc, &f, &buf, &len, err);
    if (rc == 0)
        rc = rm_fs_write_atomic(self->path, buf, len, 0600, err);
    free(buf);
    free(f.items.items);
    return rc;
}

int rm_tombstones_add(rm_tombstones_t *self, const char *job_id, int64_t removed_at,
                      const rm_bin_t *removal, rm_err_t *err)
{
    if (zhashx_lookup(self->by_id, job_id))
        return 0;
    if (zhashx_size(self->by_id) >= RM_MAX_TOMBSTONES)
        return rm_err_set(err, RM_ENOSPC, "%d jobs removed and remembered: no room for more",
                          RM_MAX_TOMBSTONES);
    rm_tombstone_t *t = calloc(1, sizeof *t);
    rm_tombstone_t src = {.job_id = (char *)job_id, .removed_at = removed_at, .removal = *removal};
    if (!t || rm_codec_copy(&tombstone_desc, t, &src, err) != 0) {
        free(t);
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    }
    zhashx_update(self->by_id, t->job_id, t);
    return save(self, err) == 0 ? 1 : -1;
}

const rm_tombstone_t *rm_tombstones_find(rm_tombstones_t *self, const char *job_id)
{
    return job_id ? zhashx_lookup(self->by_id, job_id) : NULL;
}

size_t rm_tombstones_expire(rm_tombstones_t *self, int64_t before_ms)
{
    zlistx_t *old = zlistx_new();
    size_t n = 0;
    if (!old)
        return 0;
    zlistx_set_duplicator(old, (zlistx_duplicator_fn *)strdup);
    zlistx_set_destructor(old, (zlistx_destructor_fn *)zstr_free);
    for (rm_tombstone_t *t = zhashx_first(self->by_id); t; t = zhashx_next(self->by_id))
        if (t->removed_at < before_ms)
            zlistx_add_end(old, (void *)zhashx_cursor(self->by_id));
    for (const char *id = zlistx_first(old); id; id = zlistx_next(old)) {
        zhashx_delete(self->by_id, id);
        n++;
    }
    zlistx_destroy(&old);
    if (n > 0)
        save(self, NULL);
    return n;
}

size_t rm_tombstones_count(rm_tombstones_t *self)
{
    return zhashx_size(self->by_id);
}
