/*  rm_job_merge: the merge rule, case by case on records, then as a
    state-based CRDT over whole tables.

    Property tests with a fixed-seed PRNG: 3-5 simulated nodes, each with
    its own rm_jobs_t in its own directory, change one job at random
    (assign, render, fail, release, cancel, restart) and gossip exported
    records to random subsets in random orders.  Checked throughout:
      (a) after a full exchange every replica exports the same bytes, which
          are the join of all their states taken in any order;
      (b) merge is commutative, associative and idempotent (on fresh tables);
      (c) a merge never lowers a frame in the order of rm_job_merge_cmp,
          never loses a done or failed state, an attempt or a failed_on name;
      (d) after a reload a replica exports what it exported before, but for
          the assigned frames, pending again by the restart rule.
    finished_at is when a node saw the job finish (it stamps its own clock
    when a merge brings the last frame done, then keeps the latest it
    hears of): a fresh table that joins old states sees the finish at its
    own time, so (b) and the orders of (a) compare records with
    finished_at reduced to whether it is set.  Replicas that exchanged
    (a) agree on it exactly.
    Merges of malformed or conflicting records: test_rm_jobs. */
#define _XOPEN_SOURCE 700
#include "job_fixtures.h"

#include <sys/stat.h>
#include <unistd.h>

#include "rm_job_merge.h"
#include "rm_test.h"

#define JOB_ID "00000000000000aa"
#define NFRAMES 24 /* at most */
#define MAX_REPLICAS 5
#define SEEDS 8
#define SEEDS_FEW 40 /* with 4 frames: most jobs finish (the finish stamps, reopened frames) */
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
/*  The job's frames, 1-nframes (nframes <= NFRAMES): every one is checked. */
static int nframes;
static char frame_range[16];

static void set_frames(int n)
{
    nframes = n;
    snprintf(frame_range, sizeof frame_range, "1-%d", n);
}

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

