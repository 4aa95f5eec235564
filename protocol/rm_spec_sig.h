/*  rm_spec_sig: a job spec signed by the person who submitted it.

    meshctl signs the spec it sends with the signing key of its credential
    (rm_cred_t.sign_pk).  The node that takes the SUBMIT checks the
    signature, then adds what it sets itself: the submitter's name and role
    from the credential, the time, and the credential itself.  Any node that
    later receives the job's record (JOB_SYNC) checks it all again: the
    credential is the mesh's, was valid when the job was submitted, names
    the submitter and a role that may submit, and its key signed every field
    the submitter chose.  So no node can invent a job, change a submitter,
    or turn on --allow-scripts. */
#ifndef RM_SPEC_SIG_H
#define RM_SPEC_SIG_H

#include <stdint.h>

#include "rm_msg.h"

/*  Fills spec->client_sig (malloc'd) with the signature of sign_sk. */
int rm_spec_sign(rm_job_spec_t *spec, const uint8_t sign_sk[64], rm_err_t *err);

/*  Checks spec->client_sig against the submitter's signing key: RM_EAUTH
    "job ID: not signed by its submitter" when absent or wrong. */
int rm_spec_check_sig(const rm_job_spec_t *spec, const uint8_t sign_pk[32], rm_err_t *err);

/*  Checks a spec as a record carries it: its client_cred against the mesh
    key and the fields the node set, then the signature.  RM_EAUTH naming
    what does not hold. */
int rm_spec_verify(const rm_job_spec_t *spec, const uint8_t mesh_pk[32], rm_err_t *err);

#endif
