#include "rm_repair.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "rm_log.h"
#include "rm_manifest.h"
#include "rm_reqid.h"

#define LOOK_EVERY_MS 1000 /* the coordinator compares who is gone */

/*  A done frame whose output may be lost. */
typedef struct {
    char job_id[RM_MAX_NAME + 1];
    uint64_t frame;
    rm_hash_t output;
    char renderer[RM_MAX_NAME + 1];
    char renderer_state[16]; /* dead, left, gone; "" if the renderer is alive */
    bool held_here;
    uint32_t holders; /* members that answered they hold it whole */
    size_t holder;    /* the first of them (index into asked) */
    size_t lacking;   /* a member that answered it lacks it (index), or SIZE_MAX */
} candidate_t;

/*  A member seen gone (dead, left, or no longer a member). */
typedef struct {
    int64_t since; /* mono ms it was first seen gone */
    bool audited;  /* the coordinator audited for it */
} gone_t;

/*  A member asked HAVE. */
typedef struct {
    char addr[RM_MAX_PATH + 1];
    char name[RM_MAX_NAME + 1];
    bool draining; /* leaving: no place for a second copy */
    uint64_t req;
    bool answered;
} asked_t;

struct _rm_repair_t {
    char name[RM_MAX_NAME + 1];
    rm_jobs_t *jobs;
    rm_member_t *member;
    rm_store_t *store;
    rm_xfer_t *xfer;
    const rm_election_t *election;
    rm_reqid_t ids;
    /* What starts an audit. */
    int64_t repair_after_ms;
    zhashx_t *gone_since; /* member name -> gone_t */
    bool was_acting;
    int64_t look_at;                            /* next comparison of who is gone */
    int64_t audit_at;                           /* an audit is due then; 0: none */
    int64_t recheck_at;                         /* renderers found gone too recently: look again */
    bool audit_gone;                            /* it looks at frames whose renderer is gone */
    size_t skip;                                /* candidates the rounds before looked at */
    rm_hash_t suspects[RM_REPAIR_MAX_SUSPECTS]; /* missed by fetches since the audit began */
    size_t nsuspects;
    rm_hash_t looking[RM_REPAIR_MAX_SUSPECTS]; /* those the audit running looks for */
    size_t nlooking;
    /* The round running. */
    bool running;
    candidate_t *cands;
    size_t ncands;
    asked_t *asked;
    size_t nasked, nwaiting;
    int64_t deadline;
    bool more; /* candidates left for another round */
    uint64_t reopened;
    uint64_t copied; /* second copies made of outputs left on one node */
};

static void free_since(void **item)
{
    free(*item);
    *item = NULL;
}

