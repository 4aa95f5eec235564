/*  rm_codec: see rm_codec.h.  Encoding goes through msgpack-c's packer;
    decoding uses the bounded pull reader below and never msgpack-c's
    unpacker, which allocates by declared counts. */
#include "rm_codec.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

/*  Room for the deepest path we produce ("job_reply.frames[99999].error");
    longer paths are cut, which only shortens the error message. */
#define PATH_LEN 192

typedef struct {
    char s[PATH_LEN];
    size_t len;
} path_t;

/* ------------------------------------------------------------------ */
/* Field paths for error messages                                      */
/* ------------------------------------------------------------------ */

static size_t path_push(path_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*  Appends to the path; returns the old length for path_pop. */
static size_t path_push(path_t *p, const char *fmt, ...)
{
    size_t old = p->len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->s + old, sizeof p->s - old, fmt, ap);
    va_end(ap);
    if (n > 0)
        p->len = old + (size_t)n < sizeof p->s ? old + (size_t)n : sizeof p->s - 1;
    return old;
}

/*  The hot paths: every field and list element of every message is pushed,
    so these copy bytes instead of going through vsnprintf. */
static size_t path_push_str(path_t *p, char sep, const char *name)
{
    size_t old = p->len, room = sizeof p->s - 1 - old;
    size_t n = strlen(name);
    if (room > 0) {
        p->s[p->len++] = sep;
        room--;
    }
    if (n > room)
        n = room;
    memcpy(p->s + p->len, name, n);
    p->len += n;
    p->s[p->len] = '\0';
    return old;
}

static size_t path_push_field(path_t *p, const char *name)
{
    return path_push_str(p, '.', name);
}

static size_t path_push_index(path_t *p, uint32_t i)
{
    char digits[16];
    size_t n = sizeof digits - 1;
    digits[n] = '\0';
    do {
        digits[--n] = (char)('0' + i % 10);
        i /= 10;
    } while (i && n > 1);
    digits[--n] = '[';
    size_t old = path_push_str(p, digits[n], digits + n + 1);
    if (p->len < sizeof p->s - 1) {
        p->s[p->len++] = ']';
        p->s[p->len] = '\0';
    }
    return old;
}

static void path_pop(path_t *p, size_t old)
{
    p->len = old;
    p->s[old] = '\0';
}

static void path_init(path_t *p, const char *root)
{
    p->len = 0;
    p->s[0] = '\0';
    path_push(p, "%s", root ? root : "?");
}

/*  The element type of a list field, seen as a field of its own. */
static rm_field_t elem_field(const rm_field_t *f)
{
    rm_field_t e = {f->name, f->elem_type, 0, 0, 0, f->elem, NULL};
    return e;
}

/*  C size of one list element, 0 for a type a list cannot hold. */
static size_t elem_size(const rm_field_t *f)
{
    switch (f->elem_type) {
    case RM_F_U64:
        return sizeof(uint64_t);
    case RM_F_I64:
        return sizeof(int64_t);
    case RM_F_BOOL:
        return sizeof(bool);
    case RM_F_STR:
        return sizeof(char *);
    case RM_F_BIN:
        return sizeof(rm_bin_t);
    case RM_F_B32:
        return 32;
    case RM_F_STRUCT:
        return f->elem ? f->elem->size : 0;
    default:
        return 0;
    }
}

static bool desc_ok(const rm_struct_desc_t *desc)
{
    return desc && (desc->fields || desc->nfields == 0) && desc->noptional <= desc->nfields &&
           desc->nsparse <= desc->noptional;
}

/* ------------------------------------------------------------------ */
/* Decoder                                                             */
/* ------------------------------------------------------------------ */

typedef struct {
    rm_reader_t r;
    rm_err_t *err;
    path_t path;
} dec_t;

static int dec_value(dec_t *d, const rm_field_t *f, void *p);

/*  Puts the field path in front of the reader's message. */
static int dec_fail(dec_t *d)
{
    return rm_err_prefix(d->err, "%s: ", d->path.s);
}

