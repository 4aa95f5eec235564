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

static void pump(rm_peers_t *peers, rm_loop_t *loop, seen_t *seen, int want, int ms)
{
    int64_t end = zclock_mono() + ms;
    while (seen->replies < want && zclock_mono() < end) {
        rm_loop_run_once(loop, 50);
        rm_peers_tick(peers, zclock_mono());
    }
}

/*  One mesh for all cases: its key, n1's token (saved), n2's (the peers'
    own), and the ports: n1's main and door, one nobody listens on, n3's
    main and door. */
static char home[] = "/tmp/rm-test-peers.XXXXXX";
static uint8_t mesh_pk[32], mesh_sk[64];
static rm_token_t n1, n2;
static char token_path[256];
static int port;

/*  n2's peers, talking to n1 (running when asked for) at addr. */
typedef struct {
    rm_config_t config;
    rm_node_t *node;
    rm_loop_t *loop;
    rm_peers_t *peers;
    char addr[64];
    uint8_t *buf; /* a STATUS request */
    size_t len;
    seen_t seen;
} link_t;

static void node_config(rm_config_t *config, const char *name, const char *token, int at)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/%s", home, rm_test_case);
    mkdir(dir, 0700);
    rm_config_init(config);
    snprintf(config->home, sizeof config->home, "%s/%s", dir, name);
    snprintf(config->token, sizeof config->token, "%s", token);
    snprintf(config->listen, sizeof config->listen, "tcp://127.0.0.1:%d", at);
    snprintf(config->blender, sizeof config->blender, "/nonexistent/blender");
}

/*  ZeroMQ closes an old listener in its I/O thread, after destroy
    returns: the port may still be taken for a moment. */
static rm_node_t *start_node(const rm_config_t *config)
{
    rm_err_t err;
    rm_node_t *node = NULL;
    for (int try = 0; try < 50 && !(node = rm_node_new(config, &err)); try++)
        zclock_sleep(100);
    CHECK_MSG(node, "%s", err.msg);
    return node;
}

/*  With `with_n1`, n1 runs (started first, as a mesh's first node). */
static void open_link(link_t *l, bool with_n1)
{
    rm_err_t err;
    memset(l, 0, sizeof *l);
    node_config(&l->config, "n1", token_path, port);
    snprintf(l->addr, sizeof l->addr, "tcp://127.0.0.1:%d", port);
    if (with_n1)
        l->node = start_node(&l->config);
    l->loop = rm_loop_new();
    l->peers = rm_peers_new(&n2, l->loop, on_message, &l->seen, &err);
    CHECK(l->peers != NULL);
    CHECK(rm_msg_encode(RM_MSG_STATUS, 1, NULL, &l->buf, &l->len, &err) == 0);
}

/*  The link to n1 is up: one request answered. */
static void link_up(link_t *l)
{
    rm_err_t err;
    CHECK(rm_peers_send(l->peers, l->addr, l->buf, l->len, &err) == 0);
    pump(l->peers, l->loop, &l->seen, 1, 5000);
    CHECK_MSG(l->seen.replies == 1, "%d replies", l->seen.replies);
}

static void close_link(link_t *l)
{
    free(l->buf);
    rm_peers_destroy(&l->peers);
    rm_loop_destroy(&l->loop);
    rm_node_destroy(&l->node);
}

/*  Sent before any link exists: queued, delivered after WELCOME. */
static void test_requests_sent_before_the_handshake_are_delivered_after_it(void)
{
    link_t l;
    rm_err_t err;
    open_link(&l, true);
    CHECK(rm_peers_send(l.peers, l.addr, l.buf, l.len, &err) == 0);
    CHECK(rm_peers_send(l.peers, l.addr, l.buf, l.len, &err) == 0);
    pump(l.peers, l.loop, &l.seen, 2, 5000);
    CHECK_MSG(l.seen.replies == 2, "%d replies", l.seen.replies);
    CHECK(strcmp(l.seen.name, "n1") == 0);
    CHECK(rm_peers_name(l.peers, l.addr) && strcmp(rm_peers_name(l.peers, l.addr), "n1") == 0);
    close_link(&l);
}

/*  The node restarts: it remembers n2 (saved roster), the link carries on. */
static void test_a_link_carries_on_when_the_peer_restarts(void)
{
    link_t l;
    rm_err_t err;
    open_link(&l, true);
    link_up(&l);
    int before = l.seen.replies;
    rm_node_destroy(&l.node);
    l.config.token[0] = '\0';
    l.node = start_node(&l.config);
    /* A message written while the old connection is dying is lost (ZeroMQ
       gives no delivery guarantee across a peer restart), so, like every
       caller, this one repeats its request until it is answered. */
    for (int try = 0; try < 10 && l.seen.replies < before + 1; try++) {
        CHECK(rm_peers_send(l.peers, l.addr, l.buf, l.len, &err) == 0);
        pump(l.peers, l.loop, &l.seen, before + 1, 500);
    }
    CHECK_MSG(l.seen.replies >= before + 1, "%d replies after restart", l.seen.replies);
    close_link(&l);
}

