/*  rm_cli: option parsing and configuration (see rm_cli.h).
    Values, exit codes and formatting are in rm_cli_util.c. */
#include "rm_cli.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <czmq.h>

#include "rm_fs.h"

const rm_opt_spec_t rm_cli_global_opts[] = {
    {"mesh", true, false},
    {"home", true, false},
    {"help", false, false},
    {NULL, false, false},
};

typedef struct {
    const rm_opt_spec_t *spec;
    const char *value;
} rm_opt_value_t;

struct _rm_args_t {
    rm_opt_value_t *opts;
    size_t nopts;
    const char **pos;
    size_t npos;
};

/*  A flag whose value is optional ("wait?": --wait or --wait=60). */
static bool optional_value(const rm_opt_spec_t *spec)
{
    size_t n = strlen(spec->name);
    return !spec->has_arg && n > 0 && spec->name[n - 1] == '?';
}

/*  The option's name as typed: without the "?" of an optional value. */
static size_t name_len(const rm_opt_spec_t *spec)
{
    return strlen(spec->name) - (optional_value(spec) ? 1 : 0);
}

static bool spec_is(const rm_opt_spec_t *spec, const char *name, size_t len)
{
    return name_len(spec) == len && strncmp(spec->name, name, len) == 0;
}

static const rm_opt_spec_t *find_spec(const rm_opt_spec_t *specs, const char *name, size_t len)
{
    for (const rm_opt_spec_t *s = specs; s && s->name; s++)
        if (spec_is(s, name, len))
            return s;
    for (const rm_opt_spec_t *s = rm_cli_global_opts; s->name; s++)
        if (spec_is(s, name, len))
            return s;
    return NULL;
}

/*  Handles argv[*i], an option; advances *i past its value. */
static int parse_option(rm_args_t *self, int argc, char *const *argv, int *i,
                        const rm_opt_spec_t *specs, rm_err_t *err)
{
    const char *arg = argv[*i];
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    if (strcmp(arg, "-h") == 0) {
        name = "help";
        len = 4;
    } else if (arg[1] != '-' || len == 0) {
        return rm_err_set(err, RM_EINVAL, "unknown option '%s'", arg);
    }
    const rm_opt_spec_t *spec = find_spec(specs, name, len);
    if (!spec)
        return rm_err_set(err, RM_EINVAL, "unknown option '--%.*s'", (int)len, name);
    const char *value = "";
    int shown = (int)name_len(spec); /* the name without an optional value's "?" */
    if ((spec->has_arg || optional_value(spec)) && eq) {
        value = eq + 1;
    } else if (spec->has_arg) {
        if (*i + 1 >= argc)
            return rm_err_set(err, RM_EINVAL, "option --%s needs a value", spec->name);
        value = argv[++*i];
    } else if (eq) {
        return rm_err_set(err, RM_EINVAL, "option --%s takes no value", spec->name);
    }
    for (size_t k = 0; !spec->repeat && k < self->nopts; k++)
        if (self->opts[k].spec == spec)
            return rm_err_set(err, RM_EINVAL, "option --%.*s given more than once", shown,
                              spec->name);
    self->opts[self->nopts].spec = spec;
    self->opts[self->nopts].value = value;
    self->nopts++;
    return 0;
}

rm_args_t *rm_args_parse(int argc, char *const *argv, const rm_opt_spec_t *specs, rm_err_t *err)
{
    rm_args_t *self = calloc(1, sizeof *self);
    size_t cap = argc > 0 ? (size_t)argc : 1;
    if (self) {
        self->opts = calloc(cap, sizeof *self->opts);
        self->pos = calloc(cap, sizeof *self->pos);
    }
    if (!self || !self->opts || !self->pos) {
        rm_args_destroy(&self);
        rm_err_set(err, RM_ENOMEM, "out of memory parsing the command line");
        return NULL;
    }
    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = true;
        } else if (!options_done && arg[0] == '-' && arg[1] != '\0') {
            if (parse_option(self, argc, argv, &i, specs, err) != 0) {
                rm_args_destroy(&self);
                return NULL;
            }
        } else {
            self->pos[self->npos++] = arg;
        }
    }
    return self;
}

void rm_args_destroy(rm_args_t **self_p)
{
    if (self_p && *self_p) {
        free((*self_p)->opts);
        free((*self_p)->pos);
        free(*self_p);
        *self_p = NULL;
    }
}

const char *rm_args_get(const rm_args_t *self, const char *name)
{
    const char *value = NULL;
    for (size_t i = 0; i < self->nopts; i++)
        if (spec_is(self->opts[i].spec, name, strlen(name)))
            value = self->opts[i].value;
    return value;
}

bool rm_args_has(const rm_args_t *self, const char *name)
{
    return rm_args_get(self, name) != NULL;
}

size_t rm_args_count(const rm_args_t *self, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < self->nopts; i++)
        if (spec_is(self->opts[i].spec, name, strlen(name)))
            n++;
    return n;
}

const char *rm_args_nth(const rm_args_t *self, const char *name, size_t nth)
{
    for (size_t i = 0; i < self->nopts; i++)
        if (spec_is(self->opts[i].spec, name, strlen(name)) && nth-- == 0)
            return self->opts[i].value;
    return NULL;
}

