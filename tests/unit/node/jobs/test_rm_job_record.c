/*  rm_job_record: the bytes of job records, old and new, and what their
    decoders refuse. */
#define _XOPEN_SOURCE 700
#include "job_fixtures.h"

#include "rm_test.h"

#define JOB_ID "00000000000000aa"

static rm_job_record_t record(const char *frames)
{
    rm_job_spec_t spec;
    rm_job_record_t rec;
    rm_err_t err;
    fx_spec(&spec, JOB_ID, frames, 0xab, 0, 100);
    CHECK_MSG(rm_job_record_init(&rec, &spec, &err) == 0, "%s", err.msg);
    rm_codec_free(&rm_job_spec_desc, &spec);
    return rec;
}

/*  A record with some history: frame 1 done, 2 failed twice, 3 assigned. */
static rm_job_record_t busy_record(void)
{
    rm_job_record_t rec = record("1-3");
    static char *names[] = {"n1", "n2"};
    rm_frame_rec_t *f = rm_job_record_frame(&rec, 1, NULL);
    f->state = RM_FRAME_DONE;
    memset(f->output.b, 7, 32);
    f = rm_job_record_frame(&rec, 2, NULL);
    rm_codec_free(&rm_job_record_frame_desc, f);
    CHECK(rm_codec_copy(&rm_job_record_frame_desc, f,
                        &(rm_frame_rec_t){.frame = 2, .attempts = 2, .failed_on = {names, 2}},
                        NULL) == 0);
    f = rm_job_record_frame(&rec, 3, NULL);
    f->state = RM_FRAME_ASSIGNED;
    f->epoch = RM_STAMP(2, 5);
    rec.started_at = 42;
    return rec;
}

static void test_init_has_every_frame_pending(void)
{
    rm_job_record_t rec = record("1-5:2,8");
    CHECK(rec.version == RM_JOB_RECORD_VERSION && strcmp(rec.error, "") == 0);
    CHECK(rec.frames.count == 4 && rec.frames.items[3].frame == 8);
    for (uint32_t i = 0; i < rec.frames.count; i++)
        CHECK(rec.frames.items[i].state == RM_FRAME_PENDING && rec.frames.items[i].node &&
              strcmp(rec.frames.items[i].node, "") == 0);
    size_t index = 9;
    CHECK(rm_job_record_frame(&rec, 5, &index) == &rec.frames.items[2] && index == 2);
    CHECK(rm_job_record_frame(&rec, 4, NULL) == NULL && rm_job_record_frame(&rec, 9, NULL) == NULL);
    rm_job_record_free(&rec);
}

static void test_snapshot_round_trip(void)
{
    rm_job_record_t rec = busy_record(), back = {0};
    const rm_job_record_format_t *fmt = NULL;
    uint8_t *buf, *again;
    size_t len, again_len;
    rm_err_t err;
    CHECK(rm_job_record_encode(&rec, &buf, &len, &err) == 0 && buf[0] == 0x9a && buf[1] == 2);
    CHECK_MSG(rm_job_record_decode_snapshot(buf, len, &back, &fmt, &err) == 0, "%s", err.msg);
    CHECK(fmt != NULL && back.started_at == 42 && back.frames.count == 3);
    CHECK(rm_job_record_failed_on(rm_job_record_frame(&back, 2, NULL), "n2"));
    CHECK(rm_job_record_encode(&back, &again, &again_len, &err) == 0);
    CHECK(again_len == len && memcmp(buf, again, len) == 0);
    /* A peer's copy decodes the same way. */
    rm_job_record_t peer = {0};
    CHECK_MSG(rm_job_record_decode_peer(buf, len, &peer, &err) == 0, "%s", err.msg);
    CHECK(peer.frames.count == 3);
    rm_job_record_free(&peer);
    free(buf);
    free(again);
    rm_job_record_free(&rec);
    rm_job_record_free(&back);
}

/*  Format 1 (no failed_on) is read as format 2; its journal entries with
    the format its snapshot names. */
