/*  rm_repair against a real node: "n1", a whole node in this process, and
    "n3", a member run by the test (no inbound connections) with its own
    store, jobs, chunk transfers and the rm_repair under test, acting as
    the coordinator.  n3 holds a job of four done frames rendered by
    "gone1", a node that is no member, whose outputs lie as a reclaimed
    spot pool would leave them: A on n1 only, B on both, C on n3 only, D on
    neither.  The audit asks n1 (HAVE); D is rendered again, A is copied to
    n3, C to n1 (REPLICATE), B is left alone. */
#define _XOPEN_SOURCE 700 /* nftw (job_fixtures.h) */
#include "node/jobs/job_fixtures.h"

#include "rm_repair.h"
#include "rm_test.h"
#include "rm_xfer.h"

#include "node/node_fixture.h"

#define DEADLINE_MS 20000
#define JOB_ID "00000000000000e1"

static nf_mesh_t mesh;
static char n1_addr[64];
static rm_token_t n3_token;
static rm_loop_t *loop;
static rm_member_t *member;
static rm_store_t *store;    /* n3's */
static rm_store_t *n1_store; /* read by the test */
static rm_jobs_t *jobs;
static rm_xfer_t *xfer;
static rm_repair_t *repair;
static rm_election_t election = {.acting = true};
static rm_hash_t outputs[4]; /* A, B, C, D: frames 1-4 */

/*  n3 answers what a node answers over its links: HAVE (rm_repair) and
    CHUNK_GET from its store (n1 fetches C from it). */
static void on_message(void *arg, const char *from, const rm_cred_t *who, const rm_msg_t *msg)
{
    (void)arg, (void)who;
    if ((repair && rm_repair_handle(repair, from, msg)) || rm_xfer_on_message(xfer, from, msg))
        return;
    if (msg->type != RM_MSG_CHUNK_GET)
        return;
    rm_chunk_t chunk = {.hash = msg->u.chunk_ref.hash};
    rm_err_t err;
    if (rm_store_get(store, &chunk.hash, &chunk.data.data, &chunk.data.len, &err) != 0)
        rm_member_send_error(member, from, msg->req, err.code, err.msg);
    else
        rm_member_send_msg(member, from, RM_MSG_CHUNK_DATA, msg->req, &chunk);
    free(chunk.data.data);
}

static int xfer_send(void *arg, const char *addr, const uint8_t *data, size_t len)
{
    (void)arg;
    return rm_member_send(member, addr, data, len, NULL);
}

static bool pump_until(bool (*done)(void), int ms)
{
    int64_t end = zclock_mono() + ms;
    while (!done() && zclock_mono() < end) {
        rm_loop_run_once(loop, 20);
        rm_member_tick(member);
        int64_t now = zclock_mono();
        rm_xfer_tick(xfer, now);
        if (repair)
            rm_repair_tick(repair, now);
    }
    return done();
}

static bool n1_alive(void)
{
    return nf_sees_alive(member, "n1");
}

/*  One output: a one-file manifest of distinct content, put in the stores
    given. */
static bool make_output(int i, rm_store_t *a, rm_store_t *b)
{
    char path[400];
    snprintf(path, sizeof path, "%s/frame_%04d.png", mesh.dir, i + 1);
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    fprintf(f, "frame %d of a reclaimed pool", i + 1);
    fclose(f);
    rm_err_t err;
    uint64_t size;
    char name[32];
    snprintf(name, sizeof name, "frame_%04d.png", i + 1);
    rm_store_t *stores[2] = {a, b};
    for (int k = 0; k < 2; k++)
        if (stores[k] &&
            rm_manifest_store_file(stores[k], path, name, &outputs[i], &size, &err) != 0) {
            fprintf(stderr, "output %d: %s\n", i, err.msg);
            return false;
        }
    if (!a && !b) { /* D: its hash only, stored nowhere */
        rm_store_t *scratch = NULL;
        char dir[400];
        snprintf(dir, sizeof dir, "%s/scratch", mesh.dir);
        if (!(scratch = rm_store_new(dir, &err)))
            return false;
        int rc = rm_manifest_store_file(scratch, path, name, &outputs[i], &size, &err);
        rm_store_destroy(&scratch);
        return rc == 0;
    }
    return true;
}

