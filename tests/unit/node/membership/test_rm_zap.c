/*  rm_zap: the ZAP handler's refusal-log limiter, and the handler over real
    CURVE sockets on loopback: the door domain admits any key, the mesh
    domain only keys admitted and not expired, until forgotten. */
#include <sodium.h>
#include <time.h>

#include "rm_test.h"
#include "rm_zap.h"

static void test_refusals_are_rate_limited(void)
{
    rm_refusals_t r = {.window_start = zclock_mono()};
    unsigned logged = 0;
    for (int i = 0; i < 100; i++)
        logged += rm_refusal_log_ok(&r);
    CHECK(logged == RM_REFUSAL_LOGS && r.dropped == 100 - RM_REFUSAL_LOGS);
    /* A new window logs again (and reports what it dropped). */
    r.window_start -= RM_REFUSAL_WINDOW_MS;
    CHECK(rm_refusal_log_ok(&r) && r.dropped == 0 && r.logged == 1);
}

typedef struct {
    uint8_t pk[32], sk[32];
} keys_t;

static zsock_t *server(const keys_t *k, const char *domain, int *port)
{
    zsock_t *s = zsock_new(ZMQ_ROUTER);
    zsock_set_zap_domain(s, domain);
    zsock_set_curve_server(s, 1);
    zsock_set_curve_publickey_bin(s, k->pk);
    zsock_set_curve_secretkey_bin(s, k->sk);
    zsock_set_linger(s, 0);
    *port = zsock_bind(s, "tcp://127.0.0.1:*");
    return s;
}

/*  True when a client with `me` gets a message through to the server
    within 1.5 s (a refused handshake delivers nothing). */
static bool gets_in(zsock_t *srv, int port, const keys_t *server_keys, const keys_t *me)
{
    zsock_t *c = zsock_new(ZMQ_DEALER);
    zsock_set_curve_serverkey_bin(c, server_keys->pk);
    zsock_set_curve_publickey_bin(c, me->pk);
    zsock_set_curve_secretkey_bin(c, me->sk);
    zsock_set_linger(c, 0);
    zsock_connect(c, "tcp://127.0.0.1:%d", port);
    zstr_send(c, "hello");
    zpoller_t *p = zpoller_new(srv, NULL);
    bool got = false;
    int64_t end = zclock_mono() + 1500;
    while (!got && zclock_mono() < end) {
        if (zpoller_wait(p, 100) != srv)
            continue;
        zmsg_t *m = zmsg_recv(srv);
        zframe_t *body = zmsg_last(m);
        got = body && zframe_streq(body, "hello");
        zmsg_destroy(&m);
    }
    zpoller_destroy(&p);
    zsock_destroy(&c);
    return got;
}

static void test_domains_admit_what_they_should(void)
{
    rm_err_t err = {0};
    rm_zap_t *zap = rm_zap_new(&err);
    CHECK_MSG(zap, "%s", err.msg);
    if (!zap)
        return;
    rm_zap_t *second = rm_zap_new(&err);
    CHECK(!second && strstr(err.msg, "another ZAP handler"));

    keys_t srv_keys, member, stranger, old;
    crypto_box_keypair(srv_keys.pk, srv_keys.sk);
    crypto_box_keypair(member.pk, member.sk);
    crypto_box_keypair(stranger.pk, stranger.sk);
    crypto_box_keypair(old.pk, old.sk);
    int door_port = 0, mesh_port = 0;
    zsock_t *door = server(&srv_keys, RM_ZAP_DOMAIN_DOOR, &door_port);
    zsock_t *mesh = server(&srv_keys, RM_ZAP_DOMAIN_MESH, &mesh_port);
    CHECK(door_port > 0 && mesh_port > 0);

    int64_t now = (int64_t)time(NULL);
    rm_zap_admit(zap, member.pk, now + 3600);
    rm_zap_admit(zap, old.pk, now - 1); /* expired */
    CHECK(rm_zap_admitted(zap) == 1);

    CHECK(gets_in(door, door_port, &srv_keys, &stranger)); /* the door: anyone */
    CHECK(gets_in(mesh, mesh_port, &srv_keys, &member));
    CHECK(!gets_in(mesh, mesh_port, &srv_keys, &stranger));
    CHECK(!gets_in(mesh, mesh_port, &srv_keys, &old));

    rm_zap_forget(zap, member.pk); /* revoked */
    CHECK(rm_zap_admitted(zap) == 0);
    CHECK(!gets_in(mesh, mesh_port, &srv_keys, &member));
    rm_zap_admit(zap, old.pk, now + 60); /* a renewed credential */
    CHECK(gets_in(mesh, mesh_port, &srv_keys, &old));

    zsock_destroy(&door);
    zsock_destroy(&mesh);
    rm_zap_destroy(&zap);
    CHECK(zap == NULL);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_refusals_are_rate_limited);
    RM_RUN(test_domains_admit_what_they_should);
    RM_TEST_DONE();
}
