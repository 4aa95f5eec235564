/*  rm_swim_array: growth of the engine's arrays (members, probe order,
    suspicions, relays, queued updates), by an eighth at a time.

    Not by doubling: the member table is the bulk of the memory (n^2
    entries in a simulation of n engines), and a doubling on the 10001st
    member would leave half of it unused. */
#ifndef RM_SWIM_ARRAY_H
#define RM_SWIM_ARRAY_H

#include <stddef.h>
#include <stdint.h>

/*  Makes the array *items of *cap elements of `esize` bytes hold at least
    `need`: nothing when it does already, else realloc to the first
    capacity of the series 8, 17, 27, ... (c + c/8 + 8) that does.  0, or
    -1 when out of memory (the array is left as it was). */
int rm_swim_array_grow(void **items, uint32_t *cap, uint32_t need, size_t esize);

#endif
