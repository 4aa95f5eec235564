/*  door_flood: holds N connections to a node's door, as an attacker who
    knows only mesh.pub can (bench/bench_door.sh, docs/benchmarks.md).

    door_flood MESH_PUB_FILE HOST PORT N SECONDS [FIRST]

    Each connection is a CURVE DEALER with a fresh key, from one of many
    source addresses (127.1.x.y, 32 each: loopback answers for all of
    127/8, and the node allows 32 door connections per address), that
    completes the handshake with the door key derived from the mesh
    public key (any key is admitted there) and then says nothing, holding
    the connection.  libzmq reconnects a connection the node cuts, so the
    flood keeps pressing for SECONDS, then closes everything.  Each socket
    costs two descriptors here (its connection and its mailbox): run
    several, each from its own addresses (FIRST: the first connection's
    number, default 0). */
#include <czmq.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "rm_cred.h"

#define PER_ADDRESS 32

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: door_flood MESH_PUB_FILE HOST PORT N SECONDS [FIRST]\n");
        return 2;
    }
    char z85[64] = "";
    FILE *f = fopen(argv[1], "r");
    if (!f || !fgets(z85, sizeof z85, f)) {
        fprintf(stderr, "door_flood: cannot read %s\n", argv[1]);
        return 2;
    }
    fclose(f);
    z85[strcspn(z85, "\r\n")] = '\0';
    uint8_t mesh_pk[32], door_pk[32], door_sk[32];
    if (strlen(z85) != 40 || !zmq_z85_decode(mesh_pk, z85)) {
        fprintf(stderr, "door_flood: %s is not a mesh public key\n", argv[1]);
        return 2;
    }
    rm_door_keypair(mesh_pk, door_pk, door_sk);
    int n = atoi(argv[4]), seconds = atoi(argv[5]), first = argc == 7 ? atoi(argv[6]) : 0;
    void *ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, n + 16);
    zmq_ctx_set(ctx, ZMQ_IO_THREADS, 1);
    void **socks = calloc((size_t)n, sizeof *socks);
    int made = 0;
    for (int i = 0; i < n; i++) {
        void *s = zmq_socket(ctx, ZMQ_DEALER);
        if (!s) {
            fprintf(stderr, "door_flood: socket %d: %s\n", i, zmq_strerror(zmq_errno()));
            break;
        }
        uint8_t pk[32], sk[32];
        crypto_box_keypair(pk, sk);
        int zero = 0, ivl = 100;
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, door_pk, 32);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pk, 32);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sk, 32);
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
        int a = (first + i) / PER_ADDRESS;
        char ep[128];
        snprintf(ep, sizeof ep, "tcp://127.1.%d.%d:0;%s:%s", a / 250, a % 250 + 1, argv[2],
                 argv[3]);
        if (zmq_connect(s, ep) != 0) {
            fprintf(stderr, "door_flood: connect %s: %s\n", ep, zmq_strerror(zmq_errno()));
            zmq_close(s);
            break;
        }
        socks[made++] = s;
    }
    printf("door_flood: %d sockets connecting from %d addresses\n", made,
           (made + PER_ADDRESS - 1) / PER_ADDRESS);
    fflush(stdout);
    zclock_sleep(seconds * 1000);
    for (int i = 0; i < made; i++)
        zmq_close(socks[i]);
    free(socks);
    zmq_ctx_term(ctx);
    printf("door_flood: closed\n");
    return 0;
}
