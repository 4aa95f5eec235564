/*  rm_text: text from the network or a file made safe to log or print.

    A job name, a node name, a path or a peer's error message may hold any
    bytes.  Written as they are, a newline forges a line in meshd's log or
    a job's log, and an escape sequence drives the terminal of whoever reads
    it (`meshctl logs`, `meshctl jobs`).  Escaped, each stays one line of
    plain characters that still says exactly what was sent. */
#ifndef RM_TEXT_H
#define RM_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/*  Copies in to out (NUL-terminated, cut to size at a whole character):
    \n \r \t \\ as two characters, other ASCII controls and DEL as \xHH,
    C1 controls (U+0080..U+009F) as \u00HH, bytes that are not UTF-8 as
    \xHH; printable UTF-8 as it is.  With keep_lines, '\n' and '\t' stay
    (multi-line text such as a Blender log).  Returns out. */
char *rm_text_escape(const char *in, bool keep_lines, char *out, size_t size);

/*  The same into a malloc'd string of the right size; NULL if out of
    memory. */
char *rm_text_escaped(const char *in, bool keep_lines);

#endif
