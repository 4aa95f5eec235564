/*  rm_swim_fifo: a growable array read from `head`; the live elements are
    moved back to the start when the tail reaches the end, so the array
    grows only when it is full. */
#include "rm_swim_fifo.h"

#include <stdlib.h>
#include <string.h>

struct _rm_swim_fifo_t {
    void *items;
    size_t esize, head, len, cap;
};

rm_swim_fifo_t *rm_swim_fifo_new(size_t esize)
{
    rm_swim_fifo_t *self = calloc(1, sizeof *self);
    if (self)
        self->esize = esize;
    return self;
}

void rm_swim_fifo_destroy(rm_swim_fifo_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->items);
    free(*self_p);
    *self_p = NULL;
}

int rm_swim_fifo_push(rm_swim_fifo_t *self, const void *elem)
{
    if (self->head + self->len == self->cap) {
        if (self->head > 0) {
            memmove(self->items, (char *)self->items + self->head * self->esize,
                    self->len * self->esize);
            self->head = 0;
        } else {
            size_t c = self->cap ? self->cap * 2 : 16;
            void *q = realloc(self->items, c * self->esize);
            if (!q)
                return -1;
            self->items = q;
            self->cap = c;
        }
    }
    memcpy((char *)self->items + (self->head + self->len) * self->esize, elem, self->esize);
    self->len++;
    return 0;
}

int rm_swim_fifo_pop(rm_swim_fifo_t *self, void *elem)
{
    if (!self->len)
        return 0;
    memcpy(elem, (char *)self->items + self->head * self->esize, self->esize);
    self->head++;
    self->len--;
    if (!self->len) {
        /* A burst (the events of a join) must not pin its memory. */
        self->head = 0;
        if (self->cap > 64) {
            free(self->items);
            self->items = NULL;
            self->cap = 0;
        }
    }
    return 1;
}

size_t rm_swim_fifo_size(const rm_swim_fifo_t *self)
{
    return self->len;
}
