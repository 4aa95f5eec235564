/*  rm_driver_event: reading the driver's flat JSON events, writing JSON
    strings for it. */
#include "rm_driver_event.h"

#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void rm_driver_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return p;
}

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

static size_t utf8_put(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/*  Decodes \uXXXX (and a following low surrogate) at p (just after the
    'u'); returns the code point and advances *p past the digits. */
static bool json_unicode(const char **p, unsigned *cp)
{
    if (!hex4(*p, cp))
        return false;
    *p += 4;
    unsigned lo;
    if (*cp >= 0xd800 && *cp < 0xdc00 && (*p)[0] == '\\' && (*p)[1] == 'u' && hex4(*p + 2, &lo) &&
        lo >= 0xdc00 && lo < 0xe000) {
        *cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
        *p += 6;
    } else if (*cp >= 0xd800 && *cp < 0xe000) {
        *cp = 0xfffd; /* lone surrogate */
    }
    return *cp != 0; /* NUL would cut the string short */
}

/*  Parses a JSON string at p (on the quote) into a malloc'd UTF-8 string;
    returns the position after it, NULL if malformed. */
static const char *json_string(const char *p, char **out)
{
    if (*p++ != '"')
        return NULL;
    char *buf = malloc(strlen(p) + 1); /* unescaping never grows */
    if (!buf)
        return NULL;
    size_t n = 0;
    while (*p && *p != '"') {
        unsigned char c = (unsigned char)*p++;
        if (c < 0x20)
            break;
        if (c != '\\') {
            buf[n++] = (char)c;
            continue;
        }
        const char *esc = "\"\"\\\\//b\bf\fn\nr\rt\t";
        const char *hit = *p && *p != 'u' ? strchr(esc, *p) : NULL;
        unsigned cp;
        if (hit && (hit - esc) % 2 == 0) {
            buf[n++] = hit[1];
            p++;
        } else if (*p == 'u' && (p++, json_unicode(&p, &cp))) {
            n += utf8_put(buf + n, cp);
        } else {
            break;
        }
    }
    if (*p != '"') {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *out = buf;
    return p + 1;
}

/*  Skips any JSON value; NULL if malformed. */
static const char *json_skip(const char *p)
{
    if (*p == '"') {
        char *s = NULL;
        p = json_string(p, &s);
        free(s);
        return p;
    }
    if (*p == '[' || *p == '{') {
        char close = *p == '[' ? ']' : '}';
        p = json_ws(p + 1);
        while (p && *p != close) {
            if (close == '}') {
                char *key = NULL;
                p = json_string(p, &key);
                free(key);
                if (!p || *(p = json_ws(p)) != ':')
                    return NULL;
                p = json_ws(p + 1);
            }
            p = json_skip(p);
            if (!p)
                return NULL;
            p = json_ws(p);
            if (*p == ',')
                p = json_ws(p + 1);
            else if (*p != close)
                return NULL;
        }
        return p ? p + 1 : NULL;
    }
    const char *start = p;
    while (*p && !strchr(",}] \t\r\n", *p))
        p++;
    return p > start ? p : NULL;
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

static const char *driver_event_field(rm_driver_event_t *ev, const char *key, const char *p)
{
    char **str = streq(key, "event")     ? &ev->event
                 : streq(key, "file")    ? &ev->file
                 : streq(key, "reason")  ? &ev->reason
                 : streq(key, "scope")   ? &ev->scope
                 : streq(key, "dir")     ? &ev->dir
                 : streq(key, "files")   ? &ev->files
                 : streq(key, "warning") ? &ev->warning
                                         : NULL;
    int64_t *num = streq(key, "frame")       ? &ev->frame
                   : streq(key, "render_ms") ? &ev->render_ms
                   : streq(key, "pid")       ? &ev->pid
                                             : NULL;
    if (str && *p == '"') {
        free(*str);
        *str = NULL;
        return json_string(p, str);
    }
    if (num && (*p == '-' || (*p >= '0' && *p <= '9'))) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno || end == p)
            return NULL;
        *num = v;
        ev->has_frame |= num == &ev->frame;
        return json_skip(p); /* a fraction or exponent, if any */
    }
    return json_skip(p);
}

bool rm_driver_event_parse(const char *line, rm_driver_event_t *ev)
{
    memset(ev, 0, sizeof *ev);
    const char *p = json_ws(line);
    if (*p++ != '{')
        return false;
    p = json_ws(p);
    while (p && *p != '}') {
        char *key = NULL;
        p = json_string(p, &key);
        if (p && *(p = json_ws(p)) == ':')
            p = driver_event_field(ev, key, json_ws(p + 1));
        else
            p = NULL;
        free(key);
        if (!p)
            break;
        p = json_ws(p);
        if (*p == ',')
            p = json_ws(p + 1);
        else if (*p != '}')
            p = NULL;
    }
    if (!p || !ev->event) {
        rm_driver_event_clear(ev);
        return false;
    }
    return true;
}
