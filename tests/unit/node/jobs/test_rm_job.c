/*  rm_job: one job's state changes, journalled and reloaded, what it
    spreads and what it takes from peers' deltas. */
#define _XOPEN_SOURCE 700
#include "job_fixtures.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rm_test.h"

static char root[] = "/tmp/rm-test-job.XXXXXX";
static char root2[600];
static rm_hash_t output;

static rm_job_t *new_job_in(const char *dir, const char *id, const char *frames)
{
    rm_job_spec_t spec;
    rm_err_t err;
    fx_spec(&spec, id, frames, 0xab, 0, 1000);
    rm_job_t *job = rm_job_new(dir, &spec, &err);
    CHECK_MSG(job != NULL, "%s", err.msg);
    rm_codec_free(&rm_job_spec_desc, &spec);
    if (!job)
        exit(1);
    return job;
}

static rm_job_t *new_job(const char *id, const char *frames)
{
    return new_job_in(root, id, frames);
}

/*  A restart: the job as its files hold it. */
static rm_job_t *reload(rm_job_t **job)
{
    char id[80];
    rm_err_t err;
    snprintf(id, sizeof id, "%s", rm_job_id(*job));
    rm_job_destroy(job);
    rm_job_t *again = rm_job_load(root, id, &err);
    CHECK_MSG(again != NULL, "%s", err.msg);
    if (!again)
        exit(1);
    return again;
}

static void assign(rm_job_t *job, uint64_t frame, const char *node)
{
    rm_err_t err;
    CHECK_MSG(rm_job_assign(job, &frame, 1, node, RM_STAMP(1, frame), &err) == 0, "%s", err.msg);
}

static void done(rm_job_t *job, uint64_t frame, const char *node)
{
    rm_err_t err;
    rm_frame_output_t out = {.output = output, .size = 10, .file = "frame.png", .render_ms = 5};
    CHECK_MSG(rm_job_frame_done(job, frame, &out, node, NULL, &err) == 0, "%s", err.msg);
}

static void fail(rm_job_t *job, uint64_t frame, const char *node, const char *reason, uint64_t max)
{
    rm_err_t err;
    assign(job, frame, node);
    CHECK_MSG(rm_job_frame_failed(job, frame, reason, max, &err) == 0, "%s", err.msg);
}

/*  True if the job exports what *before holds (then freed). */
static bool exports(const rm_job_t *job, uint8_t **before, size_t before_len)
{
    uint8_t *now = NULL;
    size_t len = 0;
    CHECK(rm_job_export(job, &now, &len, NULL) == 0);
    bool same = len == before_len && memcmp(now, *before, len) == 0;
    free(now);
    free(*before);
    *before = NULL;
    return same;
}

static void test_new_job_is_queued_and_durable(void)
{
    rm_job_t *job = new_job("00000000000000a1", "1-6");
    char path[700];
    struct stat st;
    CHECK(strcmp(rm_job_state(job), "queued") == 0 && !rm_job_finished(job));
    CHECK(rm_job_frame_count(job) == 6 && rm_job_count(job, RM_FRAME_PENDING) == 6);
    CHECK(rm_job_version(job) == 1 && rm_job_has_changes(job));
    snprintf(path, sizeof path, "%s/out", rm_job_dir(job));
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    snprintf(path, sizeof path, "%s/logs", rm_job_dir(job));
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    rm_job_t *copy = reload(&job);
    CHECK(rm_job_frame_count(copy) == 6 && strcmp(rm_job_state(copy), "queued") == 0);
    rm_job_destroy(&copy);
}

static void test_refuses_bad_frame_ranges(void)
{
    rm_job_spec_t spec;
    rm_err_t err;
    fx_spec(&spec, "00000000000000a2", "1-6", 0xab, 0, 1000);
    spec.frames.items[0].first = 9; /* 9-6: reversed */
    CHECK(rm_job_new(root, &spec, &err) == NULL && err.code == RM_EINVAL);
    rm_codec_free(&rm_job_spec_desc, &spec);
}

