#include "rm_handover.h"
#include "rm_log.h"
#include "rm_reqid.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#define ADDR_MAX 300
#define LIST_MAX 20 /* frames named in one log line */

typedef enum {
    TODO,   /* no member asked, or the last one refused or was silent */
    ASKED,  /* REPLICATE sent, waiting for OK */
    HANDED, /* a member that stays holds it */
    NO_ONE, /* no member left to hold it: it leaves with this node */
} item_state_t;

/*  A node may hold every frame of many jobs: an item stays small, and the
    member asked is kept in the ask, of which there are few. */
typedef struct {
    char job_id[65];
    uint64_t frame;
    rm_hash_t output, log; /* log zero: none held here */
    item_state_t state;
    uint64_t tried[RM_HANDOVER_TRIES]; /* rm_handover_name_id of the members asked */
    size_t ntried;
} item_t;

/*  A REPLICATE waiting for its answer. */
typedef struct {
    bool used;
    size_t item;
    uint64_t req;
    int64_t deadline;
    char target[RM_MAX_NAME + 1];
    char addr[ADDR_MAX];
} ask_t;

struct _rm_handover_t {
    char name[RM_MAX_NAME + 1];
    rm_jobs_t *jobs;
    rm_store_t *store;
    rm_member_t *member;
    bool started, done, reported;
    int64_t settled_at; /* when the node first had nothing left in hand; 0: not yet */
    int64_t walked_at;
    item_t *items;
    size_t nitems, cap;
    zhash_t *listed;  /* "job/frame/output" of every item: walks add each once */
    size_t next_todo; /* no TODO item before this one */
    ask_t asks[RM_HANDOVER_IN_FLIGHT];
    size_t asked; /* asks in use */
    rm_reqid_t ids;
};

rm_handover_t *rm_handover_new(const char *name, rm_jobs_t *jobs, rm_store_t *store,
                               rm_member_t *member)
{
    rm_handover_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (!(self->listed = zhash_new())) {
        free(self);
        return NULL;
    }
    snprintf(self->name, sizeof self->name, "%s", name);
    self->jobs = jobs;
    self->store = store;
    self->member = member;
    /* Request ids apart from rm_work's (2 << 40) and from other nodes'. */
    rm_reqid_init(&self->ids, RM_REQ_HANDOVER);
    return self;
}

void rm_handover_destroy(rm_handover_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhash_destroy(&(*self_p)->listed);
    free((*self_p)->items);
    free(*self_p);
    *self_p = NULL;
}

uint64_t rm_handover_name_id(const char *name)
{
    uint64_t id;
    crypto_generichash((uint8_t *)&id, sizeof id, (const uint8_t *)name, strlen(name), NULL, 0);
    return id;
}

int rm_handover_pick(const rm_member_peer_t *peers, size_t count, const char *job_id,
                     uint64_t frame, const uint64_t *tried, size_t ntried)
{
    int best = -1;
    uint64_t best_score = 0;
    for (size_t i = 0; peers && i < count; i++) {
        /* A draining member leaves soon too: a copy there is no copy. */
        if (!peers[i].alive || !peers[i].addr || !peers[i].addr[0] ||
            (peers[i].has_meta && peers[i].meta && peers[i].meta->draining))
            continue;
        bool was_tried = false;
        uint64_t id = ntried ? rm_handover_name_id(peers[i].name) : 0;
        for (size_t t = 0; t < ntried && !was_tried; t++)
            was_tried = tried[t] == id;
        if (was_tried)
            continue;
        /* The key of rm_work's pick_replica: the member that took the
           first copy ranks first again while it stays. */
        char key[400];
        uint64_t score;
        int n = snprintf(key, sizeof key, "%s/%llu/%s", job_id, (unsigned long long)frame,
                         peers[i].name);
        if (n < 0 || (size_t)n >= sizeof key)
            continue;
        crypto_generichash((uint8_t *)&score, sizeof score, (const uint8_t *)key, (size_t)n, NULL,
                           0);
        if (best < 0 || score > best_score) {
            best = (int)i;
            best_score = score;
        }
    }
    return best;
}

/*  Adds every done frame whose output is in the store and not listed yet.
    Returns how many were added. */
