/*  rm_ini: INI-style files read with libinih (Debian's libinih-dev), the
    same way for every caller: lines of any length (an AWS session token
    runs far past inih's 200-byte default), no inline comments (AWS's own
    parser keeps "a ; b" whole; meshd.conf strips its "#" comments itself),
    and the first bad line ends the parse. */
#ifndef RM_INI_H
#define RM_INI_H

#include <stdbool.h>
#include <stdio.h>

/*  One "name = value" line; section is "" before any [section].  Returns
    nonzero to go on, 0 to stop the parse at this line. */
typedef int(rm_ini_entry_fn)(void *arg, const char *section, const char *name, const char *value);

/*  Reads f.  continuation_lines: an indented line continues the value
    above it (AWS's nested "s3 =" settings); otherwise it is a line of its
    own.  Returns 0, the number of the first bad line (or the line whose
    entry returned 0), or -1 when out of memory. */
int rm_ini_parse_file(FILE *f, bool continuation_lines, rm_ini_entry_fn *entry, void *arg);

#endif
