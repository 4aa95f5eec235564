/*  Tests of probing Blender, with fake Blenders (shell scripts) for each
    answer, and the real one (/usr/bin/blender) when it is installed. */
#include "rm_blender_probe.h"
#include "rm_test.h"

#include <czmq.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLENDER "/usr/bin/blender"

static char dir[64];

/*  A fake Blender running script; its path in path. */
static void fake(char *path, size_t size, const char *name, const char *script)
{
    snprintf(path, size, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "#!/bin/sh\n%s\n", script);
        fclose(f);
    }
    chmod(path, 0755);
}

static void test_version(void)
{
    char path[128], version[64];
    rm_err_t err;
    fake(path, sizeof path, "good.sh",
         "echo 'Read prefs: x'; echo 'Blender 3.4.1 (hash 55485cb379f7)'; echo '\tbuild date'");
    CHECK_MSG(rm_blender_probe_version(path, version, sizeof version, &err) == 0, "%s", err.msg);
    CHECK_MSG(streq(version, "Blender 3.4.1 (hash 55485cb379f7)"), "%s", version);
}

static void test_version_failures(void)
{
    char path[128], version[64];
    rm_err_t err;
    CHECK(rm_blender_probe_version("/nonexistent/blender", version, sizeof version, &err) == -1);
    CHECK_MSG(err.code == RM_EBLENDER &&
                  streq(err.msg, "blender not found at /nonexistent/blender"),
              "%s", err.msg);
    CHECK(rm_blender_probe_version("no-such-blender-rm", version, sizeof version, &err) == -1);
    CHECK_MSG(streq(err.msg, "blender not found at no-such-blender-rm"), "%s", err.msg);
    fake(path, sizeof path, "broken.sh", "echo 'cannot open libfoo.so' >&2\nexit 1");
    CHECK(rm_blender_probe_version(path, version, sizeof version, &err) == -1);
    CHECK_MSG(strstr(err.msg, "failed: Blender exited with status 1: cannot open libfoo.so"), "%s",
              err.msg);
    fake(path, sizeof path, "mute.sh", "echo 'hello'");
    CHECK(rm_blender_probe_version(path, version, sizeof version, &err) == -1);
    CHECK_MSG(strstr(err.msg, "failed: no version printed: hello"), "%s", err.msg);
}

static void test_caps(void)
{
    char path[128], caps[64];
    rm_err_t err;
    fake(path, sizeof path, "caps.sh", "echo 'Blender 3.4.1'; echo 'RM_CAPS denoise'");
    CHECK_MSG(rm_blender_probe_caps(path, caps, sizeof caps, &err) == 0, "%s", err.msg);
    CHECK_MSG(streq(caps, "denoise"), "%s", caps);
    fake(path, sizeof path, "nocaps.sh", "echo 'RM_CAPS '");
    CHECK(rm_blender_probe_caps(path, caps, sizeof caps, &err) == 0 && streq(caps, ""));
    fake(path, sizeof path, "silent.sh", "echo 'Error: no module named _cycles'");
    CHECK(rm_blender_probe_caps(path, caps, sizeof caps, &err) == -1);
    CHECK_MSG(strstr(err.msg, "did not say what it can do") && !strstr(err.msg, "in time"), "%s",
              err.msg);
}

static void test_real_blender(void)
{
    char version[64], caps[64];
    rm_err_t err;
    if (access(BLENDER, X_OK) != 0) {
        printf("no %s: real Blender not probed\n", BLENDER);
        return;
    }
    CHECK_MSG(rm_blender_probe_version(BLENDER, version, sizeof version, &err) == 0, "%s", err.msg);
    CHECK_MSG(strncmp(version, "Blender ", 8) == 0, "version %s", version);
    CHECK_MSG(rm_blender_probe_caps(BLENDER, caps, sizeof caps, &err) == 0, "%s", err.msg);
    printf("probe: %s, caps \"%s\"\n", version, caps);
}

static void test_driver_is_found(void)
{
    char path[4096];
    rm_err_t err;
    CHECK_MSG(rm_blender_probe_driver(path, sizeof path, &err) == 0, "%s", err.msg);
    const char *base = strrchr(path, '/');
    CHECK_MSG(base && streq(base, "/blender_driver.py") && access(path, R_OK) == 0, "%s", path);
    char tiny[4];
    CHECK(rm_blender_probe_driver(tiny, sizeof tiny, &err) == -1 && err.code == RM_ENOTFOUND);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    snprintf(dir, sizeof dir, "/tmp/rm_probe_XXXXXX");
    if (!mkdtemp(dir)) {
        CHECK_MSG(false, "no temp dir");
        RM_TEST_DONE();
    }
    RM_RUN(test_version);
    RM_RUN(test_version_failures);
    RM_RUN(test_caps);
    RM_RUN(test_real_blender);
    RM_RUN(test_driver_is_found);
    zdir_t *d = zdir_new(dir, NULL);
    if (d)
        zdir_remove(d, true);
    zdir_destroy(&d);
    RM_TEST_DONE();
}
