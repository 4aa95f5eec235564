/*  rm_revoke: revocations, signed by the mesh key.

    `meshctl revoke NAME` signs "every credential named NAME issued at or
    before T is revoked"; nodes keep every revocation they hear of, pass
    them on (REVOKE), and refuse the credentials they cover: at the door, on
    their links, after restarts.  A credential issued for the same name
    after T is not covered, so a person can be invited again. */
#ifndef RM_REVOKE_H
#define RM_REVOKE_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_cred.h"

typedef struct {
    uint64_t version;   /* 1 */
    char *name;         /* the credentials' name */
    rm_hash_t mesh_pk;  /* the mesh that signed it */
    int64_t revoked_at; /* unix seconds: credentials issued at or before it are revoked */
} rm_revocation_t;

extern const rm_struct_desc_t rm_revocation_desc;

/*  Signs a revocation of `name` at `revoked_at` with the mesh secret key. */
int rm_revocation_sign(const char *name, int64_t revoked_at, const uint8_t mesh_sk[64],
                       rm_bin_t *out, rm_err_t *err);

/*  Verifies a signed revocation against mesh_pk and fills *rev (free with
    rm_codec_free (&rm_revocation_desc, rev)); RM_EAUTH if forged, of
    another mesh, or malformed. */
int rm_revocation_verify(const uint8_t *data, size_t len, const uint8_t mesh_pk[32],
                         rm_revocation_t *rev, rm_err_t *err);

/*  True when the revocation covers the credential. */
bool rm_revocation_covers(const rm_revocation_t *rev, const rm_cred_t *cred);

#endif
