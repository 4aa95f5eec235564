/*  rm_quota: bounds on a job's settings by role, quotas per submitter. */
#define _XOPEN_SOURCE 700
#include "job_fixtures.h"

#include <unistd.h>

#include "rm_manifest.h"
#include "rm_quota.h"
#include "rm_test.h"

static char root[] = "/tmp/rm-test-quota.XXXXXX";

static rm_quota_t *quota_with(uint64_t jobs, uint64_t submits)
{
    rm_config_t config;
    rm_config_init(&config);
    config.quota_jobs = jobs;
    config.quota_submits = submits;
    return rm_quota_new(&config);
}

static void test_bounds_by_role(void)
{
    rm_quota_t *q = quota_with(0, 0);
    rm_job_spec_t spec;
    rm_err_t err;
    fx_spec(&spec, "a1", "1", 1, 0, 0);
    CHECK(rm_quota_check_spec(q, "artist", &spec, &err) == 0);
    spec.samples = 65537;
    CHECK(rm_quota_check_spec(q, "admin", &spec, &err) == -1 && err.code == RM_EINVAL &&
          strstr(err.msg, "max_samples"));
    spec.samples = 65536;
    spec.res_x = 20000;
    spec.res_y = 100;
    CHECK(rm_quota_check_spec(q, "admin", &spec, &err) == -1 && strstr(err.msg, "20000x100") &&
          strstr(err.msg, "max_resolution"));
    spec.res_x = 16384;
    CHECK(rm_quota_check_spec(q, "admin", &spec, &err) == 0);
    /* Artists within ±100 by default, admins far wider. */
    spec.priority = 101;
    CHECK(rm_quota_check_spec(q, "artist", &spec, &err) == -1 &&
          strstr(err.msg, "--priority 101 is outside -100..100 for artists"));
    CHECK(rm_quota_check_spec(q, "admin", &spec, &err) == 0);
    spec.priority = -100;
    CHECK(rm_quota_check_spec(q, "artist", &spec, &err) == 0);
    spec.priority = -RM_QUOTA_MAX_PRIORITY - 1;
    CHECK(rm_quota_check_spec(q, "admin", &spec, &err) == -1);
    rm_codec_free(&rm_job_spec_desc, &spec);
    rm_quota_destroy(&q);
    CHECK(q == NULL);
}

static void add_project_job(rm_jobs_t *jobs, const char *id, const char *submitter,
                            const rm_hash_t *manifest)
{
    rm_job_spec_t spec;
    rm_job_t *job;
    bool created;
    rm_err_t err;
    fx_spec(&spec, id, "1", 1, 0, 1000);
    free(spec.submitter);
    spec.submitter = strdup(submitter);
    spec.manifest = *manifest;
    CHECK_MSG(rm_jobs_create(jobs, &spec, &job, &created, &err) == 0, "%s", err.msg);
    rm_codec_free(&rm_job_spec_desc, &spec);
}

static void add_job(rm_jobs_t *jobs, const char *id, const char *submitter)
{
    rm_hash_t manifest;
    memset(manifest.b, 1, sizeof manifest.b); /* fx_spec's */
    add_project_job(jobs, id, submitter, &manifest);
}

/*  Unfinished jobs count; finished ones and other submitters' do not. */
static void test_unfinished_jobs(void)
{
    rm_err_t err;
    rm_jobs_t *jobs = rm_jobs_new(root, &err);
    rm_quota_t *q = quota_with(2, 0);
    add_job(jobs, "b1", "bob");
    add_job(jobs, "b2", "bob");
    add_job(jobs, "c1", "carol");
    CHECK(rm_quota_admit(q, jobs, "carol", 0, &err) == 0);
    CHECK(rm_quota_admit(q, jobs, "bob", 0, &err) == -1 && err.code == RM_EAGAIN &&
          strstr(err.msg, "'bob' has 2 unfinished jobs") && strstr(err.msg, "quota_jobs"));
    rm_job_cancel(rm_jobs_find(jobs, "b1"), NULL, &err);
    CHECK_MSG(rm_quota_admit(q, jobs, "bob", 0, &err) == 0, "%s", err.msg);
    rm_quota_destroy(&q);
    rm_jobs_destroy(&jobs);
}

