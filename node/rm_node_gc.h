/*  rm_node_gc: the store's collector (storage/rm_gc.h) in a thread of its
    own, so that reading every manifest and walking the store never holds
    up the node's loop (membership, requests).

    The node starts a collection after jobs were removed, and every hour:
    it lists its roots (every held job's project manifest, and each frame's
    output and log) on the loop, hands them to the actor, and logs what it
    freed when the actor answers.  One collection at a time. */
#ifndef RM_NODE_GC_H
#define RM_NODE_GC_H

#include "rm_node_ctx.h"

int rm_node_gc_start(rm_node_ctx_t *self, rm_err_t *err);
void rm_node_gc_stop(rm_node_ctx_t *self);

/*  Starts a collection if none runs and one is due (or `now_due`). */
void rm_node_gc_tick(rm_node_ctx_t *self, int64_t now, bool now_due);

#endif
