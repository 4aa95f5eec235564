/*  rm_s3_url: "s3://BUCKET/KEY" as users write it (meshctl submit's .blend,
    --attach and --out), parsed and checked once for meshctl and the node.

    A bucket is 3-63 of [a-z0-9.-] (S3's rules for new buckets); a key is
    what rm_s3 can sign (rm_s3_key_ok: [A-Za-z0-9._~/-]) without empty,
    "." or ".." components (a trailing "/" ends a prefix), so that joining
    a prefix and a relative path never climbs or doubles a slash. */
#ifndef RM_S3_URL_H
#define RM_S3_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "rm_error.h"

#define RM_S3_BUCKET_MAX 63
#define RM_S3_KEY_MAX 1024

typedef struct {
    char bucket[RM_S3_BUCKET_MAX + 1];
    char key[RM_S3_KEY_MAX + 1]; /* "" for the bucket itself */
} rm_s3_url_t;

/*  True if s starts with "s3://" (then it is meant as an S3 URL). */
bool rm_s3_url_is(const char *s);

/*  Parses url into out.  RM_EINVAL naming the url and what is wrong with
    it.  `what` names the option for the message ("--out"). */
int rm_s3_url_parse(const char *url, const char *what, rm_s3_url_t *out, rm_err_t *err);

/*  A bucket name S3 accepts for a new bucket. */
bool rm_s3_bucket_ok(const char *bucket);

/*  A key of an object this mesh can read or write: rm_s3_key_ok, and no
    empty, "." or ".." component. */
bool rm_s3_url_key_ok(const char *key);

/*  True when `list` (bucket names separated by commas and/or spaces) is
    empty or names url's bucket: meshd.conf's s3_buckets. */
bool rm_s3_url_bucket_listed(const char *list, const rm_s3_url_t *url);

/*  The key is a prefix (empty, or ending with '/'). */
bool rm_s3_url_is_prefix(const rm_s3_url_t *url);

#endif
