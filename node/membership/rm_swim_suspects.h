/*  rm_swim_suspects: the members this node suspects, each with Lifeguard's
    dynamic suspicion timeout.

    A suspicion starts with its first accuser and ends when it expires (the
    engine declares the member dead), or when it is dropped (the member
    refuted it, or is dead or left anyway).  Its timeout starts at
    max = max_mult * min, min = mult * max(1, log10(n)) * probe_interval
    (memberlist's formula), and shrinks towards min as independent members
    confirm it: after c of the k = mult - 2 confirmations expected,
    max - (max - min) * log(c + 1) / log(k + 1).  A real crash, which many
    members see, is declared after about min; a single member's bad link
    leaves the suspect max to refute.  With fewer than k + 2 live members
    no confirmation can be expected: the timeout is min from the start. */
#ifndef RM_SWIM_SUSPECTS_H
#define RM_SWIM_SUSPECTS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct _rm_swim_suspects_t rm_swim_suspects_t;

/*  An empty table; mult, max_mult and probe_interval_ms as in
    rm_swim_config_t (suspicion_mult, suspicion_max_timeout_mult).  NULL
    when out of memory. */
rm_swim_suspects_t *rm_swim_suspects_new(unsigned mult, unsigned max_mult,
                                         int64_t probe_interval_ms);
void rm_swim_suspects_destroy(rm_swim_suspects_t **self_p);

/*  Suspects `name` at incarnation inc, accused by `from`, in a mesh of
    `live` members (alive or suspect); `ours`: the accuser is this node,
    whose own probe failed.  Replaces any suspicion of `name`. */
void rm_swim_suspects_start(rm_swim_suspects_t *self, const char *name, uint64_t inc,
                            const char *from, bool ours, int64_t now, uint32_t live);

/*  Another accuser: if it is new and confirmations are still expected,
    shortens the timeout and returns true (news worth gossiping). */
bool rm_swim_suspects_confirm(rm_swim_suspects_t *self, const char *name, const char *from,
                              bool ours);

/*  Ends the suspicion of `name`, if any. */
void rm_swim_suspects_drop(rm_swim_suspects_t *self, const char *name);

/*  Ends the first suspicion whose timeout has passed at `now`: true, with
    its member's name (RM_SWIM_MAX_NAME + 1 bytes) and incarnation. */
bool rm_swim_suspects_expired(rm_swim_suspects_t *self, int64_t now, char *name, uint64_t *inc);

/*  The earliest timeout, or RM_SWIM_NO_DEADLINE when there is none. */
int64_t rm_swim_suspects_deadline(const rm_swim_suspects_t *self);

uint32_t rm_swim_suspects_count(const rm_swim_suspects_t *self);

/*  Suspicion number i (< count, in no particular order): its member's
    name, and *ours: whether this node is one of its accusers. */
const char *rm_swim_suspects_name(const rm_swim_suspects_t *self, uint32_t i, bool *ours);

#endif
