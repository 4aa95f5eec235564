/*  rm_node over real CURVE sockets: who gets in and who gets nothing.
    The node runs in this process (its own ZAP handler); clients are plain
    DEALER sockets with keys made here. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rm_cred.h"
#include "rm_node.h"
#include "rm_test.h"

typedef struct {
    uint8_t pk[32];
    uint8_t sk[32];
} keys_t;

static zsock_t *dealer(const keys_t *me, const uint8_t server_pk[32], int port)
{
    zsock_t *s = zsock_new(ZMQ_DEALER);
    zsock_set_curve_serverkey_bin(s, server_pk);
    zsock_set_curve_publickey_bin(s, me->pk);
    zsock_set_curve_secretkey_bin(s, me->sk);
    zsock_set_linger(s, 0);
    zsock_set_rcvtimeo(s, 1000);
    zsock_connect(s, "tcp://127.0.0.1:%d", port);
    return s;
}

static void send_body(zsock_t *s, rm_msg_type_t type, const void *body)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK(rm_msg_encode(type, 7, body, &buf, &len, NULL) == 0);
    zframe_t *f = zframe_new(buf, len);
    zframe_send(&f, s, 0);
    free(buf);
}

/*  The reply's type, or 0 when nothing came within the receive timeout. */
static rm_msg_type_t recv_type(zsock_t *s, rm_msg_t *msg)
{
    memset(msg, 0, sizeof *msg);
    zframe_t *f = zframe_recv(s);
    if (!f)
        return 0;
    int rc = rm_msg_decode(zframe_data(f), zframe_size(f), msg, NULL);
    zframe_destroy(&f);
    return rc == 0 ? msg->type : 0;
}

static rm_msg_type_t hello(const keys_t *me, const rm_bin_t *credential, const uint8_t mesh_pk[32],
                           int port, rm_msg_t *reply)
{
    uint8_t door_pk[32], door_sk[32];
    rm_door_keypair(mesh_pk, door_pk, door_sk);
    zsock_t *door = dealer(me, door_pk, port + 1);
    rm_hello_t body = {.proto = RM_PROTO_VERSION, .credential = *credential};
    send_body(door, RM_MSG_HELLO, &body);
    rm_msg_type_t type = recv_type(door, reply);
    zsock_destroy(&door);
    return type;
}

static bool log_has(FILE *log, const char *text)
{
    fflush(log);
    rewind(log);
    char line[2048];
    while (fgets(line, sizeof line, log))
        if (strstr(line, text))
            return true;
    return false;
}

/*  One node for all cases, running in this process: its mesh, a client
    token of it (alice), a client of another mesh (mallory), and the log
    the node writes to. */
static char home[] = "/tmp/rm-test-node.XXXXXX";
static FILE *node_log;
static uint8_t mesh_pk[32];
static rm_token_t node_token, client_token, stranger;
static char token_path[256];
static int port;
static rm_config_t config;
static rm_node_t *node;

static keys_t keys_of(const rm_token_t *token)
{
    keys_t k;
    memcpy(k.pk, token->curve_pk.b, 32);
    memcpy(k.sk, token->curve_sk.b, 32);
    return k;
}

/*  The node's main socket key, from its WELCOME to alice. */
static void node_key(uint8_t pk[32])
{
    keys_t alice = keys_of(&client_token);
    rm_msg_t reply;
    rm_cred_t node_cred;
    rm_err_t err;
    memset(pk, 0, 32);
    CHECK(hello(&alice, &client_token.credential, mesh_pk, port, &reply) == RM_MSG_WELCOME);
    int rc = rm_cred_verify(reply.u.welcome.credential.data, reply.u.welcome.credential.len,
                            mesh_pk, (int64_t)time(NULL), &node_cred, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc == 0) {
        memcpy(pk, node_cred.curve_pk.b, 32);
        rm_codec_free(&rm_cred_desc, &node_cred);
    }
    rm_msg_free(&reply);
}

/*  A client of this mesh gets in: WELCOME with the node's credential. */
static void test_a_client_of_the_mesh_is_welcomed_with_the_node_credential(void)
{
    keys_t alice = keys_of(&client_token);
    rm_msg_t reply;
    rm_err_t err;
    CHECK(hello(&alice, &client_token.credential, mesh_pk, port, &reply) == RM_MSG_WELCOME);
    rm_cred_t node_cred;
    CHECK(rm_cred_verify(reply.u.welcome.credential.data, reply.u.welcome.credential.len, mesh_pk,
                         (int64_t)time(NULL), &node_cred, &err) == 0);
    CHECK(memcmp(node_cred.curve_pk.b, node_token.curve_pk.b, 32) == 0);
    rm_codec_free(&rm_cred_desc, &node_cred);
    rm_msg_free(&reply);
}

/*  Blender is missing: the node says so, on the main socket and in its log. */
static void test_a_welcomed_client_learns_that_blender_is_missing(void)
{
    keys_t alice = keys_of(&client_token);
    uint8_t node_pk[32];
    rm_msg_t reply;
    node_key(node_pk);
    zsock_t *main_sock = dealer(&alice, node_pk, port);
    send_body(main_sock, RM_MSG_STATUS, NULL);
    CHECK(recv_type(main_sock, &reply) == RM_MSG_STATUS_REPLY);
    CHECK(reply.u.status_reply.blender_ok == false);
    CHECK(strstr(reply.u.status_reply.blender, "not found") != NULL);
    rm_msg_free(&reply);
    zsock_destroy(&main_sock);
    CHECK(log_has(node_log, "will not render"));
}

