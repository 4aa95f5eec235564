/*  Tests of what the slot tells Blender: the command line, the driver's
    settings and render command, and the key of a loaded Blender. */
#include "rm_blender_args.h"
#include "rm_test.h"

#include <czmq.h>

/*  A task as rm_slot_task_decode leaves it (strings not owned here). */
static rm_slot_task_t sample_task(uint64_t *frames, size_t count)
{
    return (rm_slot_task_t){.job_id = "j1",
                            .blend = "/p/scene.blend",
                            .project_dir = "/p",
                            .out_dir = "/o",
                            .log_path = "/l/task.log",
                            .scene = "",
                            .camera = "Cam \"A\"",
                            .engine = "CYCLES",
                            .device = "",
                            .format = "PNG",
                            .source_root = "/studio",
                            .samples = 16,
                            .res_x = 64,
                            .res_y = 36,
                            .gpu = 2,
                            .frames = frames,
                            .frame_count = count};
}

/*  argv joined with spaces. */
static char *joined(rm_blender_args_t *args)
{
    char **argv = rm_blender_args_argv(args);
    char *line = strdup("");
    for (int i = 0; argv[i] && line; i++) {
        char *next = zsys_sprintf("%s%s%s", line, i ? " " : "", argv[i]);
        free(line);
        line = next;
    }
    return line;
}

#define SETTINGS                                                                                   \
    "{\"scene\":\"\",\"camera\":\"Cam \\\"A\\\"\",\"engine\":\"CYCLES\",\"device\":\"\","          \
    "\"format\":\"PNG\",\"source_root\":\"/studio\",\"samples\":16,\"percent\":0,\"res_x\":64,"    \
    "\"res_y\":36,\"gpu_index\":1,\"no_denoise\":false"

static void test_settings_as_json(void)
{
    uint64_t frames[] = {1};
    rm_slot_task_t t = sample_task(frames, 1);
    char *with = rm_blender_args_settings(&t, true);
    char *without = rm_blender_args_settings(&t, false);
    CHECK_MSG(with && streq(with, SETTINGS ",\"out_dir\":\"/o\"}"), "%s", with);
    CHECK_MSG(without && streq(without, SETTINGS "}"), "%s", without);
    free(with);
    free(without);
}

/*  Strings are escaped as JSON; one that is not UTF-8 cannot be carried. */
static void test_settings_escaped(void)
{
    uint64_t frames[] = {1};
    rm_slot_task_t t = sample_task(frames, 1);
    t.camera = "a\\b/\n\x01\xc3\xa9";
    char *json = rm_blender_args_settings(&t, false);
    CHECK_MSG(json && strstr(json, "\"camera\":\"a\\\\b/\\n\\u0001\xc3\xa9\","), "%s", json);
    free(json);
    t.source_root = "/studio/\xff";
    CHECK(rm_blender_args_settings(&t, false) == NULL);
    CHECK(rm_blender_args_render(1, "/o/\xff") == NULL);
}

static void test_serve_command_line(void)
{
    uint64_t frames[] = {1, 2};
    rm_slot_task_t t = sample_task(frames, 2);
    rm_blender_args_t *args = rm_blender_args_new("blender", "/d/driver.py", 0, &t, false, 0);
    CHECK(args != NULL);
    char *line = args ? joined(args) : NULL;
    CHECK_MSG(line && streq(line, "blender -b --factory-startup --disable-autoexec /p/scene.blend"
                                  " --python-exit-code 2 --python /d/driver.py -- --result-fd 3"
                                  " --blend /p/scene.blend --settings " SETTINGS
                                  ",\"out_dir\":\"/o\"} --serve"),
              "%s", line);
    free(line);
    rm_blender_args_destroy(&args);
    CHECK(args == NULL);
}

static void test_threads_and_scripts(void)
{
    uint64_t frames[] = {1};
    rm_slot_task_t t = sample_task(frames, 1);
    t.allow_scripts = 1;
    rm_blender_args_t *args = rm_blender_args_new("blender", "d.py", 4, &t, false, 0);
    char *line = args ? joined(args) : NULL;
    CHECK_MSG(line && strstr(line, "--factory-startup -t 4 --enable-autoexec /p/scene.blend"), "%s",
              line);
    free(line);
    rm_blender_args_destroy(&args);
}

/*  One-shot: --frames carries at most RM_BLENDER_ARGS_ONESHOT_MAX frames
    from `first`. */
static void test_oneshot_batches(void)
{
    size_t count = RM_BLENDER_ARGS_ONESHOT_MAX + 500;
    uint64_t *frames = calloc(count, sizeof *frames);
    for (size_t i = 0; i < count; i++)
        frames[i] = i + 1;
    rm_slot_task_t t = sample_task(frames, count);
    rm_blender_args_t *args = rm_blender_args_new("blender", "d.py", 0, &t, true, 2);
    CHECK(args && rm_blender_args_end(args) == RM_BLENDER_ARGS_ONESHOT_MAX + 2);
    char **argv = args ? rm_blender_args_argv(args) : NULL;
    int n = 0;
    while (argv && argv[n])
        n++;
    CHECK(n >= 2 && streq(argv[n - 2], "--frames"));
    CHECK(n >= 2 && strncmp(argv[n - 1], "3,4,5,", 6) == 0);
    const char *last = n >= 2 ? strrchr(argv[n - 1], ',') : NULL;
    CHECK_MSG(last && streq(last, ",1002"), "the batch ends at %s", last);
    rm_blender_args_destroy(&args);

    args = rm_blender_args_new("blender", "d.py", 0, &t, true, RM_BLENDER_ARGS_ONESHOT_MAX + 498);
    char *line = args ? joined(args) : NULL;
    CHECK(args && rm_blender_args_end(args) == count);
    CHECK_MSG(line && strstr(line, "} --frames 1499,1500") && !strstr(line, "--serve"), "%s", line);
    free(line);
    rm_blender_args_destroy(&args);
    free(frames);
}

static void test_render_command(void)
{
    char *cmd = rm_blender_args_render(12, "/o/a \"b\"");
    CHECK_MSG(cmd &&
                  streq(cmd, "{\"cmd\":\"render\",\"frame\":12,\"out_dir\":\"/o/a \\\"b\\\"\"}\n"),
              "%s", cmd);
    free(cmd);
}

/*  The key changes with what a loaded Blender holds, not with out_dir. */
static void test_key(void)
{
    uint64_t frames[] = {1};
    rm_slot_task_t t = sample_task(frames, 1);
    struct stat st = {.st_dev = 1, .st_ino = 2, .st_size = 3};
    char *key = rm_blender_args_key(&t, &st);
    CHECK(key && strstr(key, "j1\n/p/scene.blend\n1:2:0.000000000:3\n/p\n0\n{"));
    t.out_dir = "/elsewhere";
    char *same = rm_blender_args_key(&t, &st);
    CHECK(key && same && streq(key, same));
    t.samples = 17;
    char *other = rm_blender_args_key(&t, &st);
    CHECK(key && other && !streq(key, other));
    t.samples = 16;
    st.st_mtim.tv_nsec = 1; /* the .blend was uploaded again */
    char *newer = rm_blender_args_key(&t, &st);
    CHECK(key && newer && !streq(key, newer));
    free(key);
    free(same);
    free(other);
    free(newer);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_settings_as_json);
    RM_RUN(test_settings_escaped);
    RM_RUN(test_serve_command_line);
    RM_RUN(test_threads_and_scripts);
    RM_RUN(test_oneshot_batches);
    RM_RUN(test_render_command);
    RM_RUN(test_key);
    RM_TEST_DONE();
}
