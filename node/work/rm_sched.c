#include "rm_log.h"
#include "rm_sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

/*  One frame handed to one worker.  A duplicated frame has two flights. */
typedef struct {
    char job_id[65];
    uint64_t frame;
    char worker[RM_MAX_NAME + 1];
    int64_t assigned_at;
    int64_t expected_done; /* 0: unknown */
    bool copy;             /* the second copy of a frame */
    bool duplicated;       /* a copy of it runs elsewhere */
} flight_t;

typedef struct {
    char job_id[65];
    size_t from;
} hint_t;

#define SPEED_NODES 64
#define RM_SCHED_RECONCILE_MS 1000 /* nodes timed per job; more share the job's mean */

typedef struct {
    char job_id[65];
    uint64_t done; /* the job's done frames when computed */
    struct {
        char name[RM_MAX_NAME + 1];
        uint64_t sum, n;
    } nodes[SPEED_NODES];
    size_t nnodes;
    uint64_t all_sum, all_n;
} speed_t;

typedef struct {
    char name[RM_MAX_NAME + 1];
    bool alive, draining, can_render;
    uint64_t slots, ms;
    int64_t last_report; /* 0: none since we act */
    int64_t last_reconcile;
    int64_t busy_until; /* when its slots are expected free, 0 unknown */
} worker_t;

struct _rm_sched_t {
    rm_jobs_t *jobs;
    uint64_t max_attempts;
    bool acting;
    uint64_t epoch;
    uint32_t seq;
    char name[RM_MAX_NAME + 1];
    flight_t *flights;
    size_t nflights, flights_cap;
    worker_t *workers;
    size_t nworkers;
    int64_t acting_since;
    uint32_t seq_first_assign; /* 0 until the epoch's first assignment */
    hint_t *hints;             /* see scan_hint */
    speed_t *speeds;           /* see job_speed */
    zhashx_t *index;           /* see index_key */
    size_t nspeeds;
    size_t nhints, hints_cap;
    uint64_t assigned;
};

rm_sched_t *rm_sched_new(rm_jobs_t *jobs, uint64_t max_attempts, rm_err_t *err)
{
    rm_sched_t *self = calloc(1, sizeof *self);
    if (!self) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    self->jobs = jobs;
    self->max_attempts = max_attempts ? max_attempts : 3;
    if (!(self->index = zhashx_new())) {
        free(self);
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    return self;
}

void rm_sched_destroy(rm_sched_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->flights);
    free((*self_p)->hints);
    zhashx_destroy(&(*self_p)->index);
    free((*self_p)->speeds);
    free((*self_p)->workers);
    free(*self_p);
    *self_p = NULL;
}

bool rm_sched_acting(const rm_sched_t *self)
{
    return self->acting;
}

size_t rm_sched_in_flight(rm_sched_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < self->nflights; i++) {
        rm_job_t *job = rm_jobs_find(self->jobs, self->flights[i].job_id);
        const rm_frame_rec_t *rec = job ? rm_job_frame(job, self->flights[i].frame) : NULL;
        n += rec && (rec->state == RM_FRAME_PENDING || rec->state == RM_FRAME_ASSIGNED);
    }
    return n;
}

uint64_t rm_sched_assigned(const rm_sched_t *self)
{
    return self->assigned;
}

static uint64_t next_stamp(rm_sched_t *self)
{
    return RM_STAMP(self->epoch, ++self->seq);
}

static worker_t *find_worker(rm_sched_t *self, const char *name)
{
    for (size_t i = 0; i < self->nworkers; i++)
        if (strcmp(self->workers[i].name, name) == 0)
            return &self->workers[i];
    return NULL;
}

/* ---------------------------------------------------------------- flights */

/*  The flights indexed by "job/frame" (how many copies) and by
    "job/frame@worker", so that lookups cost no scan. */
static void index_key(char *key, size_t size, const char *job_id, uint64_t frame,
                      const char *worker)
{
    snprintf(key, size, "%s/%llu%s%s", job_id, (unsigned long long)frame, worker ? "@" : "",
             worker ? worker : "");
}

