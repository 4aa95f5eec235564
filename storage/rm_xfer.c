/*  rm_xfer: fetching chunks from other nodes (see rm_xfer.h): fetches,
    the chunks they want, and the public calls.  How the parts fit:
    rm_xfer_private.h. */
#include "rm_xfer_private.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_manifest.h"

/*  --- Wants: table, queue ------------------------------------------------------ */

static size_t bucket_of(const rm_hash_t *h)
{
    uint64_t v;
    memcpy(&v, h->b, sizeof v); /* already uniform: it is a SHA-256 output */
    return (size_t)(v % XFER_BUCKETS);
}

want_t *xfer_want_find(rm_xfer_t *self, const rm_hash_t *h)
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

void xfer_queue_push(rm_xfer_t *self, want_t *w, bool front)
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
    self->queue_gen++;
}

void xfer_queue_remove(rm_xfer_t *self, want_t *w)
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

static void want_free(want_t *w)
{
    free(w->users);
    free(w->src);
    free(w->last);
    free(w);
}

/*  Drops a want: out of the table and queue, its requests detached. */
static void want_forget(rm_xfer_t *self, want_t *w)
{
    table_remove(self, w);
    xfer_queue_remove(self, w);
    xfer_detach(self, w);
    want_free(w);
}

/*  Adds the sources a want lacks; 0, or -1 out of memory. */
static int want_add_sources(rm_xfer_t *self, want_t *w, const uint32_t *src, uint32_t n)
{
    uint32_t cap = w->nsrc + n < RM_XFER_MAX_SOURCES ? w->nsrc + n : RM_XFER_MAX_SOURCES;
    if (cap <= w->nsrc)
        return 0;
    uint32_t *grown = realloc(w->src, cap * sizeof *grown);
    if (!grown)
        return -1;
    w->src = grown;
    uint32_t before = w->nsrc;
    for (uint32_t i = 0; i < n && w->nsrc < RM_XFER_MAX_SOURCES; i++)
        if (xfer_src_index(w, src[i]) < 0)
            w->src[w->nsrc++] = src[i];
    if (w->nsrc > before && w->queued)
        self->queue_gen++; /* a new source may be asked it */
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
void xfer_source_failed(rm_xfer_t *self, want_t *w, uint32_t i, rm_code_t code, const char *fmt,
                        ...)
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
    if (code == RM_ETIMEOUT || code == RM_EUNREACH)
        w->silent |= (uint64_t)1 << i;
    else if (code != RM_ENOTFOUND)
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
    self->addrs[self->naddrs] = (addr_t){.name = copy};
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
    if (!e && f->expanded)
        xfer_whole_add(self, &f->hash, f->nchunks);
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
    for (size_t b = 0; b < XFER_BUCKETS; b++) {
        for (want_t *w = self->buckets[b], *next; w; w = next) {
            next = w->hnext;
            for (uint32_t i = 0; i < w->nusers; i++)
                if (w->users[i] == f) {
                    w->users[i] = w->users[--w->nusers];
                    break;
                }
            if (w->nusers == 0)
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

/*  Ends every fetch that needs w with e. */
void xfer_want_fail_users(rm_xfer_t *self, want_t *w, const rm_err_t *e)
{
    table_remove(self, w);
    xfer_queue_remove(self, w);
    xfer_detach(self, w);
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

/*  No source can give w. */
void xfer_want_exhausted(rm_xfer_t *self, want_t *w)
{
    char hex[65];
    rm_err_t e;
    rm_hash_hex(&w->hash, hex);
    /* Not found when every source that answered said so: the silent ones
       are most likely dead (a waiting client fetch waits for a re-render
       on ENOTFOUND, and gives up on the others). */
    int silent = __builtin_popcountll(w->silent);
    if (w->all_notfound && silent == 0)
        rm_err_set(&e, RM_ENOTFOUND, "chunk %s: no source has it (asked %u)", hex, w->nsrc);
    else if (w->all_notfound && (uint32_t)silent < w->nsrc)
        rm_err_set(&e, RM_ENOTFOUND,
                   "chunk %s: no source has it (asked %u; %d did not answer, last: %s)", hex,
                   w->nsrc, silent, w->last ? w->last : "?");
    else
        rm_err_set(&e, w->last_code, "chunk %s: no source could send it (asked %u; last: %s)", hex,
                   w->nsrc, w->last ? w->last : "?");
    xfer_want_fail_users(self, w, &e);
}

/*  Makes fetch f wait for chunk h, asking f's sources. */
static int need_chunk(rm_xfer_t *self, fetch_t *f, const rm_hash_t *h, rm_err_t *err)
{
    want_t *w = xfer_want_find(self, h);
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w)
            return rm_err_set(err, RM_ENOMEM, "out of memory fetching chunks");
        w->hash = *h;
        w->all_notfound = true;
        size_t b = bucket_of(h);
        w->hnext = self->buckets[b];
        self->buckets[b] = w;
        self->nwants++;
        xfer_queue_push(self, w, false);
    }
    int added = want_add_sources(self, w, f->src, f->nsrc) == 0 ? want_add_user(w, f) : -1;
    if (added < 0) {
        if (w->nusers == 0)
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
    int rc = rm_manifest_chunks(&m, &f->chunks, &f->nchunks, &e);
    rm_manifest_free(&m);
    if (rc != 0) {
        fetch_end(self, f, &e);
        return -1;
    }
    /* Missing ones queued in random order: the first picks of nodes that
       fetch one project together differ, so they soon have chunks to give
       each other (rarest first takes over once chunk maps say who holds
       what). */
    rm_hash_t *missing = malloc((f->nchunks ? f->nchunks : 1) * sizeof *missing);
    uint32_t n = 0;
    for (uint32_t i = 0; missing && i < f->nchunks; i++)
        if (!rm_store_has(self->store, &f->chunks[i]))
            missing[n++] = f->chunks[i];
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = randombytes_uniform(i);
        rm_hash_t t = missing[i - 1];
        missing[i - 1] = missing[j];
        missing[j] = t;
    }
    if (!missing)
        rc = rm_err_set(&e, RM_ENOMEM, "out of memory fetching chunks");
    for (uint32_t i = 0; i < n && rc == 0; i++)
        rc = need_chunk(self, f, &missing[i], &e);
    free(missing);
    f->next_map = self->now; /* ask for maps at the next tick */
    if (rc != 0)
        fetch_end(self, f, &e);
    return rc;
}

/*  Chunk w is stored: its fetches move on. */
void xfer_want_stored(rm_xfer_t *self, want_t *w)
{
    table_remove(self, w);
    xfer_queue_remove(self, w);
    xfer_detach(self, w);
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

static void fetch_free(fetch_t *f)
{
    free(f->waiters);
    free(f->chunks);
    free(f);
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
        fetch_free(f);
    }
    /* Idle: forget the addresses (routing ids come and go), stalled or not. */
    if (!self->active && !self->nwants && !self->done && !self->ninflight && !self->nmaps) {
        for (uint32_t i = 0; i < self->naddrs; i++)
            free(self->addrs[i].name);
        self->naddrs = 0;
        self->rr = 0;
    }
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
        fetch_free(f);
        f = next;
    }
}

void rm_xfer_destroy(rm_xfer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_xfer_t *self = *self_p;
    for (size_t b = 0; b < XFER_BUCKETS; b++)
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
    free(self->maps);
    free(self);
    *self_p = NULL;
}

fetch_t *xfer_find_fetch(rm_xfer_t *self, const rm_hash_t *hash, bool tree)
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
    for (size_t b = 0; b < XFER_BUCKETS; b++)
        for (want_t *w = self->buckets[b]; w; w = w->hnext)
            for (uint32_t i = 0; i < w->nusers; i++)
                if (w->users[i] == f && want_add_sources(self, w, ids, n) != 0)
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
    fetch_t *f = xfer_find_fetch(self, hash, tree);
    bool fresh = !f;
    if (fresh && !(f = calloc(1, sizeof *f)))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    waiter_t *grown = realloc(f->waiters, (f->nwaiters + 1) * sizeof *grown);
    if (!grown || (!fresh && join_sources(self, f, ids, (uint32_t)nsources) != 0)) {
        if (grown)
            f->waiters = grown;
        if (fresh)
            fetch_free(f);
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
    xfer_pump(self);
    drain(self);
    return 0;
}

bool rm_xfer_on_message(rm_xfer_t *self, const char *from, const rm_msg_t *msg)
{
    if (!self || !from || !msg)
        return false;
    bool ours = false;
    if (msg->type == RM_MSG_CHUNK_DATA || msg->type == RM_MSG_ERROR)
        ours = xfer_on_chunk_reply(self, from, msg);
    if (!ours && (msg->type == RM_MSG_CHUNK_MAP_REPLY || msg->type == RM_MSG_ERROR))
        ours = xfer_on_map_reply(self, from, msg);
    if (!ours)
        return false;
    xfer_pump(self);
    drain(self);
    return true;
}

void rm_xfer_tick(rm_xfer_t *self, int64_t now_ms)
{
    if (!self)
        return;
    self->now = now_ms;
    xfer_expire(self, now_ms);
    xfer_maps_tick(self);
    xfer_pump(self);
    for (size_t k = 0; k < self->ninflight; k++)
        if (!self->inflight[k].armed) {
            self->inflight[k].armed = true;
            self->inflight[k].deadline = now_ms + RM_XFER_TIMEOUT_MS;
        }
    drain(self);
}

void rm_xfer_set_download_limit(rm_xfer_t *self, uint64_t bytes_per_s)
{
    rm_rate_init(&self->down, bytes_per_s, self->now);
}

int64_t rm_xfer_wakeup(rm_xfer_t *self, int64_t now_ms)
{
    if (!self)
        return RM_XFER_IDLE;
    int64_t best = xfer_maps_wakeup(self, now_ms);
    /* Requests held back by the download limit go when it allows. */
    if (self->qhead && self->ninflight < RM_XFER_WINDOW && rm_rate_limited(&self->down)) {
        int64_t wait = rm_rate_wait(&self->down, now_ms);
        if (wait < best)
            best = wait;
    }
    for (size_t k = 0; k < self->ninflight; k++) {
        const request_t *r = &self->inflight[k];
        if (!r->armed)
            return 0;
        int64_t left = r->deadline > now_ms ? r->deadline - now_ms : 0;
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
