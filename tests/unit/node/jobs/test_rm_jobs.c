/*  rm_jobs: the table of jobs: creation, loading, submission order, and
    records from peers merged into it (the rule itself: test_rm_job_merge). */
#define _XOPEN_SOURCE 700
#include "job_fixtures.h"

#include <sys/stat.h>
#include <unistd.h>

#include "rm_test.h"

#define JOB_ID "00000000000000aa"

typedef struct {
    uint8_t *p;
    size_t n;
} bytes_t;

static char root[] = "/tmp/rm-test-jobs.XXXXXX";

/*  A fresh table in ROOT/name; its directory in dir. */
static rm_jobs_t *fresh(const char *name, char *dir, size_t size)
{
    rm_err_t err;
    snprintf(dir, size, "%s/%s", root, name);
    rm_jobs_t *jobs = rm_jobs_new(dir, &err);
    CHECK_MSG(jobs != NULL, "%s", err.msg);
    if (!jobs)
        exit(1);
    return jobs;
}

static rm_jobs_t *reopen(rm_jobs_t **jobs, const char *dir)
{
    rm_err_t err;
    rm_jobs_destroy(jobs);
    rm_jobs_t *again = rm_jobs_new(dir, &err);
    CHECK_MSG(again != NULL, "%s", err.msg);
    if (!again)
        exit(1);
    return again;
}

static rm_job_t *create(rm_jobs_t *jobs, const char *id, const char *frames, uint8_t manifest,
                        int64_t submitted_at)
{
    rm_job_spec_t spec;
    rm_job_t *job = NULL;
    bool created = false;
    rm_err_t err;
    fx_spec(&spec, id, frames, manifest, 0, submitted_at);
    int rc = rm_jobs_create(jobs, &spec, &job, &created, &err);
    CHECK_MSG(rc == 0 && created, "%s", err.msg);
    rm_codec_free(&rm_job_spec_desc, &spec);
    return job;
}

static bytes_t export_job(const rm_job_t *job)
{
    bytes_t b = {0};
    rm_err_t err;
    if (job)
        CHECK_MSG(rm_job_export(job, &b.p, &b.n, &err) == 0, "%s", err.msg);
    return b;
}

