/*  rm_s3_tool: storage/rm_s3 from the command line, for the S3 tests
    (tests/e2e/test_s3.sh compares what it does with awscli's view).
    Settings come from the environment and ~/.aws, as rm_aws_config finds
    them.

      rm_s3_tool put BUCKET KEY FILE [create-only]   prints "stored ETAG" or "existed"
      rm_s3_tool putmp BUCKET KEY FILE [create-only] the same, as a multipart upload
      rm_s3_tool get BUCKET KEY OUT [FIRST LEN]
      rm_s3_tool head BUCKET KEY                      prints "SIZE ETAG"
      rm_s3_tool delete BUCKET KEY
      rm_s3_tool list BUCKET PREFIX [PAGE]            prints "KEY SIZE" per object
    Exit 0, or 1 with the error on stderr (2: missing, 3: usage). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_s3.h"

static const char *real_env(void *arg, const char *name)
{
    (void)arg;
    return getenv(name);
}

static int print_key(void *arg, const char *key, uint64_t size, const char *etag)
{
    (void)arg;
    (void)etag;
    printf("%s %llu\n", key, (unsigned long long)size);
    return 0;
}

static int read_all(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 1 << 16;
    *data = malloc(cap);
    *len = 0;
    size_t n;
    while (*data && (n = fread(*data + *len, 1, cap - *len, f)) > 0) {
        *len += n;
        if (*len == cap) {
            uint8_t *grown = realloc(*data, cap *= 2);
            if (!grown) {
                free(*data);
                *data = NULL;
            }
            *data = grown;
        }
    }
    fclose(f);
    return *data ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: rm_s3_tool put|get|head|delete|list BUCKET KEY ...\n");
        return 3;
    }
    const char *op = argv[1], *bucket = argv[2], *key = argv[3];
    rm_aws_settings_t settings;
    rm_err_t err = {0};
    rm_s3_t *s3 = NULL;
    if (rm_aws_resolve(NULL, real_env, NULL, getenv("HOME"), &settings, &err) != 0 ||
        !(s3 = rm_s3_new(&settings, &err))) {
        fprintf(stderr, "rm_s3_tool: %s\n", err.msg);
        return 1;
    }
    const char *unit = getenv("RM_S3_RETRY_UNIT_MS");
    if (unit)
        rm_s3_set_retry_unit(s3, atoi(unit));
    int rc = 0;
    if (strcmp(op, "put") == 0 && argc >= 5) {
        uint8_t *data = NULL;
        size_t len = 0;
        rm_s3_object_t obj;
        if (read_all(argv[4], &data, &len) != 0) {
            fprintf(stderr, "rm_s3_tool: cannot read %s\n", argv[4]);
            rc = -1;
        } else if ((rc = rm_s3_put(s3, bucket, key, data, len,
                                   argc >= 6 && strcmp(argv[5], "create-only") == 0, &obj, &err)) ==
                   0) {
            if (obj.existed)
                printf("existed\n");
            else
                printf("stored %s\n", obj.etag);
        }
        free(data);
    } else if (strcmp(op, "putmp") == 0 && argc >= 5) {
        rm_s3_object_t obj;
        if ((rc = rm_s3_put_file_multipart(s3, bucket, key, argv[4],
                                           argc >= 6 && strcmp(argv[5], "create-only") == 0, &obj,
                                           &err)) == 0) {
            if (obj.existed)
                printf("existed\n");
            else
                printf("stored %s\n", obj.etag);
        }
    } else if (strcmp(op, "get") == 0 && argc >= 5) {
        uint8_t *data = NULL;
        size_t len = 0;
        uint64_t first = argc >= 7 ? strtoull(argv[5], NULL, 10) : 0;
        uint64_t max = argc >= 7 ? strtoull(argv[6], NULL, 10) : 0;
        if ((rc = rm_s3_get(s3, bucket, key, first, max, &data, &len, &err)) == 0) {
            FILE *f = fopen(argv[4], "wb");
            if (!f || fwrite(data, 1, len, f) != len) {
                fprintf(stderr, "rm_s3_tool: cannot write %s\n", argv[4]);
                rc = -1;
            }
            if (f)
                fclose(f);
        }
        free(data);
    } else if (strcmp(op, "head") == 0) {
        rm_s3_object_t obj;
        if ((rc = rm_s3_head(s3, bucket, key, &obj, &err)) == 0)
            printf("%llu %s\n", (unsigned long long)obj.size, obj.etag);
    } else if (strcmp(op, "delete") == 0) {
        rc = rm_s3_delete(s3, bucket, key, &err);
    } else if (strcmp(op, "list") == 0) {
        rc = rm_s3_list(s3, bucket, key, argc >= 5 ? (unsigned)atoi(argv[4]) : 0, print_key, NULL,
                        &err);
    } else {
        fprintf(stderr, "rm_s3_tool: unknown command or missing arguments: %s\n", op);
        rm_s3_destroy(&s3);
        return 3;
    }
    if (rc != 0 && err.msg[0])
        fprintf(stderr, "rm_s3_tool: %s\n", err.msg);
    int code = rc == 0 ? 0 : err.code == RM_ENOTFOUND ? 2 : 1;
    rm_s3_destroy(&s3);
    rm_aws_settings_clear(&settings);
    return code;
}
