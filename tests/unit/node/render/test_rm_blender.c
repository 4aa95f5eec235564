/*  Tests of the render slot with the real Blender (/usr/bin/blender) on a
    tiny scene made at start by tools/make_sample_scene.py, plus fake
    Blenders (shell scripts) for crashes and for a driver that cannot serve.
    The pipe messages alone are tested in test_rm_slot_msg.c, probing
    Blender in test_rm_blender_probe.c. */
#include "rm_blender.h"
#include "rm_test.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLENDER "/usr/bin/blender"
#define TASK_LIMIT_MS 60000

typedef struct {
    char dir[64];      /* temp dir for everything */
    char blend[128];   /* the sample scene */
    char corrupt[128]; /* random bytes named .blend */
} fixture_t;

/*  What one task produced. */
typedef struct {
    int done, failed, progress;
    uint64_t done_frames[8], failed_frames[8];
    char files[8][256];
    char reasons[8][512];
    int pids[8];
    rm_slot_event_type_t end; /* 0 if none came in time */
    char end_reason[512];
    bool fatal, oneshot;
    int64_t ms;
} outcome_t;

static void record(outcome_t *o, const rm_slot_event_t *ev)
{
    switch (ev->type) {
    case RM_SLOT_PROGRESS:
        o->progress++;
        break;
    case RM_SLOT_FRAME_DONE:
        if (o->done < 8) {
            o->done_frames[o->done] = ev->frame;
            o->pids[o->done] = ev->pid;
            snprintf(o->files[o->done], sizeof o->files[0], "%s", ev->file);
        }
        o->done++;
        break;
    case RM_SLOT_FRAME_FAILED:
        if (o->failed < 8) {
            o->failed_frames[o->failed] = ev->frame;
            snprintf(o->reasons[o->failed], sizeof o->reasons[0], "%s", ev->reason);
        }
        o->failed++;
        break;
    default:
        o->end = ev->type;
        o->fatal = ev->fatal;
        o->oneshot = ev->oneshot;
        snprintf(o->end_reason, sizeof o->end_reason, "%s", ev->reason ? ev->reason : "");
    }
}

/*  Sends task and collects events until the task ends; with cancel, sends
    CANCEL at the first PROGRESS. */
static void run_task(zactor_t *slot, const rm_render_task_t *task, bool cancel, outcome_t *o)
{
    memset(o, 0, sizeof *o);
    rm_err_t err;
    int64_t start = zclock_mono();
    if (rm_slot_render(slot, task, &err) != 0) {
        CHECK_MSG(false, "rm_slot_render: %s", err.msg);
        return;
    }
    zpoller_t *poller = zpoller_new(slot, NULL);
    while (!o->end && zclock_mono() - start < TASK_LIMIT_MS) {
        if (!zpoller_wait(poller, 1000))
            continue;
        rm_slot_event_t ev;
        if (rm_slot_event_recv(slot, &ev, &err) != 0) {
            CHECK_MSG(false, "bad event: %s", err.msg);
            break;
        }
        if (cancel && ev.type == RM_SLOT_PROGRESS && o->progress == 0)
            rm_slot_cancel(slot, task->job_id);
        record(o, &ev);
        rm_slot_event_clear(&ev);
    }
    zpoller_destroy(&poller);
    o->ms = zclock_mono() - start;
    CHECK_MSG(o->end != 0, "job %s: no end of task within %d s", task->job_id,
              TASK_LIMIT_MS / 1000);
}

static rm_render_task_t base_task(const fixture_t *fx, const char *job, const char *name,
                                  const uint64_t *frames, size_t count, char *out, char *log)
{
    snprintf(out, 256, "%s/out_%s", fx->dir, name);
    snprintf(log, 256, "%s/logs/%s.log", fx->dir, name);
    return (rm_render_task_t){.job_id = job,
                              .blend = fx->blend,
                              .project_dir = fx->dir,
                              .out_dir = out,
                              .log_path = log,
                              .settings = {.samples = 2, .res_x = 64, .res_y = 36},
                              .frames = frames,
                              .frame_count = count};
}

static bool is_png(const char *path)
{
    unsigned char magic[8] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t n = fread(magic, 1, 8, f);
    fclose(f);
    return n == 8 && memcmp(magic, "\x89PNG\r\n\x1a\n", 8) == 0;
}

static bool file_contains(const char *path, const char *needle)
{
    zfile_t *file = zfile_new(NULL, path);
    zchunk_t *chunk = file && zfile_input(file) == 0 ? zfile_read(file, 1 << 24, 0) : NULL;
    bool found = false;
    if (chunk) {
        char *text = zchunk_strdup(chunk);
        found = text && strstr(text, needle);
        free(text);
    }
    zchunk_destroy(&chunk);
    zfile_destroy(&file);
    return found;
}

