/*  rm_xfer: which chunk to ask of which source, the requests, and their
    answers (see rm_xfer.h and rm_xfer_private.h).

    Requests go out in rounds over the addresses, one per address per
    round, so the window is shared among the sources instead of filled by
    whichever comes first: each address may have its share of the window
    in flight (a stalled one, one).  An address is asked the rarest queued
    chunk it can give: fewest holders by the chunk maps (a node that awaits
    a chunk counts as holding it, so the seed is not asked for a copy that
    is already on its way to a peer), the queue's random order breaking
    ties (BitTorrent's rarest first with a random first
    pick).  Once every chunk left is asked for, an address with room is
    asked again for a chunk in flight elsewhere that its map says it holds
    (the endgame: a slow or dying peer does not hold back the last chunks),
    at most XFER_ENDGAME_COPIES requests per chunk; the first answer
    stores it and the others are dropped on arrival. */
#include "rm_xfer_private.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  Rarest of how many askable chunks: the queue is in random order, so a
    sample this big is as good as a scan of a project's thousands. */
#define PICK_SAMPLE 512

int xfer_src_index(const want_t *w, uint32_t addr)
{
    for (uint32_t i = 0; i < w->nsrc; i++)
        if (w->src[i] == addr)
            return (int)i;
    return -1;
}

/*  Address a's chunk map, if it sent one listing w, says it holds w. */
static bool map_allows(const want_t *w, uint32_t a)
{
    if (a >= XFER_MAPPED_ADDRS)
        return true;
    uint64_t bit = (uint64_t)1 << a;
    return !(w->mapped & bit) || (w->has & bit);
}

bool xfer_askable(const rm_xfer_t *self, const want_t *w, uint32_t a, bool stalled_too)
{
    int i = xfer_src_index(w, a);
    return i >= 0 && !(w->failed >> i & 1) && map_allows(w, a) &&
           (stalled_too || !self->addrs[a].stalled);
}

/*  Some address other than `but`, not stalled, could be asked w. */
static bool live_source_for(const rm_xfer_t *self, const want_t *w, uint32_t but)
{
    for (uint32_t i = 0; i < w->nsrc; i++)
        if (w->src[i] != but && xfer_askable(self, w, w->src[i], false))
            return true;
    return false;
}

void xfer_detach(rm_xfer_t *self, want_t *w)
{
    for (size_t k = 0; k < self->ninflight; k++)
        if (self->inflight[k].want == w)
            self->inflight[k].want = NULL;
}

/*  The download limit counts what a request really brought, not the guess. */
void xfer_settle(rm_xfer_t *self, request_t *r, uint64_t bytes)
{
    if (r->charged)
        rm_rate_refund(&self->down, XFER_RATE_GUESS);
    r->charged = false;
    rm_rate_take(&self->down, bytes, self->now);
}

/*  w has no request in flight any more: back to the front of the queue,
    or, when every source has failed it, its fetches end (unless it reached
    the store by another way meanwhile). */
static void want_retry(rm_xfer_t *self, want_t *w)
{
    if (w->nreqs > 0 || w->queued)
        return;
    uint64_t all = w->nsrc >= 64 ? UINT64_MAX : ((uint64_t)1 << w->nsrc) - 1;
    if (rm_store_has(self->store, &w->hash))
        xfer_want_stored(self, w);
    else if ((w->failed & all) == all)
        xfer_want_exhausted(self, w);
    else
        xfer_queue_push(self, w, true);
}

/*  The rarest queued chunk address a can give (a stalled address only
    what no live one can), or NULL. */
