/*  Tests of the table-driven codec and the bounded reader, on descriptors
    that use every field type. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "rm_codec.h"
#include "rm_msg.h"
#include "rm_test.h"

typedef struct {
    uint8_t b[32];
} h32_t;

typedef struct {
    uint64_t x;
    char *s;
} inner_t;

static const rm_field_t inner_fields[] = {
    RM_FIELD(inner_t, x, RM_F_U64, 1000, "a number"),
    RM_FIELD(inner_t, s, RM_F_STR, 8, "a short string"),
};
static const rm_struct_desc_t inner_desc = RM_DESC(inner_t, "inner", inner_fields, "nested");

typedef struct {
    uint64_t u;
    int64_t i;
    bool b;
    char *s;
    rm_bin_t bin;
    uint8_t h[32];
    inner_t in;
    RM_LIST(uint64_t) lu;
    RM_LIST(int64_t) li;
    RM_LIST(bool) lb;
    RM_LIST(char *) ls;
    RM_LIST(rm_bin_t) lbin;
    RM_LIST(h32_t) lh;
    RM_LIST(inner_t) lin;
} all_t;

static const rm_field_t all_fields[] = {
    RM_FIELD(all_t, u, RM_F_U64, 0, "u64 without limit"),
    RM_FIELD(all_t, i, RM_F_I64, 0, "i64"),
    RM_FIELD(all_t, b, RM_F_BOOL, 0, "bool"),
    RM_FIELD(all_t, s, RM_F_STR, 16, "str | with a bar"),
    RM_FIELD(all_t, bin, RM_F_BIN, 64, "bin"),
    RM_FIELD(all_t, h, RM_F_B32, 0, "hash"),
    RM_FIELD_STRUCT(all_t, in, inner_desc, "nested struct"),
    RM_FIELD_LIST(all_t, lu, RM_F_U64, 8, "u64 list"),
    RM_FIELD_LIST(all_t, li, RM_F_I64, 8, "i64 list"),
    RM_FIELD_LIST(all_t, lb, RM_F_BOOL, 8, "bool list"),
    RM_FIELD_LIST(all_t, ls, RM_F_STR, 8, "str list"),
    RM_FIELD_LIST(all_t, lbin, RM_F_BIN, 8, "bin list"),
    RM_FIELD_LIST(all_t, lh, RM_F_B32, 8, "hash list"),
    RM_FIELD_LIST_OF(all_t, lin, inner_desc, 5, "struct list"),
};
static const rm_struct_desc_t all_desc = RM_DESC(all_t, "all", all_fields, "every type");

static const rm_struct_desc_t empty_desc = {"empty", sizeof(uint64_t), NULL, 0, "no fields", 0, 0};

/* ---- helpers ---- */

static bool is_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static void *dup_bytes(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (n)
        memcpy(d, p, n);
    return d;
}

/*  A filled all_t; free with rm_codec_free. */
static void make_all(all_t *a)
{
    static const uint64_t lu[] = {0, 1, 127, 128, 65536, UINT64_MAX};
    static const int64_t li[] = {INT64_MIN, -33, -1, 0, 1, INT64_MAX};
    static const bool lb[] = {true, false, true};
    memset(a, 0, sizeof *a);
    a->u = UINT64_MAX;
    a->i = -123456789;
    a->b = true;
    a->s = strdup("sixteen bytes!!!");
    a->bin.data = dup_bytes("\0\1\2\3binary", 10);
    a->bin.len = 10;
    for (int i = 0; i < 32; i++)
        a->h[i] = (uint8_t)(i * 7);
    a->in.x = 1000;
    a->in.s = strdup("");
    a->lu.items = dup_bytes(lu, sizeof lu);
    a->lu.count = 6;
    a->li.items = dup_bytes(li, sizeof li);
    a->li.count = 6;
    a->lb.items = dup_bytes(lb, sizeof lb);
    a->lb.count = 3;
    a->ls.items = calloc(3, sizeof(char *));
    a->ls.count = 3;
    a->ls.items[0] = strdup("a");
    a->ls.items[1] = NULL; /* encodes as "" */
    a->ls.items[2] = strdup("ccc");
    a->lbin.items = calloc(2, sizeof(rm_bin_t));
    a->lbin.count = 2;
    a->lbin.items[1].data = dup_bytes("xy", 2);
    a->lbin.items[1].len = 2;
    a->lh.items = calloc(2, sizeof(h32_t));
    a->lh.count = 2;
    memset(a->lh.items[1].b, 0xab, 32);
    a->lin.items = calloc(5, sizeof(inner_t));
    a->lin.count = 5;
    for (int i = 0; i < 5; i++) {
        a->lin.items[i].x = (uint64_t)i * 100;
        a->lin.items[i].s = strdup(i % 2 ? "12345678" : "x");
    }
}

