/*  rm_tombstones: the jobs removed here with `meshctl rm`, each with the
    signed removal (protocol/rm_removal.h), kept in ROOT/.tombstones for as
    long as finished jobs are retained.  A node that offers such a job
    again is answered with its removal, so a job removed while a node was
    away does not come back with it. */
#ifndef RM_TOMBSTONES_H
#define RM_TOMBSTONES_H

#include <stdint.h>

#include "rm_codec.h"

#define RM_MAX_TOMBSTONES 100000

typedef struct {
    char *job_id;
    int64_t removed_at; /* unix ms */
    rm_bin_t removal;   /* signed (rm_removal.h) */
} rm_tombstone_t;

typedef struct _rm_tombstones_t rm_tombstones_t;

/*  Loads PATH if it exists (a damaged file is an empty set, with a line
    on stderr: tombstones only save work). */
rm_tombstones_t *rm_tombstones_new(const char *path);
void rm_tombstones_destroy(rm_tombstones_t **self_p);

/*  Keeps a removal (copied) and writes the set: 1 if new, 0 if the job
    had one, -1 if the set is full or cannot be written. */
int rm_tombstones_add(rm_tombstones_t *self, const char *job_id, int64_t removed_at,
                      const rm_bin_t *removal, rm_err_t *err);

const rm_tombstone_t *rm_tombstones_find(rm_tombstones_t *self, const char *job_id);

/*  Forgets removals made before `before_ms`; the number forgotten. */
size_t rm_tombstones_expire(rm_tombstones_t *self, int64_t before_ms);

size_t rm_tombstones_count(rm_tombstones_t *self);

#endif
