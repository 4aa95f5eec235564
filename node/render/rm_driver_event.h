/*  rm_driver_event: the JSON lines that blender_driver.py sends a slot.

    The driver writes one flat JSON object a line to its result fd:
    {"event": "ready"|"done"|"failed"|"fatal", "frame": N, "file": "...",
     "render_ms": N, "pid": N, "reason": "...", "scope": "job"|"node",
     "dir": "...", "files": "a\nb", "warning": "..."}.
    rm_driver_event_parse reads such a line with jansson.  Keys it does
    not know are skipped, whatever their values; a known key with a value
    of the wrong type refuses the line, and null counts as absent (Python's
    None).  What goes the other way (settings, render commands) is written
    by rm_blender_args. */
#ifndef RM_DRIVER_EVENT_H
#define RM_DRIVER_EVENT_H

#include <stdbool.h>
#include <stdint.h>

/*  The longest line a slot reads from the driver; longer ones are dropped
    unread (half a record is noise). */
#define RM_DRIVER_EVENT_LINE_MAX (64 * 1024)

/*  One event from the driver; strings are owned (NULL if absent). */
typedef struct {
    char *event, *file, *reason, *scope, *dir, *files, *warning;
    int64_t frame, render_ms, pid; /* a fraction is cut off */
    bool has_frame;
} rm_driver_event_t;

/*  Parses one line (a trailing newline is fine).  False if it is longer
    than RM_DRIVER_EVENT_LINE_MAX, is not one JSON object, lacks an "event"
    string, or gives a known key a value of the wrong type; ev is cleared
    then. */
bool rm_driver_event_parse(const char *line, rm_driver_event_t *ev);

void rm_driver_event_clear(rm_driver_event_t *ev);

#endif
