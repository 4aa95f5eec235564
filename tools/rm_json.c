/*  rm_json: streaming JSON writer (see rm_json.h). */
#include "rm_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct _rm_json_t {
    FILE *out;
    int depth;                         /* open containers */
    bool in_object[RM_JSON_MAX_DEPTH]; /* object (true) or array */
    bool has_items[RM_JSON_MAX_DEPTH]; /* needs a comma before the next item */
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
        while (self->depth > 0)
            rm_json_end(self);
        fputc('\n', self->out);
        fflush(self->out);
        free(self);
        *self_p = NULL;
    }
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

void rm_json_write_string(FILE *out, const uint8_t *s, size_t len)
{
    fputc('"', out);
    for (size_t i = 0; i < len;) {
        uint8_t c = s[i];
        size_t n = utf8_seq(s + i, len - i);
        if (n == 0) {
            fputs("\\ufffd", out);
            i++;
            continue;
        }
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\r')
            fputs("\\r", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\u%04x", c);
        else
            fwrite(s + i, 1, n, out);
        i += n;
    }
    fputc('"', out);
}

/*  Comma and key before a value. */
static void item(rm_json_t *self, const char *key)
{
    if (self->depth == 0)
        return;
    int d = self->depth - 1;
    if (self->has_items[d])
        fputc(',', self->out);
    self->has_items[d] = true;
    if (self->in_object[d]) {
        const char *k = key ? key : "";
        rm_json_write_string(self->out, (const uint8_t *)k, strlen(k));
        fputc(':', self->out);
    }
}

static void open_container(rm_json_t *self, const char *key, bool object)
{
    if (self->depth >= RM_JSON_MAX_DEPTH)
        return;
    item(self, key);
    fputc(object ? '{' : '[', self->out);
    self->in_object[self->depth] = object;
    self->has_items[self->depth] = false;
    self->depth++;
}

void rm_json_object(rm_json_t *self, const char *key)
{
    open_container(self, key, true);
}

void rm_json_array(rm_json_t *self, const char *key)
{
    open_container(self, key, false);
}

void rm_json_end(rm_json_t *self)
{
    if (self->depth == 0)
        return;
    self->depth--;
    fputc(self->in_object[self->depth] ? '}' : ']', self->out);
}

void rm_json_str(rm_json_t *self, const char *key, const char *value)
{
    const char *v = value ? value : "";
    rm_json_strn(self, key, (const uint8_t *)v, strlen(v));
}

void rm_json_strn(rm_json_t *self, const char *key, const uint8_t *value, size_t len)
{
    item(self, key);
    rm_json_write_string(self->out, value, len);
}

void rm_json_u64(rm_json_t *self, const char *key, uint64_t value)
{
    item(self, key);
    fprintf(self->out, "%" PRIu64, value);
}

void rm_json_i64(rm_json_t *self, const char *key, int64_t value)
{
    item(self, key);
    fprintf(self->out, "%" PRId64, value);
}

void rm_json_double(rm_json_t *self, const char *key, double value)
{
    item(self, key);
    if (isfinite(value))
        fprintf(self->out, "%.3f", value);
    else
        fputs("null", self->out);
}

void rm_json_bool(rm_json_t *self, const char *key, bool value)
{
    item(self, key);
    fputs(value ? "true" : "false", self->out);
}

void rm_json_null(rm_json_t *self, const char *key)
{
    item(self, key);
    fputs("null", self->out);
}
