/*  rm_swim_wire: descriptor tables, encoder and bounded decoder of the
    membership messages.  The tables are the format: the encoder, the
    decoder and the field limits all come from them. */
#include "rm_swim_wire.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

static const rm_field_t update_fields[] = {
    RM_FIELD(rm_swim_wire_update_t, name, RM_F_STR, RM_SWIM_MAX_NAME, "member name"),
    RM_FIELD(rm_swim_wire_update_t, addr, RM_F_STR, RM_SWIM_MAX_ADDR,
             "where the member is reached"),
    RM_FIELD(rm_swim_wire_update_t, incarnation, RM_F_U64, 0, "raised only by the member itself"),
    RM_FIELD(rm_swim_wire_update_t, state, RM_F_U64, RM_SWIM_LEFT,
             "1 alive, 2 suspect, 3 dead, 4 left"),
    RM_FIELD(rm_swim_wire_update_t, from, RM_F_STR, RM_SWIM_MAX_NAME,
             "who suspects it or declared it dead; empty for alive"),
    RM_FIELD(rm_swim_wire_update_t, flags, RM_F_U64, 0, "bit 0: accepts no inbound connections"),
    RM_FIELD(rm_swim_wire_update_t, meta, RM_F_BIN, RM_SWIM_MAX_META,
             "the member's opaque metadata"),
};
static const rm_struct_desc_t update_desc = RM_DESC(
    rm_swim_wire_update_t, "swim_update", update_fields, "One member's state, gossiped or pushed.");

static const rm_field_t ping_fields[] = {
    RM_FIELD(rm_swim_wire_ping_t, seq, RM_F_U64, 0, "echoed in the ACK"),
    RM_FIELD(rm_swim_wire_ping_t, target, RM_F_STR, RM_SWIM_MAX_NAME, "name of the member pinged"),
};
static const rm_struct_desc_t ping_desc =
    RM_DESC(rm_swim_wire_ping_t, "swim_ping", ping_fields, "Are you alive?  Answered by ACK.");

static const rm_field_t ack_fields[] = {
    RM_FIELD(rm_swim_wire_ack_t, seq, RM_F_U64, 0, "the PING's or PING_REQ's seq"),
};
static const rm_struct_desc_t ack_desc = RM_DESC(rm_swim_wire_ack_t, "swim_ack", ack_fields,
                                                 "ACK: alive; NACK: helper got no ACK in time.");

static const rm_field_t ping_req_fields[] = {
    RM_FIELD(rm_swim_wire_ping_req_t, seq, RM_F_U64, 0, "echoed in the relayed ACK or the NACK"),
    RM_FIELD(rm_swim_wire_ping_req_t, target, RM_F_STR, RM_SWIM_MAX_NAME, "member to ping"),
    RM_FIELD(rm_swim_wire_ping_req_t, target_addr, RM_F_STR, RM_SWIM_MAX_ADDR, "its address"),
    RM_FIELD(rm_swim_wire_ping_req_t, nack, RM_F_BOOL, 0,
             "send a NACK if the target does not answer"),
};
static const rm_struct_desc_t ping_req_desc =
    RM_DESC(rm_swim_wire_ping_req_t, "swim_ping_req", ping_req_fields, "Ping this member for me.");

static const rm_field_t gossip_fields[] = {
    RM_FIELD(rm_swim_wire_gossip_t, reply, RM_F_BOOL, 0, "answer with your queued updates"),
};
static const rm_struct_desc_t gossip_desc = RM_DESC(
    rm_swim_wire_gossip_t, "swim_gossip", gossip_fields, "Carries piggybacked updates only.");

static const rm_field_t push_pull_fields[] = {
    RM_FIELD(rm_swim_wire_push_pull_t, join, RM_F_BOOL, 0, "sent by a joining node"),
    RM_FIELD(rm_swim_wire_push_pull_t, reply, RM_F_BOOL, 0,
             "answer with your state after the last part"),
    RM_FIELD(rm_swim_wire_push_pull_t, part, RM_F_U64, RM_SWIM_MAX_PP_PARTS - 1,
             "0-based part index"),
    RM_FIELD(rm_swim_wire_push_pull_t, parts, RM_F_U64, RM_SWIM_MAX_PP_PARTS,
             "parts in this state"),
    RM_FIELD_LIST_OF(rm_swim_wire_push_pull_t, states, update_desc, RM_SWIM_MAX_PP_STATES,
                     "member states"),
};
static const rm_struct_desc_t push_pull_desc =
    RM_DESC(rm_swim_wire_push_pull_t, "swim_push_pull", push_pull_fields,
            "One part of a full state exchange.");

