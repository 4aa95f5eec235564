/*  libFuzzer target: rm_frames_parse on arbitrary text.  Whatever parses
    must validate, expand, and format back to text that parses to the same
    frames. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_frames.h"

static void fail(const char *what, const rm_err_t *err)
{
    fprintf(stderr, "fuzz_frames: %s: %s\n", what, err->msg);
    abort();
}

/*  Expands `text`'s ranges; aborts if they are invalid. */
static void expand(const rm_frame_range_t *r, uint32_t n, uint64_t **f, uint32_t *nf)
{
    rm_err_t err;
    if (rm_frames_validate(r, n, &err))
        fail("parsed ranges do not validate", &err);
    if (rm_frames_expand(r, n, f, nf, &err))
        fail("parsed ranges do not expand", &err);
    for (uint32_t i = 1; i < *nf; i++)
        if ((*f)[i - 1] >= (*f)[i])
            fail("frames not sorted and distinct", &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    rm_frame_range_t *r, *r2;
    uint32_t n, n2, nf, nf2;
    uint64_t *f, *f2;
    rm_err_t err;
    memcpy(text, data, size);
    text[size] = '\0';
    if (rm_frames_parse(text, &r, &n, &err)) {
        if (r || n)
            fail("outputs set on failure", &err);
        free(text);
        return 0;
    }
    expand(r, n, &f, &nf);
    /* 48 bytes hold any one range as text. */
    size_t cap = (size_t)n * 48 + 1;
    char *again = malloc(cap);
    rm_frames_format(r, n, again, cap);
    if (rm_frames_parse(again, &r2, &n2, &err))
        fail("formatted ranges do not parse", &err);
    expand(r2, n2, &f2, &nf2);
    if (nf != nf2 || memcmp(f, f2, nf * sizeof *f) != 0)
        fail("formatted ranges expand differently", &err);
    free(f);
    free(f2);
    free(r);
    free(r2);
    free(again);
    free(text);
    return 0;
}
