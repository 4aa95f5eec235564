/*  rm_cli: option parsing and configuration (see rm_cli.h).
    Values, exit codes and formatting are in rm_cli_util.c. */
#include "rm_cli.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <czmq.h>

#include "rm_fs.h"

const rm_opt_spec_t rm_cli_global_opts[] = {
    {"mesh", RM_OPT_VALUE, false},
    {"home", RM_OPT_VALUE, false},
    {"help", RM_OPT_FLAG, false},
    {NULL, RM_OPT_FLAG, false},
};

_Static_assert(RM_OPT_FLAG == no_argument && RM_OPT_VALUE == required_argument &&
                   RM_OPT_OPTIONAL == optional_argument,
               "rm_opt_spec_t.has_arg is getopt_long's has_arg");

/*  getopt_long's val for an option: OPT_VAL + its index in the merged table,
    above every character so that it never reads as a short option. */
#define OPT_VAL 256

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

/*  The command's options then the global ones, as getopt_long reads them. */
typedef struct {
    const rm_opt_spec_t **spec; /* spec[i] is longopts[i] */
    struct option *longopts;    /* ends with a zeroed entry */
    size_t n;
} opt_table_t;

static size_t count_specs(const rm_opt_spec_t *specs)
{
    size_t n = 0;
    while (specs && specs[n].name)
        n++;
    return n;
}

static void add_specs(opt_table_t *t, const rm_opt_spec_t *specs)
{
    for (size_t i = 0; specs && specs[i].name; i++, t->n++) {
        t->spec[t->n] = &specs[i];
        t->longopts[t->n] =
            (struct option){specs[i].name, specs[i].has_arg, NULL, OPT_VAL + (int)t->n};
    }
}

static int table_init(opt_table_t *t, const rm_opt_spec_t *specs)
{
    size_t n = count_specs(specs) + count_specs(rm_cli_global_opts);
    t->n = 0;
    t->spec = calloc(n, sizeof *t->spec);
    t->longopts = calloc(n + 1, sizeof *t->longopts);
    if (!t->spec || !t->longopts)
        return -1;
    add_specs(t, specs); /* the command's first: they win over a global namesake */
    add_specs(t, rm_cli_global_opts);
    return 0;
}

static void table_free(opt_table_t *t)
{
    free(t->spec);
    free(t->longopts);
}

/*  The spec an option character of getopt_long stands for, NULL if none. */
static const rm_opt_spec_t *table_spec(const opt_table_t *t, int val)
{
    if (val == 'h') {
        for (size_t i = 0; i < t->n; i++)
            if (t->spec[i]->name && strcmp(t->spec[i]->name, "help") == 0)
                return t->spec[i];
        return NULL;
    }
    if (val < OPT_VAL || (size_t)(val - OPT_VAL) >= t->n)
        return NULL;
    return t->spec[val - OPT_VAL];
}

/*  Whether the option word `arg` ("--name" or "--name=value") spells `name`
    in full: getopt_long also takes unique abbreviations, meshctl does not. */
static bool spelled_out(const char *arg, const char *name)
{
    if (strncmp(arg, "--", 2) != 0)
        return false;
    size_t len = strcspn(arg + 2, "=");
    return len == strlen(name) && strncmp(arg + 2, name, len) == 0;
}

static int unknown_option(const char *arg, rm_err_t *err)
{
    size_t len = strncmp(arg, "--", 2) == 0 ? strcspn(arg + 2, "=") : 0;
    if (len > 0)
        return rm_err_set(err, RM_EINVAL, "unknown option '--%.*s'", (int)len, arg + 2);
    return rm_err_set(err, RM_EINVAL, "unknown option '%s'", arg);
}

/*  One answer of getopt_long, c, about the word `arg`: an option and its
    value into self, or the refusal. */
static int take_option(rm_args_t *self, const opt_table_t *t, int c, const char *arg, rm_err_t *err)
{
    /* ':' (missing value) and '?' (a value given to a flag, or unknown)
       name a known option in optopt */
    const rm_opt_spec_t *spec = table_spec(t, c == ':' || c == '?' ? optopt : c);
    /* -h alone is --help; in "-hx" or "-h=1" the word is unknown, whatever follows */
    bool whole = c == 'h' ? strcmp(arg, "-h") == 0 : spelled_out(arg, spec ? spec->name : "");
    if (!spec || !whole)
        return unknown_option(arg, err);
    if (c == ':')
        return rm_err_set(err, RM_EINVAL, "option --%s needs a value", spec->name);
    if (c == '?')
        return rm_err_set(err, RM_EINVAL, "option --%s takes no value", spec->name);
    for (size_t k = 0; !spec->repeat && k < self->nopts; k++)
        if (self->opts[k].spec == spec)
            return rm_err_set(err, RM_EINVAL, "option --%s given more than once", spec->name);
    self->opts[self->nopts].spec = spec;
    self->opts[self->nopts].value = optarg ? optarg : "";
    self->nopts++;
    return 0;
}

