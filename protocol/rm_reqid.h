/*  rm_reqid: request ids that say which part of a node asked.

    A node's parts send requests to other nodes (REPLICATE, CHUNK_GET,
    LOGS, JOB_SYNC, WORK_REQ) and recognise the answers (OK, ERROR,
    CHUNK_DATA, LOGS_REPLY, ASSIGN) by the id they chose.  The id's top byte
    names the asking part, so the node loop hands each answer to its owner
    with one table lookup instead of offering it to every part in turn.
    The other 56 bits start at a random point, so an answer to a request
    sent before a restart does not match a new one. */
#ifndef RM_REQID_H
#define RM_REQID_H

#include <stdint.h>

typedef enum {
    RM_REQ_NONE = 0, /* not ours: a client's or another node's id */
    RM_REQ_JOBSYNC,  /* job replication (JOB_SYNC -> JOB_HELD / ERROR) */
    RM_REQ_WORK,     /* the worker (WORK_REQ -> ASSIGN, REPLICATE -> OK / ERROR) */
    RM_REQ_LOGS,     /* LOGS forwarded to another node (-> LOGS_REPLY / ERROR) */
    RM_REQ_HANDOVER, /* a leaving node's outputs (REPLICATE -> OK / ERROR) */
    RM_REQ_XFER,     /* chunk transfers (CHUNK_GET -> CHUNK_DATA, CHUNK_MAP -> ..._REPLY) */
    RM_REQ_REPAIR,   /* lost outputs sought (HAVE -> HAVE_REPLY / ERROR) */
    RM_REQ_OWNER_COUNT
} rm_req_owner_t;

/*  A sequence of ids for `owner`, each from rm_reqid_next. */
typedef struct {
    uint64_t last;
} rm_reqid_t;

/*  Starts a sequence at a random point. */
void rm_reqid_init(rm_reqid_t *ids, rm_req_owner_t owner);

/*  The next id of the sequence; never 0, always owned by its owner. */
uint64_t rm_reqid_next(rm_reqid_t *ids);

/*  Who asked, for an id a peer sent back; RM_REQ_NONE if no part of a
    node makes such ids. */
rm_req_owner_t rm_reqid_owner(uint64_t req);

#endif
