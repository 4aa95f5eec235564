/*  rm_sched: the coordinator's pull scheduler over a real rm_jobs table
    (a fake clock: every call takes `now`). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_frames.h"
#include "rm_jobs.h"
#include "rm_prio.h"
#include "rm_sched.h"
#include "rm_test.h"

#define J1 "00000000000000a1"
#define J2 "00000000000000a2"
#define J3 "00000000000000a3"
#define J4 "00000000000000a4"
#define J5 "00000000000000a5"

static char root[] = "/tmp/rm-test-sched.XXXXXX";
static rm_hash_t output;

static rm_jobs_t *table(const char *name)
{
    char dir[256];
    rm_err_t err;
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    rm_jobs_t *jobs = rm_jobs_new(dir, &err);
    CHECK_MSG(jobs != NULL, "%s", err.msg);
    return jobs;
}

static rm_job_t *create(rm_jobs_t *jobs, const char *id, const char *frames, uint64_t chunk,
                        int64_t priority, int64_t submitted_at)
{
    rm_job_spec_t spec = {0};
    spec.job_id = strdup(id);
    spec.name = strdup("test");
    spec.blend = strdup("scene.blend");
    memset(spec.manifest.b, 0xab, 32);
    rm_frames_parse(frames, &spec.frames.items, &spec.frames.count, NULL);
    spec.scene = strdup("");
    spec.camera = strdup("");
    spec.engine = strdup("");
    spec.device = strdup("");
    spec.format = strdup("PNG");
    spec.chunk = chunk;
    spec.priority = priority;
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

static rm_sched_worker_t worker(const char *name, uint64_t ms)
{
    return (rm_sched_worker_t){
        .name = name, .alive = true, .can_render = true, .slots = 1, .ms_per_frame = ms};
}

static void set_workers(rm_sched_t *s, const rm_sched_worker_t *w, size_t n)
{
    rm_err_t err;
    CHECK_MSG(rm_sched_set_workers(s, w, n, &err) == 0, "%s", err.msg);
}

static rm_sched_t *sched(rm_jobs_t *jobs, uint64_t max_attempts)
{
    rm_err_t err;
    rm_sched_t *s = rm_sched_new(jobs, max_attempts, &err);
    CHECK_MSG(s != NULL, "%s", err.msg);
    return s;
}

/*  A WORK_REQ: `free` slots, ready = the given job (or none), running =
    frames of that job (nrun of them). */
static rm_assign_t ask(rm_sched_t *s, const char *who, uint64_t free, const char *job,
                       const uint64_t *run, uint32_t nrun, int64_t now)
{
    char *ready[1] = {(char *)job};
    rm_task_t task = {.job_id = (char *)job, .frames = {(uint64_t *)run, nrun}};
    rm_work_req_t req = {.free = free};
    req.ready.items = ready;
    req.ready.count = job ? 1 : 0;
    req.running.items = &task;
    req.running.count = job && nrun ? 1 : 0;
    rm_assign_t out;
    rm_err_t err;
    CHECK_MSG(rm_sched_request(s, who, &req, now, &out, &err) == 0, "%s", err.msg);
    return out;
}

static void done_with(rm_assign_t *a)
{
    rm_codec_free(rm_msg_desc(RM_MSG_ASSIGN), a);
}

/*  Task t of a is job's frames first..first+n-1. */
static bool task_is(const rm_assign_t *a, uint32_t t, const char *job, uint64_t first, uint32_t n)
{
    if (t >= a->tasks.count)
        return false;
    const rm_task_t *task = &a->tasks.items[t];
    if (strcmp(task->job_id, job) != 0 || task->frames.count != n)
        return false;
    for (uint32_t k = 0; k < n; k++)
        if (task->frames.items[k] != first + k)
            return false;
    return true;
}

static bool assigned_to(rm_job_t *job, uint64_t frame, const char *node)
{
    const rm_frame_rec_t *r = rm_job_frame(job, frame);
    return r && r->state == RM_FRAME_ASSIGNED && r->node && strcmp(r->node, node) == 0;
}

static bool pending(rm_job_t *job, uint64_t frame)
{
    const rm_frame_rec_t *r = rm_job_frame(job, frame);
    return r && r->state == RM_FRAME_PENDING;
}

