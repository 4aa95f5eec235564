/*  rm_fs: the few file-system steps every layer needs, written once.

    A write that must survive a crash goes through rm_fs_write_atomic: the
    data lands in a temporary file beside the target, is fsync'd, renamed
    over the target, and the folder is fsync'd so the new name is durable
    too.  After a crash the target holds either the old or the new bytes. */
#ifndef RM_FS_H
#define RM_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rm_error.h"

/*  Writes all of data to fd, retrying short writes and EINTR.  0, or -1
    with errno set (callers word their own message: a chunk, a journal). */
int rm_fs_write_all(int fd, const void *data, size_t len);

/*  fsyncs the folder at path, making the names created or renamed in it
    durable. */
int rm_fs_fsync_dir(const char *path, rm_err_t *err);

/*  Replaces path with data: a temporary file in the same folder, written
    with mode, fsync'd, renamed to path, then the folder fsync'd.  On error
    the temporary file is removed and path is left as it was. */
int rm_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, rm_err_t *err);

/*  mkdir -p: makes path with mode and its missing parents with parent_mode.
    Existing folders are fine; a path that ends up not a folder is an error. */
int rm_fs_mkdir_p(const char *path, mode_t parent_mode, mode_t mode, rm_err_t *err);

/*  rm -rf: removes path and everything below it.  Symlinks are removed,
    never followed, so nothing outside the tree is touched.  A path that
    does not exist is not an error. */
int rm_fs_remove_tree(const char *path, rm_err_t *err);

/*  The first bytes of a .blend: "BLENDER", or a gzip or zstd stream
    (compressed .blend files). */
bool rm_fs_blend_magic(const uint8_t *head, size_t n);

/*  A file we ship beside the programs (a Blender script): the first
    readable of source_path (a developer's tree), install_path (both may be
    NULL) and BINDIR/../share/rendermesh/name, into path.  RM_ENOTFOUND
    naming where it looked. */
int rm_fs_find_shared(const char *name, const char *source_path, const char *install_path,
                      char *path, size_t size, rm_err_t *err);

#endif
