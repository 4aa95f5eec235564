#include "rm_door.h"

#include <sodium.h>

#include "rm_test.h"

typedef struct {
    uint8_t mesh_pk[32], mesh_sk[64];
    rm_token_t node, client;
} mesh_t;

static void mesh_new(mesh_t *m)
{
    CHECK(sodium_init() >= 0);
    crypto_sign_keypair(m->mesh_pk, m->mesh_sk);
    rm_err_t err;
    CHECK(rm_token_issue(m->mesh_sk, RM_ROLE_NODE, "node-a", 30 * 86400, &m->node, &err) == 0);
    CHECK(rm_token_issue(m->mesh_sk, RM_ROLE_CLIENT, "alice", 30 * 86400, &m->client, &err) == 0);
}

static void mesh_free(mesh_t *m)
{
    rm_token_free(&m->node);
    rm_token_free(&m->client);
}

static int64_t now(void)
{
    return (int64_t)time(NULL);
}

static void test_hello_of_a_member_is_admitted(void)
{
    mesh_t m;
    mesh_new(&m);
    rm_hello_t hello = rm_door_hello(&m.client);
    rm_cred_t cred;
    rm_err_t err;
    CHECK(hello.proto == RM_PROTO_VERSION);
    CHECK(rm_door_hello_verify(&hello, m.mesh_pk, m.client.curve_pk.b, now(), "x", &cred, &err) ==
          0);
    CHECK(strcmp(cred.name, "alice") == 0 && strcmp(cred.role, RM_ROLE_CLIENT) == 0);
    rm_codec_free(&rm_cred_desc, &cred);
    mesh_free(&m);
}

static void test_hello_of_another_version_names_both(void)
{
    mesh_t m;
    mesh_new(&m);
    rm_hello_t hello = rm_door_hello(&m.client);
    hello.proto = RM_PROTO_VERSION + 1;
    rm_cred_t cred;
    rm_err_t err;
    CHECK(rm_door_hello_verify(&hello, m.mesh_pk, m.client.curve_pk.b, now(), "10.0.0.7", &cred,
                               &err) == -1);
    char want[128];
    snprintf(want, sizeof want, "10.0.0.7 speaks protocol version %d, we speak version %d",
             RM_PROTO_VERSION + 1, RM_PROTO_VERSION);
    CHECK_MSG(err.code == RM_EPROTO && strcmp(err.msg, want) == 0, "%s", err.msg);
    CHECK(cred.name == NULL);
    mesh_free(&m);
}

static void test_hello_for_another_key_is_refused(void)
{
    mesh_t m;
    mesh_new(&m);
    rm_hello_t hello = rm_door_hello(&m.client);
    rm_cred_t cred;
    rm_err_t err;
    CHECK(rm_door_hello_verify(&hello, m.mesh_pk, m.node.curve_pk.b, now(), "x", &cred, &err) ==
          -1);
    CHECK(err.code == RM_EAUTH && strstr(err.msg, "belongs to another CURVE key"));
    CHECK(cred.name == NULL);
    mesh_free(&m);
}

static void test_hello_of_another_mesh_or_expired_is_refused(void)
{
    mesh_t m, other;
    mesh_new(&m);
    mesh_new(&other);
    rm_hello_t hello = rm_door_hello(&other.client);
    rm_cred_t cred;
    rm_err_t err;
    CHECK(rm_door_hello_verify(&hello, m.mesh_pk, other.client.curve_pk.b, now(), "x", &cred,
                               &err) == -1);
    CHECK(err.code == RM_EAUTH && strstr(err.msg, "another mesh"));
    hello = rm_door_hello(&m.client);
    CHECK(rm_door_hello_verify(&hello, m.mesh_pk, m.client.curve_pk.b, now() + 31 * 86400, "x",
                               &cred, &err) == -1);
    CHECK_MSG(err.code == RM_EAUTH && strstr(err.msg, "expired"), "%s", err.msg);
    mesh_free(&m);
    mesh_free(&other);
}

static void test_welcome_of_a_node_is_accepted(void)
{
    mesh_t m;
    mesh_new(&m);
    rm_welcome_t w = rm_door_welcome(&m.node, "node-a");
    rm_cred_t cred;
    rm_err_t err;
    CHECK(w.proto == RM_PROTO_VERSION && strcmp(w.node, "node-a") == 0);
    CHECK(rm_door_welcome_verify(&w, m.mesh_pk, now(), "the node at tcp://h:1", &cred, &err) == 0);
    CHECK(memcmp(cred.curve_pk.b, m.node.curve_pk.b, 32) == 0);
    rm_codec_free(&rm_cred_desc, &cred);
    mesh_free(&m);
}

static void test_welcome_of_a_client_or_another_version_is_refused(void)
{
    mesh_t m, other;
    mesh_new(&m);
    mesh_new(&other);
    rm_cred_t cred;
    rm_err_t err;
    rm_welcome_t w = rm_door_welcome(&m.client, "alice");
    CHECK(rm_door_welcome_verify(&w, m.mesh_pk, now(), "the node at tcp://h:1", &cred, &err) == -1);
    CHECK_MSG(err.code == RM_EAUTH &&
                  strcmp(err.msg, "the node at tcp://h:1 is not a node: its credential ('alice') "
                                  "has role 'client'") == 0,
              "%s", err.msg);
    w = rm_door_welcome(&other.node, "node-b");
    CHECK(rm_door_welcome_verify(&w, m.mesh_pk, now(), "N", &cred, &err) == -1);
    CHECK(err.code == RM_EAUTH && strstr(err.msg, "N is not a node of this mesh: "));
    w = rm_door_welcome(&m.node, "node-a");
    w.proto = 0;
    CHECK(rm_door_welcome_verify(&w, m.mesh_pk, now(), "N", &cred, &err) == -1);
    CHECK(err.code == RM_EPROTO && strstr(err.msg, "protocol version 0, we speak version"));
    mesh_free(&m);
    mesh_free(&other);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_hello_of_a_member_is_admitted);
    RM_RUN(test_hello_of_another_version_names_both);
    RM_RUN(test_hello_for_another_key_is_refused);
    RM_RUN(test_hello_of_another_mesh_or_expired_is_refused);
    RM_RUN(test_welcome_of_a_node_is_accepted);
    RM_RUN(test_welcome_of_a_client_or_another_version_is_refused);
    RM_TEST_DONE();
}
