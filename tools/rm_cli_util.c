/*  rm_cli: value parsing, exit codes, messages and formatting (see rm_cli.h). */
#include "rm_cli.h"

#include <czmq.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "rm_render_opts.h"
#include "rm_text.h"

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

int rm_cli_parse_u64(const char *opt, const char *text, uint64_t min, uint64_t max, uint64_t *out,
                     rm_err_t *err)
{
    errno = 0;
    unsigned long long v = all_digits(text) ? strtoull(text, NULL, 10) : 0;
    if (!all_digits(text) || errno != 0 || v < min || v > max)
        return rm_err_set(err, RM_EINVAL,
                          "%s: '%s' is not a number between %" PRIu64 " and %" PRIu64, opt, text,
                          min, max);
    *out = (uint64_t)v;
    return 0;
}

int rm_cli_parse_i64(const char *opt, const char *text, int64_t min, int64_t max, int64_t *out,
                     rm_err_t *err)
{
    const char *digits = (*text == '-' || *text == '+') ? text + 1 : text;
    errno = 0;
    long long v = all_digits(digits) ? strtoll(text, NULL, 10) : 0;
    if (!all_digits(digits) || errno != 0 || v < min || v > max)
        return rm_err_set(err, RM_EINVAL,
                          "%s: '%s' is not a number between %" PRId64 " and %" PRId64, opt, text,
                          min, max);
    *out = (int64_t)v;
    return 0;
}

int rm_cli_parse_duration(const char *opt, const char *text, int64_t min_s, int64_t max_s,
                          int64_t *out, rm_err_t *err)
{
    static const struct {
        char unit;
        int64_t seconds;
    } units[] = {{'s', 1},     {'m', 60},        {'h', 3600},
                 {'d', 86400}, {'w', 7 * 86400}, {'y', 365 * 86400}};
    size_t len = strlen(text);
    char digits[24];
    int64_t per = 0;
    for (size_t i = 0; len > 1 && i < sizeof units / sizeof units[0]; i++)
        if (text[len - 1] == units[i].unit)
            per = units[i].seconds;
    if (per && len - 1 < sizeof digits) {
        memcpy(digits, text, len - 1);
        digits[len - 1] = '\0';
    }
    errno = 0;
    unsigned long long v =
        per && len - 1 < sizeof digits && all_digits(digits) ? strtoull(digits, NULL, 10) : 0;
    if (!per || errno != 0 || v == 0 || v > (unsigned long long)(max_s / per) ||
        (int64_t)v * per < min_s || (int64_t)v * per > max_s)
        return rm_err_set(err, RM_EINVAL,
                          "%s: '%s' is not a duration between %" PRId64 " and %" PRId64
                          " seconds (a number and a unit: 90m, 12h, 30d, 2w, 1y)",
                          opt, text, min_s, max_s);
    *out = (int64_t)v * per;
    return 0;
}

int rm_cli_parse_choice(const char *opt, const char *text, const char *const *choices,
                        const char **out, rm_err_t *err)
{
    char list[256] = "";
    for (const char *const *c = choices; *c; c++) {
        if (strcasecmp(*c, text) == 0) {
            *out = *c;
            return 0;
        }
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", c == choices ? "" : ", ", *c);
    }
    return rm_err_set(err, RM_EINVAL, "%s: '%s' is not one of %s", opt, text, list);
}

int rm_cli_parse_resolution(const char *text, uint64_t *w, uint64_t *h, rm_err_t *err)
{
    char buf[64];
    const char *x = strpbrk(text, "xX");
    if (!x || strlen(text) >= sizeof buf)
        return rm_err_set(err, RM_EINVAL, "--resolution: '%s' is not WIDTHxHEIGHT (e.g. 1920x1080)",
                          text);
    memcpy(buf, text, (size_t)(x - text));
    buf[x - text] = '\0';
    if (rm_cli_parse_u64("--resolution width", buf, RM_RENDER_MIN_RES, RM_RENDER_MAX_RES, w, err) !=
            0 ||
        rm_cli_parse_u64("--resolution height", x + 1, RM_RENDER_MIN_RES, RM_RENDER_MAX_RES, h,
                         err) != 0)
        return -1;
    return 0;
}

int rm_cli_check_job_id(const char *text, rm_err_t *err)
{
    size_t n = strlen(text);
    bool ok = n == 16;
    for (size_t i = 0; ok && i < n; i++)
        ok = isdigit((unsigned char)text[i]) || (text[i] >= 'a' && text[i] <= 'f');
    if (!ok)
        return rm_err_set(err, RM_EINVAL,
                          "'%s' is not a job id (16 lowercase hex characters; see meshctl jobs)",
                          text);
    return 0;
}

