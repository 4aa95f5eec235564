/*  rm_swim_arena: the strings of every member of an engine in one buffer.

    A record is "name\0addr\0" followed by meta_len bytes of metadata; the
    owner keeps its 32-bit offset, the offset of the address inside it and
    the metadata's length.  One buffer with offsets, not a malloc and a
    pointer per string: a 10000-node simulation holds 10^8 member records,
    and every byte of one is 100 MB there.

    A record that is replaced or dropped becomes garbage.  When more than
    half of the buffer (and over 4 KiB) is garbage, the next put compacts
    it: it asks the owner for its live records, one by one, copies them
    together and rewrites the offsets the owner keeps.  Pointers into the
    arena are therefore stale after any put. */
#ifndef RM_SWIM_ARENA_H
#define RM_SWIM_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct _rm_swim_arena_t rm_swim_arena_t;

/*  The owner's live record number i (0, 1, ... in any order the owner
    likes): returns where the owner keeps its offset and sets *size to its
    length in bytes; NULL after the last one. */
typedef uint32_t *(rm_swim_arena_record_fn)(void *owner, uint32_t i, size_t *size);

/*  An empty arena; `records` and `owner` serve compaction.  NULL when out
    of memory. */
rm_swim_arena_t *rm_swim_arena_new(rm_swim_arena_record_fn *records, void *owner);
void rm_swim_arena_destroy(rm_swim_arena_t **self_p);

/*  Appends the record "name\0addr\0meta" and gives its offset and the
    address's offset inside it.  None of the arguments may point into the
    arena (a compaction or a realloc would move them).  0, or -1 when out of
    memory or past 4 GiB. */
int rm_swim_arena_put(rm_swim_arena_t *self, const char *name, const char *addr,
                      const uint8_t *meta, size_t meta_len, uint32_t *off, uint16_t *addr_off);

/*  The bytes at `off`: the record's name, or with addr_off added its
    address. */
const char *rm_swim_arena_at(const rm_swim_arena_t *self, uint32_t off);

/*  A record of `size` bytes is no longer used. */
void rm_swim_arena_release(rm_swim_arena_t *self, size_t size);

/*  Room for `bytes` more, exactly: before a push-pull adds thousands of
    members, so that growth by steps does not overshoot.  Best effort. */
void rm_swim_arena_reserve(rm_swim_arena_t *self, size_t bytes);

#endif
