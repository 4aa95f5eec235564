#include "rm_node_remove.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_fs.h"
#include "rm_log.h"
#include "rm_node_gc.h"
#include "rm_removal.h"
#include "rm_rights.h"

#define SWEEP_EVERY_MS 60000

/*  A new removal goes to every live member at once (lost: a later offer of
    the job brings it back). */
static void flood_removal(rm_node_ctx_t *self, const rm_bin_t *blob)
{
    rm_job_remove_t msg = {.removals = {(rm_bin_t *)blob, 1}};
    uint8_t *buf = NULL;
    size_t len = 0;
    if (rm_msg_encode(RM_MSG_JOB_REMOVE, 0, &msg, &buf, &len, NULL) == 0)
        rm_member_broadcast(self->member, buf, len);
    free(buf);
}

/*  Deletes the job (stopping what renders it here first) and keeps the
    removal; the caller has checked it may.  1: removed now. */
static int remove_job_here(rm_node_ctx_t *self, const rm_removal_t *r, const rm_cred_t *by,
                           const rm_bin_t *blob, const char *via, rm_err_t *err)
{
    rm_job_t *job = rm_jobs_find(self->jobs, r->job_id);
    if (!job && rm_jobs_removal(self->jobs, r->job_id))
        return 0;
    if (job && !rm_job_finished(job) && rm_job_cancel(job, NULL, err) == 0)
        rm_work_job_changed(self->work, job);
    if (rm_jobs_remove(self->jobs, r->job_id, r->removed_at, blob, err) != 0)
        return -1;
    self->remove_sweep = true;
    rm_log_info("job %s removed by %s '%s'%s%s", r->job_id, rm_role_effective(by->role), by->name,
                via ? " through " : "", via ? via : "");
    return 1;
}

int rm_node_remove_from_client(rm_node_ctx_t *self, const rm_cred_t *who, const rm_bin_t *removal,
                               const char **what, rm_err_t *err)
{
    rm_removal_t r;
    rm_cred_t by;
    *what = "removed";
    if (rm_removal_verify(removal->data, removal->len, self->token.mesh_pk.b, &r, &by, err) != 0)
        return -1;
    int rc = -1;
    rm_job_t *job = rm_jobs_find(self->jobs, r.job_id);
    if (strcmp(by.name, who->name) != 0)
        rm_err_set(err, RM_EAUTH, "the removal is signed by '%s', not by '%s' who sent it", by.name,
                   who->name);
    else if (!job && rm_jobs_removal(self->jobs, r.job_id))
        *what = "already removed", rc = 0;
    else if (!job)
        rm_err_set(err, RM_ENOTFOUND, "no job %s", r.job_id);
    else if (!rm_removal_allows(&by, rm_job_spec(job)->submitter))
        rm_err_set(err, RM_EDENIED,
                   "%s '%s' may not remove job %s of '%s': only its submitter or an admin may",
                   rm_role_effective(by.role), by.name, r.job_id, rm_job_spec(job)->submitter);
    else if (!rm_job_finished(job))
        rm_err_set(err, RM_EINVAL, "job %s is still %s: cancel it first (meshctl cancel %s)",
                   r.job_id, rm_job_state(job), r.job_id);
    else if ((rc = remove_job_here(self, &r, &by, removal, NULL, err)) >= 0) {
        flood_removal(self, removal);
        rc = 0;
    }
    rm_codec_free(&rm_removal_desc, &r);
    rm_codec_free(&rm_cred_desc, &by);
    return rc;
}

/*  One removal a node passed on: 1 new, 0 known or not for us, -1 bad. */
static int from_node(rm_node_ctx_t *self, const rm_cred_t *who, const rm_bin_t *blob, rm_err_t *err)
{
    rm_removal_t r;
    rm_cred_t by;
    if (rm_removal_verify(blob->data, blob->len, self->token.mesh_pk.b, &r, &by, err) != 0)
        return -1;
    rm_job_t *job = rm_jobs_find(self->jobs, r.job_id);
    const char *submitter = job ? rm_job_spec(job)->submitter : NULL;
    int rc = 0;
    if (job && !rm_removal_allows(&by, submitter))
        rc = rm_err_set(err, RM_EDENIED, "%s '%s' may not remove job %s of '%s'",
                        rm_role_effective(by.role), by.name, r.job_id, submitter);
    /* An artist's removal of a job not here yet cannot be checked: it comes
       back from a node that has the job when this node offers it. */
    else if (job || rm_role_has(by.role, RM_RIGHT_ANY_JOB))
        rc = remove_job_here(self, &r, &by, blob, who->name, err);
    rm_codec_free(&rm_removal_desc, &r);
    rm_codec_free(&rm_cred_desc, &by);
    return rc;
}

void rm_node_remove_from_node(rm_node_ctx_t *self, const rm_cred_t *who, const rm_msg_t *msg)
{
    const rm_job_remove_t *m = &msg->u.job_remove;
    for (uint32_t i = 0; i < m->removals.count; i++) {
        rm_err_t err;
        int rc = from_node(self, who, &m->removals.items[i], &err);
        if (rc < 0 && rm_refusal_log_ok(&self->refusals))
            rm_log_warning("jobs: removal from %s refused: %s", who->name, err.msg);
        if (rc > 0)
            flood_removal(self, &m->removals.items[i]);
    }
}

static void expired(void *arg, const char *job_id)
{
    rm_node_ctx_t *self = arg;
    self->remove_sweep = true;
    rm_log_info("job %s removed: finished more than %llu day(s) ago (retain_days)", job_id,
                (unsigned long long)self->config.retain_days);
}

/*  Project folders (projects/<manifest>) no job held here refers to. */
static void collect_projects(rm_node_ctx_t *self)
{
    char dir[1100], path[1400], hex[65];
    rm_err_t err;
    if (rm_node_home_path(self, "projects", dir, sizeof dir, &err) != 0)
        return;
    zhashx_t *used = zhashx_new();
    DIR *d = used ? opendir(dir) : NULL;
    if (!d) {
        zhashx_destroy(&used);
        return;
    }
    for (size_t i = 0, n = rm_jobs_count(self->jobs); i < n; i++) {
        rm_hash_hex(&rm_job_spec(rm_jobs_at(self->jobs, i))->manifest, hex);
        zhashx_update(used, hex, (void *)1);
    }
    size_t removed = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        rm_hash_t h;
        if (rm_hash_parse(de->d_name, &h) != 0 || zhashx_lookup(used, de->d_name))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (rm_fs_remove_tree(path, &err) == 0)
            removed++;
        else
            rm_log_warning("cannot delete the project folder %s: %s", path, err.msg);
    }
    closedir(d);
    zhashx_destroy(&used);
    if (removed > 0)
        rm_log_info("%zu project folder(s) no job refers to deleted", removed);
}

void rm_node_remove_tick(rm_node_ctx_t *self, int64_t now)
{
    if (now < self->remove_next && !self->remove_sweep)
        return;
    if (now >= self->remove_next) {
        self->remove_next = now + SWEEP_EVERY_MS;
        rm_jobs_expire(self->jobs, (int64_t)zclock_time(), expired, self);
    }
    if (self->remove_sweep) {
        self->remove_sweep = false;
        collect_projects(self);
        rm_node_gc_tick(self, now, true); /* their chunks next */
    }
}
