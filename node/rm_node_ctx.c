#include "rm_log.h"
#include "rm_node_ctx.h"

#include <stdio.h>
#include <stdlib.h>

int rm_node_home_path(const rm_node_ctx_t *self, const char *name, char *out, size_t size,
                      rm_err_t *err)
{
    if ((size_t)snprintf(out, size, "%s/%s", self->config.home, name) >= size)
        return rm_err_set(err, RM_EINVAL, "home path too long");
    return 0;
}

/*  Two significant digits (3,456,789 -> 3,400,000): every change of the
    meta is gossiped, and the store's size changes with every chunk. */
static uint64_t two_digits(uint64_t n)
{
    uint64_t unit = 1;
    while (n / unit >= 100)
        unit *= 10;
    return n / unit * unit;
}

/*  What this node gossips about itself, from its live state. */
void rm_node_meta(rm_node_ctx_t *self, rm_member_meta_t *meta, char *rendering, size_t size)
{
    rm_slots_describe(self->slots, rendering, size);
    *meta = (rm_member_meta_t){
        .role = self->config.role,
        .slots = rm_slots_count(self->slots),
        .slots_busy = rm_slots_busy(self->slots),
        .ms_per_frame = rm_slots_ms_per_frame(self->slots),
        .blender_ok = self->blender_ok,
        .blender = self->blender,
        .caps = self->caps,
        .rendering = rendering,
        .epoch = self->election.epoch,
        .acting = self->election.acting,
        .draining = self->work && rm_work_draining(self->work),
    };
    if (self->revocations)
        rm_revocations_digest(self->revocations, &meta->revoked);
    if (self->store && rm_node_store_bytes(self, &meta->store_bytes)) {
        meta->store_known = true;
        meta->store_bytes = two_digits(meta->store_bytes);
    }
    meta->store_cap = self->config.store_cap_mb * 1024 * 1024;
}

bool rm_node_store_bytes(rm_node_ctx_t *self, uint64_t *bytes)
{
    *bytes = self->store_measured
                 ? self->store_bytes_at + (rm_store_bytes_added(self->store) - self->store_added_at)
                 : 0;
    return self->store_measured;
}

void rm_node_reply(zsock_t *sock, zframe_t *peer, rm_msg_type_t type, uint64_t req,
                   const void *body)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err;
    if (rm_msg_encode(type, req, body, &buf, &len, &err) != 0) {
        rm_log_error("cannot encode %s: %s", rm_msg_name(type), err.msg);
        rm_msg_encode_error(req, err.code, err.msg, &buf, &len, NULL);
        if (!buf)
            return;
    }
    zmsg_t *msg = zmsg_new();
    zmsg_append(msg, &(zframe_t *){zframe_dup(peer)});
    zmsg_addmem(msg, buf, len);
    free(buf);
    /* A peer that went away loses its reply; nothing else depends on it. */
    zmsg_send(&msg, sock);
    zmsg_destroy(&msg);
}

void rm_node_reply_error(zsock_t *sock, zframe_t *peer, uint64_t req, rm_code_t code,
                         const char *text)
{
    rm_error_msg_t body = {.code = code, .message = (char *)text};
    rm_node_reply(sock, peer, RM_MSG_ERROR, req, &body);
}

void rm_node_reply_ok(zsock_t *sock, zframe_t *peer, uint64_t req, const char *text)
{
    rm_ok_t body = {.message = (char *)text};
    rm_node_reply(sock, peer, RM_MSG_OK, req, &body);
}

rm_node_waiting_t *rm_node_waiting_add(rm_node_request_t *r, rm_msg_type_t type)
{
    rm_node_ctx_t *self = r->node;
    size_t mine = 0;
    for (size_t i = 0; i < self->nwaiting; i++)
        mine += strcmp(self->waiting[i].who, r->who->name) == 0;
    if (self->nwaiting == RM_NODE_MAX_WAITING || mine >= RM_NODE_MAX_PER_CLIENT)
        return NULL;
    rm_node_waiting_t *w = &self->waiting[self->nwaiting++];
    memset(w, 0, sizeof *w);
    w->peer = zframe_dup(r->peer);
    w->req = r->msg->req;
    w->type = type;
    snprintf(w->who, sizeof w->who, "%s", r->who->name);
    return w;
}

void rm_node_waiting_drop(rm_node_ctx_t *self, size_t i)
{
    zframe_destroy(&self->waiting[i].peer);
    self->waiting[i] = self->waiting[--self->nwaiting];
}
