/*  rm_store: content-addressed chunk store on disk.

    A chunk is at most RM_MAX_CHUNK_SIZE bytes named by its SHA-256 hash
    (rm_hash).  ROOT/FORMAT says so ("sha256"); a store without it that
    holds chunks was named by BLAKE2b (protocol 1) and is refused at open,
    naming what to do.  A chunk written and synced on its own
    (rm_store_put) lives in ROOT/ab/abcdef...(64 hex): written to a
    temporary file in ROOT/tmp, fsync'd and renamed into place, so a crash
    or a full disk never leaves a partial chunk under a valid name.  Chunks
    written without waiting (rm_store_put_unsynced: projects and frames
    arriving) are appended to pack files in ROOT/packs (rm_packs.h).
    Reads re-verify the hash: a chunk that rotted on disk is reported
    (RM_EIO "chunk ... is corrupt") and removed. */
#ifndef RM_STORE_H
#define RM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rm_error.h"
#include "rm_hash.h"
#include "rm_msg.h"
#include "rm_packs.h"

typedef struct _rm_store_t rm_store_t;

/*  Opens (creating if needed, mode 0700) a store rooted at `root`; removes
    leftover temporary files from an earlier crash. */
rm_store_t *rm_store_new(const char *root, rm_err_t *err);
void rm_store_destroy(rm_store_t **self_p);

bool rm_store_has(rm_store_t *self, const rm_hash_t *hash);

/*  Stores data under `hash` after checking that the data hashes to it
    (RM_EPROTO "chunk ab12..: data hashes to cd34..") and that it is not
    larger than RM_MAX_CHUNK_SIZE.  Storing a chunk that exists only marks
    it as just used (rm_store_touch).
    A full disk gives RM_ENOSPC and leaves nothing behind. */
int rm_store_put(rm_store_t *self, const rm_hash_t *hash, const void *data, size_t len,
                 rm_err_t *err);

/*  rm_store_put without waiting for the disk, appended to a pack: the
    chunk is there at once, durable once rm_store_sync has returned.  Many
    chunks in a row (a project arriving) then cost a copy each and one sync
    for all.  A crash before the sync may leave records over data that
    never reached the disk: the next rm_store_new reads back every pack
    written since the first unsynced write and cuts it at the first record
    that does not hash right. */
int rm_store_put_unsynced(rm_store_t *self, const rm_hash_t *hash, const void *data, size_t len,
                          rm_err_t *err);

/*  Makes every chunk written so far durable (fsync of the packs appended
    to since the last sync); nothing to do if every write waited for the
    disk. */
int rm_store_sync(rm_store_t *self, rm_err_t *err);

/*  The collector's pass over the chunks in packs (rm_packs_sweep), which
    rm_gc makes after walking the chunk files. */
int rm_store_sweep_packs(rm_store_t *self, rm_packs_keep_fn *keep, rm_packs_stop_fn *stop,
                         void *arg, rm_packs_sweep_stats_t *stats, rm_err_t *err);

/*  Chunks written without waiting that rm_store_new found damaged (a crash
    came before their sync) and removed. */
uint64_t rm_store_removed_at_open(const rm_store_t *self);

/*  Whether the store at root holds a chunk, from its files alone (a chunk
    file or a pack record): for a store another process or store object
    writes, as tests watch a node's.  Slow: reads every pack's headers. */
bool rm_store_peek(const char *root, const rm_hash_t *hash);

/*  Hashes data, stores it, returns its hash in *hash. */
int rm_store_put_data(rm_store_t *self, const void *data, size_t len, rm_hash_t *hash,
                      rm_err_t *err);

/*  Reads a chunk into a malloc'd buffer, verifying its hash.
    RM_ENOTFOUND if absent. */
int rm_store_get(rm_store_t *self, const rm_hash_t *hash, uint8_t **data, size_t *len,
                 rm_err_t *err);

/*  Marks a chunk as just used (its modification time now), so that the
    collector's grace (rm_gc.h) starts again: for chunks a new job reuses.
    Quietly does nothing for a chunk that is not there. */
void rm_store_touch(rm_store_t *self, const rm_hash_t *hash);

/*  Bytes of the chunks this store object has written since it was opened
    (from every thread): added to a size measured by a walk, the size now. */
uint64_t rm_store_bytes_added(rm_store_t *self);

/*  The chunk's size on disk, or -1 if it is not there. */
int64_t rm_store_chunk_size(rm_store_t *self, const rm_hash_t *hash);

/*  Total bytes and number of chunks (walks the tree; for stats and tests). */
int rm_store_usage(rm_store_t *self, uint64_t *bytes, uint64_t *chunks, rm_err_t *err);

const char *rm_store_root(rm_store_t *self);

#endif
