#define _GNU_SOURCE /* memmem */
#include "rm_s3.h"
#include "rm_s3_private.h"
#include "rm_s3_url.h"

#include "rm_aws_imds.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEY_MAX 1024
#define ERROR_BODY_MAX RM_S3_ERROR_BODY_MAX
#define LIST_BODY_MAX (8u << 20) /* 1,000 keys of 1 KiB and their XML */

static bool curl_ready;

void rm_s3_global_init(void)
{
    if (!curl_ready) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_ready = true;
    }
}

void rm_s3_global_cleanup(void)
{
    if (curl_ready) {
        curl_global_cleanup();
        curl_ready = false;
    }
}

bool rm_s3_key_ok(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > KEY_MAX)
        return false;
    for (const char *c = key; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr("._~/-", *c)))
            return false;
    return true;
}

rm_s3_t *rm_s3_new(const rm_aws_settings_t *given, rm_err_t *err)
{
    rm_s3_global_init(); /* a no-op after the first, which meshd makes at start */
    rm_aws_settings_t copy = *given, *settings = &copy;
    int64_t expires = 0;
    if (settings->source == RM_AWS_CREDS_NONE && rm_aws_imds_fetch(settings, &expires, err) != 0) {
        rm_aws_settings_clear(settings);
        return NULL;
    }
    if (!settings->access_key_id[0] || !settings->secret_access_key[0]) {
        rm_aws_settings_clear(settings);
        rm_err_set(err, RM_EAUTH, "no AWS credentials for S3 (%s)",
                   "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, or an "
                   "instance role");
        return NULL;
    }
    if (!settings->region[0]) {
        rm_err_set(err, RM_EINVAL,
                   "no AWS region for S3: set AWS_REGION, the profile's region, or s3_region "
                   "in meshd.conf");
        return NULL;
    }
    rm_s3_t *self = calloc(1, sizeof *self);
    if (!self || !(self->curl = curl_easy_init())) {
        free(self);
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    self->settings = *settings;
    rm_aws_settings_clear(settings);
    self->expires = expires;
    self->retry_unit_ms = 1000;
    snprintf(self->sigv4, sizeof self->sigv4, "aws:amz:%s:s3", self->settings.region);
    if (self->settings.endpoint[0]) {
        const char *e = self->settings.endpoint;
        const char *host = strstr(e, "://");
        const char *path = host ? strchr(host + 3, '/') : NULL;
        if (!host || host == e) {
            rm_err_set(err, RM_EINVAL, "S3 endpoint '%s' is not http(s)://HOST[:PORT]", e);
            rm_s3_destroy(&self);
            return NULL;
        }
        size_t n = path ? (size_t)(path - e) : strlen(e);
        snprintf(self->scheme_host, sizeof self->scheme_host, "%.*s", (int)n, e);
        snprintf(self->base_path, sizeof self->base_path, "%s", path ? path : "");
        size_t b = strlen(self->base_path);
        if (b > 0 && self->base_path[b - 1] == '/')
            self->base_path[b - 1] = '\0';
    } else {
        snprintf(self->scheme_host, sizeof self->scheme_host, "https://s3.%s.amazonaws.com",
                 self->settings.region);
    }
    return self;
}

void rm_s3_destroy(rm_s3_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_s3_t *self = *self_p;
    if (self->curl)
        curl_easy_cleanup(self->curl);
    rm_aws_settings_clear(&self->settings);
    sodium_memzero(self, sizeof *self);
    free(self);
    *self_p = NULL;
}

void rm_s3_set_retry_unit(rm_s3_t *self, int unit_ms)
{
    self->retry_unit_ms = unit_ms > 0 ? unit_ms : 1;
}

/*  --- One request ------------------------------------------------------ */

static size_t on_s3_body(char *ptr, size_t size, size_t n, void *arg)
{
    resp_t *rs = arg;
    buf_t *b = &rs->body;
    size_t len = size * n;
    if (b->len + len > b->max) {
        b->over = true;
        return 0; /* curl stops: CURLE_WRITE_ERROR */
    }
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len)
            cap *= 2;
        uint8_t *grown = realloc(b->data, cap);
        if (!grown)
            return 0;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, len);
    b->len += len;
    return len;
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
    resp_t *rs = arg;
    size_t len = size * n;
    if (len > 6 && strncasecmp(line, "ETag:", 5) == 0) {
        const char *v = line + 5;
        while (*v == ' ')
            v++;
        size_t vlen = len - (size_t)(v - line);
        while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
            vlen--;
        snprintf(rs->etag, sizeof rs->etag, "%.*s", (int)vlen, v);
    } else if (len > 16 && strncasecmp(line, "Content-Length:", 15) == 0) {
        rs->length = strtoull(line + 15, NULL, 10);
    }
    return len;
}

