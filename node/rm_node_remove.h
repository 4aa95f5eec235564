/*  rm_node_remove: jobs leaving the mesh (issue 8, point 5).

    `meshctl rm JOB` sends a removal signed by its author (protocol/
    rm_removal.h); the node checks it (an admin, or the artist who
    submitted the job; a finished job), deletes the job and keeps the
    removal as a tombstone (rm_jobs_remove), then passes it to every
    member, which do the same.  A node that offers a removed job later
    (a record, a delta, a digest) gets the removal back (rm_jobsync).
    Finished jobs also leave on their own, retain_days after they
    finished (meshd.conf), on every node alike.  Project folders no job
    refers to any more are deleted after either. */
#ifndef RM_NODE_REMOVE_H
#define RM_NODE_REMOVE_H

#include "rm_node_ctx.h"

/*  A removal from a client (`who`): 0 and *what ("removed", "already
    removed"), or an error for the client (RM_ENOTFOUND, RM_EDENIED,
    RM_EINVAL for a job still rendering, RM_EAUTH for a bad signature). */
int rm_node_remove_from_client(rm_node_ctx_t *self, const rm_cred_t *who, const rm_bin_t *removal,
                               const char **what, rm_err_t *err);

/*  JOB_REMOVE from another node: new removals are applied and passed on. */
void rm_node_remove_from_node(rm_node_ctx_t *self, const rm_cred_t *who, const rm_msg_t *msg);

/*  Retention and project folders, at most once a minute. */
void rm_node_remove_tick(rm_node_ctx_t *self, int64_t now);

#endif
