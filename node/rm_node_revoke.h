/*  rm_node_revoke: revocations at this node.

    REVOKE from an admin (meshctl revoke) or a node carries signed
    revocations.  Each is verified against the mesh key and kept in
    HOME/revocations (rm_revocations); from then on the credentials it
    covers are refused everywhere on this node: the roster drops them (ZAP
    and the main socket refuse them), the door refuses them, and this
    node's own links to such nodes close.  New ones go to every member at
    once; a member whose gossiped digest differs from ours is sent the
    whole set (at most every RM_REVOKE_RESEND_MS), so a node that was down
    catches up, and so do nodes joining later. */
#ifndef RM_NODE_REVOKE_H
#define RM_NODE_REVOKE_H

#include "rm_node_ctx.h"

#define RM_REVOKE_RESEND_MS 5000

/*  Loads HOME/revocations and drops what they cover from the roster. */
int rm_node_revoke_start(rm_node_ctx_t *self, rm_err_t *err);

/*  From now on this node's own links check their peers against the set. */
void rm_node_revoke_watch_links(rm_node_ctx_t *self);

/*  Takes in a REVOKE from `who`; *added counts the new revocations.  -1
    only when none verified and some did not (err says why). */
int rm_node_revoke_in(rm_node_ctx_t *self, const rm_cred_t *who, const rm_revoke_msg_t *msg,
                      size_t *added, rm_err_t *err);

/*  The revocation covering this credential, or NULL. */
const rm_revocation_t *rm_node_revoked(rm_node_ctx_t *self, const rm_cred_t *cred);

/*  Sends the whole set to members whose digest differs. */
void rm_node_revoke_tick(rm_node_ctx_t *self, int64_t now);

#endif
