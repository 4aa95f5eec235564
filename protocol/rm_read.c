/*  rm_read: see rm_read.h. */
#include "rm_read.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void rm_reader_init(rm_reader_t *r, const uint8_t *data, size_t size)
{
    /* A NULL buffer becomes an empty one: pointer arithmetic on NULL is UB. */
    static const uint8_t empty[1];
    if (!data) {
        data = empty;
        size = 0;
    }
    r->p = data;
    r->end = data + size;
    r->depth = 0;
}

size_t rm_read_left(const rm_reader_t *r)
{
    return (size_t)(r->end - r->p);
}

static int need(const rm_reader_t *r, size_t n, rm_err_t *err)
{
    if (rm_read_left(r) < n)
        return rm_err_set(err, RM_EPROTO, "truncated: %zu bytes needed, %zu left", n,
                          rm_read_left(r));
    return 0;
}

static uint64_t load_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/*  What a marker byte starts, for "expected str, got array". */
static const char *kind_name(uint8_t b)
{
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3))
        return "int";
    if (b <= 0x8f || b == 0xde || b == 0xdf)
        return "map";
    if (b <= 0x9f || b == 0xdc || b == 0xdd)
        return "array";
    if (b <= 0xbf || (b >= 0xd9 && b <= 0xdb))
        return "str";
    switch (b) {
    case 0xc0:
        return "nil";
    case 0xc1:
        return "invalid byte 0xc1";
    case 0xc2:
    case 0xc3:
        return "bool";
    case 0xc4:
    case 0xc5:
    case 0xc6:
        return "bin";
    case 0xca:
    case 0xcb:
        return "float";
    default:
        return "ext";
    }
}

static int wrong_type(const rm_reader_t *r, const char *want, rm_err_t *err)
{
    return rm_err_set(err, RM_EPROTO, "expected %s, got %s", want, kind_name(*r->p));
}

int rm_read_enter(rm_reader_t *r, rm_err_t *err)
{
    if (r->depth >= RM_READ_MAX_DEPTH)
        return rm_err_set(err, RM_EPROTO, "nested deeper than %d levels", RM_READ_MAX_DEPTH);
    r->depth++;
    return 0;
}

static int skip_bytes(rm_reader_t *r, size_t n, rm_err_t *err)
{
    if (need(r, n, err))
        return -1;
    r->p += n;
    return 0;
}

/*  Payload width after an int marker: 0 for fixints, -1 if not an int. */
static int int_width(uint8_t b)
{
    if (b <= 0x7f || b >= 0xe0)
        return 0;
    switch (b) {
    case 0xcc:
    case 0xd0:
        return 1;
    case 0xcd:
    case 0xd1:
        return 2;
    case 0xce:
    case 0xd2:
        return 4;
    case 0xcf:
    case 0xd3:
        return 8;
    default:
        return -1;
    }
}

static int64_t sign_extend(uint64_t raw, int width)
{
    switch (width) {
    case 1:
        return (int8_t)raw;
    case 2:
        return (int16_t)raw;
    case 4:
        return (int32_t)raw;
    default:
        return (int64_t)raw;
    }
}

/*  Any msgpack int: *neg tells whether *s (< 0) or *u holds the value. */
static int read_int(rm_reader_t *r, bool *neg, uint64_t *u, int64_t *s, rm_err_t *err)
{
    if (need(r, 1, err))
        return -1;
    uint8_t b = r->p[0];
    int w = int_width(b);
    if (w < 0)
        return wrong_type(r, "int", err);
    if (need(r, 1 + (size_t)w, err))
        return -1;
    uint64_t raw = w ? load_be(r->p + 1, w) : b;
    bool is_signed = b >= 0xe0 || (b >= 0xd0 && b <= 0xd3);
    r->p += 1 + w;
    *neg = false;
    *u = raw;
    if (is_signed) {
        int64_t v = b >= 0xe0 ? (int8_t)b : sign_extend(raw, w);
        *neg = v < 0;
        *s = v;
        *u = (uint64_t)v;
    }
    return 0;
}

int rm_read_u64(rm_reader_t *r, uint64_t *v, rm_err_t *err)
{
    bool neg;
    int64_t s = 0;
    if (read_int(r, &neg, v, &s, err))
        return -1;
    if (neg)
        return rm_err_set(err, RM_EPROTO, "expected an unsigned int, got %" PRId64, s);
    return 0;
}

int rm_read_i64(rm_reader_t *r, int64_t *v, rm_err_t *err)
{
    bool neg;
    uint64_t u;
    int64_t s = 0;
    if (read_int(r, &neg, &u, &s, err))
        return -1;
    if (!neg && u > INT64_MAX)
        return rm_err_set(err, RM_EPROTO, "%" PRIu64 " does not fit a signed 64-bit int", u);
    *v = neg ? s : (int64_t)u;
    return 0;
}

int rm_read_bool(rm_reader_t *r, bool *v, rm_err_t *err)
{
    if (need(r, 1, err))
        return -1;
    if (r->p[0] != 0xc2 && r->p[0] != 0xc3)
        return wrong_type(r, "bool", err);
    *v = r->p[0] == 0xc3;
    r->p++;
    return 0;
}

/*  Width of the length after a str (is_str) or bin marker; -1 if not one.
    A fixstr has its length in the marker (*fix). */
static int blob_width(uint8_t b, bool is_str, uint32_t *fix)
{
    *fix = 0;
    if (is_str && b >= 0xa0 && b <= 0xbf) {
        *fix = b & 0x1f;
        return 0;
    }
    uint8_t base = is_str ? 0xd9 : 0xc4;
    if (b < base || b > base + 2)
        return -1;
    return 1 << (b - base);
}

