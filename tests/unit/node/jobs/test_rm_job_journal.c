/*  rm_job_journal: a job's snapshot and journal on disk: written,
    replayed, cut short by a crash, folded into a new snapshot. */
#define _XOPEN_SOURCE 700
#include "job_fixtures.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_job_journal.h"
#include "rm_test.h"

static char root[] = "/tmp/rm-test-journal.XXXXXX";

static rm_job_record_t record(const char *id, const char *frames)
{
    rm_job_spec_t spec;
    rm_job_record_t rec;
    fx_spec(&spec, id, frames, 0xab, 0, 100);
    CHECK(rm_job_record_init(&rec, &spec, NULL) == 0);
    rm_codec_free(&rm_job_spec_desc, &spec);
    return rec;
}

static rm_job_journal_t *create(const rm_job_record_t *rec)
{
    rm_err_t err;
    rm_job_journal_t *j = rm_job_journal_create(root, rec, &err);
    CHECK_MSG(j != NULL, "%s", err.msg);
    if (!j)
        exit(1);
    return j;
}

/*  Loads ROOT/<id> into *rec (freed first if loaded before). */
static rm_job_journal_t *load(const char *id, rm_job_record_t *rec, uint64_t *replayed)
{
    rm_err_t err;
    memset(rec, 0, sizeof *rec);
    rm_job_journal_t *j = rm_job_journal_load(root, id, rec, replayed, &err);
    CHECK_MSG(j != NULL, "%s", err.msg);
    return j;
}

