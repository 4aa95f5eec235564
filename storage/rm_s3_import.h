/*  rm_s3_import: a project that is already in S3 (meshctl submit
    s3://BUCKET/KEY.blend --attach s3://BUCKET/PREFIX/) read into a node's
    store, as meshctl would have sent it: the same chunks, a manifest of
    the same shape.

    The project is the .blend and every attached object or prefix, all in
    the .blend's bucket.  An attachment names one object, or, when it ends
    with '/' or no object has its exact key, every object below KEY/ (as a
    local path names a file or a folder).  Paths in the manifest are
    relative to the deepest prefix holding all of them, so that "//../tex"
    resolves on a node as it would in the bucket.  Each object is read in
    ranges of RM_S3_IMPORT_RANGE bytes into a staging folder, its size
    checked against the listing and its ETag, chunked into the store and
    removed.  An object read before (the same bucket, key, ETag and size)
    whose chunks the store still has is not read again: a cache folder
    remembers each object's chunks. */
#ifndef RM_S3_IMPORT_H
#define RM_S3_IMPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_hash.h"
#include "rm_msg.h"
#include "rm_s3.h"
#include "rm_store.h"

#define RM_S3_IMPORT_RANGE (8u << 20)

typedef struct {
    char root[RM_MAX_PATH + 1];  /* s3://BUCKET/PREFIX/ of the manifest's paths */
    char blend[RM_MAX_PATH + 1]; /* the .blend's path in the manifest */
    rm_hash_t manifest;
    uint64_t files;
    uint64_t bytes;
    uint64_t reused; /* objects not read again: the cache knew them */
} rm_s3_import_result_t;

/*  Told after the listing (bytes_done 0) and after each range read. */
typedef void (*rm_s3_import_progress_fn)(void *arg, uint64_t files, uint64_t bytes,
                                         uint64_t bytes_done);
/*  Asked between ranges: true stops the import (RM_ECANCELED). */
typedef bool (*rm_s3_import_stop_fn)(void *arg);

/*  Imports blend_url and attach[0..nattach) (s3:// URLs) into store,
    staging the files under `staging` (made, then removed), remembering
    objects in `cache` (a folder; NULL: none); a project over max_bytes
    (0: no limit) is refused (RM_EINVAL) before anything is read.  Errors name
    the URL or object and the cause: RM_EINVAL (a bad URL, another bucket,
    a key the signer cannot take, not a .blend), RM_ENOTFOUND (no such
    object, an empty prefix), S3's own errors (rm_s3), RM_EIO (an object
    that changed size while read). */
int rm_s3_import(rm_s3_t *s3, rm_store_t *store, const char *staging, const char *cache,
                 uint64_t max_bytes, const char *blend_url, const char *const *attach,
                 size_t nattach, rm_s3_import_progress_fn progress, rm_s3_import_stop_fn stop,
                 void *arg, rm_s3_import_result_t *out, rm_err_t *err);

/*  Removes the entries of `cache` whose object's manifest the store no
    longer holds (the collector deleted it: reading the object again is
    then needed anyway), so the cache does not grow with every object ever
    imported.  Returns how many went. */
uint64_t rm_s3_import_prune(const char *cache, rm_store_t *store);

#endif
