#include "rm_node_gc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rm_gc.h"
#include "rm_log.h"

#define GC_EVERY_MS (3600 * 1000)

typedef struct {
    zsock_t *pipe;
    rm_store_t *store;
} gc_actor_t;

static bool collector_asked_to_stop(void *arg)
{
    return (zsock_events(arg) & ZMQ_POLLIN) != 0;
}

/*  COLLECT [older_than] [roots]: collects, answers DONE with the stats. */
static void gc_actor(zsock_t *pipe, void *args)
{
    rm_store_t *store = args;
    zsock_signal(pipe, 0);
    while (true) {
        zmsg_t *msg = zmsg_recv(pipe);
        if (!msg)
            break;
        char *cmd = zmsg_popstr(msg);
        bool term = !cmd || strcmp(cmd, "$TERM") == 0;
        if (!term && strcmp(cmd, "COLLECT") == 0) {
            char *older = zmsg_popstr(msg);
            zframe_t *roots = zmsg_pop(msg);
            rm_gc_stats_t st = {0};
            rm_err_t err = {0};
            int rc = -1;
            if (older && roots && zframe_size(roots) % sizeof(rm_hash_t) == 0)
                rc = rm_gc_collect(store, (const rm_hash_t *)zframe_data(roots),
                                   zframe_size(roots) / sizeof(rm_hash_t), atoll(older),
                                   collector_asked_to_stop, pipe, &st, &err);
            zsock_send(pipe, "s8888s", "DONE", st.kept, st.deleted, st.bytes_freed,
                       st.roots_missing, rc == 0 ? "" : err.msg);
            zstr_free(&older);
            zframe_destroy(&roots);
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
    self->gc = zactor_new(gc_actor, self->store);
    if (!self->gc || rm_loop_reader(self->loop, self->gc, on_collected, self) != 0)
        return rm_err_set(err, RM_ENOMEM, "cannot start the store's collector");
    self->gc_next = zclock_mono() + 60000; /* not while the node starts */
    return 0;
}

void rm_node_gc_stop(rm_node_ctx_t *self)
{
    rm_loop_reader_end(self->loop, self->gc);
    zactor_destroy(&self->gc);
}

static int add_root(zchunk_t *roots, const rm_hash_t *h)
{
    if (rm_hash_is_zero(h))
        return 0;
    return zchunk_extend(roots, h->b, sizeof h->b) == sizeof h->b ? 0 : -1;
}

/*  Every manifest a held job refers to. */
static zchunk_t *list_roots(rm_node_ctx_t *self)
{
    zchunk_t *roots = zchunk_new(NULL, 4096);
    for (size_t i = 0, n = rm_jobs_count(self->jobs); roots && i < n; i++) {
        rm_job_t *job = rm_jobs_at(self->jobs, i);
        int rc = add_root(roots, &rm_job_spec(job)->manifest);
        for (size_t k = 0, frames = rm_job_frame_count(job); rc == 0 && k < frames; k++) {
            const rm_frame_rec_t *f = rm_job_frame_at(job, k);
            rc = add_root(roots, &f->output) | add_root(roots, &f->log);
        }
        if (rc != 0)
            zchunk_destroy(&roots);
    }
    /* Frames rendered here and not recorded yet (waiting for a copy or for
       S3) are kept however long they wait. */
    rm_outputs_t *outputs = self->work ? rm_work_outputs(self->work) : NULL;
    for (size_t i = 0, n = outputs ? rm_outputs_count(outputs) : 0; roots && i < n; i++) {
        rm_hash_t out, log;
        rm_outputs_hashes_at(outputs, i, &out, &log);
        if ((add_root(roots, &out) | add_root(roots, &log)) != 0)
            zchunk_destroy(&roots);
    }
    return roots;
}

void rm_node_gc_tick(rm_node_ctx_t *self, int64_t now, bool now_due)
{
    if (now_due)
        self->gc_due = true;
    if (!self->gc || self->gc_running || (!self->gc_due && now < self->gc_next))
        return;
    zchunk_t *roots = list_roots(self);
    if (!roots)
        return;
    int64_t older_than = (int64_t)time(NULL) - (int64_t)self->config.chunk_grace_minutes * 60;
    char older[24];
    snprintf(older, sizeof older, "%lld", (long long)older_than);
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "COLLECT");
    zmsg_addstr(msg, older);
    zmsg_addmem(msg, zchunk_data(roots), zchunk_size(roots));
    zchunk_destroy(&roots);
    if (zmsg_send(&msg, self->gc) == 0) {
        self->gc_running = true;
        self->gc_due = false;
        self->gc_next = now + GC_EVERY_MS;
    }
    zmsg_destroy(&msg);
}

/*  The collector's report of one collection. */
static void on_collected(void *arg, void *sock)
{
    (void)sock;
    rm_node_ctx_t *self = arg;
    char *done = NULL, *why = NULL;
    uint64_t kept = 0, deleted = 0, freed = 0, missing = 0;
    if (zsock_recv(self->gc, "s8888s", &done, &kept, &deleted, &freed, &missing, &why) != 0)
        return;
    self->gc_running = false;
    if (why && why[0])
        rm_log_warning("store: collection failed: %s", why);
    else if (deleted > 0)
        rm_log_info("store: %llu chunk(s) nothing refers to deleted (%llu bytes), %llu kept",
                    (unsigned long long)deleted, (unsigned long long)freed,
                    (unsigned long long)kept);
    (void)missing;
    zstr_free(&done);
    zstr_free(&why);
}
