/*  A job as the client sees it: the summary and the per-frame report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_job_private.h"

static const char *frame_state_name(uint64_t state)
{
    static const char *const names[] = {"pending", "assigned", "done", "failed"};
    return state <= RM_FRAME_FAILED ? names[state] : "unknown";
}

int rm_job_summary(const rm_job_t *job, rm_job_summary_t *out, rm_err_t *err)
{
    rm_job_summary_t s = {0};
    const rm_job_spec_t *spec = &job->rec.spec;
    s.job_id = spec->job_id;
    s.name = spec->name;
    s.state = (char *)rm_job_state(job);
    s.priority = rm_job_priority(job);
    s.frames_total = job->rec.frames.count;
    for (size_t i = 0; i < job->rec.frames.count; i++) {
        uint64_t st = job->rec.frames.items[i].state;
        s.frames_done += st == RM_FRAME_DONE;
        s.frames_failed += st == RM_FRAME_FAILED;
        s.frames_rendering += st == RM_FRAME_ASSIGNED;
    }
    s.submitted_at = spec->submitted_at;
    s.started_at = job->rec.started_at;
    s.finished_at = job->rec.finished_at;
    s.submitter = spec->submitter;
    s.allow_scripts = spec->allow_scripts;
    s.submitter_role = spec->submitter_role;
    s.error = job->rec.error;
    s.version = job->version;
    memset(out, 0, sizeof *out);
    return rm_codec_copy(&rm_job_summary_desc, out, &s, err);
}

int rm_job_info(const rm_job_t *job, rm_job_reply_t *out, rm_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (rm_job_summary(job, &out->summary, err) != 0 ||
        rm_codec_copy(&rm_job_spec_desc, &out->spec, &job->rec.spec, err) != 0)
        goto fail;
    uint32_t n = job->rec.frames.count;
    out->frames.items = calloc(n ? n : 1, sizeof(rm_frame_info_t));
    if (!out->frames.items) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        goto fail;
    }
    out->frames.count = n;
    for (uint32_t i = 0; i < n; i++) {
        const rm_frame_rec_t *f = &job->rec.frames.items[i];
        rm_frame_info_t *o = &out->frames.items[i];
        o->frame = f->frame;
        o->state = strdup(frame_state_name(f->state));
        o->node = rm_job_strdup_or_empty(f->node);
        o->attempts = f->attempts;
        o->render_ms = f->render_ms;
        o->progress = f->state == RM_FRAME_ASSIGNED ? job->progress[i] : 0;
        o->output = f->output;
        o->size = f->size;
        o->file = rm_job_strdup_or_empty(f->file);
        o->error = rm_job_strdup_or_empty(f->error);
        o->warning = rm_job_strdup_or_empty(f->warning);
        o->log = f->log;
        /* A frame done for a job with an S3 output is stored there (it
           counts done only then), its main image at the prefix + file. */
        const char *url = job->rec.spec.out_url;
        bool in_s3 = url && url[0] && f->state == RM_FRAME_DONE && f->file && f->file[0];
        size_t n = in_s3 ? strlen(url) + strlen(f->file) + 1 : 1;
        if ((o->stored = malloc(n)))
            snprintf(o->stored, n, "%s%s", in_s3 ? url : "", in_s3 ? f->file : "");
        if (!o->state || !o->node || !o->file || !o->error || !o->warning || !o->stored) {
            rm_err_set(err, RM_ENOMEM, "out of memory");
            goto fail;
        }
    }
    return 0;
fail:
    rm_codec_free(rm_msg_desc(RM_MSG_JOB_REPLY), out);
    return -1;
}