static int encode(const rm_struct_desc_t *d, const void *obj, uint8_t **buf, size_t *len)
{
    rm_err_t err;
    *buf = NULL;
    *len = 0;
    int rc = rm_codec_encode(d, obj, buf, len, &err);
    CHECK_MSG(rc == 0, "encode: %s", err.msg);
    return rc;
}

/*  Decodes data into a zeroed all_t; expects failure with `want` in the
    message (NULL: expects success and frees). */
static void expect_decode(const rm_struct_desc_t *d, const uint8_t *data, size_t size,
                          const char *want, int line)
{
    union {
        all_t a;
        uint64_t e;
    } obj;
    rm_err_t err = {0};
    size_t used = 0;
    memset(&obj, 0, sizeof obj);
    int rc = rm_codec_decode(d, &obj, data, size, &used, &err);
    if (!want) {
        CHECK_MSG(rc == 0, "line %d: %s", line, err.msg);
        rm_codec_free(d, &obj);
        return;
    }
    CHECK_MSG(rc == -1, "line %d: decoded but expected '%s'", line, want);
    CHECK_MSG(rc == 0 || strstr(err.msg, want), "line %d: got '%s', want '%s'", line, err.msg,
              want);
    CHECK_MSG(rc == 0 || err.code == RM_EPROTO, "line %d: code %d", line, err.code);
    CHECK_MSG(is_zero(&obj, sizeof obj), "line %d: obj not zeroed after failure", line);
    if (rc == 0)
        rm_codec_free(d, &obj);
}
#define EXPECT_OK(d, p, n) expect_decode(d, p, n, NULL, __LINE__)
#define EXPECT_FAIL(d, p, n, want) expect_decode(d, p, n, want, __LINE__)

/*  A msgpack writer for hand-made input. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} mp_t;

static void mp_init(mp_t *m)
{
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void mp_raw(mp_t *m, const void *p, size_t n)
{
    msgpack_sbuffer_write(&m->sb, p, n);
}

static void mp_str(mp_t *m, const char *s, size_t n)
{
    msgpack_pack_str_with_body(&m->pk, s, n);
}

static void mp_bin(mp_t *m, const void *b, size_t n)
{
    msgpack_pack_bin_with_body(&m->pk, b, n);
}

static const uint8_t *mp_data(const mp_t *m)
{
    return (const uint8_t *)m->sb.data;
}

/*  The fields of a valid inner_t, after its array header. */
static void mp_inner(mp_t *m, uint64_t x, const char *s)
{
    msgpack_pack_array(&m->pk, 2);
    msgpack_pack_uint64(&m->pk, x);
    mp_str(m, s, strlen(s));
}

/* ---- tests ---- */

