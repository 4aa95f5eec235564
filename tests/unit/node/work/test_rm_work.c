/*  rm_work in a mesh of two real nodes, each with one render slot on
    tools/fake_blender.py: "n1" in this process, whose Blender can do
    nothing optional, and "n2", whose Blender can denoise (RM_FAKE_CAPS), in
    a child of this process (libzmq allows one ZAP handler per process).  A third
    member run by this test ("n3", no inbound connections, so never the
    coordinator nor a worker) puts jobs into the mesh with its own
    rm_jobsync and reads n1's view with JOB_INFO.  Every store holds the
    project before the nodes start.  What is checked is what the workers
    do: which frames each renders, and where its outputs are when a frame
    counts done. */
#define _XOPEN_SOURCE 700 /* nftw (job_fixtures.h) */
#include "node/jobs/job_fixtures.h"

#include "rm_jobsync.h"
#include "rm_test.h"
#include "rm_xfer.h"

#include "node/node_fixture.h"

#define DEADLINE_MS 15000
#define MAX_FRAMES 16

static nf_mesh_t mesh;
static rm_hash_t project;
static char n1_addr[64];
static rm_token_t n3_token;
static rm_loop_t *loop;
static rm_member_t *member;
static rm_store_t *store;       /* n3's */
static char node_store[2][300]; /* n1's and n2's roots, read by the test (rm_store_peek) */
static const char *node_names[2] = {"n1", "n2"};
static rm_jobs_t *jobs;
static rm_xfer_t *xfer;
static rm_jobsync_t *jobsync;

/*  n1's last JOB_REPLY. */
static struct {
    int replies;
    bool found;
    uint32_t count;
    struct {
        uint64_t frame;
        char state[16];
        char node[64];
        rm_hash_t output;
    } frames[MAX_FRAMES];
} seen;

static void on_message(void *arg, const char *from, const rm_cred_t *who, const rm_msg_t *msg)
{
    (void)arg;
    if (rm_jobsync_handle(jobsync, from, who, msg) || rm_xfer_on_message(xfer, from, msg))
        return;
    if (msg->type == RM_MSG_ERROR) {
        seen.replies++;
        seen.found = false;
        return;
    }
    if (msg->type != RM_MSG_JOB_REPLY)
        return;
    seen.replies++;
    seen.found = true;
    const rm_job_reply_t *r = &msg->u.job_reply;
    seen.count = r->frames.count < MAX_FRAMES ? r->frames.count : MAX_FRAMES;
    for (uint32_t i = 0; i < seen.count; i++) {
        const rm_frame_info_t *f = &r->frames.items[i];
        seen.frames[i].frame = f->frame;
        snprintf(seen.frames[i].state, sizeof seen.frames[i].state, "%s", f->state);
        snprintf(seen.frames[i].node, sizeof seen.frames[i].node, "%s", f->node ? f->node : "");
        seen.frames[i].output = f->output;
    }
}

static int xfer_send(void *arg, const char *addr, const uint8_t *data, size_t len)
{
    (void)arg;
    return rm_member_send(member, addr, data, len, NULL);
}

/*  n3's loop until done() or the deadline. */
static bool pump_until(bool (*done)(void), int ms)
{
    int64_t end = zclock_mono() + ms;
    while (!done() && zclock_mono() < end) {
        rm_loop_run_once(loop, 20);
        rm_member_tick(member);
        int64_t now = zclock_mono();
        rm_jobsync_tick(jobsync, now);
        rm_jobsync_flush(jobsync);
        rm_xfer_tick(xfer, now);
    }
    return done();
}

static bool mesh_alive(void)
{
    return nf_sees_alive(member, "n1") && nf_sees_alive(member, "n2");
}

static int want_replies;
static bool reply_came(void)
{
    return seen.replies >= want_replies;
}

/*  Asks n1 for the job's frames (into seen); true if it answered them. */
static bool ask_job(const char *job_id)
{
    rm_job_ref_t ref = {.job_id = (char *)job_id};
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err;
    CHECK(rm_msg_encode(RM_MSG_JOB_INFO, 1, &ref, &buf, &len, &err) == 0);
    CHECK_MSG(rm_member_send(member, n1_addr, buf, len, &err) == 0, "%s", err.msg);
    free(buf);
    want_replies = seen.replies + 1;
    return pump_until(reply_came, 5000) && seen.found;
}

