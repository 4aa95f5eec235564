/*  meshctl status, jobs, nodes, cancel, rm and logs: one request, one answer. */
#include "rm_cmd.h"

#include "rm_s3_url.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "rm_frames.h"
#include "rm_job_order.h"
#include "rm_removal.h"
#include "rm_text.h"

/*  Connects and sends one request; exit code, *reply filled on 0. */
static int query_node(rm_cmd_ctx_t *ctx, rm_msg_type_t type, const void *body, rm_msg_type_t expect,
                      rm_msg_t *reply)
{
    rm_client_t *client = NULL;
    rm_err_t err = {0};
    int rc = rm_cmd_connect(ctx, &client);
    if (rc == RM_EXIT_OK && rm_client_call(client, type, body, expect, 0, reply, &err) != 0)
        rc = rm_cmd_fail(&err, client);
    rm_client_destroy(&client);
    return rc;
}

/*  --- status ----------------------------------------------------------------- */

static void status_json(const rm_status_reply_t *s)
{
    rm_json_t *j = rm_json_new(stdout);
    rm_json_object(j, NULL);
    rm_json_str(j, "node", s->node);
    rm_json_str(j, "version", s->version);
    rm_json_u64(j, "proto", s->proto);
    rm_json_i64(j, "uptime_s", s->uptime_s);
    rm_json_str(j, "coordinator", s->coordinator);
    rm_json_u64(j, "epoch", s->epoch);
    rm_json_object(j, "jobs");
    rm_json_u64(j, "queued", s->jobs_queued);
    rm_json_u64(j, "active", s->jobs_active);
    rm_json_u64(j, "done", s->jobs_done);
    rm_json_u64(j, "failed", s->jobs_failed);
    rm_json_end(j);
    rm_json_u64(j, "slots", s->slots);
    rm_json_u64(j, "slots_busy", s->slots_busy);
    rm_json_bool(j, "blender_ok", s->blender_ok);
    rm_json_str(j, "blender", s->blender);
    rm_json_destroy(&j);
}

static void status_text(rm_status_reply_t *s)
{
    char up[32];
    rm_cli_fmt_age(s->uptime_s, up, sizeof up);
    printf("node         %s (meshd %s, protocol %" PRIu64 ", up %s)\n", rm_cli_clean(s->node),
           rm_cli_clean(s->version), s->proto, up);
    printf("coordinator  %s (epoch %" PRIu64 ")\n",
           s->coordinator && *s->coordinator ? rm_cli_clean(s->coordinator) : "none yet", s->epoch);
    printf("jobs         %" PRIu64 " queued, %" PRIu64 " active, %" PRIu64 " done, %" PRIu64
           " failed\n",
           s->jobs_queued, s->jobs_active, s->jobs_done, s->jobs_failed);
    printf("slots        %" PRIu64 " busy of %" PRIu64 "\n", s->slots_busy, s->slots);
    printf("blender      %s%s\n", s->blender_ok ? "" : "unavailable: ", rm_cli_clean(s->blender));
}

int rm_cmd_status(rm_cmd_ctx_t *ctx)
{
    rm_msg_t reply;
    int rc = query_node(ctx, RM_MSG_STATUS, NULL, RM_MSG_STATUS_REPLY, &reply);
    if (rc != RM_EXIT_OK)
        return rc;
    if (ctx->json)
        status_json(&reply.u.status_reply);
    else
        status_text(&reply.u.status_reply);
    rm_msg_free(&reply);
    return RM_EXIT_OK;
}

/*  --- jobs ------------------------------------------------------------------- */

