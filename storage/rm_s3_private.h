/*  rm_s3's insides, shared by its two files (rm_s3.c: one request and the
    single-object operations; rm_s3_multipart.c: multipart uploads).  Not
    for other modules. */
#ifndef RM_S3_PRIVATE_H
#define RM_S3_PRIVATE_H

#include <curl/curl.h>

#include "rm_s3.h"

#define RM_S3_ERROR_BODY_MAX 65536

struct _rm_s3_t {
    CURL *curl;
    rm_aws_settings_t settings;
    char sigv4[128];       /* "aws:amz:REGION:s3" */
    char scheme_host[600]; /* "https://s3.eu-west-1.amazonaws.com" */
    char base_path[256];   /* the endpoint's own path, "" mostly */
    int64_t expires;       /* an instance role's keys end then (unix s); 0: never */
    int retry_unit_ms;
};

typedef struct {
    uint8_t *data;
    size_t len, cap, max;
    bool over;
} buf_t;

typedef struct {
    const char *method; /* GET PUT POST HEAD DELETE */
    const char *bucket;
    const char *key;   /* "" for the bucket itself */
    const char *query; /* sorted and encoded, or NULL */
    const uint8_t *body;
    size_t body_len;
    bool create_only;
    uint64_t range_first, range_max; /* range_max 0: the whole object */
    size_t max_body;                 /* of the answer */
} req_t;

typedef struct {
    long status;
    buf_t body;
    char etag[128];
    uint64_t length;
    size_t sent; /* of req body */
    const req_t *req;
} resp_t;

/*  The request with the SDKs' standard retries: 0 when it got an answer
    below 300 (or 412 to a create-only one), with rs->body to free. */
int rm_s3_request(rm_s3_t *self, const req_t *rq, resp_t *rs, rm_err_t *err);

/*  RM_EINVAL unless the bucket name, and the key if not NULL, are usable. */
int rm_s3_check_names(const char *method, const char *bucket, const char *key, rm_err_t *err);

/*  A query value %-encoded as SigV4 wants. */
void rm_s3_query_encode(const char *in, char *out, size_t size);

/*  The next <tag>...</tag> from *from on: its raw text at *start (*len
    bytes); moves *from past it. */
bool rm_s3_xml_span(const char **from, const char *end, const char *tag, const char **start,
                    size_t *len);

/*  A ListObjectsV2 answer: fn for each <Contents> with a <Key> (stops at
    fn's non-zero, returned); *more and token (the continuation) when the
    answer says it is truncated. */
int rm_s3_parse_listing(const char *body, size_t len, rm_s3_list_fn fn, void *arg, char *token,
                        size_t token_size, bool *more);

/*  The text of the next <tag>...</tag> from *from on, entities decoded;
    moves *from past it. */
bool rm_s3_xml_value(const char **from, const char *end, const char *tag, char *out, size_t size);

#endif