static size_t on_read(char *out, size_t size, size_t n, void *arg)
{
    resp_t *rs = arg;
    size_t left = rs->req->body_len - rs->sent, want = size * n;
    size_t take = left < want ? left : want;
    if (take)
        memcpy(out, rs->req->body + rs->sent, take);
    rs->sent += take;
    return take;
}

static void url_of(const rm_s3_t *self, const req_t *rq, char *out, size_t size)
{
    const char *q = rq->query && *rq->query ? rq->query : NULL;
    if (self->settings.path_style) { /* the bucket itself: no trailing slash */
        snprintf(out, size, "%s%s/%s%s%s%s%s", self->scheme_host, self->base_path, rq->bucket,
                 rq->key[0] ? "/" : "", rq->key, q ? "?" : "", q ? q : "");
        return;
    }
    const char *host = strstr(self->scheme_host, "://") + 3;
    snprintf(out, size, "%.*s%s.%s%s/%s%s%s", (int)(host - self->scheme_host), self->scheme_host,
             rq->bucket, host, self->base_path, rq->key, q ? "?" : "", q ? q : "");
}

/*  One attempt: 0 with rs->status set, or -1 with a curl error in err. */
static int perform(rm_s3_t *self, const req_t *rq, resp_t *rs, rm_err_t *err)
{
    CURL *c = self->curl;
    curl_easy_reset(c);
    memset(rs, 0, sizeof *rs);
    rs->req = rq;
    rs->body.max = rq->max_body;
    char url[2400];
    url_of(self, rq, url, sizeof url);
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, rq->body ? rq->body : (const uint8_t *)"", rq->body_len);
    char hex[2 * sizeof digest + 1], line[4200];
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    struct curl_slist *headers = NULL;
    snprintf(line, sizeof line, "x-amz-content-sha256: %s", hex);
    headers = curl_slist_append(headers, line);
    if (self->settings.session_token[0]) {
        snprintf(line, sizeof line, "x-amz-security-token: %s", self->settings.session_token);
        headers = curl_slist_append(headers, line);
    }
    if (rq->create_only)
        headers = curl_slist_append(headers, "If-None-Match: *");
    if (strcmp(rq->method, "POST") == 0)
        headers = curl_slist_append(headers, "Content-Type: application/xml");
    if (rq->range_max) {
        snprintf(line, sizeof line, "Range: bytes=%llu-%llu", (unsigned long long)rq->range_first,
                 (unsigned long long)(rq->range_first + rq->range_max - 1));
        headers = curl_slist_append(headers, line);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, self->sigv4);
    curl_easy_setopt(c, CURLOPT_USERNAME, self->settings.access_key_id);
    curl_easy_setopt(c, CURLOPT_PASSWORD, self->settings.secret_access_key);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_s3_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, rs);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, rs);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    /* The SDKs' read timeout: a minute without a byte. */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    if (strcmp(rq->method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, rs);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? (const char *)rq->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "DELETE") == 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(headers);
    if (rc == CURLE_WRITE_ERROR && rs->body.over)
        return rm_err_set(err, RM_EIO, "the answer is over %zu bytes", rq->max_body);
    if (rc != CURLE_OK)
        return rm_err_set(err, RM_EUNREACH, "%s", curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rs->status);
    return 0;
}

/*  The text between <tag> and </tag> from *from on; *from moves past it. */
bool rm_s3_xml_span(const char **from, const char *end, const char *tag, const char **start,
                    size_t *len)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    if (!*from || *from >= end)
        return false;
    const char *a = memmem(*from, (size_t)(end - *from), open, strlen(open));
    if (!a)
        return false;
    a += strlen(open);
    const char *b = memmem(a, (size_t)(end - a), close, strlen(close));
    if (!b)
        return false;
    *start = a;
    *len = (size_t)(b - a);
    *from = b + strlen(close);
    return true;
}

