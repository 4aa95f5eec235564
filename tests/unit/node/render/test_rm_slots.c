/*  rm_slots driven through its header, with tools/fake_blender.py as
    Blender: a task taken on a free slot renders, its files are stored in
    the chunk store as the frame's manifest and handed to the output
    callback; a cancelled job's task stops; an idle slot quits its Blender
    after slot_idle_s.  The fake's pace is set by RM_FAKE_* variables
    (its docstring), a frame held back by its gate (RM_FAKE_GATE). */
#define _XOPEN_SOURCE 700 /* nftw (job_fixtures.h) */
#include "node/jobs/job_fixtures.h"

#include <dirent.h>

#include "rm_manifest.h"
#include "rm_slots.h"
#include "rm_test.h"

#define DEADLINE_MS 15000

typedef struct {
    char dir[64];
    char fake[1024];
    char gate[128];
    rm_store_t *store;
    rm_jobs_t *jobs;
    rm_slots_t *slots;
    rm_loop_t *loop;
    rm_hash_t project; /* manifest of a one-file project: scene.blend */
} fixture_t;

/*  What the output callback saw. */
typedef struct {
    int calls;
    char job_id[65];
    uint64_t frames[8];
    rm_hash_t outputs[8];
    rm_hash_t logs[8];
    char files[8][64];
} outputs_t;

static void on_output(void *arg, rm_job_t *job, uint64_t frame, const rm_frame_output_t *out)
{
    outputs_t *o = arg;
    snprintf(o->job_id, sizeof o->job_id, "%s", rm_job_id(job));
    if (o->calls < 8) {
        o->frames[o->calls] = frame;
        o->outputs[o->calls] = out->output;
        o->logs[o->calls] = out->log;
        snprintf(o->files[o->calls], sizeof o->files[0], "%s", out->file);
    }
    o->calls++;
}

static void fake_path(char *buf, size_t size)
{
    const char *src = getenv("RM_SOURCE_DIR");
    if (src) {
        snprintf(buf, size, "%s/tools/fake_blender.py", src);
        return;
    }
    /* __FILE__ is SRC/tests/unit/node/render/test_rm_slots.c */
    snprintf(buf, size, "%s", __FILE__);
    char *cut = strstr(buf, "/tests/unit/");
    if (cut)
        snprintf(cut, size - (size_t)(cut - buf), "/tools/fake_blender.py");
}

/*  The fake's settings are read from the environment the slot captured
    when it started (rm_blender_tmpdir): they are set before rm_slots_new.
    With `gated`, every frame renders until GATE/open exists (never, here). */
