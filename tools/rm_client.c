/*  rm_client: a client's connection to one node (see rm_client.h). */
#include "rm_client.h"

#include <czmq.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rm_door.h"
#include "rm_known.h"

#define DEFAULT_TIMEOUT_MS 5000
/* What tells a direct connection to a remembered node worked or not. */
#define MONITOR_EVENTS                                                                             \
    (ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |                        \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |                       \
     ZMQ_EVENT_DISCONNECTED)

struct _rm_client_t {
    zsock_t *sock; /* DEALER to the node's main socket (the door while connecting) */
    char *addr;
    char *node;
    int timeout_ms;
    uint64_t next_req;
    bool refused;
};

/*  "5 s", "0.3 s" */
static void fmt_secs(int ms, char *buf, size_t size)
{
    if (ms % 1000 == 0)
        snprintf(buf, size, "%d s", ms / 1000);
    else
        snprintf(buf, size, "%.1f s", ms / 1000.0);
}

/*  A CURVE DEALER to ep's host at port.  With monitor (an inproc endpoint)
    the socket's handshake events come to *events, a PAIR connected before
    the DEALER connects, so that none is missed. */
static zsock_t *client_dealer(const rm_token_t *id, const uint8_t server_pk[32],
                              const rm_endpoint_t *ep, int port, int timeout_ms,
                              const char *monitor, zsock_t **events, rm_err_t *err)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock) {
        rm_err_set(err, RM_ENOMEM, "cannot create a ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    zsock_set_linger(sock, 0);
    zsock_set_maxmsgsize(sock, RM_MAX_MSG_SIZE);
    zsock_set_sndtimeo(sock, timeout_ms);
    zsock_set_ipv6(sock, ep->ipv6 ? 1 : 0);
    zsock_set_curve_serverkey_bin(sock, server_pk);
    zsock_set_curve_publickey_bin(sock, id->curve_pk.b);
    zsock_set_curve_secretkey_bin(sock, id->curve_sk.b);
    if (monitor && (zmq_socket_monitor(zsock_resolve(sock), monitor, MONITOR_EVENTS) != 0 ||
                    !(*events = zsock_new_pair(monitor)))) { /* ">" by default: connects */
        rm_err_set(err, RM_EIO, "cannot watch a ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
        if (zmq_socket_monitor(zsock_resolve(sock), NULL, 0) == 0)
            zsock_destroy(events);
        zsock_destroy(&sock);
        return NULL;
    }
    char endpoint[300];
    rm_endpoint_format(ep, port, endpoint, sizeof endpoint);
    if (zsock_connect(sock, "%s", endpoint) != 0) {
        rm_err_set(err, RM_EUNREACH, "cannot connect to %s: %s", endpoint,
                   zmq_strerror(zmq_errno()));
        if (monitor) {
            zmq_socket_monitor(zsock_resolve(sock), NULL, 0);
            zsock_destroy(events);
        }
        zsock_destroy(&sock);
    }
    return sock;
}

const char *rm_client_node(const rm_client_t *self)
{
    return self->node ? self->node : "?";
}

const char *rm_client_addr(const rm_client_t *self)
{
    return self->addr;
}

int rm_client_timeout(const rm_client_t *self)
{
    return self->timeout_ms;
}

bool rm_client_refused(const rm_client_t *self)
{
    return self->refused;
}

static void free_sent(void *data, void *hint)
{
    (void)hint;
    free(data);
}

int rm_client_send(rm_client_t *self, rm_msg_type_t type, const void *body, uint64_t *req,
                   rm_err_t *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    uint64_t id = ++self->next_req;
    if (rm_msg_encode(type, id, body, &buf, &len, err) != 0)
        return -1;
    /* The encoded bytes go to libzmq as they are, not copied again: a
       submission sends its project through here. */
    zmq_msg_t msg;
    int rc = zmq_msg_init_data(&msg, buf, len, free_sent, NULL);
    if (rc != 0) {
        free(buf);
    } else if ((rc = zmq_msg_send(&msg, zsock_resolve(self->sock), 0)) < 0) {
        int saved = zmq_errno();
        zmq_msg_close(&msg); /* frees buf */
        errno = saved;
    }
    int e = zmq_errno();
    if (rc < 0)
        return rm_err_set(err, e == EAGAIN ? RM_ETIMEOUT : RM_EIO, "cannot send %s to %s: %s",
                          rm_msg_name(type), self->addr, zmq_strerror(e));
    if (req)
        *req = id;
    return 0;
}

/*  Reads one waiting message (all of its frames) and decodes it. */
static int read_one(rm_client_t *self, rm_msg_t *msg, rm_err_t *err)
{
    void *handle = zsock_resolve(self->sock);
    zmq_msg_t part;
    int frames = 0, rc = -1;
    int more = 1;
    while (more) {
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, handle, frames ? 0 : ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            return rm_err_set(err, RM_EIO, "cannot receive from %s: %s", self->addr,
                              zmq_strerror(zmq_errno()));
        }
        more = zmq_msg_more(&part);
        if (frames++ == 0)
            rc = rm_msg_decode(zmq_msg_data(&part), zmq_msg_size(&part), msg, err);
        zmq_msg_close(&part);
    }
    if (rc == 0 && frames == 1)
        return 0;
    if (rc == 0) {
        rm_msg_free(msg);
        rm_err_set(err, RM_EPROTO, "node at %s sent a message of %d frames, expected 1", self->addr,
                   frames);
    } else {
        rm_msg_free(msg);
        rm_err_prefix(err, "node at %s sent a malformed message: ", self->addr);
        if (err)
            err->code = RM_EPROTO;
    }
    memset(msg, 0, sizeof *msg);
    return -1;
}

int rm_client_recv(rm_client_t *self, rm_msg_t *msg, int timeout_ms, rm_err_t *err)
{
    memset(msg, 0, sizeof *msg);
    int64_t deadline = zclock_mono() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        int64_t left = deadline - zclock_mono();
        zmq_pollitem_t item = {zsock_resolve(self->sock), 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&item, 1, left > 0 ? (long)left : 0);
        if (rc > 0)
            return read_one(self, msg, err);
        if (rc == 0 || (zmq_errno() == EINTR && left <= 0))
            return rm_err_set(err, RM_ETIMEOUT, "no answer from %s", self->addr);
        if (zmq_errno() != EINTR)
            return rm_err_set(err, RM_EIO, "cannot poll the connection to %s: %s", self->addr,
                              zmq_strerror(zmq_errno()));
    }
}

