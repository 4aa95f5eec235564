/*  rm_blender: a render slot, an actor that keeps one Blender alive and
    drives it frame by frame through node/blender_driver.py.

    Why a kept-alive Blender: starting Blender and loading a scene costs about
    a second here, often more than a frame.  The slot keeps the process (and
    the loaded scene) between tasks of the same job and starts a new one when
    the job or its settings change.  If the driver cannot serve (it never says
    "ready", or Blender exits before it without blaming the job), the slot
    falls back to one Blender per task in one-shot mode (--frames) and keeps
    doing so for that job.

    Pipe protocol.  Every frame is a string; numbers are decimal.  Use the
    helpers below rather than building frames by hand.

    parent -> slot
      "RENDER" job_id blend project_dir out_dir log_path scene camera engine
               device format samples percent res_x res_y gpu allow_scripts
               frame_timeout_s frames
          19 frames.  blend is absolute; project_dir becomes Blender's cwd;
          the log is appended to (parent dirs created); outputs are
          out_dir/frame_0001.png etc.  scene .. format: "" = as in the file;
          samples .. res_y: 0 = as in the file; gpu: 0 = every device of
          the type, N = the Nth; allow_scripts: "0"/"1"; frame_timeout_s: 0 = none;
          frames: comma-separated list, e.g. "1,2,3".
      "CANCEL" job_id      stop rendering that job (kills its Blender)
      "RELEASE"            quit an idle Blender (frees its memory)
      "$TERM"              kill Blender and end the actor (zactor_destroy)

    slot -> parent
      "PROGRESS" job_id frame percent          at most 4 a second
      "FRAME_DONE" job_id frame file render_ms pid
          file is the output's absolute path (checked to exist, non-empty);
          pid is the Blender process that rendered it
      "FRAME_FAILED" job_id frame reason
      "TASK_DONE" job_id mode                  mode: "persistent" | "oneshot"
      "TASK_FAILED" job_id reason fatal
          fatal "1": the job itself is broken (unreadable .blend, no such
          scene or camera, bad setting): no node can render it.  "0": this
          node or this attempt failed (no GPU, Blender missing, slot busy).
      "TASK_CANCELED" job_id

    Every RENDER ends with exactly one TASK_DONE, TASK_FAILED or
    TASK_CANCELED; after it the slot is free.  Frames of the task reported
    neither FRAME_DONE nor FRAME_FAILED were not rendered.  A TASK_DONE task
    may contain failed frames.  Send one RENDER at a time: a RENDER while
    busy is answered by TASK_FAILED (fatal 0) for the new job.

    Failures per frame: a frame that exceeds frame_timeout_s is killed
    (SIGKILL) and fails "timed out after N s"; a crash fails the frame
    ("Blender crashed with signal 11 (Segmentation fault)", "Blender exited
    with status 1"); a missing output fails it.  The rest of the task goes on
    in a fresh Blender. */
#ifndef RM_BLENDER_H
#define RM_BLENDER_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "rm_error.h"

/*  Blender's own bound (MAXFRAME). */
#define RM_BLENDER_MAX_FRAME 1048574

typedef struct {
    const char *blender;   /* absolute path, or a name looked up on PATH */
    const char *driver;    /* blender_driver.py; NULL = rm_blender_driver_path () */
    int index;             /* slot number, for logs */
    int threads;           /* Blender's -t; 0 = Blender's default (all cores) */
    int startup_timeout_s; /* scene load + driver "ready"; 0 = 120 s; the
                              one-shot fallback waits at least 120 s */
} rm_slot_config_t;

/*  What the runner applies to the scene: the render fields of rm_job_spec_t. */
typedef struct {
    const char *scene;  /* "" or NULL = the file's active scene */
    const char *camera; /* "" or NULL = the scene's camera */
    const char *engine; /* "" | CYCLES | BLENDER_EEVEE | BLENDER_WORKBENCH */
    const char *device; /* "" (= CPU) | CPU | CUDA | OPTIX | HIP */
    const char *format; /* "" | PNG | JPEG | OPEN_EXR | TIFF */
    uint64_t samples;   /* 0 = as in the file */
    uint64_t percent;   /* resolution percentage, 0 = as in the file */
    uint64_t res_x;     /* 0 = as in the file */
    uint64_t res_y;
    unsigned gpu; /* 0 = every device of the type, N = only the Nth (1-based) */
} rm_render_settings_t;

typedef struct {
    const char *job_id;
    const char *blend;       /* absolute path of the .blend */
    const char *project_dir; /* Blender's working directory */
    const char *out_dir;     /* outputs land here as frame_####.ext */
    const char *log_path;    /* Blender's output is appended here */
    rm_render_settings_t settings;
    bool allow_scripts;       /* run the file's embedded Python */
    uint64_t frame_timeout_s; /* 0 = no limit */
    const uint64_t *frames;
    size_t frame_count;
} rm_render_task_t;

typedef enum {
    RM_SLOT_PROGRESS = 1,
    RM_SLOT_FRAME_DONE,
    RM_SLOT_FRAME_FAILED,
    RM_SLOT_TASK_DONE,
    RM_SLOT_TASK_FAILED,
    RM_SLOT_TASK_CANCELED,
} rm_slot_event_type_t;

/*  A decoded slot event; strings are owned, free with rm_slot_event_clear. */
typedef struct {
    rm_slot_event_type_t type;
    char *job_id;
    uint64_t frame;     /* PROGRESS, FRAME_DONE, FRAME_FAILED */
    int percent;        /* PROGRESS */
    char *file;         /* FRAME_DONE */
    uint64_t render_ms; /* FRAME_DONE */
    int pid;            /* FRAME_DONE */
    char *reason;       /* FRAME_FAILED, TASK_FAILED */
    bool fatal;         /* TASK_FAILED */
    bool oneshot;       /* TASK_DONE: rendered by one-shot Blenders */
} rm_slot_event_t;

/*  Starts a slot.  Strings in config are copied.  NULL if config lacks the
    Blender path.  Destroy with zactor_destroy (kills Blender). */
zactor_t *rm_slot_new(const rm_slot_config_t *config);

/*  Validates task and sends RENDER.  -1 with RM_EINVAL on a bad task. */
int rm_slot_render(zactor_t *slot, const rm_render_task_t *task, rm_err_t *err);

/*  Sends CANCEL job_id / RELEASE. */
int rm_slot_cancel(zactor_t *slot, const char *job_id);
int rm_slot_release(zactor_t *slot);

/*  Decodes one event received from a slot's pipe and destroys *msg_p.
    -1 with RM_EPROTO on a malformed message; ev is cleared either way. */
int rm_slot_event_decode(zmsg_t **msg_p, rm_slot_event_t *ev, rm_err_t *err);

/*  Receives and decodes the next event; blocks (use a zpoller to wait). */
int rm_slot_event_recv(zactor_t *slot, rm_slot_event_t *ev, rm_err_t *err);

void rm_slot_event_clear(rm_slot_event_t *ev);

/*  "PROGRESS", "FRAME_DONE", ... */
const char *rm_slot_event_name(rm_slot_event_type_t type);

/*  Runs `blender --version` (10 s limit) and copies its version line
    ("Blender 3.4.1") to version.  Errors: "blender not found at PATH",
    "blender at PATH failed: ...". */
int rm_blender_probe(const char *blender, char *version, size_t size, rm_err_t *err);

/*  Finds blender_driver.py: the source tree's copy if present (developers),
    else the installed one, else ../share/rendermesh/ beside the running
    executable. */
int rm_blender_driver_path(char *path, size_t size, rm_err_t *err);

#endif
