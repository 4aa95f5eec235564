/*  rm_swim_fifo: a first-in first-out queue of fixed-size elements, copied
    in and out by value.  The engine keeps its outgoing messages and its
    events in two of them until the caller drains them.

    The queue does not know what its elements own: empty it (pop every
    element and free what it holds) before destroying it. */
#ifndef RM_SWIM_FIFO_H
#define RM_SWIM_FIFO_H

#include <stddef.h>

typedef struct _rm_swim_fifo_t rm_swim_fifo_t;

/*  An empty queue of elements of `esize` bytes.  NULL when out of memory. */
rm_swim_fifo_t *rm_swim_fifo_new(size_t esize);
void rm_swim_fifo_destroy(rm_swim_fifo_t **self_p);

/*  Copies *elem in at the tail.  0, or -1 when out of memory (nothing
    queued). */
int rm_swim_fifo_push(rm_swim_fifo_t *self, const void *elem);

/*  Copies the head out into *elem and removes it: 1, or 0 when empty. */
int rm_swim_fifo_pop(rm_swim_fifo_t *self, void *elem);

size_t rm_swim_fifo_size(const rm_swim_fifo_t *self);

#endif
