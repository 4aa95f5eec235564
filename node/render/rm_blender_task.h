/*  rm_blender_task: a RENDER task made ready before a Blender takes it:
    the .blend is a regular file, the output folder exists, the task log is
    open for appending, and the task carries the key a loaded Blender must
    match (rm_blender_args_key) and its output folder resolved (outputs are
    checked against it).  Done once per task, so that a task that cannot
    run fails with a reason before any Blender is started for it. */
#ifndef RM_BLENDER_TASK_H
#define RM_BLENDER_TASK_H

#include <stdint.h>

#include "rm_error.h"
#include "rm_slot_msg.h"

/*  Checks and makes what t needs, in that order, and sets t->key and
    t->real_out.  *log_fd is the task log (folders made, opened for
    appending) and *log_end its size, or -1 and 0 if it was not opened;
    the log is returned even when a later step fails, so that the failure
    can be written in it (the caller closes it).  -1 with err if the task
    cannot run. */
int rm_blender_task_prepare(rm_slot_task_t *t, int *log_fd, uint64_t *log_end, rm_err_t *err);

#endif
