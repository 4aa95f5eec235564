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
    not reported again: rm_zap logged them with the peer's key.

    It also keeps anyone from holding the node's connections: a door
    connection is one HELLO and its WELCOME, so one still open
    RM_DOOR_SESSION_MS after it was accepted is cut, and so is one beyond
    RM_DOOR_PER_ADDRESS (main socket: RM_MAIN_PER_ADDRESS) open from one
    address.  Cutting is shutdown(2) on libzmq's fd, after checking that the
    number still names the connection seen accepted: libzmq then sees the
    connection end and closes it, as if the peer had.  An address that went
    past its cap, or held 4 connections past the session time within a
    minute, is banned for a minute: the kernel drops its SYNs (a filter on
    the listening socket, rm_ban_filter), so that its reconnects neither
    cost the node nor fill the accept queue the real clients wait in; what
    the filter cannot hold is cut as it is accepted, before any handshake. */
#ifndef RM_DOOR_WATCH_H
#define RM_DOOR_WATCH_H

#include <czmq.h>
#include <stdbool.h>

#include "rm_error.h"
#include "rm_zap.h"

#define RM_DOOR_SESSION_MS 10000
#define RM_DOOR_PER_ADDRESS 32   /* a studio behind one NAT knocks a few at a time */
#define RM_MAIN_PER_ADDRESS 1024 /* authenticated: nodes and clients of one NAT, or loopback */

typedef struct _rm_door_watch_t rm_door_watch_t;

/*  Watches door and main (main may be NULL).  Call from the thread that owns
    the sockets, and destroy the watch before them. */
rm_door_watch_t *rm_door_watch_new(zsock_t *door, zsock_t *main_sock, rm_err_t *err);

/*  The same with other limits (tests): door sessions of session_ms, at
    most door_cap and main_cap connections from one address. */
rm_door_watch_t *rm_door_watch_new_limits(zsock_t *door, zsock_t *main_sock, int64_t session_ms,
                                          size_t door_cap, size_t main_cap, rm_err_t *err);

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