static void index_add(rm_sched_t *self, const char *key, int delta)
{
    uintptr_t n = (uintptr_t)zhashx_lookup(self->index, key);
    if (delta < 0 && n <= 1)
        zhashx_delete(self->index, key);
    else
        zhashx_update(self->index, key, (void *)(n + (uintptr_t)(intptr_t)delta));
}

static void index_flight(rm_sched_t *self, const flight_t *f, int delta)
{
    char key[RM_MAX_NAME + 100];
    snprintf(key, sizeof key, "#%s", f->worker); /* a worker's flights */
    index_add(self, key, delta);
    index_key(key, sizeof key, f->job_id, f->frame, NULL);
    index_add(self, key, delta);
    index_key(key, sizeof key, f->job_id, f->frame, f->worker);
    index_add(self, key, delta);
}

static uint64_t flights_of(rm_sched_t *self, const char *worker)
{
    char key[RM_MAX_NAME + 2];
    snprintf(key, sizeof key, "#%s", worker);
    return (uint64_t)(uintptr_t)zhashx_lookup(self->index, key);
}

static bool in_index(rm_sched_t *self, const char *job_id, uint64_t frame, const char *worker)
{
    char key[RM_MAX_NAME + 100];
    index_key(key, sizeof key, job_id, frame, worker);
    return zhashx_lookup(self->index, key) != NULL;
}

static void clear_flights(rm_sched_t *self)
{
    self->nflights = 0;
    zhashx_purge(self->index);
}

static flight_t *add_flight(rm_sched_t *self, const char *job_id, uint64_t frame,
                            const char *worker, int64_t now, int64_t expected_done)
{
    if (self->nflights == self->flights_cap) {
        size_t cap = self->flights_cap ? self->flights_cap * 2 : 64;
        flight_t *grown = realloc(self->flights, cap * sizeof *grown);
        if (!grown)
            return NULL;
        self->flights = grown;
        self->flights_cap = cap;
    }
    flight_t *f = &self->flights[self->nflights++];
    memset(f, 0, sizeof *f);
    snprintf(f->job_id, sizeof f->job_id, "%s", job_id);
    snprintf(f->worker, sizeof f->worker, "%s", worker);
    f->frame = frame;
    f->assigned_at = now;
    f->expected_done = expected_done;
    index_flight(self, f, +1);
    return f;
}

static bool frame_in_flight(rm_sched_t *self, const char *job_id, uint64_t frame)
{
    return in_index(self, job_id, frame, NULL);
}

static void remove_flight(rm_sched_t *self, size_t i)
{
    index_flight(self, &self->flights[i], -1);
    self->flights[i] = self->flights[--self->nflights];
}

static bool live(const rm_frame_rec_t *rec)
{
    return rec && (rec->state == RM_FRAME_PENDING || rec->state == RM_FRAME_ASSIGNED);
}

/*  Removes flight i and, unless another copy runs, re-stamps its frame
    pending so that the next request picks it up. */
static void give_back_flight(rm_sched_t *self, size_t i, const char *why)
{
    flight_t f = self->flights[i];
    remove_flight(self, i);
    self->nhints = 0;
    rm_job_t *job = rm_jobs_find(self->jobs, f.job_id);
    if (!job || !live(rm_job_frame(job, f.frame)) || frame_in_flight(self, f.job_id, f.frame))
        return;
    rm_job_frame_reissue(job, f.frame, next_stamp(self), why);
    rm_job_log(job, "frame %llu given back: %s", (unsigned long long)f.frame, why);
}

/*  Every frame held assigned that no flight covers becomes one: after a
    takeover, or an assignment merged in from an older coordinator. */
static void adopt_assigned(rm_sched_t *self, int64_t now)
{
    size_t n = 0;
    rm_job_t *const *active = rm_jobs_active(self->jobs, &n);
    for (size_t j = 0; j < n; j++) {
        rm_job_t *job = active[j];
        for (size_t i = 0; i < rm_job_frame_count(job); i++) {
            const rm_frame_rec_t *rec = rm_job_frame_at(job, i);
            if (rec->state == RM_FRAME_ASSIGNED &&
                !frame_in_flight(self, rm_job_id(job), rec->frame))
                add_flight(self, rm_job_id(job), rec->frame, rec->node ? rec->node : "", now, 0);
        }
    }
}

