/*  rm_member: the node's membership in the mesh, gluing the SWIM engine
    (rm_swim, no I/O) to the node's sockets.

    Outgoing engine messages go to a member's advertised address through
    rm_peers (door handshake, then a DEALER), or, when the engine answers a
    message that came in on the node's main ROUTER, back over that same
    connection: such a sender is addressed as "rid:<hex routing id>".  That
    is also how a node behind NAT (no_inbound) takes full part: it only
    connects out, and is answered over its own connections.

    Every GOSSIP must come from a peer whose credential has role node or
    worker, and the member name inside the message must be that
    credential's name.  A member whose messages come with a worker's
    credential is marked as one in the view (rm_election passes it over).

    Each node gossips a small record about itself (rm_member_meta_t): role,
    slots, speed, what it renders, whether Blender works, draining. */
#ifndef RM_MEMBER_H
#define RM_MEMBER_H

#include <czmq.h>
#include <stdbool.h>

#include "rm_config.h"
#include "rm_cred.h"
#include "rm_election.h"
#include "rm_msg.h"
#include "rm_peers.h"

typedef struct {
    char *role; /* node | stable */
    uint64_t slots;
    uint64_t slots_busy;
    uint64_t ms_per_frame;
    bool blender_ok;
    char *blender;
    char *rendering;
    char *caps; /* what its Blender can do, space-separated; appended last on the wire */
    bool draining;
    uint64_t epoch;       /* highest coordinator epoch this node has seen */
    bool acting;          /* it coordinates in that epoch */
    rm_hash_t revoked;    /* digest of the revocations it holds (zero: none) */
    bool store_known;     /* its chunk store has been measured (by a collection) */
    uint64_t store_bytes; /* then: bytes in it */
    uint64_t store_cap;   /* its size cap in bytes (store_cap_mb); 0: none */
} rm_member_meta_t;

typedef struct _rm_member_t rm_member_t;

/*  A member for the scheduler and replication: borrowed pointers, valid
    until the next call into rm_member. */
typedef struct {
    const char *name;
    const char *addr; /* "nat:NAME" for a no-inbound node: reach it only by answering it */
    bool alive;       /* alive (not suspect, dead or left) */
    bool has_meta;
    const rm_member_meta_t *meta;
} rm_member_peer_t;

/*  A node message (not GOSSIP) that came back on one of our outbound links:
    `from` is the address we connected to, so answering it reaches the
    sender. */
typedef void(rm_member_recv_fn)(void *arg, const char *from, const rm_cred_t *who,
                                const rm_msg_t *msg);

/*  name/addr: this node's member name (its credential's) and advertised
    address ("nat:NAME" for a no-inbound node).  mesh: the node's main ROUTER, used
    to answer senders over their own connection.  loop: where the peer
    links' sockets are read. */
rm_member_t *rm_member_new(const rm_config_t *config, const rm_token_t *identity, const char *name,
                           const char *addr, zsock_t *mesh, rm_loop_t *loop, rm_err_t *err);
void rm_member_destroy(rm_member_t **self_p);

/*  Starts joining through the member at seed_addr. */
int rm_member_join(rm_member_t *self, const char *seed_addr, rm_err_t *err);

/*  A GOSSIP that came in on the main ROUTER from `peer` (routing id) with
    credential `who`.  Refusals are logged, never answered. */
void rm_member_gossip_in(rm_member_t *self, zframe_t *peer, const rm_cred_t *who,
                         const rm_gossip_t *gossip);

/*  Where node messages that are not GOSSIP go when they come in on our
    outbound links (messages on the main ROUTER go through the node). */
void rm_member_on_message(rm_member_t *self, rm_member_recv_fn *fn, void *arg);

/*  Sends an encoded message to "tcp://..." (outbound link, connecting
    first if needed) or "rid:<hex>" (back over the main ROUTER connection
    the peer made to us).  0 sent or queued, -1 with err. */
int rm_member_send(rm_member_t *self, const char *addr, const uint8_t *buf, size_t len,
                   rm_err_t *err);

/*  Encodes a message and sends it as rm_member_send does (an encoding
    failure is logged: it is the caller's bug, never the peer's). */
void rm_member_send_msg(rm_member_t *self, const char *addr, rm_msg_type_t type, uint64_t req,
                        const void *body);
/*  An ERROR answer to addr. */
void rm_member_send_error(rm_member_t *self, const char *addr, uint64_t req, rm_code_t code,
                          const char *text);

/*  Sends one encoded message to every alive member with an address (lost
    ones are the caller's digests to repair); the number it went to. */
size_t rm_member_broadcast(rm_member_t *self, const uint8_t *buf, size_t len);

/*  The "rid:<hex>" address of a ROUTER routing id. */
void rm_member_rid_addr(zframe_t *routing_id, char *out, size_t size);

/*  Every member but this node, with its decoded metadata. */
const rm_member_peer_t *rm_member_peers(rm_member_t *self, size_t *count);

/*  The member's advertised address if it is alive and accepts
    connections, else NULL. */
const char *rm_member_addr_of(rm_member_t *self, const char *name);

/*  The member's state name ("alive", "suspect", ...), NULL if unknown. */
const char *rm_member_state_of(rm_member_t *self, const char *name);

/*  Runs the engine's timers and sends what it has to send. */
void rm_member_tick(rm_member_t *self);

/*  Milliseconds until rm_member_tick must run again. */
int64_t rm_member_wakeup(rm_member_t *self);

/*  Checks of the credentials on this node's own links (rm_peers.h). */
void rm_member_set_link_check(rm_member_t *self, rm_peers_check_fn *check, void *arg);
void rm_member_recheck_links(rm_member_t *self);

/*  Gossips new metadata about this node (only if it changed). */
void rm_member_set_meta(rm_member_t *self, const rm_member_meta_t *meta);

/*  Graceful leave: gossip it, then keep ticking until rm_member_left. */
void rm_member_leave(rm_member_t *self);
bool rm_member_left(rm_member_t *self);

/*  Every member, this node first, for NODES (free with the reply's
    descriptor). */
int rm_member_list(rm_member_t *self, rm_nodes_reply_t *reply, rm_err_t *err);

size_t rm_member_alive(rm_member_t *self);

/*  The membership view for rm_election (this node first), valid until the
    next call into rm_member.  *count receives the number of entries. */
const rm_election_member_t *rm_member_view(rm_member_t *self, size_t *count);

#endif