static rm_job_t *create(rm_jobs_t *jobs, const char *id, const char *frames, uint8_t manifest,
                        int64_t submitted_at)
{
    rm_job_spec_t spec;
    rm_job_t *job = NULL;
    bool created;
    rm_err_t err;
    fx_spec(&spec, id, frames, manifest, 0, submitted_at);
    spec.chunk = 3;
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

/*  The record x with finished_at reduced to 0 or 1 (see the top). */
static bytes_t finish_as_set(bytes_t x)
{
    rm_job_record_t rec = {0};
    bytes_t out = {0};
    rm_err_t err;
    if (x.n == 0)
        return out;
    CHECK_MSG(rm_job_record_decode_peer(x.p, x.n, &rec, &err) == 0, "%s", err.msg);
    rec.finished_at = rec.finished_at != 0;
    CHECK_MSG(rm_job_record_encode(&rec, &out.p, &out.n, &err) == 0, "%s", err.msg);
    rm_job_record_free(&rec);
    return out;
}

/*  Equal records but for when each node saw the job finish. */
static bool same_join(bytes_t a, bytes_t b)
{
    bytes_t x = finish_as_set(a), y = finish_as_set(b);
    bool same = bytes_eq(x, y);
    free(x.p);
    free(y.p);
    return same;
}

static bytes_t encode_frame(const rm_frame_rec_t *f)
{
    bytes_t b = {0};
    rm_err_t err;
    CHECK_MSG(rm_codec_encode(&rm_job_record_frame_desc, f, &b.p, &b.n, &err) == 0, "%s", err.msg);
    return b;
}

/*  Deep copies of the job's frames (zeroed records if there is no job). */
static void copy_frames(const rm_job_t *job, rm_frame_rec_t *out)
{
    memset(out, 0, NFRAMES * sizeof *out);
    for (int i = 0; job && i < nframes; i++)
        CHECK(rm_codec_copy(&rm_job_record_frame_desc, &out[i], rm_job_frame(job, i + 1), NULL) ==
              0);
}

static void free_frames(rm_frame_rec_t *frames)
{
    for (int i = 0; i < nframes; i++)
        rm_codec_free(&rm_job_record_frame_desc, &frames[i]);
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
    fx_remove_tree(dir);
    return out;
}

/*  A name of `from` is in `to`, or was cut by the cap. */
static bool names_kept(const rm_frame_rec_t *from, const rm_frame_rec_t *to)
{
    uint32_t n = to->failed_on.count;
    for (uint32_t i = 0; i < from->failed_on.count; i++) {
        const char *name = from->failed_on.items[i];
        bool cut = n == RM_MAX_FAILED_ON && strcmp(name, to->failed_on.items[n - 1]) > 0;
        if (!cut && !rm_job_record_failed_on(to, name))
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
        CHECK(rm_job_merge_cmp(after, x) >= 0);
        CHECK(after->attempts >= x->attempts);
        CHECK(names_kept(x, after));
        CHECK(after->gen >= x->gen);
        /* Within a generation done and failed are for good; a later one
           (a lost output reopened) starts the frame again. */
        bool same_gen = after->gen == x->gen;
        CHECK(!same_gen || x->state != RM_FRAME_DONE || after->state == RM_FRAME_DONE);
        CHECK(!same_gen || x->state != RM_FRAME_FAILED || after->state == RM_FRAME_FAILED ||
              after->state == RM_FRAME_DONE);
        /* The one way down: a newer attempt or a later stamp (rm_job.h). */
        if (same_gen && x->state == RM_FRAME_ASSIGNED && after->state == RM_FRAME_PENDING) {
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
        for (int i = 0; i < nframes; i++)
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
    for (int i = 0; had && job && i < nframes; i++) {
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
        CHECK_MSG(same_join(xy, yx), "merge is not commutative");
        CHECK_MSG(same_join(xy_z, x_yz), "merge is not associative");
        CHECK_MSG(same_join(xyx, xy) && !changed, "merge is not idempotent");
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
    rm_job_t *job = rm_jobs_find(rep->jobs, JOB_ID);
    uint64_t frame = 1 + below((uint32_t)nframes), frames[NFRAMES];
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
        fx_assign_next(job, reps[below((uint32_t)n)].name, rep->epoch, frames,
                       (uint32_t)rm_job_spec(job)->chunk);
    } else if (op < 55) {
        memset(out.b, below(2) ? 0x11 : 0x22, 32);
        char file[32];
        snprintf(file, sizeof file, "frame_%04llu.png", (unsigned long long)frame);
        CHECK_MSG(rm_job_frame_done(job, frame,
                                    &(rm_frame_output_t){.output = out,
                                                         .size = 100 + below(3),
                                                         .file = file,
                                                         .render_ms = below(1000)},
                                    node, NULL, &err) == 0,
                  "%s", err.msg);
    } else if (op < 60) {
        /* Its output lost: the frame comes back at the next generation. */
        const rm_frame_rec_t *f = rm_job_frame(job, frame);
        if (f && f->state == RM_FRAME_DONE) {
            rm_hash_t lost = f->output;
            CHECK_MSG(rm_job_frame_reopen(job, frame, &lost, "output lost: test", &err) == 0, "%s",
                      err.msg);
        }
    } else if (op < 78) {
        CHECK_MSG(fx_fail_on(job, frame, node, reasons[below(3)], 6, &err) == 0, "%s", err.msg);
    } else if (op < 85) {
        CHECK_MSG(rm_job_frame_failed(job, frame, reasons[below(3)], 6, &err) == 0, "%s", err.msg);
    } else if (op < 97) {
        rm_job_frame_release(job, frame, below(2) ? "renderer gone" : NULL);
    } else if (job_events && op < 99) {
        CHECK_MSG(rm_job_fail(job, reasons[below(3)], &err) == 0, "%s", err.msg);
    } else if (job_events) {
        CHECK_MSG(rm_job_cancel(job, NULL, &err) == 0, "%s", err.msg);
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
        CHECK_MSG(same_join(first, joined), "the join depends on the order");
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
            create(reps[i].jobs, JOB_ID, frame_range, 0xab, 1000 + 10 * i);
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
        fx_remove_tree(reps[i].dir);
    }
}

/*  The rule's cases, one by one, on frame records. */
static void test_rule(void)
{
    rm_frame_rec_t p = {.frame = 1, .state = RM_FRAME_PENDING}, a1 = p, a2 = p, d1 = p, d2 = p,
                   f = p;
    a1.state = a2.state = RM_FRAME_ASSIGNED;
    a1.epoch = 3;
    a2.epoch = 4;
    CHECK(rm_job_merge_cmp(&a1, &p) > 0 && rm_job_merge_cmp(&a2, &a1) > 0);
    a1.epoch = 4;
    a1.node = "n1";
    a2.node = "n2";
    CHECK(rm_job_merge_cmp(&a2, &a1) > 0); /* equal epochs: the greater name */
    rm_frame_rec_t given_back = p;
    given_back.epoch = 5; /* the coordinator took it back after assigning it */
    CHECK(rm_job_merge_cmp(&given_back, &a2) > 0);
    given_back.epoch = 4; /* a worker's own release does not undo the assignment */
    CHECK(rm_job_merge_cmp(&a2, &given_back) > 0);
    p.attempts = 1;
    CHECK(rm_job_merge_cmp(&p, &a2) > 0); /* the failed attempt beats its assignment */
    f.state = RM_FRAME_FAILED;
    d1.state = d2.state = RM_FRAME_DONE;
    memset(d1.output.b, 1, 32);
    memset(d2.output.b, 2, 32);
    d2.epoch = 9;
    CHECK(rm_job_merge_cmp(&f, &p) > 0 && rm_job_merge_cmp(&d2, &f) > 0);
    CHECK(rm_job_merge_cmp(&d1, &d2) > 0); /* the smaller output */
    CHECK(rm_job_merge_cmp(&d1, &d1) == 0);
    /* A later generation wins over everything before it, done included,
       and loses to whatever its own generation decides next. */
    rm_frame_rec_t reopened = {.frame = 1, .state = RM_FRAME_PENDING, .gen = 1};
    CHECK(rm_job_merge_cmp(&reopened, &d1) > 0 && rm_job_merge_cmp(&reopened, &a2) > 0);
    rm_frame_rec_t again = d2;
    again.gen = 1;
    CHECK(rm_job_merge_cmp(&again, &reopened) > 0 && rm_job_merge_cmp(&again, &d1) > 0);
    rm_frame_rec_t late = d1; /* a gen-0 done arriving after the reopen */
    CHECK(rm_job_merge_cmp(&late, &reopened) < 0);
}

static bytes_t encode_join(const rm_frame_rec_t *a, const rm_frame_rec_t *b)
{
    rm_frame_rec_t j = {0};
    rm_err_t err;
    CHECK_MSG(rm_job_merge_join(a, b, &j, &err) == 0, "%s", err.msg);
    bytes_t x = encode_frame(&j);
    rm_codec_free(&rm_job_record_frame_desc, &j);
    return x;
}

/*  The winner's fields stay together; attempts and failed_on merge apart. */
static void test_join_keeps_the_winner_whole(void)
{
    char *xs[] = {"x"}, *ys[] = {"a", "y"};
    rm_frame_rec_t done = {.frame = 1,
                           .state = RM_FRAME_DONE,
                           .node = "n1",
                           .file = "f.png",
                           .error = "",
                           .size = 9,
                           .attempts = 1,
                           .failed_on = {xs, 1}};
    rm_frame_rec_t retry = {.frame = 1,
                            .state = RM_FRAME_PENDING,
                            .node = "n2",
                            .error = "boom",
                            .attempts = 3,
                            .failed_on = {ys, 2}};
    rm_frame_rec_t j = {0};
    CHECK(rm_job_merge_join(&retry, &done, &j, NULL) == 0);
    CHECK(j.state == RM_FRAME_DONE && strcmp(j.node, "n1") == 0 && j.size == 9);
    CHECK(strcmp(j.file, "f.png") == 0 && strcmp(j.error, "") == 0 && j.attempts == 3);
    CHECK(j.failed_on.count == 3 && strcmp(j.failed_on.items[0], "a") == 0 &&
          strcmp(j.failed_on.items[1], "x") == 0 && strcmp(j.failed_on.items[2], "y") == 0);
    rm_codec_free(&rm_job_record_frame_desc, &j);
    bytes_t ab = encode_join(&done, &retry), ba = encode_join(&retry, &done);
    CHECK_MSG(bytes_eq(ab, ba), "the join depends on the order of its arguments");
    free(ab.p);
    free(ba.p);
}

static void set_names(rm_frame_rec_t *f, char **names, uint32_t count)
{
    f->failed_on.items = names;
    f->failed_on.count = count;
}

static void test_absorbs(void)
{
    char *one[] = {"n1"}, *two[] = {"n1", "n2"};
    rm_frame_rec_t a = {.frame = 1, .state = RM_FRAME_ASSIGNED, .epoch = 4, .node = "n1"};
    rm_frame_rec_t older = a, retried = a, named = a;
    older.epoch = 3;
    retried.state = RM_FRAME_PENDING;
    retried.attempts = 1;
    set_names(&a, one, 1);
    set_names(&named, two, 2);
    CHECK(rm_job_merge_absorbs(&a, &a) && rm_job_merge_absorbs(&a, &older));
    CHECK(!rm_job_merge_absorbs(&older, &a));
    CHECK(!rm_job_merge_absorbs(&a, &retried)); /* more attempts */
    CHECK(!rm_job_merge_absorbs(&a, &named));   /* a name it lacks */
    /* A name beyond a full failed_on is cut by the cap: absorbed. */
    char *full[RM_MAX_FAILED_ON], names[RM_MAX_FAILED_ON][8], *late[] = {"zz"};
    for (int i = 0; i < RM_MAX_FAILED_ON; i++) {
        snprintf(names[i], sizeof names[i], "n%02d", i);
        full[i] = names[i];
    }
    rm_frame_rec_t capped = a, beyond = a;
    set_names(&capped, full, RM_MAX_FAILED_ON);
    set_names(&beyond, late, 1);
    CHECK(rm_job_merge_absorbs(&capped, &beyond));
}

static void test_add_failed_on(void)
{
    rm_frame_rec_t f = {.frame = 1};
    const char *adds[] = {"n2", "n1", "n2", "", NULL, "n3"};
    for (size_t i = 0; i < sizeof adds / sizeof adds[0]; i++)
        CHECK(rm_job_merge_add_failed_on(&f, adds[i], NULL) == 0);
    CHECK(f.failed_on.count == 3 && strcmp(f.failed_on.items[0], "n1") == 0 &&
          strcmp(f.failed_on.items[2], "n3") == 0);
    CHECK(rm_job_record_check_frame(&f, NULL) == 0);
    /* Full: a greater name is cut, a smaller one pushes the greatest out. */
    char name[8];
    for (int i = 10; i < 10 + RM_MAX_FAILED_ON; i++) {
        snprintf(name, sizeof name, "m%02d", i);
        CHECK(rm_job_merge_add_failed_on(&f, name, NULL) == 0);
    }
    CHECK(f.failed_on.count == RM_MAX_FAILED_ON);
    CHECK(strcmp(f.failed_on.items[RM_MAX_FAILED_ON - 1], "m73") == 0);
    CHECK(rm_job_merge_add_failed_on(&f, "zz", NULL) == 0 && !rm_job_record_failed_on(&f, "zz"));
    CHECK(rm_job_merge_add_failed_on(&f, "a", NULL) == 0 && rm_job_record_failed_on(&f, "a"));
    CHECK(f.failed_on.count == RM_MAX_FAILED_ON && !rm_job_record_failed_on(&f, "n3"));
    rm_codec_free(&rm_job_record_frame_desc, &f);
}

static void test_check_spec(void)
{
    rm_job_spec_t a, b;
    rm_err_t err;
    fx_spec(&a, JOB_ID, "1-4", 0xab, 0, 100);
    fx_spec(&b, JOB_ID, "1-4", 0xab, 0, 50);
    CHECK(rm_job_merge_check_spec(&a, &b, &err) == 0); /* submitted_at merges */
    b.chunk = 9;
    CHECK(rm_job_merge_check_spec(&a, &b, &err) == -1 && err.code == RM_EINVAL);
    CHECK(strstr(err.msg, "spec differs") != NULL);
    b.manifest.b[3] = 0;
    CHECK(rm_job_merge_check_spec(&a, &b, &err) == -1 && strstr(err.msg, "another project"));
    rm_codec_free(&rm_job_spec_desc, &a);
    rm_codec_free(&rm_job_spec_desc, &b);
}

static rm_job_record_t record(const char *frames)
{
    rm_job_spec_t spec;
    rm_job_record_t rec;
    fx_spec(&spec, JOB_ID, frames, 0xab, 0, 100);
    CHECK(rm_job_record_init(&rec, &spec, NULL) == 0);
    rm_codec_free(&rm_job_spec_desc, &spec);
    return rec;
}

/*  The entries a merge needs: none for a record ours absorbs, one per
    changed frame and per changed job-level field otherwise. */
static void test_merge_record_entries(void)
{
    rm_job_record_t ours = record("1-3"), theirs = record("1-3"), other = record("1-4");
    rm_job_record_batch_t b = {0};
    rm_err_t err;
    CHECK(rm_job_merge_record(&ours, &theirs, &b, &err) == 0 && b.count == 0);
    CHECK(rm_job_merge_record(&ours, &other, &b, &err) == -1 && err.code == RM_EPROTO);
    rm_job_record_batch_free(&b);
    theirs.frames.items[1].state = RM_FRAME_DONE;
    theirs.canceled = true;
    theirs.started_at = 7;
    theirs.finished_at = 9;
    theirs.spec.submitted_at = 50;
    free(theirs.error);
    theirs.error = strdup("bad scene");
    ours.started_at = 8;
    CHECK(rm_job_merge_record(&ours, &theirs, &b, &err) == 0 && b.count == 6);
    uint64_t kinds[] = {RM_JOB_RECORD_FRAME,  RM_JOB_RECORD_CANCEL,    RM_JOB_RECORD_START,
                        RM_JOB_RECORD_FINISH, RM_JOB_RECORD_SUBMITTED, RM_JOB_RECORD_FAIL};
    for (size_t i = 0; i < b.count && i < 6; i++)
        CHECK_MSG(b.items[i].kind == kinds[i], "entry %zu is kind %llu", i,
                  (unsigned long long)b.items[i].kind);
    CHECK(b.items[0].frame.frame == 2 && b.items[0].frame.state == RM_FRAME_DONE);
    CHECK(b.items[2].at == 7 && b.items[3].at == 9 && b.items[4].at == 50);
    CHECK(strcmp(b.items[5].text, "bad scene") == 0);
    /* Applied, they make ours absorb theirs. */
    for (size_t i = 0; i < b.count; i++)
        rm_job_record_apply(&ours, &b.items[i]);
    rm_job_record_batch_free(&b);
    CHECK(rm_job_merge_record(&ours, &theirs, &b, &err) == 0 && b.count == 0);
    rm_job_record_t *all[] = {&ours, &theirs, &other};
    for (int i = 0; i < 3; i++)
        rm_job_record_free(all[i]);
}

static void test_merge_delta_entries(void)
{
    rm_job_record_t ours = record("1-3");
    rm_frame_rec_t f = {.frame = 2, .state = RM_FRAME_ASSIGNED, .epoch = 5, .node = "n1"};
    rm_job_record_delta_t delta = {.frames = {&f, 1}};
    rm_job_record_batch_t b = {0};
    rm_err_t err;
    CHECK(rm_job_merge_delta(&ours, &delta, &b, &err) == 0 && b.count == 1);
    CHECK(b.items[0].frame.epoch == 5 && strcmp(b.items[0].frame.node, "n1") == 0);
    rm_job_record_apply(&ours, &b.items[0]);
    rm_job_record_batch_free(&b);
    CHECK(rm_job_merge_delta(&ours, &delta, &b, &err) == 0 && b.count == 0);
    f.state = 9;
    CHECK(rm_job_merge_delta(&ours, &delta, &b, &err) == -1 && err.code == RM_EPROTO);
    f.state = RM_FRAME_PENDING;
    f.frame = 4;
    CHECK(rm_job_merge_delta(&ours, &delta, &b, &err) == -1 && err.code == RM_EPROTO);
    char *unsorted[] = {"b", "a"};
    f.frame = 1;
    set_names(&f, unsorted, 2);
    CHECK(rm_job_merge_delta(&ours, &delta, &b, &err) == -1 && err.code == RM_EPROTO);
    rm_job_record_batch_free(&b);
    rm_job_record_free(&ours);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(mkdtemp(root) != NULL);
    set_frames(NFRAMES);
    RM_RUN(test_rule);
    RM_RUN(test_join_keeps_the_winner_whole);
    RM_RUN(test_absorbs);
    RM_RUN(test_add_failed_on);
    RM_RUN(test_check_spec);
    RM_RUN(test_merge_record_entries);
    RM_RUN(test_merge_delta_entries);
    for (uint64_t seed = 1; seed <= SEEDS; seed++)
        run_seed(seed);
    set_frames(4);
    for (uint64_t seed = 1; seed <= SEEDS_FEW; seed++)
        run_seed(1000 + seed);
    fx_remove_tree(root);
    RM_TEST_DONE();
}