void rm_sched_set_acting(rm_sched_t *self, bool acting, uint64_t epoch, const char *name,
                         int64_t now)
{
    if (acting && (!self->acting || epoch != self->epoch)) {
        if (epoch != self->epoch)
            self->seq = 0; /* a stamp must never repeat within an epoch */
        clear_flights(self);
        self->seq_first_assign = 0;
        self->acting_since = now;
        for (size_t i = 0; i < self->nworkers; i++)
            self->workers[i].last_report = now;
        snprintf(self->name, sizeof self->name, "%s", name);
        self->epoch = epoch;
        self->acting = true;
        adopt_assigned(self, now);
    } else if (!acting) {
        self->acting = false;
        clear_flights(self);
    }
}

int rm_sched_set_workers(rm_sched_t *self, const rm_sched_worker_t *workers, size_t count,
                         rm_err_t *err)
{
    worker_t *next = calloc(count ? count : 1, sizeof *next);
    if (!next)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        worker_t *w = &next[i];
        snprintf(w->name, sizeof w->name, "%s", workers[i].name);
        w->alive = workers[i].alive;
        w->draining = workers[i].draining;
        w->can_render = workers[i].can_render && workers[i].slots > 0;
        w->slots = workers[i].slots;
        w->ms = workers[i].ms_per_frame;
        const worker_t *old = find_worker(self, w->name);
        w->last_report = old ? old->last_report : self->acting_since;
        w->last_reconcile = old ? old->last_reconcile : 0;
        w->busy_until = old ? old->busy_until : 0;
    }
    free(self->workers);
    self->workers = next;
    self->nworkers = count;
    return 0;
}

/* ---------------------------------------------------------------- choices */

/*  Mean render time of the job's frames that `worker` finished; else what
    it gossips; else the job's mean over every node; else 0. */
/*  Render times of a job's finished frames, per node: recomputed only
    when the job's count of done frames changed. */
static speed_t *job_speed(rm_sched_t *self, const rm_job_t *job)
{
    speed_t *sp = NULL;
    for (size_t i = 0; i < self->nspeeds && !sp; i++)
        if (strcmp(self->speeds[i].job_id, rm_job_id(job)) == 0)
            sp = &self->speeds[i];
    if (!sp) {
        speed_t *grown = realloc(self->speeds, (self->nspeeds + 1) * sizeof *grown);
        if (!grown)
            return NULL;
        self->speeds = grown;
        sp = &self->speeds[self->nspeeds++];
        memset(sp, 0, sizeof *sp);
        snprintf(sp->job_id, sizeof sp->job_id, "%s", rm_job_id(job));
        sp->done = UINT64_MAX;
    }
    uint64_t done = rm_job_count(job, RM_FRAME_DONE);
    if (sp->done == done)
        return sp;
    sp->done = done;
    sp->nnodes = 0;
    sp->all_sum = sp->all_n = 0;
    for (size_t i = 0; i < rm_job_frame_count(job); i++) {
        const rm_frame_rec_t *rec = rm_job_frame_at(job, i);
        if (rec->state != RM_FRAME_DONE || rec->render_ms == 0 || !rec->node)
            continue;
        sp->all_sum += rec->render_ms;
        sp->all_n++;
        size_t k = 0;
        while (k < sp->nnodes && strcmp(sp->nodes[k].name, rec->node) != 0)
            k++;
        if (k == sp->nnodes) {
            if (k == SPEED_NODES)
                continue;
            snprintf(sp->nodes[k].name, sizeof sp->nodes[k].name, "%s", rec->node);
            sp->nodes[k].sum = sp->nodes[k].n = 0;
            sp->nnodes++;
        }
        sp->nodes[k].sum += rec->render_ms;
        sp->nodes[k].n++;
    }
    return sp;
}

/*  Mean render time of the job's frames that `worker` finished; else what
    it gossips; else the job's mean over every node; else 0. */
