/*  rm_node_client: what clients (meshctl, and nodes asking as clients)
    ask of a node on its main socket: SUBMIT and its chunks (handled by
    rm_node_submit), STATUS, JOBS, JOB_INFO, NODES, CANCEL, LOGS, WATCH,
    DRAIN, ...; a table from message type to handler and the right each
    needs. */
#ifndef RM_NODE_CLIENT_H
#define RM_NODE_CLIENT_H

#include "rm_node_ctx.h"

/*  Answers one request from `peer` (the ROUTER routing id) that `who`
    sent; a type no handler takes gets ERROR EPROTO. */
void rm_node_client_handle(rm_node_ctx_t *self, zframe_t *peer, const rm_cred_t *who,
                           rm_msg_t *msg);

/*  Chunks clients asked for that are still sought on the mesh after
    PROXY_ANSWER_MS: answered RM_EAGAIN ("ask again"), the fetch going on. */
void rm_node_client_expire_waits(rm_node_ctx_t *self, int64_t now);
/*  Milliseconds until rm_node_client_expire_waits has work. */
int64_t rm_node_client_wakeup(const rm_node_ctx_t *self, int64_t now);

/*  Answers WATCHes whose job changed or whose time ran out. */
void rm_node_client_serve_watches(rm_node_ctx_t *self);

#endif