/*  A failed attempt as it happens: the frame is node's, which reports it
    (its stamp kept: only the node changes). */
static void fail_on(rm_job_t *job, uint64_t frame, const char *node, const char *reason)
{
    rm_err_t err;
    uint64_t stamp = rm_job_frame(job, frame)->epoch;
    CHECK_MSG(rm_job_assign(job, &frame, 1, node, stamp, &err) == 0 &&
                  rm_job_frame_failed(job, frame, reason, UINT64_MAX, &err) == 0,
              "%s", err.msg);
}

static void done_on(rm_job_t *job, uint64_t frame, const char *node, uint64_t ms)
{
    rm_err_t err;
    CHECK_MSG(rm_job_frame_done(job, frame,
                                &(rm_frame_output_t){
                                    .output = output, .size = 10, .file = "f.png", .render_ms = ms},
                                node, NULL, &err) == 0,
              "%s", err.msg);
}

/* 1, 2: acting, pulling, who gets nothing. */
static void test_pull(void)
{
    rm_jobs_t *jobs = table("pull");
    rm_job_t *j = create(jobs, J1, "1-20", 3, 0, 1000);
    rm_job_t *k = create(jobs, J2, "1-4", 3, 9, 2000);
    rm_sched_t *s = sched(jobs, 3);
    rm_sched_worker_t ws[6] = {worker("A", 0), worker("D", 0), worker("X", 0),
                               worker("N", 0), worker("Z", 0), worker("B", 0)};
    ws[0].slots = 2;
    ws[1].draining = true;
    ws[2].alive = false;
    ws[3].can_render = false;
    ws[4].slots = 0;
    set_workers(s, ws, 6);

    rm_work_req_t req = {.free = 1};
    rm_assign_t out;
    rm_err_t err;
    CHECK(!rm_sched_acting(s));
    CHECK(rm_sched_request(s, "A", &req, 0, &out, &err) == -1 && err.code == RM_EINVAL);
    done_with(&out);

    rm_sched_set_acting(s, true, 7, "coord", 0);
    CHECK(rm_sched_acting(s));
    out = ask(s, "A", 0, J1, NULL, 0, 0);
    CHECK(out.epoch == 7 && out.coordinator && strcmp(out.coordinator, "coord") == 0);
    CHECK(out.tasks.count == 0);
    done_with(&out);

    /* Nothing for a worker that is draining, not alive, cannot render, has
       no slots, or is no member. */
    const char *idle[] = {"D", "X", "N", "Z", "ghost"};
    for (size_t i = 0; i < 5; i++) {
        out = ask(s, idle[i], 2, J1, NULL, 0, 10);
        CHECK_MSG(out.tasks.count == 0, "%s got work", idle[i]);
        done_with(&out);
    }
    /* K (higher priority) is not in A's ready list: never A's. */
    out = ask(s, "A", 2, J1, NULL, 0, 20);
    CHECK(out.epoch == 7 && out.tasks.count == 2);
    CHECK(task_is(&out, 0, J1, 1, 3) && task_is(&out, 1, J1, 4, 3));
    done_with(&out);
    uint64_t first = rm_job_frame(j, 1)->epoch, second = rm_job_frame(j, 4)->epoch;
    for (uint64_t f = 1; f <= 6; f++) {
        CHECK_MSG(assigned_to(j, f, "A"), "frame %llu", (unsigned long long)f);
        CHECK(rm_job_frame(j, f)->epoch == (f <= 3 ? first : second));
    }
    CHECK(RM_STAMP_EPOCH(first) == 7 && RM_STAMP_EPOCH(second) == 7 && second > first);
    CHECK(first > RM_STAMP(7, 0));
    CHECK(pending(j, 7) && rm_sched_in_flight(s) == 6 && rm_sched_assigned(s) == 6);
    out = ask(s, "A", 2, NULL, NULL, 0, 30); /* ready: nothing */
    CHECK(out.tasks.count == 0);
    done_with(&out);
    for (uint64_t f = 1; f <= 4; f++)
        CHECK(pending(k, f));
    /* B holds K: it gets K, stamped after A's tasks. */
    out = ask(s, "B", 1, J2, NULL, 0, 40);
    CHECK(out.tasks.count == 1 && strcmp(out.tasks.items[0].job_id, J2) == 0);
    CHECK(rm_job_frame(k, 1)->epoch > second);
    done_with(&out);
    rm_sched_destroy(&s);
    rm_jobs_destroy(&jobs);
}

