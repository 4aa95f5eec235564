#include "rm_swim_order.h"

#include <stdlib.h>

#include "rm_swim_array.h"

struct _rm_swim_order_t {
    uint32_t *idx;
    uint32_t n, cap;
    uint32_t pos; /* next to probe */
};

rm_swim_order_t *rm_swim_order_new(void)
{
    return calloc(1, sizeof(rm_swim_order_t));
}

void rm_swim_order_destroy(rm_swim_order_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->idx);
    free(*self_p);
    *self_p = NULL;
}

int rm_swim_order_reserve(rm_swim_order_t *self, uint32_t members)
{
    return rm_swim_array_grow((void **)&self->idx, &self->cap, members, sizeof *self->idx);
}

void rm_swim_order_reserve_exact(rm_swim_order_t *self, uint32_t members)
{
    if (members <= self->cap)
        return;
    uint32_t *o = realloc(self->idx, (size_t)members * sizeof *o);
    if (o) {
        self->idx = o;
        self->cap = members;
    }
}

void rm_swim_order_insert(rm_swim_order_t *self, uint32_t idx, rm_swim_rng_t *rng)
{
    self->idx[self->n++] = idx;
    uint32_t span = self->n - self->pos;
    uint32_t j = self->pos + (uint32_t)rm_swim_rng_below(rng, span);
    self->idx[self->n - 1] = self->idx[j];
    self->idx[j] = idx;
}

void rm_swim_order_shuffle(rm_swim_order_t *self, uint32_t members, rm_swim_rng_t *rng)
{
    self->n = 0;
    for (uint32_t i = 1; i < members; i++)
        self->idx[self->n++] = i;
    for (uint32_t i = self->n; i > 1; i--) {
        uint32_t j = (uint32_t)rm_swim_rng_below(rng, i), t = self->idx[i - 1];
        self->idx[i - 1] = self->idx[j];
        self->idx[j] = t;
    }
    self->pos = 0;
}

bool rm_swim_order_next(rm_swim_order_t *self, uint32_t *idx)
{
    if (self->pos >= self->n)
        return false;
    *idx = self->idx[self->pos++];
    return true;
}