static void test_assign_marks_frames_and_start(void)
{
    rm_job_t *job = new_job("00000000000000a3", "1-4");
    rm_err_t err;
    uint64_t frames[] = {1, 2};
    CHECK(rm_job_assign(job, frames, 2, "n1", RM_STAMP(3, 1), &err) == 0);
    const rm_frame_rec_t *f = rm_job_frame(job, 2);
    CHECK(f->state == RM_FRAME_ASSIGNED && strcmp(f->node, "n1") == 0);
    CHECK(f->epoch == RM_STAMP(3, 1) && rm_job_count(job, RM_FRAME_ASSIGNED) == 2);
    CHECK(strcmp(rm_job_state(job), "rendering") == 0);
    rm_job_summary_t sum;
    CHECK(rm_job_summary(job, &sum, &err) == 0 && sum.started_at > 0 && sum.frames_rendering == 2);
    rm_codec_free(&rm_job_summary_desc, &sum);
    /* An assigned frame can be assigned again; a done or unknown one not. */
    CHECK(rm_job_assign(job, frames, 1, "n2", RM_STAMP(3, 2), &err) == 0);
    done(job, 1, "n2");
    CHECK(rm_job_assign(job, frames, 1, "n1", RM_STAMP(3, 3), &err) == -1 && err.code == RM_EINVAL);
    CHECK(rm_job_assign(job, (uint64_t[]){9}, 1, "n1", 1, &err) == -1 && err.code == RM_EINVAL);
    rm_job_destroy(&job);
}

static void test_last_frame_done_finishes_the_job(void)
{
    rm_job_t *job = new_job("00000000000000a4", "1-2");
    rm_err_t err;
    assign(job, 1, "n1");
    done(job, 1, "n1");
    CHECK(!rm_job_finished(job) && rm_job_count(job, RM_FRAME_DONE) == 1);
    done(job, 2, "n1");
    CHECK(rm_job_finished(job) && strcmp(rm_job_state(job), "done") == 0);
    const rm_frame_rec_t *f = rm_job_frame(job, 2);
    CHECK(memcmp(f->output.b, output.b, 32) == 0 && strcmp(f->file, "frame.png") == 0);
    rm_job_summary_t sum;
    CHECK(rm_job_summary(job, &sum, &err) == 0 && sum.finished_at > 0 && sum.frames_done == 2);
    rm_codec_free(&rm_job_summary_desc, &sum);
    CHECK(rm_job_frame_done(job, 7, &(rm_frame_output_t){0}, "n1", NULL, &err) == -1 &&
          err.code == RM_ENOTFOUND);
    rm_job_destroy(&job);
}

/*  A done frame whose output is lost comes back pending at the next
    generation; the job is unfinished until it is rendered again. */
static void test_lost_output_reopens_the_frame(void)
{
    rm_job_t *job = new_job("00000000000000b1", "1-2");
    rm_err_t err;
    rm_hash_t other;
    memset(other.b, 0x77, 32);
    done(job, 1, "n1");
    done(job, 2, "n2");
    CHECK(rm_job_finished(job));
    int64_t first_finish = rm_job_finished_at(job);
    /* Another output than the one held: rendered again already. */
    CHECK(rm_job_frame_reopen(job, 2, &other, "output lost: x", &err) == 0);
    CHECK(rm_job_frame(job, 2)->state == RM_FRAME_DONE && rm_job_frame(job, 2)->gen == 0);
    CHECK(rm_job_frame_reopen(job, 2, &output, "output lost: n2 is dead", &err) == 0);
    const rm_frame_rec_t *f = rm_job_frame(job, 2);
    CHECK(f->state == RM_FRAME_PENDING && f->gen == 1 &&
          strcmp(f->error, "output lost: n2 is dead") == 0);
    CHECK(rm_hash_cmp(&f->output, &other) != 0 && f->node[0] == '\0');
    CHECK(!rm_job_finished(job) && strcmp(rm_job_state(job), "rendering") == 0);
    job = reload(&job); /* journalled */
    CHECK(rm_job_frame(job, 2)->gen == 1 && rm_job_frame(job, 2)->state == RM_FRAME_PENDING);
    usleep(2000);
    assign(job, 2, "n3");
    CHECK(rm_job_frame(job, 2)->gen == 1);
    done(job, 2, "n3");
    CHECK(rm_job_finished(job) && rm_job_frame(job, 2)->gen == 1);
    CHECK(rm_job_finished_at(job) > first_finish); /* finished anew */
    rm_job_destroy(&job);
}