static void test_round_trip(void)
{
    all_t a, b, c;
    uint8_t *buf, *buf2;
    size_t len, len2, used = 0;
    rm_err_t err;
    make_all(&a);
    if (encode(&all_desc, &a, &buf, &len))
        return;
    memset(&b, 0, sizeof b);
    CHECK_MSG(rm_codec_decode(&all_desc, &b, buf, len, &used, &err) == 0, "%s", err.msg);
    CHECK(used == len);
    CHECK(b.u == UINT64_MAX && b.i == -123456789 && b.b);
    CHECK(strcmp(b.s, "sixteen bytes!!!") == 0);
    CHECK(b.bin.len == 10 && memcmp(b.bin.data, "\0\1\2\3binary", 10) == 0);
    CHECK(memcmp(a.h, b.h, 32) == 0);
    CHECK(b.in.x == 1000 && b.in.s && b.in.s[0] == '\0');
    CHECK(b.lu.count == 6 && b.lu.items[5] == UINT64_MAX && b.lu.items[3] == 128);
    CHECK(b.li.count == 6 && b.li.items[0] == INT64_MIN && b.li.items[5] == INT64_MAX);
    CHECK(b.lb.count == 3 && b.lb.items[0] && !b.lb.items[1]);
    CHECK(b.ls.count == 3 && b.ls.items[1] && strcmp(b.ls.items[1], "") == 0);
    CHECK(strcmp(b.ls.items[2], "ccc") == 0);
    CHECK(b.lbin.count == 2 && b.lbin.items[0].len == 0 && b.lbin.items[1].len == 2);
    CHECK(b.lh.count == 2 && b.lh.items[1].b[31] == 0xab && b.lh.items[0].b[0] == 0);
    CHECK(b.lin.count == 5 && b.lin.items[3].x == 300 && !strcmp(b.lin.items[3].s, "12345678"));
    /* The encoding is canonical: decode + encode gives the same bytes. */
    if (encode(&all_desc, &b, &buf2, &len2) == 0) {
        CHECK(len2 == len && memcmp(buf, buf2, len) == 0);
        free(buf2);
    }
    /* Deep copy, then the copy encodes the same. */
    memset(&c, 0, sizeof c);
    CHECK(rm_codec_copy(&all_desc, &c, &b, &err) == 0);
    CHECK(c.s != b.s && c.lin.items != b.lin.items && c.lin.items[0].s != b.lin.items[0].s);
    if (encode(&all_desc, &c, &buf2, &len2) == 0) {
        CHECK(len2 == len && memcmp(buf, buf2, len) == 0);
        free(buf2);
    }
    rm_codec_free(&all_desc, &c);
    CHECK(is_zero(&c, sizeof c));
    rm_codec_free(&all_desc, &b);
    rm_codec_free(&all_desc, &a);
    free(buf);
}

static void test_truncated(void)
{
    all_t a;
    uint8_t *buf;
    size_t len;
    make_all(&a);
    if (encode(&all_desc, &a, &buf, &len) == 0) {
        for (size_t n = 0; n < len; n++) {
            /* A copy of exactly n bytes, so ASan sees any read past the end. */
            uint8_t *p = dup_bytes(buf, n);
            EXPECT_FAIL(&all_desc, p, n, "");
            free(p);
        }
        EXPECT_FAIL(&all_desc, NULL, 0, "truncated");
        free(buf);
    }
    rm_codec_free(&all_desc, &a);
}

static void test_null_and_empty(void)
{
    all_t a, b;
    uint8_t *buf;
    size_t len;
    rm_err_t err;
    memset(&a, 0, sizeof a); /* every string NULL, every list empty */
    if (encode(&all_desc, &a, &buf, &len))
        return;
    memset(&b, 0, sizeof b);
    CHECK_MSG(rm_codec_decode(&all_desc, &b, buf, len, NULL, &err) == 0, "%s", err.msg);
    CHECK(b.s && b.s[0] == '\0' && b.in.s && b.in.s[0] == '\0');
    CHECK(b.bin.len == 0 && b.bin.data == NULL && b.lu.count == 0 && b.lu.items == NULL);
    rm_codec_free(&all_desc, &b);
    free(buf);
}

static void test_empty_desc(void)
{
    uint64_t obj = 0;
    uint8_t *buf;
    size_t len;
    const uint8_t longer[] = {0x93, 0x01, 0xa1, 'x', 0x91, 0xc0};
    if (encode(&empty_desc, &obj, &buf, &len) == 0) {
        CHECK(len == 1 && buf[0] == 0x90);
        EXPECT_OK(&empty_desc, buf, len);
        free(buf);
    }
    EXPECT_OK(&empty_desc, longer, sizeof longer);
    EXPECT_FAIL(&empty_desc, (const uint8_t *)"\xc0", 1, "expected array, got nil");
}

static void test_append(void)
{
    uint8_t *buf = malloc(3);
    size_t len = 3;
    inner_t in = {7, "hi"};
    rm_err_t err;
    memcpy(buf, "abc", 3);
    CHECK(rm_codec_encode(&inner_desc, &in, &buf, &len, &err) == 0);
    CHECK(len == 3 + 1 + 1 + 3 && memcmp(buf, "abc\x92\x07\xa2hi", len) == 0);
    /* A failed append keeps what was there. */
    in.x = 1001;
    CHECK(rm_codec_encode(&inner_desc, &in, &buf, &len, &err) == -1);
    CHECK(err.code == RM_EINVAL && len == 8 && memcmp(buf, "abc", 3) == 0);
    free(buf);
}

