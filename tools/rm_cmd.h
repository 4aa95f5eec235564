/*  rm_cmd: meshctl's commands.  Each takes the parsed command line and the
    resolved configuration and returns meshctl's exit code (rm_cli.h);
    meshctl.c holds the table of commands, their options and usage. */
#ifndef RM_CMD_H
#define RM_CMD_H

#include <stdbool.h>

#include "rm_cli.h"
#include "rm_client.h"
#include "rm_cred.h"
#include "rm_fetch.h"
#include "rm_json.h"
#include "rm_msg.h"

typedef struct {
    rm_args_t *args;
    rm_cli_config_t cfg;
    bool json; /* --json given */
} rm_cmd_ctx_t;

typedef int (*rm_cmd_fn)(rm_cmd_ctx_t *ctx);

int rm_cmd_init(rm_cmd_ctx_t *ctx);
int rm_cmd_invite(rm_cmd_ctx_t *ctx);
int rm_cmd_submit(rm_cmd_ctx_t *ctx);
int rm_cmd_status(rm_cmd_ctx_t *ctx);
int rm_cmd_jobs(rm_cmd_ctx_t *ctx);
int rm_cmd_nodes(rm_cmd_ctx_t *ctx);
int rm_cmd_wait(rm_cmd_ctx_t *ctx);
int rm_cmd_fetch(rm_cmd_ctx_t *ctx);
int rm_cmd_cancel(rm_cmd_ctx_t *ctx);
int rm_cmd_rm(rm_cmd_ctx_t *ctx);
int rm_cmd_priority(rm_cmd_ctx_t *ctx);
int rm_cmd_logs(rm_cmd_ctx_t *ctx);
int rm_cmd_drain(rm_cmd_ctx_t *ctx);
int rm_cmd_revoke(rm_cmd_ctx_t *ctx);
int rm_cmd_job(rm_cmd_ctx_t *ctx);

/*  Loads HOME/client.token (exit 3 "no credentials in DIR: ..." if absent).
    Returns an exit code; on 0 the caller frees the token. */
int rm_cmd_load_token(const rm_cmd_ctx_t *ctx, rm_token_t *token);

/*  Loads the token and connects to the configured mesh address.  Returns an
    exit code (0: *client is connected), having printed why not. */
int rm_cmd_connect(const rm_cmd_ctx_t *ctx, rm_client_t **client);

/*  Prints err and returns the exit code for it; `client` (may be NULL)
    tells whether the node refused the request. */
int rm_cmd_fail(const rm_err_t *err, const rm_client_t *client);

/*  The job id argument, checked (exit 2 when malformed). */
int rm_cmd_job_arg(const rm_cmd_ctx_t *ctx, const char **job_id);

/*  The fields of a job summary, into the current JSON object. */
void rm_cmd_json_summary(rm_json_t *j, const rm_job_summary_t *s);
/*  Fetch results, into the current JSON object. */
void rm_cmd_json_fetch(rm_json_t *j, const char *dir, const rm_fetch_stats_t *st);
/*  The exit code for a job that ended (0 done, 1 failed or canceled);
    unless quiet, says how it ended (failures on stderr, with the job's
    error). */
int rm_cmd_job_end(const rm_job_summary_t *s, bool quiet);
/*  Says what a fetch did ("fetched 24 files of 24 frames into out/ (3.1 MB)..."). */
void rm_cmd_print_fetch(const char *dir, const rm_fetch_stats_t *st);
/*  wait --strict: for a job that ended done, RM_EXIT_WARNINGS when any frame
    has a warning (each listed on stderr unless quiet), else 0. */
int rm_cmd_strict(rm_client_t *client, const char *job_id, rm_job_summary_t *final, bool quiet);
/*  Where fetch writes: DIR, or DIR/JOB with --job-dir (malloc'd). */
char *rm_cmd_fetch_dir(const rm_cmd_ctx_t *ctx, const char *dir, const char *job_id);

#endif