/*  The job n3 holds: frames 1-4 done by gone1 with outputs A-D. */
static bool make_job(void)
{
    rm_job_spec_t spec;
    rm_job_t *job = NULL;
    bool created = false;
    rm_err_t err;
    fx_spec(&spec, JOB_ID, "1-4", 0xcd, 0, 1);
    int rc = rm_jobs_create(jobs, &spec, &job, &created, &err);
    rm_codec_free(&rm_job_spec_desc, &spec);
    if (rc != 0)
        return false;
    for (int i = 0; i < 4; i++) {
        char file[32];
        snprintf(file, sizeof file, "frame_%04d.png", i + 1);
        rm_frame_output_t out = {.output = outputs[i], .size = 30, .file = file, .render_ms = 5};
        if (rm_job_frame_done(job, (uint64_t)i + 1, &out, "gone1", NULL, &err) != 0)
            return false;
    }
    return rm_job_finished(job);
}

/*  Whether n1 holds output i (its manifest and its one chunk), read from
    the files: n1 runs with its own store object, whose packs another
    object's index does not know. */
static bool n1_holds(int i)
{
    char root[300], content[64];
    snprintf(root, sizeof root, "%s/n1/chunks", mesh.dir);
    int n = snprintf(content, sizeof content, "frame %d of a reclaimed pool", i + 1);
    rm_hash_t chunk;
    rm_hash(content, (size_t)n, &chunk);
    return rm_store_peek(root, &outputs[i]) && rm_store_peek(root, &chunk);
}

static bool repaired(void)
{
    return rm_repair_reopened(repair) >= 1 && rm_repair_copied(repair) >= 2;
}

static void test_lost_outputs_are_rendered_again_and_lone_ones_copied(void)
{
    CHECK_MSG(pump_until(repaired, DEADLINE_MS), "reopened %llu, copied %llu",
              (unsigned long long)rm_repair_reopened(repair),
              (unsigned long long)rm_repair_copied(repair));
    rm_job_t *job = rm_jobs_find(jobs, JOB_ID);
    CHECK(job != NULL);
    if (!job)
        return;
    const rm_frame_rec_t *d = rm_job_frame(job, 4);
    CHECK(d->state == RM_FRAME_PENDING && d->gen == 1);
    CHECK_MSG(strstr(d->error, "output lost: no live node holds it (rendered on gone1, which is "
                               "gone; 1 other node asked)") != NULL,
              "%s", d->error);
    CHECK(!rm_job_finished(job));
    for (uint64_t f = 1; f <= 3; f++)
        CHECK(rm_job_frame(job, f)->state == RM_FRAME_DONE && rm_job_frame(job, f)->gen == 0);
    CHECK(rm_repair_reopened(repair) == 1);
    CHECK(rm_repair_holds(store, &outputs[0])); /* A, fetched from n1 */
    CHECK(n1_holds(2));                         /* C, sent to n1 */
    CHECK(rm_repair_holds(store, &outputs[1]) && n1_holds(1));
    CHECK(!rm_repair_holds(store, &outputs[3]) && !n1_holds(3));
}

#define JOB_ID2 "00000000000000e2"

static bool job2_reopened(void)
{
    rm_job_t *job = rm_jobs_find(jobs, JOB_ID2);
    return job && rm_job_frame(job, 1)->state == RM_FRAME_PENDING;
}

/*  A frame rendered by a node no member knows (forgotten long ago, or this
    coordinator restarted since): its first audit sees the renderer gone
    only now, and within repair_after_s it is looked at again and found
    lost, with no member dying meanwhile. */
