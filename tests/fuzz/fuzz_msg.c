/*  libFuzzer target: rm_msg_decode on arbitrary bytes.  Whatever decodes
    must re-encode, decode again, and give the same bytes the second time
    (the first encoding may differ from the input: non-minimal ints, extra
    fields, and optional fields an older peer left out, which come back as
    their zero value: an absent 32-byte hash re-encodes as 34 bytes, so a
    list of small items without it may grow a few times over, never
    unboundedly). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_msg.h"

static void fail(const char *what, const rm_err_t *err)
{
    fprintf(stderr, "fuzz_msg: %s: %s\n", what, err->msg);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rm_msg_t m, m2;
    rm_err_t err;
    uint8_t *b1, *b2;
    size_t l1, l2;
    if (rm_msg_decode(data, size, &m, &err)) {
        if (err.code != RM_EPROTO || !memchr(err.msg, '\0', sizeof err.msg))
            fail("bad error", &err);
        rm_msg_free(&m);
        return 0;
    }
    if (rm_msg_encode(m.type, m.req, &m.u, &b1, &l1, &err))
        fail("re-encoding a decoded message", &err);
    if (l1 > 8 * size + 1024)
        fail("re-encoding grew beyond what absent optional fields explain", &err);
    if (rm_msg_decode(b1, l1, &m2, &err))
        fail("decoding our own encoding", &err);
    if (rm_msg_encode(m2.type, m2.req, &m2.u, &b2, &l2, &err))
        fail("encoding twice", &err);
    if (l1 != l2 || memcmp(b1, b2, l1) != 0)
        fail("encodings differ", &err);
    free(b1);
    free(b2);
    rm_msg_free(&m);
    rm_msg_free(&m2);
    return 0;
}
