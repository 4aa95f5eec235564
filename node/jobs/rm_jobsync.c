#include "rm_jobsync.h"
#include "rm_log.h"
#include "rm_reqid.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#define MAX_SOURCES 16
#define ADDR_MAX 300

/*  A submission waiting for a second node. */
typedef struct {
    char job_id[65];
    rm_jobsync_held_fn *fn;
    void *arg;
    int64_t deadline;
} waiter_t;

/*  A job's project, fetched here so that this node can render it. */
typedef struct {
    char job_id[65];
    rm_hash_t manifest;
    enum { PROJECT_FETCHING, PROJECT_READY, PROJECT_FAILED } state;
    int64_t retry_at;
    bool nowhere; /* the last fetch failed: no member had some chunk of it */
    /* Learnt from this member: told JOB_HELD once the project is here, so
       a submission is acknowledged even when the second node could not be
       asked directly (it is behind NAT, or the record reached it first by
       a push or a digest). */
    char held_to[ADDR_MAX];
} project_t;

/*  A JOB_SYNC with want_held: answered once the project is here. */
typedef struct {
    char from[ADDR_MAX];
    char job_id[65];
    rm_hash_t manifest;
    uint64_t req;
} held_t;

#define LIST(T)                                                                                    \
    struct {                                                                                       \
        T *items;                                                                                  \
        size_t count, cap;                                                                         \
    }

struct _rm_jobsync_t {
    rm_jobs_t *jobs;
    rm_member_t *member;
    rm_xfer_t *xfer;
    rm_store_t *store;
    rm_jobsync_changed_fn *changed_fn;
    void *changed_arg;
    rm_jobsync_lacking_fn *lacking_fn;
    void *lacking_arg;
    LIST(waiter_t) waiters;
    LIST(project_t) projects;
    LIST(held_t) helds;
    int64_t next_digest;
    rm_reqid_t ids; /* of JOB_SYNCs sent */
};

/*  Makes room for one more item in a LIST; NULL when out of memory. */
static void *grow(void *items_p, size_t *count, size_t *cap, size_t size)
{
    void **items = items_p;
    if (*count == *cap) {
        size_t next = *cap ? *cap * 2 : 16;
        void *grown = realloc(*items, next * size);
        if (!grown)
            return NULL;
        *items = grown;
        *cap = next;
    }
    void *item = (char *)*items + (*count)++ * size;
    memset(item, 0, size);
    return item;
}
#define PUSH(list) grow(&(list).items, &(list).count, &(list).cap, sizeof *(list).items)

rm_jobsync_t *rm_jobsync_new(rm_jobs_t *jobs, rm_member_t *member, rm_xfer_t *xfer,
                             rm_store_t *store, rm_err_t *err)
{
    rm_jobsync_t *self = calloc(1, sizeof *self);
    if (!self) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    self->jobs = jobs;
    self->member = member;
    self->xfer = xfer;
    self->store = store;
    rm_reqid_init(&self->ids, RM_REQ_JOBSYNC);
    return self;
}

void rm_jobsync_destroy(rm_jobsync_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_jobsync_t *self = *self_p;
    free(self->waiters.items);
    free(self->projects.items);
    free(self->helds.items);
    free(self);
    *self_p = NULL;
}

void rm_jobsync_on_project_lacking(rm_jobsync_t *self, rm_jobsync_lacking_fn *fn, void *arg)
{
    self->lacking_fn = fn;
    self->lacking_arg = arg;
}

void rm_jobsync_on_changed(rm_jobsync_t *self, rm_jobsync_changed_fn *fn, void *arg)
{
    self->changed_fn = fn;
    self->changed_arg = arg;
}

/* ---------------------------------------------------------------- sending */

static void send_job_message(rm_jobsync_t *self, const char *addr, rm_msg_type_t type, uint64_t req,
                             const void *body)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err;
    if (rm_msg_encode(type, req, body, &buf, &len, &err) != 0) {
        rm_log_warning("jobs: cannot encode %s: %s", rm_msg_name(type), err.msg);
        return;
    }
    rm_member_send(self->member, addr, buf, len, NULL); /* lost: digests repair it */
    free(buf);
}

