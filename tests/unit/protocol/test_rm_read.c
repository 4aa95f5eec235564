#include "rm_read.h"

#include <msgpack.h>

#include "rm_test.h"

typedef struct {
    msgpack_sbuffer buf;
    msgpack_packer pk;
} packed_t;

static void packed_init(packed_t *p)
{
    msgpack_sbuffer_init(&p->buf);
    msgpack_packer_init(&p->pk, &p->buf, msgpack_sbuffer_write);
}

static void test_reads_what_msgpack_wrote(void)
{
    packed_t p;
    packed_init(&p);
    msgpack_pack_array(&p.pk, 4);
    msgpack_pack_uint64(&p.pk, UINT64_MAX);
    msgpack_pack_int64(&p.pk, -5);
    msgpack_pack_true(&p.pk);
    msgpack_pack_str_with_body(&p.pk, "frame", 5);
    rm_reader_t r;
    rm_reader_init(&r, (const uint8_t *)p.buf.data, p.buf.size);
    uint32_t n = 0;
    uint64_t u = 0;
    int64_t i = 0;
    bool b = false;
    const char *s = NULL;
    uint32_t len = 0;
    rm_err_t err;
    CHECK(rm_read_array(&r, 8, &n, &err) == 0 && n == 4);
    CHECK(rm_read_u64(&r, &u, &err) == 0 && u == UINT64_MAX);
    CHECK(rm_read_i64(&r, &i, &err) == 0 && i == -5);
    CHECK(rm_read_bool(&r, &b, &err) == 0 && b);
    CHECK(rm_read_str_ref(&r, 16, &s, &len, &err) == 0 && len == 5 && memcmp(s, "frame", 5) == 0);
    CHECK(rm_read_left(&r) == 0);
    msgpack_sbuffer_destroy(&p.buf);
}

/*  A header that promises more than the buffer holds is refused before any
    caller could allocate by it. */
static void test_refuses_a_length_beyond_the_buffer(void)
{
    const uint8_t str32[] = {0xdb, 0xff, 0xff, 0xff, 0xf0, 'a'};
    const uint8_t array32[] = {0xdd, 0x7f, 0xff, 0xff, 0xff, 0x01};
    rm_reader_t r;
    rm_err_t err;
    const char *s;
    uint32_t len, n;
    rm_reader_init(&r, str32, sizeof str32);
    CHECK(rm_read_str_ref(&r, 0, &s, &len, &err) != 0 && err.code == RM_EPROTO);
    rm_reader_init(&r, array32, sizeof array32);
    CHECK(rm_read_array(&r, 0, &n, &err) != 0 && err.code == RM_EPROTO);
}

static void test_refuses_more_than_max(void)
{
    packed_t p;
    packed_init(&p);
    msgpack_pack_str_with_body(&p.pk, "0123456789", 10);
    rm_reader_t r;
    rm_reader_init(&r, (const uint8_t *)p.buf.data, p.buf.size);
    const char *s;
    uint32_t len;
    rm_err_t err;
    CHECK(rm_read_str_ref(&r, 9, &s, &len, &err) != 0 && err.code == RM_EPROTO);
    msgpack_sbuffer_destroy(&p.buf);
}

static void test_skip_is_bounded_in_depth(void)
{
    for (int depth = RM_READ_MAX_DEPTH; depth <= RM_READ_MAX_DEPTH + 1; depth++) {
        packed_t p;
        packed_init(&p);
        for (int k = 0; k < depth; k++)
            msgpack_pack_array(&p.pk, 1);
        msgpack_pack_nil(&p.pk);
        rm_reader_t r;
        rm_reader_init(&r, (const uint8_t *)p.buf.data, p.buf.size);
        rm_err_t err;
        int rc = rm_read_skip(&r, &err);
        CHECK_MSG(depth <= RM_READ_MAX_DEPTH ? rc == 0 && rm_read_left(&r) == 0 : rc != 0,
                  "depth %d: rc %d", depth, rc);
        msgpack_sbuffer_destroy(&p.buf);
    }
}

static void test_empty_and_null_buffers_read_nothing(void)
{
    rm_reader_t r;
    rm_err_t err;
    uint64_t u;
    rm_reader_init(&r, NULL, 0);
    CHECK(rm_read_left(&r) == 0 && rm_read_u64(&r, &u, &err) != 0 && err.code == RM_EPROTO);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_reads_what_msgpack_wrote);
    RM_RUN(test_refuses_a_length_beyond_the_buffer);
    RM_RUN(test_refuses_more_than_max);
    RM_RUN(test_skip_is_bounded_in_depth);
    RM_RUN(test_empty_and_null_buffers_read_nothing);
    RM_TEST_DONE();
}
