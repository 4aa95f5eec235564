/*  rm_jobsync between two nodes: a real node "n1" (rm_node in this
    process, no Blender) and a member run by this test ("n2", rm_member
    with no inbound connections) whose rm_jobsync, job table, store and
    rm_xfer are the test's, driven through rm_jobsync.h.  Both stores hold
    the project before the nodes start, so holding a job is merging its
    record (the project fetch is rm_xfer's, tested on its own).  n1's view
    is read with JOB_INFO sent over n2's link. */
#define _XOPEN_SOURCE 700 /* nftw (job_fixtures.h) */
#include "node/jobs/job_fixtures.h"

#include "rm_jobsync.h"
#include "rm_test.h"
#include "rm_xfer.h"

#include "node/node_fixture.h"

#define DEADLINE_MS 10000

static nf_mesh_t mesh;
static rm_hash_t project;
static char n1_addr[64];
static rm_token_t n2_token;
static rm_loop_t *loop;
static rm_member_t *member;
static rm_store_t *store;
static rm_jobs_t *jobs;
static rm_xfer_t *xfer;
static rm_jobsync_t *jobsync;

/*  What came to n2: JOB_HELD callbacks, merges, n1's JOB_REPLYs. */
static struct {
    int held_calls;
    int held_status;
    char held_job[65];
    int created;
    char created_job[65];
    int replies;
    bool found; /* the last JOB_REPLY named a job (not an error) */
    char state[32];
} seen;

static void on_held(void *arg, const char *job_id, int status, const char *error)
{
    (void)arg;
    (void)error;
    seen.held_calls++;
    seen.held_status = status;
    snprintf(seen.held_job, sizeof seen.held_job, "%s", job_id);
}

static void on_changed(void *arg, rm_job_t *job, bool created)
{
    (void)arg;
    if (!created)
        return;
    seen.created++;
    snprintf(seen.created_job, sizeof seen.created_job, "%s", rm_job_id(job));
}

static void on_message(void *arg, const char *from, const rm_cred_t *who, const rm_msg_t *msg)
{
    (void)arg;
    if (rm_jobsync_handle(jobsync, from, who, msg) || rm_xfer_on_message(xfer, from, msg))
        return;
    if (msg->type == RM_MSG_JOB_REPLY) {
        seen.replies++;
        seen.found = true;
        snprintf(seen.state, sizeof seen.state, "%s", msg->u.job_reply.summary.state);
    } else if (msg->type == RM_MSG_ERROR) {
        seen.replies++;
        seen.found = false;
    }
}

static int xfer_send(void *arg, const char *addr, const uint8_t *data, size_t len)
{
    (void)arg;
    return rm_member_send(member, addr, data, len, NULL);
}

/*  n2's loop, as rm_node runs its own: links, then every part's timers
    and pushes, until done() or the deadline. */
static bool pump_until(bool (*done)(void))
{
    int64_t end = zclock_mono() + DEADLINE_MS;
    while (!done() && zclock_mono() < end) {
        rm_loop_run_once(loop, 20);
        rm_member_tick(member);
        int64_t now = zclock_mono();
        if (jobsync) {
            rm_jobsync_tick(jobsync, now);
            rm_jobsync_flush(jobsync);
        }
        rm_xfer_tick(xfer, now);
    }
    return done();
}

static bool n1_alive(void)
{
    return nf_sees_alive(member, "n1");
}

static int want_replies;
static bool reply_came(void)
{
    return seen.replies >= want_replies;
}

/*  Asks n1 for the job; true if it holds it. */
static bool n1_has(const char *job_id)
{
    rm_job_ref_t ref = {.job_id = (char *)job_id};
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err;
    CHECK(rm_msg_encode(RM_MSG_JOB_INFO, 1, &ref, &buf, &len, &err) == 0);
    CHECK_MSG(rm_member_send(member, n1_addr, buf, len, &err) == 0, "%s", err.msg);
    free(buf);
    want_replies = seen.replies + 1;
    return pump_until(reply_came) && seen.found;
}

