/*  rm_job_journal: a job's record on disk.  ROOT/<id>/job.state is the
    snapshot (replaced atomically: written to job.state.tmp, fsync'd,
    renamed, the directory fsync'd); ROOT/<id>/job.journal holds the
    changes made since, each a 4-byte big-endian length and one entry
    (rm_job_record), appended before the change is acted on.

    Loading reads the snapshot and replays the journal on it; a torn or
    damaged tail (a crash mid-append) ends the replay: it had not been
    acted on.  Writing a snapshot empties the journal it includes, so a
    long journal is folded into a new snapshot (rm_job_journal_compact)
    once its entries are applied in memory, never before. */
#ifndef RM_JOB_JOURNAL_H
#define RM_JOB_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rm_job_record.h"

/*  Largest journal entry: replay stops at a longer one. */
#define RM_JOB_JOURNAL_MAX_ENTRY (1024 * 1024)

typedef struct _rm_job_journal_t rm_job_journal_t;

/*  Creates ROOT/<id> with out/ and logs/ in it (ROOT's entry fsync'd),
    opens the journal and writes rec as the snapshot: the job is durable
    when this returns.  On failure no job.state is left to be loaded at
    restart. */
rm_job_journal_t *rm_job_journal_create(const char *root, const rm_job_record_t *rec,
                                        rm_err_t *err);

/*  Reads ROOT/<id>/job.state (format 1 or 2) into rec (zeroed), opens the
    journal and applies its entries to rec; *replayed = how many. */
rm_job_journal_t *rm_job_journal_load(const char *root, const char *job_id, rm_job_record_t *rec,
                                      uint64_t *replayed, rm_err_t *err);

void rm_job_journal_destroy(rm_job_journal_t **self_p);

/*  ROOT/<id>: the job's directory. */
const char *rm_job_journal_dir(const rm_job_journal_t *self);

/*  Appends entries; with `sync`, one fdatasync makes all of them durable
    or none.  Without it they survive a crash of meshd (the kernel has
    them) but maybe not a power loss: fine for what is only worth redoing
    (assignments, releases, merges), an fsync each would be too slow.  On
    failure the journal is cut back to where it was. */
int rm_job_journal_append(rm_job_journal_t *self, const rm_job_record_entry_t *entries,
                          size_t count, bool sync, rm_err_t *err);

/*  Writes rec as the snapshot, atomically, then empties the journal. */
int rm_job_journal_snapshot(rm_job_journal_t *self, const rm_job_record_t *rec, rm_err_t *err);

/*  Writes rec as the snapshot if the journal has grown past twice its
    frames (plus 64); on failure the journal simply stays.  rec must
    include every entry appended. */
void rm_job_journal_compact(rm_job_journal_t *self, const rm_job_record_t *rec);

#endif