/*  An ERROR reply becomes a failure with the node's code and message. */
static int refusal(rm_client_t *self, rm_msg_t *reply, rm_err_t *err)
{
    uint64_t code = reply->u.error.code;
    const char *text = reply->u.error.message;
    self->refused = true;
    if (code == RM_OK || code > RM_CODE_LAST)
        code = RM_EIO;
    rm_err_set(err, (rm_code_t)code, "%s", text && *text ? text : "the node refused the request");
    rm_msg_free(reply);
    memset(reply, 0, sizeof *reply);
    return -1;
}

static int unexpected(rm_client_t *self, rm_msg_t *reply, rm_msg_type_t sent, rm_err_t *err)
{
    const char *got = rm_msg_name(reply->type);
    rm_err_set(err, RM_EPROTO, "node at %s answered %s with %s", self->addr, rm_msg_name(sent),
               got ? got : "an unknown message");
    rm_msg_free(reply);
    memset(reply, 0, sizeof *reply);
    return -1;
}

/*  Waits until `deadline` for the reply to request `req`, dropping replies
    to earlier requests. */
static int await_reply(rm_client_t *self, uint64_t req, int64_t deadline, rm_msg_t *reply,
                       rm_err_t *err)
{
    for (;;) {
        int64_t left = deadline - zclock_mono();
        if (rm_client_recv(self, reply, left > 0 ? (int)left : 0, err) != 0)
            return -1;
        if (reply->req == req)
            return 0;
        rm_msg_free(reply);
    }
}

