#include "rm_s3_url.h"

#include <stdio.h>
#include <string.h>

#include "rm_s3.h"

bool rm_s3_url_is(const char *s)
{
    return s && strncmp(s, "s3://", 5) == 0;
}

bool rm_s3_bucket_ok(const char *bucket)
{
    size_t n = bucket ? strlen(bucket) : 0;
    if (n < 3 || n > RM_S3_BUCKET_MAX)
        return false;
    for (const char *c = bucket; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.' || *c == '-'))
            return false;
    return bucket[0] != '.' && bucket[0] != '-' && bucket[n - 1] != '.' && bucket[n - 1] != '-';
}

/*  No empty, "." or ".." component; a trailing '/' is allowed. */
static bool components_ok(const char *key)
{
    const char *c = key;
    while (*c) {
        const char *end = strchr(c, '/');
        size_t n = end ? (size_t)(end - c) : strlen(c);
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        if (!end)
            break;
        c = end + 1;
    }
    return true;
}

int rm_s3_url_parse(const char *url, const char *what, rm_s3_url_t *out, rm_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (!rm_s3_url_is(url))
        return rm_err_set(err, RM_EINVAL, "%s %s: not an S3 URL (s3://BUCKET/KEY)", what,
                          url ? url : "");
    const char *b = url + 5, *slash = strchr(b, '/');
    size_t n = slash ? (size_t)(slash - b) : strlen(b);
    if (n >= sizeof out->bucket)
        return rm_err_set(err, RM_EINVAL, "%s %s: bucket names are at most %d characters", what,
                          url, RM_S3_BUCKET_MAX);
    memcpy(out->bucket, b, n);
    if (!rm_s3_bucket_ok(out->bucket))
        return rm_err_set(err, RM_EINVAL,
                          "%s %s: '%s' is not a bucket name (3-63 of a-z 0-9 . -, starting and "
                          "ending with a letter or digit)",
                          what, url, out->bucket);
    const char *key = slash ? slash + 1 : "";
    if (strlen(key) > RM_S3_KEY_MAX)
        return rm_err_set(err, RM_EINVAL, "%s %s: keys are at most %d bytes", what, url,
                          RM_S3_KEY_MAX);
    if (key[0] && (!rm_s3_key_ok(key) || !components_ok(key)))
        return rm_err_set(err, RM_EINVAL,
                          "%s %s: keys here are made of A-Z a-z 0-9 . _ ~ - and '/' between "
                          "non-empty names other than . and ..",
                          what, url);
    snprintf(out->key, sizeof out->key, "%s", key);
    return 0;
}

bool rm_s3_url_key_ok(const char *key)
{
    return rm_s3_key_ok(key) && components_ok(key);
}

bool rm_s3_url_is_prefix(const rm_s3_url_t *url)
{
    size_t n = strlen(url->key);
    return n == 0 || url->key[n - 1] == '/';
}

bool rm_s3_url_bucket_listed(const char *list, const rm_s3_url_t *url)
{
    if (!list || !list[0])
        return true;
    size_t n = strlen(url->bucket);
    for (const char *at = list; *at;) {
        at += strspn(at, ", ");
        size_t len = strcspn(at, ", ");
        if (len == n && strncmp(at, url->bucket, n) == 0)
            return true;
        at += len;
    }
    return false;
}
