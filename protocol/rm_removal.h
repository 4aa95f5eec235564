/*  rm_removal: "remove job J", signed by the person who asked.

    `meshctl rm JOB` signs a removal with the signing key of its
    credential and sends it, credential included, to a node.  Every node
    that gets it checks it (the credential is the mesh's and was valid when
    it signed; it signed the record; an admin, or the artist who submitted
    the job), deletes the job's record, outputs and logs, and keeps the
    signed removal as a tombstone, which answers any node that offers the
    job again.  So a removal cannot be forged by a node, and a node that
    was away when it happened removes the job when it comes back. */
#ifndef RM_REMOVAL_H
#define RM_REMOVAL_H

#include <stdint.h>

#include "rm_cred.h"

typedef struct {
    uint64_t version; /* 1 */
    char *job_id;
    int64_t removed_at; /* unix ms */
    rm_bin_t cred;      /* the signer's credential, signed by the mesh key */
} rm_removal_t;

extern const rm_struct_desc_t rm_removal_desc;

/*  A removal of job_id now, signed with the token's signing key. */
int rm_removal_sign(const char *job_id, int64_t removed_at, const rm_token_t *token, rm_bin_t *out,
                    rm_err_t *err);

/*  Checks a signed removal against the mesh key: fills *removal and *cred
    (free both with rm_codec_free), or RM_EAUTH naming what fails.  Who may
    remove which job is the caller's to decide (rm_removal_allows). */
int rm_removal_verify(const uint8_t *data, size_t len, const uint8_t mesh_pk[32],
                      rm_removal_t *removal, rm_cred_t *cred, rm_err_t *err);

/*  True when cred may remove a job submitted by `submitter`: an admin
    (or a credential from before roles), or the artist who submitted it. */
bool rm_removal_allows(const rm_cred_t *cred, const char *submitter);

#endif
