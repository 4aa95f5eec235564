/*  rm_deps: from what the local Blender found (rm_scan) to the files a
    project takes along, and below which root.

    The root is --root, else the deepest folder holding the .blend and every
    file it uses, so a shot in shots/sh010/ that links //../../assets/x.blend
    travels as shots/sh010/sh010.blend and assets/x.blend, and Blender on a
    node resolves the same relative paths.  A file the .blend uses that is
    not on disk stops the submission (each one listed, with the datablock
    that uses it) unless missing files are allowed; one outside --root is
    refused by name. */
#ifndef RM_DEPS_H
#define RM_DEPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "rm_error.h"
#include "rm_scan.h"

typedef struct {
    const char *blend;         /* absolute, lexical (rm_path_absolute) */
    const char *root;          /* --root as given, or NULL */
    const char *const *attach; /* --attach paths as given */
    size_t nattach;
    bool allow_missing;    /* --allow-missing */
    const rm_scan_t *scan; /* NULL: not scanned (--no-scan) */
    FILE *report;          /* missing files are listed here */
} rm_deps_in_t;

typedef struct {
    char *root;   /* absolute, lexical */
    char **paths; /* the .blend, the files found that exist, --attach */
    size_t npaths;
    size_t missing; /* required files not on disk (listed on report) */
} rm_deps_t;

/*  RM_EINVAL: missing files without allow_missing, a file outside root. */
int rm_deps_plan(const rm_deps_in_t *in, rm_deps_t *out, rm_err_t *err);
void rm_deps_free(rm_deps_t *deps);

#endif
