/*  rm_jobs merge: the job record as a state-based CRDT.

    Property tests with a fixed-seed PRNG: 3-5 simulated nodes, each with
    its own rm_jobs_t in its own directory, change one job at random
    (assign, render, fail, release, cancel, restart) and gossip exported
    records to random subsets in random orders.  Checked throughout:
      (a) after a full exchange every replica exports the same bytes, which
          are the join of all their states taken in any order;
      (b) merge is commutative, associative and idempotent (on fresh tables);
      (c) a merge never lowers a frame in the order of rm_frame_rec_cmp,
          never loses a done or failed state, an attempt or a failed_on name;
      (d) after a reload a replica exports what it exported before, but for
          the assigned frames, pending again by the restart rule.
    Then the fixed cases: another manifest or spec under the same id,
    truncated and garbage input, failed_on union and cap, frame deltas. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_frames.h"
#include "rm_jobs.h"
#include "rm_test.h"

#define JOB_ID "00000000000000aa"
#define NFRAMES 24
#define MAX_REPLICAS 5
#define SEEDS 8
#define STEPS 300

typedef struct {
    uint8_t *p;
    size_t n;
} bytes_t;

typedef struct {
    char dir[512];
    char name[8];
    rm_jobs_t *jobs;
    uint64_t epoch;
} replica_t;

static char root[] = "/tmp/rm-test-merge.XXXXXX";
static unsigned scratch_count;
/*  What a run exercised, printed so that a weak run shows. */
static struct {
    unsigned merges, changed, reloads, algebra, lowered;
} stats;
static uint64_t rng;