static void test_reads_format_1(void)
{
    rm_frame_rec_t frames[2] = {{.frame = 1, .state = RM_FRAME_DONE, .node = "n1", .size = 10},
                                {.frame = 2, .state = RM_FRAME_ASSIGNED, .node = "n2"}};
    fx_v1_record_t v1 = {.version = 1, .error = "", .frames = {frames, 2}};
    fx_spec(&v1.spec, JOB_ID, "1-2", 0xab, 0, 100);
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err;
    CHECK(rm_codec_encode(&fx_v1_record_desc, &v1, &buf, &len, &err) == 0);
    rm_job_record_t rec = {0};
    const rm_job_record_format_t *fmt = NULL;
    CHECK_MSG(rm_job_record_decode_snapshot(buf, len, &rec, &fmt, &err) == 0, "%s", err.msg);
    CHECK(rec.version == RM_JOB_RECORD_VERSION && rec.frames.items[0].size == 10);
    CHECK(rec.frames.items[1].failed_on.count == 0 && rec.frames.items[1].warning == NULL);
    free(buf);
    /* A journal entry of format 1. */
    fx_v1_entry_t e1 = {.kind = RM_JOB_RECORD_FRAME,
                        .frame = {.frame = 2, .node = "n3", .attempts = 1, .error = "crashed"}};
    buf = NULL;
    len = 0;
    CHECK(rm_codec_encode(&fx_v1_entry_desc, &e1, &buf, &len, &err) == 0);
    rm_job_record_entry_t entry = {0};
    CHECK_MSG(rm_job_record_decode_entry(fmt, buf, len, &entry, &err) == 0, "%s", err.msg);
    CHECK(entry.frame.attempts == 1 && strcmp(entry.frame.error, "crashed") == 0);
    rm_job_record_apply(&rec, &entry);
    CHECK(strcmp(rec.frames.items[1].error, "crashed") == 0 && rec.frames.items[1].attempts == 1);
    rm_job_record_entry_free(&entry);
    /* A peer sends format 2 only. */
    free(buf);
    buf = NULL;
    len = 0;
    CHECK(rm_codec_encode(&fx_v1_record_desc, &v1, &buf, &len, &err) == 0);
    rm_job_record_t peer = {0};
    CHECK(rm_job_record_decode_peer(buf, len, &peer, &err) == -1 && err.code == RM_EPROTO);
    free(buf);
    rm_codec_free(&rm_job_spec_desc, &v1.spec);
    rm_job_record_free(&rec);
}

static void test_refuses_an_unknown_format(void)
{
    uint8_t v3[] = {0x97, 0x03, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0};
    rm_job_record_t rec = {0};
    const rm_job_record_format_t *fmt;
    rm_err_t err;
    CHECK(rm_job_record_decode_snapshot(v3, sizeof v3, &rec, &fmt, &err) == -1);
    CHECK(err.code == RM_EPROTO && strstr(err.msg, "format 3") != NULL);
    uint8_t empty[] = {0x90};
    CHECK(rm_job_record_decode_snapshot(empty, sizeof empty, &rec, &fmt, &err) == -1);
}

/*  Every truncation of a snapshot is refused, without a leak or a crash. */
static void test_refuses_truncated_snapshots(void)
{
    rm_job_record_t rec = busy_record();
    uint8_t *buf;
    size_t len;
    CHECK(rm_job_record_encode(&rec, &buf, &len, NULL) == 0);
    for (size_t n = 0; n < len; n++) {
        rm_job_record_t back = {0};
        const rm_job_record_format_t *fmt;
        CHECK_MSG(rm_job_record_decode_snapshot(buf, n, &back, &fmt, NULL) == -1, "%zu bytes", n);
    }
    free(buf);
    rm_job_record_free(&rec);
}

static void expect_refused(rm_job_record_t *rec, const char *what)
{
    uint8_t *buf;
    size_t len;
    rm_job_record_t back = {0};
    const rm_job_record_format_t *fmt;
    rm_err_t err;
    CHECK(rm_job_record_encode(rec, &buf, &len, NULL) == 0);
    CHECK_MSG(rm_job_record_decode_snapshot(buf, len, &back, &fmt, &err) == -1 &&
                  err.code == RM_EPROTO,
              "%s was read", what);
    CHECK_MSG(rm_job_record_decode_peer(buf, len, &back, &err) == -1 && err.code == RM_EPROTO,
              "%s was taken from a peer", what);
    free(buf);
}

