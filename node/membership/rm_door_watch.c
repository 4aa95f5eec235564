#include "rm_log.h"
#include "rm_door_watch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define WATCH_EVENTS                                                                               \
    (ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED |                              \
     ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |                  \
     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
#define MAX_CONNS 256 /* addresses of connections not yet gone */
#define ADDR_MAX 64

typedef struct {
    int fd; /* -1: free */
    char addr[ADDR_MAX];
} conn_t;

/*  One watched socket, as the actor sees it. */
typedef struct {
    char endpoint[80]; /* the monitor's inproc endpoint */
    char what[8];      /* "door", "main" */
    zsock_t *pair;
    conn_t conns[MAX_CONNS];
    size_t next; /* where the next address goes when the table is full */
    int failed;  /* a failed handshake waiting for its DISCONNECTED: event, 0 = none */
    uint32_t failed_value;
} watched_t;

typedef struct {
    watched_t sock[2];
    size_t n;
} watch_args_t;

struct _rm_door_watch_t {
    zsock_t *socks[2];
    size_t n;
    watch_args_t *args; /* the actor's, freed after it */
    zactor_t *actor;
};

void rm_door_watch_reason(int event, uint32_t value, char *out, size_t size)
{
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
        snprintf(out, size, "closed during the handshake%s%s", value ? ": " : "",
                 value ? strerror((int)value) : "");
        return;
    }
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        snprintf(out, size, "authentication refused, status %u", value);
        return;
    }
    switch (value) {
    case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
        snprintf(out, size,
                 "its CURVE HELLO does not open with this socket's key: a client of "
                 "another mesh, or one that knows another key");
        return;
    case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        snprintf(out, size, "not CURVE");
        return;
    default:
        snprintf(out, size, "protocol error 0x%08x", value);
    }
}

/*  The peer of fd, if fd is a TCP connection on the port of the watched
    endpoint ("tcp://HOST:PORT"): a number reused since is not misread. */
static bool peer_address(int fd, const char *endpoint, char *out, size_t size)
{
    struct sockaddr_storage local, peer;
    socklen_t llen = sizeof local, plen = sizeof peer;
    if (getsockname(fd, (struct sockaddr *)&local, &llen) != 0 ||
        getpeername(fd, (struct sockaddr *)&peer, &plen) != 0)
        return false;
    const char *colon = strrchr(endpoint, ':');
    int port = colon ? atoi(colon + 1) : -1;
    char ip[INET6_ADDRSTRLEN];
    if (local.ss_family == AF_INET && peer.ss_family == AF_INET) {
        if (ntohs(((struct sockaddr_in *)&local)->sin_port) != port)
            return false;
        inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr, ip, sizeof ip);
    } else if (local.ss_family == AF_INET6 && peer.ss_family == AF_INET6) {
        if (ntohs(((struct sockaddr_in6 *)&local)->sin6_port) != port)
            return false;
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&peer)->sin6_addr, ip, sizeof ip);
    } else {
        return false;
    }
    snprintf(out, size, "%s", ip);
    return true;
}

static conn_t *find_conn(watched_t *w, int fd)
{
    for (size_t i = 0; i < MAX_CONNS; i++)
        if (w->conns[i].fd == fd)
            return &w->conns[i];
    return NULL;
}

static void on_accepted(watched_t *w, int fd, const char *endpoint)
{
    conn_t *c = find_conn(w, fd); /* a number reused: the old one is gone */
    if (!c)
        c = find_conn(w, -1);
    if (!c) {
        c = &w->conns[w->next];
        w->next = (w->next + 1) % MAX_CONNS;
    }
    c->fd = fd;
    if (!peer_address(fd, endpoint, c->addr, sizeof c->addr))
        snprintf(c->addr, sizeof c->addr, "an unknown address");
}

/*  A connection ended: if its handshake failed, the node hears of it. */
static void on_gone(watched_t *w, zsock_t *pipe, int fd)
{
    conn_t *c = find_conn(w, fd);
    if (w->failed && w->failed != ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        char why[200];
        rm_door_watch_reason(w->failed, w->failed_value, why, sizeof why);
        zstr_sendf(pipe, "%s: refused %s: handshake failed (%s)", w->what,
                   c ? c->addr : "an unknown address", why);
    }
    w->failed = 0;
    if (c)
        c->fd = -1;
}

/*  One monitor event: frame 1 is a 16-bit event and a 32-bit value (native
    byte order), frame 2 the socket's endpoint (libzmq 4.3, stable events). */
