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

/*  A door and a main socket (fresh for each case, on ports of their own)
    and a watch on them. */
typedef struct {
    keys_t door_keys, main_keys;
    zsock_t *door, *main_sock;
    int door_port, main_port;
    rm_door_watch_t *w;
} doors_t;

/*  With session_ms 0, the node's limits; else those given. */
static void open_doors(doors_t *d, int64_t session_ms, int door_cap, int main_cap)
{
    rm_err_t err;
    crypto_box_keypair(d->door_keys.pk, d->door_keys.sk);
    crypto_box_keypair(d->main_keys.pk, d->main_keys.sk);
    d->door = server(&d->door_keys, &d->door_port);
    d->main_sock = server(&d->main_keys, &d->main_port);
    CHECK(d->door_port > 0 && d->main_port > 0);
    d->w = session_ms ? rm_door_watch_new_limits(d->door, d->main_sock, session_ms, door_cap,
                                                 main_cap, &err)
                      : rm_door_watch_new(d->door, d->main_sock, &err);
    CHECK_MSG(d->w != NULL, "%s", err.msg);
}

static void close_doors(doors_t *d)
{
    rm_door_watch_destroy(&d->w);
    CHECK(d->w == NULL);
    zsock_destroy(&d->main_sock);
    zsock_destroy(&d->door);
}

/*  A key of another mesh. */
static keys_t other_key(void)
{
    keys_t other;
    crypto_box_keypair(other.pk, other.sk);
    return other;
}

/*  A client that knows the right key: its handshake succeeds, its message
    arrives, and closing it is no refusal. */
static void test_a_good_handshake_gives_no_line(void)
{
    doors_t d;
    open_doors(&d, 0, 0, 0);
    if (!d.w)
        return;
    zsock_t *good = client(d.door_keys.pk, d.door_port);
    zstr_send(good, "hello");
    zmsg_t *in = zmsg_recv(d.door);
    CHECK(in && zmsg_size(in) == 2);
    zmsg_destroy(&in);
    zsock_destroy(&good);
    zpoller_t *p = zpoller_new(rm_door_watch_actor(d.w), NULL);
    CHECK_MSG(zpoller_wait(p, 500) == NULL, "a line for a good handshake");
    zpoller_destroy(&p);
    close_doors(&d);
}

/*  A client that knows another key (another mesh's door key): refused,
    with its address; it retries every 100 ms, each try one line. */
static void test_a_door_client_with_another_key_is_refused_with_its_address(void)
{
    doors_t d;
    open_doors(&d, 0, 0, 0);
    if (!d.w)
        return;
    keys_t other = other_key();
    zsock_t *stranger = client(other.pk, d.door_port);
    zstr_send(stranger, "hello");
    CHECK(refused_with_address(d.w, "door", 20));
    zsock_destroy(&stranger);
    close_doors(&d);
}

static void test_the_main_socket_is_watched_too(void)
{
    doors_t d;
    open_doors(&d, 0, 0, 0);
    if (!d.w)
        return;
    keys_t other = other_key();
    zsock_t *stranger = client(other.pk, d.main_port);
    zstr_send(stranger, "hello");
    CHECK(refused_with_address(d.w, "main", 20));
    zsock_destroy(&stranger);
    close_doors(&d);
}

/*  Lines go through the node's limiter: at most RM_REFUSAL_LOGS logged. */
static void test_refusal_lines_go_through_the_node_limiter(void)
{
    doors_t d;
    open_doors(&d, 0, 0, 0);
    if (!d.w)
        return;
    keys_t other = other_key();
    rm_refusals_t refusals = {.window_start = zclock_mono()};
    zsock_t *stranger = client(other.pk, d.door_port);
    zstr_send(stranger, "hello");
    zpoller_t *p = zpoller_new(rm_door_watch_actor(d.w), NULL);
    for (int i = 0; i < RM_REFUSAL_LOGS + 5; i++) {
        CHECK(zpoller_wait(p, 10000) != NULL);
        rm_door_watch_handle(d.w, &refusals);
    }
    zpoller_destroy(&p);
    zsock_destroy(&stranger);
    CHECK(refusals.logged == RM_REFUSAL_LOGS && refusals.dropped >= 5);
    close_doors(&d);
}

static void test_reasons_say_why_a_handshake_failed(void)
{
    char why[200];
    rm_door_watch_reason(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL,
                         ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH, why, sizeof why);
    CHECK(strcmp(why, "not CURVE") == 0);
    rm_door_watch_reason(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL, 0, why, sizeof why);
    CHECK(strcmp(why, "closed during the handshake") == 0);
}

