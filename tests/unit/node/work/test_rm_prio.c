/*  rm_prio: which job outranks another on a worker, over a real rm_jobs
    table. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_frames.h"
#include "rm_jobs.h"
#include "rm_prio.h"
#include "rm_test.h"

static char root[] = "/tmp/rm-test-prio.XXXXXX";

static rm_job_t *create(rm_jobs_t *jobs, const char *id, int64_t priority, int64_t submitted_at,
                        bool preempt)
{
    rm_job_spec_t spec = {0};
    spec.job_id = strdup(id);
    spec.name = strdup("test");
    spec.blend = strdup("scene.blend");
    memset(spec.manifest.b, 0xab, 32);
    rm_frames_parse("1-2", &spec.frames.items, &spec.frames.count, NULL);
    spec.scene = strdup("");
    spec.camera = strdup("");
    spec.engine = strdup("");
    spec.device = strdup("");
    spec.format = strdup("PNG");
    spec.chunk = 1;
    spec.priority = priority;
    spec.preempt = preempt;
    spec.submitter = strdup("tester");
    spec.submitted_at = submitted_at;
    rm_job_t *job = NULL;
    bool created = false;
    rm_err_t err;
    int rc = rm_jobs_create(jobs, &spec, &job, &created, &err);
    CHECK_MSG(rc == 0 && created, "%s", err.msg);
    rm_codec_free(&rm_job_spec_desc, &spec);
    return job;
}

static const rm_job_t *refused;

static bool ready(void *arg, rm_job_t *job)
{
    (void)arg;
    return job != refused;
}

int main(void)
{
    CHECK(mkdtemp(root) != NULL);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/jobs", root);
    rm_err_t err;
    rm_jobs_t *jobs = rm_jobs_new(dir, &err);
    CHECK_MSG(jobs != NULL, "%s", err.msg);
    rm_job_t *low = create(jobs, "00000000000000b1", 0, 1000, false);
    rm_job_t *same = create(jobs, "00000000000000b2", 0, 500, true);
    /* Nothing outranks a job of the same priority, even an older one. */
    CHECK(rm_prio_outranking(jobs, low, false, NULL, NULL) == NULL);
    rm_job_t *mid = create(jobs, "00000000000000b3", 5, 3000, false);
    rm_job_t *top_late = create(jobs, "00000000000000b4", 9, 5000, true);
    rm_job_t *top = create(jobs, "00000000000000b5", 9, 4000, false);
    (void)same;
    /* The highest priority wins, then the earlier submission. */
    CHECK(rm_prio_outranking(jobs, low, false, NULL, NULL) == top);
    CHECK(rm_prio_outranking(jobs, mid, false, NULL, NULL) == top);
    CHECK(rm_prio_outranking(jobs, top, false, NULL, NULL) == NULL);
    /* Preempting: only jobs submitted with preempt. */
    CHECK(rm_prio_outranking(jobs, low, true, NULL, NULL) == top_late);
    CHECK(rm_prio_outranking(jobs, top, true, NULL, NULL) == NULL);
    /* A job not ready here, finished, or with nothing pending does not. */
    refused = top;
    CHECK(rm_prio_outranking(jobs, low, false, ready, NULL) == top_late);
    refused = NULL;
    CHECK(rm_job_cancel(top, &err) == 0);
    CHECK(rm_prio_outranking(jobs, low, false, NULL, NULL) == top_late);
    CHECK(rm_job_assign(top_late, (uint64_t[]){1, 2}, 2, "A", RM_STAMP(1, 1), &err) == 0);
    CHECK(rm_prio_outranking(jobs, low, false, NULL, NULL) == mid);
    CHECK(rm_prio_outranking(jobs, low, true, NULL, NULL) == NULL);
    rm_job_frame_release(top_late, 2, "taken back");
    CHECK(rm_prio_outranking(jobs, low, true, NULL, NULL) == top_late);

    /* Taking back a queue: tasks of outranked (or unknown) jobs go, their
       frames released here without an attempt; the others stay, in order. */
    rm_job_t *lone = create(jobs, "00000000000000b6", 100, 6000, false);
    CHECK(rm_job_assign(low, (uint64_t[]){1}, 1, "A", RM_STAMP(1, 2), &err) == 0);
    rm_task_t queue[3] = {
        {.job_id = strdup("00000000000000b1"), .frames = {malloc(sizeof(uint64_t)), 1}},
        {.job_id = strdup("00000000000000b6"), .frames = {malloc(sizeof(uint64_t)), 1}},
        {.job_id = strdup("00000000000000ff"), .frames = {malloc(sizeof(uint64_t)), 1}}};
    for (int i = 0; i < 3; i++)
        queue[i].frames.items[0] = 1;
    size_t n = 3;
    CHECK(rm_prio_take_back(jobs, queue, &n, NULL, NULL, "A") == 2);
    CHECK(n == 1 && strcmp(queue[0].job_id, "00000000000000b6") == 0);
    const rm_frame_rec_t *r = rm_job_frame(low, 1);
    CHECK(r && r->state == RM_FRAME_PENDING && r->attempts == 0);
    CHECK(rm_prio_take_back(jobs, queue, &n, NULL, NULL, "A") == 0 && n == 1);
    rm_codec_free(&rm_task_desc, &queue[0]);
    (void)lone;
    rm_jobs_destroy(&jobs);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK(system(cmd) == 0);
    RM_TEST_DONE();
}
