/*  rm_cmd: what the commands that talk to a node share (see rm_cmd.h). */
#include "rm_cmd.h"
#include "rm_known.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int rm_cmd_fail(const rm_err_t *err, const rm_client_t *client)
{
    bool refused = client && rm_client_refused(client);
    if (refused)
        rm_cli_error("node %s refused: %s", rm_client_node(client), err->msg);
    else
        rm_cli_error("%s", err->msg);
    return rm_cli_exit_code(err, refused);
}

int rm_cmd_load_token(const rm_cmd_ctx_t *ctx, rm_token_t *token)
{
    char path[1100];
    struct stat st;
    rm_err_t err = {0};
    snprintf(path, sizeof path, "%s/client.token", ctx->cfg.home);
    if (stat(path, &st) != 0 && errno == ENOENT) {
        rm_cli_error("no credentials in %s: run meshctl init, or meshctl init --token FILE",
                     ctx->cfg.home);
        return RM_EXIT_NOREACH;
    }
    if (rm_token_load(path, token, &err) != 0) {
        rm_cli_error("%s", err.msg);
        return RM_EXIT_NOREACH;
    }
    return RM_EXIT_OK;
}

int rm_cmd_connect(const rm_cmd_ctx_t *ctx, rm_client_t **client)
{
    rm_token_t token;
    rm_err_t err = {0};
    *client = NULL;
    if (ctx->cfg.mesh[0] == '\0') {
        rm_cli_error("no node address: pass --mesh tcp://HOST:PORT, set MESH_ADDR, or run "
                     "meshctl init --mesh tcp://HOST:PORT (writes %s/config)",
                     ctx->cfg.home);
        return RM_EXIT_USAGE;
    }
    rm_endpoint_t ep;
    if (rm_endpoint_parse(ctx->cfg.mesh, RM_ENDPOINT_CONNECT, &ep, &err) != 0) {
        rm_cli_error("%s (from %s)", err.msg, ctx->cfg.mesh_from);
        return RM_EXIT_USAGE;
    }
    int rc = rm_cmd_load_token(ctx, &token);
    if (rc != RM_EXIT_OK)
        return rc;
    char known[1100];
    snprintf(known, sizeof known, "%s/%s", ctx->cfg.home, RM_KNOWN_DIR);
    *client = rm_client_new_known(ctx->cfg.mesh, &token, ctx->cfg.timeout_ms, known, &err);
    rm_token_free(&token);
    if (!*client)
        return rm_cmd_fail(&err, NULL);
    return RM_EXIT_OK;
}

int rm_cmd_job_arg(const rm_cmd_ctx_t *ctx, const char **job_id)
{
    rm_err_t err = {0};
    *job_id = rm_args_pos(ctx->args, 0);
    if (!*job_id || rm_cli_check_job_id(*job_id, &err) != 0) {
        rm_cli_error("%s", *job_id ? err.msg : "missing JOB argument");
        return RM_EXIT_USAGE;
    }
    return RM_EXIT_OK;
}
