/*  rm_swim: the membership protocol engine: SWIM (Das et al. 2002) with
    Lifeguard's refinements (HashiCorp memberlist), with no I/O and no clock.

    The engine is a pure state machine.  The caller feeds it the time (ms,
    any monotonic clock), wire messages and commands, and drains two queues:
    messages to send (destination address + bytes) and membership events.
    It calls rm_swim_tick() no later than rm_swim_next_deadline().  All
    randomness comes from the seed given at creation, so a run is exactly
    reproducible.  One engine is not thread-safe; give it to one thread (the
    node actor).  docs/membership.md explains the protocol as built.

    What it does, with memberlist's LAN defaults (rm_swim_config_default):
    - Probe: every probe_interval (1 s) one member, round-robin over a
      shuffled list: PING, wait probe_timeout (500 ms) for the ACK, then
      PING_REQ through indirect_checks (3) other alive members, which ping
      it and relay the ACK, or send a NACK when they got none in 80 % of
      probe_timeout; wait until the end of the interval, then suspect it.
      Any message received from the target meanwhile also counts as its ACK.
    - Local Health Multiplier (Lifeguard): a score 0..awareness_max-1 that
      rises when this node's probes fail without the expected NACKs, or it
      has to refute a suspicion about itself, and falls with each probe that
      succeeds.  Probe interval and timeout are multiplied by (score + 1):
      a slow or overloaded node slows down instead of accusing others.
    - Suspicion (Lifeguard): a suspect is declared dead after a timeout
      that starts at max = suspicion_max_timeout_mult * min and shrinks
      towards min = suspicion_mult * max(1, log10(n)) * probe_interval as
      independent members confirm the suspicion (k = suspicion_mult - 2
      confirmations reach min): timeout = max - (max - min) * log(c + 1) /
      log(k + 1).  Only a member itself increments its incarnation, to
      refute a suspicion (or death) about it; a higher incarnation wins.
      Buddy system: a message to a member we suspect carries that suspicion
      first, so the suspect learns it at once and can refute; a member whose
      own probe failed also sends the suspect a GOSSIP every gossip interval
      while the suspicion lasts.  An accusation about an older incarnation
      of ours makes us gossip our current alive again (our refutation was
      lost), without raising the incarnation.
    - Dissemination: every state change is queued and piggybacked on every
      outgoing message (up to packet_budget bytes, at most 64 updates),
      fewest-sent first, each retransmit_mult * ceil(log10(n + 1)) times; a
      newer update about a member replaces the queued one.  Every
      gossip_interval (200 ms) the queue also goes to gossip_nodes (3)
      random members (and to members dead for less than gossip_to_the_dead).
    - Push-pull: every push_pull_interval (30 s, scaled up by ceil(log2(n /
      32)) + 1 above 32 members, as memberlist) a full state exchange with a
      random alive member; at join with the seed, retried every
      join_retry until some member answers, then once more with a random
      member 1-2 s later (catches nodes that joined at the same moment).
      Members first learned from a push-pull are not re-gossiped (the
      partner knew them already; the joiner gossips its own alive and the
      seed announces it); changes to known members are.  A member seen dead
      in a push-pull becomes suspect, as in memberlist.  A PING from a
      member we do not know, or hold dead, triggers a push-pull with it (at
      most one per probe interval).
    - Dead and left members are kept dead_reap (24 h) for refutation and
      reconnection, then forgotten.  Every reconnect_interval (30 s), with
      probability dead / alive (Serf's rule), a push-pull goes to a random
      dead member: that is how two halves of a healed partition find each
      other again.
    - Leave: rm_swim_leave() gossips a 'left' state for this node and stops
      probing; keep ticking and sending for a few gossip intervals (until
      rm_swim_pending_broadcasts() is 0) before closing the sockets.

    NAT ("no inbound"): a node that cannot accept connections is created
    with cfg.no_inbound; the flag travels in its alive updates.  Nobody ever
    sends a message to a no-inbound member except as a reply to a message
    from it (ACK, NACK, GOSSIP reply, PUSH_PULL reply): the engine addresses
    replies to the from_addr given with the message, so the transport must
    make from_addr route back over the connection the message came in on
    (a ROUTER identity).  No-inbound members are never probed, never asked
    to probe, never gossiped or pushed to.  Instead:
    - the no-inbound node probes, gossips and push-pulls like everyone else
      (all outbound); its GOSSIP messages ask for a reply, so it pulls the
      others' updates every gossip_interval even when it has none of its own;
    - it raises its own incarnation every nat_heartbeat (1 s) and gossips
      that alive: its heartbeat;
    - every member notes the last sign of life of each no-inbound member
      (a newer incarnation, or any message received directly from it) and
      suspects it after nat_timeout (5 s) without one; from there the usual
      suspicion, confirmation, refutation and death apply.
    Two no-inbound members never talk directly; they learn about each
    other through the rest.

    Wire format (version 1).  One message = one msgpack array:
        [version = 1, kind, from, body, updates, ...]
    kind: 1 PING, 2 ACK, 3 NACK, 4 PING_REQ, 5 GOSSIP, 6 PUSH_PULL.
    from: the sender's member name (str, 1..256 bytes).  The transport
    should check that it matches the peer's authenticated identity.
    body (an array, per kind; fields in order; decoders ignore appended
    fields and envelope elements after `updates`):
        PING       [seq u64, target str]      target: the name to answer as
                                              (a restarted node at the same
                                              address with another name
                                              does not answer)
        ACK, NACK  [seq u64]
        PING_REQ   [seq u64, target str, target_addr str, nack bool]
        GOSSIP     [reply bool]               reply: answer me with your
                                              queued updates (no-inbound)
        PUSH_PULL  [join bool, reply bool, part u64, parts u64,
                    states [update...]]       one part of the sender's
                                              full state; the receiver
                                              answers (reply) after the
                                              last part (part = parts-1)
    updates: [update...], at most 64, piggybacked on every kind (empty in
    PUSH_PULL).  update:
        [name str <=256, addr str <=256, incarnation u64,
         state u64 (1 alive, 2 suspect, 3 dead, 4 left),
         from str <=256 (who suspects / declares dead; "" in alive),
         flags u64 (bit 0: no inbound), meta bin <=512]
    Sizes: probe and gossip messages aim at packet_budget (1400 bytes);
    one message never exceeds RM_SWIM_MAX_MSG (1 MiB): a larger state is
    split into parts of at most 16384 states each, 64 parts at most.  The
    decoder is the bounded rm_codec one: every length is checked against
    the bytes left and its maximum before anything is allocated. */
