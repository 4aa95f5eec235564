/*  rm_tree: the files of a project, named by their lexical paths below a
    root folder.

    Blender resolves "//../../assets/props.blend" lexically: it joins the
    .blend's folder and the relative path and removes ".." without asking
    the file system.  A project's tree on a node must look the same, so
    paths here are normalised the same way (rm_path_absolute) and never
    through realpath: a symlinked textures folder keeps its own name in
    the manifest, while the files' contents are read through the link.
    Folders are walked recursively (symlinks followed, loops refused). */
#ifndef RM_TREE_H
#define RM_TREE_H

#include <stddef.h>

#include "rm_error.h"

/*  `path` made absolute against the working folder ($PWD when it is the
    same folder as getcwd (), as shells and Blender say it, else getcwd ())
    and normalised lexically: no ".", "..", empty components or trailing
    '/' ("/.." is "/").  malloc'd; NULL only out of memory or without a
    working folder. */
char *rm_path_absolute(const char *path);

/*  The part of the absolute normalised `path` below the absolute
    normalised folder `root`: "" for root itself, NULL when path is not
    inside root ("/a/bc" is not inside "/a/b"). */
const char *rm_path_below(const char *root, const char *path);

/*  Cuts the absolute normalised folder `dir` (in place) to the deepest
    folder that holds both it and the absolute normalised `path`. */
void rm_path_common(char *dir, const char *path);

typedef struct {
    char *abs; /* where to read it (lexical: links in it are followed) */
    char *rel; /* its path below the root, '/'-separated */
} rm_tree_entry_t;

typedef struct {
    char *root; /* absolute, normalised */
    rm_tree_entry_t *items;
    size_t count;
    size_t cap;
    size_t max; /* most files, else RM_EINVAL */
} rm_tree_t;

int rm_tree_init(rm_tree_t *tree, const char *root, size_t max, rm_err_t *err);
/*  Adds the file at `path`, or every file below the folder at `path`
    (sockets, fifos and devices skipped).  `path` must lie inside the root
    (RM_EINVAL naming both), and exist (RM_ENOTFOUND naming it). */
int rm_tree_add(rm_tree_t *tree, const char *path, rm_err_t *err);
/*  Sorts by rel (bytewise) and drops repeats. */
void rm_tree_sort(rm_tree_t *tree);
void rm_tree_free(rm_tree_t *tree);

#endif
