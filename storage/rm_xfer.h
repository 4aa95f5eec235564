/*  rm_xfer: fetches chunks, or a manifest and every chunk it lists, from
    other nodes into this node's store.

    A project arrives from several peers at once, as a swarm: while it is
    fetched, its sources are asked twice a second which of its chunks they
    hold (CHUNK_MAP, answered by rm_xfer_chunk_map on their side), and each
    source is asked (CHUNK_GET) the rarest chunk it holds, the first picks
    at random, so nodes fetching one project together soon hold different
    chunks and serve each other while they fetch.  The window (at most
    RM_XFER_WINDOW requests in flight in all, the rest queued) is shared
    among the sources; once every chunk left is asked for, the last ones
    are asked of a second holder too (endgame).  A source that sends no
    map is asked anything.  A source that answers ENOTFOUND, sends data
    that does not hash right or cannot be sent to is skipped for that chunk
    and the next one asked (ENOTFOUND only until its map lists the chunk);
    so is one that times out: sends nothing for RM_XFER_TIMEOUT_MS after
    the request (each answer restarts the clock of its other requests, so
    a slow link that keeps delivering is not taken for a dead peer).  A
    source that timed out is asked only what no other can give until it
    answers again, so a dead peer costs one round of timeouts, not one per
    chunk.  A chunk that two fetches need is asked for once, and one that
    reaches the store by another way while it waits is not asked for at
    all.  Chunks are stored without waiting for the disk
    (rm_store_put_unsynced) and a fetch that has them all syncs the store
    before it ends: when `done` says 0, they are durable.

    rm_xfer does no I/O and reads no clock, so the node actor can drive it
    from its poll loop and a test can drive it with a fake network and a
    fake clock: it sends through a callback, is fed the replies with
    rm_xfer_on_message, and a request's timeout starts at the first
    rm_xfer_tick after it was sent (rm_xfer_wakeup answers 0 until then).

    Callbacks: `send` must not call back into rm_xfer.  `done` runs after
    rm_xfer's state is consistent, so it may start another fetch, but it must
    not destroy the rm_xfer.  A fetch that fails to start (-1) never calls
    back. */
#ifndef RM_XFER_H
#define RM_XFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rm_error.h"
#include "rm_msg.h"
#include "rm_store.h"

#define RM_XFER_WINDOW 32       /* requests in flight, all fetches together */
#define RM_XFER_TIMEOUT_MS 5000 /* per request */
#define RM_XFER_MAX_SOURCES 64  /* per fetch, and per chunk */
#define RM_XFER_MAX_ADDR 255    /* bytes of a source address */
#define RM_XFER_IDLE INT64_MAX  /* rm_xfer_wakeup with nothing in flight */

typedef struct _rm_xfer_t rm_xfer_t;

/*  Sends one encoded message to the node at addr ("tcp://..." or "rid:<hex>");
    0 sent or queued, -1 not (that source is then skipped for the chunk). */
typedef int(rm_xfer_send_fn)(void *arg, const char *addr, const uint8_t *data, size_t len);

/*  A fetch ended: status 0 = every chunk is in the store; else an rm_code_t
    with a readable error. */
typedef void(rm_xfer_done_fn)(void *arg, const rm_hash_t *hash, int status, const char *error);

rm_xfer_t *rm_xfer_new(rm_store_t *store, rm_xfer_send_fn *send, void *send_arg, rm_err_t *err);

/*  Limits what this node downloads to bytes_per_s (0: no limit): requests
    wait until the bytes already asked for (counted at 64 KiB each until
    their answer says) fit the rate.  Tests and benchmarks emulate a real
    link with it (meshd.conf download_limit_mbps). */
void rm_xfer_set_download_limit(rm_xfer_t *self, uint64_t bytes_per_s);

/*  Drops pending fetches without calling them back. */
void rm_xfer_destroy(rm_xfer_t **self_p);

/*  Fetches one chunk (tree = false) or a manifest chunk and then every chunk
    it lists that the store lacks (tree = true), asking `sources` (copied).
    When every source failed for some chunk (or, with chunk maps, lacks it)
    the fetch ends with an error naming it: RM_ENOTFOUND "chunk ab12..: no
    source has it (asked 3)" when every source that answered said so and
    at least one answered (the silent ones are counted in the message),
    else the last failure's code (RM_ETIMEOUT, RM_EPROTO, RM_EUNREACH) and
    reason.  A manifest that does not parse, or a local
    store error (RM_ENOSPC, RM_EIO), ends it at once.  If the same hash is
    already being fetched the same way (tree or not), the new sources join
    that fetch and fn is called too when it ends.  fn may be NULL.  It runs
    before this returns when the fetch ends at once: everything already in
    the store (status 0), or no source could be sent to.  -1 (err, and no
    callback) for bad arguments or no memory. */
int rm_xfer_fetch(rm_xfer_t *self, const rm_hash_t *hash, bool tree, const char *const *sources,
                  size_t nsources, rm_xfer_done_fn *fn, void *arg, rm_err_t *err);

/*  Feeds a decoded message that came from `from`.  True if it was a reply
    to one of our requests (CHUNK_DATA, CHUNK_MAP_REPLY or ERROR with a req
    id we issued and still wait for, from the address we asked); false
    otherwise, including late replies: the caller handles or drops it. */
bool rm_xfer_on_message(rm_xfer_t *self, const char *from, const rm_msg_t *msg);

/*  Expires requests, sends queued ones and starts the timeout of those sent
    (or whose source answered) since the last tick.  now_ms: monotonic ms
    (zclock_mono). */
void rm_xfer_tick(rm_xfer_t *self, int64_t now_ms);

/*  Ms until rm_xfer_tick must run: 0 when requests wait for their timeout
    to start, RM_XFER_IDLE when nothing is in flight. */
int64_t rm_xfer_wakeup(rm_xfer_t *self, int64_t now_ms);

/*  This node's answer to a CHUNK_MAP about `manifest`: bit i of map->held
    set when the i-th distinct chunk it lists (rm_manifest_chunks) is in
    the store, of map->coming when this node is fetching it from a peer
    (free with rm_codec_free).  -1 (err): RM_ENOTFOUND when the manifest is
    not here (which chunks it lists is unknown), or it does not load, or
    memory runs out. */
int rm_xfer_chunk_map(rm_xfer_t *self, const rm_hash_t *manifest, rm_chunk_map_reply_t *map,
                      rm_err_t *err);

/*  Fetches in progress (several waiters on one hash count once). */
size_t rm_xfer_active(rm_xfer_t *self);

/*  Bytes and chunks received and stored, for logs and benchmarks. */
void rm_xfer_stats(rm_xfer_t *self, uint64_t *bytes, uint64_t *chunks);

#endif
