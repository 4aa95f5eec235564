/*  Multipart uploads (rm_s3_put_file_multipart): CreateMultipartUpload
    (POST ?uploads=), UploadPart (PUT ?partNumber=N&uploadId=ID),
    CompleteMultipartUpload (POST ?uploadId=ID with the parts' ETags), and
    AbortMultipartUpload (DELETE ?uploadId=ID) when anything fails. */
#include "rm_s3.h"
#include "rm_s3_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ETAG_MAX 128

typedef struct {
    rm_s3_t *s3;
    const char *bucket, *key;
    char upload_id[1100]; /* %-encoded for the query */
} upload_t;

static int begin(upload_t *u, rm_err_t *err)
{
    req_t rq = {.method = "POST",
                .bucket = u->bucket,
                .key = u->key,
                .query = "uploads=", /* "uploads" alone fails libcurl 7.88's signature */
                .max_body = RM_S3_ERROR_BODY_MAX};
    resp_t rs;
    if (rm_s3_request(u->s3, &rq, &rs, err) != 0)
        return -1;
    char id[1024] = "";
    const char *from = (const char *)rs.body.data;
    bool ok =
        from && rm_s3_xml_value(&from, from + rs.body.len, "UploadId", id, sizeof id) && id[0];
    free(rs.body.data);
    if (!ok)
        return rm_err_set(err, RM_EPROTO, "S3 POST s3://%s/%s?uploads: no UploadId in the answer",
                          u->bucket, u->key);
    rm_s3_query_encode(id, u->upload_id, sizeof u->upload_id);
    return 0;
}

static void abort_upload(upload_t *u)
{
    char query[1200];
    snprintf(query, sizeof query, "uploadId=%s", u->upload_id);
    req_t rq = {.method = "DELETE",
                .bucket = u->bucket,
                .key = u->key,
                .query = query,
                .max_body = RM_S3_ERROR_BODY_MAX};
    resp_t rs;
    rm_err_t ignored;
    if (rm_s3_request(u->s3, &rq, &rs, &ignored) == 0)
        free(rs.body.data);
}

static int put_part(upload_t *u, uint32_t number, const uint8_t *data, size_t len, char *etag,
                    rm_err_t *err)
{
    char query[1300];
    /* Sorted: partNumber before uploadId. */
    snprintf(query, sizeof query, "partNumber=%u&uploadId=%s", number, u->upload_id);
    req_t rq = {.method = "PUT",
                .bucket = u->bucket,
                .key = u->key,
                .query = query,
                .body = data,
                .body_len = len,
                .max_body = RM_S3_ERROR_BODY_MAX};
    resp_t rs;
    if (rm_s3_request(u->s3, &rq, &rs, err) != 0)
        return rm_err_prefix(err, "part %u: ", number);
    free(rs.body.data);
    if (!rs.etag[0])
        return rm_err_set(err, RM_EPROTO, "S3 PUT s3://%s/%s part %u: no ETag in the answer",
                          u->bucket, u->key, number);
    snprintf(etag, ETAG_MAX, "%s", rs.etag);
    return 0;
}

/*  CompleteMultipartUpload answers 200 and may still carry an <Error>. */
static int complete(upload_t *u, char (*etags)[ETAG_MAX], uint32_t parts, bool create_only,
                    rm_s3_object_t *out, rm_err_t *err)
{
    size_t cap = 128 + (size_t)parts * (64 + ETAG_MAX), n = 0;
    char *xml = malloc(cap);
    if (!xml)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    n += (size_t)snprintf(xml + n, cap - n, "<CompleteMultipartUpload>");
    for (uint32_t i = 0; i < parts; i++)
        n += (size_t)snprintf(xml + n, cap - n,
                              "<Part><PartNumber>%u</PartNumber><ETag>%s</ETag></Part>", i + 1,
                              etags[i]);
    n += (size_t)snprintf(xml + n, cap - n, "</CompleteMultipartUpload>");
    char query[1200];
    snprintf(query, sizeof query, "uploadId=%s", u->upload_id);
    req_t rq = {.method = "POST",
                .bucket = u->bucket,
                .key = u->key,
                .query = query,
                .body = (const uint8_t *)xml,
                .body_len = n,
                .create_only = create_only,
                .max_body = RM_S3_ERROR_BODY_MAX};
    resp_t rs;
    int rc = rm_s3_request(u->s3, &rq, &rs, err);
    free(xml);
    if (rc != 0)
        return -1;
    char code[128] = "", etag[ETAG_MAX] = "";
    const char *from = (const char *)rs.body.data, *end = from ? from + rs.body.len : NULL;
    if (from && rs.status == 200 && rm_s3_xml_value(&from, end, "Code", code, sizeof code))
        rc = rm_err_set(err, RM_EIO, "S3 POST s3://%s/%s (complete the upload): %s", u->bucket,
                        u->key, code);
    from = (const char *)rs.body.data;
    if (rc == 0 && from)
        rm_s3_xml_value(&from, end, "ETag", etag, sizeof etag);
    free(rs.body.data);
    if (rc == 0) {
        out->existed = rs.status == 412;
        snprintf(out->etag, sizeof out->etag, "%s", etag);
    }
    return rc;
}

int rm_s3_put_file_multipart(rm_s3_t *self, const char *bucket, const char *key, const char *path,
                             bool create_only, rm_s3_object_t *out, rm_err_t *err)
{
    if (rm_s3_check_names("PUT", bucket, key, err) != 0)
        return -1;
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        int e = errno;
        if (f)
            fclose(f);
        return rm_err_set(err, RM_EIO, "cannot read %s: %s", path, strerror(e));
    }
    uint64_t size = (uint64_t)st.st_size;
    uint64_t part = RM_S3_PART_MIN;
    if ((size + part - 1) / part > RM_S3_PARTS_MAX) /* more than 10,000 parts: larger ones */
        part = (size + RM_S3_PARTS_MAX - 1) / RM_S3_PARTS_MAX;
    uint32_t parts = size ? (uint32_t)((size + part - 1) / part) : 1;
    char(*etags)[ETAG_MAX] = calloc(parts, ETAG_MAX);
    uint8_t *buf = malloc(part ? (size_t)part : 1);
    upload_t u = {.s3 = self, .bucket = bucket, .key = key};
    int rc = -1;
    if (!etags || !buf) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        goto out;
    }
    if (begin(&u, err) != 0)
        goto out;
    rc = 0;
    for (uint32_t i = 0; rc == 0 && i < parts; i++) {
        size_t want = (size_t)(i + 1 < parts ? part : size - (uint64_t)i * part);
        if (fread(buf, 1, want, f) != want)
            rc = rm_err_set(err, RM_EIO, "cannot read %s: it changed while uploading", path);
        else
            rc = put_part(&u, i + 1, buf, want, etags[i], err);
    }
    memset(out, 0, sizeof *out);
    out->size = size;
    if (rc == 0)
        rc = complete(&u, etags, parts, create_only, out, err);
    /* Failed, or not needed (the object was there): no parts left behind. */
    if (rc != 0 || out->existed)
        abort_upload(&u);
out:
    fclose(f);
    free(etags);
    free(buf);
    return rc;
}
