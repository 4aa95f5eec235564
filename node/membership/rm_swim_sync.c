/*  rm_swim_sync: the engine's push-pull, a full state exchange with one
    member (memberlist's anti-entropy).  It is how a node joins (with its
    seed, retried until answered, then once more with a random member), how
    gossip's rare misses are repaired (every push_pull_interval, scaled up
    above 32 members), how the halves of a healed partition find each other
    (reconnect: with a dead member) and how a PING from a stranger is
    answered.  A state bigger than one message goes in parts; the answer
    follows the last part. */
#include "rm_swim_sync.h"

#include <stdlib.h>

#include "rm_swim_private.h"

void rm_swim_sync_send(rm_swim_t *s, const char *to, int64_t to_idx, bool join, bool reply)
{
    uint32_t starts[RM_SWIM_MAX_PP_PARTS + 1];
    uint32_t parts = rm_swim_members_plan_parts(s->members, s->cfg.push_pull_budget, starts);
    uint32_t most = 0;
    for (uint32_t p = 0; p < parts; p++)
        if (starts[p + 1] - starts[p] > most)
            most = starts[p + 1] - starts[p];
    rm_swim_wire_update_t *items = calloc(most ? most : 1, sizeof *items);
    if (!items)
        return;
    for (uint32_t p = 0; p < parts; p++) {
        rm_swim_wire_push_pull_t pp = {join, reply, p, parts, {items, starts[p + 1] - starts[p]}};
        for (uint32_t i = starts[p]; i < starts[p + 1]; i++)
            rm_swim_members_wire(s->members, i, rm_swim__member(s, i)->state, NULL,
                                 &items[i - starts[p]]);
        rm_swim__send(s, to, to_idx, RM_SWIM_WIRE_PUSH_PULL, &pp);
    }
    free(items);
}

/*  memberlist's pushPullScale: above 32 members the interval grows with
    ceil(log2(n / 32)) + 1, so the cluster-wide rate stays bounded. */
static int64_t push_pull_interval(const rm_swim_t *s)
{
    int64_t mult = 1;
    for (uint64_t cap = 32; cap < rm_swim_members_live(s->members); cap *= 2)
        mult++;
    return s->cfg.push_pull_interval_ms * mult;
}

static void periodic_push_pull(rm_swim_t *s)
{
    uint32_t who;
    s->pp_drawn = push_pull_interval(s);
    s->next_pp = s->now + s->pp_drawn;
    if (rm_swim__pick(s, 1, rm_swim__can_help, -1, &who) == 1) {
        s->stats.push_pulls++;
        rm_swim_sync_send(s, rm_swim__addr(s, who), who, false, true);
    }
}

/*  Serf's reconnect: with probability dead/alive, push-pull with a random
    dead member, so the halves of a healed partition meet again. */
static void reconnect(rm_swim_t *s)
{
    uint32_t dead = rm_swim_members_dead(s->members), live = rm_swim_members_live(s->members);
    s->next_reconnect = s->now + s->cfg.reconnect_interval_ms;
    if (!dead || rm_swim_rng_unit(s->rng) > (double)dead / (double)(live ? live : 1))
        return;
    uint64_t r = rm_swim_rng_below(s->rng, dead);
    for (uint32_t i = 1; i < rm_swim__count(s); i++) {
        if (rm_swim__member(s, i)->state != RM_SWIM_DEAD || r-- > 0)
            continue;
        if (!rm_swim__no_inbound(rm_swim__member(s, i))) {
            s->stats.push_pulls++;
            rm_swim_sync_send(s, rm_swim__addr(s, i), i, false, true);
        }
        return;
    }
}

void rm_swim_sync_tick(rm_swim_t *s)
{
    if (s->cfg.push_pull_interval_ms > 0 && s->now >= s->next_pp)
        periodic_push_pull(s);
    if (s->cfg.reconnect_interval_ms > 0 && s->now >= s->next_reconnect)
        reconnect(s);
    if (s->join_addr && s->now >= s->next_join) {
        s->next_join = s->now + s->cfg.join_retry_ms;
        s->stats.push_pulls++;
        rm_swim_sync_send(s, s->join_addr, -1, true, true);
    }
}

int64_t rm_swim_sync_deadline(const rm_swim_t *s)
{
    int64_t d = RM_SWIM_NO_DEADLINE;
    if (s->cfg.push_pull_interval_ms > 0)
        d = rm_swim__earlier(d, s->next_pp);
    if (s->cfg.reconnect_interval_ms > 0 && rm_swim_members_dead(s->members))
        d = rm_swim__earlier(d, s->next_reconnect);
    if (s->join_addr)
        d = rm_swim__earlier(d, s->next_join);
    return d;
}

void rm_swim_sync_on_push_pull(rm_swim_t *s, const char *from, const char *from_addr,
                               const rm_swim_wire_push_pull_t *pp)
{
    uint32_t members = rm_swim_members_reserve(s->members, pp->states.items, pp->states.count);
    rm_swim_order_reserve_exact(s->order, members);
    for (uint32_t i = 0; i < pp->states.count; i++)
        rm_swim__merge(s, &pp->states.items[i], from, pp->join);
    /* When a push-pull shows a bigger cluster than our timer was drawn
       for, the next exchange is drawn again over the interval scaled to
       it, so nodes that start together (a simulation, a data-centre
       restart) do not all push-pull in the first unscaled interval. */
    int64_t interval = push_pull_interval(s);
    if (s->cfg.push_pull_interval_ms > 0 && interval > s->pp_drawn) {
        s->pp_drawn = interval;
        s->next_pp = s->now + (int64_t)rm_swim_rng_below(s->rng, (uint64_t)interval);
    }
    if (!pp->reply) {
        /* Joined.  Nodes that joined at the same moment as we did are not in
           the seed's answer, and their announcements may miss us: a second
           exchange with a random member a moment later picks them up. */
        if (s->join_addr && s->cfg.push_pull_interval_ms > 0)
            s->next_pp = s->now + s->cfg.probe_interval_ms +
                         (int64_t)rm_swim_rng_below(s->rng, (uint64_t)s->cfg.probe_interval_ms);
        free(s->join_addr);
        s->join_addr = NULL;
        return;
    }
    if (pp->part + 1 == pp->parts)
        rm_swim_sync_send(s, from_addr, rm_swim__find(s, from), false, false);
}

/*  The gossip about the sender missed us (a join race, a healed
    partition).  At most once per probe interval, and only for PINGs: a
    joiner gossips to 15 members a second but probes one, and each
    exchange carries the full state. */
void rm_swim_sync_stranger(rm_swim_t *s, const char *from, const char *from_addr)
{
    int64_t idx = rm_swim__find(s, from);
    if ((idx >= 0 && rm_swim__member(s, idx)->state != RM_SWIM_DEAD) || s->leaving ||
        s->now < s->next_unknown_pp)
        return;
    s->next_unknown_pp = s->now + s->cfg.probe_interval_ms;
    s->stats.push_pulls++;
    rm_swim_sync_send(s, from_addr, idx, false, true);
}
