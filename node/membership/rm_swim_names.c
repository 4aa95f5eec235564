#include "rm_swim_names.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct _rm_swim_names_t {
    uint32_t *buckets; /* member number + 1; 0 = empty */
    uint32_t nbuckets; /* a power of two, or 0 before the first reserve */
    rm_swim_names_key_fn *key;
    const void *owner;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

static const char *name_in(const rm_swim_names_t *self, uint32_t bucket)
{
    return self->key(self->owner, self->buckets[bucket] - 1);
}

/*  The bucket holding `name`, or the empty bucket where it would go. */
static uint32_t find_bucket(const rm_swim_names_t *self, const char *name)
{
    uint32_t mask = self->nbuckets - 1, i = (uint32_t)fnv1a(name) & mask;
    while (self->buckets[i] && strcmp(name_in(self, i), name) != 0)
        i = (i + 1) & mask;
    return i;
}

rm_swim_names_t *rm_swim_names_new(rm_swim_names_key_fn *key, const void *owner)
{
    rm_swim_names_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->key = key;
    self->owner = owner;
    return self;
}

void rm_swim_names_destroy(rm_swim_names_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->buckets);
    free(*self_p);
    *self_p = NULL;
}

int rm_swim_names_reserve(rm_swim_names_t *self, uint32_t count)
{
    uint64_t nb = self->nbuckets;
    while ((uint64_t)count * 4 > nb * 3)
        nb = nb ? nb * 2 : 16;
    if (nb == self->nbuckets)
        return 0;
    if (nb > UINT32_MAX)
        return -1;
    uint32_t old_n = self->nbuckets, *old = self->buckets;
    self->buckets = calloc((size_t)nb, sizeof *self->buckets);
    if (!self->buckets) {
        self->buckets = old;
        return -1;
    }
    self->nbuckets = (uint32_t)nb;
    for (uint32_t i = 0; i < old_n; i++)
        if (old[i])
            self->buckets[find_bucket(self, self->key(self->owner, old[i] - 1))] = old[i];
    free(old);
    return 0;
}

int64_t rm_swim_names_find(const rm_swim_names_t *self, const char *name)
{
    if (!self->nbuckets)
        return -1;
    uint32_t v = self->buckets[find_bucket(self, name)];
    return v ? (int64_t)v - 1 : -1;
}

void rm_swim_names_set(rm_swim_names_t *self, const char *name, uint32_t idx)
{
    self->buckets[find_bucket(self, name)] = idx + 1;
}

/*  Backward shift: each later entry of the run moves into the hole unless
    its home bucket lies cyclically after the hole, up to its own place. */
void rm_swim_names_remove(rm_swim_names_t *self, const char *name)
{
    if (!self->nbuckets)
        return;
    uint32_t mask = self->nbuckets - 1, i = find_bucket(self, name), j = i;
    if (!self->buckets[i])
        return;
    self->buckets[i] = 0;
    for (;;) {
        j = (j + 1) & mask;
        if (!self->buckets[j])
            return;
        uint32_t k = (uint32_t)fnv1a(name_in(self, j)) & mask;
        bool move = (j > i) ? (k <= i || k > j) : (k <= i && k > j);
        if (move) {
            self->buckets[i] = self->buckets[j];
            self->buckets[j] = 0;
            i = j;
        }
    }
}
