/*  rm_jobs: durable job state, journal replay, the task picker. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_frames.h"
#include "rm_jobs.h"
#include "rm_test.h"

static void make_spec(rm_job_spec_t *spec, const char *id, const char *frames, int64_t priority,
                      int64_t submitted_at)
{
    memset(spec, 0, sizeof *spec);
    spec->job_id = strdup(id);
    spec->name = strdup("test");
    spec->blend = strdup("scene.blend");
    memset(spec->manifest.b, 0xab, 32);
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

static rm_job_t *create(rm_jobs_t *jobs, const char *id, const char *frames, int64_t priority,
                        int64_t at)
{
    rm_job_spec_t spec;
    rm_job_t *job = NULL;
    bool created = false;
    rm_err_t err;
    make_spec(&spec, id, frames, priority, at);
    int rc = rm_jobs_create(jobs, &spec, &job, &created, &err);
    CHECK_MSG(rc == 0 && created, "%s", err.msg);
    rm_codec_free(&rm_job_spec_desc, &spec);
    return job;
}

int main(void)
{
    char root[] = "/tmp/rm-test-jobs.XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char jobs_dir[256];
    snprintf(jobs_dir, sizeof jobs_dir, "%s/jobs", root);
    rm_err_t err;
    rm_hash_t out;
    memset(out.b, 7, 32);

    rm_jobs_t *jobs = rm_jobs_new(jobs_dir, &err);
    CHECK_MSG(jobs, "%s", err.msg);
    rm_job_t *a = create(jobs, "00000000000000aa", "1-6", 0, 1000);
    rm_job_t *b = create(jobs, "00000000000000bb", "1-2", 5, 2000);
    CHECK(strcmp(rm_job_state(a), "queued") == 0);

    /* Idempotent: the same id and manifest is the same job. */
    rm_job_spec_t again;
    rm_job_t *same = NULL;
    bool created = true;
    make_spec(&again, "00000000000000aa", "1-6", 0, 1000);
    CHECK(rm_jobs_create(jobs, &again, &same, &created, &err) == 0 && !created && same == a);
    again.manifest.b[0] = 0;
    CHECK(rm_jobs_create(jobs, &again, &same, &created, &err) == -1 && err.code == RM_EINVAL);
    rm_codec_free(&rm_job_spec_desc, &again);

    /* Priority first: job b, two frames (chunk 2). */
    uint64_t frames[8];
    rm_job_t *picked = NULL;
    uint32_t n = rm_jobs_next_task(jobs, "n1", 1, &picked, frames, 8);
    CHECK(picked == b && n == 2 && frames[0] == 1 && frames[1] == 2);
    CHECK(rm_job_frame_done(b, 1, &out, 10, "frame_0001.png", 5, "n1", &err) == 0);
    CHECK(rm_job_frame_done(b, 2, &out, 10, "frame_0002.png", 5, "n1", &err) == 0);
    CHECK(strcmp(rm_job_state(b), "done") == 0 && rm_job_finished(b));

    /* Then job a. */
    n = rm_jobs_next_task(jobs, "n1", 1, &picked, frames, 8);
    CHECK(picked == a && n == 2 && frames[0] == 1);
    CHECK(rm_job_frame_done(a, 1, &out, 10, "frame_0001.png", 5, "n1", &err) == 0);
    /* Frame 2 fails once: back to pending with the reason. */
    CHECK(rm_job_frame_failed(a, 2, "boom", 3, &err) == 0);
    const rm_frame_rec_t *f2 = rm_job_frame(a, 2);
    CHECK(f2->state == RM_FRAME_PENDING && f2->attempts == 1 && strcmp(f2->error, "boom") == 0);
    n = rm_jobs_next_task(jobs, "n1", 1, &picked, frames, 8);
    CHECK(picked == a && n == 2 && frames[0] == 2 && frames[1] == 3);
    uint64_t version = rm_job_version(a);
    rm_job_frame_progress(a, 2, 50);
    CHECK(rm_job_version(a) > version);

    /* "Crash": reload from disk without closing anything cleanly. */
    rm_jobs_destroy(&jobs);
    jobs = rm_jobs_new(jobs_dir, &err);
    CHECK_MSG(jobs, "%s", err.msg);
    CHECK(rm_jobs_count(jobs) == 2);
    a = rm_jobs_find(jobs, "00000000000000aa");
    b = rm_jobs_find(jobs, "00000000000000bb");
    CHECK(a && b);
    CHECK(strcmp(rm_job_state(b), "done") == 0);
    CHECK(rm_job_frame(a, 1)->state == RM_FRAME_DONE);
    CHECK(memcmp(rm_job_frame(a, 1)->output.b, out.b, 32) == 0);
    CHECK(strcmp(rm_job_frame(a, 1)->file, "frame_0001.png") == 0);
    /* Assigned frames were in flight: pending again, attempts kept. */
    CHECK(rm_job_frame(a, 2)->state == RM_FRAME_PENDING && rm_job_frame(a, 2)->attempts == 1);
    CHECK(rm_job_frame(a, 3)->state == RM_FRAME_PENDING);

    /* Three failures fail the frame and the job, with the reason. */
    n = rm_jobs_next_task(jobs, "n1", 1, &picked, frames, 8);
    CHECK(picked == a && frames[0] == 2);
    CHECK(rm_job_frame_failed(a, 2, "boom", 3, &err) == 0);
    CHECK(rm_job_frame_failed(a, 2, "boom again", 3, &err) == 0);
    CHECK(strcmp(rm_job_state(a), "failed") == 0);
    rm_job_summary_t summary;
    CHECK(rm_job_summary(a, &summary, &err) == 0);
    CHECK(strstr(summary.error, "boom again") != NULL && summary.frames_failed == 1);
    rm_codec_free(&rm_job_summary_desc, &summary);
    n = rm_jobs_next_task(jobs, "n1", 1, &picked, frames, 8);
    CHECK(n == 0 && picked == NULL);

    /* Cancel survives a restart. */
    rm_job_t *c = create(jobs, "00000000000000cc", "1-3", 0, 3000);
    CHECK(rm_job_cancel(c, &err) == 0);
    rm_jobs_destroy(&jobs);
    jobs = rm_jobs_new(jobs_dir, &err);
    c = rm_jobs_find(jobs, "00000000000000cc");
    CHECK(c && strcmp(rm_job_state(c), "canceled") == 0);
    CHECK(strcmp(rm_job_state(rm_jobs_find(jobs, "00000000000000aa")), "failed") == 0);

    /* Wire view of a job. */
    rm_job_reply_t info;
    CHECK(rm_job_info(rm_jobs_find(jobs, "00000000000000bb"), &info, &err) == 0);
    CHECK(info.frames.count == 2 && strcmp(info.frames.items[0].state, "done") == 0);
    rm_codec_free(rm_msg_desc(RM_MSG_JOB_REPLY), &info);

    /* A torn journal tail (crash mid-append) is dropped, the rest kept. */
    char journal[512];
    snprintf(journal, sizeof journal, "%s/00000000000000cc/job.journal", jobs_dir);
    FILE *j = fopen(journal, "ab");
    fwrite("\x00\x00\x10\x00garbage", 1, 11, j);
    fclose(j);
    rm_jobs_destroy(&jobs);
    jobs = rm_jobs_new(jobs_dir, &err);
    CHECK(jobs && rm_jobs_count(jobs) == 3);

    /* Journal compaction keeps the entry that triggered it: many retries of
       one frame, then done (and a cancelled job likewise), survive a reload. */
    rm_job_t *d = create(jobs, "00000000000000dd", "1", 0, 4000);
    for (int i = 0; i < 70; i++) {
        n = rm_jobs_next_task(jobs, "n1", 1, &picked, frames, 8);
        CHECK(picked == d && n == 1);
        CHECK(rm_job_frame_failed(d, 1, "flaky", 1000, &err) == 0);
    }
    n = rm_jobs_next_task(jobs, "n1", 1, &picked, frames, 8);
    CHECK(rm_job_frame_done(d, 1, &out, 10, "frame_0001.png", 5, "n1", &err) == 0);
    CHECK(strcmp(rm_job_frame(d, 1)->error, "") == 0);
    rm_jobs_destroy(&jobs);
    jobs = rm_jobs_new(jobs_dir, &err);
    d = rm_jobs_find(jobs, "00000000000000dd");
    CHECK(d && strcmp(rm_job_state(d), "done") == 0 && rm_job_frame(d, 1)->attempts == 70);

    /* Bad ids are refused. */
    rm_job_spec_t bad;
    make_spec(&bad, "../etc", "1", 0, 1);
    CHECK(rm_jobs_create(jobs, &bad, &same, &created, &err) == -1 && err.code == RM_EINVAL);
    rm_codec_free(&rm_job_spec_desc, &bad);

    rm_jobs_destroy(&jobs);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK(system(cmd) == 0);
    RM_TEST_DONE();
}