/* 3: priority, then submission order (not creation order). */
static void test_priority(void)
{
    rm_jobs_t *jobs = table("prio");
    create(jobs, J1, "1", 1, 0, 1000);
    create(jobs, J3, "1", 1, 5, 3000);
    create(jobs, J2, "1", 1, 5, 2000);
    rm_sched_t *s = sched(jobs, 3);
    rm_sched_worker_t w = worker("A", 0);
    w.slots = 3;
    set_workers(s, &w, 1);
    rm_sched_set_acting(s, true, 1, "c", 0);
    char *ready[3] = {J1, J3, J2};
    rm_work_req_t req = {.free = 3, .ready = {ready, 3}};
    rm_assign_t out;
    rm_err_t err;
    CHECK(rm_sched_request(s, "A", &req, 0, &out, &err) == 0);
    CHECK(out.tasks.count == 3);
    CHECK(task_is(&out, 0, J2, 1, 1) && task_is(&out, 1, J3, 1, 1) && task_is(&out, 2, J1, 1, 1));
    done_with(&out);
    rm_sched_destroy(&s);
    rm_jobs_destroy(&jobs);
}

/* 4: the Flamenco rules. */
static void test_flamenco(void)
{
    rm_jobs_t *jobs = table("flamenco");
    rm_job_t *j = create(jobs, J1, "1-6", 1, 0, 1000);
    rm_sched_t *s = sched(jobs, 4);
    rm_sched_worker_t ws[4] = {worker("A", 0), worker("B", 0), worker("C", 0), worker("D", 0)};
    set_workers(s, ws, 2);
    rm_sched_set_acting(s, true, 1, "c", 0);

    /* Frame 1 failed on A: not A's while B has not failed it. */
    fail_on(j, 1, "A", "boom");
    rm_assign_t out = ask(s, "A", 1, J1, NULL, 0, 0);
    CHECK(task_is(&out, 0, J1, 2, 1) && pending(j, 1));
    done_with(&out);
    /* A alone can render it: it retries. */
    ws[1].alive = false;
    set_workers(s, ws, 2);
    out = ask(s, "A", 1, J1, (uint64_t[]){2}, 1, 10);
    CHECK(task_is(&out, 0, J1, 1, 1) && assigned_to(j, 1, "A"));
    done_with(&out);

    /* Three frames failed on A: A gets no more of that job, B does. */
    rm_job_t *k = create(jobs, J2, "1-6", 1, 0, 2000);
    ws[1].alive = true;
    set_workers(s, ws, 2);
    for (uint64_t f = 1; f <= 3; f++)
        fail_on(k, f, "A", "no GPU");
    CHECK(rm_job_failures_on(k, "A") == 3);
    out = ask(s, "A", 1, J2, NULL, 0, 20);
    CHECK(out.tasks.count == 0);
    done_with(&out);
    out = ask(s, "B", 1, J2, NULL, 0, 20);
    CHECK(task_is(&out, 0, J2, 1, 1));
    done_with(&out);

    /* B is blocklisted for L, so it cannot render L's frame 4: A, which
       failed it, is the only node left that can and must retry it. */
    rm_job_t *l = create(jobs, J3, "1-4", 1, 0, 3000);
    for (uint64_t f = 1; f <= 3; f++) {
        fail_on(l, f, "B", "crash");
        done_on(l, f, "A", 100);
    }
    fail_on(l, 4, "A", "once");
    out = ask(s, "A", 1, J3, NULL, 0, 30);
    CHECK_MSG(task_is(&out, 0, J3, 4, 1), "A got %u task(s) of L", out.tasks.count);
    done_with(&out);

    /* A frame failed on 3 nodes fails the job with every node's reason. */
    rm_job_t *m = create(jobs, J4, "1-3", 1, 0, 4000);
    set_workers(s, ws, 4);
    fail_on(m, 2, "A", "out of memory");
    fail_on(m, 2, "B", "segfault");
    rm_sched_tick(s, 40);
    CHECK(!rm_job_finished(m));
    fail_on(m, 2, "C", "missing texture");
    rm_sched_tick(s, 50);
    CHECK(strcmp(rm_job_state(m), "failed") == 0);
    rm_job_summary_t sum;
    rm_err_t err;
    CHECK(rm_job_summary(m, &sum, &err) == 0);
    CHECK_MSG(strstr(sum.error, "A: out of memory") && strstr(sum.error, "B: segfault") &&
                  strstr(sum.error, "C: missing texture"),
              "error: %s", sum.error);
    rm_codec_free(&rm_job_summary_desc, &sum);

    /* max_attempts (4) on one node fails the job too; 3 do not. */
    rm_job_t *n = create(jobs, J5, "1-3", 1, 0, 5000);
    for (int i = 0; i < 3; i++)
        fail_on(n, 3, "D", "flaky");
    rm_sched_tick(s, 60);
    CHECK(!rm_job_finished(n));
    fail_on(n, 3, "D", "flaky");
    rm_sched_tick(s, 70);
    CHECK(strcmp(rm_job_state(n), "failed") == 0);
    out = ask(s, "C", 1, J5, NULL, 0, 80);
    CHECK(out.tasks.count == 0);
    done_with(&out);
    rm_sched_destroy(&s);
    rm_jobs_destroy(&jobs);
}

