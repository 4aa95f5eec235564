/*  rm_zap: the node's ZAP (RFC 27) handler.

    libzmq asks the socket bound at inproc://zeromq.zap.01 whether to admit
    each CURVE peer.  A CURVE server with no handler admits ANY client that
    knows its public key, so the node binds this socket before any other and
    serves it from its own actor: if the actor dies, the process dies, and
    nothing is admitted without it.

    Domains:
      "door"  any CURVE key is admitted; the door socket only accepts HELLO
              with a credential bound to that same key.
      "mesh"  only keys in the roster (credential verified at the door).
      other   refused.
    The ZAP user id is the peer's key in Z85, so every message received on a
    socket carries its authenticated sender ("User-Id" metadata). */
#ifndef RM_ZAP_H
#define RM_ZAP_H

#include <czmq.h>
#include <stdbool.h>

#include "rm_roster.h"

#define RM_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define RM_ZAP_DOMAIN_DOOR "door"
#define RM_ZAP_DOMAIN_MESH "mesh"

/*  Refusals are logged, but a flood of them must not flood the log: at
    most RM_REFUSAL_LOGS lines per RM_REFUSAL_WINDOW_MS, then one line that
    says how many were not logged. */
#define RM_REFUSAL_LOGS 20
#define RM_REFUSAL_WINDOW_MS 10000

typedef struct {
    int64_t window_start;
    unsigned logged;
    unsigned dropped;
} rm_refusals_t;

/*  True when this refusal may be logged. */
bool rm_refusal_log_ok(rm_refusals_t *refusals);

/*  Binds the ZAP REP socket; NULL with err if the endpoint is taken (another
    handler in this process). */
zsock_t *rm_zap_bind(rm_err_t *err);

/*  Reads one ZAP request from zap and answers it.  Refusals are logged with
    the peer's address and key. */
void rm_zap_handle(zsock_t *zap, rm_roster_t *roster, rm_refusals_t *refusals);

#endif