static void test_encode_limits(void)
{
    all_t a;
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err;
    make_all(&a);
    a.lin.items[3].x = 1001;
    CHECK(rm_codec_encode(&all_desc, &a, &buf, &len, &err) == -1 && buf == NULL);
    CHECK_MSG(strstr(err.msg, "all.lin[3].x: 1001 is above the maximum 1000"), "%s", err.msg);
    a.lin.items[3].x = 1;
    free(a.lin.items[4].s);
    a.lin.items[4].s = strdup("123456789");
    CHECK(rm_codec_encode(&all_desc, &a, &buf, &len, &err) == -1 && err.code == RM_EINVAL);
    CHECK_MSG(strstr(err.msg, "all.lin[4].s: str of 9 bytes, max 8"), "%s", err.msg);
    a.lin.items[4].s[8] = '\0';
    a.lu.count = 9;
    CHECK(rm_codec_encode(&all_desc, &a, &buf, &len, &err) == -1);
    CHECK_MSG(strstr(err.msg, "all.lu: 9 items, max 8"), "%s", err.msg);
    a.lu.count = 6;
    a.bin.len = 65;
    CHECK(rm_codec_encode(&all_desc, &a, &buf, &len, &err) == -1);
    CHECK_MSG(strstr(err.msg, "all.bin: bin of 65 bytes, max 64"), "%s", err.msg);
    a.bin.len = 10;
    CHECK(rm_codec_encode(&all_desc, &a, &buf, &len, &err) == 0);
    free(buf);
    rm_codec_free(&all_desc, &a);
}

/*  Writes a valid value of all_t's field f. */
static void mp_field(mp_t *m, int f)
{
    static const uint8_t hash[32];
    switch (f) {
    case 0:
        msgpack_pack_uint64(&m->pk, 1);
        break;
    case 1:
        msgpack_pack_int64(&m->pk, -1);
        break;
    case 2:
        msgpack_pack_true(&m->pk);
        break;
    case 3:
        mp_str(m, "s", 1);
        break;
    case 4:
        mp_bin(m, "b", 1);
        break;
    case 5:
        mp_bin(m, hash, 32);
        break;
    case 6:
        mp_inner(m, 1, "i");
        break;
    default:
        msgpack_pack_array(&m->pk, 0);
    }
}

/*  Decodes an all_t whose field `field` is the given bytes. */
static void expect_bad_field(int field, const void *bad, size_t n, const char *want, int line)
{
    mp_t m;
    mp_init(&m);
    msgpack_pack_array(&m.pk, 14);
    for (int f = 0; f < 14; f++) {
        if (f == field)
            mp_raw(&m, bad, n);
        else
            mp_field(&m, f);
    }
    expect_decode(&all_desc, mp_data(&m), m.sb.size, want, line);
    msgpack_sbuffer_destroy(&m.sb);
}
#define EXPECT_BAD(field, bytes, want)                                                             \
    expect_bad_field(field, bytes, sizeof bytes - 1, want, __LINE__)

