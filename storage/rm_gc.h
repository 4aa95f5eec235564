/*  rm_gc: chunks nothing refers to leave the store (issue 8, point 5).

    The node names its roots: the manifest of every job's project and of
    every frame's output and log it holds.  Each root and every chunk its
    manifest lists are kept; any other chunk last written or touched
    before `older_than` is deleted.  The grace covers what is on its way to
    being referred to: an upload whose SUBMIT has not come yet, a frame
    copied here before its done record (rm_store_touch renews a chunk a
    new job reuses).  Runs off the node's loop (rm_node_gc): it reads
    every root's manifest and walks the whole store.

    With a size cap (issue 9, point 6) the node also names evictable roots
    (finished jobs' projects), most recently used first: they are kept
    while the store fits under the cap, the rest evicted (LRU). */
#ifndef RM_GC_H
#define RM_GC_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_store.h"

typedef struct {
    uint64_t kept, deleted, bytes_freed, roots_missing;
    uint64_t bytes_kept; /* the store's size once collected */
    uint64_t evicted;    /* evictable roots let go to stay under the cap */
} rm_gc_stats_t;

/*  Asked now and then during the walk: true stops it (0 is returned). */
typedef bool(rm_gc_stop_fn)(void *arg);

typedef struct {
    const rm_hash_t *roots; /* kept, whatever the cap */
    size_t nroots;
    /* Kept too while the store stays under cap_bytes, the most recently
       used first: once one does not fit, it and every older one are let
       go, their chunks deleted without the grace unless a kept root shares
       them or something wrote or touched them since started_at (a new job
       on that project: rm_store_put touches a chunk it already has).
       cap_bytes 0: all kept. */
    const rm_hash_t *evictable;
    size_t nevictable;
    uint64_t cap_bytes;
    int64_t older_than; /* unreferenced chunks written before it are deleted */
    int64_t started_at; /* when the roots were listed (unix s): an evicted root's
                           chunk written or touched since is kept */
    rm_gc_stop_fn *stop;
    void *stop_arg;
} rm_gc_plan_t;

int rm_gc_collect(rm_store_t *store, const rm_gc_plan_t *plan, rm_gc_stats_t *stats, rm_err_t *err);

#endif
