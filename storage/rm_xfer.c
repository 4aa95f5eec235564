/*  rm_xfer: fetching chunks from other nodes (see rm_xfer.h).

    A fetch waits for wants; a want is one chunk that one or more fetches
    need, kept in a chained hash table so a chunk is asked for once.
    A want is either queued (FIFO) or in flight in one of RM_XFER_WINDOW
    places, where a reply finds it by req id and address.  Addresses are
    interned in `addrs`, so a want holds small indexes and a bitmask of the
    sources that failed it.  A want whose fetches all ended while it was in
    flight stays until its reply or timeout, so the window stays honest.

    Fetches that end move to a done list whose callbacks run at the end of
    each public call, when no loop over our tables is in progress. */
#include "rm_xfer.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_manifest.h"
#include "rm_rate.h"
#include "rm_reqid.h"

/*  A manifest chunk lists fewer than 32 Ki hashes: chains stay short. */
#define BUCKETS 1024

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
    uint32_t rr; /* round-robin: where the next new want starts */
    waiter_t *waiters;
    size_t nwaiters;
    rm_err_t result;
} fetch_t;

typedef struct want {
    struct want *hnext;         /* table chain */
    struct want *qprev, *qnext; /* send queue */
    bool queued;
    int inflight_at; /* index in inflight, -1 if not in flight */
    rm_hash_t hash;
    fetch_t **users;
    uint32_t nusers, capusers;
    uint32_t *src; /* interned addresses, at most RM_XFER_MAX_SOURCES */
    uint32_t nsrc;
    uint64_t failed; /* bit i: src[i] failed this chunk */
    uint32_t next;   /* index in src to try first */
    uint32_t asked;  /* in flight: index in src */
    uint64_t req;
    bool armed; /* deadline set (at the first tick after sending) */
    int64_t deadline;
    bool all_notfound; /* every failure so far was ENOTFOUND */
    bool charged;      /* RATE_GUESS taken from the download limit for the request out */
    rm_code_t last_code;
    char *last; /* why the last source failed */
} want_t;

typedef struct {
    char *name;
    bool stalled; /* timed out, no answer since: ask it last */
} addr_t;

struct _rm_xfer_t {
    rm_store_t *store;
    rm_xfer_send_fn *send;
    void *send_arg;
    want_t *buckets[BUCKETS];
    size_t nwants;
    want_t *qhead, *qtail;
    want_t *inflight[RM_XFER_WINDOW];
    size_t ninflight;
    fetch_t *active;
    size_t nactive;
    fetch_t *done, *done_tail;
    addr_t *addrs;
    uint32_t naddrs, capaddrs;
    rm_reqid_t ids;
    uint64_t bytes, chunks;
    rm_rate_t down; /* the download limit (rm_xfer_set_download_limit) */
    int64_t now;    /* the last tick's clock */
};

/*  What a request is counted at before its answer says (FastCDC's chunks
    average 64 KiB): the window does not burst past the limit. */
#define RATE_GUESS (64 * 1024)

/*  --- Wants: table, queue, window ------------------------------------------ */

static size_t bucket_of(const rm_hash_t *h)
{
    uint64_t v;
    memcpy(&v, h->b, sizeof v); /* already uniform: it is a BLAKE2b output */
    return (size_t)(v % BUCKETS);
}

static want_t *want_find(rm_xfer_t *self, const rm_hash_t *h)
{
    for (want_t *w = self->buckets[bucket_of(h)]; w; w = w->hnext)
        if (memcmp(w->hash.b, h->b, sizeof h->b) == 0)
            return w;
    return NULL;
}

static void table_remove(rm_xfer_t *self, want_t *w)
{
    for (want_t **p = &self->buckets[bucket_of(&w->hash)]; *p; p = &(*p)->hnext)
        if (*p == w) {
            *p = w->hnext;
            self->nwants--;
            return;
        }
}