static uint64_t ms_for(rm_sched_t *self, const rm_job_t *job, const worker_t *worker)
{
    const speed_t *sp = job_speed(self, job);
    for (size_t k = 0; sp && k < sp->nnodes; k++)
        if (strcmp(sp->nodes[k].name, worker->name) == 0)
            return sp->nodes[k].sum / sp->nodes[k].n;
    if (worker->ms)
        return worker->ms;
    return sp && sp->all_n ? sp->all_sum / sp->all_n : 0;
}

static bool usable(const worker_t *w)
{
    return w->alive && !w->draining && w->can_render;
}

/*  Every worker that could render the frame has failed it: then those
    may try again (a one-node mesh retries on its only node).  A worker
    blocklisted for the job cannot render it. */
static bool every_worker_failed(const rm_sched_t *self, const rm_job_t *job,
                                const rm_frame_rec_t *rec)
{
    for (size_t i = 0; i < self->nworkers; i++) {
        const worker_t *o = &self->workers[i];
        if (usable(o) && !rm_job_record_failed_on(rec, o->name) &&
            rm_job_failures_on(job, o->name) < RM_SCHED_MAX_NODE_FAILURES)
            return false;
    }
    return true;
}

static bool takeable(const rm_sched_t *self, const rm_job_t *job, const rm_frame_rec_t *rec,
                     const char *worker)
{
    return rec->state == RM_FRAME_PENDING &&
           (!rm_job_record_failed_on(rec, worker) || every_worker_failed(self, job, rec));
}

static bool in_list(char *const *items, uint32_t count, const char *s)
{
    for (uint32_t i = 0; i < count; i++)
        if (strcmp(items[i], s) == 0)
            return true;
    return false;
}

static bool job_open_to(const rm_sched_t *self, rm_job_t *job, const worker_t *w,
                        const rm_work_req_t *req)
{
    (void)self;
    return !rm_job_finished(job) && in_list(req->ready.items, req->ready.count, rm_job_id(job)) &&
           rm_job_failures_on(job, w->name) < RM_SCHED_MAX_NODE_FAILURES;
}

/*  Frames for one task: how many the worker should take of what is left,
    by its speed against the whole mesh's (only near the tail, where it
    matters). */
static uint32_t task_size(rm_sched_t *self, const rm_job_t *job, const worker_t *w,
                          uint64_t pending)
{
    uint64_t chunk = rm_job_spec(job)->chunk ? rm_job_spec(job)->chunk : 1;
    if (chunk > RM_MAX_TASK_FRAMES)
        chunk = RM_MAX_TASK_FRAMES;
    uint64_t slots = 0;
    for (size_t i = 0; i < self->nworkers; i++)
        if (usable(&self->workers[i]))
            slots += self->workers[i].slots;
    if (chunk == 1 || pending >= chunk * (slots ? slots : 1))
        return (uint32_t)chunk;
    uint64_t mine = ms_for(self, job, w);
    double rate = 0;
    for (size_t i = 0; i < self->nworkers; i++) {
        const worker_t *o = &self->workers[i];
        if (!usable(o))
            continue;
        uint64_t ms = ms_for(self, job, o);
        if (!ms || !mine)
            return (uint32_t)(pending / (slots ? slots : 1) ? pending / slots : 1);
        rate += (double)o->slots / (double)ms;
    }
    double share = rate > 0 ? (double)pending / (double)mine / rate : 1;
    uint64_t n = (uint64_t)(share + 0.999);
    if (n < 1)
        n = 1;
    return (uint32_t)(n < chunk ? n : chunk);
}

/*  Serving order: higher priority, then earlier submission (compared here:
    rm_jobs_create appends, so the table is not always in that order). */
static bool serve_before(const rm_job_t *a, const rm_job_t *b)
{
    const rm_job_spec_t *x = rm_job_spec(a), *y = rm_job_spec(b);
    int64_t px = rm_job_priority(a), py = rm_job_priority(b);
    if (px != py)
        return px > py;
    if (x->submitted_at != y->submitted_at)
        return x->submitted_at < y->submitted_at;
    return strcmp(x->job_id, y->job_id) < 0;
}

