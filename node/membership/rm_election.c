#include "rm_election.h"

#include <stdio.h>
#include <string.h>

static bool candidate(const rm_election_member_t *m)
{
    return m->alive && !m->no_inbound && !m->draining && !m->worker;
}

/*  Rank: stable first, then the smaller name. */
static bool better(const rm_election_member_t *a, const rm_election_member_t *b)
{
    if (a->stable != b->stable)
        return a->stable;
    return strcmp(a->name, b->name) < 0;
}

/*  Claims ordered by (epoch, name). */
static bool higher_claim(uint64_t epoch_a, const char *a, uint64_t epoch_b, const char *b)
{
    if (epoch_a != epoch_b)
        return epoch_a > epoch_b;
    return strcmp(a, b) > 0;
}

/*  The alive member with the highest claim, this node counted with `self_*`. */
static const rm_election_member_t *highest_claim(const rm_election_member_t *members, size_t count,
                                                 bool self_acting, uint64_t self_epoch,
                                                 uint64_t *epoch)
{
    const rm_election_member_t *claim = NULL;
    for (size_t i = 0; i < count; i++) {
        const rm_election_member_t *m = &members[i];
        bool acts = i == 0 ? self_acting : m->acting;
        uint64_t e = i == 0 ? self_epoch : m->epoch;
        if (m->alive && acts && !m->worker &&
            (!claim || higher_claim(e, m->name, *epoch, claim->name))) {
            claim = m;
            *epoch = e;
        }
    }
    return claim;
}

bool rm_election_update(rm_election_t *e, const rm_election_member_t *members, size_t count)
{
    if (count == 0)
        return false;
    const rm_election_member_t *self = &members[0], *best = NULL;
    uint64_t seen = e->epoch;
    for (size_t i = 0; i < count; i++) {
        /* A worker's epoch is only an echo of its coordinators' (which
           gossip it themselves): a stolen one must not push it up. */
        if (!members[i].worker && members[i].epoch > seen)
            seen = members[i].epoch;
        if (candidate(&members[i]) && (!best || better(&members[i], best)))
            best = &members[i];
    }
    bool was_acting = e->acting;
    if (best == self) {
        /* Keep the role while our claim is the highest; else claim anew. */
        uint64_t top = 0;
        /* Saturates: a peer gossiping the largest epoch must not wrap it. */
        if (!(e->acting && e->epoch == seen &&
              highest_claim(members, count, true, e->epoch, &top) == self) &&
            seen < RM_EPOCH_MAX)
            seen++;
        e->acting = true;
    } else {
        e->acting = false;
    }
    e->epoch = seen;
    uint64_t claim_epoch = 0;
    const rm_election_member_t *claim =
        highest_claim(members, count, e->acting, e->epoch, &claim_epoch);
    if (claim) {
        snprintf(e->coordinator, sizeof e->coordinator, "%s", claim->name);
        e->coordinator_epoch = claim_epoch;
    } else {
        e->coordinator[0] = '\0';
        e->coordinator_epoch = 0;
    }
    return was_acting != e->acting;
}