static long size_of(const char *id, const char *file)
{
    char path[700];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s/%s", root, id, file);
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/*  Appends a FRAME entry: frame `frame` failed `attempts` times. */
static int append_attempts(rm_job_journal_t *j, uint64_t frame, uint64_t attempts, bool sync)
{
    rm_job_record_entry_t e = {.kind = RM_JOB_RECORD_FRAME,
                               .frame = {.frame = frame, .attempts = attempts, .error = "boom"}};
    return rm_job_journal_append(j, &e, 1, sync, NULL);
}

static void test_create_writes_the_job(void)
{
    rm_job_record_t rec = record("00000000000000a1", "1-3"), back;
    rm_job_journal_t *j = create(&rec);
    char path[700];
    struct stat st;
    snprintf(path, sizeof path, "%s/00000000000000a1", root);
    CHECK(strcmp(rm_job_journal_dir(j), path) == 0);
    snprintf(path, sizeof path, "%s/00000000000000a1/out", root);
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    snprintf(path, sizeof path, "%s/00000000000000a1/logs", root);
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK(size_of("00000000000000a1", "job.journal") == 0);
    rm_job_journal_destroy(&j);
    CHECK(j == NULL);
    uint64_t replayed = 9;
    j = load("00000000000000a1", &back, &replayed);
    CHECK(replayed == 0 && back.frames.count == 3 &&
          strcmp(back.spec.job_id, rec.spec.job_id) == 0);
    rm_job_journal_destroy(&j);
    rm_job_record_free(&back);
    rm_job_record_free(&rec);
}

static void test_replays_appended_entries(void)
{
    rm_job_record_t rec = record("00000000000000a2", "1-3"), back;
    rm_job_journal_t *j = create(&rec);
    rm_job_record_entry_t two[] = {{.kind = RM_JOB_RECORD_START, .at = 77},
                                   {.kind = RM_JOB_RECORD_CANCEL, .at = 78}};
    CHECK(append_attempts(j, 2, 1, true) == 0);
    CHECK(rm_job_journal_append(j, two, 2, false, NULL) == 0);
    rm_job_journal_destroy(&j);
    uint64_t replayed = 0;
    j = load("00000000000000a2", &back, &replayed);
    CHECK(replayed == 3 && back.started_at == 77 && back.canceled);
    CHECK(back.frames.items[1].attempts == 1 && strcmp(back.frames.items[1].error, "boom") == 0);
    rm_job_journal_destroy(&j);
    rm_job_record_free(&back);
    rm_job_record_free(&rec);
}

/*  A journal of one entry (frame 1 failed once), then `tail`; loaded,
    how many entries replay. */
static uint64_t replayed_with_tail(const char *id, const char *tail, size_t len, bool again)
{
    rm_job_record_t rec = record(id, "1-3"), back;
    rm_job_journal_t *j = create(&rec);
    CHECK(append_attempts(j, 1, 1, true) == 0);
    rm_job_journal_destroy(&j);
    char path[700];
    uint8_t entry[512];
    snprintf(path, sizeof path, "%s/%s/job.journal", root, id);
    FILE *f = fopen(path, "r+b");
    size_t n = f ? fread(entry, 1, sizeof entry, f) : 0;
    CHECK(f && n > 4 && n < sizeof entry);
    if (f) {
        fseek(f, 0, SEEK_END); /* from reading to writing */
        fwrite(tail, 1, len, f);
        if (again) /* a good entry after the damage */
            fwrite(entry, 1, n, f);
        fclose(f);
    }
    uint64_t replayed = 0;
    j = load(id, &back, &replayed);
    CHECK(back.frames.items[0].attempts == 1);
    rm_job_journal_destroy(&j);
    rm_job_record_free(&back);
    rm_job_record_free(&rec);
    return replayed;
}

/*  A crash mid-append leaves a torn entry; a damaged disk, a bad one: the
    replay ends there, the entries before it stay.  A length over the
    limit is refused before anything is allocated. */
static void test_damage_ends_the_replay(void)
{
    CHECK(replayed_with_tail("00000000000000a3", "\x00\x00\x10\x00garbage", 11, false) == 1);
    CHECK(replayed_with_tail("00000000000000a7", "\x00\x00\x00\x03\xc1\xc1\xc1", 7, true) == 1);
    CHECK(replayed_with_tail("00000000000000a8", "\xff\xff\xff\xff", 4, true) == 1);
    CHECK(replayed_with_tail("00000000000000a9", "\x00\x00\x00\x00", 4, true) == 1);
    CHECK(replayed_with_tail("00000000000000b0", "", 0, true) == 2);
}

/*  Writing a snapshot empties the journal it includes; entries appended
    after it replay on it. */
static void test_snapshot_empties_the_journal(void)
{
    rm_job_record_t rec = record("00000000000000a4", "1-3"), back;
    rm_job_journal_t *j = create(&rec);
    CHECK(append_attempts(j, 3, 2, false) == 0);
    CHECK(size_of("00000000000000a4", "job.journal") > 0);
    rm_job_record_frame(&rec, 3, NULL)->attempts = 2;
    CHECK(rm_job_journal_snapshot(j, &rec, NULL) == 0);
    CHECK(size_of("00000000000000a4", "job.journal") == 0);
    CHECK(size_of("00000000000000a4", "job.state.tmp") == -1);
    CHECK(append_attempts(j, 1, 1, true) == 0); /* appended after the truncation */
    rm_job_journal_destroy(&j);
    uint64_t replayed = 0;
    j = load("00000000000000a4", &back, &replayed);
    CHECK(replayed == 1 && back.frames.items[2].attempts == 2 &&
          back.frames.items[0].attempts == 1);
    rm_job_journal_destroy(&j);
    rm_job_record_free(&back);
    rm_job_record_free(&rec);
}

/*  Compaction waits for 64 + 2 x frames entries, then writes a snapshot
    of what it is given. */
static void test_compaction_threshold(void)
{
    rm_job_record_t rec = record("00000000000000a5", "1-2"), back;
    rm_job_journal_t *j = create(&rec);
    for (uint64_t i = 1; i <= 68; i++) {
        CHECK(append_attempts(j, 1, i, false) == 0);
        rm_job_record_frame(&rec, 1, NULL)->attempts = i;
        rm_job_journal_compact(j, &rec);
    }
    CHECK(size_of("00000000000000a5", "job.journal") > 0); /* 68 entries: not yet */
    CHECK(append_attempts(j, 1, 69, false) == 0);
    rm_job_record_frame(&rec, 1, NULL)->attempts = 69;
    rm_job_journal_compact(j, &rec);
    CHECK(size_of("00000000000000a5", "job.journal") == 0);
    rm_job_journal_destroy(&j);
    uint64_t replayed = 9;
    j = load("00000000000000a5", &back, &replayed);
    CHECK(replayed == 0 && back.frames.items[0].attempts == 69);
    rm_job_journal_destroy(&j);
    rm_job_record_free(&back);
    rm_job_record_free(&rec);
}

/*  A snapshot and journal written by format 1 are read, as format 2. */
static void test_loads_format_1(void)
{
    rm_job_record_t back;
    uint64_t replayed = 0;
    fx_write_v1_job(root, "00000000000000e1");
    rm_job_journal_t *j = load("00000000000000e1", &back, &replayed);
    CHECK(replayed == 1 && back.version == RM_JOB_RECORD_VERSION);
    CHECK(back.frames.items[0].state == RM_FRAME_DONE && back.frames.items[0].size == 10);
    CHECK(back.frames.items[1].state == RM_FRAME_ASSIGNED); /* the restart rule is rm_job's */
    CHECK(back.frames.items[2].attempts == 1 && strcmp(back.frames.items[2].error, "crashed") == 0);
    rm_job_journal_destroy(&j);
    rm_job_record_free(&back);
}

static void test_refuses_missing_or_damaged_snapshots(void)
{
    rm_job_record_t back = {0};
    uint64_t replayed;
    rm_err_t err;
    char path[700];
    CHECK(rm_job_journal_load(root, "00000000000000ff", &back, &replayed, &err) == NULL);
    CHECK(err.code == RM_EIO && strstr(err.msg, "cannot read") != NULL);
    /* Damaged: refused by name, and no journal is created beside it. */
    snprintf(path, sizeof path, "%s/00000000000000fe", root);
    CHECK(mkdir(path, 0700) == 0);
    snprintf(path, sizeof path, "%s/00000000000000fe/job.state", root);
    fx_write_file(path, (const uint8_t *)"\x97\x02\xc1", 3);
    CHECK(rm_job_journal_load(root, "00000000000000fe", &back, &replayed, &err) == NULL);
    CHECK(strstr(err.msg, "is damaged") != NULL && size_of("00000000000000fe", "job.journal") < 0);
    /* Larger than any record: refused from its size, before it is read. */
    int fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)RM_JOB_RECORD_MAX_BYTES + 1) == 0);
    if (fd >= 0)
        close(fd);
    CHECK(rm_job_journal_load(root, "00000000000000fe", &back, &replayed, &err) == NULL);
    CHECK(err.code == RM_EIO && back.frames.items == NULL);
}

