/*  rm_cli: what every meshctl command shares: the option parser, where the
    home directory and the mesh address come from, exit codes, and the
    small formatting helpers of the human-readable output.

    Options are long (--name VALUE or --name=VALUE) and may appear anywhere
    on the line, before or after the command and its positional arguments;
    "--" ends them.  Nothing secret is ever taken from the command line. */
#ifndef RM_CLI_H
#define RM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rm_error.h"

/*  Exit codes of meshctl (documented in docs/meshctl.md). */
#define RM_EXIT_OK 0       /* done */
#define RM_EXIT_FAILED 1   /* the job failed or the node refused the request */
#define RM_EXIT_USAGE 2    /* usage error or bad input file */
#define RM_EXIT_NOREACH 3  /* cannot reach the node or authenticate */
#define RM_EXIT_WARNINGS 4 /* --strict: the job is done but frames have warnings */

#define RM_CLI_DEFAULT_TIMEOUT_MS 5000

/*  --- Options ------------------------------------------------------------ */

/*  How an option takes a value: getopt_long's has_arg (getopt.h), which
    parses them. */
enum {
    RM_OPT_FLAG = 0,     /* no value: --json */
    RM_OPT_VALUE = 1,    /* a value: --name VALUE or --name=VALUE */
    RM_OPT_OPTIONAL = 2, /* a value only after "=": --wait or --wait=60, never the next word */
};

typedef struct {
    const char *name; /* without the leading "--"; NULL ends a table */
    int has_arg;      /* RM_OPT_FLAG, RM_OPT_VALUE or RM_OPT_OPTIONAL */
    bool repeat;      /* may be given more than once (--attach) */
} rm_opt_spec_t;

/*  Options every command accepts. */
extern const rm_opt_spec_t rm_cli_global_opts[];

typedef struct _rm_args_t rm_args_t;

/*  Parses argv[0..argc) (no program name, no command word) against `specs`
    plus rm_cli_global_opts, with getopt_long: options and positional
    arguments in any order, "--" ends the options, -h is --help.  Unknown
    options (abbreviations too), a missing value, a value given to a flag and
    a non-repeatable option given twice are refused (RM_EINVAL).  The result
    points into argv.  Not reentrant: getopt_long's state is global (each
    call starts it afresh). */
rm_args_t *rm_args_parse(int argc, char *const *argv, const rm_opt_spec_t *specs, rm_err_t *err);
void rm_args_destroy(rm_args_t **self_p);

/*  The (last) value of an option, "" for a flag that was given (also an
    RM_OPT_OPTIONAL one given without "="), NULL if absent. */
const char *rm_args_get(const rm_args_t *self, const char *name);
bool rm_args_has(const rm_args_t *self, const char *name);
size_t rm_args_count(const rm_args_t *self, const char *name);
const char *rm_args_nth(const rm_args_t *self, const char *name, size_t i);
size_t rm_args_npos(const rm_args_t *self);
const char *rm_args_pos(const rm_args_t *self, size_t i);

/*  Index in argv[1..argc) of the command word: the first argument that is
    neither an option nor the value of a global option (getopt_long, stopping
    there).  -1 if none. */
int rm_cli_command_index(int argc, char *const *argv);

/*  --- Configuration ------------------------------------------------------ */

/*  The environment, passed in so that the precedence rules can be tested. */
typedef struct {
    const char *mesh_home;  /* MESH_HOME */
    const char *mesh_addr;  /* MESH_ADDR */
    const char *user_home;  /* HOME */
    const char *timeout_ms; /* MESH_TIMEOUT_MS */
} rm_cli_env_t;

void rm_cli_env_from_process(rm_cli_env_t *env);

typedef struct {
    char home[1024];      /* meshctl's home directory */
    char mesh[1024];      /* node address, "" if none is configured */
    char mesh_from[1100]; /* where `mesh` came from: "--mesh", "MESH_ADDR" or the config path */
    int timeout_ms;       /* how long to wait for a node */
} rm_cli_config_t;