size_t rm_jobsync_sources(rm_jobsync_t *self, const char *first, const char **out, size_t max)
{
    size_t count = 0, n = 0;
    const rm_member_peer_t *peers = rm_member_peers(self->member, &count);
    const char *first_addr = first ? rm_member_addr_of(self->member, first) : NULL;
    if (first_addr && n < max)
        out[n++] = first_addr;
    /* A random sample when there are more than max: nodes of a big mesh
       fetching one project do not all ask the same few members. */
    size_t seen = 0;
    for (size_t i = 0; peers && i < count; i++) {
        if (!peers[i].alive || !peers[i].addr[0] ||
            (first_addr && strcmp(peers[i].addr, first_addr) == 0))
            continue;
        size_t start = first_addr ? 1 : 0, room = max - start;
        if (n < max)
            out[n++] = peers[i].addr;
        else if (room > 0 && randombytes_uniform((uint32_t)(seen + 1)) < room)
            out[start + randombytes_uniform((uint32_t)room)] = peers[i].addr;
        seen++;
    }
    return n;
}

/*  Sends one encoded message to every alive member that accepts
    connections. */
static void broadcast(rm_jobsync_t *self, rm_msg_type_t type, const void *body)
{
    uint8_t *buf = NULL;
    size_t len = 0, count = 0;
    rm_err_t err;
    const rm_member_peer_t *peers = rm_member_peers(self->member, &count);
    if (!peers || count == 0)
        return;
    if (rm_msg_encode(type, 0, body, &buf, &len, &err) != 0) {
        rm_log_warning("jobs: cannot encode %s: %s", rm_msg_name(type), err.msg);
        return;
    }
    rm_member_broadcast(self->member, buf, len);
    free(buf);
}

static int sync_body(rm_job_t *job, bool want_held, rm_job_sync_t *body, rm_err_t *err)
{
    memset(body, 0, sizeof *body);
    body->want_held = want_held;
    return rm_job_export(job, &body->record.data, &body->record.len, err);
}

void rm_jobsync_flush(rm_jobsync_t *self)
{
    rm_job_t *job;
    while ((job = rm_jobs_take_dirty(self->jobs))) {
        if (!rm_job_has_changes(job))
            continue;
        uint8_t *frames = NULL;
        size_t len = 0;
        bool whole = false;
        rm_err_t err;
        if (rm_job_take_changes(job, &frames, &len, &whole, &err) != 0) {
            rm_log_warning("jobs: %s", err.msg);
            continue;
        }
        if (whole) {
            rm_job_sync_t body;
            if (sync_body(job, false, &body, &err) == 0)
                broadcast(self, RM_MSG_JOB_SYNC, &body);
            free(body.record.data);
        } else if (frames) {
            rm_job_delta_t body = {.job_id = (char *)rm_job_id(job),
                                   .frames = {.data = frames, .len = len}};
            broadcast(self, RM_MSG_JOB_DELTA, &body);
        }
        free(frames);
    }
}

/* ---------------------------------------------------------------- digests */

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const rm_digest_entry_t *)a)->job_id, ((const rm_digest_entry_t *)b)->job_id);
}

/*  Our digest: borrowed job ids, so free only the array. */
static int our_digest(rm_jobsync_t *self, rm_job_digest_t *out, bool reply)
{
    size_t n = rm_jobs_count(self->jobs);
    memset(out, 0, sizeof *out);
    out->reply = reply;
    if (n > RM_MAX_DIGEST)
        n = RM_MAX_DIGEST;
    out->jobs.items = calloc(n ? n : 1, sizeof *out->jobs.items);
    if (!out->jobs.items)
        return -1;
    for (size_t i = 0; i < n; i++) {
        rm_job_t *job = rm_jobs_at(self->jobs, i);
        if (rm_job_digest(job, &out->jobs.items[out->jobs.count].digest, NULL) == 0)
            out->jobs.items[out->jobs.count++].job_id = (char *)rm_job_id(job);
    }
    return 0;
}

/*  XOR over every job held of its digest entry (cached per version): equal
    summaries, equal records (but for a collision nobody gains from). */
