/*  meshctl wait and meshctl fetch: following one job and bringing its
    files home. */
#include "rm_cmd.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_fetch.h"
#include "rm_wait.h"

void rm_cmd_json_summary(rm_json_t *j, const rm_job_summary_t *s)
{
    rm_json_str(j, "job_id", s->job_id);
    rm_json_str(j, "name", s->name);
    rm_json_str(j, "state", s->state);
    rm_json_i64(j, "priority", s->priority);
    rm_json_u64(j, "frames_total", s->frames_total);
    rm_json_u64(j, "frames_done", s->frames_done);
    rm_json_u64(j, "frames_failed", s->frames_failed);
    rm_json_u64(j, "frames_rendering", s->frames_rendering);
    rm_json_i64(j, "submitted_at", s->submitted_at);
    rm_json_i64(j, "started_at", s->started_at);
    rm_json_i64(j, "finished_at", s->finished_at);
    rm_json_str(j, "submitter", s->submitter);
    rm_json_str(j, "submitter_role", s->submitter_role ? s->submitter_role : "");
    rm_json_bool(j, "allow_scripts", s->allow_scripts);
    rm_json_str(j, "error", s->error);
    rm_json_str(j, "waiting", s->waiting ? s->waiting : "");
    rm_json_u64(j, "version", s->version);
}

void rm_cmd_json_fetch(rm_json_t *j, const char *dir, const rm_fetch_stats_t *st)
{
    rm_json_str(j, "dir", dir);
    rm_json_u64(j, "output_frames", st->frames_done);
    rm_json_u64(j, "files", st->files);
    rm_json_u64(j, "fetched", st->fetched);
    rm_json_u64(j, "present", st->present);
    rm_json_u64(j, "replaced", st->replaced);
    rm_json_u64(j, "not_done", st->not_done);
    rm_json_u64(j, "rendered_again", st->again);
    rm_json_u64(j, "stored_only", st->stored_only);
    rm_json_u64(j, "bytes_fetched", st->bytes);
    rm_json_str(j, "out_url", st->out_url);
    rm_json_u64(j, "stored", st->stored);
}

int rm_cmd_job_end(const rm_job_summary_t *s, bool quiet)
{
    const char *state = s->state ? s->state : "";
    int64_t ms =
        s->finished_at > s->started_at && s->started_at > 0 ? s->finished_at - s->started_at : 0;
    char took[32];
    rm_cli_fmt_clock((uint64_t)(ms / 1000), took, sizeof took);
    if (strcmp(state, "done") == 0) {
        if (!quiet)
            printf("job %s done: %" PRIu64 "/%" PRIu64 " frames in %s\n", s->job_id, s->frames_done,
                   s->frames_total, took);
        return RM_EXIT_OK;
    }
    if (!quiet && strcmp(state, "canceled") == 0)
        rm_cli_error("job %s was canceled (%" PRIu64 "/%" PRIu64 " frames done)", s->job_id,
                     s->frames_done, s->frames_total);
    else if (!quiet)
        rm_cli_error("job %s %s: %s (%" PRIu64 " done, %" PRIu64 " failed of %" PRIu64
                     " frames; see meshctl logs %s)",
                     s->job_id, state, s->error && *s->error ? s->error : "no reason given",
                     s->frames_done, s->frames_failed, s->frames_total, s->job_id);
    return RM_EXIT_FAILED;
}

void rm_cmd_print_fetch(const char *dir, const rm_fetch_stats_t *st)
{
    char size[32];
    rm_cli_fmt_bytes(st->bytes, size, sizeof size);
    printf("fetched %u file%s of %u frame%s into %s (%s)", st->fetched, st->fetched == 1 ? "" : "s",
           st->frames_done, st->frames_done == 1 ? "" : "s", dir, size);
    if (st->present)
        printf("; %u already there", st->present);
    if (st->replaced)
        printf("; %u different file%s replaced", st->replaced, st->replaced == 1 ? "" : "s");
    if (st->not_done)
        printf("; %u not rendered (yet)", st->not_done);
    if (st->again)
        printf("; %u rendered again after their output was lost", st->again);
    if (st->stored_only)
        printf("; %u only in S3 now, not fetched", st->stored_only);
    printf("\n");
    if (st->out_url[0])
        printf("%u frame%s stored in %s (meshctl job JOB lists each)\n", st->stored,
               st->stored == 1 ? "" : "s", st->out_url);
}

