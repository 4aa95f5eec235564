#include "rm_revoke.h"

#include <sodium.h>
#include <string.h>

#include "rm_signed.h"

#define SIG_DOMAIN "rendermesh-revocation-v1"

static const rm_field_t revocation_fields[] = {
    RM_FIELD(rm_revocation_t, version, RM_F_U64, 0, "revocation format, 1"),
    RM_FIELD(rm_revocation_t, name, RM_F_STR, RM_MAX_NAME, "name of the credentials revoked"),
    RM_FIELD(rm_revocation_t, mesh_pk, RM_F_B32, 0, "Ed25519 public key of the signing mesh"),
    RM_FIELD(rm_revocation_t, revoked_at, RM_F_I64, 0,
             "unix seconds: credentials of that name issued at or before it are revoked"),
};
const rm_struct_desc_t rm_revocation_desc =
    RM_DESC(rm_revocation_t, "revocation", revocation_fields, "what the mesh key takes back");

int rm_revocation_sign(const char *name, int64_t revoked_at, const uint8_t mesh_sk[64],
                       rm_bin_t *out, rm_err_t *err)
{
    rm_revocation_t rev = {.version = 1, .name = (char *)name, .revoked_at = revoked_at};
    crypto_sign_ed25519_sk_to_pk(rev.mesh_pk.b, mesh_sk);
    return rm_signed_make(SIG_DOMAIN, &rm_revocation_desc, &rev, mesh_sk, out, err);
}

int rm_revocation_verify(const uint8_t *data, size_t len, const uint8_t mesh_pk[32],
                         rm_revocation_t *rev, rm_err_t *err)
{
    if (rm_signed_peek(&rm_revocation_desc, data, len, rev, err) != 0)
        return -1;
    if (memcmp(rev->mesh_pk.b, mesh_pk, 32) != 0)
        rm_err_set(err, RM_EAUTH, "revocation is signed by another mesh");
    else if (rm_signed_check(SIG_DOMAIN, data, len, mesh_pk, err) != 0)
        rm_err_prefix(err, "revocation has a ");
    else if (rev->version != 1)
        rm_err_set(err, RM_EAUTH, "revocation format %llu is not supported",
                   (unsigned long long)rev->version);
    else
        return 0;
    rm_codec_free(&rm_revocation_desc, rev);
    return -1;
}

bool rm_revocation_covers(const rm_revocation_t *rev, const rm_cred_t *cred)
{
    return strcmp(rev->name, cred->name) == 0 && cred->issued <= rev->revoked_at;
}