bool rm_s3_xml_value(const char **from, const char *end, const char *tag, char *out, size_t size)
{
    const char *a;
    size_t len;
    if (!rm_s3_xml_span(from, end, tag, &a, &len))
        return false;
    const char *b = a + len;
    /* XML's five entities; S3 escapes nothing else. */
    size_t n = 0;
    for (const char *p = a; p < b && n + 1 < size; p++) {
        static const char *const ent[][2] = {
            {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}};
        bool done = false;
        for (size_t k = 0; k < 5 && !done; k++) {
            size_t el = strlen(ent[k][0]);
            if ((size_t)(b - p) >= el && memcmp(p, ent[k][0], el) == 0) {
                out[n++] = ent[k][1][0];
                p += el - 1;
                done = true;
            }
        }
        if (!done)
            out[n++] = *p;
    }
    out[n] = '\0';
    return true;
}

int rm_s3_parse_listing(const char *body, size_t len, rm_s3_list_fn fn, void *arg, char *token,
                        size_t token_size, bool *more)
{
    const char *from = body, *end = body + len, *item;
    size_t item_len;
    int rc = 0;
    *more = false;
    if (!body)
        return 0;
    while (rc == 0 && rm_s3_xml_span(&from, end, "Contents", &item, &item_len)) {
        char key[KEY_MAX * 2], size[32] = "0", etag[128] = "";
        const char *c = item, *c2 = item, *c3 = item, *cend = item + item_len;
        if (!rm_s3_xml_value(&c, cend, "Key", key, sizeof key))
            continue;
        rm_s3_xml_value(&c2, cend, "Size", size, sizeof size);
        rm_s3_xml_value(&c3, cend, "ETag", etag, sizeof etag);
        rc = fn(arg, key, strtoull(size, NULL, 10), etag);
    }
    char truncated[8] = "";
    from = body;
    *more = rm_s3_xml_value(&from, end, "IsTruncated", truncated, sizeof truncated) &&
            strcmp(truncated, "true") == 0;
    from = body;
    if (*more && !rm_s3_xml_value(&from, end, "NextContinuationToken", token, token_size))
        *more = false;
    if (*more && !token[0])
        *more = false; /* an empty token would list the first page again, for ever */
    return rc;
}

static bool retryable(long status, const char *code)
{
    static const char *const codes[] = {
        "RequestTimeout",     "RequestTimeoutException", "SlowDown",
        "Throttling",         "ThrottlingException",     "RequestLimitExceeded",
        "ThrottledException", "TooManyRequestsException"};
    if (status == 500 || status == 502 || status == 503 || status == 504)
        return true;
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
        if (strcmp(code, codes[i]) == 0)
            return true;
    return false;
}

/*  What a failure says: the request, the server's code and message, and a
    hint for the common causes. */
static int request_failed(rm_s3_t *self, const req_t *rq, const resp_t *rs, rm_err_t *err)
{
    char code[128] = "", message[300] = "";
    const char *from = (const char *)rs->body.data, *end = from + rs->body.len;
    if (from) {
        rm_s3_xml_value(&from, end, "Code", code, sizeof code);
        from = (const char *)rs->body.data;
        rm_s3_xml_value(&from, end, "Message", message, sizeof message);
    }
    const char *hint = "";
    if (strcmp(code, "SignatureDoesNotMatch") == 0)
        hint = ": check the secret access key";
    else if (strcmp(code, "InvalidAccessKeyId") == 0)
        hint = ": the access key id is not known there";
    else if (strcmp(code, "AccessDenied") == 0)
        hint = ": the credentials lack the permission";
    else if (strcmp(code, "NoSuchBucket") == 0)
        hint = ": create the bucket, or check its name and the region";
    /* RM_EUNREACH: S3 did not serve it now (5xx, throttling, a timeout),
       which a caller may try again later; the rest will not pass. */
    rm_code_t rc = retryable(rs->status, code) ? RM_EUNREACH
                   : rs->status == 404         ? RM_ENOTFOUND
                   : rs->status == 403         ? RM_EAUTH
                                               : RM_EIO;
    /* A HEAD answer has no body: its status is all there is. */
    const char *bare = rs->status == 404   ? "NotFound"
                       : rs->status == 403 ? "Forbidden (wrong key, secret or permission)"
                                           : "error";
    return rm_err_set(err, rc, "S3 %s s3://%s/%s: %ld %s%s%s%s (key id %s at %s)", rq->method,
                      rq->bucket, rq->key, rs->status, code[0] ? code : bare,
                      message[0] ? ": " : "", message, hint, self->settings.access_key_id,
                      self->settings.endpoint[0] ? self->settings.endpoint : "AWS");
}