static void write_script(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    chmod(path, 0755);
}

static zactor_t *slot_with(const char *blender, int startup_timeout_s)
{
    rm_blender_config_t config = {
        .blender = blender, .index = 0, .startup_timeout_s = startup_timeout_s};
    return rm_blender_new(&config);
}

/*  The fixture (made once in main) and the slot with the real Blender that
    cases (a) to (d) share, as a node's slot serves one task after another. */
static fixture_t fixture;
static const fixture_t *const fx = &fixture;
static zactor_t *slot;

/*  (a) three frames, then a second task of the same job in the same Blender. */
static const uint64_t first[] = {1, 2, 3}, second[] = {4, 5};

static void test_a_task_renders_each_frame_to_a_png(void)
{
    char out[256], log[256];
    rm_render_task_t task = base_task(fx, "a000000000000001", "a", first, 3, out, log);
    outcome_t o1;
    run_task(slot, &task, false, &o1);
    CHECK_MSG(o1.end == RM_SLOT_TASK_DONE && !o1.oneshot, "end %s: %s", rm_slot_event_name(o1.end),
              o1.end_reason);
    CHECK_MSG(o1.done == 3 && o1.failed == 0, "done %d failed %d: %s", o1.done, o1.failed,
              o1.reasons[0]);
    for (int i = 0; i < 3 && i < o1.done; i++) {
        char want[300];
        snprintf(want, sizeof want, "%s/%d/frame_%04d.png", out, i + 1, i + 1);
        CHECK_MSG(streq(o1.files[i], want), "file %s, want %s", o1.files[i], want);
        CHECK_MSG(is_png(want), "%s is not a PNG", want);
        CHECK(o1.done_frames[i] == (uint64_t)i + 1);
    }
    printf("persistent: first task (start + 3 frames) %" PRId64 " ms\n", o1.ms);
}

static void test_the_next_task_of_a_job_reuses_its_blender(void)
{
    char out[256], log[256];
    rm_render_task_t task = base_task(fx, "a000000000000001", "a_reuse", first, 3, out, log);
    outcome_t o1, o2;
    run_task(slot, &task, false, &o1);
    task.frames = second;
    task.frame_count = 2;
    run_task(slot, &task, false, &o2);
    CHECK_MSG(o2.end == RM_SLOT_TASK_DONE && o2.done == 2, "second task: %s, %d done",
              rm_slot_event_name(o2.end), o2.done);
    CHECK_MSG(o1.pids[0] > 0 && o2.pids[0] == o1.pids[0] && o2.pids[1] == o1.pids[0],
              "Blender not reused: pids %d then %d", o1.pids[0], o2.pids[0]);
    CHECK(is_png(o2.files[1]));
    CHECK_MSG(file_contains(log, "Saved: ") && file_contains(log, "Fra:4"),
              "log %s lacks Blender's output", log);
    printf("persistent: reused task (2 frames) %" PRId64 " ms\n", o2.ms);
}

/*  RELEASE ends the idle Blender: the next task needs a new one. */
static void test_release_ends_the_idle_blender(void)
{
    const uint64_t third[] = {6};
    char out[256], log[256];
    rm_render_task_t task = base_task(fx, "a000000000000001", "a_release", third, 1, out, log);
    outcome_t o1, o2;
    run_task(slot, &task, false, &o1);
    CHECK_MSG(o1.done == 1 && o1.pids[0] > 0, "before RELEASE: %d done", o1.done);
    CHECK(rm_slot_release(slot) == 0);
    run_task(slot, &task, false, &o2);
    CHECK_MSG(o2.end == RM_SLOT_TASK_DONE && o2.done == 1 && o2.pids[0] != o1.pids[0],
              "after RELEASE: %s, %d done, pid %d (was %d)", rm_slot_event_name(o2.end), o2.done,
              o2.pids[0], o1.pids[0]);
}

/*  (b) a scene or camera that is not in the file breaks the job. */
static void test_a_scene_not_in_the_file_fails_the_job(void)
{
    const uint64_t frames[] = {1};
    char out[256], log[256];
    outcome_t o;
    rm_render_task_t task = base_task(fx, "b000000000000001", "b", frames, 1, out, log);
    task.settings.scene = "Nope";
    run_task(slot, &task, false, &o);
    CHECK_MSG(o.end == RM_SLOT_TASK_FAILED && o.fatal, "bad scene: %s fatal %d",
              rm_slot_event_name(o.end), o.fatal);
    CHECK_MSG(strstr(o.end_reason, "Nope") && strstr(o.end_reason, "\"Scene\"") &&
                  strstr(o.end_reason, "\"Alt\""),
              "reason: %s", o.end_reason);
}

