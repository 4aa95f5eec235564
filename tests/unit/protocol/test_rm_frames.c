/*  Tests of frame range parsing, validation, expansion and formatting. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_frames.h"
#include "rm_test.h"

/*  Parses text and checks its formatted form (NULL: expects `text`). */
static void parses(const char *text, const char *formatted, uint32_t nranges, int line)
{
    rm_frame_range_t *r = NULL;
    uint32_t n = 0;
    rm_err_t err = {0};
    char buf[256];
    int rc = rm_frames_parse(text, &r, &n, &err);
    CHECK_MSG(rc == 0, "line %d: '%s': %s", line, text, err.msg);
    if (rc)
        return;
    CHECK_MSG(n == nranges, "line %d: %u ranges", line, n);
    rm_frames_format(r, n, buf, sizeof buf);
    CHECK_MSG(strcmp(buf, formatted ? formatted : text) == 0, "line %d: formatted '%s'", line, buf);
    CHECK_MSG(rm_frames_validate(r, n, &err) == 0, "line %d: %s", line, err.msg);
    free(r);
}
#define PARSES(text, formatted, n) parses(text, formatted, n, __LINE__)

static void refused(const char *text, const char *want, int line)
{
    rm_frame_range_t *r = (rm_frame_range_t *)&r; /* must be reset to NULL */
    uint32_t n = 99;
    rm_err_t err = {0};
    int rc = rm_frames_parse(text, &r, &n, &err);
    CHECK_MSG(rc == -1, "line %d: '%s' parsed", line, text ? text : "(null)");
    CHECK_MSG(r == NULL && n == 0, "line %d: outputs not reset", line);
    CHECK_MSG(rc == 0 || err.code == RM_EINVAL, "line %d: code %d", line, err.code);
    CHECK_MSG(rc == 0 || strstr(err.msg, want), "line %d: got '%s', want '%s'", line, err.msg,
              want);
    if (rc == 0)
        free(r);
}
#define REFUSED(text, want) refused(text, want, __LINE__)

static void test_parse(void)
{
    PARSES("1-250", NULL, 1);
    PARSES("1,5,10-20", NULL, 3);
    PARSES("1-100:5", NULL, 1);
    PARSES("0", NULL, 1);
    PARSES("  1 ,\t5 , 10-20\n", "1,5,10-20", 3);
    PARSES("7-7", "7", 1);
    PARSES("007-0010:1", "7-10", 1);
    PARSES("1-3:5", NULL, 1);
    PARSES("1048574", NULL, 1);
    PARSES("1-100000", NULL, 1);
    PARSES("1-50000,1-50000", NULL, 2); /* 100000 counted, 50000 distinct */
}

static void test_refused(void)
{
    REFUSED("20-10", "frame range '20-10' is reversed (20 > 10)");
    REFUSED("", "empty frame range");
    REFUSED("   \t", "empty frame range");
    REFUSED(NULL, "empty frame range");
    REFUSED("1-10:0", "step 0 in '1-10:0'");
    REFUSED("1,,5", "empty part 2 in frame range '1,,5'");
    REFUSED("1,", "empty part 2");
    REFUSED(",1", "empty part 1");
    REFUSED("-5", "negative frame in '-5'");
    REFUSED("1--5", "negative frame in '1--5'");
    REFUSED("1-5:-1", "negative frame in '1-5:-1'");
    REFUSED("1-a", "'1-a' is not a frame range");
    REFUSED("abc", "'abc' is not a frame range (expected N, N-M or N-M:STEP");
    REFUSED("1-", "'1-' is not a frame range");
    REFUSED("1-5:", "'1-5:' is not a frame range");
    REFUSED("1:5", "'1:5' is not a frame range");
    REFUSED("1 - 5", "'1 - 5' is not a frame range");
    REFUSED("1.5", "'1.5' is not a frame range");
    REFUSED("1048575", "frame in '1048575' is above Blender's maximum frame 1048574");
    REFUSED("1-99999999999999999999999", "is above Blender's maximum frame");
    REFUSED("1-100001", "frame range '1-100001' has 100001 frames, max 100000");
    REFUSED("1-50000,50000-100000", "has 100001 frames, max 100000");
}

