/*  rm_swim_members: the engine's member table.

    Every member this node knows, itself first (number 0): a 24-byte entry
    each (incarnation, state, flags, a time stamp), its strings (name,
    address, metadata) in an rm_swim_arena, found by name through an
    rm_swim_names index.  Also counts the members by state, and turns
    members into what leaves the engine: wire updates, push-pull parts,
    events, the caller's rm_swim_member_t.

    Numbers are dense (0 .. count-1): removing a member moves the last one
    into its place.  Entry pointers and the strings returned hold until the
    next call that adds, removes or changes strings. */
#ifndef RM_SWIM_MEMBERS_H
#define RM_SWIM_MEMBERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rm_swim.h"
#include "rm_swim_wire.h"

/*  24 bytes, strings in the arena: a 10000-node simulation holds 10^8 of
    these, and every byte here is 100 MB there.  The engine reads and
    writes inc, flags and (through rm_swim_members_set_state) state; the
    rest belongs to the table. */
typedef struct {
    uint64_t inc;      /* incarnation */
    uint32_t str;      /* arena offset of "name\0addr\0" then meta */
    int32_t stamp;     /* deciseconds since the table was created (see
                          rm_swim_members_since): dead or left: since when;
                          alive: last sign of life */
    uint16_t addr_off; /* addr = name + addr_off */
    uint16_t meta_len;
    uint8_t state; /* rm_swim_state_t */
    uint8_t flags; /* RM_SWIM_WIRE_NO_INBOUND */
} rm_swim_members_entry_t;

typedef struct _rm_swim_members_t rm_swim_members_t;

/*  An empty table; stamps count from `epoch` (ms).  NULL when out of
    memory. */
rm_swim_members_t *rm_swim_members_new(int64_t epoch);
void rm_swim_members_destroy(rm_swim_members_t **self_p);

/*  Adds a member (its name must be new), stamped `now`.  Returns its
    number, or -1 when out of memory. */
int64_t rm_swim_members_add(rm_swim_members_t *self, int64_t now, const char *name,
                            const char *addr, uint64_t inc, uint8_t state, uint8_t flags,
                            const uint8_t *meta, size_t meta_len);

/*  Removes member idx; the last member takes its number. */
void rm_swim_members_remove(rm_swim_members_t *self, uint32_t idx);

/*  Room for what a push-pull will add (its alive states we do not know),
    exactly: a bootstrap or a join learns thousands at once, and growth by
    steps would overshoot.  Best effort.  Returns the member count the
    table will reach. */
uint32_t rm_swim_members_reserve(rm_swim_members_t *self, const rm_swim_wire_update_t *states,
                                 uint32_t count);

uint32_t rm_swim_members_count(const rm_swim_members_t *self);

/*  Members alive or suspect, dead, left (this node included). */
uint32_t rm_swim_members_live(const rm_swim_members_t *self);
uint32_t rm_swim_members_dead(const rm_swim_members_t *self);
uint32_t rm_swim_members_left(const rm_swim_members_t *self);

/*  Members whose state is in `mask` (RM_SWIM_MASK). */
size_t rm_swim_members_count_in(const rm_swim_members_t *self, unsigned mask);

/*  The number of `name`, or -1. */
int64_t rm_swim_members_find(const rm_swim_members_t *self, const char *name);

rm_swim_members_entry_t *rm_swim_members_at(const rm_swim_members_t *self, uint32_t idx);
const char *rm_swim_members_name(const rm_swim_members_t *self, uint32_t idx);
const char *rm_swim_members_addr(const rm_swim_members_t *self, uint32_t idx);
/*  Its metadata (entry's meta_len bytes), NULL when it has none. */
const uint8_t *rm_swim_members_meta(const rm_swim_members_t *self, uint32_t idx);

/*  Changes its state, keeping the counts. */
void rm_swim_members_set_state(rm_swim_members_t *self, uint32_t idx, uint8_t state);

/*  New address and metadata.  They may point into the table (the caller's
    rm_swim_member_t).  0, or -1 (out of memory, or too long). */
int rm_swim_members_set_strings(rm_swim_members_t *self, uint32_t idx, const char *addr,
                                const uint8_t *meta, size_t meta_len);

/*  Stamps it `now`; how long ago it was stamped.  Stamps have 0.1 s steps
    and stop 6.8 years after the epoch: finer and longer than any timer
    they serve (gossip to the dead, reaping, the NAT timeout). */
void rm_swim_members_stamp(rm_swim_members_t *self, uint32_t idx, int64_t now);
int64_t rm_swim_members_since(const rm_swim_members_t *self, uint32_t idx, int64_t now);

/*  Member idx as an update in `state`, accused by `from` (NULL: none).
    The strings are borrowed from the table. */
void rm_swim_members_wire(const rm_swim_members_t *self, uint32_t idx, uint8_t state,
                          const char *from, rm_swim_wire_update_t *u);

/*  Splits the table into push-pull parts of at most `budget` bytes (and
    RM_SWIM_MAX_MSG) and RM_SWIM_MAX_PP_STATES states each.  Returns the
    part count (at most RM_SWIM_MAX_PP_PARTS: beyond that, the rest waits
    for the next exchange); part p holds members starts[p] to
    starts[p + 1] - 1. */
uint32_t rm_swim_members_plan_parts(const rm_swim_members_t *self, size_t budget, uint32_t *starts);

/*  An event of `kind` about member idx, with its own copy of the strings.
    0, or -1 when out of memory. */
int rm_swim_members_event(const rm_swim_members_t *self, uint32_t idx, rm_swim_event_kind_t kind,
                          rm_swim_event_t *ev);

/*  Member idx as the caller sees it (strings borrowed). */
void rm_swim_members_view(const rm_swim_members_t *self, uint32_t idx, rm_swim_member_t *out);

#endif
