/*  rm_node_upload: the chunks this node sends (CHUNK_DATA, to clients and
    to other nodes), paced by upload_limit_mbps.  Without a limit a chunk
    goes at once; with one, at once while the limit allows, else queued in
    order and sent as it allows (rm_rate).  A chunk is never split: the
    limit is an average over the transfer, as a real link's is.  Queued
    chunks are held in memory; what bounds them is the askers' windows
    (rm_xfer's 32 requests, meshctl's 16). */
#ifndef RM_NODE_UPLOAD_H
#define RM_NODE_UPLOAD_H

#include "rm_node_ctx.h"

void rm_node_upload_start(rm_node_ctx_t *self);
void rm_node_upload_stop(rm_node_ctx_t *self);

/*  Sends CHUNK_DATA answering `req`: over the main socket to `peer` (a
    routing id, copied), or, with peer NULL, to `addr` over membership. */
void rm_node_upload_chunk(rm_node_ctx_t *self, zframe_t *peer, const char *addr, uint64_t req,
                          const rm_chunk_t *chunk);

/*  Sends what the limit allows now. */
void rm_node_upload_tick(rm_node_ctx_t *self, int64_t now);
/*  Milliseconds until rm_node_upload_tick has something to send. */
int64_t rm_node_upload_wakeup(rm_node_ctx_t *self, int64_t now);

#endif