static void test_bad_fields(void)
{
    /* Sanity: the prefix builder makes a valid struct. */
    EXPECT_BAD(7, "\x90", NULL);
    EXPECT_BAD(0, "\xa1x", "all.u: expected int, got str");
    EXPECT_BAD(0, "\xff", "all.u: expected an unsigned int, got -1");
    EXPECT_BAD(0, "\xd0\x05", NULL); /* signed encoding of 5 is fine */
    EXPECT_BAD(1, "\xcf\x80\x00\x00\x00\x00\x00\x00\x00", "does not fit a signed 64-bit int");
    EXPECT_BAD(1, "\xd3\x80\x00\x00\x00\x00\x00\x00\x00", NULL); /* INT64_MIN */
    EXPECT_BAD(1, "\xca\x00\x00\x00\x00", "all.i: expected int, got float");
    EXPECT_BAD(2, "\x01", "all.b: expected bool, got int");
    EXPECT_BAD(3,
               "\xa3"
               "a\0b",
               "all.s: NUL byte inside a string");
    EXPECT_BAD(3, "\xc4\x01x", "all.s: expected str, got bin");
    EXPECT_BAD(3,
               "\xd9\x11"
               "12345678901234567",
               "all.s: str of 17 bytes, max 16");
    EXPECT_BAD(3, "\xdb\xff\xff\xff\xff", "all.s: str of 4294967295 bytes, max 16");
    EXPECT_BAD(4, "\xa1x", "all.bin: expected bin, got str");
    EXPECT_BAD(4, "\xc6\xff\xff\xff\xff", "all.bin: bin of 4294967295 bytes, max 64");
    EXPECT_BAD(5,
               "\xc4\x1f"
               "1234567890123456789012345678901",
               "all.h: expected 32 bytes, got 31");
    EXPECT_BAD(5,
               "\xc4\x21"
               "123456789012345678901234567890123",
               "expected 32 bytes, got 33");
    EXPECT_BAD(6, "\x91\x01", "all.in: 1 fields, expected at least 2");
    EXPECT_BAD(6, "\x92\xcd\x03\xe9\xa0", "all.in.x: 1001 is above the maximum 1000");
    EXPECT_BAD(6, "\x93\x01\xa0\xc1", "all.in[2]: invalid msgpack byte 0xc1");
    EXPECT_BAD(6, "\x80", "all.in: expected array, got map");
    EXPECT_BAD(7, "\x99\x01\x01\x01\x01\x01\x01\x01\x01\x01", "all.lu: 9 items, max 8");
    EXPECT_BAD(7, "\xdd\x07\xff\xff\xff", "all.lu: 134217727 items, max 8");
    EXPECT_BAD(7, "\x92\x01\xa0", "all.lu[1]: expected int, got str");
    EXPECT_BAD(9, "\x92\xc3\x00", "all.lb[1]: expected bool");
    EXPECT_BAD(10, "\x92\xa0\xa2x\0", "all.ls[1]: NUL byte inside a string");
    EXPECT_BAD(11, "\x91\xc6\xff\xff\xff\xff", "all.lbin[0]: bin of 4294967295 bytes but only");
    EXPECT_BAD(12,
               "\x91\xc4\x1f"
               "1234567890123456789012345678901",
               "all.lh[0]: expected 32 bytes, got 31");
    EXPECT_BAD(12, "\x91\xc4\x02xx", "all.lh: 1 items of at least 34 bytes but only 5 bytes left");
    EXPECT_BAD(13, "\x95\x01\x01\x01\x01\x01",
               "all.lin: 5 items of at least 3 bytes but only 5 bytes left");
    EXPECT_BAD(13, "\x92\x92\x01\xa0\x92\xcd\x03\xe9\xa0",
               "all.lin[1].x: 1001 is above the maximum 1000");
    EXPECT_BAD(13,
               "\x91\x92\x01\xa9"
               "123456789",
               "all.lin[0].s: str of 9 bytes, max 8");
    EXPECT_BAD(13, "\x96", "all.lin: 6 items, max 5");
}

static void test_array_bounds(void)
{
    /* Counts larger than the bytes left are refused before allocating. */
    const uint8_t big[] = {0xdd, 0x07, 0xff, 0xff, 0xff};
    const uint8_t big_struct[] = {0xdd, 0x00, 0x00, 0x00, 0x20, 0x01};
    const uint8_t map[] = {0x91, 0xdf, 0x7f, 0xff, 0xff, 0xff};
    EXPECT_FAIL(&all_desc, big, sizeof big, "all: array of 134217727 items but only 0 bytes left");
    EXPECT_FAIL(&all_desc, big_struct, sizeof big_struct, "all: array of 32 items but only 1");
    EXPECT_FAIL(&empty_desc, map, sizeof map, "map of 2147483647 items but only 0 bytes left");
    EXPECT_FAIL(&all_desc, (const uint8_t *)"\x9e", 1, "all: array of 14 items but only 0");
    /* Lengths running past the end of the buffer, at the end of the buffer. */
    EXPECT_FAIL(&inner_desc, (const uint8_t *)"\x92\xcf\xff\xff", 4,
                "inner.x: truncated: 9 bytes needed, 3 left");
    EXPECT_FAIL(&all_desc,
                (const uint8_t *)"\x9e\x01\xff\xc3\xd9\x10"
                                 "0123456789",
                16, "all.s: str of 16 bytes but only 10 bytes left");
    EXPECT_FAIL(&all_desc,
                (const uint8_t *)"\x9e\x01\xff\xc3\xa0\xc4\x20"
                                 "0123456789",
                17, "all.bin: bin of 32 bytes but only 10 bytes left");
}