int rm_cli_exit_code(const rm_err_t *err, bool refused)
{
    if (refused)
        return RM_EXIT_FAILED;
    switch (err->code) {
    case RM_EINVAL:
    case RM_ENOTFOUND:
        return RM_EXIT_USAGE;
    case RM_EUNREACH:
    case RM_ETIMEOUT:
    case RM_EAUTH:
    case RM_EPROTO:
        return RM_EXIT_NOREACH;
    default:
        return RM_EXIT_FAILED;
    }
}

void rm_cli_error(const char *fmt, ...)
{
    /* Messages quote names and errors from the network: no escape
       sequences reach the terminal. */
    char raw[4096], safe[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "meshctl: %s\n", rm_text_escape(raw, true, safe, sizeof safe));
}

void rm_cli_fmt_bytes(uint64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = {"kB", "MB", "GB", "TB", "PB"};
    if (bytes < 1000) {
        snprintf(buf, size, "%" PRIu64 " B", bytes);
        return;
    }
    double v = (double)bytes / 1000.0;
    size_t u = 0;
    while (v >= 999.95 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1000.0;
        u++;
    }
    snprintf(buf, size, "%.1f %s", v, units[u]);
}

void rm_cli_fmt_clock(uint64_t seconds, char *buf, size_t size)
{
    uint64_t h = seconds / 3600, m = seconds / 60 % 60, s = seconds % 60;
    if (h > 0)
        snprintf(buf, size, "%" PRIu64 ":%02" PRIu64 ":%02" PRIu64, h, m, s);
    else
        snprintf(buf, size, "%" PRIu64 ":%02" PRIu64, m, s);
}

void rm_cli_fmt_age(int64_t seconds, char *buf, size_t size)
{
    if (seconds < 0)
        seconds = 0;
    if (seconds < 120)
        snprintf(buf, size, "%" PRId64 "s", seconds);
    else if (seconds < 7200)
        snprintf(buf, size, "%" PRId64 "m", seconds / 60);
    else if (seconds < 172800)
        snprintf(buf, size, "%" PRId64 "h", seconds / 3600);
    else
        snprintf(buf, size, "%" PRId64 "d", seconds / 86400);
}

void rm_cli_fmt_date(int64_t unix_s, char *buf, size_t size)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d", &tm) == 0)
        snprintf(buf, size, "?");
}

int64_t rm_cli_now_ms(void)
{
    return zclock_time();
}

int64_t rm_cli_mono_ms(void)
{
    return zclock_mono();
}

char *rm_cli_clean(char *s)
{
    for (char *p = s; p && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return s;
}

/*  --- Tables --------------------------------------------------------------- */

struct _rm_table_t {
    size_t ncols;
    size_t nrows; /* the header included */
    size_t cap;
    char **cells; /* nrows * ncols */
};

rm_table_t *rm_table_new(size_t ncols, const char *const *headers)
{
    rm_table_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ncols = ncols;
    if (rm_table_add(self, headers) != 0)
        rm_table_destroy(&self);
    return self;
}

void rm_table_destroy(rm_table_t **self_p)
{
    if (self_p && *self_p) {
        rm_table_t *self = *self_p;
        for (size_t i = 0; i < self->nrows * self->ncols; i++)
            free(self->cells[i]);
        free(self->cells);
        free(self);
        *self_p = NULL;
    }
}

int rm_table_add(rm_table_t *self, const char *const *cells)
{
    if (self->nrows == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        char **grown = realloc(self->cells, cap * self->ncols * sizeof *grown);
        if (!grown)
            return -1;
        self->cells = grown;
        self->cap = cap;
    }
    char **row = self->cells + self->nrows * self->ncols;
    for (size_t c = 0; c < self->ncols; c++)
        row[c] = NULL;
    self->nrows++; /* counted now so that destroy frees a half-copied row */
    for (size_t c = 0; c < self->ncols; c++) {
        row[c] = strdup(cells[c] && *cells[c] ? cells[c] : "-");
        if (!row[c])
            return -1;
        rm_cli_clean(row[c]);
    }
    return 0;
}

void rm_table_print(const rm_table_t *self, FILE *out)
{
    size_t width[32] = {0};
    size_t ncols = self->ncols < 32 ? self->ncols : 32;
    for (size_t r = 0; r < self->nrows; r++)
        for (size_t c = 0; c < ncols; c++) {
            size_t len = strlen(self->cells[r * self->ncols + c]);
            width[c] = len > width[c] ? len : width[c];
        }
    for (size_t r = 0; r < self->nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            const char *cell = self->cells[r * self->ncols + c];
            if (c + 1 == ncols)
                fprintf(out, "%s\n", cell);
            else
                fprintf(out, "%-*s  ", (int)width[c], cell);
        }
    }
}