#ifndef RM_SWIM_H
#define RM_SWIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rm_error.h"

#define RM_SWIM_WIRE_VERSION 1
#define RM_SWIM_MAX_NAME 256
#define RM_SWIM_MAX_ADDR 256
#define RM_SWIM_MAX_META 512
#define RM_SWIM_MAX_UPDATES 64        /* piggybacked updates in one message */
#define RM_SWIM_MAX_MSG (1024 * 1024) /* no message is larger */
#define RM_SWIM_MAX_PP_STATES 16384   /* member states in one push-pull part */
#define RM_SWIM_MAX_PP_PARTS 64       /* parts of one push-pull */
#define RM_SWIM_NO_DEADLINE INT64_MAX /* rm_swim_next_deadline: nothing pending */

typedef struct {
    int64_t probe_interval_ms;           /* 1000: one probe per interval */
    int64_t probe_timeout_ms;            /* 500: direct ACK wait, < interval */
    unsigned indirect_checks;            /* 3: PING_REQ helpers */
    int64_t gossip_interval_ms;          /* 200 */
    unsigned gossip_nodes;               /* 3: random members per gossip round */
    int64_t gossip_to_the_dead_ms;       /* 30000: dead members still gossiped to */
    unsigned retransmit_mult;            /* 4: sends per update = mult * ceil(log10(n+1)) */
    unsigned suspicion_mult;             /* 4: min suspicion = mult * log10(n) * interval */
    unsigned suspicion_max_timeout_mult; /* 6: max suspicion = this * min */
    unsigned awareness_max;              /* 8: Local Health Multiplier, score < this */
    int64_t push_pull_interval_ms;       /* 30000; 0: no periodic push-pull */
    int64_t reconnect_interval_ms;       /* 30000; 0: never try dead members */
    int64_t dead_reap_ms;                /* 24 h: dead/left members kept this long */
    int64_t join_retry_ms;               /* 2000: join push-pull repeated until answered */
    size_t packet_budget;                /* 1400: target size of probe/gossip messages */
    size_t push_pull_budget;             /* RM_SWIM_MAX_MSG: max bytes of a push-pull part */
    bool nack;                           /* true: ask PING_REQ helpers for NACKs */
    bool no_inbound;                     /* this node cannot accept connections (NAT) */
    int64_t nat_heartbeat_ms;            /* 1000: no-inbound node's incarnation heartbeat */
    int64_t nat_timeout_ms;              /* 5000: no sign of a no-inbound member -> suspect */
    unsigned max_relays;                 /* 256: PING_REQs served at once; more are dropped */
    unsigned max_broadcasts;             /* 4096: queued updates; the most-sent go first */
} rm_swim_config_t;

