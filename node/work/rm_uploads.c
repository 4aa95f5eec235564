#include "rm_uploads.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_s3.h"
#include "rm_s3_output.h"
#include "rm_s3_url.h"

typedef struct {
    uint64_t id;
    char bucket[RM_S3_BUCKET_MAX + 1];
    char prefix[RM_S3_KEY_MAX + 1];
    rm_hash_t output;
    uint32_t tries;
    int64_t due; /* mono ms */
} item_t;

typedef struct {
    zsock_t *pipe;
    rm_aws_settings_t settings;
    rm_s3_t *s3; /* made at the first upload (an instance role is asked then) */
    rm_store_t *store;
    char tmpdir[1024];
    int unit_ms;
    item_t *items;
    size_t count, cap;
} actor_t;

struct _rm_uploads_t {
    zactor_t *actor;
    actor_t *state; /* the thread's, until it ends */
};

static void send_event(actor_t *a, const rm_upload_event_t *ev)
{
    zsock_send(a->pipe, "844444s", ev->id, (uint32_t)ev->state, (uint32_t)ev->code, ev->files,
               ev->existed, ev->wait_s, ev->text);
}

static void add_item(actor_t *a, zmsg_t *msg)
{
    char *id = zmsg_popstr(msg), *bucket = zmsg_popstr(msg), *prefix = zmsg_popstr(msg);
    zframe_t *hash = zmsg_pop(msg);
    if (id && bucket && prefix && hash && zframe_size(hash) == sizeof(rm_hash_t) &&
        strlen(bucket) <= RM_S3_BUCKET_MAX && strlen(prefix) <= RM_S3_KEY_MAX) {
        if (a->count == a->cap) {
            size_t cap = a->cap ? a->cap * 2 : 16;
            item_t *grown = realloc(a->items, cap * sizeof *grown);
            if (grown) {
                a->items = grown;
                a->cap = cap;
            }
        }
        if (a->count < a->cap) {
            item_t *it = &a->items[a->count++];
            memset(it, 0, sizeof *it);
            it->id = strtoull(id, NULL, 10);
            snprintf(it->bucket, sizeof it->bucket, "%s", bucket);
            snprintf(it->prefix, sizeof it->prefix, "%s", prefix);
            memcpy(it->output.b, zframe_data(hash), sizeof it->output.b);
            it->due = zclock_mono();
        } else {
            rm_upload_event_t ev = {
                .id = strtoull(id, NULL, 10), .state = RM_UPLOAD_FAILED, .code = RM_ENOMEM};
            snprintf(ev.text, sizeof ev.text, "out of memory");
            send_event(a, &ev);
        }
    }
    zstr_free(&id);
    zstr_free(&bucket);
    zstr_free(&prefix);
    zframe_destroy(&hash);
}

static void drop_item(actor_t *a, uint64_t id)
{
    for (size_t i = 0; i < a->count; i++)
        if (a->items[i].id == id) {
            a->items[i] = a->items[--a->count];
            return;
        }
}

/*  Commands from the node; false on $TERM. */
static bool handle_node_command(actor_t *a)
{
    zmsg_t *msg = zmsg_recv(a->pipe);
    if (!msg)
        return false;
    char *cmd = zmsg_popstr(msg);
    bool go_on = cmd && strcmp(cmd, "$TERM") != 0;
    if (go_on && strcmp(cmd, "ADD") == 0) {
        add_item(a, msg);
    } else if (go_on && strcmp(cmd, "DROP") == 0) {
        char *id = zmsg_popstr(msg);
        if (id)
            drop_item(a, strtoull(id, NULL, 10));
        zstr_free(&id);
    }
    zstr_free(&cmd);
    zmsg_destroy(&msg);
    return go_on;
}

static void run_item(actor_t *a, size_t i)
{
    item_t *it = &a->items[i];
    rm_upload_event_t ev = {.id = it->id};
    rm_err_t err = {0};
    rm_s3_output_stats_t stats;
    int rc = 0;
    bool no_client = !a->s3 && !(a->s3 = rm_s3_new(&a->settings, &err));
    if (no_client)
        rc = -1;
    if (rc == 0) {
        rm_s3_set_retry_unit(a->s3, a->unit_ms);
        rc = rm_s3_output_put(a->s3, a->store, &it->output, it->bucket, it->prefix, a->tmpdir,
                              &stats, &err);
    }
    if (rc == 0) {
        ev.state = RM_UPLOAD_STORED;
        ev.files = stats.files;
        ev.existed = stats.existed;
    } else if (err.code == RM_EUNREACH && !no_client) {
        /* Without a client there is nothing to wait for: no credentials
           (no instance role answers) is not an outage. */
        it->tries++;
        uint32_t cap = it->tries >= 6 ? RM_UPLOADS_BACKOFF_MAX_S : 1u << it->tries;
        if (cap > RM_UPLOADS_BACKOFF_MAX_S)
            cap = RM_UPLOADS_BACKOFF_MAX_S;
        int64_t wait_ms = (int64_t)randombytes_uniform(cap * 1000 + 1) * a->unit_ms / 1000;
        it->due = zclock_mono() + wait_ms;
        ev.state = RM_UPLOAD_WAITING;
        ev.code = err.code;
        ev.wait_s = (uint32_t)(wait_ms / 1000);
        snprintf(ev.text, sizeof ev.text, "%s", err.msg);
        send_event(a, &ev);
        return;
    } else {
        ev.state = RM_UPLOAD_FAILED;
        ev.code = err.code;
        snprintf(ev.text, sizeof ev.text, "%s", err.msg);
    }
    a->items[i] = a->items[--a->count];
    send_event(a, &ev);
}