/*  At most N submissions in any minute. */
static void test_submissions_per_minute(void)
{
    rm_err_t err;
    rm_jobs_t *jobs = rm_jobs_new(root, &err);
    rm_quota_t *q = quota_with(0, 3);
    CHECK(rm_quota_admit(q, jobs, "ann", 1000, &err) == 0);
    CHECK(rm_quota_admit(q, jobs, "ann", 2000, &err) == 0);
    CHECK(rm_quota_admit(q, jobs, "ann", 30000, &err) == 0);
    CHECK(rm_quota_admit(q, jobs, "ann", 59000, &err) == -1 && err.code == RM_EAGAIN &&
          strstr(err.msg, "submit again in 2 s"));
    CHECK(rm_quota_admit(q, jobs, "bob", 59000, &err) == 0);
    CHECK(rm_quota_admit(q, jobs, "ann", 61000, &err) == 0);  /* 1000 is a minute old */
    CHECK(rm_quota_admit(q, jobs, "ann", 61500, &err) == -1); /* 2000 is not yet */
    CHECK(rm_quota_admit(q, jobs, "ann", 62000, &err) == 0);
    rm_quota_destroy(&q);
    rm_jobs_destroy(&jobs);
}

/*  A project of one file declared `size` bytes (the quota counts what a
    manifest declares, which is what unpacking it writes). */
static rm_hash_t store_project(rm_store_t *store, const char *path, uint64_t size)
{
    /* One chunk named as many times as the size needs (a manifest may
       repeat a chunk). */
    uint32_t n = (uint32_t)((size + RM_MAX_CHUNK_SIZE - 1) / RM_MAX_CHUNK_SIZE);
    rm_hash_t *chunks = calloc(n, sizeof *chunks), hash = {{0}};
    for (uint32_t i = 0; chunks && i < n; i++)
        chunks[i].b[0] = 7;
    rm_manifest_file_t file = {.path = (char *)path, .mode = 0644, .size = size};
    file.chunks.items = chunks;
    file.chunks.count = n;
    rm_manifest_t m = {1, {&file, 1}}; /* manifest format 1 */
    rm_err_t err;
    CHECK_MSG(rm_manifest_store(&m, store, NULL, NULL, &hash, &err) == 0, "%s", err.msg);
    free(chunks);
    return hash;
}

/*  Projects held count once each, per submitter, until their jobs are
    removed; one already held adds nothing. */
static void test_bytes_stored(void)
{
    rm_err_t err;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/stored", root);
    rm_jobs_t *jobs = rm_jobs_new(dir, &err);
    snprintf(dir, sizeof dir, "%s/chunks", root);
    rm_store_t *store = rm_store_new(dir, &err);
    CHECK(jobs && store);
    rm_config_t config;
    rm_config_init(&config);
    CHECK(config.quota_stored_gb == 500);
    config.quota_stored_gb = 1;
    rm_quota_t *q = rm_quota_new(&config);
    uint64_t gib = 1ull << 30;
    rm_hash_t big = store_project(store, "big.blend", gib * 4 / 5);
    rm_hash_t small = store_project(store, "small.blend", gib / 8);
    rm_hash_t medium = store_project(store, "medium.blend", gib / 4);
    rm_hash_t absent = {{9}}; /* a manifest this node does not hold: 0 bytes here */

    add_project_job(jobs, "b1", "bob", &big);
    add_project_job(jobs, "b2", "bob", &big); /* the same project again: counted once */
    add_project_job(jobs, "b3", "bob", &absent);
    add_project_job(jobs, "c1", "carol", &medium);
    CHECK_MSG(rm_quota_check_stored(q, jobs, store, "bob", &small, &err) == 0, "%s", err.msg);
    CHECK(rm_quota_check_stored(q, jobs, store, "bob", &medium, &err) == -1 &&
          err.code == RM_EAGAIN && strstr(err.msg, "'bob' has 0.8 GiB of projects") &&
          strstr(err.msg, "this one (0.2 GiB)") && strstr(err.msg, "quota_stored_gb"));
    CHECK(rm_quota_check_stored(q, jobs, store, "bob", &big, &err) == 0); /* held already */
    CHECK(rm_quota_check_stored(q, jobs, store, "carol", &big, &err) == -1);
    CHECK(rm_quota_check_stored(q, jobs, store, "dave", &big, &err) == 0);
    /* Bob removes his big project's jobs: room again. */
    CHECK(rm_jobs_remove(jobs, "b1", 1, NULL, &err) == 0 &&
          rm_jobs_remove(jobs, "b2", 1, NULL, &err) == 0);
    CHECK_MSG(rm_quota_check_stored(q, jobs, store, "bob", &medium, &err) == 0, "%s", err.msg);
    rm_quota_destroy(&q);
    /* 0: no limit. */
    config.quota_stored_gb = 0;
    q = rm_quota_new(&config);
    CHECK(rm_quota_check_stored(q, jobs, store, "carol", &big, &err) == 0);
    rm_quota_destroy(&q);
    rm_store_destroy(&store);
    rm_jobs_destroy(&jobs);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(mkdtemp(root) != NULL);
    RM_RUN(test_bounds_by_role);
    RM_RUN(test_unfinished_jobs);
    RM_RUN(test_submissions_per_minute);
    RM_RUN(test_bytes_stored);
    fx_remove_tree(root);
    RM_TEST_DONE();
}
