/*  rm_swim_rng: xoshiro256** (Blackman and Vigna), seeded by splitmix64
    as its authors recommend, so that any 64-bit seed gives a good state. */
#include "rm_swim_rng.h"

#include <stdlib.h>

struct _rm_swim_rng_t {
    uint64_t s[4];
};

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

rm_swim_rng_t *rm_swim_rng_new(uint64_t seed)
{
    rm_swim_rng_t *self = malloc(sizeof *self);
    if (!self)
        return NULL;
    for (int i = 0; i < 4; i++)
        self->s[i] = splitmix(&seed);
    return self;
}

void rm_swim_rng_destroy(rm_swim_rng_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

uint64_t rm_swim_rng_next(rm_swim_rng_t *self)
{
    uint64_t *r = self->s;
    uint64_t result = rotl(r[1] * 5, 7) * 9;
    uint64_t t = r[1] << 17;
    r[2] ^= r[0];
    r[3] ^= r[1];
    r[1] ^= r[2];
    r[0] ^= r[3];
    r[2] ^= t;
    r[3] = rotl(r[3], 45);
    return result;
}

uint64_t rm_swim_rng_below(rm_swim_rng_t *self, uint64_t n)
{
    return n ? rm_swim_rng_next(self) % n : 0;
}

double rm_swim_rng_unit(rm_swim_rng_t *self)
{
    return (double)(rm_swim_rng_next(self) >> 11) * (1.0 / 9007199254740992.0);
}