/*  What the code relies on: ascending frames, failed_on sorted, names. */
static void test_refuses_broken_invariants(void)
{
    rm_job_record_t rec = record("1-3");
    rec.frames.items[1].frame = 1;
    expect_refused(&rec, "frames out of order");
    rec.frames.items[1].frame = 2;
    char *unsorted[] = {"b", "a"}, *twice[] = {"a", "a"}, *blank[] = {""};
    rm_frame_rec_t *f = &rec.frames.items[2];
    f->failed_on.items = unsorted;
    f->failed_on.count = 2;
    expect_refused(&rec, "unsorted failed_on");
    f->failed_on.items = twice;
    expect_refused(&rec, "a name twice");
    f->failed_on.items = blank;
    f->failed_on.count = 1;
    expect_refused(&rec, "an empty name");
    CHECK(rm_job_record_check_frame(f, NULL) == -1);
    f->failed_on.items = NULL;
    f->failed_on.count = 0;
    rm_job_record_free(&rec);
}

static void test_peer_records_are_strict(void)
{
    rm_job_record_t rec = record("1-2"), back = {0};
    uint8_t *buf;
    size_t len;
    rm_err_t err;
    CHECK(rm_job_record_encode(&rec, &buf, &len, NULL) == 0);
    uint8_t *longer = realloc(buf, len + 1);
    CHECK(longer != NULL);
    buf = longer;
    buf[len] = 0xc0;
    CHECK(rm_job_record_decode_peer(buf, len + 1, &back, &err) == -1 && err.code == RM_EPROTO);
    CHECK(strstr(err.msg, "after the job record") != NULL);
    CHECK(rm_job_record_decode_peer(NULL, 0, &back, &err) == -1 && err.code == RM_EPROTO);
    CHECK(rm_job_record_decode_peer(buf, RM_JOB_RECORD_MAX_BYTES + 1, &back, &err) == -1);
    free(buf);
    free(rec.spec.job_id);
    rec.spec.job_id = strdup("../../etc");
    CHECK(rm_job_record_encode(&rec, &buf, &len, NULL) == 0);
    CHECK(rm_job_record_decode_peer(buf, len, &back, &err) == -1 && err.code == RM_EPROTO);
    CHECK(strstr(err.msg, "job id") != NULL);
    free(buf);
    rm_job_record_free(&rec);
}

static void test_entries(void)
{
    rm_job_record_batch_t b = {0};
    rm_job_record_entry_t *e = rm_job_record_batch_add(&b, RM_JOB_RECORD_FAIL, NULL);
    CHECK(e && e->kind == RM_JOB_RECORD_FAIL && e->at > 0);
    e->text = strdup("scene missing");
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err;
    CHECK(rm_job_record_encode_entry(e, &buf, &len, &err) == 0);
    rm_job_record_entry_t back = {0};
    CHECK(rm_job_record_decode_entry(NULL, buf, len, &back, &err) == 0);
    CHECK(back.kind == RM_JOB_RECORD_FAIL && strcmp(back.text, "scene missing") == 0);
    rm_job_record_entry_free(&back);
    CHECK(rm_job_record_decode_entry(NULL, buf, len - 1, &back, &err) == -1);
    free(buf);
    /* A frame entry with a broken failed_on is refused. */
    char *unsorted[] = {"b", "a"};
    rm_job_record_entry_t bad = {.kind = RM_JOB_RECORD_FRAME,
                                 .frame = {.frame = 1, .failed_on = {unsorted, 2}}};
    buf = NULL;
    len = 0;
    CHECK(rm_job_record_encode_entry(&bad, &buf, &len, &err) == 0);
    CHECK(rm_job_record_decode_entry(NULL, buf, len, &back, &err) == -1 && err.code == RM_EPROTO);
    CHECK(back.frame.failed_on.items == NULL);
    free(buf);
    /* Each kind applies to its field. */
    rm_job_record_t rec = record("1-2");
    uint64_t kinds[] = {RM_JOB_RECORD_CANCEL, RM_JOB_RECORD_START, RM_JOB_RECORD_FINISH,
                        RM_JOB_RECORD_SUBMITTED};
    for (size_t i = 0; i < 4; i++) {
        rm_job_record_entry_t *k = rm_job_record_batch_add(&b, kinds[i], NULL);
        k->at = 10 + (int64_t)i;
    }
    e = rm_job_record_batch_add(&b, RM_JOB_RECORD_FRAME, NULL);
    e->frame = (rm_frame_rec_t){.frame = 2, .state = RM_FRAME_DONE, .node = strdup("n1")};
    rm_job_record_entry_t *missing = rm_job_record_batch_add(&b, RM_JOB_RECORD_FRAME, NULL);
    missing->frame.frame = 9;
    for (size_t i = 0; i < b.count; i++)
        rm_job_record_apply(&rec, &b.items[i]);
    CHECK(strcmp(rec.error, "scene missing") == 0 && rec.canceled);
    CHECK(rec.started_at == 11 && rec.finished_at == 12 && rec.spec.submitted_at == 13);
    CHECK(rec.frames.items[1].state == RM_FRAME_DONE &&
          strcmp(rec.frames.items[1].node, "n1") == 0);
    CHECK(b.items[0].text == NULL && b.items[5].frame.node == NULL); /* taken */
    rm_job_record_batch_free(&b);
    CHECK(b.count == 0 && b.items == NULL);
    rm_job_record_free(&rec);
}

