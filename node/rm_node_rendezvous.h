/*  rm_node_rendezvous: meshd --join s3://BUCKET/PREFIX/.  The node writes
    its signed entry (rm_rendezvous.h: credential, advertised address,
    time) as PREFIX/NAME every RM_RENDEZVOUS_REFRESH_S, reads the others'
    (every 5 s while it is alone, every minute after), joins the addresses
    whose entries check against its token's mesh key, and deletes its own
    entry when it leaves.  A fresh instance needs only the bucket and its
    join token.  S3 is reached from a thread of its own. */
#ifndef RM_NODE_RENDEZVOUS_H
#define RM_NODE_RENDEZVOUS_H

#include "rm_node_ctx.h"

/*  With an s3:// join: starts (RM_EINVAL when the node has no S3 settings
    or the URL is no prefix).  Otherwise does nothing. */
int rm_node_rendezvous_start(rm_node_ctx_t *self, rm_err_t *err);
/*  Deletes this node's entry (a graceful leave), then stops. */
void rm_node_rendezvous_stop(rm_node_ctx_t *self);

void rm_node_rendezvous_tick(rm_node_ctx_t *self, int64_t now);

#endif
