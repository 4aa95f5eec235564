/*  rm_swim_bcast: an array kept sorted lazily (sorted before a pick or a
    drop, marked unsorted by a put or a send).  A few thousand entries at
    most, so a linear search by name on put is cheap. */
#include "rm_swim_bcast.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rm_swim_array.h"

typedef struct {
    char *name; /* the member it is about */
    uint8_t *data;
    uint32_t len;
    uint32_t sent;
    uint64_t id; /* order of queueing: higher is newer */
} entry_t;

struct _rm_swim_bcast_t {
    entry_t *q;
    uint32_t n, cap, max;
    uint64_t last_id;
    bool sorted;
};

rm_swim_bcast_t *rm_swim_bcast_new(uint32_t max)
{
    rm_swim_bcast_t *self = calloc(1, sizeof *self);
    if (self)
        self->max = max;
    return self;
}

static void drop(rm_swim_bcast_t *self, uint32_t i)
{
    free(self->q[i].name);
    free(self->q[i].data);
    memmove(&self->q[i], &self->q[i + 1], (self->n - i - 1) * sizeof *self->q);
    self->n--;
}

void rm_swim_bcast_destroy(rm_swim_bcast_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_swim_bcast_t *self = *self_p;
    while (self->n)
        drop(self, self->n - 1);
    free(self->q);
    free(self);
    *self_p = NULL;
}

/*  Fewest sends first, then newest first. */
static int by_priority(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    if (x->sent != y->sent)
        return x->sent < y->sent ? -1 : 1;
    return x->id > y->id ? -1 : (x->id < y->id);
}

static void sort(rm_swim_bcast_t *self)
{
    if (!self->sorted)
        qsort(self->q, self->n, sizeof *self->q, by_priority);
    self->sorted = true;
}

void rm_swim_bcast_put(rm_swim_bcast_t *self, const char *name, uint8_t *data, size_t len)
{
    for (uint32_t i = 0; i < self->n; i++)
        if (strcmp(self->q[i].name, name) == 0) {
            drop(self, i);
            break;
        }
    if (self->n >= self->max && self->n > 0) {
        sort(self);
        drop(self, self->n - 1);
    }
    char *c = strdup(name);
    if (!c || rm_swim_array_grow((void **)&self->q, &self->cap, self->n + 1, sizeof *self->q)) {
        free(c);
        free(data);
        return;
    }
    self->q[self->n++] = (entry_t){c, data, (uint32_t)len, 0, ++self->last_id};
    self->sorted = false;
}

uint32_t rm_swim_bcast_pick(rm_swim_bcast_t *self, size_t budget, uint32_t max, uint32_t *pick)
{
    uint32_t n = 0;
    sort(self);
    for (uint32_t i = 0; i < self->n && n < max; i++)
        if (self->q[i].len <= budget) {
            budget -= self->q[i].len;
            pick[n++] = i;
        }
    return n;
}

const uint8_t *rm_swim_bcast_data(const rm_swim_bcast_t *self, uint32_t pos, size_t *len)
{
    *len = self->q[pos].len;
    return self->q[pos].data;
}

void rm_swim_bcast_sent(rm_swim_bcast_t *self, const uint32_t *pick, uint32_t n, unsigned limit)
{
    for (uint32_t i = 0; i < n; i++)
        self->q[pick[i]].sent++;
    /* From the last: the earlier positions stay valid. */
    for (uint32_t i = n; i-- > 0;)
        if (self->q[pick[i]].sent >= limit)
            drop(self, pick[i]);
    if (n)
        self->sorted = false;
}

uint32_t rm_swim_bcast_count(const rm_swim_bcast_t *self)
{
    return self->n;
}