/*  splitmix64: a fixed seed gives the same run everywhere. */
static uint64_t rnd(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint32_t below(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void make_spec(rm_job_spec_t *spec, const char *id, const char *frames, uint8_t manifest,
                      int64_t submitted_at)
{
    memset(spec, 0, sizeof *spec);
    spec->job_id = strdup(id);
    spec->name = strdup("merge");
    spec->blend = strdup("scene.blend");
    memset(spec->manifest.b, manifest, 32);
    rm_frames_parse(frames, &spec->frames.items, &spec->frames.count, NULL);
    spec->scene = strdup("");
    spec->camera = strdup("");
    spec->engine = strdup("");
    spec->device = strdup("");
    spec->format = strdup("PNG");
    spec->chunk = 3;
    spec->submitter = strdup("tester");
    spec->submitted_at = submitted_at;
}

static rm_job_t *create(rm_jobs_t *jobs, const char *id, const char *frames, uint8_t manifest,
                        int64_t submitted_at)
{
    rm_job_spec_t spec;
    rm_job_t *job = NULL;
    bool created;
    rm_err_t err;
    make_spec(&spec, id, frames, manifest, submitted_at);
    int rc = rm_jobs_create(jobs, &spec, &job, &created, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    rm_codec_free(&rm_job_spec_desc, &spec);
    return job;
}

static rm_jobs_t *open_table(const char *dir)
{
    rm_err_t err;
    rm_jobs_t *jobs = rm_jobs_new(dir, &err);
    CHECK_MSG(jobs != NULL, "%s", err.msg);
    if (!jobs)
        exit(1);
    return jobs;
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

static bytes_t encode_frame(const rm_frame_rec_t *f)
{
    bytes_t b = {0};
    rm_err_t err;
    CHECK_MSG(rm_codec_encode(&rm_frame_rec_desc, f, &b.p, &b.n, &err) == 0, "%s", err.msg);
    return b;
}

/*  Deep copies of the job's frames (zeroed records if there is no job). */
static void copy_frames(const rm_job_t *job, rm_frame_rec_t *out)
{
    memset(out, 0, NFRAMES * sizeof *out);
    for (int i = 0; job && i < NFRAMES; i++)
        CHECK(rm_codec_copy(&rm_frame_rec_desc, &out[i], rm_job_frame(job, i + 1), NULL) == 0);
}

static void free_frames(rm_frame_rec_t *frames)
{
    for (int i = 0; i < NFRAMES; i++)
        rm_codec_free(&rm_frame_rec_desc, &frames[i]);
}

/*  A fresh table in its own directory, merged with each input in turn. */
static bytes_t merged(const bytes_t *inputs, size_t n, bool *changed_last)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/scratch%u", root, scratch_count++);
    rm_jobs_t *jobs = open_table(dir);
    rm_job_t *job = NULL;
    bool changed = false;
    rm_err_t err;
    for (size_t i = 0; i < n; i++) {
        int rc = rm_jobs_merge(jobs, inputs[i].p, inputs[i].n, &job, &changed, &err);
        CHECK_MSG(rc == 0, "%s", err.msg);
    }
    if (changed_last)
        *changed_last = changed;
    bytes_t out = export_job(job);
    rm_jobs_destroy(&jobs);
    remove_tree(dir);
    return out;
}

/*  A name of `from` is in `to`, or was cut by the cap. */
static bool names_kept(const rm_frame_rec_t *from, const rm_frame_rec_t *to)
{
    uint32_t n = to->failed_on.count;
    for (uint32_t i = 0; i < from->failed_on.count; i++) {
        const char *name = from->failed_on.items[i];
        bool cut = n == RM_MAX_FAILED_ON && strcmp(name, to->failed_on.items[n - 1]) > 0;
        if (!cut && !rm_frame_failed_on(to, name))
            return false;
    }
    return true;
}

/*  (c) for one frame: `after` is above both inputs. */
static void check_raised(const rm_frame_rec_t *before, const rm_frame_rec_t *src,
                         const rm_frame_rec_t *after)
{
    const rm_frame_rec_t *in[2] = {before, src};
    for (int k = 0; k < 2; k++) {
        const rm_frame_rec_t *x = in[k];
        CHECK(rm_frame_rec_cmp(after, x) >= 0);
        CHECK(after->attempts >= x->attempts);
        CHECK(names_kept(x, after));
        CHECK(x->state != RM_FRAME_DONE || after->state == RM_FRAME_DONE);
        CHECK(x->state != RM_FRAME_FAILED || after->state == RM_FRAME_FAILED ||
              after->state == RM_FRAME_DONE);
        /* The one way down: a newer attempt or a later stamp (rm_jobs.h). */
        if (x->state == RM_FRAME_ASSIGNED && after->state == RM_FRAME_PENDING) {
            CHECK(after->attempts > x->attempts || after->epoch > x->epoch);
            stats.lowered++;
        }
    }
}

/*  Merges src's job into t, checking (c), *changed and the version. */
static bool merge_checked(replica_t *t, const rm_job_t *src, bytes_t x)
{
    rm_job_t *tj = rm_jobs_find(t->jobs, JOB_ID), *out = NULL;
    rm_frame_rec_t before[NFRAMES];
    copy_frames(tj, before);
    bytes_t pre = export_job(tj);
    uint64_t version = tj ? rm_job_version(tj) : 0;
    bool was_canceled = tj && strcmp(rm_job_state(tj), "canceled") == 0, changed = false;
    rm_err_t err;
    int rc = rm_jobs_merge(t->jobs, x.p, x.n, &out, &changed, &err);
    CHECK_MSG(rc == 0 && out, "%s", err.msg);
    stats.merges++;
    stats.changed += changed;
    if (rc == 0 && out) {
        bytes_t post = export_job(out);
        CHECK(changed == !bytes_eq(pre, post));
        CHECK(!tj || rm_job_version(out) == version + (changed ? 1 : 0));
        for (int i = 0; i < NFRAMES; i++)
            check_raised(&before[i], rm_job_frame(src, i + 1), rm_job_frame(out, i + 1));
        CHECK(!was_canceled || strcmp(rm_job_state(out), "canceled") == 0);
        free(post.p);
    }
    free_frames(before);
    free(pre.p);
    return changed;
}

/*  Sends src's record to a random subset of the others, in random order. */
static void gossip(replica_t *reps, int n, int src)
{
    rm_job_t *sj = rm_jobs_find(reps[src].jobs, JOB_ID);
    if (!sj)
        return;
    int order[MAX_REPLICAS], m = 0;
    for (int i = 0; i < n; i++)
        if (i != src)
            order[m++] = i;
    for (int i = m - 1; i > 0; i--) {
        int j = (int)below((uint32_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    bytes_t x = export_job(sj);
    for (int i = 0, k = 1 + (int)below((uint32_t)m); i < k; i++)
        merge_checked(&reps[order[i]], sj, x);
    free(x.p);
}

/*  (d): what a replica exports survives a restart. */
static void reload_checked(replica_t *r)
{
    rm_job_t *job = rm_jobs_find(r->jobs, JOB_ID);
    bool had = job != NULL, assigned = false;
    rm_frame_rec_t before[NFRAMES];
    copy_frames(job, before);
    bytes_t x1 = export_job(job);
    rm_jobs_destroy(&r->jobs);
    r->jobs = open_table(r->dir);
    job = rm_jobs_find(r->jobs, JOB_ID);
    CHECK(had == (job != NULL));
    for (int i = 0; had && job && i < NFRAMES; i++) {
        /* The restart rule: an assigned frame is pending, all else equal. */
        assigned |= before[i].state == RM_FRAME_ASSIGNED;
        if (before[i].state == RM_FRAME_ASSIGNED)
            before[i].state = RM_FRAME_PENDING;
        bytes_t a = encode_frame(&before[i]), b = encode_frame(rm_job_frame(job, i + 1));
        CHECK_MSG(bytes_eq(a, b), "frame %d differs after a reload", i + 1);
        free(a.p);
        free(b.p);
    }
    stats.reloads++;
    if (had && job) {
        bytes_t x2 = export_job(job);
        CHECK_MSG(assigned || bytes_eq(x1, x2), "the export changed over a reload");
        /* Merging the old record back brings the assignments back, exactly. */
        rm_job_t *out;
        bool changed;
        rm_err_t err;
        CHECK_MSG(rm_jobs_merge(r->jobs, x1.p, x1.n, &out, &changed, &err) == 0, "%s", err.msg);
        CHECK(changed == assigned);
        bytes_t x3 = export_job(job);
        CHECK_MSG(bytes_eq(x1, x3), "the record before the reload is not the join");
        free(x2.p);
        free(x3.p);
    }
    free_frames(before);
    free(x1.p);
}

/*  (b) on the current states of three replicas. */
static void check_algebra(replica_t *reps, int n)
{
    bytes_t s[3];
    int k = 0;
    for (int i = 0, off = (int)below((uint32_t)n); i < n && k < 3; i++) {
        rm_job_t *job = rm_jobs_find(reps[(i + off) % n].jobs, JOB_ID);
        if (job)
            s[k++] = export_job(job);
    }
    if (k == 3) {
        bool changed = true;
        stats.algebra++;
        bytes_t x = merged(&s[0], 1, NULL);
        bytes_t xy = merged((bytes_t[]){s[0], s[1]}, 2, NULL);
        bytes_t yx = merged((bytes_t[]){s[1], s[0]}, 2, NULL);
        bytes_t xy_z = merged((bytes_t[]){s[0], s[1], s[2]}, 3, NULL);
        bytes_t yz = merged((bytes_t[]){s[1], s[2]}, 2, NULL);
        bytes_t x_yz = merged((bytes_t[]){s[0], yz}, 2, NULL);
        bytes_t xyx = merged((bytes_t[]){s[0], s[1], s[0]}, 3, &changed);
        CHECK_MSG(bytes_eq(x, s[0]), "a record adopted by a fresh table is not the same");
        CHECK_MSG(bytes_eq(xy, yx), "merge is not commutative");
        CHECK_MSG(bytes_eq(xy_z, x_yz), "merge is not associative");
        CHECK_MSG(bytes_eq(xyx, xy) && !changed, "merge is not idempotent");
        bytes_t all[] = {x, xy, yx, xy_z, yz, x_yz, xyx};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            free(all[i].p);
    }
    for (int i = 0; i < k; i++)
        free(s[i].p);
}

static const char *const reasons[] = {"boom", "out of memory", "bad scene"};

/*  One local change on replica r, as its slots or a user would make it. */
static void local_change(replica_t *reps, int n, int r, bool job_events)
{
    replica_t *rep = &reps[r];
    rm_job_t *job = rm_jobs_find(rep->jobs, JOB_ID), *picked;
    uint64_t frame = 1 + below(NFRAMES), frames[NFRAMES];
    rm_hash_t out;
    rm_err_t err;
    char node[8];
    snprintf(node, sizeof node, "n%u", below(8));
    if (!job)
        return;
    uint32_t op = below(100);
    if (op < 40) {
        if (below(10) == 0)
            rep->epoch += 1 + below(2); /* a new coordinator term */
        rm_jobs_next_task(rep->jobs, reps[below((uint32_t)n)].name, rep->epoch, &picked, frames,
                          NFRAMES);
    } else if (op < 55) {
        memset(out.b, below(2) ? 0x11 : 0x22, 32);
        char file[32];
        snprintf(file, sizeof file, "frame_%04llu.png", (unsigned long long)frame);
        CHECK_MSG(rm_job_frame_done(job, frame,
                                    &(rm_frame_output_t){.output = out,
                                                         .size = 100 + below(3),
                                                         .file = file,
                                                         .render_ms = below(1000)},
                                    node, &err) == 0,
                  "%s", err.msg);
    } else if (op < 78) {
        CHECK_MSG(rm_job_frame_failed_on(job, frame, node, reasons[below(3)], 6, &err) == 0, "%s",
                  err.msg);
    } else if (op < 85) {
        CHECK_MSG(rm_job_frame_failed(job, frame, reasons[below(3)], 6, &err) == 0, "%s", err.msg);
    } else if (op < 97) {
        rm_job_frame_release(job, frame, below(2) ? "renderer gone" : NULL);
    } else if (job_events && op < 99) {
        CHECK_MSG(rm_job_fail(job, reasons[below(3)], &err) == 0, "%s", err.msg);
    } else if (job_events) {
        CHECK_MSG(rm_job_cancel(job, &err) == 0, "%s", err.msg);
    }
}

/*  (a): exchanges until nothing changes; everyone holds the join of all. */
static void converge(replica_t *reps, int n)
{
    bytes_t states[MAX_REPLICAS];
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        rm_job_t *job = rm_jobs_find(reps[i].jobs, JOB_ID);
        if (job)
            states[k++] = export_job(job);
    }
    int round;
    for (round = 0; round < 8; round++) {
        bool any = false;
        for (int s = 0; s < n; s++) {
            rm_job_t *sj = rm_jobs_find(reps[s].jobs, JOB_ID);
            bytes_t x = export_job(sj);
            for (int t = 0; sj && t < n; t++)
                if (t != s)
                    any |= merge_checked(&reps[t], sj, x);
            free(x.p);
        }
        if (!any)
            break;
    }
    CHECK_MSG(round < 3, "no convergence after %d rounds", round);
    bytes_t first = export_job(rm_jobs_find(reps[0].jobs, JOB_ID));
    for (int i = 1; i < n; i++) {
        bytes_t x = export_job(rm_jobs_find(reps[i].jobs, JOB_ID));
        CHECK_MSG(bytes_eq(first, x), "replica %d differs from replica 0", i);
        free(x.p);
    }
    /* The same join, taken by a fresh table in two other orders. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = k - 1; i > 0; i--) {
            size_t j = below((uint32_t)i + 1);
            bytes_t t = states[i];
            states[i] = states[j];
            states[j] = t;
        }
        bytes_t joined = merged(states, k, NULL);
        CHECK_MSG(bytes_eq(first, joined), "the join depends on the order");
        free(joined.p);
    }
    for (size_t i = 0; i < k; i++)
        free(states[i].p);
    free(first.p);
}

static void run_seed(uint64_t seed)
{
    rng = seed;
    int n = 3 + (int)below(3);
    bool job_events = seed % 2;
    replica_t reps[MAX_REPLICAS];
    for (int i = 0; i < n; i++) {
        snprintf(reps[i].dir, sizeof reps[i].dir, "%s/seed%llu-n%d", root, (unsigned long long)seed,
                 i);
        snprintf(reps[i].name, sizeof reps[i].name, "n%d", i);
        reps[i].jobs = open_table(reps[i].dir);
        reps[i].epoch = 1;
        /* Replica 0 takes the submission; some others take it too, each
           with its own clock (submitted_at merges to the earliest). */
        if (i == 0 || below(2))
            create(reps[i].jobs, JOB_ID, "1-24", 0xab, 1000 + 10 * i);
    }
    for (int step = 0; step < STEPS; step++) {
        int r = (int)below((uint32_t)n);
        uint32_t what = below(100);
        if (what < 60)
            local_change(reps, n, r, job_events);
        else if (what < 92)
            gossip(reps, n, r);
        else if (what < 96)
            reload_checked(&reps[r]);
        else
            check_algebra(reps, n);
    }
    converge(reps, n);
    rm_job_summary_t sum;
    rm_err_t err;
    CHECK(rm_job_summary(rm_jobs_find(reps[0].jobs, JOB_ID), &sum, &err) == 0);
    printf("seed %llu: %d nodes, %u merges (%u changed, %u retries won over an assignment), "
           "%u reloads, %u algebra checks; final %s, %llu done, %llu failed\n",
           (unsigned long long)seed, n, stats.merges, stats.changed, stats.lowered, stats.reloads,
           stats.algebra, sum.state, (unsigned long long)sum.frames_done,
           (unsigned long long)sum.frames_failed);
    rm_codec_free(&rm_job_summary_desc, &sum);
    memset(&stats, 0, sizeof stats);
    for (int i = 0; i < n; i++) {
        rm_jobs_destroy(&reps[i].jobs);
        remove_tree(reps[i].dir);
    }
}

/*  A fresh replica directory for the fixed cases. */
static rm_jobs_t *fresh(const char *name, char *dir, size_t size)
{
    snprintf(dir, size, "%s/%s", root, name);
    return open_table(dir);
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
    CHECK(rm_job_frame_failed_on(job, 1, "bb", "x", 9, &err) == 0);
    CHECK(rm_job_frame_failed_on(job, 1, "aa", "x", 9, &err) == 0);
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
    CHECK(x.p[0] == 0x97 && x.p[1] == 2);
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
    CHECK(patch(y, "\x9d\x02\x00", "\x9d\x03\x00", 3));
    expect_refused(dst, y, "frames out of order");
    memcpy(y.p, x.p, x.n);
    CHECK(patch(y, JOB_ID, "00000000000/../a", 16));
    expect_refused(dst, y, "job id with a path");
    free(y.p);
    /* Garbage: refused or, when it happens to decode, merged sanely. */
    uint8_t junk[512];
    for (int i = 0; i < 2000; i++) {
        size_t len = below(sizeof junk);
        for (size_t k = 0; k < len; k++)
            junk[k] = (uint8_t)rnd();
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
    rm_jobs_destroy(&dst);
    dst = open_table(ddst);
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
        CHECK_MSG(rm_job_frame_failed_on(job, 1, node, "boom", 1000, &err) == 0, "%s", err.msg);
    }
}

static void test_failed_on(void)
{
    char da[600], db[600];
    rm_jobs_t *a = fresh("failed-a", da, sizeof da), *b = fresh("failed-b", db, sizeof db);
    rm_job_t *ja = create(a, JOB_ID, "1-2", 0xab, 500), *jb = create(b, JOB_ID, "1-2", 0xab, 500);
    rm_err_t err;
    /* The wrapper records the frame's own node; a node counts once. */
    uint64_t frames[2];
    rm_job_t *picked;
    CHECK(rm_jobs_next_task(a, "zz", 1, &picked, frames, 2) == 2);
    CHECK(rm_job_frame_failed(ja, 2, "x", 1000, &err) == 0);
    CHECK(rm_job_frame_failed_on(ja, 2, "zz", "y", 1000, &err) == 0);
    const rm_frame_rec_t *f2 = rm_job_frame(ja, 2);
    CHECK(f2->attempts == 2 && f2->failed_on.count == 1 && rm_frame_failed_on(f2, "zz"));
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
    /* A frame delta with an unsorted failed_on is refused. */
    rm_frame_rec_t bad = {0};
    char *names[] = {"b", "a"};
    bad.frame = 1;
    bad.failed_on.items = names;
    bad.failed_on.count = 2;
    CHECK(rm_job_merge_frame(ja, &bad, &changed, &err) == -1 && err.code == RM_EPROTO);
    bad.frame = 7;
    CHECK(rm_job_merge_frame(ja, &bad, &changed, &err) == -1 && err.code == RM_EPROTO);
    /* A delta: b's frame 2 done is merged on its own, durably. */
    rm_hash_t h;
    memset(h.b, 5, 32);
    CHECK(rm_job_frame_done(jb, 2,
                            &(rm_frame_output_t){
                                .output = h, .size = 9, .file = "frame_0002.png", .render_ms = 3},
                            "n7", &err) == 0);
    CHECK(rm_job_merge_frame(ja, rm_job_frame(jb, 2), &changed, &err) == 0 && changed);
    CHECK(rm_job_merge_frame(ja, rm_job_frame(jb, 2), &changed, &err) == 0 && !changed);
    rm_jobs_destroy(&a);
    a = open_table(da);
    ja = rm_jobs_find(a, JOB_ID);
    CHECK(ja && rm_job_frame(ja, 2)->state == RM_FRAME_DONE && rm_job_frame(ja, 2)->attempts == 2);
    CHECK(strcmp(rm_job_state(ja), "rendering") == 0);
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
    rm_job_t *picked, *out;
    uint64_t frames[4];
    rm_err_t err;
    bool changed;
    CHECK(rm_jobs_next_task(a, "n1", 1, &picked, frames, 4) > 0);
    usleep(3000);
    CHECK(rm_jobs_next_task(b, "n2", 1, &picked, frames, 4) > 0);
    CHECK(rm_job_fail(ja, "zeta: scene missing", &err) == 0);
    usleep(3000);
    CHECK(rm_job_fail(jb, "alpha: camera missing", &err) == 0);
    CHECK(rm_job_cancel(jb, &err) == 0);
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
    rm_job_t *ja = create(a, JOB_ID, "1", 0xab, 500), *picked, *out;
    uint64_t frames[1];
    rm_err_t err;
    bool changed;
    CHECK(rm_jobs_next_task(a, "n1", 5, &picked, frames, 1) == 1);
    bytes_t stale = export_job(ja);
    CHECK(rm_jobs_merge(b, stale.p, stale.n, &out, &changed, &err) == 0);
    CHECK(rm_job_frame_failed(ja, 1, "crashed", 3, &err) == 0);
    bytes_t retry = export_job(ja);
    /* b learns of the failure: pending there too, and b can hand it out. */
    CHECK(rm_jobs_merge(b, retry.p, retry.n, &out, &changed, &err) == 0 && changed);
    CHECK(rm_job_frame(out, 1)->state == RM_FRAME_PENDING);
    CHECK(rm_jobs_next_task(b, "n2", 5, &picked, frames, 1) == 1 && picked == out);
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
static void test_compaction(void)
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
        CHECK(rm_job_frame_failed_on(jb, 1 + i % 2, node, "flaky", 100000, &err) == 0);
        bytes_t x = export_job(jb);
        long before = file_size(journal);
        CHECK_MSG(rm_jobs_merge(a, x.p, x.n, &out, &changed, &err) == 0 && changed, "%s", err.msg);
        compacted = before > 0 && file_size(journal) < before;
        free(x.p);
    }
    CHECK_MSG(compacted, "the journal was never compacted");
    bytes_t want = export_job(jb);
    rm_jobs_destroy(&a);
    a = open_table(da);
    bytes_t got = export_job(rm_jobs_find(a, JOB_ID));
    CHECK_MSG(bytes_eq(want, got), "a merge was lost by the compaction it triggered");
    free(want.p);
    free(got.p);
    rm_jobs_destroy(&a);
    rm_jobs_destroy(&b);
}

/*  The rule's cases, one by one, on frame records. */
static void test_rule(void)
{
    rm_frame_rec_t p = {.frame = 1, .state = RM_FRAME_PENDING}, a1 = p, a2 = p, d1 = p, d2 = p,
                   f = p;
    a1.state = a2.state = RM_FRAME_ASSIGNED;
    a1.epoch = 3;
    a2.epoch = 4;
    CHECK(rm_frame_rec_cmp(&a1, &p) > 0 && rm_frame_rec_cmp(&a2, &a1) > 0);
    a1.epoch = 4;
    a1.node = "n1";
    a2.node = "n2";
    CHECK(rm_frame_rec_cmp(&a2, &a1) > 0); /* equal epochs: the greater name */
    rm_frame_rec_t given_back = p;
    given_back.epoch = 5; /* the coordinator took it back after assigning it */
    CHECK(rm_frame_rec_cmp(&given_back, &a2) > 0);
    given_back.epoch = 4; /* a worker's own release does not undo the assignment */
    CHECK(rm_frame_rec_cmp(&a2, &given_back) > 0);
    p.attempts = 1;
    CHECK(rm_frame_rec_cmp(&p, &a2) > 0); /* the failed attempt beats its assignment */
    f.state = RM_FRAME_FAILED;
    d1.state = d2.state = RM_FRAME_DONE;
    memset(d1.output.b, 1, 32);
    memset(d2.output.b, 2, 32);
    d2.epoch = 9;
    CHECK(rm_frame_rec_cmp(&f, &p) > 0 && rm_frame_rec_cmp(&d2, &f) > 0);
    CHECK(rm_frame_rec_cmp(&d1, &d2) > 0); /* the smaller output */
    CHECK(rm_frame_rec_cmp(&d1, &d1) == 0);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(mkdtemp(root) != NULL);
    rng = 42;
    RM_RUN(test_rule);
    RM_RUN(test_spec_conflicts);
    RM_RUN(test_bad_input);
    RM_RUN(test_failed_on);
    RM_RUN(test_job_flags);
    RM_RUN(test_retry_beats_stale_assignment);
    RM_RUN(test_compaction);
    for (uint64_t seed = 1; seed <= SEEDS; seed++)
        run_seed(seed);
    remove_tree(root);
    RM_TEST_DONE();
}
