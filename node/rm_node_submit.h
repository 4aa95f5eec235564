/*  rm_node_submit: a client's SUBMIT and CHUNK_PUT on the main socket
    (rm_node_client's table hands them here). */
#ifndef RM_NODE_SUBMIT_H
#define RM_NODE_SUBMIT_H

#include "rm_node_ctx.h"

/*  SUBMIT: NEED for the chunks the store lacks, or the job created and,
    once a second node holds it, ACCEPTED; a refusal names its reason. */
void rm_node_submit_handle(rm_node_request_t *r);

/*  Chunks are going from this node to members (they fetch a project, maybe
    a waiting submission's): each submission waiting for a second node
    waits on, submit_wait_s from now, an hour after it began at most.  A
    slow link then delays the acknowledgement instead of failing it. */
void rm_node_submit_progress(rm_node_ctx_t *self);

/*  CHUNK_PUT: the chunk stored (its hash checked), CHUNK_OK. */
void rm_node_submit_chunk_put(rm_node_request_t *r);

/*  CHUNKS_HELD: which of the chunks asked about the store holds (a client
    streaming a project it is still chunking). */
void rm_node_submit_chunks_held(rm_node_request_t *r);

#endif
