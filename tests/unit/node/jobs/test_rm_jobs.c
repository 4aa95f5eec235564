/*  rm_jobs: durable job state, journal replay, the task picker. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/*  Format 1 as it was written before failed_on, described here on its own
    so that the test does not lean on the code it checks. */
typedef struct {
    uint64_t version;
    rm_job_spec_t spec;
    bool canceled;
    char *error;
    int64_t started_at;
    int64_t finished_at;
    RM_LIST(rm_frame_rec_t) frames;
} v1_record_t;

typedef struct {
    uint64_t kind;
    rm_frame_rec_t frame;
    char *text;
    int64_t at;
} v1_entry_t;

static const rm_field_t v1_frame_fields[] = {
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
static const rm_struct_desc_t v1_frame_desc = RM_DESC(rm_frame_rec_t, "f", v1_frame_fields, "");
static const rm_field_t v1_record_fields[] = {
    RM_FIELD(v1_record_t, version, RM_F_U64, 0, ""),
    RM_FIELD_STRUCT(v1_record_t, spec, rm_job_spec_desc, ""),
    RM_FIELD(v1_record_t, canceled, RM_F_BOOL, 0, ""),
    RM_FIELD(v1_record_t, error, RM_F_STR, 0, ""),
    RM_FIELD(v1_record_t, started_at, RM_F_I64, 0, ""),
    RM_FIELD(v1_record_t, finished_at, RM_F_I64, 0, ""),
    RM_FIELD_LIST_OF(v1_record_t, frames, v1_frame_desc, 0, ""),
};
static const rm_struct_desc_t v1_record_desc = RM_DESC(v1_record_t, "r", v1_record_fields, "");
static const rm_field_t v1_entry_fields[] = {
    RM_FIELD(v1_entry_t, kind, RM_F_U64, 0, ""),
    RM_FIELD_STRUCT(v1_entry_t, frame, v1_frame_desc, ""),
    RM_FIELD(v1_entry_t, text, RM_F_STR, 0, ""),
    RM_FIELD(v1_entry_t, at, RM_F_I64, 0, ""),
};
static const rm_struct_desc_t v1_entry_desc = RM_DESC(v1_entry_t, "e", v1_entry_fields, "");

static void write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(data, 1, len, f) == len);
    if (f)
        fclose(f);
}

/*  A job written by format 1 (snapshot + journal) loads and is rewritten as
    format 2; a format this build does not know is refused by name. */