/*  A client of another mesh: no answer, and the refusal is logged. */
static void test_a_client_of_another_mesh_gets_nothing(void)
{
    keys_t mallory = keys_of(&stranger);
    rm_msg_t reply;
    CHECK(hello(&mallory, &stranger.credential, mesh_pk, port, &reply) == 0);
    rm_msg_free(&reply);
    CHECK(log_has(node_log, "signed by another mesh"));
}

/*  A random key presenting alice's (public) credential: nothing. */
static void test_a_key_presenting_another_client_credential_gets_nothing(void)
{
    keys_t random_keys;
    rm_msg_t reply;
    crypto_box_keypair(random_keys.pk, random_keys.sk);
    CHECK(hello(&random_keys, &client_token.credential, mesh_pk, port, &reply) == 0);
    rm_msg_free(&reply);
    CHECK(log_has(node_log, "belongs to another CURVE key"));
}

/*  A random key straight to the main socket: ZAP refuses it. */
static void test_the_main_socket_refuses_a_key_without_a_credential(void)
{
    keys_t random_keys;
    uint8_t node_pk[32];
    rm_msg_t reply;
    crypto_box_keypair(random_keys.pk, random_keys.sk);
    node_key(node_pk);
    zsock_t *rogue = dealer(&random_keys, node_pk, port);
    send_body(rogue, RM_MSG_STATUS, NULL);
    CHECK(recv_type(rogue, &reply) == 0);
    rm_msg_free(&reply);
    zsock_destroy(&rogue);
    CHECK(log_has(node_log, "presented no valid credential"));
}

/*  Garbage in a HELLO: nothing, the node lives on. */
static void test_garbage_in_a_hello_gets_nothing_and_the_node_lives_on(void)
{
    keys_t random_keys, alice = keys_of(&client_token);
    rm_msg_t reply;
    crypto_box_keypair(random_keys.pk, random_keys.sk);
    rm_bin_t junk = {.data = (uint8_t *)"\xdd\x07\xff\xff\xff", .len = 5};
    CHECK(hello(&random_keys, &junk, mesh_pk, port, &reply) == 0);
    rm_msg_free(&reply);
    CHECK(hello(&alice, &client_token.credential, mesh_pk, port, &reply) == RM_MSG_WELCOME);
    rm_msg_free(&reply);
}

/*  With the node gone, a node on the same ports whose token is readable
    by others does not start (the last case: it stops the node). */
static void test_a_node_whose_token_others_can_read_does_not_start(void)
{
    rm_err_t err;
    rm_node_destroy(&node);
    chmod(token_path, 0644);
    node = rm_node_new(&config, &err);
    CHECK(node == NULL && err.code == RM_EAUTH && strstr(err.msg, "chmod 600"));
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(mkdtemp(home) != NULL);
    zsys_init();
    node_log = tmpfile();
    zsys_set_logstream(node_log);
    rm_err_t err;

    /* Our mesh: a node token and a client token. */
    uint8_t mesh_sk[64];
    crypto_sign_keypair(mesh_pk, mesh_sk);
    CHECK(rm_token_issue(mesh_sk, RM_ROLE_NODE, "n1", 1 * 86400, &node_token, &err) == 0);
    CHECK(rm_token_issue(mesh_sk, RM_ROLE_CLIENT, "alice", 1 * 86400, &client_token, &err) == 0);
    snprintf(token_path, sizeof token_path, "%s/node.token", home);
    CHECK(rm_token_save(token_path, &node_token, &err) == 0);

    /* Another mesh, whose client must get nothing here. */
    uint8_t other_pk[32], other_sk[64];
    crypto_sign_keypair(other_pk, other_sk);
    CHECK(rm_token_issue(other_sk, RM_ROLE_CLIENT, "mallory", 1 * 86400, &stranger, &err) == 0);

    port = rm_test_ports(2); /* main, door */
    CHECK(port != 0);
    rm_config_init(&config);
    snprintf(config.home, sizeof config.home, "%s/home", home);
    snprintf(config.token, sizeof config.token, "%s", token_path);
    snprintf(config.listen, sizeof config.listen, "tcp://127.0.0.1:%d", port);
    snprintf(config.blender, sizeof config.blender, "/nonexistent/blender");
    node = rm_node_new(&config, &err);
    CHECK_MSG(node, "%s", err.msg);
    if (!node)
        RM_TEST_DONE();

    RM_RUN(test_a_client_of_the_mesh_is_welcomed_with_the_node_credential);
    RM_RUN(test_a_welcomed_client_learns_that_blender_is_missing);
    RM_RUN(test_a_client_of_another_mesh_gets_nothing);
    RM_RUN(test_a_key_presenting_another_client_credential_gets_nothing);
    RM_RUN(test_the_main_socket_refuses_a_key_without_a_credential);
    RM_RUN(test_garbage_in_a_hello_gets_nothing_and_the_node_lives_on);
    RM_RUN(test_a_node_whose_token_others_can_read_does_not_start);

    rm_node_destroy(&node);
    rm_token_free(&node_token);
    rm_token_free(&client_token);
    rm_token_free(&stranger);
    zsys_set_logstream(stderr);
    fclose(node_log);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", home);
    CHECK(system(cmd) == 0);
    RM_TEST_DONE();
}
