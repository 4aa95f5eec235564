/*  libFuzzer target: rm_manifest_decode (manifests arrive as chunks from
    submitters and peers).  Whatever decodes must have only safe paths and
    survive re-encoding. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_manifest.h"

/*  Relative, and no component is empty, "." or "..": "..x" is a name. */
static bool safe_path(const char *p)
{
    if (!*p || *p == '/')
        return false;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (!end)
            return true;
        p = end + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rm_manifest_t m = {0};
    rm_err_t err;
    if (rm_manifest_decode(data, size, &m, &err) != 0)
        return 0;
    for (uint32_t i = 0; i < m.files.count; i++)
        if (!safe_path(m.files.items[i].path))
            abort();
    uint8_t *buf = NULL;
    size_t len = 0;
    if (rm_codec_encode(&rm_manifest_desc, &m, &buf, &len, &err) != 0)
        abort();
    rm_manifest_t again = {0};
    if (rm_manifest_decode(buf, len, &again, &err) != 0)
        abort();
    free(buf);
    rm_manifest_free(&again);
    rm_manifest_free(&m);
    return 0;
}