int rm_client_call(rm_client_t *self, rm_msg_type_t type, const void *body, rm_msg_type_t expect,
                   int extra_ms, rm_msg_t *reply, rm_err_t *err)
{
    rm_err_t e = {0};
    uint64_t req = 0;
    memset(reply, 0, sizeof *reply);
    self->refused = false;
    if (rm_client_send(self, type, body, &req, err) != 0)
        return -1;
    int wait_ms = self->timeout_ms + (extra_ms > 0 ? extra_ms : 0);
    if (await_reply(self, req, zclock_mono() + wait_ms, reply, &e) != 0) {
        char secs[32];
        fmt_secs(wait_ms, secs, sizeof secs);
        if (e.code == RM_ETIMEOUT)
            return rm_err_set(err, RM_ETIMEOUT, "node %s at %s did not answer %s within %s",
                              rm_client_node(self), self->addr, rm_msg_name(type), secs);
        return rm_err_set(err, e.code, "%s", e.msg);
    }
    if (reply->type == RM_MSG_ERROR)
        return refusal(self, reply, err);
    if (expect != 0 && reply->type != expect)
        return unexpected(self, reply, type, err);
    return 0;
}

/*  --- Pipelining --------------------------------------------------------- */

typedef struct {
    uint64_t req;
    size_t i;
    bool used;
} in_flight_t; /* a request of the window awaiting its reply */

static in_flight_t *find_in_flight(in_flight_t *window_reqs, size_t window, uint64_t req)
{
    for (size_t k = 0; k < window; k++)
        if (window_reqs[k].used && window_reqs[k].req == req)
            return &window_reqs[k];
    return NULL;
}

static int fill_window(rm_client_t *self, in_flight_t *window_reqs, size_t window, size_t n,
                       size_t *next, rm_client_send_fn send_fn, void *arg, rm_err_t *err)
{
    for (size_t k = 0; k < window && *next < n; k++) {
        if (window_reqs[k].used)
            continue;
        if (send_fn(arg, self, *next, &window_reqs[k].req, err) != 0)
            return -1;
        window_reqs[k].i = (*next)++;
        window_reqs[k].used = true;
    }
    return 0;
}

static int pipeline_step(rm_client_t *self, in_flight_t *window_reqs, size_t window,
                         bool errors_too, rm_client_reply_fn reply_fn, void *arg, size_t *done,
                         rm_err_t *err)
{
    rm_msg_t reply;
    rm_err_t e = {0};
    if (rm_client_recv(self, &reply, self->timeout_ms, &e) != 0) {
        char secs[32];
        fmt_secs(self->timeout_ms, secs, sizeof secs);
        if (e.code == RM_ETIMEOUT)
            return rm_err_set(err, RM_ETIMEOUT, "node %s at %s stopped answering (nothing for %s)",
                              rm_client_node(self), self->addr, secs);
        return rm_err_set(err, e.code, "%s", e.msg);
    }
    in_flight_t *pending = find_in_flight(window_reqs, window, reply.req);
    if (!pending) {
        rm_msg_free(&reply); /* the reply to a request we gave up on */
        return 0;
    }
    bool error = reply.type == RM_MSG_ERROR;
    if (error && !errors_too)
        return refusal(self, &reply, err);
    int rc = reply_fn(arg, pending->i, &reply, err);
    self->refused = rc < 0 && error; /* reply_fn took the node's answer as final */
    rm_msg_free(&reply);
    pending->used = false;
    (*done)++;
    return rc;
}

static int pipeline(rm_client_t *self, size_t n, size_t window, bool errors_too,
                    rm_client_send_fn send_fn, rm_client_reply_fn reply_fn, void *arg,
                    rm_err_t *err)
{
    self->refused = false;
    if (window == 0)
        window = 1;
    in_flight_t *window_reqs = calloc(window, sizeof *window_reqs);
    if (!window_reqs)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    size_t next = 0, done = 0;
    int rc = 0;
    while (rc == 0 && done < n) {
        rc = fill_window(self, window_reqs, window, n, &next, send_fn, arg, err);
        if (rc == 0)
            rc = pipeline_step(self, window_reqs, window, errors_too, reply_fn, arg, &done, err);
    }
    free(window_reqs);
    return rc > 0 ? 0 : rc; /* RM_CLIENT_STOP: ended early, on purpose */
}