/*  A job that cannot be written leaves no snapshot behind. */
static void test_failed_create_leaves_nothing_to_load(void)
{
    rm_job_record_t rec = record("00000000000000a6", "1-2");
    char path[700];
    rm_err_t err;
    snprintf(path, sizeof path, "%s/00000000000000a6", root);
    CHECK(mkdir(path, 0700) == 0);
    snprintf(path, sizeof path, "%s/00000000000000a6/job.journal", root);
    CHECK(mkdir(path, 0700) == 0); /* the journal cannot be opened */
    CHECK(rm_job_journal_create(root, &rec, &err) == NULL && err.code != RM_OK);
    CHECK(size_of("00000000000000a6", "job.state") == -1);
    rm_job_record_free(&rec);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(mkdtemp(root) != NULL);
    RM_RUN(test_create_writes_the_job);
    RM_RUN(test_replays_appended_entries);
    RM_RUN(test_damage_ends_the_replay);
    RM_RUN(test_snapshot_empties_the_journal);
    RM_RUN(test_compaction_threshold);
    RM_RUN(test_loads_format_1);
    RM_RUN(test_refuses_missing_or_damaged_snapshots);
    RM_RUN(test_failed_create_leaves_nothing_to_load);
    fx_remove_tree(root);
    RM_TEST_DONE();
}