/*  Nobody holds the door (a 1 s session, at most 2 connections from one
    address): two silent connections from one address are let in, a third
    is cut at once; fds[0..2]. */
static void hold_door(doors_t *d, int fds[3])
{
    open_doors(d, 1000, 2, 8);
    fds[0] = raw_connect(d->door_port);
    fds[1] = raw_connect(d->door_port);
    zclock_sleep(200);
    fds[2] = raw_connect(d->door_port);
    CHECK(fds[0] >= 0 && fds[1] >= 0 && fds[2] >= 0);
}

/*  ... and the two let in are cut once the session time is over. */
static void hold_door_past_the_session(doors_t *d, int fds[3])
{
    hold_door(d, fds);
    CHECK(closed_within(fds[2], 700) >= 0);
    int64_t ms = closed_within(fds[0], 5000);
    CHECK_MSG(ms >= 0 && ms < 4000, "a silent door connection closed after %lld ms", (long long)ms);
    CHECK(closed_within(fds[1], 1000) >= 0);
    CHECK(line_has(d->w, "door: closed 2 connection(s) open longer than 1 s", 5));
}

static void close_held(doors_t *d, int fds[3])
{
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    close_doors(d);
}

/*  One beyond the cap from one address is cut at once. */
static void test_a_connection_beyond_the_cap_from_one_address_is_cut_at_once(void)
{
    doors_t d;
    int fds[3];
    hold_door(&d, fds);
    int64_t ms = closed_within(fds[2], 700);
    CHECK_MSG(ms >= 0, "a third connection from one address stays open");
    CHECK(line_has(d.w, "door: refused 127.0.0.1: 2 connections open from it (at most 2)", 5));
    close_held(&d, fds);
}

/*  The ones let in that say nothing are cut once the session time is over. */
static void test_silent_door_connections_are_cut_after_the_session_time(void)
{
    doors_t d;
    int fds[3];
    hold_door(&d, fds);
    CHECK(closed_within(fds[2], 700) >= 0);
    int64_t ms = closed_within(fds[0], 5000);
    CHECK_MSG(ms >= 0 && ms < 4000, "a silent door connection closed after %lld ms", (long long)ms);
    CHECK(closed_within(fds[1], 1000) >= 0);
    CHECK(
        line_has(d.w, "door: closed 2 connection(s) open longer than 1 s (one from 127.0.0.1)", 5));
    close_held(&d, fds);
}

/*  The address went past its cap: the kernel drops its next connections'
    SYNs (the filter is set at the sweep after the ban). */
static void test_an_address_past_its_cap_is_banned(void)
{
    doors_t d;
    int fds[3];
    hold_door_past_the_session(&d, fds);
    CHECK_MSG(!connect_completes(d.door_port, 700),
              "a connection from an address that went past its cap is let in");
    close_held(&d, fds);
}

/*  The ban ends with the watch: the filter is taken off. */
static void test_a_ban_ends_with_the_watch(void)
{
    doors_t d;
    int fds[3];
    hold_door_past_the_session(&d, fds);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    rm_door_watch_destroy(&d.w);
    CHECK(connect_completes(d.door_port, 2000));
    close_doors(&d);
}

/*  Held connections alone: a few are only cut; four get the address
    banned. */
static void test_four_held_door_connections_get_an_address_banned(void)
{
    doors_t d;
    open_doors(&d, 1000, 8, 8);
    int held[4];
    for (int i = 0; i < 4; i++)
        held[i] = raw_connect(d.door_port);
    for (int i = 0; i < 4; i++) {
        CHECK(held[i] >= 0 && closed_within(held[i], 5000) >= 0);
        close(held[i]);
    }
    CHECK(line_has(d.w, "door: closed 4 connection(s) open longer than 1 s", 5));
    CHECK_MSG(!connect_completes(d.door_port, 700),
              "a connection from an address that held the door is let in");
    close_doors(&d);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(sodium_init() >= 0);
    RM_RUN(test_a_good_handshake_gives_no_line);
    RM_RUN(test_a_door_client_with_another_key_is_refused_with_its_address);
    RM_RUN(test_the_main_socket_is_watched_too);
    RM_RUN(test_refusal_lines_go_through_the_node_limiter);
    RM_RUN(test_reasons_say_why_a_handshake_failed);
    RM_RUN(test_a_connection_beyond_the_cap_from_one_address_is_cut_at_once);
    RM_RUN(test_silent_door_connections_are_cut_after_the_session_time);
    RM_RUN(test_an_address_past_its_cap_is_banned);
    RM_RUN(test_a_ban_ends_with_the_watch);
    RM_RUN(test_four_held_door_connections_get_an_address_banned);
    RM_TEST_DONE();
}
