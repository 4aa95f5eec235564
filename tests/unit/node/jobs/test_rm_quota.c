/*  rm_quota: bounds on a job's settings by role, quotas per submitter. */
#define _XOPEN_SOURCE 700
#include "job_fixtures.h"

#include <unistd.h>

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

static void add_job(rm_jobs_t *jobs, const char *id, const char *submitter)
{
    rm_job_spec_t spec;
    rm_job_t *job;
    bool created;
    rm_err_t err;
    fx_spec(&spec, id, "1", 1, 0, 1000);
    free(spec.submitter);
    spec.submitter = strdup(submitter);
    CHECK_MSG(rm_jobs_create(jobs, &spec, &job, &created, &err) == 0, "%s", err.msg);
    rm_codec_free(&rm_job_spec_desc, &spec);
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
    rm_job_cancel(rm_jobs_find(jobs, "b1"), &err);
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

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(mkdtemp(root) != NULL);
    RM_RUN(test_bounds_by_role);
    RM_RUN(test_unfinished_jobs);
    RM_RUN(test_submissions_per_minute);
    fx_remove_tree(root);
    RM_TEST_DONE();
}