static void our_summary(rm_jobsync_t *self, rm_hash_t *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0, n = rm_jobs_count(self->jobs); i < n; i++) {
        rm_hash_t e;
        if (rm_job_digest_entry(rm_jobs_at(self->jobs, i), &e, NULL) != 0)
            continue;
        for (size_t k = 0; k < sizeof e.b; k++)
            out->b[k] ^= e.b[k];
    }
}

/*  The periodic question: only our summary; a peer that differs answers
    with its whole digest. */
static void send_summary(rm_jobsync_t *self, const char *addr)
{
    rm_job_digest_t digest = {.reply = true};
    our_summary(self, &digest.summary);
    send_job_message(self, addr, RM_MSG_JOB_DIGEST, 0, &digest);
}

static void send_digest(rm_jobsync_t *self, const char *addr, bool reply)
{
    rm_job_digest_t digest;
    if (our_digest(self, &digest, reply) != 0)
        return;
    send_job_message(self, addr, RM_MSG_JOB_DIGEST, 0, &digest);
    free(digest.jobs.items);
}

/*  Every job of ours whose record differs from, or is missing in, theirs
    goes to them whole. */
static void answer_digest(rm_jobsync_t *self, const char *from, rm_job_digest_t *theirs)
{
    if (theirs->jobs.count == 0 && !rm_hash_is_zero(&theirs->summary)) {
        rm_hash_t ours;
        our_summary(self, &ours);
        if (memcmp(ours.b, theirs->summary.b, sizeof ours.b) != 0)
            send_digest(self, from, true);
        return;
    }
    if (theirs->jobs.count > 0)
        qsort(theirs->jobs.items, theirs->jobs.count, sizeof *theirs->jobs.items, cmp_entry);
    for (size_t i = 0; i < rm_jobs_count(self->jobs); i++) {
        rm_job_t *job = rm_jobs_at(self->jobs, i);
        rm_digest_entry_t key = {.job_id = (char *)rm_job_id(job)};
        const rm_digest_entry_t *found = theirs->jobs.count == 0
                                             ? NULL
                                             : bsearch(&key, theirs->jobs.items, theirs->jobs.count,
                                                       sizeof *theirs->jobs.items, cmp_entry);
        rm_hash_t ours;
        if (rm_job_digest(job, &ours, NULL) != 0 ||
            (found && memcmp(found->digest.b, ours.b, sizeof ours.b) == 0))
            continue;
        rm_job_sync_t body;
        rm_err_t err;
        if (sync_body(job, false, &body, &err) == 0)
            send_job_message(self, from, RM_MSG_JOB_SYNC, 0, &body);
        free(body.record.data);
    }
    if (theirs->reply)
        send_digest(self, from, false);
}

/* ---------------------------------------------------------------- projects */

static void on_project_fetched(void *arg, const rm_hash_t *hash, int status, const char *error)
{
    rm_jobsync_t *self = arg;
    for (size_t i = 0; i < self->projects.count; i++) {
        project_t *p = &self->projects.items[i];
        if (p->state != PROJECT_FETCHING || memcmp(p->manifest.b, hash->b, 32) != 0)
            continue;
        p->state = status == 0 ? PROJECT_READY : PROJECT_FAILED;
        p->nowhere = status == RM_ENOTFOUND;
        p->retry_at = zclock_mono() + RM_JOBSYNC_PROJECT_RETRY_MS;
        if (status == 0 && p->held_to[0]) {
            rm_job_ref_t body = {.job_id = p->job_id};
            send_job_message(self, p->held_to, RM_MSG_JOB_HELD, 0, &body);
            p->held_to[0] = '\0';
        }
        if (status != 0) {
            rm_log_warning("job %s: cannot fetch its project yet: %s", p->job_id, error);
            rm_job_t *job = rm_jobs_find(self->jobs, p->job_id);
            if (job && self->lacking_fn)
                self->lacking_fn(self->lacking_arg, job, status, error);
        }
    }
    for (size_t i = 0; i < self->helds.count;) {
        held_t *h = &self->helds.items[i];
        if (memcmp(h->manifest.b, hash->b, 32) != 0) {
            i++;
            continue;
        }
        if (status == 0) {
            rm_job_ref_t body = {.job_id = h->job_id};
            send_job_message(self, h->from, RM_MSG_JOB_HELD, h->req, &body);
        } else {
            uint8_t *buf = NULL;
            size_t len = 0;
            if (rm_msg_encode_error(h->req, (rm_code_t)status, error, &buf, &len, NULL) == 0)
                rm_member_send(self->member, h->from, buf, len, NULL);
            free(buf);
        }
        self->helds.items[i] = self->helds.items[--self->helds.count];
    }
}