int rm_client_pipeline(rm_client_t *self, size_t n, size_t window, rm_client_send_fn send_fn,
                       rm_client_reply_fn reply_fn, void *arg, rm_err_t *err)
{
    return pipeline(self, n, window, false, send_fn, reply_fn, arg, err);
}

int rm_client_pipeline_each(rm_client_t *self, size_t n, size_t window, rm_client_send_fn send_fn,
                            rm_client_reply_fn reply_fn, void *arg, rm_err_t *err)
{
    return pipeline(self, n, window, true, send_fn, reply_fn, arg, err);
}

/*  --- Connecting --------------------------------------------------------- */

/*  Checks the node's WELCOME (rm_door_welcome_verify); returns the node's
    CURVE key and keeps its name; remembers the WELCOME in known_dir (if
    not NULL) for the next connection. */
static int check_welcome(rm_client_t *self, const rm_token_t *id, const rm_welcome_t *w,
                         const char *known_dir, uint8_t node_pk[32], rm_err_t *err)
{
    rm_cred_t cred;
    char who[300];
    snprintf(who, sizeof who, "the node at %s", self->addr);
    if (rm_door_welcome_verify(w, id->mesh_pk.b, (int64_t)time(NULL), who, &cred, err) != 0)
        return -1;
    int rc = 0;
    if (!(self->node = strdup(cred.name)))
        rc = rm_err_set(err, RM_ENOMEM, "out of memory");
    memcpy(node_pk, cred.curve_pk.b, 32);
    rm_codec_free(&rm_cred_desc, &cred);
    rm_err_t ignored = {0}; /* a cache: without it the door is used next time too */
    if (rc == 0 && known_dir)
        rm_known_save(known_dir, self->addr, w, &ignored);
    return rc;
}

/*  Step 1: HELLO at the door, WELCOME back. */
static int door_handshake(rm_client_t *self, const rm_token_t *id, const rm_endpoint_t *ep,
                          const char *known_dir, uint8_t node_pk[32], rm_err_t *err)
{
    uint8_t door_pk[32], door_sk[32];
    rm_door_keypair(id->mesh_pk.b, door_pk, door_sk);
    sodium_memzero(door_sk, sizeof door_sk);
    self->sock = client_dealer(id, door_pk, ep, ep->port + 1, self->timeout_ms, NULL, NULL, err);
    if (!self->sock)
        return -1;
    rm_hello_t hello = rm_door_hello(id);
    rm_msg_t reply;
    rm_err_t e = {0};
    char secs[32];
    fmt_secs(self->timeout_ms, secs, sizeof secs);
    int rc = rm_client_call(self, RM_MSG_HELLO, &hello, RM_MSG_WELCOME, 0, &reply, &e);
    if (rc != 0 && e.code == RM_ETIMEOUT)
        rm_err_set(err, RM_EUNREACH,
                   "no answer from the node at %s within %s: is meshd running there, and was "
                   "this client's credential issued by the mesh it belongs to?",
                   self->addr, secs);
    else if (rc != 0 && self->refused)
        rm_err_set(err, RM_EAUTH, "the node at %s refused this client: %s", self->addr, e.msg);
    else if (rc != 0)
        rm_err_set(err, e.code, "%s", e.msg);
    else {
        rc = check_welcome(self, id, &reply.u.welcome, known_dir, node_pk, err);
        rm_msg_free(&reply);
    }
    zsock_destroy(&self->sock);
    return rc;
}

/*  The outcome of a connection's CURVE handshake, from its monitor: 1
    succeeded, 0 refused or closed, -1 nothing within timeout_ms. */
