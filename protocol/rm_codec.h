/*  rm_codec: table-driven msgpack codec with bounded decoding.

    Every wire structure is a plain C struct plus one descriptor table
    (rm_struct_desc_t) that lists its fields in wire order.  The same table
    drives the encoder, the decoder, the free function and the generated
    documentation (tools/rmproto-doc), so they cannot drift apart.

    Wire form of a struct: a msgpack array with one element per field, in
    table order.  A decoder accepts arrays LONGER than it knows (fields a
    newer peer appended) and skips the extra elements after bounds-checking
    them; it rejects shorter arrays, except that the last `noptional` fields
    of a descriptor (RM_DESC_OPT) may be missing and then decode as zero.

    Decoding never trusts a declared length: every str/bin/array/map header
    is checked against the bytes left in the buffer and against the field's
    `max` BEFORE anything is allocated; nesting is capped (RM_CODEC_MAX_DEPTH),
    also for skipped elements.  The decoder never calls msgpack-c's unpacker
    (it reserves memory by declared counts).

    C representation of each field type:
      RM_F_U64    uint64_t                 msgpack positive int; value <= max (0 = no limit)
      RM_F_I64    int64_t                  msgpack int
      RM_F_BOOL   bool                     msgpack bool
      RM_F_STR    char *                   msgpack str, UTF-8 not checked, no NUL byte inside;
                                           heap, NUL-terminated; NULL encodes as ""; max bytes
      RM_F_BIN    rm_bin_t                 msgpack bin, max bytes
      RM_F_B32    uint8_t[32]              msgpack bin of exactly 32 bytes (hash, key)
      RM_F_STRUCT nested struct, inline    msgpack array (elem = its descriptor)
      RM_F_LIST   rm_list-shaped struct    msgpack array of elem_type (scalar) or elem (struct),
                  { T *items; uint32_t count; }, at most max items
*/
#ifndef RM_CODEC_H
#define RM_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rm_error.h"
#include "rm_read.h"

#define RM_CODEC_MAX_DEPTH RM_READ_MAX_DEPTH

typedef enum {
    RM_F_U64 = 1,
    RM_F_I64,
    RM_F_BOOL,
    RM_F_STR,
    RM_F_BIN,
    RM_F_B32,
    RM_F_STRUCT,
    RM_F_LIST,
} rm_ftype_t;

typedef struct {
    uint8_t *data;
    size_t len;
} rm_bin_t;

/*  A list field is declared with RM_LIST(T); every such struct has the layout
    of rm_list_t so the generic codec can handle it. */
#define RM_LIST(T)                                                                                 \
    struct {                                                                                       \
        T *items;                                                                                  \
        uint32_t count;                                                                            \
    }
typedef RM_LIST(void) rm_list_t;

typedef struct rm_struct_desc rm_struct_desc_t;

typedef struct {
    const char *name;     /* field name, for docs and error messages */
    rm_ftype_t type;      /* wire type */
    size_t offset;        /* offsetof (struct, field) */
    uint64_t max;         /* STR/BIN: max bytes; LIST: max items; U64: max value (0: none) */
    rm_ftype_t elem_type; /* LIST: element type (scalar or RM_F_STRUCT) */
    const rm_struct_desc_t *elem; /* STRUCT, or LIST of STRUCT: element descriptor */
    const char *doc;              /* one line for docs/protocol.md */
} rm_field_t;

struct rm_struct_desc {
    const char *name;         /* struct name, e.g. "job_spec" */
    size_t size;              /* sizeof (struct) */
    const rm_field_t *fields; /* array of nfields */
    size_t nfields;
    const char *doc;  /* one line for docs */
    size_t noptional; /* the last noptional fields may be absent (added
                         later; absent = zero), so older records still read */
    size_t nsparse;   /* of those, the last nsparse are written only when one
                         of them is set, so that a record from before them
                         encodes to the very bytes it did (signatures and
                         digests of old records hold) */
};

/*  Field helpers for descriptor tables. */
#define RM_FIELD(S, f, T, mx, d)                                                                   \
    {                                                                                              \
#f, T, offsetof(S, f), mx, 0, NULL, d                                                      \
    }
#define RM_FIELD_STRUCT(S, f, D, d)                                                                \
    {                                                                                              \
#f, RM_F_STRUCT, offsetof(S, f), 0, 0, &D, d                                               \
    }
#define RM_FIELD_LIST(S, f, ET, mx, d)                                                             \
    {                                                                                              \
#f, RM_F_LIST, offsetof(S, f), mx, ET, NULL, d                                             \
    }
#define RM_FIELD_LIST_OF(S, f, D, mx, d)                                                           \
    {                                                                                              \
#f, RM_F_LIST, offsetof(S, f), mx, RM_F_STRUCT, &D, d                                      \
    }
#define RM_DESC(S, name, fields, d)                                                                \
    {                                                                                              \
        name, sizeof(S), fields, sizeof(fields) / sizeof(fields[0]), d, 0, 0                       \
    }
/*  A struct whose last `nopt` fields were appended after records of it were
    written: a decoder takes an array without them (they stay zero). */
#define RM_DESC_OPT(S, name, fields, nopt, d)                                                      \
    {                                                                                              \
        name, sizeof(S), fields, sizeof(fields) / sizeof(fields[0]), d, nopt, 0                    \
    }
/*  RM_DESC_OPT whose last `nsparse` fields (<= nopt) are left out of the
    encoding while all of them are zero (empty strings, lists and bins). */
#define RM_DESC_SPARSE(S, name, fields, nopt, nsparse, d)                                          \
    {                                                                                              \
        name, sizeof(S), fields, sizeof(fields) / sizeof(fields[0]), d, nopt, nsparse              \
    }

/*  Appends the msgpack encoding of the struct at obj to *buf (realloc'd;
    *len updated).  Returns 0, or -1 with err set (RM_ENOMEM, or RM_EINVAL if
    a value breaks its field's max: we never send what a peer must refuse). */
int rm_codec_encode(const rm_struct_desc_t *desc, const void *obj, uint8_t **buf, size_t *len,
                    rm_err_t *err);

/*  Decodes exactly one struct from data[0..size) into obj, which must be
    zeroed by the caller (sizeof = desc->size).  On failure frees whatever it
    allocated, leaves obj zeroed and returns -1 with err (RM_EPROTO) naming
    the field: "job_spec.frames: 2000000 items, max 100000".  *used (may be
    NULL) receives the bytes consumed; trailing bytes are the caller's
    business. */
int rm_codec_decode(const rm_struct_desc_t *desc, void *obj, const uint8_t *data, size_t size,
                    size_t *used, rm_err_t *err);

/*  Frees every heap member of obj (strings, bins, lists, recursively) and
    zeroes it.  Does not free obj itself. */
void rm_codec_free(const rm_struct_desc_t *desc, void *obj);

/*  Deep copy of src into dst (zeroed by caller).  Returns 0 or -1 (ENOMEM). */
int rm_codec_copy(const rm_struct_desc_t *desc, void *dst, const void *src, rm_err_t *err);

/*  Writes a markdown table of the struct's fields to `out` (FILE *). */
void rm_codec_doc(const rm_struct_desc_t *desc, void *out);

#endif
