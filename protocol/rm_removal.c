#include "rm_removal.h"

#include <string.h>

#include "rm_rights.h"
#include "rm_signed.h"

#define SIG_DOMAIN "rendermesh-job-removal-v1"

static const rm_field_t removal_fields[] = {
    RM_FIELD(rm_removal_t, version, RM_F_U64, 0, "removal format, 1"),
    RM_FIELD(rm_removal_t, job_id, RM_F_STR, 64, "the job removed"),
    RM_FIELD(rm_removal_t, removed_at, RM_F_I64, 0, "unix ms"),
    RM_FIELD(rm_removal_t, cred, RM_F_BIN, RM_SIGNED_MAX, "the signer's credential"),
};
const rm_struct_desc_t rm_removal_desc =
    RM_DESC(rm_removal_t, "removal", removal_fields, "a job removed by its owner or an admin");

int rm_removal_sign(const char *job_id, int64_t removed_at, const rm_token_t *token, rm_bin_t *out,
                    rm_err_t *err)
{
    if (token->sign_sk.len != 64)
        return rm_err_set(err, RM_EAUTH,
                          "this credential predates signed requests: ask an admin for a new one");
    rm_removal_t r = {.version = 1,
                      .job_id = (char *)job_id,
                      .removed_at = removed_at,
                      .cred = token->credential};
    return rm_signed_make(SIG_DOMAIN, &rm_removal_desc, &r, token->sign_sk.data, out, err);
}

int rm_removal_verify(const uint8_t *data, size_t len, const uint8_t mesh_pk[32],
                      rm_removal_t *removal, rm_cred_t *cred, rm_err_t *err)
{
    memset(cred, 0, sizeof *cred);
    if (rm_signed_peek(&rm_removal_desc, data, len, removal, err) != 0)
        return -1;
    if (removal->version != 1)
        rm_err_set(err, RM_EAUTH, "removal format %llu is not supported",
                   (unsigned long long)removal->version);
    else if (rm_cred_verify(removal->cred.data, removal->cred.len, mesh_pk,
                            removal->removed_at / 1000, cred, err) != 0)
        rm_err_prefix(err, "removal of job %s: ", removal->job_id);
    else if (rm_hash_is_zero(&cred->sign_pk))
        rm_err_set(err, RM_EAUTH, "removal of job %s: the credential of '%s' has no signing key",
                   removal->job_id, cred->name);
    else if (rm_signed_check(SIG_DOMAIN, data, len, cred->sign_pk.b, err) != 0)
        rm_err_prefix(err, "removal of job %s by '%s': ", removal->job_id, cred->name);
    else
        return 0;
    rm_codec_free(&rm_cred_desc, cred);
    rm_codec_free(&rm_removal_desc, removal);
    return -1;
}

bool rm_removal_allows(const rm_cred_t *cred, const char *submitter)
{
    return rm_rights_manage(cred, submitter);
}