/* 5, 9: give-back of dead, silent and forgetful workers; merge of a stale
   copy. */
static void test_give_back(void)
{
    rm_jobs_t *jobs = table("give");
    rm_job_t *j = create(jobs, J1, "1-8", 2, 0, 1000);
    rm_sched_t *s = sched(jobs, 3);
    rm_sched_worker_t ws[2] = {worker("A", 0), worker("B", 0)};
    set_workers(s, ws, 2);
    rm_sched_set_acting(s, true, 1, "c", 0);

    rm_assign_t out = ask(s, "A", 1, J1, NULL, 0, 0);
    CHECK(task_is(&out, 0, J1, 1, 2));
    done_with(&out);
    uint64_t stamp = rm_job_frame(j, 1)->epoch;
    uint8_t *stale = NULL;
    size_t stale_len = 0;
    rm_err_t err;
    CHECK(rm_job_export(j, &stale, &stale_len, &err) == 0);

    ws[0].alive = false;
    set_workers(s, ws, 2);
    rm_sched_tick(s, 100);
    CHECK(pending(j, 1) && pending(j, 2) && rm_sched_in_flight(s) == 0);
    CHECK(rm_job_frame(j, 1)->epoch > stamp && rm_job_frame(j, 2)->epoch > stamp);

    /* 9: the copy exported before the give-back does not bring it back. */
    rm_job_t *merged = NULL;
    bool changed = true;
    CHECK_MSG(rm_jobs_merge(jobs, stale, stale_len, &merged, &changed, &err) == 0, "%s", err.msg);
    CHECK(merged == j && pending(j, 1) && pending(j, 2));
    rm_jobs_t *other = table("give-other"); /* a node that saw both, stale last */
    uint8_t *fresh = NULL;
    size_t fresh_len = 0;
    CHECK(rm_job_export(j, &fresh, &fresh_len, &err) == 0);
    CHECK(rm_jobs_merge(other, fresh, fresh_len, &merged, &changed, &err) == 0);
    CHECK(rm_jobs_merge(other, stale, stale_len, &merged, &changed, &err) == 0);
    CHECK(merged && pending(merged, 1) && pending(merged, 2));
    free(stale);
    free(fresh);
    rm_jobs_destroy(&other);
    rm_sched_tick(s, 150);
    CHECK(rm_sched_in_flight(s) == 0);

    out = ask(s, "B", 1, J1, NULL, 0, 200);
    CHECK(task_is(&out, 0, J1, 1, 2) && assigned_to(j, 1, "B") && assigned_to(j, 2, "B"));
    done_with(&out);

    /* Silent: A's last report at 1000, B keeps reporting. */
    ws[0].alive = true;
    set_workers(s, ws, 2);
    out = ask(s, "A", 1, J1, NULL, 0, 1000);
    CHECK(task_is(&out, 0, J1, 3, 2));
    done_with(&out);
    int64_t t = 1000 + RM_SCHED_SILENT_MS;
    out = ask(s, "B", 0, J1, (uint64_t[]){1, 2}, 2, t);
    done_with(&out);
    rm_sched_tick(s, t);
    CHECK(assigned_to(j, 3, "A") && assigned_to(j, 4, "A"));
    rm_sched_tick(s, t + 1);
    CHECK(pending(j, 3) && pending(j, 4));
    CHECK(assigned_to(j, 1, "B") && assigned_to(j, 2, "B"));

    /* Reconcile: what A no longer lists goes back after the grace only. */
    t += 100;
    out = ask(s, "A", 1, J1, NULL, 0, t);
    CHECK(task_is(&out, 0, J1, 3, 2));
    done_with(&out);
    out = ask(s, "A", 0, J1, NULL, 0, t + RM_SCHED_GRACE_MS - 1);
    done_with(&out);
    CHECK(assigned_to(j, 3, "A") && assigned_to(j, 4, "A"));
    out = ask(s, "A", 0, J1, (uint64_t[]){3}, 1, t + RM_SCHED_GRACE_MS);
    done_with(&out);
    CHECK(assigned_to(j, 4, "A")); /* checked at most once a second */
    out = ask(s, "A", 0, J1, (uint64_t[]){3}, 1, t + RM_SCHED_GRACE_MS + RM_SCHED_RECONCILE_MS);
    done_with(&out);
    CHECK(assigned_to(j, 3, "A") && pending(j, 4));
    rm_sched_destroy(&s);
    rm_jobs_destroy(&jobs);
}

