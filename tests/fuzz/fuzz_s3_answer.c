/*  libFuzzer target: what an S3 server answers, read by rm_s3 (the
    listing parser and the error fields).  Every key handed to the
    callback is a NUL-terminated string inside its buffer; a truncated
    answer always comes with a non-empty continuation token. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_s3_private.h"

static int on_key(void *arg, const char *key, uint64_t size, const char *etag)
{
    (void)size;
    size_t *n = arg;
    if (strlen(key) >= 2048 || strlen(etag) >= 128)
        abort();
    return ++*n >= 100000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char token[1024];
    bool more = false;
    size_t n = 0;
    token[0] = '\0';
    rm_s3_parse_listing((const char *)data, size, on_key, &n, token, sizeof token, &more);
    if (more && (!token[0] || strlen(token) >= sizeof token))
        abort();
    char code[128], message[300];
    const char *from = (const char *)data, *end = from + size;
    if (rm_s3_xml_value(&from, end, "Code", code, sizeof code) && strlen(code) >= sizeof code)
        abort();
    from = (const char *)data;
    if (rm_s3_xml_value(&from, end, "Message", message, sizeof message) &&
        (strlen(message) >= sizeof message || from > end))
        abort();
    return 0;
}
