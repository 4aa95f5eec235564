/*  rm_s3_output: the files of a stored manifest (a rendered frame's
    output) written to S3 under a prefix, each with a create-only write:
    an object already there (a duplicate render, a re-run) is left as it
    is, so a stored frame is never overwritten.  Files up to
    RM_S3_OUTPUT_SINGLE bytes go in one PUT from memory; larger ones are
    assembled in a temporary file and sent in parts (rm_s3_multipart). */
#ifndef RM_S3_OUTPUT_H
#define RM_S3_OUTPUT_H

#include <stdint.h>

#include "rm_hash.h"
#include "rm_s3.h"
#include "rm_store.h"

#define RM_S3_OUTPUT_SINGLE (64u << 20)

typedef struct {
    uint32_t files;   /* objects the manifest has */
    uint32_t existed; /* of those, already there (left untouched) */
    uint64_t bytes;   /* written */
} rm_s3_output_stats_t;

/*  Writes every file of manifest `output` (in store) to
    s3://bucket/prefix + its path.  tmpdir holds the temporary file of a
    large one.  A path that is not a key S3 can take here is RM_EINVAL
    naming it; S3's errors as rm_s3 gives them. */
int rm_s3_output_put(rm_s3_t *s3, rm_store_t *store, const rm_hash_t *output, const char *bucket,
                     const char *prefix, const char *tmpdir, rm_s3_output_stats_t *stats,
                     rm_err_t *err);

#endif