static void on_held(void *arg, const char *job_id, int status, const char *error)
{
    (void)job_id;
    (void)error;
    *(int *)arg = status == 0 ? 1 : -1;
}

static int held;
static bool held_came(void)
{
    return held != 0;
}

/*  Puts a job of `frames` (one frame per task) into the mesh, requiring
    `requires` ("" for nothing); true once another node holds it. */
static bool submit(const char *id, const char *frames, const char *requires)
{
    rm_job_spec_t spec;
    fx_spec(&spec, id, frames, 0, 0, 1);
    spec.manifest = project;
    spec.chunk = 1;
    if (requires[0]) {
        spec.requires.items = calloc(1, sizeof(char *));
        spec.requires.items[0] = strdup(requires);
        spec.requires.count = 1;
    }
    CHECK(nf_sign_spec(&mesh, &spec));
    rm_job_t *job = NULL;
    bool created = false;
    rm_err_t err;
    int rc = rm_jobs_create(jobs, &spec, &job, &created, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    rm_codec_free(&rm_job_spec_desc, &spec);
    if (rc != 0)
        return false;
    held = 0;
    CHECK(rm_jobsync_replicate(jobsync, job, DEADLINE_MS, on_held, &held, &err) == 0);
    return pump_until(held_came, DEADLINE_MS) && held == 1;
}

static int node_index(const char *name)
{
    for (int i = 0; i < 2; i++)
        if (strcmp(name, node_names[i]) == 0)
            return i;
    return -1;
}

static uint32_t done_count(void)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < seen.count; i++)
        n += strcmp(seen.frames[i].state, "done") == 0;
    return n;
}

/*  Polls n1's view of the job until every frame is done; *copied_first is
    false if a frame was ever seen done while the node that did not render
    it lacked its output.  Returns the frames done. */
static uint32_t wait_done(const char *job_id, uint32_t total, bool *copied_first)
{
    int64_t end = zclock_mono() + DEADLINE_MS;
    bool checked[MAX_FRAMES] = {false};
    if (copied_first)
        *copied_first = true;
    while (zclock_mono() < end) {
        if (!ask_job(job_id))
            continue;
        for (uint32_t i = 0; i < seen.count; i++) {
            if (checked[i] || strcmp(seen.frames[i].state, "done") != 0)
                continue;
            checked[i] = true;
            int at = node_index(seen.frames[i].node);
            if (at < 0 || !copied_first)
                continue;
            if (!rm_store_peek(node_store[1 - at], &seen.frames[i].output)) {
                fprintf(stderr, "frame %llu done on %s, not yet on %s\n",
                        (unsigned long long)seen.frames[i].frame, node_names[at],
                        node_names[1 - at]);
                *copied_first = false;
            }
        }
        if (done_count() == total)
            break;
    }
    return done_count();
}

static void test_worker_with_a_free_slot_gets_frames_and_renders_them(void)
{
    CHECK(submit("00000000000000c1", "1-6", ""));
    uint32_t done = wait_done("00000000000000c1", 6, NULL);
    CHECK_MSG(done == 6, "%u of 6 frames done in %d s", done, DEADLINE_MS / 1000);
    /* Each was rendered by a worker and its output stored there. */
    int by[2] = {0, 0};
    for (uint32_t i = 0; i < seen.count; i++) {
        int at = node_index(seen.frames[i].node);
        CHECK_MSG(at >= 0, "frame %llu by '%s'", (unsigned long long)seen.frames[i].frame,
                  seen.frames[i].node);
        if (at < 0)
            continue;
        by[at]++;
        CHECK(!rm_hash_is_zero(&seen.frames[i].output));
        CHECK(rm_store_peek(node_store[at], &seen.frames[i].output));
    }
    CHECK(by[0] + by[1] == 6);
}

static void test_output_is_copied_to_another_member_before_the_frame_counts_done(void)
{
    CHECK(submit("00000000000000c2", "1-4", ""));
    bool copied_first = false;
    uint32_t done = wait_done("00000000000000c2", 4, &copied_first);
    CHECK_MSG(done == 4, "%u of 4 frames done", done);
    CHECK_MSG(copied_first, "a frame counted done before its output was on another node");
}