static void test_a_camera_not_in_the_file_fails_the_job(void)
{
    const uint64_t frames[] = {1};
    char out[256], log[256];
    outcome_t o;
    rm_render_task_t task = base_task(fx, "b000000000000002", "b", frames, 1, out, log);
    task.settings.scene = "";
    task.settings.camera = "Nope";
    run_task(slot, &task, false, &o);
    CHECK_MSG(o.end == RM_SLOT_TASK_FAILED && o.fatal, "bad camera: %s", rm_slot_event_name(o.end));
    CHECK_MSG(strstr(o.end_reason, "Nope") && strstr(o.end_reason, "\"Camera\"") &&
                  strstr(o.end_reason, "\"SideCam\""),
              "reason: %s", o.end_reason);
}

/*  (c) a file Blender cannot read is the job's fault, not a render of the
    default cube. */
static void test_a_file_blender_cannot_read_fails_the_job(void)
{
    const uint64_t frames[] = {1};
    char out[256], log[256];
    outcome_t o;
    rm_render_task_t task = base_task(fx, "c000000000000001", "c", frames, 1, out, log);
    task.blend = fx->corrupt;
    run_task(slot, &task, false, &o);
    CHECK_MSG(o.end == RM_SLOT_TASK_FAILED && o.fatal, "corrupt: %s fatal %d: %s",
              rm_slot_event_name(o.end), o.fatal, o.end_reason);
    CHECK_MSG(strstr(o.end_reason, "cannot read") && strstr(o.end_reason, fx->corrupt),
              "reason: %s", o.end_reason);
    printf("corrupt file: %s\n", o.end_reason);
}

/*  (d) a slow frame, and after it a frame of another job that renders. */
static rm_render_task_t slow_task(const char *job, char *out, char *log)
{
    static const uint64_t slow[] = {1};
    rm_render_task_t task = base_task(fx, job, "d", slow, 1, out, log);
    task.settings = (rm_render_settings_t){.samples = 4096, .res_x = 320, .res_y = 180};
    return task;
}

static void check_renders_on(const char *name)
{
    const uint64_t after[] = {6};
    char out[256], log[256];
    outcome_t o;
    rm_render_task_t task = base_task(fx, "a000000000000001", name, after, 1, out, log);
    run_task(slot, &task, false, &o);
    CHECK_MSG(o.end == RM_SLOT_TASK_DONE && o.done == 1, "after %s: %s, %d done", name,
              rm_slot_event_name(o.end), o.done);
}

/*  A frame over its timeout is killed; the slot renders on afterwards. */
static void test_a_frame_over_its_timeout_is_killed_and_the_slot_renders_on(void)
{
    char out[256], log[256];
    outcome_t o;
    rm_render_task_t task = slow_task("d000000000000001", out, log);
    task.frame_timeout_s = 1;
    run_task(slot, &task, false, &o);
    CHECK_MSG(o.end == RM_SLOT_TASK_DONE && o.failed == 1 && o.done == 0, "timeout: %s, %d failed",
              rm_slot_event_name(o.end), o.failed);
    CHECK_MSG(strstr(o.reasons[0], "timed out after 1 s"), "reason: %s", o.reasons[0]);
    printf("timeout: task ended after %" PRId64 " ms\n", o.ms);
    check_renders_on("d_after");
}

/*  PROGRESS while a slow frame renders; CANCEL at the first one ends the
    task; the slot renders on afterwards. */
static void test_cancel_at_the_first_progress_of_a_slow_frame_ends_the_task(void)
{
    char out[256], log[256];
    outcome_t o;
    rm_render_task_t task = slow_task("d000000000000002", out, log);
    run_task(slot, &task, true, &o);
    CHECK_MSG(o.end == RM_SLOT_TASK_CANCELED, "cancel: %s", rm_slot_event_name(o.end));
    CHECK_MSG(o.progress >= 1, "no PROGRESS during a slow frame");
    printf("cancel: first PROGRESS and cancel after %" PRId64 " ms\n", o.ms);
    check_renders_on("d_after_cancel");
}

/*  (e) Blender crashing before it is ready, and while rendering. */
static const uint64_t crash_frames[] = {1, 2};