static void on_event(watched_t *w, zsock_t *pipe)
{
    zmsg_t *msg = zmsg_recv(w->pair);
    if (!msg)
        return;
    zframe_t *head = zmsg_first(msg);
    zframe_t *where = zmsg_next(msg);
    if (head && zframe_size(head) == 6) {
        uint16_t event;
        uint32_t value;
        memcpy(&event, zframe_data(head), 2);
        memcpy(&value, zframe_data(head) + 2, 4);
        char endpoint[256] = "";
        if (where)
            snprintf(endpoint, sizeof endpoint, "%.*s", (int)zframe_size(where),
                     (const char *)zframe_data(where));
        if (event == ZMQ_EVENT_ACCEPTED)
            on_accepted(w, (int)value, endpoint);
        else if (event == ZMQ_EVENT_DISCONNECTED || event == ZMQ_EVENT_CLOSED)
            on_gone(w, pipe, (int)value);
        else if (event & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                          ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)) {
            w->failed = event;
            w->failed_value = value;
        }
    }
    zmsg_destroy(&msg);
}

static void watch_actor(zsock_t *pipe, void *arg)
{
    watch_args_t *args = arg;
    zpoller_t *poller = zpoller_new(pipe, NULL);
    bool ok = poller != NULL;
    for (size_t i = 0; i < args->n && ok; i++) {
        watched_t *w = &args->sock[i];
        for (size_t k = 0; k < MAX_CONNS; k++)
            w->conns[k].fd = -1;
        w->pair = zsock_new(ZMQ_PAIR);
        ok = w->pair && zsock_connect(w->pair, "%s", w->endpoint) == 0 &&
             zpoller_add(poller, w->pair) == 0;
    }
    /* Signals are meshd's: only $TERM (zactor_destroy) ends this actor,
       else destroying it would wait for an end signal already sent. */
    if (poller)
        zpoller_set_nonstop(poller, true);
    /* A node too busy to read its refusal lines loses some (they are
       rate-limited log lines) rather than stop this actor reading the
       monitors, which would stop libzmq's I/O thread (see destroy). */
    zsock_set_sndtimeo(pipe, 0);
    zsock_signal(pipe, ok ? 0 : 1);
    while (ok) {
        void *which = zpoller_wait(poller, -1);
        if (!which && zpoller_terminated(poller))
            break; /* the context ends */
        if (which == pipe) {
            char *cmd = zstr_recv(pipe);
            bool term = !cmd || strcmp(cmd, "$TERM") == 0;
            zstr_free(&cmd);
            if (term)
                break;
        }
        for (size_t i = 0; i < args->n; i++)
            if (which == args->sock[i].pair)
                on_event(&args->sock[i], pipe);
    }
    for (size_t i = 0; i < args->n; i++)
        zsock_destroy(&args->sock[i].pair);
    zpoller_destroy(&poller);
}

rm_door_watch_t *rm_door_watch_new(zsock_t *door, zsock_t *main_sock, rm_err_t *err)
{
    rm_door_watch_t *self = calloc(1, sizeof *self);
    watch_args_t *args = calloc(1, sizeof *args);
    if (!self || !args) {
        free(self);
        free(args);
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    self->args = args;
    zsock_t *socks[2] = {door, main_sock};
    const char *names[2] = {"door", "main"};
    for (size_t i = 0; i < 2; i++) {
        if (!socks[i])
            continue;
        watched_t *w = &args->sock[args->n];
        snprintf(w->endpoint, sizeof w->endpoint, "inproc://rm-door-watch-%p", (void *)socks[i]);
        snprintf(w->what, sizeof w->what, "%s", names[i]);
        if (zmq_socket_monitor(zsock_resolve(socks[i]), w->endpoint, WATCH_EVENTS) != 0) {
            rm_err_set(err, RM_EIO, "cannot monitor the %s socket: %s", names[i],
                       zmq_strerror(zmq_errno()));
            rm_door_watch_destroy(&self);
            return NULL;
        }
        self->socks[self->n++] = socks[i];
        args->n++;
    }
    self->actor = zactor_new(watch_actor, args);
    if (!self->actor) {
        rm_err_set(err, RM_EIO, "cannot start the socket monitor");
        rm_door_watch_destroy(&self);
        return NULL;
    }
    return self;
}

void rm_door_watch_destroy(rm_door_watch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_door_watch_t *self = *self_p;
    /* Monitors first: libzmq's I/O thread sends each event with a blocking
       send while holding the monitor's lock, so an event for a reader that
       is gone would block it for good, and zmq_socket_monitor (which takes
       that lock) with it. */
    for (size_t i = 0; i < self->n; i++)
        zmq_socket_monitor(zsock_resolve(self->socks[i]), NULL, 0);
    zactor_destroy(&self->actor);
    free(self->args);
    free(self);
    *self_p = NULL;
}

zactor_t *rm_door_watch_actor(rm_door_watch_t *self)
{
    return self->actor;
}

void rm_door_watch_handle(rm_door_watch_t *self, rm_refusals_t *refusals)
{
    char *line = zstr_recv(self->actor);
    if (line && rm_refusal_log_ok(refusals))
        rm_log_warning("%s", line);
    zstr_free(&line);
}
