/*  rm_node_start: a node's start-up (home, identity, roster, store, jobs,
    Blender, sockets, membership, the mesh's job side) and its shutdown. */
#ifndef RM_NODE_START_H
#define RM_NODE_START_H

#include "rm_node_ctx.h"

/*  Fills `self` (zeroed, with self->pipe set) from `config`.  On failure
    call rm_node_stop to release what was made. */
int rm_node_start(rm_node_ctx_t *self, const rm_config_t *config, rm_err_t *err);

/*  Releases everything rm_node_start made, in order; the node has left. */
void rm_node_stop(rm_node_ctx_t *self);

#endif
