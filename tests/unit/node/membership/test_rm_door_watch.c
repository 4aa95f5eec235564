/*  rm_door_watch: failed CURVE handshakes on watched sockets come out of the
    actor as one line each, with the peer's address; good handshakes give
    nothing.  Real sockets on loopback; no ZAP handler here (libzmq then
    admits any key that completes the handshake). */
#include <sodium.h>

#include "rm_door_watch.h"
#include "rm_test.h"

typedef struct {
    uint8_t pk[32], sk[32];
} keys_t;

static zsock_t *server(const keys_t *k, int *port)
{
    zsock_t *s = zsock_new(ZMQ_ROUTER);
    zsock_set_curve_server(s, 1);
    zsock_set_curve_publickey_bin(s, k->pk);
    zsock_set_curve_secretkey_bin(s, k->sk);
    zsock_set_linger(s, 0);
    *port = zsock_bind(s, "tcp://127.0.0.1:*");
    return s;
}

/*  A client that believes the server's key is server_pk. */
static zsock_t *client(const uint8_t server_pk[32], int port)
{
    keys_t me;
    crypto_box_keypair(me.pk, me.sk);
    zsock_t *c = zsock_new(ZMQ_DEALER);
    zsock_set_curve_serverkey_bin(c, server_pk);
    zsock_set_curve_publickey_bin(c, me.pk);
    zsock_set_curve_secretkey_bin(c, me.sk);
    zsock_set_linger(c, 0);
    zsock_set_reconnect_ivl(c, 100);
    zsock_connect(c, "tcp://127.0.0.1:%d", port);
    return c;
}

/*  The next line from the watch, within 10 s; NULL if none. */
static char *next_line(rm_door_watch_t *w)
{
    zpoller_t *p = zpoller_new(rm_door_watch_actor(w), NULL);
    void *which = zpoller_wait(p, 10000);
    zpoller_destroy(&p);
    return which ? zstr_recv(rm_door_watch_actor(w)) : NULL;
}

/*  Reads lines until one names the peer's address (a connection can close
    before its address is read: then it says "an unknown address"). */
static bool refused_with_address(rm_door_watch_t *w, const char *what, int tries)
{
    char want[64];
    snprintf(want, sizeof want, "%s: refused 127.0.0.1: handshake failed (", what);
    for (int i = 0; i < tries; i++) {
        char *line = next_line(w);
        CHECK_MSG(line != NULL, "no refusal line from the watch");
        if (!line)
            return false;
        bool ok = strncmp(line, want, strlen(want)) == 0;
        bool unknown = strstr(line, "refused an unknown address: handshake failed (") != NULL;
        CHECK_MSG(ok || unknown, "unexpected line: %s", line);
        CHECK_MSG(!ok || strstr(line, "another mesh"), "no reason: %s", line);
        zstr_free(&line);
        if (ok)
            return true;
    }
    return false;
}

int main(void)
{
    CHECK(sodium_init() >= 0);
    keys_t door_keys, main_keys, other;
    crypto_box_keypair(door_keys.pk, door_keys.sk);
    crypto_box_keypair(main_keys.pk, main_keys.sk);
    crypto_box_keypair(other.pk, other.sk);
    int door_port, main_port;
    zsock_t *door = server(&door_keys, &door_port);
    zsock_t *main_sock = server(&main_keys, &main_port);
    CHECK(door_port > 0 && main_port > 0);
    rm_err_t err;
    rm_door_watch_t *w = rm_door_watch_new(door, main_sock, &err);
    CHECK_MSG(w != NULL, "%s", err.msg);
    if (!w)
        RM_TEST_DONE();

    /* A client that knows the right key: its handshake succeeds, its
       message arrives, and closing it is no refusal. */
    zsock_t *good = client(door_keys.pk, door_port);
    zstr_send(good, "hello");
    zmsg_t *in = zmsg_recv(door);
    CHECK(in && zmsg_size(in) == 2);
    zmsg_destroy(&in);
    zsock_destroy(&good);

    /* A client that knows another key (another mesh's door key): refused,
       with its address; it retries every 100 ms, each try one line. */
    zsock_t *stranger = client(other.pk, door_port);
    zstr_send(stranger, "hello");
    CHECK(refused_with_address(w, "door", 20));
    zsock_destroy(&stranger);

    /* The main socket is watched too. */
    stranger = client(other.pk, main_port);
    zstr_send(stranger, "hello");
    CHECK(refused_with_address(w, "main", 20));
    zsock_destroy(&stranger);

    /* Lines go through the node's limiter: at most RM_REFUSAL_LOGS logged. */
    rm_refusals_t refusals = {.window_start = zclock_mono()};
    stranger = client(other.pk, door_port);
    zstr_send(stranger, "hello");
    zpoller_t *p = zpoller_new(rm_door_watch_actor(w), NULL);
    for (int i = 0; i < RM_REFUSAL_LOGS + 5; i++) {
        CHECK(zpoller_wait(p, 10000) != NULL);
        rm_door_watch_handle(w, &refusals);
    }
    zpoller_destroy(&p);
    zsock_destroy(&stranger);
    CHECK(refusals.logged == RM_REFUSAL_LOGS && refusals.dropped >= 5);

    char why[200];
    rm_door_watch_reason(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL,
                         ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH, why, sizeof why);
    CHECK(strcmp(why, "not CURVE") == 0);
    rm_door_watch_reason(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL, 0, why, sizeof why);
    CHECK(strcmp(why, "closed during the handshake") == 0);

    rm_door_watch_destroy(&w);
    CHECK(w == NULL);
    zsock_destroy(&main_sock);
    zsock_destroy(&door);
    RM_TEST_DONE();
}
