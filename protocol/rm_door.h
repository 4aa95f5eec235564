/*  rm_door: the door handshake, written once for its three users: the
    node's door (server side), the node's outbound peer links and meshctl's
    client (both client side).

    A newcomer sends HELLO with its signed credential to the door at PORT+1;
    the node checks it (protocol version, signature, mesh, expiry, role, and
    that it vouches for the CURVE key the peer has just proved) and answers
    WELCOME with its own credential, which the newcomer checks the same way
    (and that it names a node).  See docs/protocol.md, "Sockets".

    Only the checks and the messages live here: each side sends and receives
    in its own loop.  Messages name the peer by `who` ("the node at
    tcp://h:p", "10.0.0.7 (key ...)") so the caller's log reads whole. */
#ifndef RM_DOOR_H
#define RM_DOOR_H

#include <stdint.h>

#include "rm_cred.h"
#include "rm_error.h"
#include "rm_msg.h"

/*  The HELLO that `identity` sends (borrows its credential). */
rm_hello_t rm_door_hello(const rm_token_t *identity);

/*  The WELCOME a node answers with (borrows the credential and the name). */
rm_welcome_t rm_door_welcome(const rm_token_t *identity, const char *node);

/*  The door's check of a HELLO sent by the holder of `curve_pk` (the key the
    CURVE handshake proved): RM_EPROTO for another protocol version, RM_EAUTH
    for a credential that is not valid for mesh_pk at `now` or that vouches
    for another key.  On success *cred is the sender's credential (free with
    rm_codec_free (&rm_cred_desc, cred)); on failure it is empty. */
int rm_door_hello_verify(const rm_hello_t *hello, const uint8_t mesh_pk[32],
                         const uint8_t curve_pk[32], int64_t now, const char *who, rm_cred_t *cred,
                         rm_err_t *err);

/*  The newcomer's check of a WELCOME: RM_EPROTO for another protocol
    version, RM_EAUTH for a credential not valid for mesh_pk at `now` or not
    a node's.  *cred as for rm_door_hello_verify. */
int rm_door_welcome_verify(const rm_welcome_t *welcome, const uint8_t mesh_pk[32], int64_t now,
                           const char *who, rm_cred_t *cred, rm_err_t *err);

#endif
