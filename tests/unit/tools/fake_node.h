/*  A fake node for the tools tests: a door and a main ROUTER on CURVE,
    as a node binds them, backed by a real chunk store.  It answers
    SUBMIT (NEED at most 3 chunks at a time, then ACCEPTED), CHUNK_PUT,
    CHUNK_GET, CHUNKS_HELD (unless `old`: then as a node that predates it
    does, ERROR EPROTO), STATUS, WATCH and JOB_INFO (a fixed job). */
#ifndef FAKE_NODE_H
#define FAKE_NODE_H

#include <czmq.h>
#include <sodium.h>
#include <stdbool.h>
#include <string.h>

#include "rm_cred.h"
#include "rm_manifest.h"
#include "rm_msg.h"
#include "rm_store.h"
#include "rm_test.h"

#define FN_UNUSED __attribute__((unused))

/*  --- A fake node ------------------------------------------------------------------------ */

typedef enum { FAKE_NODE, FAKE_CLIENT_ROLE, FAKE_OTHER_MESH, FAKE_SILENT } fake_mode_t;

typedef struct {
    fake_mode_t mode;
    int port; /* main; the door is port + 1 */
    uint8_t mesh_pk[32];
    rm_token_t node;       /* the node's identity */
    rm_bin_t welcome_cred; /* what it shows at the door */
    rm_store_t *store;
    rm_hash_t frame_output; /* a rendered frame, stored */
    rm_hash_t multi_output; /* a frame of several files (frame_0003.exr, passes/...) */
    int puts_refused;       /* refuse this many CHUNK_PUTs with ENOSPC */
    int submits_dropped;    /* drop (do not answer) this many SUBMITs */
    bool old;               /* predates CHUNKS_HELD */
    int puts;               /* CHUNK_PUTs taken */
    int helds;              /* CHUNKS_HELD answered */
} fake_t;

FN_UNUSED static void fake_send(zsock_t *sock, zframe_t *peer, rm_msg_type_t type, uint64_t req,
                                const void *body)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err;
    if (rm_msg_encode(type, req, body, &buf, &len, &err) != 0) {
        fprintf(stderr, "fake node: %s\n", err.msg);
        return;
    }
    zmsg_t *out = zmsg_new();
    zmsg_append(out, &peer);
    zmsg_addmem(out, buf, len);
    zmsg_send(&out, sock);
    free(buf);
}

FN_UNUSED static void fake_error(zsock_t *sock, zframe_t *peer, uint64_t req, rm_code_t code,
                                 const char *m)
{
    rm_error_msg_t e = {code, (char *)m};
    fake_send(sock, peer, RM_MSG_ERROR, req, &e);
}

FN_UNUSED static void fake_submit(fake_t *fk, zsock_t *sock, zframe_t *peer, rm_msg_t *msg)
{
    rm_job_spec_t *spec = &msg->u.submit;
    rm_need_t need = {0};
    rm_err_t err;
    if (fk->submits_dropped > 0) {
        fk->submits_dropped--;
        zframe_destroy(&peer);
        return;
    }
    if (!rm_store_has(fk->store, &spec->manifest)) {
        need.hashes.items = &spec->manifest;
        need.hashes.count = 1;
        fake_send(sock, peer, RM_MSG_NEED, msg->req, &need);
        return;
    }
    rm_manifest_t m;
    CHECK(rm_manifest_load(fk->store, &spec->manifest, &m, &err) == 0);
    CHECK(rm_manifest_missing(&m, fk->store, &need.hashes.items, &need.hashes.count, 3, &err) ==
          0); /* at most 3 per NEED: several rounds */
    rm_manifest_free(&m);
    if (need.hashes.count > 0) {
        fake_send(sock, peer, RM_MSG_NEED, msg->req, &need);
    } else {
        rm_accepted_t acc = {spec->job_id, 24};
        fake_send(sock, peer, RM_MSG_ACCEPTED, msg->req, &acc);
    }
    free(need.hashes.items);
}

FN_UNUSED static void fake_chunk(fake_t *fk, zsock_t *sock, zframe_t *peer, rm_msg_t *msg)
{
    rm_err_t err;
    if (msg->type == RM_MSG_CHUNK_PUT) {
        if (fk->puts_refused > 0) {
            fk->puts_refused--;
            fake_error(sock, peer, msg->req, RM_ENOSPC, "disk full");
        } else if (rm_store_put(fk->store, &msg->u.chunk.hash, msg->u.chunk.data.data,
                                msg->u.chunk.data.len, &err) != 0) {
            fake_error(sock, peer, msg->req, err.code, err.msg);
        } else {
            fk->puts++;
            rm_chunk_ref_t ok = {msg->u.chunk.hash};
            fake_send(sock, peer, RM_MSG_CHUNK_OK, msg->req, &ok);
        }
        return;
    }
    rm_chunk_t c = {msg->u.chunk_ref.hash, {NULL, 0}};
    if (rm_store_get(fk->store, &c.hash, &c.data.data, &c.data.len, &err) != 0) {
        fake_error(sock, peer, msg->req, err.code, err.msg);
        return;
    }
    fake_send(sock, peer, RM_MSG_CHUNK_DATA, msg->req, &c);
    free(c.data.data);
}