static project_t *find_project(rm_jobsync_t *self, const char *job_id)
{
    for (size_t i = 0; i < self->projects.count; i++)
        if (strcmp(self->projects.items[i].job_id, job_id) == 0)
            return &self->projects.items[i];
    return NULL;
}

static void fetch_project(rm_jobsync_t *self, project_t *p, const char *first_addr)
{
    const char *sources[MAX_SOURCES];
    size_t n = 0;
    if (first_addr)
        sources[n++] = first_addr;
    n += rm_jobsync_sources(self, NULL, sources + n, MAX_SOURCES - n);
    p->state = PROJECT_FETCHING;
    rm_err_t err;
    rm_hash_t manifest = p->manifest;
    /* The callback may run before this returns (all here already). */
    if (rm_xfer_fetch(self->xfer, &manifest, true, sources, n, on_project_fetched, self, &err) !=
        0) {
        p = find_project(self, p->job_id);
        if (p) {
            p->state = PROJECT_FAILED;
            p->retry_at = zclock_mono() + RM_JOBSYNC_PROJECT_RETRY_MS;
        }
    }
}

static project_t *track_project(rm_jobsync_t *self, rm_job_t *job, const char *first_addr,
                                bool tell_held)
{
    project_t *p = find_project(self, rm_job_id(job));
    if (p)
        return p;
    p = PUSH(self->projects);
    if (!p)
        return NULL;
    snprintf(p->job_id, sizeof p->job_id, "%s", rm_job_id(job));
    p->manifest = rm_job_spec(job)->manifest;
    if (tell_held && first_addr && !rm_job_finished(job))
        snprintf(p->held_to, sizeof p->held_to, "%s", first_addr);
    fetch_project(self, p, first_addr);
    return find_project(self, rm_job_id(job));
}

bool rm_jobsync_project_nowhere(rm_jobsync_t *self, const char *job_id)
{
    project_t *p = find_project(self, job_id);
    return p && p->state == PROJECT_FAILED && p->nowhere;
}

bool rm_jobsync_project_ready(rm_jobsync_t *self, rm_job_t *job)
{
    project_t *p = track_project(self, job, NULL, false);
    return p && p->state == PROJECT_READY;
}

/* ---------------------------------------------------------------- messages */

static void merged(rm_jobsync_t *self, rm_job_t *job, bool created, const char *from)
{
    if (created)
        track_project(self, job, from, true);
    if (self->changed_fn)
        self->changed_fn(self->changed_arg, job, created);
}

/*  A peer offered a job removed here: its removal goes back (a job past
    retention needs none: the peer deletes it itself). */
static void removed_again(rm_jobsync_t *self, const char *from, const uint8_t *record, size_t len)
{
    char id[65];
    const rm_bin_t *removal = rm_job_record_peek_id(record, len, id, sizeof id) == 0
                                  ? rm_jobs_removal(self->jobs, id)
                                  : NULL;
    if (!removal)
        return;
    rm_job_remove_t body = {.removals = {(rm_bin_t *)removal, 1}};
    send_job_message(self, from, RM_MSG_JOB_REMOVE, 0, &body);
}

