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

/*  A jobs table of its own for each case: low (0, submitted at 1000) and
    same (0, at 500, preempt); with `all`, also mid (5), top_late (9, at
    5000, preempt) and top (9, at 4000). */
typedef struct {
    rm_jobs_t *jobs;
    rm_job_t *low, *same, *mid, *top_late, *top;
} table_t;

static void open_table(table_t *t, bool all)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/%s", root, rm_test_case);
    rm_err_t err;
    memset(t, 0, sizeof *t);
    t->jobs = rm_jobs_new(dir, &err);
    CHECK_MSG(t->jobs != NULL, "%s", err.msg);
    t->low = create(t->jobs, "00000000000000b1", 0, 1000, false);
    t->same = create(t->jobs, "00000000000000b2", 0, 500, true);
    if (!all)
        return;
    t->mid = create(t->jobs, "00000000000000b3", 5, 3000, false);
    t->top_late = create(t->jobs, "00000000000000b4", 9, 5000, true);
    t->top = create(t->jobs, "00000000000000b5", 9, 4000, false);
}

/*  top canceled, top_late with frame 1 assigned and frame 2 pending again. */
static void settle(table_t *t)
{
    rm_err_t err;
    CHECK(rm_job_cancel(t->top, NULL, &err) == 0);
    CHECK(rm_job_assign(t->top_late, (uint64_t[]){1, 2}, 2, "A", RM_STAMP(1, 1), &err) == 0);
    rm_job_frame_release(t->top_late, 2, "taken back");
}

static void close_table(table_t *t)
{
    rm_jobs_destroy(&t->jobs);
}

/*  Nothing outranks a job of the same priority, even an older one. */
static void test_nothing_outranks_a_job_of_the_same_priority(void)
{
    table_t t;
    open_table(&t, false);
    CHECK(rm_prio_outranking(t.jobs, t.low, false, NULL, NULL) == NULL);
    close_table(&t);
}

/*  The highest priority wins, then the earlier submission. */
static void test_the_highest_priority_wins_then_the_earlier_submission(void)
{
    table_t t;
    open_table(&t, true);
    CHECK(rm_prio_outranking(t.jobs, t.low, false, NULL, NULL) == t.top);
    CHECK(rm_prio_outranking(t.jobs, t.mid, false, NULL, NULL) == t.top);
    CHECK(rm_prio_outranking(t.jobs, t.top, false, NULL, NULL) == NULL);
    close_table(&t);
}

/*  Preempting: only jobs submitted with preempt. */
static void test_preempting_considers_only_jobs_submitted_with_preempt(void)
{
    table_t t;
    open_table(&t, true);
    CHECK(rm_prio_outranking(t.jobs, t.low, true, NULL, NULL) == t.top_late);
    CHECK(rm_prio_outranking(t.jobs, t.top, true, NULL, NULL) == NULL);
    close_table(&t);
}

static void test_a_job_not_ready_here_does_not_outrank(void)
{
    table_t t;
    open_table(&t, true);
    refused = t.top;
    CHECK(rm_prio_outranking(t.jobs, t.low, false, ready, NULL) == t.top_late);
    refused = NULL;
    close_table(&t);
}

static void test_a_finished_job_does_not_outrank(void)
{
    table_t t;
    rm_err_t err;
    open_table(&t, true);
    CHECK(rm_job_cancel(t.top, NULL, &err) == 0);
    CHECK(rm_prio_outranking(t.jobs, t.low, false, NULL, NULL) == t.top_late);
    close_table(&t);
}

/*  Until one of its frames is pending again. */
static void test_a_job_with_nothing_pending_does_not_outrank(void)
{
    table_t t;
    rm_err_t err;
    open_table(&t, true);
    CHECK(rm_job_cancel(t.top, NULL, &err) == 0);
    CHECK(rm_job_assign(t.top_late, (uint64_t[]){1, 2}, 2, "A", RM_STAMP(1, 1), &err) == 0);
    CHECK(rm_prio_outranking(t.jobs, t.low, false, NULL, NULL) == t.mid);
    CHECK(rm_prio_outranking(t.jobs, t.low, true, NULL, NULL) == NULL);
    rm_job_frame_release(t.top_late, 2, "taken back");
    CHECK(rm_prio_outranking(t.jobs, t.low, true, NULL, NULL) == t.top_late);
    close_table(&t);
}

/*  Taking back a queue: tasks of outranked (or unknown) jobs go, their
    frames released here without an attempt; the others stay, in order. */
static void test_take_back_drops_tasks_of_outranked_and_unknown_jobs(void)
{
    table_t t;
    rm_err_t err;
    open_table(&t, true);
    settle(&t);
    rm_job_t *lone = create(t.jobs, "00000000000000b6", 100, 6000, false);
    CHECK(rm_job_assign(t.low, (uint64_t[]){1}, 1, "A", RM_STAMP(1, 2), &err) == 0);
    rm_task_t queue[3] = {
        {.job_id = strdup("00000000000000b1"), .frames = {malloc(sizeof(uint64_t)), 1}},
        {.job_id = strdup("00000000000000b6"), .frames = {malloc(sizeof(uint64_t)), 1}},
        {.job_id = strdup("00000000000000ff"), .frames = {malloc(sizeof(uint64_t)), 1}}};
    for (int i = 0; i < 3; i++)
        queue[i].frames.items[0] = 1;
    size_t n = 3;
    CHECK(rm_prio_take_back(t.jobs, queue, &n, NULL, NULL, "A") == 2);
    CHECK(n == 1 && strcmp(queue[0].job_id, "00000000000000b6") == 0);
    const rm_frame_rec_t *r = rm_job_frame(t.low, 1);
    CHECK(r && r->state == RM_FRAME_PENDING && r->attempts == 0);
    CHECK(rm_prio_take_back(t.jobs, queue, &n, NULL, NULL, "A") == 0 && n == 1);
    rm_codec_free(&rm_task_desc, &queue[0]);
    (void)lone;
    close_table(&t);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(mkdtemp(root) != NULL);
    RM_RUN(test_nothing_outranks_a_job_of_the_same_priority);
    RM_RUN(test_the_highest_priority_wins_then_the_earlier_submission);
    RM_RUN(test_preempting_considers_only_jobs_submitted_with_preempt);
    RM_RUN(test_a_job_not_ready_here_does_not_outrank);
    RM_RUN(test_a_finished_job_does_not_outrank);
    RM_RUN(test_a_job_with_nothing_pending_does_not_outrank);
    RM_RUN(test_take_back_drops_tasks_of_outranked_and_unknown_jobs);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK(system(cmd) == 0);
    RM_TEST_DONE();
}
