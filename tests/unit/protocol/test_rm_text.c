/*  Tests of escaping untrusted text for logs and terminals. */
#include "rm_text.h"
#include "rm_test.h"

#include <stdlib.h>

static bool escapes_to(const char *in, bool keep_lines, const char *want)
{
    char out[256];
    rm_text_escape(in, keep_lines, out, sizeof out);
    char *dup = rm_text_escaped(in, keep_lines);
    bool ok = strcmp(out, want) == 0 && dup && strcmp(dup, want) == 0;
    if (!ok)
        fprintf(stderr, "escape(%s): got '%s' / '%s', want '%s'\n", in, out, dup ? dup : "(null)",
                want);
    free(dup);
    return ok;
}

static void test_a_newline_cannot_forge_a_line(void)
{
    CHECK(escapes_to("shot\nI: (meshd) forged", false, "shot\\nI: (meshd) forged"));
    CHECK(escapes_to("a\r\tb\\c", false, "a\\r\\tb\\\\c"));
}

static void test_terminal_controls_are_shown_not_sent(void)
{
    CHECK(escapes_to("\x1b[2J\x07", false, "\\x1b[2J\\x07"));
    CHECK(escapes_to("del\x7f", false, "del\\x7f"));
    CHECK(escapes_to("c1 \xc2\x9b"
                     "31m",
                     false, "c1 \\u009b31m")); /* 8-bit CSI */
}

static void test_utf8_names_stay_as_they_are(void)
{
    CHECK(escapes_to("Szene \xc3\xbc \xe2\x82\xac \xf0\x9f\x8e\xac", false,
                     "Szene \xc3\xbc \xe2\x82\xac \xf0\x9f\x8e\xac"));
    CHECK(escapes_to("\xc2\xa0nbsp", false, "\xc2\xa0nbsp"));
}

static void test_bytes_that_are_not_utf8_are_shown_as_hex(void)
{
    CHECK(escapes_to("a\xff"
                     "b",
                     false, "a\\xffb"));
    CHECK(escapes_to("\xc0\xaf", false, "\\xc0\\xaf"));          /* overlong '/' */
    CHECK(escapes_to("\xed\xa0\x80", false, "\\xed\\xa0\\x80")); /* a surrogate */
    CHECK(escapes_to("\xe2\x82", false, "\\xe2\\x82"));          /* cut short at the end */
}

static void test_keep_lines_keeps_newlines_and_tabs_only(void)
{
    CHECK(escapes_to("Fra:1\tok\nFra:2 \x1b]0;title\x07\n", true,
                     "Fra:1\tok\nFra:2 \\x1b]0;title\\x07\n"));
}

static void test_cut_at_a_whole_character(void)
{
    char out[6];
    rm_text_escape("ab\x1b"
                   "cd",
                   false, out, sizeof out); /* "ab\x1b" needs 7 */
    CHECK_MSG(strcmp(out, "ab") == 0, "%s", out);
    rm_text_escape("\xe2\x82\xac\xe2\x82\xac", false, out, 5);
    CHECK_MSG(strcmp(out, "\xe2\x82\xac") == 0, "%s", out);
    CHECK(escapes_to("", false, ""));
    CHECK(escapes_to(NULL, false, ""));
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_a_newline_cannot_forge_a_line);
    RM_RUN(test_terminal_controls_are_shown_not_sent);
    RM_RUN(test_utf8_names_stay_as_they_are);
    RM_RUN(test_bytes_that_are_not_utf8_are_shown_as_hex);
    RM_RUN(test_keep_lines_keeps_newlines_and_tabs_only);
    RM_RUN(test_cut_at_a_whole_character);
    RM_TEST_DONE();
}