static int handshake_outcome(zsock_t *events, int timeout_ms)
{
    int64_t deadline = zclock_mono() + timeout_ms;
    for (;;) {
        int64_t left = deadline - zclock_mono();
        zmq_pollitem_t item = {zsock_resolve(events), 0, ZMQ_POLLIN, 0};
        if (left <= 0 || zmq_poll(&item, 1, (long)left) <= 0)
            return -1;
        zmsg_t *msg = zmsg_recv(events);
        zframe_t *head = msg ? zmsg_first(msg) : NULL;
        uint16_t event = 0;
        if (head && zframe_size(head) == 6)
            memcpy(&event, zframe_data(head), 2);
        zmsg_destroy(&msg);
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            return 1;
        if (event != 0)
            return 0;
    }
}

/*  Step 2 alone, to a node met before (rm_known): 0 when its main socket
    took us; RM_EUNREACH when nothing answered; another failure when the
    node refused the connection (then the door is worth a try). */
static int direct_connect(rm_client_t *self, const rm_token_t *id, const rm_endpoint_t *ep,
                          const uint8_t node_pk[32], rm_err_t *err)
{
    char monitor[96];
    static _Atomic unsigned serial;
    snprintf(monitor, sizeof monitor, "inproc://rm-client-%p-%u", (void *)self, serial++);
    zsock_t *events = NULL;
    self->sock = client_dealer(id, node_pk, ep, ep->port, self->timeout_ms, monitor, &events, err);
    if (!self->sock)
        return -1;
    int outcome = handshake_outcome(events, self->timeout_ms);
    /* Before the reader goes: libzmq blocks sending to a monitor nobody reads. */
    zmq_socket_monitor(zsock_resolve(self->sock), NULL, 0);
    zsock_destroy(&events);
    if (outcome == 1)
        return 0;
    zsock_destroy(&self->sock);
    char secs[32];
    fmt_secs(self->timeout_ms, secs, sizeof secs);
    if (outcome < 0)
        return rm_err_set(err, RM_EUNREACH, "no answer from the node at %s within %s", self->addr,
                          secs);
    return rm_err_set(err, RM_EAUTH, "the node at %s refused the connection", self->addr);
}

rm_client_t *rm_client_new(const char *addr, const rm_token_t *identity, int timeout_ms,
                           rm_err_t *err)
{
    return rm_client_new_known(addr, identity, timeout_ms, NULL, err);
}

rm_client_t *rm_client_new_known(const char *addr, const rm_token_t *identity, int timeout_ms,
                                 const char *known_dir, rm_err_t *err)
{
    rm_endpoint_t ep;
    uint8_t node_pk[32];
    if (rm_endpoint_parse(addr, RM_ENDPOINT_CONNECT, &ep, err) != 0)
        return NULL;
    if (sodium_init() < 0) {
        rm_err_set(err, RM_EIO, "cannot initialise libsodium");
        return NULL;
    }
    rm_client_t *self = calloc(1, sizeof *self);
    if (!self || !(self->addr = strdup(addr))) {
        free(self);
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
    rm_err_t e = {0};
    if (known_dir && rm_known_find(known_dir, addr, identity->mesh_pk.b, (int64_t)time(NULL),
                                   node_pk, &self->node, &e) == 0) {
        if (direct_connect(self, identity, &ep, node_pk, &e) == 0)
            return self;
        if (e.code == RM_EUNREACH) {
            rm_err_set(err, e.code, "%s", e.msg);
            rm_client_destroy(&self);
            return NULL;
        }
        free(self->node);
        self->node = NULL;
    }
    if (known_dir && e.code != 0 && e.code != RM_ENOTFOUND)
        rm_known_forget(known_dir, addr); /* refused, or no longer valid: the door decides */
    if (door_handshake(self, identity, &ep, known_dir, node_pk, err) == 0)
        self->sock =
            client_dealer(identity, node_pk, &ep, ep.port, self->timeout_ms, NULL, NULL, err);
    if (!self->sock)
        rm_client_destroy(&self);
    return self;
}

void rm_client_destroy(rm_client_t **self_p)
{
    if (self_p && *self_p) {
        rm_client_t *self = *self_p;
        zsock_destroy(&self->sock);
        free(self->addr);
        free(self->node);
        free(self);
        *self_p = NULL;
    }
}
