/*  rm_peers against a real node in this process: the door handshake, then
    requests over the main link; an unreachable peer backs off; a link
    whose peer is revoked (the check refuses it) or whose credential
    expires closes. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_node.h"
#include "rm_peers.h"
#include "rm_test.h"

typedef struct {
    int replies;
    char name[64];
} seen_t;

static void on_message(void *arg, const char *addr, const rm_cred_t *peer, const uint8_t *data,
                       size_t len)
{
    seen_t *seen = arg;
    rm_msg_t msg;
    (void)addr;
    if (rm_msg_decode(data, len, &msg, NULL) == 0 && msg.type == RM_MSG_STATUS_REPLY)
        seen->replies++;
    snprintf(seen->name, sizeof seen->name, "%s", peer->name);
    rm_msg_free(&msg);
}

static bool refuse_n1(void *arg, const rm_cred_t *peer, int64_t now, char *why, size_t size)
{
    (void)arg, (void)now;
    snprintf(why, size, "'%s' is revoked (test)", peer->name);
    return strcmp(peer->name, "n1") != 0;
}

static void pump(rm_peers_t *peers, zpoller_t *poller, seen_t *seen, int want, int ms)
{
    int64_t end = zclock_mono() + ms;
    while (seen->replies < want && zclock_mono() < end) {
        void *which = zpoller_wait(poller, 50);
        if (which)
            rm_peers_handle(peers, which, on_message, seen);
        rm_peers_tick(peers, zclock_mono());
    }
}

int main(void)
{
    char home[] = "/tmp/rm-test-peers.XXXXXX";
    CHECK(mkdtemp(home) != NULL);
    zsys_init();
    rm_err_t err;
    uint8_t mesh_pk[32], mesh_sk[64];
    crypto_sign_keypair(mesh_pk, mesh_sk);
    rm_token_t n1, n2;
    CHECK(rm_token_issue(mesh_sk, RM_ROLE_NODE, "n1", 1 * 86400, &n1, &err) == 0);
    CHECK(rm_token_issue(mesh_sk, RM_ROLE_NODE, "n2", 1 * 86400, &n2, &err) == 0);
    char token_path[256];
    snprintf(token_path, sizeof token_path, "%s/n1.token", home);
    CHECK(rm_token_save(token_path, &n1, &err) == 0);

    /* n1's main and door, one nobody listens on, n3's main and door */
    int port = rm_test_ports(5);
    CHECK(port != 0);
    rm_config_t config;
    rm_config_init(&config);
    snprintf(config.home, sizeof config.home, "%s/n1", home);
    snprintf(config.token, sizeof config.token, "%s", token_path);
    snprintf(config.listen, sizeof config.listen, "tcp://127.0.0.1:%d", port);
    snprintf(config.blender, sizeof config.blender, "/nonexistent/blender");
    rm_node_t *node = rm_node_new(&config, &err);
    CHECK_MSG(node, "%s", err.msg);

    zpoller_t *poller = zpoller_new(NULL);
    rm_peers_t *peers = rm_peers_new(&n2, poller, &err);
    CHECK(peers != NULL);
    char addr[64];
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", port);
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK(rm_msg_encode(RM_MSG_STATUS, 1, NULL, &buf, &len, &err) == 0);
    /* Sent before any link exists: queued, delivered after WELCOME. */
    CHECK(rm_peers_send(peers, addr, buf, len, &err) == 0);
    CHECK(rm_peers_send(peers, addr, buf, len, &err) == 0);
    seen_t seen = {0};
    pump(peers, poller, &seen, 2, 5000);
    CHECK_MSG(seen.replies == 2, "%d replies", seen.replies);
    CHECK(strcmp(seen.name, "n1") == 0);
    CHECK(rm_peers_name(peers, addr) && strcmp(rm_peers_name(peers, addr), "n1") == 0);

    /* The node restarts: it remembers n2 (saved roster), the link carries on. */
    rm_node_destroy(&node);
    config.token[0] = '\0';
    /* ZeroMQ closes the old listener in its I/O thread, after destroy
       returns: the port may still be taken for a moment. */
    for (int try = 0; try < 50 && !(node = rm_node_new(&config, &err)); try++)
        zclock_sleep(100);
    CHECK_MSG(node, "%s", err.msg);
    /* A message written while the old connection is dying is lost (ZeroMQ
       gives no delivery guarantee across a peer restart), so, like every
       caller, this one repeats its request until it is answered. */
    for (int try = 0; try < 10 && seen.replies < 3; try++) {
        CHECK(rm_peers_send(peers, addr, buf, len, &err) == 0);
        pump(peers, poller, &seen, 3, 500);
    }
    CHECK_MSG(seen.replies >= 3, "%d replies after restart", seen.replies);
    pump(peers, poller, &seen, 1000, 300); /* answers to repeated requests */
    int answered = seen.replies;

    /* Revoked: the link closes at once and stays closed. */
    rm_peers_set_check(peers, refuse_n1, NULL);
    rm_peers_recheck(peers);
    CHECK(rm_peers_name(peers, addr) == NULL);
    CHECK(rm_peers_send(peers, addr, buf, len, &err) == 0);
    pump(peers, poller, &seen, answered + 1, 1000);
    CHECK_MSG(seen.replies == answered, "%d replies from a revoked peer", seen.replies - answered);
    rm_peers_set_check(peers, NULL, NULL);

    /* Nobody at this address: the handshake times out, nothing is received. */
    char dead[64];
    snprintf(dead, sizeof dead, "tcp://127.0.0.1:%d", port + 2);
    CHECK(rm_peers_send(peers, dead, buf, len, &err) == 0);
    CHECK(rm_peers_send(peers, "udp://nope", buf, len, &err) == -1 && err.code == RM_EINVAL);
    pump(peers, poller, &seen, answered + 1, RM_PEERS_HANDSHAKE_MS + 500);
    CHECK(seen.replies == answered && rm_peers_name(peers, dead) == NULL);
    rm_peers_close(peers, dead);
    CHECK(rm_peers_count(peers) == 1);

    /* n3 (n1's successor in this process) has a credential that lives
       3 s: its link works, then closes at the first message after it
       expired. */
    rm_token_t n3;
    CHECK(rm_token_issue(mesh_sk, RM_ROLE_NODE, "n3", 3, &n3, &err) == 0);
    char n3_path[256], n3_addr[64];
    snprintf(n3_path, sizeof n3_path, "%s/n3.token", home);
    CHECK(rm_token_save(n3_path, &n3, &err) == 0);
    rm_config_t config3 = config;
    snprintf(config3.home, sizeof config3.home, "%s/n3", home);
    snprintf(config3.token, sizeof config3.token, "%s", n3_path);
    snprintf(config3.listen, sizeof config3.listen, "tcp://127.0.0.1:%d", port + 3);
    snprintf(n3_addr, sizeof n3_addr, "tcp://127.0.0.1:%d", port + 3);
    rm_node_destroy(&node); /* one node per process: it owns the ZAP endpoint */
    rm_node_t *node3 = NULL;
    for (int try = 0; try < 50 && !(node3 = rm_node_new(&config3, &err)); try++)
        zclock_sleep(100);
    CHECK_MSG(node3, "%s", err.msg);
    CHECK(rm_peers_send(peers, n3_addr, buf, len, &err) == 0);
    pump(peers, poller, &seen, answered + 1, 2000);
    CHECK_MSG(seen.replies == answered + 1 && strcmp(seen.name, "n3") == 0, "n3: %d replies",
              seen.replies - answered);
    zclock_sleep(3500);
    CHECK(rm_peers_send(peers, n3_addr, buf, len, &err) == 0);
    pump(peers, poller, &seen, answered + 2, 1000);
    CHECK_MSG(seen.replies == answered + 1, "%d replies after n3 expired",
              seen.replies - answered - 1);
    CHECK(rm_peers_name(peers, n3_addr) == NULL);
    rm_peers_close(peers, n3_addr);
    rm_node_destroy(&node3);
    rm_token_free(&n3);

    free(buf);
    rm_peers_destroy(&peers);
    zpoller_destroy(&poller);
    rm_node_destroy(&node);
    rm_token_free(&n1);
    rm_token_free(&n2);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", home);
    CHECK(system(cmd) == 0);
    RM_TEST_DONE();
}
