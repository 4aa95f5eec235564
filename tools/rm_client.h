/*  rm_client: a connection from a client (meshctl) to one node.

    Connecting is two steps (see docs/architecture.md, "Trust"):
      1. the door, at PORT+1: a CURVE DEALER whose server key is derived
         from the mesh public key (rm_door_keypair), so any holder of a
         credential can reach it; we send HELLO with our signed credential
         and the node answers WELCOME with its own, which we verify against
         our mesh key (signed by our mesh, role "node", not expired);
      2. the node, at PORT: a CURVE DEALER whose server key is the key that
         the node's credential vouches for, so only that node can answer.
    A node refuses a client of another mesh by not answering at all: that
    shows up as RM_EUNREACH after the timeout.  A client that remembers a
    node (rm_known) goes to step 2 at once, and to the door only if the
    node refuses it there.

    Every message is one frame, rm_msg_encode (type, request id, body);
    replies carry the id of their request, so requests can be pipelined.
    Replies to requests we gave up on are dropped. */
#ifndef RM_CLIENT_H
#define RM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rm_cred.h"
#include "rm_endpoint.h"
#include "rm_error.h"
#include "rm_msg.h"

typedef struct _rm_client_t rm_client_t;

/*  Connects and authenticates as `identity` (a client token), waiting up to
    timeout_ms (<= 0: 5000) for the node's WELCOME.  Errors: RM_EINVAL (bad
    address), RM_EUNREACH (no answer), RM_EAUTH (the node's credential is
    not valid for our mesh, or the node refused ours), RM_EPROTO. */
rm_client_t *rm_client_new(const char *addr, const rm_token_t *identity, int timeout_ms,
                           rm_err_t *err);

/*  The same, remembering nodes in known_dir (rm_known): a node met before
    is reached at its main socket directly, without the door; if it
    refuses that connection (new key, lost roster), the door is used and
    the new WELCOME remembered. */
rm_client_t *rm_client_new_known(const char *addr, const rm_token_t *identity, int timeout_ms,
                                 const char *known_dir, rm_err_t *err);
void rm_client_destroy(rm_client_t **self_p);

/*  The node's name (from its credential) and the address we connected to. */
const char *rm_client_node(const rm_client_t *self);
const char *rm_client_addr(const rm_client_t *self);
int rm_client_timeout(const rm_client_t *self);

/*  True when the last failed call failed because the node answered ERROR
    (the request was refused), false when it failed here or in transit. */
bool rm_client_refused(const rm_client_t *self);

/*  Sends one request (body: the type's struct, NULL for empty bodies);
 *req receives its request id. */
int rm_client_send(rm_client_t *self, rm_msg_type_t type, const void *body, uint64_t *req,
                   rm_err_t *err);

/*  Receives the next message from the node, waiting up to timeout_ms
    (RM_ETIMEOUT).  *msg is overwritten; free it with rm_msg_free, also
    after a failure. */
int rm_client_recv(rm_client_t *self, rm_msg_t *msg, int timeout_ms, rm_err_t *err);

/*  Sends a request and waits (up to the client's timeout plus extra_ms) for
    its reply.  An ERROR reply fails with the node's code and message and
    sets rm_client_refused; a reply of another type than `expect` (0: any)
    is RM_EPROTO; no reply is RM_ETIMEOUT.  Free *reply with rm_msg_free. */
int rm_client_call(rm_client_t *self, rm_msg_type_t type, const void *body, rm_msg_type_t expect,
                   int extra_ms, rm_msg_t *reply, rm_err_t *err);

/*  Pipelining: requests 0..n-1, at most `window` unanswered at a time.
    send_fn sends request i (with rm_client_send) and returns its id;
    reply_fn gets the reply to request i (any order; it may take ownership
    of the reply's heap members by setting them to NULL).  ERROR replies
    fail the whole run (refused); each reply must come within the client's
    timeout of the previous one. */
typedef int (*rm_client_send_fn)(void *arg, rm_client_t *client, size_t i, uint64_t *req,
                                 rm_err_t *err);
typedef int (*rm_client_reply_fn)(void *arg, size_t i, rm_msg_t *reply, rm_err_t *err);
int rm_client_pipeline(rm_client_t *self, size_t n, size_t window, rm_client_send_fn send_fn,
                       rm_client_reply_fn reply_fn, void *arg, rm_err_t *err);

/*  The same, but an ERROR reply goes to reply_fn like any other, so one
    request's answer (RM_EAGAIN: a chunk the node is still fetching from
    the mesh) does not end the run.  When reply_fn fails (-1) on an ERROR
    reply, rm_client_refused is true; when it returns RM_CLIENT_STOP the
    run ends there and succeeds (the rest is not worth asking for).
    Replies to requests still in flight are dropped later. */
#define RM_CLIENT_STOP 1
int rm_client_pipeline_each(rm_client_t *self, size_t n, size_t window, rm_client_send_fn send_fn,
                            rm_client_reply_fn reply_fn, void *arg, rm_err_t *err);

#endif
