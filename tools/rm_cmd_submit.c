/*  meshctl submit: validate, connect, describe the project, send what the
    node lacks, and optionally wait for the job and fetch its frames. */
#include "rm_cmd.h"

#include "rm_spec_sig.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_fetch.h"
#include "rm_import.h"
#include "rm_project.h"
#include "rm_push.h"
#include "rm_spec_sig.h"
#include "rm_submit.h"
#include "rm_wait.h"

typedef struct {
    rm_submit_req_t req;
    rm_submit_stats_t stats;
    rm_job_summary_t final; /* when waited for */
    bool waited;
    rm_fetch_stats_t fetch;
    bool fetched;
    char *out_dir;    /* --out DIR, or DIR/JOB with --job-dir */
    uint64_t files;   /* in the project */
    const char *node; /* that read it from S3 (the client's) */
} submit_t;

static void print_json(const submit_t *s)
{
    rm_json_t *j = rm_json_new(stdout);
    rm_json_object(j, NULL);
    rm_json_str(j, "job_id", s->req.spec.job_id);
    rm_json_u64(j, "frames", s->stats.frames_total);
    rm_json_u64(j, "chunks_sent", s->stats.chunks_sent);
    rm_json_u64(j, "bytes_sent", s->stats.bytes_sent);
    rm_json_u64(j, "chunks_total", s->stats.chunks_total);
    rm_json_str(j, "root", s->req.spec.source_root);
    rm_json_str(j, "blend", s->req.spec.blend);
    char manifest[65];
    rm_hash_hex(&s->req.spec.manifest, manifest);
    rm_json_str(j, "manifest", manifest);
    rm_json_u64(j, "project_files", s->files);
    rm_json_str(j, "out_url", s->req.spec.out_url ? s->req.spec.out_url : "");
    rm_json_u64(j, "missing", s->req.deps.missing);
    rm_json_array(j, "requires");
    for (uint32_t i = 0; i < s->req.spec.requires.count; i++)
        rm_json_str(j, NULL, s->req.spec.requires.items[i]);
    rm_json_end(j);
    if (s->waited) {
        rm_json_str(j, "state", s->final.state);
        rm_json_u64(j, "frames_done", s->final.frames_done);
        rm_json_u64(j, "frames_failed", s->final.frames_failed);
        rm_json_str(j, "error", s->final.error);
    }
    if (s->fetched)
        rm_cmd_json_fetch(j, s->out_dir, &s->fetch);
    rm_json_destroy(&j);
}

static void print_accepted(const submit_t *s)
{
    char size[32];
    rm_cli_fmt_bytes(s->stats.bytes_sent, size, sizeof size);
    if (s->req.s3)
        printf("job %s accepted: %" PRIu64 " frames; project read from %s by node %s\n",
               s->req.spec.job_id, s->stats.frames_total, s->req.spec.source_root, s->node);
    else
        printf("job %s accepted: %" PRIu64 " frames; sent %u of %u chunks (%s)\n",
               s->req.spec.job_id, s->stats.frames_total, s->stats.chunks_sent,
               s->stats.chunks_total, size);
    if (s->req.spec.out_url && s->req.spec.out_url[0])
        printf("frames will be stored in %sframe_####.ext\n", s->req.spec.out_url);
    fflush(stdout);
}

/*  Signs the finished spec with this credential's signing key: nodes take
    only jobs their submitter signed (rm_spec_sig.h). */
static int sign_spec(const rm_cmd_ctx_t *ctx, rm_job_spec_t *spec, rm_err_t *err)
{
    rm_token_t token;
    if (rm_cmd_load_token(ctx, &token) != RM_EXIT_OK)
        return rm_err_set(err, RM_EAUTH, "cannot sign the job without this client's credential");
    int rc = 0;
    if (token.sign_sk.len != 64)
        rc = rm_err_set(err, RM_EAUTH,
                        "%s/client.token predates signed jobs: ask an admin for a new "
                        "invitation (meshctl invite --role artist) and set it up with "
                        "meshctl init --token",
                        ctx->cfg.home);
    else
        rc = rm_spec_sign(spec, token.sign_sk.data, err);
    rm_token_free(&token);
    return rc;
}

/*  A project in S3: the node reads it (IMPORT), then the SUBMIT names the
    manifest it made. */
