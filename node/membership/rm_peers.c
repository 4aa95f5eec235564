#include "rm_peers.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rm_log.h"
#include "rm_door.h"
#include "rm_endpoint.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000

typedef enum { LINK_IDLE, LINK_DOOR, LINK_UP, LINK_BACKOFF } link_state_t;

typedef struct {
    uint8_t *data;
    size_t len;
} queued_t;

typedef struct {
    char addr[256];
    rm_endpoint_t ep;
    link_state_t state;
    zsock_t *door;
    zsock_t *main;
    rm_cred_t cred; /* the peer's, once welcomed */
    queued_t queue[RM_PEERS_QUEUE];
    size_t nqueued;
    int64_t deadline;  /* handshake deadline, or end of backoff */
    int64_t backoff;   /* next backoff */
    int64_t last_in;   /* last message received */
    int64_t first_out; /* first message sent since last_in, 0 if none */
    struct _rm_peers_t *owner;
} peer_t;

struct _rm_peers_t {
    rm_token_t identity;
    uint8_t door_pk[32];
    rm_loop_t *loop;
    rm_peers_recv_fn *recv;
    void *recv_arg;
    peer_t **peers;
    size_t count;
    size_t cap;
    uint64_t next_req;
    rm_peers_check_fn *check;
    void *check_arg;
};

static int64_t now_ms(void)
{
    return zclock_mono();
}

rm_peers_t *rm_peers_new(const rm_token_t *identity, rm_loop_t *loop, rm_peers_recv_fn *recv,
                         void *recv_arg, rm_err_t *err)
{
    rm_peers_t *self = calloc(1, sizeof *self);
    if (!self) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    self->identity = *identity;
    self->identity.sign_sk = (rm_bin_t){0}; /* links sign nothing; the node's copy keeps it */
    self->identity.credential.data = malloc(identity->credential.len);
    if (!self->identity.credential.data) {
        free(self);
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    memcpy(self->identity.credential.data, identity->credential.data, identity->credential.len);
    uint8_t door_sk[32];
    rm_door_keypair(identity->mesh_pk.b, self->door_pk, door_sk);
    self->loop = loop;
    self->recv = recv;
    self->recv_arg = recv_arg;
    self->next_req = 1;
    return self;
}

static void drop_queue(peer_t *peer)
{
    for (size_t i = 0; i < peer->nqueued; i++)
        free(peer->queue[i].data);
    peer->nqueued = 0;
}

static void close_sockets(rm_peers_t *self, peer_t *peer)
{
    if (peer->door) {
        rm_loop_reader_end(self->loop, peer->door);
        zsock_destroy(&peer->door);
    }
    if (peer->main) {
        rm_loop_reader_end(self->loop, peer->main);
        zsock_destroy(&peer->main);
    }
    rm_codec_free(&rm_cred_desc, &peer->cred);
}

static void peer_free(rm_peers_t *self, peer_t **peer_p)
{
    peer_t *peer = *peer_p;
    close_sockets(self, peer);
    drop_queue(peer);
    free(peer);
    *peer_p = NULL;
}

void rm_peers_destroy(rm_peers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_peers_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        peer_free(self, &self->peers[i]);
    free(self->peers);
    rm_token_free(&self->identity);
    free(self);
    *self_p = NULL;
}

static zsock_t *link_dealer(rm_peers_t *self, const peer_t *peer, const uint8_t server_pk[32])
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock)
        return NULL;
    zsock_set_curve_serverkey_bin(sock, server_pk);
    zsock_set_curve_publickey_bin(sock, self->identity.curve_pk.b);
    zsock_set_curve_secretkey_bin(sock, self->identity.curve_sk.b);
    zsock_set_maxmsgsize(sock, RM_MAX_MSG_SIZE);
    zsock_set_linger(sock, 0);
    zsock_set_sndtimeo(sock, 0);
    /* What waits for a peer that is down is bounded by the send HWM. */
    zsock_set_sndhwm(sock, 256);
    zsock_set_ipv6(sock, peer->ep.ipv6);
    return sock;
}

static void start_backoff(peer_t *peer, int64_t now)
{
    peer->state = LINK_BACKOFF;
    peer->deadline = now + peer->backoff;
    peer->backoff = peer->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : peer->backoff * 2;
}

static void on_link_readable(void *arg, void *which);