static void test_blender_crashing_at_start_fails_the_task_not_the_job(void)
{
    char at_start[128];
    snprintf(at_start, sizeof at_start, "%s/crash_start.sh", fx->dir);
    write_script(at_start, "#!/bin/sh\necho 'fake blender: about to crash'\nkill -SEGV $$\n");
    char out[256], log[256];
    outcome_t o;
    rm_render_task_t task = base_task(fx, "e000000000000001", "e", crash_frames, 2, out, log);
    zactor_t *crashing = slot_with(at_start, 10);
    run_task(crashing, &task, false, &o);
    CHECK_MSG(o.end == RM_SLOT_TASK_FAILED && !o.fatal, "crash at start: %s fatal %d",
              rm_slot_event_name(o.end), o.fatal);
    CHECK_MSG(strstr(o.end_reason, "signal 11"), "reason: %s", o.end_reason);
    zactor_destroy(&crashing);
}

static void test_blender_crashing_mid_frame_fails_the_frames(void)
{
    char mid_frame[128];
    snprintf(mid_frame, sizeof mid_frame, "%s/crash_frame.sh", fx->dir);
    write_script(mid_frame, "#!/bin/sh\n"
                            "printf '{\"event\":\"ready\",\"pid\":%d}\\n' $$ >&3\n"
                            "read -r line\n"
                            "echo \"fake blender: got $line\"\n"
                            "kill -SEGV $$\n");
    char out[256], log[256];
    outcome_t o;
    rm_render_task_t task = base_task(fx, "e000000000000001", "e_mid", crash_frames, 2, out, log);
    zactor_t *crashing = slot_with(mid_frame, 10);
    run_task(crashing, &task, false, &o);
    CHECK_MSG(o.end == RM_SLOT_TASK_DONE && o.failed == 2, "crash mid-frame: %s, %d failed",
              rm_slot_event_name(o.end), o.failed);
    CHECK_MSG(strstr(o.reasons[0], "crashed with signal 11") && o.failed_frames[1] == 2,
              "reason: %s", o.reasons[0]);
    CHECK_MSG(file_contains(log, "fake blender: got {\"cmd\":\"render\",\"frame\":1"),
              "log %s lacks the fake's output", log);
    zactor_destroy(&crashing);
}

/*  (f) a driver that cannot serve: the task completes in one-shot mode. */
static const uint64_t fallback_frames[] = {7, 8};

static void test_a_driver_that_exits_falls_back_to_one_shot(void)
{
    char exits[128];
    snprintf(exits, sizeof exits, "%s/noserve_exit.sh", fx->dir);
    write_script(exits, "#!/bin/sh\nRM_DRIVER_FORCE_ONESHOT=1 exec " BLENDER " \"$@\"\n");
    char out[256], log[256];
    outcome_t o;
    rm_render_task_t task = base_task(fx, "f000000000000001", "f", fallback_frames, 2, out, log);
    zactor_t *noserve = slot_with(exits, 30);
    run_task(noserve, &task, false, &o);
    CHECK_MSG(o.end == RM_SLOT_TASK_DONE && o.oneshot && o.done == 2,
              "exit fallback: %s %d, %d done", rm_slot_event_name(o.end), o.oneshot, o.done);
    CHECK(is_png(o.files[1]));
    CHECK_MSG(file_contains(log, "falling back"), "log %s does not mention the fallback", log);
    printf("fallback after exit: %" PRId64 " ms for 2 frames\n", o.ms);
    zactor_destroy(&noserve);
}

/*  A slot (3 s startup timeout) whose driver hangs, and its first task of
    the job, that falls back after the timeout. */
static zactor_t *hang_fallback(rm_render_task_t *task, char *out, char *log, outcome_t *o)
{
    char hangs[128];
    snprintf(hangs, sizeof hangs, "%s/noserve_hang.sh", fx->dir);
    write_script(hangs, "#!/bin/sh\nRM_DRIVER_FORCE_ONESHOT=hang exec " BLENDER " \"$@\"\n");
    *task = base_task(fx, "f000000000000001", rm_test_case, fallback_frames, 2, out, log);
    zactor_t *hanging = slot_with(hangs, 3);
    run_task(hanging, task, false, o);
    return hanging;
}

static void test_a_driver_that_hangs_falls_back_after_the_startup_timeout(void)
{
    char out[256], log[256];
    rm_render_task_t task;
    outcome_t o;
    zactor_t *hanging = hang_fallback(&task, out, log, &o);
    CHECK_MSG(o.end == RM_SLOT_TASK_DONE && o.oneshot && o.done == 2,
              "hang fallback: %s %d, %d done", rm_slot_event_name(o.end), o.oneshot, o.done);
    CHECK_MSG(o.ms >= 3000, "fallback came before the startup timeout (%" PRId64 " ms)", o.ms);
    printf("fallback after hang: %" PRId64 " ms (3 s timeout)\n", o.ms);
    zactor_destroy(&hanging);
}

