/*  rm_sandbox: bwrap's command line for one Blender, and the start-up probe. */
#include "rm_sandbox.h"

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rm_subprocess.h"

extern char **environ;

#define PROBE_TIMEOUT_MS 10000

struct _rm_sandbox_t {
    char **argv;
    size_t argc, cap;
    bool failed; /* out of memory */
};

static void add_arg(rm_sandbox_t *self, const char *value)
{
    if (self->failed)
        return;
    if (self->argc + 2 > self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 64;
        char **grown = realloc(self->argv, cap * sizeof *grown);
        if (!grown) {
            self->failed = true;
            return;
        }
        self->argv = grown;
        self->cap = cap;
    }
    char *copy = strdup(value);
    if (!copy) {
        self->failed = true;
        return;
    }
    self->argv[self->argc++] = copy;
    self->argv[self->argc] = NULL;
}

static void add3(rm_sandbox_t *self, const char *option, const char *a, const char *b)
{
    add_arg(self, option);
    add_arg(self, a);
    add_arg(self, b);
}

static bool is_given(const char *path)
{
    return path && *path;
}

/*  True if path is dir or below it. */
static bool is_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/' || n == 1);
}

/*  path made absolute against our working directory, symlinks kept: the
    task's paths must exist in the sandbox as the slot spells them; "" for
    none. */
static void absolute(const char *path, char out[PATH_MAX])
{
    char cwd[PATH_MAX];
    if (!is_given(path))
        *out = '\0';
    else if (*path == '/' || !getcwd(cwd, sizeof cwd))
        snprintf(out, PATH_MAX, "%s", path);
    else if (snprintf(out, PATH_MAX, "%s/%s", cwd, path) >= PATH_MAX)
        snprintf(out, PATH_MAX, "%s", path);
}

/*  Finds name as execvp would (PATH, else the default path) and resolves
    symlinks: the folder bound must be the one the program really lives
    in, where Blender finds its own files. */
static int resolve_program(const char *name, char *out, rm_err_t *err)
{
    if (strchr(name, '/')) {
        if (!realpath(name, out))
            return rm_err_set(err, RM_EBLENDER, "%s: %s", name, strerror(errno));
        return 0;
    }
    const char *path = getenv("PATH");
    char *dirs = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
    if (!dirs)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    int rc = rm_err_set(err, RM_EBLENDER, "%s not found on PATH", name);
    char *save = NULL;
    for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char candidate[PATH_MAX];
        if (snprintf(candidate, sizeof candidate, "%s/%s", *dir ? dir : ".", name) >=
            (int)sizeof candidate)
            continue;
        if (access(candidate, X_OK) == 0 && realpath(candidate, out)) {
            rc = 0;
            break;
        }
    }
    free(dirs);
    return rc;
}

/*  The system: /usr (Debian's /bin, /lib.. are links into it), the /etc
    files that the loader, fonts, users and time need, /sys for CPU and GPU
    discovery, and GPUs' device nodes. */
static void add_system(rm_sandbox_t *self)
{
    add3(self, "--ro-bind", "/usr", "/usr");
    const char *merged[] = {"bin", "sbin", "lib", "lib32", "lib64", "libx32"};
    for (size_t i = 0; i < sizeof merged / sizeof *merged; i++) {
        char root_path[16], target[32], link[PATH_MAX];
        snprintf(root_path, sizeof root_path, "/%s", merged[i]);
        ssize_t n = readlink(root_path, link, sizeof link - 1);
        if (n > 0) {
            link[n] = '\0';
            add3(self, "--symlink", link, root_path);
        } else {
            snprintf(target, sizeof target, "/%s", merged[i]);
            add3(self, "--ro-bind-try", target, target);
        }
    }
    const char *etc[] = {"/etc/ld.so.cache",  "/etc/ld.so.conf", "/etc/ld.so.conf.d",
                         "/etc/alternatives", "/etc/fonts",      "/etc/localtime",
                         "/etc/passwd",       "/etc/group",      "/etc/nsswitch.conf",
                         "/etc/OpenCL",       "/etc/glvnd",      "/etc/vulkan"};
    for (size_t i = 0; i < sizeof etc / sizeof *etc; i++)
        add3(self, "--ro-bind-try", etc[i], etc[i]);
    add3(self, "--ro-bind-try", "/sys", "/sys");
    add_arg(self, "--proc");
    add_arg(self, "/proc");
    add_arg(self, "--dev");
    add_arg(self, "/dev");
    glob_t g;
    if (glob("/dev/nvidia*", 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++)
            add3(self, "--dev-bind-try", g.gl_pathv[i], g.gl_pathv[i]);
    }
    globfree(&g);
    add3(self, "--dev-bind-try", "/dev/dri", "/dev/dri");
}

/*  Names whose values carry no secrets and that change what Blender
    renders or where it finds things. */
static bool env_passes(const char *entry)
{
    const char *exact[] = {"PATH=", "LANG=", "LANGUAGE=", "TZ=", "OCIO=", "TMPDIR="};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        if (strncmp(entry, exact[i], strlen(exact[i])) == 0)
            return true;
    const char *prefix[] = {"LC_", "BLENDER_", "CYCLES_", "RM_FAKE_", "RM_DRIVER_"};
    for (size_t i = 0; i < sizeof prefix / sizeof *prefix; i++)
        if (strncmp(entry, prefix[i], strlen(prefix[i])) == 0 && strchr(entry, '='))
            return true;
    return false;
}