static void handle_sync(rm_jobsync_t *self, const char *from, const rm_cred_t *who,
                        const rm_msg_t *msg)
{
    const rm_job_sync_t *sync = &msg->u.job_sync;
    rm_job_t *job = NULL;
    bool changed = false, known_before;
    rm_err_t err;
    size_t before = rm_jobs_count(self->jobs);
    if (rm_jobs_merge(self->jobs, sync->record.data, sync->record.len, &job, &changed, &err) != 0) {
        if (err.code == RM_ENOTFOUND) { /* removed or past retention: not an attack */
            removed_again(self, from, sync->record.data, sync->record.len);
            return;
        }
        rm_log_warning("jobs: record from %s refused: %s", who->name, err.msg);
        uint8_t *buf = NULL;
        size_t len = 0;
        if (sync->want_held &&
            rm_msg_encode_error(msg->req, err.code, err.msg, &buf, &len, NULL) == 0)
            rm_member_send(self->member, from, buf, len, NULL);
        free(buf);
        return;
    }
    known_before = rm_jobs_count(self->jobs) == before;
    if (changed)
        merged(self, job, !known_before, from);
    if (!sync->want_held)
        return;
    /* Held = the record is on disk (it is, merged) and so is the project. */
    project_t *p = track_project(self, job, from, false);
    if (p && p->state == PROJECT_READY) {
        rm_job_ref_t body = {.job_id = (char *)rm_job_id(job)};
        send_job_message(self, from, RM_MSG_JOB_HELD, msg->req, &body);
        return;
    }
    held_t *h = PUSH(self->helds);
    if (!h)
        return;
    snprintf(h->from, sizeof h->from, "%s", from);
    snprintf(h->job_id, sizeof h->job_id, "%s", rm_job_id(job));
    h->manifest = rm_job_spec(job)->manifest;
    h->req = msg->req;
    if (p && p->state == PROJECT_FAILED)
        fetch_project(self, p, from);
}

static void handle_held(rm_jobsync_t *self, const rm_cred_t *who, const rm_msg_t *msg)
{
    for (size_t i = 0; i < self->waiters.count;) {
        waiter_t w = self->waiters.items[i];
        if (strcmp(w.job_id, msg->u.job_held.job_id) != 0) {
            i++;
            continue;
        }
        self->waiters.items[i] = self->waiters.items[--self->waiters.count];
        rm_job_t *job = rm_jobs_find(self->jobs, w.job_id);
        if (job)
            rm_job_log(job, "held by %s too", who->name);
        w.fn(w.arg, w.job_id, 0, "");
    }
}

static void handle_delta(rm_jobsync_t *self, const char *from, const rm_cred_t *who,
                         const rm_msg_t *msg)
{
    rm_job_t *job = rm_jobs_find(self->jobs, msg->u.job_delta.job_id);
    const rm_bin_t *removal = job ? NULL : rm_jobs_removal(self->jobs, msg->u.job_delta.job_id);
    if (removal) {
        rm_job_remove_t body = {.removals = {(rm_bin_t *)removal, 1}};
        send_job_message(self, from, RM_MSG_JOB_REMOVE, 0, &body);
        return;
    }
    if (!job) { /* the whole record has not reached us: ask for what we lack */
        send_digest(self, from, false);
        return;
    }
    bool changed = false;
    rm_err_t err;
    if (rm_job_apply_changes(job, msg->u.job_delta.frames.data, msg->u.job_delta.frames.len,
                             &changed, &err) != 0)
        rm_log_warning("jobs: frames from %s refused: %s", who->name, err.msg);
    else if (changed)
        merged(self, job, false, from);
}

bool rm_jobsync_handle(rm_jobsync_t *self, const char *from, const rm_cred_t *who,
                       const rm_msg_t *msg)
{
    switch (msg->type) {
    case RM_MSG_JOB_SYNC:
        handle_sync(self, from, who, msg);
        return true;
    case RM_MSG_JOB_HELD:
        handle_held(self, who, msg);
        return true;
    case RM_MSG_JOB_DELTA:
        handle_delta(self, from, who, msg);
        return true;
    case RM_MSG_JOB_DIGEST:
        answer_digest(self, from, (rm_job_digest_t *)&msg->u.job_digest);
        return true;
    default:
        return false;
    }
}

/* ---------------------------------------------------------------- replicate */