int rm_cmd_strict(rm_client_t *client, const char *job_id, rm_job_summary_t *final, bool quiet)
{
    rm_job_ref_t ref = {(char *)job_id};
    rm_msg_t reply;
    rm_err_t err = {0};
    if (strcmp(final->state ? final->state : "", "done") != 0)
        return RM_EXIT_OK;
    if (rm_client_call(client, RM_MSG_JOB_INFO, &ref, RM_MSG_JOB_REPLY, 0, &reply, &err) != 0)
        return rm_cmd_fail(&err, client);
    uint32_t warned = 0;
    const rm_job_reply_t *r = &reply.u.job_reply;
    for (uint32_t i = 0; i < r->frames.count; i++) {
        rm_frame_info_t *f = &r->frames.items[i];
        if (!f->warning || !*f->warning)
            continue;
        if (!quiet)
            rm_cli_error("frame %" PRIu64 ": %s", f->frame, rm_cli_clean(f->warning));
        warned++;
    }
    if (warned && !quiet)
        rm_cli_error("--strict: job %s finished, but %u frame%s ha%s warnings (listed above)",
                     job_id, warned, warned == 1 ? "" : "s", warned == 1 ? "s" : "ve");
    rm_msg_free(&reply);
    return warned ? RM_EXIT_WARNINGS : RM_EXIT_OK;
}

/*  DIR, or DIR/JOB with --job-dir (malloc'd). */
char *rm_cmd_fetch_dir(const rm_cmd_ctx_t *ctx, const char *dir, const char *job_id)
{
    size_t len = strlen(dir) + strlen(job_id) + 2;
    char *out = malloc(len);
    if (out && rm_args_has(ctx->args, "job-dir"))
        snprintf(out, len, "%s/%s", dir, job_id);
    else if (out)
        snprintf(out, len, "%s", dir);
    return out;
}

int rm_cmd_wait(rm_cmd_ctx_t *ctx)
{
    const char *job_id = NULL;
    rm_client_t *client = NULL;
    rm_job_summary_t final;
    rm_err_t err = {0};
    int rc = rm_cmd_job_arg(ctx, &job_id);
    if (rc == RM_EXIT_OK)
        rc = rm_cmd_connect(ctx, &client);
    if (rc != RM_EXIT_OK)
        return rc;
    if (rm_wait_job(client, job_id, ctx->json, &final, &err) != 0) {
        rc = rm_cmd_fail(&err, client);
    } else {
        rc = rm_cmd_job_end(&final, ctx->json);
        if (rc == RM_EXIT_OK && rm_args_has(ctx->args, "strict"))
            rc = rm_cmd_strict(client, job_id, &final, ctx->json);
        if (ctx->json) {
            rm_json_t *j = rm_json_new(stdout);
            rm_json_object(j, NULL);
            rm_cmd_json_summary(j, &final);
            rm_json_destroy(&j);
        }
        rm_codec_free(&rm_job_summary_desc, &final);
    }
    rm_client_destroy(&client);
    return rc;
}

int rm_cmd_fetch(rm_cmd_ctx_t *ctx)
{
    const char *job_id = NULL, *dir = rm_args_pos(ctx->args, 1);
    rm_client_t *client = NULL;
    rm_fetch_stats_t st;
    rm_err_t err = {0};
    char *into = NULL;
    int rc = rm_cmd_job_arg(ctx, &job_id);
    if (rc == RM_EXIT_OK && !dir) {
        rm_cli_error("missing DIR argument: meshctl fetch JOB DIR");
        rc = RM_EXIT_USAGE;
    }
    if (rc == RM_EXIT_OK && !(into = rm_cmd_fetch_dir(ctx, dir, job_id)))
        rc = RM_EXIT_FAILED;
    if (rc == RM_EXIT_OK)
        rc = rm_cmd_connect(ctx, &client);
    if (rc != RM_EXIT_OK) {
        free(into);
        return rc;
    }
    if (rm_fetch_job(client, job_id, into, rm_args_has(ctx->args, "overwrite"), &st, &err) != 0) {
        rc = rm_cmd_fail(&err, client);
    } else if (ctx->json) {
        rm_json_t *j = rm_json_new(stdout);
        rm_json_object(j, NULL);
        rm_json_str(j, "job_id", job_id);
        rm_cmd_json_fetch(j, into, &st);
        rm_json_destroy(&j);
    } else {
        rm_cmd_print_fetch(into, &st);
    }
    free(into);
    rm_client_destroy(&client);
    return rc;
}
