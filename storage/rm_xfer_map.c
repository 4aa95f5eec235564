/*  rm_xfer: chunk maps (see rm_xfer.h and rm_xfer_private.h).

    While a project is fetched from several sources, each is asked every
    XFER_MAP_INTERVAL_MS which of the project's chunks it holds
    (CHUNK_MAP); the answer sets, for each chunk still wanted, whether that
    source has it, which is what rarest-first counts and what keeps a
    source from being asked for chunks it lacks.  A source that sends no
    map (an older node, a client) is asked as before: anything, ENOTFOUND
    moving on.  A queued chunk that every source left says it lacks (or
    that only a source gone silent holds) waits for one to get it,
    RM_XFER_TIMEOUT_MS at most: then nobody has it.

    This node answers maps from its own fetch of the project when there is
    one (a chunk still wanted is not held), else from the store; manifests
    found whole are remembered (XFER_WHOLE_CACHE) so the seed of a big
    project does not look up thousands of chunks twice a second. */
#include "rm_xfer_private.h"

#include <stdlib.h>
#include <string.h>

#include "rm_manifest.h"

static bool polled(const fetch_t *f)
{
    return f->tree && f->expanded && f->pending > 0 && f->nsrc >= 2;
}

static bool map_out(const rm_xfer_t *self, uint32_t a, const rm_hash_t *manifest)
{
    for (size_t k = 0; k < self->nmaps; k++)
        if (self->maps[k].addr == a && memcmp(self->maps[k].manifest.b, manifest->b, 32) == 0)
            return true;
    return false;
}

/*  Asks f's sources (the first XFER_MAPPED_ADDRS addresses) for their maps,
    except those whose last answer is still awaited. */
static void ask_maps(rm_xfer_t *self, fetch_t *f)
{
    for (uint32_t s = 0; s < f->nsrc; s++) {
        uint32_t a = f->src[s];
        if (a >= XFER_MAPPED_ADDRS || map_out(self, a, &f->hash))
            continue;
        if (self->nmaps == self->capmaps) {
            size_t cap = self->capmaps ? self->capmaps * 2 : 16;
            map_request_t *grown = realloc(self->maps, cap * sizeof *grown);
            if (!grown)
                return; /* asked again next time */
            self->maps = grown;
            self->capmaps = cap;
        }
        rm_chunk_ref_t ref = {f->hash};
        uint64_t req = rm_reqid_next(&self->ids);
        uint8_t *buf = NULL;
        size_t len = 0;
        if (rm_msg_encode(RM_MSG_CHUNK_MAP, req, &ref, &buf, &len, NULL) != 0)
            return;
        int rc = self->send(self->send_arg, self->addrs[a].name, buf, len);
        free(buf);
        if (rc == 0)
            self->maps[self->nmaps++] =
                (map_request_t){req, a, f->hash, self->now + RM_XFER_TIMEOUT_MS};
    }
}

/*  Whether any source that answers and has not failed w may hold it (its
    map lists it, or it sent none).  A stalled source does not count: it
    has not answered anything for RM_XFER_TIMEOUT_MS. */
static bool someone_may_have(const rm_xfer_t *self, const want_t *w)
{
    for (uint32_t i = 0; i < w->nsrc; i++)
        if (xfer_askable(self, w, w->src[i], false))
            return true;
    return false;
}

/*  Queued chunks that every source left lacks (or has gone silent): after
    RM_XFER_TIMEOUT_MS of that, nobody has them and their fetches end. */
static void end_stuck(rm_xfer_t *self)
{
    for (want_t *w = self->qhead; w;) {
        if (someone_may_have(self, w)) {
            w->stuck_since = 0;
        } else if (!w->stuck_since) {
            w->stuck_since = self->now ? self->now : 1;
        } else if (self->now - w->stuck_since >= RM_XFER_TIMEOUT_MS) {
            xfer_want_exhausted(self, w); /* may drop other wants: look again */
            w = self->qhead;
            continue;
        }
        w = w->qnext;
    }
}

void xfer_maps_tick(rm_xfer_t *self)
{
    for (size_t k = 0; k < self->nmaps;) {
        if (self->maps[k].deadline <= self->now)
            self->maps[k] = self->maps[--self->nmaps];
        else
            k++;
    }
    bool any = false;
    for (fetch_t *f = self->active; f; f = f->next) {
        if (!polled(f))
            continue;
        any = true;
        if (self->now >= f->next_map) {
            f->next_map = self->now + XFER_MAP_INTERVAL_MS;
            ask_maps(self, f);
        }
    }
    if (any && self->now >= self->next_check) {
        self->next_check = self->now + XFER_MAP_INTERVAL_MS;
        end_stuck(self);
    }
}

int64_t xfer_maps_wakeup(rm_xfer_t *self, int64_t now)
{
    int64_t at = INT64_MAX;
    for (fetch_t *f = self->active; f; f = f->next)
        if (polled(f)) {
            at = f->next_map < at ? f->next_map : at;
            at = self->next_check < at ? self->next_check : at;
        }
    return at == INT64_MAX ? RM_XFER_IDLE : at > now ? at - now : 0;
}

static bool bit_of(const rm_bin_t *bits, uint32_t i)
{
    return i / 8 < bits->len && (bits->data[i / 8] >> (i % 8) & 1);
}

/*  Source a's map of fetch f: what it holds of the chunks still wanted,
    and what it will soon hold. */