static bool fx_setup(fixture_t *fx, uint64_t slot_idle_s, bool gated)
{
    memset(fx, 0, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/rm-test-slots.XXXXXX");
    if (!mkdtemp(fx->dir))
        return false;
    fake_path(fx->fake, sizeof fx->fake);
    snprintf(fx->gate, sizeof fx->gate, "%s/gate", fx->dir);
    mkdir(fx->gate, 0700);
    setenv("RM_FAKE_FRAME_MS", "20", 1);
    if (gated)
        setenv("RM_FAKE_GATE", fx->gate, 1);
    else
        unsetenv("RM_FAKE_GATE");
    rm_err_t err;
    char path[256];
    snprintf(path, sizeof path, "%s/store", fx->dir);
    fx->store = rm_store_new(path, &err);
    snprintf(path, sizeof path, "%s/jobs", fx->dir);
    fx->jobs = rm_jobs_new(path, &err);
    CHECK(fx->store && fx->jobs);
    if (!fx->store || !fx->jobs)
        return false;
    /* The project: a .blend the fake accepts (Blender's magic). */
    snprintf(path, sizeof path, "%s/src", fx->dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/src/scene.blend", fx->dir);
    fx_write_file(path, (const uint8_t *)"BLENDER-v300 fake scene", 23);
    char root[256];
    snprintf(root, sizeof root, "%s/src", fx->dir);
    const char *names[] = {path};
    rm_manifest_t manifest = {0};
    int rc = rm_manifest_build(root, names, 1, fx->store, NULL, NULL, &manifest, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc == 0)
        CHECK(rm_manifest_store(&manifest, fx->store, NULL, NULL, &fx->project, &err) == 0);
    rm_manifest_free(&manifest);

    rm_config_t config;
    rm_config_init(&config);
    snprintf(config.blender, sizeof config.blender, "%s", fx->fake);
    config.slots = 1;
    config.slot_idle_s = slot_idle_s;
    snprintf(path, sizeof path, "%s/projects", fx->dir);
    fx->slots = rm_slots_new(&config, "n1", true, fx->jobs, fx->store, path, &err);
    CHECK_MSG(fx->slots, "%s", err.msg);
    if (!fx->slots)
        return false;
    CHECK(rm_slots_count(fx->slots) == 1 && rm_slots_free(fx->slots) == 1);
    fx->loop = rm_loop_new();
    CHECK(fx->loop && rm_slots_watch(fx->slots, fx->loop) == 0);
    return fx->loop != NULL;
}

static void fx_teardown(fixture_t *fx)
{
    rm_slots_destroy(&fx->slots);
    rm_loop_destroy(&fx->loop);
    rm_jobs_destroy(&fx->jobs);
    rm_store_destroy(&fx->store);
    fx_remove_tree(fx->dir);
    unsetenv("RM_FAKE_GATE");
    unsetenv("RM_FAKE_FRAME_MS");
    unsetenv("RM_FAKE_PASSES");
}

/*  A job of `frames` on this fixture's project, its first `n` frames
    assigned to this node as the coordinator would; they are in *taken. */
static rm_job_t *fx_job(fixture_t *fx, const char *id, const char *frames, uint64_t *taken,
                        uint32_t n)
{
    rm_job_spec_t spec;
    fx_spec(&spec, id, frames, 0, 0, 1);
    spec.manifest = fx->project;
    rm_job_t *job = NULL;
    bool created = false;
    rm_err_t err;
    int rc = rm_jobs_create(fx->jobs, &spec, &job, &created, &err);
    CHECK_MSG(rc == 0 && created, "%s", err.msg);
    rm_codec_free(&rm_job_spec_desc, &spec);
    if (job)
        CHECK(fx_assign_next(job, "n1", 0, taken, n) == n);
    return job;
}

/*  Runs the node loop's part for the slots (events, then the flush) until
    done(arg) or the deadline; true if done. */
static bool pump_until(fixture_t *fx, bool (*done)(fixture_t *, void *), void *arg)
{
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    while (!done(fx, arg)) {
        if (zclock_mono() > deadline)
            return false;
        rm_loop_run_once(fx->loop, 50);
        rm_slots_flush(fx->slots);
    }
    return true;
}

static bool calls_reach(fixture_t *fx, void *arg)
{
    (void)fx;
    const int *want = ((const int **)arg)[1];
    return ((outputs_t *)((void **)arg)[0])->calls >= *want;
}

static bool slot_idle(fixture_t *fx, void *arg)
{
    (void)arg;
    return rm_slots_busy(fx->slots) == 0;
}

/*  Live (not zombie) child processes of this test running the fake. */
static int fake_blenders(void)
{
    int count = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[300], buf[4096];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *close_paren = strrchr(buf, ')'), state = 0;
        int ppid = 0;
        if (!close_paren || sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2 ||
            ppid != getpid() || state == 'Z')
            continue;
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        f = fopen(path, "r");
        if (!f)
            continue;
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        for (size_t i = 0; i < n; i++)
            if (buf[i] == '\0')
                buf[i] = ' ';
        buf[n] = '\0';
        count += strstr(buf, "fake_blender.py") != NULL;
    }
    if (d)
        closedir(d);
    return count;
}

static bool no_blender(fixture_t *fx, void *arg)
{
    (void)arg;
    rm_slots_tick(fx->slots, zclock_mono());
    return fake_blenders() == 0;
}

/*  Percent of frame reported while it renders. */
static uint64_t progress_of(rm_job_t *job, uint64_t frame)
{
    rm_job_reply_t info;
    rm_err_t err;
    uint64_t percent = 0;
    if (rm_job_info(job, &info, &err) != 0)
        return 0;
    for (uint32_t i = 0; i < info.frames.count; i++)
        if (info.frames.items[i].frame == frame)
            percent = info.frames.items[i].progress;
    rm_codec_free(rm_msg_desc(RM_MSG_JOB_REPLY), &info);
    return percent;
}

static bool frame_progressing(fixture_t *fx, void *arg)
{
    (void)fx;
    return progress_of(arg, 1) > 0;
}

static void test_task_renders_and_every_file_is_stored_as_the_frame_manifest(void)
{
    fixture_t fx;
    /* Each frame in a folder of its own: the image and two passes. */
    setenv("RM_FAKE_PASSES", "normal,depth", 1);
    if (!fx_setup(&fx, 60, false)) {
        fx_teardown(&fx);
        return;
    }
    outputs_t seen = {0};
    rm_slots_on_output(fx.slots, on_output, &seen);
    uint64_t frames[2];
    rm_job_t *job = fx_job(&fx, "00000000000000a1", "1-3", frames, 2);
    rm_err_t err;
    if (rm_slots_take(fx.slots, job, frames, 2, &err) != 0) {
        CHECK_MSG(false, "rm_slots_take: %s", err.msg);
        fx_teardown(&fx);
        return;
    }
    CHECK(rm_slots_busy(fx.slots) == 1 && rm_slots_free(fx.slots) == 0);
    const char *running = rm_slots_job_at(fx.slots, 0);
    CHECK(running && strcmp(running, "00000000000000a1") == 0);

    int want = 2;
    void *args[] = {&seen, &want};
    CHECK_MSG(pump_until(&fx, calls_reach, args), "%d output(s) in %d s", seen.calls,
              DEADLINE_MS / 1000);
    CHECK(pump_until(&fx, slot_idle, NULL));
    CHECK(seen.calls == 2 && strcmp(seen.job_id, "00000000000000a1") == 0);
    CHECK(rm_slots_free(fx.slots) == 1 && rm_slots_job_at(fx.slots, 0) == NULL);
    for (int i = 0; i < 2 && i < seen.calls; i++) {
        CHECK(seen.frames[i] == (uint64_t)(i + 1));
        char name[32];
        snprintf(name, sizeof name, "frame_%04d.png", i + 1);
        CHECK_MSG(strcmp(seen.files[i], name) == 0, "%s", seen.files[i]);
        /* The frame's output is a manifest in the store naming its files,
           each of whose chunks the store holds. */
        rm_manifest_t m = {0};
        CHECK_MSG(rm_manifest_load(fx.store, &seen.outputs[i], &m, &err) == 0, "%s", err.msg);
        char want_files[3][64];
        snprintf(want_files[0], sizeof want_files[0], "%s", name);
        snprintf(want_files[1], sizeof want_files[1], "passes/depth_%04d.exr", i + 1);
        snprintf(want_files[2], sizeof want_files[2], "passes/normal_%04d.exr", i + 1);
        CHECK_MSG(m.files.count == 3, "frame %d: %u file(s) stored", i + 1, m.files.count);
        for (int w = 0; w < 3; w++) {
            char path[512];
            struct stat st = {0};
            snprintf(path, sizeof path, "%s/out/%d/%s", rm_job_dir(job), i + 1, want_files[w]);
            CHECK_MSG(stat(path, &st) == 0, "%s", path);
            bool stored = false;
            for (uint32_t k = 0; k < m.files.count; k++)
                stored |= strcmp(m.files.items[k].path, want_files[w]) == 0 &&
                          m.files.items[k].size == (uint64_t)st.st_size && st.st_size > 8;
            CHECK_MSG(stored, "the manifest of frame %d lacks %s", i + 1, want_files[w]);
        }
        for (uint32_t k = 0; k < m.files.count; k++)
            for (uint32_t c = 0; c < m.files.items[k].chunks.count; c++)
                CHECK(rm_store_has(fx.store, &m.files.items[k].chunks.items[c]));
        rm_manifest_free(&m);
        /* Its Blender log travels with it. */
        CHECK(!rm_hash_is_zero(&seen.logs[i]) && rm_store_has(fx.store, &seen.logs[i]));
        /* With a callback, recording the frame is the caller's. */
        CHECK(rm_job_frame(job, (uint64_t)(i + 1))->state == RM_FRAME_ASSIGNED);
    }
    CHECK(rm_job_frame(job, 3)->state == RM_FRAME_PENDING);
    CHECK(seen.calls < 2 || memcmp(seen.outputs[0].b, seen.outputs[1].b, 32) != 0);
    fx_teardown(&fx);
}

static void test_without_a_callback_the_frame_is_recorded_done(void)
{
    fixture_t fx;
    if (!fx_setup(&fx, 60, false)) {
        fx_teardown(&fx);
        return;
    }
    uint64_t frames[1];
    rm_job_t *job = fx_job(&fx, "00000000000000a2", "5", frames, 1);
    rm_err_t err;
    CHECK_MSG(rm_slots_take(fx.slots, job, frames, 1, &err) == 0, "%s", err.msg);
    CHECK(pump_until(&fx, slot_idle, NULL));
    const rm_frame_rec_t *f = rm_job_frame(job, 5);
    CHECK(f->state == RM_FRAME_DONE && strcmp(f->node, "n1") == 0);
    CHECK(rm_store_has(fx.store, &f->output));
    CHECK(strcmp(rm_job_state(job), "done") == 0);
    fx_teardown(&fx);
}

static void test_canceled_job_task_stops(void)
{
    fixture_t fx;
    if (!fx_setup(&fx, 60, true)) {
        fx_teardown(&fx);
        return;
    }
    outputs_t seen = {0};
    rm_slots_on_output(fx.slots, on_output, &seen);
    uint64_t frames[2];
    rm_job_t *job = fx_job(&fx, "00000000000000a3", "1-2", frames, 2);
    rm_err_t err;
    CHECK_MSG(rm_slots_take(fx.slots, job, frames, 2, &err) == 0, "%s", err.msg);
    CHECK_MSG(pump_until(&fx, frame_progressing, job), "frame 1 never rendered");
    CHECK(rm_slots_busy(fx.slots) == 1);

    CHECK(rm_job_cancel(job, NULL, &err) == 0);
    rm_slots_cancel(fx.slots, "00000000000000a3");
    CHECK_MSG(pump_until(&fx, slot_idle, NULL), "the task of a cancelled job still runs");
    CHECK(rm_slots_free(fx.slots) == 1);
    CHECK(seen.calls == 0);
    CHECK(rm_job_frame(job, 1)->state != RM_FRAME_DONE);
    CHECK(rm_job_frame(job, 2)->state != RM_FRAME_DONE);
    /* Cancelling another job stops nothing: a new task keeps running. */
    uint64_t more[1];
    rm_job_t *other = fx_job(&fx, "00000000000000a4", "1", more, 1);
    CHECK_MSG(rm_slots_take(fx.slots, other, more, 1, &err) == 0, "%s", err.msg);
    CHECK(pump_until(&fx, frame_progressing, other));
    rm_slots_cancel(fx.slots, "00000000000000a3");
    for (int i = 0; i < 10; i++)
        rm_loop_run_once(fx.loop, 20);
    CHECK_MSG(rm_slots_busy(fx.slots) == 1, "job %s, frame 1 %d", rm_job_state(other),
              (int)rm_job_frame(other, 1)->state);
    fx_teardown(&fx);
}

static void test_idle_slot_quits_its_blender_after_slot_idle_s(void)
{
    fixture_t fx;
    if (!fx_setup(&fx, 1, false)) {
        fx_teardown(&fx);
        return;
    }
    uint64_t frames[1];
    rm_job_t *job = fx_job(&fx, "00000000000000a5", "1", frames, 1);
    rm_err_t err;
    CHECK_MSG(rm_slots_take(fx.slots, job, frames, 1, &err) == 0, "%s", err.msg);
    CHECK(pump_until(&fx, slot_idle, NULL));
    int64_t ended = zclock_mono();
    /* The Blender is kept between tasks... */
    CHECK(fake_blenders() == 1);
    rm_slots_tick(fx.slots, ended);
    CHECK(fake_blenders() == 1);
    /* ...until the slot has been idle for slot_idle_s. */
    CHECK_MSG(pump_until(&fx, no_blender, NULL), "an idle slot keeps its Blender");
    CHECK(zclock_mono() - ended >= 900);
    fx_teardown(&fx);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    zsys_init();
    if (!getenv("RM_TEST_LOG"))
        zsys_set_logstream(NULL);
    RM_RUN(test_task_renders_and_every_file_is_stored_as_the_frame_manifest);
    RM_RUN(test_without_a_callback_the_frame_is_recorded_done);
    RM_RUN(test_canceled_job_task_stops);
    RM_RUN(test_idle_slot_quits_its_blender_after_slot_idle_s);
    RM_TEST_DONE();
}