static void test_delta_round_trip(void)
{
    rm_job_record_t rec = busy_record();
    rm_job_record_delta_t delta = {.frames = {rec.frames.items, 3}}, back = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err;
    CHECK(rm_job_record_encode_delta(&delta, &buf, &len, &err) == 0);
    CHECK(rm_job_record_decode_delta(buf, len, &back, &err) == 0 && back.frames.count == 3);
    CHECK(back.frames.items[1].failed_on.count == 2 &&
          back.frames.items[2].epoch == RM_STAMP(2, 5));
    rm_job_record_delta_free(&back);
    CHECK(rm_job_record_decode_delta(buf, len - 1, &back, &err) == -1 && err.code == RM_EPROTO);
    uint8_t *longer = realloc(buf, len + 1);
    CHECK(longer != NULL);
    buf = longer;
    buf[len] = 0xc0;
    CHECK(rm_job_record_decode_delta(buf, len + 1, &back, &err) == -1 && err.code == RM_EPROTO);
    CHECK(back.frames.items == NULL);
    free(buf);
    rm_job_record_free(&rec);
}

static void test_names(void)
{
    CHECK(rm_job_record_valid_id("0123456789abcdef") && rm_job_record_valid_id("a"));
    CHECK(!rm_job_record_valid_id("") && !rm_job_record_valid_id("0123ABCD"));
    CHECK(!rm_job_record_valid_id("..") && !rm_job_record_valid_id("ab/cd"));
    char long_id[66];
    memset(long_id, 'a', 65);
    long_id[65] = '\0';
    CHECK(!rm_job_record_valid_id(long_id));
    long_id[64] = '\0';
    CHECK(rm_job_record_valid_id(long_id));
    char *names[] = {"a", "c"};
    rm_frame_rec_t f = {.failed_on = {names, 2}};
    CHECK(rm_job_record_failed_on(&f, "c") && !rm_job_record_failed_on(&f, "b"));
    CHECK(!rm_job_record_failed_on(NULL, "a") && !rm_job_record_failed_on(&f, NULL));
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_init_has_every_frame_pending);
    RM_RUN(test_snapshot_round_trip);
    RM_RUN(test_reads_format_1);
    RM_RUN(test_refuses_an_unknown_format);
    RM_RUN(test_refuses_truncated_snapshots);
    RM_RUN(test_refuses_broken_invariants);
    RM_RUN(test_peer_records_are_strict);
    RM_RUN(test_entries);
    RM_RUN(test_delta_round_trip);
    RM_RUN(test_names);
    RM_TEST_DONE();
}