static void apply_map(rm_xfer_t *self, fetch_t *f, uint32_t a, const rm_chunk_map_reply_t *map)
{
    uint64_t bit = (uint64_t)1 << a;
    bool changed = false;
    for (uint32_t i = 0; i < f->nchunks; i++) {
        want_t *w = xfer_want_find(self, &f->chunks[i]);
        if (!w)
            continue;
        bool has = bit_of(&map->held, i);
        w->coming = bit_of(&map->coming, i) ? w->coming | bit : w->coming & ~bit;
        uint64_t before = w->has & bit;
        changed |= !(w->mapped & bit);
        w->mapped |= bit;
        w->has = has ? w->has | bit : w->has & ~bit;
        changed |= (w->has & bit) != before;
        int s = has ? xfer_src_index(w, a) : -1;
        if (s >= 0 && (w->notfound >> s & 1)) { /* it lacked it when asked; it has it now */
            w->failed &= ~((uint64_t)1 << s);
            w->notfound &= ~((uint64_t)1 << s);
            changed = true;
        }
    }
    if (changed)
        self->queue_gen++;
}

bool xfer_on_map_reply(rm_xfer_t *self, const char *from, const rm_msg_t *msg)
{
    size_t k = 0;
    while (k < self->nmaps && (self->maps[k].req != msg->req ||
                               strcmp(self->addrs[self->maps[k].addr].name, from) != 0))
        k++;
    if (k == self->nmaps)
        return false;
    map_request_t asked = self->maps[k];
    self->maps[k] = self->maps[--self->nmaps];
    /* It answers: no longer taken for dead (a chunk request that timed out
       left it asked only what no other source can give).  Its chunk
       requests keep their clocks: maps are not held back by its upload. */
    if (self->addrs[asked.addr].stalled) {
        self->addrs[asked.addr].stalled = false;
        self->queue_gen++;
    }
    /* An ERROR (the manifest is not there yet, or an older node that does
       not know CHUNK_MAP): it stays a source asked without a map. */
    fetch_t *f = xfer_find_fetch(self, &asked.manifest, true);
    if (msg->type == RM_MSG_CHUNK_MAP_REPLY && f && f->expanded)
        apply_map(self, f, asked.addr, &msg->u.chunk_map_reply);
    return true;
}

/*  --- Answering ----------------------------------------------------------------- */

void xfer_whole_add(rm_xfer_t *self, const rm_hash_t *manifest, uint32_t nchunks)
{
    for (size_t i = 0; i < self->nwhole; i++)
        if (memcmp(self->whole[i].manifest.b, manifest->b, 32) == 0) {
            self->whole[i].nchunks = nchunks;
            return;
        }
    size_t at = self->nwhole < XFER_WHOLE_CACHE ? self->nwhole++ : self->whole_next;
    self->whole_next = (at + 1) % XFER_WHOLE_CACHE;
    self->whole[at] = (whole_t){*manifest, nchunks};
}

static int bits_new(rm_bin_t *held, uint32_t nchunks, rm_err_t *err)
{
    held->len = (nchunks + 7) / 8;
    held->data = calloc(held->len ? held->len : 1, 1);
    if (!held->data) {
        held->len = 0;
        return rm_err_set(err, RM_ENOMEM, "out of memory answering a chunk map");
    }
    return 0;
}

static void bit_set(rm_bin_t *held, uint32_t i)
{
    held->data[i / 8] |= (uint8_t)(1u << (i % 8));
}

int rm_xfer_chunk_map(rm_xfer_t *self, const rm_hash_t *manifest, rm_chunk_map_reply_t *map,
                      rm_err_t *err)
{
    rm_bin_t *held = &map->held;
    memset(map, 0, sizeof *map);
    if (!rm_store_has(self->store, manifest)) { /* it may hold some chunks, but cannot say which */
        char hex[65];
        rm_hash_hex(manifest, hex);
        return rm_err_set(err, RM_ENOTFOUND, "manifest %.16s is not here", hex);
    }
    fetch_t *f = xfer_find_fetch(self, manifest, true);
    if (f && f->expanded) { /* being fetched: what is not wanted any more is here */
        if (bits_new(held, f->nchunks, err) != 0 || bits_new(&map->coming, f->nchunks, err) != 0) {
            free(held->data);
            memset(map, 0, sizeof *map);
            return -1;
        }
        for (uint32_t i = 0; i < f->nchunks; i++) {
            const want_t *w = xfer_want_find(self, &f->chunks[i]);
            if (!w)
                bit_set(held, i);
            else if (w->nreqs > 0)
                bit_set(&map->coming, i);
        }
        return 0;
    }
    for (size_t i = 0; i < self->nwhole; i++)
        if (memcmp(self->whole[i].manifest.b, manifest->b, 32) == 0) {
            if (bits_new(held, self->whole[i].nchunks, err) != 0)
                return -1;
            memset(held->data, 0xff, held->len);
            if (self->whole[i].nchunks % 8)
                held->data[held->len - 1] = (uint8_t)((1u << (self->whole[i].nchunks % 8)) - 1);
            return 0;
        }
    rm_manifest_t m;
    rm_hash_t *chunks = NULL;
    uint32_t n = 0;
    if (rm_manifest_load(self->store, manifest, &m, err) != 0)
        return -1;
    int rc = rm_manifest_chunks(&m, &chunks, &n, err);
    rm_manifest_free(&m);
    if (rc == 0 && (rc = bits_new(held, n, err)) == 0) {
        uint32_t count = 0;
        for (uint32_t i = 0; i < n; i++)
            if (rm_store_has(self->store, &chunks[i])) {
                bit_set(held, i);
                count++;
            }
        if (count == n)
            xfer_whole_add(self, manifest, n);
    }
    free(chunks);
    return rc;
}