/*  The request with the standard retry mode; 0 when it got an answer below
    300 (or one the caller takes: 404 for HEAD/GET, 412 for create-only). */
int rm_s3_request(rm_s3_t *self, const req_t *rq, resp_t *rs, rm_err_t *err)
{
    int attempts = self->settings.max_attempts > 0 ? self->settings.max_attempts : 3;
    for (int attempt = 1;; attempt++) {
        rm_err_t e = {0};
        bool again;
        /* An instance role's keys are temporary: new ones before they end
           (if the service does not answer, the old ones are tried). */
        int64_t expires = 0;
        if (self->settings.source == RM_AWS_CREDS_INSTANCE &&
            rm_aws_imds_stale(self->expires, (int64_t)time(NULL)) &&
            rm_aws_imds_fetch(&self->settings, &expires, &e) == 0)
            self->expires = expires;
        if (perform(self, rq, rs, &e) != 0) {
            again = e.code == RM_EUNREACH;
            if (!again || attempt >= attempts) {
                free(rs->body.data);
                rs->body.data = NULL;
                return rm_err_set(err, e.code, "S3 %s s3://%s/%s: %s (%d attempt(s))", rq->method,
                                  rq->bucket, rq->key, e.msg, attempt);
            }
        } else {
            if (rs->status < 300 || (rq->create_only && rs->status == 412))
                return 0;
            char code[128] = "";
            const char *from = (const char *)rs->body.data;
            if (from)
                rm_s3_xml_value(&from, from + rs->body.len, "Code", code, sizeof code);
            again = retryable(rs->status, code);
            if (!again || attempt >= attempts) {
                int rc = request_failed(self, rq, rs, err);
                free(rs->body.data);
                rs->body.data = NULL;
                return rc;
            }
        }
        free(rs->body.data);
        rs->body.data = NULL;
        /* random × min(2^attempt, 20) s */
        double cap = attempt >= 5 ? 20.0 : (double)(1 << attempt);
        if (cap > 20.0)
            cap = 20.0;
        double wait = randombytes_uniform(1000001) / 1000000.0 * cap;
        struct timespec ts = {0};
        long ms = (long)(wait * self->retry_unit_ms);
        ts.tv_sec = ms / 1000;
        ts.tv_nsec = (ms % 1000) * 1000000L;
        nanosleep(&ts, NULL);
    }
}

int rm_s3_check_names(const char *method, const char *bucket, const char *key, rm_err_t *err)
{
    if (!rm_s3_bucket_ok(bucket))
        return rm_err_set(err, RM_EINVAL, "S3 %s: bucket name '%s' is not 3-63 of [a-z0-9.-]",
                          method, bucket ? bucket : "");
    if (key && !rm_s3_key_ok(key))
        return rm_err_set(err, RM_EINVAL,
                          "S3 %s s3://%s/%s: object keys here are 1-1024 of [A-Za-z0-9._~/-]",
                          method, bucket, key);
    return 0;
}

/*  --- Operations --------------------------------------------------------- */

int rm_s3_put(rm_s3_t *self, const char *bucket, const char *key, const void *data, size_t len,
              bool create_only, rm_s3_object_t *out, rm_err_t *err)
{
    if (rm_s3_check_names("PUT", bucket, key, err) != 0)
        return -1;
    req_t rq = {.method = "PUT",
                .bucket = bucket,
                .key = key,
                .body = data,
                .body_len = len,
                .create_only = create_only,
                .max_body = ERROR_BODY_MAX};
    resp_t rs;
    if (rm_s3_request(self, &rq, &rs, err) != 0)
        return -1;
    if (out) {
        memset(out, 0, sizeof *out);
        out->size = len;
        out->existed = rs.status == 412;
        snprintf(out->etag, sizeof out->etag, "%s", rs.etag);
    }
    free(rs.body.data);
    return 0;
}

