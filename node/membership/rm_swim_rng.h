/*  rm_swim_rng: the membership engine's random numbers.

    xoshiro256** seeded through splitmix64.  The state belongs to its
    owner, not to the C library, so an engine created with the same seed
    and fed the same inputs replays exactly (the tests and the simulator
    rely on it).  Not for cryptography. */
#ifndef RM_SWIM_RNG_H
#define RM_SWIM_RNG_H

#include <stdint.h>

typedef struct _rm_swim_rng_t rm_swim_rng_t;

/*  A generator whose sequence is fixed by `seed` (any value, 0 included).
    NULL when out of memory. */
rm_swim_rng_t *rm_swim_rng_new(uint64_t seed);
void rm_swim_rng_destroy(rm_swim_rng_t **self_p);

/*  The next 64 random bits. */
uint64_t rm_swim_rng_next(rm_swim_rng_t *self);

/*  Uniform in [0, n) by one draw modulo n (the bias is negligible for the
    engine's small n); 0 when n is 0, and then no draw is taken. */
uint64_t rm_swim_rng_below(rm_swim_rng_t *self, uint64_t n);

/*  Uniform in [0, 1), from the top 53 bits of one draw. */
double rm_swim_rng_unit(rm_swim_rng_t *self);

#endif