static void test_job_requiring_a_capability_the_node_lacks_is_never_taken(void)
{
    /* Only n2 can denoise: every frame is n2's, though n1 is free. */
    CHECK(submit("00000000000000c3", "1-8", "denoise"));
    uint32_t done = wait_done("00000000000000c3", 8, NULL);
    CHECK_MSG(done == 8, "%u of 8 frames done", done);
    for (uint32_t i = 0; i < seen.count; i++)
        CHECK_MSG(strcmp(seen.frames[i].node, "n2") == 0, "frame %llu rendered by %s",
                  (unsigned long long)seen.frames[i].frame, seen.frames[i].node);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    if (!nf_mesh_init(&mesh, "work"))
        return 1;
    char path[300], fake[1024];
    nf_fake_blender(fake, sizeof fake);
    int port = rm_test_ports(4);
    CHECK(port != 0);
    snprintf(n1_addr, sizeof n1_addr, "tcp://127.0.0.1:%d", port);
    rm_hash_t hash;
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/n%d", mesh.dir, i + 1);
        mkdir(path, 0700);
        snprintf(path, sizeof path, "%s/n%d/chunks", mesh.dir, i + 1);
        CHECK(nf_put_project(path, mesh.dir, i == 0 ? &project : &hash));
    }
    CHECK(memcmp(hash.b, project.b, 32) == 0);

    /* The fake's settings are read when a node starts (its probe, its
       slots' environment). */
    setenv("RM_FAKE_FRAME_MS", "30", 1);
    setenv("RM_FAKE_START_MS", "10", 1);
    rm_config_t c1, c2;
    CHECK(nf_node_config(&mesh, "n1", port, fake, &c1));
    CHECK(nf_node_config(&mesh, "n2", port + 2, fake, &c2));
    snprintf(c2.join, sizeof c2.join, "%s", n1_addr);
    setenv("RM_FAKE_CAPS", "denoise", 1);
    pid_t child = nf_node_fork(&c2);
    unsetenv("RM_FAKE_CAPS");
    CHECK(child > 0);

    zsys_init();
    FILE *log = tmpfile();
    zsys_set_logstream(log);
    rm_node_t *n1 = nf_node_start(&c1);
    CHECK(n1 != NULL);

    rm_err_t err;
    for (int i = 0; i < 2; i++)
        snprintf(node_store[i], sizeof node_store[i], "%s/n%d/chunks", mesh.dir, i + 1);
    snprintf(path, sizeof path, "%s/n3/chunks", mesh.dir);
    store = rm_store_new(path, &err);
    snprintf(path, sizeof path, "%s/n3/jobs", mesh.dir);
    jobs = rm_jobs_new(path, &err);
    loop = rm_loop_new();
    member = nf_member_new(&mesh, "n3", &n3_token, loop);
    xfer = store ? rm_xfer_new(store, xfer_send, NULL, &err) : NULL;
    jobsync = jobs && member && xfer ? rm_jobsync_new(jobs, member, xfer, store, &err) : NULL;
    CHECK(jobsync != NULL);
    if (n1 && child > 0 && jobsync) {
        rm_member_on_message(member, on_message, NULL);
        CHECK_MSG(rm_member_join(member, n1_addr, &err) == 0, "%s", err.msg);
        CHECK_MSG(pump_until(mesh_alive, DEADLINE_MS), "n1 and n2 never both alive");
        RM_RUN(test_worker_with_a_free_slot_gets_frames_and_renders_them);
        RM_RUN(test_output_is_copied_to_another_member_before_the_frame_counts_done);
        RM_RUN(test_job_requiring_a_capability_the_node_lacks_is_never_taken);
    }
    rm_jobsync_destroy(&jobsync);
    rm_xfer_destroy(&xfer);
    rm_member_destroy(&member);
    rm_loop_destroy(&loop);
    rm_jobs_destroy(&jobs);
    rm_store_destroy(&store);
    rm_node_destroy(&n1);
    CHECK(nf_node_stop(child) == 0);
    rm_token_free(&n3_token);
    zsys_set_logstream(stderr);
    if (rm_test_failures && getenv("RM_TEST_LOG")) {
        snprintf(path, sizeof path, "cat %s/n2.log >&2", mesh.dir);
        if (system(path) != 0)
            fprintf(stderr, "no log of n2\n");
        rewind(log);
        char line[2048];
        while (fgets(line, sizeof line, log))
            fputs(line, stderr);
    }
    fclose(log);
    nf_mesh_remove(&mesh);
    RM_TEST_DONE();
}