static const struct {
    const char *name;
    const rm_struct_desc_t *desc;
} kinds[RM_SWIM_WIRE_KINDS] = {
    [RM_SWIM_WIRE_PING] = {"PING", &ping_desc},
    [RM_SWIM_WIRE_ACK] = {"ACK", &ack_desc},
    [RM_SWIM_WIRE_NACK] = {"NACK", &ack_desc},
    [RM_SWIM_WIRE_PING_REQ] = {"PING_REQ", &ping_req_desc},
    [RM_SWIM_WIRE_GOSSIP] = {"GOSSIP", &gossip_desc},
    [RM_SWIM_WIRE_PUSH_PULL] = {"PUSH_PULL", &push_pull_desc},
};

static bool known_kind(uint64_t kind)
{
    return kind > 0 && kind < RM_SWIM_WIRE_KINDS;
}

const char *rm_swim_wire_kind_name(rm_swim_wire_kind_t kind)
{
    return known_kind(kind) ? kinds[kind].name : "?";
}

/* ------------------------------------------------------------------ */
/* Encoding                                                             */
/* ------------------------------------------------------------------ */

/*  Gives back the slack of a buffer that grew in steps: queued updates
    and outgoing messages live a while. */
static uint8_t *trim_to_len(uint8_t *buf, size_t len)
{
    uint8_t *q = realloc(buf, len ? len : 1);
    return q ? q : buf;
}

static int pack_envelope(msgpack_sbuffer *sb, rm_swim_wire_kind_t kind, const char *from)
{
    msgpack_packer pk;
    size_t nl = strlen(from);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    if (msgpack_pack_array(&pk, 5) || msgpack_pack_uint64(&pk, RM_SWIM_WIRE_VERSION) ||
        msgpack_pack_uint64(&pk, (uint64_t)kind) || msgpack_pack_str(&pk, nl) ||
        msgpack_pack_str_body(&pk, from, nl))
        return -1;
    return 0;
}

int rm_swim_wire_encode_head(rm_swim_wire_kind_t kind, const char *from, const void *body,
                             uint8_t **buf, size_t *len)
{
    msgpack_sbuffer sb;
    if (!known_kind(kind))
        return -1;
    msgpack_sbuffer_init(&sb);
    if (pack_envelope(&sb, kind, from)) {
        msgpack_sbuffer_destroy(&sb);
        return -1;
    }
    *buf = (uint8_t *)sb.data;
    *len = sb.size;
    if (rm_codec_encode(kinds[kind].desc, body, buf, len, NULL)) {
        free(*buf);
        *buf = NULL;
        return -1;
    }
    return 0;
}

int rm_swim_wire_append_updates(uint8_t **buf, size_t *len, const uint8_t *const *updates,
                                const size_t *lens, uint32_t count)
{
    size_t extra = RM_SWIM_WIRE_UPDATES_HEAD;
    for (uint32_t i = 0; i < count; i++)
        extra += lens[i];
    uint8_t *q = realloc(*buf, *len + extra);
    if (!q)
        return -1;
    *buf = q;
    /* fixarray below 16, else array 16 (count is at most 64) */
    if (count < 16) {
        q[(*len)++] = (uint8_t)(0x90 | count);
    } else {
        q[(*len)++] = 0xdc;
        q[(*len)++] = (uint8_t)(count >> 8);
        q[(*len)++] = (uint8_t)count;
    }
    for (uint32_t i = 0; i < count; i++) {
        memcpy(q + *len, updates[i], lens[i]);
        *len += lens[i];
    }
    *buf = trim_to_len(q, *len);
    return 0;
}

uint8_t *rm_swim_wire_encode_update(const rm_swim_wire_update_t *u, size_t *len)
{
    uint8_t *buf = NULL;
    *len = 0;
    if (rm_codec_encode(&update_desc, u, &buf, len, NULL)) {
        free(buf);
        return NULL;
    }
    return trim_to_len(buf, *len);
}

/* ------------------------------------------------------------------ */
/* Decoding                                                             */
/* ------------------------------------------------------------------ */

void rm_swim_wire_free(rm_swim_wire_msg_t *msg)
{
    if (known_kind(msg->kind))
        rm_codec_free(kinds[msg->kind].desc, &msg->body);
    for (uint32_t i = 0; i < msg->nupdates; i++)
        rm_codec_free(&update_desc, &msg->updates[i]);
    msg->nupdates = 0;
}

static int check_update(const rm_swim_wire_update_t *u, rm_err_t *err)
{
    if (!u->name[0])
        return rm_err_set(err, RM_EPROTO, "update with an empty member name");
    if (u->state < RM_SWIM_ALIVE || u->state > RM_SWIM_LEFT)
        return rm_err_set(err, RM_EPROTO, "update about %s: unknown state %" PRIu64, u->name,
                          u->state);
    if (u->state == RM_SWIM_ALIVE && !u->addr[0])
        return rm_err_set(err, RM_EPROTO, "alive update about %s without an address", u->name);
    return 0;
}