rm_repair_t *rm_repair_new(const char *name, uint64_t repair_after_s, rm_jobs_t *jobs,
                           rm_member_t *member, rm_store_t *store, rm_xfer_t *xfer,
                           const rm_election_t *election, rm_err_t *err)
{
    rm_repair_t *self = calloc(1, sizeof *self);
    if (!self || !(self->gone_since = zhashx_new())) {
        free(self);
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    zhashx_set_destructor(self->gone_since, free_since);
    snprintf(self->name, sizeof self->name, "%s", name);
    self->repair_after_ms = (int64_t)repair_after_s * 1000;
    self->jobs = jobs;
    self->member = member;
    self->store = store;
    self->xfer = xfer;
    self->election = election;
    rm_reqid_init(&self->ids, RM_REQ_REPAIR);
    return self;
}

static void end_round(rm_repair_t *self)
{
    free(self->cands);
    free(self->asked);
    self->cands = NULL;
    self->asked = NULL;
    self->ncands = self->nasked = self->nwaiting = 0;
    self->running = false;
}

void rm_repair_destroy(rm_repair_t **self_p)
{
    rm_repair_t *self = *self_p;
    if (!self)
        return;
    end_round(self);
    zhashx_destroy(&self->gone_since);
    free(self);
    *self_p = NULL;
}

bool rm_repair_holds(rm_store_t *store, const rm_hash_t *output)
{
    rm_manifest_t m;
    memset(&m, 0, sizeof m);
    if (!rm_store_has(store, output) || rm_manifest_load(store, output, &m, NULL) != 0)
        return false;
    rm_hash_t *missing = NULL;
    uint32_t nmissing = 0;
    int rc = rm_manifest_missing(&m, store, &missing, &nmissing, 1, NULL);
    free(missing);
    rm_manifest_free(&m);
    return rc == 0 && nmissing == 0;
}

void rm_repair_output_missing(rm_repair_t *self, const rm_hash_t *output)
{
    for (size_t i = 0; i < self->nsuspects; i++)
        if (rm_hash_cmp(&self->suspects[i], output) == 0)
            return;
    if (self->nsuspects == RM_REPAIR_MAX_SUSPECTS)
        return; /* the next fetch that misses it asks again */
    self->suspects[self->nsuspects++] = *output;
    int64_t now = zclock_mono();
    if (!self->audit_at || self->audit_at > now)
        self->audit_at = now;
}

/*  "dead", "left" or "gone" (no longer a member) for a renderer that is
    gone; NULL while it is a member that may still hold what it rendered
    (alive, or suspect: not gone yet). */
static const char *gone_state(rm_repair_t *self, const char *node)
{
    if (!node || !node[0] || strcmp(node, self->name) == 0)
        return NULL;
    const char *state = rm_member_state_of(self->member, node);
    if (!state)
        return "gone";
    return strcmp(state, "dead") == 0 || strcmp(state, "left") == 0 ? state : NULL;
}

/*  When this node first saw `node` gone (now, if it had not). */
static int64_t gone_since(rm_repair_t *self, const char *node, int64_t now)
{
    gone_t *g = zhashx_lookup(self->gone_since, node);
    if (g)
        return g->since;
    if ((g = calloc(1, sizeof *g))) {
        g->since = now;
        zhashx_insert(self->gone_since, node, g);
    }
    return now;
}

static bool looked_for(const rm_repair_t *self, const rm_hash_t *output)
{
    for (size_t i = 0; i < self->nlooking; i++)
        if (rm_hash_cmp(&self->looking[i], output) == 0)
            return true;
    return false;
}

/*  Frames an audit looks at: in jobs that render on the mesh alone. */
static bool job_repairable(const rm_job_t *job)
{
    const char *state = rm_job_state(job);
    const char *out_url = rm_job_spec(job)->out_url;
    return strcmp(state, "canceled") != 0 && strcmp(state, "failed") != 0 &&
           !(out_url && out_url[0]);
}

static int add_candidate(rm_repair_t *self, const rm_job_t *job, const rm_frame_rec_t *f,
                         const char *state)
{
    if (self->ncands == RM_MAX_HAVE) {
        self->more = true;
        return 0;
    }
    /* Held here: the frame is safe, but maybe on this node alone. */
    bool here = rm_repair_holds(self->store, &f->output);
    if (here && !self->audit_gone)
        return 0;
    candidate_t *c = &self->cands[self->ncands++];
    memset(c, 0, sizeof *c);
    c->held_here = here;
    c->lacking = SIZE_MAX;
    snprintf(c->job_id, sizeof c->job_id, "%s", rm_job_id(job));
    snprintf(c->renderer, sizeof c->renderer, "%s", f->node ? f->node : "");
    snprintf(c->renderer_state, sizeof c->renderer_state, "%s", state ? state : "");
    c->frame = f->frame;
    c->output = f->output;
    return 0;
}

/*  The round's candidates: done frames whose renderer is gone (if the
    audit looks at those) or whose output a fetch missed, past the ones
    the rounds before looked at. */
static void collect(rm_repair_t *self, int64_t now)
{
    size_t seen = 0;
    self->more = false;
    for (size_t j = 0; j < rm_jobs_count(self->jobs) && !self->more; j++) {
        const rm_job_t *job = rm_jobs_at(self->jobs, j);
        if (!job_repairable(job))
            continue;
        for (size_t i = 0; i < rm_job_frame_count(job) && !self->more; i++) {
            const rm_frame_rec_t *f = rm_job_frame_at(job, i);
            if (f->state != RM_FRAME_DONE)
                continue;
            const char *state = gone_state(self, f->node);
            /* A renderer gone only for a short while may be behind a
               network cut: its frames wait until repair_after_s. */
            int64_t since = state ? gone_since(self, f->node, now) : now;
            bool long_gone = state && now - since >= self->repair_after_ms;
            /* One membership never knew (a coordinator that restarted, a
               node forgotten long ago) is first seen gone now: looked at
               again once repair_after_s has passed, as a death would be. */
            if (self->audit_gone && state && !long_gone &&
                (!self->recheck_at || since + self->repair_after_ms < self->recheck_at))
                self->recheck_at = since + self->repair_after_ms;
            if (!(self->audit_gone && long_gone) && !looked_for(self, &f->output))
                continue;
            if (seen++ < self->skip)
                continue;
            add_candidate(self, job, f, state);
        }
    }
    /* The next round starts at the frame that did not fit. */
    self->skip = self->more ? seen - 1 : 0;
}

/*  Asks every live member that can be reached which candidates it holds. */
static void ask_members(rm_repair_t *self, int64_t now)
{
    size_t count = 0;
    const rm_member_peer_t *peers = rm_member_peers(self->member, &count);
    rm_have_t have = {0};
    have.outputs.items = malloc((self->ncands ? self->ncands : 1) * sizeof(rm_hash_t));
    self->asked = calloc(count ? count : 1, sizeof *self->asked);
    if (!have.outputs.items || !self->asked) {
        free(have.outputs.items);
        return; /* no memory: nothing asked, nothing held, nothing reopened */
    }
    for (size_t i = 0; i < self->ncands; i++)
        have.outputs.items[i] = self->cands[i].output;
    have.outputs.count = (uint32_t)self->ncands;
    for (size_t i = 0; peers && i < count; i++) {
        /* A node behind NAT ("nat:") is reached only by answering it. */
        if (!peers[i].alive || !peers[i].addr[0] || strncmp(peers[i].addr, "nat:", 4) == 0)
            continue;
        asked_t *a = &self->asked[self->nasked++];
        snprintf(a->addr, sizeof a->addr, "%s", peers[i].addr);
        snprintf(a->name, sizeof a->name, "%s", peers[i].name);
        a->draining = peers[i].has_meta && peers[i].meta->draining;
        a->req = rm_reqid_next(&self->ids);
        rm_member_send_msg(self->member, a->addr, RM_MSG_HAVE, a->req, &have);
    }
    free(have.outputs.items);
    self->nwaiting = self->nasked;
    self->deadline = now + RM_REPAIR_ANSWER_MS;
}

static void reopen(rm_repair_t *self, const candidate_t *c, size_t asked)
{
    rm_job_t *job = rm_jobs_find(self->jobs, c->job_id);
    if (!job)
        return;
    char reason[RM_ERR_MSG_MAX];
    if (c->renderer_state[0])
        snprintf(reason, sizeof reason,
                 "output lost: no live node holds it (rendered on %s, which is %s; %zu other "
                 "node%s asked)",
                 c->renderer, c->renderer_state, asked, asked == 1 ? "" : "s");
    else
        snprintf(reason, sizeof reason,
                 "output lost: no live node holds it (a fetch found no copy; %zu other node%s "
                 "asked)",
                 asked, asked == 1 ? "" : "s");
    rm_err_t err;
    uint64_t gen = rm_job_frame(job, c->frame) ? rm_job_frame(job, c->frame)->gen : 0;
    if (rm_job_frame_reopen(job, c->frame, &c->output, reason, &err) != 0) {
        rm_log_error("job %s frame %llu: cannot render it again: %s", c->job_id,
                     (unsigned long long)c->frame, err.msg);
        return;
    }
    const rm_frame_rec_t *f = rm_job_frame(job, c->frame);
    if (f && f->gen > gen) {
        self->reopened++;
        rm_log_warning("job %s frame %llu: %s; rendering it again", c->job_id,
                       (unsigned long long)c->frame, reason);
    }
}

static void on_copied(void *arg, const rm_hash_t *hash, int status, const char *error)
{
    rm_repair_t *self = arg;
    char hex[65];
    rm_hash_hex(hash, hex);
    if (status != 0)
        rm_log_warning("output %.16s: a second copy could not be fetched: %s", hex, error);
    else
        self->copied++;
}

/*  An output on one node only (the other copy went with its node): a
    second one, here if another member holds it, else on a member that
    lacks it (REPLICATE: it fetches the output from this node).  Nothing
    waits for it: the next audit looks again. */
static void second_copy(rm_repair_t *self, const candidate_t *c)
{
    rm_err_t err;
    if (!c->held_here) {
        const char *sources[1] = {self->asked[c->holder].addr};
        rm_log_info("job %s frame %llu: its output is left on %s only; copying it here", c->job_id,
                    (unsigned long long)c->frame, self->asked[c->holder].name);
        rm_hash_t output = c->output;
        if (rm_xfer_fetch(self->xfer, &output, true, sources, 1, on_copied, self, &err) != 0)
            rm_log_warning("job %s frame %llu: cannot copy its output: %s", c->job_id,
                           (unsigned long long)c->frame, err.msg);
        return;
    }
    if (c->lacking == SIZE_MAX)
        return; /* no member to copy it to */
    rm_replicate_t body = {.hash = c->output, .job_id = (char *)c->job_id, .frame = c->frame};
    rm_log_info("job %s frame %llu: its output is left on this node only; copying it to %s",
                c->job_id, (unsigned long long)c->frame, self->asked[c->lacking].name);
    rm_member_send_msg(self->member, self->asked[c->lacking].addr, RM_MSG_REPLICATE,
                       rm_reqid_next(&self->ids), &body);
}

/*  Every member answered, or the time is up: what no one holds is lost. */
static void conclude(rm_repair_t *self, int64_t now)
{
    for (size_t i = 0; i < self->ncands; i++) {
        candidate_t *c = &self->cands[i];
        uint32_t copies = c->holders + (c->held_here ? 1 : 0);
        if (copies == 0)
            reopen(self, c, self->nasked);
        else if (copies == 1)
            second_copy(self, c);
    }
    bool more = self->more;
    if (!more)
        self->nlooking = 0; /* the audit looked at every frame with those outputs */
    end_round(self);
    if (more)
        self->audit_at = now; /* the next RM_MAX_HAVE */
}

static void start_round(rm_repair_t *self, int64_t now)
{
    self->audit_at = 0;
    self->cands = calloc(RM_MAX_HAVE, sizeof *self->cands);
    if (!self->cands)
        return;
    self->running = true;
    if (self->skip == 0) { /* a new audit: it looks for what fetches missed until now */
        memcpy(self->looking, self->suspects, self->nsuspects * sizeof *self->suspects);
        self->nlooking = self->nsuspects;
        self->nsuspects = 0;
    }
    collect(self, now);
    if (!self->more)
        self->audit_gone = false;
    if (self->ncands == 0) {
        self->nlooking = 0; /* held here, or no longer a done frame's output */
        end_round(self);
        return;
    }
    rm_log_info("looking for copies of %zu frame output%s that may be lost", self->ncands,
                self->ncands == 1 ? "" : "s");
    ask_members(self, now);
    if (self->nwaiting == 0)
        conclude(self, now);
}

/*  The coordinator audits once for each member that has been gone for
    repair_after_s, and when it starts coordinating. */
static void look_for_gone(rm_repair_t *self, int64_t now)
{
    bool acting = self->election->acting;
    int64_t due_at = acting && !self->was_acting ? now + RM_REPAIR_SETTLE_MS : 0;
    self->was_acting = acting;
    size_t count = 0;
    const rm_member_peer_t *peers = rm_member_peers(self->member, &count);
    for (size_t i = 0; peers && i < count; i++) {
        const char *name = peers[i].name;
        if (!gone_state(self, name)) {
            zhashx_delete(self->gone_since, name); /* back: its next death counts anew */
            continue;
        }
        gone_since(self, name, now);
        gone_t *g = zhashx_lookup(self->gone_since, name);
        /* The coordinator audits once for each member gone long enough. */
        if (g && acting && !g->audited && now - g->since >= self->repair_after_ms) {
            g->audited = true;
            if (!due_at || due_at > now)
                due_at = now;
        }
    }
    if (acting && self->recheck_at && now >= self->recheck_at) {
        self->recheck_at = 0;
        if (!due_at || due_at > now)
            due_at = now;
    }
    if (due_at) {
        self->audit_gone = true;
        self->skip = 0;
        if (!self->audit_at || self->audit_at > due_at)
            self->audit_at = due_at;
    }
}

void rm_repair_tick(rm_repair_t *self, int64_t now)
{
    if (now >= self->look_at) {
        self->look_at = now + LOOK_EVERY_MS;
        look_for_gone(self, now);
    }
    if (self->running && (self->nwaiting == 0 || now >= self->deadline))
        conclude(self, now);
    if (!self->running && self->audit_at && now >= self->audit_at)
        start_round(self, now);
}

int64_t rm_repair_wakeup(const rm_repair_t *self, int64_t now)
{
    int64_t at = self->look_at;
    if (self->running && self->deadline < at)
        at = self->deadline;
    if (!self->running && self->audit_at && self->audit_at < at)
        at = self->audit_at;
    return at - now < 0 ? 0 : at - now;
}

uint64_t rm_repair_reopened(const rm_repair_t *self)
{
    return self->reopened;
}

uint64_t rm_repair_copied(const rm_repair_t *self)
{
    return self->copied;
}

static void serve_have(rm_repair_t *self, const char *from, const rm_msg_t *msg)
{
    const rm_have_t *have = &msg->u.have;
    size_t len = ((size_t)have->outputs.count + 7) / 8;
    rm_have_reply_t reply = {.held = {.data = calloc(len ? len : 1, 1), .len = len}};
    if (!reply.held.data) {
        rm_member_send_error(self->member, from, msg->req, RM_ENOMEM, "out of memory");
        return;
    }
    for (uint32_t i = 0; i < have->outputs.count; i++)
        if (rm_repair_holds(self->store, &have->outputs.items[i]))
            reply.held.data[i / 8] |= (uint8_t)(1u << (i % 8));
    rm_member_send_msg(self->member, from, RM_MSG_HAVE_REPLY, msg->req, &reply);
    free(reply.held.data);
}

/*  An answer to one of our HAVEs: the member's bits join the round's. */
static void take_answer(rm_repair_t *self, const rm_msg_t *msg)
{
    asked_t *a = NULL;
    for (size_t i = 0; self->running && i < self->nasked && !a; i++)
        if (self->asked[i].req == msg->req && !self->asked[i].answered)
            a = &self->asked[i];
    if (!a) { /* a round that ended, or a second copy's answer */
        if (msg->type == RM_MSG_OK)
            self->copied++;
        else if (msg->type == RM_MSG_ERROR)
            rm_log_warning("a second copy of an output was refused: %s", msg->u.error.message);
        return;
    }
    a->answered = true;
    self->nwaiting--;
    if (msg->type != RM_MSG_HAVE_REPLY) /* an older node: it holds nothing we know of */
        return;
    const rm_bin_t *held = &msg->u.have_reply.held;
    size_t who = (size_t)(a - self->asked);
    if (held->len != (self->ncands + 7) / 8)
        return;
    for (size_t i = 0; i < self->ncands; i++) {
        candidate_t *c = &self->cands[i];
        if (held->data[i / 8] & (1u << (i % 8))) {
            if (c->holders++ == 0)
                c->holder = who;
        } else if (c->lacking == SIZE_MAX && !a->draining) {
            c->lacking = who;
        }
    }
}

bool rm_repair_handle(rm_repair_t *self, const char *from, const rm_msg_t *msg)
{
    switch (msg->type) {
    case RM_MSG_HAVE:
        serve_have(self, from, msg);
        return true;
    case RM_MSG_HAVE_REPLY:
    case RM_MSG_OK:
    case RM_MSG_ERROR:
        if (rm_reqid_owner(msg->req) != RM_REQ_REPAIR)
            return false;
        take_answer(self, msg);
        return true;
    default:
        return false;
    }
}