/*  Nothing is rendered again for a cancelled job. */
static void test_cancelled_job_is_not_reopened(void)
{
    rm_job_t *job = new_job("00000000000000b2", "1-2");
    rm_err_t err;
    done(job, 1, "n1");
    CHECK(rm_job_cancel(job, NULL, &err) == 0);
    CHECK(rm_job_frame_reopen(job, 1, &output, "output lost", &err) == 0);
    CHECK(rm_job_frame(job, 1)->state == RM_FRAME_DONE && rm_job_frame(job, 1)->gen == 0);
    rm_job_destroy(&job);
}

static void test_failure_goes_back_to_pending(void)
{
    rm_job_t *job = new_job("00000000000000a5", "1-2");
    fail(job, 2, "n1", "boom", 3);
    const rm_frame_rec_t *f = rm_job_frame(job, 2);
    CHECK(f->state == RM_FRAME_PENDING && f->attempts == 1 && strcmp(f->error, "n1: boom") == 0);
    CHECK(f->failed_on.count == 1 && rm_job_record_failed_on(f, "n1"));
    CHECK(rm_job_failures_on(job, "n1") == 1 && rm_job_failures_on(job, "n2") == 0);
    rm_job_destroy(&job);
}

static void test_last_attempt_fails_the_job(void)
{
    rm_job_t *job = new_job("00000000000000a6", "1-2");
    rm_err_t err;
    fail(job, 2, "n1", "boom", 2);
    fail(job, 2, "n1", "boom again", 2);
    CHECK(rm_job_frame(job, 2)->state == RM_FRAME_FAILED);
    CHECK(strcmp(rm_job_state(job), "failed") == 0 && rm_job_finished(job));
    rm_job_summary_t sum;
    CHECK(rm_job_summary(job, &sum, &err) == 0);
    CHECK(strstr(sum.error, "boom again") != NULL && sum.frames_failed == 1);
    rm_codec_free(&rm_job_summary_desc, &sum);
    /* A failed frame stays failed, and is not handed out again. */
    CHECK(rm_job_frame_failed(job, 2, "late", 2, &err) == 0 && rm_job_frame(job, 2)->attempts == 2);
    CHECK(rm_job_assign(job, (uint64_t[]){2}, 1, "n1", 1, &err) == -1);
    rm_job_destroy(&job);
}

static void test_each_node_fails_a_frame_once(void)
{
    rm_job_t *job = new_job("00000000000000a7", "1");
    fail(job, 1, "n2", "boom", 5);
    fail(job, 1, "n1", "boom", 5);
    fail(job, 1, "n2", "boom", 5);
    const rm_frame_rec_t *f = rm_job_frame(job, 1);
    CHECK(f->attempts == 3 && f->failed_on.count == 2);
    CHECK(strcmp(f->failed_on.items[0], "n1") == 0 && strcmp(f->failed_on.items[1], "n2") == 0);
    CHECK(strcmp(f->error, "n2: boom\nn1: boom\nn2: boom") == 0);
    rm_job_destroy(&job);
}

static void test_reasons_keep_the_latest(void)
{
    rm_job_t *job = new_job("00000000000000a8", "1");
    char reason[300];
    for (int i = 0; i < 40; i++) {
        snprintf(reason, sizeof reason, "attempt %02d %0250d", i, 0);
        fail(job, 1, "n1", reason, 1000);
    }
    const char *error = rm_job_frame(job, 1)->error;
    CHECK(strlen(error) <= 4000 && strncmp(error, "n1: attempt", 11) == 0);
    CHECK(strstr(error, "attempt 39") != NULL && strstr(error, "attempt 00") == NULL);
    rm_job_destroy(&job);
}