/*  The slot remembers: the job's next task goes straight to one-shot. */
static void test_a_job_that_fell_back_goes_straight_to_one_shot(void)
{
    char out[256], log[256];
    rm_render_task_t task;
    outcome_t o;
    zactor_t *hanging = hang_fallback(&task, out, log, &o);
    const uint64_t more[] = {9};
    char log2[256];
    snprintf(log2, sizeof log2, "%s/logs/f2.log", fx->dir);
    task.log_path = log2;
    task.frames = more;
    task.frame_count = 1;
    run_task(hanging, &task, false, &o);
    CHECK_MSG(o.end == RM_SLOT_TASK_DONE && o.oneshot && o.done == 1, "hang fallback again: %s",
              rm_slot_event_name(o.end));
    CHECK_MSG(file_contains(log2, "(one-shot)") && !file_contains(log2, "(persistent)"),
              "second task tried the serve mode again (%s)", log2);
    printf("next one-shot task %" PRId64 " ms\n", o.ms);
    zactor_destroy(&hanging);
}

static int setup(fixture_t *fx)
{
    const char *src = getenv("RM_SOURCE_DIR");
    if (!src) {
        fprintf(stderr, "RM_SOURCE_DIR is not set (ctest sets it)\n");
        return -1;
    }
    snprintf(fx->dir, sizeof fx->dir, "/tmp/rm_blender_XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->blend, sizeof fx->blend, "%s/scene.blend", fx->dir);
    snprintf(fx->corrupt, sizeof fx->corrupt, "%s/corrupt.blend", fx->dir);
    char *cmd =
        zsys_sprintf(BLENDER " -b --factory-startup --python %s/tools/make_sample_scene.py"
                             " -- %s --frames 24 --res 64x36 --samples 2 > %s/make.log 2>&1",
                     src, fx->blend, fx->dir);
    int64_t start = zclock_mono();
    int rc = system(cmd);
    zstr_free(&cmd);
    printf("sample scene made in %" PRId64 " ms\n", zclock_mono() - start);
    struct stat st;
    if (rc != 0 || stat(fx->blend, &st) != 0) {
        fprintf(stderr, "make_sample_scene.py failed (see %s/make.log)\n", fx->dir);
        return -1;
    }
    FILE *f = fopen(fx->corrupt, "wb");
    for (unsigned i = 0, x = 12345; f && i < 4096; i++) {
        x = x * 1103515245 + 12345;
        fputc((int)(x >> 16) & 0xff, f);
    }
    if (f)
        fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    zsys_init();
    zsys_set_logstream(NULL); /* keep slot notes out of the test output */
    if (setup(&fixture) != 0) {
        CHECK_MSG(false, "setup failed");
        RM_TEST_DONE();
    }
    int64_t start = zclock_mono();
    slot = slot_with(BLENDER, 60);
    CHECK(slot != NULL);
    RM_RUN(test_a_task_renders_each_frame_to_a_png);
    RM_RUN(test_the_next_task_of_a_job_reuses_its_blender);
    RM_RUN(test_release_ends_the_idle_blender);
    RM_RUN(test_a_scene_not_in_the_file_fails_the_job);
    RM_RUN(test_a_camera_not_in_the_file_fails_the_job);
    RM_RUN(test_a_file_blender_cannot_read_fails_the_job);
    RM_RUN(test_a_frame_over_its_timeout_is_killed_and_the_slot_renders_on);
    RM_RUN(test_cancel_at_the_first_progress_of_a_slow_frame_ends_the_task);
    zactor_destroy(&slot);
    RM_RUN(test_blender_crashing_at_start_fails_the_task_not_the_job);
    RM_RUN(test_blender_crashing_mid_frame_fails_the_frames);
    RM_RUN(test_a_driver_that_exits_falls_back_to_one_shot);
    RM_RUN(test_a_driver_that_hangs_falls_back_after_the_startup_timeout);
    RM_RUN(test_a_job_that_fell_back_goes_straight_to_one_shot);
    printf("all slot tests took %" PRId64 " ms\n", zclock_mono() - start);
    zdir_t *dir = zdir_new(fixture.dir, NULL);
    if (dir && !rm_test_failures)
        zdir_remove(dir, true);
    zdir_destroy(&dir);
    RM_TEST_DONE();
}
