/*  rm_swim_order: the order in which the engine probes its members.

    SWIM's round-robin over a shuffled list (memberlist's probe order): a
    pass visits every other member once, in random order, so each is
    probed within one pass, whatever the luck of the draws; at the end of a
    pass the list is shuffled again.  A member that joins mid-pass goes to
    a random place in the rest of the pass.  Holds member numbers only;
    the engine rebuilds the list when numbers change (a member removed). */
#ifndef RM_SWIM_ORDER_H
#define RM_SWIM_ORDER_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_swim_rng.h"

typedef struct _rm_swim_order_t rm_swim_order_t;

/*  An empty order.  NULL when out of memory. */
rm_swim_order_t *rm_swim_order_new(void);
void rm_swim_order_destroy(rm_swim_order_t **self_p);

/*  Room for the members of a table of `members` (by an eighth: see
    rm_swim_array).  0, or -1 when out of memory. */
int rm_swim_order_reserve(rm_swim_order_t *self, uint32_t members);

/*  The same, exactly (before a push-pull adds thousands); best effort. */
void rm_swim_order_reserve_exact(rm_swim_order_t *self, uint32_t members);

/*  Member idx, new, goes to a random place in the rest of this pass.
    Needs reserved room. */
void rm_swim_order_insert(rm_swim_order_t *self, uint32_t idx, rm_swim_rng_t *rng);

/*  A new pass over members 1 .. members-1 (0 is this node), shuffled
    (Fisher-Yates). */
void rm_swim_order_shuffle(rm_swim_order_t *self, uint32_t members, rm_swim_rng_t *rng);

/*  The next member of this pass: true and *idx, or false at its end. */
bool rm_swim_order_next(rm_swim_order_t *self, uint32_t *idx);

#endif