static void add_env(rm_sandbox_t *self, const char *tmp_dir)
{
    add_arg(self, "--clearenv");
    for (char **e = environ; *e; e++) {
        if (!env_passes(*e))
            continue;
        const char *eq = strchr(*e, '=');
        char name[256];
        size_t n = (size_t)(eq - *e);
        if (n >= sizeof name || (is_given(tmp_dir) && strncmp(*e, "TMPDIR=", 7) == 0))
            continue;
        memcpy(name, *e, n);
        name[n] = '\0';
        add3(self, "--setenv", name, eq + 1);
    }
    /* The driver's parent is the sandbox's pid 1, not a sign of a dead node. */
    add3(self, "--setenv", "RM_SANDBOXED", "1");
    if (is_given(tmp_dir)) {
        add3(self, "--setenv", "TMPDIR", tmp_dir);
        add3(self, "--setenv", "HOME", tmp_dir);
    }
    /* An OCIO config chosen by the operator changes the picture: bind it. */
    const char *ocio = getenv("OCIO");
    char real[PATH_MAX];
    if (ocio && *ocio == '/' && realpath(ocio, real)) {
        char *slash = strrchr(real, '/');
        if (slash && slash != real)
            *slash = '\0';
        add3(self, "--ro-bind-try", real, real);
    }
}

rm_sandbox_t *rm_sandbox_new(const rm_sandbox_paths_t *paths, char *const *argv, rm_err_t *err)
{
    char program[PATH_MAX], program_dir[PATH_MAX], driver[PATH_MAX];
    if (resolve_program(argv[0], program, err) != 0)
        return NULL;
    snprintf(program_dir, sizeof program_dir, "%s", program);
    *strrchr(program_dir, '/') = '\0';
    if (is_given(paths->driver) && !realpath(paths->driver, driver)) {
        rm_err_set(err, RM_EBLENDER, "%s: %s", paths->driver, strerror(errno));
        return NULL;
    }
    char bwrap[PATH_MAX];
    if (resolve_program("bwrap", bwrap, err) != 0) {
        rm_err_set(err, RM_EBLENDER, "bwrap not found on PATH (Debian package bubblewrap)");
        return NULL;
    }
    rm_sandbox_t *self = calloc(1, sizeof *self);
    if (!self) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    add_arg(self, bwrap);
    /* Every namespace: no network, no view of the node's processes. */
    add_arg(self, "--unshare-all");
    add_arg(self, "--die-with-parent");
    add_arg(self, "--new-session");
    add_system(self);
    /* Blender finds its own files beside it; a program in / gets only itself. */
    if (!*program_dir)
        add3(self, "--ro-bind", program, program);
    else if (!is_under(program_dir, "/usr"))
        add3(self, "--ro-bind", program_dir, program_dir);
    if (is_given(paths->driver))
        add3(self, "--ro-bind", driver, driver);
    char home[PATH_MAX], home_real[PATH_MAX], project[PATH_MAX], out[PATH_MAX], tmp[PATH_MAX];
    absolute(paths->node_home, home);
    absolute(paths->project_dir, project);
    absolute(paths->out_dir, out);
    absolute(paths->tmp_dir, tmp);
    if (*home) {
        add_arg(self, "--tmpfs");
        add_arg(self, home);
        if (realpath(home, home_real) && strcmp(home_real, home) != 0) {
            add_arg(self, "--tmpfs");
            add_arg(self, home_real);
        }
    }
    if (*project)
        add3(self, "--ro-bind", project, project);
    if (*out)
        add3(self, "--bind", out, out);
    if (*tmp)
        add3(self, "--bind", tmp, tmp);
    add_env(self, tmp);
    add_arg(self, "--chdir");
    add_arg(self, *project ? project : "/");
    add_arg(self, "--");
    add_arg(self, program);
    for (size_t i = 1; argv[i]; i++)
        add_arg(self, argv[i]);
    if (self->failed) {
        rm_sandbox_destroy(&self);
        rm_err_set(err, RM_ENOMEM, "out of memory");
    }
    return self;
}

void rm_sandbox_destroy(rm_sandbox_t **self_p)
{
    rm_sandbox_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->argc; i++)
        free(self->argv[i]);
    free(self->argv);
    free(self);
    *self_p = NULL;
}

char **rm_sandbox_argv(const rm_sandbox_t *self)
{
    return self->argv;
}

int rm_sandbox_probe(const char *program, const char *node_home, rm_err_t *err)
{
    char *const argv[] = {(char *)program, "--version", NULL};
    rm_sandbox_paths_t paths = {.node_home = node_home};
    rm_sandbox_t *sandbox = rm_sandbox_new(&paths, argv, err);
    if (!sandbox)
        return -1;
    char out[2048];
    int status;
    int rc = rm_subprocess_capture(rm_sandbox_argv(sandbox), PROBE_TIMEOUT_MS, out, sizeof out,
                                   &status, err);
    rm_sandbox_destroy(&sandbox);
    if (rc != 0)
        return rm_err_prefix(err, "bwrap: ");
    if (status == -1)
        return rm_err_set(err, RM_EBLENDER, "%s --version in bwrap took over %d s", program,
                          PROBE_TIMEOUT_MS / 1000);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        /* bwrap's own complaint is its first line: "bwrap: ...". */
        char *nl = strchr(out, '\n');
        if (nl)
            *nl = '\0';
        char what[128];
        rm_subprocess_describe(status, "bwrap", what, sizeof what);
        return rm_err_set(err, RM_EBLENDER, "%s: %s", what, *out ? out : "(no output)");
    }
    return 0;
}