static void test_a_renderer_no_member_knows_is_audited_after_repair_after_s(void)
{
    rm_job_spec_t spec;
    rm_job_t *job = NULL;
    bool created = false;
    rm_err_t err;
    fx_spec(&spec, JOB_ID2, "1", 0xce, 0, 1);
    CHECK(rm_jobs_create(jobs, &spec, &job, &created, &err) == 0);
    rm_codec_free(&rm_job_spec_desc, &spec);
    rm_frame_output_t out = {.size = 30, .file = "frame_0001.png", .render_ms = 5};
    memset(out.output.b, 0xe2, sizeof out.output.b); /* on no node */
    CHECK(job && rm_job_frame_done(job, 1, &out, "forgotten", NULL, &err) == 0);
    rm_repair_destroy(&repair);
    repair = rm_repair_new("n3", 1, jobs, member, store, xfer, &election, &err);
    CHECK_MSG(repair != NULL, "%s", err.msg);
    int64_t start = zclock_mono();
    CHECK(pump_until(job2_reopened, DEADLINE_MS));
    int64_t took = zclock_mono() - start;
    /* Not before the settle time and repair_after_s (1 s) both passed. */
    CHECK_MSG(took >= RM_REPAIR_SETTLE_MS + 900, "%lld ms", (long long)took);
    const rm_frame_rec_t *f = job ? rm_job_frame(job, 1) : NULL;
    CHECK(f && strstr(f->error, "rendered on forgotten, which is gone"));
    printf("a frame of a node no member knows: reopened after %lld ms: %s\n", (long long)took,
           f ? f->error : "");
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    if (!nf_mesh_init(&mesh, "repair"))
        return 1;
    char path[300], fake[1024];
    nf_fake_blender(fake, sizeof fake);
    int port = rm_test_ports(2);
    CHECK(port != 0);
    snprintf(n1_addr, sizeof n1_addr, "tcp://127.0.0.1:%d", port);
    rm_config_t c1;
    CHECK(nf_node_config(&mesh, "n1", port, fake, &c1));
    rm_err_t err;
    snprintf(path, sizeof path, "%s/n1/chunks", mesh.dir);
    n1_store = rm_store_new(path, &err);
    snprintf(path, sizeof path, "%s/n3", mesh.dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/n3/chunks", mesh.dir);
    store = rm_store_new(path, &err);
    snprintf(path, sizeof path, "%s/n3/jobs", mesh.dir);
    jobs = rm_jobs_new(path, &err);
    CHECK(n1_store && store && jobs);
    CHECK(make_output(0, n1_store, NULL) && make_output(1, n1_store, store) &&
          make_output(2, store, NULL) && make_output(3, NULL, NULL));
    CHECK(jobs && make_job());

    zsys_init();
    FILE *log = tmpfile();
    zsys_set_logstream(log);
    rm_node_t *n1 = nf_node_start(&c1);
    CHECK(n1 != NULL);
    loop = rm_loop_new();
    member = nf_member_new(&mesh, "n3", &n3_token, loop);
    xfer = store && member ? rm_xfer_new(store, xfer_send, NULL, &err) : NULL;
    CHECK(xfer != NULL);
    if (n1 && xfer) {
        rm_member_on_message(member, on_message, NULL);
        CHECK_MSG(rm_member_join(member, n1_addr, &err) == 0, "%s", err.msg);
        CHECK_MSG(pump_until(n1_alive, DEADLINE_MS), "n1 never alive");
        /* Made once n1 is a member: an audit before would find no one. */
        repair = rm_repair_new("n3", 0, jobs, member, store, xfer, &election, &err);
        CHECK_MSG(repair != NULL, "%s", err.msg);
        if (repair) {
            RM_RUN(test_lost_outputs_are_rendered_again_and_lone_ones_copied);
            RM_RUN(test_a_renderer_no_member_knows_is_audited_after_repair_after_s);
        }
    }
    rm_repair_destroy(&repair);
    rm_xfer_destroy(&xfer);
    rm_member_destroy(&member);
    rm_loop_destroy(&loop);
    rm_jobs_destroy(&jobs);
    rm_store_destroy(&store);
    rm_store_destroy(&n1_store);
    rm_node_destroy(&n1);
    rm_token_free(&n3_token);
    zsys_set_logstream(stderr);
    if (rm_test_failures && getenv("RM_TEST_LOG")) {
        rewind(log);
        char line[512];
        while (fgets(line, sizeof line, log))
            fputs(line, stderr);
    }
    fclose(log);
    nf_mesh_remove(&mesh);
    RM_TEST_DONE();
}
