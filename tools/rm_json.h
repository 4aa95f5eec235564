/*  rm_json: meshctl's --json output, one JSON value a line.

    The calls build a jansson tree, which rm_json_destroy writes compact
    on one line (json_dumpf): nothing is printed before then.  Bytes that
    are not valid UTF-8 become U+FFFD, so a Blender log with stray bytes
    still parses.  Calls that take a key use it inside an object and ignore
    it (pass NULL) inside an array; outside any container the first value
    is the output and later ones are dropped.  Nesting deeper than
    RM_JSON_MAX_DEPTH is ignored (our output never gets close). */
#ifndef RM_JSON_H
#define RM_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RM_JSON_MAX_DEPTH 16

typedef struct _rm_json_t rm_json_t;

rm_json_t *rm_json_new(FILE *out);
/*  Ends the line and flushes. */
void rm_json_destroy(rm_json_t **self_p);

void rm_json_object(rm_json_t *self, const char *key);
void rm_json_array(rm_json_t *self, const char *key);
void rm_json_end(rm_json_t *self); /* closes the innermost object or array */

void rm_json_str(rm_json_t *self, const char *key, const char *value); /* NULL -> "" */
void rm_json_strn(rm_json_t *self, const char *key, const uint8_t *value, size_t len);
/*  Above INT64_MAX (jansson's integers are long long) as a real. */
void rm_json_u64(rm_json_t *self, const char *key, uint64_t value);
void rm_json_i64(rm_json_t *self, const char *key, int64_t value);
void rm_json_double(rm_json_t *self, const char *key, double value); /* non-finite -> null */
void rm_json_bool(rm_json_t *self, const char *key, bool value);
void rm_json_null(rm_json_t *self, const char *key);

#endif
