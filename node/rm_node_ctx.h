/*  rm_node_ctx: the node's state, one struct shared by the node loop
    (rm_node.c) and the parts it hands events to: start-up and shutdown
    (rm_node_start), the door (rm_node_door) and client requests
    (rm_node_client).  Only the node actor's thread touches it. */
#ifndef RM_NODE_CTX_H
#define RM_NODE_CTX_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "rm_blender.h"
#include "rm_cred.h"
#include "rm_handover.h"
#include "rm_rate.h"
#include "rm_repair.h"
#include "rm_jobs.h"
#include "rm_jobsync.h"
#include "rm_logs.h"
#include "rm_member.h"
#include "rm_quota.h"
#include "rm_revocations.h"
#include "rm_roster.h"
#include "rm_sched.h"
#include "rm_slots.h"
#include "rm_store.h"
#include "rm_work.h"
#include "rm_xfer.h"
#include "rm_door_watch.h"
#include "rm_zap.h"
#include "rm_config.h"
#include "rm_aws_config.h"
#include "rm_uploads.h"

#define RM_NODE_MAX_WATCHES 1024
#define RM_NODE_MAX_WAITING 1024 /* client requests waiting on the mesh */
/* What one credential may hold of either table: one client cannot fill
   what the others need (5,000 CHUNK_GETs of random hashes). */
#define RM_NODE_MAX_PER_CLIENT 64

typedef struct {
    zframe_t *peer; /* routing id */
    uint64_t req;
    char job_id[65];
    uint64_t version;
    int64_t deadline;
    char who[RM_MAX_NAME]; /* the credential that asked */
} rm_node_watch_t;

/*  A client request answered later: a submission waiting for a second node
    to hold its job, or a chunk fetched from the mesh for it. */
typedef struct {
    zframe_t *peer;
    uint64_t req;
    rm_msg_type_t type;
    char job_id[65];
    rm_hash_t hash;
    int64_t deadline;      /* SUBMIT: when its own wait for a second node ends */
    int64_t since;         /* SUBMIT: when that wait began */
    char who[RM_MAX_NAME]; /* the credential that asked */
} rm_node_waiting_t;

#define RM_NODE_MAX_IMPORTS 16 /* imports remembered (running or ended) */

/*  A project read from S3 (IMPORT): its key is the hash of what was asked. */
typedef struct {
    rm_hash_t key;
    uint64_t id;
    char who[RM_MAX_NAME];   /* the credential that asked first */
    int64_t touched;         /* mono ms of the last IMPORT for it */
    bool sent;               /* to the importer (one runs at a time; the others wait) */
    bool ended;              /* done or failed: reply says which */
    rm_import_t request;     /* owned copy */
    rm_import_reply_t reply; /* owned strings */
    char job_id[65];         /* a job's project read again (rm_node_s3_refill); "" = IMPORT */
    rm_hash_t expected;      /* that job's manifest */
} rm_node_import_t;

