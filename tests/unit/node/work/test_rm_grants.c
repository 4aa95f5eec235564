/*  rm_grants: a worker's signed assignments, held until their frames end. */
#define _XOPEN_SOURCE 700
#include "node/jobs/job_fixtures.h"

#include <unistd.h>

#include "rm_grants.h"
#include "rm_test.h"

static char root[] = "/tmp/rm-test-grants.XXXXXX";

static rm_task_t task_of(const char *job_id, uint64_t *frames, uint32_t n, uint8_t *sigs)
{
    for (uint32_t k = 0; k < n; k++)
        memset(sigs + k * 64, (int)(frames[k] & 0xff), 64);
    return (rm_task_t){.job_id = (char *)job_id,
                       .frames = {frames, n},
                       .stamp = RM_STAMP(4, 7),
                       .grants = {sigs, (size_t)n * 64}};
}

static void test_take_find_drop(void)
{
    rm_grants_t *g = rm_grants_new();
    uint64_t frames[] = {3, 4};
    uint8_t sigs[128];
    rm_task_t task = task_of("ab", frames, 2, sigs);
    rm_grants_take(g, "n1", NULL, &task);
    const rm_job_grant_t *got = rm_grants_find(g, "ab", 4);
    CHECK(rm_grants_count(g) == 2 && got && strcmp(got->by, "n1") == 0);
    CHECK(got && got->stamp == RM_STAMP(4, 7) && got->sig[0] == 4 && got->sig[63] == 4);
    CHECK(rm_grants_find(g, "ab", 5) == NULL && rm_grants_find(g, "cd", 3) == NULL);
    /* A later grant of the frame replaces the earlier. */
    task.stamp = RM_STAMP(5, 1);
    rm_grants_take(g, "n2", NULL, &task);
    got = rm_grants_find(g, "ab", 3);
    CHECK(rm_grants_count(g) == 2 && got && strcmp(got->by, "n2") == 0 &&
          got->stamp == RM_STAMP(5, 1));
    /* The coordinator's credential is kept with each grant. */
    uint8_t cred_bytes[] = {7, 7, 7};
    rm_bin_t cred = {cred_bytes, sizeof cred_bytes};
    rm_grants_take(g, "n3", &cred, &task);
    got = rm_grants_find(g, "ab", 4);
    CHECK(got && got->cred.len == 3 && got->cred.data != cred_bytes && got->cred.data[2] == 7);
    rm_grants_drop(g, "ab", 3);
    CHECK(rm_grants_find(g, "ab", 3) == NULL && rm_grants_count(g) == 1);
    rm_grants_destroy(&g);
    CHECK(g == NULL);
}

/*  A task without one signature per frame (a report, an older
    coordinator) leaves nothing to hold. */
static void test_unsigned_tasks_hold_nothing(void)
{
    rm_grants_t *g = rm_grants_new();
    uint64_t frames[] = {1, 2};
    uint8_t sigs[128];
    rm_task_t task = task_of("ab", frames, 2, sigs);
    task.grants.len = 64;
    rm_grants_take(g, "n1", NULL, &task);
    task.grants = (rm_bin_t){0};
    rm_grants_take(g, "n1", NULL, &task);
    CHECK(rm_grants_count(g) == 0);
    rm_grants_destroy(&g);
}

/*  Frames that ended, and jobs that are gone, lose their grants. */
static void test_prune(void)
{
    rm_err_t err;
    rm_jobs_t *jobs = rm_jobs_new(root, &err);
    rm_job_spec_t spec;
    rm_job_t *job = NULL;
    bool created;
    fx_spec(&spec, "ab", "1-2", 1, 0, 1000);
    CHECK_MSG(jobs && rm_jobs_create(jobs, &spec, &job, &created, &err) == 0, "%s", err.msg);
    rm_codec_free(&rm_job_spec_desc, &spec);
    rm_grants_t *g = rm_grants_new();
    uint64_t frames[] = {1, 2};
    uint8_t sigs[128];
    rm_task_t task = task_of("ab", frames, 2, sigs);
    rm_grants_take(g, "n1", NULL, &task);
    task.job_id = "cd"; /* a job this node does not hold */
    rm_grants_take(g, "n1", NULL, &task);
    CHECK(rm_grants_count(g) == 4);
    rm_frame_output_t out = {.size = 1, .file = "f.png"};
    memset(out.output.b, 9, 32);
    CHECK(rm_job_frame_done(job, 1, &out, "n1", NULL, &err) == 0);
    rm_grants_prune(g, jobs);
    CHECK(rm_grants_count(g) == 1 && rm_grants_find(g, "ab", 2) != NULL);
    rm_grants_destroy(&g);
    rm_jobs_destroy(&jobs);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(mkdtemp(root) != NULL);
    RM_RUN(test_take_find_drop);
    RM_RUN(test_unsigned_tasks_hold_nothing);
    RM_RUN(test_prune);
    fx_remove_tree(root);
    RM_TEST_DONE();
}
