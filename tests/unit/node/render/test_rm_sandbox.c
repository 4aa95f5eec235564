/*  Tests of the Blender sandbox: its command line (program resolved, only
    harmless environment passed), and, run for real with bwrap, what a
    program inside can read, write and reach.  A node home with a token,
    a project, an output and a temporary folder are made below a fresh
    root for each case.  Exits 77 (skipped) where bwrap cannot run. */
#include "rm_sandbox.h"
#include "rm_fs.h"
#include "rm_subprocess.h"
#include "rm_test.h"

#include <czmq.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET "token-secret-8c1f"

static char root[64], home[128], project[160], out[160], tmp[128], outside[128];

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    CHECK_MSG(f != NULL, "%s: %s", path, strerror(errno));
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    chmod(path, mode);
}

static bool exists(const char *dir, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/*  ROOT/home/{identity.token, projects/p/scene.txt, jobs/j/out},
    ROOT/tmp, ROOT/outside. */
static void fresh_root(void)
{
    snprintf(root, sizeof root, "/tmp/rm_sandbox_test_XXXXXX");
    CHECK(mkdtemp(root) != NULL);
    snprintf(home, sizeof home, "%s/home", root);
    snprintf(project, sizeof project, "%s/projects/p", home);
    snprintf(out, sizeof out, "%s/jobs/j/out", home);
    snprintf(tmp, sizeof tmp, "%s/tmp", root);
    snprintf(outside, sizeof outside, "%s/outside", root);
    rm_err_t err;
    CHECK(rm_fs_mkdir_p(project, 0700, 0700, &err) == 0);
    CHECK(rm_fs_mkdir_p(out, 0700, 0700, &err) == 0);
    CHECK(rm_fs_mkdir_p(tmp, 0700, 0700, &err) == 0);
    CHECK(rm_fs_mkdir_p(outside, 0700, 0700, &err) == 0);
    char path[256];
    snprintf(path, sizeof path, "%s/identity.token", home);
    write_file(path, SECRET "\n", 0600);
    snprintf(path, sizeof path, "%s/scene.txt", project);
    write_file(path, "the scene\n", 0644);
}

static void remove_root(void)
{
    rm_fs_remove_tree(root, NULL);
}

static rm_sandbox_paths_t task_paths(void)
{
    return (rm_sandbox_paths_t){
        .node_home = home, .project_dir = project, .out_dir = out, .tmp_dir = tmp};
}

/*  Runs argv in the sandbox; its output in buf; returns its exit status. */
static int run_in(const rm_sandbox_paths_t *paths, char *const *argv, char *buf, size_t size)
{
    rm_err_t err;
    rm_sandbox_t *sandbox = rm_sandbox_new(paths, argv, &err);
    CHECK_MSG(sandbox != NULL, "%s", err.msg);
    if (!sandbox)
        return -1;
    int status = -1;
    CHECK_MSG(rm_subprocess_capture(rm_sandbox_argv(sandbox), 20000, buf, size, &status, &err) == 0,
              "%s", err.msg);
    rm_sandbox_destroy(&sandbox);
    return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool argv_has(char **argv, const char *a, const char *b)
{
    for (size_t i = 0; argv[i]; i++)
        if (strcmp(argv[i], a) == 0 && (!b || (argv[i + 1] && strcmp(argv[i + 1], b) == 0)))
            return true;
    return false;
}

static void test_environment_passes_only_harmless_names(void)
{
    fresh_root();
    setenv("AWS_SECRET_ACCESS_KEY", "aws-" SECRET, 1);
    setenv("BLENDER_USER_SCRIPTS", "/studio/scripts", 1);
    setenv("LC_ALL", "C.UTF-8", 1);
    rm_sandbox_paths_t paths = task_paths();
    char *const argv[] = {"sh", "-c", "true", NULL};
    rm_err_t err;
    rm_sandbox_t *sandbox = rm_sandbox_new(&paths, argv, &err);
    CHECK_MSG(sandbox != NULL, "%s", err.msg);
    if (sandbox) {
        char **a = rm_sandbox_argv(sandbox);
        CHECK(argv_has(a, "--clearenv", NULL));
        CHECK(argv_has(a, "--unshare-all", NULL));
        CHECK(argv_has(a, "BLENDER_USER_SCRIPTS", "/studio/scripts"));
        CHECK(argv_has(a, "LC_ALL", "C.UTF-8"));
        CHECK(argv_has(a, "TMPDIR", tmp));
        CHECK(argv_has(a, "HOME", tmp));
        for (size_t i = 0; a[i]; i++)
            CHECK_MSG(!strstr(a[i], SECRET), "argument %zu: %s", i, a[i]);
        /* The program is found on PATH and named by its real location. */
        char real[4096];
        CHECK(realpath("/usr/bin/sh", real) != NULL);
        CHECK(argv_has(a, "--", real));
        char buf[4096];
        char *const env_argv[] = {"sh", "-c", "env", NULL};
        CHECK(run_in(&paths, env_argv, buf, sizeof buf) == 0);
        CHECK_MSG(!strstr(buf, SECRET) && strstr(buf, "BLENDER_USER_SCRIPTS=/studio/scripts"), "%s",
                  buf);
    }
    rm_sandbox_destroy(&sandbox);
    unsetenv("AWS_SECRET_ACCESS_KEY");
    remove_root();
}

static void test_missing_program_is_named(void)
{
    fresh_root();
    rm_sandbox_paths_t paths = task_paths();
    char *const argv[] = {"no-such-blender-x1", NULL};
    rm_err_t err;
    rm_sandbox_t *sandbox = rm_sandbox_new(&paths, argv, &err);
    CHECK(sandbox == NULL);
    CHECK_MSG(strstr(err.msg, "no-such-blender-x1 not found"), "%s", err.msg);
    rm_sandbox_destroy(&sandbox);
    remove_root();
}

static void test_reads_its_project_but_not_the_node_home(void)
{
    fresh_root();
    rm_sandbox_paths_t paths = task_paths();
    char script[512];
    snprintf(script, sizeof script,
             "cat scene.txt; cat %s/identity.token || echo token-unreadable; "
             "ls %s/projects; ls /root /var/lib 2>&1 | head -3",
             home, home);
    char *const argv[] = {"sh", "-c", script, NULL};
    char buf[4096];
    run_in(&paths, argv, buf, sizeof buf);
    CHECK_MSG(strstr(buf, "the scene") && strstr(buf, "token-unreadable") && !strstr(buf, SECRET),
              "%s", buf);
    remove_root();
}

static void test_home_stays_hidden_below_a_bound_folder(void)
{
    fresh_root();
    /* Blender's folder holds the node home: the folder is bound, the home
       is still covered. */
    char program[256];
    snprintf(program, sizeof program, "%s/show", root);
    write_file(program, "#!/bin/sh\ncat \"$1\" || echo token-unreadable\n", 0755);
    char token[256];
    snprintf(token, sizeof token, "%s/identity.token", home);
    rm_sandbox_paths_t paths = task_paths();
    char *const argv[] = {program, token, NULL};
    char buf[4096];
    run_in(&paths, argv, buf, sizeof buf);
    CHECK_MSG(strstr(buf, "token-unreadable") && !strstr(buf, SECRET), "%s", buf);
    remove_root();
}

static void test_writes_only_its_output_and_temp_folders(void)
{
    fresh_root();
    rm_sandbox_paths_t paths = task_paths();
    char script[1024];
    snprintf(script, sizeof script,
             "echo x > %s/image.png; echo x > %s/blender_tmp; echo x > %s/escaped; "
             "echo x > escaped; echo x > %s/escaped; echo x > /tmp/rm_sandbox_escaped; true",
             out, tmp, outside, home);
    char *const argv[] = {"sh", "-c", script, NULL};
    char buf[4096];
    run_in(&paths, argv, buf, sizeof buf);
    CHECK(exists(out, "image.png"));
    CHECK(exists(tmp, "blender_tmp"));
    CHECK(!exists(outside, "escaped"));
    CHECK(!exists(project, "escaped"));
    CHECK(!exists(home, "escaped"));
    CHECK(!exists("/tmp", "rm_sandbox_escaped"));
    unlink("/tmp/rm_sandbox_escaped");
    remove_root();
}

static void test_no_network(void)
{
    fresh_root();
    int port = rm_test_ports(1);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 4) == 0);
    char code[256];
    snprintf(code, sizeof code,
             "import socket\ntry:\n socket.create_connection(('127.0.0.1', %d), 2)\n "
             "print('connected')\nexcept OSError as e:\n print('refused', e)",
             port);
    rm_sandbox_paths_t paths = task_paths();
    char *const argv[] = {"/usr/bin/python3", "-c", code, NULL};
    char buf[4096];
    run_in(&paths, argv, buf, sizeof buf);
    CHECK_MSG(strstr(buf, "refused") && !strstr(buf, "connected"), "%s", buf);
    CHECK(accept(fd, NULL, NULL) < 0); /* nothing reached the host's listener */
    close(fd);
    remove_root();
}

static void test_probe_runs_the_program(void)
{
    rm_err_t err;
    CHECK_MSG(rm_sandbox_probe("/usr/bin/python3", NULL, &err) == 0, "%s", err.msg);
    CHECK(rm_sandbox_probe("false", NULL, &err) != 0);
    CHECK_MSG(strstr(err.msg, "exited with status 1"), "%s", err.msg);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    rm_err_t err;
    if (rm_sandbox_probe("true", NULL, &err) != 0) {
        printf("skipped: bwrap cannot run here: %s\n", err.msg);
        return 77;
    }
    RM_RUN(test_environment_passes_only_harmless_names);
    RM_RUN(test_missing_program_is_named);
    RM_RUN(test_reads_its_project_but_not_the_node_home);
    RM_RUN(test_home_stays_hidden_below_a_bound_folder);
    RM_RUN(test_writes_only_its_output_and_temp_folders);
    RM_RUN(test_no_network);
    RM_RUN(test_probe_runs_the_program);
    RM_TEST_DONE();
}