/* 6: takeover by another scheduler, and by the same one in a new epoch. */
static void test_takeover(void)
{
    rm_jobs_t *jobs = table("takeover");
    rm_job_t *j = create(jobs, J1, "1-10", 2, 0, 1000);
    rm_sched_t *s1 = sched(jobs, 3), *s2 = sched(jobs, 3);
    rm_sched_worker_t ws[2] = {worker("A", 0), worker("B", 0)};
    set_workers(s1, ws, 2);
    set_workers(s2, ws, 2);
    rm_sched_set_acting(s1, true, 1, "old", 0);
    rm_assign_t out = ask(s1, "A", 1, J1, NULL, 0, 0);
    done_with(&out);
    out = ask(s1, "B", 1, J1, NULL, 0, 0);
    done_with(&out);
    CHECK(assigned_to(j, 1, "A") && assigned_to(j, 3, "B"));
    rm_sched_set_acting(s1, false, 1, "old", 500);

    rm_sched_set_acting(s2, true, 2, "new", 1000);
    CHECK(rm_sched_in_flight(s2) == 4);
    int64_t t = 1000 + RM_SCHED_GRACE_MS + 1;
    out = ask(s2, "A", 1, J1, (uint64_t[]){1, 2}, 2, t);
    CHECK(task_is(&out, 0, J1, 5, 2));
    done_with(&out);
    out = ask(s2, "B", 1, J1, (uint64_t[]){3, 4}, 2, t);
    CHECK(task_is(&out, 0, J1, 7, 2));
    done_with(&out);
    CHECK(assigned_to(j, 1, "A") && assigned_to(j, 2, "A"));
    CHECK(assigned_to(j, 3, "B") && assigned_to(j, 4, "B"));
    CHECK(RM_STAMP_EPOCH(rm_job_frame(j, 5)->epoch) == 2);

    ws[1].alive = false;
    set_workers(s2, ws, 2);
    rm_sched_tick(s2, t + 10);
    for (uint64_t f = 3; f <= 8; f += (f == 4 ? 3 : 1)) { /* 3, 4, 7, 8 */
        CHECK_MSG(pending(j, f), "frame %llu", (unsigned long long)f);
        CHECK(RM_STAMP_EPOCH(rm_job_frame(j, f)->epoch) == 2);
    }
    CHECK(assigned_to(j, 1, "A") && assigned_to(j, 5, "A"));

    /* The same scheduler steps down and acts again in epoch 3. */
    rm_sched_set_acting(s2, false, 2, "new", t + 20);
    CHECK(!rm_sched_acting(s2) && rm_sched_in_flight(s2) == 0);
    rm_sched_set_acting(s2, true, 3, "new", t + 30);
    CHECK(rm_sched_in_flight(s2) == 4);
    ws[0].alive = false;
    set_workers(s2, ws, 2);
    rm_sched_tick(s2, t + 40);
    for (uint64_t f = 1; f <= 8; f++) {
        CHECK_MSG(pending(j, f), "frame %llu", (unsigned long long)f);
        if (f == 1 || f == 2 || f == 5 || f == 6)
            CHECK(RM_STAMP_EPOCH(rm_job_frame(j, f)->epoch) == 3);
    }
    rm_sched_destroy(&s1);
    rm_sched_destroy(&s2);
    rm_jobs_destroy(&jobs);
}