/*  getopt_long over argv[0..argc), which has no program name: "-" returns
    the positional arguments in place (no permutation, so the word being read
    is always argv[optind]), ":" tells a missing value from an unknown
    option, and -h is --help. */
static int parse_all(rm_args_t *self, int argc, char *const *argv, const opt_table_t *t,
                     rm_err_t *err)
{
    char **av = calloc((size_t)argc + 2, sizeof *av);
    if (!av)
        return rm_err_set(err, RM_ENOMEM, "out of memory parsing the command line");
    av[0] = "meshctl";
    for (int i = 0; i < argc; i++)
        av[i + 1] = argv[i];
    int rc = 0;
    optind = 0; /* GNU: start afresh (also forgets the last vector's state) */
    opterr = 0; /* our own messages */
    while (rc == 0) {
        int at = optind > 0 ? optind : 1; /* the word getopt_long reads now */
        int c = getopt_long(argc + 1, av, "-:h", t->longopts, NULL);
        if (c == -1)
            break;
        if (c == 1)
            self->pos[self->npos++] = optarg;
        else
            rc = take_option(self, t, c, av[at], err);
    }
    for (int i = optind; rc == 0 && i <= argc; i++) /* after "--" */
        self->pos[self->npos++] = av[i];
    free(av);
    return rc;
}

rm_args_t *rm_args_parse(int argc, char *const *argv, const rm_opt_spec_t *specs, rm_err_t *err)
{
    rm_args_t *self = calloc(1, sizeof *self);
    size_t cap = argc > 0 ? (size_t)argc : 1;
    opt_table_t table = {0};
    if (self) {
        self->opts = calloc(cap, sizeof *self->opts);
        self->pos = calloc(cap, sizeof *self->pos);
    }
    if (!self || !self->opts || !self->pos || table_init(&table, specs) != 0) {
        rm_args_destroy(&self);
        table_free(&table);
        rm_err_set(err, RM_ENOMEM, "out of memory parsing the command line");
        return NULL;
    }
    if (parse_all(self, argc, argv, &table, err) != 0)
        rm_args_destroy(&self);
    table_free(&table);
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
        if (strcmp(self->opts[i].spec->name, name) == 0)
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
        if (strcmp(self->opts[i].spec->name, name) == 0)
            n++;
    return n;
}

const char *rm_args_nth(const rm_args_t *self, const char *name, size_t nth)
{
    for (size_t i = 0; i < self->nopts; i++)
        if (strcmp(self->opts[i].spec->name, name) == 0 && nth-- == 0)
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
    opt_table_t table = {0};
    if (table_init(&table, NULL) != 0) {
        table_free(&table);
        return -1;
    }
    /* "+": stop at the first word that is not an option, the command */
    optind = 0;
    opterr = 0;
    for (;;) {
        int at = optind > 0 ? optind : 1;
        int c = getopt_long(argc, argv, "+:", table.longopts, NULL);
        if (c == -1)
            break;
        const rm_opt_spec_t *spec = table_spec(&table, c);
        if (spec && !spelled_out(argv[at], spec->name))
            optind = at + 1; /* an abbreviation is no option: it takes no value */
    }
    int ci = optind < argc ? optind : -1;
    table_free(&table);
    return ci;
}

/*  --- Configuration ------------------------------------------------------ */

void rm_cli_env_from_process(rm_cli_env_t *env)
{
    env->mesh_home = getenv("MESH_HOME");
    env->mesh_addr = getenv("MESH_ADDR");
    env->user_home = getenv("HOME");
    env->timeout_ms = getenv("MESH_TIMEOUT_MS");
}

static bool is_nonempty(const char *s)
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
    if (is_nonempty(flag_home))
        return copy_str(cfg->home, sizeof cfg->home, flag_home, "--home", err);
    if (is_nonempty(env->mesh_home))
        return copy_str(cfg->home, sizeof cfg->home, env->mesh_home, "MESH_HOME", err);
    const char *user_home = env->user_home;
    if (!is_nonempty(user_home)) {
        struct passwd *pw = getpwuid(getuid());
        user_home = pw ? pw->pw_dir : NULL;
    }
    if (!is_nonempty(user_home))
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
    if (!is_nonempty(env->timeout_ms))
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
    if (is_nonempty(flag_mesh)) {
        snprintf(cfg->mesh_from, sizeof cfg->mesh_from, "--mesh");
        return copy_str(cfg->mesh, sizeof cfg->mesh, flag_mesh, "--mesh", err);
    }
    if (is_nonempty(env->mesh_addr)) {
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
