/*  rm_json: meshctl's --json output with jansson (see rm_json.h). */
#include "rm_json.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct _rm_json_t {
    FILE *out;
    json_t *root;                    /* the output; NULL until the first value */
    json_t *open[RM_JSON_MAX_DEPTH]; /* open containers, borrowed from root */
    int depth;
};

rm_json_t *rm_json_new(FILE *out)
{
    rm_json_t *self = calloc(1, sizeof *self);
    if (self)
        self->out = out;
    return self;
}

void rm_json_destroy(rm_json_t **self_p)
{
    if (self_p && *self_p) {
        rm_json_t *self = *self_p;
        if (self->root)
            json_dumpf(self->root, self->out, JSON_COMPACT | JSON_ENCODE_ANY);
        fputc('\n', self->out);
        fflush(self->out);
        json_decref(self->root);
        free(self);
        *self_p = NULL;
    }
}

/*  Adds value (a new reference, taken) under key to the innermost open
    container, or makes it the root; false if it was dropped. */
static bool add_value(rm_json_t *self, const char *key, json_t *value)
{
    if (!value)
        return false;
    if (self->depth == 0) {
        if (self->root) {
            json_decref(value);
            return false;
        }
        self->root = value;
        return true;
    }
    json_t *c = self->open[self->depth - 1];
    if (json_is_object(c))
        return json_object_set_new(c, key ? key : "", value) == 0;
    return json_array_append_new(c, value) == 0;
}

/*  Length of the valid UTF-8 sequence at s[0..n), 0 if invalid. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/*  s[0..len) as a JSON string, each byte that is not valid UTF-8 as
    U+FFFD (jansson takes only valid UTF-8); NUL bytes are kept. */
static json_t *utf8_string(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len && utf8_seq(s + i, len - i) > 0)
        i += utf8_seq(s + i, len - i);
    if (i == len)
        return json_stringn((const char *)s, len);
    char *fixed = malloc(len * 3 + 1); /* a byte grows to 3 at most */
    if (!fixed)
        return NULL;
    size_t n = 0;
    for (i = 0; i < len;) {
        size_t seq = utf8_seq(s + i, len - i);
        if (seq == 0) {
            memcpy(fixed + n, "\xef\xbf\xbd", 3);
            n += 3;
            i++;
        } else {
            memcpy(fixed + n, s + i, seq);
            n += seq;
            i += seq;
        }
    }
    json_t *str = json_stringn(fixed, n);
    free(fixed);
    return str;
}

static void open_container(rm_json_t *self, const char *key, json_t *c)
{
    if (!c)
        return;
    if (self->depth >= RM_JSON_MAX_DEPTH) {
        json_decref(c);
        return;
    }
    json_incref(c); /* add consumes one reference; open[] borrows the other */
    if (add_value(self, key, c))
        self->open[self->depth++] = c;
    json_decref(c);
}

void rm_json_object(rm_json_t *self, const char *key)
{
    open_container(self, key, json_object());
}

void rm_json_array(rm_json_t *self, const char *key)
{
    open_container(self, key, json_array());
}

void rm_json_end(rm_json_t *self)
{
    if (self->depth > 0)
        self->depth--;
}

void rm_json_str(rm_json_t *self, const char *key, const char *value)
{
    const char *v = value ? value : "";
    rm_json_strn(self, key, (const uint8_t *)v, strlen(v));
}

void rm_json_strn(rm_json_t *self, const char *key, const uint8_t *value, size_t len)
{
    add_value(self, key, utf8_string(value, len));
}

void rm_json_u64(rm_json_t *self, const char *key, uint64_t value)
{
    add_value(self, key,
              value <= INT64_MAX ? json_integer((json_int_t)value) : json_real((double)value));
}

void rm_json_i64(rm_json_t *self, const char *key, int64_t value)
{
    add_value(self, key, json_integer(value));
}

void rm_json_double(rm_json_t *self, const char *key, double value)
{
    json_t *real = json_real(value); /* NULL if not finite */
    add_value(self, key, real ? real : json_null());
}

void rm_json_bool(rm_json_t *self, const char *key, bool value)
{
    add_value(self, key, json_boolean(value));
}

void rm_json_null(rm_json_t *self, const char *key)
{
    add_value(self, key, json_null());
}
