/*  rm_frames: see rm_frames.h. */
#include "rm_frames.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  Room for a range as text ("1048574-1048574:18446744073709551615"). */
#define RANGE_TEXT 48

static void format_range(const rm_frame_range_t *r, char *buf, size_t size)
{
    if (r->first == r->last)
        snprintf(buf, size, "%" PRIu64, r->first);
    else if (r->step == 1)
        snprintf(buf, size, "%" PRIu64 "-%" PRIu64, r->first, r->last);
    else
        snprintf(buf, size, "%" PRIu64 "-%" PRIu64 ":%" PRIu64, r->first, r->last, r->step);
}

/*  Checks one range; `text` is how the user wrote it, for the message. */
static int check_range(const rm_frame_range_t *r, const char *text, rm_err_t *err)
{
    if (r->step == 0)
        return rm_err_set(err, RM_EINVAL, "step 0 in '%s'", text);
    if (r->first > r->last)
        return rm_err_set(err, RM_EINVAL,
                          "frame range '%s' is reversed (%" PRIu64 " > %" PRIu64 ")", text,
                          r->first, r->last);
    if (r->last > RM_FRAME_MAX)
        return rm_err_set(err, RM_EINVAL,
                          "frame %" PRIu64 " in '%s' is above Blender's maximum frame %d", r->last,
                          text, RM_FRAME_MAX);
    return 0;
}

static uint64_t range_frames(const rm_frame_range_t *r)
{
    return (r->last - r->first) / r->step + 1;
}

/*  Frames summed over ranges; overlaps count twice, which keeps the work of
    expanding bounded by RM_MAX_FRAMES.  Ranges must be valid: each then
    holds at most RM_FRAME_MAX + 1 frames and the sum cannot overflow. */
static uint64_t total_frames(const rm_frame_range_t *ranges, uint32_t count)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < count; i++)
        total += range_frames(&ranges[i]);
    return total;
}

int rm_frames_validate(const rm_frame_range_t *ranges, uint32_t count, rm_err_t *err)
{
    char text[RANGE_TEXT];
    if (count == 0)
        return rm_err_set(err, RM_EINVAL, "empty frame range");
    if (!ranges)
        return rm_err_set(err, RM_EINVAL, "frame ranges missing");
    for (uint32_t i = 0; i < count; i++) {
        format_range(&ranges[i], text, sizeof text);
        if (check_range(&ranges[i], text, err))
            return -1;
    }
    uint64_t total = total_frames(ranges, count);
    if (total > RM_MAX_FRAMES)
        return rm_err_set(err, RM_EINVAL, "%" PRIu64 " frames in %" PRIu32 " ranges, max %d", total,
                          count, RM_MAX_FRAMES);
    return 0;
}

/*  Reads digits at *p; caps the value above RM_FRAME_MAX so it cannot
    overflow and check_range reports it. */
static int parse_number(const char **p, const char *end, uint64_t *v)
{
    const char *s = *p;
    *v = 0;
    while (s < end && isdigit((unsigned char)*s)) {
        if (*v <= RM_FRAME_MAX)
            *v = *v * 10 + (uint64_t)(*s - '0');
        s++;
    }
    if (s == *p)
        return -1;
    *p = s;
    return 0;
}

static int syntax_error(const char *part, rm_err_t *err)
{
    return rm_err_set(err, RM_EINVAL,
                      "'%s' is not a frame range (expected N, N-M or N-M:STEP, e.g. 1-250)", part);
}

/*  One part between commas, already trimmed, as a NUL-terminated copy. */
static int parse_part(const char *part, rm_frame_range_t *r, rm_err_t *err)
{
    const char *p = part;
    const char *end = part + strlen(part);
    if (*p == '-' || strstr(part, "--") || strstr(part, ":-"))
        return rm_err_set(err, RM_EINVAL, "negative frame in '%s'", part);
    if (parse_number(&p, end, &r->first))
        return syntax_error(part, err);
    r->last = r->first;
    r->step = 1;
    if (p < end && *p == '-') {
        p++;
        if (parse_number(&p, end, &r->last))
            return syntax_error(part, err);
        if (p < end && *p == ':') {
            p++;
            if (parse_number(&p, end, &r->step))
                return syntax_error(part, err);
        }
    }
    if (p != end)
        return syntax_error(part, err);
    if (r->first > RM_FRAME_MAX || r->last > RM_FRAME_MAX)
        return rm_err_set(err, RM_EINVAL, "frame in '%s' is above Blender's maximum frame %d", part,
                          RM_FRAME_MAX);
    return check_range(r, part, err);
}