static size_t walk(rm_handover_t *self)
{
    size_t added = 0;
    for (size_t j = 0; j < rm_jobs_count(self->jobs); j++) {
        rm_job_t *job = rm_jobs_at(self->jobs, j);
        if (rm_job_count(job, RM_FRAME_DONE) == 0)
            continue;
        for (size_t f = 0; f < rm_job_frame_count(job); f++) {
            const rm_frame_rec_t *rec = rm_job_frame_at(job, f);
            if (rec->state != RM_FRAME_DONE || rm_hash_is_zero(&rec->output))
                continue;
            /* A frame whose record now names another output (the merge
               keeps the smaller hash) is another item. */
            char key[128];
            int n = snprintf(key, sizeof key, "%s/%llu/", rm_job_id(job),
                             (unsigned long long)rec->frame);
            if (n > 0 && (size_t)n + 17 <= sizeof key)
                sodium_bin2hex(key + n, sizeof key - (size_t)n, rec->output.b, 8);
            if (zhash_lookup(self->listed, key) || !rm_store_has(self->store, &rec->output))
                continue;
            if (self->nitems == self->cap) {
                size_t cap = self->cap ? self->cap * 2 : 64;
                item_t *grown = realloc(self->items, cap * sizeof *grown);
                if (!grown) {
                    rm_log_error("hand-over: out of memory listing the frames held here");
                    return added;
                }
                self->items = grown;
                self->cap = cap;
            }
            if (zhash_insert(self->listed, key, self) != 0) {
                rm_log_error("hand-over: out of memory listing the frames held here");
                return added;
            }
            item_t *it = &self->items[self->nitems++];
            memset(it, 0, sizeof *it);
            snprintf(it->job_id, sizeof it->job_id, "%s", rm_job_id(job));
            it->frame = rec->frame;
            it->output = rec->output;
            /* The member fetches the log from us: only one we hold. */
            if (!rm_hash_is_zero(&rec->log) && rm_store_has(self->store, &rec->log))
                it->log = rec->log;
            added++;
        }
    }
    return added;
}

void rm_handover_start(rm_handover_t *self, int64_t now)
{
    if (self->started)
        return;
    self->started = true;
    self->walked_at = now;
    walk(self);
    rm_log_info("%s hands over before leaving: %zu finished frame output(s) held here", self->name,
                self->nitems);
}

static void ask_next(rm_handover_t *self, size_t index, int64_t now)
{
    item_t *it = &self->items[index];
    size_t count = 0;
    const rm_member_peer_t *peers = rm_member_peers(self->member, &count);
    int pick = it->ntried < RM_HANDOVER_TRIES
                   ? rm_handover_pick(peers, count, it->job_id, it->frame, it->tried, it->ntried)
                   : -1;
    if (pick < 0) {
        it->state = NO_ONE; /* counted in the summary when the hand-over ends */
        return;
    }
    ask_t *ask = NULL;
    for (size_t i = 0; i < RM_HANDOVER_IN_FLIGHT && !ask; i++)
        if (!self->asks[i].used)
            ask = &self->asks[i];
    if (!ask)
        return; /* the caller checks self->asked first */
    it->tried[it->ntried++] = rm_handover_name_id(peers[pick].name);
    it->state = ASKED;
    *ask = (ask_t){.used = true,
                   .item = index,
                   .req = rm_reqid_next(&self->ids),
                   .deadline = now + RM_HANDOVER_WAIT_MS};
    snprintf(ask->target, sizeof ask->target, "%s", peers[pick].name);
    snprintf(ask->addr, sizeof ask->addr, "%s", peers[pick].addr);
    self->asked++;
    rm_replicate_t body = {
        .hash = it->output, .job_id = it->job_id, .frame = it->frame, .log = it->log};
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err;
    if (rm_msg_encode(RM_MSG_REPLICATE, ask->req, &body, &buf, &len, &err) != 0 ||
        rm_member_send(self->member, ask->addr, buf, len, &err) != 0)
        ask->deadline = now; /* the next tick asks another */
    free(buf);
}

/*  The ask ends: its item goes back to TODO (another member is asked) or on. */
static void ask_end(rm_handover_t *self, ask_t *ask, item_state_t state)
{
    item_t *it = &self->items[ask->item];
    it->state = state;
    if (state == TODO && ask->item < self->next_todo)
        self->next_todo = ask->item;
    ask->used = false;
    self->asked--;
}

