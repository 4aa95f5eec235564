/*  rm_rights: what each role may ask of a node.

    A credential's role says who its holder is to the mesh:
      admin   the mesh's owners: everything below, plus drain nodes and
              revoke credentials (inviting needs mesh.key, which only an
              owner's machine holds);
      artist  submit jobs; cancel, read the logs of, and fetch the frames of
              their own jobs; a read-only view of everything else;
      node    a meshd: the node-to-node protocol, reading state, and
              carrying a client's request to the node it is for; it may
              coordinate the mesh (be elected, assign frames);
      worker  a meshd that renders but never coordinates: not a candidate
              in the election, its claims not followed, its assignments
              not obeyed nor counted (for machines more exposed than the
              rest, such as spot instances: a stolen worker credential
              cannot take the mesh's work over).
    "client" is the role every person had before roles existed; it is read
    as admin, since such a credential could do everything. */
#ifndef RM_RIGHTS_H
#define RM_RIGHTS_H

#include <stdbool.h>

#include "rm_cred.h"

typedef enum {
    RM_RIGHT_VIEW,       /* status, nodes, jobs and their frames at a glance */
    RM_RIGHT_SUBMIT,     /* submit jobs and upload their projects */
    RM_RIGHT_OWN_JOBS,   /* cancel, logs and outputs of the jobs one submitted */
    RM_RIGHT_ANY_JOB,    /* the same for anyone's job */
    RM_RIGHT_DRAIN,      /* make another node leave the mesh */
    RM_RIGHT_REVOKE,     /* revoke credentials */
    RM_RIGHT_MESH,       /* node-to-node protocol (membership, jobs, work) */
    RM_RIGHT_COORDINATE, /* be elected coordinator, assign frames */
    RM_RIGHT_COUNT
} rm_right_t;

/*  True for the roles a credential may carry (admin, artist, node, client). */
bool rm_role_known(const char *role);

/*  The role as rights see it: "client" is "admin", others themselves. */
const char *rm_role_effective(const char *role);

bool rm_role_has(const char *role, rm_right_t right);

/*  What the right lets one do, for refusals ("drain nodes"). */
const char *rm_right_describe(rm_right_t right);

/*  0 if `who` has the right; else RM_EDENIED naming the holder, the action
    and the roles that may do it ("artist 'bob' may not drain nodes: that
    needs the admin role"). */
int rm_rights_require(const rm_cred_t *who, rm_right_t right, rm_err_t *err);

/*  True when `who` may manage (cancel, reprioritise, remove) a job
    submitted by `submitter`: anyone's with RM_RIGHT_ANY_JOB, else its own
    with RM_RIGHT_OWN_JOBS. */
bool rm_rights_manage(const rm_cred_t *who, const char *submitter);

#endif