/*  The job to serve next: the highest priority, then the oldest, with a
    frame this worker may take.  *first: that frame's index. */
/*  Where a job's first pending frame may be: frames before it were not
    pending when last looked at.  Forgotten at every tick and give-back, so
    a frame that became pending by a merge is found within a tick. */
static size_t *scan_hint(rm_sched_t *self, const char *job_id)
{
    for (size_t i = 0; i < self->nhints; i++)
        if (strcmp(self->hints[i].job_id, job_id) == 0)
            return &self->hints[i].from;
    if (self->nhints == self->hints_cap) {
        size_t cap = self->hints_cap ? self->hints_cap * 2 : 16;
        hint_t *grown = realloc(self->hints, cap * sizeof *grown);
        if (!grown)
            return NULL;
        self->hints = grown;
        self->hints_cap = cap;
    }
    hint_t *h = &self->hints[self->nhints++];
    snprintf(h->job_id, sizeof h->job_id, "%s", job_id);
    h->from = 0;
    return &h->from;
}

static rm_job_t *pick_job(rm_sched_t *self, const worker_t *w, const rm_work_req_t *req,
                          size_t *first, uint64_t *pending)
{
    rm_job_t *best = NULL;
    uint64_t slots = 0;
    for (size_t i = 0; i < self->nworkers; i++)
        if (usable(&self->workers[i]))
            slots += self->workers[i].slots;
    size_t n = 0;
    rm_job_t *const *active = rm_jobs_active(self->jobs, &n);
    for (size_t j = 0; j < n; j++) {
        rm_job_t *job = active[j];
        if (!job_open_to(self, job, w, req) || (best && !serve_before(job, best)))
            continue;
        /* Counting pending frames matters only near the tail (task_size):
           stop once there are clearly more than the mesh takes at once. */
        uint64_t chunk = rm_job_spec(job)->chunk ? rm_job_spec(job)->chunk : 1;
        uint64_t enough = chunk > 1 ? chunk * (slots ? slots : 1) + 1 : 1;
        uint64_t count = 0;
        size_t at = SIZE_MAX, first_pending = SIZE_MAX;
        size_t *hint = scan_hint(self, rm_job_id(job));
        for (size_t i = hint ? *hint : 0; i < rm_job_frame_count(job); i++) {
            const rm_frame_rec_t *rec = rm_job_frame_at(job, i);
            if (rec->state != RM_FRAME_PENDING)
                continue;
            count++;
            if (first_pending == SIZE_MAX)
                first_pending = i;
            if (at == SIZE_MAX && takeable(self, job, rec, w->name))
                at = i;
            if (at != SIZE_MAX && count >= enough)
                break;
        }
        if (hint)
            *hint = first_pending == SIZE_MAX ? rm_job_frame_count(job) : first_pending;
        if (at != SIZE_MAX) {
            best = job;
            *first = at;
            *pending = count;
        }
    }
    return best;
}

/*  The grants of the frames just assigned, as the job signed them (none
    if this node signs nothing). */
static int task_grants(rm_task_t *t, rm_job_t *job, const uint64_t *frames, uint32_t n)
{
    uint8_t *sigs = malloc((size_t)n * 64);
    uint64_t *gens = calloc(n, sizeof *gens);
    bool reopened = false;
    if (!sigs || !gens) {
        free(sigs);
        free(gens);
        return -1;
    }
    for (uint32_t k = 0; k < n; k++) {
        const rm_frame_rec_t *rec = rm_job_frame(job, frames[k]);
        if (!rec || rec->grant_sig.len != 64) {
            free(sigs);
            free(gens);
            return 0;
        }
        memcpy(sigs + (size_t)k * 64, rec->grant_sig.data, 64);
        gens[k] = rec->gen;
        reopened |= rec->gen > 0;
    }
    t->grants = (rm_bin_t){.data = sigs, .len = (size_t)n * 64};
    if (reopened) { /* the worker's done record must name the generation signed */
        t->gens.items = gens;
        t->gens.count = n;
    } else {
        free(gens);
    }
    return 0;
}

