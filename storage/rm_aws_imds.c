#define _GNU_SOURCE /* timegm */
#include "rm_aws_imds.h"

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ANSWER_MAX 16384

typedef struct {
    char data[ANSWER_MAX];
    size_t len;
} answer_t;

static size_t on_imds_body(char *ptr, size_t size, size_t n, void *arg)
{
    answer_t *a = arg;
    size_t len = size * n;
    if (a->len + len >= sizeof a->data)
        return 0;
    memcpy(a->data + a->len, ptr, len);
    a->len += len;
    a->data[a->len] = '\0';
    return len;
}

/*  One call: 0 with the body in *a when the status is 200. */
static int call(const char *imds, const char *method, const char *path, const char *header,
                answer_t *a, long *status, rm_err_t *err)
{
    CURL *c = curl_easy_init();
    if (!c)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    char url[600];
    snprintf(url, sizeof url, "%s%s", imds, path);
    struct curl_slist *headers = curl_slist_append(NULL, header);
    memset(a, 0, sizeof *a);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_imds_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)RM_AWS_IMDS_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*"); /* the metadata address is link-local */
    if (strcmp(method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    }
    CURLcode rc = curl_easy_perform(c);
    *status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK)
        return rm_err_set(err, RM_EUNREACH,
                          "no instance metadata service at %s (%s): not on EC2? Set AWS "
                          "credentials, a profile, or AWS_EC2_METADATA_SERVICE_ENDPOINT",
                          imds, curl_easy_strerror(rc));
    return 0;
}

bool rm_aws_imds_stale(int64_t expires, int64_t now)
{
    return expires != 0 && now >= expires - RM_AWS_IMDS_REFRESH_S;
}

/*  "2026-12-04T21:00:00Z" -> unix seconds, 0 if unreadable. */
static int64_t parse_time(const char *text)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = text ? strptime(text, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    return end ? (int64_t)timegm(&tm) : 0;
}

int rm_aws_imds_fetch(rm_aws_settings_t *s, int64_t *expires, rm_err_t *err)
{
    answer_t *a = calloc(1, sizeof *a);
    if (!a)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    long status = 0;
    char token[1024] = "", header[1200], role[256] = "", path[512];
    int rc = call(s->imds, "PUT", "/latest/api/token",
                  "X-aws-ec2-metadata-token-ttl-seconds: 21600", a, &status, err);
    if (rc == 0 && (status != 200 || a->len == 0 || a->len >= sizeof token))
        rc = rm_err_set(err, RM_EUNREACH, "the instance metadata service at %s gave no token (%ld)",
                        s->imds, status);
    if (rc == 0) {
        snprintf(token, sizeof token, "%.*s", (int)a->len, a->data);
        snprintf(header, sizeof header, "X-aws-ec2-metadata-token: %s", token);
        rc = call(s->imds, "GET", "/latest/meta-data/iam/security-credentials/", header, a, &status,
                  err);
    }
    if (rc == 0 && (status != 200 || a->len == 0))
        rc = rm_err_set(err, RM_EAUTH,
                        "this instance has no IAM role (metadata service at %s: %ld): attach one "
                        "with S3 access, or set AWS credentials",
                        s->imds, status);
    if (rc == 0) {
        size_t n = strcspn(a->data, "\r\n");
        snprintf(role, sizeof role, "%.*s", (int)n, a->data);
        snprintf(path, sizeof path, "/latest/meta-data/iam/security-credentials/%s", role);
        rc = call(s->imds, "GET", path, header, a, &status, err);
    }
    json_t *doc = NULL;
    if (rc == 0 && (status != 200 || !(doc = json_loadb(a->data, a->len, 0, NULL))))
        rc = rm_err_set(err, RM_EAUTH, "the role %s's credentials are unreadable (%ld)", role,
                        status);
    const char *id = doc ? json_string_value(json_object_get(doc, "AccessKeyId")) : NULL;
    const char *secret = doc ? json_string_value(json_object_get(doc, "SecretAccessKey")) : NULL;
    const char *session = doc ? json_string_value(json_object_get(doc, "Token")) : NULL;
    const char *until = doc ? json_string_value(json_object_get(doc, "Expiration")) : NULL;
    if (rc == 0 && (!id || !secret || strlen(id) >= sizeof s->access_key_id ||
                    strlen(secret) >= sizeof s->secret_access_key ||
                    (session && strlen(session) >= sizeof s->session_token)))
        rc = rm_err_set(err, RM_EAUTH, "the role %s's credentials lack a key id or secret", role);
    if (rc == 0) {
        snprintf(s->access_key_id, sizeof s->access_key_id, "%s", id);
        snprintf(s->secret_access_key, sizeof s->secret_access_key, "%s", secret);
        snprintf(s->session_token, sizeof s->session_token, "%s", session ? session : "");
        s->source = RM_AWS_CREDS_INSTANCE;
        snprintf(s->source_file, sizeof s->source_file, "role %s", role);
        *expires = parse_time(until);
    }
    if (rc == 0 && !s->region[0] &&
        call(s->imds, "GET", "/latest/meta-data/placement/region", header, a, &status, err) == 0 &&
        status == 200 && a->len > 0 && a->len < sizeof s->region)
        snprintf(s->region, sizeof s->region, "%.*s", (int)a->len, a->data);
    if (doc) {
        /* Secrets in jansson's copies: wiped before they are freed. */
        json_t *v = json_object_get(doc, "SecretAccessKey");
        if (json_is_string(v))
            sodium_memzero((void *)json_string_value(v), strlen(json_string_value(v)));
        v = json_object_get(doc, "Token");
        if (json_is_string(v))
            sodium_memzero((void *)json_string_value(v), strlen(json_string_value(v)));
        json_decref(doc);
    }
    sodium_memzero(a, sizeof *a);
    sodium_memzero(token, sizeof token);
    sodium_memzero(header, sizeof header);
    free(a);
    return rc;
}