static void test_release_counts_no_attempt(void)
{
    rm_job_t *job = new_job("00000000000000a9", "1-2");
    assign(job, 1, "n1");
    uint64_t version = rm_job_version(job);
    rm_job_frame_release(job, 1, "renderer gone");
    const rm_frame_rec_t *f = rm_job_frame(job, 1);
    CHECK(f->state == RM_FRAME_PENDING && f->attempts == 0 && f->failed_on.count == 0);
    CHECK(strcmp(f->error, "renderer gone") == 0 && rm_job_version(job) == version + 1);
    rm_job_frame_release(job, 2, "not assigned"); /* nothing to release */
    CHECK(strcmp(rm_job_frame(job, 2)->error, "") == 0 && rm_job_version(job) == version + 1);
    rm_job_destroy(&job);
}

static void test_reissue_is_stamped(void)
{
    rm_job_t *job = new_job("00000000000000aa", "1-2");
    assign(job, 1, "n1");
    rm_job_frame_reissue(job, 1, RM_STAMP(2, 1), "n1 is gone");
    const rm_frame_rec_t *f = rm_job_frame(job, 1);
    CHECK(f->state == RM_FRAME_PENDING && f->epoch == RM_STAMP(2, 1) && f->attempts == 0);
    done(job, 2, "n1");
    rm_job_frame_reissue(job, 2, RM_STAMP(2, 2), "late"); /* a done frame stays done */
    CHECK(rm_job_frame(job, 2)->state == RM_FRAME_DONE);
    rm_job_destroy(&job);
}

static void test_cancel_survives_a_restart(void)
{
    rm_job_t *job = new_job("00000000000000ab", "1-3");
    rm_err_t err;
    assign(job, 1, "n1");
    CHECK(rm_job_cancel(job, NULL, &err) == 0 && rm_job_finished(job));
    CHECK(rm_job_frame(job, 1)->state == RM_FRAME_PENDING);
    job = reload(&job);
    CHECK(strcmp(rm_job_state(job), "canceled") == 0);
    rm_job_destroy(&job);
}

/*  A priority set after submission: kept across a restart; between two
    copies the later setting wins, whichever copy merges into which. */
static void test_priority_set_later(void)
{
    rm_job_t *job = new_job("00000000000000ad", "1-3");
    rm_err_t err;
    CHECK(rm_job_priority(job) == 0);
    CHECK(rm_job_set_priority(job, 40, NULL, &err) == 0 && rm_job_priority(job) == 40);
    job = reload(&job);
    CHECK(rm_job_priority(job) == 40);
    rm_job_t *other = new_job_in(root2, "00000000000000ad", "1-3");
    uint8_t *rec = NULL;
    size_t len = 0;
    bool changed = false;
    rm_job_record_t in = {0};
    /* ours (40, earlier) into theirs, then theirs set later (-5) back into ours */
    CHECK(rm_job_export(job, &rec, &len, &err) == 0 &&
          rm_job_record_decode_peer(rec, len, &in, &err) == 0);
    CHECK(rm_job_apply_record(other, &in, &changed, &err) == 0 && changed &&
          rm_job_priority(other) == 40);
    rm_job_record_free(&in);
    free(rec);
    CHECK(rm_job_set_priority(other, -5, NULL, &err) == 0 && rm_job_priority(other) == -5);
    CHECK(rm_job_export(other, &rec, &len, &err) == 0 &&
          rm_job_record_decode_peer(rec, len, &in, &err) == 0);
    CHECK(rm_job_apply_record(job, &in, &changed, &err) == 0 && changed &&
          rm_job_priority(job) == -5);
    rm_job_summary_t sum;
    CHECK(rm_job_summary(job, &sum, &err) == 0 && sum.priority == -5);
    rm_codec_free(&rm_job_summary_desc, &sum);
    rm_job_record_free(&in);
    free(rec);
    rm_job_destroy(&other);
    rm_job_destroy(&job);
}

/*  Job `from`'s record into `into`, its finished_at first set to `at`
    when non-zero. */
