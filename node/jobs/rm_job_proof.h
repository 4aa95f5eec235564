/*  rm_job_proof: who wrote a frame's record, and how a node that was not
    there checks it.

    The coordinator signs each assignment it makes (the grant: job, frame,
    node, stamp, coordinator); the node that renders the frame signs its
    done record (what it rendered and the grant it rendered under).  A
    node that merges a peer's record checks both against the credentials
    the job carries (rm_job_record_t.signers), each checked in turn against
    the mesh key, its node role and the revocations by the node's trust
    callback.  So no node can put its output under another node's name, or
    mark done a frame that no coordinator gave it.

    Cancels and priorities carry the signed order of who asked
    (rm_job_order.h), checked here too: a node may not manage jobs.

    A grant counts only when signed by a credential that may coordinate
    (role node): a worker's grants are refused.

    What a stolen node credential can still do: the election takes a
    node's claims at their word (rm_election.h), so such a node can make
    itself coordinator, grant itself frames and render them; its records
    then carry its own name, on every node. */
#ifndef RM_JOB_PROOF_H
#define RM_JOB_PROOF_H

#include <stdint.h>

#include "rm_cred.h"
#include "rm_job_record.h"

/*  Checks a signer's credential (signed by this mesh, not revoked) and
    fills *out (free with rm_codec_free (&rm_cred_desc, out)). */
typedef int(rm_job_signer_check_fn)(void *arg, const rm_bin_t *cred, rm_cred_t *out, rm_err_t *err);

/*  A node's part in the proofs: owned by the node, outliving its jobs. */
typedef struct {
    const char *name;       /* this node */
    rm_bin_t cred;          /* its credential, signed by the mesh key */
    const uint8_t *sign_sk; /* 64 bytes, the secret of cred's sign_pk; NULL: sign nothing */
    rm_job_signer_check_fn *check_signer; /* NULL: peers' records are not checked */
    void *arg;
} rm_job_trust_t;

/*  What a worker keeps of an assignment until the frame is done. */
typedef struct {
    char by[RM_MAX_NAME + 1]; /* the coordinator */
    uint64_t stamp;           /* RM_STAMP of the assignment */
    uint64_t gen;             /* the frame's generation it was given at */
    uint8_t sig[64];
    rm_bin_t cred; /* the coordinator's credential (borrowed; may be empty): it joins
                      the job's signers with the done record */
} rm_job_grant_t;

/*  rec->grant_by = trust's name, rec->grant_sig over (job, frame, node,
    epoch, grant_by, gen). */
int rm_job_proof_sign_grant(const char *job_id, rm_frame_rec_t *rec, const rm_job_trust_t *trust,
                            rm_err_t *err);

/*  rec->done_sig over what the done record says (rec->node must be trust's
    name). */
int rm_job_proof_sign_done(const char *job_id, rm_frame_rec_t *rec, const rm_job_trust_t *trust,
                           rm_err_t *err);

/*  The signers a merge may use: the job's and those a peer sent.  Each is
    checked (trust->check_signer, role node, a signing key) the first time
    a frame names it. */
typedef struct _rm_job_keys_t rm_job_keys_t;

rm_job_keys_t *rm_job_keys_new(const rm_job_trust_t *trust);
void rm_job_keys_destroy(rm_job_keys_t **self_p);
/*  Borrows cred: it must outlive the keys. */
int rm_job_keys_add(rm_job_keys_t *self, const rm_bin_t *cred, rm_err_t *err);

/*  Checks an assigned or done record: its grant, and for done its
    rendering node's signature.  RM_EAUTH naming the frame and what fails.
    Records in other states carry no proof (0). */
int rm_job_proof_check(rm_job_keys_t *keys, const char *job_id, const rm_frame_rec_t *rec,
                       rm_err_t *err);

/*  How far ahead of this node's clock a signed order's time may be: a
    priority set from a clock further ahead would win the register for
    that long against every later setting. */
#define RM_JOB_ORDER_SKEW_MS (10 * 60 * 1000)

/*  Checks a cancel's or priority's signed order (rm_job_order.h) against
    the job it changes: of this kind, naming this job, signed by a
    credential of this mesh not revoked (trust->check_signer) and valid
    then, of an admin or the job's submitter, not signed more than
    RM_JOB_ORDER_SKEW_MS ahead of now_ms; a priority order says `value` at
    `at`.  RM_EAUTH (an empty order: "without its signature"), RM_EDENIED
    or RM_EINVAL naming the job and what fails.  0 when trust checks
    nothing (no check_signer). */
int rm_job_proof_check_order(const rm_job_trust_t *trust, const rm_job_spec_t *spec, uint64_t kind,
                             const rm_bin_t *order, int64_t at, int64_t value, int64_t now_ms,
                             rm_err_t *err);

/*  The name in a signer's credential, unchecked, into name (empty if
    malformed): for choosing which signers a delta carries. */
void rm_job_proof_signer_name(const rm_bin_t *cred, char *name, size_t size);

#endif
