/*  rm_wait: following a job until it ends.

    Loops WATCH {job, version, 10 s}: the node answers at once when the
    job's version differs from the one we hold, else when it changes or
    after 10 s.  Progress goes to stdout: on a terminal one line redrawn with
    \r ("[#####.....]  12/24 frames  3.1 fr/s  ETA 0:04"), otherwise a plain
    line each time the done or failed count changes ("12/24 frames done,
    0 failed, 3.1 frames/s, ETA 4 s").  The rate counts frames done since
    the wait began over the time elapsed. */
#ifndef RM_WAIT_H
#define RM_WAIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rm_client.h"
#include "rm_msg.h"

#define RM_WAIT_WATCH_MS 10000

/*  True for done, failed and canceled. */
bool rm_wait_is_final(const char *state);

/*  Waits until the job is done, failed or canceled; *final receives its
    last summary (free with rm_codec_free (&rm_job_summary_desc, final)).
    quiet: no progress output.  Fails when the node refuses (unknown job)
    or stops answering (RM_ETIMEOUT). */
int rm_wait_job(rm_client_t *client, const char *job_id, bool quiet, rm_job_summary_t *final,
                rm_err_t *err);

/*  The progress texts, for tests: rate < 0 means unknown yet. */
void rm_wait_fmt_bar(uint64_t done, uint64_t total, double rate, double eta_s, char *buf,
                     size_t size);
void rm_wait_fmt_line(uint64_t done, uint64_t failed, uint64_t total, double rate, double eta_s,
                      char *buf, size_t size);

#endif
