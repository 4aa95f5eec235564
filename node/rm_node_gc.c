#include "rm_node_gc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rm_gc.h"
#include "rm_log.h"
#include "rm_s3_import.h"

#define GC_EVERY_MS (3600 * 1000)
#define GC_CAP_EVERY_MS 10000  /* over the cap: collect at most this often... */
#define GC_CAP_STUCK_MS 300000 /* ...or this, when what must stay is over it */

typedef struct {
    rm_store_t *store;
    char imports_cache[1100]; /* S3 objects read before (rm_s3_import) */
} gc_actor_t;

static bool collector_asked_to_stop(void *arg)
{
    return (zsock_events(arg) & ZMQ_POLLIN) != 0;
}

/*  COLLECT [older_than] [cap bytes] [roots] [evictable roots]: collects,
    answers DONE with the stats. */
static void gc_actor(zsock_t *pipe, void *args)
{
    const gc_actor_t *gc = args;
    rm_store_t *store = gc->store;
    zsock_signal(pipe, 0);
    while (true) {
        zmsg_t *msg = zmsg_recv(pipe);
        if (!msg)
            break;
        char *cmd = zmsg_popstr(msg);
        bool term = !cmd || strcmp(cmd, "$TERM") == 0;
        if (!term && strcmp(cmd, "COLLECT") == 0) {
            char *older = zmsg_popstr(msg), *cap = zmsg_popstr(msg);
            zframe_t *roots = zmsg_pop(msg), *evictable = zmsg_pop(msg);
            rm_gc_stats_t st = {0};
            rm_err_t err = {0};
            int rc = -1;
            if (older && cap && roots && evictable && zframe_size(roots) % sizeof(rm_hash_t) == 0 &&
                zframe_size(evictable) % sizeof(rm_hash_t) == 0) {
                rm_gc_plan_t plan = {
                    .roots = (const rm_hash_t *)zframe_data(roots),
                    .nroots = zframe_size(roots) / sizeof(rm_hash_t),
                    .evictable = (const rm_hash_t *)zframe_data(evictable),
                    .nevictable = zframe_size(evictable) / sizeof(rm_hash_t),
                    .cap_bytes = strtoull(cap, NULL, 10),
                    .older_than = atoll(older),
                    .started_at = (int64_t)time(NULL) - 1,
                    .stop = collector_asked_to_stop,
                    .stop_arg = pipe,
                };
                rc = rm_gc_collect(store, &plan, &st, &err);
            }
            /* Entries of S3 objects whose chunks were just deleted. */
            uint64_t pruned = rc == 0 ? rm_s3_import_prune(gc->imports_cache, store) : 0;
            zsock_send(pipe, "s8888888s", "DONE", st.kept, st.deleted, st.bytes_freed,
                       st.roots_missing, st.bytes_kept, st.evicted, pruned, rc == 0 ? "" : err.msg);
            zstr_free(&older);
            zstr_free(&cap);
            zframe_destroy(&roots);
            zframe_destroy(&evictable);
        }
        zstr_free(&cmd);
        zmsg_destroy(&msg);
        if (term)
            break;
    }
}

static void on_collected(void *arg, void *sock);

int rm_node_gc_start(rm_node_ctx_t *self, rm_err_t *err)
{
    gc_actor_t *args = calloc(1, sizeof *args);
    if (!args)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    self->gc_args = args; /* lives as long as the actor: both end in rm_node_gc_stop */
    args->store = self->store;
    if (rm_node_home_path(self, "imports-cache", args->imports_cache, sizeof args->imports_cache,
                          err) != 0)
        return -1;
    self->gc = zactor_new(gc_actor, args);
    if (!self->gc || rm_loop_reader(self->loop, self->gc, on_collected, self) != 0)
        return rm_err_set(err, RM_ENOMEM, "cannot start the store's collector");
    /* Not while the node starts; sooner with a cap, which needs the
       store's size measured. */
    self->gc_next = zclock_mono() + (self->config.store_cap_mb ? 5000 : 60000);
    return 0;
}

void rm_node_gc_stop(rm_node_ctx_t *self)
{
    rm_loop_reader_end(self->loop, self->gc);
    zactor_destroy(&self->gc);
    free(self->gc_args);
    self->gc_args = NULL;
}

static int add_root(zchunk_t *roots, const rm_hash_t *h)
{
    if (rm_hash_is_zero(h))
        return 0;
    /* zchunk_extend answers the chunk's new size (not what it added). */
    size_t before = zchunk_size(roots);
    return zchunk_extend(roots, h->b, sizeof h->b) == before + sizeof h->b ? 0 : -1;
}

/*  The roots a collection keeps whatever the cap: every unfinished job's
    project, every frame's output and log a held job refers to, and the
    frames rendered here and not recorded yet (waiting for a copy or for
    S3), however long they wait. */
static zchunk_t *list_roots(rm_node_ctx_t *self)
{
    zchunk_t *roots = zchunk_new(NULL, 4096);
    for (size_t i = 0, n = rm_jobs_count(self->jobs); roots && i < n; i++) {
        rm_job_t *job = rm_jobs_at(self->jobs, i);
        int rc = rm_job_finished(job) ? 0 : add_root(roots, &rm_job_spec(job)->manifest);
        for (size_t k = 0, frames = rm_job_frame_count(job); rc == 0 && k < frames; k++) {
            const rm_frame_rec_t *f = rm_job_frame_at(job, k);
            rc = add_root(roots, &f->output) | add_root(roots, &f->log);
        }
        if (rc != 0)
            zchunk_destroy(&roots);
    }
    rm_outputs_t *outputs = self->work ? rm_work_outputs(self->work) : NULL;
    for (size_t i = 0, n = outputs ? rm_outputs_count(outputs) : 0; roots && i < n; i++) {
        rm_hash_t out, log;
        rm_outputs_hashes_at(outputs, i, &out, &log);
        if ((add_root(roots, &out) | add_root(roots, &log)) != 0)
            zchunk_destroy(&roots);
    }
    return roots;
}

