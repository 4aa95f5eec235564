#include "rm_prio.h"

#include <string.h>

rm_job_t *rm_prio_outranking(rm_jobs_t *jobs, const rm_job_t *job, bool preempting,
                             rm_prio_ready_fn *ready, void *arg)
{
    const rm_job_spec_t *mine = rm_job_spec(job);
    rm_job_t *best = NULL;
    for (size_t i = 0; i < rm_jobs_count(jobs); i++) {
        rm_job_t *other = rm_jobs_at(jobs, i);
        const rm_job_spec_t *s = rm_job_spec(other);
        /* Strictly higher: equal priorities keep submission order, and
           taking back work for an equal job would only churn. */
        if (other == job || s->priority <= mine->priority || (preempting && !s->preempt) ||
            rm_job_finished(other) || rm_job_count(other, RM_FRAME_PENDING) == 0)
            continue;
        if (best) {
            const rm_job_spec_t *b = rm_job_spec(best);
            if (s->priority < b->priority ||
                (s->priority == b->priority && s->submitted_at >= b->submitted_at))
                continue;
        }
        if (ready && !ready(arg, other))
            continue;
        best = other;
    }
    return best;
}
