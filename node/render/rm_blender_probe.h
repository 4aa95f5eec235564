/*  rm_blender_probe: this node's Blender before any slot starts it: which
    version it is, what its build can do that a job may require, and where
    the driver script the slots give it is.  meshd asks once at start and
    says the node will not render when Blender is missing or broken. */
#ifndef RM_BLENDER_PROBE_H
#define RM_BLENDER_PROBE_H

#include <stddef.h>

#include "rm_error.h"

/*  Runs `blender --version` (10 s limit) and copies its version line
    ("Blender 3.4.1") to version.  Errors: "blender not found at PATH",
    "blender at PATH failed: ...". */
int rm_blender_probe_version(const char *blender, char *version, size_t size, rm_err_t *err);

/*  Asks Blender (a background run, 10 s limit) what its build can do that
    a job may require, as space-separated words: "denoise" when Cycles has
    OpenImageDenoise; "" when it has none of them. */
int rm_blender_probe_caps(const char *blender, char *caps, size_t size, rm_err_t *err);

/*  Finds blender_driver.py: the source tree's copy if present (developers),
    else the installed one, else ../share/rendermesh/ beside the running
    executable. */
int rm_blender_probe_driver(char *path, size_t size, rm_err_t *err);

#endif
