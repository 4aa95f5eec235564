#include "rm_job_order.h"

#include <string.h>

#include "rm_rights.h"

#define SIG_DOMAIN "rendermesh-job-order-v1"

static const rm_field_t order_fields[] = {
    RM_FIELD(rm_job_order_t, version, RM_F_U64, 0, "order format, 1"),
    RM_FIELD(rm_job_order_t, kind, RM_F_U64, RM_JOB_ORDER_PRIORITY, "1 cancel 2 priority"),
    RM_FIELD(rm_job_order_t, job_id, RM_F_STR, 64, "the job"),
    RM_FIELD(rm_job_order_t, at, RM_F_I64, 0, "unix ms, the signer's clock"),
    RM_FIELD(rm_job_order_t, priority, RM_F_I64, 0, "the priority set (priority orders)"),
    RM_FIELD(rm_job_order_t, cred, RM_F_BIN, RM_SIGNED_MAX, "the signer's credential"),
};
const rm_struct_desc_t rm_job_order_desc =
    RM_DESC(rm_job_order_t, "job_order", order_fields,
            "a cancel or a priority, signed by the job's submitter or an admin");

const char *rm_job_order_kind_name(uint64_t kind)
{
    return kind == RM_JOB_ORDER_CANCEL ? "cancel" : "priority";
}

int rm_job_order_sign(rm_job_order_kind_t kind, const char *job_id, int64_t at, int64_t priority,
                      const rm_token_t *token, rm_bin_t *out, rm_err_t *err)
{
    if (token->sign_sk.len != 64)
        return rm_err_set(err, RM_EAUTH,
                          "this credential predates signed requests: ask an admin for a new one");
    rm_job_order_t o = {.version = 1,
                        .kind = kind,
                        .job_id = (char *)job_id,
                        .at = at,
                        .priority = kind == RM_JOB_ORDER_PRIORITY ? priority : 0,
                        .cred = token->credential};
    return rm_signed_make(SIG_DOMAIN, &rm_job_order_desc, &o, token->sign_sk.data, out, err);
}

int rm_job_order_peek(const rm_bin_t *blob, rm_job_order_t *order, rm_err_t *err)
{
    if (rm_signed_peek(&rm_job_order_desc, blob->data, blob->len, order, err) != 0)
        return -1;
    if (order->version == 1 && order->kind >= RM_JOB_ORDER_CANCEL)
        return 0;
    rm_err_set(err, RM_EAUTH, "job order format %llu, kind %llu, is not supported",
               (unsigned long long)order->version, (unsigned long long)order->kind);
    rm_codec_free(&rm_job_order_desc, order);
    return -1;
}

int rm_job_order_check(const rm_bin_t *blob, const rm_job_order_t *order, const rm_cred_t *cred,
                       const char *submitter, rm_err_t *err)
{
    const char *what = rm_job_order_kind_name(order->kind);
    int64_t at_s = order->at / 1000;
    if (rm_hash_is_zero(&cred->sign_pk))
        return rm_err_set(err, RM_EAUTH, "%s of job %s: the credential of '%s' has no signing key",
                          what, order->job_id, cred->name);
    if (at_s < cred->issued || (cred->expires && at_s > cred->expires))
        return rm_err_set(err, RM_EAUTH,
                          "%s of job %s: signed by '%s' at a time its credential was not valid",
                          what, order->job_id, cred->name);
    if (rm_signed_check(SIG_DOMAIN, blob->data, blob->len, cred->sign_pk.b, err) != 0)
        return rm_err_prefix(err, "%s of job %s by '%s': ", what, order->job_id, cred->name);
    if (!rm_rights_manage(cred, submitter))
        return rm_err_set(err, RM_EDENIED,
                          "%s of job %s by %s '%s': only an admin or the job's submitter may", what,
                          order->job_id, rm_role_effective(cred->role), cred->name);
    return 0;
}