typedef enum {
    RM_SWIM_ALIVE = 1,
    RM_SWIM_SUSPECT = 2,
    RM_SWIM_DEAD = 3,
    RM_SWIM_LEFT = 4,
} rm_swim_state_t;

/*  Masks for rm_swim_count. */
#define RM_SWIM_MASK(state) (1u << (state))
#define RM_SWIM_LIVE (RM_SWIM_MASK(RM_SWIM_ALIVE) | RM_SWIM_MASK(RM_SWIM_SUSPECT))
#define RM_SWIM_ALL (RM_SWIM_LIVE | RM_SWIM_MASK(RM_SWIM_DEAD) | RM_SWIM_MASK(RM_SWIM_LEFT))

typedef enum {
    RM_SWIM_EV_ALIVE = 1, /* a member joined, or came back (from suspect, dead or left) */
    RM_SWIM_EV_SUSPECT,   /* a member is suspected of having failed */
    RM_SWIM_EV_DEAD,      /* declared dead */
    RM_SWIM_EV_LEFT,      /* left gracefully */
    RM_SWIM_EV_UPDATED,   /* an alive member's meta, address or flags changed */
    RM_SWIM_EV_REAPED,    /* a dead or left member was forgotten (dead_reap) */
} rm_swim_event_kind_t;

/*  A membership event about another member (never about this node).  Owned
    by the caller: release with rm_swim_event_free. */
typedef struct {
    rm_swim_event_kind_t kind;
    char *name;
    char *addr;
    uint64_t incarnation;
    uint8_t *meta; /* NULL when meta_len is 0 */
    size_t meta_len;
    bool no_inbound;
} rm_swim_event_t;

/*  A message to send.  Owned by the caller: release with
    rm_swim_output_free.  `addr` is a member's advertised address, or the
    from_addr of the message this one answers. */
typedef struct {
    char *addr;
    uint8_t *data;
    size_t len;
} rm_swim_output_t;

/*  A member as this node sees it.  The pointers are borrowed: valid until
    the next call that takes `now` (tick, receive, join, leave, set_meta). */
typedef struct {
    const char *name;
    const char *addr;
    rm_swim_state_t state;
    uint64_t incarnation;
    const uint8_t *meta;
    size_t meta_len;
    bool no_inbound;
} rm_swim_member_t;

