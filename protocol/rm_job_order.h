/*  rm_job_order: a change to a job that only its submitter or an admin may
    make (cancel it, set its priority), signed by the person who asked.

    meshctl signs the order with its credential's signing key and sends it
    with the request; the node that takes it journals the order with the
    change, and every node that merges the change from a peer checks the
    order again (the credential is the mesh's and was valid when it signed;
    it signed these bytes; an admin, or the artist who submitted the job;
    the order names this job and says what the record says).  So a node
    credential cannot cancel a job or change its priority: it holds nobody's
    signing key but its own, and a node may not manage jobs. */
#ifndef RM_JOB_ORDER_H
#define RM_JOB_ORDER_H

#include <stdint.h>

#include "rm_cred.h"
#include "rm_signed.h"

typedef enum {
    RM_JOB_ORDER_CANCEL = 1,
    RM_JOB_ORDER_PRIORITY = 2,
} rm_job_order_kind_t;

typedef struct {
    uint64_t version; /* 1 */
    uint64_t kind;    /* rm_job_order_kind_t */
    char *job_id;
    int64_t at;       /* unix ms, by the signer's clock */
    int64_t priority; /* PRIORITY: the priority set; CANCEL: 0 */
    rm_bin_t cred;    /* the signer's credential, signed by the mesh key */
} rm_job_order_t;

extern const rm_struct_desc_t rm_job_order_desc;

/*  Largest signed order: a body of at most RM_SIGNED_MAX and its signature. */
#define RM_JOB_ORDER_MAX (RM_SIGNED_MAX + 128)

/*  An order of `kind` on job_id at `at`, signed with the token's signing
    key (*out malloc'd). */
int rm_job_order_sign(rm_job_order_kind_t kind, const char *job_id, int64_t at, int64_t priority,
                      const rm_token_t *token, rm_bin_t *out, rm_err_t *err);

/*  Reads a signed order without checking it (free with rm_codec_free
    (&rm_job_order_desc, order)): RM_EAUTH on a malformed blob or an
    unknown format or kind. */
int rm_job_order_peek(const rm_bin_t *blob, rm_job_order_t *order, rm_err_t *err);

/*  Checks a peeked order against `cred`, the signer's credential already
    checked against the mesh key (and the revocations) by the caller: the
    credential was valid when it signed, it signed the blob, and it may
    manage a job submitted by `submitter` (rm_rights_manage).  RM_EAUTH or
    RM_EDENIED naming the job and what fails. */
int rm_job_order_check(const rm_bin_t *blob, const rm_job_order_t *order, const rm_cred_t *cred,
                       const char *submitter, rm_err_t *err);

/*  "cancel" or "priority". */
const char *rm_job_order_kind_name(uint64_t kind);

#endif