static int jobs_text(rm_jobs_reply_t *r)
{
    static const char *const head[] = {"ID",     "NAME", "STATE", "DONE/TOTAL",
                                       "FAILED", "PRIO", "AGE"};
    rm_table_t *t = rm_table_new(7, head);
    int64_t now = rm_cli_now_ms();
    for (uint32_t i = 0; t && i < r->jobs.count; i++) {
        const rm_job_summary_t *s = &r->jobs.items[i];
        char done[48], failed[24], prio[24], age[24];
        snprintf(done, sizeof done, "%" PRIu64 "/%" PRIu64, s->frames_done, s->frames_total);
        snprintf(failed, sizeof failed, "%" PRIu64, s->frames_failed);
        snprintf(prio, sizeof prio, "%" PRId64, s->priority);
        rm_cli_fmt_age((now - s->submitted_at) / 1000, age, sizeof age);
        const char *row[] = {s->job_id, s->name, s->state, done, failed, prio, age};
        if (rm_table_add(t, row) != 0)
            rm_table_destroy(&t);
    }
    if (!t) {
        rm_cli_error("out of memory");
        return RM_EXIT_FAILED;
    }
    if (r->jobs.count == 0)
        printf("no jobs\n");
    else
        rm_table_print(t, stdout);
    rm_table_destroy(&t);
    for (uint32_t i = 0; i < r->jobs.count; i++) { /* why a job cannot start, below */
        rm_job_summary_t *s = &r->jobs.items[i];
        if (s->waiting && *s->waiting)
            printf("%s waits: %s\n", rm_cli_clean(s->job_id), rm_cli_clean(s->waiting));
    }
    return RM_EXIT_OK;
}

int rm_cmd_jobs(rm_cmd_ctx_t *ctx)
{
    rm_msg_t reply;
    int rc = query_node(ctx, RM_MSG_JOBS, NULL, RM_MSG_JOBS_REPLY, &reply);
    if (rc != RM_EXIT_OK)
        return rc;
    if (ctx->json) {
        rm_json_t *j = rm_json_new(stdout);
        rm_json_object(j, NULL);
        rm_json_array(j, "jobs");
        for (uint32_t i = 0; i < reply.u.jobs_reply.jobs.count; i++) {
            rm_json_object(j, NULL);
            rm_cmd_json_summary(j, &reply.u.jobs_reply.jobs.items[i]);
            rm_json_end(j);
        }
        rm_json_destroy(&j);
    } else {
        rc = jobs_text(&reply.u.jobs_reply);
    }
    rm_msg_free(&reply);
    return rc;
}

/*  --- nodes ------------------------------------------------------------------ */

static void node_json(rm_json_t *j, const rm_node_info_t *n)
{
    rm_json_object(j, NULL);
    rm_json_str(j, "name", n->name);
    rm_json_str(j, "state", n->state);
    rm_json_str(j, "address", n->address);
    rm_json_str(j, "role", n->role);
    rm_json_u64(j, "slots", n->slots);
    rm_json_u64(j, "slots_busy", n->slots_busy);
    rm_json_str(j, "rendering", n->rendering);
    rm_json_u64(j, "ms_per_frame", n->ms_per_frame);
    rm_json_bool(j, "blender_ok", n->blender_ok);
    rm_json_str(j, "blender", n->blender);
    rm_json_str(j, "caps", n->caps ? n->caps : "");
    if (n->store_known)
        rm_json_u64(j, "store_bytes", n->store_bytes);
    rm_json_u64(j, "store_cap", n->store_cap);
    rm_json_end(j);
}

/*  "1.2 GB", or "1.2 GB / 10 GB" under a cap; "" (printed "-") until the
    node has measured its store. */
static void store_text(const rm_node_info_t *n, char *out, size_t size)
{
    char held[24] = "", cap[24] = "";
    out[0] = '\0';
    if (!n->store_known)
        return;
    rm_cli_fmt_bytes(n->store_bytes, held, sizeof held);
    if (n->store_cap)
        rm_cli_fmt_bytes(n->store_cap, cap, sizeof cap);
    snprintf(out, size, "%s%s%s", held, n->store_cap ? " / " : "", cap);
}