static want_t *pick_queued(rm_xfer_t *self, uint32_t a)
{
    addr_t *ad = &self->addrs[a];
    if (ad->idle_gen == self->queue_gen)
        return NULL; /* nothing for it since the last look */
    want_t *best = NULL;
    int best_level = INT_MAX, sampled = 0;
    for (want_t *w = self->qhead; w && sampled < PICK_SAMPLE; w = w->qnext) {
        if (!xfer_askable(self, w, a, true) || (ad->stalled && live_source_for(self, w, a)))
            continue;
        sampled++;
        int level = __builtin_popcountll(w->has | w->coming);
        if (level < best_level) {
            best = w;
            best_level = level;
            if (level <= 1)
                break; /* a holds it alone, or no map says */
        }
    }
    if (!best)
        ad->idle_gen = self->queue_gen;
    return best;
}

/*  Endgame: a chunk in flight elsewhere that a's map says it holds. */
static want_t *pick_endgame(rm_xfer_t *self, uint32_t a)
{
    if (self->qhead || a >= XFER_MAPPED_ADDRS || self->addrs[a].stalled)
        return NULL;
    for (size_t k = 0; k < self->ninflight; k++) {
        want_t *w = self->inflight[k].want;
        if (!w || w->nreqs >= XFER_ENDGAME_COPIES || !(w->has >> a & 1) ||
            !xfer_askable(self, w, a, false))
            continue;
        size_t j = 0;
        while (j < self->ninflight && !(self->inflight[j].want == w && self->inflight[j].addr == a))
            j++;
        if (j == self->ninflight)
            return w;
    }
    return NULL;
}

/*  Sends CHUNK_GET for w to address a; -1 (a counted as failing w) if it
    cannot be sent. */
static int send_request(rm_xfer_t *self, want_t *w, uint32_t a)
{
    uint32_t i = (uint32_t)xfer_src_index(w, a);
    rm_chunk_ref_t ref = {w->hash};
    uint64_t req = rm_reqid_next(&self->ids);
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t e;
    if (rm_msg_encode(RM_MSG_CHUNK_GET, req, &ref, &buf, &len, &e) != 0) {
        xfer_source_failed(self, w, i, e.code, "%s", e.msg);
        return -1;
    }
    int rc = self->send(self->send_arg, self->addrs[a].name, buf, len);
    free(buf);
    if (rc != 0) {
        xfer_source_failed(self, w, i, RM_EUNREACH, "cannot send to it");
        return -1;
    }
    self->inflight[self->ninflight++] =
        (request_t){.want = w, .addr = a, .req = req, .charged = rm_rate_limited(&self->down)};
    rm_rate_take(&self->down, XFER_RATE_GUESS, self->now);
    w->nreqs++;
    self->addrs[a].inflight++;
    return 0;
}

/*  Sends requests while the window, the download limit and each address's
    share allow.  A chunk that reached the store meanwhile (a client's
    CHUNK_PUT, another node) is not asked for. */
