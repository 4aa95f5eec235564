/*  rm_known: the nodes this client has met, so that it goes straight to a
    node's main socket next time.

    The door (rm_client, step 1) is where a client and a node first show
    each other their credentials.  The node keeps the client's in its
    roster across restarts, so a client that remembers the node's WELCOME
    needs only step 2: one connection instead of two, and none through the
    door, which anyone who knows mesh.pub can crowd.  A remembered WELCOME
    is checked again at each use (mesh key, role node, not expired); the
    door is used when there is none, when it no longer verifies, and when
    the node refuses the direct connection (its key changed, or it forgot
    us).

    HOME/known-nodes/ holds one file per node address: the WELCOME as the
    node encoded it (rm_msg), mode 0600. */
#ifndef RM_KNOWN_H
#define RM_KNOWN_H

#include <stdint.h>

#include "rm_error.h"
#include "rm_msg.h"

#define RM_KNOWN_DIR "known-nodes"
#define RM_KNOWN_MAX_BYTES 65536

/*  The file for addr in dir ("tcp://h:p" -> "DIR/tcp___h_p"). */
void rm_known_path(const char *dir, const char *addr, char *out, size_t size);

/*  The node remembered for addr, if its WELCOME still verifies against
    mesh_pk at `now`: its CURVE key in node_pk and its name in *node (free
    it).  RM_ENOTFOUND when there is none; another code for an entry that
    no longer holds (the caller forgets it). */
int rm_known_find(const char *dir, const char *addr, const uint8_t mesh_pk[32], int64_t now,
                  uint8_t node_pk[32], char **node, rm_err_t *err);

/*  Remembers the WELCOME the node at addr sent (dir is made if missing). */
int rm_known_save(const char *dir, const char *addr, const rm_welcome_t *welcome, rm_err_t *err);

/*  Forgets the node at addr (no error if it was not known). */
void rm_known_forget(const char *dir, const char *addr);

#endif
