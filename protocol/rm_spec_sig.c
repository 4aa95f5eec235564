#include "rm_spec_sig.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "rm_cred.h"
#include "rm_rights.h"

#define DOMAIN "rendermesh-job-spec-v1"

/*  DOMAIN || the spec without what nodes fill in. */
static int signed_bytes(const rm_job_spec_t *spec, uint8_t **msg, size_t *len, rm_err_t *err)
{
    rm_job_spec_t s = *spec; /* shallow: only encoded */
    s.submitter = NULL;
    s.submitter_role = NULL;
    s.submitted_at = 0;
    s.client_sig = (rm_bin_t){0};
    s.client_cred = (rm_bin_t){0};
    uint8_t *body = NULL;
    size_t body_len = 0;
    if (rm_codec_encode(&rm_job_spec_desc, &s, &body, &body_len, err) != 0)
        return -1;
    *len = sizeof DOMAIN - 1 + body_len;
    *msg = malloc(*len);
    if (*msg) {
        memcpy(*msg, DOMAIN, sizeof DOMAIN - 1);
        memcpy(*msg + sizeof DOMAIN - 1, body, body_len);
    }
    free(body);
    return *msg ? 0 : rm_err_set(err, RM_ENOMEM, "out of memory signing a job");
}

int rm_spec_sign(rm_job_spec_t *spec, const uint8_t sign_sk[64], rm_err_t *err)
{
    uint8_t *msg = NULL;
    size_t len = 0;
    if (signed_bytes(spec, &msg, &len, err) != 0)
        return -1;
    uint8_t *sig = malloc(crypto_sign_BYTES);
    if (!sig) {
        free(msg);
        return rm_err_set(err, RM_ENOMEM, "out of memory signing a job");
    }
    crypto_sign_detached(sig, NULL, msg, len, sign_sk);
    free(msg);
    free(spec->client_sig.data);
    spec->client_sig = (rm_bin_t){.data = sig, .len = crypto_sign_BYTES};
    return 0;
}

int rm_spec_check_sig(const rm_job_spec_t *spec, const uint8_t sign_pk[32], rm_err_t *err)
{
    static const uint8_t zero[32];
    if (spec->client_sig.len != crypto_sign_BYTES || memcmp(sign_pk, zero, 32) == 0)
        return rm_err_set(err, RM_EAUTH, "job %s is not signed by its submitter", spec->job_id);
    uint8_t *msg = NULL;
    size_t len = 0;
    if (signed_bytes(spec, &msg, &len, err) != 0)
        return -1;
    int ok = crypto_sign_verify_detached(spec->client_sig.data, msg, len, sign_pk) == 0;
    free(msg);
    if (!ok)
        return rm_err_set(err, RM_EAUTH,
                          "job %s: its submitter's signature does not match its spec",
                          spec->job_id);
    return 0;
}

int rm_spec_verify(const rm_job_spec_t *spec, const uint8_t mesh_pk[32], rm_err_t *err)
{
    rm_cred_t cred;
    if (!spec->client_cred.len)
        return rm_err_set(err, RM_EAUTH, "job %s carries no submitter credential", spec->job_id);
    /* Valid when submitted; it may have expired since. */
    if (rm_cred_verify(spec->client_cred.data, spec->client_cred.len, mesh_pk,
                       spec->submitted_at / 1000, &cred, err) != 0)
        return rm_err_prefix(err, "job %s: ", spec->job_id);
    int rc = 0;
    if (!spec->submitter || strcmp(cred.name, spec->submitter) != 0 || !spec->submitter_role ||
        strcmp(rm_role_effective(cred.role), spec->submitter_role) != 0)
        rc = rm_err_set(err, RM_EAUTH,
                        "job %s: its submitter '%s' (%s) is not the credential's (%s '%s')",
                        spec->job_id, spec->submitter ? spec->submitter : "",
                        spec->submitter_role ? spec->submitter_role : "", cred.role, cred.name);
    else if (rm_rights_require(&cred, RM_RIGHT_SUBMIT, err) != 0)
        rc = rm_err_prefix(err, "job %s: ", spec->job_id);
    else
        rc = rm_spec_check_sig(spec, cred.sign_pk.b, err);
    rm_codec_free(&rm_cred_desc, &cred);
    return rc;
}