static int nodes_text(const rm_nodes_reply_t *r)
{
    static const char *const head[] = {"NAME",      "STATE",    "ADDRESS", "ROLE",  "SLOTS",
                                       "RENDERING", "MS/FRAME", "CAN",     "STORE", "BLENDER"};
    rm_table_t *t = rm_table_new(10, head);
    for (uint32_t i = 0; t && i < r->nodes.count; i++) {
        const rm_node_info_t *n = &r->nodes.items[i];
        char slots[48], ms[24], blender[300], store[48];
        store_text(n, store, sizeof store);
        snprintf(slots, sizeof slots, "%" PRIu64 "/%" PRIu64, n->slots_busy, n->slots);
        snprintf(ms, sizeof ms, "%" PRIu64, n->ms_per_frame);
        if (n->ms_per_frame == 0)
            ms[0] = '\0'; /* unknown: printed as "-" */
        snprintf(blender, sizeof blender, "%s%s",
                 n->blender_ok ? "" : "no: ", n->blender ? n->blender : "");
        const char *row[] = {n->name, n->state,     n->address, n->role,
                             slots,   n->rendering, ms,         n->caps ? n->caps : "",
                             store,   blender};
        if (rm_table_add(t, row) != 0)
            rm_table_destroy(&t);
    }
    if (!t) {
        rm_cli_error("out of memory");
        return RM_EXIT_FAILED;
    }
    rm_table_print(t, stdout);
    rm_table_destroy(&t);
    return RM_EXIT_OK;
}

int rm_cmd_nodes(rm_cmd_ctx_t *ctx)
{
    rm_msg_t reply;
    int rc = query_node(ctx, RM_MSG_NODES, NULL, RM_MSG_NODES_REPLY, &reply);
    if (rc != RM_EXIT_OK)
        return rc;
    if (ctx->json) {
        rm_json_t *j = rm_json_new(stdout);
        rm_json_object(j, NULL);
        rm_json_array(j, "nodes");
        for (uint32_t i = 0; i < reply.u.nodes_reply.nodes.count; i++)
            node_json(j, &reply.u.nodes_reply.nodes.items[i]);
        rm_json_destroy(&j);
    } else {
        rc = nodes_text(&reply.u.nodes_reply);
    }
    rm_msg_free(&reply);
    return rc;
}

/*  --- cancel ------------------------------------------------------------------ */

/*  Signed here: every node that merges the change checks who asked for it
    (rm_job_order.h). */
static int sign_order(rm_cmd_ctx_t *ctx, rm_job_order_kind_t kind, const char *job_id,
                      int64_t priority, rm_bin_t *out)
{
    rm_token_t token;
    rm_err_t err = {0};
    int rc = rm_cmd_load_token(ctx, &token);
    if (rc != RM_EXIT_OK)
        return rc;
    rc = rm_job_order_sign(kind, job_id, (int64_t)zclock_time(), priority, &token, out, &err);
    rm_token_free(&token);
    if (rc == 0)
        return RM_EXIT_OK;
    rm_cli_error("%s", err.msg);
    return RM_EXIT_FAILED;
}

int rm_cmd_cancel(rm_cmd_ctx_t *ctx)
{
    const char *job_id = NULL;
    rm_msg_t reply;
    rm_cancel_t body = {0};
    int rc = rm_cmd_job_arg(ctx, &job_id);
    if (rc == RM_EXIT_OK)
        rc = sign_order(ctx, RM_JOB_ORDER_CANCEL, job_id, 0, &body.order);
    body.job_id = (char *)job_id;
    if (rc == RM_EXIT_OK)
        rc = query_node(ctx, RM_MSG_CANCEL, &body, RM_MSG_OK, &reply);
    free(body.order.data);
    if (rc != RM_EXIT_OK)
        return rc;
    const char *msg = reply.u.ok.message ? rm_cli_clean(reply.u.ok.message) : "";
    if (ctx->json) {
        rm_json_t *j = rm_json_new(stdout);
        rm_json_object(j, NULL);
        rm_json_str(j, "job_id", job_id);
        rm_json_bool(j, "canceled", true);
        rm_json_str(j, "message", msg);
        rm_json_destroy(&j);
    } else if (*msg) {
        printf("job %s: %s\n", job_id, msg); /* e.g. "job already finished" */
    } else {
        printf("job %s canceled\n", job_id);
    }
    rm_msg_free(&reply);
    return RM_EXIT_OK;
}

/*  --- priority ---------------------------------------------------------------- */