/*  [ (depth-1 nested arrays or maps around nil) ] for empty_desc: the
    outer array is the struct, so the deepest element sits at `depth`. */
static void nested(mp_t *m, int depth, bool maps)
{
    mp_init(m);
    msgpack_pack_array(&m->pk, 1);
    for (int i = 1; i < depth; i++) {
        if (maps && i % 2) {
            msgpack_pack_map(&m->pk, 1);
            msgpack_pack_nil(&m->pk);
        } else {
            msgpack_pack_array(&m->pk, 1);
        }
    }
    msgpack_pack_nil(&m->pk);
}

static void test_depth(void)
{
    mp_t m;
    for (int maps = 0; maps < 2; maps++) {
        nested(&m, RM_CODEC_MAX_DEPTH, maps);
        EXPECT_OK(&empty_desc, mp_data(&m), m.sb.size);
        msgpack_sbuffer_destroy(&m.sb);
        nested(&m, RM_CODEC_MAX_DEPTH + 1, maps);
        EXPECT_FAIL(&empty_desc, mp_data(&m), m.sb.size, "empty[0]: nested deeper than 16 levels");
        msgpack_sbuffer_destroy(&m.sb);
    }
    /* 100000 levels must not recurse 100000 deep. */
    uint8_t *deep = malloc(100001);
    memset(deep, 0x91, 100000);
    deep[100000] = 0xc0;
    EXPECT_FAIL(&empty_desc, deep, 100001, "nested deeper than 16 levels");
    free(deep);
}

static void test_trailing_fields(void)
{
    mp_t m;
    const uint8_t hash[32] = {0};
    mp_init(&m);
    msgpack_pack_array(&m.pk, 3); /* inner with one unknown field of each kind */
    msgpack_pack_uint64(&m.pk, 5);
    mp_str(&m, "s", 1);
    msgpack_pack_array(&m.pk, 8);
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "k", 1);
    msgpack_pack_double(&m.pk, 1.5);
    msgpack_pack_int64(&m.pk, -7);
    msgpack_pack_array(&m.pk, 2);
    msgpack_pack_float(&m.pk, 2.5f);
    msgpack_pack_nil(&m.pk);
    msgpack_pack_ext_with_body(&m.pk, "abcd", 4, 3); /* fixext 4 */
    msgpack_pack_ext_with_body(&m.pk, "abc", 3, 3);  /* ext 8 */
    msgpack_pack_ext_with_body(&m.pk, hash, 32, -1); /* ext 8 */
    msgpack_pack_bin_with_body(&m.pk, hash, 32);
    msgpack_pack_str_with_body(&m.pk, "x\0y", 3); /* NUL allowed where ignored */
    msgpack_pack_false(&m.pk);
    msgpack_pack_uint64(&m.pk, UINT64_MAX);
    EXPECT_OK(&inner_desc, mp_data(&m), m.sb.size);
    for (size_t n = 0; n < m.sb.size; n++) {
        uint8_t *p = dup_bytes(mp_data(&m), n);
        EXPECT_FAIL(&inner_desc, p, n, "");
        free(p);
    }
    msgpack_sbuffer_destroy(&m.sb);
    /* Declared lengths inside skipped elements are checked too. */
    EXPECT_FAIL(&inner_desc, (const uint8_t *)"\x93\x01\xa0\xc9\xff\xff\xff\xff\x01", 9,
                "inner[2]: truncated");
    EXPECT_FAIL(&inner_desc, (const uint8_t *)"\x93\x01\xa0\xdd\x07\xff\xff\xff", 8,
                "inner[2]: array of 134217727 items but only 0 bytes left");
    EXPECT_FAIL(&inner_desc, (const uint8_t *)"\x93\x01\xa0\xc6\xff\xff\xff\xff", 8,
                "inner[2]: bin of 4294967295 bytes but only 0 bytes left");
}