static void uploads_actor(zsock_t *pipe, void *args)
{
    actor_t *a = args;
    a->pipe = pipe;
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, NULL);
    bool running = poller != NULL;
    while (running) {
        int64_t now = zclock_mono(), next = -1;
        size_t due = a->count;
        for (size_t i = 0; i < a->count; i++) {
            if (next < 0 || a->items[i].due < next)
                next = a->items[i].due;
            if (a->items[i].due <= now && (due == a->count || a->items[i].due < a->items[due].due))
                due = i;
        }
        if (due < a->count) {
            run_item(a, due);
            if (zsock_events(pipe) & ZMQ_POLLIN)
                running = handle_node_command(a);
            continue;
        }
        void *which = zpoller_wait(poller, next < 0 ? -1 : (int)(next - now));
        if (which == pipe)
            running = handle_node_command(a);
        else if (zpoller_terminated(poller))
            running = false;
    }
    zpoller_destroy(&poller);
}

rm_uploads_t *rm_uploads_new(const rm_aws_settings_t *settings, rm_store_t *store,
                             const char *tmpdir, int unit_ms, rm_err_t *err)
{
    rm_uploads_t *self = calloc(1, sizeof *self);
    actor_t *a = calloc(1, sizeof *a);
    if (!self || !a) {
        free(self);
        free(a);
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    a->settings = *settings;
    a->store = store;
    a->unit_ms = unit_ms > 0 ? unit_ms : 1000;
    snprintf(a->tmpdir, sizeof a->tmpdir, "%s", tmpdir);
    self->state = a;
    if (!(self->actor = zactor_new(uploads_actor, a))) {
        rm_aws_settings_clear(&a->settings);
        free(a);
        free(self);
        rm_err_set(err, RM_ENOMEM, "cannot start the S3 uploader");
        return NULL;
    }
    return self;
}

void rm_uploads_destroy(rm_uploads_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_uploads_t *self = *self_p;
    zactor_destroy(&self->actor); /* the thread has ended: its state is ours */
    actor_t *a = self->state;
    rm_s3_destroy(&a->s3);
    rm_aws_settings_clear(&a->settings);
    free(a->items);
    free(a);
    free(self);
    *self_p = NULL;
}

zactor_t *rm_uploads_actor(rm_uploads_t *self)
{
    return self->actor;
}

int rm_uploads_add(rm_uploads_t *self, uint64_t id, const char *bucket, const char *prefix,
                   const rm_hash_t *output, rm_err_t *err)
{
    char ids[24];
    snprintf(ids, sizeof ids, "%llu", (unsigned long long)id);
    zmsg_t *msg = zmsg_new();
    if (!msg || zmsg_addstr(msg, "ADD") || zmsg_addstr(msg, ids) || zmsg_addstr(msg, bucket) ||
        zmsg_addstr(msg, prefix) || zmsg_addmem(msg, output->b, sizeof output->b) ||
        zmsg_send(&msg, self->actor) != 0) {
        zmsg_destroy(&msg);
        return rm_err_set(err, RM_ENOMEM, "cannot queue an upload");
    }
    return 0;
}

void rm_uploads_drop(rm_uploads_t *self, uint64_t id)
{
    char ids[24];
    snprintf(ids, sizeof ids, "%llu", (unsigned long long)id);
    zstr_sendx(self->actor, "DROP", ids, NULL);
}

int rm_uploads_recv(rm_uploads_t *self, rm_upload_event_t *ev)
{
    uint32_t state = 0, code = 0;
    char *text = NULL;
    memset(ev, 0, sizeof *ev);
    if (zsock_recv(self->actor, "844444s", &ev->id, &state, &code, &ev->files, &ev->existed,
                   &ev->wait_s, &text) != 0)
        return -1;
    ev->state = (rm_upload_state_t)state;
    ev->code = (rm_code_t)code;
    snprintf(ev->text, sizeof ev->text, "%s", text ? text : "");
    zstr_free(&text);
    return 0;
}