int rm_s3_get(rm_s3_t *self, const char *bucket, const char *key, uint64_t first, uint64_t max,
              uint8_t **data, size_t *len, rm_err_t *err)
{
    *data = NULL;
    *len = 0;
    if (rm_s3_check_names("GET", bucket, key, err) != 0)
        return -1;
    if (max > RM_S3_GET_MAX)
        max = RM_S3_GET_MAX;
    req_t rq = {.method = "GET",
                .bucket = bucket,
                .key = key,
                .range_first = first,
                .range_max = max,
                /* room for an error's body however small the range */
                .max_body = max ? (size_t)max + ERROR_BODY_MAX : RM_S3_GET_MAX};
    if (first && !max)
        return rm_err_set(err, RM_EINVAL, "S3 GET s3://%s/%s: a range needs its length", bucket,
                          key);
    resp_t rs;
    if (rm_s3_request(self, &rq, &rs, err) != 0)
        return -1;
    if (max && rs.body.len > max) {
        free(rs.body.data);
        return rm_err_set(err, RM_EIO,
                          "S3 GET s3://%s/%s: the server sent more than the range asked", bucket,
                          key);
    }
    *data = rs.body.data;
    *len = rs.body.len;
    if (!*data && !(*data = malloc(1))) /* an empty object */
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    return 0;
}

int rm_s3_head(rm_s3_t *self, const char *bucket, const char *key, rm_s3_object_t *out,
               rm_err_t *err)
{
    if (rm_s3_check_names("HEAD", bucket, key, err) != 0)
        return -1;
    req_t rq = {.method = "HEAD", .bucket = bucket, .key = key, .max_body = ERROR_BODY_MAX};
    resp_t rs;
    if (rm_s3_request(self, &rq, &rs, err) != 0) {
        /* A HEAD answer carries no error body, so a 403 cannot say whether
           the secret or a permission is wrong: one byte asked with GET
           brings S3's reason (SignatureDoesNotMatch, AccessDenied). */
        uint8_t *byte = NULL;
        size_t n = 0;
        rm_err_t why = {0};
        if (err && err->code == RM_EAUTH &&
            rm_s3_get(self, bucket, key, 0, 1, &byte, &n, &why) != 0 && why.code == RM_EAUTH)
            *err = why;
        free(byte);
        return -1; /* 404: RM_ENOTFOUND */
    }
    memset(out, 0, sizeof *out);
    out->size = rs.length;
    snprintf(out->etag, sizeof out->etag, "%s", rs.etag);
    free(rs.body.data);
    return 0;
}

int rm_s3_delete(rm_s3_t *self, const char *bucket, const char *key, rm_err_t *err)
{
    if (rm_s3_check_names("DELETE", bucket, key, err) != 0)
        return -1;
    req_t rq = {.method = "DELETE", .bucket = bucket, .key = key, .max_body = ERROR_BODY_MAX};
    resp_t rs;
    if (rm_s3_request(self, &rq, &rs, err) != 0)
        return -1;
    free(rs.body.data);
    return 0;
}

/*  A query value, %-encoded as SigV4 wants (unreserved characters kept). */
void rm_s3_query_encode(const char *in, char *out, size_t size)
{
    size_t n = 0;
    for (const unsigned char *c = (const unsigned char *)in; *c && n + 4 < size; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            strchr("-_.~", *c))
            out[n++] = (char)*c;
        else
            n += (size_t)snprintf(out + n, size - n, "%%%02X", *c);
    }
    out[n] = '\0';
}

int rm_s3_list(rm_s3_t *self, const char *bucket, const char *prefix, unsigned page,
               rm_s3_list_fn fn, void *arg, rm_err_t *err)
{
    if (rm_s3_check_names("LIST", bucket, NULL, err) != 0)
        return -1;
    char token[1024] = "", enc_token[3100], enc_prefix[3100], query[6400];
    rm_s3_query_encode(prefix ? prefix : "", enc_prefix, sizeof enc_prefix);
    for (;;) {
        rm_s3_query_encode(token, enc_token, sizeof enc_token);
        /* Sorted by name, as the signature's canonical query. */
        char max_keys[32] = "";
        if (page)
            snprintf(max_keys, sizeof max_keys, "&max-keys=%u", page);
        snprintf(query, sizeof query, "%s%s%slist-type=2%s&prefix=%s",
                 token[0] ? "continuation-token=" : "", token[0] ? enc_token : "",
                 token[0] ? "&" : "", max_keys, enc_prefix);
        req_t rq = {.method = "GET",
                    .bucket = bucket,
                    .key = "",
                    .query = query,
                    .max_body = LIST_BODY_MAX};
        resp_t rs;
        if (rm_s3_request(self, &rq, &rs, err) != 0)
            return -1;
        bool more = false;
        int rc = rm_s3_parse_listing((const char *)rs.body.data, rs.body.len, fn, arg, token,
                                     sizeof token, &more);
        free(rs.body.data);
        if (rc != 0 || !more)
            return 0;
    }
}