static int check_body(const rm_swim_wire_msg_t *msg, rm_err_t *err)
{
    const rm_swim_wire_body_t *b = &msg->body;
    switch (msg->kind) {
    case RM_SWIM_WIRE_PING:
        return b->ping.target[0] ? 0 : rm_err_set(err, RM_EPROTO, "PING without a target");
    case RM_SWIM_WIRE_PING_REQ:
        if (!b->req.target[0] || !b->req.target_addr[0])
            return rm_err_set(err, RM_EPROTO, "PING_REQ without a target or its address");
        return 0;
    case RM_SWIM_WIRE_PUSH_PULL:
        if (b->pp.parts < 1 || b->pp.part >= b->pp.parts)
            return rm_err_set(err, RM_EPROTO,
                              "PUSH_PULL part %" PRIu64 " of %" PRIu64 " is not a valid part",
                              b->pp.part, b->pp.parts);
        for (uint32_t i = 0; i < b->pp.states.count; i++)
            if (check_update(&b->pp.states.items[i], err))
                return rm_err_prefix(err, "PUSH_PULL state %" PRIu32 ": ", i);
        return 0;
    default:
        return 0;
    }
}

static int read_envelope(rm_reader_t *r, rm_swim_wire_msg_t *msg, uint32_t *count, rm_err_t *err)
{
    uint64_t version, kind;
    const char *from;
    uint32_t nl;
    if (rm_read_array(r, 0, count, err))
        return rm_err_prefix(err, "envelope: ");
    if (*count < 5)
        return rm_err_set(err, RM_EPROTO, "envelope of %" PRIu32 " elements, expected 5", *count);
    if (rm_read_u64(r, &version, err))
        return rm_err_prefix(err, "envelope version: ");
    if (version != RM_SWIM_WIRE_VERSION)
        return rm_err_set(err, RM_EPROTO, "membership wire version %" PRIu64 " not supported (%d)",
                          version, RM_SWIM_WIRE_VERSION);
    if (rm_read_u64(r, &kind, err))
        return rm_err_prefix(err, "envelope kind: ");
    if (!known_kind(kind))
        return rm_err_set(err, RM_EPROTO, "unknown membership message kind %" PRIu64, kind);
    if (rm_read_str_ref(r, RM_SWIM_MAX_NAME, &from, &nl, err))
        return rm_err_prefix(err, "envelope from: ");
    if (nl == 0 || memchr(from, '\0', nl))
        return rm_err_set(err, RM_EPROTO, "envelope from: empty or with a NUL byte");
    memcpy(msg->from, from, nl);
    msg->from[nl] = '\0';
    msg->kind = (rm_swim_wire_kind_t)kind;
    return 0;
}

static int read_updates(rm_reader_t *r, rm_swim_wire_msg_t *msg, rm_err_t *err)
{
    uint32_t n;
    size_t used;
    if (rm_read_array(r, RM_SWIM_MAX_UPDATES, &n, err))
        return rm_err_prefix(err, "updates: ");
    for (uint32_t i = 0; i < n; i++) {
        if (rm_codec_decode(&update_desc, &msg->updates[i], r->p, (size_t)(r->end - r->p), &used,
                            err))
            return rm_err_prefix(err, "update %" PRIu32 ": ", i);
        msg->nupdates = i + 1;
        r->p += used;
        if (check_update(&msg->updates[i], err))
            return -1;
    }
    return 0;
}

int rm_swim_wire_decode(const uint8_t *data, size_t len, rm_swim_wire_msg_t *msg, rm_err_t *err)
{
    rm_reader_t r;
    uint32_t count;
    size_t used;
    memset(msg, 0, sizeof *msg);
    if (len > RM_SWIM_MAX_MSG)
        return rm_err_set(err, RM_EPROTO, "membership message of %zu bytes, max %d", len,
                          RM_SWIM_MAX_MSG);
    rm_reader_init(&r, data, len);
    if (read_envelope(&r, msg, &count, err))
        return -1;
    int rc =
        rm_codec_decode(kinds[msg->kind].desc, &msg->body, r.p, (size_t)(r.end - r.p), &used, err);
    if (rc == 0) {
        r.p += used;
        rc = check_body(msg, err) || read_updates(&r, msg, err) ? -1 : 0;
    }
    /* Envelope elements a later version may append, then nothing. */
    r.depth = 1;
    for (uint32_t i = 5; rc == 0 && i < count; i++)
        rc = rm_read_skip(&r, err);
    if (rc == 0 && r.p != r.end)
        rc = rm_err_set(err, RM_EPROTO, "%zu stray bytes after the message", (size_t)(r.end - r.p));
    if (rc) {
        rm_err_prefix(err, "%s from %s: ", kinds[msg->kind].name, msg->from);
        rm_swim_wire_free(msg);
        return -1;
    }
    return 0;
}
