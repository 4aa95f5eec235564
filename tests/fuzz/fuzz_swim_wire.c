/*  libFuzzer target: rm_swim_wire_decode on arbitrary bytes (what a peer
    can send the membership engine).  A refusal must be RM_EPROTO with a
    terminated message; whatever decodes must re-encode, decode again and
    give the same bytes the second time (the first encoding may differ from
    the input: non-minimal ints, appended fields). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_swim_wire.h"

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_swim_wire: %s: %s\n", what, detail);
    abort();
}

static uint8_t *encode(const rm_swim_wire_msg_t *m, size_t *len)
{
    uint8_t *buf, *enc[RM_SWIM_MAX_UPDATES];
    size_t lens[RM_SWIM_MAX_UPDATES];
    if (rm_swim_wire_encode_head(m->kind, m->from, &m->body, &buf, len))
        fail("encode head", rm_swim_wire_kind_name(m->kind));
    for (uint32_t i = 0; i < m->nupdates; i++)
        if (!(enc[i] = rm_swim_wire_encode_update(&m->updates[i], &lens[i])))
            fail("encode update", m->updates[i].name);
    if (rm_swim_wire_append_updates(&buf, len, (const uint8_t *const *)enc, lens, m->nupdates))
        fail("append updates", "out of memory");
    for (uint32_t i = 0; i < m->nupdates; i++)
        free(enc[i]);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rm_swim_wire_msg_t m, m2; /* 4 KiB each: not on the stack */
    rm_err_t err;
    size_t l1, l2;
    if (rm_swim_wire_decode(data, size, &m, &err)) {
        if (err.code != RM_EPROTO || !memchr(err.msg, '\0', sizeof err.msg))
            fail("bad error", err.msg);
        if (m.nupdates)
            fail("refused message left updates", err.msg);
        return 0;
    }
    uint8_t *b1 = encode(&m, &l1);
    if (rm_swim_wire_decode(b1, l1, &m2, &err))
        fail("re-encoded message refused", err.msg);
    uint8_t *b2 = encode(&m2, &l2);
    if (l1 != l2 || memcmp(b1, b2, l1) != 0)
        fail("second encoding differs", rm_swim_wire_kind_name(m.kind));
    rm_swim_wire_free(&m);
    rm_swim_wire_free(&m2);
    free(b1);
    free(b2);
    return 0;
}
