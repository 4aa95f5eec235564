/*  rm_caps: what a node's Blender can do against what a job requires.

    A node advertises capabilities as space-separated words (gossiped with
    its membership, shown by `meshctl nodes`): "denoise" when its Cycles
    has OpenImageDenoise.  A job lists the words it requires (spec.requires,
    sorted and distinct, filled by meshctl from the scene: a scene that
    denoises requires "denoise" unless submitted with --no-denoise).  A
    worker asks only for jobs it can honour; a job no node can take waits,
    and says why, instead of rendering something else or failing. */
#ifndef RM_CAPS_H
#define RM_CAPS_H

#include <stdbool.h>
#include <stddef.h>

#include "rm_msg.h"

#define RM_CAP_MAX 32 /* bytes of one capability word */

/*  spec.requires is well formed: at most RM_MAX_REQUIRES words of 1 to
    RM_CAP_MAX bytes of [a-z0-9._-], sorted and distinct.  RM_EINVAL names
    the bad one.  Unknown words are allowed: a newer node may have them. */
int rm_caps_check_requires(const rm_job_spec_t *spec, rm_err_t *err);

/*  True if caps (space-separated words) has every word spec requires; else
 *missing (if not NULL) points at the first one it lacks. */
bool rm_caps_satisfy(const char *caps, const rm_job_spec_t *spec, const char **missing);

/*  Why an unfinished job cannot start anywhere among `nodes` (members as
    NODES lists them, this one included): written to why (empty if some
    alive node that renders can take it). */
void rm_caps_waiting(const rm_job_spec_t *spec, const rm_node_info_t *nodes, size_t count,
                     char *why, size_t size);

#endif
