/*  rm_swim_bcast: the broadcast queue, memberlist's TransmitLimitedQueue.

    Every change the engine learns or makes is encoded once as an update
    and queued here, then piggybacked on outgoing messages until it has
    been sent often enough to have reached everyone (the engine says how
    often: mult * log10(n) sends).
    - one entry per member: a newer update about it replaces the queued one;
    - picked fewest-sent first, then newest first, so fresh news travels
      first;
    - bounded: when full, the most-sent entry goes, having had the most
      chances to spread. */
#ifndef RM_SWIM_BCAST_H
#define RM_SWIM_BCAST_H

#include <stddef.h>
#include <stdint.h>

typedef struct _rm_swim_bcast_t rm_swim_bcast_t;

/*  An empty queue of at most `max` (>= 1) updates.  NULL when out of
    memory. */
rm_swim_bcast_t *rm_swim_bcast_new(uint32_t max);
void rm_swim_bcast_destroy(rm_swim_bcast_t **self_p);

/*  Queues the encoded update `data` (taken: freed here on failure) about
    the member `name`, in place of any queued about it. */
void rm_swim_bcast_put(rm_swim_bcast_t *self, const char *name, uint8_t *data, size_t len);

/*  Chooses, in queue order, up to `max` updates whose lengths add up to at
    most `budget` bytes, skipping any that would not fit; their positions
    go to pick[], ascending.  Returns how many.  The positions hold until
    the next put or sent. */
uint32_t rm_swim_bcast_pick(rm_swim_bcast_t *self, size_t budget, uint32_t max, uint32_t *pick);

/*  The encoded update at a picked position. */
const uint8_t *rm_swim_bcast_data(const rm_swim_bcast_t *self, uint32_t pos, size_t *len);

/*  The picked updates were sent: counts one send for each and drops those
    sent `limit` times. */
void rm_swim_bcast_sent(rm_swim_bcast_t *self, const uint32_t *pick, uint32_t n, unsigned limit);

/*  Updates queued. */
uint32_t rm_swim_bcast_count(const rm_swim_bcast_t *self);

#endif