/*  Revoked: the link closes at once and stays closed. */
static void test_a_revoked_peer_link_closes_at_once_and_stays_closed(void)
{
    link_t l;
    rm_err_t err;
    open_link(&l, true);
    link_up(&l);
    int answered = l.seen.replies;
    rm_peers_set_check(l.peers, refuse_n1, NULL);
    rm_peers_recheck(l.peers);
    CHECK(rm_peers_name(l.peers, l.addr) == NULL);
    CHECK(rm_peers_send(l.peers, l.addr, l.buf, l.len, &err) == 0);
    pump(l.peers, l.loop, &l.seen, answered + 1, 1000);
    CHECK_MSG(l.seen.replies == answered, "%d replies from a revoked peer",
              l.seen.replies - answered);
    rm_peers_set_check(l.peers, NULL, NULL);
    close_link(&l);
}

/*  Nobody at this address: the handshake times out, nothing is received. */
static void test_an_unreachable_peer_times_out_and_gives_nothing(void)
{
    link_t l;
    rm_err_t err;
    open_link(&l, true);
    link_up(&l);
    int answered = l.seen.replies;
    char dead[64];
    snprintf(dead, sizeof dead, "tcp://127.0.0.1:%d", port + 2);
    CHECK(rm_peers_send(l.peers, dead, l.buf, l.len, &err) == 0);
    pump(l.peers, l.loop, &l.seen, answered + 1, RM_PEERS_HANDSHAKE_MS + 500);
    CHECK(l.seen.replies == answered && rm_peers_name(l.peers, dead) == NULL);
    rm_peers_close(l.peers, dead);
    CHECK(rm_peers_count(l.peers) == 1);
    close_link(&l);
}

static void test_refuses_an_address_that_is_not_tcp(void)
{
    link_t l;
    rm_err_t err;
    open_link(&l, false);
    CHECK(rm_peers_send(l.peers, "udp://nope", l.buf, l.len, &err) == -1 && err.code == RM_EINVAL);
    close_link(&l);
}

/*  n3 has a credential that lives 3 s: its link works, then closes at the
    first message after it expired. */
static void test_a_link_closes_once_the_peer_credential_expired(void)
{
    link_t l;
    rm_err_t err;
    open_link(&l, false); /* one node per process (it owns the ZAP endpoint): n3 alone */
    rm_token_t n3;
    CHECK(rm_token_issue(mesh_sk, RM_ROLE_NODE, "n3", 3, &n3, &err) == 0);
    char n3_path[256], n3_addr[64];
    snprintf(n3_path, sizeof n3_path, "%s/n3.token", home);
    CHECK(rm_token_save(n3_path, &n3, &err) == 0);
    rm_config_t config3;
    node_config(&config3, "n3", n3_path, port + 3);
    snprintf(n3_addr, sizeof n3_addr, "tcp://127.0.0.1:%d", port + 3);
    rm_node_t *node3 = start_node(&config3);
    int answered = l.seen.replies;
    CHECK(rm_peers_send(l.peers, n3_addr, l.buf, l.len, &err) == 0);
    pump(l.peers, l.loop, &l.seen, answered + 1, 2000);
    CHECK_MSG(l.seen.replies == answered + 1 && strcmp(l.seen.name, "n3") == 0, "n3: %d replies",
              l.seen.replies - answered);
    zclock_sleep(3500);
    CHECK(rm_peers_send(l.peers, n3_addr, l.buf, l.len, &err) == 0);
    pump(l.peers, l.loop, &l.seen, answered + 2, 1000);
    CHECK_MSG(l.seen.replies == answered + 1, "%d replies after n3 expired",
              l.seen.replies - answered - 1);
    CHECK(rm_peers_name(l.peers, n3_addr) == NULL);
    rm_peers_close(l.peers, n3_addr);
    rm_node_destroy(&node3);
    rm_token_free(&n3);
    close_link(&l);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(mkdtemp(home) != NULL);
    zsys_init();
    rm_err_t err;
    crypto_sign_keypair(mesh_pk, mesh_sk);
    CHECK(rm_token_issue(mesh_sk, RM_ROLE_NODE, "n1", 1 * 86400, &n1, &err) == 0);
    CHECK(rm_token_issue(mesh_sk, RM_ROLE_NODE, "n2", 1 * 86400, &n2, &err) == 0);
    snprintf(token_path, sizeof token_path, "%s/n1.token", home);
    CHECK(rm_token_save(token_path, &n1, &err) == 0);
    port = rm_test_ports(5);
    CHECK(port != 0);

    RM_RUN(test_requests_sent_before_the_handshake_are_delivered_after_it);
    RM_RUN(test_a_link_carries_on_when_the_peer_restarts);
    RM_RUN(test_a_revoked_peer_link_closes_at_once_and_stays_closed);
    RM_RUN(test_an_unreachable_peer_times_out_and_gives_nothing);
    RM_RUN(test_refuses_an_address_that_is_not_tcp);
    RM_RUN(test_a_link_closes_once_the_peer_credential_expired);

    rm_token_free(&n1);
    rm_token_free(&n2);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", home);
    CHECK(system(cmd) == 0);
    RM_TEST_DONE();
}