size_t rm_args_npos(const rm_args_t *self)
{
    return self->npos;
}

const char *rm_args_pos(const rm_args_t *self, size_t i)
{
    return i < self->npos ? self->pos[i] : NULL;
}

int rm_cli_command_index(int argc, char *const *argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            return i + 1 < argc ? i + 1 : -1;
        if (a[0] != '-' || a[1] == '\0')
            return i;
        if (strcmp(a, "--mesh") == 0 || strcmp(a, "--home") == 0)
            i++; /* skip the value */
    }
    return -1;
}

/*  --- Configuration ------------------------------------------------------ */

void rm_cli_env_from_process(rm_cli_env_t *env)
{
    env->mesh_home = getenv("MESH_HOME");
    env->mesh_addr = getenv("MESH_ADDR");
    env->user_home = getenv("HOME");
    env->timeout_ms = getenv("MESH_TIMEOUT_MS");
}

static bool is_set(const char *s)
{
    return s && *s;
}

static int copy_str(char *dst, size_t size, const char *src, const char *what, rm_err_t *err)
{
    if (strlen(src) >= size)
        return rm_err_set(err, RM_EINVAL, "%s is too long (max %zu bytes)", what, size - 1);
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

static int resolve_home(const char *flag_home, const rm_cli_env_t *env, rm_cli_config_t *cfg,
                        rm_err_t *err)
{
    if (is_set(flag_home))
        return copy_str(cfg->home, sizeof cfg->home, flag_home, "--home", err);
    if (is_set(env->mesh_home))
        return copy_str(cfg->home, sizeof cfg->home, env->mesh_home, "MESH_HOME", err);
    const char *user_home = env->user_home;
    if (!is_set(user_home)) {
        struct passwd *pw = getpwuid(getuid());
        user_home = pw ? pw->pw_dir : NULL;
    }
    if (!is_set(user_home))
        return rm_err_set(err, RM_EINVAL, "cannot find a home directory: set HOME or MESH_HOME");
    int n = snprintf(cfg->home, sizeof cfg->home, "%s/.config/rendermesh", user_home);
    if (n < 0 || (size_t)n >= sizeof cfg->home)
        return rm_err_set(err, RM_EINVAL, "home directory path is too long");
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/*  Reads `mesh = ADDR` from PATH; other keys are ignored so that later
    versions can add some.  A missing file leaves cfg->mesh empty. */
static int read_config(const char *path, rm_cli_config_t *cfg, rm_err_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT
                   ? 0
                   : rm_err_set(err, RM_EINVAL, "cannot read %s: %s", path, strerror(errno));
    char line[2048];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = rm_err_set(err, RM_EINVAL, "%s:%d: expected 'key = value'", path, lineno);
            break;
        }
        *eq = '\0';
        if (strcmp(trim(s), "mesh") == 0) {
            rc = copy_str(cfg->mesh, sizeof cfg->mesh, trim(eq + 1), "mesh address", err);
            snprintf(cfg->mesh_from, sizeof cfg->mesh_from, "%s", path);
        }
    }
    fclose(f);
    return rc;
}

static int resolve_timeout(const rm_cli_env_t *env, rm_cli_config_t *cfg, rm_err_t *err)
{
    cfg->timeout_ms = RM_CLI_DEFAULT_TIMEOUT_MS;
    if (!is_set(env->timeout_ms))
        return 0;
    uint64_t v = 0;
    if (rm_cli_parse_u64("MESH_TIMEOUT_MS", env->timeout_ms, 1, 3600000, &v, err) != 0)
        return -1;
    cfg->timeout_ms = (int)v;
    return 0;
}

int rm_cli_config_resolve(const char *flag_home, const char *flag_mesh, const rm_cli_env_t *env,
                          rm_cli_config_t *cfg, rm_err_t *err)
{
    memset(cfg, 0, sizeof *cfg);
    if (resolve_home(flag_home, env, cfg, err) != 0 || resolve_timeout(env, cfg, err) != 0)
        return -1;
    if (is_set(flag_mesh)) {
        snprintf(cfg->mesh_from, sizeof cfg->mesh_from, "--mesh");
        return copy_str(cfg->mesh, sizeof cfg->mesh, flag_mesh, "--mesh", err);
    }
    if (is_set(env->mesh_addr)) {
        snprintf(cfg->mesh_from, sizeof cfg->mesh_from, "MESH_ADDR");
        return copy_str(cfg->mesh, sizeof cfg->mesh, env->mesh_addr, "MESH_ADDR", err);
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/config", cfg->home);
    return read_config(path, cfg, err);
}

int rm_cli_config_write(const char *home, const char *mesh, rm_err_t *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/config", home);
    char *text = zsys_sprintf("# meshctl configuration\nmesh = %s\n", mesh);
    if (!text)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    int rc = rm_fs_write_atomic(path, text, strlen(text), 0644, err);
    zstr_free(&text);
    return rc;
}

int rm_cli_mkdir_home(const char *dir, rm_err_t *err)
{
    return rm_cli_mkdirs(dir, 0700, err);
}

int rm_cli_mkdirs(const char *dir, unsigned mode, rm_err_t *err)
{
    return rm_fs_mkdir_p(dir, 0755, (mode_t)mode, err);
}