static int dec_set(dec_t *d, rm_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int dec_set(dec_t *d, rm_code_t code, const char *fmt, ...)
{
    char msg[RM_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rm_err_set(d->err, code, "%s: %s", d->path.s, msg);
}

static int dec_str(dec_t *d, uint64_t max, char **out)
{
    const char *s;
    uint32_t n;
    if (rm_read_str_ref(&d->r, max, &s, &n, d->err))
        return dec_fail(d);
    if (memchr(s, '\0', n))
        return dec_set(d, RM_EPROTO, "NUL byte inside a string");
    char *c = malloc((size_t)n + 1);
    if (!c)
        return dec_set(d, RM_ENOMEM, "out of memory");
    memcpy(c, s, n);
    c[n] = '\0';
    *out = c;
    return 0;
}

static int dec_bin(dec_t *d, uint64_t max, rm_bin_t *out)
{
    const uint8_t *b;
    uint32_t n;
    if (rm_read_bin_ref(&d->r, max, &b, &n, d->err))
        return dec_fail(d);
    if (n == 0)
        return 0;
    out->data = malloc(n);
    if (!out->data)
        return dec_set(d, RM_ENOMEM, "out of memory");
    memcpy(out->data, b, n);
    out->len = n;
    return 0;
}

static int dec_b32(dec_t *d, uint8_t *out)
{
    const uint8_t *b;
    uint32_t n;
    if (rm_read_bin_ref(&d->r, 0, &b, &n, d->err))
        return dec_fail(d);
    if (n != 32)
        return dec_set(d, RM_EPROTO, "expected 32 bytes, got %" PRIu32, n);
    memcpy(out, b, 32);
    return 0;
}

static int dec_u64(dec_t *d, uint64_t max, uint64_t *out)
{
    if (rm_read_u64(&d->r, out, d->err))
        return dec_fail(d);
    if (max && *out > max)
        return dec_set(d, RM_EPROTO, "%" PRIu64 " is above the maximum %" PRIu64, *out, max);
    return 0;
}

static int dec_struct(dec_t *d, const rm_struct_desc_t *desc, void *obj)
{
    uint32_t n;
    if (!desc_ok(desc))
        return dec_set(d, RM_EINVAL, "bad descriptor");
    if (rm_read_array(&d->r, 0, &n, d->err) || rm_read_enter(&d->r, d->err))
        return dec_fail(d);
    size_t required = desc->nfields - desc->noptional;
    if (n < required)
        return dec_set(d, RM_EPROTO, "%" PRIu32 " fields, expected at least %zu", n, required);
    for (size_t i = 0; i < desc->nfields && i < n; i++) {
        const rm_field_t *f = &desc->fields[i];
        size_t old = path_push_field(&d->path, f->name);
        int rc = dec_value(d, f, (char *)obj + f->offset);
        path_pop(&d->path, old);
        if (rc)
            return -1;
    }
    /* Fields a newer peer appended: bounded, depth-checked, ignored. */
    for (uint32_t i = (uint32_t)desc->nfields; i < n; i++) {
        if (rm_read_skip(&d->r, d->err)) {
            path_push_index(&d->path, i);
            return dec_fail(d);
        }
    }
    d->r.depth--;
    return 0;
}

/*  Fewest bytes a value takes on the wire (a B32 takes 34, a struct one per
    field plus its header): lets a list's count be checked against the bytes
    left before allocating count * sizeof(element). */
static uint64_t min_wire(rm_ftype_t type, const rm_struct_desc_t *elem, int depth)
{
    uint64_t n = 1;
    switch (type) {
    case RM_F_BIN:
        return 2;
    case RM_F_B32:
        return 34;
    case RM_F_STRUCT:
        if (!desc_ok(elem) || depth >= RM_CODEC_MAX_DEPTH)
            return 1;
        for (size_t i = 0; i + elem->noptional < elem->nfields; i++)
            n += min_wire(elem->fields[i].type, elem->fields[i].elem, depth + 1);
        return n;
    default:
        return 1;
    }
}

static int dec_list(dec_t *d, const rm_field_t *f, rm_list_t *l)
{
    size_t es = elem_size(f);
    uint32_t n;
    if (!es)
        return dec_set(d, RM_EINVAL, "bad descriptor");
    uint32_t max = f->max > UINT32_MAX ? 0 : (uint32_t)f->max;
    if (rm_read_array(&d->r, max, &n, d->err) || rm_read_enter(&d->r, d->err))
        return dec_fail(d);
    uint64_t least = min_wire(f->elem_type, f->elem, d->r.depth);
    if (n * least > rm_read_left(&d->r))
        return dec_set(d, RM_EPROTO,
                       "%" PRIu32 " items of at least %" PRIu64 " bytes but only %zu bytes left", n,
                       least, rm_read_left(&d->r));
    /* n is bounded by the bytes left and by f->max, so this is too. */
    if (n) {
        l->items = calloc(n, es);
        if (!l->items)
            return dec_set(d, RM_ENOMEM, "out of memory for %" PRIu32 " items", n);
    }
    l->count = n;
    rm_field_t ef = elem_field(f);
    for (uint32_t i = 0; i < n; i++) {
        size_t old = path_push_index(&d->path, i);
        int rc = dec_value(d, &ef, (char *)l->items + i * es);
        path_pop(&d->path, old);
        if (rc)
            return -1;
    }
    d->r.depth--;
    return 0;
}

static int dec_value(dec_t *d, const rm_field_t *f, void *p)
{
    switch (f->type) {
    case RM_F_U64:
        return dec_u64(d, f->max, p);
    case RM_F_I64:
        return rm_read_i64(&d->r, p, d->err) ? dec_fail(d) : 0;
    case RM_F_BOOL:
        return rm_read_bool(&d->r, p, d->err) ? dec_fail(d) : 0;
    case RM_F_STR:
        return dec_str(d, f->max, p);
    case RM_F_BIN:
        return dec_bin(d, f->max, p);
    case RM_F_B32:
        return dec_b32(d, p);
    case RM_F_STRUCT:
        return dec_struct(d, f->elem, p);
    case RM_F_LIST:
        return dec_list(d, f, p);
    }
    return dec_set(d, RM_EINVAL, "bad descriptor: field type %d", (int)f->type);
}

int rm_codec_decode(const rm_struct_desc_t *desc, void *obj, const uint8_t *data, size_t size,
                    size_t *used, rm_err_t *err)
{
    dec_t d;
    rm_reader_init(&d.r, data, size);
    const uint8_t *start = d.r.p;
    d.err = err;
    path_init(&d.path, desc ? desc->name : NULL);
    if (dec_struct(&d, desc, obj)) {
        if (desc_ok(desc))
            rm_codec_free(desc, obj);
        return -1;
    }
    if (used)
        *used = (size_t)(d.r.p - start);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Encoder                                                             */
/* ------------------------------------------------------------------ */

typedef struct {
    msgpack_packer pk;
    rm_err_t *err;
    path_t path;
    int depth;
} enc_t;

static int enc_value(enc_t *e, const rm_field_t *f, const void *p);

static int enc_set(enc_t *e, rm_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int enc_set(enc_t *e, rm_code_t code, const char *fmt, ...)
{
    char msg[RM_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rm_err_set(e->err, code, "%s: %s", e->path.s, msg);
}

/*  msgpack-c's sbuffer fails only when realloc does. */
static int packed(enc_t *e, int rc)
{
    return rc ? enc_set(e, RM_ENOMEM, "out of memory") : 0;
}

static int enc_enter(enc_t *e)
{
    if (e->depth >= RM_CODEC_MAX_DEPTH)
        return enc_set(e, RM_EINVAL, "nested deeper than %d levels", RM_CODEC_MAX_DEPTH);
    e->depth++;
    return 0;
}

static int enc_u64(enc_t *e, uint64_t max, uint64_t v)
{
    if (max && v > max)
        return enc_set(e, RM_EINVAL, "%" PRIu64 " is above the maximum %" PRIu64, v, max);
    return packed(e, msgpack_pack_uint64(&e->pk, v));
}

static int enc_str(enc_t *e, uint64_t max, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if ((max && n > max) || n > UINT32_MAX)
        return enc_set(e, RM_EINVAL, "str of %zu bytes, max %" PRIu64, n,
                       max ? max : (uint64_t)UINT32_MAX);
    if (packed(e, msgpack_pack_str(&e->pk, n)))
        return -1;
    return packed(e, msgpack_pack_str_body(&e->pk, s ? s : "", n));
}

static int enc_bin(enc_t *e, uint64_t max, const rm_bin_t *b)
{
    if (b->len && !b->data)
        return enc_set(e, RM_EINVAL, "bin of %zu bytes without data", b->len);
    if ((max && b->len > max) || b->len > UINT32_MAX)
        return enc_set(e, RM_EINVAL, "bin of %zu bytes, max %" PRIu64, b->len,
                       max ? max : (uint64_t)UINT32_MAX);
    if (packed(e, msgpack_pack_bin(&e->pk, b->len)))
        return -1;
    return packed(e, msgpack_pack_bin_body(&e->pk, b->data, b->len));
}

static int enc_b32(enc_t *e, const uint8_t *b)
{
    if (packed(e, msgpack_pack_bin(&e->pk, 32)))
        return -1;
    return packed(e, msgpack_pack_bin_body(&e->pk, b, 32));
}

/*  A sparse field holding nothing: it may be left out (RM_DESC_SPARSE). */
static bool field_is_zero(const rm_field_t *f, const void *p)
{
    switch (f->type) {
    case RM_F_U64:
        return *(const uint64_t *)p == 0;
    case RM_F_I64:
        return *(const int64_t *)p == 0;
    case RM_F_BOOL:
        return !*(const bool *)p;
    case RM_F_STR:
        return !*(char *const *)p || !**(char *const *)p;
    case RM_F_BIN:
        return ((const rm_bin_t *)p)->len == 0;
    case RM_F_B32: {
        static const uint8_t zero[32];
        return memcmp(p, zero, sizeof zero) == 0;
    }
    case RM_F_LIST:
        return ((const rm_list_t *)p)->count == 0;
    case RM_F_STRUCT:
    default:
        return false;
    }
}

static int enc_struct(enc_t *e, const rm_struct_desc_t *desc, const void *obj)
{
    if (!desc_ok(desc))
        return enc_set(e, RM_EINVAL, "bad descriptor");
    size_t n = desc->nfields;
    while (n > desc->nfields - desc->nsparse &&
           field_is_zero(&desc->fields[n - 1], (const char *)obj + desc->fields[n - 1].offset))
        n--;
    if (enc_enter(e) || packed(e, msgpack_pack_array(&e->pk, n)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        const rm_field_t *f = &desc->fields[i];
        size_t old = path_push_field(&e->path, f->name);
        int rc = enc_value(e, f, (const char *)obj + f->offset);
        path_pop(&e->path, old);
        if (rc)
            return -1;
    }
    e->depth--;
    return 0;
}

static int enc_list(enc_t *e, const rm_field_t *f, const rm_list_t *l)
{
    size_t es = elem_size(f);
    if (!es)
        return enc_set(e, RM_EINVAL, "bad descriptor");
    if ((f->max && l->count > f->max))
        return enc_set(e, RM_EINVAL, "%" PRIu32 " items, max %" PRIu64, l->count, f->max);
    if (l->count && !l->items)
        return enc_set(e, RM_EINVAL, "%" PRIu32 " items without data", l->count);
    if (enc_enter(e) || packed(e, msgpack_pack_array(&e->pk, l->count)))
        return -1;
    rm_field_t ef = elem_field(f);
    for (uint32_t i = 0; i < l->count; i++) {
        size_t old = path_push_index(&e->path, i);
        int rc = enc_value(e, &ef, (const char *)l->items + i * es);
        path_pop(&e->path, old);
        if (rc)
            return -1;
    }
    e->depth--;
    return 0;
}

static int enc_value(enc_t *e, const rm_field_t *f, const void *p)
{
    switch (f->type) {
    case RM_F_U64:
        return enc_u64(e, f->max, *(const uint64_t *)p);
    case RM_F_I64:
        return packed(e, msgpack_pack_int64(&e->pk, *(const int64_t *)p));
    case RM_F_BOOL:
        return packed(e, *(const bool *)p ? msgpack_pack_true(&e->pk) : msgpack_pack_false(&e->pk));
    case RM_F_STR:
        return enc_str(e, f->max, *(char *const *)p);
    case RM_F_BIN:
        return enc_bin(e, f->max, p);
    case RM_F_B32:
        return enc_b32(e, p);
    case RM_F_STRUCT:
        return enc_struct(e, f->elem, p);
    case RM_F_LIST:
        return enc_list(e, f, p);
    }
    return enc_set(e, RM_EINVAL, "bad descriptor: field type %d", (int)f->type);
}

int rm_codec_encode(const rm_struct_desc_t *desc, const void *obj, uint8_t **buf, size_t *len,
                    rm_err_t *err)
{
    /* The sbuffer takes over the caller's buffer and grows it with realloc. */
    bool had_buf = *buf != NULL;
    msgpack_sbuffer sb = {
        .size = had_buf ? *len : 0, .data = (char *)*buf, .alloc = had_buf ? *len : 0};
    enc_t e;
    e.err = err;
    e.depth = 0;
    path_init(&e.path, desc ? desc->name : NULL);
    msgpack_packer_init(&e.pk, &sb, msgpack_sbuffer_write);
    int rc = enc_struct(&e, desc, obj);
    if (rc && !had_buf) {
        free(sb.data);
        sb.data = NULL;
    }
    *buf = (uint8_t *)sb.data;
    if (rc == 0)
        *len = sb.size;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Free and copy                                                       */
/* ------------------------------------------------------------------ */

static void free_value(const rm_field_t *f, void *p);

static void free_struct(const rm_struct_desc_t *desc, void *obj)
{
    if (!desc_ok(desc))
        return;
    for (size_t i = 0; i < desc->nfields; i++)
        free_value(&desc->fields[i], (char *)obj + desc->fields[i].offset);
}

static void free_list(const rm_field_t *f, rm_list_t *l)
{
    size_t es = elem_size(f);
    rm_field_t ef = elem_field(f);
    if (es && l->items)
        for (uint32_t i = 0; i < l->count; i++)
            free_value(&ef, (char *)l->items + i * es);
    free(l->items);
}

static void free_value(const rm_field_t *f, void *p)
{
    switch (f->type) {
    case RM_F_STR:
        free(*(char **)p);
        break;
    case RM_F_BIN:
        free(((rm_bin_t *)p)->data);
        break;
    case RM_F_STRUCT:
        free_struct(f->elem, p);
        break;
    case RM_F_LIST:
        free_list(f, p);
        break;
    default:
        break;
    }
}

void rm_codec_free(const rm_struct_desc_t *desc, void *obj)
{
    if (!desc || !obj)
        return;
    free_struct(desc, obj);
    memset(obj, 0, desc->size);
}

static int copy_value(const rm_field_t *f, void *dst, const void *src, rm_err_t *err);

static int copy_struct(const rm_struct_desc_t *desc, void *dst, const void *src, rm_err_t *err)
{
    if (!desc_ok(desc))
        return rm_err_set(err, RM_EINVAL, "bad descriptor");
    for (size_t i = 0; i < desc->nfields; i++) {
        const rm_field_t *f = &desc->fields[i];
        if (copy_value(f, (char *)dst + f->offset, (const char *)src + f->offset, err))
            return rm_err_prefix(err, "%s.%s: ", desc->name, f->name);
    }
    return 0;
}

static int copy_list(const rm_field_t *f, rm_list_t *dst, const rm_list_t *src, rm_err_t *err)
{
    size_t es = elem_size(f);
    if (!es)
        return rm_err_set(err, RM_EINVAL, "bad descriptor");
    if (!src->count)
        return 0;
    if (!src->items)
        return rm_err_set(err, RM_EINVAL, "%" PRIu32 " items without data", src->count);
    dst->items = calloc(src->count, es);
    if (!dst->items)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    dst->count = src->count;
    rm_field_t ef = elem_field(f);
    for (uint32_t i = 0; i < src->count; i++)
        if (copy_value(&ef, (char *)dst->items + i * es, (const char *)src->items + i * es, err))
            return -1;
    return 0;
}

static int copy_bin(rm_bin_t *dst, const rm_bin_t *src, rm_err_t *err)
{
    if (!src->len)
        return 0;
    if (!src->data)
        return rm_err_set(err, RM_EINVAL, "bin of %zu bytes without data", src->len);
    dst->data = malloc(src->len);
    if (!dst->data)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    memcpy(dst->data, src->data, src->len);
    dst->len = src->len;
    return 0;
}

static int copy_value(const rm_field_t *f, void *dst, const void *src, rm_err_t *err)
{
    switch (f->type) {
    case RM_F_STR: {
        const char *s = *(char *const *)src;
        if (s && !(*(char **)dst = strdup(s)))
            return rm_err_set(err, RM_ENOMEM, "out of memory");
        return 0;
    }
    case RM_F_BIN:
        return copy_bin(dst, src, err);
    case RM_F_STRUCT:
        return copy_struct(f->elem, dst, src, err);
    case RM_F_LIST:
        return copy_list(f, dst, src, err);
    case RM_F_U64:
    case RM_F_I64:
        memcpy(dst, src, sizeof(uint64_t));
        return 0;
    case RM_F_BOOL:
        *(bool *)dst = *(const bool *)src;
        return 0;
    case RM_F_B32:
        memcpy(dst, src, 32);
        return 0;
    }
    return rm_err_set(err, RM_EINVAL, "bad descriptor: field type %d", (int)f->type);
}

int rm_codec_copy(const rm_struct_desc_t *desc, void *dst, const void *src, rm_err_t *err)
{
    if (copy_struct(desc, dst, src, err)) {
        rm_codec_free(desc, dst);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Documentation                                                       */
/* ------------------------------------------------------------------ */

static const char *scalar_name(rm_ftype_t t)
{
    switch (t) {
    case RM_F_U64:
        return "u64";
    case RM_F_I64:
        return "i64";
    case RM_F_BOOL:
        return "bool";
    case RM_F_STR:
        return "str";
    case RM_F_BIN:
        return "bin";
    case RM_F_B32:
        return "bin(32)";
    default:
        return "?";
    }
}

static void doc_type(FILE *out, const rm_field_t *f)
{
    if (f->type == RM_F_STRUCT)
        fprintf(out, "`%s`", f->elem ? f->elem->name : "?");
    else if (f->type == RM_F_LIST && f->elem_type == RM_F_STRUCT)
        fprintf(out, "list of `%s`", f->elem ? f->elem->name : "?");
    else if (f->type == RM_F_LIST)
        fprintf(out, "list of %s", scalar_name(f->elem_type));
    else
        fputs(scalar_name(f->type), out);
}

/*  "65536 bytes (64 KiB)": the exact number for implementers, the unit for
    people. */
static void doc_bytes(FILE *out, uint64_t v)
{
    fprintf(out, "%" PRIu64 " bytes", v);
    if (v >= 1024 * 1024 && v % (1024 * 1024) == 0)
        fprintf(out, " (%" PRIu64 " MiB)", v / (1024 * 1024));
    else if (v >= 1024 && v % 1024 == 0)
        fprintf(out, " (%" PRIu64 " KiB)", v / 1024);
}

static void doc_limit(FILE *out, const rm_field_t *f)
{
    if (f->type == RM_F_B32)
        fputs("exactly 32 bytes", out);
    else if (!f->max || f->type == RM_F_I64 || f->type == RM_F_BOOL || f->type == RM_F_STRUCT)
        fputs("-", out);
    else if (f->type == RM_F_STR || f->type == RM_F_BIN) {
        fputs("max ", out);
        doc_bytes(out, f->max);
    } else
        fprintf(out, "max %" PRIu64 "%s", f->max, f->type == RM_F_LIST ? " items" : "");
}

/*  Table cells must not contain '|' or line breaks. */
static void doc_text(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else
            fputc(*s == '\n' ? ' ' : *s, out);
    }
}

void rm_codec_doc(const rm_struct_desc_t *desc, void *out)
{
    FILE *f = out;
    if (!desc_ok(desc))
        return;
    if (desc->nfields == 0) {
        fputs("No fields: the body is an empty array `[]`.\n", f);
        return;
    }
    fputs("| field | type | limit | meaning |\n|---|---|---|---|\n", f);
    for (size_t i = 0; i < desc->nfields; i++) {
        const rm_field_t *fd = &desc->fields[i];
        fprintf(f, "| `%s` | ", fd->name);
        doc_type(f, fd);
        fputs(" | ", f);
        doc_limit(f, fd);
        fputs(" | ", f);
        doc_text(f, fd->doc);
        if (i + desc->noptional >= desc->nfields)
            fputs(" (may be absent: zero)", f);
        fputs(" |\n", f);
    }
}