int rm_jobsync_replicate(rm_jobsync_t *self, rm_job_t *job, int64_t timeout_ms,
                         rm_jobsync_held_fn *fn, void *arg, rm_err_t *err)
{
    const char *sources[MAX_SOURCES];
    size_t n = rm_jobsync_sources(self, NULL, sources, MAX_SOURCES);
    if (n == 0) {
        size_t count = 0;
        const rm_member_peer_t *peers = rm_member_peers(self->member, &count);
        bool others = false;
        for (size_t i = 0; peers && i < count; i++)
            others |= peers[i].alive;
        if (!others) { /* alone: there is no second node to wait for */
            fn(arg, rm_job_id(job), 0, "");
            return 0;
        }
    }
    /* Asked again (the client sent SUBMIT again): the wait goes on as it
       was, and the members hear of the job again. */
    waiter_t *w = NULL;
    for (size_t i = 0; i < self->waiters.count && !w; i++)
        if (strcmp(self->waiters.items[i].job_id, rm_job_id(job)) == 0 &&
            self->waiters.items[i].fn == fn && self->waiters.items[i].arg == arg)
            w = &self->waiters.items[i];
    bool fresh = !w;
    if (fresh && !(w = PUSH(self->waiters)))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    if (fresh) {
        snprintf(w->job_id, sizeof w->job_id, "%s", rm_job_id(job));
        w->fn = fn;
        w->arg = arg;
        w->deadline = zclock_mono() + timeout_ms;
    }
    rm_job_sync_t body;
    if (sync_body(job, true, &body, err) != 0) {
        if (fresh)
            self->waiters.count--;
        return -1;
    }
    uint64_t req = rm_reqid_next(&self->ids);
    for (size_t i = 0; i < n; i++)
        send_job_message(self, sources[i], RM_MSG_JOB_SYNC, req, &body);
    free(body.record.data);
    return 0;
}

void rm_jobsync_replicate_extend(rm_jobsync_t *self, const char *job_id, int64_t deadline)
{
    for (size_t i = 0; i < self->waiters.count; i++)
        if (strcmp(self->waiters.items[i].job_id, job_id) == 0 &&
            self->waiters.items[i].deadline < deadline)
            self->waiters.items[i].deadline = deadline;
}

/* ---------------------------------------------------------------- tick */

static const char *random_peer(rm_jobsync_t *self)
{
    size_t count = 0, alive = 0;
    const rm_member_peer_t *peers = rm_member_peers(self->member, &count);
    for (size_t i = 0; peers && i < count; i++)
        alive += peers[i].alive && peers[i].addr[0];
    if (alive == 0)
        return NULL;
    uint32_t pick = randombytes_uniform((uint32_t)alive);
    for (size_t i = 0; i < count; i++)
        if (peers[i].alive && peers[i].addr[0] && pick-- == 0)
            return peers[i].addr;
    return NULL;
}

void rm_jobsync_tick(rm_jobsync_t *self, int64_t now)
{
    if (now >= self->next_digest) {
        self->next_digest = now + RM_JOBSYNC_DIGEST_MS;
        const char *peer = random_peer(self);
        if (peer)
            send_summary(self, peer);
    }
    for (size_t i = 0; i < self->waiters.count;) {
        waiter_t w = self->waiters.items[i];
        if (now < w.deadline) {
            i++;
            continue;
        }
        self->waiters.items[i] = self->waiters.items[--self->waiters.count];
        w.fn(w.arg, w.job_id, RM_EAGAIN,
             "the job is stored on this node, but no second node confirmed holding it in "
             "time; submit again to wait for one (the submission is idempotent)");
    }
    for (size_t i = 0; i < self->projects.count; i++) {
        project_t *p = &self->projects.items[i];
        if (p->state != PROJECT_FAILED || now < p->retry_at)
            continue;
        rm_job_t *job = rm_jobs_find(self->jobs, p->job_id);
        if (job && !rm_job_finished(job))
            fetch_project(self, p, NULL);
    }
}

int64_t rm_jobsync_wakeup(rm_jobsync_t *self, int64_t now)
{
    int64_t wait = self->next_digest - now;
    for (size_t i = 0; i < self->waiters.count; i++)
        if (self->waiters.items[i].deadline - now < wait)
            wait = self->waiters.items[i].deadline - now;
    return wait < 0 ? 0 : wait;
}