/* 7: an idle fast worker gets a copy of the slow worker's last frame. */
static void test_duplicate(void)
{
    rm_jobs_t *jobs = table("dup");
    rm_job_t *j = create(jobs, J1, "1-2", 1, 0, 1000);
    rm_sched_t *s = sched(jobs, 3);
    rm_sched_worker_t ws[3] = {worker("SLOW", 10000), worker("FAST", 100), worker("SNAIL", 20000)};
    set_workers(s, ws, 3);
    rm_sched_set_acting(s, true, 1, "c", 0);
    rm_assign_t out = ask(s, "SLOW", 1, J1, NULL, 0, 0);
    CHECK(task_is(&out, 0, J1, 1, 1));
    done_with(&out);
    /* FAST idle, frame 2 still pending: no copy, it takes frame 2. */
    out = ask(s, "FAST", 1, J1, NULL, 0, 0);
    CHECK(out.tasks.count == 1 && task_is(&out, 0, J1, 2, 1));
    done_with(&out);
    done_on(j, 2, "FAST", 100);
    /* SNAIL, idle, would finish frame 1 after SLOW: no copy. */
    out = ask(s, "SNAIL", 1, J1, NULL, 0, 100);
    CHECK(out.tasks.count == 0);
    done_with(&out);

    out = ask(s, "FAST", 1, J1, NULL, 0, 150);
    CHECK_MSG(out.tasks.count == 1 && task_is(&out, 0, J1, 1, 1), "%u tasks", out.tasks.count);
    done_with(&out);
    CHECK(rm_sched_in_flight(s) == 2 && rm_job_frame(j, 1)->state == RM_FRAME_ASSIGNED);
    /* Idle again (free 2): no second copy of the same frame. */
    out = ask(s, "FAST", 2, J1, (uint64_t[]){1}, 1, 200);
    CHECK(out.tasks.count == 0);
    done_with(&out);
    out = ask(s, "SLOW", 1, J1, (uint64_t[]){1}, 1, 200);
    CHECK(out.tasks.count == 0);
    done_with(&out);
    rm_sched_destroy(&s);
    rm_jobs_destroy(&jobs);
}

/* 8: near the tail a task is the worker's share by its speed on the job. */
static void test_tail_share(void)
{
    rm_jobs_t *jobs = table("share");
    rm_job_t *j = create(jobs, J1, "1-30", 8, 0, 1000);
    rm_sched_t *s = sched(jobs, 3);
    rm_sched_worker_t ws[2] = {worker("SLOW", 0), worker("FAST", 0)};
    set_workers(s, ws, 2);
    rm_sched_set_acting(s, true, 1, "c", 0);
    done_on(j, 1, "SLOW", 10000);
    done_on(j, 2, "FAST", 1000);
    /* 28 pending, 2 slots: far from the tail, full chunks. */
    rm_assign_t out = ask(s, "SLOW", 1, J1, NULL, 0, 0);
    CHECK(task_is(&out, 0, J1, 3, 8));
    done_with(&out);
    out = ask(s, "FAST", 1, J1, NULL, 0, 0);
    CHECK(task_is(&out, 0, J1, 11, 8));
    done_with(&out);
    /* 12 pending: SLOW renders 1/11 of the mesh's speed. */
    out = ask(s, "SLOW", 1, J1, (uint64_t[]){3, 4, 5, 6, 7, 8, 9, 10}, 8, 100);
    CHECK_MSG(out.tasks.count == 1 && out.tasks.items[0].frames.count >= 1 &&
                  out.tasks.items[0].frames.count <= 2,
              "SLOW got %u frames", out.tasks.count ? out.tasks.items[0].frames.count : 0);
    uint64_t next = out.tasks.count ? 19 + out.tasks.items[0].frames.count : 21;
    done_with(&out);
    out = ask(s, "FAST", 1, J1, NULL, 0, 100);
    CHECK(task_is(&out, 0, J1, next, 8));
    done_with(&out);
    rm_sched_destroy(&s);
    rm_jobs_destroy(&jobs);
}

