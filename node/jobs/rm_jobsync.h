/*  rm_jobsync: every node holds every job; this keeps the copies meeting.

    - Push: what changed here (rm_job_take_changes) goes out each loop
      iteration to every alive member that accepts connections: changed
      frame records as JOB_DELTA, the whole record (JOB_SYNC) when a
      job-level field changed.  Changes merged in from a peer are not
      pushed again: their author pushes them.
    - Pull (anti-entropy): every RM_JOBSYNC_DIGEST_MS a JOB_DIGEST with
      only a summary (the XOR of a hash per record) goes to one random
      member; one whose summary differs answers with its whole digest (a
      hash per record), the first sends back every record that differs
      and its own digest, and the other does the same.  Nodes that agree
      exchange 32 bytes, however many jobs they hold.
      This repairs lost messages and partitions, and is how a node behind
      NAT (no inbound connections) gets records: it asks.
    - A submission is acknowledged once a second node holds it
      (rm_jobsync_replicate): JOB_SYNC with want_held goes to the members,
      each merges it, fetches the project (rm_xfer) and answers JOB_HELD.
    - Projects: a node fetches the project of every unfinished job it
      learns of, from the members that have it, so that it can render.

    Merging is rm_jobs' (commutative, idempotent): copies meet in any
    order. */
#ifndef RM_JOBSYNC_H
#define RM_JOBSYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_jobs.h"
#include "rm_member.h"
#include "rm_store.h"
#include "rm_xfer.h"

#define RM_JOBSYNC_DIGEST_MS 1000
#define RM_JOBSYNC_PROJECT_RETRY_MS 5000

typedef struct _rm_jobsync_t rm_jobsync_t;

/*  A job changed by a merge (created: it is new here). */
typedef void(rm_jobsync_changed_fn)(void *arg, rm_job_t *job, bool created);

/*  The end of a rm_jobsync_replicate: status 0 = a second node holds the
    job; else an rm_code_t (RM_EAGAIN: none did in time) and a reason. */
typedef void(rm_jobsync_held_fn)(void *arg, const char *job_id, int status, const char *error);

rm_jobsync_t *rm_jobsync_new(rm_jobs_t *jobs, rm_member_t *member, rm_xfer_t *xfer,
                             rm_store_t *store, rm_err_t *err);
void rm_jobsync_destroy(rm_jobsync_t **self_p);

void rm_jobsync_on_changed(rm_jobsync_t *self, rm_jobsync_changed_fn *fn, void *arg);

/*  A job's project could not be fetched from the members (each try, every
    RM_JOBSYNC_PROJECT_RETRY_MS): status and error say why.  The node reads
    a project that came from S3 again from there (rm_node_s3_refill). */
typedef void(rm_jobsync_lacking_fn)(void *arg, rm_job_t *job, int status, const char *error);
void rm_jobsync_on_project_lacking(rm_jobsync_t *self, rm_jobsync_lacking_fn *fn, void *arg);

/*  Pushes local changes.  Call after anything that may change a job. */
void rm_jobsync_flush(rm_jobsync_t *self);

/*  Digests, submission time-outs, project fetch retries. */
void rm_jobsync_tick(rm_jobsync_t *self, int64_t now);
int64_t rm_jobsync_wakeup(rm_jobsync_t *self, int64_t now);

/*  JOB_SYNC, JOB_HELD, JOB_DELTA, JOB_DIGEST from the member at `from`
    (an address rm_member_send takes).  Returns false for other types. */
bool rm_jobsync_handle(rm_jobsync_t *self, const char *from, const rm_cred_t *who,
                       const rm_msg_t *msg);

/*  Has a second node hold the job: fn is called once, with 0 when one
    answered JOB_HELD, or at once when no other member is alive; with
    RM_EAGAIN after timeout_ms otherwise.  Asked again for the same job, fn
    and arg while that wait runs: the job is sent to the members again and
    the one wait goes on, its end unchanged. */
int rm_jobsync_replicate(rm_jobsync_t *self, rm_job_t *job, int64_t timeout_ms,
                         rm_jobsync_held_fn *fn, void *arg, rm_err_t *err);

/*  The waits for job_id end no sooner than `deadline` (mono ms): the
    members are still fetching its project (rm_node_submit_progress). */
void rm_jobsync_replicate_extend(rm_jobsync_t *self, const char *job_id, int64_t deadline);

/*  True once every chunk of the job's project is in the store here; until
    then a fetch from the members is under way (started by this call if
    needed). */
bool rm_jobsync_project_ready(rm_jobsync_t *self, rm_job_t *job);

/*  True if this node's last fetch of the job's project failed because no
    member had some of its chunks (every copy evicted under store_cap_mb,
    or lost with its nodes): it is tried again, but only a new submission
    of the project brings it back, or S3 for a project read from there
    (rm_jobsync_on_project_lacking). */
bool rm_jobsync_project_nowhere(rm_jobsync_t *self, const char *job_id);

/*  Every alive member that accepts connections, as addresses (at most max:
    a random sample of them when there are more), the member named `first`
    (if alive) first: sources for rm_xfer. */
size_t rm_jobsync_sources(rm_jobsync_t *self, const char *first, const char **out, size_t max);

#endif