static void test_many_parts(void)
{
    /* 100001 one-frame parts: too many, refused without quadratic work. */
    size_t n = 100001;
    char *text = malloc(n * 2);
    for (size_t i = 0; i < n; i++) {
        text[2 * i] = '1';
        text[2 * i + 1] = ',';
    }
    text[2 * n - 1] = '\0';
    REFUSED(text, "100000");
    text[2 * (n - 1) - 1] = '\0'; /* 100000 parts: fine */
    rm_frame_range_t *r;
    uint32_t count;
    uint64_t *frames;
    uint32_t nf;
    rm_err_t err;
    CHECK(rm_frames_parse(text, &r, &count, &err) == 0 && count == 100000);
    CHECK(rm_frames_expand(r, count, &frames, &nf, &err) == 0 && nf == 1 && frames[0] == 1);
    free(frames);
    free(r);
    free(text);
}

static void test_validate(void)
{
    rm_err_t err;
    rm_frame_range_t ok[] = {{1, 10, 1}, {0, 0, 1}};
    rm_frame_range_t rev[] = {{1, 10, 1}, {20, 10, 1}};
    rm_frame_range_t step0[] = {{1, 10, 0}};
    rm_frame_range_t huge[] = {{1, RM_FRAME_MAX + 1, 1}};
    rm_frame_range_t big_step[] = {{5, 5, UINT64_MAX}, {0, RM_FRAME_MAX, UINT64_MAX}};
    rm_frame_range_t too_many[] = {{0, 99999, 1}, {0, 0, 1}};
    CHECK(rm_frames_validate(ok, 2, &err) == 0);
    CHECK(rm_frames_validate(rev, 2, &err) == -1 &&
          strstr(err.msg, "frame range '20-10' is reversed (20 > 10)"));
    CHECK(rm_frames_validate(step0, 1, &err) == -1 && strstr(err.msg, "step 0 in '1-10:0'"));
    CHECK(rm_frames_validate(huge, 1, &err) == -1 && strstr(err.msg, "1048575"));
    CHECK(rm_frames_validate(big_step, 2, &err) == 0);
    CHECK(rm_frames_validate(too_many, 2, &err) == -1 &&
          strstr(err.msg, "100001 frames in 2 ranges, max 100000"));
    CHECK(rm_frames_validate(ok, 0, &err) == -1 && strstr(err.msg, "empty frame range"));
    CHECK(rm_frames_validate(NULL, 1, &err) == -1);
}

static void test_expand(void)
{
    rm_frame_range_t r[] = {{10, 20, 5}, {1, 3, 1}, {2, 11, 9}, {RM_FRAME_MAX, RM_FRAME_MAX, 1}};
    rm_frame_range_t big_step[] = {{0, RM_FRAME_MAX, UINT64_MAX}};
    rm_frame_range_t bad[] = {{5, 1, 1}};
    const uint64_t want[] = {1, 2, 3, 10, 11, 15, 20, RM_FRAME_MAX};
    uint64_t *f = (uint64_t *)&f;
    uint32_t n = 0;
    rm_err_t err;
    CHECK(rm_frames_expand(r, 4, &f, &n, &err) == 0);
    CHECK(n == 8 && memcmp(f, want, sizeof want) == 0);
    free(f);
    /* A step that would overflow a running counter. */
    CHECK(rm_frames_expand(big_step, 1, &f, &n, &err) == 0 && n == 1 && f[0] == 0);
    free(f);
    CHECK(rm_frames_expand(bad, 1, &f, &n, &err) == -1 && f == NULL && n == 0);
    /* The maximum: 100000 frames, sorted. */
    rm_frame_range_t max[] = {{RM_FRAME_MAX - 99999, RM_FRAME_MAX, 1}};
    CHECK(rm_frames_expand(max, 1, &f, &n, &err) == 0 && n == RM_MAX_FRAMES);
    CHECK(f[0] == RM_FRAME_MAX - 99999 && f[RM_MAX_FRAMES - 1] == RM_FRAME_MAX);
    free(f);
}

static void test_format(void)
{
    rm_frame_range_t r[] = {{1, 250, 1}, {5, 5, 3}, {10, 20, 2}};
    char buf[64];
    char tiny[8];
    rm_frames_format(r, 3, buf, sizeof buf);
    CHECK(strcmp(buf, "1-250,5,10-20:2") == 0);
    rm_frames_format(r, 3, tiny, sizeof tiny);
    CHECK(strlen(tiny) == 7 && strncmp(tiny, "1-250,5", 7) == 0);
    rm_frames_format(r, 0, buf, sizeof buf);
    CHECK(buf[0] == '\0');
    rm_frames_format(r, 3, buf, 0); /* must not write */
    rm_frames_format(r, 3, tiny, 1);
    CHECK(tiny[0] == '\0');
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_parse);
    RM_RUN(test_refused);
    RM_RUN(test_many_parts);
    RM_RUN(test_validate);
    RM_RUN(test_expand);
    RM_RUN(test_format);
    RM_TEST_DONE();
}
