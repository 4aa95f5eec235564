#include "rm_reqid.h"

#include <assert.h>
#include <sodium.h>

#define OWNER_SHIFT 56
#define SEQ_MASK (((uint64_t)1 << OWNER_SHIFT) - 1)

void rm_reqid_init(rm_reqid_t *ids, rm_req_owner_t owner)
{
    assert(owner > RM_REQ_NONE && owner < RM_REQ_OWNER_COUNT);
    /* Random 32 bits high in the sequence: billions of requests before a
       wrap, and ids from before a restart almost never repeat. */
    uint64_t start = (uint64_t)randombytes_random() << 16;
    ids->last = (uint64_t)owner << OWNER_SHIFT | (start & SEQ_MASK);
}

uint64_t rm_reqid_next(rm_reqid_t *ids)
{
    uint64_t owner = ids->last >> OWNER_SHIFT, seq = (ids->last + 1) & SEQ_MASK;
    assert(owner > RM_REQ_NONE && owner < RM_REQ_OWNER_COUNT);
    ids->last = owner << OWNER_SHIFT | (seq ? seq : 1);
    return ids->last;
}

rm_req_owner_t rm_reqid_owner(uint64_t req)
{
    uint64_t owner = req >> OWNER_SHIFT;
    return owner > RM_REQ_NONE && owner < RM_REQ_OWNER_COUNT ? (rm_req_owner_t)owner : RM_REQ_NONE;
}
