/*  rm_node_door: the door, where clients and nodes present their signed
    credential (HELLO) and get the node's (WELCOME) before they may use
    the main socket. */
#ifndef RM_NODE_DOOR_H
#define RM_NODE_DOOR_H

#include "rm_node_ctx.h"

/*  The CURVE key the sender of `frame` authenticated with (ZMQ metadata). */
int rm_node_door_key(zframe_t *frame, uint8_t key[32]);

/*  Handles one message waiting on the door socket. */
void rm_node_door_handle(rm_node_ctx_t *self);

#endif
