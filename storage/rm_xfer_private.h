/*  rm_xfer's insides, shared by its three files: rm_xfer.c (fetches and
    the chunks they want), rm_xfer_pick.c (which chunk to ask of which
    source, requests and their answers) and rm_xfer_map.c (chunk maps:
    asking peers what they hold, answering them).

    A fetch waits for wants; a want is one chunk that one or more fetches
    need, kept in a chained hash table so a chunk is asked for once.  A
    want is queued, or has requests in flight (one, or two in the
    endgame), each in one of RM_XFER_WINDOW slots where its answer finds
    it by req id and address.  A want that ends (stored, or no fetch needs
    it) detaches its requests: their slots stay until the answer or the
    timeout, so the window stays honest.  Addresses are interned in
    `addrs`; a want holds their indexes (src), a bitmask of the sources
    that failed it, and what the chunk maps of the first 64 addresses say
    (mapped, has).

    Fetches that end move to a done list whose callbacks run at the end of
    each public call, when no loop over our tables is in progress. */
#ifndef RM_XFER_PRIVATE_H
#define RM_XFER_PRIVATE_H

#include "rm_rate.h"
#include "rm_reqid.h"
#include "rm_xfer.h"

/*  A manifest chunk lists fewer than 32 Ki hashes: chains stay short. */
#define XFER_BUCKETS 4096
/*  What a request is counted at before its answer says (FastCDC's chunks
    average 64 KiB): the window does not burst past the download limit. */
#define XFER_RATE_GUESS (64 * 1024)
/*  How often a fetching node asks its sources for their chunk maps. */
#define XFER_MAP_INTERVAL_MS 500
/*  Requests in flight for one chunk once every chunk left is asked for. */
#define XFER_ENDGAME_COPIES 2
/*  Addresses whose chunk maps a want records (bits of a uint64_t);
    sources interned later are asked as if they had sent no map. */
#define XFER_MAPPED_ADDRS 64
/*  Manifests known to be held whole here, for chunk maps without a scan. */
#define XFER_WHOLE_CACHE 16

typedef struct {
    rm_xfer_done_fn *fn;
    void *arg;
} waiter_t;

typedef struct fetch {
    struct fetch *next; /* active list, then done list */
    rm_hash_t hash;
    bool tree;
    bool expanded; /* tree: manifest loaded and its chunks wanted */
    bool ended;
    uint32_t pending; /* wants not stored yet */
    uint32_t src[RM_XFER_MAX_SOURCES];
    uint32_t nsrc;
    rm_hash_t *chunks; /* expanded: the manifest's distinct chunks, map bit order */
    uint32_t nchunks;
    int64_t next_map; /* when to ask the sources for chunk maps again */
    waiter_t *waiters;
    size_t nwaiters;
    rm_err_t result;
} fetch_t;

typedef struct want {
    struct want *hnext;         /* table chain */
    struct want *qprev, *qnext; /* send queue */
    bool queued;
    uint32_t nreqs; /* requests in flight for it */
    rm_hash_t hash;
    fetch_t **users;
    uint32_t nusers, capusers;
    uint32_t *src; /* interned addresses, at most RM_XFER_MAX_SOURCES */
    uint32_t nsrc;
    uint64_t failed;     /* bit i: src[i] failed this chunk */
    uint64_t notfound;   /* bit i: ... by saying it lacks it (a later map may lift that) */
    uint64_t mapped;     /* bit a: address a sent a chunk map listing this chunk */
    uint64_t has;        /* bit a: ... and that map says a holds it */
    uint64_t coming;     /* bit a: ... or that a awaits it from a peer */
    int64_t stuck_since; /* queued, and every source left lacks it; 0: not */
    bool all_notfound;   /* every failure so far was ENOTFOUND or silence */
    uint64_t silent;     /* bit i: src[i] failed it by timing out or being unreachable */
    rm_code_t last_code;
    char *last; /* why the last source failed */
} want_t;

typedef struct {
    want_t *want;  /* NULL once the want ended: the answer is dropped */
    uint32_t addr; /* interned */
    uint64_t req;
    bool armed;   /* deadline set (at the first tick after sending) */
    bool charged; /* XFER_RATE_GUESS taken from the download limit */
    int64_t deadline;
} request_t;

typedef struct {
    uint64_t req;
    uint32_t addr;
    rm_hash_t manifest;
    int64_t deadline;
} map_request_t;

typedef struct {
    char *name;
    bool stalled;      /* timed out, no answer since: asked only what no one else can give */
    uint32_t inflight; /* requests to it in flight */
    uint64_t idle_gen; /* queue_gen when the queue held nothing to ask of it */
} addr_t;

typedef struct {
    rm_hash_t manifest;
    uint32_t nchunks;
} whole_t;

struct _rm_xfer_t {
    rm_store_t *store;
    rm_xfer_send_fn *send;
    void *send_arg;
    want_t *buckets[XFER_BUCKETS];
    size_t nwants;
    want_t *qhead, *qtail;
    uint64_t queue_gen; /* changes when a queued want may have become askable */
    request_t inflight[RM_XFER_WINDOW];
    size_t ninflight;
    map_request_t *maps;
    size_t nmaps, capmaps;
    whole_t whole[XFER_WHOLE_CACHE];
    size_t nwhole, whole_next;
    int64_t next_check; /* stuck wants are looked for then */
    fetch_t *active;
    size_t nactive;
    fetch_t *done, *done_tail;
    addr_t *addrs;
    uint32_t naddrs, capaddrs;
    uint32_t rr; /* address the next round of requests starts at */
    rm_reqid_t ids;
    uint64_t bytes, chunks;
    rm_rate_t down; /* the download limit (rm_xfer_set_download_limit) */
    int64_t now;    /* the last tick's clock */
};

/*  rm_xfer.c */
want_t *xfer_want_find(rm_xfer_t *self, const rm_hash_t *h);
void xfer_queue_push(rm_xfer_t *self, want_t *w, bool front);
void xfer_queue_remove(rm_xfer_t *self, want_t *w);
void xfer_want_stored(rm_xfer_t *self, want_t *w);
void xfer_want_fail_users(rm_xfer_t *self, want_t *w, const rm_err_t *e);
void xfer_want_exhausted(rm_xfer_t *self, want_t *w);
fetch_t *xfer_find_fetch(rm_xfer_t *self, const rm_hash_t *hash, bool tree);
void __attribute__((format(printf, 5, 6)))
xfer_source_failed(rm_xfer_t *self, want_t *w, uint32_t i, rm_code_t code, const char *fmt, ...);

/*  rm_xfer_pick.c */
void xfer_pump(rm_xfer_t *self);
bool xfer_on_chunk_reply(rm_xfer_t *self, const char *from, const rm_msg_t *msg);
void xfer_expire(rm_xfer_t *self, int64_t now);
void xfer_detach(rm_xfer_t *self, want_t *w);
int xfer_src_index(const want_t *w, uint32_t addr);
bool xfer_askable(const rm_xfer_t *self, const want_t *w, uint32_t addr, bool stalled_too);
void xfer_settle(rm_xfer_t *self, request_t *r, uint64_t bytes);

/*  rm_xfer_map.c */
void xfer_maps_tick(rm_xfer_t *self);
int64_t xfer_maps_wakeup(rm_xfer_t *self, int64_t now);
bool xfer_on_map_reply(rm_xfer_t *self, const char *from, const rm_msg_t *msg);
void xfer_whole_add(rm_xfer_t *self, const rm_hash_t *manifest, uint32_t nchunks);

#endif