static int add_task(rm_assign_t *out, rm_job_t *job, const uint64_t *frames, uint32_t n,
                    uint64_t stamp)
{
    const char *job_id = rm_job_id(job);
    rm_task_t *grown = realloc(out->tasks.items, (out->tasks.count + 1) * sizeof *grown);
    if (!grown)
        return -1;
    out->tasks.items = grown;
    rm_task_t *t = &out->tasks.items[out->tasks.count];
    memset(t, 0, sizeof *t);
    t->job_id = strdup(job_id);
    t->frames.items = malloc(n * sizeof(uint64_t));
    if (!t->job_id || !t->frames.items) {
        free(t->job_id);
        free(t->frames.items);
        return -1;
    }
    memcpy(t->frames.items, frames, n * sizeof(uint64_t));
    t->frames.count = n;
    t->stamp = stamp;
    out->tasks.count++;
    return task_grants(t, job, frames, n);
}

/*  Records an assignment made: in the job (stamped), in flight, in out. */
static int commit(rm_sched_t *self, rm_job_t *job, worker_t *w, const uint64_t *frames, uint32_t n,
                  int64_t now, bool copy, rm_assign_t *out, rm_err_t *err)
{
    /* A worker whose slots are all busy starts this task (its look-ahead)
       when they free: its frames are expected to finish that much later,
       which lets an idle worker take a copy of them at the tail. */
    int64_t start = now;
    if (flights_of(self, w->name) >= w->slots && w->busy_until > now)
        start = w->busy_until;
    uint64_t stamp = next_stamp(self);
    if (rm_job_assign(job, frames, n, w->name, stamp, err) != 0)
        return -1;
    uint64_t ms = ms_for(self, job, w);
    for (uint32_t k = 0; k < n; k++) {
        flight_t *f = add_flight(self, rm_job_id(job), frames[k], w->name, now,
                                 ms ? start + (int64_t)(ms * (k + 1)) : 0);
        if (f)
            f->copy = copy;
    }
    if (ms && start + (int64_t)(ms * n) > w->busy_until)
        w->busy_until = start + (int64_t)(ms * n);
    if (self->seq_first_assign == 0) {
        self->seq_first_assign = self->seq;
        /* Wall-clock ms: benchmarks line this up with the old
           coordinator's death. */
        rm_log_info("coordinator: first assignment of epoch %llu (to %s) at %lld",
                    (unsigned long long)self->epoch, w->name, (long long)zclock_time());
    }
    self->assigned += n;
    if (add_task(out, job, frames, n, stamp) != 0)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    return 0;
}

/*  Nothing pending: a copy of the frame expected to finish last, if this
    worker would finish it sooner. */
static int duplicate_tail(rm_sched_t *self, worker_t *w, const rm_work_req_t *req, int64_t now,
                          rm_assign_t *out, bool *found, rm_err_t *err)
{
    *found = false;
    flight_t *latest = NULL;
    rm_job_t *latest_job = NULL;
    for (size_t i = 0; i < self->nflights; i++) {
        flight_t *f = &self->flights[i];
        if (f->copy || f->duplicated || !f->expected_done || strcmp(f->worker, w->name) == 0 ||
            (latest && f->expected_done <= latest->expected_done))
            continue;
        rm_job_t *job = rm_jobs_find(self->jobs, f->job_id);
        const rm_frame_rec_t *rec = job ? rm_job_frame(job, f->frame) : NULL;
        if (!job || !live(rec) || !job_open_to(self, job, w, req) ||
            rm_job_record_failed_on(rec, w->name))
            continue;
        latest = f;
        latest_job = job;
    }
    if (!latest)
        return 0;
    uint64_t mine = ms_for(self, latest_job, w);
    if (!mine || now + (int64_t)mine >= latest->expected_done)
        return 0;
    latest->duplicated = true;
    uint64_t frame = latest->frame;
    rm_job_log(latest_job, "frame %llu also given to %s: %s is expected to take longer",
               (unsigned long long)frame, w->name, latest->worker);
    *found = true;
    return commit(self, latest_job, w, &frame, 1, now, true, out, err);
}

