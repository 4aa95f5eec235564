/*  rm_swim_wire: every kind round-trips, and malformed messages are
    refused whole, with RM_EPROTO, before anything is allocated for them. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include <msgpack.h>

#include "rm_swim_wire.h"
#include "rm_test.h"

/*  A message of `kind` with `n` updates about u0, u1, ... */
static uint8_t *build(rm_swim_wire_kind_t kind, const void *body, uint32_t n, size_t *len)
{
    uint8_t *buf, *enc[RM_SWIM_MAX_UPDATES];
    size_t lens[RM_SWIM_MAX_UPDATES];
    char name[16];
    uint8_t meta[3] = {1, 2, 3};
    CHECK(rm_swim_wire_encode_head(kind, "sender", body, &buf, len) == 0);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "u%" PRIu32, i);
        rm_swim_wire_update_t u = {name,
                                   "tcp://h:1",
                                   100 + i,
                                   1 + i % 4,
                                   i % 4 ? "acc" : "",
                                   i % 2,
                                   {i % 3 ? meta : NULL, i % 3 ? 3 : 0}};
        enc[i] = rm_swim_wire_encode_update(&u, &lens[i]);
        CHECK(enc[i] != NULL);
    }
    CHECK(rm_swim_wire_append_updates(&buf, len, (const uint8_t *const *)enc, lens, n) == 0);
    for (uint32_t i = 0; i < n; i++)
        free(enc[i]);
    return buf;
}

static int decode(const uint8_t *data, size_t len, rm_swim_wire_msg_t *m, rm_err_t *err)
{
    err->code = RM_OK;
    err->msg[0] = '\0';
    return rm_swim_wire_decode(data, len, m, err);
}

static bool updates_intact(const rm_swim_wire_msg_t *m, uint32_t n)
{
    char name[16];
    if (m->nupdates != n)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        const rm_swim_wire_update_t *u = &m->updates[i];
        snprintf(name, sizeof name, "u%" PRIu32, i);
        if (strcmp(u->name, name) || strcmp(u->addr, "tcp://h:1") || u->incarnation != 100 + i ||
            u->state != 1 + i % 4 || strcmp(u->from, i % 4 ? "acc" : "") || u->flags != i % 2 ||
            u->meta.len != (i % 3 ? 3u : 0u) || (u->meta.len && u->meta.data[2] != 3))
            return false;
    }
    return true;
}

static void test_every_kind_round_trips(void)
{
    rm_swim_wire_ping_t ping = {7, "target"};
    rm_swim_wire_ack_t ack = {8};
    rm_swim_wire_ping_req_t req = {9, "t", "tcp://t:1", true};
    rm_swim_wire_gossip_t gossip = {true};
    rm_swim_wire_msg_t *m = malloc(sizeof *m);
    rm_err_t err;
    size_t len;
    const struct {
        rm_swim_wire_kind_t kind;
        const void *body;
    } cases[] = {{RM_SWIM_WIRE_PING, &ping},
                 {RM_SWIM_WIRE_ACK, &ack},
                 {RM_SWIM_WIRE_NACK, &ack},
                 {RM_SWIM_WIRE_PING_REQ, &req},
                 {RM_SWIM_WIRE_GOSSIP, &gossip}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t *buf = build(cases[c].kind, cases[c].body, 3, &len);
        CHECK_MSG(decode(buf, len, m, &err) == 0, "%s: %s", rm_swim_wire_kind_name(cases[c].kind),
                  err.msg);
        CHECK(m->kind == cases[c].kind && strcmp(m->from, "sender") == 0);
        CHECK(updates_intact(m, 3));
        rm_swim_wire_free(m);
        free(buf);
    }
    uint8_t *buf = build(RM_SWIM_WIRE_PING_REQ, &req, 0, &len);
    CHECK(decode(buf, len, m, &err) == 0);
    CHECK(m->body.req.seq == 9 && strcmp(m->body.req.target, "t") == 0);
    CHECK(strcmp(m->body.req.target_addr, "tcp://t:1") == 0 && m->body.req.nack);
    rm_swim_wire_free(m);
    free(buf);
    free(m);
}

static void test_push_pull_carries_states(void)
{
    rm_swim_wire_update_t states[2] = {
        {"a", "tcp://a:1", 5, RM_SWIM_ALIVE, NULL, 0, {NULL, 0}},
        {"b", "", 6, RM_SWIM_DEAD, "a", RM_SWIM_WIRE_NO_INBOUND, {NULL, 0}},
    };
    rm_swim_wire_push_pull_t pp = {true, false, 1, 3, {states, 2}};
    rm_swim_wire_msg_t *m = malloc(sizeof *m);
    rm_err_t err;
    size_t len;
    uint8_t *buf = build(RM_SWIM_WIRE_PUSH_PULL, &pp, 0, &len);
    CHECK_MSG(decode(buf, len, m, &err) == 0, "%s", err.msg);
    const rm_swim_wire_push_pull_t *d = &m->body.pp;
    CHECK(d->join && !d->reply && d->part == 1 && d->parts == 3 && d->states.count == 2);
    CHECK(strcmp(d->states.items[1].name, "b") == 0 && d->states.items[1].state == RM_SWIM_DEAD);
    CHECK(strcmp(d->states.items[0].from, "") == 0); /* NULL goes as "" */
    rm_swim_wire_free(m);
    free(buf);
    free(m);
}

