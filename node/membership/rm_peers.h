/*  rm_peers: this node's outbound connections to other nodes.

    To talk to the node at tcp://HOST:PORT the node first knocks at its door
    (PORT+1, key derived from the mesh key): HELLO with our node credential,
    WELCOME with theirs, verified against the mesh key and required to be a
    node's.  Then a DEALER to the main socket (PORT) with the key the
    credential vouches for carries our messages, and the peer's answers come
    back on it.  Messages sent before the handshake completes wait in a
    short queue; a peer that does not answer the door within the handshake
    timeout is retried with backoff, and the queue is dropped (node-to-node
    traffic is gossip and tolerates loss).

    A link that carried messages out but none in for RM_PEERS_SILENT_MS, and
    whose peer membership does not vouch for (rm_peers_heard), is reopened
    from the door: the peer may have restarted and lost us from its roster,
    or be gone.

    Nodes that cannot accept connections (NAT) are not reached here: they
    connect to us, and the node answers them over its main ROUTER. */
#ifndef RM_PEERS_H
#define RM_PEERS_H

#include <czmq.h>
#include <stdbool.h>

#include "rm_cred.h"
#include "rm_loop.h"

#define RM_PEERS_HANDSHAKE_MS 3000
#define RM_PEERS_SILENT_MS 10000
#define RM_PEERS_QUEUE 64

typedef struct _rm_peers_t rm_peers_t;

/*  A message from a peer: its address, its verified credential, the frame. */
typedef void(rm_peers_recv_fn)(void *arg, const char *addr, const rm_cred_t *peer,
                               const uint8_t *data, size_t len);

/*  Says whether a peer's credential may still be used at `now` (not
    revoked); expiry is checked by rm_peers itself. */
typedef bool(rm_peers_check_fn)(void *arg, const rm_cred_t *peer, int64_t now, char *why,
                                size_t size);

/*  identity is copied.  Each link's sockets are read on loop; what peers
    send goes to recv(recv_arg, ...). */
rm_peers_t *rm_peers_new(const rm_token_t *identity, rm_loop_t *loop, rm_peers_recv_fn *recv,
                         void *recv_arg, rm_err_t *err);
void rm_peers_destroy(rm_peers_t **self_p);

/*  Sends one message to the node at addr, connecting first if needed.
    0 when sent or queued; -1 (err) for a bad address or a full queue. */
int rm_peers_send(rm_peers_t *self, const char *addr, const uint8_t *data, size_t len,
                  rm_err_t *err);

/*  Handshake timeouts, backoff, silent links.  Call at least every second. */
void rm_peers_tick(rm_peers_t *self, int64_t now);

/*  The peer at addr is known to hear us (membership: it is alive and
    talks to us): its link is not silent, even if nothing came back on it
    (job changes are one-way). */
void rm_peers_heard(rm_peers_t *self, const char *addr);

/*  Closes the link to addr (a member left or died). */
void rm_peers_close(rm_peers_t *self, const char *addr);

/*  From now on every link's credential is checked, at the door, on each
    message and on rm_peers_recheck: a link whose peer's credential expired
    or `check` refuses is closed, and knocks at the door again only after a
    backoff (where it is refused again). */
void rm_peers_set_check(rm_peers_t *self, rm_peers_check_fn *check, void *arg);
void rm_peers_recheck(rm_peers_t *self);

/*  The peer's verified name, or NULL if not connected. */
const char *rm_peers_name(rm_peers_t *self, const char *addr);

size_t rm_peers_count(rm_peers_t *self);

#endif
