/*  rm_text: escaping of untrusted text for logs and terminals. */
#include "rm_text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  Length of the valid UTF-8 sequence at s (1..4), 0 if it is not one.
    Overlong forms, surrogates and code points past U+10FFFF are not. */
static size_t utf8_length(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0; /* also stops at the NUL */
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/*  The escaped form of the character at s (len bytes) into piece; its
    length. */
static size_t escape_one(const unsigned char *s, size_t len, bool keep_lines, char piece[8])
{
    unsigned char c = s[0];
    if (len == 0) {
        snprintf(piece, 8, "\\x%02x", c);
        return 4;
    }
    if (len == 2 && c == 0xc2 && s[1] <= 0x9f) { /* C1 controls */
        snprintf(piece, 8, "\\u00%02x", s[1]);
        return 6;
    }
    if (len > 1 || (c >= 0x20 && c != 0x7f && c != '\\')) {
        memcpy(piece, s, len);
        return len;
    }
    if (keep_lines && (c == '\n' || c == '\t')) {
        piece[0] = (char)c;
        return 1;
    }
    const char *named = c == '\n'   ? "\\n"
                        : c == '\r' ? "\\r"
                        : c == '\t' ? "\\t"
                        : c == '\\' ? "\\\\"
                                    : NULL;
    if (named) {
        memcpy(piece, named, 2);
        return 2;
    }
    snprintf(piece, 8, "\\x%02x", c);
    return 4;
}

char *rm_text_escape(const char *in, bool keep_lines, char *out, size_t size)
{
    size_t used = 0;
    const unsigned char *s = (const unsigned char *)(in ? in : "");
    while (size > 0 && *s) {
        size_t len = utf8_length(s);
        char piece[8];
        size_t n = escape_one(s, len, keep_lines, piece);
        if (used + n >= size)
            break;
        memcpy(out + used, piece, n);
        used += n;
        s += len ? len : 1;
    }
    if (size > 0)
        out[used] = '\0';
    return out;
}

char *rm_text_escaped(const char *in, bool keep_lines)
{
    /* At most 4 bytes out per byte in: \xHH for one byte, \u00HH for two. */
    size_t size = (in ? strlen(in) : 0) * 4 + 1;
    char *out = malloc(size);
    return out ? rm_text_escape(in, keep_lines, out, size) : NULL;
}