static int send_s3_job(const rm_cmd_ctx_t *ctx, rm_client_t *client, submit_t *s, rm_err_t *err)
{
    rm_import_reply_t imported;
    int rc = rm_import_run(client, s->req.blend, s->req.attach, s->req.nattach,
                           ctx->json ? NULL : stderr, &imported, err);
    if (rc == 0) {
        s->req.spec.manifest = imported.manifest;
        s->files = imported.files;
        s->node = rm_client_node(client);
        if (!(s->req.spec.blend = strdup(imported.blend)) ||
            !(s->req.spec.source_root = strdup(imported.root)))
            rc = rm_err_set(err, RM_ENOMEM, "out of memory");
    }
    rm_codec_free(rm_msg_desc(RM_MSG_IMPORT_REPLY), &imported);
    if (rc == 0)
        rc = sign_spec(ctx, &s->req.spec, err);
    if (rc == 0)
        rc = rm_submit_run(client, NULL, &s->req.spec, &s->stats, err);
    return rc;
}

/*  Builds the manifest and runs the conversation until ACCEPTED. */
static int send_job(const rm_cmd_ctx_t *ctx, rm_client_t *client, submit_t *s, rm_err_t *err)
{
    if (s->req.s3)
        return send_s3_job(ctx, client, s, err);
    /* The chunks go to the node while the project is chunked. */
    rm_push_t *push = rm_push_new(client, RM_PUSH_MAX_BUFFERED, err);
    if (!push)
        return -1;
    rm_project_t *project =
        rm_project_new(s->req.deps.root, s->req.blend_abs, (const char *const *)s->req.deps.paths,
                       s->req.deps.npaths, rm_push_sink, push, err);
    if (!project || rm_push_finish(push, err) != 0) {
        rm_project_destroy(&project);
        rm_push_destroy(&push);
        return -1;
    }
    int rc = 0;
    s->req.spec.manifest = *rm_project_manifest_hash(project);
    s->files = s->req.deps.npaths;
    if (!(s->req.spec.blend = strdup(rm_project_blend_rel(project))))
        rc = rm_err_set(err, RM_ENOMEM, "out of memory");
    if (rc == 0)
        rc = sign_spec(ctx, &s->req.spec, err);
    if (rc == 0)
        rc = rm_submit_run(client, project, &s->req.spec, &s->stats, err);
    s->stats.chunks_sent += rm_push_chunks_sent(push);
    s->stats.bytes_sent += rm_push_bytes_sent(push);
    rm_project_destroy(&project);
    rm_push_destroy(&push);
    return rc;
}

/*  --wait and --out: follow the job, say how it ended, then fetch what it
    made (also from a failed job: the frames that did render).  Returns an
    exit code. */
static int follow(rm_cmd_ctx_t *ctx, rm_client_t *client, submit_t *s)
{
    rm_err_t err = {0};
    if (rm_wait_job(client, s->req.spec.job_id, ctx->json, &s->final, &err) != 0)
        return rm_cmd_fail(&err, client);
    s->waited = true;
    int rc = rm_cmd_job_end(&s->final, ctx->json);
    if (rc == RM_EXIT_OK && rm_args_has(ctx->args, "strict"))
        rc = rm_cmd_strict(client, s->req.spec.job_id, &s->final, ctx->json);
    if (!s->req.out)
        return rc;
    if (!(s->out_dir = rm_cmd_fetch_dir(ctx, s->req.out, s->req.spec.job_id)))
        return RM_EXIT_FAILED;
    if (rm_fetch_job(client, s->req.spec.job_id, s->out_dir, rm_args_has(ctx->args, "overwrite"),
                     &s->fetch, &err) != 0)
        return rm_cmd_fail(&err, client);
    s->fetched = true;
    if (!ctx->json)
        rm_cmd_print_fetch(s->out_dir, &s->fetch);
    return rc;
}

int rm_cmd_submit(rm_cmd_ctx_t *ctx)
{
    submit_t s;
    char job_id[17];
    rm_client_t *client = NULL;
    rm_err_t err = {0};
    memset(&s, 0, sizeof s);
    if (rm_submit_req_parse(ctx->args, &s.req, &err) != 0) {
        rm_submit_req_free(&s.req);
        rm_cli_error("%s", err.msg);
        return RM_EXIT_USAGE;
    }
    rm_submit_new_id(job_id);
    int rc = (s.req.spec.job_id = strdup(job_id)) ? rm_cmd_connect(ctx, &client) : RM_EXIT_FAILED;
    if (rc == RM_EXIT_OK && send_job(ctx, client, &s, &err) != 0)
        rc = rm_cmd_fail(&err, client);
    else if (rc == RM_EXIT_OK && !ctx->json)
        print_accepted(&s);
    if (rc == RM_EXIT_OK && s.req.wait)
        rc = follow(ctx, client, &s);
    if (ctx->json && (rc == RM_EXIT_OK || s.waited))
        print_json(&s);
    rm_codec_free(&rm_job_summary_desc, &s.final);
    rm_submit_req_free(&s.req);
    free(s.out_dir);
    rm_client_destroy(&client);
    return rc;
}
