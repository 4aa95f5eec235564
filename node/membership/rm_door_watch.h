/*  rm_door_watch: refusals that happen before the ZAP handler is asked.

    A client of another mesh derives another door key from its mesh key: its
    CURVE HELLO cannot be opened, libzmq drops the connection during the
    handshake, and the ZAP handler (rm_zap) never hears of it.  libzmq's
    socket monitor does (zmq_socket_monitor, stable API): this actor watches
    the door and main sockets' events and sends the node actor one line per
    failed handshake, "refused ADDRESS: handshake failed (WHY)", which the
    node logs through the same limiter as the other refusals.

    A monitor event names only the socket's own endpoint, never the peer's.
    The peer's address is read from the connection's fd when libzmq reports
    it ACCEPTED (getpeername), and kept until the connection's DISCONNECTED
    event, which follows a failed handshake.  That is why this is an actor of
    its own, blocked on the monitor: a failed handshake closes the fd a few
    round trips after the accept.  A connection gone before its address was
    read is logged as "an unknown address".

    Failures the ZAP handler refused (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) are
    not reported again: rm_zap logged them with the peer's key. */
#ifndef RM_DOOR_WATCH_H
#define RM_DOOR_WATCH_H

#include <czmq.h>
#include <stdbool.h>

#include "rm_error.h"
#include "rm_zap.h"

typedef struct _rm_door_watch_t rm_door_watch_t;

/*  Watches door and main (main may be NULL).  Call from the thread that owns
    the sockets, and destroy the watch before them. */
rm_door_watch_t *rm_door_watch_new(zsock_t *door, zsock_t *main_sock, rm_err_t *err);

void rm_door_watch_destroy(rm_door_watch_t **self_p);

/*  The actor to poll: readable when a refusal is to be logged. */
zactor_t *rm_door_watch_actor(rm_door_watch_t *self);

/*  Reads one refusal from the actor and logs it as a warning if refusals
    allows (rm_refusal_log_ok). */
void rm_door_watch_handle(rm_door_watch_t *self, rm_refusals_t *refusals);

/*  The words for a failed handshake: event is one of
    ZMQ_EVENT_HANDSHAKE_FAILED_*, value its value (a protocol error code or
    an errno). */
void rm_door_watch_reason(int event, uint32_t value, char *out, size_t size);

#endif
