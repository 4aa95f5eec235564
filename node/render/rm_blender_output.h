/*  rm_blender_output: what the slot learns from what Blender produces: from
    its printed output (stdout and stderr, line by line) how far the frame
    has come and why Blender could not read a .blend; from the files the
    driver reports for a frame, whether they can be its output.

    Progress: Cycles prints "... | Time:00:01.20 | Remaining:00:03.10 | ...
    | Sample 5/16", EEVEE "... | Rendering 26 / 64 samples".  In background
    mode Cycles 3.4 prints few sample lines, so the last time estimate
    carries progress between them.  Percentages stop at 99: 100 is the
    frame done, which only the driver can say. */
#ifndef RM_BLENDER_OUTPUT_H
#define RM_BLENDER_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

/*  One frame's progress; zero it when a frame begins. */
typedef struct {
    int percent;         /* 0..99, never goes back */
    int64_t eta_at;      /* monotonic ms when Blender last estimated the time */
    int64_t eta_elapsed; /* ms, as Blender printed them then */
    int64_t eta_total;   /* elapsed + remaining; 0 = no estimate yet */
} rm_blender_output_progress_t;

/*  Takes what line says of the progress; now is the monotonic ms. */
void rm_blender_output_scan(rm_blender_output_progress_t *p, const char *line, int64_t now);

/*  The progress at now (monotonic ms), the time estimate run forward;
    kept in p->percent. */
int rm_blender_output_percent(rm_blender_output_progress_t *p, int64_t now);

/*  "MM:SS.hh" or "HH:MM:SS.hh" as Blender prints times, in ms; -1 if
    neither. */
int64_t rm_blender_output_clock(const char *s);

/*  Blender's reason for not reading blend, from the text of an "Error:"
    line that quotes its path: "Cannot read file 'X': No such file or
    directory", "File format is not supported in file 'X'", "Failed to read
    blend file 'X': Missing DNA block".  malloc'd; NULL if the line is
    about something else. */
char *rm_blender_output_read_error(const char *msg, const char *blend);

/*  Why a frame's main file cannot be its output, into why ("" if it can).
    file is the path the driver reported, real and dir that file and the
    frame's folder resolved (realpath; NULL if they do not resolve), out_dir
    the task's output folder resolved.  The file must be a non-empty
    regular file in dir, and dir out_dir or below it: the node ships
    whatever folder it is given (the file names are checked when stored). */
void rm_blender_output_check(const char *file, const char *real, const char *dir,
                             const char *out_dir, char *why, size_t size);

#endif
