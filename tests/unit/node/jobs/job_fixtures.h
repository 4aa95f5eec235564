/*  What the jobs tests share: a spec, a scratch directory, the records of
    format 1 described on their own (so that a test of old files does not
    lean on the code it checks), and a scheduler's pick.  Include it
    first, after `#define _XOPEN_SOURCE 700` (nftw). */
#ifndef JOB_FIXTURES_H
#define JOB_FIXTURES_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rm_frames.h"
#include "rm_jobs.h"

#define FX_UNUSED __attribute__((unused))

/*  A spec with every string set; manifest bytes all `manifest`. */
static inline void fx_spec(rm_job_spec_t *spec, const char *id, const char *frames,
                           uint8_t manifest, int64_t priority, int64_t submitted_at)
{
    memset(spec, 0, sizeof *spec);
    spec->job_id = strdup(id);
    spec->name = strdup("test");
    spec->blend = strdup("scene.blend");
    memset(spec->manifest.b, manifest, 32);
    rm_frames_parse(frames, &spec->frames.items, &spec->frames.count, NULL);
    spec->scene = strdup("");
    spec->camera = strdup("");
    spec->engine = strdup("");
    spec->device = strdup("");
    spec->format = strdup("PNG");
    spec->chunk = 2;
    spec->priority = priority;
    spec->submitter = strdup("tester");
    spec->submitted_at = submitted_at;
}