FN_UNUSED static void fake_held(fake_t *fk, zsock_t *sock, zframe_t *peer, rm_msg_t *msg)
{
    if (fk->old) {
        fake_error(sock, peer, msg->req, RM_EPROTO, "unknown message type 41");
        return;
    }
    const rm_need_t *ask = &msg->u.chunks_held;
    uint8_t bits[(RM_MAX_NEED + 7) / 8] = {0};
    for (uint32_t i = 0; i < ask->hashes.count; i++)
        if (rm_store_has(fk->store, &ask->hashes.items[i]))
            bits[i / 8] |= (uint8_t)(1u << (i % 8));
    rm_have_reply_t r = {.held = {bits, (ask->hashes.count + 7) / 8}};
    fk->helds++;
    fake_send(sock, peer, RM_MSG_CHUNKS_HELD_REPLY, msg->req, &r);
}

FN_UNUSED static void fake_job(fake_t *fk, zsock_t *sock, zframe_t *peer, rm_msg_t *msg)
{
    rm_job_summary_t s = {.job_id = "00000000000000aa",
                          .name = "scene.blend",
                          .state = "done",
                          .frames_total = 2,
                          .frames_done = 1,
                          .frames_failed = 1,
                          .version = 7,
                          .error = ""};
    if (msg->type == RM_MSG_WATCH) {
        fake_send(sock, peer, RM_MSG_WATCH_REPLY, msg->req, &s);
        return;
    }
    rm_frame_info_t frames[3] = {
        {.frame = 1, .state = "done", .output = fk->frame_output, .file = "frame_0001.png"},
        {.frame = 2, .state = "failed", .file = "", .error = "Blender crashed"},
        {.frame = 3,
         .state = "done",
         .output = fk->multi_output,
         .file = "frame_0003.exr",
         .warning = "missing file //tex/x.png"},
    };
    rm_job_reply_t r = {.summary = s};
    r.frames.items = frames;
    r.frames.count = 3;
    fake_send(sock, peer, RM_MSG_JOB_REPLY, msg->req, &r);
}

FN_UNUSED static void fake_main(fake_t *fk, zsock_t *sock)
{
    zmsg_t *in = zmsg_recv(sock);
    zframe_t *peer = zmsg_pop(in);
    zframe_t *body = zmsg_pop(in);
    rm_msg_t msg;
    rm_err_t err;
    if (rm_msg_decode(zframe_data(body), zframe_size(body), &msg, &err) != 0) {
        fprintf(stderr, "fake node: %s\n", err.msg);
    } else if (msg.type == RM_MSG_STATUS) {
        rm_status_reply_t s = {.node = "fake", .version = "0", .proto = 1, .blender = "3.4.1"};
        fake_send(sock, peer, RM_MSG_STATUS_REPLY, msg.req, &s);
        peer = NULL;
    } else if (msg.type == RM_MSG_SUBMIT) {
        fake_submit(fk, sock, peer, &msg);
        peer = NULL;
    } else if (msg.type == RM_MSG_CHUNKS_HELD) {
        fake_held(fk, sock, peer, &msg);
        peer = NULL;
    } else if (msg.type == RM_MSG_CHUNK_PUT || msg.type == RM_MSG_CHUNK_GET) {
        fake_chunk(fk, sock, peer, &msg);
        peer = NULL;
    } else if (msg.type == RM_MSG_WATCH || msg.type == RM_MSG_JOB_INFO) {
        fake_job(fk, sock, peer, &msg);
        peer = NULL;
    } else {
        fake_error(sock, peer, msg.req, RM_ENOTFOUND, "no such job");
        peer = NULL;
    }
    rm_msg_free(&msg);
    zframe_destroy(&peer);
    zframe_destroy(&body);
    zmsg_destroy(&in);
}

FN_UNUSED static void fake_door(fake_t *fk, zsock_t *door)
{
    zmsg_t *in = zmsg_recv(door);
    zframe_t *peer = zmsg_pop(in);
    zframe_t *body = zmsg_pop(in);
    rm_msg_t msg;
    rm_err_t err;
    if (rm_msg_decode(zframe_data(body), zframe_size(body), &msg, &err) == 0 &&
        msg.type == RM_MSG_HELLO && fk->mode != FAKE_SILENT) {
        rm_welcome_t w = {RM_PROTO_VERSION, fk->welcome_cred, "fake"};
        fake_send(door, peer, RM_MSG_WELCOME, msg.req, &w);
        peer = NULL;
    }
    rm_msg_free(&msg);
    zframe_destroy(&peer);
    zframe_destroy(&body);
    zmsg_destroy(&in);
}

