/*  rm_rendezvous: a node's entry in an S3 rendezvous (meshd --join
    s3://BUCKET/PREFIX/): "node N is at tcp://HOST:PORT", with N's
    credential, signed with N's own signing key.

    A fresh instance that knows only the bucket and its join token reads
    the entries and joins the addresses whose entries check: a credential
    of this mesh (the token's mesh key), of a node, not expired, that
    signed the entry; and fresh.  So a writer of the bucket cannot make a
    node connect to an address no member of the mesh vouched for (and the
    door's handshake would refuse an impostor anyway). */
#ifndef RM_RENDEZVOUS_H
#define RM_RENDEZVOUS_H

#include <stdint.h>

#include "rm_cred.h"

/*  An entry older than this is a node that stopped refreshing it (nodes
    write theirs every RM_RENDEZVOUS_REFRESH_S). */
#define RM_RENDEZVOUS_REFRESH_S 60
#define RM_RENDEZVOUS_FRESH_S (10 * RM_RENDEZVOUS_REFRESH_S)

typedef struct {
    uint64_t version; /* 1 */
    rm_bin_t cred;    /* the node's credential, signed by the mesh key */
    char *address;    /* tcp://HOST:PORT others reach it at */
    int64_t at;       /* unix ms it was written */
} rm_rendezvous_t;

extern const rm_struct_desc_t rm_rendezvous_desc;

/*  The token's entry for address, written at `at`, signed. */
int rm_rendezvous_sign(const rm_token_t *token, const char *address, int64_t at, rm_bin_t *out,
                       rm_err_t *err);

/*  Checks an entry read from the bucket at unix time now_s: fills *entry
    and *cred (free both with rm_codec_free), or RM_EAUTH naming what fails
    (malformed, another mesh, not a node, expired, forged, stale, a bad
    address). */
int rm_rendezvous_verify(const uint8_t *data, size_t len, const uint8_t mesh_pk[32], int64_t now_s,
                         rm_rendezvous_t *entry, rm_cred_t *cred, rm_err_t *err);

#endif
