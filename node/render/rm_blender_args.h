/*  rm_blender_args: what the slot tells Blender and its driver about a task:
    Blender's command line (which carries the driver's settings as JSON),
    the render command for each frame in serve mode, and the key that says
    whether a loaded Blender can take a task.

    They live together because the key must cover everything the command
    line fixes for the life of a Blender: a setting added to one and not
    the other would let a Blender loaded for other settings render a task. */
#ifndef RM_BLENDER_ARGS_H
#define RM_BLENDER_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "rm_slot_msg.h"

/*  The fd where the driver finds its result pipe (its --result-fd). */
#define RM_BLENDER_ARGS_RESULT_FD 3
/*  Frames on one one-shot command line: keeps --frames under Linux's
    128 KiB per argument. */
#define RM_BLENDER_ARGS_ONESHOT_MAX 1000

typedef struct _rm_blender_args_t rm_blender_args_t;

/*  Blender's command line for task: background, factory settings, threads
    (0 = Blender's default), scripts as the task allows, the driver with
    its settings, then --serve, or with oneshot --frames for the frames
    from task->frames[first] on, at most RM_BLENDER_ARGS_ONESHOT_MAX.
    NULL if out of memory. */
rm_blender_args_t *rm_blender_args_new(const char *blender, const char *driver, int threads,
                                       const rm_slot_task_t *task, bool oneshot, size_t first);
void rm_blender_args_destroy(rm_blender_args_t **self_p);

/*  NULL-terminated, for rm_subprocess_spec_t; owned by self. */
char **rm_blender_args_argv(const rm_blender_args_t *self);

/*  One-shot: the command line renders task->frames[first .. end). */
size_t rm_blender_args_end(const rm_blender_args_t *self);

/*  The driver's settings as one JSON object (scene .. no_denoise, and
    out_dir if with_out_dir); malloc'd, NULL if out of memory or a string
    setting is not UTF-8 (JSON cannot carry it). */
char *rm_blender_args_settings(const rm_slot_task_t *task, bool with_out_dir);

/*  The serve-mode command to render frame into out_dir, a JSON line with
    its '\n'; malloc'd, NULL if out of memory or out_dir is not UTF-8. */
char *rm_blender_args_render(uint64_t frame, const char *out_dir);

/*  What a loaded Blender must match to take task: the job, the .blend as
    st describes it (device, inode, mtime, size: a new upload is a new
    file), the project dir, scripts and the settings but out_dir, which
    each render command carries.  malloc'd, NULL as for the settings. */
char *rm_blender_args_key(const rm_slot_task_t *task, const struct stat *st);

#endif