FN_UNUSED static zsock_t *fake_router(const uint8_t pk[32], const uint8_t sk[32])
{
    zsock_t *s = zsock_new(ZMQ_ROUTER);
    zsock_set_linger(s, 0);
    zsock_set_curve_server(s, 1);
    zsock_set_curve_publickey_bin(s, pk);
    zsock_set_curve_secretkey_bin(s, sk);
    zsock_set_maxmsgsize(s, RM_MAX_MSG_SIZE);
    return s;
}

/*  Binds the door at an ephemeral port P+1 with P free for the main socket. */
/*  Main socket on PORT, door on PORT+1, as a node binds them; the ports are
    held for this test run (rm_test_ports), not picked from the ephemeral
    range, where a busy machine's outgoing connections take PORT-1 often. */
FN_UNUSED static bool fake_bind(fake_t *fk, zsock_t *door, zsock_t *main_sock)
{
    for (int tries = 0; tries < 20; tries++) {
        int port = rm_test_ports(2);
        if (port <= 0)
            continue;
        if (zsock_bind(main_sock, "tcp://127.0.0.1:%d", port) == port) {
            if (zsock_bind(door, "tcp://127.0.0.1:%d", port + 1) == port + 1) {
                fk->port = port;
                return true;
            }
            zsock_unbind(main_sock, "tcp://127.0.0.1:%d", port);
        }
    }
    return false;
}

FN_UNUSED static void fake_actor(zsock_t *pipe, void *arg)
{
    fake_t *fk = arg;
    uint8_t door_pk[32], door_sk[32];
    rm_door_keypair(fk->mesh_pk, door_pk, door_sk);
    zsock_t *door = fake_router(door_pk, door_sk);
    zsock_t *main_sock = fake_router(fk->node.curve_pk.b, fk->node.curve_sk.b);
    bool ok = fake_bind(fk, door, main_sock);
    zsock_signal(pipe, ok ? 0 : 1);
    zpoller_t *poller = zpoller_new(pipe, door, main_sock, NULL);
    while (ok) {
        void *which = zpoller_wait(poller, -1);
        if (which == door)
            fake_door(fk, door);
        else if (which == main_sock)
            fake_main(fk, main_sock);
        else
            break; /* $TERM or interrupted */
    }
    zpoller_destroy(&poller);
    zsock_destroy(&door);
    zsock_destroy(&main_sock);
}

typedef struct {
    uint8_t mesh_pk[32], mesh_sk[64];
    rm_token_t client, node, other_node, client2;
} keys_t;

FN_UNUSED static void make_keys(keys_t *k)
{
    uint8_t other_pk[32], other_sk[64];
    rm_err_t err;
    crypto_sign_keypair(k->mesh_pk, k->mesh_sk);
    crypto_sign_keypair(other_pk, other_sk);
    CHECK(rm_token_issue(k->mesh_sk, RM_ROLE_CLIENT, "ann@box", 1 * 86400, &k->client, &err) == 0);
    CHECK(rm_token_issue(k->mesh_sk, RM_ROLE_NODE, "node-a", 1 * 86400, &k->node, &err) == 0);
    CHECK(rm_token_issue(k->mesh_sk, RM_ROLE_CLIENT, "bob@box", 1 * 86400, &k->client2, &err) == 0);
    CHECK(rm_token_issue(other_sk, RM_ROLE_NODE, "intruder", 1 * 86400, &k->other_node, &err) == 0);
}

FN_UNUSED static void free_keys(keys_t *k)
{
    rm_token_free(&k->client);
    rm_token_free(&k->node);
    rm_token_free(&k->client2);
    rm_token_free(&k->other_node);
}

FN_UNUSED static zactor_t *fake_start(fake_t *fk, const keys_t *k, fake_mode_t mode,
                                      rm_store_t *store)
{
    memset(fk, 0, sizeof *fk);
    fk->mode = mode;
    fk->store = store;
    memcpy(fk->mesh_pk, k->mesh_pk, 32);
    fk->node = k->node; /* shares the key pair, not owned */
    fk->welcome_cred = mode == FAKE_CLIENT_ROLE  ? k->client2.credential
                       : mode == FAKE_OTHER_MESH ? k->other_node.credential
                                                 : k->node.credential;
    zactor_t *actor = zactor_new(fake_actor, fk);
    CHECK(actor != NULL);
    return actor;
}

FN_UNUSED static void fake_addr(const fake_t *fk, char *buf, size_t size)
{
    snprintf(buf, size, "tcp://127.0.0.1:%d", fk->port);
}

#endif
