/*  rm_member over real sockets: a member in this test (a no-inbound node,
    "n2", that only connects out) joins a real node ("n1", an rm_node in
    this process); each must see the other alive, the node must learn this
    member's gossiped metadata, and a graceful leave must reach it.  The
    node's view is read with a NODES request sent through rm_member_send;
    its answer comes back on the member's own link (rm_member_on_message). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_member.h"
#include "rm_node.h"
#include "rm_test.h"

static char home[] = "/tmp/rm-test-member.XXXXXX";
static char node_addr[64];
static rm_member_t *member;
static rm_loop_t *loop;

/*  What the node said in its last NODES_REPLY about "n2" (got_reply counts
    replies). */
static struct {
    int got_reply;
    bool listed;
    char state[32];
    uint64_t slots;
    char blender[64];
} seen;

static void on_message(void *arg, const char *from, const rm_cred_t *who, const rm_msg_t *msg)
{
    (void)arg;
    (void)from;
    CHECK(strcmp(who->name, "n1") == 0);
    if (msg->type != RM_MSG_NODES_REPLY)
        return;
    seen.got_reply++;
    seen.listed = false;
    const rm_nodes_reply_t *r = &msg->u.nodes_reply;
    for (uint32_t i = 0; i < r->nodes.count; i++) {
        const rm_node_info_t *n = &r->nodes.items[i];
        if (strcmp(n->name, "n2") != 0)
            continue;
        seen.listed = true;
        snprintf(seen.state, sizeof seen.state, "%s", n->state);
        seen.slots = n->slots;
        snprintf(seen.blender, sizeof seen.blender, "%s", n->blender ? n->blender : "");
    }
}

/*  Runs the member's loop (its links and timers) for up to `ms`, or until
    done() holds. */
static bool pump_until(bool (*done)(void), int ms)
{
    int64_t end = zclock_mono() + ms;
    while (!done() && zclock_mono() < end) {
        int64_t wait = rm_member_wakeup(member);
        rm_loop_run_once(loop, wait < 0 || wait > 50 ? 50 : wait);
        rm_member_tick(member);
    }
    return done();
}

static bool sees_node_alive(void)
{
    const char *state = rm_member_state_of(member, "n1");
    return state && strcmp(state, "alive") == 0;
}

static int want_replies;
static bool reply_came(void)
{
    return seen.got_reply >= want_replies;
}

/*  Asks the node for its member list; true once it answered. */
static bool ask_nodes(void)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err = {0};
    CHECK(rm_msg_encode(RM_MSG_NODES, 1, NULL, &buf, &len, &err) == 0);
    CHECK_MSG(rm_member_send(member, node_addr, buf, len, &err) == 0, "%s", err.msg);
    free(buf);
    want_replies = seen.got_reply + 1;
    return pump_until(reply_came, 5000);
}

/*  Asks until the node's view of n2 satisfies `ok`, for up to `ms`. */
static bool node_view_until(bool (*ok)(void), int ms)
{
    int64_t end = zclock_mono() + ms;
    while (zclock_mono() < end) {
        if (ask_nodes() && ok())
            return true;
        usleep(100 * 1000); /* between polls of the node's view, not a wait for it */
    }
    return false;
}

static bool node_sees_member_alive(void)
{
    return seen.listed && strcmp(seen.state, "alive") == 0;
}

static void test_member_and_node_see_each_other_alive(void)
{
    rm_err_t err = {0};
    CHECK_MSG(rm_member_join(member, node_addr, &err) == 0, "%s", err.msg);
    CHECK_MSG(pump_until(sees_node_alive, 10000), "n1 is %s",
              rm_member_state_of(member, "n1") ? rm_member_state_of(member, "n1") : "unknown");
    CHECK(rm_member_alive(member) >= 1);
    /* The node is reachable at its advertised address, and listed with it. */
    const char *addr = rm_member_addr_of(member, "n1");
    CHECK_MSG(addr && strcmp(addr, node_addr) == 0, "n1 at %s", addr ? addr : "(none)");
    size_t count = 0;
    const rm_member_peer_t *peers = rm_member_peers(member, &count);
    bool found = false;
    for (size_t i = 0; i < count; i++)
        if (strcmp(peers[i].name, "n1") == 0)
            found = peers[i].alive;
    CHECK(found);
    /* And the node, in turn, lists this member alive. */
    CHECK_MSG(node_view_until(node_sees_member_alive, 10000), "node lists n2: %s, state '%s'",
              seen.listed ? "yes" : "no", seen.state);
}

