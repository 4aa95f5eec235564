#include "rm_rendezvous.h"

#include <string.h>

#include "rm_endpoint.h"
#include "rm_signed.h"
#include "rm_rights.h"

#define SIG_DOMAIN "rendermesh-rendezvous-v1"

static const rm_field_t rendezvous_fields[] = {
    RM_FIELD(rm_rendezvous_t, version, RM_F_U64, 0, "entry format, 1"),
    RM_FIELD(rm_rendezvous_t, cred, RM_F_BIN, RM_SIGNED_MAX, "the node's credential"),
    RM_FIELD(rm_rendezvous_t, address, RM_F_STR, 300, "tcp://HOST:PORT others reach it at"),
    RM_FIELD(rm_rendezvous_t, at, RM_F_I64, 0, "unix ms it was written"),
};
const rm_struct_desc_t rm_rendezvous_desc = RM_DESC(
    rm_rendezvous_t, "rendezvous", rendezvous_fields, "a node's address in an S3 rendezvous");

int rm_rendezvous_sign(const rm_token_t *token, const char *address, int64_t at, rm_bin_t *out,
                       rm_err_t *err)
{
    if (token->sign_sk.len != 64)
        return rm_err_set(err, RM_EAUTH,
                          "this node's token predates signed records: issue it a new one "
                          "(meshctl invite --role node)");
    rm_rendezvous_t r = {
        .version = 1, .cred = token->credential, .address = (char *)address, .at = at};
    return rm_signed_make(SIG_DOMAIN, &rm_rendezvous_desc, &r, token->sign_sk.data, out, err);
}

int rm_rendezvous_verify(const uint8_t *data, size_t len, const uint8_t mesh_pk[32], int64_t now_s,
                         rm_rendezvous_t *entry, rm_cred_t *cred, rm_err_t *err)
{
    memset(cred, 0, sizeof *cred);
    rm_endpoint_t ep;
    if (rm_signed_peek(&rm_rendezvous_desc, data, len, entry, err) != 0)
        return -1;
    if (entry->version != 1)
        rm_err_set(err, RM_EAUTH, "entry format %llu is not supported",
                   (unsigned long long)entry->version);
    else if (rm_cred_verify(entry->cred.data, entry->cred.len, mesh_pk, now_s, cred, err) != 0)
        ;
    else if (!rm_role_has(cred->role, RM_RIGHT_MESH))
        rm_err_set(err, RM_EAUTH, "'%s' is no node (its role is %s)", cred->name, cred->role);
    else if (rm_hash_is_zero(&cred->sign_pk))
        rm_err_set(err, RM_EAUTH, "the credential of '%s' has no signing key", cred->name);
    else if (rm_signed_check(SIG_DOMAIN, data, len, cred->sign_pk.b, err) != 0)
        rm_err_prefix(err, "entry of '%s': ", cred->name);
    else if (entry->at / 1000 < now_s - RM_RENDEZVOUS_FRESH_S)
        rm_err_set(err, RM_EAUTH, "the entry of '%s' is %lld s old: it stopped refreshing it",
                   cred->name, (long long)(now_s - entry->at / 1000));
    else if (rm_endpoint_parse(entry->address, RM_ENDPOINT_CONNECT, &ep, err) != 0)
        rm_err_prefix(err, "entry of '%s': ", cred->name);
    else
        return 0;
    rm_codec_free(&rm_cred_desc, cred);
    rm_codec_free(&rm_rendezvous_desc, entry);
    return -1;
}