/*  Copies text[from, to) without surrounding whitespace. */
static char *trimmed(const char *from, const char *to)
{
    while (from < to && isspace((unsigned char)*from))
        from++;
    while (to > from && isspace((unsigned char)to[-1]))
        to--;
    return strndup(from, (size_t)(to - from));
}

static uint32_t count_parts(const char *text)
{
    uint32_t n = 1;
    for (const char *p = text; *p; p++)
        if (*p == ',' && n <= RM_MAX_FRAMES)
            n++;
    return n;
}

/*  Parses each comma-separated part of text into ranges[]. */
static int parse_parts(const char *text, rm_frame_range_t *ranges, uint32_t n, rm_err_t *err)
{
    const char *p = text;
    for (uint32_t i = 0; i < n; i++) {
        const char *comma = strchr(p, ',');
        const char *stop = comma ? comma : p + strlen(p);
        char *part = trimmed(p, stop);
        if (!part)
            return rm_err_set(err, RM_ENOMEM, "out of memory");
        int rc = *part ? parse_part(part, &ranges[i], err)
                       : rm_err_set(err, RM_EINVAL, "empty part %" PRIu32 " in frame range '%s'",
                                    i + 1, text);
        free(part);
        if (rc)
            return -1;
        p = stop + 1;
    }
    uint64_t total = total_frames(ranges, n);
    if (total > RM_MAX_FRAMES)
        return rm_err_set(err, RM_EINVAL, "frame range '%.64s%s' has %" PRIu64 " frames, max %d",
                          text, strlen(text) > 64 ? "..." : "", total, RM_MAX_FRAMES);
    return 0;
}

int rm_frames_parse(const char *text, rm_frame_range_t **ranges, uint32_t *count, rm_err_t *err)
{
    *ranges = NULL;
    *count = 0;
    const char *s = text ? text : "";
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return rm_err_set(err, RM_EINVAL, "empty frame range");
    uint32_t n = count_parts(s);
    if (n > RM_MAX_FRAMES)
        return rm_err_set(err, RM_EINVAL, "more than %d parts in frame range", RM_MAX_FRAMES);
    rm_frame_range_t *r = calloc(n, sizeof *r);
    if (!r)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    if (parse_parts(s, r, n, err)) {
        free(r);
        return -1;
    }
    *ranges = r;
    *count = n;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int rm_frames_expand(const rm_frame_range_t *ranges, uint32_t count, uint64_t **frames,
                     uint32_t *nframes, rm_err_t *err)
{
    *frames = NULL;
    *nframes = 0;
    if (rm_frames_validate(ranges, count, err))
        return -1;
    uint64_t total = total_frames(ranges, count);
    uint64_t *f = malloc(total * sizeof *f); /* total <= RM_MAX_FRAMES, >= 1 */
    if (!f)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    size_t n = 0;
    for (uint32_t i = 0; i < count; i++)
        for (uint64_t k = 0; k < range_frames(&ranges[i]); k++) /* no v += step overflow */
            f[n++] = ranges[i].first + k * ranges[i].step;
    qsort(f, n, sizeof *f, cmp_u64);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || f[u - 1] != f[i])
            f[u++] = f[i];
    *frames = f;
    *nframes = (uint32_t)u;
    return 0;
}

void rm_frames_format(const rm_frame_range_t *ranges, uint32_t count, char *buf, size_t size)
{
    char part[RANGE_TEXT];
    size_t len = 0;
    if (!size)
        return;
    buf[0] = '\0';
    for (uint32_t i = 0; i < count && len + 1 < size; i++) {
        format_range(&ranges[i], part, sizeof part);
        int n = snprintf(buf + len, size - len, "%s%s", i ? "," : "", part);
        if (n < 0)
            break;
        len += (size_t)n < size - len ? (size_t)n : size - len - 1;
    }
}
