/*  rm_s3: an S3 client on libcurl with SigV4 (CURLOPT_AWS_SIGV4), for AWS
    and any S3-compatible endpoint (MinIO, Ceph, R2, moto), configured by
    rm_aws_config.

    libcurl 7.88's signer has pitfalls (docs/architecture.md, "S3"), each
    handled here: the query string is sorted and %-encoded before signing,
    a parameter without a value is written "name=", no header is blanked,
    x-amz-content-sha256 is always sent (the body's SHA-256: 7.88 would hash
    only POSTFIELDS), region and service are always given, and object keys
    are limited to [A-Za-z0-9._~/-] (7.88 does not encode the path it
    signs): rm_s3_key_ok.

    Retries follow the SDKs' standard mode: up to max_attempts (3) tries,
    waiting random × min(2^try, 20) s between them, on connection errors,
    500/502/503/504, RequestTimeout and throttling (SlowDown, Throttling,
    ThrottlingException, RequestLimitExceeded); never on other 4xx (a
    wrong key or a missing permission is said at once).  A request that
    still fails is RM_EUNREACH when S3 could not be reached or did not
    serve it now (worth trying again later), RM_EAUTH for 403 (a wrong key
    or secret, a missing permission), RM_ENOTFOUND for 404, RM_EIO else.

    One rm_s3_t per thread (a curl easy handle). */
#ifndef RM_S3_H
#define RM_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rm_aws_config.h"
#include "rm_error.h"

typedef struct _rm_s3_t rm_s3_t;

typedef struct {
    uint64_t size;
    char etag[128]; /* as the server quotes it */
    bool existed;   /* create-only PUT: the object was there already (412), untouched */
} rm_s3_object_t;

/*  libcurl's global set-up, which is not thread-safe: call once in the
    main thread before any thread makes a client (meshd does at start;
    rm_s3_new does it for programs that did not), and the clean-up at the
    end. */
void rm_s3_global_init(void);
void rm_s3_global_cleanup(void);

/*  A client with these settings (copied).  With no credentials in them
    (RM_AWS_CREDS_NONE) it asks the instance role (rm_aws_imds), and asks
    again before those expire. */
rm_s3_t *rm_s3_new(const rm_aws_settings_t *settings, rm_err_t *err);
void rm_s3_destroy(rm_s3_t **self_p);

/*  Scales the waits between retries (tests): unit_ms replaces 1000. */
void rm_s3_set_retry_unit(rm_s3_t *self, int unit_ms);

/*  True for a key of [A-Za-z0-9._~/-], not empty, at most 1024 bytes. */
bool rm_s3_key_ok(const char *key);

/*  Stores len bytes at bucket/key.  create_only: "If-None-Match: *", and
    an object already there is left as it is (out->existed; not an error). */
int rm_s3_put(rm_s3_t *self, const char *bucket, const char *key, const void *data, size_t len,
              bool create_only, rm_s3_object_t *out, rm_err_t *err);

/*  Stores the file at path as bucket/key in parts (multipart upload, for
    objects too big for one PUT: parts of at least 5 MiB, at most 10,000,
    each retried on its own); create_only as for rm_s3_put, checked when
    the parts are put together.  An upload that fails is aborted, so no
    parts are left to pay for. */
#define RM_S3_PART_MIN (5u << 20)
#define RM_S3_PARTS_MAX 10000
int rm_s3_put_file_multipart(rm_s3_t *self, const char *bucket, const char *key, const char *path,
                             bool create_only, rm_s3_object_t *out, rm_err_t *err);

/*  Reads bucket/key (bytes [first, first + max) when max > 0, else the
    whole object up to RM_S3_GET_MAX) into *data (malloc'd), *len bytes.
    RM_ENOTFOUND for a missing object. */
#define RM_S3_GET_MAX (256u << 20)
int rm_s3_get(rm_s3_t *self, const char *bucket, const char *key, uint64_t first, uint64_t max,
              uint8_t **data, size_t *len, rm_err_t *err);

/*  Size and ETag of bucket/key; RM_ENOTFOUND when it is not there. */
int rm_s3_head(rm_s3_t *self, const char *bucket, const char *key, rm_s3_object_t *out,
               rm_err_t *err);

/*  Deletes bucket/key (a missing key is not an error, as in S3). */
int rm_s3_delete(rm_s3_t *self, const char *bucket, const char *key, rm_err_t *err);

/*  Calls fn for every object under prefix (ListObjectsV2, following
    continuation tokens), asking page keys at a time (0: the server's
    default, 1,000 on S3); fn returning non-zero stops the listing. */
typedef int (*rm_s3_list_fn)(void *arg, const char *key, uint64_t size, const char *etag);
int rm_s3_list(rm_s3_t *self, const char *bucket, const char *prefix, unsigned page,
               rm_s3_list_fn fn, void *arg, rm_err_t *err);

#endif
