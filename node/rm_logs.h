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

    These helpers do the file and store work; rm_node answers LOGS. */
#ifndef RM_LOGS_H
#define RM_LOGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rm_error.h"
#include "rm_store.h"

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

#endif
