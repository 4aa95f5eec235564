/*  libFuzzer target: rm_jobs_merge and rm_job_apply_changes, which take job
    records (JOB_SYNC) and frame records (JOB_DELTA) from peers.

    One jobs table in a temporary directory, created once, holds a job
    whose export, and whose changed frames as a JOB_DELTA would carry
    them, are the templates.  The first byte picks the input:
      bit 1: a whole record (0) or a JOB_DELTA's frames (1);
      bit 0: the bytes as they are (0), or the template with the rest of
             the input applied as patches (2-byte offset, 1 byte xor'd in),
             so that the fuzzer reaches the merge itself, not only the
             decoder.
    Oracle, beyond "no crash, no leak": a merged job's own export merges
    back into it with no change (idempotence). */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_frames.h"
#include "rm_jobs.h"

static char root[] = "/tmp/rm-fuzz-merge.XXXXXX";
static rm_jobs_t *jobs;
static rm_job_t *seeded;
static uint8_t *template, *frames_template;
static size_t template_len, frames_template_len;
/*  How deep the inputs got, printed at exit with FUZZ_MERGE_STATS=1. */
static unsigned long merged_count, changed_count;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    if (getenv("FUZZ_MERGE_STATS"))
        fprintf(stderr, "fuzz_job_merge: %lu merged (%lu changed), %zu jobs\n", merged_count,
                changed_count, rm_jobs_count(jobs));
    rm_jobs_destroy(&jobs);
    free(template);
    free(frames_template);
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/*  A job with some history, so that the template has every kind of frame. */
static rm_job_t *seed_job(void)
{
    rm_job_spec_t spec = {0};
    rm_job_t *job = NULL;
    bool created;
    rm_err_t err;
    spec.job_id = "00000000000000aa";
    spec.name = spec.blend = spec.scene = spec.camera = spec.engine = spec.device = "";
    spec.format = "PNG";
    spec.submitter = "fuzz";
    spec.chunk = 2;
    memset(spec.manifest.b, 0xab, 32);
    if (rm_frames_parse("1-6", &spec.frames.items, &spec.frames.count, &err) != 0 ||
        rm_jobs_create(jobs, &spec, &job, &created, &err) != 0) {
        fprintf(stderr, "fuzz_job_merge: %s\n", err.msg);
        abort();
    }
    free(spec.frames.items);
    uint64_t frames[] = {1, 2, 3};
    rm_hash_t out;
    memset(out.b, 3, 32);
    rm_job_assign(job, frames, 2, "n1", RM_STAMP(2, 1), NULL);
    rm_job_frame_done(
        job, 1,
        &(rm_frame_output_t){.output = out, .size = 10, .file = "frame_0001.png", .render_ms = 5},
        "n1", NULL, NULL);
    rm_job_frame_failed(job, 2, "boom", 3, NULL);
    rm_job_assign(job, &frames[2], 1, "n2", RM_STAMP(2, 2), NULL);
    rm_job_frame_failed(job, 3, "boom", 3, NULL);
    return job;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    rm_err_t err;
    bool whole;
    if (!mkdtemp(root) || !(jobs = rm_jobs_new(root, &err)) || !(seeded = seed_job()) ||
        rm_job_export(seeded, &template, &template_len, &err) != 0 ||
        rm_job_take_changes(seeded, &frames_template, &frames_template_len, &whole, &err) != 0 ||
        !frames_template) {
        fprintf(stderr, "fuzz_job_merge: cannot set up in %s\n", root);
        abort();
    }
    atexit(cleanup);
    return 0;
}

/*  The input as a record: raw, or the template patched. */
static uint8_t *make_input(const uint8_t *data, size_t size, const uint8_t *template,
                           size_t template_len, size_t *len)
{
    *len = data[0] & 1 ? template_len : size - 1;
    uint8_t *buf = malloc(*len ? *len : 1);
    if (!buf)
        abort();
    if (!(data[0] & 1)) {
        memcpy(buf, data + 1, size - 1);
        return buf;
    }
    memcpy(buf, template, template_len);
    for (size_t i = 1; i + 3 <= size; i += 3)
        buf[((size_t)data[i] << 8 | data[i + 1]) % template_len] ^= data[i + 2];
    *len = template_len;
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rm_job_t *job;
    bool changed;
    rm_err_t err;
    size_t len;
    if (size < 1)
        return 0;
    if (data[0] & 2) {
        uint8_t *buf = make_input(data, size, frames_template, frames_template_len, &len);
        if (rm_job_apply_changes(seeded, buf, len, &changed, &err) == 0) {
            merged_count++;
            changed_count += changed;
        }
        free(buf);
        return 0;
    }
    uint8_t *buf = make_input(data, size, template, template_len, &len);
    if (rm_jobs_merge(jobs, buf, len, &job, &changed, &err) == 0) {
        merged_count++;
        changed_count += changed;
        uint8_t *again = NULL;
        size_t again_len = 0;
        if (rm_job_export(job, &again, &again_len, &err) != 0 ||
            rm_jobs_merge(jobs, again, again_len, &job, &changed, &err) != 0 || changed) {
            fprintf(stderr, "fuzz_job_merge: a job's own export changed it: %s\n", err.msg);
            abort();
        }
        free(again);
    }
    free(buf);
    return 0;
}