/*  The actor's state: everything the node holds. */
typedef struct {
    zsock_t *pipe;
    rm_config_t config;
    rm_token_t token;
    rm_cred_t cred; /* our own, verified */
    rm_zap_t *zap;  /* the ZAP handler, its own actor: admits what the roster holds */
    zsock_t *door;
    zsock_t *mesh;
    rm_door_watch_t *watch; /* failed handshakes on door and mesh */
    rm_loop_t *loop;        /* every socket the node reads, and its wake-up */
    bool leaving;           /* rm_node: the last second, telling the others */
    rm_roster_t *roster;
    rm_revocations_t *revocations;
    zhashx_t *revoke_sent; /* member name -> when it was last sent the whole set */
    int64_t revoke_next;   /* next look for members whose revocations differ */
    rm_store_t *store;
    rm_jobs_t *jobs;
    rm_job_trust_t trust; /* how jobs sign our frames and check peers' */
    rm_quota_t *quota;    /* bounds and quotas of submissions */
    int64_t remove_next;  /* next retention sweep (rm_node_remove) */
    bool remove_sweep;    /* jobs were removed: collect their project folders */
    zactor_t *gc;         /* the store's collector (rm_node_gc) */
    void *gc_args;        /* what it works on, freed with it */
    int64_t gc_next;      /* next collection due (mono ms) */
    bool gc_running, gc_due;
    /* The store's size: measured by the last collection, plus what was
       written since it began (rm_store_bytes_added then: store_added_at). */
    bool store_measured;
    uint64_t store_bytes_at, store_added_at, gc_added_at;
    int64_t gc_cap_after; /* no collection for the cap before (mono ms) */
    rm_slots_t *slots;
    rm_member_t *member;
    rm_xfer_t *xfer;
    rm_jobsync_t *jobsync;
    rm_sched_t *sched;
    rm_work_t *work;
    rm_handover_t *handover; /* leaving: finished outputs go to members that stay */
    rm_repair_t *repair;     /* frames whose output no live node holds: rendered again */
    rm_rate_t upload;        /* upload_limit_mbps (rm_node_upload) */
    zlistx_t *upload_queue;  /* chunks waiting for it */
    rm_logs_server_t *logs;
    rm_aws_settings_t s3; /* resolved at start (secrets: never logged) */
    bool s3_ok;           /* settings resolved; else s3_why says why not */
    char s3_why[RM_ERR_MSG_MAX];
    rm_uploads_t *uploads; /* frames to S3 outputs (rm_node_s3) */
    zactor_t *importer;    /* projects from S3 into the store */
    rm_node_import_t imports[RM_NODE_MAX_IMPORTS];
    int64_t submit_progress_at; /* mono ms rm_node_submit_progress last looked */
    uint64_t import_ids;
    zactor_t *rendezvous; /* --join s3://: entries in a bucket (rm_node_rendezvous) */
    char rendezvous_prefix[1025];
    int64_t rendezvous_put_at, rendezvous_look_at;
    zhashx_t *rendezvous_ignored; /* keys of entries refused (said once) */
    char advertise[300];          /* the address this node gives others */
    rm_election_t election;
    rm_refusals_t refusals; /* rate of refusal log lines */
    bool blender_ok;
    char blender[512];
    char caps[RM_MAX_NAME]; /* what this Blender can do that jobs may require */
    int64_t started;
    rm_node_watch_t watches[RM_NODE_MAX_WATCHES];
    size_t nwatches;
    rm_node_waiting_t waiting[RM_NODE_MAX_WAITING];
    size_t nwaiting;
    bool terminated;
    int64_t hand_back_until; /* SIGTERM: 0, or when to leave anyway */
    bool drained;            /* left after draining */
    bool stay_down;          /* an admin (or SIGTERM) asked for the drain: meshd exits 0 */
} rm_node_ctx_t;

/*  HOME/name into out; RM_EINVAL if it does not fit. */
int rm_node_home_path(const rm_node_ctx_t *self, const char *name, char *out, size_t size,
                      rm_err_t *err);

/*  What this node gossips about itself; `rendering` (size bytes) holds
    the text meta->rendering points to. */
void rm_node_meta(rm_node_ctx_t *self, rm_member_meta_t *meta, char *rendering, size_t size);

/*  A client request on the main socket, while its handler runs. */
typedef struct {
    rm_node_ctx_t *node;
    zframe_t *peer;
    const rm_cred_t *who;
    rm_msg_t *msg; /* the handler may take its strings (SUBMIT) */
} rm_node_request_t;

/*  A request answered later (a SUBMIT held by a second node, a chunk
    fetched from the members): NULL when the node waits on too many, or on
    too many of this client's. */
rm_node_waiting_t *rm_node_waiting_add(rm_node_request_t *r, rm_msg_type_t type);
void rm_node_waiting_drop(rm_node_ctx_t *self, size_t i);

/*  The chunk store's size now, and whether it has been measured yet. */
bool rm_node_store_bytes(rm_node_ctx_t *self, uint64_t *bytes);

/*  Replies to `peer` on the ROUTER `sock` (the frame is copied). */
void rm_node_reply(zsock_t *sock, zframe_t *peer, rm_msg_type_t type, uint64_t req,
                   const void *body);
void rm_node_reply_error(zsock_t *sock, zframe_t *peer, uint64_t req, rm_code_t code,
                         const char *text);
void rm_node_reply_ok(zsock_t *sock, zframe_t *peer, uint64_t req, const char *text);

#endif