/*  Knocks at the peer's door with our credential. */
static void open_door(rm_peers_t *self, peer_t *peer, int64_t now)
{
    close_sockets(self, peer);
    char door_ep[300];
    rm_endpoint_format(&peer->ep, peer->ep.port + 1, door_ep, sizeof door_ep);
    peer->door = link_dealer(self, peer, self->door_pk);
    if (!peer->door || zsock_connect(peer->door, "%s", door_ep) != 0) {
        close_sockets(self, peer);
        start_backoff(peer, now);
        return;
    }
    if (rm_loop_reader(self->loop, peer->door, on_link_readable, peer) != 0) {
        close_sockets(self, peer);
        start_backoff(peer, now);
        return;
    }
    rm_hello_t hello = rm_door_hello(&self->identity);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (rm_msg_encode(RM_MSG_HELLO, self->next_req++, &hello, &buf, &len, NULL) == 0) {
        /* Queued by the socket until the TCP connection is up. */
        zframe_t *frame = zframe_new(buf, len);
        zframe_send(&frame, peer->door, ZFRAME_DONTWAIT);
        zframe_destroy(&frame); /* czmq keeps it when the send fails */
        free(buf);
    }
    peer->state = LINK_DOOR;
    peer->deadline = now + RM_PEERS_HANDSHAKE_MS;
}

static peer_t *find_peer(rm_peers_t *self, const char *addr)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->peers[i]->addr, addr) == 0)
            return self->peers[i];
    return NULL;
}

static peer_t *add_peer(rm_peers_t *self, const char *addr, rm_err_t *err)
{
    peer_t *peer = calloc(1, sizeof *peer);
    if (!peer) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    peer->owner = self;
    if (strlen(addr) >= sizeof peer->addr ||
        rm_endpoint_parse(addr, RM_ENDPOINT_CONNECT, &peer->ep, err) != 0) {
        free(peer);
        if (err && err->code == RM_OK)
            rm_err_set(err, RM_EINVAL, "peer address too long");
        return NULL;
    }
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        peer_t **grown = realloc(self->peers, cap * sizeof *grown);
        if (!grown) {
            free(peer);
            rm_err_set(err, RM_ENOMEM, "out of memory");
            return NULL;
        }
        self->peers = grown;
        self->cap = cap;
    }
    snprintf(peer->addr, sizeof peer->addr, "%s", addr);
    peer->backoff = BACKOFF_MIN_MS;
    self->peers[self->count++] = peer;
    return peer;
}

static void send_now(peer_t *peer, const uint8_t *data, size_t len)
{
    zframe_t *frame = zframe_new(data, len);
    /* Dropped when the send queue is full: gossip is loss-tolerant. */
    if (zframe_send(&frame, peer->main, ZFRAME_DONTWAIT) == 0 && peer->first_out == 0)
        peer->first_out = now_ms();
    zframe_destroy(&frame);
}

void rm_peers_heard(rm_peers_t *self, const char *addr)
{
    peer_t *peer = find_peer(self, addr);
    if (peer && peer->state == LINK_UP) {
        peer->last_in = now_ms();
        peer->first_out = 0;
    }
}

int rm_peers_send(rm_peers_t *self, const char *addr, const uint8_t *data, size_t len,
                  rm_err_t *err)
{
    rm_err_t local;
    peer_t *peer = find_peer(self, addr);
    if (!peer && !(peer = add_peer(self, addr, err ? err : &local)))
        return -1;
    if (peer->state == LINK_UP) {
        send_now(peer, data, len);
        return 0;
    }
    if (peer->nqueued == RM_PEERS_QUEUE)
        return rm_err_set(err, RM_EUNREACH, "no link to %s yet and its queue is full", addr);
    queued_t *q = &peer->queue[peer->nqueued];
    q->data = malloc(len ? len : 1);
    if (!q->data)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    memcpy(q->data, data, len);
    q->len = len;
    peer->nqueued++;
    if (peer->state == LINK_IDLE)
        open_door(self, peer, now_ms());
    return 0;
}

/*  False (with the reason) when the peer's credential may no longer be
    used: expired, or refused by the check (revoked). */
static bool cred_usable(rm_peers_t *self, const peer_t *peer, char *why, size_t size)
{
    int64_t now = (int64_t)time(NULL);
    if (peer->cred.expires <= now) {
        snprintf(why, size, "credential of '%s' expired %lld s ago", peer->cred.name,
                 (long long)(now - peer->cred.expires));
        return false;
    }
    return !self->check || self->check(self->check_arg, &peer->cred, now, why, size);
}

/*  Closes a link whose credential is no longer good; it is tried again
    only after a backoff. */
static void refuse_link(rm_peers_t *self, peer_t *peer, const char *why)
{
    rm_log_warning("peer %s: closing the link: %s", peer->addr, why);
    close_sockets(self, peer);
    drop_queue(peer);
    peer->backoff = BACKOFF_MAX_MS;
    start_backoff(peer, now_ms());
}

