/*  rm_scan: what a .blend needs, asked of the Blender on this machine.

    One Blender run (scripts off: --factory-startup --disable-autoexec)
    executes tools/scan_blend.py, which reports the scene's frame range,
    whether it renders with denoising, and every file the .blend uses:
    linked libraries (indirect ones too), images (sequences and UDIM tiles
    expanded to the files on disk), movie clips, sounds, fonts, volumes,
    Alembic/USD caches, sequencer strips and baked disk caches.  Paths are
    absolute and lexical, as Blender resolves "//" paths.  The script writes
    its records to a file of its own, so Blender's chatter on stdout cannot
    mix with them. */
#ifndef RM_SCAN_H
#define RM_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "rm_error.h"

#define RM_SCAN_TIMEOUT_MS 120000 /* opening a production file takes a while */

typedef struct {
    char *kind; /* library, image, movieclip, sound, font, volume, cachefile, strip, cache, path */
    char *user; /* the datablock that uses it, e.g. "Image 'wood.png'" */
    char *path; /* absolute, lexical */
    bool exists;
    bool required;        /* false for disk caches a render can do without */
    bool stored_absolute; /* the .blend holds it as an absolute path, not "//" */
} rm_dep_t;

typedef struct {
    char *blend;    /* the file as Blender opened it; NULL: it could not */
    bool has_range; /* the scene exists */
    long first, last, step;
    char *scenes; /* when the scene asked for does not exist: the file's, ", "-separated */
    bool denoise; /* the scene renders with denoising (Cycles or a Denoise node) */
    rm_dep_t *deps;
    size_t ndeps;
} rm_scan_t;

/*  Parses the script's records (text of len bytes).  RM_EPROTO on a
    record it does not know how to read. */
int rm_scan_parse(const char *text, size_t len, rm_scan_t *scan, rm_err_t *err);

/*  Runs `blender` (MESH_BLENDER, else "blender" on PATH) on the .blend at
    the absolute path `blend` for `scene` ("" or NULL: the active one), at
    most RM_SCAN_TIMEOUT_MS.  RM_ENOTFOUND without a Blender or script;
    RM_EINVAL when Blender cannot read the file. */
int rm_scan_run(const char *blend, const char *scene, rm_scan_t *scan, rm_err_t *err);

void rm_scan_free(rm_scan_t *scan);

/*  Where scan_blend.py is: beside the sources, installed, or beside
    meshctl in ../share/rendermesh. */
int rm_scan_script_path(char *path, size_t size, rm_err_t *err);

#endif