static inline int fx_remove_entry(const char *path, const struct stat *st, int flag,
                                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void fx_remove_tree(const char *path)
{
    nftw(path, fx_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void fx_write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
}

/*  What a scheduler hands out (rm_sched, through rm_job_assign): up to
    `max` consecutive pending frames from the job's first pending one,
    none of a cancelled or failed job.  Returns how many. */
static inline uint32_t fx_assign_next(rm_job_t *job, const char *node, uint64_t stamp,
                                      uint64_t *frames, uint32_t max)
{
    uint32_t n = 0;
    size_t i = 0, count = rm_job_frame_count(job);
    const char *state = rm_job_state(job);
    if (strcmp(state, "canceled") == 0 || strcmp(state, "failed") == 0)
        return 0;
    while (i < count && rm_job_frame_at(job, i)->state != RM_FRAME_PENDING)
        i++;
    for (; i < count && n < max && rm_job_frame_at(job, i)->state == RM_FRAME_PENDING; i++)
        frames[n++] = rm_job_frame_at(job, i)->frame;
    if (n > 0 && rm_job_assign(job, frames, n, node, stamp, NULL) != 0)
        return 0;
    return n;
}

/*  A failed attempt on `node`, as it happens: the frame is assigned to
    node, which reports the failure.  A done or failed frame is left. */
static inline int fx_fail_on(rm_job_t *job, uint64_t frame, const char *node, const char *reason,
                             uint64_t max_attempts, rm_err_t *err)
{
    const rm_frame_rec_t *f = rm_job_frame(job, frame);
    if (f && (f->state == RM_FRAME_DONE || f->state == RM_FRAME_FAILED))
        return 0;
    uint64_t stamp = f ? f->epoch : 0;
    if (rm_job_assign(job, &frame, 1, node, stamp, err) != 0)
        return -1;
    return rm_job_frame_failed(job, frame, reason, max_attempts, err);
}

/*  Format 1, as it was written before failed_on. */
typedef struct {
    uint64_t version;
    rm_job_spec_t spec;
    bool canceled;
    char *error;
    int64_t started_at;
    int64_t finished_at;
    RM_LIST(rm_frame_rec_t) frames;
} fx_v1_record_t;

typedef struct {
    uint64_t kind;
    rm_frame_rec_t frame;
    char *text;
    int64_t at;
} fx_v1_entry_t;

static const rm_field_t fx_v1_frame_fields[] = {
    RM_FIELD(rm_frame_rec_t, frame, RM_F_U64, 0, ""),
    RM_FIELD(rm_frame_rec_t, state, RM_F_U64, 0, ""),
    RM_FIELD(rm_frame_rec_t, epoch, RM_F_U64, 0, ""),
    RM_FIELD(rm_frame_rec_t, node, RM_F_STR, 0, ""),
    RM_FIELD(rm_frame_rec_t, attempts, RM_F_U64, 0, ""),
    RM_FIELD(rm_frame_rec_t, render_ms, RM_F_U64, 0, ""),
    RM_FIELD(rm_frame_rec_t, output, RM_F_B32, 0, ""),
    RM_FIELD(rm_frame_rec_t, size, RM_F_U64, 0, ""),
    RM_FIELD(rm_frame_rec_t, file, RM_F_STR, 0, ""),
    RM_FIELD(rm_frame_rec_t, error, RM_F_STR, 0, ""),
};
static const rm_struct_desc_t fx_v1_frame_desc =
    RM_DESC(rm_frame_rec_t, "f", fx_v1_frame_fields, "");
static const rm_field_t fx_v1_record_fields[] = {
    RM_FIELD(fx_v1_record_t, version, RM_F_U64, 0, ""),
    RM_FIELD_STRUCT(fx_v1_record_t, spec, rm_job_spec_desc, ""),
    RM_FIELD(fx_v1_record_t, canceled, RM_F_BOOL, 0, ""),
    RM_FIELD(fx_v1_record_t, error, RM_F_STR, 0, ""),
    RM_FIELD(fx_v1_record_t, started_at, RM_F_I64, 0, ""),
    RM_FIELD(fx_v1_record_t, finished_at, RM_F_I64, 0, ""),
    RM_FIELD_LIST_OF(fx_v1_record_t, frames, fx_v1_frame_desc, 0, ""),
};
static const rm_struct_desc_t fx_v1_record_desc FX_UNUSED =
    RM_DESC(fx_v1_record_t, "r", fx_v1_record_fields, "");
static const rm_field_t fx_v1_entry_fields[] = {
    RM_FIELD(fx_v1_entry_t, kind, RM_F_U64, 0, ""),
    RM_FIELD_STRUCT(fx_v1_entry_t, frame, fx_v1_frame_desc, ""),
    RM_FIELD(fx_v1_entry_t, text, RM_F_STR, 0, ""),
    RM_FIELD(fx_v1_entry_t, at, RM_F_I64, 0, ""),
};
static const rm_struct_desc_t fx_v1_entry_desc FX_UNUSED =
    RM_DESC(fx_v1_entry_t, "e", fx_v1_entry_fields, "");

/*  The job of test_formats as format 1 wrote it, under ROOT/<id>:
    frame 1 done on n1, frame 2 assigned to n2, frame 3 pending; one
    journal entry: frame 3 failed once ("crashed"). */
static inline void fx_write_v1_job(const char *root, const char *id)
{
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/%s", root, id);
    mkdir(root, 0700);
    mkdir(dir, 0700);
    rm_frame_rec_t frames[3] = {{.frame = 1, .state = RM_FRAME_DONE, .node = "n1", .size = 10},
                                {.frame = 2, .state = RM_FRAME_ASSIGNED, .epoch = 1, .node = "n2"},
                                {.frame = 3}};
    memset(frames[0].output.b, 7, 32);
    fx_v1_record_t rec = {.version = 1, .error = "", .started_at = 5, .frames = {frames, 3}};
    fx_spec(&rec.spec, id, "1-3", 0xab, 0, 100);
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_codec_encode(&fx_v1_record_desc, &rec, &buf, &len, NULL);
    snprintf(path, sizeof path, "%s/job.state", dir);
    fx_write_file(path, buf, len);
    free(buf);
    fx_v1_entry_t entry = {.kind = 1,
                           .frame = {.frame = 3, .node = "n3", .attempts = 1, .error = "crashed"}};
    buf = calloc(1, 4);
    len = 4;
    rm_codec_encode(&fx_v1_entry_desc, &entry, &buf, &len, NULL);
    buf[2] = (uint8_t)((len - 4) >> 8);
    buf[3] = (uint8_t)(len - 4);
    snprintf(path, sizeof path, "%s/job.journal", dir);
    fx_write_file(path, buf, len);
    free(buf);
    rm_codec_free(&rm_job_spec_desc, &rec.spec);
}

#endif
