/*  rm_slot_msg: the pipe protocol between the node and a render slot
    (rm_blender): building and decoding its commands and events.

    Every frame is a string; numbers are decimal.  Use the
    helpers below rather than building frames by hand.

    parent -> slot
      "RENDER" job_id blend project_dir out_dir log_path scene camera engine
               device format source_root samples percent res_x res_y gpu
               allow_scripts frame_timeout_s no_denoise frames
          21 frames.  blend is absolute; project_dir becomes Blender's cwd;
          the log is appended to (parent dirs created); outputs are
          out_dir/frame_0001.png etc.  scene .. format: "" = as in the file;
          samples .. res_y: 0 = as in the file; gpu: 0 = every device of
          the type, N = the Nth; allow_scripts: "0"/"1"; frame_timeout_s: 0 = none;
          no_denoise: "1" renders without the file's denoising (the
          submitter's explicit choice), "0" keeps it; source_root: the
          submitter's folder the project came from ("" = unknown), so that
          paths the .blend stores as absolute below it are read from the
          project;
          frames: comma-separated list, e.g. "1,2,3".
      "CANCEL" job_id      stop rendering that job (kills its Blender)
      "RELEASE"            quit an idle Blender (frees its memory); rm_slots
                           sends it after slot_idle_s without a task
      "$TERM"              kill Blender and end the actor (zactor_destroy)

    slot -> parent
      "PROGRESS" job_id frame percent          at most 4 a second
      "FRAME_DONE" job_id frame file render_ms pid dir files warning log
          file is the main image's absolute path (checked to exist,
          non-empty); pid is the Blender process that rendered it; dir is
          the frame's own output folder (file is in it) and files every
          file Blender wrote there, relative to dir, one per line (main
          image, File Output nodes, views); warning what the driver
          noticed (files the scene uses that are missing), "" if nothing;
          log the frame's own Blender log (rm_logs_cut), "" if it could
          not be written
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
#ifndef RM_SLOT_MSG_H
#define RM_SLOT_MSG_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "rm_error.h"

/*  Blender's own bound (MAXFRAME). */
#define RM_BLENDER_MAX_FRAME 1048574

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
    unsigned gpu;            /* 0 = every device of the type, N = only the Nth (1-based) */
    bool no_denoise;         /* render without the file's denoising (the submitter said so) */
    const char *source_root; /* "" or NULL = unknown; see rm_job_spec_t */
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
    char *file;         /* FRAME_DONE: the main image */
    char *dir;          /* FRAME_DONE: the frame's output folder */
    char *files;        /* FRAME_DONE: its files relative to dir, '\n'-separated */
    char *warning;      /* FRAME_DONE: "" or what Blender left out */
    uint64_t render_ms; /* FRAME_DONE */
    int pid;            /* FRAME_DONE */
    char *log;          /* FRAME_DONE: the frame's Blender log, "" if none */
    char *reason;       /* FRAME_FAILED, TASK_FAILED */
    bool fatal;         /* TASK_FAILED */
    bool oneshot;       /* TASK_DONE: rendered by one-shot Blenders */
} rm_slot_event_t;

/*  Validates task and sends RENDER.  -1 with RM_EINVAL on a bad task. */
int rm_slot_render(zactor_t *slot, const rm_render_task_t *task, rm_err_t *err);

/*  Validates task and builds its RENDER message.  NULL with RM_EINVAL on a
    bad task, RM_ENOMEM if out of memory. */
zmsg_t *rm_slot_render_msg(const rm_render_task_t *task, rm_err_t *err);

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

/* ------------------------------------------------------------------------ */
/*  The slot's side                                                          */

/*  A decoded RENDER; strings are owned, numbers as sent. */
typedef struct {
    char *job_id, *blend, *project_dir, *out_dir, *log_path;
    char *scene, *camera, *engine, *device, *format, *source_root;
    uint64_t samples, percent, res_x, res_y, gpu, allow_scripts, frame_timeout_s, no_denoise;
    uint64_t *frames;
    size_t frame_count;
    char *key;      /* set by the slot: what a loaded Blender must match */
    char *real_out; /* set by the slot: out_dir resolved */
} rm_slot_task_t;

/*  Decodes a RENDER message whose command frame was already popped.  Sets
    *job_id to a copy of its first frame ("" if none), to answer even a
    malformed one.  NULL if malformed or invalid. */
rm_slot_task_t *rm_slot_task_decode(zmsg_t *msg, char **job_id);

/*  Frees the task (key and real_out included); NULLs *task_p. */
void rm_slot_task_destroy(rm_slot_task_t **task_p);

/*  "1,2,3": frames as RENDER and the driver's --frames carry them;
    malloc'd, NULL if out of memory. */
char *rm_slot_frame_list(const uint64_t *frames, size_t count);

/*  Slot -> parent events; pipe is the actor's pipe (any zsock). */
int rm_slot_send_progress(void *pipe, const char *job_id, uint64_t frame, int percent);
/*  What FRAME_DONE carries (see the protocol above). */
typedef struct {
    const char *file, *dir, *files, *warning, *log;
    int64_t render_ms;
    int pid;
} rm_slot_output_t;
int rm_slot_send_frame_done(void *pipe, const char *job_id, uint64_t frame,
                            const rm_slot_output_t *out);
int rm_slot_send_frame_failed(void *pipe, const char *job_id, uint64_t frame, const char *reason);
int rm_slot_send_task_done(void *pipe, const char *job_id, bool oneshot);
int rm_slot_send_task_failed(void *pipe, const char *job_id, const char *reason, bool fatal);
int rm_slot_send_task_canceled(void *pipe, const char *job_id);

/*  A decimal number at the start of s (no sign, no space); *end is set
    after it.  Shared with rm_blender_output's parsing of Blender's output
    and rm_blender_tmpdir's of its dir names. */
bool rm_slot_parse_u64_prefix(const char *s, uint64_t *out, char **end);

#endif
