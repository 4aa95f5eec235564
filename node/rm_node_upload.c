#include "rm_node_upload.h"

#include <stdlib.h>
#include <string.h>

#include "rm_log.h"

/*  A chunk waiting for the upload limit, encoded. */
typedef struct {
    zframe_t *peer; /* main socket's routing id; NULL: addr */
    char addr[RM_MAX_PATH + 1];
    uint8_t *buf;
    size_t len;
} queued_t;

static void queued_free(void **item)
{
    queued_t *q = *item;
    if (!q)
        return;
    zframe_destroy(&q->peer);
    free(q->buf);
    free(q);
    *item = NULL;
}

void rm_node_upload_start(rm_node_ctx_t *self)
{
    rm_rate_init(&self->upload, self->config.upload_limit_mbps * 125000, zclock_mono());
    self->upload_queue = zlistx_new();
    if (self->upload_queue)
        zlistx_set_destructor(self->upload_queue, queued_free);
}

void rm_node_upload_stop(rm_node_ctx_t *self)
{
    zlistx_destroy(&self->upload_queue);
}

static void send_now(rm_node_ctx_t *self, zframe_t *peer, const char *addr, uint8_t *buf,
                     size_t len)
{
    rm_rate_take(&self->upload, len, zclock_mono());
    if (!peer) {
        rm_member_send(self->member, addr, buf, len, NULL);
        return;
    }
    zmsg_t *msg = zmsg_new();
    zmsg_append(msg, &(zframe_t *){zframe_dup(peer)});
    zmsg_addmem(msg, buf, len);
    zmsg_send(&msg, self->mesh); /* a peer that went away loses it */
    zmsg_destroy(&msg);
}

void rm_node_upload_chunk(rm_node_ctx_t *self, zframe_t *peer, const char *addr, uint64_t req,
                          const rm_chunk_t *chunk)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err;
    if (rm_msg_encode(RM_MSG_CHUNK_DATA, req, chunk, &buf, &len, &err) != 0) {
        rm_log_error("cannot encode CHUNK_DATA: %s", err.msg);
        return;
    }
    int64_t now = zclock_mono();
    bool queue_empty = !self->upload_queue || zlistx_size(self->upload_queue) == 0;
    queued_t *q = NULL;
    if (queue_empty && rm_rate_wait(&self->upload, now) == 0) {
        send_now(self, peer, addr, buf, len);
    } else if (!self->upload_queue || !(q = calloc(1, sizeof *q)) ||
               !zlistx_add_end(self->upload_queue, q)) {
        free(q); /* no memory: sent now, over the limit */
        send_now(self, peer, addr, buf, len);
    } else {
        q->peer = peer ? zframe_dup(peer) : NULL;
        snprintf(q->addr, sizeof q->addr, "%s", addr ? addr : "");
        q->buf = buf;
        q->len = len;
        return;
    }
    free(buf);
}

void rm_node_upload_tick(rm_node_ctx_t *self, int64_t now)
{
    queued_t *q;
    while (self->upload_queue && (q = zlistx_first(self->upload_queue)) &&
           rm_rate_wait(&self->upload, now) == 0) {
        send_now(self, q->peer, q->addr, q->buf, q->len);
        zlistx_delete(self->upload_queue, zlistx_cursor(self->upload_queue));
    }
}

int64_t rm_node_upload_wakeup(rm_node_ctx_t *self, int64_t now)
{
    if (!self->upload_queue || zlistx_size(self->upload_queue) == 0)
        return INT64_MAX;
    return rm_rate_wait(&self->upload, now);
}