/*  What the worker renders: flights it no longer lists are given back;
    frames it lists that we did not know of become flights. */
static void reconcile(rm_sched_t *self, const char *worker, const rm_work_req_t *req, int64_t now)
{
    /* Looking for what the worker dropped walks every flight: once a
       second per worker is soon enough (a draining worker: every time). */
    worker_t *rw = find_worker(self, worker);
    bool walk = !rw || rw->draining || now - rw->last_reconcile >= RM_SCHED_RECONCILE_MS;
    if (rw && walk)
        rw->last_reconcile = now;
    for (size_t i = 0; walk && i < self->nflights;) {
        flight_t *f = &self->flights[i];
        if (strcmp(f->worker, worker) != 0) {
            i++;
            continue;
        }
        rm_job_t *job = rm_jobs_find(self->jobs, f->job_id);
        if (!job || !live(rm_job_frame(job, f->frame))) {
            remove_flight(self, i);
            continue;
        }
        bool listed = false;
        for (uint32_t t = 0; t < req->running.count && !listed; t++) {
            const rm_task_t *task = &req->running.items[t];
            if (strcmp(task->job_id, f->job_id) != 0)
                continue;
            for (uint32_t k = 0; k < task->frames.count && !listed; k++)
                listed = task->frames.items[k] == f->frame;
        }
        /* A draining worker refuses new ASSIGNs: none can be on its way. */
        const worker_t *w = find_worker(self, worker);
        int64_t grace = w && w->draining ? 0 : RM_SCHED_GRACE_MS;
        if (listed || now - f->assigned_at < grace) {
            i++;
            continue;
        }
        char why[RM_MAX_NAME + 64];
        snprintf(why, sizeof why, "%s no longer renders it", worker);
        give_back_flight(self, i, why);
    }
    for (uint32_t t = 0; t < req->running.count; t++) {
        const rm_task_t *task = &req->running.items[t];
        rm_job_t *job = rm_jobs_find(self->jobs, task->job_id);
        for (uint32_t k = 0; job && k < task->frames.count; k++) {
            uint64_t frame = task->frames.items[k];
            bool known = in_index(self, task->job_id, frame, worker);
            const rm_frame_rec_t *rec = rm_job_frame(job, frame);
            /* A frame assigned to another worker stays that worker's (a
               copy renders here, or the report is wrong). */
            if (known || !live(rec) ||
                (rec->state == RM_FRAME_ASSIGNED && rec->node && strcmp(rec->node, worker) != 0))
                continue;
            /* Given back meanwhile, yet still rendered there: it is that
               worker's again, rather than a second render elsewhere. */
            if (rec->state == RM_FRAME_PENDING &&
                rm_job_assign(job, &frame, 1, worker, next_stamp(self), NULL) != 0)
                continue;
            add_flight(self, task->job_id, frame, worker, now, 0);
        }
    }
}

