/*  rm_blender: a render slot, an actor that keeps one Blender alive and
    drives it frame by frame through node/render/blender_driver.py.

    Why a kept-alive Blender: starting Blender and loading a scene costs about
    a second here, often more than a frame.  The slot keeps the process (and
    the loaded scene) between tasks of the same job and starts a new one when
    the job or its settings change.  If the driver cannot serve (it never says
    "ready", or Blender exits before it without blaming the job), the slot
    falls back to one Blender per task in one-shot mode (--frames) and keeps
    doing so for that job.

    The pipe protocol (RENDER, CANCEL, RELEASE and the events back) and its
    helpers are in rm_slot_msg.h, included here for the slot's callers. */
#ifndef RM_BLENDER_H
#define RM_BLENDER_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "rm_error.h"
#include "rm_slot_msg.h"

typedef struct {
    const char *blender;   /* absolute path, or a name looked up on PATH */
    const char *driver;    /* blender_driver.py; NULL = rm_blender_probe_driver () */
    int index;             /* slot number, for logs */
    int threads;           /* Blender's -t; 0 = Blender's default (all cores) */
    int startup_timeout_s; /* scene load + driver "ready"; 0 = 120 s; the
                              one-shot fallback waits at least 120 s */
    bool sandbox;          /* run each Blender in rm_sandbox (else as we run) */
    const char *node_home; /* hidden from a sandboxed Blender */
} rm_blender_config_t;

/*  Starts a slot.  Strings in config are copied.  NULL if config lacks the
    Blender path.  Destroy with zactor_destroy (kills Blender). */
zactor_t *rm_blender_new(const rm_blender_config_t *config);

#endif