typedef enum { SIGNED, UNSIGNED, ALTERED } how_t;

/*  A job created on n2 only (its changes not pushed yet): as its submitter
    signed it, unsigned (a node inventing a job), or with --allow-scripts
    turned on after it was signed. */
static rm_job_t *make_job(const char *id, how_t how)
{
    rm_job_spec_t spec;
    fx_spec(&spec, id, "1-4", 0, 0, 1);
    spec.manifest = project;
    if (how != UNSIGNED)
        CHECK(nf_sign_spec(&mesh, &spec));
    if (how == ALTERED)
        spec.allow_scripts = true;
    rm_job_t *job = NULL;
    bool created = false;
    rm_err_t err;
    CHECK_MSG(rm_jobs_create(jobs, &spec, &job, &created, &err) == 0, "%s", err.msg);
    rm_codec_free(&rm_job_spec_desc, &spec);
    return job;
}

/*  n2's job side over the job table at n2/jobs-TAG: what a node that
    starts (or restarts with an empty table) has. */
static void open_n2(const char *tag)
{
    char path[300];
    snprintf(path, sizeof path, "%s/n2/jobs-%s", mesh.dir, tag);
    rm_err_t err;
    jobs = rm_jobs_new(path, &err);
    CHECK_MSG(jobs, "%s", err.msg);
    jobsync = rm_jobsync_new(jobs, member, xfer, store, &err);
    CHECK_MSG(jobsync, "%s", err.msg);
    rm_jobsync_on_changed(jobsync, on_changed, NULL);
}

static rm_job_t *new_job(const char *id)
{
    return make_job(id, SIGNED);
}

static void close_n2(void)
{
    rm_jobsync_destroy(&jobsync);
    rm_jobs_destroy(&jobs);
}

static bool held_came(void)
{
    return seen.held_calls > 0;
}

static void test_submitted_job_is_held_and_merged_by_another_node(void)
{
    open_n2("a");
    rm_job_t *job = new_job("00000000000000b1");
    CHECK(!n1_has("00000000000000b1"));
    rm_err_t err;
    memset(&seen.held_job, 0, sizeof seen.held_job);
    seen.held_calls = 0;
    CHECK_MSG(rm_jobsync_replicate(jobsync, job, DEADLINE_MS, on_held, NULL, &err) == 0, "%s",
              err.msg);
    CHECK_MSG(pump_until(held_came), "no JOB_HELD within %d s", DEADLINE_MS / 1000);
    CHECK(seen.held_calls == 1 && seen.held_status == 0);
    CHECK(strcmp(seen.held_job, "00000000000000b1") == 0);
    /* Held means merged: n1 answers for the job. */
    CHECK(n1_has("00000000000000b1"));
    CHECK(strcmp(seen.state, "queued") == 0);
    close_n2();
}

static bool created_came(void)
{
    return seen.created > 0;
}

static void test_digest_brings_back_a_job_a_node_missed(void)
{
    /* n2 starts over with an empty job table: it missed b1, which n1
       holds.  Its digest (every RM_JOBSYNC_DIGEST_MS) tells n1 so, and
       n1 sends the record back. */
    open_n2("b");
    CHECK(rm_jobs_find(jobs, "00000000000000b1") == NULL);
    seen.created = 0;
    CHECK_MSG(pump_until(created_came), "the missed job never came back");
    CHECK(strcmp(seen.created_job, "00000000000000b1") == 0);
    CHECK(rm_jobs_find(jobs, "00000000000000b1") != NULL);
    close_n2();
}

static bool n1_has_b2(void)
{
    return n1_has("00000000000000b2");
}

