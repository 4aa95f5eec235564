/*  Tests of making a task ready: the .blend checked, folders made, the log
    opened at its end, key and resolved output folder set. */
#include "rm_blender_task.h"
#include "rm_test.h"

#include <czmq.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void put_blend(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/*  A task whose paths are below dir; buffers hold them. */
typedef struct {
    char blend[128], out[128], log[128];
    uint64_t frame;
    rm_slot_task_t t;
} task_fx_t;

static void task_fx(task_fx_t *fx, const char *blend, const char *out, const char *log)
{
    memset(fx, 0, sizeof *fx);
    snprintf(fx->blend, sizeof fx->blend, "%s/%s", dir, blend);
    snprintf(fx->out, sizeof fx->out, "%s/%s", dir, out);
    snprintf(fx->log, sizeof fx->log, "%s/%s", dir, log);
    fx->frame = 1;
    fx->t = (rm_slot_task_t){.job_id = "j1",
                             .blend = fx->blend,
                             .project_dir = dir,
                             .out_dir = fx->out,
                             .log_path = fx->log,
                             .scene = "",
                             .camera = "",
                             .engine = "",
                             .device = "",
                             .format = "",
                             .source_root = "",
                             .frames = &fx->frame,
                             .frame_count = 1};
}

static void task_fx_free(task_fx_t *fx)
{
    free(fx->t.key);
    free(fx->t.real_out);
}

static void test_ready_task(void)
{
    task_fx_t fx;
    task_fx(&fx, "scene.blend", "out/a/b", "logs/x/task.log");
    put_blend(fx.blend, "BLENDER");
    rm_err_t err;
    int fd;
    uint64_t end;
    CHECK_MSG(rm_blender_task_prepare(&fx.t, &fd, &end, &err) == 0, "%s", err.msg);
    struct stat st;
    CHECK(stat(fx.out, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK(fd >= 0 && end == 0);
    CHECK(fx.t.key && strstr(fx.t.key, fx.blend));
    char *real = realpath(fx.out, NULL);
    CHECK(real && fx.t.real_out && streq(fx.t.real_out, real));
    free(real);
    CHECK(fd < 0 || write(fd, "line\n", 5) == 5);
    if (fd >= 0)
        close(fd);
    task_fx_free(&fx);

    /* The same log again: appended to, from its end. */
    task_fx(&fx, "scene.blend", "out/a/b", "logs/x/task.log");
    CHECK(rm_blender_task_prepare(&fx.t, &fd, &end, &err) == 0);
    CHECK(fd >= 0 && end == 5);
    if (fd >= 0)
        close(fd);
    task_fx_free(&fx);
}

static void test_blend_must_be_a_file(void)
{
    task_fx_t fx;
    rm_err_t err;
    int fd;
    uint64_t end;
    task_fx(&fx, "missing.blend", "out", "task.log");
    CHECK(rm_blender_task_prepare(&fx.t, &fd, &end, &err) == -1);
    CHECK_MSG(err.code == RM_ENOTFOUND && strstr(err.msg, "cannot open ") &&
                  strstr(err.msg, "missing.blend: No such file or directory"),
              "%s", err.msg);
    CHECK(fd == -1 && end == 0 && !fx.t.key);
    task_fx_free(&fx);

    task_fx(&fx, "", "out", "task.log"); /* the blend is dir itself */
    CHECK(rm_blender_task_prepare(&fx.t, &fd, &end, &err) == -1);
    CHECK_MSG(err.code == RM_EINVAL && strstr(err.msg, " is not a file"), "%s", err.msg);
    task_fx_free(&fx);
}

static void test_folders_that_cannot_be_made(void)
{
    task_fx_t fx;
    rm_err_t err;
    int fd;
    uint64_t end;
    task_fx(&fx, "scene.blend", "scene.blend/out", "task.log"); /* below a file */
    put_blend(fx.blend, "BLENDER");
    CHECK(rm_blender_task_prepare(&fx.t, &fd, &end, &err) == -1);
    CHECK_MSG(strstr(err.msg, "cannot create directory "), "%s", err.msg);
    CHECK(fd == -1);
    task_fx_free(&fx);

    task_fx(&fx, "scene.blend", "out", "scene.blend/logs/task.log");
    CHECK(rm_blender_task_prepare(&fx.t, &fd, &end, &err) == -1);
    CHECK_MSG(strstr(err.msg, "cannot create directory "), "%s", err.msg);
    CHECK(fd == -1);
    task_fx_free(&fx);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    snprintf(dir, sizeof dir, "/tmp/rm_task_XXXXXX");
    if (!mkdtemp(dir)) {
        CHECK_MSG(false, "no temp dir");
        RM_TEST_DONE();
    }
    RM_RUN(test_ready_task);
    RM_RUN(test_blend_must_be_a_file);
    RM_RUN(test_folders_that_cannot_be_made);
    zdir_t *d = zdir_new(dir, NULL);
    if (d)
        zdir_remove(d, true);
    zdir_destroy(&d);
    RM_TEST_DONE();
}