static bool bytes_eq(bytes_t a, bytes_t b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static void test_create_is_idempotent(void)
{
    char dir[600];
    rm_jobs_t *jobs = fresh("idempotent", dir, sizeof dir);
    rm_job_t *a = create(jobs, JOB_ID, "1-6", 0xab, 1000), *same = NULL;
    rm_job_spec_t again;
    bool created = true;
    rm_err_t err;
    fx_spec(&again, JOB_ID, "1-6", 0xab, 0, 1000);
    CHECK(rm_jobs_create(jobs, &again, &same, &created, &err) == 0 && !created && same == a);
    again.manifest.b[0] = 0; /* the same id for another project */
    CHECK(rm_jobs_create(jobs, &again, &same, &created, &err) == -1 && err.code == RM_EINVAL);
    CHECK(strstr(err.msg, "another project") != NULL && rm_jobs_count(jobs) == 1);
    rm_codec_free(&rm_job_spec_desc, &again);
    rm_jobs_destroy(&jobs);
}

static void test_refuses_bad_ids(void)
{
    char dir[600];
    rm_jobs_t *jobs = fresh("bad-ids", dir, sizeof dir);
    const char *ids[] = {"../etc", "", "00000000000000AA",
                         "00000000000000000000000000000000000000000000000000000000000000000"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        rm_job_spec_t bad;
        rm_job_t *job = NULL;
        bool created;
        rm_err_t err;
        fx_spec(&bad, ids[i], "1", 0xab, 0, 1);
        CHECK_MSG(rm_jobs_create(jobs, &bad, &job, &created, &err) == -1 && err.code == RM_EINVAL,
                  "id '%s'", ids[i]);
        rm_codec_free(&rm_job_spec_desc, &bad);
    }
    CHECK(rm_jobs_count(jobs) == 0);
    rm_jobs_destroy(&jobs);
}

/*  In submission order, reloaded too; a damaged job is skipped. */
static void test_reload_keeps_every_job_in_order(void)
{
    char dir[600], path[700];
    rm_jobs_t *jobs = fresh("reload", dir, sizeof dir);
    create(jobs, "00000000000000b2", "1-2", 0xab, 2000);
    create(jobs, "00000000000000b1", "1-2", 0xab, 3000);
    create(jobs, "00000000000000b3", "1-2", 0xab, 1000);
    rm_job_t *b1 = rm_jobs_find(jobs, "00000000000000b1");
    CHECK(b1 && rm_job_cancel(b1, NULL, NULL) == 0);
    const char *order[] = {"00000000000000b3", "00000000000000b2", "00000000000000b1"};
    for (size_t i = 0; i < 3; i++)
        CHECK(strcmp(rm_job_id(rm_jobs_at(jobs, i)), order[i]) == 0);
    CHECK(rm_jobs_at(jobs, 3) == NULL && rm_jobs_find(jobs, "00000000000000b4") == NULL);
    /* Another directory with a damaged snapshot, and one not a job id. */
    snprintf(path, sizeof path, "%s/00000000000000b4", dir);
    CHECK(mkdir(path, 0700) == 0);
    snprintf(path, sizeof path, "%s/00000000000000b4/job.state", dir);
    fx_write_file(path, (const uint8_t *)"\x97\x02garbage", 9);
    snprintf(path, sizeof path, "%s/not-a-job", dir);
    CHECK(mkdir(path, 0700) == 0);
    jobs = reopen(&jobs, dir);
    CHECK(rm_jobs_count(jobs) == 3);
    for (size_t i = 0; i < 3; i++)
        CHECK(strcmp(rm_job_id(rm_jobs_at(jobs, i)), order[i]) == 0);
    CHECK(strcmp(rm_job_state(rm_jobs_find(jobs, "00000000000000b1")), "canceled") == 0);
    rm_jobs_destroy(&jobs);
}

/*  A job written by format 1 loads, and is rewritten as format 2. */
static void test_loads_format_1(void)
{
    char dir[600], path[700];
    rm_jobs_t *jobs = fresh("v1", dir, sizeof dir);
    rm_jobs_destroy(&jobs);
    fx_write_v1_job(dir, "00000000000000ee");
    jobs = reopen(&jobs, dir);
    rm_job_t *job = rm_jobs_find(jobs, "00000000000000ee");
    CHECK_MSG(job != NULL, "a format 1 job was not loaded");
    if (job) {
        CHECK(rm_job_frame(job, 1)->state == RM_FRAME_DONE && rm_job_frame(job, 1)->size == 10);
        CHECK(rm_job_frame(job, 2)->state == RM_FRAME_PENDING);
        CHECK(rm_job_frame(job, 3)->attempts == 1 && rm_job_frame(job, 3)->failed_on.count == 0);
        CHECK(strcmp(rm_job_frame(job, 3)->error, "crashed") == 0);
    }
    snprintf(path, sizeof path, "%s/00000000000000ee/job.state", dir);
    FILE *f = fopen(path, "rb");
    uint8_t head[2] = {0};
    CHECK(f && fread(head, 1, 2, f) == 2 && head[0] == 0x9a && head[1] == 2);
    if (f)
        fclose(f);
    rm_jobs_destroy(&jobs);
}

static void test_spec_conflicts(void)
{
    char da[600], db[600], dc[600], dd[600];
    rm_jobs_t *a = fresh("conflict-a", da, sizeof da), *b = fresh("conflict-b", db, sizeof db);
    rm_jobs_t *c = fresh("conflict-c", dc, sizeof dc), *d = fresh("conflict-d", dd, sizeof dd);
    rm_job_t *ja = create(a, JOB_ID, "1-4", 0xab, 500);
    rm_job_t *jb = create(b, JOB_ID, "1-4", 0xcd, 400); /* another project */
    rm_job_t *jc = create(c, JOB_ID, "1-5", 0xab, 500); /* other frames */
    rm_job_t *jd = create(d, JOB_ID, "1-4", 0xab, 300); /* submitted earlier */
    bytes_t xa = export_job(ja), xb = export_job(jb), xc = export_job(jc), xd = export_job(jd);
    rm_job_t *out = (rm_job_t *)1;
    bool changed = true;
    rm_err_t err;
    CHECK(rm_jobs_merge(a, xb.p, xb.n, &out, &changed, &err) == -1 && err.code == RM_EINVAL);
    CHECK(strstr(err.msg, "another project") != NULL && out == NULL && !changed);
    CHECK(rm_jobs_merge(a, xc.p, xc.n, &out, &changed, &err) == -1 && err.code == RM_EINVAL);
    CHECK(strstr(err.msg, "spec differs") != NULL);
    bytes_t after = export_job(ja);
    CHECK_MSG(bytes_eq(xa, after), "a refused merge changed the job");
    free(after.p);
    /* Same spec but for submitted_at: the earliest wins, both ways. */
    CHECK(rm_jobs_merge(a, xd.p, xd.n, &out, &changed, &err) == 0 && changed && out == ja);
    CHECK(rm_job_spec(ja)->submitted_at == 300);
    CHECK(rm_jobs_merge(d, xa.p, xa.n, &out, &changed, &err) == 0 && !changed);
    rm_jobs_t *all[] = {a, b, c, d};
    for (int i = 0; i < 4; i++)
        rm_jobs_destroy(&all[i]);
    bytes_t bs[] = {xa, xb, xc, xd};
    for (int i = 0; i < 4; i++)
        free(bs[i].p);
}

/*  An earlier submitted_at merged in moves the job in submission order. */
static void test_merge_moves_submission_order(void)
{
    char da[600], db[600];
    rm_jobs_t *a = fresh("order-a", da, sizeof da), *b = fresh("order-b", db, sizeof db);
    create(a, "00000000000000c1", "1", 0xab, 100);
    create(a, JOB_ID, "1", 0xab, 200);
    bytes_t early = export_job(create(b, JOB_ID, "1", 0xab, 50));
    rm_job_t *out;
    bool changed;
    CHECK(strcmp(rm_job_id(rm_jobs_at(a, 0)), "00000000000000c1") == 0);
    CHECK(rm_jobs_merge(a, early.p, early.n, &out, &changed, NULL) == 0 && changed);
    CHECK(strcmp(rm_job_id(rm_jobs_at(a, 0)), JOB_ID) == 0);
    free(early.p);
    rm_jobs_destroy(&a);
    rm_jobs_destroy(&b);
}

/*  Replaces the first `from` in x by `to` (same length); false if absent. */
static bool patch(bytes_t x, const char *from, const char *to, size_t len)
{
    for (size_t i = 0; i + len <= x.n; i++)
        if (memcmp(x.p + i, from, len) == 0) {
            memcpy(x.p + i, to, len);
            return true;
        }
    return false;
}

static void expect_refused(rm_jobs_t *jobs, bytes_t x, const char *what)
{
    rm_job_t *out = (rm_job_t *)1;
    bool changed = true;
    rm_err_t err;
    size_t count = rm_jobs_count(jobs);
    int rc = rm_jobs_merge(jobs, x.p, x.n, &out, &changed, &err);
    CHECK_MSG(rc == -1 && err.code == RM_EPROTO && out == NULL && !changed, "%s: rc %d, %s", what,
              rc, rc ? err.msg : "accepted");
    CHECK(rm_jobs_count(jobs) == count);
}

static void test_bad_input(void)
{
    char dsrc[600], ddst[600];
    rm_jobs_t *src = fresh("bad-src", dsrc, sizeof dsrc),
              *dst = fresh("bad-dst", ddst, sizeof ddst);
    rm_job_t *job = create(src, JOB_ID, "1-3", 0xab, 500);
    rm_err_t err;
    CHECK(fx_fail_on(job, 1, "bb", "x", 9, &err) == 0);
    CHECK(fx_fail_on(job, 1, "aa", "x", 9, &err) == 0);
    bytes_t x = export_job(job);
    /* Every truncation, and one byte too many. */
    for (size_t len = 0; len < x.n; len++)
        expect_refused(dst, (bytes_t){x.p, len}, "truncated");
    bytes_t longer = {malloc(x.n + 1), x.n + 1};
    memcpy(longer.p, x.p, x.n);
    longer.p[x.n] = 0xc0;
    expect_refused(dst, longer, "trailing byte");
    free(longer.p);
    /* Format 1 from the wire, or a future one. */
    CHECK(x.p[0] == 0x9a && x.p[1] == 2);
    x.p[1] = 1;
    expect_refused(dst, x, "format 1");
    x.p[1] = 3;
    expect_refused(dst, x, "format 3");
    x.p[1] = 2;
    /* failed_on out of order; frames out of order; a path as the job id. */
    bytes_t y = {malloc(x.n), x.n};
    memcpy(y.p, x.p, x.n);
    CHECK(patch(y,
                "\x92\xa2"
                "aa\xa2"
                "bb",
                "\x92\xa2"
                "bb\xa2"
                "aa",
                7));
    expect_refused(dst, y, "unsorted failed_on");
    memcpy(y.p, x.p, x.n);
    CHECK(patch(y, "\xdc\x00\x10\x02\x00", "\xdc\x00\x10\x03\x00", 5));
    expect_refused(dst, y, "frames out of order");
    memcpy(y.p, x.p, x.n);
    CHECK(patch(y, JOB_ID, "00000000000/../a", 16));
    expect_refused(dst, y, "job id with a path");
    free(y.p);
    /* Garbage: refused. */
    uint8_t junk[512];
    srand(42);
    for (int i = 0; i < 2000; i++) {
        size_t len = (size_t)rand() % sizeof junk;
        for (size_t k = 0; k < len; k++)
            junk[k] = (uint8_t)rand();
        rm_job_t *out;
        bool changed;
        CHECK(rm_jobs_merge(dst, junk, len, &out, &changed, &err) == -1);
    }
    CHECK(rm_jobs_count(dst) == 0);
    /* A valid record makes the directories and survives a restart. */
    rm_job_t *out;
    bool changed;
    CHECK(rm_jobs_merge(dst, x.p, x.n, &out, &changed, &err) == 0 && changed);
    char path[700];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s/out", ddst, JOB_ID);
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    dst = reopen(&dst, ddst);
    bytes_t again = export_job(rm_jobs_find(dst, JOB_ID));
    CHECK(bytes_eq(x, again));
    free(again.p);
    free(x.p);
    rm_jobs_destroy(&src);
    rm_jobs_destroy(&dst);
}

static void fail_on_range(rm_job_t *job, int first, int last)
{
    rm_err_t err;
    char node[8];
    for (int i = first; i <= last; i++) {
        snprintf(node, sizeof node, "n%02d", i);
        CHECK_MSG(fx_fail_on(job, 1, node, "boom", 1000, &err) == 0, "%s", err.msg);
    }
}

static void test_failed_on_merges_by_union(void)
{
    char da[600], db[600];
    rm_jobs_t *a = fresh("failed-a", da, sizeof da), *b = fresh("failed-b", db, sizeof db);
    rm_job_t *ja = create(a, JOB_ID, "1-2", 0xab, 500), *jb = create(b, JOB_ID, "1-2", 0xab, 500);
    rm_err_t err;
    /* A node counts once. */
    CHECK(fx_fail_on(ja, 2, "zz", "x", 1000, &err) == 0);
    CHECK(fx_fail_on(ja, 2, "zz", "y", 1000, &err) == 0);
    const rm_frame_rec_t *f2 = rm_job_frame(ja, 2);
    CHECK(f2->attempts == 2 && f2->failed_on.count == 1 && rm_job_record_failed_on(f2, "zz"));
    CHECK(rm_job_failures_on(ja, "zz") == 1 && rm_job_failures_on(ja, "n01") == 0);
    /* 40 nodes on one side, 70 on the other: the union keeps the first 64. */
    fail_on_range(ja, 1, 40);
    fail_on_range(jb, 30, 99);
    const rm_frame_rec_t *fb = rm_job_frame(jb, 1);
    CHECK(fb->failed_on.count == RM_MAX_FAILED_ON && strcmp(fb->failed_on.items[0], "n30") == 0);
    bytes_t xa = export_job(ja), xb = export_job(jb);
    rm_job_t *out;
    bool changed;
    CHECK(rm_jobs_merge(a, xb.p, xb.n, &out, &changed, &err) == 0 && changed);
    CHECK(rm_jobs_merge(b, xa.p, xa.n, &out, &changed, &err) == 0 && changed);
    const rm_frame_rec_t *f1 = rm_job_frame(ja, 1);
    CHECK(f1->attempts == 70 && f1->failed_on.count == RM_MAX_FAILED_ON);
    CHECK(strcmp(f1->failed_on.items[0], "n01") == 0 &&
          strcmp(f1->failed_on.items[63], "n64") == 0);
    bytes_t ya = export_job(ja), yb = export_job(jb);
    CHECK_MSG(bytes_eq(ya, yb), "failed_on union depends on the order");
    bytes_t bs[] = {xa, xb, ya, yb};
    for (int i = 0; i < 4; i++)
        free(bs[i].p);
    rm_jobs_destroy(&a);
    rm_jobs_destroy(&b);
}

static void summary_of(rm_job_t *job, rm_job_summary_t *sum)
{
    rm_err_t err;
    CHECK_MSG(rm_job_summary(job, sum, &err) == 0, "%s", err.msg);
}

/*  Job level: canceled OR, smallest reason, earliest start, latest finish. */
static void test_job_flags(void)
{
    char da[600], db[600];
    rm_jobs_t *a = fresh("flags-a", da, sizeof da), *b = fresh("flags-b", db, sizeof db);
    rm_job_t *ja = create(a, JOB_ID, "1-4", 0xab, 500), *jb = create(b, JOB_ID, "1-4", 0xab, 500);
    rm_job_t *out;
    uint64_t frames[4];
    rm_err_t err;
    bool changed;
    CHECK(fx_assign_next(ja, "n1", 1, frames, 4) > 0);
    usleep(3000);
    CHECK(fx_assign_next(jb, "n2", 1, frames, 4) > 0);
    CHECK(rm_job_fail(ja, "zeta: scene missing", &err) == 0);
    usleep(3000);
    CHECK(rm_job_fail(jb, "alpha: camera missing", &err) == 0);
    CHECK(rm_job_cancel(jb, NULL, &err) == 0);
    rm_job_summary_t sa, sb;
    summary_of(ja, &sa);
    summary_of(jb, &sb);
    CHECK(sa.started_at < sb.started_at && sa.finished_at < sb.finished_at);
    bytes_t xa = export_job(ja), xb = export_job(jb);
    CHECK(rm_jobs_merge(a, xb.p, xb.n, &out, &changed, &err) == 0 && changed);
    CHECK(rm_jobs_merge(b, xa.p, xa.n, &out, &changed, &err) == 0 && changed);
    bytes_t ya = export_job(ja), yb = export_job(jb);
    CHECK_MSG(bytes_eq(ya, yb), "job flags depend on the order");
    rm_job_summary_t m;
    summary_of(ja, &m);
    CHECK(strcmp(m.state, "canceled") == 0 && strcmp(m.error, "alpha: camera missing") == 0);
    CHECK(m.started_at == sa.started_at && m.finished_at == sb.finished_at);
    rm_job_summary_t *all[] = {&sa, &sb, &m};
    for (int i = 0; i < 3; i++)
        rm_codec_free(&rm_job_summary_desc, all[i]);
    bytes_t bs[] = {xa, xb, ya, yb};
    for (int i = 0; i < 4; i++)
        free(bs[i].p);
    rm_jobs_destroy(&a);
    rm_jobs_destroy(&b);
}

/*  Why attempts come before the state: a failed attempt must win over a
    stale copy of the assignment it failed, or the frame would look
    assigned for good to a node that no longer renders it. */
static void test_retry_beats_stale_assignment(void)
{
    char da[600], db[600];
    rm_jobs_t *a = fresh("stale-a", da, sizeof da), *b = fresh("stale-b", db, sizeof db);
    rm_job_t *ja = create(a, JOB_ID, "1", 0xab, 500), *out;
    uint64_t frames[1];
    rm_err_t err;
    bool changed;
    CHECK(fx_assign_next(ja, "n1", 5, frames, 1) == 1);
    bytes_t stale = export_job(ja);
    CHECK(rm_jobs_merge(b, stale.p, stale.n, &out, &changed, &err) == 0);
    CHECK(rm_job_frame_failed(ja, 1, "crashed", 3, &err) == 0);
    bytes_t retry = export_job(ja);
    /* b learns of the failure: pending there too, and b can hand it out. */
    CHECK(rm_jobs_merge(b, retry.p, retry.n, &out, &changed, &err) == 0 && changed);
    CHECK(rm_job_frame(out, 1)->state == RM_FRAME_PENDING);
    CHECK(fx_assign_next(out, "n2", 5, frames, 1) == 1);
    /* a hears the stale copy again: nothing changes. */
    CHECK(rm_jobs_merge(a, stale.p, stale.n, &out, &changed, &err) == 0 && !changed);
    CHECK(rm_job_frame(ja, 1)->state == RM_FRAME_PENDING);
    free(stale.p);
    free(retry.p);
    rm_jobs_destroy(&a);
    rm_jobs_destroy(&b);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/*  Merges alone grow the journal until it is folded into the snapshot;
    restarting right after the merge that triggered it must lose nothing,
    that merge included (compaction only once entries are applied). */
static void test_compaction_under_merges(void)
{
    char da[600], db[600], journal[700];
    rm_jobs_t *a = fresh("compact-a", da, sizeof da), *b = fresh("compact-b", db, sizeof db);
    rm_job_t *jb = create(b, JOB_ID, "1-2", 0xab, 500), *out;
    rm_err_t err;
    bool changed, compacted = false;
    char node[8];
    snprintf(journal, sizeof journal, "%s/%s/job.journal", da, JOB_ID);
    for (int i = 0; i < 1000 && !compacted; i++) {
        snprintf(node, sizeof node, "n%03d", i);
        CHECK(fx_fail_on(jb, 1 + i % 2, node, "flaky", 100000, &err) == 0);
        bytes_t x = export_job(jb);
        long before = file_size(journal);
        CHECK_MSG(rm_jobs_merge(a, x.p, x.n, &out, &changed, &err) == 0 && changed, "%s", err.msg);
        compacted = before > 0 && file_size(journal) < before;
        free(x.p);
    }
    CHECK_MSG(compacted, "the journal was never compacted");
    bytes_t want = export_job(jb);
    a = reopen(&a, da);
    bytes_t got = export_job(rm_jobs_find(a, JOB_ID));
    CHECK_MSG(bytes_eq(want, got), "a merge was lost by the compaction it triggered");
    free(want.p);
    free(got.p);
    rm_jobs_destroy(&a);
    rm_jobs_destroy(&b);
}

/*  A removed job is gone from the table and the disk, after a restart
    too; a peer's record of it is refused and the removal is at hand to
    answer with. */
static void test_remove(void)
{
    char dir[600], path[800];
    rm_err_t err;
    rm_jobs_t *jobs = fresh("remove", dir, sizeof dir);
    rm_job_t *a = create(jobs, "00000000000000a1", "1", 1, 10);
    create(jobs, "00000000000000a2", "1", 1, 20);
    create(jobs, "00000000000000a3", "1", 1, 30);
    bytes_t rec = export_job(a);
    uint8_t sig[] = {9, 9};
    rm_bin_t removal = {sig, sizeof sig};
    CHECK_MSG(rm_jobs_remove(jobs, "00000000000000a2", 5, &removal, &err) == 0, "%s", err.msg);
    CHECK(rm_jobs_count(jobs) == 2 && rm_jobs_find(jobs, "00000000000000a2") == NULL);
    CHECK(strcmp(rm_job_id(rm_jobs_at(jobs, 1)), "00000000000000a3") == 0);
    snprintf(path, sizeof path, "%s/00000000000000a2", dir);
    CHECK(access(path, F_OK) != 0);
    CHECK(rm_jobs_remove(jobs, "00000000000000a1", 6, &removal, &err) == 0);
    jobs = reopen(&jobs, dir);
    CHECK(rm_jobs_count(jobs) == 1 && rm_jobs_removal(jobs, "00000000000000a2") &&
          rm_jobs_removal(jobs, "00000000000000a2")->len == 2);
    rm_job_t *out = NULL;
    bool changed = true;
    CHECK(rm_jobs_merge(jobs, rec.p, rec.n, &out, &changed, &err) == -1 &&
          err.code == RM_ENOTFOUND && strstr(err.msg, "was removed") && !changed);
    char id[65];
    CHECK(rm_job_record_peek_id(rec.p, rec.n, id, sizeof id) == 0 &&
          strcmp(id, "00000000000000a1") == 0);
    CHECK(rm_job_record_peek_id(rec.p, 3, id, sizeof id) == -1);
    /* A removal a crash cut short is finished at the next start. */
    snprintf(path, sizeof path, "%s/.removed-00000000000000a9", dir);
    CHECK(mkdir(path, 0700) == 0);
    jobs = reopen(&jobs, dir);
    CHECK(access(path, F_OK) != 0 && rm_jobs_count(jobs) == 1);
    /* Without a removal: deleted, nothing kept. */
    CHECK(rm_jobs_remove(jobs, "00000000000000a3", 7, NULL, &err) == 0);
    CHECK(rm_jobs_count(jobs) == 0 && rm_jobs_removal(jobs, "00000000000000a3") == NULL);
    free(rec.p);
    rm_jobs_destroy(&jobs);
}

/*  Finished jobs leave retain_ms after they finished; others stay; a
    record finished that long ago is not adopted. */
static void test_retention(void)
{
    char dir[600];
    rm_err_t err;
    rm_jobs_t *jobs = fresh("retain", dir, sizeof dir);
    rm_job_t *done = create(jobs, "00000000000000b1", "1", 1, 10);
    create(jobs, "00000000000000b2", "1", 1, 20);
    rm_frame_output_t out = {.size = 1, .file = "f.png"};
    memset(out.output.b, 3, 32);
    CHECK(rm_job_frame_done(done, 1, &out, "n1", NULL, &err) == 0 && rm_job_finished_at(done) > 0);
    int64_t finished = rm_job_finished_at(done);
    bytes_t rec = export_job(done);
    CHECK(rm_jobs_expire(jobs, finished + 1000, NULL, NULL) == 0); /* kept forever */
    rm_jobs_set_retention(jobs, 1000);
    CHECK(rm_jobs_expire(jobs, finished + 1000, NULL, NULL) == 0);
    CHECK(rm_jobs_expire(jobs, finished + 1001, NULL, NULL) == 1);
    CHECK(rm_jobs_count(jobs) == 1 && rm_jobs_find(jobs, "00000000000000b2"));
    rm_job_t *back = NULL;
    bool changed;
    rm_jobs_set_retention(jobs, 1);
    usleep(20000);
    CHECK(rm_jobs_merge(jobs, rec.p, rec.n, &back, &changed, &err) == -1 &&
          strstr(err.msg, "retention"));
    rm_jobs_set_retention(jobs, (int64_t)1 << 50);
    CHECK_MSG(rm_jobs_merge(jobs, rec.p, rec.n, &back, &changed, &err) == 0, "%s", err.msg);
    free(rec.p);
    rm_jobs_destroy(&jobs);
}

/*  The unfinished jobs, in submission order, kept without a rescan. */
static void test_active(void)
{
    char dir[600];
    rm_err_t err;
    rm_jobs_t *jobs = fresh("active", dir, sizeof dir);
    rm_job_t *a = create(jobs, "00000000000000c1", "1", 1, 10);
    create(jobs, "00000000000000c2", "1", 1, 20);
    size_t n = 0;
    rm_job_t *const *act = rm_jobs_active(jobs, &n);
    CHECK(n == 2 && act[0] == a);
    CHECK(rm_job_cancel(a, NULL, &err) == 0);
    act = rm_jobs_active(jobs, &n);
    CHECK(n == 1 && strcmp(rm_job_id(act[0]), "00000000000000c2") == 0);
    rm_job_t *early = create(jobs, "00000000000000c3", "1", 1, 5); /* submitted first */
    act = rm_jobs_active(jobs, &n);
    CHECK(n == 2 && act[0] == early);
    CHECK(rm_jobs_remove(jobs, "00000000000000c3", 1, NULL, &err) == 0);
    act = rm_jobs_active(jobs, &n);
    CHECK(n == 1 && strcmp(rm_job_id(act[0]), "00000000000000c2") == 0);
    /* Changes to spread are found without a scan, once each. */
    for (rm_job_t *d; (d = rm_jobs_take_dirty(jobs));) {
        uint8_t *buf = NULL;
        size_t len = 0;
        bool whole;
        CHECK(rm_job_take_changes(d, &buf, &len, &whole, &err) == 0);
        free(buf);
    }
    rm_job_t *c2 = rm_jobs_find(jobs, "00000000000000c2");
    CHECK(rm_jobs_take_dirty(jobs) == NULL);
    uint64_t frame = 1;
    CHECK(rm_job_assign(c2, &frame, 1, "n1", RM_STAMP(1, 1), &err) == 0);
    CHECK(rm_jobs_take_dirty(jobs) == c2 && rm_jobs_take_dirty(jobs) == NULL);
    /* A finished job whose frame is reopened (its output lost) is active
       again. */
    rm_hash_t out;
    memset(out.b, 0x42, 32);
    CHECK(rm_job_frame_done(c2, 1, &(rm_frame_output_t){.output = out, .file = "f.png"}, "n1", NULL,
                            &err) == 0);
    act = rm_jobs_active(jobs, &n);
    CHECK(n == 0);
    CHECK(rm_job_frame_reopen(c2, 1, &out, "output lost: test", &err) == 0);
    act = rm_jobs_active(jobs, &n);
    CHECK(n == 1 && act[0] == c2);
    rm_jobs_destroy(&jobs);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(mkdtemp(root) != NULL);
    RM_RUN(test_create_is_idempotent);
    RM_RUN(test_refuses_bad_ids);
    RM_RUN(test_reload_keeps_every_job_in_order);
    RM_RUN(test_loads_format_1);
    RM_RUN(test_spec_conflicts);
    RM_RUN(test_merge_moves_submission_order);
    RM_RUN(test_bad_input);
    RM_RUN(test_failed_on_merges_by_union);
    RM_RUN(test_job_flags);
    RM_RUN(test_retry_beats_stale_assignment);
    RM_RUN(test_compaction_under_merges);
    RM_RUN(test_remove);
    RM_RUN(test_retention);
    RM_RUN(test_active);
    fx_remove_tree(root);
    RM_TEST_DONE();
}