static void merge_record(rm_job_t *from, rm_job_t *into, int64_t at)
{
    uint8_t *rec = NULL;
    size_t len = 0;
    bool changed = false;
    rm_job_record_t in = {0};
    rm_err_t err;
    CHECK(rm_job_export(from, &rec, &len, &err) == 0 &&
          rm_job_record_decode_peer(rec, len, &in, &err) == 0);
    if (at)
        in.finished_at = at;
    CHECK_MSG(rm_job_apply_record(into, &in, &changed, &err) == 0, "%s", err.msg);
    rm_job_record_free(&in);
    free(rec);
}

/*  A finished_at from a peer on a job not finished here (a node's forgery,
    a time long past) does not stand for the finish: the job's finish is
    stamped when it finishes here, through a merge, a render or a cancel,
    after a restart too, so no node retires it at once. */
static void test_early_finish_is_stamped_again(void)
{
    rm_job_t *a = new_job("00000000000000ae", "1-2");
    rm_job_t *b = new_job_in(root2, "00000000000000ae", "1-2");
    rm_err_t err;
    int64_t start = (int64_t)time(NULL) * 1000;
    done(a, 1, "n1");
    merge_record(a, b, 1);
    CHECK(rm_job_finished_at(b) == 1 && !rm_job_finished(b));
    rm_job_destroy(&b);
    CHECK_MSG((b = rm_job_load(root2, "00000000000000ae", &err)) != NULL, "%s", err.msg);
    done(a, 2, "n1");
    merge_record(a, b, 1);
    CHECK(rm_job_finished(b) && rm_job_finished_at(b) >= start);
    rm_job_t *c = new_job("00000000000000af", "1-2");
    rm_job_t *d = new_job_in(root2, "00000000000000af", "1-2");
    merge_record(c, d, 1);
    CHECK(rm_job_cancel(d, NULL, &err) == 0 && rm_job_finished_at(d) >= start);
    rm_job_destroy(&a);
    rm_job_destroy(&b);
    rm_job_destroy(&c);
    rm_job_destroy(&d);
}

static void test_fail_survives_a_restart(void)
{
    rm_job_t *job = new_job("00000000000000ac", "1-3");
    rm_err_t err;
    CHECK(rm_job_fail(job, "scene missing", &err) == 0);
    CHECK(rm_job_fail(job, "another reason", &err) == 0); /* the first one stays */
    job = reload(&job);
    rm_job_summary_t sum;
    CHECK(rm_job_summary(job, &sum, &err) == 0 && strcmp(sum.state, "failed") == 0);
    CHECK(strcmp(sum.error, "scene missing") == 0 && sum.finished_at > 0);
    rm_codec_free(&rm_job_summary_desc, &sum);
    rm_job_destroy(&job);
}

/*  A "crash": the job is reloaded from its files without a clean close. */
static void test_restart_puts_assigned_frames_back(void)
{
    rm_job_t *job = new_job("00000000000000ad", "1-3");
    uint64_t frames[3];
    CHECK(fx_assign_next(job, "n1", RM_STAMP(1, 1), frames, 3) == 3);
    done(job, 1, "n1");
    CHECK(rm_job_frame_failed(job, 2, "boom", 3, NULL) == 0);
    CHECK(fx_assign_next(job, "n1", RM_STAMP(1, 2), frames, 3) == 1 && frames[0] == 2);
    job = reload(&job);
    CHECK(rm_job_frame(job, 1)->state == RM_FRAME_DONE);
    CHECK(memcmp(rm_job_frame(job, 1)->output.b, output.b, 32) == 0);
    CHECK(rm_job_frame(job, 2)->state == RM_FRAME_PENDING && rm_job_frame(job, 2)->attempts == 1);
    CHECK(rm_job_frame(job, 3)->state == RM_FRAME_PENDING);
    CHECK(rm_job_count(job, RM_FRAME_PENDING) == 2 && rm_job_failures_on(job, "n1") == 1);
    CHECK(!rm_job_has_changes(job)); /* what the disk holds is not a new change */
    rm_job_destroy(&job);
}

