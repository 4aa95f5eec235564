/*  rm_door_watch: failed CURVE handshakes on watched sockets come out of the
    actor as one line each, with the peer's address; good handshakes give
    nothing.  Real sockets on loopback; no ZAP handler here (libzmq then
    admits any key that completes the handshake). */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

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

/*  A plain TCP connection that says nothing: what holds a door open. */
static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/*  True when a TCP connection to the port is established within ms: the
    kernel drops a banned address's SYNs, so its connect stays pending. */
static bool connect_completes(int port, int ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    bool ok = false;
    if (fd >= 0 && (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 || errno == EINPROGRESS)) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int soerr = -1;
        socklen_t len = sizeof soerr;
        ok = poll(&p, 1, ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 &&
             soerr == 0;
    }
    if (fd >= 0)
        close(fd);
    return ok;
}

/*  Milliseconds until the node closes fd (reads 0), at most limit_ms; -1
    if it stays open. */
static int64_t closed_within(int fd, int64_t limit_ms)
{
    int64_t start = zclock_mono();
    char buf[256];
    while (zclock_mono() - start < limit_ms) {
        ssize_t n = read(fd, buf, sizeof buf); /* libzmq's greeting first */
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return zclock_mono() - start;
    }
    return -1;
}

static bool line_has(rm_door_watch_t *w, const char *text, int tries)
{
    for (int i = 0; i < tries; i++) {
        char *line = next_line(w);
        if (!line)
            return false;
        bool ok = strstr(line, text) != NULL;
        zstr_free(&line);
        if (ok)
            return true;
    }
    return false;
}

/*  Nobody holds the door: one beyond the cap from one address is cut at
    once (and the address banned: the kernel drops its next connections'
    SYNs), the others after the session time; four held connections get
    an address banned too. */
static void test_door_cannot_be_held(void)
{
    keys_t door_keys, main_keys;
    crypto_box_keypair(door_keys.pk, door_keys.sk);
    crypto_box_keypair(main_keys.pk, main_keys.sk);
    int door_port = 0, main_port = 0;
    zsock_t *door = server(&door_keys, &door_port);
    zsock_t *main_sock = server(&main_keys, &main_port);
    rm_err_t err;
    rm_door_watch_t *w = rm_door_watch_new_limits(door, main_sock, 1000, 2, 8, &err);
    CHECK_MSG(w, "%s", err.msg);

    /* Two from one address are let in; the third is cut at once. */
    int a = raw_connect(door_port), b = raw_connect(door_port);
    zclock_sleep(200);
    int c = raw_connect(door_port);
    CHECK(a >= 0 && b >= 0 && c >= 0);
    int64_t ms = closed_within(c, 700);
    CHECK_MSG(ms >= 0, "a third connection from one address stays open");
    CHECK(line_has(w, "door: refused 127.0.0.1: 2 connections open from it (at most 2)", 5));

    /* The two that say nothing are cut once the session time is over. */
    ms = closed_within(a, 5000);
    CHECK_MSG(ms >= 0 && ms < 4000, "a silent door connection closed after %lld ms", (long long)ms);
    CHECK(closed_within(b, 1000) >= 0);
    CHECK(line_has(w, "door: closed 2 connection(s) open longer than 1 s (one from 127.0.0.1)", 5));

    /* The address went past its cap: the kernel drops its next
       connections' SYNs (the filter is set at the sweep after the ban). */
    CHECK_MSG(!connect_completes(door_port, 700),
              "a connection from an address that went past its cap is let in");
    close(a);
    close(b);
    close(c);
    rm_door_watch_destroy(&w);
    /* The ban ends with the watch: the filter is taken off. */
    CHECK(connect_completes(door_port, 2000));

    /* Held connections alone: a few are only cut; four get the address
       banned (a fresh watch, so 127.0.0.1 starts clean). */
    w = rm_door_watch_new_limits(door, main_sock, 1000, 8, 8, &err);
    CHECK_MSG(w, "%s", err.msg);
    int held[4];
    for (int i = 0; i < 4; i++)
        held[i] = raw_connect(door_port);
    for (int i = 0; i < 4; i++) {
        CHECK(held[i] >= 0 && closed_within(held[i], 5000) >= 0);
        close(held[i]);
    }
    CHECK(line_has(w, "door: closed 4 connection(s) open longer than 1 s", 5));
    CHECK_MSG(!connect_completes(door_port, 700),
              "a connection from an address that held the door is let in");
    rm_door_watch_destroy(&w);
    zsock_destroy(&main_sock);
    zsock_destroy(&door);
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
    RM_RUN(test_door_cannot_be_held);
    RM_TEST_DONE();
}
