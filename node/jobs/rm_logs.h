/*  rm_logs: Blender's log of each frame, which travels like an output.

    A slot appends Blender's output for a task to JOBDIR/logs/frames_A-B.log
    (rm_blender).  When a frame is rendered, the part of that file written
    since the task's previous frame (for the first frame: since the task
    began, so the scene's loading, where missing files are reported, is
    included) is cut into JOBDIR/logs/frame_NNNN.log.  rm_slots stores that
    file in the chunk store as a one-file manifest whose hash goes into the
    frame's record (rm_frame_rec_t.log); it is replicated with the output
    (REPLICATE's `log`), so LOGS JOB FRAME is answered by any node: from its
    store, or after fetching it from the members.  Failed frames have no
    such record: their logs stay in the task logs on the node that tried.

    The helpers below do the file and store work; rm_logs_server answers
    LOGS for the node actor. */
#ifndef RM_LOGS_H
#define RM_LOGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <czmq.h>

#include "rm_error.h"
#include "rm_jobs.h"
#include "rm_jobsync.h"
#include "rm_member.h"
#include "rm_store.h"
#include "rm_xfer.h"

/*  TASK_LOG's folder/frame_NNNN.log, into buf.  -1 if it does not fit. */
int rm_logs_frame_path(const char *task_log, uint64_t frame, char *buf, size_t size);

/*  Copies task_log from byte *from to its end into dest (replaced; only the
    last RM_MAX_LOG bytes if longer) and sets *from to that end.  A task log
    that shrank (rewritten) is copied from its start. */
int rm_logs_cut(const char *task_log, uint64_t *from, const char *dest, rm_err_t *err);

/*  Appends the last bytes of the file at path to *buf (*len updated), so
    that *len stays at most RM_MAX_LOG; *truncated is set if the file's
    start was left out.  -1 if it cannot be read. */
int rm_logs_append_file(const char *path, uint8_t **buf, size_t *len, bool *truncated);

/*  Appends every task log of job_dir/logs that covers `frame`; true if one
    was found. */
bool rm_logs_append_task_logs(const char *job_dir, uint64_t frame, uint8_t **buf, size_t *len,
                              bool *truncated);

/*  Reads the log stored as the one-file manifest `log` (its tail, at most
    RM_MAX_LOG bytes) into *buf (malloc'd).  RM_ENOTFOUND if the manifest or
    a chunk of it is not in the store (fetch it, then ask again). */
int rm_logs_read_stored(rm_store_t *store, const rm_hash_t *log, uint8_t **buf, size_t *len,
                        bool *truncated, rm_err_t *err);

/* ------------------------------------------------------------------------ */
/*  Answering LOGS JOB FRAME on any node                                     */

/*  A LOGS forwarded to the node that tried a frame: given up after this (a
    client waits 3 s). */
#define RM_LOGS_FORWARD_MS 2000

typedef struct _rm_logs_server_t rm_logs_server_t;

/*  Runs inside the node actor, which owns every socket and object given
    here: replies go to clients on `mesh` (the main ROUTER), forwards to
    other nodes through `member`, fetches through `xfer`.  Destroy it after
    xfer (whose callbacks it receives). */
rm_logs_server_t *rm_logs_server_new(const char *node_name, zsock_t *mesh, rm_store_t *store,
                                     rm_member_t *member, rm_jobsync_t *jobsync, rm_xfer_t *xfer,
                                     rm_err_t *err);
void rm_logs_server_destroy(rm_logs_server_t **self_p);

/*  LOGS for `job` from `who` (peer: its routing id on mesh): a frame's log
    stored with it (read here, or fetched from the members first), else this
    node's task logs, else forwarded to the node that last tried the frame,
    or an error saying where the log is (EUNREACH: that node is gone).  A
    request from a node is answered with what this node has: no loops. */
void rm_logs_server_request(rm_logs_server_t *self, zframe_t *peer, const rm_cred_t *who,
                            uint64_t req, rm_job_t *job, const rm_logs_t *q);

/*  A LOGS_REPLY or ERROR from a node: true if it answers a forwarded LOGS
    (it is relayed to the client then). */
bool rm_logs_server_on_message(rm_logs_server_t *self, const rm_msg_t *msg);

/*  Forwards that went unanswered for RM_LOGS_FORWARD_MS are answered
    ETIMEOUT.  Call every turn (at least every second). */
void rm_logs_server_tick(rm_logs_server_t *self, int64_t now);

#endif