int rm_cmd_priority(rm_cmd_ctx_t *ctx)
{
    const char *job_id = NULL, *text = rm_args_pos(ctx->args, 1);
    rm_msg_t reply;
    int rc = rm_cmd_job_arg(ctx, &job_id);
    char *end = NULL;
    long long priority = text ? strtoll(text, &end, 10) : 0;
    if (rc == RM_EXIT_OK && (!text || !*text || *end)) {
        rm_cli_error("priority: '%s' is not a whole number", text ? text : "");
        return RM_EXIT_USAGE;
    }
    rm_priority_t body = {(char *)job_id, priority, {0}};
    if (rc == RM_EXIT_OK)
        rc = sign_order(ctx, RM_JOB_ORDER_PRIORITY, job_id, priority, &body.order);
    if (rc == RM_EXIT_OK)
        rc = query_node(ctx, RM_MSG_PRIORITY, &body, RM_MSG_OK, &reply);
    free(body.order.data);
    if (rc != RM_EXIT_OK)
        return rc;
    if (ctx->json) {
        rm_json_t *j = rm_json_new(stdout);
        rm_json_object(j, NULL);
        rm_json_str(j, "job_id", job_id);
        rm_json_i64(j, "priority", priority);
        rm_json_destroy(&j);
    } else {
        printf("job %s: priority %lld\n", job_id, priority);
    }
    rm_msg_free(&reply);
    return RM_EXIT_OK;
}

/*  --- rm ---------------------------------------------------------------------- */

int rm_cmd_rm(rm_cmd_ctx_t *ctx)
{
    const char *job_id = NULL;
    rm_token_t token;
    rm_bin_t removal = {0};
    rm_err_t err = {0};
    rm_msg_t reply;
    int rc = rm_cmd_job_arg(ctx, &job_id);
    if (rc != RM_EXIT_OK || (rc = rm_cmd_load_token(ctx, &token)) != RM_EXIT_OK)
        return rc;
    /* Signed here: every node checks who removed it (rm_removal.h). */
    int signed_rc = rm_removal_sign(job_id, (int64_t)zclock_time(), &token, &removal, &err);
    rm_token_free(&token);
    if (signed_rc != 0) {
        rm_cli_error("%s", err.msg);
        return RM_EXIT_FAILED;
    }
    rm_job_remove_t body = {.removals = {&removal, 1}};
    rc = query_node(ctx, RM_MSG_JOB_REMOVE, &body, RM_MSG_OK, &reply);
    free(removal.data);
    if (rc != RM_EXIT_OK)
        return rc;
    const char *msg = reply.u.ok.message ? rm_cli_clean(reply.u.ok.message) : "removed";
    if (ctx->json) {
        rm_json_t *j = rm_json_new(stdout);
        rm_json_object(j, NULL);
        rm_json_str(j, "job_id", job_id);
        rm_json_bool(j, "removed", true);
        rm_json_str(j, "message", msg);
        rm_json_destroy(&j);
    } else {
        printf("job %s: %s\n", job_id, msg);
    }
    rm_msg_free(&reply);
    return RM_EXIT_OK;
}

/*  --- logs -------------------------------------------------------------------- */

static void logs_out(const rm_cmd_ctx_t *ctx, const rm_logs_t *req, const rm_logs_reply_t *r)
{
    if (ctx->json) {
        rm_json_t *j = rm_json_new(stdout);
        rm_json_object(j, NULL);
        rm_json_str(j, "job_id", req->job_id);
        if (req->has_frame)
            rm_json_u64(j, "frame", req->frame);
        else
            rm_json_null(j, "frame");
        rm_json_bool(j, "truncated", r->truncated);
        rm_json_strn(j, "text", r->text.data, r->text.len);
        rm_json_destroy(&j);
        return;
    }
    if (r->truncated)
        fprintf(stderr, "meshctl: the log is long; only its last %zu bytes follow\n", r->text.len);
    /* A .blend's output and names from the network: escape sequences would
       drive the reader's terminal.  Lines and tabs stay. */
    char *text = malloc(r->text.len + 1);
    char *safe = NULL;
    if (text) {
        memcpy(text, r->text.data, r->text.len);
        text[r->text.len] = '\0';
        safe = rm_text_escaped(text, true);
    }
    if (safe) {
        fputs(safe, stdout);
        if (*safe && safe[strlen(safe) - 1] != '\n')
            fputc('\n', stdout);
    } else {
        rm_cli_error("out of memory");
    }
    free(safe);
    free(text);
}

