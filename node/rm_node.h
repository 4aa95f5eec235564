/*  rm_node: the meshd node as one czmq actor.

    The actor owns every socket of the node: the ZAP handler (bound first,
    so nothing is admitted without it), the door ROUTER (PORT+1: HELLO ->
    WELCOME), the main ROUTER (PORT: the requests of docs/protocol.md), and
    the pipes of its render slots (rm_blender).  It holds the roster, the
    chunk store and the job table; nothing is shared with other threads.

    The loop (rm_node.c) waits on every socket and hands each event to the
    part that owns it: the door to rm_node_door, client requests to
    rm_node_client's table, other nodes' requests by type and their answers
    by the part named in their request id (rm_reqid) to the subsystems;
    then one turn of every subsystem's timers.  Start-up and shutdown are
    rm_node_start; the state they share is rm_node_ctx.

    Start-up is synchronous: rm_node_new returns NULL with err filled when
    the node cannot start (bad token, port taken, unwritable home). */
#ifndef RM_NODE_H
#define RM_NODE_H

#include <czmq.h>

#include "rm_config.h"

/*  libzmq I/O threads a node process wants, set before its first socket
    (meshd does): the door's and the main socket's.  With fewer (a test
    that runs a node in its own process) both share one. */
#define RM_NODE_IO_THREADS 2

typedef struct _rm_node_t rm_node_t;

rm_node_t *rm_node_new(const rm_config_t *config, rm_err_t *err);
void rm_node_destroy(rm_node_t **self_p);

/*  The actor, to poll for its end.  After leaving on a drain it sends
    "DRAINED" when it should stay down (an admin drained it, or SIGTERM
    asked for a hand-back), "DRAINED RESTART" when it drained at a node's
    word alone; it sends nothing else. */
zactor_t *rm_node_actor(rm_node_t *self);

#endif