void xfer_pump(rm_xfer_t *self)
{
    uint32_t live = 0;
    for (uint32_t a = 0; a < self->naddrs; a++)
        live += !self->addrs[a].stalled;
    uint32_t share = (RM_XFER_WINDOW + (live ? live : 1) - 1) / (live ? live : 1);
    for (bool moved = true; moved;) {
        moved = false;
        for (uint32_t k = 0; k < self->naddrs; k++) {
            if (self->ninflight >= RM_XFER_WINDOW || (!self->qhead && !self->ninflight) ||
                rm_rate_wait(&self->down, self->now) > 0)
                return;
            uint32_t a = (self->rr + k) % self->naddrs;
            if (self->addrs[a].inflight >= (self->addrs[a].stalled ? 1 : share))
                continue;
            want_t *w = pick_queued(self, a);
            if (w) {
                xfer_queue_remove(self, w);
                if (rm_store_has(self->store, &w->hash)) {
                    xfer_want_stored(self, w);
                    moved = true;
                    continue;
                }
            } else if (!(w = pick_endgame(self, a))) {
                continue;
            }
            if (send_request(self, w, a) != 0)
                want_retry(self, w);
            moved = true;
        }
        self->rr = self->naddrs ? (self->rr + 1) % self->naddrs : 0;
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

/*  An answer to a request for w from address a: stores the chunk, or
    counts a as failing w. */
static void handle_reply(rm_xfer_t *self, want_t *w, uint32_t a, const rm_msg_t *msg)
{
    rm_err_t e;
    char hex[65];
    uint32_t i = (uint32_t)xfer_src_index(w, a);
    if (msg->type == RM_MSG_ERROR) {
        uint64_t code = msg->u.error.code;
        char text[160];
        clean_text(text, sizeof text, msg->u.error.message);
        /* A peer's own trouble (its disk) is not ours: only ENOTFOUND passes. */
        xfer_source_failed(self, w, i, code == RM_ENOTFOUND ? RM_ENOTFOUND : RM_EPROTO, "%s: %s",
                           code < 64 ? rm_code_name((rm_code_t)code) : "EUNKNOWN", text);
        if (code == RM_ENOTFOUND) /* a later map saying it holds w lifts this */
            w->notfound |= (uint64_t)1 << i;
    } else if (memcmp(msg->u.chunk.hash.b, w->hash.b, sizeof w->hash.b) != 0) {
        rm_hash_hex(&msg->u.chunk.hash, hex);
        xfer_source_failed(self, w, i, RM_EPROTO, "sent chunk %s instead", hex);
    } else if (rm_store_put_unsynced(self->store, &w->hash, msg->u.chunk.data.data,
                                     msg->u.chunk.data.len, &e) == 0) {
        self->bytes += msg->u.chunk.data.len;
        self->chunks++;
        xfer_want_stored(self, w);
        return;
    } else if (e.code == RM_EPROTO || e.code == RM_EINVAL) {
        xfer_source_failed(self, w, i, RM_EPROTO, "%s", e.msg); /* bad hash or size */
    } else {
        xfer_want_fail_users(self, w, &e); /* our disk: full or broken */
        return;
    }
    want_retry(self, w);
}

bool xfer_on_chunk_reply(rm_xfer_t *self, const char *from, const rm_msg_t *msg)
{
    size_t k = 0;
    while (k < self->ninflight && (self->inflight[k].req != msg->req ||
                                   strcmp(self->addrs[self->inflight[k].addr].name, from) != 0))
        k++;
    if (k == self->ninflight)
        return false;
    request_t r = self->inflight[k];
    self->inflight[k] = self->inflight[--self->ninflight];
    addr_t *ad = &self->addrs[r.addr];
    ad->inflight--;
    if (ad->stalled) {
        ad->stalled = false;
        self->queue_gen++; /* it may be asked anything again */
    }
    /* The source is alive and working through our requests: the others it
       holds start their timeout again (a slow link is not a dead peer). */
    for (size_t j = 0; j < self->ninflight; j++)
        if (self->inflight[j].addr == r.addr)
            self->inflight[j].armed = false;
    xfer_settle(self, &r, msg->type == RM_MSG_CHUNK_DATA ? msg->u.chunk.data.len : 0);
    if (r.want) { /* else it ended meanwhile (stored from another source, or unneeded) */
        r.want->nreqs--;
        handle_reply(self, r.want, r.addr, msg);
    }
    return true;
}

void xfer_expire(rm_xfer_t *self, int64_t now)
{
    for (size_t k = 0; k < self->ninflight;) {
        request_t r = self->inflight[k];
        if (!r.armed || r.deadline > now) {
            k++;
            continue;
        }
        self->inflight[k] = self->inflight[--self->ninflight]; /* the last moves to k */
        addr_t *ad = &self->addrs[r.addr];
        ad->inflight--;
        if (!ad->stalled) {
            ad->stalled = true;
            self->queue_gen++; /* what only it could give may now go to a stalled one */
        }
        xfer_settle(self, &r, 0);
        if (!r.want)
            continue;
        r.want->nreqs--;
        xfer_source_failed(self, r.want, (uint32_t)xfer_src_index(r.want, r.addr), RM_ETIMEOUT,
                           "no answer in %d ms", RM_XFER_TIMEOUT_MS);
        want_retry(self, r.want);
    }
}