int rm_cmd_logs(rm_cmd_ctx_t *ctx)
{
    const char *job_id = NULL, *frame = rm_args_pos(ctx->args, 1);
    rm_logs_t req = {0};
    rm_msg_t reply;
    rm_err_t err = {0};
    int rc = rm_cmd_job_arg(ctx, &job_id);
    if (rc != RM_EXIT_OK)
        return rc;
    req.job_id = (char *)job_id;
    req.has_frame = frame != NULL;
    if (frame && rm_cli_parse_u64("FRAME", frame, 0, RM_FRAME_MAX, &req.frame, &err) != 0) {
        rm_cli_error("%s", err.msg);
        return RM_EXIT_FAILED;
    }
    rc = query_node(ctx, RM_MSG_LOGS, &req, RM_MSG_LOGS_REPLY, &reply);
    if (rc != RM_EXIT_OK)
        return rc;
    logs_out(ctx, &req, &reply.u.logs_reply);
    rm_msg_free(&reply);
    return RM_EXIT_OK;
}

/*  --- job: one job, frame by frame (who rendered what, retries, reasons) ---- */

typedef struct {
    const char *node;
    uint64_t frames, ms;
} node_count_t;

/*  Frames done per node, in order of first appearance; *n entries. */
static node_count_t *count_nodes(const rm_job_reply_t *r, size_t *n)
{
    node_count_t *c = calloc(r->frames.count + 1, sizeof *c);
    *n = 0;
    for (uint32_t i = 0; c && i < r->frames.count; i++) {
        const rm_frame_info_t *f = &r->frames.items[i];
        if (strcmp(f->state, "done") != 0 || !f->node)
            continue;
        size_t k = 0;
        while (k < *n && strcmp(c[k].node, f->node) != 0)
            k++;
        if (k == *n)
            c[(*n)++].node = f->node;
        c[k].frames++;
        c[k].ms += f->render_ms;
    }
    return c;
}

/*  Frame f's entry in outs, or NULL when its files were not asked for. */
static const rm_fetch_out_t *out_of(const rm_fetch_out_t *outs, size_t nouts,
                                    const rm_frame_info_t *f)
{
    for (size_t i = 0; i < nouts; i++)
        if (outs[i].frame == f)
            return &outs[i];
    return NULL;
}

static void job_json(const rm_job_reply_t *r, const rm_fetch_out_t *outs, size_t nouts)
{
    rm_json_t *j = rm_json_new(stdout);
    rm_json_object(j, NULL);
    rm_cmd_json_summary(j, &r->summary);
    rm_json_str(j, "source", r->spec.source_root ? r->spec.source_root : "");
    rm_json_str(j, "out_url", r->spec.out_url ? r->spec.out_url : "");
    rm_json_bool(j, "private", r->redacted); /* its data is kept from you (artists_private) */
    size_t n = 0;
    node_count_t *c = count_nodes(r, &n);
    rm_json_array(j, "nodes");
    for (size_t k = 0; c && k < n; k++) {
        rm_json_object(j, NULL);
        rm_json_str(j, "node", c[k].node);
        rm_json_u64(j, "frames", c[k].frames);
        rm_json_u64(j, "mean_ms", c[k].ms / c[k].frames);
        rm_json_end(j);
    }
    rm_json_end(j);
    free(c);
    rm_json_array(j, "frames");
    for (uint32_t i = 0; i < r->frames.count; i++) {
        const rm_frame_info_t *f = &r->frames.items[i];
        rm_json_object(j, NULL);
        rm_json_u64(j, "frame", f->frame);
        rm_json_str(j, "state", f->state);
        rm_json_str(j, "node", f->node);
        rm_json_u64(j, "attempts", f->attempts);
        rm_json_u64(j, "render_ms", f->render_ms);
        rm_json_u64(j, "progress", f->progress);
        rm_json_str(j, "file", f->file);
        rm_json_u64(j, "size", f->size);
        if (!rm_hash_is_zero(&f->output)) {
            char hex[65];
            rm_hash_hex(&f->output, hex);
            rm_json_str(j, "output", hex); /* the manifest of its files */
        }
        rm_json_str(j, "error", f->error);
        rm_json_str(j, "warning", f->warning ? f->warning : "");
        rm_json_str(j, "stored", f->stored ? f->stored : "");
        const rm_fetch_out_t *o = out_of(outs, nouts, f);
        const rm_manifest_t *m = o ? &o->manifest : NULL;
        if (o && o->error) /* its output manifest could not be had now */
            rm_json_str(j, "files_error", o->error);
        rm_json_array(j, "files");
        for (uint32_t k = 0; m && k < m->files.count; k++) {
            rm_json_object(j, NULL);
            rm_json_str(j, "path", m->files.items[k].path);
            rm_json_u64(j, "size", m->files.items[k].size);
            rm_json_end(j);
        }
        rm_json_end(j);
        rm_json_end(j);
    }
    rm_json_destroy(&j);
}