/*  Fields appended later (RM_DESC_OPT) may be missing: older records read
    with them zero; the others stay required, and a list of such structs is
    bounded by the required fields only. */
typedef struct {
    uint64_t x;
    char *s;
    RM_LIST(inner_t) later;
} opt_t;
static const rm_field_t opt_fields[] = {
    RM_FIELD(opt_t, x, RM_F_U64, 0, "old"),
    RM_FIELD(opt_t, s, RM_F_STR, 8, "appended"),
    RM_FIELD_LIST_OF(opt_t, later, inner_desc, 4, "appended too"),
};
static const rm_struct_desc_t opt_desc = RM_DESC_OPT(opt_t, "opt", opt_fields, 2, "optional tail");

static void test_optional_fields(void)
{
    opt_t o;
    rm_err_t err;
    memset(&o, 0, sizeof o);
    CHECK(rm_codec_decode(&opt_desc, &o, (const uint8_t *)"\x91\x07", 2, NULL, &err) == 0);
    CHECK(o.x == 7 && o.s == NULL && o.later.count == 0);
    rm_codec_free(&opt_desc, &o);
    CHECK(rm_codec_decode(&opt_desc, &o,
                          (const uint8_t *)"\x92\x07\xa2"
                                           "hi",
                          5, NULL, &err) == 0);
    CHECK(o.x == 7 && o.s && strcmp(o.s, "hi") == 0 && o.later.count == 0);
    rm_codec_free(&opt_desc, &o);
    EXPECT_FAIL(&opt_desc, (const uint8_t *)"\x90", 1, "opt: 0 fields, expected at least 1");
    EXPECT_FAIL(&opt_desc,
                (const uint8_t *)"\x92\x07\xa9"
                                 "123456789",
                12, "opt.s: str of 9 bytes, max 8");
    /* Encoded with every field; read back the same. */
    opt_t full = {3, "ab", {NULL, 0}}, back;
    uint8_t *buf = NULL;
    size_t len = 0;
    memset(&back, 0, sizeof back);
    CHECK(rm_codec_encode(&opt_desc, &full, &buf, &len, &err) == 0 && buf[0] == 0x93);
    CHECK(rm_codec_decode(&opt_desc, &back, buf, len, NULL, &err) == 0 && back.x == 3 &&
          strcmp(back.s, "ab") == 0);
    rm_codec_free(&opt_desc, &back);
    free(buf);
}

/*  Sparse fields (RM_DESC_SPARSE) are left out while all of them are zero,
    so a record from before them encodes to the bytes it did; a set one
    writes every field up to it. */
static const rm_struct_desc_t sparse_desc =
    RM_DESC_SPARSE(opt_t, "sparse", opt_fields, 2, 2, "sparse tail");

static void test_sparse_fields(void)
{
    rm_err_t err;
    uint8_t *buf = NULL;
    size_t len = 0;
    opt_t old = {7, "", {NULL, 0}};
    CHECK(rm_codec_encode(&sparse_desc, &old, &buf, &len, &err) == 0);
    CHECK(len == 2 && memcmp(buf, "\x91\x07", 2) == 0);
    free(buf);
    buf = NULL, len = 0;
    opt_t set = {7, "hi", {NULL, 0}}, back;
    CHECK(rm_codec_encode(&sparse_desc, &set, &buf, &len, &err) == 0);
    CHECK(len == 5 && memcmp(buf, "\x92\x07\xa2hi", 5) == 0);
    memset(&back, 0, sizeof back);
    CHECK(rm_codec_decode(&sparse_desc, &back, buf, len, NULL, &err) == 0 && back.x == 7 &&
          strcmp(back.s, "hi") == 0);
    rm_codec_free(&sparse_desc, &back);
    free(buf);
    /* The job spec: out_url empty is absent, as in jobs signed before it. */
    rm_job_spec_t spec;
    memset(&spec, 0, sizeof spec);
    buf = NULL, len = 0;
    CHECK(rm_codec_encode(&rm_job_spec_desc, &spec, &buf, &len, &err) == 0);
    CHECK(len > 3 && buf[0] == 0xdc); /* array 16 */
    CHECK(((size_t)buf[1] << 8 | buf[2]) == rm_job_spec_desc.nfields - 1);
    free(buf);
}

