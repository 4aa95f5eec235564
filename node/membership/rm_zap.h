/*  rm_zap: the node's ZAP (RFC 27) handler, an actor of its own.

    libzmq asks the socket bound at inproc://zeromq.zap.01 whether to admit
    each CURVE peer.  A CURVE server with no handler admits ANY client that
    knows its public key, so the node binds this socket before any other and
    serves it from this actor: if the actor dies, the process dies, and
    nothing is admitted without it.

    It runs in its own thread, not the node's loop, because every door
    handshake asks it: a flood of door connections must not queue the
    node's other work, nor a known client's handshake on the main socket,
    behind thousands of ZAP requests.  So it keeps its own copy of the keys
    the roster admits (the node says rm_zap_admit and rm_zap_forget as the
    roster changes; each admission reaches the actor before the WELCOME
    that lets the peer use it, and the actor reads them before requests).

    Domains:
      "door"  any CURVE key is admitted; the door socket only accepts HELLO
              with a credential bound to that same key.
      "mesh"  only keys admitted (credential verified at the door) and not
              expired.
      other   refused.
    The ZAP user id is the peer's key in Z85, so every message received on a
    socket carries its authenticated sender ("User-Id" metadata). */
#ifndef RM_ZAP_H
#define RM_ZAP_H

#include <czmq.h>
#include <stdbool.h>

#include "rm_error.h"

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

typedef struct _rm_zap_t rm_zap_t;

/*  Binds the ZAP endpoint and starts the handler; NULL with err if the
    endpoint is taken (another handler in this process). */
rm_zap_t *rm_zap_new(rm_err_t *err);
void rm_zap_destroy(rm_zap_t **self_p);

/*  The mesh domain admits key until expires (unix seconds), or forgets it
    (revoked).  Admitting a key again replaces its expiry. */
void rm_zap_admit(rm_zap_t *self, const uint8_t key[32], int64_t expires);
void rm_zap_forget(rm_zap_t *self, const uint8_t key[32]);

/*  Keys the mesh domain admits now (tests): a round trip to the actor, so
    every admit and forget sent before it has been applied. */
size_t rm_zap_admitted(rm_zap_t *self);

#endif
