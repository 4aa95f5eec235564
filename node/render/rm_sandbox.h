/*  rm_sandbox: the command line that runs Blender inside bubblewrap.

    A .blend is untrusted input: its File Output nodes name paths, its
    embedded Python (when a job may run it) can do anything the node's user
    can.  So every Blender runs in its own namespaces (bwrap --unshare-all:
    no network, no other processes, no IPC) on a root made of read-only
    system folders (/usr, the few /etc files that programs need, /sys),
    Blender's own folder and the driver script, its project read-only, and
    writable only its output and temporary folders.  The node's home
    (tokens, roster, other jobs) is covered by an empty tmpfs, in case a
    folder bound above lies around it.  The environment is cleared but for
    names that carry no secrets (PATH, locale, TZ, OCIO, BLENDER_*,
    CYCLES_*, and the test hooks RM_FAKE_* and RM_DRIVER_*): meshd's own
    may hold cloud credentials.

    Fail closed: meshd probes the sandbox at start (rm_sandbox_probe) and a
    node that cannot build one renders nothing unless meshd.conf says
    `sandbox = false`. */
#ifndef RM_SANDBOX_H
#define RM_SANDBOX_H

#include <stddef.h>

#include "rm_error.h"

/*  What one Blender may see.  NULL or "" = none; a relative path is taken
    against our working directory. */
typedef struct {
    const char *driver;      /* the driver script, bound read-only */
    const char *node_home;   /* covered by an empty tmpfs */
    const char *project_dir; /* read-only; the working directory */
    const char *out_dir;     /* writable */
    const char *tmp_dir;     /* writable; TMPDIR and HOME */
} rm_sandbox_paths_t;

typedef struct _rm_sandbox_t rm_sandbox_t;

/*  bwrap's command line that runs argv (NULL-terminated) with paths, with
    argv[0] (Blender, or a wrapper) resolved on PATH to its real location,
    whose folder is bound read-only.  NULL on error: the
    program or bwrap not found (RM_EBLENDER), out of memory. */
rm_sandbox_t *rm_sandbox_new(const rm_sandbox_paths_t *paths, char *const *argv, rm_err_t *err);
void rm_sandbox_destroy(rm_sandbox_t **self_p);

/*  NULL-terminated, for rm_subprocess_spec_t; owned by self. */
char **rm_sandbox_argv(const rm_sandbox_t *self);

/*  Runs `program --version` in a sandbox with no project (10 s limit): 0
    if it ran and exited 0.  Otherwise err says why, for "this node will
    not render: cannot run Blender in a sandbox: ...". */
int rm_sandbox_probe(const char *program, const char *node_home, rm_err_t *err);

#endif