static void test_digest_brings_a_job_the_other_node_missed(void)
{
    /* A job n2 never pushed (no flush, no replicate) reaches n1 all the
       same: n1 answers n2's digest with its own, and n2 sends what n1
       lacks. */
    open_n2("c");
    rm_job_t *job = new_job("00000000000000b2");
    CHECK(job != NULL);
    /* Its changes are taken without sending them: a push that was lost. */
    uint8_t *buf = NULL;
    size_t len = 0;
    bool whole = false;
    rm_err_t err;
    CHECK(rm_job_take_changes(job, &buf, &len, &whole, &err) == 0);
    free(buf);
    CHECK(!n1_has("00000000000000b2"));
    int64_t end = zclock_mono() + DEADLINE_MS;
    bool merged = false;
    while (!(merged = n1_has_b2()) && zclock_mono() < end)
        ; /* each JOB_INFO round trip runs n2's loop */
    CHECK_MSG(merged, "n1 never got the job n2 did not push");
    close_n2();
}

/*  A record n1 cannot verify is refused whole: an unsigned job, or one
    whose spec differs from what its submitter signed. */
static void test_unverifiable_jobs_are_refused(void)
{
    open_n2("d");
    const char *ids[] = {"00000000000000c1", "00000000000000c2"};
    how_t hows[] = {UNSIGNED, ALTERED};
    for (int i = 0; i < 2; i++) {
        rm_job_t *job = make_job(ids[i], hows[i]);
        rm_err_t err;
        seen.held_calls = 0;
        CHECK_MSG(rm_jobsync_replicate(jobsync, job, 2000, on_held, NULL, &err) == 0, "%s",
                  err.msg);
        CHECK(pump_until(held_came));
        CHECK_MSG(seen.held_calls == 1 && seen.held_status != 0, "%s: status %d", ids[i],
                  seen.held_status);
        CHECK(!n1_has(ids[i]));
    }
    close_n2();
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    zsys_init();
    FILE *log = tmpfile();
    zsys_set_logstream(log);
    if (!nf_mesh_init(&mesh, "jobsync"))
        return 1;
    char path[300];
    rm_config_t config;
    int port = rm_test_ports(2);
    CHECK(port != 0);
    snprintf(n1_addr, sizeof n1_addr, "tcp://127.0.0.1:%d", port);
    CHECK(nf_node_config(&mesh, "n1", port, "/nonexistent/blender", &config));
    snprintf(path, sizeof path, "%s/n1/chunks", mesh.dir);
    CHECK(nf_put_project(path, mesh.dir, &project));
    rm_node_t *node = nf_node_start(&config);
    CHECK(node != NULL);

    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/n2", mesh.dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/n2/chunks", mesh.dir);
    rm_hash_t same;
    CHECK(nf_put_project(path, mesh.dir, &same) && memcmp(same.b, project.b, 32) == 0);
    rm_err_t err;
    store = rm_store_new(path, &err);
    loop = rm_loop_new();
    member = nf_member_new(&mesh, "n2", &n2_token, loop);
    xfer = store ? rm_xfer_new(store, xfer_send, NULL, &err) : NULL;
    CHECK(node && store && member && xfer);
    if (node && store && member && xfer) {
        rm_member_on_message(member, on_message, NULL);
        CHECK_MSG(rm_member_join(member, n1_addr, &err) == 0, "%s", err.msg);
        CHECK_MSG(pump_until(n1_alive), "n1 never alive");
        /* The cases follow one mesh: a job n1 holds is the next one's. */
        RM_RUN(test_submitted_job_is_held_and_merged_by_another_node);
        RM_RUN(test_digest_brings_back_a_job_a_node_missed);
        RM_RUN(test_digest_brings_a_job_the_other_node_missed);
        RM_RUN(test_unverifiable_jobs_are_refused);
    }
    rm_xfer_destroy(&xfer);
    rm_member_destroy(&member);
    rm_loop_destroy(&loop);
    rm_store_destroy(&store);
    rm_node_destroy(&node);
    rm_token_free(&n2_token);
    nf_mesh_remove(&mesh);
    zsys_set_logstream(stderr);
    if (rm_test_failures && getenv("RM_TEST_LOG")) {
        rewind(log);
        char line[2048];
        while (fgets(line, sizeof line, log))
            fputs(line, stderr);
    }
    fclose(log);
    RM_TEST_DONE();
}