/*  16 updates and more take the 3-byte array header. */
static void test_many_updates(void)
{
    rm_swim_wire_gossip_t g = {false};
    rm_swim_wire_msg_t *m = malloc(sizeof *m);
    rm_err_t err;
    size_t len;
    for (uint32_t n = 14; n <= RM_SWIM_MAX_UPDATES; n += 25) {
        uint8_t *buf = build(RM_SWIM_WIRE_GOSSIP, &g, n, &len);
        CHECK_MSG(decode(buf, len, m, &err) == 0, "%u updates: %s", n, err.msg);
        CHECK(updates_intact(m, n));
        rm_swim_wire_free(m);
        free(buf);
    }
    free(m);
}

/*  Every prefix of a valid message is refused, and leaves nothing to free. */
static void test_truncations_refused(void)
{
    rm_swim_wire_ping_req_t req = {9, "t", "tcp://t:1", true};
    rm_swim_wire_msg_t *m = malloc(sizeof *m);
    rm_err_t err;
    size_t len;
    uint8_t *buf = build(RM_SWIM_WIRE_PING_REQ, &req, 5, &len);
    for (size_t cut = 0; cut < len; cut++) {
        CHECK_MSG(decode(buf, cut, m, &err) == -1 && err.code == RM_EPROTO, "%zu of %zu bytes", cut,
                  len);
        CHECK(m->nupdates == 0);
    }
    free(buf);
    free(m);
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/*  [version, kind, from, [reply], [update(name, addr, state)] * nu] */
static void pack_gossip(msgpack_packer *pk, uint64_t version, uint64_t kind, const char *from,
                        const char *name, const char *addr, uint64_t state, uint32_t nu)
{
    msgpack_pack_array(pk, 5);
    msgpack_pack_uint64(pk, version);
    msgpack_pack_uint64(pk, kind);
    pack_str(pk, from);
    msgpack_pack_array(pk, 1);
    msgpack_pack_false(pk);
    msgpack_pack_array(pk, nu);
    for (uint32_t i = 0; i < nu; i++) {
        msgpack_pack_array(pk, 7);
        pack_str(pk, name);
        pack_str(pk, addr);
        msgpack_pack_uint64(pk, 1);
        msgpack_pack_uint64(pk, state);
        pack_str(pk, "");
        msgpack_pack_uint64(pk, 0);
        msgpack_pack_bin(pk, 0);
    }
}

static void test_malformed_refused(void)
{
    const struct {
        const char *what;
        uint64_t version, kind;
        const char *from, *name, *addr;
        uint64_t state;
        uint32_t nu;
    } cases[] = {
        {"version 2", 2, 5, "x", "n", "a", 1, 1},   {"kind 0", 1, 0, "x", "n", "a", 1, 1},
        {"kind 7", 1, 7, "x", "n", "a", 1, 1},      {"empty from", 1, 5, "", "n", "a", 1, 1},
        {"empty name", 1, 5, "x", "", "a", 1, 1},   {"state 0", 1, 5, "x", "n", "a", 0, 1},
        {"state 5", 1, 5, "x", "n", "a", 5, 1},     {"alive, no addr", 1, 5, "x", "n", "", 1, 1},
        {"65 updates", 1, 5, "x", "n", "a", 1, 65},
    };
    msgpack_sbuffer sb;
    msgpack_packer pk;
    rm_swim_wire_msg_t *m = malloc(sizeof *m);
    rm_err_t err;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_gossip(&pk, 1, 5, "x", "n", "a", 1, 1);
    CHECK_MSG(decode((uint8_t *)sb.data, sb.size, m, &err) == 0, "%s", err.msg);
    rm_swim_wire_free(m);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        msgpack_sbuffer_clear(&sb);
        pack_gossip(&pk, cases[c].version, cases[c].kind, cases[c].from, cases[c].name,
                    cases[c].addr, cases[c].state, cases[c].nu);
        CHECK_MSG(decode((uint8_t *)sb.data, sb.size, m, &err) == -1 && err.code == RM_EPROTO,
                  "%s accepted", cases[c].what);
        CHECK(m->nupdates == 0);
    }
    msgpack_sbuffer_destroy(&sb);
    free(m);
}