/*  Each frame's warning, and with --files each output file, under the
    table: they are too long for a column. */
static void job_notes(rm_job_reply_t *r, const rm_fetch_out_t *outs, size_t nouts)
{
    for (uint32_t i = 0; i < r->frames.count; i++) {
        rm_frame_info_t *f = &r->frames.items[i];
        if (f->warning && *f->warning)
            printf("warning   frame %" PRIu64 ": %s\n", f->frame, rm_cli_clean(f->warning));
    }
    bool first = true;
    for (uint32_t i = 0; i < r->frames.count; i++) {
        rm_frame_info_t *f = &r->frames.items[i];
        if (f->stored && *f->stored) {
            printf("%-9s frame %" PRIu64 ": %s\n", first ? "stored" : "", f->frame,
                   rm_cli_clean(f->stored));
            first = false;
        }
    }
    first = true;
    for (size_t i = 0; i < nouts; i++) {
        const rm_manifest_t *m = &outs[i].manifest;
        for (uint32_t k = 0; k < m->files.count; k++) {
            char size[32];
            rm_cli_fmt_bytes(m->files.items[k].size, size, sizeof size);
            printf("%-9s frame %" PRIu64 ": %s (%s)\n", first ? "files" : "", outs[i].frame->frame,
                   rm_cli_clean(m->files.items[k].path), size);
            first = false;
        }
    }
    for (size_t i = 0; i < nouts; i++) /* lost, or the node is fetching it from the mesh */
        if (outs[i].error)
            printf("%-9s frame %" PRIu64 ": output not reachable now (%s)\n", "note",
                   outs[i].frame->frame, rm_cli_clean(outs[i].error));
}

