#include "rm_log.h"
#include "rm_prio.h"

#include <stdio.h>
#include <string.h>

#include <czmq.h>

rm_job_t *rm_prio_outranking(rm_jobs_t *jobs, const rm_job_t *job, bool preempting,
                             rm_prio_ready_fn *ready, void *arg)
{
    int64_t mine = rm_job_priority(job);
    rm_job_t *best = NULL;
    size_t n = 0;
    rm_job_t *const *active = rm_jobs_active(jobs, &n);
    for (size_t i = 0; i < n; i++) {
        rm_job_t *other = active[i];
        const rm_job_spec_t *s = rm_job_spec(other);
        int64_t p = rm_job_priority(other);
        /* Strictly higher: equal priorities keep submission order, and
           taking back work for an equal job would only churn. */
        if (other == job || p <= mine || (preempting && !s->preempt) || rm_job_finished(other) ||
            rm_job_count(other, RM_FRAME_PENDING) == 0)
            continue;
        if (best) {
            int64_t bp = rm_job_priority(best);
            if (p < bp || (p == bp && s->submitted_at >= rm_job_spec(best)->submitted_at))
                continue;
        }
        if (ready && !ready(arg, other))
            continue;
        best = other;
    }
    return best;
}

size_t rm_prio_take_back(rm_jobs_t *jobs, rm_task_t *queue, size_t *n, rm_prio_ready_fn *ready,
                         void *arg, const char *node)
{
    size_t removed = 0;
    for (size_t i = 0; i < *n;) {
        rm_task_t *task = &queue[i];
        rm_job_t *job = rm_jobs_find(jobs, task->job_id);
        rm_job_t *by = job ? rm_prio_outranking(jobs, job, false, ready, arg) : NULL;
        if (job && !by) {
            i++;
            continue;
        }
        if (job) {
            char why[2 * RM_MAX_NAME + 100];
            snprintf(why, sizeof why,
                     "taken back on %s before it started: job %s has a higher priority", node,
                     rm_job_id(by));
            for (uint32_t k = 0; k < task->frames.count; k++)
                rm_job_frame_release(job, task->frames.items[k], why);
            rm_job_log(job, "%u queued frame(s) %s", task->frames.count, why);
        }
        rm_codec_free(&rm_task_desc, task);
        memmove(task, task + 1, (--*n - i) * sizeof *task);
        removed++;
    }
    return removed;
}

/*  A task in the queue of a job submitted with preempt that outranks job:
    it would otherwise wait for the running frame. */
static rm_job_t *queued_preempting(rm_jobs_t *jobs, const rm_job_t *job, const rm_task_t *queue,
                                   size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rm_job_t *q = rm_jobs_find(jobs, queue[i].job_id);
        if (q && !rm_job_finished(q) && rm_job_spec(q)->preempt &&
            rm_job_priority(q) > rm_job_priority(job))
            return q;
    }
    return NULL;
}

bool rm_prio_preempt(rm_jobs_t *jobs, rm_slots_t *slots, const rm_task_t *queue, size_t n,
                     rm_prio_ready_fn *ready, void *arg)
{
    for (size_t i = 0; i < rm_slots_count(slots); i++) {
        const char *id = rm_slots_job_at(slots, i);
        rm_job_t *job = id ? rm_jobs_find(jobs, id) : NULL;
        rm_job_t *by = job ? rm_prio_outranking(jobs, job, true, ready, arg) : NULL;
        if (job && !by)
            by = queued_preempting(jobs, job, queue, n);
        if (!by)
            continue;
        char why[100];
        snprintf(why, sizeof why, "preempted by job %s of higher priority", rm_job_id(by));
        rm_log_info("job %s: %s", id, why);
        rm_slots_stop(slots, i, why);
        return true;
    }
    return false;
}
