/*  rm_wait: following a job until it ends (see rm_wait.h). */
#include "rm_wait.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rm_cli.h"

#define BAR_WIDTH 20

bool rm_wait_is_final(const char *state)
{
    return state && (strcmp(state, "done") == 0 || strcmp(state, "failed") == 0 ||
                     strcmp(state, "canceled") == 0);
}

void rm_wait_fmt_bar(uint64_t done, uint64_t total, double rate, double eta_s, char *buf,
                     size_t size)
{
    char bar[BAR_WIDTH + 1], eta[32] = "--:--", speed[32] = "-- fr/s";
    uint64_t filled = total ? (done >= total ? BAR_WIDTH : done * BAR_WIDTH / total) : 0;
    for (uint64_t i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    if (rate > 0) {
        snprintf(speed, sizeof speed, "%.1f fr/s", rate);
        rm_cli_fmt_clock((uint64_t)(eta_s + 0.5), eta, sizeof eta);
    }
    snprintf(buf, size, "[%s]  %" PRIu64 "/%" PRIu64 " frames  %s  ETA %s", bar, done, total, speed,
             eta);
}

void rm_wait_fmt_line(uint64_t done, uint64_t failed, uint64_t total, double rate, double eta_s,
                      char *buf, size_t size)
{
    int n = snprintf(buf, size, "%" PRIu64 "/%" PRIu64 " frames done, %" PRIu64 " failed", done,
                     total, failed);
    if (rate > 0 && n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, ", %.1f frames/s, ETA %.0f s", rate, eta_s);
}

typedef struct {
    bool quiet;
    bool tty;
    int64_t start_ms;
    uint64_t baseline; /* frames done when the wait began */
    bool have_baseline;
    uint64_t last_done, last_failed;
    bool printed;
    size_t line_len;   /* of the progress line on the terminal */
    char waiting[512]; /* the reason last said, so that it is said once */
} progress_t;

/*  Says once (on stderr) why no node can start the job, e.g. none can
    denoise: the job waits for such a node, or for --no-denoise. */
static void say_waiting(progress_t *p, const rm_job_summary_t *s)
{
    const char *why = s->waiting ? s->waiting : "";
    if (p->quiet || strncmp(why, p->waiting, sizeof p->waiting - 1) == 0)
        return;
    snprintf(p->waiting, sizeof p->waiting, "%s", why);
    if (!*why)
        return;
    if (p->tty && p->printed)
        printf("\n");
    fflush(stdout);
    char *clean = strdup(why);
    rm_cli_error("job %s waits: %s", s->job_id ? s->job_id : "", clean ? rm_cli_clean(clean) : why);
    free(clean);
}

static void show(progress_t *p, const rm_job_summary_t *s)
{
    if (!p->have_baseline) {
        p->baseline = s->frames_done;
        p->have_baseline = true;
    }
    double secs = (double)(rm_cli_mono_ms() - p->start_ms) / 1000.0;
    uint64_t gained = s->frames_done > p->baseline ? s->frames_done - p->baseline : 0;
    double rate = gained > 0 && secs > 0 ? (double)gained / secs : -1;
    uint64_t finished = s->frames_done + s->frames_failed;
    double left = s->frames_total > finished ? (double)(s->frames_total - finished) : 0;
    double eta = rate > 0 ? left / rate : 0;
    char line[256];
    if (p->quiet)
        return;
    if (p->tty) {
        rm_wait_fmt_bar(s->frames_done, s->frames_total, rate, eta, line, sizeof line);
        size_t len = strlen(line);
        printf("\r%s%*s", line, p->line_len > len ? (int)(p->line_len - len) : 0, "");
        p->line_len = len;
    } else if (!p->printed || s->frames_done != p->last_done ||
               s->frames_failed != p->last_failed) {
        rm_wait_fmt_line(s->frames_done, s->frames_failed, s->frames_total, rate, eta, line,
                         sizeof line);
        printf("%s\n", line);
    }
    fflush(stdout);
    p->printed = true;
    p->last_done = s->frames_done;
    p->last_failed = s->frames_failed;
}

int rm_wait_job(rm_client_t *client, const char *job_id, bool quiet, rm_job_summary_t *final,
                rm_err_t *err)
{
    progress_t p = {.quiet = quiet, .tty = isatty(STDOUT_FILENO), .start_ms = rm_cli_mono_ms()};
    rm_watch_t watch = {.job_id = (char *)job_id, .version = 0, .timeout_ms = RM_WAIT_WATCH_MS};
    int rc = 0;
    memset(final, 0, sizeof *final);
    for (;;) {
        rm_msg_t reply;
        int64_t sent = rm_cli_mono_ms();
        rc = rm_client_call(client, RM_MSG_WATCH, &watch, RM_MSG_WATCH_REPLY, RM_WAIT_WATCH_MS,
                            &reply, err);
        if (rc != 0)
            break;
        rm_job_summary_t *s = &reply.u.watch_reply;
        bool same = s->version == watch.version;
        watch.version = s->version;
        say_waiting(&p, s);
        show(&p, s);
        if (rm_wait_is_final(s->state)) {
            *final = *s; /* take the strings over */
            memset(s, 0, sizeof *s);
            rm_msg_free(&reply);
            break;
        }
        rm_msg_free(&reply);
        if (same && rm_cli_mono_ms() - sent < 100) /* a node that answers at once anyway */
            nanosleep(&(struct timespec){0, 500 * 1000 * 1000}, NULL);
    }
    if (p.tty && p.printed) {
        printf("\n");
        fflush(stdout);
    }
    return rc;
}
