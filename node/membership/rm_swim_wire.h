/*  rm_swim_wire: the membership engine's wire codec (version 1).

    rm_swim.h describes the format; this unit is its only implementation.
    One message is a msgpack array [version, kind, from, body, updates];
    each body and the update are rm_codec descriptor tables, so the
    decoder is the project's bounded one: every declared length is checked
    against the bytes left and its field's maximum before anything is
    allocated, and the whole message is refused (RM_EPROTO, nothing kept)
    at the first thing wrong.

    Encoding is in two steps because the engine fills each message up to a
    byte budget: rm_swim_wire_encode_head writes the envelope and the body,
    the engine picks the queued updates that fit in what is left, and
    rm_swim_wire_append_updates adds them, already encoded (each update is
    encoded once, when it is queued, and sent many times). */
#ifndef RM_SWIM_WIRE_H
#define RM_SWIM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rm_codec.h"
#include "rm_error.h"
#include "rm_swim.h"

/*  Bit 0 of an update's flags: the member accepts no inbound connections. */
#define RM_SWIM_WIRE_NO_INBOUND 1u

/*  Upper bounds for planning push-pull parts under a byte budget: the
    msgpack overhead of one state entry beyond its strings and meta, and
    the envelope and body of one part without its states. */
#define RM_SWIM_WIRE_STATE_SLACK 32
#define RM_SWIM_WIRE_PART_SLACK (RM_SWIM_MAX_NAME + 64)

/*  The most bytes of the updates array's header. */
#define RM_SWIM_WIRE_UPDATES_HEAD 3

typedef enum {
    RM_SWIM_WIRE_PING = 1,
    RM_SWIM_WIRE_ACK,
    RM_SWIM_WIRE_NACK,
    RM_SWIM_WIRE_PING_REQ,
    RM_SWIM_WIRE_GOSSIP,
    RM_SWIM_WIRE_PUSH_PULL,
    RM_SWIM_WIRE_KINDS /* one past the last kind */
} rm_swim_wire_kind_t;

/*  One member's state, gossiped or pushed.  Decoded strings are never
    NULL and hold no NUL byte. */
typedef struct {
    char *name;
    char *addr;
    uint64_t incarnation;
    uint64_t state; /* rm_swim_state_t */
    char *from;     /* accuser of a suspect or dead state; "" in alive */
    uint64_t flags; /* RM_SWIM_WIRE_NO_INBOUND */
    rm_bin_t meta;
} rm_swim_wire_update_t;

typedef struct {
    uint64_t seq;
    char *target;
} rm_swim_wire_ping_t;

typedef struct {
    uint64_t seq;
} rm_swim_wire_ack_t; /* ACK and NACK */

typedef struct {
    uint64_t seq;
    char *target;
    char *target_addr;
    bool nack;
} rm_swim_wire_ping_req_t;

typedef struct {
    bool reply;
} rm_swim_wire_gossip_t;

typedef struct {
    bool join;
    bool reply;
    uint64_t part;
    uint64_t parts;
    RM_LIST(rm_swim_wire_update_t) states;
} rm_swim_wire_push_pull_t;

typedef union {
    rm_swim_wire_ping_t ping;
    rm_swim_wire_ack_t ack;
    rm_swim_wire_ping_req_t req;
    rm_swim_wire_gossip_t gossip;
    rm_swim_wire_push_pull_t pp;
} rm_swim_wire_body_t;

/*  A decoded message: about 4 KiB, so callers keep it on the heap. */
typedef struct {
    rm_swim_wire_kind_t kind;
    char from[RM_SWIM_MAX_NAME + 1];
    rm_swim_wire_body_t body;
    rm_swim_wire_update_t updates[RM_SWIM_MAX_UPDATES];
    uint32_t nupdates;
} rm_swim_wire_msg_t;

/*  "PING", "ACK", ...; "?" for anything else. */
const char *rm_swim_wire_kind_name(rm_swim_wire_kind_t kind);

/*  A new buffer holding a message of `kind` from `from` with `body` (the
    struct of that kind) and no updates yet.  0, or -1 (out of memory, or
    a value over its field's maximum) with nothing allocated. */
int rm_swim_wire_encode_head(rm_swim_wire_kind_t kind, const char *from, const void *body,
                             uint8_t **buf, size_t *len);

/*  Appends the updates array, made of `count` encoded updates, to the
    message in *buf, and trims the buffer to *len.  0, or -1 when out of
    memory (*buf is still the caller's to free). */
int rm_swim_wire_append_updates(uint8_t **buf, size_t *len, const uint8_t *const *updates,
                                const size_t *lens, uint32_t count);

/*  One update, encoded alone (to be queued, then appended): a buffer of
    exactly *len bytes, or NULL. */
uint8_t *rm_swim_wire_encode_update(const rm_swim_wire_update_t *u, size_t *len);

/*  Decodes and checks a whole message of at most RM_SWIM_MAX_MSG bytes:
    known version and kind, a sender name, every update with a name, a
    known state and (alive) an address, a valid push-pull part, nothing
    after the envelope but elements a later version may append.  0, or -1
    with err (RM_EPROTO, naming the kind and sender when known) and
    nothing left to free. */
int rm_swim_wire_decode(const uint8_t *data, size_t len, rm_swim_wire_msg_t *msg, rm_err_t *err);

/*  Frees what a successful decode allocated. */
void rm_swim_wire_free(rm_swim_wire_msg_t *msg);

#endif