/*  A WORK_REQ listing two ready jobs, and what the worker renders of each. */
static rm_assign_t ask2(rm_sched_t *s, const char *who, uint64_t free, const rm_task_t *run,
                        uint32_t nrun, int64_t now)
{
    char *ready[2] = {J1, J2};
    rm_work_req_t req = {.free = free};
    req.ready.items = ready;
    req.ready.count = 2;
    req.running.items = (rm_task_t *)run;
    req.running.count = nrun;
    rm_assign_t out;
    rm_err_t err;
    CHECK_MSG(rm_sched_request(s, who, &req, now, &out, &err) == 0, "%s", err.msg);
    return out;
}

/*  Priorities act at once (rm_prio, rm_work): the worker gives back its
    look-ahead task of a lower job (and, with preempt, its running one); the
    coordinator serves the higher job next, and the frames given back
    return to pending without an attempt, to be rendered later. */
static void test_priority_takes_back(void)
{
    rm_jobs_t *jobs = table("takeback");
    rm_job_t *low = create(jobs, J1, "1-4", 1, 0, 1000);
    rm_sched_t *s = sched(jobs, 3);
    rm_sched_worker_t w = worker("A", 100);
    set_workers(s, &w, 1);
    rm_sched_set_acting(s, true, 1, "A", 0);
    rm_assign_t out = ask2(s, "A", 2, NULL, 0, 0); /* one slot + one look-ahead */
    CHECK(out.tasks.count == 2 && task_is(&out, 0, J1, 1, 1) && task_is(&out, 1, J1, 2, 1));
    done_with(&out);

    /* The higher job arrives; the worker takes back its queued frame 2. */
    rm_job_t *high = create(jobs, J2, "1-3", 1, 5, 2000);
    CHECK(rm_prio_outranking(jobs, low, false, NULL, NULL) == high);
    CHECK(rm_prio_outranking(jobs, low, true, NULL, NULL) == NULL); /* no preempt asked */
    rm_job_frame_release(low, 2, "taken back");
    rm_task_t running[2] = {{.job_id = J1, .frames = {(uint64_t[]){1}, 1}}};
    out = ask2(s, "A", 1, running, 1, 100);
    CHECK_MSG(task_is(&out, 0, J2, 1, 1), "the look-ahead went to %s:%llu",
              out.tasks.count ? out.tasks.items[0].job_id : "nothing",
              out.tasks.count ? (unsigned long long)out.tasks.items[0].frames.items[0] : 0ULL);
    done_with(&out);

    /* Preempted: frame 1 of the low job stops; the slot gets the high job. */
    running[0] = (rm_task_t){.job_id = J2, .frames = {(uint64_t[]){1}, 1}};
    rm_job_frame_release(low, 1, "preempted");
    out = ask2(s, "A", 1, running, 1, 3500);
    CHECK(task_is(&out, 0, J2, 2, 1));
    done_with(&out);
    rm_sched_tick(s, 3600);
    for (uint64_t f = 1; f <= 2; f++)
        CHECK_MSG(pending(low, f) && rm_job_frame(low, f)->attempts == 0, "low frame %llu",
                  (unsigned long long)f);

    /* Once the high job has nothing pending, the low frames come back. */
    done_on(high, 1, "A", 100);
    done_on(high, 2, "A", 100);
    running[0] = (rm_task_t){.job_id = J2, .frames = {(uint64_t[]){3}, 1}};
    out = ask2(s, "A", 1, NULL, 0, 3700);
    CHECK(task_is(&out, 0, J2, 3, 1));
    done_with(&out);
    out = ask2(s, "A", 1, running, 1, 3800);
    CHECK(task_is(&out, 0, J1, 1, 1));
    done_with(&out);
    rm_sched_destroy(&s);
    rm_jobs_destroy(&jobs);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(mkdtemp(root) != NULL);
    memset(output.b, 7, 32);
    RM_RUN(test_pull);
    RM_RUN(test_priority);
    RM_RUN(test_flamenco);
    RM_RUN(test_give_back);
    RM_RUN(test_takeover);
    RM_RUN(test_duplicate);
    RM_RUN(test_tail_share);
    RM_RUN(test_priority_takes_back);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK(system(cmd) == 0);
    RM_TEST_DONE();
}
