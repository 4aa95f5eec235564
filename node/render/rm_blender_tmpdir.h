/*  rm_blender_tmpdir: a slot's private TMPDIR for its Blenders.

    Blender makes a session dir, $TMPDIR/blender_XXXXXX, and removes it
    when it exits normally, not after SIGKILL (a frame timeout, a cancel,
    the OOM killer).  So each slot gives its Blenders a TMPDIR of their own,
    empties it after each process, and removes it when the slot ends; the
    dirs of meshd processes that died without cleaning up are removed when
    the next slot starts. */
#ifndef RM_BLENDER_TMPDIR_H
#define RM_BLENDER_TMPDIR_H

#include "rm_error.h"

typedef struct _rm_blender_tmpdir_t rm_blender_tmpdir_t;

/*  Makes $TMPDIR (else /tmp) /rendermesh-slotSLOT-PID-XXXXXX, first
    removing such dirs whose PID no longer exists.  NULL if it cannot, with
    err's message the system's reason alone ("No space left on device"). */
rm_blender_tmpdir_t *rm_blender_tmpdir_new(int slot, rm_err_t *err);

/*  Removes the dir with everything in it; NULLs *self_p. */
void rm_blender_tmpdir_destroy(rm_blender_tmpdir_t **self_p);

const char *rm_blender_tmpdir_path(const rm_blender_tmpdir_t *self);

/*  Our environment with TMPDIR set to the dir, for rm_subprocess_spec_t;
    owned by self. */
char **rm_blender_tmpdir_env(const rm_blender_tmpdir_t *self);

/*  Removes what Blender left in the dir (blender_*), after each process. */
void rm_blender_tmpdir_purge(rm_blender_tmpdir_t *self);

#endif
