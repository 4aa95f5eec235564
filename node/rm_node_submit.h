/*  rm_node_submit: a client's SUBMIT and CHUNK_PUT on the main socket
    (rm_node_client's table hands them here). */
#ifndef RM_NODE_SUBMIT_H
#define RM_NODE_SUBMIT_H

#include "rm_node_ctx.h"

/*  SUBMIT: NEED for the chunks the store lacks, or the job created and,
    once a second node holds it, ACCEPTED; a refusal names its reason. */
void rm_node_submit_handle(rm_node_request_t *r);

/*  CHUNK_PUT: the chunk stored (its hash checked), CHUNK_OK. */
void rm_node_submit_chunk_put(rm_node_request_t *r);

#endif