static void queue_push(rm_xfer_t *self, want_t *w, bool front)
{
    w->queued = true;
    w->qprev = front ? NULL : self->qtail;
    w->qnext = front ? self->qhead : NULL;
    if (w->qprev)
        w->qprev->qnext = w;
    else
        self->qhead = w;
    if (w->qnext)
        w->qnext->qprev = w;
    else
        self->qtail = w;
}

static void queue_remove(rm_xfer_t *self, want_t *w)
{
    if (!w->queued)
        return;
    if (w->qprev)
        w->qprev->qnext = w->qnext;
    else
        self->qhead = w->qnext;
    if (w->qnext)
        w->qnext->qprev = w->qprev;
    else
        self->qtail = w->qprev;
    w->queued = false;
}

static void inflight_remove(rm_xfer_t *self, want_t *w)
{
    size_t k = (size_t)w->inflight_at;
    self->inflight[k] = self->inflight[--self->ninflight];
    self->inflight[k]->inflight_at = (int)k;
    w->inflight_at = -1;
}

static void want_free(want_t *w)
{
    free(w->users);
    free(w->src);
    free(w->last);
    free(w);
}

/*  Drops a want no fetch needs any more (not in flight). */
static void want_forget(rm_xfer_t *self, want_t *w)
{
    table_remove(self, w);
    queue_remove(self, w);
    want_free(w);
}

/*  Adds the sources a want lacks; 0, or -1 out of memory. */
static int want_add_sources(want_t *w, const uint32_t *src, uint32_t n)
{
    uint32_t cap = w->nsrc + n < RM_XFER_MAX_SOURCES ? w->nsrc + n : RM_XFER_MAX_SOURCES;
    if (cap <= w->nsrc)
        return 0;
    uint32_t *grown = realloc(w->src, cap * sizeof *grown);
    if (!grown)
        return -1;
    w->src = grown;
    for (uint32_t i = 0; i < n && w->nsrc < RM_XFER_MAX_SOURCES; i++) {
        uint32_t j = 0;
        while (j < w->nsrc && w->src[j] != src[i])
            j++;
        if (j == w->nsrc)
            w->src[w->nsrc++] = src[i];
    }
    return 0;
}

/*  1 added, 0 already a user, -1 out of memory. */
static int want_add_user(want_t *w, fetch_t *f)
{
    for (uint32_t i = 0; i < w->nusers; i++)
        if (w->users[i] == f)
            return 0;
    if (w->nusers == w->capusers) {
        uint32_t cap = w->capusers ? w->capusers * 2 : 2;
        fetch_t **grown = realloc(w->users, cap * sizeof *grown);
        if (!grown)
            return -1;
        w->users = grown;
        w->capusers = cap;
    }
    w->users[w->nusers++] = f;
    return 1;
}