static int job_text(rm_job_reply_t *r, const rm_fetch_out_t *outs, size_t nouts)
{
    rm_job_summary_t *s = &r->summary;
    char age[24];
    rm_cli_fmt_age((rm_cli_now_ms() - s->submitted_at) / 1000, age, sizeof age);
    char by[RM_MAX_NAME * 2 + 8];
    if (s->submitter_role && *s->submitter_role)
        snprintf(by, sizeof by, "%s '%s'", rm_cli_clean(s->submitter_role),
                 rm_cli_clean(s->submitter));
    else
        snprintf(by, sizeof by, "%s", rm_cli_clean(s->submitter));
    printf("job       %s '%s', %s (submitted by %s, %s ago)\n", rm_cli_clean(s->job_id),
           rm_cli_clean(s->name), rm_cli_clean(s->state), by, age);
    printf("frames    %" PRIu64 "/%" PRIu64 " done, %" PRIu64 " failed, %" PRIu64 " rendering\n",
           s->frames_done, s->frames_total, s->frames_failed, s->frames_rendering);
    if (r->redacted)
        printf("private   its project, frames and logs are its submitter's (artists_private)\n");
    if (r->spec.source_root && rm_s3_url_is(r->spec.source_root))
        printf("project   %s%s (read from S3 by the nodes)\n", rm_cli_clean(r->spec.source_root),
               rm_cli_clean(r->spec.blend));
    if (r->spec.out_url && *r->spec.out_url)
        printf("output    %s (each frame stored there before it counts done)\n",
               rm_cli_clean(r->spec.out_url));
    if (s->allow_scripts)
        printf(
            "scripts   allowed: the .blend's own Python runs (submitted with --allow-scripts)\n");
    if (s->error && *s->error)
        printf("error     %s\n", rm_cli_clean(s->error));
    if (s->waiting && *s->waiting)
        printf("waiting   %s\n", rm_cli_clean(s->waiting));
    size_t n = 0;
    node_count_t *c = count_nodes(r, &n);
    for (size_t k = 0; c && k < n; k++)
        printf("%-9s %s: %" PRIu64 " frame(s), %" PRIu64 " ms a frame\n", k ? "" : "rendered",
               rm_cli_clean((char *)c[k].node), c[k].frames, c[k].ms / c[k].frames);
    free(c);
    static const char *const head[] = {"FRAME", "STATE", "NODE", "ATTEMPTS", "MS", "LAST ERROR"};
    rm_table_t *t = rm_table_new(6, head);
    for (uint32_t i = 0; t && i < r->frames.count; i++) {
        rm_frame_info_t *f = &r->frames.items[i];
        char frame[24], attempts[24], ms[24], state[32];
        snprintf(frame, sizeof frame, "%" PRIu64, f->frame);
        snprintf(attempts, sizeof attempts, "%" PRIu64, f->attempts);
        snprintf(ms, sizeof ms, "%" PRIu64, f->render_ms);
        if (strcmp(f->state, "assigned") == 0)
            snprintf(state, sizeof state, "rendering %" PRIu64 "%%", f->progress);
        else
            snprintf(state, sizeof state, "%s", f->state);
        /* The last line of the reasons (one per failure, "node: reason"). */
        char *error = f->error ? rm_cli_clean(f->error) : "";
        char *last = strrchr(error, '\n');
        const char *row[] = {frame,    state, f->node ? rm_cli_clean(f->node) : "",
                             attempts, ms,    last ? last + 1 : error};
        if (rm_table_add(t, row) != 0)
            rm_table_destroy(&t);
    }
    if (!t) {
        rm_cli_error("out of memory");
        return RM_EXIT_FAILED;
    }
    rm_table_print(t, stdout);
    rm_table_destroy(&t);
    job_notes(r, outs, nouts);
    return RM_EXIT_OK;
}

int rm_cmd_job(rm_cmd_ctx_t *ctx)
{
    const char *job_id = NULL;
    rm_client_t *client = NULL;
    rm_fetch_out_t *outs = NULL;
    size_t nouts = 0;
    uint32_t not_done = 0;
    rm_err_t err = {0};
    rm_msg_t reply;
    int rc = rm_cmd_job_arg(ctx, &job_id);
    rm_job_ref_t ref = {(char *)job_id};
    if (rc == RM_EXIT_OK)
        rc = rm_cmd_connect(ctx, &client);
    if (rc == RM_EXIT_OK &&
        rm_client_call(client, RM_MSG_JOB_INFO, &ref, RM_MSG_JOB_REPLY, 0, &reply, &err) != 0)
        rc = rm_cmd_fail(&err, client);
    if (rc != RM_EXIT_OK) {
        rm_client_destroy(&client);
        return rc;
    }
    /* the output files are one more request per frame: only on demand; a
       frame whose manifest no node can give now gets a note, not a failure */
    if (rm_args_has(ctx->args, "files") &&
        rm_fetch_manifests(client, &reply.u.job_reply, &outs, &nouts, &not_done, &err) != 0)
        rc = rm_cmd_fail(&err, client);
    else if (ctx->json)
        job_json(&reply.u.job_reply, outs, nouts);
    else
        rc = job_text(&reply.u.job_reply, outs, nouts);
    rm_fetch_outs_free(outs, nouts);
    rm_msg_free(&reply);
    rm_client_destroy(&client);
    return rc;
}