static void welcome(rm_peers_t *self, peer_t *peer, const uint8_t *data, size_t len)
{
    rm_msg_t msg;
    rm_err_t err;
    int64_t now = now_ms();
    memset(&msg, 0, sizeof msg);
    if (rm_msg_decode(data, len, &msg, &err) != 0 || msg.type != RM_MSG_WELCOME) {
        rm_log_warning("peer %s: bad answer at its door", peer->addr);
        rm_msg_free(&msg);
        close_sockets(self, peer);
        drop_queue(peer);
        start_backoff(peer, now);
        return;
    }
    char who[300];
    snprintf(who, sizeof who, "the node at %s", peer->addr);
    rm_codec_free(&rm_cred_desc, &peer->cred);
    if (rm_door_welcome_verify(&msg.u.welcome, self->identity.mesh_pk.b, (int64_t)time(NULL), who,
                               &peer->cred, &err) != 0) {
        rm_log_warning("peer %s: refused: %s", peer->addr, err.msg);
        rm_msg_free(&msg);
        close_sockets(self, peer);
        start_backoff(peer, now);
        return;
    }
    rm_msg_free(&msg);
    char why[RM_ERR_MSG_MAX];
    if (!cred_usable(self, peer, why, sizeof why)) {
        refuse_link(self, peer, why);
        return;
    }
    rm_loop_reader_end(self->loop, peer->door);
    zsock_destroy(&peer->door);
    char main_ep[300];
    rm_endpoint_format(&peer->ep, peer->ep.port, main_ep, sizeof main_ep);
    peer->main = link_dealer(self, peer, peer->cred.curve_pk.b);
    if (!peer->main || zsock_connect(peer->main, "%s", main_ep) != 0) {
        close_sockets(self, peer);
        start_backoff(peer, now);
        return;
    }
    if (rm_loop_reader(self->loop, peer->main, on_link_readable, peer) != 0) {
        close_sockets(self, peer);
        start_backoff(peer, now);
        return;
    }
    peer->state = LINK_UP;
    peer->backoff = BACKOFF_MIN_MS;
    peer->last_in = now;
    peer->first_out = 0;
    for (size_t i = 0; i < peer->nqueued; i++)
        send_now(peer, peer->queue[i].data, peer->queue[i].len);
    drop_queue(peer);
}

/*  A door answer or a message on one of a peer's sockets. */
static void on_link_readable(void *arg, void *which)
{
    peer_t *peer = arg;
    rm_peers_t *self = peer->owner;
    zframe_t *frame = zframe_recv(which);
    if (!frame)
        return;
    if (which == peer->door)
        welcome(self, peer, zframe_data(frame), zframe_size(frame));
    else {
        char why[RM_ERR_MSG_MAX];
        if (!cred_usable(self, peer, why, sizeof why)) {
            refuse_link(self, peer, why);
        } else {
            peer->last_in = now_ms();
            peer->first_out = 0;
            self->recv(self->recv_arg, peer->addr, &peer->cred, zframe_data(frame),
                       zframe_size(frame));
        }
    }
    zframe_destroy(&frame);
}

void rm_peers_tick(rm_peers_t *self, int64_t now)
{
    for (size_t i = 0; i < self->count; i++) {
        peer_t *peer = self->peers[i];
        if (peer->state == LINK_DOOR && now >= peer->deadline) {
            close_sockets(self, peer);
            drop_queue(peer);
            start_backoff(peer, now);
        } else if (peer->state == LINK_BACKOFF && now >= peer->deadline) {
            peer->state = LINK_IDLE; /* the next send knocks again */
        } else if (peer->state == LINK_UP && peer->first_out &&
                   now - peer->first_out > RM_PEERS_SILENT_MS) {
            rm_log_info("peer %s: no answer for %d s, reconnecting", peer->addr,
                        RM_PEERS_SILENT_MS / 1000);
            open_door(self, peer, now);
        }
    }
}

void rm_peers_close(rm_peers_t *self, const char *addr)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->peers[i]->addr, addr) == 0) {
            peer_free(self, &self->peers[i]);
            self->peers[i] = self->peers[--self->count];
            return;
        }
}

void rm_peers_set_check(rm_peers_t *self, rm_peers_check_fn *check, void *arg)
{
    self->check = check;
    self->check_arg = arg;
}

void rm_peers_recheck(rm_peers_t *self)
{
    char why[RM_ERR_MSG_MAX];
    for (size_t i = 0; i < self->count; i++) {
        peer_t *peer = self->peers[i];
        if (peer->state == LINK_UP && !cred_usable(self, peer, why, sizeof why))
            refuse_link(self, peer, why);
    }
}

const char *rm_peers_name(rm_peers_t *self, const char *addr)
{
    peer_t *peer = find_peer(self, addr);
    return peer && peer->state == LINK_UP ? peer->cred.name : NULL;
}

size_t rm_peers_count(rm_peers_t *self)
{
    return self->count;
}
