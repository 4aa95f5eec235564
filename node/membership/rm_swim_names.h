/*  rm_swim_names: the engine's index from member name to member number.

    An open-addressing hash table (FNV-1a, linear probing, deletion by
    backward shift, so no tombstones pile up) whose buckets hold only the
    number plus one, 0 for an empty bucket: 4 bytes per member.  The names
    stay where the owner keeps them (the member table's arena); the table
    asks for the name of a number through the function given at creation.
    Kept at most three quarters full. */
#ifndef RM_SWIM_NAMES_H
#define RM_SWIM_NAMES_H

#include <stdint.h>

typedef struct _rm_swim_names_t rm_swim_names_t;

/*  The name of the owner's member number idx (one the table holds). */
typedef const char *(rm_swim_names_key_fn)(const void *owner, uint32_t idx);

/*  An empty index.  NULL when out of memory. */
rm_swim_names_t *rm_swim_names_new(rm_swim_names_key_fn *key, const void *owner);
void rm_swim_names_destroy(rm_swim_names_t **self_p);

/*  Room for `count` entries in all (doubles the buckets while needed).
    0, or -1 when out of memory (the index is left as it was). */
int rm_swim_names_reserve(rm_swim_names_t *self, uint32_t count);

/*  The number of `name`, or -1. */
int64_t rm_swim_names_find(const rm_swim_names_t *self, const char *name);

/*  Maps `name` to idx, adding it or replacing its number (a member moved
    in the owner's table).  A new name needs reserved room. */
void rm_swim_names_set(rm_swim_names_t *self, const char *name, uint32_t idx);

/*  Removes `name` if present.  Call it while the owner still answers for
    the numbers the index holds. */
void rm_swim_names_remove(rm_swim_names_t *self, const char *name);

#endif
