/*  rm_driver_event: reading the driver's flat JSON events with jansson. */
#include "rm_driver_event.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static bool hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return false;
        v = v * 16 + (unsigned)d;
    }
    *out = v;
    return true;
}

/*  Python's json writes a string holding a lone surrogate (a file name
    whose bytes are not UTF-8, decoded with surrogateescape) as a lone
    \udXXX escape, which jansson refuses, losing the whole event.  Each
    such escape in s becomes \ufffd, of the same length; pairs stay.
    Escapes are stepped over two characters at a time, so "\\udc00" is a
    backslash and text, as in JSON; outside strings a backslash is an
    error either way. */
static void lone_surrogates_replace(char *s, size_t len)
{
    size_t i = 0;
    while (i + 1 < len) {
        if (s[i] != '\\') {
            i++;
            continue;
        }
        unsigned hi, lo;
        if (s[i + 1] != 'u' || i + 6 > len || !hex4(s + i + 2, &hi) || hi < 0xd800 ||
            hi >= 0xe000) {
            i += 2;
            continue;
        }
        if (hi < 0xdc00 && i + 12 <= len && s[i + 6] == '\\' && s[i + 7] == 'u' &&
            hex4(s + i + 8, &lo) && lo >= 0xdc00 && lo < 0xe000) {
            i += 12; /* a pair: one code point above U+FFFF */
            continue;
        }
        memcpy(s + i + 2, "fffd", 4);
        i += 6;
    }
}

/*  Copies obj[key], a string or null, to *out; false if it has another
    type or the copy fails. */
static bool take_text(json_t *obj, const char *key, char **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v))
        return false;
    *out = strdup(json_string_value(v)); /* no NUL inside: JSON_ALLOW_NUL is off */
    return *out != NULL;
}

/*  Reads obj[key], a number or null, into *out, cutting off a fraction;
    false if it has another type or is out of int64_t's range. */
static bool take_number(json_t *obj, const char *key, int64_t *out, bool *found)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return true;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
            return false;
        *out = (int64_t)d;
    } else {
        return false;
    }
    if (found)
        *found = true;
    return true;
}

static bool driver_event_read(json_t *root, rm_driver_event_t *ev)
{
    return json_is_object(root) && take_text(root, "event", &ev->event) && ev->event &&
           take_text(root, "file", &ev->file) && take_text(root, "reason", &ev->reason) &&
           take_text(root, "scope", &ev->scope) && take_text(root, "dir", &ev->dir) &&
           take_text(root, "files", &ev->files) && take_text(root, "warning", &ev->warning) &&
           take_number(root, "frame", &ev->frame, &ev->has_frame) &&
           take_number(root, "render_ms", &ev->render_ms, NULL) &&
           take_number(root, "pid", &ev->pid, NULL);
}

void rm_driver_event_clear(rm_driver_event_t *ev)
{
    free(ev->event);
    free(ev->file);
    free(ev->reason);
    free(ev->scope);
    free(ev->dir);
    free(ev->files);
    free(ev->warning);
    memset(ev, 0, sizeof *ev);
}

bool rm_driver_event_parse(const char *line, rm_driver_event_t *ev)
{
    memset(ev, 0, sizeof *ev);
    size_t len = strnlen(line, RM_DRIVER_EVENT_LINE_MAX + 1);
    if (len > RM_DRIVER_EVENT_LINE_MAX)
        return false;
    char *text = malloc(len + 1);
    if (!text)
        return false;
    memcpy(text, line, len + 1);
    lone_surrogates_replace(text, len);
    /* A key given twice keeps its last value, as in Python. */
    json_t *root = json_loadb(text, len, 0, NULL);
    free(text);
    bool ok = driver_event_read(root, ev);
    json_decref(root);
    if (!ok)
        rm_driver_event_clear(ev);
    return ok;
}