int rm_sched_request(rm_sched_t *self, const char *worker, const rm_work_req_t *req, int64_t now,
                     rm_assign_t *out, rm_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (!self->acting)
        return rm_err_set(err, RM_EINVAL, "this node does not coordinate");
    out->epoch = self->epoch;
    if (!(out->coordinator = strdup(self->name)))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    const rm_job_trust_t *trust = rm_jobs_trust(self->jobs);
    if (trust && trust->cred.len > 0 && (out->coordinator_cred.data = malloc(trust->cred.len))) {
        memcpy(out->coordinator_cred.data, trust->cred.data, trust->cred.len);
        out->coordinator_cred.len = trust->cred.len;
    }
    worker_t *w = find_worker(self, worker);
    if (w) {
        w->last_report = now;
        uint64_t running = 0;
        for (uint32_t t = 0; t < req->running.count; t++)
            running += req->running.items[t].frames.count;
        if (running < w->slots) /* a slot is free now */
            w->busy_until = 0;
    }
    reconcile(self, worker, req, now);
    if (!w || !usable(w))
        return 0;
    uint64_t frames[RM_MAX_TASK_FRAMES];
    /* No more than its slots and one task of look-ahead, whatever it asks. */
    for (uint64_t slot = 0; slot < req->free && slot <= w->slots && slot < RM_MAX_ASSIGN_TASKS;
         slot++) {
        size_t first = 0;
        uint64_t pending = 0;
        rm_job_t *job = pick_job(self, w, req, &first, &pending);
        if (!job) {
            bool found;
            if (duplicate_tail(self, w, req, now, out, &found, err) != 0)
                return -1;
            if (!found)
                break;
            continue;
        }
        uint32_t want = task_size(self, job, w, pending), n = 0;
        for (size_t i = first; i < rm_job_frame_count(job) && n < want; i++) {
            const rm_frame_rec_t *rec = rm_job_frame_at(job, i);
            if (!takeable(self, job, rec, w->name))
                break; /* a task is consecutive frames */
            frames[n++] = rec->frame;
        }
        if (commit(self, job, w, frames, n, now, false, out, err) != 0)
            return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- tick */

/*  The Flamenco rules that end a job. */
static void check_job_failure(rm_sched_t *self, rm_job_t *job)
{
    char why[RM_ERR_MSG_MAX];
    for (size_t i = 0; i < rm_job_frame_count(job); i++) {
        const rm_frame_rec_t *rec = rm_job_frame_at(job, i);
        if (rec->state == RM_FRAME_FAILED) /* failed for good, the job not yet */
            snprintf(why, sizeof why, "frame %llu failed: %s", (unsigned long long)rec->frame,
                     rec->error ? rec->error : "");
        else if (!live(rec) || rec->attempts == 0)
            continue;
        else if (rec->failed_on.count >= RM_SCHED_MAX_NODE_FAILURES)
            snprintf(why, sizeof why, "frame %llu failed on %u nodes: %s",
                     (unsigned long long)rec->frame, rec->failed_on.count,
                     rec->error ? rec->error : "");
        else if (rec->attempts >= self->max_attempts)
            snprintf(why, sizeof why, "frame %llu failed %llu times: %s",
                     (unsigned long long)rec->frame, (unsigned long long)rec->attempts,
                     rec->error ? rec->error : "");
        else
            continue;
        rm_log_warning("job %s fails: %s", rm_job_id(job), why);
        rm_job_fail(job, why, NULL);
        return;
    }
    size_t usable_workers = 0, blocked = 0;
    for (size_t i = 0; i < self->nworkers; i++) {
        if (!usable(&self->workers[i]))
            continue;
        usable_workers++;
        blocked += rm_job_failures_on(job, self->workers[i].name) >= RM_SCHED_MAX_NODE_FAILURES;
    }
    if (usable_workers > 0 && blocked == usable_workers) {
        snprintf(why, sizeof why,
                 "every node that can render failed %d frames of it and is blocklisted for it",
                 RM_SCHED_MAX_NODE_FAILURES);
        rm_log_warning("job %s fails: %s", rm_job_id(job), why);
        rm_job_fail(job, why, NULL);
    }
}

void rm_sched_tick(rm_sched_t *self, int64_t now)
{
    if (!self->acting)
        return;
    self->nhints = 0;
    for (size_t i = 0; i < self->nflights;) {
        flight_t *f = &self->flights[i];
        const worker_t *w = find_worker(self, f->worker);
        char why[RM_MAX_NAME + 64];
        if (!w || !w->alive)
            snprintf(why, sizeof why, "%s is %s", f->worker, w ? "not alive" : "not a member");
        else if (now - w->last_report > RM_SCHED_SILENT_MS)
            snprintf(why, sizeof why, "%s stopped reporting", f->worker);
        else {
            i++;
            continue;
        }
        give_back_flight(self, i, why);
    }
    adopt_assigned(self, now);
    size_t n = 0;
    rm_job_t *const *active = rm_jobs_active(self->jobs, &n);
    for (size_t j = 0; j < n; j++)
        if (!rm_job_finished(active[j])) /* may have failed in this loop */
            check_job_failure(self, active[j]);
}
