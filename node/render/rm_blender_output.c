/*  rm_blender_output: progress and read errors in Blender's output. */
#include "rm_blender_output.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rm_slot_msg.h"

static int percent_max(int a, int b)
{
    return a > b ? a : b;
}

int64_t rm_blender_output_clock(const char *s)
{
    int64_t total = 0;
    int parts = 0;
    while (*s >= '0' && *s <= '9' && parts < 3) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end - s > 4)
            return -1;
        total = total * 60 + v;
        parts++;
        if (*end == ':')
            s = end + 1;
        else if (*end == '.' && end[1] >= '0' && end[1] <= '9' && end[2] >= '0' && end[2] <= '9')
            return parts >= 2 ? total * 1000 + (end[1] - '0') * 100 + (end[2] - '0') * 10 : -1;
        else
            return -1;
    }
    return -1;
}

/*  "done/total" after Cycles' "| Sample " or "done / total" after EEVEE's
    "| Rendering ", as a percentage below 100; -1 if the line has neither. */
static int samples_percent(const char *line)
{
    const char *p;
    uint64_t done, total;
    char *end;
    if ((p = strstr(line, "| Sample ")) && (p += 9, rm_slot_parse_u64_prefix(p, &done, &end)) &&
        *end == '/' && rm_slot_parse_u64_prefix(end + 1, &total, &end) && total > 0 &&
        done <= total)
        return (int)(done * 99 / total);
    if ((p = strstr(line, "| Rendering ")) && (p += 12, rm_slot_parse_u64_prefix(p, &done, &end)) &&
        strncmp(end, " / ", 3) == 0 && rm_slot_parse_u64_prefix(end + 3, &total, &end) &&
        total > 0 && done <= total)
        return (int)(done * 99 / total);
    return -1;
}

void rm_blender_output_scan(rm_blender_output_progress_t *p, const char *line, int64_t now)
{
    p->percent = percent_max(p->percent, samples_percent(line));
    const char *t = strstr(line, "| Time:");
    const char *r = strstr(line, "| Remaining:");
    int64_t elapsed = t ? rm_blender_output_clock(t + 7) : -1;
    int64_t remaining = r ? rm_blender_output_clock(r + 12) : -1;
    if (elapsed >= 0 && remaining >= 0 && elapsed + remaining > 0) {
        p->eta_at = now;
        p->eta_elapsed = elapsed;
        p->eta_total = elapsed + remaining;
    }
}

int rm_blender_output_percent(rm_blender_output_progress_t *p, int64_t now)
{
    if (p->eta_total > 0) {
        int64_t est = (p->eta_elapsed + now - p->eta_at) * 99 / p->eta_total;
        p->percent = percent_max(p->percent, (int)(est > 99 ? 99 : est));
    }
    return p->percent;
}

char *rm_blender_output_read_error(const char *msg, const char *blend)
{
    char *quoted = zsys_sprintf("'%s'", blend);
    const char *at = quoted ? strstr(msg, quoted) : NULL;
    char *reason = NULL;
    if (at && strncmp(at + strlen(quoted), ": ", 2) == 0 && at[strlen(quoted) + 2]) {
        reason = strdup(at + strlen(quoted) + 2);
    } else if (at) {
        size_t n = (size_t)(at - msg);
        while (n > 0 && msg[n - 1] == ' ')
            n--;
        if (n > 8 && strncmp(msg + n - 8, " in file", 8) == 0)
            n -= 8;
        reason = strndup(msg, n);
    }
    zstr_free(&quoted);
    return reason;
}

/*  True if path is below dir. */
static bool path_below(const char *path, const char *dir)
{
    size_t len = strlen(dir);
    return path && strncmp(path, dir, len) == 0 && path[len] == '/';
}

void rm_blender_output_check(const char *file, const char *real, const char *dir,
                             const char *out_dir, char *why, size_t size)
{
    struct stat st;
    if (!real || stat(real, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
        snprintf(why, size, "Blender wrote no output file %s", file ? file : "");
    else if (!path_below(real, out_dir) || !dir ||
             !(path_below(dir, out_dir) || strcmp(dir, out_dir) == 0))
        snprintf(why, size, "Blender wrote %s, outside %s", real, out_dir);
    else if (!path_below(real, dir))
        snprintf(why, size, "the driver reported %s outside the frame's folder %s", real, dir);
    else
        why[0] = '\0';
}