static void test_used(void)
{
    inner_t in;
    size_t used = 0;
    rm_err_t err;
    memset(&in, 0, sizeof in);
    CHECK(rm_codec_decode(&inner_desc, &in, (const uint8_t *)"\x92\x01\xa1zTRAIL", 9, &used,
                          &err) == 0);
    CHECK(used == 4 && in.x == 1 && strcmp(in.s, "z") == 0);
    rm_codec_free(&inner_desc, &in);
}

static void test_reader(void)
{
    rm_reader_t r;
    rm_err_t err;
    uint64_t u;
    int64_t i;
    bool b;
    const char *s;
    uint32_t n;
    const uint8_t ints[] = {0x7f, 0xcc, 0xff, 0xcd, 0x01, 0x00, 0xce, 0x00, 0x01, 0x00,
                            0x00, 0xd1, 0xff, 0x00, 0xe0, 0xd2, 0x80, 0x00, 0x00, 0x00};
    rm_reader_init(&r, ints, sizeof ints);
    CHECK(rm_read_u64(&r, &u, &err) == 0 && u == 127);
    CHECK(rm_read_u64(&r, &u, &err) == 0 && u == 255);
    CHECK(rm_read_u64(&r, &u, &err) == 0 && u == 256);
    CHECK(rm_read_u64(&r, &u, &err) == 0 && u == 65536);
    CHECK(rm_read_i64(&r, &i, &err) == 0 && i == -256);
    CHECK(rm_read_i64(&r, &i, &err) == 0 && i == -32);
    CHECK(rm_read_i64(&r, &i, &err) == 0 && i == INT32_MIN);
    CHECK(r.p == r.end && rm_read_bool(&r, &b, &err) == -1 && strstr(err.msg, "truncated"));
    rm_reader_init(&r,
                   (const uint8_t *)"\xa3"
                                    "abc\x92\xc2\xc3",
                   7);
    CHECK(rm_read_str_ref(&r, 2, &s, &n, &err) == -1 && strstr(err.msg, "str of 3 bytes, max 2"));
    rm_reader_init(&r,
                   (const uint8_t *)"\xa3"
                                    "abc\x92\xc2\xc3",
                   7);
    CHECK(rm_read_str_ref(&r, 0, &s, &n, &err) == 0 && n == 3 && memcmp(s, "abc", 3) == 0);
    CHECK(rm_read_array(&r, 1, &n, &err) == -1 && strstr(err.msg, "2 items, max 1"));
    CHECK(rm_read_array(&r, 2, &n, &err) == 0 && n == 2);
    CHECK(rm_read_bool(&r, &b, &err) == 0 && !b && rm_read_bool(&r, &b, &err) == 0 && b);
}

static void test_doc(void)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    rm_codec_doc(&all_desc, f);
    rm_codec_doc(&empty_desc, f);
    fclose(f);
    CHECK(strstr(text, "| field | type | limit | meaning |\n|---|---|---|---|\n"));
    CHECK(strstr(text, "| `u` | u64 | - | u64 without limit |\n"));
    CHECK(strstr(text, "| `s` | str | max 16 bytes | str \\| with a bar |\n"));
    CHECK(strstr(text, "| `h` | bin(32) | exactly 32 bytes | hash |\n"));
    CHECK(strstr(text, "| `in` | `inner` | - | nested struct |\n"));
    CHECK(strstr(text, "| `lh` | list of bin(32) | max 8 items | hash list |\n"));
    CHECK(strstr(text, "| `lin` | list of `inner` | max 5 items | struct list |\n"));
    CHECK(strstr(text, "No fields: the body is an empty array `[]`.\n"));
    free(text);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_round_trip);
    RM_RUN(test_truncated);
    RM_RUN(test_null_and_empty);
    RM_RUN(test_empty_desc);
    RM_RUN(test_append);
    RM_RUN(test_encode_limits);
    RM_RUN(test_bad_fields);
    RM_RUN(test_array_bounds);
    RM_RUN(test_depth);
    RM_RUN(test_trailing_fields);
    RM_RUN(test_optional_fields);
    RM_RUN(test_sparse_fields);
    RM_RUN(test_used);
    RM_RUN(test_reader);
    RM_RUN(test_doc);
    RM_TEST_DONE();
}
