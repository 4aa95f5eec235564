/*  rm_read: a bounded msgpack pull reader, for the table-driven decoder
    (rm_codec) and hand-written decoders.

    It never trusts a declared length: every str/bin/array/map header is
    checked against the bytes left (and a caller's max) before the caller
    allocates anything, and nesting is capped at RM_READ_MAX_DEPTH, also
    for skipped elements.  Errors are RM_EPROTO with a readable message. */
#ifndef RM_READ_H
#define RM_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rm_error.h"

#define RM_READ_MAX_DEPTH 16

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
    int depth;
} rm_reader_t;

void rm_reader_init(rm_reader_t *r, const uint8_t *data, size_t size);
int rm_read_array(rm_reader_t *r, uint32_t max, uint32_t *count, rm_err_t *err);
int rm_read_u64(rm_reader_t *r, uint64_t *v, rm_err_t *err);
int rm_read_i64(rm_reader_t *r, int64_t *v, rm_err_t *err);
int rm_read_bool(rm_reader_t *r, bool *v, rm_err_t *err);
/*  Points *s into the buffer (not NUL-terminated, not copied). */
int rm_read_str_ref(rm_reader_t *r, uint64_t max, const char **s, uint32_t *len, rm_err_t *err);
int rm_read_bin_ref(rm_reader_t *r, uint64_t max, const uint8_t **b, uint32_t *len, rm_err_t *err);
/*  Skips one element of any type, bounds- and depth-checked. */
int rm_read_skip(rm_reader_t *r, rm_err_t *err);

/*  Bytes not read yet. */
size_t rm_read_left(const rm_reader_t *r);

/*  Enters one level of nesting; RM_EPROTO past RM_READ_MAX_DEPTH. */
int rm_read_enter(rm_reader_t *r, rm_err_t *err);

#endif