static void test_formats(const char *root)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/v1", root);
    CHECK(mkdir(dir, 0700) == 0);
    snprintf(dir, sizeof dir, "%s/v1/00000000000000ee", root);
    CHECK(mkdir(dir, 0700) == 0);
    rm_frame_rec_t frames[3] = {{.frame = 1, .state = RM_FRAME_DONE, .node = "n1", .size = 10},
                                {.frame = 2, .state = RM_FRAME_ASSIGNED, .epoch = 1, .node = "n2"},
                                {.frame = 3}};
    memset(frames[0].output.b, 7, 32);
    v1_record_t rec = {.version = 1, .error = "", .started_at = 5, .frames = {frames, 3}};
    make_spec(&rec.spec, "00000000000000ee", "1-3", 0, 100);
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err;
    CHECK(rm_codec_encode(&v1_record_desc, &rec, &buf, &len, &err) == 0);
    snprintf(path, sizeof path, "%s/job.state", dir);
    write_file(path, buf, len);
    free(buf);
    /* One journal entry: frame 3 failed once on n3. */
    v1_entry_t entry = {.kind = 1,
                        .frame = {.frame = 3, .node = "n3", .attempts = 1, .error = "crashed"}};
    buf = malloc(4);
    len = 4;
    CHECK(rm_codec_encode(&v1_entry_desc, &entry, &buf, &len, &err) == 0);
    buf[0] = buf[1] = 0;
    buf[2] = (uint8_t)((len - 4) >> 8);
    buf[3] = (uint8_t)(len - 4);
    snprintf(path, sizeof path, "%s/job.journal", dir);
    write_file(path, buf, len);
    free(buf);
    rm_codec_free(&rm_job_spec_desc, &rec.spec);

    snprintf(path, sizeof path, "%s/v1", root);
    rm_jobs_t *jobs = rm_jobs_new(path, &err);
    rm_job_t *job = jobs ? rm_jobs_find(jobs, "00000000000000ee") : NULL;
    CHECK_MSG(job != NULL, "a format 1 job was not loaded");
    if (job) {
        CHECK(rm_job_frame(job, 1)->state == RM_FRAME_DONE && rm_job_frame(job, 1)->size == 10);
        CHECK(rm_job_frame(job, 2)->state == RM_FRAME_PENDING);
        CHECK(rm_job_frame(job, 3)->attempts == 1 && rm_job_frame(job, 3)->failed_on.count == 0);
        CHECK(strcmp(rm_job_frame(job, 3)->error, "crashed") == 0);
    }
    /* Rewritten at load as format 2: [version 2, ...]. */
    snprintf(path, sizeof path, "%s/job.state", dir);
    FILE *f = fopen(path, "rb");
    uint8_t head[2] = {0};
    CHECK(f && fread(head, 1, 2, f) == 2 && head[0] == 0x97 && head[1] == 2);
    if (f)
        fclose(f);
    rm_jobs_destroy(&jobs);

    uint8_t v3[] = {0x97, 0x03, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0};
    CHECK(rm_jobs_check_record(v3, sizeof v3, false, &err) == -1 && err.code == RM_EPROTO);
    CHECK(strstr(err.msg, "format 3") != NULL);
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
    CHECK(
        rm_job_frame_done(b, 1,
                          &(rm_frame_output_t){
                              .output = out, .size = 10, .file = "frame_0001.png", .render_ms = 5},
                          "n1", &err) == 0);
    CHECK(
        rm_job_frame_done(b, 2,
                          &(rm_frame_output_t){
                              .output = out, .size = 10, .file = "frame_0002.png", .render_ms = 5},
                          "n1", &err) == 0);
    CHECK(strcmp(rm_job_state(b), "done") == 0 && rm_job_finished(b));

    /* Then job a. */
    n = rm_jobs_next_task(jobs, "n1", 1, &picked, frames, 8);
    CHECK(picked == a && n == 2 && frames[0] == 1);
    CHECK(
        rm_job_frame_done(a, 1,
                          &(rm_frame_output_t){
                              .output = out, .size = 10, .file = "frame_0001.png", .render_ms = 5},
                          "n1", &err) == 0);
    /* Frame 2 fails once: back to pending with the reason. */
    CHECK(rm_job_frame_failed(a, 2, "boom", 3, &err) == 0);
    const rm_frame_rec_t *f2 = rm_job_frame(a, 2);
    CHECK(f2->state == RM_FRAME_PENDING && f2->attempts == 1 && strcmp(f2->error, "n1: boom") == 0);
    /* The old call records the node the frame was assigned to. */
    CHECK(f2->failed_on.count == 1 && strcmp(f2->failed_on.items[0], "n1") == 0);
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
    CHECK(rm_frame_failed_on(rm_job_frame(a, 2), "n1") && rm_job_failures_on(a, "n1") == 1);

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
    CHECK(
        rm_job_frame_done(d, 1,
                          &(rm_frame_output_t){
                              .output = out, .size = 10, .file = "frame_0001.png", .render_ms = 5},
                          "n1", &err) == 0);
    CHECK(strcmp(rm_job_frame(d, 1)->error, "") == 0);
    rm_jobs_destroy(&jobs);
    jobs = rm_jobs_new(jobs_dir, &err);
    d = rm_jobs_find(jobs, "00000000000000dd");
    CHECK(d && strcmp(rm_job_state(d), "done") == 0 && rm_job_frame(d, 1)->attempts == 70);

    /* A failure on a named node; the same node counts once. */
    rm_job_t *e = create(jobs, "00000000000000ee", "1", 0, 5000);
    CHECK(rm_job_frame_failed_on(e, 1, "n2", "boom", 5, &err) == 0);
    CHECK(rm_job_frame_failed_on(e, 1, "n1", "boom", 5, &err) == 0);
    CHECK(rm_job_frame_failed_on(e, 1, "n2", "boom", 5, &err) == 0);
    const rm_frame_rec_t *e1 = rm_job_frame(e, 1);
    CHECK(e1->attempts == 3 && e1->failed_on.count == 2);
    CHECK(strcmp(e1->failed_on.items[0], "n1") == 0 && strcmp(e1->failed_on.items[1], "n2") == 0);
    char long_name[RM_MAX_NAME + 2];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    CHECK(rm_job_frame_failed_on(e, 1, long_name, "boom", 5, &err) == -1 && err.code == RM_EINVAL);

    test_formats(root);

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