/*  Home: --home, else MESH_HOME, else HOME/.config/rendermesh.
    Mesh: --mesh, else MESH_ADDR, else `mesh = ADDR` in HOME-DIR/config.
    Timeout: MESH_TIMEOUT_MS, else 5000.  A malformed config file or
    timeout is RM_EINVAL naming it; a missing config file is fine. */
int rm_cli_config_resolve(const char *flag_home, const char *flag_mesh, const rm_cli_env_t *env,
                          rm_cli_config_t *cfg, rm_err_t *err);

/*  Writes HOME/config holding `mesh = ADDR` (temp file + rename). */
int rm_cli_config_write(const char *home, const char *mesh, rm_err_t *err);

/*  Creates dir and its missing parents (0755, less the umask); the last
    component gets `mode` when created.  An existing directory is fine. */
int rm_cli_mkdirs(const char *dir, unsigned mode, rm_err_t *err);
/*  The home directory: rm_cli_mkdirs (dir, 0700). */
int rm_cli_mkdir_home(const char *dir, rm_err_t *err);

/*  --- Values ------------------------------------------------------------- */

/*  Decimal integer in [min, max]; refusal names the option:
    "--samples: 'abc' is not a number between 1 and 16777216". */
int rm_cli_parse_u64(const char *opt, const char *text, uint64_t min, uint64_t max, uint64_t *out,
                     rm_err_t *err);
int rm_cli_parse_i64(const char *opt, const char *text, int64_t min, int64_t max, int64_t *out,
                     rm_err_t *err);
/*  One of the NULL-terminated `choices` (exact, upper case as listed; the
    user may type it in lower case).  *out points to the choice. */
int rm_cli_parse_choice(const char *opt, const char *text, const char *const *choices,
                        const char **out, rm_err_t *err);
/*  A duration: a whole number and a unit, s m h d w y ("90m", "12h", "2y";
    a year is 365 days), in seconds within [min_s, max_s]. */
int rm_cli_parse_duration(const char *opt, const char *text, int64_t min_s, int64_t max_s,
                          int64_t *out, rm_err_t *err);
/*  "1920x1080" with both sides in [4, 65536]. */
int rm_cli_parse_resolution(const char *text, uint64_t *w, uint64_t *h, rm_err_t *err);
/*  A job id as meshctl makes them: 16 lowercase hex characters. */
int rm_cli_check_job_id(const char *text, rm_err_t *err);

/*  --- Exit codes and messages ------------------------------------------- */

/*  The exit code for a failure: `refused` (the node answered ERROR) gives 1;
    otherwise by code: EINVAL/ENOTFOUND 2, EUNREACH/ETIMEOUT/EAUTH/EPROTO 3,
    anything else 1. */
int rm_cli_exit_code(const rm_err_t *err, bool refused);

/*  Prints "meshctl: MESSAGE" to stderr. */
void rm_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*  --- Human-readable output --------------------------------------------- */

/*  "812 B", "1.2 MB", "3.4 GB" (powers of 1000). */
void rm_cli_fmt_bytes(uint64_t bytes, char *buf, size_t size);
/*  "0:04", "12:30", "1:02:03". */
void rm_cli_fmt_clock(uint64_t seconds, char *buf, size_t size);
/*  "45s", "12m", "3h", "5d". */
void rm_cli_fmt_age(int64_t seconds, char *buf, size_t size);
/*  "2026-08-01" (UTC) of unix seconds. */
void rm_cli_fmt_date(int64_t unix_s, char *buf, size_t size);

/*  Replaces control characters (and DEL) in a string from the network with
    '?', in place, so that a hostile name cannot drive the terminal. */
char *rm_cli_clean(char *s);

/*  A text table: columns padded to their widest cell, two spaces apart. */
typedef struct _rm_table_t rm_table_t;
rm_table_t *rm_table_new(size_t ncols, const char *const *headers);
void rm_table_destroy(rm_table_t **self_p);
/*  Copies one row of ncols cells (NULL prints as "-"). */
int rm_table_add(rm_table_t *self, const char *const *cells);
void rm_table_print(const rm_table_t *self, FILE *out);

/*  Milliseconds since the epoch, and a monotonic clock. */
int64_t rm_cli_now_ms(void);
int64_t rm_cli_mono_ms(void);

#endif
