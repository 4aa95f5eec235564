/*  rm_node_s3: the node's S3: its settings, resolved once at start the way
    AWS's SDKs resolve them (meshd.conf's s3_* keys, then the environment,
    ~/.aws, then the instance role: rm_aws_config.h); the uploader that
    makes frames of jobs with an S3 output durable (rm_uploads, used by
    the worker); and IMPORT, which reads a project from S3 into the store
    in a thread of its own (rm_s3_import) while the client asks how far it
    is.  A node without usable settings still runs: it says why at start,
    and IMPORT and S3 outputs fail with that reason. */
#ifndef RM_NODE_S3_H
#define RM_NODE_S3_H

#include "rm_node_ctx.h"

/*  Resolves the settings and starts the uploader and the importer (never
    fails the node for S3's sake; only for memory). */
int rm_node_s3_start(rm_node_ctx_t *self, rm_err_t *err);
/*  After the worker, which uses the uploader. */
void rm_node_s3_stop(rm_node_ctx_t *self);

/*  RM_EDENIED unless meshd.conf's s3_buckets is empty or names the bucket
    of url (an s3:// URL already parsed by the caller): jobs reach only the
    buckets the node's operator lets them, whatever else its credentials
    can read or write.  `what` names the option for the message. */
int rm_node_s3_bucket_allowed(const rm_node_ctx_t *self, const char *url, const char *what,
                              rm_err_t *err);

/*  A job's project that no member could give (rm_jobsync_on_project_lacking):
    if it came from S3 (its spec's source_root is s3://), its objects are
    read from there again into the store, as IMPORT reads them, so the
    next fetch finds every chunk here.  The .blend and each top-level file
    or folder of the project are read (objects read before whose chunks
    are still here are not read again); once per job at a time, and not
    again within a minute of the last try.  The job's manifest must be
    here: it is not in S3, and it names the objects. */
void rm_node_s3_refill(rm_node_ctx_t *self, rm_job_t *job);

/*  IMPORT from a client: started, or how far it is, or its result. */
void rm_node_s3_import(rm_node_ctx_t *self, zframe_t *peer, const rm_cred_t *who,
                       const rm_msg_t *msg);

#endif
