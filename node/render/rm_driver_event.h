/*  rm_driver_event: the JSON lines between a slot and blender_driver.py.

    The driver writes one flat JSON object a line to its result fd:
    {"event": "ready"|"done"|"failed"|"fatal", "frame": N, "file": "...",
     "render_ms": N, "pid": N, "reason": "...", "scope": "job"|"node",
     "dir": "...", "files": "a\nb", "warning": "..."}.
    rm_driver_event_parse reads such a line; keys it does not know, and
    values of any JSON type, are skipped.  rm_driver_json_str writes a
    string for the commands and settings sent the other way. */
#ifndef RM_DRIVER_EVENT_H
#define RM_DRIVER_EVENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/*  One event from the driver; strings are owned (NULL if absent). */
typedef struct {
    char *event, *file, *reason, *scope, *dir, *files, *warning;
    int64_t frame, render_ms, pid;
    bool has_frame;
} rm_driver_event_t;

/*  Parses one line.  False if it is not a JSON object with an "event"
    string; ev is cleared then. */
bool rm_driver_event_parse(const char *line, rm_driver_event_t *ev);

void rm_driver_event_clear(rm_driver_event_t *ev);

/*  Writes s (NULL = "") to f as a quoted, escaped JSON string. */
void rm_driver_json_str(FILE *f, const char *s);

#endif