typedef struct {
    rm_hash_t manifest;
    int64_t used_at; /* when its job finished: its last use here */
} evictable_t;

static int more_recent_first(const void *a, const void *b)
{
    int64_t x = ((const evictable_t *)a)->used_at, y = ((const evictable_t *)b)->used_at;
    return x > y ? -1 : x < y;
}

/*  Finished jobs' projects, the most recently used first: a collection
    keeps them while the store fits under its cap (a project an unfinished
    job shares is kept anyway, as a root). */
static zchunk_t *list_evictable(rm_node_ctx_t *self)
{
    size_t n = rm_jobs_count(self->jobs);
    evictable_t *list = calloc(n ? n : 1, sizeof *list);
    zchunk_t *out = list ? zchunk_new(NULL, 32 * (n ? n : 1)) : NULL;
    size_t count = 0;
    for (size_t i = 0; out && i < n; i++) {
        rm_job_t *job = rm_jobs_at(self->jobs, i);
        if (rm_job_finished(job) && !rm_hash_is_zero(&rm_job_spec(job)->manifest))
            list[count++] = (evictable_t){rm_job_spec(job)->manifest, rm_job_finished_at(job)};
    }
    if (count > 1)
        qsort(list, count, sizeof *list, more_recent_first);
    for (size_t i = 0; out && i < count; i++)
        if (add_root(out, &list[i].manifest) != 0)
            zchunk_destroy(&out);
    free(list);
    return out;
}

static bool over_cap(rm_node_ctx_t *self)
{
    uint64_t bytes;
    return self->config.store_cap_mb && rm_node_store_bytes(self, &bytes) &&
           bytes > self->config.store_cap_mb * 1024 * 1024;
}

void rm_node_gc_tick(rm_node_ctx_t *self, int64_t now, bool now_due)
{
    if (now_due)
        self->gc_due = true;
    bool cap_due = over_cap(self) && now >= self->gc_cap_after;
    if (!self->gc || self->gc_running || (!self->gc_due && !cap_due && now < self->gc_next))
        return;
    zchunk_t *roots = list_roots(self), *evictable = roots ? list_evictable(self) : NULL;
    if (!roots || !evictable) {
        zchunk_destroy(&roots);
        return;
    }
    int64_t older_than = (int64_t)time(NULL) - (int64_t)self->config.chunk_grace_minutes * 60;
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "COLLECT");
    zmsg_addstrf(msg, "%lld", (long long)older_than);
    zmsg_addstrf(msg, "%llu", (unsigned long long)(self->config.store_cap_mb * 1024 * 1024));
    zmsg_addmem(msg, zchunk_data(roots), zchunk_size(roots));
    zmsg_addmem(msg, zchunk_data(evictable), zchunk_size(evictable));
    zchunk_destroy(&roots);
    zchunk_destroy(&evictable);
    uint64_t added = rm_store_bytes_added(self->store);
    if (zmsg_send(&msg, self->gc) == 0) {
        self->gc_running = true;
        self->gc_due = false;
        self->gc_next = now + GC_EVERY_MS;
        self->gc_added_at = added;
    }
    zmsg_destroy(&msg);
}

/*  The collector's report of one collection. */
static void on_collected(void *arg, void *sock)
{
    (void)sock;
    rm_node_ctx_t *self = arg;
    char *done = NULL, *why = NULL;
    uint64_t kept = 0, deleted = 0, freed = 0, missing = 0, bytes = 0, evicted = 0, pruned = 0;
    if (zsock_recv(self->gc, "s8888888s", &done, &kept, &deleted, &freed, &missing, &bytes,
                   &evicted, &pruned, &why) != 0)
        return;
    self->gc_running = false;
    uint64_t cap = self->config.store_cap_mb * 1024 * 1024;
    bool failed = why && why[0];
    /* Failed, or still over the cap with what must stay: not again soon. */
    self->gc_cap_after =
        zclock_mono() + (failed || (cap && bytes > cap) ? GC_CAP_STUCK_MS : GC_CAP_EVERY_MS);
    if (!why || !why[0]) {
        /* What was written while it walked may be counted twice: a size a
           little high until the next collection. */
        self->store_measured = true;
        self->store_bytes_at = bytes;
        self->store_added_at = self->gc_added_at;
        if (evicted > 0)
            rm_log_info("store: the projects of %llu finished job(s) evicted, the least recently "
                        "used first, to stay under store_cap_mb (%llu MB held)",
                        (unsigned long long)evicted, (unsigned long long)(bytes >> 20));
        if (cap && bytes > cap)
            rm_log_warning("store: %llu MB held, over store_cap_mb (%llu MB), in what must stay "
                           "(unfinished jobs' projects, frames' outputs and logs)",
                           (unsigned long long)(bytes >> 20),
                           (unsigned long long)self->config.store_cap_mb);
    }
    if (why && why[0])
        rm_log_warning("store: collection failed: %s", why);
    else if (deleted > 0)
        rm_log_info("store: %llu chunk(s) nothing refers to deleted (%llu bytes), %llu kept",
                    (unsigned long long)deleted, (unsigned long long)freed,
                    (unsigned long long)kept);
    if (pruned > 0)
        rm_log_info("store: %llu entr%s of S3 objects read before forgotten (their chunks were "
                    "deleted)",
                    (unsigned long long)pruned, pruned == 1 ? "y" : "ies");
    (void)missing;
    zstr_free(&done);
    zstr_free(&why);
}