/*  A push-pull part outside its parts, a PING without a target, a
    PING_REQ without the target's address, stray bytes after the message. */
static void test_inconsistent_bodies_refused(void)
{
    rm_swim_wire_push_pull_t pp = {false, true, 2, 2, {NULL, 0}};
    rm_swim_wire_ping_t ping = {1, ""};
    rm_swim_wire_ping_req_t req = {1, "t", "", false};
    rm_swim_wire_msg_t *m = malloc(sizeof *m);
    rm_err_t err;
    size_t len;
    uint8_t *buf = build(RM_SWIM_WIRE_PUSH_PULL, &pp, 0, &len);
    CHECK(decode(buf, len, m, &err) == -1 && strstr(err.msg, "PUSH_PULL from sender"));
    free(buf);
    buf = build(RM_SWIM_WIRE_PING, &ping, 0, &len);
    CHECK(decode(buf, len, m, &err) == -1 && strstr(err.msg, "without a target"));
    free(buf);
    buf = build(RM_SWIM_WIRE_PING_REQ, &req, 0, &len);
    CHECK(decode(buf, len, m, &err) == -1 && err.code == RM_EPROTO);
    free(buf);
    ping.target = "t";
    buf = build(RM_SWIM_WIRE_PING, &ping, 0, &len);
    buf = realloc(buf, len + 1);
    buf[len] = 0xc0;
    CHECK(decode(buf, len, m, &err) == 0);
    rm_swim_wire_free(m);
    CHECK(decode(buf, len + 1, m, &err) == -1 && strstr(err.msg, "stray"));
    free(buf);
    free(m);
}

/*  Declared lengths far beyond the bytes present are refused at their
    header: the decoder compares them with what is left before it reserves
    anything. */
static void test_lengths_checked_before_allocation(void)
{
    /* PUSH_PULL whose states array declares 16384 entries in 9 bytes. */
    const uint8_t states[] = {0x95, 0x01, 0x06, 0xa1, 'x',  0x95, 0xc2,
                              0xc2, 0x00, 0x01, 0xdc, 0x40, 0x00, 0x90};
    /* A from string of 4 GiB; a meta bin of 500 bytes in 1, one of 4 GiB. */
    const uint8_t from[] = {0x95, 0x01, 0x05, 0xdb, 0xff, 0xff, 0xff, 0xf0, 'x'};
    uint8_t meta[] = {0x95, 0x01, 0x05, 0xa1, 'x',  0x91, 0xc2, 0x91, 0x97, 0xa1, 'n', 0xa1,
                      'a',  0x01, 0x01, 0xa0, 0x00, 0xc5, 0x01, 0xf4, 0x00, 0x00, 0x00};
    rm_swim_wire_msg_t *m = malloc(sizeof *m);
    rm_err_t err;
    CHECK(decode(states, sizeof states, m, &err) == -1);
    CHECK_MSG(strstr(err.msg, "but only"), "%s", err.msg);
    CHECK(decode(from, sizeof from, m, &err) == -1 && err.code == RM_EPROTO);
    CHECK(decode(meta, sizeof meta - 2, m, &err) == -1);
    CHECK_MSG(strstr(err.msg, "but only"), "%s", err.msg);
    memcpy(meta + 17, (uint8_t[]){0xc6, 0xff, 0xff, 0xff, 0xff}, 5);
    CHECK(decode(meta, sizeof meta, m, &err) == -1);
    CHECK_MSG(strstr(err.msg, "max 512"), "%s", err.msg);
    /* Over 1 MiB: refused before a byte is read. */
    uint8_t *big = calloc(1, RM_SWIM_MAX_MSG + 1);
    CHECK(decode(big, RM_SWIM_MAX_MSG + 1, m, &err) == -1 && strstr(err.msg, "max"));
    free(big);
    CHECK(decode(NULL, 0, m, &err) == -1);
    free(m);
}

static void test_kind_names(void)
{
    CHECK(strcmp(rm_swim_wire_kind_name(RM_SWIM_WIRE_PING_REQ), "PING_REQ") == 0);
    CHECK(strcmp(rm_swim_wire_kind_name(RM_SWIM_WIRE_PUSH_PULL), "PUSH_PULL") == 0);
    CHECK(strcmp(rm_swim_wire_kind_name(RM_SWIM_WIRE_KINDS), "?") == 0);
    CHECK(strcmp(rm_swim_wire_kind_name(0), "?") == 0);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_every_kind_round_trips);
    RM_RUN(test_push_pull_carries_states);
    RM_RUN(test_many_updates);
    RM_RUN(test_truncations_refused);
    RM_RUN(test_malformed_refused);
    RM_RUN(test_inconsistent_bodies_refused);
    RM_RUN(test_lengths_checked_before_allocation);
    RM_RUN(test_kind_names);
    RM_TEST_DONE();
}