static int read_blob(rm_reader_t *r, bool is_str, uint64_t max, const uint8_t **data, uint32_t *len,
                     rm_err_t *err)
{
    const char *kind = is_str ? "str" : "bin";
    if (need(r, 1, err))
        return -1;
    uint32_t n;
    int w = blob_width(r->p[0], is_str, &n);
    if (w < 0)
        return wrong_type(r, kind, err);
    if (need(r, 1 + (size_t)w, err))
        return -1;
    if (w)
        n = (uint32_t)load_be(r->p + 1, w);
    if (max && n > max)
        return rm_err_set(err, RM_EPROTO, "%s of %" PRIu32 " bytes, max %" PRIu64, kind, n, max);
    if (n > rm_read_left(r) - 1 - (size_t)w)
        return rm_err_set(err, RM_EPROTO, "%s of %" PRIu32 " bytes but only %zu bytes left", kind,
                          n, rm_read_left(r) - 1 - (size_t)w);
    *data = r->p + 1 + w;
    *len = n;
    r->p += 1 + (size_t)w + n;
    return 0;
}

int rm_read_str_ref(rm_reader_t *r, uint64_t max, const char **s, uint32_t *len, rm_err_t *err)
{
    const uint8_t *p;
    if (read_blob(r, true, max, &p, len, err))
        return -1;
    *s = (const char *)p;
    return 0;
}

int rm_read_bin_ref(rm_reader_t *r, uint64_t max, const uint8_t **b, uint32_t *len, rm_err_t *err)
{
    return read_blob(r, false, max, b, len, err);
}

/*  Array or map marker: width of the count (0 for fix types), -1 if neither. */
static int container_width(uint8_t b, bool *is_map, uint32_t *fix)
{
    *fix = b & 0x0f;
    *is_map = (b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf;
    if ((b >= 0x80 && b <= 0x9f))
        return 0;
    if (b == 0xdc || b == 0xde)
        return 2;
    if (b == 0xdd || b == 0xdf)
        return 4;
    return -1;
}

/*  Reads an array or map header; *elems counts the elements that follow
    (2 per map entry) and is already checked against the bytes left, as
    each element takes at least one byte. */
static int read_container(rm_reader_t *r, bool want_map, uint64_t max, uint64_t *elems,
                          rm_err_t *err)
{
    bool is_map;
    uint32_t n;
    if (need(r, 1, err))
        return -1;
    int w = container_width(r->p[0], &is_map, &n);
    if (w < 0 || is_map != want_map)
        return wrong_type(r, want_map ? "map" : "array", err);
    if (need(r, 1 + (size_t)w, err))
        return -1;
    if (w)
        n = (uint32_t)load_be(r->p + 1, w);
    if (max && n > max)
        return rm_err_set(err, RM_EPROTO, "%" PRIu32 " items, max %" PRIu64, n, max);
    *elems = is_map ? 2 * (uint64_t)n : n;
    if (*elems > rm_read_left(r) - 1 - (size_t)w)
        return rm_err_set(err, RM_EPROTO, "%s of %" PRIu32 " items but only %zu bytes left",
                          is_map ? "map" : "array", n, rm_read_left(r) - 1 - (size_t)w);
    r->p += 1 + w;
    return 0;
}

int rm_read_array(rm_reader_t *r, uint32_t max, uint32_t *count, rm_err_t *err)
{
    uint64_t n;
    if (read_container(r, false, max, &n, err))
        return -1;
    *count = (uint32_t)n;
    return 0;
}

static int skip_container(rm_reader_t *r, bool is_map, rm_err_t *err)
{
    uint64_t n;
    if (read_container(r, is_map, 0, &n, err) || rm_read_enter(r, err))
        return -1;
    for (uint64_t i = 0; i < n; i++)
        if (rm_read_skip(r, err))
            return -1;
    r->depth--;
    return 0;
}

/*  fixext 1..16 (d4..d8) and ext 8/16/32 (c7..c9): type byte + data. */
static int skip_ext(rm_reader_t *r, rm_err_t *err)
{
    uint8_t b = r->p[0];
    if (b >= 0xd4 && b <= 0xd8)
        return skip_bytes(r, 2 + ((size_t)1 << (b - 0xd4)), err);
    int w = 1 << (b - 0xc7);
    if (need(r, 1 + (size_t)w, err))
        return -1;
    return skip_bytes(r, 1 + (size_t)w + 1 + load_be(r->p + 1, w), err);
}

int rm_read_skip(rm_reader_t *r, rm_err_t *err)
{
    if (need(r, 1, err))
        return -1;
    uint8_t b = r->p[0];
    bool is_map;
    uint32_t fix;
    int w = int_width(b);
    if (w >= 0)
        return skip_bytes(r, 1 + (size_t)w, err);
    if (b == 0xc0 || b == 0xc2 || b == 0xc3)
        return skip_bytes(r, 1, err);
    if (b == 0xca || b == 0xcb)
        return skip_bytes(r, b == 0xca ? 5 : 9, err);
    if (blob_width(b, true, &fix) >= 0 || blob_width(b, false, &fix) >= 0) {
        const uint8_t *p;
        uint32_t n;
        return read_blob(r, blob_width(b, true, &fix) >= 0, 0, &p, &n, err);
    }
    if (container_width(b, &is_map, &fix) >= 0)
        return skip_container(r, is_map, err);
    if ((b >= 0xc7 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8))
        return skip_ext(r, err);
    return rm_err_set(err, RM_EPROTO, "invalid msgpack byte 0x%02x", b);
}