/*  Journal compaction keeps the entry that triggered it. */
static void test_many_retries_survive_a_restart(void)
{
    rm_job_t *job = new_job("00000000000000ae", "1");
    for (int i = 0; i < 70; i++)
        fail(job, 1, "n1", "flaky", 1000);
    assign(job, 1, "n1");
    done(job, 1, "n1");
    CHECK(strcmp(rm_job_frame(job, 1)->error, "") == 0);
    uint8_t *before = NULL;
    size_t len = 0;
    CHECK(rm_job_export(job, &before, &len, NULL) == 0);
    job = reload(&job);
    CHECK(strcmp(rm_job_state(job), "done") == 0 && rm_job_frame(job, 1)->attempts == 70);
    CHECK_MSG(exports(job, &before, len), "the job changed over a restart");
    rm_job_destroy(&job);
}

static void test_progress_shows_in_info(void)
{
    rm_job_t *job = new_job("00000000000000af", "1-2");
    rm_err_t err;
    assign(job, 2, "n1");
    uint64_t version = rm_job_version(job);
    rm_job_frame_progress(job, 2, 50);
    CHECK(rm_job_version(job) == version + 1);
    rm_job_frame_progress(job, 2, 50);
    CHECK(rm_job_version(job) == version + 1);
    rm_job_reply_t info;
    CHECK(rm_job_info(job, &info, &err) == 0 && info.frames.count == 2);
    CHECK(strcmp(info.frames.items[0].state, "pending") == 0);
    CHECK(strcmp(info.frames.items[1].state, "assigned") == 0 &&
          info.frames.items[1].progress == 50);
    CHECK(strcmp(info.frames.items[1].node, "n1") == 0);
    rm_codec_free(rm_msg_desc(RM_MSG_JOB_REPLY), &info);
    rm_job_destroy(&job);
}

static void test_changes_are_taken_once(void)
{
    rm_job_t *job = new_job("00000000000000b1", "1-4");
    uint8_t *buf;
    size_t len;
    bool whole;
    rm_err_t err;
    CHECK(rm_job_take_changes(job, &buf, &len, &whole, &err) == 0 && whole && buf == NULL);
    CHECK(!rm_job_has_changes(job));
    CHECK(rm_job_assign(job, (uint64_t[]){2, 3}, 2, "n1", 1, &err) == 0);
    CHECK(rm_job_take_changes(job, &buf, &len, &whole, &err) == 0 && whole && buf != NULL);
    rm_job_record_delta_t delta = {0};
    CHECK(rm_job_record_decode_delta(buf, len, &delta, &err) == 0 && delta.frames.count == 2);
    CHECK(delta.frames.items[0].frame == 2 && delta.frames.items[1].state == RM_FRAME_ASSIGNED);
    rm_job_record_delta_free(&delta);
    free(buf);
    rm_job_frame_release(job, 2, NULL);
    CHECK(rm_job_take_changes(job, &buf, &len, &whole, &err) == 0 && !whole && buf != NULL);
    free(buf);
    CHECK(!rm_job_has_changes(job));
    rm_job_destroy(&job);
}

/*  Changes one copy spreads, taken by another: merged once, durably, and
    not spread again by the node that took them. */
static void test_deltas_merge_once(void)
{
    rm_job_t *ours = new_job("00000000000000b2", "1-3");
    rm_job_t *theirs = new_job_in(root2, "00000000000000b2", "1-3");
    uint8_t *buf, *none;
    size_t len, nlen;
    bool whole, changed;
    rm_err_t err;
    CHECK(rm_job_take_changes(ours, &none, &nlen, &whole, &err) == 0);
    CHECK(rm_job_take_changes(theirs, &none, &nlen, &whole, &err) == 0);
    fail(theirs, 2, "n7", "boom", 5);
    done(theirs, 3, "n7");
    CHECK(rm_job_take_changes(theirs, &buf, &len, &whole, &err) == 0 && buf);
    CHECK(rm_job_apply_changes(ours, buf, len, &changed, &err) == 0 && changed);
    CHECK(!rm_job_has_changes(ours));
    CHECK(rm_job_apply_changes(ours, buf, len, &changed, &err) == 0 && !changed);
    ours = reload(&ours);
    CHECK(rm_job_frame(ours, 3)->state == RM_FRAME_DONE && rm_job_frame(ours, 2)->attempts == 1);
    CHECK(rm_job_record_failed_on(rm_job_frame(ours, 2), "n7"));
    free(buf);
    rm_job_destroy(&ours);
    rm_job_destroy(&theirs);
}