typedef struct {
    uint64_t msgs_out, bytes_out;
    uint64_t msgs_in, bytes_in, bad_in; /* bad_in: refused by rm_swim_receive */
    uint64_t probes, probes_failed, indirect_probes;
    uint64_t refutes;      /* times this node raised its incarnation to refute */
    uint64_t suspicions;   /* suspicions this node started or joined */
    uint64_t push_pulls;   /* push-pulls this node started (join included) */
    unsigned health_score; /* Local Health Multiplier score, 0 = healthy */
} rm_swim_stats_t;

typedef struct _rm_swim_t rm_swim_t;

/*  memberlist's LAN defaults (see the field comments). */
void rm_swim_config_default(rm_swim_config_t *cfg);

/*  A new engine for this node, alone until it joins (or is joined).  cfg
    NULL = defaults.  self_name: unique member name; self_addr: where others
    reach it (any string the transport understands, e.g.
    "tcp://10.0.0.5:7700"; for a no-inbound node something the transport
    can route replies to).  `now` starts the timers, staggered randomly. */
rm_swim_t *rm_swim_new(const rm_swim_config_t *cfg, const char *self_name, const char *self_addr,
                       uint64_t seed, int64_t now, rm_err_t *err);
void rm_swim_destroy(rm_swim_t **self_p);

/*  Runs every timer that is due: probes, indirect probes, suspicion
    timeouts, gossip, push-pull, reconnect, join retries, NAT heartbeats.
    Call it at rm_swim_next_deadline() (earlier is harmless). */
void rm_swim_tick(rm_swim_t *self, int64_t now);

/*  The time at which rm_swim_tick must next run, or RM_SWIM_NO_DEADLINE.
    Changes after every call that takes `now`. */
int64_t rm_swim_next_deadline(const rm_swim_t *self);

/*  One wire message from the network.  from_addr: where a reply must go
    (see NAT above).  Malformed, oversized or inconsistent input is refused
    whole (nothing applied) with RM_EPROTO and a message naming what was
    wrong; it never aborts. */
int rm_swim_receive(rm_swim_t *self, int64_t now, const char *from_addr, const uint8_t *data,
                    size_t len, rm_err_t *err);

/*  Starts a push-pull with the member at seed_addr (any member) and repeats
    it every join_retry until some push-pull is answered.  May be called
    again with another seed. */
int rm_swim_join(rm_swim_t *self, int64_t now, const char *seed_addr, rm_err_t *err);

/*  Graceful leave: gossips this node as 'left', stops probing and refuting. */
void rm_swim_leave(rm_swim_t *self, int64_t now);

/*  Sets this node's metadata (<= RM_SWIM_MAX_META bytes; copied), raises
    its incarnation and gossips it. */
int rm_swim_set_meta(rm_swim_t *self, int64_t now, const uint8_t *meta, size_t len, rm_err_t *err);

/*  Takes the next message to send: returns 1 and fills *out, or 0 when
    there is none. */
int rm_swim_next_output(rm_swim_t *self, rm_swim_output_t *out);
void rm_swim_output_free(rm_swim_output_t *out);

/*  Takes the next membership event: 1 and *ev filled, or 0. */
int rm_swim_next_event(rm_swim_t *self, rm_swim_event_t *ev);
void rm_swim_event_free(rm_swim_event_t *ev);

/*  Queries.  This node is member 0 and always listed. */
size_t rm_swim_count(const rm_swim_t *self, unsigned state_mask);
size_t rm_swim_member_total(const rm_swim_t *self);
int rm_swim_member_at(const rm_swim_t *self, size_t index, rm_swim_member_t *out);
int rm_swim_find(const rm_swim_t *self, const char *name, rm_swim_member_t *out);
const char *rm_swim_state_name(rm_swim_state_t state);

/*  Updates still queued for gossip (0: a leave has been sent enough). */
size_t rm_swim_pending_broadcasts(const rm_swim_t *self);
void rm_swim_stats(const rm_swim_t *self, rm_swim_stats_t *out);

#endif
