#include "rm_s3_output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_fs.h"
#include "rm_manifest.h"
#include "rm_s3_url.h"

/*  The file's chunks, verified by the store, into fd or buf. */
static int assemble(rm_store_t *store, const rm_manifest_file_t *f, int fd, uint8_t *buf,
                    rm_err_t *err)
{
    uint64_t at = 0;
    for (uint32_t i = 0; i < f->chunks.count; i++) {
        uint8_t *data = NULL;
        size_t len = 0;
        if (rm_store_get(store, &f->chunks.items[i], &data, &len, err) != 0)
            return -1;
        int rc = 0;
        if (at + len > f->size)
            rc = rm_err_set(err, RM_EIO, "%s: chunks longer than its size", f->path);
        else if (buf)
            memcpy(buf + at, data, len);
        else if (rm_fs_write_all(fd, data, len) != 0)
            rc = rm_err_set(err, rm_err_from_errno(errno), "cannot write a temporary file: %s",
                            strerror(errno));
        free(data);
        if (rc != 0)
            return -1;
        at += len;
    }
    if (at != f->size)
        return rm_err_set(err, RM_EIO, "%s: chunks shorter than its size", f->path);
    return 0;
}

static int put_large(rm_s3_t *s3, rm_store_t *store, const rm_manifest_file_t *f,
                     const char *bucket, const char *key, const char *tmpdir, rm_s3_object_t *obj,
                     rm_err_t *err)
{
    char path[RM_MAX_PATH + 64];
    snprintf(path, sizeof path, "%s/s3-upload.XXXXXX", tmpdir);
    if (rm_fs_mkdir_p(tmpdir, 0700, 0700, err) != 0)
        return -1;
    int fd = mkstemp(path);
    if (fd < 0)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot create %s: %s", path,
                          strerror(errno));
    int rc = assemble(store, f, fd, NULL, err);
    close(fd);
    if (rc == 0)
        rc = rm_s3_put_file_multipart(s3, bucket, key, path, true, obj, err);
    unlink(path);
    return rc;
}

int rm_s3_output_put(rm_s3_t *s3, rm_store_t *store, const rm_hash_t *output, const char *bucket,
                     const char *prefix, const char *tmpdir, rm_s3_output_stats_t *stats,
                     rm_err_t *err)
{
    memset(stats, 0, sizeof *stats);
    rm_manifest_t m = {0};
    if (rm_manifest_load(store, output, &m, err) != 0)
        return -1;
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < m.files.count; i++) {
        const rm_manifest_file_t *f = &m.files.items[i];
        char key[RM_S3_KEY_MAX + 2];
        int n = snprintf(key, sizeof key, "%s%s", prefix, f->path);
        if (n < 0 || (size_t)n > RM_S3_KEY_MAX || !rm_s3_url_key_ok(key)) {
            rc = rm_err_set(err, RM_EINVAL,
                            "%s cannot be stored as s3://%s/%s%s: keys here are at most %d of "
                            "A-Z a-z 0-9 . _ ~ - and '/'",
                            f->path, bucket, prefix, f->path, RM_S3_KEY_MAX);
            break;
        }
        rm_s3_object_t obj;
        if (f->size > RM_S3_OUTPUT_SINGLE) {
            rc = put_large(s3, store, f, bucket, key, tmpdir, &obj, err);
        } else {
            uint8_t *buf = malloc(f->size ? f->size : 1);
            if (!buf)
                rc = rm_err_set(err, RM_ENOMEM, "out of memory");
            else if ((rc = assemble(store, f, -1, buf, err)) == 0)
                rc = rm_s3_put(s3, bucket, key, buf, f->size, true, &obj, err);
            free(buf);
        }
        if (rc == 0) {
            stats->files++;
            stats->existed += obj.existed;
            stats->bytes += obj.existed ? 0 : f->size;
        }
    }
    rm_manifest_free(&m);
    return rc;
}