static void expect_bad_delta(rm_job_t *job, const rm_frame_rec_t *f, const char *what)
{
    rm_job_record_delta_t delta = {.frames = {(rm_frame_rec_t *)f, 1}};
    uint8_t *buf = NULL, *before = NULL, *after = NULL;
    size_t len = 0, nb = 0, na = 0;
    bool changed = true;
    rm_err_t err;
    CHECK(rm_job_record_encode_delta(&delta, &buf, &len, &err) == 0);
    CHECK(rm_job_export(job, &before, &nb, &err) == 0);
    int rc = rm_job_apply_changes(job, buf, len, &changed, &err);
    CHECK_MSG(rc == -1 && err.code == RM_EPROTO && !changed, "%s: rc %d", what, rc);
    CHECK(rm_job_export(job, &after, &na, &err) == 0);
    CHECK_MSG(nb == na && memcmp(before, after, na) == 0, "%s changed the job", what);
    free(before);
    free(after);
    free(buf);
}

static void test_bad_deltas_change_nothing(void)
{
    rm_job_t *job = new_job("00000000000000b3", "1-3");
    char *names[] = {"b", "a"};
    rm_frame_rec_t f = {.frame = 1, .state = RM_FRAME_DONE, .node = "n1"};
    f.failed_on.items = names;
    f.failed_on.count = 2;
    expect_bad_delta(job, &f, "unsorted failed_on");
    f.failed_on.count = 0;
    f.frame = 7;
    expect_bad_delta(job, &f, "a frame the job lacks");
    uint8_t junk[] = {0x91, 0x91, 0xc0};
    bool changed;
    rm_err_t err;
    CHECK(rm_job_apply_changes(job, junk, sizeof junk, &changed, &err) == -1 &&
          err.code == RM_EPROTO);
    CHECK(strstr(err.msg, rm_job_id(job)) != NULL);
    /* A good delta with one byte after it. */
    rm_job_record_delta_t delta = {.frames = {(rm_frame_rec_t *)rm_job_frame(job, 1), 1}};
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK(rm_job_record_encode_delta(&delta, &buf, &len, &err) == 0);
    uint8_t *longer = realloc(buf, len + 1);
    CHECK(longer != NULL);
    longer[len] = 0xc0;
    CHECK(rm_job_apply_changes(job, longer, len + 1, &changed, &err) == -1 &&
          err.code == RM_EPROTO && strstr(err.msg, "after") != NULL);
    free(longer);
    rm_job_destroy(&job);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(mkdtemp(root) != NULL);
    snprintf(root2, sizeof root2, "%s/other", root);
    CHECK(mkdir(root2, 0700) == 0);
    memset(output.b, 7, 32);
    RM_RUN(test_new_job_is_queued_and_durable);
    RM_RUN(test_refuses_bad_frame_ranges);
    RM_RUN(test_assign_marks_frames_and_start);
    RM_RUN(test_last_frame_done_finishes_the_job);
    RM_RUN(test_lost_output_reopens_the_frame);
    RM_RUN(test_cancelled_job_is_not_reopened);
    RM_RUN(test_failure_goes_back_to_pending);
    RM_RUN(test_last_attempt_fails_the_job);
    RM_RUN(test_each_node_fails_a_frame_once);
    RM_RUN(test_reasons_keep_the_latest);
    RM_RUN(test_release_counts_no_attempt);
    RM_RUN(test_reissue_is_stamped);
    RM_RUN(test_cancel_survives_a_restart);
    RM_RUN(test_fail_survives_a_restart);
    RM_RUN(test_priority_set_later);
    RM_RUN(test_early_finish_is_stamped_again);
    RM_RUN(test_restart_puts_assigned_frames_back);
    RM_RUN(test_many_retries_survive_a_restart);
    RM_RUN(test_progress_shows_in_info);
    RM_RUN(test_changes_are_taken_once);
    RM_RUN(test_deltas_merge_once);
    RM_RUN(test_bad_deltas_change_nothing);
    fx_remove_tree(root);
    RM_TEST_DONE();
}