/*  Records why src[i] failed this chunk, for the error if all of them do. */
static void __attribute__((format(printf, 5, 6)))
source_failed(rm_xfer_t *self, want_t *w, uint32_t i, rm_code_t code, const char *fmt, ...)
{
    char why[RM_ERR_MSG_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    const char *name = self->addrs[w->src[i]].name;
    size_t n = strlen(name) + strlen(why) + 3;
    free(w->last);
    w->last = malloc(n);
    if (w->last)
        snprintf(w->last, n, "%s: %s", name, why);
    w->failed |= (uint64_t)1 << i;
    w->last_code = code;
    if (code != RM_ENOTFOUND)
        w->all_notfound = false;
}

/*  --- Fetches ---------------------------------------------------------------- */

static int intern(rm_xfer_t *self, const char *name, uint32_t *id)
{
    for (uint32_t i = 0; i < self->naddrs; i++)
        if (strcmp(self->addrs[i].name, name) == 0) {
            *id = i;
            return 0;
        }
    if (self->naddrs == self->capaddrs) {
        uint32_t cap = self->capaddrs ? self->capaddrs * 2 : 8;
        addr_t *grown = realloc(self->addrs, cap * sizeof *grown);
        if (!grown)
            return -1;
        self->addrs = grown;
        self->capaddrs = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return -1;
    self->addrs[self->naddrs] = (addr_t){copy, false};
    *id = self->naddrs++;
    return 0;
}

/*  Ends a fetch: it stops needing its wants and waits in the done list
    for its callbacks.  e NULL = success. */
static void fetch_end(rm_xfer_t *self, fetch_t *f, const rm_err_t *e)
{
    /* Chunks are written without waiting for the disk: one sync when a
       fetch has them all, before its caller relies on them. */
    rm_err_t synced;
    if (!e && rm_store_sync(self->store, &synced) != 0)
        e = &synced;
    f->ended = true;
    for (fetch_t **p = &self->active; *p; p = &(*p)->next)
        if (*p == f) {
            *p = f->next;
            self->nactive--;
            break;
        }
    if (e)
        f->result = *e;
    else
        rm_err_clear(&f->result);
    for (size_t b = 0; b < BUCKETS; b++) {
        for (want_t *w = self->buckets[b], *next; w; w = next) {
            next = w->hnext;
            for (uint32_t i = 0; i < w->nusers; i++)
                if (w->users[i] == f) {
                    w->users[i] = w->users[--w->nusers];
                    break;
                }
            if (w->nusers == 0 && w->inflight_at < 0)
                want_forget(self, w);
        }
    }
    f->next = NULL;
    if (self->done_tail)
        self->done_tail->next = f;
    else
        self->done = f;
    self->done_tail = f;
}

/*  Ends every fetch that needs w with e (w is not in flight). */
static void want_fail_users(rm_xfer_t *self, want_t *w, const rm_err_t *e)
{
    table_remove(self, w);
    queue_remove(self, w);
    while (w->nusers > 0) {
        fetch_t *f = w->users[--w->nusers];
        rm_err_t fe = *e;
        if (memcmp(f->hash.b, w->hash.b, sizeof w->hash.b) != 0) {
            char hex[65];
            rm_hash_hex(&f->hash, hex);
            rm_err_prefix(&fe, "fetching manifest %s: ", hex);
        }
        fetch_end(self, f, &fe);
    }
    want_free(w);
}

/*  Every source failed w. */
static void want_exhausted(rm_xfer_t *self, want_t *w)
{
    char hex[65];
    rm_err_t e;
    rm_hash_hex(&w->hash, hex);
    if (w->all_notfound)
        rm_err_set(&e, RM_ENOTFOUND, "chunk %s: no source has it (asked %u)", hex, w->nsrc);
    else
        rm_err_set(&e, w->last_code, "chunk %s: no source could send it (asked %u; last: %s)", hex,
                   w->nsrc, w->last ? w->last : "?");
    want_fail_users(self, w, &e);
}

/*  Makes fetch f wait for chunk h, asking f's sources. */
static int need_chunk(rm_xfer_t *self, fetch_t *f, const rm_hash_t *h, rm_err_t *err)
{
    want_t *w = want_find(self, h);
    bool fresh = !w;
    if (fresh) {
        w = calloc(1, sizeof *w);
        if (!w)
            return rm_err_set(err, RM_ENOMEM, "out of memory fetching chunks");
        w->hash = *h;
        w->inflight_at = -1;
        w->all_notfound = true;
        w->next = f->nsrc ? f->rr++ % f->nsrc : 0;
        size_t b = bucket_of(h);
        w->hnext = self->buckets[b];
        self->buckets[b] = w;
        self->nwants++;
        queue_push(self, w, false);
    }
    int added = want_add_sources(w, f->src, f->nsrc) == 0 ? want_add_user(w, f) : -1;
    if (added < 0) {
        if (w->nusers == 0 && w->inflight_at < 0)
            want_forget(self, w);
        return rm_err_set(err, RM_ENOMEM, "out of memory fetching chunks");
    }
    f->pending += (uint32_t)added;
    return 0;
}

/*  The manifest of tree fetch f is in the store: wants what it lists.  On
    failure f has ended. */
static int expand(rm_xfer_t *self, fetch_t *f)
{
    rm_manifest_t m;
    rm_err_t e;
    f->expanded = true;
    if (rm_manifest_load(self->store, &f->hash, &m, &e) != 0) {
        fetch_end(self, f, &e);
        return -1;
    }
    /* No limit needed: a manifest chunk (<= RM_MAX_CHUNK_SIZE) lists fewer
       than 32 Ki hashes. */
    rm_hash_t *missing = NULL;
    uint32_t n = 0;
    int rc = rm_manifest_missing(&m, self->store, &missing, &n, UINT32_MAX, &e);
    /* In random order: nodes fetching one project at once hold different
       chunks early and serve them to each other instead of all waiting on
       the same few (without a map of who holds what, a random pick is
       what rarest-first comes to). */
    for (uint32_t i = n; rc == 0 && i > 1; i--) {
        uint32_t j = randombytes_uniform(i);
        rm_hash_t t = missing[i - 1];
        missing[i - 1] = missing[j];
        missing[j] = t;
    }
    for (uint32_t i = 0; i < n && rc == 0; i++)
        rc = need_chunk(self, f, &missing[i], &e);
    free(missing);
    rm_manifest_free(&m);
    if (rc != 0)
        fetch_end(self, f, &e);
    return rc;
}

/*  Chunk w is stored: its fetches move on. */
static void want_stored(rm_xfer_t *self, want_t *w)
{
    table_remove(self, w);
    queue_remove(self, w);
    while (w->nusers > 0) {
        fetch_t *f = w->users[--w->nusers];
        f->pending--;
        if (f->tree && !f->expanded && memcmp(f->hash.b, w->hash.b, sizeof w->hash.b) == 0 &&
            expand(self, f) != 0)
            continue;
        if (f->pending == 0)
            fetch_end(self, f, NULL);
    }
    want_free(w);
}

/*  --- Requests ---------------------------------------------------------------- */

/*  Index in w->src of the source to ask next: round-robin over those that
    have not failed this chunk, a stalled one only when no other is left. */
static int pick_source(rm_xfer_t *self, const want_t *w)
{
    int fallback = -1;
    for (uint32_t k = 0; k < w->nsrc; k++) {
        uint32_t i = (w->next + k) % w->nsrc;
        if (w->failed >> i & 1)
            continue;
        if (!self->addrs[w->src[i]].stalled)
            return (int)i;
        if (fallback < 0)
            fallback = (int)i;
    }
    return fallback;
}

/*  Sends CHUNK_GET for w to the next source that takes it; -1 when every
    source has failed. */
static int send_request(rm_xfer_t *self, want_t *w)
{
    int i;
    while ((i = pick_source(self, w)) >= 0) {
        const char *addr = self->addrs[w->src[i]].name;
        rm_chunk_ref_t ref = {w->hash};
        uint64_t req = rm_reqid_next(&self->ids);
        uint8_t *buf = NULL;
        size_t len = 0;
        rm_err_t e;
        if (rm_msg_encode(RM_MSG_CHUNK_GET, req, &ref, &buf, &len, &e) != 0) {
            source_failed(self, w, (uint32_t)i, e.code, "%s", e.msg);
            continue;
        }
        int rc = self->send(self->send_arg, addr, buf, len);
        free(buf);
        if (rc != 0) {
            source_failed(self, w, (uint32_t)i, RM_EUNREACH, "cannot send to it");
            continue;
        }
        w->asked = (uint32_t)i;
        w->next = (uint32_t)i + 1;
        w->charged = rm_rate_limited(&self->down);
        rm_rate_take(&self->down, RATE_GUESS, self->now);
        w->req = req;
        w->armed = false;
        w->inflight_at = (int)self->ninflight;
        self->inflight[self->ninflight++] = w;
        return 0;
    }
    return -1;
}

/*  Sends queued wants while the window has room.  A chunk that reached the
    store meanwhile (a client's CHUNK_PUT, another node) is not asked for. */
static void pump(rm_xfer_t *self)
{
    while (self->ninflight < RM_XFER_WINDOW && self->qhead &&
           rm_rate_wait(&self->down, self->now) == 0) {
        want_t *w = self->qhead;
        queue_remove(self, w);
        if (rm_store_has(self->store, &w->hash))
            want_stored(self, w);
        else if (send_request(self, w) != 0)
            want_exhausted(self, w);
    }
}

/*  Runs the callbacks of ended fetches.  A callback may start a fetch
    (which drains too): each fetch leaves the list before its callbacks. */
static void drain(rm_xfer_t *self)
{
    while (self->done) {
        fetch_t *f = self->done;
        self->done = f->next;
        if (!self->done)
            self->done_tail = NULL;
        for (size_t i = 0; i < f->nwaiters; i++)
            if (f->waiters[i].fn)
                f->waiters[i].fn(f->waiters[i].arg, &f->hash, (int)f->result.code, f->result.msg);
        free(f->waiters);
        free(f);
    }
    /* Idle: forget the addresses (routing ids come and go), stalled or not. */
    if (!self->active && !self->nwants && !self->done) {
        for (uint32_t i = 0; i < self->naddrs; i++)
            free(self->addrs[i].name);
        self->naddrs = 0;
    }
}

/*  Copies an error text from the network, printable ASCII only. */
static void clean_text(char *out, size_t size, const char *in)
{
    size_t n = 0;
    for (; in && in[n] && n + 1 < size; n++)
        out[n] = in[n] >= 0x20 && in[n] < 0x7f ? in[n] : '?';
    out[n] = '\0';
}

/*  A reply to w: stores the chunk, or counts the source as failed. */
/*  The download limit counts what a request really brought, not the guess. */
static void settle(rm_xfer_t *self, want_t *w, uint64_t bytes)
{
    if (w->charged)
        rm_rate_refund(&self->down, RATE_GUESS);
    w->charged = false;
    rm_rate_take(&self->down, bytes, self->now);
}

static void handle_reply(rm_xfer_t *self, want_t *w, const rm_msg_t *msg)
{
    rm_err_t e;
    char hex[65];
    settle(self, w, msg->type == RM_MSG_CHUNK_DATA ? msg->u.chunk.data.len : 0);
    if (msg->type == RM_MSG_ERROR) {
        uint64_t code = msg->u.error.code;
        char text[160];
        clean_text(text, sizeof text, msg->u.error.message);
        /* A peer's own trouble (its disk) is not ours: only ENOTFOUND passes. */
        source_failed(self, w, w->asked, code == RM_ENOTFOUND ? RM_ENOTFOUND : RM_EPROTO, "%s: %s",
                      code < 64 ? rm_code_name((rm_code_t)code) : "EUNKNOWN", text);
    } else if (memcmp(msg->u.chunk.hash.b, w->hash.b, sizeof w->hash.b) != 0) {
        rm_hash_hex(&msg->u.chunk.hash, hex);
        source_failed(self, w, w->asked, RM_EPROTO, "sent chunk %s instead", hex);
    } else if (rm_store_put_unsynced(self->store, &w->hash, msg->u.chunk.data.data,
                                     msg->u.chunk.data.len, &e) == 0) {
        self->bytes += msg->u.chunk.data.len;
        self->chunks++;
        want_stored(self, w);
        return;
    } else if (e.code == RM_EPROTO || e.code == RM_EINVAL) {
        source_failed(self, w, w->asked, RM_EPROTO, "%s", e.msg); /* bad hash or size */
    } else {
        want_fail_users(self, w, &e); /* our disk: full or broken */
        return;
    }
    queue_push(self, w, true);
}

/*  --- Public ------------------------------------------------------------------ */

rm_xfer_t *rm_xfer_new(rm_store_t *store, rm_xfer_send_fn *send, void *send_arg, rm_err_t *err)
{
    if (!store || !send) {
        rm_err_set(err, RM_EINVAL, "rm_xfer needs a store and a send function");
        return NULL;
    }
    rm_xfer_t *self = calloc(1, sizeof *self);
    if (!self) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    self->store = store;
    self->send = send;
    self->send_arg = send_arg;
    /* Far above the small counters of the node's other requests, so a reply
       to one of those is not taken for ours.  (rm_store_new initialised
       libsodium.) */
    rm_reqid_init(&self->ids, RM_REQ_XFER);
    return self;
}

static void free_fetches(fetch_t *f)
{
    while (f) {
        fetch_t *next = f->next;
        free(f->waiters);
        free(f);
        f = next;
    }
}

void rm_xfer_destroy(rm_xfer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_xfer_t *self = *self_p;
    for (size_t b = 0; b < BUCKETS; b++)
        while (self->buckets[b]) {
            want_t *w = self->buckets[b];
            self->buckets[b] = w->hnext;
            want_free(w);
        }
    free_fetches(self->active);
    free_fetches(self->done);
    for (uint32_t i = 0; i < self->naddrs; i++)
        free(self->addrs[i].name);
    free(self->addrs);
    free(self);
    *self_p = NULL;
}

static fetch_t *find_fetch(rm_xfer_t *self, const rm_hash_t *hash, bool tree)
{
    for (fetch_t *f = self->active; f; f = f->next)
        if (f->tree == tree && memcmp(f->hash.b, hash->b, sizeof hash->b) == 0)
            return f;
    return NULL;
}

/*  Adds sources (interned) to f and to the wants f waits for. */
static int join_sources(rm_xfer_t *self, fetch_t *f, const uint32_t *ids, uint32_t n)
{
    for (uint32_t i = 0; i < n && f->nsrc < RM_XFER_MAX_SOURCES; i++) {
        uint32_t j = 0;
        while (j < f->nsrc && f->src[j] != ids[i])
            j++;
        if (j == f->nsrc)
            f->src[f->nsrc++] = ids[i];
    }
    for (size_t b = 0; b < BUCKETS; b++)
        for (want_t *w = self->buckets[b]; w; w = w->hnext)
            for (uint32_t i = 0; i < w->nusers; i++)
                if (w->users[i] == f && want_add_sources(w, ids, n) != 0)
                    return -1;
    return 0;
}

int rm_xfer_fetch(rm_xfer_t *self, const rm_hash_t *hash, bool tree, const char *const *sources,
                  size_t nsources, rm_xfer_done_fn *fn, void *arg, rm_err_t *err)
{
    if (!self || !hash || (nsources > 0 && !sources))
        return rm_err_set(err, RM_EINVAL, "rm_xfer_fetch: missing argument");
    if (nsources > RM_XFER_MAX_SOURCES)
        return rm_err_set(err, RM_EINVAL, "%zu sources, at most %d", nsources, RM_XFER_MAX_SOURCES);
    uint32_t ids[RM_XFER_MAX_SOURCES];
    for (size_t i = 0; i < nsources; i++) {
        if (!sources[i] || !*sources[i] || strlen(sources[i]) > RM_XFER_MAX_ADDR)
            return rm_err_set(err, RM_EINVAL, "source %zu: empty or longer than %d bytes", i,
                              RM_XFER_MAX_ADDR);
        if (intern(self, sources[i], &ids[i]) != 0)
            return rm_err_set(err, RM_ENOMEM, "out of memory");
    }
    fetch_t *f = find_fetch(self, hash, tree);
    bool fresh = !f;
    if (fresh && !(f = calloc(1, sizeof *f)))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    waiter_t *grown = realloc(f->waiters, (f->nwaiters + 1) * sizeof *grown);
    if (!grown || (!fresh && join_sources(self, f, ids, (uint32_t)nsources) != 0)) {
        if (grown)
            f->waiters = grown;
        if (fresh)
            free(f);
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    }
    f->waiters = grown;
    f->waiters[f->nwaiters++] = (waiter_t){fn, arg};
    if (!fresh)
        return 0;

    f->hash = *hash;
    f->tree = tree;
    join_sources(self, f, ids, (uint32_t)nsources); /* no wants yet: cannot fail */
    f->next = self->active;
    self->active = f;
    self->nactive++;
    rm_err_t e;
    int rc = 0;
    if (!rm_store_has(self->store, hash))
        rc = need_chunk(self, f, hash, &e);
    else if (tree)
        rc = expand(self, f);
    if (rc != 0 && !f->ended)
        fetch_end(self, f, &e);
    else if (!f->ended && f->pending == 0)
        fetch_end(self, f, NULL);
    pump(self);
    drain(self);
    return 0;
}

bool rm_xfer_on_message(rm_xfer_t *self, const char *from, const rm_msg_t *msg)
{
    if (!self || !from || !msg || (msg->type != RM_MSG_CHUNK_DATA && msg->type != RM_MSG_ERROR))
        return false;
    want_t *w = NULL;
    for (size_t k = 0; k < self->ninflight && !w; k++) {
        want_t *c = self->inflight[k];
        if (c->req == msg->req && strcmp(self->addrs[c->src[c->asked]].name, from) == 0)
            w = c;
    }
    if (!w)
        return false;
    inflight_remove(self, w);
    /* The source is alive and working through our requests: the others it
       holds start their timeout again (a slow link is not a dead peer). */
    uint32_t id = w->src[w->asked];
    self->addrs[id].stalled = false;
    for (size_t k = 0; k < self->ninflight; k++)
        if (self->inflight[k]->src[self->inflight[k]->asked] == id)
            self->inflight[k]->armed = false;
    if (w->nusers == 0)
        want_forget(self, w); /* its fetches ended meanwhile */
    else
        handle_reply(self, w, msg);
    pump(self);
    drain(self);
    return true;
}

void rm_xfer_tick(rm_xfer_t *self, int64_t now_ms)
{
    if (self)
        self->now = now_ms;
    for (size_t k = 0; self && k < self->ninflight;) {
        want_t *w = self->inflight[k];
        if (!w->armed || w->deadline > now_ms) {
            k++;
            continue;
        }
        inflight_remove(self, w); /* the last entry moves to k */
        settle(self, w, 0);
        self->addrs[w->src[w->asked]].stalled = true;
        if (w->nusers == 0) {
            want_forget(self, w);
            continue;
        }
        source_failed(self, w, w->asked, RM_ETIMEOUT, "no answer in %d ms", RM_XFER_TIMEOUT_MS);
        queue_push(self, w, true);
    }
    if (!self)
        return;
    pump(self);
    for (size_t k = 0; k < self->ninflight; k++)
        if (!self->inflight[k]->armed) {
            self->inflight[k]->armed = true;
            self->inflight[k]->deadline = now_ms + RM_XFER_TIMEOUT_MS;
        }
    drain(self);
}

void rm_xfer_set_download_limit(rm_xfer_t *self, uint64_t bytes_per_s)
{
    rm_rate_init(&self->down, bytes_per_s, self->now);
}

int64_t rm_xfer_wakeup(rm_xfer_t *self, int64_t now_ms)
{
    int64_t best = RM_XFER_IDLE;
    /* Requests held back by the download limit go when it allows. */
    if (self && self->qhead && self->ninflight < RM_XFER_WINDOW && rm_rate_limited(&self->down))
        best = rm_rate_wait(&self->down, now_ms);
    for (size_t k = 0; self && k < self->ninflight; k++) {
        const want_t *w = self->inflight[k];
        if (!w->armed)
            return 0;
        int64_t left = w->deadline > now_ms ? w->deadline - now_ms : 0;
        if (left < best)
            best = left;
    }
    return best;
}

size_t rm_xfer_active(rm_xfer_t *self)
{
    return self ? self->nactive : 0;
}

void rm_xfer_stats(rm_xfer_t *self, uint64_t *bytes, uint64_t *chunks)
{
    if (bytes)
        *bytes = self ? self->bytes : 0;
    if (chunks)
        *chunks = self ? self->chunks : 0;
}