/*  The node gossips its metadata: its Blender is missing, and it says so. */
static bool node_meta_known(void)
{
    size_t count = 0;
    const rm_member_peer_t *peers = rm_member_peers(member, &count);
    for (size_t i = 0; i < count; i++)
        if (strcmp(peers[i].name, "n1") == 0 && peers[i].has_meta)
            return true;
    return false;
}

static void test_member_learns_the_nodes_metadata(void)
{
    CHECK(pump_until(node_meta_known, 10000));
    size_t count = 0;
    const rm_member_peer_t *peers = rm_member_peers(member, &count);
    for (size_t i = 0; i < count; i++)
        if (strcmp(peers[i].name, "n1") == 0 && peers[i].has_meta) {
            CHECK(peers[i].meta->blender_ok == false);
            CHECK(peers[i].meta->role && strcmp(peers[i].meta->role, "node") == 0);
        }
}

static bool node_has_member_meta(void)
{
    return seen.listed && seen.slots == 3 && strcmp(seen.blender, "test-blender") == 0;
}

/*  What this member gossips about itself (slots, its Blender) reaches the
    node: that is what the scheduler plans with. */
static void test_node_learns_the_members_metadata(void)
{
    rm_member_meta_t meta = {0};
    meta.role = "node";
    meta.slots = 3;
    meta.blender_ok = true;
    meta.blender = "test-blender";
    meta.rendering = "";
    meta.caps = "";
    rm_member_set_meta(member, &meta);
    CHECK_MSG(node_view_until(node_has_member_meta, 10000), "node: slots %llu, blender '%s'",
              (unsigned long long)seen.slots, seen.blender);
}

static bool member_left(void)
{
    return rm_member_left(member);
}

static bool node_sees_member_gone(void)
{
    return !seen.listed || strcmp(seen.state, "alive") != 0;
}

/*  A graceful leave reaches the node: it stops counting this member alive
    (and so stops giving it work) without waiting for a failure timeout. */
static void test_leave_reaches_the_node(void)
{
    rm_member_leave(member);
    CHECK(pump_until(member_left, 10000));
    /* The link stays open: ask the node what it thinks now. */
    CHECK_MSG(node_view_until(node_sees_member_gone, 3000), "node still lists n2 as %s",
              seen.state);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(sodium_init() >= 0);
    CHECK(mkdtemp(home) != NULL);
    zsys_init();
    FILE *log = tmpfile();
    zsys_set_logstream(log);
    rm_err_t err = {0};
    uint8_t mesh_pk[32], mesh_sk[64];
    crypto_sign_keypair(mesh_pk, mesh_sk);
    rm_token_t n1, n2;
    CHECK(rm_token_issue(mesh_sk, RM_ROLE_NODE, "n1", 1 * 86400, &n1, &err) == 0);
    CHECK(rm_token_issue(mesh_sk, RM_ROLE_NODE, "n2", 1 * 86400, &n2, &err) == 0);
    char token_path[300];
    snprintf(token_path, sizeof token_path, "%s/n1.token", home);
    CHECK(rm_token_save(token_path, &n1, &err) == 0);

    int port = rm_test_ports(2); /* the node's main and door */
    CHECK(port != 0);
    rm_config_t config;
    rm_config_init(&config);
    snprintf(config.home, sizeof config.home, "%s/n1", home);
    snprintf(config.token, sizeof config.token, "%s", token_path);
    snprintf(config.listen, sizeof config.listen, "tcp://127.0.0.1:%d", port);
    snprintf(config.blender, sizeof config.blender, "/nonexistent/blender");
    snprintf(node_addr, sizeof node_addr, "tcp://127.0.0.1:%d", port);
    rm_node_t *node = rm_node_new(&config, &err);
    CHECK_MSG(node, "%s", err.msg);
    if (!node)
        RM_TEST_DONE();

    rm_config_t mine;
    rm_config_init(&mine);
    mine.no_inbound = true;
    loop = rm_loop_new();
    member = rm_member_new(&mine, &n2, "n2", "nat:n2", NULL, loop,
                           &err); /* as rm_node names a no-inbound node */
    CHECK_MSG(member, "%s", err.msg);
    if (!member)
        RM_TEST_DONE();
    rm_member_on_message(member, on_message, NULL);

    /* The cases follow one member's life: join, gossip, leave. */
    RM_RUN(test_member_and_node_see_each_other_alive);
    RM_RUN(test_member_learns_the_nodes_metadata);
    RM_RUN(test_node_learns_the_members_metadata);
    RM_RUN(test_leave_reaches_the_node);

    rm_member_destroy(&member);
    rm_loop_destroy(&loop);
    rm_node_destroy(&node);
    rm_token_free(&n1);
    rm_token_free(&n2);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", home);
    CHECK(system(cmd) == 0);
    fclose(log);
    RM_TEST_DONE();
}