void rm_handover_tick(rm_handover_t *self, int64_t now, bool settled)
{
    if (!self->started || self->done)
        return;
    if (settled && !self->settled_at)
        self->settled_at = now;
    for (size_t i = 0; i < RM_HANDOVER_IN_FLIGHT; i++) {
        ask_t *ask = &self->asks[i];
        if (!ask->used || now < ask->deadline)
            continue;
        const item_t *it = &self->items[ask->item];
        rm_log_warning("job %s frame %llu: %s did not take its output in time", it->job_id,
                       (unsigned long long)it->frame, ask->target);
        ask_end(self, ask, TODO);
    }
    while (self->next_todo < self->nitems && self->asked < RM_HANDOVER_IN_FLIGHT) {
        if (self->items[self->next_todo].state == TODO)
            ask_next(self, self->next_todo, now);
        self->next_todo++;
    }
    bool open = self->asked > 0 || self->next_todo < self->nitems;
    /* Walks are spaced: a drain that finishes long renders walks twice a
       second, not every loop turn. */
    if (open || now - self->walked_at < RM_HANDOVER_SETTLE_MS)
        return;
    self->walked_at = now;
    if (walk(self) > 0 || !settled || now - self->settled_at < RM_HANDOVER_SETTLE_MS)
        return;
    self->done = true;
    size_t handed = 0, no_one = 0;
    for (size_t i = 0; i < self->nitems; i++) {
        handed += self->items[i].state == HANDED;
        no_one += self->items[i].state == NO_ONE;
    }
    rm_log_info("%s handed over %zu of %zu finished frame output(s) to members that stay",
                self->name, handed, self->nitems);
    if (no_one > 0)
        rm_log_warning(
            "%s leaves with the only known copy of %zu frame output(s): no member that "
            "stays (alive, not draining) took them; they come back with this node's home",
            self->name, no_one);
}

int64_t rm_handover_wakeup(const rm_handover_t *self, int64_t now)
{
    if (!self->started || self->done)
        return INT64_MAX;
    if (self->next_todo < self->nitems && self->asked < RM_HANDOVER_IN_FLIGHT)
        return 0;
    int64_t at = self->walked_at + RM_HANDOVER_SETTLE_MS;
    for (size_t i = 0; i < RM_HANDOVER_IN_FLIGHT; i++)
        if (self->asks[i].used && self->asks[i].deadline < at)
            at = self->asks[i].deadline;
    return at - now < 0 ? 0 : at - now;
}

bool rm_handover_done(const rm_handover_t *self)
{
    return self->done;
}

bool rm_handover_handle(rm_handover_t *self, const char *from, const rm_msg_t *msg)
{
    if (!self->started || (msg->type != RM_MSG_OK && msg->type != RM_MSG_ERROR))
        return false;
    for (size_t i = 0; i < RM_HANDOVER_IN_FLIGHT; i++) {
        ask_t *ask = &self->asks[i];
        /* The member answers over our link to it, or over its own
           connection to us ("rid:"), which we cannot tie to its name. */
        if (!ask->used || ask->req != msg->req ||
            (strcmp(from, ask->addr) != 0 && strncmp(from, "rid:", 4) != 0))
            continue;
        const item_t *it = &self->items[ask->item];
        if (msg->type == RM_MSG_OK) {
            rm_job_t *job = rm_jobs_find(self->jobs, it->job_id);
            if (job)
                rm_job_log(job, "frame %llu: %s leaves; %s holds its output",
                           (unsigned long long)it->frame, self->name, ask->target);
            ask_end(self, ask, HANDED);
        } else {
            rm_log_warning("job %s frame %llu: %s did not take its output: %s", it->job_id,
                           (unsigned long long)it->frame, ask->target, msg->u.error.message);
            ask_end(self, ask, TODO); /* the next tick asks another */
        }
        return true;
    }
    return false;
}

void rm_handover_report(rm_handover_t *self)
{
    if (self->done || self->reported)
        return;
    self->reported = true;
    char list[LIST_MAX * 90] = "";
    size_t left = 0, used = 0;
    for (size_t i = 0; i < self->nitems; i++) {
        const item_t *it = &self->items[i];
        if (it->state == HANDED)
            continue;
        if (left++ < LIST_MAX && used < sizeof list) {
            int n = snprintf(list + used, sizeof list - used, "%s%s frame %llu", used ? ", " : "",
                             it->job_id, (unsigned long long)it->frame);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    if (left > 0)
        rm_log_warning("%s leaves out of time: %zu finished frame output(s) not handed over: %s%s",
                       self->name, left, list, left > LIST_MAX ? ", ..." : "");
}
