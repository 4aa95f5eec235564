/*  rm_packs: chunks written without waiting for the disk, appended to pack
    files instead of one file each (issue 9: a project arrives as thousands
    of chunks, and creating a file per chunk cost ~300 us on this machine's
    ext4, a file system's inode allocation, more than all else a submission
    does; appending them costs a copy).

    A pack is ROOT/packs/<16 hex>.pack, a sequence of records: "RMP1", the
    data's length (u32, little-endian), its SHA-256 (32 bytes), the data.
    Packs are only ever appended to, up to RM_PACKS_MAX_BYTES each; the
    index (hash -> pack, offset, length) is in memory, rebuilt at open by
    reading every record's header.  Durability is the store's (rm_store.h):
    records are made durable by rm_packs_sync (an fsync of each pack
    appended to); at open, packs written since the store's unsynced mark
    are read back in full and a record that does not hash right is skipped
    (its data never reached the disk); a record cut short or not a record
    ends its pack (cut there) in any case.  A record found rotten when read
    is dropped and marked dead on disk ("RMPX"), so it is not taken again.

    A chunk is deleted by dropping it from the index; its bytes go when the
    collector (rm_packs_sweep) removes a pack that holds nothing kept, or
    copies a pack's kept records into the current pack, syncs, and removes
    the old one.  Until then (a crash, a full disk) a deleted chunk comes
    back at the next open, valid, for the next sweep.  The same hash in two
    packs (a crash during such a copy) is harmless: the first one read is
    used, the other is garbage for the next sweep.

    Threads share it: the index and appends are behind a mutex; reads of
    record data and fsyncs happen outside it. */
#ifndef RM_PACKS_H
#define RM_PACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "rm_error.h"
#include "rm_hash.h"

/*  A pack is closed for appends once it reaches this size. */
#define RM_PACKS_MAX_BYTES ((uint64_t)32 << 20)
/*  Bytes of a record's header. */
#define RM_PACKS_HEADER 40

typedef struct _rm_packs_t rm_packs_t;

/*  Opens ROOT/packs (created if needed).  Packs modified at or after
    verify_since (unix s; -1: none) are read back in full and cut at the
    first record whose data does not hash right; *damaged counts the
    records dropped at open, for whatever reason. */
rm_packs_t *rm_packs_new(const char *root, time_t verify_since, uint64_t *damaged, rm_err_t *err);
void rm_packs_destroy(rm_packs_t **self_p);

bool rm_packs_has(rm_packs_t *self, const rm_hash_t *hash);

/*  The chunk's length, or -1 if no pack holds it. */
int64_t rm_packs_size(rm_packs_t *self, const rm_hash_t *hash);

/*  Appends a chunk the caller has checked hashes to `hash` and that no
    pack holds yet (one that does is only touched).  Not durable until the
    store syncs.  A full disk gives RM_ENOSPC and leaves the pack as it
    was. */
int rm_packs_put(rm_packs_t *self, const rm_hash_t *hash, const void *data, size_t len,
                 rm_err_t *err);

/*  Reads a chunk into a malloc'd buffer, verifying its hash: RM_ENOTFOUND
    if no pack holds it; RM_EIO if its bytes rotted (it is then dropped,
    so that it is fetched again). */
int rm_packs_get(rm_packs_t *self, const rm_hash_t *hash, uint8_t **data, size_t *len,
                 rm_err_t *err);

/*  Marks a chunk as just used (the collector's grace starts again; its
    pack's modification time too, which an open takes for its records).
    False if no pack holds it. */
bool rm_packs_touch(rm_packs_t *self, const rm_hash_t *hash);

/*  Whether a pack in ROOT/packs holds a whole record of `hash`, read from
    the files alone, without an index: for a store that another object or
    process writes (tests).  Reads every record's header. */
bool rm_packs_peek(const char *root, const rm_hash_t *hash);

/*  Makes every record appended so far durable: fsyncs each pack appended
    to since the last sync, then the packs folder. */
int rm_packs_sync(rm_packs_t *self, rm_err_t *err);

/*  Bytes of the pack files and chunks they hold. */
void rm_packs_usage(rm_packs_t *self, uint64_t *bytes, uint64_t *chunks);

/*  The collector's verdict on a chunk last written or touched at used_at
    (unix s): true keeps it. */
typedef bool(rm_packs_keep_fn)(void *arg, const rm_hash_t *hash, int64_t used_at);
/*  Asked between packs: true stops the sweep (what is done stays done). */
typedef bool(rm_packs_stop_fn)(void *arg);

typedef struct {
    uint64_t kept, deleted, bytes_freed, bytes_kept;
    uint64_t packs_removed, packs_rewritten;
} rm_packs_sweep_stats_t;

/*  Drops every chunk `keep` refuses, then removes each pack that holds
    nothing kept and rewrites each that holds dropped bytes (its kept
    records appended to the current pack, synced before the old pack is
    removed).  Stats are added to. */
int rm_packs_sweep(rm_packs_t *self, rm_packs_keep_fn *keep, rm_packs_stop_fn *stop, void *arg,
                   rm_packs_sweep_stats_t *stats, rm_err_t *err);

#endif
